//! The read path: stream a byte range of an object from its replicas, failing over between them.
//!
//! A reader task walks the object's parts that overlap the range. For each part it reads from the replica with
//! the lowest expected first-byte latency; on an error — opening, mid-stream, or a frame that fails its check —
//! it resumes from the next replica at the byte it had reached. Backends only yield bytes of frames that opened
//! and verified, so a corrupt frame is never served. The task holds a [`ReadLease`](engine::reaper::ReadLease)
//! on the object's blobs until it ends, so an overwrite cannot delete them under it. A bounded channel carries
//! the bytes: memory does not grow with object size, and a slow client slows only its own reader.

use std::ops::Range;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use catalog::ObjectRecord;
use futures::{Stream, StreamExt};
use s3s::dto::StreamingBlob;
use std::sync::atomic::Ordering::Relaxed;
use tokio::sync::mpsc;

use engine::Core;

/// Why a read could not continue: every replica of a part failed (the last error is kept).
#[derive(Debug, thiserror::Error)]
#[error("no replica could serve {blob}: {last_error}")]
pub struct ReadError {
    pub blob: String,
    pub last_error: String,
}

/// Plaintext bytes of one object range, ready to be a response body.
pub struct ObjectBody {
    first: Option<Bytes>,
    rx: mpsc::Receiver<Result<Bytes, ReadError>>,
}

impl Stream for ObjectBody {
    type Item = Result<Bytes, ReadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(b) = self.first.take() {
            return Poll::Ready(Some(Ok(b)));
        }
        self.rx.poll_recv(cx)
    }
}

impl ObjectBody {
    pub fn into_blob(self) -> StreamingBlob {
        StreamingBlob::wrap(self)
    }
}

/// Starts reading `range` of `rec` and waits for the first bytes, so that an object that cannot be read at all
/// is an error (an S3 503) rather than a truncated 200.
pub async fn open(
    strata: &Arc<Core>,
    rec: &ObjectRecord,
    range: Range<u64>,
) -> Result<ObjectBody, ReadError> {
    let (tx, mut rx) = mpsc::channel(2);
    let lease = strata
        .leases
        .acquire(rec.parts.iter().map(|p| p.blob.clone()).collect());
    let strata2 = strata.clone();
    let rec = rec.clone();
    tokio::spawn(async move {
        let _lease = lease;
        pump(&strata2, &rec, range, tx).await;
    });
    match rx.recv().await {
        None => Ok(ObjectBody { first: None, rx }),
        Some(Ok(b)) => Ok(ObjectBody { first: Some(b), rx }),
        Some(Err(e)) => Err(e),
    }
}

async fn pump(
    strata: &Core,
    rec: &ObjectRecord,
    range: Range<u64>,
    tx: mpsc::Sender<Result<Bytes, ReadError>>,
) {
    let replicas = strata.replicas_by_latency(&rec.replicas);
    let mut part_start = 0u64;
    for part in &rec.parts {
        let part_end = part_start + part.size;
        let lo = range.start.max(part_start);
        let hi = range.end.min(part_end);
        if lo < hi {
            let mut pos = lo - part_start;
            let end = hi - part_start;
            let mut last_error = String::from("no replica is configured");
            for backend in &replicas {
                let counters = strata.metrics.backend(backend.name());
                counters.reads.fetch_add(1, Relaxed);
                strata.bill.get(backend.name());
                let mut stream = match backend.read(&part.blob, part.size, pos..end).await {
                    Ok(s) => s,
                    Err(e) => {
                        counters.read_errors.fetch_add(1, Relaxed);
                        counters.error_at(strata.clock.now_ms());
                        tracing::warn!(backend = backend.name(), blob = %part.blob, error = %e, "replica read failed; failing over");
                        last_error = e.to_string();
                        continue;
                    }
                };
                while let Some(item) = stream.next().await {
                    match item {
                        Ok(bytes) => {
                            pos += bytes.len() as u64;
                            counters.bytes_read.fetch_add(bytes.len() as u64, Relaxed);
                            strata.bill.retrieved(backend.name(), bytes.len() as u64);
                            strata
                                .metrics
                                .bytes_out
                                .fetch_add(bytes.len() as u64, Relaxed);
                            if tx.send(Ok(bytes)).await.is_err() {
                                return; // the client went away
                            }
                        }
                        Err(e) => {
                            counters.read_errors.fetch_add(1, Relaxed);
                            counters.error_at(strata.clock.now_ms());
                            tracing::warn!(backend = backend.name(), blob = %part.blob, at = pos, error = %e, "replica failed mid-stream; failing over");
                            last_error = e.to_string();
                            break;
                        }
                    }
                }
                if pos >= end {
                    break;
                }
            }
            if pos < end {
                let _ = tx
                    .send(Err(ReadError {
                        blob: part.blob.clone(),
                        last_error,
                    }))
                    .await;
                return;
            }
        }
        part_start = part_end;
        if part_start >= range.end {
            break;
        }
    }
}
