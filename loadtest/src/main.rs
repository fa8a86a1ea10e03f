//! `strata-loadtest`: generate workloads, drive S3 endpoints, simulate
//! placement policies. See the crate docs of `loadtest`.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use loadtest::cli::parse_bytes;
use loadtest::driver::{self, DriverConfig, Endpoint, Input, UploadCfg};
use loadtest::sim::{self, PriceTable, SimConfig, Simulator};
use loadtest::trace::TraceWriter;
use loadtest::workload::{Generator, GeneratorOptions, Profile};

#[derive(Parser)]
#[command(
    name = "strata-loadtest",
    version,
    about = "Workloads, S3 load driver and offline policy simulator"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Generate a trace (IBM COS format) from a workload profile.
    Generate(GenerateArgs),
    /// Drive an S3 endpoint with a workload or a trace and measure it.
    Run(Box<RunArgs>),
    /// Replay a trace through placement policies and compare their costs.
    Simulate(SimulateArgs),
    /// Simulate every workload of a family over several seeds: strata against Intelligent-Tiering and the oracle.
    Evaluate(EvaluateArgs),
    /// Catalog operations per second: the embedded catalog (redb) and, with --catalog-url, PostgreSQL.
    CatalogBench(CatalogBenchArgs),
    /// Replay a trace into a gateway on its test clock (STRATA_TEST_CLOCK=1) on the simulator's daily schedule,
    /// and print the gateway's own bill (/admin/cost) to compare with `simulate`.
    Replay(Box<ReplayArgs>),
}

#[derive(Args)]
struct ReplayArgs {
    /// IBM COS trace file.
    #[arg(long)]
    trace: PathBuf,
    /// S3 endpoint of the gateway, e.g. http://127.0.0.1:9000.
    #[arg(long)]
    endpoint: String,
    /// The same gateway's admin API, e.g. http://127.0.0.1:9001 (started with STRATA_TEST_CLOCK=1).
    #[arg(long)]
    admin_url: String,
    /// The admin API's bearer token.
    #[arg(long, env = "STRATA_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: String,
    /// Access key id.
    #[arg(long, env = "AWS_ACCESS_KEY_ID", hide_env_values = true)]
    access_key: String,
    /// Secret access key.
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    secret_key: String,
    /// SigV4 region.
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    region: String,
    /// Bucket to use (created if missing).
    #[arg(long, default_value = "strata-replay")]
    bucket: String,
    /// Writes are truncated to this size.
    #[arg(long, default_value = "64MiB", value_parser = parse_bytes)]
    max_object_bytes: u64,
    /// Longest wait for one daily tick's moves, in seconds.
    #[arg(long, default_value_t = 60.0)]
    move_timeout: f64,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct CatalogBenchArgs {
    /// Also measure a PostgreSQL catalog (postgres://USER@HOST:PORT/DB), in a fresh schema of its own.
    #[arg(long, env = "STRATA_CATALOG_URL", hide_env_values = true)]
    catalog_url: Option<String>,
    /// Threads calling the catalog at once (gateway requests in flight).
    #[arg(long, default_value_t = 8)]
    threads: usize,
    /// Objects each thread puts (and gets back).
    #[arg(long, default_value_t = 2000)]
    ops: u64,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct EvaluateArgs {
    /// Directory of workload profiles (*.toml). Default: `loadtest/suite` (the built-in family), looked up in the
    /// current directory, then beside this crate's sources.
    #[arg(long)]
    suite: Option<PathBuf>,
    /// Seeds to generate each workload with (comma-separated). Default: the report seeds 101,102,103, which no
    /// tuning has used (tuning used 1,2).
    #[arg(long, value_delimiter = ',')]
    seeds: Vec<u64>,
    /// Price table (TOML, `[[tiers]]`); default: S3 Standard, Standard-IA, Glacier IR.
    #[arg(long)]
    prices: Option<PathBuf>,
    /// First-byte latency a read must meet to count as within SLA (ms).
    #[arg(long, default_value_t = 100.0)]
    sla_ms: f64,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// Profile overrides, applied after loading and re-validated.
#[derive(Args)]
struct Overrides {
    /// Override the profile's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Override objects.initial.
    #[arg(long)]
    initial_objects: Option<u64>,
    /// Override objects.arrivals_per_day.
    #[arg(long)]
    arrivals_per_day: Option<f64>,
    /// Override objects.deletions_per_day.
    #[arg(long)]
    deletions_per_day: Option<f64>,
    /// Override reads.per_day.
    #[arg(long)]
    reads_per_day: Option<f64>,
    /// Override duration_days.
    #[arg(long)]
    duration_days: Option<f64>,
}

impl Overrides {
    fn load(&self, path: &Path) -> Result<Profile, String> {
        let mut p = Profile::load(path).map_err(|e| e.to_string())?;
        if let Some(v) = self.seed {
            p.seed = v;
        }
        if let Some(v) = self.initial_objects {
            p.objects.initial = v;
        }
        if let Some(v) = self.arrivals_per_day {
            p.objects.arrivals_per_day = v;
        }
        if let Some(v) = self.deletions_per_day {
            p.objects.deletions_per_day = v;
        }
        if let Some(v) = self.reads_per_day {
            p.reads.per_day = v;
        }
        if let Some(v) = self.duration_days {
            p.duration_days = v;
        }
        p.validate().map_err(|e| e.to_string())?;
        Ok(p)
    }
}

#[derive(Args)]
struct GenerateArgs {
    /// Workload profile (TOML).
    #[arg(long)]
    profile: PathBuf,
    /// Output trace file ("-" for stdout).
    #[arg(long, default_value = "-")]
    out: PathBuf,
    #[command(flatten)]
    overrides: Overrides,
}

#[derive(Args)]
struct RunArgs {
    /// S3 endpoint, e.g. http://127.0.0.1:9000 (plain HTTP).
    #[arg(long)]
    endpoint: String,
    /// Access key id.
    #[arg(long, env = "AWS_ACCESS_KEY_ID", hide_env_values = true)]
    access_key: String,
    /// Secret access key.
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    secret_key: String,
    /// SigV4 region.
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    region: String,
    /// Bucket to use.
    #[arg(long, default_value = "strata-loadtest")]
    bucket: String,
    /// Do not create the bucket (it must exist).
    #[arg(long)]
    no_create_bucket: bool,
    /// Prefix of every object key.
    #[arg(long, default_value = "")]
    key_prefix: String,
    /// Workload profile to generate requests from.
    #[arg(long, conflicts_with = "trace", required_unless_present = "trace")]
    workload: Option<PathBuf>,
    /// IBM COS trace file to replay.
    #[arg(long)]
    trace: Option<PathBuf>,
    /// Requests in flight at most.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Requests started per second at most (default: as fast as possible).
    #[arg(long)]
    rate: Option<f64>,
    /// Timed phase length bound in seconds.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Timed phase request bound.
    #[arg(long)]
    requests: Option<u64>,
    /// Writes at or above this size use multipart uploads.
    #[arg(long, default_value = "16MiB", value_parser = parse_bytes)]
    multipart_threshold: u64,
    /// Multipart part size (at least 5MiB).
    #[arg(long, default_value = "8MiB", value_parser = parse_bytes)]
    part_size: u64,
    /// Writes are truncated to this size.
    #[arg(long, default_value = "1GiB", value_parser = parse_bytes)]
    max_object_bytes: u64,
    /// Pre-existing objects of a trace created in setup, at most.
    #[arg(long, default_value_t = 100_000)]
    max_setup_objects: usize,
    /// Setup phase bound in seconds.
    #[arg(long, default_value_t = 300.0)]
    setup_timeout: f64,
    /// Per-request timeout in seconds.
    #[arg(long, default_value_t = 30.0)]
    op_timeout: f64,
    /// Send flexible checksums on uploads (off: only where required).
    #[arg(long)]
    checksums: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    overrides: Overrides,
}

#[derive(Args)]
struct SimulateArgs {
    /// Trace file ("-" for stdin).
    #[arg(long)]
    trace: PathBuf,
    /// Price and latency table (TOML, `[[tiers]]` with TierProfile fields);
    /// default: S3 Standard, Standard-IA, Glacier IR.
    #[arg(long)]
    prices: Option<PathBuf>,
    /// A GET is within SLA if its tier's first-byte latency is at most this.
    #[arg(long, default_value_t = 100.0)]
    sla_ms: f64,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Write a PNG chart of cumulative cost over time per policy.
    #[arg(long)]
    chart: Option<PathBuf>,
    /// Font for the chart's text (default: DejaVu Sans).
    #[arg(long)]
    font: Option<PathBuf>,
    /// Skip the oracle.
    #[arg(long)]
    no_oracle: bool,
}

fn secs(what: &str, v: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(v)
        .map_err(|_| format!("--{what} {v} is not a valid number of seconds"))
}

fn generate(a: &GenerateArgs) -> Result<(), String> {
    let profile = a.overrides.load(&a.profile)?;
    let started = Instant::now();
    let sink: Box<dyn Write> = if a.out.as_os_str() == "-" {
        Box::new(io::stdout().lock())
    } else {
        let f = File::create(&a.out).map_err(|e| format!("creating {}: {e}", a.out.display()))?;
        Box::new(f)
    };
    let mut w = TraceWriter::new(BufWriter::with_capacity(1 << 20, sink));
    let generator = Generator::new(&profile, GeneratorOptions::default());
    let population = generator.population();
    for ev in generator {
        w.write(&ev.record())
            .map_err(|e| format!("writing {}: {e}", a.out.display()))?;
    }
    let n = w.written();
    w.finish()
        .map_err(|e| format!("writing {}: {e}", a.out.display()))?;
    eprintln!(
        "generated {n} requests over {population} objects ({} days, profile {:?}) in {:.1}s",
        profile.duration_days,
        profile.name,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn run(a: &RunArgs) -> Result<(), String> {
    let input = match (&a.workload, &a.trace) {
        (Some(p), _) => Input::Workload(Box::new(a.overrides.load(p)?)),
        (None, Some(t)) => Input::Trace(t.clone()),
        (None, None) => return Err("one of --workload or --trace is required".into()),
    };
    let cfg = DriverConfig {
        endpoint: Endpoint {
            url: a.endpoint.clone(),
            access_key: a.access_key.clone(),
            secret_key: a.secret_key.clone(),
            region: a.region.clone(),
            op_timeout: secs("op-timeout", a.op_timeout)?,
            checksums: a.checksums,
        },
        bucket: a.bucket.clone(),
        create_bucket: !a.no_create_bucket,
        key_prefix: a.key_prefix.clone(),
        concurrency: a.concurrency,
        rate: a.rate,
        duration: secs("duration", a.duration)?,
        requests: a.requests,
        upload: UploadCfg {
            multipart_threshold: a.multipart_threshold,
            part_size: a.part_size,
            max_object_bytes: a.max_object_bytes,
        },
        max_setup_objects: a.max_setup_objects,
        setup_timeout: secs("setup-timeout", a.setup_timeout)?,
        progress: !a.json || std::env::var_os("STRATA_LOADTEST_PROGRESS").is_some(),
    };
    let report = block_on(driver::run(&cfg, &input))?.map_err(|e| e.to_string())?;
    if a.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.to_text());
    }
    Ok(())
}

/// Runs `fut` to completion on a multi-threaded runtime of its own.
fn block_on<F: std::future::Future>(fut: F) -> Result<F::Output, String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("starting the async runtime: {e}"))?;
    Ok(rt.block_on(fut))
}

fn replay(a: &ReplayArgs) -> Result<(), String> {
    let cfg = loadtest::replay::ReplayConfig {
        endpoint: Endpoint {
            url: a.endpoint.clone(),
            access_key: a.access_key.clone(),
            secret_key: a.secret_key.clone(),
            region: a.region.clone(),
            op_timeout: Duration::from_secs(60),
            checksums: false,
        },
        admin: loadtest::replay::AdminEndpoint {
            url: a.admin_url.clone(),
            token: a.admin_token.clone(),
        },
        bucket: a.bucket.clone(),
        upload: UploadCfg {
            multipart_threshold: 16 << 20,
            part_size: 8 << 20,
            max_object_bytes: a.max_object_bytes,
        },
        move_timeout: secs("move-timeout", a.move_timeout)?,
        progress: !a.json || std::env::var_os("STRATA_LOADTEST_PROGRESS").is_some(),
    };
    let report = block_on(loadtest::replay::replay(&cfg, &a.trace))?.map_err(|e| e.to_string())?;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?
        );
    } else {
        let b = &report.bill;
        println!(
            "replayed {} records ({} requests, {} failed, {} pre-existing objects written) over {:.1} days; \
             {} ticks, {} trainings, {} moves ({} unfinished)",
            report.records,
            report.requests,
            report.failed,
            report.preexisting,
            report.span_ms as f64 / 86_400_000.0,
            report.ticks,
            report.trainings,
            report.moves,
            report.moves_unfinished
        );
        println!(
            "gateway bill (USD): total {:.6}  storage {:.6}  retrieval {:.6}  moves {:.6}  requests {:.6}",
            b["total"].as_f64().unwrap_or(f64::NAN),
            b["storage"].as_f64().unwrap_or(f64::NAN),
            b["retrieval"].as_f64().unwrap_or(f64::NAN),
            b["moves"].as_f64().unwrap_or(f64::NAN),
            b["requests"].as_f64().unwrap_or(f64::NAN)
        );
    }
    Ok(())
}

/// Checks `--sla-ms` and loads `--prices` (or the default table).
fn price_table(sla_ms: f64, prices: Option<&Path>) -> Result<PriceTable, String> {
    if !(sla_ms.is_finite() && sla_ms >= 0.0) {
        return Err(format!("--sla-ms {sla_ms} must be a non-negative number"));
    }
    match prices {
        Some(p) => PriceTable::load(p).map_err(|e| e.to_string()),
        None => Ok(PriceTable::default()),
    }
}

fn simulate(a: &SimulateArgs) -> Result<(), String> {
    let table = price_table(a.sla_ms, a.prices.as_deref())?;
    // Fail before a long replay if the chart cannot be drawn.
    let font = match &a.chart {
        Some(_) => Some(sim::chart::find_font(a.font.as_deref()).map_err(|e| e.to_string())?),
        None => None,
    };
    let cfg = SimConfig {
        sla_ms: a.sla_ms,
        oracle: !a.no_oracle,
    };
    let simulator = Simulator::with_builtin_policies(table, cfg);
    let started = Instant::now();
    let (report, parse) = if a.trace.as_os_str() == "-" {
        sim::replay(simulator, io::stdin().lock())
    } else {
        let f = File::open(&a.trace).map_err(|e| format!("opening {}: {e}", a.trace.display()))?;
        sim::replay(simulator, BufReader::with_capacity(1 << 20, f))
    }
    .map_err(|e| format!("reading {}: {e}", a.trace.display()))?;
    let elapsed = started.elapsed().as_secs_f64();
    if let (Some(out), Some(font)) = (&a.chart, &font) {
        sim::chart::draw(&report, out, font).map_err(|e| e.to_string())?;
    }
    if a.json {
        let mut j = report.to_json();
        j["trace"] = parse.to_json();
        j["elapsed_s"] = elapsed.into();
        println!("{j}");
    } else {
        print!("{}", report.to_table());
        println!(
            "\n{} records ({} bad lines skipped), {} objects, {:.1} simulated days, SLA {} ms, {:.2}s",
            report.stats.records,
            parse.bad(),
            report.stats.objects,
            report.stats.span_days,
            report.sla_ms,
            elapsed
        );
        if let Some(out) = &a.chart {
            println!("chart: {}", out.display());
        }
    }
    if parse.bad() > 0 {
        eprintln!("warning: {} bad trace lines skipped:", parse.bad());
        for (kind, n) in parse.nonzero() {
            eprintln!("  {}: {n}", kind.name());
        }
        for ex in parse.examples.iter().take(3) {
            eprintln!("  line {} ({}): {}", ex.line, ex.kind.name(), ex.text);
        }
    }
    Ok(())
}

fn evaluate(a: &EvaluateArgs) -> Result<(), String> {
    use loadtest::evaluate;
    let table = price_table(a.sla_ms, a.prices.as_deref())?;
    let suite = match &a.suite {
        Some(s) => s.clone(),
        None => {
            let here = PathBuf::from("loadtest/suite");
            if here.is_dir() {
                here
            } else {
                Path::new(env!("CARGO_MANIFEST_DIR")).join("suite")
            }
        }
    };
    let seeds = if a.seeds.is_empty() {
        evaluate::REPORT_SEEDS.to_vec()
    } else {
        a.seeds.clone()
    };
    let profiles = evaluate::load_suite(&suite).map_err(|e| e.to_string())?;
    let started = Instant::now();
    let bar = std::io::IsTerminal::is_terminal(&io::stderr()).then(|| {
        let bar = indicatif::ProgressBar::new((profiles.len() * seeds.len()) as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let result = evaluate::evaluate(&profiles, &seeds, &table, a.sla_ms, |name, seed| {
        if let Some(b) = &bar {
            b.set_message(format!("{name} seed {seed}"));
            b.inc(1);
        }
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let eval = result.map_err(|e| e.to_string())?;
    if a.json {
        let mut j = eval.to_json();
        j["suite"] = suite.display().to_string().into();
        j["seeds"] = seeds.clone().into();
        j["elapsed_s"] = started.elapsed().as_secs_f64().into();
        println!("{j}");
    } else {
        print!("{}", eval.to_table());
        println!(
            "suite {}, seeds {:?}, SLA {} ms, {:.1}s",
            suite.display(),
            seeds,
            a.sla_ms,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

fn catalog_bench(a: &CatalogBenchArgs) -> Result<(), String> {
    use loadtest::catalog_bench;
    use std::sync::Arc;
    let threads = a.threads.max(1);
    let ops = a.ops.max(100);
    let dir = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
    let redb = catalog::RedbCatalog::open(&dir.path().join("bench.redb"), Default::default())
        .map_err(|e| format!("redb catalog: {e}"))?;
    let mut results = catalog_bench::run("redb", Arc::new(redb), threads, ops)?;
    if let Some(url) = &a.catalog_url {
        let schema = format!(
            "bench_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or(0)
        );
        let pg = catalog::PgCatalog::connect_in_schema(url, &schema, Default::default())
            .map_err(|e| format!("postgres catalog: {e}"))?;
        results.extend(catalog_bench::run("postgres", Arc::new(pg), threads, ops)?);
        eprintln!(
            "(PostgreSQL schema {schema} left in place; DROP SCHEMA {schema} CASCADE removes it)"
        );
    }
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&results).map_err(|e| e.to_string())?
        );
        return Ok(());
    }
    println!(
        "{:<10} {:<30} {:>8} {:>10} {:>12}",
        "catalog", "operation", "threads", "ops", "ops/s"
    );
    for r in &results {
        println!(
            "{:<10} {:<30} {:>8} {:>10} {:>12.0}",
            r.catalog, r.op, r.threads, r.ops, r.ops_per_sec
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.cmd {
        Cmd::Generate(a) => generate(a),
        Cmd::Run(a) => run(a),
        Cmd::Simulate(a) => simulate(a),
        Cmd::Evaluate(a) => evaluate(a),
        Cmd::CatalogBench(a) => catalog_bench(a),
        Cmd::Replay(a) => replay(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("strata-loadtest: error: {e}");
            ExitCode::FAILURE
        }
    }
}
