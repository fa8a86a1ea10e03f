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
//! Test hook, injected in-process: a [`MoverHandle::pausing_at`] handle makes the mover stop forever when a task
//! reaches that state (`Copying`: after the copies are written; `Verified`: before the commit; `Committed`:
//! before the release), so a test can inspect the node or kill the process there. Nothing here reads the
//! environment.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use backends::Backend;
use catalog::{MoveState, MoveTask, ObjectRecord, PartRef};
use tokio::sync::Notify;

use crate::blob_copy::{copy_verified, with_retries};
use crate::core::Core;

/// Tasks executed at once.
const CONCURRENCY: usize = 2;
/// Attempts per copy or verification step before the move is aborted.
const MAX_ATTEMPTS: u32 = 5;
/// Handle to wake the mover when new tasks are planned (and the mover's test hook).
#[derive(Clone, Default)]
pub struct MoverHandle {
    wake: Arc<Notify>,
    pause_at: Option<MoveState>,
}

impl MoverHandle {
    /// A handle whose mover stops forever when a task reaches `state` (`Copying`, `Verified` or `Committed`;
    /// any other state never pauses). For tests.
    pub fn pausing_at(state: MoveState) -> MoverHandle {
        MoverHandle {
            pause_at: Some(state),
            ..MoverHandle::default()
        }
    }

    pub fn wake(&self) {
        self.wake.notify_one();
    }

    async fn hook(&self, state: MoveState, task: &MoveTask) {
        if self.pause_at == Some(state) {
            tracing::warn!(
                task = task.id,
                state = state.as_str(),
                "mover paused by its test hook"
            );
            std::future::pending::<()>().await;
        }
    }
}

/// Runs forever, executing planned tasks and releasing committed ones.
pub async fn run(strata: Arc<Core>, handle: MoverHandle) {
    let in_flight: Arc<std::sync::Mutex<HashSet<u64>>> = Arc::default();
    let permits = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
    // Tasks in flight belong to this loop: stopping the mover (dropping this future) aborts them too, which
    // leaves what a crash would (recovery resets them to `Planned`).
    let mut running = tokio::task::JoinSet::new();
    loop {
        while running.try_join_next().is_some() {}
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
                    let handle = handle.clone();
                    running.spawn(async move {
                        let id = task.id;
                        execute(&strata, &handle, task).await;
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
pub async fn execute(strata: &Arc<Core>, handle: &MoverHandle, task: MoveTask) {
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
    // The copies are made (and paid for) whether or not the commit wins; the first source is the one read
    // unless it failed.
    if let Some(from) = sources.first() {
        for d in &destinations {
            for p in &rec.parts {
                strata.bill.copied(from.profile(), d.profile(), p.size);
            }
        }
    }
    handle.hook(MoveState::Copying, &task).await;
    let Some(task) = set_state(strata, task.id, MoveState::Verified, None).await else {
        cleanup(&destinations, &rec.parts).await;
        return;
    };
    handle.hook(MoveState::Verified, &task).await;

    let now = strata.clock.now_ms();
    let id = task.id;
    match strata.with_catalog(move |c| c.commit_move(id, now)).await {
        Ok(t) if t.state == MoveState::Committed => {
            tracing::info!(task = t.id, bucket = %t.bucket, key = %t.key, to = ?t.to, "move committed");
            for left in t.from.iter().filter(|b| !t.to.contains(b)) {
                if let Some(b) = strata.backend(left) {
                    strata
                        .bill
                        .removed(b.profile(), rec.size, rec.placed_ms(), now);
                }
            }
            publish_move(
                strata,
                &t,
                200,
                format!("{} -> {}", t.from.join(","), t.to.join(",")),
            );
            handle.hook(MoveState::Committed, &t).await;
        }
        Ok(t) => {
            tracing::info!(task = t.id, reason = ?t.reason, "move aborted at commit");
            publish_move(strata, &t, 409, t.reason.clone().unwrap_or_default());
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

/// The event of a move's commit (200) or abort at commit (409), when events are on.
fn publish_move(strata: &Core, task: &catalog::MoveTask, status: u16, detail: String) {
    if let Some(sink) = &strata.events {
        let now = strata.clock.now_ms();
        sink.publish(crate::events::Event {
            bucket: task.bucket.clone(),
            key: task.key.clone(),
            version: Some(task.generation),
            size: task.bytes,
            op: "Move".to_owned(),
            status,
            latency_ms: (now - task.created_ms).max(0) as f64,
            node: sink.node.clone(),
            time_ms: now,
            detail: Some(detail),
        });
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
            with_retries("move", dest.name(), &part.blob, MAX_ATTEMPTS, |_| {
                copy_verified(sources, dest, part)
            })
            .await?;
        }
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
pub fn reset_interrupted(catalog: &dyn catalog::Catalog, now_ms: i64) -> catalog::Result<usize> {
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
