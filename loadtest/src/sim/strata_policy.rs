//! `strata`: the planner crate's real feature, model and cost code run on
//! the simulated clock.
//!
//! * New objects go to tier 0, the hottest tier (Strata writes new
//!   objects to its fast tier first).
//! * Every GET is logged as a read of the object (time, bytes) in the
//!   layout of [`planner::features::AccessHistory`]. The [`Policy`] trait
//!   does not pass the bytes a ranged GET returned, so each read is
//!   recorded with the object's size. Like the catalog's access log, reads
//!   older than 7 days are dropped (at each tick), except the latest one,
//!   so `since_last_read_ms` stays exact.
//! * At each daily tick, **every** live object is re-evaluated (no
//!   skipping, no N-day cadence: the pass is linear in objects plus the
//!   last week's reads, which is fast enough for the 10M-request trace):
//!   [`ObjectFeatures::compute`] at `now_ms`, `p_hot` from
//!   [`RuleModel`] (30-day horizon), a [`ReadForecast`] over 30 days, and
//!   the [`CostModel`] cost of every single-tier placement (RF 1, no
//!   provider diversity, one [`BackendSpec`] per price-table tier, SLA =
//!   the simulator's, read egress off since the simulator leaves egress
//!   out), with the object's current tier as the current replica set and
//!   its tier entry time as `placed_ms` (so the move and early-deletion
//!   costs are the planner's). Infeasible targets (a likely-read object
//!   outside the SLA) are skipped, as the planner does; keeping the current
//!   tier is always allowed, with the planner's non-compliance penalty when
//!   it breaks the SLA. The cheapest target wins (ties keep the current
//!   tier); a different one becomes a [`Move`].

use backends::TierProfile;
use planner::cost::{Mask, ObjectInput, ReadForecast};
use planner::features::{AccessHistory, FeatureConfig, WEEK_MS};
use planner::{
    BackendSpec, CostConfig, CostModel, HotModel, ObjectFeatures, PlacementRules, RuleModel,
};

use super::objects::{ObjId, ObjectMeta};
use super::policy::{Move, Policy, TickView, TierIdx};
use super::prices::PriceTable;
use super::time::DAY_MS;

/// Planning horizon of the model and of the cost comparison, in days.
pub const STRATA_HORIZON_DAYS: u64 = 30;

/// The planner-backed policy (see the module docs).
pub struct StrataPolicy {
    model: RuleModel,
    cost: CostModel,
    features: FeatureConfig,
    /// Per object: read times (ms on the simulated clock), ascending.
    times: Vec<Vec<i64>>,
    /// Per object: bytes of each read, aligned with `times`.
    bytes: Vec<Vec<u64>>,
    /// Scratch: cost of each candidate.
    costs: Vec<f64>,
}

impl std::fmt::Debug for StrataPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StrataPolicy")
            .field("model", &self.model)
            .field("backends", &self.cost.backends().len())
            .finish_non_exhaustive()
    }
}

/// The backend the planner sees for tier `i` of the price table. All tiers
/// are put on one provider: the simulator moves within one account and
/// leaves egress out.
fn backend(i: usize, t: &TierProfile) -> BackendSpec {
    let mut profile = t.clone();
    profile.provider = "sim".into();
    BackendSpec {
        name: format!("tier{i}-{}", t.storage_class),
        profile,
        capacity_bytes: None,
    }
}

impl StrataPolicy {
    /// The policy over `table`'s tiers, with the simulator's SLA. Fails if
    /// the planner rejects the tiers (more than 16, bad prices).
    pub fn new(table: &PriceTable, sla_ms: f64) -> planner::Result<StrataPolicy> {
        let horizon_ms = (STRATA_HORIZON_DAYS * DAY_MS) as i64;
        let backends = table
            .tiers
            .iter()
            .enumerate()
            .map(|(i, t)| backend(i, t))
            .collect();
        let cfg = CostConfig {
            horizon_days: STRATA_HORIZON_DAYS as f64,
            sla_ms,
            read_egress: false,
            ..CostConfig::default()
        };
        let rules = PlacementRules {
            replication_factor: 1,
            provider_diversity: false,
        };
        let cost = CostModel::new(backends, rules, cfg)?;
        let n = cost.candidates().len();
        Ok(StrataPolicy {
            model: RuleModel::new(horizon_ms)?,
            cost,
            features: FeatureConfig::default(),
            times: Vec::new(),
            bytes: Vec::new(),
            costs: vec![0.0; n],
        })
    }

    fn slot(&mut self, obj: ObjId) -> usize {
        let i = obj as usize;
        if i >= self.times.len() {
            self.times.resize_with(i + 1, Vec::new);
            self.bytes.resize_with(i + 1, Vec::new);
        }
        i
    }

    fn forget(&mut self, obj: ObjId) {
        let i = obj as usize;
        if i < self.times.len() {
            self.times[i] = Vec::new();
            self.bytes[i] = Vec::new();
        }
    }

    /// The planner's choice for one object at `now`: the cheapest feasible
    /// single-tier target (the current tier on ties).
    fn choose(&mut self, i: usize, meta: &ObjectMeta, tier: TierIdx, entered: u64, now: i64) -> u8 {
        let (times, bytes) = match (self.times.get_mut(i), self.bytes.get_mut(i)) {
            (Some(t), Some(b)) => (t, b),
            _ => (&mut Vec::new(), &mut Vec::new()),
        };
        // Catalog-style retention: 7 days, but keep the latest read.
        let old = times.partition_point(|&t| t < now - WEEK_MS);
        let drop = old.min(times.len().saturating_sub(1));
        if drop > 0 {
            times.drain(..drop);
            bytes.drain(..drop);
        }
        let history = AccessHistory::new(times, bytes).unwrap_or(AccessHistory::EMPTY);
        let f = ObjectFeatures::compute(
            meta.size,
            meta.created_ms as i64,
            history,
            now,
            &self.features,
        );
        let p_hot = self.model.p_hot(&f);
        let current: Mask = 1 << tier;
        let obj = ObjectInput {
            size_bytes: meta.size,
            current,
            placed_ms: entered as i64,
            reads: ReadForecast::from_features(&f, p_hot, STRATA_HORIZON_DAYS as f64),
        };
        let targets = self.cost.candidates();
        self.costs.resize(targets.len(), 0.0);
        self.cost.fill_costs(&obj, targets, now, &mut self.costs);
        let mut best = (tier, f64::INFINITY);
        for (&target, &c) in targets.iter().zip(&self.costs) {
            let feasible = self.cost.is_feasible(&obj, target);
            let c = if target == current {
                if feasible {
                    c
                } else {
                    c + self.cost.config().noncompliance_penalty
                }
            } else if feasible {
                c
            } else {
                continue;
            };
            let to = target.trailing_zeros() as u8;
            if c < best.1 || (c == best.1 && to == tier) {
                best = (to, c);
            }
        }
        best.0
    }
}

impl Policy for StrataPolicy {
    fn name(&self) -> &str {
        super::engine::STRATA
    }

    fn on_create(&mut self, _now_ms: u64, obj: ObjId, _meta: &ObjectMeta) -> TierIdx {
        self.forget(obj);
        0
    }

    fn on_read(
        &mut self,
        now_ms: u64,
        obj: ObjId,
        meta: &ObjectMeta,
        _current: TierIdx,
    ) -> Option<TierIdx> {
        let i = self.slot(obj);
        self.times[i].push(now_ms as i64);
        self.bytes[i].push(meta.size);
        None
    }

    fn on_delete(&mut self, _now_ms: u64, obj: ObjId) {
        self.forget(obj);
    }

    fn on_tick(&mut self, now_ms: u64, view: &TickView<'_>, moves: &mut Vec<Move>) {
        let now = now_ms as i64;
        for (i, (meta, place)) in view.objects.all().iter().zip(view.placement).enumerate() {
            if !meta.alive || place.tier == super::policy::Placement::NONE {
                continue;
            }
            let to = self.choose(i, meta, place.tier, place.entered_ms, now);
            if to != place.tier {
                moves.push(Move {
                    obj: i as ObjId,
                    to,
                });
            }
        }
    }
}
