//! [`Backend`]: one storage location (a bucket, a directory) holding sealed
//! blobs, over an [`object_store::ObjectStore`].
//!
//! The raw store is kept as an `Arc<dyn ObjectStore>` so wrappers (chaos
//! injection, throttling, prefixing) compose underneath the sealing layer:
//! build the wrapped store from [`Backend::store`] and swap it in with
//! [`Backend::with_store`].

use std::collections::VecDeque;
use std::fmt;
use std::ops::Range;
use std::path::{Path as FsPath, PathBuf};
use std::sync::{Arc, RwLock, RwLockReadGuard};

use bytes::{Bytes, BytesMut};
use futures::stream::{self, BoxStream, StreamExt};
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{
    GetOptions, GetResult, GetResultPayload, MultipartUpload, ObjectStore, ObjectStoreExt,
    PutPayload,
};
use tokio::task::JoinSet;

use crate::DEFAULT_FRAME_SIZE;
use crate::cloud::{StoreSpec, build_store_with_env};
use crate::error::{BackendError, SealError};
use crate::keys::Keyring;
use crate::seal::{
    self, FrameKey, HEADER_LEN, MAX_FRAME_SIZE, SealHeader, Sealer, frame_data_len, frame_span,
    open_frame_owned, parse_header, sealed_len,
};
use tiers::TierProfile;

/// Size of each multipart part a [`SealedWriter`] uploads. Parts are all
/// exactly this size except the last (S3 requires >= 5 MiB for non-final
/// parts). Objects whose sealed size stays below this are written with one
/// `put`.
pub const WRITE_CHUNK_SIZE: usize = 8 << 20;

/// Maximum multipart parts a [`SealedWriter`] has in flight at once.
pub const WRITE_MAX_IN_FLIGHT: usize = 2;

/// Full frames a [`SealedWriter`] seals at once on the blocking pool, ahead of the stream that feeds it: one
/// large upload uses more than one core, and the plaintext waiting is bounded by this many frames.
pub const SEAL_AHEAD_FRAMES: usize = 4;

/// A listed blob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobInfo {
    /// The blob name, as passed to [`Backend::writer`].
    pub blob: String,
    /// Stored (sealed) size in bytes.
    pub stored_size: u64,
    /// Last modification time, milliseconds since the Unix epoch.
    pub last_modified_ms: i64,
}

/// Keys shared by every clone of a backend.
struct KeyState {
    keyring: RwLock<Keyring>,
    path: Option<PathBuf>,
    /// Where the keyring lives when it is shared by several nodes (instead of `path`).
    shared: Option<Arc<dyn KeyringStore>>,
}

/// A keyring kept outside this process, shared by every node of a cluster (the gateway keeps it in the shared
/// catalog, sealed with the cluster's master key). Calls block (the gateway makes them from blocking contexts or
/// rarely: at start, at rotation, and when a blob names a key this node has not seen yet).
pub trait KeyringStore: Send + Sync {
    /// The stored keyring of `backend`, or a new one stored now if there is none (one node wins a race; the
    /// others load its keyring).
    fn load_or_create(&self, backend: &str) -> Result<Keyring, String>;
    /// The stored keyring of `backend`, if any.
    fn load(&self, backend: &str) -> Result<Option<Keyring>, String>;
    /// Replaces `previous` with `next`; fails if the stored keyring is no longer `previous` (another node rotated).
    fn replace(&self, backend: &str, previous: &Keyring, next: &Keyring) -> Result<(), String>;
}

/// One storage backend: a named store with a tier profile and a keyring.
///
/// Cheap to clone (all clones share the keyring). Every blob written through
/// [`Backend::writer`] is sealed (see [`crate::seal`]) with the active key;
/// [`Backend::read`] opens blobs sealed with any key in the keyring.
#[derive(Clone)]
pub struct Backend {
    name: Arc<str>,
    profile: Arc<TierProfile>,
    store: Arc<dyn ObjectStore>,
    keys: Arc<KeyState>,
    frame_size: u32,
    /// How a finished write becomes durable when the store does not do it itself: a local directory's shared
    /// `syncfs` ([`local_store`]).
    durability: Option<Arc<Durability>>,
}

#[cfg(target_os = "linux")]
type Durability = crate::sync_group::SyncGroup;
#[cfg(not(target_os = "linux"))]
type Durability = std::convert::Infallible;

/// A store and what makes its finished writes durable, if the store does not.
type DurableStore = (Arc<dyn ObjectStore>, Option<Arc<Durability>>);

/// A store over the local directory `root` and what makes its writes durable: on Linux, files are written
/// without their own fsyncs and writers share `syncfs` calls ([`crate::sync_group`]); elsewhere
/// `LocalFileSystem` fsyncs each file and its directory.
fn local_store(name: &str, root: &FsPath) -> Result<DurableStore, BackendError> {
    let store = LocalFileSystem::new_with_prefix(root).map_err(|source| BackendError::Store {
        backend: name.to_owned(),
        blob: String::new(),
        source,
    })?;
    #[cfg(target_os = "linux")]
    {
        let group =
            crate::sync_group::SyncGroup::open(root).map_err(|source| BackendError::Io {
                backend: name.to_owned(),
                what: format!("opening {} for syncfs", root.display()),
                source,
            })?;
        Ok((Arc::new(store), Some(Arc::new(group))))
    }
    #[cfg(not(target_os = "linux"))]
    {
        Ok((Arc::new(store.with_fsync(true)), None))
    }
}

impl fmt::Debug for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Backend")
            .field("name", &self.name)
            .field("storage_class", &self.profile.storage_class)
            .field("store", &self.store.to_string())
            .field("frame_size", &self.frame_size)
            .finish_non_exhaustive()
    }
}

impl Backend {
    /// A backend over `store`. If `keyring_path` is set, [`Backend::rotate_key`]
    /// persists the keyring there.
    pub fn new(
        name: impl Into<String>,
        profile: TierProfile,
        store: Arc<dyn ObjectStore>,
        keyring: Keyring,
        keyring_path: Option<PathBuf>,
    ) -> Backend {
        Backend {
            name: Arc::from(name.into()),
            profile: Arc::new(profile),
            store,
            keys: Arc::new(KeyState {
                keyring: RwLock::new(keyring),
                path: keyring_path,
                shared: None,
            }),
            frame_size: DEFAULT_FRAME_SIZE,
            durability: None,
        }
    }

    /// A backend storing blobs as files under `root_dir` (created if
    /// missing), with its keyring at `keyring_path` (loaded, or created with
    /// mode 0600).
    ///
    /// A completed write has its file contents and directory entry on disk
    /// before [`SealedWriter::finish`] returns: writers share `syncfs` calls
    /// on Linux ([`crate::sync_group`]), elsewhere each file and its
    /// directory are fsynced.
    pub fn local(
        name: impl Into<String>,
        profile: TierProfile,
        root_dir: &FsPath,
        keyring_path: &FsPath,
    ) -> Result<Backend, BackendError> {
        let name = name.into();
        std::fs::create_dir_all(root_dir).map_err(|source| BackendError::Io {
            backend: name.clone(),
            what: format!("creating root directory {}", root_dir.display()),
            source,
        })?;
        let (store, durability) = local_store(&name, root_dir)?;
        let keyring =
            Keyring::load_or_create(keyring_path).map_err(|source| BackendError::Keyring {
                backend: name.clone(),
                source,
            })?;
        let mut backend = Backend::new(
            name,
            profile,
            store,
            keyring,
            Some(keyring_path.to_path_buf()),
        );
        backend.durability = durability;
        Ok(backend)
    }

    /// A backend over the store `spec` describes (built with
    /// [`crate::cloud::build_store_with_env`] from the process environment;
    /// a relative local path is taken from `data_dir`), with its keyring at
    /// `keyring_path` (loaded, or created with mode 0600).
    ///
    /// The backend sits directly on the raw store; the gateway composes
    /// retries and fault injection underneath with [`Backend::with_store`]:
    /// `RetryStore → ChaosStore → backend.store()`. Nothing is contacted
    /// here: a wrong endpoint, bucket or credential surfaces on first use.
    ///
    /// Durability of [`SealedWriter::finish`]: local stores fsync; cloud
    /// stores are durable when the provider acknowledges the put or the
    /// multipart completion.
    pub fn open(
        name: impl Into<String>,
        profile: TierProfile,
        spec: &StoreSpec,
        data_dir: &FsPath,
        keyring_path: &FsPath,
    ) -> Result<Backend, BackendError> {
        let name = name.into();
        let (store, durability) = match crate::cloud::local_root(&name, spec, data_dir)? {
            Some(root) => local_store(&name, &root)?,
            None => (
                build_store_with_env(&name, spec, data_dir, &|var| std::env::var(var).ok())?,
                None,
            ),
        };
        let keyring =
            Keyring::load_or_create(keyring_path).map_err(|source| BackendError::Keyring {
                backend: name.clone(),
                source,
            })?;
        let mut backend = Backend::new(
            name,
            profile,
            store,
            keyring,
            Some(keyring_path.to_path_buf()),
        );
        backend.durability = durability;
        Ok(backend)
    }

    /// A backend over the store `spec` describes (as [`Backend::open`]) whose keyring lives in `keys`, shared
    /// with the other nodes of a cluster: loaded (or created) there now, rotated there, and reloaded from there
    /// when a blob names a key this node has not seen yet ([`Backend::refresh_keys`]).
    pub fn open_shared(
        name: impl Into<String>,
        profile: TierProfile,
        spec: &StoreSpec,
        data_dir: &FsPath,
        keys: Arc<dyn KeyringStore>,
    ) -> Result<Backend, BackendError> {
        let name = name.into();
        let store = build_store_with_env(&name, spec, data_dir, &|var| std::env::var(var).ok())?;
        let keyring = keys
            .load_or_create(&name)
            .map_err(|reason| BackendError::Key {
                backend: name.clone(),
                reason: format!("cannot load the shared keyring: {reason}"),
            })?;
        let mut backend = Backend::new(name, profile, store, keyring, None);
        if let Some(state) = Arc::get_mut(&mut backend.keys) {
            state.shared = Some(keys);
        }
        Ok(backend)
    }

    /// Reloads a shared keyring (see [`Backend::open_shared`]) and adopts it when it holds keys this node lacks
    /// (another node rotated). Returns whether the keyring changed; `Ok(false)` for a backend without one.
    pub fn refresh_keys(&self) -> Result<bool, BackendError> {
        let Some(shared) = &self.keys.shared else {
            return Ok(false);
        };
        let loaded = shared
            .load(&self.name)
            .map_err(|reason| BackendError::Key {
                backend: self.name.to_string(),
                reason: format!("cannot reload the shared keyring: {reason}"),
            })?;
        let Some(loaded) = loaded else {
            return Ok(false);
        };
        let mut guard = self
            .keys
            .keyring
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if loaded.ids() == guard.ids() && loaded.active_id() == guard.active_id() {
            return Ok(false);
        }
        *guard = loaded;
        Ok(true)
    }

    /// An in-memory backend with a fresh, unpersisted keyring (tests, demos).
    pub fn memory(name: impl Into<String>, profile: TierProfile) -> Backend {
        Backend::new(
            name,
            profile,
            Arc::new(InMemory::new()),
            Keyring::generate(),
            None,
        )
    }

    /// Sets the frame size used for blobs written from now on (readers use
    /// the size recorded in each blob's header). Intended for tests.
    ///
    /// # Panics
    /// If `frame_size` is 0 or above [`MAX_FRAME_SIZE`].
    pub fn with_frame_size(mut self, frame_size: u32) -> Backend {
        assert!(
            frame_size > 0 && frame_size <= MAX_FRAME_SIZE,
            "frame size {frame_size} outside 1..={MAX_FRAME_SIZE}"
        );
        self.frame_size = frame_size;
        self
    }

    /// This backend over a different store, sharing name, profile and
    /// keyring. Used to wrap the raw store (e.g. with fault injection).
    pub fn with_store(&self, store: Arc<dyn ObjectStore>) -> Backend {
        Backend {
            store,
            ..self.clone()
        }
    }

    /// Returns once what was written to this backend so far is durable, where the store does not see to it
    /// itself (a local directory on Linux: a shared `syncfs`).
    /// A small blob (one put) joins the shared `syncfs`; a large one (multipart, written over many chunks)
    /// fsyncs its own file and directory, so it never flushes other writers' half-written blobs.
    async fn make_durable(&self, blob: &str, path: &Path, large: bool) -> Result<(), BackendError> {
        #[cfg(target_os = "linux")]
        if let Some(group) = &self.durability {
            let synced = if large {
                group.sync_file(path.as_ref()).await
            } else {
                group.sync().await
            };
            synced.map_err(|source| BackendError::Io {
                backend: self.name.to_string(),
                what: format!("syncing blob {blob} to disk"),
                source,
            })?;
        }
        #[cfg(not(target_os = "linux"))]
        let _ = (blob, path, large);
        Ok(())
    }

    /// The backend's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The backend's tier profile.
    pub fn profile(&self) -> &TierProfile {
        &self.profile
    }

    /// The raw (unsealed) object store.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The frame size new blobs are written with.
    pub fn frame_size(&self) -> u32 {
        self.frame_size
    }

    /// Adds a new key to the keyring and makes it active; blobs written
    /// afterwards are sealed with it, older blobs stay readable. When the
    /// backend has a keyring path the new keyring is saved first (blocking
    /// file I/O) and the in-memory keyring changes only if that succeeds.
    pub fn rotate_key(&self) -> Result<u32, BackendError> {
        let mut guard = self
            .keys
            .keyring
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut next = guard.clone();
        let id = next.rotate();
        if let Some(shared) = &self.keys.shared {
            shared
                .replace(&self.name, &guard, &next)
                .map_err(|reason| BackendError::Key {
                    backend: self.name.to_string(),
                    reason: format!("cannot store the rotated keyring: {reason}"),
                })?;
        }
        if let Some(path) = &self.keys.path {
            next.save(path).map_err(|source| BackendError::Keyring {
                backend: self.name.to_string(),
                source,
            })?;
        }
        *guard = next;
        Ok(id)
    }

    /// The id of the key new blobs are sealed with.
    pub fn active_key_id(&self) -> u32 {
        self.keyring().active_id()
    }

    /// The ids of every key in the keyring, ascending (the active one
    /// included). Blobs sealed with any of them are readable.
    pub fn key_ids(&self) -> Vec<u32> {
        self.keyring().ids()
    }

    /// Reads and parses only the sealed header of `blob` (one ranged get of
    /// [`HEADER_LEN`] bytes), e.g. to learn which key sealed it. Does not
    /// check that the key is in the keyring nor open any frame.
    ///
    /// Errors: [`BackendError::NotFound`] for a missing blob,
    /// [`BackendError::Corrupt`] (frame 0) for an invalid header or a
    /// non-empty blob shorter than one, [`BackendError::Store`] otherwise
    /// (an empty blob may surface so too: some stores refuse a range on it).
    pub async fn read_header(&self, blob: &str) -> Result<SealHeader, BackendError> {
        let path = self.path(blob)?;
        let options = GetOptions::new().with_range(Some(0..HEADER_LEN));
        let result = self
            .store
            .get_opts(&path, options)
            .await
            .map_err(|e| self.store_err(blob, e))?;
        let bytes = result.bytes().await.map_err(|e| self.store_err(blob, e))?;
        parse_header(&bytes).map_err(|e| self.corrupt(blob, 0, format!("bad header: {e}")))
    }

    /// Read access to the keyring.
    fn keyring(&self) -> RwLockReadGuard<'_, Keyring> {
        // The keyring is replaced wholesale, so a poisoned lock still guards
        // a consistent value.
        self.keys
            .keyring
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Maps a blob name to a store path. Names are relative `/`-separated
    /// paths without empty, `.` or `..` segments.
    fn path(&self, blob: &str) -> Result<Path, BackendError> {
        let invalid = |reason: String| BackendError::InvalidBlob {
            backend: self.name.to_string(),
            blob: blob.to_string(),
            reason,
        };
        if blob.is_empty() {
            return Err(invalid("empty name".into()));
        }
        let path = Path::parse(blob).map_err(|e| invalid(e.to_string()))?;
        if path.as_ref() != blob {
            return Err(invalid("name is not in canonical form".into()));
        }
        Ok(path)
    }

    /// Maps a store error on `blob`.
    fn store_err(&self, blob: &str, source: object_store::Error) -> BackendError {
        match source {
            object_store::Error::NotFound { .. } => BackendError::NotFound {
                backend: self.name.to_string(),
                blob: blob.to_string(),
            },
            source => BackendError::Store {
                backend: self.name.to_string(),
                blob: blob.to_string(),
                source,
            },
        }
    }

    fn corrupt(&self, blob: &str, frame: u64, reason: impl Into<String>) -> BackendError {
        BackendError::Corrupt {
            backend: self.name.to_string(),
            blob: blob.to_string(),
            frame,
            reason: reason.into(),
        }
    }

    /// Starts writing `blob`, sealed with the active key. Nothing is visible
    /// under the name until [`SealedWriter::finish`] returns successfully; an
    /// existing blob of the same name is then replaced.
    pub async fn writer(&self, blob: &str) -> Result<SealedWriter, BackendError> {
        let path = self.path(blob)?;
        let (key, key_id) = {
            let ring = self.keyring();
            (ring.active_key().clone(), ring.active_id())
        };
        let sealer = Sealer::new(key, key_id, self.frame_size);
        let header = sealer.header();
        let mut pending = VecDeque::new();
        let pending_len = header.len();
        pending.push_back(header);
        Ok(SealedWriter {
            backend: self.clone(),
            blob: blob.to_string(),
            path,
            sealer: Some(sealer),
            sealing: VecDeque::new(),
            sealing_len: 0,
            pending,
            pending_len,
            upload: None,
            tasks: JoinSet::new(),
            in_flight: 0,
            stored: 0,
            plain: 0,
            poisoned: false,
        })
    }

    /// Streams plaintext bytes `range` of `blob`, an object of `plain_size`
    /// plaintext bytes.
    ///
    /// Fetches the header and, in one ranged get, only the frames covering
    /// `range` (header and frames in a single get when `range` starts in the
    /// first frame). Frames are opened in order, up to [`READ_AHEAD_FRAMES`]
    /// at once on the blocking pool, so at most that many frames (plus one
    /// frame of a local file being read) are buffered. The stream yields exactly the bytes
    /// of `range`, or ends with an error: a frame that fails to authenticate,
    /// carries the wrong index or length, a stored size that does not match
    /// `plain_size`, or a short read yield [`BackendError::Corrupt`] — never
    /// unverified bytes.
    ///
    /// Errors before the first byte (blob missing, header invalid, unknown
    /// key, range outside `0..plain_size`) are returned directly. An empty
    /// `range` checks the header and yields an empty stream.
    ///
    /// When header and frames need two gets, the second is conditional on
    /// the first response's ETag, so a blob replaced in between fails rather
    /// than mixing versions.
    pub async fn read(
        &self,
        blob: &str,
        plain_size: u64,
        range: Range<u64>,
    ) -> Result<BoxStream<'static, Result<Bytes, BackendError>>, BackendError> {
        let path = self.path(blob)?;
        if range.start > range.end || range.end > plain_size {
            return Err(BackendError::InvalidRange {
                backend: self.name.to_string(),
                blob: blob.to_string(),
                start: range.start,
                end: range.end,
                plain_size,
            });
        }

        // Fast path: the range starts in frame 0 (assuming this backend's
        // frame size), so fetch header and frames with one get.
        let guess = self.frame_size;
        if !range.is_empty() && range.start < u64::from(guess) {
            let span = frame_span(range.clone(), plain_size, guess);
            let result = self
                .get(blob, &path, plain_size, 0..span.stored.end, None)
                .await?;
            let total = result.meta.size;
            let e_tag = result.meta.e_tag.clone();
            // Header and first token in one piece: a small blob is then one read (one blocking-pool hop).
            let token = full_token_len(guess);
            let mut body = body_stream(result, HEADER_LEN as usize + token, token);
            let (header_bytes, rest) = read_prefix(&mut body, HEADER_LEN as usize)
                .await
                .map_err(|e| self.store_err(blob, e))?;
            let header = self.check_header(blob, &header_bytes, plain_size, total)?;
            if header.frame_size == guess {
                let key = self.key_for(&header)?;
                return Ok(self.decode_stream(
                    blob,
                    plain_size,
                    range,
                    header,
                    key,
                    span.first_frame,
                    rest,
                    body,
                ));
            }
            // Written with another frame size: fall through and fetch the
            // right frames now that the header is known.
            drop(body);
            return self
                .read_frames(blob, &path, plain_size, range, header, e_tag)
                .await;
        }

        let result = self
            .get(blob, &path, plain_size, 0..HEADER_LEN, None)
            .await?;
        let total = result.meta.size;
        let e_tag = result.meta.e_tag.clone();
        let header_bytes = result.bytes().await.map_err(|e| self.store_err(blob, e))?;
        let header = self.check_header(blob, &header_bytes, plain_size, total)?;
        if range.is_empty() {
            self.key_for(&header)?;
            return Ok(stream::empty().boxed());
        }
        self.read_frames(blob, &path, plain_size, range, header, e_tag)
            .await
    }

    /// Fetches and decodes the frames covering `range` once the header is
    /// known. `e_tag` (of the response the header came from) makes the get
    /// conditional, so a blob replaced in between fails instead of mixing
    /// two versions.
    async fn read_frames(
        &self,
        blob: &str,
        path: &Path,
        plain_size: u64,
        range: Range<u64>,
        header: SealHeader,
        e_tag: Option<String>,
    ) -> Result<BoxStream<'static, Result<Bytes, BackendError>>, BackendError> {
        let key = self.key_for(&header)?;
        let span = frame_span(range.clone(), plain_size, header.frame_size);
        let result = self
            .get(blob, path, plain_size, span.stored.clone(), e_tag)
            .await?;
        let body = body_stream(
            result,
            full_token_len(header.frame_size),
            full_token_len(header.frame_size),
        );
        Ok(self.decode_stream(
            blob,
            plain_size,
            range,
            header,
            key,
            span.first_frame,
            Bytes::new(),
            body,
        ))
    }

    /// Validates a header and the blob's stored size against `plain_size`.
    fn check_header(
        &self,
        blob: &str,
        header_bytes: &[u8],
        plain_size: u64,
        stored_size: u64,
    ) -> Result<SealHeader, BackendError> {
        let header = parse_header(header_bytes)
            .map_err(|e| self.corrupt(blob, 0, format!("bad header: {e}")))?;
        let expected = sealed_len(plain_size, header.frame_size);
        if stored_size != expected {
            return Err(self.corrupt(
                blob,
                0,
                format!(
                    "stored size {stored_size} but {plain_size} plaintext bytes seal to {expected}"
                ),
            ));
        }
        Ok(header)
    }

    /// The cipher for the key a header names. A key this node lacks may be one another node of the cluster
    /// just added: the shared keyring is reloaded once before giving up.
    fn key_for(&self, header: &SealHeader) -> Result<FrameKey, BackendError> {
        if let Some(key) = self.keyring().key(header.key_id) {
            return Ok(key.clone());
        }
        if self.keys.shared.is_some() {
            self.refresh_keys()?;
        }
        self.keyring()
            .key(header.key_id)
            .cloned()
            .ok_or_else(|| BackendError::Key {
                backend: self.name.to_string(),
                reason: format!(
                    "blob sealed with key {} which is not in the keyring",
                    header.key_id
                ),
            })
    }

    /// One ranged get (conditional on `if_match` when given). A failed get
    /// on a blob that exists but is shorter than requested is reported as
    /// [`BackendError::Corrupt`]. As with every object store, a range
    /// ending past the object is clamped to its size, not an error.
    async fn get(
        &self,
        blob: &str,
        path: &Path,
        plain_size: u64,
        range: Range<u64>,
        if_match: Option<String>,
    ) -> Result<GetResult, BackendError> {
        let mut options = GetOptions::new().with_range(Some(range.clone()));
        options.if_match = if_match;
        match self.store.get_opts(path, options).await {
            Ok(result) => Ok(result),
            Err(e @ object_store::Error::NotFound { .. }) => Err(self.store_err(blob, e)),
            Err(e) => match self.store.head(path).await {
                Ok(meta) if meta.size < range.end => Err(self.corrupt(
                    blob,
                    0,
                    format!(
                        "stored size {} too short for {plain_size} plaintext bytes (needed bytes {}..{})",
                        meta.size, range.start, range.end
                    ),
                )),
                _ => Err(self.store_err(blob, e)),
            },
        }
    }

    /// Builds the plaintext stream over a body positioned at the start of
    /// frame `first_frame` (with `rest` already read from it).
    #[allow(clippy::too_many_arguments)]
    fn decode_stream(
        &self,
        blob: &str,
        plain_size: u64,
        range: Range<u64>,
        header: SealHeader,
        key: FrameKey,
        first_frame: u64,
        rest: Bytes,
        body: BoxStream<'static, object_store::Result<Bytes>>,
    ) -> BoxStream<'static, Result<Bytes, BackendError>> {
        let span = frame_span(range.clone(), plain_size, header.frame_size);
        debug_assert_eq!(span.first_frame, first_frame);
        let splitter = TokenSplitter {
            backend: self.clone(),
            blob: blob.to_string(),
            frame_size: header.frame_size,
            plain_size,
            next: first_frame,
            last: span.last_frame,
            body,
            pending: rest,
            partial: BytesMut::new(),
            done: false,
        };
        let tokens = stream::unfold(splitter, |mut s| async move {
            let item = s.next_token().await?;
            Some((item, s))
        });
        let opener = Arc::new(FrameOpener {
            backend: self.clone(),
            blob: blob.to_string(),
            key,
            frame_size: header.frame_size,
            plain_size,
            range,
        });
        tokens
            .map(move |token| {
                let opener = opener.clone();
                async move { opener.open(token?).await }
            })
            .buffered(READ_AHEAD_FRAMES)
            // The first error ends the stream.
            .scan(false, |failed, item| {
                let out = (!*failed).then_some(item);
                *failed = out.as_ref().is_some_and(Result::is_err);
                std::future::ready(out)
            })
            .boxed()
    }

    /// Deletes `blob`; a missing blob counts as success.
    pub async fn delete(&self, blob: &str) -> Result<(), BackendError> {
        let path = self.path(blob)?;
        match self.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.store_err(blob, e)),
        }
    }

    /// Whether `blob` exists.
    pub async fn exists(&self, blob: &str) -> Result<bool, BackendError> {
        let path = self.path(blob)?;
        match self.store.head(&path).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.store_err(blob, e)),
        }
    }

    /// Lists blobs under `prefix` (recursively). The prefix matches whole
    /// path segments: `"blobs/ab"` lists `blobs/ab/...` but not `blobs/abc`.
    /// An empty prefix lists everything. In-progress writes are not listed.
    pub fn list(&self, prefix: &str) -> BoxStream<'static, Result<BlobInfo, BackendError>> {
        let prefix_path = if prefix.is_empty() {
            None
        } else {
            match self.path(prefix.trim_end_matches('/')) {
                Ok(p) => Some(p),
                Err(e) => return stream::once(async move { Err(e) }).boxed(),
            }
        };
        let this = self.clone();
        let prefix = prefix.to_string();
        self.store
            .list(prefix_path.as_ref())
            .map(move |item| match item {
                Ok(meta) => Ok(BlobInfo {
                    blob: meta.location.to_string(),
                    stored_size: meta.size,
                    last_modified_ms: meta.last_modified.timestamp_millis(),
                }),
                Err(e) => Err(this.store_err(&prefix, e)),
            })
            .boxed()
    }

    /// The whole stored (sealed) bytes of `blob`, for tests and scrubbing.
    pub async fn read_raw(&self, blob: &str) -> Result<Bytes, BackendError> {
        let path = self.path(blob)?;
        let result = self
            .store
            .get(&path)
            .await
            .map_err(|e| self.store_err(blob, e))?;
        result.bytes().await.map_err(|e| self.store_err(blob, e))
    }
}

/// Stored size of a full frame's token.
fn full_token_len(frame_size: u32) -> usize {
    seal::token_len(seal::INDEX_LEN + frame_size as usize)
}

/// The body of a get as a stream. A local file is read in pieces of `first`, then `step` bytes, each its own
/// buffer: object_store's own stream reads 8 KiB per blocking-pool hop, and those hops were the read path's main
/// cost (perf: most samples in futex wake-ups and task switches, three times fewer in AES and HMAC). Pieces that
/// are exactly one token each are opened in place, without a copy.
fn body_stream(
    result: GetResult,
    first: usize,
    step: usize,
) -> BoxStream<'static, object_store::Result<Bytes>> {
    let range = result.range.clone();
    match result.payload {
        GetResultPayload::File(file, _) => file_stream(file, range, first, step),
        GetResultPayload::Stream(s) => s,
    }
}

/// Bytes `range` of `file`: a piece of `first` bytes, then pieces of `step` (both at least 1).
fn file_stream(
    file: std::fs::File,
    range: Range<u64>,
    first: usize,
    step: usize,
) -> BoxStream<'static, object_store::Result<Bytes>> {
    let local = |e: Box<dyn std::error::Error + Send + Sync>| object_store::Error::Generic {
        store: "LocalFileSystem",
        source: e,
    };
    stream::try_unfold((file, range.start), move |(mut file, pos)| async move {
        if pos >= range.end {
            return Ok(None);
        }
        let piece = if pos == range.start { first } else { step };
        let n = (range.end - pos).min(piece.max(1) as u64);
        let (file, chunk) = tokio::task::spawn_blocking(move || {
            use std::io::{Read, Seek, SeekFrom};
            file.seek(SeekFrom::Start(pos))?;
            let mut buf = Vec::with_capacity(n as usize);
            (&mut file).take(n).read_to_end(&mut buf)?;
            if (buf.len() as u64) < n {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("file ended {} bytes before the range", n - buf.len() as u64),
                ));
            }
            Ok((file, Bytes::from(buf)))
        })
        .await
        .map_err(|e| local(Box::new(e)))?
        .map_err(|e| local(Box::new(e)))?;
        Ok(Some((chunk, (file, pos + n))))
    })
    .boxed()
}

/// Reads exactly `n` bytes from the front of `body`; returns them and any
/// extra bytes of the last chunk. Returns fewer than `n` bytes if the body
/// ends first.
async fn read_prefix(
    body: &mut BoxStream<'static, object_store::Result<Bytes>>,
    n: usize,
) -> object_store::Result<(Bytes, Bytes)> {
    let mut acc = BytesMut::new();
    while acc.len() < n {
        match body.next().await {
            Some(chunk) => {
                let mut chunk = chunk?;
                if acc.is_empty() && chunk.len() >= n {
                    let head = chunk.split_to(n);
                    return Ok((head, chunk));
                }
                let take = (n - acc.len()).min(chunk.len());
                acc.extend_from_slice(&chunk.split_to(take));
                if acc.len() == n {
                    return Ok((acc.freeze(), chunk));
                }
            }
            None => break,
        }
    }
    Ok((acc.freeze(), Bytes::new()))
}

/// Frames opened ahead of the reader, each on the blocking pool: a stream uses more than one core while its
/// read-ahead stays bounded (this many frames, sealed and opened, on top of what the body stream buffers).
pub const READ_AHEAD_FRAMES: usize = 4;

/// Tokens below this size are opened on the reading task: moving them to another thread costs more than opening.
const INLINE_OPEN_BYTES: usize = 64 << 10;

/// One frame's token, cut from the body, not yet opened.
struct FrameToken {
    index: u64,
    data_len: u64,
    token: Bytes,
}

/// Cuts a sealed body into frame tokens (sizes follow from the header and the plaintext size).
struct TokenSplitter {
    backend: Backend,
    blob: String,
    frame_size: u32,
    plain_size: u64,
    /// Next frame to cut.
    next: u64,
    /// Last frame to cut (inclusive).
    last: u64,
    body: BoxStream<'static, object_store::Result<Bytes>>,
    /// Unconsumed bytes of the current body chunk.
    pending: Bytes,
    /// A token being assembled across chunks.
    partial: BytesMut,
    done: bool,
}

impl TokenSplitter {
    /// The next token, or `None` when finished (after the last frame or after an error).
    async fn next_token(&mut self) -> Option<Result<FrameToken, BackendError>> {
        if self.done {
            return None;
        }
        if self.next > self.last {
            self.done = true;
            // The get asked for exactly these frames; anything more means
            // the store returned something other than what was requested.
            if !self.pending.is_empty() || !self.partial.is_empty() {
                return Some(Err(self.backend.corrupt(
                    &self.blob,
                    self.last,
                    "store returned bytes past the requested frames",
                )));
            }
            return None;
        }
        let index = self.next;
        let data_len = frame_data_len(index, self.plain_size, self.frame_size);
        let token_len = seal::token_len(seal::INDEX_LEN + data_len as usize);
        match self.take_token(index, token_len).await {
            Ok(token) => {
                self.next += 1;
                Some(Ok(FrameToken {
                    index,
                    data_len,
                    token,
                }))
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }

    /// Collects the next `len` body bytes (one token).
    async fn take_token(&mut self, index: u64, len: usize) -> Result<Bytes, BackendError> {
        loop {
            if self.partial.is_empty() && self.pending.len() >= len {
                return Ok(self.pending.split_to(len));
            }
            let take = (len - self.partial.len()).min(self.pending.len());
            self.partial.extend_from_slice(&self.pending.split_to(take));
            if self.partial.len() == len {
                return Ok(self.partial.split().freeze());
            }
            match self.body.next().await {
                Some(Ok(chunk)) => self.pending = chunk,
                Some(Err(e)) => return Err(self.backend.store_err(&self.blob, e)),
                None => {
                    return Err(self.backend.corrupt(
                        &self.blob,
                        index,
                        format!(
                            "short read: frame needs {len} bytes, store returned {}",
                            self.partial.len()
                        ),
                    ));
                }
            }
        }
    }
}

/// Opens tokens of one read and slices them to its range.
struct FrameOpener {
    backend: Backend,
    blob: String,
    key: FrameKey,
    frame_size: u32,
    plain_size: u64,
    range: Range<u64>,
}

impl FrameOpener {
    /// Opens one frame (on the blocking pool when it is large) and returns its bytes within the range.
    async fn open(self: Arc<Self>, t: FrameToken) -> Result<Bytes, BackendError> {
        if t.token.len() < INLINE_OPEN_BYTES {
            return self.open_now(t);
        }
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.open_now(t))
            .await
            .unwrap_or_else(|e| {
                Err(self
                    .backend
                    .corrupt(&self.blob, 0, format!("frame opening task failed: {e}")))
            })
    }

    fn open_now(&self, t: FrameToken) -> Result<Bytes, BackendError> {
        let FrameToken {
            index,
            data_len,
            token,
        } = t;
        let data = open_frame_owned(&self.key, index, token).map_err(|e| {
            let reason = match e {
                SealError::Decrypt { .. } => "frame failed authentication".to_string(),
                other => other.to_string(),
            };
            self.backend.corrupt(&self.blob, index, reason)
        })?;
        if data.len() as u64 != data_len {
            return Err(self.backend.corrupt(
                &self.blob,
                index,
                format!("frame holds {} bytes, expected {data_len}", data.len()),
            ));
        }
        debug_assert!(data_len <= self.plain_size);
        let frame_start = index * u64::from(self.frame_size);
        let from = self.range.start.saturating_sub(frame_start) as usize;
        let to = (self.range.end - frame_start).min(data_len) as usize;
        Ok(data.slice(from..to))
    }
}

/// Streams one sealed blob into the store. Obtain with [`Backend::writer`].
///
/// Memory is bounded independent of object size: at most one frame of
/// plaintext in the sealer, [`SEAL_AHEAD_FRAMES`] frames being sealed on the
/// blocking pool, less than one [`WRITE_CHUNK_SIZE`] part (plus one frame) of
/// sealed bytes waiting, and at most [`WRITE_MAX_IN_FLIGHT`] parts being
/// uploaded — about 30 MiB with the defaults;
/// [`SealedWriter::buffered_bytes`] reports the current figure.
///
/// Objects that seal to less than one part are written with a single `put`;
/// larger ones with a multipart upload. Either way the blob becomes visible
/// only when [`SealedWriter::finish`] returns `Ok`. Dropping a writer without
/// calling `finish` or `abort` cancels in-flight parts; the local store
/// removes its staging file, remote stores may keep orphaned parts until a
/// lifecycle rule removes them — prefer [`SealedWriter::abort`].
///
/// After any error the writer is poisoned: further writes fail and the
/// caller should [`SealedWriter::abort`] it.
pub struct SealedWriter {
    backend: Backend,
    blob: String,
    path: Path,
    /// `None` once `finish` has sealed the last frame.
    sealer: Option<Sealer>,
    /// Full frames being sealed on the blocking pool, in stream order, with their data lengths.
    sealing: VecDeque<(usize, tokio::task::JoinHandle<Bytes>)>,
    /// Data bytes in `sealing`.
    sealing_len: usize,
    /// Sealed bytes (header, frames) not yet handed to the store.
    pending: VecDeque<Bytes>,
    pending_len: usize,
    /// The multipart upload, started once a full part is ready.
    upload: Option<Box<dyn MultipartUpload>>,
    /// In-flight part uploads; each returns its size.
    tasks: JoinSet<object_store::Result<usize>>,
    /// Bytes in parts spawned but not yet reaped.
    in_flight: usize,
    /// Sealed bytes handed to the store so far.
    stored: u64,
    /// Plaintext bytes accepted so far.
    plain: u64,
    poisoned: bool,
}

impl fmt::Debug for SealedWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedWriter")
            .field("backend", &self.backend.name())
            .field("blob", &self.blob)
            .field("plain", &self.plain)
            .field("buffered_bytes", &self.buffered_bytes())
            .finish_non_exhaustive()
    }
}

impl SealedWriter {
    /// The blob being written.
    pub fn blob(&self) -> &str {
        &self.blob
    }

    /// Plaintext bytes written so far.
    pub fn plain_bytes(&self) -> u64 {
        self.plain
    }

    /// Bytes this writer currently holds in memory: plaintext in the current
    /// frame, sealed bytes waiting for a part, and parts whose upload has not
    /// been observed to complete (an upper bound on what the store still
    /// holds).
    pub fn buffered_bytes(&self) -> usize {
        self.sealer.as_ref().map_or(0, Sealer::buffered)
            + self.sealing_len
            + self.pending_len
            + self.in_flight
    }

    /// Seals `data` and uploads completed parts, waiting while
    /// [`WRITE_MAX_IN_FLIGHT`] parts are in flight (back-pressure).
    pub async fn write(&mut self, data: Bytes) -> Result<(), BackendError> {
        if self.poisoned {
            return Err(BackendError::WriterPoisoned {
                backend: self.backend.name().to_string(),
                blob: self.blob.clone(),
            });
        }
        let result = self.write_inner(&data).await;
        if result.is_err() {
            self.poisoned = true;
        }
        result
    }

    async fn write_inner(&mut self, data: &[u8]) -> Result<(), BackendError> {
        // Push at most a frame at a time so sealed output never piles up
        // beyond one part plus one frame, whatever the caller's chunk size.
        let step = self.backend.frame_size as usize;
        for piece in data.chunks(step) {
            let Some(sealer) = self.sealer.as_mut() else {
                return Err(BackendError::WriterPoisoned {
                    backend: self.backend.name().to_string(),
                    blob: self.blob.clone(),
                });
            };
            for frame in sealer.push_unsealed(piece) {
                let len = frame.len();
                self.sealing_len += len;
                self.sealing
                    .push_back((len, tokio::task::spawn_blocking(move || frame.seal())));
            }
            self.plain += piece.len() as u64;
            while self.sealing.len() > SEAL_AHEAD_FRAMES {
                self.take_sealed().await?;
            }
            self.upload_full_parts().await?;
        }
        Ok(())
    }

    /// Uploads every full [`WRITE_CHUNK_SIZE`] part of the sealed bytes waiting.
    async fn upload_full_parts(&mut self) -> Result<(), BackendError> {
        while self.pending_len >= WRITE_CHUNK_SIZE {
            let part = self.take_pending(WRITE_CHUNK_SIZE);
            self.upload_part(part).await?;
        }
        Ok(())
    }

    /// Waits for the oldest frame being sealed and queues it for the store.
    async fn take_sealed(&mut self) -> Result<(), BackendError> {
        let Some((len, task)) = self.sealing.pop_front() else {
            return Ok(());
        };
        self.sealing_len -= len;
        let frame = task.await.map_err(|e| BackendError::Io {
            backend: self.backend.name().to_string(),
            what: format!("sealing task for blob {}", self.blob),
            source: std::io::Error::other(e),
        })?;
        self.pending_len += frame.len();
        self.pending.push_back(frame);
        Ok(())
    }

    /// Removes exactly `n` bytes (or everything, if less) from the front of
    /// `pending`.
    fn take_pending(&mut self, n: usize) -> PutPayload {
        let mut parts = Vec::new();
        let mut need = n;
        while need > 0 {
            let Some(mut front) = self.pending.pop_front() else {
                break;
            };
            if front.len() > need {
                let rest = front.split_off(need);
                self.pending.push_front(rest);
            }
            need -= front.len();
            self.pending_len -= front.len();
            parts.push(front);
        }
        parts.into_iter().collect()
    }

    /// Starts the multipart upload if needed, waits for a free slot, and
    /// spawns the part's upload.
    async fn upload_part(&mut self, part: PutPayload) -> Result<(), BackendError> {
        self.reap_finished()?;
        while self.tasks.len() >= WRITE_MAX_IN_FLIGHT {
            self.join_one().await?;
        }
        let upload = match &mut self.upload {
            Some(upload) => upload,
            None => {
                let upload = self
                    .backend
                    .store
                    .put_multipart(&self.path)
                    .await
                    .map_err(|e| self.backend.store_err(&self.blob, e))?;
                self.upload.insert(upload)
            }
        };
        let len = part.content_length();
        let fut = upload.put_part(part);
        self.tasks.spawn(async move { fut.await.map(|()| len) });
        self.in_flight += len;
        self.stored += len as u64;
        Ok(())
    }

    /// Accounts for part uploads that already finished, without waiting.
    fn reap_finished(&mut self) -> Result<(), BackendError> {
        while let Some(joined) = self.tasks.try_join_next() {
            self.account(joined)?;
        }
        Ok(())
    }

    /// Waits for one part upload to finish.
    async fn join_one(&mut self) -> Result<(), BackendError> {
        match self.tasks.join_next().await {
            Some(joined) => self.account(joined),
            None => Ok(()),
        }
    }

    fn account(
        &mut self,
        joined: Result<object_store::Result<usize>, tokio::task::JoinError>,
    ) -> Result<(), BackendError> {
        match joined {
            Ok(Ok(len)) => {
                self.in_flight -= len;
                Ok(())
            }
            Ok(Err(e)) => Err(self.backend.store_err(&self.blob, e)),
            Err(e) => Err(BackendError::Io {
                backend: self.backend.name().to_string(),
                what: format!("part upload task for blob {}", self.blob),
                source: std::io::Error::other(e),
            }),
        }
    }

    /// Seals the last frame, uploads everything left and completes the
    /// write; returns the blob's stored size. On error nothing is published
    /// and the partial upload is aborted.
    ///
    /// Durability: on local backends ([`Backend::local`], or [`Backend::open`]
    /// of a local spec) the blob is on disk before this returns (a shared
    /// `syncfs` on Linux). For stores built by the caller, durability is
    /// whatever that store's `put`/multipart completion guarantees
    /// (`LocalFileSystem` without `with_fsync(true)` does **not** fsync).
    pub async fn finish(mut self) -> Result<u64, BackendError> {
        if self.poisoned {
            let err = BackendError::WriterPoisoned {
                backend: self.backend.name().to_string(),
                blob: self.blob.clone(),
            };
            self.abort().await;
            return Err(err);
        }
        match self.finish_inner().await {
            Ok(stored) => Ok(stored),
            Err(e) => {
                self.abort().await;
                Err(e)
            }
        }
    }

    async fn finish_inner(&mut self) -> Result<u64, BackendError> {
        while !self.sealing.is_empty() {
            self.take_sealed().await?;
            self.upload_full_parts().await?;
        }
        if let Some(frame) = self.sealer.take().and_then(Sealer::finish) {
            self.pending_len += frame.len();
            self.pending.push_back(frame);
        }
        let large = self.upload.is_some();
        if !large {
            // Small object: one put of header and frames.
            let len = self.pending_len;
            let payload = self.take_pending(len);
            self.backend
                .store
                .put(&self.path, payload)
                .await
                .map_err(|e| self.backend.store_err(&self.blob, e))?;
            self.stored += len as u64;
        } else {
            while self.pending_len > 0 {
                let part = self.take_pending(WRITE_CHUNK_SIZE);
                self.upload_part(part).await?;
            }
            while !self.tasks.is_empty() {
                self.join_one().await?;
            }
            if let Some(upload) = self.upload.as_mut() {
                upload
                    .complete()
                    .await
                    .map_err(|e| self.backend.store_err(&self.blob, e))?;
            }
            self.upload = None;
        }
        self.backend
            .make_durable(&self.blob, &self.path, large)
            .await?;
        debug_assert_eq!(self.stored, sealed_len(self.plain, self.backend.frame_size));
        Ok(self.stored)
    }

    /// Abandons the write (best effort): cancels in-flight parts and aborts
    /// the multipart upload so nothing remains visible. Errors are logged,
    /// not returned.
    pub async fn abort(mut self) {
        self.sealing.clear();
        self.sealing_len = 0;
        self.tasks.shutdown().await;
        self.in_flight = 0;
        self.pending.clear();
        self.pending_len = 0;
        if let Some(mut upload) = self.upload.take()
            && let Err(e) = upload.abort().await
        {
            tracing::warn!(
                backend = self.backend.name(),
                blob = %self.blob,
                error = %e,
                "aborting multipart upload failed"
            );
        }
    }
}
