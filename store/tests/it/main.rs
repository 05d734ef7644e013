//! The store's tests, one binary. `conformance` runs every case against SQLite and against
//! the running PostgreSQL (a fresh database per test); `ordering` holds the PostgreSQL-only
//! concurrency proofs of the ordered log.

mod conformance;
mod counter;
mod ordering;
