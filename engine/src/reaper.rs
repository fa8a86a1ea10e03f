//! Deferred deletion of blobs that the catalog no longer references.
//!
//! An overwrite, delete or abort moves the old blobs into the catalog's garbage table in the same transaction
//! that unlinks them. The reaper deletes them from their backends later, once (a) a grace period has passed
//! since they became garbage and (b) no reader holds a [`ReadLease`] on them — so a GET that looked the object up
//! before the overwrite still streams the old content to the end.
//!
//! With a shared catalog the leader's reaper cannot see the other nodes' leases. Each node's heartbeat says when
//! the oldest read it was streaming started ([`ReadLeases::oldest_started_ms`]), as of a time of its own clock
//! (`NodeRecord::oldest_read_ms`, `reads_as_of_ms`). A blob that became garbage before every other node's report
//! time, and before each one's oldest read by more than [`CLOCK_SKEW_MARGIN`], is read by none of them: a read
//! that started later looked the object up after the overwrite. So it goes after the short grace; without such
//! reports (a node silent, or of an older build) it waits `[cluster] garbage_grace_secs` as before.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use catalog::NodeRecord;

use crate::clock::Clock;
use crate::core::Core;

/// How far the nodes' wall clocks may disagree (they run NTP): a blob's garbage time is compared with other
/// nodes' read times only with this much to spare.
pub const CLOCK_SKEW_MARGIN: Duration = Duration::from_secs(5);

/// Blob names currently being read, with a count of readers, and when the reads still running started.
#[derive(Default, Debug)]
pub struct ReadLeases {
    active: Mutex<Active>,
}

#[derive(Default, Debug)]
struct Active {
    blobs: HashMap<String, usize>,
    /// Start times (wall clock, ms) of the leases held, with a count of each.
    starts: BTreeMap<i64, usize>,
}

/// Holds blobs open for reading until dropped.
pub struct ReadLease {
    leases: Arc<ReadLeases>,
    blobs: Vec<String>,
    started_ms: i64,
}

impl ReadLeases {
    /// Marks `blobs` as being read until the returned lease is dropped.
    pub fn acquire(self: &Arc<Self>, blobs: Vec<String>) -> ReadLease {
        self.acquire_since(blobs, i64::MAX)
    }

    /// [`ReadLeases::acquire`] for a read whose object was looked up at `looked_up_ms` (the wall clock, ms): the
    /// lease counts as taken then, or now if that is earlier, since the lookup is what saw the blobs.
    pub fn acquire_since(self: &Arc<Self>, blobs: Vec<String>, looked_up_ms: i64) -> ReadLease {
        let started_ms = Clock::system().now_ms().min(looked_up_ms);
        let mut active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        for b in &blobs {
            *active.blobs.entry(b.clone()).or_insert(0) += 1;
        }
        *active.starts.entry(started_ms).or_insert(0) += 1;
        ReadLease {
            leases: self.clone(),
            blobs,
            started_ms,
        }
    }

    /// When the oldest lease still held was taken (the wall clock, ms); `None` when none is.
    pub fn oldest_started_ms(&self) -> Option<i64> {
        let active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        active.starts.keys().next().copied()
    }

    pub fn is_leased(&self, blob: &str) -> bool {
        self.active
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .blobs
            .contains_key(blob)
    }

    pub fn active_count(&self) -> usize {
        self.active
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .blobs
            .len()
    }
}

impl Drop for ReadLease {
    fn drop(&mut self) {
        let mut active = self.leases.active.lock().unwrap_or_else(|e| e.into_inner());
        for b in &self.blobs {
            if let Some(n) = active.blobs.get_mut(b) {
                *n -= 1;
                if *n == 0 {
                    active.blobs.remove(b);
                }
            }
        }
        if let Some(n) = active.starts.get_mut(&self.started_ms) {
            *n -= 1;
            if *n == 0 {
                active.starts.remove(&self.started_ms);
            }
        }
    }
}

/// How long garbage waits before the reaper may delete it.
#[derive(Clone, Copy, Debug)]
pub struct Grace {
    /// For every blob: readers on this node that looked the object up just before the change get this long to
    /// open what they read.
    pub local: Duration,
    /// With a shared catalog: the wait for a blob the other nodes' reports do not clear
    /// (`[cluster] garbage_grace_secs`); `None` with the embedded catalog (this node is alone).
    pub cluster: Option<Duration>,
}

/// The garbage time (the writer's wall clock, ms) before which no other node reads anything, from their
/// heartbeats (`nodes`, read at `catalog_now_ms` on the catalog's clock): the earliest over every node but
/// `me` whose heartbeat is younger than `silent_after` of its report time and its oldest read, less
/// [`CLOCK_SKEW_MARGIN`]. A node that reported no read time (an older build) clears nothing: `i64::MIN`. Nodes
/// silent longer than `silent_after` are not waited for (the cluster grace covers them).
pub fn others_read_cutoff_ms(
    nodes: &[NodeRecord],
    me: &str,
    catalog_now_ms: i64,
    silent_after: Duration,
) -> i64 {
    let silent_ms = silent_after.as_millis() as i64;
    nodes
        .iter()
        .filter(|n| n.node != me && catalog_now_ms - n.heartbeat_ms <= silent_ms)
        .map(|n| {
            if n.reads_as_of_ms <= 0 {
                i64::MIN
            } else {
                n.reads_as_of_ms.min(n.oldest_read_ms.unwrap_or(i64::MAX))
            }
        })
        .min()
        .map_or(i64::MAX, |c| {
            c.saturating_sub(CLOCK_SKEW_MARGIN.as_millis() as i64)
        })
}

/// Runs forever: every `period`, deletes garbage that nobody reads (see [`reap_once`]).
pub async fn run(strata: Arc<Core>, period: Duration, grace: Grace) {
    let mut tick = tokio::time::interval(period);
    loop {
        tick.tick().await;
        if let Err(e) = reap_once(&strata, grace).await {
            tracing::warn!(error = %e, "garbage collection pass failed");
        }
    }
}

/// One pass; returns how many blobs were deleted. A garbage blob goes once no reader on this node leases it,
/// `grace.local` has passed since it became garbage, and, with a shared catalog, either every other node's
/// heartbeat clears it ([`others_read_cutoff_ms`]) or `grace.cluster` has passed too.
pub async fn reap_once(strata: &Core, grace: Grace) -> anyhow::Result<usize> {
    let cat = strata.catalog.clone();
    let garbage = tokio::task::spawn_blocking(move || cat.garbage(1024)).await??;
    if garbage.is_empty() {
        return Ok(0);
    }
    let cutoff = match grace.cluster {
        None => i64::MAX,
        Some(cluster) => {
            let cat = strata.catalog.clone();
            let (nodes, catalog_now) = tokio::task::spawn_blocking(move || cat.nodes()).await??;
            others_read_cutoff_ms(&nodes, &strata.leadership.node_id, catalog_now, cluster)
        }
    };
    // The catalog stamps garbage with wall-clock time, so the grace period is measured on the wall clock too
    // (the gateway's clock may be moved forward in tests).
    let now = Clock::system().now_ms();
    let (local_ms, cluster_ms) = (
        grace.local.as_millis() as i64,
        grace.cluster.map_or(0, |c| c.as_millis() as i64),
    );
    let mut done = Vec::new();
    for g in garbage {
        let age = now - g.since_ms;
        let others_done = g.since_ms < cutoff || age >= cluster_ms;
        if age < local_ms || !others_done || strata.leases.is_leased(&g.blob) {
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
        assert_eq!(leases.oldest_started_ms(), None);
    }

    #[test]
    fn the_oldest_read_is_the_earliest_lease_still_held() {
        let leases = Arc::new(ReadLeases::default());
        let first = leases.acquire(vec!["a".into()]);
        let t = leases.oldest_started_ms().expect("a read");
        std::thread::sleep(Duration::from_millis(5));
        let second = leases.acquire(vec!["b".into()]);
        assert_eq!(leases.oldest_started_ms(), Some(t));
        drop(first);
        assert!(leases.oldest_started_ms().expect("the second") > t);
        drop(second);
        assert_eq!(leases.oldest_started_ms(), None);
    }

    fn node(id: &str, heartbeat_ms: i64, as_of: i64, oldest: Option<i64>) -> NodeRecord {
        NodeRecord {
            node: id.into(),
            started_ms: 0,
            heartbeat_ms,
            s3_addr: String::new(),
            version: String::new(),
            queued_access_events: 0,
            new_objects: None,
            reads_as_of_ms: as_of,
            oldest_read_ms: oldest,
        }
    }

    #[test]
    fn other_nodes_clear_garbage_older_than_their_reports_and_their_oldest_reads() {
        let margin = CLOCK_SKEW_MARGIN.as_millis() as i64;
        let grace = Duration::from_secs(600);
        let now = 1_000_000;
        // Alone: nothing to wait for.
        assert_eq!(
            others_read_cutoff_ms(&[node("me", now, 1, None)], "me", now, grace),
            i64::MAX
        );
        // A node idle as of its report clears what became garbage before it; one streaming a read since 500_000
        // only what became garbage before that read started.
        let idle = node("b", now - 2_000, 990_000, None);
        let reading = node("c", now - 1_000, 995_000, Some(500_000));
        assert_eq!(
            others_read_cutoff_ms(std::slice::from_ref(&idle), "me", now, grace),
            990_000 - margin
        );
        assert_eq!(
            others_read_cutoff_ms(&[idle.clone(), reading], "me", now, grace),
            500_000 - margin
        );
        // A node of an older build (no report) clears nothing; a node silent past the grace is not waited for.
        assert_eq!(
            others_read_cutoff_ms(&[idle.clone(), node("old", now, 0, None)], "me", now, grace),
            i64::MIN
        );
        let silent = node("gone", now - 700_000, 100, Some(50));
        assert_eq!(
            others_read_cutoff_ms(&[idle, silent], "me", now, grace),
            990_000 - margin
        );
    }
}
