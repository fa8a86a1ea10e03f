//! Turns a [`Profile`] into a time-ordered event stream.
//!
//! Time advances in one-minute bins. For each bin the generator draws how
//! many arrivals, deletions, reads, listings, viral starts, viral reads and
//! periodic-job reads fall into it, gives each a timestamp, sorts them, and
//! only then resolves each one to an object in time order, so that reads
//! never see an object before its creation or after its deletion.

use std::fmt;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::dist::{LogNormal, Zipf, poisson};
use super::profile::Profile;
use crate::trace::{Op, Record};

const MINUTE_MS: u64 = 60_000;
const HOUR_MS: f64 = 3_600_000.0;
const DAY_MS: f64 = 86_400_000.0;
/// Zipf draws tried per read before falling back to a uniform live object.
const MAX_READ_TRIES: u32 = 64;

/// An object key (16 lowercase hex digits) or a listing prefix (2 hex
/// digits), formatted on the stack.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct IdBuf {
    bytes: [u8; 16],
    len: u8,
}

impl IdBuf {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever written into `bytes`.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("")
    }

    fn hex(value: u64, digits: u8) -> IdBuf {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut bytes = [0u8; 16];
        let n = usize::from(digits);
        for (i, b) in bytes.iter_mut().take(n).enumerate() {
            let shift = 4 * (n - 1 - i);
            *b = HEX[((value >> shift) & 0xf) as usize];
        }
        IdBuf { bytes, len: digits }
    }
}

impl fmt::Debug for IdBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for IdBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The trace key of object number `key`: 16 lowercase hex digits.
pub fn object_key(key: u64) -> IdBuf {
    IdBuf::hex(key, 16)
}

/// One generated request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// Milliseconds since the start of the trace; non-decreasing.
    pub ts_ms: u64,
    /// The request kind (never [`Op::Copy`]).
    pub op: Op,
    /// Object key (see [`object_key`]) or listing prefix.
    pub id: IdBuf,
    /// Object size for PUT, GET and HEAD.
    pub size: Option<u64>,
    /// Inclusive byte range of a ranged GET.
    pub range: Option<(u64, u64)>,
}

impl Event {
    /// The event as a trace record borrowing its id.
    pub fn record(&self) -> Record<'_> {
        Record {
            ts_ms: self.ts_ms,
            op: self.op,
            id: self.id.as_str(),
            size: self.size,
            range: self.range,
        }
    }
}

/// An object that exists at time 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InitialObject {
    /// Its key.
    pub id: IdBuf,
    /// Its size in bytes.
    pub size: u64,
}

/// Generator switches.
#[derive(Clone, Copy, Debug)]
pub struct GeneratorOptions {
    /// Emit a PUT at time 0 for each initial object (true for trace files,
    /// so that a replay knows every object's size; a live load driver turns
    /// it off and creates them in an untimed setup phase instead, see
    /// [`Generator::initial_objects`]).
    pub emit_initial: bool,
}

impl Default for GeneratorOptions {
    fn default() -> Self {
        GeneratorOptions { emit_initial: true }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SlotState {
    Unborn,
    Alive,
    Deleted,
}

#[derive(Clone, Copy)]
struct Slot {
    key: u64,
    size: u64,
    /// Creation time for aging; negative for objects older than the trace.
    born_ms: i64,
    state: SlotState,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum SkelKind {
    Create(u32),
    DeleteRandom,
    Read,
    ReadSlot(u32),
    List,
    ViralStart,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Skel {
    t: u64,
    seq: u32,
    kind: SkelKind,
}

struct Burst {
    slot: u32,
    start: u64,
    end: u64,
}

/// The event stream of one profile; see the module docs. An
/// [`Iterator`] of [`Event`]s in non-decreasing time order.
pub struct Generator {
    profile: Profile,
    rng: StdRng,
    slots: Vec<Slot>,
    /// Zipf rank - 1 -> slot.
    rank_to_slot: Vec<u32>,
    zipf: Zipf,
    sizes: LogNormal,
    alive: Vec<u32>,
    alive_pos: Vec<u32>,
    arrival_ms: Vec<u64>,
    next_arrival: usize,
    initial: u32,
    initial_emitted: u32,
    emit_initial: bool,
    end_ms: u64,
    bin_start: u64,
    skels: Vec<Skel>,
    cursor: usize,
    bursts: Vec<Burst>,
    job_next_run: Vec<u64>,
    /// Pending periodic reads, sorted by descending time (pop from the end).
    job_queue: Vec<(u64, u32)>,
    job_salt: u64,
}

/// splitmix64's finalizer: a bijection on u64.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn unit(hash: u64) -> f64 {
    (hash >> 11) as f64 / (1u64 << 53) as f64
}

impl Generator {
    /// Builds the population and arrival schedule of a validated profile.
    pub fn new(profile: &Profile, opts: GeneratorOptions) -> Generator {
        let p = profile.clone();
        let mut rng = StdRng::seed_from_u64(p.seed);
        let end_ms = (p.duration_days * DAY_MS).round() as u64;
        let sizes = LogNormal::new(
            p.objects.size_median_bytes,
            p.objects.size_sigma,
            p.objects.size_min_bytes,
            p.objects.size_max_bytes,
        );
        // Arrival times: a Poisson process, drawn up front so that the
        // population size (and so the Zipf ranking) is known.
        let mut arrival_ms = Vec::new();
        let per_ms = p.objects.arrivals_per_day / DAY_MS;
        if per_ms > 0.0 {
            let mut t = 0.0f64;
            loop {
                t += -(1.0 - rng.r#gen::<f64>()).ln() / per_ms;
                if t >= end_ms as f64 {
                    break;
                }
                arrival_ms.push(t as u64);
            }
        }
        let initial = u32::try_from(p.objects.initial).unwrap_or(u32::MAX);
        let total = initial as usize + arrival_ms.len();
        let key_salt = mix(p.seed ^ 0x5eed_0f0b_1ec7);
        let mut slots = Vec::with_capacity(total);
        for i in 0..total {
            let (born_ms, state, size) = if i < initial as usize {
                let age = rng.r#gen::<f64>() * p.objects.initial_age_days * DAY_MS;
                (-(age as i64), SlotState::Alive, sizes.sample(&mut rng))
            } else {
                (0, SlotState::Unborn, 0)
            };
            slots.push(Slot {
                key: mix(key_salt ^ i as u64),
                size,
                born_ms,
                state,
            });
        }
        let mut rank_to_slot: Vec<u32> = (0..total as u32).collect();
        for i in (1..rank_to_slot.len()).rev() {
            let j = rng.gen_range(0..=i);
            rank_to_slot.swap(i, j);
        }
        let alive: Vec<u32> = (0..initial).collect();
        let mut alive_pos = vec![u32::MAX; total];
        for (i, pos) in alive_pos.iter_mut().enumerate().take(initial as usize) {
            *pos = i as u32;
        }
        let job_next_run = p
            .periodic
            .iter()
            .map(|j| (j.offset_hours * HOUR_MS).round() as u64)
            .collect();
        Generator {
            zipf: Zipf::new(total as u64, p.reads.zipf_exponent),
            job_salt: mix(p.seed ^ 0x10b5),
            profile: p,
            rng,
            slots,
            rank_to_slot,
            sizes,
            alive,
            alive_pos,
            arrival_ms,
            next_arrival: 0,
            initial,
            initial_emitted: 0,
            emit_initial: opts.emit_initial,
            end_ms,
            bin_start: 0,
            skels: Vec::new(),
            cursor: 0,
            bursts: Vec::new(),
            job_next_run,
            job_queue: Vec::new(),
        }
    }

    /// The objects that exist at time 0, with their sizes.
    pub fn initial_objects(&self) -> impl Iterator<Item = InitialObject> + '_ {
        self.slots[..self.initial as usize]
            .iter()
            .map(|s| InitialObject {
                id: object_key(s.key),
                size: s.size,
            })
    }

    /// Objects the profile will ever create (initial + arrivals).
    pub fn population(&self) -> usize {
        self.slots.len()
    }

    /// Length of the stream in milliseconds.
    pub fn duration_ms(&self) -> u64 {
        self.end_ms
    }

    fn uniform_time(&mut self, a: u64, b: u64) -> u64 {
        if b <= a { a } else { self.rng.gen_range(a..b) }
    }

    fn push_n(&mut self, n: u64, a: u64, b: u64, kind: SkelKind) {
        for _ in 0..n {
            let t = self.uniform_time(a, b);
            let seq = self.skels.len() as u32;
            self.skels.push(Skel { t, seq, kind });
        }
    }

    fn diurnal(&self, t_ms: u64) -> f64 {
        let d = &self.profile.diurnal;
        let hour = (t_ms as f64 / HOUR_MS) % 24.0;
        1.0 + d.amplitude * (std::f64::consts::TAU * (hour - d.peak_hour) / 24.0).cos()
    }

    /// Draws the skeletons of the next bin. Returns false past the end.
    fn fill_bin(&mut self) -> bool {
        if self.bin_start >= self.end_ms {
            return false;
        }
        let b0 = self.bin_start;
        let b1 = (b0 + MINUTE_MS).min(self.end_ms);
        self.bin_start = b1;
        self.skels.clear();
        self.cursor = 0;
        let days = (b1 - b0) as f64 / DAY_MS;

        while self.next_arrival < self.arrival_ms.len() && self.arrival_ms[self.next_arrival] < b1 {
            let slot = self.initial + self.next_arrival as u32;
            let t = self.arrival_ms[self.next_arrival];
            let seq = self.skels.len() as u32;
            self.skels.push(Skel {
                t,
                seq,
                kind: SkelKind::Create(slot),
            });
            self.next_arrival += 1;
        }
        let o = &self.profile.objects;
        let r = &self.profile.reads;
        let (del, list) = (o.deletions_per_day * days, r.list_per_day * days);
        let reads = r.per_day * days * self.diurnal((b0 + b1) / 2);
        let viral = self.profile.viral.events_per_day * days;
        let n = poisson(&mut self.rng, del);
        self.push_n(n, b0, b1, SkelKind::DeleteRandom);
        let n = poisson(&mut self.rng, reads);
        self.push_n(n, b0, b1, SkelKind::Read);
        let n = poisson(&mut self.rng, list);
        self.push_n(n, b0, b1, SkelKind::List);
        let n = poisson(&mut self.rng, viral);
        self.push_n(n, b0, b1, SkelKind::ViralStart);

        let per_hour = self.profile.viral.reads_per_hour;
        let mut i = 0;
        while i < self.bursts.len() {
            let (slot, a, b) = {
                let bu = &self.bursts[i];
                (bu.slot, bu.start.max(b0), bu.end.min(b1))
            };
            if b > a {
                let n = poisson(&mut self.rng, per_hour * (b - a) as f64 / HOUR_MS);
                self.push_n(n, a, b, SkelKind::ReadSlot(slot));
            }
            if self.bursts[i].end <= b1 {
                self.bursts.swap_remove(i);
            } else {
                i += 1;
            }
        }

        self.start_periodic_runs(b1);
        while let Some(&(t, slot)) = self.job_queue.last() {
            if t >= b1 {
                break;
            }
            self.job_queue.pop();
            let seq = self.skels.len() as u32;
            self.skels.push(Skel {
                t: t.max(b0),
                seq,
                kind: SkelKind::ReadSlot(slot),
            });
        }
        self.skels.sort_unstable();
        true
    }

    /// Queues the reads of every periodic run that starts before `b1`.
    fn start_periodic_runs(&mut self, b1: u64) {
        let mut added = false;
        for (j, job) in self.profile.periodic.iter().enumerate() {
            let period = (job.period_days * DAY_MS).round().max(1.0) as u64;
            let spread = job.spread_hours * HOUR_MS;
            while self.job_next_run[j] < b1 && self.job_next_run[j] < self.end_ms {
                let run = self.job_next_run[j];
                self.job_next_run[j] = run.saturating_add(period);
                if job.fraction <= 0.0 {
                    continue;
                }
                let salt = mix(self.job_salt ^ j as u64);
                for (s, slot) in self.slots.iter().enumerate() {
                    if slot.state != SlotState::Alive {
                        continue;
                    }
                    let h = mix(salt ^ s as u64);
                    if unit(h) < job.fraction {
                        let offset = (unit(mix(h)) * spread) as u64;
                        self.job_queue.push((run + offset, s as u32));
                        added = true;
                    }
                }
            }
        }
        if added {
            self.job_queue.sort_unstable_by(|a, b| b.cmp(a));
        }
    }

    fn kill(&mut self, slot: u32) {
        let pos = self.alive_pos[slot as usize];
        if pos == u32::MAX {
            return;
        }
        self.alive.swap_remove(pos as usize);
        if let Some(&moved) = self.alive.get(pos as usize) {
            self.alive_pos[moved as usize] = pos;
        }
        self.alive_pos[slot as usize] = u32::MAX;
        self.slots[slot as usize].state = SlotState::Deleted;
    }

    fn random_alive(&mut self) -> Option<u32> {
        if self.alive.is_empty() {
            None
        } else {
            Some(self.alive[self.rng.gen_range(0..self.alive.len())])
        }
    }

    fn pick_read_object(&mut self, t: u64) -> Option<u32> {
        if self.rank_to_slot.is_empty() {
            return None;
        }
        let (half_life, floor) = (self.profile.aging.half_life_days, self.profile.aging.floor);
        for _ in 0..MAX_READ_TRIES {
            let rank = self.zipf.sample(&mut self.rng);
            let slot = self.rank_to_slot[(rank - 1) as usize];
            let s = &self.slots[slot as usize];
            if s.state != SlotState::Alive {
                continue;
            }
            if half_life > 0.0 {
                let age_days = (t as i64 - s.born_ms).max(0) as f64 / DAY_MS;
                let keep = floor + (1.0 - floor) * (-age_days / half_life).exp2();
                if self.rng.r#gen::<f64>() >= keep {
                    continue;
                }
            }
            return Some(slot);
        }
        self.random_alive()
    }

    fn get_event(&mut self, t: u64, slot: u32, allow_range: bool) -> Event {
        let s = self.slots[slot as usize];
        let r = &self.profile.reads;
        let (head_fraction, range_fraction, range_max) =
            (r.head_fraction, r.range_fraction, r.range_max_bytes);
        let mut op = Op::Get;
        let mut range = None;
        if allow_range && head_fraction > 0.0 && self.rng.r#gen::<f64>() < head_fraction {
            op = Op::Head;
        } else if allow_range
            && range_fraction > 0.0
            && s.size > 1
            && self.rng.r#gen::<f64>() < range_fraction
        {
            let start = self.rng.gen_range(0..s.size);
            let len = self.rng.gen_range(1..=range_max.min(s.size - start));
            range = Some((start, start + len - 1));
        }
        Event {
            ts_ms: t,
            op,
            id: object_key(s.key),
            size: Some(s.size),
            range,
        }
    }

    fn resolve(&mut self, sk: Skel) -> Option<Event> {
        let t = sk.t;
        match sk.kind {
            SkelKind::Create(slot) => {
                let size = self.sizes.sample(&mut self.rng);
                let s = &mut self.slots[slot as usize];
                s.size = size;
                s.born_ms = t as i64;
                s.state = SlotState::Alive;
                let key = s.key;
                self.alive_pos[slot as usize] = self.alive.len() as u32;
                self.alive.push(slot);
                Some(Event {
                    ts_ms: t,
                    op: Op::Put,
                    id: object_key(key),
                    size: Some(size),
                    range: None,
                })
            }
            SkelKind::DeleteRandom => {
                let slot = self.random_alive()?;
                let key = self.slots[slot as usize].key;
                self.kill(slot);
                Some(Event {
                    ts_ms: t,
                    op: Op::Delete,
                    id: object_key(key),
                    size: None,
                    range: None,
                })
            }
            SkelKind::Read => {
                let slot = self.pick_read_object(t)?;
                Some(self.get_event(t, slot, true))
            }
            SkelKind::ReadSlot(slot) => {
                if self.slots[slot as usize].state != SlotState::Alive {
                    return None;
                }
                Some(self.get_event(t, slot, false))
            }
            SkelKind::List => {
                let prefix = self.rng.r#gen::<u8>();
                Some(Event {
                    ts_ms: t,
                    op: Op::List,
                    id: IdBuf::hex(u64::from(prefix), 2),
                    size: None,
                    range: None,
                })
            }
            SkelKind::ViralStart => {
                let slot = self.random_alive()?;
                let dur = (self.profile.viral.duration_hours * HOUR_MS) as u64;
                self.bursts.push(Burst {
                    slot,
                    start: t,
                    end: t.saturating_add(dur),
                });
                None
            }
        }
    }
}

impl Iterator for Generator {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        if self.emit_initial && self.initial_emitted < self.initial {
            let s = self.slots[self.initial_emitted as usize];
            self.initial_emitted += 1;
            return Some(Event {
                ts_ms: 0,
                op: Op::Put,
                id: object_key(s.key),
                size: Some(s.size),
                range: None,
            });
        }
        loop {
            while self.cursor < self.skels.len() {
                let sk = self.skels[self.cursor];
                self.cursor += 1;
                if let Some(ev) = self.resolve(sk) {
                    return Some(ev);
                }
            }
            if !self.fill_bin() {
                return None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::TraceWriter;
    use std::collections::{HashMap, HashSet};
    use std::path::Path;

    fn profile(extra: &str) -> Profile {
        let text = format!(
            r#"
name = "t"
seed = 11
duration_days = 3.0
[objects]
initial = 2000
initial_age_days = 10.0
arrivals_per_day = 300.0
deletions_per_day = 100.0
size_median_bytes = 50000.0
size_sigma = 1.0
size_max_bytes = 100000000
[reads]
per_day = 20000.0
zipf_exponent = 1.0
head_fraction = 0.1
range_fraction = 0.1
list_per_day = 50.0
[diurnal]
amplitude = 0.8
peak_hour = 12.0
{extra}
"#
        );
        Profile::parse(&text, Path::new("<test>")).expect("valid test profile")
    }

    fn trace_bytes(p: &Profile) -> Vec<u8> {
        let mut w = TraceWriter::new(Vec::new());
        for ev in Generator::new(p, GeneratorOptions::default()) {
            w.write(&ev.record()).expect("vec write");
        }
        w.finish().expect("flush")
    }

    #[test]
    fn same_seed_same_trace_other_seed_other_trace() {
        let p = profile("");
        let a = trace_bytes(&p);
        let b = trace_bytes(&p);
        assert!(a.len() > 10_000);
        assert_eq!(a, b);
        let mut q = p.clone();
        q.seed = 12;
        assert_ne!(a, trace_bytes(&q));
    }

    #[test]
    fn stream_is_ordered_and_consistent() {
        let p = profile(
            "[viral]\nevents_per_day = 5.0\nreads_per_hour = 100.0\nduration_hours = 3.0\n\
             [[periodic]]\nname = \"daily\"\nperiod_days = 1.0\noffset_hours = 1.0\nfraction = 0.2\n",
        );
        let mut alive: HashSet<IdBuf> = HashSet::new();
        let mut last = 0;
        let mut counts: HashMap<Op, u64> = HashMap::new();
        for ev in Generator::new(&p, GeneratorOptions::default()) {
            assert!(ev.ts_ms >= last, "time went back");
            assert!(ev.ts_ms < 3 * 86_400_000);
            last = ev.ts_ms;
            *counts.entry(ev.op).or_default() += 1;
            match ev.op {
                Op::Put => {
                    assert!(alive.insert(ev.id), "PUT of a live object");
                    assert!(ev.size.unwrap_or(0) >= 1);
                }
                Op::Delete => assert!(alive.remove(&ev.id), "DELETE of a dead object"),
                Op::Get | Op::Head => {
                    assert!(alive.contains(&ev.id), "read of a dead object {}", ev.id);
                    if let (Some((a, b)), Some(size)) = (ev.range, ev.size) {
                        assert!(a <= b && b < size);
                    }
                }
                Op::List => assert_eq!(ev.id.as_str().len(), 2),
                Op::Copy => panic!("generator never copies"),
            }
        }
        // 2000 initial objects and ~900 arrivals.
        let puts = counts[&Op::Put] as f64;
        assert!((puts - 2900.0).abs() < 120.0, "puts {puts}");
        // Reads: ~60000 Zipf reads + viral + periodic (0.2 of ~2000 objects x 3 runs).
        let reads = counts[&Op::Get] + counts[&Op::Head];
        assert!((60_000..=70_000).contains(&reads), "reads {reads}");
        let deletes = counts[&Op::Delete] as f64;
        assert!((deletes - 300.0).abs() < 60.0, "deletes {deletes}");
        let heads = counts[&Op::Head] as f64 / 60_000.0;
        assert!((heads - 0.1).abs() < 0.02, "head share {heads}");
    }

    #[test]
    fn zipf_popularity_concentrates_reads() {
        let mut p = profile("");
        p.objects.arrivals_per_day = 0.0;
        p.objects.deletions_per_day = 0.0;
        let mut per_object: HashMap<IdBuf, u64> = HashMap::new();
        let mut reads = 0u64;
        for ev in Generator::new(&p, GeneratorOptions::default()) {
            if ev.op == Op::Get || ev.op == Op::Head {
                *per_object.entry(ev.id).or_default() += 1;
                reads += 1;
            }
        }
        let mut counts: Vec<u64> = per_object.into_values().collect();
        counts.sort_unstable_by(|a, b| b.cmp(a));
        let top20: u64 = counts.iter().take(20).sum();
        // Zipf(1.0) over 2000 ranks: the top 1% hold H(20)/H(2000) = 44%.
        let share = top20 as f64 / reads as f64;
        assert!((share - 0.44).abs() < 0.04, "top-1% share {share}");
    }

    #[test]
    fn aging_shifts_reads_to_young_objects() {
        let mut p = profile("[aging]\nhalf_life_days = 0.5\nfloor = 0.01\n");
        p.objects.deletions_per_day = 0.0;
        p.objects.initial_age_days = 30.0;
        let generator = Generator::new(&p, GeneratorOptions::default());
        let initial: HashSet<IdBuf> = generator.initial_objects().map(|o| o.id).collect();
        let (mut old, mut young) = (0u64, 0u64);
        for ev in generator.skip(2000) {
            if ev.op == Op::Get {
                if initial.contains(&ev.id) {
                    old += 1
                } else {
                    young += 1
                }
            }
        }
        // ~900 young objects against 2000 old ones at 1% popularity.
        assert!(young > old, "young {young} old {old}");
    }

    #[test]
    fn initial_objects_can_be_left_out_of_the_stream() {
        let p = profile("");
        let g = Generator::new(
            &p,
            GeneratorOptions {
                emit_initial: false,
            },
        );
        assert_eq!(g.initial_objects().count(), 2000);
        let first = g.take(1).next().expect("an event");
        assert!(first.ts_ms > 0 || first.op != Op::Put);
    }

    #[test]
    fn object_keys_are_hex() {
        assert_eq!(object_key(0xab).as_str(), "00000000000000ab");
        assert_eq!(IdBuf::hex(0x3f, 2).as_str(), "3f");
    }
}
