//! Faults the Directory survives in process, each test bounded in time: an idle
//! transaction holding the log. (The server killed under load and PostgreSQL restarted
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
