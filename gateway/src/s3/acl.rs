//! ACL writes and public-access blocks of buckets whose Object Ownership is `BucketOwnerEnforced` (the only mode
//! Strata has, S3's default since 2023): ACLs are disabled, so S3 accepts a write only when it names no ACL or the
//! owner's full control (`bucket-owner-full-control`, or `private`, which means the same here), and refuses every
//! other ACL with 400 `AccessControlListNotSupported`. Reading ACLs answers the owner's full control
//! ([`super::bucket`]). Public-access-block settings are stored and answered; Strata serves no anonymous request
//! whatever they say.

use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};

use super::StrataS3;

fn not_supported() -> S3Error {
    s3_error!(
        AccessControlListNotSupported,
        "The bucket does not allow ACLs"
    )
}

/// Whether a canned ACL only says "the owner has full control".
fn owner_only(canned: &str) -> bool {
    canned == ObjectCannedACL::PRIVATE || canned == ObjectCannedACL::BUCKET_OWNER_FULL_CONTROL
}

/// The `x-amz-grant-*` headers of a write, present or not.
pub type GrantHeaders<'a> = [Option<&'a String>; 4];

/// The [`GrantHeaders`] of an s3s input that has the four `grant_*` fields.
macro_rules! grant_headers {
    ($input:expr) => {
        [
            $input.grant_full_control.as_ref(),
            $input.grant_read.as_ref(),
            $input.grant_read_acp.as_ref(),
            $input.grant_write_acp.as_ref(),
        ]
    };
}
pub(crate) use grant_headers;

/// `Ok` when an object write (PutObject, CopyObject, CreateMultipartUpload) names no ACL, or only the owner's full
/// control; `AccessControlListNotSupported` otherwise.
pub fn check_object_acl(acl: Option<&ObjectCannedACL>, grants: GrantHeaders<'_>) -> S3Result<()> {
    if acl.is_some_and(|a| !owner_only(a.as_str())) || grants.iter().any(Option::is_some) {
        return Err(not_supported());
    }
    Ok(())
}

/// `Ok` for CreateBucket without an ACL or with the owner's only; S3 refuses others on a bucket that enforces
/// ownership with `InvalidBucketAclWithObjectOwnership`. Another Object Ownership than `BucketOwnerEnforced` is
/// not implemented.
pub fn check_create_bucket(
    acl: Option<&BucketCannedACL>,
    grants: GrantHeaders<'_>,
    ownership: Option<&ObjectOwnership>,
) -> S3Result<()> {
    if let Some(o) = ownership
        && o.as_str() != ObjectOwnership::BUCKET_OWNER_ENFORCED
    {
        return Err(s3_error!(
            NotImplemented,
            "Strata's buckets are BucketOwnerEnforced: ACLs cannot be enabled"
        ));
    }
    if acl.is_some_and(|a| a.as_str() != BucketCannedACL::PRIVATE)
        || grants.iter().any(Option::is_some)
    {
        return Err(s3_error!(
            InvalidBucketAclWithObjectOwnership,
            "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting"
        ));
    }
    Ok(())
}

/// `Ok` when a PutBucketAcl / PutObjectAcl body or header only restates the owner's full control: a canned
/// `private` or `bucket-owner-full-control`, or a policy whose every grant is FULL_CONTROL to a canonical user
/// that is the owner (`owner` is the caller's canonical id).
fn check_acl_write(
    canned: Option<&str>,
    policy: Option<&AccessControlPolicy>,
    grants: GrantHeaders<'_>,
    owner: &str,
) -> S3Result<()> {
    if grants.iter().any(Option::is_some) {
        return Err(not_supported());
    }
    match (canned, policy) {
        (Some(c), None) if owner_only(c) => Ok(()),
        (None, Some(p)) => {
            let grants = p.grants.as_deref().unwrap_or_default();
            let owner_full = |g: &Grant| {
                g.permission.as_ref().map(Permission::as_str) == Some(Permission::FULL_CONTROL)
                    && g.grantee
                        .as_ref()
                        .is_some_and(|e| e.id.as_deref() == Some(owner))
            };
            if !grants.is_empty() && grants.iter().all(owner_full) {
                Ok(())
            } else {
                Err(not_supported())
            }
        }
        (None, None) => Err(s3_error!(
            MissingSecurityHeader,
            "Your request was missing a required header: x-amz-acl or an AccessControlPolicy body"
        )),
        _ => Err(not_supported()),
    }
}

impl StrataS3 {
    pub(super) async fn put_bucket_acl_impl(
        &self,
        req: S3Request<PutBucketAclInput>,
    ) -> S3Result<S3Response<PutBucketAclOutput>> {
        let i = &req.input;
        self.require_bucket(&i.bucket).await?;
        check_acl_write(
            i.acl.as_ref().map(BucketCannedACL::as_str),
            i.access_control_policy.as_ref(),
            grant_headers!(i),
            &super::bucket::owner_id(req.credentials.as_ref()).unwrap_or_default(),
        )?;
        Ok(S3Response::new(PutBucketAclOutput {}))
    }

    pub(super) async fn put_object_acl_impl(
        &self,
        req: S3Request<PutObjectAclInput>,
    ) -> S3Result<S3Response<PutObjectAclOutput>> {
        let i = &req.input;
        self.lookup_version(&i.bucket, &i.key, i.version_id.as_deref())
            .await?;
        check_acl_write(
            i.acl.as_ref().map(ObjectCannedACL::as_str),
            i.access_control_policy.as_ref(),
            grant_headers!(i),
            &super::bucket::owner_id(req.credentials.as_ref()).unwrap_or_default(),
        )?;
        Ok(S3Response::new(PutObjectAclOutput::default()))
    }

    /// PutBucketOwnershipControls: `BucketOwnerEnforced` is what every bucket is already; another setting would
    /// enable ACLs, which Strata does not have.
    pub(super) async fn put_bucket_ownership_controls_impl(
        &self,
        req: S3Request<PutBucketOwnershipControlsInput>,
    ) -> S3Result<S3Response<PutBucketOwnershipControlsOutput>> {
        let i = &req.input;
        self.require_bucket(&i.bucket).await?;
        let rules = &i.ownership_controls.rules;
        if rules.is_empty() {
            return Err(s3_error!(
                MalformedXML,
                "The XML you provided was not well-formed or did not validate against our published schema"
            ));
        }
        if rules
            .iter()
            .any(|r| r.object_ownership.as_str() != ObjectOwnership::BUCKET_OWNER_ENFORCED)
        {
            return Err(s3_error!(
                NotImplemented,
                "Strata's buckets are BucketOwnerEnforced: ACLs cannot be enabled"
            ));
        }
        Ok(S3Response::new(PutBucketOwnershipControlsOutput {}))
    }

    async fn set_public_access_block(
        &self,
        bucket: &str,
        value: Option<catalog::PublicAccessBlock>,
    ) -> S3Result<()> {
        self.update_bucket_record(bucket, move |r| r.public_access_block = value)
            .await
    }

    pub(super) async fn put_public_access_block_impl(
        &self,
        req: S3Request<PutPublicAccessBlockInput>,
    ) -> S3Result<S3Response<PutPublicAccessBlockOutput>> {
        let i = &req.input;
        let c = &i.public_access_block_configuration;
        let value = catalog::PublicAccessBlock {
            block_public_acls: c.block_public_acls.unwrap_or(false),
            ignore_public_acls: c.ignore_public_acls.unwrap_or(false),
            block_public_policy: c.block_public_policy.unwrap_or(false),
            restrict_public_buckets: c.restrict_public_buckets.unwrap_or(false),
        };
        self.set_public_access_block(&i.bucket, Some(value)).await?;
        Ok(S3Response::new(PutPublicAccessBlockOutput {}))
    }

    pub(super) async fn get_public_access_block_impl(
        &self,
        req: S3Request<GetPublicAccessBlockInput>,
    ) -> S3Result<S3Response<GetPublicAccessBlockOutput>> {
        let rec = self.bucket_record(&req.input.bucket).await?;
        let Some(p) = rec.public_access_block else {
            let mut e = S3Error::with_message(
                S3ErrorCode::Custom("NoSuchPublicAccessBlockConfiguration".into()),
                "The public access block configuration was not found",
            );
            e.set_status_code(http::StatusCode::NOT_FOUND);
            return Err(e);
        };
        Ok(S3Response::new(GetPublicAccessBlockOutput {
            public_access_block_configuration: Some(PublicAccessBlockConfiguration {
                block_public_acls: Some(p.block_public_acls),
                ignore_public_acls: Some(p.ignore_public_acls),
                block_public_policy: Some(p.block_public_policy),
                restrict_public_buckets: Some(p.restrict_public_buckets),
            }),
        }))
    }

    pub(super) async fn delete_public_access_block_impl(
        &self,
        req: S3Request<DeletePublicAccessBlockInput>,
    ) -> S3Result<S3Response<DeletePublicAccessBlockOutput>> {
        self.set_public_access_block(&req.input.bucket, None)
            .await?;
        Ok(S3Response::new(DeletePublicAccessBlockOutput {}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code<T: std::fmt::Debug>(r: S3Result<T>) -> Option<S3ErrorCode> {
        r.err().map(|e| e.code().clone())
    }

    #[test]
    fn only_the_owners_full_control_is_accepted() {
        let none: GrantHeaders<'_> = [None; 4];
        assert!(check_object_acl(None, none).is_ok());
        for ok in ["private", "bucket-owner-full-control"] {
            assert!(check_object_acl(Some(&ObjectCannedACL::from(ok.to_owned())), none).is_ok());
        }
        assert_eq!(
            code(check_object_acl(
                Some(&ObjectCannedACL::from("public-read".to_owned())),
                none
            )),
            Some(S3ErrorCode::AccessControlListNotSupported)
        );
        let grant = "id=\"someone\"".to_owned();
        assert_eq!(
            code(check_object_acl(None, [Some(&grant), None, None, None])),
            Some(S3ErrorCode::AccessControlListNotSupported)
        );
        assert_eq!(
            code(check_create_bucket(
                Some(&BucketCannedACL::from("public-read".to_owned())),
                none,
                None
            )),
            Some(S3ErrorCode::InvalidBucketAclWithObjectOwnership)
        );
        let owner_policy = |id: &str, perm: &str| AccessControlPolicy {
            grants: Some(vec![Grant {
                grantee: Some(Grantee {
                    id: Some(id.to_owned()),
                    type_: Type::from("CanonicalUser".to_owned()),
                    display_name: None,
                    email_address: None,
                    uri: None,
                }),
                permission: Some(Permission::from(perm.to_owned())),
            }]),
            owner: None,
        };
        assert!(
            check_acl_write(None, Some(&owner_policy("me", "FULL_CONTROL")), none, "me").is_ok()
        );
        assert_eq!(
            code(check_acl_write(
                None,
                Some(&owner_policy("you", "FULL_CONTROL")),
                none,
                "me"
            )),
            Some(S3ErrorCode::AccessControlListNotSupported)
        );
        assert_eq!(
            code(check_acl_write(
                None,
                Some(&owner_policy("me", "READ")),
                none,
                "me"
            )),
            Some(S3ErrorCode::AccessControlListNotSupported)
        );
    }
}
