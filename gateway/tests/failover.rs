//! Reads fail over between replicas, mid-stream included, and corruption is never served.

mod common;

use aws_sdk_s3::primitives::ByteStream;
use common::{Gateway, json};

const TWO_TIERS: &str = r#"
[[backends]]
name = "a"
kind = "local"
path = "backends/a"
tier = "aws-s3-standard"

[[backends]]
name = "b"
kind = "local"
path = "backends/b"
tier = "azure-hot"

[placement]
replication_factor = 2
initial = ["a", "b"]
"#;

fn data(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(29) ^ ((i >> 10) as u8))
        .collect()
}

async fn get(g: &Gateway, key: &str) -> Vec<u8> {
    let out = g
        .client()
        .get_object()
        .bucket("fail")
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

fn set_chaos(g: &Gateway, rules: &str) {
    let (status, body) = g
        .admin_request("PUT", "/admin/chaos", rules)
        .expect("admin");
    assert_eq!(status, 200, "{body}");
}

fn injected(g: &Gateway) -> u64 {
    let (_, body) = g.admin_get("/admin/chaos/stats").expect("admin");
    json(&body)["total_injected"].as_u64().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_reset_mid_stream_resumes_on_the_other_replica() {
    let g = Gateway::start_with_config(TWO_TIERS);
    g.client()
        .create_bucket()
        .bucket("fail")
        .send()
        .await
        .expect("bucket");
    let body = data(4 * 1024 * 1024 + 77);
    g.client()
        .put_object()
        .bucket("fail")
        .key("k")
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .expect("put");
    // The first replica read dies after 1.5 MiB of sealed bytes; the reader resumes on the other one.
    set_chaos(
        &g,
        r#"{"rules":[{"ops":["get"],"max_count":1,"fault":{"type":"reset_mid_stream","after_bytes":1572864}}]}"#,
    );
    assert_eq!(get(&g, "k").await, body);
    assert_eq!(injected(&g), 1, "the reset happened");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupted_reads_are_detected_and_served_from_the_good_replica() {
    let g = Gateway::start_with_config(TWO_TIERS);
    g.client()
        .create_bucket()
        .bucket("fail")
        .send()
        .await
        .expect("bucket");
    // A streamed read (several frames) and a small one, read whole before the answer starts.
    let big = data(3 * 1024 * 1024);
    let small = data(100 * 1024);
    for (key, body) in [("k", &big), ("small", &small)] {
        g.client()
            .put_object()
            .bucket("fail")
            .key(key)
            .body(ByteStream::from(body.clone()))
            .send()
            .await
            .expect("put");
    }
    // Every read from "a" flips bytes; the frame check catches it and "b" serves the object.
    set_chaos(
        &g,
        r#"{"rules":[{"backend":"a","ops":["get"],"fault":{"type":"corrupt","flips":3}}]}"#,
    );
    for _ in 0..3 {
        assert_eq!(get(&g, "k").await, big);
        assert_eq!(get(&g, "small").await, small);
    }
    // With both replicas corrupt the gateway refuses rather than serve wrong bytes.
    set_chaos(
        &g,
        r#"{"rules":[{"ops":["get"],"fault":{"type":"corrupt","flips":3}}]}"#,
    );
    let out = g.client().get_object().bucket("fail").key("k").send().await;
    match out {
        Err(_) => {}
        Ok(o) => assert!(
            o.body.collect().await.is_err(),
            "a corrupt object must never be served whole"
        ),
    }
    // A small object is refused before any byte: a 503, not a cut body.
    let err = g
        .client()
        .get_object()
        .bucket("fail")
        .key("small")
        .send()
        .await
        .expect_err("both replicas of the small object are corrupt");
    let status = err.raw_response().map(|r| r.status().as_u16());
    assert_eq!(status, Some(503), "{err:?}");
}
