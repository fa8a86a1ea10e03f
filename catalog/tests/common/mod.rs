//! Shared helpers for the catalog integration tests.
#![allow(dead_code)] // each test binary uses a different subset

use catalog::{
    Catalog, CatalogConfig, NewObject, ObjectMeta, PartRecord, PartRef, PgCatalog, RedbCatalog,
    UploadRecord,
};
use tempfile::TempDir;

/// The database the suite runs against instead of redb when set (`postgres://...`): every catalog the
/// tests open is then a [`PgCatalog`] in a schema of its own. `scripts/test.sh` runs the suite both ways.
pub const PG_URL_VAR: &str = "STRATA_TEST_CATALOG_URL";

/// A fresh, empty catalog (kept alive by the returned `TempDir`): redb in a temporary directory, or a new
/// schema in the database named by [`PG_URL_VAR`].
pub fn open_temp() -> (TempDir, Box<dyn Catalog>) {
    open_temp_with(CatalogConfig::default())
}

pub fn open_temp_with(config: CatalogConfig) -> (TempDir, Box<dyn Catalog>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let catalog = open_at(&dir, config).expect("open catalog");
    (dir, catalog)
}

/// Opens (again) the catalog that belongs to `dir`: the same redb file, or the same schema.
pub fn open_at(dir: &TempDir, config: CatalogConfig) -> catalog::Result<Box<dyn Catalog>> {
    match std::env::var(PG_URL_VAR) {
        Ok(url) if !url.is_empty() => {
            // The temporary directory's name is unique on this machine; the schema is named after it.
            let name = dir
                .path()
                .file_name()
                .expect("tempdir name")
                .to_string_lossy()
                .to_ascii_lowercase()
                .replace(|c: char| !c.is_ascii_alphanumeric(), "_");
            let schema = format!("t_{}_{name}", std::process::id());
            Ok(Box::new(PgCatalog::connect_in_schema(
                &url, &schema, config,
            )?))
        }
        _ => Ok(Box::new(RedbCatalog::open(
            &dir.path().join("catalog.redb"),
            config,
        )?)),
    }
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
        full_object_checksum: false,
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
pub fn garbage_pairs(catalog: &dyn Catalog) -> Vec<(String, String)> {
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
pub fn reopen(dir: &TempDir) -> Box<dyn Catalog> {
    open_at(dir, CatalogConfig::default()).expect("reopen catalog")
}
