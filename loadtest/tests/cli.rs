//! The `strata-loadtest` binary: generate, simulate (JSON schema, chart,
//! bad input), and run's argument checks (no network needed).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_strata-loadtest");
const POLICY_FIELDS: [&str; 9] = [
    "name",
    "total_cost",
    "storage_cost",
    "request_cost",
    "retrieval_cost",
    "move_cost",
    "reads",
    "reads_within_sla",
    "sla_adherence",
];

fn profile(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("profiles")
        .join(name)
}

fn cmd(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .output()
        .expect("run strata-loadtest")
}

fn ok(args: &[&str]) -> String {
    let out = cmd(args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf8 stdout")
}

fn generate(dir: &Path, name: &str, days: &str, extra: &[&str]) -> PathBuf {
    let out = dir.join(format!("{name}.trace"));
    let p = profile(&format!("{name}.toml"));
    let mut args = vec![
        "generate",
        "--profile",
        p.to_str().expect("utf8 path"),
        "--out",
        out.to_str().expect("utf8 path"),
        "--duration-days",
        days,
        "--reads-per-day",
        "2000",
    ];
    args.extend_from_slice(extra);
    ok(&args);
    out
}

#[test]
fn generate_is_deterministic_and_seeded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = std::fs::read(generate(dir.path(), "mixed", "20", &[])).expect("read");
    let again = std::fs::read(generate(dir.path(), "mixed", "20", &[])).expect("read");
    assert_eq!(a, again, "same profile and seed, same trace");
    let other =
        std::fs::read(generate(dir.path(), "mixed", "20", &["--seed", "99"])).expect("read");
    assert_ne!(a, other, "another seed, another trace");
    // To stdout too.
    let p = profile("archive.toml");
    let text = ok(&[
        "generate",
        "--profile",
        p.to_str().expect("utf8"),
        "--duration-days",
        "3",
    ]);
    assert!(
        text.lines().all(|l| l.contains(" REST.")),
        "trace lines only on stdout"
    );
}

#[test]
fn simulate_json_has_the_documented_schema() {
    let dir = tempfile::tempdir().expect("tempdir");
    let trace = generate(dir.path(), "archive", "120", &[]);
    let out = ok(&[
        "simulate",
        "--trace",
        trace.to_str().expect("utf8"),
        "--json",
    ]);
    let j: serde_json::Value = serde_json::from_str(&out).expect("stdout is JSON");
    let policies = j["policies"].as_array().expect("policies array");
    let names: Vec<&str> = policies
        .iter()
        .map(|p| p["name"].as_str().expect("name"))
        .collect();
    assert_eq!(
        names,
        [
            "all-hot",
            "age-rules",
            "intelligent-tiering",
            "strata",
            "oracle"
        ]
    );
    for p in policies {
        let obj = p.as_object().expect("policy object");
        let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        keys.sort_unstable();
        let mut want = POLICY_FIELDS.to_vec();
        want.sort_unstable();
        assert_eq!(keys, want);
        for f in &POLICY_FIELDS[1..] {
            let v = p[f]
                .as_f64()
                .unwrap_or_else(|| panic!("{f} is not a number"));
            assert!(v.is_finite() && v >= 0.0, "{f} = {v}");
        }
        let total = p["total_cost"].as_f64().unwrap_or_default();
        let parts: f64 = [
            "storage_cost",
            "request_cost",
            "retrieval_cost",
            "move_cost",
        ]
        .iter()
        .map(|f| p[f].as_f64().unwrap_or_default())
        .sum();
        assert!((total - parts).abs() <= 1e-9 * total.max(1.0));
        assert!(p["sla_adherence"].as_f64().unwrap_or(2.0) <= 1.0);
        assert!(p["reads"].as_u64().unwrap_or(0) > 0);
    }
    // strata is a real policy now: nothing is unavailable.
    assert_eq!(j["unavailable"], serde_json::json!([]));
    assert!(j["trace"]["records"].as_u64().unwrap_or(0) > 0);
    assert_eq!(j["trace"]["bad"], 0);
}

#[test]
fn simulate_counts_bad_lines_and_honours_prices_and_sla() {
    let dir = tempfile::tempdir().expect("tempdir");
    let trace = dir.path().join("t.trace");
    std::fs::write(
        &trace,
        "0 REST.PUT.OBJECT a 1000000000\n\
         garbage\n\
         5 REST.FOO.OBJECT a\n\
         8640000000 REST.GET.OBJECT a 1000000000\n",
    )
    .expect("write");
    // Glacier IR at 400 ms: age-rules' day-100 read misses a 100 ms SLA.
    let mut table = String::new();
    for (class, latency) in [
        ("STANDARD", 20.0),
        ("STANDARD_IA", 20.0),
        ("GLACIER_IR", 400.0),
    ] {
        let t = match class {
            "STANDARD" => tiers::TierProfile::s3_standard(),
            "STANDARD_IA" => tiers::TierProfile::s3_standard_ia(),
            _ => tiers::TierProfile::s3_glacier_ir(),
        };
        table.push_str(&format!(
            "[[tiers]]\nprovider = \"aws\"\nstorage_class = \"{class}\"\nstorage_gb_month = {}\n\
             put_per_1k = {}\nget_per_1k = {}\nretrieval_per_gb = {}\negress_per_gb = {}\n\
             min_storage_days = {}\nfirst_byte_latency_ms = {latency}\n\n",
            t.storage_gb_month,
            t.put_per_1k,
            t.get_per_1k,
            t.retrieval_per_gb,
            t.egress_per_gb,
            t.min_storage_days
        ));
    }
    let prices = dir.path().join("prices.toml");
    std::fs::write(&prices, table).expect("write");
    let out = cmd(&[
        "simulate",
        "--trace",
        trace.to_str().expect("utf8"),
        "--prices",
        prices.to_str().expect("utf8"),
        "--json",
    ]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("2 bad trace lines"), "{stderr}");
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(j["trace"]["bad_by_kind"]["missing_fields"], 1);
    assert_eq!(j["trace"]["bad_by_kind"]["unknown_op"], 1);
    let age = &j["policies"][1];
    assert_eq!(age["name"], "age-rules");
    assert_eq!(age["reads"], 1);
    assert_eq!(age["reads_within_sla"], 0);
    assert_eq!(j["policies"][0]["sla_adherence"], 1.0);

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[[tiers]]\nprovider = 1\n").expect("write");
    let out = cmd(&[
        "simulate",
        "--trace",
        trace.to_str().expect("utf8"),
        "--prices",
        bad.to_str().expect("utf8"),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("parsing price table"));
    let out = cmd(&["simulate", "--trace", "/nonexistent/trace"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("opening /nonexistent/trace"));
}

#[test]
fn simulate_draws_a_png_chart_or_says_which_font_is_missing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let trace = generate(dir.path(), "web", "20", &[]);
    let png = dir.path().join("cost.png");
    let args = [
        "simulate",
        "--trace",
        trace.to_str().expect("utf8"),
        "--chart",
        png.to_str().expect("utf8"),
    ];
    if loadtest::sim::chart::find_font(None).is_ok() {
        ok(&args);
        let bytes = std::fs::read(&png).expect("chart written");
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        assert!(bytes.len() > 10_000);
    }
    let mut with_missing_font = args.to_vec();
    with_missing_font.extend_from_slice(&["--font", "/nonexistent/font.ttf"]);
    let out = cmd(&with_missing_font);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("fonts-dejavu-core"), "{err}");
}

#[test]
fn run_rejects_bad_endpoints_and_missing_credentials_before_any_request() {
    let p = profile("web.toml");
    let p = p.to_str().expect("utf8");
    let out = cmd(&[
        "run",
        "--endpoint",
        "https://127.0.0.1:1",
        "--access-key",
        "a",
        "--secret-key",
        "b",
        "--workload",
        p,
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("only http://"));
    let out = cmd(&["run", "--endpoint", "http://127.0.0.1:1", "--workload", p]);
    assert!(!out.status.success(), "credentials are required");
    let out = cmd(&[
        "run",
        "--endpoint",
        "http://127.0.0.1:1",
        "--access-key",
        "a",
        "--secret-key",
        "b",
        "--workload",
        p,
        "--concurrency",
        "0",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("concurrency 0"));
}
