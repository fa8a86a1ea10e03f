//! [`IdleHazard`]: how likely an object is to be read on a given day, knowing only how long it has been idle —
//! measured on the catalog's own access log.
//!
//! It is the honest prior of the recency-frequency rule, whose probabilities are not calibrated: an object that
//! was never read in the log gets `p_hot ≈ 0` from the rule, yet in a population with a long tail of occasional
//! reads it will be read. The hazard is what the population says: over the last days of the log, the share of
//! objects idle for `d` days (in buckets) that were read the next day. A workload whose objects are written and
//! never read (backups) shows a hazard near 0 and lets cold tiers be chosen from the start; one with a steady
//! tail of reads does not; a periodic job shows as a peak at its period. Idle buckets reach past 128 days: a
//! history keeps each object's latest read however old, so long idle times are exact, not capped by the log.
//!
//! The hazard is also kept per age class (days since the write: under 7, 30, 90, older), each shrunk towards the
//! idle-only hazard in proportion to how little it was measured on: an old object read once by an audit is not a
//! young one read yesterday, though both are idle one day. [`HorizonTable`] turns it into the expected days with
//! a read over a planning horizon (a Markov chain on idle time: a read resets it), which the cost model uses
//! instead of one day's forecast repeated.
//!
//! Pure: it reads histories and takes `now_ms`.

use serde::{Deserialize, Serialize};

use crate::features::{DAY_MS, Histories, ObjectBasics};

/// Upper edges (days) of the idle buckets.
const BUCKET_EDGES_DAYS: [f64; 9] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, f64::INFINITY];
/// Upper edges (days) of the age classes (time since the object's write).
const AGE_EDGES_DAYS: [f64; 4] = [7.0, 30.0, 90.0, f64::INFINITY];
/// Weight (in object-days) of the idle-only hazard in each age class's estimate: a class measured on few
/// object-days stays near the idle-only hazard, one measured on many follows its own counts.
const AGE_SHRINK: f64 = 20.0;
/// Upper edges (exclusive) of the read-count classes: the object's reads over its whole life before the day
/// measured (0, 1, 2–3, 4–7, 8–15, 16 and more).
const COUNT_EDGES: [u64; 10] = [1, 2, 4, 8, 16, 32, 64, 128, 256, u64::MAX];
/// Weight (in object-days) of the age class's hazard in each read-count class's estimate.
const COUNT_SHRINK: f64 = 20.0;
/// Idle days the horizon table tracks one by one; longer idle times share the last bucket anyway.
const TABLE_IDLE_DAYS: usize = 256;
/// Days of the log the hazard is measured over (each day one cut).
const CUTS: i64 = 7;

/// Daily read probability by idle time (see the module docs).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct IdleHazard {
    /// Per bucket: the smoothed share of idle objects read the next day. Not forced to fall with idle time: a
    /// periodic job shows as a peak at its period.
    daily: Vec<f64>,
    /// Per bucket: the object-days it was measured on.
    examples: Vec<usize>,
    /// Per age class, per idle bucket (`class * buckets + bucket`): the daily read probability of objects of that
    /// age, shrunk towards `daily` by [`AGE_SHRINK`] object-days. Empty in a hazard from before age classes.
    #[serde(default)]
    by_age: Vec<f64>,
    /// Per age class, per read-count class, per idle bucket (`(class * counts + count) * buckets + bucket`): the
    /// daily read probability of objects of that age read that many times before, shrunk towards `by_age` by
    /// [`COUNT_SHRINK`] object-days. Empty in a hazard from before read-count classes.
    #[serde(default)]
    by_count: Vec<f64>,
}

impl IdleHazard {
    /// Measures the hazard over the last [`CUTS`] days before `now_ms`, from objects alive at each cut.
    /// `history_from_ms`: where the log begins (cuts before it are not measured); `histories` hold every read
    /// since then plus each object's latest read however old, so an object with no read in its history was never
    /// read and counts as idle since its write. `None` when the log holds no object-day to measure on.
    pub fn fit(
        objects: &[ObjectBasics],
        histories: &Histories,
        now_ms: i64,
        history_from_ms: Option<i64>,
    ) -> Option<IdleHazard> {
        let n = BUCKET_EDGES_DAYS.len();
        let (mut read, mut total) = (vec![0usize; n], vec![0usize; n]);
        let cells = n * AGE_EDGES_DAYS.len();
        let (mut read_age, mut total_age) = (vec![0usize; cells], vec![0usize; cells]);
        let count_cells = cells * COUNT_EDGES.len();
        let (mut read_count, mut total_count) =
            (vec![0usize; count_cells], vec![0usize; count_cells]);
        for k in 1..=CUTS {
            let t = now_ms - k * DAY_MS;
            if history_from_ms.is_some_and(|from| t < from) {
                break;
            }
            for (i, o) in objects.iter().enumerate() {
                if o.last_modified_ms > t {
                    continue;
                }
                let h = histories.get(i);
                let before = h.before(t);
                // A history holds every logged read and the object's latest read however old (the catalog's
                // stats keep it), so the last read before `t` is exact when the history has one, and an object
                // without any was never read: idle since its write. (An object read before the log and again
                // after `t` looks idle since its write at `t`: its older reads are gone.)
                let last = before
                    .times()
                    .last()
                    .copied()
                    .unwrap_or(i64::MIN)
                    .max(o.last_modified_ms);
                let idle_days = (t - last).max(0) as f64 / DAY_MS as f64;
                let b = bucket(idle_days);
                let age = age_class((t - o.last_modified_ms).max(0) as f64 / DAY_MS as f64);
                let c = age * n + b;
                let k = (age * COUNT_EDGES.len() + count_class(o.reads_before(h, t))) * n + b;
                total[b] += 1;
                total_age[c] += 1;
                total_count[k] += 1;
                if h.count_in(t, t + DAY_MS) > 0 {
                    read[b] += 1;
                    read_age[c] += 1;
                    read_count[k] += 1;
                }
            }
        }
        if total.iter().all(|&n| n == 0) {
            return None;
        }
        // Smoothed shares (half a read and half a miss per bucket). A bucket with no object-day takes the value of the nearest shorter-idle bucket that has some (or,
        // for the first buckets, of the first that has some).
        let mut daily: Vec<Option<f64>> = read
            .iter()
            .zip(&total)
            .map(|(&r, &t)| (t > 0).then(|| (r as f64 + 0.5) / (t as f64 + 1.0)))
            .collect();
        for i in 1..n {
            if daily[i].is_none() {
                daily[i] = daily[i - 1];
            }
        }
        let first = daily.iter().flatten().next().copied().unwrap_or(0.5);
        let daily: Vec<f64> = daily.into_iter().map(|d| d.unwrap_or(first)).collect();
        let by_age: Vec<f64> = (0..cells)
            .map(|c| {
                let m = daily[c % n];
                (read_age[c] as f64 + AGE_SHRINK * m) / (total_age[c] as f64 + AGE_SHRINK)
            })
            .collect();
        let by_count = (0..count_cells)
            .map(|k| {
                let (age, b) = (k / n / COUNT_EDGES.len(), k % n);
                let m = by_age[age * n + b];
                (read_count[k] as f64 + COUNT_SHRINK * m) / (total_count[k] as f64 + COUNT_SHRINK)
            })
            .collect();
        Some(IdleHazard {
            daily,
            examples: total,
            by_age,
            by_count,
        })
    }

    /// The daily read probability of an object idle for `idle_days`, written `age_days` ago and read `reads`
    /// times before over its life (the coarser probability when the hazard has no such classes).
    pub fn daily_at(&self, idle_days: f64, age_days: f64, reads: u64) -> Option<f64> {
        let n = BUCKET_EDGES_DAYS.len();
        let b = bucket(idle_days);
        let age = age_class(age_days);
        let k = (age * COUNT_EDGES.len() + count_class(reads)) * n + b;
        self.by_count
            .get(k)
            .or_else(|| self.by_age.get(age * n + b))
            .or_else(|| self.daily.get(b))
            .copied()
    }

    /// The constant daily probability with the same chance of no read over the next `over_days` days as this
    /// hazard gives an object idle `idle_days`, written `age_days` ago and read `reads` times before now, which
    /// stays idle while unread (its read count with it) and ages meanwhile (the hazard falls with idle time, so
    /// this is below [`IdleHazard::daily_at`] today).
    pub fn mean_daily_at(
        &self,
        idle_days: f64,
        age_days: f64,
        reads: u64,
        over_days: u32,
    ) -> Option<f64> {
        let over = over_days.max(1);
        let mut survive = 1.0f64;
        for j in 0..over {
            let j = f64::from(j);
            survive *= 1.0 - self.daily_at(idle_days + j, age_days + j, reads)?;
        }
        Some(1.0 - survive.powf(1.0 / f64::from(over)))
    }

    /// The expected days with a read over the next `horizon_days` days, by idle time and age class (see
    /// [`HorizonTable`]); `None` without a measured hazard.
    pub fn horizon_table(&self, horizon_days: f64) -> Option<HorizonTable> {
        if self.daily.is_empty() {
            return None;
        }
        let days = horizon_days.max(1.0).round() as usize;
        let (classes, counts) = (AGE_EDGES_DAYS.len(), COUNT_EDGES.len());
        let width = TABLE_IDLE_DAYS + 1;
        // later[(c * counts + k) * width + s]: expected active days over days 1..days of an object of age class c
        // and read-count class k, idle s days at day 1.
        let mut later = vec![0.0; classes * counts * width];
        for c in 0..classes {
            // The age a class stands for while the horizon runs (its lower edge): the class holds.
            let age = if c == 0 { 0.0 } else { AGE_EDGES_DAYS[c - 1] };
            let h = |idle: usize, k: usize| {
                self.daily_at(idle as f64, age, count_floor(k))
                    .unwrap_or(0.0)
            };
            // next[k * (width + 1) + s]: expected active days over the last `d` days starting at idle `s` in
            // count class `k` (computed backwards: one step reads with h(s, k), which resets idle to 0 and moves
            // the count up a class with the chance that one more read crosses its upper edge; else idle grows by
            // one).
            let row = width + 1;
            let mut next = vec![0.0; counts * row];
            let mut cur = vec![0.0; counts * row];
            for _ in 1..days {
                for k in 0..counts {
                    let up = promotion(k);
                    let after_read =
                        (1.0 - up) * next[k * row] + up * next[(k + 1).min(counts - 1) * row];
                    for s in 0..width {
                        let q = h(s, k);
                        cur[k * row + s] = q * (1.0 + after_read)
                            + (1.0 - q) * next[k * row + (s + 1).min(TABLE_IDLE_DAYS)];
                    }
                    cur[k * row + width] = cur[k * row + TABLE_IDLE_DAYS];
                }
                std::mem::swap(&mut next, &mut cur);
            }
            for k in 0..counts {
                let at = (c * counts + k) * width;
                later[at..at + width].copy_from_slice(&next[k * row..k * row + width]);
            }
        }
        Some(HorizonTable { later })
    }

    /// The daily read probability of an object idle for `idle_days`.
    pub fn daily(&self, idle_days: f64) -> Option<f64> {
        self.daily.get(bucket(idle_days)).copied()
    }

    /// Per bucket: `(upper edge in days, daily probability, object-days measured)`.
    pub fn buckets(&self) -> Vec<(f64, f64, usize)> {
        BUCKET_EDGES_DAYS
            .iter()
            .zip(&self.daily)
            .zip(&self.examples)
            .map(|((&e, &d), &n)| (e, d, n))
            .collect()
    }
}

/// Expected days with at least one read over a horizon, from the measured hazard: the first day's probability
/// comes from the model in use, every later day from the hazard of the idle time reached (a read resets it),
/// at the object's age class. A forecast that extrapolates one day's `p_hot` over a month makes an object read
/// once yesterday look read every day; this one lets the log say how fast reads die out.
#[derive(Clone, Debug, PartialEq)]
pub struct HorizonTable {
    /// Per age class, per read-count class, per idle day at the start of the second day: the expected active
    /// days after the first.
    later: Vec<f64>,
}

impl HorizonTable {
    /// Expected days with a read over the horizon for an object idle `idle_days`, written `age_days` ago, read
    /// `reads` times before over its life, and read on the first day with probability `p_first`.
    pub fn active_days(&self, p_first: f64, idle_days: f64, age_days: f64, reads: u64) -> f64 {
        let p = p_first.clamp(0.0, 1.0);
        let width = TABLE_IDLE_DAYS + 1;
        let counts = COUNT_EDGES.len();
        let k = count_class(reads);
        let row = |k: usize| (age_class(age_days) * counts + k) * width;
        let at = |k: usize, s: usize| self.later[row(k) + s.min(TABLE_IDLE_DAYS)];
        let idle_next = (idle_days.max(0.0) + 1.0).floor() as usize;
        // A read today counts one more read: the class above when `reads + 1` crosses this class's edge.
        let after_read = at(count_class(reads.saturating_add(1)), 0);
        p * (1.0 + after_read) + (1.0 - p) * at(k, idle_next)
    }
}

/// The class of `x` among classes with upper edges `edges` (exclusive; the last class takes the rest).
fn class_of<T: PartialOrd + Copy>(edges: &[T], x: T) -> usize {
    edges.iter().position(|&e| x < e).unwrap_or(edges.len() - 1)
}

fn count_class(reads: u64) -> usize {
    class_of(&COUNT_EDGES, reads)
}

/// The fewest reads of count class `k`.
fn count_floor(k: usize) -> u64 {
    if k == 0 { 0 } else { COUNT_EDGES[k - 1] }
}

/// The chance that one more read moves an object of count class `k` to the next class, its count taken as
/// uniform over the class (1 for one-count classes, 0 for the last).
fn promotion(k: usize) -> f64 {
    if k + 1 >= COUNT_EDGES.len() {
        return 0.0;
    }
    1.0 / (COUNT_EDGES[k] - count_floor(k)) as f64
}

fn age_class(age_days: f64) -> usize {
    class_of(&AGE_EDGES_DAYS, age_days)
}

fn bucket(idle_days: f64) -> usize {
    class_of(&BUCKET_EDGES_DAYS, idle_days)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::HistoryBuilder;

    fn population(
        n: usize,
        reads_every_days: Option<i64>,
        now: i64,
    ) -> (Vec<ObjectBasics>, Histories) {
        let objects = vec![
            ObjectBasics {
                size_bytes: 1 << 20,
                last_modified_ms: 0,
                lifetime_reads: 0,
            };
            n
        ];
        let mut b = HistoryBuilder::with_capacity(0);
        if let Some(every) = reads_every_days {
            for i in 0..n {
                let mut t = (i as i64 % every) * DAY_MS + 1000;
                while t < now {
                    b.push(i as u32, t, 1 << 20);
                    t += every * DAY_MS;
                }
            }
        }
        (objects, b.finish(n).expect("histories"))
    }

    #[test]
    fn never_read_objects_have_a_hazard_near_zero() {
        let now = 60 * DAY_MS;
        let (o, h) = population(500, None, now);
        let hz = IdleHazard::fit(&o, &h, now, None).expect("fit");
        assert!(hz.daily(30.0).unwrap() < 0.001, "{hz:?}");
        assert!(hz.daily(0.5).unwrap() < 0.01, "{hz:?}");
    }

    #[test]
    fn a_steady_tail_of_reads_shows_in_the_hazard() {
        let now = 60 * DAY_MS;
        // Every object read every 10 days: about a tenth of them on any day.
        let (o, h) = population(500, Some(10), now);
        let hz = IdleHazard::fit(&o, &h, now, None).expect("fit");
        let d = hz.daily(8.0).unwrap();
        assert!(d > 0.05, "{hz:?}");
        // The period shows as a peak: an object idle 9 days is far likelier to be read tomorrow than one
        // read yesterday.
        assert!(d > 5.0 * hz.daily(0.5).unwrap(), "{hz:?}");
    }

    #[test]
    fn a_kept_latest_read_older_than_the_log_gives_the_exact_idle_time() {
        let now = 200 * DAY_MS;
        let from = Some(now - 14 * DAY_MS);
        // Read once on day 10 (kept as the latest read of a trimmed history) and never again.
        let objects = vec![
            ObjectBasics {
                size_bytes: 1 << 20,
                last_modified_ms: 0,
                lifetime_reads: 0,
            };
            200
        ];
        let mut b = HistoryBuilder::with_capacity(0);
        for i in 0..200u32 {
            b.push(i, 10 * DAY_MS, 1 << 20);
        }
        let h = b.finish(200).expect("histories");
        let hz = IdleHazard::fit(&objects, &h, now, from).expect("fit");
        let buckets = hz.buckets();
        let longest = buckets.last().expect("buckets");
        assert_eq!(longest.2, 200 * CUTS as usize, "{buckets:?}");
        assert!(buckets[..buckets.len() - 1].iter().all(|b| b.2 == 0));
        assert!(hz.daily(180.0).unwrap() < 0.01);
    }

    #[test]
    fn the_mean_daily_probability_keeps_the_chance_of_no_read() {
        let n = BUCKET_EDGES_DAYS.len();
        let flat = IdleHazard {
            daily: vec![0.1; n],
            examples: vec![1; n],
            by_age: Vec::new(),
            by_count: Vec::new(),
        };
        assert!((flat.mean_daily_at(40.0, 0.0, 0, 90).unwrap() - 0.1).abs() < 1e-12);
        // 0.5 on the first day, then nothing: P(no read over 2 days) = 0.5 = (1 - m)^2.
        let mut daily = vec![0.0; n];
        daily[0] = 0.5;
        let falling = IdleHazard {
            daily,
            examples: vec![1; n],
            by_age: Vec::new(),
            by_count: Vec::new(),
        };
        let m = falling.mean_daily_at(0.0, 0.0, 0, 2).unwrap();
        assert!((m - (1.0 - 0.5f64.sqrt())).abs() < 1e-12, "{m}");
        assert!(falling.mean_daily_at(0.0, 0.0, 0, 90).unwrap() < falling.daily(0.0).unwrap());
    }

    #[test]
    fn old_objects_read_once_are_told_apart_from_young_ones_read_daily() {
        let now = 200 * DAY_MS;
        // 300 young objects (written 3 days before each cut at most) read every day, and 300 old ones read once,
        // 2 days before each cut: idle times overlap, ages do not.
        let mut objects = Vec::new();
        let mut b = HistoryBuilder::with_capacity(0);
        for i in 0..300u32 {
            objects.push(ObjectBasics {
                size_bytes: 1 << 20,
                last_modified_ms: now - 10 * DAY_MS,
                lifetime_reads: 0,
            });
            for d in 0..10 {
                b.push(i, now - 10 * DAY_MS + d * DAY_MS + 1000, 1 << 20);
            }
        }
        for i in 300..600u32 {
            objects.push(ObjectBasics {
                size_bytes: 1 << 20,
                last_modified_ms: 0,
                lifetime_reads: 0,
            });
            b.push(i, 100 * DAY_MS, 1 << 20);
        }
        let h = b.finish(600).expect("histories");
        let hz = IdleHazard::fit(&objects, &h, now, None).expect("fit");
        let young = hz.daily_at(0.5, 5.0, 5).unwrap();
        let old = hz.daily_at(0.5, 150.0, 1).unwrap();
        assert!(young > 0.9, "{hz:?}");
        // The old class had no object-day at idle < 1 day: it falls back on the idle-only hazard.
        assert!((old - hz.daily(0.5).unwrap()).abs() < 1e-12, "{hz:?}");
        let long_idle_old = hz.daily_at(100.0, 150.0, 1).unwrap();
        assert!(long_idle_old < 0.05, "{hz:?}");

        // Over 30 days, a young object read daily is read almost every day; an old one idle 100 days almost never.
        let t = hz.horizon_table(30.0).expect("table");
        assert!(t.active_days(0.99, 0.2, 5.0, 5) > 25.0);
        assert!(t.active_days(0.0, 100.0, 150.0, 1) < 2.0);
        // Monotone in the first day's probability.
        assert!(t.active_days(1.0, 100.0, 150.0, 1) > t.active_days(0.0, 100.0, 150.0, 1));
    }

    #[test]
    fn objects_read_often_over_their_life_are_told_apart_from_ones_read_once() {
        let now = 200 * DAY_MS;
        // Same age, same idle time at every cut (last read 20 days ago); the first 300 were read 40 times over
        // their life and are read again this week, the other 300 were read once and never again.
        let mut objects = Vec::new();
        let mut b = HistoryBuilder::with_capacity(0);
        for i in 0..600u32 {
            let often = i < 300;
            objects.push(ObjectBasics {
                size_bytes: 1 << 20,
                last_modified_ms: 0,
                lifetime_reads: if often { 40 } else { 1 },
            });
            b.push(i, now - 20 * DAY_MS, 1 << 20);
            if often {
                b.push(i, now - (1 + i64::from(i % 7)) * DAY_MS + 1000, 1 << 20);
            }
        }
        let h = b.finish(600).expect("histories");
        let hz = IdleHazard::fit(&objects, &h, now, None).expect("fit");
        let often = hz.daily_at(16.0, 190.0, 39).unwrap();
        let once = hz.daily_at(16.0, 190.0, 1).unwrap();
        assert!(often > 5.0 * once, "{often} {once}");
        let t = hz.horizon_table(30.0).expect("table");
        assert!(t.active_days(0.0, 16.0, 190.0, 39) > 2.0 * t.active_days(0.0, 16.0, 190.0, 1));
        // The lifetime count counts back from the reads after the cut, never below the history's own.
        let o = objects[0];
        assert_eq!(o.reads_before(h.get(0), now - 10 * DAY_MS), 39);
        let unknown = ObjectBasics {
            size_bytes: 1,
            last_modified_ms: 0,
            lifetime_reads: 0,
        };
        assert_eq!(unknown.reads_before(h.get(0), now), 2);
    }

    #[test]
    fn nothing_to_measure_is_none() {
        let (o, h) = population(0, None, 10 * DAY_MS);
        assert!(IdleHazard::fit(&o, &h, 10 * DAY_MS, None).is_none());
    }
}
