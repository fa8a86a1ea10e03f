//! The chaos configuration schema: [`ChaosConfig`], its [`Rule`]s, the
//! [`Op`]s they match and the [`Fault`]s they inject.
//!
//! The same serde schema is used for the `[chaos]` section of the TOML
//! configuration file and for the JSON body of `PUT /admin/chaos`:
//!
//! ```toml
//! [[chaos.rules]]
//! id = "slow-gets"
//! backend = "cold"
//! ops = ["get", "head"]
//! probability = 0.5
//! fault = { type = "latency", fixed_ms = 100, jitter_ms = 50 }
//!
//! [[chaos.rules]]
//! backend = "*"
//! ops = ["put"]
//! max_count = 3
//! window = { start_after_ms = 1000, duration_ms = 60000 }
//! fault = { type = "error", status = 503 }
//! ```
//!
//! ```json
//! { "rules": [
//!     { "id": "slow-gets", "backend": "cold", "ops": ["get", "head"],
//!       "probability": 0.5,
//!       "fault": { "type": "latency", "fixed_ms": 100, "jitter_ms": 50 } }
//! ] }
//! ```
//!
//! Unknown fields are rejected so that a typo (`"probabilty"`) is an error
//! rather than a silently ignored setting.

use std::collections::HashSet;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The `backend` value that matches every backend.
pub const ANY_BACKEND: &str = "*";

/// A complete chaos configuration: an ordered list of rules.
///
/// An empty configuration (the default) injects nothing.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChaosConfig {
    /// Rules, evaluated in order for every matching call (see
    /// [`crate::Chaos`] for how several matching rules combine).
    #[serde(default)]
    pub rules: Vec<Rule>,
}

/// One fault-injection rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Name used in logs, metrics and stats. When absent the rule is named
    /// `rule-N`, `N` being its 0-based position in [`ChaosConfig::rules`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Backend name the rule applies to, or `"*"` (the default) for all.
    #[serde(default = "any_backend")]
    pub backend: String,
    /// Operations the rule applies to; empty (the default) means all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ops: Vec<Op>,
    /// What to inject.
    pub fault: Fault,
    /// Chance in `0.0..=1.0` that a matching call is faulted (default 1).
    #[serde(default = "one")]
    pub probability: f64,
    /// Stop after injecting this many faults (at least 1). Unlimited when
    /// absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_count: Option<u64>,
    /// Only inject during this window. Always active when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<Window>,
}

fn any_backend() -> String {
    ANY_BACKEND.to_string()
}

fn one() -> f64 {
    1.0
}

impl Rule {
    /// A rule injecting `fault` into every operation on every backend with
    /// probability 1 and no limits; adjust with the builder methods.
    pub fn new(fault: Fault) -> Rule {
        Rule {
            id: None,
            backend: any_backend(),
            ops: Vec::new(),
            fault,
            probability: 1.0,
            max_count: None,
            window: None,
        }
    }

    /// Sets the rule's id.
    pub fn with_id(mut self, id: impl Into<String>) -> Rule {
        self.id = Some(id.into());
        self
    }

    /// Limits the rule to one backend (`"*"` for all).
    pub fn with_backend(mut self, backend: impl Into<String>) -> Rule {
        self.backend = backend.into();
        self
    }

    /// Limits the rule to these operations (empty for all).
    pub fn with_ops(mut self, ops: impl IntoIterator<Item = Op>) -> Rule {
        self.ops = ops.into_iter().collect();
        self
    }

    /// Sets the probability of firing.
    pub fn with_probability(mut self, probability: f64) -> Rule {
        self.probability = probability;
        self
    }

    /// Stops the rule after `max_count` injected faults.
    pub fn with_max_count(mut self, max_count: u64) -> Rule {
        self.max_count = Some(max_count);
        self
    }

    /// Limits the rule to a time window.
    pub fn with_window(mut self, start_after_ms: u64, duration_ms: u64) -> Rule {
        self.window = Some(Window {
            start_after_ms,
            duration_ms,
        });
        self
    }

    /// Whether the rule applies to operation `op` (its op filter matches and
    /// its fault can act on that operation: stream faults act on gets only).
    pub fn applies_to(&self, op: Op) -> bool {
        (self.ops.is_empty() || self.ops.contains(&op)) && self.fault.applies_to(op)
    }

    /// Whether the rule applies to the backend named `backend`.
    pub fn matches_backend(&self, backend: &str) -> bool {
        self.backend == ANY_BACKEND || self.backend == backend
    }
}

/// A time window, relative to when the rule was installed (by
/// [`crate::Chaos::set`]). The rule is active for elapsed times `t` with
/// `start_after_ms <= t < start_after_ms + duration_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// Delay after installation before the rule becomes active (default 0).
    #[serde(default)]
    pub start_after_ms: u64,
    /// How long the rule stays active; must be at least 1.
    pub duration_ms: u64,
}

/// An object-store operation class a rule can target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// `get_opts` (not head requests) and `get_ranges`.
    Get,
    /// `put_opts`, and `copy_opts` / `rename_opts` (which write their
    /// destination).
    Put,
    /// Each location of `delete_stream` (and therefore `delete`).
    Delete,
    /// `list`, `list_with_offset` and `list_with_delimiter`.
    List,
    /// `get_opts` with `head: true` (and therefore `head`).
    Head,
    /// `put_multipart_opts`, each multipart `put_part` and `complete`
    /// (`abort` is never faulted so cleanup always proceeds).
    Multipart,
}

impl Op {
    /// Every operation class.
    pub const ALL: [Op; 6] = [
        Op::Get,
        Op::Put,
        Op::Delete,
        Op::List,
        Op::Head,
        Op::Multipart,
    ];

    /// The lowercase name used in configs, logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Get => "get",
            Op::Put => "put",
            Op::Delete => "delete",
            Op::List => "list",
            Op::Head => "head",
            Op::Multipart => "multipart",
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The fault a rule injects.
///
/// Faults fall in two groups:
/// - *call* faults (`latency`, `error`, `timeout`, `hang`, `down`) act
///   before the inner store is called and apply to every operation;
/// - *stream* faults (`reset_mid_stream`, `truncate`, `corrupt`) act on the
///   bytes a get returns and apply to [`Op::Get`] only.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Fault {
    /// Delay the call by `fixed_ms + uniform(0..=jitter_ms)`, plus `tail_ms`
    /// with probability `tail_probability` (a long tail). Then proceed.
    Latency {
        /// Constant delay.
        #[serde(default)]
        fixed_ms: u64,
        /// Upper bound of a uniformly distributed extra delay.
        #[serde(default)]
        jitter_ms: u64,
        /// Extra delay added with probability `tail_probability`.
        #[serde(default)]
        tail_ms: u64,
        /// Chance in `0.0..=1.0` of adding `tail_ms`.
        #[serde(default)]
        tail_probability: f64,
    },
    /// Fail the call with an error carrying HTTP `status` (400..=599); see
    /// [`crate::InjectedFault`] for how it maps to `object_store::Error`.
    Error {
        /// The HTTP status the backend "returned".
        status: u16,
    },
    /// Wait `after_ms`, then fail as a timed-out request.
    Timeout {
        /// How long the call blocks before failing.
        after_ms: u64,
    },
    /// Never complete: the call stays pending until the caller drops it
    /// (callers' own timeouts must save them).
    Hang,
    /// A get's byte stream yields exactly `after_bytes` bytes, then an error
    /// (a connection reset mid-transfer).
    ResetMidStream {
        /// Bytes delivered before the reset.
        after_bytes: u64,
    },
    /// A get's byte stream ends cleanly after `after_bytes` bytes, short of
    /// the requested length.
    Truncate {
        /// Bytes delivered before the stream ends.
        after_bytes: u64,
    },
    /// Flip `flips` bytes at distinct random positions of what a get returns
    /// (every chosen byte is changed; fewer than `flips` only if the body is
    /// shorter).
    Corrupt {
        /// Number of bytes to change (at least 1).
        flips: u32,
    },
    /// The backend is unreachable: every matching call fails immediately.
    Down,
}

impl Fault {
    /// The fault's `type` tag, e.g. `"reset_mid_stream"`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Fault::Latency { .. } => "latency",
            Fault::Error { .. } => "error",
            Fault::Timeout { .. } => "timeout",
            Fault::Hang => "hang",
            Fault::ResetMidStream { .. } => "reset_mid_stream",
            Fault::Truncate { .. } => "truncate",
            Fault::Corrupt { .. } => "corrupt",
            Fault::Down => "down",
        }
    }

    /// Whether this is a stream fault (acts on get bodies only).
    pub fn is_stream_fault(&self) -> bool {
        matches!(
            self,
            Fault::ResetMidStream { .. } | Fault::Truncate { .. } | Fault::Corrupt { .. }
        )
    }

    /// Whether the fault can act on operation `op`.
    pub fn applies_to(&self, op: Op) -> bool {
        !self.is_stream_fault() || op == Op::Get
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Latency {
                fixed_ms,
                jitter_ms,
                tail_ms,
                tail_probability,
            } => write!(
                f,
                "latency(fixed_ms={fixed_ms}, jitter_ms={jitter_ms}, tail_ms={tail_ms}, tail_probability={tail_probability})"
            ),
            Fault::Error { status } => write!(f, "error(status={status})"),
            Fault::Timeout { after_ms } => write!(f, "timeout(after_ms={after_ms})"),
            Fault::Hang => f.write_str("hang"),
            Fault::ResetMidStream { after_bytes } => {
                write!(f, "reset_mid_stream(after_bytes={after_bytes})")
            }
            Fault::Truncate { after_bytes } => write!(f, "truncate(after_bytes={after_bytes})"),
            Fault::Corrupt { flips } => write!(f, "corrupt(flips={flips})"),
            Fault::Down => f.write_str("down"),
        }
    }
}

/// Errors of the chaos crate: an invalid configuration.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChaosError {
    /// A field of the configuration is invalid. `field` is its path, e.g.
    /// `rules[2].fault.status`.
    #[error("invalid chaos config: {field}: {reason}")]
    Invalid {
        /// Path of the offending field.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl ChaosError {
    /// Path of the offending field, e.g. `rules[2].fault.status`.
    pub fn field(&self) -> &str {
        match self {
            ChaosError::Invalid { field, .. } => field,
        }
    }
}

fn invalid(field: String, reason: impl Into<String>) -> ChaosError {
    ChaosError::Invalid {
        field,
        reason: reason.into(),
    }
}

impl ChaosConfig {
    /// A configuration holding `rules`.
    pub fn new(rules: Vec<Rule>) -> ChaosConfig {
        ChaosConfig { rules }
    }

    /// Whether the configuration has no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The effective id of rule `index`: its `id`, or `rule-{index}`.
    pub fn rule_id(&self, index: usize) -> Option<String> {
        self.rules.get(index).map(|rule| effective_id(rule, index))
    }

    /// Checks everything except backend names (which need the caller's
    /// list): what [`crate::Chaos::set`] requires. See
    /// [`ChaosConfig::validate`].
    pub fn validate_rules(&self) -> Result<(), ChaosError> {
        let mut ids = HashSet::new();
        for (i, rule) in self.rules.iter().enumerate() {
            let at = |field: &str| format!("rules[{i}].{field}");
            if let Some(id) = &rule.id
                && id.trim().is_empty()
            {
                return Err(invalid(at("id"), "must not be empty"));
            }
            let id = effective_id(rule, i);
            if !ids.insert(id.clone()) {
                return Err(invalid(at("id"), format!("duplicate rule id {id:?}")));
            }
            if rule.backend.is_empty() {
                return Err(invalid(
                    at("backend"),
                    "must be a backend name or \"*\" for all backends",
                ));
            }
            check_probability(&rule.probability, at("probability"))?;
            if rule.max_count == Some(0) {
                return Err(invalid(
                    at("max_count"),
                    "must be at least 1 (omit it for no limit)",
                ));
            }
            if let Some(window) = &rule.window
                && window.duration_ms == 0
            {
                return Err(invalid(at("window.duration_ms"), "must be at least 1"));
            }
            if rule.fault.is_stream_fault()
                && let Some(pos) = rule.ops.iter().position(|op| *op != Op::Get)
            {
                return Err(invalid(
                    at(&format!("ops[{pos}]")),
                    format!(
                        "fault {} acts on get bodies only; op {} is not allowed",
                        rule.fault.type_name(),
                        rule.ops[pos]
                    ),
                ));
            }
            match &rule.fault {
                Fault::Latency {
                    tail_probability, ..
                } => check_probability(tail_probability, at("fault.tail_probability"))?,
                Fault::Error { status } => {
                    if !(400..=599).contains(status) {
                        return Err(invalid(
                            at("fault.status"),
                            format!("{status} is not an HTTP error status (400..=599)"),
                        ));
                    }
                }
                Fault::Corrupt { flips } => {
                    if *flips == 0 {
                        return Err(invalid(at("fault.flips"), "must be at least 1"));
                    }
                }
                Fault::Timeout { .. }
                | Fault::Hang
                | Fault::ResetMidStream { .. }
                | Fault::Truncate { .. }
                | Fault::Down => {}
            }
        }
        Ok(())
    }

    /// Validates the configuration: probabilities in `0.0..=1.0`, error
    /// statuses in `400..=599`, `flips`, `max_count` and window durations at
    /// least 1, ids unique and non-empty, stream faults only on `get`, and
    /// every rule's backend either `"*"` or one of `known_backends`.
    ///
    /// The error names the first bad field, e.g. `rules[2].fault.status`.
    pub fn validate(&self, known_backends: &[&str]) -> Result<(), ChaosError> {
        self.validate_rules()?;
        for (i, rule) in self.rules.iter().enumerate() {
            if rule.backend != ANY_BACKEND && !known_backends.contains(&rule.backend.as_str()) {
                return Err(invalid(
                    format!("rules[{i}].backend"),
                    format!(
                        "unknown backend {:?} (known: {}; or \"*\")",
                        rule.backend,
                        known_backends.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    /// This configuration with every rule's `id` filled in (auto ids
    /// `rule-N` made explicit).
    pub fn normalized(&self) -> ChaosConfig {
        ChaosConfig {
            rules: self
                .rules
                .iter()
                .enumerate()
                .map(|(i, rule)| Rule {
                    id: Some(effective_id(rule, i)),
                    ..rule.clone()
                })
                .collect(),
        }
    }
}

fn effective_id(rule: &Rule, index: usize) -> String {
    rule.id.clone().unwrap_or_else(|| format!("rule-{index}"))
}

fn check_probability(p: &f64, field: String) -> Result<(), ChaosError> {
    if (0.0..=1.0).contains(p) {
        Ok(())
    } else {
        Err(invalid(field, format!("{p} is not in 0.0..=1.0")))
    }
}
