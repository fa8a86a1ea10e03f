//! Put/Get/DeleteBucketLifecycleConfiguration: a bucket's lifecycle rules, checked as S3 checks them and stored
//! in its catalog record. Carrying them out (expiring objects and noncurrent versions, removing lone delete
//! markers, aborting old uploads) is the engine's job: see [`engine::lifecycle`].
//!
//! Transitions between storage classes are refused (`NotImplemented`): where an object lives is the planner's
//! decision, from its reads and the backends' prices, not an age rule's.

use std::collections::BTreeMap;

use catalog::{LifecycleFilter, LifecycleRule};
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::StrataS3;
use super::util::{ms_to_timestamp, timestamp_to_ms};

/// Most rules in one configuration.
pub const MAX_RULES: usize = 1000;
/// Most noncurrent versions a rule may keep (`NewerNoncurrentVersions`).
pub const MAX_NEWER_NONCURRENT: i32 = 100;
const DAY_MS: i64 = 86_400_000;

fn malformed(why: &str) -> s3s::S3Error {
    s3_error!(
        MalformedXML,
        "The XML you provided was not well-formed or did not validate against our published schema ({why})"
    )
}

/// The rules of a PutBucketLifecycleConfiguration body, refused with S3's codes (see the module docs and
/// [`rule_from`]); IDs must be unique.
pub fn rules_from(cfg: Option<&BucketLifecycleConfiguration>) -> S3Result<Vec<LifecycleRule>> {
    let Some(cfg) = cfg.filter(|c| !c.rules.is_empty()) else {
        return Err(malformed("a configuration needs at least one rule"));
    };
    if cfg.rules.len() > MAX_RULES {
        return Err(s3_error!(
            InvalidRequest,
            "The number of lifecycle rules should not exceed allowed limit of {MAX_RULES} rules"
        ));
    }
    let rules = cfg
        .rules
        .iter()
        .map(rule_from)
        .collect::<S3Result<Vec<_>>>()?;
    let mut ids = std::collections::BTreeSet::new();
    for id in rules.iter().filter_map(|r| r.id.as_deref()) {
        if !ids.insert(id) {
            return Err(s3_error!(
                InvalidArgument,
                "Rule ID must be unique. Found same ID for more than one rule"
            ));
        }
    }
    Ok(rules)
}

fn positive_days(days: Option<i32>, what: &str) -> S3Result<Option<u32>> {
    match days {
        None => Ok(None),
        Some(d) if d > 0 => Ok(Some(d as u32)),
        Some(_) => Err(s3_error!(
            InvalidArgument,
            "'{what}' must be a positive integer"
        )),
    }
}

fn size_bound(v: Option<i64>) -> S3Result<Option<u64>> {
    match v {
        None => Ok(None),
        Some(n) if n >= 0 => Ok(Some(n as u64)),
        Some(_) => Err(s3_error!(
            InvalidArgument,
            "Object size bounds must be non-negative"
        )),
    }
}

fn tags_from(tags: &[Tag]) -> S3Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for t in tags {
        let (Some(k), Some(v)) = (&t.key, &t.value) else {
            return Err(malformed("a tag needs a key and a value"));
        };
        if out.insert(k.clone(), v.clone()).is_some() {
            return Err(s3_error!(
                InvalidArgument,
                "Duplicate Tag Keys are not allowed"
            ));
        }
    }
    Ok(out)
}

/// The filter of a rule: its own `Prefix` (the older form) or a `Filter` with at most one of `Prefix`, `Tag`,
/// the two size bounds and `And`; not both, not neither. Returns the filter and whether it was the older form.
fn filter_from(r: &WireRule) -> S3Result<(LifecycleFilter, bool)> {
    match (&r.prefix, &r.filter) {
        (Some(_), Some(_)) => Err(malformed(
            "a rule has either a Prefix or a Filter, not both",
        )),
        (None, None) => Err(malformed("a rule needs a Filter or a Prefix")),
        (Some(p), None) => Ok((
            LifecycleFilter {
                prefix: p.clone(),
                ..LifecycleFilter::default()
            },
            true,
        )),
        (None, Some(f)) => {
            let given = usize::from(f.prefix.is_some())
                + usize::from(f.tag.is_some())
                + usize::from(f.object_size_greater_than.is_some())
                + usize::from(f.object_size_less_than.is_some())
                + usize::from(f.and.is_some());
            if given > 1 {
                return Err(malformed(
                    "a Filter holds one condition; combine several with And",
                ));
            }
            let mut out = LifecycleFilter {
                prefix: f.prefix.clone().unwrap_or_default(),
                tags: tags_from(f.tag.as_slice())?,
                size_greater_than: size_bound(f.object_size_greater_than)?,
                size_less_than: size_bound(f.object_size_less_than)?,
            };
            if let Some(and) = &f.and {
                out.prefix = and.prefix.clone().unwrap_or_default();
                out.tags = tags_from(and.tags.as_deref().unwrap_or_default())?;
                out.size_greater_than = size_bound(and.object_size_greater_than)?;
                out.size_less_than = size_bound(and.object_size_less_than)?;
            }
            if let (Some(min), Some(max)) = (out.size_greater_than, out.size_less_than)
                && min >= max
            {
                return Err(s3_error!(
                    InvalidArgument,
                    "ObjectSizeGreaterThan must be less than ObjectSizeLessThan"
                ));
            }
            Ok((out, false))
        }
    }
}

/// s3s's rule type, as on the wire (the catalog's has the same name).
type WireRule = s3s::dto::LifecycleRule;

/// One rule, refused with S3's codes: an unknown status, an ID over 255 characters, no action, an `Expiration`
/// without exactly one of `Days`, `Date` and `ExpiredObjectDeleteMarker`, days that are not positive, a date not
/// at midnight UTC, `NewerNoncurrentVersions` outside 1–100, `ExpiredObjectDeleteMarker` or
/// `AbortIncompleteMultipartUpload` with a tag filter (neither applies to something with tags), and any
/// transition (`NotImplemented`).
pub fn rule_from(r: &WireRule) -> S3Result<LifecycleRule> {
    let enabled = match r.status.as_str() {
        ExpirationStatus::ENABLED => true,
        ExpirationStatus::DISABLED => false,
        other => return Err(malformed(&format!("unknown Status {other:?}"))),
    };
    if r.id.as_ref().is_some_and(|id| id.chars().count() > 255) {
        return Err(s3_error!(
            InvalidArgument,
            "ID length should not exceed allowed limit of 255"
        ));
    }
    if r.transitions.as_ref().is_some_and(|t| !t.is_empty())
        || r.noncurrent_version_transitions
            .as_ref()
            .is_some_and(|t| !t.is_empty())
    {
        return Err(s3_error!(
            NotImplemented,
            "Lifecycle transitions are not supported: Strata's planner places objects across tiers from their reads and the backends' prices"
        ));
    }
    let (filter, legacy_prefix) = filter_from(r)?;
    let mut rule = LifecycleRule {
        id: r.id.clone().filter(|id| !id.is_empty()),
        enabled,
        filter,
        legacy_prefix,
        ..LifecycleRule::default()
    };
    if let Some(e) = &r.expiration {
        let marker = e.expired_object_delete_marker == Some(true);
        let given =
            usize::from(e.days.is_some()) + usize::from(e.date.is_some()) + usize::from(marker);
        if given != 1 {
            return Err(malformed(
                "Expiration holds exactly one of Days, Date and ExpiredObjectDeleteMarker",
            ));
        }
        rule.expiration_days = positive_days(e.days, "Days' for Expiration action")?;
        if let Some(date) = &e.date {
            let ms = timestamp_to_ms(date);
            if ms.rem_euclid(DAY_MS) != 0 {
                return Err(s3_error!(InvalidArgument, "'Date' must be at midnight GMT"));
            }
            rule.expiration_date_ms = Some(ms);
        }
        if marker && !rule.filter.tags.is_empty() {
            return Err(s3_error!(
                InvalidRequest,
                "ExpiredObjectDeleteMarker cannot be specified with Tag filters"
            ));
        }
        rule.expired_object_delete_marker = marker;
    }
    if let Some(n) = &r.noncurrent_version_expiration {
        rule.noncurrent_days = positive_days(n.noncurrent_days, "NoncurrentDays")?;
        if rule.noncurrent_days.is_none() {
            return Err(malformed(
                "NoncurrentVersionExpiration needs NoncurrentDays",
            ));
        }
        rule.newer_noncurrent_versions = match n.newer_noncurrent_versions {
            None => None,
            Some(k) if (1..=MAX_NEWER_NONCURRENT).contains(&k) => Some(k as u32),
            Some(_) => {
                return Err(s3_error!(
                    InvalidArgument,
                    "NewerNoncurrentVersions must be between 1 and {MAX_NEWER_NONCURRENT}"
                ));
            }
        };
    }
    if let Some(a) = &r.abort_incomplete_multipart_upload {
        rule.abort_incomplete_multipart_days =
            positive_days(a.days_after_initiation, "DaysAfterInitiation")?;
        if rule.abort_incomplete_multipart_days.is_none() {
            return Err(malformed(
                "AbortIncompleteMultipartUpload needs DaysAfterInitiation",
            ));
        }
        if !rule.filter.tags.is_empty() {
            return Err(s3_error!(
                InvalidRequest,
                "AbortIncompleteMultipartUpload cannot be specified with Tags"
            ));
        }
    }
    if rule.expiration_days.is_none()
        && rule.expiration_date_ms.is_none()
        && !rule.expired_object_delete_marker
        && rule.noncurrent_days.is_none()
        && rule.abort_incomplete_multipart_days.is_none()
    {
        return Err(s3_error!(
            InvalidRequest,
            "At least one action needs to be specified in a rule"
        ));
    }
    Ok(rule)
}

/// A stored rule as S3 answers it.
pub fn rule_to(r: &LifecycleRule) -> WireRule {
    let f = &r.filter;
    let tag_list = |tags: &BTreeMap<String, String>| -> Vec<Tag> {
        tags.iter()
            .map(|(k, v)| Tag {
                key: Some(k.clone()),
                value: Some(v.clone()),
            })
            .collect()
    };
    let conditions = usize::from(!f.prefix.is_empty())
        + f.tags.len()
        + usize::from(f.size_greater_than.is_some())
        + usize::from(f.size_less_than.is_some());
    let filter = (!r.legacy_prefix).then(|| {
        if conditions > 1 {
            LifecycleRuleFilter {
                and: Some(LifecycleRuleAndOperator {
                    prefix: (!f.prefix.is_empty()).then(|| f.prefix.clone()),
                    tags: (!f.tags.is_empty()).then(|| tag_list(&f.tags)),
                    object_size_greater_than: f.size_greater_than.map(|n| n as i64),
                    object_size_less_than: f.size_less_than.map(|n| n as i64),
                }),
                ..LifecycleRuleFilter::default()
            }
        } else {
            LifecycleRuleFilter {
                prefix: (conditions == 0 || !f.prefix.is_empty()).then(|| f.prefix.clone()),
                tag: tag_list(&f.tags).into_iter().next(),
                object_size_greater_than: f.size_greater_than.map(|n| n as i64),
                object_size_less_than: f.size_less_than.map(|n| n as i64),
                and: None,
            }
        }
    });
    let expiration = (r.expiration_days.is_some()
        || r.expiration_date_ms.is_some()
        || r.expired_object_delete_marker)
        .then(|| LifecycleExpiration {
            days: r.expiration_days.map(|d| d as i32),
            date: r.expiration_date_ms.map(ms_to_timestamp),
            expired_object_delete_marker: r.expired_object_delete_marker.then_some(true),
        });
    WireRule {
        abort_incomplete_multipart_upload: r.abort_incomplete_multipart_days.map(|d| {
            AbortIncompleteMultipartUpload {
                days_after_initiation: Some(d as i32),
            }
        }),
        expiration,
        filter,
        id: r.id.clone(),
        noncurrent_version_expiration: r.noncurrent_days.map(|d| NoncurrentVersionExpiration {
            noncurrent_days: Some(d as i32),
            newer_noncurrent_versions: r.newer_noncurrent_versions.map(|n| n as i32),
        }),
        noncurrent_version_transitions: None,
        prefix: r.legacy_prefix.then(|| f.prefix.clone()),
        status: ExpirationStatus::from_static(if r.enabled {
            ExpirationStatus::ENABLED
        } else {
            ExpirationStatus::DISABLED
        }),
        transitions: None,
    }
}

impl StrataS3 {
    async fn set_bucket_lifecycle(&self, bucket: &str, rules: Vec<LifecycleRule>) -> S3Result<()> {
        self.update_bucket_record(bucket, move |r| r.lifecycle = rules.clone())
            .await
    }

    pub(super) async fn put_bucket_lifecycle_configuration_impl(
        &self,
        req: S3Request<PutBucketLifecycleConfigurationInput>,
    ) -> S3Result<S3Response<PutBucketLifecycleConfigurationOutput>> {
        let i = req.input;
        let rules = rules_from(i.lifecycle_configuration.as_ref())?;
        self.set_bucket_lifecycle(&i.bucket, rules).await?;
        Ok(S3Response::new(
            PutBucketLifecycleConfigurationOutput::default(),
        ))
    }

    pub(super) async fn get_bucket_lifecycle_configuration_impl(
        &self,
        req: S3Request<GetBucketLifecycleConfigurationInput>,
    ) -> S3Result<S3Response<GetBucketLifecycleConfigurationOutput>> {
        let rec = self.bucket_record(&req.input.bucket).await?;
        if rec.lifecycle.is_empty() {
            return Err(s3_error!(
                NoSuchLifecycleConfiguration,
                "The lifecycle configuration does not exist"
            ));
        }
        Ok(S3Response::new(GetBucketLifecycleConfigurationOutput {
            rules: Some(rec.lifecycle.iter().map(rule_to).collect()),
            ..Default::default()
        }))
    }

    pub(super) async fn delete_bucket_lifecycle_impl(
        &self,
        req: S3Request<DeleteBucketLifecycleInput>,
    ) -> S3Result<S3Response<DeleteBucketLifecycleOutput>> {
        self.set_bucket_lifecycle(&req.input.bucket, Vec::new())
            .await?;
        Ok(S3Response::new(DeleteBucketLifecycleOutput {}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(filter: Option<LifecycleRuleFilter>) -> WireRule {
        WireRule {
            abort_incomplete_multipart_upload: None,
            expiration: Some(LifecycleExpiration {
                days: Some(30),
                date: None,
                expired_object_delete_marker: None,
            }),
            filter,
            id: Some("r".into()),
            noncurrent_version_expiration: None,
            noncurrent_version_transitions: None,
            prefix: None,
            status: ExpirationStatus::from_static(ExpirationStatus::ENABLED),
            transitions: None,
        }
    }

    fn prefix(p: &str) -> Option<LifecycleRuleFilter> {
        Some(LifecycleRuleFilter {
            prefix: Some(p.into()),
            ..LifecycleRuleFilter::default()
        })
    }

    fn code(rules: Vec<WireRule>) -> Option<s3s::S3ErrorCode> {
        rules_from(Some(&BucketLifecycleConfiguration { rules }))
            .err()
            .map(|e| e.code().clone())
    }

    #[test]
    fn configurations_are_checked_as_s3_checks_them() {
        use s3s::S3ErrorCode as C;
        assert_eq!(code(vec![rule(prefix("logs/"))]), None);
        assert_eq!(code(vec![]), Some(C::MalformedXML));
        assert_eq!(code(vec![rule(None)]), Some(C::MalformedXML), "no filter");
        let mut both = rule(prefix("a"));
        both.prefix = Some("a".into());
        assert_eq!(code(vec![both]), Some(C::MalformedXML));
        let mut zero = rule(prefix(""));
        zero.expiration.as_mut().unwrap().days = Some(0);
        assert_eq!(code(vec![zero]), Some(C::InvalidArgument));
        let mut two = rule(prefix(""));
        two.expiration
            .as_mut()
            .unwrap()
            .expired_object_delete_marker = Some(true);
        assert_eq!(
            code(vec![two]),
            Some(C::MalformedXML),
            "Days and the marker"
        );
        let mut noon = rule(prefix(""));
        noon.expiration = Some(LifecycleExpiration {
            days: None,
            date: Some(ms_to_timestamp(DAY_MS * 20_000 + DAY_MS / 2)),
            expired_object_delete_marker: None,
        });
        assert_eq!(code(vec![noon]), Some(C::InvalidArgument));
        let mut none = rule(prefix(""));
        none.expiration = None;
        assert_eq!(code(vec![none]), Some(C::InvalidRequest), "no action");
        let mut trans = rule(prefix(""));
        trans.transitions = Some(vec![Transition {
            days: Some(30),
            date: None,
            storage_class: Some(TransitionStorageClass::from_static("GLACIER")),
        }]);
        assert_eq!(code(vec![trans]), Some(C::NotImplemented));
        let mut nc = rule(prefix(""));
        nc.noncurrent_version_expiration = Some(NoncurrentVersionExpiration {
            noncurrent_days: Some(1),
            newer_noncurrent_versions: Some(101),
        });
        assert_eq!(code(vec![nc]), Some(C::InvalidArgument));
        let tagged = Some(LifecycleRuleFilter {
            tag: Some(Tag {
                key: Some("k".into()),
                value: Some("v".into()),
            }),
            ..LifecycleRuleFilter::default()
        });
        let mut abort = rule(tagged);
        abort.abort_incomplete_multipart_upload = Some(AbortIncompleteMultipartUpload {
            days_after_initiation: Some(7),
        });
        assert_eq!(code(vec![abort]), Some(C::InvalidRequest));
        let mut two_conditions = rule(prefix("a"));
        two_conditions
            .filter
            .as_mut()
            .unwrap()
            .object_size_less_than = Some(10);
        assert_eq!(code(vec![two_conditions]), Some(C::MalformedXML));
        assert_eq!(
            code(vec![rule(prefix("a")), rule(prefix("b"))]),
            Some(C::InvalidArgument),
            "duplicate ids"
        );
    }

    #[test]
    fn rules_answer_back_as_given() {
        let and = Some(LifecycleRuleFilter {
            and: Some(LifecycleRuleAndOperator {
                prefix: Some("logs/".into()),
                tags: Some(vec![Tag {
                    key: Some("k".into()),
                    value: Some("v".into()),
                }]),
                object_size_greater_than: Some(10),
                object_size_less_than: None,
            }),
            ..LifecycleRuleFilter::default()
        });
        let mut legacy = rule(None);
        legacy.prefix = Some("old/".into());
        legacy.id = Some("legacy".into());
        for given in [rule(prefix("logs/")), rule(and), legacy, rule(prefix(""))] {
            let stored = rule_from(&given).expect("valid");
            assert_eq!(rule_to(&stored), given);
        }
    }
}
