//! The mover against the real binary: verified moves, crashes at every move state, and an overwrite racing a move.

mod common;

use aws_sdk_s3::primitives::ByteStream;
use common::{Gateway, blob_files, json, wait_for};
use serde_json::Value;

fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(7).wrapping_add(seed) ^ ((i >> 9) as u8))
        .collect()
}

async fn put(g: &Gateway, key: &str, body: Vec<u8>) {
    g.client()
        .put_object()
        .bucket("mover")
        .key(key)
        .body(ByteStream::from(body))
        .send()
        .await
        .expect("put");
}

async fn get(g: &Gateway, key: &str) -> Vec<u8> {
    let out = g
        .client()
        .get_object()
        .bucket("mover")
        .key(key)
        .send()
        .await
        .expect("get");
    out.body
        .collect()
        .await
        .expect("body")
        .into_bytes()
        .to_vec()
}

fn object(g: &Gateway, key: &str) -> Value {
    let (status, body) = g
        .admin_get(&format!("/admin/objects/mover/{key}"))
        .expect("admin answers");
    assert_eq!(status, 200, "{body}");
    json(&body)
}

fn plan_move(g: &Gateway, key: &str, to: &[&str]) -> u64 {
    let body = serde_json::json!({ "bucket": "mover", "key": key, "to": to }).to_string();
    let (status, resp) = g
        .admin_request("POST", "/admin/moves", &body)
        .expect("admin answers");
    assert_eq!(status, 202, "{resp}");
    json(&resp)["moves"][0]["id"].as_u64().expect("task id")
}

fn task(g: &Gateway, id: u64) -> Value {
    let (_, body) = g
        .admin_get("/admin/moves?limit=1000")
        .expect("admin answers");
    json(&body)["moves"]
        .as_array()
        .and_then(|a| a.iter().find(|t| t["id"].as_u64() == Some(id)).cloned())
        .unwrap_or(Value::Null)
}

fn wait_state(g: &Gateway, id: u64, states: &[&str], secs: u64) -> Value {
    wait_for(secs, &format!("move {id} to reach {states:?}"), || {
        let t = task(g, id);
        states
            .contains(&t["state"].as_str().unwrap_or(""))
            .then_some(t)
    })
}

/// Every blob file on disk is referenced by the catalog, and vice versa (after the reaper's grace period).
fn assert_no_orphans(g: &Gateway) {
    wait_for(
        30,
        "blob files on disk to equal blobs the catalog references",
        || {
            let (_, body) = g.admin_get("/admin/health?deep=true")?;
            let h = json(&body);
            let referenced = h["blobs_referenced"].as_u64()?;
            let pending = h["garbage_pending"].as_u64()?;
            let files = blob_files(&g.data_dir()).len() as u64;
            (pending == 0 && files == referenced).then_some(())
        },
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_copies_verifies_commits_and_releases_the_source() {
    let g = Gateway::start();
    g.client()
        .create_bucket()
        .bucket("mover")
        .send()
        .await
        .expect("bucket");
    let body = data(3 * 1024 * 1024 + 5, 3);
    put(&g, "obj", body.clone()).await;
    let before = object(&g, "obj");
    assert_eq!(before["replicas"], serde_json::json!(["hot"]));

    let id = plan_move(&g, "obj", &["cold"]);
    wait_state(&g, id, &["Committed", "SourceReleased"], 60);
    let after = object(&g, "obj");
    assert_eq!(after["replicas"], serde_json::json!(["cold"]));
    assert!(after["generation"].as_u64() > before["generation"].as_u64());
    assert_eq!(
        get(&g, "obj").await,
        body,
        "moved object reads back byte-identical"
    );
    // The hot copy goes once the grace period is over; the task then says so.
    wait_state(&g, id, &["SourceReleased"], 60);
    assert!(
        !blob_files(&g.data_dir())
            .iter()
            .any(|p| p.starts_with(g.data_dir().join("backends/hot")))
    );
    assert_no_orphans(&g);
}

async fn crash_at(state: &str) {
    let mut g = Gateway::start_with(&[("STRATA_TEST_MOVER_PAUSE", state)]);
    g.client()
        .create_bucket()
        .bucket("mover")
        .send()
        .await
        .expect("bucket");
    let body = data(2 * 1024 * 1024 + 11, 9);
    put(&g, "obj", body.clone()).await;
    put(&g, "other", b"bystander".to_vec()).await;
    let id = plan_move(&g, "obj", &["warm"]);
    wait_state(&g, id, &[state], 60);
    // Give the paused mover a moment so that it really sits at the hook, then crash.
    std::thread::sleep(std::time::Duration::from_millis(300));
    g.kill9();
    g.restart_with(&[]);

    let t = wait_state(&g, id, &["SourceReleased"], 90);
    assert_eq!(t["to"], serde_json::json!(["warm"]));
    let rec = object(&g, "obj");
    assert_eq!(
        rec["replicas"],
        serde_json::json!(["warm"]),
        "crash at {state}: placement"
    );
    assert_eq!(
        get(&g, "obj").await,
        body,
        "crash at {state}: object content"
    );
    assert_eq!(get(&g, "other").await, b"bystander");
    // No object lost or duplicated in the catalog.
    let list = g
        .client()
        .list_objects_v2()
        .bucket("mover")
        .send()
        .await
        .expect("list");
    let keys: Vec<_> = list.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["obj", "other"]);
    assert_no_orphans(&g);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_while_copying_then_restart_converges() {
    crash_at("Copying").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_when_verified_then_restart_converges() {
    crash_at("Verified").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_after_commit_then_restart_converges() {
    crash_at("Committed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overwrite_during_a_move_aborts_it_and_keeps_the_new_version() {
    let g = Gateway::start();
    g.client()
        .create_bucket()
        .bucket("mover")
        .send()
        .await
        .expect("bucket");
    put(&g, "obj", data(1024 * 1024, 1)).await;
    // Slow the destination's writes so that the overwrite lands while the copy is in flight.
    let rules = r#"{"rules":[{"backend":"cold","ops":["put","multipart"],"fault":{"type":"latency","fixed_ms":1500,"jitter_ms":0,"tail_ms":0,"tail_probability":0.0}}]}"#;
    let (status, resp) = g
        .admin_request("PUT", "/admin/chaos", rules)
        .expect("admin answers");
    assert_eq!(status, 200, "{resp}");
    let id = plan_move(&g, "obj", &["cold"]);
    wait_state(&g, id, &["Copying"], 30);
    let newer = data(500_000, 42);
    put(&g, "obj", newer.clone()).await;
    let t = wait_state(&g, id, &["Aborted"], 60);
    assert!(
        t["reason"].as_str().unwrap_or("").contains("changed"),
        "{t}"
    );
    assert_eq!(object(&g, "obj")["replicas"], serde_json::json!(["hot"]));
    assert_eq!(
        get(&g, "obj").await,
        newer,
        "the overwrite wins, never the moved old version"
    );
    g.admin_request("DELETE", "/admin/chaos", "")
        .expect("clear chaos");
    assert_no_orphans(&g);
}
