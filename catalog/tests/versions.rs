//! Object versions (S3 versioning): what writes and deletes do under each bucket state, the invariant that the
//! current row is the newest version, listing order and markers, and that every stored version is an object to
//! the scans (with its blobs owned until the version is deleted).

mod common;

use catalog::{Catalog, CatalogError, Versioning, WriteCondition};
use common::*;

fn versioned(cat: &dyn Catalog, bucket: &str, state: Versioning) {
    cat.create_bucket(bucket, 0).unwrap();
    cat.update_bucket(bucket, &mut |b| b.versioning = state)
        .unwrap();
}

/// `(key, version label, is_latest, delete_marker)` of every entry, in listing order.
fn listing(cat: &dyn Catalog, bucket: &str) -> Vec<(String, String, bool, bool)> {
    cat.list_versions(bucket, "", None, None, None, 1000)
        .unwrap()
        .versions
        .into_iter()
        .map(|v| {
            (
                v.key,
                v.record.version_label().to_owned(),
                v.is_latest,
                v.record.delete_marker,
            )
        })
        .collect()
}

#[test]
fn enabled_keeps_every_version_and_finds_each_by_id() {
    let (_dir, cat) = open_temp();
    versioned(&*cat, "b", Versioning::Enabled);
    let v1 = cat.put_object("b", "k", simple("one")).unwrap();
    let v2 = cat.put_object("b", "k", simple("two")).unwrap();
    let (id1, id2) = (
        v1.version_id.clone().unwrap(),
        v2.version_id.clone().unwrap(),
    );
    assert_ne!(id1, id2);
    // Nothing was replaced and no blob became garbage.
    assert_eq!(v2.replaced, None);
    assert!(garbage_pairs(&*cat).is_empty());
    assert_eq!(
        cat.get_object("b", "k").unwrap().unwrap().parts[0].blob,
        "two"
    );
    assert_eq!(
        cat.get_version("b", "k", &id1).unwrap().unwrap().parts[0].blob,
        "one"
    );
    assert_eq!(
        cat.get_version("b", "k", &id2).unwrap().unwrap().parts[0].blob,
        "two"
    );
    assert_eq!(cat.get_version("b", "k", "null").unwrap(), None);
    assert_eq!(cat.get_version("b", "k", "not-an-id").unwrap(), None);
    assert_eq!(
        listing(&*cat, "b"),
        vec![
            ("k".into(), id2.clone(), true, false),
            ("k".into(), id1.clone(), false, false)
        ]
    );
    // A plain listing shows the key once; the noncurrent version is an object to the scans.
    let page = cat.list_objects("b", "", None, None, 100).unwrap();
    assert_eq!(page.objects.len(), 1);
    assert_eq!(cat.scan_objects(None, 100).unwrap().len(), 2);
    let referenced = cat.referenced_blobs().unwrap();
    assert!(referenced.contains(&("b1".to_owned(), "one".to_owned())));
}

#[test]
fn a_delete_adds_a_marker_and_deleting_the_marker_restores_the_object() {
    let (_dir, cat) = open_temp();
    versioned(&*cat, "b", Versioning::Enabled);
    let id1 = cat
        .put_object("b", "dir/k", simple("one"))
        .unwrap()
        .version_id
        .unwrap();
    let out = cat
        .delete_version("b", "dir/k", None, 5_000, false)
        .unwrap();
    assert_eq!(out.removed, None);
    let marker = out.marker.unwrap();
    assert!(marker.delete_marker);
    assert_eq!(marker.last_modified_ms, 5_000);
    let marker_id = marker.version_id.clone().unwrap();
    assert_eq!(cat.get_object("b", "dir/k").unwrap(), None);
    assert!(garbage_pairs(&*cat).is_empty());
    // Listings hide the key entirely, even as a common prefix.
    let page = cat.list_objects("b", "", Some("/"), None, 100).unwrap();
    assert!(page.objects.is_empty() && page.common_prefixes.is_empty());
    assert_eq!(
        listing(&*cat, "b"),
        vec![
            ("dir/k".into(), marker_id.clone(), true, true),
            ("dir/k".into(), id1.clone(), false, false)
        ]
    );
    // A marker holds nothing: the scans skip it.
    assert_eq!(cat.scan_objects(None, 100).unwrap().len(), 1);
    assert!(
        cat.get_version("b", "dir/k", &marker_id)
            .unwrap()
            .unwrap()
            .delete_marker
    );
    // Removing the marker makes the previous version current again.
    let out = cat
        .delete_version("b", "dir/k", Some(&marker_id), 6_000, false)
        .unwrap();
    assert!(out.removed.unwrap().delete_marker);
    let current = cat.get_object("b", "dir/k").unwrap().unwrap();
    assert_eq!(current.version_id.as_deref(), Some(id1.as_str()));
    assert_eq!(
        listing(&*cat, "b"),
        vec![("dir/k".into(), id1.clone(), true, false)]
    );
}

#[test]
fn deleting_a_version_frees_only_its_blobs_and_promotes_the_next() {
    let (_dir, cat) = open_temp();
    versioned(&*cat, "b", Versioning::Enabled);
    let ids: Vec<String> = ["a", "b", "c"]
        .iter()
        .map(|blob| {
            cat.put_object("b", "k", simple(blob))
                .unwrap()
                .version_id
                .unwrap()
        })
        .collect();
    // The middle one: only its blob becomes garbage, the current stays.
    let out = cat
        .delete_version("b", "k", Some(&ids[1]), 1, false)
        .unwrap();
    assert_eq!(out.removed.unwrap().parts[0].blob, "b");
    assert_eq!(garbage_pairs(&*cat), vec![("b1".into(), "b".into())]);
    assert_eq!(
        cat.get_object("b", "k").unwrap().unwrap().parts[0].blob,
        "c"
    );
    // The current one: the next newest becomes current.
    cat.delete_version("b", "k", Some(&ids[2]), 1, false)
        .unwrap();
    let current = cat.get_object("b", "k").unwrap().unwrap();
    assert_eq!(current.parts[0].blob, "a");
    assert_eq!(current.version_id.as_deref(), Some(ids[0].as_str()));
    // A version that does not exist: nothing happens.
    let out = cat
        .delete_version("b", "k", Some(&ids[2]), 1, false)
        .unwrap();
    assert_eq!((out.removed, out.marker), (None, None));
    // The last one: the key is gone and the bucket can be deleted.
    cat.delete_version("b", "k", Some(&ids[0]), 1, false)
        .unwrap();
    assert_eq!(cat.get_object("b", "k").unwrap(), None);
    assert!(listing(&*cat, "b").is_empty());
    cat.delete_bucket("b").unwrap();
}

#[test]
fn a_bucket_with_versions_or_markers_is_not_empty() {
    let (_dir, cat) = open_temp();
    versioned(&*cat, "b", Versioning::Enabled);
    cat.put_object("b", "k", simple("one")).unwrap();
    cat.delete_version("b", "k", None, 1, false).unwrap();
    assert!(matches!(
        cat.delete_bucket("b"),
        Err(CatalogError::BucketNotEmpty(_))
    ));
}

#[test]
fn a_marker_on_a_version_does_not_become_current_when_a_newer_version_is_deleted() {
    let (_dir, cat) = open_temp();
    versioned(&*cat, "b", Versioning::Enabled);
    cat.put_object("b", "k", simple("one")).unwrap();
    cat.delete_version("b", "k", None, 1, false).unwrap();
    let id3 = cat
        .put_object("b", "k", simple("three"))
        .unwrap()
        .version_id
        .unwrap();
    // Versions: three (current), marker, one. Deleting three leaves the marker newest: the key reads as deleted.
    cat.delete_version("b", "k", Some(&id3), 1, false).unwrap();
    assert_eq!(cat.get_object("b", "k").unwrap(), None);
    let entries = listing(&*cat, "b");
    assert_eq!(entries.len(), 2);
    assert!(entries[0].2 && entries[0].3, "{entries:?}");
}

#[test]
fn suspended_writes_replace_the_null_version_and_keep_the_others() {
    let (_dir, cat) = open_temp();
    cat.create_bucket("b", 0).unwrap();
    // Written while unversioned: the null version.
    cat.put_object("b", "k", simple("null-1")).unwrap();
    cat.update_bucket("b", &mut |b| b.versioning = Versioning::Enabled)
        .unwrap();
    let id = cat
        .put_object("b", "k", simple("v1"))
        .unwrap()
        .version_id
        .unwrap();
    assert_eq!(
        cat.get_version("b", "k", "null").unwrap().unwrap().parts[0].blob,
        "null-1"
    );
    cat.update_bucket("b", &mut |b| b.versioning = Versioning::Suspended)
        .unwrap();
    // A suspended write replaces the noncurrent null version (its blob goes) and keeps v1.
    let out = cat.put_object("b", "k", simple("null-2")).unwrap();
    assert_eq!(out.version_id, None);
    assert_eq!(out.replaced.unwrap().parts[0].blob, "null-1");
    assert_eq!(garbage_pairs(&*cat), vec![("b1".into(), "null-1".into())]);
    assert_eq!(
        listing(&*cat, "b"),
        vec![
            ("k".into(), "null".into(), true, false),
            ("k".into(), id.clone(), false, false)
        ]
    );
    // And again: the current null version is replaced in place.
    cat.put_object("b", "k", simple("null-3")).unwrap();
    assert_eq!(listing(&*cat, "b").len(), 2);
    // A suspended delete replaces the null version with a null delete marker.
    let out = cat.delete_version("b", "k", None, 9, false).unwrap();
    assert_eq!(out.removed.unwrap().parts[0].blob, "null-3");
    assert_eq!(out.marker.unwrap().version_id, None);
    assert_eq!(
        listing(&*cat, "b"),
        vec![
            ("k".into(), "null".into(), true, true),
            ("k".into(), id.clone(), false, false)
        ]
    );
}

#[test]
fn conditions_see_the_current_version_only() {
    let (_dir, cat) = open_temp();
    versioned(&*cat, "b", Versioning::Enabled);
    cat.put_object("b", "k", simple("one")).unwrap();
    cat.delete_version("b", "k", None, 1, false).unwrap();
    // Behind a delete marker the key does not exist for If-None-Match.
    cat.put_object_if("b", "k", simple("two"), &WriteCondition::Absent)
        .unwrap();
    assert!(matches!(
        cat.put_object_if("b", "k", simple("three"), &WriteCondition::Absent),
        Err(CatalogError::PreconditionFailed { .. })
    ));
}

#[test]
fn version_listing_pages_with_markers_and_common_prefixes() {
    let (_dir, cat) = open_temp();
    versioned(&*cat, "b", Versioning::Enabled);
    for key in ["a", "b", "d/x", "d/y", "e"] {
        for n in 0..3 {
            cat.put_object("b", key, simple(&format!("{key}{n}")))
                .unwrap();
        }
    }
    let all = listing(&*cat, "b");
    assert_eq!(all.len(), 15);
    // Page through two at a time: every entry once, in order.
    let mut seen = Vec::new();
    let (mut km, mut vm) = (None::<String>, None::<String>);
    loop {
        let page = cat
            .list_versions("b", "", None, km.as_deref(), vm.as_deref(), 2)
            .unwrap();
        for v in &page.versions {
            seen.push((
                v.key.clone(),
                v.record.version_label().to_owned(),
                v.is_latest,
                false,
            ));
        }
        if !page.is_truncated {
            break;
        }
        km = page.next_key_marker;
        vm = page.next_version_id_marker;
    }
    assert_eq!(seen, all);
    // A key marker alone skips every version of that key.
    let page = cat
        .list_versions("b", "", None, Some("b"), None, 100)
        .unwrap();
    assert_eq!(page.versions[0].key, "d/x");
    assert!(page.versions[0].is_latest);
    // The delimiter rolls d/ up into one common prefix that counts once.
    let page = cat
        .list_versions("b", "", Some("/"), None, None, 10)
        .unwrap();
    assert_eq!(page.common_prefixes, vec!["d/".to_owned()]);
    assert_eq!(page.versions.len(), 9);
    assert!(!page.is_truncated);
    let page = cat
        .list_versions("b", "", Some("/"), None, None, 7)
        .unwrap();
    assert!(page.is_truncated);
    assert_eq!(page.next_key_marker.as_deref(), Some("d/"));
    assert_eq!(page.next_version_id_marker, None);
    let page = cat
        .list_versions("b", "", Some("/"), Some("d/"), None, 7)
        .unwrap();
    assert!(page.common_prefixes.is_empty());
    assert_eq!(page.versions.len(), 3);
    assert_eq!(page.versions[0].key, "e");
    // Prefix.
    let page = cat.list_versions("b", "d/", None, None, None, 100).unwrap();
    assert_eq!(page.versions.len(), 6);
    assert!(matches!(
        cat.list_versions("b", "", None, Some("a"), Some("zz"), 10),
        Err(CatalogError::InvalidArgument(_))
    ));
}

#[test]
fn a_move_of_one_version_touches_no_other() {
    let (_dir, cat) = open_temp();
    versioned(&*cat, "b", Versioning::Enabled);
    cat.put_object("b", "k", simple("one")).unwrap();
    cat.put_object("b", "k", simple("two")).unwrap();
    let rows = cat.scan_objects(None, 10).unwrap();
    let (_, old_row, old) = rows.iter().find(|(_, k, _)| k != "k").unwrap().clone();
    assert!(
        cat.swap_replicas("b", &old_row, old.generation, vec!["b2".into()])
            .unwrap()
    );
    let old_now = cat
        .get_version("b", "k", old.version_id.as_deref().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(old_now.replicas, vec!["b2".to_owned()]);
    assert_eq!(old_now.version_seq, old.version_seq);
    assert_eq!(garbage_pairs(&*cat), vec![("b1".into(), "one".into())]);
    assert_eq!(
        cat.get_object("b", "k").unwrap().unwrap().replicas,
        vec!["b1".to_owned()]
    );
    // The listing order is the creation order still.
    let entries = listing(&*cat, "b");
    assert_eq!(entries[1].1, old.version_id.unwrap());
}

#[test]
fn keys_with_nul_are_refused() {
    let (_dir, cat) = open_temp();
    cat.create_bucket("b", 0).unwrap();
    assert!(matches!(
        cat.put_object("b", "a\0b", simple("x")),
        Err(CatalogError::InvalidArgument(_))
    ));
}

#[test]
fn metadata_changes_reach_one_version_only() {
    let (_dir, cat) = open_temp();
    versioned(&*cat, "b", Versioning::Enabled);
    let old = cat
        .put_object("b", "k", simple("one"))
        .unwrap()
        .version_id
        .unwrap();
    cat.put_object("b", "k", simple("two")).unwrap();
    let changed = cat
        .update_version_meta("b", "k", &old, &mut |m| {
            m.tags.insert("t".into(), "v".into());
        })
        .unwrap()
        .unwrap();
    assert_eq!(changed.meta.tags.get("t").map(String::as_str), Some("v"));
    let stored = cat.get_version("b", "k", &old).unwrap().unwrap();
    assert_eq!(stored.meta.tags.len(), 1);
    // Generation, ETag and replicas stay, so a racing move of that version still commits.
    assert_eq!(stored.generation, changed.generation);
    assert!(
        cat.get_object("b", "k")
            .unwrap()
            .unwrap()
            .meta
            .tags
            .is_empty()
    );
    assert_eq!(
        cat.update_version_meta("b", "k", "0123456789abcdef", &mut |_| {})
            .unwrap(),
        None
    );
    let marker = cat
        .delete_version("b", "k", None, 1, false)
        .unwrap()
        .marker
        .unwrap();
    let label = marker.version_label().to_owned();
    let unchanged = cat
        .update_version_meta("b", "k", &label, &mut |m| {
            m.tags.insert("x".into(), "y".into());
        })
        .unwrap()
        .unwrap();
    assert!(unchanged.delete_marker && unchanged.meta.tags.is_empty());
}

#[test]
fn object_lock_keeps_a_version_until_its_retention_ends() {
    use catalog::{Retention, RetentionMode};
    let (_dir, cat) = open_temp();
    versioned(&*cat, "b", Versioning::Enabled);
    let mut obj = simple("locked");
    obj.meta.retention = Some(Retention {
        mode: RetentionMode::Compliance,
        until_ms: 10_000,
    });
    let id = cat.put_object("b", "k", obj).unwrap().version_id.unwrap();
    // A plain delete only adds a marker, as S3 allows.
    cat.delete_version("b", "k", None, 1, false).unwrap();
    // Deleting the version itself is refused, bypass or not, until the retention ends.
    for bypass in [false, true] {
        assert!(matches!(
            cat.delete_version("b", "k", Some(&id), 9_999, bypass),
            Err(CatalogError::ObjectLocked { .. })
        ));
    }
    assert!(garbage_pairs(&*cat).is_empty());
    assert!(cat.get_version("b", "k", &id).unwrap().is_some());
    cat.delete_version("b", "k", Some(&id), 10_000, false)
        .unwrap();
    assert_eq!(garbage_pairs(&*cat), vec![("b1".into(), "locked".into())]);

    // Governance: a bypass may delete; a legal hold holds against everything.
    let mut obj = simple("governed");
    obj.meta.retention = Some(Retention {
        mode: RetentionMode::Governance,
        until_ms: 10_000,
    });
    obj.meta.legal_hold = true;
    let id = cat.put_object("b", "g", obj).unwrap().version_id.unwrap();
    assert!(matches!(
        cat.delete_version("b", "g", Some(&id), 20_000, true),
        Err(CatalogError::ObjectLocked { .. })
    ));
    cat.update_version_meta("b", "g", &id, &mut |m| m.legal_hold = false)
        .unwrap();
    assert!(matches!(
        cat.delete_version("b", "g", Some(&id), 1, false),
        Err(CatalogError::ObjectLocked { .. })
    ));
    cat.delete_version("b", "g", Some(&id), 1, true).unwrap();
}

#[test]
fn a_conditional_delete_acts_only_on_the_version_it_was_decided_on() {
    let (_dir, cat) = open_temp();
    // Unversioned: an expiration decided on the first write never removes the one that replaced it.
    cat.create_bucket("u", 0).unwrap();
    cat.put_object("u", "k", simple("one")).unwrap();
    let first = cat.get_object("u", "k").unwrap().unwrap().version_seq;
    cat.put_object("u", "k", simple("two")).unwrap();
    let second = cat.get_object("u", "k").unwrap().unwrap();
    let precondition = |r: catalog::Result<catalog::DeleteOutcome>| {
        matches!(r, Err(CatalogError::PreconditionFailed { .. }))
    };
    assert!(precondition(
        cat.delete_version_if("u", "k", None, 1, first)
    ));
    assert_eq!(
        cat.get_object("u", "k").unwrap().unwrap().parts[0].blob,
        "two"
    );
    let out = cat
        .delete_version_if("u", "k", None, 1, second.version_seq)
        .unwrap();
    assert_eq!(out.removed.unwrap().parts[0].blob, "two");
    assert_eq!(cat.get_object("u", "k").unwrap(), None);
    // Nothing left to act on is a changed key too.
    assert!(precondition(cat.delete_version_if(
        "u",
        "k",
        None,
        1,
        second.version_seq
    )));

    // Versioned: a named version goes only while it is the one read; the current one gets its marker the same way.
    versioned(&*cat, "v", Versioning::Enabled);
    let v1 = cat.put_object("v", "k", simple("a")).unwrap();
    let id1 = v1.version_id.unwrap();
    let rec1 = cat.get_version("v", "k", &id1).unwrap().unwrap();
    assert!(precondition(cat.delete_version_if(
        "v",
        "k",
        Some(&id1),
        1,
        rec1.version_seq + 1
    )));
    cat.put_object("v", "k", simple("b")).unwrap();
    assert!(precondition(cat.delete_version_if(
        "v",
        "k",
        None,
        1,
        rec1.version_seq
    )));
    let current = cat.get_object("v", "k").unwrap().unwrap();
    let out = cat
        .delete_version_if("v", "k", None, 1, current.version_seq)
        .unwrap();
    assert!(out.marker.is_some() && out.removed.is_none());
    let out = cat
        .delete_version_if("v", "k", Some(&id1), 1, rec1.version_seq)
        .unwrap();
    assert_eq!(out.removed.unwrap().parts[0].blob, "a");
    // Under Object Lock it refuses, whatever the condition.
    cat.update_version_meta("v", "k", current.version_label(), &mut |m| {
        m.legal_hold = true
    })
    .unwrap();
    assert!(matches!(
        cat.delete_version_if(
            "v",
            "k",
            Some(current.version_label()),
            1,
            current.version_seq
        ),
        Err(CatalogError::ObjectLocked { .. })
    ));
}
