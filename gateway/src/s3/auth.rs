//! Who may call the S3 endpoint: SigV4 users from the config, each with full or read-only access.
//! Anonymous requests are always denied.

use std::collections::HashMap;

use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::{S3Auth, SecretKey};
use s3s::{S3Result, s3_error};

use crate::config::AccessLevel;

/// One S3 user.
#[derive(Clone, Debug)]
pub struct User {
    pub secret_key: String,
    pub access: AccessLevel,
}

/// The users the gateway knows, by access key.
#[derive(Clone, Debug, Default)]
pub struct Users(HashMap<String, User>);

impl Users {
    pub fn insert(&mut self, access_key: String, secret_key: String, access: AccessLevel) {
        self.0.insert(access_key, User { secret_key, access });
    }

    pub fn get(&self, access_key: &str) -> Option<&User> {
        self.0.get(access_key)
    }

    /// (access key, level), sorted, for the admin API. Secrets are never listed.
    pub fn summary(&self) -> Vec<(String, AccessLevel)> {
        let mut v: Vec<_> = self.0.iter().map(|(k, u)| (k.clone(), u.access)).collect();
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
];

/// Authorisation after a valid signature: deny anonymous, restrict read-only users.
pub struct StrataAccess(pub Users);

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
        let Some(creds) = cx.credentials() else {
            return Err(s3_error!(AccessDenied, "Anonymous access is not allowed"));
        };
        match self.0.get(&creds.access_key) {
            Some(u) if u.access == AccessLevel::Full => Ok(()),
            Some(_) if READ_OPS.contains(&cx.s3_op().name()) => Ok(()),
            Some(_) => Err(s3_error!(AccessDenied, "This user has read-only access")),
            None => Err(s3_error!(AccessDenied)),
        }
    }
}
