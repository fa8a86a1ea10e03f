//! The cost of keeping one object on a replica set for the planning horizon.
//!
//! # Model
//!
//! For an object of `size` GB (10^9 bytes), currently on replica set `C`, and a target set `T`,
//! over a horizon of `H` days ([`CostConfig::horizon_days`]):
//!
//! * **storage** `= size · Σ_{b∈T} storage_gb_month_b · H / 30`;
//! * **reads**: `E` expected reads ([`ReadForecast`]), all served by `serve(T)`, the replica with
//!   the lowest first-byte latency (ties: lowest per-read cost, then lowest index) — the same
//!   replica the gateway's read path picks. Per read: `get_per_1k / 1000` (requests) +
//!   `retrieval_per_gb · bytes_per_read` (retrieval) + `egress_per_gb · bytes_per_read` when
//!   [`CostConfig::read_egress`] (the gateway runs outside the providers);
//! * **latency penalty** `= λ · E · max(0, latency(serve(T)) − SLA)`;
//! * **move** (only for `T ≠ C`): every new replica `b ∈ T \ C` is copied from the source
//!   `s ∈ C` with the lowest per-GB copy price (`retrieval_s + egress(s→b)`, ties: lowest GET
//!   price, then index), where `egress(s→b) = egress_per_gb_s` if `s` and `b` are different
//!   providers and 0 within a provider; it costs `GET_s + PUT_b` requests plus
//!   `size · (retrieval_s + egress(s→b))`. Every released replica `b ∈ C \ T` pays the
//!   early-deletion fee `size · storage_gb_month_b / 30 · max(0, min_storage_days_b − age_days)`,
//!   where `age_days` counts from [`ObjectInput::placed_ms`] (the write or the last committed move:
//!   the catalog records one such time per object version, not per replica).
//!
//! # Constraints handled here
//!
//! A *candidate* set has exactly `RF` backends, on distinct providers when
//! [`PlacementRules::provider_diversity`] is set. For a *likely-read* object
//! (`p_hot >= hot_threshold`) a candidate is feasible only if `serve(T)` meets the SLA. Keeping a
//! current set that is not a feasible candidate (wrong RF, same provider twice, SLA missed) stays
//! possible — it is the only zero-move option — but costs [`CostConfig::noncompliance_penalty`]
//! extra in the objective.
//!
//! All functions are pure; `now_ms` only enters through the early-deletion age.

use serde::{Deserialize, Serialize};
use tiers::TierProfile;

use crate::error::{Result, invalid};
use crate::features::{DAY_MS, ObjectFeatures};

/// A set of backends as a bit mask over the backend list (bit `i` = backend `i`).
pub type Mask = u16;
/// Most backends a planner instance handles (bits of [`Mask`]).
pub const MAX_BACKENDS: usize = 16;
/// Most candidate replica sets (choices are stored as `u8`, one slot is the current set).
pub const MAX_CANDIDATES: usize = 255;

const BYTES_PER_GB: f64 = 1e9;
/// The shortest window a self-tiering class's storage is priced over ([`CostModel::auto_storage`]): about the
/// life left to an object worth moving, so a copy into the class is weighed against the months its tiers then
/// save. On the tuning seeds of the evaluation family (strata / Intelligent-Tiering, mean and worst), with reads
/// as a Poisson stream: 90 days 0.907, 1.042; 180 days 0.900, 1.011; 270 days 0.901, 1.006; 365 days 0.902,
/// 1.005.
pub const SELF_TIERING_WINDOW_DAYS: f64 = 180.0;

/// One backend the planner may place replicas on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BackendSpec {
    /// The backend's name, as in `ObjectRecord::replicas`.
    pub name: String,
    /// Prices and latency.
    pub profile: TierProfile,
    /// Capacity in bytes for the planned objects, if limited.
    pub capacity_bytes: Option<u64>,
}

/// Replication rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlacementRules {
    /// Replicas per object (RF), at least 1.
    pub replication_factor: usize,
    /// Whether the replicas must be on distinct providers.
    pub provider_diversity: bool,
}

impl Default for PlacementRules {
    fn default() -> Self {
        PlacementRules {
            replication_factor: 2,
            provider_diversity: true,
        }
    }
}

/// Prices of the objective beyond the tier profiles.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct CostConfig {
    /// Planning horizon in days (positive). Default 30.
    pub horizon_days: f64,
    /// First-byte latency SLA in milliseconds. Default 30.
    pub sla_ms: f64,
    /// λ: USD per expected read per millisecond of first-byte latency above the SLA. Default 1e-6.
    pub lambda_latency: f64,
    /// Objects with `p_hot >= hot_threshold` must have a replica within the SLA. Default 0.5.
    pub hot_threshold: f64,
    /// Whether reads pay the serving backend's egress. Default true.
    pub read_egress: bool,
    /// Objective penalty (USD) for keeping a placement that breaks the rules. Default 1.0.
    pub noncompliance_penalty: f64,
    /// The price of being wrong: a move onto a backend with a retrieval fee or a minimum storage duration costs
    /// [`CostConfig::noncompliance_penalty`] extra in the objective unless the probability that the move loses
    /// money within that duration (at least the horizon; [`CostModel::losing_probability`]) is at most this.
    /// So objects that cannot be predicted to stay unread stay where a wrong guess is cheap (no retrieval fee:
    /// a hot tier or a self-tiering class), and go cold anyway only when a capacity leaves no other choice. 1 turns the check off. Default 1.
    #[serde(default = "no_read_risk_limit")]
    pub max_read_risk: f64,
    /// The SLA's price of being wrong: a move onto a backend slower than [`CostConfig::sla_ms`] (or a
    /// self-tiering class whose archive tier is: [`tiers::AutoTiering::archive_latency_ms`]) costs
    /// [`CostConfig::noncompliance_penalty`] extra unless the probability of a read within the horizon (for
    /// such a class: within the window it is priced over, [`SELF_TIERING_WINDOW_DAYS`]) is at most this, so
    /// reads that come unforecast still meet the SLA. 1 turns the check off. Default 1.
    #[serde(default = "no_read_risk_limit")]
    pub max_sla_risk: f64,
}

fn no_read_risk_limit() -> f64 {
    1.0
}

impl Default for CostConfig {
    fn default() -> Self {
        CostConfig {
            horizon_days: 30.0,
            sla_ms: 30.0,
            lambda_latency: 1e-6,
            hot_threshold: 0.5,
            read_egress: true,
            noncompliance_penalty: 1.0,
            max_read_risk: 1.0,
            max_sla_risk: 1.0,
        }
    }
}

impl CostConfig {
    /// Rejects values outside their documented domains.
    pub fn validate(&self) -> Result<()> {
        let ok = self.horizon_days.is_finite()
            && self.horizon_days > 0.0
            && self.sla_ms.is_finite()
            && self.sla_ms >= 0.0
            && self.lambda_latency.is_finite()
            && self.lambda_latency >= 0.0
            && (0.0..=1.0).contains(&self.hot_threshold)
            && self.noncompliance_penalty.is_finite()
            && self.noncompliance_penalty >= 0.0
            && (0.0..=1.0).contains(&self.max_read_risk)
            && (0.0..=1.0).contains(&self.max_sla_risk);
        if ok {
            Ok(())
        } else {
            Err(invalid(format!("cost config out of range: {self:?}")))
        }
    }
}

/// The idle-time prior of an uncalibrated model without a measured hazard: a daily read probability of
/// `IDLE_PRIOR / (idle days + 1)`. At the default read-risk limit of 0.2 it lets an object into a 30-day class
/// once idle 30 days and into a 90-day class once idle 90 days — what an S3 lifecycle rule on idle time does.
pub const IDLE_PRIOR: f64 = 0.22;
/// Days over which the measured hazard is averaged into one daily read probability (the longest minimum storage
/// duration of the default tiers, Glacier IR's 90 days: the window the read-risk check looks at).
const MEAN_OVER_DAYS: u32 = 90;

/// How many times the forecast's expected reads the losing probability of a cold tier assumes
/// ([`CostModel::losing_probability`]). Tuned on the evaluation family's tuning seeds (mean strata / IT, worst
/// workload): 3 gave 0.933 with `viral-late` at 1.152; 10 gave 0.914 with `weekly-reports` at 1.025; 30 gives
/// 0.917, worst 1.019 (the plain read probability before: 0.920, worst 1.018).
pub const READ_COUNT_MARGIN: f64 = 30.0;
/// [`READ_COUNT_MARGIN`] for a tier whose minimum duration outlasts the planning horizon (Glacier IR's 90 days
/// against 30): its losing probability already counts reads over the whole commitment, three horizons of them.
/// Tuned on the tuning seeds with 30 kept for the others (mean strata / IT, worst): 30 gave 0.918, 1.019; 3 gives
/// 0.906, 1.019 (`data-lake` 0.982 → 0.905, `quarterly-audit` 0.954 → 0.894, no workload worse by more than
/// 0.006); 1 gave 0.980 with `viral-late` at 1.419. (Standard-IA at 3 or 1 lost: `viral-late` 1.106, 1.248.)
pub const LONG_COMMITMENT_READ_COUNT_MARGIN: f64 = 3.0;

/// Weight, in reads, of the workload's read share in an object's bytes per read
/// ([`ReadForecast::with_read_share`]).
pub const READ_SHARE_PRIOR_READS: f64 = 2.0;

/// Expected reads of an object over the planning horizon.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReadForecast {
    /// `p_hot` from the model.
    pub p_hot: f64,
    /// Expected reads over the horizon.
    pub expected_reads: f64,
    /// Expected bytes per read.
    pub bytes_per_read: f64,
    /// Days since the object was last read (or written, if never read): where a self-tiering class
    /// (S3 Intelligent-Tiering) bills it now.
    #[serde(default)]
    pub idle_days: f64,
    /// Probability of at least one read on a given day (from `p_hot` on the model's horizon, at a constant
    /// hazard): what [`CostConfig::max_read_risk`] is checked against.
    #[serde(default)]
    pub daily_read_probability: f64,
    /// Days since the object's write (the hazard's age class).
    #[serde(default)]
    pub age_days: f64,
    /// Reads before now over the object's life ([`ObjectFeatures::lifetime_reads`]: the hazard's read-count
    /// class).
    #[serde(default)]
    pub lifetime_reads: u64,
    /// The object's last read interval in days ([`ObjectFeatures::last_gap_ms`]: the hazard's read-interval
    /// class), `None` when not known.
    #[serde(default)]
    pub gap_days: Option<f64>,
}

impl ReadForecast {
    /// The forecast over `horizon_days` from a model with horizon `model_horizon_ms` (`h`):
    /// `p_hot` (a read within `h`) and `reads_per_period` (expected reads within `h`), counting
    /// the horizon in periods of length `h`: `E = reads_per_period · H / h`.
    ///
    /// `p_hot` itself is kept on the model's horizon: it decides "likely read" (the SLA) with the
    /// same threshold the model's precision and recall are reported at. Bytes per read = mean of
    /// the last 7 days' reads, or the object size without reads.
    pub fn new(
        f: &ObjectFeatures,
        p_hot: f64,
        reads_per_period: f64,
        model_horizon_ms: i64,
        horizon_days: f64,
    ) -> ReadForecast {
        let p = if p_hot.is_finite() {
            p_hot.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let per_period = if reads_per_period.is_finite() {
            reads_per_period.max(0.0)
        } else {
            0.0
        };
        let period_days = model_horizon_ms.max(1) as f64 / DAY_MS as f64;
        let periods = horizon_days.max(0.0) / period_days;
        let idle_ms = f
            .since_last_read_ms
            .unwrap_or(f.age_ms)
            .min(f.age_ms)
            .max(0);
        let daily_read_probability = 1.0 - (1.0 - p).powf(1.0 / period_days.max(1e-9));
        ReadForecast {
            daily_read_probability,
            p_hot: p,
            expected_reads: per_period * periods,
            bytes_per_read: f.mean_read_bytes().unwrap_or(f.size_bytes as f64),
            idle_days: idle_ms as f64 / DAY_MS as f64,
            age_days: f.age_ms.max(0) as f64 / DAY_MS as f64,
            lifetime_reads: f.lifetime_reads,
            gap_days: f.last_gap_days,
        }
    }

    /// The expected reads over the horizon from the measured hazard instead of one period's forecast repeated:
    /// the first day's read probability is `p_hot`, each later day's the hazard of the idle time reached then
    /// ([`crate::hazard::HorizonTable`]), times the reads of an active day in the object's last week (at least
    /// 1). Only for a model whose period is one day (the table counts days); other forecasts are returned as
    /// they are. (Not `reads_per_period / p_hot`: the count forest and the probability forest are separate
    /// models, and the ratio explodes where `p_hot` is tiny.)
    pub fn over_horizon(
        mut self,
        table: &crate::hazard::HorizonTable,
        f: &ObjectFeatures,
        model_horizon_ms: i64,
    ) -> ReadForecast {
        if model_horizon_ms != DAY_MS {
            return self;
        }
        let per_active_day = if f.distinct_days_7d > 0 {
            (f64::from(f.reads_7d) / f64::from(f.distinct_days_7d)).max(1.0)
        } else {
            1.0
        };
        self.expected_reads = table.active_days(
            self.p_hot,
            self.idle_days,
            self.age_days,
            self.lifetime_reads,
            self.gap_days,
        ) * per_active_day;
        self
    }

    /// Bytes per read shrunk toward the workload's: a mean of `seen` reads of this object is mixed with
    /// [`READ_SHARE_PRIOR_READS`] reads returning `share` of its `size` (the share over all logged reads,
    /// [`crate::pipeline::read_share`]). One or two ranged reads of a large object say little about the next
    /// ones (a whole-object read among them costs the object's size), so a few samples do not set the price.
    pub fn with_read_share(mut self, size: u64, seen: usize, share: f64) -> ReadForecast {
        let prior = size as f64 * share.clamp(0.0, 1.0);
        let n = seen as f64;
        let k = READ_SHARE_PRIOR_READS;
        self.bytes_per_read = (self.bytes_per_read * n + prior * k) / (n + k);
        self
    }

    /// The forecast of a model whose probabilities are not calibrated (the recency-frequency rule): the daily
    /// read probability is at least what `prior` measured on the access log for objects idle as long and
    /// staying idle over the next [`MEAN_OVER_DAYS`] days ([`crate::hazard::IdleHazard::mean_daily_at`]), or,
    /// without one, [`IDLE_PRIOR`]` / (idle days + 1)` — a read rate that
    /// falls with idle time when idle time is all we know. So a cold tier is chosen early only where the log
    /// shows idle objects stay unread, which is what a sensible rule does before a calibrated model exists.
    pub fn uncalibrated(mut self, prior: Option<&crate::hazard::IdleHazard>) -> ReadForecast {
        let idle = self.idle_days.max(0.0);
        let floor = prior
            .and_then(|h| {
                h.mean_daily_at(
                    idle,
                    self.age_days,
                    self.lifetime_reads,
                    self.gap_days,
                    MEAN_OVER_DAYS,
                )
            })
            .unwrap_or(IDLE_PRIOR / (idle + 1.0));
        self.daily_read_probability = self.daily_read_probability.max(floor);
        self
    }

    /// [`ReadForecast::new`] with the expected reads per period derived from `p_hot` alone
    /// ([`crate::model::reads_given_p_hot`]: expected active periods × reads per active day).
    pub fn from_features(
        f: &ObjectFeatures,
        p_hot: f64,
        model_horizon_ms: i64,
        horizon_days: f64,
    ) -> ReadForecast {
        let per_period = crate::model::reads_given_p_hot(f, p_hot, model_horizon_ms);
        ReadForecast::new(f, p_hot, per_period, model_horizon_ms, horizon_days)
    }
}

/// What the cost model needs to know about one object.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ObjectInput {
    /// Size in bytes.
    pub size_bytes: u64,
    /// Current replica set (non-empty).
    pub current: Mask,
    /// When the current replicas were placed: the write or the last move (early-deletion age, and where a
    /// self-tiering class's idle clock starts).
    pub placed_ms: i64,
    /// Read forecast.
    pub reads: ReadForecast,
}

/// The cost of one target set for one object, by component (USD over the horizon).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CostBreakdown {
    /// Storage of the target replicas.
    pub storage: f64,
    /// GET requests of the expected reads.
    pub read_requests: f64,
    /// Retrieval fees of the expected reads.
    pub read_retrieval: f64,
    /// Egress of the expected reads.
    pub read_egress: f64,
    /// λ × latency above the SLA.
    pub latency_penalty: f64,
    /// GET + PUT requests of the copies.
    pub move_requests: f64,
    /// Retrieval fees of reading the copy sources.
    pub move_retrieval: f64,
    /// Egress of the copies across providers.
    pub move_egress: f64,
    /// Early-deletion fees of the released replicas.
    pub early_deletion: f64,
    /// [`CostConfig::noncompliance_penalty`] when the target adds a backend whose read risk is above
    /// [`CostConfig::max_read_risk`] (see [`CostModel::within_read_risk`]), else 0.
    #[serde(default)]
    pub read_risk_penalty: f64,
}

impl CostBreakdown {
    /// Sum of all components.
    pub fn total(&self) -> f64 {
        self.storage
            + self.read_requests
            + self.read_retrieval
            + self.read_egress
            + self.latency_penalty
            + self.move_requests
            + self.move_retrieval
            + self.move_egress
            + self.early_deletion
            + self.read_risk_penalty
    }

    /// The move part (copies and early deletion).
    pub fn move_cost(&self) -> f64 {
        self.move_requests + self.move_retrieval + self.move_egress + self.early_deletion
    }
}

/// Per-backend prices in the units the model uses.
#[derive(Clone, Debug)]
struct Rates {
    provider: Vec<usize>,
    storage_horizon_gb: Vec<f64>,
    storage_day_gb: Vec<f64>,
    min_days: Vec<f64>,
    get: Vec<f64>,
    put: Vec<f64>,
    retrieval_gb: Vec<f64>,
    egress_gb: Vec<f64>,
    latency: Vec<f64>,
    /// Self-tiering backends (S3 Intelligent-Tiering): billed per object, see [`CostModel::auto_storage`].
    auto: Vec<Option<tiers::AutoTiering>>,
    frequent_gb_month: Vec<f64>,
    /// The smallest size each backend bills an object's storage at (GB), and the largest of them.
    min_billable_gb: Vec<f64>,
    max_min_billable_gb: f64,
}

impl Rates {
    /// The GB an object of `gb` is billed at on backend `b`.
    fn billable_gb(&self, b: usize, gb: f64) -> f64 {
        gb.max(self.min_billable_gb[b])
    }
}

/// The cost model over a fixed list of backends (see the module docs).
#[derive(Clone, Debug)]
pub struct CostModel {
    backends: Vec<BackendSpec>,
    rules: PlacementRules,
    cfg: CostConfig,
    rates: Rates,
    candidates: Vec<Mask>,
    /// Per mask: storage price over the horizon per GB.
    storage_mask: Vec<f64>,
    /// Per mask: the serving backend (`u8::MAX` for the empty mask).
    serve: Vec<u8>,
    /// Per mask: whether it satisfies RF and diversity.
    rule_ok: Vec<bool>,
    /// The self-tiering backends.
    auto_mask: Mask,
    /// The backends slower than the SLA, or whose archive tier is (see [`CostConfig::max_sla_risk`]).
    slow_mask: Mask,
    /// USD per GB-day of the cheapest backend without a retrieval fee or minimum duration (a self-tiering
    /// class at its frequent price): where an object a cold tier would lose money on stays instead.
    safe_day_gb: Option<f64>,
}

impl CostModel {
    /// Builds the model. Fails for no backends, more than [`MAX_BACKENDS`], duplicate names,
    /// non-finite or negative prices, an RF no candidate can satisfy, or more than
    /// [`MAX_CANDIDATES`] candidates.
    pub fn new(backends: Vec<BackendSpec>, rules: PlacementRules, cfg: CostConfig) -> Result<Self> {
        cfg.validate()?;
        let nb = backends.len();
        if nb == 0 || nb > MAX_BACKENDS {
            return Err(invalid(format!(
                "need 1..={MAX_BACKENDS} backends, got {nb}"
            )));
        }
        for (i, b) in backends.iter().enumerate() {
            if backends[..i].iter().any(|o| o.name == b.name) {
                return Err(invalid(format!("duplicate backend name {:?}", b.name)));
            }
            let p = &b.profile;
            let prices = [
                p.storage_gb_month,
                p.put_per_1k,
                p.get_per_1k,
                p.retrieval_per_gb,
                p.egress_per_gb,
                p.first_byte_latency_ms,
            ];
            if prices.iter().any(|x| !x.is_finite() || *x < 0.0) {
                return Err(invalid(format!(
                    "backend {:?} has a negative or non-finite price or latency",
                    b.name
                )));
            }
        }
        if rules.replication_factor == 0 || rules.replication_factor > nb {
            return Err(invalid(format!(
                "replication factor {} impossible with {nb} backends",
                rules.replication_factor
            )));
        }
        let mut providers: Vec<&str> = Vec::new();
        let provider: Vec<usize> = backends
            .iter()
            .map(
                |b| match providers.iter().position(|p| *p == b.profile.provider) {
                    Some(i) => i,
                    None => {
                        providers.push(&b.profile.provider);
                        providers.len() - 1
                    }
                },
            )
            .collect();
        let months = cfg.horizon_days / 30.0;
        let rates = Rates {
            provider,
            storage_horizon_gb: backends
                .iter()
                .map(|b| b.profile.storage_gb_month * months)
                .collect(),
            storage_day_gb: backends
                .iter()
                .map(|b| b.profile.storage_gb_month / 30.0)
                .collect(),
            min_days: backends
                .iter()
                .map(|b| f64::from(b.profile.min_storage_days))
                .collect(),
            get: backends
                .iter()
                .map(|b| b.profile.get_per_1k / 1000.0)
                .collect(),
            put: backends
                .iter()
                .map(|b| b.profile.put_per_1k / 1000.0)
                .collect(),
            retrieval_gb: backends
                .iter()
                .map(|b| b.profile.retrieval_per_gb)
                .collect(),
            egress_gb: backends.iter().map(|b| b.profile.egress_per_gb).collect(),
            latency: backends
                .iter()
                .map(|b| b.profile.first_byte_latency_ms)
                .collect(),
            auto: backends
                .iter()
                .map(|b| b.profile.auto_tiering.clone())
                .collect(),
            frequent_gb_month: backends
                .iter()
                .map(|b| b.profile.storage_gb_month)
                .collect(),
            min_billable_gb: backends
                .iter()
                .map(|b| b.profile.min_billable_bytes as f64 / BYTES_PER_GB)
                .collect(),
            max_min_billable_gb: backends
                .iter()
                .map(|b| b.profile.min_billable_bytes as f64 / BYTES_PER_GB)
                .fold(0.0, f64::max),
        };
        let slow_mask = backends
            .iter()
            .enumerate()
            .filter(|(_, b)| b.profile.slowest_first_byte_ms() > cfg.sla_ms)
            .fold(0 as Mask, |m, (b, _)| m | (1 << b));
        let auto_mask = (0..nb)
            .filter(|&b| rates.auto[b].is_some())
            .fold(0 as Mask, |m, b| m | (1 << b));
        let n_masks = 1usize << nb;
        let mut storage_mask = vec![0.0; n_masks];
        let mut serve = vec![u8::MAX; n_masks];
        let mut rule_ok = vec![false; n_masks];
        let read_gb = |b: usize| {
            rates.retrieval_gb[b]
                + if cfg.read_egress {
                    rates.egress_gb[b]
                } else {
                    0.0
                }
        };
        for mask in 1..n_masks {
            let mut best: Option<usize> = None;
            let mut seen_providers = 0u32;
            let mut diverse = true;
            for b in 0..nb {
                if mask & (1 << b) == 0 {
                    continue;
                }
                if rates.auto[b].is_none() {
                    storage_mask[mask] += rates.storage_horizon_gb[b];
                }
                let pbit = 1u32 << (rates.provider[b] % 32);
                if seen_providers & pbit != 0 {
                    diverse = false;
                }
                seen_providers |= pbit;
                best = match best {
                    None => Some(b),
                    Some(a) => {
                        let key_a = (rates.latency[a], rates.get[a] + read_gb(a));
                        let key_b = (rates.latency[b], rates.get[b] + read_gb(b));
                        if key_b < key_a { Some(b) } else { Some(a) }
                    }
                };
            }
            serve[mask] = best.map_or(u8::MAX, |b| b as u8);
            rule_ok[mask] = (mask as Mask).count_ones() as usize == rules.replication_factor
                && (diverse || !rules.provider_diversity);
        }
        let candidates: Vec<Mask> = (1..n_masks)
            .filter(|&m| rule_ok[m])
            .map(|m| m as Mask)
            .collect();
        if candidates.is_empty() {
            return Err(invalid(format!(
                "no replica set of {} backends satisfies the rules (provider diversity: {})",
                rules.replication_factor, rules.provider_diversity
            )));
        }
        if candidates.len() > MAX_CANDIDATES {
            return Err(invalid(format!(
                "{} candidate replica sets exceed the limit of {MAX_CANDIDATES}",
                candidates.len()
            )));
        }
        let safe_day_gb = (0..nb)
            .filter(|&b| rates.retrieval_gb[b] == 0.0 && rates.min_days[b] == 0.0)
            .map(|b| rates.storage_day_gb[b])
            .min_by(f64::total_cmp);
        Ok(CostModel {
            safe_day_gb,
            backends,
            rules,
            cfg,
            rates,
            candidates,
            storage_mask,
            serve,
            rule_ok,
            auto_mask,
            slow_mask,
        })
    }

    /// The backends, in mask-bit order.
    pub fn backends(&self) -> &[BackendSpec] {
        &self.backends
    }

    /// The replication rules.
    pub fn rules(&self) -> &PlacementRules {
        &self.rules
    }

    /// The cost settings.
    pub fn config(&self) -> &CostConfig {
        &self.cfg
    }

    /// Every candidate replica set (RF backends, provider-diverse if required), ascending.
    pub fn candidates(&self) -> &[Mask] {
        &self.candidates
    }

    /// The mask of the named backends; `None` if a name is unknown.
    pub fn mask_of<S: AsRef<str>>(&self, names: &[S]) -> Option<Mask> {
        let mut mask: Mask = 0;
        for n in names {
            let i = self.backends.iter().position(|b| b.name == n.as_ref())?;
            mask |= 1 << i;
        }
        Some(mask)
    }

    /// Backend names of a mask, fastest first (then by index).
    pub fn names_of(&self, mask: Mask) -> Vec<String> {
        let mut idx: Vec<usize> = (0..self.backends.len())
            .filter(|&b| mask & (1 << b) != 0)
            .collect();
        idx.sort_by(|&a, &b| self.rates.latency[a].total_cmp(&self.rates.latency[b]));
        idx.into_iter()
            .map(|b| self.backends[b].name.clone())
            .collect()
    }

    fn in_range(&self, mask: Mask) -> bool {
        (mask as usize) < self.serve.len()
    }

    /// Whether `mask` satisfies RF and diversity.
    pub fn satisfies_rules(&self, mask: Mask) -> bool {
        self.in_range(mask) && self.rule_ok[mask as usize]
    }

    /// First-byte latency of the replica serving reads from `mask` (`None` for an empty or
    /// out-of-range mask).
    pub fn serving_latency(&self, mask: Mask) -> Option<f64> {
        if !self.in_range(mask) {
            return None;
        }
        let s = self.serve[mask as usize];
        (s != u8::MAX).then(|| self.rates.latency[s as usize])
    }

    /// Whether `mask` has a replica within the SLA.
    pub fn meets_sla(&self, mask: Mask) -> bool {
        self.serving_latency(mask)
            .is_some_and(|l| l <= self.cfg.sla_ms)
    }

    /// Whether the object counts as likely read (the SLA is a hard constraint for it).
    pub fn is_likely_read(&self, reads: &ReadForecast) -> bool {
        reads.p_hot >= self.cfg.hot_threshold
    }

    /// Whether `target` is a feasible choice for `obj`: a candidate, and within the SLA if the
    /// object is likely read.
    pub fn is_feasible(&self, obj: &ObjectInput, target: Mask) -> bool {
        self.satisfies_rules(target) && (!self.is_likely_read(&obj.reads) || self.meets_sla(target))
    }

    /// Whether every backend `target` adds to the object's current set that charges for being wrong (a
    /// retrieval fee, a minimum storage duration) is safe enough: the probability that the object on it loses
    /// money within its minimum duration (at least the horizon; [`CostModel::losing_probability`]) is at most
    /// [`CostConfig::max_read_risk`]; and every one it adds that is slower than the SLA is safe enough for the
    /// SLA: the probability of a read within the horizon is at most [`CostConfig::max_sla_risk`] (for a
    /// self-tiering class whose archive tier is slow: within the window it is priced over, and checked for
    /// staying in it too).
    pub fn within_read_risk(&self, obj: &ObjectInput, target: Mask) -> bool {
        target & self.risk_checked(obj.current) & self.risky_backends(obj) == 0
    }

    /// The backends whose risk a target is checked for when the object is on `current`: those it adds, and a
    /// self-tiering class whose archive tier misses the SLA even when the object is already in it (it stays there
    /// for months, and what is learnt of its reads meanwhile can make it risky).
    fn risk_checked(&self, current: Mask) -> Mask {
        !current | (self.slow_mask & self.auto_mask)
    }

    /// The backends too risky for `obj` (see [`CostModel::within_read_risk`]), as a mask: computed once per
    /// object, then checked against each target with one AND.
    fn risky_backends(&self, obj: &ObjectInput) -> Mask {
        let mut risky = 0;
        if self.cfg.max_sla_risk < 1.0 && self.slow_mask != 0 {
            let daily = obj.reads.daily_read_probability.clamp(0.0, 1.0);
            let p_read = |days: f64| 1.0 - (1.0 - daily).powf(days);
            if p_read(self.cfg.horizon_days) > self.cfg.max_sla_risk {
                risky |= self.slow_mask;
            } else if p_read(self.self_tiering_window_days()) > self.cfg.max_sla_risk {
                // A self-tiering class is slow only in its archive tier, which an object reaches after months
                // idle: it is chosen for its saving over the window it is priced on, and a read anywhere in that
                // window may find it there.
                risky |= self.slow_mask & self.auto_mask;
            }
        }
        if self.cfg.max_read_risk >= 1.0 {
            return risky;
        }
        let r = &self.rates;
        (0..self.backends.len())
            .filter(|&b| r.retrieval_gb[b] > 0.0 || r.min_days[b] > 0.0)
            .filter(|&b| self.losing_probability(obj, b) > self.cfg.max_read_risk)
            .fold(risky, |m, b| m | (1 << b))
    }

    /// The probability that putting `obj` on backend `b` loses money against the cheapest backend without a
    /// retrieval fee or minimum duration (the safe place), over `b`'s minimum duration (at least the horizon):
    /// the probability of more reads than the storage saved pays for at `b`'s retrieval price.
    ///
    /// The number of reads `N` over those days is modelled as over-dispersed (reads come in bursts): a read at
    /// all with probability `p1 = 1 − (1 − daily)^days`, and given one, `N − 1` geometric with the mean that
    /// makes `E[N]` [`READ_COUNT_MARGIN`] ([`LONG_COMMITMENT_READ_COUNT_MARGIN`] for a tier whose minimum duration
    /// outlasts the horizon) times the forecast's expected reads, or times `p1` if that is more
    /// (the forecast's counts are far less reliable than its chance of a read at all, and a read rarely comes
    /// alone). So where one read already costs more than the saving (small
    /// objects, whole-object reads) this is `p1`, the plain chance of a read; where a read costs little against
    /// the object's size (ranged reads of a large object) it takes many reads to lose.
    pub fn losing_probability(&self, obj: &ObjectInput, b: usize) -> f64 {
        let r = &self.rates;
        let days = r.min_days[b].max(self.cfg.horizon_days);
        let daily = obj.reads.daily_read_probability.clamp(0.0, 1.0);
        let p1 = 1.0 - (1.0 - daily).powf(days);
        let per_read =
            r.get[b] + obj.reads.bytes_per_read.max(0.0) / BYTES_PER_GB * r.retrieval_gb[b];
        let Some(safe_day_gb) = self.safe_day_gb else {
            return p1;
        };
        let gb = obj.size_bytes as f64 / BYTES_PER_GB;
        let saving = (gb * safe_day_gb - r.billable_gb(b, gb) * r.storage_day_gb[b]) * days;
        if saving <= 0.0 || p1 <= 0.0 {
            return p1;
        }
        if per_read <= 0.0 {
            return 0.0;
        }
        // Reads that lose: the smallest n with n · per_read > saving.
        let n = (saving / per_read).floor() + 1.0;
        if n <= 1.0 {
            return p1;
        }
        let margin = if r.min_days[b] > self.cfg.horizon_days {
            LONG_COMMITMENT_READ_COUNT_MARGIN
        } else {
            READ_COUNT_MARGIN
        };
        let mean =
            margin * (obj.reads.expected_reads.max(0.0) * days / self.cfg.horizon_days).max(p1);
        let m = (mean / p1 - 1.0).max(0.0);
        p1 * (m / (1.0 + m)).powf(n - 1.0)
    }

    /// The source a new replica on `dest` is copied from when the current set is `current`
    /// (lowest per-GB copy price; see the module docs). `None` for an empty current set.
    pub fn copy_source(&self, current: Mask, dest: usize) -> Option<usize> {
        let mut best: Option<(f64, f64, usize)> = None;
        for s in 0..self.backends.len() {
            if current & (1 << s) == 0 {
                continue;
            }
            let key = (self.copy_price_gb(s, dest), self.rates.get[s], s);
            if best.is_none_or(|b| (key.0, key.1) < (b.0, b.1)) {
                best = Some(key);
            }
        }
        best.map(|b| b.2)
    }

    fn egress_gb(&self, src: usize, dest: usize) -> f64 {
        if self.rates.provider[src] == self.rates.provider[dest] {
            0.0
        } else {
            self.rates.egress_gb[src]
        }
    }

    fn copy_price_gb(&self, src: usize, dest: usize) -> f64 {
        self.rates.retrieval_gb[src] + self.egress_gb(src, dest)
    }

    /// Egress USD per GB of moving an object from `current` to `target` (sum over the new
    /// replicas of the chosen sources' cross-provider egress).
    pub fn move_egress_per_gb(&self, current: Mask, target: Mask) -> f64 {
        let mut total = 0.0;
        for b in 0..self.backends.len() {
            if target & (1 << b) != 0
                && current & (1 << b) == 0
                && let Some(s) = self.copy_source(current, b)
            {
                total += self.egress_gb(s, b);
            }
        }
        total
    }

    /// The cost of keeping `obj` on `target` for the horizon, moving it there from
    /// `obj.current` first (see the module docs). Feasibility is not checked here.
    pub fn breakdown(&self, obj: &ObjectInput, target: Mask, now_ms: i64) -> CostBreakdown {
        let mut c = CostBreakdown::default();
        if !self.in_range(target) || target == 0 {
            return c;
        }
        let gb = obj.size_bytes as f64 / BYTES_PER_GB;
        let r = &self.rates;
        c.storage = self.plain_storage(gb, target);
        let mut auto = target & self.auto_mask;
        while auto != 0 {
            let b = auto.trailing_zeros() as usize;
            c.storage += self.auto_storage(b, obj, now_ms);
            auto &= auto - 1;
        }
        let s = self.serve[target as usize] as usize;
        let reads = obj.reads.expected_reads.max(0.0);
        let read_gb = obj.reads.bytes_per_read.max(0.0) / BYTES_PER_GB;
        c.read_requests = reads * r.get[s];
        c.read_retrieval = reads * read_gb * r.retrieval_gb[s];
        if self.cfg.read_egress {
            c.read_egress = reads * read_gb * r.egress_gb[s];
        }
        c.latency_penalty =
            self.cfg.lambda_latency * reads * (r.latency[s] - self.cfg.sla_ms).max(0.0);
        if !self.within_read_risk(obj, target) {
            c.read_risk_penalty = self.cfg.noncompliance_penalty;
        }
        if target == obj.current {
            return c;
        }
        let age_days = (now_ms.saturating_sub(obj.placed_ms)).max(0) as f64 / DAY_MS as f64;
        for b in 0..self.backends.len() {
            let bit = 1 << b;
            let in_t = target & bit != 0;
            let in_c = obj.current & bit != 0;
            if in_t && !in_c {
                if let Some(src) = self.copy_source(obj.current, b) {
                    c.move_requests += r.get[src] + r.put[b];
                    c.move_retrieval += gb * r.retrieval_gb[src];
                    c.move_egress += gb * self.egress_gb(src, b);
                }
            } else if in_c && !in_t {
                c.early_deletion += r.billable_gb(b, gb)
                    * r.storage_day_gb[b]
                    * (r.min_days[b] - age_days).max(0.0);
            }
        }
        c
    }

    /// Fills `out[k]` with the total cost of `targets[k]` for `obj` — the same numbers as
    /// [`CostModel::cost`], computed with per-object precomputation for speed (used to build
    /// million-object problems). `out` must be at least as long as `targets`; extra entries are
    /// left alone.
    pub fn fill_costs(&self, obj: &ObjectInput, targets: &[Mask], now_ms: i64, out: &mut [f64]) {
        let nb = self.backends.len();
        let r = &self.rates;
        let gb = obj.size_bytes as f64 / BYTES_PER_GB;
        let reads = obj.reads.expected_reads.max(0.0);
        let read_gb = obj.reads.bytes_per_read.max(0.0) / BYTES_PER_GB;
        let age_days = (now_ms.saturating_sub(obj.placed_ms)).max(0) as f64 / DAY_MS as f64;
        // Per backend: cost of adding it (copy) or of releasing it (early deletion).
        let risky = self.risky_backends(obj);
        let mut auto_cost = [0.0f64; MAX_BACKENDS];
        let mut auto = self.auto_mask;
        while auto != 0 {
            let b = auto.trailing_zeros() as usize;
            auto_cost[b] = self.auto_storage(b, obj, now_ms);
            auto &= auto - 1;
        }
        let mut delta = [0.0f64; MAX_BACKENDS];
        for (b, d) in delta.iter_mut().enumerate().take(nb) {
            if obj.current & (1 << b) != 0 {
                *d = r.billable_gb(b, gb)
                    * r.storage_day_gb[b]
                    * (r.min_days[b] - age_days).max(0.0);
            } else if let Some(src) = self.copy_source(obj.current, b) {
                *d = r.get[src] + r.put[b] + gb * self.copy_price_gb(src, b);
            }
        }
        for (k, &target) in targets.iter().enumerate() {
            let Some(slot) = out.get_mut(k) else { break };
            if !self.in_range(target) || target == 0 {
                *slot = 0.0;
                continue;
            }
            let s = self.serve[target as usize] as usize;
            let per_read = r.get[s]
                + read_gb
                    * (r.retrieval_gb[s]
                        + if self.cfg.read_egress {
                            r.egress_gb[s]
                        } else {
                            0.0
                        });
            let mut total = self.plain_storage(gb, target)
                + reads * per_read
                + self.cfg.lambda_latency * reads * (r.latency[s] - self.cfg.sla_ms).max(0.0);
            let mut auto = target & self.auto_mask;
            while auto != 0 {
                let b = auto.trailing_zeros() as usize;
                total += auto_cost[b];
                auto &= auto - 1;
            }
            if target & self.risk_checked(obj.current) & risky != 0 {
                total += self.cfg.noncompliance_penalty;
            }
            let mut changed = target ^ obj.current;
            while changed != 0 {
                let b = changed.trailing_zeros() as usize;
                total += delta[b];
                changed &= changed - 1;
            }
            *slot = total;
        }
    }

    /// Storage over the horizon (USD) of an object of `gb` on the backends of `target` that are not
    /// self-tiering, each billing at least its minimum object size.
    fn plain_storage(&self, gb: f64, target: Mask) -> f64 {
        let r = &self.rates;
        if gb >= r.max_min_billable_gb {
            return gb * self.storage_mask[target as usize];
        }
        let mut plain = target & !self.auto_mask;
        let mut total = 0.0;
        while plain != 0 {
            let b = plain.trailing_zeros() as usize;
            total += r.billable_gb(b, gb) * r.storage_horizon_gb[b];
            plain &= plain - 1;
        }
        total
    }

    /// The days a self-tiering class is priced over, at least ([`SELF_TIERING_WINDOW_DAYS`], or the horizon if
    /// longer).
    fn self_tiering_window_days(&self) -> f64 {
        self.cfg.horizon_days.max(SELF_TIERING_WINDOW_DAYS)
    }

    /// Storage over the horizon (USD) of `obj` on the self-tiering backend `b`, monitoring included, as of
    /// `now_ms`.
    ///
    /// The class counts an object's idle days from its last access, its write or its arrival in the class,
    /// whichever is latest: an object already on `b` is as idle as the later of its last read and
    /// [`ObjectInput::placed_ms`]; one copied in by this move starts in the frequent tier with a fresh clock.
    /// Storage is priced over a window `W = max(H, archive delay, SELF_TIERING_WINDOW_DAYS)` and counted as its
    /// mean per horizon, `· H / W`: the class saves only after its delays, so over a horizon shorter than them a
    /// copy into it would never pay, however long the object then stays idle. The `E` expected reads over the
    /// horizon are taken as a Poisson stream over the window, each read putting the object back in the frequent
    /// tier ([`tiers::AutoTiering::expected_storage_gb`]): an object read now and then still spends part of its
    /// time in the cheaper tiers. Objects under the monitoring threshold always pay the frequent price and no
    /// fee.
    pub fn auto_storage(&self, b: usize, obj: &ObjectInput, now_ms: i64) -> f64 {
        let Some(at) = self.rates.auto.get(b).and_then(|a| a.as_ref()) else {
            return 0.0;
        };
        let gb = obj.size_bytes as f64 / BYTES_PER_GB;
        let h = self.cfg.horizon_days;
        let frequent = self.rates.frequent_gb_month[b];
        if obj.size_bytes < at.min_monitored_bytes {
            return gb * frequent * h / 30.0;
        }
        let idle = if obj.current & (1 << b) != 0 {
            let placed = now_ms.saturating_sub(obj.placed_ms).max(0) as f64 / DAY_MS as f64;
            obj.reads.idle_days.max(0.0).min(placed)
        } else {
            0.0
        };
        // The class's saving comes after its delays: priced over a window of months, as a mean per horizon (a copy
        // in would otherwise never pay within a horizon shorter than the delays).
        let w = self.self_tiering_window_days().max(at.archive_after_days);
        let reads_per_day = obj.reads.expected_reads.max(0.0) / h;
        let per_gb = at.expected_storage_gb(frequent, idle, w, reads_per_day) * h / w;
        gb * per_gb + at.monitoring_per_1k_objects_month / 1000.0 * h / 30.0
    }

    /// Total cost of `target` for `obj` (the sum of [`CostModel::breakdown`]).
    pub fn cost(&self, obj: &ObjectInput, target: Mask, now_ms: i64) -> f64 {
        self.breakdown(obj, target, now_ms).total()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aws_std() -> BackendSpec {
        BackendSpec {
            name: "aws-std".into(),
            profile: TierProfile::s3_standard(),
            capacity_bytes: None,
        }
    }

    fn aws_gir() -> BackendSpec {
        BackendSpec {
            name: "aws-gir".into(),
            profile: TierProfile::s3_glacier_ir(),
            capacity_bytes: None,
        }
    }

    fn other_std() -> BackendSpec {
        let mut p = TierProfile::s3_standard();
        p.provider = "other".into();
        p.egress_per_gb = 0.05;
        p.first_byte_latency_ms = 40.0;
        BackendSpec {
            name: "other-std".into(),
            profile: p,
            capacity_bytes: None,
        }
    }

    fn model(rf: usize, diversity: bool) -> CostModel {
        CostModel::new(
            vec![aws_std(), aws_gir(), other_std()],
            PlacementRules {
                replication_factor: rf,
                provider_diversity: diversity,
            },
            CostConfig::default(),
        )
        .expect("model")
    }

    fn obj(current: Mask, p_hot: f64, reads: f64) -> ObjectInput {
        ObjectInput {
            size_bytes: 10_000_000_000, // 10 GB
            current,
            placed_ms: 0,
            reads: ReadForecast {
                p_hot,
                expected_reads: reads,
                bytes_per_read: 1e9,
                idle_days: 0.0,
                age_days: 0.0,
                lifetime_reads: 0,
                gap_days: None,
                daily_read_probability: p_hot,
            },
        }
    }

    /// A backend without a capacity.
    fn spec(name: &str, profile: TierProfile) -> BackendSpec {
        BackendSpec {
            name: name.into(),
            profile,
            capacity_bytes: None,
        }
    }

    /// One replica, no provider diversity.
    fn single_copy() -> PlacementRules {
        PlacementRules {
            replication_factor: 1,
            provider_diversity: false,
        }
    }

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-9, "{a} != {b}");
    }

    #[test]
    fn candidates_follow_rf_and_diversity() {
        // Backends: 0 aws-std, 1 aws-gir, 2 other-std.
        assert_eq!(model(2, true).candidates(), &[0b101, 0b110]);
        assert_eq!(model(2, false).candidates(), &[0b011, 0b101, 0b110]);
        assert_eq!(model(1, true).candidates(), &[0b001, 0b010, 0b100]);
        assert!(
            CostModel::new(
                vec![aws_std()],
                PlacementRules::default(),
                CostConfig::default()
            )
            .is_err()
        );
        assert!(
            CostModel::new(
                vec![aws_std(), aws_gir()],
                PlacementRules::default(),
                CostConfig::default()
            )
            .is_err(),
            "two backends of one provider cannot be diverse"
        );
    }

    #[test]
    fn storage_and_reads_hand_computed() {
        let m = model(2, true);
        let o = obj(0b101, 0.9, 100.0);
        let c = m.breakdown(&o, 0b101, 0);
        // 10 GB on two STANDARD-priced tiers for 30 days.
        close(c.storage, 10.0 * (0.023 + 0.023));
        // Served by aws-std (20 ms < 40 ms): 100 GETs, 100 GB out at 0.09, no retrieval.
        close(c.read_requests, 100.0 * 0.0004 / 1000.0);
        close(c.read_retrieval, 0.0);
        close(c.read_egress, 100.0 * 0.09);
        close(c.latency_penalty, 0.0);
        close(c.move_cost(), 0.0);
        assert!(m.meets_sla(0b101));
    }

    #[test]
    fn a_small_object_is_billed_at_the_minimum_size_of_its_class() {
        let specs = vec![
            spec("std", TierProfile::s3_standard()),
            spec("gir", TierProfile::s3_glacier_ir()),
        ];
        let rules = single_copy();
        let m = CostModel::new(specs, rules, CostConfig::default()).expect("model");
        let obj = |size: u64| ObjectInput {
            size_bytes: size,
            current: 0b10,
            placed_ms: 0,
            reads: ReadForecast {
                p_hot: 0.0,
                expected_reads: 0.0,
                bytes_per_read: 0.0,
                idle_days: 100.0,
                age_days: 100.0,
                lifetime_reads: 0,
                gap_days: None,
                daily_read_probability: 0.0,
            },
        };
        let h = CostConfig::default().horizon_days / 30.0;
        let kb = 1024u64;
        // 4 KB on Glacier IR costs what 128 KB does; on Standard what 4 KB does.
        close(
            m.breakdown(&obj(4 * kb), 0b10, 200 * DAY_MS).storage,
            0.004 * h * 128.0 * kb as f64 / 1e9,
        );
        close(
            m.breakdown(&obj(4 * kb), 0b01, 200 * DAY_MS).storage,
            0.023 * h * 4.0 * kb as f64 / 1e9,
        );
        let mut out = [0.0; 2];
        m.fill_costs(&obj(4 * kb), &[0b01, 0b10], 200 * DAY_MS, &mut out);
        close(out[1], m.cost(&obj(4 * kb), 0b10, 200 * DAY_MS));
        // Released early from Glacier IR, 4 KB pays the rest of 90 days of 128 KB.
        let mut young = obj(4 * kb);
        young.placed_ms = 200 * DAY_MS - 30 * DAY_MS;
        close(
            m.breakdown(&young, 0b01, 200 * DAY_MS).early_deletion,
            0.004 / 30.0 * 60.0 * 128.0 * kb as f64 / 1e9,
        );
    }

    #[test]
    fn early_deletion_and_cross_provider_egress() {
        let m = model(2, true);
        // From {aws-gir, other-std} to {aws-std, other-std}, 20 days after placement.
        let mut o = obj(0b110, 0.0, 0.0);
        o.placed_ms = 0;
        let now = 20 * DAY_MS;
        let c = m.breakdown(&o, 0b101, now);
        // New replica aws-std: sources aws-gir (same provider: retrieval 0.03/GB, no egress) or
        // other-std (egress 0.05/GB). Cheapest per GB: other-std at 0.05 < 0.03? No: 0.03 < 0.05.
        assert_eq!(m.copy_source(0b110, 0), Some(1));
        close(c.move_retrieval, 10.0 * 0.03);
        close(c.move_egress, 0.0);
        close(c.move_requests, 0.01 / 1000.0 + 0.005 / 1000.0);
        // Releasing aws-gir 20 days in: 70 remaining days of 0.004/GB-month.
        close(c.early_deletion, 10.0 * 0.004 / 30.0 * 70.0);
        // After the minimum duration there is no fee.
        close(m.breakdown(&o, 0b101, 100 * DAY_MS).early_deletion, 0.0);

        // From {aws-std, aws-gir} (non-diverse) to {aws-std, other-std}: other-std must be copied
        // across providers; aws-std (0.09 egress, no retrieval) beats aws-gir (0.03 + 0.09).
        let o2 = obj(0b011, 0.0, 0.0);
        assert_eq!(m.copy_source(0b011, 2), Some(0));
        let c2 = m.breakdown(&o2, 0b101, 200 * DAY_MS);
        close(c2.move_egress, 10.0 * 0.09);
        close(c2.move_retrieval, 0.0);
        close(m.move_egress_per_gb(0b011, 0b101), 0.09);
    }

    #[test]
    fn sla_and_latency_penalty() {
        let cfg = CostConfig {
            sla_ms: 30.0,
            lambda_latency: 0.001,
            ..CostConfig::default()
        };
        let m = CostModel::new(
            vec![aws_std(), aws_gir(), other_std()],
            PlacementRules::default(),
            cfg,
        )
        .expect("model");
        // {aws-gir 50 ms, other-std 40 ms}: served by other-std, 10 ms over the SLA.
        assert!(!m.meets_sla(0b110));
        assert_eq!(m.serving_latency(0b110), Some(40.0));
        let hot = obj(0b101, 0.9, 50.0);
        close(
            m.breakdown(&hot, 0b110, 0).latency_penalty,
            0.001 * 50.0 * 10.0,
        );
        assert!(
            !m.is_feasible(&hot, 0b110),
            "likely-read object needs a replica within SLA"
        );
        assert!(m.is_feasible(&hot, 0b101));
        let cold = obj(0b101, 0.1, 0.1);
        assert!(m.is_feasible(&cold, 0b110));
        assert!(!m.is_feasible(&cold, 0b011), "same provider twice");
    }

    #[test]
    fn fast_costs_match_breakdown() {
        let m = model(2, false);
        let targets: Vec<Mask> = (1..8).collect();
        for current in 1..8u16 {
            for &(p_hot, reads) in &[(0.0, 0.0), (0.7, 12.0)] {
                let mut o = obj(current, p_hot, reads);
                o.placed_ms = 3 * DAY_MS;
                let mut out = vec![0.0; targets.len()];
                m.fill_costs(&o, &targets, 40 * DAY_MS, &mut out);
                for (k, &t) in targets.iter().enumerate() {
                    close(out[k], m.cost(&o, t, 40 * DAY_MS));
                }
            }
        }
    }

    fn it_model(max_read_risk: f64) -> CostModel {
        CostModel::new(
            vec![
                spec("std", TierProfile::s3_standard()),
                spec("gir", TierProfile::s3_glacier_ir()),
                spec("it", TierProfile::s3_intelligent_tiering()),
            ],
            single_copy(),
            CostConfig {
                horizon_days: 30.0,
                sla_ms: 100.0,
                read_egress: false,
                max_read_risk,
                ..CostConfig::default()
            },
        )
        .expect("model")
    }

    /// With an SLA the slow cold tier cannot meet, a move onto it (or onto a self-tiering class whose archive
    /// tier cannot) is risky unless a read within the horizon is unlikely enough; the limit off, it is not.
    #[test]
    fn a_tier_slower_than_the_sla_needs_a_read_to_be_unlikely() {
        let specs = |archive: Option<f64>| {
            let mut it = TierProfile::s3_intelligent_tiering();
            if let Some(a) = it.auto_tiering.as_mut() {
                a.archive_latency_ms = archive;
            }
            let mut gir = TierProfile::s3_glacier_ir();
            gir.first_byte_latency_ms = 150.0;
            vec![
                spec("std", TierProfile::s3_standard()),
                spec("gir", gir),
                spec("it", it),
            ]
        };
        let rules = single_copy();
        let model = |archive: Option<f64>, max_sla_risk: f64| {
            let cfg = CostConfig {
                sla_ms: 100.0,
                max_sla_risk,
                ..CostConfig::default()
            };
            CostModel::new(specs(archive), rules, cfg).expect("model")
        };
        let mut o = obj(0b001, 0.0, 0.0);
        // About a 3 % chance of a read in 30 days.
        o.reads.daily_read_probability = 0.001;
        let m = model(None, 0.005);
        assert!(!m.within_read_risk(&o, 0b010), "150 ms Glacier IR");
        assert!(m.within_read_risk(&o, 0b100), "IT answers within the SLA");
        let slow_it = model(Some(150.0), 0.005);
        assert!(
            !slow_it.within_read_risk(&o, 0b100),
            "IT's archive tier does not"
        );
        // A read unlikely enough, or the limit off: allowed.
        let mut idle = o;
        idle.reads.daily_read_probability = 0.0001;
        assert!(m.within_read_risk(&idle, 0b010));
        // A slow archive tier is checked over the class's pricing window (180 days: a 1.8 % chance here), a
        // plainly slow tier over the horizon (0.3 %).
        assert!(!slow_it.within_read_risk(&idle, 0b100));
        idle.reads.daily_read_probability = 0.00002;
        assert!(slow_it.within_read_risk(&idle, 0b100));
        // Already in the slow class, staying is checked too (what is learnt of its reads while it stays there can
        // make it risky: a quarterly job against a 90-day archive delay); a plainly slow tier is not.
        let mut inside = o;
        inside.current = 0b100;
        assert!(!slow_it.within_read_risk(&inside, 0b100));
        let targets = [0b001, 0b100];
        let mut out = [0.0; 2];
        slow_it.fill_costs(&inside, &targets, 0, &mut out);
        for (t, c) in targets.iter().zip(out) {
            close(c, slow_it.cost(&inside, *t, 0));
        }
        assert!(out[1] >= 1.0, "staying pays the penalty: {out:?}");
        inside.reads.daily_read_probability = 0.00002;
        assert!(slow_it.within_read_risk(&inside, 0b100));
        let mut in_gir = o;
        in_gir.current = 0b010;
        assert!(m.within_read_risk(&in_gir, 0b010));
        assert!(model(Some(150.0), 1.0).within_read_risk(&o, 0b100));
        assert!(model(None, 1.0).within_read_risk(&o, 0b010));
        // A limit outside [0, 1] is refused.
        let bad = CostConfig {
            max_sla_risk: 1.5,
            ..CostConfig::default()
        };
        assert!(bad.validate().is_err());
    }

    /// Intelligent-Tiering is billed per object: an idle object at the price of the access tier its idle time
    /// reaches (hand-computed, as a mean per 30-day horizon over the 180-day window), its clock starting at the
    /// later of its last read and its arrival in the class (a copy in starts afresh); reads as a Poisson stream
    /// that sends it back to the frequent tier; an object that will surely be read at the frequent price, small
    /// objects at the frequent price without monitoring; never a retrieval fee.
    #[test]
    fn intelligent_tiering_storage_follows_idle_time_and_reads() {
        let m = it_model(1.0);
        let now = 200 * DAY_MS;
        let fee = 0.0025 / 1000.0;
        let mut o = obj(0b100, 0.0, 0.0);
        o.size_bytes = 1_000_000_000;
        // In the class since long ago, idle 45 days, no read expected: 45 days at IA, then 135 at archive.
        o.reads.idle_days = 45.0;
        close(
            m.auto_storage(2, &o, now),
            (45.0 * 0.0125 + 135.0 * 0.004) / 180.0 + fee,
        );
        // Copied in 10 days ago: its clock is at 10 days (20 days frequent, 60 IA, 100 archive).
        o.placed_ms = now - 10 * DAY_MS;
        close(
            m.auto_storage(2, &o, now),
            (20.0 * 0.023 + 60.0 * 0.0125 + 100.0 * 0.004) / 180.0 + fee,
        );
        // Not in the class yet: a copy in starts at day 0 (30 days frequent, 60 IA, 90 archive).
        o.current = 0b001;
        close(
            m.auto_storage(2, &o, now),
            (30.0 * 0.023 + 60.0 * 0.0125 + 90.0 * 0.004) / 180.0 + fee,
        );
        // One read expected per horizon: idle past 30 days on days 30..180 with probability e^−1, past 90 days
        // on days 90..180 with probability e^−3.
        o.reads.expected_reads = 1.0;
        let (past30, past90) = (150.0 * (-1.0f64).exp(), 90.0 * (-3.0f64).exp());
        close(
            m.auto_storage(2, &o, now),
            (180.0 * 0.023 - past30 * (0.023 - 0.0125) - past90 * (0.0125 - 0.004)) / 180.0 + fee,
        );
        // Surely read (many expected reads): frequent throughout.
        o.reads.expected_reads = 50.0;
        assert!((m.auto_storage(2, &o, now) - (0.023 + fee)).abs() < 1e-6);
        // Under 128 KB: frequent, no fee.
        o.size_bytes = 100_000;
        close(m.auto_storage(2, &o, now), 100_000.0 / 1e9 * 0.023);
        o.placed_ms = 0;
        // The breakdown and the fast path agree, and reads from IT pay no retrieval.
        o.size_bytes = 1_000_000_000;
        o.reads.expected_reads = 3.0;
        o.reads.idle_days = 60.0;
        let targets = m.candidates().to_vec();
        let mut out = vec![0.0; targets.len()];
        m.fill_costs(&o, &targets, 0, &mut out);
        for (t, c) in targets.iter().zip(&out) {
            close(*c, m.cost(&o, *t, 0));
        }
        assert_eq!(m.breakdown(&o, 0b100, 0).read_retrieval, 0.0);
        assert!(m.breakdown(&o, 0b010, 0).read_retrieval > 0.0);
    }

    /// The price of being wrong: a cold tier is feasible only when the read probability within its minimum
    /// duration is at most the limit; tiers without retrieval fee or minimum duration are always feasible.
    #[test]
    fn read_risk_keeps_uncertain_objects_out_of_cold_tiers() {
        let m = it_model(0.2);
        let mut o = obj(0b001, 0.0, 0.0);
        o.reads.bytes_per_read = 1e10; // whole-object reads: the second one loses what 90 days save
        let penalty = m.config().noncompliance_penalty;
        let risky = |m: &CostModel, o: &ObjectInput, t: Mask| {
            let b = m.breakdown(o, t, 0);
            let mut fast = [0.0];
            m.fill_costs(o, &[t], 0, &mut fast);
            close(fast[0], b.total());
            b.read_risk_penalty > 0.0
        };
        // 1% a day: 1 - 0.99^90 = 59% within Glacier IR's 90 days.
        o.reads.daily_read_probability = 0.01;
        assert!(!m.within_read_risk(&o, 0b010));
        assert!(risky(&m, &o, 0b010));
        assert!(m.cost(&o, 0b010, 0) >= penalty);
        assert!(m.is_feasible(&o, 0b010), "a capacity may still force it");
        assert!(!risky(&m, &o, 0b100), "IT has no retrieval fee");
        // 0.1% a day: 8.6% within 90 days.
        o.reads.daily_read_probability = 0.001;
        assert!(!risky(&m, &o, 0b010));
        // Staying where it is never counts as a new risk.
        o.current = 0b010;
        o.reads.daily_read_probability = 0.5;
        assert!(!risky(&m, &o, 0b010));
        // Without a calibrated model, the idle time sets a floor: 10 idle days is ~9% a day.
        let prior = ReadForecast {
            p_hot: 0.0,
            expected_reads: 0.0,
            bytes_per_read: 1e10,
            idle_days: 10.0,
            age_days: 0.0,
            lifetime_reads: 0,
            gap_days: None,
            daily_read_probability: 0.0,
        }
        .uncalibrated(None);
        close(prior.daily_read_probability, IDLE_PRIOR / 11.0);
        // No limit: no penalty.
        let fresh = ObjectInput {
            reads: prior,
            current: 0b001,
            ..o
        };
        assert!(!risky(&it_model(1.0), &fresh, 0b010));
        assert!(risky(&m, &fresh, 0b010));
    }

    /// The price of being wrong counts what a wrong guess costs: where one read already costs more than the cold
    /// tier saves (whole-object reads), the losing probability is the plain chance of a read; where reads are
    /// small ranges of a large object, it takes many reads to lose, so an object that may well be read can still
    /// go cold — unless the forecast expects many reads.
    #[test]
    fn losing_probability_counts_the_reads_a_cold_tier_can_afford() {
        let m = it_model(0.2);
        let gir = 1;
        let mut o = obj(0b001, 0.0, 0.0);
        // 1% a day: 59% chance of a read within Glacier IR's 90 days.
        o.reads.daily_read_probability = 0.01;
        let p1 = 1.0 - 0.99f64.powf(90.0);
        // Reads of 20 GB (a whole-object read and more): one read (0.60 USD) costs more than 90 days save
        // (10 GB × 0.019 USD × 3 months).
        o.reads.bytes_per_read = 2e10;
        o.reads.expected_reads = 0.2;
        close(m.losing_probability(&o, gir), p1);
        // Whole-object reads (0.30 USD): the second one loses, and a read may well bring another.
        o.reads.bytes_per_read = 1e10;
        let lose = m.losing_probability(&o, gir);
        assert!(lose < p1 && lose > 0.2, "{lose} vs {p1}");
        assert!(!m.within_read_risk(&o, 0b010));
        // Reads of 1 MB: losing takes about 14,000 reads.
        o.reads.bytes_per_read = 1e6;
        assert!(m.losing_probability(&o, gir) < 1e-6);
        assert!(m.within_read_risk(&o, 0b010));
        // ... unless they are expected by the thousand.
        o.reads.expected_reads = 5_000.0;
        assert!(m.losing_probability(&o, gir) > 0.2);
        assert!(!m.within_read_risk(&o, 0b010));
        // Intelligent-Tiering and Standard are never risky; a tier that saves nothing loses at the first read.
        assert!(m.within_read_risk(&o, 0b100));
        let mut gir_only = it_model(0.2);
        gir_only.safe_day_gb = None;
        close(gir_only.losing_probability(&o, gir), p1);
    }

    /// A few sampled reads do not set an object's bytes per read: they are mixed with two reads of the workload's
    /// share of the object.
    #[test]
    fn bytes_per_read_shrink_toward_the_workload_share() {
        let f = ObjectFeatures::compute(
            1_000_000,
            0,
            crate::features::AccessHistory::new(&[DAY_MS], &[1_000]).expect("history"),
            2 * DAY_MS,
            &crate::features::FeatureConfig::default(),
        );
        let r = ReadForecast::from_features(&f, 0.5, DAY_MS, 30.0);
        close(r.bytes_per_read, 1_000.0);
        // One read of 1 KB, a workload share of 0.5: (1 KB + 2 × 500 KB) / 3.
        close(
            r.with_read_share(1_000_000, 1, 0.5).bytes_per_read,
            (1_000.0 + 2.0 * 500_000.0) / 3.0,
        );
        // Without reads: the workload's share of the object.
        close(
            r.with_read_share(1_000_000, 0, 0.25).bytes_per_read,
            250_000.0,
        );
    }

    #[test]
    fn read_forecast() {
        let mut f = ObjectFeatures::compute(
            5000,
            0,
            crate::features::AccessHistory::EMPTY,
            DAY_MS,
            &Default::default(),
        );
        // Never read, p = 0.5 per day: half of the 30 days are expected active, one read each.
        let r = ReadForecast::from_features(&f, 0.5, DAY_MS, 30.0);
        close(r.expected_reads, 15.0);
        close(r.bytes_per_read, 5000.0);
        // 7 reads on 2 distinct days: 3.5 reads per active day.
        f.reads_24h = 2;
        f.reads_7d = 7;
        f.distinct_days_7d = 2;
        f.bytes_read_7d = 700;
        let r = ReadForecast::from_features(&f, 0.5, DAY_MS, 30.0);
        close(r.expected_reads, 0.5 * 30.0 * 3.5);
        close(r.bytes_per_read, 100.0);
        assert_eq!(r.p_hot, 0.5, "p_hot stays on the model's horizon");
        // A learned count per day: 2 reads a day for 30 days; a negative or NaN count is 0.
        close(
            ReadForecast::new(&f, 0.5, 2.0, DAY_MS, 30.0).expected_reads,
            60.0,
        );
        close(
            ReadForecast::new(&f, 0.5, f64::NAN, DAY_MS, 30.0).expected_reads,
            0.0,
        );
        // A 30-day model horizon: one period, 30 days x 3.5 reads per day in it.
        let r = ReadForecast::from_features(&f, 0.5, 30 * DAY_MS, 30.0);
        close(r.expected_reads, 0.5 * 105.0);
        assert_eq!(
            ReadForecast::from_features(&f, f64::NAN, DAY_MS, 30.0).p_hot,
            0.0
        );
    }

    /// Over the horizon, a read yesterday is worth what the log says reads after one are worth, not one
    /// day's forecast repeated.
    #[test]
    fn the_horizon_forecast_follows_the_measured_hazard() {
        use crate::features::{HistoryBuilder, ObjectBasics};
        // Old objects read once, on day 100: the log says such objects are not read again.
        let now = 200 * DAY_MS;
        let objects = vec![
            ObjectBasics {
                size_bytes: 1 << 20,
                last_modified_ms: 0,
                lifetime_reads: 0,
                read_gaps: Default::default(),
                moved_ms: 0,
            };
            400
        ];
        let mut b = HistoryBuilder::with_capacity(400);
        for i in 0..400u32 {
            b.push(i, 100 * DAY_MS + i64::from(i) * 1000, 1 << 20);
        }
        let h = b.finish(400).expect("histories");
        let hazard = crate::hazard::IdleHazard::fit(&objects, &h, now, None).expect("fit");
        let table = hazard.horizon_table(30.0).expect("table");
        // One object of that age read 2 hours ago, scored by the rule (p_hot about 0.6, 1 read a day).
        let mut hb = HistoryBuilder::with_capacity(1);
        hb.push(0, now - 2 * 3_600_000, 1 << 20);
        let hist = hb.finish(1).expect("history");
        let f = ObjectFeatures::compute(
            1 << 20,
            0,
            hist.get(0),
            now,
            &crate::features::FeatureConfig::default(),
        );
        let repeated = ReadForecast::from_features(&f, 0.6, DAY_MS, 30.0);
        assert!(repeated.expected_reads > 15.0, "{repeated:?}");
        let r = repeated.over_horizon(&table, &f, DAY_MS);
        assert!(
            r.expected_reads >= 0.6,
            "the first day keeps its own probability: {r:?}"
        );
        assert!(r.expected_reads < 2.0, "{r:?}");
        // A forest's tiny p_hot beside its separate count forest's reads does not blow the forecast up.
        let forest =
            ReadForecast::new(&f, 1e-12, 0.05, DAY_MS, 30.0).over_horizon(&table, &f, DAY_MS);
        assert!(forest.expected_reads < 2.0, "{forest:?}");
        // A model whose period is not a day is left as it is.
        let weekly = ReadForecast::from_features(&f, 0.6, 7 * DAY_MS, 30.0);
        assert_eq!(weekly.over_horizon(&table, &f, 7 * DAY_MS), weekly);
    }
}
