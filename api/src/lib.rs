//! The `directory` binary's library: GraphQL over axum, authentication, the command bus
//! and the CLI. The only crate that does HTTP; nothing depends on it.

pub mod auth;
pub mod backup_health;
pub mod billing;
pub mod checker;
pub mod clock;
pub mod commands;
pub mod demo;
pub mod error;
pub mod export;
pub mod graphql;
pub mod http;
pub mod policy;
pub mod releases;
pub mod state;
pub mod targets;
pub mod telemetry;
pub mod throttle;
