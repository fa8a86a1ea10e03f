//! Strata's storage backends.
//!
//! A [`Backend`] is one place objects are stored — a local directory, an S3
//! bucket, an Azure Blob container or a GCS bucket, all through
//! `object_store` (see [`cloud`] and [`StoreSpec`]) — described by a
//! [`TierProfile`] (prices, latency; named presets in [`prices`]) and
//! holding its own Fernet [`Keyring`].
//! Every blob is *sealed* ([`seal`]): framed, encrypted and authenticated,
//! so a backend never sees plaintext and any corruption is detected on read
//! as [`BackendError::Corrupt`] instead of being returned as data.
//!
//! Writes stream through a [`SealedWriter`] with bounded memory; reads
//! fetch only the frames covering the requested range and stream plaintext.
//!
//! Transient store failures are retried by [`RetryStore`] (see [`retry`]),
//! which the gateway places between the sealing layer and the (possibly
//! fault-injecting) raw store.

pub mod backend;
pub mod cloud;
pub mod error;
mod fake_gcs;
pub mod keys;
pub mod retry;
pub mod seal;
mod storage_class;
#[cfg(target_os = "linux")]
pub mod sync_group;

pub use backend::{
    Backend, BlobInfo, KeyringStore, SealedWriter, WRITE_CHUNK_SIZE, WRITE_MAX_IN_FLIGHT,
};
pub use cloud::{
    AzureSpec, GcsSpec, LocalSpec, S3Spec, StoreSpec, build_store, build_store_with_env,
};
pub use error::{BackendError, KeyError, SealError};
pub use keys::Keyring;
pub use retry::{RetryPolicy, RetryStats, RetryStatsSnapshot, RetryStore};
pub use seal::{
    FrameKey, FrameSpan, SealHeader, Sealer, UnsealedFrame, frame_span, open_frame, parse_header,
    sealed_len, token_len,
};
/// Tier profiles and price presets live in the leaf crate `tiers`; re-exported here for the storage side.
pub use tiers::{TierProfile, preset, preset_names, prices, profile};

/// Plaintext bytes per frame for newly written blobs (1 MiB).
pub const DEFAULT_FRAME_SIZE: u32 = 1 << 20;
