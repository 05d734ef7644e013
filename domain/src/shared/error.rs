//! What every refusal has in common: the kind of refusal, which the API turns into a
//! contract error code, and a message a person can act on.

use serde::{Deserialize, Serialize};

/// The kind of a refused command, independent of the aggregate that refused it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Refusal {
    /// The input is malformed or out of bounds.
    BadInput,
    /// The entity the command is about, or one it refers to, does not exist.
    NotFound,
    /// The entity already exists, or the command collides with an earlier one.
    Conflict,
    /// The input is well formed, but a business rule forbids the change.
    RuleViolation,
}

/// A field that failed validation, with the reason.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct Invalid {
    pub field: String,
    pub message: String,
}

impl Invalid {
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        Invalid { field: field.to_owned(), message: message.into() }
    }
}

/// Implemented by every aggregate error, so the API can map it without knowing the aggregate.
pub trait Classify {
    fn refusal(&self) -> Refusal;
}
