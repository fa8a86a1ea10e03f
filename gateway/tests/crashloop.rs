//! Crash loop: mixed PUT/GET/DELETE load from concurrent SDK clients plus moves, under survivable chaos faults,
//! with the gateway killed with SIGKILL at random moments (seeded) and restarted on the same data dir. After every
//! restart each key is checked against a model of what was acknowledged: an acknowledged PUT reads back
//! byte-identical (or a later acknowledged overwrite or delete does), an acknowledged DELETE stays deleted, the
//! listing holds exactly the live keys. At the end: no orphan blob file and no lost object.
//!
//! Default: 5 kills. `STRATA_SOAK_KILLS=N` runs N kills (`scripts/soak.sh` runs 50); `STRATA_CRASHLOOP_SEED=S`
//! replays a run. One summary line starting `CRASHLOOP` gives the figures (`--nocapture` to see it on success).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use common::{ACCESS_KEY, ADMIN_TOKEN, Gateway, SECRET_KEY, blob_files, json, wait_for};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Three local backends, RF=2, and faults every read or move survives: slow and corrupt reads on `a`, 503s on
/// `b`'s reads, 503s on `c`'s writes (the move destination). Installed again at every start.
const CONFIG: &str = r#"
[[backends]]
name = "a"
kind = "local"
path = "backends/a"
tier = "aws-s3-standard"

[[backends]]
name = "b"
kind = "local"
path = "backends/b"
tier = "azure-cold"

[[backends]]
name = "c"
kind = "local"
path = "backends/c"
tier = "gcs-standard"

[placement]
replication_factor = 2
initial = ["a", "b"]

[retry]
max_attempts = 4
base_ms = 10
max_delay_ms = 100
attempt_timeout_ms = 5000

[scrub]
interval_secs = 0

[planner]
enabled = false

[[chaos.rules]]
id = "slow-a"
backend = "a"
ops = ["get"]
probability = 0.3
fault = { type = "latency", fixed_ms = 2, jitter_ms = 20 }

[[chaos.rules]]
id = "corrupt-a"
backend = "a"
ops = ["get"]
probability = 0.05
fault = { type = "corrupt", flips = 2 }

[[chaos.rules]]
id = "flaky-b"
backend = "b"
ops = ["get"]
probability = 0.1
fault = { type = "error", status = 503 }

[[chaos.rules]]
id = "flaky-c"
backend = "c"
ops = ["put", "multipart"]
probability = 0.1
fault = { type = "error", status = 503 }
"#;

const BUCKET: &str = "crash";
const WORKERS: usize = 4;
const KEYS_PER_WORKER: usize = 12;

/// What a key holds: nothing, or content with this blake3.
#[derive(Clone, Debug, PartialEq, Eq)]
enum V {
    Absent,
    Present(String),
}

/// The model of one key: its last acknowledged state, and the outcomes of operations sent since then whose
/// outcome is unknown (no reply: killed, or failed). Each key belongs to one worker, so its operations are
/// sequential.
#[derive(Clone, Debug)]
struct KeyModel {
    acked: V,
    maybe: Vec<V>,
}

impl KeyModel {
    fn allows(&self, v: &V) -> bool {
        self.acked == *v || self.maybe.contains(v)
    }
}

type Model = Arc<Mutex<BTreeMap<String, KeyModel>>>;

#[derive(Default)]
struct Counters {
    acked_puts: AtomicU64,
    acked_deletes: AtomicU64,
    gets_checked: AtomicU64,
    failed_ops: AtomicU64,
}

fn kills() -> usize {
    std::env::var("STRATA_SOAK_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
}

fn seed() -> u64 {
    std::env::var("STRATA_CRASHLOOP_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        })
}

fn body(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

fn hash(b: &[u8]) -> String {
    blake3::hash(b).to_hex().to_string()
}

fn client(g: &Gateway) -> aws_sdk_s3::Client {
    let creds = aws_sdk_s3::config::Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "crash");
    let config = aws_sdk_s3::Config::builder()
        .behavior_version_latest()
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .endpoint_url(g.endpoint())
        .force_path_style(true)
        .credentials_provider(creds)
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        // One attempt per operation: an acknowledgement is exactly one request's.
        .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
        .timeout_config(
            aws_sdk_s3::config::timeout::TimeoutConfig::builder()
                .operation_timeout(Duration::from_secs(120))
                .build(),
        )
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// A request on the admin port (the harness's helper needs the `Gateway`, which the main loop holds mutably).
fn admin(addr: SocketAddr, method: &str, path: &str, body: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let status = buf.split_whitespace().nth(1)?.parse().ok()?;
    let body = buf
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Some((status, body))
}

/// GET `key`: its state, or an error that is not an answer about the key (connection, 5xx).
async fn read(c: &aws_sdk_s3::Client, key: &str) -> Result<V, String> {
    match c.get_object().bucket(BUCKET).key(key).send().await {
        Ok(out) => match out.body.collect().await {
            Ok(b) => Ok(V::Present(hash(&b.into_bytes()))),
            Err(e) => Err(format!("body: {e}")),
        },
        Err(e) if e.code() == Some("NoSuchKey") => Ok(V::Absent),
        Err(e) => Err(format!("{e:?}")),
    }
}

/// One worker: random operations on its own keys until `stop`.
async fn worker(
    c: aws_sdk_s3::Client,
    id: usize,
    mut rng: StdRng,
    model: Model,
    stop: Arc<AtomicBool>,
    n: Arc<Counters>,
    wrong: Arc<Mutex<Vec<String>>>,
) {
    while !stop.load(Ordering::Relaxed) {
        let key = format!("w{id}/k{}", rng.gen_range(0..KEYS_PER_WORKER));
        let roll = rng.gen_range(0..100);
        if roll < 45 {
            let len = match rng.gen_range(0..100) {
                0..70 => rng.gen_range(0..16 * 1024),
                70..95 => rng.gen_range(16 * 1024..300 * 1024),
                _ => rng.gen_range(1024 * 1024..2_600_000),
            };
            let data = body(rng.r#gen(), len);
            let v = V::Present(hash(&data));
            model
                .lock()
                .unwrap()
                .get_mut(&key)
                .unwrap()
                .maybe
                .push(v.clone());
            let r = c
                .put_object()
                .bucket(BUCKET)
                .key(&key)
                .body(ByteStream::from(data))
                .send()
                .await;
            if r.is_ok() {
                let mut m = model.lock().unwrap();
                let k = m.get_mut(&key).unwrap();
                k.acked = v;
                k.maybe.clear();
                n.acked_puts.fetch_add(1, Ordering::Relaxed);
            } else {
                n.failed_ops.fetch_add(1, Ordering::Relaxed);
            }
        } else if roll < 65 {
            model
                .lock()
                .unwrap()
                .get_mut(&key)
                .unwrap()
                .maybe
                .push(V::Absent);
            let r = c.delete_object().bucket(BUCKET).key(&key).send().await;
            if r.is_ok() {
                let mut m = model.lock().unwrap();
                let k = m.get_mut(&key).unwrap();
                k.acked = V::Absent;
                k.maybe.clear();
                n.acked_deletes.fetch_add(1, Ordering::Relaxed);
            } else {
                n.failed_ops.fetch_add(1, Ordering::Relaxed);
            }
        } else {
            match read(&c, &key).await {
                Ok(v) => {
                    n.gets_checked.fetch_add(1, Ordering::Relaxed);
                    let m = model.lock().unwrap();
                    let k = &m[&key];
                    if !k.allows(&v) {
                        wrong
                            .lock()
                            .unwrap()
                            .push(format!("GET {key} during load saw {v:?}; model {k:?}"));
                    }
                }
                Err(_) => {
                    n.failed_ops.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}

/// Every key against the model (the gateway is freshly restarted: nothing is in flight), then the listing.
/// Resolves the model to what is stored. Returns (keys checked, keys with an unacknowledged operation, violations).
async fn verify(g: &Gateway, model: &Model) -> (u64, u64, Vec<String>) {
    let c = client(g);
    let keys: Vec<String> = model.lock().unwrap().keys().cloned().collect();
    let mut bad = Vec::new();
    let (mut checked, mut uncertain) = (0, 0);
    for key in keys {
        let mut attempt = 0;
        let seen = loop {
            attempt += 1;
            match read(&c, &key).await {
                Ok(v) => break v,
                Err(e) => {
                    assert!(attempt < 5, "GET {key} keeps failing after restart: {e}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        };
        checked += 1;
        let mut m = model.lock().unwrap();
        let k = m.get_mut(&key).unwrap();
        if !k.allows(&seen) {
            bad.push(format!("{key}: stored {seen:?}, model {k:?}"));
        }
        if !k.maybe.is_empty() {
            uncertain += 1;
        }
        k.acked = seen;
        k.maybe.clear();
    }
    let mut listed = BTreeSet::new();
    let mut token = None;
    loop {
        let out = c
            .list_objects_v2()
            .bucket(BUCKET)
            .set_continuation_token(token)
            .send()
            .await
            .expect("list after restart");
        listed.extend(
            out.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
        token = out.next_continuation_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    let live: BTreeSet<String> = model
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, k)| k.acked != V::Absent)
        .map(|(key, _)| key.clone())
        .collect();
    if listed != live {
        bad.push(format!("listing {listed:?} != live keys {live:?}"));
    }
    (checked, uncertain, bad)
}

fn injected(addr: SocketAddr) -> Option<u64> {
    let (status, body) = admin(addr, "GET", "/admin/chaos/stats", "")?;
    (status == 200).then(|| json(&body)["total_injected"].as_u64())?
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_at_random_moments_loses_nothing() {
    let seed = seed();
    let kills = kills();
    println!("CRASHLOOP seed={seed} kills={kills} (replay with STRATA_CRASHLOOP_SEED={seed})");
    let t0 = Instant::now();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut g = Gateway::start_with_config(CONFIG);
    client(&g)
        .create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .expect("create bucket");
    let model: Model = Arc::new(Mutex::new(
        (0..WORKERS)
            .flat_map(|w| (0..KEYS_PER_WORKER).map(move |k| format!("w{w}/k{k}")))
            .map(|k| {
                (
                    k,
                    KeyModel {
                        acked: V::Absent,
                        maybe: Vec::new(),
                    },
                )
            })
            .collect(),
    ));
    let n = Arc::new(Counters::default());
    let wrong: Arc<Mutex<Vec<String>>> = Arc::default();
    let (mut faults, mut survived, mut checked, mut moves, mut uncertain) =
        (0u64, 0usize, 0u64, 0u64, 0u64);
    let mut lost: Vec<String> = Vec::new();

    for cycle in 0..kills {
        let stop = Arc::new(AtomicBool::new(false));
        let tasks: Vec<_> = (0..WORKERS)
            .map(|w| {
                tokio::spawn(worker(
                    client(&g),
                    w,
                    StdRng::seed_from_u64(rng.r#gen()),
                    model.clone(),
                    stop.clone(),
                    n.clone(),
                    wrong.clone(),
                ))
            })
            .collect();
        // Run for a random while, planning moves of live objects now and then, then kill -9.
        let run_for = Duration::from_millis(rng.gen_range(300..2500));
        let started = Instant::now();
        let mut seen_faults = 0;
        while started.elapsed() < run_for {
            tokio::time::sleep(Duration::from_millis(rng.gen_range(20..150))).await;
            if rng.gen_bool(0.5) {
                let w = rng.gen_range(0..WORKERS);
                let key = format!("w{w}/k{}", rng.gen_range(0..KEYS_PER_WORKER));
                let to = [["a", "b"], ["a", "c"], ["b", "c"]][rng.gen_range(0..3)];
                let req = serde_json::json!({"bucket": BUCKET, "key": key, "to": to}).to_string();
                if let Some((202, _)) = admin(g.admin, "POST", "/admin/moves", &req) {
                    moves += 1;
                }
            }
            if let Some(f) = injected(g.admin) {
                seen_faults = f;
            }
        }
        g.kill9();
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            t.await.expect("worker task");
        }
        faults += seen_faults;
        g.restart_with(&[]);
        let (c, u, bad) = verify(&g, &model).await;
        checked += c;
        uncertain += u;
        if bad.is_empty() {
            survived += 1;
        }
        for b in bad {
            lost.push(format!("after kill {}: {b}", cycle + 1));
        }
    }

    // Let the moves finish (a restart first: recovery empties the garbage queue, so moves waiting for the reaper
    // can run), then every file under the backends must be a replica the catalog references.
    g.kill9();
    g.restart_with(&[]);
    let admin_addr = g.admin;
    let moved = wait_for(120, "moves to settle", || {
        let (_, body) = admin(admin_addr, "GET", "/admin/moves?limit=10000", "")?;
        let v = json(&body);
        let tasks = v["moves"].as_array()?;
        let busy = tasks.iter().any(|t| {
            matches!(
                t["state"].as_str(),
                Some("Planned" | "Copying" | "Verified")
            )
        });
        let committed = tasks
            .iter()
            .filter(|t| matches!(t["state"].as_str(), Some("Committed" | "SourceReleased")))
            .count();
        (!busy).then_some(committed)
    });
    let (c, _, bad) = verify(&g, &model).await;
    checked += c;
    lost.extend(bad.into_iter().map(|b| format!("at the end: {b}")));
    let (files, referenced) = wait_for(60, "no orphan blob files", || {
        let (_, body) = admin(admin_addr, "GET", "/admin/health?deep=true", "")?;
        let h = json(&body);
        let referenced = h["blobs_referenced"].as_u64()?;
        let pending = h["garbage_pending"].as_u64()?;
        let files = blob_files(&g.data_dir()).len() as u64;
        (pending == 0 && files == referenced).then_some((files, referenced))
    });
    if let Some(f) = injected(admin_addr) {
        faults += f;
    }
    let live = model
        .lock()
        .unwrap()
        .values()
        .filter(|k| k.acked != V::Absent)
        .count();
    let wrong = wrong.lock().unwrap().clone();
    println!(
        "CRASHLOOP seed={seed} kills_survived={survived}/{kills} objects_checked={checked} acked_puts={} acked_deletes={} gets_checked={} moves_planned={moves} moves_committed={moved} unacked_ops_resolved={uncertain} faults_injected={faults} live_objects={live} blob_files={files} referenced={referenced} lost={} wrong_reads={} secs={:.1}",
        n.acked_puts.load(Ordering::Relaxed),
        n.acked_deletes.load(Ordering::Relaxed),
        n.gets_checked.load(Ordering::Relaxed),
        lost.len(),
        wrong.len(),
        t0.elapsed().as_secs_f64(),
    );
    assert!(
        lost.is_empty(),
        "seed {seed}: acknowledged state not kept:\n{}",
        lost.join("\n")
    );
    assert!(
        wrong.is_empty(),
        "seed {seed}: wrong reads under load:\n{}",
        wrong.join("\n")
    );
    assert_eq!(survived, kills);
    assert!(
        n.acked_puts.load(Ordering::Relaxed) > 0,
        "the load made no progress"
    );
    assert!(faults > 0, "no chaos fault was injected");
    assert!(!g.log().contains("panicked"), "the gateway panicked");
}
