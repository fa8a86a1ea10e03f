//! The chaos layer under the storage stack it is built for: `Backend` (sealing) → `RetryStore` → `ChaosStore`
//! → raw store. `backends` knows nothing of this crate, so these tests prove that injected faults are retried
//! and counted exactly like the real failures they imitate.

use std::sync::Arc;
use std::time::Duration;

use backends::retry::{RetryPolicy, RetryStats, RetryStore};
use backends::{Backend, TierProfile};
use bytes::Bytes;
use futures::TryStreamExt;
use object_store::ObjectStore;
use object_store::memory::InMemory;

fn fast() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base: Duration::from_millis(1),
        max_delay: Duration::from_millis(8),
        max_elapsed: Duration::from_secs(5),
        attempt_timeout: Some(Duration::from_secs(5)),
    }
}

#[tokio::test]
async fn injected_chaos_faults_are_retried_under_the_sealing_layer() {
    let chaos = chaos::Chaos::with_seed(7);
    chaos
        .set(chaos::ChaosConfig::new(vec![
            chaos::Rule::new(chaos::Fault::Error { status: 503 })
                .with_backend("hot")
                .with_ops([chaos::Op::Get, chaos::Op::Put])
                .with_max_count(3),
        ]))
        .expect("rules");
    let raw: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let stats = RetryStats::new();
    let retried = RetryStore::new(chaos::wrap(raw, "hot", &chaos), "hot", fast())
        .with_stats(Arc::clone(&stats));
    let backend = Backend::memory("hot", TierProfile::s3_standard()).with_store(Arc::new(retried));
    let data = b"retried through chaos".repeat(100);
    let mut w = backend.writer("c").await.expect("writer");
    w.write(Bytes::from(data.clone())).await.expect("write");
    w.finish().await.expect("finish despite a 503");
    let got: Vec<Bytes> = backend
        .read("c", data.len() as u64, 0..data.len() as u64)
        .await
        .expect("read despite 503s")
        .try_collect()
        .await
        .expect("stream");
    assert_eq!(got.concat(), data);
    assert_eq!(chaos.total_injected(), 3);
    assert_eq!(stats.retries(), 3, "every injected fault retried");
    assert_eq!(stats.give_ups(), 0);
}
