//! Listings: ListObjects (v1), ListObjectsV2 and ListObjectVersions.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as TOKEN;
use catalog::{AccessKind, ListPage, ObjectRecord};
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::StrataS3;
use super::errors::catalog_err;
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

/// What the three list operations share: the request's common arguments, checked, and one catalog page.
struct Listing {
    page: ListPage,
    /// Keys in the answer are percent-encoded (`encoding-type=url`).
    url: bool,
    max: usize,
    prefix: String,
}

/// The common arguments of a list request, as the client sent them.
struct ListArgs<'a> {
    bucket: &'a str,
    prefix: Option<&'a str>,
    delimiter: Option<&'a str>,
    after: Option<&'a str>,
    max_keys: Option<i32>,
    encoding: Option<&'a EncodingType>,
}

impl Listing {
    fn encode(&self, s: &str) -> String {
        encode(s, self.url)
    }

    /// Where the next page starts, when this one is truncated.
    fn next_marker(&self) -> Option<&str> {
        self.page
            .next_marker
            .as_deref()
            .filter(|_| self.page.is_truncated)
    }

    /// The page's objects, each with its owner (its writer where ACLs count, else `bucket_owner`) when `bucket_owner`
    /// is given (ListObjects always reports owners, ListObjectsV2 with `fetch-owner`).
    fn contents(&self, bucket_owner: Option<&str>) -> Option<Vec<Object>> {
        let v: Vec<Object> = self
            .page
            .objects
            .iter()
            .map(|(k, r)| Object {
                owner: bucket_owner
                    .map(|b| super::acl::owner_dto(r.meta.owner.as_deref().unwrap_or(b))),
                ..object_entry(k, r, self.url)
            })
            .collect();
        (!v.is_empty()).then_some(v)
    }

    fn common_prefixes(&self) -> Option<Vec<CommonPrefix>> {
        (!self.page.common_prefixes.is_empty()).then(|| {
            self.page
                .common_prefixes
                .iter()
                .map(|p| CommonPrefix {
                    prefix: Some(self.encode(p)),
                })
                .collect()
        })
    }
}

impl StrataS3 {
    /// Checks the common arguments, reads one page from the catalog and records the listing.
    async fn listing(&self, a: ListArgs<'_>) -> S3Result<Listing> {
        let url = url_encoding(a.encoding)?;
        let max = max_keys(a.max_keys)?;
        let prefix = a.prefix.unwrap_or_default().to_owned();
        let (b, p, d, after) = (
            a.bucket.to_owned(),
            prefix.clone(),
            a.delimiter.filter(|d| !d.is_empty()).map(str::to_owned),
            a.after.map(str::to_owned),
        );
        let page = self
            .strata
            .with_catalog(move |c| {
                if c.bucket(&b)?.is_none() {
                    return Err(catalog::CatalogError::NoSuchBucket(b));
                }
                c.list_objects(&b, &p, d.as_deref(), after.as_deref(), max)
            })
            .await
            .map_err(catalog_err)?;
        self.record(a.bucket, &prefix, AccessKind::List, 0);
        Ok(Listing {
            page,
            url,
            max,
            prefix,
        })
    }

    pub(super) async fn list_objects_impl(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        let owner = self
            .bucket_owner_id(&req.input.bucket, req.credentials.as_ref())
            .await;
        let i = req.input;
        let l = self
            .listing(ListArgs {
                bucket: &i.bucket,
                prefix: i.prefix.as_deref(),
                delimiter: i.delimiter.as_deref(),
                after: i.marker.as_deref(),
                max_keys: i.max_keys,
                encoding: i.encoding_type.as_ref(),
            })
            .await?;
        Ok(S3Response::new(ListObjectsOutput {
            // ListObjects (v1) answers the prefix as given even with `encoding-type=url` (botocore decodes only
            // the delimiter, markers, keys and common prefixes of a v1 answer); v2 encodes it.
            prefix: Some(l.prefix.clone()),
            marker: Some(i.marker.map(|m| l.encode(&m)).unwrap_or_default()),
            max_keys: Some(l.max as i32),
            is_truncated: Some(l.page.is_truncated),
            // S3 returns NextMarker only with a delimiter; without one the last key is the next marker.
            next_marker: l
                .next_marker()
                .filter(|_| i.delimiter.as_deref().is_some_and(|d| !d.is_empty()))
                .map(|m| l.encode(m)),
            common_prefixes: l.common_prefixes(),
            contents: l.contents(owner.as_deref()),
            delimiter: i.delimiter.filter(|d| !d.is_empty()).map(|d| l.encode(&d)),
            name: Some(i.bucket),
            encoding_type: i.encoding_type,
            ..Default::default()
        }))
    }

    pub(super) async fn list_objects_v2_impl(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let owner = match req.input.fetch_owner {
            Some(true) => {
                self.bucket_owner_id(&req.input.bucket, req.credentials.as_ref())
                    .await
            }
            _ => None,
        };
        let i = req.input;
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
        let l = self
            .listing(ListArgs {
                bucket: &i.bucket,
                prefix: i.prefix.as_deref(),
                delimiter: i.delimiter.as_deref(),
                after: after.as_deref(),
                max_keys: i.max_keys,
                encoding: i.encoding_type.as_ref(),
            })
            .await?;
        let key_count = l.page.objects.len() + l.page.common_prefixes.len();
        Ok(S3Response::new(ListObjectsV2Output {
            prefix: Some(l.encode(&l.prefix)),
            max_keys: Some(l.max as i32),
            key_count: Some(key_count as i32),
            is_truncated: Some(l.page.is_truncated),
            continuation_token: i.continuation_token,
            next_continuation_token: l.next_marker().map(|m| TOKEN.encode(m.as_bytes())),
            start_after: i.start_after.map(|s| l.encode(&s)),
            common_prefixes: l.common_prefixes(),
            contents: l.contents(owner.as_deref()),
            delimiter: i.delimiter.filter(|d| !d.is_empty()).map(|d| l.encode(&d)),
            name: Some(i.bucket),
            encoding_type: i.encoding_type,
            ..Default::default()
        }))
    }

    /// ListObjectVersions: every version and delete marker under the prefix, each key's newest first (an
    /// unversioned bucket's objects are each one `null` version).
    pub(super) async fn list_object_versions_impl(
        &self,
        req: S3Request<ListObjectVersionsInput>,
    ) -> S3Result<S3Response<ListObjectVersionsOutput>> {
        let i = req.input;
        let url = url_encoding(i.encoding_type.as_ref())?;
        let max = max_keys(i.max_keys)?;
        let key_marker = i.key_marker.clone().filter(|m| !m.is_empty());
        let version_marker = i.version_id_marker.clone().filter(|m| !m.is_empty());
        if version_marker.is_some() && key_marker.is_none() {
            return Err(s3_error!(
                InvalidArgument,
                "A version-id marker cannot be specified without a key marker."
            ));
        }
        if let Some(v) = &version_marker
            && v != "null"
            && !catalog::versions::is_version_id(v)
        {
            return Err(s3_error!(InvalidArgument, "Invalid version id specified"));
        }
        let prefix = i.prefix.clone().unwrap_or_default();
        let (b, p, d) = (
            i.bucket.clone(),
            prefix.clone(),
            i.delimiter.clone().filter(|d| !d.is_empty()),
        );
        let page = self
            .strata
            .with_catalog(move |c| {
                c.list_versions(
                    &b,
                    &p,
                    d.as_deref(),
                    key_marker.as_deref(),
                    version_marker.as_deref(),
                    max,
                )
            })
            .await
            .map_err(catalog_err)?;
        self.record(&i.bucket, &prefix, AccessKind::List, 0);
        let bucket_owner = self
            .bucket_owner_id(&i.bucket, req.credentials.as_ref())
            .await
            .unwrap_or_default();
        let owner_of = |r: &catalog::ObjectRecord| {
            Some(super::acl::owner_dto(
                r.meta.owner.as_deref().unwrap_or(&bucket_owner),
            ))
        };
        let mut versions = Vec::new();
        let mut markers = Vec::new();
        for v in &page.versions {
            let r = &v.record;
            if r.delete_marker {
                markers.push(DeleteMarkerEntry {
                    key: Some(encode(&v.key, url)),
                    version_id: Some(r.version_label().to_owned()),
                    is_latest: Some(v.is_latest),
                    last_modified: Some(ms_to_timestamp(r.last_modified_ms)),
                    owner: owner_of(r),
                });
            } else {
                versions.push(ObjectVersion {
                    key: Some(encode(&v.key, url)),
                    version_id: Some(r.version_label().to_owned()),
                    is_latest: Some(v.is_latest),
                    size: i64::try_from(r.size).ok(),
                    e_tag: Some(etag_of(r)),
                    last_modified: Some(ms_to_timestamp(r.last_modified_ms)),
                    storage_class: Some(ObjectVersionStorageClass::from_static(
                        ObjectVersionStorageClass::STANDARD,
                    )),
                    owner: owner_of(r),
                    ..Default::default()
                });
            }
        }
        let common_prefixes: Vec<CommonPrefix> = page
            .common_prefixes
            .iter()
            .map(|p| CommonPrefix {
                prefix: Some(encode(p, url)),
            })
            .collect();
        Ok(S3Response::new(ListObjectVersionsOutput {
            prefix: Some(encode(&prefix, url)),
            key_marker: Some(i.key_marker.map(|m| encode(&m, url)).unwrap_or_default()),
            version_id_marker: Some(i.version_id_marker.unwrap_or_default()),
            max_keys: Some(max as i32),
            is_truncated: Some(page.is_truncated),
            next_key_marker: page.next_key_marker.map(|m| encode(&m, url)),
            next_version_id_marker: page.next_version_id_marker,
            common_prefixes: (!common_prefixes.is_empty()).then_some(common_prefixes),
            versions: (!versions.is_empty()).then_some(versions),
            delete_markers: (!markers.is_empty()).then_some(markers),
            delimiter: i
                .delimiter
                .filter(|d| !d.is_empty())
                .map(|d| encode(&d, url)),
            name: Some(i.bucket),
            encoding_type: i.encoding_type,
            ..Default::default()
        }))
    }
}
