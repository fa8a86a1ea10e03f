//! Bucket operations.

use catalog::Versioning;
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::StrataS3;
use super::errors::catalog_err;
use super::util::{check_bucket_name, ms_to_timestamp};

/// The owner (the caller's access key, as ListBuckets reports it) and its one grant, FULL_CONTROL.
/// The canonical id of the caller, who owns every bucket and object (BucketOwnerEnforced): its access key.
pub(super) fn owner_id(credentials: Option<&s3s::auth::Credentials>) -> Option<String> {
    credentials.map(|c| c.access_key.clone())
}

/// The owner S3 reports for the caller's buckets and objects (listings, ACL answers): `None` for anonymous callers.
pub(super) fn owner_of(credentials: Option<&s3s::auth::Credentials>) -> Option<Owner> {
    let id = owner_id(credentials)?;
    Some(Owner {
        id: Some(id.clone()),
        display_name: Some(id),
    })
}

fn owner_full_control(credentials: Option<&s3s::auth::Credentials>) -> (Owner, Grants) {
    let id = owner_id(credentials);
    let owner = Owner {
        id: id.clone(),
        display_name: id.clone(),
    };
    let grant = Grant {
        grantee: Some(Grantee {
            id,
            display_name: owner.display_name.clone(),
            type_: Type::from_static(Type::CANONICAL_USER),
            email_address: None,
            uri: None,
        }),
        permission: Some(Permission::from_static(Permission::FULL_CONTROL)),
    };
    (owner, vec![grant])
}

impl StrataS3 {
    pub(super) async fn list_buckets_impl(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        let prefix = req.input.prefix.clone().unwrap_or_default();
        let all = self
            .strata
            .with_catalog(|c| c.list_buckets())
            .await
            .map_err(catalog_err)?;
        let buckets = all
            .into_iter()
            .filter(|b| b.name.starts_with(&prefix))
            .map(|b| Bucket {
                name: Some(b.name),
                creation_date: Some(ms_to_timestamp(b.created_ms)),
                bucket_region: None,
            })
            .collect();
        let owner = owner_of(req.credentials.as_ref());
        Ok(S3Response::new(ListBucketsOutput {
            buckets: Some(buckets),
            owner,
            prefix: req.input.prefix,
            continuation_token: None,
        }))
    }

    pub(super) async fn create_bucket_impl(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        let i = &req.input;
        super::acl::check_create_bucket(
            i.acl.as_ref(),
            super::acl::grant_headers!(i),
            i.object_ownership.as_ref(),
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
            // S3's legacy rule in North Virginia: re-creating a bucket you own answers 200 and changes nothing
            // (ACLs are reset, and a BucketOwnerEnforced bucket has none); every other region answers 409
            // BucketAlreadyOwnedByYou. Strata's buckets have no owner apart from who may administer them, which
            // the access check has established.
            Err(catalog::CatalogError::BucketExists(_)) if self.strata.region == "us-east-1" => {
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

    /// GetBucketOwnershipControls: every bucket is `BucketOwnerEnforced` (S3's default since 2023): ACLs are off,
    /// the bucket owner owns every object.
    pub(super) async fn get_bucket_ownership_controls_impl(
        &self,
        req: S3Request<GetBucketOwnershipControlsInput>,
    ) -> S3Result<S3Response<GetBucketOwnershipControlsOutput>> {
        self.require_bucket(&req.input.bucket).await?;
        Ok(S3Response::new(GetBucketOwnershipControlsOutput {
            ownership_controls: Some(OwnershipControls {
                rules: vec![OwnershipControlsRule {
                    object_ownership: ObjectOwnership::from_static(
                        ObjectOwnership::BUCKET_OWNER_ENFORCED,
                    ),
                }],
            }),
        }))
    }

    /// GetBucketAcl: with ACLs disabled (BucketOwnerEnforced), S3 answers the owner's FULL_CONTROL grant only.
    pub(super) async fn get_bucket_acl_impl(
        &self,
        req: S3Request<GetBucketAclInput>,
    ) -> S3Result<S3Response<GetBucketAclOutput>> {
        self.require_bucket(&req.input.bucket).await?;
        let (owner, grants) = owner_full_control(req.credentials.as_ref());
        Ok(S3Response::new(GetBucketAclOutput {
            owner: Some(owner),
            grants: Some(grants),
        }))
    }

    /// GetObjectAcl: as GetBucketAcl, for an existing object.
    pub(super) async fn get_object_acl_impl(
        &self,
        req: S3Request<GetObjectAclInput>,
    ) -> S3Result<S3Response<GetObjectAclOutput>> {
        let i = &req.input;
        self.lookup_version(&i.bucket, &i.key, i.version_id.as_deref())
            .await?;
        let (owner, grants) = owner_full_control(req.credentials.as_ref());
        Ok(S3Response::new(GetObjectAclOutput {
            owner: Some(owner),
            grants: Some(grants),
            request_charged: None,
        }))
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
