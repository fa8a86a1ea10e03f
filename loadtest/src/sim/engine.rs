//! The replay loop: one pass over the trace drives every policy's account
//! and feeds the oracle.

use super::account::Account;
use super::objects::{ObjId, ObjectTable};
use super::oracle::Oracle;
use super::policies::{AgeRules, AllHot, IntelligentTiering};
use super::policy::{Move, Policy, TickView};
use super::prices::{PriceModel, PriceTable};
use super::report::{PolicyResult, SimReport, SimStats, Unavailable};
use super::strata_policy::StrataPolicy;
use super::time::{DAY_MS, HOUR_MS, MAX_SPAN_MS};
use crate::trace::{Op, Record};

/// Name of the oracle in reports.
pub const ORACLE: &str = "oracle";
/// Name of the planner-backed policy in reports.
pub const STRATA: &str = "strata";

/// Errors setting up a simulation.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// Two policies with one name.
    #[error("policy {0:?} registered twice")]
    DuplicatePolicy(String),
    /// A policy's price model is unusable.
    #[error("policy {name:?}: price model has {tiers} tiers (1 to 255 allowed)")]
    BadModel {
        /// The policy.
        name: String,
        /// Its tier count.
        tiers: usize,
    },
}

/// Simulation settings.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// First-byte latency a read must meet to be within SLA, in ms.
    pub sla_ms: f64,
    /// Run the oracle.
    pub oracle: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            sla_ms: 100.0,
            oracle: true,
        }
    }
}

struct Run {
    policy: Box<dyn Policy>,
    account: Account,
}

/// Replays records through the registered policies and the oracle.
///
/// Contract: [`Simulator::feed`] takes records in file order and never
/// fails: anomalies (time going back, unknown objects, ...) are handled as
/// documented on [`SimStats`] and counted. Per-event work is O(policies)
/// with no allocation except the first sight of an object id; daily
/// ticks cost O(objects) per policy.
pub struct Simulator {
    table: PriceTable,
    cfg: SimConfig,
    objects: ObjectTable,
    runs: Vec<Run>,
    oracle: Option<Oracle>,
    unavailable: Vec<Unavailable>,
    origin: Option<u64>,
    clock: u64,
    next_tick: u64,
    next_sample: u64,
    sample_times: Vec<u64>,
    moves: Vec<Move>,
    stats: SimStats,
}

impl Simulator {
    /// A simulator with no online policy yet.
    pub fn new(table: PriceTable, cfg: SimConfig) -> Simulator {
        let oracle = cfg
            .oracle
            // The best placement behind the gateway: like `strata`, LIST and HEAD are answered by the catalog, and a
            // move is a copy.
            .then(|| {
                let model = PriceModel {
                    catalog_metadata: true,
                    copy_moves: true,
                    ..PriceModel::storage_classes(&table)
                };
                Oracle::new(model, cfg.sla_ms)
            });
        Simulator {
            table,
            cfg,
            objects: ObjectTable::default(),
            runs: Vec::new(),
            oracle,
            unavailable: Vec::new(),
            origin: None,
            clock: 0,
            next_tick: DAY_MS,
            next_sample: HOUR_MS,
            sample_times: Vec::new(),
            moves: Vec::new(),
            stats: SimStats::default(),
        }
    }

    /// A simulator with the built-in policies (`all-hot`, `age-rules`,
    /// `intelligent-tiering`, `strata`) and the oracle. If the planner
    /// rejects the price table (e.g. more than 16 tiers), `strata` is
    /// listed as unavailable with the planner's error.
    pub fn with_builtin_policies(table: PriceTable, cfg: SimConfig) -> Simulator {
        let strata = StrataPolicy::new(&table, cfg.sla_ms);
        let mut s = Simulator::new(table, cfg);
        let builtin: [Box<dyn Policy>; 3] = [
            Box::new(AllHot),
            Box::new(AgeRules::default()),
            Box::new(IntelligentTiering),
        ];
        for p in builtin {
            // Built-in names are distinct and their models have 3+ tiers.
            let _ = s.add_policy(p);
        }
        match strata {
            Ok(p) => {
                let _ = s.add_policy(Box::new(p));
            }
            Err(e) => s.unavailable.push(Unavailable {
                name: STRATA.into(),
                reason: format!("the planner rejects the price table: {e}"),
            }),
        }
        s
    }

    /// Registers an online policy; call before the first record.
    pub fn add_policy(&mut self, policy: Box<dyn Policy>) -> Result<(), SimError> {
        let name = policy.name().to_string();
        if name == ORACLE || self.runs.iter().any(|r| r.policy.name() == name) {
            return Err(SimError::DuplicatePolicy(name));
        }
        let model = policy.price_model(&self.table);
        let tiers = model.tiers.len();
        if tiers == 0 || tiers > 255 {
            return Err(SimError::BadModel { name, tiers });
        }
        self.unavailable.retain(|u| u.name != name);
        self.runs.push(Run {
            policy,
            account: Account::new(model, self.cfg.sla_ms),
        });
        Ok(())
    }

    /// Runs ticks and chart samples up to `t` (inclusive), then accrues.
    fn advance_to(&mut self, t: u64) {
        loop {
            let next = self.next_tick.min(self.next_sample);
            if next > t {
                break;
            }
            for r in &mut self.runs {
                r.account.accrue(next);
            }
            if self.next_sample == next {
                self.sample_times.push(next);
                for r in &mut self.runs {
                    r.account.sample();
                }
                self.next_sample += HOUR_MS;
            }
            if self.next_tick == next {
                self.tick(next);
                self.next_tick += DAY_MS;
            }
        }
        for r in &mut self.runs {
            r.account.accrue(t);
        }
        self.clock = t;
    }

    fn tick(&mut self, now: u64) {
        for r in &mut self.runs {
            self.moves.clear();
            let view = TickView {
                objects: &self.objects,
                placement: r.account.placement(),
            };
            r.policy.on_tick(now, &view, &mut self.moves);
            for m in &self.moves {
                let meta = self.objects.get(m.obj);
                if meta.alive {
                    r.account.move_to(m.obj, meta.size, m.to, now);
                } else {
                    r.account.ignored_moves += 1;
                }
            }
        }
    }

    /// Replays one record.
    pub fn feed(&mut self, rec: &Record<'_>) {
        let origin = *self.origin.get_or_insert(rec.ts_ms);
        let mut t = rec.ts_ms.saturating_sub(origin);
        if t > MAX_SPAN_MS {
            self.stats.out_of_span += 1;
            return;
        }
        if rec.ts_ms < origin || t < self.clock {
            self.stats.reordered += 1;
            t = self.clock;
        }
        self.stats.records += 1;
        self.advance_to(t);
        match rec.op {
            Op::List => {
                for r in &mut self.runs {
                    r.account.list();
                }
                if let Some(o) = &mut self.oracle {
                    o.list(t);
                }
            }
            Op::Put | Op::Copy => self.write(rec, t),
            Op::Get | Op::Head => self.read(rec, t),
            Op::Delete => self.delete(rec, t),
        }
    }

    fn intern(&mut self, id: &str) -> Option<ObjId> {
        let obj = self.objects.intern(id);
        self.stats.objects = self.objects.len() as u64;
        obj
    }

    fn end_life(&mut self, obj: ObjId, t: u64) {
        let size = self.objects.get(obj).size;
        for r in &mut self.runs {
            r.account.remove(obj, size, t);
            r.policy.on_delete(t, obj);
        }
        if let Some(o) = &mut self.oracle {
            o.end(obj, t, true);
        }
        self.objects.set_alive(obj, false);
    }

    fn begin_life(&mut self, obj: ObjId, t: u64, size: u64, preexisting: bool) {
        {
            let m = self.objects.get_mut(obj);
            m.size = size;
            m.created_ms = t;
            m.last_read_ms = t;
            m.preexisting = preexisting;
        }
        self.objects.set_alive(obj, true);
        let meta = *self.objects.get(obj);
        for r in &mut self.runs {
            let tier = if preexisting {
                0
            } else {
                r.policy.on_create(t, obj, &meta)
            };
            r.account.create(obj, size, tier, t, !preexisting);
        }
        if let Some(o) = &mut self.oracle {
            o.start(obj, t, size, preexisting);
        }
    }

    fn write(&mut self, rec: &Record<'_>, t: u64) {
        let Some(obj) = self.intern(rec.id) else {
            return;
        };
        if self.objects.get(obj).alive {
            self.stats.overwrites += 1;
            self.end_life(obj, t);
        }
        let size = rec.size.unwrap_or_else(|| {
            self.stats.missing_sizes += 1;
            0
        });
        self.begin_life(obj, t, size, false);
    }

    fn read(&mut self, rec: &Record<'_>, t: u64) {
        let Some(obj) = self.intern(rec.id) else {
            return;
        };
        let meta = *self.objects.get(obj);
        if !meta.alive {
            if meta.ever_alive {
                self.stats.requests_to_deleted += 1;
                return;
            }
            // Never seen before: it existed before the trace.
            self.stats.preexisting_objects += 1;
            let size = rec.size.unwrap_or_else(|| {
                self.stats.missing_sizes += 1;
                0
            });
            self.begin_life(obj, t, size, true);
        }
        let size = self.objects.get(obj).size;
        if rec.op == Op::Head {
            for r in &mut self.runs {
                r.account.head(obj);
            }
            if let Some(o) = &mut self.oracle {
                o.access(obj, t, None);
            }
            return;
        }
        let bytes = rec.read_bytes(size);
        self.objects.get_mut(obj).last_read_ms = t;
        let meta = *self.objects.get(obj);
        for r in &mut self.runs {
            let served = r.account.get(obj, bytes);
            if let Some(to) = r.policy.on_read(t, obj, &meta, bytes, served) {
                r.account.move_to(obj, size, to, t);
            }
        }
        if let Some(o) = &mut self.oracle {
            o.access(obj, t, Some(bytes));
        }
    }

    fn delete(&mut self, rec: &Record<'_>, t: u64) {
        let Some(obj) = self.intern(rec.id) else {
            return;
        };
        let meta = *self.objects.get(obj);
        if meta.alive {
            self.end_life(obj, t);
        } else if meta.ever_alive {
            self.stats.requests_to_deleted += 1;
        } else {
            self.stats.deletes_of_unknown += 1;
        }
    }

    /// Ends the replay at the last record's time and returns the results.
    pub fn finish(mut self) -> SimReport {
        let end = self.clock;
        self.advance_to(end);
        // The last sample is the final bill: an hourly sample taken at the
        // end instant came before that instant's records, so replace it.
        if self.sample_times.last() == Some(&end) {
            self.sample_times.pop();
            for r in &mut self.runs {
                r.account.timeline.pop();
            }
        }
        self.sample_times.push(end);
        for r in &mut self.runs {
            r.account.sample();
        }
        let mut policies: Vec<PolicyResult> = self
            .runs
            .into_iter()
            .map(|r| PolicyResult {
                name: r.policy.name().to_string(),
                cost: r.account.cost,
                reads: r.account.reads,
                reads_within_sla: r.account.reads_ok,
                moves: r.account.moves,
                timeline: r.account.timeline,
            })
            .collect();
        if let Some(mut o) = self.oracle {
            o.finish(end);
            self.stats.oracle_max_labels = o.max_labels as u64;
            policies.push(PolicyResult {
                name: ORACLE.into(),
                cost: o.cost,
                reads: o.reads,
                reads_within_sla: o.reads_ok,
                moves: o.moves,
                timeline: o.buckets.cumulative_at(&self.sample_times),
            });
        }
        self.stats.span_days = end as f64 / DAY_MS as f64;
        SimReport {
            sla_ms: self.cfg.sla_ms,
            policies,
            unavailable: self.unavailable,
            sample_times_ms: self.sample_times,
            stats: self.stats,
        }
    }
}
