//! The price table (tiers with [`TierProfile`] fields) and the per-policy
//! price model derived from it.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use tiers::TierProfile;

use super::time::{DAY_MS, MONTH_MS};

/// Bytes in a billing GB (10^9).
pub const BYTES_PER_GB: f64 = 1e9;
/// S3 Intelligent-Tiering's monitoring and automation fee: USD per
/// object-month for objects of at least [`IT_MIN_MONITORED_BYTES`].
pub const IT_MONITORING_PER_1K_OBJECT_MONTHS: f64 = 0.0025;
/// Objects smaller than this (128 KB) are never tiered nor charged the
/// monitoring fee by S3 Intelligent-Tiering, and S3 Lifecycle does not
/// transition them by default.
pub const IT_MIN_MONITORED_BYTES: u64 = 128 * 1024;

/// Errors loading a price table.
#[derive(Debug, thiserror::Error)]
pub enum PriceError {
    /// The file could not be read.
    #[error("reading price table {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The TOML did not parse into `[[tiers]]` of TierProfile fields.
    #[error("parsing price table {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The TOML error.
        source: toml::de::Error,
    },
    /// A value is out of its domain.
    #[error("price table {path}: {problem}")]
    Invalid {
        /// The file (or `<built-in>`).
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
}

/// Tiers ordered hot to cold. The built-in policies use them by position:
/// tier 0 is where objects are written (Standard), tier 1 the warm tier
/// (Standard-IA: age rules' 30-day target, Intelligent-Tiering's
/// Infrequent Access prices) and tier 2 the cold tier (Glacier IR: the
/// 90-day target, Archive Instant Access prices). Further tiers are only
/// used by the oracle (and any registered policy that asks for them).
#[derive(Clone, Debug, PartialEq)]
pub struct PriceTable {
    /// The tiers, hot first.
    pub tiers: Vec<TierProfile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceFile {
    tiers: Vec<TierProfile>,
}

impl Default for PriceTable {
    /// `s3_standard()`, `s3_standard_ia()`, `s3_glacier_ir()`.
    fn default() -> Self {
        PriceTable {
            tiers: vec![
                TierProfile::s3_standard(),
                TierProfile::s3_standard_ia(),
                TierProfile::s3_glacier_ir(),
            ],
        }
    }
}

impl PriceTable {
    /// Loads `[[tiers]]` tables with every [`TierProfile`] field.
    pub fn load(path: &Path) -> Result<PriceTable, PriceError> {
        let text = std::fs::read_to_string(path).map_err(|source| PriceError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        PriceTable::parse(&text, path)
    }

    /// Parses price-table TOML; `origin` names it in errors.
    pub fn parse(text: &str, origin: &Path) -> Result<PriceTable, PriceError> {
        let f: PriceFile = toml::from_str(text).map_err(|source| PriceError::Parse {
            path: origin.to_path_buf(),
            source,
        })?;
        let t = PriceTable { tiers: f.tiers };
        t.validate(origin)?;
        Ok(t)
    }

    /// At least 3 and at most 16 tiers; every price and latency finite and
    /// non-negative.
    pub fn validate(&self, origin: &Path) -> Result<(), PriceError> {
        let bad = |problem: String| PriceError::Invalid {
            path: origin.to_path_buf(),
            problem,
        };
        if self.tiers.len() < 3 || self.tiers.len() > 16 {
            return Err(bad(format!(
                "has {} tiers; the built-in policies need at least 3 (hot, warm, cold), at most 16",
                self.tiers.len()
            )));
        }
        for (i, t) in self.tiers.iter().enumerate() {
            let fields = [
                ("storage_gb_month", t.storage_gb_month),
                ("put_per_1k", t.put_per_1k),
                ("get_per_1k", t.get_per_1k),
                ("retrieval_per_gb", t.retrieval_per_gb),
                ("egress_per_gb", t.egress_per_gb),
                ("first_byte_latency_ms", t.first_byte_latency_ms),
            ];
            for (name, v) in fields {
                if !(v.is_finite() && v >= 0.0) {
                    return Err(bad(format!(
                        "tier {i} ({}): {name} is {v}",
                        t.storage_class
                    )));
                }
            }
        }
        Ok(())
    }
}

/// Prices of one tier as a policy is billed for it, in USD per unit.
#[derive(Clone, Debug, PartialEq)]
pub struct TierPrice {
    /// Display name (the storage class).
    pub name: String,
    /// USD per byte per millisecond stored.
    pub storage_per_byte_ms: f64,
    /// USD per PUT (also LIST, for tier 0).
    pub put: f64,
    /// USD per GET or HEAD.
    pub get: f64,
    /// USD per byte read by a GET.
    pub retrieval_per_byte: f64,
    /// USD per transition into this tier.
    pub transition_in: f64,
    /// Minimum billed stay; leaving earlier is billed for the remainder.
    pub min_storage_ms: u64,
    /// First-byte latency of a GET.
    pub latency_ms: f64,
    /// An object's storage (and early exit) is billed at least at this size (S3 Standard-IA and Glacier IR:
    /// 128 KB).
    pub min_billable_bytes: u64,
    /// Tiers of one self-tiering class share a group (> 0): moving between them is free (the class does it
    /// by itself), and objects in them pay the model's monitoring fee. 0: an ordinary storage class.
    pub group: u8,
}

/// How one policy is billed: per-tier prices plus a per-object
/// monitoring fee (only Intelligent-Tiering has one).
#[derive(Clone, Debug, PartialEq)]
pub struct PriceModel {
    /// The tiers the policy may place objects in, hot first.
    pub tiers: Vec<TierPrice>,
    /// USD per object per millisecond for objects of at least
    /// `monitoring_min_bytes` (0 = no fee).
    pub monitoring_per_object_ms: f64,
    /// Size threshold of the monitoring fee.
    pub monitoring_min_bytes: u64,
    /// USD per LIST request.
    pub list: f64,
    /// LIST and HEAD are answered from a catalog in front of the storage (Strata's gateway), so no storage
    /// request is billed for them. `GET /admin/cost` after `strata-loadtest replay` shows the gateway pays none.
    pub catalog_metadata: bool,
    /// Moves are copies (Strata's mover, and the oracle that bounds it): leaving a tier reads the object from
    /// it, paying its GET and retrieval fee, as the gateway's bill charges a mover copy. Off for S3 Lifecycle
    /// transitions and a self-tiering class's own moves, which AWS bills without a retrieval fee.
    pub copy_moves: bool,
}

impl PriceModel {
    /// Plain storage classes: each tier billed at its own prices;
    /// transitions cost the destination's PUT price (as S3 Lifecycle
    /// bills them); early exits are billed up to `min_storage_days`.
    pub fn storage_classes(table: &PriceTable) -> PriceModel {
        let tiers = table
            .tiers
            .iter()
            .map(|t| TierPrice {
                name: t.storage_class.clone(),
                storage_per_byte_ms: t.storage_gb_month / BYTES_PER_GB / MONTH_MS as f64,
                put: t.put_request(),
                get: t.get_request(),
                retrieval_per_byte: t.retrieval(1),
                transition_in: t.put_request(),
                min_storage_ms: u64::from(t.min_storage_days) * DAY_MS,
                latency_ms: t.first_byte_latency_ms,
                min_billable_bytes: t.min_billable_bytes,
                group: 0,
            })
            .collect();
        PriceModel {
            tiers,
            monitoring_per_object_ms: 0.0,
            monitoring_min_bytes: u64::MAX,
            list: table.tiers.first().map_or(0.0, |t| t.put_per_1k / 1000.0),
            catalog_metadata: false,
            copy_moves: false,
        }
    }

    /// S3 Intelligent-Tiering as AWS bills it: three access tiers with the
    /// storage prices of table tiers 0, 1, 2 (Frequent, Infrequent, Archive
    /// Instant) and their latencies; requests at tier 0's prices whatever
    /// the access tier; no retrieval fees, no transition fees, no minimum
    /// duration; $0.0025 per 1,000 monitored objects per month, for objects
    /// of at least 128 KB only.
    pub fn intelligent_tiering(table: &PriceTable) -> PriceModel {
        let base = PriceModel::storage_classes(table);
        let hot = base.tiers[0].clone();
        let tiers = base.tiers[..3]
            .iter()
            .zip(["IT_FREQUENT", "IT_INFREQUENT", "IT_ARCHIVE_INSTANT"])
            .map(|(t, name)| TierPrice {
                name: name.to_string(),
                storage_per_byte_ms: t.storage_per_byte_ms,
                put: hot.put,
                get: hot.get,
                retrieval_per_byte: 0.0,
                transition_in: 0.0,
                min_storage_ms: 0,
                latency_ms: t.latency_ms,
                min_billable_bytes: 0,
                group: 1,
            })
            .collect();
        PriceModel {
            tiers,
            monitoring_per_object_ms: IT_MONITORING_PER_1K_OBJECT_MONTHS / 1000.0 / MONTH_MS as f64,
            monitoring_min_bytes: IT_MIN_MONITORED_BYTES,
            list: base.list,
            catalog_metadata: false,
            copy_moves: false,
        }
    }

    /// The plain storage classes of `table` followed by Intelligent-Tiering's three access tiers (see
    /// [`PriceModel::intelligent_tiering`]) as one more choice: tiers `0..n` are the table's, `n..n + 3` are IT
    /// Frequent, Infrequent and Archive Instant (group 1, monitored). Moving into IT from a plain class costs a
    /// PUT at tier 0's price (a copy or a lifecycle transition); moving between IT's tiers is free.
    pub fn with_intelligent_tiering(table: &PriceTable) -> PriceModel {
        let mut m = PriceModel::storage_classes(table);
        let it = PriceModel::intelligent_tiering(table);
        let put = m.tiers[0].put;
        m.tiers.extend(it.tiers.into_iter().map(|mut t| {
            t.transition_in = put;
            t
        }));
        m.monitoring_per_object_ms = it.monitoring_per_object_ms;
        m.monitoring_min_bytes = it.monitoring_min_bytes;
        m
    }

    /// Whether an object of `size` bytes in `tier` pays the monitoring fee.
    pub fn monitored(&self, tier: usize, size: u64) -> bool {
        self.monitoring_per_object_ms > 0.0
            && size >= self.monitoring_min_bytes
            && self.tiers.get(tier).is_some_and(|t| t.group > 0)
    }

    /// What reading an object of `size` bytes out of `tier` for a move costs: its GET and retrieval fee when
    /// moves are copies ([`PriceModel::copy_moves`]), else nothing.
    pub fn copy_out(&self, tier: usize, size: u64) -> f64 {
        if !self.copy_moves {
            return 0.0;
        }
        let t = &self.tiers[tier];
        t.get + t.retrieval_per_byte * size as f64
    }

    /// The size an object of `size` bytes is billed at in `tier` ([`TierPrice::min_billable_bytes`]).
    pub fn billable(&self, tier: usize, size: u64) -> u64 {
        size.max(self.tiers[tier].min_billable_bytes)
    }

    /// Early-exit fee of leaving tier `tier` at `now` after entering at
    /// `entered`, for an object of `size` bytes (billed at least at the tier's minimum size).
    pub fn early_fee(&self, tier: usize, size: u64, entered: u64, now: u64) -> f64 {
        let t = &self.tiers[tier];
        let stayed = now.saturating_sub(entered);
        if stayed >= t.min_storage_ms {
            0.0
        } else {
            t.storage_per_byte_ms
                * self.billable(tier, size) as f64
                * (t.min_storage_ms - stayed) as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_table_is_the_three_aws_presets() {
        let t = PriceTable::default();
        assert_eq!(t.tiers[1].storage_class, "STANDARD_IA");
        let m = PriceModel::storage_classes(&t);
        // 1 GB for 30 days in Standard = $0.023.
        let month = m.tiers[0].storage_per_byte_ms * 1e9 * MONTH_MS as f64;
        assert!((month - 0.023).abs() < 1e-12);
        assert_eq!(m.tiers[2].min_storage_ms, 90 * DAY_MS);
        assert_eq!(m.tiers[1].transition_in, 0.01 / 1000.0);
        assert_eq!(m.list, 0.005 / 1000.0);
        // Leaving IA after 10 days: 20 days billed.
        let fee = m.early_fee(1, 1_000_000_000, 0, 10 * DAY_MS);
        assert!((fee - 0.0125 * 20.0 / 30.0).abs() < 1e-12);
        assert_eq!(m.early_fee(1, 1_000_000_000, 0, 30 * DAY_MS), 0.0);
    }

    #[test]
    fn shipped_price_file_matches_the_presets_but_latency() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/prices-slow-cold.toml");
        let t = PriceTable::load(&path).expect("shipped price file");
        let d = PriceTable::default();
        for (a, b) in t.tiers.iter().zip(&d.tiers) {
            let mut a = a.clone();
            a.first_byte_latency_ms = b.first_byte_latency_ms;
            assert_eq!(&a, b);
        }
        assert_eq!(t.tiers[2].first_byte_latency_ms, 150.0);
    }

    #[test]
    fn intelligent_tiering_model() {
        let m = PriceModel::intelligent_tiering(&PriceTable::default());
        assert_eq!(m.tiers.len(), 3);
        assert!(
            m.tiers
                .iter()
                .all(|t| t.retrieval_per_byte == 0.0 && t.min_storage_ms == 0)
        );
        assert!(
            m.tiers
                .iter()
                .all(|t| t.get == 0.0004 / 1000.0 && t.transition_in == 0.0)
        );
        let per_month = m.monitoring_per_object_ms * MONTH_MS as f64 * 1000.0;
        assert!((per_month - 0.0025).abs() < 1e-15);
        assert_eq!(m.monitoring_min_bytes, 131_072);
    }

    #[test]
    fn price_file_parses_and_validates() {
        let text = r#"
[[tiers]]
provider = "x"
storage_class = "HOT"
storage_gb_month = 0.02
put_per_1k = 0.005
get_per_1k = 0.0004
retrieval_per_gb = 0.0
egress_per_gb = 0.0
min_storage_days = 0
first_byte_latency_ms = 5.0

[[tiers]]
provider = "x"
storage_class = "WARM"
storage_gb_month = 0.01
put_per_1k = 0.01
get_per_1k = 0.001
retrieval_per_gb = 0.01
egress_per_gb = 0.0
min_storage_days = 30
first_byte_latency_ms = 80.0

[[tiers]]
provider = "x"
storage_class = "COLD"
storage_gb_month = 0.002
put_per_1k = 0.02
get_per_1k = 0.01
retrieval_per_gb = 0.03
egress_per_gb = 0.0
min_storage_days = 90
first_byte_latency_ms = 400.0
"#;
        let t = PriceTable::parse(text, Path::new("<t>")).expect("valid");
        assert_eq!(t.tiers[2].first_byte_latency_ms, 400.0);
        let two = text
            .split("[[tiers]]")
            .take(3)
            .collect::<Vec<_>>()
            .join("[[tiers]]");
        let err = PriceTable::parse(&two, Path::new("<t>")).expect_err("two tiers");
        assert!(err.to_string().contains("at least 3"), "{err}");
        let neg = text.replace("storage_gb_month = 0.002", "storage_gb_month = -1.0");
        assert!(PriceTable::parse(&neg, Path::new("<t>")).is_err());
        let missing = text.replace("first_byte_latency_ms = 5.0", "");
        assert!(matches!(
            PriceTable::parse(&missing, Path::new("<t>")),
            Err(PriceError::Parse { .. })
        ));
    }
}
