//! One planning cycle from an [`Inventory`]: features → `p_hot` → costs → optimise → plan.
//!
//! Pure: the inventory comes from the catalog adapter ([`crate::source`]) in the gateway, or is
//! built directly by the simulator; `now_ms` is the only time input. The one wall-clock reading
//! is the solve duration reported in [`Plan::solve_ms`], which no result depends on.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::cost::{
    BackendSpec, CostConfig, CostModel, Mask, ObjectInput, PlacementRules, ReadForecast,
};
use crate::error::{Result, invalid};
use crate::features::{FeatureConfig, Histories, ObjectBasics, ObjectFeatures};
use crate::model::HotModel;
use crate::objects::ObjectTable;
use crate::optimize::{SolverConfig, solve};
use crate::plan::{Plan, build_plan};
use crate::problem::{MoveBudget, Problem, fill_rows};

/// Everything the planner reads about the objects; index `i` of every field is the same object
/// (dense id `i` in `histories`).
#[derive(Clone, Debug, Default)]
pub struct Inventory {
    /// Identities and current replicas.
    pub objects: ObjectTable,
    /// Size and write time.
    pub basics: Vec<ObjectBasics>,
    /// Read histories.
    pub histories: Histories,
    /// Objects with a move in flight (ids, ascending, no repeats): the mover is changing their replicas, so a
    /// plan leaves them out ([`plannable`]) and counts them in [`Plan::skipped`]. Filled by
    /// [`crate::source::load_inventory`] from the catalog's active move tasks.
    pub held: Vec<u32>,
}

impl Inventory {
    /// Checks that every field describes the same number of objects.
    pub fn validate(&self) -> Result<()> {
        let n = self.objects.len();
        if self.basics.len() != n || self.histories.len() != n {
            return Err(invalid(format!(
                "inventory lengths disagree: {n} objects, {} basics, {} histories",
                self.basics.len(),
                self.histories.len()
            )));
        }
        if self.held.windows(2).any(|w| w[0] >= w[1])
            || self.held.last().is_some_and(|&h| h as usize >= n)
        {
            return Err(invalid(
                "held objects must be ascending, without repeats, and in the inventory",
            ));
        }
        Ok(())
    }

    /// Number of objects.
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    /// Whether there are no objects.
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }
}

/// All planner settings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PlannerConfig {
    /// Feature extraction (use the same as the model was trained with).
    pub features: FeatureConfig,
    /// RF and diversity.
    pub rules: PlacementRules,
    /// Horizon, SLA, λ, threshold, penalty.
    pub cost: CostConfig,
    /// Per-cycle move budget.
    pub budget: MoveBudget,
    /// Optimiser settings (threads).
    pub solver: SolverConfig,
    /// The access log's daily read probability by idle time, applied to the forecasts of a model that is not
    /// calibrated (the rule; see [`ReadForecast::uncalibrated`]). `None`: the idle-time prior.
    pub read_prior: Option<crate::hazard::IdleHazard>,
}

/// Objects per chunk when computing features and `p_hot` (bounds the temporary feature vectors).
const FEATURE_CHUNK: usize = 65_536;

/// The objects of `inv` that can be planned, with their current replica sets as `model`'s masks: those with at
/// least one replica, all on backends `model` knows, and no move in flight ([`Inventory::held`]). Each replica
/// set's mask is computed once.
pub fn plannable(inv: &Inventory, model: &CostModel) -> (Vec<u32>, Vec<Mask>) {
    let set_masks: Vec<Option<Mask>> = inv
        .objects
        .replica_sets()
        .iter()
        .map(|set| model.mask_of(set).filter(|&m| m != 0))
        .collect();
    let mut index = Vec::with_capacity(inv.len());
    let mut masks = Vec::with_capacity(inv.len());
    let mut held = inv.held.iter().copied().peekable();
    for i in 0..inv.len() {
        if held.next_if_eq(&(i as u32)).is_some() {
            continue;
        }
        if let Some(mask) = set_masks[inv.objects.replica_set_of(i)] {
            index.push(i as u32);
            masks.push(mask);
        }
    }
    (index, masks)
}

/// What computing an object's cost-model input needs besides the object: the model, the forecast's tables
/// and the workload's read share, computed once per cycle.
struct InputContext<'a> {
    inv: &'a Inventory,
    model: &'a CostModel,
    hot: &'a dyn HotModel,
    features: &'a FeatureConfig,
    read_prior: Option<&'a crate::hazard::IdleHazard>,
    table: Option<crate::hazard::HorizonTable>,
    share: f64,
    now_ms: i64,
}

impl<'a> InputContext<'a> {
    fn new(
        inv: &'a Inventory,
        model: &'a CostModel,
        hot: &'a dyn HotModel,
        features: &'a FeatureConfig,
        read_prior: Option<&'a crate::hazard::IdleHazard>,
        now_ms: i64,
    ) -> InputContext<'a> {
        InputContext {
            inv,
            model,
            hot,
            features,
            read_prior,
            table: read_prior.and_then(|h| h.horizon_table(model.config().horizon_days)),
            share: read_share(inv),
            now_ms,
        }
    }

    /// The inputs of objects `ids` (inventory indices) whose current sets are `masks`, in order, into `out`
    /// (cleared first), with `feats`, `p` and `e` as scratch.
    fn inputs(
        &self,
        ids: &[u32],
        masks: &[Mask],
        out: &mut Vec<ObjectInput>,
        scratch: &mut InputScratch,
    ) {
        let inv = self.inv;
        let model_horizon_ms = self.hot.horizon_ms();
        let horizon_days = self.model.config().horizon_days;
        let calibrated = self.hot.kind() == crate::model::ModelKind::Forest;
        let InputScratch { feats, p, e } = scratch;
        out.clear();
        feats.clear();
        for (&i, &mask) in ids.iter().zip(masks) {
            let i = i as usize;
            let b = inv.basics[i];
            let h = inv.histories.get(i);
            feats.push(
                ObjectFeatures::compute(
                    b.size_bytes,
                    b.last_modified_ms,
                    h,
                    self.now_ms,
                    self.features,
                )
                .with_stats(&b, h, self.now_ms)
                .with_current_latency(self.model.serving_latency(mask)),
            );
        }
        self.hot.p_hot_batch(feats, p);
        self.hot.expected_reads_batch(feats, p, e);
        for (((f, &ph), &er), (&i, &mask)) in feats
            .iter()
            .zip(p.iter())
            .zip(e.iter())
            .zip(ids.iter().zip(masks))
        {
            let i = i as usize;
            let mut r = ReadForecast::new(f, ph, er, model_horizon_ms, horizon_days);
            let seen = if f.reads_7d > 0 {
                f.reads_7d as usize
            } else {
                inv.histories.get(i).len()
            };
            r = r.with_read_share(f.size_bytes, seen, self.share);
            if let Some(t) = &self.table {
                r = r.over_horizon(t, f, model_horizon_ms);
            }
            if !calibrated {
                r = r.uncalibrated(self.read_prior);
            }
            out.push(ObjectInput {
                size_bytes: inv.basics[i].size_bytes,
                current: mask,
                placed_ms: inv.basics[i].placed_ms(),
                reads: r,
            });
        }
    }
}

/// [`crate::initial::self_tiering_min_bytes`] for the first self-tiering backend, if any. None is advised when
/// an SLA is set and the class's archive tier misses it: new objects would age into it unforecast. On an empty
/// inventory: the advice before any measurement.
pub fn new_object_advice(
    inv: &Inventory,
    backends: &[BackendSpec],
    cost: &CostConfig,
    now_ms: i64,
) -> crate::initial::NewObjectAdvice {
    let Some(b) = backends.iter().find(|b| b.profile.auto_tiering.is_some()) else {
        return Default::default();
    };
    let mut advice = crate::initial::self_tiering_min_bytes(inv, &b.name, &b.profile, now_ms);
    let sla = (cost.max_sla_risk < 1.0).then_some(cost.sla_ms);
    if !crate::initial::self_tiering_meets_sla(&b.profile, sla) {
        advice.target.min_bytes = None;
    }
    advice
}

/// Scratch vectors of [`InputContext::inputs`], reused from chunk to chunk.
#[derive(Default)]
struct InputScratch {
    feats: Vec<ObjectFeatures>,
    p: Vec<f64>,
    e: Vec<f64>,
}

/// Per-object inputs of the cost model for the plannable objects of `inv` ([`plannable`]), with their inventory
/// indices, all at once (a planning cycle computes them a chunk at a time instead). `p_hot` comes from `hot` on
/// features at `now_ms`.
pub fn object_inputs(
    inv: &Inventory,
    model: &CostModel,
    hot: &dyn HotModel,
    features: &FeatureConfig,
    read_prior: Option<&crate::hazard::IdleHazard>,
    now_ms: i64,
    threads: usize,
) -> Result<(Vec<usize>, Vec<ObjectInput>)> {
    inv.validate()?;
    features.validate()?;
    let (index, masks) = plannable(inv, model);
    let ctx = InputContext::new(inv, model, hot, features, read_prior, now_ms);
    let per = index.len().div_ceil(threads.max(1)).max(1);
    let parts: Vec<Vec<ObjectInput>> = std::thread::scope(|s| {
        let handles: Vec<_> = index
            .chunks(per)
            .zip(masks.chunks(per))
            .map(|(ids, ms)| {
                let ctx = &ctx;
                s.spawn(move || {
                    let (mut all, mut out) = (Vec::with_capacity(ids.len()), Vec::new());
                    let mut scratch = InputScratch::default();
                    for (ids, ms) in ids.chunks(FEATURE_CHUNK).zip(ms.chunks(FEATURE_CHUNK)) {
                        ctx.inputs(ids, ms, &mut out, &mut scratch);
                        all.append(&mut out);
                    }
                    all
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    Ok((
        index.into_iter().map(|i| i as usize).collect(),
        parts.into_iter().flatten().collect(),
    ))
}

/// The share of an object a read returns, over every logged read of `inv`: bytes returned over the sizes of
/// the objects read (1 without reads: a read is taken to return the whole object).
pub fn read_share(inv: &Inventory) -> f64 {
    let (mut got, mut whole) = (0.0f64, 0.0f64);
    for (i, b) in inv.basics.iter().enumerate() {
        let h = inv.histories.get(i);
        got += h.bytes().iter().map(|&x| x as f64).sum::<f64>();
        whole += h.len() as f64 * b.size_bytes as f64;
    }
    if whole > 0.0 {
        (got / whole).clamp(0.0, 1.0)
    } else {
        1.0
    }
}

/// `p_hot` of every object of `inv` at `now_ms` from `hot` (index `i` is inventory object `i`),
/// on the model's own horizon. Features are computed in chunks, so memory stays bounded by the
/// output.
pub fn score(
    inv: &Inventory,
    hot: &dyn HotModel,
    features: &FeatureConfig,
    now_ms: i64,
) -> Result<Vec<f64>> {
    inv.validate()?;
    features.validate()?;
    let mut out = Vec::with_capacity(inv.len());
    let mut feats = Vec::with_capacity(FEATURE_CHUNK.min(inv.len()));
    let mut p = Vec::new();
    let mut start = 0;
    while start < inv.len() {
        let end = (start + FEATURE_CHUNK).min(inv.len());
        feats.clear();
        for i in start..end {
            let b = inv.basics[i];
            feats.push(ObjectFeatures::compute(
                b.size_bytes,
                b.last_modified_ms,
                inv.histories.get(i),
                now_ms,
                features,
            ));
        }
        hot.p_hot_batch(&feats, &mut p);
        out.extend_from_slice(&p);
        start = end;
    }
    Ok(out)
}

/// Runs one planning cycle over `inv` at `now_ms` with `hot` as the `p_hot` model.
///
/// Objects that cannot be planned ([`plannable`]: unknown backends, no replicas, a move in flight) stay where
/// they are; their bytes on capacity-limited backends are subtracted from those capacities, and their count is
/// reported in [`Plan::skipped`].
pub fn plan_cycle(
    inv: &Inventory,
    backends: &[BackendSpec],
    hot: &dyn HotModel,
    cfg: &PlannerConfig,
    now_ms: i64,
) -> Result<Plan> {
    plan_cycle_scored(inv, backends, hot, cfg, now_ms).map(|(plan, _)| plan)
}

/// [`plan_cycle`], also returning the `p_hot` the plan used for every inventory object (index
/// `i` is inventory object `i`; `None` for the objects it skipped), so a caller that keeps scores
/// does not compute the features twice.
///
/// Memory: the cost model's inputs are computed a chunk of 65,536 objects at a time per thread,
/// straight into the problem's rows, so beside the inventory the cycle holds the problem (a few floats per
/// object and candidate) and never every object's features or forecast at once.
pub fn plan_cycle_scored(
    inv: &Inventory,
    backends: &[BackendSpec],
    hot: &dyn HotModel,
    cfg: &PlannerConfig,
    now_ms: i64,
) -> Result<(Plan, Vec<Option<f32>>)> {
    inv.validate()?;
    cfg.features.validate()?;
    let model = CostModel::new(backends.to_vec(), cfg.rules, cfg.cost)?;
    let threads = cfg.solver.threads.max(1);
    let (index, masks) = plannable(inv, &model);
    // Capacities are for the planned objects: what skipped objects keep stored is not available.
    let mut specs = backends.to_vec();
    let mut planned = vec![false; inv.len()];
    for &i in &index {
        planned[i as usize] = true;
    }
    for (i, &is_planned) in planned.iter().enumerate() {
        if is_planned {
            continue;
        }
        for name in inv.objects.replicas(i) {
            if let Some(spec) = specs.iter_mut().find(|s| &s.name == name)
                && let Some(cap) = spec.capacity_bytes.as_mut()
            {
                *cap = cap.saturating_sub(inv.basics[i].size_bytes);
            }
        }
    }
    drop(planned);
    let model = CostModel::new(specs, cfg.rules, cfg.cost)?;
    let mut problem = Problem::frame(
        &model,
        index
            .iter()
            .zip(&masks)
            .map(|(&i, &m)| (m, inv.basics[i as usize].size_bytes)),
        &cfg.budget,
    )?;
    let mut p_hot = vec![0.0f32; index.len()];
    {
        let ctx = InputContext::new(
            inv,
            &model,
            hot,
            &cfg.features,
            cfg.read_prior.as_ref(),
            now_ms,
        );
        let candidates = model.candidates();
        let (cost, stay) = problem.rows_mut(0, index.len());
        let slots = candidates.len() + 1;
        let per = index.len().div_ceil(threads).max(1);
        std::thread::scope(|s| {
            for ((((ids, ms), cost), stay), p_hot) in index
                .chunks(per)
                .zip(masks.chunks(per))
                .zip(cost.chunks_mut(per * slots))
                .zip(stay.chunks_mut(per))
                .zip(p_hot.chunks_mut(per))
            {
                let (ctx, model) = (&ctx, &model);
                s.spawn(move || {
                    let mut out = Vec::with_capacity(FEATURE_CHUNK.min(ids.len()));
                    let mut scratch = InputScratch::default();
                    for (j, (ids, ms)) in ids
                        .chunks(FEATURE_CHUNK)
                        .zip(ms.chunks(FEATURE_CHUNK))
                        .enumerate()
                    {
                        ctx.inputs(ids, ms, &mut out, &mut scratch);
                        let at = j * FEATURE_CHUNK;
                        let len = out.len();
                        fill_rows(
                            model,
                            candidates,
                            &out,
                            now_ms,
                            &mut cost[at * slots..(at + len) * slots],
                            &mut stay[at..at + len],
                        );
                        for (p, input) in p_hot[at..at + len].iter_mut().zip(&out) {
                            *p = input.reads.p_hot as f32;
                        }
                    }
                });
            }
        });
    }
    let started = Instant::now();
    let solution = solve(&problem, &cfg.solver);
    let solve_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let mut plan = build_plan(
        inv,
        &index,
        &problem,
        &solution,
        &model,
        hot.kind(),
        now_ms,
        solve_ms,
        cfg.budget.max_moves,
    )?;
    plan.skipped = inv.len() - index.len();
    plan.new_objects = new_object_advice(inv, backends, &cfg.cost, now_ms);
    let mut scores = vec![None; inv.len()];
    for (&i, &p) in index.iter().zip(&p_hot) {
        scores[i as usize] = Some(p);
    }
    Ok((plan, scores))
}
