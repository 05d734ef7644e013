//! The API's tests, one binary: the contract check, and GraphQL flows over HTTP against
//! both stores.

// The benchmark's corpus of abusive requests: one file, refused here and timed there.
#[path = "../../../bench/src/abuse_cases.rs"]
#[allow(dead_code, reason = "the benchmark reads the timings")]
mod abuse_cases;
mod architecture;
mod attacks;
mod billing;
mod checker;
mod contract;
mod corrections;
mod faults;
mod flows;
mod generated;
mod helpers;
mod keys;
mod monitoring;
mod networks;
mod node_api;
mod platform;
// The pages the benchmarks ask, checked against the portal's script.
#[path = "../../../bench/src/portal_pages.rs"]
mod portal_pages;
mod pricing;
mod releases;
mod replica;
mod sla;
