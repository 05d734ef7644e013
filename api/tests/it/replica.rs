//! Beyond one machine: a second server on a connection that may only read (as a PostgreSQL
//! streaming replica is) answers queries while the first takes the writes.

use std::sync::Arc;
use std::time::Duration;

use app::clock::SystemClock;
use app::state::AppState;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;
use store::EventLog;
use tower::ServiceExt;

use crate::flows::{customer, project};
use crate::helpers::{BOOT, TestApp, ask};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_server_answers_queries_while_the_primary_takes_writes() {
    let primary = TestApp::start("postgres").await;
    let acme = customer(&primary, "Acme", "DE").await;
    let snapshots = || async {
        let mut db = <sqlx::PgConnection as sqlx::Connection>::connect(primary.url()).await.unwrap();
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM read_model_snapshots").fetch_one(&mut db).await.unwrap()
    };

    let log = EventLog::connect_read_only(primary.url()).await.unwrap();
    let replica = Arc::new(AppState::start(log, Arc::new(SystemClock), Some(BOOT)).await.unwrap());
    let router = api::http::router(replica.clone(), None);
    let q = "query($c: ID!) { customer(id: $c) { name projects { name } } }";
    assert_eq!(ask(&router, q, json!({"c": acme})).await["data"]["customer"]["name"], "Acme");

    // Writes go to the primary; the replica follows the log by itself.
    project(&primary, &acme, None, "Shop").await;
    let head = primary.head().await;
    assert!(replica.bus.projector.wait_for(head, Duration::from_secs(10)).await, "the replica caught up");
    assert_eq!(ask(&router, q, json!({"c": acme})).await["data"]["customer"]["projects"], json!([{"name": "Shop"}]));

    // A change sent to the replica is refused, and nothing reaches the log.
    let before = snapshots().await;
    let rename = "mutation($c: ID!) { renameCustomer(customerId: $c, name: \"Acme AG\") { name } }";
    let answer = ask(&router, rename, json!({"c": acme})).await;
    assert_eq!(answer["errors"][0]["extensions"]["code"], "UNAVAILABLE", "{answer}");
    assert!(answer["errors"][0]["message"].as_str().unwrap().contains("primary"), "{answer}");
    assert_eq!(primary.head().await, head);
    // Past the HTTP check, the replica's writer refuses, and its connections may only read.
    let append = replica.bus.log.append_atomic(vec![]).await;
    assert!(append.is_err(), "{append:?}");
    let write = replica.bus.log.save_snapshot("probe", 1, b"{}").await;
    assert!(write.is_err(), "{write:?}");

    let ready = router.clone().oneshot(Request::get("/readyz").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(snapshots().await, before, "a read-only server stores no snapshots");
    primary.stop().await;
}
