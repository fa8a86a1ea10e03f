//! Overhead of the chaos layer with no rules installed (the "costs nothing"
//! requirement), without a benchmark framework: `cargo bench -p chaos`.
//!
//! Prints ns/op for:
//! 1. the per-call decision (`Chaos::is_enabled`, one relaxed atomic load)
//!    against an empty loop;
//! 2. `head` on an `InMemory` store, direct against wrapped (no rules);
//! 3. the same wrapped `head` with one installed rule that does not match
//!    this backend (the slow path's scan), for comparison.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chaos::{Chaos, ChaosConfig, Fault, Rule};
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};

const DECISIONS: u32 = 1_000_000;
const CALLS: u32 = 1_000_000;

fn per_op(elapsed: Duration, n: u32) -> f64 {
    elapsed.as_nanos() as f64 / f64::from(n)
}

fn time_decisions(chaos: &Arc<Chaos>) -> (f64, f64) {
    // Baseline: the same loop without the decision.
    let start = Instant::now();
    for i in 0..DECISIONS {
        black_box(i);
    }
    let none = per_op(start.elapsed(), DECISIONS);

    let start = Instant::now();
    let mut fired = 0u32;
    for i in 0..DECISIONS {
        black_box(i);
        if black_box(chaos).is_enabled() {
            fired += 1;
        }
    }
    let decided = per_op(start.elapsed(), DECISIONS);
    assert_eq!(fired, 0);
    (none, decided)
}

fn time_heads(rt: &tokio::runtime::Runtime, store: &Arc<dyn ObjectStore>) -> f64 {
    let path = Path::from("bench/object");
    rt.block_on(async {
        // Warm up.
        for _ in 0..10_000 {
            black_box(store.head(&path).await.expect("head"));
        }
        let start = Instant::now();
        for _ in 0..CALLS {
            black_box(store.head(&path).await.expect("head"));
        }
        per_op(start.elapsed(), CALLS)
    })
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    let chaos = Chaos::with_seed(0);

    let (none, decided) = time_decisions(&chaos);
    println!(
        "decision, no rules:        {decided:8.2} ns/op  (empty loop {none:.2} ns/op, {DECISIONS} iterations)"
    );

    let inner: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    rt.block_on(inner.put(&Path::from("bench/object"), "payload".into()))
        .expect("put");
    let wrapped = chaos::wrap(Arc::clone(&inner), "bench", &chaos);

    // Interleave runs to even out noise from the shared machine.
    let mut direct = Vec::new();
    let mut through = Vec::new();
    for _ in 0..5 {
        direct.push(time_heads(&rt, &inner));
        through.push(time_heads(&rt, &wrapped));
    }
    let best = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let (direct, through) = (best(&direct), best(&through));
    println!("head, InMemory direct:     {direct:8.2} ns/op  (best of 5 x {CALLS})");
    println!(
        "head, wrapped, no rules:   {through:8.2} ns/op  (+{:.2} ns/op)",
        through - direct
    );

    chaos
        .set(ChaosConfig::new(vec![
            Rule::new(Fault::Down).with_backend("elsewhere"),
        ]))
        .expect("config");
    let scanned = time_heads(&rt, &wrapped);
    println!(
        "head, wrapped, 1 non-matching rule: {scanned:8.2} ns/op  (+{:.2} ns/op)",
        scanned - direct
    );
    assert_eq!(chaos.total_injected(), 0);
}
