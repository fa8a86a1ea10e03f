//! The bill of one policy: placements, bytes per tier and costs, charged
//! by the same code for every policy.

use super::objects::ObjId;
use super::policy::{Placement, TierIdx};
use super::prices::PriceModel;
use super::report::Cost;

/// One policy's storage account on the simulated clock.
pub struct Account {
    model: PriceModel,
    sla_ok: Vec<bool>,
    place: Vec<Placement>,
    /// Per tier: the bytes stored, each object counted at its billable size.
    bytes: Vec<u64>,
    monitored: u64,
    clock: u64,
    pub(crate) cost: Cost,
    pub(crate) reads: u64,
    pub(crate) reads_ok: u64,
    pub(crate) moves: u64,
    pub(crate) ignored_moves: u64,
    pub(crate) timeline: Vec<f64>,
}

impl Account {
    /// An empty account billed by `model`; reads from tiers whose latency
    /// is at most `sla_ms` are within SLA.
    pub fn new(model: PriceModel, sla_ms: f64) -> Account {
        let sla_ok = model.tiers.iter().map(|t| t.latency_ms <= sla_ms).collect();
        let n = model.tiers.len();
        Account {
            model,
            sla_ok,
            place: Vec::new(),
            bytes: vec![0; n],
            monitored: 0,
            clock: 0,
            cost: Cost::default(),
            reads: 0,
            reads_ok: 0,
            moves: 0,
            ignored_moves: 0,
            timeline: Vec::new(),
        }
    }

    /// Placement of every object, indexed by id.
    pub fn placement(&self) -> &[Placement] {
        &self.place
    }

    /// Accrues storage and monitoring from the last call up to `now`.
    pub fn accrue(&mut self, now: u64) {
        let dt = now.saturating_sub(self.clock) as f64;
        if dt > 0.0 {
            let mut c = 0.0;
            for (b, t) in self.bytes.iter().zip(&self.model.tiers) {
                c += *b as f64 * t.storage_per_byte_ms;
            }
            c += self.monitored as f64 * self.model.monitoring_per_object_ms;
            self.cost.storage += c * dt;
        }
        self.clock = self.clock.max(now);
    }

    /// Records the running total (a chart sample).
    pub fn sample(&mut self) {
        self.timeline.push(self.cost.total());
    }

    /// Places a new object in `tier` (clamped to the model), billing a
    /// PUT if `put`.
    pub fn create(&mut self, obj: ObjId, size: u64, tier: TierIdx, now: u64, put: bool) {
        let tier = tier.min((self.model.tiers.len() - 1) as TierIdx);
        let i = obj as usize;
        if self.place.len() <= i {
            self.place.resize(
                i + 1,
                Placement {
                    tier: Placement::NONE,
                    entered_ms: 0,
                },
            );
        }
        self.place[i] = Placement {
            tier,
            entered_ms: now,
        };
        self.bytes[tier as usize] += self.model.billable(tier as usize, size);
        if self.model.monitored(tier as usize, size) {
            self.monitored += 1;
        }
        if put {
            self.cost.request += self.model.tiers[tier as usize].put;
        }
    }

    /// Removes an object (delete or overwrite), billing the early-exit fee.
    pub fn remove(&mut self, obj: ObjId, size: u64, now: u64) {
        let Some(p) = self.place.get_mut(obj as usize) else {
            return;
        };
        if p.tier == Placement::NONE {
            return;
        }
        let (tier, entered) = (p.tier as usize, p.entered_ms);
        p.tier = Placement::NONE;
        self.bytes[tier] -= self.model.billable(tier, size);
        if self.model.monitored(tier, size) {
            self.monitored -= 1;
        }
        self.cost.moves += self.model.early_fee(tier, size, entered, now);
    }

    /// Bills a GET of `bytes` and returns the tier that served it.
    pub fn get(&mut self, obj: ObjId, bytes: u64) -> TierIdx {
        let tier = self.place[obj as usize].tier;
        let t = &self.model.tiers[tier as usize];
        self.cost.request += t.get;
        self.cost.retrieval += t.retrieval_per_byte * bytes as f64;
        self.reads += 1;
        if self.sla_ok[tier as usize] {
            self.reads_ok += 1;
        }
        tier
    }

    /// Bills a HEAD (GET-class request, no retrieval, not a read), unless the catalog answers it.
    pub fn head(&mut self, obj: ObjId) {
        if self.model.catalog_metadata {
            return;
        }
        let tier = self.place[obj as usize].tier;
        self.cost.request += self.model.tiers[tier as usize].get;
    }

    /// Bills a LIST, unless the catalog answers it.
    pub fn list(&mut self) {
        if !self.model.catalog_metadata {
            self.cost.request += self.model.list;
        }
    }

    /// Moves an object, billing the early-exit fee of the old tier and the
    /// transition into the new one. Moves to the current tier, to a tier
    /// outside the model, or of objects that are not alive are ignored
    /// (and counted).
    pub fn move_to(&mut self, obj: ObjId, size: u64, to: TierIdx, now: u64) {
        let n = self.model.tiers.len();
        let Some(p) = self.place.get_mut(obj as usize) else {
            self.ignored_moves += 1;
            return;
        };
        if p.tier == Placement::NONE || p.tier == to || to as usize >= n {
            self.ignored_moves += 1;
            return;
        }
        let (from, entered) = (p.tier as usize, p.entered_ms);
        *p = Placement {
            tier: to,
            entered_ms: now,
        };
        self.bytes[from] -= self.model.billable(from, size);
        self.bytes[to as usize] += self.model.billable(to as usize, size);
        let (was, is) = (
            self.model.monitored(from, size),
            self.model.monitored(to as usize, size),
        );
        if was && !is {
            self.monitored -= 1;
        } else if is && !was {
            self.monitored += 1;
        }
        let group = self.model.tiers[from].group;
        self.moves += 1;
        if group > 0 && group == self.model.tiers[to as usize].group {
            // The class moves between its own tiers by itself: no fee.
            return;
        }
        self.cost.moves += self.model.early_fee(from, size, entered, now)
            + self.model.copy_out(from, size)
            + self.model.tiers[to as usize].transition_in;
    }
}
