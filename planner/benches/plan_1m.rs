//! Benchmark: plan 1,000,000 synthetic objects over 6 backends (3 providers × hot/cold), RF = 2
//! with provider diversity, hot-tier capacities and the move budget binding.
//!
//! Run with `cargo bench -p planner` (release build). Prints the time to build the problem
//! (cost precomputation) and to solve it, the primal objective, the lower bound and the gap.
//! `PLANNER_BENCH_N` overrides the object count.

use std::time::Instant;

use planner::cost::{CostConfig, CostModel, PlacementRules};
use planner::optimize::{SolverConfig, solve};
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
    println!("instance: {n} objects generated and calibrated in {:.2?}", t.elapsed());
    let model = CostModel::new(inst.backends.clone(), rules, cfg).expect("model");

    let t = Instant::now();
    let problem =
        Problem::build(&model, &inst.objects, &inst.budget, inst.now_ms, threads).expect("build");
    let build = t.elapsed();
    let t = Instant::now();
    let sol = solve(&problem, &SolverConfig { threads, ..SolverConfig::default() });
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
    println!("solve: {solve_time:.2?} ({} sweeps, {} passes)", sol.sweeps, sol.passes);
    println!("total plan time: {:.2?}", build + solve_time);
    println!("primal objective: {:.4}", sol.objective);
    println!("lower bound:      {:.4}", sol.lower_bound);
    if std::env::var("PLANNER_BENCH_TRACE").is_ok() {
        for (i, b) in sol.bound_trace.iter().enumerate() {
            println!("  sweep {i:>3}: bound {b:.6}  (objective - bound) / bound = {:.3e}", (sol.objective - b) / b);
        }
    }
    println!("gap: {:.5}%  feasible: {} {:?}", sol.gap * 100.0, sol.feasible, sol.violations);
}
