//! The multipart family. Each part is stored as its own sealed blob on every replica backend; completing an
//! upload writes no data, it links the chosen parts into one object version in one catalog transaction.

use std::sync::Arc;

use backends::Backend;
use catalog::{AccessKind, NewObject, PartRecord, UploadRecord};
use s3s::crypto::{Checksum as _, Md5};
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::StrataS3;
use super::errors::catalog_err;
use super::util::*;
use crate::checksums::{Expectations, to_dto};
use crate::ingest::{self, Ingested};

/// AWS's smallest part, except the last.
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// AWS's highest part number.
pub const MAX_PART_NUMBER: i32 = 10_000;

fn check_part_number(n: i32) -> S3Result<u32> {
    if (1..=MAX_PART_NUMBER).contains(&n) {
        Ok(n as u32)
    } else {
        Err(s3_error!(
            InvalidArgument,
            "Part number must be an integer between 1 and 10000, inclusive"
        ))
    }
}

/// The ETag S3 gives a multipart object: MD5 of the concatenated binary part MD5s, then "-N".
pub fn multipart_etag(part_etags: &[&str]) -> S3Result<String> {
    let mut md5 = Md5::new();
    for e in part_etags {
        let raw =
            hex::decode(e).map_err(|_| s3_error!(InternalError, "stored part ETag is not hex"))?;
        md5.update(&raw);
    }
    Ok(format!(
        "{}-{}",
        hex::encode(md5.finalize()),
        part_etags.len()
    ))
}

fn parse_copy_range(s: &str, size: u64) -> S3Result<std::ops::Range<u64>> {
    let bad = || {
        s3_error!(
            InvalidArgument,
            "The x-amz-copy-source-range value must be of the form bytes=first-last"
        )
    };
    let r = s.strip_prefix("bytes=").ok_or_else(bad)?;
    let (a, b) = r.split_once('-').ok_or_else(bad)?;
    let first: u64 = a.parse().map_err(|_| bad())?;
    let last: u64 = b.parse().map_err(|_| bad())?;
    if first > last || last >= size {
        return Err(s3_error!(
            InvalidRange,
            "The requested range is not satisfiable"
        ));
    }
    Ok(first..last + 1)
}

impl StrataS3 {
    /// The upload, checked against the bucket and key in the request.
    async fn upload_for(&self, bucket: &str, key: &str, upload_id: &str) -> S3Result<UploadRecord> {
        let id = upload_id.to_owned();
        let up = self
            .strata
            .with_catalog(move |c| c.upload(&id))
            .await
            .map_err(catalog_err)?;
        match up {
            Some(u) if u.bucket == bucket && u.key == key => Ok(u),
            _ => Err(catalog_err(catalog::CatalogError::NoSuchUpload(
                upload_id.to_owned(),
            ))),
        }
    }

    fn upload_targets(&self, up: &UploadRecord) -> S3Result<Vec<Arc<Backend>>> {
        up.replicas
            .iter()
            .map(|n| {
                self.strata.backend(n).cloned().ok_or_else(|| {
                    s3_error!(
                        ServiceUnavailable,
                        "backend {n} of this upload is not configured"
                    )
                })
            })
            .collect()
    }

    /// Stores an ingested part; if the upload vanished meanwhile, the part's blobs are removed.
    async fn store_part(&self, up: &UploadRecord, number: u32, ing: &Ingested) -> S3Result<()> {
        let rec = PartRecord {
            part_number: number,
            blob: ing.part.blob.clone(),
            size: ing.part.size,
            etag: ing.part.etag.clone(),
            blake3: ing.part.blake3.clone(),
            last_modified_ms: self.strata.clock.now_ms(),
            checksums: ing.checksums.clone(),
        };
        let id = up.upload_id.clone();
        if let Err(e) = self
            .strata
            .with_catalog(move |c| c.put_part(&id, rec))
            .await
        {
            self.discard(std::slice::from_ref(&ing.part), &up.replicas)
                .await;
            return Err(catalog_err(e));
        }
        Ok(())
    }

    pub(super) async fn create_multipart_upload_impl(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let i = req.input;
        if i.key.len() > 1024 {
            return Err(s3_error!(KeyTooLongError, "Your key is too long"));
        }
        check_user_metadata(i.metadata.as_ref())?;
        let (owner, acl) = self
            .acl_of_write(
                &i.bucket,
                req.credentials.as_ref(),
                &super::acl::acl_request!(i),
            )
            .await?;
        let algorithm = match &i.checksum_algorithm {
            Some(a) => Some(
                crate::checksums::ALGORITHMS
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(a.as_str()))
                    .map(|(n, _)| (*n).to_owned())
                    .ok_or_else(|| s3_error!(InvalidRequest, "unsupported checksum algorithm"))?,
            ),
            None => None,
        };
        // The completed object's checksum: of the whole object (FULL_OBJECT, the CRCs only; CRC64NVME has no
        // other) or of the parts' checksums (COMPOSITE, the default for the others), as S3 allows them.
        let full_object_checksum = match (
            algorithm.as_deref(),
            i.checksum_type.as_ref().map(ChecksumType::as_str),
        ) {
            (_, Some(t)) if t != ChecksumType::FULL_OBJECT && t != ChecksumType::COMPOSITE => {
                return Err(s3_error!(InvalidRequest, "Invalid checksum type: {t}"));
            }
            (None, Some(_)) => {
                return Err(s3_error!(
                    InvalidRequest,
                    "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header."
                ));
            }
            (Some("SHA1" | "SHA256"), Some(ChecksumType::FULL_OBJECT)) => {
                return Err(s3_error!(
                    InvalidRequest,
                    "The FULL_OBJECT checksum type cannot be used with the SHA checksum algorithms."
                ));
            }
            (Some("CRC64NVME"), Some(ChecksumType::COMPOSITE)) => {
                return Err(s3_error!(
                    InvalidRequest,
                    "The COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm."
                ));
            }
            (Some("CRC64NVME"), _) | (Some(_), Some(ChecksumType::FULL_OBJECT)) => true,
            _ => false,
        };
        let tags = super::tagging::from_header(i.tagging.as_deref())?;
        let upload_id = uuid::Uuid::new_v4().simple().to_string();
        let mut meta = meta_from_request(
            i.content_type,
            i.content_encoding,
            i.content_disposition,
            i.content_language,
            i.cache_control,
            i.expires,
            i.metadata,
        );
        meta.tags = tags;
        meta.owner = owner;
        meta.acl = acl;
        self.apply_requested_lock(
            &i.bucket,
            &mut meta,
            i.object_lock_mode.as_ref(),
            i.object_lock_retain_until_date.as_ref(),
            i.object_lock_legal_hold_status.as_ref(),
        )
        .await?;
        let up = UploadRecord {
            upload_id: upload_id.clone(),
            bucket: i.bucket.clone(),
            key: i.key.clone(),
            initiated_ms: self.strata.clock.now_ms(),
            meta,
            replicas: self
                .strata
                .new_objects
                .for_multipart()
                .iter()
                .map(|b| b.name().to_owned())
                .collect(),
            checksum_algorithm: algorithm.clone(),
            full_object_checksum,
        };
        self.strata
            .with_catalog(move |c| c.create_upload(up))
            .await
            .map_err(catalog_err)?;
        Ok(S3Response::new(CreateMultipartUploadOutput {
            bucket: Some(i.bucket),
            key: Some(i.key),
            upload_id: Some(upload_id),
            checksum_type: algorithm.is_some().then(|| {
                ChecksumType::from_static(if full_object_checksum {
                    ChecksumType::FULL_OBJECT
                } else {
                    ChecksumType::COMPOSITE
                })
            }),
            checksum_algorithm: algorithm.map(ChecksumAlgorithm::from),
            ..Default::default()
        }))
    }

    pub(super) async fn upload_part_impl(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        let S3Request {
            input: i,
            headers,
            trailing_headers,
            ..
        } = req;
        let number = check_part_number(i.part_number)?;
        let up = self.upload_for(&i.bucket, &i.key, &i.upload_id).await?;
        let targets = self.upload_targets(&up)?;
        let body = i
            .body
            .ok_or_else(|| s3_error!(IncompleteBody, "an UploadPart needs a body"))?;
        let algorithm = i
            .checksum_algorithm
            .as_ref()
            .map(|a| a.as_str().to_owned())
            .or(up.checksum_algorithm.clone());
        let expect =
            Expectations::from_request(&headers, i.content_md5.as_deref(), algorithm.as_deref())?;
        let declared = i.content_length.and_then(|l| u64::try_from(l).ok());
        let ing = ingest::ingest(
            &self.strata,
            &targets,
            body,
            declared,
            &expect,
            trailing_headers.as_ref(),
        )
        .await?;
        self.store_part(&up, number, &ing).await?;
        let sums = to_dto(&ing.checksums);
        Ok(S3Response::new(UploadPartOutput {
            e_tag: Some(ETag::Strong(ing.part.etag.clone())),
            checksum_crc32: sums.checksum_crc32,
            checksum_crc32c: sums.checksum_crc32c,
            checksum_sha1: sums.checksum_sha1,
            checksum_sha256: sums.checksum_sha256,
            checksum_crc64nvme: sums.checksum_crc64nvme,
            ..Default::default()
        }))
    }

    pub(super) async fn upload_part_copy_impl(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        let i = req.input;
        let number = check_part_number(i.part_number)?;
        let up = self.upload_for(&i.bucket, &i.key, &i.upload_id).await?;
        let targets = self.upload_targets(&up)?;
        let (src_bucket, src_key, src) = self
            .copy_source(
                &i.copy_source,
                i.copy_source_if_match.as_ref(),
                i.copy_source_if_unmodified_since.as_ref(),
                i.copy_source_if_none_match.as_ref(),
                i.copy_source_if_modified_since.as_ref(),
            )
            .await?;
        let range = match &i.copy_source_range {
            Some(r) => parse_copy_range(r, src.size)?,
            None => 0..src.size,
        };
        if range.end - range.start > ingest::MAX_PUT_SIZE {
            return Err(s3_error!(
                InvalidRequest,
                "a copied part may be at most 5 GiB"
            ));
        }
        let len = range.end - range.start;
        let ing = self.copy_data(&src, range, &targets).await?;
        self.record(&src_bucket, &src_key, AccessKind::Copy, len);
        self.store_part(&up, number, &ing).await?;
        Ok(S3Response::new(UploadPartCopyOutput {
            copy_part_result: Some(CopyPartResult {
                e_tag: Some(ETag::Strong(ing.part.etag.clone())),
                last_modified: Some(ms_to_timestamp(self.strata.clock.now_ms())),
                ..Default::default()
            }),
            ..Default::default()
        }))
    }

    pub(super) async fn complete_multipart_upload_impl(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let i = req.input;
        let cond = write_condition(i.if_match.as_ref(), i.if_none_match.as_ref())?;
        let up = match self.upload_for(&i.bucket, &i.key, &i.upload_id).await {
            Ok(up) => up,
            Err(e) => {
                return match self.completed_by(&i.bucket, &i.key, &i.upload_id).await? {
                    Some(done) => Ok(S3Response::new(done)),
                    None => Err(e),
                };
            }
        };
        let requested = i.multipart_upload.and_then(|m| m.parts).unwrap_or_default();
        if requested.is_empty() {
            return Err(s3_error!(
                MalformedXML,
                "You must specify at least one part"
            ));
        }
        let id = up.upload_id.clone();
        let stored = self
            .strata
            .with_catalog(move |c| c.list_parts(&id))
            .await
            .map_err(catalog_err)?;
        let mut chosen = Vec::with_capacity(requested.len());
        let mut last_number = 0i32;
        for p in &requested {
            let n = p
                .part_number
                .ok_or_else(|| s3_error!(MalformedXML, "a part has no PartNumber"))?;
            // Out of range is InvalidArgument (as for UploadPart), not a misleading InvalidPartOrder.
            check_part_number(n)?;
            if n <= last_number {
                return Err(s3_error!(
                    InvalidPartOrder,
                    "The list of parts was not in ascending order. The parts list must be specified in order by part number."
                ));
            }
            last_number = n;
            let rec = stored
                .iter()
                .find(|s| i64::from(s.part_number) == i64::from(n))
                .ok_or_else(|| {
                    s3_error!(
                        InvalidPart,
                        "One or more of the specified parts could not be found."
                    )
                })?;
            // A part checksum named in the request must be the one the part was uploaded with.
            let named = crate::checksums::ALGORITHMS.iter().find_map(|(algo, _)| {
                let given = match *algo {
                    "CRC32" => p.checksum_crc32.as_ref(),
                    "CRC32C" => p.checksum_crc32c.as_ref(),
                    "SHA1" => p.checksum_sha1.as_ref(),
                    "SHA256" => p.checksum_sha256.as_ref(),
                    _ => p.checksum_crc64nvme.as_ref(),
                }?;
                Some(rec.checksums.get(*algo) != Some(given))
            });
            if named == Some(true) {
                return Err(s3_error!(
                    InvalidPart,
                    "One or more of the specified parts could not be found. The part's checksum did not match."
                ));
            }
            if let Some(e) = &p.e_tag
                && e.value() != rec.etag
            {
                return Err(s3_error!(
                    InvalidPart,
                    "One or more of the specified parts could not be found. The part might not have been uploaded, or the specified entity tag might not have matched the part's entity tag."
                ));
            }
            chosen.push(rec.clone());
        }
        if let Some(pos) = chosen[..chosen.len() - 1]
            .iter()
            .position(|p| p.size < MIN_PART_SIZE)
        {
            return Err(s3_error!(
                EntityTooSmall,
                "Your proposed upload is smaller than the minimum allowed object size. Part {} is {} bytes.",
                chosen[pos].part_number,
                chosen[pos].size
            ));
        }
        let etags: Vec<&str> = chosen.iter().map(|p| p.etag.as_str()).collect();
        let etag = multipart_etag(&etags)?;
        let size = chosen.iter().map(|p| p.size).sum();
        // The upload's checksum algorithm gives the object a composite checksum, when every part has one.
        let mut meta = up.meta.clone();
        meta.completed_upload = Some(up.upload_id.clone());
        if let Some(algo) = up.checksum_algorithm.as_deref() {
            let sums: Option<Vec<&str>> = chosen
                .iter()
                .map(|p| p.checksums.get(algo).map(String::as_str))
                .collect();
            if up.full_object_checksum {
                let sized: Option<Vec<(&str, u64)>> = sums.as_ref().map(|s| {
                    s.iter()
                        .zip(&chosen)
                        .map(|(sum, p)| (*sum, p.size))
                        .collect()
                });
                if let Some(value) = sized.and_then(|s| crate::checksums::full_object(algo, &s)) {
                    meta.checksums.insert(algo.to_owned(), value);
                }
            } else if let Some(value) = sums
                .as_deref()
                .and_then(|s| crate::checksums::composite(algo, s))
            {
                meta.checksums.insert(algo.to_owned(), value);
                meta.part_checksums = sums.map(|s| catalog::PartChecksums {
                    algorithm: algo.to_owned(),
                    parts: chosen
                        .iter()
                        .zip(s)
                        .map(|(p, sum)| (p.part_number, sum.to_owned()))
                        .collect(),
                });
            }
        }
        // A whole-object checksum named in the request must be the one the parts make (with or without the `-N`
        // part count of a composite value): 400 BadDigest otherwise, as S3 answers.
        let named = [
            ("CRC32", &i.checksum_crc32),
            ("CRC32C", &i.checksum_crc32c),
            ("SHA1", &i.checksum_sha1),
            ("SHA256", &i.checksum_sha256),
            ("CRC64NVME", &i.checksum_crc64nvme),
        ];
        for (algo, given) in named {
            let Some(given) = given else { continue };
            let made = meta.checksums.get(algo);
            let bare = made.and_then(|m| m.rsplit_once('-')).map(|(b, _)| b);
            if made != Some(given) && bare != Some(given.as_str()) {
                return Err(s3_error!(
                    BadDigest,
                    "The {algo} you specified did not match the calculated checksum."
                ));
            }
        }
        let object_sums = to_dto(&meta.checksums);
        let obj = NewObject {
            size,
            etag: etag.clone(),
            last_modified_ms: self.strata.clock.now_ms(),
            parts: chosen
                .iter()
                .map(|p| catalog::PartRef {
                    blob: p.blob.clone(),
                    size: p.size,
                    blake3: p.blake3.clone(),
                    etag: p.etag.clone(),
                })
                .collect(),
            replicas: up.replicas.clone(),
            meta,
        };
        let id = up.upload_id.clone();
        let outcome = self
            .strata
            .with_catalog(move |c| c.complete_upload_if(&id, obj, &cond))
            .await
            .map_err(catalog_err)?;
        if let Some(old) = &outcome.replaced {
            self.bill_removal(old);
        }
        self.record(&i.bucket, &i.key, AccessKind::Put, size);
        Ok(S3Response::new(completion_answer(
            &i.bucket,
            &i.key,
            etag,
            outcome.version_header(),
            object_sums,
        )))
    }

    /// The answer to a CompleteMultipartUpload of an upload that is gone: the same answer again when the key's
    /// current version is the one that upload's completion made (a retry after a lost answer), else `None`.
    async fn completed_by(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> S3Result<Option<CompleteMultipartUploadOutput>> {
        let (b, k) = (bucket.to_owned(), key.to_owned());
        let current = self
            .strata
            .with_catalog(move |c| c.get_object(&b, &k))
            .await
            .map_err(catalog_err)?;
        let Some(rec) = current.filter(|r| r.meta.completed_upload.as_deref() == Some(upload_id))
        else {
            return Ok(None);
        };
        let sums = to_dto(&rec.meta.checksums);
        Ok(Some(completion_answer(
            bucket,
            key,
            rec.etag,
            rec.version_id,
            sums,
        )))
    }

    pub(super) async fn abort_multipart_upload_impl(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let i = req.input;
        let up = self.upload_for(&i.bucket, &i.key, &i.upload_id).await?;
        let id = up.upload_id.clone();
        // The parts' blobs are now garbage; the reaper deletes them.
        self.strata
            .with_catalog(move |c| c.abort_upload(&id))
            .await
            .map_err(catalog_err)?;
        Ok(S3Response::new(AbortMultipartUploadOutput::default()))
    }

    pub(super) async fn list_parts_impl(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        let i = req.input;
        let up = self.upload_for(&i.bucket, &i.key, &i.upload_id).await?;
        let max = match i.max_parts {
            None => 1000,
            Some(n) if n < 0 => {
                return Err(s3_error!(
                    InvalidArgument,
                    "max-parts must be a non-negative integer"
                ));
            }
            Some(n) => (n as usize).min(1000),
        };
        let marker = match i.part_number_marker {
            None => 0,
            Some(m) => u32::try_from(m).map_err(|_| {
                s3_error!(
                    InvalidArgument,
                    "part-number-marker must be a non-negative integer"
                )
            })?,
        };
        let id = up.upload_id.clone();
        let all = self
            .strata
            .with_catalog(move |c| c.list_parts(&id))
            .await
            .map_err(catalog_err)?;
        let rest: Vec<_> = all.into_iter().filter(|p| p.part_number > marker).collect();
        let truncated = rest.len() > max;
        let page: Vec<_> = rest.into_iter().take(max).collect();
        let next = page
            .last()
            .map(|p| p.part_number as i32)
            .filter(|_| truncated);
        let parts = page
            .iter()
            .map(|p| {
                let sums = to_dto(&p.checksums);
                Part {
                    part_number: Some(p.part_number as i32),
                    size: i64::try_from(p.size).ok(),
                    e_tag: Some(ETag::Strong(p.etag.clone())),
                    last_modified: Some(ms_to_timestamp(p.last_modified_ms)),
                    checksum_crc32: sums.checksum_crc32,
                    checksum_crc32c: sums.checksum_crc32c,
                    checksum_sha1: sums.checksum_sha1,
                    checksum_sha256: sums.checksum_sha256,
                    checksum_crc64nvme: sums.checksum_crc64nvme,
                }
            })
            .collect();
        Ok(S3Response::new(ListPartsOutput {
            bucket: Some(i.bucket),
            key: Some(i.key),
            upload_id: Some(i.upload_id),
            max_parts: Some(max as i32),
            is_truncated: Some(truncated),
            part_number_marker: i.part_number_marker,
            next_part_number_marker: next,
            parts: Some(parts),
            storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
            checksum_algorithm: up.checksum_algorithm.map(ChecksumAlgorithm::from),
            ..Default::default()
        }))
    }

    pub(super) async fn list_multipart_uploads_impl(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        let i = req.input;
        self.require_bucket(&i.bucket).await?;
        let max = match i.max_uploads {
            None => 1000,
            Some(n) if n < 0 => {
                return Err(s3_error!(
                    InvalidArgument,
                    "max-uploads must be a non-negative integer"
                ));
            }
            Some(n) => (n as usize).min(1000),
        };
        let (b, p, d, km, um) = (
            i.bucket.clone(),
            i.prefix.clone().unwrap_or_default(),
            i.delimiter.clone().filter(|d| !d.is_empty()),
            i.key_marker.clone(),
            i.upload_id_marker.clone(),
        );
        let page = self
            .strata
            .with_catalog(move |c| {
                c.list_uploads(&b, &p, d.as_deref(), km.as_deref(), um.as_deref(), max)
            })
            .await
            .map_err(catalog_err)?;
        let bucket_owner = self
            .bucket_owner_id(&i.bucket, req.credentials.as_ref())
            .await
            .unwrap_or_default();
        let uploads = page
            .uploads
            .iter()
            .map(|u| MultipartUpload {
                initiator: Some(Initiator {
                    id: Some(u.meta.owner.clone().unwrap_or_else(|| bucket_owner.clone())),
                    display_name: Some(
                        u.meta.owner.clone().unwrap_or_else(|| bucket_owner.clone()),
                    ),
                }),
                owner: Some(super::acl::owner_dto(
                    u.meta.owner.as_deref().unwrap_or(&bucket_owner),
                )),
                key: Some(u.key.clone()),
                upload_id: Some(u.upload_id.clone()),
                initiated: Some(ms_to_timestamp(u.initiated_ms)),
                storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
                checksum_algorithm: u.checksum_algorithm.clone().map(ChecksumAlgorithm::from),
                ..Default::default()
            })
            .collect();
        let common: Vec<CommonPrefix> = page
            .common_prefixes
            .iter()
            .map(|p| CommonPrefix {
                prefix: Some(p.clone()),
            })
            .collect();
        Ok(S3Response::new(ListMultipartUploadsOutput {
            bucket: Some(i.bucket),
            prefix: i.prefix,
            delimiter: i.delimiter,
            key_marker: i.key_marker,
            upload_id_marker: i.upload_id_marker,
            max_uploads: Some(max as i32),
            is_truncated: Some(page.is_truncated),
            next_key_marker: page.next_key_marker,
            next_upload_id_marker: page.next_upload_id_marker,
            uploads: Some(uploads),
            common_prefixes: (!common.is_empty()).then_some(common),
            encoding_type: i.encoding_type,
            ..Default::default()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_etag_matches_s3() {
        // Two parts "a" and "b": md5(md5("a") || md5("b")) + "-2".
        let a = hex::encode(Md5::checksum(b"a"));
        let b = hex::encode(Md5::checksum(b"b"));
        let mut both = Vec::new();
        both.extend_from_slice(&Md5::checksum(b"a"));
        both.extend_from_slice(&Md5::checksum(b"b"));
        let expected = format!("{}-2", hex::encode(Md5::checksum(&both)));
        assert_eq!(multipart_etag(&[&a, &b]).unwrap(), expected);
    }

    #[test]
    fn copy_ranges() {
        assert_eq!(parse_copy_range("bytes=0-9", 10).unwrap(), 0..10);
        assert!(parse_copy_range("bytes=5-10", 10).is_err());
        assert!(parse_copy_range("0-9", 10).is_err());
        assert!(parse_copy_range("bytes=9-1", 10).is_err());
        assert!(check_part_number(0).is_err() && check_part_number(10_001).is_err());
        assert_eq!(check_part_number(10_000).unwrap(), 10_000);
    }
}

/// Property test of x-amz-copy-source-range parsing (our own parser): any text and any object size give a
/// non-empty range within the object or an error; never a panic.
#[cfg(test)]
mod copy_range_props {
    use super::*;
    use proptest::prelude::*;
    use s3s::S3ErrorCode;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn copy_source_ranges_stay_in_bounds(
            s in prop_oneof![
                (any::<u64>(), any::<u64>()).prop_map(|(a, b)| format!("bytes={a}-{b}")),
                (0u64..20, 0u64..20).prop_map(|(a, b)| format!("bytes={a}-{b}")),
                "bytes=[-0-9 +]{0,14}",
                ".{0,20}",
            ],
            size in prop_oneof![0u64..20, any::<u64>()],
        ) {
            match parse_copy_range(&s, size) {
                Ok(r) => {
                    prop_assert!(r.start < r.end && r.end <= size, "{} on {}: {:?}", s, size, r);
                }
                Err(e) => prop_assert!(
                    matches!(e.code(), S3ErrorCode::InvalidArgument | S3ErrorCode::InvalidRange),
                    "{:?}", e.code()
                ),
            }
        }
    }
}

/// CompleteMultipartUpload's answer about the version it made (`version_id`: the header's value, `None` without).
fn completion_answer(
    bucket: &str,
    key: &str,
    etag: String,
    version_id: Option<String>,
    sums: Checksum,
) -> CompleteMultipartUploadOutput {
    CompleteMultipartUploadOutput {
        version_id,
        checksum_crc32: sums.checksum_crc32,
        checksum_crc32c: sums.checksum_crc32c,
        checksum_sha1: sums.checksum_sha1,
        checksum_sha256: sums.checksum_sha256,
        checksum_crc64nvme: sums.checksum_crc64nvme,
        checksum_type: sums.checksum_type,
        bucket: Some(bucket.to_owned()),
        key: Some(key.to_owned()),
        e_tag: Some(ETag::Strong(etag)),
        location: Some(format!("/{bucket}/{key}")),
        ..Default::default()
    }
}
