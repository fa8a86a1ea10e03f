//! Strata's placement planner.
pub mod cost;
pub mod error;
pub mod features;
pub mod model;
pub mod optimize;
pub mod problem;
pub mod rng;
pub mod synth;
