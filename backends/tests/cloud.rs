//! Sealed backends on real emulators, built from `StoreSpec`s exactly as the
//! gateway builds them: moto (S3), Azurite (Azure Blob) and
//! fake-gcs-server (GCS), started by `scripts/emulators.sh start`.
//!
//! Each test needs its emulator's variable (`STRATA_EMU_S3`,
//! `STRATA_EMU_AZURE`, `STRATA_EMU_GCS`) and the credential variables of the
//! env file (`STRATA_EMU_S3_KEY`, `STRATA_EMU_S3_SECRET`,
//! `STRATA_EMU_AZURE_KEY`); without them it prints a SKIPPED notice and
//! passes. `scripts/test.sh` starts the emulators and exports the file, so
//! the test command always runs them. By hand:
//!
//! ```sh
//! bash scripts/emulators.sh start && eval "$(bash scripts/emulators.sh env)"
//! cargo test -p backends --test cloud
//! ```
//!
//! Blob names carry a per-run random prefix, so runs never see each other's
//! blobs in the shared `strata-test` bucket.

use std::path::Path;
use std::sync::Arc;

use backends::retry::{RetryPolicy, RetryStore};
use backends::{
    AzureSpec, Backend, BackendError, BlobInfo, GcsSpec, S3Spec, StoreSpec, WRITE_CHUNK_SIZE,
    preset, sealed_len,
};
use bytes::Bytes;
use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use object_store::path::Path as StorePath;

/// Bucket / container every emulator has (created by emulators.sh).
const BUCKET: &str = "strata-test";
/// Plaintext marker that must never reach an emulator.
const MARKER: &[u8] = b"STRATA-PLAINTEXT-MARKER-7f3a";
/// Small frames so that modest blobs span many frames.
const FRAME: u32 = 4096;

/// The emulator URL in `var`, or `None` after printing a notice. With
/// `STRATA_EMU_REQUIRED=1` (set by scripts/test.sh) a missing variable
/// fails the test instead: the emulators were supposed to be running.
fn emulator(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("STRATA_EMU_REQUIRED").as_deref() != Ok("1"),
                "{var} is not set but STRATA_EMU_REQUIRED=1: the emulators did not start"
            );
            println!(
                "SKIPPED: {var} is not set; run `bash scripts/emulators.sh start` and \
                 `eval \"$(bash scripts/emulators.sh env)\"` (scripts/test.sh does this)"
            );
            None
        }
    }
}

/// `len` bytes of marker-laden plaintext, varied by `seed`.
fn plaintext(len: usize, seed: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + MARKER.len() + 8);
    let mut i = 0u32;
    while out.len() < len {
        out.extend_from_slice(MARKER);
        out.extend_from_slice(&i.to_le_bytes());
        out.push(seed);
        i += 1;
    }
    out.truncate(len);
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

async fn put(backend: &Backend, blob: &str, data: &[u8]) -> Result<u64, BackendError> {
    let mut w = backend.writer(blob).await?;
    for piece in data.chunks(256 * 1024) {
        if let Err(e) = w.write(Bytes::copy_from_slice(piece)).await {
            w.abort().await;
            return Err(e);
        }
    }
    w.finish().await
}

async fn get(
    backend: &Backend,
    blob: &str,
    size: u64,
    range: std::ops::Range<u64>,
) -> Result<Vec<u8>, BackendError> {
    let chunks: Vec<Bytes> = backend.read(blob, size, range).await?.try_collect().await?;
    Ok(chunks.concat())
}

/// Opens `spec` as a sealed backend (keyring in `dir`) over a RetryStore,
/// as the gateway composes it.
fn open(name: &str, tier: &str, spec: &StoreSpec, dir: &Path) -> Backend {
    let profile = preset(tier).expect("preset");
    let backend = Backend::open(
        name,
        profile,
        spec,
        dir,
        &dir.join("keys").join(format!("{name}.json")),
    )
    .unwrap_or_else(|e| panic!("open {name}: {e}"));
    let retried = RetryStore::new(Arc::clone(backend.store()), name, RetryPolicy::default());
    backend.with_store(Arc::new(retried)).with_frame_size(FRAME)
}

/// The scenario every emulator runs: sealed round trips (empty, small,
/// multi-frame), ranged reads, overwrite, list, raw bytes free of
/// plaintext, delete. With `multipart`, also a blob large enough for a
/// multipart upload; otherwise asserts that such a write fails cleanly.
async fn exercise(backend: &Backend, multipart: bool) {
    let run = uuid::Uuid::new_v4().simple().to_string();
    let prefix = format!("t-{run}");
    let small = plaintext(100, 1);
    let multi = plaintext(5 * FRAME as usize + 123, 2);
    let blobs = [
        (format!("{prefix}/blobs/00/empty"), Vec::new()),
        (format!("{prefix}/blobs/01/small"), small.clone()),
        (format!("{prefix}/blobs/02/multi"), multi.clone()),
    ];

    for (blob, data) in &blobs {
        let stored = put(backend, blob, data)
            .await
            .unwrap_or_else(|e| panic!("{}: put {blob}: {e}", backend.name()));
        assert_eq!(stored, sealed_len(data.len() as u64, FRAME), "{blob}");
        let back = get(backend, blob, data.len() as u64, 0..data.len() as u64)
            .await
            .unwrap_or_else(|e| panic!("{}: get {blob}: {e}", backend.name()));
        assert_eq!(&back, data, "{blob} round trip");
    }

    // Ranged reads of the multi-frame blob: inside a frame, across frames,
    // starting past frame 0, the last byte, an empty range.
    let (multi_blob, size) = (&blobs[2].0, multi.len() as u64);
    let frame = u64::from(FRAME);
    for range in [
        10..20,
        frame - 5..frame + 5,
        2 * frame + 1..4 * frame + 7,
        size - 1..size,
        3 * frame..3 * frame,
    ] {
        let got = get(backend, multi_blob, size, range.clone())
            .await
            .unwrap_or_else(|e| panic!("{}: range {range:?}: {e}", backend.name()));
        assert_eq!(
            got,
            &multi[range.start as usize..range.end as usize],
            "range {range:?}"
        );
    }

    // Overwrite replaces the blob.
    let replaced = plaintext(300, 9);
    put(backend, &blobs[1].0, &replaced)
        .await
        .expect("overwrite");
    let back = get(backend, &blobs[1].0, 300, 0..300)
        .await
        .expect("reread");
    assert_eq!(back, replaced);

    // List sees exactly our blobs with their sealed sizes.
    let mut listed: Vec<BlobInfo> = backend
        .list(&prefix)
        .try_collect()
        .await
        .unwrap_or_else(|e| panic!("{}: list: {e}", backend.name()));
    listed.sort_by(|a, b| a.blob.cmp(&b.blob));
    let names: Vec<&str> = listed.iter().map(|b| b.blob.as_str()).collect();
    assert_eq!(
        names,
        blobs.iter().map(|(b, _)| b.as_str()).collect::<Vec<_>>()
    );
    assert_eq!(listed[0].stored_size, sealed_len(0, FRAME));
    assert_eq!(listed[1].stored_size, sealed_len(300, FRAME));
    assert_eq!(listed[2].stored_size, sealed_len(size, FRAME));

    // The emulator holds only sealed bytes: read raw through the store.
    for (blob, _) in &blobs {
        let raw = backend
            .store()
            .get(&StorePath::from(blob.as_str()))
            .await
            .expect("raw get")
            .bytes()
            .await
            .expect("raw body");
        assert!(raw.starts_with(b"STRS"), "{blob}: sealed header");
        assert!(
            !contains(&raw, MARKER),
            "{blob}: plaintext reached the store"
        );
        assert!(!contains(&raw, &MARKER[..12]), "{blob}: plaintext fragment");
    }

    if multipart {
        // More than one WRITE_CHUNK_SIZE part: a multipart upload.
        let big = plaintext(WRITE_CHUNK_SIZE + (1 << 20), 3);
        let blob = format!("{prefix}/blobs/03/big");
        put(backend, &blob, &big)
            .await
            .unwrap_or_else(|e| panic!("{}: multipart put: {e}", backend.name()));
        let size = big.len() as u64;
        let tail = size - 70_000..size;
        let got = get(backend, &blob, size, tail.clone())
            .await
            .expect("big tail");
        assert_eq!(got, &big[tail.start as usize..]);
        let got = get(backend, &blob, size, 0..size).await.expect("big whole");
        assert!(got == big, "multipart blob differs");
        let raw = backend.read_raw(&blob).await.expect("raw big");
        assert!(!contains(&raw, MARKER), "plaintext in multipart blob");
        backend.delete(&blob).await.expect("delete big");
    } else {
        let big = plaintext(WRITE_CHUNK_SIZE + (1 << 20), 3);
        let blob = format!("{prefix}/blobs/03/big");
        let err = put(backend, &blob, &big)
            .await
            .expect_err("this emulator has no multipart upload");
        println!(
            "{}: multipart write fails as expected: {err}",
            backend.name()
        );
        assert!(matches!(err, BackendError::Store { .. }), "{err:?}");
        assert!(!backend.exists(&blob).await.expect("exists"));
    }

    // Delete: gone from reads and lists; deleting again is fine.
    for (blob, _) in &blobs {
        backend.delete(blob).await.expect("delete");
        assert!(!backend.exists(blob).await.expect("exists"), "{blob}");
        backend.delete(blob).await.expect("delete missing");
    }
    let err = get(backend, &blobs[1].0, 300, 0..300)
        .await
        .expect_err("deleted");
    assert!(matches!(err, BackendError::NotFound { .. }), "{err:?}");
    let left: Vec<BlobInfo> = backend.list(&prefix).try_collect().await.expect("list");
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[tokio::test]
async fn moto_s3_round_trips_sealed_blobs() {
    let Some(endpoint) = emulator("STRATA_EMU_S3") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = StoreSpec::S3(S3Spec {
        endpoint: Some(endpoint),
        bucket: BUCKET.into(),
        region: "us-east-1".into(),
        access_key_env: "STRATA_EMU_S3_KEY".into(),
        secret_key_env: "STRATA_EMU_S3_SECRET".into(),
        session_token_env: None,
        allow_http: true,
        storage_class: Some("STANDARD_IA".into()),
    });
    let backend = open("moto", "aws-s3-standard-ia", &spec, dir.path());
    exercise(&backend, true).await;
}

fn azurite_spec(endpoint: String, key_env: &str) -> StoreSpec {
    StoreSpec::Azure(AzureSpec {
        endpoint: Some(endpoint),
        account: "devstoreaccount1".into(),
        container: BUCKET.into(),
        access_key_env: key_env.into(),
        allow_http: true,
        storage_class: Some("Cool".into()),
    })
}

#[tokio::test]
async fn azurite_round_trips_sealed_blobs() {
    let Some(endpoint) = emulator("STRATA_EMU_AZURE") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = azurite_spec(endpoint, "STRATA_EMU_AZURE_KEY");
    let backend = open("azurite", "azure-cool", &spec, dir.path());
    exercise(&backend, true).await;
}

#[tokio::test]
async fn azurite_rejects_a_wrong_key_without_retrying() {
    let Some(endpoint) = emulator("STRATA_EMU_AZURE") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    // A well-formed key that is not the account's: Azurite checks the
    // SharedKey signature.
    let wrong = "STRATA_TEST_WRONG_AZURE_KEY";
    let spec = azurite_spec(endpoint, wrong);
    let err = Backend::open(
        "azurite-bad",
        preset("azure-hot").expect("preset"),
        &spec,
        dir.path(),
        &dir.path().join("k.json"),
    )
    .expect_err("variable unset");
    assert!(
        matches!(&err, BackendError::MissingEnv { var, .. } if var == wrong),
        "{err:?}"
    );
    let store = backends::build_store_with_env("azurite-bad", &spec, dir.path(), &|var| {
        (var == wrong).then(|| "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktd3Jvbmc=".to_string())
    })
    .expect("store");
    let retried = RetryStore::new(store, "azurite-bad", RetryPolicy::default());
    let stats = Arc::clone(retried.stats());
    let err = retried
        .head(&StorePath::from("anything"))
        .await
        .expect_err("bad signature");
    println!("wrong key: {err}");
    assert!(
        !matches!(err, object_store::Error::NotFound { .. }),
        "a bad signature must not read as a missing blob: {err:?}"
    );
    assert_eq!(stats.retries(), 0, "auth failures are not retried");
}

#[tokio::test]
async fn fake_gcs_round_trips_sealed_blobs() {
    let Some(endpoint) = emulator("STRATA_EMU_GCS") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = StoreSpec::Gcs(GcsSpec {
        endpoint: Some(endpoint),
        bucket: BUCKET.into(),
        service_account_env: None,
        anonymous: true,
        allow_http: true,
        storage_class: Some("NEARLINE".into()),
    });
    let backend = open("fake-gcs", "gcs-nearline", &spec, dir.path());
    // fake-gcs-server has no XML multipart upload.
    exercise(&backend, false).await;
}

#[tokio::test]
async fn every_preset_storage_class_is_accepted_on_writes() {
    // The class names the presets use, sent as x-amz-storage-class,
    // x-ms-access-tier and x-goog-storage-class.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut specs = Vec::new();
    if let Some(endpoint) = emulator("STRATA_EMU_S3") {
        for tier in [
            "aws-s3-standard",
            "aws-s3-standard-ia",
            "aws-s3-glacier-ir",
            "aws-s3-intelligent-tiering",
        ] {
            specs.push((
                tier,
                StoreSpec::S3(S3Spec {
                    endpoint: Some(endpoint.clone()),
                    bucket: BUCKET.into(),
                    region: "us-east-1".into(),
                    access_key_env: "STRATA_EMU_S3_KEY".into(),
                    secret_key_env: "STRATA_EMU_S3_SECRET".into(),
                    session_token_env: None,
                    allow_http: true,
                    storage_class: None,
                }),
            ));
        }
    }
    if let Some(endpoint) = emulator("STRATA_EMU_AZURE") {
        for tier in ["azure-hot", "azure-cool", "azure-cold"] {
            specs.push((tier, azurite_spec(endpoint.clone(), "STRATA_EMU_AZURE_KEY")));
        }
    }
    if let Some(endpoint) = emulator("STRATA_EMU_GCS") {
        for tier in ["gcs-standard", "gcs-nearline", "gcs-coldline"] {
            specs.push((
                tier,
                StoreSpec::Gcs(GcsSpec {
                    endpoint: Some(endpoint.clone()),
                    bucket: BUCKET.into(),
                    service_account_env: None,
                    anonymous: true,
                    allow_http: true,
                    storage_class: None,
                }),
            ));
        }
    }
    for (tier, mut spec) in specs {
        let class = preset(tier).expect("preset").storage_class;
        match &mut spec {
            StoreSpec::S3(s) => s.storage_class = Some(class.clone()),
            StoreSpec::Azure(a) => a.storage_class = Some(class.clone()),
            StoreSpec::Gcs(g) => g.storage_class = Some(class.clone()),
            StoreSpec::Local(_) => unreachable!("no local specs here"),
        }
        let backend = open(tier, tier, &spec, dir.path());
        let blob = format!("t-{}/class", uuid::Uuid::new_v4().simple());
        put(&backend, &blob, b"classed")
            .await
            .unwrap_or_else(|e| panic!("{tier} ({class}): {e}"));
        backend.delete(&blob).await.expect("delete");
    }
}
