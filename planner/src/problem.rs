//! A placement problem: every object's options with their costs, and the coupling constraints.
//!
//! # Layout (struct of arrays)
//!
//! Every object has the same `slots = K + 1` options: slot `k < K` is candidate replica set `k`
//! (shared by all objects, see [`CostModel::candidates`]), the last slot ([`Problem::stay_slot`])
//! is "keep the current set when it is not itself a feasible candidate". `cost[i·slots + k]` is
//! an `f32` (objective USD over the horizon) or `+∞` when the option is infeasible for the object.
//! Every object has at least one finite option: either its current set is a feasible candidate
//! (its slot costs no move), or the stay slot is finite (current cost + non-compliance penalty).
//!
//! Coupling constraint `j` has usage `size_gb[i] · coeff[group[i]][j][k]` for object `i` in slot
//! `k`, where the *group* of an object is its current replica set (usage of moves depends on what
//! is already there). Capacities are in GB (10^9 bytes) of the planned objects, the move budget in
//! GB copied and USD of cross-provider egress.
//!
//! The problem is an exact restatement of the cost model; the solvers ([`crate::optimize`],
//! [`crate::exact`]) read nothing else.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::cost::{CostModel, Mask, ObjectInput};
use crate::error::{Result, invalid};

/// Per-cycle move budget. `None` = unlimited.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MoveBudget {
    /// Bytes copied to new replicas.
    pub max_bytes: Option<u64>,
    /// USD of cross-provider egress for those copies.
    pub max_egress_usd: Option<f64>,
    /// Moves in the plan: the most valuable are kept, the others left for a later cycle
    /// ([`crate::Plan::deferred_moves`]). Not a constraint of the optimiser: the plan is cut after it.
    #[serde(default)]
    pub max_moves: Option<usize>,
}

/// What a coupling constraint limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ConstraintKind {
    /// GB stored on backend `backend` (index into the backend list).
    Capacity {
        /// Backend index.
        backend: usize,
    },
    /// GB copied this cycle.
    MoveBytes,
    /// USD of copy egress this cycle.
    MoveEgress,
}

/// One coupling constraint `Σ usage ≤ rhs`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Constraint {
    /// Human-readable name, e.g. `capacity:aws-std`.
    pub name: String,
    /// What is limited.
    pub kind: ConstraintKind,
    /// The limit (GB or USD).
    pub rhs: f64,
}

/// A placement problem (see the module docs).
#[derive(Clone, Debug)]
pub struct Problem {
    pub(crate) n: usize,
    pub(crate) slots: usize,
    pub(crate) candidates: Vec<Mask>,
    pub(crate) cost: Vec<f32>,
    pub(crate) stay_cost: Vec<f64>,
    pub(crate) size_gb: Vec<f64>,
    pub(crate) group: Vec<u32>,
    pub(crate) group_masks: Vec<Mask>,
    /// `[group][constraint][slot]`.
    pub(crate) coeff: Vec<f64>,
    pub(crate) constraints: Vec<Constraint>,
}

/// Objects per thread chunk when building.
const BUILD_CHUNK: usize = 16_384;

impl Problem {
    /// Builds the problem for `objects` at `now_ms` with the model's candidates, the backends'
    /// capacities and `budget`, computing costs on up to `threads` threads.
    ///
    /// Fails for an object with an empty current set or one naming a backend index beyond the
    /// model's, for a negative or non-finite egress budget, and for more than `u32::MAX` objects.
    pub fn build(
        model: &CostModel,
        objects: &[ObjectInput],
        budget: &MoveBudget,
        now_ms: i64,
        threads: usize,
    ) -> Result<Problem> {
        let mut problem = Problem::frame(
            model,
            objects.iter().map(|o| (o.current, o.size_bytes)),
            budget,
        )?;
        let n = objects.len();
        let slots = problem.slots;
        let threads = threads.max(1);
        if threads == 1 || n < 2 * BUILD_CHUNK {
            let (cost, stay) = problem.rows_mut(0, n);
            fill_rows(model, model.candidates(), objects, now_ms, cost, stay);
        } else {
            let per = n.div_ceil(threads).div_ceil(BUILD_CHUNK) * BUILD_CHUNK;
            let candidates = problem.candidates.clone();
            std::thread::scope(|s| {
                for ((objs, c), st) in objects
                    .chunks(per)
                    .zip(problem.cost.chunks_mut(per * slots))
                    .zip(problem.stay_cost.chunks_mut(per))
                {
                    let candidates = &candidates;
                    s.spawn(move || fill_rows(model, candidates, objs, now_ms, c, st));
                }
            });
        }
        Ok(problem)
    }

    /// The problem's frame for objects given as `(current replica set, size in bytes)`: constraints, groups and
    /// sizes, with every cost infinite until [`fill_rows`] on [`Problem::rows_mut`]
    /// fills the objects' rows from their [`ObjectInput`]s, which must have the same current sets and sizes.
    /// So a planning cycle can compute its inputs a chunk at a time and never hold them all.
    ///
    /// Fails for an empty current set or one naming a backend index beyond the model's, for a negative or
    /// non-finite egress budget, and for more than `u32::MAX` objects.
    pub fn frame(
        model: &CostModel,
        objects: impl ExactSizeIterator<Item = (Mask, u64)>,
        budget: &MoveBudget,
    ) -> Result<Problem> {
        let nb = model.backends().len();
        let n = objects.len();
        if u32::try_from(n).is_err() {
            return Err(invalid("more than u32::MAX objects"));
        }
        let full: Mask = if nb >= 16 {
            Mask::MAX
        } else {
            ((1u32 << nb) - 1) as Mask
        };
        if let Some(e) = budget.max_egress_usd
            && !(e.is_finite() && e >= 0.0)
        {
            return Err(invalid(format!("egress budget must be >= 0, got {e}")));
        }

        let candidates = model.candidates().to_vec();
        let k = candidates.len();
        let slots = k + 1;

        // Groups: distinct current sets.
        let mut group_of: HashMap<Mask, u32> = HashMap::new();
        let mut group_masks = Vec::new();
        let mut group = Vec::with_capacity(n);
        let mut size_gb = Vec::with_capacity(n);
        for (i, (current, size)) in objects.enumerate() {
            if current == 0 || current & !full != 0 {
                return Err(invalid(format!(
                    "object {i}: current replica set {current:#b} is empty or names unknown backends"
                )));
            }
            group.push(*group_of.entry(current).or_insert_with(|| {
                group_masks.push(current);
                (group_masks.len() - 1) as u32
            }));
            size_gb.push(size as f64 / 1e9);
        }

        let mut constraints = Vec::new();
        for (b, spec) in model.backends().iter().enumerate() {
            if let Some(cap) = spec.capacity_bytes {
                constraints.push(Constraint {
                    name: format!("capacity:{}", spec.name),
                    kind: ConstraintKind::Capacity { backend: b },
                    rhs: cap as f64 / 1e9,
                });
            }
        }
        if let Some(bytes) = budget.max_bytes {
            constraints.push(Constraint {
                name: "move_budget:bytes".into(),
                kind: ConstraintKind::MoveBytes,
                rhs: bytes as f64 / 1e9,
            });
        }
        if let Some(usd) = budget.max_egress_usd {
            constraints.push(Constraint {
                name: "move_budget:egress_usd".into(),
                kind: ConstraintKind::MoveEgress,
                rhs: usd,
            });
        }
        let m = constraints.len();
        let mut coeff = vec![0.0f64; group_masks.len() * m * slots];
        for (g, &cur) in group_masks.iter().enumerate() {
            for (j, c) in constraints.iter().enumerate() {
                for slot in 0..slots {
                    let target = if slot < k { candidates[slot] } else { cur };
                    coeff[(g * m + j) * slots + slot] = match c.kind {
                        ConstraintKind::Capacity { backend } => {
                            if target & (1 << backend) != 0 {
                                1.0
                            } else {
                                0.0
                            }
                        }
                        ConstraintKind::MoveBytes => f64::from((target & !cur).count_ones()),
                        ConstraintKind::MoveEgress => model.move_egress_per_gb(cur, target),
                    };
                }
            }
        }

        Ok(Problem {
            n,
            slots,
            candidates,
            cost: vec![f32::INFINITY; n * slots],
            stay_cost: vec![0.0f64; n],
            size_gb,
            group,
            group_masks,
            coeff,
            constraints,
        })
    }

    /// The cost and stay-cost rows of objects `start..start + len`, to fill with [`fill_rows`] (for callers
    /// that fill disjoint ranges on several threads: split these slices). Panics if out of bounds.
    pub fn rows_mut(&mut self, start: usize, len: usize) -> (&mut [f32], &mut [f64]) {
        let slots = self.slots;
        (
            &mut self.cost[start * slots..(start + len) * slots],
            &mut self.stay_cost[start..start + len],
        )
    }

    /// Number of objects.
    pub fn n_objects(&self) -> usize {
        self.n
    }

    /// Options per object (candidates + the stay slot).
    pub fn n_slots(&self) -> usize {
        self.slots
    }

    /// Index of the "keep the non-compliant current set" slot.
    pub fn stay_slot(&self) -> usize {
        self.slots - 1
    }

    /// The coupling constraints.
    pub fn constraints(&self) -> &[Constraint] {
        &self.constraints
    }

    /// Objective cost of object `i` in `slot` (`+∞` if infeasible or out of range).
    pub fn cost(&self, i: usize, slot: usize) -> f64 {
        if i >= self.n || slot >= self.slots {
            return f64::INFINITY;
        }
        f64::from(self.cost[i * self.slots + slot])
    }

    /// Cost of leaving object `i` where it is, without any non-compliance penalty.
    pub fn stay_cost(&self, i: usize) -> f64 {
        self.stay_cost.get(i).copied().unwrap_or(f64::INFINITY)
    }

    /// Size of object `i` in GB.
    pub fn size_gb(&self, i: usize) -> f64 {
        self.size_gb.get(i).copied().unwrap_or(0.0)
    }

    /// Current replica set of object `i` (0 if out of range).
    pub fn current_mask(&self, i: usize) -> Mask {
        self.group
            .get(i)
            .map_or(0, |&g| self.group_masks[g as usize])
    }

    /// The replica set of object `i` in `slot`.
    pub fn slot_mask(&self, i: usize, slot: usize) -> Mask {
        if slot < self.candidates.len() {
            self.candidates[slot]
        } else {
            self.current_mask(i)
        }
    }

    /// The slot that keeps object `i` where it is: its candidate if the current set is a
    /// feasible candidate, the stay slot otherwise.
    pub fn current_slot(&self, i: usize) -> usize {
        let cur = self.current_mask(i);
        match self.candidates.iter().position(|&c| c == cur) {
            Some(k) if self.cost(i, k).is_finite() => k,
            _ => self.stay_slot(),
        }
    }

    /// Usage of constraint `j` by object `i` in `slot`.
    pub fn usage(&self, i: usize, slot: usize, j: usize) -> f64 {
        let m = self.constraints.len();
        if i >= self.n || slot >= self.slots || j >= m {
            return 0.0;
        }
        let g = self.group[i] as usize;
        self.size_gb[i] * self.coeff[(g * m + j) * self.slots + slot]
    }

    /// Objective value of an assignment (`choice[i]` = slot of object `i`); `+∞` if any choice is
    /// infeasible or the lengths differ.
    pub fn objective(&self, choice: &[u8]) -> f64 {
        if choice.len() != self.n {
            return f64::INFINITY;
        }
        choice
            .iter()
            .enumerate()
            .map(|(i, &k)| self.cost(i, k as usize))
            .sum()
    }

    /// Usage of every constraint under an assignment.
    pub fn usages(&self, choice: &[u8]) -> Vec<f64> {
        let m = self.constraints.len();
        let mut u = vec![0.0; m];
        for (i, &k) in choice.iter().enumerate().take(self.n) {
            for (j, uj) in u.iter_mut().enumerate() {
                *uj += self.usage(i, k as usize, j);
            }
        }
        u
    }
}

/// Fills one row per object of `objects` into `cost` (`candidates.len() + 1` slots each) and `stay` (see the
/// module docs): each candidate's cost when feasible, else `+∞`; the stay slot's cost plus the non-compliance
/// penalty when the current set is not itself feasible, else `+∞`. `candidates` are `model`'s.
pub fn fill_rows(
    model: &CostModel,
    candidates: &[Mask],
    objects: &[ObjectInput],
    now_ms: i64,
    cost: &mut [f32],
    stay: &mut [f64],
) {
    let k = candidates.len();
    let slots = k + 1;
    let penalty = model.config().noncompliance_penalty;
    let mut targets = candidates.to_vec();
    targets.push(0);
    let mut scratch = vec![0.0f64; slots];
    for (i, o) in objects.iter().enumerate() {
        targets[k] = o.current;
        model.fill_costs(o, &targets, now_ms, &mut scratch);
        let row = &mut cost[i * slots..(i + 1) * slots];
        for slot in 0..k {
            row[slot] = if model.is_feasible(o, candidates[slot]) {
                scratch[slot] as f32
            } else {
                f32::INFINITY
            };
        }
        row[k] = if model.is_feasible(o, o.current) {
            f32::INFINITY
        } else {
            (scratch[k] + penalty) as f32
        };
        stay[i] = scratch[k];
    }
}
