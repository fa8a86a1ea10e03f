mod common;

use catalog::CatalogError;
use common::*;

#[test]
fn bucket_lifecycle_and_errors() {
    let (_dir, cat) = open_temp();
    cat.create_bucket("zeta", 10).unwrap();
    cat.create_bucket("alpha", 20).unwrap();
    cat.create_bucket("alpha-2", 30).unwrap();

    assert!(matches!(
        cat.create_bucket("alpha", 99),
        Err(CatalogError::BucketExists(name)) if name == "alpha"
    ));
    let alpha = cat.bucket("alpha").unwrap().expect("alpha exists");
    assert_eq!((alpha.name.as_str(), alpha.created_ms), ("alpha", 20));
    assert_eq!(cat.bucket("missing").unwrap(), None);

    let names: Vec<_> = cat
        .list_buckets()
        .unwrap()
        .into_iter()
        .map(|b| b.name)
        .collect();
    assert_eq!(names, ["alpha", "alpha-2", "zeta"]);

    assert!(matches!(
        cat.delete_bucket("missing"),
        Err(CatalogError::NoSuchBucket(name)) if name == "missing"
    ));

    cat.put_object("alpha", "k", simple("blob-1")).unwrap();
    assert!(matches!(
        cat.delete_bucket("alpha"),
        Err(CatalogError::BucketNotEmpty(name)) if name == "alpha"
    ));
    // An object in a bucket whose name extends "alpha" must not count for "alpha".
    cat.delete_object("alpha", "k").unwrap();
    cat.put_object("alpha-2", "k", simple("blob-2")).unwrap();
    assert!(cat.delete_bucket("alpha").unwrap().is_empty());
    assert_eq!(cat.bucket("alpha").unwrap(), None);
    assert!(matches!(
        cat.put_object("alpha", "k", simple("blob-3")),
        Err(CatalogError::NoSuchBucket(_))
    ));
}

#[test]
fn invalid_bucket_names_are_rejected() {
    let (_dir, cat) = open_temp();
    assert!(matches!(
        cat.create_bucket("", 0),
        Err(CatalogError::InvalidArgument(_))
    ));
    assert!(matches!(
        cat.create_bucket("a\0b", 0),
        Err(CatalogError::InvalidArgument(_))
    ));
    assert!(cat.list_buckets().unwrap().is_empty());
}

#[test]
fn delete_bucket_removes_open_uploads_and_garbages_their_parts() {
    let (_dir, cat) = open_temp();
    cat.create_bucket("b", 0).unwrap();
    cat.create_bucket("other", 0).unwrap();
    cat.create_upload(upload("u1", "b", "k1", 1, &["x", "y"]))
        .unwrap();
    cat.create_upload(upload("u2", "b", "k2", 2, &["x"]))
        .unwrap();
    cat.create_upload(upload("u3", "other", "k", 3, &["x"]))
        .unwrap();
    cat.put_part("u1", part_record(1, "p1")).unwrap();
    cat.put_part("u1", part_record(2, "p2")).unwrap();
    cat.put_part("u2", part_record(1, "p3")).unwrap();
    cat.put_part("u3", part_record(1, "p4")).unwrap();

    let mut returned: Vec<_> = cat
        .delete_bucket("b")
        .unwrap()
        .into_iter()
        .map(|g| (g.backend, g.blob))
        .collect();
    returned.sort();
    let expected = pairs(&[
        ("x", "p1"),
        ("y", "p1"),
        ("x", "p2"),
        ("y", "p2"),
        ("x", "p3"),
    ]);
    assert_eq!(returned, expected);
    assert_eq!(garbage_pairs(&*cat), expected);

    assert_eq!(cat.upload("u1").unwrap(), None);
    assert!(matches!(
        cat.list_parts("u2"),
        Err(CatalogError::NoSuchUpload(_))
    ));
    // The other bucket's upload is untouched.
    assert_eq!(cat.list_parts("u3").unwrap().len(), 1);
    assert_eq!(
        cat.list_uploads("other", "", None, None, None, 10)
            .unwrap()
            .uploads
            .len(),
        1
    );
}

/// Group commit: many concurrent writers (sharing durable commits), each answered only once durable; all of them,
/// and a failed one's absence, survive a reopen.
#[test]
fn concurrent_writes_share_durable_commits_and_all_survive_reopen() {
    let (dir, cat) = open_temp();
    let cat = std::sync::Arc::new(cat);
    let threads: Vec<_> = (0..16)
        .map(|t| {
            let cat = cat.clone();
            std::thread::spawn(move || {
                for i in 0..20 {
                    cat.create_bucket(&format!("b-{t:02}-{i:02}"), i).unwrap();
                }
                // A failing write (this thread's own first bucket, already created: no race with the
                // others) commits nothing and does not disturb the others.
                assert!(matches!(
                    cat.create_bucket(&format!("b-{t:02}-00"), 0),
                    Err(CatalogError::BucketExists(_))
                ));
            })
        })
        .collect();
    for t in threads {
        t.join().expect("writer thread");
    }
    drop(cat);
    let cat = reopen(&dir);
    let names = cat.list_buckets().unwrap();
    assert_eq!(names.len(), 16 * 20);
    assert!(names.iter().any(|b| b.name == "b-15-19"));
}
