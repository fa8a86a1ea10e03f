//! The admin API's contract: the JSON bodies of [`crate::admin`]'s routes, as types.
//!
//! The handlers build these, the CLI ([`crate::cli`]) reads them, and the `components.schemas` section of
//! `gateway/assets/openapi.json` is generated from them ([`schemas`]; a test fails when the file is stale, and
//! `STRATA_BLESS=1 cargo test -p gateway openapi` rewrites it). Types that belong to a library (a plan, a move
//! task, the chaos rules, the scrubber's report) are used as they are; this module adds the ones the admin API
//! assembles itself. Changing a field here changes the API: keep names as they are, add freely.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use backends::TierProfile;
pub use catalog::MoveTask;
pub use chaos::{ChaosConfig, RuleStats};
pub use engine::bill::BillReport;
pub use engine::lifecycle::{LifecycleReport, LifecycleStatus};
pub use engine::model::ModelReport;
pub use engine::reseal::Keys;
pub use engine::scrub::{ScrubReport, ScrubStatus};
pub use engine::usage::CostSample;
pub use planner::Plan;

/// Every error answer: `{"error": CODE, "message": TEXT}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Error {
    /// A short code, e.g. `NoSuchKey`, `BadRequest`, `Unauthorized`.
    pub error: String,
    /// What went wrong, for a human.
    pub message: String,
}

/// `GET /admin/health`: liveness plus a summary.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Health {
    /// Always `"ok"` when the gateway answers.
    pub status: String,
    pub version: String,
    pub uptime_s: u64,
    /// The gateway's clock (ms since the epoch).
    pub now_ms: i64,
    pub backends: Vec<BackendSummary>,
    /// Backends that receive every new object (unless it goes to `new_objects_self_tiering`).
    pub initial_placement: Vec<String>,
    /// New objects of at least `new_objects_min_bytes` go to this self-tiering backend instead of the first
    /// initial one, as the last applied plan advised (`Plan::new_objects`); `null` without one.
    #[serde(default)]
    pub new_objects_self_tiering: Option<String>,
    /// `null`: no advice yet, or none pays; every new object goes to `initial_placement`.
    #[serde(default)]
    pub new_objects_min_bytes: Option<u64>,
    pub placement: engine::config::Placement,
    /// Reads holding a lease on a placement now.
    pub active_reads: usize,
    pub recorder: RecorderStatus,
    /// Only with `deep=true` (each is a scan of the catalog).
    #[serde(flatten)]
    pub catalog: Option<CatalogCounts>,
}

/// One backend in [`Health`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BackendSummary {
    pub name: String,
    pub provider: String,
    pub storage_class: String,
    pub active_key_id: u32,
    pub profile: TierProfile,
}

/// The access recorder's counters in [`Health`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RecorderStatus {
    pub recorded: u64,
    pub flushed: u64,
    pub dropped: u64,
    pub flush_errors: u64,
    /// Accesses waiting for the next flush.
    pub pending: usize,
    /// Age of the oldest access of the last flush when it reached the catalog.
    pub last_lag_ms: u64,
    /// Entries in the catalog's access log (only with `deep=true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_log_entries: Option<u64>,
}

/// The catalog counts of `GET /admin/health?deep=true`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CatalogCounts {
    pub buckets: usize,
    pub objects: u64,
    pub blobs_referenced: usize,
    pub garbage_pending: usize,
}

/// `GET /admin/backends`: usage and cost per backend.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Backends {
    /// When the usage snapshot was computed (gateway clock).
    pub computed_ms: i64,
    pub objects: u64,
    /// Sum of object sizes (each object once).
    pub logical_bytes: u64,
    /// Storage cost per month of the current placement, USD.
    pub monthly_cost: f64,
    /// What the same replicas would cost per month if all were on the most expensive tier.
    pub all_hot_monthly_cost: f64,
    pub backends: Vec<BackendUsage>,
}

/// One backend in [`Backends`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BackendUsage {
    pub name: String,
    pub provider: String,
    pub storage_class: String,
    pub profile: TierProfile,
    pub active_key_id: u32,
    /// Objects with a replica here.
    pub objects: u64,
    pub bytes: u64,
    pub monthly_cost: f64,
    pub reads: u64,
    pub read_errors: u64,
    pub writes: u64,
    pub write_errors: u64,
    /// `(read_errors + write_errors) / (reads + writes)`, 0 without traffic.
    pub error_rate: f64,
    /// No error in the last 30 s.
    pub healthy: bool,
    /// The last error (gateway clock), if any.
    pub last_error_ms: Option<i64>,
    /// Retries of calls to this backend.
    pub retries: Option<backends::retry::RetryStatsSnapshot>,
}

/// `GET /admin/objects/{bucket}/{key}`: one object, and an item of [`ObjectPage`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Object {
    pub bucket: String,
    pub key: String,
    pub size: u64,
    pub etag: String,
    /// Changes on every overwrite and move.
    pub generation: u64,
    pub last_modified_ms: i64,
    /// Backends holding a copy, in read order.
    pub replicas: Vec<String>,
    /// Stored parts (one per multipart part).
    pub parts: usize,
    pub content_type: Option<String>,
    /// Heat now: +1 per read, halved every half-life.
    pub heat: f64,
    pub reads: u64,
    pub writes: u64,
    pub bytes_read: u64,
    pub last_access_ms: Option<i64>,
    /// The object's probability of being read within the horizon, from the last scoring pass.
    pub p_hot: Option<f64>,
    pub p_hot_model: Option<planner::ModelKind>,
    pub p_hot_scored_at_ms: Option<i64>,
    pub p_hot_horizon_ms: i64,
    /// The object's tag set (PutObjectTagging, `x-amz-tagging`).
    #[serde(default)]
    pub tags: std::collections::BTreeMap<String, String>,
}

/// `GET /admin/objects`: a page of objects.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ObjectPage {
    pub bucket: String,
    pub objects: Vec<Object>,
    pub is_truncated: bool,
    /// Continue with `after=` this key (only when truncated).
    pub next_after: Option<String>,
}

/// `GET /admin/moves` and `POST /admin/moves`: move tasks, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Moves {
    pub moves: Vec<MoveTask>,
}

/// `POST /admin/moves`: move one object to exactly these backends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanMove {
    pub bucket: String,
    pub key: String,
    /// The replicas wanted, in read order (at least one, no backend twice).
    pub to: Vec<String>,
}

/// `POST /admin/plan/apply`: the plan and the move tasks made from it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PlanApplied {
    pub plan: Plan,
    pub created: Vec<MoveTask>,
}

/// `POST /admin/keys/rotate`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyRotate {
    pub backend: String,
}

/// The answer to [`KeyRotate`]: the backend's new active key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct KeyRotated {
    pub backend: String,
    pub active_key_id: u32,
}

/// `GET /admin/chaos/stats`: faults injected per rule and in total.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ChaosStats {
    pub total_injected: u64,
    pub rules: Vec<RuleStats>,
}

/// `GET /admin/users`: access keys and their level, never secrets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Users {
    pub users: Vec<User>,
}

/// One user in [`Users`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct User {
    pub access_key: String,
    pub access: crate::config::AccessLevel,
    /// Per-bucket grants; `null`: every bucket (within `access`).
    #[serde(default)]
    pub grants: Option<Vec<crate::config::Grant>>,
    /// Created through the admin API (`false`: from the configuration, or root).
    #[serde(default)]
    pub managed: bool,
}

/// `POST /admin/users`: a user to create.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// 3 to 128 letters, digits, `.`, `_` or `-`.
    pub access_key: String,
    /// At least 8 characters; generated when absent.
    #[serde(default)]
    pub secret_key: Option<String>,
    #[serde(default)]
    pub access: crate::config::AccessLevel,
    /// Per-bucket grants; absent: every bucket (within `access`).
    #[serde(default)]
    pub grants: Option<Vec<crate::config::Grant>>,
}

/// `POST /admin/users` (201): the user created, with its secret key (shown this once).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CreatedUser {
    pub access_key: String,
    pub secret_key: String,
    pub access: crate::config::AccessLevel,
    #[serde(default)]
    pub grants: Option<Vec<crate::config::Grant>>,
}

/// `GET /admin/cost/history`: the monthly cost of every usage snapshot kept, oldest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CostHistory {
    pub interval_ms: u64,
    pub max_samples: usize,
    pub samples: Vec<CostSample>,
}

/// `GET /admin/cluster`: the nodes sharing this node's catalog, their heartbeats, and the leader.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Cluster {
    /// The node that answered.
    pub node: String,
    /// `embedded` (redb, this node alone) or `postgres` (shared by every node of the cluster).
    pub catalog: String,
    /// The node holding the leader's lease (it runs the mover, planner, reaper, scrubber and re-sealer), if any.
    pub leader: Option<String>,
    pub leader_lease_expires_ms: Option<i64>,
    /// The catalog's clock (heartbeat ages are measured on it).
    pub now_ms: i64,
    pub nodes: Vec<ClusterNode>,
}

/// One node in [`Cluster`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ClusterNode {
    pub node: String,
    pub s3_addr: String,
    pub version: String,
    pub started_ms: i64,
    pub heartbeat_ms: i64,
    pub heartbeat_age_ms: i64,
    /// Whether its last heartbeat is recent enough (within the leader lease's lifetime).
    pub alive: bool,
    pub leader: bool,
    /// Access events queued on the node but not yet in the catalog: its recorder's lag.
    pub queued_access_events: u64,
    /// Where the node writes new objects, as the last plan it applied or adopted from the leader advised;
    /// absent while it follows the prior of a store no plan has measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_objects: Option<catalog::NewObjectsAdvice>,
}

/// `POST /admin/test/clock` (only with `STRATA_TEST_CLOCK=1`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClockAdvance {
    pub advance_ms: u64,
}

/// The answer to [`ClockAdvance`]: the gateway's clock after the move.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ClockAdvanced {
    pub now_ms: i64,
}

/// The schemas of every body above, named as `gateway/assets/openapi.json` refers to them
/// (`#/components/schemas/NAME`), with the schemas they use.
#[cfg(test)]
pub fn schemas() -> serde_json::Map<String, serde_json::Value> {
    use schemars::generate::{Contract, SchemaSettings};
    let mut generator = SchemaSettings::draft2020_12()
        .with(|s| {
            s.definitions_path = "/components/schemas/".into();
            s.contract = Contract::Serialize;
        })
        .into_generator();
    macro_rules! register {
        ($($t:ty),* $(,)?) => { $( generator.subschema_for::<$t>(); )* };
    }
    register!(
        Error,
        Health,
        Backends,
        Object,
        ObjectPage,
        Moves,
        Plan,
        PlanApplied,
        ModelReport,
        Keys,
        KeyRotated,
        ScrubStatus,
        ScrubReport,
        LifecycleStatus,
        LifecycleReport,
        ChaosConfig,
        ChaosStats,
        Users,
        CreatedUser,
        CostHistory,
        BillReport,
        engine::usage::HeatHistogram,
        ClockAdvanced,
        Cluster,
    );
    let mut out = generator.take_definitions(true);
    // Request bodies are read with the deserialize contract (fields with defaults are optional). The chaos rules
    // are both written and read; their one schema is the one the gateway answers with.
    let mut requests = SchemaSettings::draft2020_12()
        .with(|s| {
            s.definitions_path = "/components/schemas/".into();
            s.contract = Contract::Deserialize;
        })
        .into_generator();
    requests.subschema_for::<PlanMove>();
    requests.subschema_for::<KeyRotate>();
    requests.subschema_for::<ClockAdvance>();
    requests.subschema_for::<NewUser>();
    for (name, schema) in requests.take_definitions(true) {
        out.entry(name).or_insert(schema);
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/openapi.json");

    /// Every `$ref` under `v`.
    fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    match (k.as_str(), x) {
                        ("$ref", Value::String(r)) => out.push(r),
                        _ => refs(x, out),
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }

    /// The document's schemas are the ones generated from the types; `STRATA_BLESS=1` rewrites them.
    #[test]
    fn openapi_schemas_are_generated_from_the_types() {
        let text = std::fs::read_to_string(DOC).expect("read openapi.json");
        let mut doc: Value = serde_json::from_str(&text).expect("openapi.json is JSON");
        let generated = Value::Object(schemas());
        if std::env::var_os("STRATA_BLESS").is_some() {
            doc["components"]["schemas"] = generated;
            let mut out = serde_json::to_string_pretty(&doc).expect("serialize");
            out.push('\n');
            std::fs::write(DOC, out).expect("write openapi.json");
            return;
        }
        assert!(
            doc["components"]["schemas"] == generated,
            "gateway/assets/openapi.json's components.schemas differ from the types in gateway/src/admin_api.rs: \
             run `STRATA_BLESS=1 cargo test -p gateway openapi` and review the diff"
        );
    }

    #[test]
    fn every_reference_of_the_document_resolves() {
        let doc: Value =
            serde_json::from_str(&std::fs::read_to_string(DOC).expect("read")).expect("JSON");
        let mut found = Vec::new();
        refs(&doc, &mut found);
        assert!(found.len() > 30, "{found:?}");
        for r in found {
            let pointer = r.strip_prefix('#').expect("local reference");
            assert!(doc.pointer(pointer).is_some(), "{r} does not resolve");
        }
    }

    #[test]
    fn bodies_round_trip_through_their_types() {
        let err = Error {
            error: "NoSuchKey".into(),
            message: "no object b/k".into(),
        };
        let v = serde_json::to_value(&err).expect("ser");
        assert_eq!(
            v,
            serde_json::json!({"error": "NoSuchKey", "message": "no object b/k"})
        );
        assert_eq!(serde_json::from_value::<Error>(v).expect("de"), err);
        // Requests refuse unknown fields, as the handlers always did.
        assert!(serde_json::from_str::<KeyRotate>(r#"{"backend":"x","extra":1}"#).is_err());
        assert!(serde_json::from_str::<ClockAdvance>(r#"{"advance_ms":-1}"#).is_err());
    }
}
