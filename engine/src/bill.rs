//! [`Bill`]: what this node's placement and traffic have cost since it started, on the gateway clock, at the
//! backends' list prices (their [`TierProfile`]s) — the gateway's own cost accounting, in the simulator's
//! categories (`strata-loadtest simulate`), so the two can be compared on one trace.
//!
//! # What is charged, and when
//! * **requests** — every backend PUT the front makes (one per replica of a stored blob) and every backend GET
//!   it opens for a read (one per part and replica tried).
//! * **retrieval** — the retrieval fee of every byte a read streams from a backend.
//! * **moves** — a mover copy (the source's GET and retrieval fee, the destination's PUT, per part), and the
//!   early-deletion fee of every replica that leaves a backend before its minimum duration: moved away,
//!   deleted or overwritten. As in the planner's cost model, a replica's age counts from the object's write
//!   time (the catalog keeps no per-replica time).
//! * **storage** — accrued from the usage snapshots ([`crate::usage`]): each snapshot's monthly cost of the
//!   whole placement (a self-tiering backend billed per object by its idle time, with its monitoring fee) is
//!   charged until the next one. Snapshots come every [`crate::usage::REFRESH`]; a test clock takes one before
//!   each jump, so storage over the jump is billed at the placement before it.
//!
//! Bytes are the objects' logical sizes, as the planner and the simulator count them (sealing overhead is
//! not billed). The bill lives in memory: it starts at zero when the node starts.
//!
//! The data path's charges (PUTs, GETs, bytes streamed) are per-backend atomic counters, priced when a report
//! is made: no lock on the request path. Moves and storage, which come from workers, share one mutex.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use serde::{Deserialize, Serialize};
use tiers::TierProfile;

const DAY_MS: f64 = 86_400_000.0;
const MONTH_MS: f64 = 30.0 * DAY_MS;

/// USD by category, since [`BillReport::since_ms`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BillReport {
    /// Gateway-clock time the bill started (the node's start).
    pub since_ms: i64,
    /// Gateway-clock time of this report (storage is accrued up to it).
    pub now_ms: i64,
    /// Storage (and self-tiering monitoring) of the placement over time.
    pub storage: f64,
    /// Retrieval fees of reads.
    pub retrieval: f64,
    /// Mover copies and early-deletion fees.
    pub moves: f64,
    /// PUT and GET requests of the S3 front.
    pub requests: f64,
    /// The sum of the four.
    pub total: f64,
    /// The placement's storage cost per month at the last usage snapshot.
    pub monthly_storage: f64,
}

#[derive(Debug, Default)]
struct State {
    /// Storage is accrued up to here, at `monthly_storage`.
    accrued_ms: i64,
    monthly_storage: f64,
    storage: f64,
    moves: f64,
}

/// The data path's traffic to one backend since the node started.
#[derive(Debug)]
struct Tally {
    name: String,
    profile: TierProfile,
    puts: AtomicU64,
    gets: AtomicU64,
    bytes_read: AtomicU64,
}

/// The running bill of one node (see the module docs).
#[derive(Debug)]
pub struct Bill {
    since_ms: i64,
    tallies: Vec<Tally>,
    state: Mutex<State>,
}

impl Bill {
    /// An empty bill of the backends `(name, profile)` starting at `now_ms`, with no storage until the first
    /// snapshot.
    pub fn new<'a>(
        now_ms: i64,
        backends: impl IntoIterator<Item = (&'a str, &'a TierProfile)>,
    ) -> Bill {
        Bill {
            since_ms: now_ms,
            tallies: backends
                .into_iter()
                .map(|(name, profile)| Tally {
                    name: name.to_owned(),
                    profile: profile.clone(),
                    puts: AtomicU64::new(0),
                    gets: AtomicU64::new(0),
                    bytes_read: AtomicU64::new(0),
                })
                .collect(),
            state: Mutex::new(State {
                accrued_ms: now_ms,
                ..State::default()
            }),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn tally(&self, backend: &str) -> Option<&Tally> {
        self.tallies.iter().find(|t| t.name == backend)
    }

    /// Charges the storage since the last snapshot at its rate, up to `now_ms`, and bills `monthly` from here
    /// on. A snapshot older than the last one only replaces the rate.
    pub fn storage_snapshot(&self, now_ms: i64, monthly: f64) {
        self.with(|s| {
            if now_ms > s.accrued_ms {
                s.storage += s.monthly_storage * (now_ms - s.accrued_ms) as f64 / MONTH_MS;
                s.accrued_ms = now_ms;
            }
            s.monthly_storage = monthly;
        });
    }

    /// One PUT of a blob to `backend` (an unknown name is not billed).
    pub fn put(&self, backend: &str) {
        if let Some(t) = self.tally(backend) {
            t.puts.fetch_add(1, Relaxed);
        }
    }

    /// One GET opened on `backend`.
    pub fn get(&self, backend: &str) {
        if let Some(t) = self.tally(backend) {
            t.gets.fetch_add(1, Relaxed);
        }
    }

    /// `bytes` streamed out of `backend`.
    pub fn retrieved(&self, backend: &str, bytes: u64) {
        if let Some(t) = self.tally(backend) {
            t.bytes_read.fetch_add(bytes, Relaxed);
        }
    }

    /// A replica of `size` bytes placed at `placed_ms` (its write, or the move that put it there:
    /// `ObjectRecord::placed_ms`) leaves a backend priced `p` at `now_ms` (deleted, overwritten or moved away):
    /// its early-deletion fee.
    pub fn removed(&self, p: &TierProfile, size: u64, placed_ms: i64, now_ms: i64) {
        let fee = p.early_deletion(size, (now_ms - placed_ms) as f64 / DAY_MS);
        if fee > 0.0 {
            self.with(|s| s.moves += fee);
        }
    }

    /// A mover copy of `bytes` from a backend priced `from` to one priced `to`: a GET with its retrieval fee,
    /// and a PUT.
    pub fn copied(&self, from: &TierProfile, to: &TierProfile, bytes: u64) {
        self.with(|s| {
            s.moves += from.get_request() + from.retrieval(bytes) + to.put_request();
        });
    }

    /// The bill up to `now_ms` (storage accrued at the last snapshot's rate; nothing is changed).
    pub fn report(&self, now_ms: i64) -> BillReport {
        let (mut requests, mut retrieval) = (0.0, 0.0);
        for t in &self.tallies {
            let p = &t.profile;
            requests += t.puts.load(Relaxed) as f64 * p.put_request()
                + t.gets.load(Relaxed) as f64 * p.get_request();
            retrieval += p.retrieval(t.bytes_read.load(Relaxed));
        }
        self.with(|s| {
            let pending = s.monthly_storage * (now_ms - s.accrued_ms).max(0) as f64 / MONTH_MS;
            let storage = s.storage + pending;
            BillReport {
                since_ms: self.since_ms,
                now_ms,
                storage,
                retrieval,
                moves: s.moves,
                requests,
                total: storage + retrieval + s.moves + requests,
                monthly_storage: s.monthly_storage,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-12, "{a} != {b}");
    }

    #[test]
    fn storage_accrues_at_each_snapshots_rate_until_the_next() {
        let bill = Bill::new(1_000, []);
        // Nothing stored before the first snapshot.
        bill.storage_snapshot(1_000 + MONTH_MS as i64, 3.0);
        close(bill.report(1_000 + MONTH_MS as i64).storage, 0.0);
        // 3 USD/month for half a month, then 1 USD/month for a month.
        bill.storage_snapshot(1_000 + (1.5 * MONTH_MS) as i64, 1.0);
        let r = bill.report(1_000 + (2.5 * MONTH_MS) as i64);
        close(r.storage, 1.5 + 1.0);
        close(r.total, r.storage);
        assert_eq!(r.since_ms, 1_000);
        assert_eq!(r.monthly_storage, 1.0);
        // A report changes nothing; a stale snapshot only sets the rate.
        bill.storage_snapshot(0, 2.0);
        close(
            bill.report(1_000 + (2.5 * MONTH_MS) as i64).storage,
            1.5 + 2.0,
        );
    }

    #[test]
    fn requests_retrieval_moves_and_early_deletion() {
        let (std, ia) = (TierProfile::s3_standard(), TierProfile::s3_standard_ia());
        let bill = Bill::new(0, [("std", &std), ("ia", &ia)]);
        bill.put("std");
        bill.get("ia");
        bill.retrieved("ia", 1_000_000_000);
        bill.retrieved("std", 1_000_000_000);
        // A backend the bill does not know is not billed.
        bill.put("elsewhere");
        bill.copied(&ia, &std, 1_000_000_000);
        // Leaving IA after 10 days: 20 days of 1 GB billed; leaving Standard: nothing.
        bill.removed(&ia, 1_000_000_000, 0, 10 * DAY_MS as i64);
        bill.removed(&std, 1_000_000_000, 0, 0);
        let r = bill.report(0);
        close(r.requests, 0.005 / 1000.0 + 0.001 / 1000.0);
        close(r.retrieval, 0.01);
        close(
            r.moves,
            0.001 / 1000.0 + 0.01 + 0.005 / 1000.0 + 0.0125 * 20.0 / 30.0,
        );
        close(r.total, r.requests + r.retrieval + r.moves);
    }
}
