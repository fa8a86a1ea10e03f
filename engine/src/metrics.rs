//! Prometheus metrics, rendered in the text exposition format at `GET /metrics` on the admin port.
//!
//! Request counters and latency histograms are recorded by the S3 front (`Metrics::request`, around the s3s service); byte and
//! backend counters by the read and write paths; everything else (catalog size, usage and cost per backend,
//! moves, chaos faults, recorder lag) is read when the page is rendered.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

/// Upper bounds (seconds) of the request latency histogram.
const BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Per-backend data-path counters.
#[derive(Default, Debug)]
pub struct BackendCounters {
    pub reads: AtomicU64,
    pub read_errors: AtomicU64,
    pub writes: AtomicU64,
    pub write_errors: AtomicU64,
    pub bytes_read: AtomicU64,
    pub bytes_written: AtomicU64,
    /// Gateway-clock ms of the last failed read or write (i64::MIN: never).
    last_error_ms: std::sync::atomic::AtomicI64,
}

impl BackendCounters {
    pub fn last_error_ms(&self) -> i64 {
        match self.last_error_ms.load(Relaxed) {
            0 => i64::MIN / 2,
            v => v,
        }
    }

    pub fn error_at(&self, now_ms: i64) {
        self.last_error_ms.store(now_ms, Relaxed);
    }
}

/// All counters the gateway keeps in memory.
#[derive(Default)]
pub struct Metrics {
    /// Operation → HTTP status → count.
    requests: Mutex<BTreeMap<String, BTreeMap<u16, u64>>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    backends: Mutex<BTreeMap<String, Arc<BackendCounters>>>,
}

impl Metrics {
    /// Counters of one backend (created on first use).
    pub fn backend(&self, name: &str) -> Arc<BackendCounters> {
        self.backends
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(name.to_owned())
            .or_default()
            .clone()
    }

    /// Records one finished S3 request.
    pub fn request(&self, op: &str, status: u16, seconds: f64) {
        // The operation's entries exist after its first request: no allocation on the hot path after that.
        {
            let mut req = self.requests.lock().unwrap_or_else(|e| e.into_inner());
            if !req.contains_key(op) {
                req.insert(op.to_owned(), BTreeMap::new());
            }
            if let Some(by_status) = req.get_mut(op) {
                *by_status.entry(status).or_default() += 1;
            }
        }
        let mut lat = self.latency.lock().unwrap_or_else(|e| e.into_inner());
        if !lat.contains_key(op) {
            lat.insert(op.to_owned(), Histogram::default());
        }
        let Some(h) = lat.get_mut(op) else { return };
        for (i, b) in BUCKETS.iter().enumerate() {
            if seconds <= *b {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += seconds;
    }

    /// Requests counted so far for `op` (all statuses).
    #[cfg(test)]
    pub fn requests_for(&self, op: &str) -> u64 {
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(op)
            .map(|by_status| by_status.values().sum())
            .unwrap_or(0)
    }

    /// Renders the in-memory counters (the admin route appends the gauges it computes).
    pub fn render(&self, out: &mut String) {
        header(
            out,
            "strata_requests_total",
            "counter",
            "S3 requests by operation and HTTP status",
        );
        for (op, by_status) in self
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            for (status, n) in by_status {
                let _ = writeln!(
                    out,
                    "strata_requests_total{{op=\"{op}\",status=\"{status}\"}} {n}"
                );
            }
        }
        header(
            out,
            "strata_request_duration_seconds",
            "histogram",
            "S3 request latency (to response headers)",
        );
        for (op, h) in self
            .latency
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "strata_request_duration_seconds_bucket{{op=\"{op}\",le=\"{b}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "strata_request_duration_seconds_bucket{{op=\"{op}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "strata_request_duration_seconds_sum{{op=\"{op}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "strata_request_duration_seconds_count{{op=\"{op}\"}} {}",
                h.count
            );
        }
        header(
            out,
            "strata_bytes_in_total",
            "counter",
            "object bytes received from clients",
        );
        let _ = writeln!(out, "strata_bytes_in_total {}", self.bytes_in.load(Relaxed));
        header(
            out,
            "strata_bytes_out_total",
            "counter",
            "object bytes sent to clients",
        );
        let _ = writeln!(
            out,
            "strata_bytes_out_total {}",
            self.bytes_out.load(Relaxed)
        );
        let backends = self.backends.lock().unwrap_or_else(|e| e.into_inner());
        for (name, help, get) in [
            (
                "strata_backend_reads_total",
                "replica reads started per backend",
                (|c: &BackendCounters| c.reads.load(Relaxed)) as fn(&BackendCounters) -> u64,
            ),
            (
                "strata_backend_read_errors_total",
                "replica reads that failed (and failed over) per backend",
                |c| c.read_errors.load(Relaxed),
            ),
            (
                "strata_backend_writes_total",
                "replica writes per backend",
                |c| c.writes.load(Relaxed),
            ),
            (
                "strata_backend_write_errors_total",
                "replica writes that failed per backend",
                |c| c.write_errors.load(Relaxed),
            ),
            (
                "strata_backend_bytes_read_total",
                "plaintext bytes read per backend",
                |c| c.bytes_read.load(Relaxed),
            ),
            (
                "strata_backend_bytes_written_total",
                "plaintext bytes written per backend",
                |c| c.bytes_written.load(Relaxed),
            ),
        ] {
            header(out, name, "counter", help);
            for (b, c) in backends.iter() {
                let _ = writeln!(out, "{name}{{backend=\"{b}\"}} {}", get(c));
            }
        }
    }
}

/// Writes the HELP and TYPE lines of a metric family.
pub fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Escapes a label value.
pub fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_has_counters_and_cumulative_buckets() {
        let m = Metrics::default();
        m.request("GetObject", 200, 0.003);
        m.request("GetObject", 200, 0.2);
        m.request("PutObject", 403, 0.0005);
        m.backend("hot").reads.fetch_add(3, Relaxed);
        let mut out = String::new();
        m.render(&mut out);
        assert!(
            out.contains("strata_requests_total{op=\"GetObject\",status=\"200\"} 2"),
            "{out}"
        );
        assert!(out.contains("strata_requests_total{op=\"PutObject\",status=\"403\"} 1"));
        assert!(
            out.contains("strata_request_duration_seconds_bucket{op=\"GetObject\",le=\"0.005\"} 1")
        );
        assert!(
            out.contains("strata_request_duration_seconds_bucket{op=\"GetObject\",le=\"0.25\"} 2")
        );
        assert!(out.contains("strata_request_duration_seconds_count{op=\"GetObject\"} 2"));
        assert!(out.contains("strata_backend_reads_total{backend=\"hot\"} 3"));
        assert_eq!(m.requests_for("GetObject"), 2);
    }

    #[test]
    fn labels_are_escaped() {
        assert_eq!(label("a\"b\\c"), "a\\\"b\\\\c");
    }
}
