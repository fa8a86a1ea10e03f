//! The planning cycle at catalog scale (issue "placement that beats Intelligent-Tiering", section "Scale from the
//! real catalog"): one full cycle of the gateway — catalog scan, features, forecast, plan, move tasks — over an
//! embedded catalog of N objects, timed, with the process's peak resident memory.
//!
//! ```sh
//! cargo run --release -p engine --example plan_scale -- fill /tmp/scale 1000000   # builds the catalog
//! cargo run --release -p engine --example plan_scale -- cycle /tmp/scale          # one cycle, in a fresh process
//! ```
//!
//! `fill` writes N objects into bucket `b` of `DIR/catalog.redb` (the embedded default's catalog) as the ingest
//! path commits them, on the `hot` tier, written over the last 180 days, sizes from 4 KiB to 64 MiB, and a week
//! of reads on one object in ten (1 to 8 reads each) through the access recorder's batch call. `cycle` opens the
//! engine on `DIR` as `strata serve --data-dir DIR` would, trains the model once (as the weekly schedule does),
//! then runs `Engine::plan` and `Engine::apply` and prints the time of each and the peak RSS (`VmHWM`) of the
//! process, which did nothing else. The blobs are not written: the cycle never reads them.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use catalog::{
    AccessEvent, AccessKind, CatalogConfig, NewObject, ObjectMeta, PartRef, RedbCatalog,
};
use engine::{Clock, Engine, EngineConfig};

const DAY_MS: i64 = 86_400_000;

fn status_kib(field: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or("?".into(), |k| format!("{:.0} MiB", k as f64 / 1024.0))
}

/// A deterministic pseudo-random number from `i` (splitmix64).
fn mix(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn fill(dir: &Path, n: u64) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let cat = Arc::new(RedbCatalog::open(
        &dir.join("catalog.redb"),
        CatalogConfig::default(),
    )?);
    let now = Clock::system().now_ms();
    if cat.bucket("b")?.is_none() {
        cat.create_bucket("b", now)?;
    }
    let started = Instant::now();
    let threads = 8u64;
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let cat = cat.clone();
            std::thread::spawn(move || -> anyhow::Result<()> {
                let mut i = t;
                let mut events = Vec::new();
                while i < n {
                    let r = mix(i);
                    let size = 4096u64 << (r % 15); // 4 KiB .. 64 MiB
                    let written = now - (r >> 8) as i64 % (180 * DAY_MS);
                    let key = format!("obj/{i:010}");
                    cat.put_object(
                        "b",
                        &key,
                        NewObject {
                            size,
                            etag: format!("{r:032x}"),
                            last_modified_ms: written,
                            parts: vec![PartRef {
                                blob: format!("blobs/{:02x}/{r:016x}{i:010}", r & 0xff),
                                size,
                                blake3: format!("{r:064x}"),
                                etag: format!("{r:032x}"),
                            }],
                            replicas: vec!["hot".into()],
                            meta: ObjectMeta::default(),
                        },
                    )?;
                    if r.is_multiple_of(10) {
                        for k in 0..1 + (r >> 20) % 8 {
                            events.push(AccessEvent {
                                bucket: "b".into(),
                                key: key.clone(),
                                kind: AccessKind::Get,
                                bytes: size,
                                at_ms: now - (mix(r ^ k) % (7 * DAY_MS as u64)) as i64,
                            });
                        }
                    }
                    if events.len() >= 8192 {
                        events.sort_by_key(|e| e.at_ms);
                        cat.record_accesses(&events)?;
                        events.clear();
                    }
                    i += threads;
                }
                events.sort_by_key(|e| e.at_ms);
                cat.record_accesses(&events)?;
                Ok(())
            })
        })
        .collect();
    for h in handles {
        h.join()
            .map_err(|_| anyhow::anyhow!("a fill thread panicked"))??;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "filled {n} objects in {secs:.1} s ({:.0} objects/s); catalog {:.0} MiB",
        n as f64 / secs,
        std::fs::metadata(dir.join("catalog.redb"))?.len() as f64 / (1 << 20) as f64
    );
    Ok(())
}

fn cycle(dir: &Path) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let config = EngineConfig::embedded(dir.to_path_buf());
        let engine = Engine::open(&config, Clock::system())?;
        let objects = engine.core.catalog.total_object_count()?;
        println!(
            "opened: {objects} objects, RSS {}",
            mib(status_kib("VmRSS:"))
        );
        if std::env::var_os("PLAN_SCALE_NO_TRAINING").is_none() {
            let t = Instant::now();
            let report = engine.model.retrain(&engine.core).await;
            println!(
                "model training: {:.1} s ({:?}), RSS {}",
                t.elapsed().as_secs_f64(),
                report.last_attempt.map(|a| a.message),
                mib(status_kib("VmRSS:"))
            );
        }
        let t = Instant::now();
        let plan = engine.plan().await?;
        let planned = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let created = engine.apply(&plan).await?;
        let applied = t.elapsed().as_secs_f64();
        println!(
            "cycle: plan {planned:.1} s ({} objects, {} moves, model {:?}, cost {:.2} -> {:.2} USD), move tasks \
             {applied:.1} s ({} created); total {:.1} s; peak RSS {} (now {})",
            plan.objects,
            plan.moves.len(),
            plan.model_in_use,
            plan.cost_before,
            plan.cost_after,
            created.len(),
            planned + applied,
            mib(status_kib("VmHWM:")),
            mib(status_kib("VmRSS:"))
        );
        engine.core.recorder.close().await;
        anyhow::Ok(())
    })
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [cmd, dir, n] if cmd == "fill" => fill(&PathBuf::from(dir), n.parse()?),
        [cmd, dir] if cmd == "cycle" => cycle(&PathBuf::from(dir)),
        _ => {
            eprintln!("usage: plan_scale fill DIR OBJECTS | plan_scale cycle DIR");
            std::process::exit(2);
        }
    }
}
