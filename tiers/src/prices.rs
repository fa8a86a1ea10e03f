//! The default price table: named [`TierProfile`] presets with the public
//! list prices of AWS S3, Azure Blob Storage and Google Cloud Storage.
//!
//! Prices are USD list prices for the first pricing band in a US region
//! (AWS us-east-1; Azure East US, LRS, flat namespace; GCS us-central1
//! regional), as published by the providers: storage per GB-month, write
//! and read requests per 1000 (Azure publishes per 10 000: divided by ten
//! here), retrieval per GB, the minimum billed storage duration, and
//! internet / cross-cloud egress per GB (AWS 0.09, Azure 0.087, GCP 0.12,
//! first band after any free allowance). "GB" is 10^9 bytes, as in
//! [`TierProfile::monthly_storage_cost`]. First-byte latencies are rough
//! planning figures, not measurements.
//!
//! The `storage_class` of each preset is the provider's own name of the
//! class, which is also what a store sends on writes (`storage_class` in
//! `backends::StoreSpec`): `STANDARD_IA`, `Cool`, `NEARLINE`, ...

use crate::profile::TierProfile;

/// Egress to the internet / another cloud, USD per GB.
pub const AWS_EGRESS_PER_GB: f64 = 0.09;
/// Egress to the internet / another cloud, USD per GB.
pub const AZURE_EGRESS_PER_GB: f64 = 0.087;
/// Egress to the internet / another cloud, USD per GB.
pub const GCP_EGRESS_PER_GB: f64 = 0.12;

/// Every preset name, hot to cold per provider.
const NAMES: [&str; 10] = [
    "aws-s3-standard",
    "aws-s3-intelligent-tiering",
    "aws-s3-standard-ia",
    "aws-s3-glacier-ir",
    "azure-hot",
    "azure-cool",
    "azure-cold",
    "gcs-standard",
    "gcs-nearline",
    "gcs-coldline",
];

/// Older names accepted by [`preset`] (the gateway's first configuration
/// format): `s3-standard`, `s3-standard-ia`, `s3-glacier-ir`.
const ALIASES: [(&str, &str); 3] = [
    ("s3-standard", "aws-s3-standard"),
    ("s3-standard-ia", "aws-s3-standard-ia"),
    ("s3-glacier-ir", "aws-s3-glacier-ir"),
];

/// The names [`preset`] knows, hot to cold per provider (aliases not
/// included).
pub fn preset_names() -> &'static [&'static str] {
    &NAMES
}

/// The preset called `name` (one of [`preset_names`], or an alias
/// `s3-standard` / `s3-standard-ia` / `s3-glacier-ir`); `None` if unknown.
pub fn preset(name: &str) -> Option<TierProfile> {
    let name = ALIASES
        .iter()
        .find(|(alias, _)| *alias == name)
        .map_or(name, |(_, target)| target);
    Some(match name {
        "aws-s3-standard" => TierProfile::s3_standard(),
        "aws-s3-standard-ia" => TierProfile::s3_standard_ia(),
        "aws-s3-glacier-ir" => TierProfile::s3_glacier_ir(),
        "aws-s3-intelligent-tiering" => TierProfile::s3_intelligent_tiering(),
        "azure-hot" => azure("Hot", 0.018, 0.005, 0.0004, 0.0, 0, 20.0),
        "azure-cool" => azure("Cool", 0.010, 0.010, 0.001, 0.01, 30, 30.0),
        "azure-cold" => azure("Cold", 0.0036, 0.018, 0.010, 0.03, 90, 40.0),
        "gcs-standard" => gcs("STANDARD", 0.020, 0.005, 0.0004, 0.0, 0, 20.0),
        "gcs-nearline" => gcs("NEARLINE", 0.010, 0.010, 0.001, 0.01, 30, 30.0),
        "gcs-coldline" => gcs("COLDLINE", 0.004, 0.020, 0.010, 0.02, 90, 40.0),
        _ => return None,
    })
}

/// Every preset, in [`preset_names`] order.
pub fn presets() -> Vec<(&'static str, TierProfile)> {
    NAMES
        .iter()
        .filter_map(|name| preset(name).map(|p| (*name, p)))
        .collect()
}

/// An Azure Blob access tier. Write operations (Put Blob, Put Block, List)
/// and read operations per 1000.
fn azure(
    tier: &str,
    storage: f64,
    write_per_1k: f64,
    read_per_1k: f64,
    retrieval: f64,
    min_days: u32,
    latency_ms: f64,
) -> TierProfile {
    TierProfile {
        provider: "azure".into(),
        storage_class: tier.into(),
        storage_gb_month: storage,
        put_per_1k: write_per_1k,
        get_per_1k: read_per_1k,
        retrieval_per_gb: retrieval,
        egress_per_gb: AZURE_EGRESS_PER_GB,
        min_storage_days: min_days,
        first_byte_latency_ms: latency_ms,
        auto_tiering: None,
        min_billable_bytes: 0,
    }
}

/// A GCS storage class. Class A operations (writes, lists) and class B
/// operations (reads) per 1000.
fn gcs(
    class: &str,
    storage: f64,
    class_a_per_1k: f64,
    class_b_per_1k: f64,
    retrieval: f64,
    min_days: u32,
    latency_ms: f64,
) -> TierProfile {
    TierProfile {
        provider: "gcp".into(),
        storage_class: class.into(),
        storage_gb_month: storage,
        put_per_1k: class_a_per_1k,
        get_per_1k: class_b_per_1k,
        retrieval_per_gb: retrieval,
        egress_per_gb: GCP_EGRESS_PER_GB,
        min_storage_days: min_days,
        first_byte_latency_ms: latency_ms,
        auto_tiering: None,
        min_billable_bytes: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_resolves_and_unknown_does_not() {
        for name in preset_names() {
            let p = preset(name).unwrap_or_else(|| panic!("{name} missing"));
            assert!(p.storage_gb_month > 0.0, "{name}");
            assert!(p.egress_per_gb > 0.0, "{name}");
        }
        assert_eq!(presets().len(), preset_names().len());
        assert!(preset("diamond").is_none());
        assert!(preset("").is_none());
    }

    #[test]
    fn aliases_and_aws_presets_match_the_constructors() {
        assert_eq!(preset("s3-standard"), Some(TierProfile::s3_standard()));
        assert_eq!(preset("aws-s3-standard"), Some(TierProfile::s3_standard()));
        assert_eq!(
            preset("s3-standard-ia"),
            Some(TierProfile::s3_standard_ia())
        );
        assert_eq!(preset("s3-glacier-ir"), Some(TierProfile::s3_glacier_ir()));
        assert!(
            !preset_names().contains(&"s3-standard"),
            "aliases not listed"
        );
    }

    #[test]
    fn list_prices_from_the_issue() {
        let get = |n: &str| preset(n).expect(n);
        assert_eq!(get("azure-hot").storage_gb_month, 0.018);
        assert_eq!(get("azure-cool").storage_gb_month, 0.010);
        assert_eq!(get("azure-cold").storage_gb_month, 0.0036);
        assert_eq!(get("gcs-standard").storage_gb_month, 0.020);
        assert_eq!(get("gcs-nearline").storage_gb_month, 0.010);
        assert_eq!(get("gcs-coldline").storage_gb_month, 0.004);
        assert_eq!(get("azure-cool").min_storage_days, 30);
        assert_eq!(get("azure-cold").min_storage_days, 90);
        assert_eq!(get("gcs-nearline").min_storage_days, 30);
        assert_eq!(get("gcs-coldline").min_storage_days, 90);
        assert_eq!(get("aws-s3-standard").egress_per_gb, 0.09);
        assert_eq!(get("azure-hot").egress_per_gb, 0.087);
        assert_eq!(get("gcs-standard").egress_per_gb, 0.12);
    }

    #[test]
    fn colder_is_cheaper_to_store_and_dearer_to_touch() {
        for tiers in [
            ["aws-s3-standard", "aws-s3-standard-ia", "aws-s3-glacier-ir"],
            ["azure-hot", "azure-cool", "azure-cold"],
            ["gcs-standard", "gcs-nearline", "gcs-coldline"],
        ] {
            let p: Vec<TierProfile> = tiers.iter().map(|n| preset(n).expect("preset")).collect();
            for w in p.windows(2) {
                assert!(w[0].storage_gb_month > w[1].storage_gb_month, "{tiers:?}");
                assert!(w[0].get_per_1k < w[1].get_per_1k, "{tiers:?}");
                assert!(w[0].retrieval_per_gb < w[1].retrieval_per_gb, "{tiers:?}");
                assert!(w[0].min_storage_days < w[1].min_storage_days, "{tiers:?}");
                assert_eq!(w[0].provider, w[1].provider);
            }
        }
    }
}
