//! [`EngineError`]: what the engine's operations (planning, key rotation, scoring, training) fail with. The
//! admin API maps each variant to its answer in one place (`gateway::admin`); workers log them.

/// A failed engine operation, with its context.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// Reading or writing the catalog failed.
    #[error("catalog: {0}")]
    Catalog(#[from] catalog::CatalogError),
    /// A backend call failed.
    #[error(transparent)]
    Backend(#[from] backends::BackendError),
    /// The planner refused its input or failed.
    #[error("planner: {0}")]
    Planner(#[from] planner::PlannerError),
    /// No backend has this name.
    #[error("unknown backend {0:?}")]
    UnknownBackend(String),
    /// A blocking task (catalog scan, training, key file) panicked or was cancelled.
    #[error("{what} task failed: {detail}")]
    Task { what: &'static str, detail: String },
}

impl EngineError {
    /// Wraps a failed `spawn_blocking` join of the task doing `what`.
    pub fn task(what: &'static str, e: tokio::task::JoinError) -> EngineError {
        EngineError::Task {
            what,
            detail: e.to_string(),
        }
    }
}

/// The engine's result type.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;
