//! The engine's configuration: backends, placement policy, catalog, fault injection, retries, scrub and planner.
//!
//! These are sections of the gateway's TOML file (the front adds listen addresses, users and domains); they are
//! deserialised here with `deny_unknown_fields`, so a typo fails fast, and [`EngineConfig::validate`] checks the
//! rules serde cannot express, naming the field at fault.

use std::path::PathBuf;

use serde::Deserialize;
use tiers::TierProfile;

pub use crate::planning::PlannerSettings;

/// What an engine needs to open: the engine's sections of the configuration.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Where the catalog, keys and local backends live.
    pub data_dir: PathBuf,
    /// Region reported by GetBucketLocation and accepted in signatures.
    pub region: String,
    /// Storage backends; empty means the embedded default (hot, warm, cold on local disk).
    pub backends: Vec<BackendConfig>,
    /// Where new objects go.
    pub placement: PlacementConfig,
    /// Heat and access-log settings.
    pub catalog: CatalogSettings,
    /// The shared catalog of a cluster (`postgres://USER[:PASSWORD]@HOST:PORT/DB`); `None`: the embedded redb
    /// catalog in `data_dir`.
    pub catalog_url: Option<String>,
    /// The cluster's master key: seals what the shared catalog stores (backend keyrings). Required with
    /// `catalog_url`.
    pub master_key: Option<crate::secrets::MasterKey>,
    /// Where this node serves S3, as its heartbeat tells the other nodes (informational).
    pub node_addr: String,
    /// Access events to Kafka (off without brokers).
    pub events: crate::events::EventsSettings,
    /// Settings that apply with a shared catalog.
    pub cluster: crate::cluster::ClusterSettings,
    /// Fault injection rules installed at start (changeable at run time).
    pub chaos: chaos::ChaosConfig,
    /// Retries of backend calls on 429/500/503/timeouts.
    pub retry: backends::retry::RetryPolicy,
    /// Background scrub-and-heal.
    pub scrub: ScrubSettings,
    /// The buckets' lifecycle rules, carried out in the background.
    pub lifecycle: LifecycleSettings,
    /// The placement planner.
    pub planner: PlannerSettings,
}

impl EngineConfig {
    /// The embedded default over `data_dir`: three local-disk tiers, new objects on `hot`.
    pub fn embedded(data_dir: PathBuf) -> EngineConfig {
        EngineConfig {
            data_dir,
            region: "us-east-1".to_owned(),
            backends: Vec::new(),
            placement: PlacementConfig::default(),
            catalog: CatalogSettings::default(),
            catalog_url: None,
            master_key: None,
            node_addr: String::new(),
            events: crate::events::EventsSettings::default(),
            cluster: crate::cluster::ClusterSettings::default(),
            chaos: chaos::ChaosConfig::default(),
            retry: backends::retry::RetryPolicy::default(),
            scrub: ScrubSettings::default(),
            lifecycle: LifecycleSettings::default(),
            planner: PlannerSettings::default(),
        }
    }

    /// The backends to open: the configured ones, or the embedded default.
    pub fn effective_backends(&self) -> Vec<BackendConfig> {
        if !self.backends.is_empty() {
            return self.backends.clone();
        }
        [
            ("hot", "s3-standard"),
            ("warm", "s3-standard-ia"),
            ("cold", "s3-glacier-ir"),
        ]
        .into_iter()
        .map(|(name, tier)| BackendConfig {
            name: name.to_owned(),
            tier: Some(tier.to_owned()),
            profile: None,
            capacity_bytes: None,
            store: backends::cloud::StoreSpec::Local(backends::cloud::LocalSpec {
                path: PathBuf::from("backends").join(name),
            }),
        })
        .collect()
    }

    /// The placement policy with defaults applied, checked against the backends.
    pub fn placement(&self) -> Result<Placement, ConfigError> {
        let invalid = |field: &str, message: String| ConfigError::Invalid {
            field: field.to_owned(),
            message,
        };
        let backends = self.effective_backends();
        let provider_of = |name: &str| -> Option<String> {
            backends
                .iter()
                .find(|b| b.name == name)
                .and_then(|b| resolve_profile(b).ok())
                .map(|p| p.provider)
        };
        let providers: std::collections::BTreeSet<String> = backends
            .iter()
            .filter_map(|b| resolve_profile(b).ok())
            .map(|p| p.provider)
            .collect();
        let p = &self.placement;
        let diversity = p.provider_diversity.unwrap_or(providers.len() > 1);
        let rf = match p.replication_factor {
            Some(0) => {
                return Err(invalid(
                    "placement.replication_factor",
                    "must be at least 1".to_owned(),
                ));
            }
            Some(n) => n,
            None if !p.initial.is_empty() => p.initial.len(),
            None => {
                if providers.len() > 1 {
                    2
                } else {
                    1
                }
            }
        };
        let initial = if p.initial.is_empty() {
            // The first backends in config order that keep providers distinct when required.
            let mut chosen: Vec<String> = Vec::new();
            for b in &backends {
                if chosen.len() == rf {
                    break;
                }
                let prov = provider_of(&b.name);
                if diversity && chosen.iter().any(|c| provider_of(c) == prov) {
                    continue;
                }
                chosen.push(b.name.clone());
            }
            chosen
        } else {
            p.initial.clone()
        };
        for (i, name) in initial.iter().enumerate() {
            if provider_of(name).is_none() {
                return Err(invalid(
                    &format!("placement.initial[{i}]"),
                    format!("unknown backend {name:?}"),
                ));
            }
        }
        if initial.len() != rf {
            return Err(invalid(
                "placement.initial",
                format!(
                    "{} backend(s) {:?} for replication_factor {rf}{}",
                    initial.len(),
                    initial,
                    if diversity {
                        " with provider diversity"
                    } else {
                        ""
                    }
                ),
            ));
        }
        let distinct: std::collections::BTreeSet<_> = initial.iter().collect();
        if distinct.len() != initial.len() {
            return Err(invalid(
                "placement.initial",
                "a backend is listed twice".to_owned(),
            ));
        }
        if diversity {
            let provs: std::collections::BTreeSet<_> =
                initial.iter().map(|n| provider_of(n)).collect();
            if provs.len() != initial.len() {
                return Err(invalid(
                    "placement.provider_diversity",
                    format!("the initial backends {initial:?} share a provider"),
                ));
            }
        }
        if let Some(sla) = p.latency_sla_ms
            && (sla.is_nan() || sla <= 0.0)
        {
            return Err(invalid(
                "placement.latency_sla_ms",
                "must be > 0".to_owned(),
            ));
        }
        Ok(Placement {
            initial,
            replication_factor: rf,
            provider_diversity: diversity,
            latency_sla_ms: p.latency_sla_ms,
        })
    }

    /// Checks cross-field rules that serde cannot express.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |field: &str, message: String| ConfigError::Invalid {
            field: field.to_owned(),
            message,
        };
        if let Some((field, message)) = self.events.invalid() {
            return Err(invalid(field, message));
        }
        let backends = self.effective_backends();
        let mut names = std::collections::HashSet::new();
        for (i, b) in backends.iter().enumerate() {
            if b.name.is_empty()
                || !b
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(invalid(
                    &format!("backends[{i}].name"),
                    format!(
                        "{:?} must be non-empty ASCII letters, digits, '-' or '_'",
                        b.name
                    ),
                ));
            }
            if !names.insert(b.name.clone()) {
                return Err(invalid(
                    &format!("backends[{i}].name"),
                    format!("duplicate backend {:?}", b.name),
                ));
            }
            resolve_profile(b).map_err(|m| invalid(&format!("backends[{i}].tier"), m))?;
            if b.capacity_bytes == Some(0) {
                return Err(invalid(
                    &format!("backends[{i}].capacity_bytes"),
                    "must be positive (leave it out for no limit)".to_owned(),
                ));
            }
        }
        self.placement()?;
        self.retry
            .validate()
            .map_err(|e| invalid("retry", e.to_string()))?;
        let known: Vec<&str> = backends.iter().map(|b| b.name.as_str()).collect();
        self.chaos
            .validate(&known)
            .map_err(|e| invalid(&format!("chaos.{}", e.field()), e.to_string()))?;
        let p = &self.planner;
        if !(p.model_horizon_hours.is_finite() && p.model_horizon_hours >= 1.0) {
            return Err(invalid(
                "planner.model_horizon_hours",
                format!("must be at least 1, got {}", p.model_horizon_hours),
            ));
        }
        if !(0.0..=1.0).contains(&p.max_read_risk) {
            return Err(invalid(
                "planner.max_read_risk",
                format!("must be in [0, 1], got {}", p.max_read_risk),
            ));
        }
        if !(0.0..=1.0).contains(&p.max_sla_risk) {
            return Err(invalid(
                "planner.max_sla_risk",
                format!("must be in [0, 1], got {}", p.max_sla_risk),
            ));
        }
        if !(p.horizon_days.is_finite() && p.horizon_days > 0.0) {
            return Err(invalid(
                "planner.horizon_days",
                format!("must be positive, got {}", p.horizon_days),
            ));
        }
        if self.catalog.heat_half_life_secs == 0 {
            return Err(invalid(
                "catalog.heat_half_life_secs",
                "must be > 0".to_owned(),
            ));
        }
        Ok(())
    }
}

/// How often and how fast the scrubber re-reads replicas.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScrubSettings {
    /// Seconds between the starts of two passes; 0 turns the background scrubber off (`POST /admin/scrub` still
    /// runs one pass on demand).
    pub interval_secs: u64,
    /// Replica parts checked per second at most.
    pub rate_per_sec: u32,
    /// Bytes read per second at most, averaged over the pass (0: no byte limit). A part is one blob of up to the
    /// whole object, so the part rate alone does not pace a store of large objects: at 50 parts a second a pass
    /// over 64 MiB objects may read up to 3.2 GB/s, as much as the disk gives, and open every frame, beside the
    /// gateway's own traffic. Default 32 MiB/s: 2.6 TiB a day at most.
    pub bytes_per_sec: u64,
}

/// How often the buckets' lifecycle rules are carried out ([`crate::lifecycle`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LifecycleSettings {
    /// Seconds between two passes over every bucket with rules; 0 turns the background passes off
    /// (`POST /admin/lifecycle/run` still runs one on demand). S3 counts lifecycle days to midnight UTC and
    /// carries rules out within a day or so; the default is an hour.
    pub interval_secs: u64,
}

impl Default for LifecycleSettings {
    fn default() -> Self {
        Self {
            interval_secs: 3600,
        }
    }
}

/// [`ScrubSettings::bytes_per_sec`]'s default: 32 MiB/s.
pub const DEFAULT_SCRUB_BYTES_PER_SEC: u64 = 32 << 20;

impl Default for ScrubSettings {
    fn default() -> Self {
        Self {
            interval_secs: 24 * 3600,
            rate_per_sec: 50,
            bytes_per_sec: DEFAULT_SCRUB_BYTES_PER_SEC,
        }
    }
}

/// One storage backend: a name, a tier profile and where its bytes live (`kind` and its fields, see
/// `backends::cloud::StoreSpec`: `local {path}`, `s3 {endpoint, bucket, region, access_key_env, ...}`,
/// `azure {endpoint, account, container, access_key_env, ...}`, `gcs {endpoint, bucket, anonymous, ...}`).
/// Unknown fields are still refused: whatever this struct does not take reaches the spec, which refuses it.
#[derive(Debug, Clone, Deserialize)]
pub struct BackendConfig {
    pub name: String,
    /// Tier profile: a preset name from `backends::prices` (`aws-s3-standard`, `azure-cool`, `gcs-coldline`, ...)...
    #[serde(default)]
    pub tier: Option<String>,
    /// ...or a full profile.
    #[serde(default)]
    pub profile: Option<TierProfile>,
    /// Most plaintext bytes the planner may place on this backend (None: unlimited). New writes are not refused
    /// when it is exceeded; the planner moves objects off it.
    #[serde(default)]
    pub capacity_bytes: Option<u64>,
    #[serde(flatten)]
    pub store: backends::cloud::StoreSpec,
}

/// Placement policy.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlacementConfig {
    /// Backends that receive every new object (its replicas), in order. Default: the first `replication_factor`
    /// backends in config order that satisfy provider diversity.
    pub initial: Vec<String>,
    /// Replicas per object. Default: 1 when all backends share one provider, else 2.
    pub replication_factor: Option<usize>,
    /// Replicas of one object on distinct providers. Default: true when several providers exist.
    pub provider_diversity: Option<bool>,
    /// First-byte latency (ms) that objects likely to be read must get from at least one replica.
    pub latency_sla_ms: Option<f64>,
}

/// The placement policy with its defaults filled in.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema, serde::Deserialize)]
pub struct Placement {
    pub initial: Vec<String>,
    pub replication_factor: usize,
    pub provider_diversity: bool,
    pub latency_sla_ms: Option<f64>,
}

/// Heat decay and access-log retention.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CatalogSettings {
    pub heat_half_life_secs: u64,
    pub access_log_retention_secs: u64,
    pub access_log_max_entries: u64,
    /// Longest delay before recorded accesses reach the catalog. Each flush is one catalog write transaction, which
    /// holds the catalog's write lock while it runs: a short interval keeps it small, so a PUT's or DELETE's commit
    /// waits less behind it (measured in the README's benchmark section).
    pub flush_interval_ms: u64,
    /// MiB of the embedded catalog's page cache (the OS page cache holds the rest of the file).
    pub cache_mib: u64,
}

impl Default for CatalogSettings {
    fn default() -> Self {
        Self {
            heat_half_life_secs: 24 * 3600,
            access_log_retention_secs: 14 * 24 * 3600,
            access_log_max_entries: 5_000_000,
            flush_interval_ms: 50,
            cache_mib: 128,
        }
    }
}

/// A configuration problem, naming the field at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid config: {field}: {message}")]
    Invalid { field: String, message: String },
}

/// The tier profile of a backend: its explicit profile, or a preset of the default price table.
pub fn resolve_profile(b: &BackendConfig) -> Result<TierProfile, String> {
    match (&b.profile, b.tier.as_deref()) {
        (Some(p), _) => Ok(p.clone()),
        (None, Some(name)) => backends::prices::preset(name).ok_or_else(|| {
            format!(
                "unknown tier {name:?} (known: {}; or give a [profile])",
                backends::prices::preset_names().join(", ")
            )
        }),
        (None, None) => Err("needs `tier` or `profile`".to_owned()),
    }
}
