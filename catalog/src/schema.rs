//! Table layout, key encodings and value codecs.
//!
//! Layout (all string parts of keys are stored as raw bytes and validated as UTF-8 on the way out,
//! so a damaged row yields [`CatalogError::Corrupt`] instead of a panic inside redb):
//!
//! | table          | key                                              | value                 |
//! |----------------|--------------------------------------------------|-----------------------|
//! | `buckets`      | bucket name                                      | JSON [`BucketRecord`] |
//! | `objects`      | bucket + 0x00 + object key                       | JSON [`ObjectRecord`] |
//! | `access_stats` | same as `objects`                                | JSON [`AccessStats`]  |
//! | `uploads`      | upload id                                        | JSON [`UploadRecord`] |
//! | `upload_index` | (bucket, key, initiated_ms, upload id)           | ()                    |
//! | `upload_parts` | (upload id, part number)                         | JSON [`PartRecord`]   |
//! | `garbage`      | (since_ms, backend, blob)                        | ()                    |
//! | `access_log`   | (at_ms, sequence)                                | JSON [`AccessEvent`]  |
//! | `meta`         | counter name                                     | u64                   |
//! | `moves`        | move id (u64)                                    | JSON [`MoveTask`]     |
//! | `leases`       | lease name                                       | JSON [`LeaseRecord`]  |
//! | `nodes`        | node id                                          | JSON [`NodeRecord`]   |
//! | `secrets`      | secret name                                      | opaque bytes          |
//!
//! Bucket names never contain NUL (enforced by [`object_key`]), so the first 0x00 in an `objects` key
//! separates bucket from key, and a range scan over `bucket + 0x00 ..` yields the bucket's keys in
//! UTF-8 byte order (S3's listing order).
//!
//! [`BucketRecord`]: crate::BucketRecord
//! [`ObjectRecord`]: crate::ObjectRecord
//! [`AccessStats`]: crate::AccessStats
//! [`UploadRecord`]: crate::UploadRecord
//! [`PartRecord`]: crate::PartRecord
//! [`AccessEvent`]: crate::AccessEvent
//! [`MoveTask`]: crate::MoveTask
//! [`LeaseRecord`]: crate::LeaseRecord
//! [`NodeRecord`]: crate::NodeRecord

use redb::{ReadableTable, Table, TableDefinition};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{CatalogError, Result, StorageContext, corrupt};

pub(crate) type UploadIndexKey = (&'static [u8], &'static [u8], i64, &'static [u8]);
pub(crate) type PartKey = (&'static [u8], u32);
pub(crate) type GarbageKey = (i64, &'static [u8], &'static [u8]);
pub(crate) type AccessLogKey = (i64, u64);

pub(crate) const BUCKETS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("buckets");
pub(crate) const OBJECTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("objects");
pub(crate) const STATS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("access_stats");
pub(crate) const UPLOADS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("uploads");
pub(crate) const UPLOAD_INDEX: TableDefinition<UploadIndexKey, ()> =
    TableDefinition::new("upload_index");
pub(crate) const PARTS: TableDefinition<PartKey, &[u8]> = TableDefinition::new("upload_parts");
pub(crate) const GARBAGE: TableDefinition<GarbageKey, ()> = TableDefinition::new("garbage");
pub(crate) const ACCESS_LOG: TableDefinition<AccessLogKey, &[u8]> =
    TableDefinition::new("access_log");
pub(crate) const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
pub(crate) const MOVES: TableDefinition<u64, &[u8]> = TableDefinition::new("moves");
pub(crate) const LEASES: TableDefinition<&str, &[u8]> = TableDefinition::new("leases");
pub(crate) const NODES: TableDefinition<&str, &[u8]> = TableDefinition::new("nodes");
pub(crate) const SECRETS: TableDefinition<&str, &[u8]> = TableDefinition::new("secrets");

/// Table names as used in [`CatalogError::Corrupt`].
pub(crate) const BUCKETS_NAME: &str = "buckets";
pub(crate) const OBJECTS_NAME: &str = "objects";
pub(crate) const STATS_NAME: &str = "access_stats";
pub(crate) const UPLOADS_NAME: &str = "uploads";
pub(crate) const UPLOAD_INDEX_NAME: &str = "upload_index";
pub(crate) const PARTS_NAME: &str = "upload_parts";
pub(crate) const GARBAGE_NAME: &str = "garbage";
pub(crate) const ACCESS_LOG_NAME: &str = "access_log";
pub(crate) const META_NAME: &str = "meta";
pub(crate) const MOVES_NAME: &str = "moves";
pub(crate) const LEASES_NAME: &str = "leases";
pub(crate) const NODES_NAME: &str = "nodes";

/// Layout version written at creation; `open` refuses a file with a newer one.
pub(crate) const SCHEMA_VERSION: u64 = 1;
pub(crate) const META_SCHEMA_VERSION: &str = "schema_version";
/// Last object generation handed out.
pub(crate) const META_LAST_GENERATION: &str = "last_generation";
/// Last move task id handed out.
pub(crate) const META_LAST_MOVE_ID: &str = "last_move_id";
/// Durable commits made by group commit (written so that each one is a real commit).
pub(crate) const META_GROUP_COMMITS: &str = "group_commits";
/// Last access-log sequence number handed out.
pub(crate) const META_LAST_ACCESS_SEQ: &str = "last_access_seq";

/// Rejects bucket names the key encoding cannot represent.
pub(crate) fn check_bucket_name(bucket: &str) -> Result<()> {
    if bucket.is_empty() {
        return Err(CatalogError::InvalidArgument(
            "bucket name is empty".to_owned(),
        ));
    }
    if bucket.as_bytes().contains(&0) {
        return Err(CatalogError::InvalidArgument(format!(
            "bucket name contains NUL: {bucket:?}"
        )));
    }
    Ok(())
}

/// `bucket + 0x00`: the common prefix of every `objects` key in the bucket.
pub(crate) fn bucket_key_prefix(bucket: &str) -> Result<Vec<u8>> {
    check_bucket_name(bucket)?;
    let mut out = Vec::with_capacity(bucket.len() + 1);
    out.extend_from_slice(bucket.as_bytes());
    out.push(0);
    Ok(out)
}

/// The `objects` / `access_stats` key of `bucket`/`key`.
pub(crate) fn object_key(bucket: &str, key: &str) -> Result<Vec<u8>> {
    let mut out = bucket_key_prefix(bucket)?;
    out.extend_from_slice(key.as_bytes());
    Ok(out)
}

/// Splits an `objects` key into `(bucket, key)`.
pub(crate) fn split_object_key(raw: &[u8]) -> Result<(String, String)> {
    let sep = raw
        .iter()
        .position(|b| *b == 0)
        .ok_or_else(|| corrupt(OBJECTS_NAME, lossy(raw), "key has no bucket separator"))?;
    let bucket = utf8(OBJECTS_NAME, raw, &raw[..sep])?;
    let key = utf8(OBJECTS_NAME, raw, &raw[sep + 1..])?;
    Ok((bucket, key))
}

/// The smallest byte string greater than every string that starts with `prefix`, or `None` when
/// no such string exists (`prefix` is empty or all 0xFF).
pub(crate) fn byte_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut out = prefix.to_vec();
    while let Some(last) = out.pop() {
        if last < u8::MAX {
            out.push(last + 1);
            return Some(out);
        }
    }
    None
}

/// `a + b` as bytes.
pub(crate) fn concat(a: &[u8], b: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    out.extend_from_slice(a);
    out.extend_from_slice(b.as_bytes());
    out
}

/// Decodes a UTF-8 key component; `row` is the full key, for the error message.
pub(crate) fn utf8(table: &str, row: &[u8], bytes: &[u8]) -> Result<String> {
    String::from_utf8(bytes.to_vec())
        .map_err(|e| corrupt(table, lossy(row), format!("key is not UTF-8: {e}")))
}

/// A printable rendering of a raw key (NUL shown as `/`).
pub(crate) fn lossy(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).replace('\0', "/")
}

/// Decodes a JSON value; `key` renders the row's key for the error message.
pub(crate) fn decode<T: DeserializeOwned>(
    table: &str,
    key: impl FnOnce() -> String,
    bytes: &[u8],
) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| corrupt(table, key(), format!("bad JSON value: {e}")))
}

/// Encodes a value as JSON.
pub(crate) fn encode<T: Serialize>(what: &str, value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value)
        .map_err(|e| CatalogError::Storage(format!("{what}: cannot encode value: {e}")))
}

/// Reads a counter from `meta` (0 when absent).
pub(crate) fn read_counter(
    meta: &impl ReadableTable<&'static str, u64>,
    name: &str,
    op: &str,
) -> Result<u64> {
    Ok(meta.get(name).ctx(op)?.map(|v| v.value()).unwrap_or(0))
}

/// Reserves `n` consecutive values of a counter and returns the first one. Counters start at 1.
pub(crate) fn reserve_counter(
    meta: &mut Table<&'static str, u64>,
    name: &str,
    n: u64,
    op: &str,
) -> Result<u64> {
    let last = read_counter(meta, name, op)?;
    let new_last = last
        .checked_add(n)
        .ok_or_else(|| corrupt(META_NAME, name, "counter overflow"))?;
    meta.insert(name, new_last).ctx(op)?;
    Ok(last + 1)
}

/// Wall-clock milliseconds since the Unix epoch (0 if the clock is before the epoch).
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn successor_increments_and_carries() {
        assert_eq!(byte_successor(b"a/"), Some(b"a0".to_vec()));
        assert_eq!(byte_successor(&[b'a', 0xFF, 0xFF]), Some(b"b".to_vec()));
        assert_eq!(byte_successor(&[0xFF]), None);
        assert_eq!(byte_successor(b""), None);
    }

    #[test]
    fn object_keys_round_trip_and_reject_nul_buckets() {
        let raw = object_key("bkt", "dir/é\0x").unwrap();
        assert_eq!(
            split_object_key(&raw).unwrap(),
            ("bkt".to_owned(), "dir/é\0x".to_owned())
        );
        assert!(matches!(
            object_key("a\0b", "k"),
            Err(CatalogError::InvalidArgument(_))
        ));
        assert!(matches!(
            split_object_key(b"no-separator"),
            Err(CatalogError::Corrupt { .. })
        ));
        assert!(matches!(
            split_object_key(&[b'b', 0, 0xFF]),
            Err(CatalogError::Corrupt { .. })
        ));
    }
}
