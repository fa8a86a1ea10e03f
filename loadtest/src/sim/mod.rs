//! Offline replay of a trace through placement policies, with one price
//! table and one latency profile for all of them.
//!
//! Policies (in report order):
//! * `all-hot`: everything in tier 0.
//! * `age-rules`: S3 Lifecycle, 30 days → tier 1, 90 days → tier 2
//!   ([`AgeRules`]).
//! * `intelligent-tiering`: S3 Intelligent-Tiering as AWS specifies and
//!   bills it ([`IntelligentTiering`], [`PriceModel::intelligent_tiering`]).
//! * `strata`: the planner crate's feature extraction, `RuleModel` and
//!   `CostModel` run on the simulated clock ([`StrataPolicy`]).
//! * `oracle`: the offline optimum per object ([`oracle`] module docs).
//!
//! Billing (the same code for every policy, see `Account`): storage
//! accrues per byte-time at each tier's $/GB-month (GB = 10^9 bytes,
//! month = 30 days); PUT/LIST at tier PUT prices, GET/HEAD at tier GET
//! prices (per 1,000); retrieval per GB read by GETs; `move_cost` is
//! transition requests (the destination's PUT price) plus early-exit fees
//! for leaving a tier (or deleting) before its minimum duration. Egress is
//! the same for every policy and left out. A GET is within SLA if its
//! tier's `first_byte_latency_ms` is at most the SLA.
//!
//! Trace semantics: time is ms since the first record; PUT and COPY write
//! (an overwrite is a delete plus a write); an object first seen by a GET
//! or HEAD existed before the trace (tier 0, no PUT billed); see
//! [`SimStats`] for the other anomalies and how they are handled.
//!
//! Performance: one streaming pass; per-object state lives in `Vec`s
//! indexed by a dense id interned once per object id; the oracle buffers
//! each object's accesses (16 bytes each) until its lifetime ends.

mod account;
pub mod chart;
mod engine;
mod objects;
pub mod oracle;
mod policies;
mod policy;
mod prices;
mod report;
mod strata_policy;
pub mod time;

use std::io::BufRead;

pub use engine::{ORACLE, STRATA, SimConfig, SimError, Simulator};
pub use objects::{ObjId, ObjectMeta, ObjectTable};
pub use policies::{AgeRules, AllHot, IntelligentTiering};
pub use policy::{Move, Placement, Policy, TickView, TierIdx};
pub use prices::{
    BYTES_PER_GB, IT_MIN_MONITORED_BYTES, IT_MONITORING_PER_1K_OBJECT_MONTHS, PriceError,
    PriceModel, PriceTable, TierPrice,
};
pub use report::{Cost, PolicyResult, SimReport, SimStats, Unavailable};
pub use strata_policy::{STRATA_HORIZON_DAYS, StrataPolicy};

use crate::trace::{ParseStats, TraceReader};

/// Replays a whole trace through `sim`; returns its report and the
/// parser's counters. Fails only on I/O errors.
pub fn replay<R: BufRead>(
    mut sim: Simulator,
    input: R,
) -> std::io::Result<(SimReport, ParseStats)> {
    let mut reader = TraceReader::new(input);
    while let Some(rec) = reader.next_record()? {
        sim.feed(&rec);
    }
    Ok((sim.finish(), reader.into_stats()))
}
