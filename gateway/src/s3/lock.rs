//! Object Lock: a bucket's configuration (a bucket created with it, or a versioned bucket it is put on, with an
//! optional default retention), a version's retention and legal hold (on writes through `x-amz-object-lock-*`, and
//! through Put/GetObjectRetention and Put/GetObjectLegalHold), and the headers GET and HEAD answer.
//!
//! Enforcement is the catalog's: `ObjectMeta::lock_reason` is checked inside `delete_version`'s transaction, which
//! is the only way a version's record (and so its blobs) ever goes; moves, scrub heals and re-sealing copy a
//! version's blobs under the same record and never delete it. A bucket with Object Lock keeps versioning enabled.

use std::cell::Cell;

use catalog::{BucketRecord, ObjectLockConfig, ObjectMeta, Retention, RetentionMode};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};

use super::StrataS3;
use super::errors::catalog_err;
use super::object::check_version_id;
use super::util::{ms_to_timestamp, timestamp_to_ms};

fn mode_from(name: &str) -> S3Result<RetentionMode> {
    match name {
        ObjectLockMode::GOVERNANCE => Ok(RetentionMode::Governance),
        ObjectLockMode::COMPLIANCE => Ok(RetentionMode::Compliance),
        other => Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            format!("Unknown wormMode directive: {other}"),
        )),
    }
}

/// [`mode_from`] for a mode in a request body: an unknown value does not fit the XML schema (400 MalformedXML,
/// where a header's is InvalidArgument).
fn mode_from_xml(name: &str) -> S3Result<RetentionMode> {
    mode_from(name).map_err(|_| s3_error!(MalformedXML, "Unknown retention mode: {name}"))
}

/// [`legal_hold_from`] for a status in a request body (400 MalformedXML).
fn legal_hold_from_xml(status: &str) -> S3Result<bool> {
    legal_hold_from(status)
        .map_err(|_| s3_error!(MalformedXML, "Unknown legal hold status: {status}"))
}

fn mode_name(mode: RetentionMode) -> &'static str {
    match mode {
        RetentionMode::Governance => ObjectLockMode::GOVERNANCE,
        RetentionMode::Compliance => ObjectLockMode::COMPLIANCE,
    }
}

fn legal_hold_from(status: &str) -> S3Result<bool> {
    match status {
        ObjectLockLegalHoldStatus::ON => Ok(true),
        ObjectLockLegalHoldStatus::OFF => Ok(false),
        other => Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            format!("Unknown legal hold status: {other}"),
        )),
    }
}

fn missing_lock_configuration() -> S3Error {
    s3_error!(
        InvalidRequest,
        "Bucket is missing Object Lock Configuration"
    )
}

fn future(until_ms: i64, now_ms: i64) -> S3Result<()> {
    if until_ms <= now_ms {
        return Err(s3_error!(
            InvalidArgument,
            "The retain until date must be in the future!"
        ));
    }
    Ok(())
}

/// What a write's `x-amz-object-lock-*` headers ask for: `None` when it names none.
pub(super) fn requested_lock(
    mode: Option<&ObjectLockMode>,
    until: Option<&Timestamp>,
    hold: Option<&ObjectLockLegalHoldStatus>,
    now_ms: i64,
) -> S3Result<Option<(Option<Retention>, bool)>> {
    let retention = match (mode, until) {
        (None, None) => None,
        (Some(mode), Some(until)) => {
            let until_ms = timestamp_to_ms(until);
            future(until_ms, now_ms)?;
            Some(Retention {
                mode: mode_from(mode.as_str())?,
                until_ms,
            })
        }
        _ => {
            return Err(s3_error!(
                InvalidArgument,
                "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied"
            ));
        }
    };
    let hold = hold.map(|h| legal_hold_from(h.as_str())).transpose()?;
    Ok((retention.is_some() || hold.is_some()).then(|| (retention, hold.unwrap_or(false))))
}

/// The Object Lock headers of a GET or HEAD answer about a version with `meta`.
pub(super) fn answer_headers(
    meta: &ObjectMeta,
) -> (
    Option<ObjectLockMode>,
    Option<Timestamp>,
    Option<ObjectLockLegalHoldStatus>,
) {
    (
        meta.retention
            .map(|r| ObjectLockMode::from_static(mode_name(r.mode))),
        meta.retention.map(|r| ms_to_timestamp(r.until_ms)),
        meta.legal_hold
            .then(|| ObjectLockLegalHoldStatus::from_static(ObjectLockLegalHoldStatus::ON)),
    )
}

/// A bucket configuration's default retention, checked as S3 checks it: a mode and exactly one positive period.
fn default_retention_from(
    rule: Option<&ObjectLockRule>,
) -> S3Result<Option<catalog::DefaultRetention>> {
    let Some(d) = rule.and_then(|r| r.default_retention.as_ref()) else {
        return Ok(None);
    };
    let Some(mode) = d.mode.as_ref() else {
        return Err(s3_error!(MalformedXML, "A default retention needs a Mode"));
    };
    let period = |v: Option<i32>| -> S3Result<Option<u32>> {
        match v {
            None => Ok(None),
            Some(n) if n > 0 => Ok(Some(n as u32)),
            Some(_) => Err(s3_error!(
                InvalidArgument,
                "Default retention period must be a positive integer value."
            )),
        }
    };
    let (days, years) = (period(d.days)?, period(d.years)?);
    if days.is_some() == years.is_some() {
        return Err(s3_error!(
            MalformedXML,
            "A default retention needs either Days or Years"
        ));
    }
    Ok(Some(catalog::DefaultRetention {
        mode: mode_from_xml(mode.as_str())?,
        days,
        years,
    }))
}

/// Whether a version's retention may change from `old` to `new` at `now_ms`: extending (or keeping) it in the same
/// mode always may; shortening, removing it or changing its mode needs the governance bypass (even from governance to
/// compliance, as S3 answers: Ceph's PR 42505 records it), and is never allowed through an unexpired compliance
/// retention.
fn retention_change_allowed(
    old: Option<Retention>,
    new: Option<Retention>,
    now_ms: i64,
    bypass: bool,
) -> bool {
    let Some(old) = old.filter(|o| o.until_ms > now_ms) else {
        return true;
    };
    let extends = new.is_some_and(|n| n.until_ms >= old.until_ms && n.mode == old.mode);
    extends || (old.mode == RetentionMode::Governance && bypass)
}

impl StrataS3 {
    /// The bucket's record, with Object Lock required (400 InvalidRequest without it, as S3).
    async fn locked_bucket(&self, bucket: &str) -> S3Result<BucketRecord> {
        let record = self.bucket_record(bucket).await?;
        if record.object_lock.is_none() {
            return Err(missing_lock_configuration());
        }
        Ok(record)
    }

    /// Sets the retention and legal hold a write's `x-amz-object-lock-*` headers ask for on `meta` (a write that
    /// names any needs a bucket with Object Lock; one that names none gets the bucket's default retention at
    /// commit).
    pub(super) async fn apply_requested_lock(
        &self,
        bucket: &str,
        meta: &mut ObjectMeta,
        mode: Option<&ObjectLockMode>,
        until: Option<&Timestamp>,
        hold: Option<&ObjectLockLegalHoldStatus>,
    ) -> S3Result<()> {
        let now = self.strata.clock.now_ms();
        if let Some((retention, legal_hold)) = requested_lock(mode, until, hold, now)? {
            self.locked_bucket(bucket).await?;
            meta.retention = retention;
            meta.legal_hold = legal_hold;
        }
        Ok(())
    }

    /// Changes the lock fields of the version a request names (or of the current one) with `change`, which refuses
    /// by returning an error message; NoSuchKey / NoSuchVersion when there is no such version.
    async fn change_lock(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        change: impl Fn(&mut ObjectMeta) -> Result<(), &'static str> + Send + 'static,
    ) -> S3Result<()> {
        let version = match version {
            Some(v) => {
                check_version_id(v)?;
                v.to_owned()
            }
            // The current version, by its label (read first; the change applies to that version only).
            None => self.lookup(bucket, key).await?.version_label().to_owned(),
        };
        let (b, k, v) = (bucket.to_owned(), key.to_owned(), version);
        let (updated, refusal) = self
            .strata
            .with_catalog(move |c| {
                let refusal = Cell::new(None);
                let updated = c.update_version_meta(&b, &k, &v, &mut |m: &mut ObjectMeta| {
                    let mut next = m.clone();
                    match change(&mut next) {
                        Ok(()) => {
                            refusal.set(None);
                            *m = next;
                        }
                        Err(why) => refusal.set(Some(why)),
                    }
                })?;
                Ok((updated, refusal.get()))
            })
            .await
            .map_err(catalog_err)?;
        match (updated, refusal) {
            (None, _) => Err(s3_error!(
                NoSuchVersion,
                "The specified version does not exist."
            )),
            (Some(r), _) if r.delete_marker => Err(s3_error!(
                MethodNotAllowed,
                "The specified method is not allowed against this resource."
            )),
            (Some(_), Some(why)) => Err(S3Error::with_message(
                S3ErrorCode::AccessDenied,
                format!("Access Denied: {why}"),
            )),
            (Some(_), None) => Ok(()),
        }
    }

    pub(super) async fn put_object_lock_configuration_impl(
        &self,
        req: S3Request<PutObjectLockConfigurationInput>,
    ) -> S3Result<S3Response<PutObjectLockConfigurationOutput>> {
        let i = req.input;
        let config = i
            .object_lock_configuration
            .ok_or_else(|| s3_error!(MalformedXML, "An ObjectLockConfiguration is required"))?;
        if config
            .object_lock_enabled
            .as_ref()
            .map(ObjectLockEnabled::as_str)
            != Some(ObjectLockEnabled::ENABLED)
        {
            return Err(s3_error!(MalformedXML, "ObjectLockEnabled must be Enabled"));
        }
        let default_retention = default_retention_from(config.rule.as_ref())?;
        let record = self.bucket_record(&i.bucket).await?;
        if record.object_lock.is_none() && record.versioning != catalog::Versioning::Enabled {
            return Err(s3_error!(
                InvalidBucketState,
                "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration"
            ));
        }
        self.update_bucket_record(&i.bucket, move |b| {
            b.object_lock = Some(ObjectLockConfig { default_retention });
        })
        .await?;
        Ok(S3Response::new(PutObjectLockConfigurationOutput::default()))
    }

    pub(super) async fn get_object_lock_configuration_impl(
        &self,
        req: S3Request<GetObjectLockConfigurationInput>,
    ) -> S3Result<S3Response<GetObjectLockConfigurationOutput>> {
        let record = self.bucket_record(&req.input.bucket).await?;
        let Some(lock) = record.object_lock else {
            return Err(s3_error!(
                ObjectLockConfigurationNotFoundError,
                "Object Lock configuration does not exist for this bucket"
            ));
        };
        let rule = lock.default_retention.map(|d| ObjectLockRule {
            default_retention: Some(DefaultRetention {
                mode: Some(ObjectLockRetentionMode::from_static(mode_name(d.mode))),
                days: d.days.map(|n| n as i32),
                years: d.years.map(|n| n as i32),
            }),
        });
        Ok(S3Response::new(GetObjectLockConfigurationOutput {
            object_lock_configuration: Some(ObjectLockConfiguration {
                object_lock_enabled: Some(ObjectLockEnabled::from_static(
                    ObjectLockEnabled::ENABLED,
                )),
                rule,
            }),
        }))
    }

    pub(super) async fn put_object_retention_impl(
        &self,
        req: S3Request<PutObjectRetentionInput>,
    ) -> S3Result<S3Response<PutObjectRetentionOutput>> {
        let i = req.input;
        self.locked_bucket(&i.bucket).await?;
        let now = self.strata.clock.now_ms();
        let new = match i.retention {
            Some(ObjectLockRetention {
                mode: Some(mode),
                retain_until_date: Some(until),
            }) => {
                let until_ms = timestamp_to_ms(&until);
                future(until_ms, now)?;
                Some(Retention {
                    mode: mode_from_xml(mode.as_str())?,
                    until_ms,
                })
            }
            Some(ObjectLockRetention {
                mode: None,
                retain_until_date: None,
            })
            | None => None,
            Some(_) => {
                return Err(s3_error!(
                    MalformedXML,
                    "A retention needs both a Mode and a RetainUntilDate"
                ));
            }
        };
        let bypass = i.bypass_governance_retention.unwrap_or(false);
        self.change_lock(&i.bucket, &i.key, i.version_id.as_deref(), move |m| {
            if !retention_change_allowed(m.retention, new, now, bypass) {
                return Err("the object's retention may not be shortened or removed");
            }
            m.retention = new;
            Ok(())
        })
        .await?;
        Ok(S3Response::new(PutObjectRetentionOutput::default()))
    }

    pub(super) async fn get_object_retention_impl(
        &self,
        req: S3Request<GetObjectRetentionInput>,
    ) -> S3Result<S3Response<GetObjectRetentionOutput>> {
        let i = req.input;
        self.locked_bucket(&i.bucket).await?;
        let rec = self
            .lookup_version(&i.bucket, &i.key, i.version_id.as_deref())
            .await?;
        let Some(r) = rec.meta.retention else {
            return Err(s3_error!(
                NoSuchObjectLockConfiguration,
                "The specified object does not have a ObjectLock configuration"
            ));
        };
        Ok(S3Response::new(GetObjectRetentionOutput {
            retention: Some(ObjectLockRetention {
                mode: Some(ObjectLockRetentionMode::from_static(mode_name(r.mode))),
                retain_until_date: Some(ms_to_timestamp(r.until_ms)),
            }),
        }))
    }

    pub(super) async fn put_object_legal_hold_impl(
        &self,
        req: S3Request<PutObjectLegalHoldInput>,
    ) -> S3Result<S3Response<PutObjectLegalHoldOutput>> {
        let i = req.input;
        self.locked_bucket(&i.bucket).await?;
        let on = match i.legal_hold.and_then(|h| h.status) {
            Some(status) => legal_hold_from_xml(status.as_str())?,
            None => {
                return Err(s3_error!(MalformedXML, "A LegalHold needs a Status"));
            }
        };
        self.change_lock(&i.bucket, &i.key, i.version_id.as_deref(), move |m| {
            m.legal_hold = on;
            Ok(())
        })
        .await?;
        Ok(S3Response::new(PutObjectLegalHoldOutput::default()))
    }

    pub(super) async fn get_object_legal_hold_impl(
        &self,
        req: S3Request<GetObjectLegalHoldInput>,
    ) -> S3Result<S3Response<GetObjectLegalHoldOutput>> {
        let i = req.input;
        self.locked_bucket(&i.bucket).await?;
        let rec = self
            .lookup_version(&i.bucket, &i.key, i.version_id.as_deref())
            .await?;
        let status = if rec.meta.legal_hold {
            ObjectLockLegalHoldStatus::ON
        } else {
            ObjectLockLegalHoldStatus::OFF
        };
        Ok(S3Response::new(GetObjectLegalHoldOutput {
            legal_hold: Some(ObjectLockLegalHold {
                status: Some(ObjectLockLegalHoldStatus::from_static(status)),
            }),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(mode: RetentionMode, until_ms: i64) -> Option<Retention> {
        Some(Retention { mode, until_ms })
    }

    #[test]
    fn retention_changes_follow_s3() {
        use RetentionMode::{Compliance as C, Governance as G};
        // Nothing active: anything goes.
        assert!(retention_change_allowed(None, None, 5, false));
        assert!(retention_change_allowed(r(C, 4), None, 5, false));
        // Extending or keeping is always allowed; governance may become compliance.
        assert!(retention_change_allowed(r(G, 10), r(G, 10), 5, false));
        assert!(!retention_change_allowed(r(G, 10), r(C, 20), 5, false));
        assert!(retention_change_allowed(r(G, 10), r(C, 20), 5, true));
        assert!(retention_change_allowed(r(C, 10), r(C, 11), 5, false));
        // Shortening, removing or weakening: governance with the bypass only, compliance never.
        assert!(!retention_change_allowed(r(G, 10), r(G, 9), 5, false));
        assert!(retention_change_allowed(r(G, 10), None, 5, true));
        assert!(!retention_change_allowed(r(C, 10), r(G, 20), 5, true));
        assert!(!retention_change_allowed(r(C, 10), None, 5, true));
    }

    #[test]
    fn write_headers_come_in_pairs_and_in_the_future() {
        let mode = ObjectLockMode::from_static(ObjectLockMode::GOVERNANCE);
        let later = ms_to_timestamp(10_000);
        let got = requested_lock(Some(&mode), Some(&later), None, 5_000).unwrap();
        assert_eq!(got, Some((r(RetentionMode::Governance, 10_000), false)));
        assert!(requested_lock(Some(&mode), None, None, 0).is_err());
        assert!(requested_lock(Some(&mode), Some(&later), None, 10_000).is_err());
        assert_eq!(requested_lock(None, None, None, 0).unwrap(), None);
        let on = ObjectLockLegalHoldStatus::from_static(ObjectLockLegalHoldStatus::ON);
        assert_eq!(
            requested_lock(None, None, Some(&on), 0).unwrap(),
            Some((None, true))
        );
    }
}
