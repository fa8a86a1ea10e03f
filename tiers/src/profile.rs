//! Tier profiles: the price and latency model of a storage class.
//!
//! The planner uses these numbers to decide where objects live; they are
//! list prices (USD, us-east-1) and rough latencies, not measurements.

use serde::{Deserialize, Serialize};

/// Bytes in one GB as cloud providers bill it (10^9).
const BYTES_PER_GB: f64 = 1_000_000_000.0;

/// Price and latency model of one storage class of one provider.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct TierProfile {
    /// Provider name, e.g. `"aws"`.
    pub provider: String,
    /// Provider's storage class name, e.g. `"STANDARD_IA"`.
    pub storage_class: String,
    /// Storage price in USD per GB-month.
    pub storage_gb_month: f64,
    /// Price in USD per 1000 PUT/POST/LIST requests.
    pub put_per_1k: f64,
    /// Price in USD per 1000 GET requests.
    pub get_per_1k: f64,
    /// Retrieval fee in USD per GB read.
    pub retrieval_per_gb: f64,
    /// Egress (data transfer out) in USD per GB.
    pub egress_per_gb: f64,
    /// Minimum billed storage duration in days (early deletes are billed
    /// for the remainder).
    pub min_storage_days: u32,
    /// Typical time to first byte of a GET, in milliseconds.
    pub first_byte_latency_ms: f64,
    /// Present for a class that moves objects between its own access tiers by itself, like S3
    /// Intelligent-Tiering: `storage_gb_month` is then the price of its frequent-access tier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_tiering: Option<AutoTiering>,
    /// Smallest size an object's storage (and early deletion) is billed at: S3 Standard-IA and Glacier Instant
    /// Retrieval bill an object under 128 KB as 128 KB. 0: billed as it is.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub min_billable_bytes: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// S3's minimum billable object size in Standard-IA and Glacier Instant Retrieval (128 KB).
pub const S3_MIN_BILLABLE_BYTES: u64 = 128 * 1024;

/// How a self-tiering storage class bills (S3 Intelligent-Tiering): an object not accessed for
/// `infrequent_after_days` is billed at `infrequent_gb_month`, after `archive_after_days` at
/// `archive_gb_month`; any access brings it back to the frequent price. No retrieval fee, no minimum
/// duration; a monitoring fee per object of at least `min_monitored_bytes` (smaller objects are never
/// tiered and pay no fee).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AutoTiering {
    pub infrequent_gb_month: f64,
    pub archive_gb_month: f64,
    pub infrequent_after_days: f64,
    pub archive_after_days: f64,
    /// USD per 1000 monitored objects per month.
    pub monitoring_per_1k_objects_month: f64,
    pub min_monitored_bytes: u64,
    /// First-byte latency of the archive tier when it is slower than the class's own
    /// (`TierProfile::first_byte_latency_ms`); `None`: the same (S3's Archive Instant Access answers in
    /// milliseconds too). The planner checks a latency SLA against the slowest tier an object may age into.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive_latency_ms: Option<f64>,
}

impl AutoTiering {
    /// The storage price (USD per GB-month) of an object idle for `idle_days`, not counting monitoring.
    pub fn rate_after_idle(&self, frequent_gb_month: f64, idle_days: f64) -> f64 {
        if idle_days >= self.archive_after_days {
            self.archive_gb_month
        } else if idle_days >= self.infrequent_after_days {
            self.infrequent_gb_month
        } else {
            frequent_gb_month
        }
    }

    /// Expected storage (USD per GB) over the next `days` of an object idle for `idle_days` now and read as a
    /// Poisson stream of `reads_per_day` (each read, as any access, puts it back in the frequent tier).
    ///
    /// At `t` days from now the object is idle at least `x` days if no read came in the last `x` days and, while
    /// `t < x`, its clock was already at `x − t`: with probability `e^(−r·x)` for `t ≥ x`, `e^(−r·t)` for
    /// `x − idle_days ≤ t < x`, else 0. The expected price at `t` is the frequent one less what the tiers save
    /// with those probabilities. With no reads, the object ages through the tiers from `idle_days`.
    pub fn expected_storage_gb(
        &self,
        frequent_gb_month: f64,
        idle_days: f64,
        days: f64,
        reads_per_day: f64,
    ) -> f64 {
        let (d, c, r) = (days.max(0.0), idle_days.max(0.0), reads_per_day.max(0.0));
        // Days among the next `d` on which the object is idle at least `x` days, in expectation.
        let idle_at_least = |x: f64| {
            let (lo, hi) = ((x - c).max(0.0), x.min(d));
            let before = if hi <= lo {
                0.0
            } else if r * (hi - lo) < 1e-9 {
                (hi - lo) * (-r * lo).exp()
            } else {
                ((-r * lo).exp() - (-r * hi).exp()) / r
            };
            before + (d - x).max(0.0) * (-r * x).exp()
        };
        (d * frequent_gb_month
            - idle_at_least(self.infrequent_after_days)
                * (frequent_gb_month - self.infrequent_gb_month)
            - idle_at_least(self.archive_after_days)
                * (self.infrequent_gb_month - self.archive_gb_month))
            / 30.0
    }
}

impl TierProfile {
    /// The slowest first-byte latency an object here may see: the class's own, or its archive tier's when it
    /// self-tiers into a slower one ([`AutoTiering::archive_latency_ms`]). What a latency SLA is checked against.
    pub fn slowest_first_byte_ms(&self) -> f64 {
        let archive = self
            .auto_tiering
            .as_ref()
            .and_then(|a| a.archive_latency_ms);
        self.first_byte_latency_ms.max(archive.unwrap_or(0.0))
    }

    /// AWS S3 Standard.
    pub fn s3_standard() -> TierProfile {
        TierProfile {
            provider: "aws".into(),
            storage_class: "STANDARD".into(),
            storage_gb_month: 0.023,
            put_per_1k: 0.005,
            get_per_1k: 0.0004,
            retrieval_per_gb: 0.0,
            egress_per_gb: 0.09,
            min_storage_days: 0,
            first_byte_latency_ms: 20.0,
            auto_tiering: None,
            min_billable_bytes: 0,
        }
    }

    /// AWS S3 Standard-Infrequent Access.
    pub fn s3_standard_ia() -> TierProfile {
        TierProfile {
            provider: "aws".into(),
            storage_class: "STANDARD_IA".into(),
            storage_gb_month: 0.0125,
            put_per_1k: 0.01,
            get_per_1k: 0.001,
            retrieval_per_gb: 0.01,
            egress_per_gb: 0.09,
            min_storage_days: 30,
            first_byte_latency_ms: 20.0,
            auto_tiering: None,
            min_billable_bytes: S3_MIN_BILLABLE_BYTES,
        }
    }

    /// AWS S3 Glacier Instant Retrieval.
    pub fn s3_glacier_ir() -> TierProfile {
        TierProfile {
            provider: "aws".into(),
            storage_class: "GLACIER_IR".into(),
            storage_gb_month: 0.004,
            put_per_1k: 0.02,
            get_per_1k: 0.01,
            retrieval_per_gb: 0.03,
            egress_per_gb: 0.09,
            min_storage_days: 90,
            first_byte_latency_ms: 50.0,
            auto_tiering: None,
            min_billable_bytes: S3_MIN_BILLABLE_BYTES,
        }
    }

    /// AWS S3 Intelligent-Tiering (frequent, infrequent after 30 idle days, archive instant after 90;
    /// monitoring $0.0025 per 1000 objects of at least 128 KB per month; requests at Standard's prices).
    pub fn s3_intelligent_tiering() -> TierProfile {
        TierProfile {
            provider: "aws".into(),
            storage_class: "INTELLIGENT_TIERING".into(),
            storage_gb_month: 0.023,
            put_per_1k: 0.005,
            get_per_1k: 0.0004,
            retrieval_per_gb: 0.0,
            egress_per_gb: 0.09,
            min_storage_days: 0,
            first_byte_latency_ms: 20.0,
            auto_tiering: Some(AutoTiering {
                infrequent_gb_month: 0.0125,
                archive_gb_month: 0.004,
                infrequent_after_days: 30.0,
                archive_after_days: 90.0,
                monitoring_per_1k_objects_month: 0.0025,
                min_monitored_bytes: 128 * 1024,
                archive_latency_ms: None,
            }),
            min_billable_bytes: 0,
        }
    }

    /// Cost in USD of storing one object of `bytes` for one month in this class (GB = 10^9 bytes; at least
    /// [`TierProfile::min_billable_bytes`]).
    pub fn monthly_storage_cost(&self, bytes: u64) -> f64 {
        self.billable_bytes(bytes) as f64 / BYTES_PER_GB * self.storage_gb_month
    }

    /// The size an object of `bytes` is billed at here: at least [`TierProfile::min_billable_bytes`].
    pub fn billable_bytes(&self, bytes: u64) -> u64 {
        bytes.max(self.min_billable_bytes)
    }

    /// What one object of `bytes` costs per month here after `idle_days` without an access: the
    /// [`monthly_storage_cost`](Self::monthly_storage_cost), except in a self-tiering class, which bills the
    /// access tier the idle time has reached plus the monitoring fee (objects under its minimum size stay in
    /// the frequent tier and pay no fee).
    pub fn object_monthly_cost(&self, bytes: u64, idle_days: f64) -> f64 {
        match &self.auto_tiering {
            Some(a) if bytes >= a.min_monitored_bytes => {
                bytes as f64 / BYTES_PER_GB * a.rate_after_idle(self.storage_gb_month, idle_days)
                    + a.monitoring_per_1k_objects_month / 1000.0
            }
            _ => self.monthly_storage_cost(bytes),
        }
    }

    /// The price of one PUT (or COPY, POST, LIST) request.
    pub fn put_request(&self) -> f64 {
        self.put_per_1k / 1000.0
    }

    /// The price of one GET (or HEAD) request.
    pub fn get_request(&self) -> f64 {
        self.get_per_1k / 1000.0
    }

    /// The retrieval fee of reading `bytes`.
    pub fn retrieval(&self, bytes: u64) -> f64 {
        bytes as f64 / BYTES_PER_GB * self.retrieval_per_gb
    }

    /// The early-deletion fee of removing `bytes` that were stored here for `stayed_days`: the storage of
    /// the rest of the minimum duration, at the class's (frequent) price. Zero once the minimum is served.
    pub fn early_deletion(&self, bytes: u64, stayed_days: f64) -> f64 {
        let left = f64::from(self.min_storage_days) - stayed_days.max(0.0);
        if left <= 0.0 {
            0.0
        } else {
            self.monthly_storage_cost(bytes) * left / 30.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_have_expected_prices() {
        let std = TierProfile::s3_standard();
        let ia = TierProfile::s3_standard_ia();
        let gir = TierProfile::s3_glacier_ir();
        assert_eq!(std.storage_gb_month, 0.023);
        assert_eq!(ia.min_storage_days, 30);
        assert_eq!(gir.min_storage_days, 90);
        assert_eq!(gir.retrieval_per_gb, 0.03);
        for p in [&std, &ia, &gir] {
            assert_eq!(p.provider, "aws");
            assert_eq!(p.egress_per_gb, 0.09);
        }
        assert!(std.storage_gb_month > ia.storage_gb_month);
        assert!(ia.storage_gb_month > gir.storage_gb_month);
    }

    /// The expected storage of a self-tiering object read as a Poisson stream: without reads, the idle path; with
    /// reads, between that and the frequent price; far from now, the stationary mix (the idle age of a Poisson
    /// stream at a random time is exponential: e.g. at one read per 30 days, `1 − e^−1` of the time frequent).
    #[test]
    fn self_tiering_storage_under_poisson_reads() {
        let it = TierProfile::s3_intelligent_tiering()
            .auto_tiering
            .expect("self-tiering");
        let f = 0.023;
        let close = |a: f64, b: f64| assert!((a - b).abs() < 1e-9 * b.abs().max(1.0), "{a} vs {b}");
        // Without reads, it ages through the tiers (days at each price, per month).
        for (idle, days, want) in [
            (0.0, 90.0, 30.0 * f + 60.0 * 0.0125),
            (10.0, 90.0, 20.0 * f + 60.0 * 0.0125 + 10.0 * 0.004),
            (45.0, 30.0, 30.0 * 0.0125),
            (100.0, 180.0, 180.0 * 0.004),
            (0.0, 20.0, 20.0 * f),
        ] {
            close(it.expected_storage_gb(f, idle, days, 0.0), want / 30.0);
        }
        // Reads only make it dearer, never more than the frequent price.
        let mut last = it.expected_storage_gb(f, 20.0, 180.0, 0.0);
        for r in [0.001, 0.01, 0.1, 1.0] {
            let c = it.expected_storage_gb(f, 20.0, 180.0, r);
            assert!(c > last && c <= f * 180.0 / 30.0 + 1e-12, "{r}: {c}");
            last = c;
        }
        close(it.expected_storage_gb(f, 0.0, 90.0, 1e6), f * 3.0);
        // Far from now the mix is stationary: the last 30 of 10,000 days at one read per 30 days.
        let r = 1.0 / 30.0;
        let tail = it.expected_storage_gb(f, 0.0, 10_030.0, r)
            - it.expected_storage_gb(f, 0.0, 10_000.0, r);
        let (p30, p90) = ((-1.0f64).exp(), (-3.0f64).exp());
        let stationary =
            f * (1.0 - p30) + it.infrequent_gb_month * (p30 - p90) + it.archive_gb_month * p90;
        assert!((tail - stationary).abs() < 1e-9, "{tail} vs {stationary}");
    }

    #[test]
    fn monthly_storage_cost_is_linear_in_bytes() {
        let p = TierProfile::s3_standard();
        assert_eq!(p.monthly_storage_cost(0), 0.0);
        let one_gb = p.monthly_storage_cost(1_000_000_000);
        assert!((one_gb - 0.023).abs() < 1e-12);
        let ten_gb = p.monthly_storage_cost(10_000_000_000);
        assert!((ten_gb - 0.23).abs() < 1e-12);
    }

    #[test]
    fn standard_ia_and_glacier_ir_bill_small_objects_as_128_kb() {
        let kb = |n: u64| n * 1024;
        for p in [TierProfile::s3_standard_ia(), TierProfile::s3_glacier_ir()] {
            assert_eq!(p.billable_bytes(kb(4)), kb(128), "{}", p.storage_class);
            assert_eq!(p.billable_bytes(kb(500)), kb(500));
            assert_eq!(
                p.monthly_storage_cost(kb(4)),
                p.monthly_storage_cost(kb(128))
            );
            assert_eq!(p.early_deletion(kb(4), 1.0), p.early_deletion(kb(128), 1.0));
        }
        let std = TierProfile::s3_standard();
        assert!(std.monthly_storage_cost(kb(4)) < std.monthly_storage_cost(kb(128)));
        assert_eq!(
            TierProfile::s3_intelligent_tiering().billable_bytes(kb(4)),
            kb(4)
        );
    }

    #[test]
    fn charges_of_requests_retrieval_and_early_deletion() {
        let ia = TierProfile::s3_standard_ia();
        assert!((ia.put_request() - 0.00001).abs() < 1e-15);
        assert!((ia.get_request() - 0.000001).abs() < 1e-15);
        assert!((ia.retrieval(2_000_000_000) - 0.02).abs() < 1e-12);
        // 1 GB leaving IA after 10 of its 30 days: 20 days billed.
        assert!((ia.early_deletion(1_000_000_000, 10.0) - 0.0125 * 20.0 / 30.0).abs() < 1e-12);
        assert_eq!(ia.early_deletion(1_000_000_000, 30.0), 0.0);
        assert_eq!(
            TierProfile::s3_standard().early_deletion(1_000_000_000, 0.0),
            0.0
        );
    }

    #[test]
    fn self_tiering_bills_by_idle_time_and_monitors_large_objects_only() {
        let it = TierProfile::s3_intelligent_tiering();
        let gb = 1_000_000_000;
        let fee = 0.0025 / 1000.0;
        assert!((it.object_monthly_cost(gb, 0.0) - (0.023 + fee)).abs() < 1e-12);
        assert!((it.object_monthly_cost(gb, 45.0) - (0.0125 + fee)).abs() < 1e-12);
        assert!((it.object_monthly_cost(gb, 120.0) - (0.004 + fee)).abs() < 1e-12);
        // Under 128 KB: frequent price whatever the idle time, no fee.
        let small = 100 * 1024;
        assert_eq!(
            it.object_monthly_cost(small, 120.0),
            it.monthly_storage_cost(small)
        );
        let std = TierProfile::s3_standard();
        assert_eq!(
            std.object_monthly_cost(gb, 120.0),
            std.monthly_storage_cost(gb)
        );
    }

    #[test]
    fn serde_round_trip() {
        let p = TierProfile::s3_glacier_ir();
        let json = serde_json::to_string(&p).expect("serialise");
        let back: TierProfile = serde_json::from_str(&json).expect("deserialise");
        assert_eq!(p, back);
    }
}
