//! Per-backend Fernet keyrings.
//!
//! A [`Keyring`] holds every Fernet key a backend has ever sealed with, by
//! `u32` id, and names one of them active. New blobs are sealed with the
//! active key; the sealed header records the key id so old blobs keep
//! opening after [`Keyring::rotate`].
//!
//! On disk a keyring is a JSON file
//! `{"active":1,"keys":{"1":"<urlsafe base64 fernet key>"}}` with mode 0600.
//! Every write goes to a fresh temporary file in the same directory (mode
//! 0600, `create_new`), is fsynced, and is then renamed over the target, after
//! which the directory is fsynced; readers therefore see either the old or the
//! new keyring, never a partial one. Key ids 0 and `u32::MAX` are reserved so
//! that [`Keyring::rotate`] can never overflow.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::seal::FrameKey;
use serde::{Deserialize, Serialize};

use crate::error::KeyError;

/// The on-disk shape of a keyring.
#[derive(Serialize, Deserialize)]
struct KeyringFile {
    active: u32,
    keys: BTreeMap<u32, String>,
}

/// One key: its encoded form (for saving) and the ready-to-use cipher.
#[derive(Clone)]
struct KeyEntry {
    encoded: String,
    key: FrameKey,
}

/// A backend's Fernet keys by id, one of them active.
///
/// Invariants: at least one key; `active` is a key id; no id is 0 or
/// `u32::MAX`. `Debug` never prints key material.
#[derive(Clone)]
pub struct Keyring {
    active: u32,
    keys: BTreeMap<u32, KeyEntry>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("active", &self.active)
            .field("ids", &self.ids())
            .finish_non_exhaustive()
    }
}

/// Builds a new random key entry.
fn new_entry() -> KeyEntry {
    let encoded = FrameKey::generate();
    // `generate` returns 32 random bytes in the encoding `from_fernet_key` reads.
    let key = FrameKey::from_fernet_key(&encoded).expect("FrameKey::generate yields a valid key");
    KeyEntry { encoded, key }
}

impl Keyring {
    /// A fresh keyring with one random key, id 1, active.
    pub fn generate() -> Keyring {
        Keyring {
            active: 1,
            keys: BTreeMap::from([(1, new_entry())]),
        }
    }

    /// Loads the keyring at `path`, or, if the file does not exist, creates
    /// it with [`Keyring::generate`].
    ///
    /// Creation is race-free between processes: the new file is published
    /// with a hard link, which fails if another process created the file
    /// first, in which case that file is loaded instead. A file readable by
    /// group or others is loaded but logged as a warning.
    pub fn load_or_create(path: &Path) -> Result<Keyring, KeyError> {
        match fs::read(path) {
            Ok(raw) => Self::parse(path, &raw),
            Err(e) if e.kind() == ErrorKind::NotFound => {
                let ring = Keyring::generate();
                let tmp = ring.write_temp(path)?;
                let published = fs::hard_link(&tmp, path);
                // The temp name is no longer needed whether or not the link
                // succeeded.
                let _ = fs::remove_file(&tmp);
                match published {
                    Ok(()) => {
                        sync_parent(path)?;
                        Ok(ring)
                    }
                    Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                        let raw = fs::read(path).map_err(|source| KeyError::Io {
                            path: path.to_path_buf(),
                            what: "reading keyring",
                            source,
                        })?;
                        Self::parse(path, &raw)
                    }
                    Err(source) => Err(KeyError::Io {
                        path: path.to_path_buf(),
                        what: "publishing new keyring",
                        source,
                    }),
                }
            }
            Err(source) => Err(KeyError::Io {
                path: path.to_path_buf(),
                what: "reading keyring",
                source,
            }),
        }
    }

    /// Atomically replaces the file at `path` with this keyring
    /// (temp file, fsync, rename, directory fsync; mode 0600).
    pub fn save(&self, path: &Path) -> Result<(), KeyError> {
        let tmp = self.write_temp(path)?;
        if let Err(source) = fs::rename(&tmp, path) {
            let _ = fs::remove_file(&tmp);
            return Err(KeyError::Io {
                path: path.to_path_buf(),
                what: "renaming keyring into place",
                source,
            });
        }
        sync_parent(path)
    }

    /// Adds a new random key, makes it active and returns its id
    /// (one more than the largest id so far; ids are never reused).
    /// Call [`Keyring::save`] to persist.
    pub fn rotate(&mut self) -> u32 {
        // Ids are < u32::MAX by invariant, so this never saturates.
        let id = self
            .keys
            .last_key_value()
            .map_or(1, |(id, _)| id.saturating_add(1));
        self.keys.insert(id, new_entry());
        self.active = id;
        id
    }

    /// The id of the key new blobs are sealed with.
    pub fn active_id(&self) -> u32 {
        self.active
    }

    /// All key ids, ascending.
    pub fn ids(&self) -> Vec<u32> {
        self.keys.keys().copied().collect()
    }

    /// The cipher for key `id`, if the keyring has it.
    pub fn key(&self, id: u32) -> Option<&FrameKey> {
        self.keys.get(&id).map(|e| &e.key)
    }

    /// The active key's cipher.
    pub fn active_key(&self) -> &FrameKey {
        // `active` is always a key id (struct invariant).
        &self.keys[&self.active].key
    }

    /// The keyring in its file format (JSON; key material in the clear: seal it before storing it anywhere
    /// but a 0600 file).
    pub fn to_bytes(&self) -> Result<Vec<u8>, KeyError> {
        serde_json::to_vec(&self.file()).map_err(KeyError::Serialize)
    }

    /// Parses and validates bytes made by [`Keyring::to_bytes`]; `origin` names where they came from in errors.
    pub fn from_bytes(origin: &str, raw: &[u8]) -> Result<Keyring, KeyError> {
        Self::parse(Path::new(origin), raw)
    }

    fn file(&self) -> KeyringFile {
        KeyringFile {
            active: self.active,
            keys: self
                .keys
                .iter()
                .map(|(id, e)| (*id, e.encoded.clone()))
                .collect(),
        }
    }

    /// Parses and validates a keyring file's bytes.
    fn parse(path: &Path, raw: &[u8]) -> Result<Keyring, KeyError> {
        let file: KeyringFile = serde_json::from_slice(raw).map_err(|source| KeyError::Parse {
            path: path.to_path_buf(),
            source,
        })?;
        let mut keys = BTreeMap::new();
        for (id, encoded) in file.keys {
            if id == 0 || id == u32::MAX {
                return Err(KeyError::ReservedId {
                    path: path.to_path_buf(),
                    id,
                });
            }
            let key = FrameKey::from_fernet_key(&encoded).ok_or_else(|| KeyError::InvalidKey {
                path: path.to_path_buf(),
                id,
            })?;
            keys.insert(id, KeyEntry { encoded, key });
        }
        if !keys.contains_key(&file.active) {
            return Err(KeyError::MissingActive {
                path: path.to_path_buf(),
                active: file.active,
            });
        }
        if let Ok(meta) = fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                path = %path.display(),
                mode = format_args!("{:o}", meta.permissions().mode() & 0o777),
                "keyring file is readable by group or others"
            );
        }
        Ok(Keyring {
            active: file.active,
            keys,
        })
    }

    /// Writes this keyring to a new 0600 temp file next to `path`, fsynced,
    /// and returns the temp file's path.
    fn write_temp(&self, path: &Path) -> Result<PathBuf, KeyError> {
        let json = serde_json::to_vec_pretty(&self.file()).map_err(KeyError::Serialize)?;
        let io = |what: &'static str| {
            move |source| KeyError::Io {
                path: path.to_path_buf(),
                what,
                source,
            }
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(io("creating keyring directory"))?;
        }
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(format!(".tmp.{}", uuid::Uuid::new_v4().simple()));
        let tmp = path.with_file_name(name);
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io("creating temporary keyring file"))?;
        let written = f.write_all(&json).and_then(|()| f.sync_all());
        if let Err(source) = written {
            drop(f);
            let _ = fs::remove_file(&tmp);
            return Err(io("writing temporary keyring file")(source));
        }
        Ok(tmp)
    }
}

/// Fsyncs the directory containing `path` so a rename/link is durable.
fn sync_parent(path: &Path) -> Result<(), KeyError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| KeyError::Io {
            path: path.to_path_buf(),
            what: "syncing keyring directory",
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generate_has_one_active_key() {
        let k = Keyring::generate();
        assert_eq!(k.active_id(), 1);
        assert_eq!(k.ids(), vec![1]);
        assert!(k.key(1).is_some());
        assert!(k.key(2).is_none());
    }

    #[test]
    fn rotate_adds_and_activates() {
        let mut k = Keyring::generate();
        let token = k.active_key().seal(b"hello");
        assert_eq!(k.rotate(), 2);
        assert_eq!(k.rotate(), 3);
        assert_eq!(k.active_id(), 3);
        assert_eq!(k.ids(), vec![1, 2, 3]);
        let old = k.key(1).expect("key 1 kept");
        assert_eq!(old.open(&token).expect("old key opens"), b"hello");
        assert!(k.key(3).expect("key 3").open(&token).is_none());
    }

    #[test]
    fn file_is_0600_and_reloads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub").join("keys.json");
        let mut k = Keyring::load_or_create(&path).expect("create");
        let mode = fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let token = k.active_key().seal(b"data");
        k.rotate();
        k.save(&path).expect("save");
        let mode = fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);

        let back = Keyring::load_or_create(&path).expect("reload");
        assert_eq!(back.active_id(), 2);
        assert_eq!(back.ids(), vec![1, 2]);
        let opened = back.key(1).expect("key 1").open(&token);
        assert_eq!(opened.expect("decrypts"), b"data");
        // No temp files are left behind.
        let names: Vec<_> = fs::read_dir(path.parent().expect("parent"))
            .expect("readdir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("keys.json")]);
    }

    #[test]
    fn file_format_is_documented_shape() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("keys.json");
        Keyring::load_or_create(&path).expect("create");
        let v: serde_json::Value =
            serde_json::from_slice(&fs::read(&path).expect("read")).expect("json");
        assert_eq!(v["active"], 1);
        let key = v["keys"]["1"].as_str().expect("key 1 is a string");
        assert!(fernet::Fernet::new(key).is_some());
        assert!(FrameKey::from_fernet_key(key).is_some());
    }

    #[test]
    fn rejects_bad_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("keys.json");
        let key = FrameKey::generate();
        let cases = [
            ("not json".to_string(), "Parse"),
            (
                format!(r#"{{"active":2,"keys":{{"1":"{key}"}}}}"#),
                "MissingActive",
            ),
            (
                r#"{"active":1,"keys":{"1":"short"}}"#.to_string(),
                "InvalidKey",
            ),
            (
                format!(r#"{{"active":0,"keys":{{"0":"{key}"}}}}"#),
                "ReservedId",
            ),
        ];
        for (body, want) in cases {
            fs::write(&path, body).expect("write");
            let err = Keyring::load_or_create(&path).expect_err(want);
            assert!(format!("{err:?}").starts_with(want), "{want}: got {err:?}");
        }
    }

    #[test]
    fn debug_hides_key_material() {
        let k = Keyring::generate();
        let dbg = format!("{k:?}");
        assert!(!dbg.contains(&k.keys[&1].encoded));
        assert!(dbg.contains("active"));
    }
}
