//! Tier profiles: what one storage class of one provider costs and how fast it answers.
//!
//! A leaf crate (serde only), so that the planner and the simulator can price placements without pulling in the
//! storage stack (object_store, cloud SDKs, Fernet). [`TierProfile`] is the model; [`prices`] holds the named
//! presets with the providers' public list prices.

pub mod prices;
pub mod profile;

pub use prices::{preset, preset_names, presets};
pub use profile::{AutoTiering, S3_MIN_BILLABLE_BYTES, TierProfile};
