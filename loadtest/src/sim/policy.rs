//! The [`Policy`] trait: where objects go, decided on the simulated clock.

use super::objects::{ObjId, ObjectMeta, ObjectTable};
use super::prices::{PriceModel, PriceTable};

/// A tier index into the policy's [`PriceModel::tiers`].
pub type TierIdx = u8;

/// Where an object currently is, as a policy's account tracks it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    /// Its tier ([`Placement::NONE`] when the object is not alive).
    pub tier: TierIdx,
    /// When it entered that tier.
    pub entered_ms: u64,
}

impl Placement {
    /// The tier value of objects that are not alive.
    pub const NONE: TierIdx = TierIdx::MAX;
}

/// A request from a policy to move an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Move {
    /// The object.
    pub obj: ObjId,
    /// Its new tier.
    pub to: TierIdx,
}

/// What a policy sees at its daily tick.
pub struct TickView<'a> {
    /// Shared metadata of every object.
    pub objects: &'a ObjectTable,
    /// This policy's placement of every object, indexed by [`ObjId`].
    pub placement: &'a [Placement],
}

/// A placement policy replayed by the simulator.
///
/// The simulator owns the clock and the bill: it asks the policy for
/// decisions and charges them through the same code for every policy, so
/// policies differ only in their decisions (and in their [`PriceModel`],
/// for products such as Intelligent-Tiering that bill differently).
///
/// Calls, all with `now_ms` on the simulated clock (ms since the trace's
/// first record), in time order:
/// * [`Policy::on_create`] when an object is written (PUT or COPY, also
///   an overwrite): the tier to write it to. Objects that pre-existed the
///   trace (first seen by a read) are placed in tier 0 without asking.
/// * [`Policy::on_read`] after each GET has been served (and billed) from
///   `current`: optionally a tier to move to now.
/// * [`Policy::on_delete`] when an object is deleted or overwritten.
/// * [`Policy::on_tick`] once per simulated day (at multiples of 24 h,
///   before the records of that instant): push moves into `moves`.
///
/// A move to the tier the object is already in, or to a tier outside the
/// model, is ignored (and counted by the simulator).
pub trait Policy {
    /// The name in reports (`all-hot`, `age-rules`, ...).
    fn name(&self) -> &str;

    /// How this policy is billed. Defaults to the plain storage classes
    /// of the price table.
    fn price_model(&self, table: &PriceTable) -> PriceModel {
        PriceModel::storage_classes(table)
    }

    /// The tier a newly written object goes to.
    fn on_create(&mut self, now_ms: u64, obj: ObjId, meta: &ObjectMeta) -> TierIdx;

    /// After a GET of `bytes` (the range it returned) served from `current`: `Some(tier)` to move the
    /// object.
    fn on_read(
        &mut self,
        now_ms: u64,
        obj: ObjId,
        meta: &ObjectMeta,
        bytes: u64,
        current: TierIdx,
    ) -> Option<TierIdx> {
        let _ = (now_ms, obj, meta, bytes, current);
        None
    }

    /// The object was deleted (or is being overwritten).
    fn on_delete(&mut self, now_ms: u64, obj: ObjId) {
        let _ = (now_ms, obj);
    }

    /// The daily tick.
    fn on_tick(&mut self, now_ms: u64, view: &TickView<'_>, moves: &mut Vec<Move>);
}
