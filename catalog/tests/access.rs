mod common;

use catalog::{AccessEvent, AccessKind, CatalogConfig};
use common::*;

const HOUR: i64 = 3_600_000;

fn event(key: &str, kind: AccessKind, bytes: u64, at_ms: i64) -> AccessEvent {
    AccessEvent {
        bucket: "b".into(),
        key: key.into(),
        kind,
        bytes,
        at_ms,
    }
}

#[test]
fn heat_decays_by_half_each_half_life() {
    let config = CatalogConfig {
        heat_half_life_ms: HOUR,
        ..CatalogConfig::default()
    };
    let (_dir, cat) = open_temp_with(config);
    assert_eq!(cat.heat_half_life_ms(), HOUR);
    cat.create_bucket("b", 0).unwrap();
    cat.put_object("b", "k", simple("blob")).unwrap();

    let t0 = 1_700_000_000_000;
    cat.record_accesses(&[event("k", AccessKind::Get, 100, t0)])
        .unwrap();
    let stats = cat.stats("b", "k").unwrap().expect("stats");
    assert!((stats.heat_at(t0, HOUR) - 1.0).abs() < 1e-9);
    assert!((stats.heat_at(t0 + HOUR, HOUR) - 0.5).abs() < 1e-9);

    // A second read one half-life later: 0.5 + 1.0, then halves again.
    cat.record_accesses(&[event("k", AccessKind::Head, 0, t0 + HOUR)])
        .unwrap();
    let stats = cat.stats("b", "k").unwrap().unwrap();
    assert!((stats.heat_at(t0 + HOUR, HOUR) - 1.5).abs() < 1e-9);
    assert!((stats.heat_at(t0 + 2 * HOUR, HOUR) - 0.75).abs() < 1e-9);
    assert_eq!((stats.reads, stats.writes, stats.bytes_read), (2, 0, 100));
    assert_eq!(
        (stats.first_access_ms, stats.last_access_ms),
        (t0, t0 + HOUR)
    );
}

#[test]
fn stats_only_for_existing_objects_and_survive_overwrites() {
    let (_dir, cat) = open_temp();
    cat.create_bucket("b", 0).unwrap();
    cat.put_object("b", "k", simple("v1")).unwrap();
    cat.record_accesses(&[
        event("k", AccessKind::Get, 7, 10),
        event("k", AccessKind::Copy, 3, 11),
        event("k", AccessKind::List, 0, 12),
        event("missing", AccessKind::Get, 5, 13),
        event("k", AccessKind::Put, 9, 14),
    ])
    .unwrap();
    assert_eq!(cat.stats("b", "missing").unwrap(), None);
    assert_eq!(cat.access_log_len().unwrap(), 5);

    // A new version keeps the key's stats.
    cat.put_object("b", "k", simple("v2")).unwrap();
    let stats = cat.stats("b", "k").unwrap().unwrap();
    assert_eq!((stats.reads, stats.writes, stats.bytes_read), (2, 1, 10));
    assert_eq!(stats.last_access_ms, 14);
}

#[test]
fn log_keeps_equal_timestamps_apart_and_reads_back_in_order() {
    let (_dir, cat) = open_temp();
    cat.create_bucket("b", 0).unwrap();
    cat.record_accesses(&[
        event("x", AccessKind::Get, 0, 50),
        event("y", AccessKind::Get, 0, 50),
        event("z", AccessKind::Delete, 0, 40),
    ])
    .unwrap();
    cat.record_accesses(&[event("w", AccessKind::Head, 0, 50)])
        .unwrap();
    assert_eq!(cat.access_log_len().unwrap(), 4);

    let keys =
        |events: Vec<AccessEvent>| -> Vec<String> { events.into_iter().map(|e| e.key).collect() };
    assert_eq!(
        keys(cat.access_log_since(0, 100).unwrap()),
        ["z", "x", "y", "w"]
    );
    assert_eq!(keys(cat.access_log_since(50, 2).unwrap()), ["x", "y"]);
    assert!(cat.access_log_since(51, 10).unwrap().is_empty());
}

#[test]
fn log_is_trimmed_to_max_entries_oldest_first() {
    let config = CatalogConfig {
        access_log_max_entries: 5,
        ..CatalogConfig::default()
    };
    let (_dir, cat) = open_temp_with(config);
    cat.create_bucket("b", 0).unwrap();
    for batch in 0..4 {
        let events: Vec<_> = (0..3)
            .map(|i| event(&format!("k{batch}-{i}"), AccessKind::Get, 0, batch * 10 + i))
            .collect();
        cat.record_accesses(&events).unwrap();
        assert!(cat.access_log_len().unwrap() <= 5);
    }
    let remaining: Vec<i64> = cat
        .access_log_since(i64::MIN, 100)
        .unwrap()
        .iter()
        .map(|e| e.at_ms)
        .collect();
    assert_eq!(remaining, [21, 22, 30, 31, 32]);
}

#[test]
fn log_is_trimmed_by_retention_relative_to_newest_entry() {
    let config = CatalogConfig {
        access_log_retention_ms: 100,
        ..CatalogConfig::default()
    };
    let (_dir, cat) = open_temp_with(config);
    cat.record_accesses(&[
        event("a", AccessKind::List, 0, 1_000),
        event("b", AccessKind::List, 0, 1_050),
    ])
    .unwrap();
    assert_eq!(cat.access_log_len().unwrap(), 2);
    cat.record_accesses(&[event("c", AccessKind::List, 0, 1_120)])
        .unwrap();
    let left: Vec<i64> = cat
        .access_log_since(0, 10)
        .unwrap()
        .iter()
        .map(|e| e.at_ms)
        .collect();
    assert_eq!(left, [1_050, 1_120]);
}

#[test]
fn invalid_config_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let bad = CatalogConfig {
        heat_half_life_ms: 0,
        ..CatalogConfig::default()
    };
    assert!(matches!(
        catalog::RedbCatalog::open(&dir.path().join("c.redb"), bad),
        Err(catalog::CatalogError::InvalidArgument(_))
    ));
    if let Ok(url) = std::env::var(PG_URL_VAR) {
        assert!(matches!(
            catalog::PgCatalog::connect(&url, bad),
            Err(catalog::CatalogError::InvalidArgument(_))
        ));
    }
}

#[test]
fn stats_keep_the_latest_read_and_scan_in_key_order() {
    let (_dir, cat) = open_temp();
    cat.create_bucket("b", 0).unwrap();
    for k in ["a", "c", "d", "w"] {
        cat.put_object("b", k, simple(&format!("blob-{k}")))
            .unwrap();
    }
    let t0 = 1_700_000_000_000;
    cat.record_accesses(&[
        event("c", AccessKind::Get, 10, t0 + 5 * HOUR),
        // Out of order: the latest read stays the latest.
        event("c", AccessKind::Get, 30, t0 + HOUR),
        event("a", AccessKind::Head, 0, t0),
        event("w", AccessKind::Put, 100, t0 + 9 * HOUR),
        event("d", AccessKind::Get, 7, t0 + 2 * HOUR),
        // A write after the read: the last access moves, the last read does not.
        event("d", AccessKind::Put, 7, t0 + 3 * HOUR),
    ])
    .unwrap();
    let all = cat.scan_stats(None, 10).unwrap();
    let keys: Vec<&str> = all.iter().map(|(_, k, _)| k.as_str()).collect();
    assert_eq!(keys, ["a", "c", "d", "w"]);
    let last_read: Vec<Option<i64>> = all.iter().map(|(_, _, s)| s.last_read_ms).collect();
    assert_eq!(
        last_read,
        [Some(t0), Some(t0 + 5 * HOUR), Some(t0 + 2 * HOUR), None]
    );
    assert_eq!(all[2].2.last_access_ms, t0 + 3 * HOUR);
    assert_eq!(all[1].2.bytes_read, 40);

    // Pages continue after the given key; a deleted object's stats are gone.
    let page = cat.scan_stats(Some(("b", "a")), 2).unwrap();
    assert_eq!(
        page.iter().map(|(_, k, _)| k.as_str()).collect::<Vec<_>>(),
        ["c", "d"]
    );
    cat.delete_object("b", "c").unwrap();
    let rest = cat.scan_stats(Some(("b", "a")), 10).unwrap();
    assert_eq!(
        rest.iter().map(|(_, k, _)| k.as_str()).collect::<Vec<_>>(),
        ["d", "w"]
    );
}

#[test]
fn stats_keep_the_last_two_idle_intervals_between_sessions() {
    let (_dir, cat) = open_temp();
    cat.create_bucket("b", 0).unwrap();
    cat.put_object("b", "k", simple("blob-k")).unwrap();
    let t0 = 1_700_000_000_000;
    let day = 24 * HOUR;
    let gaps = || {
        let s = cat.stats("b", "k").unwrap().expect("stats");
        (s.prev_gap_ms, s.last_gap_ms, s.last_read_ms)
    };
    // One session (reads within a day of each other): no interval yet.
    cat.record_accesses(&[
        event("k", AccessKind::Get, 1, t0),
        event("k", AccessKind::Get, 1, t0 + 2 * HOUR),
    ])
    .unwrap();
    assert_eq!(gaps(), (None, None, Some(t0 + 2 * HOUR)));
    // A week later, twice: one interval, from the first session's last read to the second's first.
    cat.record_accesses(&[
        event("k", AccessKind::Get, 1, t0 + 7 * day),
        event("k", AccessKind::Get, 1, t0 + 7 * day + HOUR),
    ])
    .unwrap();
    assert_eq!(
        gaps(),
        (None, Some(7 * day - 2 * HOUR), Some(t0 + 7 * day + HOUR))
    );
    // A late event and a write change nothing; a third session shifts the intervals.
    cat.record_accesses(&[
        event("k", AccessKind::Get, 1, t0 + 3 * day),
        event("k", AccessKind::Put, 1, t0 + 9 * day),
        event("k", AccessKind::Get, 1, t0 + 21 * day + HOUR),
    ])
    .unwrap();
    assert_eq!(
        gaps(),
        (
            Some(7 * day - 2 * HOUR),
            Some(14 * day),
            Some(t0 + 21 * day + HOUR)
        )
    );
}
