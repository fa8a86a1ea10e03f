//! Operator commands that talk to a running gateway's admin API: `strata status`, `strata objects`,
//! `strata chaos`, `strata moves`, `strata plan`, `strata keys`, `strata scrub`. Each prints a human table by default
//! and the API's JSON with `--json`. Waiting for long operations (`plan --apply --wait`, `keys rotate --wait`,
//! `scrub`) shows a progress bar, only when stdout is a terminal and without `--json`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::admin_api as api;

/// Where the admin API is and how to authenticate.
#[derive(clap::Args, Debug, Clone)]
pub struct AdminOpts {
    /// Admin API base URL.
    #[arg(
        long = "admin",
        env = "STRATA_ADMIN_URL",
        default_value = "http://127.0.0.1:9001",
        global = true
    )]
    pub url: String,
    /// Admin bearer token (default: STRATA_ADMIN_TOKEN, else the one stored in the data dir).
    #[arg(
        long,
        env = "STRATA_ADMIN_TOKEN",
        hide_env_values = true,
        global = true
    )]
    pub token: Option<String>,
    /// Data dir to read the stored admin token from when no token is given.
    #[arg(long = "data-dir", default_value = "./strata-data", global = true)]
    pub data_dir: PathBuf,
    /// Print the API's JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
}

/// A minimal JSON client for the admin API (plain HTTP; the admin port is meant for loopback or a private net).
pub struct AdminClient {
    base: String,
    token: String,
    http: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
}

impl AdminClient {
    pub fn new(opts: &AdminOpts) -> anyhow::Result<AdminClient> {
        let token = match &opts.token {
            Some(t) => t.clone(),
            None => stored_token(&opts.data_dir)?,
        };
        let base = opts.url.trim_end_matches('/').to_owned();
        if !base.starts_with("http://") {
            bail!("--admin must be an http:// URL, got {base:?}");
        }
        Ok(AdminClient {
            base,
            token,
            http: Client::builder(TokioExecutor::new()).build_http(),
        })
    }

    /// Sends a request and returns the JSON body of a 2xx answer; anything else is a clear error.
    pub async fn call(
        &self,
        method: http::Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> anyhow::Result<Value> {
        self.call_within(method, path, body, Duration::from_secs(30))
            .await
    }

    /// [`AdminClient::call`] for requests that may take longer than 30 s (a scrub pass).
    pub async fn call_within(
        &self,
        method: http::Method,
        path: &str,
        body: Option<Vec<u8>>,
        timeout: Duration,
    ) -> anyhow::Result<Value> {
        let url = format!("{}{}", self.base, path);
        let mut req = http::Request::builder()
            .method(method.clone())
            .uri(&url)
            .header(
                http::header::AUTHORIZATION,
                format!("Bearer {}", self.token),
            );
        if body.is_some() {
            req = req.header(http::header::CONTENT_TYPE, "application/json");
        }
        let req = req.body(Full::new(Bytes::from(body.unwrap_or_default())))?;
        let resp = tokio::time::timeout(timeout, self.http.request(req))
            .await
            .map_err(|_| {
                anyhow::anyhow!(
                    "the admin API at {} did not answer within {} s",
                    self.base,
                    timeout.as_secs()
                )
            })?
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot reach the admin API at {}: {}",
                    self.base,
                    error_chain(&e)
                )
            })?;
        let status = resp.status();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .context("reading the admin API's answer")?
            .to_bytes();
        let json: Value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        if status == http::StatusCode::UNAUTHORIZED {
            bail!("the admin API refused the token (401): check --token / STRATA_ADMIN_TOKEN");
        }
        if !status.is_success() {
            let (code, msg) = match serde_json::from_value::<api::Error>(json.clone()) {
                Ok(e) => (e.error, e.message),
                Err(_) => ("error".to_owned(), s(&json)),
            };
            bail!("{method} {path}: {status} {code}: {msg}");
        }
        Ok(json)
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.call(http::Method::GET, path, None).await
    }

    /// `GET path`, read as the admin API's type for it.
    pub async fn get_as<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        typed(&self.get(path).await?, path)
    }
}

/// An answer of the admin API read as its contract type ([`crate::admin_api`]); a clear error when it is not one
/// (a gateway of another version).
fn typed<T: DeserializeOwned>(v: &Value, path: &str) -> anyhow::Result<T> {
    T::deserialize(v).with_context(|| {
        format!(
            "the admin API's answer to {path} is not a {} (is the gateway another version?)",
            std::any::type_name::<T>().rsplit("::").next().unwrap_or("")
        )
    })
}

/// A value as its JSON spelling (an enum's serde name).
fn name<T: serde::Serialize>(v: &T) -> String {
    s(&serde_json::to_value(v).unwrap_or(Value::Null))
}

/// An optional value for a table cell (`-` when absent).
fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_owned(), |x| x.to_string())
}

fn stored_token(data_dir: &Path) -> anyhow::Result<String> {
    let path = data_dir.join("credentials.json");
    let bytes = std::fs::read(&path).with_context(|| {
        format!(
            "no admin token given (--token or STRATA_ADMIN_TOKEN) and cannot read {}",
            path.display()
        )
    })?;
    let v: Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not JSON", path.display()))?;
    v.get("admin_token")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .with_context(|| format!("{} has no admin_token", path.display()))
}

/// An error and its sources on one line ("client error (Connect): tcp connect error: Connection refused").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// A progress bar drawn on stdout when it is a terminal and the output is not `--json`; hidden otherwise.
fn progress_bar(opts: &AdminOpts, len: u64, what: &str) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if opts.json || !std::io::stdout().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let pb = indicatif::ProgressBar::with_draw_target(
        Some(len),
        indicatif::ProgressDrawTarget::stdout(),
    );
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} {msg}",
    ) {
        pb.set_style(style);
    }
    pb.set_prefix(what.to_owned());
    pb.enable_steady_tick(Duration::from_millis(200));
    pb
}

/// How often waiting commands ask the gateway again.
const POLL: Duration = Duration::from_millis(300);

fn print_json(v: &Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

/// Prints rows as a left-aligned table with a header.
pub fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
    }
    let line = |cells: Vec<String>| {
        let s: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect();
        println!("{}", s.join("  ").trim_end());
    };
    line(header.iter().map(|h| h.to_string()).collect());
    for r in rows {
        line(r.clone());
    }
}

fn s(v: &Value) -> String {
    match v {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(s).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

/// `strata status`.
pub async fn status(opts: &AdminOpts) -> anyhow::Result<()> {
    let c = AdminClient::new(opts)?;
    let h = c.get("/admin/health?deep=true").await?;
    if opts.json {
        print_json(&h);
        return Ok(());
    }
    let h: api::Health = typed(&h, "/admin/health")?;
    println!(
        "status {}  version {}  uptime {} s",
        h.status, h.version, h.uptime_s
    );
    if let Some(c) = &h.catalog {
        println!(
            "buckets {}  objects {}  blobs {}  garbage pending {}",
            c.buckets, c.objects, c.blobs_referenced, c.garbage_pending
        );
    }
    let rows: Vec<Vec<String>> = h
        .backends
        .iter()
        .map(|b| {
            vec![
                b.name.clone(),
                b.provider.clone(),
                b.storage_class.clone(),
                b.profile.storage_gb_month.to_string(),
                b.active_key_id.to_string(),
            ]
        })
        .collect();
    print_table(
        &["BACKEND", "PROVIDER", "CLASS", "$/GB-MONTH", "KEY"],
        &rows,
    );
    Ok(())
}

/// `strata objects ls` / `strata objects show`.
pub async fn objects(opts: &AdminOpts, cmd: ObjectsCmd) -> anyhow::Result<()> {
    let c = AdminClient::new(opts)?;
    match cmd {
        ObjectsCmd::Ls {
            bucket,
            prefix,
            limit,
            backend,
            min_heat,
            max_heat,
            tag,
            after,
        } => {
            let mut path = format!("/admin/objects?bucket={}&limit={limit}", enc(&bucket));
            for (name, value) in [
                ("prefix", prefix),
                ("backend", backend),
                ("min_heat", min_heat.map(|h| h.to_string())),
                ("max_heat", max_heat.map(|h| h.to_string())),
                ("tag", tag),
                ("after", after),
            ] {
                if let Some(v) = value {
                    path.push_str(&format!("&{name}={}", enc(&v)));
                }
            }
            let v = c.get(&path).await?;
            if opts.json {
                print_json(&v);
                return Ok(());
            }
            let page: api::ObjectPage = typed(&v, "/admin/objects")?;
            let rows: Vec<Vec<String>> = page
                .objects
                .iter()
                .map(|o| {
                    vec![
                        o.key.clone(),
                        o.size.to_string(),
                        o.replicas.join(","),
                        format!("{:.3}", o.heat),
                        o.reads.to_string(),
                    ]
                })
                .collect();
            print_table(&["KEY", "SIZE", "REPLICAS", "HEAT", "READS"], &rows);
            if page.is_truncated {
                println!("(more: --after {})", opt(page.next_after));
            }
        }
        ObjectsCmd::Show { object } => {
            let (bucket, key) = object
                .split_once('/')
                .filter(|(b, k)| !b.is_empty() && !k.is_empty())
                .with_context(|| format!("expected BUCKET/KEY, got {object:?}"))?;
            let v = c
                .get(&format!("/admin/objects/{}/{}", enc(bucket), enc_key(key)))
                .await?;
            if opts.json {
                print_json(&v);
                return Ok(());
            }
            let object: api::Object = typed(&v, "/admin/objects/{bucket}/{key}")?;
            if let Value::Object(map) = serde_json::to_value(&object)? {
                let rows: Vec<Vec<String>> =
                    map.iter().map(|(k, v)| vec![k.clone(), s(v)]).collect();
                print_table(&["FIELD", "VALUE"], &rows);
            }
        }
    }
    Ok(())
}

/// `strata chaos show|set|clear`.
pub async fn chaos(opts: &AdminOpts, cmd: ChaosCmd) -> anyhow::Result<()> {
    let c = AdminClient::new(opts)?;
    let v = match cmd {
        ChaosCmd::Show => {
            let config = c.get("/admin/chaos").await?;
            let stats = c.get("/admin/chaos/stats").await?;
            if opts.json {
                print_json(&serde_json::json!({ "config": config, "stats": stats }));
                return Ok(());
            }
            let stats: api::ChaosStats = typed(&stats, "/admin/chaos/stats")?;
            let rows: Vec<Vec<String>> = stats
                .rules
                .iter()
                .map(|r| {
                    vec![
                        r.id.clone(),
                        r.backend.clone(),
                        r.fault_type.clone(),
                        r.injected.to_string(),
                    ]
                })
                .collect();
            print_table(&["RULE", "BACKEND", "FAULT", "INJECTED"], &rows);
            println!("total injected since start: {}", stats.total_injected);
            return Ok(());
        }
        ChaosCmd::Set { file } => {
            let config = read_chaos_file(&file)?;
            c.call(
                http::Method::PUT,
                "/admin/chaos",
                Some(serde_json::to_vec(&config)?),
            )
            .await?
        }
        ChaosCmd::Clear => c.call(http::Method::DELETE, "/admin/chaos", None).await?,
    };
    if opts.json {
        print_json(&v);
    } else {
        let config: api::ChaosConfig = typed(&v, "/admin/chaos")?;
        println!("{} chaos rule(s) installed", config.rules.len());
    }
    Ok(())
}

/// `strata moves`.
pub async fn moves(opts: &AdminOpts, active: bool, limit: usize) -> anyhow::Result<()> {
    let c = AdminClient::new(opts)?;
    let v = c
        .get(&format!(
            "/admin/moves?limit={limit}{}",
            if active { "&active=true" } else { "" }
        ))
        .await?;
    if opts.json {
        print_json(&v);
        return Ok(());
    }
    let moves: api::Moves = typed(&v, "/admin/moves")?;
    let rows: Vec<Vec<String>> = moves
        .moves
        .iter()
        .map(|m| {
            vec![
                m.id.to_string(),
                name(&m.state),
                format!("{}/{}", m.bucket, m.key),
                m.from.join(","),
                m.to.join(","),
                m.bytes.to_string(),
                m.attempts.to_string(),
                opt(m.reason.as_deref()),
            ]
        })
        .collect();
    print_table(
        &[
            "ID", "STATE", "OBJECT", "FROM", "TO", "BYTES", "TRIES", "REASON",
        ],
        &rows,
    );
    Ok(())
}

/// `strata plan [--apply [--wait]]`: prints the plan (moves, bytes, cost now → after, lower bound, gap); applies it
/// only with `--apply`; `--wait` then waits until every created move task has finished.
pub async fn plan(opts: &AdminOpts, apply: bool, wait: bool) -> anyhow::Result<()> {
    let c = AdminClient::new(opts)?;
    let v = if apply {
        c.call(http::Method::POST, "/admin/plan/apply", None)
            .await?
    } else {
        c.get("/admin/plan").await?
    };
    let (plan, created): (api::Plan, Vec<u64>) = if apply {
        let applied: api::PlanApplied = typed(&v, "/admin/plan/apply")?;
        (applied.plan, applied.created.iter().map(|m| m.id).collect())
    } else {
        (typed(&v, "/admin/plan")?, Vec::new())
    };
    if opts.json {
        print_json(&v);
        if wait {
            wait_for_moves(&c, opts, &created).await?;
        }
        return Ok(());
    }
    let rows: Vec<Vec<String>> = plan
        .moves
        .iter()
        .map(|m| {
            vec![
                format!("{}/{}", m.bucket, m.key),
                m.from.join(","),
                m.to.join(","),
                m.bytes.to_string(),
                format!("{:.6}", m.cost_delta),
            ]
        })
        .collect();
    print_table(&["OBJECT", "FROM", "TO", "BYTES", "COST DELTA $"], &rows);
    let bytes: u64 = plan.moves.iter().map(|m| m.bytes).sum();
    println!(
        "{} move(s), {} bytes; cost ${:.6} -> ${:.6} (lower bound ${:.6}, gap {:.4}%); model: {}",
        plan.moves.len(),
        bytes,
        plan.cost_before,
        plan.cost_after,
        plan.lower_bound,
        plan.gap * 100.0,
        name(&plan.model_in_use),
    );
    if apply {
        println!(
            "applied: {} move task(s) created (see `strata moves`)",
            created.len()
        );
        if wait {
            let (done, aborted) = wait_for_moves(&c, opts, &created).await?;
            println!("finished: {done} move(s) committed, {aborted} aborted");
        }
    } else {
        println!("dry run: nothing changed (add --apply to move)");
    }
    Ok(())
}

/// `strata keys status` / `strata keys rotate --backend NAME`.
pub async fn keys(opts: &AdminOpts, cmd: KeysCmd) -> anyhow::Result<()> {
    let c = AdminClient::new(opts)?;
    match cmd {
        KeysCmd::Rotate { backend, wait } => {
            let body = serde_json::to_vec(&api::KeyRotate {
                backend: backend.clone(),
            })?;
            let v = c
                .call(http::Method::POST, "/admin/keys/rotate", Some(body))
                .await?;
            if opts.json {
                print_json(&v);
            } else {
                let r: api::KeyRotated = typed(&v, "/admin/keys/rotate")?;
                println!(
                    "backend {} now writes with key {}; older blobs are re-sealed in the background (see `strata keys status`)",
                    r.backend, r.active_key_id
                );
            }
            if wait {
                let resealed = wait_for_reseal(&c, opts, &backend).await?;
                if !opts.json {
                    println!(
                        "re-sealed: every blob of {backend} is under its active key ({resealed} re-sealed while waiting)"
                    );
                }
            }
        }
        KeysCmd::Status => {
            let v = c.get("/admin/keys").await?;
            if opts.json {
                print_json(&v);
                return Ok(());
            }
            let keys: api::Keys = typed(&v, "/admin/keys")?;
            let rows: Vec<Vec<String>> = keys
                .backends
                .iter()
                .map(|b| {
                    let ids: Vec<String> = b.key_ids.iter().map(u32::to_string).collect();
                    vec![b.name.clone(), b.active_key_id.to_string(), ids.join(",")]
                })
                .collect();
            print_table(&["BACKEND", "ACTIVE KEY", "KEYS"], &rows);
            println!(
                "re-seal: {}",
                serde_json::to_string(&keys.reseal).unwrap_or_default()
            );
        }
    }
    Ok(())
}

/// Waits until none of the move tasks `ids` is active; returns (committed, aborted) among them.
async fn wait_for_moves(
    c: &AdminClient,
    opts: &AdminOpts,
    ids: &[u64],
) -> anyhow::Result<(usize, usize)> {
    let pb = progress_bar(opts, ids.len() as u64, "moves");
    let ours = |m: api::Moves| -> Vec<api::MoveTask> {
        m.moves
            .into_iter()
            .filter(|m| ids.contains(&m.id))
            .collect()
    };
    loop {
        let active = ours(c.get_as("/admin/moves?active=true&limit=1000000").await?);
        pb.set_position((ids.len() - active.len()) as u64);
        if active.is_empty() {
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    pb.finish_and_clear();
    let limit = ids.len() + 1000;
    let all = ours(c.get_as(&format!("/admin/moves?limit={limit}")).await?);
    let aborted = all
        .iter()
        .filter(|m| m.state == catalog::MoveState::Aborted)
        .count();
    Ok((ids.len() - aborted, aborted))
}

/// Waits until every blob of `backend` is known to be sealed with its active key; returns the blobs re-sealed
/// meanwhile.
async fn wait_for_reseal(c: &AdminClient, opts: &AdminOpts, backend: &str) -> anyhow::Result<u64> {
    let status = async || -> anyhow::Result<engine::reseal::ResealProgress> {
        let keys: api::Keys = c.get_as("/admin/keys").await?;
        keys.reseal
            .backends
            .get(backend)
            .cloned()
            .with_context(|| format!("the gateway reports no backend {backend:?}"))
    };
    let start = status().await?.blobs_resealed;
    let pb = progress_bar(opts, 0, &format!("re-seal {backend}"));
    loop {
        let st = status().await?;
        let done = st.blobs_resealed.saturating_sub(start);
        pb.set_length(done + st.blobs_pending_estimate.unwrap_or(0));
        pb.set_position(done);
        if st.complete {
            pb.finish_and_clear();
            return Ok(done);
        }
        tokio::time::sleep(POLL).await;
    }
}

/// `strata scrub [--status]`: runs one scrub pass now (progress bar while it runs) and prints its report, or with
/// `--status` the scrubber's counters and last run.
pub async fn scrub(opts: &AdminOpts, status_only: bool) -> anyhow::Result<()> {
    let c = AdminClient::new(opts)?;
    let v = if status_only {
        c.get("/admin/scrub").await?
    } else {
        let health: api::Health = c.get_as("/admin/health?deep=true").await?;
        let total = health.catalog.map_or(0, |c| c.objects);
        let pb = progress_bar(opts, total, "scrub");
        let run = c.call_within(
            http::Method::POST,
            "/admin/scrub",
            None,
            Duration::from_secs(24 * 3600),
        );
        tokio::pin!(run);
        let report = loop {
            tokio::select! {
                r = &mut run => break r?,
                () = tokio::time::sleep(POLL) => {
                    if let Ok(st) = c.get_as::<api::ScrubStatus>("/admin/scrub").await
                        && let Some(pass) = st.current_pass
                    {
                        pb.set_position(pass.objects_checked);
                    }
                }
            }
        };
        pb.finish_and_clear();
        report
    };
    if opts.json {
        print_json(&v);
        return Ok(());
    }
    let counts = if status_only {
        let st: api::ScrubStatus = typed(&v, "/admin/scrub")?;
        println!(
            "running {}  passes {}  last run {} -> {}",
            st.running,
            st.passes,
            opt(st.last_run_start_ms),
            opt(st.last_run_end_ms)
        );
        st.last_report.map_or(st.totals, |r| r.counts)
    } else {
        typed::<api::ScrubReport>(&v, "/admin/scrub")?.counts
    };
    println!(
        "objects checked {}  replicas checked {}  bad {}  missing {}  healed {}  heal failures {}  transient errors {}",
        counts.objects_checked,
        counts.replicas_checked,
        counts.bad_found,
        counts.missing_found,
        counts.healed,
        counts.heal_failures,
        counts.transient_errors,
    );
    Ok(())
}

/// `strata lifecycle [--run]`: the lifecycle passes' counters (the last pass and the totals since start), or with
/// `--run` one pass now and what it did.
pub async fn lifecycle(opts: &AdminOpts, run_now: bool) -> anyhow::Result<()> {
    let c = AdminClient::new(opts)?;
    let v = if run_now {
        c.call_within(
            http::Method::POST,
            "/admin/lifecycle/run",
            None,
            Duration::from_secs(24 * 3600),
        )
        .await?
    } else {
        c.get("/admin/lifecycle").await?
    };
    if opts.json {
        print_json(&v);
        return Ok(());
    }
    let line = |what: &str, r: &api::LifecycleReport| {
        println!(
            "{what}: buckets {}  expired {}  noncurrent deleted {}  delete markers removed {}  uploads aborted {}  \
             locked {}  changed {}  errors {}",
            r.buckets,
            r.expired,
            r.noncurrent_deleted,
            r.delete_markers_removed,
            r.uploads_aborted,
            r.locked,
            r.changed,
            r.errors
        )
    };
    if run_now {
        line(
            "pass",
            &typed::<api::LifecycleReport>(&v, "/admin/lifecycle/run")?,
        );
    } else {
        let st: api::LifecycleStatus = typed(&v, "/admin/lifecycle")?;
        println!("passes {}  last pass {}", st.passes, opt(st.last_pass_ms));
        line("last", &st.last);
        line("total", &st.total);
    }
    Ok(())
}

/// `strata model [--retrain]`: the `p_hot` model in use, why, and its validation against the rule; with
/// `--retrain`, trains the forest now first (a spinner on a terminal while it runs).
pub async fn model(opts: &AdminOpts, retrain: bool) -> anyhow::Result<()> {
    let c = AdminClient::new(opts)?;
    let v = if retrain {
        let pb = progress_bar(opts, 0, "training the forest");
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{prefix} [{elapsed_precise}] {spinner}")
        {
            pb.set_style(style);
        }
        let r = c
            .call_within(
                http::Method::POST,
                "/admin/model/retrain",
                None,
                Duration::from_secs(3600),
            )
            .await;
        pb.finish_and_clear();
        r?
    } else {
        c.get("/admin/model").await?
    };
    if opts.json {
        print_json(&v);
        return Ok(());
    }
    let m: api::ModelReport = typed(&v, "/admin/model")?;
    println!("model in use: {}  ({})", name(&m.in_use), m.reason);
    let hours = m.horizon_ms as f64 / 3_600_000.0;
    println!(
        "p_hot = P(read within {hours} h); trained at {}; objects scored {} at {}",
        opt(m.trained_at_ms),
        m.scored_objects,
        opt(m.scored_at_ms)
    );
    if let Some(x) = &m.metrics {
        let f = |v: f64| format!("{v:.4}");
        println!(
            "validation: {} examples ({} read), threshold {}",
            x.n_valid,
            x.n_valid_positive,
            f(x.threshold)
        );
        print_table(
            &["model", "AUC", "precision", "recall", "reads MAE"],
            &[
                vec![
                    "forest".into(),
                    f(x.auc),
                    f(x.precision),
                    f(x.recall),
                    f(x.reads_mae),
                ],
                vec![
                    "rule".into(),
                    f(x.rule_auc),
                    f(x.rule_precision),
                    f(x.rule_recall),
                    f(x.rule_reads_mae),
                ],
            ],
        );
    }
    if let Some(a) = &m.last_attempt {
        println!(
            "last training: {} at {} ({} ms): {}",
            name(&a.outcome),
            a.at_ms,
            a.duration_ms,
            a.message
        );
    }
    Ok(())
}

/// Reads chaos rules from JSON (the admin schema) or TOML (`[[rules]]`, or a whole config with a `[chaos]` section).
pub fn read_chaos_file(path: &Path) -> anyhow::Result<chaos::ChaosConfig> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    if path.extension().is_some_and(|e| e == "json") {
        return serde_json::from_str(&text)
            .with_context(|| format!("{} is not a valid chaos config", path.display()));
    }
    let value: toml::Value =
        toml::from_str(&text).with_context(|| format!("{} is not valid TOML", path.display()))?;
    let section = value.get("chaos").cloned().unwrap_or(value);
    section
        .try_into()
        .with_context(|| format!("{} is not a valid chaos config", path.display()))
}

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Encodes a key for a URL path, keeping '/' so the admin route sees BUCKET/KEY.
fn enc_key(s: &str) -> String {
    s.split('/').map(enc).collect::<Vec<_>>().join("/")
}

#[derive(clap::Subcommand, Debug)]
pub enum ObjectsCmd {
    /// List objects of a bucket with placement and heat.
    Ls {
        bucket: String,
        #[arg(long)]
        prefix: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Only objects with a replica on this backend.
        #[arg(long)]
        backend: Option<String>,
        /// Only objects at least this hot now (heat: +1 per read, halving every half-life).
        #[arg(long)]
        min_heat: Option<f64>,
        /// Only objects less hot than this now.
        #[arg(long)]
        max_heat: Option<f64>,
        /// Only objects with this tag: KEY (any value) or KEY=VALUE.
        #[arg(long)]
        tag: Option<String>,
        /// Start after this key (the `next_after` of the previous page).
        #[arg(long)]
        after: Option<String>,
    },
    /// Show one object: BUCKET/KEY.
    Show { object: String },
}

#[derive(clap::Subcommand, Debug)]
pub enum KeysCmd {
    /// Add a key to a backend's keyring and make it the one new writes use.
    Rotate {
        #[arg(long)]
        backend: String,
        /// Wait until every blob of the backend is re-sealed under the new key.
        #[arg(long)]
        wait: bool,
    },
    /// Keys per backend and the progress of re-sealing.
    Status,
}

#[derive(clap::Subcommand, Debug)]
pub enum UsersCmd {
    /// The S3 users: access key, access level, grants, and whether the admin API manages them (never secrets).
    Ls,
    /// Create an S3 user; prints its secret key (shown this once).
    Add {
        access_key: String,
        /// At least 8 characters; generated when absent.
        #[arg(long)]
        secret_key: Option<String>,
        /// Reads only.
        #[arg(long)]
        read_only: bool,
        /// A per-bucket grant, BUCKET=PERMISSION[,PERMISSION...] (read, write, list, admin); BUCKET may end in '*'.
        /// Repeatable; without any the user may touch every bucket.
        #[arg(long = "grant")]
        grants: Vec<String>,
    },
    /// Remove a user created with `strata users add` (config users and root stay).
    Rm { access_key: String },
}

/// Parses `BUCKET=read,list` into a grant.
fn parse_grant(text: &str) -> anyhow::Result<crate::config::Grant> {
    let (bucket, perms) = text
        .split_once('=')
        .with_context(|| format!("--grant {text:?}: expected BUCKET=PERMISSION[,PERMISSION...]"))?;
    let allow = perms
        .split(',')
        .map(|p| {
            serde_json::from_value(Value::String(p.trim().to_owned())).with_context(|| {
                format!("--grant {text:?}: {p:?} is not one of read, write, list, admin")
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(crate::config::Grant {
        bucket: bucket.to_owned(),
        allow,
    })
}

/// `strata users ls|add|rm`.
pub async fn users(opts: &AdminOpts, cmd: UsersCmd) -> anyhow::Result<()> {
    let c = AdminClient::new(opts)?;
    match cmd {
        UsersCmd::Ls => {
            let v = c.get("/admin/users").await?;
            if opts.json {
                print_json(&v);
                return Ok(());
            }
            let users: api::Users = typed(&v, "/admin/users")?;
            let rows: Vec<Vec<String>> = users
                .users
                .iter()
                .map(|u| {
                    let grants = match &u.grants {
                        None => "every bucket".to_owned(),
                        Some(gs) => gs
                            .iter()
                            .map(|g| {
                                let allow: Vec<String> =
                                    g.allow.iter().map(|p| s(&serde_json::json!(p))).collect();
                                format!("{}={}", g.bucket, allow.join(","))
                            })
                            .collect::<Vec<_>>()
                            .join(" "),
                    };
                    vec![
                        u.access_key.clone(),
                        s(&serde_json::json!(u.access)),
                        if u.managed { "admin API" } else { "config" }.to_owned(),
                        grants,
                    ]
                })
                .collect();
            print_table(&["ACCESS KEY", "ACCESS", "FROM", "GRANTS"], &rows);
        }
        UsersCmd::Add {
            access_key,
            secret_key,
            read_only,
            grants,
        } => {
            let grants = if grants.is_empty() {
                None
            } else {
                Some(
                    grants
                        .iter()
                        .map(|g| parse_grant(g))
                        .collect::<anyhow::Result<Vec<_>>>()?,
                )
            };
            let body = serde_json::to_vec(&api::NewUser {
                access_key,
                secret_key,
                access: if read_only {
                    crate::config::AccessLevel::ReadOnly
                } else {
                    crate::config::AccessLevel::Full
                },
                grants,
            })?;
            let v = c
                .call(http::Method::POST, "/admin/users", Some(body))
                .await?;
            if opts.json {
                print_json(&v);
                return Ok(());
            }
            let u: api::CreatedUser = typed(&v, "/admin/users")?;
            println!("created user {}", u.access_key);
            println!("  secret key: {}  (shown this once)", u.secret_key);
        }
        UsersCmd::Rm { access_key } => {
            c.call(
                http::Method::DELETE,
                &format!("/admin/users/{}", enc(&access_key)),
                None,
            )
            .await?;
            if !opts.json {
                println!("removed user {access_key}");
            }
        }
    }
    Ok(())
}

#[derive(clap::Subcommand, Debug)]
pub enum ClusterCmd {
    /// The nodes sharing the running gateway's catalog, their heartbeats, and the leader.
    Status {
        #[command(flatten)]
        admin: AdminOpts,
    },
    /// Create (or migrate) the shared catalog's schema in PostgreSQL and the cluster's root credentials, sealed
    /// with the master key (STRATA_MASTER_KEY; without it a new master key is made and printed, once).
    Init {
        /// postgres://USER[:PASSWORD]@HOST:PORT/DB
        #[arg(long, env = "STRATA_CATALOG_URL", hide_env_values = true)]
        catalog_url: String,
    },
}

/// `strata cluster status` / `strata cluster init`.
pub async fn cluster(cmd: ClusterCmd) -> anyhow::Result<()> {
    match cmd {
        ClusterCmd::Init { catalog_url } => {
            let (new_master, master) = match std::env::var("STRATA_MASTER_KEY") {
                Ok(v) if !v.is_empty() => (
                    None,
                    engine::secrets::MasterKey::parse(&v).map_err(anyhow::Error::msg)?,
                ),
                _ => {
                    let text = engine::secrets::MasterKey::generate();
                    let key =
                        engine::secrets::MasterKey::parse(&text).map_err(anyhow::Error::msg)?;
                    (Some(text), key)
                }
            };
            let (version, creds) = tokio::task::spawn_blocking(move || {
                let catalog = catalog::PgCatalog::connect(&catalog_url, Default::default())?;
                let creds = crate::credentials::load_or_create_shared(&catalog, &master)?;
                anyhow::Ok((catalog.schema_version()?, creds))
            })
            .await??;
            println!("catalog schema ready (version {version})");
            if let Some(text) = new_master {
                println!("new master key (give it to every node; it is not stored anywhere):");
                println!("  export STRATA_MASTER_KEY={text}");
            }
            if creds.generated {
                println!("root credentials (stored in the catalog, sealed with the master key):");
                println!("  access key:  {}", creds.credentials.access_key);
                println!("  secret key:  {}", creds.credentials.secret_key);
                println!("  admin token: {}", creds.credentials.admin_token);
            } else {
                println!("root credentials already exist in the catalog");
            }
            Ok(())
        }
        ClusterCmd::Status { admin } => {
            let c = AdminClient::new(&admin)?;
            let v = c.get("/admin/cluster").await?;
            if admin.json {
                print_json(&v);
                return Ok(());
            }
            let s: api::Cluster = typed(&v, "/admin/cluster")?;
            println!(
                "catalog {}  leader {}  (answered by {})",
                s.catalog,
                s.leader.as_deref().unwrap_or("none"),
                s.node
            );
            let rows: Vec<Vec<String>> = s
                .nodes
                .iter()
                .map(|n| {
                    vec![
                        n.node.clone(),
                        n.s3_addr.clone(),
                        if n.leader { "leader" } else { "" }.to_owned(),
                        if n.alive { "alive" } else { "silent" }.to_owned(),
                        format!("{:.1}", n.heartbeat_age_ms as f64 / 1000.0),
                        n.queued_access_events.to_string(),
                    ]
                })
                .collect();
            print_table(
                &[
                    "NODE",
                    "S3",
                    "ROLE",
                    "STATE",
                    "HEARTBEAT AGE S",
                    "QUEUED EVENTS",
                ],
                &rows,
            );
            Ok(())
        }
    }
}

#[derive(clap::Subcommand, Debug)]
pub enum ChaosCmd {
    /// Show the installed rules and how many faults each injected.
    Show,
    /// Replace the rules with those in FILE (JSON, or TOML with [[rules]] or a [chaos] section).
    Set { file: PathBuf },
    /// Remove every rule.
    Clear,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chaos_files_in_toml_and_json() {
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path().join("c.toml");
        std::fs::write(
            &t,
            "[[chaos.rules]]\nbackend = \"hot\"\nfault = { type = \"down\" }\n",
        )
        .unwrap();
        assert_eq!(read_chaos_file(&t).unwrap().rules.len(), 1);
        let bare = dir.path().join("bare.toml");
        std::fs::write(
            &bare,
            "[[rules]]\nfault = { type = \"error\", status = 503 }\n",
        )
        .unwrap();
        assert_eq!(read_chaos_file(&bare).unwrap().rules.len(), 1);
        let j = dir.path().join("c.json");
        std::fs::write(
            &j,
            r#"{"rules":[{"fault":{"type":"corrupt","flips":2},"ops":["get"]}]}"#,
        )
        .unwrap();
        assert_eq!(read_chaos_file(&j).unwrap().rules.len(), 1);
        std::fs::write(&j, r#"{"rules":[{"fault":{"type":"nonsense"}}]}"#).unwrap();
        assert!(read_chaos_file(&j).is_err());
    }

    #[test]
    fn errors_name_their_causes_on_one_line() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
        let wrapped = anyhow::Error::new(io).context("tcp connect error");
        let line = error_chain(wrapped.as_ref());
        assert_eq!(line, "tcp connect error: connection refused");
        assert!(!line.contains('\n'));
    }

    #[test]
    fn keys_keep_their_slashes() {
        assert_eq!(enc_key("a b/c"), "a%20b/c");
    }
}
