//! [`RedbCatalog`]: the embedded catalog, one redb file owned by one process (the default).
//!
//! The table layout is in `schema`; each family of calls lives in its own module (`objects`, `buckets`,
//! `listing`, `uploads`, `garbage`, `moves`, `access`) as `impl RedbCatalog` blocks; [`crate::Catalog`] is
//! implemented here by delegating to them.

use std::path::Path;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use redb::{Database, Durability, ReadTransaction, ReadableDatabase, WriteTransaction};

use crate::CatalogConfig;
use crate::error::{Result, StorageContext, corrupt};
use crate::schema::{
    self, ACCESS_LOG, BUCKETS, GARBAGE, META, META_NAME, META_SCHEMA_VERSION, MOVES, OBJECTS,
    PARTS, SCHEMA_VERSION, STATS, UPLOAD_INDEX, UPLOADS,
};

/// [`RedbCatalog::record_accesses`] commits without fsync, but makes its commit durable when no
/// durable commit has happened for this long. This bounds both how much access data a crash can
/// lose and how long redb must keep pages freed by non-durable commits.
const ACCESS_DURABLE_INTERVAL: Duration = Duration::from_secs(60);

/// The catalog. See the crate documentation for the contracts every method follows.
pub struct RedbCatalog {
    db: Database,
    pub(crate) config: CatalogConfig,
    /// When the last `Durability::Immediate` commit finished (only used to pace access recording).
    last_durable_commit: Mutex<Instant>,
    /// Group commit of [`RedbCatalog::write_durable`] (see there).
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

impl RedbCatalog {
    /// Opens the catalog at `path`, creating the file and any missing tables.
    ///
    /// Fails with [`CatalogError::InvalidArgument`] for a non-positive half-life or retention, and
    /// with [`CatalogError::Corrupt`] when the file was written by a newer, incompatible layout.
    pub fn open(path: &Path, config: CatalogConfig) -> Result<RedbCatalog> {
        config.validate()?;
        let db = Database::builder()
            .set_cache_size(config.cache_bytes)
            .create(path)
            .ctx(&format!("open catalog {}", path.display()))?;
        let catalog = RedbCatalog {
            db,
            config,
            last_durable_commit: Mutex::new(Instant::now()),
            group: Mutex::new(GroupCommit::default()),
            group_done: Condvar::new(),
        };
        catalog.init_schema()?;
        Ok(catalog)
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
            txn.open_table(schema::LEASES).ctx(OP)?;
            txn.open_table(schema::NODES).ctx(OP)?;
            txn.open_table(schema::SECRETS).ctx(OP)?;
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

    /// [`RedbCatalog::write`], durable when it returns `Ok`, with group commit: the transaction commits without
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

/// Calls `$method` of the inherent `impl RedbCatalog` blocks (the modules), which take precedence over the
/// trait's methods of the same name.
macro_rules! delegate {
    ($($name:ident(&self $(, $arg:ident: $ty:ty)*) -> $ret:ty;)*) => {
        $(fn $name(&self $(, $arg: $ty)*) -> $ret { RedbCatalog::$name(self $(, $arg)*) })*
    };
}

impl crate::Catalog for RedbCatalog {
    fn config(&self) -> &CatalogConfig {
        &self.config
    }

    fn update_bucket(
        &self,
        name: &str,
        change: &mut dyn FnMut(&mut crate::BucketRecord),
    ) -> Result<crate::BucketRecord> {
        RedbCatalog::update_bucket(self, name, change)
    }

    fn update_object_meta(
        &self,
        bucket: &str,
        key: &str,
        change: &mut dyn FnMut(&mut crate::ObjectMeta),
    ) -> Result<Option<crate::ObjectRecord>> {
        RedbCatalog::update_object_meta(self, bucket, key, change)
    }

    fn update_version_meta(
        &self,
        bucket: &str,
        key: &str,
        version: &str,
        change: &mut dyn FnMut(&mut crate::ObjectMeta),
    ) -> Result<Option<crate::ObjectRecord>> {
        RedbCatalog::update_version_meta(self, bucket, key, version, change)
    }

    delegate! {
        create_bucket_record(&self, record: crate::BucketRecord) -> Result<()>;
        bucket(&self, name: &str) -> Result<Option<crate::BucketRecord>>;
        list_buckets(&self) -> Result<Vec<crate::BucketRecord>>;
        delete_bucket(&self, name: &str) -> Result<Vec<crate::GarbageBlob>>;
        get_object(&self, bucket: &str, key: &str) -> Result<Option<crate::ObjectRecord>>;
        put_object_if(&self, bucket: &str, key: &str, obj: crate::NewObject, cond: &crate::WriteCondition) -> Result<crate::PutOutcome>;
        get_version(&self, bucket: &str, key: &str, version: &str) -> Result<Option<crate::ObjectRecord>>;
        delete_version(&self, bucket: &str, key: &str, version: Option<&str>, now_ms: i64, bypass_governance: bool) -> Result<crate::DeleteOutcome>;
        delete_version_if(&self, bucket: &str, key: &str, version: Option<&str>, now_ms: i64, version_seq: u64) -> Result<crate::DeleteOutcome>;
        list_versions(&self, bucket: &str, prefix: &str, delimiter: Option<&str>, key_marker: Option<&str>, version_id_marker: Option<&str>, max_keys: usize) -> Result<crate::VersionPage>;
        swap_replicas(&self, bucket: &str, key: &str, expected_generation: u64, replicas: Vec<String>) -> Result<bool>;
        object_count(&self, bucket: &str) -> Result<u64>;
        total_object_count(&self) -> Result<u64>;
        scan_objects(&self, after: Option<(&str, &str)>, limit: usize) -> Result<Vec<(String, String, crate::ObjectRecord)>>;
        scan_summaries(&self, after: Option<(&str, &str)>, limit: usize) -> Result<Vec<(String, String, crate::ObjectSummary)>>;
        list_objects(&self, bucket: &str, prefix: &str, delimiter: Option<&str>, after: Option<&str>, max_keys: usize) -> Result<crate::ListPage>;
        list_uploads(&self, bucket: &str, prefix: &str, delimiter: Option<&str>, key_marker: Option<&str>, upload_id_marker: Option<&str>, max_uploads: usize) -> Result<crate::UploadPage>;
        create_upload(&self, upload: crate::UploadRecord) -> Result<()>;
        upload(&self, upload_id: &str) -> Result<Option<crate::UploadRecord>>;
        put_part(&self, upload_id: &str, part: crate::PartRecord) -> Result<()>;
        list_parts(&self, upload_id: &str) -> Result<Vec<crate::PartRecord>>;
        complete_upload_if(&self, upload_id: &str, obj: crate::NewObject, cond: &crate::WriteCondition) -> Result<crate::PutOutcome>;
        abort_upload(&self, upload_id: &str) -> Result<Vec<crate::GarbageBlob>>;
        garbage(&self, limit: usize) -> Result<Vec<crate::GarbageBlob>>;
        remove_garbage(&self, items: &[crate::GarbageBlob]) -> Result<()>;
        pending_garbage(&self, locations: &std::collections::BTreeSet<(String, String)>) -> Result<std::collections::BTreeSet<(String, String)>>;
        referenced_blobs(&self) -> Result<std::collections::HashSet<(String, String)>>;
        create_moves(&self, moves: Vec<crate::NewMove>, now_ms: i64) -> Result<Vec<crate::MoveTask>>;
        move_task(&self, id: u64) -> Result<Option<crate::MoveTask>>;
        moves(&self, limit: usize, active_only: bool) -> Result<Vec<crate::MoveTask>>;
        set_move_state(&self, id: u64, state: crate::MoveState, reason: Option<String>, now_ms: i64) -> Result<crate::MoveTask>;
        commit_move(&self, id: u64, now_ms: i64) -> Result<crate::MoveTask>;
        record_accesses(&self, events: &[crate::AccessEvent]) -> Result<()>;
        stats(&self, bucket: &str, key: &str) -> Result<Option<crate::AccessStats>>;
        scan_stats(&self, after: Option<(&str, &str)>, limit: usize) -> Result<Vec<(String, String, crate::AccessStats)>>;
        access_log_len(&self) -> Result<u64>;
        access_log_since(&self, since_ms: i64, limit: usize) -> Result<Vec<crate::AccessEvent>>;
        acquire_lease(&self, name: &str, holder: &str, ttl_ms: i64) -> Result<Option<crate::LeaseRecord>>;
        release_lease(&self, name: &str, holder: &str) -> Result<()>;
        lease(&self, name: &str) -> Result<Option<crate::LeaseRecord>>;
        heartbeat(&self, node: crate::NodeRecord) -> Result<crate::NodeRecord>;
        nodes(&self) -> Result<(Vec<crate::NodeRecord>, i64)>;
        secret(&self, name: &str) -> Result<Option<Vec<u8>>>;
        swap_secret(&self, name: &str, expected: Option<&[u8]>, value: &[u8]) -> Result<bool>;
    }
}
