//! The planner's end-to-end story on the embedded default tiers: objects are written, some are read hot, time
//! moves forward (the injectable clock, no sleeps), the plan moves cold objects down and keeps hot ones within
//! the SLA, and every moved object reads back byte-identical.

mod common;

use aws_sdk_s3::primitives::ByteStream;
use common::{Gateway, json, wait_for};
use serde_json::Value;

const MIB: usize = 1024 * 1024;

fn body(seed: u8) -> Vec<u8> {
    (0..8 * MIB)
        .map(|i| (i as u8).wrapping_mul(13).wrapping_add(seed) ^ ((i >> 12) as u8))
        .collect()
}

fn replicas(g: &Gateway, key: &str) -> Vec<String> {
    let (_, b) = g
        .admin_get(&format!("/admin/objects/story/{key}"))
        .expect("admin");
    json(&b)["replicas"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cold_objects_move_down_hot_ones_stay_fast_and_everything_reads_back() {
    let g = Gateway::start_with_config_env(
        "[planner]\nenabled = false\n",
        &[("STRATA_TEST_CLOCK", "1")],
    );
    let c = g.client();
    c.create_bucket()
        .bucket("story")
        .send()
        .await
        .expect("bucket");
    let keys = ["hot-0", "hot-1", "cold-0", "cold-1", "cold-2"];
    for (i, k) in keys.iter().enumerate() {
        c.put_object()
            .bucket("story")
            .key(*k)
            .body(ByteStream::from(body(i as u8)))
            .send()
            .await
            .expect("put");
    }
    // Forty days pass without a read; then the hot objects are read again and again.
    let (status, _) = g
        .admin_request("POST", "/admin/test/clock", r#"{"advance_ms": 3456000000}"#)
        .expect("clock");
    assert_eq!(status, 200);
    for _ in 0..6 {
        for k in ["hot-0", "hot-1"] {
            let out = c
                .get_object()
                .bucket("story")
                .key(k)
                .range("bytes=0-1023")
                .send()
                .await
                .expect("get");
            out.body.collect().await.expect("body");
        }
    }
    wait_for(10, "the reads to be recorded", || {
        let (_, b) = g.admin_get("/admin/objects/story/hot-1")?;
        (json(&b)["reads"].as_u64()? >= 6).then_some(())
    });

    let (status, b) = g.admin_get("/admin/plan").expect("plan");
    assert_eq!(status, 200, "{b}");
    let plan = json(&b);
    let moves = plan["moves"].as_array().cloned().unwrap_or_default();
    let moved: Vec<&str> = moves.iter().filter_map(|m| m["key"].as_str()).collect();
    for k in ["cold-0", "cold-1", "cold-2"] {
        assert!(moved.contains(&k), "{k} should leave hot: {plan}");
    }
    for m in &moves {
        let to = m["to"].as_array().cloned().unwrap_or_default();
        if m["key"].as_str().unwrap_or("").starts_with("hot") {
            assert!(
                !to.contains(&Value::from("cold")),
                "a hot object must stay within the SLA: {m}"
            );
        }
    }
    let before = plan["cost_before"].as_f64().expect("cost_before");
    let after = plan["cost_after"].as_f64().expect("cost_after");
    let lb = plan["lower_bound"].as_f64().expect("lower_bound");
    assert!(after < before, "the plan saves money: {before} -> {after}");
    assert!(
        lb <= after + 1e-9,
        "lower bound {lb} above the plan's cost {after}"
    );
    assert_eq!(plan["model_in_use"], "rule");

    let (status, b) = g
        .admin_request("POST", "/admin/plan/apply", "")
        .expect("apply");
    assert_eq!(status, 202, "{b}");
    let created = json(&b)["created"].as_array().map(Vec::len).unwrap_or(0);
    assert!(created >= 3, "{b}");
    wait_for(120, "every planned move to commit", || {
        let (_, b) = g.admin_get("/admin/moves?active=true")?;
        let v = json(&b);
        let active = v["moves"].as_array()?;
        active
            .iter()
            .all(|m| m["state"] == "Committed")
            .then_some(())
    });
    for k in ["cold-0", "cold-1", "cold-2"] {
        assert!(
            !replicas(&g, k).contains(&"hot".to_owned()),
            "{k} is still on hot"
        );
    }
    for k in ["hot-0", "hot-1"] {
        assert!(
            !replicas(&g, k).contains(&"cold".to_owned()),
            "{k} went to cold"
        );
    }
    for (i, k) in keys.iter().enumerate() {
        let out = c
            .get_object()
            .bucket("story")
            .key(*k)
            .send()
            .await
            .expect("get");
        assert_eq!(
            out.body
                .collect()
                .await
                .expect("body")
                .into_bytes()
                .to_vec(),
            body(i as u8),
            "{k}"
        );
    }
    // A second plan right away has nothing left to gain from these objects.
    let (_, b) = g.admin_get("/admin/plan").expect("plan");
    let again = json(&b)["moves"].as_array().map(Vec::len).unwrap_or(0);
    assert_eq!(again, 0, "{b}");
}

/// `capacity_bytes` on a backend is a constraint of the plan: read-hot objects that all want the fast tier do not
/// all get it when it cannot hold them, and the moves that result keep the tier within its capacity.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_capacity_is_respected_by_the_plan() {
    const CAPACITY: u64 = 20 * MIB as u64;
    let config = format!(
        r#"
[[backends]]
name = "hot"
kind = "local"
path = "backends/hot"
tier = "aws-s3-standard"
capacity_bytes = {CAPACITY}

[[backends]]
name = "warm"
kind = "local"
path = "backends/warm"
tier = "aws-s3-standard-ia"

[[backends]]
name = "cold"
kind = "local"
path = "backends/cold"
tier = "aws-s3-glacier-ir"

[placement]
initial = ["hot"]

[planner]
enabled = false
"#
    );
    let g = Gateway::start_with_config(&config);
    let c = g.client();
    c.create_bucket()
        .bucket("story")
        .send()
        .await
        .expect("bucket");
    let keys = ["a", "b", "c", "d"];
    for (i, k) in keys.iter().enumerate() {
        c.put_object()
            .bucket("story")
            .key(*k)
            .body(ByteStream::from(body(i as u8)))
            .send()
            .await
            .expect("put");
        for _ in 0..3 {
            c.get_object()
                .bucket("story")
                .key(*k)
                .range("bytes=0-1023")
                .send()
                .await
                .expect("get")
                .body
                .collect()
                .await
                .expect("body");
        }
    }
    wait_for(10, "the reads to be recorded", || {
        let (_, b) = g.admin_get("/admin/objects/story/d")?;
        (json(&b)["reads"].as_u64()? >= 3).then_some(())
    });
    let (status, b) = g.admin_get("/admin/plan").expect("plan");
    assert_eq!(status, 200, "{b}");
    let plan = json(&b);
    let cap = plan["constraints"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["name"] == "capacity:hot"))
        .cloned()
        .unwrap_or_else(|| panic!("no capacity:hot constraint in {plan}"));
    let (usage, limit) = (
        cap["usage"].as_f64().unwrap(),
        cap["limit"].as_f64().unwrap(),
    );
    assert!((limit - CAPACITY as f64 / 1e9).abs() < 1e-9, "{cap}");
    assert!(usage <= limit + 1e-12, "the plan overfills hot: {cap}");
    assert_eq!(plan["feasible"], true, "{plan}");
    let leaving = plan["moves"]
        .as_array()
        .map(|m| {
            m.iter()
                .filter(|m| !m["to"].as_array().unwrap().contains(&Value::from("hot")))
                .count()
        })
        .unwrap_or(0);
    assert!(leaving >= 2, "32 MiB cannot stay on a 20 MiB tier: {plan}");

    let (status, b) = g
        .admin_request("POST", "/admin/plan/apply", "")
        .expect("apply");
    assert_eq!(status, 202, "{b}");
    wait_for(120, "every planned move to commit", || {
        let (_, b) = g.admin_get("/admin/moves?active=true")?;
        let v = json(&b);
        v["moves"]
            .as_array()?
            .iter()
            .all(|m| m["state"] == "Committed")
            .then_some(())
    });
    let on_hot = keys
        .iter()
        .filter(|k| replicas(&g, k).contains(&"hot".to_owned()))
        .count();
    assert!(
        on_hot * 8 * MIB <= CAPACITY as usize,
        "{on_hot} objects of 8 MiB on hot"
    );
    for (i, k) in keys.iter().enumerate() {
        let got = c
            .get_object()
            .bucket("story")
            .key(*k)
            .send()
            .await
            .expect("get")
            .body
            .collect()
            .await
            .expect("body")
            .into_bytes();
        assert_eq!(got.to_vec(), body(i as u8), "{k}");
    }
}
