//! What each backend stores and what that costs per month, from a scan of the catalog.
//!
//! A scan is linear in the number of objects, so it runs in the background every [`REFRESH`] and readers
//! (admin API, metrics) take the last snapshot.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;

use crate::state::Strata;

/// How often the snapshot is recomputed.
pub const REFRESH: Duration = Duration::from_secs(30);
const PAGE: usize = 10_000;

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct BackendUsage {
    pub objects: u64,
    pub bytes: u64,
    pub monthly_cost: f64,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Usage {
    pub computed_ms: i64,
    pub objects: u64,
    /// Sum of object sizes (each object once).
    pub logical_bytes: u64,
    pub backends: BTreeMap<String, BackendUsage>,
    /// Storage cost per month of the current placement.
    pub monthly_cost: f64,
    /// What the same replicas would cost per month if all were on the most expensive tier.
    pub all_hot_monthly_cost: f64,
}

/// The last computed snapshot, shared.
#[derive(Default)]
pub struct UsageCache(Mutex<Option<Usage>>);

impl UsageCache {
    pub fn get(&self) -> Option<Usage> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set(&self, u: Usage) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(u);
    }
}

/// Scans the catalog once.
pub fn compute(strata: &Strata) -> catalog::Result<Usage> {
    let mut usage = Usage {
        computed_ms: strata.clock.now_ms(),
        ..Default::default()
    };
    for b in &strata.backends {
        usage
            .backends
            .insert(b.name().to_owned(), BackendUsage::default());
    }
    let hottest = strata
        .backends
        .iter()
        .map(|b| b.profile().storage_gb_month)
        .fold(0.0, f64::max);
    let mut replica_bytes = 0u64;
    let mut after: Option<(String, String)> = None;
    loop {
        let page = strata
            .catalog
            .scan_objects(after.as_ref().map(|(b, k)| (b.as_str(), k.as_str())), PAGE)?;
        let Some(last) = page.last() else { break };
        after = Some((last.0.clone(), last.1.clone()));
        for (_, _, rec) in &page {
            usage.objects += 1;
            usage.logical_bytes += rec.size;
            for r in &rec.replicas {
                replica_bytes += rec.size;
                let u = usage.backends.entry(r.clone()).or_default();
                u.objects += 1;
                u.bytes += rec.size;
            }
        }
        if page.len() < PAGE {
            break;
        }
    }
    for (name, u) in usage.backends.iter_mut() {
        if let Some(b) = strata.backend(name) {
            u.monthly_cost = b.profile().monthly_storage_cost(u.bytes);
        }
        usage.monthly_cost += u.monthly_cost;
    }
    usage.all_hot_monthly_cost = replica_bytes as f64 / 1e9 * hottest;
    Ok(usage)
}

/// Recomputes the snapshot now.
pub async fn refresh(strata: &Arc<Strata>) -> catalog::Result<Usage> {
    let s = strata.clone();
    let u = tokio::task::spawn_blocking(move || compute(&s))
        .await
        .map_err(|e| catalog::CatalogError::Storage(format!("usage scan failed: {e}")))??;
    strata.usage.set(u.clone());
    Ok(u)
}

/// Runs forever, refreshing every [`REFRESH`].
pub async fn run(strata: Arc<Strata>) {
    let mut tick = tokio::time::interval(REFRESH);
    loop {
        tick.tick().await;
        if let Err(e) = refresh(&strata).await {
            tracing::warn!(error = %e, "usage scan failed");
        }
    }
}
