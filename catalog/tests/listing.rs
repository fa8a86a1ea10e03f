mod common;

use std::collections::BTreeSet;

use catalog::{Catalog, CatalogError, ListPage};
use common::*;

fn keys(page: &ListPage) -> Vec<&str> {
    page.objects.iter().map(|(k, _)| k.as_str()).collect()
}

fn bucket_with(keys: &[&str]) -> (tempfile::TempDir, Box<dyn Catalog>) {
    let (dir, cat) = open_temp();
    cat.create_bucket("b", 0).unwrap();
    for key in keys {
        cat.put_object("b", key, simple(&format!("blob:{key}")))
            .unwrap();
    }
    (dir, cat)
}

#[test]
fn prefix_delimiter_after_and_max_keys() {
    let (_dir, cat) = bucket_with(&[
        "a",
        "b/1",
        "b/2",
        "b/c/3",
        "c",
        "d/x",
        "photos/2024/x.jpg",
        "photos/a",
    ]);

    let all = cat.list_objects("b", "", None, None, 100).unwrap();
    assert_eq!(
        keys(&all),
        [
            "a",
            "b/1",
            "b/2",
            "b/c/3",
            "c",
            "d/x",
            "photos/2024/x.jpg",
            "photos/a"
        ]
    );
    assert!(!all.is_truncated && all.next_marker.is_none() && all.common_prefixes.is_empty());
    assert_eq!(all.objects[1].1.parts[0].blob, "blob:b/1");

    let grouped = cat.list_objects("b", "", Some("/"), None, 100).unwrap();
    assert_eq!(keys(&grouped), ["a", "c"]);
    assert_eq!(grouped.common_prefixes, ["b/", "d/", "photos/"]);

    let under_b = cat.list_objects("b", "b/", Some("/"), None, 100).unwrap();
    assert_eq!(keys(&under_b), ["b/1", "b/2"]);
    assert_eq!(under_b.common_prefixes, ["b/c/"]);

    // Empty delimiter means no grouping.
    assert_eq!(
        cat.list_objects("b", "b/", Some(""), None, 100)
            .unwrap()
            .objects
            .len(),
        3
    );

    let after_b1 = cat.list_objects("b", "b/", None, Some("b/1"), 100).unwrap();
    assert_eq!(keys(&after_b1), ["b/2", "b/c/3"]);

    // `after` before the prefix starts at the prefix.
    let early = cat.list_objects("b", "d", None, Some("a"), 100).unwrap();
    assert_eq!(keys(&early), ["d/x"]);

    // `after` inside a common prefix: the prefix is not returned again.
    let resumed = cat
        .list_objects("b", "", Some("/"), Some("b/2"), 100)
        .unwrap();
    assert_eq!(keys(&resumed), ["c"]);
    assert_eq!(resumed.common_prefixes, ["d/", "photos/"]);

    // max_keys counts keys and prefixes together.
    let two = cat.list_objects("b", "", Some("/"), None, 2).unwrap();
    assert_eq!(keys(&two), ["a"]);
    assert_eq!(two.common_prefixes, ["b/"]);
    assert!(two.is_truncated);
    assert_eq!(two.next_marker.as_deref(), Some("b/"));

    // Exactly max_keys items left: not truncated.
    let exact = cat.list_objects("b", "photos/", None, None, 2).unwrap();
    assert_eq!(exact.objects.len(), 2);
    assert!(!exact.is_truncated && exact.next_marker.is_none());

    let zero = cat.list_objects("b", "", None, None, 0).unwrap();
    assert_eq!(zero, ListPage::default());

    assert!(
        cat.list_objects("b", "zzz", Some("/"), None, 10)
            .unwrap()
            .objects
            .is_empty()
    );
    assert!(matches!(
        cat.list_objects("missing", "", None, None, 10),
        Err(CatalogError::NoSuchBucket(_))
    ));
}

#[test]
fn a_thousand_keys_under_one_prefix_count_once() {
    let mut names: Vec<String> = (0..1000).map(|i| format!("a/{i:04}")).collect();
    names.extend(["0".to_string(), "b".to_string(), "c/d".to_string()]);
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let (_dir, cat) = bucket_with(&refs);

    let page = cat.list_objects("b", "", Some("/"), None, 3).unwrap();
    assert_eq!(keys(&page), ["0", "b"]);
    assert_eq!(page.common_prefixes, ["a/"]);
    assert!(page.is_truncated);
    assert_eq!(page.next_marker.as_deref(), Some("b"));

    let rest = cat.list_objects("b", "", Some("/"), Some("b"), 3).unwrap();
    assert_eq!(rest.common_prefixes, ["c/"]);
    assert!(!rest.is_truncated);

    // Without a delimiter the same keys page through one by one.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = cat
            .list_objects("b", "a/", None, after.as_deref(), 128)
            .unwrap();
        seen.extend(page.objects.iter().map(|(k, _)| k.clone()));
        if !page.is_truncated {
            break;
        }
        after = page.next_marker.clone();
    }
    assert_eq!(seen, names[..1000]);
}

#[test]
fn unicode_keys_order_by_utf8_bytes() {
    // UTF-16 order would put the emoji (surrogate pair) before U+FFFD; byte order puts it last.
    let (_dir, cat) = bucket_with(&["\u{1F600}", "\u{FFFD}", "é", "z", "a", "e\u{301}"]);
    let page = cat.list_objects("b", "", None, None, 100).unwrap();
    assert_eq!(
        keys(&page),
        ["a", "e\u{301}", "z", "é", "\u{FFFD}", "\u{1F600}"]
    );

    let mut sorted: Vec<&str> = keys(&page);
    sorted.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    assert_eq!(keys(&page), sorted);

    // A multi-byte delimiter rolls up correctly too.
    let (_dir2, cat2) = bucket_with(&["xéy", "xéz", "xa"]);
    let grouped = cat2.list_objects("b", "x", Some("é"), None, 10).unwrap();
    assert_eq!(keys(&grouped), ["xa"]);
    assert_eq!(grouped.common_prefixes, ["xé"]);
}

/// What an S3 listing must return, computed naively from the full key set.
fn reference(
    all: &BTreeSet<String>,
    prefix: &str,
    delimiter: Option<&str>,
    after: Option<&str>,
    max: usize,
) -> (Vec<String>, Vec<String>, bool, Option<String>) {
    let delimiter = delimiter.filter(|d| !d.is_empty());
    // (is_prefix, value) in key order, prefixes deduplicated.
    let mut items: Vec<(bool, String)> = Vec::new();
    for key in all.iter().filter(|k| k.starts_with(prefix)) {
        let item = match delimiter.and_then(|d| key[prefix.len()..].find(d).map(|i| (d, i))) {
            Some((d, i)) => (true, key[..prefix.len() + i + d.len()].to_string()),
            None => (false, key.clone()),
        };
        if items.last() != Some(&item) {
            items.push(item);
        }
    }
    items.retain(|(_, v)| after.is_none_or(|a| v.as_str() > a));
    let truncated = items.len() > max;
    items.truncate(max);
    let next = if truncated {
        items.last().map(|(_, v)| v.clone())
    } else {
        None
    };
    let objects = items
        .iter()
        .filter(|(p, _)| !p)
        .map(|(_, v)| v.clone())
        .collect();
    let prefixes = items
        .iter()
        .filter(|(p, _)| *p)
        .map(|(_, v)| v.clone())
        .collect();
    (objects, prefixes, truncated, next)
}

#[test]
fn listing_matches_a_naive_reference_and_resumes_without_gaps_or_repeats() {
    // Deterministic pseudo-random keys over a small alphabet so prefixes and delimiters collide.
    let alphabet = ["a", "b", "/", "é", "-"];
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut all = BTreeSet::new();
    while all.len() < 150 {
        let len = 1 + (next() % 5) as usize;
        let key: String = (0..len).map(|_| alphabet[(next() % 5) as usize]).collect();
        all.insert(key);
    }
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    let (_dir, cat) = bucket_with(&refs);

    let markers: Vec<Option<&str>> = [
        None,
        Some(""),
        Some("a"),
        Some("a/"),
        Some("a/b"),
        Some("b/é"),
        Some("é-"),
        Some("zz"),
    ]
    .into_iter()
    .chain(refs.iter().step_by(13).map(|k| Some(*k)))
    .collect();
    for prefix in ["", "a", "a/", "é", "b-"] {
        for delimiter in [None, Some("/"), Some("a/"), Some("é")] {
            for after in &markers {
                for max in [1, 2, 5, 1000] {
                    let page = cat
                        .list_objects("b", prefix, delimiter, *after, max)
                        .unwrap();
                    let got = (
                        page.objects
                            .iter()
                            .map(|(k, _)| k.clone())
                            .collect::<Vec<_>>(),
                        page.common_prefixes.clone(),
                        page.is_truncated,
                        page.next_marker.clone(),
                    );
                    assert_eq!(
                        got,
                        reference(&all, prefix, delimiter, *after, max),
                        "prefix={prefix:?} delimiter={delimiter:?} after={after:?} max={max}"
                    );
                }
            }
            // Paging through with next_marker sees every item exactly once.
            for max in [1, 3] {
                let mut seen = Vec::new();
                let mut after: Option<String> = None;
                loop {
                    let page = cat
                        .list_objects("b", prefix, delimiter, after.as_deref(), max)
                        .unwrap();
                    seen.extend(page.objects.iter().map(|(k, _)| k.clone()));
                    seen.extend(page.common_prefixes.iter().cloned());
                    if !page.is_truncated {
                        break;
                    }
                    after = page.next_marker.clone();
                }
                let (objects, prefixes, _, _) =
                    reference(&all, prefix, delimiter, None, usize::MAX);
                let mut expected: Vec<String> = objects.into_iter().chain(prefixes).collect();
                expected.sort();
                let unique: BTreeSet<&String> = seen.iter().collect();
                assert_eq!(
                    unique.len(),
                    seen.len(),
                    "repeated item, prefix={prefix:?} delimiter={delimiter:?}"
                );
                seen.sort();
                assert_eq!(
                    seen, expected,
                    "prefix={prefix:?} delimiter={delimiter:?} max={max}"
                );
            }
        }
    }
}
