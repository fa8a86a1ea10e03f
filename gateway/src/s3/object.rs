//! Object operations: PUT, GET, HEAD, DELETE, DeleteObjects, CopyObject.

use std::sync::Arc;

use catalog::{AccessKind, NewObject, ObjectRecord, WriteCondition};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};

use super::StrataS3;
use super::errors::catalog_err;
use super::util::*;
use crate::checksums::{Expectations, to_dto};
use crate::ingest::{self, Ingested};
use crate::read;

/// The outcome of evaluating conditional request headers.
enum Precondition {
    Proceed,
    NotModified,
}

/// RFC 7232 order, as S3 applies it: If-Match beats If-Unmodified-Since; If-None-Match beats If-Modified-Since.
fn evaluate_conditions(
    rec: &ObjectRecord,
    if_match: Option<&ETagCondition>,
    if_unmodified_since: Option<&Timestamp>,
    if_none_match: Option<&ETagCondition>,
    if_modified_since: Option<&Timestamp>,
) -> S3Result<Precondition> {
    let etag = etag_of(rec);
    let modified_secs = rec.last_modified_ms.div_euclid(1000);
    let matches = |c: &ETagCondition| match c {
        ETagCondition::Any => true,
        ETagCondition::ETag(e) => e.value() == etag.value(),
    };
    match if_match {
        Some(c) if !matches(c) => {
            return Err(s3_error!(
                PreconditionFailed,
                "At least one of the pre-conditions you specified did not hold"
            ));
        }
        Some(_) => {}
        None => {
            if let Some(t) = if_unmodified_since
                && modified_secs > timestamp_secs(t)
            {
                return Err(s3_error!(
                    PreconditionFailed,
                    "At least one of the pre-conditions you specified did not hold"
                ));
            }
        }
    }
    match if_none_match {
        Some(c) if matches(c) => return Ok(Precondition::NotModified),
        Some(_) => {}
        None => {
            if let Some(t) = if_modified_since
                && modified_secs <= timestamp_secs(t)
            {
                return Ok(Precondition::NotModified);
            }
        }
    }
    Ok(Precondition::Proceed)
}

/// The stored Content-Type, or S3's default for objects uploaded without one.
fn content_type_of(m: &catalog::ObjectMeta) -> String {
    m.content_type
        .clone()
        .unwrap_or_else(|| "binary/octet-stream".to_owned())
}

fn not_modified(rec: &ObjectRecord) -> S3Error {
    let mut e = S3Error::new(S3ErrorCode::NotModified);
    let mut headers = http::HeaderMap::new();
    if let Ok(v) = http::HeaderValue::from_str(&format!("\"{}\"", rec.etag)) {
        headers.insert(http::header::ETAG, v);
    }
    e.set_headers(headers);
    e
}

/// The byte range a GET asks for: a Range header, a partNumber, or everything. Also the Content-Range.
fn requested_range(
    rec: &ObjectRecord,
    range: Option<&Range>,
    part_number: Option<i32>,
) -> S3Result<(std::ops::Range<u64>, Option<String>)> {
    if let Some(n) = part_number {
        if range.is_some() {
            return Err(s3_error!(
                InvalidRequest,
                "Cannot specify both Range header and partNumber query parameter"
            ));
        }
        let idx = usize::try_from(n)
            .ok()
            .filter(|n| *n >= 1 && *n <= rec.parts.len())
            .ok_or_else(|| {
                let mut e = S3Error::with_message(
                    S3ErrorCode::Custom("InvalidPartNumber".into()),
                    "The requested partnumber is not satisfiable",
                );
                e.set_status_code(http::StatusCode::RANGE_NOT_SATISFIABLE);
                e
            })?;
        let start: u64 = rec.parts[..idx - 1].iter().map(|p| p.size).sum();
        let end = start + rec.parts[idx - 1].size;
        let cr = (rec.parts.len() > 1 && end > start)
            .then(|| format!("bytes {}-{}/{}", start, end - 1, rec.size));
        return Ok((start..end, cr));
    }
    match range {
        None => Ok((0..rec.size, None)),
        Some(r) => {
            // s3s accepts a suffix range on an empty object as the empty range 0..0, which has no Content-Range
            // (and `end - 1` below would underflow): unsatisfiable, like every other range of an empty object.
            let checked = r.check(rec.size).ok().filter(|c| c.start < c.end);
            let checked = checked.ok_or_else(|| {
                let mut e = S3Error::with_message(
                    S3ErrorCode::InvalidRange,
                    "The requested range is not satisfiable",
                );
                let mut h = http::HeaderMap::new();
                if let Ok(v) = http::HeaderValue::from_str(&format!("bytes */{}", rec.size)) {
                    h.insert(http::header::CONTENT_RANGE, v);
                }
                e.set_headers(h);
                e
            })?;
            let cr = format!("bytes {}-{}/{}", checked.start, checked.end - 1, rec.size);
            Ok((checked, Some(cr)))
        }
    }
}

/// 400 InvalidArgument for an empty version id, as S3 answers it. Any other id is looked up: one Strata never
/// handed out (an id copied from another store, say) is simply not there.
pub(super) fn check_version_id(version: &str) -> S3Result<()> {
    if version.is_empty() {
        Err(s3_error!(
            InvalidArgument,
            "Version id cannot be the empty string"
        ))
    } else {
        Ok(())
    }
}

/// `x-amz-version-id` of an answer about `rec`: its id, or `null` when the request named the null version.
pub(super) fn version_header(rec: &ObjectRecord, requested: Option<&str>) -> Option<String> {
    rec.version_id
        .clone()
        .or_else(|| requested.map(|_| "null".to_owned()))
}

/// The headers S3 puts on an answer about a delete marker.
fn marker_headers(marker: &ObjectRecord) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    h.insert(
        "x-amz-delete-marker",
        http::HeaderValue::from_static("true"),
    );
    if let Ok(v) = http::HeaderValue::from_str(marker.version_label()) {
        h.insert("x-amz-version-id", v);
    }
    h
}

/// GetObjectAttributes' `ObjectParts` of a multipart version: its part count, and, when its upload had a checksum
/// algorithm, the parts after `marker` (at most `max`, 1000 by default), each with its number, size and checksum.
fn object_parts(
    rec: &ObjectRecord,
    marker: Option<i32>,
    max: Option<i32>,
) -> GetObjectAttributesParts {
    let max = max.unwrap_or(1000).clamp(0, 1000);
    let mut out = GetObjectAttributesParts {
        total_parts_count: i32::try_from(rec.parts.len()).ok(),
        part_number_marker: marker,
        max_parts: Some(max),
        is_truncated: Some(false),
        ..Default::default()
    };
    let Some(sums) = rec
        .meta
        .part_checksums
        .as_ref()
        .filter(|p| p.parts.len() == rec.parts.len())
    else {
        return out;
    };
    let after = marker.unwrap_or(0);
    let mut listed = sums
        .parts
        .iter()
        .zip(&rec.parts)
        .filter(|((number, _), _)| i64::from(*number) > i64::from(after));
    let page: Vec<ObjectPart> = listed
        .by_ref()
        .take(max as usize)
        .map(|((number, sum), part)| {
            let sum = Some(sum.clone());
            let mut p = ObjectPart {
                part_number: i32::try_from(*number).ok(),
                size: i64::try_from(part.size).ok(),
                ..Default::default()
            };
            match sums.algorithm.as_str() {
                "CRC32" => p.checksum_crc32 = sum,
                "CRC32C" => p.checksum_crc32c = sum,
                "SHA1" => p.checksum_sha1 = sum,
                "SHA256" => p.checksum_sha256 = sum,
                _ => p.checksum_crc64nvme = sum,
            }
            p
        })
        .collect();
    if listed.next().is_some() {
        out.is_truncated = Some(true);
        out.next_part_number_marker = page.last().and_then(|p| p.part_number);
    }
    out.parts = Some(page);
    out
}

impl StrataS3 {
    /// Looks up an object; NoSuchBucket / NoSuchKey as S3 distinguishes them.
    pub(super) async fn lookup(&self, bucket: &str, key: &str) -> S3Result<ObjectRecord> {
        self.lookup_current(bucket, key).await.map(|(rec, _)| rec)
    }

    /// [`StrataS3::lookup`], with the bucket's versioning state (read in the same catalog call).
    async fn lookup_current(
        &self,
        bucket: &str,
        key: &str,
    ) -> S3Result<(ObjectRecord, catalog::Versioning)> {
        if key.contains(catalog::versions::VERSION_SEPARATOR) {
            // No key holds NUL (the catalog refuses them); such a name would address a version's row.
            return Err(s3_error!(NoSuchKey, "The specified key does not exist."));
        }
        let (b, k) = (bucket.to_owned(), key.to_owned());
        let found = self
            .strata
            .with_catalog(move |c| Ok((c.get_object(&b, &k)?, c.bucket(&b)?.map(|r| r.versioning))))
            .await
            .map_err(catalog_err)?;
        match found {
            (Some(rec), Some(versioning)) => Ok((rec, versioning)),
            (_, None) => Err(s3_error!(
                NoSuchBucket,
                "The specified bucket does not exist"
            )),
            (None, Some(versioning)) => {
                let mut e = s3_error!(NoSuchKey, "The specified key does not exist.");
                // A key whose newest version is a delete marker says so (S3 clients tell "deleted" from "never");
                // a bucket that never had versioning has no markers to look for.
                if !versioning.is_unversioned()
                    && let Some(marker) = self.latest_marker(bucket, key).await
                {
                    e.set_headers(marker_headers(&marker));
                }
                Err(e)
            }
        }
    }

    /// The key's newest version when it is a delete marker.
    async fn latest_marker(&self, bucket: &str, key: &str) -> Option<ObjectRecord> {
        let (b, k) = (bucket.to_owned(), key.to_owned());
        let page = self
            .strata
            .with_catalog(move |c| c.list_versions(&b, &k, None, None, None, 1))
            .await
            .ok()?;
        page.versions
            .into_iter()
            .next()
            .filter(|v| v.key == key && v.record.delete_marker)
            .map(|v| v.record)
    }

    /// The version a request names with `versionId`, or the current one without: NoSuchBucket, NoSuchKey,
    /// NoSuchVersion, 400 for an id Strata never hands out, and 405 MethodNotAllowed for a delete marker, as S3
    /// answers them.
    pub(super) async fn lookup_version(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> S3Result<ObjectRecord> {
        let Some(version) = version else {
            return self.lookup(bucket, key).await;
        };
        check_version_id(version)?;
        let (b, k, v) = (bucket.to_owned(), key.to_owned(), version.to_owned());
        let found = self
            .strata
            .with_catalog(move |c| c.get_version(&b, &k, &v))
            .await
            .map_err(catalog_err)?;
        match found {
            None => Err(s3_error!(
                NoSuchVersion,
                "The specified version does not exist."
            )),
            Some(marker) if marker.delete_marker => {
                let mut e = s3_error!(
                    MethodNotAllowed,
                    "The specified method is not allowed against this resource."
                );
                e.set_headers(marker_headers(&marker));
                Err(e)
            }
            Some(rec) => Ok(rec),
        }
    }

    /// Commits a freshly ingested object if `cond` holds; on failure the new blobs are removed again.
    async fn commit(
        &self,
        bucket: &str,
        key: &str,
        obj: NewObject,
        cond: &WriteCondition,
    ) -> S3Result<catalog::PutOutcome> {
        let (b, k, cond) = (bucket.to_owned(), key.to_owned(), cond.clone());
        let parts = obj.parts.clone();
        let replicas = obj.replicas.clone();
        match self
            .strata
            .with_catalog(move |c| c.put_object_if(&b, &k, obj, &cond))
            .await
        {
            Ok(outcome) => {
                if let Some(old) = &outcome.replaced {
                    self.bill_removal(old);
                }
                Ok(outcome)
            }
            Err(e) => {
                self.discard(&parts, &replicas).await;
                Err(catalog_err(e))
            }
        }
    }

    /// Bills the early-deletion fees of a version that a delete or an overwrite removed.
    pub(super) fn bill_removal(&self, old: &catalog::ObjectRecord) {
        let now = self.strata.clock.now_ms();
        for name in &old.replicas {
            if let Some(b) = self.strata.backend(name) {
                self.strata
                    .bill
                    .removed(b.profile(), old.size, old.placed_ms(), now);
            }
        }
    }

    /// Best-effort removal of blobs that never became visible.
    pub(super) async fn discard(&self, parts: &[catalog::PartRef], replicas: &[String]) {
        for name in replicas {
            if let Some(b) = self.strata.backend(name) {
                for p in parts {
                    if let Err(e) = b.delete(&p.blob).await {
                        tracing::warn!(backend = %name, blob = %p.blob, error = %e, "cannot remove an uncommitted blob; start-up recovery will");
                    }
                }
            }
        }
    }

    pub(super) async fn put_object_impl(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let S3Request {
            input,
            headers,
            trailing_headers,
            credentials,
            ..
        } = req;
        let (owner, acl) = self
            .acl_of_write(
                &input.bucket,
                credentials.as_ref(),
                &super::acl::acl_request!(input),
            )
            .await?;
        let PutObjectInput {
            body,
            bucket,
            key,
            metadata,
            content_length,
            content_md5,
            content_type,
            content_encoding,
            content_disposition,
            content_language,
            cache_control,
            expires,
            checksum_algorithm,
            if_match,
            if_none_match,
            tagging,
            object_lock_mode,
            object_lock_retain_until_date,
            object_lock_legal_hold_status,
            ..
        } = input;
        if key.len() > 1024 {
            return Err(s3_error!(KeyTooLongError, "Your key is too long"));
        }
        check_user_metadata(metadata.as_ref())?;
        let tags = super::tagging::from_header(tagging.as_deref())?;
        // Conditional writes and the bucket check happen before a byte of the body is read, and the condition
        // again in the commit's transaction (a racing writer may have won meanwhile).
        let cond = write_condition(if_match.as_ref(), if_none_match.as_ref())?;
        // An unconditional write needs only to know that the bucket exists, which the access check's cache says
        // without a catalog read (the commit's transaction checks it again); a conditional one reads the key.
        let unconditional = matches!(cond, WriteCondition::Always);
        if !(unconditional && self.policies.get(&bucket).await.is_some()) {
            let current = match self.lookup(&bucket, &key).await {
                Ok(r) => Some(r),
                Err(e) if *e.code() == S3ErrorCode::NoSuchKey => None,
                Err(e) => return Err(e),
            };
            cond.check(&bucket, &key, current.as_ref())
                .map_err(catalog_err)?;
        }
        let body = body.ok_or_else(|| s3_error!(IncompleteBody, "a PUT needs a body"))?;
        let expect = Expectations::from_request(
            &headers,
            content_md5.as_deref(),
            checksum_algorithm.as_ref().map(ChecksumAlgorithm::as_str),
        )?;
        let declared = content_length.and_then(|l| u64::try_from(l).ok());
        let targets = self.strata.new_objects.for_size(declared);
        let Ingested {
            part, checksums, ..
        } = ingest::ingest(
            &self.strata,
            &targets,
            body,
            declared,
            &expect,
            trailing_headers.as_ref(),
        )
        .await?;
        let mut meta = meta_from_request(
            content_type,
            content_encoding,
            content_disposition,
            content_language,
            cache_control,
            expires,
            metadata,
        );
        meta.checksums = checksums.clone();
        meta.tags = tags;
        meta.owner = owner;
        meta.acl = acl;
        self.apply_requested_lock(
            &bucket,
            &mut meta,
            object_lock_mode.as_ref(),
            object_lock_retain_until_date.as_ref(),
            object_lock_legal_hold_status.as_ref(),
        )
        .await?;
        let now = self.strata.clock.now_ms();
        let size = part.size;
        let etag = part.etag.clone();
        let obj = NewObject {
            size,
            etag: etag.clone(),
            last_modified_ms: now,
            parts: vec![part],
            replicas: targets.iter().map(|b| b.name().to_owned()).collect(),
            meta,
        };
        let outcome = self.commit(&bucket, &key, obj, &cond).await?;
        self.record(&bucket, &key, AccessKind::Put, size);
        let sums = to_dto(&checksums);
        Ok(S3Response::new(PutObjectOutput {
            e_tag: Some(ETag::Strong(etag)),
            version_id: outcome.version_header(),
            checksum_crc32: sums.checksum_crc32,
            checksum_crc32c: sums.checksum_crc32c,
            checksum_sha1: sums.checksum_sha1,
            checksum_sha256: sums.checksum_sha256,
            checksum_crc64nvme: sums.checksum_crc64nvme,
            checksum_type: sums.checksum_type,
            size: i64::try_from(size).ok(),
            ..Default::default()
        }))
    }

    /// What GET and HEAD share: the version check, the lookup, the conditional headers, the range, and every
    /// header of the answer (as a HEAD answer). Access recording is left to the caller.
    async fn describe(
        &self,
        i: HeadObjectInput,
    ) -> S3Result<(ObjectRecord, std::ops::Range<u64>, HeadObjectOutput)> {
        // `x-amz-version-id`: every version of a bucket that has had versioning enabled has one (`null` included).
        let (rec, version_id) = match i.version_id.as_deref() {
            None => {
                let (rec, versioning) = self.lookup_current(&i.bucket, &i.key).await?;
                let label = (!versioning.is_unversioned()).then(|| rec.version_label().to_owned());
                (rec, label)
            }
            Some(v) => {
                let rec = self.lookup_version(&i.bucket, &i.key, Some(v)).await?;
                let label = version_header(&rec, Some(v));
                (rec, label)
            }
        };
        if let Precondition::NotModified = evaluate_conditions(
            &rec,
            i.if_match.as_ref(),
            i.if_unmodified_since.as_ref(),
            i.if_none_match.as_ref(),
            i.if_modified_since.as_ref(),
        )? {
            return Err(not_modified(&rec));
        }
        let (range, content_range) = requested_range(&rec, i.range.as_ref(), i.part_number)?;
        // S3 returns whole-object checksums only for whole-object reads, and only when asked to.
        let sums = if content_range.is_none() && i.checksum_mode.is_some() {
            to_dto(&rec.meta.checksums)
        } else {
            Checksum::default()
        };
        let m = &rec.meta;
        let (lock_mode, lock_until, legal_hold) = super::lock::answer_headers(m);
        let head = HeadObjectOutput {
            content_length: i64::try_from(range.end - range.start).ok(),
            content_range,
            accept_ranges: Some("bytes".to_owned()),
            last_modified: Some(ms_to_timestamp(rec.last_modified_ms)),
            e_tag: Some(etag_of(&rec)),
            metadata: user_metadata(m),
            content_type: i.response_content_type.or_else(|| Some(content_type_of(m))),
            content_encoding: i
                .response_content_encoding
                .or_else(|| m.content_encoding.clone()),
            content_disposition: i
                .response_content_disposition
                .or_else(|| m.content_disposition.clone()),
            content_language: i
                .response_content_language
                .or_else(|| m.content_language.clone()),
            cache_control: i.response_cache_control.or_else(|| m.cache_control.clone()),
            expires: i
                .response_expires
                .or_else(|| m.expires.as_deref().and_then(parse_http_date)),
            parts_count: (i.part_number.is_some() && rec.parts.len() > 1)
                .then(|| i32::try_from(rec.parts.len()).unwrap_or(i32::MAX)),
            checksum_crc32: sums.checksum_crc32,
            checksum_crc32c: sums.checksum_crc32c,
            checksum_sha1: sums.checksum_sha1,
            checksum_sha256: sums.checksum_sha256,
            checksum_crc64nvme: sums.checksum_crc64nvme,
            checksum_type: sums.checksum_type,
            version_id,
            object_lock_mode: lock_mode,
            object_lock_retain_until_date: lock_until,
            object_lock_legal_hold_status: legal_hold,
            ..Default::default()
        };
        Ok((rec, range, head))
    }

    pub(super) async fn get_object_impl(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let i = req.input;
        let (bucket, key) = (i.bucket.clone(), i.key.clone());
        let head = HeadObjectInput {
            bucket: i.bucket,
            checksum_mode: i.checksum_mode,
            expected_bucket_owner: i.expected_bucket_owner,
            if_match: i.if_match,
            if_modified_since: i.if_modified_since,
            if_none_match: i.if_none_match,
            if_unmodified_since: i.if_unmodified_since,
            key: i.key,
            part_number: i.part_number,
            range: i.range,
            request_payer: i.request_payer,
            response_cache_control: i.response_cache_control,
            response_content_disposition: i.response_content_disposition,
            response_content_encoding: i.response_content_encoding,
            response_content_language: i.response_content_language,
            response_content_type: i.response_content_type,
            response_expires: i.response_expires,
            sse_customer_algorithm: i.sse_customer_algorithm,
            sse_customer_key: i.sse_customer_key,
            sse_customer_key_md5: i.sse_customer_key_md5,
            version_id: i.version_id,
        };
        let looked_up_ms = engine::Clock::system().now_ms();
        let (rec, range, h) = self.describe(head).await?;
        let len = range.end - range.start;
        let body = read::open(&self.strata, &rec, range, looked_up_ms).await?;
        self.record(&bucket, &key, AccessKind::Get, len);
        Ok(S3Response::new(GetObjectOutput {
            body: Some(body.into_blob()),
            content_length: h.content_length,
            content_range: h.content_range,
            accept_ranges: h.accept_ranges,
            last_modified: h.last_modified,
            e_tag: h.e_tag,
            metadata: h.metadata,
            content_type: h.content_type,
            content_encoding: h.content_encoding,
            content_disposition: h.content_disposition,
            content_language: h.content_language,
            cache_control: h.cache_control,
            expires: h.expires,
            parts_count: h.parts_count,
            checksum_crc32: h.checksum_crc32,
            checksum_crc32c: h.checksum_crc32c,
            checksum_sha1: h.checksum_sha1,
            checksum_sha256: h.checksum_sha256,
            checksum_crc64nvme: h.checksum_crc64nvme,
            checksum_type: h.checksum_type,
            tag_count: super::tagging::tag_count(&rec.meta.tags),
            version_id: h.version_id,
            object_lock_mode: h.object_lock_mode,
            object_lock_retain_until_date: h.object_lock_retain_until_date,
            object_lock_legal_hold_status: h.object_lock_legal_hold_status,
            ..Default::default()
        }))
    }

    pub(super) async fn head_object_impl(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        let (rec, _, head) = self.describe(req.input).await?;
        self.record(&bucket, &key, AccessKind::Head, 0);
        let mut resp = S3Response::new(head);
        // S3 reports the tag count on HEAD as on GET; s3s 0.14's HeadObjectOutput has no field for it.
        if let Some(n) = super::tagging::tag_count(&rec.meta.tags) {
            resp.headers.insert("x-amz-tagging-count", n.into());
        }
        Ok(resp)
    }

    /// GetObjectAttributes: the attributes asked for in `x-amz-object-attributes`, from the catalog alone (no
    /// backend is read). A multipart object's `ObjectParts` gives its part count, and for an upload made with a
    /// checksum algorithm its parts (number, size, checksum), paged by `max-parts` and `part-number-marker`; S3
    /// leaves the list out for uploads without one, and so does Strata.
    pub(super) async fn get_object_attributes_impl(
        &self,
        req: S3Request<GetObjectAttributesInput>,
    ) -> S3Result<S3Response<GetObjectAttributesOutput>> {
        let i = req.input;
        if i.object_attributes.is_empty() {
            return Err(s3_error!(
                InvalidArgument,
                "The x-amz-object-attributes header specifying the attributes to be retrieved is either missing or empty"
            ));
        }
        let mut want = std::collections::BTreeSet::new();
        for a in &i.object_attributes {
            // s3s hands over the header's comma-separated values as they came; S3 trims them.
            for name in a.as_str().split(',').map(str::trim) {
                match name {
                    ObjectAttributes::ETAG
                    | ObjectAttributes::CHECKSUM
                    | ObjectAttributes::OBJECT_PARTS
                    | ObjectAttributes::STORAGE_CLASS
                    | ObjectAttributes::OBJECT_SIZE => {
                        want.insert(name.to_owned());
                    }
                    other => {
                        return Err(S3Error::with_message(
                            S3ErrorCode::InvalidArgument,
                            format!("Invalid attribute name specified: {other}"),
                        ));
                    }
                }
            }
        }
        let rec = self
            .lookup_version(&i.bucket, &i.key, i.version_id.as_deref())
            .await?;
        let sums = to_dto(&rec.meta.checksums);
        let has_sum = !rec.meta.checksums.is_empty();
        let multipart = rec.etag.contains('-');
        Ok(S3Response::new(GetObjectAttributesOutput {
            e_tag: want.contains(ObjectAttributes::ETAG).then(|| etag_of(&rec)),
            checksum: (want.contains(ObjectAttributes::CHECKSUM) && has_sum).then_some(sums),
            object_parts: (want.contains(ObjectAttributes::OBJECT_PARTS) && multipart)
                .then(|| object_parts(&rec, i.part_number_marker, i.max_parts)),
            object_size: want
                .contains(ObjectAttributes::OBJECT_SIZE)
                .then(|| i64::try_from(rec.size).unwrap_or(i64::MAX)),
            storage_class: want
                .contains(ObjectAttributes::STORAGE_CLASS)
                .then(|| StorageClass::from_static(StorageClass::STANDARD)),
            last_modified: Some(ms_to_timestamp(rec.last_modified_ms)),
            version_id: version_header(&rec, i.version_id.as_deref()),
            ..Default::default()
        }))
    }

    /// One delete, as S3's DeleteObject does it under the bucket's versioning state: `(delete marker?, version id)`
    /// for the answer.
    async fn delete_one(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        bypass_governance: bool,
    ) -> S3Result<(Option<bool>, Option<String>)> {
        if let Some(v) = version {
            check_version_id(v)?;
        }
        let (b, k, v) = (
            bucket.to_owned(),
            key.to_owned(),
            version.map(str::to_owned),
        );
        let now = self.strata.clock.now_ms();
        let outcome = self
            .strata
            .with_catalog(move |c| c.delete_version(&b, &k, v.as_deref(), now, bypass_governance))
            .await
            .map_err(catalog_err)?;
        if let Some(old) = outcome.removed.as_ref().filter(|r| !r.delete_marker) {
            self.bill_removal(old);
        }
        self.record(bucket, key, AccessKind::Delete, 0);
        Ok(match (version, outcome.marker, outcome.removed) {
            (None, Some(marker), _) => (Some(true), Some(marker.version_label().to_owned())),
            (None, None, _) => (None, None),
            (Some(v), _, removed) => (
                removed.filter(|r| r.delete_marker).map(|_| true),
                Some(v.to_owned()),
            ),
        })
    }

    pub(super) async fn delete_object_impl(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        let input = req.input;
        self.require_bucket(&input.bucket).await?;
        // Deleting a key or a version that does not exist succeeds, as in S3.
        let (delete_marker, version_id) = self
            .delete_one(
                &input.bucket,
                &input.key,
                input.version_id.as_deref(),
                input.bypass_governance_retention.unwrap_or(false),
            )
            .await?;
        Ok(S3Response::new(DeleteObjectOutput {
            delete_marker,
            version_id,
            ..Default::default()
        }))
    }

    pub(super) async fn delete_objects_impl(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let caller = req.credentials.as_ref().map(|c| c.access_key.clone());
        let request = super::policy::RequestContext {
            source_ip: req
                .extensions
                .get::<super::policy::ClientAddr>()
                .map(|a| a.0),
            secure_transport: false,
            headers: Some(&req.headers),
            query: req.uri.query(),
            existing_tags: None,
        };
        let input = req.input;
        self.require_bucket(&input.bucket).await?;
        if input.delete.objects.len() > 1000 {
            return Err(s3_error!(
                MalformedXML,
                "DeleteObjects accepts at most 1000 keys"
            ));
        }
        let quiet = input.delete.quiet.unwrap_or(false);
        let bypass = input.bypass_governance_retention.unwrap_or(false);
        let mut deleted = Vec::new();
        let mut errors = Vec::new();
        // The access check saw the bucket; a policy's Deny of s3:DeleteObject on some keys is judged per key.
        let auth = self.policies.get(&input.bucket).await;
        let policy = auth.as_ref().and_then(|a| a.policy.as_ref());
        let needs_tags = policy.is_some_and(|p| p.needs_existing_tags());
        for obj in input.delete.objects {
            let action = super::policy::action_of("DeleteObject", obj.version_id.is_some());
            let tags = if needs_tags {
                self.policies.object_tags(&input.bucket, &obj.key).await
            } else {
                None
            };
            let request = super::policy::RequestContext {
                existing_tags: tags.as_ref(),
                ..request
            };
            let refused = policy.is_some_and(|p| {
                let who = match &caller {
                    Some(k) => super::policy::Caller::User(k),
                    None => super::policy::Caller::Anonymous,
                };
                let resource = super::policy::resource_of(&input.bucket, Some(&obj.key));
                p.decide(who, &action, &resource, &request) == super::policy::Decision::Deny
            });
            let outcome = if refused {
                Err(s3_error!(
                    AccessDenied,
                    "Access Denied by an explicit deny in the bucket policy"
                ))
            } else {
                self.delete_one(&input.bucket, &obj.key, obj.version_id.as_deref(), bypass)
                    .await
            };
            match outcome {
                Ok((delete_marker, version_id)) => {
                    if !quiet {
                        let marker_id = match (&obj.version_id, delete_marker) {
                            (None, Some(true)) => version_id.clone(),
                            (Some(v), Some(true)) => Some(v.clone()),
                            _ => None,
                        };
                        deleted.push(DeletedObject {
                            key: Some(obj.key),
                            version_id: obj.version_id,
                            delete_marker,
                            delete_marker_version_id: marker_id,
                        });
                    }
                }
                Err(e) => errors.push(Error {
                    code: Some(e.code().as_str().to_owned()),
                    message: e.message().map(str::to_owned),
                    key: Some(obj.key),
                    version_id: obj.version_id,
                }),
            }
        }
        Ok(S3Response::new(DeleteObjectsOutput {
            deleted: (!deleted.is_empty()).then_some(deleted),
            errors: (!errors.is_empty()).then_some(errors),
            ..Default::default()
        }))
    }

    /// Resolves and checks a copy source against its conditional headers.
    pub(super) async fn copy_source(
        &self,
        source: &CopySource,
        if_match: Option<&ETagCondition>,
        if_unmodified_since: Option<&Timestamp>,
        if_none_match: Option<&ETagCondition>,
        if_modified_since: Option<&Timestamp>,
    ) -> S3Result<(String, String, ObjectRecord)> {
        let CopySource::Bucket {
            bucket,
            key,
            version_id,
        } = source
        else {
            return Err(s3_error!(
                NotImplemented,
                "access point copy sources are not supported"
            ));
        };
        let rec = self
            .lookup_version(bucket, key, version_id.as_deref())
            .await?;
        // For copies, a failed If-None-Match / If-Modified-Since is 412, not 304.
        match evaluate_conditions(
            &rec,
            if_match,
            if_unmodified_since,
            if_none_match,
            if_modified_since,
        )? {
            Precondition::Proceed => Ok((bucket.to_string(), key.to_string(), rec)),
            Precondition::NotModified => Err(s3_error!(
                PreconditionFailed,
                "At least one of the pre-conditions you specified did not hold"
            )),
        }
    }

    /// Streams `range` of `rec` into new blobs on `targets`.
    pub(super) async fn copy_data(
        &self,
        rec: &ObjectRecord,
        range: std::ops::Range<u64>,
        targets: &[Arc<backends::Backend>],
    ) -> S3Result<Ingested> {
        let len = range.end - range.start;
        // The source was looked up just before (the lease's time is the margin's concern).
        let body = read::open(&self.strata, rec, range, i64::MAX).await?;
        ingest::ingest(
            &self.strata,
            targets,
            body,
            Some(len),
            &Expectations::default(),
            None,
        )
        .await
        .map_err(S3Error::from)
    }

    pub(super) async fn copy_object_impl(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        let input = req.input;
        self.require_bucket(&input.bucket).await?;
        let (owner, acl) = self
            .acl_of_write(
                &input.bucket,
                req.credentials.as_ref(),
                &super::acl::acl_request!(input),
            )
            .await?;
        let (src_bucket, src_key, src) = self
            .copy_source(
                &input.copy_source,
                input.copy_source_if_match.as_ref(),
                input.copy_source_if_unmodified_since.as_ref(),
                input.copy_source_if_none_match.as_ref(),
                input.copy_source_if_modified_since.as_ref(),
            )
            .await?;
        if src.size > ingest::MAX_PUT_SIZE {
            return Err(s3_error!(
                InvalidRequest,
                "The specified copy source is larger than the maximum allowable size for a copy source: 5368709120"
            ));
        }
        let replace = input
            .metadata_directive
            .as_ref()
            .is_some_and(|d| d.as_str() == MetadataDirective::REPLACE);
        if replace {
            check_user_metadata(input.metadata.as_ref())?;
        }
        let replace_tags = match input.tagging_directive.as_ref().map(|d| d.as_str()) {
            None | Some(TaggingDirective::COPY) => false,
            Some(TaggingDirective::REPLACE) => true,
            Some(other) => {
                return Err(S3Error::with_message(
                    S3ErrorCode::InvalidArgument,
                    format!("Unknown tagging directive: {other}"),
                ));
            }
        };
        let tags = if replace_tags {
            super::tagging::from_header(input.tagging.as_deref())?
        } else {
            src.meta.tags.clone()
        };
        let source_version = match &input.copy_source {
            CopySource::Bucket { version_id, .. } => version_id.as_deref().map(str::to_owned),
            _ => None,
        };
        // Copying a version onto its own key restores it (a new version); copying the current version onto itself
        // must change something.
        if src_bucket == input.bucket
            && src_key == input.key
            && !replace
            && source_version.is_none()
        {
            return Err(s3_error!(
                InvalidRequest,
                "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes."
            ));
        }
        let mut meta = if replace {
            meta_from_request(
                input.content_type,
                input.content_encoding,
                input.content_disposition,
                input.content_language,
                input.cache_control,
                input.expires,
                input.metadata,
            )
        } else {
            src.meta.clone()
        };
        meta.tags = tags;
        // A copy is a new version, owned by its writer with the ACL this request gives it: it keeps neither its
        // source's ACL nor its lock, only what this request (or the bucket's default) gives it.
        meta.owner = owner;
        meta.acl = acl;
        meta.retention = None;
        meta.legal_hold = false;
        meta.completed_upload = None;
        self.apply_requested_lock(
            &input.bucket,
            &mut meta,
            input.object_lock_mode.as_ref(),
            input.object_lock_retain_until_date.as_ref(),
            input.object_lock_legal_hold_status.as_ref(),
        )
        .await?;
        let targets = self.strata.new_objects.for_size(Some(src.size));
        let ingested = self.copy_data(&src, 0..src.size, &targets).await?;
        self.record(&src_bucket, &src_key, AccessKind::Copy, src.size);
        // Whole-object checksums stay valid for a byte-identical copy of a single-part object; a copy has one part,
        // so no part list.
        if src.parts.len() != 1 {
            meta.checksums.clear();
        } else {
            meta.checksums = src.meta.checksums.clone();
        }
        meta.part_checksums = None;
        let now = self.strata.clock.now_ms();
        let etag = ingested.part.etag.clone();
        let size = ingested.part.size;
        let obj = NewObject {
            size,
            etag: etag.clone(),
            last_modified_ms: now,
            parts: vec![ingested.part],
            replicas: targets.iter().map(|b| b.name().to_owned()).collect(),
            meta,
        };
        let outcome = self
            .commit(&input.bucket, &input.key, obj, &WriteCondition::Always)
            .await?;
        self.record(&input.bucket, &input.key, AccessKind::Put, size);
        Ok(S3Response::new(CopyObjectOutput {
            version_id: outcome.version_header(),
            copy_source_version_id: version_header(&src, source_version.as_deref()),
            copy_object_result: Some(CopyObjectResult {
                e_tag: Some(ETag::Strong(etag)),
                last_modified: Some(ms_to_timestamp(now)),
                ..Default::default()
            }),
            ..Default::default()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use catalog::{ObjectMeta, PartRef};

    /// A one-version record whose parts have these sizes.
    pub(super) fn rec(parts: &[u64]) -> ObjectRecord {
        ObjectRecord {
            generation: 1,
            size: parts.iter().sum(),
            etag: "abc".into(),
            last_modified_ms: 1_700_000_000_000,
            parts: parts
                .iter()
                .map(|s| PartRef {
                    blob: "b".into(),
                    size: *s,
                    blake3: String::new(),
                    etag: String::new(),
                })
                .collect(),
            replicas: vec!["hot".into()],
            meta: ObjectMeta::default(),
            version_id: None,
            delete_marker: false,
            version_seq: 1,
            moved_ms: 0,
        }
    }

    #[test]
    fn conditions_follow_rfc_precedence() {
        let r = rec(&[10]);
        let same = ETagCondition::ETag(ETag::Strong("abc".into()));
        let other = ETagCondition::ETag(ETag::Strong("zzz".into()));
        let later = ms_to_timestamp(r.last_modified_ms + 10_000);
        let earlier = ms_to_timestamp(r.last_modified_ms - 10_000);
        assert!(matches!(
            evaluate_conditions(&r, Some(&same), None, None, None),
            Ok(Precondition::Proceed)
        ));
        assert!(evaluate_conditions(&r, Some(&other), None, None, None).is_err());
        // If-Match that holds overrides a failing If-Unmodified-Since.
        assert!(matches!(
            evaluate_conditions(&r, Some(&same), Some(&earlier), None, None),
            Ok(Precondition::Proceed)
        ));
        assert!(evaluate_conditions(&r, None, Some(&earlier), None, None).is_err());
        assert!(matches!(
            evaluate_conditions(&r, None, None, Some(&same), None),
            Ok(Precondition::NotModified)
        ));
        // If-None-Match that does not match overrides If-Modified-Since.
        assert!(matches!(
            evaluate_conditions(&r, None, None, Some(&other), Some(&later)),
            Ok(Precondition::Proceed)
        ));
        assert!(matches!(
            evaluate_conditions(&r, None, None, None, Some(&later)),
            Ok(Precondition::NotModified)
        ));
        assert!(matches!(
            evaluate_conditions(&r, None, None, None, Some(&earlier)),
            Ok(Precondition::Proceed)
        ));
    }

    #[test]
    fn ranges_and_part_numbers() {
        let r = rec(&[5, 7]);
        let (rg, cr) = requested_range(&r, None, None).unwrap();
        assert_eq!((rg, cr), (0..12, None));
        let (rg, cr) = requested_range(&r, None, Some(2)).unwrap();
        assert_eq!(rg, 5..12);
        assert_eq!(cr.as_deref(), Some("bytes 5-11/12"));
        assert!(requested_range(&r, None, Some(3)).is_err());
        let (rg, _) = requested_range(&r, Some(&Range::Suffix { length: 3 }), None).unwrap();
        assert_eq!(rg, 9..12);
        let err = requested_range(
            &r,
            Some(&Range::Int {
                first: 12,
                last: None,
            }),
            None,
        )
        .unwrap_err();
        assert_eq!(*err.code(), S3ErrorCode::InvalidRange);
    }
}

/// Property tests of Range resolution: any Range header s3s accepts, any object layout and any partNumber give a
/// range within the object (RFC 9110 semantics) and a matching Content-Range, or an S3 error; never a panic.
#[cfg(test)]
mod range_props {
    use super::tests::rec;
    use super::*;
    use proptest::prelude::*;

    /// Range header values: well-formed ones around the interesting sizes, and arbitrary text.
    fn header() -> impl Strategy<Value = String> {
        let n = prop_oneof![
            0u64..40,
            any::<u64>(),
            Just(u64::MAX),
            Just(i64::MAX as u64)
        ];
        prop_oneof![
            (n.clone(), n.clone()).prop_map(|(a, b)| format!("bytes={a}-{b}")),
            n.clone().prop_map(|a| format!("bytes={a}-")),
            n.prop_map(|a| format!("bytes=-{a}")),
            "bytes=[-0-9, ]{0,12}",
            ".{0,24}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn range_resolution_stays_in_bounds(parts in prop::collection::vec(0u64..50, 0..4), h in header()) {
            let r = rec(&parts);
            let size = r.size;
            let Ok(range) = Range::parse(&h) else { return Ok(()) };
            match requested_range(&r, Some(&range), None) {
                Ok((rg, cr)) => {
                    prop_assert!(rg.start < rg.end && rg.end <= size, "{h} on {size}: {rg:?}");
                    let expected = match range {
                        Range::Int { first, last } => first..last.map_or(size, |l| l.min(size - 1) + 1),
                        Range::Suffix { length } => size - length.min(size)..size,
                    };
                    prop_assert_eq!(rg.clone(), expected);
                    let want = format!("bytes {}-{}/{size}", rg.start, rg.end - 1);
                    prop_assert_eq!(cr.as_deref(), Some(want.as_str()));
                }
                Err(e) => {
                    prop_assert_eq!(e.code(), &S3ErrorCode::InvalidRange, "{}", h);
                    // Unsatisfiable: the first byte is past the end, a zero-length suffix, or an empty object.
                    let unsatisfiable = match range {
                        Range::Int { first, .. } => first >= size,
                        Range::Suffix { length } => length == 0 || size == 0,
                    };
                    prop_assert!(unsatisfiable, "{h} on {size} refused");
                }
            }
        }

        #[test]
        fn part_numbers_select_whole_parts(parts in prop::collection::vec(0u64..50, 0..5), n in prop_oneof![-3i32..8, any::<i32>()]) {
            let r = rec(&parts);
            match requested_range(&r, None, Some(n)) {
                Ok((rg, _)) => {
                    prop_assert!(n >= 1 && (n as usize) <= parts.len());
                    let start: u64 = parts[..n as usize - 1].iter().sum();
                    prop_assert_eq!(rg, start..start + parts[n as usize - 1]);
                }
                Err(e) => {
                    prop_assert!(n < 1 || n as usize > parts.len(), "part {n} of {}", parts.len());
                    prop_assert_eq!(e.code(), &S3ErrorCode::Custom("InvalidPartNumber".into()));
                }
            }
            // Both a Range and a partNumber: refused.
            let both = requested_range(&r, Some(&Range::Int { first: 0, last: None }), Some(n));
            prop_assert!(both.is_err());
        }
    }
}
