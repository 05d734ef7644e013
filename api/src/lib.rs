//! The adapters: the GraphQL schema and resolvers, the HTTP routes (documents, key lists,
//! health, metrics) and the portal's assets. They ask the application layer (`app`) and
//! map its types; nothing but the binary and the benchmarks depends on this crate.

// The application layer under the names the adapters and their tests use.
pub use app::{
    auth, backup_health, billing, checker, clock, commands, demo, error, export, policy, releases, state, targets,
};

pub mod graphql;
pub mod http;
pub mod telemetry;
pub mod throttle;
