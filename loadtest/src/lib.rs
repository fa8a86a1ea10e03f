//! Strata's load generator, S3 load driver and offline policy simulator.
//!
//! * [`workload`]: seeded synthetic populations and access streams from a
//!   TOML profile (lognormal sizes, Zipf popularity, diurnal cycle, aging,
//!   viral bursts, periodic jobs, arrivals and deletions).
//! * [`trace`]: the IBM Cloud Object Storage trace format (SNIA IOTTA),
//!   read by a parser that counts bad lines instead of failing.
//! * [`driver`]: `strata-loadtest run`, signed S3 requests against any
//!   endpoint with latency histograms per operation.
//! * [`sim`]: `strata-loadtest simulate`, a trace replayed through
//!   placement policies (all-hot, age rules, Intelligent-Tiering, `strata`
//!   — the planner's features, rule model and cost model on the simulated
//!   clock — and the offline oracle) with one price table; see [`sim`].
//! * [`evaluate`]: `strata-loadtest evaluate`, a family of workloads over
//!   several seeds through every policy, with the ratios that matter.
//! * [`replay`]: `strata-loadtest replay`, a trace through S3 into a gateway
//!   on its test clock, on the simulator's daily schedule, ending with the
//!   gateway's own bill (`/admin/cost`) to set beside `simulate`'s.

pub mod catalog_bench;
pub mod cli;
pub mod driver;
pub mod evaluate;
pub mod replay;
pub mod sim;
pub mod trace;
pub mod workload;
