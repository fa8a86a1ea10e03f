//! `strata`: the planner crate's real feature, model and cost code run on
//! the simulated clock, as the gateway runs them.
//!
//! * New objects go to tier 0, the hottest tier, or into
//!   Intelligent-Tiering from the size the last plan advised
//!   (`Plan::new_objects`; before the first plan, the advice for an empty
//!   store), as the gateway's front writes them.
//! * An object the planner moves into Intelligent-Tiering starts in its
//!   Frequent tier with a fresh idle clock (a copy into the class is a new
//!   object to S3), and the planner prices it so (`ObjectBasics::moved_ms`).
//! * Every GET is logged as a read of the object (time, bytes) in the
//!   layout of [`planner::features::AccessHistory`], with the bytes it
//!   returned (a ranged GET its range), as the gateway's recorder logs
//!   them. Like the catalog's access log, reads
//!   older than 14 days are dropped (at each tick), except the latest one,
//!   so `since_last_read_ms` stays exact.
//! * `p_hot` is the probability of a read in the next 24 h. The model's
//!   life is the gateway's own [`ModelLifecycle`]: a forest is trained
//!   every [`RETRAIN_DAYS`] days (the schedule's interval) on the histories
//!   kept so far, with the catalog's retention; it is used when its
//!   validation AUC is at least the rule's, else the recency-frequency rule
//!   stays in use (as it does before enough history exists); a refused
//!   training keeps the model in use.
//! * At each daily tick every live object is planned by the gateway's own
//!   cycle, `planner::plan_cycle_scored` (features, `p_hot` from the model
//!   in use, the read forecast over [`STRATA_HORIZON_DAYS`] with the rule's
//!   prior — the lifecycle's measured read hazard by idle time — the cost
//!   model with the read-risk limit [`STRATA_MAX_READ_RISK`], and the
//!   optimiser), over an inventory built from the simulator's state: one
//!   backend per price-table tier plus S3 Intelligent-Tiering (one
//!   provider, RF 1, the simulator's SLA, read egress off since the
//!   simulator leaves egress out). As in the gateway, early deletion counts
//!   from the object's write time. Each move of the plan becomes a
//!   [`Move`]; a move into Intelligent-Tiering lands in its Frequent tier,
//!   and an object already in it stays in whichever access tier the class
//!   chose (the policy runs the class's own idle-time moves, like the
//!   `intelligent-tiering` policy).

use planner::features::{HistoryBuilder, ObjectBasics, ReadGaps, WEEK_MS};
use planner::{
    BackendSpec, CostConfig, CostModel, HotModel, Inventory, LifecycleConfig, ModelKind,
    ModelLifecycle, PlacementRules, PlannerConfig, SolverConfig, TrainConfig,
};
use tiers::TierProfile;

use super::objects::{ObjId, ObjectMeta};
use super::policies::{IT_ARCHIVE_AFTER_MS, IT_INFREQUENT_AFTER_MS, it_automation};
use super::policy::{Move, Policy, TickView, TierIdx};
use super::prices::{
    IT_MIN_MONITORED_BYTES, IT_MONITORING_PER_1K_OBJECT_MONTHS, PriceModel, PriceTable,
};
use super::time::DAY_MS;

/// Planning horizon of the cost comparison, in days (the gateway's default:
/// see `[planner] horizon_days`). 30 beat 7 and 90 on the tuning seeds of the
/// evaluation family (`loadtest/README.md`).
pub const STRATA_HORIZON_DAYS: u64 = 30;
/// The price of being wrong (the gateway's default: see `[planner] max_read_risk`):
/// a cold tier only for objects whose read probability within its minimum duration
/// is at most this. 0.2 beat 0.4, 0.5 and no limit on the tuning seeds.
pub const STRATA_MAX_READ_RISK: f64 = 0.2;
/// The access log kept, as the catalog's default retention.
const LOG_RETENTION_MS: i64 = 2 * WEEK_MS;
/// The SLA's price of being wrong (the gateway's default with an SLA set: see `[planner] max_sla_risk`): a tier
/// slower than the SLA only for objects whose chance of a read within the horizon is at most this.
pub const STRATA_MAX_SLA_RISK: f64 = 0.005;
/// Days between forest trainings.
pub const RETRAIN_DAYS: u64 = 7;

/// The planner-backed policy (see the module docs).
pub struct StrataPolicy {
    /// The model in use and its training schedule: the gateway's code.
    model: ModelLifecycle,
    /// Sim tiers `it_base..it_base + 3` are Intelligent-Tiering's access tiers; to the planner they are one
    /// backend (index `it_base`).
    it_base: TierIdx,
    /// The planner's backends (one per price-table tier, then Intelligent-Tiering) and settings: the
    /// gateway's `planner::plan_cycle_scored` decides every tick.
    backends: Vec<BackendSpec>,
    planner: PlannerConfig,
    /// Per object: read times (ms on the simulated clock), ascending.
    times: Vec<Vec<i64>>,
    /// Per object: bytes of each read, aligned with `times`.
    bytes: Vec<Vec<u64>>,
    /// Per object: reads since its write, as the catalog's stats count them (`times` forgets old ones).
    lifetime_reads: Vec<u64>,
    /// Per object: its last two idle intervals between sessions of reads, as the catalog's stats keep them.
    read_gaps: Vec<ReadGaps>,
    /// Per object: when the planner last moved it (0: not since its write), as the catalog's
    /// `ObjectRecord::moved_ms`: where Intelligent-Tiering's idle clock and a minimum duration start.
    moved_ms: Vec<i64>,
    /// The last plan's advice: new objects of at least this size are written into Intelligent-Tiering.
    new_objects_min_bytes: Option<u64>,
}

impl std::fmt::Debug for StrataPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StrataPolicy")
            .field("model", &self.model.current().kind())
            .field("trainings", &self.model.trainings())
            .field("backends", &self.backends.len())
            .finish_non_exhaustive()
    }
}

/// The backend the planner sees for tier `i` of the price table. All tiers
/// are put on one provider: the simulator moves within one account and
/// leaves egress out.
/// S3 Intelligent-Tiering as one more backend for the planner, priced from the table's first three tiers (its
/// access tiers bill like them, see [`PriceModel::intelligent_tiering`]).
fn intelligent_tiering(table: &PriceTable) -> BackendSpec {
    let (hot, warm, cold) = (&table.tiers[0], &table.tiers[1], &table.tiers[2]);
    BackendSpec {
        name: "intelligent-tiering".into(),
        profile: TierProfile {
            provider: "sim".into(),
            storage_class: "INTELLIGENT_TIERING".into(),
            retrieval_per_gb: 0.0,
            min_storage_days: 0,
            auto_tiering: Some(tiers::AutoTiering {
                infrequent_gb_month: warm.storage_gb_month,
                archive_gb_month: cold.storage_gb_month,
                infrequent_after_days: (IT_INFREQUENT_AFTER_MS / DAY_MS) as f64,
                archive_after_days: (IT_ARCHIVE_AFTER_MS / DAY_MS) as f64,
                monitoring_per_1k_objects_month: IT_MONITORING_PER_1K_OBJECT_MONTHS,
                min_monitored_bytes: IT_MIN_MONITORED_BYTES,
                archive_latency_ms: (cold.first_byte_latency_ms > hot.first_byte_latency_ms)
                    .then_some(cold.first_byte_latency_ms),
            }),
            ..hot.clone()
        },
        capacity_bytes: None,
    }
}

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
        let mut backends: Vec<BackendSpec> = table
            .tiers
            .iter()
            .enumerate()
            .map(|(i, t)| backend(i, t))
            .collect();
        backends.push(intelligent_tiering(table));
        let it_base = table.tiers.len() as TierIdx;
        let cfg = CostConfig {
            sla_ms,
            read_egress: false,
            max_read_risk: STRATA_MAX_READ_RISK,
            max_sla_risk: STRATA_MAX_SLA_RISK,
            horizon_days: STRATA_HORIZON_DAYS as f64,
            ..CostConfig::default()
        };
        let rules = PlacementRules {
            replication_factor: 1,
            provider_diversity: false,
        };
        // Fail now, not at the first tick, if the planner refuses the tiers.
        CostModel::new(backends.clone(), rules, cfg)?;
        // Before the first plan, new objects follow the advice for an empty inventory, as in the gateway.
        let new_objects_min_bytes =
            planner::pipeline::new_object_advice(&Inventory::default(), &backends, &cfg, 0)
                .target
                .min_bytes;
        let planner = PlannerConfig {
            rules,
            cost: cfg,
            solver: SolverConfig {
                threads: 1,
                ..SolverConfig::default()
            },
            ..PlannerConfig::default()
        };
        let mut lifecycle = LifecycleConfig::new(
            DAY_MS as i64,
            (RETRAIN_DAYS * DAY_MS) as i64,
            LOG_RETENTION_MS,
        );
        // A smaller forest than the gateway's default, so a simulation trains in seconds.
        lifecycle.train = TrainConfig {
            n_trees: 30,
            max_train_examples: 12_000,
            max_valid_examples: 6_000,
            ..lifecycle.train
        };
        Ok(StrataPolicy {
            model: ModelLifecycle::new(lifecycle)?,
            it_base,
            backends,
            planner,
            times: Vec::new(),
            bytes: Vec::new(),
            lifetime_reads: Vec::new(),
            read_gaps: Vec::new(),
            moved_ms: Vec::new(),
            new_objects_min_bytes,
        })
    }

    /// Which model decided the last tick.
    pub fn model_in_use(&self) -> ModelKind {
        self.model.current().kind()
    }

    /// Training attempts so far, and how many of them put a forest in use.
    pub fn trainings(&self) -> (u32, u32) {
        self.model.trainings()
    }

    /// Trains a forest on the live objects' kept histories and installs the
    /// result in the lifecycle (the forest if it beats the rule; a refused
    /// training keeps the model in use).
    fn retrain(&mut self, view: &TickView<'_>, now: i64) {
        let mut basics = Vec::new();
        let mut reads = 0;
        let ids: Vec<usize> = view
            .objects
            .all()
            .iter()
            .enumerate()
            .filter(|(_, m)| m.alive)
            .map(|(i, m)| {
                basics.push(ObjectBasics {
                    size_bytes: m.size,
                    last_modified_ms: m.created_ms as i64,
                    lifetime_reads: self.lifetime_reads.get(i).copied().unwrap_or(0),
                    read_gaps: self.read_gaps.get(i).copied().unwrap_or_default(),
                    moved_ms: self.moved_ms.get(i).copied().unwrap_or(0),
                });
                reads += self.times.get(i).map_or(0, Vec::len);
                i
            })
            .collect();
        let mut b = HistoryBuilder::with_capacity(reads);
        for (dense, &i) in ids.iter().enumerate() {
            if let (Some(t), Some(by)) = (self.times.get(i), self.bytes.get(i)) {
                for (&t, &by) in t.iter().zip(by) {
                    b.push(dense as u32, t, by);
                }
            }
        }
        let Ok(histories) = b.finish(ids.len()) else {
            return;
        };
        self.model.train_now(&basics, &histories, now);
    }

    fn slot(&mut self, obj: ObjId) -> usize {
        let i = obj as usize;
        if i >= self.times.len() {
            self.times.resize_with(i + 1, Vec::new);
            self.bytes.resize_with(i + 1, Vec::new);
            self.lifetime_reads.resize(i + 1, 0);
            self.read_gaps.resize(i + 1, ReadGaps::default());
            self.moved_ms.resize(i + 1, 0);
        }
        i
    }

    fn forget(&mut self, obj: ObjId) {
        let i = obj as usize;
        if i < self.times.len() {
            self.times[i] = Vec::new();
            self.bytes[i] = Vec::new();
            self.lifetime_reads[i] = 0;
            self.read_gaps[i] = ReadGaps::default();
            self.moved_ms[i] = 0;
        }
    }

    /// Trims object `i`'s history to the catalog's retention (keeping the latest read, as the catalog's stats
    /// do) and returns it.
    fn trimmed_history(&mut self, i: usize, now: i64) -> (&[i64], &[u64]) {
        let (Some(times), Some(bytes)) = (self.times.get_mut(i), self.bytes.get_mut(i)) else {
            return (&[], &[]);
        };
        let old = times.partition_point(|&t| t < now - LOG_RETENTION_MS);
        let drop = old.min(times.len().saturating_sub(1));
        if drop > 0 {
            times.drain(..drop);
            bytes.drain(..drop);
        }
        (times, bytes)
    }

    /// The planner's backend name of sim tier `tier` (Intelligent-Tiering's access tiers are one backend).
    fn backend_of(&self, tier: TierIdx) -> &str {
        &self.backends[tier.min(self.it_base) as usize].name
    }

    /// One planning cycle over every live object with the gateway's code (`plan_cycle_scored`: features, the
    /// model in use, the read forecast with the rule's prior, the cost model, the optimiser), its moves turned
    /// into sim tiers.
    fn plan(&mut self, view: &TickView<'_>, now: i64, moves: &mut Vec<Move>) {
        let mut objects = planner::ObjectTable::default();
        let mut basics = Vec::new();
        let mut ids = Vec::new();
        let mut history = HistoryBuilder::with_capacity(0);
        for (i, (meta, place)) in view.objects.all().iter().zip(view.placement).enumerate() {
            if !meta.alive || place.tier == super::policy::Placement::NONE {
                continue;
            }
            let dense = ids.len() as u32;
            let (times, bytes) = self.trimmed_history(i, now);
            for (&t, &b) in times.iter().zip(bytes) {
                history.push(dense, t, b);
            }
            if objects
                .push("", &dense.to_string(), 0, &[self.backend_of(place.tier)])
                .is_err()
            {
                return;
            }
            basics.push(ObjectBasics {
                size_bytes: meta.size,
                last_modified_ms: meta.created_ms as i64,
                lifetime_reads: self.lifetime_reads.get(i).copied().unwrap_or(0),
                read_gaps: self.read_gaps.get(i).copied().unwrap_or_default(),
                moved_ms: self.moved_ms.get(i).copied().unwrap_or(0),
            });
            ids.push((i, place.tier));
        }
        let Ok(histories) = history.finish(ids.len()) else {
            return;
        };
        let inv = Inventory {
            objects,
            basics,
            histories,
            held: Vec::new(),
        };
        let model = self.model.current().clone();
        let mut cfg = self.planner.clone();
        cfg.read_prior = self.model.hazard().cloned();
        let Ok((plan, _)) =
            planner::plan_cycle_scored(&inv, &self.backends, model.as_ref(), &cfg, now)
        else {
            return;
        };
        self.new_objects_min_bytes = plan.new_objects.target.min_bytes;
        for m in plan.moves {
            // Keys are dense indices into `ids`.
            let Some(&(obj, tier)) = m.key.parse::<usize>().ok().and_then(|k| ids.get(k)) else {
                continue;
            };
            let Some(to) =
                m.to.first()
                    .and_then(|name| self.backends.iter().position(|b| &b.name == name))
            else {
                continue;
            };
            let to = to as TierIdx;
            // Into Intelligent-Tiering: its Frequent tier; staying in it: whichever access tier it chose.
            if to == self.it_base && tier >= self.it_base {
                continue;
            }
            let i = self.slot(obj as ObjId);
            self.moved_ms[i] = now;
            moves.push(Move {
                obj: obj as ObjId,
                to,
            });
        }
    }
}

impl Policy for StrataPolicy {
    fn name(&self) -> &str {
        super::engine::STRATA
    }

    /// The storage classes and Intelligent-Tiering; LIST and HEAD cost nothing, as the gateway answers them
    /// from its catalog; a move is the mover's copy (the source's GET and retrieval fee, as the gateway bills it).
    fn price_model(&self, table: &PriceTable) -> PriceModel {
        PriceModel {
            catalog_metadata: true,
            copy_moves: true,
            ..PriceModel::with_intelligent_tiering(table)
        }
    }

    /// New objects go to tier 0, or into Intelligent-Tiering from the size the last plan advised
    /// (`Plan::new_objects`), as the gateway writes them.
    fn on_create(&mut self, _now_ms: u64, obj: ObjId, meta: &ObjectMeta) -> TierIdx {
        self.forget(obj);
        match self.new_objects_min_bytes {
            Some(min) if meta.size >= min => self.it_base,
            _ => 0,
        }
    }

    fn on_read(
        &mut self,
        now_ms: u64,
        obj: ObjId,
        _meta: &ObjectMeta,
        bytes: u64,
        current: TierIdx,
    ) -> Option<TierIdx> {
        let i = self.slot(obj);
        if let Some(&last) = self.times[i].last() {
            self.read_gaps[i] = self.read_gaps[i].after_read(now_ms as i64 - last);
        }
        self.times[i].push(now_ms as i64);
        self.bytes[i].push(bytes);
        self.lifetime_reads[i] += 1;
        // Intelligent-Tiering brings an accessed object back to its Frequent tier by itself.
        (current > self.it_base && current != super::policy::Placement::NONE)
            .then_some(self.it_base)
    }

    fn on_delete(&mut self, _now_ms: u64, obj: ObjId) {
        self.forget(obj);
    }

    fn on_tick(&mut self, now_ms: u64, view: &TickView<'_>, moves: &mut Vec<Move>) {
        let now = now_ms as i64;
        if self.model.is_due(now) {
            self.retrain(view, now);
        }
        for (i, (meta, place)) in view.objects.all().iter().zip(view.placement).enumerate() {
            if meta.alive
                && place.tier != super::policy::Placement::NONE
                && place.tier >= self.it_base
                && let Some(rel) = it_automation(
                    meta,
                    place.tier - self.it_base,
                    self.moved_ms.get(i).map_or(0, |&t| t.max(0) as u64),
                    now_ms,
                )
            {
                moves.push(Move {
                    obj: i as ObjId,
                    to: self.it_base + rel,
                });
            }
        }
        self.plan(view, now, moves);
    }
}
