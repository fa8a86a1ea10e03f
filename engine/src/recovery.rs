//! Start-up recovery, run before the gateway accepts requests.
//!
//! The catalog is consistent by construction (redb transactions survive kill -9). What a crash can leave behind
//! are blobs without a catalog record: a PUT that wrote its replicas but died before its commit, a blob whose
//! deletion was queued but not yet done. With no request in flight, every blob that the catalog does not
//! reference is an orphan: delete it. Then empty the garbage queue (no reader can hold a lease yet).

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

pub async fn recover(strata: &Core) -> anyhow::Result<RecoveryReport> {
    let mut report = RecoveryReport::default();
    // Moves interrupted before their commit start over; their copies are orphans, collected below.
    let cat = strata.catalog.clone();
    let now = strata.clock.now_ms();
    report.moves_restarted =
        tokio::task::spawn_blocking(move || crate::mover::reset_interrupted(&*cat, now)).await??
            as u64;
    // Garbage first: it is referenced by the garbage table, so the orphan scan would keep it.
    loop {
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
        report.staging_files_removed += remove_staging_files(root);
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
                    if !referenced.contains(&(backend.name().to_owned(), info.blob.clone())) {
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
/// staging file behind, invisible to listings. Removes them all (nothing is being written during recovery).
fn remove_staging_files(root: &std::path::Path) -> u64 {
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
                Ok(t) if t.is_file() && is_staging_name(&entry.file_name().to_string_lossy()) => {
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
        assert_eq!(remove_staging_files(dir.path()), 1);
        assert!(dir.path().join("blobs/ab/blob2").exists());
        assert!(!dir.path().join("blobs/ab/blob1#3").exists());
    }
}
