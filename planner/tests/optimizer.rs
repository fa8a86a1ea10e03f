//! The optimiser against its contracts: rules, capacities, budget, bounds, determinism, and the
//! exact MILP on small instances.

use planner::cost::{CostConfig, CostModel, Mask, PlacementRules};
#[cfg(feature = "exact")]
use planner::exact::{ExactOptions, solve_exact};
use planner::optimize::{SolverConfig, solve};
use planner::problem::{ConstraintKind, MoveBudget, Problem};
use planner::synth::{self, SyntheticInstance};

fn bound_instance(n: usize, seed: u64, cap: f64, budget: f64) -> (SyntheticInstance, CostModel) {
    let rules = PlacementRules::default();
    let cfg = CostConfig::default();
    let inst = synth::instance(n, seed);
    let free = CostModel::new(inst.backends.clone(), rules, cfg).expect("model");
    let inst = synth::bind_constraints(inst, &free, cap, budget, 1).expect("bind");
    let model = CostModel::new(inst.backends.clone(), rules, cfg).expect("model");
    (inst, model)
}

/// One thread, and a local-search budget that keeps debug-build tests quick.
fn single_thread() -> SolverConfig {
    SolverConfig {
        threads: 1,
        improve_work: 20_000_000,
        ..SolverConfig::default()
    }
}

fn providers_distinct(model: &CostModel, mask: Mask) -> bool {
    let mut seen: Vec<&str> = Vec::new();
    for (b, spec) in model.backends().iter().enumerate() {
        if mask & (1 << b) != 0 {
            if seen.contains(&spec.profile.provider.as_str()) {
                return false;
            }
            seen.push(&spec.profile.provider);
        }
    }
    true
}

#[test]
fn plan_respects_rf_diversity_sla_capacity_and_budget() {
    let (inst, model) = bound_instance(20_000, 7, 0.5, 0.5);
    let problem =
        Problem::build(&model, &inst.objects, &inst.budget, inst.now_ms, 2).expect("problem");
    assert_eq!(
        problem.constraints().len(),
        5,
        "3 hot capacities + 2 budget kinds"
    );
    let sol = solve(&problem, &single_thread());
    assert!(sol.feasible, "{:?}", sol.violations);
    assert!(sol.lower_bound <= sol.objective);
    assert!(sol.gap < 0.01, "gap {}", sol.gap);

    let mut stored = vec![0u64; model.backends().len()];
    let (mut moved, mut egress) = (0u64, 0.0f64);
    let mut moves = 0;
    for (i, o) in inst.objects.iter().enumerate() {
        let slot = usize::from(sol.choice[i]);
        let target = problem.slot_mask(i, slot);
        if target != o.current {
            moves += 1;
            // Every changed placement is a feasible candidate: RF = 2, distinct providers, and a
            // replica within the SLA for likely-read objects.
            assert_eq!(target.count_ones(), 2);
            assert!(providers_distinct(&model, target));
            assert!(model.is_feasible(o, target));
        } else if slot == problem.stay_slot() {
            // Staying on a non-compliant set is allowed but not chosen lightly.
            assert!(!model.is_feasible(o, target));
        }
        for (b, st) in stored.iter_mut().enumerate() {
            if target & (1 << b) != 0 {
                *st += o.size_bytes;
            }
        }
        moved += u64::from((target & !o.current).count_ones()) * o.size_bytes;
        egress += model.move_egress_per_gb(o.current, target) * o.size_bytes as f64 / 1e9;
    }
    assert!(moves > 0);
    for (b, spec) in model.backends().iter().enumerate() {
        if let Some(cap) = spec.capacity_bytes {
            assert!(
                stored[b] as f64 <= cap as f64 * (1.0 + 1e-9),
                "{}: {} > {cap}",
                spec.name,
                stored[b]
            );
        }
    }
    let budget = inst.budget;
    assert!(moved as f64 <= budget.max_bytes.expect("bytes budget") as f64 * (1.0 + 1e-9));
    assert!(egress <= budget.max_egress_usd.expect("egress budget") * (1.0 + 1e-9));
    // At least one capacity and the budget bind (multipliers > 0).
    let binding: Vec<ConstraintKind> = problem
        .constraints()
        .iter()
        .zip(&sol.multipliers)
        .filter(|(_, mu)| **mu > 0.0)
        .map(|(c, _)| c.kind)
        .collect();
    assert!(
        binding
            .iter()
            .any(|k| matches!(k, ConstraintKind::Capacity { .. }))
    );
}

#[test]
fn lower_bound_never_exceeds_primal() {
    for seed in 0..12u64 {
        let cap = 0.2 + 0.06 * seed as f64;
        let budget = 0.1 + 0.07 * seed as f64;
        let (inst, model) = bound_instance(800 + 100 * seed as usize, seed, cap, budget);
        let problem =
            Problem::build(&model, &inst.objects, &inst.budget, inst.now_ms, 1).expect("problem");
        let sol = solve(&problem, &single_thread());
        assert!(sol.feasible, "seed {seed}: {:?}", sol.violations);
        assert!(
            sol.lower_bound <= sol.objective + 1e-9,
            "seed {seed}: lb {} > primal {}",
            sol.lower_bound,
            sol.objective
        );
        assert!((problem.objective(&sol.choice) - sol.objective).abs() < 1e-6);
    }
}

#[test]
fn unconstrained_problem_is_solved_exactly() {
    let inst = synth::instance(5_000, 3);
    let model = CostModel::new(
        inst.backends.clone(),
        PlacementRules::default(),
        CostConfig::default(),
    )
    .expect("model");
    let problem = Problem::build(
        &model,
        &inst.objects,
        &MoveBudget::default(),
        inst.now_ms,
        1,
    )
    .expect("problem");
    let sol = solve(&problem, &single_thread());
    assert!(problem.constraints().is_empty());
    assert_eq!(sol.gap, 0.0);
    for i in 0..problem.n_objects() {
        let best = (0..problem.n_slots())
            .map(|k| problem.cost(i, k))
            .fold(f64::INFINITY, f64::min);
        assert_eq!(problem.cost(i, usize::from(sol.choice[i])), best);
    }
}

#[test]
fn infeasible_capacity_is_reported_not_panicked() {
    let mut inst = synth::instance(3_000, 5);
    // Hot tiers with no room at all, and a tiny move budget: nothing can be fixed.
    for spec in inst.backends.iter_mut() {
        if spec.profile.first_byte_latency_ms <= 30.0 {
            spec.capacity_bytes = Some(0);
        }
    }
    let budget = MoveBudget {
        max_bytes: Some(1),
        max_egress_usd: Some(0.0),
        max_moves: None,
    };
    let model = CostModel::new(
        inst.backends.clone(),
        PlacementRules::default(),
        CostConfig::default(),
    )
    .expect("model");
    let problem = Problem::build(&model, &inst.objects, &budget, inst.now_ms, 1).expect("problem");
    let sol = solve(&problem, &single_thread());
    assert!(!sol.feasible);
    assert!(!sol.violations.is_empty());
    assert!(sol.objective.is_finite());
}

#[test]
fn result_does_not_depend_on_thread_count() {
    let (inst, model) = bound_instance(70_000, 11, 0.5, 0.5);
    let problem =
        Problem::build(&model, &inst.objects, &inst.budget, inst.now_ms, 2).expect("problem");
    let one = solve(&problem, &single_thread());
    let two = solve(
        &problem,
        &SolverConfig {
            threads: 2,
            ..SolverConfig::default()
        },
    );
    assert_eq!(one.choice, two.choice);
    assert_eq!(one.lower_bound, two.lower_bound);
    assert_eq!(one.multipliers, two.multipliers);
    // Building on one or two threads gives the same problem.
    let again =
        Problem::build(&model, &inst.objects, &inst.budget, inst.now_ms, 1).expect("problem");
    assert_eq!(solve(&again, &single_thread()).choice, one.choice);
}

/// The decomposition against CBC's exact MILP on small instances:
/// `lower_bound ≤ LP relaxation ≤ MILP optimum ≤ primal`, the bound equal to the LP relaxation
/// (the dual is solved), and the primal within 2 % of the optimum. These instances are the hard
/// case: a few hundred objects with log-normal sizes (σ = 2), so single objects are a sizeable
/// part of a capacity or of the move budget and the integrality gap is large (the bound sits up
/// to 15 % below the optimum); the primal's excess over the optimum is 0–1.1 % here. On large
/// instances the integrality gap vanishes (the 1M benchmark's gap to the bound is ~0.005 %).
#[cfg(feature = "exact")]
#[test]
fn decomposition_matches_exact_milp_on_small_instances() {
    for (seed, n) in [(21u64, 150usize), (22, 250), (23, 300)] {
        let (inst, model) = bound_instance(n, seed, 0.5, 0.5);
        let problem =
            Problem::build(&model, &inst.objects, &inst.budget, inst.now_ms, 1).expect("problem");
        let sol = solve(
            &problem,
            &SolverConfig {
                threads: 1,
                ..SolverConfig::default()
            },
        );
        let t = std::time::Instant::now();
        let exact = solve_exact(&problem, &ExactOptions::default()).expect("cbc");
        let milp_time = t.elapsed();
        let lp = solve_exact(
            &problem,
            &ExactOptions {
                relax: true,
                ..ExactOptions::default()
            },
        )
        .expect("cbc lp");
        println!(
            "n={n}: CBC MILP in {milp_time:.2?}; LP relaxation optimum {:.6}",
            lp.solver_objective
        );
        assert!(
            exact.proven_optimal,
            "seed {seed}: CBC did not prove optimality"
        );
        let opt = exact.objective;
        // The MILP's choice is feasible.
        let usage = problem.usages(&exact.choice);
        for (u, c) in usage.iter().zip(problem.constraints()) {
            assert!(
                *u <= c.rhs * (1.0 + 1e-7) + 1e-9,
                "{}: {u} > {}",
                c.name,
                c.rhs
            );
        }
        assert!(sol.feasible, "seed {seed}: {:?}", sol.violations);
        // CBC stops within its relative MIP gap (1e-7) and integrality tolerance.
        let tol = 1e-6 * opt.abs();
        assert!(
            sol.lower_bound <= opt + tol,
            "seed {seed}: lower bound {} > MILP optimum {opt}",
            sol.lower_bound
        );
        assert!(
            opt <= sol.objective + tol,
            "seed {seed}: MILP optimum {opt} > primal {}",
            sol.objective
        );
        // The Lagrangian dual equals the LP relaxation: the bound must reach it.
        let lp_opt = lp.solver_objective;
        assert!(sol.lower_bound <= lp_opt + tol, "lb above the LP optimum");
        assert!(
            (lp_opt - sol.lower_bound) / lp_opt < 1e-3,
            "seed {seed}: dual not solved: lb {} vs LP {lp_opt}",
            sol.lower_bound
        );
        let excess = (sol.objective - opt) / opt;
        println!(
            "n={n} seed={seed}: lb {:.6} ≤ MILP {opt:.6} ≤ primal {:.6}  (primal +{:.4}%, gap to lb {:.4}%)",
            sol.lower_bound,
            sol.objective,
            excess * 100.0,
            sol.gap * 100.0
        );
        assert!(
            excess <= 0.02,
            "seed {seed}: primal {excess:.4} above the MILP optimum"
        );
    }
}
