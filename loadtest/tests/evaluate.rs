//! `strata-loadtest evaluate` on a small family: every policy on every workload, the ratios and the aggregate.

use loadtest::evaluate::{POLICIES, evaluate, load_suite};
use loadtest::sim::PriceTable;

const PROFILES: [(&str, &str); 2] = [
    (
        "a-backup.toml",
        r#"name = "backup"
duration_days = 40.0
[objects]
initial = 50
initial_age_days = 10.0
arrivals_per_day = 5.0
size_median_bytes = 50000000.0
size_sigma = 0.5
size_max_bytes = 200000000
[reads]
per_day = 1.0
zipf_exponent = 0.5
[aging]
half_life_days = 1.0
floor = 0.0001
"#,
    ),
    (
        "b-hot.toml",
        r#"name = "hot"
duration_days = 40.0
[objects]
initial = 100
size_median_bytes = 500000.0
size_sigma = 1.0
size_max_bytes = 10000000
[reads]
per_day = 2000.0
zipf_exponent = 0.6
"#,
    ),
];

#[test]
fn every_policy_on_every_workload_and_strata_never_worse_than_all_hot() {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, text) in PROFILES {
        std::fs::write(dir.path().join(name), text).expect("write profile");
    }
    std::fs::write(dir.path().join("notes.txt"), "not a profile").expect("write");
    let suite = load_suite(dir.path()).expect("suite");
    assert_eq!(suite.len(), 2, "only *.toml files");
    let mut runs = Vec::new();
    let eval = evaluate(&suite, &[7, 8], &PriceTable::default(), 100.0, |w, s| {
        runs.push((w.to_string(), s))
    })
    .expect("evaluate");
    assert_eq!(runs.len(), 4, "{runs:?}");
    assert_eq!(eval.workloads.len(), 2);
    for w in &eval.workloads {
        for p in POLICIES {
            assert!(w.policies.contains_key(p), "{} lacks {p}", w.name);
        }
        let cost = |p: &str| w.policies[p].total_cost;
        for p in POLICIES {
            assert!(
                cost("oracle") <= cost(p) * (1.0 + 1e-9),
                "{}: oracle above {p}",
                w.name
            );
        }
        assert!(
            cost("strata") <= cost("all-hot") * 1.001,
            "{}: strata {} above all-hot {}",
            w.name,
            cost("strata"),
            cost("all-hot")
        );
        assert!(w.strata_over_it().is_finite() && w.strata_over_oracle() >= 1.0 - 1e-9);
    }
    // Write-once data goes cold early: strata well below Intelligent-Tiering there.
    let backup = &eval.workloads[0];
    assert_eq!(backup.name, "backup");
    assert!(
        backup.strata_over_it() < 0.95,
        "{}",
        backup.strata_over_it()
    );
    let a = eval.aggregate();
    assert_eq!(a.workloads, 2);
    assert!(a.max_strata_over_it >= a.mean_strata_over_it);
    let j = eval.to_json();
    assert_eq!(j["workloads"].as_array().map(Vec::len), Some(2));
    assert!(j["aggregate"]["mean_strata_over_it"].is_number());
    assert!(j["workloads"][0]["policies"]["strata"]["sla_adherence"].is_number());
    assert!(eval.to_table().contains("strata/IT mean"));
}

#[test]
fn an_empty_or_missing_suite_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let err = load_suite(dir.path()).unwrap_err().to_string();
    assert!(err.contains("no *.toml"), "{err}");
    let err = load_suite(&dir.path().join("nope"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("reading suite"), "{err}");
}
