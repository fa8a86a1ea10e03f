//! Latency histograms and counters per operation, and the run report.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Highest latency recorded exactly (1 hour, in µs); slower ones saturate.
const MAX_LATENCY_US: u64 = 3_600_000_000;
/// How many errors are kept verbatim.
const MAX_ERROR_SAMPLES: usize = 20;
const MIB: f64 = 1024.0 * 1024.0;

/// Operation labels in reports.
pub const OP_LABELS: [&str; 7] = [
    "PUT",
    "PUT_MULTIPART",
    "GET",
    "GET_RANGE",
    "HEAD",
    "DELETE",
    "LIST",
];

/// Counters and latency histogram of one operation label.
pub struct OpStats {
    hist: Histogram<u64>,
    /// Requests completed, failed ones included.
    pub count: u64,
    /// Failed requests.
    pub errors: u64,
    /// Payload bytes sent (writes) or received (reads) by successful requests.
    pub bytes: u64,
}

impl OpStats {
    fn new() -> OpStats {
        let hist = Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
            .expect("constant histogram bounds are within hdrhistogram's limits");
        OpStats {
            hist,
            count: 0,
            errors: 0,
            bytes: 0,
        }
    }

    fn pct_ms(&self, q: f64) -> f64 {
        self.hist.value_at_quantile(q) as f64 / 1000.0
    }
}

/// One failed request, kept as an example.
#[derive(Clone, Debug, Serialize)]
pub struct ErrorSample {
    /// Operation label.
    pub op: String,
    /// Object key or prefix.
    pub key: String,
    /// The error, with the SDK's context.
    pub error: String,
}

/// Everything measured during the timed phase.
#[derive(Default)]
pub struct Stats {
    ops: BTreeMap<&'static str, OpStats>,
    /// Kept errors.
    pub error_samples: Vec<ErrorSample>,
}

impl Stats {
    /// Records one completed request.
    pub fn record(
        &mut self,
        op: &'static str,
        latency: Duration,
        bytes: u64,
        error: Option<(String, String)>,
    ) {
        let s = self.ops.entry(op).or_insert_with(OpStats::new);
        s.count += 1;
        match error {
            None => {
                let us = u64::try_from(latency.as_micros())
                    .unwrap_or(u64::MAX)
                    .max(1);
                s.hist.saturating_record(us);
                s.bytes += bytes;
            }
            Some((key, error)) => {
                s.errors += 1;
                if self.error_samples.len() < MAX_ERROR_SAMPLES {
                    self.error_samples.push(ErrorSample {
                        op: op.to_string(),
                        key,
                        error,
                    });
                }
            }
        }
    }

    /// Requests completed.
    pub fn ops(&self) -> u64 {
        self.ops.values().map(|s| s.count).sum()
    }

    /// Failed requests.
    pub fn errors(&self) -> u64 {
        self.ops.values().map(|s| s.errors).sum()
    }

    /// Payload bytes moved.
    pub fn bytes(&self) -> u64 {
        self.ops.values().map(|s| s.bytes).sum()
    }

    /// Per-operation JSON: count, errors, bytes, throughput and latency
    /// percentiles in ms (successful requests only).
    pub fn ops_json(&self, elapsed_s: f64) -> serde_json::Value {
        let el = elapsed_s.max(1e-9);
        let map: serde_json::Map<String, serde_json::Value> = self
            .ops
            .iter()
            .map(|(name, s)| {
                (
                    name.to_string(),
                    serde_json::json!({
                        "count": s.count,
                        "errors": s.errors,
                        "bytes": s.bytes,
                        "ops_per_sec": s.count as f64 / el,
                        "mib_per_sec": s.bytes as f64 / MIB / el,
                        "p50_ms": s.pct_ms(0.50),
                        "p90_ms": s.pct_ms(0.90),
                        "p99_ms": s.pct_ms(0.99),
                        "p99_9_ms": s.pct_ms(0.999),
                        "mean_ms": s.hist.mean() / 1000.0,
                        "max_ms": s.hist.max() as f64 / 1000.0,
                    }),
                )
            })
            .collect();
        serde_json::Value::Object(map)
    }

    /// A text table of the operations.
    pub fn table(&self, elapsed_s: f64) -> String {
        let el = elapsed_s.max(1e-9);
        let mut out = format!(
            "{:<14} {:>9} {:>7} {:>10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}\n",
            "op",
            "count",
            "errors",
            "ops/s",
            "MiB/s",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "p99.9 ms",
            "max ms"
        );
        for (name, s) in &self.ops {
            out.push_str(&format!(
                "{:<14} {:>9} {:>7} {:>10.1} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2}\n",
                name,
                s.count,
                s.errors,
                s.count as f64 / el,
                s.bytes as f64 / MIB / el,
                s.pct_ms(0.50),
                s.pct_ms(0.90),
                s.pct_ms(0.99),
                s.pct_ms(0.999),
                s.hist.max() as f64 / 1000.0,
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_counters() {
        let mut s = Stats::default();
        for ms in 1..=1000u64 {
            s.record("GET", Duration::from_millis(ms), 10, None);
        }
        s.record(
            "GET",
            Duration::from_millis(5),
            0,
            Some(("k".into(), "boom".into())),
        );
        s.record("PUT", Duration::from_secs(7200), 3, None);
        assert_eq!(s.ops(), 1002);
        assert_eq!(s.errors(), 1);
        assert_eq!(s.bytes(), 10_003);
        let j = s.ops_json(2.0);
        let p50 = j["GET"]["p50_ms"].as_f64().expect("p50");
        assert!((p50 - 500.0).abs() < 1.0, "{p50}");
        let p999 = j["GET"]["p99_9_ms"].as_f64().expect("p999");
        assert!((p999 - 999.0).abs() < 1.5, "{p999}");
        assert_eq!(j["GET"]["errors"], 1);
        assert_eq!(j["GET"]["ops_per_sec"], 500.5);
        // Saturated at the histogram's top, not dropped.
        assert!(j["PUT"]["max_ms"].as_f64().expect("max") >= 3_599_000.0);
        assert_eq!(s.error_samples.len(), 1);
        assert!(s.table(2.0).contains("GET"));
    }
}
