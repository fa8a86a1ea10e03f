//! Key rotation and re-sealing: after a backend's key is rotated, re-seal the blobs still sealed with an older key.
//!
//! [`rotate`] adds a key to a backend's keyring and makes it active ([`Backend::rotate_key`], persisted first):
//! new writes use it at once, and older blobs stay readable because keys are never removed from the keyring.
//! The background task [`run`] then brings every referenced blob on that backend to the active key.
//!
//! # A pass
//! For the backends that need it, a pass walks the catalog in pages ([`crate::scan::ObjectPages`]); for each
//! part of each object with a replica on such a backend it reads only the blob's 16-byte header
//! ([`Backend::read_header`]). If the header names another key than the backend's active one (or cannot be read
//! because the blob is missing or its header is damaged), the blob is **re-sealed** in place:
//!
//! 1. take a read lease on the blob (the reaper cannot delete it meanwhile) and check the object is still at the
//!    generation the pass saw, with the blob on this backend — otherwise skip it (an overwrite or move writes new
//!    blobs with the active key anyway);
//! 2. stream the plaintext from the same replica (or, if that fails, another replica of the object) into a blob of
//!    the **same name** on the same backend, sealed with the active key
//!    ([`copy_checked`](crate::blob_copy::copy_checked)): the new blob is published only after the whole plaintext
//!    matched the recorded size and blake3, and publishing replaces the old blob atomically (the local store
//!    renames a staging file over it; object stores replace on the final PUT / multipart completion);
//! 3. read the new blob back and compare its blake3 ([`verify_part`](crate::blob_copy::verify_part));
//! 4. check the generation again; if the object changed meanwhile the copy is left as is (same name, identical
//!    content: nothing to undo) and counted as skipped.
//!
//! Re-seals are paced to at most [`ResealConfig::reseals_per_sec`] and [`ResealConfig::bytes_per_sec`], and header
//! reads to [`ResealConfig::checks_per_sec`], so a pass does not starve requests.
//!
//! # When passes run, and when a backend counts as done
//! A backend is *verified* for key K when a complete pass, started while K was active, found every blob already
//! sealed with K (no re-seal needed, no error). A pass that had to re-seal anything is followed by a confirming
//! pass (writes that began before the rotation may have committed old-key blobs into the part of the catalog the
//! pass had already walked — e.g. multipart uploads started earlier); a pass with errors is retried after
//! [`RETRY_DELAY`]. The task polls every second for backends whose active key differs from their verified key (so
//! a rotation through [`rotate`] is picked up within a second; [`Resealer::wake`] makes it immediate), and every
//! [`ResealConfig::period`] re-checks all backends that have more than one key. At start-up a backend with a single
//! key is verified by construction; one with several keys gets a pass (the verified state is not persisted).
//! Blobs of multipart uploads that are not completed yet are not in the object table and are not re-sealed until
//! completed (they stay readable: old keys are kept).
//!
//! # Readers racing a re-seal
//! A GET streaming a blob while it is replaced: on local disk the reader's open file keeps the old inode, so it
//! reads the old (still valid) sealed bytes to the end; a whole-object read opens the file once. A ranged read
//! that starts past the first frame fetches header and frames with two requests, the second conditional on the
//! first's ETag, so a replacement in between fails that read instead of mixing versions, and the read path resumes
//! from another replica. On cloud stores an in-flight GET of the replaced object generally keeps streaming the
//! version it started on, but providers do not promise it: a read can fail mid-stream with a store error, which
//! the read path treats like any other replica failure (fail over to the next replica; with a single replica the
//! client sees a failed read and retries). It never sees mixed or unverified bytes: every frame is authenticated
//! and bound to its index, and the key id comes from the header of the version being read.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use backends::Backend;
use catalog::{ObjectRecord, PartRef};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::blob_copy::{copy_verified, with_retries};
use crate::core::Core;
use crate::error::EngineError;
use crate::scan::{ObjectPages, for_each_object};
use crate::scrub::Pacer;

/// Objects fetched from the catalog per page.
const PAGE: usize = 256;
/// How often the task looks for rotated backends.
const POLL: Duration = Duration::from_secs(1);
/// Wait before the confirming pass that follows a pass which re-sealed blobs.
const CONFIRM_DELAY: Duration = Duration::from_secs(2);
/// Wait before retrying a backend whose pass had errors.
pub const RETRY_DELAY: Duration = Duration::from_secs(30);
/// Attempts per re-seal before it counts as an error (transient failures are retried with backoff).
const ATTEMPTS: u32 = 3;

/// Tuning of the resealer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResealConfig {
    /// Re-seals (read + write + read back of one blob) per second at most; 0: unpaced.
    pub reseals_per_sec: u32,
    /// Plaintext bytes re-sealed per second at most, averaged over the pass; 0: no byte limit. A blob can be a
    /// whole large object, so the blob rate alone does not pace a store of large objects (each byte is read,
    /// written and read back).
    pub bytes_per_sec: u64,
    /// Header reads per second at most; 0: unpaced.
    pub checks_per_sec: u32,
    /// How often backends with more than one key are re-checked even when verified (catches old-key blobs that
    /// were committed after the pass that verified the backend).
    pub period: Duration,
}

impl Default for ResealConfig {
    /// 20 re-seals/s and 32 MiB/s (the scrubber's byte rate), 500 header reads/s, a re-check every 24 h.
    fn default() -> Self {
        ResealConfig {
            reseals_per_sec: 20,
            bytes_per_sec: crate::config::DEFAULT_SCRUB_BYTES_PER_SEC,
            checks_per_sec: 500,
            period: Duration::from_secs(24 * 3600),
        }
    }
}

/// Progress of one backend.
#[derive(Clone, Debug, Default)]
struct BackendProgress {
    /// Every referenced blob was found sealed with this key by a complete pass.
    verified_key_id: Option<u32>,
    /// Cumulative since start.
    blobs_checked: u64,
    blobs_resealed: u64,
    blobs_skipped: u64,
    errors: u64,
    last_error: Option<String>,
    /// `(key the estimate is for, blobs that may still need re-sealing)`.
    pending: Option<(u32, u64)>,
    last_pass_ms: Option<i64>,
    last_pass_duration_ms: Option<u64>,
    passes: u64,
    running: bool,
}

/// Shared state of the re-sealing task: per-backend progress for `/admin/keys`. One per process, behind an `Arc`,
/// shared by [`run`] and the admin routes.
pub struct Resealer {
    config: ResealConfig,
    backends: Vec<Arc<Backend>>,
    progress: Mutex<BTreeMap<String, BackendProgress>>,
    wake: Notify,
}

impl Resealer {
    /// A resealer for `backends` (pass `&strata.backends`). A backend whose keyring holds a single key is verified
    /// for it from the start; the others get a pass when [`run`] starts.
    pub fn new(backends: &[Arc<Backend>], config: ResealConfig) -> Resealer {
        let progress = backends
            .iter()
            .map(|b| {
                let p = BackendProgress {
                    verified_key_id: (b.key_ids().len() <= 1).then(|| b.active_key_id()),
                    ..BackendProgress::default()
                };
                (b.name().to_owned(), p)
            })
            .collect();
        Resealer {
            config,
            backends: backends.to_vec(),
            progress: Mutex::new(progress),
            wake: Notify::new(),
        }
    }

    /// Makes [`run`] look for work now instead of at its next poll (at most a second later).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, BackendProgress>> {
        // Plain counters: a poisoned lock still holds consistent values.
        self.progress.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn update(&self, backend: &str, f: impl FnOnce(&mut BackendProgress)) {
        if let Some(p) = self.lock().get_mut(backend) {
            f(p);
        }
    }

    fn verified_key(&self, backend: &str) -> Option<u32> {
        self.lock().get(backend).and_then(|p| p.verified_key_id)
    }

    /// Progress per backend, keyed by name (see [`ResealStatus`]).
    pub fn status(&self) -> ResealStatus {
        let progress = self.lock();
        let mut backends = BTreeMap::new();
        for b in &self.backends {
            let p = progress.get(b.name()).cloned().unwrap_or_default();
            let active = b.active_key_id();
            let complete = p.verified_key_id == Some(active);
            let pending = if complete {
                Some(0)
            } else {
                p.pending.filter(|(k, _)| *k == active).map(|(_, n)| n)
            };
            backends.insert(
                b.name().to_owned(),
                ResealProgress {
                    active_key_id: active,
                    verified_key_id: p.verified_key_id,
                    complete,
                    blobs_checked: p.blobs_checked,
                    blobs_resealed: p.blobs_resealed,
                    blobs_skipped: p.blobs_skipped,
                    blobs_pending_estimate: pending,
                    errors: p.errors,
                    last_error: p.last_error,
                    last_pass_ms: p.last_pass_ms,
                    last_pass_duration_ms: p.last_pass_duration_ms,
                    passes: p.passes,
                    running: p.running,
                },
            );
        }
        ResealStatus {
            reseals_per_sec: self.config.reseals_per_sec,
            bytes_per_sec: self.config.bytes_per_sec,
            checks_per_sec: self.config.checks_per_sec,
            period_secs: self.config.period.as_secs(),
            backends,
        }
    }
}

/// Re-sealing progress of every backend (`reseal` in `GET /admin/keys`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ResealStatus {
    /// Re-seal rate limit (blobs per second, 0: unpaced).
    pub reseals_per_sec: u32,
    /// Re-seal byte rate limit (plaintext bytes per second, 0: no byte limit).
    pub bytes_per_sec: u64,
    /// Check rate limit (blobs per second, 0: unpaced).
    pub checks_per_sec: u32,
    /// Seconds between passes once a backend is complete.
    pub period_secs: u64,
    /// Progress keyed by backend name.
    pub backends: BTreeMap<String, ResealProgress>,
}

/// Re-sealing progress of one backend. Counters are cumulative since start.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ResealProgress {
    pub active_key_id: u32,
    /// Every referenced blob was found sealed with this key by a complete pass.
    pub verified_key_id: Option<u32>,
    /// True when every referenced blob is known to be sealed with the active key
    /// (`verified_key_id == active_key_id`).
    pub complete: bool,
    pub blobs_checked: u64,
    pub blobs_resealed: u64,
    pub blobs_skipped: u64,
    /// Upper bound of blobs still to re-seal (those the current or last pass has not yet checked plus those that
    /// failed); 0 when complete; null before a pass estimated it since the active key changed.
    pub blobs_pending_estimate: Option<u64>,
    pub errors: u64,
    pub last_error: Option<String>,
    /// When the last pass ended (ms since the epoch).
    pub last_pass_ms: Option<i64>,
    pub last_pass_duration_ms: Option<u64>,
    pub passes: u64,
    pub running: bool,
}

/// Keys of every backend and re-sealing progress (`GET /admin/keys`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Keys {
    pub backends: Vec<BackendKeys>,
    pub reseal: ResealStatus,
}

/// The keyring of one backend.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BackendKeys {
    pub name: String,
    /// The key new blobs are sealed with.
    pub active_key_id: u32,
    /// Every key of the keyring, oldest first.
    pub key_ids: Vec<u32>,
}

/// `POST /admin/keys/rotate`: adds a key to `backend`'s keyring and makes it active (the keyring file is saved
/// first, off the async workers); returns the new key id. New writes use it at once; [`run`] notices the rotation
/// within a second and starts re-sealing. Errors: an unknown backend name (`"unknown backend ..."`), or the
/// keyring could not be saved (the active key is then unchanged): [`EngineError`].
pub async fn rotate(strata: &Arc<Core>, backend: &str) -> Result<u32, EngineError> {
    let b = strata
        .backend(backend)
        .cloned()
        .ok_or_else(|| EngineError::UnknownBackend(backend.to_owned()))?;
    let id = tokio::task::spawn_blocking(move || b.rotate_key())
        .await
        .map_err(|e| EngineError::task("key rotation", e))??;
    tracing::warn!(
        backend,
        key_id = id,
        "key rotated: new blobs are sealed with it; older blobs will be re-sealed in the background"
    );
    Ok(id)
}

/// `GET /admin/keys`: each backend's keys and the re-sealing progress.
pub fn keys_status(strata: &Core, resealer: &Resealer) -> Keys {
    Keys {
        backends: strata
            .backends
            .iter()
            .map(|b| BackendKeys {
                name: b.name().to_owned(),
                active_key_id: b.active_key_id(),
                key_ids: b.key_ids(),
            })
            .collect(),
        reseal: resealer.status(),
    }
}

/// How a pass left a backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PassOutcome {
    /// Every blob was already sealed with the key active when the pass started (and still is).
    Verified,
    /// Blobs were re-sealed, or the key changed during the pass: confirm with another pass.
    Confirm,
    /// Some blobs could not be checked or re-sealed.
    Errors,
}

/// Runs forever: re-seals blobs of backends whose active key is not verified yet (see the module docs for the
/// schedule). Spawn once, after start-up recovery.
pub async fn run(strata: Arc<Core>, resealer: Arc<Resealer>) {
    let mut not_before: HashMap<String, Instant> = HashMap::new();
    let mut last_full = Instant::now();
    loop {
        let now = Instant::now();
        let full_due = now.duration_since(last_full) >= resealer.config.period;
        if full_due {
            last_full = now;
        }
        let targets: Vec<Arc<Backend>> = resealer
            .backends
            .iter()
            .filter(|b| {
                let ready = not_before.get(b.name()).is_none_or(|t| now >= *t);
                let unverified = resealer.verified_key(b.name()) != Some(b.active_key_id());
                ready && (unverified || (full_due && b.key_ids().len() > 1))
            })
            .cloned()
            .collect();
        if !targets.is_empty() {
            for (name, outcome) in pass(&strata, &resealer, &targets).await {
                match outcome {
                    PassOutcome::Verified => {
                        not_before.remove(&name);
                    }
                    PassOutcome::Confirm => {
                        not_before.insert(name, Instant::now() + CONFIRM_DELAY);
                    }
                    PassOutcome::Errors => {
                        not_before.insert(name, Instant::now() + RETRY_DELAY);
                    }
                }
            }
        }
        tokio::select! {
            () = resealer.wake.notified() => {}
            () = tokio::time::sleep(POLL) => {}
        }
    }
}

/// Per-backend tallies of one pass.
#[derive(Default)]
struct Tally {
    key_at_start: u32,
    needed_reseal: u64,
    errors: u64,
}

/// One pass over the catalog for `targets`; returns how it left each of them.
async fn pass(
    strata: &Arc<Core>,
    resealer: &Resealer,
    targets: &[Arc<Backend>],
) -> Vec<(String, PassOutcome)> {
    let started = Instant::now();
    let mut tally: BTreeMap<String, Tally> = targets
        .iter()
        .map(|b| {
            let t = Tally {
                key_at_start: b.active_key_id(),
                ..Tally::default()
            };
            (b.name().to_owned(), t)
        })
        .collect();
    for b in targets {
        resealer.update(b.name(), |p| p.running = true);
    }
    let names: Vec<String> = targets.iter().map(|b| b.name().to_owned()).collect();
    let complete = match count_locations(strata, &names).await {
        Ok(counts) => {
            for b in targets {
                let n = counts.get(b.name()).copied().unwrap_or(0);
                let key = b.active_key_id();
                resealer.update(b.name(), |p| p.pending = Some((key, n)));
            }
            tracing::info!(backends = ?names, "re-seal pass started");
            walk(strata, resealer, targets, &mut tally).await
        }
        Err(m) => {
            tracing::warn!(error = %m, "re-seal pass cannot read the catalog");
            false
        }
    };
    let ended_ms = strata.clock.now_ms();
    let duration_ms = started.elapsed().as_millis() as u64;
    let mut out = Vec::new();
    for b in targets {
        let t = tally.remove(b.name()).unwrap_or_default();
        let key_now = b.active_key_id();
        let outcome = if !complete || t.errors > 0 {
            PassOutcome::Errors
        } else if t.needed_reseal > 0 || key_now != t.key_at_start {
            PassOutcome::Confirm
        } else {
            PassOutcome::Verified
        };
        resealer.update(b.name(), |p| {
            p.running = false;
            p.passes += 1;
            p.last_pass_ms = Some(ended_ms);
            p.last_pass_duration_ms = Some(duration_ms);
            if outcome == PassOutcome::Verified {
                p.verified_key_id = Some(t.key_at_start);
                p.pending = Some((t.key_at_start, 0));
            }
        });
        tracing::info!(
            backend = b.name(),
            key_id = t.key_at_start,
            resealed = t.needed_reseal,
            errors = t.errors,
            outcome = ?outcome,
            "re-seal pass finished"
        );
        out.push((b.name().to_owned(), outcome));
    }
    out
}

/// Part locations on each of `names`, from the catalog (no backend I/O).
async fn count_locations(strata: &Core, names: &[String]) -> Result<HashMap<String, u64>, String> {
    let names = names.to_vec();
    strata
        .with_catalog(move |c| {
            let mut counts: HashMap<String, u64> = HashMap::new();
            for_each_object(c, 4096, |_, _, rec| {
                for r in rec.replicas.iter().filter(|r| names.contains(r)) {
                    *counts.entry(r.clone()).or_insert(0) += rec.parts.len() as u64;
                }
                Ok(())
            })?;
            Ok(counts)
        })
        .await
        .map_err(|e| e.to_string())
}

/// Walks every object once, checking and re-sealing the blobs on `targets`. Returns false if the catalog could
/// not be read to the end.
async fn walk(
    strata: &Arc<Core>,
    resealer: &Resealer,
    targets: &[Arc<Backend>],
    tally: &mut BTreeMap<String, Tally>,
) -> bool {
    let mut checks = Pacer::new(resealer.config.checks_per_sec);
    let mut reseals =
        Pacer::new(resealer.config.reseals_per_sec).with_byte_rate(resealer.config.bytes_per_sec);
    let mut pages = ObjectPages::new(PAGE);
    loop {
        let page = match pages.next_page_async(strata).await {
            Ok(Some(p)) => p,
            Ok(None) => return true,
            Err(e) => {
                tracing::warn!(error = %e, "re-seal pass stopped: cannot read the catalog");
                return false;
            }
        };
        for (bucket, key, rec) in page {
            for b in targets
                .iter()
                .filter(|b| rec.replicas.iter().any(|r| r == b.name()))
            {
                for part in &rec.parts {
                    checks.wait().await;
                    let outcome =
                        check_blob(strata, &mut reseals, b, &bucket, &key, &rec, part).await;
                    let t = tally.entry(b.name().to_owned()).or_default();
                    match &outcome {
                        BlobOutcome::Current => {}
                        BlobOutcome::Resealed | BlobOutcome::Skipped => t.needed_reseal += 1,
                        BlobOutcome::Failed(_) => {
                            t.needed_reseal += 1;
                            t.errors += 1;
                        }
                    }
                    resealer.update(b.name(), |p| {
                        p.blobs_checked += 1;
                        match &outcome {
                            BlobOutcome::Current => {}
                            BlobOutcome::Resealed => p.blobs_resealed += 1,
                            BlobOutcome::Skipped => p.blobs_skipped += 1,
                            BlobOutcome::Failed(m) => {
                                p.errors += 1;
                                p.last_error = Some(m.clone());
                            }
                        }
                        if !matches!(outcome, BlobOutcome::Current) {
                            // Seen an old-key blob: not verified any more (until a clean pass).
                            p.verified_key_id = None;
                        }
                        if !matches!(outcome, BlobOutcome::Failed(_))
                            && let Some((_, n)) = p.pending.as_mut()
                        {
                            *n = n.saturating_sub(1);
                        }
                    });
                }
            }
        }
    }
}

/// What happened to one blob.
#[derive(Debug)]
enum BlobOutcome {
    /// Already sealed with the active key.
    Current,
    /// Re-sealed with the active key and verified.
    Resealed,
    /// The object changed (or another task re-sealed the blob first); nothing left to do here.
    Skipped,
    Failed(String),
}

/// Checks the header of `part` on `b` and re-seals the blob if it is not sealed with the active key.
async fn check_blob(
    strata: &Arc<Core>,
    reseals: &mut Pacer,
    b: &Arc<Backend>,
    bucket: &str,
    key: &str,
    rec: &ObjectRecord,
    part: &PartRef,
) -> BlobOutcome {
    let found = match b.read_header(&part.blob).await {
        Ok(h) if h.key_id == b.active_key_id() => return BlobOutcome::Current,
        Ok(h) => format!("sealed with key {}", h.key_id),
        Err(e) if e.is_store_failure() => {
            tracing::warn!(backend = b.name(), blob = %part.blob, error = %e, "re-seal: cannot read the header");
            return BlobOutcome::Failed(e.to_string());
        }
        // Missing or damaged: rewrite it from another replica, if the object still references it.
        Err(e) => e.to_string(),
    };
    reseals.wait().await;
    let outcome = reseal(strata, b, bucket, key, rec, part).await;
    // Charged whatever the outcome: an attempt may have read and written the blob before it failed or was skipped.
    reseals.spent(part.size);
    match &outcome {
        BlobOutcome::Resealed => {
            tracing::info!(backend = b.name(), bucket, key, blob = %part.blob, was = %found, key_id = b.active_key_id(), "blob re-sealed and verified")
        }
        BlobOutcome::Failed(m) => {
            tracing::warn!(backend = b.name(), bucket, key, blob = %part.blob, was = %found, error = %m, "re-seal failed")
        }
        _ => {}
    }
    outcome
}

/// Re-seals `part` on `b` in place, under a read lease, if the object still references it (see the module docs).
async fn reseal(
    strata: &Arc<Core>,
    b: &Arc<Backend>,
    bucket: &str,
    key: &str,
    rec: &ObjectRecord,
    part: &PartRef,
) -> BlobOutcome {
    let _lease = strata.leases.acquire(vec![part.blob.clone()]);
    match still_referenced(strata, bucket, key, rec.generation, b.name(), &part.blob).await {
        Ok(true) => {}
        Ok(false) => return BlobOutcome::Skipped,
        Err(m) => return BlobOutcome::Failed(m),
    }
    // Another task (the scrubber, a concurrent pass) may have re-sealed it since the header was read.
    if let Ok(h) = b.read_header(&part.blob).await
        && h.key_id == b.active_key_id()
    {
        return BlobOutcome::Skipped;
    }
    let others: Vec<String> = rec
        .replicas
        .iter()
        .filter(|r| *r != b.name())
        .cloned()
        .collect();
    let mut sources = vec![b.clone()];
    sources.extend(strata.replicas_by_latency(&others));
    if let Err(m) = with_retries("re-seal", b.name(), &part.blob, ATTEMPTS, |_| {
        copy_verified(&sources, b, part)
    })
    .await
    {
        return BlobOutcome::Failed(m);
    }
    match still_referenced(strata, bucket, key, rec.generation, b.name(), &part.blob).await {
        Ok(true) => BlobOutcome::Resealed,
        // Same name, identical content: nothing to undo; the reaper deletes it if it became garbage.
        Ok(false) => {
            tracing::debug!(backend = b.name(), bucket, key, blob = %part.blob, "object changed during its re-seal");
            BlobOutcome::Skipped
        }
        Err(m) => BlobOutcome::Failed(m),
    }
}

/// Whether `bucket/key` is still at `generation` with `blob` among its parts and `backend` among its replicas.
async fn still_referenced(
    strata: &Core,
    bucket: &str,
    key: &str,
    generation: u64,
    backend: &str,
    blob: &str,
) -> Result<bool, String> {
    let (bk, k) = (bucket.to_owned(), key.to_owned());
    match strata.with_catalog(move |c| c.get_object(&bk, &k)).await {
        Ok(Some(r)) => Ok(r.generation == generation
            && r.replicas.iter().any(|x| x == backend)
            && r.parts.iter().any(|p| p.blob == blob)),
        Ok(None) => Ok(false),
        Err(e) => Err(format!("catalog: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scrub::tests::{blob_file, data, put, read_all, state};

    fn header_key(strata: &Core, backend: &str, blob: &str) -> u32 {
        let raw = std::fs::read(blob_file(strata, backend, blob)).expect("blob file");
        u32::from_le_bytes([raw[12], raw[13], raw[14], raw[15]])
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_rotation_is_resealed_verified_and_confirmed() {
        let (_dir, strata) = state();
        let parts: Vec<(Vec<u8>, PartRef)> = {
            let mut v = Vec::new();
            for (i, len) in [0usize, 1, 1000, (1 << 20) + 7, 9 << 20]
                .into_iter()
                .enumerate()
            {
                let body = data(len, i as u8);
                let p = put(&strata, &format!("k{i}"), &body, &["hot", "warm"]).await;
                v.push((body, p));
            }
            v
        };
        let resealer = Resealer::new(&strata.backends, ResealConfig::default());
        let hot = strata.backend("hot").expect("hot").clone();
        let old = hot.active_key_id();
        assert!(resealer.status().backends["hot"].complete);

        let new = rotate(&strata, "hot").await.expect("rotate");
        assert_ne!(new, old);
        assert_eq!(hot.key_ids(), vec![old, new]);
        let s = resealer.status();
        assert!(!s.backends["hot"].complete);
        assert!(s.backends["hot"].blobs_pending_estimate.is_none());
        assert!(s.backends["warm"].complete);

        let out = pass(&strata, &resealer, std::slice::from_ref(&hot)).await;
        assert_eq!(out, vec![("hot".to_owned(), PassOutcome::Confirm)]);
        let s = resealer.status();
        assert_eq!(s.backends["hot"].blobs_resealed, 5, "{s:?}");
        assert_eq!(s.backends["hot"].blobs_pending_estimate, Some(0), "{s:?}");
        assert!(!s.backends["hot"].complete);
        for (body, p) in &parts {
            assert_eq!(header_key(&strata, "hot", &p.blob), new);
            assert_eq!(header_key(&strata, "warm", &p.blob), 1);
            assert_eq!(&read_all(&hot, p).await, body);
        }
        // The confirming pass finds nothing left and marks the backend done.
        let out = pass(&strata, &resealer, std::slice::from_ref(&hot)).await;
        assert_eq!(out, vec![("hot".to_owned(), PassOutcome::Verified)]);
        let s = resealer.status();
        assert!(s.backends["hot"].complete);
        assert_eq!(s.backends["hot"].verified_key_id, Some(new));
        assert_eq!(s.backends["hot"].blobs_resealed, 5);
        assert_eq!(s.backends["hot"].blobs_checked, 10);
        let k = keys_status(&strata, &resealer);
        assert_eq!(k.backends[0].name, "hot");
        assert_eq!(k.backends[0].key_ids, vec![old, new]);
        assert!(rotate(&strata, "nowhere").await.is_err());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_damaged_old_blob_is_rewritten_from_another_replica() {
        let (_dir, strata) = state();
        let body = data(4000, 7);
        let p = put(&strata, "k", &body, &["hot", "warm"]).await;
        let hot = strata.backend("hot").expect("hot").clone();
        rotate(&strata, "hot").await.expect("rotate");
        // The hot copy (old key) has a damaged frame: re-sealing from it fails the hash, so warm is used.
        let path = blob_file(&strata, "hot", &p.blob);
        let mut raw = std::fs::read(&path).expect("read");
        raw[200] ^= 0x10;
        std::fs::write(&path, raw).expect("write");
        let resealer = Resealer::new(&strata.backends, ResealConfig::default());
        pass(&strata, &resealer, std::slice::from_ref(&hot)).await;
        assert_eq!(header_key(&strata, "hot", &p.blob), hot.active_key_id());
        assert_eq!(read_all(&hot, &p).await, body);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_overwritten_object_is_skipped_not_resealed() {
        let (_dir, strata) = state();
        let p = put(&strata, "k", &data(100, 1), &["hot"]).await;
        let rec = strata
            .catalog
            .get_object("b", "k")
            .expect("get")
            .expect("some");
        let hot = strata.backend("hot").expect("hot").clone();
        rotate(&strata, "hot").await.expect("rotate");
        put(&strata, "k", &data(100, 2), &["hot"]).await;
        let outcome = reseal(&strata, &hot, "b", "k", &rec, &p).await;
        assert!(matches!(outcome, BlobOutcome::Skipped), "{outcome:?}");
        assert_eq!(header_key(&strata, "hot", &p.blob), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn run_picks_up_a_rotation_by_itself() {
        let (_dir, strata) = state();
        let p = put(&strata, "k", &data(100, 1), &["hot"]).await;
        let resealer = Arc::new(Resealer::new(&strata.backends, ResealConfig::default()));
        let task = tokio::spawn(run(strata.clone(), resealer.clone()));
        let new = rotate(&strata, "hot").await.expect("rotate");
        let deadline = Instant::now() + Duration::from_secs(20);
        while !resealer.status().backends["hot"].complete {
            assert!(Instant::now() < deadline, "{:?}", resealer.status());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        task.abort();
        assert_eq!(header_key(&strata, "hot", &p.blob), new);
    }
}
