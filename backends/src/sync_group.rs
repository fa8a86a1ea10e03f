//! Group durability for local backends: one `syncfs(2)` makes every blob written before it durable, so writers
//! that finish together share one flush instead of paying two fsyncs each (the file and its directory, as
//! `LocalFileSystem::with_fsync` does).
//!
//! # Contract
//! [`SyncGroup::sync`] returns `Ok` only after a `syncfs` that *started* after the call began has completed:
//! everything the caller wrote (and renamed into place) before calling is then on disk. Concurrent callers
//! queue behind one running flush and are covered by the next one (leader/follower, like the catalog's group
//! commit). A failed flush fails its leader; the followers it would have covered start another.

use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

/// Shares `syncfs` calls among the writers of one file system (see the module docs).
#[derive(Debug)]
pub struct SyncGroup {
    root: std::path::PathBuf,
    dir: File,
    state: Mutex<State>,
    done: Notify,
}

#[derive(Debug, Default)]
struct State {
    /// Tickets handed out (one per `sync` call).
    issued: u64,
    /// Every ticket up to this one is durable.
    synced: u64,
    /// A flush is running.
    running: bool,
}

/// Clears `running` and wakes the followers when a leader stops, whether it finished or was cancelled.
struct Leading<'a> {
    group: &'a SyncGroup,
    covered: Option<u64>,
}

impl Drop for Leading<'_> {
    fn drop(&mut self) {
        let mut s = self.group.lock();
        s.running = false;
        if let Some(t) = self.covered {
            s.synced = s.synced.max(t);
        }
        drop(s);
        self.group.done.notify_waiters();
    }
}

impl SyncGroup {
    /// A group flushing the file system that holds `root` (a directory, opened once).
    pub fn open(root: &Path) -> io::Result<SyncGroup> {
        Ok(SyncGroup {
            root: root.to_path_buf(),
            dir: File::open(root)?,
            state: Mutex::new(State::default()),
            done: Notify::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Plain counters: a poisoned lock is still consistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Returns once everything written before the call is durable (see the module docs).
    pub async fn sync(self: &Arc<Self>) -> io::Result<()> {
        let ticket = {
            let mut s = self.lock();
            s.issued += 1;
            s.issued
        };
        loop {
            let notified = self.done.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let target = {
                let mut s = self.lock();
                if s.synced >= ticket {
                    return Ok(());
                }
                if s.running {
                    None
                } else {
                    s.running = true;
                    Some(s.issued)
                }
            };
            let Some(target) = target else {
                notified.await;
                continue;
            };
            let mut leading = Leading {
                group: self,
                covered: None,
            };
            let me = Arc::clone(self);
            let result = tokio::task::spawn_blocking(move || me.flush())
                .await
                .unwrap_or_else(|e| Err(io::Error::other(e)));
            if result.is_ok() {
                leading.covered = Some(target);
            }
            drop(leading);
            return result;
        }
    }

    /// Makes the one file at `relative` (under the root) durable: its contents, then its directory entry. For
    /// large blobs, where a `syncfs` would also flush every other writer's half-written data.
    pub async fn sync_file(&self, relative: &str) -> io::Result<()> {
        let file = self.root.join(relative);
        tokio::task::spawn_blocking(move || {
            File::open(&file)?.sync_all()?;
            match file.parent() {
                Some(dir) => File::open(dir)?.sync_all(),
                None => Ok(()),
            }
        })
        .await
        .unwrap_or_else(|e| Err(io::Error::other(e)))
    }

    fn flush(&self) -> io::Result<()> {
        rustix::fs::syncfs(&self.dir).map_err(io::Error::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writers_share_flushes_and_all_return() {
        let dir = tempfile::tempdir().expect("tempdir");
        let group = Arc::new(SyncGroup::open(dir.path()).expect("open"));
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..64 {
            let (group, path) = (group.clone(), dir.path().join(format!("f{i}")));
            tasks.spawn(async move {
                std::fs::write(&path, b"blob").expect("write");
                group.sync().await.expect("sync");
            });
        }
        while let Some(r) = tasks.join_next().await {
            r.expect("task");
        }
        let s = group.lock();
        assert_eq!(s.issued, 64);
        assert_eq!(s.synced, 64, "every ticket covered");
        assert!(!s.running);
    }

    #[tokio::test]
    async fn one_large_file_syncs_alone_and_a_missing_one_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let group = SyncGroup::open(dir.path()).expect("open");
        std::fs::create_dir_all(dir.path().join("blobs/ab")).expect("mkdir");
        std::fs::write(dir.path().join("blobs/ab/big"), vec![7u8; 1 << 20]).expect("write");
        group.sync_file("blobs/ab/big").await.expect("sync_file");
        let err = group
            .sync_file("blobs/ab/missing")
            .await
            .expect_err("missing");
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        // A file sync is no group flush: no ticket was issued or covered.
        let s = group.lock();
        assert_eq!((s.issued, s.synced), (0, 0));
    }

    #[tokio::test]
    async fn a_cancelled_leader_does_not_block_the_others() {
        let dir = tempfile::tempdir().expect("tempdir");
        let group = Arc::new(SyncGroup::open(dir.path()).expect("open"));
        // Start a flush and drop it at once: the next caller must still get through.
        let first = group.clone();
        let h = tokio::spawn(async move { first.sync().await });
        h.abort();
        let _ = h.await;
        tokio::time::timeout(std::time::Duration::from_secs(10), group.sync())
            .await
            .expect("not blocked")
            .expect("sync");
        assert!(!group.lock().running);
    }
}
