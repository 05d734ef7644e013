//! The `directory` binary's tests, one test binary: the CLI's commands, the process-level
//! faults, and the portal in a browser, each against the binary as it ships.

mod browser;
mod cli;
mod faults;
mod replicas;
mod schema;
mod support;
