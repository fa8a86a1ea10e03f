//! Object versions: commit, read, delete, replica swap, counting and scanning.

use std::collections::BTreeSet;
use std::ops::Bound;

use redb::{ReadableTable, ReadableTableMetadata, WriteTransaction};

use crate::error::{CatalogError, Result, StorageContext};
use crate::schema::{
    self, BUCKETS, GARBAGE, META, META_LAST_GENERATION, OBJECTS, OBJECTS_NAME, STATS,
};
use crate::{NewObject, ObjectRecord, PutOutcome, RedbCatalog, WriteCondition};

/// Decodes an `objects` value; `raw_key` is only used for the error message.
pub(crate) fn decode_object(raw_key: &[u8], bytes: &[u8]) -> Result<ObjectRecord> {
    schema::decode(OBJECTS_NAME, || schema::lossy(raw_key), bytes)
}

/// Commits `obj` as the current version of `bucket`/`key` inside `txn`.
///
/// Assigns the next generation, stores the record, and sends to garbage every location of the
/// replaced version plus every location in `released` (locations the caller is giving up, e.g.
/// the parts of a completed upload) that the new version does not reference.
pub(crate) fn commit_object(
    txn: &WriteTransaction,
    bucket: &str,
    key: &str,
    obj: NewObject,
    released: BTreeSet<(String, String)>,
    cond: &WriteCondition,
    op: &str,
) -> Result<PutOutcome> {
    let raw_key = schema::object_key(bucket, key)?;
    let buckets = txn.open_table(BUCKETS).ctx(op)?;
    crate::buckets::require_bucket(&buckets, bucket, op)?;

    let mut objects = txn.open_table(OBJECTS).ctx(op)?;
    let replaced = match objects.get(raw_key.as_slice()).ctx(op)? {
        Some(value) => Some(decode_object(&raw_key, value.value())?),
        None => None,
    };
    cond.check(bucket, key, replaced.as_ref())?;

    let mut meta = txn.open_table(META).ctx(op)?;
    let generation = schema::reserve_counter(&mut meta, META_LAST_GENERATION, 1, op)?;

    let kept = obj.blob_locations();
    let mut dead = released;
    if let Some(old) = &replaced {
        dead.extend(old.blob_locations());
    }
    dead.retain(|location| !kept.contains(location));

    let record = obj.into_record(generation);
    let value = schema::encode(op, &record)?;
    objects
        .insert(raw_key.as_slice(), value.as_slice())
        .ctx(op)?;

    let mut garbage = txn.open_table(GARBAGE).ctx(op)?;
    crate::garbage::insert_garbage(&mut garbage, &dead, schema::now_ms(), op)?;
    Ok(PutOutcome {
        generation,
        replaced,
    })
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

    /// Removes the object and its access stats; its blobs go to garbage in the same transaction.
    /// Returns the removed record, or `Ok(None)` if there was none.
    pub fn delete_object(&self, bucket: &str, key: &str) -> Result<Option<ObjectRecord>> {
        const OP: &str = "delete_object";
        let raw_key = schema::object_key(bucket, key)?;
        self.write_durable(OP, |txn| {
            let mut objects = txn.open_table(OBJECTS).ctx(OP)?;
            let removed = match objects.remove(raw_key.as_slice()).ctx(OP)? {
                Some(value) => decode_object(&raw_key, value.value())?,
                None => return Ok(None),
            };
            let mut stats = txn.open_table(STATS).ctx(OP)?;
            stats.remove(raw_key.as_slice()).ctx(OP)?;
            let mut garbage = txn.open_table(GARBAGE).ctx(OP)?;
            crate::garbage::insert_garbage(
                &mut garbage,
                &removed.blob_locations(),
                schema::now_ms(),
                OP,
            )?;
            Ok(Some(removed))
        })
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
        const OP: &str = "scan_objects";
        let start = match after {
            Some((bucket, key)) => Some(schema::object_key(bucket, key)?),
            None => None,
        };
        let lower = start.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
        let txn = self.read_txn(OP)?;
        let objects = txn.open_table(OBJECTS).ctx(OP)?;
        let mut out = Vec::new();
        for entry in objects
            .range::<&[u8]>((lower, Bound::Unbounded))
            .ctx(OP)?
            .take(limit)
        {
            let (key, value) = entry.ctx(OP)?;
            let raw = key.value();
            let (bucket, key) = schema::split_object_key(raw)?;
            out.push((bucket, key, decode_object(raw, value.value())?));
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
