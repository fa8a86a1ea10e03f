//! Recovery after a crash: interrupted moves, orphan blobs, queued garbage.
//!
//! The catalog is consistent by construction (its transactions survive kill -9). What a crash can leave behind
//! are blobs without a catalog record: a PUT that wrote its replicas but died before its commit, a blob whose
//! deletion was queued but not yet done, a move's copy that was never committed.
//!
//! * Embedded catalog ([`recover`], before the node serves): this node is alone, so with no request in flight
//!   every blob that the catalog does not reference is an orphan: delete it. Then empty the garbage queue (no
//!   reader can hold a lease yet).
//! * Shared catalog ([`take_over`], when a node becomes the leader): other nodes are serving, and a blob they are
//!   writing right now is not referenced yet. Only blobs (and local staging files) older than
//!   `[cluster] orphan_min_age_secs` (an hour) are orphans; the garbage queue is left to the reaper and its grace
//!   period.

use futures::StreamExt;

use crate::core::Core;

/// What recovery found and did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct RecoveryReport {
    pub moves_restarted: u64,
    pub blobs_seen: u64,
    pub staging_files_removed: u64,
    pub orphans_removed: u64,
    pub garbage_removed: u64,
    pub errors: u64,
}

/// Recovery of a node with the embedded catalog, before it serves. Nothing with a shared catalog: there the
/// leader runs [`take_over`].
pub async fn recover(strata: &Core) -> anyhow::Result<RecoveryReport> {
    if strata.shared_catalog {
        return Ok(RecoveryReport::default());
    }
    collect(strata, None).await
}

/// Recovery by a node that just became the leader of a cluster: restarts the moves the previous leader left
/// and collects orphans older than `[cluster] orphan_min_age_secs`. Nothing with the embedded catalog ([`recover`] did it).
pub async fn take_over(strata: &Core) -> anyhow::Result<RecoveryReport> {
    if !strata.shared_catalog {
        return Ok(RecoveryReport::default());
    }
    let min_age = std::time::Duration::from_secs(strata.cluster_settings.orphan_min_age_secs);
    collect(strata, Some(min_age)).await
}

/// `min_age`: `None` when this node is alone (everything unreferenced is an orphan, the garbage queue is
/// emptied); else only what is older is touched, and the garbage queue is left alone.
async fn collect(
    strata: &Core,
    min_age: Option<std::time::Duration>,
) -> anyhow::Result<RecoveryReport> {
    let mut report = RecoveryReport::default();
    let cutoff_ms =
        min_age.map(|age| crate::clock::Clock::system().now_ms() - age.as_millis() as i64);
    // Moves interrupted before their commit start over; their copies are orphans, collected below.
    let cat = strata.catalog.clone();
    let now = strata.clock.now_ms();
    report.moves_restarted =
        tokio::task::spawn_blocking(move || crate::mover::reset_interrupted(&*cat, now)).await??
            as u64;
    // Garbage first: it is referenced by the garbage table, so the orphan scan would keep it.
    while cutoff_ms.is_none() {
        let cat = strata.catalog.clone();
        let batch = tokio::task::spawn_blocking(move || cat.garbage(1024)).await??;
        if batch.is_empty() {
            break;
        }
        let mut done = Vec::new();
        for g in batch {
            let ok = match strata.backend(&g.backend) {
                Some(b) => b.delete(&g.blob).await.is_ok(),
                None => true,
            };
            if ok {
                report.garbage_removed += 1;
                done.push(g);
            } else {
                report.errors += 1;
            }
        }
        if done.is_empty() {
            break; // every deletion failed: try again at the next reaper pass
        }
        let cat = strata.catalog.clone();
        tokio::task::spawn_blocking(move || cat.remove_garbage(&done)).await??;
    }
    for root in &strata.local_roots {
        report.staging_files_removed += remove_staging_files(root, cutoff_ms);
    }
    let cat = strata.catalog.clone();
    let referenced = tokio::task::spawn_blocking(move || cat.referenced_blobs()).await??;
    for backend in &strata.backends {
        let mut listing = backend.list("blobs/");
        let mut orphans = Vec::new();
        while let Some(item) = listing.next().await {
            match item {
                Ok(info) => {
                    report.blobs_seen += 1;
                    let old_enough = cutoff_ms.is_none_or(|c| info.last_modified_ms < c);
                    if old_enough
                        && !referenced.contains(&(backend.name().to_owned(), info.blob.clone()))
                    {
                        orphans.push(info.blob);
                    }
                }
                Err(e) => {
                    report.errors += 1;
                    tracing::warn!(backend = backend.name(), error = %e, "cannot list backend during recovery");
                    break;
                }
            }
        }
        for blob in orphans {
            match backend.delete(&blob).await {
                Ok(()) => report.orphans_removed += 1,
                Err(e) => {
                    report.errors += 1;
                    tracing::warn!(backend = backend.name(), blob, error = %e, "cannot remove orphan blob");
                }
            }
        }
    }
    Ok(report)
}

/// object_store's local store writes an upload to `NAME#<digits>` and renames it on completion; a crash leaves the
/// staging file behind, invisible to listings. Removes them all (nothing is being written during recovery), or
/// with `cutoff_ms` only those last modified before it (other nodes may be writing).
fn remove_staging_files(root: &std::path::Path, cutoff_ms: Option<i64>) -> u64 {
    let mut removed = 0;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(path),
                Ok(t)
                    if t.is_file()
                        && is_staging_name(&entry.file_name().to_string_lossy())
                        && cutoff_ms.is_none_or(|c| modified_ms(&entry) < c) =>
                {
                    match std::fs::remove_file(&path) {
                        Ok(()) => removed += 1,
                        Err(e) => {
                            tracing::warn!(path = %path.display(), error = %e, "cannot remove staging file")
                        }
                    }
                }
                _ => {}
            }
        }
    }
    removed
}

fn is_staging_name(name: &str) -> bool {
    matches!(name.rsplit_once('#'), Some((_, suffix)) if !suffix.is_empty() && suffix.bytes().all(|b| b.is_ascii_digit()))
}

/// A directory entry's modification time in ms since the epoch (`i64::MAX`, i.e. "new", when unknown).
fn modified_ms(entry: &std::fs::DirEntry) -> i64 {
    entry
        .metadata()
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(i64::MAX, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staging_files_are_found_and_removed() {
        assert!(is_staging_name("abc#12"));
        assert!(!is_staging_name("abc#x1"));
        assert!(!is_staging_name("abc"));
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("blobs/ab")).unwrap();
        std::fs::write(dir.path().join("blobs/ab/blob1#3"), b"partial").unwrap();
        std::fs::write(dir.path().join("blobs/ab/blob2"), b"done").unwrap();
        assert_eq!(remove_staging_files(dir.path(), None), 1);
        assert!(dir.path().join("blobs/ab/blob2").exists());
        assert!(!dir.path().join("blobs/ab/blob1#3").exists());
    }
}
