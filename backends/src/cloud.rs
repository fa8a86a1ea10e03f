//! Where a backend's bytes live: [`StoreSpec`], the serde description of a
//! store (local directory, S3, Azure Blob, GCS), and [`build_store`], which
//! turns it into an `object_store` client.
//!
//! All cloud protocol work (signing, REST, XML, multipart) is object_store's
//! `AmazonS3`, `MicrosoftAzure` and `GoogleCloudStorage`; this module only
//! maps configuration onto their builders. Credentials are never written in
//! the configuration: a spec names the *environment variables* holding them
//! (`access_key_env = "AWS_ACCESS_KEY_ID"`), which are read when the store is
//! built; a missing variable is [`BackendError::MissingEnv`] naming it.
//!
//! # Retries: which layer does what
//! Cloud clients are built with [`cloud_retry_config`]: at most
//! [`CLOUD_HTTP_RETRIES`] quick retries of a single HTTP request inside
//! object_store (connection errors, 5xx/429/408, and the resumption of a get
//! body that breaks mid-stream, which object_store does with a ranged,
//! ETag-checked request). Whole-operation retries with exponential backoff,
//! full jitter, logging and counters are the job of
//! [`crate::retry::RetryStore`], which the gateway puts above the chaos layer:
//! `Backend (sealing) → RetryStore → ChaosStore → store from build_store`.
//! Worst case one logical call makes
//! `RetryPolicy::max_attempts × (1 + CLOUD_HTTP_RETRIES)` HTTP requests, and
//! both layers are bounded in time.
//!
//! # Emulators
//! - moto (S3): `endpoint = "http://127.0.0.1:P"`, `allow_http = true`, any
//!   key pair (moto checks no signatures). Requests are path-style.
//! - Azurite: `endpoint = "http://127.0.0.1:P/devstoreaccount1"`,
//!   `account = "devstoreaccount1"`, the well-known development key,
//!   `allow_http = true`. (object_store's `with_use_emulator(true)` is not
//!   used: it takes the URL only from the process-wide
//!   `AZURITE_BLOB_STORAGE_URL` variable and ignores the endpoint, so two
//!   Azurite backends on different ports could not coexist. With the account
//!   in the endpoint path the requests and SharedKey signatures are the
//!   same.)
//! - fake-gcs-server: `endpoint = "http://127.0.0.1:P"`, `anonymous = true`,
//!   `allow_http = true`. See [`GcsSpec::anonymous`] for the compatibility
//!   shim this turns on, and for what fake-gcs-server cannot do (multipart
//!   uploads, so blobs that seal to [`crate::WRITE_CHUNK_SIZE`] or more).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::{GcpCredential, GoogleCloudStorageBuilder};
use object_store::local::LocalFileSystem;
use object_store::{
    Attribute, AttributeValue, Attributes, BackoffConfig, ClientOptions, ObjectStore, RetryConfig,
    StaticCredentialProvider,
};
use serde::{Deserialize, Serialize};

use crate::error::BackendError;
use crate::storage_class::StorageClassStore;

/// Retries of one HTTP request inside object_store's cloud clients (see the
/// module docs for how this composes with [`crate::retry::RetryStore`]).
pub const CLOUD_HTTP_RETRIES: usize = 2;

/// Time limit of one HTTP request of a cloud client (until the response is
/// complete, body included for small responses; a streamed get body is
/// bounded per chunk by object_store).
pub const CLOUD_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Time limit for establishing a connection to a cloud endpoint.
pub const CLOUD_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

fn default_region() -> String {
    "us-east-1".to_string()
}

/// A backend's store, as written in the gateway configuration. The `kind`
/// field selects the variant:
///
/// ```toml
/// kind = "s3"
/// endpoint = "http://127.0.0.1:9010"   # optional: omit for AWS
/// bucket = "strata-hot"
/// access_key_env = "AWS_ACCESS_KEY_ID"
/// secret_key_env = "AWS_SECRET_ACCESS_KEY"
/// allow_http = true
/// ```
///
/// Unknown fields are refused (also when the spec is `#[serde(flatten)]`ed
/// into a larger table: the fields the outer struct does not consume reach
/// the variant, which rejects any it does not know).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum StoreSpec {
    /// A directory on local disk (the embedded default).
    Local(LocalSpec),
    /// An S3 bucket (AWS or any S3-compatible service such as moto).
    S3(S3Spec),
    /// An Azure Blob Storage container (or Azurite).
    Azure(AzureSpec),
    /// A Google Cloud Storage bucket (or fake-gcs-server).
    Gcs(GcsSpec),
}

/// `kind = "local"`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalSpec {
    /// Directory holding the blobs; a relative path is taken from the data
    /// directory. Created if missing.
    pub path: PathBuf,
}

/// `kind = "s3"`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Spec {
    /// Endpoint URL for S3-compatible services and emulators
    /// (`http://127.0.0.1:9010`); omitted for AWS itself. Requests are
    /// path-style (`endpoint/bucket/key`).
    #[serde(default)]
    pub endpoint: Option<String>,
    /// The bucket (must exist).
    pub bucket: String,
    /// AWS region used in signatures.
    #[serde(default = "default_region")]
    pub region: String,
    /// Name of the environment variable holding the access key id.
    pub access_key_env: String,
    /// Name of the environment variable holding the secret access key.
    pub secret_key_env: String,
    /// Name of an environment variable holding a session token (temporary
    /// credentials); optional.
    #[serde(default)]
    pub session_token_env: Option<String>,
    /// Allow plain `http://` endpoints (emulators only).
    #[serde(default)]
    pub allow_http: bool,
    /// `x-amz-storage-class` sent with every write (`STANDARD_IA`,
    /// `GLACIER_IR`, ...); omitted: the bucket's default (Standard).
    #[serde(default)]
    pub storage_class: Option<String>,
}

/// `kind = "azure"`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AzureSpec {
    /// Account URL override: for Azurite
    /// `http://127.0.0.1:P/devstoreaccount1` (the account in the path);
    /// omitted: `https://{account}.blob.core.windows.net`.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Storage account name (`devstoreaccount1` for Azurite).
    pub account: String,
    /// The container (must exist).
    pub container: String,
    /// Name of the environment variable holding the account's shared key
    /// (base64).
    pub access_key_env: String,
    /// Allow plain `http://` endpoints (emulators only).
    #[serde(default)]
    pub allow_http: bool,
    /// Access tier sent with every write as `x-ms-access-tier` (`Hot`,
    /// `Cool`, `Cold`); omitted: the account's default tier.
    #[serde(default)]
    pub storage_class: Option<String>,
}

/// `kind = "gcs"`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GcsSpec {
    /// Base URL override (fake-gcs-server: `http://127.0.0.1:P`); omitted:
    /// `https://storage.googleapis.com`.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// The bucket (must exist).
    pub bucket: String,
    /// Name of the environment variable holding a service-account key
    /// (the JSON document itself, not a path). Required unless `anonymous`.
    #[serde(default)]
    pub service_account_env: Option<String>,
    /// Emulator mode: send no credentials (no OAuth, no signatures) and
    /// apply the fake-gcs-server compatibility shim: object_store uploads
    /// with the XML API (`PUT /bucket/object`), which fake-gcs-server only
    /// accepts as a signed-URL upload, so the shim marks such PUTs with an
    /// `X-Goog-Algorithm` query parameter and copies the `etag` and
    /// `generation` of fake-gcs-server's JSON reply into the `ETag` and
    /// `x-goog-generation` headers object_store expects. Requires
    /// `endpoint`. fake-gcs-server implements no XML multipart upload
    /// (`POST ?uploads`), so writes that need one (blobs sealing to
    /// [`crate::WRITE_CHUNK_SIZE`] or more) fail against it.
    #[serde(default)]
    pub anonymous: bool,
    /// Allow plain `http://` endpoints (emulators only).
    #[serde(default)]
    pub allow_http: bool,
    /// `x-goog-storage-class` sent with every write (`STANDARD`,
    /// `NEARLINE`, `COLDLINE`); omitted: the bucket's default class.
    #[serde(default)]
    pub storage_class: Option<String>,
}

impl StoreSpec {
    /// The spec's `kind` as written in the configuration.
    pub fn kind(&self) -> &'static str {
        match self {
            StoreSpec::Local(_) => "local",
            StoreSpec::S3(_) => "s3",
            StoreSpec::Azure(_) => "azure",
            StoreSpec::Gcs(_) => "gcs",
        }
    }

    /// Whether the store is on local disk (the only kind that can be made
    /// to fsync).
    pub fn is_local(&self) -> bool {
        matches!(self, StoreSpec::Local(_))
    }

    /// The names of the environment variables this spec reads credentials
    /// from (for start-up diagnostics; values are never exposed).
    pub fn credential_env_vars(&self) -> Vec<&str> {
        match self {
            StoreSpec::Local(_) => Vec::new(),
            StoreSpec::S3(s) => {
                let mut v = vec![s.access_key_env.as_str(), s.secret_key_env.as_str()];
                v.extend(s.session_token_env.as_deref());
                v
            }
            StoreSpec::Azure(a) => vec![a.access_key_env.as_str()],
            StoreSpec::Gcs(g) => g.service_account_env.iter().map(String::as_str).collect(),
        }
    }
}

impl fmt::Display for StoreSpec {
    /// A short description without secrets, e.g. `s3 bucket strata-hot at
    /// http://127.0.0.1:9010`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = |endpoint: &Option<String>| {
            endpoint
                .as_deref()
                .map(|e| format!(" at {e}"))
                .unwrap_or_default()
        };
        match self {
            StoreSpec::Local(l) => write!(f, "local directory {}", l.path.display()),
            StoreSpec::S3(s) => write!(f, "s3 bucket {}{}", s.bucket, at(&s.endpoint)),
            StoreSpec::Azure(a) => write!(
                f,
                "azure container {}/{}{}",
                a.account,
                a.container,
                at(&a.endpoint)
            ),
            StoreSpec::Gcs(g) => write!(f, "gcs bucket {}{}", g.bucket, at(&g.endpoint)),
        }
    }
}

/// The retry configuration given to object_store's cloud clients:
/// [`CLOUD_HTTP_RETRIES`] retries of a single request, 50 ms initial backoff
/// doubling up to 500 ms, and no retry started after 5 s.
pub fn cloud_retry_config() -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(500),
            base: 2.0,
        },
        max_retries: CLOUD_HTTP_RETRIES,
        retry_timeout: Duration::from_secs(5),
    }
}

/// HTTP client options of the cloud clients: [`CLOUD_REQUEST_TIMEOUT`],
/// [`CLOUD_CONNECT_TIMEOUT`], plain HTTP only if `allow_http`.
pub fn cloud_client_options(allow_http: bool) -> ClientOptions {
    ClientOptions::new()
        .with_timeout(CLOUD_REQUEST_TIMEOUT)
        .with_connect_timeout(CLOUD_CONNECT_TIMEOUT)
        .with_allow_http(allow_http)
}

/// Builds the raw store `spec` describes, reading credentials from the
/// process environment. Relative local paths are taken from `data_dir`.
///
/// Errors name the spec (e.g. `s3 bucket strata-hot`) as the backend; use
/// [`crate::Backend::open`] to get errors naming the backend instead.
pub fn build_store(
    spec: &StoreSpec,
    data_dir: &Path,
) -> Result<Arc<dyn ObjectStore>, BackendError> {
    build_store_with_env(&spec.to_string(), spec, data_dir, &|var| {
        std::env::var(var).ok()
    })
}

/// [`build_store`] with an explicit backend name for errors and an explicit
/// environment lookup (`env(name)` returns the variable's value, `None`
/// when unset), so callers and tests need not mutate the process
/// environment.
///
/// Nothing is contacted while building: a wrong endpoint, bucket or key
/// shows up on the first request. Local directories are created (mode per
/// umask) and the store fsyncs completed writes.
/// The directory of local spec `l` for backend `name` (created if missing); `None` for other specs.
pub(crate) fn local_root(
    name: &str,
    spec: &StoreSpec,
    data_dir: &Path,
) -> Result<Option<std::path::PathBuf>, BackendError> {
    let env = |_: &str| None;
    let cx = Cx { name, env: &env };
    match spec {
        StoreSpec::Local(l) => cx.local_root(l, data_dir).map(Some),
        _ => Ok(None),
    }
}

pub fn build_store_with_env(
    name: &str,
    spec: &StoreSpec,
    data_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Arc<dyn ObjectStore>, BackendError> {
    let cx = Cx { name, env };
    match spec {
        StoreSpec::Local(l) => cx.local(l, data_dir),
        StoreSpec::S3(s) => cx.s3(s),
        StoreSpec::Azure(a) => cx.azure(a),
        StoreSpec::Gcs(g) => cx.gcs(g),
    }
}

/// Build context: the backend name for errors and the environment.
struct Cx<'a> {
    name: &'a str,
    env: &'a dyn Fn(&str) -> Option<String>,
}

impl Cx<'_> {
    fn config_err(&self, reason: impl Into<String>) -> BackendError {
        BackendError::Config {
            backend: self.name.to_string(),
            reason: reason.into(),
        }
    }

    fn build_err(&self, kind: &'static str, source: object_store::Error) -> BackendError {
        BackendError::Build {
            backend: self.name.to_string(),
            kind,
            source,
        }
    }

    /// The value of the variable named by spec field `field`.
    fn secret(&self, field: &'static str, var: &str) -> Result<String, BackendError> {
        if var.is_empty() {
            return Err(self.config_err(format!("{field} is empty: name an environment variable")));
        }
        match (self.env)(var) {
            None => Err(BackendError::MissingEnv {
                backend: self.name.to_string(),
                field,
                var: var.to_string(),
            }),
            Some(v) if v.trim().is_empty() => Err(self.config_err(format!(
                "environment variable {var} (named by {field}) is empty"
            ))),
            Some(v) => Ok(v),
        }
    }

    fn nonempty(&self, field: &str, value: &str) -> Result<(), BackendError> {
        if value.trim().is_empty() {
            return Err(self.config_err(format!("{field} is empty")));
        }
        Ok(())
    }

    /// Checks an endpoint URL: absolute http(s), and http only with
    /// `allow_http`.
    fn endpoint(&self, endpoint: &str, allow_http: bool) -> Result<(), BackendError> {
        let scheme_end = endpoint.find("://").ok_or_else(|| {
            self.config_err(format!(
                "endpoint {endpoint:?} is not an absolute URL (expected http(s)://host[:port][/path])"
            ))
        })?;
        let host = &endpoint[scheme_end + 3..];
        if host.is_empty() || host.starts_with('/') {
            return Err(self.config_err(format!("endpoint {endpoint:?} has no host")));
        }
        match &endpoint[..scheme_end] {
            "https" => Ok(()),
            "http" if allow_http => Ok(()),
            "http" => Err(self.config_err(format!(
                "endpoint {endpoint:?} is plain http: set allow_http = true (emulators only)"
            ))),
            other => Err(self.config_err(format!(
                "endpoint {endpoint:?} has scheme {other:?}, expected http or https"
            ))),
        }
    }

    /// The directory of a local backend (`data_dir` joined to a relative path), created if missing.
    fn local_root(
        &self,
        l: &LocalSpec,
        data_dir: &Path,
    ) -> Result<std::path::PathBuf, BackendError> {
        if l.path.as_os_str().is_empty() {
            return Err(self.config_err("path is empty"));
        }
        let root = if l.path.is_absolute() {
            l.path.clone()
        } else {
            data_dir.join(&l.path)
        };
        std::fs::create_dir_all(&root).map_err(|source| BackendError::Io {
            backend: self.name.to_string(),
            what: format!("creating root directory {}", root.display()),
            source,
        })?;
        Ok(root)
    }

    fn local(&self, l: &LocalSpec, data_dir: &Path) -> Result<Arc<dyn ObjectStore>, BackendError> {
        let root = self.local_root(l, data_dir)?;
        let store = LocalFileSystem::new_with_prefix(&root)
            .map_err(|source| BackendError::Store {
                backend: self.name.to_string(),
                blob: String::new(),
                source,
            })?
            .with_fsync(true);
        Ok(Arc::new(store))
    }

    fn s3(&self, s: &S3Spec) -> Result<Arc<dyn ObjectStore>, BackendError> {
        self.nonempty("bucket", &s.bucket)?;
        self.nonempty("region", &s.region)?;
        let access_key = self.secret("access_key_env", &s.access_key_env)?;
        let secret_key = self.secret("secret_key_env", &s.secret_key_env)?;
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&s.bucket)
            .with_region(&s.region)
            .with_access_key_id(access_key)
            .with_secret_access_key(secret_key)
            .with_allow_http(s.allow_http)
            .with_virtual_hosted_style_request(false)
            .with_retry(cloud_retry_config())
            .with_client_options(cloud_client_options(s.allow_http));
        if let Some(var) = &s.session_token_env {
            builder = builder.with_token(self.secret("session_token_env", var)?);
        }
        if let Some(endpoint) = &s.endpoint {
            self.endpoint(endpoint, s.allow_http)?;
            builder = builder.with_endpoint(endpoint.trim_end_matches('/'));
        }
        let store = builder.build().map_err(|e| self.build_err("s3", e))?;
        self.classed(Arc::new(store), "storage_class", &s.storage_class)
    }

    fn azure(&self, a: &AzureSpec) -> Result<Arc<dyn ObjectStore>, BackendError> {
        self.nonempty("account", &a.account)?;
        self.nonempty("container", &a.container)?;
        let key = self.secret("access_key_env", &a.access_key_env)?;
        let mut builder = MicrosoftAzureBuilder::new()
            .with_account(&a.account)
            .with_container_name(&a.container)
            .with_access_key(key)
            .with_allow_http(a.allow_http)
            .with_retry(cloud_retry_config())
            .with_client_options(cloud_client_options(a.allow_http));
        if let Some(endpoint) = &a.endpoint {
            self.endpoint(endpoint, a.allow_http)?;
            builder = builder.with_endpoint(endpoint.trim_end_matches('/').to_string());
        }
        let store = builder.build().map_err(|e| self.build_err("azure", e))?;
        self.classed(Arc::new(store), "storage_class", &a.storage_class)
    }

    fn gcs(&self, g: &GcsSpec) -> Result<Arc<dyn ObjectStore>, BackendError> {
        self.nonempty("bucket", &g.bucket)?;
        let mut builder = GoogleCloudStorageBuilder::new()
            .with_bucket_name(&g.bucket)
            .with_retry(cloud_retry_config())
            .with_client_options(cloud_client_options(g.allow_http));
        if let Some(endpoint) = &g.endpoint {
            self.endpoint(endpoint, g.allow_http)?;
            builder = builder.with_base_url(endpoint.trim_end_matches('/'));
        }
        match (g.anonymous, &g.service_account_env) {
            (true, Some(_)) => {
                return Err(self.config_err(
                    "anonymous = true and service_account_env are mutually exclusive",
                ));
            }
            (true, None) => {
                if g.endpoint.is_none() {
                    return Err(
                        self.config_err("anonymous = true is for emulators and needs an endpoint")
                    );
                }
                // An explicit (empty) credential keeps the builder from
                // looking for application-default credentials or asking a
                // metadata server; skip_signature sends no Authorization.
                builder = builder
                    .with_skip_signature(true)
                    .with_credentials(Arc::new(StaticCredentialProvider::new(GcpCredential {
                        bearer: String::new(),
                    })))
                    .with_http_connector(crate::fake_gcs::FakeGcsConnector);
            }
            (false, Some(var)) => {
                builder =
                    builder.with_service_account_key(self.secret("service_account_env", var)?);
            }
            (false, None) => {
                return Err(self.config_err(
                    "set service_account_env (a variable holding a service-account key) \
                     or anonymous = true for an emulator",
                ));
            }
        }
        let store = builder.build().map_err(|e| self.build_err("gcs", e))?;
        self.classed(Arc::new(store), "storage_class", &g.storage_class)
    }

    /// Wraps `store` so every write carries `class`, if one is configured.
    fn classed(
        &self,
        store: Arc<dyn ObjectStore>,
        field: &str,
        class: &Option<String>,
    ) -> Result<Arc<dyn ObjectStore>, BackendError> {
        match class {
            None => Ok(store),
            Some(class) => {
                self.nonempty(field, class)?;
                let mut attributes = Attributes::new();
                attributes.insert(Attribute::StorageClass, AttributeValue::from(class.clone()));
                Ok(Arc::new(StorageClassStore::new(store, attributes)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn build(
        spec: &StoreSpec,
        vars: &[(&str, &str)],
    ) -> Result<Arc<dyn ObjectStore>, BackendError> {
        let dir = tempfile::tempdir().expect("tempdir");
        build_store_with_env("b1", spec, dir.path(), &env(vars))
    }

    /// How the gateway is expected to embed a spec: flattened next to its
    /// own fields.
    #[derive(Debug, Deserialize)]
    struct Decl {
        name: String,
        tier: String,
        #[serde(flatten)]
        spec: StoreSpec,
    }

    #[derive(Debug, Deserialize)]
    struct File {
        backends: Vec<Decl>,
    }

    #[test]
    fn parses_every_kind_flattened() {
        let text = r#"
            [[backends]]
            name = "disk"
            kind = "local"
            path = "disk"
            tier = "aws-s3-standard"

            [[backends]]
            name = "aws"
            kind = "s3"
            endpoint = "http://127.0.0.1:9010"
            bucket = "strata-hot"
            access_key_env = "AK"
            secret_key_env = "SK"
            allow_http = true
            storage_class = "STANDARD_IA"
            tier = "aws-s3-standard-ia"

            [[backends]]
            name = "az"
            kind = "azure"
            account = "devstoreaccount1"
            container = "c"
            access_key_env = "AZ"
            tier = "azure-cool"

            [[backends]]
            name = "g"
            kind = "gcs"
            endpoint = "http://127.0.0.1:4443"
            bucket = "b"
            anonymous = true
            allow_http = true
            tier = "gcs-coldline"
        "#;
        let file: File = toml::from_str(text).expect("parse");
        assert_eq!(file.backends.len(), 4);
        assert_eq!(file.backends[0].name, "disk");
        assert_eq!(file.backends[0].tier, "aws-s3-standard");
        assert_eq!(
            file.backends[0].spec,
            StoreSpec::Local(LocalSpec {
                path: PathBuf::from("disk")
            })
        );
        match &file.backends[1].spec {
            StoreSpec::S3(s) => {
                assert_eq!(s.region, "us-east-1", "region defaults");
                assert_eq!(s.storage_class.as_deref(), Some("STANDARD_IA"));
                assert!(s.allow_http);
            }
            other => panic!("expected s3, got {other:?}"),
        }
        match &file.backends[2].spec {
            StoreSpec::Azure(a) => {
                assert_eq!(a.endpoint, None);
                assert!(!a.allow_http, "allow_http defaults to false");
            }
            other => panic!("expected azure, got {other:?}"),
        }
        assert_eq!(file.backends[3].spec.kind(), "gcs");
    }

    #[test]
    fn unknown_field_and_kind_are_refused() {
        let typo = r#"
            [[backends]]
            name = "aws"
            tier = "aws-s3-standard"
            kind = "s3"
            bucket = "b"
            acces_key_env = "AK"
            secret_key_env = "SK"
        "#;
        let err = toml::from_str::<File>(typo).expect_err("typo must fail");
        assert!(err.to_string().contains("acces_key_env"), "{err}");

        let kind = r#"
            [[backends]]
            name = "x"
            tier = "t"
            kind = "ftp"
        "#;
        let err = toml::from_str::<File>(kind).expect_err("unknown kind");
        assert!(err.to_string().contains("ftp"), "{err}");
    }

    #[test]
    fn spec_round_trips_through_serde() {
        let spec = StoreSpec::Gcs(GcsSpec {
            endpoint: Some("http://127.0.0.1:1".into()),
            bucket: "b".into(),
            service_account_env: None,
            anonymous: true,
            allow_http: true,
            storage_class: Some("NEARLINE".into()),
        });
        let json = serde_json::to_string(&spec).expect("serialise");
        assert!(json.contains(r#""kind":"gcs""#), "{json}");
        let back: StoreSpec = serde_json::from_str(&json).expect("deserialise");
        assert_eq!(back, spec);
    }

    fn s3_spec() -> S3Spec {
        S3Spec {
            endpoint: Some("http://127.0.0.1:9".into()),
            bucket: "b".into(),
            region: "us-east-1".into(),
            access_key_env: "STRATA_TEST_AK".into(),
            secret_key_env: "STRATA_TEST_SK".into(),
            session_token_env: None,
            allow_http: true,
            storage_class: None,
        }
    }

    #[test]
    fn missing_env_var_is_named() {
        let spec = StoreSpec::S3(s3_spec());
        let err = build(&spec, &[("STRATA_TEST_AK", "a")]).expect_err("missing secret");
        match &err {
            BackendError::MissingEnv {
                backend,
                field,
                var,
            } => {
                assert_eq!(backend, "b1");
                assert_eq!(*field, "secret_key_env");
                assert_eq!(var, "STRATA_TEST_SK");
            }
            other => panic!("expected MissingEnv, got {other:?}"),
        }
        let msg = err.to_string();
        assert!(
            msg.contains("STRATA_TEST_SK") && msg.contains("secret_key_env"),
            "{msg}"
        );

        let err = build(&spec, &[("STRATA_TEST_AK", "a"), ("STRATA_TEST_SK", " ")])
            .expect_err("empty secret");
        assert!(err.to_string().contains("is empty"), "{err}");
    }

    #[test]
    fn builds_each_cloud_kind_without_contacting_anything() {
        let vars = [
            ("STRATA_TEST_AK", "a"),
            ("STRATA_TEST_SK", "s"),
            ("AZ", "a2V5"),
        ];
        let s3 = build(&StoreSpec::S3(s3_spec()), &vars).expect("s3");
        assert!(s3.to_string().contains("AmazonS3"), "{s3}");
        let mut classed = s3_spec();
        classed.storage_class = Some("GLACIER_IR".into());
        let s3c = build(&StoreSpec::S3(classed), &vars).expect("s3 classed");
        assert!(s3c.to_string().contains("GLACIER_IR"), "{s3c}");

        let az = build(
            &StoreSpec::Azure(AzureSpec {
                endpoint: Some("http://127.0.0.1:9/devstoreaccount1".into()),
                account: "devstoreaccount1".into(),
                container: "c".into(),
                access_key_env: "AZ".into(),
                allow_http: true,
                storage_class: Some("Cool".into()),
            }),
            &vars,
        )
        .expect("azure");
        assert!(az.to_string().contains("Cool"), "{az}");

        let gcs = build(
            &StoreSpec::Gcs(GcsSpec {
                endpoint: Some("http://127.0.0.1:9".into()),
                bucket: "b".into(),
                service_account_env: None,
                anonymous: true,
                allow_http: true,
                storage_class: None,
            }),
            &vars,
        )
        .expect("gcs");
        assert!(gcs.to_string().contains("GoogleCloudStorage"), "{gcs}");
    }

    #[test]
    fn bad_configurations_are_explained() {
        let vars = [("STRATA_TEST_AK", "a"), ("STRATA_TEST_SK", "s")];
        let mut plain = s3_spec();
        plain.allow_http = false;
        let err = build(&StoreSpec::S3(plain), &vars).expect_err("http without allow_http");
        assert!(err.to_string().contains("allow_http"), "{err}");

        let mut relative = s3_spec();
        relative.endpoint = Some("127.0.0.1:9000".into());
        let err = build(&StoreSpec::S3(relative), &vars).expect_err("no scheme");
        assert!(err.to_string().contains("absolute URL"), "{err}");

        let mut no_bucket = s3_spec();
        no_bucket.bucket = String::new();
        let err = build(&StoreSpec::S3(no_bucket), &vars).expect_err("empty bucket");
        assert!(err.to_string().contains("bucket is empty"), "{err}");

        let gcs = |anonymous, sa: Option<&str>, endpoint: Option<&str>| {
            StoreSpec::Gcs(GcsSpec {
                endpoint: endpoint.map(str::to_string),
                bucket: "b".into(),
                service_account_env: sa.map(str::to_string),
                anonymous,
                allow_http: true,
                storage_class: None,
            })
        };
        let err = build(&gcs(false, None, None), &vars).expect_err("no credentials");
        assert!(err.to_string().contains("service_account_env"), "{err}");
        let err = build(&gcs(true, None, None), &vars).expect_err("anonymous without endpoint");
        assert!(err.to_string().contains("needs an endpoint"), "{err}");
        let err =
            build(&gcs(true, Some("SA"), Some("http://127.0.0.1:9")), &vars).expect_err("both");
        assert!(err.to_string().contains("mutually exclusive"), "{err}");
        let err = build(&gcs(false, Some("SA"), None), &vars).expect_err("SA unset");
        assert!(matches!(err, BackendError::MissingEnv { .. }), "{err:?}");
        let err = build(&gcs(false, Some("SA"), None), &[("SA", "not json")]).expect_err("bad key");
        assert!(
            matches!(err, BackendError::Build { kind: "gcs", .. }),
            "{err:?}"
        );
    }

    #[test]
    fn local_paths_are_relative_to_the_data_dir() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spec = StoreSpec::Local(LocalSpec {
            path: PathBuf::from("blobs/hot"),
        });
        build_store_with_env("hot", &spec, dir.path(), &|_| None).expect("local");
        assert!(dir.path().join("blobs/hot").is_dir());
        let empty = StoreSpec::Local(LocalSpec {
            path: PathBuf::new(),
        });
        let err = build_store_with_env("hot", &empty, dir.path(), &|_| None).expect_err("empty");
        assert!(err.to_string().contains("path is empty"), "{err}");
    }

    #[test]
    fn display_and_env_vars_carry_no_secrets() {
        let spec = StoreSpec::S3(s3_spec());
        assert_eq!(spec.to_string(), "s3 bucket b at http://127.0.0.1:9");
        assert_eq!(
            spec.credential_env_vars(),
            vec!["STRATA_TEST_AK", "STRATA_TEST_SK"]
        );
        assert!(!spec.is_local());
    }
}
