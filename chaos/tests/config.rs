//! The configuration schema: JSON and TOML parse alike, defaults, and
//! validation naming the bad field.

use chaos::{ChaosConfig, ChaosError, Fault, Op, Rule, Window};
use serde::Deserialize;

/// The gateway's config file shape: a `[chaos]` section.
#[derive(Deserialize)]
struct File {
    chaos: ChaosConfig,
}

const TOML: &str = r#"
[[chaos.rules]]
id = "slow"
backend = "cold"
ops = ["get", "head"]
probability = 0.25
fault = { type = "latency", fixed_ms = 100, jitter_ms = 50, tail_ms = 2000, tail_probability = 0.01 }

[[chaos.rules]]
ops = ["put", "multipart"]
max_count = 3
window = { start_after_ms = 1000, duration_ms = 60000 }
fault = { type = "error", status = 503 }

[[chaos.rules]]
backend = "hot"
fault = { type = "timeout", after_ms = 5000 }

[[chaos.rules]]
ops = ["list"]
fault = { type = "hang" }

[[chaos.rules]]
ops = ["get"]
fault = { type = "reset_mid_stream", after_bytes = 4096 }

[[chaos.rules]]
fault = { type = "truncate", after_bytes = 10 }

[[chaos.rules]]
[chaos.rules.fault]
type = "corrupt"
flips = 2

[[chaos.rules]]
backend = "cold"
ops = ["delete"]
fault = { type = "down" }
"#;

const JSON: &str = r#"
{ "rules": [
  { "id": "slow", "backend": "cold", "ops": ["get", "head"], "probability": 0.25,
    "fault": { "type": "latency", "fixed_ms": 100, "jitter_ms": 50, "tail_ms": 2000,
               "tail_probability": 0.01 } },
  { "ops": ["put", "multipart"], "max_count": 3,
    "window": { "start_after_ms": 1000, "duration_ms": 60000 },
    "fault": { "type": "error", "status": 503 } },
  { "backend": "hot", "fault": { "type": "timeout", "after_ms": 5000 } },
  { "ops": ["list"], "fault": { "type": "hang" } },
  { "ops": ["get"], "fault": { "type": "reset_mid_stream", "after_bytes": 4096 } },
  { "fault": { "type": "truncate", "after_bytes": 10 } },
  { "fault": { "type": "corrupt", "flips": 2 } },
  { "backend": "cold", "ops": ["delete"], "fault": { "type": "down" } }
] }
"#;

fn expected() -> ChaosConfig {
    ChaosConfig::new(vec![
        Rule::new(Fault::Latency {
            fixed_ms: 100,
            jitter_ms: 50,
            tail_ms: 2000,
            tail_probability: 0.01,
        })
        .with_id("slow")
        .with_backend("cold")
        .with_ops([Op::Get, Op::Head])
        .with_probability(0.25),
        Rule::new(Fault::Error { status: 503 })
            .with_ops([Op::Put, Op::Multipart])
            .with_max_count(3)
            .with_window(1000, 60_000),
        Rule::new(Fault::Timeout { after_ms: 5000 }).with_backend("hot"),
        Rule::new(Fault::Hang).with_ops([Op::List]),
        Rule::new(Fault::ResetMidStream { after_bytes: 4096 }).with_ops([Op::Get]),
        Rule::new(Fault::Truncate { after_bytes: 10 }),
        Rule::new(Fault::Corrupt { flips: 2 }),
        Rule::new(Fault::Down)
            .with_backend("cold")
            .with_ops([Op::Delete]),
    ])
}

#[test]
fn json_and_toml_parse_to_equal_values() {
    let from_toml = toml::from_str::<File>(TOML).unwrap().chaos;
    let from_json: ChaosConfig = serde_json::from_str(JSON).unwrap();
    assert_eq!(from_toml, from_json);
    assert_eq!(from_json, expected());
    from_json.validate(&["hot", "cold"]).unwrap();
}

#[test]
fn serialisation_round_trips_in_both_formats() {
    let config = expected().normalized();
    let json = serde_json::to_string(&config).unwrap();
    assert_eq!(serde_json::from_str::<ChaosConfig>(&json).unwrap(), config);
    let toml_text = toml::to_string(&config).unwrap();
    assert_eq!(toml::from_str::<ChaosConfig>(&toml_text).unwrap(), config);
}

#[test]
fn defaults_apply() {
    let config: ChaosConfig =
        serde_json::from_str(r#"{"rules":[{"fault":{"type":"down"}}]}"#).unwrap();
    let rule = &config.rules[0];
    assert_eq!(rule.backend, "*");
    assert!(rule.ops.is_empty());
    assert_eq!(rule.probability, 1.0);
    assert_eq!(
        (rule.id.as_ref(), rule.max_count, rule.window),
        (None, None, None)
    );
    let empty: ChaosConfig = serde_json::from_str("{}").unwrap();
    assert!(empty.is_empty());
    let latency: Fault = serde_json::from_str(r#"{"type":"latency","fixed_ms":5}"#).unwrap();
    assert_eq!(
        latency,
        Fault::Latency {
            fixed_ms: 5,
            jitter_ms: 0,
            tail_ms: 0,
            tail_probability: 0.0
        }
    );
    let window: Window = serde_json::from_str(r#"{"duration_ms":5}"#).unwrap();
    assert_eq!(window.start_after_ms, 0);
}

#[test]
fn unknown_fields_and_types_are_rejected() {
    for bad in [
        r#"{"rules":[{"fault":{"type":"down"},"probabilty":0.5}]}"#,
        r#"{"rules":[{"fault":{"type":"error","status":503,"code":1}}]}"#,
        r#"{"rules":[{"fault":{"type":"explode"}}]}"#,
        r#"{"rules":[{"fault":{"type":"down"},"ops":["patch"]}]}"#,
        r#"{"rules":[{"fault":{"type":"error"}}]}"#,
        r#"{"rule":[]}"#,
    ] {
        assert!(
            serde_json::from_str::<ChaosConfig>(bad).is_err(),
            "accepted {bad}"
        );
    }
}

/// The field `validate` blames for rule 2 (after two valid rules) being
/// `bad`.
fn blamed(bad: Rule) -> String {
    let config = ChaosConfig::new(vec![
        Rule::new(Fault::Down).with_backend("hot"),
        Rule::new(Fault::Hang),
        bad,
    ]);
    match config.validate(&["hot", "cold"]) {
        Err(ChaosError::Invalid { field, reason }) => {
            assert!(!reason.is_empty());
            field
        }
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn validate_names_the_bad_field() {
    assert_eq!(
        blamed(Rule::new(Fault::Error { status: 200 })),
        "rules[2].fault.status"
    );
    assert_eq!(
        blamed(Rule::new(Fault::Error { status: 600 })),
        "rules[2].fault.status"
    );
    assert_eq!(
        blamed(Rule::new(Fault::Down).with_probability(1.5)),
        "rules[2].probability"
    );
    assert_eq!(
        blamed(Rule::new(Fault::Down).with_probability(-0.1)),
        "rules[2].probability"
    );
    assert_eq!(
        blamed(Rule::new(Fault::Down).with_probability(f64::NAN)),
        "rules[2].probability"
    );
    assert_eq!(
        blamed(Rule::new(Fault::Down).with_backend("warm")),
        "rules[2].backend"
    );
    assert_eq!(
        blamed(Rule::new(Fault::Down).with_backend("")),
        "rules[2].backend"
    );
    assert_eq!(
        blamed(Rule::new(Fault::Latency {
            fixed_ms: 1,
            jitter_ms: 0,
            tail_ms: 10,
            tail_probability: 3.0
        })),
        "rules[2].fault.tail_probability"
    );
    assert_eq!(
        blamed(Rule::new(Fault::Corrupt { flips: 0 })),
        "rules[2].fault.flips"
    );
    assert_eq!(
        blamed(Rule::new(Fault::Down).with_max_count(0)),
        "rules[2].max_count"
    );
    assert_eq!(
        blamed(Rule::new(Fault::Down).with_window(10, 0)),
        "rules[2].window.duration_ms"
    );
    assert_eq!(
        blamed(Rule::new(Fault::Truncate { after_bytes: 1 }).with_ops([Op::Get, Op::Put])),
        "rules[2].ops[1]"
    );
    // Explicit id colliding with another rule's auto id.
    assert_eq!(
        blamed(Rule::new(Fault::Down).with_id("rule-1")),
        "rules[2].id"
    );
    assert_eq!(blamed(Rule::new(Fault::Down).with_id(" ")), "rules[2].id");
}

#[test]
fn validate_accepts_wildcard_and_known_backends() {
    let config = ChaosConfig::new(vec![
        Rule::new(Fault::Down).with_backend("*"),
        Rule::new(Fault::Error { status: 429 }).with_backend("cold"),
        Rule::new(Fault::Error { status: 599 }).with_probability(0.0),
    ]);
    config.validate(&["hot", "cold"]).unwrap();
    assert_eq!(config.rule_id(1).as_deref(), Some("rule-1"));
    // Backend names are the caller's to check; the rest is checked anyway.
    assert_eq!(
        config.validate(&["hot"]).unwrap_err().field(),
        "rules[1].backend"
    );
    config.validate_rules().unwrap();
}
