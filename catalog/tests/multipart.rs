mod common;

use catalog::{CatalogError, PartRef};
use common::*;

#[test]
fn multipart_lifecycle_put_replace_list_complete() {
    let (_dir, cat) = open_temp();
    assert!(matches!(
        cat.create_upload(upload("u1", "nope", "k", 1, &["x"])),
        Err(CatalogError::NoSuchBucket(_))
    ));
    cat.create_bucket("b", 0).unwrap();
    let record = upload("u1", "b", "big", 100, &["x", "y"]);
    cat.create_upload(record.clone()).unwrap();
    assert_eq!(cat.upload("u1").unwrap(), Some(record.clone()));
    assert!(matches!(
        cat.create_upload(record.clone()),
        Err(CatalogError::InvalidArgument(_))
    ));

    cat.put_part("u1", part_record(2, "p2")).unwrap();
    cat.put_part("u1", part_record(1, "p1-old")).unwrap();
    cat.put_part("u1", part_record(3, "p3")).unwrap();
    // Replacing part 1: the old blob goes to garbage on every upload replica.
    cat.put_part("u1", part_record(1, "p1")).unwrap();
    assert_eq!(
        garbage_pairs(&*cat),
        pairs(&[("x", "p1-old"), ("y", "p1-old")])
    );
    // Re-putting the same blob under the same number is not garbage.
    cat.put_part("u1", part_record(3, "p3")).unwrap();
    assert_eq!(garbage_pairs(&*cat).len(), 2);

    let parts = cat.list_parts("u1").unwrap();
    let listed: Vec<(u32, &str)> = parts
        .iter()
        .map(|p| (p.part_number, p.blob.as_str()))
        .collect();
    assert_eq!(listed, [(1, "p1"), (2, "p2"), (3, "p3")]);

    // An existing version at the key is replaced by the completion.
    let before = cat
        .put_object("b", "big", object(&["prev"], &["x"]))
        .unwrap();

    // Complete with parts 1 and 2 only; part 3 is unused; the object lives on x only.
    let obj = catalog::NewObject {
        size: 10,
        etag: "abc-2".into(),
        last_modified_ms: 3_000,
        parts: ["p1", "p2"]
            .iter()
            .map(|b| PartRef {
                blob: b.to_string(),
                size: 5,
                blake3: String::new(),
                etag: String::new(),
            })
            .collect(),
        replicas: vec!["x".into()],
        meta: record.meta.clone(),
    };
    let outcome = cat.complete_upload("u1", obj).unwrap();
    assert!(outcome.generation > before.generation);
    assert_eq!(
        outcome.replaced.map(|r| r.generation),
        Some(before.generation)
    );
    let committed = cat.get_object("b", "big").unwrap().unwrap();
    assert_eq!(committed.etag, "abc-2");
    assert_eq!(committed.generation, outcome.generation);
    assert_eq!(
        garbage_pairs(&*cat),
        pairs(&[
            ("x", "p1-old"),
            ("y", "p1-old"),
            ("x", "p3"),
            ("y", "p3"),
            ("y", "p1"),
            ("y", "p2"),
            ("x", "prev"),
        ])
    );

    // The upload is gone for every operation.
    assert_eq!(cat.upload("u1").unwrap(), None);
    assert!(matches!(cat.list_parts("u1"), Err(CatalogError::NoSuchUpload(id)) if id == "u1"));
    assert!(matches!(
        cat.put_part("u1", part_record(4, "p4")),
        Err(CatalogError::NoSuchUpload(_))
    ));
    assert!(matches!(
        cat.complete_upload("u1", simple("again")),
        Err(CatalogError::NoSuchUpload(_))
    ));
    assert!(matches!(
        cat.abort_upload("u1"),
        Err(CatalogError::NoSuchUpload(_))
    ));
    assert!(
        cat.list_uploads("b", "", None, None, None, 10)
            .unwrap()
            .uploads
            .is_empty()
    );
}

#[test]
fn abort_returns_and_records_part_garbage() {
    let (_dir, cat) = open_temp();
    cat.create_bucket("b", 0).unwrap();
    cat.create_upload(upload("u", "b", "k", 1, &["x", "y"]))
        .unwrap();
    cat.put_part("u", part_record(1, "a")).unwrap();
    cat.put_part("u", part_record(2, "b")).unwrap();

    let mut returned: Vec<_> = cat
        .abort_upload("u")
        .unwrap()
        .into_iter()
        .map(|g| (g.backend, g.blob))
        .collect();
    returned.sort();
    let expected = pairs(&[("x", "a"), ("y", "a"), ("x", "b"), ("y", "b")]);
    assert_eq!(returned, expected);
    assert_eq!(garbage_pairs(&*cat), expected);
    assert!(matches!(
        cat.list_parts("u"),
        Err(CatalogError::NoSuchUpload(_))
    ));
    assert_eq!(cat.get_object("b", "k").unwrap(), None);
}

#[test]
fn list_uploads_orders_groups_and_pages() {
    let (_dir, cat) = open_temp();
    cat.create_bucket("b", 0).unwrap();
    cat.create_bucket("c", 0).unwrap();
    // (id, key, initiated)
    let uploads = [
        ("u-late", "k1", 300),
        ("u-early", "k1", 100),
        ("u-mid-b", "k1", 200),
        ("u-mid-a", "k1", 200),
        ("u-k0", "k0", 999),
        ("u-dir1", "dir/a", 1),
        ("u-dir2", "dir/b", 1),
        ("u-z", "z", 5),
    ];
    for (id, key, at) in uploads {
        cat.create_upload(upload(id, "b", key, at, &["x"])).unwrap();
    }
    cat.create_upload(upload("other", "c", "k1", 1, &["x"]))
        .unwrap();

    let ids = |page: &catalog::UploadPage| -> Vec<String> {
        page.uploads.iter().map(|u| u.upload_id.clone()).collect()
    };

    let all = cat.list_uploads("b", "", None, None, None, 100).unwrap();
    assert_eq!(
        ids(&all),
        [
            "u-dir1", "u-dir2", "u-k0", "u-early", "u-mid-a", "u-mid-b", "u-late", "u-z"
        ]
    );
    assert!(!all.is_truncated);

    let grouped = cat
        .list_uploads("b", "", Some("/"), None, None, 100)
        .unwrap();
    assert_eq!(grouped.common_prefixes, ["dir/"]);
    assert_eq!(
        ids(&grouped),
        ["u-k0", "u-early", "u-mid-a", "u-mid-b", "u-late", "u-z"]
    );

    let k1 = cat.list_uploads("b", "k1", None, None, None, 100).unwrap();
    assert_eq!(ids(&k1).len(), 4);

    // Page by 3 with markers; every upload and prefix appears exactly once, in order.
    let mut seen = Vec::new();
    let (mut key_marker, mut id_marker): (Option<String>, Option<String>) = (None, None);
    loop {
        let page = cat
            .list_uploads(
                "b",
                "",
                Some("/"),
                key_marker.as_deref(),
                id_marker.as_deref(),
                3,
            )
            .unwrap();
        assert!(page.uploads.len() + page.common_prefixes.len() <= 3);
        seen.extend(page.common_prefixes.iter().cloned());
        seen.extend(ids(&page));
        if !page.is_truncated {
            break;
        }
        key_marker = page.next_key_marker.clone();
        id_marker = page.next_upload_id_marker.clone();
        assert!(key_marker.is_some());
    }
    assert_eq!(
        seen,
        [
            "dir/", "u-k0", "u-early", "u-mid-a", "u-mid-b", "u-late", "u-z"
        ]
    );

    // key_marker alone skips every upload of that key.
    let after_k1 = cat
        .list_uploads("b", "", None, Some("k1"), None, 100)
        .unwrap();
    assert_eq!(ids(&after_k1), ["u-z"]);
    // With an upload id marker: resume right after that upload.
    let after_mid = cat
        .list_uploads("b", "", None, Some("k1"), Some("u-mid-a"), 100)
        .unwrap();
    assert_eq!(ids(&after_mid), ["u-mid-b", "u-late", "u-z"]);
    // Unknown upload id marker: S3's rule (ids greater than the marker) for that key.
    let fallback = cat
        .list_uploads("b", "", None, Some("k1"), Some("u-m"), 100)
        .unwrap();
    assert_eq!(ids(&fallback), ["u-mid-a", "u-mid-b", "u-z"]);
    // Marker inside a common prefix: that prefix is not repeated.
    let in_dir = cat
        .list_uploads("b", "", Some("/"), Some("dir/a"), None, 100)
        .unwrap();
    assert!(in_dir.common_prefixes.is_empty());
    assert_eq!(ids(&in_dir)[0], "u-k0");

    assert!(
        cat.list_uploads("b", "", None, None, None, 0)
            .unwrap()
            .uploads
            .is_empty()
    );
    assert!(matches!(
        cat.list_uploads("nope", "", None, None, None, 10),
        Err(CatalogError::NoSuchBucket(_))
    ));
}
