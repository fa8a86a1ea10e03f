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
                let c = age_class((t - o.last_modified_ms).max(0) as f64 / DAY_MS as f64) * n + b;
                total[b] += 1;
                total_age[c] += 1;
                if h.count_in(t, t + DAY_MS) > 0 {
                    read[b] += 1;
                    read_age[c] += 1;
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
        let by_age = (0..cells)
            .map(|c| {
                let m = daily[c % n];
                (read_age[c] as f64 + AGE_SHRINK * m) / (total_age[c] as f64 + AGE_SHRINK)
            })
            .collect();
        Some(IdleHazard {
            daily,
            examples: total,
            by_age,
        })
    }

    /// The daily read probability of an object idle for `idle_days` and written `age_days` ago (the idle-only
    /// probability when the hazard has no age classes).
    pub fn daily_at(&self, idle_days: f64, age_days: f64) -> Option<f64> {
        let b = bucket(idle_days);
        match self
            .by_age
            .get(age_class(age_days) * BUCKET_EDGES_DAYS.len() + b)
        {
            Some(&p) => Some(p),
            None => self.daily.get(b).copied(),
        }
    }

    /// The constant daily probability with the same chance of no read over the next `over_days` days as this
    /// hazard gives an object idle `idle_days` and written `age_days` ago now, which stays idle while unread and
    /// ages meanwhile (the hazard falls with idle time, so this is below [`IdleHazard::daily_at`] today).
    pub fn mean_daily_at(&self, idle_days: f64, age_days: f64, over_days: u32) -> Option<f64> {
        let over = over_days.max(1);
        let mut survive = 1.0f64;
        for j in 0..over {
            let j = f64::from(j);
            survive *= 1.0 - self.daily_at(idle_days + j, age_days + j)?;
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
        let classes = AGE_EDGES_DAYS.len();
        // later[c][s]: expected active days over days 1..days of an object of class c idle s days at day 1.
        let mut later = vec![0.0; classes * (TABLE_IDLE_DAYS + 1)];
        for c in 0..classes {
            // The age a class stands for while the horizon runs (its lower edge): the class holds.
            let age = if c == 0 { 0.0 } else { AGE_EDGES_DAYS[c - 1] };
            let h = |idle: usize| self.daily_at(idle as f64, age).unwrap_or(0.0);
            // expect[d][s]: expected active days over the last `d` days starting at idle `s` (computed
            // backwards: one step reads with h(s) and resets idle to 0, else idle grows by one).
            let mut next = vec![0.0; TABLE_IDLE_DAYS + 2];
            for _ in 1..days {
                let mut cur = vec![0.0; TABLE_IDLE_DAYS + 2];
                for (s, slot) in cur.iter_mut().enumerate().take(TABLE_IDLE_DAYS + 1) {
                    let q = h(s);
                    *slot = q * (1.0 + next[0]) + (1.0 - q) * next[(s + 1).min(TABLE_IDLE_DAYS)];
                }
                cur[TABLE_IDLE_DAYS + 1] = cur[TABLE_IDLE_DAYS];
                next = cur;
            }
            later[c * (TABLE_IDLE_DAYS + 1)..(c + 1) * (TABLE_IDLE_DAYS + 1)]
                .copy_from_slice(&next[..=TABLE_IDLE_DAYS]);
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
    /// Per age class, per idle day at the start of the second day: the expected active days after the first.
    later: Vec<f64>,
}

impl HorizonTable {
    /// Expected days with a read over the horizon for an object idle `idle_days`, written `age_days` ago, read
    /// on the first day with probability `p_first`.
    pub fn active_days(&self, p_first: f64, idle_days: f64, age_days: f64) -> f64 {
        let p = p_first.clamp(0.0, 1.0);
        let row = age_class(age_days) * (TABLE_IDLE_DAYS + 1);
        let at = |s: usize| self.later[row + s.min(TABLE_IDLE_DAYS)];
        let idle_next = (idle_days.max(0.0) + 1.0).floor() as usize;
        p * (1.0 + at(0)) + (1.0 - p) * at(idle_next)
    }
}

fn age_class(age_days: f64) -> usize {
    AGE_EDGES_DAYS
        .iter()
        .position(|&e| age_days < e)
        .unwrap_or(AGE_EDGES_DAYS.len() - 1)
}

fn bucket(idle_days: f64) -> usize {
    BUCKET_EDGES_DAYS
        .iter()
        .position(|&e| idle_days < e)
        .unwrap_or(BUCKET_EDGES_DAYS.len() - 1)
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
        };
        assert!((flat.mean_daily_at(40.0, 0.0, 90).unwrap() - 0.1).abs() < 1e-12);
        // 0.5 on the first day, then nothing: P(no read over 2 days) = 0.5 = (1 - m)^2.
        let mut daily = vec![0.0; n];
        daily[0] = 0.5;
        let falling = IdleHazard {
            daily,
            examples: vec![1; n],
            by_age: Vec::new(),
        };
        let m = falling.mean_daily_at(0.0, 0.0, 2).unwrap();
        assert!((m - (1.0 - 0.5f64.sqrt())).abs() < 1e-12, "{m}");
        assert!(falling.mean_daily_at(0.0, 0.0, 90).unwrap() < falling.daily(0.0).unwrap());
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
            });
            for d in 0..10 {
                b.push(i, now - 10 * DAY_MS + d * DAY_MS + 1000, 1 << 20);
            }
        }
        for i in 300..600u32 {
            objects.push(ObjectBasics {
                size_bytes: 1 << 20,
                last_modified_ms: 0,
            });
            b.push(i, 100 * DAY_MS, 1 << 20);
        }
        let h = b.finish(600).expect("histories");
        let hz = IdleHazard::fit(&objects, &h, now, None).expect("fit");
        let young = hz.daily_at(0.5, 5.0).unwrap();
        let old = hz.daily_at(0.5, 150.0).unwrap();
        assert!(young > 0.9, "{hz:?}");
        // The old class had no object-day at idle < 1 day: it falls back on the idle-only hazard.
        assert!((old - hz.daily(0.5).unwrap()).abs() < 1e-12, "{hz:?}");
        let long_idle_old = hz.daily_at(100.0, 150.0).unwrap();
        assert!(long_idle_old < 0.05, "{hz:?}");

        // Over 30 days, a young object read daily is read almost every day; an old one idle 100 days almost never.
        let t = hz.horizon_table(30.0).expect("table");
        assert!(t.active_days(0.99, 0.2, 5.0) > 25.0);
        assert!(t.active_days(0.0, 100.0, 150.0) < 2.0);
        // Monotone in the first day's probability.
        assert!(t.active_days(1.0, 100.0, 150.0) > t.active_days(0.0, 100.0, 150.0));
    }

    #[test]
    fn nothing_to_measure_is_none() {
        let (o, h) = population(0, None, 10 * DAY_MS);
        assert!(IdleHazard::fit(&o, &h, 10 * DAY_MS, None).is_none());
    }
}
