//! The catalog's error type.

use thiserror::Error;

/// Everything a catalog call can fail with.
///
/// The S3-shaped variants (`NoSuchBucket`, `BucketExists`, ...) are expected outcomes the gateway maps
/// to S3 error codes. `Corrupt` means a stored value could not be decoded (the catalog never panics
/// on bad data from disk). `Storage` wraps failures of redb itself, with the operation that failed.
#[derive(Debug, Error)]
pub enum CatalogError {
    #[error("no such bucket: {0}")]
    NoSuchBucket(String),
    #[error("bucket already exists: {0}")]
    BucketExists(String),
    #[error("bucket is not empty: {0}")]
    BucketNotEmpty(String),
    #[error("no such multipart upload: {0}")]
    NoSuchUpload(String),
    #[error("no such key: {bucket}/{key}")]
    NoSuchKey { bucket: String, key: String },
    /// A conditional write's [`crate::WriteCondition`] did not hold for the current version; nothing changed.
    #[error("precondition failed: {bucket}/{key}")]
    PreconditionFailed { bucket: String, key: String },
    /// The version is protected by Object Lock (a legal hold or an unexpired retention); nothing changed.
    #[error("{bucket}/{key} version {version} is protected by object lock: {reason}")]
    ObjectLocked {
        bucket: String,
        key: String,
        version: String,
        reason: &'static str,
    },
    /// A stored key or value failed to decode. `key` is a human-readable rendering of the row's key.
    #[error("corrupt catalog entry in table `{table}` at key `{key}`: {reason}")]
    Corrupt {
        table: String,
        key: String,
        reason: String,
    },
    /// The caller passed something the catalog cannot store (e.g. a bucket name containing NUL, an
    /// empty replica set for `swap_replicas`, an invalid configuration).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// redb failed; the message names the catalog operation and step, followed by redb's error.
    #[error("catalog storage error: {0}")]
    Storage(String),
}

/// Result alias used by every catalog call.
pub type Result<T> = std::result::Result<T, CatalogError>;

/// Attaches the failing operation to a redb error and turns it into [`CatalogError::Storage`].
pub(crate) trait StorageContext<T> {
    fn ctx(self, what: &str) -> Result<T>;
}

impl<T, E: Into<redb::Error>> StorageContext<T> for std::result::Result<T, E> {
    fn ctx(self, what: &str) -> Result<T> {
        self.map_err(|e| CatalogError::Storage(format!("{what}: {}", e.into())))
    }
}

/// Builds a [`CatalogError::Corrupt`].
pub(crate) fn corrupt(
    table: &str,
    key: impl Into<String>,
    reason: impl Into<String>,
) -> CatalogError {
    CatalogError::Corrupt {
        table: table.to_owned(),
        key: key.into(),
        reason: reason.into(),
    }
}
