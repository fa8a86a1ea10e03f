//! What each backend stores and what that costs per month, from a scan of the catalog (a self-tiering backend
//! bills each object by its idle time). Every snapshot also sets the storage rate of the node's [`crate::bill`].
//!
//! A scan is linear in the number of objects, so it runs in the background every [`REFRESH`] and readers
//! (admin API, metrics) take the last snapshot. Every snapshot also becomes a [`CostSample`] of a bounded
//! in-memory history (`/admin/cost/history`, the dashboard's cost chart). [`heat_histogram`] counts objects by
//! their current heat (`/admin/heat`).

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;

use crate::core::Core;
use crate::scan::for_each_object;

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

/// Samples kept in the cost history: 24 hours at one per [`REFRESH`] (more often when refreshes are asked for).
pub const HISTORY_LEN: usize = 2880;

/// One point of the cost history, taken from a usage snapshot.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, schemars::JsonSchema, serde::Deserialize)]
pub struct CostSample {
    /// Gateway-clock time of the snapshot.
    pub at_ms: i64,
    pub objects: u64,
    pub logical_bytes: u64,
    pub monthly_cost: f64,
    pub all_hot_monthly_cost: f64,
}

/// The last computed snapshot and the history of their costs, shared.
#[derive(Default)]
pub struct UsageCache {
    last: Mutex<Option<Usage>>,
    history: Mutex<VecDeque<CostSample>>,
}

impl UsageCache {
    pub fn get(&self) -> Option<Usage> {
        self.last.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Cost samples, oldest first (at most [`HISTORY_LEN`]).
    pub fn history(&self) -> Vec<CostSample> {
        let h = self.history.lock().unwrap_or_else(|e| e.into_inner());
        h.iter().copied().collect()
    }

    fn set(&self, u: Usage) {
        {
            let mut h = self.history.lock().unwrap_or_else(|e| e.into_inner());
            if h.len() == HISTORY_LEN {
                h.pop_front();
            }
            h.push_back(CostSample {
                at_ms: u.computed_ms,
                objects: u.objects,
                logical_bytes: u.logical_bytes,
                monthly_cost: u.monthly_cost,
                all_hot_monthly_cost: u.all_hot_monthly_cost,
            });
        }
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(u);
    }
}

/// Lower edges of the heat histogram's buckets after the first (which holds everything below `0.01`, including
/// objects never read); the last bucket has no upper edge.
pub const HEAT_EDGES: [f64; 5] = [0.01, 0.1, 1.0, 10.0, 100.0];

/// How many objects have each level of heat now (heat decays with the catalog's half-life, +1 per read).
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema, serde::Deserialize)]
pub struct HeatHistogram {
    pub computed_ms: i64,
    pub half_life_ms: i64,
    pub objects: u64,
    pub max_heat: f64,
    /// `min` inclusive, `max` exclusive (`None`: unbounded), `count` objects.
    pub buckets: Vec<HeatBucket>,
}

#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema, serde::Deserialize)]
pub struct HeatBucket {
    pub min: f64,
    pub max: Option<f64>,
    pub count: u64,
}

impl HeatHistogram {
    fn new(computed_ms: i64, half_life_ms: i64) -> HeatHistogram {
        let mut buckets = vec![HeatBucket {
            min: 0.0,
            max: Some(HEAT_EDGES[0]),
            count: 0,
        }];
        for (i, &min) in HEAT_EDGES.iter().enumerate() {
            buckets.push(HeatBucket {
                min,
                max: HEAT_EDGES.get(i + 1).copied(),
                count: 0,
            });
        }
        HeatHistogram {
            computed_ms,
            half_life_ms,
            objects: 0,
            max_heat: 0.0,
            buckets,
        }
    }

    fn add(&mut self, heat: f64) {
        self.objects += 1;
        self.max_heat = self.max_heat.max(heat);
        let i = HEAT_EDGES.iter().take_while(|&&e| heat >= e).count();
        self.buckets[i].count += 1;
    }
}

/// Scans every object and its access stats once (blocking: call from a blocking task).
pub fn heat_histogram(
    catalog: &dyn catalog::Catalog,
    now_ms: i64,
) -> catalog::Result<HeatHistogram> {
    let half_life = catalog.heat_half_life_ms();
    let mut hist = HeatHistogram::new(now_ms, half_life);
    for_each_object(catalog, PAGE, |bucket, key, _| {
        let heat = catalog
            .stats(bucket, key)?
            .map(|s| s.heat_at(now_ms, half_life))
            .unwrap_or(0.0);
        hist.add(heat);
        Ok(())
    })?;
    Ok(hist)
}

/// Scans the catalog once.
pub fn compute(strata: &Core) -> catalog::Result<Usage> {
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
    let now = usage.computed_ms;
    for_each_object(&*strata.catalog, PAGE, |bucket, key, rec| {
        usage.objects += 1;
        usage.logical_bytes += rec.size;
        // A self-tiering backend bills each object by its idle time: since the latest read, the write or the move
        // that placed it, whichever is latest (a copy moved in starts in the class's frequent tier).
        let mut idle_days = None;
        for r in &rec.replicas {
            replica_bytes += rec.size;
            let u = usage.backends.entry(r.clone()).or_default();
            u.objects += 1;
            u.bytes += rec.size;
            let Some(p) = strata.backend(r).map(|b| b.profile()) else {
                continue;
            };
            if p.auto_tiering.is_none() {
                u.monthly_cost += p.monthly_storage_cost(rec.size);
                continue;
            }
            let idle = match idle_days {
                Some(d) => d,
                None => {
                    let last_read = strata
                        .catalog
                        .stats(bucket, key)?
                        .and_then(|s| s.last_read_ms)
                        .unwrap_or(i64::MIN);
                    let d = (now - last_read.max(rec.placed_ms())).max(0) as f64 / 86_400_000.0;
                    *idle_days.insert(d)
                }
            };
            u.monthly_cost += p.object_monthly_cost(rec.size, idle);
        }
        Ok(())
    })?;
    for u in usage.backends.values() {
        usage.monthly_cost += u.monthly_cost;
    }
    usage.all_hot_monthly_cost = replica_bytes as f64 / 1e9 * hottest;
    Ok(usage)
}

/// Recomputes the snapshot now and keeps it in `cache`.
pub async fn refresh(strata: &Arc<Core>, cache: &UsageCache) -> catalog::Result<Usage> {
    let s = strata.clone();
    let u = tokio::task::spawn_blocking(move || compute(&s))
        .await
        .map_err(|e| catalog::CatalogError::Storage(format!("usage scan failed: {e}")))??;
    strata.bill.storage_snapshot(u.computed_ms, u.monthly_cost);
    cache.set(u.clone());
    Ok(u)
}

/// Runs forever, refreshing every [`REFRESH`].
pub async fn run(strata: Arc<Core>, cache: Arc<UsageCache>) {
    let mut tick = tokio::time::interval(REFRESH);
    loop {
        tick.tick().await;
        if let Err(e) = refresh(&strata, &cache).await {
            tracing::warn!(error = %e, "usage scan failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_is_bounded_and_ordered() {
        let cache = UsageCache::default();
        for i in 0..(HISTORY_LEN as i64 + 10) {
            cache.set(Usage {
                computed_ms: i,
                monthly_cost: i as f64,
                ..Default::default()
            });
        }
        let h = cache.history();
        assert_eq!(h.len(), HISTORY_LEN);
        assert_eq!(h[0].at_ms, 10);
        assert_eq!(h.last().map(|s| s.at_ms), Some(HISTORY_LEN as i64 + 9));
        assert_eq!(
            cache.get().map(|u| u.computed_ms),
            Some(HISTORY_LEN as i64 + 9)
        );
    }

    #[test]
    fn heat_lands_in_its_bucket() {
        let mut h = HeatHistogram::new(0, 1);
        for heat in [0.0, 0.009, 0.01, 0.5, 1.0, 9.99, 10.0, 150.0] {
            h.add(heat);
        }
        let counts: Vec<u64> = h.buckets.iter().map(|b| b.count).collect();
        assert_eq!(counts, vec![2, 1, 1, 2, 1, 1]);
        assert_eq!(h.objects, 8);
        assert_eq!(h.max_heat, 150.0);
        assert_eq!(h.buckets[5].max, None);
        assert_eq!(h.buckets[0].max, Some(0.01));
    }
}
