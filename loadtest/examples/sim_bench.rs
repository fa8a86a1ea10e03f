//! Benchmark of the generator and the simulator at scale.
//!
//! ```text
//! cargo run --release -p loadtest --example sim_bench -- \
//!     [--requests 10000000] [--objects 1000000] [--days 30] [--trace FILE]
//! ```
//!
//! Builds a profile with `objects` objects (90% at time 0, 10% arriving),
//! Zipf reads sized so the trace has about `requests` lines, writes it to
//! `FILE` (default: a temporary file), then replays it through every
//! policy and the oracle, timing each phase.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::time::Instant;

use loadtest::sim::{self, PriceTable, SimConfig, Simulator};
use loadtest::trace::TraceWriter;
use loadtest::workload::{Generator, GeneratorOptions, Profile};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let requests: f64 = arg(&args, "--requests").map_or(Ok(1e7), |s| s.parse())?;
    let objects: f64 = arg(&args, "--objects").map_or(Ok(1e6), |s| s.parse())?;
    let days: f64 = arg(&args, "--days").map_or(Ok(30.0), |s| s.parse())?;
    let keep = arg(&args, "--trace").map(PathBuf::from);
    let tmp = tempfile::tempdir()?;
    let path = keep.unwrap_or_else(|| tmp.path().join("bench.trace"));

    let initial = (objects * 0.9).round();
    let arrivals_per_day = objects * 0.1 / days;
    let deletions_per_day = objects * 0.001;
    let periodic_reads = initial * 0.05 * (days / 7.0).ceil();
    let reads_per_day =
        ((requests - objects - deletions_per_day * days - periodic_reads) / days).max(0.0);
    let text = format!(
        r#"
name = "bench"
seed = 42
duration_days = {days}
[objects]
initial = {initial}
initial_age_days = 60.0
arrivals_per_day = {arrivals_per_day}
deletions_per_day = {deletions_per_day}
size_median_bytes = 65536.0
size_sigma = 1.5
size_min_bytes = 1
size_max_bytes = 1073741824
[reads]
per_day = {reads_per_day}
zipf_exponent = 1.0
head_fraction = 0.1
range_fraction = 0.05
list_per_day = 100.0
[diurnal]
amplitude = 0.5
peak_hour = 15.0
[aging]
half_life_days = 7.0
floor = 0.05
[viral]
events_per_day = 2.0
reads_per_hour = 500.0
duration_hours = 6.0
[[periodic]]
name = "weekly"
period_days = 7.0
fraction = 0.05
spread_hours = 4.0
"#
    );
    let profile = Profile::parse(&text, Path::new("<bench>"))?;

    let t0 = Instant::now();
    let mut w = TraceWriter::new(BufWriter::with_capacity(1 << 20, File::create(&path)?));
    for ev in Generator::new(&profile, GeneratorOptions::default()) {
        w.write(&ev.record())?;
    }
    let lines = w.written();
    w.finish()?;
    let generate_s = t0.elapsed().as_secs_f64();
    let bytes = std::fs::metadata(&path)?.len();
    println!(
        "generate: {lines} requests, {:.0} MB, {generate_s:.1}s ({})",
        bytes as f64 / 1e6,
        path.display()
    );

    let t1 = Instant::now();
    let simulator = Simulator::with_builtin_policies(PriceTable::default(), SimConfig::default());
    let input = BufReader::with_capacity(1 << 20, File::open(&path)?);
    let (report, parse) = sim::replay(simulator, input)?;
    let simulate_s = t1.elapsed().as_secs_f64();
    print!("{}", report.to_table());
    println!(
        "simulate: {} records, {} objects, {} bad lines, {:.1} days, oracle max labels {}: {simulate_s:.1}s",
        report.stats.records,
        report.stats.objects,
        parse.bad(),
        report.stats.span_days,
        report.stats.oracle_max_labels
    );
    Ok(())
}
