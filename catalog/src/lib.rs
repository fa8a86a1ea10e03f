//! Strata's metadata catalog: buckets, object versions and their replica sets, multipart uploads,
//! garbage blobs awaiting deletion, per-object access statistics and an access log — all in one
//! embedded redb database owned by a single process.
//!
//! # Contracts
//!
//! * Every call is synchronous and runs in its own redb transaction; the gateway calls them from
//!   `spawn_blocking`. [`Catalog`] is `Send + Sync`; redb serialises write transactions.
//! * Every mutation is durable (fsynced) before it returns — concurrent mutations share one fsync (group
//!   commit, see `write_durable`) — except
//!   [`Catalog::record_accesses`], which trades durability for throughput (see there). Nothing is
//!   cached outside transactions, so a crash at any point leaves the last committed state.
//! * Blob ownership: each `(backend, blob)` is owned by exactly one record (an object version or an
//!   upload part). When a record stops referencing a location, that location is inserted into the
//!   garbage table in the same transaction; the gateway's reaper deletes it later. A location the
//!   new version still references (e.g. an overwrite that reuses a blob) is never garbage.
//! * Values are JSON; a value that fails to decode yields [`CatalogError::Corrupt`], never a panic.
//!
//! The storage layout is described in the `schema` module.

mod access;
mod buckets;
mod error;
mod garbage;
mod listing;
mod moves;
mod objects;
mod records;
mod schema;
mod uploads;

use std::path::Path;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use redb::{Database, Durability, ReadTransaction, ReadableDatabase, WriteTransaction};

pub use error::{CatalogError, Result};
pub use moves::{MOVE_HISTORY, MoveState, MoveTask, NewMove};
pub use records::{
    AccessEvent, AccessKind, AccessStats, BucketRecord, GarbageBlob, ListPage, NewObject,
    ObjectMeta, ObjectRecord, PartRecord, PartRef, PutOutcome, UploadPage, UploadRecord,
};

use error::{StorageContext, corrupt};
use schema::{
    ACCESS_LOG, BUCKETS, GARBAGE, META, META_NAME, META_SCHEMA_VERSION, MOVES, OBJECTS, PARTS,
    SCHEMA_VERSION, STATS, UPLOAD_INDEX, UPLOADS,
};

// The gateway shares one catalog across threads.
const _: fn() = || {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Catalog>();
};

/// Tuning knobs of a catalog.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CatalogConfig {
    /// Half-life of object heat. Must be positive. Default: 24 h.
    pub heat_half_life_ms: i64,
    /// Access-log entries older than the newest entry minus this are trimmed. Must be positive.
    /// Default: 14 days.
    pub access_log_retention_ms: i64,
    /// The access log is trimmed (oldest first) to at most this many entries. Default: 5,000,000.
    pub access_log_max_entries: u64,
}

impl Default for CatalogConfig {
    fn default() -> Self {
        CatalogConfig {
            heat_half_life_ms: 24 * 3_600_000,
            access_log_retention_ms: 14 * 24 * 3_600_000,
            access_log_max_entries: 5_000_000,
        }
    }
}

/// [`Catalog::record_accesses`] commits without fsync, but makes its commit durable when no
/// durable commit has happened for this long. This bounds both how much access data a crash can
/// lose and how long redb must keep pages freed by non-durable commits.
const ACCESS_DURABLE_INTERVAL: Duration = Duration::from_secs(60);

/// The catalog. See the crate documentation for the contracts every method follows.
pub struct Catalog {
    db: Database,
    config: CatalogConfig,
    /// When the last `Durability::Immediate` commit finished (only used to pace access recording).
    last_durable_commit: Mutex<Instant>,
    /// Group commit of [`Catalog::write_durable`] (see there).
    group: Mutex<GroupCommit>,
    group_done: Condvar,
}

/// Commits counted for group commit: `committed` non-durable commits so far, the first `durable` of them known
/// to be on disk, and whether a caller is making them durable now.
#[derive(Default)]
struct GroupCommit {
    committed: u64,
    durable: u64,
    syncing: bool,
}

impl Catalog {
    /// Opens the catalog at `path`, creating the file and any missing tables.
    ///
    /// Fails with [`CatalogError::InvalidArgument`] for a non-positive half-life or retention, and
    /// with [`CatalogError::Corrupt`] when the file was written by a newer, incompatible layout.
    pub fn open(path: &Path, config: CatalogConfig) -> Result<Catalog> {
        if config.heat_half_life_ms <= 0 {
            return Err(CatalogError::InvalidArgument(format!(
                "heat_half_life_ms must be positive, got {}",
                config.heat_half_life_ms
            )));
        }
        if config.access_log_retention_ms <= 0 {
            return Err(CatalogError::InvalidArgument(format!(
                "access_log_retention_ms must be positive, got {}",
                config.access_log_retention_ms
            )));
        }
        let db = Database::create(path).ctx(&format!("open catalog {}", path.display()))?;
        let catalog = Catalog {
            db,
            config,
            last_durable_commit: Mutex::new(Instant::now()),
            group: Mutex::new(GroupCommit::default()),
            group_done: Condvar::new(),
        };
        catalog.init_schema()?;
        Ok(catalog)
    }

    /// The configured heat half-life, for callers that evaluate [`AccessStats::heat_at`].
    pub fn heat_half_life_ms(&self) -> i64 {
        self.config.heat_half_life_ms
    }

    /// The configuration this catalog was opened with.
    pub fn config(&self) -> &CatalogConfig {
        &self.config
    }

    fn init_schema(&self) -> Result<()> {
        const OP: &str = "open catalog: create tables";
        self.write(OP, Durability::Immediate, |txn| {
            txn.open_table(BUCKETS).ctx(OP)?;
            txn.open_table(OBJECTS).ctx(OP)?;
            txn.open_table(STATS).ctx(OP)?;
            txn.open_table(UPLOADS).ctx(OP)?;
            txn.open_table(UPLOAD_INDEX).ctx(OP)?;
            txn.open_table(PARTS).ctx(OP)?;
            txn.open_table(GARBAGE).ctx(OP)?;
            txn.open_table(ACCESS_LOG).ctx(OP)?;
            txn.open_table(MOVES).ctx(OP)?;
            let mut meta = txn.open_table(META).ctx(OP)?;
            match schema::read_counter(&meta, META_SCHEMA_VERSION, OP)? {
                0 => {
                    meta.insert(META_SCHEMA_VERSION, SCHEMA_VERSION).ctx(OP)?;
                }
                v if v <= SCHEMA_VERSION => {}
                v => {
                    return Err(corrupt(
                        META_NAME,
                        META_SCHEMA_VERSION,
                        format!(
                            "catalog layout version {v} is newer than supported {SCHEMA_VERSION}"
                        ),
                    ));
                }
            }
            Ok(())
        })
    }

    /// Starts a read transaction (a consistent snapshot).
    pub(crate) fn read_txn(&self, op: &str) -> Result<ReadTransaction> {
        self.db.begin_read().ctx(op)
    }

    /// Runs `body` in one write transaction with `durability` and commits it if `body` succeeds;
    /// on error the transaction is aborted and nothing `body` did is kept.
    pub(crate) fn write<T>(
        &self,
        op: &str,
        durability: Durability,
        body: impl FnOnce(&WriteTransaction) -> Result<T>,
    ) -> Result<T> {
        let mut txn = self.db.begin_write().ctx(op)?;
        txn.set_durability(durability).ctx(op)?;
        match body(&txn) {
            Ok(value) => {
                txn.commit().ctx(op)?;
                if matches!(durability, Durability::Immediate) {
                    *self.lock_last_durable() = Instant::now();
                }
                Ok(value)
            }
            Err(e) => {
                // The body's error is what the caller needs; a failing abort changes nothing
                // durable (the transaction was never committed).
                let _ = txn.abort();
                Err(e)
            }
        }
    }

    /// [`Catalog::write`], durable when it returns `Ok`, with group commit: the transaction commits without
    /// fsync, then one durable commit makes it and every commit before it durable (redb persists all earlier
    /// `Durability::None` commits with the next `Immediate` one). Concurrent callers share that durable commit:
    /// one of them makes it while the others wait; a caller whose commit came after a running sync started waits
    /// for the next. Readers may see a commit before it is durable; its caller is not answered before.
    pub(crate) fn write_durable<T>(
        &self,
        op: &str,
        body: impl FnOnce(&WriteTransaction) -> Result<T>,
    ) -> Result<T> {
        let value = self.write(op, Durability::None, body)?;
        let seq = {
            let mut g = self.lock_group();
            g.committed += 1;
            g.committed
        };
        self.make_durable_through(seq, op)?;
        Ok(value)
    }

    /// Returns once the first `seq` counted commits are durable, making them so if no caller is.
    fn make_durable_through(&self, seq: u64, op: &str) -> Result<()> {
        let mut g = self.lock_group();
        loop {
            if g.durable >= seq {
                return Ok(());
            }
            if g.syncing {
                g = self
                    .group_done
                    .wait(g)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                continue;
            }
            // Every commit counted so far finished before this sync's transaction begins: it covers them.
            let target = g.committed;
            g.syncing = true;
            drop(g);
            let synced = self.write(op, Durability::Immediate, |txn| {
                let mut meta = txn.open_table(schema::META).ctx(op)?;
                let n = schema::read_counter(&meta, schema::META_GROUP_COMMITS, op)?;
                meta.insert(schema::META_GROUP_COMMITS, n + 1).ctx(op)?;
                Ok(())
            });
            g = self.lock_group();
            g.syncing = false;
            if synced.is_ok() {
                g.durable = g.durable.max(target);
            }
            self.group_done.notify_all();
            synced?;
        }
    }

    fn lock_group(&self) -> std::sync::MutexGuard<'_, GroupCommit> {
        // Plain counters: a poisoned lock still holds consistent values.
        self.group
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether the access recorder should make its next commit durable.
    pub(crate) fn access_commit_due(&self) -> bool {
        self.lock_last_durable().elapsed() >= ACCESS_DURABLE_INTERVAL
    }

    fn lock_last_durable(&self) -> std::sync::MutexGuard<'_, Instant> {
        // An Instant cannot be left half-written, so a poisoned lock is still usable.
        self.last_durable_commit
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
