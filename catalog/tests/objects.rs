mod common;

use catalog::{AccessEvent, AccessKind, CatalogError};
use common::*;

#[test]
fn put_get_and_overwrite_assign_increasing_generations_and_garbage_old_blobs() {
    let (_dir, cat) = open_temp();
    cat.create_bucket("b", 0).unwrap();
    cat.create_bucket("c", 0).unwrap();

    let first = cat
        .put_object("b", "k", object(&["old-1", "old-2"], &["x", "y"]))
        .unwrap();
    assert_eq!(first.replaced, None);
    assert!(garbage_pairs(&*cat).is_empty());

    let other = cat.put_object("c", "k", simple("c-blob")).unwrap();
    assert!(other.generation > first.generation);

    let second = cat
        .put_object("b", "k", object(&["new-1"], &["x"]))
        .unwrap();
    assert!(second.generation > other.generation);
    let replaced = second.replaced.expect("replaced version");
    assert_eq!(replaced.generation, first.generation);
    assert_eq!(replaced.replicas, ["x", "y"]);
    assert_eq!(
        garbage_pairs(&*cat),
        pairs(&[
            ("x", "old-1"),
            ("x", "old-2"),
            ("y", "old-1"),
            ("y", "old-2")
        ])
    );

    let current = cat.get_object("b", "k").unwrap().expect("object");
    assert_eq!(current.generation, second.generation);
    assert_eq!(current.parts[0].blob, "new-1");
    assert_eq!(cat.get_object("b", "missing").unwrap(), None);
    assert_eq!(cat.object_count("b").unwrap(), 1);
}

#[test]
fn overwrite_that_reuses_a_blob_does_not_garbage_it() {
    let (_dir, cat) = open_temp();
    cat.create_bucket("b", 0).unwrap();
    cat.put_object("b", "k", object(&["shared", "gone"], &["x", "y"]))
        .unwrap();
    // Same blob "shared", but only on x now.
    cat.put_object("b", "k", object(&["shared"], &["x"]))
        .unwrap();
    assert_eq!(
        garbage_pairs(&*cat),
        pairs(&[("x", "gone"), ("y", "gone"), ("y", "shared")])
    );
}

#[test]
fn put_into_missing_bucket_fails_without_side_effects() {
    let (_dir, cat) = open_temp();
    assert!(matches!(
        cat.put_object("nope", "k", simple("blob")),
        Err(CatalogError::NoSuchBucket(name)) if name == "nope"
    ));
    cat.create_bucket("b", 0).unwrap();
    // The failed put consumed no generation visible anywhere and left nothing behind.
    assert_eq!(cat.get_object("nope", "k").unwrap(), None);
    assert_eq!(
        cat.put_object("b", "k", simple("blob")).unwrap().generation,
        1
    );
}

#[test]
fn delete_returns_record_garbages_blobs_and_drops_stats() {
    let (_dir, cat) = open_temp();
    cat.create_bucket("b", 0).unwrap();
    cat.put_object("b", "k", object(&["p1", "p2"], &["x", "y"]))
        .unwrap();
    cat.record_accesses(&[AccessEvent {
        bucket: "b".into(),
        key: "k".into(),
        kind: AccessKind::Get,
        bytes: 20,
        at_ms: 5,
    }])
    .unwrap();
    assert!(cat.stats("b", "k").unwrap().is_some());

    let removed = cat.delete_object("b", "k").unwrap().expect("removed");
    assert_eq!(removed.parts.len(), 2);
    assert_eq!(cat.get_object("b", "k").unwrap(), None);
    assert_eq!(cat.stats("b", "k").unwrap(), None);
    assert_eq!(
        garbage_pairs(&*cat),
        pairs(&[("x", "p1"), ("x", "p2"), ("y", "p1"), ("y", "p2")])
    );
    assert_eq!(cat.delete_object("b", "k").unwrap(), None);
    assert_eq!(cat.object_count("b").unwrap(), 0);
}

#[test]
fn swap_replicas_is_a_compare_and_swap_on_generation() {
    let (_dir, cat) = open_temp();
    cat.create_bucket("b", 0).unwrap();
    let put = cat
        .put_object("b", "k", object(&["p1", "p2"], &["x", "y"]))
        .unwrap();

    // Stale generation: refused, nothing changes.
    assert!(
        !cat.swap_replicas("b", "k", put.generation + 100, vec!["z".into()])
            .unwrap()
    );
    assert_eq!(
        cat.get_object("b", "k").unwrap().unwrap().replicas,
        ["x", "y"]
    );
    assert!(garbage_pairs(&*cat).is_empty());

    // Success: y dropped (garbage), z added, generation bumped.
    assert!(
        cat.swap_replicas(
            "b",
            "k",
            put.generation,
            vec!["x".into(), "z".into(), "x".into()]
        )
        .unwrap()
    );
    let after = cat.get_object("b", "k").unwrap().unwrap();
    assert_eq!(after.replicas, ["x", "z"]);
    assert!(after.generation > put.generation);
    assert_eq!(garbage_pairs(&*cat), pairs(&[("y", "p1"), ("y", "p2")]));

    // A second mover still holding the old generation now fails.
    assert!(
        !cat.swap_replicas("b", "k", put.generation, vec!["y".into()])
            .unwrap()
    );
    // Gone object: false.
    assert!(
        !cat.swap_replicas("b", "missing", 1, vec!["x".into()])
            .unwrap()
    );
    // An empty set would drop every copy.
    assert!(matches!(
        cat.swap_replicas("b", "k", after.generation, vec![]),
        Err(CatalogError::InvalidArgument(_))
    ));
}

#[test]
fn scan_objects_pages_across_buckets_in_order() {
    let (_dir, cat) = open_temp();
    for bucket in ["a", "a-b", "b"] {
        cat.create_bucket(bucket, 0).unwrap();
    }
    let mut expected = Vec::new();
    for (bucket, key) in [
        ("a", "2"),
        ("a", "1"),
        ("a-b", "0"),
        ("b", "x/y"),
        ("b", "x"),
    ] {
        cat.put_object(bucket, key, simple(&format!("{bucket}:{key}")))
            .unwrap();
        expected.push((bucket.to_string(), key.to_string()));
    }
    expected.sort();

    let mut seen = Vec::new();
    let mut after: Option<(String, String)> = None;
    loop {
        let page = cat
            .scan_objects(after.as_ref().map(|(b, k)| (b.as_str(), k.as_str())), 2)
            .unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 2);
        for (bucket, key, record) in &page {
            assert_eq!(record.parts[0].blob, format!("{bucket}:{key}"));
            seen.push((bucket.clone(), key.clone()));
        }
        let (b, k, _) = page.last().unwrap();
        after = Some((b.clone(), k.clone()));
    }
    assert_eq!(seen, expected);
    // The summaries are the same versions in the same order, with the fields planning reads.
    let full = cat.scan_objects(None, 100).unwrap();
    let slim = cat.scan_summaries(Some(("a", "1")), 100).unwrap();
    assert_eq!(slim.len(), full.len() - 1);
    for ((b, k, r), (sb, sk, s)) in full[1..].iter().zip(&slim) {
        assert_eq!((b, k), (sb, sk));
        assert_eq!(s, &catalog::ObjectSummary::from(r.clone()));
    }
    assert_eq!(cat.object_count("a").unwrap(), 2);
    assert_eq!(cat.total_object_count().unwrap(), 5);
    assert!(matches!(
        cat.object_count("zzz"),
        Err(CatalogError::NoSuchBucket(_))
    ));
}

#[test]
fn metadata_updates_keep_generation_and_survive_a_move() {
    let (dir, cat) = open_temp();
    cat.create_bucket("b", 0).unwrap();
    let put = cat.put_object("b", "k", object(&["p"], &["x"])).unwrap();
    let updated = cat
        .update_object_meta("b", "k", &mut |m| {
            m.tags.insert("team".into(), "a".into());
        })
        .unwrap()
        .expect("object exists");
    assert_eq!(updated.generation, put.generation);
    assert_eq!(updated.meta.tags["team"], "a");
    // The mover's CAS on the unchanged generation succeeds and keeps the tags.
    assert!(
        cat.swap_replicas("b", "k", put.generation, vec!["y".into()])
            .unwrap()
    );
    assert_eq!(
        cat.update_object_meta("b", "missing", &mut |_| {}).unwrap(),
        None
    );
    assert!(matches!(
        cat.update_object_meta("nope", "k", &mut |_| {}),
        Err(CatalogError::NoSuchBucket(_))
    ));
    drop(cat);
    let rec = reopen(&dir).get_object("b", "k").unwrap().unwrap();
    assert_eq!(rec.replicas, ["y"]);
    assert_eq!(rec.meta.tags["team"], "a");
}

#[test]
fn bucket_updates_keep_name_and_records_without_tags_still_decode() {
    let (_dir, cat) = open_temp();
    cat.create_bucket("b", 7).unwrap();
    let rec = cat
        .update_bucket("b", &mut |b| {
            b.tags.insert("k".into(), "v".into());
            b.name = "renamed".into();
        })
        .unwrap();
    assert_eq!((rec.name.as_str(), rec.created_ms), ("b", 7));
    assert_eq!(cat.bucket("b").unwrap().unwrap().tags["k"], "v");
    assert!(matches!(
        cat.update_bucket("nope", &mut |_| {}),
        Err(CatalogError::NoSuchBucket(_))
    ));
    // Rows written before tags existed decode with none.
    let old: catalog::BucketRecord =
        serde_json::from_str(r#"{"name":"b","created_ms":1}"#).unwrap();
    assert!(old.tags.is_empty());
    let meta: catalog::ObjectMeta = serde_json::from_str(
        r#"{"content_type":null,"content_encoding":null,"content_disposition":null,"content_language":null,"cache_control":null,"expires":null,"user":{},"checksums":{}}"#,
    )
    .unwrap();
    assert!(meta.tags.is_empty());
}
