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
use crate::optimize::{SolverConfig, solve};
use crate::plan::{Plan, PlanObject, build_plan};
use crate::problem::{MoveBudget, Problem};

/// Everything the planner reads about the objects; index `i` of every field is the same object
/// (dense id `i` in `histories`).
#[derive(Clone, Debug, Default)]
pub struct Inventory {
    /// Identities and current replicas.
    pub objects: Vec<PlanObject>,
    /// Size and write time.
    pub basics: Vec<ObjectBasics>,
    /// Read histories.
    pub histories: Histories,
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

/// Per-object inputs of the cost model for the plannable objects of `inv`, with their inventory
/// indices. An object is skipped when it has no replica or a replica on a backend `model` does
/// not know. `p_hot` comes from `hot` on features at `now_ms`.
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
    let mut index = Vec::with_capacity(inv.len());
    let mut masks: Vec<Mask> = Vec::with_capacity(inv.len());
    for (i, o) in inv.objects.iter().enumerate() {
        if let Some(mask) = model.mask_of(&o.replicas)
            && mask != 0
        {
            index.push(i);
            masks.push(mask);
        }
    }
    let horizon_days = model.config().horizon_days;
    let model_horizon_ms = hot.horizon_ms();
    let calibrated = hot.kind() == crate::model::ModelKind::Forest;
    let table = read_prior.and_then(|h| h.horizon_table(horizon_days));
    let share = read_share(inv);
    let work = |ids: &[usize], masks: &[Mask]| -> Vec<ObjectInput> {
        let mut out = Vec::with_capacity(ids.len());
        let mut feats = Vec::with_capacity(FEATURE_CHUNK.min(ids.len()));
        let mut p = Vec::with_capacity(FEATURE_CHUNK.min(ids.len()));
        let mut e = Vec::with_capacity(FEATURE_CHUNK.min(ids.len()));
        for (ids, masks) in ids.chunks(FEATURE_CHUNK).zip(masks.chunks(FEATURE_CHUNK)) {
            feats.clear();
            for (&i, &mask) in ids.iter().zip(masks) {
                let b = inv.basics[i];
                let h = inv.histories.get(i);
                feats.push(
                    ObjectFeatures::compute(b.size_bytes, b.last_modified_ms, h, now_ms, features)
                        .with_lifetime_reads(&b, h, now_ms)
                        .with_current_latency(model.serving_latency(mask)),
                );
            }
            hot.p_hot_batch(&feats, &mut p);
            hot.expected_reads_batch(&feats, &p, &mut e);
            for (((f, &ph), &er), (&i, &mask)) in
                feats.iter().zip(&p).zip(&e).zip(ids.iter().zip(masks))
            {
                out.push(ObjectInput {
                    size_bytes: inv.basics[i].size_bytes,
                    current: mask,
                    placed_ms: inv.basics[i].last_modified_ms,
                    reads: {
                        let mut r = ReadForecast::new(f, ph, er, model_horizon_ms, horizon_days);
                        let seen = if f.reads_7d > 0 {
                            f.reads_7d as usize
                        } else {
                            inv.histories.get(i).len()
                        };
                        r = r.with_read_share(f.size_bytes, seen, share);
                        if let Some(t) = &table {
                            r = r.over_horizon(t, f, model_horizon_ms);
                        }
                        if calibrated {
                            r
                        } else {
                            r.uncalibrated(read_prior)
                        }
                    },
                });
            }
        }
        out
    };
    let threads = threads.max(1);
    let inputs = if threads == 1 || index.len() < 2 * FEATURE_CHUNK {
        work(&index, &masks)
    } else {
        let per = index.len().div_ceil(threads);
        std::thread::scope(|s| {
            let handles: Vec<_> = index
                .chunks(per)
                .zip(masks.chunks(per))
                .map(|(ids, ms)| {
                    let work = &work;
                    s.spawn(move || work(ids, ms))
                })
                .collect();
            let mut all = Vec::with_capacity(index.len());
            for h in handles {
                all.extend(h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
            }
            all
        })
    };
    Ok((index, inputs))
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
/// Objects that cannot be planned (see [`object_inputs`]) stay where they are; their bytes on
/// capacity-limited backends are subtracted from those capacities, and their count is reported
/// in [`Plan::skipped`].
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
pub fn plan_cycle_scored(
    inv: &Inventory,
    backends: &[BackendSpec],
    hot: &dyn HotModel,
    cfg: &PlannerConfig,
    now_ms: i64,
) -> Result<(Plan, Vec<Option<f64>>)> {
    let model = CostModel::new(backends.to_vec(), cfg.rules, cfg.cost)?;
    let threads = cfg.solver.threads.max(1);
    let (index, inputs) = object_inputs(
        inv,
        &model,
        hot,
        &cfg.features,
        cfg.read_prior.as_ref(),
        now_ms,
        threads,
    )?;
    // Capacities are for the planned objects: what skipped objects keep stored is not available.
    let mut specs = backends.to_vec();
    let mut planned = vec![false; inv.len()];
    for &i in &index {
        planned[i] = true;
    }
    for (i, o) in inv.objects.iter().enumerate() {
        if planned[i] {
            continue;
        }
        for name in &o.replicas {
            if let Some(spec) = specs.iter_mut().find(|s| &s.name == name)
                && let Some(cap) = spec.capacity_bytes.as_mut()
            {
                *cap = cap.saturating_sub(inv.basics[i].size_bytes);
            }
        }
    }
    let model = CostModel::new(specs, cfg.rules, cfg.cost)?;
    let started = Instant::now();
    let problem = Problem::build(&model, &inputs, &cfg.budget, now_ms, threads)?;
    let solution = solve(&problem, &cfg.solver);
    let solve_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let mut plan = build_plan(
        &inv.objects,
        &index,
        &inputs,
        &problem,
        &solution,
        &model,
        hot.kind(),
        now_ms,
        solve_ms,
    )?;
    plan.skipped = inv.len() - index.len();
    let mut scores = vec![None; inv.len()];
    for (&i, input) in index.iter().zip(&inputs) {
        scores[i] = Some(input.reads.p_hot);
    }
    Ok((plan, scores))
}
