//! Benchmark: plan 1,000,000 synthetic objects over 6 backends (3 providers × hot/cold), RF = 2
//! with provider diversity, hot-tier capacities and the move budget binding.
//!
//! Run with `cargo bench -p planner` (release build). Prints the time to build the problem
//! (cost precomputation) and to solve it, the primal objective, the lower bound and the gap.
//! `PLANNER_BENCH_N` overrides the object count.

use std::time::Instant;

use planner::cost::{CostConfig, CostModel, PlacementRules};
use planner::features::{DAY_MS, FeatureConfig};
use planner::model::{HotModel, RuleModel, TrainConfig, train_forest};
use planner::optimize::{SolverConfig, solve};
use planner::pipeline::object_inputs;
use planner::problem::Problem;
use planner::synth;

fn main() {
    let n: usize = std::env::var("PLANNER_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let threads = 2;
    let rules = PlacementRules::default();
    let cfg = CostConfig::default();
    let t = Instant::now();
    let inst = synth::instance(n, 42);
    let free = CostModel::new(inst.backends.clone(), rules, cfg).expect("model");
    let inst = synth::bind_constraints(inst, &free, 0.5, 0.5, threads).expect("bind");
    println!(
        "instance: {n} objects generated and calibrated in {:.2?}",
        t.elapsed()
    );
    let model = CostModel::new(inst.backends.clone(), rules, cfg).expect("model");

    let t = Instant::now();
    let problem =
        Problem::build(&model, &inst.objects, &inst.budget, inst.now_ms, threads).expect("build");
    let build = t.elapsed();
    let t = Instant::now();
    let sol = solve(
        &problem,
        &SolverConfig {
            threads,
            ..SolverConfig::default()
        },
    );
    let solve_time = t.elapsed();
    println!(
        "candidates: {} slots per object, {} constraints",
        problem.n_slots(),
        problem.constraints().len()
    );
    for (j, c) in problem.constraints().iter().enumerate() {
        println!(
            "  {:<24} usage {:>14.3} rhs {:>14.3} mu {:.3e}",
            c.name, sol.usage[j], c.rhs, sol.multipliers[j]
        );
    }
    println!("build (cost precompute): {build:.2?}");
    println!(
        "solve: {solve_time:.2?} ({} sweeps, {} passes)",
        sol.sweeps, sol.passes
    );
    println!("total plan time: {:.2?}", build + solve_time);
    println!("primal objective: {:.4}", sol.objective);
    println!("lower bound:      {:.4}", sol.lower_bound);
    if std::env::var("PLANNER_BENCH_TRACE").is_ok() {
        for (i, b) in sol.bound_trace.iter().enumerate() {
            println!(
                "  sweep {i:>3}: bound {b:.6}  (objective - bound) / bound = {:.3e}",
                (sol.objective - b) / b
            );
        }
    }
    println!(
        "gap: {:.5}%  feasible: {} {:?}",
        sol.gap * 100.0,
        sol.feasible,
        sol.violations
    );

    if std::env::var("PLANNER_BENCH_SKIP_MODEL").is_ok() {
        return;
    }
    // Prediction side: features and p_hot for every object, rule and forest.
    let now = 20_000 * DAY_MS;
    let t = Instant::now();
    let inv = synth::inventory(n, 7, now, 42).expect("inventory");
    println!(
        "\ninventory: {n} objects, {} reads over 7 days, generated in {:.2?}",
        inv.histories.total_reads(),
        t.elapsed()
    );
    let features = FeatureConfig::default();
    let rule = RuleModel::new(DAY_MS).expect("rule");
    let t = Instant::now();
    let (_, inputs) =
        object_inputs(&inv, &model, &rule, &features, None, now, threads).expect("inputs");
    println!(
        "features + rule p_hot for {} objects: {:.2?}",
        inputs.len(),
        t.elapsed()
    );
    let t = Instant::now();
    let forest =
        train_forest(&inv.basics, &inv.histories, now, &TrainConfig::default()).expect("train");
    let m = forest.metrics();
    println!(
        "forest trained in {:.2?}: {} train / {} valid examples, AUC {:.4} (rule {:.4}), \
         precision {:.3} recall {:.3} at {} (rule {:.3} / {:.3})",
        t.elapsed(),
        m.n_train,
        m.n_valid,
        m.auc,
        m.rule_auc,
        m.precision,
        m.recall,
        m.threshold,
        m.rule_precision,
        m.rule_recall
    );
    let t = Instant::now();
    let (_, inputs) =
        object_inputs(&inv, &model, &forest, &features, None, now, threads).expect("inputs");
    println!(
        "features + {} p_hot for {} objects: {:.2?}",
        forest.name(),
        inputs.len(),
        t.elapsed()
    );
}
