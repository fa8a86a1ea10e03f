//! `strata-loadtest replay`: a trace replayed through S3 into a gateway that runs on its test clock
//! (`STRATA_TEST_CLOCK=1`), on the simulator's schedule, so the gateway's own cost accounting
//! (`GET /admin/cost`) can be compared with what `simulate` predicts for the same trace and prices.
//!
//! The schedule is the simulator's ([`crate::sim::Simulator`]): times count from the first record; before a
//! record at `t`, every daily tick at or before `t` runs first — the clock is moved to the tick, the access
//! recorder's queue is let reach the catalog, the model is
//! trained if its schedule says so (`/admin/model`'s `next_training_ms`), one planning cycle is applied
//! (`POST /admin/plan/apply`) and the replay waits for the mover to finish the tasks — then the clock is moved to
//! `t` and the request is sent. Requests go one at a time, in file order, with the driver's request code. An
//! object read before the trace writes it existed before the trace: it is written first (the simulator
//! places such objects without billing their PUT, the gateway bills it). The clock only moves forward: a
//! record older than the clock runs at the clock.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request as HttpRequest;
use serde::Serialize;
use serde_json::Value;

use crate::driver::{self, DriverError, Endpoint, UploadCfg};
use crate::trace::{Op, TraceReader};

const DAY_MS: u64 = 86_400_000;

/// Where the gateway's admin API is.
#[derive(Clone, Debug)]
pub struct AdminEndpoint {
    /// `http://host:port`.
    pub url: String,
    /// The bearer token.
    pub token: String,
}

/// Settings of a replay.
#[derive(Clone, Debug)]
pub struct ReplayConfig {
    /// The S3 endpoint.
    pub endpoint: Endpoint,
    /// The same gateway's admin API (test clock on).
    pub admin: AdminEndpoint,
    /// Bucket (created if missing).
    pub bucket: String,
    /// Upload settings.
    pub upload: UploadCfg,
    /// Longest wait for one tick's moves.
    pub move_timeout: Duration,
    /// Show a progress bar (on stderr).
    pub progress: bool,
}

/// What a replay did, and the gateway's bill at its end.
#[derive(Clone, Debug, Serialize)]
pub struct ReplayReport {
    /// Records replayed.
    pub records: u64,
    /// Requests sent, failures among them (a GET of a deleted object fails as it should: counted here).
    pub requests: u64,
    pub failed: u64,
    /// Objects written before their first read (they existed before the trace).
    pub preexisting: u64,
    /// Daily ticks run, model trainings asked for, move tasks created and left unfinished at a tick's timeout.
    pub ticks: u64,
    pub trainings: u64,
    pub moves: u64,
    pub moves_unfinished: u64,
    /// Trace time replayed (ms from the first record to the last).
    pub span_ms: u64,
    /// `GET /admin/cost` at the end.
    pub bill: Value,
    /// `GET /admin/model` at the end.
    pub model: Value,
}

/// A tiny client of the admin API (JSON over plain HTTP/1.1, one connection per call).
struct Admin {
    ep: AdminEndpoint,
    authority: String,
}

impl Admin {
    fn new(ep: AdminEndpoint) -> Result<Admin, DriverError> {
        let authority = ep
            .url
            .strip_prefix("http://")
            .ok_or_else(|| DriverError::Endpoint(format!("admin URL {:?}: http:// only", ep.url)))?
            .trim_end_matches('/')
            .to_owned();
        Ok(Admin { ep, authority })
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, DriverError> {
        let fail = |m: String| DriverError::Endpoint(format!("admin {method} {path}: {m}"));
        let stream = tokio::net::TcpStream::connect(&self.authority)
            .await
            .map_err(|e| fail(e.to_string()))?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(|e| fail(e.to_string()))?;
        let conn = tokio::spawn(conn);
        let bytes = body.map(|b| b.to_string()).unwrap_or_default();
        let req = HttpRequest::builder()
            .method(method)
            .uri(path)
            .header("host", &self.authority)
            .header("authorization", format!("Bearer {}", self.ep.token))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(bytes)))
            .map_err(|e| fail(e.to_string()))?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| fail(e.to_string()))?;
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| fail(e.to_string()))?
            .to_bytes();
        conn.abort();
        if !status.is_success() {
            return Err(fail(format!(
                "HTTP {status}: {}",
                String::from_utf8_lossy(&body)
            )));
        }
        serde_json::from_slice(&body).map_err(|e| fail(format!("not JSON: {e}")))
    }

    async fn now_ms(&self) -> Result<i64, DriverError> {
        let h = self.call("GET", "/admin/health", None).await?;
        h["now_ms"]
            .as_i64()
            .ok_or_else(|| DriverError::Endpoint("admin /admin/health: no now_ms".into()))
    }

    async fn advance(&self, ms: u64) -> Result<(), DriverError> {
        if ms > 0 {
            self.call(
                "POST",
                "/admin/test/clock",
                Some(serde_json::json!({ "advance_ms": ms })),
            )
            .await?;
        }
        Ok(())
    }
}

/// Replays `trace` (see the module docs) and returns the gateway's bill.
pub async fn replay(cfg: &ReplayConfig, trace: &Path) -> Result<ReplayReport, DriverError> {
    let admin = Admin::new(cfg.admin.clone())?;
    let client = driver::build_client(&cfg.endpoint)?;
    if let Err(e) = client.create_bucket().bucket(&cfg.bucket).send().await {
        let text = driver::sdk_error_text(e);
        if !text.contains("BucketAlreadyOwnedByYou") && !text.contains("BucketAlreadyExists") {
            return Err(DriverError::Bucket {
                bucket: cfg.bucket.clone(),
                problem: text,
            });
        }
    }
    let file = File::open(trace).map_err(|source| DriverError::Io {
        what: format!("opening trace {}", trace.display()),
        source,
    })?;
    let mut reader = TraceReader::new(BufReader::with_capacity(1 << 20, file));
    let data = driver::payload(cfg.upload.max_object_bytes.min(driver::MAX_BUFFER_BYTES) as usize);
    let bar = cfg.progress.then(|| {
        let b = indicatif::ProgressBar::new_spinner();
        b.set_message("replaying");
        b
    });
    let mut r = ReplayReport {
        records: 0,
        requests: 0,
        failed: 0,
        preexisting: 0,
        ticks: 0,
        trainings: 0,
        moves: 0,
        moves_unfinished: 0,
        span_ms: 0,
        bill: Value::Null,
        model: Value::Null,
    };
    // Size of every object written so far (alive or not): a read of one never written is of a pre-existing object.
    let mut sizes = std::collections::HashMap::<String, u64>::new();
    let mut origin: Option<u64> = None;
    let mut clock = 0u64; // trace time the gateway's clock is at
    let mut next_tick = DAY_MS;
    while let Some(rec) = reader.next_record().map_err(|source| DriverError::Io {
        what: format!("reading trace {}", trace.display()),
        source,
    })? {
        let o = *origin.get_or_insert(rec.ts_ms);
        let t = rec.ts_ms.saturating_sub(o).max(clock);
        let req = driver::to_request(&rec, "");
        let (op, size, id) = (rec.op, rec.size, rec.id.to_owned());
        while next_tick <= t {
            admin.advance(next_tick - clock).await?;
            clock = next_tick;
            tick(&admin, cfg, &mut r).await?;
            next_tick += DAY_MS;
        }
        admin.advance(t - clock).await?;
        clock = t;
        r.records += 1;
        if matches!(op, Op::Put | Op::Copy) {
            sizes.insert(id.clone(), size.unwrap_or(0));
        } else if matches!(op, Op::Get | Op::Head) && !sizes.contains_key(&id) {
            // It existed before the trace: write it first, at the size the record knows.
            let size = size.unwrap_or(0);
            let put = driver::Request {
                kind: driver::ReqKind::Put,
                key: id.clone(),
                size: Some(size),
                range: None,
            };
            let out = driver::execute(&client, &cfg.bucket, &put, None, &data, &cfg.upload).await;
            r.requests += 1;
            r.failed += u64::from(out.error.is_some());
            r.preexisting += 1;
            sizes.insert(id.clone(), size);
        }
        let out = driver::execute(
            &client,
            &cfg.bucket,
            &req,
            sizes.get(&id).copied(),
            &data,
            &cfg.upload,
        )
        .await;
        r.requests += 1;
        r.failed += u64::from(out.error.is_some());
        if let Some(b) = &bar
            && r.records.is_multiple_of(100)
        {
            b.set_message(format!(
                "day {:.1}: {} records, {} ticks, {} moves",
                clock as f64 / DAY_MS as f64,
                r.records,
                r.ticks,
                r.moves
            ));
            b.tick();
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    r.span_ms = clock;
    // The usage snapshot of the last placement charges storage up to the end (a zero advance is a snapshot).
    admin
        .call(
            "POST",
            "/admin/test/clock",
            Some(serde_json::json!({ "advance_ms": 0 })),
        )
        .await?;
    r.bill = admin.call("GET", "/admin/cost", None).await?;
    r.model = admin.call("GET", "/admin/model", None).await?;
    Ok(r)
}

/// One daily tick on the gateway: a training when due, one planning cycle applied, its moves finished.
async fn tick(admin: &Admin, cfg: &ReplayConfig, r: &mut ReplayReport) -> Result<(), DriverError> {
    r.ticks += 1;
    // The planner must see every access so far: wait for the recorder's batches to reach the catalog.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let h = admin.call("GET", "/admin/health", None).await?;
        let rec = &h["recorder"];
        let n = |f: &str| rec[f].as_u64().unwrap_or(0);
        if n("flushed") + n("dropped") >= n("recorded") || tokio::time::Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let model = admin.call("GET", "/admin/model", None).await?;
    let now = admin.now_ms().await?;
    // The simulator's first training attempt is at its first tick (the gateway's, at its start, came before
    // any read): the first tick trains, and so sets the schedule as the simulator's.
    if r.ticks == 1
        || model["next_training_ms"]
            .as_i64()
            .is_some_and(|due| due <= now)
    {
        admin.call("POST", "/admin/model/retrain", None).await?;
        r.trainings += 1;
    }
    let applied = admin.call("POST", "/admin/plan/apply", None).await?;
    r.moves += applied["created"].as_array().map_or(0, Vec::len) as u64;
    let deadline = tokio::time::Instant::now() + cfg.move_timeout;
    loop {
        // A committed task is done for the placement; its source copy waits for the reaper's grace.
        let active = admin
            .call("GET", "/admin/moves?active=1&limit=100000", None)
            .await?;
        let n = active["moves"].as_array().map_or(0, |m| {
            m.iter().filter(|t| t["state"] != "Committed").count()
        }) as u64;
        if n == 0 {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            r.moves_unfinished += n;
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
