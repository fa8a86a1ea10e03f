//! One planning cycle end to end: a real catalog → inventory → features → p_hot → plan.

use catalog::{AccessEvent, AccessKind, CatalogConfig, NewObject, ObjectMeta, PartRef};
use planner::cost::{CostConfig, PlacementRules};
use planner::features::{DAY_MS, HOUR_MS};
use planner::model::{RuleModel, TrainConfig, choose_model, train_forest};
use planner::pipeline::{PlannerConfig, plan_cycle, plan_cycle_scored, score};
use planner::problem::MoveBudget;
use planner::source::{LoadOptions, load_inventory};
use planner::synth::three_provider_backends;
use planner::{HotModel, ModelKind};

const NOW: i64 = 20_000 * DAY_MS;

fn object(size: u64, replicas: &[&str], written_ms: i64) -> NewObject {
    NewObject {
        size,
        etag: "0".repeat(32),
        last_modified_ms: written_ms,
        parts: vec![PartRef {
            blob: format!("blobs/00/{size}-{written_ms}"),
            size,
            blake3: "0".repeat(64),
            etag: "0".repeat(32),
        }],
        replicas: replicas.iter().map(|s| s.to_string()).collect(),
        meta: ObjectMeta::default(),
    }
}

fn read(key: &str, at_ms: i64) -> AccessEvent {
    AccessEvent {
        bucket: "data".into(),
        key: key.into(),
        kind: AccessKind::Get,
        bytes: 1_000_000,
        at_ms,
    }
}

#[test]
fn catalog_to_plan() {
    let dir = tempfile::tempdir().expect("tempdir");
    let catalog =
        catalog::RedbCatalog::open(&dir.path().join("catalog.redb"), CatalogConfig::default())
            .expect("open");
    catalog
        .create_bucket("data", NOW - 100 * DAY_MS)
        .expect("bucket");
    // 30 objects written 100 days ago: "hot-*" on two cold tiers (should gain a hot replica),
    // "cold-*" on two hot tiers (should go cold), one on a backend the planner does not know.
    for i in 0..15 {
        catalog
            .put_object(
                "data",
                &format!("hot-{i:02}"),
                object(50_000_000, &["aws-cold", "gcp-cold"], NOW - 100 * DAY_MS),
            )
            .expect("put");
        catalog
            .put_object(
                "data",
                &format!("cold-{i:02}"),
                object(50_000_000, &["gcp-hot", "azure-hot"], NOW - 100 * DAY_MS),
            )
            .expect("put");
    }
    catalog
        .put_object(
            "data",
            "elsewhere",
            object(1000, &["tape-vault"], NOW - 100 * DAY_MS),
        )
        .expect("put");
    // Hot objects are read every hour of the last two days, many reads share a timestamp.
    let mut events = Vec::new();
    for h in 0..48 {
        for i in 0..15 {
            events.push(read(&format!("hot-{i:02}"), NOW - h * HOUR_MS - 1));
        }
    }
    events.push(read("no-such-object", NOW - 5));
    catalog.record_accesses(&events).expect("record");

    // Tiny pages exercise the paging at equal timestamps.
    let inv = load_inventory(
        &catalog,
        NOW,
        &LoadOptions {
            page_size: 7,
            ..LoadOptions::default()
        },
    )
    .expect("inventory");
    assert_eq!(inv.len(), 31);
    assert_eq!(
        inv.histories.total_reads(),
        48 * 15,
        "every read exactly once"
    );

    let rule = RuleModel::new(DAY_MS).expect("rule");
    let cfg = PlannerConfig {
        rules: PlacementRules::default(),
        cost: CostConfig::default(),
        budget: MoveBudget {
            max_bytes: Some(10_000_000_000),
            max_egress_usd: Some(100.0),
            max_moves: None,
        },
        ..PlannerConfig::default()
    };
    let backends = three_provider_backends();
    let plan = plan_cycle(&inv, &backends, &rule, &cfg, NOW).expect("plan");
    assert_eq!(plan.objects, 30);
    assert_eq!(
        plan.skipped, 1,
        "the object on an unknown backend is left alone"
    );
    assert_eq!(plan.model_in_use, ModelKind::Rule);
    assert!(plan.feasible, "{:?}", plan.violations);
    assert!(plan.lower_bound <= plan.objective + 1e-9);
    assert!(plan.cost_after <= plan.cost_before);
    let hot_names = ["aws-hot", "gcp-hot", "azure-hot"];
    for m in &plan.moves {
        assert_eq!(m.to.len(), 2, "RF = 2");
        let providers: Vec<&str> =
            m.to.iter()
                .map(|b| b.split('-').next().unwrap_or(""))
                .collect();
        assert_ne!(providers[0], providers[1], "provider diversity");
        let record = catalog
            .get_object("data", &m.key)
            .expect("get")
            .expect("exists");
        assert_eq!(m.generation, record.generation);
        assert_eq!(
            m.from, record.replicas,
            "from is the catalog's replica list"
        );
        assert!(m.cost_delta < 0.0);
        if m.key.starts_with("hot-") {
            assert!(m.to.iter().any(|b| hot_names.contains(&b.as_str())));
        }
    }
    assert!(plan.moves.iter().any(|m| m.key.starts_with("hot-")));
    assert!(plan.moves.iter().any(|m| m.key.starts_with("cold-")));
    assert!(
        plan.moves
            .windows(2)
            .all(|w| w[0].cost_delta <= w[1].cost_delta)
    );
    // The moves become catalog move tasks as they are.
    let tasks = plan.new_moves(Some("plan-1"));
    assert_eq!(tasks.len(), plan.moves.len());
    assert_eq!(tasks[0].plan_id.as_deref(), Some("plan-1"));
    let json = serde_json::to_string(&plan).expect("plan serialises");
    assert!(json.contains("\"model_in_use\":\"rule\""));

    // A tight byte budget is respected.
    let tight = PlannerConfig {
        budget: MoveBudget {
            max_bytes: Some(120_000_000),
            max_egress_usd: None,
            max_moves: None,
        },
        ..cfg.clone()
    };
    let plan = plan_cycle(&inv, &backends, &rule, &tight, NOW).expect("plan");
    assert!(plan.bytes_to_copy <= 120_000_000);
    assert!(plan.moves.iter().map(|m| m.bytes).sum::<u64>() <= 120_000_000);

    // A cap on moves keeps the most valuable and counts the rest as staying.
    let full = plan_cycle(&inv, &backends, &rule, &cfg, NOW).expect("plan");
    assert!(full.moves.len() >= 3, "{} moves", full.moves.len());
    let capped_cfg = PlannerConfig {
        budget: MoveBudget {
            max_moves: Some(2),
            ..cfg.budget
        },
        ..cfg.clone()
    };
    let capped = plan_cycle(&inv, &backends, &rule, &capped_cfg, NOW).expect("plan");
    assert_eq!(capped.moves, full.moves[..2]);
    assert_eq!(capped.deferred_moves, full.moves.len() - 2);
    assert_eq!(full.deferred_moves, 0);
    let deferred: f64 = full.moves[2..].iter().map(|m| m.cost_delta).sum();
    assert!((capped.cost_after - (full.cost_after - deferred)).abs() < 1e-9);

    // Scores line up with the inventory: every hot object scores above every cold one.
    let scores = score(&inv, &rule, &cfg.features, NOW).expect("score");
    assert_eq!(scores.len(), inv.len());
    let of = |prefix: &str| -> Vec<f64> {
        inv.objects
            .iter()
            .zip(&scores)
            .filter(|(o, _)| o.key.starts_with(prefix))
            .map(|(_, &p)| p)
            .collect()
    };
    let (hot, cold) = (of("hot-"), of("cold-"));
    assert_eq!((hot.len(), cold.len()), (15, 15));
    let coldest_hot = hot.iter().cloned().fold(f64::INFINITY, f64::min);
    assert!(coldest_hot > 0.9, "hot objects score {coldest_hot}");
    assert!(cold.iter().all(|&p| p == 0.0), "never-read objects score 0");
    // The plan's own scores are the same numbers, without the skipped object.
    let (again, planned) = plan_cycle_scored(&inv, &backends, &rule, &cfg, NOW).expect("plan");
    assert_eq!(
        again.moves.len(),
        plan_cycle(&inv, &backends, &rule, &cfg, NOW)
            .expect("plan")
            .moves
            .len()
    );
    for ((o, p), s) in inv.objects.iter().zip(&planned).zip(&scores) {
        match p {
            Some(p) => assert_eq!(*p, *s as f32, "{}", o.key),
            None => assert_eq!(o.key, "elsewhere"),
        }
    }

    // Two days of history are not enough to train: the rule stays in use.
    let trained = train_forest(&inv.basics, &inv.histories, NOW, &TrainConfig::default());
    let (active, status) = choose_model(rule, trained);
    assert_eq!(active.kind(), ModelKind::Rule);
    assert!(status.reason.contains("not enough"), "{}", status.reason);

    // A persisted move holds its object: the next inventory leaves it out of the plan while the task is active.
    let rule = RuleModel::new(DAY_MS).expect("rule");
    let plan = plan_cycle(&inv, &backends, &rule, &cfg, NOW).expect("plan");
    let first = plan.moves[0].clone();
    catalog
        .create_moves(plan.new_moves(Some("plan-2"))[..1].to_vec(), NOW)
        .expect("create");
    let again = load_inventory(&catalog, NOW, &LoadOptions::default()).expect("inventory");
    let held: Vec<&str> = again
        .held
        .iter()
        .map(|&i| again.objects.key(i as usize))
        .collect();
    assert_eq!(held, [first.key.as_str()]);
    let next = plan_cycle(&again, &backends, &rule, &cfg, NOW).expect("plan");
    assert_eq!(
        next.skipped, 2,
        "the unknown backend's object and the held one"
    );
    assert!(next.moves.iter().all(|m| m.key != first.key));
}

#[test]
fn a_history_keeps_the_latest_read_after_it_left_the_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let catalog =
        catalog::RedbCatalog::open(&dir.path().join("catalog.redb"), CatalogConfig::default())
            .expect("open");
    catalog
        .create_bucket("data", NOW - 200 * DAY_MS)
        .expect("bucket");
    for key in ["old-read", "recent-read", "never-read"] {
        catalog
            .put_object("data", key, object(1000, &["aws-hot"], NOW - 200 * DAY_MS))
            .expect("put");
    }
    catalog
        .record_accesses(&[
            read("old-read", NOW - 90 * DAY_MS),
            read("old-read", NOW - 60 * DAY_MS),
        ])
        .expect("record");
    // Later reads push the old ones out of the access log (14 days of retention by default).
    catalog
        .record_accesses(&[
            read("recent-read", NOW - 2 * DAY_MS),
            read("recent-read", NOW - HOUR_MS),
        ])
        .expect("record");
    assert_eq!(catalog.access_log_len().expect("len"), 2);

    let inv = load_inventory(&catalog, NOW, &LoadOptions::default()).expect("inventory");
    let by_key = |k: &str| {
        let i = inv.objects.iter().position(|o| o.key == k).expect("object");
        inv.histories.get(i).times().to_vec()
    };
    assert_eq!(
        by_key("old-read"),
        [NOW - 60 * DAY_MS],
        "only the latest read, once"
    );
    assert_eq!(by_key("recent-read"), [NOW - 2 * DAY_MS, NOW - HOUR_MS]);
    assert!(by_key("never-read").is_empty());
    // The lifetime count comes from the stats: it still knows the read that left the log.
    let lifetime = |k: &str| {
        let i = inv.objects.iter().position(|o| o.key == k).expect("object");
        inv.basics[i].lifetime_reads
    };
    assert_eq!(lifetime("old-read"), 2);
    assert_eq!(lifetime("recent-read"), 2);
    assert_eq!(lifetime("never-read"), 0);
    // So do the idle intervals between sessions of reads: 30 days for the object read twice a month apart,
    // none for the one whose two reads were one session.
    let gaps = |k: &str| {
        let i = inv.objects.iter().position(|o| o.key == k).expect("object");
        (
            inv.basics[i].read_gaps.last_days(),
            inv.basics[i].read_gaps.prev_days(),
        )
    };
    assert_eq!(gaps("old-read"), (Some(30.0), None));
    assert_eq!(
        gaps("recent-read"),
        (Some((2 * DAY_MS - HOUR_MS) as f64 / DAY_MS as f64), None)
    );
    assert_eq!(gaps("never-read"), (None, None));
}
