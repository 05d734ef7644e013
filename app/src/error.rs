//! Errors at the API boundary: every refusal becomes one of the contract's codes.

use std::fmt::Display;

use domain::{Classify, Refusal};

/// A refused request, with a message a person can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    BadInput(String),
    NotFound(String),
    Conflict(String),
    Forbidden(String),
    Unauthenticated(String),
    RuleViolation(String),
    /// The store did not answer; the request may be retried (with the same commandId).
    Unavailable(String),
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadInput(_) => "BAD_INPUT",
            ApiError::NotFound(_) => "NOT_FOUND",
            ApiError::Conflict(_) => "CONFLICT",
            ApiError::Forbidden(_) => "FORBIDDEN",
            ApiError::Unauthenticated(_) => "UNAUTHENTICATED",
            ApiError::RuleViolation(_) => "RULE_VIOLATION",
            ApiError::Unavailable(_) => "UNAVAILABLE",
        }
    }

    pub fn message(&self) -> &str {
        match self {
            ApiError::BadInput(m)
            | ApiError::NotFound(m)
            | ApiError::Conflict(m)
            | ApiError::Forbidden(m)
            | ApiError::Unauthenticated(m)
            | ApiError::RuleViolation(m)
            | ApiError::Unavailable(m) => m,
        }
    }

    /// A domain refusal, by its kind.
    pub fn refused<E: Classify + Display>(e: &E) -> ApiError {
        let message = e.to_string();
        match e.refusal() {
            Refusal::BadInput => ApiError::BadInput(message),
            Refusal::NotFound => ApiError::NotFound(message),
            Refusal::Conflict => ApiError::Conflict(message),
            Refusal::RuleViolation => ApiError::RuleViolation(message),
        }
    }

    /// For the command line, which reports errors through anyhow.
    pub fn into_anyhow(self) -> anyhow::Error {
        anyhow::anyhow!("{}: {}", self.code(), self.message())
    }

    pub fn forbidden() -> ApiError {
        ApiError::Forbidden("your roles do not allow this change".into())
    }

    /// A read that only staff (auditors included) may make.
    pub fn staff_only() -> ApiError {
        ApiError::Forbidden("only staff and auditors may read this".into())
    }

    /// The store failed: logged here once, answered without internals.
    pub fn store(e: impl Display) -> ApiError {
        tracing::error!(error = %e, "store error");
        ApiError::Unavailable("the store is not available right now; retry with the same commandId".into())
    }
}

#[cfg(feature = "graphql")]
impl From<ApiError> for async_graphql::Error {
    fn from(e: ApiError) -> Self {
        let code = e.code();
        use async_graphql::ErrorExtensions;
        async_graphql::Error::new(e.message()).extend_with(|_, ext| ext.set("code", code))
    }
}
