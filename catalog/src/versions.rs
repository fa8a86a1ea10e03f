//! Object versions: how a key's versions are stored, and S3's rules for writing, deleting and listing them,
//! written once over [`KeyRows`] (one transaction's view of a bucket's `objects` rows) so that both
//! implementations keep the same rules.
//!
//! # Layout
//!
//! Every version of a key is a row of the `objects` table:
//!
//! * the row `key` holds the **current version**, when the key's newest version has content;
//! * the row `key + NUL + token` holds every other version and every delete marker, where `token` is
//!   [`version_token`] of the version's `version_seq`: 16 hex digits of `u64::MAX - version_seq`, so that a key's
//!   other rows sort newest first, right after the key's own row and before any longer key (user keys never
//!   contain NUL: [`check_key`]).
//!
//! **Invariant:** when the row `key` exists it is the key's newest version; when it does not, the newest other
//! row, if any, is a delete marker. [`commit`] and [`delete`] keep it (a delete that removes the newest version
//! promotes the next one when it has content).
//!
//! Because every version is a row, everything that walks objects (the planner, the mover's compare-and-swap,
//! scrub, re-seal, usage, orphan collection) sees each stored version as an object of its own, named by its row
//! key, and a move of one version never touches another. Delete markers hold no blobs; [`crate::Catalog::scan_objects`]
//! skips them and S3 listings skip every row that is not a current version.
//!
//! A versioned write's id is its token, so a version is found by id with one lookup; the `null` version (written
//! while the bucket was unversioned or suspended) is found by a walk over the key's rows.

use std::collections::BTreeSet;

use crate::error::{CatalogError, Result};
use crate::listing::rollup;
use crate::schema;
use crate::{
    BucketRecord, DeleteOutcome, NewObject, ObjectMeta, ObjectRecord, PutOutcome, VersionEntry,
    VersionPage, Versioning, WriteCondition,
};

/// Separates a key from a version token in a row key.
pub const VERSION_SEPARATOR: char = '\0';

/// The token of the version created with generation `seq` (also the id S3 shows for it).
pub fn version_token(seq: u64) -> String {
    format!("{:016x}", u64::MAX - seq)
}

/// Whether `id` has the shape of a version id this catalog hands out.
pub fn is_version_id(id: &str) -> bool {
    id.len() == 16 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The row key of a version other than the current one.
pub fn version_row(key: &str, token: &str) -> String {
    let mut row = String::with_capacity(key.len() + 1 + token.len());
    row.push_str(key);
    row.push(VERSION_SEPARATOR);
    row.push_str(token);
    row
}

/// Splits a row key into the object key and, for a row that is not the current version, its token.
pub fn split_row(row: &str) -> (&str, Option<&str>) {
    match row.split_once(VERSION_SEPARATOR) {
        Some((key, token)) => (key, Some(token)),
        None => (row, None),
    }
}

/// Refuses a user key the layout cannot hold (one containing NUL).
pub(crate) fn check_key(key: &str) -> Result<()> {
    if key.contains(VERSION_SEPARATOR) {
        return Err(CatalogError::InvalidArgument(format!(
            "object key contains NUL: {key:?}"
        )));
    }
    Ok(())
}

/// One transaction's read access to one bucket's `objects` rows.
pub(crate) trait KeyRows: RowScan {
    /// The row `row`.
    fn get(&self, row: &str) -> Result<Option<ObjectRecord>>;

    /// Every row `key + NUL + …`, in row order (newest first).
    fn others(&self, key: &str) -> Result<Vec<(String, ObjectRecord)>> {
        self.newest_others(key, usize::MAX)
    }

    /// The first `limit` rows `key + NUL + …` (the newest noncurrent versions and markers).
    fn newest_others(&self, key: &str, limit: usize) -> Result<Vec<(String, ObjectRecord)>> {
        let mut start = key.as_bytes().to_vec();
        start.push(0);
        let mut end = key.as_bytes().to_vec();
        end.push(1);
        self.rows_from(&start, Some(&end), limit)
    }
}

/// One transaction's write access to one bucket's rows, and to what a write touches besides them.
pub(crate) trait KeyRowsMut: KeyRows {
    fn put(&mut self, row: &str, record: &ObjectRecord) -> Result<()>;
    fn remove(&mut self, row: &str) -> Result<()>;
    /// The next object generation.
    fn next_generation(&mut self) -> Result<u64>;
    /// Sends `locations` to the garbage table.
    fn release(&mut self, locations: &BTreeSet<(String, String)>) -> Result<()>;
    /// Drops the key's access stats.
    fn forget_stats(&mut self, key: &str) -> Result<()>;
}

/// Rows of one bucket from a start position, in row order.
pub(crate) trait RowScan {
    /// Up to `limit` rows with key bytes `>= start` (and `< end`, when given).
    fn rows_from(
        &self,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(String, ObjectRecord)>>;
}

/// Commits `obj` as the newest version of `key` under the bucket's versioning (and its Object Lock default
/// retention, for a version that names none), with `cond` checked against the current version: the rule of `put_object` and `complete_upload`. `released` are locations the caller gives
/// up (a completed upload's parts); those the new version does not use go to garbage, as do the blobs of a version
/// the write replaces (unversioned: the current one; suspended: the `null` one).
pub(crate) fn commit(
    rows: &mut impl KeyRowsMut,
    bucket_record: &BucketRecord,
    key: &str,
    obj: NewObject,
    released: BTreeSet<(String, String)>,
    cond: &WriteCondition,
) -> Result<PutOutcome> {
    check_key(key)?;
    let (bucket, versioning) = (bucket_record.name.as_str(), bucket_record.versioning);
    let current = rows.get(key)?;
    cond.check(bucket, key, current.as_ref())?;
    let generation = rows.next_generation()?;
    let mut record = obj.into_record(generation);
    if record.meta.retention.is_none()
        && let Some(default) = bucket_record
            .object_lock
            .and_then(|lock| lock.default_retention)
    {
        record.meta.retention = Some(default.from(record.last_modified_ms));
    }
    let mut dead = released;
    let mut replaced = None;
    match versioning {
        Versioning::Unversioned => replaced = current,
        Versioning::Enabled => {
            record.version_id = Some(version_token(generation));
            if let Some(old) = current {
                demote(rows, key, old)?;
            }
        }
        Versioning::Suspended => {
            replaced = replace_null(rows, key, current)?;
        }
    }
    if let Some(old) = &replaced {
        dead.extend(old.blob_locations());
    }
    let kept = record.blob_locations();
    dead.retain(|location| !kept.contains(location));
    rows.put(key, &record)?;
    rows.release(&dead)?;
    Ok(PutOutcome {
        generation,
        replaced,
        version_id: record.version_id,
        versioning,
    })
}

/// Deletes under the bucket's `versioning`: without `version`, S3's plain delete (unversioned: the object goes;
/// versioned: a delete marker becomes the newest version); with one, that version or marker goes for good, and
/// the next one becomes current if it has content, unless Object Lock protects it at `now_ms`. A version that does
/// not exist is not an error.
#[allow(clippy::too_many_arguments)]
pub(crate) fn delete(
    rows: &mut impl KeyRowsMut,
    versioning: Versioning,
    bucket: &str,
    key: &str,
    version: Option<&str>,
    now_ms: i64,
    bypass_governance: bool,
    expect_seq: Option<u64>,
) -> Result<DeleteOutcome> {
    check_key(key)?;
    let changed = || CatalogError::PreconditionFailed {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
    };
    if let Some(version) = version {
        let Some((row, removed)) = find(rows, key, version)? else {
            return match expect_seq {
                Some(_) => Err(changed()),
                None => Ok(DeleteOutcome::default()),
            };
        };
        if expect_seq.is_some_and(|seq| seq != removed.version_seq) {
            return Err(changed());
        }
        if let Some(reason) = removed.meta.lock_reason(now_ms, bypass_governance) {
            return Err(CatalogError::ObjectLocked {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
                version: version.to_owned(),
                reason,
            });
        }
        rows.remove(&row)?;
        rows.release(&removed.blob_locations())?;
        if row == key {
            rows.forget_stats(key)?;
        }
        promote(rows, key)?;
        return Ok(DeleteOutcome {
            removed: Some(removed),
            marker: None,
        });
    }
    let current = rows.get(key)?;
    if expect_seq.is_some_and(|seq| current.as_ref().map(|c| c.version_seq) != Some(seq)) {
        return Err(changed());
    }
    if versioning == Versioning::Unversioned {
        if let Some(old) = &current {
            rows.remove(key)?;
            rows.forget_stats(key)?;
            rows.release(&old.blob_locations())?;
        }
        return Ok(DeleteOutcome {
            removed: current,
            marker: None,
        });
    }
    if current.is_some() {
        rows.remove(key)?;
    }
    let removed = match versioning {
        Versioning::Suspended => replace_null(rows, key, current)?,
        _ => {
            if let Some(old) = current {
                demote(rows, key, old)?;
            }
            None
        }
    };
    if let Some(old) = &removed {
        rows.release(&old.blob_locations())?;
    }
    let generation = rows.next_generation()?;
    let token = version_token(generation);
    let marker = ObjectRecord {
        generation,
        size: 0,
        etag: String::new(),
        last_modified_ms: now_ms,
        parts: Vec::new(),
        replicas: Vec::new(),
        meta: Default::default(),
        version_id: (versioning == Versioning::Enabled).then(|| token.clone()),
        delete_marker: true,
        version_seq: generation,
        moved_ms: 0,
    };
    rows.put(&version_row(key, &token), &marker)?;
    rows.forget_stats(key)?;
    Ok(DeleteOutcome {
        removed,
        marker: Some(marker),
    })
}

/// The version of `key` labelled `version` (an id, or `null`) and its row key.
pub(crate) fn find(
    rows: &impl KeyRows,
    key: &str,
    version: &str,
) -> Result<Option<(String, ObjectRecord)>> {
    check_key(key)?;
    if let Some(current) = rows.get(key)?
        && current.version_label() == version
    {
        return Ok(Some((key.to_owned(), current)));
    }
    if version == "null" {
        return Ok(rows
            .others(key)?
            .into_iter()
            .find(|(_, r)| r.version_id.is_none()));
    }
    if !is_version_id(version) {
        return Ok(None);
    }
    let row = version_row(key, version);
    Ok(rows
        .get(&row)?
        .filter(|r| r.version_id.as_deref() == Some(version))
        .map(|r| (row, r)))
}

/// Changes the metadata of `key`'s version labelled `version` with `change` (a delete marker is returned
/// unchanged); `None` when there is no such version.
pub(crate) fn update_meta(
    rows: &mut impl KeyRowsMut,
    key: &str,
    version: &str,
    change: &mut dyn FnMut(&mut ObjectMeta),
) -> Result<Option<ObjectRecord>> {
    let Some((row, mut record)) = find(rows, key, version)? else {
        return Ok(None);
    };
    if !record.delete_marker {
        change(&mut record.meta);
        rows.put(&row, &record)?;
    }
    Ok(Some(record))
}

/// Moves the current version `old` (already read from the row `key`) to its own row among the others.
fn demote(rows: &mut impl KeyRowsMut, key: &str, mut old: ObjectRecord) -> Result<()> {
    if old.version_seq == 0 {
        // Written before versioning existed: its latest generation still orders it before every newer write.
        old.version_seq = old.generation;
    }
    rows.put(&version_row(key, &version_token(old.version_seq)), &old)?;
    rows.remove(key)
}

/// Suspended versioning's rule: the `null` version goes (returned, its row removed; its blobs are the caller's to
/// release), a current version with an id is kept among the others.
fn replace_null(
    rows: &mut impl KeyRowsMut,
    key: &str,
    current: Option<ObjectRecord>,
) -> Result<Option<ObjectRecord>> {
    let mut replaced = None;
    if let Some(old) = current {
        if old.version_id.is_none() {
            replaced = Some(old);
        } else {
            demote(rows, key, old)?;
        }
    }
    if let Some((row, null)) = rows
        .others(key)?
        .into_iter()
        .find(|(_, r)| r.version_id.is_none())
    {
        rows.remove(&row)?;
        replaced = match replaced {
            // Cannot happen while the invariant holds (one `null` version per key); keep both blobs' fates right.
            Some(first) => {
                rows.release(&null.blob_locations())?;
                Some(first)
            }
            None => Some(null),
        };
    }
    Ok(replaced)
}

/// Restores the invariant after a version was removed: with no current row, the newest other row becomes current
/// when it has content.
fn promote(rows: &mut impl KeyRowsMut, key: &str) -> Result<()> {
    if rows.get(key)?.is_some() {
        return Ok(());
    }
    if let Some((row, newest)) = rows.newest_others(key, 1)?.into_iter().next()
        && !newest.delete_marker
    {
        rows.remove(&row)?;
        rows.put(key, &newest)?;
    }
    Ok(())
}

/// S3's ListObjectVersions over one bucket's rows: keys in byte order, each key's versions newest first, with
/// `prefix`, `delimiter` (each common prefix counts once towards `max_keys`), and the markers: `key_marker` alone
/// resumes after every version of that key, with `version_id_marker` right after that version.
pub(crate) fn list(
    rows: &impl KeyRows,
    prefix: &str,
    delimiter: Option<&str>,
    key_marker: Option<&str>,
    version_id_marker: Option<&str>,
    max_keys: usize,
) -> Result<VersionPage> {
    const BATCH: usize = 256;
    let delimiter = delimiter.filter(|d| !d.is_empty());
    let mut page = VersionPage::default();
    if max_keys == 0 {
        return Ok(page);
    }
    let end = schema::byte_successor(prefix.as_bytes());
    let mut start = prefix.as_bytes().to_vec();
    // The key whose newest version was already passed (so its next rows are not the latest).
    let mut seen_key: Option<String> = None;
    if let Some(marker) = key_marker.filter(|m| !m.is_empty()) {
        let resume = match (rollup(marker, prefix, delimiter), version_id_marker) {
            (Some(common), _) => match schema::byte_successor(common.as_bytes()) {
                Some(after) => after,
                None => return Ok(page),
            },
            (None, Some(version)) if !version.is_empty() => {
                seen_key = Some(marker.to_owned());
                let row = if version == "null" {
                    null_row(rows, marker)?.unwrap_or_else(|| marker.to_owned())
                } else if is_version_id(version) {
                    version_row(marker, version)
                } else {
                    return Err(CatalogError::InvalidArgument(format!(
                        "invalid version id marker {version:?}"
                    )));
                };
                let mut after = row.into_bytes();
                after.push(0);
                after
            }
            // After the key's own row and every `key + NUL + …` row.
            (None, _) => {
                let mut after = marker.as_bytes().to_vec();
                after.push(1);
                after
            }
        };
        if resume > start {
            start = resume;
        }
    }
    let mut count = 0usize;
    'scan: loop {
        if end.as_deref().is_some_and(|end| start.as_slice() >= end) {
            break;
        }
        // No more rows than the page can use (a short page still continues below when the batch came back full).
        let want = BATCH.min(max_keys - count + 1);
        let batch = rows.rows_from(&start, end.as_deref(), want)?;
        let fetched = batch.len();
        let mut reseek = None;
        let mut last_row = None;
        for (row, record) in batch {
            let (key, _) = split_row(&row);
            if let Some(common) = rollup(key, prefix, delimiter) {
                if count == max_keys {
                    page.is_truncated = true;
                    break 'scan;
                }
                count += 1;
                let common = common.to_owned();
                page.next_key_marker = Some(common.clone());
                page.next_version_id_marker = None;
                reseek = schema::byte_successor(common.as_bytes());
                page.common_prefixes.push(common);
                if reseek.is_none() {
                    break 'scan;
                }
                break;
            }
            if count == max_keys {
                page.is_truncated = true;
                break 'scan;
            }
            count += 1;
            let is_latest = seen_key.as_deref() != Some(key);
            seen_key = Some(key.to_owned());
            page.next_key_marker = Some(key.to_owned());
            page.next_version_id_marker = Some(record.version_label().to_owned());
            page.versions.push(VersionEntry {
                key: key.to_owned(),
                record,
                is_latest,
            });
            last_row = Some(row);
        }
        match (reseek, last_row) {
            (Some(next), _) => start = next,
            (None, Some(row)) if fetched == want => {
                start = row.into_bytes();
                start.push(0);
            }
            _ => break,
        }
    }
    if !page.is_truncated {
        page.next_key_marker = None;
        page.next_version_id_marker = None;
    }
    Ok(page)
}

/// The row key of `key`'s `null` version among its other rows, if it has one there.
fn null_row(rows: &impl KeyRows, key: &str) -> Result<Option<String>> {
    Ok(rows
        .others(key)?
        .into_iter()
        .find(|(_, r)| r.version_id.is_none())
        .map(|(row, _)| row))
}
