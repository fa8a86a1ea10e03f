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
//! Pure: it reads histories and takes `now_ms`.

use serde::{Deserialize, Serialize};

use crate::features::{DAY_MS, Histories, ObjectBasics};

/// Upper edges (days) of the idle buckets.
const BUCKET_EDGES_DAYS: [f64; 9] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, f64::INFINITY];
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
                total[b] += 1;
                if h.count_in(t, t + DAY_MS) > 0 {
                    read[b] += 1;
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
        Some(IdleHazard {
            daily,
            examples: total,
        })
    }

    /// The daily read probability of an object idle for `idle_days`.
    pub fn daily(&self, idle_days: f64) -> Option<f64> {
        self.daily.get(bucket(idle_days)).copied()
    }

    /// The constant daily probability with the same chance of no read over the next `over_days` days as this
    /// hazard gives an object idle `idle_days` now, which stays idle while unread (the hazard falls with idle
    /// time, so this is below [`IdleHazard::daily`] at `idle_days`).
    pub fn mean_daily(&self, idle_days: f64, over_days: u32) -> Option<f64> {
        let over = over_days.max(1);
        let mut survive = 1.0f64;
        for j in 0..over {
            survive *= 1.0 - self.daily(idle_days + f64::from(j))?;
        }
        Some(1.0 - survive.powf(1.0 / f64::from(over)))
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
        };
        assert!((flat.mean_daily(40.0, 90).unwrap() - 0.1).abs() < 1e-12);
        // 0.5 on the first day, then nothing: P(no read over 2 days) = 0.5 = (1 - m)^2.
        let mut daily = vec![0.0; n];
        daily[0] = 0.5;
        let falling = IdleHazard {
            daily,
            examples: vec![1; n],
        };
        let m = falling.mean_daily(0.0, 2).unwrap();
        assert!((m - (1.0 - 0.5f64.sqrt())).abs() < 1e-12, "{m}");
        assert!(falling.mean_daily(0.0, 90).unwrap() < falling.daily(0.0).unwrap());
    }

    #[test]
    fn nothing_to_measure_is_none() {
        let (o, h) = population(0, None, 10 * DAY_MS);
        assert!(IdleHazard::fit(&o, &h, 10 * DAY_MS, None).is_none());
    }
}
