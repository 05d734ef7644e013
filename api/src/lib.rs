//! The adapters: the GraphQL schema and resolvers, the HTTP routes (documents, key lists,
//! health, metrics) and the portal's assets. They ask the application layer (`app`) and
//! map its types; nothing but the binary and the benchmarks depends on this crate.

pub mod admission;
pub mod graphql;
pub mod http;
pub mod node;
pub mod telemetry;
pub mod throttle;
