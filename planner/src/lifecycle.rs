//! The life of the `p_hot` model: which model is in use, when to train, what a training changes.
//!
//! One [`ModelLifecycle`] per planner. The gateway keeps one (behind a lock, with persistence and the
//! objects' scores around it) and the load-test simulator keeps one on its simulated clock, so both run
//! exactly this code: the same schedule, the same training protocol, the same forest-or-rule choice.
//!
//! # Contracts
//!
//! * Until a forest is trained (or loaded) the recency-frequency [`RuleModel`] is in use.
//! * A trained forest is put in use when its validation AUC is at least the rule's on the same split
//!   ([`choose_model`]); otherwise the rule is.
//! * A training that does not produce a forest (not enough history, an error, a forest that could not be
//!   persisted) keeps the model in use: a forest is never replaced by the rule because of a failed attempt.
//! * Training is due when `retrain_interval_ms` has passed since the last attempt (or since the trained
//!   model's training time when there was no attempt yet); never on a schedule when the interval is 0.
//! * Pure: no I/O and no wall clock. Training is split from installing ([`Trainer`] is a cheap clone),
//!   so a caller can train without holding whatever guards its lifecycle.

use std::sync::Arc;

use crate::error::{PlannerError, Result};
use crate::features::{Histories, ObjectBasics};
use crate::hazard::IdleHazard;
use crate::model::{
    ActiveModel, ForestModel, HotModel, ModelKind, ModelStatus, RetrainSchedule, RuleModel,
    TrainConfig, choose_model, train_forest,
};

/// How a planner's model is trained and refreshed.
#[derive(Clone, Debug, PartialEq)]
pub struct LifecycleConfig {
    /// Training parameters; `train.horizon_ms` is the horizon `p_hot` refers to.
    pub train: TrainConfig,
    /// Between two scheduled trainings; 0: on demand only.
    pub retrain_interval_ms: i64,
    /// How much access log is kept before `now` (the catalog's retention): reads older than that may be
    /// missing, so training uses only cuts with a full feature window after it.
    pub history_ms: i64,
}

impl LifecycleConfig {
    /// The gateway's settings for a `p_hot` horizon: cuts one horizon apart, the default forest.
    pub fn new(horizon_ms: i64, retrain_interval_ms: i64, history_ms: i64) -> LifecycleConfig {
        LifecycleConfig {
            train: TrainConfig {
                horizon_ms,
                cut_step_ms: horizon_ms,
                ..TrainConfig::default()
            },
            retrain_interval_ms,
            history_ms,
        }
    }
}

/// Trains forests with a lifecycle's settings; a cheap clone, independent of the lifecycle it came from.
#[derive(Clone, Debug)]
pub struct Trainer {
    train: TrainConfig,
    history_ms: i64,
}

impl Trainer {
    /// Trains a forest on `objects` and their read `histories` as of `now_ms` (see [`train_forest`]).
    pub fn train(
        &self,
        objects: &[ObjectBasics],
        histories: &Histories,
        now_ms: i64,
    ) -> Result<ForestModel> {
        let cfg = TrainConfig {
            history_from_ms: Some(now_ms.saturating_sub(self.history_ms)),
            ..self.train.clone()
        };
        train_forest(objects, histories, now_ms, &cfg)
    }

    /// How much access log a training reads (the catalog's retention).
    pub fn history_ms(&self) -> i64 {
        self.history_ms
    }

    /// The access log's daily read probability by idle time ([`IdleHazard`]) as of `now_ms`.
    pub fn hazard(
        &self,
        objects: &[ObjectBasics],
        histories: &Histories,
        now_ms: i64,
    ) -> Option<IdleHazard> {
        IdleHazard::fit(
            objects,
            histories,
            now_ms,
            Some(now_ms.saturating_sub(self.history_ms)),
        )
    }
}

/// What one training attempt did.
#[derive(Clone, Debug, PartialEq)]
pub enum TrainingOutcome {
    /// A forest was trained; `in_use` says which model won the validation.
    Trained { in_use: ModelKind, summary: String },
    /// Not enough history yet; the model in use is kept.
    NotEnoughData(String),
    /// Training failed; the model in use is kept.
    Failed(String),
}

impl TrainingOutcome {
    /// `"trained"`, `"not_enough_data"` or `"failed"` (the admin API's `last_attempt.outcome`).
    pub fn as_str(&self) -> &'static str {
        match self {
            TrainingOutcome::Trained { .. } => "trained",
            TrainingOutcome::NotEnoughData(_) => "not_enough_data",
            TrainingOutcome::Failed(_) => "failed",
        }
    }

    /// The details: the AUCs when trained, the refusal or the error otherwise.
    pub fn message(&self) -> &str {
        match self {
            TrainingOutcome::Trained { summary, .. } => summary,
            TrainingOutcome::NotEnoughData(m) | TrainingOutcome::Failed(m) => m,
        }
    }
}

/// The model in use and its history of trainings (see the module docs).
#[derive(Debug)]
pub struct ModelLifecycle {
    config: LifecycleConfig,
    rule: RuleModel,
    model: Arc<ActiveModel>,
    status: ModelStatus,
    last_attempt_ms: Option<i64>,
    trainings: u32,
    forest_wins: u32,
    hazard: Option<IdleHazard>,
}

impl ModelLifecycle {
    /// A lifecycle that starts with the rule.
    pub fn new(config: LifecycleConfig) -> Result<ModelLifecycle> {
        config.train.validate()?;
        if config.retrain_interval_ms < 0 || config.history_ms < 0 {
            return Err(PlannerError::InvalidInput(format!(
                "retrain interval {} ms and history {} ms must not be negative",
                config.retrain_interval_ms, config.history_ms
            )));
        }
        let rule = RuleModel::new(config.train.horizon_ms)?;
        Ok(ModelLifecycle {
            config,
            rule,
            model: Arc::new(ActiveModel::Rule(rule)),
            status: ModelStatus {
                in_use: ModelKind::Rule,
                reason: "no model trained yet".into(),
                metrics: None,
                trained_at_ms: None,
            },
            last_attempt_ms: None,
            trainings: 0,
            forest_wins: 0,
            hazard: None,
        })
    }

    /// Starts from a forest loaded from storage (or the error that loading it gave): the forest is used if
    /// it was trained for this horizon and beats the rule on its own validation split, the rule otherwise.
    /// Returns the error text when the forest was refused for a reason other than losing to the rule.
    pub fn load(&mut self, loaded: Result<ForestModel>) -> Option<String> {
        let horizon = self.config.train.horizon_ms;
        let loaded = loaded.and_then(|f| {
            if f.horizon_ms() == horizon {
                Ok(f)
            } else {
                Err(PlannerError::Persistence(format!(
                    "it was trained for a {} h horizon, the configuration asks for {} h",
                    f.horizon_ms() / 3_600_000,
                    horizon / 3_600_000
                )))
            }
        });
        let refused = loaded.as_ref().err().map(|e| e.to_string());
        let (model, status) = choose_model(self.rule, loaded);
        self.model = Arc::new(model);
        self.status = status;
        refused
    }

    /// The model in use.
    pub fn current(&self) -> &Arc<ActiveModel> {
        &self.model
    }

    /// Which model is in use and why.
    pub fn status(&self) -> &ModelStatus {
        &self.status
    }

    /// Replaces the reason reported for the model in use (e.g. to say where a forest was loaded from).
    pub fn set_reason(&mut self, reason: String) {
        self.status.reason = reason;
    }

    /// The settings.
    pub fn config(&self) -> &LifecycleConfig {
        &self.config
    }

    /// The horizon `p_hot` refers to, in milliseconds.
    pub fn horizon_ms(&self) -> i64 {
        self.config.train.horizon_ms
    }

    /// The access log's read hazard by idle time from the last training attempt: the prior of the rule's
    /// forecasts (see `PlannerConfig::read_prior`).
    pub fn hazard(&self) -> Option<&IdleHazard> {
        self.hazard.as_ref()
    }

    /// Keeps the read hazard measured with a training attempt (a measurement that found nothing keeps the
    /// previous one).
    pub fn set_hazard(&mut self, hazard: Option<IdleHazard>) {
        if hazard.is_some() {
            self.hazard = hazard;
        }
    }

    /// When the last training attempt started, if any.
    pub fn last_attempt_ms(&self) -> Option<i64> {
        self.last_attempt_ms
    }

    /// Training attempts installed so far, and how many of them put a forest in use.
    pub fn trainings(&self) -> (u32, u32) {
        (self.trainings, self.forest_wins)
    }

    fn schedule_base_ms(&self) -> Option<i64> {
        self.last_attempt_ms.or(self.status.trained_at_ms)
    }

    /// When the next scheduled training is due (`Some(0)`: now, never trained), or `None` without a schedule.
    pub fn next_training_ms(&self) -> Option<i64> {
        (self.config.retrain_interval_ms > 0).then(|| {
            self.schedule_base_ms()
                .map_or(0, |t| t.saturating_add(self.config.retrain_interval_ms))
        })
    }

    /// Whether a scheduled training is due at `now_ms`.
    pub fn is_due(&self, now_ms: i64) -> bool {
        self.config.retrain_interval_ms > 0
            && RetrainSchedule {
                interval_ms: self.config.retrain_interval_ms,
            }
            .due(self.schedule_base_ms(), now_ms)
    }

    /// A trainer with this lifecycle's settings.
    pub fn trainer(&self) -> Trainer {
        Trainer {
            train: self.config.train.clone(),
            history_ms: self.config.history_ms,
        }
    }

    /// Installs the result of a training attempt started at `started_ms`: a forest is put in use when it
    /// beats the rule, else the rule is; an error keeps the model in use.
    pub fn install(&mut self, trained: Result<ForestModel>, started_ms: i64) -> TrainingOutcome {
        self.last_attempt_ms = Some(started_ms);
        self.trainings += 1;
        match trained {
            Ok(forest) => {
                let m = forest.metrics().clone();
                let (model, status) = choose_model(self.rule, Ok(forest));
                let in_use = status.in_use;
                let summary = format!(
                    "forest AUC {:.4} vs rule AUC {:.4} on {} validation examples; in use: {}",
                    m.auc,
                    m.rule_auc,
                    m.n_valid,
                    in_use.as_str()
                );
                if in_use == ModelKind::Forest {
                    self.forest_wins += 1;
                }
                self.model = Arc::new(model);
                self.status = status;
                TrainingOutcome::Trained { in_use, summary }
            }
            Err(PlannerError::NotEnoughData(m)) => {
                TrainingOutcome::NotEnoughData(format!("not enough data: {m}"))
            }
            Err(e) => TrainingOutcome::Failed(e.to_string()),
        }
    }

    /// Trains now on `objects` and `histories` and installs the result (for callers that hold the lifecycle
    /// exclusively, like the simulator).
    pub fn train_now(
        &mut self,
        objects: &[ObjectBasics],
        histories: &Histories,
        now_ms: i64,
    ) -> TrainingOutcome {
        let trainer = self.trainer();
        self.set_hazard(trainer.hazard(objects, histories, now_ms));
        let trained = trainer.train(objects, histories, now_ms);
        self.install(trained, now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::{DAY_MS, HistoryBuilder};

    fn config(interval_ms: i64) -> LifecycleConfig {
        LifecycleConfig::new(DAY_MS, interval_ms, 14 * DAY_MS)
    }

    #[test]
    fn starts_with_the_rule_and_schedules_the_first_training_now() {
        let l = ModelLifecycle::new(config(DAY_MS)).unwrap();
        assert_eq!(l.current().kind(), ModelKind::Rule);
        assert_eq!(l.next_training_ms(), Some(0));
        assert!(l.is_due(1));
        let on_demand = ModelLifecycle::new(config(0)).unwrap();
        assert_eq!(on_demand.next_training_ms(), None);
        assert!(!on_demand.is_due(i64::MAX));
    }

    #[test]
    fn a_refused_training_keeps_the_model_and_moves_the_schedule() {
        let mut l = ModelLifecycle::new(config(DAY_MS)).unwrap();
        let empty = HistoryBuilder::with_capacity(0).finish(0).unwrap();
        let now = 100 * DAY_MS;
        let out = l.train_now(&[], &empty, now);
        assert_eq!(out.as_str(), "not_enough_data", "{out:?}");
        assert_eq!(l.current().kind(), ModelKind::Rule);
        assert_eq!(l.last_attempt_ms(), Some(now));
        assert!(!l.is_due(now + DAY_MS - 1));
        assert!(l.is_due(now + DAY_MS));
        assert_eq!(l.trainings(), (1, 0));
    }

    #[test]
    fn a_forest_for_another_horizon_is_refused_on_load() {
        let mut l = ModelLifecycle::new(config(0)).unwrap();
        let refused = l.load(Err(PlannerError::Persistence("bad file".into())));
        assert!(refused.unwrap().contains("bad file"));
        assert_eq!(l.current().kind(), ModelKind::Rule);
    }

    #[test]
    fn negative_settings_are_refused() {
        assert!(ModelLifecycle::new(config(-1)).is_err());
    }
}
