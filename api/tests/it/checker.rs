//! The HTTP checker against a real HTTP server on loopback.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use app::checker::{Checker, Limits, Probe};
use app::targets::Reach;
use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use domain::http_monitor::{MAX_PER_PROJECT, MonitorSpec, Observed};
use serde_json::json;

use crate::flows::{s, world};
use crate::helpers::{BOOT, TestApp, both_stores};

/// A target with routes that answer, fail, redirect, loop and hang.
async fn target() -> SocketAddr {
    let redirect = |to: &'static str, status: StatusCode| {
        move || async move { (status, [(header::LOCATION, to)]).into_response() }
    };
    let app = Router::new()
        .route("/ok", get(|| async { "fine" }))
        .route("/fail", get(|| async { StatusCode::INTERNAL_SERVER_ERROR }))
        .route("/redirect", get(redirect("/ok", StatusCode::MOVED_PERMANENTLY)))
        .route("/chain", get(redirect("/redirect", StatusCode::FOUND)))
        .route("/loop", get(redirect("/loop", StatusCode::FOUND)))
        .route("/nowhere", get(|| async { StatusCode::FOUND }))
        .route("/missing", get(|| async { StatusCode::NOT_FOUND }))
        .route(
            "/flapping",
            get(|| async {
                // Fails every other request.
                static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
                if N.fetch_add(1, std::sync::atomic::Ordering::SeqCst).is_multiple_of(2) {
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    StatusCode::OK
                }
            }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn config(url: String, follow: bool, max: i64, expected: &str, timeout: i64) -> domain::http_monitor::MonitorConfig {
    MonitorSpec {
        url,
        follow_redirects: follow,
        max_redirects: max,
        expected_status: expected.into(),
        interval_seconds: 60,
        timeout_seconds: timeout,
    }
    .validate()
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_probe_follows_redirects_by_hand_and_records_each_hop() {
    let addr = target().await;
    let url = |path: &str| format!("http://{addr}{path}");
    let probe = Probe::new();
    let probe = |c| {
        let probe = probe.clone();
        async move { probe.check(&c, Reach::Internal).await }
    };
    let ok = probe(config(url("/ok"), true, 5, "200", 5)).await;
    assert_eq!((ok.ok, ok.status, ok.chain.len()), (true, Some(200), 0));
    let chained = probe(config(url("/chain"), true, 5, "200-299", 5)).await;
    assert!(chained.ok, "{chained:?}");
    let hops: Vec<(u16, String)> = chained.chain.iter().map(|h| (h.status, h.location.clone())).collect();
    assert_eq!(hops, vec![(302, url("/redirect")), (301, url("/ok"))]);
    let too_many = probe(config(url("/chain"), true, 1, "200", 5)).await;
    assert!(!too_many.ok && too_many.error.as_deref() == Some("more than 1 redirects"), "{too_many:?}");
    let looping = probe(config(url("/loop"), true, 5, "200", 5)).await;
    assert!(!looping.ok && looping.error.unwrap().starts_with("redirect loop"));
    let not_followed = probe(config(url("/redirect"), false, 5, "301", 5)).await;
    assert_eq!((not_followed.ok, not_followed.status), (true, Some(301)), "judged on the first answer");
    let missing = probe(config(url("/nowhere"), true, 5, "200", 5)).await;
    assert!(!missing.ok && missing.error.unwrap().contains("without a Location"));
    let failing = probe(config(url("/fail"), true, 5, "200-299", 5)).await;
    assert_eq!(
        (failing.ok, failing.status, failing.error.as_deref()),
        (false, Some(500), Some("status 500, expected 200-299"))
    );
    let missing_page = probe(config(url("/missing"), true, 5, "200-299", 5)).await;
    assert_eq!((missing_page.ok, missing_page.status), (false, Some(404)));
    let expected_404 = probe(config(url("/missing"), true, 5, "404", 5)).await;
    assert!(expected_404.ok, "a 404 can be what is expected");
    let slow = probe(config(url("/slow"), true, 5, "200", 1)).await;
    assert_eq!((slow.ok, slow.error.as_deref()), (false, Some("timed out after 1 s")));
    let closed = probe(config("http://127.0.0.1:9/".into(), true, 5, "200", 2)).await;
    assert!(!closed.ok && closed.status.is_none(), "{closed:?}");
}

/// The monitor's state once a started check has recorded it (or UNKNOWN after 5 s).
async fn state_once_checked(app: &TestApp, monitor: &str) -> String {
    let q = "query($m: ID!) { httpMonitor(id: $m) { state } }";
    let mut state = String::new();
    for _ in 0..100 {
        state = s(&app.ok(BOOT, q, json!({"m": monitor})).await["httpMonitor"]["state"]);
        if state != "UNKNOWN" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    state
}

/// The test's targets listen on loopback: staff let the project's monitors reach it.
pub(crate) async fn allow_internal(app: &TestApp, project: &str) {
    let allow =
        "mutation($p: ID!) { allowInternalMonitorTargets(projectId: $p, allowed: true) { internalMonitorTargets } }";
    let answer = app.ok(BOOT, allow, json!({"p": project})).await;
    assert_eq!(answer["allowInternalMonitorTargets"]["internalMonitorTargets"], json!(true));
}

both_stores!(two_failures_take_a_monitor_down_one_success_brings_it_up_once, async |app: &TestApp| {
    let w = world(app).await;
    allow_internal(app, &w.acme_root).await;
    let addr = target().await;
    let create = "mutation($i: CreateHttpMonitorInput!) { createHttpMonitor(input: $i) { id state } }";
    let input = json!({"i": {"projectId": w.acme_root, "url": format!("http://{addr}/fail"), "followRedirects": true, "expectedStatus": "200"}});
    let id = s(&app.ok(BOOT, create, input).await["createHttpMonitor"]["id"]);
    let monitor: domain::MonitorId = id.parse().unwrap();
    let checker = Checker::new(app.state.clone());
    assert_eq!(checker.check(monitor).await.unwrap(), None, "one failure is not an outage");
    assert_eq!(checker.check(monitor).await.unwrap(), Some(Observed::Down));
    assert_eq!(checker.check(monitor).await.unwrap(), None, "already down");
    let q = "query($m: ID!) { httpMonitor(id: $m) { state lastObservedStatus lastError } }";
    assert_eq!(
        app.ok(BOOT, q, json!({"m": id})).await["httpMonitor"],
        json!({"state": "DOWN", "lastObservedStatus": 500, "lastError": "status 500, expected 200"})
    );
    // A restarted checker starts from the log: still down, no second WentDown.
    let restarted = Checker::new(app.state.clone());
    assert_eq!(restarted.check(monitor).await.unwrap(), None);
    assert_eq!(restarted.check(monitor).await.unwrap(), None);
    let reconfigure =
        "mutation($m: ID!, $u: String!) { reconfigureHttpMonitor(monitorId: $m, input: {url: $u}) { state } }";
    app.ok(BOOT, reconfigure, json!({"m": id, "u": format!("http://{addr}/chain")})).await;
    assert_eq!(restarted.check(monitor).await.unwrap(), Some(Observed::Up));
    let chain = "query($m: ID!) { httpMonitor(id: $m) { state lastRedirectChain } }";
    assert_eq!(
        app.ok(BOOT, chain, json!({"m": id})).await["httpMonitor"],
        json!({"state": "UP", "lastRedirectChain": [format!("302 http://{addr}/redirect"), format!("301 http://{addr}/ok")]})
    );
    let history = "query($e: ID!) { history(entityId: $e) { eventType actor } }";
    let events = app.ok(BOOT, history, json!({"e": id})).await["history"].clone();
    let transitions: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["eventType"].as_str())
        .filter(|t| t.starts_with("Monitor"))
        .collect();
    assert_eq!(transitions, ["MonitorWentDown", "MonitorRecovered"], "each transition once");
    // Paused monitors are not checked.
    let pause = "mutation($m: ID!) { reconfigureHttpMonitor(monitorId: $m, input: {paused: true, url: \"http://127.0.0.1:9/\"}) { state } }";
    app.ok(BOOT, pause, json!({"m": id})).await;
    assert_eq!(restarted.check(monitor).await.unwrap(), None);
    assert_eq!(restarted.check(monitor).await.unwrap(), None);
    assert_eq!(app.ok(BOOT, q, json!({"m": id})).await["httpMonitor"]["state"], "PAUSED");
    let later = app.state.now() + chrono::Duration::days(1);
    assert_eq!(restarted.round(later), 0, "paused: nothing to check");
    // Rounds start the checks that are due, each monitor once per interval.
    let input = json!({"i": {"projectId": w.acme_root, "url": format!("http://{addr}/ok"), "followRedirects": true, "expectedStatus": "200"}});
    let fine = s(&app.ok(BOOT, create, input).await["createHttpMonitor"]["id"]);
    // Its first check falls within its first interval (spread by its id)…
    let first = (0..60).map(|n| later + chrono::Duration::seconds(n)).find(|t| restarted.round(*t) == 1);
    let first = first.expect("checked within the first 60 s");
    // …and then every 60 s, once the check before has ended.
    assert_eq!(restarted.round(first + chrono::Duration::seconds(59)), 0, "not due before its interval");
    for _ in 0..100 {
        if restarted.in_flight() == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(restarted.round(first + chrono::Duration::seconds(60)), 1);
    assert_eq!(state_once_checked(app, &fine).await, "UP", "the round's check recorded the first success");
});

both_stores!(a_flapping_endpoint_never_fails_twice_in_a_row_so_never_goes_down, async |app: &TestApp| {
    let w = world(app).await;
    allow_internal(app, &w.acme_root).await;
    let addr = target().await;
    let create = "mutation($i: CreateHttpMonitorInput!) { createHttpMonitor(input: $i) { id } }";
    let input = json!({"i": {"projectId": w.acme_root, "url": format!("http://{addr}/flapping"), "followRedirects": false, "expectedStatus": "200"}});
    let id: domain::MonitorId = s(&app.ok(BOOT, create, input).await["createHttpMonitor"]["id"]).parse().unwrap();
    let checker = Checker::new(app.state.clone());
    let mut seen = vec![];
    for _ in 0..8 {
        seen.extend(checker.check(id).await.unwrap());
    }
    assert_eq!(seen, vec![Observed::Up], "only the first success changes the state (unknown → up)");
});

both_stores!(a_monitor_may_not_check_the_directory_itself, async |app: &TestApp| {
    let w = world(app).await;
    allow_internal(app, &w.acme_root).await;
    let listen: SocketAddr = "127.0.0.1:18080".parse().unwrap();
    app.state.listen.set(listen).unwrap();
    let create = "mutation($i: CreateHttpMonitorInput!) { createHttpMonitor(input: $i) { id } }";
    for url in ["http://127.0.0.1:18080/graphql", "http://localhost:18080/"] {
        let input =
            json!({"i": {"projectId": w.acme_root, "url": url, "followRedirects": true, "expectedStatus": "200"}});
        assert_eq!(app.code(BOOT, create, input).await, "RULE_VIOLATION", "{url}");
    }
    let other = json!({"i": {"projectId": w.acme_root, "url": "http://127.0.0.1:18081/", "followRedirects": true, "expectedStatus": "200"}});
    let id = s(&app.ok(BOOT, create, other).await["createHttpMonitor"]["id"]);
    let reconfigure = "mutation($m: ID!) { reconfigureHttpMonitor(monitorId: $m, input: {url: \"http://127.0.0.1:18080/\"}) { state } }";
    assert_eq!(app.code(BOOT, reconfigure, json!({"m": id})).await, "RULE_VIOLATION");
});

/// A socket that accepts every connection and never answers; counts what it accepted.
async fn hanging() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        let mut held = vec![];
        while let Ok((socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            held.push(socket);
        }
    });
    (addr, accepted)
}

both_stores!(one_customers_hanging_sites_leave_other_customers_their_checks, async |app: &TestApp| {
    let w = world(app).await;
    allow_internal(app, &w.acme_root).await;
    allow_internal(app, &w.globex_project).await;
    let (hang, accepted) = hanging().await;
    let create = "mutation($i: CreateHttpMonitorInput!) { createHttpMonitor(input: $i) { id } }";
    let monitor = |project: &str, url: String| json!({"i": {"projectId": project, "url": url, "followRedirects": false, "expectedStatus": "200", "intervalSeconds": 5, "timeoutSeconds": 60}});
    for n in 0..70 {
        app.ok(BOOT, create, monitor(&w.acme_root, format!("http://{hang}/{n}"))).await;
    }
    // Fewer slots than Acme has monitors, so the bound and the shares are what is tested.
    let limits = Limits { in_flight: 32, min_share: 2 };
    let checker = Checker::with_limits(app.state.clone(), Probe::new(), limits);
    // Rounds over two intervals: every one of Acme's monitors falls due, and its checks all hang.
    let t0 = app.state.now();
    for second in 0..=10 {
        checker.round(t0 + chrono::Duration::seconds(second));
    }
    let alone = limits.share(1);
    assert_eq!(checker.in_flight(), alone, "Acme alone holds its share and leaves one free");
    // Globex's first monitor, created while Acme's checks hang, is checked within its interval.
    let addr = target().await;
    let other = s(
        &app.ok(BOOT, create, monitor(&w.globex_project, format!("http://{addr}/ok"))).await["createHttpMonitor"]["id"],
    );
    let t1 = app.state.now();
    let mut started = 0;
    for second in 0..5 {
        started += checker.round(t1 + chrono::Duration::seconds(second));
    }
    assert_eq!(started, 1, "Globex's monitor, and none of Acme's beyond its (now smaller) share");
    let state = state_once_checked(app, &other).await;
    assert_eq!(state, "UP", "checked while all of Acme's checks hang (they time out after 60 s)");
    // However many rounds pass, no monitor of Acme's is checked again while its check runs.
    for second in 5..=30 {
        checker.round(t1 + chrono::Duration::seconds(second));
        assert!(checker.in_flight() <= alone + 1, "Acme's share and Globex's one check");
    }
    for _ in 0..100 {
        if accepted.load(Ordering::SeqCst) >= alone {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(accepted.load(Ordering::SeqCst), alone, "one connection per running check, no second");
    // A project holds at most MAX_PER_PROJECT monitors.
    for n in 70..MAX_PER_PROJECT {
        app.ok(BOOT, create, monitor(&w.acme_root, format!("https://site{n}.example/"))).await;
    }
    let head = app.head().await;
    let refused = app.gql(BOOT, create, monitor(&w.acme_root, "https://one-more.example/".into())).await;
    let refused = &refused["errors"][0];
    assert_eq!(refused["extensions"]["code"], "RULE_VIOLATION");
    assert!(refused["message"].as_str().unwrap().contains("100 monitors"), "{refused}");
    assert_eq!(app.head().await, head, "nothing appended");
});
