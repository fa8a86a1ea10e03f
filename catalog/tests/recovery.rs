//! Reopening, garbage handling and orphan-collection support.

mod common;

use catalog::{AccessEvent, AccessKind};
use common::*;

#[test]
fn reopening_keeps_everything_committed() {
    let (dir, cat) = open_temp();
    let generation;
    {
        cat.create_bucket("b", 42).unwrap();
        cat.put_object("b", "old", simple("old-blob")).unwrap();
        generation = cat
            .put_object("b", "old", simple("new-blob"))
            .unwrap()
            .generation;
        cat.create_upload(upload("u", "b", "mp", 7, &["x"]))
            .unwrap();
        cat.put_part("u", part_record(1, "part-blob")).unwrap();
        cat.record_accesses(&[AccessEvent {
            bucket: "b".into(),
            key: "old".into(),
            kind: AccessKind::Get,
            bytes: 1,
            at_ms: 9,
        }])
        .unwrap();
        // A durable commit after the non-durable access batch persists it.
        cat.create_bucket("c", 43).unwrap();
        drop(cat);
    }
    let cat = reopen(&dir);
    assert_eq!(cat.bucket("b").unwrap().unwrap().created_ms, 42);
    assert!(cat.bucket("c").unwrap().is_some());
    let obj = cat.get_object("b", "old").unwrap().unwrap();
    assert_eq!(
        (obj.generation, obj.parts[0].blob.as_str()),
        (generation, "new-blob")
    );
    assert_eq!(cat.upload("u").unwrap().unwrap().key, "mp");
    assert_eq!(cat.list_parts("u").unwrap()[0].blob, "part-blob");
    assert_eq!(garbage_pairs(&*cat), pairs(&[("b1", "old-blob")]));
    assert_eq!(cat.stats("b", "old").unwrap().unwrap().reads, 1);
    assert_eq!(cat.access_log_len().unwrap(), 1);
    // The generation counter continues after a reopen.
    assert!(cat.put_object("b", "next", simple("n")).unwrap().generation > generation);
}

#[test]
fn garbage_is_oldest_first_and_removable() {
    let (_dir, cat) = open_temp();
    cat.create_bucket("b", 0).unwrap();
    cat.put_object("b", "k1", object(&["a"], &["x", "y"]))
        .unwrap();
    cat.put_object("b", "k2", simple("c")).unwrap();
    cat.delete_object("b", "k1").unwrap();
    cat.delete_object("b", "k2").unwrap();

    let all = cat.garbage(10).unwrap();
    assert_eq!(all.len(), 3);
    assert!(all.windows(2).all(|w| w[0].since_ms <= w[1].since_ms));
    assert_eq!(cat.garbage(2).unwrap().len(), 2);

    cat.remove_garbage(&all[..2]).unwrap();
    let left = cat.garbage(10).unwrap();
    assert_eq!(left, all[2..]);
    cat.remove_garbage(&left).unwrap();
    assert!(cat.garbage(10).unwrap().is_empty());
    // Removing unknown items is a no-op.
    cat.remove_garbage(&left).unwrap();
}

#[test]
fn referenced_blobs_cover_objects_parts_and_garbage() {
    let (_dir, cat) = open_temp();
    cat.create_bucket("b", 0).unwrap();
    cat.put_object("b", "live", object(&["o1", "o2"], &["x", "y"]))
        .unwrap();
    cat.put_object("b", "dead", simple("g1")).unwrap();
    cat.delete_object("b", "dead").unwrap();
    cat.create_upload(upload("u", "b", "mp", 1, &["y", "z"]))
        .unwrap();
    cat.put_part("u", part_record(1, "p1")).unwrap();

    let mut got: Vec<_> = cat.referenced_blobs().unwrap().into_iter().collect();
    got.sort();
    assert_eq!(
        got,
        pairs(&[
            ("x", "o1"),
            ("x", "o2"),
            ("y", "o1"),
            ("y", "o2"),
            ("b1", "g1"),
            ("y", "p1"),
            ("z", "p1"),
        ])
    );
}
