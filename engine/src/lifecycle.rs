//! Carrying out the buckets' lifecycle rules (PutBucketLifecycleConfiguration): expiring current versions,
//! deleting noncurrent ones, removing lone delete markers and aborting old multipart uploads.
//!
//! Contracts:
//!
//! - **S3's days.** An action due `n` days after a time (the write; the moment a version became noncurrent, which
//!   is the write of the version after it; an upload's start) is due at the first midnight UTC at least `n` days
//!   after it ([`due_ms`]). An `Expiration` `Date` is due at that midnight. Times are the node's clock.
//! - **What an expiration does** is what a DeleteObject without a version id does: in an unversioned bucket the
//!   object goes; with versioning it becomes noncurrent under a new delete marker (suspended: the `null` version
//!   goes). Noncurrent versions go for good. A delete marker left alone (no other version of its key) goes under
//!   `ExpiredObjectDeleteMarker` at once, and under an expiration of current versions once it is as old as that
//!   asks. Nothing under Object Lock goes (a legal hold, any retention): it is counted in
//!   [`LifecycleReport::locked`] and looked at again next pass.
//! - **No race with writers.** Each deletion is conditional on the version still being the one the pass read
//!   ([`catalog::Catalog::delete_version_if`]), so a write made meanwhile is never expired or hidden by a decision
//!   taken on the version it replaced; such a key is counted in [`LifecycleReport::changed`].
//! - **Only the leader runs passes** in the background (a singleton worker, every
//!   `[lifecycle] interval_secs`); `POST /admin/lifecycle/run` runs one on demand. Passes do not overlap.
//! - Blobs of what goes are released to the reaper as any delete's are; early-deletion fees are billed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use catalog::{AccessEvent, AccessKind, CatalogError, LifecycleRule, VersionEntry};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::core::Core;

const DAY_MS: i64 = 86_400_000;
/// Versions or uploads read from the catalog per page.
const PAGE: usize = 1000;

/// When an action due `days` days after `start_ms` is due: the first midnight UTC at least `days` days after it.
pub fn due_ms(start_ms: i64, days: u32) -> i64 {
    let t = start_ms.saturating_add(i64::from(days) * DAY_MS);
    t.div_euclid(DAY_MS) * DAY_MS + if t.rem_euclid(DAY_MS) == 0 { 0 } else { DAY_MS }
}

/// What one pass did (or, in [`Lifecycle::status`], every pass since start).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LifecycleReport {
    /// Buckets with at least one enabled rule.
    pub buckets: u64,
    /// Current versions expired (deleted, or hidden under a delete marker in a versioned bucket).
    pub expired: u64,
    /// Noncurrent versions (and noncurrent delete markers) deleted.
    pub noncurrent_deleted: u64,
    /// Delete markers removed because no other version of their key was left.
    pub delete_markers_removed: u64,
    /// Multipart uploads aborted.
    pub uploads_aborted: u64,
    /// Versions due but under Object Lock, left in place.
    pub locked: u64,
    /// Versions due but changed by a write since the pass read them, left in place.
    pub changed: u64,
    /// Catalog errors (the pass goes on with the next key).
    pub errors: u64,
}

impl LifecycleReport {
    fn add(&mut self, o: &LifecycleReport) {
        self.buckets += o.buckets;
        self.expired += o.expired;
        self.noncurrent_deleted += o.noncurrent_deleted;
        self.delete_markers_removed += o.delete_markers_removed;
        self.uploads_aborted += o.uploads_aborted;
        self.locked += o.locked;
        self.changed += o.changed;
        self.errors += o.errors;
    }
}

/// The status of the lifecycle worker: the last pass and the totals since start.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LifecycleStatus {
    pub passes: u64,
    /// The node's clock when the last pass ended (ms), if one ran.
    pub last_pass_ms: Option<i64>,
    pub last: LifecycleReport,
    pub total: LifecycleReport,
}

/// The lifecycle worker's state: one pass at a time, and its counters.
#[derive(Default)]
pub struct Lifecycle {
    running: tokio::sync::Mutex<()>,
    status: std::sync::Mutex<LifecycleStatus>,
}

impl Lifecycle {
    pub fn status(&self) -> LifecycleStatus {
        self.status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Runs one pass over every bucket now (waiting for a running one to end first) and returns what it did.
    pub async fn run_once(&self, core: &Arc<Core>) -> LifecycleReport {
        let _one = self.running.lock().await;
        let report = pass(core).await;
        let mut s = self.status.lock().unwrap_or_else(|e| e.into_inner());
        s.passes += 1;
        s.last_pass_ms = Some(core.clock.now_ms());
        s.total.add(&report);
        s.last = report.clone();
        report
    }
}

/// The background worker: a pass every `interval`, the first one after a minute (or `interval`, if shorter).
pub async fn run(core: Arc<Core>, lifecycle: Arc<Lifecycle>, interval: Duration) {
    tokio::time::sleep(interval.min(Duration::from_secs(60))).await;
    loop {
        let r = lifecycle.run_once(&core).await;
        if r != LifecycleReport::default() {
            tracing::info!(report = ?r, "lifecycle pass");
        }
        tokio::time::sleep(interval).await;
    }
}

async fn pass(core: &Arc<Core>) -> LifecycleReport {
    let mut report = LifecycleReport::default();
    let buckets = match core.with_catalog(|c| c.list_buckets()).await {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(error = %e, "lifecycle: cannot list buckets");
            report.errors += 1;
            return report;
        }
    };
    for b in buckets {
        let rules: Vec<LifecycleRule> = b.lifecycle.into_iter().filter(|r| r.enabled).collect();
        if rules.is_empty() {
            continue;
        }
        report.buckets += 1;
        let rules = Arc::new(rules);
        if rules.iter().any(|r| {
            r.expiration_days.is_some()
                || r.expiration_date_ms.is_some()
                || r.noncurrent_days.is_some()
                || r.expired_object_delete_marker
        }) {
            versions_pass(core, &b.name, &rules, &mut report).await;
        }
        if rules
            .iter()
            .any(|r| r.abort_incomplete_multipart_days.is_some())
        {
            uploads_pass(core, &b.name, &rules, &mut report).await;
        }
    }
    report
}

/// Walks the bucket's versions key by key (each key's versions newest first).
async fn versions_pass(
    core: &Arc<Core>,
    bucket: &str,
    rules: &Arc<Vec<LifecycleRule>>,
    report: &mut LifecycleReport,
) {
    let (mut key_marker, mut version_marker): (Option<String>, Option<String>) = (None, None);
    let mut group: Vec<VersionEntry> = Vec::new();
    loop {
        let (b, km, vm) = (
            bucket.to_owned(),
            key_marker.clone(),
            version_marker.clone(),
        );
        let page = match core
            .with_catalog(move |c| {
                c.list_versions(&b, "", None, km.as_deref(), vm.as_deref(), PAGE)
            })
            .await
        {
            Ok(p) => p,
            Err(CatalogError::NoSuchBucket { .. }) => return,
            Err(e) => {
                tracing::warn!(bucket, error = %e, "lifecycle: cannot list versions");
                report.errors += 1;
                return;
            }
        };
        for v in page.versions {
            if group.first().is_some_and(|g| g.key != v.key) {
                let done = std::mem::take(&mut group);
                key_pass(core, bucket, rules, done, report).await;
            }
            group.push(v);
        }
        if !page.is_truncated {
            break;
        }
        key_marker = page.next_key_marker;
        version_marker = page.next_version_id_marker;
        if key_marker.is_none() {
            break;
        }
    }
    if !group.is_empty() {
        key_pass(core, bucket, rules, group, report).await;
    }
}

/// What is due for one key's versions (newest first), carried out.
async fn key_pass(
    core: &Arc<Core>,
    bucket: &str,
    rules: &[LifecycleRule],
    versions: Vec<VersionEntry>,
    report: &mut LifecycleReport,
) {
    let now = core.clock.now_ms();
    let matching = |r: &VersionEntry| -> Vec<&LifecycleRule> {
        let rec = &r.record;
        rules
            .iter()
            .filter(|rule| rule.filter.matches(&r.key, rec.size, &rec.meta.tags))
            .collect()
    };
    let Some(newest) = versions.first() else {
        return;
    };
    if newest.is_latest && !newest.record.delete_marker {
        let due = matching(newest).iter().any(|r| {
            r.expiration_days
                .is_some_and(|d| now >= due_ms(newest.record.last_modified_ms, d))
                || r.expiration_date_ms.is_some_and(|d| now >= d)
        });
        if due {
            // The expired version becomes noncurrent now: its own noncurrent days start next pass.
            expire(core, bucket, newest, None, report).await;
            return;
        }
    }
    if versions.len() == 1 && newest.record.delete_marker {
        // A lone marker goes at once under `ExpiredObjectDeleteMarker`, and under an expiration of current
        // versions once it is as old as the rule asks (as S3 does).
        let made = newest.record.last_modified_ms;
        let due = matching(newest).iter().any(|r| {
            r.expired_object_delete_marker
                || r.expiration_days.is_some_and(|d| now >= due_ms(made, d))
                || r.expiration_date_ms.is_some_and(|d| now >= d)
        });
        if due {
            expire(
                core,
                bucket,
                newest,
                Some(newest.record.version_label().to_owned()),
                report,
            )
            .await;
        }
        return;
    }
    // Noncurrent versions: each became noncurrent when the version after it was written.
    let mut rank = 0u32;
    for pair in versions.windows(2) {
        let (newer, v) = (&pair[0], &pair[1]);
        if v.is_latest {
            continue;
        }
        let since = newer.record.last_modified_ms;
        let due = matching(v).iter().any(|r| {
            r.noncurrent_days.is_some_and(|d| {
                now >= due_ms(since, d)
                    && r.newer_noncurrent_versions.is_none_or(|keep| rank >= keep)
            })
        });
        rank += 1;
        if due {
            expire(
                core,
                bucket,
                v,
                Some(v.record.version_label().to_owned()),
                report,
            )
            .await;
        }
    }
}

/// Deletes `v` (the current version for `label` `None`, else that version) if it is still the one read.
async fn expire(
    core: &Arc<Core>,
    bucket: &str,
    v: &VersionEntry,
    label: Option<String>,
    report: &mut LifecycleReport,
) {
    let now = core.clock.now_ms();
    let (b, k, seq) = (bucket.to_owned(), v.key.clone(), v.record.version_seq);
    let current = label.is_none();
    let outcome = core
        .with_catalog(move |c| c.delete_version_if(&b, &k, label.as_deref(), now, seq))
        .await;
    match outcome {
        Ok(o) => {
            let action = match (&o.marker, current, v.record.delete_marker) {
                (Some(_), _, _) => "delete marker created",
                (None, true, _) => "deleted",
                (None, false, true) => "delete marker removed",
                (None, false, false) => "noncurrent version deleted",
            };
            publish(
                core,
                bucket,
                &v.key,
                Some(v.record.generation),
                v.record.size,
                action,
            );
            if let Some(old) = o.removed.as_ref().filter(|r| !r.delete_marker) {
                for name in &old.replicas {
                    if let Some(backend) = core.backend(name) {
                        core.bill
                            .removed(backend.profile(), old.size, old.placed_ms(), now);
                    }
                }
            }
            if current {
                report.expired += 1;
                core.recorder.record(AccessEvent {
                    bucket: bucket.to_owned(),
                    key: v.key.clone(),
                    kind: AccessKind::Delete,
                    bytes: 0,
                    at_ms: now,
                });
            } else if v.record.delete_marker && v.is_latest {
                report.delete_markers_removed += 1;
            } else {
                report.noncurrent_deleted += 1;
            }
        }
        Err(CatalogError::ObjectLocked { .. }) => report.locked += 1,
        Err(CatalogError::PreconditionFailed { .. }) => report.changed += 1,
        Err(CatalogError::NoSuchBucket { .. }) => {}
        Err(e) => {
            tracing::warn!(bucket, key = %v.key, error = %e, "lifecycle: delete failed");
            report.errors += 1;
        }
    }
}

/// The event of one thing a pass did, when events are on: `op` `LifecycleExpiration`, status 200, `detail` what
/// was done (`deleted`, `delete marker created`, `noncurrent version deleted`, `delete marker removed`, `upload
/// aborted`), `version` the version's generation.
fn publish(core: &Core, bucket: &str, key: &str, version: Option<u64>, size: u64, action: &str) {
    if let Some(sink) = &core.events {
        sink.publish(crate::events::Event {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            version,
            size,
            op: "LifecycleExpiration".to_owned(),
            status: 200,
            latency_ms: 0.0,
            node: sink.node.clone(),
            time_ms: core.clock.now_ms(),
            detail: Some(action.to_owned()),
        });
    }
}

/// Aborts the bucket's uploads started at least a matching rule's `DaysAfterInitiation` ago.
async fn uploads_pass(
    core: &Arc<Core>,
    bucket: &str,
    rules: &[LifecycleRule],
    report: &mut LifecycleReport,
) {
    let now = core.clock.now_ms();
    let (mut key_marker, mut id_marker): (Option<String>, Option<String>) = (None, None);
    let mut due: BTreeMap<String, String> = BTreeMap::new();
    loop {
        let (b, km, im) = (bucket.to_owned(), key_marker.clone(), id_marker.clone());
        let page = match core
            .with_catalog(move |c| c.list_uploads(&b, "", None, km.as_deref(), im.as_deref(), PAGE))
            .await
        {
            Ok(p) => p,
            Err(CatalogError::NoSuchBucket { .. }) => return,
            Err(e) => {
                tracing::warn!(bucket, error = %e, "lifecycle: cannot list uploads");
                report.errors += 1;
                return;
            }
        };
        for u in page.uploads {
            let expired = rules.iter().any(|r| {
                u.key.starts_with(&r.filter.prefix)
                    && r.abort_incomplete_multipart_days
                        .is_some_and(|d| now >= due_ms(u.initiated_ms, d))
            });
            if expired {
                due.insert(u.upload_id, u.key);
            }
        }
        if !page.is_truncated || page.next_key_marker.is_none() {
            break;
        }
        key_marker = page.next_key_marker;
        id_marker = page.next_upload_id_marker;
    }
    for (id, key) in due {
        match core.with_catalog(move |c| c.abort_upload(&id)).await {
            Ok(_) => {
                report.uploads_aborted += 1;
                publish(core, bucket, &key, None, 0, "upload aborted");
            }
            // Completed or aborted since the listing.
            Err(CatalogError::NoSuchUpload(_)) => report.changed += 1,
            Err(e) => {
                tracing::warn!(bucket, %key, error = %e, "lifecycle: abort failed");
                report.errors += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_end_at_the_next_midnight_utc() {
        // 2026-01-15 10:30 UTC plus 3 days is due on 2026-01-19 00:00 UTC, as S3 counts.
        let jan15 = 20_468 * DAY_MS;
        assert_eq!(due_ms(jan15 + 37_800_000, 3), jan15 + 4 * DAY_MS);
        // A time at midnight is due at that midnight.
        assert_eq!(due_ms(jan15, 1), jan15 + DAY_MS);
        assert_eq!(due_ms(jan15 + 1, 1), jan15 + 2 * DAY_MS);
    }
}
