//! Key rotation against the real binary: rotate `hot`'s key through the admin API while clients keep reading and
//! writing, wait for the background re-seal to finish, and check every blob on disk, every object and new writes.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use aws_sdk_s3::primitives::ByteStream;
use common::{Gateway, blob_files, json, wait_for};
use serde_json::Value;

const BUCKET: &str = "keys";

fn data(len: usize, seed: u32) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) as u8 ^ (i >> 11) as u8)
        .collect()
}

async fn put(c: &aws_sdk_s3::Client, key: &str, body: &[u8]) -> Result<(), String> {
    c.put_object()
        .bucket(BUCKET)
        .key(key)
        .body(ByteStream::from(body.to_vec()))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| format!("put {key}: {e:?}"))
}

async fn get(c: &aws_sdk_s3::Client, key: &str) -> Result<Vec<u8>, String> {
    let out = c
        .get_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .map_err(|e| format!("get {key}: {e:?}"))?;
    out.body
        .collect()
        .await
        .map(|b| b.into_bytes().to_vec())
        .map_err(|e| format!("get {key} body: {e:?}"))
}

/// Sealed blob files of one local backend (no staging files).
fn backend_blobs(g: &Gateway, backend: &str) -> BTreeSet<PathBuf> {
    let root = g.data_dir().join("backends").join(backend);
    blob_files(&g.data_dir())
        .into_iter()
        .filter(|p| p.starts_with(&root))
        .collect()
}

/// The key id in a sealed blob's header (bytes 12..16, little endian).
fn header_key_id(path: &Path) -> u32 {
    let raw = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    assert!(raw.len() >= 16, "{} is {} bytes", path.display(), raw.len());
    assert_eq!(
        &raw[..4],
        b"STRS",
        "{} is not a sealed blob",
        path.display()
    );
    u32::from_le_bytes([raw[12], raw[13], raw[14], raw[15]])
}

fn keys(g: &Gateway) -> Value {
    let (status, body) = g.admin_get("/admin/keys").expect("admin answers");
    assert_eq!(status, 200, "{body}");
    json(&body)
}

fn backend_keys<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["backends"]
        .as_array()
        .and_then(|a| a.iter().find(|b| b["name"] == name))
        .unwrap_or_else(|| panic!("no backend {name} in {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rotation_reseals_every_blob_while_reads_and_writes_go_on() {
    let g = Arc::new(Gateway::start());
    let c = g.client();
    c.create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .expect("create bucket");

    // Small objects, multi-frame ones and one whose sealed size needs a multipart write.
    let mut objects: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for i in 0..80u32 {
        let len = match i % 10 {
            0 => (1 << 20) + 4097,
            1 => 0,
            n => 300 * n as usize * (i as usize + 1),
        };
        objects.insert(format!("old/{i:03}"), data(len, i));
    }
    objects.insert("old/big".into(), data(9 << 20, 999));
    for (k, v) in &objects {
        put(&c, k, v).await.expect("put");
    }

    let before = keys(&g);
    let old_id = backend_keys(&before, "hot")["active_key_id"]
        .as_u64()
        .expect("active key id");
    assert_eq!(
        backend_keys(&before, "hot")["key_ids"],
        serde_json::json!([old_id])
    );
    assert_eq!(
        before["reseal"]["backends"]["hot"]["complete"], true,
        "{before}"
    );
    for p in backend_blobs(&g, "hot") {
        assert_eq!(u64::from(header_key_id(&p)), old_id);
    }

    let (status, body) = g
        .admin_request("POST", "/admin/keys/rotate", r#"{"backend": "hot"}"#)
        .expect("admin answers");
    assert_eq!(status, 200, "{body}");
    let rotated = json(&body);
    assert_eq!(rotated["backend"], "hot");
    let new_id = rotated["active_key_id"].as_u64().expect("new key id");
    assert_ne!(new_id, old_id);
    let (status, body) = g
        .admin_request("POST", "/admin/keys/rotate", r#"{"backend": "nowhere"}"#)
        .expect("admin answers");
    assert!((400..500).contains(&status), "{status} {body}");

    // Clients keep going while the resealer works: readers check every old object, writers add new ones.
    let stop = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for r in 0..3usize {
        let (c, stop, objects) = (c.clone(), stop.clone(), objects.clone());
        readers.push(tokio::spawn(async move {
            let mut n = 0u64;
            let keys: Vec<&String> = objects.keys().collect();
            let mut i = r * 7;
            while !stop.load(Ordering::Relaxed) {
                let k = keys[i % keys.len()];
                let got = get(&c, k).await?;
                if &got != objects.get(k).expect("known key") {
                    return Err(format!("{k}: content differs during the re-seal"));
                }
                n += 1;
                i += 1;
            }
            Ok::<u64, String>(n)
        }));
    }
    let mut writers = Vec::new();
    for w in 0..2u32 {
        let (c, stop) = (c.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let mut written = BTreeMap::new();
            let mut i = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let key = format!("new/{w}/{i:04}");
                let body = data(1000 + 3000 * (i as usize % 7), 10_000 + w * 1000 + i);
                put(&c, &key, &body).await?;
                written.insert(key, body);
                i += 1;
            }
            Ok::<BTreeMap<String, Vec<u8>>, String>(written)
        }));
    }

    let waiter = g.clone();
    let status = tokio::task::spawn_blocking(move || {
        wait_for(180, "hot to be re-sealed", || {
            let v = keys(&waiter);
            let hot = &v["reseal"]["backends"]["hot"];
            (hot["complete"] == true
                && hot["blobs_pending_estimate"] == 0
                && hot["active_key_id"] == new_id)
                .then_some(v)
        })
    })
    .await
    .expect("waiter");
    stop.store(true, Ordering::Relaxed);
    let mut reads = 0;
    for r in readers {
        reads += r
            .await
            .expect("reader task")
            .expect("reads during the re-seal");
    }
    let mut written = BTreeMap::new();
    for w in writers {
        written.extend(
            w.await
                .expect("writer task")
                .expect("writes during the re-seal"),
        );
    }
    assert!(
        reads > 0 && !written.is_empty(),
        "{reads} reads, {} writes",
        written.len()
    );

    let hot = &status["reseal"]["backends"]["hot"];
    assert!(
        hot["blobs_resealed"].as_u64().unwrap_or(0) >= objects.len() as u64,
        "{status}"
    );
    assert_eq!(hot["verified_key_id"], new_id);
    assert_eq!(
        backend_keys(&status, "hot")["key_ids"],
        serde_json::json!([old_id, new_id])
    );
    assert_eq!(backend_keys(&status, "hot")["active_key_id"], new_id);
    for other in ["warm", "cold"] {
        assert_eq!(
            status["reseal"]["backends"][other]["complete"], true,
            "{status}"
        );
        assert_eq!(
            backend_keys(&status, other)["key_ids"]
                .as_array()
                .map(Vec::len),
            Some(1)
        );
    }

    // Every blob on hot carries the new key; every object, old and new, reads back byte for byte.
    let files = backend_blobs(&g, "hot");
    assert_eq!(
        files.len(),
        objects.len() + written.len(),
        "one blob per object"
    );
    for p in &files {
        assert_eq!(u64::from(header_key_id(p)), new_id, "{}", p.display());
    }
    for (k, v) in objects.iter().chain(written.iter()) {
        assert_eq!(&get(&c, k).await.expect("get"), v, "{k}");
    }

    // A write after the re-seal is sealed with the new key too.
    let body = data(5000, 77);
    put(&c, "after", &body).await.expect("put");
    let added: Vec<PathBuf> = backend_blobs(&g, "hot")
        .difference(&files)
        .cloned()
        .collect();
    assert_eq!(added.len(), 1, "{added:?}");
    assert_eq!(u64::from(header_key_id(&added[0])), new_id);
    assert_eq!(get(&c, "after").await.expect("get"), body);
}
