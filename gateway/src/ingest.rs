//! The write path: stream one body once into sealed blobs on every target backend.
//!
//! While the bytes flow, we compute the MD5 (ETag), the blake3 of the plaintext (what the mover and scrubber
//! verify later) and any checksum the client announced. Each chunk is written to all targets concurrently, so
//! memory holds at most one chunk plus each writer's bounded buffer. Nothing becomes visible unless the whole
//! body arrived, every check passed and every target finished; otherwise every target is aborted.

use std::sync::Arc;

use backends::{Backend, BackendError, SealedWriter};
use bytes::Bytes;
use catalog::PartRef;
use futures::{Stream, StreamExt};
use s3s::crypto::{Checksum as _, Md5};
use s3s::{S3Error, TrailingHeaders};

use crate::checksums::Expectations;
use engine::Core;
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

/// Why a body was not stored. Nothing of it is visible, and no target keeps a copy. The S3 answer to each is
/// chosen in [`crate::s3::errors`].
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// More than [`MAX_PUT_SIZE`] bytes, declared or sent.
    #[error("objects larger than 5 GiB need a multipart upload")]
    TooLarge,
    /// More bytes arrived than Content-Length declared.
    #[error("more bytes than the {declared} of Content-Length")]
    LongerThanDeclared { declared: u64 },
    /// The body ended before Content-Length was reached.
    #[error("received {received} bytes of the {declared} announced by Content-Length")]
    ShorterThanDeclared { received: u64, declared: u64 },
    /// The body stream failed: the client went away, s3s refused a signature or a digest, or (for a copy) the
    /// source could not be read.
    #[error("the request body could not be read: {0}")]
    Body(Box<dyn std::error::Error + Send + Sync + 'static>),
    /// A checksum or Content-MD5 the client announced does not match the body.
    #[error("{0}")]
    Checksum(S3Error),
    /// A target backend refused or failed the write.
    #[error("{what}: {source}")]
    Backend {
        what: String,
        #[source]
        source: BackendError,
    },
}

impl IngestError {
    fn backend(what: impl Into<String>, source: BackendError) -> IngestError {
        let what = what.into();
        tracing::warn!(error = %source, "{what}");
        IngestError::Backend { what, source }
    }
}

/// Streams `body` into a new blob on every backend of `targets` (one backend PUT each, counted in `strata`'s
/// metrics and billed).
///
/// `expected_len` (Content-Length, when the client declared one) must match what arrives. Checks in `expect` are
/// verified after the last byte (trailer checksums are only known then) and before the blob becomes visible.
pub async fn ingest<S, E>(
    strata: &Core,
    targets: &[Arc<Backend>],
    body: S,
    expected_len: Option<u64>,
    expect: &Expectations,
    trailers: Option<&TrailingHeaders>,
) -> Result<Ingested, IngestError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
{
    if let Some(len) = expected_len
        && len > MAX_PUT_SIZE
    {
        return Err(IngestError::TooLarge);
    }
    let blob = new_blob_name();
    let mut writers = Vec::with_capacity(targets.len());
    for t in targets {
        match t.writer(&blob).await {
            Ok(w) => writers.push(w),
            Err(e) => {
                abort_all(writers).await;
                return Err(IngestError::backend(
                    format!("cannot start a write on backend {}", t.name()),
                    e,
                ));
            }
        }
    }
    match stream_into(&mut writers, body, expected_len, expect, trailers).await {
        Ok((size, md5, blake3, checksums)) => {
            let metrics = &*strata.metrics;
            finish_all(metrics, targets, writers, &blob).await?;
            metrics.bytes_in.fetch_add(size, Relaxed);
            for t in targets {
                strata.bill.put(t.name());
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
) -> Result<Streamed, IngestError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
{
    let mut md5 = Md5::new();
    let mut blake = blake3::Hasher::new();
    let mut sums = expect.hasher();
    let mut size: u64 = 0;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| IngestError::Body(e.into()))?;
        if chunk.is_empty() {
            continue;
        }
        size += chunk.len() as u64;
        if size > MAX_PUT_SIZE {
            return Err(IngestError::TooLarge);
        }
        if let Some(len) = expected_len
            && size > len
        {
            return Err(IngestError::LongerThanDeclared { declared: len });
        }
        md5.update(&chunk);
        blake.update(&chunk);
        sums.update(&chunk);
        let writes = writers.iter_mut().map(|w| w.write(chunk.clone()));
        futures::future::try_join_all(writes)
            .await
            .map_err(|e| IngestError::backend("backend write failed", e))?;
    }
    if let Some(len) = expected_len
        && size != len
    {
        return Err(IngestError::ShorterThanDeclared {
            received: size,
            declared: len,
        });
    }
    let md5 = md5.finalize();
    let checksums = expect
        .verify(&md5, &sums.finalize(), trailers)
        .map_err(IngestError::Checksum)?;
    Ok((size, md5, blake.finalize().to_hex().to_string(), checksums))
}

async fn finish_all(
    metrics: &Metrics,
    targets: &[Arc<Backend>],
    writers: Vec<SealedWriter>,
    blob: &str,
) -> Result<(), IngestError> {
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
        let name = targets
            .get(pos)
            .map(|t| t.name().to_owned())
            .unwrap_or_default();
        metrics.backend(&name).write_errors.fetch_add(1, Relaxed);
        if let Some(Err(e)) = results.into_iter().nth(pos) {
            return Err(IngestError::backend(
                format!("backend {name} could not complete the write"),
                e,
            ));
        }
    }
    Ok(())
}

async fn abort_all(writers: Vec<SealedWriter>) {
    for w in writers {
        w.abort().await;
    }
}
