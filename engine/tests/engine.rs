//! The engine driven in-process: no binary, no environment variable, no test route. The clock and the mover's
//! pause are injected; objects are written the way the ingest path commits them (sealed blobs, then one catalog
//! transaction).

use std::time::Duration;

use bytes::Bytes;
use catalog::{MoveState, NewMove, NewObject, ObjectMeta, PartRef};
use engine::{Clock, Engine, EngineConfig, Hooks};
use futures::StreamExt;

async fn put(engine: &Engine, key: &str, body: &[u8]) -> PartRef {
    let core = &engine.core;
    let blob = format!("blobs/00/{}", uuid::Uuid::new_v4());
    let hot = core.backend("hot").expect("hot");
    let mut w = hot.writer(&blob).await.expect("writer");
    w.write(Bytes::copy_from_slice(body)).await.expect("write");
    w.finish().await.expect("finish");
    let part = PartRef {
        blob,
        size: body.len() as u64,
        blake3: blake3::hash(body).to_hex().to_string(),
        etag: "0".repeat(32),
    };
    core.catalog
        .put_object(
            "b",
            key,
            NewObject {
                size: part.size,
                etag: "0".repeat(32),
                last_modified_ms: core.clock.now_ms(),
                parts: vec![part.clone()],
                replicas: vec!["hot".into()],
                meta: ObjectMeta::default(),
            },
        )
        .expect("commit");
    part
}

async fn read(engine: &Engine, backend: &str, part: &PartRef) -> Vec<u8> {
    let b = engine.core.backend(backend).expect("backend");
    let mut s = b
        .read(&part.blob, part.size, 0..part.size)
        .await
        .expect("open");
    let mut out = Vec::new();
    while let Some(c) = s.next().await {
        out.extend_from_slice(&c.expect("chunk"));
    }
    out
}

fn task(engine: &Engine, id: u64) -> catalog::MoveTask {
    engine
        .core
        .catalog
        .move_task(id)
        .expect("catalog")
        .expect("task")
}

async fn wait_for_state(engine: &Engine, id: u64, want: MoveState) -> catalog::MoveTask {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let t = task(engine, id);
        if t.state == want {
            return t;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "task {id} stuck in {:?} ({:?}), waiting for {want:?}",
            t.state,
            t.reason
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn open(dir: &std::path::Path, hooks: Hooks) -> std::sync::Arc<Engine> {
    let mut config = EngineConfig::embedded(dir.to_path_buf());
    // Only the mover matters here: no background planning or scrubbing.
    config.planner.enabled = false;
    config.scrub.interval_secs = 0;
    Engine::open_with(&config, Clock::system(), hooks).expect("open engine")
}

async fn plan_move(engine: &Engine, key: &str, size: u64) -> u64 {
    let rec = engine
        .core
        .catalog
        .get_object("b", key)
        .expect("catalog")
        .expect("object");
    let created = engine
        .core
        .catalog
        .create_moves(
            vec![NewMove {
                bucket: "b".into(),
                key: key.into(),
                generation: rec.generation,
                from: rec.replicas.clone(),
                to: vec!["warm".into()],
                bytes: size,
                plan_id: None,
            }],
            engine.core.clock.now_ms(),
        )
        .expect("create move");
    engine.mover.wake();
    created[0].id
}

/// A mover paused (by its injected hook) after verifying its copy has not touched the placement: the object
/// still lives on its old replica only, and the verified copy is there, byte-identical. A node without the hook
/// carries the same move through to the commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_paused_before_its_commit_leaves_the_placement_unchanged() {
    let dir = tempfile::tempdir().expect("temp dir");
    let body: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    {
        let engine = open(
            dir.path(),
            Hooks {
                mover_pause_at: Some(MoveState::Verified),
            },
        );
        engine.core.catalog.create_bucket("b", 0).expect("bucket");
        let part = put(&engine, "k", &body).await;
        engine.recover().await.expect("recover");
        engine.start().await;
        let id = plan_move(&engine, "k", body.len() as u64).await;
        wait_for_state(&engine, id, MoveState::Verified).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let t = task(&engine, id);
        assert_eq!(t.state, MoveState::Verified, "the hook holds the move");
        let rec = engine
            .core
            .catalog
            .get_object("b", "k")
            .expect("catalog")
            .expect("object");
        assert_eq!(rec.replicas, ["hot"], "nothing committed");
        assert_eq!(
            read(&engine, "warm", &part).await,
            body,
            "the verified copy"
        );
        assert_eq!(read(&engine, "hot", &part).await, body, "the source");
        engine.shutdown().await;
    }
    // The same data dir without the hook: recovery resets the interrupted move, the mover finishes it.
    let engine = open(dir.path(), Hooks::default());
    let report = engine.recover().await.expect("recover");
    assert_eq!(report.moves_restarted, 1, "{report:?}");
    engine.start().await;
    engine.mover.wake();
    let moves = engine.core.catalog.moves(10, false).expect("moves");
    let id = moves[0].id;
    let t = wait_for_state(&engine, id, MoveState::Committed).await;
    assert_eq!(t.to, ["warm"]);
    let rec = engine
        .core
        .catalog
        .get_object("b", "k")
        .expect("catalog")
        .expect("object");
    assert_eq!(rec.replicas, ["warm"]);
    assert_eq!(read(&engine, "warm", &rec.parts[0]).await, body);
    engine.shutdown().await;
}

/// The clock is injected: the engine's workers stamp their results with it (here the usage scan), with no
/// test route and no environment variable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_injected_clock_moves_the_engine() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = Clock::system();
    let mut config = EngineConfig::embedded(dir.path().to_path_buf());
    config.planner.enabled = false;
    let engine = Engine::open(&config, clock.clone()).expect("open");
    engine.core.catalog.create_bucket("b", 0).expect("bucket");
    put(&engine, "k", b"hello").await;
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_millis() as i64;
    clock.advance_ms(30 * 86_400_000);
    let usage = engine.usage(true).await.expect("usage");
    assert!(
        usage.computed_ms - wall >= 30 * 86_400_000,
        "{}",
        usage.computed_ms - wall
    );
    assert_eq!(usage.objects, 1);
    assert_eq!(usage.backends["hot"].bytes, 5);
}

/// The read hazard measured by a training survives a restart (it is the rule's prior and the horizon forecast's
/// source: without it a restarted node would plan on the idle-time prior until its next training).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_read_hazard_measured_by_a_training_survives_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = open(dir.path(), Hooks::default());
    let core = &engine.core;
    core.catalog.create_bucket("b", 0).expect("bucket");
    let now = core.clock.now_ms();
    let day = 86_400_000;
    let mut events = Vec::new();
    for i in 0..50 {
        let key = format!("k{i}");
        core.catalog
            .put_object(
                "b",
                &key,
                NewObject {
                    size: 1 << 20,
                    etag: "0".repeat(32),
                    last_modified_ms: now - 30 * day,
                    parts: vec![],
                    replicas: vec!["hot".into()],
                    meta: ObjectMeta::default(),
                },
            )
            .expect("commit");
        // Half the objects are read every day of the last two weeks.
        if i % 2 == 0 {
            for d in 1..14 {
                events.push(catalog::AccessEvent {
                    bucket: "b".into(),
                    key: key.clone(),
                    kind: catalog::AccessKind::Get,
                    bytes: 1 << 20,
                    at_ms: now - d * day,
                });
            }
        }
    }
    events.sort_by_key(|e| e.at_ms);
    core.catalog.record_accesses(&events).expect("reads");
    assert!(engine.model.hazard().is_none(), "nothing measured yet");
    engine.model.retrain(&engine.core).await;
    let measured = engine
        .model
        .hazard()
        .expect("a training measures the hazard");
    assert!(dir.path().join("model").join("hazard.json").exists());
    engine.shutdown().await;
    engine.core.recorder.close().await;
    drop(engine);

    let again = open(dir.path(), Hooks::default());
    assert_eq!(again.model.hazard(), Some(measured));
    again.core.recorder.close().await;
}
