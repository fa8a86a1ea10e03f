//! Operator commands that talk to a running gateway's admin API: `strata status`, `strata objects`,
//! `strata chaos`. Each prints a human table by default and the API's JSON with `--json`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

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
        let resp = tokio::time::timeout(Duration::from_secs(30), self.http.request(req))
            .await
            .with_context(|| format!("the admin API at {} did not answer within 30 s", self.base))?
            .map_err(|e| anyhow::anyhow!("cannot reach the admin API at {}: {e}", self.base))?;
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
            let msg = json
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let code = json.get("error").and_then(Value::as_str).unwrap_or("error");
            bail!("{method} {path}: {status} {code}: {msg}");
        }
        Ok(json)
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.call(http::Method::GET, path, None).await
    }
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
    println!(
        "status {}  version {}  uptime {} s",
        s(&h["status"]),
        s(&h["version"]),
        s(&h["uptime_s"])
    );
    println!(
        "buckets {}  objects {}  blobs {}  garbage pending {}",
        s(&h["buckets"]),
        s(&h["objects"]),
        s(&h["blobs_referenced"]),
        s(&h["garbage_pending"])
    );
    let rows: Vec<Vec<String>> = h["backends"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|b| {
                    vec![
                        s(&b["name"]),
                        s(&b["provider"]),
                        s(&b["storage_class"]),
                        s(&b["profile"]["storage_gb_month"]),
                        s(&b["active_key_id"]),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
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
        } => {
            let mut path = format!("/admin/objects?bucket={}&limit={limit}", enc(&bucket));
            if let Some(p) = prefix {
                path.push_str(&format!("&prefix={}", enc(&p)));
            }
            let v = c.get(&path).await?;
            if opts.json {
                print_json(&v);
                return Ok(());
            }
            let rows: Vec<Vec<String>> = v["objects"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|o| {
                            vec![
                                s(&o["key"]),
                                s(&o["size"]),
                                s(&o["replicas"]),
                                format!("{:.3}", o["heat"].as_f64().unwrap_or(0.0)),
                                s(&o["reads"]),
                            ]
                        })
                        .collect()
                })
                .unwrap_or_default();
            print_table(&["KEY", "SIZE", "REPLICAS", "HEAT", "READS"], &rows);
            if v["is_truncated"].as_bool() == Some(true) {
                println!(
                    "(more: --limit or /admin/objects?after={})",
                    s(&v["next_after"])
                );
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
            if let Some(map) = v.as_object() {
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
            let rows: Vec<Vec<String>> = stats["rules"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|r| {
                            vec![
                                s(&r["id"]),
                                s(&r["backend"]),
                                s(&r["fault_type"]),
                                s(&r["injected"]),
                            ]
                        })
                        .collect()
                })
                .unwrap_or_default();
            print_table(&["RULE", "BACKEND", "FAULT", "INJECTED"], &rows);
            println!(
                "total injected since start: {}",
                s(&stats["total_injected"])
            );
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
        println!(
            "{} chaos rule(s) installed",
            v["rules"].as_array().map(Vec::len).unwrap_or(0)
        );
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
    let rows: Vec<Vec<String>> = v["moves"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| {
                    vec![
                        s(&m["id"]),
                        s(&m["state"]),
                        format!("{}/{}", s(&m["bucket"]), s(&m["key"])),
                        s(&m["from"]),
                        s(&m["to"]),
                        s(&m["bytes"]),
                        s(&m["attempts"]),
                        s(&m["reason"]),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    print_table(
        &[
            "ID", "STATE", "OBJECT", "FROM", "TO", "BYTES", "TRIES", "REASON",
        ],
        &rows,
    );
    Ok(())
}

/// `strata plan [--apply]`: prints the plan (moves, bytes, cost now → after, lower bound, gap); applies it only
/// with `--apply`.
pub async fn plan(opts: &AdminOpts, apply: bool) -> anyhow::Result<()> {
    let c = AdminClient::new(opts)?;
    let v = if apply {
        c.call(http::Method::POST, "/admin/plan/apply", None)
            .await?
    } else {
        c.get("/admin/plan").await?
    };
    if opts.json {
        print_json(&v);
        return Ok(());
    }
    let plan = if apply { &v["plan"] } else { &v };
    let moves = plan["moves"].as_array().cloned().unwrap_or_default();
    let rows: Vec<Vec<String>> = moves
        .iter()
        .map(|m| {
            vec![
                format!("{}/{}", s(&m["bucket"]), s(&m["key"])),
                s(&m["from"]),
                s(&m["to"]),
                s(&m["bytes"]),
                format!("{:.6}", m["cost_delta"].as_f64().unwrap_or(0.0)),
            ]
        })
        .collect();
    print_table(&["OBJECT", "FROM", "TO", "BYTES", "COST DELTA $"], &rows);
    let bytes: u64 = moves.iter().filter_map(|m| m["bytes"].as_u64()).sum();
    println!(
        "{} move(s), {} bytes; cost ${:.6} -> ${:.6} (lower bound ${:.6}, gap {:.4}%); model: {}",
        moves.len(),
        bytes,
        plan["cost_before"].as_f64().unwrap_or(0.0),
        plan["cost_after"].as_f64().unwrap_or(0.0),
        plan["lower_bound"].as_f64().unwrap_or(0.0),
        plan["gap"].as_f64().unwrap_or(0.0) * 100.0,
        s(&plan["model_in_use"]),
    );
    if apply {
        println!(
            "applied: {} move task(s) created (see `strata moves`)",
            v["created"].as_array().map(Vec::len).unwrap_or(0)
        );
    } else {
        println!("dry run: nothing changed (add --apply to move)");
    }
    Ok(())
}

/// `strata keys status` / `strata keys rotate --backend NAME`.
pub async fn keys(opts: &AdminOpts, cmd: KeysCmd) -> anyhow::Result<()> {
    let c = AdminClient::new(opts)?;
    match cmd {
        KeysCmd::Rotate { backend } => {
            let body = serde_json::to_vec(&serde_json::json!({ "backend": backend }))?;
            let v = c
                .call(http::Method::POST, "/admin/keys/rotate", Some(body))
                .await?;
            if opts.json {
                print_json(&v);
            } else {
                println!(
                    "backend {} now writes with key {}; older blobs are re-sealed in the background (see `strata keys status`)",
                    s(&v["backend"]),
                    s(&v["active_key_id"])
                );
            }
        }
        KeysCmd::Status => {
            let v = c.get("/admin/keys").await?;
            if opts.json {
                print_json(&v);
                return Ok(());
            }
            let rows: Vec<Vec<String>> = v["backends"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|b| vec![s(&b["name"]), s(&b["active_key_id"]), s(&b["key_ids"])])
                        .collect()
                })
                .unwrap_or_default();
            print_table(&["BACKEND", "ACTIVE KEY", "KEYS"], &rows);
            println!(
                "re-seal: {}",
                serde_json::to_string(&v["reseal"]).unwrap_or_default()
            );
        }
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
    },
    /// Keys per backend and the progress of re-sealing.
    Status,
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
    fn keys_keep_their_slashes() {
        assert_eq!(enc_key("a b/c"), "a%20b/c");
    }
}
