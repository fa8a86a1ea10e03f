//! The write path: stream one body once into sealed blobs on every target backend.
//!
//! While the bytes flow, we compute the MD5 (ETag), the blake3 of the plaintext (what the mover and scrubber
//! verify later) and any checksum the client announced. Each chunk is written to all targets concurrently, so
//! memory holds at most one chunk plus each writer's bounded buffer. Nothing becomes visible unless the whole
//! body arrived, every check passed and every target finished; otherwise every target is aborted.

use std::sync::Arc;

use backends::{Backend, SealedWriter};
use bytes::Bytes;
use catalog::PartRef;
use futures::{Stream, StreamExt};
use s3s::crypto::{Checksum as _, Md5};
use s3s::{S3Error, S3ErrorCode, S3Result, TrailingHeaders, s3_error};

use crate::checksums::Expectations;
use engine::metrics::Metrics;
use std::sync::atomic::Ordering::Relaxed;

/// Largest single PUT (and part) S3 accepts.
pub const MAX_PUT_SIZE: u64 = 5 * 1024 * 1024 * 1024;

/// A body that is now durable on every target.
pub struct Ingested {
    pub part: PartRef,
    pub checksums: std::collections::BTreeMap<String, String>,
}

/// A fresh, unique blob name.
pub fn new_blob_name() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("blobs/{}/{}", &id[..2], id)
}

/// What went wrong reading the client's body: an s3s error inside is kept, anything else is a short body.
fn body_error(e: &(dyn std::error::Error + 'static)) -> S3Error {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(s3) = err.downcast_ref::<S3Error>() {
            let mut out = S3Error::new(s3.code().clone());
            if let Some(m) = s3.message() {
                out.set_message(m.to_owned());
            }
            return out;
        }
        cur = err.source();
    }
    // s3s reports a body that does not hash to x-amz-content-sha256 with a private error type; AWS's code for it
    // is XAmzContentSHA256Mismatch.
    if format!("{e:?}").contains("Sha256Mismatch") {
        let mut err = S3Error::with_message(
            S3ErrorCode::Custom("XAmzContentSHA256Mismatch".into()),
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        );
        err.set_status_code(http::StatusCode::BAD_REQUEST);
        return err;
    }
    S3Error::with_message(
        S3ErrorCode::IncompleteBody,
        format!("the request body could not be read: {e}"),
    )
}

fn backend_error(what: &str, e: impl std::fmt::Display) -> S3Error {
    tracing::warn!(error = %e, "{what}");
    S3Error::with_message(S3ErrorCode::ServiceUnavailable, format!("{what}: {e}"))
}

/// Streams `body` into a new blob on every backend of `targets`.
///
/// `expected_len` (Content-Length, when the client declared one) must match what arrives. Checks in `expect` are
/// verified after the last byte (trailer checksums are only known then) and before the blob becomes visible.
pub async fn ingest<S, E>(
    metrics: &Metrics,
    targets: &[Arc<Backend>],
    body: S,
    expected_len: Option<u64>,
    expect: &Expectations,
    trailers: Option<&TrailingHeaders>,
) -> S3Result<Ingested>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
{
    if let Some(len) = expected_len
        && len > MAX_PUT_SIZE
    {
        return Err(s3_error!(
            EntityTooLarge,
            "objects larger than 5 GiB need a multipart upload"
        ));
    }
    let blob = new_blob_name();
    let mut writers = Vec::with_capacity(targets.len());
    for t in targets {
        match t.writer(&blob).await {
            Ok(w) => writers.push(w),
            Err(e) => {
                abort_all(writers).await;
                return Err(backend_error(
                    &format!("cannot start a write on backend {}", t.name()),
                    e,
                ));
            }
        }
    }
    match stream_into(&mut writers, body, expected_len, expect, trailers).await {
        Ok((size, md5, blake3, checksums)) => {
            finish_all(metrics, targets, writers, &blob).await?;
            metrics.bytes_in.fetch_add(size, Relaxed);
            for t in targets {
                let c = metrics.backend(t.name());
                c.writes.fetch_add(1, Relaxed);
                c.bytes_written.fetch_add(size, Relaxed);
            }
            Ok(Ingested {
                part: PartRef {
                    blob,
                    size,
                    blake3,
                    etag: hex::encode(md5),
                },
                checksums,
            })
        }
        Err(e) => {
            abort_all(writers).await;
            Err(e)
        }
    }
}

type Streamed = (
    u64,
    [u8; 16],
    String,
    std::collections::BTreeMap<String, String>,
);

async fn stream_into<S, E>(
    writers: &mut [SealedWriter],
    mut body: S,
    expected_len: Option<u64>,
    expect: &Expectations,
    trailers: Option<&TrailingHeaders>,
) -> S3Result<Streamed>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
{
    let mut md5 = Md5::new();
    let mut blake = blake3::Hasher::new();
    let mut sums = expect.hasher();
    let mut size: u64 = 0;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| body_error(e.into().as_ref()))?;
        if chunk.is_empty() {
            continue;
        }
        size += chunk.len() as u64;
        if size > MAX_PUT_SIZE {
            return Err(s3_error!(
                EntityTooLarge,
                "objects larger than 5 GiB need a multipart upload"
            ));
        }
        if let Some(len) = expected_len
            && size > len
        {
            return Err(s3_error!(IncompleteBody, "more bytes than Content-Length"));
        }
        md5.update(&chunk);
        blake.update(&chunk);
        sums.update(&chunk);
        let writes = writers.iter_mut().map(|w| w.write(chunk.clone()));
        futures::future::try_join_all(writes)
            .await
            .map_err(|e| backend_error("backend write failed", e))?;
    }
    if let Some(len) = expected_len
        && size != len
    {
        return Err(S3Error::with_message(
            S3ErrorCode::IncompleteBody,
            format!("received {size} bytes of the {len} announced by Content-Length"),
        ));
    }
    let md5 = md5.finalize();
    let checksums = expect.verify(&md5, &sums.finalize(), trailers)?;
    Ok((size, md5, blake.finalize().to_hex().to_string(), checksums))
}

async fn finish_all(
    metrics: &Metrics,
    targets: &[Arc<Backend>],
    writers: Vec<SealedWriter>,
    blob: &str,
) -> S3Result<()> {
    let results = futures::future::join_all(writers.into_iter().map(SealedWriter::finish)).await;
    if let Some(pos) = results.iter().position(Result::is_err) {
        // Some target did not make it: remove the copies that did, so nothing half-written remains.
        for (t, r) in targets.iter().zip(&results) {
            if r.is_ok()
                && let Err(e) = t.delete(blob).await
            {
                tracing::warn!(backend = t.name(), blob, error = %e, "cannot remove a partial replica; start-up recovery will");
            }
        }
        let err = results.into_iter().nth(pos).and_then(Result::err);
        let name = targets
            .get(pos)
            .map(|t| t.name().to_owned())
            .unwrap_or_default();
        metrics.backend(&name).write_errors.fetch_add(1, Relaxed);
        return Err(backend_error(
            &format!("backend {name} could not complete the write"),
            err.map(|e| e.to_string()).unwrap_or_default(),
        ));
    }
    Ok(())
}

async fn abort_all(writers: Vec<SealedWriter>) {
    for w in writers {
        w.abort().await;
    }
}
