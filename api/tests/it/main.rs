//! The API's tests, one binary: the contract check, and GraphQL flows over HTTP against
//! both stores.

mod architecture;
mod attacks;
mod billing;
mod browser;
mod checker;
mod cli;
mod contract;
mod faults;
mod flows;
mod generated;
mod helpers;
mod keys;
mod monitoring;
mod pricing;
mod releases;
mod replica;
mod sla;
