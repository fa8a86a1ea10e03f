//! `strata-loadtest catalog-bench`: catalog operations per second, the embedded catalog (redb) against the shared
//! one (PostgreSQL), with the same calls from the same number of threads. A benchmark, not a test: it reports.

use std::sync::Arc;
use std::time::Instant;

use catalog::{AccessEvent, AccessKind, Catalog, NewObject, ObjectMeta, PartRef};

/// One measured phase.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PhaseResult {
    pub catalog: String,
    pub op: String,
    pub threads: usize,
    pub ops: u64,
    pub secs: f64,
    pub ops_per_sec: f64,
}

fn object(i: u64) -> NewObject {
    NewObject {
        size: 4096,
        etag: format!("{i:032x}"),
        last_modified_ms: 1,
        parts: vec![PartRef {
            blob: format!("blob-{i}"),
            size: 4096,
            blake3: String::new(),
            etag: String::new(),
        }],
        replicas: vec!["hot".into()],
        meta: ObjectMeta::default(),
    }
}

/// Runs `op(thread, i)` `ops_per_thread` times on each of `threads` threads; the first error stops the phase.
fn phase(
    name: &str,
    label: &str,
    threads: usize,
    ops_per_thread: u64,
    op: impl Fn(usize, u64) -> catalog::Result<()> + Send + Sync + 'static,
) -> Result<PhaseResult, String> {
    let op = Arc::new(op);
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let op = op.clone();
            std::thread::spawn(move || (0..ops_per_thread).try_for_each(|i| op(t, i)))
        })
        .collect();
    for h in handles {
        h.join()
            .map_err(|_| format!("{label}: a thread panicked"))?
            .map_err(|e| format!("{label}: {e}"))?;
    }
    let secs = start.elapsed().as_secs_f64();
    let ops = threads as u64 * ops_per_thread;
    Ok(PhaseResult {
        catalog: name.to_owned(),
        op: label.to_owned(),
        threads,
        ops,
        secs,
        ops_per_sec: ops as f64 / secs.max(1e-9),
    })
}

/// Puts `threads * ops` objects, gets each back, lists pages of 100, records batches of 100 accesses.
pub fn run(
    name: &str,
    catalog: Arc<dyn Catalog>,
    threads: usize,
    ops: u64,
) -> Result<Vec<PhaseResult>, String> {
    let bucket = "bench";
    catalog
        .create_bucket(bucket, 0)
        .map_err(|e| format!("create bucket: {e}"))?;
    let key = |t: usize, i: u64| format!("t{t:02}/k{i:08}");
    let mut out = Vec::new();
    let c = catalog.clone();
    out.push(phase(name, "put_object", threads, ops, move |t, i| {
        c.put_object(bucket, &key(t, i), object(i)).map(|_| ())
    })?);
    let c = catalog.clone();
    out.push(phase(name, "get_object", threads, ops, move |t, i| {
        let k = key(t, (i * 7919) % ops);
        match c.get_object(bucket, &k)? {
            Some(_) => Ok(()),
            None => Err(catalog::CatalogError::Storage(format!("{k} missing"))),
        }
    })?);
    let c = catalog.clone();
    out.push(phase(
        name,
        "list_objects (100 keys)",
        threads,
        ops / 10,
        move |t, i| {
            let after = key(t, (i * 100) % ops);
            c.list_objects(bucket, "", None, Some(&after), 100)
                .map(|_| ())
        },
    )?);
    let c = catalog.clone();
    out.push(phase(
        name,
        "record_accesses (100 events)",
        threads,
        ops / 100,
        move |t, i| {
            let events: Vec<AccessEvent> = (0..100)
                .map(|j| AccessEvent {
                    bucket: bucket.to_owned(),
                    key: key(t, (i * 100 + j) % ops),
                    kind: AccessKind::Get,
                    bytes: 4096,
                    at_ms: 1_000 + i as i64,
                })
                .collect();
            c.record_accesses(&events)
        },
    )?);
    Ok(out)
}
