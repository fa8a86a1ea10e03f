//! Users managed through the admin API (`POST /admin/users`, `DELETE /admin/users/{access_key}`), beside those of
//! the config and root.
//!
//! They live in the catalog as one secret (`users`: a JSON list, sealed with the cluster's master key when there is
//! one), changed by compare-and-swap so that two nodes adding users at once both land. The S3 front reads them from
//! [`Users`]; a node refreshes its copy after each change it makes and, with a shared catalog, every few seconds
//! ([`refresh_every`]) so that a user added through one node can sign requests on every node.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::{AccessLevel, Grant};
use crate::s3::auth::{User, Users};

/// The name of the managed users' secret in the catalog.
const SECRET: &str = "users";

/// One managed user as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredUser {
    pub access_key: String,
    pub secret_key: String,
    #[serde(default)]
    pub access: AccessLevel,
    #[serde(default)]
    pub grants: Option<Vec<Grant>>,
}

/// Why a change to the managed users was refused.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("{0}")]
    Invalid(String),
    #[error("user {0} already exists")]
    Exists(String),
    #[error("user {0} comes from the configuration (or is root) and cannot be changed here")]
    Fixed(String),
    #[error("no user {0}")]
    NoSuchUser(String),
    #[error("catalog: {0}")]
    Catalog(#[from] catalog::CatalogError),
    #[error("the stored users cannot be read: {0}")]
    Corrupt(String),
}

/// The managed users' store.
pub struct UserStore {
    catalog: Arc<dyn catalog::Catalog>,
    master: Option<engine::secrets::MasterKey>,
    users: Users,
}

impl UserStore {
    pub fn new(
        catalog: Arc<dyn catalog::Catalog>,
        master: Option<engine::secrets::MasterKey>,
        users: Users,
    ) -> UserStore {
        UserStore {
            catalog,
            master,
            users,
        }
    }

    fn decode(&self, raw: &[u8]) -> Result<Vec<StoredUser>, UserError> {
        let plain = match &self.master {
            Some(m) => m.open(raw).map_err(UserError::Corrupt)?,
            None => raw.to_vec(),
        };
        serde_json::from_slice(&plain).map_err(|e| UserError::Corrupt(e.to_string()))
    }

    fn encode(&self, users: &[StoredUser]) -> Result<Vec<u8>, UserError> {
        let plain = serde_json::to_vec(users).map_err(|e| UserError::Corrupt(e.to_string()))?;
        Ok(match &self.master {
            Some(m) => m.seal(&plain),
            None => plain,
        })
    }

    /// The stored users (blocking: call from a blocking task).
    pub fn load(&self) -> Result<Vec<StoredUser>, UserError> {
        match self.catalog.secret(SECRET)? {
            Some(raw) => self.decode(&raw),
            None => Ok(Vec::new()),
        }
    }

    /// Reads the stored users into [`Users`] (blocking).
    pub fn refresh(&self) -> Result<(), UserError> {
        let stored = self.load()?;
        self.publish(&stored);
        Ok(())
    }

    fn publish(&self, stored: &[StoredUser]) {
        self.users.set_managed(stored.iter().map(|u| {
            (
                u.access_key.clone(),
                User {
                    secret_key: u.secret_key.clone(),
                    access: u.access,
                    grants: u.grants.clone(),
                },
            )
        }));
    }

    /// Applies `change` to the stored list by compare-and-swap (retried when another node changed it meanwhile),
    /// then publishes the result (blocking).
    fn update(
        &self,
        change: impl Fn(&mut Vec<StoredUser>) -> Result<(), UserError>,
    ) -> Result<(), UserError> {
        loop {
            let raw = self.catalog.secret(SECRET)?;
            let mut users = match &raw {
                Some(r) => self.decode(r)?,
                None => Vec::new(),
            };
            change(&mut users)?;
            let value = self.encode(&users)?;
            if self.catalog.swap_secret(SECRET, raw.as_deref(), &value)? {
                self.publish(&users);
                return Ok(());
            }
        }
    }

    /// Adds a user (blocking): a key of 3 to 128 characters of letters, digits, `.`, `_` and `-`, a secret of at least
    /// 8 characters (generated when absent; returned either way), checked grants.
    pub fn add(&self, mut user: StoredUser) -> Result<StoredUser, UserError> {
        let key_ok = (3..=128).contains(&user.access_key.len())
            && user
                .access_key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !key_ok {
            return Err(UserError::Invalid(
                "access_key: 3 to 128 letters, digits, '.', '_' or '-'".to_owned(),
            ));
        }
        if user.secret_key.is_empty() {
            user.secret_key = crate::credentials::random_secret();
        } else if user.secret_key.len() < 8 {
            return Err(UserError::Invalid(
                "secret_key needs at least 8 characters".to_owned(),
            ));
        }
        for (i, g) in user.grants.iter().flatten().enumerate() {
            g.check()
                .map_err(|m| UserError::Invalid(format!("grants[{i}]: {m}")))?;
        }
        if self.users.is_fixed(&user.access_key) {
            return Err(UserError::Fixed(user.access_key));
        }
        self.update(|users| {
            if users.iter().any(|u| u.access_key == user.access_key) {
                return Err(UserError::Exists(user.access_key.clone()));
            }
            users.push(user.clone());
            Ok(())
        })?;
        Ok(user)
    }

    /// Removes a managed user (blocking).
    pub fn remove(&self, access_key: &str) -> Result<(), UserError> {
        if self.users.is_fixed(access_key) {
            return Err(UserError::Fixed(access_key.to_owned()));
        }
        self.update(|users| {
            let before = users.len();
            users.retain(|u| u.access_key != access_key);
            if users.len() == before {
                return Err(UserError::NoSuchUser(access_key.to_owned()));
            }
            Ok(())
        })
    }
}

/// Refreshes the managed users every `period` (a shared catalog: other nodes add and remove users too).
pub async fn refresh_every(store: Arc<UserStore>, period: Duration) {
    let mut tick = tokio::time::interval(period);
    loop {
        tick.tick().await;
        let s = store.clone();
        match tokio::task::spawn_blocking(move || s.refresh()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "cannot refresh the managed users"),
            Err(e) => tracing::warn!(error = %e, "refreshing the managed users panicked"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, UserStore, Users) {
        let dir = tempfile::tempdir().unwrap();
        let cat: Arc<dyn catalog::Catalog> = Arc::new(
            catalog::RedbCatalog::open(&dir.path().join("c.redb"), Default::default()).unwrap(),
        );
        let mut users = Users::default();
        users.insert("root".into(), "root-secret".into(), AccessLevel::Full, None);
        (dir, UserStore::new(cat, None, users.clone()), users)
    }

    fn user(key: &str) -> StoredUser {
        StoredUser {
            access_key: key.into(),
            secret_key: String::new(),
            access: AccessLevel::ReadOnly,
            grants: None,
        }
    }

    #[test]
    fn added_users_sign_at_once_and_survive_a_reload() {
        let (_dir, s, users) = store();
        let added = s.add(user("dave")).unwrap();
        assert!(added.secret_key.len() >= 32);
        assert_eq!(users.get("dave").unwrap().secret_key, added.secret_key);
        assert!(matches!(s.add(user("dave")), Err(UserError::Exists(_))));
        assert!(matches!(s.add(user("root")), Err(UserError::Fixed(_))));
        assert!(matches!(s.add(user("no")), Err(UserError::Invalid(_))));
        assert!(matches!(s.add(user("bad key")), Err(UserError::Invalid(_))));
        // Another store over the same catalog (another node) sees it after a refresh.
        assert_eq!(s.load().unwrap().len(), 1);
        s.remove("dave").unwrap();
        assert!(users.get("dave").is_none());
        assert!(matches!(s.remove("dave"), Err(UserError::NoSuchUser(_))));
        assert!(matches!(s.remove("root"), Err(UserError::Fixed(_))));
    }
}
