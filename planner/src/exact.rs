//! The exact MILP of a [`Problem`], solved with good_lp + CBC — for small instances only.
//!
//! Variables `x[i][k] ∈ {0, 1}` for every finite option; `Σ_k x[i][k] = 1` per object;
//! `Σ_{i,k} usage_j(i, k)·x[i][k] ≤ rhs_j` per coupling constraint; minimise `Σ cost·x`. It is
//! the same problem [`crate::optimize::solve`] decomposes, so on small instances it checks the
//! decomposition: `lower_bound ≤ MILP optimum ≤ primal`. It does not scale (a per-object MILP is
//! exactly what the decomposition avoids) and is refused above [`MAX_EXACT_VARIABLES`].
//!
//! CBC is linked from Debian's `coinor-libcbc-dev` (see `SOLVER.md`); this module exists only
//! with the crate's `exact` feature (off by default; the test command turns it on).

use good_lp::{
    Expression, ProblemVariables, ResolutionError, Solution, SolutionStatus, SolverModel, Variable,
    WithMipGap, WithTimeLimit, coin_cbc, variable,
};
use serde::{Deserialize, Serialize};

use crate::error::{PlannerError, Result};
use crate::problem::Problem;

/// Largest number of binary variables [`solve_exact`] accepts.
pub const MAX_EXACT_VARIABLES: usize = 200_000;

/// CBC settings.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExactOptions {
    /// Wall-clock limit for CBC in seconds (rounded up). Default 60.
    pub time_limit_s: f64,
    /// Relative MIP gap at which CBC may stop. Default 1e-7 (effectively optimal).
    pub mip_gap: f32,
    /// Solve the LP relaxation (`0 ≤ x ≤ 1`) instead: its optimum equals the best Lagrangian
    /// bound, so it checks how well the dual was solved. Default false.
    pub relax: bool,
}

impl Default for ExactOptions {
    fn default() -> Self {
        ExactOptions {
            time_limit_s: 60.0,
            mip_gap: 1e-7,
            relax: false,
        }
    }
}

/// What CBC returned.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExactSolution {
    /// Chosen slot per object.
    pub choice: Vec<u8>,
    /// Objective of `choice`, recomputed from the problem's costs (for a relaxation: the
    /// objective of the rounded choice).
    pub objective: f64,
    /// The solver's objective value (for a relaxation: the LP optimum).
    pub solver_objective: f64,
    /// CBC's best bound (a lower bound on the optimum), when it reports a finite one.
    pub best_bound: Option<f64>,
    /// Whether CBC proved optimality (within `mip_gap`).
    pub proven_optimal: bool,
}

/// Solves `p` exactly with CBC. Fails for more than [`MAX_EXACT_VARIABLES`] variables, an
/// infeasible instance, or a CBC failure.
pub fn solve_exact(p: &Problem, opts: &ExactOptions) -> Result<ExactSolution> {
    let n_vars = p.cost.iter().filter(|c| c.is_finite()).count();
    if n_vars > MAX_EXACT_VARIABLES {
        return Err(PlannerError::Solver(format!(
            "{n_vars} variables exceed the exact solver's limit of {MAX_EXACT_VARIABLES}"
        )));
    }
    let m = p.constraints.len();
    let mut vars = ProblemVariables::new();
    let mut x: Vec<Vec<(usize, Variable)>> = Vec::with_capacity(p.n);
    let mut objective = Expression::with_capacity(n_vars);
    for i in 0..p.n {
        let mut row = Vec::new();
        for k in 0..p.slots {
            let c = p.cost(i, k);
            if c.is_finite() {
                let v = if opts.relax {
                    vars.add(variable().min(0.0).max(1.0))
                } else {
                    vars.add(variable().binary())
                };
                objective.add_mul(c, v);
                row.push((k, v));
            }
        }
        x.push(row);
    }
    let mut model = vars
        .minimise(objective)
        .using(coin_cbc)
        .with_time_limit(opts.time_limit_s.max(1.0))
        .with_mip_gap(opts.mip_gap)
        .map_err(|e| PlannerError::Solver(format!("mip gap {}: {e}", opts.mip_gap)))?;
    model.set_parameter("log", "0");
    for row in &x {
        let mut one = Expression::with_capacity(row.len());
        for &(_, v) in row {
            one.add_mul(1.0, v);
        }
        model.add_constraint(one.eq(1.0));
    }
    for j in 0..m {
        let mut lhs = Expression::with_capacity(n_vars);
        for (i, row) in x.iter().enumerate() {
            for &(k, v) in row {
                let u = p.usage(i, k, j);
                if u != 0.0 {
                    lhs.add_mul(u, v);
                }
            }
        }
        model.add_constraint(lhs.leq(p.constraints[j].rhs));
    }
    let solution = model.solve().map_err(|e| match e {
        ResolutionError::Infeasible => PlannerError::Solver("the instance is infeasible".into()),
        other => PlannerError::Solver(other.to_string()),
    })?;
    let proven_optimal = matches!(solution.status(), SolutionStatus::Optimal);
    let raw_bound = solution.model().best_possible_value();
    let best_bound = (raw_bound.is_finite() && raw_bound.abs() < 1e300).then_some(raw_bound);
    let solver_objective = solution.model().obj_value();
    let mut choice = vec![0u8; p.n];
    for (i, row) in x.iter().enumerate() {
        let best = row
            .iter()
            .max_by(|a, b| solution.value(a.1).total_cmp(&solution.value(b.1)));
        if let Some(&(k, _)) = best {
            choice[i] = k as u8;
        }
    }
    let objective = p.objective(&choice);
    Ok(ExactSolution {
        choice,
        objective,
        solver_objective,
        best_bound,
        proven_optimal,
    })
}
