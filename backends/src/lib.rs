//! Strata's storage backends.
//!
//! A [`Backend`] is one place objects are stored (a local directory today;
//! S3, Azure or GCS through `object_store` later), described by a
//! [`TierProfile`] (prices, latency) and holding its own Fernet [`Keyring`].
//! Every blob is *sealed* ([`seal`]): framed, encrypted and authenticated,
//! so a backend never sees plaintext and any corruption is detected on read
//! as [`BackendError::Corrupt`] instead of being returned as data.
//!
//! Writes stream through a [`SealedWriter`] with bounded memory; reads
//! fetch only the frames covering the requested range and stream plaintext.

pub mod backend;
pub mod error;
pub mod keys;
pub mod profile;
pub mod seal;

pub use backend::{Backend, BlobInfo, SealedWriter, WRITE_CHUNK_SIZE, WRITE_MAX_IN_FLIGHT};
pub use error::{BackendError, KeyError, SealError};
pub use keys::Keyring;
pub use profile::TierProfile;
pub use seal::{
    FrameSpan, SealHeader, Sealer, frame_span, open_frame, parse_header, sealed_len, token_len,
};

/// Plaintext bytes per frame for newly written blobs (1 MiB).
pub const DEFAULT_FRAME_SIZE: u32 = 1 << 20;
