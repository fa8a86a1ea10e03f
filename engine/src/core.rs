//! [`Core`]: the shared state of one node — catalog, backends, placement policy, clock, read leases, access
//! recorder and counters — that the S3 front and every worker read.
//!
//! It holds no worker: the mover, the model, the usage cache and the rest hold an `Arc<Core>`, never the other
//! way round (see [`crate::Engine`], which owns both).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use backends::Backend;
use catalog::{Catalog, CatalogConfig, PgCatalog, RedbCatalog};

use crate::clock::Clock;
use crate::config::{EngineConfig, Placement, resolve_profile};
use crate::reaper::ReadLeases;
use crate::recorder::AccessRecorder;
use backends::retry::RetryStats;
use std::collections::BTreeMap;

/// Everything a request handler needs. One per node, behind an `Arc`.
pub struct Core {
    pub catalog: Arc<dyn Catalog>,
    /// In configuration order.
    pub backends: Vec<Arc<Backend>>,
    /// Where new objects go: the initial backends, or from an advised size the self-tiering backend instead of
    /// the first ([`crate::new_objects`]).
    pub new_objects: crate::new_objects::NewObjectPlacement,
    pub recorder: AccessRecorder,
    /// What this node's placement and traffic have cost since it started.
    pub bill: crate::bill::Bill,
    /// In-memory counters for /metrics.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Fault injection shared by every backend's store (no rules: pass-through).
    pub chaos: Arc<chaos::Chaos>,
    pub leases: Arc<ReadLeases>,
    pub clock: Clock,
    pub region: String,
    pub started: Instant,
    /// Root directories of local-disk backends (for start-up cleanup of interrupted staging files).
    pub local_roots: Vec<std::path::PathBuf>,
    /// Retries and give-ups per backend.
    pub retry_stats: BTreeMap<String, Arc<RetryStats>>,
    /// The placement policy (replication factor, provider diversity, initial backends, SLA).
    pub placement: Placement,
    /// Whether the catalog is shared with other nodes (PostgreSQL) rather than this node's own (redb).
    pub shared_catalog: bool,
    /// This node's id and whether it leads the cluster (runs the singleton workers).
    pub leadership: crate::cluster::Leadership,
    /// Access events to Kafka, when `[events]` names brokers.
    pub events: Option<crate::events::EventSink>,
    /// The events' receiving end until [`crate::Engine::start`] hands it to the publisher.
    pub events_rx: std::sync::Mutex<Option<tokio::sync::mpsc::Receiver<crate::events::Event>>>,
    pub events_settings: crate::events::EventsSettings,
    pub cluster_settings: crate::cluster::ClusterSettings,
}

impl Core {
    /// Opens the catalog and the backends described by `config`. Must run inside a tokio runtime.
    pub fn open(config: &EngineConfig, clock: Clock) -> anyhow::Result<Arc<Core>> {
        std::fs::create_dir_all(&config.data_dir)?;
        let catalog_config = CatalogConfig {
            heat_half_life_ms: (config.catalog.heat_half_life_secs * 1000) as i64,
            access_log_retention_ms: (config.catalog.access_log_retention_secs * 1000) as i64,
            access_log_max_entries: config.catalog.access_log_max_entries,
            cache_bytes: usize::try_from(config.catalog.cache_mib.saturating_mul(1 << 20))
                .unwrap_or(usize::MAX),
        };
        let catalog: Arc<dyn Catalog> = match &config.catalog_url {
            Some(url) => Arc::new(
                PgCatalog::connect(url, catalog_config)
                    .map_err(|e| anyhow::anyhow!("cannot open the shared catalog: {e}"))?,
            ),
            None => Arc::new(
                RedbCatalog::open(&config.data_dir.join("catalog.redb"), catalog_config).map_err(
                    |e| {
                        anyhow::anyhow!(
                            "cannot open the catalog in {}: {e}",
                            config.data_dir.display()
                        )
                    },
                )?,
            ),
        };
        let chaos = chaos::Chaos::new();
        chaos
            .set(config.chaos.clone())
            .map_err(|e| anyhow::anyhow!("invalid [chaos] section: {e}"))?;
        let shared_keys = match (&config.catalog_url, &config.master_key) {
            (None, _) => None,
            (Some(_), Some(master)) => Some(Arc::new(crate::secrets::SharedKeyrings {
                catalog: catalog.clone(),
                master: master.clone(),
            })),
            (Some(_), None) => {
                return Err(anyhow::anyhow!(
                    "a shared catalog needs the cluster's master key, which seals the backend keys it stores: \
                     set STRATA_MASTER_KEY (or master_key_file in the config); `strata cluster init` prints a new one"
                ));
            }
        };
        let (backends, local_roots, retry_stats) =
            open_backends(config, &config.data_dir, &chaos, shared_keys)?;
        let placement = config.placement()?;
        let initial_placement = placement
            .initial
            .iter()
            .map(|n| {
                backends
                    .iter()
                    .find(|b| b.name() == n)
                    .cloned()
                    .ok_or_else(|| anyhow::anyhow!("placement.initial names unknown backend {n:?}"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let clock_now = clock.now_ms();
        let recorder = AccessRecorder::start(
            catalog.clone(),
            Duration::from_millis(config.catalog.flush_interval_ms),
            clock.clone(),
        );
        let leadership = crate::cluster::Leadership::open(&config.data_dir, clock_now)?;
        let (events, events_rx) = if config.events.enabled() {
            let (sink, rx) =
                crate::events::EventSink::new(&config.events, leadership.node_id.clone());
            (Some(sink), Some(rx))
        } else {
            (None, None)
        };
        let bill =
            crate::bill::Bill::new(clock_now, backends.iter().map(|b| (b.name(), b.profile())));
        let new_objects =
            crate::new_objects::NewObjectPlacement::new(initial_placement, &backends, &placement);
        Ok(Arc::new(Core {
            catalog,
            backends,
            new_objects,
            recorder,
            bill,
            metrics: Arc::default(),
            chaos,
            leases: Arc::new(ReadLeases::default()),
            clock,
            region: config.region.clone(),
            started: Instant::now(),
            local_roots,
            retry_stats,
            placement,
            shared_catalog: config.catalog_url.is_some(),
            leadership,
            events,
            events_rx: std::sync::Mutex::new(events_rx),
            events_settings: config.events.clone(),
            cluster_settings: config.cluster.clone(),
        }))
    }

    pub fn backend(&self, name: &str) -> Option<&Arc<Backend>> {
        self.backends.iter().find(|b| b.name() == name)
    }

    /// The backends named in `names`, fastest first byte first; unknown names are skipped.
    pub fn replicas_by_latency(&self, names: &[String]) -> Vec<Arc<Backend>> {
        // Healthy first (no error in the last 30 s), then by expected first-byte latency. Each backend's health is
        // looked up once, not once per comparison.
        let now = self.clock.now_ms();
        let mut v: Vec<(bool, Arc<Backend>)> = names
            .iter()
            .filter_map(|n| self.backend(n).cloned())
            .map(|b| {
                let unhealthy = now - self.metrics.backend(b.name()).last_error_ms() < 30_000;
                (unhealthy, b)
            })
            .collect();
        v.sort_by(|(ua, a), (ub, b)| {
            ua.cmp(ub).then(
                a.profile()
                    .first_byte_latency_ms
                    .total_cmp(&b.profile().first_byte_latency_ms),
            )
        });
        v.into_iter().map(|(_, b)| b).collect()
    }

    /// Runs a blocking catalog call off the async workers.
    pub async fn with_catalog<T, F>(&self, f: F) -> Result<T, catalog::CatalogError>
    where
        F: FnOnce(&dyn Catalog) -> Result<T, catalog::CatalogError> + Send + 'static,
        T: Send + 'static,
    {
        let cat = self.catalog.clone();
        match tokio::task::spawn_blocking(move || f(&*cat)).await {
            Ok(r) => r,
            Err(e) => Err(catalog::CatalogError::Storage(format!(
                "catalog task failed: {e}"
            ))),
        }
    }
}

type Opened = (
    Vec<Arc<Backend>>,
    Vec<std::path::PathBuf>,
    BTreeMap<String, Arc<RetryStats>>,
);

/// Opens every configured backend and composes its layers: sealing (`Backend`) → retries (`RetryStore`) → fault
/// injection (`ChaosStore`) → the raw store. Injected faults land in sealed bytes and are retried like real ones.
fn open_backends(
    config: &EngineConfig,
    data_dir: &Path,
    chaos: &Arc<chaos::Chaos>,
    shared_keys: Option<Arc<crate::secrets::SharedKeyrings>>,
) -> anyhow::Result<Opened> {
    let keys_dir = data_dir.join("keys");
    std::fs::create_dir_all(&keys_dir)?;
    let mut out = Vec::new();
    let mut roots = Vec::new();
    let mut retry_stats = BTreeMap::new();
    for b in config.effective_backends() {
        let profile =
            resolve_profile(&b).map_err(|m| anyhow::anyhow!("backend {}: {m}", b.name))?;
        let keyring = keys_dir.join(format!("{}.json", b.name));
        let backend = match &shared_keys {
            Some(keys) => Backend::open_shared(
                b.name.clone(),
                profile,
                &b.store,
                data_dir,
                keys.clone() as Arc<dyn backends::KeyringStore>,
            ),
            None => Backend::open(b.name.clone(), profile, &b.store, data_dir, &keyring),
        }
        .map_err(|e| anyhow::anyhow!("backend {}: {e}", b.name))?;
        let chaotic = chaos::wrap(backend.store().clone(), backend.name(), chaos);
        let (retrying, stats) =
            backends::retry::wrap(chaotic, backend.name(), config.retry.clone());
        out.push(Arc::new(backend.with_store(retrying)));
        retry_stats.insert(b.name.clone(), stats);
        if let backends::cloud::StoreSpec::Local(l) = &b.store {
            roots.push(if l.path.is_absolute() {
                l.path.clone()
            } else {
                data_dir.join(&l.path)
            });
        }
    }
    Ok((out, roots, retry_stats))
}
