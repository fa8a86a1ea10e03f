//! Secrets shared by the nodes of a cluster, kept in the shared catalog sealed with the cluster's master key
//! (a Fernet key every node is given: `STRATA_MASTER_KEY` or a key file). The database never sees them in the
//! clear. Two kinds: each backend's keyring (`keyring/<backend>`, [`SharedKeyrings`]) and the gateway's root
//! credentials (`credentials`, sealed and opened by the gateway with [`MasterKey`]).

use std::sync::Arc;

use backends::{Keyring, KeyringStore};
use catalog::Catalog;

/// The cluster's master key.
#[derive(Clone)]
pub struct MasterKey(Arc<fernet::Fernet>);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    /// Parses a Fernet key (32 bytes, URL-safe base64, as [`MasterKey::generate`] prints).
    pub fn parse(text: &str) -> Result<MasterKey, String> {
        fernet::Fernet::new(text.trim())
            .map(|f| MasterKey(Arc::new(f)))
            .ok_or_else(|| {
                "the master key is not a Fernet key (32 bytes, URL-safe base64)".to_owned()
            })
    }

    /// A new random master key, printable.
    pub fn generate() -> String {
        fernet::Fernet::generate_key()
    }

    pub fn seal(&self, plain: &[u8]) -> Vec<u8> {
        self.0.encrypt(plain).into_bytes()
    }

    /// Opens what [`MasterKey::seal`] made; fails for another master key or damaged bytes.
    pub fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, String> {
        let token = std::str::from_utf8(sealed).map_err(|_| "not a Fernet token".to_owned())?;
        self.0
            .decrypt(token)
            .map_err(|_| "cannot open: another master key, or damaged".to_owned())
    }
}

/// Backend keyrings in the shared catalog.
pub struct SharedKeyrings {
    pub catalog: Arc<dyn Catalog>,
    pub master: MasterKey,
}

fn name(backend: &str) -> String {
    format!("keyring/{backend}")
}

impl SharedKeyrings {
    fn decode(&self, backend: &str, sealed: &[u8]) -> Result<Keyring, String> {
        let plain = self
            .master
            .open(sealed)
            .map_err(|e| format!("keyring of {backend}: {e}"))?;
        Keyring::from_bytes(&name(backend), &plain).map_err(|e| e.to_string())
    }

    fn encode(&self, ring: &Keyring) -> Result<Vec<u8>, String> {
        Ok(self
            .master
            .seal(&ring.to_bytes().map_err(|e| e.to_string())?))
    }
}

impl KeyringStore for SharedKeyrings {
    fn load_or_create(&self, backend: &str) -> Result<Keyring, String> {
        if let Some(ring) = self.load(backend)? {
            return Ok(ring);
        }
        let ring = Keyring::generate();
        let sealed = self.encode(&ring)?;
        if self
            .catalog
            .swap_secret(&name(backend), None, &sealed)
            .map_err(|e| e.to_string())?
        {
            return Ok(ring);
        }
        // Another node created it first: use theirs.
        self.load(backend)?
            .ok_or_else(|| format!("keyring of {backend} vanished while being created"))
    }

    fn load(&self, backend: &str) -> Result<Option<Keyring>, String> {
        match self
            .catalog
            .secret(&name(backend))
            .map_err(|e| e.to_string())?
        {
            Some(sealed) => self.decode(backend, &sealed).map(Some),
            None => Ok(None),
        }
    }

    fn replace(&self, backend: &str, previous: &Keyring, next: &Keyring) -> Result<(), String> {
        let stored = self
            .catalog
            .secret(&name(backend))
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("no stored keyring for {backend}"))?;
        let current = self.decode(backend, &stored)?;
        if current.ids() != previous.ids() || current.active_id() != previous.active_id() {
            return Err(format!(
                "the keyring of {backend} changed on another node; reload and rotate again"
            ));
        }
        let sealed = self.encode(next)?;
        if self
            .catalog
            .swap_secret(&name(backend), Some(&stored), &sealed)
            .map_err(|e| e.to_string())?
        {
            Ok(())
        } else {
            Err(format!(
                "the keyring of {backend} changed on another node; rotate again"
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_keyrings_round_trip_and_refuse_another_master_key() {
        let dir = tempfile::tempdir().unwrap();
        let catalog: Arc<dyn Catalog> = Arc::new(
            catalog::RedbCatalog::open(&dir.path().join("c.redb"), Default::default()).unwrap(),
        );
        let master = MasterKey::parse(&MasterKey::generate()).unwrap();
        let store = SharedKeyrings {
            catalog: catalog.clone(),
            master: master.clone(),
        };
        let ring = store.load_or_create("hot").unwrap();
        // A second node gets the same keyring.
        let again = store.load_or_create("hot").unwrap();
        assert_eq!(ring.ids(), again.ids());
        let token = ring.active_key().seal(b"probe");
        assert_eq!(
            again.active_key().open(&token).as_deref(),
            Some(&b"probe"[..])
        );
        // Stored sealed: the key material is not in the catalog in the clear.
        let stored = catalog.secret("keyring/hot").unwrap().unwrap();
        let plain = ring.to_bytes().unwrap();
        assert!(
            !stored
                .windows(16)
                .any(|w| plain.windows(16).any(|p| p == w))
        );
        // Rotation through the store; a stale rotation is refused.
        let mut next = ring.clone();
        next.rotate();
        store.replace("hot", &ring, &next).unwrap();
        assert_eq!(store.load("hot").unwrap().unwrap().ids(), vec![1, 2]);
        assert!(store.replace("hot", &ring, &next).is_err());
        // Another master key cannot open it.
        let other = SharedKeyrings {
            catalog,
            master: MasterKey::parse(&MasterKey::generate()).unwrap(),
        };
        assert!(other.load("hot").is_err());
        assert!(MasterKey::parse("not a key").is_err());
    }
}
