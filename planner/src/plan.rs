//! A plan: the difference between the chosen placement and today's, as move tasks.
//!
//! # Contracts
//!
//! * One [`Move`] per object whose chosen replica set differs from its current one, carrying the
//!   object's generation so the mover can compare-and-swap (`Catalog::swap_replicas`): a move
//!   planned for an older generation must be aborted, never applied.
//! * Moves are ordered by `cost_delta` ascending (largest saving first), so a mover that stops
//!   early has done the most valuable work.
//! * The plan respects the move budget: the optimiser enforces it as a constraint, and
//!   [`build_plan`] drops the least valuable moves should a best-effort solution exceed it.
//! * Costs are USD over the planning horizon. `cost_before`/`cost_after` are real costs;
//!   `objective`, `lower_bound` and `gap` are on the optimiser's objective, which adds the
//!   non-compliance penalty of objects left on a placement that breaks the rules.
//!
//! The mover (the gateway's) persists moves as catalog move tasks ([`Plan::new_moves`]) and runs
//! them through `catalog::MoveState`: `Planned → Copying → Verified → Committed →
//! SourceReleased`, or `Aborted(reason)` before `Committed`. `Move::from` is the replica list
//! exactly as the catalog recorded it, which the task's commit compares.

use catalog::NewMove;
use serde::{Deserialize, Serialize};

use crate::cost::CostModel;
use crate::error::{Result, invalid};
use crate::model::ModelKind;
use crate::optimize::Solution;
use crate::pipeline::Inventory;
use crate::problem::{ConstraintKind, Problem};

/// One object's change of replica set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Move {
    /// Bucket name.
    pub bucket: String,
    /// Object key.
    pub key: String,
    /// Generation the move applies to (compare-and-swap).
    pub generation: u64,
    /// Current replicas, exactly as the catalog recorded them.
    pub from: Vec<String>,
    /// Target replicas (fastest first).
    pub to: Vec<String>,
    /// Bytes to copy (object size × new replicas).
    pub bytes: u64,
    /// Cost after minus cost of staying, USD over the horizon (negative = saving), move costs
    /// included.
    pub cost_delta: f64,
}

/// A coupling constraint in the plan report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ConstraintReport {
    /// Name, e.g. `capacity:aws-hot`.
    pub name: String,
    /// What is limited.
    pub kind: ConstraintKind,
    /// Usage under the plan (GB or USD).
    pub usage: f64,
    /// The limit.
    pub limit: f64,
    /// Its Lagrange multiplier (USD per GB or per USD): the marginal value of more room.
    pub multiplier: f64,
}

/// A placement plan (see the module docs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Plan {
    /// The moves, largest saving first.
    pub moves: Vec<Move>,
    /// Objects planned.
    pub objects: usize,
    /// Objects left out (unknown backends, no replicas, a move in flight: [`crate::pipeline::plannable`]), for
    /// the report.
    pub skipped: usize,
    /// Cost of leaving everything where it is.
    pub cost_before: f64,
    /// Cost of the plan, move costs included.
    pub cost_after: f64,
    /// Optimiser objective of the plan.
    pub objective: f64,
    /// Lower bound on the best possible objective.
    pub lower_bound: f64,
    /// `(objective − lower_bound) / lower_bound`.
    pub gap: f64,
    /// Whether every constraint holds.
    pub feasible: bool,
    /// Violated constraints, and moves dropped to respect the budget.
    pub violations: Vec<String>,
    /// Constraint usage and multipliers.
    pub constraints: Vec<ConstraintReport>,
    /// Total bytes to copy.
    pub bytes_to_copy: u64,
    /// Total cross-provider egress of the copies, USD.
    pub egress_usd: f64,
    /// The `p_hot` model used.
    pub model_in_use: ModelKind,
    /// Time spent solving (measured by the caller; results never depend on it).
    pub solve_ms: u64,
    /// The `now_ms` the plan was computed at.
    pub planned_at_ms: i64,
    /// Moves the solution chose beyond the budget's `max_moves`, the least valuable ones, left where they are for a
    /// later cycle (`cost_after` counts them as staying).
    #[serde(default)]
    pub deferred_moves: usize,
    /// Where new objects should be written: from what size into the self-tiering backend
    /// ([`crate::initial`]); empty without one.
    #[serde(default)]
    pub new_objects: crate::initial::NewObjectAdvice,
}

impl Move {
    /// The catalog move task to create for this move.
    pub fn to_new_move(&self, plan_id: Option<String>) -> NewMove {
        NewMove {
            bucket: self.bucket.clone(),
            key: self.key.clone(),
            generation: self.generation,
            from: self.from.clone(),
            to: self.to.clone(),
            bytes: self.bytes,
            plan_id,
        }
    }
}

impl Plan {
    /// Every move as a catalog move task, in plan order.
    pub fn new_moves(&self, plan_id: Option<&str>) -> Vec<NewMove> {
        self.moves
            .iter()
            .map(|m| m.to_new_move(plan_id.map(str::to_owned)))
            .collect()
    }
}

/// Turns a solution into a plan. Inventory object `index[i]` and problem row `i` must describe the same object
/// (fails when their counts disagree). Only the objects that move are copied out of the inventory, and at most
/// `max_moves` of them (the most valuable; the rest are [`Plan::deferred_moves`]).
#[allow(clippy::too_many_arguments)]
pub fn build_plan(
    inv: &Inventory,
    index: &[u32],
    problem: &Problem,
    solution: &Solution,
    model: &CostModel,
    model_in_use: ModelKind,
    now_ms: i64,
    solve_ms: u64,
    max_moves: Option<usize>,
) -> Result<Plan> {
    let n = problem.n_objects();
    if index.len() != n
        || index.iter().any(|&i| i as usize >= inv.len())
        || solution.choice.len() != n
    {
        return Err(invalid(format!(
            "plan inputs disagree: {} objects, {} indexed, {} problem rows, {} choices",
            inv.len(),
            index.len(),
            n,
            solution.choice.len()
        )));
    }
    let stay = problem.stay_slot();
    let mut cost_before = 0.0;
    let mut cost_after = 0.0;
    // Every object that moves, as (cost delta, row): compact, so a cold start that moves millions of objects copies
    // out the names of the kept ones only.
    let mut moving: Vec<(f64, u32)> = Vec::new();
    for (i, &k) in solution.choice.iter().enumerate() {
        let k = usize::from(k);
        let before = problem.stay_cost(i);
        let current = problem.current_mask(i);
        let target = problem.slot_mask(i, k);
        let after = if k == stay || target == current {
            before
        } else {
            problem.cost(i, k)
        };
        cost_before += before;
        cost_after += after;
        if target != current {
            moving.push((after - before, i as u32));
        }
    }
    // The most valuable first (ties in scan order, which is name order), at most `max_moves` of them.
    let by_value = |a: &(f64, u32), b: &(f64, u32)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
    let mut deferred_moves = 0;
    if let Some(max) = max_moves
        && moving.len() > max
    {
        moving.select_nth_unstable_by(max, by_value);
        for &(delta, _) in &moving[max..] {
            cost_after -= delta;
        }
        deferred_moves = moving.len() - max;
        moving.truncate(max);
    }
    moving.sort_unstable_by(by_value);
    let moves = moving.into_iter().map(|(delta, i)| {
        let i = i as usize;
        let k = usize::from(solution.choice[i]);
        let current = problem.current_mask(i);
        let target = problem.slot_mask(i, k);
        let at = index[i] as usize;
        let o = inv.objects.get(at);
        let size = inv.basics[at].size_bytes;
        let new = u64::from((target & !current).count_ones());
        (
            Move {
                bucket: o.bucket.to_owned(),
                key: o.key.to_owned(),
                generation: o.generation,
                from: if model.mask_of(o.replicas) == Some(current) {
                    o.replicas.to_vec()
                } else {
                    model.names_of(current)
                },
                to: model.names_of(target),
                bytes: size.saturating_mul(new),
                cost_delta: delta,
            },
            model.move_egress_per_gb(current, target) * size as f64 / 1e9,
        )
    });

    // The budget is a hard per-cycle limit: keep moves in order while they fit.
    let mut violations = solution.violations.clone();
    let mut bytes_to_copy = 0u64;
    let mut egress_usd = 0.0;
    let mut kept = Vec::with_capacity(moves.len());
    let mut dropped = 0usize;
    for (mv, egress) in moves {
        let over_bytes = problem.constraints().iter().any(|c| {
            c.kind == ConstraintKind::MoveBytes
                && (bytes_to_copy + mv.bytes) as f64 / 1e9 > c.rhs * (1.0 + 1e-9)
        });
        let over_egress = problem.constraints().iter().any(|c| {
            c.kind == ConstraintKind::MoveEgress && egress_usd + egress > c.rhs * (1.0 + 1e-9)
        });
        if over_bytes || over_egress {
            dropped += 1;
            cost_after += -mv.cost_delta;
            continue;
        }
        bytes_to_copy += mv.bytes;
        egress_usd += egress;
        kept.push(mv);
    }
    if dropped > 0 {
        violations.push(format!(
            "{dropped} moves dropped to stay within the move budget"
        ));
    }
    let constraints = problem
        .constraints()
        .iter()
        .enumerate()
        .map(|(j, c)| ConstraintReport {
            name: c.name.clone(),
            kind: c.kind,
            usage: solution.usage.get(j).copied().unwrap_or(0.0),
            limit: c.rhs,
            multiplier: solution.multipliers.get(j).copied().unwrap_or(0.0),
        })
        .collect();
    Ok(Plan {
        moves: kept,
        objects: n,
        skipped: 0,
        cost_before,
        cost_after,
        objective: solution.objective,
        lower_bound: solution.lower_bound,
        gap: solution.gap,
        feasible: solution.feasible && dropped == 0,
        violations,
        constraints,
        bytes_to_copy,
        egress_usd,
        model_in_use,
        solve_ms,
        planned_at_ms: now_ms,
        deferred_moves,
        new_objects: Default::default(),
    })
}
