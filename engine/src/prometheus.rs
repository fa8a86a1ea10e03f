//! The Prometheus page (`GET /metrics` on the admin port): which node this is and whether it leads, the request
//! and backend counters of [`crate::metrics::Metrics`], then everything read when the page is rendered — the
//! access recorder, retries, lifecycle passes, chaos faults, move tasks by state, the model in use, catalog size, usage and cost per
//! backend.

use std::fmt::Write as _;
use std::sync::atomic::Ordering::Relaxed;

use crate::Engine;
use crate::metrics::{header, label};

/// Renders the page in the text exposition format (version 0.0.4).
pub async fn render(engine: &Engine) -> String {
    let s = &engine.core;
    let mut out = String::with_capacity(8192);
    header(
        &mut out,
        "strata_node_info",
        "gauge",
        "this node: its id in the cluster (as in /admin/cluster) and its version; always 1",
    );
    let _ = writeln!(
        out,
        "strata_node_info{{node=\"{}\",version=\"{}\"}} 1",
        label(&s.leadership.node_id),
        env!("CARGO_PKG_VERSION")
    );
    header(
        &mut out,
        "strata_leader",
        "gauge",
        "1 while this node holds the leader's lease (it alone runs the planner, mover, reaper, scrubber, re-sealer and lifecycle passes), else 0",
    );
    let _ = writeln!(out, "strata_leader {}", u8::from(s.leadership.is_leader()));
    s.metrics.render(&mut out);
    let rec = s.recorder.stats();
    header(
        &mut out,
        "strata_access_events_total",
        "counter",
        "access events by fate (recorded, flushed, dropped)",
    );
    for (fate, n) in [
        ("recorded", rec.recorded.load(Relaxed)),
        ("flushed", rec.flushed.load(Relaxed)),
        ("dropped", rec.dropped.load(Relaxed)),
    ] {
        let _ = writeln!(out, "strata_access_events_total{{fate=\"{fate}\"}} {n}");
    }
    if let Some(events) = &s.events {
        header(
            &mut out,
            "strata_kafka_events_total",
            "counter",
            "events to Kafka by fate (published, dropped: buffer full)",
        );
        let st = &events.stats;
        for (fate, n) in [
            ("published", st.published.load(Relaxed)),
            ("dropped", st.dropped.load(Relaxed)),
        ] {
            let _ = writeln!(out, "strata_kafka_events_total{{fate=\"{fate}\"}} {n}");
        }
        header(
            &mut out,
            "strata_kafka_send_failures_total",
            "counter",
            "produce calls or connections to the broker that failed (and were retried)",
        );
        let _ = writeln!(
            out,
            "strata_kafka_send_failures_total {}",
            st.send_failures.load(Relaxed)
        );
        header(
            &mut out,
            "strata_kafka_events_queued",
            "gauge",
            "events waiting for the broker",
        );
        let _ = writeln!(
            out,
            "strata_kafka_events_queued {}",
            st.queued.load(Relaxed)
        );
    }
    header(
        &mut out,
        "strata_access_recording_lag_ms",
        "gauge",
        "age of the oldest event in the last flushed batch",
    );
    let _ = writeln!(
        out,
        "strata_access_recording_lag_ms {}",
        rec.last_lag_ms.load(Relaxed)
    );
    header(
        &mut out,
        "strata_access_recording_pending",
        "gauge",
        "access events queued, not yet in the catalog",
    );
    let _ = writeln!(
        out,
        "strata_access_recording_pending {}",
        s.recorder.pending()
    );
    header(
        &mut out,
        "strata_backend_retries_total",
        "counter",
        "backend calls retried, recovered and given up",
    );
    for (b, r) in &s.retry_stats {
        let snap = r.snapshot();
        for (outcome, n) in [
            ("retry", snap.retries),
            ("recovered", snap.recovered),
            ("give_up", snap.give_ups),
        ] {
            let _ = writeln!(
                out,
                "strata_backend_retries_total{{backend=\"{}\",outcome=\"{outcome}\"}} {n}",
                label(b)
            );
        }
    }
    let lc = engine.lifecycle.status().total;
    header(
        &mut out,
        "strata_lifecycle_total",
        "counter",
        "what this node's lifecycle passes did, by action (expired, noncurrent_deleted, delete_markers_removed, uploads_aborted) and what they left (locked, changed, errors)",
    );
    for (action, n) in [
        ("expired", lc.expired),
        ("noncurrent_deleted", lc.noncurrent_deleted),
        ("delete_markers_removed", lc.delete_markers_removed),
        ("uploads_aborted", lc.uploads_aborted),
        ("locked", lc.locked),
        ("changed", lc.changed),
        ("errors", lc.errors),
    ] {
        let _ = writeln!(out, "strata_lifecycle_total{{action=\"{action}\"}} {n}");
    }
    header(
        &mut out,
        "strata_chaos_faults_injected_total",
        "counter",
        "faults injected by the chaos layer",
    );
    let _ = writeln!(
        out,
        "strata_chaos_faults_injected_total {}",
        s.chaos.total_injected()
    );
    header(
        &mut out,
        "strata_chaos_rule_faults",
        "gauge",
        "faults injected per installed chaos rule",
    );
    for r in s.chaos.stats() {
        let _ = writeln!(
            out,
            "strata_chaos_rule_faults{{rule=\"{}\",backend=\"{}\",fault=\"{}\"}} {}",
            label(&r.id),
            label(&r.backend),
            label(&r.fault_type),
            r.injected
        );
    }
    let moves = s
        .with_catalog(|c| c.moves(catalog::MOVE_HISTORY, false))
        .await
        .unwrap_or_default();
    header(
        &mut out,
        "strata_moves",
        "gauge",
        "move tasks in the catalog by state",
    );
    let mut by_state = std::collections::BTreeMap::new();
    for m in &moves {
        *by_state.entry(m.state.as_str()).or_insert(0u64) += 1;
    }
    for st in [
        "Planned",
        "Copying",
        "Verified",
        "Committed",
        "SourceReleased",
        "Aborted",
    ] {
        let _ = writeln!(
            out,
            "strata_moves{{state=\"{st}\"}} {}",
            by_state.get(st).copied().unwrap_or(0)
        );
    }
    let model = engine.model.report();
    header(
        &mut out,
        "strata_model_forest_in_use",
        "gauge",
        "1 when the trained forest gives p_hot, 0 when the recency-frequency rule does",
    );
    let forest = u8::from(model.in_use == planner::ModelKind::Forest);
    let _ = writeln!(out, "strata_model_forest_in_use {forest}");
    if let Some(m) = &model.metrics {
        header(
            &mut out,
            "strata_model_validation_auc",
            "gauge",
            "validation ROC AUC of the last trained forest and of the rule on the same split",
        );
        let _ = writeln!(
            out,
            "strata_model_validation_auc{{model=\"forest\"}} {}",
            m.auc
        );
        let _ = writeln!(
            out,
            "strata_model_validation_auc{{model=\"rule\"}} {}",
            m.rule_auc
        );
    }
    if let Ok(u) = engine.usage(false).await {
        header(
            &mut out,
            "strata_catalog_objects",
            "gauge",
            "objects in the catalog",
        );
        let _ = writeln!(out, "strata_catalog_objects {}", u.objects);
        header(
            &mut out,
            "strata_catalog_logical_bytes",
            "gauge",
            "sum of object sizes",
        );
        let _ = writeln!(out, "strata_catalog_logical_bytes {}", u.logical_bytes);
        header(
            &mut out,
            "strata_backend_stored_bytes",
            "gauge",
            "plaintext bytes stored per backend",
        );
        for (b, bu) in &u.backends {
            let _ = writeln!(
                out,
                "strata_backend_stored_bytes{{backend=\"{}\"}} {}",
                label(b),
                bu.bytes
            );
        }
        header(
            &mut out,
            "strata_backend_monthly_cost_dollars",
            "gauge",
            "estimated storage cost per month per backend",
        );
        for (b, bu) in &u.backends {
            let _ = writeln!(
                out,
                "strata_backend_monthly_cost_dollars{{backend=\"{}\"}} {}",
                label(b),
                bu.monthly_cost
            );
        }
        header(
            &mut out,
            "strata_monthly_cost_dollars",
            "gauge",
            "estimated storage cost per month, now and if all replicas were on the hottest tier",
        );
        let _ = writeln!(
            out,
            "strata_monthly_cost_dollars{{placement=\"current\"}} {}",
            u.monthly_cost
        );
        let _ = writeln!(
            out,
            "strata_monthly_cost_dollars{{placement=\"all_hot\"}} {}",
            u.all_hot_monthly_cost
        );
    }
    out
}
