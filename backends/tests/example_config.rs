//! `examples/multicloud.toml` stays valid: its backends parse as
//! `StoreSpec`s flattened next to `name` and `tier` (the shape the gateway
//! embeds), every tier is a price-table preset, the placement names known
//! backends of distinct providers, and every store builds. When the
//! emulators run on the example's ports (`STRATA_EMU_S3_PORT=9010
//! STRATA_EMU_AZURE_PORT=9011 STRATA_EMU_GCS_PORT=9012 scripts/emulators.sh
//! start`, env file exported) each backend also round-trips a sealed blob.

use std::collections::HashSet;
use std::path::PathBuf;

use backends::{Backend, StoreSpec, preset};
use bytes::Bytes;
use futures::TryStreamExt;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Decl {
    name: String,
    tier: String,
    #[serde(flatten)]
    spec: StoreSpec,
}

#[derive(Debug, Deserialize)]
struct Placement {
    replication_factor: usize,
    provider_diversity: bool,
    initial: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Example {
    backends: Vec<Decl>,
    placement: Placement,
}

fn example() -> Example {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/multicloud.toml");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    toml::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

/// Credentials the example names, as the emulators' env file sets them.
fn emulator_env(var: &str) -> Option<String> {
    match var {
        "STRATA_EMU_S3_KEY" | "STRATA_EMU_S3_SECRET" => Some("emulator".into()),
        "STRATA_EMU_AZURE_KEY" => Some(
            "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
                .into(),
        ),
        _ => None,
    }
}

#[test]
fn example_parses_and_every_store_builds() {
    let ex = example();
    assert!(ex.backends.len() >= 3);
    let kinds: HashSet<&str> = ex.backends.iter().map(|b| b.spec.kind()).collect();
    for kind in ["s3", "azure", "gcs"] {
        assert!(kinds.contains(kind), "example lacks a {kind} backend");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    for b in &ex.backends {
        let profile =
            preset(&b.tier).unwrap_or_else(|| panic!("{}: unknown tier {}", b.name, b.tier));
        backends::build_store_with_env(&b.name, &b.spec, dir.path(), &emulator_env)
            .unwrap_or_else(|e| panic!("{}: {e}", b.name));
        assert!(!profile.provider.is_empty());
    }
    let names: HashSet<&str> = ex.backends.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names.len(), ex.backends.len(), "backend names are unique");
    assert_eq!(ex.placement.replication_factor, 2);
    assert!(ex.placement.provider_diversity);
    assert_eq!(ex.placement.initial.len(), ex.placement.replication_factor);
    let providers: HashSet<String> = ex
        .placement
        .initial
        .iter()
        .map(|n| {
            let b = ex
                .backends
                .iter()
                .find(|b| &b.name == n)
                .unwrap_or_else(|| panic!("placement names unknown backend {n}"));
            preset(&b.tier).expect("tier").provider
        })
        .collect();
    assert_eq!(
        providers.len(),
        ex.placement.initial.len(),
        "distinct providers"
    );
}

#[tokio::test]
async fn example_round_trips_when_emulators_use_its_ports() {
    let want = [
        ("STRATA_EMU_S3", "http://127.0.0.1:9010"),
        ("STRATA_EMU_AZURE", "http://127.0.0.1:9011/devstoreaccount1"),
        ("STRATA_EMU_GCS", "http://127.0.0.1:9012"),
    ];
    if want
        .iter()
        .any(|(var, url)| std::env::var(var).as_deref() != Ok(*url))
    {
        println!("SKIPPED: the emulators are not on the example's ports 9010-9012");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let data = b"multicloud example".repeat(1000);
    for b in example().backends {
        let backend = Backend::open(
            &b.name,
            preset(&b.tier).expect("tier"),
            &b.spec,
            dir.path(),
            &dir.path().join(format!("{}.json", b.name)),
        )
        .unwrap_or_else(|e| panic!("{}: {e}", b.name));
        let blob = format!("example-{}/blob", uuid::Uuid::new_v4().simple());
        let mut w = backend.writer(&blob).await.expect("writer");
        w.write(Bytes::from(data.clone())).await.expect("write");
        w.finish()
            .await
            .unwrap_or_else(|e| panic!("{}: finish: {e}", b.name));
        let got: Vec<Bytes> = backend
            .read(&blob, data.len() as u64, 0..data.len() as u64)
            .await
            .expect("read")
            .try_collect()
            .await
            .expect("stream");
        assert_eq!(got.concat(), data, "{}", b.name);
        backend.delete(&blob).await.expect("delete");
    }
}
