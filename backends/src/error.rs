//! Error types of the backends crate.
//!
//! Every [`BackendError`] names the backend it came from (and the blob, where
//! one is involved) so that a message in a log is actionable on its own.

use std::path::PathBuf;

/// Errors returned by [`crate::Backend`] and [`crate::SealedWriter`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// The blob does not exist on the backend.
    #[error("backend {backend}: blob {blob} not found")]
    NotFound { backend: String, blob: String },

    /// The underlying object store failed (I/O, network, permissions, ...).
    #[error("backend {backend}: store error on blob {blob}: {source}")]
    Store {
        backend: String,
        blob: String,
        #[source]
        source: object_store::Error,
    },

    /// The stored bytes are not a valid sealed object of the expected size:
    /// a frame failed authentication, carried the wrong index, had the wrong
    /// length, or the blob was truncated / extended. `frame` is the index of
    /// the first frame found bad (0 for header problems).
    #[error("backend {backend}: blob {blob} is corrupt at frame {frame}: {reason}")]
    Corrupt {
        backend: String,
        blob: String,
        frame: u64,
        reason: String,
    },

    /// A key needed to open or seal a blob is unavailable (for example the
    /// header names a key id that is not in the keyring).
    #[error("backend {backend}: key error: {reason}")]
    Key { backend: String, reason: String },

    /// Loading or persisting the backend's keyring failed.
    #[error("backend {backend}: keyring error: {source}")]
    Keyring {
        backend: String,
        #[source]
        source: KeyError,
    },

    /// The blob name cannot be mapped to an object store path.
    #[error("backend {backend}: invalid blob name {blob:?}: {reason}")]
    InvalidBlob {
        backend: String,
        blob: String,
        reason: String,
    },

    /// The requested plaintext range is not within `0..plain_size`.
    #[error(
        "backend {backend}: range {start}..{end} is invalid for blob {blob} of {plain_size} bytes"
    )]
    InvalidRange {
        backend: String,
        blob: String,
        start: u64,
        end: u64,
        plain_size: u64,
    },

    /// A writer was used after an earlier error poisoned it.
    #[error("backend {backend}: writer for blob {blob} failed earlier and cannot be used")]
    WriterPoisoned { backend: String, blob: String },

    /// A backend's configuration ([`crate::StoreSpec`]) is unusable: a
    /// malformed endpoint, an empty bucket name, a credential variable that
    /// is empty, or a combination of options that cannot work.
    #[error("backend {backend}: invalid configuration: {reason}")]
    Config { backend: String, reason: String },

    /// A credential is configured by reference to an environment variable
    /// that is not set (or not valid Unicode). `field` is the spec field
    /// naming the variable, e.g. `access_key_env`.
    #[error("backend {backend}: environment variable {var} (named by {field}) is not set")]
    MissingEnv {
        backend: String,
        field: &'static str,
        var: String,
    },

    /// object_store refused to build the client for a cloud backend
    /// (`kind` is `s3`, `azure` or `gcs`).
    #[error("backend {backend}: cannot build the {kind} client: {source}")]
    Build {
        backend: String,
        kind: &'static str,
        #[source]
        source: object_store::Error,
    },

    /// Local I/O failed (for example creating the root directory) or a
    /// background upload task died.
    #[error("backend {backend}: {what}: {source}")]
    Io {
        backend: String,
        what: String,
        #[source]
        source: std::io::Error,
    },
}

impl BackendError {
    /// Whether the store or the network failed (`Store`, `Io`: an HTTP error, a timeout, a refused connection)
    /// rather than the blob itself being missing, corrupt or unreadable with the keys at hand. A store failure
    /// says nothing about the stored bytes, and the operation may succeed later: workers retry it and never
    /// count it as damage. Whether one *call* is retried at once is the retry layer's finer decision
    /// ([`crate::retry::classify`]).
    pub fn is_store_failure(&self) -> bool {
        matches!(self, BackendError::Store { .. } | BackendError::Io { .. })
    }
}

/// Errors of the sealed format ([`crate::seal`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// Fewer than [`crate::seal::HEADER_LEN`] bytes were available.
    #[error("sealed header is {len} bytes, need 16")]
    ShortHeader { len: usize },
    /// The header does not start with `STRS`.
    #[error("bad magic in sealed header")]
    BadMagic,
    /// The header's format version is not one this crate reads.
    #[error("unsupported sealed format version {0}")]
    UnsupportedVersion(u8),
    /// The reserved header bytes are not zero.
    #[error("reserved header bytes are not zero")]
    ReservedNotZero,
    /// The header's frame size is 0 or above [`crate::seal::MAX_FRAME_SIZE`].
    #[error("invalid frame size {0} in sealed header")]
    BadFrameSize(u32),
    /// The frame's HMAC did not verify or its ciphertext did not decrypt
    /// (wrong key, tampered or truncated token).
    #[error("frame {index} failed to authenticate or decrypt")]
    Decrypt { index: u64 },
    /// The frame authenticated but is too short to hold its index.
    #[error("frame {index} plaintext is {len} bytes, shorter than its 8-byte index")]
    ShortPlaintext { index: u64, len: usize },
    /// The frame authenticated but belongs at another position
    /// (swapped or reordered frames).
    #[error("frame at position {expected} carries index {found}")]
    WrongIndex { expected: u64, found: u64 },
}

/// Errors loading, validating or saving a [`crate::Keyring`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Reading or writing the keyring file failed.
    #[error("keyring {path}: {what}: {source}")]
    Io {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// The keyring file is not valid JSON of the expected shape.
    #[error("keyring {path}: malformed JSON: {source}")]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// A key in the file is not a 32-byte urlsafe-base64 Fernet key.
    #[error("keyring {path}: key {id} is not a valid Fernet key")]
    InvalidKey { path: PathBuf, id: u32 },
    /// A key id is 0 or u32::MAX (reserved).
    #[error("keyring {path}: key id {id} is reserved")]
    ReservedId { path: PathBuf, id: u32 },
    /// The active key id has no key.
    #[error("keyring {path}: active key {active} is not in the keyring")]
    MissingActive { path: PathBuf, active: u32 },
    /// Serialising the keyring failed (should not happen).
    #[error("keyring: serialisation failed: {0}")]
    Serialize(#[source] serde_json::Error),
}
