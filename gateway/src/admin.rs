//! The admin API: JSON over HTTP on its own port, every route behind the admin bearer token.
//!
//! Routes (all `GET`):
//! - `/admin/health[?deep=true]` — liveness plus a summary: backends, placement, recorder lag; `deep` adds the catalog
//!   counts (buckets, objects, `blobs_referenced`, `garbage_pending`), which scan the catalog.
//! - `/admin/objects?bucket=B[&prefix=P][&after=K][&limit=N][&backend=NAME][&min_heat=H][&max_heat=H][&tag=K[=V]]`
//!   — a page of objects with placement, heat and tags; `backend`, `min_heat`, `max_heat`, `tag` keep objects with a
//!   replica there, heat in `[min, max)`, a tag with that key (and value) (a filtered page may be short and still
//!   truncated: continue with `next_after`).
//! - `/admin/objects/{bucket}/{key}` — one object: size, etag, generation, replicas, heat, access counts, tags.
//! - `/admin/users` — access keys, their access level and per-bucket grants (never secrets).
//! - `/admin/backends` — per backend: profile, objects, bytes, estimated monthly cost, read/write counters and
//!   errors; plus totals and the all-hot equivalent cost (`?refresh=true` rescans the catalog first).
//! - `/metrics` — Prometheus text format (same bearer token).
//! - `/admin/moves[?active=true][&limit=N]` — move tasks, newest first, with state and reason;
//!   `POST /admin/moves` with `{"bucket", "key", "to": [backends]}` plans one move by hand.
//! - `/admin/plan` — a dry-run plan: `moves`, `cost_before`, `cost_after`, `lower_bound`, `gap`, `model_in_use`;
//!   `POST /admin/plan/apply` computes a plan and turns its moves into move tasks.
//! - `POST /admin/test/clock` `{"advance_ms"}` — moves the gateway's clock forward (only with STRATA_TEST_CLOCK=1).
//! - `/admin/keys` — keys per backend and re-seal progress; `POST /admin/keys/rotate` `{"backend"}` adds a key.
//! - `/admin/scrub` — scrubber counters and last run; `POST /admin/scrub` runs one pass now and returns its report.
//! - `/admin/lifecycle` — the lifecycle passes' counters and last run; `POST /admin/lifecycle/run` runs one pass
//!   over every bucket's lifecycle rules now and returns what it did.
//! - `/admin/chaos` — the installed fault-injection rules, in the `[chaos]` config schema (as JSON);
//!   `PUT /admin/chaos` replaces them (same schema), `DELETE /admin/chaos` clears them;
//!   `/admin/chaos/stats` — faults injected per rule and in total.
//! - `/admin/cost` — what this node's placement and traffic have cost since it started, by category
//!   ([`engine::bill`]); `/admin/cost/history` — monthly cost now and all-hot of every usage snapshot kept (one
//!   per 30 s, bounded);
//!   `/admin/heat` — objects counted by heat now; `/admin/openapi.json` — the OpenAPI document of these routes
//!   (`gateway/assets/openapi.json`, kept true by `tests/e2e/test_openapi.py`).
//! - `GET /` (and its `/dashboard.js`, `/dashboard.css`) — the operator dashboard, served without the token
//!   ([`crate::dashboard`]); its data calls carry the token.
//!
//! Errors are JSON `{"error": CODE, "message": TEXT}` with a fitting status. New routes are added in [`route`].

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use catalog::ObjectRecord;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use serde::Serialize;

use crate::admin_api as api;
use crate::s3::errors::catalog_err;
use engine::{Core, Engine};

/// Shared by every admin request.
pub struct Admin {
    /// The node's shared state (`engine.core`, kept at hand: most routes read only it).
    pub strata: Arc<Core>,
    /// The node: its workers' handles (model, mover, usage, scrubber, resealer) and planner settings.
    pub engine: Arc<Engine>,
    /// `POST /admin/test/clock` moves the gateway's clock (only with STRATA_TEST_CLOCK=1).
    pub test_clock: bool,
    pub token: String,
    /// Every S3 user (config, root and managed).
    pub users: crate::s3::auth::Users,
    /// The users managed through `/admin/users`.
    pub user_store: Arc<crate::users::UserStore>,
}

type Reply = Response<Full<Bytes>>;

fn json_reply(status: StatusCode, v: &impl Serialize) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from(
        serde_json::to_vec_pretty(v).unwrap_or_default(),
    )));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    r
}

fn empty_reply(status: StatusCode) -> Reply {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = status;
    r
}

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Reply {
    json_reply(
        status,
        &api::Error {
            error: code.to_owned(),
            message: message.into(),
        },
    )
}

/// Constant-time comparison, so the token cannot be guessed byte by byte from timings.
fn token_matches(given: &str, expected: &str) -> bool {
    let (a, b) = (given.as_bytes(), expected.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Admin {
    /// Entry point for hyper.
    pub async fn handle(
        self: Arc<Self>,
        req: Request<hyper::body::Incoming>,
    ) -> Result<Reply, Infallible> {
        // The dashboard's own files hold no data: served without the token (its API calls send it).
        if let Some(page) = crate::dashboard::page(req.method(), req.uri().path()) {
            return Ok(page);
        }
        let authorized = req
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|t| token_matches(t.trim(), &self.token));
        if !authorized {
            let mut r = error(
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
                "missing or wrong bearer token",
            );
            r.headers_mut().insert(
                http::header::WWW_AUTHENTICATE,
                http::HeaderValue::from_static("Bearer"),
            );
            return Ok(r);
        }
        let (parts, body) = req.into_parts();
        let body = match read_body(body).await {
            Ok(b) => b,
            Err(reply) => return Ok(reply),
        };
        Ok(self.route(&parts.method, &parts.uri, &body).await)
    }

    async fn route(&self, method: &Method, uri: &http::Uri, body: &[u8]) -> Reply {
        let path = uri.path();
        let query = parse_query(uri.query().unwrap_or(""));
        match (method, path) {
            (&Method::GET, "/admin/chaos") => self.chaos_get(),
            (&Method::PUT, "/admin/chaos") => self.chaos_put(body),
            (&Method::DELETE, "/admin/chaos") => {
                self.strata.chaos.clear();
                tracing::warn!("chaos rules cleared through the admin API");
                self.chaos_get()
            }
            (&Method::GET, "/admin/chaos/stats") => self.chaos_stats(),
            (&Method::GET, "/admin/keys") => json_reply(
                StatusCode::OK,
                &engine::reseal::keys_status(&self.strata, &self.engine.resealer),
            ),
            (&Method::POST, "/admin/keys/rotate") => self.rotate(body).await,
            (&Method::GET, "/admin/scrub") => {
                json_reply(StatusCode::OK, &self.engine.scrubber.status())
            }
            (&Method::POST, "/admin/scrub") => {
                let report = engine::scrub::scrub_once(&self.strata, &self.engine.scrubber).await;
                json_reply(StatusCode::OK, &report)
            }
            (&Method::GET, "/admin/lifecycle") => {
                let status: api::LifecycleStatus = self.engine.lifecycle.status();
                json_reply(StatusCode::OK, &status)
            }
            (&Method::POST, "/admin/lifecycle/run") => {
                let report: api::LifecycleReport = self.engine.run_lifecycle().await;
                json_reply(StatusCode::OK, &report)
            }
            (&Method::GET, "/admin/plan") => match self.engine.plan().await {
                Ok(plan) => json_reply(StatusCode::OK, &plan),
                Err(e) => error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "PlannerError",
                    e.to_string(),
                ),
            },
            (&Method::POST, "/admin/plan/apply") => self.apply_plan().await,
            (&Method::POST, "/admin/test/clock") if self.test_clock => {
                self.advance_clock(body).await
            }
            (&Method::GET, "/admin/model") => {
                json_reply(StatusCode::OK, &self.engine.model.report())
            }
            (&Method::POST, "/admin/model/retrain") => json_reply(
                StatusCode::OK,
                &self.engine.model.retrain(&self.strata).await,
            ),
            (&Method::GET, "/admin/moves") => self.moves(&query).await,
            (&Method::GET, "/admin/cluster") => self.cluster().await,
            (&Method::POST, "/admin/moves") => self.plan_move(body).await,
            (&Method::GET, "/admin/health") => {
                self.health(query.get("deep").is_some_and(|v| v != "false" && v != "0"))
                    .await
            }
            (&Method::GET, "/admin/backends") => self.backends(query.contains_key("refresh")).await,
            (&Method::GET, "/metrics") => self.metrics().await,
            (&Method::GET, "/admin/users") => self.users(),
            (&Method::POST, "/admin/users") => self.add_user(body).await,
            (&Method::DELETE, p) if p.starts_with("/admin/users/") => {
                let key = percent_encoding::percent_decode_str(&p["/admin/users/".len()..])
                    .decode_utf8_lossy()
                    .into_owned();
                self.remove_user(key).await
            }
            (&Method::GET, "/admin/openapi.json") => crate::dashboard::openapi(),
            (&Method::GET, "/admin/cost/history") => self.cost_history(),
            (&Method::GET, "/admin/cost") => {
                let bill: api::BillReport = self.strata.bill.report(self.strata.clock.now_ms());
                json_reply(StatusCode::OK, &bill)
            }
            (&Method::GET, "/admin/heat") => self.heat().await,
            (&Method::GET, "/admin/objects") => self.list_objects(&query).await,
            (&Method::GET, p) if p.starts_with("/admin/objects/") => {
                let rest = &p["/admin/objects/".len()..];
                let decoded = percent_encoding::percent_decode_str(rest)
                    .decode_utf8_lossy()
                    .into_owned();
                match decoded.split_once('/') {
                    Some((bucket, key)) if !bucket.is_empty() && !key.is_empty() => {
                        self.object(bucket, key).await
                    }
                    _ => error(
                        StatusCode::BAD_REQUEST,
                        "BadRequest",
                        "expected /admin/objects/{bucket}/{key}",
                    ),
                }
            }
            (_, p) if p.starts_with("/admin/") => error(
                StatusCode::NOT_FOUND,
                "NotFound",
                format!("no route {method} {p}"),
            ),
            _ => error(
                StatusCode::NOT_FOUND,
                "NotFound",
                "the admin API lives under /admin/",
            ),
        }
    }

    /// Cheap by default (a liveness and readiness probe may call it often). With `deep`, also the catalog counts
    /// (buckets, objects, referenced blobs, pending garbage, access-log length): each is a scan of the catalog.
    async fn health(&self, deep: bool) -> Reply {
        let s = &self.strata;
        let rec = s.recorder.stats();
        use std::sync::atomic::Ordering::Relaxed;
        let backends = s
            .backends
            .iter()
            .map(|b| api::BackendSummary {
                name: b.name().to_owned(),
                provider: b.profile().provider.clone(),
                storage_class: b.profile().storage_class.clone(),
                active_key_id: b.active_key_id(),
                profile: b.profile().clone(),
            })
            .collect();
        let mut body = api::Health {
            status: "ok".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            uptime_s: s.started.elapsed().as_secs(),
            now_ms: s.clock.now_ms(),
            backends,
            initial_placement: s
                .new_objects
                .initial()
                .iter()
                .map(|b| b.name().to_owned())
                .collect(),
            new_objects_self_tiering: s.new_objects.self_tiering_backend().map(str::to_owned),
            new_objects_min_bytes: s.new_objects.min_bytes(),
            placement: s.placement.clone(),
            active_reads: s.leases.active_count(),
            recorder: api::RecorderStatus {
                recorded: rec.recorded.load(Relaxed),
                flushed: rec.flushed.load(Relaxed),
                dropped: rec.dropped.load(Relaxed),
                flush_errors: rec.flush_errors.load(Relaxed),
                pending: s.recorder.pending(),
                last_lag_ms: rec.last_lag_ms.load(Relaxed),
                access_log_entries: None,
            },
            catalog: None,
        };
        if deep {
            let counts = s
                .with_catalog(|c| {
                    let buckets = c.list_buckets()?;
                    let mut objects = 0;
                    for b in &buckets {
                        objects += c.object_count(&b.name)?;
                    }
                    let counts = api::CatalogCounts {
                        buckets: buckets.len(),
                        objects,
                        blobs_referenced: c.referenced_blobs()?.len(),
                        garbage_pending: c.garbage(usize::MAX)?.len(),
                    };
                    Ok((counts, c.access_log_len()?))
                })
                .await;
            match counts {
                Ok((counts, log_len)) => {
                    body.catalog = Some(counts);
                    body.recorder.access_log_entries = Some(log_len);
                }
                Err(e) => {
                    return error(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "CatalogError",
                        e.to_string(),
                    );
                }
            }
        }
        json_reply(StatusCode::OK, &body)
    }

    async fn backends(&self, refresh: bool) -> Reply {
        let usage = match self.engine.usage(refresh).await {
            Ok(u) => u,
            Err(e) => {
                return error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "CatalogError",
                    e.to_string(),
                );
            }
        };
        use std::sync::atomic::Ordering::Relaxed;
        let backends = self
            .strata
            .backends
            .iter()
            .map(|b| {
                let u = usage.backends.get(b.name()).cloned().unwrap_or_default();
                let c = self.strata.metrics.backend(b.name());
                let reads = c.reads.load(Relaxed);
                let read_errors = c.read_errors.load(Relaxed);
                let writes = c.writes.load(Relaxed);
                let write_errors = c.write_errors.load(Relaxed);
                let ops = reads + writes;
                api::BackendUsage {
                    name: b.name().to_owned(),
                    provider: b.profile().provider.clone(),
                    storage_class: b.profile().storage_class.clone(),
                    profile: b.profile().clone(),
                    active_key_id: b.active_key_id(),
                    objects: u.objects,
                    bytes: u.bytes,
                    monthly_cost: u.monthly_cost,
                    reads,
                    read_errors,
                    writes,
                    write_errors,
                    error_rate: if ops == 0 {
                        0.0
                    } else {
                        (read_errors + write_errors) as f64 / ops as f64
                    },
                    healthy: self.strata.clock.now_ms() - c.last_error_ms() >= 30_000,
                    last_error_ms: Some(c.last_error_ms()).filter(|t| *t > 0),
                    retries: self.strata.retry_stats.get(b.name()).map(|r| r.snapshot()),
                }
            })
            .collect();
        json_reply(
            StatusCode::OK,
            &api::Backends {
                computed_ms: usage.computed_ms,
                objects: usage.objects,
                logical_bytes: usage.logical_bytes,
                monthly_cost: usage.monthly_cost,
                all_hot_monthly_cost: usage.all_hot_monthly_cost,
                backends,
            },
        )
    }

    async fn metrics(&self) -> Reply {
        let out = engine::prometheus::render(&self.engine).await;
        let mut r = Response::new(Full::new(Bytes::from(out)));
        r.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        );
        r
    }

    async fn apply_plan(&self) -> Reply {
        let plan = match self.engine.plan().await {
            Ok(p) => p,
            Err(e) => {
                return error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "PlannerError",
                    e.to_string(),
                );
            }
        };
        match self.engine.apply(&plan).await {
            Ok(created) => json_reply(StatusCode::ACCEPTED, &api::PlanApplied { plan, created }),
            Err(e) => error(
                StatusCode::SERVICE_UNAVAILABLE,
                "CatalogError",
                e.to_string(),
            ),
        }
    }

    /// Takes a usage snapshot first, so the bill charges the storage over the jump at the placement before it.
    async fn advance_clock(&self, body: &[u8]) -> Reply {
        match serde_json::from_slice::<api::ClockAdvance>(body) {
            Ok(r) if i64::try_from(r.advance_ms).is_ok() => {
                if let Err(e) = engine::usage::refresh(&self.strata, &self.engine.usage).await {
                    return error(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "CatalogUnavailable",
                        format!("usage snapshot before the clock jump: {e}"),
                    );
                }
                self.strata.clock.advance_ms(r.advance_ms as i64);
                json_reply(
                    StatusCode::OK,
                    &api::ClockAdvanced {
                        now_ms: self.strata.clock.now_ms(),
                    },
                )
            }
            _ => error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "expected {\"advance_ms\": non-negative integer}",
            ),
        }
    }

    async fn rotate(&self, body: &[u8]) -> Reply {
        let req: api::KeyRotate = match serde_json::from_slice(body) {
            Ok(r) => r,
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    format!("expected {{\"backend\": NAME}}: {e}"),
                );
            }
        };
        if self.strata.backend(&req.backend).is_none() {
            return error(
                StatusCode::NOT_FOUND,
                "UnknownBackend",
                format!("no backend {:?}", req.backend),
            );
        }
        match engine::reseal::rotate(&self.strata, &req.backend).await {
            Ok(id) => {
                self.engine.resealer.wake();
                json_reply(
                    StatusCode::OK,
                    &api::KeyRotated {
                        backend: req.backend,
                        active_key_id: id,
                    },
                )
            }
            Err(e) => error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "RotationFailed",
                e.to_string(),
            ),
        }
    }

    fn chaos_get(&self) -> Reply {
        json_reply(StatusCode::OK, &self.strata.chaos.config())
    }

    fn chaos_put(&self, body: &[u8]) -> Reply {
        let config: chaos::ChaosConfig = match serde_json::from_slice(body) {
            Ok(c) => c,
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "InvalidChaosConfig",
                    format!("invalid JSON: {e}"),
                );
            }
        };
        let known: Vec<&str> = self.strata.backends.iter().map(|b| b.name()).collect();
        if let Err(e) = config
            .validate(&known)
            .and_then(|()| self.strata.chaos.set(config))
        {
            return error(StatusCode::BAD_REQUEST, "InvalidChaosConfig", e.to_string());
        }
        tracing::warn!(
            rules = self.strata.chaos.config().rules.len(),
            "chaos rules installed through the admin API"
        );
        self.chaos_get()
    }

    fn chaos_stats(&self) -> Reply {
        json_reply(
            StatusCode::OK,
            &api::ChaosStats {
                total_injected: self.strata.chaos.total_injected(),
                rules: self.strata.chaos.stats(),
            },
        )
    }

    async fn cluster(&self) -> Reply {
        let status = match engine::cluster::status(&self.strata).await {
            Ok(s) => s,
            Err(e) => {
                return error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "CatalogError",
                    e.to_string(),
                );
            }
        };
        let leader = status.leader.as_ref().map(|l| l.holder.clone());
        let alive_within = engine::cluster::LEASE_TTL.as_millis() as i64;
        let nodes = status
            .nodes
            .into_iter()
            .map(|n| {
                let age = status.now_ms - n.heartbeat_ms;
                api::ClusterNode {
                    leader: leader.as_deref() == Some(n.node.as_str()),
                    alive: age <= alive_within,
                    heartbeat_age_ms: age,
                    node: n.node,
                    s3_addr: n.s3_addr,
                    version: n.version,
                    started_ms: n.started_ms,
                    heartbeat_ms: n.heartbeat_ms,
                    queued_access_events: n.queued_access_events,
                    new_objects: n.new_objects,
                }
            })
            .collect();
        json_reply(
            StatusCode::OK,
            &api::Cluster {
                node: status.node,
                catalog: if self.strata.shared_catalog {
                    "postgres"
                } else {
                    "embedded"
                }
                .to_owned(),
                leader_lease_expires_ms: status.leader.map(|l| l.expires_ms),
                leader,
                now_ms: status.now_ms,
                nodes,
            },
        )
    }

    async fn moves(&self, q: &std::collections::HashMap<String, String>) -> Reply {
        let active = q.get("active").is_some_and(|v| v == "true" || v == "1");
        let limit = match q.get("limit").map(|l| l.parse::<usize>()) {
            None => 100,
            Some(Ok(n)) if n >= 1 => n,
            Some(_) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    "limit must be a positive integer",
                );
            }
        };
        match self
            .strata
            .with_catalog(move |c| c.moves(limit, active))
            .await
        {
            Ok(moves) => json_reply(StatusCode::OK, &api::Moves { moves }),
            Err(e) => error(
                StatusCode::SERVICE_UNAVAILABLE,
                "CatalogError",
                e.to_string(),
            ),
        }
    }

    async fn plan_move(&self, body: &[u8]) -> Reply {
        let req: api::PlanMove = match serde_json::from_slice(body) {
            Ok(r) => r,
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    format!("expected {{bucket, key, to}}: {e}"),
                );
            }
        };
        if req.to.is_empty() {
            return error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "`to` needs at least one backend",
            );
        }
        let mut seen = std::collections::HashSet::new();
        for b in &req.to {
            if self.strata.backend(b).is_none() {
                return error(
                    StatusCode::BAD_REQUEST,
                    "UnknownBackend",
                    format!("no backend {b:?}"),
                );
            }
            if !seen.insert(b) {
                return error(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    format!("backend {b:?} twice in `to`"),
                );
            }
        }
        let now = self.strata.clock.now_ms();
        let created = self
            .strata
            .with_catalog(move |c| {
                let Some(rec) = c.get_object(&req.bucket, &req.key)? else {
                    return Ok(None);
                };
                if rec.replicas == req.to {
                    return Ok(Some(Vec::new()));
                }
                let m = catalog::NewMove {
                    bucket: req.bucket,
                    key: req.key,
                    generation: rec.generation,
                    from: rec.replicas.clone(),
                    to: req.to,
                    bytes: rec.size,
                    plan_id: Some("manual".to_owned()),
                };
                c.create_moves(vec![m], now).map(Some)
            })
            .await;
        match created {
            Ok(Some(moves)) => {
                self.engine.mover.wake();
                json_reply(StatusCode::ACCEPTED, &api::Moves { moves })
            }
            Ok(None) => error(StatusCode::NOT_FOUND, "NoSuchKey", "no such object"),
            Err(e) => error(
                StatusCode::SERVICE_UNAVAILABLE,
                "CatalogError",
                e.to_string(),
            ),
        }
    }

    /// The cost of every usage snapshot kept (see `usage::HISTORY_LEN`), oldest first.
    fn cost_history(&self) -> Reply {
        json_reply(
            StatusCode::OK,
            &api::CostHistory {
                interval_ms: engine::usage::REFRESH.as_millis() as u64,
                max_samples: engine::usage::HISTORY_LEN,
                samples: self.engine.usage.history(),
            },
        )
    }

    /// Objects counted by their heat now (a scan of the catalog).
    async fn heat(&self) -> Reply {
        let now = self.strata.clock.now_ms();
        match self
            .strata
            .with_catalog(move |c| engine::usage::heat_histogram(c, now))
            .await
        {
            Ok(h) => json_reply(StatusCode::OK, &h),
            Err(e) => error(
                StatusCode::SERVICE_UNAVAILABLE,
                "CatalogError",
                e.to_string(),
            ),
        }
    }

    fn users(&self) -> Reply {
        let users = self
            .users
            .summary()
            .into_iter()
            .map(|(access_key, access, grants, managed)| api::User {
                access_key,
                access,
                grants,
                managed,
            })
            .collect();
        json_reply(StatusCode::OK, &api::Users { users })
    }

    fn user_error(e: crate::users::UserError) -> Reply {
        use crate::users::UserError as E;
        let (status, code) = match &e {
            E::Invalid(_) => (StatusCode::BAD_REQUEST, "BadRequest"),
            E::Exists(_) => (StatusCode::CONFLICT, "UserExists"),
            E::Fixed(_) => (StatusCode::CONFLICT, "UserFromConfig"),
            E::NoSuchUser(_) => (StatusCode::NOT_FOUND, "NoSuchUser"),
            E::Catalog(_) | E::Corrupt(_) => (StatusCode::SERVICE_UNAVAILABLE, "CatalogError"),
        };
        error(status, code, e.to_string())
    }

    async fn add_user(&self, body: &[u8]) -> Reply {
        let req: api::NewUser = match serde_json::from_slice(body) {
            Ok(r) => r,
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    format!("expected {{access_key, secret_key?, access?, grants?}}: {e}"),
                );
            }
        };
        let store = self.user_store.clone();
        let user = crate::users::StoredUser {
            access_key: req.access_key,
            secret_key: req.secret_key.unwrap_or_default(),
            access: req.access,
            grants: req.grants,
        };
        match tokio::task::spawn_blocking(move || store.add(user)).await {
            Ok(Ok(u)) => {
                tracing::info!(access_key = %u.access_key, "user created through the admin API");
                json_reply(
                    StatusCode::CREATED,
                    &api::CreatedUser {
                        access_key: u.access_key,
                        secret_key: u.secret_key,
                        access: u.access,
                        grants: u.grants,
                    },
                )
            }
            Ok(Err(e)) => Self::user_error(e),
            Err(e) => error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                e.to_string(),
            ),
        }
    }

    async fn remove_user(&self, access_key: String) -> Reply {
        let store = self.user_store.clone();
        let key = access_key.clone();
        match tokio::task::spawn_blocking(move || store.remove(&key)).await {
            Ok(Ok(())) => {
                tracing::info!(%access_key, "user removed through the admin API");
                empty_reply(StatusCode::NO_CONTENT)
            }
            Ok(Err(e)) => Self::user_error(e),
            Err(e) => error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                e.to_string(),
            ),
        }
    }

    fn object_json(
        &self,
        bucket: &str,
        key: &str,
        rec: &ObjectRecord,
        stats: Option<&catalog::AccessStats>,
    ) -> api::Object {
        let now = self.strata.clock.now_ms();
        let half_life = self.strata.catalog.heat_half_life_ms();
        let score = self.engine.model.score_of(bucket, key);
        api::Object {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            size: rec.size,
            etag: rec.etag.clone(),
            generation: rec.generation,
            last_modified_ms: rec.last_modified_ms,
            replicas: rec.replicas.clone(),
            parts: rec.parts.len(),
            content_type: rec.meta.content_type.clone(),
            heat: stats.map(|s| s.heat_at(now, half_life)).unwrap_or(0.0),
            reads: stats.map(|s| s.reads).unwrap_or(0),
            writes: stats.map(|s| s.writes).unwrap_or(0),
            bytes_read: stats.map(|s| s.bytes_read).unwrap_or(0),
            last_access_ms: stats.map(|s| s.last_access_ms),
            p_hot: score.map(|s| s.p_hot),
            p_hot_model: score.map(|s| s.model),
            p_hot_scored_at_ms: score.map(|s| s.scored_at_ms),
            p_hot_horizon_ms: self.engine.model.report_horizon_ms(),
            tags: rec.meta.tags.clone(),
        }
    }

    async fn object(&self, bucket: &str, key: &str) -> Reply {
        let (b, k) = (bucket.to_owned(), key.to_owned());
        let found = self
            .strata
            .with_catalog(move |c| Ok((c.get_object(&b, &k)?, c.stats(&b, &k)?)))
            .await;
        match found {
            Ok((Some(rec), stats)) => json_reply(
                StatusCode::OK,
                &self.object_json(bucket, key, &rec, stats.as_ref()),
            ),
            Ok((None, _)) => error(
                StatusCode::NOT_FOUND,
                "NoSuchKey",
                format!("no object {bucket}/{key}"),
            ),
            Err(e) => {
                let e = catalog_err(e);
                error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    e.code().as_str(),
                    e.message().unwrap_or_default(),
                )
            }
        }
    }

    async fn list_objects(&self, q: &std::collections::HashMap<String, String>) -> Reply {
        let Some(bucket) = q.get("bucket").cloned() else {
            return error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "the bucket query parameter is required",
            );
        };
        let prefix = q.get("prefix").cloned().unwrap_or_default();
        let after = q.get("after").cloned();
        let limit = match q.get("limit").map(|l| l.parse::<usize>()) {
            None => 100,
            Some(Ok(n)) if (1..=1000).contains(&n) => n,
            Some(_) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    "limit must be 1..=1000",
                );
            }
        };
        let filter = match crate::object_filter::ObjectFilter::parse(q, &self.strata) {
            Ok(f) => f,
            Err((code, message)) => return error(StatusCode::BAD_REQUEST, code, message),
        };
        let b = bucket.clone();
        let page = self
            .strata
            .with_catalog(move |c| filter.page(c, &b, &prefix, after, limit))
            .await;
        match page {
            Ok((items, truncated, next)) => {
                let objects = items
                    .iter()
                    .map(|(k, r, s)| self.object_json(&bucket, k, r, s.as_ref()))
                    .collect();
                json_reply(
                    StatusCode::OK,
                    &api::ObjectPage {
                        bucket,
                        objects,
                        is_truncated: truncated,
                        next_after: next.filter(|_| truncated),
                    },
                )
            }
            Err(catalog::CatalogError::NoSuchBucket(b)) => error(
                StatusCode::NOT_FOUND,
                "NoSuchBucket",
                format!("no bucket {b}"),
            ),
            Err(e) => error(
                StatusCode::SERVICE_UNAVAILABLE,
                "CatalogError",
                e.to_string(),
            ),
        }
    }
}

/// Largest admin request body accepted.
const MAX_BODY: usize = 1 << 20;

async fn read_body(body: hyper::body::Incoming) -> Result<Bytes, Reply> {
    use http_body_util::BodyExt;
    match http_body_util::Limited::new(body, MAX_BODY).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) => Err(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "BadRequest",
            format!("cannot read the request body: {e}"),
        )),
    }
}

fn parse_query(q: &str) -> std::collections::HashMap<String, String> {
    q.split('&')
        .filter(|s| !s.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            let dec = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (dec(k), dec(v))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_comparison() {
        assert!(token_matches("abc", "abc"));
        assert!(!token_matches("abd", "abc"));
        assert!(!token_matches("ab", "abc"));
    }

    #[test]
    fn query_parsing_decodes() {
        let q = parse_query("bucket=b&prefix=a%2Fb+c&limit=5");
        assert_eq!(q["prefix"], "a/b c");
        assert_eq!(q["limit"], "5");
    }
}
