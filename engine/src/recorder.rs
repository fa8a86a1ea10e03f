//! Inline access recording with group commit.
//!
//! A request records its access with [`AccessRecorder::record`]: a non-blocking push onto a bounded queue, so
//! recording never waits for the disk. A flusher task drains the queue into one catalog transaction per batch
//! (no fsync: a crash may lose at most the last flush window of counters, never an object). When the queue is
//! full the event is dropped and counted in [`RecorderStats::dropped`] rather than stalling a request.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use catalog::{AccessEvent, Catalog};
use tokio::sync::mpsc;

/// Queue length before events are dropped.
const QUEUE: usize = 65_536;
/// Most events written in one transaction.
const BATCH: usize = 8_192;

/// Counters describing the recorder, for health and metrics.
#[derive(Debug, Default)]
pub struct RecorderStats {
    pub recorded: AtomicU64,
    pub flushed: AtomicU64,
    pub dropped: AtomicU64,
    pub flush_errors: AtomicU64,
    /// Age in ms of the oldest event in the last flushed batch when it was written.
    pub last_lag_ms: AtomicU64,
}

/// Handle used by request handlers; cheap to clone.
#[derive(Clone)]
pub struct AccessRecorder {
    tx: mpsc::Sender<AccessEvent>,
    stats: Arc<RecorderStats>,
    stop: Arc<tokio::sync::Notify>,
    flusher: Arc<std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

impl AccessRecorder {
    /// Starts the flusher task. `flush_interval` bounds how long an event waits before it is written.
    pub fn start(
        catalog: Arc<dyn Catalog>,
        flush_interval: Duration,
        clock: crate::clock::Clock,
    ) -> AccessRecorder {
        let (tx, rx) = mpsc::channel(QUEUE);
        let stats = Arc::new(RecorderStats::default());
        let stop = Arc::new(tokio::sync::Notify::new());
        let handle = tokio::spawn(flusher(
            catalog,
            rx,
            flush_interval,
            stats.clone(),
            clock,
            stop.clone(),
        ));
        AccessRecorder {
            tx,
            stats,
            stop,
            flusher: Arc::new(std::sync::Mutex::new(Some(handle))),
        }
    }

    /// Writes what is queued and stops the flusher (which then releases its catalog handle); events recorded
    /// afterwards are counted as dropped. Returns when the last batch is in the catalog. Idempotent.
    pub async fn close(&self) {
        let handle = self
            .flusher
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(handle) = handle {
            self.stop.notify_one();
            let _ = handle.await;
        }
    }

    /// Records one access without blocking.
    pub fn record(&self, event: AccessEvent) {
        match self.tx.try_send(event) {
            Ok(()) => {
                self.stats.recorded.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    pub fn stats(&self) -> &RecorderStats {
        &self.stats
    }

    /// Events queued but not yet written.
    pub fn pending(&self) -> usize {
        QUEUE - self.tx.capacity()
    }
}

async fn flusher(
    catalog: Arc<dyn Catalog>,
    mut rx: mpsc::Receiver<AccessEvent>,
    interval: Duration,
    stats: Arc<RecorderStats>,
    clock: crate::clock::Clock,
    stop: Arc<tokio::sync::Notify>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut stopping = false;
    loop {
        if stopping {
            // Drain what is queued, in batches, then end.
            while batch.len() < BATCH {
                match rx.try_recv() {
                    Ok(e) => batch.push(e),
                    Err(_) => break,
                }
            }
            if batch.is_empty() {
                return;
            }
        } else {
            // Wait for the first event (or the stop), then give the batch `interval` to fill.
            let first = tokio::select! {
                e = rx.recv() => e,
                () = stop.notified() => {
                    stopping = true;
                    rx.close();
                    continue;
                }
            };
            let Some(first) = first else { return };
            batch.push(first);
            let deadline = tokio::time::Instant::now() + interval;
            while batch.len() < BATCH {
                match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some(e)) => batch.push(e),
                    Ok(None) | Err(_) => break,
                }
            }
        }
        let events = std::mem::take(&mut batch);
        let oldest = events.iter().map(|e| e.at_ms).min().unwrap_or_default();
        let n = events.len() as u64;
        let cat = catalog.clone();
        let result = tokio::task::spawn_blocking(move || cat.record_accesses(&events)).await;
        match result {
            Ok(Ok(())) => {
                stats.flushed.fetch_add(n, Ordering::Relaxed);
                let lag = (clock.now_ms() - oldest).max(0) as u64;
                stats.last_lag_ms.store(lag, Ordering::Relaxed);
            }
            Ok(Err(e)) => {
                stats.flush_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, events = n, "access recording flush failed; events dropped");
            }
            Err(e) => {
                stats.flush_errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %e, "access recording task panicked");
            }
        }
        batch = Vec::with_capacity(BATCH);
    }
}
