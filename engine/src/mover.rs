//! The mover: executes persisted move tasks with verified copies, so that a move never loses data.
//!
//! Protocol per task (states persisted in the catalog, see `catalog::MoveState`):
//! 1. `Planned → Copying`: for every part of the object and every destination backend, stream the plaintext
//!    from a source replica (failing over between sources), re-seal it with the destination's key under the same
//!    blob name.
//! 2. `Copying → Verified`: read every destination copy back, unseal it and compare its blake3 with the one
//!    recorded at ingest. A mismatch aborts the move.
//! 3. `Verified → Committed`: one catalog transaction compares-and-swaps the replica set on the generation the plan
//!    saw; an overwrite or delete in the meantime aborts the move instead (and its copies are deleted).
//! 4. `Committed → SourceReleased`: the dropped replicas sit in the garbage table; the reaper deletes them once
//!    the grace period passed and no reader that started before the commit holds them. The mover marks the task
//!    released when they are gone.
//!
//! Transient backend errors are retried with exponential backoff and jitter, bounded in count; a move that keeps
//! failing is aborted with the reason, and its partial copies are deleted. After a crash, start-up recovery puts
//! `Copying`/`Verified` tasks back to `Planned` (their unreferenced copies are collected as orphans) and the
//! mover starts them again.
//!
//! Test hook: with `STRATA_TEST_MOVER_PAUSE=<State>` the mover stops forever when a task reaches that state
//! (`Copying`: after the copies are written; `Verified`: before the commit; `Committed`: before the release),
//! so a test can kill the process there.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use backends::Backend;
use backends::retry::RetryPolicy;
use catalog::{MoveState, MoveTask, ObjectRecord, PartRef};
use futures::StreamExt;
use tokio::sync::Notify;

use crate::core::Core;

/// Tasks executed at once.
const CONCURRENCY: usize = 2;
/// Attempts per copy or verification step before the move is aborted.
const MAX_ATTEMPTS: u32 = 5;
/// The workers' backoff between attempts of one step (mover, scrub heals, re-seals): the backends' own
/// [`RetryPolicy::backoff`] (exponential, full jitter), with a 100 ms base and a 5 s cap. Only its delays are
/// used here: how many attempts a step gets is each worker's own bound.
pub const WORKER_BACKOFF: RetryPolicy = RetryPolicy {
    max_attempts: MAX_ATTEMPTS,
    base: Duration::from_millis(100),
    max_delay: Duration::from_secs(5),
    max_elapsed: Duration::from_secs(60),
    attempt_timeout: None,
};

/// Handle to wake the mover when new tasks are planned.
#[derive(Clone, Default)]
pub struct MoverHandle {
    wake: Arc<Notify>,
}

impl MoverHandle {
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

fn pause_state() -> Option<MoveState> {
    let v = std::env::var("STRATA_TEST_MOVER_PAUSE").ok()?;
    [
        MoveState::Copying,
        MoveState::Verified,
        MoveState::Committed,
    ]
    .into_iter()
    .find(|s| s.as_str() == v)
}

async fn hook(state: MoveState, task: &MoveTask) {
    if pause_state() == Some(state) {
        tracing::warn!(
            task = task.id,
            state = state.as_str(),
            "mover paused by STRATA_TEST_MOVER_PAUSE"
        );
        std::future::pending::<()>().await;
    }
}

/// The delay before retry `n` (1-based) of a worker's step: [`WORKER_BACKOFF`], at least half its base.
pub fn backoff(n: u32) -> Duration {
    WORKER_BACKOFF.backoff(n).max(WORKER_BACKOFF.base / 2)
}

/// Why a step failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StepError {
    /// Worth retrying (a backend error).
    #[error("{0}")]
    Transient(String),
    /// Not worth retrying (content does not verify, object gone).
    #[error("{0}")]
    Fatal(String),
}

/// Runs forever, executing planned tasks and releasing committed ones.
pub async fn run(strata: Arc<Core>, handle: MoverHandle) {
    let in_flight: Arc<std::sync::Mutex<HashSet<u64>>> = Arc::default();
    let permits = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
    loop {
        let cat = strata.catalog.clone();
        let active = tokio::task::spawn_blocking(move || cat.moves(usize::MAX, true)).await;
        let tasks = match active {
            Ok(Ok(t)) => t,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "mover cannot read its tasks");
                Vec::new()
            }
            Err(e) => {
                tracing::error!(error = %e, "mover task list failed");
                Vec::new()
            }
        };
        // Committed tasks wait for the reaper: read the garbage table once per pass, not once per task.
        let pending = if tasks.iter().any(|t| t.state == MoveState::Committed) {
            strata
                .with_catalog(|c| {
                    Ok(c.garbage(usize::MAX)?
                        .into_iter()
                        .map(|g| (g.backend, g.blob))
                        .collect())
                })
                .await
                .ok()
        } else {
            None
        };
        // Oldest first.
        for task in tasks.into_iter().rev() {
            match task.state {
                MoveState::Planned => {
                    if !in_flight
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(task.id)
                    {
                        continue;
                    }
                    let Ok(permit) = permits.clone().acquire_owned().await else {
                        return;
                    };
                    let strata = strata.clone();
                    let in_flight = in_flight.clone();
                    tokio::spawn(async move {
                        let id = task.id;
                        execute(&strata, task).await;
                        in_flight
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .remove(&id);
                        drop(permit);
                    });
                }
                MoveState::Committed => release_if_done(&strata, &task, pending.as_ref()).await,
                _ => {}
            }
        }
        tokio::select! {
            () = handle.wake.notified() => {}
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

async fn set_state(
    strata: &Core,
    id: u64,
    state: MoveState,
    reason: Option<String>,
) -> Option<MoveTask> {
    let now = strata.clock.now_ms();
    match strata
        .with_catalog(move |c| c.set_move_state(id, state, reason, now))
        .await
    {
        Ok(t) => Some(t),
        Err(e) => {
            tracing::warn!(task = id, state = state.as_str(), error = %e, "cannot record move state");
            None
        }
    }
}

/// Runs one task from `Planned` to `Committed` or `Aborted`.
pub async fn execute(strata: &Arc<Core>, task: MoveTask) {
    let Some(task) = set_state(strata, task.id, MoveState::Copying, None).await else {
        return;
    };
    tracing::info!(task = task.id, bucket = %task.bucket, key = %task.key, from = ?task.from, to = ?task.to, "move started");
    let (b, k) = (task.bucket.clone(), task.key.clone());
    let rec = match strata.with_catalog(move |c| c.get_object(&b, &k)).await {
        Ok(Some(r)) if r.generation == task.generation && r.replicas == task.from => r,
        Ok(_) => {
            set_state(
                strata,
                task.id,
                MoveState::Aborted,
                Some("object changed since the plan".into()),
            )
            .await;
            return;
        }
        Err(e) => {
            set_state(strata, task.id, MoveState::Planned, None).await;
            tracing::warn!(task = task.id, error = %e, "catalog unavailable; move will be retried");
            return;
        }
    };
    let destinations: Vec<Arc<Backend>> = match task
        .destinations()
        .iter()
        .map(|n| {
            strata
                .backend(n)
                .cloned()
                .ok_or_else(|| format!("unknown backend {n}"))
        })
        .collect::<Result<_, _>>()
    {
        Ok(d) => d,
        Err(reason) => {
            set_state(strata, task.id, MoveState::Aborted, Some(reason)).await;
            return;
        }
    };
    // A destination may still hold a copy of these blobs waiting for the reaper (the object lived there before);
    // writing now would let the reaper delete the new copy. Wait for it instead.
    let dest_locations: std::collections::BTreeSet<(String, String)> = destinations
        .iter()
        .flat_map(|d| {
            rec.parts
                .iter()
                .map(move |p| (d.name().to_owned(), p.blob.clone()))
        })
        .collect();
    match strata
        .with_catalog(move |c| c.pending_garbage(&dest_locations))
        .await
    {
        Ok(p) if p.is_empty() => {}
        Ok(p) => {
            let reason = format!(
                "waiting for the reaper to delete {} old copies at the destination",
                p.len()
            );
            set_state(strata, task.id, MoveState::Planned, Some(reason)).await;
            return;
        }
        Err(e) => {
            set_state(
                strata,
                task.id,
                MoveState::Planned,
                Some(format!("catalog unavailable: {e}")),
            )
            .await;
            return;
        }
    }
    let sources = strata.replicas_by_latency(&rec.replicas);
    let _lease = strata
        .leases
        .acquire(rec.parts.iter().map(|p| p.blob.clone()).collect());

    if let Err(reason) = copy_and_verify(&sources, &destinations, &rec).await {
        cleanup(&destinations, &rec.parts).await;
        set_state(strata, task.id, MoveState::Aborted, Some(reason)).await;
        return;
    }
    hook(MoveState::Copying, &task).await;
    let Some(task) = set_state(strata, task.id, MoveState::Verified, None).await else {
        cleanup(&destinations, &rec.parts).await;
        return;
    };
    hook(MoveState::Verified, &task).await;

    let now = strata.clock.now_ms();
    let id = task.id;
    match strata.with_catalog(move |c| c.commit_move(id, now)).await {
        Ok(t) if t.state == MoveState::Committed => {
            tracing::info!(task = t.id, bucket = %t.bucket, key = %t.key, to = ?t.to, "move committed");
            hook(MoveState::Committed, &t).await;
        }
        Ok(t) => {
            tracing::info!(task = t.id, reason = ?t.reason, "move aborted at commit");
            cleanup(&destinations, &rec.parts).await;
        }
        Err(e) => {
            // The commit transaction did not happen: the copies are unreferenced.
            tracing::warn!(task = id, error = %e, "move commit failed");
            cleanup(&destinations, &rec.parts).await;
            set_state(
                strata,
                id,
                MoveState::Aborted,
                Some(format!("commit failed: {e}")),
            )
            .await;
        }
    }
}

/// Copies every part to every destination and verifies each copy, retrying transient failures.
async fn copy_and_verify(
    sources: &[Arc<Backend>],
    dests: &[Arc<Backend>],
    rec: &ObjectRecord,
) -> Result<(), String> {
    for dest in dests {
        for part in &rec.parts {
            let mut attempt = 0;
            loop {
                attempt += 1;
                let result = match copy_part(sources, dest, part).await {
                    Ok(()) => verify_part(dest, part).await,
                    Err(e) => Err(e),
                };
                match result {
                    Ok(()) => break,
                    Err(StepError::Fatal(m)) => return Err(m),
                    Err(StepError::Transient(m)) if attempt >= MAX_ATTEMPTS => {
                        return Err(format!("gave up after {attempt} attempts: {m}"));
                    }
                    Err(StepError::Transient(m)) => {
                        let wait = backoff(attempt);
                        tracing::warn!(backend = dest.name(), blob = %part.blob, attempt, ?wait, error = %m, "move step failed; retrying");
                        tokio::time::sleep(wait).await;
                    }
                }
            }
        }
    }
    Ok(())
}

/// Streams one part from the first source that can serve it into a new sealed blob on `dest`.
async fn copy_part(
    sources: &[Arc<Backend>],
    dest: &Backend,
    part: &PartRef,
) -> Result<(), StepError> {
    let mut last = String::from("no source replica");
    for src in sources {
        let mut stream = match src.read(&part.blob, part.size, 0..part.size).await {
            Ok(s) => s,
            Err(e) => {
                last = format!("read from {}: {e}", src.name());
                continue;
            }
        };
        let mut writer = dest
            .writer(&part.blob)
            .await
            .map_err(|e| StepError::Transient(format!("write to {}: {e}", dest.name())))?;
        let mut failed = None;
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(bytes) => {
                    if let Err(e) = writer.write(bytes).await {
                        failed = Some(format!("write to {}: {e}", dest.name()));
                        break;
                    }
                }
                Err(e) => {
                    failed = Some(format!("read from {}: {e}", src.name()));
                    break;
                }
            }
        }
        match failed {
            Some(m) => {
                writer.abort().await;
                last = m;
            }
            None => {
                return writer
                    .finish()
                    .await
                    .map(|_| ())
                    .map_err(|e| StepError::Transient(format!("finish on {}: {e}", dest.name())));
            }
        }
    }
    Err(StepError::Transient(last))
}

/// Reads the copy back and checks it hashes to the part's recorded blake3.
pub(crate) async fn verify_part(dest: &Backend, part: &PartRef) -> Result<(), StepError> {
    let mut stream = dest
        .read(&part.blob, part.size, 0..part.size)
        .await
        .map_err(|e| StepError::Transient(format!("read back from {}: {e}", dest.name())))?;
    let mut hasher = blake3::Hasher::new();
    let mut n = 0u64;
    while let Some(chunk) = stream.next().await {
        let bytes = chunk
            .map_err(|e| StepError::Transient(format!("read back from {}: {e}", dest.name())))?;
        n += bytes.len() as u64;
        hasher.update(&bytes);
    }
    let got = hasher.finalize().to_hex().to_string();
    if n != part.size || got != part.blake3 {
        return Err(StepError::Fatal(format!(
            "copy on {} does not verify: {n} bytes with blake3 {got}, expected {} bytes with {}",
            dest.name(),
            part.size,
            part.blake3
        )));
    }
    Ok(())
}

/// Deletes copies of an aborted move (they were never referenced).
async fn cleanup(dests: &[Arc<Backend>], parts: &[PartRef]) {
    for d in dests {
        for p in parts {
            if let Err(e) = d.delete(&p.blob).await {
                tracing::warn!(backend = d.name(), blob = %p.blob, error = %e, "cannot delete an aborted move's copy; start-up recovery will");
            }
        }
    }
}

/// Marks a committed task `SourceReleased` once none of its released blobs is still waiting in `pending` (the
/// garbage table's `(backend, blob)` pairs; `None` when it could not be read, and then nothing is marked).
async fn release_if_done(
    strata: &Core,
    task: &MoveTask,
    pending: Option<&HashSet<(String, String)>>,
) {
    let Some(pending) = pending else { return };
    if !task.released.iter().any(|r| pending.contains(r)) {
        set_state(strata, task.id, MoveState::SourceReleased, None).await;
    }
}

/// Start-up: tasks interrupted before their commit start over (their copies are unreferenced, so recovery's
/// orphan scan removes them).
pub fn reset_interrupted(catalog: &catalog::Catalog, now_ms: i64) -> catalog::Result<usize> {
    let mut n = 0;
    for t in catalog.moves(usize::MAX, true)? {
        if matches!(t.state, MoveState::Copying | MoveState::Verified) {
            catalog.set_move_state(
                t.id,
                MoveState::Planned,
                Some("interrupted by a restart".into()),
                now_ms,
            )?;
            n += 1;
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        for n in 1..20 {
            let d = backoff(n);
            assert!(d <= WORKER_BACKOFF.max_delay, "{n}: {d:?}");
            assert!(d >= WORKER_BACKOFF.base / 2);
        }
        // The cap for attempt 1 is the base; for attempt 6 it is 3.2 s: sample until one draw exceeds 1 s.
        assert!(backoff(1) <= WORKER_BACKOFF.base);
        assert!((0..200).any(|_| backoff(6) > Duration::from_secs(1)));
    }
}
