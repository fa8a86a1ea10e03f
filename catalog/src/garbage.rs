//! The garbage table and start-up orphan collection support.

use std::collections::{BTreeSet, HashMap, HashSet};

use redb::{ReadableTable, Table};

use crate::error::{Result, StorageContext};
use crate::schema::{
    self, GARBAGE, GARBAGE_NAME, GarbageKey, OBJECTS, OBJECTS_NAME, PARTS, PARTS_NAME, UPLOADS,
    UPLOADS_NAME,
};
use crate::{GarbageBlob, ObjectRecord, PartRecord, RedbCatalog, UploadRecord};

/// Inserts `locations` (`(backend, blob)` pairs) into the garbage table as of `since_ms` and returns
/// them as [`GarbageBlob`]s.
pub(crate) fn insert_garbage(
    table: &mut Table<GarbageKey, ()>,
    locations: &BTreeSet<(String, String)>,
    since_ms: i64,
    op: &str,
) -> Result<Vec<GarbageBlob>> {
    let mut out = Vec::with_capacity(locations.len());
    for (backend, blob) in locations {
        table
            .insert((since_ms, backend.as_bytes(), blob.as_bytes()), ())
            .ctx(op)?;
        out.push(GarbageBlob {
            backend: backend.clone(),
            blob: blob.clone(),
            since_ms,
        });
    }
    Ok(out)
}

/// The subset of `locations` present in the garbage table (a scan: the table is small, it only holds blobs
/// waiting for their grace period).
pub(crate) fn pending_in(
    table: &impl ReadableTable<GarbageKey, ()>,
    locations: &BTreeSet<(String, String)>,
    op: &str,
) -> Result<BTreeSet<(String, String)>> {
    let mut out = BTreeSet::new();
    if locations.is_empty() {
        return Ok(out);
    }
    for entry in table.iter().ctx(op)? {
        let (key, _) = entry.ctx(op)?;
        let (since, backend, blob) = key.value();
        let item = decode_garbage_key(since, backend, blob)?;
        let pair = (item.backend, item.blob);
        if locations.contains(&pair) {
            out.insert(pair);
        }
    }
    Ok(out)
}

fn decode_garbage_key(since_ms: i64, backend: &[u8], blob: &[u8]) -> Result<GarbageBlob> {
    let row = || {
        format!(
            "({since_ms}, {}, {})",
            schema::lossy(backend),
            schema::lossy(blob)
        )
    };
    let text = |bytes: &[u8]| {
        String::from_utf8(bytes.to_vec()).map_err(|e| {
            crate::error::corrupt(GARBAGE_NAME, row(), format!("key is not UTF-8: {e}"))
        })
    };
    Ok(GarbageBlob {
        backend: text(backend)?,
        blob: text(blob)?,
        since_ms,
    })
}

impl RedbCatalog {
    /// Up to `limit` garbage blobs, oldest (`since_ms`) first, so a reaper that stops at the first
    /// blob still inside its grace period never starves older ones.
    pub fn garbage(&self, limit: usize) -> Result<Vec<GarbageBlob>> {
        const OP: &str = "garbage";
        let txn = self.read_txn(OP)?;
        let table = txn.open_table(GARBAGE).ctx(OP)?;
        let mut out = Vec::new();
        for entry in table.iter().ctx(OP)?.take(limit) {
            let (key, _) = entry.ctx(OP)?;
            let (since, backend, blob) = key.value();
            out.push(decode_garbage_key(since, backend, blob)?);
        }
        Ok(out)
    }

    /// Removes garbage entries (after the reaper deleted the blobs). Items must be as returned by
    /// [`Catalog::garbage`] (the `since_ms` is part of the entry's identity); unknown items are
    /// ignored.
    pub fn remove_garbage(&self, items: &[GarbageBlob]) -> Result<()> {
        const OP: &str = "remove_garbage";
        if items.is_empty() {
            return Ok(());
        }
        self.write_durable(OP, |txn| {
            let mut table = txn.open_table(GARBAGE).ctx(OP)?;
            for item in items {
                table
                    .remove((item.since_ms, item.backend.as_bytes(), item.blob.as_bytes()))
                    .ctx(OP)?;
            }
            Ok(())
        })
    }

    /// Which of `locations` (`(backend, blob)` pairs) still wait in the garbage table. A blob may only be
    /// written again at a location once its pending deletion is done, or the reaper would delete the new copy.
    pub fn pending_garbage(
        &self,
        locations: &BTreeSet<(String, String)>,
    ) -> Result<BTreeSet<(String, String)>> {
        const OP: &str = "pending_garbage";
        let txn = self.read_txn(OP)?;
        let table = txn.open_table(GARBAGE).ctx(OP)?;
        pending_in(&table, locations, OP)
    }

    /// Every `(backend, blob)` referenced by an object, an upload part (on each of its upload's
    /// replicas), or the garbage table. A blob found on a backend but absent here is an orphan
    /// (e.g. written before a crash and never committed) and may be deleted.
    ///
    /// Reads one consistent snapshot; cost is linear in the catalog size.
    pub fn referenced_blobs(&self) -> Result<HashSet<(String, String)>> {
        const OP: &str = "referenced_blobs";
        let txn = self.read_txn(OP)?;
        let mut out = HashSet::new();

        let objects = txn.open_table(OBJECTS).ctx(OP)?;
        for entry in objects.iter().ctx(OP)? {
            let (key, value) = entry.ctx(OP)?;
            let raw = key.value();
            let record: ObjectRecord =
                schema::decode(OBJECTS_NAME, || schema::lossy(raw), value.value())?;
            out.extend(record.blob_locations());
        }

        let uploads = txn.open_table(UPLOADS).ctx(OP)?;
        let mut replicas_by_upload: HashMap<String, Vec<String>> = HashMap::new();
        for entry in uploads.iter().ctx(OP)? {
            let (key, value) = entry.ctx(OP)?;
            let raw = key.value();
            let upload: UploadRecord =
                schema::decode(UPLOADS_NAME, || schema::lossy(raw), value.value())?;
            replicas_by_upload.insert(upload.upload_id, upload.replicas);
        }

        let parts = txn.open_table(PARTS).ctx(OP)?;
        for entry in parts.iter().ctx(OP)? {
            let (key, value) = entry.ctx(OP)?;
            let (upload_id, number) = key.value();
            let part: PartRecord = schema::decode(
                PARTS_NAME,
                || format!("({}, {number})", schema::lossy(upload_id)),
                value.value(),
            )?;
            let upload_id = String::from_utf8_lossy(upload_id);
            // A part whose upload row is missing has no known backends; nothing to report.
            if let Some(replicas) = replicas_by_upload.get(upload_id.as_ref()) {
                for backend in replicas {
                    out.insert((backend.clone(), part.blob.clone()));
                }
            }
        }

        let garbage = txn.open_table(GARBAGE).ctx(OP)?;
        for entry in garbage.iter().ctx(OP)? {
            let (key, _) = entry.ctx(OP)?;
            let (since, backend, blob) = key.value();
            let item = decode_garbage_key(since, backend, blob)?;
            out.insert((item.backend, item.blob));
        }
        Ok(out)
    }
}
