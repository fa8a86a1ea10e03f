//! Who may call the S3 endpoint. A request is allowed, in this order:
//!
//! 1. never when the bucket's policy ([`super::policy`]) has a matching Deny (except the policy calls themselves, so
//!    an owner cannot lock themselves out); always when it has a matching Allow;
//! 2. for a signed user, by its own rights: a `read-only` user only for read operations; a user of its own account
//!    (`own`) on the buckets it owns; any other user where its per-bucket grants allow the operation's permission
//!    ([`permission_of`]: read, write, list, admin; every bucket without grants) or on a bucket it created;
//! 3. by the ACLs of a bucket whose ownership enables them ([`super::acl`]): the bucket's for bucket operations and
//!    writes, the object version's for reads of it, AllUsers grants for anonymous callers too (unless the bucket's
//!    public-access block ignores public ACLs).
//!
//! Anonymous requests get only steps 1 and 3 (a public policy's Allow unless `RestrictPublicBuckets`). A copy also
//! needs to be allowed GetObject on its source; bypassing a governance retention needs admin.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::{S3Auth, SecretKey};
use s3s::{S3Result, s3_error};

use catalog::AclPermission;

use super::acl;
use super::policy::{
    BucketAuth, Caller, ClientAddr, Decision, RequestContext, action_of, resource_of,
};
use crate::config::{AccessLevel, Grant, Permission};

/// One S3 user.
#[derive(Clone, Debug)]
pub struct User {
    pub secret_key: String,
    pub access: AccessLevel,
    /// `None`: every bucket; `Some`: only what these grants allow.
    pub grants: Option<Vec<Grant>>,
}

impl User {
    /// Whether the user's grants allow `permission` on `bucket` (no grants: every bucket).
    fn may(&self, bucket: &str, permission: Permission) -> bool {
        self.grants
            .as_ref()
            .is_none_or(|gs| gs.iter().any(|g| g.allows(bucket, permission)))
    }
}

/// The users the gateway knows, by access key: those of the config and root (fixed at start) and those managed
/// through the admin API (`crate::users`, replaced as a whole when they change). Clones share the managed set.
#[derive(Clone, Debug, Default)]
pub struct Users {
    fixed: Arc<HashMap<String, Arc<User>>>,
    managed: Arc<RwLock<HashMap<String, Arc<User>>>>,
}

impl Users {
    /// Adds a user of the config (or root), before the gateway serves.
    pub fn insert(
        &mut self,
        access_key: String,
        secret_key: String,
        access: AccessLevel,
        grants: Option<Vec<Grant>>,
    ) {
        Arc::make_mut(&mut self.fixed).insert(
            access_key,
            Arc::new(User {
                secret_key,
                access,
                grants,
            }),
        );
    }

    /// The user with this access key (a fixed user wins over a managed one of the same key).
    pub fn get(&self, access_key: &str) -> Option<Arc<User>> {
        if let Some(u) = self.fixed.get(access_key) {
            return Some(u.clone());
        }
        self.managed
            .read()
            .ok()
            .and_then(|m| m.get(access_key).cloned())
    }

    /// Whether `access_key` belongs to the config or root (those cannot be changed through the admin API).
    pub fn is_fixed(&self, access_key: &str) -> bool {
        self.fixed.contains_key(access_key)
    }

    /// Replaces the managed users.
    pub fn set_managed(&self, users: impl IntoIterator<Item = (String, User)>) {
        let map = users.into_iter().map(|(k, u)| (k, Arc::new(u))).collect();
        if let Ok(mut m) = self.managed.write() {
            *m = map;
        }
    }

    /// (access key, level, grants, managed?), sorted, for the admin API. Secrets are never listed.
    pub fn summary(&self) -> Vec<(String, AccessLevel, Option<Vec<Grant>>, bool)> {
        let mut v: Vec<_> = self
            .fixed
            .iter()
            .map(|(k, u)| (k.clone(), u.access, u.grants.clone(), false))
            .collect();
        if let Ok(m) = self.managed.read() {
            v.extend(
                m.iter()
                    .filter(|(k, _)| !self.fixed.contains_key(*k))
                    .map(|(k, u)| (k.clone(), u.access, u.grants.clone(), true)),
            );
        }
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }
}

/// Secret lookup for s3s's signature check.
pub struct StrataAuth(pub Users);

#[async_trait::async_trait]
impl S3Auth for StrataAuth {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        match self.0.get(access_key) {
            Some(u) => Ok(SecretKey::from(u.secret_key.as_str())),
            None => Err(s3_error!(
                InvalidAccessKeyId,
                "The AWS Access Key Id you provided does not exist in our records."
            )),
        }
    }
}

/// Operations a read-only user may call.
const READ_OPS: &[&str] = &[
    "ListBuckets",
    "HeadBucket",
    "GetBucketLocation",
    "GetObject",
    "HeadObject",
    "ListObjects",
    "ListObjectsV2",
    "ListObjectVersions",
    "ListParts",
    "ListMultipartUploads",
    "GetObjectTagging",
    "GetBucketTagging",
    "GetBucketVersioning",
    "GetObjectAttributes",
    "GetBucketAcl",
    "GetObjectAcl",
    "GetBucketOwnershipControls",
    "GetBucketCors",
    "GetBucketLifecycleConfiguration",
    "GetPublicAccessBlock",
    "GetObjectRetention",
    "GetObjectLegalHold",
    "GetObjectLockConfiguration",
];

/// The permission a grant must give for operation `op` on a bucket or its objects (bucket-level operations not
/// named here — configuration, creation, deletion — need admin).
pub fn permission_of(op: &str) -> Permission {
    match op {
        "ListObjects"
        | "ListObjectsV2"
        | "ListObjectVersions"
        | "ListMultipartUploads"
        | "HeadBucket"
        | "GetBucketLocation" => Permission::List,
        "GetObject"
        | "HeadObject"
        | "GetObjectTagging"
        | "GetObjectAttributes"
        | "GetObjectAcl"
        | "GetObjectRetention"
        | "GetObjectLegalHold" => Permission::Read,
        "PutObject"
        | "DeleteObject"
        | "DeleteObjects"
        | "CopyObject"
        | "CreateMultipartUpload"
        | "UploadPart"
        | "UploadPartCopy"
        | "CompleteMultipartUpload"
        | "AbortMultipartUpload"
        | "ListParts"
        | "PutObjectTagging"
        | "DeleteObjectTagging"
        | "PutObjectAcl"
        | "PutObjectRetention"
        | "PutObjectLegalHold"
        | "PostObject" => Permission::Write,
        _ => Permission::Admin,
    }
}

fn no_grant(bucket: &str, permission: Permission) -> s3s::S3Error {
    s3_error!(
        AccessDenied,
        "No grant of this user allows {} on bucket {bucket}",
        match permission {
            Permission::Read => "read",
            Permission::Write => "write",
            Permission::List => "list",
            Permission::Admin => "admin",
        }
    )
}

/// What a request reaches: its operation, bucket, and object (version) if any, with the bucket's access settings
/// (`None`: no such bucket).
struct Target<'a> {
    op: &'a str,
    bucket: &'a str,
    key: Option<&'a str>,
    version: Option<&'a str>,
    auth: Option<&'a BucketAuth>,
}

/// Whether an ACL's grant is checked on the bucket or on the object (version) a request names.
#[derive(Clone, Copy)]
enum AclTarget {
    Bucket,
    Object,
}

/// What an ACL must grant for operation `op` (S3's mapping of ACL permissions to operations); `None` for
/// operations no ACL grants (bucket configuration, deletion: the owner's, or a grant's or policy's).
fn acl_permission_of(op: &str) -> Option<(AclTarget, AclPermission)> {
    use AclPermission::*;
    use AclTarget::*;
    Some(match op {
        "ListObjects"
        | "ListObjectsV2"
        | "ListObjectVersions"
        | "ListMultipartUploads"
        | "HeadBucket" => (Bucket, Read),
        "PutObject"
        | "DeleteObject"
        | "DeleteObjects"
        | "CopyObject"
        | "CreateMultipartUpload"
        | "UploadPart"
        | "UploadPartCopy"
        | "CompleteMultipartUpload"
        | "AbortMultipartUpload"
        | "ListParts"
        | "PostObject" => (Bucket, Write),
        "GetBucketAcl" => (Bucket, ReadAcp),
        "PutBucketAcl" => (Bucket, WriteAcp),
        "GetObject" | "HeadObject" | "GetObjectAttributes" => (Object, Read),
        "GetObjectAcl" => (Object, ReadAcp),
        "PutObjectAcl" => (Object, WriteAcp),
        _ => return None,
    })
}

/// Whether user `u` (access key `key`) may call the target's operation by its own rights: a user of its own
/// account on the buckets it owns (and CreateBucket, whose handler refuses another's name); any other user where
/// its grants allow `permission`, or on a bucket it created.
fn user_may(u: &User, key: &str, t: &Target<'_>, permission: Permission) -> bool {
    let owns = t.auth.is_some_and(|a| a.owner.as_deref() == Some(key));
    match u.access {
        AccessLevel::Own => owns || t.op == "CreateBucket",
        AccessLevel::Full | AccessLevel::ReadOnly => owns || u.may(t.bucket, permission),
    }
}

/// Authorisation after a valid signature: restrict read-only users, apply per-bucket grants, ownership, ACLs and
/// bucket policies.
pub struct StrataAccess {
    pub users: Users,
    pub policies: std::sync::Arc<super::policy::BucketPolicies>,
}

/// Operations a bucket policy's Deny never blocks (the owner must always be able to fix the policy).
const POLICY_OPS: &[&str] = &["GetBucketPolicy", "PutBucketPolicy", "DeleteBucketPolicy"];

impl StrataAccess {
    /// Whether the ACLs let `caller` (`None`: anonymous) call the target's operation: the bucket's ACL, or for an
    /// object operation the version's (its owner has full control; a missing object falls back to the bucket's
    /// READ, so that who may list learns NoSuchKey). A missing bucket lets the operation answer NoSuchBucket itself.
    async fn acl_allows(&self, caller: Option<&str>, t: &Target<'_>) -> bool {
        let Some((on, permission)) = acl_permission_of(t.op) else {
            return false;
        };
        let Some(auth) = t.auth else {
            // Only a bucket the catalog says is missing (not one it failed to read) lets the operation answer
            // NoSuchBucket itself.
            return self.policies.is_missing(t.bucket).await;
        };
        if auth.ownership.is_enforced() {
            return false;
        }
        let bucket_owner = auth.owner.as_deref().unwrap_or_default();
        let bucket_allows = |permission| {
            acl::allows(
                &acl::effective(auth.acl.as_deref(), bucket_owner),
                caller,
                permission,
                auth.ignore_public_acls,
            )
        };
        match (on, t.key) {
            (AclTarget::Object, Some(key)) => {
                match self.policies.object(t.bucket, key, t.version).await {
                    Some(rec) => {
                        let owner = rec.meta.owner.as_deref().unwrap_or(bucket_owner);
                        caller == Some(owner)
                            || acl::allows(
                                &acl::effective(rec.meta.acl.as_deref(), owner),
                                caller,
                                permission,
                                auth.ignore_public_acls,
                            )
                    }
                    None => bucket_allows(AclPermission::Read),
                }
            }
            (AclTarget::Object, None) => false,
            (AclTarget::Bucket, _) => bucket_allows(permission),
        }
    }

    /// Bypassing a governance retention (`x-amz-bypass-governance-retention`) needs admin on the bucket (or, for a
    /// user of its own account, owning it).
    async fn check_bypass(
        &self,
        creds: Option<&s3s::auth::Credentials>,
        bucket: &str,
        bypass: Option<bool>,
    ) -> S3Result<()> {
        if bypass != Some(true) {
            return Ok(());
        }
        let auth = self.policies.get(bucket).await;
        let target = Target {
            op: "BypassGovernanceRetention",
            bucket,
            key: None,
            version: None,
            auth: auth.as_deref(),
        };
        match creds.and_then(|c| Some((c, self.users.get(&c.access_key)?))) {
            Some((c, u))
                if u.access != AccessLevel::ReadOnly
                    && user_may(&u, &c.access_key, &target, Permission::Admin) =>
            {
                Ok(())
            }
            _ => Err(no_grant(bucket, Permission::Admin)),
        }
    }

    /// A copy reads its source: the caller needs to be allowed GetObject on it, by a grant, ownership, the source
    /// bucket's policy or an ACL.
    async fn check_copy_source(
        &self,
        creds: Option<&s3s::auth::Credentials>,
        source: &s3s::dto::CopySource,
    ) -> S3Result<()> {
        let s3s::dto::CopySource::Bucket {
            bucket,
            key,
            version_id,
        } = source
        else {
            return Ok(());
        };
        let Some(creds) = creds else {
            // A public policy may let anonymous callers write, never read another bucket through a copy.
            return Err(s3_error!(AccessDenied, "Anonymous copies are not allowed"));
        };
        let Some(u) = self.users.get(&creds.access_key) else {
            return Err(s3_error!(AccessDenied));
        };
        let auth = self.policies.get(bucket).await;
        let decision =
            auth.as_ref()
                .and_then(|a| a.policy.as_ref())
                .map_or(Decision::Silent, |p| {
                    p.decide(
                        Caller::User(&creds.access_key),
                        &action_of("GetObject", version_id.is_some()),
                        &resource_of(bucket, Some(key)),
                        &RequestContext::default(),
                    )
                });
        let target = Target {
            op: "GetObject",
            bucket,
            key: Some(key),
            version: version_id.as_deref(),
            auth: auth.as_deref(),
        };
        let allowed = match decision {
            Decision::Deny => false,
            Decision::Allow => true,
            Decision::Silent => {
                user_may(&u, &creds.access_key, &target, Permission::Read)
                    || self.acl_allows(Some(&creds.access_key), &target).await
            }
        };
        if allowed {
            Ok(())
        } else {
            Err(no_grant(bucket, Permission::Read))
        }
    }
}

#[async_trait::async_trait]
impl S3Access for StrataAccess {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        // Tell the metrics layer which operation this request is.
        let op = cx.s3_op().name().to_owned();
        let (bucket, key) = match cx.s3_path() {
            s3s::path::S3Path::Root => (String::new(), String::new()),
            s3s::path::S3Path::Bucket { bucket } => (bucket.to_string(), String::new()),
            s3s::path::S3Path::Object { bucket, key } => (bucket.to_string(), key.to_string()),
        };
        if let Some(slot) = cx.extensions_mut().get::<crate::request_metrics::OpSlot>() {
            let _ = slot
                .0
                .set(crate::request_metrics::RequestTarget { op, bucket, key });
        }
        let client = cx.extensions_mut().get::<ClientAddr>().map(|a| a.0);
        let op = cx.s3_op().name();
        let (bucket, key) = match cx.s3_path() {
            s3s::path::S3Path::Root => (None, None),
            s3s::path::S3Path::Bucket { bucket } => (Some(bucket.to_string()), None),
            s3s::path::S3Path::Object { bucket, key } => {
                (Some(bucket.to_string()), Some(key.to_string()))
            }
        };
        let caller = match cx.credentials() {
            Some(c) => Caller::User(&c.access_key),
            None => Caller::Anonymous,
        };
        let auth = match &bucket {
            Some(b) => self.policies.get(b).await,
            None => None,
        };
        // What the bucket's policy says (nothing for ListBuckets, or a bucket without a policy).
        let restrict_public = auth.as_ref().is_some_and(|a| a.restrict_public);
        let decision = match (&bucket, auth.as_ref().and_then(|a| a.policy.as_ref())) {
            (Some(b), Some(policy)) => {
                let has_version = cx
                    .uri()
                    .query()
                    .is_some_and(|q| q.split('&').any(|p| p.starts_with("versionId=")));
                let existing_tags = match &key {
                    Some(k) if policy.needs_existing_tags() => {
                        self.policies.object_tags(b, k).await
                    }
                    _ => None,
                };
                let request = RequestContext {
                    source_ip: client,
                    secure_transport: false,
                    headers: Some(cx.headers()),
                    query: cx.uri().query(),
                    existing_tags: existing_tags.as_ref(),
                };
                policy.decide(
                    caller,
                    &action_of(op, has_version),
                    &resource_of(b, key.as_deref()),
                    &request,
                )
            }
            _ => Decision::Silent,
        };
        let version = cx
            .uri()
            .query()
            .and_then(|q| q.split('&').find_map(|p| p.strip_prefix("versionId=")))
            .map(|v| {
                percent_encoding::percent_decode_str(v)
                    .decode_utf8_lossy()
                    .into_owned()
            });
        let target = bucket.as_deref().map(|b| Target {
            op,
            bucket: b,
            key: key.as_deref(),
            version: version.as_deref(),
            auth: auth.as_deref(),
        });
        // `x-amz-expected-bucket-owner`: a bucket owned by another answers 403, whoever asks.
        if let (Some(t), Some(expected)) =
            (&target, cx.headers().get("x-amz-expected-bucket-owner"))
            && t.auth.is_some()
        {
            let owner = t
                .auth
                .and_then(|a| a.owner.as_deref())
                .or(cx.credentials().map(|c| c.access_key.as_str()));
            if owner.is_none_or(|o| o.as_bytes() != expected.as_bytes()) {
                return Err(s3_error!(
                    AccessDenied,
                    "The bucket has another owner than the one expected"
                ));
            }
        }
        let Some(creds) = cx.credentials() else {
            if decision == Decision::Allow && !restrict_public {
                return Ok(());
            }
            return match target {
                Some(t) if decision != Decision::Deny && self.acl_allows(None, &t).await => Ok(()),
                _ => Err(s3_error!(AccessDenied, "Anonymous access is not allowed")),
            };
        };
        let Some(u) = self.users.get(&creds.access_key) else {
            return Err(s3_error!(AccessDenied));
        };
        if decision == Decision::Deny && !POLICY_OPS.contains(&op) {
            return Err(s3_error!(
                AccessDenied,
                "Access Denied by an explicit deny in the bucket policy"
            ));
        }
        if decision == Decision::Allow {
            return Ok(());
        }
        if u.access == AccessLevel::ReadOnly && !READ_OPS.contains(&op) {
            return Err(s3_error!(AccessDenied, "This user has read-only access"));
        }
        let Some(target) = target else {
            return Ok(());
        };
        let permission = permission_of(op);
        if user_may(&u, &creds.access_key, &target, permission)
            || self.acl_allows(Some(&creds.access_key), &target).await
        {
            Ok(())
        } else {
            Err(no_grant(target.bucket, permission))
        }
    }

    async fn copy_object(
        &self,
        req: &mut s3s::S3Request<s3s::dto::CopyObjectInput>,
    ) -> S3Result<()> {
        self.check_copy_source(req.credentials.as_ref(), &req.input.copy_source)
            .await
    }

    async fn upload_part_copy(
        &self,
        req: &mut s3s::S3Request<s3s::dto::UploadPartCopyInput>,
    ) -> S3Result<()> {
        self.check_copy_source(req.credentials.as_ref(), &req.input.copy_source)
            .await
    }

    async fn delete_object(
        &self,
        req: &mut s3s::S3Request<s3s::dto::DeleteObjectInput>,
    ) -> S3Result<()> {
        let i = &req.input;
        self.check_bypass(
            req.credentials.as_ref(),
            &i.bucket,
            i.bypass_governance_retention,
        )
        .await
    }

    async fn delete_objects(
        &self,
        req: &mut s3s::S3Request<s3s::dto::DeleteObjectsInput>,
    ) -> S3Result<()> {
        let i = &req.input;
        self.check_bypass(
            req.credentials.as_ref(),
            &i.bucket,
            i.bypass_governance_retention,
        )
        .await
    }

    async fn put_object_retention(
        &self,
        req: &mut s3s::S3Request<s3s::dto::PutObjectRetentionInput>,
    ) -> S3Result<()> {
        let i = &req.input;
        self.check_bypass(
            req.credentials.as_ref(),
            &i.bucket,
            i.bypass_governance_retention,
        )
        .await
    }
}
