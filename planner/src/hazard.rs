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

use crate::features::{DAY_MS, Histories, ObjectBasics, ReadGaps};

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
/// Upper edges (days, exclusive) of the read-interval classes: the object's last idle interval between
/// sessions of reads ([`ReadGaps`], at least a day).
const GAP_EDGES_DAYS: [f64; 8] = [2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, f64::INFINITY];
/// Upper edges (exclusive) of the phase buckets: idle time over the object's last interval. A weekly job's
/// object idle six days is at 0.9 of its period, about to be read; an object idle as long whose last interval
/// was three months is at 0.07.
const PHASE_EDGES: [f64; 10] = [
    0.25,
    0.5,
    0.7,
    0.85,
    0.95,
    1.05,
    1.2,
    1.5,
    2.5,
    f64::INFINITY,
];
/// Weight (in object-days) of the idle-time hazard in each (interval class, phase) cell's estimate.
const PHASE_SHRINK: f64 = 20.0;
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
    /// age, shrunk towards `daily` by [`AGE_SHRINK`] object-days, measured without the object-days the phase
    /// hazard forecasts (idle a day or more with a known read interval). Empty in a hazard from before age
    /// classes.
    #[serde(default)]
    by_age: Vec<f64>,
    /// Per age class, per read-count class, per idle bucket (`(class * counts + count) * buckets + bucket`): the
    /// daily read probability of objects of that age read that many times before, shrunk towards `by_age` by
    /// [`COUNT_SHRINK`] object-days. Empty in a hazard from before read-count classes.
    #[serde(default)]
    by_count: Vec<f64>,
    /// Per read-interval class, per phase bucket (`class * phases + phase`): the daily probability that the
    /// next session of reads starts, for an object idle a day or more whose last interval was of that class,
    /// at that fraction of it. Measured on intervals, not cuts ([`IdleHazard::fit`]), shrunk towards the
    /// idle-time hazard by [`PHASE_SHRINK`] object-days. Empty in a hazard from before intervals were kept.
    #[serde(default)]
    by_phase: Vec<f64>,
    /// Per read-interval class: the mean interval (days) of the objects measured in it, the time scale of the
    /// class in [`IdleHazard::horizon_table`].
    #[serde(default)]
    gap_means: Vec<f64>,
}

impl IdleHazard {
    /// Measures the hazard over the last [`CUTS`] days before `now_ms`, from objects alive at each cut; and the
    /// phase hazard from every object's last two read intervals (see [`IdleHazard::by_phase`]).
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
                let read_next = h.count_in(t, t + DAY_MS) > 0;
                total[b] += 1;
                read[b] += usize::from(read_next);
                // An object idle a day or more with a known interval is forecast by the phase hazard: the classes
                // describe the others (read in one session so far, or never), which a periodic job's objects
                // would otherwise crowd at its period.
                if idle_days >= 1.0 && interval_known_at(o.read_gaps, h, t) {
                    continue;
                }
                total_age[c] += 1;
                total_count[k] += 1;
                if read_next {
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
        let (by_phase, gap_means) = phase_hazard(objects, histories, now_ms, &daily);
        Some(IdleHazard {
            daily,
            examples: total,
            by_age,
            by_count,
            by_phase,
            gap_means,
        })
    }

    /// The daily read probability of an object idle for `idle_days`, written `age_days` ago, read `reads`
    /// times before over its life, whose last idle interval between sessions of reads was `gap_days` (`None`:
    /// not known). Idle a day or more with a known interval, it is the phase hazard; else the idle-time hazard
    /// of the object's age and read-count class (the coarser one when the hazard has no such classes).
    pub fn daily_at(
        &self,
        idle_days: f64,
        age_days: f64,
        reads: u64,
        gap_days: Option<f64>,
    ) -> Option<f64> {
        if let Some(g) = gap_days.filter(|&g| g > 0.0)
            && idle_days >= 1.0
            && let Some(&h) = self.by_phase.get(phase_cell(gap_class(g), idle_days / g))
        {
            return Some(h);
        }
        self.idle_daily(idle_days, age_days, count_class(reads))
    }

    /// The idle-time hazard of age `age_days` and read-count class `k`.
    fn idle_daily(&self, idle_days: f64, age_days: f64, k: usize) -> Option<f64> {
        let n = BUCKET_EDGES_DAYS.len();
        let b = bucket(idle_days);
        let age = age_class(age_days);
        self.by_count
            .get((age * COUNT_EDGES.len() + k) * n + b)
            .or_else(|| self.by_age.get(age * n + b))
            .or_else(|| self.daily.get(b))
            .copied()
    }

    /// The constant daily probability with the same chance of no read over the next `over_days` days as this
    /// hazard gives an object idle `idle_days`, written `age_days` ago and read `reads` times before now, which
    /// stays idle while unread (its read count with it) and ages meanwhile (the hazard falls with idle time, so
    /// this is below [`IdleHazard::daily_at`] today). Its last read interval stays `gap_days` meanwhile.
    pub fn mean_daily_at(
        &self,
        idle_days: f64,
        age_days: f64,
        reads: u64,
        gap_days: Option<f64>,
        over_days: u32,
    ) -> Option<f64> {
        let over = over_days.max(1);
        let mut survive = 1.0f64;
        for j in 0..over {
            let j = f64::from(j);
            survive *= 1.0 - self.daily_at(idle_days + j, age_days + j, reads, gap_days)?;
        }
        Some(1.0 - survive.powf(1.0 / f64::from(over)))
    }

    /// The expected days with a read over the next `horizon_days` days, by idle time, age, read-count and
    /// read-interval class (see [`HorizonTable`]); `None` without a measured hazard.
    pub fn horizon_table(&self, horizon_days: f64) -> Option<HorizonTable> {
        if self.daily.is_empty() {
            return None;
        }
        let days = horizon_days.max(1.0).round() as usize;
        let (classes, counts) = (AGE_EDGES_DAYS.len(), COUNT_EDGES.len());
        let width = TABLE_IDLE_DAYS + 1;
        // Interval states: none known, then one per class at the class's mean interval.
        let gaps: Vec<Option<f64>> = std::iter::once(None)
            .chain(self.class_gaps().into_iter().map(Some))
            .collect();
        let states = counts * gaps.len();
        // later[((c * counts + k) * gaps + g) * width + s]: expected active days over days 1..days of an object
        // of age class c, read-count class k and interval state g, idle s days at day 1.
        let mut later = vec![0.0; classes * states * width];
        // The interval state a read sets after `s` whole idle days (in the middle of the day): a read the day
        // after another belongs to the same session and keeps the state.
        let gap_after: Vec<Option<usize>> = (0..width)
            .map(|s| (s > 0).then(|| 1 + gap_class(s as f64 + 0.5)))
            .collect();
        for c in 0..classes {
            // The age a class stands for while the horizon runs (its lower edge): the class holds.
            let age = if c == 0 { 0.0 } else { AGE_EDGES_DAYS[c - 1] };
            // h[(k * gaps + g) * width + s]: the daily read probability in that state.
            let mut h = vec![0.0; states * width];
            for k in 0..counts {
                for (g, &gap) in gaps.iter().enumerate() {
                    for s in 0..width {
                        h[(k * gaps.len() + g) * width + s] = self
                            .daily_at(s as f64, age, count_floor(k), gap)
                            .unwrap_or(0.0);
                    }
                }
            }
            // next[(k * gaps + g) * width + s]: expected active days over the last `d` days starting in that
            // state (computed backwards: one step reads with its probability, which resets idle to 0, sets the
            // interval state from the idle time it ended and moves the count up a class with the chance that
            // one more read crosses its upper edge; else idle grows by one).
            let mut next = vec![0.0; states * width];
            let mut cur = vec![0.0; states * width];
            for _ in 1..days {
                for k in 0..counts {
                    let up = promotion(k);
                    let k_up = (k + 1).min(counts - 1);
                    for g in 0..gaps.len() {
                        let at = (k * gaps.len() + g) * width;
                        for s in 0..width {
                            let g2 = gap_after[s].unwrap_or(g);
                            let after_read = (1.0 - up) * next[(k * gaps.len() + g2) * width]
                                + up * next[(k_up * gaps.len() + g2) * width];
                            let q = h[at + s];
                            cur[at + s] = q * (1.0 + after_read)
                                + (1.0 - q) * next[at + (s + 1).min(TABLE_IDLE_DAYS)];
                        }
                    }
                }
                std::mem::swap(&mut next, &mut cur);
            }
            later[c * states * width..(c + 1) * states * width].copy_from_slice(&next);
        }
        Some(HorizonTable {
            later,
            gaps: gaps.into_iter().flatten().collect(),
        })
    }

    /// Per read-interval class, the interval it stands for: its measured mean, or the middle of its edges.
    fn class_gaps(&self) -> Vec<f64> {
        (0..GAP_EDGES_DAYS.len())
            .map(|c| {
                self.gap_means
                    .get(c)
                    .copied()
                    .filter(|g| g.is_finite() && *g > 0.0)
                    .unwrap_or_else(|| {
                        let lo = if c == 0 { 1.0 } else { GAP_EDGES_DAYS[c - 1] };
                        let hi = GAP_EDGES_DAYS[c].min(2.0 * lo);
                        (lo * hi).sqrt()
                    })
            })
            .collect()
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
    /// Per age class, per read-count class, per interval state (none known, then each class), per idle day at
    /// the start of the second day: the expected active days after the first.
    later: Vec<f64>,
    /// Per read-interval class, the interval its states stand for (days).
    gaps: Vec<f64>,
}

impl HorizonTable {
    /// Expected days with a read over the horizon for an object idle `idle_days`, written `age_days` ago, read
    /// `reads` times before over its life, whose last idle interval between sessions was `gap_days`, and read on
    /// the first day with probability `p_first`. An object with a known interval is looked up at the same
    /// phase of its class's interval (idle time scaled by class interval over its own).
    pub fn active_days(
        &self,
        p_first: f64,
        idle_days: f64,
        age_days: f64,
        reads: u64,
        gap_days: Option<f64>,
    ) -> f64 {
        let p = p_first.clamp(0.0, 1.0);
        let width = TABLE_IDLE_DAYS + 1;
        let counts = COUNT_EDGES.len();
        let states = self.gaps.len() + 1;
        let idle = idle_days.max(0.0);
        let gap = gap_days.filter(|&g| g > 0.0);
        let at = |k: usize, g: usize, s: usize| {
            self.later
                [((age_class(age_days) * counts + k) * states + g) * width + s.min(TABLE_IDLE_DAYS)]
        };
        // Tomorrow's idle days, in the table's time of the object's interval state.
        let (g, idle_next) = match gap {
            Some(gap) => {
                let c = gap_class(gap);
                let scale = self.gaps.get(c).map_or(1.0, |&cg| cg / gap);
                (1 + c, ((idle + 1.0) * scale).floor() as usize)
            }
            None => (0, (idle + 1.0).floor() as usize),
        };
        // A read today counts one more read (the class above when `reads + 1` crosses this class's edge) and,
        // after a day or more of idleness, sets the interval to the idle time it ends.
        let g_read = if idle >= 1.0 {
            1 + gap_class(idle + 0.5)
        } else {
            g
        };
        let after_read = at(count_class(reads.saturating_add(1)), g_read, 0);
        p * (1.0 + after_read) + (1.0 - p) * at(count_class(reads), g, idle_next)
    }
}

/// The phase hazard and each interval class's mean interval ([`IdleHazard::by_phase`], `gap_means`), from every
/// object's last two idle intervals between sessions of reads: the completed one (the interval before the last,
/// then the last: exposed from a day of idleness to the last interval's end, where the next session started) and
/// the open one (the last interval, then idle since the latest read: exposed, no session yet). Objects read
/// again within a day of a read are in a session, not idle: exposure starts after a day. `daily`: the idle-time
/// hazard each cell is shrunk towards, at the cell's idle time.
fn phase_hazard(
    objects: &[ObjectBasics],
    histories: &Histories,
    now_ms: i64,
    daily: &[f64],
) -> (Vec<f64>, Vec<f64>) {
    let (classes, phases) = (GAP_EDGES_DAYS.len(), PHASE_EDGES.len());
    let mut exposure = vec![0.0f64; classes * phases];
    let mut events = vec![0.0f64; classes * phases];
    let (mut gap_sum, mut gap_n) = (vec![0.0f64; classes], vec![0usize; classes]);
    // Exposure of an interval state `gap` from idle 1 day to `until` (days), and a session's start there if
    // `ended`.
    let mut expose = |gap: f64, until: f64, ended: bool| {
        let c = gap_class(gap);
        gap_sum[c] += gap;
        gap_n[c] += 1;
        let (from, to) = (1.0 / gap, until / gap);
        let mut lo = 0.0;
        for (p, &hi) in PHASE_EDGES.iter().enumerate() {
            let overlap = to.min(hi) - from.max(lo);
            if overlap > 0.0 {
                exposure[c * phases + p] += overlap * gap;
            }
            lo = hi;
        }
        if ended && to >= from {
            events[phase_cell(c, to)] += 1.0;
        }
    };
    for (i, o) in objects.iter().enumerate() {
        let gaps: ReadGaps = o.read_gaps;
        let Some(last) = gaps.last_days() else {
            continue;
        };
        if let Some(prev) = gaps.prev_days() {
            expose(prev, last, true);
        }
        let Some(&latest) = histories.get(i).before(now_ms).times().last() else {
            continue;
        };
        let idle = (now_ms - latest) as f64 / DAY_MS as f64;
        expose(last, idle, false);
    }
    let gap_means: Vec<f64> = gap_sum
        .iter()
        .zip(&gap_n)
        .map(|(&s, &n)| if n > 0 { s / n as f64 } else { 0.0 })
        .collect();
    let by_phase = (0..classes * phases)
        .map(|cell| {
            let (c, p) = (cell / phases, cell % phases);
            let lo = if c == 0 { 1.0 } else { GAP_EDGES_DAYS[c - 1] };
            let gap = if gap_n[c] > 0 { gap_means[c] } else { lo };
            let phase_mid = if p == 0 {
                PHASE_EDGES[0] / 2.0
            } else if p + 1 == phases {
                2.0 * PHASE_EDGES[p - 1]
            } else {
                (PHASE_EDGES[p - 1] + PHASE_EDGES[p]) / 2.0
            };
            let prior = daily
                .get(bucket((phase_mid * gap).max(1.0)))
                .copied()
                .unwrap_or(0.0);
            // Sessions per exposed day are a rate; a day's probability is 1 − e^(−rate) (a narrow phase bucket
            // around a job's period can see more than one start per exposed day).
            let prior_rate = -(1.0 - prior.min(0.999_999)).ln();
            let rate = (events[cell] + PHASE_SHRINK * prior_rate) / (exposure[cell] + PHASE_SHRINK);
            1.0 - (-rate).exp()
        })
        .collect();
    (by_phase, gap_means)
}

/// The class of `x` among classes with upper edges `edges` (exclusive; the last class takes the rest).
fn class_of<T: PartialOrd + Copy>(edges: &[T], x: T) -> usize {
    edges.iter().position(|&e| x < e).unwrap_or(edges.len() - 1)
}

/// Whether an object with intervals `gaps` (as of its latest read) and history `h` had a known interval at `t`:
/// with no read since `t`, if it has one now; else if it has two now (one session started since `t`, not more,
/// over the few days the cuts look back).
fn interval_known_at(gaps: ReadGaps, h: crate::features::AccessHistory<'_>, t: i64) -> bool {
    if h.count_in(t, i64::MAX) == 0 {
        gaps.last_s > 0
    } else {
        gaps.prev_s > 0
    }
}

/// The read-interval class of an interval of `gap_days`.
fn gap_class(gap_days: f64) -> usize {
    class_of(&GAP_EDGES_DAYS, gap_days)
}

/// The cell of [`IdleHazard::by_phase`] of interval class `c` at phase `phase` (idle over interval).
fn phase_cell(c: usize, phase: f64) -> usize {
    c * PHASE_EDGES.len() + class_of(&PHASE_EDGES, phase)
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
                read_gaps: Default::default(),
                moved_ms: 0,
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
                read_gaps: Default::default(),
                moved_ms: 0,
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
            by_phase: Vec::new(),
            gap_means: Vec::new(),
        };
        assert!((flat.mean_daily_at(40.0, 0.0, 0, None, 90).unwrap() - 0.1).abs() < 1e-12);
        // 0.5 on the first day, then nothing: P(no read over 2 days) = 0.5 = (1 - m)^2.
        let mut daily = vec![0.0; n];
        daily[0] = 0.5;
        let falling = IdleHazard {
            daily,
            examples: vec![1; n],
            by_age: Vec::new(),
            by_count: Vec::new(),
            by_phase: Vec::new(),
            gap_means: Vec::new(),
        };
        let m = falling.mean_daily_at(0.0, 0.0, 0, None, 2).unwrap();
        assert!((m - (1.0 - 0.5f64.sqrt())).abs() < 1e-12, "{m}");
        assert!(
            falling.mean_daily_at(0.0, 0.0, 0, None, 90).unwrap() < falling.daily(0.0).unwrap()
        );
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
                read_gaps: Default::default(),
                moved_ms: 0,
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
                read_gaps: Default::default(),
                moved_ms: 0,
            });
            b.push(i, 100 * DAY_MS, 1 << 20);
        }
        let h = b.finish(600).expect("histories");
        let hz = IdleHazard::fit(&objects, &h, now, None).expect("fit");
        let young = hz.daily_at(0.5, 5.0, 5, None).unwrap();
        let old = hz.daily_at(0.5, 150.0, 1, None).unwrap();
        assert!(young > 0.9, "{hz:?}");
        // The old class had no object-day at idle < 1 day: it falls back on the idle-only hazard.
        assert!((old - hz.daily(0.5).unwrap()).abs() < 1e-12, "{hz:?}");
        let long_idle_old = hz.daily_at(100.0, 150.0, 1, None).unwrap();
        assert!(long_idle_old < 0.05, "{hz:?}");

        // Over 30 days, a young object read daily is read almost every day; an old one idle 100 days almost never.
        let t = hz.horizon_table(30.0).expect("table");
        assert!(t.active_days(0.99, 0.2, 5.0, 5, None) > 25.0);
        assert!(t.active_days(0.0, 100.0, 150.0, 1, None) < 2.0);
        // Monotone in the first day's probability.
        assert!(
            t.active_days(1.0, 100.0, 150.0, 1, None) > t.active_days(0.0, 100.0, 150.0, 1, None)
        );
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
                read_gaps: Default::default(),
                moved_ms: 0,
            });
            b.push(i, now - 20 * DAY_MS, 1 << 20);
            if often {
                b.push(i, now - (1 + i64::from(i % 7)) * DAY_MS + 1000, 1 << 20);
            }
        }
        let h = b.finish(600).expect("histories");
        let hz = IdleHazard::fit(&objects, &h, now, None).expect("fit");
        let often = hz.daily_at(16.0, 190.0, 39, None).unwrap();
        let once = hz.daily_at(16.0, 190.0, 1, None).unwrap();
        assert!(often > 5.0 * once, "{often} {once}");
        let t = hz.horizon_table(30.0).expect("table");
        assert!(
            t.active_days(0.0, 16.0, 190.0, 39, None)
                > 2.0 * t.active_days(0.0, 16.0, 190.0, 1, None)
        );
        // The lifetime count counts back from the reads after the cut, never below the history's own.
        let o = objects[0];
        assert_eq!(o.reads_before(h.get(0), now - 10 * DAY_MS), 39);
        let unknown = ObjectBasics {
            size_bytes: 1,
            last_modified_ms: 0,
            lifetime_reads: 0,
            read_gaps: Default::default(),
            moved_ms: 0,
        };
        assert_eq!(unknown.reads_before(h.get(0), now), 2);
    }

    #[test]
    fn a_periodic_job_s_objects_are_told_apart_from_idle_ones_by_their_read_interval() {
        let now = 400 * DAY_MS;
        // 300 objects read by a quarterly job (every 91 days: last read 85 days ago, the two intervals before 91
        // days each), and 300 read as often but idle since: their last interval was 20 days, the one before 150.
        // Same age, same read count, same idle time; the job has not run in the week the cuts look at.
        let mut objects = Vec::new();
        let mut b = HistoryBuilder::with_capacity(0);
        for i in 0..600u32 {
            let (last, prev) = if i < 300 { (91, 91) } else { (20, 150) };
            objects.push(ObjectBasics {
                size_bytes: 1 << 20,
                last_modified_ms: 0,
                lifetime_reads: 3,
                read_gaps: ReadGaps {
                    last_s: last * 86_400,
                    prev_s: prev * 86_400,
                },
                moved_ms: 0,
            });
            b.push(i, now - 85 * DAY_MS, 1 << 20);
        }
        // And 300 more with a 91-day interval, one at each phase, to measure the job's phase from.
        for i in 600..900u32 {
            objects.push(ObjectBasics {
                size_bytes: 1 << 20,
                last_modified_ms: 0,
                lifetime_reads: 3,
                read_gaps: ReadGaps {
                    last_s: 91 * 86_400,
                    prev_s: 91 * 86_400,
                },
                moved_ms: 0,
            });
            b.push(i, now - i64::from(i - 600) % 91 * DAY_MS - 1000, 1 << 20);
        }
        let h = b.finish(900).expect("histories");
        let hz = IdleHazard::fit(&objects, &h, now, None).expect("fit");
        let due = hz.daily_at(89.0, 390.0, 3, Some(91.0)).unwrap();
        let early = hz.daily_at(50.0, 390.0, 3, Some(91.0)).unwrap();
        let idle = hz.daily_at(89.0, 390.0, 3, Some(20.0)).unwrap();
        let unknown = hz.daily_at(89.0, 390.0, 3, None).unwrap();
        assert!(due > 0.1, "{due}");
        assert!(early < 0.01, "{early}");
        assert!(idle < 0.01, "{idle}");
        assert!(unknown < 0.01, "{unknown}");
        // Over 30 days the job's objects idle 85 days are read about once (the job), the others about never.
        let t = hz.horizon_table(30.0).expect("table");
        let job = t.active_days(0.0, 85.0, 390.0, 3, Some(91.0));
        assert!((0.7..1.5).contains(&job), "{job}");
        assert!(t.active_days(0.0, 85.0, 390.0, 3, Some(20.0)) < 0.2);
        assert!(t.active_days(0.0, 50.0, 390.0, 3, Some(91.0)) < 0.2);
    }

    #[test]
    fn nothing_to_measure_is_none() {
        let (o, h) = population(0, None, 10 * DAY_MS);
        assert!(IdleHazard::fit(&o, &h, 10 * DAY_MS, None).is_none());
    }
}
