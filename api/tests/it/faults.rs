//! Faults the Directory survives in process, each test bounded in time: an idle
//! transaction holding the log (shown, then ended after the limit), and more requests
//! than the server works on at once (shed). (The server killed under load and PostgreSQL restarted
//! under load are the `cli` crate's `faults.rs`, since they run the binary.)

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::json;
use sqlx::Connection;

use crate::flows::customer;
use crate::helpers::{BOOT, TestApp};

fn gauge(metrics: &str, name: &str) -> f64 {
    let line =
        metrics.lines().find(|l| l.starts_with(&format!("{name} "))).unwrap_or_else(|| panic!("{name}: {metrics}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

/// `/metrics` as staff read it.
async fn scrape(app: &TestApp) -> String {
    let (status, _, body) = app.get_as(Some(BOOT), "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    String::from_utf8(body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_transaction_holding_the_log_shows_in_metrics_and_readiness_and_the_log_resumes() {
    let app = TestApp::start("postgres").await;
    let acme = customer(&app, "Acme", "DE").await;
    assert_eq!(app.get("/readyz").await.0, StatusCode::OK);
    let metrics = scrape(&app).await;
    assert_eq!(gauge(&metrics, "directory_log_head_held_seconds"), 0.0, "{metrics}");

    // A session that took the log head and went idle, as a stuck writer or an operator would.
    let mut idle = sqlx::PgConnection::connect(app.url()).await.unwrap();
    sqlx::query("BEGIN").execute(&mut idle).await.unwrap();
    sqlx::query("SELECT position FROM log_head WHERE id = 1 FOR UPDATE").execute(&mut idle).await.unwrap();

    let create =
        "mutation($c: ID!) { createProject(input: {customerId: $c, name: \"Shop\", slaClass: STANDARD}) { id } }";
    let write = app.gql(BOOT, create, json!({"c": acme}));
    let observe = async {
        let deadline = Instant::now() + Duration::from_secs(20);
        let (status, why) = loop {
            let (status, body) = app.get("/readyz").await;
            if status != StatusCode::OK {
                break (status, body);
            }
            assert!(Instant::now() < deadline, "readiness never showed the held log");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(
            (status, why.as_str()),
            (StatusCode::SERVICE_UNAVAILABLE, "not ready"),
            "anyone may ask: no details"
        );
        let metrics = scrape(&app).await;
        assert!(gauge(&metrics, "directory_log_head_held_seconds") >= 2.0, "{metrics}");
        assert!(gauge(&metrics, "directory_append_waiting_seconds") >= 1.0, "the write waits: {metrics}");
        sqlx::query("ROLLBACK").execute(&mut idle).await.unwrap();
    };
    let (answer, ()) = tokio::join!(write, observe);
    assert!(
        answer["data"]["createProject"]["id"].is_string(),
        "the write went through once the transaction ended: {answer}"
    );
    assert_eq!(app.get("/readyz").await.0, StatusCode::OK);
    let metrics = scrape(&app).await;
    assert_eq!(gauge(&metrics, "directory_log_head_held_seconds"), 0.0, "{metrics}");
    assert_eq!(gauge(&metrics, "directory_append_waiting_seconds"), 0.0, "{metrics}");
    assert_eq!(gauge(&metrics, "directory_projection_lag_events"), 0.0, "{metrics}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_left_idle_holding_the_log_is_ended_after_the_limit_and_writes_resume() {
    let app = TestApp::start("postgres").await;
    let acme = customer(&app, "Acme", "DE").await;
    app::head_watch::spawn(app.state.clone(), Duration::from_secs(1));

    // A client that took the log head and forgot its transaction; it never rolls back.
    let mut idle = sqlx::PgConnection::connect(app.url()).await.unwrap();
    sqlx::query("BEGIN").execute(&mut idle).await.unwrap();
    sqlx::query("SELECT position FROM log_head WHERE id = 1 FOR UPDATE").execute(&mut idle).await.unwrap();
    // A session that is merely idle in a transaction, holding nothing of the log, is left alone.
    let mut bystander = sqlx::PgConnection::connect(app.url()).await.unwrap();
    sqlx::query("BEGIN").execute(&mut bystander).await.unwrap();
    sqlx::query("SELECT count(*) FROM events").execute(&mut bystander).await.unwrap();

    let create =
        "mutation($c: ID!) { createProject(input: {customerId: $c, name: \"Shop\", slaClass: STANDARD}) { id } }";
    let answer = app.gql(BOOT, create, json!({"c": acme})).await;
    assert!(answer["data"]["createProject"]["id"].is_string(), "the write went through: {answer}");
    let gone = sqlx::query("SELECT 1").execute(&mut idle).await;
    assert!(gone.is_err(), "the idle holder's session was ended");
    sqlx::query("SELECT 1").execute(&mut bystander).await.expect("the bystander's session lives");
    sqlx::query("ROLLBACK").execute(&mut bystander).await.unwrap();
    assert_eq!(app.get("/readyz").await.0, StatusCode::OK);
    app.stop().await;
}

/// One request to a router; answers the status, the `Retry-After` header and the body.
async fn send(
    router: &axum::Router,
    request: axum::http::Request<axum::body::Body>,
) -> (StatusCode, Option<String>, String) {
    use tower::ServiceExt;
    let response = router.clone().oneshot(request).await.unwrap();
    let retry = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, retry, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_capacity_work_is_shed_with_503_and_retry_after_while_health_answers() {
    use axum::body::Body;
    use axum::http::Request;
    let app = TestApp::start("sqlite").await;
    let acme = customer(&app, "Acme", "DE").await;
    let admission = api::admission::Admission::new(2, Duration::from_millis(20));
    let router = api::http::router_with(app.state.clone(), None, admission.clone());
    let graphql = |query: &str| {
        let body = serde_json::to_vec(&json!({"query": query})).unwrap();
        Request::post("/graphql")
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {BOOT}"))
            .body(Body::from(body))
            .unwrap()
    };
    let write = format!(
        "mutation {{ createProject(input: {{customerId: \"{acme}\", name: \"Shop\", slaClass: STANDARD}}) {{ id }} }}"
    );
    let (status, _, body) = send(&router, graphql("{ logHead { position } }")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let head = app.head().await;

    // Both permits are taken (two requests at work): the next ones are shed at once.
    let busy = (admission.enter().await.ok().unwrap(), admission.enter().await.ok().unwrap());
    let (status, retry, body) = send(&router, graphql(&write)).await;
    assert_eq!((status, retry.as_deref()), (StatusCode::SERVICE_UNAVAILABLE, Some("1")), "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["errors"][0]["extensions"]["code"], json!("UNAVAILABLE"));
    assert_eq!(app.head().await, head, "a shed write appended nothing");
    let node = Request::post("/v2/api/rg-x").header("content-type", "text/xml").body(Body::from("<x/>")).unwrap();
    assert_eq!(send(&router, node).await.0, StatusCode::SERVICE_UNAVAILABLE, "the node API is shed alike");
    let document = Request::get("/invoices/00000000-0000-0000-0000-000000000000.pdf").body(Body::empty()).unwrap();
    assert_eq!(send(&router, document).await.0, StatusCode::SERVICE_UNAVAILABLE, "documents alike");
    for path in ["/healthz", "/readyz", "/", "/assets/app.js"] {
        let (status, _, _) = send(&router, Request::get(path).body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{path} answers at capacity");
    }

    // Once work ends, the next request is served: nothing was left queued.
    drop(busy);
    let (status, _, body) = send(&router, graphql(&write)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("createProject"), "{body}");
    app.stop().await;
}
