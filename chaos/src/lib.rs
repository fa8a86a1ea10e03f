//! Fault injection for Strata's storage backends.
//!
//! [`ChaosStore`] is an [`object_store::ObjectStore`] that wraps another
//! store (the raw store *under* a `backends::Backend`'s sealing layer, so
//! corruption it injects lands in sealed bytes and must be caught by the
//! frame check) and injects the faults a shared [`Chaos`] controller
//! decides: latency, error responses, timeouts, hangs, connection resets
//! mid-stream, truncated and corrupted reads, and a backend fully down —
//! per backend, per [`Op`], with a probability, a maximum count and a time
//! window.
//!
//! ```no_run
//! use std::sync::Arc;
//! use chaos::{Chaos, ChaosConfig, Fault, Op, Rule};
//! use object_store::memory::InMemory;
//!
//! let chaos = Chaos::new();
//! let store = chaos::wrap(Arc::new(InMemory::new()), "hot", &chaos);
//! chaos.set(ChaosConfig::new(vec![
//!     Rule::new(Fault::Error { status: 503 })
//!         .with_backend("hot")
//!         .with_ops([Op::Get])
//!         .with_probability(0.1),
//! ]))?;
//! # Ok::<(), chaos::ChaosError>(())
//! ```
//!
//! The configuration ([`ChaosConfig`]) has one serde schema for the
//! `[chaos]` TOML section and the admin API's JSON. Injected failures carry
//! an [`InjectedFault`] as their error source (see [`InjectedFault::find`]).
//! With no rules installed a wrapped call costs one relaxed atomic load.

pub mod config;
pub mod controller;
pub mod fault;
pub mod store;

pub use config::{ANY_BACKEND, ChaosConfig, ChaosError, Fault, Op, Rule, Window};
pub use controller::{Chaos, RuleStats};
pub use fault::{InjectedFault, InjectedKind};
pub use store::{ChaosStore, wrap};
