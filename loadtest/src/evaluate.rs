//! `strata-loadtest evaluate`: every workload of a family, over several seeds, through every policy.
//!
//! A *suite* is a directory of workload profiles (`loadtest/suite/` is the built-in family). Each profile is
//! generated with each seed (the profile's own `seed` is replaced) and replayed through the simulator's built-in
//! policies and the oracle, straight from the generator (no trace file). Per workload the costs are summed over
//! its seeds; the report gives `strata / intelligent-tiering`, `strata / oracle`, `strata / all-hot` and SLA
//! adherence per workload, and the aggregate over the suite.
//!
//! Seeds matter: the planner's settings were chosen on [`TUNING_SEEDS`]; reports use [`REPORT_SEEDS`], which no
//! tuning has looked at.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::sim::{PriceTable, SimConfig, SimReport, Simulator};
use crate::workload::{Generator, GeneratorOptions, Profile};

/// Seeds the planner's settings were tuned on.
pub const TUNING_SEEDS: [u64; 2] = [1, 2];
/// Seeds `evaluate` reports on by default (never used for tuning).
pub const REPORT_SEEDS: [u64; 3] = [101, 102, 103];

/// The policies every report lists, in order.
pub const POLICIES: [&str; 5] = [
    "all-hot",
    "age-rules",
    "intelligent-tiering",
    "strata",
    "oracle",
];

/// Errors of an evaluation.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// The suite directory could not be listed.
    #[error("reading suite {path}: {source}")]
    Suite {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The suite has no `*.toml` profile.
    #[error("suite {0} holds no *.toml workload profile")]
    Empty(PathBuf),
    /// A profile did not load.
    #[error("{0}")]
    Profile(String),
    /// A policy that every report needs did not run.
    #[error("workload {workload}: policy {policy} did not run")]
    Missing { workload: String, policy: String },
}

/// One policy's outcome on one workload (summed over the seeds).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct PolicyOutcome {
    /// USD over the traces.
    pub total_cost: f64,
    pub storage_cost: f64,
    pub request_cost: f64,
    pub retrieval_cost: f64,
    pub move_cost: f64,
    /// GETs, and those served within the SLA.
    pub reads: u64,
    pub reads_within_sla: u64,
}

impl PolicyOutcome {
    /// `reads_within_sla / reads` (1 without reads).
    pub fn sla_adherence(&self) -> f64 {
        if self.reads == 0 {
            1.0
        } else {
            self.reads_within_sla as f64 / self.reads as f64
        }
    }
}

/// One workload of the suite.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct WorkloadResult {
    /// The profile's name.
    pub name: String,
    /// The profile file.
    pub profile: String,
    /// Seeds it was generated with.
    pub seeds: Vec<u64>,
    /// Requests replayed (all seeds).
    pub requests: u64,
    /// Distinct objects (all seeds).
    pub objects: u64,
    /// Per policy name.
    pub policies: BTreeMap<String, PolicyOutcome>,
}

impl WorkloadResult {
    fn cost(&self, policy: &str) -> f64 {
        self.policies.get(policy).map_or(f64::NAN, |p| p.total_cost)
    }

    /// `strata / intelligent-tiering`.
    pub fn strata_over_it(&self) -> f64 {
        self.cost("strata") / self.cost("intelligent-tiering")
    }

    /// `strata / oracle`.
    pub fn strata_over_oracle(&self) -> f64 {
        self.cost("strata") / self.cost("oracle")
    }

    /// `strata / all-hot`.
    pub fn strata_over_all_hot(&self) -> f64 {
        self.cost("strata") / self.cost("all-hot")
    }
}

/// The whole evaluation.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    pub sla_ms: f64,
    pub workloads: Vec<WorkloadResult>,
}

/// The suite's aggregate figures.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Aggregate {
    pub workloads: usize,
    /// Mean and worst `strata / intelligent-tiering` over the workloads.
    pub mean_strata_over_it: f64,
    pub max_strata_over_it: f64,
    /// Workloads where strata ≤ 0.85 × intelligent-tiering.
    pub workloads_at_or_below_0_85_it: usize,
    /// Mean and worst `strata / oracle`.
    pub mean_strata_over_oracle: f64,
    pub max_strata_over_oracle: f64,
    /// Worst `strata / all-hot` (above 1: worse than doing nothing).
    pub max_strata_over_all_hot: f64,
    /// Lowest SLA adherence of strata minus all-hot's on the same workload (negative: strata served fewer reads
    /// within the SLA).
    pub min_sla_margin_vs_all_hot: f64,
    /// Sums over the suite, USD.
    pub total_cost: BTreeMap<String, f64>,
}

impl Evaluation {
    /// The aggregate over every workload.
    pub fn aggregate(&self) -> Aggregate {
        let n = self.workloads.len().max(1) as f64;
        let it: Vec<f64> = self.workloads.iter().map(|w| w.strata_over_it()).collect();
        let or: Vec<f64> = self
            .workloads
            .iter()
            .map(|w| w.strata_over_oracle())
            .collect();
        let max = |v: &[f64]| v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mut total_cost = BTreeMap::new();
        for w in &self.workloads {
            for (p, o) in &w.policies {
                *total_cost.entry(p.clone()).or_insert(0.0) += o.total_cost;
            }
        }
        Aggregate {
            workloads: self.workloads.len(),
            mean_strata_over_it: it.iter().sum::<f64>() / n,
            max_strata_over_it: max(&it),
            workloads_at_or_below_0_85_it: it.iter().filter(|&&r| r <= 0.85).count(),
            mean_strata_over_oracle: or.iter().sum::<f64>() / n,
            max_strata_over_oracle: max(&or),
            max_strata_over_all_hot: max(&self
                .workloads
                .iter()
                .map(|w| w.strata_over_all_hot())
                .collect::<Vec<_>>()),
            min_sla_margin_vs_all_hot: self
                .workloads
                .iter()
                .map(|w| {
                    let sla = |p: &str| w.policies.get(p).map_or(1.0, |o| o.sla_adherence());
                    sla("strata") - sla("all-hot")
                })
                .fold(f64::INFINITY, f64::min),
            total_cost,
        }
    }

    /// `{"sla_ms", "workloads": [...], "aggregate": {...}}`.
    pub fn to_json(&self) -> serde_json::Value {
        let workloads: Vec<serde_json::Value> = self
            .workloads
            .iter()
            .map(|w| {
                let mut v = serde_json::to_value(w).unwrap_or_default();
                v["strata_over_intelligent_tiering"] = w.strata_over_it().into();
                v["strata_over_oracle"] = w.strata_over_oracle().into();
                v["strata_over_all_hot"] = w.strata_over_all_hot().into();
                for (name, o) in &w.policies {
                    v["policies"][name]["sla_adherence"] = o.sla_adherence().into();
                }
                v
            })
            .collect();
        serde_json::json!({
            "sla_ms": self.sla_ms,
            "workloads": workloads,
            "aggregate": self.aggregate(),
        })
    }

    /// The table `evaluate` prints.
    pub fn to_table(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<22} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8} {:>7} {:>7}",
            "workload",
            "all-hot",
            "age-rules",
            "IT",
            "strata",
            "oracle",
            "s/IT",
            "s/oracle",
            "SLA s",
            "SLA hot"
        );
        for w in &self.workloads {
            let sla = |p: &str| w.policies.get(p).map_or(1.0, |o| o.sla_adherence());
            let _ = writeln!(
                out,
                "{:<22} {:>9.4} {:>9.4} {:>9.4} {:>9.4} {:>9.4} {:>8.3} {:>8.3} {:>7.4} {:>7.4}",
                w.name,
                w.cost("all-hot"),
                w.cost("age-rules"),
                w.cost("intelligent-tiering"),
                w.cost("strata"),
                w.cost("oracle"),
                w.strata_over_it(),
                w.strata_over_oracle(),
                sla("strata"),
                sla("all-hot"),
            );
        }
        let a = self.aggregate();
        let _ = writeln!(
            out,
            "\n{} workloads: strata/IT mean {:.3}, worst {:.3}, {} at or below 0.85; strata/oracle mean {:.3}, \
             worst {:.3}; strata/all-hot worst {:.3}; SLA margin vs all-hot worst {:+.4}",
            a.workloads,
            a.mean_strata_over_it,
            a.max_strata_over_it,
            a.workloads_at_or_below_0_85_it,
            a.mean_strata_over_oracle,
            a.max_strata_over_oracle,
            a.max_strata_over_all_hot,
            a.min_sla_margin_vs_all_hot,
        );
        out
    }
}

/// The `*.toml` profiles of `suite`, by file name.
pub fn load_suite(suite: &Path) -> Result<Vec<(PathBuf, Profile)>, EvalError> {
    let entries = std::fs::read_dir(suite).map_err(|source| EvalError::Suite {
        path: suite.to_path_buf(),
        source,
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(EvalError::Empty(suite.to_path_buf()));
    }
    paths
        .into_iter()
        .map(|p| {
            let profile = Profile::load(&p).map_err(|e| EvalError::Profile(e.to_string()))?;
            Ok((p, profile))
        })
        .collect()
}

/// Generates `profile` with `seed` and replays it through the built-in policies and the oracle.
pub fn simulate_profile(
    profile: &Profile,
    seed: u64,
    table: &PriceTable,
    sla_ms: f64,
) -> SimReport {
    let mut p = profile.clone();
    p.seed = seed;
    let mut sim = Simulator::with_builtin_policies(
        table.clone(),
        SimConfig {
            sla_ms,
            oracle: true,
        },
    );
    for ev in Generator::new(&p, GeneratorOptions::default()) {
        sim.feed(&ev.record());
    }
    sim.finish()
}

/// Runs every profile of `suite` with every seed; `progress` is called after each (workload, seed) run.
pub fn evaluate(
    suite: &[(PathBuf, Profile)],
    seeds: &[u64],
    table: &PriceTable,
    sla_ms: f64,
    mut progress: impl FnMut(&str, u64),
) -> Result<Evaluation, EvalError> {
    let mut workloads = Vec::with_capacity(suite.len());
    for (path, profile) in suite {
        let mut w = WorkloadResult {
            name: profile.name.clone(),
            profile: path.display().to_string(),
            seeds: seeds.to_vec(),
            requests: 0,
            objects: 0,
            policies: BTreeMap::new(),
        };
        for &seed in seeds {
            let report = simulate_profile(profile, seed, table, sla_ms);
            w.requests += report.stats.records;
            w.objects += report.stats.objects;
            for r in &report.policies {
                let o = w.policies.entry(r.name.clone()).or_default();
                o.total_cost += r.cost.total();
                o.storage_cost += r.cost.storage;
                o.request_cost += r.cost.request;
                o.retrieval_cost += r.cost.retrieval;
                o.move_cost += r.cost.moves;
                o.reads += r.reads;
                o.reads_within_sla += r.reads_within_sla;
            }
            progress(&profile.name, seed);
        }
        for policy in POLICIES {
            if !w.policies.contains_key(policy) {
                return Err(EvalError::Missing {
                    workload: w.name.clone(),
                    policy: policy.to_string(),
                });
            }
        }
        workloads.push(w);
    }
    Ok(Evaluation { sla_ms, workloads })
}
