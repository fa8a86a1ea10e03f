//! The proofs of the chaos layer, against the real binary: with faults injected into ONE replica's backend (RF=2
//! over local disks), reads stay byte-identical; corruption is caught by the frame check and never served; writes
//! that cannot reach RF fail cleanly and leave nothing behind; retries stop at their bound; and moves to a faulty
//! destination retry, abort with a reason and never commit an unverified copy.
//!
//! `STRATA_CHAOS_ITERATIONS=N` (default 1) repeats every read case N times with fresh objects (the soak,
//! `scripts/soak.sh`).

mod common;

use std::time::{Duration, Instant};

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use common::{ACCESS_KEY, Gateway, SECRET_KEY, blob_files, json, wait_for};
use serde_json::Value;

/// The retry policy of these gateways: 3 attempts per backend call, small backoffs, 1 s per attempt.
const MAX_ATTEMPTS: u64 = 3;

/// Three local backends; new objects on `a` and `b` (RF=2). `a` has the lowest first-byte latency, so reads try it
/// first: that is where the faults go. `c` is a move destination.
const CONFIG: &str = r#"
[[backends]]
name = "a"
kind = "local"
path = "backends/a"
tier = "aws-s3-standard"

[[backends]]
name = "b"
kind = "local"
path = "backends/b"
tier = "azure-cold"

[[backends]]
name = "c"
kind = "local"
path = "backends/c"
tier = "gcs-standard"

[placement]
replication_factor = 2
initial = ["a", "b"]

[retry]
max_attempts = 3
base_ms = 20
max_delay_ms = 200
max_elapsed_ms = 10000
attempt_timeout_ms = 1000

[scrub]
interval_secs = 0

[planner]
enabled = false
"#;

/// One backend only (RF=1): a corrupt read has no other replica to fall back on.
const SINGLE: &str = r#"
[[backends]]
name = "a"
kind = "local"
path = "backends/a"
tier = "aws-s3-standard"

[retry]
max_attempts = 3
base_ms = 20
max_delay_ms = 200
attempt_timeout_ms = 1000

[scrub]
interval_secs = 0
"#;

const BUCKET: &str = "chaos";

fn iterations() -> usize {
    std::env::var("STRATA_CHAOS_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1)
}

fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ ((i >> 11) as u8))
        .collect()
}

/// An SDK client that does not retry: every status the gateway answers reaches the test as is.
fn client(g: &Gateway) -> aws_sdk_s3::Client {
    let creds = aws_sdk_s3::config::Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "chaos");
    let config = aws_sdk_s3::Config::builder()
        .behavior_version_latest()
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .endpoint_url(g.endpoint())
        .force_path_style(true)
        .credentials_provider(creds)
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

async fn start(config: &str) -> (Gateway, aws_sdk_s3::Client) {
    let g = Gateway::start_with_config(config);
    let c = client(&g);
    c.create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .expect("create bucket");
    (g, c)
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

/// What a GET delivered: every byte received is checked against `expected` as it arrives, so wrong bytes are
/// caught even when the stream fails later.
enum Got {
    /// The whole body, byte-identical.
    Whole,
    /// The request failed before the body (status, S3 code).
    Refused(u16, String),
    /// The body stopped with an error after this many correct bytes.
    Broken(usize),
}

async fn get_checked(
    c: &aws_sdk_s3::Client,
    key: &str,
    range: Option<std::ops::Range<usize>>,
    expected: &[u8],
) -> Got {
    let mut req = c.get_object().bucket(BUCKET).key(key);
    let want = match &range {
        Some(r) => {
            req = req.range(format!("bytes={}-{}", r.start, r.end - 1));
            &expected[r.clone()]
        }
        None => expected,
    };
    let out = match req.send().await {
        Ok(o) => o,
        Err(e) => {
            let status = e.raw_response().map_or(0, |r| r.status().as_u16());
            return Got::Refused(status, e.code().unwrap_or_default().to_owned());
        }
    };
    let mut body = out.body;
    let mut at = 0usize;
    loop {
        match body.try_next().await {
            Ok(Some(chunk)) => {
                assert!(
                    at + chunk.len() <= want.len(),
                    "{key}: received more bytes than the object has"
                );
                assert!(
                    chunk[..] == want[at..at + chunk.len()],
                    "{key}: WRONG BYTES served at offset {at}"
                );
                at += chunk.len();
            }
            Ok(None) => break,
            Err(_) => return Got::Broken(at),
        }
    }
    if at == want.len() {
        Got::Whole
    } else {
        Got::Broken(at)
    }
}

fn set_chaos(g: &Gateway, rules: &Value) {
    let (status, body) = g
        .admin_request("PUT", "/admin/chaos", &rules.to_string())
        .expect("admin answers");
    assert_eq!(status, 200, "installing chaos rules {rules}: {body}");
}

fn clear_chaos(g: &Gateway) {
    let (status, body) = g
        .admin_request("DELETE", "/admin/chaos", "")
        .expect("admin answers");
    assert_eq!(status, 200, "{body}");
}

/// Faults injected since the gateway started.
fn injected(g: &Gateway) -> u64 {
    let (status, body) = g.admin_get("/admin/chaos/stats").expect("admin answers");
    assert_eq!(status, 200, "{body}");
    json(&body)["total_injected"]
        .as_u64()
        .expect("total_injected")
}

/// `retries` of backend `name` in `/admin/backends`: (retries, recovered, give_ups).
fn retries(g: &Gateway, name: &str) -> (u64, u64, u64) {
    let (status, body) = g.admin_get("/admin/backends").expect("admin answers");
    assert_eq!(status, 200, "{body}");
    let v = json(&body);
    let b = v["backends"]
        .as_array()
        .and_then(|a| a.iter().find(|b| b["name"] == name).cloned())
        .unwrap_or_else(|| panic!("backend {name} in {v}"));
    let r = &b["retries"];
    (
        r["retries"].as_u64().expect("retries"),
        r["recovered"].as_u64().expect("recovered"),
        r["give_ups"].as_u64().expect("give_ups"),
    )
}

fn object(g: &Gateway, key: &str) -> Value {
    let (status, body) = g
        .admin_get(&format!("/admin/objects/{BUCKET}/{key}"))
        .expect("admin answers");
    assert_eq!(status, 200, "{body}");
    json(&body)
}

fn files_under(g: &Gateway, backend: &str) -> usize {
    let root = g.data_dir().join("backends").join(backend);
    blob_files(&g.data_dir())
        .iter()
        .filter(|p| p.starts_with(&root))
        .count()
}

async fn exists(c: &aws_sdk_s3::Client, key: &str) -> bool {
    match c.head_object().bucket(BUCKET).key(key).send().await {
        Ok(_) => true,
        Err(e) => {
            let status = e.raw_response().map(|r| r.status().as_u16());
            assert_eq!(status, Some(404), "HEAD {key}: {e:?}");
            false
        }
    }
}

async fn listed(c: &aws_sdk_s3::Client) -> Vec<String> {
    let out = c
        .list_objects_v2()
        .bucket(BUCKET)
        .send()
        .await
        .expect("list");
    out.contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect()
}

// ------------------------------------------------------------------------------------------------------------
// 1. Reads under every fault type on one replica
// ------------------------------------------------------------------------------------------------------------

/// One fault on backend `a` (the replica reads try first): every read, whole and ranged, of objects of several
/// sizes returns exactly the stored bytes (from `b` where `a` fails), and the fault really fired.
async fn reads_survive(fault: Value, ops: &[&str]) {
    let (g, c) = start(CONFIG).await;
    let sizes = [1usize, 4096, 3 * 1024 * 1024 + 17];
    let (mut reads, mut fired_total) = (0u64, 0u64);
    for round in 0..iterations() {
        let objects: Vec<(String, Vec<u8>)> = sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| (format!("r{round}/o{i}"), data(n, (round * 7 + i) as u8)))
            .collect();
        for (k, v) in &objects {
            put(&c, k, v).await;
            assert_eq!(object(&g, k)["replicas"], serde_json::json!(["a", "b"]));
        }
        let before = injected(&g);
        let mut rule = serde_json::json!({ "id": "one-replica", "backend": "a", "fault": fault });
        if !ops.is_empty() {
            rule["ops"] = serde_json::json!(ops);
        }
        set_chaos(&g, &serde_json::json!({ "rules": [rule] }));
        for (k, v) in &objects {
            let mut ranges = vec![None];
            if v.len() > 2 * 1024 * 1024 {
                // Starts past the first frame (header and frames in two gets) and ends in the last one.
                ranges.push(Some(1_500_000..v.len() - 3));
                ranges.push(Some(0..1_048_600));
            }
            for r in ranges {
                let got = get_checked(&c, k, r.clone(), v).await;
                reads += 1;
                assert!(
                    matches!(got, Got::Whole),
                    "fault {fault}: GET {k} {r:?} must be served whole from the other replica"
                );
            }
        }
        let fired = injected(&g) - before;
        assert!(fired >= 1, "fault {fault} never fired");
        fired_total += fired;
        clear_chaos(&g);
        // `a` is healthy again and still holds good copies: with `b` down, reads come from `a`.
        let before = injected(&g);
        set_chaos(
            &g,
            &serde_json::json!({ "rules": [{ "backend": "b", "fault": { "type": "down" } }] }),
        );
        for (k, v) in &objects {
            assert!(matches!(get_checked(&c, k, None, v).await, Got::Whole));
            reads += 1;
        }
        fired_total += injected(&g) - before;
        clear_chaos(&g);
    }
    assert!(!g.log().contains("panicked"), "the gateway panicked");
    println!(
        "CHAOS reads fault={}{} rounds={} reads_byte_identical={reads} faults_injected={fired_total} wrong_bytes=0",
        fault["type"].as_str().unwrap_or("?"),
        fault["status"]
            .as_u64()
            .map_or(String::new(), |s| format!("-{s}")),
        iterations()
    );
}

/// One test per fault type: `name: fault JSON, operations it applies to;`.
macro_rules! reads_survive_each {
    ($($(#[doc = $doc:expr])* $name:ident: $fault:tt, $ops:expr;)*) => {$(
        $(#[doc = $doc])*
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            reads_survive(serde_json::json!($fault), $ops).await;
        }
    )*};
}

reads_survive_each! {
    reads_survive_error_429_on_one_replica: {"type": "error", "status": 429}, &["get"];
    reads_survive_error_500_on_one_replica: {"type": "error", "status": 500}, &["get"];
    reads_survive_error_503_on_one_replica: {"type": "error", "status": 503}, &["get"];
    reads_survive_timeouts_on_one_replica: {"type": "timeout", "after_ms": 100}, &["get"];
    /// The attempt timeout (1 s) abandons each hung call; after 3 attempts the read fails over.
    reads_survive_hangs_on_one_replica: {"type": "hang"}, &["get"];
    reads_survive_connection_resets_mid_stream_on_one_replica:
        {"type": "reset_mid_stream", "after_bytes": 1_200_000}, &["get"];
    reads_survive_truncated_reads_on_one_replica: {"type": "truncate", "after_bytes": 10}, &["get"];
    reads_survive_flipped_bytes_on_one_replica: {"type": "corrupt", "flips": 3}, &["get"];
    reads_survive_latency_on_one_replica:
        {"type": "latency", "fixed_ms": 150, "jitter_ms": 100}, &["get", "head"];
    reads_survive_one_replica_fully_down: {"type": "down"}, &[];
}

// ------------------------------------------------------------------------------------------------------------
// 2. Corruption with no good replica: an error, never wrong bytes
// ------------------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_single_replica_is_an_error_never_wrong_bytes() {
    let (g, c) = start(SINGLE).await;
    let mut objects = Vec::new();
    for round in 0..iterations() {
        for (i, n) in [100usize, 2 * 1024 * 1024 + 5].into_iter().enumerate() {
            let k = format!("r{round}/s{i}");
            let v = data(n, (round + i) as u8);
            put(&c, &k, &v).await;
            objects.push((k, v));
        }
    }
    let mut refused = 0u64;
    for fault in [
        serde_json::json!({"type": "corrupt", "flips": 1}),
        serde_json::json!({"type": "corrupt", "flips": 40}),
        serde_json::json!({"type": "truncate", "after_bytes": 1_100_000}),
    ] {
        set_chaos(
            &g,
            &serde_json::json!({"rules": [{"backend": "a", "ops": ["get"], "fault": fault}]}),
        );
        for (k, v) in &objects {
            let before = injected(&g);
            // get_checked fails the test on any wrong byte; here the read must also not complete.
            match get_checked(&c, k, None, v).await {
                Got::Refused(status, code) => {
                    assert_eq!(status, 503, "{fault}: GET {k}: {code}");
                    assert_eq!(code, "ServiceUnavailable", "{fault}: GET {k}");
                    refused += 1;
                }
                Got::Broken(at) => {
                    assert!(at < v.len(), "{fault}: GET {k}");
                    refused += 1;
                }
                Got::Whole => {
                    // Only possible when the fault could not apply (a truncation past the end of a small blob).
                    assert_eq!(
                        injected(&g),
                        before,
                        "{fault}: a faulted read of {k} was served whole"
                    );
                    assert!(v.len() < 1_100_000, "{fault}: {k}");
                }
            }
        }
        clear_chaos(&g);
    }
    // The stored copies were never touched: without faults everything reads back.
    for (k, v) in &objects {
        assert!(matches!(get_checked(&c, k, None, v).await, Got::Whole));
    }
    assert!(
        injected(&g) >= 2 * objects.len() as u64,
        "every corrupting read fired"
    );
    assert!(!g.log().contains("panicked"), "the gateway panicked");
    println!(
        "CHAOS single-replica-corruption objects={} reads_refused={refused} faults_injected={} wrong_bytes=0",
        objects.len(),
        injected(&g)
    );
}

// ------------------------------------------------------------------------------------------------------------
// 3. Writes that cannot reach RF fail cleanly and leave nothing
// ------------------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_that_cannot_reach_rf_fail_cleanly_and_leave_nothing() {
    let (g, c) = start(CONFIG).await;
    put(&c, "existing", b"the old version").await;
    let mut refused = 0u64;
    for (down, fault) in [
        ("b", serde_json::json!({"type": "down"})),
        ("a", serde_json::json!({"type": "error", "status": 503})),
        ("b", serde_json::json!({"type": "timeout", "after_ms": 50})),
    ] {
        let files_before = blob_files(&g.data_dir()).len();
        set_chaos(
            &g,
            &serde_json::json!({"rules": [{"backend": down, "ops": ["put", "multipart"], "fault": fault}]}),
        );
        // A small PUT (one store put per replica), a large one (multipart store upload) and an overwrite.
        for (key, len) in [
            ("new-small", 1000usize),
            ("new-large", 9 * 1024 * 1024),
            ("existing", 5000),
        ] {
            let err = c
                .put_object()
                .bucket(BUCKET)
                .key(key)
                .body(ByteStream::from(data(len, 1)))
                .send()
                .await
                .expect_err("a write that cannot reach RF must fail");
            let status = err.raw_response().map(|r| r.status().as_u16());
            assert_eq!(status, Some(503), "{fault} on {down}: PUT {key}: {err:?}");
            assert_eq!(err.code(), Some("ServiceUnavailable"), "{fault}: PUT {key}");
            refused += 1;
        }
        // An S3 multipart part cannot be stored either.
        let up = c
            .create_multipart_upload()
            .bucket(BUCKET)
            .key("new-mp")
            .send()
            .await
            .expect("create multipart upload");
        let uid = up.upload_id().expect("upload id");
        let err = c
            .upload_part()
            .bucket(BUCKET)
            .key("new-mp")
            .upload_id(uid)
            .part_number(1)
            .body(ByteStream::from(data(100_000, 2)))
            .send()
            .await
            .expect_err("a part that cannot reach RF must fail");
        assert_eq!(
            err.code(),
            Some("ServiceUnavailable"),
            "{fault}: UploadPart"
        );
        refused += 1;
        let parts = c
            .list_parts()
            .bucket(BUCKET)
            .key("new-mp")
            .upload_id(uid)
            .send()
            .await
            .expect("list parts");
        assert!(parts.parts().is_empty(), "{fault}: a failed part is listed");
        c.abort_multipart_upload()
            .bucket(BUCKET)
            .key("new-mp")
            .upload_id(uid)
            .send()
            .await
            .expect("abort");
        clear_chaos(&g);

        assert!(!exists(&c, "new-small").await, "{fault}: HEAD new-small");
        assert!(!exists(&c, "new-large").await, "{fault}: HEAD new-large");
        assert!(!exists(&c, "new-mp").await, "{fault}: HEAD new-mp");
        assert_eq!(listed(&c).await, ["existing"], "{fault}: listing");
        assert!(
            matches!(
                get_checked(&c, "existing", None, b"the old version").await,
                Got::Whole
            ),
            "{fault}: the failed overwrite left the old version"
        );
        // The replica that did get the bytes removed them before the reply: no orphan blob file.
        assert_eq!(
            blob_files(&g.data_dir()).len(),
            files_before,
            "{fault} on {down}: orphan blob files {:?}",
            blob_files(&g.data_dir())
        );
    }
    // The backend is back: writes reach RF again.
    put(&c, "new-small", b"now it works").await;
    assert_eq!(
        object(&g, "new-small")["replicas"],
        serde_json::json!(["a", "b"])
    );
    assert!(!g.log().contains("panicked"), "the gateway panicked");
    println!(
        "CHAOS writes-below-rf writes_refused_503={refused} faults_injected={} objects_left=0 orphan_files=0",
        injected(&g)
    );
}

// ------------------------------------------------------------------------------------------------------------
// 4. Retries back off and stop at their bound
// ------------------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_stop_at_their_bound_and_are_counted() {
    let (g, c) = start(CONFIG).await;
    let v = data(10_000, 5);
    put(&c, "k", &v).await;

    // A read: `a` answers 503 to every get. The call is made exactly max_attempts times, then the read fails over.
    let (r0, rec0, give0) = retries(&g, "a");
    let before = injected(&g);
    set_chaos(
        &g,
        &serde_json::json!({"rules": [{"backend": "a", "ops": ["get"], "fault": {"type": "error", "status": 503}}]}),
    );
    assert!(matches!(get_checked(&c, "k", None, &v).await, Got::Whole));
    assert_eq!(
        injected(&g) - before,
        MAX_ATTEMPTS,
        "attempts on a = the bound"
    );
    let (r1, rec1, give1) = retries(&g, "a");
    assert_eq!(r1 - r0, MAX_ATTEMPTS - 1, "retries = attempts - 1");
    assert_eq!(give1 - give0, 1, "one give-up");
    assert_eq!(rec1, rec0, "nothing recovered");

    // Timeouts: each attempt waits 300 ms before failing, so the call takes at least max_attempts × 300 ms.
    let before = injected(&g);
    set_chaos(
        &g,
        &serde_json::json!({"rules": [{"backend": "b", "ops": ["get"], "fault": {"type": "timeout", "after_ms": 300}},
                                       {"backend": "a", "ops": ["get"], "fault": {"type": "timeout", "after_ms": 300}}]}),
    );
    let t = Instant::now();
    match get_checked(&c, "k", None, &v).await {
        Got::Refused(status, code) => {
            assert_eq!((status, code.as_str()), (503, "ServiceUnavailable"))
        }
        other => panic!(
            "both replicas time out: expected a 503, got {}",
            match other {
                Got::Whole => "the whole body".to_owned(),
                Got::Broken(n) => format!("{n} bytes"),
                Got::Refused(..) => unreachable!(),
            }
        ),
    }
    let elapsed = t.elapsed();
    assert_eq!(
        injected(&g) - before,
        2 * MAX_ATTEMPTS,
        "both replicas tried exactly max_attempts times"
    );
    assert!(
        elapsed >= Duration::from_millis(2 * MAX_ATTEMPTS * 300),
        "{elapsed:?}: the attempts were not all made"
    );

    // A retry that succeeds is counted as recovered: 2 failures then success.
    let (_, rec0, give0) = retries(&g, "a");
    set_chaos(
        &g,
        &serde_json::json!({"rules": [{"backend": "a", "ops": ["get"], "max_count": 2, "fault": {"type": "error", "status": 500}},
                                       {"backend": "b", "fault": {"type": "down"}}]}),
    );
    assert!(matches!(get_checked(&c, "k", None, &v).await, Got::Whole));
    let (_, rec1, give1) = retries(&g, "a");
    assert_eq!(rec1 - rec0, 1, "the read recovered on its third attempt");
    assert_eq!(give1, give0);

    // A write: `b` answers 503 to every put: max_attempts puts, then a clean 503.
    clear_chaos(&g);
    let before = injected(&g);
    let (_, _, give0) = retries(&g, "b");
    set_chaos(
        &g,
        &serde_json::json!({"rules": [{"backend": "b", "ops": ["put"], "fault": {"type": "error", "status": 503}}]}),
    );
    let err = c
        .put_object()
        .bucket(BUCKET)
        .key("w")
        .body(ByteStream::from(data(2000, 9)))
        .send()
        .await
        .expect_err("put must fail");
    assert_eq!(err.code(), Some("ServiceUnavailable"));
    assert_eq!(injected(&g) - before, MAX_ATTEMPTS, "puts on b = the bound");
    assert_eq!(retries(&g, "b").2 - give0, 1);
    // A non-retryable status (403) is not retried at all.
    let before = injected(&g);
    set_chaos(
        &g,
        &serde_json::json!({"rules": [{"backend": "b", "ops": ["put"], "fault": {"type": "error", "status": 403}}]}),
    );
    let err = c
        .put_object()
        .bucket(BUCKET)
        .key("w")
        .body(ByteStream::from(data(2000, 9)))
        .send()
        .await
        .expect_err("put must fail");
    assert_eq!(err.code(), Some("ServiceUnavailable"));
    assert_eq!(injected(&g) - before, 1, "403 is final: one attempt");
    clear_chaos(&g);
    assert!(!exists(&c, "w").await);
    // The Prometheus page carries the same counters.
    let (_, metrics) = g.admin_get("/metrics").expect("metrics");
    assert!(
        metrics.contains("strata_backend_retries_total{backend=\"a\",outcome=\"retry\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("strata_chaos_faults_injected_total"));
}

// ------------------------------------------------------------------------------------------------------------
// 5. Moves to a faulty destination
// ------------------------------------------------------------------------------------------------------------

fn plan_move(g: &Gateway, key: &str, to: &[&str]) -> u64 {
    let body = serde_json::json!({ "bucket": BUCKET, "key": key, "to": to }).to_string();
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

/// The mover's attempts per copy-and-verify step (`engine/src/mover.rs`).
const MOVER_ATTEMPTS: u64 = 5;

async fn move_aborts(fault: Value, ops: &[&str], faults_per_attempt: u64) {
    let (g, c) = start(CONFIG).await;
    let v = data(1_500_000, 3);
    put(&c, "m", &v).await;
    put(&c, "bystander", b"bystander").await;
    let before = object(&g, "m");
    assert_eq!(before["replicas"], serde_json::json!(["a", "b"]));
    let fired0 = injected(&g);
    set_chaos(
        &g,
        &serde_json::json!({"rules": [{"id": "dest", "backend": "c", "ops": ops, "fault": fault}]}),
    );
    let t0 = Instant::now();
    let id = plan_move(&g, "m", &["a", "c"]);
    let t = wait_for(120, "the move to be aborted", || {
        let t = task(&g, id);
        match t["state"].as_str() {
            Some("Aborted") => Some(t),
            Some("Committed") | Some("SourceReleased") | Some("Verified") => {
                panic!("{fault}: a copy to a faulty destination got past verification: {t}")
            }
            _ => None,
        }
    });
    let took = t0.elapsed();
    let reason = t["reason"].as_str().unwrap_or("");
    assert!(
        reason.contains(&format!("gave up after {MOVER_ATTEMPTS} attempts")),
        "{fault}: reason {reason:?}"
    );
    let fired = injected(&g) - fired0;
    assert_eq!(
        fired,
        MOVER_ATTEMPTS * faults_per_attempt,
        "{fault}: every mover attempt reached the destination, and no more"
    );
    // Four backoffs between five attempts, at least 50 ms each.
    assert!(took >= Duration::from_millis(200), "{took:?}");
    clear_chaos(&g);
    // Never committed: same placement and generation, the object reads back from its old replicas, and the
    // destination holds nothing.
    let after = object(&g, "m");
    assert_eq!(after["replicas"], before["replicas"], "{fault}");
    assert_eq!(after["generation"], before["generation"], "{fault}");
    assert!(matches!(get_checked(&c, "m", None, &v).await, Got::Whole));
    assert!(matches!(
        get_checked(&c, "bystander", None, b"bystander").await,
        Got::Whole
    ));
    assert_eq!(
        files_under(&g, "c"),
        0,
        "{fault}: orphan on the destination"
    );
    // With the fault gone the same move goes through.
    let id = plan_move(&g, "m", &["a", "c"]);
    wait_for(120, "the retried move to commit", || {
        let t = task(&g, id);
        matches!(t["state"].as_str(), Some("Committed" | "SourceReleased")).then_some(())
    });
    assert_eq!(object(&g, "m")["replicas"], serde_json::json!(["a", "c"]));
    assert!(matches!(get_checked(&c, "m", None, &v).await, Got::Whole));
    assert!(!g.log().contains("panicked"), "the gateway panicked");
    println!(
        "CHAOS move fault={} state=Aborted mover_attempts={MOVER_ATTEMPTS} faults_injected={fired} committed_unverified=0 orphans=0",
        fault["type"].as_str().unwrap_or("?")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_to_a_destination_failing_puts_retries_then_aborts_cleanly() {
    // Each mover attempt's put is itself retried max_attempts times by the backend layer.
    move_aborts(
        serde_json::json!({"type": "error", "status": 503}),
        &["put", "multipart"],
        MAX_ATTEMPTS,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_whose_copy_reads_back_corrupt_is_never_committed() {
    // The copy is written, but every read-back flips a byte: verification fails, once per mover attempt.
    move_aborts(
        serde_json::json!({"type": "corrupt", "flips": 1}),
        &["get"],
        1,
    )
    .await;
}
