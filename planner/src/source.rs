//! The catalog adapter: reads objects and the access log into an [`Inventory`].
//!
//! This is the only module that does I/O (through [`catalog::Catalog`]); everything else is pure.
//! The gateway calls [`load_inventory`] from a blocking task, then [`crate::pipeline::plan_cycle`].
//!
//! # Contracts
//!
//! * Objects are read with `scan_summaries` in pages of `page_size` and get dense ids in scan order.
//! * The access log is read from `now_ms − history_ms` with `access_log_since` in pages; page
//!   boundaries inside a run of equal timestamps are handled by skipping the events already seen
//!   at the boundary timestamp (the log orders equal timestamps by arrival). Events appended while
//!   reading are included if they fall after the read position; log trimming while reading may
//!   drop a few boundary events, which only makes the history slightly shorter.
//! * Only reads of objects that exist at scan time are kept.
//! * Objects with an active move task are [`Inventory::held`]: the plan leaves them where they are.

use catalog::Catalog;

use crate::error::{PlannerError, Result, invalid};
use crate::features::{HistoryBuilder, ObjectBasics, ReadGaps, WEEK_MS};
use crate::objects::NameIndex;
use crate::pipeline::Inventory;

/// How much to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoadOptions {
    /// Objects or log entries per catalog call (positive). Default 10,000.
    pub page_size: usize,
    /// How far back to read the access log. Default 7 days (the longest feature window; training
    /// reads the whole retained log).
    pub history_ms: i64,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            page_size: 10_000,
            history_ms: WEEK_MS,
        }
    }
}

/// Reads every object and the access log of the last `history_ms` into an inventory. Each history also holds
/// the object's latest read from its catalog stats when that read is older than the log read here, so a history
/// is "every logged read, and the latest read however old" (what the simulator keeps too): idle times stay
/// exact after the reads leave the log.
pub fn load_inventory(catalog: &dyn Catalog, now_ms: i64, opts: &LoadOptions) -> Result<Inventory> {
    if opts.page_size == 0 || opts.history_ms <= 0 {
        return Err(invalid(format!(
            "page_size ({}) and history_ms ({}) must be positive",
            opts.page_size, opts.history_ms
        )));
    }
    let mut inv = Inventory::default();
    let mut reads = HistoryBuilder::with_capacity(0);
    let mut after: Option<(String, String)> = None;
    loop {
        let page = catalog
            .scan_summaries(
                after.as_ref().map(|(b, k)| (b.as_str(), k.as_str())),
                opts.page_size,
            )
            .map_err(|source| PlannerError::Catalog {
                op: "scan_summaries",
                source,
            })?;
        let full = page.len() == opts.page_size;
        for (bucket, key, record) in &page {
            inv.objects
                .push(bucket, key, record.generation, &record.replicas)?;
            inv.basics.push(ObjectBasics {
                size_bytes: record.size,
                last_modified_ms: record.last_modified_ms,
                lifetime_reads: 0,
                read_gaps: Default::default(),
                moved_ms: record.moved_ms,
            });
        }
        match (full, page.into_iter().last()) {
            (true, Some((bucket, key, _))) => after = Some((bucket, key)),
            _ => break,
        }
    }

    let index = NameIndex::build(&inv.objects)?;
    let mut since = now_ms.saturating_sub(opts.history_ms);
    add_latest_reads(
        catalog,
        &inv.objects,
        &index,
        &mut reads,
        &mut inv.basics,
        since,
        opts.page_size,
    )?;
    let mut skip = 0usize;
    loop {
        let limit = skip.saturating_add(opts.page_size);
        let page =
            catalog
                .access_log_since(since, limit)
                .map_err(|source| PlannerError::Catalog {
                    op: "access_log_since",
                    source,
                })?;
        for event in page.iter().skip(skip) {
            if event.kind.is_read()
                && let Some(id) = index.find(&inv.objects, &event.bucket, &event.key)
            {
                reads.push(id, event.at_ms, event.bytes);
            }
        }
        if page.len() < limit {
            break;
        }
        let Some(last_at) = page.last().map(|e| e.at_ms) else {
            break;
        };
        skip = page.iter().rev().take_while(|e| e.at_ms == last_at).count();
        since = last_at;
    }
    inv.held = held_objects(catalog, &inv.objects, &index)?;
    drop(index);
    inv.histories = reads.finish(inv.objects.len())?;
    inv.validate()?;
    Ok(inv)
}

/// The inventory ids of the objects with an active move task (ascending, no repeats): the plan leaves them out.
fn held_objects(
    catalog: &dyn Catalog,
    objects: &crate::objects::ObjectTable,
    index: &NameIndex,
) -> Result<Vec<u32>> {
    let tasks = catalog
        .moves(usize::MAX, true)
        .map_err(|source| PlannerError::Catalog {
            op: "moves",
            source,
        })?;
    let mut held: Vec<u32> = tasks
        .iter()
        .filter_map(|t| index.find(objects, &t.bucket, &t.key))
        .collect();
    held.sort_unstable();
    held.dedup();
    Ok(held)
}

/// Feeds `reads`, for every object whose latest read (its catalog stats) happened before `log_from_ms`,
/// that read (with the object's mean bytes per read), before any logged read, so histories stay ascending; and
/// sets every object's [`ObjectBasics::lifetime_reads`] and [`ObjectBasics::read_gaps`] from its stats (`basics`
/// is indexed by object id).
fn add_latest_reads(
    catalog: &dyn Catalog,
    objects: &crate::objects::ObjectTable,
    index: &NameIndex,
    reads: &mut HistoryBuilder,
    basics: &mut [ObjectBasics],
    log_from_ms: i64,
    page_size: usize,
) -> Result<()> {
    let mut after: Option<(String, String)> = None;
    loop {
        let page = catalog
            .scan_stats(
                after.as_ref().map(|(b, k)| (b.as_str(), k.as_str())),
                page_size,
            )
            .map_err(|source| PlannerError::Catalog {
                op: "scan_stats",
                source,
            })?;
        let full = page.len() == page_size;
        for (bucket, key, stats) in &page {
            let id = index.find(objects, bucket, key);
            if let Some(b) = id.and_then(|id| basics.get_mut(id as usize)) {
                b.lifetime_reads = stats.reads;
                b.read_gaps = ReadGaps::from_ms(stats.last_gap_ms, stats.prev_gap_ms);
            }
            // Stats written before `last_read_ms` existed only know the last access (a read or a write).
            let latest = stats
                .last_read_ms
                .or((stats.reads > 0).then_some(stats.last_access_ms));
            let Some(at) = latest.filter(|&t| t < log_from_ms) else {
                continue;
            };
            if let Some(id) = id {
                let bytes = stats.bytes_read.checked_div(stats.reads).unwrap_or(0);
                reads.push(id, at, bytes);
            }
        }
        match (full, page.last()) {
            (true, Some((b, k, _))) => after = Some((b.clone(), k.clone())),
            _ => break,
        }
    }
    Ok(())
}
