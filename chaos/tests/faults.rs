//! Each fault type, the rule limits (probability, max_count, window) and the
//! filters, observed through a `ChaosStore` over `InMemory` and
//! `LocalFileSystem`.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chaos::{Chaos, ChaosConfig, Fault, InjectedFault, InjectedKind, Op, Rule};
use futures::{StreamExt, TryStreamExt};
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{GetResultPayload, ObjectStore, ObjectStoreExt, PutPayload};
use tokio::time::Instant;

const BACKEND: &str = "hot";

/// Deterministic test data.
fn data(len: usize) -> Bytes {
    (0..len)
        .map(|i| (i.wrapping_mul(31) ^ (i >> 8)) as u8)
        .collect::<Vec<u8>>()
        .into()
}

/// A seeded controller with `rules` installed.
fn chaos_with(rules: Vec<Rule>) -> Arc<Chaos> {
    let chaos = Chaos::with_seed(7);
    chaos.set(ChaosConfig::new(rules)).expect("valid config");
    chaos
}

/// An in-memory store holding `blob` = `body`, and its chaos wrapper.
async fn memory_with(
    chaos: &Arc<Chaos>,
    blob: &str,
    body: &Bytes,
) -> (Arc<dyn ObjectStore>, Arc<dyn ObjectStore>) {
    let inner: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    inner
        .put(&Path::from(blob), PutPayload::from(body.clone()))
        .await
        .unwrap();
    let wrapped = chaos::wrap(Arc::clone(&inner), BACKEND, chaos);
    (inner, wrapped)
}

/// The injected fault behind `err`, which must exist.
fn injected(err: &object_store::Error) -> &InjectedFault {
    InjectedFault::find(err).unwrap_or_else(|| panic!("not an injected fault: {err}"))
}

/// Reads a get body chunk by chunk: the bytes received before the stream
/// ended or failed, and the error if it failed.
async fn drain(store: &Arc<dyn ObjectStore>, blob: &str) -> (Vec<u8>, Option<object_store::Error>) {
    let mut body = store.get(&Path::from(blob)).await.unwrap().into_stream();
    let mut got = Vec::new();
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(c) => got.extend_from_slice(&c),
            Err(e) => return (got, Some(e)),
        }
    }
    (got, None)
}

fn injected_count(chaos: &Chaos, id: &str) -> u64 {
    chaos
        .stats()
        .into_iter()
        .find(|s| s.id == id)
        .map(|s| s.injected)
        .unwrap_or_else(|| panic!("no stats for rule {id}"))
}

#[tokio::test]
async fn error_status_is_downcastable_and_counted() {
    let chaos = chaos_with(vec![
        Rule::new(Fault::Error { status: 503 })
            .with_id("get-503")
            .with_ops([Op::Get]),
        Rule::new(Fault::Error { status: 429 })
            .with_id("put-429")
            .with_ops([Op::Put]),
        Rule::new(Fault::Error { status: 404 })
            .with_id("head-404")
            .with_ops([Op::Head]),
    ]);
    let (_inner, store) = memory_with(&chaos, "a", &data(10)).await;

    let err = store.get(&Path::from("a")).await.unwrap_err();
    assert!(
        matches!(err, object_store::Error::Generic { store: "chaos", .. }),
        "{err:?}"
    );
    let fault = injected(&err);
    assert_eq!(fault.status, Some(503));
    assert_eq!(fault.kind, InjectedKind::Error);
    assert_eq!(fault.rule, "get-503");
    assert_eq!(fault.backend, BACKEND);
    assert_eq!(fault.op, Op::Get);
    assert!(fault.is_retryable());

    let err = store.put(&Path::from("b"), "x".into()).await.unwrap_err();
    assert_eq!(injected(&err).status, Some(429));
    assert!(injected(&err).is_retryable());

    // 404 surfaces as NotFound, like a real store's answer.
    let err = store.head(&Path::from("a")).await.unwrap_err();
    assert!(
        matches!(err, object_store::Error::NotFound { .. }),
        "{err:?}"
    );
    assert_eq!(injected(&err).status, Some(404));
    assert!(!injected(&err).is_retryable());

    assert_eq!(injected_count(&chaos, "get-503"), 1);
    assert_eq!(injected_count(&chaos, "put-429"), 1);
    assert_eq!(injected_count(&chaos, "head-404"), 1);
    assert_eq!(chaos.total_injected(), 3);
}

#[tokio::test]
async fn latency_delays_at_least_fixed_ms_then_succeeds() {
    let body = data(100);
    let chaos = chaos_with(vec![
        Rule::new(Fault::Latency {
            fixed_ms: 120,
            jitter_ms: 30,
            tail_ms: 0,
            tail_probability: 0.0,
        })
        .with_ops([Op::Get]),
    ]);
    let (_inner, store) = memory_with(&chaos, "a", &body).await;

    let start = Instant::now();
    let got = store
        .get(&Path::from("a"))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let elapsed = start.elapsed();
    assert_eq!(got, body);
    assert!(elapsed >= Duration::from_millis(120), "{elapsed:?}");

    // Ops the rule does not cover are not delayed.
    let start = Instant::now();
    store.head(&Path::from("a")).await.unwrap();
    assert!(start.elapsed() < Duration::from_millis(100));
}

#[tokio::test]
async fn latency_tail_adds_tail_ms() {
    let chaos = chaos_with(vec![Rule::new(Fault::Latency {
        fixed_ms: 10,
        jitter_ms: 0,
        tail_ms: 150,
        tail_probability: 1.0,
    })]);
    let (_inner, store) = memory_with(&chaos, "a", &data(10)).await;
    let start = Instant::now();
    store.head(&Path::from("a")).await.unwrap();
    assert!(
        start.elapsed() >= Duration::from_millis(160),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn latency_stacks_with_a_following_error() {
    let chaos = chaos_with(vec![
        Rule::new(Fault::Latency {
            fixed_ms: 80,
            jitter_ms: 0,
            tail_ms: 0,
            tail_probability: 0.0,
        }),
        Rule::new(Fault::Error { status: 500 }).with_id("boom"),
    ]);
    let (_inner, store) = memory_with(&chaos, "a", &data(10)).await;
    let start = Instant::now();
    let err = store.get(&Path::from("a")).await.unwrap_err();
    assert!(start.elapsed() >= Duration::from_millis(80));
    assert_eq!(injected(&err).rule, "boom");
    assert_eq!(chaos.total_injected(), 2);
}

#[tokio::test]
async fn timeout_waits_then_fails() {
    let chaos = chaos_with(vec![Rule::new(Fault::Timeout { after_ms: 100 })]);
    let (_inner, store) = memory_with(&chaos, "a", &data(10)).await;
    let start = Instant::now();
    let err = store.get(&Path::from("a")).await.unwrap_err();
    assert!(start.elapsed() >= Duration::from_millis(100));
    assert_eq!(injected(&err).kind, InjectedKind::Timeout);
    assert!(injected(&err).is_retryable());
}

#[tokio::test]
async fn hang_never_completes() {
    let chaos = chaos_with(vec![Rule::new(Fault::Hang)]);
    let (_inner, store) = memory_with(&chaos, "a", &data(10)).await;
    let get = tokio::time::timeout(Duration::from_millis(200), store.get(&Path::from("a"))).await;
    assert!(get.is_err(), "get completed despite hang");
    let mut list = store.list(None);
    let first = tokio::time::timeout(Duration::from_millis(200), list.next()).await;
    assert!(first.is_err(), "list yielded despite hang");
    let put = tokio::time::timeout(
        Duration::from_millis(200),
        store.put(&Path::from("b"), "x".into()),
    )
    .await;
    assert!(put.is_err(), "put completed despite hang");
    assert_eq!(chaos.total_injected(), 3);
}

#[tokio::test]
async fn reset_yields_exactly_after_bytes_then_errors() {
    let body = data(10_000);
    let chaos = chaos_with(vec![Rule::new(Fault::ResetMidStream { after_bytes: 1234 })]);
    let (_inner, store) = memory_with(&chaos, "a", &body).await;
    let (got, err) = drain(&store, "a").await;
    assert_eq!(got.len(), 1234);
    assert_eq!(&got[..], &body[..1234]);
    let err = err.expect("stream must fail after the reset point");
    assert_eq!(injected(&err).kind, InjectedKind::ResetMidStream);
}

#[tokio::test]
async fn reset_on_local_filesystem_across_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let inner: Arc<dyn ObjectStore> =
        Arc::new(LocalFileSystem::new_with_prefix(dir.path()).unwrap());
    let body = data(100_000);
    inner
        .put(&Path::from("dir/a"), body.clone().into())
        .await
        .unwrap();
    let chaos = chaos_with(vec![Rule::new(Fault::ResetMidStream {
        after_bytes: 20_001,
    })]);
    let store = chaos::wrap(inner, BACKEND, &chaos);
    let (got, err) = drain(&store, "dir/a").await;
    assert_eq!(got.len(), 20_001);
    assert_eq!(&got[..], &body[..20_001]);
    assert_eq!(
        injected(&err.expect("reset")).kind,
        InjectedKind::ResetMidStream
    );
}

#[tokio::test]
async fn truncate_yields_exactly_after_bytes_and_ends_cleanly() {
    let body = data(10_000);
    let chaos = chaos_with(vec![Rule::new(Fault::Truncate { after_bytes: 777 })]);
    let (_inner, store) = memory_with(&chaos, "a", &body).await;
    let (got, err) = drain(&store, "a").await;
    assert!(err.is_none(), "truncation must end cleanly: {err:?}");
    assert_eq!(&got[..], &body[..777]);
}

#[tokio::test]
async fn truncate_on_local_filesystem() {
    let dir = tempfile::tempdir().unwrap();
    let inner: Arc<dyn ObjectStore> =
        Arc::new(LocalFileSystem::new_with_prefix(dir.path()).unwrap());
    let body = data(50_000);
    inner
        .put(&Path::from("a"), body.clone().into())
        .await
        .unwrap();
    // Without chaos the local store hands back a file payload.
    let direct = inner.get(&Path::from("a")).await.unwrap();
    assert!(matches!(direct.payload, GetResultPayload::File(..)));
    let chaos = chaos_with(vec![Rule::new(Fault::Truncate { after_bytes: 9000 })]);
    let store = chaos::wrap(inner, BACKEND, &chaos);
    let got = store
        .get(&Path::from("a"))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(got, body.slice(..9000));
}

/// Bytes that differ between `a` and `b` (same length).
fn differing(a: &[u8], b: &[u8]) -> usize {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).filter(|(x, y)| x != y).count()
}

#[tokio::test]
async fn corrupt_changes_exactly_flips_bytes() {
    let body = data(4096);
    let chaos = chaos_with(vec![Rule::new(Fault::Corrupt { flips: 5 })]);
    let (_inner, store) = memory_with(&chaos, "a", &body).await;
    for _ in 0..10 {
        let got = store
            .get(&Path::from("a"))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_ne!(got, body);
        assert_eq!(differing(&got, &body), 5);
    }
    assert_eq!(chaos.total_injected(), 10);
}

#[tokio::test]
async fn corrupt_on_local_filesystem_and_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let inner: Arc<dyn ObjectStore> =
        Arc::new(LocalFileSystem::new_with_prefix(dir.path()).unwrap());
    let body = data(64 * 1024);
    inner
        .put(&Path::from("a"), body.clone().into())
        .await
        .unwrap();
    let chaos = chaos_with(vec![Rule::new(Fault::Corrupt { flips: 40 })]);
    let store = chaos::wrap(inner, BACKEND, &chaos);

    let got = store
        .get(&Path::from("a"))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(differing(&got, &body), 40);

    let got = store.get_range(&Path::from("a"), 100..200).await.unwrap();
    assert_eq!(differing(&got, &body[100..200]), 40);

    // get_ranges: flips spread over the concatenation.
    let ranges = [0..10, 1000..1100, 60_000..60_500];
    let parts = store.get_ranges(&Path::from("a"), &ranges).await.unwrap();
    let changed: usize = parts
        .iter()
        .zip(&ranges)
        .map(|(p, r)| differing(p, &body[r.start as usize..r.end as usize]))
        .sum();
    assert_eq!(changed, 40);
}

#[tokio::test]
async fn corrupt_flips_at_most_the_body_length() {
    let body = data(3);
    let chaos = chaos_with(vec![Rule::new(Fault::Corrupt { flips: 100 })]);
    let (_inner, store) = memory_with(&chaos, "a", &body).await;
    let got = store
        .get(&Path::from("a"))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(differing(&got, &body), 3);
}

#[tokio::test]
async fn stream_faults_skip_bodies_they_cannot_change() {
    // A truncation point past the end would change nothing: the rule does
    // not fire and is not counted.
    let body = data(100);
    let chaos = chaos_with(vec![
        Rule::new(Fault::Truncate { after_bytes: 100 }).with_id("t"),
    ]);
    let (_inner, store) = memory_with(&chaos, "a", &body).await;
    let got = store
        .get(&Path::from("a"))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(got, body);
    assert_eq!(injected_count(&chaos, "t"), 0);
}

#[tokio::test]
async fn down_fails_every_op() {
    let chaos = chaos_with(vec![
        Rule::new(Fault::Latency {
            fixed_ms: 2000,
            jitter_ms: 0,
            tail_ms: 0,
            tail_probability: 0.0,
        }),
        Rule::new(Fault::Down).with_backend(BACKEND).with_id("down"),
    ]);
    let (inner, store) = memory_with(&chaos, "a", &data(10)).await;
    let a = Path::from("a");
    let start = Instant::now();

    let mut errors = vec![
        store.get(&a).await.unwrap_err(),
        store.head(&a).await.unwrap_err(),
        store.get_range(&a, 0..2).await.unwrap_err(),
        store.get_ranges(&a, &[0..2, 4..6]).await.unwrap_err(),
        store.put(&Path::from("b"), "x".into()).await.unwrap_err(),
        store.delete(&a).await.unwrap_err(),
        store.list(None).try_collect::<Vec<_>>().await.unwrap_err(),
        store
            .list_with_offset(None, &a)
            .try_collect::<Vec<_>>()
            .await
            .unwrap_err(),
        store.list_with_delimiter(None).await.unwrap_err(),
        store.copy(&a, &Path::from("c")).await.unwrap_err(),
        store.rename(&a, &Path::from("c")).await.unwrap_err(),
    ];
    match store.put_multipart(&Path::from("m")).await {
        Ok(_) => panic!("put_multipart succeeded on a down backend"),
        Err(e) => errors.push(e),
    }
    for err in &errors {
        let fault = injected(err);
        assert_eq!(fault.kind, InjectedKind::Down, "{err}");
        assert_eq!(fault.rule, "down");
    }
    // `down` fails immediately, skipping stacked latency.
    assert!(
        start.elapsed() < Duration::from_millis(1500),
        "{:?}",
        start.elapsed()
    );
    // Nothing reached the inner store.
    assert!(inner.head(&a).await.is_ok());
    assert!(inner.head(&Path::from("b")).await.is_err());
    assert_eq!(injected_count(&chaos, "down"), errors.len() as u64);
}

#[tokio::test]
async fn probability_zero_never_fires() {
    let chaos = chaos_with(vec![
        Rule::new(Fault::Down)
            .with_probability(0.0)
            .with_id("never"),
    ]);
    let (_inner, store) = memory_with(&chaos, "a", &data(10)).await;
    for _ in 0..500 {
        store
            .get(&Path::from("a"))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
    }
    assert_eq!(injected_count(&chaos, "never"), 0);
    assert_eq!(chaos.total_injected(), 0);
}

#[tokio::test]
async fn probability_half_fires_about_half_the_time() {
    let chaos = chaos_with(vec![
        Rule::new(Fault::Error { status: 500 })
            .with_probability(0.5)
            .with_id("half"),
    ]);
    let (_inner, store) = memory_with(&chaos, "a", &data(10)).await;
    let mut failed = 0u64;
    for _ in 0..1000 {
        if store.head(&Path::from("a")).await.is_err() {
            failed += 1;
        }
    }
    assert!((350..=650).contains(&failed), "{failed} of 1000 failed");
    assert_eq!(injected_count(&chaos, "half"), failed);
}

#[tokio::test]
async fn max_count_stops_after_n() {
    let chaos = chaos_with(vec![
        Rule::new(Fault::Error { status: 503 })
            .with_max_count(3)
            .with_id("thrice"),
    ]);
    let (_inner, store) = memory_with(&chaos, "a", &data(10)).await;
    let results: Vec<bool> = futures::future::join_all((0..10).map(|_| {
        let store = Arc::clone(&store);
        async move { store.head(&Path::from("a")).await.is_ok() }
    }))
    .await;
    assert_eq!(results.iter().filter(|ok| !**ok).count(), 3);
    for _ in 0..20 {
        store.head(&Path::from("a")).await.unwrap();
    }
    assert_eq!(injected_count(&chaos, "thrice"), 3);
}

#[tokio::test]
async fn window_limits_when_rules_fire() {
    let chaos = chaos_with(vec![
        Rule::new(Fault::Error { status: 503 })
            .with_window(60_000, 1000)
            .with_id("later"),
        Rule::new(Fault::Error { status: 500 })
            .with_window(0, 150)
            .with_ops([Op::Put])
            .with_id("now"),
    ]);
    let (_inner, store) = memory_with(&chaos, "a", &data(10)).await;
    // "later" has not started.
    store.get(&Path::from("a")).await.unwrap();
    // "now" is open ...
    let err = store.put(&Path::from("b"), "x".into()).await.unwrap_err();
    assert_eq!(injected(&err).rule, "now");
    // ... and closes after 150 ms.
    tokio::time::sleep(Duration::from_millis(200)).await;
    store.put(&Path::from("b"), "x".into()).await.unwrap();
    assert_eq!(injected_count(&chaos, "later"), 0);
    assert_eq!(injected_count(&chaos, "now"), 1);
}

#[tokio::test]
async fn op_filter_limits_faults_to_listed_ops() {
    let chaos = chaos_with(vec![
        Rule::new(Fault::Error { status: 500 }).with_ops([Op::Put, Op::Delete]),
    ]);
    let (_inner, store) = memory_with(&chaos, "a", &data(10)).await;
    let a = Path::from("a");
    store.get(&a).await.unwrap();
    store.head(&a).await.unwrap();
    assert_eq!(
        store
            .list(None)
            .try_collect::<Vec<_>>()
            .await
            .unwrap()
            .len(),
        1
    );
    store.list_with_delimiter(None).await.unwrap();
    let mut upload = store.put_multipart(&Path::from("m")).await.unwrap();
    upload.put_part("part".into()).await.unwrap();
    upload.complete().await.unwrap();
    assert!(store.put(&Path::from("b"), "x".into()).await.is_err());
    assert!(store.delete(&a).await.is_err());
    assert_eq!(chaos.total_injected(), 2);
}

#[tokio::test]
async fn backend_filter_limits_faults_to_that_backend() {
    let chaos = chaos_with(vec![Rule::new(Fault::Down).with_backend("cold")]);
    let hot = chaos::wrap(Arc::new(InMemory::new()), "hot", &chaos);
    let cold = chaos::wrap(Arc::new(InMemory::new()), "cold", &chaos);
    hot.put(&Path::from("a"), "x".into()).await.unwrap();
    hot.get(&Path::from("a")).await.unwrap();
    assert!(cold.put(&Path::from("a"), "x".into()).await.is_err());
    let err = cold.head(&Path::from("a")).await.unwrap_err();
    assert_eq!(injected(&err).backend, "cold");
}

#[tokio::test]
async fn multipart_parts_and_completion_are_faulted() {
    let chaos = Chaos::with_seed(1);
    let inner: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let store = chaos::wrap(Arc::clone(&inner), BACKEND, &chaos);
    // The upload starts with no rules; rules installed later still reach it.
    let mut upload = store.put_multipart(&Path::from("m")).await.unwrap();
    upload.put_part("part-0".into()).await.unwrap();
    chaos
        .set(ChaosConfig::new(vec![
            Rule::new(Fault::Error { status: 503 })
                .with_ops([Op::Multipart])
                .with_max_count(2)
                .with_id("mp"),
        ]))
        .unwrap();
    let err = upload.put_part("part-1".into()).await.unwrap_err();
    assert_eq!(injected(&err).op, Op::Multipart);
    let err = upload.complete().await.unwrap_err();
    assert_eq!(injected(&err).status, Some(503));
    assert!(
        inner.head(&Path::from("m")).await.is_err(),
        "nothing published"
    );
    // The rule is exhausted: abort (never faulted) and a new upload work.
    upload.abort().await.unwrap();
    let mut upload = store.put_multipart(&Path::from("m")).await.unwrap();
    upload.put_part("whole".into()).await.unwrap();
    upload.complete().await.unwrap();
    let got = inner
        .get(&Path::from("m"))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(got, Bytes::from_static(b"whole"));
    assert_eq!(injected_count(&chaos, "mp"), 2);
}

#[tokio::test]
async fn delete_stream_faults_per_location_in_order() {
    let chaos = Chaos::with_seed(3);
    let inner: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    for name in ["x", "y", "z"] {
        inner.put(&Path::from(name), "v".into()).await.unwrap();
    }
    let store = chaos::wrap(Arc::clone(&inner), BACKEND, &chaos);
    chaos
        .set(ChaosConfig::new(vec![
            Rule::new(Fault::Error { status: 500 })
                .with_ops([Op::Delete])
                .with_max_count(1),
        ]))
        .unwrap();
    let locations = futures::stream::iter(["x", "y", "z"].map(|n| Ok(Path::from(n)))).boxed();
    let results: Vec<_> = store.delete_stream(locations).collect().await;
    assert_eq!(results.len(), 3);
    assert!(results[0].is_err());
    assert_eq!(results[1].as_ref().unwrap(), &Path::from("y"));
    assert_eq!(results[2].as_ref().unwrap(), &Path::from("z"));
    assert!(
        inner.head(&Path::from("x")).await.is_ok(),
        "faulted delete reached the store"
    );
    assert!(inner.head(&Path::from("y")).await.is_err());
}

#[tokio::test]
async fn clear_restores_pass_through() {
    let body = data(1000);
    let chaos = chaos_with(vec![
        Rule::new(Fault::Corrupt { flips: 3 }),
        Rule::new(Fault::Down),
    ]);
    let (_inner, store) = memory_with(&chaos, "a", &body).await;
    assert!(chaos.is_enabled());
    assert!(store.get(&Path::from("a")).await.is_err());
    chaos.clear();
    assert!(!chaos.is_enabled());
    assert!(chaos.config().is_empty());
    assert!(chaos.stats().is_empty());
    let got = store
        .get(&Path::from("a"))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(got, body);
    store.put(&Path::from("b"), "x".into()).await.unwrap();
    // The global counter survives clearing.
    assert_eq!(chaos.total_injected(), 1);
}

#[tokio::test]
async fn config_reports_ids_and_set_rejects_invalid_configs() {
    let chaos = chaos_with(vec![
        Rule::new(Fault::Hang).with_id("h").with_backend("cold"),
        Rule::new(Fault::Down),
    ]);
    let config = chaos.config();
    assert_eq!(config.rules[0].id.as_deref(), Some("h"));
    assert_eq!(config.rules[1].id.as_deref(), Some("rule-1"));
    let stats = chaos.stats();
    assert_eq!(stats.len(), 2);
    assert_eq!(
        (stats[0].id.as_str(), stats[0].backend.as_str()),
        ("h", "cold")
    );
    assert_eq!(stats[1].fault_type, "down");

    let bad = ChaosConfig::new(vec![Rule::new(Fault::Down).with_probability(2.0)]);
    let err = chaos.set(bad).unwrap_err();
    assert_eq!(err.field(), "rules[0].probability");
    // The previous config stays installed.
    assert_eq!(chaos.config(), config);
}

/// An injected fault must look to a retry layer exactly like the real failure it imitates: `backends`'
/// classification (which knows nothing of this crate) retries what a real store's failure would get retried,
/// and `InjectedFault::find` still recognises the fault behind the imitation.
#[test]
fn injected_faults_classify_like_the_real_failures_they_imitate() {
    use backends::retry::{Transient, classify};
    let fault = |kind: InjectedKind, status: Option<u16>| InjectedFault {
        rule: "r".into(),
        backend: "b".into(),
        op: Op::Get,
        kind,
        status,
    };
    let cases = [
        (
            fault(InjectedKind::Error, Some(429)),
            Some(Transient::Status(429)),
        ),
        (
            fault(InjectedKind::Error, Some(503)),
            Some(Transient::Status(503)),
        ),
        (
            fault(InjectedKind::Error, Some(500)),
            Some(Transient::Status(500)),
        ),
        (fault(InjectedKind::Error, Some(400)), None),
        (fault(InjectedKind::Error, Some(403)), None),
        (fault(InjectedKind::Error, Some(404)), None),
        (fault(InjectedKind::Timeout, None), Some(Transient::Timeout)),
        (fault(InjectedKind::Down, None), Some(Transient::Connection)),
        (
            fault(InjectedKind::ResetMidStream, None),
            Some(Transient::Connection),
        ),
    ];
    for (f, want) in cases {
        assert_eq!(f.is_retryable(), want.is_some(), "{f}");
        let err = f.clone().into_store_error("x");
        assert_eq!(classify(&err), want, "{f} as {err}");
        assert_eq!(InjectedFault::find(&err), Some(&f), "{err}");
    }
}
