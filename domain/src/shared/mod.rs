//! Types and checks shared by every aggregate.

pub mod error;
pub mod ids;
pub mod period;
pub mod validate;

#[cfg(test)]
mod fuzz;
#[cfg(test)]
pub(crate) mod testing;

/// An instant in UTC. Every instant in events and commands is UTC; only billing periods
/// and release windows are computed in Europe/Berlin, at the edges that need them.
pub type Instant = chrono::DateTime<chrono::Utc>;
