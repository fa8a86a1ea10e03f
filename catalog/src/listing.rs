//! S3 listings (objects and multipart uploads) with prefix, delimiter roll-up and markers.
//!
//! Both listings walk a sorted table from a lower bound. When a key rolls up into a common prefix,
//! the scan does not step through the keys under it: it re-seeks to the byte successor of the
//! common prefix, so a prefix hiding a million keys costs one seek.

use std::ops::Bound;

use crate::error::{Result, StorageContext, corrupt};
use crate::objects::decode_object;
use crate::schema::{
    self, BUCKETS, OBJECTS, OBJECTS_NAME, UPLOAD_INDEX, UPLOAD_INDEX_NAME, UPLOADS,
};
use crate::uploads::decode_upload;
use crate::{ListPage, RedbCatalog, UploadPage};

/// The common prefix `key` rolls up into: `prefix` + everything up to and including the first
/// `delimiter` after `prefix`. `None` when there is no delimiter, `key` does not start with
/// `prefix`, or no delimiter follows the prefix.
pub(crate) fn rollup<'k>(key: &'k str, prefix: &str, delimiter: Option<&str>) -> Option<&'k str> {
    let delimiter = delimiter.filter(|d| !d.is_empty())?;
    let rest = key.strip_prefix(prefix)?;
    let at = rest.find(delimiter)?;
    Some(&key[..prefix.len() + at + delimiter.len()])
}

/// A scan start position in byte-key space.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Lower {
    key: Vec<u8>,
    inclusive: bool,
}

impl Lower {
    /// The later (more restrictive) of two start positions.
    fn max(self, other: Lower) -> Lower {
        match self.key.cmp(&other.key) {
            std::cmp::Ordering::Less => other,
            std::cmp::Ordering::Greater => self,
            std::cmp::Ordering::Equal => Lower {
                key: self.key,
                inclusive: self.inclusive && other.inclusive,
            },
        }
    }

    /// Whether anything can lie between this start and the exclusive `end`.
    fn before(&self, end: Option<&[u8]>) -> bool {
        end.is_none_or(|end| self.key.as_slice() < end)
    }
}

/// Where a listing resumes after an S3 marker: right after `marker`, or, when the marker lies
/// inside a common prefix, after every key under that prefix (the prefix was already returned).
/// `None` when nothing can follow.
fn resume_after(base: &[u8], marker: &str, prefix: &str, delimiter: Option<&str>) -> Option<Lower> {
    match rollup(marker, prefix, delimiter) {
        Some(common) => schema::byte_successor(&schema::concat(base, common)).map(|key| Lower {
            key,
            inclusive: true,
        }),
        None => Some(Lower {
            key: schema::concat(base, marker),
            inclusive: false,
        }),
    }
}

/// A scan start position in the `upload_index` table, within one bucket.
#[derive(Clone, Debug, PartialEq, Eq)]
struct UploadCursor {
    key: Vec<u8>,
    initiated_ms: i64,
    upload_id: Vec<u8>,
    /// Whether an index row exactly at this position is included.
    inclusive: bool,
}

impl UploadCursor {
    /// Before every upload of `key` (and after every smaller key).
    fn at_key(key: Vec<u8>) -> UploadCursor {
        UploadCursor {
            key,
            initiated_ms: i64::MIN,
            upload_id: Vec::new(),
            inclusive: true,
        }
    }

    /// The position in index order (bucket excluded).
    fn position(&self) -> (&[u8], i64, &[u8]) {
        (&self.key, self.initiated_ms, &self.upload_id)
    }
}

impl RedbCatalog {
    /// S3 object listing in UTF-8 byte order.
    ///
    /// * `prefix`: only keys starting with it.
    /// * `delimiter`: `None` or `Some("")` means no grouping. Otherwise a key containing the
    ///   delimiter after `prefix` is rolled up into the common prefix `prefix` + up to and including
    ///   the first delimiter; each common prefix counts once towards `max_keys` and the keys under it
    ///   are skipped with a single seek.
    /// * `after`: exclusive start (marker / start-after / continuation). If it falls inside a common
    ///   prefix, that prefix is not returned again.
    /// * `max_keys == 0` returns an empty, untruncated page.
    ///
    /// `is_truncated` is true only when at least one more key or prefix exists; `next_marker` is then
    /// the last key or common prefix returned. [`crate::CatalogError::NoSuchBucket`] if the bucket
    /// does not exist.
    pub fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        after: Option<&str>,
        max_keys: usize,
    ) -> Result<ListPage> {
        const OP: &str = "list_objects";
        let delimiter = delimiter.filter(|d| !d.is_empty());
        let base = schema::bucket_key_prefix(bucket)?;
        let txn = self.read_txn(OP)?;
        crate::buckets::require_bucket(&txn.open_table(BUCKETS).ctx(OP)?, bucket, OP)?;

        let mut page = ListPage::default();
        if max_keys == 0 {
            return Ok(page);
        }
        let objects = txn.open_table(OBJECTS).ctx(OP)?;

        let scan_start = schema::concat(&base, prefix);
        let end = schema::byte_successor(&scan_start);
        let mut lower = Lower {
            key: scan_start,
            inclusive: true,
        };
        if let Some(marker) = after {
            match resume_after(&base, marker, prefix, delimiter) {
                Some(resume) => lower = lower.max(resume),
                None => return Ok(page),
            }
        }

        let mut returned = 0usize;
        let mut last: Option<String> = None;
        'scan: while lower.before(end.as_deref()) {
            let lower_bound = if lower.inclusive {
                Bound::Included(lower.key.as_slice())
            } else {
                Bound::Excluded(lower.key.as_slice())
            };
            let upper_bound = end.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
            let mut reseek = None;
            for entry in objects.range::<&[u8]>((lower_bound, upper_bound)).ctx(OP)? {
                let (raw_key, value) = entry.ctx(OP)?;
                let raw = raw_key.value();
                let key = raw
                    .get(base.len()..)
                    .ok_or_else(|| {
                        corrupt(
                            OBJECTS_NAME,
                            schema::lossy(raw),
                            "key shorter than its bucket",
                        )
                    })
                    .and_then(|bytes| schema::utf8(OBJECTS_NAME, raw, bytes))?;
                if key.contains(crate::versions::VERSION_SEPARATOR) {
                    // A noncurrent version or a delete marker: listings show current versions only.
                    continue;
                }
                if returned == max_keys {
                    page.is_truncated = true;
                    break 'scan;
                }
                returned += 1;
                if let Some(common) = rollup(&key, prefix, delimiter) {
                    let common = common.to_owned();
                    reseek = schema::byte_successor(&schema::concat(&base, &common));
                    page.common_prefixes.push(common.clone());
                    last = Some(common);
                    break;
                }
                page.objects
                    .push((key.clone(), decode_object(raw, value.value())?));
                last = Some(key);
            }
            match reseek {
                Some(key) => {
                    lower = Lower {
                        key,
                        inclusive: true,
                    }
                }
                None => break,
            }
        }
        if page.is_truncated {
            page.next_marker = last;
        }
        Ok(page)
    }

    /// S3 multipart-upload listing, ordered by (key, initiated, upload id).
    ///
    /// `prefix` and `delimiter` work as in [`Catalog::list_objects`]. `key_marker` alone resumes
    /// after every upload of that key. With `upload_id_marker` too, the listing resumes right after
    /// that upload; if it no longer exists, uploads of `key_marker` are included only when their id
    /// is greater than the marker (S3's rule). `upload_id_marker` without `key_marker` is ignored.
    /// When truncated, the next markers name the last upload returned (or the last common prefix,
    /// with no upload id marker). [`crate::CatalogError::NoSuchBucket`] if the bucket does not exist.
    pub fn list_uploads(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        key_marker: Option<&str>,
        upload_id_marker: Option<&str>,
        max_uploads: usize,
    ) -> Result<UploadPage> {
        const OP: &str = "list_uploads";
        let delimiter = delimiter.filter(|d| !d.is_empty());
        let txn = self.read_txn(OP)?;
        crate::buckets::require_bucket(&txn.open_table(BUCKETS).ctx(OP)?, bucket, OP)?;

        let mut page = UploadPage::default();
        if max_uploads == 0 {
            return Ok(page);
        }
        let uploads = txn.open_table(UPLOADS).ctx(OP)?;
        let index = txn.open_table(UPLOAD_INDEX).ctx(OP)?;

        let mut start = UploadCursor::at_key(prefix.as_bytes().to_vec());
        // Uploads of this key with an id <= this marker are skipped (S3's fallback rule).
        let mut skip_ids_up_to: Option<(&str, &str)> = None;
        if let Some(marker) = key_marker {
            let resume = match rollup(marker, prefix, delimiter) {
                Some(common) => match schema::byte_successor(common.as_bytes()) {
                    Some(next) => UploadCursor::at_key(next),
                    None => return Ok(page),
                },
                None => {
                    let position = match upload_id_marker {
                        Some(id) => match uploads.get(id.as_bytes()).ctx(OP)? {
                            Some(value) => {
                                let upload = decode_upload(id, value.value())?;
                                (upload.bucket == bucket && upload.key == marker)
                                    .then_some(upload.initiated_ms)
                            }
                            None => None,
                        },
                        None => None,
                    };
                    match (upload_id_marker, position) {
                        (Some(id), Some(initiated_ms)) => UploadCursor {
                            key: marker.as_bytes().to_vec(),
                            initiated_ms,
                            upload_id: id.as_bytes().to_vec(),
                            inclusive: false,
                        },
                        (Some(id), None) => {
                            skip_ids_up_to = Some((marker, id));
                            UploadCursor::at_key(marker.as_bytes().to_vec())
                        }
                        // The smallest key after `marker` is `marker` + NUL.
                        (None, _) => {
                            let mut next = marker.as_bytes().to_vec();
                            next.push(0);
                            UploadCursor::at_key(next)
                        }
                    }
                }
            };
            if resume.position() > start.position() {
                start = resume;
            }
        }

        let mut returned = 0usize;
        let mut last: Option<(String, Option<String>)> = None;
        'scan: loop {
            let (key, initiated_ms, upload_id) = start.position();
            let from: (&[u8], &[u8], i64, &[u8]) =
                (bucket.as_bytes(), key, initiated_ms, upload_id);
            let lower_bound = if start.inclusive {
                Bound::Included(from)
            } else {
                Bound::Excluded(from)
            };
            let mut reseek = None;
            for entry in index
                .range::<(&[u8], &[u8], i64, &[u8])>((lower_bound, Bound::Unbounded))
                .ctx(OP)?
            {
                let (index_key, _) = entry.ctx(OP)?;
                let (entry_bucket, raw_key, _, raw_id) = index_key.value();
                if entry_bucket != bucket.as_bytes() || !raw_key.starts_with(prefix.as_bytes()) {
                    break 'scan;
                }
                let row = || {
                    format!(
                        "({bucket}, {}, {})",
                        schema::lossy(raw_key),
                        schema::lossy(raw_id)
                    )
                };
                let key = String::from_utf8(raw_key.to_vec()).map_err(|e| {
                    corrupt(UPLOAD_INDEX_NAME, row(), format!("key is not UTF-8: {e}"))
                })?;
                let upload_id = String::from_utf8(raw_id.to_vec()).map_err(|e| {
                    corrupt(
                        UPLOAD_INDEX_NAME,
                        row(),
                        format!("upload id is not UTF-8: {e}"),
                    )
                })?;
                if let Some((marker_key, marker_id)) = skip_ids_up_to
                    && key == marker_key
                    && upload_id.as_str() <= marker_id
                {
                    continue;
                }
                if returned == max_uploads {
                    page.is_truncated = true;
                    break 'scan;
                }
                returned += 1;
                if let Some(common) = rollup(&key, prefix, delimiter) {
                    let common = common.to_owned();
                    reseek = schema::byte_successor(common.as_bytes());
                    page.common_prefixes.push(common.clone());
                    last = Some((common, None));
                    break;
                }
                let value = uploads
                    .get(upload_id.as_bytes())
                    .ctx(OP)?
                    .ok_or_else(|| corrupt(UPLOAD_INDEX_NAME, row(), "index row without upload"))?;
                page.uploads.push(decode_upload(&upload_id, value.value())?);
                last = Some((key, Some(upload_id)));
            }
            match reseek {
                Some(next) => start = UploadCursor::at_key(next),
                None => break,
            }
        }
        if page.is_truncated
            && let Some((key, id)) = last
        {
            page.next_key_marker = Some(key);
            page.next_upload_id_marker = id;
        }
        Ok(page)
    }
}
