//! Multipart uploads: creation, parts, completion, abort.

use std::collections::BTreeSet;

use redb::{ReadableTable, Table};

use crate::error::{CatalogError, Result, StorageContext};
use crate::objects::commit_object;
use crate::schema::{
    self, BUCKETS, GARBAGE, PARTS, PARTS_NAME, PartKey, UPLOAD_INDEX, UPLOADS, UPLOADS_NAME,
    UploadIndexKey,
};
use crate::{GarbageBlob, NewObject, PartRecord, PutOutcome, RedbCatalog, UploadRecord};

/// The three tables that together hold open uploads, opened in one write transaction.
pub(crate) struct UploadTables<'txn> {
    pub(crate) uploads: Table<'txn, &'static [u8], &'static [u8]>,
    pub(crate) index: Table<'txn, UploadIndexKey, ()>,
    pub(crate) parts: Table<'txn, PartKey, &'static [u8]>,
}

/// Decodes an `uploads` value.
pub(crate) fn decode_upload(upload_id: &str, bytes: &[u8]) -> Result<UploadRecord> {
    schema::decode(UPLOADS_NAME, || upload_id.to_owned(), bytes)
}

fn get_upload(
    uploads: &impl ReadableTable<&'static [u8], &'static [u8]>,
    upload_id: &str,
    op: &str,
) -> Result<Option<UploadRecord>> {
    match uploads.get(upload_id.as_bytes()).ctx(op)? {
        Some(value) => decode_upload(upload_id, value.value()).map(Some),
        None => Ok(None),
    }
}

/// All parts of `upload_id`, ascending by part number.
fn read_parts(
    parts: &impl ReadableTable<PartKey, &'static [u8]>,
    upload_id: &str,
    op: &str,
) -> Result<Vec<PartRecord>> {
    let id = upload_id.as_bytes();
    let mut out = Vec::new();
    for entry in parts
        .range::<(&[u8], u32)>((id, 0)..=(id, u32::MAX))
        .ctx(op)?
    {
        let (key, value) = entry.ctx(op)?;
        let (_, number) = key.value();
        out.push(schema::decode(
            PARTS_NAME,
            || format!("({upload_id}, {number})"),
            value.value(),
        )?);
    }
    Ok(out)
}

/// Removes an upload, its index row and all its parts. Returns what was removed, or `None` when the
/// upload does not exist.
pub(crate) fn remove_upload(
    tables: &mut UploadTables<'_>,
    upload_id: &str,
    op: &str,
) -> Result<Option<(UploadRecord, Vec<PartRecord>)>> {
    let upload = {
        let Some(value) = tables.uploads.remove(upload_id.as_bytes()).ctx(op)? else {
            return Ok(None);
        };
        decode_upload(upload_id, value.value())?
    };
    tables
        .index
        .remove((
            upload.bucket.as_bytes(),
            upload.key.as_bytes(),
            upload.initiated_ms,
            upload_id.as_bytes(),
        ))
        .ctx(op)?;
    let parts = read_parts(&tables.parts, upload_id, op)?;
    let id = upload_id.as_bytes();
    tables
        .parts
        .retain_in::<(&[u8], u32), _>((id, 0)..=(id, u32::MAX), |_, _| false)
        .ctx(op)?;
    Ok(Some((upload, parts)))
}

impl RedbCatalog {
    /// Registers a new multipart upload. [`CatalogError::NoSuchBucket`] if `upload.bucket` does not
    /// exist; [`CatalogError::InvalidArgument`] for an empty or already used upload id.
    pub fn create_upload(&self, upload: UploadRecord) -> Result<()> {
        const OP: &str = "create_upload";
        if upload.upload_id.is_empty() {
            return Err(CatalogError::InvalidArgument(
                "upload id is empty".to_owned(),
            ));
        }
        self.write_durable(OP, |txn| {
            let buckets = txn.open_table(BUCKETS).ctx(OP)?;
            crate::buckets::require_bucket(&buckets, &upload.bucket, OP)?;
            let mut uploads = txn.open_table(UPLOADS).ctx(OP)?;
            if uploads.get(upload.upload_id.as_bytes()).ctx(OP)?.is_some() {
                return Err(CatalogError::InvalidArgument(format!(
                    "upload id already in use: {}",
                    upload.upload_id
                )));
            }
            let value = schema::encode(OP, &upload)?;
            uploads
                .insert(upload.upload_id.as_bytes(), value.as_slice())
                .ctx(OP)?;
            let mut index = txn.open_table(UPLOAD_INDEX).ctx(OP)?;
            index
                .insert(
                    (
                        upload.bucket.as_bytes(),
                        upload.key.as_bytes(),
                        upload.initiated_ms,
                        upload.upload_id.as_bytes(),
                    ),
                    (),
                )
                .ctx(OP)?;
            Ok(())
        })
    }

    /// The upload's record, or `None` once it was completed or aborted (or never existed).
    pub fn upload(&self, upload_id: &str) -> Result<Option<UploadRecord>> {
        const OP: &str = "upload";
        let txn = self.read_txn(OP)?;
        let uploads = txn.open_table(UPLOADS).ctx(OP)?;
        get_upload(&uploads, upload_id, OP)
    }

    /// Stores a part. A previous part with the same number is replaced, and its blob goes to
    /// garbage on every backend of the upload's replicas (unless the new part reuses the same blob).
    /// [`CatalogError::NoSuchUpload`] if the upload was aborted or completed.
    pub fn put_part(&self, upload_id: &str, part: PartRecord) -> Result<()> {
        const OP: &str = "put_part";
        self.write_durable(OP, |txn| {
            let uploads = txn.open_table(UPLOADS).ctx(OP)?;
            let upload = get_upload(&uploads, upload_id, OP)?
                .ok_or_else(|| CatalogError::NoSuchUpload(upload_id.to_owned()))?;
            let mut parts = txn.open_table(PARTS).ctx(OP)?;
            let key = (upload_id.as_bytes(), part.part_number);
            let value = schema::encode(OP, &part)?;
            let replaced: Option<PartRecord> = match parts.insert(key, value.as_slice()).ctx(OP)? {
                Some(old) => Some(schema::decode(
                    PARTS_NAME,
                    || format!("({upload_id}, {})", part.part_number),
                    old.value(),
                )?),
                None => None,
            };
            if let Some(old) = replaced.filter(|old| old.blob != part.blob) {
                let dead = crate::records::locations([old.blob.as_str()], &upload.replicas);
                let mut garbage = txn.open_table(GARBAGE).ctx(OP)?;
                crate::garbage::insert_garbage(&mut garbage, &dead, schema::now_ms(), OP)?;
            }
            Ok(())
        })
    }

    /// The upload's parts in ascending part number. [`CatalogError::NoSuchUpload`] if it is gone.
    pub fn list_parts(&self, upload_id: &str) -> Result<Vec<PartRecord>> {
        const OP: &str = "list_parts";
        let txn = self.read_txn(OP)?;
        let uploads = txn.open_table(UPLOADS).ctx(OP)?;
        if uploads.get(upload_id.as_bytes()).ctx(OP)?.is_none() {
            return Err(CatalogError::NoSuchUpload(upload_id.to_owned()));
        }
        let parts = txn.open_table(PARTS).ctx(OP)?;
        read_parts(&parts, upload_id, OP)
    }

    /// Atomically removes the upload and all its parts and commits `obj` at the upload's bucket/key
    /// exactly like [`Catalog::put_object`]. Part blobs of the upload that `obj` does not reference
    /// (per backend) go to garbage, as do the replaced version's blobs.
    /// [`CatalogError::NoSuchUpload`] if the upload is gone.
    pub fn complete_upload(&self, upload_id: &str, obj: NewObject) -> Result<PutOutcome> {
        self.complete_upload_if(upload_id, obj, &crate::WriteCondition::Always)
    }

    /// [`RedbCatalog::complete_upload`] when `cond` holds for the key's current version (checked in the
    /// same transaction); otherwise nothing changes, the upload stays open, and the check's error is returned.
    pub fn complete_upload_if(
        &self,
        upload_id: &str,
        obj: NewObject,
        cond: &crate::WriteCondition,
    ) -> Result<PutOutcome> {
        const OP: &str = "complete_upload";
        self.write_durable(OP, |txn| {
            let (upload, parts) = {
                let mut tables = UploadTables {
                    uploads: txn.open_table(UPLOADS).ctx(OP)?,
                    index: txn.open_table(UPLOAD_INDEX).ctx(OP)?,
                    parts: txn.open_table(PARTS).ctx(OP)?,
                };
                remove_upload(&mut tables, upload_id, OP)?
                    .ok_or_else(|| CatalogError::NoSuchUpload(upload_id.to_owned()))?
            };
            let released: BTreeSet<(String, String)> =
                crate::records::locations(parts.iter().map(|p| p.blob.as_str()), &upload.replicas);
            commit_object(txn, &upload.bucket, &upload.key, obj, released, cond, OP)
        })
    }

    /// Removes the upload and its parts; their blobs (on every backend of the upload) go to
    /// garbage and are returned. [`CatalogError::NoSuchUpload`] if the upload is gone.
    pub fn abort_upload(&self, upload_id: &str) -> Result<Vec<GarbageBlob>> {
        const OP: &str = "abort_upload";
        self.write_durable(OP, |txn| {
            let mut tables = UploadTables {
                uploads: txn.open_table(UPLOADS).ctx(OP)?,
                index: txn.open_table(UPLOAD_INDEX).ctx(OP)?,
                parts: txn.open_table(PARTS).ctx(OP)?,
            };
            let (upload, parts) = remove_upload(&mut tables, upload_id, OP)?
                .ok_or_else(|| CatalogError::NoSuchUpload(upload_id.to_owned()))?;
            let dead =
                crate::records::locations(parts.iter().map(|p| p.blob.as_str()), &upload.replicas);
            let mut garbage = txn.open_table(GARBAGE).ctx(OP)?;
            crate::garbage::insert_garbage(&mut garbage, &dead, schema::now_ms(), OP)
        })
    }
}
