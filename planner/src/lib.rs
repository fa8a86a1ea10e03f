//! Strata's placement planner: predict which objects will be read, then choose every object's
//! replica set to minimise cost under capacity, diversity, SLA and move-budget constraints.
//!
//! # Pipeline
//!
//! ```text
//! catalog ──source──► Inventory ──features──► ObjectFeatures ──model──► p_hot
//!        (the only I/O)                                                  │
//!   Plan ◄──plan── Solution ◄──optimize── Problem ◄──cost── ObjectInput ◄┘
//! ```
//!
//! * [`features`] — per-object features at `now_ms` from compact read histories.
//! * [`model`] — `p_hot`: the recency-frequency [`model::RuleModel`] and the trained
//!   [`model::ForestModel`], training protocol, metrics, persistence.
//! * [`lifecycle`] — the model in use over time: schedule, training, forest-or-rule choice (one
//!   [`ModelLifecycle`] in the gateway, one in the simulator).
//! * [`cost`] — the cost of a replica set over the planning horizon (storage, reads, moves,
//!   early deletion, latency), candidate enumeration (RF, provider diversity, SLA).
//! * [`problem`] — the instance in struct-of-arrays form with its coupling constraints.
//! * [`optimize`] — Lagrangian relaxation + exact per-object enumeration + repair, with a lower
//!   bound and the gap for every solution.
//! * [`exact`] — the exact MILP (good_lp + CBC) for small instances (feature `exact`).
//! * [`plan`] — moves (the diff from today), convertible to the catalog's move tasks.
//! * [`objects`] — the planned objects' identities and replicas in a compact table.
//! * [`pipeline`] — one planning cycle; [`source`] — the catalog adapter.
//! * [`synth`] — synthetic instances for the benchmark and simulations.
//!
//! # Purity
//!
//! Everything except [`source`] is free of I/O and of the wall clock: every function takes
//! `now_ms`, so the load-test simulator can run the same code on a simulated clock. (The solve
//! duration in a [`plan::Plan`] is measured, and nothing depends on it.)

pub mod cost;
pub mod error;
#[cfg(feature = "exact")]
pub mod exact;
pub mod features;
pub mod hazard;
pub mod initial;
pub mod lifecycle;
pub mod model;
pub mod objects;
pub mod optimize;
pub mod pipeline;
pub mod plan;
pub mod problem;
pub mod rng;
pub mod source;
pub mod synth;

pub use cost::{BackendSpec, CostConfig, CostModel, PlacementRules};
pub use error::{PlannerError, Result};
pub use features::{FeatureConfig, Histories, ObjectFeatures};
pub use hazard::IdleHazard;
pub use lifecycle::{LifecycleConfig, ModelLifecycle, Trainer, TrainingOutcome};
pub use model::{
    ActiveModel, Calibration, ForestModel, HotModel, Metrics, ModelKind, ModelStatus,
    ReliabilityBin, RuleModel, TrainConfig, choose_model, train_forest,
};
pub use objects::{NameIndex, ObjectRef, ObjectTable};
pub use optimize::{Solution, SolverConfig, solve};
pub use pipeline::{Inventory, PlannerConfig, plan_cycle, plan_cycle_scored, score};
pub use plan::{Move, Plan};
pub use problem::{MoveBudget, Problem};
