//! Strata's engine: one node's shared state and the background work that keeps its objects placed, sealed,
//! healthy and accounted for. The `strata` binary puts the S3 front, the admin API and the CLI on top.
//!
//! # Map
//!
//! * [`core::Core`] — the shared state every request and worker reads: catalog, backends (sealing → retries →
//!   fault injection → raw store), placement policy, [`clock::Clock`], read leases, the access
//!   [`recorder`] and the [`metrics`] counters. It holds no worker.
//! * Workers, each holding an `Arc<Core>` and its own handle: [`mover`] (move tasks: copy → verify → CAS commit
//!   → release), [`scrub`] (re-read every replica, heal from a good one), [`reseal`] (re-seal blobs under a
//!   rotated key), [`reaper`] (deferred deletes once no reader leases a blob), [`usage`] (bytes and cost per
//!   backend), [`planning`] (one planner cycle and the background interval), [`model`] (the `p_hot` model in
//!   use: `planner::ModelLifecycle` plus persistence and the objects' scores), [`lifecycle`] (the buckets'
//!   lifecycle rules: expirations, noncurrent versions, old uploads). [`recovery`] runs once at start.
//! * [`bill::Bill`] — the node's running cost at list prices (requests, retrieval, moves, storage from the usage
//!   snapshots), charged by the front, the mover and [`usage`]; `GET /admin/cost`.
//! * [`Engine`] owns the core and the workers' handles, starts the workers under one supervisor and stops them.
//! * [`config`] — the engine's sections of the configuration; [`scan`] — the one paged walk over every object
//!   (scrub, re-seal, usage); [`blob_copy`] — the one verified blob copy (mover, scrub heals, re-seal).
//!
//! Data flows one way: front → core (catalog, backends); planner → mover → catalog.

pub mod bill;
pub mod blob_copy;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod core;
pub mod error;
pub mod events;
pub mod lifecycle;
pub mod metrics;
pub mod model;
pub mod mover;
pub mod new_objects;
pub mod planning;
pub mod prometheus;
pub mod reaper;
pub mod recorder;
pub mod recovery;
pub mod reseal;
pub mod scan;
pub mod scrub;
pub mod secrets;
pub mod usage;

use std::sync::Arc;
use std::time::Duration;

pub use crate::clock::Clock;
pub use crate::config::EngineConfig;
pub use crate::core::Core;
pub use crate::error::EngineError;

/// How long deleted or overwritten blobs stay readable for requests that already started.
pub const GARBAGE_GRACE: Duration = Duration::from_secs(10);

/// How often the reaper looks for garbage it may delete.
const REAP_PERIOD: Duration = Duration::from_secs(2);

/// Seams for tests, injected in-process (the engine reads no environment variable). The clock is the other
/// one: [`Engine::open`] takes it, and [`Clock::advance_ms`] moves every clone.
#[derive(Clone, Debug, Default)]
pub struct Hooks {
    /// The mover stops forever when a task reaches this state (see [`mover::MoverHandle::pausing_at`]).
    pub mover_pause_at: Option<catalog::MoveState>,
}

/// One node: the shared [`Core`] and the handles of its workers.
///
/// # Contract
/// * [`Engine::open`] opens the catalog and the backends; nothing runs in the background yet.
/// * [`Engine::recover`] must run before the node serves requests (it resets interrupted moves and collects
///   orphans).
/// * [`Engine::start`] spawns every worker under one supervisor; [`Engine::shutdown`] stops them and returns
///   once every one has ended. A worker stopped mid-task leaves what a crash at that point would leave, which
///   the move protocol and recovery are built for.
pub struct Engine {
    pub core: Arc<Core>,
    /// The `p_hot` model in use and the objects' last scores.
    pub model: Arc<model::CurrentModel>,
    /// Wakes the mover when tasks are planned.
    pub mover: mover::MoverHandle,
    /// Last snapshot of bytes and cost per backend, and its history.
    pub usage: Arc<usage::UsageCache>,
    /// Scrub-and-heal counters and its one-pass-at-a-time lock.
    pub scrubber: Arc<scrub::Scrubber>,
    /// Re-sealing after key rotation.
    pub resealer: Arc<reseal::Resealer>,
    /// The buckets' lifecycle rules carried out: one pass at a time, and its counters.
    pub lifecycle: Arc<lifecycle::Lifecycle>,
    /// Planner settings and placement rules.
    pub planner: planning::PlannerContext,
    scrub: config::ScrubSettings,
    lifecycle_settings: config::LifecycleSettings,
    node_addr: String,
    workers: tokio::sync::Mutex<tokio::task::JoinSet<()>>,
    /// The singleton workers, running while this node leads (see [`cluster`]).
    singletons: Arc<tokio::sync::Mutex<tokio::task::JoinSet<()>>>,
}

impl Engine {
    /// Opens the node described by `config` on `clock`. Must run inside a tokio runtime.
    pub fn open(config: &EngineConfig, clock: Clock) -> anyhow::Result<Arc<Engine>> {
        Engine::open_with(config, clock, Hooks::default())
    }

    /// [`Engine::open`] with test hooks injected.
    pub fn open_with(
        config: &EngineConfig,
        clock: Clock,
        hooks: Hooks,
    ) -> anyhow::Result<Arc<Engine>> {
        let core = Core::open(config, clock)?;
        let model = Arc::new(model::CurrentModel::open(
            &config.data_dir,
            config
                .planner
                .model_settings(core.catalog.config().access_log_retention_ms),
        )?);
        let planner = planning::PlannerContext {
            settings: config.planner.clone(),
            rules: planner::PlacementRules {
                replication_factor: core.placement.replication_factor,
                provider_diversity: core.placement.provider_diversity,
            },
            sla_ms: core.placement.latency_sla_ms,
            capacities: config
                .effective_backends()
                .into_iter()
                .filter_map(|b| Some((b.name, b.capacity_bytes?)))
                .collect(),
        };
        Ok(Arc::new(Engine {
            resealer: Arc::new(reseal::Resealer::new(&core.backends, Default::default())),
            scrubber: Arc::new(scrub::Scrubber::new()),
            lifecycle: Arc::default(),
            core,
            model,
            mover: match hooks.mover_pause_at {
                Some(state) => mover::MoverHandle::pausing_at(state),
                None => mover::MoverHandle::default(),
            },
            usage: Arc::default(),
            planner,
            scrub: config.scrub.clone(),
            lifecycle_settings: config.lifecycle.clone(),
            node_addr: config.node_addr.clone(),
            workers: Default::default(),
            singletons: Default::default(),
        }))
    }

    /// Start-up recovery (see [`recovery::recover`]): run it once, before serving.
    pub async fn recover(&self) -> anyhow::Result<recovery::RecoveryReport> {
        recovery::recover(&self.core).await
    }

    /// Spawns every background worker under the supervisor: on every node the usage scan, the model and the
    /// cluster heartbeat; the singleton workers (reaper, mover, planner, re-sealer, scrubber, lifecycle) while this node
    /// leads (with the embedded catalog: from the first heartbeat on).
    pub async fn start(self: &Arc<Self>) {
        let core = &self.core;
        let mut set = self.workers.lock().await;
        set.spawn(usage::run(core.clone(), self.usage.clone()));
        set.spawn(model::run(core.clone(), self.model.clone()));
        let events_rx = core
            .events_rx
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let (Some(sink), Some(rx)) = (&core.events, events_rx) {
            set.spawn(events::run(
                core.events_settings.clone(),
                rx,
                sink.stats.clone(),
            ));
        }
        let engine = self.clone();
        set.spawn(cluster::run(
            core.clone(),
            self.node_addr.clone(),
            move |leads| {
                let engine = engine.clone();
                async move {
                    if leads {
                        engine.start_singletons().await;
                    } else {
                        engine.singletons.lock().await.shutdown().await;
                    }
                }
            },
        ));
    }

    /// Takes over from a previous leader (see [`recovery::take_over`]), then spawns the singleton workers.
    async fn start_singletons(&self) {
        match recovery::take_over(&self.core).await {
            Ok(report) if report.moves_restarted + report.orphans_removed > 0 => {
                tracing::info!(?report, "took over from the previous leader")
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "take-over recovery failed; the workers start anyway")
            }
        }
        let core = &self.core;
        // With a shared catalog the leader's reaper sees the other nodes' reads through their heartbeats; a blob
        // those do not clear waits `[cluster] garbage_grace_secs`.
        let grace = reaper::Grace {
            local: GARBAGE_GRACE,
            cluster: core
                .shared_catalog
                .then(|| Duration::from_secs(core.cluster_settings.garbage_grace_secs)),
        };
        let mut set = self.singletons.lock().await;
        set.spawn(reaper::run(core.clone(), REAP_PERIOD, grace));
        set.spawn(mover::run(core.clone(), self.mover.clone()));
        if self.planner.settings.enabled {
            set.spawn(planning::run(
                core.clone(),
                self.model.clone(),
                self.mover.clone(),
                self.planner.clone(),
            ));
        }
        set.spawn(reseal::run(core.clone(), self.resealer.clone()));
        if self.lifecycle_settings.interval_secs > 0 {
            set.spawn(lifecycle::run(
                core.clone(),
                self.lifecycle.clone(),
                Duration::from_secs(self.lifecycle_settings.interval_secs),
            ));
        }
        if self.scrub.interval_secs > 0 {
            set.spawn(scrub::run(
                core.clone(),
                self.scrubber.clone(),
                Duration::from_secs(self.scrub.interval_secs),
                scrub::Pace {
                    parts_per_sec: self.scrub.rate_per_sec.max(1),
                    bytes_per_sec: self.scrub.bytes_per_sec,
                },
            ));
        }
    }

    /// Stops every worker and waits until each has ended, then writes the queued access events and stops the
    /// recorder. Requests still running may find their accesses dropped (and counted).
    pub async fn shutdown(&self) {
        let mut set = self.workers.lock().await;
        set.shutdown().await;
        self.singletons.lock().await.shutdown().await;
        cluster::resign(&self.core).await;
        self.core.recorder.close().await;
    }

    /// Computes a plan now (dry run) with the model in use; refreshes the objects' `p_hot`.
    pub async fn plan(&self) -> Result<planner::Plan, EngineError> {
        planning::compute(&self.core, &self.model, &self.planner).await
    }

    /// Turns a plan's moves into `Planned` tasks and wakes the mover.
    pub async fn apply(&self, plan: &planner::Plan) -> Result<Vec<catalog::MoveTask>, EngineError> {
        planning::apply(&self.core, &self.mover, plan).await
    }

    /// Runs one lifecycle pass now (see [`lifecycle`]).
    pub async fn run_lifecycle(&self) -> lifecycle::LifecycleReport {
        self.lifecycle.run_once(&self.core).await
    }

    /// Recomputes the usage snapshot now.
    pub async fn refresh_usage(&self) -> catalog::Result<usage::Usage> {
        usage::refresh(&self.core, &self.usage).await
    }

    /// The usage snapshot: the last one kept, computed now if none exists yet or when `refresh` asks.
    pub async fn usage(&self, refresh: bool) -> catalog::Result<usage::Usage> {
        match self.usage.get() {
            Some(u) if !refresh => Ok(u),
            _ => self.refresh_usage().await,
        }
    }
}
