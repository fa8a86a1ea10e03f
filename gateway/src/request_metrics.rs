//! Counting S3 requests: the operation name is filled in by the access check, and [`observe`] times and counts the
//! response in the engine's [`Metrics`].

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use engine::metrics::Metrics;

/// Filled in by the access check with the S3 operation's name, read back when the response is counted.
#[derive(Clone, Default)]
pub struct OpSlot(pub Arc<OnceLock<String>>);

/// Times and counts one S3 request around the s3s service.
pub async fn observe<F, B, E>(
    metrics: Arc<Metrics>,
    slot: OpSlot,
    fut: F,
) -> Result<http::Response<B>, E>
where
    F: std::future::Future<Output = Result<http::Response<B>, E>>,
{
    let start = Instant::now();
    let result = fut.await;
    if let Ok(resp) = &result {
        let op = slot.0.get().map(String::as_str).unwrap_or("Unknown");
        metrics.request(op, resp.status().as_u16(), start.elapsed().as_secs_f64());
    }
    result
}
