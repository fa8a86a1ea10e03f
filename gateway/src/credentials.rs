//! Root credentials and the admin token.
//!
//! On first start they are generated, written to `DATA_DIR/credentials.json` with mode 0600 and printed once.
//! `STRATA_ACCESS_KEY`, `STRATA_SECRET_KEY` and `STRATA_ADMIN_TOKEN` override the stored values (and nothing is
//! generated for a value that the environment supplies).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use rand::Rng;
use serde::{Deserialize, Serialize};

/// The root S3 user and the admin API's bearer token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RootCredentials {
    pub access_key: String,
    pub secret_key: String,
    pub admin_token: String,
}

/// Whether the credentials were just generated (and so must be shown to the operator once).
pub struct Loaded {
    pub credentials: RootCredentials,
    pub generated: bool,
    /// Environment variables that replaced a stored value.
    pub overridden: Vec<&'static str>,
}

const FILE: &str = "credentials.json";

fn random_string(len: usize, alphabet: &[u8]) -> String {
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| alphabet[rng.gen_range(0..alphabet.len())] as char)
        .collect()
}

/// A new secret key (40 letters and digits).
pub fn random_secret() -> String {
    random_string(
        40,
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
    )
}

fn generate() -> RootCredentials {
    const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    const ANY: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    RootCredentials {
        access_key: format!("STRATA{}", random_string(14, UPPER)),
        secret_key: random_string(40, ANY),
        admin_token: random_string(40, ANY),
    }
}

/// The name of the cluster's credentials in the shared catalog.
const SHARED: &str = "credentials";

/// A cluster's credentials: stored in the shared catalog sealed with the master key, created by the first node
/// (or `strata cluster init`) and loaded by every other; then the environment overrides apply.
pub fn load_or_create_shared(
    catalog: &dyn catalog::Catalog,
    master: &engine::secrets::MasterKey,
) -> anyhow::Result<Loaded> {
    let open = |sealed: &[u8]| -> anyhow::Result<RootCredentials> {
        let plain = master
            .open(sealed)
            .map_err(|e| anyhow::anyhow!("the cluster's credentials: {e}"))?;
        Ok(serde_json::from_slice(&plain)?)
    };
    let (credentials, generated) = match catalog.secret(SHARED)? {
        Some(sealed) => (open(&sealed)?, false),
        None => {
            let c = generate();
            let sealed = master.seal(&serde_json::to_vec(&c)?);
            if catalog.swap_secret(SHARED, None, &sealed)? {
                (c, true)
            } else {
                let sealed = catalog
                    .secret(SHARED)?
                    .ok_or_else(|| anyhow::anyhow!("the cluster's credentials vanished"))?;
                (open(&sealed)?, false)
            }
        }
    };
    with_overrides(credentials, generated)
}

/// Loads the stored credentials (creating them on first start), then applies the environment overrides.
pub fn load_or_create(data_dir: &Path) -> anyhow::Result<Loaded> {
    let path = data_dir.join(FILE);
    let (credentials, generated) = match std::fs::read(&path) {
        Ok(bytes) => (
            serde_json::from_slice::<RootCredentials>(&bytes).map_err(|e| {
                anyhow::anyhow!("{} is not valid credentials JSON: {e}", path.display())
            })?,
            false,
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let c = generate();
            write_private(&path, &serde_json::to_vec_pretty(&c)?)?;
            (c, true)
        }
        Err(e) => return Err(anyhow::anyhow!("cannot read {}: {e}", path.display())),
    };
    with_overrides(credentials, generated)
}

/// Replaces stored values with `STRATA_ACCESS_KEY`, `STRATA_SECRET_KEY` and `STRATA_ADMIN_TOKEN` when set.
fn with_overrides(mut credentials: RootCredentials, generated: bool) -> anyhow::Result<Loaded> {
    let mut overridden = Vec::new();
    for (var, field) in [
        ("STRATA_ACCESS_KEY", &mut credentials.access_key),
        ("STRATA_SECRET_KEY", &mut credentials.secret_key),
        ("STRATA_ADMIN_TOKEN", &mut credentials.admin_token),
    ] {
        if let Ok(v) = std::env::var(var) {
            if v.is_empty() {
                anyhow::bail!("{var} is set but empty");
            }
            *field = v;
            overridden.push(var);
        }
    }
    Ok(Loaded {
        credentials,
        generated,
        overridden,
    })
}

/// Writes a file readable by its owner only, atomically (temp file, fsync, rename).
pub fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn first_start_generates_private_file_and_second_start_reads_it() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create(dir.path()).unwrap();
        let mode = std::fs::metadata(dir.path().join(FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let second = load_or_create(dir.path()).unwrap();
        // The environment may override values in CI, so compare what the file holds.
        let stored: RootCredentials =
            serde_json::from_slice(&std::fs::read(dir.path().join(FILE)).unwrap()).unwrap();
        assert!(!second.generated);
        assert_eq!(stored.secret_key.len(), 40);
        assert!(stored.access_key.starts_with("STRATA"));
        if std::env::var("STRATA_ACCESS_KEY").is_err() {
            assert!(first.generated);
            assert_eq!(first.credentials.access_key, second.credentials.access_key);
        }
    }
}
