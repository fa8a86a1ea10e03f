//! Issues one request and measures it.

use std::time::{Duration, Instant};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::Bytes;

use super::source::{ReqKind, Request};

/// Upload settings shared by every request.
#[derive(Clone, Debug)]
pub struct UploadCfg {
    /// Sizes at or above this use a multipart upload.
    pub multipart_threshold: u64,
    /// Part size of multipart uploads (the last part may be smaller).
    pub part_size: u64,
    /// Writes are truncated to this size.
    pub max_object_bytes: u64,
}

/// The outcome of one request.
#[derive(Debug)]
pub struct Outcome {
    /// Operation label (see [`super::stats::OP_LABELS`]).
    pub op: &'static str,
    /// Wall time from the first byte sent to the last byte received.
    pub latency: Duration,
    /// Payload bytes moved.
    pub bytes: u64,
    /// `(key, error)` if it failed.
    pub error: Option<(String, String)>,
}

/// Pseudo-random payload bytes (xorshift), so bodies do not compress.
pub fn payload(len: usize) -> Bytes {
    let mut out = Vec::with_capacity(len + 8);
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    Bytes::from(out)
}

/// A one-line summary of an SDK error: `HTTP <status> <Code>: <message>`
/// for service errors, the error chain otherwise (timeouts, connection
/// failures, ...).
pub fn sdk_error_text<E>(e: SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match &e {
        SdkError::ServiceError(se) => {
            let status = se.raw().status().as_u16();
            let code = se.err().code().unwrap_or("no error code");
            match se.err().message() {
                Some(m) => format!("HTTP {status} {code}: {m}"),
                None => format!("HTTP {status} {code}"),
            }
        }
        _ => DisplayErrorContext(e).to_string(),
    }
}

fn err_text<E>(e: SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    sdk_error_text(e)
}

/// Writes `size` bytes under `key` (multipart above the threshold).
/// `data` must hold at least `max(multipart_threshold, part_size)` bytes.
pub async fn put(
    client: &Client,
    bucket: &str,
    key: &str,
    size: u64,
    data: &Bytes,
    cfg: &UploadCfg,
) -> Result<&'static str, String> {
    let size = size.min(cfg.max_object_bytes);
    if size < cfg.multipart_threshold {
        let body = data.slice(0..size as usize);
        client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_length(size as i64)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(err_text)?;
        return Ok("PUT");
    }
    let created = client
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(err_text)?;
    let upload_id = created
        .upload_id()
        .ok_or("CreateMultipartUpload returned no UploadId")?
        .to_string();
    match upload_parts(client, bucket, key, &upload_id, size, data, cfg).await {
        Ok(()) => Ok("PUT_MULTIPART"),
        Err(e) => {
            // Best effort: do not leave the upload's parts behind.
            let _ = client
                .abort_multipart_upload()
                .bucket(bucket)
                .key(key)
                .upload_id(&upload_id)
                .send()
                .await;
            Err(e)
        }
    }
}

async fn upload_parts(
    client: &Client,
    bucket: &str,
    key: &str,
    upload_id: &str,
    size: u64,
    data: &Bytes,
    cfg: &UploadCfg,
) -> Result<(), String> {
    let mut parts = Vec::new();
    let mut offset = 0u64;
    let mut number = 1i32;
    while offset < size {
        let len = cfg.part_size.min(size - offset);
        let part = client
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(number)
            .content_length(len as i64)
            .body(ByteStream::from(data.slice(0..len as usize)))
            .send()
            .await
            .map_err(err_text)?;
        parts.push(
            CompletedPart::builder()
                .set_e_tag(part.e_tag().map(str::to_string))
                .part_number(number)
                .build(),
        );
        offset += len;
        number += 1;
    }
    client
        .complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .map_err(err_text)?;
    Ok(())
}

/// Reads an object (or a range), draining the body; returns the bytes read.
pub async fn get(
    client: &Client,
    bucket: &str,
    key: &str,
    range: Option<(u64, u64)>,
) -> Result<u64, String> {
    let mut req = client.get_object().bucket(bucket).key(key);
    if let Some((a, b)) = range {
        req = req.range(format!("bytes={a}-{b}"));
    }
    let mut body = req.send().await.map_err(err_text)?.body;
    let mut n = 0u64;
    while let Some(chunk) = body.next().await {
        n += chunk.map_err(|e| DisplayErrorContext(e).to_string())?.len() as u64;
    }
    Ok(n)
}

/// Runs one request. `known_size` is the size this run wrote under the
/// key, if any; ranges are clamped to it (or to the request's size).
pub async fn execute(
    client: &Client,
    bucket: &str,
    req: &Request,
    known_size: Option<u64>,
    data: &Bytes,
    cfg: &UploadCfg,
) -> Outcome {
    let started = Instant::now();
    let (op, result): (&'static str, Result<u64, String>) = match req.kind {
        ReqKind::Put => {
            let size = req.size.unwrap_or(0).min(cfg.max_object_bytes);
            match put(client, bucket, &req.key, size, data, cfg).await {
                Ok(op) => (op, Ok(size)),
                Err(e) => (
                    if size >= cfg.multipart_threshold {
                        "PUT_MULTIPART"
                    } else {
                        "PUT"
                    },
                    Err(e),
                ),
            }
        }
        ReqKind::Get => {
            let size = known_size.or(req.size);
            let range = match (req.range, size) {
                (Some(_), Some(0)) => None,
                (Some((a, b)), Some(s)) => Some((a.min(s - 1), b.min(s - 1))),
                (r, _) => r,
            };
            let op = if range.is_some() { "GET_RANGE" } else { "GET" };
            (op, get(client, bucket, &req.key, range).await)
        }
        ReqKind::Head => {
            let r = client
                .head_object()
                .bucket(bucket)
                .key(&req.key)
                .send()
                .await;
            ("HEAD", r.map(|_| 0).map_err(err_text))
        }
        ReqKind::Delete => {
            let r = client
                .delete_object()
                .bucket(bucket)
                .key(&req.key)
                .send()
                .await;
            ("DELETE", r.map(|_| 0).map_err(err_text))
        }
        ReqKind::List => {
            let r = client
                .list_objects_v2()
                .bucket(bucket)
                .prefix(&req.key)
                .max_keys(1000)
                .send()
                .await;
            ("LIST", r.map(|_| 0).map_err(err_text))
        }
    };
    let latency = started.elapsed();
    match result {
        Ok(bytes) => Outcome {
            op,
            latency,
            bytes,
            error: None,
        },
        Err(e) => Outcome {
            op,
            latency,
            bytes: 0,
            error: Some((req.key.clone(), e)),
        },
    }
}
