//! The planner's error type.
//!
//! Every fallible public function returns [`PlannerError`]; the message names the input that was
//! rejected (which backend, which parameter, how many examples) so an operator can act on it.

use thiserror::Error;

/// Errors of the planner.
#[derive(Debug, Error)]
pub enum PlannerError {
    /// A configuration value or an argument is outside its documented domain.
    #[error("invalid planner input: {0}")]
    InvalidInput(String),
    /// Training was refused: too little history, or a single class of labels.
    #[error("not enough training data: {0}")]
    NotEnoughData(String),
    /// The random-forest library failed.
    #[error("model {op} failed: {detail}")]
    Model {
        /// What was being done ("fit", "predict").
        op: &'static str,
        /// The library's message.
        detail: String,
    },
    /// A persisted model could not be encoded or decoded.
    #[error("model persistence: {0}")]
    Persistence(String),
    /// Reading from the catalog failed.
    #[error("catalog {op}: {source}")]
    Catalog {
        /// The catalog call that failed.
        op: &'static str,
        /// The catalog's error.
        #[source]
        source: catalog::CatalogError,
    },
    /// The exact MILP solver failed or found no solution.
    #[error("exact MILP solver: {0}")]
    Solver(String),
}

/// Result alias of the planner.
pub type Result<T> = std::result::Result<T, PlannerError>;

pub(crate) fn invalid(msg: impl Into<String>) -> PlannerError {
    PlannerError::InvalidInput(msg.into())
}
