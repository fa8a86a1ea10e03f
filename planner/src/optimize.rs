//! The placement optimiser: Lagrangian relaxation of the coupling constraints, exact per-object
//! enumeration, and a greedy repair — with a lower bound for every plan.
//!
//! # Method
//!
//! The problem ([`Problem`]) is `min Σ_i cost[i][k_i]` over one slot `k_i` per object, subject to
//! a few coupling constraints `Σ_i usage_j(i, k_i) ≤ rhs_j` (backend capacities, the move budget
//! in bytes and in egress dollars). Pricing them with multipliers `μ ≥ 0` separates the objects:
//!
//! ```text
//! L(μ) = Σ_i min_k ( cost[i][k] + Σ_j μ_j · usage_j(i, k) ) − Σ_j μ_j · rhs_j
//! ```
//!
//! and by weak duality `L(μ)` is a **lower bound** on the optimum for every `μ ≥ 0`. Each
//! evaluation is one pass over the objects (struct-of-arrays, `K + 1` precomputed `f32` costs per
//! object, `usage = size · coeff[group][j][k]` so `Σ_j μ_j·coeff` is a tiny per-group table
//! refreshed once per step — no allocation and no per-object work beyond `K + 1` fused
//! multiply-adds), split over `threads` scoped threads.
//!
//! `L` is maximised by **exact coordinate ascent**: with all other multipliers fixed, every
//! object's best value is a concave piecewise-linear function of `μ_j`, and the total usage
//! `U_j(μ_j)` is a non-increasing step function. One pass collects every object's breakpoints
//! (where it switches to an option using less of `j`, and by how much), and a weighted
//! quickselect finds the smallest `μ_j` with `U_j(μ_j) ≤ rhs_j` (or 0 if already satisfied) —
//! the exact maximiser of `L` along that coordinate. Sweeps repeat until a sweep improves `L` by
//! less than `rel_tol`. (With one constraint this is exact bisection-free dual optimisation; with
//! several it is Gauss–Seidel on the market-clearing conditions.)
//!
//! **Primal recovery**: every object takes its best option at the best `μ` found; violated
//! constraints are then repaired greedily by the cheapest switches per unit of freed resource
//! (regret, priced with the other constraints' multipliers), never pushing another constraint
//! over its limit; finally spare capacity is refilled with strictly cost-reducing switches that
//! fit. The result is feasible whenever the repair succeeds (reported otherwise), and
//! `gap = (objective − lower_bound) / lower_bound` is reported for every solution.
//!
//! # Contracts
//!
//! * Deterministic: the same problem and config give the same solution, whatever the thread
//!   count (per-thread partial sums are combined in a fixed order; ties pick the lowest slot).
//! * `lower_bound ≤ optimum`; `objective` is the exact cost of the returned assignment;
//!   `lower_bound ≤ objective` for feasible solutions.
//! * Never panics on any [`Problem`] (every object always has a finite option).

use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::problem::Problem;

/// Solver settings.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SolverConfig {
    /// Maximum coordinate-ascent sweeps (each updates every active multiplier once). Default 60.
    pub max_sweeps: usize,
    /// Stop when a sweep improves the bound by less than `rel_tol · |bound|`. Default 1e-9.
    pub rel_tol: f64,
    /// Threads for the passes over objects (1 = no threads). Default 2.
    pub threads: usize,
    /// Rounds of repair over violated constraints. Default 8.
    pub repair_rounds: usize,
}

impl Default for SolverConfig {
    fn default() -> Self {
        SolverConfig {
            max_sweeps: 60,
            rel_tol: 1e-9,
            threads: 2,
            repair_rounds: 8,
        }
    }
}

/// The optimiser's answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Solution {
    /// Chosen slot per object.
    pub choice: Vec<u8>,
    /// Objective of `choice` (USD over the horizon, including penalties).
    pub objective: f64,
    /// The best Lagrangian lower bound found.
    pub lower_bound: f64,
    /// `(objective − lower_bound) / |lower_bound|` (0 when both are 0).
    pub gap: f64,
    /// Usage of every constraint under `choice` (same order as [`Problem::constraints`]).
    pub usage: Vec<f64>,
    /// The multipliers that gave `lower_bound`.
    pub multipliers: Vec<f64>,
    /// Whether every constraint holds.
    pub feasible: bool,
    /// One message per violated constraint.
    pub violations: Vec<String>,
    /// Coordinate-ascent sweeps run.
    pub sweeps: usize,
    /// Full passes over the objects (evaluations + coordinate updates).
    pub passes: usize,
}

/// Relative slack allowed when checking a constraint (floating-point sums of a million terms).
const FEAS_TOL: f64 = 1e-9;

fn within(usage: f64, rhs: f64) -> bool {
    usage <= rhs + FEAS_TOL * rhs.abs().max(1.0)
}

struct Solver<'a> {
    p: &'a Problem,
    m: usize,
    s: usize,
    g: usize,
    threads: usize,
    /// `coeff` re-laid out as `[constraint][group][slot]`.
    cj: Vec<f64>,
    passes: usize,
    breaks: Vec<(f64, f64)>,
    thread_breaks: Vec<Vec<(f64, f64)>>,
}

/// Splits `0..n` into `parts` contiguous ranges (some may be empty).
fn ranges(n: usize, parts: usize) -> Vec<Range<usize>> {
    let per = n.div_ceil(parts.max(1)).max(1);
    (0..parts.max(1))
        .map(|t| (t * per).min(n)..((t + 1) * per).min(n))
        .collect()
}

/// Objects below which passes run on the calling thread.
const PAR_MIN: usize = 50_000;

impl<'a> Solver<'a> {
    fn new(p: &'a Problem, threads: usize) -> Solver<'a> {
        let m = p.constraints.len();
        let s = p.slots;
        let g = p.group_masks.len();
        let mut cj = vec![0.0; m * g * s];
        for gi in 0..g {
            for j in 0..m {
                for k in 0..s {
                    cj[(j * g + gi) * s + k] = p.coeff[(gi * m + j) * s + k];
                }
            }
        }
        let threads = if p.n < PAR_MIN { 1 } else { threads.max(1) };
        Solver {
            p,
            m,
            s,
            g,
            threads,
            cj,
            passes: 0,
            breaks: Vec::new(),
            thread_breaks: vec![Vec::new(); threads],
        }
    }

    /// `W[g][k] = Σ_j μ_j coeff[g][j][k]`, skipping constraint `skip`.
    fn weights(&self, mu: &[f64], skip: Option<usize>, w: &mut [f64]) {
        w.fill(0.0);
        for (j, &mj) in mu.iter().enumerate() {
            if Some(j) == skip || mj == 0.0 {
                continue;
            }
            let row = &self.cj[j * self.g * self.s..(j + 1) * self.g * self.s];
            for (wk, &c) in w.iter_mut().zip(row) {
                *wk += mj * c;
            }
        }
    }

    /// One pass: `Σ_i min_k (cost + size·W)`, and per (group, slot) the total size choosing it.
    /// Writes the argmin into `choice` when given.
    fn evaluate(&mut self, w: &[f64], choice: Option<&mut [u8]>) -> (f64, Vec<f64>) {
        self.passes += 1;
        let p = self.p;
        let (s, gs) = (self.s, self.g * self.s);
        let work = |r: Range<usize>, out: Option<&mut [u8]>| -> (f64, Vec<f64>) {
            let mut acc = vec![0.0; gs];
            let mut sum = 0.0;
            let mut out = out;
            for (local, i) in r.enumerate() {
                let g = p.group[i] as usize;
                let size = p.size_gb[i];
                let wr = &w[g * s..(g + 1) * s];
                let cr = &p.cost[i * s..(i + 1) * s];
                let mut best = f64::INFINITY;
                let mut bk = 0usize;
                for k in 0..s {
                    let v = f64::from(cr[k]) + size * wr[k];
                    if v < best {
                        best = v;
                        bk = k;
                    }
                }
                sum += best;
                acc[g * s + bk] += size;
                if let Some(o) = out.as_deref_mut() {
                    o[local] = bk as u8;
                }
            }
            (sum, acc)
        };
        let parts = ranges(p.n, self.threads);
        let results: Vec<(f64, Vec<f64>)> = if self.threads == 1 {
            vec![work(0..p.n, choice)]
        } else {
            std::thread::scope(|sc| {
                let mut handles = Vec::new();
                let mut rest = choice;
                for r in parts {
                    let mine = rest.take().map(|c| {
                        let (a, b) = c.split_at_mut(r.len());
                        rest = Some(b);
                        a
                    });
                    let work = &work;
                    handles.push(sc.spawn(move || work(r, mine)));
                }
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                    .collect()
            })
        };
        let mut sum = 0.0;
        let mut acc = vec![0.0; gs];
        for (ps, pa) in results {
            sum += ps;
            for (a, b) in acc.iter_mut().zip(pa) {
                *a += b;
            }
        }
        (sum, acc)
    }

    /// Usage per constraint from the per-(group, slot) size totals.
    fn usage_from_acc(&self, acc: &[f64]) -> Vec<f64> {
        let gs = self.g * self.s;
        (0..self.m)
            .map(|j| {
                self.cj[j * gs..(j + 1) * gs]
                    .iter()
                    .zip(acc)
                    .map(|(c, a)| c * a)
                    .sum()
            })
            .collect()
    }

    /// Exact maximisation of `L` along `μ_j` (others fixed, `w_minus` = weights without `j`).
    /// Returns the new `μ_j` and whether `rhs_j` is reachable at all.
    fn coordinate(&mut self, j: usize, w_minus: &[f64]) -> (f64, bool) {
        self.passes += 1;
        let p = self.p;
        let (s, gs) = (self.s, self.g * self.s);
        let cj = &self.cj[j * gs..(j + 1) * gs];
        let work = |r: Range<usize>, buf: &mut Vec<(f64, f64)>| -> f64 {
            buf.clear();
            let mut u0 = 0.0;
            for i in r {
                let g = p.group[i] as usize;
                let size = p.size_gb[i];
                if size <= 0.0 {
                    continue;
                }
                let wr = &w_minus[g * s..(g + 1) * s];
                let cr = &p.cost[i * s..(i + 1) * s];
                let br = &cj[g * s..(g + 1) * s];
                let (mut ca, mut cb) = (f64::INFINITY, f64::INFINITY);
                for k in 0..s {
                    let a = f64::from(cr[k]) + size * wr[k];
                    let b = size * br[k];
                    if a < ca || (a == ca && b < cb) {
                        ca = a;
                        cb = b;
                    }
                }
                if !ca.is_finite() {
                    continue;
                }
                u0 += cb;
                let mut mu = 0.0f64;
                while cb > 0.0 {
                    let (mut nmu, mut na, mut nb) = (f64::INFINITY, 0.0, 0.0);
                    for k in 0..s {
                        let b = size * br[k];
                        if b >= cb {
                            continue;
                        }
                        let a = f64::from(cr[k]) + size * wr[k];
                        if !a.is_finite() {
                            continue;
                        }
                        let x = (a - ca) / (cb - b);
                        if x < nmu || (x == nmu && b < nb) {
                            nmu = x;
                            na = a;
                            nb = b;
                        }
                    }
                    if !nmu.is_finite() {
                        break;
                    }
                    mu = nmu.max(mu);
                    buf.push((mu, cb - nb));
                    ca = na;
                    cb = nb;
                }
            }
            u0
        };
        let parts = ranges(p.n, self.threads);
        let mut bufs = std::mem::take(&mut self.thread_breaks);
        bufs.resize_with(parts.len(), Vec::new);
        let u0: f64 = if parts.len() == 1 {
            work(0..p.n, &mut bufs[0])
        } else {
            std::thread::scope(|sc| {
                let handles: Vec<_> = parts
                    .into_iter()
                    .zip(bufs.iter_mut())
                    .map(|(r, buf)| {
                        let work = &work;
                        sc.spawn(move || work(r, buf))
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                    .sum()
            })
        };
        self.breaks.clear();
        for b in &bufs {
            self.breaks.extend_from_slice(b);
        }
        self.thread_breaks = bufs;
        let need = u0 - self.p.constraints[j].rhs;
        if need <= 0.0 {
            return (0.0, true);
        }
        match weighted_select(&mut self.breaks, need) {
            Some(mu) => (mu, true),
            None => {
                let max = self.breaks.iter().map(|b| b.0).fold(0.0, f64::max);
                (max, false)
            }
        }
    }
}

/// The smallest `μ` such that the drops of all breakpoints at `≤ μ` sum to at least `need`
/// (`None` if all of them together do not). Expected linear time (quickselect on `μ`).
fn weighted_select(buf: &mut [(f64, f64)], need: f64) -> Option<f64> {
    let total: f64 = buf.iter().map(|b| b.1).sum();
    if total < need * (1.0 - 1e-12) {
        return None;
    }
    let (mut lo, mut hi) = (0usize, buf.len());
    let mut need = need;
    let cmp = |a: &(f64, f64), b: &(f64, f64)| a.0.total_cmp(&b.0);
    while hi - lo > 32 {
        let mid = lo + (hi - lo) / 2;
        buf[lo..hi].select_nth_unstable_by(mid - lo, cmp);
        let left: f64 = buf[lo..mid].iter().map(|b| b.1).sum();
        if left >= need {
            hi = mid;
        } else {
            need -= left;
            lo = mid;
        }
    }
    let tail = &mut buf[lo..hi];
    tail.sort_unstable_by(cmp);
    let mut acc = 0.0;
    for b in tail.iter() {
        acc += b.1;
        if acc >= need * (1.0 - 1e-12) {
            return Some(b.0);
        }
    }
    // Rounding: the whole range is needed.
    tail.last().map(|b| b.0)
}

/// Solves `problem` (see the module docs).
pub fn solve(problem: &Problem, cfg: &SolverConfig) -> Solution {
    let mut sv = Solver::new(problem, cfg.threads);
    let (m, gs) = (sv.m, sv.g * sv.s);
    let rhs: Vec<f64> = problem.constraints.iter().map(|c| c.rhs).collect();
    let dual = |sum: f64, mu: &[f64]| sum - mu.iter().zip(&rhs).map(|(a, b)| a * b).sum::<f64>();

    let mut mu = vec![0.0; m];
    let mut w = vec![0.0; gs];
    let mut w_minus = vec![0.0; gs];
    let (sum, acc) = sv.evaluate(&w, None);
    let mut usage = sv.usage_from_acc(&acc);
    let mut bound = dual(sum, &mu);
    let mut best = (bound, mu.clone());
    let mut reachable = vec![true; m];
    let mut sweeps = 0;
    if m > 0 {
        for _ in 0..cfg.max_sweeps {
            sweeps += 1;
            let before = bound;
            for j in 0..m {
                if mu[j] == 0.0 && within(usage[j], rhs[j]) {
                    continue;
                }
                sv.weights(&mu, Some(j), &mut w_minus);
                let (mj, ok) = sv.coordinate(j, &w_minus);
                mu[j] = mj;
                reachable[j] = ok;
            }
            sv.weights(&mu, None, &mut w);
            let (sum, acc) = sv.evaluate(&w, None);
            usage = sv.usage_from_acc(&acc);
            bound = dual(sum, &mu);
            if bound > best.0 {
                best = (bound, mu.clone());
            }
            let stale = (0..m).any(|j| mu[j] == 0.0 && !within(usage[j], rhs[j]));
            if !stale && bound - before <= cfg.rel_tol * bound.abs().max(1e-12) {
                break;
            }
        }
    }

    // Primal: best options at the best multipliers, then repair and refill.
    let (lower_bound, mu) = best;
    sv.weights(&mu, None, &mut w);
    let mut choice = vec![0u8; problem.n];
    sv.evaluate(&w, Some(&mut choice));
    let mut usage = problem.usages(&choice);
    for _ in 0..cfg.repair_rounds.max(1) {
        if (0..m).all(|j| within(usage[j], rhs[j])) {
            break;
        }
        for j in 0..m {
            if !within(usage[j], rhs[j]) {
                sv.weights(&mu, Some(j), &mut w_minus);
                repair(problem, &sv, j, &w_minus, &mut choice, &mut usage);
            }
        }
    }
    for _ in 0..2 {
        if !refill(problem, &sv, &w, &mut choice, &mut usage) {
            break;
        }
    }
    let usage = problem.usages(&choice);
    let objective = problem.objective(&choice);
    let violations: Vec<String> = (0..m)
        .filter(|&j| !within(usage[j], rhs[j]))
        .map(|j| {
            let c = &problem.constraints[j];
            format!(
                "{}: {:.6} > {:.6}{}",
                c.name,
                usage[j],
                c.rhs,
                if reachable[j] {
                    ""
                } else {
                    " (unreachable even with every object moved off)"
                }
            )
        })
        .collect();
    let gap = if objective == lower_bound {
        0.0
    } else {
        (objective - lower_bound) / lower_bound.abs().max(1e-12)
    };
    Solution {
        choice,
        objective,
        lower_bound,
        gap,
        usage,
        multipliers: mu,
        feasible: violations.is_empty(),
        violations,
        sweeps,
        passes: sv.passes,
    }
}

/// Greedy repair of constraint `j`: switch objects to options using less of `j`, cheapest
/// (reduced cost without `j`) per unit of `j` freed first, never pushing another constraint over
/// its limit. Returns whether anything changed.
fn repair(
    p: &Problem,
    sv: &Solver<'_>,
    j: usize,
    w_minus: &[f64],
    choice: &mut [u8],
    usage: &mut [f64],
) -> bool {
    let (m, s, gs) = (sv.m, sv.s, sv.g * sv.s);
    let coeff = |jj: usize, g: usize, k: usize| sv.cj[jj * gs + g * s + k];
    let rhs: Vec<f64> = p.constraints.iter().map(|c| c.rhs).collect();
    let saturated: Vec<bool> = (0..m)
        .map(|jj| jj != j && usage[jj] >= rhs[jj] * (1.0 - 1e-12))
        .collect();
    let mut list: Vec<(f64, u32, u8)> = Vec::new();
    for i in 0..p.n {
        let size = p.size_gb[i];
        if size <= 0.0 {
            continue;
        }
        let g = p.group[i] as usize;
        let c = choice[i] as usize;
        let cj_c = coeff(j, g, c);
        if cj_c <= 0.0 {
            continue;
        }
        let wr = &w_minus[g * s..(g + 1) * s];
        let cr = &p.cost[i * s..(i + 1) * s];
        let rc = f64::from(cr[c]) + size * wr[c];
        let mut best: Option<(f64, usize)> = None;
        for k in 0..s {
            let cj_k = coeff(j, g, k);
            if cj_k >= cj_c || !cr[k].is_finite() {
                continue;
            }
            if (0..m).any(|jj| saturated[jj] && coeff(jj, g, k) > coeff(jj, g, c)) {
                continue;
            }
            let ratio = (f64::from(cr[k]) + size * wr[k] - rc) / (size * (cj_c - cj_k));
            if best.is_none_or(|b| ratio < b.0) {
                best = Some((ratio, k));
            }
        }
        if let Some((ratio, k)) = best {
            list.push((ratio, i as u32, k as u8));
        }
    }
    list.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut changed = false;
    for (_, i, k) in list {
        if usage[j] <= rhs[j] {
            break;
        }
        let (i, k) = (i as usize, k as usize);
        let g = p.group[i] as usize;
        let c = choice[i] as usize;
        let size = p.size_gb[i];
        let fits = (0..m).all(|jj| {
            let d = size * (coeff(jj, g, k) - coeff(jj, g, c));
            jj == j || d <= 0.0 || usage[jj] + d <= rhs[jj]
        });
        if !fits {
            continue;
        }
        for (jj, u) in usage.iter_mut().enumerate() {
            *u += size * (coeff(jj, g, k) - coeff(jj, g, c));
        }
        choice[i] = k as u8;
        changed = true;
    }
    changed
}

/// Refill: strictly cost-reducing switches that fit in every constraint's remaining slack, in
/// increasing order of reduced-cost change at the final multipliers. Returns whether anything
/// changed.
fn refill(p: &Problem, sv: &Solver<'_>, w: &[f64], choice: &mut [u8], usage: &mut [f64]) -> bool {
    let (m, s, gs) = (sv.m, sv.s, sv.g * sv.s);
    let coeff = |jj: usize, g: usize, k: usize| sv.cj[jj * gs + g * s + k];
    let rhs: Vec<f64> = p.constraints.iter().map(|c| c.rhs).collect();
    let mut list: Vec<(f64, u32, u8)> = Vec::new();
    for i in 0..p.n {
        let g = p.group[i] as usize;
        let c = choice[i] as usize;
        let size = p.size_gb[i];
        let wr = &w[g * s..(g + 1) * s];
        let cr = &p.cost[i * s..(i + 1) * s];
        let rc = f64::from(cr[c]) + size * wr[c];
        let mut best: Option<(f64, usize)> = None;
        for k in 0..s {
            if k == c || cr[k] >= cr[c] {
                continue;
            }
            let d = f64::from(cr[k]) + size * wr[k] - rc;
            if best.is_none_or(|b| d < b.0) {
                best = Some((d, k));
            }
        }
        if let Some((d, k)) = best {
            list.push((d, i as u32, k as u8));
        }
    }
    list.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut changed = false;
    for (_, i, k) in list {
        let (i, k) = (i as usize, k as usize);
        let g = p.group[i] as usize;
        let c = choice[i] as usize;
        let size = p.size_gb[i];
        let fits = (0..m).all(|jj| {
            let d = size * (coeff(jj, g, k) - coeff(jj, g, c));
            d <= 0.0 || usage[jj] + d <= rhs[jj]
        });
        if !fits {
            continue;
        }
        for (jj, u) in usage.iter_mut().enumerate() {
            *u += size * (coeff(jj, g, k) - coeff(jj, g, c));
        }
        choice[i] = k as u8;
        changed = true;
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weighted_select_finds_the_crossing() {
        let mut v: Vec<(f64, f64)> = (0..1000).map(|i| ((999 - i) as f64, 1.0)).collect();
        assert_eq!(weighted_select(&mut v, 1.0), Some(0.0));
        assert_eq!(weighted_select(&mut v, 500.0), Some(499.0));
        assert_eq!(weighted_select(&mut v, 1000.0), Some(999.0));
        assert_eq!(weighted_select(&mut v, 1001.0), None);
        let mut w = vec![(3.0, 5.0), (1.0, 1.0), (2.0, 1.0)];
        assert_eq!(weighted_select(&mut w, 2.0), Some(2.0));
        assert_eq!(weighted_select(&mut w, 2.5), Some(3.0));
    }

    #[test]
    fn ranges_cover_everything() {
        for n in [0, 1, 5, 100] {
            for parts in [1, 2, 3] {
                let r = ranges(n, parts);
                assert_eq!(r.len(), parts);
                assert_eq!(r.iter().map(|x| x.len()).sum::<usize>(), n);
            }
        }
    }
}
