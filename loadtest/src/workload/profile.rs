//! The workload profile: a TOML file, validated on load.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Upper bounds that keep a profile's generation bounded in time and
/// memory (the generator keeps a few words per object).
const MAX_OBJECTS: u64 = 50_000_000;
const MAX_DURATION_DAYS: f64 = 3650.0;
const MAX_EVENTS_PER_DAY: f64 = 1e9;

/// Errors loading or validating a profile.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The file could not be read.
    #[error("reading profile {path}: {source}")]
    Read {
        /// The profile path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The TOML did not parse or had unknown/mistyped fields.
    #[error("parsing profile {path}: {source}")]
    Parse {
        /// The profile path (or `<inline>`).
        path: PathBuf,
        /// The TOML error.
        source: toml::de::Error,
    },
    /// A field has a value outside its documented domain.
    #[error("profile {name:?}: {field} {problem}")]
    Invalid {
        /// The profile's name.
        name: String,
        /// The offending field, e.g. `reads.zipf_exponent`.
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
}

/// A workload profile. Every section but `objects` and `reads` is optional
/// and defaults to "off".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Display name.
    pub name: String,
    /// Seed of the generator's random stream.
    #[serde(default)]
    pub seed: u64,
    /// Length of the generated trace in days (> 0, at most 3650).
    pub duration_days: f64,
    /// The object population.
    pub objects: ObjectParams,
    /// The read stream.
    pub reads: ReadParams,
    /// Daily cycle of the read rate.
    #[serde(default)]
    pub diurnal: DiurnalParams,
    /// Popularity decay with age.
    #[serde(default)]
    pub aging: AgingParams,
    /// Viral bursts.
    #[serde(default)]
    pub viral: ViralParams,
    /// Periodic jobs (weekly reports, monthly audits, ...).
    #[serde(default)]
    pub periodic: Vec<PeriodicJob>,
}

/// The population: initial objects, arrivals, deletions, sizes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectParams {
    /// Objects that exist at time 0 (written at the start of the trace).
    pub initial: u64,
    /// Their ages at time 0 are uniform in `[0, initial_age_days]`; the
    /// age drives [`AgingParams`].
    #[serde(default)]
    pub initial_age_days: f64,
    /// New objects per day (a Poisson process).
    #[serde(default)]
    pub arrivals_per_day: f64,
    /// Deletions per day (Poisson), each of a uniformly chosen live object.
    #[serde(default)]
    pub deletions_per_day: f64,
    /// Median object size in bytes (the lognormal's `exp(mu)`).
    pub size_median_bytes: f64,
    /// The lognormal's sigma (0 = every object has the median size).
    pub size_sigma: f64,
    /// Sizes are clamped to at least this.
    #[serde(default = "default_min_size")]
    pub size_min_bytes: u64,
    /// Sizes are clamped to at most this.
    pub size_max_bytes: u64,
}

fn default_min_size() -> u64 {
    1
}

/// The read stream drawn from Zipf popularity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadParams {
    /// Mean reads (GET + HEAD) per day, before the diurnal cycle.
    pub per_day: f64,
    /// Zipf exponent `s` (> 0): rank `k` has weight `k^-s`.
    pub zipf_exponent: f64,
    /// Fraction of reads that are HEAD instead of GET.
    #[serde(default)]
    pub head_fraction: f64,
    /// Fraction of GETs that read a byte range.
    #[serde(default)]
    pub range_fraction: f64,
    /// A range is at most this long.
    #[serde(default = "default_range_max")]
    pub range_max_bytes: u64,
    /// LIST requests per day.
    #[serde(default)]
    pub list_per_day: f64,
}

fn default_range_max() -> u64 {
    1 << 20
}

/// The read rate at hour-of-day `h` is multiplied by
/// `1 + amplitude * cos(2π (h - peak_hour) / 24)`; the daily mean is unchanged.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiurnalParams {
    /// In `[0, 1]`; 0 disables the cycle.
    #[serde(default)]
    pub amplitude: f64,
    /// Hour of the peak, in `[0, 24)`.
    #[serde(default)]
    pub peak_hour: f64,
}

/// An object of age `a` days keeps a fraction
/// `floor + (1 - floor) * 2^(-a / half_life_days)` of its Zipf popularity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgingParams {
    /// Half-life in days; 0 disables aging.
    #[serde(default)]
    pub half_life_days: f64,
    /// In `(0, 1]`: the popularity an old object keeps.
    #[serde(default = "default_floor")]
    pub floor: f64,
}

fn default_floor() -> f64 {
    1.0
}

impl Default for AgingParams {
    /// No aging.
    fn default() -> Self {
        AgingParams {
            half_life_days: 0.0,
            floor: default_floor(),
        }
    }
}

/// Viral bursts: at a Poisson rate, a uniformly chosen live object gets
/// `reads_per_hour` extra GETs for `duration_hours`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViralParams {
    /// Bursts per day; 0 disables them.
    #[serde(default)]
    pub events_per_day: f64,
    /// Extra GETs per hour on the burst's object.
    #[serde(default)]
    pub reads_per_hour: f64,
    /// Length of a burst.
    #[serde(default)]
    pub duration_hours: f64,
}

/// A job that, every `period_days` starting at `offset_hours`, reads (GET)
/// a fixed pseudo-random `fraction` of the live objects, spread evenly over
/// `spread_hours`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeriodicJob {
    /// Display name.
    pub name: String,
    /// Period in days (> 0).
    pub period_days: f64,
    /// First run, hours after time 0.
    #[serde(default)]
    pub offset_hours: f64,
    /// Fraction of objects the job reads, in `[0, 1]`.
    pub fraction: f64,
    /// How long one run takes.
    #[serde(default = "default_spread")]
    pub spread_hours: f64,
}

fn default_spread() -> f64 {
    1.0
}

impl Profile {
    /// Reads and validates a profile file.
    pub fn load(path: &Path) -> Result<Profile, ProfileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Profile::parse(&text, path)
    }

    /// Parses and validates profile TOML; `origin` names it in errors.
    pub fn parse(text: &str, origin: &Path) -> Result<Profile, ProfileError> {
        let p: Profile = toml::from_str(text).map_err(|source| ProfileError::Parse {
            path: origin.to_path_buf(),
            source,
        })?;
        p.validate()?;
        Ok(p)
    }

    /// Checks every field's domain (see the field docs).
    pub fn validate(&self) -> Result<(), ProfileError> {
        let bad = |field: &'static str, problem: String| ProfileError::Invalid {
            name: self.name.clone(),
            field,
            problem,
        };
        let range = |field: &'static str, v: f64, lo: f64, hi: f64| {
            if v.is_finite() && v >= lo && v <= hi {
                Ok(())
            } else {
                Err(bad(field, format!("is {v}, must be in [{lo}, {hi}]")))
            }
        };
        range(
            "duration_days",
            self.duration_days,
            f64::MIN_POSITIVE,
            MAX_DURATION_DAYS,
        )?;
        let o = &self.objects;
        if o.initial > MAX_OBJECTS {
            return Err(bad(
                "objects.initial",
                format!("is {}, at most {MAX_OBJECTS}", o.initial),
            ));
        }
        range(
            "objects.initial_age_days",
            o.initial_age_days,
            0.0,
            MAX_DURATION_DAYS,
        )?;
        range(
            "objects.arrivals_per_day",
            o.arrivals_per_day,
            0.0,
            MAX_EVENTS_PER_DAY,
        )?;
        let arrivals = o.arrivals_per_day * self.duration_days;
        if o.initial as f64 + arrivals > MAX_OBJECTS as f64 {
            return Err(bad(
                "objects.arrivals_per_day",
                format!("brings the population to {arrivals:.0} + initial, over {MAX_OBJECTS}"),
            ));
        }
        range(
            "objects.deletions_per_day",
            o.deletions_per_day,
            0.0,
            MAX_EVENTS_PER_DAY,
        )?;
        range("objects.size_median_bytes", o.size_median_bytes, 1.0, 5e12)?;
        range("objects.size_sigma", o.size_sigma, 0.0, 10.0)?;
        if o.size_min_bytes > o.size_max_bytes {
            return Err(bad(
                "objects.size_min_bytes",
                format!(
                    "{} is above size_max_bytes {}",
                    o.size_min_bytes, o.size_max_bytes
                ),
            ));
        }
        let r = &self.reads;
        range("reads.per_day", r.per_day, 0.0, MAX_EVENTS_PER_DAY)?;
        range("reads.zipf_exponent", r.zipf_exponent, 1e-6, 20.0)?;
        range("reads.head_fraction", r.head_fraction, 0.0, 1.0)?;
        range("reads.range_fraction", r.range_fraction, 0.0, 1.0)?;
        if r.range_max_bytes == 0 {
            return Err(bad("reads.range_max_bytes", "must be at least 1".into()));
        }
        range(
            "reads.list_per_day",
            r.list_per_day,
            0.0,
            MAX_EVENTS_PER_DAY,
        )?;
        range("diurnal.amplitude", self.diurnal.amplitude, 0.0, 1.0)?;
        range("diurnal.peak_hour", self.diurnal.peak_hour, 0.0, 24.0)?;
        range("aging.half_life_days", self.aging.half_life_days, 0.0, 1e6)?;
        range("aging.floor", self.aging.floor, 1e-6, 1.0)?;
        let v = &self.viral;
        range("viral.events_per_day", v.events_per_day, 0.0, 1e6)?;
        range(
            "viral.reads_per_hour",
            v.reads_per_hour,
            0.0,
            MAX_EVENTS_PER_DAY / 24.0,
        )?;
        range(
            "viral.duration_hours",
            v.duration_hours,
            0.0,
            24.0 * MAX_DURATION_DAYS,
        )?;
        for job in &self.periodic {
            range(
                "periodic.period_days",
                job.period_days,
                1.0 / 24.0,
                MAX_DURATION_DAYS,
            )?;
            range(
                "periodic.offset_hours",
                job.offset_hours,
                0.0,
                24.0 * MAX_DURATION_DAYS,
            )?;
            range("periodic.fraction", job.fraction, 0.0, 1.0)?;
            range(
                "periodic.spread_hours",
                job.spread_hours,
                0.0,
                24.0 * job.period_days,
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
name = "t"
duration_days = 1.0
[objects]
initial = 10
size_median_bytes = 1000.0
size_sigma = 0.5
size_max_bytes = 100000
[reads]
per_day = 100.0
zipf_exponent = 1.0
"#;

    #[test]
    fn minimal_profile_gets_defaults() {
        let p = Profile::parse(MINIMAL, Path::new("<t>")).expect("valid");
        assert_eq!(p.objects.size_min_bytes, 1);
        assert_eq!(p.aging.floor, 1.0);
        assert_eq!(p.reads.range_max_bytes, 1 << 20);
        assert!(p.periodic.is_empty());
    }

    #[test]
    fn unknown_fields_and_bad_values_are_errors() {
        let typo = MINIMAL.replace("per_day = 100.0", "per_dya = 100.0");
        assert!(matches!(
            Profile::parse(&typo, Path::new("<t>")),
            Err(ProfileError::Parse { .. })
        ));
        let neg = MINIMAL.replace("zipf_exponent = 1.0", "zipf_exponent = -1.0");
        let err = Profile::parse(&neg, Path::new("<t>")).expect_err("negative exponent");
        assert!(err.to_string().contains("reads.zipf_exponent"), "{err}");
        let nan = MINIMAL.replace("size_sigma = 0.5", "size_sigma = nan");
        assert!(Profile::parse(&nan, Path::new("<t>")).is_err());
        let huge = MINIMAL.replace("initial = 10", "initial = 100000000000");
        assert!(Profile::parse(&huge, Path::new("<t>")).is_err());
    }

    #[test]
    fn shipped_profiles_are_valid() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles");
        for name in ["web.toml", "archive.toml", "mixed.toml"] {
            Profile::load(&dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
}
