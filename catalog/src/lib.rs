//! Strata's metadata catalog: buckets, object versions and their replica sets, multipart uploads,
//! garbage blobs awaiting deletion, move tasks, per-object access statistics and an access log.
//!
//! [`Catalog`] is the interface; two implementations keep its contracts and pass one test suite
//! (`catalog/tests`, run against each):
//!
//! * [`RedbCatalog`] — embedded, one redb file owned by one process: the default.
//! * [`PgCatalog`] — PostgreSQL, shared by every gateway node of a cluster.
//!
//! # Contracts
//!
//! * Every call is synchronous and atomic (one transaction); the gateway calls them from
//!   `spawn_blocking`. A [`Catalog`] is `Send + Sync`.
//! * Every mutation is durable before it returns, except [`Catalog::record_accesses`], which may trade
//!   durability for throughput (see there). Nothing is cached outside transactions, so a crash at any
//!   point leaves the last committed state, and a mutation acknowledged to one caller is seen by every
//!   later call, on any node sharing the catalog.
//! * Blob ownership: each `(backend, blob)` is owned by exactly one record (an object version or an
//!   upload part). When a record stops referencing a location, that location is inserted into the
//!   garbage table in the same transaction; the gateway's reaper deletes it later. A location the
//!   new version still references (e.g. an overwrite that reuses a blob) is never garbage.
//! * Values are JSON; a value that fails to decode yields [`CatalogError::Corrupt`], never a panic.

mod access;
mod buckets;
mod cluster;
mod embedded;
mod error;
mod garbage;
mod listing;
mod moves;
mod objects;
mod postgres;
mod records;
mod schema;
mod uploads;
pub mod versions;

use std::collections::{BTreeSet, HashSet};

pub use embedded::RedbCatalog;
pub use error::{CatalogError, Result};
pub use moves::{MOVE_HISTORY, MoveState, MoveTask, NewMove};
pub use postgres::PgCatalog;
pub use records::{
    AccessEvent, AccessKind, AccessStats, AclGrant, AclGrantee, AclPermission, BucketRecord,
    CorsRule, DefaultRetention, DeleteOutcome, GarbageBlob, LeaseRecord, LifecycleFilter,
    LifecycleRule, ListPage, NewObject, NewObjectsAdvice, NodeRecord, ObjectLockConfig, ObjectMeta,
    ObjectOwnership, ObjectRecord, ObjectSummary, PartChecksums, PartRecord, PartRef,
    PublicAccessBlock, PutOutcome, Retention, RetentionMode, SESSION_GAP_MS, UploadPage,
    UploadRecord, VersionEntry, VersionPage, Versioning, WriteCondition,
};

// The gateway shares one catalog across threads.
const _: fn() = || {
    fn send_sync<T: Send + Sync + ?Sized>() {}
    send_sync::<dyn Catalog>();
    send_sync::<RedbCatalog>();
    send_sync::<PgCatalog>();
};

/// The catalog interface. See the crate documentation for the contracts every method follows; each
/// method's own contract is stated here, and `catalog/tests` checks it against every implementation.
pub trait Catalog: Send + Sync {
    /// The configuration this catalog was opened with.
    fn config(&self) -> &CatalogConfig;

    /// The configured heat half-life, for callers that evaluate [`AccessStats::heat_at`].
    fn heat_half_life_ms(&self) -> i64 {
        self.config().heat_half_life_ms
    }

    // ---- buckets ----

    /// Creates a bucket with a fresh record ([`BucketRecord::new`]). [`CatalogError::BucketExists`] if it exists;
    /// [`CatalogError::InvalidArgument`] for an empty name or one containing NUL.
    fn create_bucket(&self, name: &str, now_ms: i64) -> Result<()> {
        self.create_bucket_record(BucketRecord::new(name, now_ms))
    }

    /// Creates the bucket `record.name` with `record` as its first record (e.g. with Object Lock and versioning
    /// enabled), in one durable transaction; errors as [`Catalog::create_bucket`].
    fn create_bucket_record(&self, record: BucketRecord) -> Result<()>;

    /// The bucket's record, or `None`.
    fn bucket(&self, name: &str) -> Result<Option<BucketRecord>>;

    /// Changes the bucket's record with `change` in one durable transaction and returns the new record:
    /// [`CatalogError::NoSuchBucket`] if absent. The name and creation time cannot change. `change` may run
    /// more than once (an implementation may retry a conflicting transaction); each run gets a fresh record.
    fn update_bucket(
        &self,
        name: &str,
        change: &mut dyn FnMut(&mut BucketRecord),
    ) -> Result<BucketRecord>;

    /// All buckets, sorted by name (byte order).
    fn list_buckets(&self) -> Result<Vec<BucketRecord>>;

    /// Deletes an empty bucket. [`CatalogError::NoSuchBucket`] if absent,
    /// [`CatalogError::BucketNotEmpty`] if it holds any object. Open multipart uploads of the bucket
    /// are removed in the same transaction; their part blobs (on every backend of their upload) go to
    /// the garbage table and are returned.
    fn delete_bucket(&self, name: &str) -> Result<Vec<GarbageBlob>>;

    // ---- objects ----

    /// The current version of `bucket`/`key`, or `None`.
    fn get_object(&self, bucket: &str, key: &str) -> Result<Option<ObjectRecord>>;

    /// Commits a new version in one durable transaction: [`CatalogError::NoSuchBucket`] if the
    /// bucket is gone; assigns the next generation; the replaced version's blobs (every part on every
    /// replica backend, except locations the new version reuses) are inserted into the garbage table
    /// in the same transaction, and the replaced record is returned.
    fn put_object(&self, bucket: &str, key: &str, obj: NewObject) -> Result<PutOutcome> {
        self.put_object_if(bucket, key, obj, &WriteCondition::Always)
    }

    /// [`Catalog::put_object`] when `cond` holds for the current version, checked in the same transaction
    /// ([`WriteCondition::check`]); otherwise nothing changes and the check's error is returned.
    fn put_object_if(
        &self,
        bucket: &str,
        key: &str,
        obj: NewObject,
        cond: &WriteCondition,
    ) -> Result<PutOutcome>;

    /// Changes the current version's user-visible metadata (e.g. its tags) with `change` in one durable
    /// transaction, keeping its generation, ETag, Last-Modified, parts and replicas: a concurrent move's
    /// CAS still succeeds and keeps the change, since it re-reads the record in its own transaction.
    /// Returns the new record, or `Ok(None)` if the object does not exist
    /// ([`CatalogError::NoSuchBucket`] if the bucket does not). `change` may run more than once, each
    /// time on a fresh record.
    fn update_object_meta(
        &self,
        bucket: &str,
        key: &str,
        change: &mut dyn FnMut(&mut ObjectMeta),
    ) -> Result<Option<ObjectRecord>>;

    /// Removes the current version of an unversioned bucket's object and its access stats (in a versioned bucket:
    /// adds a delete marker, see [`Catalog::delete_version`]); its blobs go to garbage in the same transaction.
    /// Returns the removed record, or `Ok(None)` if there was none.
    fn delete_object(&self, bucket: &str, key: &str) -> Result<Option<ObjectRecord>> {
        Ok(self
            .delete_version(bucket, key, None, schema::now_ms(), false)?
            .removed)
    }

    // ---- versions (see the `versions` module for the layout and its invariant) ----

    /// A version of `bucket`/`key` by its label (an id, or `null`), delete markers included; `None` when the key
    /// has no such version. [`CatalogError::NoSuchBucket`] if the bucket does not exist.
    fn get_version(&self, bucket: &str, key: &str, version: &str) -> Result<Option<ObjectRecord>>;

    /// [`Catalog::update_object_meta`] of the version labelled `version` (an id, or `null`): the changed record,
    /// a delete marker unchanged, or `None` when the key has no such version. [`CatalogError::NoSuchBucket`] if the
    /// bucket does not exist.
    fn update_version_meta(
        &self,
        bucket: &str,
        key: &str,
        version: &str,
        change: &mut dyn FnMut(&mut ObjectMeta),
    ) -> Result<Option<ObjectRecord>>;

    /// S3's DeleteObject in one durable transaction, under the bucket's versioning state:
    ///
    /// * `version` `None`, unversioned bucket: the current version and its access stats go, its blobs to garbage.
    /// * `version` `None`, versioning enabled: the current version becomes noncurrent and a delete marker with a new
    ///   id becomes the newest version. Suspended: the `null` version goes (blobs to garbage) and a `null` delete
    ///   marker becomes the newest version.
    /// * `version` `Some(label)`: that version or delete marker goes for good (blobs to garbage); if it was the
    ///   newest, the next newest becomes current unless it is a delete marker. No such version: nothing changes.
    ///   A version under Object Lock at `now_ms` ([`ObjectMeta::lock_reason`]: a legal hold, a compliance
    ///   retention, a governance retention unless `bypass_governance`) is [`CatalogError::ObjectLocked`].
    ///
    /// [`CatalogError::NoSuchBucket`] if the bucket does not exist.
    fn delete_version(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        now_ms: i64,
        bypass_governance: bool,
    ) -> Result<DeleteOutcome>;

    /// [`Catalog::delete_version`] (never bypassing a governance retention) only while the version it acts on — the
    /// current one for `version` `None`, else the one labelled `version` — is still the one created with
    /// `version_seq` ([`ObjectRecord::version_seq`]), checked in the same transaction; otherwise nothing changes
    /// and the answer is [`CatalogError::PreconditionFailed`]. A background deletion decided on an earlier read
    /// (a lifecycle expiration) so never removes or hides a version written since.
    fn delete_version_if(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        now_ms: i64,
        version_seq: u64,
    ) -> Result<DeleteOutcome>;

    /// S3's ListObjectVersions: versions and delete markers of keys under `prefix`, keys in byte order and each
    /// key's versions newest first. `delimiter` rolls keys up into common prefixes as in [`Catalog::list_objects`];
    /// `key_marker` alone resumes after every version of that key, with `version_id_marker` right after that
    /// version. Entries and common prefixes count towards `max_keys`. [`CatalogError::NoSuchBucket`] if the bucket
    /// does not exist; [`CatalogError::InvalidArgument`] for a version id marker this catalog never hands out.
    fn list_versions(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        key_marker: Option<&str>,
        version_id_marker: Option<&str>,
        max_keys: usize,
    ) -> Result<VersionPage>;

    /// Compare-and-swap of the replica set: succeeds only if the object exists and its generation
    /// equals `expected_generation`. On success the record gets a new generation and the blobs on
    /// backends dropped from the set go to garbage. Returns `false` when the generation differs or the
    /// object is gone. Duplicate names in `replicas` are collapsed; an empty set is
    /// [`CatalogError::InvalidArgument`]. The caller must have copied every part blob to any backend it adds.
    fn swap_replicas(
        &self,
        bucket: &str,
        key: &str,
        expected_generation: u64,
        replicas: Vec<String>,
    ) -> Result<bool>;

    /// Number of object rows in the bucket: current and noncurrent versions and delete markers
    /// ([`CatalogError::NoSuchBucket`] if absent).
    fn object_count(&self, bucket: &str) -> Result<u64>;

    /// Total number of object rows in the catalog (versions and delete markers included).
    fn total_object_count(&self) -> Result<u64>;

    /// Up to `limit` stored versions across all buckets in (bucket, row key) byte order, starting strictly
    /// after `after` = `(bucket, row key)`. Page by passing the last returned pair back as `after`. A row key is the
    /// object's key for a current version and [`versions::version_row`] for another one; delete markers are
    /// skipped (they hold nothing).
    fn scan_objects(
        &self,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<(String, String, ObjectRecord)>>;

    /// [`Catalog::scan_objects`] (same order, paging and skipped delete markers) with only what placement needs
    /// of each version ([`ObjectSummary`]), so that a planning cycle over millions of versions does not decode their
    /// parts and metadata. The default maps `scan_objects`.
    fn scan_summaries(
        &self,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<(String, String, ObjectSummary)>> {
        Ok(self
            .scan_objects(after, limit)?
            .into_iter()
            .map(|(b, k, r)| (b, k, ObjectSummary::from(r)))
            .collect())
    }

    // ---- listings ----

    /// S3 object listing in UTF-8 byte order.
    ///
    /// * `prefix`: only keys starting with it.
    /// * `delimiter`: `None` or `Some("")` means no grouping. Otherwise a key containing the
    ///   delimiter after `prefix` is rolled up into the common prefix `prefix` + up to and including
    ///   the first delimiter; each common prefix counts once towards `max_keys`.
    /// * `after`: exclusive start (marker / start-after / continuation). If it falls inside a common
    ///   prefix, that prefix is not returned again.
    /// * `max_keys == 0` returns an empty, untruncated page.
    ///
    /// `is_truncated` is true only when at least one more key or prefix exists; `next_marker` is then
    /// the last key or common prefix returned. [`CatalogError::NoSuchBucket`] if the bucket
    /// does not exist.
    fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        after: Option<&str>,
        max_keys: usize,
    ) -> Result<ListPage>;

    /// S3 multipart-upload listing, ordered by (key, initiated, upload id).
    ///
    /// `prefix` and `delimiter` work as in [`Catalog::list_objects`]. `key_marker` alone resumes
    /// after every upload of that key. With `upload_id_marker` too, the listing resumes right after
    /// that upload; if it no longer exists, uploads of `key_marker` are included only when their id
    /// is greater than the marker (S3's rule). `upload_id_marker` without `key_marker` is ignored.
    /// When truncated, the next markers name the last upload returned (or the last common prefix,
    /// with no upload id marker). [`CatalogError::NoSuchBucket`] if the bucket does not exist.
    fn list_uploads(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        key_marker: Option<&str>,
        upload_id_marker: Option<&str>,
        max_uploads: usize,
    ) -> Result<UploadPage>;

    // ---- multipart uploads ----

    /// Registers a new multipart upload. [`CatalogError::NoSuchBucket`] if `upload.bucket` does not
    /// exist; [`CatalogError::InvalidArgument`] for an empty or already used upload id.
    fn create_upload(&self, upload: UploadRecord) -> Result<()>;

    /// The upload's record, or `None` once it was completed or aborted (or never existed).
    fn upload(&self, upload_id: &str) -> Result<Option<UploadRecord>>;

    /// Stores a part. A previous part with the same number is replaced, and its blob goes to
    /// garbage on every backend of the upload's replicas (unless the new part reuses the same blob).
    /// [`CatalogError::NoSuchUpload`] if the upload was aborted or completed.
    fn put_part(&self, upload_id: &str, part: PartRecord) -> Result<()>;

    /// The upload's parts in ascending part number. [`CatalogError::NoSuchUpload`] if it is gone.
    fn list_parts(&self, upload_id: &str) -> Result<Vec<PartRecord>>;

    /// Atomically removes the upload and all its parts and commits `obj` at the upload's bucket/key
    /// exactly like [`Catalog::put_object`]. Part blobs of the upload that `obj` does not reference
    /// (per backend) go to garbage, as do the replaced version's blobs.
    /// [`CatalogError::NoSuchUpload`] if the upload is gone.
    fn complete_upload(&self, upload_id: &str, obj: NewObject) -> Result<PutOutcome> {
        self.complete_upload_if(upload_id, obj, &WriteCondition::Always)
    }

    /// [`Catalog::complete_upload`] when `cond` holds for the key's current version, checked in the same
    /// transaction; otherwise nothing changes (the upload stays open, its parts kept) and the check's error
    /// is returned.
    fn complete_upload_if(
        &self,
        upload_id: &str,
        obj: NewObject,
        cond: &WriteCondition,
    ) -> Result<PutOutcome>;

    /// Removes the upload and its parts; their blobs (on every backend of the upload) go to
    /// garbage and are returned. [`CatalogError::NoSuchUpload`] if the upload is gone.
    fn abort_upload(&self, upload_id: &str) -> Result<Vec<GarbageBlob>>;

    // ---- garbage ----

    /// Up to `limit` garbage blobs, oldest (`since_ms`) first, so a reaper that stops at the first
    /// blob still inside its grace period never starves older ones.
    fn garbage(&self, limit: usize) -> Result<Vec<GarbageBlob>>;

    /// Removes garbage entries (after the reaper deleted the blobs). Items must be as returned by
    /// [`Catalog::garbage`] (the `since_ms` is part of the entry's identity); unknown items are ignored.
    fn remove_garbage(&self, items: &[GarbageBlob]) -> Result<()>;

    /// Which of `locations` (`(backend, blob)` pairs) still wait in the garbage table. A blob may only be
    /// written again at a location once its pending deletion is done, or the reaper would delete the new copy.
    fn pending_garbage(
        &self,
        locations: &BTreeSet<(String, String)>,
    ) -> Result<BTreeSet<(String, String)>>;

    /// Every `(backend, blob)` referenced by an object, an upload part (on each of its upload's
    /// replicas), or the garbage table, read in one consistent snapshot. A blob found on a backend but
    /// absent here is an orphan (e.g. written before a crash and never committed) and may be deleted.
    fn referenced_blobs(&self) -> Result<HashSet<(String, String)>>;

    // ---- move tasks ----

    /// Persists new moves in state `Planned` and returns them with their ids (increasing). Terminal
    /// tasks beyond [`MOVE_HISTORY`] are trimmed, oldest first.
    fn create_moves(&self, moves: Vec<NewMove>, now_ms: i64) -> Result<Vec<MoveTask>>;

    /// One task.
    fn move_task(&self, id: u64) -> Result<Option<MoveTask>>;

    /// Up to `limit` tasks, newest first; with `active_only`, only those not in a terminal state.
    fn moves(&self, limit: usize, active_only: bool) -> Result<Vec<MoveTask>>;

    /// Moves a task to `state` (with a reason for `Aborted`). Refuses transitions the protocol does not
    /// allow, including any into `Committed` (use [`Catalog::commit_move`]).
    fn set_move_state(
        &self,
        id: u64,
        state: MoveState,
        reason: Option<String>,
        now_ms: i64,
    ) -> Result<MoveTask>;

    /// The commit of a `Verified` move, atomically: if the object still has the generation and replica
    /// set the move was planned against, its replicas become `to`, the blobs on dropped backends go to
    /// the garbage table and the task becomes `Committed`. Otherwise nothing about the object changes and
    /// the task becomes `Aborted` with the reason.
    fn commit_move(&self, id: u64, now_ms: i64) -> Result<MoveTask>;

    // ---- access statistics ----

    /// Records a batch of accesses in one transaction: per-object [`AccessStats`] for reads and writes
    /// of existing objects, every event appended to the access log (trimmed to the configured retention
    /// and size). May commit without waiting for durability: a crash may lose the most recent batches,
    /// never objects.
    fn record_accesses(&self, events: &[AccessEvent]) -> Result<()>;

    /// The object's access stats, or `None` if it has never been read or written since it was
    /// (re)created after a delete.
    fn stats(&self, bucket: &str, key: &str) -> Result<Option<AccessStats>>;

    /// Up to `limit` objects' access stats in (bucket, key) order, starting after `after`: the stats of objects
    /// that exist (a deleted object's stats are dropped with it).
    fn scan_stats(
        &self,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<(String, String, AccessStats)>>;

    /// Number of entries in the access log.
    fn access_log_len(&self) -> Result<u64>;

    /// Up to `limit` log entries with `at_ms >= since_ms`, ascending by time (then by arrival).
    fn access_log_since(&self, since_ms: i64, limit: usize) -> Result<Vec<AccessEvent>>;

    // ---- cluster: leases and nodes ----

    /// Takes the lease `name` for `holder`, or renews it when `holder` already holds it, for `ttl_ms` from now
    /// on the catalog's clock. Returns the lease when `holder` now holds it, `None` when another holder's lease
    /// has not expired. At most one holder holds a lease at any time (of the catalog's clock).
    fn acquire_lease(&self, name: &str, holder: &str, ttl_ms: i64) -> Result<Option<LeaseRecord>>;

    /// Ends `holder`'s lease `name` now; nothing when someone else holds it.
    fn release_lease(&self, name: &str, holder: &str) -> Result<()>;

    /// The lease `name` as stored (possibly expired), or `None` if it was never taken or was released.
    fn lease(&self, name: &str) -> Result<Option<LeaseRecord>>;

    /// Stores `node`'s heartbeat, stamping `heartbeat_ms` with the catalog's clock, and returns the record.
    fn heartbeat(&self, node: NodeRecord) -> Result<NodeRecord>;

    /// Every node that ever sent a heartbeat, by id, and the catalog's clock now (to age the heartbeats).
    fn nodes(&self) -> Result<(Vec<NodeRecord>, i64)>;

    // ---- cluster: shared secrets ----

    /// The value stored under `name` (opaque bytes: the cluster stores backend keyrings and credentials sealed
    /// with its master key), or `None`.
    fn secret(&self, name: &str) -> Result<Option<Vec<u8>>>;

    /// Compare-and-swap: stores `value` under `name` only if the current value is `expected` (`None`: absent).
    /// Returns whether it stored; on `false` nothing changed (another node won the race: read it again).
    fn swap_secret(&self, name: &str, expected: Option<&[u8]>, value: &[u8]) -> Result<bool>;
}

impl CatalogConfig {
    /// Fails with [`CatalogError::InvalidArgument`] for a non-positive half-life or retention.
    pub(crate) fn validate(&self) -> Result<()> {
        if self.heat_half_life_ms <= 0 {
            return Err(CatalogError::InvalidArgument(format!(
                "heat_half_life_ms must be positive, got {}",
                self.heat_half_life_ms
            )));
        }
        if self.access_log_retention_ms <= 0 {
            return Err(CatalogError::InvalidArgument(format!(
                "access_log_retention_ms must be positive, got {}",
                self.access_log_retention_ms
            )));
        }
        Ok(())
    }
}

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
    /// Bytes of the embedded catalog's page cache (redb's own defaults to 1 GiB, which a scan of a large catalog
    /// fills; the OS page cache still holds what it evicts). Default: 128 MiB. Ignored by PostgreSQL.
    pub cache_bytes: usize,
}

impl Default for CatalogConfig {
    fn default() -> Self {
        CatalogConfig {
            heat_half_life_ms: 24 * 3_600_000,
            access_log_retention_ms: 14 * 24 * 3_600_000,
            access_log_max_entries: 5_000_000,
            cache_bytes: 128 << 20,
        }
    }
}
