//! Bucket operations.

use catalog::Versioning;
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::StrataS3;
use super::errors::catalog_err;
use super::util::{check_bucket_name, ms_to_timestamp};
use crate::config::AccessLevel;

/// The canonical id of the caller (its access key); `None` for anonymous callers.
pub(super) fn owner_id(credentials: Option<&s3s::auth::Credentials>) -> Option<String> {
    credentials.map(|c| c.access_key.clone())
}

/// The caller as S3 reports an owner (ListBuckets); `None` for anonymous callers.
pub(super) fn owner_of(credentials: Option<&s3s::auth::Credentials>) -> Option<Owner> {
    owner_id(credentials).map(|id| super::acl::owner_dto(&id))
}

/// The canonical id of the bucket's owner: its creator, or, for a bucket made before owners were recorded, the
/// caller (as every bucket was reported then).
pub(super) fn bucket_owner(
    record: &catalog::BucketRecord,
    credentials: Option<&s3s::auth::Credentials>,
) -> String {
    record
        .owner
        .clone()
        .or_else(|| owner_id(credentials))
        .unwrap_or_default()
}

impl StrataS3 {
    /// ListBuckets: every bucket, except for a user of its own account (`access = "own"`), who sees the buckets it
    /// owns, as an S3 account does.
    pub(super) async fn list_buckets_impl(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        let prefix = req.input.prefix.clone().unwrap_or_default();
        let caller = owner_id(req.credentials.as_ref());
        let own_only = caller
            .as_deref()
            .and_then(|c| self.users.get(c))
            .is_some_and(|u| u.access == AccessLevel::Own);
        let all = self
            .strata
            .with_catalog(|c| c.list_buckets())
            .await
            .map_err(catalog_err)?;
        let max = match req.input.max_buckets {
            None => usize::MAX,
            Some(n @ 1..=10_000) => n as usize,
            Some(_) => {
                return Err(s3_error!(
                    InvalidArgument,
                    "max-buckets must be between 1 and 10000"
                ));
            }
        };
        // The continuation token is the last name of the previous page (buckets come sorted by name).
        let after = req.input.continuation_token.clone().unwrap_or_default();
        let mut visible = all
            .into_iter()
            .filter(|b| b.name.starts_with(&prefix) && b.name > after)
            .filter(|b| !own_only || b.owner.is_some() && b.owner == caller);
        let page: Vec<Bucket> = visible
            .by_ref()
            .take(max)
            .map(|b| Bucket {
                name: Some(b.name),
                creation_date: Some(ms_to_timestamp(b.created_ms)),
                bucket_region: None,
            })
            .collect();
        let continuation_token = match visible.next() {
            Some(_) => page.last().and_then(|b| b.name.clone()),
            None => None,
        };
        let owner = owner_of(req.credentials.as_ref());
        Ok(S3Response::new(ListBucketsOutput {
            buckets: Some(page),
            owner,
            prefix: req.input.prefix,
            continuation_token,
        }))
    }

    /// CreateBucket: the caller becomes the owner; Object Ownership from `x-amz-object-ownership`, or the config's
    /// default; an ACL only where ownership allows one ([`super::acl::create_bucket_acl`]).
    pub(super) async fn create_bucket_impl(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        let i = &req.input;
        let ownership = match &i.object_ownership {
            Some(o) => super::acl::ownership_from(o.as_str())?,
            None => self.default_ownership,
        };
        let caller = owner_id(req.credentials.as_ref()).unwrap_or_default();
        let acl = super::acl::create_bucket_acl(
            &self.users,
            ownership,
            &super::acl::acl_request!(i, bucket),
            &caller,
        )?;
        let bucket = req.input.bucket;
        check_bucket_name(&bucket)?;
        if let Some(loc) = req
            .input
            .create_bucket_configuration
            .as_ref()
            .and_then(|c| c.location_constraint.as_ref())
            && loc.as_str() != self.strata.region
            && !(loc.as_str().is_empty() && self.strata.region == "us-east-1")
        {
            return Err(s3_error!(
                InvalidLocationConstraint,
                "The specified location-constraint is not valid for this endpoint"
            ));
        }
        let now = self.strata.clock.now_ms();
        let mut record = catalog::BucketRecord::new(&bucket, now);
        record.owner = Some(caller.clone());
        record.object_ownership = ownership;
        record.acl = acl;
        if req.input.object_lock_enabled_for_bucket == Some(true) {
            // Object Lock needs every write to make a version: the bucket starts versioned, and stays so.
            record.versioning = Versioning::Enabled;
            record.object_lock = Some(catalog::ObjectLockConfig::default());
        }
        match self
            .strata
            .with_catalog(move |c| c.create_bucket_record(record))
            .await
        {
            Ok(()) => {}
            Err(catalog::CatalogError::BucketExists(_)) => {
                // Bucket names are global: another owner's bucket is 409 BucketAlreadyExists. S3's legacy rule in
                // North Virginia: re-creating a bucket you own answers 200 and changes nothing; every other region
                // answers 409 BucketAlreadyOwnedByYou. A bucket made before owners were recorded counts as yours.
                let existing = self.bucket_record(&bucket).await?;
                if existing.owner.as_ref().is_some_and(|o| *o != caller) {
                    return Err(s3_error!(
                        BucketAlreadyExists,
                        "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again."
                    ));
                }
                if self.strata.region != "us-east-1" {
                    return Err(s3_error!(
                        BucketAlreadyOwnedByYou,
                        "Your previous request to create the named bucket succeeded and you already own it."
                    ));
                }
                return Ok(S3Response::new(CreateBucketOutput {
                    location: Some(format!("/{bucket}")),
                }));
            }
            Err(e) => return Err(catalog_err(e)),
        }
        // A bucket of the same name deleted a moment ago may still be remembered, with its policy.
        self.policies.forget(&bucket);
        Ok(S3Response::new(CreateBucketOutput {
            location: Some(format!("/{bucket}")),
        }))
    }

    pub(super) async fn head_bucket_impl(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        self.require_bucket(&req.input.bucket).await?;
        Ok(S3Response::new(HeadBucketOutput {
            bucket_region: Some(self.strata.region.clone()),
            ..Default::default()
        }))
    }

    pub(super) async fn delete_bucket_impl(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        let bucket = req.input.bucket;
        let name = bucket.clone();
        // Open multipart uploads are aborted with the bucket; their parts become garbage for the reaper.
        self.strata
            .with_catalog(move |c| c.delete_bucket(&name))
            .await
            .map_err(catalog_err)?;
        self.policies.forget(&bucket);
        Ok(S3Response::new(DeleteBucketOutput {}))
    }

    pub(super) async fn get_bucket_location_impl(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        self.require_bucket(&req.input.bucket).await?;
        // us-east-1 is reported as an empty constraint, as AWS does.
        let location = (self.strata.region != "us-east-1")
            .then(|| BucketLocationConstraint::from(self.strata.region.clone()));
        Ok(S3Response::new(GetBucketLocationOutput {
            location_constraint: location,
        }))
    }

    /// GetBucketVersioning: no `Status` until versioning was first enabled, then `Enabled` or `Suspended`.
    pub(super) async fn get_bucket_versioning_impl(
        &self,
        req: S3Request<GetBucketVersioningInput>,
    ) -> S3Result<S3Response<GetBucketVersioningOutput>> {
        let record = self.bucket_record(&req.input.bucket).await?;
        let status = match record.versioning {
            Versioning::Unversioned => None,
            Versioning::Enabled => Some(BucketVersioningStatus::ENABLED),
            Versioning::Suspended => Some(BucketVersioningStatus::SUSPENDED),
        };
        Ok(S3Response::new(GetBucketVersioningOutput {
            status: status.map(BucketVersioningStatus::from_static),
            mfa_delete: None,
        }))
    }

    /// PutBucketVersioning: `Enabled` or `Suspended` (a bucket never returns to unversioned). MFA delete needs an
    /// MFA device, which Strata has not: asking to enable it is NotImplemented.
    pub(super) async fn put_bucket_versioning_impl(
        &self,
        req: S3Request<PutBucketVersioningInput>,
    ) -> S3Result<S3Response<PutBucketVersioningOutput>> {
        let i = req.input;
        let config = i.versioning_configuration;
        if config
            .mfa_delete
            .as_ref()
            .is_some_and(|m| m.as_str() == MFADelete::ENABLED)
        {
            return Err(s3_error!(NotImplemented, "MFA delete is not supported"));
        }
        let state = match config.status.as_ref().map(BucketVersioningStatus::as_str) {
            Some(BucketVersioningStatus::ENABLED) => Versioning::Enabled,
            Some(BucketVersioningStatus::SUSPENDED) => Versioning::Suspended,
            _ => {
                return Err(s3_error!(
                    MalformedXML,
                    "The XML you provided was not well-formed or did not validate against our published schema"
                ));
            }
        };
        let record = self.bucket_record(&i.bucket).await?;
        if record.object_lock.is_some() && state != Versioning::Enabled {
            return Err(s3_error!(
                InvalidBucketState,
                "An Object Lock configuration is present on this bucket, so the versioning state cannot be changed."
            ));
        }
        self.update_bucket_record(&i.bucket, move |b| b.versioning = state)
            .await?;
        Ok(S3Response::new(PutBucketVersioningOutput::default()))
    }

    /// Changes the bucket's catalog record with `change` (its tags, CORS rules, public-access block) in one
    /// transaction; NoSuchBucket if it does not exist.
    pub(super) async fn update_bucket_record(
        &self,
        bucket: &str,
        change: impl FnMut(&mut catalog::BucketRecord) + Send + 'static,
    ) -> S3Result<()> {
        let b = bucket.to_owned();
        let mut change = change;
        self.strata
            .with_catalog(move |c| c.update_bucket(&b, &mut change))
            .await
            .map_err(catalog_err)?;
        // The access check must see a new policy or public-access block at once.
        self.policies.forget(bucket);
        Ok(())
    }

    /// The canonical id of the bucket's owner, from the access check's cache (the caller for a bucket made before
    /// owners were recorded); `None` for an anonymous caller of such a bucket.
    pub(super) async fn bucket_owner_id(
        &self,
        bucket: &str,
        credentials: Option<&s3s::auth::Credentials>,
    ) -> Option<String> {
        let auth = self.policies.get(bucket).await;
        auth.and_then(|a| a.owner.clone())
            .or_else(|| owner_id(credentials))
    }

    /// NoSuchBucket unless `bucket` exists.
    pub(super) async fn require_bucket(&self, bucket: &str) -> S3Result<()> {
        self.bucket_record(bucket).await.map(drop)
    }

    /// The bucket's record; NoSuchBucket if it does not exist.
    pub(super) async fn bucket_record(&self, bucket: &str) -> S3Result<catalog::BucketRecord> {
        let name = bucket.to_owned();
        match self
            .strata
            .with_catalog(move |c| c.bucket(&name))
            .await
            .map_err(catalog_err)?
        {
            Some(record) => Ok(record),
            None => Err(s3_error!(
                NoSuchBucket,
                "The specified bucket does not exist"
            )),
        }
    }
}
