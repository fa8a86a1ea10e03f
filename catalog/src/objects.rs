//! Object versions: commit, read, delete, replica swap, counting and scanning.

use std::collections::BTreeSet;
use std::ops::Bound;

use redb::{ReadableTable, ReadableTableMetadata, WriteTransaction};

use crate::error::{CatalogError, Result, StorageContext};
use crate::schema::{
    self, BUCKETS, GARBAGE, META, META_LAST_GENERATION, OBJECTS, OBJECTS_NAME, STATS,
};
use crate::versions::{self, KeyRows, KeyRowsMut, RowScan};
use crate::{
    BucketRecord, DeleteOutcome, NewObject, ObjectRecord, ObjectSummary, PutOutcome, RedbCatalog,
    VersionPage, WriteCondition,
};

/// Decodes an `objects` value; `raw_key` is only used for the error message.
pub(crate) fn decode_object(raw_key: &[u8], bytes: &[u8]) -> Result<ObjectRecord> {
    schema::decode(OBJECTS_NAME, || schema::lossy(raw_key), bytes)
}

/// One bucket's `objects` rows in a redb table (read-only or writable).
pub(crate) struct BucketRows<T> {
    objects: T,
    /// `bucket + NUL`.
    base: Vec<u8>,
}

impl<T: ReadableTable<&'static [u8], &'static [u8]>> BucketRows<T> {
    pub(crate) fn new(objects: T, bucket: &str) -> Result<BucketRows<T>> {
        Ok(BucketRows {
            objects,
            base: schema::bucket_key_prefix(bucket)?,
        })
    }
}

impl<T: ReadableTable<&'static [u8], &'static [u8]>> RowScan for BucketRows<T> {
    fn rows_from(
        &self,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(String, ObjectRecord)>> {
        const OP: &str = "object rows";
        let lower = [self.base.as_slice(), start].concat();
        let upper = match end {
            Some(end) => Some([self.base.as_slice(), end].concat()),
            None => schema::byte_successor(&self.base),
        };
        let upper_bound = upper.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
        let mut out = Vec::new();
        for entry in self
            .objects
            .range::<&[u8]>((Bound::Included(lower.as_slice()), upper_bound))
            .ctx(OP)?
            .take(limit)
        {
            let (key, value) = entry.ctx(OP)?;
            let raw = key.value();
            let row = schema::utf8(OBJECTS_NAME, raw, &raw[self.base.len()..])?;
            out.push((row, decode_object(raw, value.value())?));
        }
        Ok(out)
    }
}

impl<T: ReadableTable<&'static [u8], &'static [u8]>> KeyRows for BucketRows<T> {
    fn get(&self, row: &str) -> Result<Option<ObjectRecord>> {
        let raw = schema::concat(&self.base, row);
        match self.objects.get(raw.as_slice()).ctx("get object row")? {
            Some(value) => decode_object(&raw, value.value()).map(Some),
            None => Ok(None),
        }
    }
}

/// A write transaction's view of one bucket's rows and of the tables a write touches besides them.
pub(crate) struct BucketRowsMut<'t> {
    rows: BucketRows<redb::Table<'t, &'static [u8], &'static [u8]>>,
    meta: redb::Table<'t, &'static str, u64>,
    garbage: redb::Table<'t, schema::GarbageKey, ()>,
    stats: redb::Table<'t, &'static [u8], &'static [u8]>,
    op: &'static str,
}

impl<'t> BucketRowsMut<'t> {
    /// Opens the tables in `txn` and checks that the bucket exists; returns its record too.
    pub(crate) fn open(
        txn: &'t WriteTransaction,
        bucket: &str,
        op: &'static str,
    ) -> Result<(BucketRowsMut<'t>, BucketRecord)> {
        let record = crate::buckets::record_of(&txn.open_table(BUCKETS).ctx(op)?, bucket, op)?;
        Ok((
            BucketRowsMut {
                rows: BucketRows::new(txn.open_table(OBJECTS).ctx(op)?, bucket)?,
                meta: txn.open_table(META).ctx(op)?,
                garbage: txn.open_table(GARBAGE).ctx(op)?,
                stats: txn.open_table(STATS).ctx(op)?,
                op,
            },
            record,
        ))
    }
}

impl RowScan for BucketRowsMut<'_> {
    fn rows_from(
        &self,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(String, ObjectRecord)>> {
        self.rows.rows_from(start, end, limit)
    }
}

impl KeyRows for BucketRowsMut<'_> {
    fn get(&self, row: &str) -> Result<Option<ObjectRecord>> {
        self.rows.get(row)
    }
}

impl KeyRowsMut for BucketRowsMut<'_> {
    fn put(&mut self, row: &str, record: &ObjectRecord) -> Result<()> {
        let raw = schema::concat(&self.rows.base, row);
        let value = schema::encode(self.op, record)?;
        self.rows
            .objects
            .insert(raw.as_slice(), value.as_slice())
            .ctx(self.op)?;
        Ok(())
    }

    fn remove(&mut self, row: &str) -> Result<()> {
        let raw = schema::concat(&self.rows.base, row);
        self.rows.objects.remove(raw.as_slice()).ctx(self.op)?;
        Ok(())
    }

    fn next_generation(&mut self) -> Result<u64> {
        schema::reserve_counter(&mut self.meta, META_LAST_GENERATION, 1, self.op)
    }

    fn release(&mut self, locations: &BTreeSet<(String, String)>) -> Result<()> {
        crate::garbage::insert_garbage(&mut self.garbage, locations, schema::now_ms(), self.op)?;
        Ok(())
    }

    fn forget_stats(&mut self, key: &str) -> Result<()> {
        let raw = schema::concat(&self.rows.base, key);
        self.stats.remove(raw.as_slice()).ctx(self.op)?;
        Ok(())
    }
}

/// Commits `obj` as the newest version of `bucket`/`key` inside `txn` ([`versions::commit`]).
pub(crate) fn commit_object(
    txn: &WriteTransaction,
    bucket: &str,
    key: &str,
    obj: NewObject,
    released: BTreeSet<(String, String)>,
    cond: &WriteCondition,
    op: &'static str,
) -> Result<PutOutcome> {
    let (mut rows, record) = BucketRowsMut::open(txn, bucket, op)?;
    versions::commit(&mut rows, &record, key, obj, released, cond)
}

/// Removes duplicate backend names, keeping the first occurrence's position.
pub(crate) fn dedup_keep_order(names: Vec<String>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    names
        .into_iter()
        .filter(|name| seen.insert(name.clone()))
        .collect()
}

impl RedbCatalog {
    /// The current version of `bucket`/`key`, or `None`.
    pub fn get_object(&self, bucket: &str, key: &str) -> Result<Option<ObjectRecord>> {
        const OP: &str = "get_object";
        let raw_key = schema::object_key(bucket, key)?;
        let txn = self.read_txn(OP)?;
        let objects = txn.open_table(OBJECTS).ctx(OP)?;
        match objects.get(raw_key.as_slice()).ctx(OP)? {
            Some(value) => decode_object(&raw_key, value.value()).map(Some),
            None => Ok(None),
        }
    }

    /// Commits a new version in one durable transaction: [`CatalogError::NoSuchBucket`] if the
    /// bucket is gone; assigns the next generation; the replaced version's blobs (every part on every
    /// replica backend, except locations the new version reuses) are inserted into the garbage table
    /// in the same transaction, and the replaced record is returned.
    pub fn put_object(&self, bucket: &str, key: &str, obj: NewObject) -> Result<PutOutcome> {
        self.put_object_if(bucket, key, obj, &WriteCondition::Always)
    }

    /// [`RedbCatalog::put_object`] when `cond` holds for the current version (checked in the same
    /// transaction); otherwise nothing changes and the check's error is returned.
    pub fn put_object_if(
        &self,
        bucket: &str,
        key: &str,
        obj: NewObject,
        cond: &WriteCondition,
    ) -> Result<PutOutcome> {
        const OP: &str = "put_object";
        self.write_durable(OP, |txn| {
            commit_object(txn, bucket, key, obj, BTreeSet::new(), cond, OP)
        })
    }

    /// Changes the current version's user-visible metadata (e.g. its tags) with `change` in one durable
    /// transaction, keeping its generation, ETag, Last-Modified, parts and replicas: a concurrent move's
    /// CAS still succeeds and keeps the change, since it re-reads the record in its own transaction.
    /// Returns the new record, or `Ok(None)` if the object does not exist
    /// ([`CatalogError::NoSuchBucket`] if the bucket does not).
    pub fn update_object_meta(
        &self,
        bucket: &str,
        key: &str,
        change: &mut dyn FnMut(&mut crate::ObjectMeta),
    ) -> Result<Option<ObjectRecord>> {
        const OP: &str = "update_object_meta";
        let raw_key = schema::object_key(bucket, key)?;
        self.write_durable(OP, |txn| {
            let buckets = txn.open_table(BUCKETS).ctx(OP)?;
            crate::buckets::require_bucket(&buckets, bucket, OP)?;
            let mut objects = txn.open_table(OBJECTS).ctx(OP)?;
            let mut record = match objects.get(raw_key.as_slice()).ctx(OP)? {
                Some(value) => decode_object(&raw_key, value.value())?,
                None => return Ok(None),
            };
            change(&mut record.meta);
            let value = schema::encode(OP, &record)?;
            objects
                .insert(raw_key.as_slice(), value.as_slice())
                .ctx(OP)?;
            Ok(Some(record))
        })
    }

    /// A version of `bucket`/`key` by its label (an id or `null`), delete markers included.
    pub fn get_version(
        &self,
        bucket: &str,
        key: &str,
        version: &str,
    ) -> Result<Option<ObjectRecord>> {
        const OP: &str = "get_version";
        let txn = self.read_txn(OP)?;
        crate::buckets::require_bucket(&txn.open_table(BUCKETS).ctx(OP)?, bucket, OP)?;
        let rows = BucketRows::new(txn.open_table(OBJECTS).ctx(OP)?, bucket)?;
        Ok(versions::find(&rows, key, version)?.map(|(_, record)| record))
    }

    /// Changes one version's metadata ([`crate::Catalog::update_version_meta`]).
    pub fn update_version_meta(
        &self,
        bucket: &str,
        key: &str,
        version: &str,
        change: &mut dyn FnMut(&mut crate::ObjectMeta),
    ) -> Result<Option<ObjectRecord>> {
        const OP: &str = "update_version_meta";
        self.write_durable(OP, |txn| {
            let (mut rows, _) = BucketRowsMut::open(txn, bucket, OP)?;
            versions::update_meta(&mut rows, key, version, change)
        })
    }

    /// S3's delete under the bucket's versioning state ([`crate::Catalog::delete_version`]).
    pub fn delete_version(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        now_ms: i64,
        bypass_governance: bool,
    ) -> Result<DeleteOutcome> {
        self.delete_version_checked(bucket, key, version, now_ms, bypass_governance, None)
    }

    /// [`crate::Catalog::delete_version_if`].
    pub fn delete_version_if(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        now_ms: i64,
        version_seq: u64,
    ) -> Result<DeleteOutcome> {
        self.delete_version_checked(bucket, key, version, now_ms, false, Some(version_seq))
    }

    fn delete_version_checked(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        now_ms: i64,
        bypass_governance: bool,
        expect_seq: Option<u64>,
    ) -> Result<DeleteOutcome> {
        const OP: &str = "delete_version";
        self.write_durable(OP, |txn| {
            let (mut rows, record) = BucketRowsMut::open(txn, bucket, OP)?;
            versions::delete(
                &mut rows,
                record.versioning,
                bucket,
                key,
                version,
                now_ms,
                bypass_governance,
                expect_seq,
            )
        })
    }

    /// S3's ListObjectVersions ([`crate::Catalog::list_versions`]).
    pub fn list_versions(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        key_marker: Option<&str>,
        version_id_marker: Option<&str>,
        max_keys: usize,
    ) -> Result<VersionPage> {
        const OP: &str = "list_versions";
        let txn = self.read_txn(OP)?;
        crate::buckets::require_bucket(&txn.open_table(BUCKETS).ctx(OP)?, bucket, OP)?;
        let rows = BucketRows::new(txn.open_table(OBJECTS).ctx(OP)?, bucket)?;
        versions::list(
            &rows,
            prefix,
            delimiter,
            key_marker,
            version_id_marker,
            max_keys,
        )
    }

    /// Compare-and-swap of the replica set (used by the mover): succeeds only if the object exists
    /// and its generation equals `expected_generation`. On success the record gets a new generation
    /// (so a second mover holding the old generation fails instead of acting on a stale replica
    /// set) and the blobs on backends dropped from the set go to garbage. Returns `false` when the
    /// generation differs or the object is gone.
    ///
    /// Duplicate names in `replicas` are collapsed; an empty set is
    /// [`CatalogError::InvalidArgument`] (it would garbage-collect every copy). The caller must have
    /// copied every part blob to any backend it adds.
    pub fn swap_replicas(
        &self,
        bucket: &str,
        key: &str,
        expected_generation: u64,
        replicas: Vec<String>,
    ) -> Result<bool> {
        const OP: &str = "swap_replicas";
        let replicas = dedup_keep_order(replicas);
        if replicas.is_empty() {
            return Err(CatalogError::InvalidArgument(format!(
                "swap_replicas {bucket}/{key}: empty replica set"
            )));
        }
        let raw_key = schema::object_key(bucket, key)?;
        self.write_durable(OP, |txn| {
            let mut objects = txn.open_table(OBJECTS).ctx(OP)?;
            let mut record = match objects.get(raw_key.as_slice()).ctx(OP)? {
                Some(value) => decode_object(&raw_key, value.value())?,
                None => return Ok(false),
            };
            if record.generation != expected_generation {
                return Ok(false);
            }
            let before = record.blob_locations();
            record.replicas = replicas;
            let after = record.blob_locations();
            let dead: BTreeSet<_> = before.difference(&after).cloned().collect();

            let mut meta = txn.open_table(META).ctx(OP)?;
            record.generation = schema::reserve_counter(&mut meta, META_LAST_GENERATION, 1, OP)?;
            let value = schema::encode(OP, &record)?;
            objects
                .insert(raw_key.as_slice(), value.as_slice())
                .ctx(OP)?;

            let mut garbage = txn.open_table(GARBAGE).ctx(OP)?;
            crate::garbage::insert_garbage(&mut garbage, &dead, schema::now_ms(), OP)?;
            Ok(true)
        })
    }

    /// Number of objects in the bucket ([`CatalogError::NoSuchBucket`] if absent). Linear in the
    /// bucket size.
    pub fn object_count(&self, bucket: &str) -> Result<u64> {
        const OP: &str = "object_count";
        let base = schema::bucket_key_prefix(bucket)?;
        let end = schema::byte_successor(&base);
        let txn = self.read_txn(OP)?;
        let buckets = txn.open_table(BUCKETS).ctx(OP)?;
        crate::buckets::require_bucket(&buckets, bucket, OP)?;
        let objects = txn.open_table(OBJECTS).ctx(OP)?;
        let upper = end.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
        let mut count = 0u64;
        for entry in objects
            .range::<&[u8]>((Bound::Included(base.as_slice()), upper))
            .ctx(OP)?
        {
            entry.ctx(OP)?;
            count += 1;
        }
        Ok(count)
    }

    /// Total number of objects in the catalog.
    pub fn total_object_count(&self) -> Result<u64> {
        const OP: &str = "total_object_count";
        let txn = self.read_txn(OP)?;
        txn.open_table(OBJECTS).ctx(OP)?.len().ctx(OP)
    }

    /// Up to `limit` objects across all buckets in (bucket, key) byte order, starting strictly
    /// after `after` = `(bucket, key)`. Page by passing the last returned pair back as `after`.
    pub fn scan_objects(
        &self,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<(String, String, ObjectRecord)>> {
        self.scan_rows("scan_objects", after, limit, |r: &ObjectRecord| {
            r.delete_marker
        })
    }

    /// [`RedbCatalog::scan_objects`], decoding only an [`ObjectSummary`] of each version.
    pub fn scan_summaries(
        &self,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<(String, String, ObjectSummary)>> {
        self.scan_rows("scan_summaries", after, limit, |s: &ObjectSummary| {
            s.delete_marker
        })
    }

    /// The `objects` rows after `after`, each value decoded as a `T` (the whole record, or the part of it a caller
    /// reads), skipping delete markers (they hold nothing to place, check or count).
    fn scan_rows<T: serde::de::DeserializeOwned>(
        &self,
        op: &'static str,
        after: Option<(&str, &str)>,
        limit: usize,
        is_marker: impl Fn(&T) -> bool,
    ) -> Result<Vec<(String, String, T)>> {
        let start = match after {
            Some((bucket, key)) => Some(schema::object_key(bucket, key)?),
            None => None,
        };
        let lower = start.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
        let txn = self.read_txn(op)?;
        let objects = txn.open_table(OBJECTS).ctx(op)?;
        let mut out = Vec::new();
        for entry in objects.range::<&[u8]>((lower, Bound::Unbounded)).ctx(op)? {
            if out.len() >= limit {
                break;
            }
            let (key, value) = entry.ctx(op)?;
            let raw = key.value();
            let row: T = schema::decode(OBJECTS_NAME, || schema::lossy(raw), value.value())?;
            if !is_marker(&row) {
                let (bucket, key) = schema::split_object_key(raw)?;
                out.push((bucket, key, row));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use redb::Database;

    use crate::schema::{BUCKETS, GARBAGE, OBJECTS};
    use crate::{CatalogConfig, CatalogError, NewObject, ObjectMeta, PartRef, RedbCatalog};

    fn new_object(blob: &str) -> NewObject {
        NewObject {
            size: 1,
            etag: "e".into(),
            last_modified_ms: 1,
            parts: vec![PartRef {
                blob: blob.into(),
                size: 1,
                blake3: String::new(),
                etag: String::new(),
            }],
            replicas: vec!["x".into()],
            meta: ObjectMeta::default(),
        }
    }

    fn is_corrupt<T: std::fmt::Debug>(result: crate::Result<T>, table: &str) -> bool {
        matches!(result, Err(CatalogError::Corrupt { table: t, .. }) if t == table)
    }

    #[test]
    fn undecodable_values_yield_corrupt_not_panic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.redb");
        {
            let cat = RedbCatalog::open(&path, CatalogConfig::default()).unwrap();
            cat.create_bucket("b", 0).unwrap();
            cat.create_bucket("c", 0).unwrap();
            cat.put_object("b", "k", new_object("blob")).unwrap();
        }
        // Damage rows behind the catalog's back, through redb directly.
        {
            let db = Database::create(&path).unwrap();
            let txn = db.begin_write().unwrap();
            {
                let mut objects = txn.open_table(OBJECTS).unwrap();
                objects.insert(&b"b\0k"[..], &b"{not json"[..]).unwrap();
                let mut buckets = txn.open_table(BUCKETS).unwrap();
                buckets.insert(&b"c"[..], &b"\xff\xfe"[..]).unwrap();
                let mut garbage = txn.open_table(GARBAGE).unwrap();
                garbage.insert((5, &b"x"[..], &b"\xff"[..]), ()).unwrap();
            }
            txn.commit().unwrap();
        }
        let cat = RedbCatalog::open(&path, CatalogConfig::default()).unwrap();
        assert!(is_corrupt(cat.get_object("b", "k"), "objects"));
        assert!(is_corrupt(
            cat.list_objects("b", "", None, None, 10),
            "objects"
        ));
        assert!(is_corrupt(cat.scan_objects(None, 10), "objects"));
        assert!(is_corrupt(cat.referenced_blobs(), "objects"));
        assert!(is_corrupt(cat.bucket("c"), "buckets"));
        assert!(is_corrupt(cat.list_buckets(), "buckets"));
        assert!(is_corrupt(cat.garbage(10), "garbage"));
        // Overwriting a corrupt record fails rather than losing track of its blobs...
        assert!(is_corrupt(
            cat.put_object("b", "k", new_object("new")),
            "objects"
        ));
        // ...and the failed transaction left nothing behind.
        assert!(is_corrupt(cat.get_object("b", "k"), "objects"));
        assert_eq!(
            cat.list_objects("b", "a", None, None, 10)
                .unwrap()
                .objects
                .len(),
            0
        );
        // The error names where the damage is.
        let message = cat.get_object("b", "k").unwrap_err().to_string();
        assert!(
            message.contains("objects") && message.contains("b/k"),
            "{message}"
        );
    }
}
