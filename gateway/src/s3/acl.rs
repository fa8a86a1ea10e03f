//! Access control lists (S3's ACLs), Object Ownership and public-access blocks.
//!
//! A bucket's Object Ownership ([`catalog::ObjectOwnership`]) says whether its ACLs count:
//!
//! * `BucketOwnerEnforced` (S3's default since 2023, and Strata's unless the config's `default_object_ownership`
//!   says otherwise): ACLs are disabled. A write is accepted only when it names no ACL or just the owner's full
//!   control (`private`, `bucket-owner-full-control`, or a body granting FULL_CONTROL to the owner alone), and
//!   refused with 400 `AccessControlListNotSupported` otherwise; reading an ACL answers the owner's full control.
//! * `ObjectWriter` and `BucketOwnerPreferred`: ACLs are stored per bucket and per object version, given as a
//!   canned ACL, `x-amz-grant-*` headers or an `AccessControlPolicy` body, and the access check
//!   ([`super::auth`]) admits a caller whom a grant names ([`allows`]). A new version is owned by its writer, or,
//!   under `BucketOwnerPreferred` with `bucket-owner-full-control`, by the bucket owner.
//!
//! Grantees are users by canonical id (Strata's canonical id is the access key; an unknown one is 400
//! `InvalidArgument`), and the AllUsers, AuthenticatedUsers and LogDelivery groups. Grants by e-mail address are
//! refused with `UnresolvableGrantByEmailAddress`: Strata's users have no e-mail address.
//!
//! Public-access blocks are stored and enforced: `BlockPublicAcls` refuses a write that would grant a group
//! (403 `AccessDenied`), `IgnorePublicAcls` makes the access check ignore the groups' grants, and
//! `RestrictPublicBuckets` keeps anonymous callers out whatever a bucket policy says ([`super::policy`]).

use catalog::{AclGrant, AclGrantee, AclPermission, ObjectOwnership};
use s3s::dto::ObjectOwnership as ObjectOwnership_;
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};

use super::StrataS3;
use super::auth::Users;

const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
const AUTHENTICATED_USERS: &str = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";
const LOG_DELIVERY: &str = "http://acs.amazonaws.com/groups/s3/LogDelivery";

fn not_supported() -> S3Error {
    s3_error!(
        AccessControlListNotSupported,
        "The bucket does not allow ACLs"
    )
}

fn invalid(message: String) -> S3Error {
    S3Error::with_message(S3ErrorCode::InvalidArgument, message)
}

/// The ACL a request asks for: a canned ACL, `x-amz-grant-*` headers (each with the permission it gives), or an
/// `AccessControlPolicy` body; all empty when it names none.
pub struct AclRequest<'a> {
    pub canned: Option<&'a str>,
    pub headers: Vec<(&'a str, AclPermission)>,
    pub policy: Option<&'a AccessControlPolicy>,
}

/// The `x-amz-grant-*` headers present among `headers`.
pub fn present<const N: usize>(
    headers: [(Option<&String>, AclPermission); N],
) -> Vec<(&str, AclPermission)> {
    headers
        .into_iter()
        .filter_map(|(h, p)| h.map(|h| (h.as_str(), p)))
        .collect()
}

/// The [`AclRequest`] of an s3s input with `acl` and the `grant_*` fields (`bucket`: it has `grant_write` too).
macro_rules! acl_request {
    ($input:expr) => {
        $crate::s3::acl::AclRequest {
            canned: $input.acl.as_ref().map(|a| a.as_str()),
            headers: $crate::s3::acl::present([
                (
                    $input.grant_full_control.as_ref(),
                    catalog::AclPermission::FullControl,
                ),
                ($input.grant_read.as_ref(), catalog::AclPermission::Read),
                (
                    $input.grant_read_acp.as_ref(),
                    catalog::AclPermission::ReadAcp,
                ),
                (
                    $input.grant_write_acp.as_ref(),
                    catalog::AclPermission::WriteAcp,
                ),
            ]),
            policy: None,
        }
    };
    ($input:expr, bucket) => {{
        let mut r = $crate::s3::acl::acl_request!($input);
        if let Some(w) = $input.grant_write.as_ref() {
            r.headers.push((w.as_str(), catalog::AclPermission::Write));
        }
        r
    }};
}
pub(crate) use acl_request;

fn user(id: &str, permission: AclPermission) -> AclGrant {
    AclGrant {
        grantee: AclGrantee::User(id.to_owned()),
        permission,
    }
}

fn group(grantee: AclGrantee, permission: AclPermission) -> AclGrant {
    AclGrant {
        grantee,
        permission,
    }
}

/// The grants of a canned ACL on a resource owned by `owner` in a bucket owned by `bucket_owner`.
fn canned_grants(canned: &str, owner: &str, bucket_owner: &str) -> S3Result<Vec<AclGrant>> {
    use AclPermission::*;
    let mut grants = match canned {
        "private" | "aws-exec-read" => vec![],
        "public-read" => vec![group(AclGrantee::AllUsers, Read)],
        "public-read-write" => vec![
            group(AclGrantee::AllUsers, Read),
            group(AclGrantee::AllUsers, Write),
        ],
        "authenticated-read" => vec![group(AclGrantee::AuthenticatedUsers, Read)],
        "log-delivery-write" => vec![
            group(AclGrantee::LogDelivery, Write),
            group(AclGrantee::LogDelivery, ReadAcp),
        ],
        "bucket-owner-read" | "bucket-owner-full-control" => vec![],
        other => return Err(invalid(format!("Unknown canned ACL: {other}"))),
    };
    grants.push(user(owner, FullControl));
    if bucket_owner != owner {
        match canned {
            "bucket-owner-read" => grants.push(user(bucket_owner, Read)),
            "bucket-owner-full-control" => grants.push(user(bucket_owner, FullControl)),
            _ => {}
        }
    }
    Ok(grants)
}

/// The grantee a grant header or body names: a user by canonical id (one Strata knows), a group by URI.
fn grantee(
    users: &Users,
    id: Option<&str>,
    uri: Option<&str>,
    email: bool,
) -> S3Result<AclGrantee> {
    if email {
        return Err(s3_error!(
            UnresolvableGrantByEmailAddress,
            "The e-mail address you provided does not match any account on record."
        ));
    }
    match (id, uri) {
        (Some(id), None) if users.get(id).is_some() => Ok(AclGrantee::User(id.to_owned())),
        (Some(id), None) => Err(invalid(format!("Invalid id: {id}"))),
        (None, Some(ALL_USERS)) => Ok(AclGrantee::AllUsers),
        (None, Some(AUTHENTICATED_USERS)) => Ok(AclGrantee::AuthenticatedUsers),
        (None, Some(LOG_DELIVERY)) => Ok(AclGrantee::LogDelivery),
        (None, Some(uri)) => Err(invalid(format!("Invalid group uri: {uri}"))),
        _ => Err(s3_error!(
            MalformedACLError,
            "The XML you provided was not well-formed or did not validate against our published schema."
        )),
    }
}

/// The grants of `x-amz-grant-*` headers: each a comma-separated list of `id="…"`, `uri="…"` or
/// `emailAddress="…"`.
fn header_grants(users: &Users, headers: &[(&str, AclPermission)]) -> S3Result<Vec<AclGrant>> {
    let mut grants = Vec::new();
    for (value, permission) in headers {
        for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let Some((kind, v)) = item.split_once('=') else {
                return Err(invalid(format!("Invalid grant: {item}")));
            };
            let v = v.trim().trim_matches('"');
            let grantee = match kind.trim().to_ascii_lowercase().as_str() {
                "id" => grantee(users, Some(v), None, false)?,
                "uri" => grantee(users, None, Some(v), false)?,
                "emailaddress" => grantee(users, None, None, true)?,
                _ => return Err(invalid(format!("Invalid grant: {item}"))),
            };
            grants.push(group(grantee, *permission));
        }
    }
    Ok(grants)
}

fn permission_from(p: Option<&Permission>) -> S3Result<AclPermission> {
    Ok(match p.map(Permission::as_str) {
        Some(Permission::FULL_CONTROL) => AclPermission::FullControl,
        Some(Permission::READ) => AclPermission::Read,
        Some(Permission::WRITE) => AclPermission::Write,
        Some(Permission::READ_ACP) => AclPermission::ReadAcp,
        Some(Permission::WRITE_ACP) => AclPermission::WriteAcp,
        _ => {
            return Err(s3_error!(
                MalformedACLError,
                "The XML you provided was not well-formed or did not validate against our published schema."
            ));
        }
    })
}

/// The grants of an `AccessControlPolicy` body.
fn policy_grants(users: &Users, policy: &AccessControlPolicy) -> S3Result<Vec<AclGrant>> {
    policy
        .grants
        .iter()
        .flatten()
        .map(|g| {
            let e = g.grantee.as_ref().ok_or_else(|| {
                s3_error!(
                    MalformedACLError,
                    "The XML you provided was not well-formed or did not validate against our published schema."
                )
            })?;
            let email = e.type_.as_str() == Type::AMAZON_CUSTOMER_BY_EMAIL || e.email_address.is_some();
            Ok(AclGrant {
                grantee: grantee(users, e.id.as_deref(), e.uri.as_deref(), email)?,
                permission: permission_from(g.permission.as_ref())?,
            })
        })
        .collect()
}

/// The grants `request` sets on a resource owned by `owner` in a bucket owned by `bucket_owner`; `None` when it
/// names no ACL. A canned ACL together with grant headers or a body is 400 `InvalidRequest`, as S3 answers.
pub fn grants_of(
    users: &Users,
    request: &AclRequest<'_>,
    owner: &str,
    bucket_owner: &str,
) -> S3Result<Option<Vec<AclGrant>>> {
    let given = [
        request.canned.is_some(),
        !request.headers.is_empty(),
        request.policy.is_some(),
    ];
    if given.iter().filter(|g| **g).count() > 1 {
        return Err(s3_error!(
            InvalidRequest,
            "Specifying both Canned ACLs and Header Grants is not allowed"
        ));
    }
    Ok(match (request.canned, request.policy) {
        (Some(c), _) => Some(canned_grants(c, owner, bucket_owner)?),
        (None, Some(p)) => Some(policy_grants(users, p)?),
        (None, None) if !request.headers.is_empty() => {
            Some(header_grants(users, &request.headers)?)
        }
        (None, None) => None,
    })
}

/// Whether `grants` give the caller (`None`: anonymous) `permission`; FULL_CONTROL gives every permission. With
/// `ignore_public` (IgnorePublicAcls), grants to the AllUsers and AuthenticatedUsers groups count for nobody.
pub fn allows(
    grants: &[AclGrant],
    caller: Option<&str>,
    permission: AclPermission,
    ignore_public: bool,
) -> bool {
    grants.iter().any(|g| {
        (g.permission == permission || g.permission == AclPermission::FullControl)
            && match &g.grantee {
                AclGrantee::User(id) => caller == Some(id.as_str()),
                AclGrantee::AllUsers => !ignore_public,
                AclGrantee::AuthenticatedUsers => !ignore_public && caller.is_some(),
                AclGrantee::LogDelivery => false,
            }
    })
}

/// Whether `grants` grant anything to the public groups (AllUsers, AuthenticatedUsers).
pub fn is_public(grants: &[AclGrant]) -> bool {
    grants.iter().any(|g| {
        matches!(
            g.grantee,
            AclGrantee::AllUsers | AclGrantee::AuthenticatedUsers
        )
    })
}

/// A resource's ACL: its stored grants, or the default (the owner's full control).
pub fn effective(acl: Option<&[AclGrant]>, owner: &str) -> Vec<AclGrant> {
    match acl {
        Some(grants) => grants.to_vec(),
        None => vec![user(owner, AclPermission::FullControl)],
    }
}

/// The owner as S3 answers it (the display name is the canonical id).
pub fn owner_dto(id: &str) -> Owner {
    Owner {
        id: Some(id.to_owned()),
        display_name: Some(id.to_owned()),
    }
}

/// `grants` as S3 answers them: the groups' grants first, then the users', each in the order given.
pub fn grants_dto(grants: &[AclGrant]) -> Grants {
    let dto = |g: &AclGrant| {
        let (id, uri, type_) = match &g.grantee {
            AclGrantee::User(id) => (Some(id.clone()), None, Type::CANONICAL_USER),
            AclGrantee::AllUsers => (None, Some(ALL_USERS), Type::GROUP),
            AclGrantee::AuthenticatedUsers => (None, Some(AUTHENTICATED_USERS), Type::GROUP),
            AclGrantee::LogDelivery => (None, Some(LOG_DELIVERY), Type::GROUP),
        };
        Grant {
            grantee: Some(Grantee {
                display_name: id.clone(),
                id,
                type_: Type::from_static(type_),
                email_address: None,
                uri: uri.map(str::to_owned),
            }),
            permission: Some(Permission::from_static(match g.permission {
                AclPermission::FullControl => Permission::FULL_CONTROL,
                AclPermission::Read => Permission::READ,
                AclPermission::Write => Permission::WRITE,
                AclPermission::ReadAcp => Permission::READ_ACP,
                AclPermission::WriteAcp => Permission::WRITE_ACP,
            })),
        }
    };
    let is_user = |g: &&AclGrant| matches!(g.grantee, AclGrantee::User(_));
    let groups = grants.iter().filter(|g| !is_user(g));
    groups
        .chain(grants.iter().filter(is_user))
        .map(dto)
        .collect()
}

/// Whether a canned ACL only says "the owner has full control".
fn owner_only(canned: &str) -> bool {
    canned == ObjectCannedACL::PRIVATE || canned == ObjectCannedACL::BUCKET_OWNER_FULL_CONTROL
}

/// Under `BucketOwnerEnforced`, `Ok` when an object write (PutObject, CopyObject, CreateMultipartUpload) names no
/// ACL, or only the owner's full control; `AccessControlListNotSupported` otherwise.
fn check_enforced_write(request: &AclRequest<'_>) -> S3Result<()> {
    if request.canned.is_some_and(|a| !owner_only(a)) || !request.headers.is_empty() {
        return Err(not_supported());
    }
    Ok(())
}

/// Under `BucketOwnerEnforced`, `Ok` when a PutBucketAcl / PutObjectAcl only restates the owner's full control:
/// a canned `private` or `bucket-owner-full-control`, or a body whose every grant is FULL_CONTROL to the owner.
fn check_enforced_acl(request: &AclRequest<'_>, owner: &str) -> S3Result<()> {
    if !request.headers.is_empty() {
        return Err(not_supported());
    }
    match (request.canned, request.policy) {
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
        (None, None) => Err(missing_acl()),
        _ => Err(not_supported()),
    }
}

fn missing_acl() -> S3Error {
    s3_error!(
        MissingSecurityHeader,
        "Your request was missing a required header: x-amz-acl or an AccessControlPolicy body"
    )
}

/// 403 AccessDenied for public `grants` when the bucket's public-access block has `BlockPublicAcls`.
fn check_public_block(block_public_acls: bool, grants: Option<&[AclGrant]>) -> S3Result<()> {
    if block_public_acls && grants.is_some_and(is_public) {
        return Err(s3_error!(
            AccessDenied,
            "The bucket's public access block (BlockPublicAcls) forbids public ACLs"
        ));
    }
    Ok(())
}

/// Checks a CreateBucket's ownership and ACL: under `BucketOwnerEnforced` only the owner's full control is
/// accepted (`InvalidBucketAclWithObjectOwnership` otherwise, as S3 answers); with ACLs on, the grants to store.
pub fn create_bucket_acl(
    users: &Users,
    ownership: ObjectOwnership,
    request: &AclRequest<'_>,
    owner: &str,
) -> S3Result<Option<Vec<AclGrant>>> {
    if ownership.is_enforced() {
        if request
            .canned
            .is_some_and(|a| a != BucketCannedACL::PRIVATE)
            || !request.headers.is_empty()
        {
            return Err(s3_error!(
                InvalidBucketAclWithObjectOwnership,
                "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting"
            ));
        }
        return Ok(None);
    }
    grants_of(users, request, owner, owner)
}

/// S3's Object Ownership name of `o`.
pub fn ownership_name(o: ObjectOwnership) -> &'static str {
    match o {
        ObjectOwnership::BucketOwnerEnforced => ObjectOwnership_::BUCKET_OWNER_ENFORCED,
        ObjectOwnership::BucketOwnerPreferred => ObjectOwnership_::BUCKET_OWNER_PREFERRED,
        ObjectOwnership::ObjectWriter => ObjectOwnership_::OBJECT_WRITER,
    }
}

/// The Object Ownership S3 names `name`; `InvalidArgument` for another.
pub fn ownership_from(name: &str) -> S3Result<ObjectOwnership> {
    match name {
        ObjectOwnership_::BUCKET_OWNER_ENFORCED => Ok(ObjectOwnership::BucketOwnerEnforced),
        ObjectOwnership_::BUCKET_OWNER_PREFERRED => Ok(ObjectOwnership::BucketOwnerPreferred),
        ObjectOwnership_::OBJECT_WRITER => Ok(ObjectOwnership::ObjectWriter),
        other => Err(invalid(format!("Invalid Object Ownership: {other}"))),
    }
}

impl StrataS3 {
    /// The owner and ACL a new version gets from its write (PutObject, CopyObject, CreateMultipartUpload) by the
    /// caller of `credentials` (`None`: anonymous) into `bucket`: `(None, None)` (the bucket owner, the default ACL)
    /// unless the bucket's ACLs count. Refuses an ACL that the bucket does not allow.
    pub(super) async fn acl_of_write(
        &self,
        bucket: &str,
        credentials: Option<&s3s::auth::Credentials>,
        request: &AclRequest<'_>,
    ) -> S3Result<(Option<String>, Option<Vec<AclGrant>>)> {
        let writer = credentials.map(|c| c.access_key.as_str());
        let Some(auth) = self.policies.get(bucket).await else {
            // No such bucket: the write itself answers NoSuchBucket.
            return Ok((None, None));
        };
        if auth.ownership.is_enforced() {
            check_enforced_write(request)?;
            return Ok((None, None));
        }
        let bucket_owner = auth.owner.as_deref().or(writer).unwrap_or_default();
        let owner = match (auth.ownership, request.canned) {
            (ObjectOwnership::BucketOwnerPreferred, Some(c))
                if c == ObjectCannedACL::BUCKET_OWNER_FULL_CONTROL =>
            {
                bucket_owner
            }
            _ => writer.unwrap_or(bucket_owner),
        };
        let grants = grants_of(&self.users, request, owner, bucket_owner)?;
        check_public_block(auth.block_public_acls, grants.as_deref())?;
        let owner = (owner != bucket_owner).then(|| owner.to_owned());
        Ok((owner, grants))
    }

    pub(super) async fn get_bucket_acl_impl(
        &self,
        req: S3Request<GetBucketAclInput>,
    ) -> S3Result<S3Response<GetBucketAclOutput>> {
        let rec = self.bucket_record(&req.input.bucket).await?;
        let owner = super::bucket::bucket_owner(&rec, req.credentials.as_ref());
        let acl = (!rec.object_ownership.is_enforced())
            .then_some(rec.acl.as_deref())
            .flatten();
        Ok(S3Response::new(GetBucketAclOutput {
            owner: Some(owner_dto(&owner)),
            grants: Some(grants_dto(&effective(acl, &owner))),
        }))
    }

    /// What an object ACL call works on: the bucket's record, the version the request names, and that version's
    /// owner and the bucket's (a bucket made before owners were recorded counts as the caller's).
    async fn version_acl_context(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        credentials: Option<&s3s::auth::Credentials>,
    ) -> S3Result<(catalog::BucketRecord, catalog::ObjectRecord, String, String)> {
        let record = self.bucket_record(bucket).await?;
        let rec = self.lookup_version(bucket, key, version).await?;
        let bucket_owner = super::bucket::bucket_owner(&record, credentials);
        let owner = rec
            .meta
            .owner
            .clone()
            .unwrap_or_else(|| bucket_owner.clone());
        Ok((record, rec, owner, bucket_owner))
    }

    pub(super) async fn get_object_acl_impl(
        &self,
        req: S3Request<GetObjectAclInput>,
    ) -> S3Result<S3Response<GetObjectAclOutput>> {
        let i = &req.input;
        let (bucket, rec, owner, _) = self
            .version_acl_context(
                &i.bucket,
                &i.key,
                i.version_id.as_deref(),
                req.credentials.as_ref(),
            )
            .await?;
        let acl = (!bucket.object_ownership.is_enforced())
            .then_some(rec.meta.acl.as_deref())
            .flatten();
        Ok(S3Response::new(GetObjectAclOutput {
            owner: Some(owner_dto(&owner)),
            grants: Some(grants_dto(&effective(acl, &owner))),
            request_charged: None,
        }))
    }

    pub(super) async fn put_bucket_acl_impl(
        &self,
        req: S3Request<PutBucketAclInput>,
    ) -> S3Result<S3Response<PutBucketAclOutput>> {
        let i = &req.input;
        let rec = self.bucket_record(&i.bucket).await?;
        let owner = super::bucket::bucket_owner(&rec, req.credentials.as_ref());
        let mut request = acl_request!(i, bucket);
        request.policy = i.access_control_policy.as_ref();
        if rec.object_ownership.is_enforced() {
            check_enforced_acl(&request, &owner)?;
            return Ok(S3Response::new(PutBucketAclOutput {}));
        }
        let grants = grants_of(&self.users, &request, &owner, &owner)?.ok_or_else(missing_acl)?;
        check_public_block(
            rec.public_access_block.is_some_and(|b| b.block_public_acls),
            Some(&grants),
        )?;
        self.update_bucket_record(&i.bucket, move |r| r.acl = Some(grants.clone()))
            .await?;
        Ok(S3Response::new(PutBucketAclOutput {}))
    }

    pub(super) async fn put_object_acl_impl(
        &self,
        req: S3Request<PutObjectAclInput>,
    ) -> S3Result<S3Response<PutObjectAclOutput>> {
        let i = &req.input;
        let (bucket, rec, owner, bucket_owner) = self
            .version_acl_context(
                &i.bucket,
                &i.key,
                i.version_id.as_deref(),
                req.credentials.as_ref(),
            )
            .await?;
        let mut request = acl_request!(i);
        request.policy = i.access_control_policy.as_ref();
        if bucket.object_ownership.is_enforced() {
            check_enforced_acl(&request, &owner)?;
            return Ok(S3Response::new(PutObjectAclOutput::default()));
        }
        let grants =
            grants_of(&self.users, &request, &owner, &bucket_owner)?.ok_or_else(missing_acl)?;
        check_public_block(
            bucket
                .public_access_block
                .is_some_and(|b| b.block_public_acls),
            Some(&grants),
        )?;
        let (b, k, v) = (
            i.bucket.clone(),
            i.key.clone(),
            rec.version_label().to_owned(),
        );
        self.strata
            .with_catalog(move |c| {
                c.update_version_meta(&b, &k, &v, &mut |m| m.acl = Some(grants.clone()))
            })
            .await
            .map_err(super::errors::catalog_err)?;
        Ok(S3Response::new(PutObjectAclOutput::default()))
    }

    pub(super) async fn get_bucket_ownership_controls_impl(
        &self,
        req: S3Request<GetBucketOwnershipControlsInput>,
    ) -> S3Result<S3Response<GetBucketOwnershipControlsOutput>> {
        let rec = self.bucket_record(&req.input.bucket).await?;
        Ok(S3Response::new(GetBucketOwnershipControlsOutput {
            ownership_controls: Some(OwnershipControls {
                rules: vec![OwnershipControlsRule {
                    object_ownership: ObjectOwnership_::from_static(ownership_name(
                        rec.object_ownership,
                    )),
                }],
            }),
        }))
    }

    /// PutBucketOwnershipControls: one rule, naming one of S3's three settings. Switching to
    /// `BucketOwnerEnforced` disables the ACLs (they are kept, and count again if ACLs are enabled again).
    pub(super) async fn put_bucket_ownership_controls_impl(
        &self,
        req: S3Request<PutBucketOwnershipControlsInput>,
    ) -> S3Result<S3Response<PutBucketOwnershipControlsOutput>> {
        let i = &req.input;
        self.require_bucket(&i.bucket).await?;
        let [rule] = i.ownership_controls.rules.as_slice() else {
            return Err(s3_error!(
                MalformedXML,
                "The XML you provided was not well-formed or did not validate against our published schema"
            ));
        };
        let ownership = ownership_from(rule.object_ownership.as_str())?;
        self.update_bucket_record(&i.bucket, move |r| r.object_ownership = ownership)
            .await?;
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
    use crate::config::AccessLevel;

    fn code<T: std::fmt::Debug>(r: S3Result<T>) -> Option<S3ErrorCode> {
        r.err().map(|e| e.code().clone())
    }

    fn users() -> Users {
        let mut u = Users::default();
        u.insert("me".into(), "secret-me".into(), AccessLevel::Full, None);
        u.insert("you".into(), "secret-you".into(), AccessLevel::Own, None);
        u
    }

    fn req<'a>(canned: Option<&'a str>, headers: Vec<(&'a str, AclPermission)>) -> AclRequest<'a> {
        AclRequest {
            canned,
            headers,
            policy: None,
        }
    }

    #[test]
    fn enforced_buckets_accept_only_the_owners_full_control() {
        assert!(check_enforced_write(&req(None, vec![])).is_ok());
        for ok in ["private", "bucket-owner-full-control"] {
            assert!(check_enforced_write(&req(Some(ok), vec![])).is_ok());
        }
        assert_eq!(
            code(check_enforced_write(&req(Some("public-read"), vec![]))),
            Some(S3ErrorCode::AccessControlListNotSupported)
        );
        assert_eq!(
            code(check_enforced_write(&req(
                None,
                vec![("id=\"someone\"", AclPermission::Read)]
            ))),
            Some(S3ErrorCode::AccessControlListNotSupported)
        );
        assert_eq!(
            code(create_bucket_acl(
                &users(),
                ObjectOwnership::BucketOwnerEnforced,
                &req(Some("public-read"), vec![]),
                "me"
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
        let with_policy = |p| AclRequest {
            canned: None,
            headers: vec![],
            policy: Some(p),
        };
        let p = owner_policy("me", "FULL_CONTROL");
        assert!(check_enforced_acl(&with_policy(&p), "me").is_ok());
        let p = owner_policy("you", "FULL_CONTROL");
        assert_eq!(
            code(check_enforced_acl(&with_policy(&p), "me")),
            Some(S3ErrorCode::AccessControlListNotSupported)
        );
        let p = owner_policy("me", "READ");
        assert_eq!(
            code(check_enforced_acl(&with_policy(&p), "me")),
            Some(S3ErrorCode::AccessControlListNotSupported)
        );
    }

    #[test]
    fn canned_acls_and_grant_headers_resolve_to_grants() {
        let u = users();
        let g = grants_of(&u, &req(Some("public-read"), vec![]), "me", "me")
            .unwrap()
            .unwrap();
        assert!(allows(&g, None, AclPermission::Read, false));
        assert!(!allows(&g, None, AclPermission::Read, true));
        assert!(!allows(&g, None, AclPermission::Write, false));
        assert!(allows(&g, Some("me"), AclPermission::WriteAcp, false));
        assert!(is_public(&g));
        let g = grants_of(&u, &req(Some("bucket-owner-read"), vec![]), "you", "me")
            .unwrap()
            .unwrap();
        assert!(allows(&g, Some("me"), AclPermission::Read, false));
        assert!(!allows(&g, Some("me"), AclPermission::Write, false));
        assert!(!is_public(&g));
        let g = grants_of(
            &u,
            &req(
                None,
                vec![(
                    "id=\"you\", uri=\"http://acs.amazonaws.com/groups/global/AuthenticatedUsers\"",
                    AclPermission::Read,
                )],
            ),
            "me",
            "me",
        )
        .unwrap()
        .unwrap();
        assert!(allows(&g, Some("you"), AclPermission::Read, false));
        assert!(!allows(&g, None, AclPermission::Read, false));
        // Groups come first in an answer.
        let dto = grants_dto(&g);
        assert_eq!(dto[0].grantee.as_ref().unwrap().type_.as_str(), "Group");
        assert_eq!(
            code(grants_of(
                &u,
                &req(None, vec![("id=\"nobody\"", AclPermission::Read)]),
                "me",
                "me"
            )),
            Some(S3ErrorCode::InvalidArgument)
        );
        assert_eq!(
            code(grants_of(
                &u,
                &req(None, vec![("emailAddress=\"a@b.c\"", AclPermission::Read)]),
                "me",
                "me"
            )),
            Some(S3ErrorCode::UnresolvableGrantByEmailAddress)
        );
        assert_eq!(
            code(grants_of(
                &u,
                &req(Some("private"), vec![("id=\"you\"", AclPermission::Read)]),
                "me",
                "me"
            )),
            Some(S3ErrorCode::InvalidRequest)
        );
        assert_eq!(
            code(grants_of(&u, &req(Some("nonsense"), vec![]), "me", "me")),
            Some(S3ErrorCode::InvalidArgument)
        );
    }
}
