//! `strata-loadtest run`: drives any S3 endpoint with a workload or a
//! trace and measures it.
//!
//! Phases:
//! 1. Setup (untimed): create the bucket if asked, then write the objects
//!    the stream expects to exist (a workload's initial population; for a
//!    trace, objects read before it writes them, up to a cap).
//! 2. Timed: requests are issued in stream order (timestamps are ignored:
//!    the load is set by `concurrency` and the optional `rate`), keeping at
//!    most `concurrency` in flight. A request waits while it conflicts with
//!    one in flight on the same key (reads may overlap reads; writes and
//!    deletes are exclusive), so a read never overtakes the write it
//!    depends on. It stops at the request bound, at the duration bound or
//!    at the end of the stream, whichever comes first.
//! 3. Drain: in-flight requests finish (each bounded by the operation
//!    timeout); anything left after that is aborted and counted as failed.
//!
//! The run is therefore always bounded in count and time. Latencies are
//! recorded per operation in HDR histograms (µs, 3 significant digits);
//! failures are counted and sampled, never retried.

mod client;
mod exec;
mod source;
mod stats;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::Client;
use bytes::Bytes;
use indicatif::ProgressBar;
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep_until, timeout_at};

pub use client::{Endpoint, build as build_client};
pub use exec::{Outcome, UploadCfg, execute, payload, sdk_error_text};
pub use source::{ReqKind, Request, SetupObject, Source, to_request};
pub use stats::{ErrorSample, OP_LABELS, OpStats, Stats};

use crate::trace::ParseStats;
use crate::workload::Profile;

/// Largest multipart threshold or part size (the payload buffer's size).
pub const MAX_BUFFER_BYTES: u64 = 256 << 20;
/// S3's smallest part size (except the last part).
pub const MIN_PART_BYTES: u64 = 5 << 20;

/// Errors that stop a run (request failures do not: they are measured).
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// Bad endpoint or credentials.
    #[error("endpoint: {0}")]
    Endpoint(String),
    /// Bad settings.
    #[error("invalid setting: {0}")]
    Config(String),
    /// The bucket could not be created or reached.
    #[error("bucket {bucket}: {problem}")]
    Bucket {
        /// The bucket.
        bucket: String,
        /// The SDK's error.
        problem: String,
    },
    /// Reading the input failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being read.
        what: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// What to replay.
#[derive(Clone, Debug)]
pub enum Input {
    /// A workload profile.
    Workload(Box<Profile>),
    /// An IBM COS trace file.
    Trace(PathBuf),
}

/// Settings of a run.
#[derive(Clone, Debug)]
pub struct DriverConfig {
    /// Where and how to connect.
    pub endpoint: Endpoint,
    /// Bucket to use.
    pub bucket: String,
    /// Create the bucket first (an existing one is fine).
    pub create_bucket: bool,
    /// Prefix of every key.
    pub key_prefix: String,
    /// Requests in flight at most (>= 1).
    pub concurrency: usize,
    /// Requests started per second at most (None = as fast as possible).
    pub rate: Option<f64>,
    /// Timed phase length bound.
    pub duration: Duration,
    /// Timed phase request bound.
    pub requests: Option<u64>,
    /// Upload settings.
    pub upload: UploadCfg,
    /// Setup objects at most (trace inputs).
    pub max_setup_objects: usize,
    /// Setup phase length bound.
    pub setup_timeout: Duration,
    /// Show a progress bar (on stderr).
    pub progress: bool,
}

impl DriverConfig {
    /// Checks the numeric settings.
    pub fn validate(&self) -> Result<(), DriverError> {
        let bad = |s: String| Err(DriverError::Config(s));
        if self.concurrency == 0 || self.concurrency > 10_000 {
            return bad(format!("concurrency {} not in 1..=10000", self.concurrency));
        }
        if let Some(r) = self.rate
            && !(r.is_finite() && r > 0.0)
        {
            return bad(format!("rate {r} must be a positive number"));
        }
        if self.duration.is_zero() {
            return bad("duration must be positive".into());
        }
        let u = &self.upload;
        if u.part_size < MIN_PART_BYTES || u.part_size > MAX_BUFFER_BYTES {
            return bad(format!(
                "part size {} not in [{MIN_PART_BYTES}, {MAX_BUFFER_BYTES}]",
                u.part_size
            ));
        }
        if u.multipart_threshold == 0 || u.multipart_threshold > MAX_BUFFER_BYTES {
            return bad(format!(
                "multipart threshold {} not in [1, {MAX_BUFFER_BYTES}]",
                u.multipart_threshold
            ));
        }
        if self.bucket.is_empty() {
            return bad("bucket name is empty".into());
        }
        Ok(())
    }
}

/// Why the timed phase stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// The request bound was reached.
    Requests,
    /// The duration bound was reached.
    Duration,
    /// The workload or trace ended.
    EndOfInput,
}

impl StopReason {
    fn as_str(self) -> &'static str {
        match self {
            StopReason::Requests => "requests",
            StopReason::Duration => "duration",
            StopReason::EndOfInput => "end_of_input",
        }
    }
}

/// Setup phase summary.
#[derive(Debug, Default)]
pub struct SetupSummary {
    /// Objects written.
    pub objects: u64,
    /// Failed writes.
    pub errors: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Seconds spent.
    pub elapsed_s: f64,
    /// Pre-existing objects of a trace left out past the cap.
    pub left_out: u64,
    /// Kept errors.
    pub error_samples: Vec<ErrorSample>,
}

/// The result of a run.
pub struct RunReport {
    /// Endpoint URL.
    pub endpoint: String,
    /// Bucket.
    pub bucket: String,
    /// `workload:NAME` or `trace:PATH`.
    pub source: String,
    /// Concurrency used.
    pub concurrency: usize,
    /// Rate limit used.
    pub rate: Option<f64>,
    /// Why the timed phase stopped.
    pub stopped_by: StopReason,
    /// Timed phase length in seconds (drain included).
    pub elapsed_s: f64,
    /// Timed phase measurements.
    pub stats: Stats,
    /// Setup summary.
    pub setup: SetupSummary,
    /// Trace parser counters (trace inputs).
    pub parse: Option<ParseStats>,
}

const MIB: f64 = 1024.0 * 1024.0;

impl RunReport {
    /// The JSON report (see the crate README for the fields).
    pub fn to_json(&self) -> serde_json::Value {
        let el = self.elapsed_s.max(1e-9);
        serde_json::json!({
            "endpoint": self.endpoint,
            "bucket": self.bucket,
            "source": self.source,
            "concurrency": self.concurrency,
            "rate_limit": self.rate,
            "stopped_by": self.stopped_by.as_str(),
            "elapsed_s": self.elapsed_s,
            "ops": self.stats.ops(),
            "errors": self.stats.errors(),
            "bytes": self.stats.bytes(),
            "ops_per_sec": self.stats.ops() as f64 / el,
            "mib_per_sec": self.stats.bytes() as f64 / MIB / el,
            "operations": self.stats.ops_json(self.elapsed_s),
            "error_samples": self.stats.error_samples,
            "setup": {
                "objects": self.setup.objects,
                "errors": self.setup.errors,
                "bytes": self.setup.bytes,
                "elapsed_s": self.setup.elapsed_s,
                "left_out": self.setup.left_out,
                "error_samples": self.setup.error_samples,
            },
            "trace": self.parse.as_ref().map(ParseStats::to_json),
        })
    }

    /// A human-readable summary.
    pub fn to_text(&self) -> String {
        let el = self.elapsed_s.max(1e-9);
        let mut s = format!(
            "{} against {} (bucket {}), concurrency {}{}\n\
             setup: {} objects, {:.1} MiB, {} errors, {:.1}s{}\n\
             timed: {} ops, {} errors in {:.2}s (stopped by {}): {:.1} ops/s, {:.2} MiB/s\n\n",
            self.source,
            self.endpoint,
            self.bucket,
            self.concurrency,
            self.rate
                .map(|r| format!(", rate {r}/s"))
                .unwrap_or_default(),
            self.setup.objects,
            self.setup.bytes as f64 / MIB,
            self.setup.errors,
            self.setup.elapsed_s,
            if self.setup.left_out > 0 {
                format!(" ({} pre-existing objects left out)", self.setup.left_out)
            } else {
                String::new()
            },
            self.stats.ops(),
            self.stats.errors(),
            self.elapsed_s,
            self.stopped_by.as_str(),
            self.stats.ops() as f64 / el,
            self.stats.bytes() as f64 / MIB / el,
        );
        s.push_str(&self.stats.table(self.elapsed_s));
        if let Some(p) = &self.parse
            && p.bad() > 0
        {
            s.push_str(&format!("\ntrace: {} bad lines skipped\n", p.bad()));
        }
        for e in self.stats.error_samples.iter().take(5) {
            s.push_str(&format!("error: {} {}: {}\n", e.op, e.key, e.error));
        }
        s
    }
}

#[derive(Default, Clone, Copy)]
struct InFlight {
    readers: u32,
    writer: bool,
}

fn is_read(kind: ReqKind) -> bool {
    matches!(kind, ReqKind::Get | ReqKind::Head)
}

/// Shared state of one phase.
struct Pump {
    client: Client,
    bucket: Arc<str>,
    data: Bytes,
    upload: Arc<UploadCfg>,
    concurrency: usize,
    op_timeout: Duration,
    progress: Option<ProgressBar>,
    inflight: HashMap<String, InFlight>,
    sizes: HashMap<String, u64>,
    tasks: JoinSet<(Outcome, String, ReqKind)>,
    stats: Stats,
}

impl Pump {
    fn conflicts(&self, req: &Request) -> bool {
        if req.kind == ReqKind::List {
            return false;
        }
        match self.inflight.get(&req.key) {
            None => false,
            Some(f) => f.writer || (!is_read(req.kind) && f.readers > 0),
        }
    }

    fn complete(&mut self, res: Result<(Outcome, String, ReqKind), tokio::task::JoinError>) {
        let (outcome, key, kind) = match res {
            Ok(v) => v,
            Err(e) => {
                self.stats.record(
                    "TASK",
                    Duration::ZERO,
                    0,
                    Some((String::new(), e.to_string())),
                );
                return;
            }
        };
        if kind != ReqKind::List
            && let Some(f) = self.inflight.get_mut(&key)
        {
            if is_read(kind) {
                f.readers = f.readers.saturating_sub(1);
            } else {
                f.writer = false;
            }
            if f.readers == 0 && !f.writer {
                self.inflight.remove(&key);
            }
        }
        if let Some(pb) = &self.progress {
            pb.inc(1);
        }
        self.stats
            .record(outcome.op, outcome.latency, outcome.bytes, outcome.error);
    }

    fn spawn(&mut self, req: Request) {
        if req.kind != ReqKind::List {
            let f = self.inflight.entry(req.key.clone()).or_default();
            if is_read(req.kind) {
                f.readers += 1;
            } else {
                f.writer = true;
            }
        }
        let known = self.sizes.get(&req.key).copied();
        match req.kind {
            ReqKind::Put => {
                let size = req.size.unwrap_or(0).min(self.upload.max_object_bytes);
                self.sizes.insert(req.key.clone(), size);
            }
            ReqKind::Delete => {
                self.sizes.remove(&req.key);
            }
            _ => {}
        }
        let (client, bucket, data, upload) = (
            self.client.clone(),
            self.bucket.clone(),
            self.data.clone(),
            self.upload.clone(),
        );
        self.tasks.spawn(async move {
            let out = exec::execute(&client, &bucket, &req, known, &data, &upload).await;
            (out, req.key, req.kind)
        });
    }

    /// Issues requests from `next` until a bound or the end; then drains.
    async fn run(
        &mut self,
        mut next: impl FnMut() -> Result<Option<Request>, DriverError>,
        deadline: Instant,
        max_requests: Option<u64>,
        rate: Option<f64>,
    ) -> Result<(StopReason, f64), DriverError> {
        let start = Instant::now();
        let mut issued = 0u64;
        let stop = 'outer: loop {
            if max_requests.is_some_and(|m| issued >= m) {
                break StopReason::Requests;
            }
            if Instant::now() >= deadline {
                break StopReason::Duration;
            }
            let Some(req) = next()? else {
                break StopReason::EndOfInput;
            };
            if let Some(rate) = rate {
                let at = start + Duration::from_secs_f64(issued as f64 / rate);
                if at >= deadline {
                    break StopReason::Duration;
                }
                sleep_until(at).await;
            }
            while self.tasks.len() >= self.concurrency || self.conflicts(&req) {
                match timeout_at(deadline, self.tasks.join_next()).await {
                    Ok(Some(res)) => self.complete(res),
                    Ok(None) => break,
                    Err(_) => break 'outer StopReason::Duration,
                }
            }
            self.spawn(req);
            issued += 1;
        };
        let drain_deadline = Instant::now() + self.op_timeout + Duration::from_secs(5);
        while !self.tasks.is_empty() {
            match timeout_at(drain_deadline, self.tasks.join_next()).await {
                Ok(Some(res)) => self.complete(res),
                Ok(None) => break,
                Err(_) => {
                    let n = self.tasks.len();
                    self.tasks.abort_all();
                    for _ in 0..n {
                        self.stats.record(
                            "ABORTED",
                            Duration::ZERO,
                            0,
                            Some((
                                String::new(),
                                "still running after the drain timeout".into(),
                            )),
                        );
                    }
                    break;
                }
            }
        }
        Ok((stop, start.elapsed().as_secs_f64()))
    }
}

async fn ensure_bucket(client: &Client, bucket: &str) -> Result<(), DriverError> {
    let created = client.create_bucket().bucket(bucket).send().await;
    if let Err(e) = created {
        // Already there (ours or not) is fine if we can reach it.
        if client.head_bucket().bucket(bucket).send().await.is_err() {
            return Err(DriverError::Bucket {
                bucket: bucket.to_string(),
                problem: exec::sdk_error_text(e),
            });
        }
    }
    Ok(())
}

fn progress_bar(enabled: bool, len: Option<u64>, what: &str) -> Option<ProgressBar> {
    use std::io::IsTerminal;
    if !enabled || !std::io::stderr().is_terminal() {
        return None;
    }
    let pb = match len {
        Some(n) => ProgressBar::new(n),
        None => ProgressBar::new_spinner(),
    };
    let template = if len.is_some() {
        "{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} ({per_sec})"
    } else {
        "{prefix} [{elapsed_precise}] {spinner} {pos} requests ({per_sec})"
    };
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        pb.set_style(style);
    }
    pb.set_prefix(what.to_string());
    pb.enable_steady_tick(Duration::from_millis(200));
    Some(pb)
}

/// Runs setup and the timed phase; see the module docs.
pub async fn run(cfg: &DriverConfig, input: &Input) -> Result<RunReport, DriverError> {
    cfg.validate()?;
    let client = build_client(&cfg.endpoint)?;
    let (mut source, setup_objects, left_out) = match input {
        Input::Workload(p) => {
            let (s, setup) = Source::workload(p, &cfg.key_prefix);
            (s, setup, 0)
        }
        Input::Trace(path) => {
            Source::trace(path, &cfg.key_prefix, cfg.requests, cfg.max_setup_objects)?
        }
    };
    if cfg.create_bucket {
        ensure_bucket(&client, &cfg.bucket).await?;
    }
    let buf = cfg
        .upload
        .multipart_threshold
        .max(cfg.upload.part_size)
        .min(MAX_BUFFER_BYTES);
    let mut pump = Pump {
        client,
        bucket: Arc::from(cfg.bucket.as_str()),
        data: payload(buf as usize),
        upload: Arc::new(cfg.upload.clone()),
        concurrency: cfg.concurrency,
        op_timeout: cfg.endpoint.op_timeout,
        progress: progress_bar(cfg.progress, Some(setup_objects.len() as u64), "setup"),
        inflight: HashMap::new(),
        sizes: HashMap::new(),
        tasks: JoinSet::new(),
        stats: Stats::default(),
    };

    let n_setup = setup_objects.len() as u64;
    let mut setup_iter = setup_objects.into_iter();
    let (_, setup_elapsed) = pump
        .run(
            || {
                Ok(setup_iter.next().map(|o| Request {
                    kind: ReqKind::Put,
                    key: o.key,
                    size: Some(o.size),
                    range: None,
                }))
            },
            Instant::now() + cfg.setup_timeout,
            None,
            None,
        )
        .await?;
    if let Some(pb) = pump.progress.take() {
        pb.finish_and_clear();
    }
    let setup_stats = std::mem::take(&mut pump.stats);
    let setup = SetupSummary {
        objects: setup_stats.ops() - setup_stats.errors(),
        errors: setup_stats.errors() + n_setup.saturating_sub(setup_stats.ops()),
        bytes: setup_stats.bytes(),
        elapsed_s: setup_elapsed,
        left_out,
        error_samples: setup_stats.error_samples,
    };

    pump.progress = progress_bar(cfg.progress, cfg.requests, "run");
    let deadline = Instant::now() + cfg.duration;
    let (stopped_by, elapsed_s) = pump
        .run(|| source.next_request(), deadline, cfg.requests, cfg.rate)
        .await?;
    if let Some(pb) = pump.progress.take() {
        pb.finish_and_clear();
    }
    Ok(RunReport {
        endpoint: cfg.endpoint.url.clone(),
        bucket: cfg.bucket.clone(),
        source: source.label(),
        concurrency: cfg.concurrency,
        rate: cfg.rate,
        stopped_by,
        elapsed_s,
        stats: pump.stats,
        setup,
        parse: source.parse_stats().cloned(),
    })
}
