//! The read path: stream a byte range of an object from its replicas, failing over between them.
//!
//! A reader task walks the object's parts that overlap the range. For each part it reads from the replica with
//! the lowest expected first-byte latency; on an error — opening, mid-stream, or a frame that fails its check —
//! it resumes from the next replica at the byte it had reached. Backends only yield bytes of frames that opened
//! and verified, so a corrupt frame is never served. The task holds a [`ReadLease`](engine::reaper::ReadLease)
//! on the object's blobs until it ends, so an overwrite cannot delete them under it. A bounded channel carries
//! the bytes: memory does not grow with object size, and a slow client slows only its own reader. A small range
//! (at most [`INLINE_READ_BYTES`]) is read the same way but whole, on the request's task, before the answer starts.

use std::collections::VecDeque;
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
    /// Items already read: the first one of a streamed read, or the whole of a small one.
    ready: VecDeque<Result<Bytes, ReadError>>,
    /// The reader task's channel; `None` when the whole range is in `ready`.
    rx: Option<mpsc::Receiver<Result<Bytes, ReadError>>>,
}

impl Stream for ObjectBody {
    type Item = Result<Bytes, ReadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(item) = self.ready.pop_front() {
            return Poll::Ready(Some(item));
        }
        match self.rx.as_mut() {
            Some(rx) => rx.poll_recv(cx),
            None => Poll::Ready(None),
        }
    }
}

impl ObjectBody {
    pub fn into_blob(self) -> StreamingBlob {
        StreamingBlob::wrap(self)
    }
}

/// Ranges up to this many bytes are read whole on the request's own task before the answer starts: a small GET
/// then spawns no reader task and crosses no channel (hand-offs between tasks and threads were most of its cost),
/// and a failure anywhere in the range is an error answer, never a cut body. Memory per such read stays bounded by
/// this size.
pub const INLINE_READ_BYTES: u64 = 256 << 10;

/// Starts reading `range` of `rec` and waits for the first bytes, so that an object that cannot be read at all
/// is an error (an S3 503) rather than a truncated 200. A range of at most [`INLINE_READ_BYTES`] is read whole.
/// `looked_up_ms` is when the lookup that found `rec` started (the wall clock): the read's lease counts from
/// then, which is what other nodes' reapers compare garbage times with.
pub async fn open(
    strata: &Arc<Core>,
    rec: &ObjectRecord,
    range: Range<u64>,
    looked_up_ms: i64,
) -> Result<ObjectBody, ReadError> {
    let lease = strata.leases.acquire_since(
        rec.parts.iter().map(|p| p.blob.clone()).collect(),
        looked_up_ms,
    );
    if range.end - range.start <= INLINE_READ_BYTES {
        let mut ready = VecDeque::new();
        pump(strata, rec, range, &mut Out::Buffer(&mut ready)).await;
        drop(lease);
        if let Some(i) = ready.iter().position(Result::is_err)
            && let Some(Err(e)) = ready.remove(i)
        {
            return Err(e);
        }
        return Ok(ObjectBody { ready, rx: None });
    }
    let (tx, mut rx) = mpsc::channel(2);
    let strata2 = strata.clone();
    let rec = rec.clone();
    tokio::spawn(async move {
        let _lease = lease;
        pump(&strata2, &rec, range, &mut Out::Channel(tx)).await;
    });
    match rx.recv().await {
        None => Ok(ObjectBody {
            ready: VecDeque::new(),
            rx: Some(rx),
        }),
        Some(Ok(b)) => Ok(ObjectBody {
            ready: VecDeque::from([Ok(b)]),
            rx: Some(rx),
        }),
        Some(Err(e)) => Err(e),
    }
}

/// Where [`pump`] delivers what it reads.
enum Out<'a> {
    /// A streamed read's bounded channel to the response body.
    Channel(mpsc::Sender<Result<Bytes, ReadError>>),
    /// A small read, kept whole.
    Buffer(&'a mut VecDeque<Result<Bytes, ReadError>>),
}

impl Out<'_> {
    /// Delivers one item; `false` when the receiver is gone (the client went away).
    async fn send(&mut self, item: Result<Bytes, ReadError>) -> bool {
        match self {
            Out::Channel(tx) => tx.send(item).await.is_ok(),
            Out::Buffer(items) => {
                items.push_back(item);
                true
            }
        }
    }
}

async fn pump(strata: &Core, rec: &ObjectRecord, range: Range<u64>, out: &mut Out<'_>) {
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
                            if !out.send(Ok(bytes)).await {
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
                out.send(Err(ReadError {
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
