//! Shared helpers for the catalog integration tests.
#![allow(dead_code)] // each test binary uses a different subset

use catalog::{Catalog, CatalogConfig, NewObject, ObjectMeta, PartRecord, PartRef, UploadRecord};
use tempfile::TempDir;

/// A catalog in a fresh temporary directory (kept alive by the returned `TempDir`).
pub fn open_temp() -> (TempDir, Catalog) {
    open_temp_with(CatalogConfig::default())
}

pub fn open_temp_with(config: CatalogConfig) -> (TempDir, Catalog) {
    let dir = tempfile::tempdir().expect("tempdir");
    let catalog = Catalog::open(&dir.path().join("catalog.redb"), config).expect("open catalog");
    (dir, catalog)
}

/// A part reference for blob `blob` of `size` bytes.
pub fn part(blob: &str, size: u64) -> PartRef {
    PartRef {
        blob: blob.to_owned(),
        size,
        blake3: format!("b3-{blob}"),
        etag: format!("md5-{blob}"),
    }
}

/// An object made of the given blobs, stored on the given backends.
pub fn object(blobs: &[&str], replicas: &[&str]) -> NewObject {
    let parts: Vec<PartRef> = blobs.iter().map(|b| part(b, 10)).collect();
    NewObject {
        size: 10 * parts.len() as u64,
        etag: "etag".to_owned(),
        last_modified_ms: 1_000,
        parts,
        replicas: replicas.iter().map(|r| r.to_string()).collect(),
        meta: ObjectMeta::default(),
    }
}

/// A single-blob object on backend "b1".
pub fn simple(blob: &str) -> NewObject {
    object(&[blob], &["b1"])
}

pub fn upload(
    id: &str,
    bucket: &str,
    key: &str,
    initiated_ms: i64,
    replicas: &[&str],
) -> UploadRecord {
    UploadRecord {
        upload_id: id.to_owned(),
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        initiated_ms,
        meta: ObjectMeta::default(),
        replicas: replicas.iter().map(|r| r.to_string()).collect(),
        checksum_algorithm: None,
    }
}

pub fn part_record(number: u32, blob: &str) -> PartRecord {
    PartRecord {
        part_number: number,
        blob: blob.to_owned(),
        size: 5,
        etag: format!("md5-{blob}"),
        blake3: format!("b3-{blob}"),
        last_modified_ms: 2_000,
        checksums: Default::default(),
    }
}

/// The garbage table as sorted `(backend, blob)` pairs.
pub fn garbage_pairs(catalog: &Catalog) -> Vec<(String, String)> {
    let mut out: Vec<_> = catalog
        .garbage(usize::MAX)
        .expect("garbage")
        .into_iter()
        .map(|g| (g.backend, g.blob))
        .collect();
    out.sort();
    out
}

pub fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out: Vec<_> = items
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    out.sort();
    out
}

/// Opens the catalog in `dir` again (after the previous handle was dropped).
pub fn reopen(dir: &TempDir) -> Catalog {
    Catalog::open(&dir.path().join("catalog.redb"), CatalogConfig::default())
        .expect("reopen catalog")
}
