//! Gateway configuration: an optional TOML file, overridden by command-line flags.
//!
//! With no file at all, [`Config::default`] is the embedded default: S3 on 127.0.0.1:9000, admin on
//! 127.0.0.1:9001, data under `./strata-data`, three local-disk backends `hot`, `warm`, `cold` with the tier
//! profiles of S3 Standard, Standard-IA and Glacier Instant Retrieval, and new objects on `hot`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

pub use engine::config::{
    BackendConfig, CatalogSettings, ConfigError, EngineConfig, PlacementConfig, ScrubSettings,
};
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
    /// The Object Ownership of a bucket created without `x-amz-object-ownership`: `BucketOwnerEnforced` (the
    /// default, as S3's since 2023: ACLs disabled), `BucketOwnerPreferred` or `ObjectWriter` (ACLs count, as they
    /// did on S3 before 2023 and do on Ceph).
    pub default_object_ownership: catalog::ObjectOwnership,
    /// Storage backends; empty means the embedded default (hot, warm, cold on local disk).
    pub backends: Vec<BackendConfig>,
    /// Where new objects go.
    pub placement: PlacementConfig,
    /// Heat and access-log settings.
    pub catalog: CatalogSettings,
    /// The shared catalog of a cluster: `postgres://USER[:PASSWORD]@HOST:PORT/DB`. Without it, the embedded
    /// redb catalog in `data_dir`. Overridden by `--catalog-url` / `STRATA_CATALOG_URL`.
    pub catalog_url: Option<String>,
    /// File holding the cluster's master key (a Fernet key), which seals the backend keys and credentials the
    /// shared catalog stores. `STRATA_MASTER_KEY` overrides it. Required with `catalog_url`.
    pub master_key_file: Option<PathBuf>,
    /// Fault injection rules installed at start (changeable at run time through the admin API).
    pub chaos: chaos::ChaosConfig,
    /// Retries of backend calls on 429/500/503/timeouts: `max_attempts`, `base_ms`, `max_delay_ms`,
    /// `max_elapsed_ms`, `attempt_timeout_ms`.
    pub retry: backends::retry::RetryPolicy,
    /// Background scrub-and-heal.
    pub scrub: ScrubSettings,
    /// The buckets' lifecycle rules: `interval_secs` (3600; 0: only `POST /admin/lifecycle/run`).
    pub lifecycle: engine::config::LifecycleSettings,
    /// The placement planner.
    pub planner: engine::config::PlannerSettings,
    /// Access events to Kafka: `kafka_brokers = ["127.0.0.1:9092"]`, `topic = "strata.events"`.
    pub events: engine::events::EventsSettings,
    /// With a shared catalog: `orphan_min_age_secs` (3600), `garbage_grace_secs` (600).
    pub cluster: engine::cluster::ClusterSettings,
}

/// One S3 user.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    pub access_key: String,
    pub secret_key: String,
    /// `full` (default), `read-only`, or `own` (an account of its own, see [`AccessLevel::Own`]).
    #[serde(default)]
    pub access: AccessLevel,
    /// Per-bucket grants. Absent: every bucket (within `access`). Present: only what a grant allows on the
    /// buckets it names (an empty list allows nothing but ListBuckets).
    #[serde(default)]
    pub grants: Option<Vec<Grant>>,
}

/// What a grant allows on its buckets. Each S3 operation needs one (see `s3::auth::permission_of`).
#[derive(
    Debug, Clone, Copy, Deserialize, PartialEq, Eq, serde::Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Permission {
    /// Read objects: GET, HEAD, their tags, attributes and ACL (and be a copy source).
    Read,
    /// Write objects: PUT, copy into, delete, multipart uploads, POST forms, object tags and ACLs.
    Write,
    /// List the bucket: ListObjects (v1, v2, versions), ListMultipartUploads, HeadBucket, GetBucketLocation.
    List,
    /// Manage the bucket: create, delete, and its configuration (CORS, tags, ACL, ownership, public-access block,
    /// versioning).
    Admin,
}

/// One per-bucket grant: `bucket` is a bucket name, or a name prefix ending in `*` (`"team-*"`, or `"*"` for every
/// bucket).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    pub bucket: String,
    pub allow: Vec<Permission>,
}

impl Grant {
    /// Whether this grant names `bucket`.
    pub fn covers(&self, bucket: &str) -> bool {
        match self.bucket.strip_suffix('*') {
            Some(prefix) => bucket.starts_with(prefix),
            None => bucket == self.bucket,
        }
    }

    /// Whether this grant allows `permission` on `bucket`.
    pub fn allows(&self, bucket: &str, permission: Permission) -> bool {
        self.covers(bucket) && self.allow.contains(&permission)
    }

    /// Refuses a grant that names no bucket (or puts `*` anywhere but at the end) or allows nothing.
    pub fn check(&self) -> Result<(), String> {
        let name = self.bucket.strip_suffix('*').unwrap_or(&self.bucket);
        if self.bucket.is_empty() || name.contains('*') {
            return Err(format!(
                "bucket {:?}: a bucket name, or a prefix ending in one '*'",
                self.bucket
            ));
        }
        if self.allow.is_empty() {
            return Err("allow needs at least one of read, write, list, admin".to_owned());
        }
        Ok(())
    }
}

/// What a user may do.
#[derive(
    Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq, serde::Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum AccessLevel {
    /// Every operation, on the buckets its grants name (every bucket without grants), and on those it owns.
    #[default]
    Full,
    /// Read operations only, on the buckets its grants name (every bucket without grants).
    ReadOnly,
    /// An account of its own, as a separate AWS account is: it creates buckets and has full control of those it
    /// owns; ListBuckets shows only those; it reaches another's bucket or object only where a bucket policy or an
    /// ACL grants it. Its grants, if any, are ignored.
    Own,
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
            default_object_ownership: catalog::ObjectOwnership::BucketOwnerEnforced,
            backends: Vec::new(),
            placement: PlacementConfig::default(),
            catalog: CatalogSettings::default(),
            catalog_url: None,
            master_key_file: None,
            chaos: chaos::ChaosConfig::default(),
            retry: backends::retry::RetryPolicy::default(),
            scrub: ScrubSettings::default(),
            lifecycle: engine::config::LifecycleSettings::default(),
            planner: engine::config::PlannerSettings::default(),
            events: engine::events::EventsSettings::default(),
            cluster: engine::cluster::ClusterSettings::default(),
        }
    }
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

    /// The cluster's master key: `STRATA_MASTER_KEY`, else the contents of `master_key_file`, else none.
    pub fn master_key(&self) -> Result<Option<engine::secrets::MasterKey>, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            field: "master_key_file".to_owned(),
            message,
        };
        let text = match (std::env::var("STRATA_MASTER_KEY"), &self.master_key_file) {
            (Ok(v), _) if !v.is_empty() => v,
            (_, Some(path)) => std::fs::read_to_string(path)
                .map_err(|e| invalid(format!("cannot read {}: {e}", path.display())))?,
            _ => return Ok(None),
        };
        engine::secrets::MasterKey::parse(&text)
            .map(Some)
            .map_err(|m| invalid(format!("{m} (STRATA_MASTER_KEY or the file)")))
    }

    /// The engine's sections of this configuration.
    pub fn engine(&self) -> EngineConfig {
        EngineConfig {
            data_dir: self.data_dir.clone(),
            region: self.region.clone(),
            backends: self.backends.clone(),
            placement: self.placement.clone(),
            catalog: self.catalog.clone(),
            catalog_url: self.catalog_url.clone(),
            // Read from the environment or a file by `master_key()`, at start.
            master_key: None,
            node_addr: self.s3_addr.to_string(),
            events: self.events.clone(),
            cluster: self.cluster.clone(),
            chaos: self.chaos.clone(),
            retry: self.retry.clone(),
            scrub: self.scrub.clone(),
            lifecycle: self.lifecycle.clone(),
            planner: self.planner.clone(),
        }
    }

    /// Checks cross-field rules that serde cannot express: the engine's, then the front's (domains, users).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |field: &str, message: String| ConfigError::Invalid {
            field: field.to_owned(),
            message,
        };
        self.engine().validate()?;
        crate::s3::host::Domains::new(&self.domains).map_err(|m| invalid("domains", m))?;
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
            for (j, g) in u.grants.iter().flatten().enumerate() {
                g.check()
                    .map_err(|m| invalid(&format!("users[{i}].grants[{j}]"), m))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_parse_and_bad_ones_are_refused() {
        let parse = |grants: &str| {
            let toml = format!(
                "[[users]]\naccess_key = \"carol\"\nsecret_key = \"carol-secret\"\ngrants = {grants}\n"
            );
            toml::from_str::<Config>(&toml)
                .map_err(|e| e.to_string())
                .and_then(|c| c.validate().map(|()| c).map_err(|e| e.to_string()))
        };
        let c = parse(r#"[{ bucket = "team-*", allow = ["read", "list"] }, { bucket = "x", allow = ["admin"] }]"#)
            .expect("valid grants");
        let g = c.users[0].grants.as_ref().expect("grants");
        assert!(g[0].allows("team-a", Permission::Read) && g[0].allows("team-", Permission::List));
        assert!(
            !g[0].allows("team-a", Permission::Write) && !g[0].allows("teams", Permission::Read)
        );
        assert!(g[1].allows("x", Permission::Admin) && !g[1].allows("xy", Permission::Admin));
        assert!(parse("[]").is_ok_and(|c| c.users[0].grants == Some(Vec::new())));
        for bad in [
            r#"[{ bucket = "", allow = ["read"] }]"#,
            r#"[{ bucket = "a*b", allow = ["read"] }]"#,
            r#"[{ bucket = "**", allow = ["read"] }]"#,
            r#"[{ bucket = "ok", allow = [] }]"#,
            r#"[{ bucket = "ok", allow = ["delete"] }]"#,
            r#"[{ bucket = "ok", allow = ["read"], extra = 1 }]"#,
        ] {
            assert!(parse(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn embedded_default_is_valid_and_has_three_tiers() {
        let c = Config::default();
        c.validate().unwrap();
        let names: Vec<_> = c
            .engine()
            .effective_backends()
            .into_iter()
            .map(|b| b.name)
            .collect();
        assert_eq!(names, ["hot", "warm", "cold"]);
        let p = c.engine().placement().unwrap();
        assert_eq!(p.initial, ["hot"]);
        assert_eq!(p.replication_factor, 1);
        assert!(!p.provider_diversity);
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
    fn capacity_is_optional_and_positive() {
        let base = "[[backends]]\nname = \"a\"\nkind = \"local\"\npath = \"a\"\ntier = \"aws-s3-standard\"\n";
        let c: Config = toml::from_str(&format!("{base}capacity_bytes = 1000\n")).unwrap();
        c.validate().unwrap();
        assert_eq!(
            c.engine().effective_backends()[0].capacity_bytes,
            Some(1000)
        );
        let c: Config = toml::from_str(&format!("{base}capacity_bytes = 0\n")).unwrap();
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("backends[0].capacity_bytes"), "{err}");
        let c: Config = toml::from_str(base).unwrap();
        assert_eq!(c.engine().effective_backends()[0].capacity_bytes, None);
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
        let c: Config = toml::from_str(
            "[[backends]]\nname = \"hot\"\nkind = \"local\"\npath = \"h\"\ntier = \"diamond\"\n",
        )
        .unwrap();
        let err = c.validate().unwrap_err().to_string();
        assert!(
            err.contains("backends[0].tier") && err.contains("diamond"),
            "{err}"
        );
    }
}

/// Property tests: random and mutated TOML never panics the parser or `validate`, and invalid values are refused
/// with an error naming the field.
#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    /// A valid config touching every section.
    const VALID: &str = r#"
data_dir = "./d"
s3_addr = "127.0.0.1:9000"
admin_addr = "127.0.0.1:9001"
region = "us-east-1"
domains = ["s3.local"]

[[users]]
access_key = "reader"
secret_key = "reader-secret-123"
access = "read-only"

[[backends]]
name = "hot"
kind = "local"
path = "backends/hot"
tier = "aws-s3-standard"

[[backends]]
name = "cool"
kind = "local"
path = "backends/cool"
tier = "azure-cool"

[placement]
replication_factor = 2
provider_diversity = true
initial = ["hot", "cool"]

[retry]
max_attempts = 4
base_ms = 100
max_delay_ms = 2000
max_elapsed_ms = 10000

[scrub]
interval_secs = 86400
rate_per_sec = 50
bytes_per_sec = 33554432

[lifecycle]
interval_secs = 3600

[catalog]
heat_half_life_secs = 86400
flush_interval_ms = 200

[[chaos.rules]]
backend = "hot"
ops = ["get"]
fault = { type = "error", status = 503 }
probability = 0.2
max_count = 100
"#;

    /// Parses and validates like `strata serve` does; the error text, if any.
    fn load(text: &str) -> Result<Config, String> {
        let c: Config = toml::from_str(text).map_err(|e| e.to_string())?;
        c.validate().map_err(|e| e.to_string())?;
        Ok(c)
    }

    #[test]
    fn the_valid_config_is_valid() {
        let c = load(VALID).unwrap();
        assert_eq!(c.engine().placement().unwrap().replication_factor, 2);
    }

    /// `VALID` with `key = value` replaced in `section` (or appended to it when the key is absent).
    fn with(section: &str, key: &str, value: &str) -> String {
        let mut out = String::new();
        let mut current = String::new();
        let mut done = false;
        for line in VALID.lines() {
            let t = line.trim();
            if t.starts_with('[') {
                if current == section && !done {
                    out.push_str(&format!("{key} = {value}\n"));
                    done = true;
                }
                current = t.trim_matches(|c| c == '[' || c == ']').to_owned();
            }
            if current == section && t.split('=').next().map(str::trim) == Some(key) && !done {
                out.push_str(&format!("{key} = {value}\n"));
                done = true;
                continue;
            }
            out.push_str(line);
            out.push('\n');
        }
        if !done {
            out.push_str(&format!("[{section}]\n{key} = {value}\n"));
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn random_text_never_panics(text in ".{0,300}") {
            let _ = load(&text);
        }

        #[test]
        fn mutated_configs_never_panic(
            cuts in prop::collection::vec((any::<prop::sample::Index>(), 0usize..4, ".{0,12}"), 1..6),
        ) {
            let mut text: Vec<char> = VALID.chars().collect();
            for (at, kind, s) in cuts {
                let i = at.index(text.len().max(1)).min(text.len());
                match kind {
                    // delete a span, insert text, replace a char, duplicate a line
                    0 => { let end = (i + s.len() + 1).min(text.len()); text.drain(i..end); }
                    1 => { text.splice(i..i, s.chars()); }
                    2 => { if i < text.len() { text[i] = s.chars().next().unwrap_or('='); } }
                    _ => {
                        let start = text[..i].iter().rposition(|c| *c == '\n').map_or(0, |p| p + 1);
                        let end = text[i..].iter().position(|c| *c == '\n').map_or(text.len(), |p| i + p + 1);
                        let line: Vec<char> = text[start..end].to_vec();
                        text.splice(end..end, line);
                    }
                }
            }
            let _ = load(&text.into_iter().collect::<String>());
        }

        #[test]
        fn bad_numbers_name_their_field(
            case in 0usize..6,
            n in prop_oneof![Just(0i64), i64::MIN..0, 1i64..5],
            p in prop_oneof![-1e9f64..-1e-9, 1.000001f64..1e9],
        ) {
            let (text, field) = match case {
                0 => (with("placement", "replication_factor", &n.to_string()), "replication_factor"),
                1 => (with("retry", "max_attempts", &n.to_string()), "max_attempts"),
                2 => (with("catalog", "heat_half_life_secs", &n.to_string()), "heat_half_life_secs"),
                3 => (with("chaos.rules", "probability", &format!("{p:?}")), "chaos.rules[0].probability"),
                4 => (with("chaos.rules", "max_count", &n.to_string()), "max_count"),
                _ => (with("placement", "latency_sla_ms", &format!("{:?}", -p.abs())), "latency_sla_ms"),
            };
            match load(&text) {
                // Some of the generated numbers are valid for some fields (e.g. 2 replicas, 3 attempts).
                Ok(c) => prop_assert!(
                    (case == 0 && n == 2)
                        || (case == 1 && n >= 1)
                        || (case == 2 && n >= 1)
                        || (case == 4 && n >= 1),
                    "accepted: {:?}", c.placement
                ),
                Err(e) => prop_assert!(e.contains(field), "error {:?} does not name {}", e, field),
            }
        }

        #[test]
        fn bad_names_and_statuses_name_their_field(
            name in "[a-z]{0,3}[^a-zA-Z0-9_\\-\"\\\\\n\r\t]{1,3}[a-z]{0,3}",
            status in prop_oneof![0u16..400, 600u16..],
            key in "[a-z][a-z_]{2,12}",
        ) {
            let text = VALID.replacen("name = \"cool\"", &format!("name = {}", toml::Value::String(name.clone())), 1);
            let e = load(&text).expect_err("bad backend name accepted");
            prop_assert!(e.contains("backends[1].name"), "{}", e);

            let text = VALID.replace("status = 503", &format!("status = {status}"));
            let e = load(&text).expect_err("bad status accepted");
            prop_assert!(e.contains("chaos.rules[0].fault.status"), "{}", e);

            let known = ["data_dir", "s3_addr", "admin_addr", "region", "domains", "users", "backends", "placement",
                "catalog", "catalog_url", "master_key_file", "chaos", "retry", "scrub", "lifecycle", "planner", "events", "cluster"];
            if !known.contains(&key.as_str()) {
                let text = format!("{key} = 1\n{VALID}");
                let e = load(&text).expect_err("unknown field accepted");
                prop_assert!(e.contains(&key), "{}", e);
            }
            let text = VALID.replace("s3_addr = \"127.0.0.1:9000\"", &format!("s3_addr = \"{key}\""));
            let e = load(&text).expect_err("bad address accepted");
            prop_assert!(e.contains("s3_addr"), "{}", e);
        }
    }
}
