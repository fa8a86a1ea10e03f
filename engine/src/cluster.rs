//! Nodes and leadership: which node runs the work that must run once per catalog.
//!
//! Every node sends a heartbeat ([`catalog::NodeRecord`]) to the catalog every [`HEARTBEAT`], and tries to
//! take or renew the lease [`LEADER_LEASE`] for [`LEASE_TTL`]. The node holding it is the leader: it alone
//! runs the mover, the planner, the reaper, the scrubber and the re-sealer (the *singleton* workers), and on
//! taking the lease it first finishes what a previous leader may have left (interrupted moves, orphan blobs:
//! [`crate::recovery::take_over`]). A node that fails to renew (lease lost, catalog unreachable) stops its
//! singleton workers at once; a stopped worker leaves what a crash would, which the move protocol is built for.
//! A leader killed with `kill -9` is replaced within [`LEASE_TTL`] + [`HEARTBEAT`].
//!
//! With the embedded catalog the node is alone and takes the lease at its first heartbeat.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use catalog::NodeRecord;

use crate::core::Core;

/// The `[cluster]` config section: what differs when nodes share a catalog.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterSettings {
    /// A blob no record references is an orphan only once it is this old (another node may be writing it).
    pub orphan_min_age_secs: u64,
    /// How long an overwritten or deleted blob stays readable when the other nodes' heartbeats do not clear it
    /// (see [`crate::reaper`]): a node silent for longer is not waited for, and a node that does not report its
    /// reads (an older build) holds every blob this long.
    pub garbage_grace_secs: u64,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        ClusterSettings {
            orphan_min_age_secs: 3600,
            garbage_grace_secs: 600,
        }
    }
}

/// The name of the leader's lease in the catalog.
pub const LEADER_LEASE: &str = "leader";
/// How long a lease lasts without renewal.
pub const LEASE_TTL: Duration = Duration::from_secs(15);
/// How often a node sends its heartbeat and renews (or tries to take) the lease.
pub const HEARTBEAT: Duration = Duration::from_secs(3);

/// This node's identity and whether it leads now.
#[derive(Debug)]
pub struct Leadership {
    /// Stable across restarts (kept in the data directory).
    pub node_id: String,
    pub started_ms: i64,
    leader: AtomicBool,
}

impl Leadership {
    /// The node id stored in `data_dir/node-id`, created on first start.
    pub fn open(data_dir: &Path, started_ms: i64) -> anyhow::Result<Leadership> {
        let path = data_dir.join("node-id");
        let node_id = match std::fs::read_to_string(&path) {
            Ok(id) if !id.trim().is_empty() => id.trim().to_owned(),
            _ => {
                let id = format!("node-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
                std::fs::write(&path, &id)
                    .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
                id
            }
        };
        Ok(Leadership {
            node_id,
            started_ms,
            leader: AtomicBool::new(false),
        })
    }

    /// Whether this node held the leader's lease at its last heartbeat.
    pub fn is_leader(&self) -> bool {
        self.leader.load(Ordering::Acquire)
    }
}

/// Runs forever: heartbeats and the lease. `on_change(true)` runs when this node becomes the leader (and must
/// start the singleton workers), `on_change(false)` when it stops being the leader (and must stop them).
pub async fn run<F, Fut>(strata: Arc<Core>, s3_addr: String, mut on_change: F)
where
    F: FnMut(bool) -> Fut + Send,
    Fut: std::future::Future<Output = ()> + Send,
{
    let mut tick = tokio::time::interval(HEARTBEAT);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let leads = beat(&strata, &s3_addr).await;
        let led = strata.leadership.leader.swap(leads, Ordering::AcqRel);
        if leads != led {
            if leads {
                tracing::info!(node = %strata.leadership.node_id, "this node is now the leader");
            } else {
                tracing::warn!(node = %strata.leadership.node_id, "this node is no longer the leader");
            }
            on_change(leads).await;
        }
    }
}

/// One heartbeat and lease renewal; whether this node holds the lease now.
async fn beat(strata: &Core, s3_addr: &str) -> bool {
    let node = NodeRecord {
        node: strata.leadership.node_id.clone(),
        started_ms: strata.leadership.started_ms,
        heartbeat_ms: 0,
        s3_addr: s3_addr.to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        queued_access_events: strata.recorder.pending() as u64,
        new_objects: strata.new_objects.advice(),
        // The report time first: a read started before it is still held when the oldest is taken, or is done.
        reads_as_of_ms: crate::clock::Clock::system().now_ms(),
        oldest_read_ms: None,
    };
    let node = NodeRecord {
        oldest_read_ms: strata.leases.oldest_started_ms(),
        ..node
    };
    let id = node.node.clone();
    let ttl = LEASE_TTL.as_millis() as i64;
    let shared = strata.shared_catalog;
    let outcome = strata
        .with_catalog(move |c| {
            c.heartbeat(node)?;
            let lease = c.acquire_lease(LEADER_LEASE, &id, ttl)?;
            // A follower reads the leader's published advice on where new objects go.
            let leaders_advice = if shared && lease.is_none() {
                let view = ClusterView::read(c)?;
                view.leader_record().and_then(|n| n.new_objects.clone())
            } else {
                None
            };
            Ok((lease, leaders_advice))
        })
        .await;
    if strata.shared_catalog {
        // Adopt keys another node added (a rotation there): new blobs here are sealed with the new active key too.
        let backends = strata.backends.clone();
        let refreshed = tokio::task::spawn_blocking(move || {
            for b in &backends {
                match b.refresh_keys() {
                    Ok(true) => tracing::info!(backend = b.name(), active = b.active_key_id(), "adopted the cluster's rotated keyring"),
                    Ok(false) => {}
                    Err(e) => tracing::warn!(backend = b.name(), error = %e, "cannot reload the shared keyring"),
                }
            }
        })
        .await;
        if let Err(e) = refreshed {
            tracing::warn!(error = %e, "keyring refresh task failed");
        }
    }
    match outcome {
        Ok((lease, leaders_advice)) => {
            if let Some(advice) = leaders_advice
                && strata.new_objects.advice().as_ref() != Some(&advice)
            {
                tracing::info!(
                    ?advice,
                    "adopted the leader's advice on where new objects go"
                );
                strata.new_objects.adopt(&advice);
            }
            lease.is_some()
        }
        Err(e) => {
            tracing::warn!(error = %e, "heartbeat failed: this node does not lead until the catalog answers");
            false
        }
    }
}

/// Gives the lease up (at shutdown), so another node takes over at its next heartbeat instead of after
/// [`LEASE_TTL`].
pub async fn resign(strata: &Core) {
    if !strata.leadership.leader.swap(false, Ordering::AcqRel) {
        return;
    }
    let id = strata.leadership.node_id.clone();
    if let Err(e) = strata
        .with_catalog(move |c| c.release_lease(LEADER_LEASE, &id))
        .await
    {
        tracing::warn!(error = %e, "cannot release the leader's lease; it expires on its own");
    }
}

/// A node's view of the cluster for `/admin/cluster`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ClusterStatus {
    pub node: String,
    pub leader: Option<catalog::LeaseRecord>,
    pub nodes: Vec<NodeRecord>,
    /// The catalog's clock when the status was read.
    pub now_ms: i64,
}

/// Reads the nodes and the lease.
pub async fn status(strata: &Core) -> catalog::Result<ClusterStatus> {
    let node = strata.leadership.node_id.clone();
    strata
        .with_catalog(move |c| {
            let ClusterView {
                nodes,
                leader,
                now_ms,
            } = ClusterView::read(c)?;
            Ok(ClusterStatus {
                node,
                leader,
                nodes,
                now_ms,
            })
        })
        .await
}

/// The cluster as the catalog sees it at one moment: what [`status`] reports and where a follower finds the
/// leader's heartbeat.
struct ClusterView {
    nodes: Vec<NodeRecord>,
    /// The leader's lease, if one is held and has not expired by `now_ms`.
    leader: Option<catalog::LeaseRecord>,
    /// The catalog's clock when the view was read.
    now_ms: i64,
}

impl ClusterView {
    /// Reads the nodes, then the lease (blocking: run it inside [`Core::with_catalog`]).
    fn read(c: &dyn catalog::Catalog) -> catalog::Result<ClusterView> {
        let (nodes, now_ms) = c.nodes()?;
        let leader = c
            .lease(LEADER_LEASE)?
            .filter(|lease| lease.expires_ms > now_ms);
        Ok(ClusterView {
            nodes,
            leader,
            now_ms,
        })
    }

    /// The heartbeat of the node holding the lease, if there is a leader and it has sent one.
    fn leader_record(&self) -> Option<&NodeRecord> {
        let holder = &self.leader.as_ref()?.holder;
        self.nodes.iter().find(|n| &n.node == holder)
    }
}
