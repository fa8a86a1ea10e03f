//! Access recording: per-object stats (counters + decaying heat) and a bounded access log.

use std::collections::BTreeMap;

use redb::{Durability, ReadableTable, ReadableTableMetadata};

use crate::error::{Result, StorageContext};
use crate::schema::{
    self, ACCESS_LOG, ACCESS_LOG_NAME, AccessLogKey, META, META_LAST_ACCESS_SEQ, OBJECTS, STATS,
    STATS_NAME,
};
use crate::{AccessEvent, AccessStats, RedbCatalog};

impl RedbCatalog {
    /// Records a batch of accesses in one write transaction.
    ///
    /// * For each event whose `(bucket, key)` object exists and whose kind is a read (Get, Head,
    ///   Copy source) or a write (Put), the object's [`AccessStats`] are updated. Other events
    ///   (missing objects, Delete, List) only go to the log.
    /// * Every event is appended to the access log under `(at_ms, sequence)`, so equal timestamps
    ///   never collide.
    /// * The log is then trimmed: entries older than the newest entry's time minus
    ///   `access_log_retention_ms` are dropped, then the oldest entries until at most
    ///   `access_log_max_entries` remain.
    ///
    /// Commits with `Durability::None` (no fsync): a crash may lose the most recent batches, never
    /// objects; any later durable commit persists them. When no durable commit has happened for a
    /// minute, this commit is made durable itself, which bounds the loss window and lets redb
    /// reclaim pages freed by the non-durable commits.
    ///
    /// Stats rows that fail to decode are replaced by fresh stats (they are advisory and must not
    /// block recording); access-log rows are never decoded here.
    pub fn record_accesses(&self, events: &[AccessEvent]) -> Result<()> {
        const OP: &str = "record_accesses";
        if events.is_empty() {
            return Ok(());
        }
        let durability = if self.access_commit_due() {
            Durability::Immediate
        } else {
            Durability::None
        };
        let half_life = self.config.heat_half_life_ms;
        let retention = self.config.access_log_retention_ms;
        let max_entries = self.config.access_log_max_entries;
        self.write(OP, durability, |txn| {
            let objects = txn.open_table(OBJECTS).ctx(OP)?;
            let mut stats = txn.open_table(STATS).ctx(OP)?;
            let mut touched: BTreeMap<Vec<u8>, AccessStats> = BTreeMap::new();
            for event in events {
                if !event.kind.is_read() && !event.kind.is_write() {
                    continue;
                }
                // A bucket name the catalog cannot store cannot have objects either.
                let Ok(raw_key) = schema::object_key(&event.bucket, &event.key) else {
                    continue;
                };
                if !touched.contains_key(&raw_key) {
                    if objects.get(raw_key.as_slice()).ctx(OP)?.is_none() {
                        continue;
                    }
                    let current = match stats.get(raw_key.as_slice()).ctx(OP)? {
                        Some(value) => schema::decode::<AccessStats>(
                            STATS_NAME,
                            || schema::lossy(&raw_key),
                            value.value(),
                        )
                        .unwrap_or_else(|_| AccessStats::new_at(event.at_ms)),
                        None => AccessStats::new_at(event.at_ms),
                    };
                    touched.insert(raw_key.clone(), current);
                }
                if let Some(entry) = touched.get_mut(&raw_key) {
                    entry.apply(event.kind, event.bytes, event.at_ms, half_life);
                }
            }
            for (raw_key, entry) in &touched {
                let value = schema::encode(OP, entry)?;
                stats.insert(raw_key.as_slice(), value.as_slice()).ctx(OP)?;
            }

            let mut meta = txn.open_table(META).ctx(OP)?;
            let count = u64::try_from(events.len()).unwrap_or(u64::MAX);
            let first_seq = schema::reserve_counter(&mut meta, META_LAST_ACCESS_SEQ, count, OP)?;
            let mut log = txn.open_table(ACCESS_LOG).ctx(OP)?;
            for (seq, event) in (first_seq..).zip(events) {
                let value = schema::encode(OP, event)?;
                log.insert((event.at_ms, seq), value.as_slice()).ctx(OP)?;
            }

            let newest = log.last().ctx(OP)?.map(|(key, _)| key.value().0);
            if let Some(newest) = newest {
                let cutoff = newest.saturating_sub(retention);
                log.retain_in::<AccessLogKey, _>(..(cutoff, 0), |_, _| false)
                    .ctx(OP)?;
            }
            let len = log.len().ctx(OP)?;
            for _ in max_entries..len {
                log.pop_first().ctx(OP)?;
            }
            Ok(())
        })
    }

    /// The object's access stats, or `None` if it has never been read or written since it was
    /// (re)created after a delete.
    pub fn stats(&self, bucket: &str, key: &str) -> Result<Option<AccessStats>> {
        const OP: &str = "stats";
        let raw_key = schema::object_key(bucket, key)?;
        let txn = self.read_txn(OP)?;
        let stats = txn.open_table(STATS).ctx(OP)?;
        match stats.get(raw_key.as_slice()).ctx(OP)? {
            Some(value) => {
                schema::decode(STATS_NAME, || schema::lossy(&raw_key), value.value()).map(Some)
            }
            None => Ok(None),
        }
    }

    /// Up to `limit` objects' access stats in (bucket, key) order, starting after `after`. Rows that fail to
    /// decode are skipped (stats are advisory; the next recorded access replaces them).
    pub fn scan_stats(
        &self,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<(String, String, AccessStats)>> {
        const OP: &str = "scan_stats";
        let start = match after {
            Some((bucket, key)) => Some(schema::object_key(bucket, key)?),
            None => None,
        };
        let lower = start
            .as_deref()
            .map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded);
        let txn = self.read_txn(OP)?;
        let stats = txn.open_table(STATS).ctx(OP)?;
        let mut out = Vec::new();
        for entry in stats
            .range::<&[u8]>((lower, std::ops::Bound::Unbounded))
            .ctx(OP)?
        {
            if out.len() >= limit {
                break;
            }
            let (key, value) = entry.ctx(OP)?;
            let raw = key.value();
            let (bucket, key) = schema::split_object_key(raw)?;
            if let Ok(s) =
                schema::decode::<AccessStats>(STATS_NAME, || schema::lossy(raw), value.value())
            {
                out.push((bucket, key, s));
            }
        }
        Ok(out)
    }

    /// Number of entries in the access log.
    pub fn access_log_len(&self) -> Result<u64> {
        const OP: &str = "access_log_len";
        let txn = self.read_txn(OP)?;
        txn.open_table(ACCESS_LOG).ctx(OP)?.len().ctx(OP)
    }

    /// Up to `limit` log entries with `at_ms >= since_ms`, ascending by time (then by arrival).
    pub fn access_log_since(&self, since_ms: i64, limit: usize) -> Result<Vec<AccessEvent>> {
        const OP: &str = "access_log_since";
        let txn = self.read_txn(OP)?;
        let log = txn.open_table(ACCESS_LOG).ctx(OP)?;
        let mut out = Vec::new();
        for entry in log
            .range::<AccessLogKey>((since_ms, 0)..)
            .ctx(OP)?
            .take(limit)
        {
            let (key, value) = entry.ctx(OP)?;
            let (at, seq) = key.value();
            out.push(schema::decode(
                ACCESS_LOG_NAME,
                || format!("({at}, {seq})"),
                value.value(),
            )?);
        }
        Ok(out)
    }
}
