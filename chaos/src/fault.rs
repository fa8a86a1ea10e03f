//! [`InjectedFault`]: the error source of every failure the chaos layer
//! injects, so callers can tell injected failures apart and learn the
//! status they simulate.

use std::fmt;

use crate::config::Op;

/// Store name used in the `object_store::Error`s this crate creates.
pub const STORE_NAME: &str = "chaos";

/// How an injected failure manifests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InjectedKind {
    /// An error response with [`InjectedFault::status`].
    Error,
    /// The request timed out.
    Timeout,
    /// The backend is unreachable.
    Down,
    /// The connection was reset while streaming a get's body.
    ResetMidStream,
}

impl InjectedKind {
    /// Lowercase name, matching the fault's config `type`.
    pub fn as_str(self) -> &'static str {
        match self {
            InjectedKind::Error => "error",
            InjectedKind::Timeout => "timeout",
            InjectedKind::Down => "down",
            InjectedKind::ResetMidStream => "reset_mid_stream",
        }
    }
}

impl fmt::Display for InjectedKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An injected failure. It is the `source` of the `object_store::Error` the
/// wrapper returns; find it with [`InjectedFault::find`] (works on an
/// `object_store::Error` and on any error whose source chain contains one,
/// such as `backends::BackendError::Store`).
///
/// Mapping to `object_store::Error` (see [`InjectedFault::into_store_error`]):
/// status 401 → `Unauthenticated`, 403 → `PermissionDenied`, 404 →
/// `NotFound`, 412 → `Precondition` (so callers treat them as a real store's
/// answer); every other status, timeouts, resets and `down` → `Generic` with
/// store `"chaos"`, shaped like the real failure it imitates so that nothing
/// below has to know this crate: an error status says `status code: N` in
/// its message as object_store's HTTP errors do, a timeout is a
/// `std::io::Error` of kind `TimedOut`, `down` one of kind
/// `ConnectionRefused` and a reset one of kind `ConnectionReset` (each
/// wrapping the `InjectedFault`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct InjectedFault {
    /// Id of the rule that injected the failure.
    pub rule: String,
    /// Backend the call was for.
    pub backend: String,
    /// Operation that failed.
    pub op: Op,
    /// How it failed.
    pub kind: InjectedKind,
    /// The HTTP status simulated: the configured status for
    /// [`InjectedKind::Error`], `None` otherwise.
    pub status: Option<u16>,
}

impl InjectedFault {
    fn describe(&self) -> String {
        let what = match (self.kind, self.status) {
            // Worded like object_store's HTTP errors, which retry layers read the status from.
            (InjectedKind::Error, Some(status)) => format!("error response, status code: {status}"),
            (InjectedKind::Timeout, _) => "request timed out".to_string(),
            (InjectedKind::Down, _) => "backend unreachable".to_string(),
            (InjectedKind::ResetMidStream, _) => "connection reset mid-stream".to_string(),
            (kind, _) => kind.to_string(),
        };
        format!(
            "injected fault: {what} (chaos rule {}, backend {}, op {})",
            self.rule, self.backend, self.op
        )
    }

    /// Whether a real failure of this kind is transient and worth retrying:
    /// statuses 408, 429, 500, 502, 503, 504, timeouts, resets and `down`
    /// (an unreachable backend may come back).
    pub fn is_retryable(&self) -> bool {
        match self.kind {
            InjectedKind::Error => matches!(self.status, Some(408 | 429 | 500 | 502 | 503 | 504)),
            InjectedKind::Timeout | InjectedKind::Down | InjectedKind::ResetMidStream => true,
        }
    }

    /// Converts into the `object_store::Error` the wrapper returns; `path`
    /// is the location involved (used by the path-carrying variants).
    pub fn into_store_error(self, path: &str) -> object_store::Error {
        let path = path.to_string();
        let io_kind = match self.kind {
            InjectedKind::Timeout => Some(std::io::ErrorKind::TimedOut),
            InjectedKind::Down => Some(std::io::ErrorKind::ConnectionRefused),
            InjectedKind::ResetMidStream => Some(std::io::ErrorKind::ConnectionReset),
            _ => None,
        };
        let source: Box<dyn std::error::Error + Send + Sync> = match io_kind {
            Some(kind) => Box::new(std::io::Error::new(kind, self.clone())),
            None => Box::new(self.clone()),
        };
        match (self.kind, self.status) {
            (InjectedKind::Error, Some(401)) => {
                object_store::Error::Unauthenticated { path, source }
            }
            (InjectedKind::Error, Some(403)) => {
                object_store::Error::PermissionDenied { path, source }
            }
            (InjectedKind::Error, Some(404)) => object_store::Error::NotFound { path, source },
            (InjectedKind::Error, Some(412)) => object_store::Error::Precondition { path, source },
            _ => object_store::Error::Generic {
                store: STORE_NAME,
                source,
            },
        }
    }

    /// The injected fault behind `err`, if any: `err` itself or any error in
    /// its `source()` chain.
    pub fn find<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a InjectedFault> {
        let mut current = Some(err);
        while let Some(e) = current {
            if let Some(fault) = e.downcast_ref::<InjectedFault>() {
                return Some(fault);
            }
            // An `io::Error`'s `source()` skips the error it wraps: look inside.
            if let Some(fault) = e
                .downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .and_then(|inner| inner.downcast_ref::<InjectedFault>())
            {
                return Some(fault);
            }
            current = e.source();
        }
        None
    }
}
