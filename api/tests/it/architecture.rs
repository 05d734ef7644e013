//! The house's dependency rules, read from `cargo metadata`: the workspace's crates depend
//! on each other in one direction only, nothing depends on an adapter (but the benchmarks and the binary on top), the domain depends
//! on no crate that does IO, and test helpers (the `testing` features) reach tests only. A
//! new crate fails this test until it is placed here.

use std::collections::{BTreeMap, BTreeSet};

/// Each crate of the workspace and the workspace crates it may depend on (not counting
/// dev-dependencies, which only tests use).
const MAY_DEPEND_ON: &[(&str, &[&str])] = &[
    ("domain", &[]),
    ("store", &[]),
    ("projections", &["domain", "store"]),
    ("fixtures", &["domain", "store"]),
    ("replay", &["domain", "store", "projections"]),
    ("documents", &["domain", "projections"]),
    ("app", &["domain", "store", "projections", "fixtures", "documents"]),
    ("api", &["domain", "store", "projections", "documents", "app"]),
    ("bench", &["domain", "store", "projections", "fixtures", "replay", "documents", "app", "api"]),
    ("cli", &["domain", "store", "projections", "fixtures", "replay", "documents", "app", "api", "bench"]),
];

/// The adapters' libraries, which the application layer may use only behind a feature
/// that an adapter turns on (its error as a GraphQL error).
const ADAPTER_LIBRARIES: &[&str] = &["axum", "async-graphql", "hyper", "tower"];

/// Crates that do IO (or run it), which the domain must not depend on.
const IO: &[&str] = &["sqlx", "tokio", "reqwest", "hyper", "axum", "postgres-es", "sqlite-es", "async-graphql"];

#[test]
fn dependencies_point_one_way_and_the_domain_does_no_io() {
    let out = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline", "--manifest-path"])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml"))
        .output()
        .expect("cargo metadata runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let metadata: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let packages = metadata["packages"].as_array().unwrap();
    let members: BTreeSet<&str> = packages.iter().map(|p| p["name"].as_str().unwrap()).collect();
    let allowed: BTreeMap<&str, &[&str]> = MAY_DEPEND_ON.iter().copied().collect();
    let mut edges = 0;
    for package in packages {
        let name = package["name"].as_str().unwrap();
        let may = allowed.get(name).unwrap_or_else(|| panic!("{name}: say in MAY_DEPEND_ON what it may depend on"));
        for dependency in package["dependencies"].as_array().unwrap() {
            if !dependency["kind"].is_null() {
                continue; // dev and build dependencies
            }
            let on = dependency["name"].as_str().unwrap();
            if members.contains(on) {
                assert!(may.contains(&on), "{name} may not depend on {on}");
                let features = dependency["features"].as_array().unwrap();
                assert!(!features.contains(&"testing".into()), "{name} builds {on}'s test helpers into production");
                edges += 1;
            }
            if name == "domain" {
                assert!(!IO.contains(&on), "the domain may not depend on {on}, which does IO");
            }
            if name == "app" && ADAPTER_LIBRARIES.contains(&on) {
                assert_eq!(dependency["optional"], true, "the application layer may use {on} only behind a feature");
            }
        }
    }
    assert!(edges >= 10, "the workspace's edges were read: {edges}");
    // The allowed edges themselves point one way: no crate may depend on one that may
    // depend on it, directly or through others.
    fn reaches(from: &str, to: &str, allowed: &BTreeMap<&str, &[&str]>) -> bool {
        allowed.get(from).is_some_and(|next| next.iter().any(|n| *n == to || reaches(n, to, allowed)))
    }
    for (name, _) in MAY_DEPEND_ON {
        assert!(!reaches(name, name, &allowed), "{name} may depend on itself through others");
    }
}
