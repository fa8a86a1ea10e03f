//! The built-in online policies.

use super::objects::{ObjId, ObjectMeta};
use super::policy::{Move, Policy, TickView, TierIdx};
use super::prices::{IT_MIN_MONITORED_BYTES, PriceModel, PriceTable};
use super::time::DAY_MS;

/// Everything stays in tier 0 forever.
#[derive(Debug, Default)]
pub struct AllHot;

impl Policy for AllHot {
    fn name(&self) -> &str {
        "all-hot"
    }

    fn on_create(&mut self, _now_ms: u64, _obj: ObjId, _meta: &ObjectMeta) -> TierIdx {
        0
    }

    fn on_tick(&mut self, _now_ms: u64, _view: &TickView<'_>, _moves: &mut Vec<Move>) {}
}

/// An S3 Lifecycle configuration with two age-based transitions: tier 0
/// → tier 1 when the object is `to_warm_days` old, → tier 2 at
/// `to_cold_days`. Ages count from the object's creation; rules are
/// evaluated at the daily tick (S3 runs lifecycle once a day). Like S3
/// Lifecycle's default since September 2024, objects smaller than
/// `min_object_bytes` are not transitioned.
#[derive(Debug)]
pub struct AgeRules {
    /// Age of the first transition (30 days).
    pub to_warm_days: u64,
    /// Age of the second transition (90 days).
    pub to_cold_days: u64,
    /// Smaller objects are never transitioned (128 KiB).
    pub min_object_bytes: u64,
}

impl Default for AgeRules {
    /// 30 d → tier 1, 90 d → tier 2, objects of at least 128 KiB.
    fn default() -> Self {
        AgeRules {
            to_warm_days: 30,
            to_cold_days: 90,
            min_object_bytes: IT_MIN_MONITORED_BYTES,
        }
    }
}

impl Policy for AgeRules {
    fn name(&self) -> &str {
        "age-rules"
    }

    fn on_create(&mut self, _now_ms: u64, _obj: ObjId, _meta: &ObjectMeta) -> TierIdx {
        0
    }

    fn on_tick(&mut self, now_ms: u64, view: &TickView<'_>, moves: &mut Vec<Move>) {
        let warm = self.to_warm_days * DAY_MS;
        let cold = self.to_cold_days * DAY_MS;
        for (i, (meta, place)) in view.objects.all().iter().zip(view.placement).enumerate() {
            if !meta.alive || meta.size < self.min_object_bytes || place.tier >= 2 {
                continue;
            }
            let age = now_ms.saturating_sub(meta.created_ms);
            let to = if age >= cold {
                2
            } else if age >= warm && place.tier == 0 {
                1
            } else {
                continue;
            };
            moves.push(Move {
                obj: i as ObjId,
                to,
            });
        }
    }
}

/// S3 Intelligent-Tiering as AWS specifies it: objects start in Frequent
/// Access; after 30 consecutive days without access they move to
/// Infrequent Access, after 90 to Archive Instant Access; any access (GET
/// or write) brings them back to Frequent. Objects under 128 KB are never
/// tiered (nor charged the monitoring fee: see
/// [`PriceModel::intelligent_tiering`]). HEAD does not count as access.
#[derive(Debug, Default)]
pub struct IntelligentTiering;

pub(crate) const IT_INFREQUENT_AFTER_MS: u64 = 30 * DAY_MS;
pub(crate) const IT_ARCHIVE_AFTER_MS: u64 = 90 * DAY_MS;

/// Intelligent-Tiering's own move, at `now_ms`, of an object in its access tier `rel` (0 Frequent, 1 Infrequent,
/// 2 Archive Instant): to Infrequent after 30 days without access, to Archive Instant after 90; objects under
/// 128 KB are never tiered. The class counts idle days from the object's last access, its write, or its arrival
/// in the class (`entered_ms`: an object copied in later starts in Frequent with a fresh clock), whichever is
/// latest.
pub(crate) fn it_automation(
    meta: &ObjectMeta,
    rel: TierIdx,
    entered_ms: u64,
    now_ms: u64,
) -> Option<TierIdx> {
    if meta.size < IT_MIN_MONITORED_BYTES || rel >= 2 {
        return None;
    }
    let idle = now_ms.saturating_sub(meta.created_ms.max(meta.last_read_ms).max(entered_ms));
    if idle >= IT_ARCHIVE_AFTER_MS {
        Some(2)
    } else if idle >= IT_INFREQUENT_AFTER_MS && rel == 0 {
        Some(1)
    } else {
        None
    }
}

impl Policy for IntelligentTiering {
    fn name(&self) -> &str {
        "intelligent-tiering"
    }

    fn price_model(&self, table: &PriceTable) -> PriceModel {
        PriceModel::intelligent_tiering(table)
    }

    fn on_create(&mut self, _now_ms: u64, _obj: ObjId, _meta: &ObjectMeta) -> TierIdx {
        0
    }

    fn on_read(
        &mut self,
        _now_ms: u64,
        _obj: ObjId,
        _meta: &ObjectMeta,
        _bytes: u64,
        current: TierIdx,
    ) -> Option<TierIdx> {
        (current != 0).then_some(0)
    }

    fn on_tick(&mut self, now_ms: u64, view: &TickView<'_>, moves: &mut Vec<Move>) {
        for (i, (meta, place)) in view.objects.all().iter().zip(view.placement).enumerate() {
            if !meta.alive || place.tier == super::policy::Placement::NONE {
                continue;
            }
            if let Some(to) = it_automation(meta, place.tier, 0, now_ms) {
                moves.push(Move {
                    obj: i as ObjId,
                    to,
                });
            }
        }
    }
}
