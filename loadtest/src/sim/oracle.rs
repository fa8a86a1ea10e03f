//! The offline oracle: the cheapest placement of every object, knowing
//! its whole future.
//!
//! Per object lifetime (write or first sight → delete, overwrite or end of
//! trace) a dynamic program runs over its decision points: the creation,
//! every access (GET or HEAD, after it is served) and every daily tick in
//! between. Those are exactly the instants at which the online policies
//! may move objects, so every schedule they can produce under the plain
//! storage-class prices is in the oracle's search space, and its cost is a
//! lower bound on theirs. (Intelligent-Tiering is billed by a different
//! model; against it the bound is observed, not proven.)
//!
//! States are tiers. Storage accrues per byte-ms in the state's tier; a
//! GET pays the tier's GET price and retrieval per byte; a HEAD the GET
//! price, and a LIST the list price, unless the model's `catalog_metadata`
//! says a catalog answers them (the simulator's oracle prices placements
//! behind Strata's gateway, like `strata`); a transition the destination's PUT price plus the early-exit
//! fee of the tier left (`storage × (min_storage − time spent)` when
//! positive) and, since behind the gateway a move is a copy
//! ([`PriceModel::copy_moves`]), the tier left's GET and retrieval fee for
//! the object; a deletion or overwrite the early-exit fee too. An object
//! still alive at the end of the trace pays no early-exit fee, as for
//! every policy.
//!
//! Minimum durations make the cost depend on when a tier was entered, so
//! each tier keeps a small Pareto set of labels (cost, entry time): a
//! label is dropped only when another one in the same tier is at least as
//! cheap even after paying its largest possible extra early-exit fee, so
//! the result is exact. The best final label is traced back to a schedule,
//! which is replayed to split the cost into components, count reads
//! within SLA and spread the cost over time for the chart.
//!
//! Accesses are buffered per object until its lifetime ends (16 bytes
//! each); the DP scratch space is reused across objects.

use super::objects::ObjId;
use super::prices::PriceModel;
use super::report::Cost;
use super::time::{DAY_MS, HOUR_MS};

const NO_NODE: u32 = u32::MAX;
/// Marks a HEAD in [`Access::bytes`].
const HEAD: u64 = u64::MAX;

#[derive(Clone, Copy)]
struct Access {
    t: u64,
    bytes: u64,
}

#[derive(Default)]
struct Life {
    start: u64,
    size: u64,
    preexisting: bool,
    active: bool,
    accesses: Vec<Access>,
}

#[derive(Clone, Copy)]
struct Label {
    tier: u8,
    entry: u64,
    cost: f64,
    node: u32,
}

#[derive(Clone, Copy)]
struct Node {
    tier: u8,
    step: u32,
    entry: u64,
    parent: u32,
}

/// Decision points of a lifetime, in order: `(step, time, access)`; step 0
/// is the creation, ticks at multiples of a day in `(start, end]` come
/// before accesses of the same instant.
fn for_each_step(
    start: u64,
    end: u64,
    accesses: &[Access],
    mut f: impl FnMut(u32, u64, Option<&Access>),
) {
    f(0, start, None);
    let mut step = 1u32;
    let mut tick = (start / DAY_MS + 1) * DAY_MS;
    for a in accesses {
        while tick <= a.t {
            f(step, tick, None);
            step += 1;
            tick += DAY_MS;
        }
        f(step, a.t, Some(a));
        step += 1;
    }
    while tick <= end {
        f(step, tick, None);
        step += 1;
        tick += DAY_MS;
    }
}

/// Per-hour cost increments for the chart: lumps plus piecewise-constant
/// storage rates (difference array), so a stay of any length costs O(1).
#[derive(Default)]
pub(crate) struct Buckets {
    lump: Vec<f64>,
    rate_diff: Vec<f64>,
}

impl Buckets {
    fn grow(&mut self, bucket: usize) {
        if self.lump.len() <= bucket + 1 {
            self.lump.resize(bucket + 2, 0.0);
            self.rate_diff.resize(bucket + 2, 0.0);
        }
    }

    fn lump(&mut self, t: u64, cost: f64) {
        let b = (t / HOUR_MS) as usize;
        self.grow(b);
        self.lump[b] += cost;
    }

    /// Cost `rate` per ms over `[a, b)`.
    fn rate(&mut self, a: u64, b: u64, rate: f64) {
        if b <= a || rate == 0.0 {
            return;
        }
        let ka = a.div_ceil(HOUR_MS);
        let kb = b / HOUR_MS;
        if ka > kb {
            self.lump(a, rate * (b - a) as f64);
            return;
        }
        if ka * HOUR_MS > a {
            self.lump(a, rate * (ka * HOUR_MS - a) as f64);
        }
        self.grow(kb as usize);
        self.rate_diff[ka as usize] += rate;
        self.rate_diff[kb as usize] -= rate;
        if b > kb * HOUR_MS {
            self.lump(kb * HOUR_MS, rate * (b - kb * HOUR_MS) as f64);
        }
    }

    /// Cumulative cost before each sample time (sorted); the last sample
    /// is the end of the trace and includes everything.
    pub(crate) fn cumulative_at(&self, times: &[u64]) -> Vec<f64> {
        let mut out = Vec::with_capacity(times.len());
        let (mut acc, mut rate) = (0.0, 0.0);
        let mut b = 0usize;
        for &t in times {
            // Whole buckets before t.
            while ((b as u64) + 1) * HOUR_MS <= t {
                rate += self.rate_diff.get(b).copied().unwrap_or(0.0);
                acc += self.lump.get(b).copied().unwrap_or(0.0) + rate * HOUR_MS as f64;
                b += 1;
            }
            // Samples fall on hour boundaries except the last (the end of
            // the trace), by which time every cost has been incurred.
            let partial = if (b as u64) * HOUR_MS < t {
                let r = rate + self.rate_diff.get(b).copied().unwrap_or(0.0);
                self.lump.get(b).copied().unwrap_or(0.0) + r * (t - b as u64 * HOUR_MS) as f64
            } else {
                0.0
            };
            out.push(acc + partial);
        }
        if let Some(last) = out.last_mut() {
            let all: f64 = self.lump.iter().sum::<f64>() + self.storage_total();
            *last = all;
        }
        out
    }

    /// Storage cost over every bucket (the rate integrated over time).
    fn storage_total(&self) -> f64 {
        let mut rate = 0.0;
        let mut total = 0.0;
        for d in &self.rate_diff {
            rate += d;
            total += rate * HOUR_MS as f64;
        }
        total
    }
}

/// The oracle; fed by the simulator with every lifetime event.
pub struct Oracle {
    model: PriceModel,
    sla_ok: Vec<bool>,
    lives: Vec<Life>,
    pub(crate) cost: Cost,
    pub(crate) reads: u64,
    pub(crate) reads_ok: u64,
    /// Transitions in the chosen schedules.
    pub(crate) moves: u64,
    pub(crate) buckets: Buckets,
    /// Largest label set seen in one DP step (a size diagnostic).
    pub(crate) max_labels: usize,
    labels: Vec<Label>,
    cands: Vec<Label>,
    nodes: Vec<Node>,
    path: Vec<Node>,
}

impl Oracle {
    /// An oracle over `model`'s tiers (the plain storage classes).
    pub fn new(model: PriceModel, sla_ms: f64) -> Oracle {
        let sla_ok = model.tiers.iter().map(|t| t.latency_ms <= sla_ms).collect();
        Oracle {
            model,
            sla_ok,
            lives: Vec::new(),
            cost: Cost::default(),
            reads: 0,
            reads_ok: 0,
            moves: 0,
            buckets: Buckets::default(),
            max_labels: 0,
            labels: Vec::new(),
            cands: Vec::new(),
            nodes: Vec::new(),
            path: Vec::new(),
        }
    }

    /// A lifetime begins: written at `t` (PUT billed) or first seen
    /// (`preexisting`: starts in tier 0, no PUT).
    pub fn start(&mut self, obj: ObjId, t: u64, size: u64, preexisting: bool) {
        let i = obj as usize;
        if self.lives.len() <= i {
            self.lives.resize_with(i + 1, Life::default);
        }
        let life = &mut self.lives[i];
        life.start = t;
        life.size = size;
        life.preexisting = preexisting;
        life.active = true;
        life.accesses.clear();
    }

    /// A GET of `bytes` (`Some`) or a HEAD (`None`) at `t`.
    pub fn access(&mut self, obj: ObjId, t: u64, bytes: Option<u64>) {
        if let Some(life) = self.lives.get_mut(obj as usize).filter(|l| l.active) {
            life.accesses.push(Access {
                t,
                bytes: bytes.map_or(HEAD, |b| b.min(HEAD - 1)),
            });
        }
    }

    /// A LIST at `t` (billed like every policy's, nothing when the catalog answers it).
    pub fn list(&mut self, t: u64) {
        if !self.model.catalog_metadata {
            self.cost.request += self.model.list;
            self.buckets.lump(t, self.model.list);
        }
    }

    /// The lifetime ends at `t`: deleted/overwritten (`deleted`) or the
    /// trace is over. Solves and bills it.
    pub fn end(&mut self, obj: ObjId, t: u64, deleted: bool) {
        let Some(life) = self.lives.get_mut(obj as usize).filter(|l| l.active) else {
            return;
        };
        life.active = false;
        let mut accesses = std::mem::take(&mut life.accesses);
        let (start, size, pre) = (life.start, life.size, life.preexisting);
        self.solve(start, size, pre, &accesses, t, deleted);
        accesses.clear();
        self.lives[obj as usize].accesses = accesses;
    }

    /// Ends every lifetime still open at `t` (end of trace).
    pub fn finish(&mut self, t: u64) {
        for i in 0..self.lives.len() {
            if self.lives[i].active {
                self.end(i as ObjId, t, false);
            }
        }
    }

    fn new_node(&mut self, tier: u8, step: u32, entry: u64, parent: u32) -> u32 {
        self.nodes.push(Node {
            tier,
            step,
            entry,
            parent,
        });
        (self.nodes.len() - 1) as u32
    }

    /// Adds a label unless another label of its tier dominates it, and
    /// drops the labels it dominates. Returns its index if kept.
    fn insert(&mut self, cand: Label, now: u64, size: u64) -> Option<usize> {
        let t = &self.model.tiers[cand.tier as usize];
        let s = t.storage_per_byte_ms * self.model.billable(cand.tier as usize, size) as f64;
        let min = t.min_storage_ms;
        let remaining = |l: &Label| (l.entry + min).saturating_sub(now) as f64;
        let rc = remaining(&cand);
        for l in self.labels.iter().filter(|l| l.tier == cand.tier) {
            if l.cost + s * (remaining(l) - rc).max(0.0) <= cand.cost {
                return None;
            }
        }
        self.labels.retain(|l| {
            l.tier != cand.tier || cand.cost + s * (rc - remaining(l)).max(0.0) > l.cost
        });
        self.labels.push(cand);
        Some(self.labels.len() - 1)
    }

    /// Transitions after the decision point `step` at `now`.
    fn decide(&mut self, step: u32, now: u64, size: u64) {
        self.cands.clear();
        for k in 0..self.model.tiers.len() {
            let mut best: Option<(f64, u32)> = None;
            for l in self.labels.iter().filter(|l| l.tier as usize != k) {
                let c = l.cost
                    + self.model.early_fee(l.tier as usize, size, l.entry, now)
                    + self.model.copy_out(l.tier as usize, size);
                if best.is_none_or(|(b, _)| c < b) {
                    best = Some((c, l.node));
                }
            }
            if let Some((c, parent)) = best {
                self.cands.push(Label {
                    tier: k as u8,
                    entry: now,
                    cost: c + self.model.tiers[k].transition_in,
                    node: parent,
                });
            }
        }
        for i in 0..self.cands.len() {
            let cand = self.cands[i];
            if let Some(pos) = self.insert(cand, now, size) {
                let node = self.new_node(cand.tier, step, now, cand.node);
                self.labels[pos].node = node;
            }
        }
        self.max_labels = self.max_labels.max(self.labels.len());
    }

    fn solve(
        &mut self,
        start: u64,
        size: u64,
        preexisting: bool,
        accesses: &[Access],
        end: u64,
        deleted: bool,
    ) {
        self.labels.clear();
        self.nodes.clear();
        if preexisting {
            let node = self.new_node(0, 0, start, NO_NODE);
            self.labels.push(Label {
                tier: 0,
                entry: start,
                cost: 0.0,
                node,
            });
        } else {
            for k in 0..self.model.tiers.len() {
                let cand = Label {
                    tier: k as u8,
                    entry: start,
                    cost: self.model.tiers[k].put,
                    node: NO_NODE,
                };
                if let Some(pos) = self.insert(cand, start, size) {
                    let node = self.new_node(k as u8, 0, start, NO_NODE);
                    self.labels[pos].node = node;
                }
            }
        }
        let mut now = start;
        let billable = |model: &PriceModel, tier: u8| model.billable(tier as usize, size) as f64;
        for_each_step(start, end, accesses, |step, t, access| {
            let dt = t.saturating_sub(now) as f64;
            now = now.max(t);
            for l in &mut self.labels {
                let tier = &self.model.tiers[l.tier as usize];
                l.cost += tier.storage_per_byte_ms * billable(&self.model, l.tier) * dt;
                if let Some(a) = access {
                    if a.bytes != HEAD || !self.model.catalog_metadata {
                        l.cost += tier.get;
                    }
                    if a.bytes != HEAD {
                        l.cost += tier.retrieval_per_byte * a.bytes as f64;
                    }
                }
            }
            if step > 0 || preexisting {
                self.decide(step, now, size);
            }
        });
        let dt = end.saturating_sub(now) as f64;
        let mut best: Option<(f64, u32)> = None;
        for l in &self.labels {
            let tier = &self.model.tiers[l.tier as usize];
            let mut c = l.cost + tier.storage_per_byte_ms * billable(&self.model, l.tier) * dt;
            if deleted {
                c += self.model.early_fee(l.tier as usize, size, l.entry, end);
            }
            if best.is_none_or(|(b, _)| c < b) {
                best = Some((c, l.node));
            }
        }
        let Some((_, mut node)) = best else {
            return;
        };
        self.path.clear();
        while node != NO_NODE {
            let n = self.nodes[node as usize];
            self.path.push(n);
            node = n.parent;
        }
        self.path.reverse();
        self.replay(start, size, preexisting, accesses, end, deleted);
    }

    /// Bills the chosen schedule (`self.path`) component by component.
    fn replay(
        &mut self,
        start: u64,
        size: u64,
        preexisting: bool,
        accesses: &[Access],
        end: u64,
        deleted: bool,
    ) {
        let path = std::mem::take(&mut self.path);
        let mut cost = Cost::default();
        if !preexisting {
            let put = self.model.tiers[path[0].tier as usize].put;
            cost.request += put;
            self.buckets.lump(start, put);
        }
        for (i, stay) in path.iter().enumerate() {
            let tier = &self.model.tiers[stay.tier as usize];
            let exit = path.get(i + 1).map_or(end, |n| n.entry);
            let rate =
                tier.storage_per_byte_ms * self.model.billable(stay.tier as usize, size) as f64;
            cost.storage += rate * exit.saturating_sub(stay.entry) as f64;
            self.buckets.rate(stay.entry, exit, rate);
            let leaving = i + 1 < path.len() || deleted;
            if leaving {
                let mut fee = self
                    .model
                    .early_fee(stay.tier as usize, size, stay.entry, exit);
                if let Some(next) = path.get(i + 1) {
                    fee += self.model.tiers[next.tier as usize].transition_in
                        + self.model.copy_out(stay.tier as usize, size);
                }
                cost.moves += fee;
                self.buckets.lump(exit, fee);
            }
        }
        let mut cur = 0usize;
        let (mut reads, mut reads_ok) = (0u64, 0u64);
        for_each_step(start, end, accesses, |step, t, access| {
            if let Some(a) = access {
                let tier = path[cur].tier as usize;
                let p = &self.model.tiers[tier];
                let get = if a.bytes != HEAD || !self.model.catalog_metadata {
                    p.get
                } else {
                    0.0
                };
                let mut c = get;
                cost.request += get;
                if a.bytes != HEAD {
                    let r = p.retrieval_per_byte * a.bytes as f64;
                    cost.retrieval += r;
                    c += r;
                    reads += 1;
                    if self.sla_ok[tier] {
                        reads_ok += 1;
                    }
                }
                self.buckets.lump(t, c);
            }
            while cur + 1 < path.len() && path[cur + 1].step == step {
                cur += 1;
            }
        });
        self.cost.add(&cost);
        self.reads += reads;
        self.reads_ok += reads_ok;
        self.moves += (path.len() - 1) as u64;
        self.path = path;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_interleave_ticks_before_same_instant_accesses() {
        let acc = [
            Access { t: 5, bytes: 1 },
            Access {
                t: DAY_MS,
                bytes: 1,
            },
            Access {
                t: DAY_MS,
                bytes: HEAD,
            },
        ];
        let mut seen = Vec::new();
        for_each_step(5, 3 * DAY_MS, &acc, |s, t, a| {
            seen.push((s, t, a.is_some()))
        });
        assert_eq!(
            seen,
            vec![
                (0, 5, false),
                (1, 5, true),
                (2, DAY_MS, false),
                (3, DAY_MS, true),
                (4, DAY_MS, true),
                (5, 2 * DAY_MS, false),
                (6, 3 * DAY_MS, false),
            ]
        );
    }

    #[test]
    fn buckets_spread_rates_exactly() {
        let mut b = Buckets::default();
        b.rate(HOUR_MS / 2, 3 * HOUR_MS + HOUR_MS / 4, 1.0);
        b.lump(10, 7.0);
        let times = [HOUR_MS, 2 * HOUR_MS, 3 * HOUR_MS, 3 * HOUR_MS + HOUR_MS / 4];
        let got = b.cumulative_at(&times);
        let h = HOUR_MS as f64;
        let want = [7.0 + h / 2.0, 7.0 + 1.5 * h, 7.0 + 2.5 * h, 7.0 + 2.75 * h];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{got:?} vs {want:?}");
        }
    }
}
