//! Scrub and heal: re-read every replica of every object, check it, and repair bad or missing copies.
//!
//! A pass walks the catalog in pages ([`crate::scan::ObjectPages`]). For each object, each part and each
//! backend of the replica set it reads the whole part through [`Backend::read`] — which authenticates every frame
//! and checks the stored size — and compares the plaintext's length and blake3 with the ones recorded at ingest.
//! The outcome per replica is one of:
//!
//! - **good**: every frame opened, size and blake3 match;
//! - **missing**: the blob is not on the backend ([`BackendError::NotFound`]);
//! - **bad**: a frame failed authentication, the header or stored size is wrong, the sealing key is not in the
//!   keyring, or the content does not hash to the recorded blake3;
//! - **transient**: the store failed (timeout, 503, permission, a blob replaced while read...). Not evidence of
//!   damage: counted in `transient_errors`, nothing is changed, the next pass looks again.
//!
//! A missing or bad replica is **healed** from a replica that was found good in the same pass: its plaintext is
//! streamed into a new blob of the same name on the damaged backend, sealed with that backend's active key; the
//! new blob is published only once the streamed plaintext matched the recorded size and blake3 (so a bad source
//! can never replace anything), and the healed copy is then read back and verified. Contracts:
//!
//! - Nothing is ever deleted: healing only (over)writes copies that are missing or failed their check, so the last
//!   good replica can never be lost by healing.
//! - An object whose generation changed since the pass read its record is left alone (the change — overwrite,
//!   delete, move — is checked right before each write, under a [`ReadLease`](crate::reaper::ReadLease) on the
//!   object's blobs so the reaper cannot delete them meanwhile). A blob that disappeared because the object
//!   changed is therefore not reported as missing.
//! - Passes do not overlap: [`scrub_once`] waits for a running background pass to end, then runs its own.
//! - Every finding and every heal is logged with `tracing` (warn for damage, info for a heal, error when no good
//!   replica is left) and listed in the pass's [`ScrubReport`] (up to [`MAX_EVENTS`] entries).
//!
//! The background task ([`run`]) paces reads to at most `rate_per_sec` replica-parts per second so a pass does not
//! starve requests; an admin-triggered pass ([`scrub_once`]) runs unpaced.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use backends::{Backend, BackendError};
use catalog::{ObjectRecord, PartRef};
use futures::StreamExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::blob_copy::{StepError, copy_verified, with_retries};
use crate::core::Core;
use crate::scan::ObjectPages;

/// Objects fetched from the catalog per page.
const PAGE: usize = 256;
/// Events kept in one report; further ones are counted in `events_dropped`.
pub const MAX_EVENTS: usize = 1000;
/// Attempts per heal before it counts as failed (transient errors are retried with backoff).
const HEAL_ATTEMPTS: u32 = 3;
/// The first background pass starts after `min(interval, this)`, so frequent restarts do not postpone scrubbing
/// forever.
const FIRST_PASS_MAX_DELAY: Duration = Duration::from_secs(600);

/// Counters of one pass (or, in [`Scrubber::status`], of every pass since start).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ScrubCounts {
    /// Objects whose replicas were read.
    pub objects_checked: u64,
    /// Replica-parts read (one part on one backend).
    pub replicas_checked: u64,
    /// Replica-parts found corrupt, unreadable with the keyring, or with the wrong content.
    pub bad_found: u64,
    /// Replica-parts found missing.
    pub missing_found: u64,
    /// Bad or missing replica-parts rewritten from a good replica and verified.
    pub healed: u64,
    /// Bad or missing replica-parts that could not be healed (no good replica, or the heal kept failing).
    pub heal_failures: u64,
    /// Reads or catalog calls that failed transiently; nothing was concluded from them.
    pub transient_errors: u64,
    /// Objects left alone because they changed (overwrite, delete, move) while being checked.
    pub skipped_changed: u64,
}

impl ScrubCounts {
    fn add(&mut self, o: &ScrubCounts) {
        self.objects_checked += o.objects_checked;
        self.replicas_checked += o.replicas_checked;
        self.bad_found += o.bad_found;
        self.missing_found += o.missing_found;
        self.healed += o.healed;
        self.heal_failures += o.heal_failures;
        self.transient_errors += o.transient_errors;
        self.skipped_changed += o.skipped_changed;
    }
}

/// One damaged replica found by a pass and what was done about it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ScrubEvent {
    pub bucket: String,
    pub key: String,
    pub blob: String,
    pub backend: String,
    /// `missing` or `bad`.
    pub problem: String,
    /// What the check saw.
    pub detail: String,
    /// Whether a verified copy is now in place.
    pub healed: bool,
    /// The backend the healed copy was streamed from.
    pub source: Option<String>,
    /// Why healing failed or was not attempted.
    pub error: Option<String>,
}

/// The result of one pass.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ScrubReport {
    /// Clock time (ms since the epoch) the pass started and ended.
    pub started_ms: i64,
    pub ended_ms: i64,
    /// False when the pass stopped early because the catalog could not be read.
    pub complete: bool,
    #[serde(flatten)]
    pub counts: ScrubCounts,
    /// Damaged replicas, in the order found (at most [`MAX_EVENTS`]).
    pub events: Vec<ScrubEvent>,
    /// Events not listed because of the cap.
    pub events_dropped: u64,
}

impl ScrubReport {
    fn event(&mut self, e: ScrubEvent) {
        if self.events.len() < MAX_EVENTS {
            self.events.push(e);
        } else {
            self.events_dropped += 1;
        }
    }
}

#[derive(Default)]
struct ScrubState {
    /// Counters of finished passes.
    totals: ScrubCounts,
    /// Counters of the pass in progress.
    current: Option<ScrubCounts>,
    passes: u64,
    last_run_start_ms: Option<i64>,
    last_run_end_ms: Option<i64>,
    last_report: Option<ScrubReport>,
}

/// Shared state of the scrubber: counters, the last run, and the lock that keeps passes from overlapping.
/// One per process, behind an `Arc`, shared by [`run`] and the admin routes.
#[derive(Default)]
pub struct Scrubber {
    state: Mutex<ScrubState>,
    pass: tokio::sync::Mutex<()>,
}

impl Scrubber {
    pub fn new() -> Scrubber {
        Scrubber::default()
    }

    fn lock(&self) -> MutexGuard<'_, ScrubState> {
        // Plain counters: a poisoned lock still holds consistent values.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `GET /admin/scrub`: see [`ScrubStatus`].
    pub fn status(&self) -> ScrubStatus {
        let s = self.lock();
        let mut totals = s.totals.clone();
        if let Some(c) = &s.current {
            totals.add(c);
        }
        ScrubStatus {
            totals,
            running: s.current.is_some(),
            passes: s.passes,
            last_run_start_ms: s.last_run_start_ms,
            last_run_end_ms: s.last_run_end_ms,
            current_pass: s.current.clone(),
            last_report: s.last_report.clone(),
        }
    }
}

/// The scrubber's state (`GET /admin/scrub`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ScrubStatus {
    /// Counters summed over every pass since start, the running one included.
    #[serde(flatten)]
    pub totals: ScrubCounts,
    /// Whether a pass is running now.
    pub running: bool,
    /// Passes finished since start.
    pub passes: u64,
    /// When the last pass started and ended (ms since the epoch); null if none yet.
    pub last_run_start_ms: Option<i64>,
    pub last_run_end_ms: Option<i64>,
    /// The running pass's own counters.
    pub current_pass: Option<ScrubCounts>,
    /// The last finished pass's report.
    pub last_report: Option<ScrubReport>,
}

/// How fast a pass may read: at most `parts_per_sec` replica-parts a second and `bytes_per_sec` bytes a second
/// (0: no limit of that kind).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pace {
    pub parts_per_sec: u32,
    pub bytes_per_sec: u64,
}

/// Runs forever: a pass every `interval` (measured from the start of the previous pass; the first one after
/// `min(interval, 10 min)`), each read at `pace`. A zero `interval` disables background scrubbing (returns at
/// once); [`scrub_once`] still works.
pub async fn run(strata: Arc<Core>, scrubber: Arc<Scrubber>, interval: Duration, pace: Pace) {
    if interval.is_zero() {
        tracing::info!("background scrubbing disabled (interval 0)");
        return;
    }
    let mut next = tokio::time::Instant::now() + interval.min(FIRST_PASS_MAX_DELAY);
    loop {
        tokio::time::sleep_until(next).await;
        let started = tokio::time::Instant::now();
        pass(&strata, &scrubber, pace).await;
        next = started + interval;
    }
}

/// One full, unpaced pass over every object (waiting first for a running pass to end); returns its report. Used
/// by `POST /admin/scrub` and tests.
pub async fn scrub_once(strata: &Arc<Core>, scrubber: &Scrubber) -> ScrubReport {
    pass(strata, scrubber, Pace::default()).await
}

async fn pass(strata: &Arc<Core>, scrubber: &Scrubber, pace: Pace) -> ScrubReport {
    let _one_at_a_time = scrubber.pass.lock().await;
    let started_ms = strata.clock.now_ms();
    {
        let mut s = scrubber.lock();
        s.current = Some(ScrubCounts::default());
        s.last_run_start_ms = Some(started_ms);
    }
    tracing::info!(
        parts_per_sec = pace.parts_per_sec,
        bytes_per_sec = pace.bytes_per_sec,
        "scrub pass started"
    );
    let mut report = ScrubReport {
        started_ms,
        complete: true,
        ..ScrubReport::default()
    };
    let mut pacer = Pacer::new(pace.parts_per_sec).with_byte_rate(pace.bytes_per_sec);
    let mut pages = ObjectPages::new(PAGE);
    loop {
        let page = match pages.next_page_async(strata).await {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(e) => {
                tracing::warn!(error = %e, "scrub pass stopped: cannot read the catalog");
                report.counts.transient_errors += 1;
                report.complete = false;
                break;
            }
        };
        for (bucket, key, rec) in page {
            scrub_object(strata, &mut pacer, &mut report, &bucket, &key, &rec).await;
            scrubber.lock().current = Some(report.counts.clone());
        }
    }
    report.ended_ms = strata.clock.now_ms();
    let c = &report.counts;
    tracing::info!(
        objects = c.objects_checked,
        replicas = c.replicas_checked,
        bad = c.bad_found,
        missing = c.missing_found,
        healed = c.healed,
        heal_failures = c.heal_failures,
        transient = c.transient_errors,
        complete = report.complete,
        "scrub pass finished"
    );
    let mut s = scrubber.lock();
    s.totals.add(&report.counts);
    s.current = None;
    s.passes += 1;
    s.last_run_end_ms = Some(report.ended_ms);
    s.last_report = Some(report.clone());
    report
}

/// What reading one replica of one part showed.
#[derive(Debug)]
enum Health {
    Good,
    Missing,
    Bad(String),
    Transient(String),
}

/// Reads all of `part` from `b` and checks frames, size and blake3.
async fn check_replica(b: &Backend, part: &PartRef) -> Health {
    let classify = |e: BackendError| match e {
        BackendError::NotFound { .. } => Health::Missing,
        e if e.is_store_failure() => Health::Transient(e.to_string()),
        e => Health::Bad(e.to_string()),
    };
    let mut stream = match b.read(&part.blob, part.size, 0..part.size).await {
        Ok(s) => s,
        Err(e) => return classify(e),
    };
    let mut hasher = blake3::Hasher::new();
    let mut n = 0u64;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(bytes) => {
                n += bytes.len() as u64;
                hasher.update(&bytes);
            }
            Err(e) => return classify(e),
        }
    }
    let got = hasher.finalize().to_hex().to_string();
    if n != part.size || got != part.blake3 {
        return Health::Bad(format!(
            "content is {n} bytes with blake3 {got}, expected {} bytes with {}",
            part.size, part.blake3
        ));
    }
    Health::Good
}

/// Whether `bucket/key` is still at `generation`: `Ok(false)` if it changed or is gone.
pub(crate) async fn unchanged(
    strata: &Core,
    bucket: &str,
    key: &str,
    generation: u64,
) -> Result<bool, String> {
    let (b, k) = (bucket.to_owned(), key.to_owned());
    match strata.with_catalog(move |c| c.get_object(&b, &k)).await {
        Ok(Some(r)) => Ok(r.generation == generation),
        Ok(None) => Ok(false),
        Err(e) => Err(format!("catalog: {e}")),
    }
}

async fn scrub_object(
    strata: &Arc<Core>,
    pacer: &mut Pacer,
    report: &mut ScrubReport,
    bucket: &str,
    key: &str,
    rec: &ObjectRecord,
) {
    // Keeps the reaper away from these blobs while we read and possibly rewrite them.
    let _lease = strata
        .leases
        .acquire(rec.parts.iter().map(|p| p.blob.clone()).collect());
    report.counts.objects_checked += 1;
    for part in &rec.parts {
        let mut good: Vec<String> = Vec::new();
        let mut damaged: Vec<(Arc<Backend>, &'static str, String)> = Vec::new();
        for name in &rec.replicas {
            let Some(b) = strata.backend(name).cloned() else {
                tracing::warn!(bucket, key, backend = %name, "scrub: replica on a backend that is not configured");
                continue;
            };
            pacer.wait().await;
            report.counts.replicas_checked += 1;
            let health = check_replica(&b, part).await;
            pacer.spent(part.size);
            match health {
                Health::Good => good.push(name.clone()),
                Health::Missing => damaged.push((b, "missing", "blob not found".into())),
                Health::Bad(m) => damaged.push((b, "bad", m)),
                Health::Transient(m) => {
                    report.counts.transient_errors += 1;
                    tracing::warn!(bucket, key, backend = %name, blob = %part.blob, error = %m, "scrub: replica unreadable for now; will look again next pass");
                }
            }
        }
        if damaged.is_empty() {
            continue;
        }
        // A blob the reaper removed after an overwrite or move is not damage: confirm the object is unchanged.
        match unchanged(strata, bucket, key, rec.generation).await {
            Ok(true) => {}
            Ok(false) => {
                report.counts.skipped_changed += 1;
                tracing::debug!(
                    bucket,
                    key,
                    "scrub: object changed during its check; skipped"
                );
                return;
            }
            Err(m) => {
                report.counts.transient_errors += 1;
                tracing::warn!(bucket, key, error = %m, "scrub: cannot confirm the object; skipped");
                return;
            }
        }
        let sources = strata.replicas_by_latency(&good);
        for (dest, problem, detail) in damaged {
            if problem == "missing" {
                report.counts.missing_found += 1;
            } else {
                report.counts.bad_found += 1;
            }
            tracing::warn!(bucket, key, backend = dest.name(), blob = %part.blob, problem, detail = %detail, "scrub: damaged replica found");
            let mut event = ScrubEvent {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
                blob: part.blob.clone(),
                backend: dest.name().to_owned(),
                problem: problem.to_owned(),
                detail,
                healed: false,
                source: None,
                error: None,
            };
            if sources.is_empty() {
                report.counts.heal_failures += 1;
                let m = "no replica of this part verified; nothing to heal from".to_owned();
                tracing::error!(bucket, key, backend = dest.name(), blob = %part.blob, "scrub: {m}");
                event.error = Some(m);
                report.event(event);
                continue;
            }
            match heal(strata, bucket, key, rec.generation, &sources, &dest, part).await {
                Ok(source) => {
                    report.counts.healed += 1;
                    tracing::info!(bucket, key, backend = dest.name(), blob = %part.blob, source = %source, "scrub: replica healed and verified");
                    event.healed = true;
                    event.source = Some(source);
                }
                Err(HealError::Changed) => {
                    report.counts.skipped_changed += 1;
                    event.error = Some("object changed before the heal; left alone".into());
                }
                Err(HealError::Failed(m)) => {
                    report.counts.heal_failures += 1;
                    tracing::error!(bucket, key, backend = dest.name(), blob = %part.blob, error = %m, "scrub: heal failed");
                    event.error = Some(m);
                }
            }
            report.event(event);
        }
    }
}

enum HealError {
    /// The object changed; nothing was written.
    Changed,
    Failed(String),
}

/// Rewrites `part` on `dest` from `sources` and verifies it, after confirming (each attempt) that the object is
/// still at `generation`. The caller holds a read lease on the blob. Returns the source used.
async fn heal(
    strata: &Core,
    bucket: &str,
    key: &str,
    generation: u64,
    sources: &[Arc<Backend>],
    dest: &Backend,
    part: &PartRef,
) -> Result<String, HealError> {
    let changed = std::sync::atomic::AtomicBool::new(false);
    let healed = with_retries("heal", dest.name(), &part.blob, HEAL_ATTEMPTS, |_| {
        let changed = &changed;
        async move {
            match unchanged(strata, bucket, key, generation).await {
                Ok(true) => copy_verified(sources, dest, part).await,
                Ok(false) => {
                    changed.store(true, std::sync::atomic::Ordering::Relaxed);
                    Err(StepError::Fatal("the object changed".into()))
                }
                Err(m) => Err(StepError::Fatal(m)),
            }
        }
    })
    .await;
    match healed {
        Ok(source) => Ok(source),
        Err(_) if changed.load(std::sync::atomic::Ordering::Relaxed) => Err(HealError::Changed),
        Err(m) => Err(HealError::Failed(m)),
    }
}

/// Spaces events at least `1 / per_sec` apart (no limit when `per_sec` is 0). Bursts are not saved up: after an
/// idle period the next event goes at once, the following ones are paced again.
pub(crate) struct Pacer {
    gap: Option<Duration>,
    /// Bytes a second that [`Pacer::spent`] charges against (None: no byte limit).
    byte_rate: Option<u64>,
    next: tokio::time::Instant,
}

impl Pacer {
    pub(crate) fn new(per_sec: u32) -> Pacer {
        Pacer {
            gap: (per_sec > 0).then(|| Duration::from_secs(1) / per_sec),
            byte_rate: None,
            next: tokio::time::Instant::now(),
        }
    }

    /// The same pacer, also holding reads to `bytes_per_sec` on average (0: no byte limit).
    pub(crate) fn with_byte_rate(mut self, bytes_per_sec: u64) -> Pacer {
        self.byte_rate = (bytes_per_sec > 0).then_some(bytes_per_sec);
        self
    }

    /// Charges `bytes` just read: the next event waits until they fit the byte rate.
    pub(crate) fn spent(&mut self, bytes: u64) {
        if let Some(rate) = self.byte_rate {
            let due = self.next.max(tokio::time::Instant::now());
            self.next = due + Duration::from_secs_f64(bytes as f64 / rate as f64);
        }
    }

    /// Waits until the next event may go.
    pub(crate) async fn wait(&mut self) {
        if self.gap.is_none() && self.byte_rate.is_none() {
            return;
        }
        let now = tokio::time::Instant::now();
        if self.next > now {
            tokio::time::sleep_until(self.next).await;
        }
        self.next = self.next.max(now) + self.gap.unwrap_or_default();
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::blob_copy::copy_checked;
    use crate::clock::Clock;
    use crate::config::EngineConfig;
    use bytes::Bytes;
    use catalog::{NewObject, ObjectMeta};

    /// A gateway state over the embedded default backends (hot, warm, cold on local disk) in a temp dir.
    pub(crate) fn state() -> (tempfile::TempDir, Arc<Core>) {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = EngineConfig::embedded(dir.path().join("data"));
        let strata = Core::open(&config, Clock::system()).expect("open state");
        strata.catalog.create_bucket("b", 0).expect("create bucket");
        (dir, strata)
    }

    pub(crate) fn data(len: usize, seed: u8) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect()
    }

    /// Writes `body` as a one-part object on every backend of `replicas` and commits it.
    pub(crate) async fn put(strata: &Core, key: &str, body: &[u8], replicas: &[&str]) -> PartRef {
        let blob = format!("blobs/{:02x}/{}", body.len() % 256, uuid::Uuid::new_v4());
        for r in replicas {
            let b = strata.backend(r).expect("backend");
            let mut w = b.writer(&blob).await.expect("writer");
            w.write(Bytes::copy_from_slice(body)).await.expect("write");
            w.finish().await.expect("finish");
        }
        let part = PartRef {
            blob,
            size: body.len() as u64,
            blake3: blake3::hash(body).to_hex().to_string(),
            etag: "0".repeat(32),
        };
        strata
            .catalog
            .put_object(
                "b",
                key,
                NewObject {
                    size: part.size,
                    etag: "0".repeat(32),
                    last_modified_ms: 0,
                    parts: vec![part.clone()],
                    replicas: replicas.iter().map(|s| s.to_string()).collect(),
                    meta: ObjectMeta::default(),
                },
            )
            .expect("commit");
        part
    }

    /// The file holding `blob` on the local backend `backend`.
    pub(crate) fn blob_file(strata: &Core, backend: &str, blob: &str) -> std::path::PathBuf {
        let i = strata
            .backends
            .iter()
            .position(|b| b.name() == backend)
            .expect("backend");
        strata.local_roots[i].join(blob)
    }

    pub(crate) async fn read_all(b: &Backend, part: &PartRef) -> Vec<u8> {
        let mut s = b
            .read(&part.blob, part.size, 0..part.size)
            .await
            .expect("open");
        let mut out = Vec::new();
        while let Some(c) = s.next().await {
            out.extend_from_slice(&c.expect("chunk"));
        }
        out
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_pass_heals_a_corrupt_and_a_missing_replica_and_counts_them() {
        let (_dir, strata) = state();
        let body1 = data(3 << 20, 1);
        let body2 = data(1000, 2);
        let p1 = put(&strata, "one", &body1, &["hot", "warm"]).await;
        let p2 = put(&strata, "two", &body2, &["hot", "warm"]).await;
        let p3 = put(&strata, "three", &data(10, 3), &["hot", "warm"]).await;
        let warm = strata.backend("warm").expect("warm").clone();
        let hot = strata.backend("hot").expect("hot").clone();

        // Flip a byte in the middle of one replica, delete another one.
        let mut raw = warm.read_raw(&p1.blob).await.expect("raw").to_vec();
        let mid = raw.len() / 2;
        raw[mid] ^= 0x40;
        std::fs::write(blob_file(&strata, "warm", &p1.blob), raw).expect("overwrite");
        hot.delete(&p2.blob).await.expect("delete");

        let scrubber = Scrubber::new();
        let report = scrub_once(&strata, &scrubber).await;
        assert!(report.complete);
        assert_eq!(report.counts.objects_checked, 3);
        assert_eq!(report.counts.replicas_checked, 6);
        assert_eq!(report.counts.bad_found, 1, "{report:?}");
        assert_eq!(report.counts.missing_found, 1, "{report:?}");
        assert_eq!(report.counts.healed, 2, "{report:?}");
        assert_eq!(report.counts.heal_failures, 0);
        assert_eq!(report.events.len(), 2);
        assert!(report.events.iter().all(|e| e.healed));

        // Both copies are whole again, and a second pass finds nothing.
        assert_eq!(read_all(&warm, &p1).await, body1);
        assert_eq!(read_all(&hot, &p2).await, body2);
        assert_eq!(read_all(&hot, &p3).await, data(10, 3));
        let again = scrub_once(&strata, &scrubber).await;
        assert_eq!(again.counts.bad_found + again.counts.missing_found, 0);
        let status = scrubber.status();
        assert_eq!(status.passes, 2);
        assert_eq!(status.totals.healed, 2);
        assert!(!status.running);
        assert!(status.last_run_end_ms.is_some());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_good_replica_means_a_heal_failure_and_nothing_is_deleted() {
        let (_dir, strata) = state();
        let part = put(&strata, "only", &data(5000, 9), &["hot"]).await;
        let hot = strata.backend("hot").expect("hot").clone();
        let mut raw = hot.read_raw(&part.blob).await.expect("raw").to_vec();
        raw[100] ^= 1;
        let corrupt = Bytes::from(raw);
        std::fs::write(blob_file(&strata, "hot", &part.blob), &corrupt).expect("overwrite");
        let report = scrub_once(&strata, &Scrubber::new()).await;
        assert_eq!(report.counts.bad_found, 1);
        assert_eq!(report.counts.heal_failures, 1);
        assert_eq!(report.counts.healed, 0);
        // The damaged copy is left as it was (it may still be partly useful to an operator).
        assert_eq!(hot.read_raw(&part.blob).await.expect("raw"), corrupt);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_blob_gone_because_the_object_changed_is_not_reported_missing() {
        let (_dir, strata) = state();
        let old = put(&strata, "k", &data(100, 1), &["hot", "warm"]).await;
        let rec = strata
            .catalog
            .get_object("b", "k")
            .expect("get")
            .expect("some");
        // Overwrite, and let the old blob vanish from one replica as the reaper would.
        put(&strata, "k", &data(100, 2), &["hot", "warm"]).await;
        strata
            .backend("hot")
            .expect("hot")
            .delete(&old.blob)
            .await
            .expect("delete");
        let mut report = ScrubReport::default();
        let mut pacer = Pacer::new(0);
        scrub_object(&strata, &mut pacer, &mut report, "b", "k", &rec).await;
        assert_eq!(report.counts.missing_found, 0);
        assert_eq!(report.counts.skipped_changed, 1);
        assert!(
            !strata
                .backend("hot")
                .expect("hot")
                .exists(&old.blob)
                .await
                .expect("exists")
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn copy_checked_never_publishes_content_that_does_not_match() {
        let (_dir, strata) = state();
        let part = put(&strata, "k", &data(2000, 4), &["hot"]).await;
        let hot = strata.backend("hot").expect("hot").clone();
        let warm = strata.backend("warm").expect("warm").clone();
        let mut wrong = part.clone();
        wrong.blake3 = blake3::hash(b"something else").to_hex().to_string();
        match copy_checked(std::slice::from_ref(&hot), &warm, &wrong).await {
            Err(StepError::Fatal(_)) => {}
            other => panic!("expected a fatal error, got {other:?}"),
        }
        assert!(!warm.exists(&part.blob).await.expect("exists"));
        // The right hash copies, also in place onto the source itself.
        assert_eq!(
            copy_checked(std::slice::from_ref(&hot), &hot, &part)
                .await
                .expect("copy"),
            "hot"
        );
        assert_eq!(read_all(&hot, &part).await, data(2000, 4));
    }

    #[tokio::test]
    async fn pacer_spaces_events() {
        let mut p = Pacer::new(50);
        let start = tokio::time::Instant::now();
        for _ in 0..6 {
            p.wait().await;
        }
        // Five gaps of 20 ms.
        assert!(
            start.elapsed() >= Duration::from_millis(95),
            "{:?}",
            start.elapsed()
        );
        let mut free = Pacer::new(0);
        let start = tokio::time::Instant::now();
        for _ in 0..1000 {
            free.wait().await;
        }
        assert!(start.elapsed() < Duration::from_millis(50));
    }

    #[tokio::test]
    async fn pacer_holds_the_byte_rate() {
        // 1 MiB/s and no part limit: three reads of 64 KiB take at least the 2 × 62.5 ms the first two spent.
        let mut p = Pacer::new(0).with_byte_rate(1 << 20);
        let start = tokio::time::Instant::now();
        for _ in 0..3 {
            p.wait().await;
            p.spent(64 << 10);
        }
        assert!(
            start.elapsed() >= Duration::from_millis(120),
            "{:?}",
            start.elapsed()
        );
        // No byte limit: spending is free.
        let mut free = Pacer::new(0).with_byte_rate(0);
        let start = tokio::time::Instant::now();
        for _ in 0..100 {
            free.wait().await;
            free.spent(1 << 30);
        }
        assert!(start.elapsed() < Duration::from_millis(50));
    }
}
