//! The `p_hot` model in the gateway: the rule until history exists, a forest trained on the catalog's own access
//! log on demand, its validation metrics against the rule, persistence across a restart, a corrupt model file
//! falling back to the rule, and `p_hot` on the object endpoint.

mod common;

use aws_sdk_s3::primitives::ByteStream;
use common::{Gateway, json, wait_for};
use serde_json::Value;

const DAY_MS: i64 = 86_400_000;
const OBJECTS: usize = 200;
const HOT: usize = 60;

fn key(i: usize) -> String {
    format!("obj-{i:03}")
}

/// Cold objects are read on a sparse, deterministic schedule (about one day in twenty).
fn cold_read_on(i: usize, day: usize) -> bool {
    (i * 7 + day * 13).is_multiple_of(20)
}

fn model(g: &Gateway) -> Value {
    let (status, b) = g.admin_get("/admin/model").expect("admin");
    assert_eq!(status, 200, "{b}");
    json(&b)
}

fn retrain(g: &Gateway) -> Value {
    let (status, b) = g
        .admin_request("POST", "/admin/model/retrain", "")
        .expect("admin");
    assert_eq!(status, 200, "{b}");
    json(&b)
}

fn object(g: &Gateway, k: &str) -> Value {
    let (status, b) = g
        .admin_get(&format!("/admin/objects/heat/{k}"))
        .expect("admin");
    assert_eq!(status, 200, "{b}");
    json(&b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forest_trains_on_the_access_log_persists_and_scores_objects() {
    let env = [("STRATA_TEST_CLOCK", "1")];
    let mut g = Gateway::start_with_config_env(
        "[planner]\nenabled = false\nretrain_interval_secs = 0\n",
        &env,
    );
    let c = g.client();
    c.create_bucket()
        .bucket("heat")
        .send()
        .await
        .expect("bucket");
    for i in 0..OBJECTS {
        c.put_object()
            .bucket("heat")
            .key(key(i))
            .body(ByteStream::from(vec![i as u8; 1024]))
            .send()
            .await
            .expect("put");
    }

    // No history: the rule is in use and training refuses.
    let m = model(&g);
    assert_eq!(m["in_use"], "rule", "{m}");
    assert_eq!(m["reason"], "no model trained yet", "{m}");
    assert!(m["metrics"].is_null());
    assert_eq!(m["horizon_ms"], DAY_MS);
    let m = retrain(&g);
    assert_eq!(m["last_attempt"]["outcome"], "not_enough_data", "{m}");
    assert_eq!(m["in_use"], "rule");
    assert!(m["path"].is_null(), "nothing persisted without a forest");

    // Six days: hot objects are read every day, cold ones now and then.
    let mut reads = 0u64;
    for day in 0..6 {
        let (status, _) = g
            .admin_request(
                "POST",
                "/admin/test/clock",
                &format!(r#"{{"advance_ms": {}}}"#, DAY_MS / 2),
            )
            .expect("clock");
        assert_eq!(status, 200);
        for i in 0..OBJECTS {
            if i < HOT || cold_read_on(i, day) {
                c.get_object()
                    .bucket("heat")
                    .key(key(i))
                    .send()
                    .await
                    .expect("get")
                    .body
                    .collect()
                    .await
                    .expect("body");
                reads += 1;
            }
        }
        // Let the recorder commit every read of the day before the clock moves on.
        g.wait_recorded();
        assert_eq!(object(&g, &key(HOT - 1))["reads"], day as u64 + 1);
        g.admin_request(
            "POST",
            "/admin/test/clock",
            &format!(r#"{{"advance_ms": {}}}"#, DAY_MS / 2),
        )
        .expect("clock");
    }
    assert!(reads > 6 * HOT as u64);

    let m = retrain(&g);
    assert_eq!(m["last_attempt"]["outcome"], "trained", "{m}");
    let metrics = &m["metrics"];
    let (auc, rule_auc) = (
        metrics["auc"].as_f64().expect("auc"),
        metrics["rule_auc"].as_f64().expect("rule_auc"),
    );
    assert!(auc > 0.8, "the forest separates daily readers: AUC {auc}");
    assert!((0.0..=1.0).contains(&rule_auc));
    for f in ["precision", "recall", "rule_precision", "rule_recall"] {
        let v = metrics[f].as_f64().unwrap_or(-1.0);
        assert!((0.0..=1.0).contains(&v), "{f} = {v}");
    }
    for f in ["reads_mae", "rule_reads_mae"] {
        let v = metrics[f].as_f64().unwrap_or(-1.0);
        assert!(v >= 0.0, "{f} = {v}");
    }
    assert_eq!(
        metrics["n_valid"], OBJECTS,
        "every object is a validation example"
    );
    let expected = if auc >= rule_auc { "forest" } else { "rule" };
    assert_eq!(m["in_use"], expected, "{m}");
    let path = m["path"].as_str().expect("the forest is persisted");
    assert!(std::path::Path::new(path).exists());
    let trained_at = m["trained_at_ms"].as_i64().expect("trained_at_ms");
    assert_eq!(m["scored_objects"], OBJECTS);

    // p_hot on the object endpoint: every daily reader above every never-again-read object.
    let p = |k: &str| -> f64 {
        let o = object(&g, k);
        assert_eq!(o["p_hot_model"], expected, "{o}");
        assert_eq!(o["p_hot_horizon_ms"], DAY_MS);
        o["p_hot"].as_f64().expect("p_hot")
    };
    let hot_min = (0..5).map(|i| p(&key(i))).fold(f64::INFINITY, f64::min);
    let cold: Vec<usize> = (HOT..OBJECTS)
        .filter(|&i| (0..6).all(|d| !cold_read_on(i, d)))
        .take(5)
        .collect();
    assert_eq!(cold.len(), 5);
    let cold_max = cold
        .iter()
        .map(|&i| p(&key(i)))
        .fold(f64::NEG_INFINITY, f64::max);
    assert!(hot_min > cold_max, "hot {hot_min} vs cold {cold_max}");
    assert!(
        hot_min > 0.5,
        "a daily reader is likely read tomorrow: {hot_min}"
    );

    // The plan says which model it used.
    let (status, b) = g.admin_get("/admin/plan").expect("plan");
    assert_eq!(status, 200, "{b}");
    assert_eq!(json(&b)["model_in_use"], expected);

    // Prometheus sees the same.
    let (_, metrics) = g.admin_get("/metrics").expect("metrics");
    let in_use = u8::from(expected == "forest");
    assert!(
        metrics.contains(&format!("strata_model_forest_in_use {in_use}")),
        "{metrics}"
    );
    assert!(metrics.contains(&format!(
        "strata_model_validation_auc{{model=\"forest\"}} {auc}"
    )));

    // A restart loads the persisted forest.
    g.restart_with(&env);
    let m = model(&g);
    assert_eq!(m["trained_at_ms"], trained_at, "{m}");
    assert_eq!(m["in_use"], expected);
    assert!(
        m["reason"]
            .as_str()
            .unwrap_or("")
            .starts_with("loaded from"),
        "{m}"
    );
    assert!(m["metrics"]["auc"].as_f64().is_some());
    wait_for(10, "objects to be scored after the restart", || {
        object(&g, &key(0))["p_hot"].as_f64()
    });

    // A corrupt model file is reported, and the rule takes over.
    g.kill9();
    std::fs::write(path, b"{ not a model").expect("corrupt");
    g.restart_with(&env);
    let m = model(&g);
    assert_eq!(m["in_use"], "rule", "{m}");
    assert!(
        m["reason"].as_str().unwrap_or("").contains("does not load"),
        "{m}"
    );
}
