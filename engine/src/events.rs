//! Access events to Kafka: every S3 request and every move as one JSON event, keyed by object.
//!
//! # Contract
//! * [`EventSink::publish`] never blocks and never fails a request: it puts the event in a bounded buffer
//!   (`buffer_events`), or counts it as dropped when the buffer is full.
//! * The publisher ([`run`]) takes events from the buffer in batches (up to `batch_events`, waiting at most
//!   `linger_ms` for a batch to fill) and produces them to the topic. A batch that fails is retried with
//!   backoff (100 ms doubling to 5 s) until the broker acknowledges it: delivery is at least once for every
//!   event that entered the buffer, as long as the node runs. While the broker is down the buffer fills and
//!   further events are dropped (and counted), so requests never wait for Kafka.
//! * Every event of one object goes to one partition (a hash of `bucket/key`), in the order the node published
//!   them: a consumer sees one object's events in order (per node).
//! * At start the publisher creates the topic (`partitions`, replication 1) when the broker does not know it.
//!
//! The client is `rskafka` (pure Rust, no compression codecs, so no C library): see ARCHITECTURE.md.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rskafka::client::partition::{Compression, PartitionClient, UnknownTopicHandling};
use rskafka::client::{Client, ClientBuilder};
use rskafka::record::Record;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

/// The `[events]` config section. Events are off unless `kafka_brokers` names at least one broker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventsSettings {
    /// Bootstrap brokers, `host:port`.
    pub kafka_brokers: Vec<String>,
    pub topic: String,
    /// Partitions of the topic when Strata creates it.
    pub partitions: i32,
    /// Events held while the broker is slow or down; beyond this they are dropped and counted.
    pub buffer_events: usize,
    /// Most events per produce call.
    pub batch_events: usize,
    /// Longest wait for a batch to fill.
    pub linger_ms: u64,
}

impl Default for EventsSettings {
    fn default() -> Self {
        EventsSettings {
            kafka_brokers: Vec::new(),
            topic: "strata.events".to_owned(),
            partitions: 3,
            buffer_events: 100_000,
            batch_events: 1_000,
            linger_ms: 50,
        }
    }
}

impl EventsSettings {
    pub fn enabled(&self) -> bool {
        !self.kafka_brokers.is_empty()
    }

    /// The first invalid field and why.
    pub fn invalid(&self) -> Option<(&'static str, String)> {
        if !self.enabled() {
            return None;
        }
        if self.topic.is_empty() || self.topic.len() > 249 {
            return Some(("events.topic", "must be 1 to 249 characters".into()));
        }
        if !(1..=10_000).contains(&self.partitions) {
            return Some(("events.partitions", "must be 1 to 10000".into()));
        }
        if self.buffer_events == 0 {
            return Some(("events.buffer_events", "must be positive".into()));
        }
        if self.batch_events == 0 {
            return Some(("events.batch_events", "must be positive".into()));
        }
        if let Some(b) = self.kafka_brokers.iter().find(|b| !b.contains(':')) {
            return Some(("events.kafka_brokers", format!("{b:?} is not host:port")));
        }
        None
    }
}

/// One event, as its JSON value on the topic (the record key is `bucket/key`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub bucket: String,
    pub key: String,
    /// The object's generation when known (moves), else `null`.
    pub version: Option<u64>,
    /// Bytes of the request or response body.
    pub size: u64,
    /// The S3 operation (`PutObject`, `GetObject`, …), `Move`, or `LifecycleExpiration` (a lifecycle pass's
    /// deletion or abort; `detail` says which).
    pub op: String,
    /// HTTP status of the answer (moves: 200 committed, 409 aborted at commit).
    pub status: u16,
    pub latency_ms: f64,
    pub node: String,
    /// When the request finished, ms since the Unix epoch.
    pub time_ms: i64,
    /// Moves: `from → to` backends, or why the move was aborted; lifecycle: what was done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Counters of the event stream (in `/metrics` and `/admin/health`).
#[derive(Debug, Default)]
pub struct EventStats {
    pub published: AtomicU64,
    pub dropped: AtomicU64,
    /// Produce calls that failed and were retried.
    pub send_failures: AtomicU64,
    pub queued: AtomicU64,
}

/// The request path's handle: cheap to clone, never blocks.
#[derive(Clone, Debug)]
pub struct EventSink {
    tx: mpsc::Sender<Event>,
    pub stats: Arc<EventStats>,
    pub node: String,
}

impl EventSink {
    /// A sink and the receiving end for [`run`].
    pub fn new(settings: &EventsSettings, node: String) -> (EventSink, mpsc::Receiver<Event>) {
        let (tx, rx) = mpsc::channel(settings.buffer_events.max(1));
        (
            EventSink {
                tx,
                stats: Arc::default(),
                node,
            },
            rx,
        )
    }

    /// Queues `event`, or counts it as dropped when the buffer is full.
    pub fn publish(&self, event: Event) {
        match self.tx.try_send(event) {
            Ok(()) => {
                self.stats.queued.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// The partition of an object's events: stable across nodes and restarts.
pub fn partition_of(bucket: &str, key: &str, partitions: i32) -> i32 {
    let hash = blake3::hash(format!("{bucket}/{key}").as_bytes());
    let n = u32::from_le_bytes(hash.as_bytes()[..4].try_into().unwrap_or([0; 4]));
    (n % partitions.max(1) as u32) as i32
}

/// A connected producer: one client per partition.
struct Producer {
    partitions: BTreeMap<i32, PartitionClient>,
}

async fn connect(settings: &EventsSettings) -> Result<Producer, String> {
    let client: Client = ClientBuilder::new(settings.kafka_brokers.clone())
        .client_id("strata")
        .backoff_config(rskafka::BackoffConfig {
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            base: 2.0,
            deadline: Some(Duration::from_secs(5)),
        })
        .build()
        .await
        .map_err(|e| format!("connect to {:?}: {e}", settings.kafka_brokers))?;
    let topics = client
        .list_topics()
        .await
        .map_err(|e| format!("list topics: {e}"))?;
    let known = topics.iter().find(|t| t.name == settings.topic);
    let count = match known {
        Some(t) => t.partitions.len() as i32,
        None => {
            client
                .controller_client()
                .map_err(|e| format!("controller: {e}"))?
                .create_topic(&settings.topic, settings.partitions, 1, 5_000)
                .await
                .map_err(|e| format!("create topic {}: {e}", settings.topic))?;
            tracing::info!(topic = %settings.topic, partitions = settings.partitions, "created the events topic");
            settings.partitions
        }
    };
    let mut partitions = BTreeMap::new();
    for p in 0..count.max(1) {
        let pc = client
            .partition_client(settings.topic.clone(), p, UnknownTopicHandling::Retry)
            .await
            .map_err(|e| format!("partition {p}: {e}"))?;
        partitions.insert(p, pc);
    }
    Ok(Producer { partitions })
}

fn record(event: &Event) -> Record {
    Record {
        key: Some(format!("{}/{}", event.bucket, event.key).into_bytes()),
        value: serde_json::to_vec(event).ok(),
        headers: BTreeMap::new(),
        timestamp: chrono::DateTime::from_timestamp_millis(event.time_ms).unwrap_or_default(),
    }
}

/// Runs until the sink's senders are gone: batches, produces, retries. See the module contract.
pub async fn run(settings: EventsSettings, mut rx: mpsc::Receiver<Event>, stats: Arc<EventStats>) {
    let mut producer: Option<Producer> = None;
    let mut backoff = Duration::from_millis(100);
    // Events taken from the buffer and not yet acknowledged, in order.
    let mut pending: Vec<Event> = Vec::new();
    loop {
        if pending.is_empty() {
            let Some(first) = rx.recv().await else {
                return;
            };
            pending.push(first);
            let deadline = tokio::time::Instant::now() + Duration::from_millis(settings.linger_ms);
            while pending.len() < settings.batch_events {
                match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some(e)) => pending.push(e),
                    _ => break,
                }
            }
            stats
                .queued
                .fetch_sub(pending.len() as u64, Ordering::Relaxed);
        }
        if producer.is_none() {
            match connect(&settings).await {
                Ok(p) => {
                    tracing::info!(brokers = ?settings.kafka_brokers, topic = %settings.topic, "events: connected");
                    producer = Some(p);
                }
                Err(e) => {
                    stats.send_failures.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(error = %e, retry_in = ?backoff, "events: broker unavailable");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    continue;
                }
            }
        }
        let Some(p) = producer.as_ref() else { continue };
        let before = pending.len();
        let outcome = send(p, &mut pending).await;
        stats
            .published
            .fetch_add((before - pending.len()) as u64, Ordering::Relaxed);
        match outcome {
            Ok(()) => {
                backoff = Duration::from_millis(100);
            }
            Err(e) => {
                stats.send_failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, retry_in = ?backoff, "events: produce failed; retrying");
                producer = None;
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// Produces `pending` partition by partition (order kept within each); removes what the broker acknowledged.
async fn send(p: &Producer, pending: &mut Vec<Event>) -> Result<(), String> {
    let count = p.partitions.len() as i32;
    let mut by_partition: BTreeMap<i32, Vec<usize>> = BTreeMap::new();
    for (i, e) in pending.iter().enumerate() {
        by_partition
            .entry(partition_of(&e.bucket, &e.key, count))
            .or_default()
            .push(i);
    }
    let mut done = vec![false; pending.len()];
    let mut failure = None;
    for (partition, indexes) in by_partition {
        let Some(client) = p.partitions.get(&partition) else {
            failure = Some(format!("no client for partition {partition}"));
            continue;
        };
        let records: Vec<Record> = indexes.iter().map(|&i| record(&pending[i])).collect();
        match client.produce(records, Compression::NoCompression).await {
            Ok(_) => indexes.iter().for_each(|&i| done[i] = true),
            Err(e) => failure = Some(format!("partition {partition}: {e}")),
        }
    }
    let mut i = 0;
    pending.retain(|_| {
        let keep = !done[i];
        i += 1;
        keep
    });
    match failure {
        None => Ok(()),
        Some(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_object_always_maps_to_one_partition() {
        let p = partition_of("b", "k", 3);
        for _ in 0..10 {
            assert_eq!(partition_of("b", "k", 3), p);
        }
        assert!((0..3).contains(&p));
        let spread: std::collections::BTreeSet<_> = (0..100)
            .map(|i| partition_of("b", &format!("k{i}"), 3))
            .collect();
        assert_eq!(spread.len(), 3);
        assert_eq!(partition_of("b", "k", 1), 0);
    }

    #[test]
    fn a_full_buffer_drops_and_counts_without_blocking() {
        let settings = EventsSettings {
            kafka_brokers: vec!["127.0.0.1:1".into()],
            buffer_events: 2,
            ..EventsSettings::default()
        };
        let (sink, _rx) = EventSink::new(&settings, "n".into());
        let event = Event {
            bucket: "b".into(),
            key: "k".into(),
            version: None,
            size: 1,
            op: "PutObject".into(),
            status: 200,
            latency_ms: 1.0,
            node: "n".into(),
            time_ms: 1,
            detail: None,
        };
        for _ in 0..5 {
            sink.publish(event.clone());
        }
        assert_eq!(sink.stats.queued.load(Ordering::Relaxed), 2);
        assert_eq!(sink.stats.dropped.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn settings_name_their_bad_field() {
        let bad = EventsSettings {
            kafka_brokers: vec!["nohostport".into()],
            ..EventsSettings::default()
        };
        assert_eq!(bad.invalid().map(|(f, _)| f), Some("events.kafka_brokers"));
        assert_eq!(EventsSettings::default().invalid(), None);
    }
}
