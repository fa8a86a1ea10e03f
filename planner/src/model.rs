//! `p_hot`: the probability that an object is read within a horizon, and how it is learned.
//!
//! Two models implement [`HotModel`]:
//!
//! * [`RuleModel`] — a recency-frequency rule that needs no training (formula on the type). It is
//!   used until enough history exists, and it is the baseline every trained model is compared to.
//! * [`ForestModel`] — a random forest (smartcore) trained on the catalog's own access log.
//!
//! # Training protocol ([`train_forest`])
//!
//! Examples are built at cut times `t`: features at `t` use reads before `t` only, the label is
//! "read at least once in `[t, t + horizon)`". The latest cut `t0 = now - horizon` is the
//! validation cut (its labels end at `now`); training cuts are `t0 - k·step` for `k = 1, 2, …`
//! while `t > first logged read`, with `step >= horizon` so every training label window ends
//! before the validation cut: no label leaks from the validation period into training.
//!
//! # Why a regression forest
//!
//! smartcore 0.7's `RandomForestClassifier` only exposes majority-vote `predict` (no class
//! probabilities), which gives neither a ranking (needed for AUC) nor a usable `p_hot`. The model
//! therefore fits smartcore's `RandomForestRegressor` to the 0/1 label: each leaf predicts the
//! fraction of positives among its training examples and the forest averages the trees, which is
//! the standard "probability forest" (Malley et al., 2012). Positives are over-sampled for
//! training and sample weights (inverse sampling fractions) restore the natural prevalence, so the
//! output stays a calibrated probability.
//!
//! # Contracts
//!
//! * `p_hot` is always in `[0, 1]` and never panics, whatever the features.
//! * Pure: training and prediction take `now_ms` and data; no clock, no I/O. A trained model is
//!   persisted with [`ForestModel::to_bytes`] / [`ForestModel::from_bytes`] (JSON) and predicts
//!   identically after a round trip.
//! * Training refuses (with [`PlannerError::NotEnoughData`]) below [`MIN_EXAMPLES`] training
//!   examples or [`MIN_CLASS_EXAMPLES`] examples of either class in training or validation; the
//!   caller keeps the rule ([`choose_model`]).

use serde::{Deserialize, Serialize};
use smartcore::ensemble::random_forest_regressor::{
    RandomForestRegressor, RandomForestRegressorParameters,
};
use smartcore::linalg::basic::matrix::DenseMatrix;

use crate::error::{PlannerError, Result, invalid};
use crate::features::{
    DAY_MS, FeatureConfig, HOUR_MS, Histories, ObjectBasics, ObjectFeatures, WEEK_MS,
};
use crate::rng::SplitMix64;

/// Fewest training examples [`train_forest`] accepts.
pub const MIN_EXAMPLES: usize = 500;
/// Fewest examples of each class (read / not read) required in training and in validation.
pub const MIN_CLASS_EXAMPLES: usize = 20;

/// Which model produced a `p_hot`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// [`RuleModel`].
    Rule,
    /// [`ForestModel`].
    Forest,
}

impl ModelKind {
    /// `"rule"` or `"forest"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::Rule => "rule",
            ModelKind::Forest => "forest",
        }
    }
}

/// A predictor of `p_hot = P(read at least once within the model's horizon)`.
pub trait HotModel: Send + Sync {
    /// Which kind of model this is.
    fn kind(&self) -> ModelKind;

    /// `"rule"` or `"forest"` (what the admin API reports as the model in use).
    fn name(&self) -> &'static str {
        self.kind().as_str()
    }

    /// The horizon the probability refers to, in milliseconds.
    fn horizon_ms(&self) -> i64;

    /// `p_hot` in `[0, 1]`.
    fn p_hot(&self, features: &ObjectFeatures) -> f64;

    /// `p_hot` of many objects into `out` (cleared first), in order. Models override this when
    /// batching is faster.
    fn p_hot_batch(&self, features: &[ObjectFeatures], out: &mut Vec<f64>) {
        out.clear();
        out.extend(features.iter().map(|f| self.p_hot(f)));
    }

    /// Expected reads within the horizon of many objects into `out` (cleared first), in order,
    /// given their `p_hot` (same order). The default is [`reads_given_p_hot`]; a model that
    /// learns read counts overrides it.
    fn expected_reads_batch(&self, features: &[ObjectFeatures], p_hot: &[f64], out: &mut Vec<f64>) {
        out.clear();
        out.extend(
            features
                .iter()
                .zip(p_hot)
                .map(|(f, &p)| reads_given_p_hot(f, p, self.horizon_ms())),
        );
    }
}

/// Expected reads within `horizon_ms` from `p_hot` alone: `p_hot · max(1, rate · h)`, with `rate`
/// the reads per day on the days the object was read in the last week
/// (`reads_7d / distinct_days_7d`): if it is read at all, at its usual daily count.
pub fn reads_given_p_hot(f: &ObjectFeatures, p_hot: f64, horizon_ms: i64) -> f64 {
    let p = clamp01(p_hot);
    let days = horizon_ms.max(1) as f64 / DAY_MS as f64;
    let rate = if f.distinct_days_7d > 0 {
        f64::from(f.reads_7d) / f64::from(f.distinct_days_7d)
    } else {
        0.0
    };
    p * (rate * days).max(1.0)
}

/// The recency-frequency rule.
///
/// With `H` the horizon in days:
///
/// * frequency: `rate = max(reads_24h, reads_7d / 7)` reads per day, `p_freq = 1 - exp(-rate·H)`
///   (the probability of at least one read if reads were Poisson at the recent rate);
/// * recency: `p_rec = 2^(-since_last_read / horizon)` (1 for a read just now, ½ one horizon ago,
///   0 without any read);
/// * `p_hot = 1 - (1 - p_freq)·(1 - w·p_rec)` with `w = recency_weight` in `[0, 1]`.
///
/// `p_hot` is non-decreasing in every read count and non-increasing in `since_last_read_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuleModel {
    /// Horizon in milliseconds (positive).
    pub horizon_ms: i64,
    /// Weight of the recency term, in `[0, 1]`. Default 0.5.
    pub recency_weight: f64,
}

impl RuleModel {
    /// A rule for `horizon_ms` with the default recency weight. Fails for a non-positive horizon.
    pub fn new(horizon_ms: i64) -> Result<RuleModel> {
        let rule = RuleModel {
            horizon_ms,
            recency_weight: 0.5,
        };
        rule.validate()?;
        Ok(rule)
    }

    /// Rejects a non-positive horizon or a weight outside `[0, 1]`.
    pub fn validate(&self) -> Result<()> {
        if self.horizon_ms <= 0 {
            return Err(invalid(format!(
                "rule horizon_ms must be positive, got {}",
                self.horizon_ms
            )));
        }
        if !(0.0..=1.0).contains(&self.recency_weight) {
            return Err(invalid(format!(
                "rule recency_weight must be in [0, 1], got {}",
                self.recency_weight
            )));
        }
        Ok(())
    }
}

impl HotModel for RuleModel {
    fn kind(&self) -> ModelKind {
        ModelKind::Rule
    }

    fn horizon_ms(&self) -> i64 {
        self.horizon_ms
    }

    fn p_hot(&self, f: &ObjectFeatures) -> f64 {
        let horizon = self.horizon_ms.max(1) as f64;
        let rate_per_day = f64::from(f.reads_24h).max(f64::from(f.reads_7d) / 7.0);
        let p_freq = 1.0 - (-rate_per_day * horizon / DAY_MS as f64).exp();
        let p_rec = match f.since_last_read_ms {
            Some(d) => (-(d.max(0) as f64) / horizon).exp2(),
            None => 0.0,
        };
        let w = self.recency_weight.clamp(0.0, 1.0);
        let p = 1.0 - (1.0 - p_freq) * (1.0 - w * p_rec);
        if p.is_finite() {
            p.clamp(0.0, 1.0)
        } else {
            0.0
        }
    }
}

/// Number of model inputs (see [`model_inputs`]).
pub const N_INPUTS: usize = 14;

/// Names of the model inputs, in order (for reports).
pub const INPUT_NAMES: [&str; N_INPUTS] = [
    "ln1p_size",
    "ln1p_age_h",
    "ln1p_reads_1h",
    "ln1p_reads_24h",
    "ln1p_reads_7d",
    "ln1p_heat",
    "ln1p_since_last_read_h",
    "distinct_days_7d",
    "read_hour_sin",
    "read_hour_cos",
    "weekend_share_7d",
    "now_hour_sin",
    "now_hour_cos",
    "now_is_weekend",
];

/// `since_last_read` used when there is no read in the history (60 days, beyond any log window).
const NO_READ_HOURS: f64 = 60.0 * 24.0;

/// The forest's input vector. The "current tier" feature is deliberately left out: placement is
/// the planner's own decision, so a model conditioned on it would learn the previous policy rather
/// than the workload.
pub fn model_inputs(f: &ObjectFeatures) -> [f64; N_INPUTS] {
    let since_h = f.since_last_read_ms.map_or(NO_READ_HOURS, |d| {
        (d.max(0) as f64 / HOUR_MS as f64).min(NO_READ_HOURS)
    });
    let now_angle = std::f64::consts::TAU * f64::from(f.now_hour) / 24.0;
    let clean = |x: f64| if x.is_finite() { x } else { 0.0 };
    [
        (f.size_bytes as f64).ln_1p(),
        (f.age_ms.max(0) as f64 / HOUR_MS as f64).ln_1p(),
        f64::from(f.reads_1h).ln_1p(),
        f64::from(f.reads_24h).ln_1p(),
        f64::from(f.reads_7d).ln_1p(),
        clean(f.heat.max(0.0)).ln_1p(),
        since_h.ln_1p(),
        f64::from(f.distinct_days_7d),
        clean(f.read_hour_sin),
        clean(f.read_hour_cos),
        clean(f.weekend_share_7d),
        now_angle.sin(),
        now_angle.cos(),
        if f.now_weekday >= 5 { 1.0 } else { 0.0 },
    ]
}

type Forest = RandomForestRegressor<f64, f64, DenseMatrix<f64>, Vec<f64>>;

/// Validation metrics of a trained model against the rule on the same split.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Metrics {
    /// Forest ROC AUC on the validation cut.
    pub auc: f64,
    /// Forest precision at `threshold` (0 when nothing is predicted hot).
    pub precision: f64,
    /// Forest recall at `threshold` (0 when there are no positives).
    pub recall: f64,
    /// The operating threshold: an object is "likely read" when `p_hot >= threshold`.
    pub threshold: f64,
    /// Training examples (before weighting).
    pub n_train: usize,
    /// Validation examples.
    pub n_valid: usize,
    /// Positive training examples.
    pub n_train_positive: usize,
    /// Positive validation examples.
    pub n_valid_positive: usize,
    /// Number of training cuts.
    pub train_cuts: usize,
    /// The validation cut time.
    pub valid_cut_ms: i64,
    /// Rule ROC AUC on the same validation examples.
    pub rule_auc: f64,
    /// Rule precision at `threshold`.
    pub rule_precision: f64,
    /// Rule recall at `threshold`.
    pub rule_recall: f64,
    /// Mean absolute error of the count forest's expected reads per horizon on the validation
    /// cut (reads, not capped).
    pub reads_mae: f64,
    /// The same for the rule's stand-in, `p_hot` × reads per active day.
    pub rule_reads_mae: f64,
    /// Brier score (mean squared error of the probability) of the forest's calibrated `p_hot` on the
    /// validation cut, and of its raw scores.
    #[serde(default)]
    pub brier: f64,
    #[serde(default)]
    pub raw_brier: f64,
    /// The reliability curve on the validation cut: per bin of raw score, the mean raw score, the calibrated
    /// `p_hot` the model now gives, the observed share of objects read, and the examples in the bin.
    #[serde(default)]
    pub reliability: Vec<ReliabilityBin>,
}

/// One bin of a reliability curve.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ReliabilityBin {
    pub mean_score: f64,
    pub mean_p_hot: f64,
    pub observed: f64,
    pub examples: usize,
}

/// Upper edges of the raw-score bins the calibration is fitted on (the low end is fine-grained: it decides
/// whether a cold tier's retrieval fee is a risk worth taking).
const CALIBRATION_EDGES: [f64; 9] = [
    0.0005,
    0.002,
    0.005,
    0.01,
    0.03,
    0.1,
    0.3,
    0.6,
    f64::INFINITY,
];

/// A monotone map from raw forest scores to observed read probabilities: piecewise linear through
/// `(mean score, observed share)` of each non-empty bin, flat beyond the first and last points.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Calibration {
    points: Vec<(f64, f64)>,
}

impl Calibration {
    /// Fits the map on validation `scores` and `labels` (same length). Each bin's share is smoothed with
    /// half an example of each class (so an empty-looking bin never claims certainty), then made
    /// non-decreasing (pool-adjacent-violators).
    pub fn fit(scores: &[f64], labels: &[bool]) -> (Calibration, Vec<ReliabilityBin>) {
        let mut sums = [(0.0f64, 0usize, 0usize); CALIBRATION_EDGES.len()];
        for (&s, &l) in scores.iter().zip(labels) {
            let i = CALIBRATION_EDGES
                .iter()
                .position(|&e| s < e)
                .unwrap_or(CALIBRATION_EDGES.len() - 1);
            sums[i].0 += s;
            sums[i].1 += 1;
            sums[i].2 += usize::from(l);
        }
        // (mean score, smoothed share, examples) of the non-empty bins, then pool adjacent violators.
        let mut blocks: Vec<(f64, f64, usize)> = Vec::new();
        for &(sum, n, pos) in sums.iter().filter(|b| b.1 > 0) {
            let share = (pos as f64 + 0.5) / (n as f64 + 1.0);
            blocks.push((sum / n as f64, share, n));
            while blocks.len() >= 2 {
                let (b, a) = (blocks[blocks.len() - 1], blocks[blocks.len() - 2]);
                if a.1 <= b.1 {
                    break;
                }
                let n = a.2 + b.2;
                let merged = (
                    (a.0 * a.2 as f64 + b.0 * b.2 as f64) / n as f64,
                    (a.1 * a.2 as f64 + b.1 * b.2 as f64) / n as f64,
                    n,
                );
                blocks.pop();
                *blocks.last_mut().expect("two blocks") = merged;
            }
        }
        let cal = Calibration {
            points: blocks.iter().map(|&(s, p, _)| (s, p)).collect(),
        };
        let bins = sums
            .iter()
            .filter(|b| b.1 > 0)
            .map(|&(sum, n, pos)| {
                let mean = sum / n as f64;
                ReliabilityBin {
                    mean_score: mean,
                    mean_p_hot: cal.apply(mean),
                    observed: pos as f64 / n as f64,
                    examples: n,
                }
            })
            .collect();
        (cal, bins)
    }

    /// The calibrated probability of a raw score (the score itself without points).
    pub fn apply(&self, score: f64) -> f64 {
        let pts = &self.points;
        let (Some(first), Some(last)) = (pts.first(), pts.last()) else {
            return clamp01(score);
        };
        if score <= first.0 {
            return first.1;
        }
        if score >= last.0 {
            return last.1;
        }
        let i = pts.partition_point(|p| p.0 <= score);
        let (a, b) = (pts[i - 1], pts[i]);
        let t = if b.0 > a.0 {
            (score - a.0) / (b.0 - a.0)
        } else {
            1.0
        };
        clamp01(a.1 + t * (b.1 - a.1))
    }
}

/// Brier score of probabilities against labels (0 for no examples).
pub fn brier(p: &[f64], labels: &[bool]) -> f64 {
    if p.is_empty() {
        return 0.0;
    }
    p.iter()
        .zip(labels)
        .map(|(&p, &l)| (p - f64::from(u8::from(l))).powi(2))
        .sum::<f64>()
        / p.len() as f64
}

/// Training parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Horizon of `p_hot` (label window length). Default 24 h.
    pub horizon_ms: i64,
    /// Distance between cuts; raised to `horizon_ms` if smaller. Default 24 h.
    pub cut_step_ms: i64,
    /// At most this many training cuts. Default 6.
    pub max_train_cuts: usize,
    /// At most this many training examples over all training cuts. Default 20,000.
    pub max_train_examples: usize,
    /// At most this many validation examples. Default 20,000.
    pub max_valid_examples: usize,
    /// Trees in the forest. Default 40.
    pub n_trees: usize,
    /// Maximum tree depth. Default 10.
    pub max_depth: u16,
    /// Minimum examples in a leaf. Default 5.
    pub min_samples_leaf: usize,
    /// Operating threshold for precision/recall (and the planner's "likely read"). Default 0.5.
    pub threshold: f64,
    /// Seed for sampling and the forest.
    pub seed: u64,
    /// Feature extraction settings (heat half-life).
    pub features: FeatureConfig,
    /// Reads before this instant may be missing from the histories (a log trimmed by retention):
    /// a cut is used only when its 7-day feature window starts at or after it, so features at
    /// training cuts are computed from the same amount of history as at prediction time. `None`:
    /// the histories are complete.
    pub history_from_ms: Option<i64>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            horizon_ms: DAY_MS,
            cut_step_ms: DAY_MS,
            max_train_cuts: 6,
            max_train_examples: 20_000,
            max_valid_examples: 20_000,
            n_trees: 40,
            max_depth: 10,
            min_samples_leaf: 5,
            threshold: 0.5,
            seed: 0x5EED,
            features: FeatureConfig::default(),
            history_from_ms: None,
        }
    }
}

impl TrainConfig {
    /// Rejects values outside their documented domains.
    pub fn validate(&self) -> Result<()> {
        self.features.validate()?;
        if self.horizon_ms <= 0 || self.cut_step_ms <= 0 {
            return Err(invalid(format!(
                "horizon_ms ({}) and cut_step_ms ({}) must be positive",
                self.horizon_ms, self.cut_step_ms
            )));
        }
        if self.max_train_cuts == 0 || self.n_trees == 0 || self.max_depth == 0 {
            return Err(invalid(
                "max_train_cuts, n_trees and max_depth must be positive",
            ));
        }
        if self.max_train_examples < MIN_EXAMPLES || self.max_valid_examples < MIN_CLASS_EXAMPLES {
            return Err(invalid(format!(
                "max_train_examples must be >= {MIN_EXAMPLES} and max_valid_examples >= \
                 {MIN_CLASS_EXAMPLES}"
            )));
        }
        if !(self.threshold > 0.0 && self.threshold <= 1.0) {
            return Err(invalid(format!(
                "threshold must be in (0, 1], got {}",
                self.threshold
            )));
        }
        Ok(())
    }
}

/// A trained random forest predicting `p_hot`, with the settings and metrics it was trained with.
#[derive(Debug, Serialize, Deserialize)]
pub struct ForestModel {
    format: String,
    version: u32,
    horizon_ms: i64,
    features: FeatureConfig,
    n_inputs: usize,
    trained_at_ms: i64,
    metrics: Metrics,
    /// `p_hot`: fitted to the 0/1 label.
    forest: Forest,
    /// Expected reads within the horizon: fitted to the (capped) read count.
    reads: Forest,
    /// Raw forest scores → observed read probability, fitted on the validation cut.
    #[serde(default)]
    calibration: Calibration,
}

const FOREST_FORMAT: &str = "strata-planner-forest";
const FOREST_VERSION: u32 = 2;
/// Read counts above this are capped in training (one object's burst should not dominate a leaf).
const MAX_COUNT_LABEL: f64 = 1000.0;
/// Rows per prediction batch (bounds the temporary matrix).
const PREDICT_CHUNK: usize = 8192;

impl ForestModel {
    /// Validation metrics from training.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The `now_ms` training was run at.
    pub fn trained_at_ms(&self) -> i64 {
        self.trained_at_ms
    }

    /// The feature settings the model was trained with (use the same ones to predict).
    pub fn feature_config(&self) -> &FeatureConfig {
        &self.features
    }

    /// Serialises the model (JSON bytes).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        serde_json::to_vec(self).map_err(|e| PlannerError::Persistence(format!("encode: {e}")))
    }

    /// Loads a model written by [`ForestModel::to_bytes`]. Fails on another format or version,
    /// or an input count this build does not compute.
    pub fn from_bytes(bytes: &[u8]) -> Result<ForestModel> {
        let model: ForestModel = serde_json::from_slice(bytes)
            .map_err(|e| PlannerError::Persistence(format!("decode: {e}")))?;
        if model.format != FOREST_FORMAT || model.version != FOREST_VERSION {
            return Err(PlannerError::Persistence(format!(
                "unsupported model format {:?} version {} (expected {FOREST_FORMAT:?} v{FOREST_VERSION})",
                model.format, model.version
            )));
        }
        if model.n_inputs != N_INPUTS {
            return Err(PlannerError::Persistence(format!(
                "model has {} inputs, this build computes {N_INPUTS}",
                model.n_inputs
            )));
        }
        Ok(model)
    }

    /// Raw forest scores for rows of inputs (row-major), appended to `out`; a failure yields 0s.
    fn predict_rows(&self, rows: Vec<f64>, out: &mut Vec<f64>) {
        predict_with(&self.forest, rows, out, clamp01);
    }
}

/// Predictions of `forest` for rows of inputs (row-major), mapped by `f` and appended to `out`; a
/// failure yields 0s.
fn predict_with(forest: &Forest, rows: Vec<f64>, out: &mut Vec<f64>, f: fn(f64) -> f64) {
    let n = rows.len() / N_INPUTS;
    if n == 0 {
        return;
    }
    let predicted = DenseMatrix::new(n, N_INPUTS, rows, false)
        .ok()
        .and_then(|x| forest.predict(&x).ok());
    match predicted {
        Some(p) if p.len() == n => out.extend(p.into_iter().map(f)),
        _ => out.extend(std::iter::repeat_n(0.0, n)),
    }
}

fn non_negative(x: f64) -> f64 {
    if x.is_finite() { x.max(0.0) } else { 0.0 }
}

impl ForestModel {}

fn clamp01(p: f64) -> f64 {
    if p.is_finite() {
        p.clamp(0.0, 1.0)
    } else {
        0.0
    }
}

impl HotModel for ForestModel {
    fn kind(&self) -> ModelKind {
        ModelKind::Forest
    }

    fn horizon_ms(&self) -> i64 {
        self.horizon_ms
    }

    fn p_hot(&self, features: &ObjectFeatures) -> f64 {
        let mut out = Vec::with_capacity(1);
        self.predict_rows(model_inputs(features).to_vec(), &mut out);
        self.calibration.apply(out.first().copied().unwrap_or(0.0))
    }

    fn p_hot_batch(&self, features: &[ObjectFeatures], out: &mut Vec<f64>) {
        out.clear();
        out.reserve(features.len());
        for chunk in features.chunks(PREDICT_CHUNK) {
            let mut rows = Vec::with_capacity(chunk.len() * N_INPUTS);
            for f in chunk {
                rows.extend_from_slice(&model_inputs(f));
            }
            let from = out.len();
            self.predict_rows(rows, out);
            for p in &mut out[from..] {
                *p = self.calibration.apply(*p);
            }
        }
    }

    /// The count forest's prediction: the mean read count of similar objects in the training
    /// windows (bursts included), never below `p_hot` (a read at all is at least one read).
    fn expected_reads_batch(&self, features: &[ObjectFeatures], p_hot: &[f64], out: &mut Vec<f64>) {
        out.clear();
        out.reserve(features.len());
        for chunk in features.chunks(PREDICT_CHUNK) {
            let mut rows = Vec::with_capacity(chunk.len() * N_INPUTS);
            for f in chunk {
                rows.extend_from_slice(&model_inputs(f));
            }
            predict_with(&self.reads, rows, out, non_negative);
        }
        for (e, &p) in out.iter_mut().zip(p_hot) {
            *e = e.max(clamp01(p));
        }
    }
}

/// Either model, as held by the gateway or the simulator.
#[derive(Debug)]
pub enum ActiveModel {
    /// The rule.
    Rule(RuleModel),
    /// A trained forest.
    Forest(Box<ForestModel>),
}

impl HotModel for ActiveModel {
    fn kind(&self) -> ModelKind {
        match self {
            ActiveModel::Rule(m) => m.kind(),
            ActiveModel::Forest(m) => m.kind(),
        }
    }

    fn horizon_ms(&self) -> i64 {
        match self {
            ActiveModel::Rule(m) => m.horizon_ms(),
            ActiveModel::Forest(m) => m.horizon_ms(),
        }
    }

    fn p_hot(&self, features: &ObjectFeatures) -> f64 {
        match self {
            ActiveModel::Rule(m) => m.p_hot(features),
            ActiveModel::Forest(m) => m.p_hot(features),
        }
    }

    fn p_hot_batch(&self, features: &[ObjectFeatures], out: &mut Vec<f64>) {
        match self {
            ActiveModel::Rule(m) => m.p_hot_batch(features, out),
            ActiveModel::Forest(m) => m.p_hot_batch(features, out),
        }
    }

    fn expected_reads_batch(&self, features: &[ObjectFeatures], p_hot: &[f64], out: &mut Vec<f64>) {
        match self {
            ActiveModel::Rule(m) => m.expected_reads_batch(features, p_hot, out),
            ActiveModel::Forest(m) => m.expected_reads_batch(features, p_hot, out),
        }
    }
}

/// What the admin API reports about the model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelStatus {
    /// The model in use.
    pub in_use: ModelKind,
    /// Why (e.g. "not enough data: …", "forest AUC 0.91 >= rule AUC 0.84").
    pub reason: String,
    /// Metrics of the last training attempt that produced a model.
    pub metrics: Option<Metrics>,
    /// When that model was trained.
    pub trained_at_ms: Option<i64>,
}

/// Picks the model to use after a training attempt: the forest when training succeeded and its
/// validation AUC is at least the rule's on the same split, the rule otherwise.
pub fn choose_model(rule: RuleModel, trained: Result<ForestModel>) -> (ActiveModel, ModelStatus) {
    match trained {
        Ok(forest) => {
            let m = forest.metrics().clone();
            let at = forest.trained_at_ms();
            if m.auc >= m.rule_auc {
                let reason = format!(
                    "forest AUC {:.4} >= rule AUC {:.4} on the validation cut",
                    m.auc, m.rule_auc
                );
                (
                    ActiveModel::Forest(Box::new(forest)),
                    ModelStatus {
                        in_use: ModelKind::Forest,
                        reason,
                        metrics: Some(m),
                        trained_at_ms: Some(at),
                    },
                )
            } else {
                let reason = format!(
                    "forest AUC {:.4} < rule AUC {:.4} on the validation cut: keeping the rule",
                    m.auc, m.rule_auc
                );
                (
                    ActiveModel::Rule(rule),
                    ModelStatus {
                        in_use: ModelKind::Rule,
                        reason,
                        metrics: Some(m),
                        trained_at_ms: Some(at),
                    },
                )
            }
        }
        Err(e) => (
            ActiveModel::Rule(rule),
            ModelStatus {
                in_use: ModelKind::Rule,
                reason: e.to_string(),
                metrics: None,
                trained_at_ms: None,
            },
        ),
    }
}

/// When to retrain: every `interval_ms`, or on demand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetrainSchedule {
    /// Interval between scheduled trainings (positive). Default 24 h.
    pub interval_ms: i64,
}

impl Default for RetrainSchedule {
    fn default() -> Self {
        RetrainSchedule {
            interval_ms: DAY_MS,
        }
    }
}

impl RetrainSchedule {
    /// Whether training is due at `now_ms` given the last training time (`None`: never trained).
    pub fn due(&self, last_trained_ms: Option<i64>, now_ms: i64) -> bool {
        match last_trained_ms {
            None => true,
            Some(t) => now_ms.saturating_sub(t) >= self.interval_ms.max(1),
        }
    }
}

/// One labelled example.
struct Example {
    inputs: [f64; N_INPUTS],
    rule_score: f64,
    label: bool,
    /// Reads in the label window.
    count: usize,
    /// The rule's expected reads in the label window.
    rule_reads: f64,
    weight: f64,
}

/// Builds the examples of one cut: features at `cut` of a sample of the objects that existed
/// before `cut` (`last_modified_ms < cut`), labelled by a read in `[cut, cut + horizon)`.
///
/// With `balanced`, up to half of `quota` are positives and the weights are the inverse sampling
/// fractions of each class; otherwise the sample is uniform with weight 1.
#[allow(clippy::too_many_arguments)]
fn cut_examples(
    objects: &[ObjectBasics],
    histories: &Histories,
    cut: i64,
    cfg: &TrainConfig,
    rule: &RuleModel,
    quota: usize,
    balanced: bool,
    rng: &mut SplitMix64,
    out: &mut Vec<Example>,
) {
    let end = cut.saturating_add(cfg.horizon_ms);
    let mut pos: Vec<u32> = Vec::new();
    let mut neg: Vec<u32> = Vec::new();
    for (id, o) in objects.iter().enumerate() {
        if o.last_modified_ms >= cut {
            continue;
        }
        let Ok(id32) = u32::try_from(id) else { break };
        if histories.get(id).count_in(cut, end) > 0 {
            pos.push(id32);
        } else {
            neg.push(id32);
        }
    }
    let (take_pos, take_neg) = if balanced {
        let p = pos.len().min(quota / 2);
        (p, neg.len().min(quota - p))
    } else {
        let total = pos.len() + neg.len();
        if total <= quota {
            (pos.len(), neg.len())
        } else {
            // Proportional allocation keeps the natural prevalence.
            let p =
                ((pos.len() as f64 * quota as f64 / total as f64).round() as usize).min(pos.len());
            (p, (quota - p).min(neg.len()))
        }
    };
    for (ids, take, label) in [(&mut pos, take_pos, true), (&mut neg, take_neg, false)] {
        let weight = if balanced && take > 0 {
            ids.len() as f64 / take as f64
        } else {
            1.0
        };
        partial_shuffle(ids, take, rng);
        for &id in &ids[..take] {
            let o = objects[id as usize];
            let f = ObjectFeatures::compute(
                o.size_bytes,
                o.last_modified_ms,
                histories.get(id as usize),
                cut,
                &cfg.features,
            );
            out.push(Example {
                inputs: model_inputs(&f),
                rule_score: rule.p_hot(&f),
                rule_reads: reads_given_p_hot(&f, rule.p_hot(&f), cfg.horizon_ms),
                label,
                count: if label {
                    histories.get(id as usize).count_in(cut, end)
                } else {
                    0
                },
                weight,
            });
        }
    }
}

/// Moves a uniform random sample of `k` elements to the front (partial Fisher–Yates).
fn partial_shuffle(ids: &mut [u32], k: usize, rng: &mut SplitMix64) {
    let n = ids.len();
    for i in 0..k.min(n) {
        let j = i + rng.below((n - i) as u64) as usize;
        ids.swap(i, j);
    }
}

/// Trains a forest on the access history (see the module docs for the protocol) as of `now_ms`.
///
/// `objects[id]` and `histories.get(id)` describe the same object. Fails with
/// [`PlannerError::NotEnoughData`] when the history is shorter than one horizon plus one step,
/// when fewer than [`MIN_EXAMPLES`] training examples exist, or when either class has fewer than
/// [`MIN_CLASS_EXAMPLES`] examples in training or validation.
pub fn train_forest(
    objects: &[ObjectBasics],
    histories: &Histories,
    now_ms: i64,
    cfg: &TrainConfig,
) -> Result<ForestModel> {
    cfg.validate()?;
    if objects.len() != histories.len() {
        return Err(invalid(format!(
            "{} objects but {} histories",
            objects.len(),
            histories.len()
        )));
    }
    let Some((first_read, _)) = histories.span() else {
        return Err(PlannerError::NotEnoughData(
            "the access log has no reads".into(),
        ));
    };
    let rule = RuleModel::new(cfg.horizon_ms)?;
    let step = cfg.cut_step_ms.max(cfg.horizon_ms);
    let valid_cut = now_ms - cfg.horizon_ms;
    let complete_from = cfg
        .history_from_ms
        .map_or(i64::MIN, |t| t.saturating_add(WEEK_MS));
    if valid_cut < complete_from {
        return Err(PlannerError::NotEnoughData(format!(
            "the access log kept covers {} h; features need 7 days before the validation cut",
            (now_ms - cfg.history_from_ms.unwrap_or(now_ms)) / HOUR_MS
        )));
    }
    let train_cuts: Vec<i64> = (1..=cfg.max_train_cuts as i64)
        .map(|k| valid_cut - k * step)
        .filter(|&t| t > first_read && t >= complete_from)
        .collect();
    if train_cuts.is_empty() {
        return Err(PlannerError::NotEnoughData(format!(
            "history starts {} h before now; training needs more than horizon + step = {} h \
             (and, once the log is trimmed, 7 days of features before every cut)",
            (now_ms - first_read) / HOUR_MS,
            (cfg.horizon_ms + step) / HOUR_MS
        )));
    }
    let mut rng = SplitMix64::new(cfg.seed);
    let mut train = Vec::new();
    let quota = cfg.max_train_examples / train_cuts.len();
    for &cut in &train_cuts {
        cut_examples(
            objects, histories, cut, cfg, &rule, quota, true, &mut rng, &mut train,
        );
    }
    let mut valid = Vec::new();
    cut_examples(
        objects,
        histories,
        valid_cut,
        cfg,
        &rule,
        cfg.max_valid_examples,
        false,
        &mut rng,
        &mut valid,
    );
    let n_train_pos = train.iter().filter(|e| e.label).count();
    let n_valid_pos = valid.iter().filter(|e| e.label).count();
    if train.len() < MIN_EXAMPLES {
        return Err(PlannerError::NotEnoughData(format!(
            "{} training examples, at least {MIN_EXAMPLES} needed",
            train.len()
        )));
    }
    let min_class = |n: usize, pos: usize| pos.min(n - pos);
    if min_class(train.len(), n_train_pos) < MIN_CLASS_EXAMPLES
        || min_class(valid.len(), n_valid_pos) < MIN_CLASS_EXAMPLES
    {
        return Err(PlannerError::NotEnoughData(format!(
            "need {MIN_CLASS_EXAMPLES} examples of each class: training has {n_train_pos} read \
             of {}, validation {n_valid_pos} read of {}",
            train.len(),
            valid.len()
        )));
    }

    let mut x = Vec::with_capacity(train.len() * N_INPUTS);
    let mut y = Vec::with_capacity(train.len());
    let mut counts = Vec::with_capacity(train.len());
    let mut w = Vec::with_capacity(train.len());
    for e in &train {
        x.extend_from_slice(&e.inputs);
        y.push(if e.label { 1.0 } else { 0.0 });
        counts.push((e.count as f64).min(MAX_COUNT_LABEL));
        w.push(e.weight);
    }
    let x = DenseMatrix::new(train.len(), N_INPUTS, x, false).map_err(|e| PlannerError::Model {
        op: "fit",
        detail: e.to_string(),
    })?;
    let params = RandomForestRegressorParameters::default()
        .with_n_trees(cfg.n_trees)
        .with_max_depth(cfg.max_depth)
        .with_min_samples_leaf(cfg.min_samples_leaf.max(1))
        .with_seed(cfg.seed);
    let fit = |labels: &Vec<f64>| {
        Forest::fit_with_weights(&x, labels, &w, params.clone()).map_err(|e| PlannerError::Model {
            op: "fit",
            detail: e.to_string(),
        })
    };
    let forest = fit(&y)?;
    let reads = fit(&counts)?;
    let mut model = ForestModel {
        format: FOREST_FORMAT.into(),
        version: FOREST_VERSION,
        horizon_ms: cfg.horizon_ms,
        features: cfg.features,
        n_inputs: N_INPUTS,
        trained_at_ms: now_ms,
        metrics: Metrics {
            auc: 0.0,
            precision: 0.0,
            recall: 0.0,
            threshold: cfg.threshold,
            n_train: train.len(),
            n_valid: valid.len(),
            n_train_positive: n_train_pos,
            n_valid_positive: n_valid_pos,
            train_cuts: train_cuts.len(),
            valid_cut_ms: valid_cut,
            rule_auc: 0.0,
            rule_precision: 0.0,
            rule_recall: 0.0,
            reads_mae: 0.0,
            rule_reads_mae: 0.0,
            brier: 0.0,
            raw_brier: 0.0,
            reliability: Vec::new(),
        },
        forest,
        reads,
        calibration: Calibration::default(),
    };
    let mut rows = Vec::with_capacity(valid.len() * N_INPUTS);
    for e in &valid {
        rows.extend_from_slice(&e.inputs);
    }
    let mut counts = Vec::with_capacity(valid.len());
    predict_with(&model.reads, rows.clone(), &mut counts, non_negative);
    let mut scores = Vec::with_capacity(valid.len());
    model.predict_rows(rows, &mut scores);
    let mae = |predicted: &mut dyn Iterator<Item = f64>| {
        let total: f64 = predicted
            .zip(&valid)
            .map(|(x, e)| (x - e.count as f64).abs())
            .sum();
        total / valid.len().max(1) as f64
    };
    let reads_mae = mae(&mut counts.iter().zip(&scores).map(|(c, p)| c.max(*p)));
    let rule_reads_mae = mae(&mut valid.iter().map(|e| e.rule_reads));
    let labels: Vec<bool> = valid.iter().map(|e| e.label).collect();
    let rule_scores: Vec<f64> = valid.iter().map(|e| e.rule_score).collect();
    let (p, r) = precision_recall(&scores, &labels, cfg.threshold);
    let (rp, rr) = precision_recall(&rule_scores, &labels, cfg.threshold);
    let m = &mut model.metrics;
    m.auc = auc(&scores, &labels);
    m.precision = p;
    m.recall = r;
    m.rule_auc = auc(&rule_scores, &labels);
    m.rule_precision = rp;
    m.rule_recall = rr;
    m.reads_mae = reads_mae;
    m.rule_reads_mae = rule_reads_mae;
    let (calibration, reliability) = Calibration::fit(&scores, &labels);
    let calibrated: Vec<f64> = scores.iter().map(|&s| calibration.apply(s)).collect();
    m.raw_brier = brier(&scores, &labels);
    m.brier = brier(&calibrated, &labels);
    m.reliability = reliability;
    model.calibration = calibration;
    Ok(model)
}

/// ROC AUC of `scores` for boolean `labels` (Mann–Whitney, ties count ½). Returns 0.5 when either
/// class is empty or the lengths differ.
pub fn auc(scores: &[f64], labels: &[bool]) -> f64 {
    if scores.len() != labels.len() {
        return 0.5;
    }
    let n_pos = labels.iter().filter(|&&l| l).count();
    let n_neg = labels.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return 0.5;
    }
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Sum of (average) ranks of the positives, ranks starting at 1.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        let pos_in_tie = idx[i..=j].iter().filter(|&&k| labels[k]).count();
        rank_sum += avg_rank * pos_in_tie as f64;
        i = j + 1;
    }
    let np = n_pos as f64;
    (rank_sum - np * (np + 1.0) / 2.0) / (np * n_neg as f64)
}

/// Precision and recall of `score >= threshold` (each 0 when its denominator is 0).
pub fn precision_recall(scores: &[f64], labels: &[bool], threshold: f64) -> (f64, f64) {
    let (mut tp, mut fp, mut fneg) = (0usize, 0usize, 0usize);
    for (&s, &l) in scores.iter().zip(labels) {
        match (s >= threshold, l) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, true) => fneg += 1,
            (false, false) => {}
        }
    }
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    (ratio(tp, tp + fp), ratio(tp, tp + fneg))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Calibration maps raw scores to observed shares, is monotone, and never claims certainty.
    #[test]
    fn calibration_is_monotone_and_matches_observed_shares() {
        // Raw score 0.0 is read 10% of the time, 0.5 is read 40%, 0.9 is read 90%.
        let mut scores = Vec::new();
        let mut labels = Vec::new();
        for (s, share) in [(0.0, 0.1), (0.5, 0.4), (0.9, 0.9)] {
            for i in 0..1000 {
                scores.push(s);
                labels.push((i as f64) < share * 1000.0);
            }
        }
        let (cal, bins) = Calibration::fit(&scores, &labels);
        assert!((cal.apply(0.0) - 0.1).abs() < 0.01, "{cal:?}");
        assert!((cal.apply(0.5) - 0.4).abs() < 0.01);
        assert!((cal.apply(0.9) - 0.9).abs() < 0.01);
        let mut last = 0.0;
        for s in [0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0] {
            let p = cal.apply(s);
            assert!(p >= last, "monotone at {s}");
            last = p;
        }
        assert_eq!(bins.len(), 3);
        assert!(
            brier(
                &scores.iter().map(|&s| cal.apply(s)).collect::<Vec<_>>(),
                &labels
            ) < brier(&scores, &labels)
        );
        // A bin with no read at all is smoothed, not 0.
        let (cal, _) = Calibration::fit(&[0.0; 100], &[false; 100]);
        assert!(cal.apply(0.0) > 0.0);
    }
    use crate::features::{AccessHistory, HistoryBuilder};

    fn feats(reads_24h: u32, reads_7d: u32, since: Option<i64>) -> ObjectFeatures {
        let mut f = ObjectFeatures::compute(
            1000,
            0,
            AccessHistory::EMPTY,
            10 * DAY_MS,
            &FeatureConfig::default(),
        );
        f.reads_24h = reads_24h;
        f.reads_7d = reads_7d;
        f.since_last_read_ms = since;
        f
    }

    #[test]
    fn rule_is_monotone_in_recency_and_frequency() {
        let rule = RuleModel::new(DAY_MS).expect("rule");
        assert_eq!(rule.name(), "rule");
        // Never read: 0.
        assert_eq!(rule.p_hot(&feats(0, 0, None)), 0.0);
        // More recent => hotter (same counts).
        let mut last = f64::INFINITY;
        for since_h in [0, 1, 6, 24, 72, 160] {
            let p = rule.p_hot(&feats(0, 1, Some(since_h * HOUR_MS)));
            assert!(p <= last, "p_hot must not rise as the last read ages");
            assert!((0.0..=1.0).contains(&p));
            last = p;
        }
        // More reads => hotter (same recency).
        let mut prev = -1.0;
        for n in [0, 1, 2, 5, 20, 100] {
            let p = rule.p_hot(&feats(n, n.max(1), Some(HOUR_MS)));
            assert!(p >= prev, "p_hot must not fall with more reads");
            prev = p;
        }
        assert!(prev > 0.99);
        // Hand-computed: one read 24 h ago, 1 in 7 d: rate 1/day => p_freq = 1 - e^-1,
        // p_rec = 2^-1 = 0.5, w = 0.5 => 1 - e^-1 * 0.75.
        let p = rule.p_hot(&feats(1, 1, Some(DAY_MS)));
        assert!((p - (1.0 - (-1.0f64).exp() * 0.75)).abs() < 1e-12);
        assert!(RuleModel::new(0).is_err());
    }

    #[test]
    fn auc_and_precision_recall() {
        assert_eq!(auc(&[0.1, 0.9], &[false, true]), 1.0);
        assert_eq!(auc(&[0.9, 0.1], &[false, true]), 0.0);
        assert_eq!(auc(&[0.5, 0.5], &[false, true]), 0.5);
        assert_eq!(auc(&[0.5], &[true]), 0.5);
        let s = [0.2, 0.4, 0.6, 0.8];
        let l = [false, true, false, true];
        assert!((auc(&s, &l) - 0.75).abs() < 1e-12);
        assert_eq!(precision_recall(&s, &l, 0.5), (0.5, 0.5));
        assert_eq!(precision_recall(&s, &l, 0.9), (0.0, 0.0));
    }

    #[test]
    fn retrain_schedule() {
        let s = RetrainSchedule::default();
        assert!(s.due(None, 0));
        assert!(!s.due(Some(0), DAY_MS - 1));
        assert!(s.due(Some(0), DAY_MS));
    }

    /// A synthetic log where hot objects are learnable: 20 % of objects are read every day at
    /// their own hour (with a few misses), the rest rarely and at random.
    fn synthetic_log(n: usize, days: i64, seed: u64) -> (Vec<ObjectBasics>, Histories, i64) {
        let mut rng = SplitMix64::new(seed);
        let start = 20_000 * DAY_MS;
        let now = start + days * DAY_MS;
        let mut b = HistoryBuilder::default();
        let mut objects = Vec::with_capacity(n);
        for id in 0..n {
            let hot = rng.next_f64() < 0.2;
            objects.push(ObjectBasics {
                size_bytes: 1000 + rng.below(1_000_000),
                last_modified_ms: start - DAY_MS,
                lifetime_reads: 0,
                read_gaps: Default::default(),
                moved_ms: 0,
            });
            let hour = rng.below(24) as i64;
            for d in 0..days {
                if hot && rng.next_f64() < 0.9 {
                    let t = start + d * DAY_MS + hour * HOUR_MS + rng.below(HOUR_MS as u64) as i64;
                    b.push(id as u32, t, 100);
                } else if rng.next_f64() < 0.03 {
                    let t = start + d * DAY_MS + rng.below(DAY_MS as u64) as i64;
                    b.push(id as u32, t, 100);
                }
            }
        }
        (objects, b.finish(n).expect("histories"), now)
    }

    #[test]
    fn forest_learns_and_round_trips() {
        let (objects, histories, now) = synthetic_log(3000, 7, 42);
        let cfg = TrainConfig {
            n_trees: 20,
            max_train_examples: 6000,
            max_valid_examples: 3000,
            ..TrainConfig::default()
        };
        let model = train_forest(&objects, &histories, now, &cfg).expect("train");
        let m = model.metrics().clone();
        assert!(m.auc > 0.8, "forest AUC {} should clearly beat 0.5", m.auc);
        assert!(m.n_train >= MIN_EXAMPLES && m.n_valid > 0);
        assert!(m.train_cuts >= 1);
        assert!(m.reads_mae.is_finite() && m.reads_mae >= 0.0, "{m:?}");
        assert!(
            m.rule_reads_mae.is_finite() && m.rule_reads_mae >= 0.0,
            "{m:?}"
        );
        assert_eq!(model.name(), "forest");

        // Persistence: identical predictions after a round trip.
        let bytes = model.to_bytes().expect("encode");
        let back = ForestModel::from_bytes(&bytes).expect("decode");
        let feats: Vec<ObjectFeatures> = (0..200)
            .map(|id| {
                ObjectFeatures::compute(
                    objects[id].size_bytes,
                    objects[id].last_modified_ms,
                    histories.get(id),
                    now,
                    &cfg.features,
                )
            })
            .collect();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        model.p_hot_batch(&feats, &mut a);
        back.p_hot_batch(&feats, &mut b);
        assert_eq!(a, b);
        assert_eq!(a[7], model.p_hot(&feats[7]));
        assert!(a.iter().all(|p| (0.0..=1.0).contains(p)));
        assert_eq!(back.metrics(), model.metrics());

        // The count forest: daily readers expect about one read a day, idle objects far less;
        // never below p_hot, identical after the round trip.
        let (mut e, mut e_back) = (Vec::new(), Vec::new());
        model.expected_reads_batch(&feats, &a, &mut e);
        back.expected_reads_batch(&feats, &b, &mut e_back);
        assert_eq!(e, e_back);
        assert!(e.iter().zip(&a).all(|(e, p)| e >= p));
        let mean = |keep: &dyn Fn(&ObjectFeatures) -> bool| {
            let v: Vec<f64> = feats
                .iter()
                .zip(&e)
                .filter(|(f, _)| keep(f))
                .map(|(_, &e)| e)
                .collect();
            v.iter().sum::<f64>() / v.len().max(1) as f64
        };
        let daily = mean(&|f| f.reads_7d >= 5);
        let idle = mean(&|f| f.reads_7d == 0);
        assert!(daily > 0.5 && idle < 0.2, "daily {daily}, idle {idle}");

        let (active, status) =
            choose_model(RuleModel::new(cfg.horizon_ms).expect("rule"), Ok(back));
        assert_eq!(status.metrics.as_ref().map(|m| m.auc), Some(m.auc));
        assert_eq!(active.kind(), status.in_use);
    }

    #[test]
    fn training_refuses_short_history_and_bad_bytes() {
        let (objects, histories, now) = synthetic_log(300, 1, 1);
        let err = train_forest(&objects, &histories, now, &TrainConfig::default());
        assert!(
            matches!(err, Err(PlannerError::NotEnoughData(_))),
            "{err:?}"
        );
        let (active, status) = choose_model(RuleModel::new(DAY_MS).expect("rule"), err);
        assert_eq!(active.name(), "rule");
        assert_eq!(status.in_use, ModelKind::Rule);
        assert!(ForestModel::from_bytes(b"{}").is_err());
        assert!(ForestModel::from_bytes(b"not json").is_err());
    }
}
