//! Bucket lifecycle.

use std::collections::BTreeSet;

use redb::ReadableTable;

use crate::error::{CatalogError, Result, StorageContext};
use crate::schema::{
    self, BUCKETS, BUCKETS_NAME, GARBAGE, OBJECTS, PARTS, STATS, UPLOAD_INDEX, UPLOADS,
};
use crate::uploads::{UploadTables, remove_upload};
use crate::{BucketRecord, GarbageBlob, RedbCatalog};

/// Fails with [`CatalogError::NoSuchBucket`] unless `bucket` has a row in `table`.
pub(crate) fn require_bucket(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
    bucket: &str,
    op: &str,
) -> Result<()> {
    schema::check_bucket_name(bucket)?;
    match table.get(bucket.as_bytes()).ctx(op)? {
        Some(_) => Ok(()),
        None => Err(CatalogError::NoSuchBucket(bucket.to_owned())),
    }
}

/// The record of `bucket`; [`CatalogError::NoSuchBucket`] if it does not exist.
pub(crate) fn record_of(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
    bucket: &str,
    op: &str,
) -> Result<BucketRecord> {
    schema::check_bucket_name(bucket)?;
    match table.get(bucket.as_bytes()).ctx(op)? {
        Some(value) => schema::decode(BUCKETS_NAME, || bucket.to_owned(), value.value()),
        None => Err(CatalogError::NoSuchBucket(bucket.to_owned())),
    }
}

impl RedbCatalog {
    /// Creates a bucket. [`CatalogError::BucketExists`] if it exists;
    /// [`CatalogError::InvalidArgument`] for an empty name or one containing NUL.
    pub fn create_bucket(&self, name: &str, now_ms: i64) -> Result<()> {
        self.create_bucket_record(BucketRecord::new(name, now_ms))
    }

    /// Creates a bucket with `record` as its first record ([`crate::Catalog::create_bucket_record`]).
    pub fn create_bucket_record(&self, record: BucketRecord) -> Result<()> {
        const OP: &str = "create_bucket";
        let name = record.name.as_str();
        schema::check_bucket_name(name)?;
        self.write_durable(OP, |txn| {
            let mut buckets = txn.open_table(BUCKETS).ctx(OP)?;
            if buckets.get(name.as_bytes()).ctx(OP)?.is_some() {
                return Err(CatalogError::BucketExists(name.to_owned()));
            }
            let value = schema::encode(OP, &record)?;
            buckets.insert(name.as_bytes(), value.as_slice()).ctx(OP)?;
            Ok(())
        })
    }

    /// The bucket's record, or `None`.
    pub fn bucket(&self, name: &str) -> Result<Option<BucketRecord>> {
        const OP: &str = "bucket";
        let txn = self.read_txn(OP)?;
        let buckets = txn.open_table(BUCKETS).ctx(OP)?;
        let Some(value) = buckets.get(name.as_bytes()).ctx(OP)? else {
            return Ok(None);
        };
        schema::decode(BUCKETS_NAME, || name.to_owned(), value.value()).map(Some)
    }

    /// Changes the bucket's record with `change` in one durable transaction and returns the new record:
    /// [`CatalogError::NoSuchBucket`] if absent. The name and creation time cannot change.
    pub fn update_bucket(
        &self,
        name: &str,
        change: &mut dyn FnMut(&mut BucketRecord),
    ) -> Result<BucketRecord> {
        const OP: &str = "update_bucket";
        schema::check_bucket_name(name)?;
        self.write_durable(OP, |txn| {
            let mut buckets = txn.open_table(BUCKETS).ctx(OP)?;
            let mut record: BucketRecord = match buckets.get(name.as_bytes()).ctx(OP)? {
                Some(value) => schema::decode(BUCKETS_NAME, || name.to_owned(), value.value())?,
                None => return Err(CatalogError::NoSuchBucket(name.to_owned())),
            };
            let (kept_name, kept_created) = (record.name.clone(), record.created_ms);
            change(&mut record);
            record.name = kept_name;
            record.created_ms = kept_created;
            let value = schema::encode(OP, &record)?;
            buckets.insert(name.as_bytes(), value.as_slice()).ctx(OP)?;
            Ok(record)
        })
    }

    /// All buckets, sorted by name (byte order).
    pub fn list_buckets(&self) -> Result<Vec<BucketRecord>> {
        const OP: &str = "list_buckets";
        let txn = self.read_txn(OP)?;
        let buckets = txn.open_table(BUCKETS).ctx(OP)?;
        let mut out = Vec::new();
        for entry in buckets.iter().ctx(OP)? {
            let (key, value) = entry.ctx(OP)?;
            let raw = key.value();
            out.push(schema::decode(
                BUCKETS_NAME,
                || schema::lossy(raw),
                value.value(),
            )?);
        }
        Ok(out)
    }

    /// Deletes an empty bucket. [`CatalogError::NoSuchBucket`] if absent,
    /// [`CatalogError::BucketNotEmpty`] if it holds any object. Open multipart uploads of the bucket
    /// are removed in the same transaction; their part blobs (on every backend of their upload) go to
    /// the garbage table and are returned.
    pub fn delete_bucket(&self, name: &str) -> Result<Vec<GarbageBlob>> {
        const OP: &str = "delete_bucket";
        let base = schema::bucket_key_prefix(name)?;
        let end = schema::byte_successor(&base);
        let range = (
            std::ops::Bound::Included(base.as_slice()),
            end.as_deref()
                .map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded),
        );
        self.write_durable(OP, |txn| {
            let mut buckets = txn.open_table(BUCKETS).ctx(OP)?;
            require_bucket(&buckets, name, OP)?;
            {
                let objects = txn.open_table(OBJECTS).ctx(OP)?;
                if objects.range::<&[u8]>(range).ctx(OP)?.next().is_some() {
                    return Err(CatalogError::BucketNotEmpty(name.to_owned()));
                }
            }

            let mut tables = UploadTables {
                uploads: txn.open_table(UPLOADS).ctx(OP)?,
                index: txn.open_table(UPLOAD_INDEX).ctx(OP)?,
                parts: txn.open_table(PARTS).ctx(OP)?,
            };
            let mut upload_ids = Vec::new();
            for entry in tables
                .index
                .range::<(&[u8], &[u8], i64, &[u8])>(
                    (name.as_bytes(), &[][..], i64::MIN, &[][..])..,
                )
                .ctx(OP)?
            {
                let (key, _) = entry.ctx(OP)?;
                let (bucket, _, _, upload_id) = key.value();
                if bucket != name.as_bytes() {
                    break;
                }
                upload_ids.push(schema::utf8(
                    schema::UPLOAD_INDEX_NAME,
                    upload_id,
                    upload_id,
                )?);
            }
            let mut dead = BTreeSet::new();
            for id in &upload_ids {
                if let Some((upload, parts)) = remove_upload(&mut tables, id, OP)? {
                    dead.extend(crate::records::locations(
                        parts.iter().map(|p| p.blob.as_str()),
                        &upload.replicas,
                    ));
                }
            }

            // Stats rows die with their objects; sweep the bucket's range in case any survived.
            let mut stats = txn.open_table(STATS).ctx(OP)?;
            stats.retain_in::<&[u8], _>(range, |_, _| false).ctx(OP)?;

            buckets.remove(name.as_bytes()).ctx(OP)?;
            let mut garbage = txn.open_table(GARBAGE).ctx(OP)?;
            crate::garbage::insert_garbage(&mut garbage, &dead, schema::now_ms(), OP)
        })
    }
}
