//! Per-object features computed from an object's size, age and read history at a given `now_ms`.
//!
//! # Contracts
//!
//! * Pure: every function takes `now_ms`; nothing reads a clock. Features at `now_ms` use only
//!   reads with `at_ms < now_ms`, so the same code computes "features at a past cut time" for
//!   training without leaking the label window.
//! * Only reads count as accesses (`AccessKind::is_read`: Get, Head, Copy source); writes create a
//!   new version and show up as a younger `age_ms` instead.
//! * Histories are stored compactly in one CSR layout ([`Histories`]): per object a slice of read
//!   timestamps (ascending) and bytes. Memory is 16 bytes per logged read plus 4 bytes per object,
//!   bounded by the catalog's access-log retention (7 days, 5,000,000 entries by default).
//! * [`HistoryBuilder`] collects reads by dense object id in any order (the catalog adapter,
//!   [`crate::source`], finds an event's object in a [`crate::objects::NameIndex`]).

use serde::{Deserialize, Serialize};

use crate::error::{Result, invalid};

/// One hour in milliseconds.
pub const HOUR_MS: i64 = 3_600_000;
/// One day in milliseconds.
pub const DAY_MS: i64 = 24 * HOUR_MS;
/// One week in milliseconds.
pub const WEEK_MS: i64 = 7 * DAY_MS;

/// Tuning of feature extraction.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeatureConfig {
    /// Half-life of [`ObjectFeatures::heat`]. Must be positive. Default 24 h (the catalog's).
    pub heat_half_life_ms: i64,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        FeatureConfig {
            heat_half_life_ms: DAY_MS,
        }
    }
}

impl FeatureConfig {
    /// Rejects a non-positive half-life.
    pub fn validate(&self) -> Result<()> {
        if self.heat_half_life_ms <= 0 {
            return Err(invalid(format!(
                "heat_half_life_ms must be positive, got {}",
                self.heat_half_life_ms
            )));
        }
        Ok(())
    }
}

/// What feature extraction needs to know about an object besides its reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectBasics {
    /// Size of the current version in bytes.
    pub size_bytes: u64,
    /// When the current version was written (`ObjectRecord::last_modified_ms`).
    pub last_modified_ms: i64,
    /// Reads of the object over its whole life as far as it is known (the catalog's `AccessStats::reads`),
    /// the logged ones included; 0 when unknown. Histories keep only the log's days, so this is what tells an
    /// object read a hundred times since its write from one read once.
    #[serde(default)]
    pub lifetime_reads: u64,
    /// The object's last two idle intervals between sessions of reads (the catalog's `AccessStats::last_gap_ms`
    /// and `prev_gap_ms`), as of its latest read.
    #[serde(default)]
    pub read_gaps: ReadGaps,
    /// When a move last changed the object's replica set (the catalog's `ObjectRecord::moved_ms`), 0 if none
    /// has since the write: where a minimum storage duration and a self-tiering class's idle clock start.
    #[serde(default)]
    pub moved_ms: i64,
}

impl ObjectBasics {
    /// When the current replicas were placed: the write, or the last move after it.
    pub fn placed_ms(&self) -> i64 {
        self.last_modified_ms.max(self.moved_ms)
    }
}

/// An object's last two idle intervals between sessions of reads (reads within
/// [`catalog::SESSION_GAP_MS`] of each other are one session), in whole seconds, 0 when not known: 8 bytes, as
/// an inventory holds one per object.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadGaps {
    /// The interval before the latest session.
    pub last_s: u32,
    /// The interval before that.
    pub prev_s: u32,
}

impl ReadGaps {
    /// From the catalog's milliseconds (`None`, or anything under a second, is unknown).
    pub fn from_ms(last_ms: Option<i64>, prev_ms: Option<i64>) -> ReadGaps {
        let s = |ms: Option<i64>| ms.map_or(0, |ms| u32::try_from(ms / 1000).unwrap_or(u32::MAX));
        ReadGaps {
            last_s: s(last_ms),
            prev_s: s(prev_ms),
        }
    }

    /// The interval before the latest session, in days.
    pub fn last_days(&self) -> Option<f64> {
        (self.last_s > 0).then(|| f64::from(self.last_s) / 86_400.0)
    }

    /// The interval before that, in days.
    pub fn prev_days(&self) -> Option<f64> {
        (self.prev_s > 0).then(|| f64::from(self.prev_s) / 86_400.0)
    }

    /// The intervals after one more read `since_last_ms` after the latest: shifted when the read starts a new
    /// session.
    pub fn after_read(self, since_last_ms: i64) -> ReadGaps {
        if since_last_ms < catalog::SESSION_GAP_MS {
            return self;
        }
        ReadGaps {
            last_s: u32::try_from(since_last_ms / 1000).unwrap_or(u32::MAX),
            prev_s: self.last_s,
        }
    }
}

impl ObjectBasics {
    /// Reads before `t`: the lifetime count less the history's reads at or after `t`, and at least the
    /// history's reads before `t` (a count that was never kept is 0).
    pub fn reads_before(&self, history: AccessHistory<'_>, t: i64) -> u64 {
        let before = history.before(t).len() as u64;
        let after = history.len() as u64 - before;
        self.lifetime_reads.saturating_sub(after).max(before)
    }
}

/// The read history of one object: read times ascending, with the bytes each read returned.
#[derive(Clone, Copy, Debug, Default)]
pub struct AccessHistory<'a> {
    times: &'a [i64],
    bytes: &'a [u64],
}

impl<'a> AccessHistory<'a> {
    /// A history with no reads.
    pub const EMPTY: AccessHistory<'static> = AccessHistory {
        times: &[],
        bytes: &[],
    };

    /// Wraps parallel slices. Fails unless they have equal length and `times` is ascending.
    pub fn new(times: &'a [i64], bytes: &'a [u64]) -> Result<AccessHistory<'a>> {
        if times.len() != bytes.len() {
            return Err(invalid(format!(
                "history has {} times but {} byte counts",
                times.len(),
                bytes.len()
            )));
        }
        if times.windows(2).any(|w| w[0] > w[1]) {
            return Err(invalid("history times must be ascending"));
        }
        Ok(AccessHistory { times, bytes })
    }

    /// Read times, ascending.
    pub fn times(&self) -> &'a [i64] {
        self.times
    }

    /// Bytes returned by each read, aligned with [`AccessHistory::times`].
    pub fn bytes(&self) -> &'a [u64] {
        self.bytes
    }

    /// Number of reads.
    pub fn len(&self) -> usize {
        self.times.len()
    }

    /// Whether there are no reads.
    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }

    /// The reads strictly before `t`.
    pub fn before(&self, t: i64) -> AccessHistory<'a> {
        let end = self.times.partition_point(|&x| x < t);
        AccessHistory {
            times: &self.times[..end],
            bytes: &self.bytes[..end],
        }
    }

    /// Number of reads with `from <= at < to`.
    pub fn count_in(&self, from: i64, to: i64) -> usize {
        if to <= from {
            return 0;
        }
        let a = self.times.partition_point(|&x| x < from);
        let b = self.times.partition_point(|&x| x < to);
        b - a
    }
}

/// Features of one object at one instant. See the field docs for exact definitions; all windows
/// are half-open and end at `now_ms` (exclusive).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ObjectFeatures {
    /// Object size in bytes.
    pub size_bytes: u64,
    /// `now - last_modified` of the current version, clamped at 0.
    pub age_ms: i64,
    /// Reads in `[now - 1 h, now)`.
    pub reads_1h: u32,
    /// Reads in `[now - 24 h, now)`.
    pub reads_24h: u32,
    /// Reads in `[now - 7 d, now)`.
    pub reads_7d: u32,
    /// Bytes returned by the reads of the last 7 days.
    pub bytes_read_7d: u64,
    /// Mean bytes returned per read over the whole history before `now`, or `None` without reads: what a
    /// read of an object not read this week is expected to return (a ranged reader keeps reading ranges).
    #[serde(default)]
    pub mean_read_bytes_all: Option<f64>,
    /// `Σ 2^(-(now - t)/half_life)` over every read before `now` (each read adds 1 at its time).
    pub heat: f64,
    /// `now - last read`, or `None` when the history has no read before `now`.
    pub since_last_read_ms: Option<i64>,
    /// Number of distinct UTC days with at least one read in the last 7 days (0..=8: the window
    /// can touch 8 calendar days).
    pub distinct_days_7d: u8,
    /// Circular mean of the UTC hour of day of the last 7 days' reads, as `(sin, cos)` of
    /// `2π·hour/24` averaged; both 0 when there are none. The length of the vector measures how
    /// concentrated the reads are at one time of day.
    pub read_hour_sin: f64,
    /// See [`ObjectFeatures::read_hour_sin`].
    pub read_hour_cos: f64,
    /// Fraction of the last 7 days' reads that fell on a Saturday or Sunday (UTC); 0 if none.
    pub weekend_share_7d: f64,
    /// UTC hour of day of `now` (0..=23).
    pub now_hour: u8,
    /// UTC day of week of `now`, Monday = 0 .. Sunday = 6.
    pub now_weekday: u8,
    /// "Current tier": the first-byte latency of the object's fastest current replica, when the
    /// caller knows the replicas' profiles (see [`ObjectFeatures::with_current_latency`]).
    pub current_latency_ms: Option<f64>,
    /// Reads before `now` over the object's whole life ([`ObjectBasics::reads_before`]; without a lifetime
    /// count, the history's reads).
    #[serde(default)]
    pub lifetime_reads: u64,
    /// The object's last idle interval between sessions of reads ([`ReadGaps::last_days`]), when the caller
    /// knows it (see [`ObjectFeatures::with_stats`]).
    #[serde(default)]
    pub last_gap_days: Option<f64>,
}

/// UTC hour of day (0..=23) of a millisecond timestamp.
pub fn hour_of_day(ms: i64) -> u8 {
    (ms.rem_euclid(DAY_MS) / HOUR_MS) as u8
}

/// UTC day of week of a millisecond timestamp, Monday = 0 .. Sunday = 6 (1970-01-01 was a
/// Thursday).
pub fn day_of_week(ms: i64) -> u8 {
    ((ms.div_euclid(DAY_MS) + 3).rem_euclid(7)) as u8
}

impl ObjectFeatures {
    /// Computes the features of an object of `size_bytes` whose current version was written at
    /// `last_modified_ms`, from its read `history`, as of `now_ms`. Reads at or after `now_ms`
    /// are ignored. Never fails; a `last_modified_ms` in the future gives `age_ms = 0`.
    pub fn compute(
        size_bytes: u64,
        last_modified_ms: i64,
        history: AccessHistory<'_>,
        now_ms: i64,
        cfg: &FeatureConfig,
    ) -> ObjectFeatures {
        let h = history.before(now_ms);
        let half_life = cfg.heat_half_life_ms.max(1) as f64;
        let week_start = h
            .times
            .partition_point(|&x| x < now_ms.saturating_sub(WEEK_MS));
        let week_times = &h.times[week_start..];
        let week_bytes = &h.bytes[week_start..];

        let mut heat = 0.0;
        for &t in h.times {
            heat += (-((now_ms - t) as f64) / half_life).exp2();
        }
        let mut sin = 0.0;
        let mut cos = 0.0;
        let mut weekend = 0u32;
        let mut distinct_days = 0u8;
        let mut last_day = i64::MIN;
        for &t in week_times {
            let day = t.div_euclid(DAY_MS);
            if day != last_day {
                distinct_days = distinct_days.saturating_add(1);
                last_day = day;
            }
            let hour = t.rem_euclid(DAY_MS) as f64 / HOUR_MS as f64;
            let angle = std::f64::consts::TAU * hour / 24.0;
            sin += angle.sin();
            cos += angle.cos();
            if day_of_week(t) >= 5 {
                weekend += 1;
            }
        }
        let n_week = week_times.len();
        let (read_hour_sin, read_hour_cos, weekend_share_7d) = if n_week == 0 {
            (0.0, 0.0, 0.0)
        } else {
            let n = n_week as f64;
            (sin / n, cos / n, f64::from(weekend) / n)
        };
        ObjectFeatures {
            size_bytes,
            age_ms: now_ms.saturating_sub(last_modified_ms).max(0),
            reads_1h: saturate(h.count_in(now_ms.saturating_sub(HOUR_MS), now_ms)),
            reads_24h: saturate(h.count_in(now_ms.saturating_sub(DAY_MS), now_ms)),
            reads_7d: saturate(n_week),
            bytes_read_7d: week_bytes
                .iter()
                .fold(0u64, |acc, &b| acc.saturating_add(b)),
            mean_read_bytes_all: (!h.bytes.is_empty())
                .then(|| h.bytes.iter().map(|&b| b as f64).sum::<f64>() / h.bytes.len() as f64),
            heat,
            since_last_read_ms: h.times.last().map(|&t| now_ms - t),
            distinct_days_7d: distinct_days,
            read_hour_sin,
            read_hour_cos,
            weekend_share_7d,
            now_hour: hour_of_day(now_ms),
            now_weekday: day_of_week(now_ms),
            current_latency_ms: None,
            lifetime_reads: h.len() as u64,
            last_gap_days: None,
        }
    }

    /// The features with what the catalog's stats add to a history, taken from `basics`:
    /// [`ObjectFeatures::lifetime_reads`] (the lifetime count as of `now_ms`, given the `history` the features
    /// were computed from) and [`ObjectFeatures::last_gap_days`] (as of the latest read: for features at `now`,
    /// not at a past cut).
    pub fn with_stats(
        mut self,
        basics: &ObjectBasics,
        history: AccessHistory<'_>,
        now_ms: i64,
    ) -> ObjectFeatures {
        self.lifetime_reads = basics.reads_before(history, now_ms);
        self.last_gap_days = basics.read_gaps.last_days();
        self
    }

    /// Sets the "current tier" feature.
    pub fn with_current_latency(mut self, latency_ms: Option<f64>) -> ObjectFeatures {
        self.current_latency_ms = latency_ms;
        self
    }

    /// Mean bytes per read over the last 7 days, else over the whole history, or `None` without reads.
    pub fn mean_read_bytes(&self) -> Option<f64> {
        (self.reads_7d > 0)
            .then(|| self.bytes_read_7d as f64 / f64::from(self.reads_7d))
            .or(self.mean_read_bytes_all)
    }
}

fn saturate(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Read histories of many objects in one compressed-sparse-row layout, indexed by dense object id.
#[derive(Clone, Debug, Default)]
pub struct Histories {
    offsets: Vec<u32>,
    times: Vec<i64>,
    bytes: Vec<u64>,
}

impl Histories {
    /// Number of objects (ids `0..len()`).
    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// Whether there are no objects.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Total number of reads stored.
    pub fn total_reads(&self) -> usize {
        self.times.len()
    }

    /// The history of object `id`; empty for an id out of range.
    pub fn get(&self, id: usize) -> AccessHistory<'_> {
        if id + 1 >= self.offsets.len() {
            return AccessHistory::EMPTY;
        }
        let (a, b) = (self.offsets[id] as usize, self.offsets[id + 1] as usize);
        AccessHistory {
            times: &self.times[a..b],
            bytes: &self.bytes[a..b],
        }
    }

    /// Earliest and latest read time over all objects, or `None` without reads.
    pub fn span(&self) -> Option<(i64, i64)> {
        let first = self.times.iter().min()?;
        let last = self.times.iter().max()?;
        Some((*first, *last))
    }
}

/// Collects `(object id, time, bytes)` reads in any order and builds [`Histories`].
#[derive(Clone, Debug, Default)]
pub struct HistoryBuilder {
    ids: Vec<u32>,
    times: Vec<i64>,
    bytes: Vec<u64>,
}

impl HistoryBuilder {
    /// A builder with room for `reads` reads.
    pub fn with_capacity(reads: usize) -> HistoryBuilder {
        HistoryBuilder {
            ids: Vec::with_capacity(reads),
            times: Vec::with_capacity(reads),
            bytes: Vec::with_capacity(reads),
        }
    }

    /// Adds one read of object `id`.
    pub fn push(&mut self, id: u32, at_ms: i64, bytes: u64) {
        self.ids.push(id);
        self.times.push(at_ms);
        self.bytes.push(bytes);
    }

    /// Number of reads collected.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether no read was collected.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Builds the CSR histories for ids `0..objects`; reads of ids `>= objects` are dropped.
    /// Each object's reads end up sorted by time (a stable counting sort keeps arrival order for
    /// equal times). Fails if more than `u32::MAX` reads were collected.
    pub fn finish(self, objects: usize) -> Result<Histories> {
        if u32::try_from(self.ids.len()).is_err() {
            return Err(invalid(format!(
                "{} reads exceed the history limit of {}",
                self.ids.len(),
                u32::MAX
            )));
        }
        let mut offsets = vec![0u32; objects + 1];
        for &id in &self.ids {
            if (id as usize) < objects {
                offsets[id as usize + 1] += 1;
            }
        }
        for i in 0..objects {
            offsets[i + 1] += offsets[i];
        }
        let total = offsets[objects] as usize;
        let mut cursor: Vec<u32> = offsets[..objects].to_vec();
        let mut times = vec![0i64; total];
        let mut bytes = vec![0u64; total];
        for ((&id, &t), &b) in self.ids.iter().zip(&self.times).zip(&self.bytes) {
            if let Some(slot) = cursor.get_mut(id as usize) {
                let at = *slot as usize;
                times[at] = t;
                bytes[at] = b;
                *slot += 1;
            }
        }
        let mut scratch: Vec<(i64, u64)> = Vec::new();
        for i in 0..objects {
            let (a, b) = (offsets[i] as usize, offsets[i + 1] as usize);
            if times[a..b].windows(2).any(|w| w[0] > w[1]) {
                scratch.clear();
                scratch.extend(times[a..b].iter().copied().zip(bytes[a..b].iter().copied()));
                scratch.sort_by_key(|&(t, _)| t);
                for (j, &(t, by)) in scratch.iter().enumerate() {
                    times[a + j] = t;
                    bytes[a + j] = by;
                }
            }
        }
        Ok(Histories {
            offsets,
            times,
            bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_000 * DAY_MS + 12 * HOUR_MS; // a Monday? checked below

    fn features(times: &[i64]) -> ObjectFeatures {
        let bytes = vec![100u64; times.len()];
        let h = AccessHistory::new(times, &bytes).expect("valid history");
        ObjectFeatures::compute(1000, NOW - 10 * DAY_MS, h, NOW, &FeatureConfig::default())
    }

    #[test]
    fn mean_read_bytes_falls_back_to_the_whole_history() {
        // Ranged reads of 10 and 30 bytes, both older than a week, and one at `now` (ignored).
        let times = [NOW - 20 * DAY_MS, NOW - 9 * DAY_MS, NOW];
        let bytes = [10u64, 30, 1_000];
        let h = AccessHistory::new(&times, &bytes).expect("valid history");
        let f = ObjectFeatures::compute(1000, NOW - 30 * DAY_MS, h, NOW, &FeatureConfig::default());
        assert_eq!(f.reads_7d, 0);
        assert_eq!(f.mean_read_bytes_all, Some(20.0));
        assert_eq!(f.mean_read_bytes(), Some(20.0));
        // A read this week wins over the long-run mean.
        let times = [NOW - 20 * DAY_MS, NOW - DAY_MS];
        let h = AccessHistory::new(&times, &bytes[..2]).expect("valid history");
        let f = ObjectFeatures::compute(1000, NOW - 30 * DAY_MS, h, NOW, &FeatureConfig::default());
        assert_eq!(f.mean_read_bytes(), Some(30.0));
        let none = ObjectFeatures::compute(
            1000,
            0,
            AccessHistory::EMPTY,
            NOW,
            &FeatureConfig::default(),
        );
        assert_eq!(none.mean_read_bytes(), None);
    }

    #[test]
    fn calendar_helpers() {
        assert_eq!(day_of_week(0), 3); // 1970-01-01 was a Thursday
        assert_eq!(day_of_week(4 * DAY_MS), 0); // 1970-01-05 was a Monday
        assert_eq!(day_of_week(-DAY_MS), 2);
        assert_eq!(hour_of_day(5 * HOUR_MS + 59 * 60_000), 5);
        assert_eq!(hour_of_day(-HOUR_MS), 23);
    }

    #[test]
    fn windows_counts_and_recency() {
        let times = [
            NOW - 8 * DAY_MS,  // outside 7 d, inside heat
            NOW - 3 * DAY_MS,  // 7 d
            NOW - 2 * HOUR_MS, // 24 h
            NOW - 30 * 60_000, // 1 h
            NOW - 1,           // 1 h
            NOW,               // not before now: ignored
            NOW + HOUR_MS,     // future: ignored
        ];
        let f = features(&times);
        assert_eq!((f.reads_1h, f.reads_24h, f.reads_7d), (2, 3, 4));
        assert_eq!(f.bytes_read_7d, 400);
        assert_eq!(f.since_last_read_ms, Some(1));
        assert_eq!(f.age_ms, 10 * DAY_MS);
        assert_eq!(f.mean_read_bytes(), Some(100.0));
        let expected_heat: f64 = [8 * DAY_MS, 3 * DAY_MS, 2 * HOUR_MS, 30 * 60_000, 1]
            .iter()
            .map(|&d| (-(d as f64) / DAY_MS as f64).exp2())
            .sum();
        assert!((f.heat - expected_heat).abs() < 1e-12);
        // Days: NOW-3d, and NOW's own day (the three recent reads): 2 distinct days.
        assert_eq!(f.distinct_days_7d, 2);
        assert_eq!(f.now_hour, 12);
    }

    #[test]
    fn empty_history() {
        let f = features(&[]);
        assert_eq!((f.reads_1h, f.reads_24h, f.reads_7d), (0, 0, 0));
        assert_eq!(f.since_last_read_ms, None);
        assert_eq!(f.heat, 0.0);
        assert_eq!((f.read_hour_sin, f.read_hour_cos), (0.0, 0.0));
        assert_eq!(f.mean_read_bytes(), None);
    }

    #[test]
    fn hour_of_day_and_weekend_share() {
        // Reads every day at 06:00 UTC for the past 6 days.
        let day0 = NOW.div_euclid(DAY_MS) * DAY_MS;
        let times: Vec<i64> = (1..=6)
            .rev()
            .map(|d| day0 - d * DAY_MS + 6 * HOUR_MS)
            .collect();
        let f = features(&times);
        // 06:00 is a quarter turn: sin = 1, cos = 0.
        assert!((f.read_hour_sin - 1.0).abs() < 1e-9);
        assert!(f.read_hour_cos.abs() < 1e-9);
        assert_eq!(f.distinct_days_7d, 6);
        let weekend = times.iter().filter(|&&t| day_of_week(t) >= 5).count();
        assert!((f.weekend_share_7d - weekend as f64 / 6.0).abs() < 1e-12);
    }

    #[test]
    fn read_gaps_shift_when_a_read_starts_a_session() {
        let g = ReadGaps::from_ms(Some(7 * DAY_MS), None);
        assert_eq!((g.last_days(), g.prev_days()), (Some(7.0), None));
        // Within a session: unchanged; a day or more after the latest read: a new interval, the last one kept.
        assert_eq!(g.after_read(HOUR_MS), g);
        let next = g.after_read(30 * DAY_MS);
        assert_eq!(
            (next.last_days(), next.prev_days()),
            (Some(30.0), Some(7.0))
        );
        assert_eq!(ReadGaps::from_ms(None, None), ReadGaps::default());
        assert_eq!(ReadGaps::default().last_days(), None);
    }

    #[test]
    fn history_rejects_bad_input() {
        assert!(AccessHistory::new(&[2, 1], &[0, 0]).is_err());
        assert!(AccessHistory::new(&[1], &[]).is_err());
    }

    #[test]
    fn builder_sorts_each_history_and_drops_unknown_ids() {
        let mut b = HistoryBuilder::with_capacity(0);
        b.push(0, 30, 7);
        b.push(1, 10, 7);
        b.push(0, 20, 7); // out of order
        b.push(9, 40, 7); // beyond the objects
        let h = b.finish(2).expect("finish");
        assert_eq!(h.len(), 2);
        assert_eq!(h.get(0).times(), &[20, 30]);
        assert_eq!(h.get(1).times(), &[10]);
        assert!(h.get(5).is_empty());
        assert_eq!(h.span(), Some((10, 30)));
        assert_eq!(h.total_reads(), 3);
    }
}
