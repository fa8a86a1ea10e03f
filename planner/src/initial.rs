//! Where new objects go: from what size writing them straight into a self-tiering class (S3 Intelligent-Tiering)
//! pays, measured on the inventory.
//!
//! A self-tiering class bills an object at the frequent price until it has been idle for
//! [`tiers::AutoTiering::infrequent_after_days`], counted from its last access, its write or its arrival in the
//! class. An object written to a plain hot tier and copied into the class later starts that clock again at the
//! copy (and pays the copy), so the class's saving comes soonest when the object is written into it. It costs the
//! monitoring fee per object-month, whatever the object's size, and saves `size · (frequent − infrequent)` per
//! month spent idle. So it pays for large objects that are often idle, and not for small or always-read ones.
//!
//! [`self_tiering_min_bytes`] measures, per size class (powers of two from the class's monitoring threshold), the
//! share of objects old enough to have been idle that long that are idle that long now, and the share idle past
//! the archive delay: an estimate of the share of their months the class would bill at its infrequent and its
//! archive price. A size class whose expected saving per object-month exceeds the fee says yes. Classes with fewer
//! than [`MIN_OBJECTS_PER_CLASS`] such objects (every class of a young store) are not measured: they say yes
//! from [`PRIOR_MIN_BYTES`] up, or when the nearest measured smaller class says yes. The advice is the smallest
//! size from which every class says yes.

use crate::features::DAY_MS;
use crate::pipeline::Inventory;
use tiers::TierProfile;

/// Fewest objects of a size class, old enough to show the idle time, that its share is measured on.
pub const MIN_OBJECTS_PER_CLASS: u64 = 20;
/// Size classes not measured (too few objects old enough, as in every class of a young store) pay from this size,
/// or when the nearest measured smaller class pays. From 8 MiB the monitoring fee is at most 1.4 % of the frequent
/// price, so a store whose objects all stay hot pays at most that much more than keeping them in the hot tier
/// (the evaluation's "never worse than all-hot"). On the tuning seeds (mean strata / Intelligent-Tiering, worst):
/// 128 KiB gave 0.900, 1.007, but an always-hot store of 500 KB objects 0.9 % above all-hot; 1 MiB 0.904, 1.022
/// (and 0.2 % above all-hot there); 8 MiB: see loadtest/README.
pub const PRIOR_MIN_BYTES: u64 = 8 << 20;
/// Size classes: powers of two from the monitoring threshold (128 KiB · 2^40 is far beyond any object).
const CLASSES: usize = 40;

/// One size class's measurement ([`NewObjectAdvice::classes`]).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct SizeClassShare {
    /// Sizes `[min_bytes, 2 · min_bytes)`.
    pub min_bytes: u64,
    /// Objects of the class written at least the class's infrequent delay ago.
    pub objects: u64,
    /// Of those, the share idle at least that long now.
    pub idle_share: f64,
    /// Of those, the share idle at least the class's archive delay now (part of `idle_share`).
    pub archive_share: f64,
    /// Whether writing the class into the self-tiering class is expected to pay.
    pub pays: bool,
}

/// Where the planner advises writing new objects ([`self_tiering_min_bytes`]).
#[derive(
    Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct NewObjectAdvice {
    /// The advice itself, as the catalog keeps it and a node's heartbeat publishes it: the self-tiering backend
    /// measured for, if any, and the size from which new objects should be written into it (`None`: none
    /// should). Its fields are the advice's own in JSON.
    #[serde(flatten)]
    pub target: catalog::NewObjectsAdvice,
    /// The measured size classes (only those with enough objects).
    pub classes: Vec<SizeClassShare>,
}

/// The advice before anything is measured (an empty store; a gateway before its first plan): new objects from
/// [`PRIOR_MIN_BYTES`] up go into the self-tiering class of `profile`, unless it misses the SLA
/// ([`self_tiering_meets_sla`]).
pub fn prior_min_bytes(profile: &TierProfile, sla_ms: Option<f64>) -> Option<u64> {
    self_tiering_meets_sla(profile, sla_ms).then_some(PRIOR_MIN_BYTES)
}

/// Whether new objects may be written into the self-tiering class of `profile` under the latency SLA `sla_ms`
/// (`None`: no SLA): not when its slowest tier (the archive tier) misses it, since new objects would age into that
/// tier without a forecast.
pub fn self_tiering_meets_sla(profile: &TierProfile, sla_ms: Option<f64>) -> bool {
    sla_ms.is_none_or(|sla| profile.slowest_first_byte_ms() <= sla)
}

/// The advice for `backend` (a profile with [`TierProfile::auto_tiering`]) over `inv` at `now_ms` (see the module
/// docs). A profile without self-tiering gets no advice.
pub fn self_tiering_min_bytes(
    inv: &Inventory,
    backend: &str,
    profile: &TierProfile,
    now_ms: i64,
) -> NewObjectAdvice {
    let mut advice = NewObjectAdvice {
        target: catalog::NewObjectsAdvice {
            backend: Some(backend.to_owned()),
            min_bytes: None,
        },
        classes: Vec::new(),
    };
    let Some(at) = profile.auto_tiering.as_ref() else {
        return advice;
    };
    let base = at.min_monitored_bytes.max(1);
    let delay_ms = (at.infrequent_after_days * DAY_MS as f64) as i64;
    let archive_ms = (at.archive_after_days * DAY_MS as f64) as i64;
    let mut objects = [0u64; CLASSES];
    let mut idle = [0u64; CLASSES];
    let mut archived = [0u64; CLASSES];
    let mut bytes = [0f64; CLASSES];
    for (i, b) in inv.basics.iter().enumerate() {
        if b.size_bytes < base || now_ms - b.last_modified_ms < delay_ms {
            continue;
        }
        let k = ((b.size_bytes / base).ilog2() as usize).min(CLASSES - 1);
        let last = inv
            .histories
            .get(i)
            .times()
            .last()
            .copied()
            .unwrap_or(i64::MIN)
            .max(b.last_modified_ms);
        objects[k] += 1;
        bytes[k] += b.size_bytes as f64;
        if now_ms - last >= delay_ms {
            idle[k] += 1;
        }
        if now_ms - last >= archive_ms {
            archived[k] += 1;
        }
    }
    let infrequent_saving = (profile.storage_gb_month - at.infrequent_gb_month).max(0.0);
    let archive_saving = (profile.storage_gb_month - at.archive_gb_month).max(0.0);
    let fee = at.monitoring_per_1k_objects_month / 1000.0;
    let mut pays = [false; CLASSES];
    // Whether the nearest measured smaller class pays: a larger object idle as often saves more for the same fee.
    let mut below: Option<bool> = None;
    for k in 0..CLASSES {
        let min_bytes = base << k;
        if objects[k] < MIN_OBJECTS_PER_CLASS {
            pays[k] = below == Some(true) || min_bytes >= PRIOR_MIN_BYTES;
            continue;
        }
        let n = objects[k] as f64;
        let share = idle[k] as f64 / n;
        let archive_share = archived[k] as f64 / n;
        let mean_gb = bytes[k] / n / 1e9;
        let saving = mean_gb
            * ((share - archive_share) * infrequent_saving + archive_share * archive_saving);
        pays[k] = saving > fee;
        below = Some(pays[k]);
        advice.classes.push(SizeClassShare {
            min_bytes,
            objects: objects[k],
            idle_share: share,
            archive_share,
            pays: pays[k],
        });
    }
    // The smallest size from which every class pays.
    let from = pays.iter().rposition(|&p| !p).map_or(0, |k| k + 1);
    advice.target.min_bytes = (from < CLASSES).then(|| base << from);
    advice
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::{HistoryBuilder, ObjectBasics};
    use crate::objects::ObjectTable;

    fn it() -> TierProfile {
        TierProfile::s3_intelligent_tiering()
    }

    /// Per group `(size, n, read, age_days)`: `n` objects of `size` written `age_days` before `now`, the first
    /// `read` of them read a day ago.
    fn inventory(groups: &[(u64, u32, u32, i64)], now: i64) -> Inventory {
        let mut objects = ObjectTable::default();
        let mut basics = Vec::new();
        let mut h = HistoryBuilder::with_capacity(0);
        let mut id = 0u32;
        for &(size, n, read, age_days) in groups {
            for j in 0..n {
                objects
                    .push("b", &id.to_string(), 1, &["it".to_owned()])
                    .expect("push");
                basics.push(ObjectBasics {
                    size_bytes: size,
                    last_modified_ms: now - age_days * DAY_MS,
                    lifetime_reads: 0,
                    read_gaps: Default::default(),
                    moved_ms: 0,
                });
                if j < read {
                    h.push(id, now - DAY_MS, size);
                }
                id += 1;
            }
        }
        Inventory {
            objects,
            basics,
            histories: h.finish(id as usize).expect("histories"),
            held: Vec::new(),
        }
    }

    #[test]
    fn large_idle_objects_pay_small_or_busy_ones_do_not_and_unmeasured_ones_follow_the_prior() {
        let now = 400 * DAY_MS;
        // 200 KB objects idle 50 days: 0.0002 GB · 0.0105 = 2.1e-6 < the 2.5e-6 fee: no.
        // 4 MB, half idle 100 days: 0.004 · 0.5 · 0.019 = 3.8e-5 > fee: yes. 64 MB, all idle: yes.
        let inv = inventory(
            &[
                (200_000, 50, 0, 50),
                (4_000_000, 50, 25, 100),
                (64_000_000, 50, 0, 100),
            ],
            now,
        );
        let a = self_tiering_min_bytes(&inv, "it", &it(), now);
        assert_eq!(a.classes.len(), 3);
        assert!(!a.classes[0].pays && a.classes[1].pays && a.classes[2].pays);
        assert!((a.classes[1].idle_share - 0.5).abs() < 1e-9);
        assert!((a.classes[1].archive_share - 0.5).abs() < 1e-9);
        assert_eq!(a.classes[0].archive_share, 0.0);
        // Idle past the archive delay, the same small objects save 0.0002 · 0.019 = 3.8e-6 a month: yes.
        let archived = inventory(&[(200_000, 50, 0, 100)], now);
        assert!(self_tiering_min_bytes(&archived, "it", &it(), now).classes[0].pays);
        assert!(a.classes[1].min_bytes <= 4_000_000 && 4_000_000 < 2 * a.classes[1].min_bytes);
        // Unmeasured classes between the 200 KB one and 4 MB one follow the prior (from 8 MiB: no), those above a
        // measured class that pays, pay: so every object from the 4 MB class up.
        assert_eq!(a.target.min_bytes, Some(a.classes[1].min_bytes));

        // Every 64 MB object read yesterday: only the (unmeasured) classes above theirs pay.
        let busy = inventory(&[(64_000_000, 50, 50, 100)], now);
        let b = self_tiering_min_bytes(&busy, "it", &it(), now);
        assert!(!b.classes[0].pays);
        assert_eq!(b.target.min_bytes, Some(2 * b.classes[0].min_bytes));
        // Too few objects to measure, or too young: the prior.
        let few = inventory(&[(64_000_000, 5, 0, 100)], now);
        let few = self_tiering_min_bytes(&few, "it", &it(), now);
        assert!(few.classes.is_empty());
        assert_eq!(few.target.min_bytes, Some(PRIOR_MIN_BYTES));
        let young = inventory(&[(64_000_000, 50, 0, 20)], now);
        assert_eq!(
            self_tiering_min_bytes(&young, "it", &it(), now)
                .target
                .min_bytes,
            Some(PRIOR_MIN_BYTES)
        );
        // A plain tier gets no advice.
        assert_eq!(
            self_tiering_min_bytes(&inv, "std", &TierProfile::s3_standard(), now)
                .target
                .min_bytes,
            None
        );
    }

    #[test]
    fn the_prior_holds_unless_the_archive_tier_misses_the_sla() {
        let slowest = it().slowest_first_byte_ms();
        assert_eq!(prior_min_bytes(&it(), None), Some(PRIOR_MIN_BYTES));
        assert_eq!(prior_min_bytes(&it(), Some(slowest)), Some(PRIOR_MIN_BYTES));
        assert_eq!(prior_min_bytes(&it(), Some(slowest - 1.0)), None);
    }
}
