//! The `p_hot` model the planner uses, and the last `p_hot` of every object.
//!
//! # Contracts
//!
//! * Which model is in use, when training is due and what a training changes are decided by
//!   `planner::ModelLifecycle` (the same code the simulator runs): the trained forest when its
//!   validation AUC is at least the recency-frequency rule's on the same split, the rule otherwise.
//!   This module adds persistence, the async schedule and the objects' scores. The report
//!   ([`ModelReport`]) always says which model is in use and why.
//! * A forest is persisted at `<data_dir>/model/forest.json` (written to a temporary file, synced,
//!   then renamed: a crash leaves the old file or the new one, never half of one) and loaded at
//!   start. A file that does not load is reported and the rule is used.
//! * The read hazard measured with each training attempt (the rule's prior and the horizon forecast,
//!   `planner::IdleHazard`) is persisted the same way at `<data_dir>/model/hazard.json` and loaded at
//!   start, so a restart does not plan without it until the next training; a file that does not load
//!   is reported in the log and ignored.
//! * Training runs on a schedule (`[planner] retrain_interval_secs`, measured on the gateway clock;
//!   0 turns it off) and on demand (`POST /admin/model/retrain`), one training at a time. A training
//!   that fails (for example, not enough history yet) keeps the model in use.
//! * `p_hot` is the probability of a read within the model's horizon
//!   (`[planner] model_horizon_hours`). Objects are scored in whole passes (at start, after each
//!   training attempt and with each plan), so an object's `p_hot` is as of the last pass
//!   (`scored_at_ms`); an object written after it has none yet.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use planner::source::{LoadOptions, load_inventory};
use planner::{
    ActiveModel, ForestModel, HotModel, Inventory, LifecycleConfig, Metrics, ModelKind,
    ModelLifecycle, TrainingOutcome,
};
use serde::Serialize;

use crate::core::Core;
use crate::error::EngineError;

/// What the admin API reports about the model (`GET /admin/model`).
#[derive(Clone, Debug, Serialize, schemars::JsonSchema, serde::Deserialize)]
pub struct ModelReport {
    /// `"rule"` or `"forest"`.
    pub in_use: ModelKind,
    /// Why that model is in use.
    pub reason: String,
    /// The horizon `p_hot` refers to, in milliseconds.
    pub horizon_ms: i64,
    /// When the forest in the report was trained (gateway clock), if any.
    pub trained_at_ms: Option<i64>,
    /// Validation metrics of that forest against the rule on the same split: `auc`, `precision`,
    /// `recall` at `threshold`, and `rule_auc`, `rule_precision`, `rule_recall`.
    pub metrics: Option<Metrics>,
    /// Where the forest is persisted (present once a forest has been trained or loaded).
    pub path: Option<String>,
    /// Scheduled retraining interval (0: on demand only).
    pub retrain_interval_secs: u64,
    /// When the next scheduled training is due (gateway clock), if scheduled.
    pub next_training_ms: Option<i64>,
    /// The last training attempt, if any since start.
    pub last_attempt: Option<TrainingAttempt>,
    /// Whether a training is running now.
    pub training: bool,
    /// Objects scored by the last scoring pass.
    pub scored_objects: usize,
    /// When the last scoring pass ran (gateway clock).
    pub scored_at_ms: Option<i64>,
}

/// One training attempt.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema, serde::Deserialize)]
pub struct TrainingAttempt {
    /// Gateway clock at the start of the attempt.
    pub at_ms: i64,
    pub outcome: AttemptOutcome,
    /// Details (the refusal or the error; the AUCs when trained).
    pub message: String,
    /// Wall-clock duration of the attempt.
    pub duration_ms: u64,
}

/// How a training attempt ended.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    Trained,
    NotEnoughData,
    Failed,
}

impl AttemptOutcome {
    fn of(outcome: &TrainingOutcome) -> AttemptOutcome {
        match outcome {
            TrainingOutcome::Trained { .. } => AttemptOutcome::Trained,
            TrainingOutcome::NotEnoughData(_) => AttemptOutcome::NotEnoughData,
            TrainingOutcome::Failed(_) => AttemptOutcome::Failed,
        }
    }
}

/// The last `p_hot` of an object, as the admin API shows it.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct ObjectScore {
    pub p_hot: f64,
    pub model: ModelKind,
    pub scored_at_ms: i64,
}

/// `[planner]` settings the model needs.
#[derive(Clone, Copy, Debug)]
pub struct ModelSettings {
    pub horizon_ms: i64,
    pub retrain_interval_secs: u64,
    /// The access log kept (the catalog's retention): what a training reads.
    pub history_ms: i64,
}

struct InUse {
    lifecycle: ModelLifecycle,
    last_attempt: Option<TrainingAttempt>,
    /// A forest file is at `CurrentModel::path` (found at start or written since).
    persisted: bool,
}

#[derive(Default)]
struct Scores {
    at_ms: Option<i64>,
    model: Option<ModelKind>,
    /// `(object_id, p_hot)` sorted by id: 16 bytes an object, where a hash map took twice that.
    by_object: Vec<(u64, f32)>,
}

/// The model in use, its status and the objects' last scores. One per node, in [`crate::Engine`].
pub struct CurrentModel {
    path: PathBuf,
    settings: ModelSettings,
    in_use: RwLock<InUse>,
    scores: RwLock<Scores>,
    training: tokio::sync::Mutex<()>,
}

fn object_id(bucket: &str, key: &str) -> u64 {
    let mut h = DefaultHasher::new();
    bucket.hash(&mut h);
    key.hash(&mut h);
    h.finish()
}

impl CurrentModel {
    /// The model for a gateway whose data lives in `data_dir`: the persisted forest if it loads
    /// (and beats the rule on its own validation split), the rule otherwise.
    pub fn open(data_dir: &Path, settings: ModelSettings) -> anyhow::Result<CurrentModel> {
        let mut lifecycle = ModelLifecycle::new(LifecycleConfig::new(
            settings.horizon_ms,
            (settings.retrain_interval_secs as i64).saturating_mul(1000),
            settings.history_ms,
        ))
        .map_err(|e| anyhow::anyhow!("[planner] model settings: {e}"))?;
        let path = data_dir.join("model").join("forest.json");
        let mut persisted = true;
        match std::fs::read(&path) {
            Ok(bytes) => {
                let reason = match lifecycle.load(ForestModel::from_bytes(&bytes)) {
                    Some(e) => {
                        tracing::warn!(path = %path.display(), error = %e, "the persisted model does not load; using the rule");
                        format!("the persisted model {} does not load: {e}", path.display())
                    }
                    None => format!(
                        "loaded from {}: {}",
                        path.display(),
                        lifecycle.status().reason
                    ),
                };
                lifecycle.set_reason(reason);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => persisted = false,
            Err(e) => anyhow::bail!("cannot read {}: {e}", path.display()),
        }
        let hazard_path = hazard_path(&path);
        match std::fs::read(&hazard_path) {
            Ok(bytes) => match serde_json::from_slice::<planner::IdleHazard>(&bytes) {
                Ok(h) => lifecycle.set_hazard(Some(h)),
                Err(e) => {
                    tracing::warn!(path = %hazard_path.display(), error = %e, "the persisted read hazard does not load; ignored until the next training");
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => anyhow::bail!("cannot read {}: {e}", hazard_path.display()),
        }
        Ok(CurrentModel {
            path,
            settings,
            in_use: RwLock::new(InUse {
                lifecycle,
                last_attempt: None,
                persisted,
            }),
            scores: RwLock::default(),
            training: tokio::sync::Mutex::new(()),
        })
    }

    /// The model in use.
    pub fn current(&self) -> Arc<ActiveModel> {
        self.in_use
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .lifecycle
            .current()
            .clone()
    }

    /// The report for `GET /admin/model`.
    pub fn report(&self) -> ModelReport {
        let in_use = self.in_use.read().unwrap_or_else(|e| e.into_inner());
        let scores = self.scores.read().unwrap_or_else(|e| e.into_inner());
        let status = in_use.lifecycle.status();
        ModelReport {
            in_use: status.in_use,
            reason: status.reason.clone(),
            horizon_ms: self.settings.horizon_ms,
            trained_at_ms: status.trained_at_ms,
            metrics: status.metrics.clone(),
            path: in_use.persisted.then(|| self.path.display().to_string()),
            retrain_interval_secs: self.settings.retrain_interval_secs,
            next_training_ms: in_use.lifecycle.next_training_ms(),
            last_attempt: in_use.last_attempt.clone(),
            training: self.training.try_lock().is_err(),
            scored_objects: scores.by_object.len(),
            scored_at_ms: scores.at_ms,
        }
    }

    /// The access log's read hazard by idle time, measured at the last training attempt (the prior of the
    /// rule's forecasts).
    pub fn hazard(&self) -> Option<planner::IdleHazard> {
        self.in_use
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .lifecycle
            .hazard()
            .cloned()
    }

    /// The horizon `p_hot` refers to, in milliseconds.
    pub fn report_horizon_ms(&self) -> i64 {
        self.settings.horizon_ms
    }

    /// The object's `p_hot` from the last scoring pass, if it was scored.
    pub fn score_of(&self, bucket: &str, key: &str) -> Option<ObjectScore> {
        let scores = self.scores.read().unwrap_or_else(|e| e.into_inner());
        let id = object_id(bucket, key);
        let at = scores
            .by_object
            .binary_search_by_key(&id, |&(i, _)| i)
            .ok()?;
        let p = scores.by_object[at].1;
        Some(ObjectScore {
            p_hot: f64::from(p),
            model: scores.model?,
            scored_at_ms: scores.at_ms?,
        })
    }

    /// Scores every object of `inv` with the model in use and keeps the scores (blocking: call it
    /// from a blocking task).
    pub fn score_inventory(&self, inv: &Inventory, now_ms: i64) -> planner::Result<()> {
        let model = self.current();
        let p = planner::score(
            inv,
            model.as_ref(),
            &planner::FeatureConfig::default(),
            now_ms,
        )?;
        self.keep_scores(
            inv,
            p.into_iter().map(|p| Some(p as f32)),
            model.kind(),
            now_ms,
        );
        Ok(())
    }

    /// Keeps `scores` (in inventory order; `None`: not scored this pass, like an object a plan held out while
    /// its move runs, which keeps its last score) as the objects' last `p_hot`. Objects no longer in the
    /// inventory lose theirs.
    pub fn keep_scores(
        &self,
        inv: &Inventory,
        scores: impl IntoIterator<Item = Option<f32>>,
        model: ModelKind,
        now_ms: i64,
    ) {
        let mut by_object: Vec<(u64, f32)> = {
            let old = self.scores.read().unwrap_or_else(|e| e.into_inner());
            let last = |id: u64| {
                old.by_object
                    .binary_search_by_key(&id, |&(i, _)| i)
                    .ok()
                    .map(|at| old.by_object[at].1)
            };
            inv.objects
                .iter()
                .zip(scores)
                .filter_map(|(o, p)| {
                    let id = object_id(o.bucket, o.key);
                    Some((id, p.or_else(|| last(id))?))
                })
                .collect()
        };
        by_object.sort_unstable_by_key(|&(id, _)| id);
        by_object.dedup_by_key(|&mut (id, _)| id);
        *self.scores.write().unwrap_or_else(|e| e.into_inner()) = Scores {
            at_ms: Some(now_ms),
            model: Some(model),
            by_object,
        };
    }

    /// Trains a forest on the catalog's access log now, switches to it if it beats the rule,
    /// persists it, and re-scores every object. Waits for a training already running.
    pub async fn retrain(self: &Arc<Self>, strata: &Arc<Core>) -> ModelReport {
        let _one_at_a_time = self.training.lock().await;
        let now = strata.clock.now_ms();
        let (me, s) = (self.clone(), strata.clone());
        let started = std::time::Instant::now();
        let outcome = tokio::task::spawn_blocking(move || me.train_blocking(&*s.catalog, now))
            .await
            .unwrap_or_else(|e| TrainingOutcome::Failed(format!("training task failed: {e}")));
        let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let message = outcome.message().to_owned();
        tracing::info!(outcome = outcome.as_str(), %message, duration_ms, "model training");
        self.in_use
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .last_attempt = Some(TrainingAttempt {
            at_ms: now,
            outcome: AttemptOutcome::of(&outcome),
            message,
            duration_ms,
        });
        self.report()
    }

    /// The training step of [`CurrentModel::retrain`]: trains without holding the model's lock, persists a
    /// trained forest, then installs the result in the lifecycle (which keeps the model in use on failure).
    fn train_blocking(&self, catalog: &dyn catalog::Catalog, now_ms: i64) -> TrainingOutcome {
        let trainer = self.lock_in_use().lifecycle.trainer();
        // The whole retained log: training cuts need a week of history before them.
        let opts = LoadOptions {
            history_ms: trainer.history_ms(),
            ..LoadOptions::default()
        };
        let inv = match load_inventory(catalog, now_ms, &opts) {
            Ok(inv) => inv,
            Err(e) => return TrainingOutcome::Failed(format!("cannot read the catalog: {e}")),
        };
        let hazard = trainer.hazard(&inv.basics, &inv.histories, now_ms);
        if let Some(h) = &hazard {
            let written = serde_json::to_vec(h)
                .map_err(std::io::Error::other)
                .and_then(|bytes| write_atomically(&hazard_path(&self.path), &bytes));
            if let Err(e) = written {
                tracing::warn!(error = %e, "cannot persist the read hazard; it stays in memory");
            }
        }
        self.lock_in_use().lifecycle.set_hazard(hazard);
        let trained = trainer
            .train(&inv.basics, &inv.histories, now_ms)
            .and_then(|forest| {
                let bytes = forest.to_bytes()?;
                write_atomically(&self.path, &bytes).map_err(|e| {
                    planner::PlannerError::Persistence(format!(
                        "cannot persist {}: {e}",
                        self.path.display()
                    ))
                })?;
                Ok(forest)
            });
        let forest_written = trained.is_ok();
        let outcome = {
            let mut in_use = self.lock_in_use();
            in_use.persisted |= forest_written;
            in_use.lifecycle.install(trained, now_ms)
        };
        // Scores move with time even when the model does not: refresh them with the model in use.
        match self.score_inventory(&inv, now_ms) {
            Err(e) if matches!(outcome, TrainingOutcome::Trained { .. }) => {
                TrainingOutcome::Failed(format!("trained, but scoring failed: {e}"))
            }
            _ => outcome,
        }
    }

    fn lock_in_use(&self) -> std::sync::RwLockWriteGuard<'_, InUse> {
        self.in_use.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Scores every object with the model in use (at start, so `p_hot` shows before any plan).
    pub async fn rescore(self: &Arc<Self>, strata: &Arc<Core>) -> Result<(), EngineError> {
        let now = strata.clock.now_ms();
        let (me, s) = (self.clone(), strata.clone());
        tokio::task::spawn_blocking(move || {
            let inv = load_inventory(&*s.catalog, now, &LoadOptions::default())?;
            me.score_inventory(&inv, now)?;
            Ok(())
        })
        .await
        .map_err(|e| EngineError::task("scoring", e))?
    }
}

/// Where the read hazard is kept: beside the forest.
fn hazard_path(forest: &Path) -> std::path::PathBuf {
    forest.with_file_name("hazard.json")
}

/// Writes `bytes` to `path` through a synced temporary file and a rename.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = path.with_extension("json.tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Background: score every object once at start, then retrain whenever the schedule says so
/// (checked on the gateway clock every `min(interval, 60 s)`).
pub async fn run(strata: Arc<Core>, model: Arc<CurrentModel>) {
    if let Err(e) = model.rescore(&strata).await {
        tracing::warn!(error = %e, "initial scoring failed");
    }
    let interval_secs = model.settings.retrain_interval_secs;
    if interval_secs == 0 {
        return;
    }
    let mut tick = tokio::time::interval(Duration::from_secs(interval_secs.clamp(1, 60)));
    loop {
        tick.tick().await;
        let due = model
            .in_use
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .lifecycle
            .is_due(strata.clock.now_ms());
        if due {
            model.retrain(&strata).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_object_not_scored_this_pass_keeps_its_last_score() {
        let dir = tempfile::tempdir().expect("tempdir");
        let model = CurrentModel::open(
            dir.path(),
            ModelSettings {
                horizon_ms: 86_400_000,
                retrain_interval_secs: 0,
                history_ms: 14 * 86_400_000,
            },
        )
        .expect("model");
        let inventory = |keys: &[&str]| {
            let mut inv = Inventory::default();
            for k in keys {
                inv.objects.push("b", k, 1, &["hot"]).expect("push");
            }
            inv
        };
        let p = |k: &str| model.score_of("b", k).map(|s| s.p_hot);
        let all = inventory(&["k1", "k2", "k3"]);
        model.keep_scores(
            &all,
            [Some(0.5), Some(0.25), Some(0.75)],
            ModelKind::Rule,
            1,
        );
        // k2 is held out of the next plan (its move runs): it keeps its score, the others get new ones.
        model.keep_scores(&all, [Some(0.125), None, Some(1.0)], ModelKind::Rule, 2);
        assert_eq!(
            (p("k1"), p("k2"), p("k3")),
            (Some(0.125), Some(0.25), Some(1.0))
        );
        // An object gone from the inventory loses its score.
        model.keep_scores(&inventory(&["k1"]), [None], ModelKind::Rule, 3);
        assert_eq!((p("k1"), p("k2")), (Some(0.125), None));
    }
}
