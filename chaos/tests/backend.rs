//! Composition with `backends::Backend`: the chaos layer sits under the
//! sealing layer, so injected corruption and truncation must surface as
//! `BackendError::Corrupt` (never as wrong bytes) and injected failures as
//! store errors carrying the `InjectedFault`.

use std::sync::Arc;

use backends::{Backend, BackendError, TierProfile};
use bytes::Bytes;
use chaos::{Chaos, ChaosConfig, Fault, InjectedFault, InjectedKind, Op, Rule};
use futures::TryStreamExt;

const FRAME: u32 = 4096;

fn plaintext(len: usize) -> Bytes {
    (0..len)
        .map(|i| (i * 7 + i / 251) as u8)
        .collect::<Vec<u8>>()
        .into()
}

/// A memory backend holding `blob` with `body` (written without chaos).
async fn backend_with(blob: &str, body: &Bytes) -> Backend {
    let backend = Backend::memory("cold", TierProfile::s3_standard()).with_frame_size(FRAME);
    write(&backend, blob, body).await.unwrap();
    backend
}

async fn write(backend: &Backend, blob: &str, body: &Bytes) -> Result<u64, BackendError> {
    let mut writer = backend.writer(blob).await?;
    writer.write(body.clone()).await?;
    writer.finish().await
}

async fn read_all(backend: &Backend, blob: &str, plain_size: u64) -> Result<Bytes, BackendError> {
    let chunks: Vec<Bytes> = backend
        .read(blob, plain_size, 0..plain_size)
        .await?
        .try_collect()
        .await?;
    Ok(chunks.concat().into())
}

/// `backend` over its own store wrapped with one rule.
fn with_rule(backend: &Backend, chaos: &Arc<Chaos>, rule: Rule) -> Backend {
    chaos.set(ChaosConfig::new(vec![rule])).unwrap();
    backend.with_store(chaos::wrap(
        Arc::clone(backend.store()),
        backend.name(),
        chaos,
    ))
}

#[tokio::test]
async fn corrupted_sealed_bytes_fail_as_corrupt_never_wrong_bytes() {
    let body = plaintext(64 * 1024 + 123);
    let backend = backend_with("blobs/a", &body).await;
    assert_eq!(
        read_all(&backend, "blobs/a", body.len() as u64)
            .await
            .unwrap(),
        body
    );

    for seed in 0..16 {
        let chaos = Chaos::with_seed(seed);
        let faulty = with_rule(
            &backend,
            &chaos,
            Rule::new(Fault::Corrupt { flips: 1 }).with_ops([Op::Get]),
        );
        match read_all(&faulty, "blobs/a", body.len() as u64).await {
            Err(BackendError::Corrupt { blob, .. }) => assert_eq!(blob, "blobs/a"),
            Err(other) => panic!("seed {seed}: expected Corrupt, got {other}"),
            Ok(_) => panic!("seed {seed}: read returned bytes despite corruption"),
        }
        assert_eq!(chaos.total_injected(), 1, "seed {seed}");
    }
    // The stored blob itself is intact: corruption happened in flight.
    assert_eq!(
        read_all(&backend, "blobs/a", body.len() as u64)
            .await
            .unwrap(),
        body
    );
}

#[tokio::test]
async fn corrupted_reads_on_local_backend_fail_as_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::local(
        "local",
        TierProfile::s3_standard(),
        &dir.path().join("data"),
        &dir.path().join("keys.json"),
    )
    .unwrap()
    .with_frame_size(FRAME);
    let body = plaintext(50_000);
    write(&backend, "a", &body).await.unwrap();
    let chaos = Chaos::with_seed(42);
    let faulty = with_rule(&backend, &chaos, Rule::new(Fault::Corrupt { flips: 3 }));
    // A ranged read in the middle fetches only some frames; still caught.
    let result: Result<Vec<Bytes>, BackendError> = async {
        faulty
            .read("a", body.len() as u64, 10_000..30_000)
            .await?
            .try_collect()
            .await
    }
    .await;
    assert!(
        matches!(result, Err(BackendError::Corrupt { .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn truncated_reads_fail_as_corrupt() {
    let body = plaintext(20_000);
    let backend = backend_with("a", &body).await;
    let chaos = Chaos::with_seed(1);
    let faulty = with_rule(
        &backend,
        &chaos,
        Rule::new(Fault::Truncate { after_bytes: 9000 }),
    );
    let err = read_all(&faulty, "a", body.len() as u64).await.unwrap_err();
    assert!(matches!(err, BackendError::Corrupt { .. }), "{err}");
}

#[tokio::test]
async fn reset_and_error_responses_surface_as_store_errors() {
    let body = plaintext(20_000);
    let backend = backend_with("a", &body).await;
    let chaos = Chaos::with_seed(1);

    let faulty = with_rule(
        &backend,
        &chaos,
        Rule::new(Fault::ResetMidStream { after_bytes: 5000 }),
    );
    let err = read_all(&faulty, "a", body.len() as u64).await.unwrap_err();
    assert!(matches!(err, BackendError::Store { .. }), "{err}");
    let fault = InjectedFault::find(&err).expect("injected fault in the source chain");
    assert_eq!(fault.kind, InjectedKind::ResetMidStream);

    let faulty = with_rule(
        &backend,
        &chaos,
        Rule::new(Fault::Error { status: 503 }).with_ops([Op::Put]),
    );
    let err = write(&faulty, "b", &body).await.unwrap_err();
    let fault = InjectedFault::find(&err).expect("injected fault in the source chain");
    assert_eq!((fault.status, fault.backend.as_str()), (Some(503), "cold"));
    assert!(fault.is_retryable());
    assert!(
        !backend.exists("b").await.unwrap(),
        "failed write published nothing"
    );
}
