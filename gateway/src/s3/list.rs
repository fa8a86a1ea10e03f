//! Listings: ListObjects (v1), ListObjectsV2 and ListObjectVersions (unversioned buckets: every object is
//! version "null").

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as TOKEN;
use catalog::{AccessKind, ListPage, ObjectRecord};
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::StrataS3;
use super::util::*;

/// Page size when the client sets none, and the most S3 returns in one page.
const MAX_KEYS: usize = 1000;

fn max_keys(requested: Option<i32>) -> S3Result<usize> {
    match requested {
        None => Ok(MAX_KEYS),
        Some(n) if n < 0 => Err(s3_error!(
            InvalidArgument,
            "max-keys must be a non-negative integer"
        )),
        Some(n) => Ok((n as usize).min(MAX_KEYS)),
    }
}

/// Whether keys in the answer must be percent-encoded.
fn url_encoding(e: Option<&EncodingType>) -> S3Result<bool> {
    match e.map(EncodingType::as_str) {
        None => Ok(false),
        Some(s) if s.eq_ignore_ascii_case("url") => Ok(true),
        Some(other) => Err(s3_error!(
            InvalidArgument,
            "Invalid Encoding Method specified in Request: {other}"
        )),
    }
}

fn encode(s: &str, url: bool) -> String {
    if url { url_encode_key(s) } else { s.to_owned() }
}

fn object_entry(key: &str, rec: &ObjectRecord, url: bool) -> Object {
    Object {
        key: Some(encode(key, url)),
        size: i64::try_from(rec.size).ok(),
        e_tag: Some(etag_of(rec)),
        last_modified: Some(ms_to_timestamp(rec.last_modified_ms)),
        storage_class: Some(ObjectStorageClass::from_static(
            ObjectStorageClass::STANDARD,
        )),
        ..Default::default()
    }
}

fn prefixes(page: &ListPage, url: bool) -> Option<Vec<CommonPrefix>> {
    (!page.common_prefixes.is_empty()).then(|| {
        page.common_prefixes
            .iter()
            .map(|p| CommonPrefix {
                prefix: Some(encode(p, url)),
            })
            .collect()
    })
}

impl StrataS3 {
    async fn page(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        after: Option<&str>,
        max: usize,
    ) -> S3Result<ListPage> {
        let (b, p, d, a) = (
            bucket.to_owned(),
            prefix.to_owned(),
            delimiter.map(str::to_owned),
            after.map(str::to_owned),
        );
        let page = self
            .strata
            .with_catalog(move |c| {
                if c.bucket(&b)?.is_none() {
                    return Err(catalog::CatalogError::NoSuchBucket(b));
                }
                c.list_objects(
                    &b,
                    &p,
                    d.as_deref().filter(|d| !d.is_empty()),
                    a.as_deref(),
                    max,
                )
            })
            .await
            .map_err(catalog_err)?;
        self.record(bucket, prefix, AccessKind::List, 0);
        Ok(page)
    }

    pub(super) async fn list_objects_impl(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        let i = req.input;
        let url = url_encoding(i.encoding_type.as_ref())?;
        let max = max_keys(i.max_keys)?;
        let prefix = i.prefix.clone().unwrap_or_default();
        let page = self
            .page(
                &i.bucket,
                &prefix,
                i.delimiter.as_deref(),
                i.marker.as_deref(),
                max,
            )
            .await?;
        let contents: Vec<Object> = page
            .objects
            .iter()
            .map(|(k, r)| object_entry(k, r, url))
            .collect();
        Ok(S3Response::new(ListObjectsOutput {
            name: Some(i.bucket),
            prefix: Some(encode(&prefix, url)),
            marker: Some(i.marker.map(|m| encode(&m, url)).unwrap_or_default()),
            max_keys: Some(max as i32),
            is_truncated: Some(page.is_truncated),
            next_marker: page
                .next_marker
                .as_deref()
                .filter(|_| page.is_truncated)
                .map(|m| encode(m, url)),
            common_prefixes: prefixes(&page, url),
            contents: (!contents.is_empty()).then_some(contents),
            delimiter: i.delimiter.map(|d| encode(&d, url)),
            encoding_type: i.encoding_type,
            ..Default::default()
        }))
    }

    pub(super) async fn list_objects_v2_impl(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let i = req.input;
        let url = url_encoding(i.encoding_type.as_ref())?;
        let max = max_keys(i.max_keys)?;
        let prefix = i.prefix.clone().unwrap_or_default();
        let after = match &i.continuation_token {
            Some(t) => Some(
                TOKEN
                    .decode(t)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or_else(|| {
                        s3_error!(
                            InvalidArgument,
                            "The continuation token provided is incorrect"
                        )
                    })?,
            ),
            None => i.start_after.clone(),
        };
        let page = self
            .page(
                &i.bucket,
                &prefix,
                i.delimiter.as_deref(),
                after.as_deref(),
                max,
            )
            .await?;
        let contents: Vec<Object> = page
            .objects
            .iter()
            .map(|(k, r)| object_entry(k, r, url))
            .collect();
        let key_count = page.objects.len() + page.common_prefixes.len();
        Ok(S3Response::new(ListObjectsV2Output {
            name: Some(i.bucket),
            prefix: Some(encode(&prefix, url)),
            max_keys: Some(max as i32),
            key_count: Some(key_count as i32),
            is_truncated: Some(page.is_truncated),
            continuation_token: i.continuation_token,
            next_continuation_token: page
                .next_marker
                .as_deref()
                .filter(|_| page.is_truncated)
                .map(|m| TOKEN.encode(m.as_bytes())),
            start_after: i.start_after.map(|s| encode(&s, url)),
            common_prefixes: prefixes(&page, url),
            contents: (!contents.is_empty()).then_some(contents),
            delimiter: i.delimiter.map(|d| encode(&d, url)),
            encoding_type: i.encoding_type,
            ..Default::default()
        }))
    }

    pub(super) async fn list_object_versions_impl(
        &self,
        req: S3Request<ListObjectVersionsInput>,
    ) -> S3Result<S3Response<ListObjectVersionsOutput>> {
        let i = req.input;
        let url = url_encoding(i.encoding_type.as_ref())?;
        let max = max_keys(i.max_keys)?;
        let prefix = i.prefix.clone().unwrap_or_default();
        let page = self
            .page(
                &i.bucket,
                &prefix,
                i.delimiter.as_deref(),
                i.key_marker.as_deref(),
                max,
            )
            .await?;
        let versions: Vec<ObjectVersion> = page
            .objects
            .iter()
            .map(|(k, r)| ObjectVersion {
                key: Some(encode(k, url)),
                version_id: Some("null".to_owned()),
                is_latest: Some(true),
                size: i64::try_from(r.size).ok(),
                e_tag: Some(etag_of(r)),
                last_modified: Some(ms_to_timestamp(r.last_modified_ms)),
                storage_class: Some(ObjectVersionStorageClass::from_static(
                    ObjectVersionStorageClass::STANDARD,
                )),
                ..Default::default()
            })
            .collect();
        let next_key = page
            .next_marker
            .as_deref()
            .filter(|_| page.is_truncated)
            .map(|m| encode(m, url));
        Ok(S3Response::new(ListObjectVersionsOutput {
            name: Some(i.bucket),
            prefix: Some(encode(&prefix, url)),
            key_marker: i.key_marker.map(|m| encode(&m, url)),
            version_id_marker: i.version_id_marker,
            max_keys: Some(max as i32),
            is_truncated: Some(page.is_truncated),
            next_version_id_marker: next_key.as_ref().map(|_| "null".to_owned()),
            next_key_marker: next_key,
            common_prefixes: prefixes(&page, url),
            versions: (!versions.is_empty()).then_some(versions),
            delimiter: i.delimiter.map(|d| encode(&d, url)),
            encoding_type: i.encoding_type,
            ..Default::default()
        }))
    }
}
