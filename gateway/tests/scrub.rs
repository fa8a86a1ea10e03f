//! Scrub and heal against the real binary: damage replicas on disk behind the gateway's back, run a pass through
//! the admin API, and check the report, the files and the content (also with the other replica gone).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use aws_sdk_s3::primitives::ByteStream;
use common::{Gateway, blob_files, json};
use serde_json::Value;

const BUCKET: &str = "scrub";

/// Two local backends on different providers, every object on both.
const CONFIG: &str = r#"
[[backends]]
name = "a"
kind = "local"
path = "backends/a"
tier = "s3-standard"

[[backends]]
name = "b"
kind = "local"
path = "backends/b"
tier = "azure-hot"

[placement]
replication_factor = 2
initial = ["a", "b"]
"#;

fn data(len: usize, seed: u32) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_246_822_519).wrapping_add(seed) as u8 ^ (i >> 13) as u8)
        .collect()
}

async fn put(c: &aws_sdk_s3::Client, key: &str, body: &[u8]) {
    c.put_object()
        .bucket(BUCKET)
        .key(key)
        .body(ByteStream::from(body.to_vec()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("put {key}: {e:?}"));
}

async fn get(c: &aws_sdk_s3::Client, key: &str) -> Vec<u8> {
    let out = c
        .get_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("get {key}: {e:?}"));
    out.body
        .collect()
        .await
        .unwrap_or_else(|e| panic!("get {key} body: {e:?}"))
        .into_bytes()
        .to_vec()
}

/// Blob names (paths relative to the backend root) on one local backend.
fn blobs(g: &Gateway, backend: &str) -> BTreeSet<PathBuf> {
    let root = g.data_dir().join("backends").join(backend);
    blob_files(&g.data_dir())
        .into_iter()
        .filter_map(|p| p.strip_prefix(&root).ok().map(Path::to_path_buf))
        .collect()
}

fn file(g: &Gateway, backend: &str, blob: &Path) -> PathBuf {
    g.data_dir().join("backends").join(backend).join(blob)
}

fn scrub_now(g: &Gateway) -> Value {
    let (status, body) = g
        .admin_request("POST", "/admin/scrub", "")
        .expect("admin answers");
    assert_eq!(status, 200, "{body}");
    json(&body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrub_heals_a_replica_corrupted_on_disk_and_one_deleted() {
    let g = Gateway::start_with_config(CONFIG);
    let c = g.client();
    c.create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .expect("create bucket");

    // Write objects one at a time to learn each one's blob name (the same on both backends).
    let mut objects: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut blob_of: BTreeMap<String, PathBuf> = BTreeMap::new();
    for (i, len) in [(5 << 19) + 123, 70_000, 1, 4 << 20, 333]
        .into_iter()
        .enumerate()
    {
        let key = format!("obj-{i}");
        let body = data(len, i as u32);
        let before = blobs(&g, "a");
        put(&c, &key, &body).await;
        let added: Vec<PathBuf> = blobs(&g, "a").difference(&before).cloned().collect();
        assert_eq!(added.len(), 1, "{added:?}");
        assert!(
            file(&g, "b", &added[0]).is_file(),
            "object on both replicas"
        );
        blob_of.insert(key.clone(), added[0].clone());
        objects.insert(key, body);
    }
    let status = json(&g.admin_get("/admin/scrub").expect("admin answers").1);
    assert_eq!(status["running"], false, "{status}");
    assert_eq!(status["passes"], 0, "{status}");

    // Behind the gateway's back: flip a byte in the middle of obj-0's copy on b, delete obj-3's copy on a.
    let corrupted = file(&g, "b", &blob_of["obj-0"]);
    let mut raw = std::fs::read(&corrupted).expect("read blob");
    let mid = raw.len() / 2;
    raw[mid] ^= 0x20;
    std::fs::write(&corrupted, &raw).expect("corrupt blob");
    let deleted = file(&g, "a", &blob_of["obj-3"]);
    std::fs::remove_file(&deleted).expect("delete blob");

    let report = scrub_now(&g);
    assert_eq!(report["complete"], true, "{report}");
    assert_eq!(report["objects_checked"], 5, "{report}");
    assert_eq!(report["replicas_checked"], 10, "{report}");
    assert_eq!(report["bad_found"], 1, "{report}");
    assert_eq!(report["missing_found"], 1, "{report}");
    assert_eq!(report["healed"], 2, "{report}");
    assert_eq!(report["heal_failures"], 0, "{report}");
    assert_eq!(report["transient_errors"], 0, "{report}");
    let events = report["events"].as_array().expect("events");
    assert_eq!(events.len(), 2, "{report}");
    let bad = events
        .iter()
        .find(|e| e["problem"] == "bad")
        .expect("bad event");
    assert_eq!(
        (bad["key"].as_str(), bad["backend"].as_str()),
        (Some("obj-0"), Some("b"))
    );
    assert_eq!(
        (bad["healed"].as_bool(), bad["source"].as_str()),
        (Some(true), Some("a"))
    );
    let missing = events
        .iter()
        .find(|e| e["problem"] == "missing")
        .expect("missing event");
    assert_eq!(
        (missing["key"].as_str(), missing["backend"].as_str()),
        (Some("obj-3"), Some("a"))
    );
    assert_eq!(
        (missing["healed"].as_bool(), missing["source"].as_str()),
        (Some(true), Some("b"))
    );

    // The files are back (the corrupt one rewritten), and the counters show on GET.
    assert!(deleted.is_file(), "healed copy on a");
    assert_ne!(std::fs::read(&corrupted).expect("read healed blob"), raw);
    let status = json(&g.admin_get("/admin/scrub").expect("admin answers").1);
    assert_eq!(status["passes"], 1, "{status}");
    assert_eq!(status["bad_found"], 1, "{status}");
    assert_eq!(status["missing_found"], 1, "{status}");
    assert_eq!(status["healed"], 2, "{status}");
    assert_eq!(status["running"], false, "{status}");
    assert!(status["last_run_start_ms"].as_i64().is_some(), "{status}");
    assert!(
        status["last_run_end_ms"].as_i64() >= status["last_run_start_ms"].as_i64(),
        "{status}"
    );
    for (k, v) in &objects {
        assert_eq!(&get(&c, k).await, v, "{k}");
    }

    // Each healed copy serves the object alone: delete the replica it was healed from.
    std::fs::remove_file(file(&g, "a", &blob_of["obj-0"])).expect("delete a's obj-0");
    std::fs::remove_file(file(&g, "b", &blob_of["obj-3"])).expect("delete b's obj-3");
    assert_eq!(get(&c, "obj-0").await, objects["obj-0"]);
    assert_eq!(get(&c, "obj-3").await, objects["obj-3"]);

    // A clean second pass after that: both deleted copies found missing and healed back.
    let report = scrub_now(&g);
    assert_eq!(report["missing_found"], 2, "{report}");
    assert_eq!(report["bad_found"], 0, "{report}");
    assert_eq!(report["healed"], 2, "{report}");
    for (k, blob) in &blob_of {
        assert!(
            file(&g, "a", blob).is_file() && file(&g, "b", blob).is_file(),
            "{k}"
        );
    }
    let report = scrub_now(&g);
    assert_eq!(
        (
            report["bad_found"].as_u64(),
            report["missing_found"].as_u64(),
            report["healed"].as_u64()
        ),
        (Some(0), Some(0), Some(0)),
        "{report}"
    );
    for (k, v) in &objects {
        assert_eq!(&get(&c, k).await, v, "{k}");
    }
}
