//! The admin API's metrics and backend views against the real binary.

mod common;

use aws_sdk_s3::primitives::ByteStream;
use common::{Gateway, json, wait_for};

fn metric(text: &str, line_prefix: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(line_prefix))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_bytes_and_cost() {
    let g = Gateway::start();
    let c = g.client();
    c.create_bucket()
        .bucket("metrics")
        .send()
        .await
        .expect("bucket");
    let body = vec![7u8; 200_000];
    c.put_object()
        .bucket("metrics")
        .key("a")
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .expect("put");
    let got = c
        .get_object()
        .bucket("metrics")
        .key("a")
        .send()
        .await
        .expect("get");
    assert_eq!(
        got.body.collect().await.expect("body").into_bytes().len(),
        body.len()
    );
    let _ = c.get_object().bucket("metrics").key("missing").send().await;

    // Usage and cost are a snapshot refreshed every 30 s; force one so the numbers include the PUT.
    let (status, _) = g
        .admin_get("/admin/backends?refresh=true")
        .expect("backends");
    assert_eq!(status, 200);
    let (status, text) = g.admin_get("/metrics").expect("metrics");
    assert_eq!(status, 200);
    assert_eq!(
        metric(
            &text,
            "strata_requests_total{op=\"PutObject\",status=\"200\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            "strata_requests_total{op=\"GetObject\",status=\"200\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        metric(
            &text,
            "strata_requests_total{op=\"GetObject\",status=\"404\"}"
        ),
        Some(1.0)
    );
    assert!(metric(&text, "strata_bytes_in_total").unwrap_or(0.0) >= 200_000.0);
    assert!(metric(&text, "strata_bytes_out_total").unwrap_or(0.0) >= 200_000.0);
    assert_eq!(
        metric(&text, "strata_backend_stored_bytes{backend=\"hot\"}"),
        Some(200_000.0)
    );
    assert!(metric(&text, "strata_monthly_cost_dollars{placement=\"all_hot\"}").is_some());
    assert!(text.contains("# TYPE strata_request_duration_seconds histogram"));
    // Which node this is, as /admin/cluster names it, and whether it leads: alone on its embedded catalog, it
    // takes the leader's lease at its first heartbeat.
    wait_for(10, "this node's heartbeat and lease in /metrics", || {
        let (_, cluster) = g.admin_get("/admin/cluster")?;
        let cluster = json(&cluster);
        let node = cluster["node"].as_str()?;
        let version = cluster["nodes"]
            .as_array()?
            .iter()
            .find(|n| n["node"] == node)?["version"]
            .as_str()?;
        let (_, text) = g.admin_get("/metrics")?;
        let info = format!("strata_node_info{{node=\"{node}\",version=\"{version}\"}}");
        (metric(&text, &info) == Some(1.0) && metric(&text, "strata_leader ") == Some(1.0))
            .then_some(())
    });

    // The backends view agrees after a rescan, and a token is required.
    let (_, body) = g
        .admin_get("/admin/backends?refresh=true")
        .expect("backends");
    let v = json(&body);
    let hot = v["backends"]
        .as_array()
        .and_then(|a| a.iter().find(|b| b["name"] == "hot"))
        .cloned()
        .expect("hot");
    assert_eq!(hot["objects"], 1);
    assert_eq!(hot["bytes"], 200_000);
    assert!(hot["monthly_cost"].as_f64().unwrap_or(0.0) > 0.0);
    assert_eq!(hot["writes"], 1);
    // Access recording reaches the catalog within the flush window.
    wait_for(10, "the GET to be recorded", || {
        let (_, b) = g.admin_get("/admin/objects/metrics/a")?;
        (json(&b)["reads"].as_u64()? >= 1).then_some(())
    });
}
