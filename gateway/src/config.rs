//! Gateway configuration: an optional TOML file, overridden by command-line flags.
//!
//! With no file at all, [`Config::default`] is the embedded default: S3 on 127.0.0.1:9000, admin on
//! 127.0.0.1:9001, data under `./strata-data`, three local-disk backends `hot`, `warm`, `cold` with the tier
//! profiles of S3 Standard, Standard-IA and Glacier Instant Retrieval, and new objects on `hot`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use backends::TierProfile;
use serde::Deserialize;

/// Everything the gateway needs to start. Unknown TOML fields are refused so that a typo fails fast.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the catalog, keys, credentials and local backends live.
    pub data_dir: PathBuf,
    /// Listen address of the S3 endpoint.
    pub s3_addr: SocketAddr,
    /// Listen address of the admin API.
    pub admin_addr: SocketAddr,
    /// Region reported by GetBucketLocation and accepted in signatures.
    pub region: String,
    /// Domains for virtual-hosted-style requests (`bucket.domain`); empty means path-style only.
    pub domains: Vec<String>,
    /// Extra S3 users besides the root credentials.
    pub users: Vec<UserConfig>,
    /// Storage backends; empty means the embedded default (hot, warm, cold on local disk).
    pub backends: Vec<BackendConfig>,
    /// Where new objects go.
    pub placement: PlacementConfig,
    /// Heat and access-log settings.
    pub catalog: CatalogSettings,
    /// Fault injection rules installed at start (changeable at run time through the admin API).
    pub chaos: chaos::ChaosConfig,
}

/// One S3 user.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    pub access_key: String,
    pub secret_key: String,
    /// `full` (default) or `read-only`.
    #[serde(default)]
    pub access: AccessLevel,
}

/// What a user may do.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AccessLevel {
    #[default]
    Full,
    ReadOnly,
}

/// One storage backend. Only `kind = "local"` exists so far.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackendConfig {
    pub name: String,
    pub kind: BackendKind,
    /// Directory for `local` backends; relative paths are taken from the data dir.
    pub path: Option<PathBuf>,
    /// Tier profile: a preset name (`s3-standard`, `s3-standard-ia`, `s3-glacier-ir`)...
    pub tier: Option<String>,
    /// ...or a full profile.
    pub profile: Option<TierProfile>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    Local,
}

/// Initial placement of new objects.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlacementConfig {
    /// Backends that receive every new object (its replicas), in order.
    pub initial: Vec<String>,
}

impl Default for PlacementConfig {
    fn default() -> Self {
        Self {
            initial: vec!["hot".to_owned()],
        }
    }
}

/// Heat decay and access-log retention.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CatalogSettings {
    pub heat_half_life_secs: u64,
    pub access_log_retention_secs: u64,
    pub access_log_max_entries: u64,
    /// Longest delay before recorded accesses reach the catalog.
    pub flush_interval_ms: u64,
}

impl Default for CatalogSettings {
    fn default() -> Self {
        Self {
            heat_half_life_secs: 24 * 3600,
            access_log_retention_secs: 7 * 24 * 3600,
            access_log_max_entries: 5_000_000,
            flush_interval_ms: 200,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./strata-data"),
            s3_addr: SocketAddr::from(([127, 0, 0, 1], 9000)),
            admin_addr: SocketAddr::from(([127, 0, 0, 1], 9001)),
            region: "us-east-1".to_owned(),
            domains: Vec::new(),
            users: Vec::new(),
            backends: Vec::new(),
            placement: PlacementConfig::default(),
            catalog: CatalogSettings::default(),
            chaos: chaos::ChaosConfig::default(),
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

impl Config {
    /// Reads and validates a TOML file.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let config: Config = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        Ok(config)
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
            kind: BackendKind::Local,
            path: None,
            tier: Some(tier.to_owned()),
            profile: None,
        })
        .collect()
    }

    /// Checks cross-field rules that serde cannot express.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |field: &str, message: String| ConfigError::Invalid {
            field: field.to_owned(),
            message,
        };
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
        }
        crate::s3::host::Domains::new(&self.domains).map_err(|m| invalid("domains", m))?;
        if self.placement.initial.is_empty() {
            return Err(invalid(
                "placement.initial",
                "needs at least one backend".to_owned(),
            ));
        }
        for (i, name) in self.placement.initial.iter().enumerate() {
            if !names.contains(name) {
                return Err(invalid(
                    &format!("placement.initial[{i}]"),
                    format!("unknown backend {name:?}"),
                ));
            }
        }
        let mut keys = std::collections::HashSet::new();
        for (i, u) in self.users.iter().enumerate() {
            if u.access_key.len() < 3 || u.secret_key.len() < 8 {
                return Err(invalid(
                    &format!("users[{i}]"),
                    "access_key needs >= 3 characters and secret_key >= 8".to_owned(),
                ));
            }
            if !keys.insert(u.access_key.clone()) {
                return Err(invalid(
                    &format!("users[{i}].access_key"),
                    format!("duplicate user {:?}", u.access_key),
                ));
            }
        }
        let known: Vec<&str> = backends.iter().map(|b| b.name.as_str()).collect();
        self.chaos
            .validate(&known)
            .map_err(|e| invalid(&format!("chaos.{}", e.field()), e.to_string()))?;
        if self.catalog.heat_half_life_secs == 0 {
            return Err(invalid(
                "catalog.heat_half_life_secs",
                "must be > 0".to_owned(),
            ));
        }
        Ok(())
    }
}

/// The tier profile of a backend: its explicit profile, or a named preset.
pub fn resolve_profile(b: &BackendConfig) -> Result<TierProfile, String> {
    match (&b.profile, b.tier.as_deref()) {
        (Some(p), _) => Ok(p.clone()),
        (None, Some("s3-standard")) => Ok(TierProfile::s3_standard()),
        (None, Some("s3-standard-ia")) => Ok(TierProfile::s3_standard_ia()),
        (None, Some("s3-glacier-ir")) => Ok(TierProfile::s3_glacier_ir()),
        (None, Some(other)) => Err(format!(
            "unknown tier {other:?} (known: s3-standard, s3-standard-ia, s3-glacier-ir; or give a [profile])"
        )),
        (None, None) => Err("needs `tier` or `profile`".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_is_valid_and_has_three_tiers() {
        let c = Config::default();
        c.validate().unwrap();
        let names: Vec<_> = c.effective_backends().into_iter().map(|b| b.name).collect();
        assert_eq!(names, ["hot", "warm", "cold"]);
        assert_eq!(c.placement.initial, ["hot"]);
    }

    #[test]
    fn unknown_field_is_refused_with_its_name() {
        let err = toml::from_str::<Config>("s3_adr = \"127.0.0.1:1\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("s3_adr"), "{err}");
    }

    #[test]
    fn placement_on_unknown_backend_names_the_field() {
        let c: Config = toml::from_str("[placement]\ninitial = [\"nowhere\"]").unwrap();
        let err = c.validate().unwrap_err().to_string();
        assert!(
            err.contains("placement.initial[0]") && err.contains("nowhere"),
            "{err}"
        );
    }

    #[test]
    fn users_parse_with_access_levels() {
        let c: Config = toml::from_str(
            "[[users]]\naccess_key = \"reader\"\nsecret_key = \"reader-secret\"\naccess = \"read-only\"\n",
        )
        .unwrap();
        c.validate().unwrap();
        assert_eq!(c.users[0].access, AccessLevel::ReadOnly);
    }

    #[test]
    fn chaos_section_is_validated_against_backends() {
        let c: Config = toml::from_str(
            "[[chaos.rules]]\nbackend = \"hot\"\nfault = { type = \"error\", status = 503 }\nprobability = 0.5\n",
        )
        .unwrap();
        c.validate().unwrap();
        assert_eq!(c.chaos.rules.len(), 1);
        let bad: Config =
            toml::from_str("[[chaos.rules]]\nbackend = \"nowhere\"\nfault = { type = \"down\" }\n")
                .unwrap();
        let err = bad.validate().unwrap_err().to_string();
        assert!(err.contains("chaos.rules[0].backend"), "{err}");
    }

    #[test]
    fn unknown_tier_is_refused() {
        let c: Config =
            toml::from_str("[[backends]]\nname = \"hot\"\nkind = \"local\"\ntier = \"diamond\"\n")
                .unwrap();
        let err = c.validate().unwrap_err().to_string();
        assert!(
            err.contains("backends[0].tier") && err.contains("diamond"),
            "{err}"
        );
    }
}
