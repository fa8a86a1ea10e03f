//! `strata serve`: open the state, recover, then serve S3 and the admin API until Ctrl-C / SIGTERM.

use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::service::S3ServiceBuilder;
use tokio::net::TcpListener;

use engine::{Clock, Engine};

use crate::admin::Admin;
use crate::config::{AccessLevel, Config};
use crate::credentials;
use crate::s3::{StrataAccess, StrataAuth, StrataS3, auth::Users};

pub async fn serve(config: Config) -> anyhow::Result<()> {
    config.validate()?;
    std::fs::create_dir_all(&config.data_dir).map_err(|e| {
        anyhow::anyhow!("cannot create data dir {}: {e}", config.data_dir.display())
    })?;
    let mut engine_config = config.engine();
    engine_config.master_key = config.master_key()?;
    let engine = Engine::open_with(&engine_config, Clock::system(), test_hooks())?;
    let strata = engine.core.clone();
    let creds = match &engine_config.master_key {
        Some(master) if strata.shared_catalog => {
            let (catalog, master) = (strata.catalog.clone(), master.clone());
            tokio::task::spawn_blocking(move || {
                credentials::load_or_create_shared(&*catalog, &master)
            })
            .await??
        }
        _ => credentials::load_or_create(&config.data_dir)?,
    };
    if creds.generated {
        if strata.shared_catalog {
            println!(
                "Strata generated the cluster's root credentials (stored in the shared catalog, sealed):"
            );
        } else {
            println!(
                "Strata generated root credentials (stored in {}/credentials.json, mode 0600):",
                config.data_dir.display()
            );
        }
        println!("  access key:  {}", creds.credentials.access_key);
        println!("  secret key:  {}", creds.credentials.secret_key);
        println!("  admin token: {}", creds.credentials.admin_token);
        if !creds.overridden.is_empty() {
            println!(
                "  (in use instead: the values of {})",
                creds.overridden.join(", ")
            );
        }
    }
    let root = creds.credentials;

    let report = engine.recover().await?;
    tracing::info!(?report, "start-up recovery done");

    let mut users = Users::default();
    for u in &config.users {
        users.insert(
            u.access_key.clone(),
            u.secret_key.clone(),
            u.access,
            u.grants.clone(),
        );
    }
    users.insert(
        root.access_key.clone(),
        root.secret_key.clone(),
        AccessLevel::Full,
        None,
    );

    let domains = if config.domains.is_empty() {
        None
    } else {
        Some(
            crate::s3::host::Domains::new(&config.domains)
                .map_err(|e| anyhow::anyhow!("domains: {e}"))?,
        )
    };
    let service = {
        let policies = Arc::new(crate::s3::policy::BucketPolicies::new(strata.clone()));
        let mut b = S3ServiceBuilder::new(StrataS3::new(
            strata.clone(),
            policies.clone(),
            users.clone(),
            config.default_object_ownership,
        ));
        b.set_auth(StrataAuth(users.clone()));
        b.set_access(StrataAccess {
            users: users.clone(),
            policies,
        });
        if let Some(d) = &domains {
            b.set_host(d.clone());
        }
        b.build()
    };
    // Users managed through the admin API: loaded before serving, refreshed on a cluster (other nodes change them).
    let user_store = Arc::new(crate::users::UserStore::new(
        strata.catalog.clone(),
        engine_config.master_key.clone(),
        users.clone(),
    ));
    {
        let s = user_store.clone();
        tokio::task::spawn_blocking(move || s.refresh())
            .await?
            .map_err(|e| anyhow::anyhow!("users managed through the admin API: {e}"))?;
    }
    if strata.shared_catalog {
        tokio::spawn(crate::users::refresh_every(
            user_store.clone(),
            std::time::Duration::from_secs(3),
        ));
    }
    let cors = crate::cors::Cors::new(strata.clone(), domains);
    let admin = Arc::new(Admin {
        test_clock: std::env::var("STRATA_TEST_CLOCK").is_ok_and(|v| v == "1"),
        strata: strata.clone(),
        engine: engine.clone(),
        token: root.admin_token.clone(),
        users: users.clone(),
        user_store,
    });

    let s3_listener = TcpListener::bind(config.s3_addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen for S3 on {}: {e}", config.s3_addr))?;
    let admin_listener = TcpListener::bind(config.admin_addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen for admin on {}: {e}", config.admin_addr))?;
    tracing::info!(s3 = %s3_listener.local_addr()?, admin = %admin_listener.local_addr()?, "strata is serving");
    println!(
        "Strata S3 endpoint http://{}  admin API http://{}  data {}",
        s3_listener.local_addr()?,
        admin_listener.local_addr()?,
        config.data_dir.display()
    );

    engine.start().await;

    let http = ConnBuilder::new(TokioExecutor::new());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown_signal());
    loop {
        tokio::select! {
            accepted = s3_listener.accept() => match accepted {
                Ok((sock, peer)) => {
                    let service = service.clone();
                    let metrics = strata.metrics.clone();
                    let events = strata.events.clone();
                    let cors = cors.clone();
                    let svc = hyper::service::service_fn(move |mut req: http::Request<hyper::body::Incoming>| {
                        let (service, metrics, events, cors) =
                            (service.clone(), metrics.clone(), events.clone(), cors.clone());
                        async move {
                            // s3s routes no OPTIONS: every one on the S3 port is a CORS preflight.
                            if req.method() == http::Method::OPTIONS {
                                return Ok::<_, s3s::HttpError>(cors.preflight(&req).await);
                            }
                            if let Some(refused) = refuse_presigned_expiry(&req) {
                                return Ok(refused);
                            }
                            crate::sig_v2::canonical_bucket_path(&mut req);
                            let cross = cors.cross_origin(&req);
                            let slot = crate::request_metrics::OpSlot::default();
                            req.extensions_mut().insert(slot.clone());
                            // Bucket policies may condition on the client's address (aws:SourceIp).
                            req.extensions_mut()
                                .insert(crate::s3::policy::ClientAddr(peer.ip()));
                            let request_bytes = req
                                .headers()
                                .get(http::header::CONTENT_LENGTH)
                                .and_then(|v| v.to_str().ok())
                                .and_then(|v| v.parse::<u64>().ok())
                                .unwrap_or(0);
                            let has_body = request_bytes > 0
                                || req.headers().contains_key(http::header::TRANSFER_ENCODING);
                            let request_id = next_request_id();
                            let attributes = is_get_object_attributes(&req);
                            let post_form = is_post_form(&req);
                            let fut = hyper::service::Service::call(&service, req);
                            let mut resp =
                                crate::request_metrics::observe(metrics, events, slot, request_bytes, fut).await?;
                            if attributes && resp.status() == http::StatusCode::OK {
                                unquote_attributes_etag(&mut resp).await;
                            }
                            if post_form && resp.status() == http::StatusCode::BAD_REQUEST {
                                refuse_failed_post_condition(&mut resp).await;
                            }
                            if resp.status().is_client_error() || resp.status().is_server_error() {
                                add_request_id_to_error(&mut resp, &request_id).await;
                            }
                            if let Ok(v) = http::HeaderValue::from_str(&request_id) {
                                resp.headers_mut().insert("x-amz-request-id", v);
                            }
                            close_after_refused_body(has_body, resp.status(), resp.headers_mut());
                            if let Some(cross) = cross {
                                cors.decorate(cross, &mut resp).await;
                            }
                            Ok(resp)
                        }
                    });
                    let conn = http.serve_connection(TokioIo::new(sock), svc).into_owned();
                    let conn = graceful.watch(conn);
                    tokio::spawn(async move { let _ = conn.await; });
                }
                Err(e) => tracing::warn!(error = %e, "accept failed on the S3 port"),
            },
            accepted = admin_listener.accept() => match accepted {
                Ok((sock, _)) => {
                    let admin = admin.clone();
                    let svc = hyper::service::service_fn(move |req| admin.clone().handle(req));
                    let conn = http.serve_connection(TokioIo::new(sock), svc).into_owned();
                    let conn = graceful.watch(conn);
                    tokio::spawn(async move { let _ = conn.await; });
                }
                Err(e) => tracing::warn!(error = %e, "accept failed on the admin port"),
            },
            () = &mut shutdown => break,
        }
    }
    tracing::info!("shutting down: waiting up to 10 s for requests in flight");
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(Duration::from_secs(10)) => tracing::warn!("requests still running after 10 s; stopping"),
    }
    engine.shutdown().await;
    Ok(())
}

/// The engine's test hooks, from the binary's test-only environment: `STRATA_TEST_MOVER_PAUSE=<State>` makes the
/// mover stop forever when a task reaches that state (`Copying`, `Verified` or `Committed`), so the process tests
/// can kill it there. Read here, at the edge: the engine itself takes its hooks in-process.
fn test_hooks() -> engine::Hooks {
    let mover_pause_at = std::env::var("STRATA_TEST_MOVER_PAUSE").ok().and_then(|v| {
        [
            catalog::MoveState::Copying,
            catalog::MoveState::Verified,
            catalog::MoveState::Committed,
        ]
        .into_iter()
        .find(|s| s.as_str() == v)
    });
    engine::Hooks { mover_pause_at }
}

/// An error answered to a request with a body may leave that body unread, or never sent: a client that asked
/// `Expect: 100-continue` and got the error instead does not send it, though its `Content-Length` promised it. The
/// connection then cannot carry another request safely (botocore's next request on it failed its signature about
/// one time in ten: an UploadPart refused with NoSuchUpload, then CompleteMultipartUpload), so the answer says
/// `Connection: close` and the client opens a new one.
fn close_after_refused_body(
    has_body: bool,
    status: http::StatusCode,
    headers: &mut http::HeaderMap,
) {
    if has_body && (status.is_client_error() || status.is_server_error()) {
        headers.insert(
            http::header::CONNECTION,
            http::HeaderValue::from_static("close"),
        );
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// Whether `req` is a GetObjectAttributes call (`GET /bucket/key?attributes`).
fn is_get_object_attributes<B>(req: &http::Request<B>) -> bool {
    req.method() == http::Method::GET
        && req.uri().query().is_some_and(|q| {
            q.split('&')
                .any(|p| p == "attributes" || p.starts_with("attributes="))
        })
}

/// A SigV4 presigned URL may live a week at most: S3 refuses an `X-Amz-Expires` that is not a whole number of
/// seconds from 1 to 604,800 with 400 `AuthorizationQueryParametersError` (s3s 0.14 takes any `u32`).
fn refuse_presigned_expiry<B>(req: &http::Request<B>) -> Option<http::Response<s3s::Body>> {
    let query = req.uri().query()?;
    let mut pairs = query.split('&').filter_map(|p| p.split_once('='));
    let expires = pairs.find(|(k, _)| *k == "X-Amz-Expires")?.1;
    let message = match expires.parse::<i64>() {
        Ok(1..=604_800) => return None,
        Ok(n) if n > 604_800 => {
            "X-Amz-Expires must be less than a week (in seconds) that is 604800"
        }
        Ok(_) => "X-Amz-Expires must be non-negative",
        Err(_) => "X-Amz-Expires should be a number",
    };
    Some(crate::s3::errors::xml_answer(
        http::StatusCode::BAD_REQUEST,
        "AuthorizationQueryParametersError",
        message,
    ))
}

/// Whether `req` is a POST object (a browser form upload): a POST whose body is `multipart/form-data`.
fn is_post_form<B>(req: &http::Request<B>) -> bool {
    req.method() == http::Method::POST
        && req
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("multipart/form-data"))
}

/// A form that breaks a condition of its POST policy is 403 AccessDenied in S3 ("Invalid according to Policy:
/// Policy Condition failed"); s3s 0.14 answers 400 InvalidPolicyDocument, so that answer is rewritten (a policy
/// that cannot be read at all stays 400 InvalidPolicyDocument, as in S3).
async fn refuse_failed_post_condition(resp: &mut http::Response<s3s::Body>) {
    let mut refused = false;
    rewrite_small_body(resp, 64 * 1024, |text| {
        let failed = text.contains("<Code>InvalidPolicyDocument</Code>")
            && (text.contains("<Message>Policy condition")
                || text.contains("does not match bucket"));
        refused = failed;
        failed.then(|| {
            text.replacen(
                "<Code>InvalidPolicyDocument</Code>",
                "<Code>AccessDenied</Code>",
                1,
            )
            .replacen(
                "<Message>",
                "<Message>Invalid according to Policy: Policy Condition failed: ",
                1,
            )
        })
    })
    .await;
    if refused {
        *resp.status_mut() = http::StatusCode::FORBIDDEN;
    }
}

/// S3 answers GetObjectAttributes with the ETag *unquoted* in its XML (unlike every other answer, and unlike what
/// s3s 0.14 writes for an `ETag` value): the quotes around the one `<ETag>` element of the small answer are removed.
async fn unquote_attributes_etag(resp: &mut http::Response<s3s::Body>) {
    rewrite_small_body(resp, 1 << 20, |text| {
        ["&quot;", "\""].iter().find_map(|q| {
            let open = format!("<ETag>{q}");
            text.contains(&open).then(|| {
                text.replacen(&open, "<ETag>", 1)
                    .replacen(&format!("{q}</ETag>"), "</ETag>", 1)
            })
        })
    })
    .await;
}

/// Replaces a small answer's body (at most `limit` bytes) with `edit(text)` when that gives `Some`; the answer is
/// left as it was otherwise. Only for the few small XML answers s3s 0.14 writes differently from S3.
async fn rewrite_small_body(
    resp: &mut http::Response<s3s::Body>,
    limit: usize,
    edit: impl FnOnce(&str) -> Option<String>,
) {
    // `store_all_limited` keeps the bytes as the body, so returning early leaves the answer unchanged.
    let Ok(bytes) = resp.body_mut().store_all_limited(limit).await else {
        return;
    };
    if let Some(fixed) = edit(&String::from_utf8_lossy(&bytes)) {
        resp.headers_mut().remove(http::header::CONTENT_LENGTH);
        *resp.body_mut() = s3s::Body::from(fixed);
    }
}

/// A request id as S3 writes them (16 upper-case hex digits), unique within the process: a counter mixed with the
/// process's start time, so ids of two runs do not repeat either.
fn next_request_id() -> String {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEED: OnceLock<u64> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let seed = *SEED.get_or_init(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    });
    // splitmix64: a bijection, so distinct counters give distinct ids.
    let mut z = seed.wrapping_add(
        NEXT.fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15),
    );
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    format!("{:016X}", z ^ (z >> 31))
}

/// An S3 error body carries the request's id (`<RequestId>`, the same as the `x-amz-request-id` header); s3s 0.14
/// leaves it out unless the handler set one, so it is added to the small XML error body here.
async fn add_request_id_to_error(resp: &mut http::Response<s3s::Body>, request_id: &str) {
    let xml = resp
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.contains("xml"));
    if !xml {
        return;
    }
    rewrite_small_body(resp, 64 * 1024, |text| {
        let end = text
            .rfind("</Error>")
            .filter(|_| !text.contains("<RequestId>"))?;
        Some(format!(
            "{}<RequestId>{request_id}</RequestId>{}",
            &text[..end],
            &text[end..]
        ))
    })
    .await;
}
