//! [`RetryStore`]: an [`ObjectStore`] wrapper retrying idempotent calls that
//! failed transiently, with exponential backoff and full jitter, bounded in
//! attempts and in time, logged (`tracing::warn!`) and counted
//! ([`RetryStats`]).
//!
//! # What is retried
//! An error is *transient* ([`classify`]) when it is, or its source chain
//! carries:
//! - an HTTP status 408, 429, 500, 502, 503 or 504 from a cloud client
//!   (object_store's own request error, also the S3 `SlowDown` /
//!   `InternalError` reply to a 200);
//! - a timeout or connection failure: object_store's
//!   [`HttpError`](object_store::client::HttpError) of kind `Connect`,
//!   `Request`, `Timeout` or `Interrupted`, an `std::io::Error` of kind
//!   `TimedOut`, `ConnectionReset`, `ConnectionAborted`, `ConnectionRefused`,
//!   `BrokenPipe` or `UnexpectedEof`, or an attempt that exceeded
//!   [`RetryPolicy::attempt_timeout`].
//!
//! This crate knows nothing of fault injection: a fault layer below it must
//! fail the way the real fault it imitates fails (the `chaos` crate does,
//! and its tests check that this classification agrees).
//!
//! Never retried: `NotFound`, `AlreadyExists`, `Precondition`,
//! `NotModified`, `PermissionDenied`, `Unauthenticated`, `NotSupported`,
//! `NotImplemented`, invalid paths, and anything else not recognised.
//!
//! Calls retried as a whole: `get_opts` (gets and heads: until the response
//! starts; a body that breaks mid-stream is *not* retried here —
//! object_store's cloud clients resume it themselves with an ETag-checked
//! ranged request, and Strata's reader fails over to the next replica),
//! `get_ranges`, `put_opts` in `PutMode::Overwrite` (the payload is
//! re-sent), `copy_opts` in `CopyMode::Overwrite`, `list_with_delimiter`,
//! each location of `delete_stream`, and listings (`list`,
//! `list_with_offset`): a listing that fails before its first entry is
//! restarted; one that fails later resumes after the last entry returned
//! (`list_with_offset`, entries at or before it dropped), provided the
//! entries so far came in ascending order as S3, Azure, GCS and the memory
//! store list them — an unordered listing (local directories) is not
//! resumed.
//!
//! Not retried, passed through: conditional puts and copies
//! (`PutMode::Create`/`Update`, `CopyMode::Create`: a retry after a lost
//! success would report a false conflict) and `rename_opts` (not
//! idempotent).
//!
//! # Multipart uploads
//! Starting an upload (`put_multipart_opts`) is retried (a retry after a
//! lost reply may leave an empty upload behind for the bucket's lifecycle
//! rule). Parts are **not** retried by calling `put_part` again: an upload
//! numbers parts by call order, so a second call would add a part, not
//! replace the failed one. Instead the upload is started with
//! [`PutMultipartOptions::with_retry_policy`], through which object_store's
//! cloud clients (S3, Azure, GCS) redo the *same* part from the provider
//! boundary once their own request retries are exhausted; this module's
//! policy decides (same transient statuses and bounds), logs and counts
//! those retries. Stores without that hook (memory, local, and faults
//! injected by `chaos` above the raw store) get no part retries: the writer
//! fails and the caller aborts. Completing and aborting are not retried.
//!
//! # Composition
//! `Backend (sealing) → RetryStore → ChaosStore → raw store`, so injected
//! faults are retried and counted like real ones. The cloud clients' own
//! retries are kept small (see [`crate::cloud`]); this layer owns the
//! policy.
//!
//! # Bounds
//! A call makes at most [`RetryPolicy::max_attempts`] attempts. Before each
//! retry it sleeps a uniformly random delay in `0..=min(max_delay, base ×
//! 2^(n−1))` (n = 1 for the first retry: "full jitter"), and it gives up
//! instead if the time since the first attempt plus that delay would reach
//! [`RetryPolicy::max_elapsed`]. An attempt that takes longer than
//! [`RetryPolicy::attempt_timeout`] is abandoned and counts as a timeout, so
//! a call returns within about `max_elapsed + attempt_timeout`. Giving up
//! returns the last error unchanged.

use std::fmt;
use std::future::Future;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::{self, BoxStream, StreamExt};
use object_store::client::{HttpError, HttpErrorKind};
use object_store::path::Path;
use object_store::retry as os_retry;
use object_store::{
    CopyMode, CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta,
    ObjectStore, PutMode, PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions,
    Result,
};
use rand::Rng;
use serde::{Deserialize, Serialize};

/// Store name in the errors this module creates (attempt timeouts).
pub const STORE_NAME: &str = "retry";

/// Concurrency of the per-location deletes of [`RetryStore`]'s
/// `delete_stream`.
const DELETE_CONCURRENCY: usize = 10;

/// Serde helpers: a [`Duration`] as integer milliseconds.
mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }

    pub mod option {
        use std::time::Duration;

        use serde::{Deserialize, Deserializer, Serializer};

        pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
            match d {
                Some(d) => super::serialize(d, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
            Ok(Option::<u64>::deserialize(d)?.map(Duration::from_millis))
        }
    }
}

/// How [`RetryStore`] retries. In TOML/JSON the durations are integer
/// milliseconds: `max_attempts = 4`, `base_ms = 100`, `max_delay_ms = 2000`,
/// `max_elapsed_ms = 10000`, `attempt_timeout_ms = 30000` (omit for none).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryPolicy {
    /// Attempts per call, the first included (1 = never retry).
    pub max_attempts: u32,
    /// Backoff cap of the first retry; doubles with each retry.
    #[serde(rename = "base_ms", with = "millis")]
    pub base: Duration,
    /// Largest backoff cap.
    #[serde(rename = "max_delay_ms", with = "millis")]
    pub max_delay: Duration,
    /// No retry is started (and no backoff sleeps) past this time since the
    /// call's first attempt began.
    #[serde(rename = "max_elapsed_ms", with = "millis")]
    pub max_elapsed: Duration,
    /// Each attempt is abandoned (and counts as a transient timeout) after
    /// this long; `None`: attempts are not timed here (cloud clients still
    /// time out single requests, see [`crate::cloud::CLOUD_REQUEST_TIMEOUT`]).
    /// For gets it bounds the wait for the response, not the body; for
    /// listings, the wait for each entry. Keep it above the time a
    /// whole-payload put of [`crate::WRITE_CHUNK_SIZE`] bytes needs.
    #[serde(rename = "attempt_timeout_ms", with = "millis::option")]
    pub attempt_timeout: Option<Duration>,
}

impl Default for RetryPolicy {
    /// 4 attempts, 100 ms base, 2 s largest delay, 10 s budget, 30 s per
    /// attempt.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            base: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
            max_elapsed: Duration::from_secs(10),
            attempt_timeout: Some(Duration::from_secs(30)),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries (one attempt, no attempt timeout).
    pub fn none() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 1,
            attempt_timeout: None,
            ..RetryPolicy::default()
        }
    }

    /// Checks the policy; the error names the offending field as written in
    /// configuration.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.max_attempts == 0 {
            return Err("max_attempts must be at least 1".into());
        }
        if self.max_attempts > 1 && self.base.is_zero() {
            return Err("base_ms must be positive".into());
        }
        if self.max_delay < self.base {
            return Err("max_delay_ms must be at least base_ms".into());
        }
        if self.attempt_timeout.is_some_and(|t| t.is_zero()) {
            return Err("attempt_timeout_ms must be positive (omit it for no limit)".into());
        }
        Ok(())
    }

    /// The backoff cap before retry `retry` (1 = the first retry):
    /// `min(max_delay, base × 2^(retry−1))`.
    pub fn backoff_cap(&self, retry: u32) -> Duration {
        let shift = retry.saturating_sub(1).min(31);
        self.base
            .checked_mul(1u32 << shift)
            .map_or(self.max_delay, |d| d.min(self.max_delay))
    }

    /// A random delay in `0..=backoff_cap(retry)` (full jitter).
    pub fn backoff(&self, retry: u32) -> Duration {
        let cap = self.backoff_cap(retry);
        let nanos = u64::try_from(cap.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rand::thread_rng().gen_range(0..=nanos))
    }
}

/// Counters of one or more [`RetryStore`]s (share the `Arc` to aggregate).
/// All counts are monotonic.
#[derive(Debug, Default)]
pub struct RetryStats {
    retries: AtomicU64,
    recovered: AtomicU64,
    give_ups: AtomicU64,
}

/// A point-in-time copy of [`RetryStats`].
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct RetryStatsSnapshot {
    /// Retries started (backoff sleeps), including multipart part retries.
    pub retries: u64,
    /// Calls that succeeded after at least one retry.
    pub recovered: u64,
    /// Calls that failed with a transient error after exhausting attempts
    /// or time.
    pub give_ups: u64,
}

impl RetryStats {
    /// Fresh counters.
    pub fn new() -> Arc<RetryStats> {
        Arc::new(RetryStats::default())
    }

    /// Retries started.
    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    /// Calls that succeeded after retrying.
    pub fn recovered(&self) -> u64 {
        self.recovered.load(Ordering::Relaxed)
    }

    /// Calls that gave up on a transient error.
    pub fn give_ups(&self) -> u64 {
        self.give_ups.load(Ordering::Relaxed)
    }

    /// All counters at once.
    pub fn snapshot(&self) -> RetryStatsSnapshot {
        RetryStatsSnapshot {
            retries: self.retries(),
            recovered: self.recovered(),
            give_ups: self.give_ups(),
        }
    }
}

/// Why an error is worth retrying.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Transient {
    /// An HTTP status (408, 429, 500, 502, 503, 504).
    Status(u16),
    /// The request or the attempt timed out.
    Timeout,
    /// The connection failed, was reset, or the backend was unreachable.
    Connection,
}

impl fmt::Display for Transient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Transient::Status(s) => write!(f, "HTTP {s}"),
            Transient::Timeout => f.write_str("timeout"),
            Transient::Connection => f.write_str("connection failure"),
        }
    }
}

/// Whether an HTTP status is worth retrying.
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

/// An attempt abandoned after [`RetryPolicy::attempt_timeout`].
#[derive(Debug, Clone, thiserror::Error)]
#[error("{op} attempt on {backend} timed out after {after:?}")]
pub struct AttemptTimeout {
    /// Backend name.
    pub backend: String,
    /// The operation (`get`, `put`, `list`, ...).
    pub op: &'static str,
    /// The limit that was exceeded.
    pub after: Duration,
}

/// Whether `err` is transient (see the module docs); `None` means retrying
/// cannot help.
pub fn classify(err: &object_store::Error) -> Option<Transient> {
    use object_store::Error as E;
    match err {
        E::NotFound { .. }
        | E::AlreadyExists { .. }
        | E::Precondition { .. }
        | E::NotModified { .. }
        | E::NotSupported { .. }
        | E::NotImplemented { .. }
        | E::PermissionDenied { .. }
        | E::Unauthenticated { .. }
        | E::InvalidPath { .. }
        | E::UnknownConfigurationKey { .. }
        | E::JoinError { .. } => None,
        other => classify_chain(other),
    }
}

/// [`classify`] for any error: walks `err` and its sources.
pub fn classify_chain(err: &(dyn std::error::Error + 'static)) -> Option<Transient> {
    let mut current = Some(err);
    while let Some(e) = current {
        if e.downcast_ref::<AttemptTimeout>().is_some() {
            return Some(Transient::Timeout);
        }
        if let Some(http) = e.downcast_ref::<HttpError>() {
            return match http.kind() {
                HttpErrorKind::Timeout => Some(Transient::Timeout),
                HttpErrorKind::Connect | HttpErrorKind::Request | HttpErrorKind::Interrupted => {
                    Some(Transient::Connection)
                }
                _ => None,
            };
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind as K;
            match io.kind() {
                K::TimedOut => return Some(Transient::Timeout),
                K::ConnectionReset
                | K::ConnectionAborted
                | K::ConnectionRefused
                | K::BrokenPipe
                | K::UnexpectedEof => return Some(Transient::Connection),
                _ => {}
            }
        }
        if let Some(verdict) = status_in_message(&e.to_string()) {
            return verdict;
        }
        current = e.source();
    }
    None
}

/// Reads the status of object_store's request errors from their message
/// (the error type itself is private to object_store): `Some(Some(_))` for
/// a transient status, `Some(None)` for a definitive one, `None` when the
/// message carries no status.
fn status_in_message(message: &str) -> Option<Option<Transient>> {
    const STATUS: &str = "status code: ";
    if let Some(at) = message.find(STATUS) {
        let digits: String = message[at + STATUS.len()..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if let Ok(status) = digits.parse::<u16>() {
            return Some(is_retryable_status(status).then_some(Transient::Status(status)));
        }
    }
    // S3 can answer 200 with an error document; object_store reports it as
    // "Server returned error response: <body>".
    if message.contains("Server returned error response:") {
        if message.contains("SlowDown") {
            return Some(Some(Transient::Status(503)));
        }
        if message.contains("InternalError") {
            return Some(Some(Transient::Status(500)));
        }
    }
    None
}

/// Wraps `inner` (the store of backend `backend`) in a [`RetryStore`] with
/// fresh counters; returns the store and its counters.
pub fn wrap(
    inner: Arc<dyn ObjectStore>,
    backend: &str,
    policy: RetryPolicy,
) -> (Arc<dyn ObjectStore>, Arc<RetryStats>) {
    let store = RetryStore::new(inner, backend, policy);
    let stats = Arc::clone(store.stats());
    (Arc::new(store), stats)
}

/// See the module docs.
#[derive(Debug, Clone)]
pub struct RetryStore {
    inner: Arc<dyn ObjectStore>,
    backend: Arc<str>,
    policy: Arc<RetryPolicy>,
    stats: Arc<RetryStats>,
}

impl fmt::Display for RetryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RetryStore({}, {})", self.backend, self.inner)
    }
}

/// Outcome bookkeeping of one retried call.
struct Attempts {
    attempt: u32,
    start: Instant,
}

impl RetryStore {
    /// Wraps `inner`, the store of backend `backend`, with fresh counters.
    pub fn new(inner: Arc<dyn ObjectStore>, backend: &str, policy: RetryPolicy) -> RetryStore {
        RetryStore {
            inner,
            backend: Arc::from(backend),
            policy: Arc::new(policy),
            stats: RetryStats::new(),
        }
    }

    /// Counts into `stats` instead (to share counters between stores).
    pub fn with_stats(mut self, stats: Arc<RetryStats>) -> RetryStore {
        self.stats = stats;
        self
    }

    /// The wrapped store.
    pub fn inner(&self) -> &Arc<dyn ObjectStore> {
        &self.inner
    }

    /// The policy.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// The counters.
    pub fn stats(&self) -> &Arc<RetryStats> {
        &self.stats
    }

    /// The backend name used in logs.
    pub fn backend(&self) -> &str {
        &self.backend
    }

    fn raw(&self) -> &dyn ObjectStore {
        &*self.inner
    }

    /// Runs one attempt under the attempt timeout.
    async fn attempt<T>(
        &self,
        op: &'static str,
        fut: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        match self.policy.attempt_timeout {
            None => fut.await,
            Some(limit) => match tokio::time::timeout(limit, fut).await {
                Ok(result) => result,
                Err(_) => Err(self.timeout_error(op, limit)),
            },
        }
    }

    fn timeout_error(&self, op: &'static str, after: Duration) -> object_store::Error {
        object_store::Error::Generic {
            store: STORE_NAME,
            source: Box::new(AttemptTimeout {
                backend: self.backend.to_string(),
                op,
                after,
            }),
        }
    }

    /// After attempt `tries.attempt` failed with `err`: sleeps and returns
    /// `true` if another attempt should be made, logs and counts either way.
    async fn should_retry(
        &self,
        op: &'static str,
        path: &str,
        tries: &mut Attempts,
        err: &object_store::Error,
    ) -> bool {
        let Some(reason) = classify(err) else {
            return false;
        };
        let policy = &self.policy;
        if tries.attempt >= policy.max_attempts {
            self.give_up(op, path, tries, reason, err, "attempts exhausted");
            return false;
        }
        let delay = policy.backoff(tries.attempt);
        if tries.start.elapsed() + delay >= policy.max_elapsed {
            self.give_up(op, path, tries, reason, err, "time budget exhausted");
            return false;
        }
        tracing::warn!(
            backend = %self.backend,
            op,
            path,
            attempt = tries.attempt,
            max_attempts = policy.max_attempts,
            delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            reason = %reason,
            error = %err,
            "store call failed transiently: retrying"
        );
        self.stats.retries.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(delay).await;
        tries.attempt += 1;
        true
    }

    fn give_up(
        &self,
        op: &'static str,
        path: &str,
        tries: &Attempts,
        reason: Transient,
        err: &object_store::Error,
        why: &'static str,
    ) {
        self.stats.give_ups.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            backend = %self.backend,
            op,
            path,
            attempts = tries.attempt,
            elapsed_ms = u64::try_from(tries.start.elapsed().as_millis()).unwrap_or(u64::MAX),
            reason = %reason,
            error = %err,
            "store call failed transiently: giving up ({why})"
        );
    }

    fn succeeded(&self, op: &'static str, path: &str, tries: &Attempts) {
        if tries.attempt > 1 {
            self.stats.recovered.fetch_add(1, Ordering::Relaxed);
            tracing::info!(
                backend = %self.backend,
                op,
                path,
                attempts = tries.attempt,
                "store call succeeded after retrying"
            );
        }
    }

    /// Calls `call` until it succeeds, fails permanently, or the policy's
    /// bounds are reached.
    async fn run<T, F, Fut>(&self, op: &'static str, path: &str, mut call: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut tries = Attempts {
            attempt: 1,
            start: Instant::now(),
        };
        loop {
            match self.attempt(op, call()).await {
                Ok(value) => {
                    self.succeeded(op, path, &tries);
                    return Ok(value);
                }
                Err(err) => {
                    if !self.should_retry(op, path, &mut tries, &err).await {
                        return Err(err);
                    }
                }
            }
        }
    }

    /// Deletes one location with retries.
    async fn delete_one(&self, location: Path) -> Result<Path> {
        let path = location.to_string();
        self.run("delete", &path, || {
            let single = stream::iter([Ok(location.clone())]).boxed();
            let mut results = self.raw().delete_stream(single);
            async move {
                match results.next().await {
                    Some(result) => result,
                    None => Err(object_store::Error::Generic {
                        store: STORE_NAME,
                        source: "inner store's delete_stream yielded nothing for one location"
                            .into(),
                    }),
                }
            }
        })
        .await
    }

    /// A listing with restarts and resumption (see the module docs).
    fn retried_list(
        &self,
        prefix: Option<&Path>,
        offset: Option<&Path>,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        let state = ListState {
            store: self.clone(),
            prefix: prefix.cloned(),
            offset: offset.cloned(),
            stream: None,
            last: None,
            resumed: false,
            ordered: true,
            tries: Attempts {
                attempt: 1,
                start: Instant::now(),
            },
            done: false,
        };
        stream::unfold(state, |mut s| async move {
            let item = s.next_item().await?;
            Some((item, s))
        })
        .boxed()
    }
}

/// State of a retried listing.
struct ListState {
    store: RetryStore,
    prefix: Option<Path>,
    /// The caller's `list_with_offset` offset.
    offset: Option<Path>,
    stream: Option<BoxStream<'static, Result<ObjectMeta>>>,
    /// The last entry returned.
    last: Option<Path>,
    /// Whether the current inner stream resumes after `last`.
    resumed: bool,
    /// Whether the entries so far came in ascending order.
    ordered: bool,
    tries: Attempts,
    done: bool,
}

impl ListState {
    fn open(&self) -> BoxStream<'static, Result<ObjectMeta>> {
        let raw = self.store.raw();
        match (&self.last, &self.offset) {
            (Some(last), _) => raw.list_with_offset(self.prefix.as_ref(), last),
            (None, Some(offset)) => raw.list_with_offset(self.prefix.as_ref(), offset),
            (None, None) => raw.list(self.prefix.as_ref()),
        }
    }

    async fn next_item(&mut self) -> Option<Result<ObjectMeta>> {
        let label = self
            .prefix
            .as_ref()
            .map_or_else(String::new, |p| p.to_string());
        loop {
            if self.done {
                return None;
            }
            if self.stream.is_none() {
                self.stream = Some(self.open());
            }
            let stream = self.stream.as_mut()?;
            let next = self
                .store
                .attempt("list", async { Ok(stream.next().await) })
                .await;
            let err = match next {
                Ok(None) => {
                    self.done = true;
                    self.store.succeeded("list", &label, &self.tries);
                    return None;
                }
                Ok(Some(Ok(meta))) => {
                    if let Some(last) = &self.last
                        && meta.location <= *last
                    {
                        if self.resumed {
                            // A store that ignored the offset: skip what
                            // was already returned.
                            continue;
                        }
                        self.ordered = false;
                    }
                    if self.tries.attempt > 1 {
                        // Progress after a failure: the budget starts anew.
                        self.store.succeeded("list", &label, &self.tries);
                        self.tries = Attempts {
                            attempt: 1,
                            start: Instant::now(),
                        };
                    }
                    self.last = Some(meta.location.clone());
                    return Some(Ok(meta));
                }
                Ok(Some(Err(e))) | Err(e) => e,
            };
            let resumable = self.last.is_none() || self.ordered;
            if resumable
                && self
                    .store
                    .should_retry("list", &label, &mut self.tries, &err)
                    .await
            {
                self.stream = None;
                self.resumed = self.last.is_some();
                continue;
            }
            self.done = true;
            return Some(Err(err));
        }
    }
}

/// The multipart part retry policy handed to object_store (see the module
/// docs).
#[derive(Debug)]
struct PartRetry {
    store: RetryStore,
    location: String,
}

#[async_trait]
impl os_retry::RetryPolicy for PartRetry {
    async fn retry(&self, context: os_retry::RetryContext) -> bool {
        let reason = match context.failure {
            os_retry::RetryFailure::Status(status) if is_retryable_status(status.as_u16()) => {
                Transient::Status(status.as_u16())
            }
            os_retry::RetryFailure::Transport(HttpErrorKind::Timeout) => Transient::Timeout,
            os_retry::RetryFailure::Transport(
                HttpErrorKind::Connect | HttpErrorKind::Request | HttpErrorKind::Interrupted,
            ) => Transient::Connection,
            _ => return false,
        };
        let store = &self.store;
        let policy = &store.policy;
        let attempt = u32::try_from(context.attempt).unwrap_or(u32::MAX);
        let delay = policy.backoff(attempt);
        if attempt >= policy.max_attempts || context.elapsed + delay >= policy.max_elapsed {
            store.stats.give_ups.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                backend = %store.backend,
                op = "put_part",
                path = %self.location,
                attempts = attempt,
                reason = %reason,
                "multipart part failed transiently: giving up"
            );
            return false;
        }
        tracing::warn!(
            backend = %store.backend,
            op = "put_part",
            path = %self.location,
            attempt,
            max_attempts = policy.max_attempts,
            delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            reason = %reason,
            "multipart part failed transiently: retrying"
        );
        store.stats.retries.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(delay).await;
        true
    }
}

// Methods that are not retried return the inner store's future itself;
// retried ones box one future around the loop.
#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl ObjectStore for RetryStore {
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
        if opts.mode != PutMode::Overwrite {
            return self.raw().put_opts(location, payload, opts);
        }
        Box::pin(async move {
            self.run("put", location.as_ref(), || {
                self.raw().put_opts(location, payload.clone(), opts.clone())
            })
            .await
        })
    }

    fn put_multipart_opts<'s, 'l, 'f>(
        &'s self,
        location: &'l Path,
        opts: PutMultipartOptions,
    ) -> BoxFuture<'f, Result<Box<dyn MultipartUpload>>>
    where
        's: 'f,
        'l: 'f,
        Self: 'f,
    {
        let policy: Arc<dyn os_retry::RetryPolicy> = Arc::new(PartRetry {
            store: self.clone(),
            location: location.to_string(),
        });
        let opts = opts.with_retry_policy(policy);
        Box::pin(async move {
            self.run("put_multipart", location.as_ref(), || {
                self.raw().put_multipart_opts(location, opts.clone())
            })
            .await
        })
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
        Box::pin(async move {
            let op = if options.head { "head" } else { "get" };
            self.run(op, location.as_ref(), || {
                self.raw().get_opts(location, options.clone())
            })
            .await
        })
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
        Box::pin(async move {
            self.run("get_ranges", location.as_ref(), || {
                self.raw().get_ranges(location, ranges)
            })
            .await
        })
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        let this = self.clone();
        locations
            .map(move |location| {
                let this = this.clone();
                async move { this.delete_one(location?).await }
            })
            .buffered(DELETE_CONCURRENCY)
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.retried_list(prefix, None)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        self.retried_list(prefix, Some(offset))
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
        Box::pin(async move {
            let label = prefix.map_or("", |p| p.as_ref());
            self.run("list_with_delimiter", label, || {
                self.raw().list_with_delimiter(prefix)
            })
            .await
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
        if options.mode != CopyMode::Overwrite {
            return self.raw().copy_opts(from, to, options);
        }
        Box::pin(async move {
            self.run("copy", to.as_ref(), || {
                self.raw().copy_opts(from, to, options.clone())
            })
            .await
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
        self.raw().rename_opts(from, to, options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_policy_is_valid_and_bounded() {
        let p = RetryPolicy::default();
        p.validate().expect("valid");
        assert_eq!(p.backoff_cap(1), Duration::from_millis(100));
        assert_eq!(p.backoff_cap(2), Duration::from_millis(200));
        assert_eq!(p.backoff_cap(3), Duration::from_millis(400));
        assert_eq!(p.backoff_cap(10), Duration::from_secs(2));
        assert_eq!(p.backoff_cap(u32::MAX), Duration::from_secs(2));
        for retry in 1..50 {
            assert!(p.backoff(retry) <= p.backoff_cap(retry));
        }
        RetryPolicy::none().validate().expect("none is valid");
    }

    #[test]
    fn invalid_policies_name_the_field() {
        let zero = RetryPolicy {
            max_attempts: 0,
            ..RetryPolicy::default()
        };
        assert!(zero.validate().unwrap_err().contains("max_attempts"));
        let inverted = RetryPolicy {
            max_delay: Duration::from_millis(1),
            ..RetryPolicy::default()
        };
        assert!(inverted.validate().unwrap_err().contains("max_delay_ms"));
        let no_time = RetryPolicy {
            attempt_timeout: Some(Duration::ZERO),
            ..RetryPolicy::default()
        };
        assert!(
            no_time
                .validate()
                .unwrap_err()
                .contains("attempt_timeout_ms")
        );
    }

    #[test]
    fn policy_reads_milliseconds_from_toml() {
        let p: RetryPolicy =
            toml::from_str("max_attempts = 6\nbase_ms = 50\nmax_delay_ms = 800\n").expect("toml");
        assert_eq!(p.max_attempts, 6);
        assert_eq!(p.base, Duration::from_millis(50));
        assert_eq!(p.max_delay, Duration::from_millis(800));
        assert_eq!(p.max_elapsed, RetryPolicy::default().max_elapsed);
        assert_eq!(p.attempt_timeout, RetryPolicy::default().attempt_timeout);
        let err = toml::from_str::<RetryPolicy>("base = 5").expect_err("unknown field");
        assert!(err.to_string().contains("base"), "{err}");
        let json = serde_json::to_string(&RetryPolicy::none()).expect("json");
        assert!(json.contains(r#""attempt_timeout_ms":null"#), "{json}");
    }

    #[test]
    fn object_store_status_messages_are_read() {
        let msg = |s: &str| status_in_message(s);
        assert_eq!(
            msg(
                "Error performing GET http://x in 3ms - Server returned non-2xx status code: 503 Service Unavailable: slow"
            ),
            Some(Some(Transient::Status(503)))
        );
        assert_eq!(
            msg("Server returned non-2xx status code: 400 Bad Request: no"),
            Some(None)
        );
        assert_eq!(
            msg("Server returned error response: <Error><Code>SlowDown</Code></Error>"),
            Some(Some(Transient::Status(503)))
        );
        assert_eq!(msg("disk full"), None);
    }

    #[test]
    fn classification_of_error_kinds() {
        let generic =
            |source: Box<dyn std::error::Error + Send + Sync>| object_store::Error::Generic {
                store: "test",
                source,
            };
        let not_found = object_store::Error::NotFound {
            path: "x".into(),
            source: "503 in the message does not matter".into(),
        };
        assert_eq!(classify(&not_found), None);
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        assert_eq!(
            classify(&generic(Box::new(io))),
            Some(Transient::Connection)
        );
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "no");
        assert_eq!(classify(&generic(Box::new(io))), None);
        let http = HttpError::new(HttpErrorKind::Timeout, std::io::Error::other("deadline"));
        assert_eq!(classify(&generic(Box::new(http))), Some(Transient::Timeout));
        let http = HttpError::new(HttpErrorKind::Decode, std::io::Error::other("bad"));
        assert_eq!(classify(&generic(Box::new(http))), None);
        let timeout = AttemptTimeout {
            backend: "b".into(),
            op: "get",
            after: Duration::from_secs(1),
        };
        assert_eq!(
            classify(&generic(Box::new(timeout))),
            Some(Transient::Timeout)
        );
    }
}
