//! Counting S3 requests: the access check fills in the operation's name and target, and [`observe`] times and
//! counts the response in the engine's [`Metrics`] and, when events are on, publishes it to Kafka.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use engine::events::{Event, EventSink};
use engine::metrics::Metrics;

/// What the access check learns about a request: its S3 operation and the bucket and key it names.
#[derive(Debug)]
pub struct RequestTarget {
    pub op: String,
    pub bucket: String,
    pub key: String,
}

/// Filled in by the access check, read back when the response is counted.
#[derive(Clone, Default)]
pub struct OpSlot(pub Arc<OnceLock<RequestTarget>>);

/// Times and counts one S3 request around the s3s service; `request_bytes` is the request's Content-Length.
pub async fn observe<F, B, E>(
    metrics: Arc<Metrics>,
    events: Option<EventSink>,
    slot: OpSlot,
    request_bytes: u64,
    fut: F,
) -> Result<http::Response<B>, E>
where
    F: std::future::Future<Output = Result<http::Response<B>, E>>,
{
    let start = Instant::now();
    let result = fut.await;
    if let Ok(resp) = &result {
        let target = slot.0.get();
        let op = target.map(|t| t.op.as_str()).unwrap_or("Unknown");
        let elapsed = start.elapsed().as_secs_f64();
        metrics.request(op, resp.status().as_u16(), elapsed);
        if let (Some(sink), Some(t)) = (&events, target) {
            let response_bytes = resp
                .headers()
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
            sink.publish(Event {
                bucket: t.bucket.clone(),
                key: t.key.clone(),
                version: None,
                size: request_bytes.max(response_bytes),
                op: t.op.clone(),
                status: resp.status().as_u16(),
                latency_ms: elapsed * 1000.0,
                node: sink.node.clone(),
                time_ms: std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as i64),
                detail: None,
            });
        }
    }
    result
}
