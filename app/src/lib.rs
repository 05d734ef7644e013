//! The application layer, the floor both adapters stand on: the command bus (one path for
//! a single stream, one for several), the one access policy, authentication, the services
//! (billing run and cancellation, DATEV export, backup health, SLA reports, release
//! scheduler, HTTP checker) and the read of what the catalog no longer keeps. It knows no GraphQL and no
//! HTTP (the `graphql` feature only turns its error into GraphQL's).

pub mod addresses;
pub mod auth;
pub mod backup_health;
pub mod billing;
pub mod checker;
pub mod clock;
pub mod commands;
pub mod demo;
pub mod error;
pub mod export;
pub mod head_watch;
pub mod leases;
pub mod naming;
pub mod node_auth;
pub mod node_credentials;
pub mod policy;
pub mod releases;
pub mod sla;
pub mod state;
pub mod targets;
