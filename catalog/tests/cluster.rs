//! What several gateway nodes rely on: leases (one holder at a time), heartbeats, and writers racing on the
//! same keys from several handles (with PostgreSQL: two catalogs on one database, as two nodes have).

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use catalog::{Catalog, CatalogConfig, NewObjectsAdvice, NodeRecord};
use common::*;

#[test]
fn a_lease_has_one_holder_until_it_expires_or_is_released() {
    let (_dir, cat) = open_temp();
    assert_eq!(cat.lease("leader").unwrap(), None);
    let a = cat
        .acquire_lease("leader", "node-a", 60_000)
        .unwrap()
        .expect("free lease");
    assert_eq!((a.name.as_str(), a.holder.as_str()), ("leader", "node-a"));
    assert!(
        cat.acquire_lease("leader", "node-b", 60_000)
            .unwrap()
            .is_none()
    );
    // Renewal by the holder extends it.
    let renewed = cat
        .acquire_lease("leader", "node-a", 120_000)
        .unwrap()
        .expect("renewal");
    assert!(renewed.expires_ms > a.expires_ms);
    assert_eq!(cat.lease("leader").unwrap().unwrap().holder, "node-a");
    // Another name is another lease.
    assert!(
        cat.acquire_lease("other", "node-b", 60_000)
            .unwrap()
            .is_some()
    );
    // Releasing someone else's lease does nothing; the holder's release frees it.
    cat.release_lease("leader", "node-b").unwrap();
    assert!(
        cat.acquire_lease("leader", "node-b", 60_000)
            .unwrap()
            .is_none()
    );
    cat.release_lease("leader", "node-a").unwrap();
    assert_eq!(cat.lease("leader").unwrap(), None);
    assert!(
        cat.acquire_lease("leader", "node-b", 60_000)
            .unwrap()
            .is_some()
    );
    // An expired lease goes to the next taker.
    assert!(cat.acquire_lease("short", "node-a", 1).unwrap().is_some());
    std::thread::sleep(std::time::Duration::from_millis(20));
    let taken = cat
        .acquire_lease("short", "node-b", 60_000)
        .unwrap()
        .expect("expired lease");
    assert_eq!(taken.holder, "node-b");
}

#[test]
fn heartbeats_are_stamped_by_the_catalog_and_listed_by_node() {
    let (_dir, cat) = open_temp();
    let node = |id: &str| NodeRecord {
        node: id.to_owned(),
        started_ms: 5,
        heartbeat_ms: 0,
        s3_addr: "127.0.0.1:9000".into(),
        version: "test".into(),
        queued_access_events: 3,
        new_objects: (id == "b").then(|| NewObjectsAdvice {
            backend: Some("it".into()),
            min_bytes: Some(1 << 20),
        }),
        reads_as_of_ms: 7,
        oldest_read_ms: (id == "a").then_some(6),
    };
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let b = cat.heartbeat(node("b")).unwrap();
    cat.heartbeat(node("a")).unwrap();
    let again = cat.heartbeat(node("b")).unwrap();
    assert!(b.heartbeat_ms >= before - 5_000, "{b:?}");
    assert!(again.heartbeat_ms >= b.heartbeat_ms);
    let (nodes, now) = cat.nodes().unwrap();
    assert_eq!(
        nodes.iter().map(|n| n.node.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    assert_eq!(nodes[1], again);
    // What a node publishes comes back as it was: the leader's new-object advice, or none.
    assert_eq!(
        nodes[1].new_objects.as_ref().and_then(|a| a.min_bytes),
        Some(1 << 20)
    );
    assert_eq!(nodes[0].new_objects, None);
    // And the reads it was streaming.
    assert_eq!(
        (nodes[0].reads_as_of_ms, nodes[0].oldest_read_ms),
        (7, Some(6))
    );
    assert_eq!(nodes[1].oldest_read_ms, None);
    assert!(now >= again.heartbeat_ms);
}

/// Two handles on one catalog when the implementation allows it (PostgreSQL), else one handle shared.
fn two_handles(dir: &tempfile::TempDir, first: Box<dyn Catalog>) -> [Arc<dyn Catalog>; 2] {
    let first: Arc<dyn Catalog> = Arc::from(first);
    if std::env::var(PG_URL_VAR).is_ok_and(|u| !u.is_empty()) {
        let second: Arc<dyn Catalog> =
            Arc::from(open_at(dir, CatalogConfig::default()).expect("second handle"));
        [first, second]
    } else {
        [first.clone(), first]
    }
}

#[test]
fn racing_writers_on_two_handles_lose_no_blob_and_keep_generations_unique() {
    let (dir, cat) = open_temp();
    cat.create_bucket("b", 0).unwrap();
    let handles = two_handles(&dir, cat);
    const WRITERS: usize = 6;
    const PUTS: usize = 25;
    let threads: Vec<_> = (0..WRITERS)
        .map(|w| {
            let cat = handles[w % 2].clone();
            std::thread::spawn(move || {
                let mut generations = Vec::new();
                for i in 0..PUTS {
                    // Three hot keys shared by every writer, so transactions conflict.
                    let key = format!("k{}", i % 3);
                    let blob = format!("blob-{w}-{i}");
                    let out = cat.put_object("b", &key, simple(&blob)).expect("put");
                    generations.push(out.generation);
                    if i % 5 == 0 {
                        let rec = cat.get_object("b", &key).unwrap().expect("object");
                        // A replica swap may lose its CAS to a racing put; it must never fail otherwise.
                        cat.swap_replicas("b", &key, rec.generation, vec!["b1".into()])
                            .expect("swap");
                    }
                }
                generations
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in threads {
        all.extend(t.join().expect("writer"));
    }
    let unique: BTreeSet<_> = all.iter().copied().collect();
    assert_eq!(unique.len(), WRITERS * PUTS, "generations must be unique");

    // Every blob ever written is either the current version of its key or waits in the garbage table.
    let cat = &handles[1];
    let mut live = BTreeSet::new();
    for key in ["k0", "k1", "k2"] {
        let rec = cat.get_object("b", key).unwrap().expect("object");
        live.insert(rec.parts[0].blob.clone());
    }
    let garbage: BTreeSet<String> = garbage_pairs(&**cat).into_iter().map(|(_, b)| b).collect();
    for w in 0..WRITERS {
        for i in 0..PUTS {
            let blob = format!("blob-{w}-{i}");
            assert!(
                live.contains(&blob) ^ garbage.contains(&blob),
                "{blob}: live {} garbage {}",
                live.contains(&blob),
                garbage.contains(&blob)
            );
        }
    }
    assert_eq!(cat.object_count("b").unwrap(), 3);
}

#[test]
fn one_lease_holder_among_racing_takers() {
    let (dir, cat) = open_temp();
    let handles = two_handles(&dir, cat);
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let cat = handles[i % 2].clone();
            std::thread::spawn(move || {
                cat.acquire_lease("leader", &format!("node-{i}"), 60_000)
                    .expect("acquire")
                    .is_some()
            })
        })
        .collect();
    let winners = threads
        .into_iter()
        .filter_map(|t| t.join().expect("taker").then_some(()))
        .count();
    assert_eq!(winners, 1);
}

#[test]
fn secrets_are_compare_and_swapped() {
    let (_dir, cat) = open_temp();
    assert_eq!(cat.secret("keyring/hot").unwrap(), None);
    assert!(cat.swap_secret("keyring/hot", None, b"one").unwrap());
    // A second creator loses and changes nothing.
    assert!(!cat.swap_secret("keyring/hot", None, b"other").unwrap());
    assert_eq!(
        cat.secret("keyring/hot").unwrap().as_deref(),
        Some(&b"one"[..])
    );
    assert!(
        !cat.swap_secret("keyring/hot", Some(b"stale"), b"two")
            .unwrap()
    );
    assert!(
        cat.swap_secret("keyring/hot", Some(b"one"), b"two")
            .unwrap()
    );
    assert_eq!(
        cat.secret("keyring/hot").unwrap().as_deref(),
        Some(&b"two"[..])
    );
    assert_eq!(cat.secret("credentials").unwrap(), None);
}
