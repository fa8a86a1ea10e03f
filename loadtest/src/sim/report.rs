//! Simulation results: per-policy costs, JSON and a text table.

use serde::Serialize;

/// Cost components in USD.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Cost {
    /// Storage (byte-time at each tier's price) plus, for
    /// Intelligent-Tiering, its monitoring fee.
    pub storage: f64,
    /// PUT, GET, HEAD and LIST requests.
    pub request: f64,
    /// Retrieval fees per GB read.
    pub retrieval: f64,
    /// Transition requests plus early-exit (minimum-duration) fees.
    pub moves: f64,
}

impl Cost {
    /// Sum of the components.
    pub fn total(&self) -> f64 {
        self.storage + self.request + self.retrieval + self.moves
    }

    /// Adds another cost component-wise.
    pub fn add(&mut self, o: &Cost) {
        self.storage += o.storage;
        self.request += o.request;
        self.retrieval += o.retrieval;
        self.moves += o.moves;
    }
}

/// One policy's outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyResult {
    /// `all-hot`, `age-rules`, `intelligent-tiering`, `strata` or `oracle`.
    pub name: String,
    /// Its bill.
    pub cost: Cost,
    /// GETs served.
    pub reads: u64,
    /// GETs served from a tier whose first-byte latency is within the SLA.
    pub reads_within_sla: u64,
    /// Tier moves made.
    pub moves: u64,
    /// Cumulative total cost at each of [`SimReport::sample_times_ms`].
    pub timeline: Vec<f64>,
}

impl PolicyResult {
    /// `reads_within_sla / reads` (1 when there were no reads).
    pub fn sla_adherence(&self) -> f64 {
        if self.reads == 0 {
            1.0
        } else {
            self.reads_within_sla as f64 / self.reads as f64
        }
    }

    /// The JSON object of the `policies` array.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name,
            "total_cost": self.cost.total(),
            "storage_cost": self.cost.storage,
            "request_cost": self.cost.request,
            "retrieval_cost": self.cost.retrieval,
            "move_cost": self.cost.moves,
            "reads": self.reads,
            "reads_within_sla": self.reads_within_sla,
            "sla_adherence": self.sla_adherence(),
        })
    }
}

/// A policy that was asked for but cannot run, and why.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Unavailable {
    /// The policy's name.
    pub name: String,
    /// Why it is not in `policies`.
    pub reason: String,
}

/// Counters of the replay itself.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SimStats {
    /// Records replayed.
    pub records: u64,
    /// Records whose timestamp was before the previous one (replayed at
    /// the previous one's time).
    pub reordered: u64,
    /// Records more than 10 years after the first one (skipped).
    pub out_of_span: u64,
    /// Objects first seen by a read: they existed before the trace, start
    /// in tier 0, and no PUT is billed for them.
    pub preexisting_objects: u64,
    /// Writes or first-seen reads without a size (taken as 0 bytes).
    pub missing_sizes: u64,
    /// Reads or deletes of objects that had been deleted (not billed).
    pub requests_to_deleted: u64,
    /// Deletes of never-seen objects (not billed).
    pub deletes_of_unknown: u64,
    /// Writes to live objects (billed as delete + write).
    pub overwrites: u64,
    /// Distinct object ids.
    pub objects: u64,
    /// Simulated time span in days.
    pub span_days: f64,
    /// Largest label set of the oracle's DP in one step.
    pub oracle_max_labels: u64,
}

/// Everything `simulate` reports.
#[derive(Clone, Debug, PartialEq)]
pub struct SimReport {
    /// SLA used for `reads_within_sla`, in ms.
    pub sla_ms: f64,
    /// Results in a fixed order: online policies as registered, then the oracle.
    pub policies: Vec<PolicyResult>,
    /// Policies left out, with the reason.
    pub unavailable: Vec<Unavailable>,
    /// Chart sample times (ms since the first record): each hour, then the end.
    pub sample_times_ms: Vec<u64>,
    /// Replay counters.
    pub stats: SimStats,
}

impl SimReport {
    /// `{"policies": [...], "unavailable": [...], "sla_ms", "simulation": {...}}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "policies": self.policies.iter().map(PolicyResult::to_json).collect::<Vec<_>>(),
            "unavailable": self.unavailable,
            "sla_ms": self.sla_ms,
            "simulation": self.stats,
        })
    }

    /// A fixed-width text table, one row per policy.
    pub fn to_table(&self) -> String {
        let mut s = format!(
            "{:<20} {:>12} {:>12} {:>12} {:>12} {:>12} {:>10} {:>8}\n",
            "policy",
            "total $",
            "storage $",
            "requests $",
            "retrieval $",
            "moves $",
            "reads",
            "SLA %"
        );
        for p in &self.policies {
            s.push_str(&format!(
                "{:<20} {:>12.4} {:>12.4} {:>12.4} {:>12.4} {:>12.4} {:>10} {:>8.2}\n",
                p.name,
                p.cost.total(),
                p.cost.storage,
                p.cost.request,
                p.cost.retrieval,
                p.cost.moves,
                p.reads,
                100.0 * p.sla_adherence()
            ));
        }
        for u in &self.unavailable {
            s.push_str(&format!("{:<20} not run: {}\n", u.name, u.reason));
        }
        s
    }
}
