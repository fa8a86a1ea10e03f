//! Synthetic placement instances for the benchmark, the tests and simulations.
//!
//! Six backends (three providers × a hot and a cold tier, list-price-like numbers), and objects
//! with log-normal sizes, a mixture of hot and cold read forecasts, and a current placement that
//! is mostly what a previous plan would have chosen plus drift (random placements and a few
//! non-compliant ones). [`bind_constraints`] then sets hot-tier capacities and a move budget as
//! fractions of what the unconstrained optimum would use, so the coupling constraints bind.
//!
//! Everything is deterministic in the seed.

use tiers::TierProfile;

use crate::cost::{BackendSpec, CostModel, Mask, ObjectInput, ReadForecast};
use crate::error::Result;
use crate::features::DAY_MS;
use crate::optimize::{SolverConfig, solve};
use crate::problem::{MoveBudget, Problem};
use crate::rng::SplitMix64;

#[allow(clippy::too_many_arguments)]
fn profile(
    provider: &str,
    class: &str,
    storage: f64,
    put: f64,
    get: f64,
    retrieval: f64,
    egress: f64,
    min_days: u32,
    latency: f64,
) -> TierProfile {
    TierProfile {
        provider: provider.into(),
        storage_class: class.into(),
        storage_gb_month: storage,
        put_per_1k: put,
        get_per_1k: get,
        retrieval_per_gb: retrieval,
        egress_per_gb: egress,
        min_storage_days: min_days,
        first_byte_latency_ms: latency,
        auto_tiering: None,
        min_billable_bytes: 0,
    }
}

/// Three providers × (hot, cold), no capacities. Hot tiers (indices 0, 2, 4) meet a 30 ms SLA,
/// cold tiers (1, 3, 5) do not.
pub fn three_provider_backends() -> Vec<BackendSpec> {
    let spec = |name: &str, profile: TierProfile| BackendSpec {
        name: name.into(),
        profile,
        capacity_bytes: None,
    };
    vec![
        spec("aws-hot", TierProfile::s3_standard()),
        spec("aws-cold", TierProfile::s3_glacier_ir()),
        spec(
            "gcp-hot",
            profile("gcp", "STANDARD", 0.020, 0.005, 0.0004, 0.0, 0.12, 0, 25.0),
        ),
        spec(
            "gcp-cold",
            profile("gcp", "COLDLINE", 0.004, 0.01, 0.005, 0.02, 0.12, 90, 60.0),
        ),
        spec(
            "azure-hot",
            profile("azure", "HOT", 0.0184, 0.0065, 0.0005, 0.0, 0.087, 0, 22.0),
        ),
        spec(
            "azure-cold",
            profile("azure", "COOL", 0.010, 0.013, 0.001, 0.01, 0.087, 30, 40.0),
        ),
    ]
}

/// A synthetic instance.
#[derive(Clone, Debug)]
pub struct SyntheticInstance {
    /// The backends (capacities set by [`bind_constraints`]).
    pub backends: Vec<BackendSpec>,
    /// The objects.
    pub objects: Vec<ObjectInput>,
    /// The planning instant.
    pub now_ms: i64,
    /// The move budget (set by [`bind_constraints`]).
    pub budget: MoveBudget,
}

/// `n` objects over [`three_provider_backends`] at a fixed `now_ms`.
pub fn instance(n: usize, seed: u64) -> SyntheticInstance {
    let backends = three_provider_backends();
    let now_ms = 20_000 * DAY_MS;
    let mut rng = SplitMix64::new(seed);
    let hot = [0usize, 2, 4];
    let cold = [1usize, 3, 5];
    let mut objects = Vec::with_capacity(n);
    for _ in 0..n {
        // Sizes: log-normal, median 4 MB, clamped to [1 KB, 5 GB].
        let size = (4e6 * (2.0 * rng.normal()).exp()).clamp(1e3, 5e9) as u64;
        let is_hot = rng.next_f64() < 0.15;
        let p_hot = if is_hot {
            0.5 + 0.5 * rng.next_f64()
        } else {
            0.5 * rng.next_f64().powi(3)
        };
        let rate = if is_hot {
            2.0 * (1.2 * rng.normal()).exp()
        } else {
            0.05 * (1.0 * rng.normal()).exp()
        };
        let reads = ReadForecast {
            p_hot,
            expected_reads: p_hot * (rate * 30.0).max(1.0),
            bytes_per_read: size as f64,
            idle_days: 0.0,
            daily_read_probability: p_hot,
            age_days: 0.0,
            lifetime_reads: 0,
            gap_days: None,
        };
        // Current placement: a previous plan from a noisy forecast, plus drift.
        let pa = rng.below(3) as usize;
        let pb = (pa + 1 + rng.below(2) as usize) % 3;
        let u = rng.next_f64();
        let current: Mask = if u < 0.02 {
            // Non-compliant: one replica, or two on one provider.
            if rng.next_f64() < 0.5 {
                1 << hot[pa]
            } else {
                (1 << hot[pa]) | (1 << cold[pa])
            }
        } else if u < 0.12 {
            let a = if rng.next_f64() < 0.5 {
                hot[pa]
            } else {
                cold[pa]
            };
            let b = if rng.next_f64() < 0.5 {
                hot[pb]
            } else {
                cold[pb]
            };
            (1 << a) | (1 << b)
        } else {
            let noisy = (p_hot + 0.15 * rng.normal()).clamp(0.0, 1.0);
            if noisy >= 0.6 {
                (1 << hot[pa]) | (1 << cold[pb])
            } else {
                (1 << cold[pa]) | (1 << cold[pb])
            }
        };
        let placed_ms = now_ms - (rng.next_f64() * 180.0 * DAY_MS as f64) as i64;
        objects.push(ObjectInput {
            size_bytes: size,
            current,
            placed_ms,
            reads,
        });
    }
    SyntheticInstance {
        backends,
        objects,
        now_ms,
        budget: MoveBudget::default(),
    }
}

/// Makes the coupling constraints bind, in a way that keeps the instance feasible:
///
/// 1. the move budget is `budget_fraction` of the bytes and egress dollars the unconstrained
///    optimum would move;
/// 2. each hot tier's capacity is `(1 − t)·current + t·budgeted` usage, with `t =
///    capacity_fraction` and `budgeted` its usage in the budget-constrained optimum. The convex
///    combination of "nothing moves" and that optimum meets every constraint, so the instance is
///    feasible (up to rounding one object), and the capacities bind wherever the optimum would
///    change a hot tier's usage.
///
/// Costs and rules are `model`'s; its capacities are ignored.
pub fn bind_constraints(
    mut inst: SyntheticInstance,
    model: &CostModel,
    capacity_fraction: f64,
    budget_fraction: f64,
    threads: usize,
) -> Result<SyntheticInstance> {
    let mut specs = model.backends().to_vec();
    for s in &mut specs {
        s.capacity_bytes = None;
    }
    let free = CostModel::new(specs.clone(), *model.rules(), *model.config())?;
    // Calibration needs the shape of the optimum, not its last digit: no polish, no local search.
    let solver = SolverConfig {
        threads,
        polish_iterations: 0,
        improve_work: 0,
        ..SolverConfig::default()
    };
    let stats = |budget: &MoveBudget| -> Result<(Vec<f64>, f64, f64)> {
        let problem = Problem::build(&free, &inst.objects, budget, inst.now_ms, threads)?;
        let sol = solve(&problem, &solver);
        let mut stored = vec![0.0f64; specs.len()];
        let (mut moved, mut egress) = (0.0f64, 0.0f64);
        for (i, o) in inst.objects.iter().enumerate() {
            let target = problem.slot_mask(i, usize::from(sol.choice[i]));
            for (b, st) in stored.iter_mut().enumerate() {
                if target & (1 << b) != 0 {
                    *st += o.size_bytes as f64;
                }
            }
            moved += f64::from((target & !o.current).count_ones()) * o.size_bytes as f64;
            egress += free.move_egress_per_gb(o.current, target) * o.size_bytes as f64 / 1e9;
        }
        Ok((stored, moved, egress))
    };
    let (_, moved, egress) = stats(&MoveBudget::default())?;
    let budget = MoveBudget {
        max_bytes: Some((moved * budget_fraction) as u64),
        max_egress_usd: Some(egress * budget_fraction),
        max_moves: None,
    };
    let (budgeted, _, _) = stats(&budget)?;
    let mut current = vec![0.0f64; specs.len()];
    for o in &inst.objects {
        for (b, c) in current.iter_mut().enumerate() {
            if o.current & (1 << b) != 0 {
                *c += o.size_bytes as f64;
            }
        }
    }
    let t = capacity_fraction.clamp(0.0, 1.0);
    for (b, spec) in specs.iter_mut().enumerate() {
        if spec.profile.first_byte_latency_ms <= model.config().sla_ms {
            spec.capacity_bytes = Some(((1.0 - t) * current[b] + t * budgeted[b]).ceil() as u64);
        }
    }
    inst.backends = specs;
    inst.budget = budget;
    Ok(inst)
}

/// A synthetic inventory of `n` objects with `days` days of read history ending at `now_ms`, for
/// benchmarking feature extraction, training and prediction: 15 % of the objects are read most
/// days around their own hour of the day, the rest rarely and at random. Replicas follow the
/// same placement mix as [`instance`], named after [`three_provider_backends`].
pub fn inventory(
    n: usize,
    days: i64,
    now_ms: i64,
    seed: u64,
) -> Result<crate::pipeline::Inventory> {
    use crate::features::{HOUR_MS, HistoryBuilder, ObjectBasics};
    let names: Vec<String> = three_provider_backends()
        .into_iter()
        .map(|b| b.name)
        .collect();
    let placed = instance(n, seed);
    let mut rng = SplitMix64::new(seed ^ 0xA5A5_A5A5);
    let mut builder = HistoryBuilder::with_capacity(n * 2);
    let mut objects = crate::objects::ObjectTable::with_capacity(n);
    let mut basics = Vec::with_capacity(n);
    let start = now_ms - days * DAY_MS;
    for (id, o) in placed.objects.iter().enumerate() {
        let replicas: Vec<&str> = (0..names.len())
            .filter(|b| o.current & (1 << b) != 0)
            .map(|b| names[b].as_str())
            .collect();
        objects.push("bench", &format!("obj/{id:08}"), id as u64 + 1, &replicas)?;
        basics.push(ObjectBasics {
            size_bytes: o.size_bytes,
            last_modified_ms: o.placed_ms.min(start),
            lifetime_reads: 0,
            read_gaps: Default::default(),
            moved_ms: 0,
        });
        let hot = o.reads.p_hot >= 0.5;
        let hour = rng.below(24) as i64;
        let id32 = u32::try_from(id).unwrap_or(u32::MAX);
        for d in 0..days {
            if hot && rng.next_f64() < 0.8 {
                let t = start + d * DAY_MS + hour * HOUR_MS + rng.below(HOUR_MS as u64) as i64;
                builder.push(id32, t, o.size_bytes);
            } else if rng.next_f64() < 0.02 {
                let t = start + d * DAY_MS + rng.below(DAY_MS as u64) as i64;
                builder.push(id32, t, o.size_bytes);
            }
        }
    }
    let histories = builder.finish(n)?;
    Ok(crate::pipeline::Inventory {
        objects,
        basics,
        histories,
        held: Vec::new(),
    })
}
