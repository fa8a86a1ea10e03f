//! Conditional writes (`WriteCondition`): checked in the commit's own transaction, so a failed condition
//! changes nothing and two racing conditional writers cannot both win.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};

use catalog::{CatalogError, WriteCondition};
use common::*;

fn with_etag(blob: &str, etag: &str) -> catalog::NewObject {
    let mut o = simple(blob);
    o.etag = etag.to_owned();
    o
}

#[test]
fn each_condition_holds_or_fails_without_a_trace() {
    let (_dir, cat) = open_temp();
    cat.create_bucket("b", 0).unwrap();

    // On a missing key: only "absent" and "always" hold; If-Match is a 404.
    for cond in [WriteCondition::Present, WriteCondition::ETagIs("e1".into())] {
        assert!(matches!(
            cat.put_object_if("b", "k", simple("never"), &cond),
            Err(CatalogError::NoSuchKey { .. })
        ));
    }
    assert_eq!(cat.get_object("b", "k").unwrap(), None);
    let first = cat
        .put_object_if("b", "k", with_etag("v1", "e1"), &WriteCondition::Absent)
        .unwrap();
    assert_eq!(first.replaced, None);

    // On an existing key: "absent" and a wrong ETag fail and change nothing.
    for cond in [
        WriteCondition::Absent,
        WriteCondition::ETagIs("other".into()),
        WriteCondition::ETagIsNot("e1".into()),
    ] {
        assert!(matches!(
            cat.put_object_if("b", "k", with_etag("loser", "e9"), &cond),
            Err(CatalogError::PreconditionFailed { bucket, key }) if bucket == "b" && key == "k"
        ));
    }
    let current = cat.get_object("b", "k").unwrap().unwrap();
    assert_eq!(
        (current.generation, current.etag.as_str()),
        (first.generation, "e1")
    );
    assert!(
        garbage_pairs(&*cat).is_empty(),
        "a failed write left garbage"
    );

    // The right ETag, then "present", replace it.
    let second = cat
        .put_object_if(
            "b",
            "k",
            with_etag("v2", "e2"),
            &WriteCondition::ETagIs("e1".into()),
        )
        .unwrap();
    assert_eq!(second.replaced.unwrap().etag, "e1");
    cat.put_object_if("b", "k", with_etag("v3", "e3"), &WriteCondition::Present)
        .unwrap();
    assert_eq!(cat.get_object("b", "k").unwrap().unwrap().etag, "e3");
    assert_eq!(garbage_pairs(&*cat), pairs(&[("b1", "v1"), ("b1", "v2")]));
}

#[test]
fn racing_create_only_writers_have_exactly_one_winner() {
    let (_dir, cat) = open_temp();
    cat.create_bucket("b", 0).unwrap();
    let cat: &dyn catalog::Catalog = &*cat;
    for round in 0..5 {
        let key = format!("k{round}");
        let wins = AtomicUsize::new(0);
        let refused = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for w in 0..6 {
                let (key, wins, refused) = (&key, &wins, &refused);
                s.spawn(move || {
                    match cat.put_object_if(
                        "b",
                        key,
                        with_etag(&format!("{key}-w{w}"), &format!("w{w}")),
                        &WriteCondition::Absent,
                    ) {
                        Ok(_) => wins.fetch_add(1, Ordering::SeqCst),
                        Err(CatalogError::PreconditionFailed { .. }) => {
                            refused.fetch_add(1, Ordering::SeqCst)
                        }
                        Err(e) => panic!("unexpected error: {e}"),
                    };
                });
            }
        });
        assert_eq!(wins.load(Ordering::SeqCst), 1, "round {round}");
        assert_eq!(refused.load(Ordering::SeqCst), 5, "round {round}");
    }
    // No winner's version was replaced: nothing went to garbage.
    assert!(garbage_pairs(cat).is_empty());
}

#[test]
fn a_completion_whose_condition_fails_keeps_the_upload_open() {
    let (_dir, cat) = open_temp();
    cat.create_bucket("b", 0).unwrap();
    cat.put_object("b", "big", with_etag("old", "e-old"))
        .unwrap();
    cat.create_upload(upload("u1", "b", "big", 1, &["b1"]))
        .unwrap();
    cat.put_part("u1", part_record(1, "p1")).unwrap();
    let mut obj = object(&["p1"], &["b1"]);
    obj.etag = "e-new".into();

    assert!(matches!(
        cat.complete_upload_if("u1", obj.clone(), &WriteCondition::Absent),
        Err(CatalogError::PreconditionFailed { .. })
    ));
    assert!(cat.upload("u1").unwrap().is_some(), "the upload was closed");
    assert_eq!(cat.list_parts("u1").unwrap().len(), 1);
    assert_eq!(cat.get_object("b", "big").unwrap().unwrap().etag, "e-old");
    assert!(garbage_pairs(&*cat).is_empty());

    cat.complete_upload_if("u1", obj, &WriteCondition::ETagIs("e-old".into()))
        .unwrap();
    assert_eq!(cat.get_object("b", "big").unwrap().unwrap().etag, "e-new");
    assert!(cat.upload("u1").unwrap().is_none());
}
