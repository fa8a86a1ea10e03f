//! Deferred deletion of blobs that the catalog no longer references.
//!
//! An overwrite, delete or abort moves the old blobs into the catalog's garbage table in the same transaction
//! that unlinks them. The reaper deletes them from their backends later, once (a) a grace period has passed
//! since they became garbage and (b) no reader holds a [`ReadLease`] on them — so a GET that looked the object up
//! before the overwrite still streams the old content to the end.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::core::Core;

/// Blob names currently being read, with a count of readers.
#[derive(Default, Debug)]
pub struct ReadLeases {
    active: Mutex<HashMap<String, usize>>,
}

/// Holds blobs open for reading until dropped.
pub struct ReadLease {
    leases: Arc<ReadLeases>,
    blobs: Vec<String>,
}

impl ReadLeases {
    /// Marks `blobs` as being read until the returned lease is dropped.
    pub fn acquire(self: &Arc<Self>, blobs: Vec<String>) -> ReadLease {
        let mut active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        for b in &blobs {
            *active.entry(b.clone()).or_insert(0) += 1;
        }
        ReadLease {
            leases: self.clone(),
            blobs,
        }
    }

    pub fn is_leased(&self, blob: &str) -> bool {
        self.active
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(blob)
    }

    pub fn active_count(&self) -> usize {
        self.active.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

impl Drop for ReadLease {
    fn drop(&mut self) {
        let mut active = self.leases.active.lock().unwrap_or_else(|e| e.into_inner());
        for b in &self.blobs {
            if let Some(n) = active.get_mut(b) {
                *n -= 1;
                if *n == 0 {
                    active.remove(b);
                }
            }
        }
    }
}

/// Runs forever: every `period`, deletes garbage older than `grace` that nobody reads.
pub async fn run(strata: Arc<Core>, period: Duration, grace: Duration) {
    let mut tick = tokio::time::interval(period);
    loop {
        tick.tick().await;
        if let Err(e) = reap_once(&strata, grace).await {
            tracing::warn!(error = %e, "garbage collection pass failed");
        }
    }
}

/// One pass; returns how many blobs were deleted.
pub async fn reap_once(strata: &Core, grace: Duration) -> anyhow::Result<usize> {
    let cat = strata.catalog.clone();
    let garbage = tokio::task::spawn_blocking(move || cat.garbage(1024)).await??;
    // The catalog stamps garbage with wall-clock time, so the grace period is measured on the wall clock too
    // (the gateway's clock may be moved forward in tests).
    let now = crate::clock::Clock::system().now_ms();
    let mut done = Vec::new();
    for g in garbage {
        if now - g.since_ms < grace.as_millis() as i64 || strata.leases.is_leased(&g.blob) {
            continue;
        }
        match strata.backend(&g.backend) {
            Some(b) => match b.delete(&g.blob).await {
                Ok(()) => done.push(g),
                Err(e) => {
                    tracing::warn!(backend = %g.backend, blob = %g.blob, error = %e, "cannot delete garbage blob")
                }
            },
            // A backend removed from the config: nothing left to delete there.
            None => done.push(g),
        }
    }
    let n = done.len();
    if n > 0 {
        let cat = strata.catalog.clone();
        tokio::task::spawn_blocking(move || cat.remove_garbage(&done)).await??;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_count_readers_and_release_on_drop() {
        let leases = Arc::new(ReadLeases::default());
        let a = leases.acquire(vec!["b1".into(), "b2".into()]);
        let b = leases.acquire(vec!["b1".into()]);
        assert!(leases.is_leased("b1") && leases.is_leased("b2"));
        drop(a);
        assert!(leases.is_leased("b1"));
        assert!(!leases.is_leased("b2"));
        drop(b);
        assert_eq!(leases.active_count(), 0);
    }
}
