//! Prometheus metrics, rendered in the text exposition format at `GET /metrics` on the admin port.
//!
//! Request counters and latency histograms are recorded by the S3 front (`Metrics::request`, around the s3s service); byte and
//! backend counters by the read and write paths; everything else (catalog size, usage and cost per backend,
//! moves, chaos faults, recorder lag) is read when the page is rendered.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, RwLock};

/// Upper bounds (seconds) of the request latency histogram.
const BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Statuses counted per operation: HTTP's three-digit codes, by value.
const STATUSES: usize = 1000;

/// One operation's request counts and latency histogram: atomics, so counting takes no lock once the operation has
/// been seen.
struct OpStats {
    /// Requests by HTTP status (indexed by the status code).
    by_status: Box<[AtomicU64]>,
    /// Requests at or under each bucket's bound (cumulative, as Prometheus renders them).
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    /// Sum of the latencies, in nanoseconds.
    sum_ns: AtomicU64,
}

impl OpStats {
    fn new() -> OpStats {
        OpStats {
            by_status: (0..STATUSES).map(|_| AtomicU64::new(0)).collect(),
            buckets: Default::default(),
            count: AtomicU64::new(0),
            sum_ns: AtomicU64::new(0),
        }
    }

    fn record(&self, status: u16, seconds: f64) {
        if let Some(n) = self.by_status.get(usize::from(status)) {
            n.fetch_add(1, Relaxed);
        }
        for (i, b) in BUCKETS.iter().enumerate() {
            if seconds <= *b {
                self.buckets[i].fetch_add(1, Relaxed);
            }
        }
        self.count.fetch_add(1, Relaxed);
        self.sum_ns
            .fetch_add((seconds * 1e9).round() as u64, Relaxed);
    }
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

/// All counters the gateway keeps in memory. **Contract:** the request path takes no exclusive lock here: the maps
/// below are written only when an operation or a backend is seen for the first time, and read (a shared lock, which
/// readers never wait on each other for) otherwise; every count is an atomic.
#[derive(Default)]
pub struct Metrics {
    /// Operation → its counts and latency histogram.
    requests: RwLock<BTreeMap<String, OpStats>>,
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    backends: RwLock<BTreeMap<String, Arc<BackendCounters>>>,
}

impl Metrics {
    /// Counters of one backend (created on first use).
    pub fn backend(&self, name: &str) -> Arc<BackendCounters> {
        if let Some(c) = self
            .backends
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
        {
            return c.clone();
        }
        self.backends
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .entry(name.to_owned())
            .or_default()
            .clone()
    }

    /// Records one finished S3 request.
    pub fn request(&self, op: &str, status: u16, seconds: f64) {
        if let Some(stats) = self
            .requests
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(op)
        {
            stats.record(status, seconds);
            return;
        }
        self.requests
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .entry(op.to_owned())
            .or_insert_with(OpStats::new)
            .record(status, seconds);
    }

    /// Requests counted so far for `op` (all statuses).
    #[cfg(test)]
    pub fn requests_for(&self, op: &str) -> u64 {
        self.requests
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(op)
            .map_or(0, |stats| stats.count.load(Relaxed))
    }

    /// Renders the in-memory counters (the admin route appends the gauges it computes).
    pub fn render(&self, out: &mut String) {
        header(
            out,
            "strata_requests_total",
            "counter",
            "S3 requests by operation and HTTP status",
        );
        let requests = self.requests.read().unwrap_or_else(|e| e.into_inner());
        for (op, stats) in requests.iter() {
            for (status, n) in stats.by_status.iter().enumerate() {
                let n = n.load(Relaxed);
                if n > 0 {
                    let _ = writeln!(
                        out,
                        "strata_requests_total{{op=\"{op}\",status=\"{status}\"}} {n}"
                    );
                }
            }
        }
        header(
            out,
            "strata_request_duration_seconds",
            "histogram",
            "S3 request latency (to response headers)",
        );
        for (op, h) in requests.iter() {
            // Read while requests are being recorded: each bucket is held between the one before it and the
            // count, so the page stays a cumulative histogram.
            let count = h.count.load(Relaxed);
            let mut below = 0;
            for (i, b) in BUCKETS.iter().enumerate() {
                below = h.buckets[i].load(Relaxed).clamp(below, count);
                let _ = writeln!(
                    out,
                    "strata_request_duration_seconds_bucket{{op=\"{op}\",le=\"{b}\"}} {below}"
                );
            }
            let _ = writeln!(
                out,
                "strata_request_duration_seconds_bucket{{op=\"{op}\",le=\"+Inf\"}} {count}"
            );
            let _ = writeln!(
                out,
                "strata_request_duration_seconds_sum{{op=\"{op}\"}} {}",
                h.sum_ns.load(Relaxed) as f64 / 1e9
            );
            let _ = writeln!(
                out,
                "strata_request_duration_seconds_count{{op=\"{op}\"}} {count}"
            );
        }
        drop(requests);
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
        let backends = self.backends.read().unwrap_or_else(|e| e.into_inner());
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
        assert!(out.contains("strata_request_duration_seconds_sum{op=\"GetObject\"} 0.203"));
        // Slower than the last bucket: only in +Inf.
        m.request("PutObject", 503, 30.0);
        let mut out = String::new();
        m.render(&mut out);
        assert!(
            out.contains("strata_request_duration_seconds_bucket{op=\"PutObject\",le=\"10\"} 1")
        );
        assert!(
            out.contains("strata_request_duration_seconds_bucket{op=\"PutObject\",le=\"+Inf\"} 2")
        );
        assert!(out.contains("strata_requests_total{op=\"PutObject\",status=\"503\"} 1"));
        assert!(out.contains("strata_backend_reads_total{backend=\"hot\"} 3"));
        assert_eq!(m.requests_for("GetObject"), 2);
    }

    #[test]
    fn labels_are_escaped() {
        assert_eq!(label("a\"b\\c"), "a\\\"b\\\\c");
    }
}
