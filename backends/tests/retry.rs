//! `RetryStore` over an in-memory store behind a wrapper that fails on
//! command: attempts are counted, backoff stays within its bounds, calls
//! give up after `max_attempts` or `max_elapsed`, permanent errors (404,
//! conditional puts) are not retried, listings resume without duplicates,
//! and a sealed backend composed as `Backend → RetryStore → ChaosStore`
//! rides out injected 503s.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use backends::retry::{RetryPolicy, RetryStats, RetryStore, Transient, classify};
use backends::{Backend, Keyring, TierProfile};
use bytes::Bytes;
use futures::stream::{self, BoxStream};
use futures::{StreamExt, TryStreamExt};
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    ObjectStoreExt, PutMode, PutMultipartOptions, PutOptions, PutPayload, PutResult,
};

/// How a scripted call fails.
#[derive(Clone, Copy, Debug)]
enum Failure {
    /// A connection reset (transient).
    Reset,
    /// A 503 as object_store's HTTP clients report it (transient).
    Unavailable,
    /// A 400 as object_store's HTTP clients report it (permanent).
    BadRequest,
    /// Never completes (the attempt timeout must save the caller).
    Hang,
}

impl Failure {
    fn error(self) -> object_store::Error {
        let source: Box<dyn std::error::Error + Send + Sync> = match self {
            Failure::Reset => Box::new(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "connection reset by peer",
            )),
            Failure::Unavailable => {
                "Error performing GET http://x in 1ms - Server returned non-2xx status code: 503 Service Unavailable: busy".into()
            }
            Failure::BadRequest => {
                "Error performing GET http://x in 1ms - Server returned non-2xx status code: 400 Bad Request: no".into()
            }
            Failure::Hang => unreachable!("hangs never produce an error"),
        };
        object_store::Error::Generic {
            store: "flaky",
            source,
        }
    }
}

/// Wraps an [`InMemory`] store; each operation class has a queue of
/// scripted failures consumed one per call, and every call is counted.
#[derive(Debug, Default)]
struct Flaky {
    inner: InMemory,
    script: Mutex<HashMap<&'static str, VecDeque<Failure>>>,
    /// List failures: (entries yielded before failing, failure).
    list_script: Mutex<VecDeque<(usize, Failure)>>,
    calls: Mutex<HashMap<&'static str, u64>>,
}

impl fmt::Display for Flaky {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Flaky({})", self.inner)
    }
}

impl Flaky {
    fn fail(&self, op: &'static str, failures: &[Failure]) {
        self.script
            .lock()
            .expect("lock")
            .entry(op)
            .or_default()
            .extend(failures.iter().copied());
    }

    fn calls(&self, op: &'static str) -> u64 {
        self.calls
            .lock()
            .expect("lock")
            .get(op)
            .copied()
            .unwrap_or(0)
    }

    /// Counts the call; `Err(failure)` when this call is scripted to fail.
    fn next(&self, op: &'static str) -> Result<(), Failure> {
        *self.calls.lock().expect("lock").entry(op).or_default() += 1;
        match self
            .script
            .lock()
            .expect("lock")
            .get_mut(op)
            .and_then(VecDeque::pop_front)
        {
            Some(f) => Err(f),
            None => Ok(()),
        }
    }

    async fn gate(&self, op: &'static str) -> object_store::Result<()> {
        match self.next(op) {
            Ok(()) => Ok(()),
            Err(Failure::Hang) => futures::future::pending().await,
            Err(f) => Err(f.error()),
        }
    }
}

#[async_trait]
impl ObjectStore for Flaky {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.gate("put").await?;
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.gate("put_multipart").await?;
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.gate(if options.head { "head" } else { "get" }).await?;
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        let failure = self.next("delete").err();
        match failure {
            Some(f) => locations.map(move |_| Err(f.error())).boxed(),
            None => self.inner.delete_stream(locations),
        }
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        *self.calls.lock().expect("lock").entry("list").or_default() += 1;
        let inner = self.inner.list(prefix);
        match self.list_script.lock().expect("lock").pop_front() {
            None => inner,
            Some((after, failure)) => inner
                .take(after)
                .chain(stream::once(async move { Err(failure.error()) }))
                .boxed(),
        }
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        *self
            .calls
            .lock()
            .expect("lock")
            .entry("list_with_offset")
            .or_default() += 1;
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.gate("list_with_delimiter").await?;
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.gate("copy").await?;
        self.inner.copy_opts(from, to, options).await
    }
}

/// A fast policy for tests: 4 attempts, 1..8 ms backoff.
fn fast() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base: Duration::from_millis(1),
        max_delay: Duration::from_millis(8),
        max_elapsed: Duration::from_secs(5),
        attempt_timeout: Some(Duration::from_secs(5)),
    }
}

fn setup(policy: RetryPolicy) -> (Arc<Flaky>, RetryStore) {
    let flaky = Arc::new(Flaky::default());
    let store = RetryStore::new(flaky.clone(), "flaky", policy);
    (flaky, store)
}

async fn seed(flaky: &Flaky, names: &[&str]) {
    for name in names {
        flaky
            .inner
            .put(&Path::from(*name), Bytes::from(name.to_string()).into())
            .await
            .expect("seed");
    }
}

#[tokio::test]
async fn transient_failures_are_retried_and_counted() {
    let (flaky, store) = setup(fast());
    seed(&flaky, &["a"]).await;
    flaky.fail("get", &[Failure::Reset, Failure::Unavailable]);
    let got = store
        .get(&Path::from("a"))
        .await
        .expect("get after retries");
    assert_eq!(got.bytes().await.expect("body"), Bytes::from("a"));
    assert_eq!(flaky.calls("get"), 3, "two failures then success");
    let stats = store.stats().snapshot();
    assert_eq!(stats.retries, 2);
    assert_eq!(stats.recovered, 1);
    assert_eq!(stats.give_ups, 0);

    flaky.fail("head", &[Failure::Reset]);
    store.head(&Path::from("a")).await.expect("head");
    assert_eq!(flaky.calls("head"), 2);
    assert_eq!(store.stats().retries(), 3);
}

#[tokio::test]
async fn gives_up_after_max_attempts_with_the_last_error() {
    let (flaky, store) = setup(fast());
    seed(&flaky, &["a"]).await;
    flaky.fail("get", &[Failure::Reset; 10]);
    let err = store.get(&Path::from("a")).await.expect_err("must give up");
    assert_eq!(flaky.calls("get"), 4, "max_attempts");
    assert_eq!(classify(&err), Some(Transient::Connection));
    let stats = store.stats().snapshot();
    assert_eq!(stats.retries, 3);
    assert_eq!(stats.give_ups, 1);
    assert_eq!(stats.recovered, 0);
}

#[tokio::test]
async fn permanent_errors_are_not_retried() {
    let (flaky, store) = setup(fast());
    let err = store.get(&Path::from("missing")).await.expect_err("404");
    assert!(
        matches!(err, object_store::Error::NotFound { .. }),
        "{err:?}"
    );
    assert_eq!(flaky.calls("get"), 1, "404 is not retried");

    seed(&flaky, &["a"]).await;
    flaky.fail("get", &[Failure::BadRequest]);
    store.get(&Path::from("a")).await.expect_err("400");
    assert_eq!(flaky.calls("get"), 2, "400 is not retried");
    assert_eq!(store.stats().snapshot(), Default::default());
}

#[tokio::test]
async fn backoff_is_bounded_by_max_delay_and_max_elapsed() {
    // Every attempt fails; caps 20, 40, 40, 40 ms: at most 140 ms asleep.
    let policy = RetryPolicy {
        max_attempts: 5,
        base: Duration::from_millis(20),
        max_delay: Duration::from_millis(40),
        max_elapsed: Duration::from_secs(10),
        attempt_timeout: None,
    };
    let (flaky, store) = setup(policy);
    flaky.fail("list_with_delimiter", &[Failure::Unavailable; 10]);
    let start = Instant::now();
    store.list_with_delimiter(None).await.expect_err("gives up");
    let took = start.elapsed();
    assert_eq!(flaky.calls("list_with_delimiter"), 5);
    assert!(took < Duration::from_millis(140 + 1000), "took {took:?}");

    // A time budget stops retries long before max_attempts.
    let policy = RetryPolicy {
        max_attempts: 1000,
        base: Duration::from_millis(10),
        max_delay: Duration::from_millis(10),
        max_elapsed: Duration::from_millis(100),
        attempt_timeout: None,
    };
    let (flaky, store) = setup(policy);
    flaky.fail("copy", &[Failure::Reset; 1000]);
    let start = Instant::now();
    store
        .copy(&Path::from("x"), &Path::from("y"))
        .await
        .expect_err("gives up");
    let took = start.elapsed();
    assert!(took < Duration::from_millis(100 + 1000), "took {took:?}");
    assert!(flaky.calls("copy") < 1000, "stopped by time, not attempts");
    assert!(flaky.calls("copy") >= 2, "retried at least once");
    assert_eq!(store.stats().give_ups(), 1);
}

#[tokio::test]
async fn a_hung_attempt_times_out_and_is_retried() {
    let policy = RetryPolicy {
        attempt_timeout: Some(Duration::from_millis(50)),
        ..fast()
    };
    let (flaky, store) = setup(policy);
    seed(&flaky, &["a"]).await;
    flaky.fail("get", &[Failure::Hang]);
    let start = Instant::now();
    store.get(&Path::from("a")).await.expect("second attempt");
    assert!(start.elapsed() >= Duration::from_millis(50));
    assert_eq!(flaky.calls("get"), 2);
    assert_eq!(store.stats().retries(), 1);
}

#[tokio::test]
async fn puts_are_retried_only_when_overwriting() {
    let (flaky, store) = setup(fast());
    flaky.fail("put", &[Failure::Reset, Failure::Reset]);
    store
        .put(&Path::from("p"), Bytes::from_static(b"payload").into())
        .await
        .expect("put after retries");
    assert_eq!(flaky.calls("put"), 3);
    let body = flaky
        .inner
        .get(&Path::from("p"))
        .await
        .expect("stored")
        .bytes()
        .await
        .expect("body");
    assert_eq!(
        body,
        Bytes::from_static(b"payload"),
        "payload re-sent whole"
    );

    flaky.fail("put", &[Failure::Reset]);
    let create = PutOptions {
        mode: PutMode::Create,
        ..Default::default()
    };
    store
        .put_opts(&Path::from("q"), Bytes::from_static(b"x").into(), create)
        .await
        .expect_err("conditional put is not retried");
    assert_eq!(flaky.calls("put"), 4);
}

#[tokio::test]
async fn deletes_are_retried_per_location() {
    let (flaky, store) = setup(fast());
    seed(&flaky, &["d1", "d2"]).await;
    flaky.fail("delete", &[Failure::Unavailable]);
    let locations = stream::iter([Ok(Path::from("d1")), Ok(Path::from("d2"))]).boxed();
    let deleted: Vec<Path> = store
        .delete_stream(locations)
        .try_collect()
        .await
        .expect("deletes");
    assert_eq!(deleted, vec![Path::from("d1"), Path::from("d2")]);
    assert_eq!(flaky.calls("delete"), 3, "one location retried once");
    assert!(flaky.inner.head(&Path::from("d1")).await.is_err());
    assert!(flaky.inner.head(&Path::from("d2")).await.is_err());
}

#[tokio::test]
async fn listings_restart_or_resume_without_duplicates() {
    let (flaky, store) = setup(fast());
    let names: Vec<String> = (0..20).map(|i| format!("l/{i:02}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    seed(&flaky, &refs).await;

    // Fails before the first entry: restarted from scratch.
    flaky
        .list_script
        .lock()
        .expect("lock")
        .push_back((0, Failure::Reset));
    let listed: Vec<String> = store
        .list(Some(&Path::from("l")))
        .map_ok(|m| m.location.to_string())
        .try_collect()
        .await
        .expect("list");
    assert_eq!(listed, names);
    assert_eq!(flaky.calls("list"), 2);

    // Fails after 7 entries: resumed after the 7th.
    flaky
        .list_script
        .lock()
        .expect("lock")
        .push_back((7, Failure::Unavailable));
    let listed: Vec<String> = store
        .list(Some(&Path::from("l")))
        .map_ok(|m| m.location.to_string())
        .try_collect()
        .await
        .expect("list");
    assert_eq!(listed, names, "every entry exactly once, in order");
    assert_eq!(flaky.calls("list_with_offset"), 1);
    assert_eq!(store.stats().retries(), 2);
    assert_eq!(store.stats().recovered(), 2);
}

#[tokio::test]
async fn sealed_backend_round_trips_through_retries_and_multipart() {
    let (flaky, store) = setup(fast());
    let backend = Backend::new(
        "flaky",
        TierProfile::s3_standard(),
        Arc::new(store.clone()),
        Keyring::generate(),
        None,
    )
    .with_frame_size(4096);
    // Big enough for a multipart upload (more than one 8 MiB part).
    let data: Vec<u8> = (0..(9u32 << 20)).map(|i| (i % 251) as u8).collect();
    flaky.fail("put_multipart", &[Failure::Reset]);
    flaky.fail("get", &[Failure::Unavailable]);
    let mut w = backend.writer("big").await.expect("writer");
    for chunk in data.chunks(1 << 20) {
        w.write(Bytes::copy_from_slice(chunk)).await.expect("write");
    }
    w.finish().await.expect("finish");
    assert_eq!(flaky.calls("put_multipart"), 2, "initiation retried");
    let range = 5_000_000..5_100_000u64;
    let got: Vec<Bytes> = backend
        .read("big", data.len() as u64, range.clone())
        .await
        .expect("read")
        .try_collect()
        .await
        .expect("stream");
    assert_eq!(
        got.concat(),
        &data[range.start as usize..range.end as usize]
    );
    let stats = store.stats().snapshot();
    assert_eq!(stats.retries, 2);
    assert_eq!(stats.recovered, 2);
}

#[tokio::test]
async fn stats_can_be_shared_between_stores() {
    let shared = RetryStats::new();
    let (a_flaky, a) = setup(fast());
    let (b_flaky, b) = setup(fast());
    let a = a.with_stats(Arc::clone(&shared));
    let b = b.with_stats(Arc::clone(&shared));
    seed(&a_flaky, &["x"]).await;
    seed(&b_flaky, &["x"]).await;
    a_flaky.fail("get", &[Failure::Reset]);
    b_flaky.fail("get", &[Failure::Reset]);
    a.get(&Path::from("x")).await.expect("a");
    b.get(&Path::from("x")).await.expect("b");
    assert_eq!(shared.retries(), 2);
    assert_eq!(a_flaky.calls("get") + b_flaky.calls("get"), 4);
}
