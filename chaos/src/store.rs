//! [`ChaosStore`]: an [`ObjectStore`] wrapper injecting the faults its
//! [`Chaos`] controller decides, composed like object_store's own
//! `ThrottledStore` / `PrefixStore`.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures::future::BoxFuture;
use futures::stream::{self, BoxStream, StreamExt};
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload, ObjectMeta,
    ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, Result,
    UploadPart,
};

use crate::config::Op;
use crate::controller::{Chaos, DataFault};
use crate::fault::InjectedFault;

/// Concurrency of per-location deletes while rules are installed.
const DELETE_CONCURRENCY: usize = 10;

/// Wraps `inner` (the raw store of backend `backend`) so that `chaos`'s
/// rules apply to it. See [`ChaosStore`].
pub fn wrap(
    inner: Arc<dyn ObjectStore>,
    backend: &str,
    chaos: &Arc<Chaos>,
) -> Arc<dyn ObjectStore> {
    Arc::new(ChaosStore::new(inner, backend, Arc::clone(chaos)))
}

/// An [`ObjectStore`] that delegates every call to `inner` and injects the
/// faults `chaos` decides for backend `backend`.
///
/// Operation classes (see [`Op`]): `get_opts` is [`Op::Head`] when
/// `options.head` is set and [`Op::Get`] otherwise; `get_ranges` is
/// [`Op::Get`]; `put_opts`, `copy_opts` and `rename_opts` are [`Op::Put`];
/// each location of `delete_stream` is [`Op::Delete`]; the three list
/// methods are [`Op::List`]; `put_multipart_opts` and the returned upload's
/// `put_part` and `complete` are [`Op::Multipart`] (its `abort` is never
/// faulted).
///
/// Stream faults change what a get returns: `get_opts` bodies (a
/// `LocalFileSystem` file payload is turned into a stream first) and
/// `get_ranges` results (for `get_ranges` a reset fails the whole call, a
/// truncation cuts the concatenated ranges after `after_bytes`, corruption
/// flips bytes across them). `GetResult::range` and `meta` are left as the
/// inner store reported them, so a truncated body is shorter than its
/// declared range — exactly what a reader must detect.
///
/// With no rules installed each call costs one relaxed atomic load before
/// delegating; the async methods then return the inner store's future
/// itself (no extra allocation or poll layer). Only `put_multipart_opts`
/// adds work: it boxes the upload in a thin wrapper so rules installed
/// later still reach its parts.
#[derive(Debug, Clone)]
pub struct ChaosStore {
    inner: Arc<dyn ObjectStore>,
    backend: Arc<str>,
    chaos: Arc<Chaos>,
}

impl ChaosStore {
    /// Wraps `inner`, the store of the backend named `backend`.
    pub fn new(inner: Arc<dyn ObjectStore>, backend: &str, chaos: Arc<Chaos>) -> ChaosStore {
        ChaosStore {
            inner,
            backend: Arc::from(backend),
            chaos,
        }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &Arc<dyn ObjectStore> {
        &self.inner
    }

    /// The inner store as a trait object: calling through `Arc<dyn _>`'s own
    /// `ObjectStore` impl would box every future a second time.
    fn raw(&self) -> &dyn ObjectStore {
        &*self.inner
    }

    /// The backend name rules are matched against.
    pub fn backend(&self) -> &str {
        &self.backend
    }

    /// The controller deciding the faults.
    pub fn chaos(&self) -> &Arc<Chaos> {
        &self.chaos
    }

    /// Applies the call faults for `op` on `path`: `Ok(())` means proceed.
    async fn before(&self, op: Op, path: &str) -> Result<()> {
        let plan = self.chaos.plan(&self.backend, op, path);
        if plan.is_passthrough() {
            return Ok(());
        }
        plan.apply(path).await
    }
}

impl fmt::Display for ChaosStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChaosStore({}, {})", self.backend, self.inner)
    }
}

// The async methods are written out as `async_trait` expands them, so that
// with no rules installed they return the inner store's boxed future as is:
// the fast path costs one relaxed atomic load and no extra allocation. The
// faulted paths are the `*_faulted` async fns below.
#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl ObjectStore for ChaosStore {
    fn put_opts<'s, 'l, 'f>(
        &'s self,
        location: &'l Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> BoxFuture<'f, Result<PutResult>>
    where
        's: 'f,
        'l: 'f,
        Self: 'f,
    {
        if !self.chaos.is_enabled() {
            return self.raw().put_opts(location, payload, opts);
        }
        Box::pin(async move {
            self.before(Op::Put, location.as_ref()).await?;
            self.raw().put_opts(location, payload, opts).await
        })
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        if self.chaos.is_enabled() {
            self.before(Op::Multipart, location.as_ref()).await?;
        }
        let upload = self.raw().put_multipart_opts(location, opts).await?;
        // Always wrapped, so rules installed later reach in-flight uploads.
        Ok(Box::new(ChaosUpload {
            inner: upload,
            backend: Arc::clone(&self.backend),
            chaos: Arc::clone(&self.chaos),
            location: location.to_string(),
        }))
    }

    fn get_opts<'s, 'l, 'f>(
        &'s self,
        location: &'l Path,
        options: GetOptions,
    ) -> BoxFuture<'f, Result<GetResult>>
    where
        's: 'f,
        'l: 'f,
        Self: 'f,
    {
        if !self.chaos.is_enabled() {
            return self.raw().get_opts(location, options);
        }
        Box::pin(self.get_opts_faulted(location, options))
    }

    fn get_ranges<'s, 'l, 'r, 'f>(
        &'s self,
        location: &'l Path,
        ranges: &'r [Range<u64>],
    ) -> BoxFuture<'f, Result<Vec<Bytes>>>
    where
        's: 'f,
        'l: 'f,
        'r: 'f,
        Self: 'f,
    {
        if !self.chaos.is_enabled() {
            return self.raw().get_ranges(location, ranges);
        }
        Box::pin(self.get_ranges_faulted(location, ranges))
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        if !self.chaos.is_enabled() {
            return self.raw().delete_stream(locations);
        }
        // Decide per location; locations that pass are deleted one by one so
        // results stay in input order and faulted ones never reach `inner`.
        let this = self.clone();
        locations
            .map(move |location| {
                let this = this.clone();
                async move {
                    let location = location?;
                    this.before(Op::Delete, location.as_ref()).await?;
                    let single = stream::iter([Ok(location.clone())]).boxed();
                    match this.raw().delete_stream(single).next().await {
                        Some(result) => result,
                        None => Err(object_store::Error::Generic {
                            store: crate::fault::STORE_NAME,
                            source: format!(
                                "inner store's delete_stream yielded nothing for {location}"
                            )
                            .into(),
                        }),
                    }
                }
            })
            .buffered(DELETE_CONCURRENCY)
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        let inner = self.raw().list(prefix);
        self.faulted_list(prefix, inner)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        let inner = self.raw().list_with_offset(prefix, offset);
        self.faulted_list(prefix, inner)
    }

    fn list_with_delimiter<'s, 'p, 'f>(
        &'s self,
        prefix: Option<&'p Path>,
    ) -> BoxFuture<'f, Result<ListResult>>
    where
        's: 'f,
        'p: 'f,
        Self: 'f,
    {
        if !self.chaos.is_enabled() {
            return self.raw().list_with_delimiter(prefix);
        }
        Box::pin(async move {
            self.before(Op::List, prefix.map_or("", |p| p.as_ref()))
                .await?;
            self.raw().list_with_delimiter(prefix).await
        })
    }

    fn copy_opts<'s, 'a, 'b, 'f>(
        &'s self,
        from: &'a Path,
        to: &'b Path,
        options: CopyOptions,
    ) -> BoxFuture<'f, Result<()>>
    where
        's: 'f,
        'a: 'f,
        'b: 'f,
        Self: 'f,
    {
        if !self.chaos.is_enabled() {
            return self.raw().copy_opts(from, to, options);
        }
        Box::pin(async move {
            self.before(Op::Put, to.as_ref()).await?;
            self.raw().copy_opts(from, to, options).await
        })
    }

    fn rename_opts<'s, 'a, 'b, 'f>(
        &'s self,
        from: &'a Path,
        to: &'b Path,
        options: RenameOptions,
    ) -> BoxFuture<'f, Result<()>>
    where
        's: 'f,
        'a: 'f,
        'b: 'f,
        Self: 'f,
    {
        if !self.chaos.is_enabled() {
            return self.raw().rename_opts(from, to, options);
        }
        Box::pin(async move {
            self.before(Op::Put, to.as_ref()).await?;
            self.raw().rename_opts(from, to, options).await
        })
    }
}

impl ChaosStore {
    /// `get_opts` with rules installed: call faults, then stream faults on
    /// the body of a (non-head) get.
    async fn get_opts_faulted(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        let op = if options.head { Op::Head } else { Op::Get };
        let path = location.as_ref();
        self.before(op, path).await?;
        let result = self.raw().get_opts(location, options).await?;
        if op != Op::Get || !self.chaos.is_enabled() {
            return Ok(result);
        }
        let len = result.range.end.saturating_sub(result.range.start);
        match self.chaos.data_fault(&self.backend, op, path, len) {
            None => Ok(result),
            Some(fault) => Ok(apply_to_result(result, fault)),
        }
    }

    /// `get_ranges` with rules installed.
    async fn get_ranges_faulted(
        &self,
        location: &Path,
        ranges: &[Range<u64>],
    ) -> Result<Vec<Bytes>> {
        let path = location.as_ref();
        self.before(Op::Get, path).await?;
        let parts = self.raw().get_ranges(location, ranges).await?;
        if !self.chaos.is_enabled() {
            return Ok(parts);
        }
        let len = parts.iter().map(|b| b.len() as u64).sum();
        match self.chaos.data_fault(&self.backend, Op::Get, path, len) {
            None => Ok(parts),
            Some(fault) => apply_to_parts(parts, fault, path),
        }
    }
}

impl ChaosStore {
    /// Wraps a list stream: the call faults are decided now and applied
    /// when the stream is first polled.
    fn faulted_list(
        &self,
        prefix: Option<&Path>,
        inner: BoxStream<'static, Result<ObjectMeta>>,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        if !self.chaos.is_enabled() {
            return inner;
        }
        let path = prefix.map_or_else(String::new, |p| p.to_string());
        let plan = self.chaos.plan(&self.backend, Op::List, &path);
        if plan.is_passthrough() {
            return inner;
        }
        stream::once(async move {
            match plan.apply(&path).await {
                Ok(()) => inner,
                Err(e) => stream::iter([Err(e)]).boxed(),
            }
        })
        .flatten()
        .boxed()
    }
}

/// A multipart upload whose parts and completion are subject to
/// [`Op::Multipart`] rules.
#[derive(Debug)]
struct ChaosUpload {
    inner: Box<dyn MultipartUpload>,
    backend: Arc<str>,
    chaos: Arc<Chaos>,
    location: String,
}

#[async_trait]
impl MultipartUpload for ChaosUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        if !self.chaos.is_enabled() {
            return self.inner.as_mut().put_part(data);
        }
        let plan = self
            .chaos
            .plan(&self.backend, Op::Multipart, &self.location);
        if plan.is_passthrough() {
            return self.inner.as_mut().put_part(data);
        }
        let location = self.location.clone();
        if plan.terminal.is_some() {
            // The part never reaches the inner upload.
            return Box::pin(async move { plan.apply(&location).await });
        }
        // Latency only: start the part now (inner uploads number parts in
        // call order) and delay its completion.
        let part = self.inner.as_mut().put_part(data);
        Box::pin(async move {
            plan.apply(&location).await?;
            part.await
        })
    }

    async fn complete(&mut self) -> Result<PutResult> {
        if self.chaos.is_enabled() {
            let plan = self
                .chaos
                .plan(&self.backend, Op::Multipart, &self.location);
            if !plan.is_passthrough() {
                plan.apply(&self.location).await?;
            }
        }
        self.inner.as_mut().complete().await
    }

    async fn abort(&mut self) -> Result<()> {
        self.inner.as_mut().abort().await
    }
}

/// Rebuilds `result` with its body passed through `fault`.
fn apply_to_result(result: GetResult, fault: DataFault) -> GetResult {
    let meta = result.meta.clone();
    let range = result.range.clone();
    let attributes = result.attributes.clone();
    let extensions = result.extensions.clone();
    let body = result.into_stream();
    let body = match fault {
        DataFault::Reset { after, fault } => {
            reset_stream(body, after, fault, meta.location.to_string())
        }
        DataFault::Truncate { after } => truncate_stream(body, after),
        DataFault::Corrupt { flips } => corrupt_stream(body, flips),
    };
    GetResult {
        payload: GetResultPayload::Stream(body),
        meta,
        range,
        attributes,
        extensions,
    }
}

/// Yields the first `after` bytes of `body`, then `fault` as an error.
fn reset_stream(
    body: BoxStream<'static, Result<Bytes>>,
    after: u64,
    fault: InjectedFault,
    path: String,
) -> BoxStream<'static, Result<Bytes>> {
    struct State {
        body: BoxStream<'static, Result<Bytes>>,
        remaining: u64,
        fault: Option<InjectedFault>,
        path: String,
    }
    let state = State {
        body,
        remaining: after,
        fault: Some(fault),
        path,
    };
    stream::unfold(state, |mut s| async move {
        let fault = s.fault.take()?;
        if s.remaining > 0 {
            match s.body.next().await {
                Some(Ok(mut chunk)) => {
                    if chunk.len() as u64 > s.remaining {
                        chunk.truncate(s.remaining as usize);
                    }
                    s.remaining -= chunk.len() as u64;
                    s.fault = Some(fault);
                    return Some((Ok(chunk), s));
                }
                Some(Err(e)) => return Some((Err(e), s)),
                // The body ended before the reset point: reset anyway.
                None => {}
            }
        }
        let err = fault.into_store_error(&s.path);
        Some((Err(err), s))
    })
    .boxed()
}

/// Yields the first `after` bytes of `body`, then ends.
fn truncate_stream(
    body: BoxStream<'static, Result<Bytes>>,
    after: u64,
) -> BoxStream<'static, Result<Bytes>> {
    stream::unfold((body, after), |(mut body, remaining)| async move {
        if remaining == 0 {
            return None;
        }
        match body.next().await? {
            Ok(mut chunk) => {
                if chunk.len() as u64 > remaining {
                    chunk.truncate(remaining as usize);
                }
                let left = remaining - chunk.len() as u64;
                Some((Ok(chunk), (body, left)))
            }
            // Pass the inner error through, then stop.
            Err(e) => Some((Err(e), (body, 0))),
        }
    })
    .boxed()
}

/// XORs the body bytes at the (sorted) offsets in `flips` with their masks.
fn corrupt_stream(
    body: BoxStream<'static, Result<Bytes>>,
    flips: Vec<(u64, u8)>,
) -> BoxStream<'static, Result<Bytes>> {
    let mut offset = 0u64;
    let mut next = 0usize;
    body.map(move |chunk| {
        let chunk = chunk?;
        let start = offset;
        let end = start + chunk.len() as u64;
        offset = end;
        if next >= flips.len() || flips[next].0 >= end {
            return Ok(chunk);
        }
        let mut buf = BytesMut::from(chunk.as_ref());
        while next < flips.len() && flips[next].0 < end {
            let (at, mask) = flips[next];
            buf[(at - start) as usize] ^= mask;
            next += 1;
        }
        Ok(buf.freeze())
    })
    .boxed()
}

/// Applies `fault` to the results of a `get_ranges`, treated as one
/// concatenated body.
fn apply_to_parts(mut parts: Vec<Bytes>, fault: DataFault, path: &str) -> Result<Vec<Bytes>> {
    match fault {
        DataFault::Reset { fault, .. } => Err(fault.into_store_error(path)),
        DataFault::Truncate { after } => {
            let mut remaining = after;
            for part in &mut parts {
                let keep = remaining.min(part.len() as u64);
                part.truncate(keep as usize);
                remaining -= keep;
            }
            Ok(parts)
        }
        DataFault::Corrupt { flips } => {
            let mut flips = flips.into_iter().peekable();
            let mut start = 0u64;
            for part in &mut parts {
                let end = start + part.len() as u64;
                if flips.peek().is_some_and(|(at, _)| *at < end) {
                    let mut buf = BytesMut::from(part.as_ref());
                    while let Some((at, mask)) = flips.next_if(|(at, _)| *at < end) {
                        buf[(at - start) as usize] ^= mask;
                    }
                    *part = buf.freeze();
                }
                start = end;
            }
            Ok(parts)
        }
    }
}
