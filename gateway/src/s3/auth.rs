//! Who may call the S3 endpoint: users from the config, each with full or read-only access and, if the config
//! gives them, per-bucket grants (read, write, list, admin: [`permission_of`] says which an operation needs; a copy
//! also needs read on its source bucket), and each bucket's policy ([`super::policy`]): a matching Deny refuses
//! whatever the grants say (except the policy calls themselves, so an owner cannot lock themselves out), a matching
//! Allow admits what the grants do not. Anonymous requests are denied unless a public policy allows them and the
//! bucket's public-access block does not restrict it.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::{S3Auth, SecretKey};
use s3s::{S3Result, s3_error};

use super::policy::{Caller, ClientAddr, Decision, RequestContext, action_of, resource_of};
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

/// Authorisation after a valid signature: restrict read-only users, apply per-bucket grants and bucket policies.
pub struct StrataAccess {
    pub users: Users,
    pub policies: std::sync::Arc<super::policy::BucketPolicies>,
}

/// Operations a bucket policy's Deny never blocks (the owner must always be able to fix the policy).
const POLICY_OPS: &[&str] = &["GetBucketPolicy", "PutBucketPolicy", "DeleteBucketPolicy"];

impl StrataAccess {
    /// Bypassing a governance retention (`x-amz-bypass-governance-retention`) needs admin on the bucket.
    fn check_bypass(
        &self,
        creds: Option<&s3s::auth::Credentials>,
        bucket: &str,
        bypass: Option<bool>,
    ) -> S3Result<()> {
        if bypass != Some(true) {
            return Ok(());
        }
        match creds.and_then(|c| self.users.get(&c.access_key)) {
            Some(u) if u.may(bucket, Permission::Admin) && u.access != AccessLevel::ReadOnly => {
                Ok(())
            }
            _ => Err(no_grant(bucket, Permission::Admin)),
        }
    }

    /// A copy reads its source: the caller needs read on the source bucket too.
    fn check_copy_source(
        &self,
        creds: Option<&s3s::auth::Credentials>,
        source: &s3s::dto::CopySource,
    ) -> S3Result<()> {
        let s3s::dto::CopySource::Bucket { bucket, .. } = source else {
            return Ok(());
        };
        let Some(creds) = creds else {
            // A public policy may let anonymous callers write, never read another bucket through a copy.
            return Err(s3_error!(AccessDenied, "Anonymous copies are not allowed"));
        };
        match self.users.get(&creds.access_key) {
            Some(u) if !u.may(bucket, Permission::Read) => Err(no_grant(bucket, Permission::Read)),
            _ => Ok(()),
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
        // What the bucket's policy says (nothing for ListBuckets, or a bucket without a policy).
        let mut restrict_public = false;
        let decision = match &bucket {
            Some(b) => match self.policies.get(b).await {
                Some(auth) => {
                    restrict_public = auth.restrict_public;
                    let has_version = cx
                        .uri()
                        .query()
                        .is_some_and(|q| q.split('&').any(|p| p.starts_with("versionId=")));
                    let existing_tags = match (&auth.policy, &key) {
                        (Some(p), Some(k)) if p.needs_existing_tags() => {
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
                    auth.policy.as_ref().map_or(Decision::Silent, |p| {
                        p.decide(
                            caller,
                            &action_of(op, has_version),
                            &resource_of(b, key.as_deref()),
                            &request,
                        )
                    })
                }
                None => Decision::Silent,
            },
            None => Decision::Silent,
        };
        let Some(creds) = cx.credentials() else {
            return match decision {
                Decision::Allow if !restrict_public => Ok(()),
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
        let Some(bucket) = bucket else {
            return Ok(());
        };
        let permission = permission_of(op);
        if u.may(&bucket, permission) {
            Ok(())
        } else {
            Err(no_grant(&bucket, permission))
        }
    }

    async fn copy_object(
        &self,
        req: &mut s3s::S3Request<s3s::dto::CopyObjectInput>,
    ) -> S3Result<()> {
        self.check_copy_source(req.credentials.as_ref(), &req.input.copy_source)
    }

    async fn upload_part_copy(
        &self,
        req: &mut s3s::S3Request<s3s::dto::UploadPartCopyInput>,
    ) -> S3Result<()> {
        self.check_copy_source(req.credentials.as_ref(), &req.input.copy_source)
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
    }
}
