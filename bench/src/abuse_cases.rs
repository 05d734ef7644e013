//! Abusive GraphQL requests, each of which must be refused quickly with a clear error.
//! `directory bench abuse` times their refusals; the API's tests include this file
//! (`#[path]`) and check each refusal, so both use one corpus.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use tower::ServiceExt;

/// One abusive request.
pub struct Case {
    pub name: &'static str,
    pub body: Vec<u8>,
}

pub fn query(text: String) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({ "query": text })).expect("json")
}

/// The requests, each within the 64 KiB query limit unless it tests a size limit.
pub fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let mut add = |name, body| cases.push(Case { name, body });

    // 40 levels of nesting where 15 are allowed.
    let mut deep = String::from("{ customers { nodes { projects ");
    for _ in 0..40 {
        deep.push_str("{ children ");
    }
    deep.push_str("{ id }");
    deep.push_str(&" }".repeat(40));
    deep.push_str(" } } }");
    add("depth 40", query(deep));

    // As many store reads as fit in 64 KiB: the log head, and "as of" lookups.
    let mut reads = String::from("{");
    for i in 0..2_200 {
        let _ = write!(reads, " a{i}: logHead {{ position }}");
    }
    reads.push('}');
    add("2,200 store reads", query(reads));
    let mut as_of = String::from("{");
    for i in 0..900 {
        let _ = write!(as_of, " a{i}: customers(asOf: \"2026-01-{:02}T00:00:00Z\") {{ totalCount }}", i % 28 + 1);
    }
    as_of.push('}');
    add("900 as-of lookups", query(as_of));

    // The same field 3,000 times without aliases: the field-merging check must stay linear.
    add("3,000 repeated fields", query(format!("{{{} }}", " logHead { position }".repeat(3_000))));

    // A page of 10,000 items of a list whose items have many fields.
    add(
        "page of 10,000",
        query("{ customers(first: 10000) { nodes { id name country vatId billingAddress closed projects { id name } people { id name email } } } }".into()),
    );

    // Fragments that spread each other: a cycle, and a doubling chain (2^40 fields once expanded).
    add(
        "fragment cycle",
        query("query { ...A } fragment A on Query { logHead { position } ...B } fragment B on Query { ...A }".into()),
    );
    // Doubling chains under the recursion limit held a runtime worker for seconds (depth
    // 24) before fragments were counted where they are spread.
    add("fragment doubling ×10", query(doubling(10)));
    add("fragment doubling ×24", query(doubling(24)));
    add("fragment doubling ×30", query(doubling(30)));
    add("fragment doubling ×40", query(doubling(40)));
    add("fragment doubling ×60", query(doubling(60)));
    // Fan-out: 40 aliased fields each spreading a fragment of 30 aliased reads.
    let mut fan = String::from("query {");
    for i in 0..40 {
        let _ = write!(fan, " q{i}: __typename ...G");
    }
    fan.push_str(" } fragment G on Query {");
    for i in 0..30 {
        let _ = write!(fan, " h{i}: logHead {{ position }}");
    }
    fan.push_str(" }");
    add("fragment fan-out 40 × 30", query(fan));

    // Directives: many on one field.
    add(
        "200 directives on a field",
        query(format!("{{ logHead {} {{ position }} }}", "@include(if: true) ".repeat(200))),
    );

    // Nesting the parser itself must survive: selections 15,000 and list values 30,000 deep.
    add("15,000 nested selections", query(format!("{{{}{}", "a {".repeat(15_000), "}".repeat(15_001))));
    add(
        "30,000 nested list values",
        query(format!("{{ customers(search: {}\"x\"{}) {{ totalCount }} }}", "[".repeat(30_000), "]".repeat(30_000))),
    );

    // 1,500 operations in one document.
    let mut operations = String::new();
    for i in 0..1_500 {
        let _ = write!(operations, "query q{i} {{ logHead {{ position }} }} ");
    }
    add("1,500 operations", query(operations));

    // A variable of 100,000 list items, and one string over 64 KiB.
    let items: Vec<serde_json::Value> = (0..100_000).map(|i| serde_json::json!(i)).collect();
    add(
        "variable of 100,000 items",
        serde_json::to_vec(
            &serde_json::json!({"query": "query($x: [Int!]) { logHead { position } }", "variables": {"x": items}}),
        )
        .expect("json"),
    );
    add(
        "string of 65 KiB",
        serde_json::to_vec(&serde_json::json!({"query": "query($s: String) { customers(search: $s) { totalCount } }", "variables": {"s": "x".repeat(65 * 1024)}}))
            .expect("json"),
    );

    // Not one request: a batch array, malformed JSON, and a body over 1 MiB.
    add(
        "batch array",
        format!("[{}]", String::from_utf8(query("{ logHead { position } }".into())).expect("utf-8")).into_bytes(),
    );
    add("malformed JSON", b"{\"query\": \"{ logHead { position } }\"".to_vec());
    add("query of 100 KiB", query(format!("{{ logHead {{ position }} }} #{}", "x".repeat(100 * 1024))));
    add("body of 2 MiB", query(format!("{{ logHead {{ position }} }} #{}", "x".repeat(2 * 1024 * 1024))));
    cases
}

/// A chain of fragments, each spreading the one before twice: 2^depth fields once expanded.
fn doubling(depth: usize) -> String {
    let mut laughs = format!("query {{ ...F{depth} }} fragment F0 on Query {{ logHead {{ position }} }}");
    for i in 1..=depth {
        let _ = write!(laughs, " fragment F{i} on Query {{ ...F{p} ...F{p} }}", p = i - 1);
    }
    laughs
}

/// The answer to one case: HTTP status, the error code (if any), the body and the time taken.
pub struct Refusal {
    pub status: u16,
    pub code: Option<String>,
    pub body: String,
    pub took: Duration,
}

/// Sends one case through the router with `token`.
pub async fn send(router: &axum::Router, token: &str, case: &Case) -> Refusal {
    let request = Request::post("/graphql")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::from(case.body.clone()))
        .expect("request");
    let started = Instant::now();
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap_or_default();
    let took = started.elapsed();
    let body = String::from_utf8_lossy(&bytes).into_owned();
    let code = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| v["errors"][0]["extensions"]["code"].as_str().map(str::to_owned));
    Refusal { status, code, body, took }
}
