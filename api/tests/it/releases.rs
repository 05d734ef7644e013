//! Platform releases: scheduling in Europe/Berlin, the policy, the scheduler run over a
//! whole week of instants, and people deciding first.

use app::clock::Clock;
use serde_json::json;

use crate::flows::{s, world};
use crate::helpers::{BOOT, TestApp, both_stores};

const SCHEDULE: &str = "mutation($c: String!, $w: String!) { scheduleRelease(channel: $c, isoWeek: $w, changelog: \"Kernel 6.12\") { id isoWeek windowStart decisionDueAt state } }";
const PREVIEW: &str = "query($r: ID!, $t: DateTime!) { releasePolicyPreview(releaseId: $r, at: $t) { approve automatic failedConditions } }";
const RELEASE: &str = "query($c: String) { releases(channel: $c) { id state decision { approve automatic failedConditions reason } vetoes { by reason withdrawn } } }";

fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
    s.parse().unwrap()
}

both_stores!(releases_open_monday_21_berlin_and_the_policy_decides_once_when_due, async |app: &TestApp| {
    let w = world(app).await;
    let winter = app.ok(&w.ops, SCHEDULE, json!({"c": "stable", "w": "2027-W02"})).await["scheduleRelease"].clone();
    assert_eq!(
        (winter["windowStart"].clone(), winter["decisionDueAt"].clone(), winter["state"].clone()),
        (json!("2027-01-11T20:00:00+00:00"), json!("2027-01-11T14:00:00+00:00"), json!("SCHEDULED"))
    );
    let summer = app.ok(&w.ops, SCHEDULE, json!({"c": "stable", "w": "2027-W27"})).await["scheduleRelease"].clone();
    assert_eq!(summer["windowStart"], "2027-07-05T19:00:00+00:00", "summer time: 19:00Z");
    let before = app.head().await;
    for bad in ["2025-W53", "2027-13", "next week"] {
        assert_eq!(app.code(&w.ops, SCHEDULE, json!({"c": "stable", "w": bad})).await, "BAD_INPUT", "{bad}");
    }
    assert_eq!(
        app.code(&w.ops, SCHEDULE, json!({"c": "stable", "w": "2026-W01"})).await,
        "RULE_VIOLATION",
        "the window is past"
    );
    assert_eq!(app.code(&w.acme_token, SCHEDULE, json!({"c": "stable", "w": "2027-W03"})).await, "FORBIDDEN");
    assert_eq!(app.head().await, before);

    // The channel's lead time applies to releases scheduled after it was set.
    let configure = "mutation($p: ID) { configureReleaseChannel(channel: \"edge\", leadHours: 12, minSoakHours: 72, platformProjectId: $p) { leadHours } }";
    app.ok(&w.ops, configure, json!({"p": w.acme_root})).await;
    let edge = app.ok(&w.ops, SCHEDULE, json!({"c": "edge", "w": "2027-W02"})).await["scheduleRelease"].clone();
    assert_eq!(edge["decisionDueAt"], "2027-01-11T08:00:00+00:00");

    // A veto holds; withdrawn, the policy approves.
    let id = s(&winter["id"]);
    let veto = "mutation($r: ID!) { vetoRelease(releaseId: $r, reason: \"storage migration\") { vetoes { reason withdrawn } } }";
    app.ok(&w.ops, veto, json!({"r": id})).await;
    let due = "2027-01-11T14:00:00Z";
    let held = app.ok(BOOT, PREVIEW, json!({"r": id, "t": due})).await["releasePolicyPreview"].clone();
    assert_eq!(held["approve"], false);
    assert_eq!(held["failedConditions"].as_array().unwrap().len(), 1);
    assert!(held["failedConditions"][0].as_str().unwrap().contains("storage migration"), "{held}");
    app.ok(&w.ops, "mutation($r: ID!) { withdrawVeto(releaseId: $r) { id } }", json!({"r": id})).await;
    assert_eq!(app.ok(BOOT, PREVIEW, json!({"r": id, "t": due})).await["releasePolicyPreview"]["approve"], true);

    // The scheduler over a whole week of instants, an hour apart: each due release is
    // decided once, at its due instant, and no sooner.
    let mut t = at("2027-01-05T00:00:00Z");
    let mut decided = vec![];
    while t < at("2027-01-12T00:00:00Z") {
        decided.extend(app::releases::decide_due(&app.state, t).await.unwrap().into_iter().map(|r| (r.to_string(), t)));
        t += chrono::Duration::hours(1);
    }
    let edge_id = s(&edge["id"]);
    assert_eq!(decided, vec![(edge_id.clone(), at("2027-01-11T08:00:00Z")), (id.clone(), at("2027-01-11T14:00:00Z"))]);
    let all = app.ok(BOOT, RELEASE, json!({"c": "stable"})).await["releases"].clone();
    let decided_winter = all.as_array().unwrap().iter().find(|r| r["id"] == id.as_str()).unwrap().clone();
    assert_eq!(decided_winter["state"], "APPROVED");
    assert_eq!(decided_winter["decision"]["automatic"], true);
    assert_eq!(decided_winter["vetoes"][0]["withdrawn"], true);
    // People come second once the policy decided; a second decision is a conflict.
    let decide = "mutation($r: ID!) { decideRelease(releaseId: $r, approve: false, reason: \"too late\") { state } }";
    assert_eq!(app.code(&w.ops, decide, json!({"r": id})).await, "CONFLICT");
    assert!(
        app::releases::decide_due(&app.state, at("2027-01-11T15:00:00Z")).await.unwrap().is_empty(),
        "decided once"
    );
    // A decision records what the policy saw.
    let history = "query($e: ID!) { history(entityId: $e) { eventType actor } }";
    let events = app.ok(BOOT, history, json!({"e": id})).await["history"].clone();
    let kinds: Vec<&str> = events.as_array().unwrap().iter().map(|e| e["eventType"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["ReleaseScheduled", "ReleaseVetoed", "VetoWithdrawn", "ReleaseApproved"]);
    assert_eq!(events[3]["actor"], "system:release-policy");
});

both_stores!(a_person_decides_first_and_platform_monitors_hold_the_policy, async |app: &TestApp| {
    let w = world(app).await;
    let release = app.ok(&w.ops, SCHEDULE, json!({"c": "stable", "w": "2027-W10"})).await["scheduleRelease"].clone();
    let id = s(&release["id"]);
    let decide = "mutation($r: ID!, $a: Boolean!) { decideRelease(releaseId: $r, approve: $a, reason: \"storage migration that night\") { state decision { automatic reason } } }";
    let held = app.ok(&w.ops, decide, json!({"r": id, "a": false})).await["decideRelease"].clone();
    assert_eq!(
        held,
        json!({"state": "HELD", "decision": {"automatic": false, "reason": "storage migration that night"}})
    );
    assert_eq!(app.code(&w.ops, decide, json!({"r": id, "a": true})).await, "CONFLICT", "the first decision wins");
    assert!(app::releases::decide_due(&app.state, at("2027-03-08T18:00:00Z")).await.unwrap().is_empty());

    // A platform monitor down at the decision instant holds the policy.
    let configure = "mutation($p: ID!) { configureReleaseChannel(channel: \"stable\", leadHours: 6, minSoakHours: 72, platformProjectId: $p) { platformProjectId } }";
    app.ok(&w.ops, configure, json!({"p": w.acme_root})).await;
    let monitor = "mutation($i: CreateHttpMonitorInput!) { createHttpMonitor(input: $i) { id } }";
    let m = s(&app.ok(BOOT, monitor, json!({"i": {"projectId": w.acme_root, "url": "https://platform.example/", "followRedirects": false, "expectedStatus": "200", "effectiveAt": "2026-01-01T00:00:00Z"}})).await["createHttpMonitor"]["id"]);
    let down = "mutation($m: ID!) { recordMonitorTransition(monitorId: $m, state: DOWN, at: \"2026-06-01T10:00:00Z\") { state } }";
    app.ok(BOOT, down, json!({"m": m})).await;
    let other = app.ok(&w.ops, SCHEDULE, json!({"c": "stable", "w": "2027-W11"})).await["scheduleRelease"].clone();
    let preview =
        app.ok(BOOT, PREVIEW, json!({"r": other["id"], "t": "2027-03-15T14:00:00Z"})).await["releasePolicyPreview"]
            .clone();
    assert_eq!(preview["approve"], false);
    assert!(preview["failedConditions"][0].as_str().unwrap().contains(&m), "names the monitor: {preview}");
    let earlier =
        app.ok(BOOT, PREVIEW, json!({"r": other["id"], "t": "2026-05-31T00:00:00Z"})).await["releasePolicyPreview"]
            .clone();
    assert!(
        earlier["failedConditions"].as_array().unwrap().iter().all(|c| !c.as_str().unwrap().contains("platform")),
        "the monitor was up then: {earlier}"
    );
    assert_eq!(
        app.code(BOOT, PREVIEW, json!({"r": "00000000-0000-0000-0000-000000000001", "t": "2027-01-01T00:00:00Z"}))
            .await,
        "NOT_FOUND"
    );
});

both_stores!(two_servers_on_one_store_decide_a_release_once, async |app: &TestApp| {
    let w = world(app).await;
    let release = app.ok(&w.ops, SCHEDULE, json!({"c": "stable", "w": "2027-W12"})).await["scheduleRelease"].clone();
    let other = app.second_server().await;
    assert!(other.bus.projector.wait_for(app.head().await, std::time::Duration::from_secs(5)).await);
    let due = at("2027-03-22T15:00:00Z");
    let (a, b) = tokio::join!(app::releases::decide_due(&app.state, due), app::releases::decide_due(&other, due));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.len() + b.len(), 1, "one server decided: {a:?} {b:?}");
    let history = "query($e: ID!) { history(entityId: $e) { eventType } }";
    let events = app.ok(BOOT, history, json!({"e": release["id"]})).await["history"].clone();
    let decisions = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["eventType"] == "ReleaseApproved" || e["eventType"] == "ReleaseHeld")
        .count();
    assert_eq!(decisions, 1);
});

both_stores!(a_decision_that_fell_due_while_the_server_was_down_is_made_at_start, async |app: &TestApp| {
    let w = world(app).await;
    let release = app.ok(&w.ops, SCHEDULE, json!({"c": "stable", "w": "2027-W15"})).await["scheduleRelease"].clone();
    // A server whose clock stands before the due instant decides nothing…
    let clock = std::sync::Arc::new(app::clock::ManualClock::new(at("2027-04-12T12:00:00Z")));
    let first = app.server_with_clock(clock.clone()).await;
    assert!(first.bus.projector.wait_for(app.head().await, std::time::Duration::from_secs(5)).await);
    assert!(app::releases::decide_due(&first, first.now()).await.unwrap().is_empty(), "not due yet (due 13:00Z)");
    drop(first);
    // …it stops; the next server starts after the due instant and decides at start, once.
    clock.set(at("2027-04-13T09:00:00Z"));
    let restarted = app.server_with_clock(clock.clone()).await;
    app::releases::spawn_scheduler(restarted.clone(), false);
    let q = "query($c: String) { releases(channel: $c) { id state decision { at automatic } } }";
    let mut decided = serde_json::Value::Null;
    for _ in 0..100 {
        assert!(restarted.bus.projector.wait_for(0, std::time::Duration::from_millis(10)).await);
        decided = app.ok(BOOT, q, json!({"c": "stable"})).await["releases"][0].clone();
        if decided["state"] != "SCHEDULED" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(decided["id"], release["id"]);
    assert_eq!(
        decided["decision"],
        json!({"at": "2027-04-12T13:00:00+00:00", "automatic": true}),
        "decided as due, not as of the restart"
    );
    assert!(app::releases::decide_due(&restarted, clock.now()).await.unwrap().is_empty(), "once");
});

/// A GraphQL request to a server of its own (here: one with its own clock).
async fn gql_on(
    server: &std::sync::Arc<app::state::AppState>,
    token: &str,
    query: &str,
    variables: serde_json::Value,
) -> serde_json::Value {
    use tower::ServiceExt;
    let body = serde_json::to_vec(&json!({"query": query, "variables": variables})).unwrap();
    let request = axum::http::Request::post("/graphql")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(axum::body::Body::from(body))
        .unwrap();
    let response = api::http::router(server.clone(), None).oneshot(request).await.unwrap();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

both_stores!(channels_are_named_as_the_platform_names_them_everywhere, async |app: &TestApp| {
    let w = world(app).await;
    for channel in ["fc-24.05-production", "fc-24.11-dev", "fc_23.11_staging"] {
        let r = app.ok(&w.ops, SCHEDULE, json!({"c": channel, "w": "2027-W05"})).await["scheduleRelease"].clone();
        assert_eq!(r["state"], "SCHEDULED", "{channel}");
        let listed =
            app.ok(BOOT, "query($c: String) { releases(channel: $c) { channel } }", json!({"c": channel})).await;
        assert_eq!(listed["releases"], json!([{"channel": channel}]));
    }
    let configure = "mutation($c: String!) { configureReleaseChannel(channel: $c, leadHours: 8, minSoakHours: 48) { channel leadHours } }";
    let settings = app.ok(&w.ops, configure, json!({"c": "fc-24.05-production"})).await;
    assert_eq!(settings["configureReleaseChannel"], json!({"channel": "fc-24.05-production", "leadHours": 8}));
    let read = "query($c: String!) { releaseChannel(channel: $c) { leadHours } }";
    assert_eq!(app.ok(BOOT, read, json!({"c": "fc-24.05-production"})).await["releaseChannel"]["leadHours"], 8);
    let head = app.head().await;
    for bad in ["fc 24.05", "-fc", "fc/24.05", ""] {
        assert_eq!(app.code(&w.ops, SCHEDULE, json!({"c": bad, "w": "2027-W05"})).await, "BAD_INPUT", "{bad:?}");
        assert_eq!(app.code(&w.ops, configure, json!({"c": bad})).await, "BAD_INPUT", "{bad:?}");
    }
    assert_eq!(app.head().await, head);
});

both_stores!(a_release_is_cancelled_before_its_window_or_marked_rolled_out_after_it, async |app: &TestApp| {
    let w = world(app).await;
    let schedule = |week: &'static str| {
        let ops = w.ops.clone();
        async move { s(&app.ok(&ops, SCHEDULE, json!({"c": "stable", "w": week})).await["scheduleRelease"]["id"]) }
    };
    let (rolled, cancelled, held) =
        (schedule("2027-W02").await, schedule("2027-W03").await, schedule("2027-W04").await);
    const CANCEL: &str = "mutation($r: ID!, $why: String!, $k: ID) { cancelRelease(releaseId: $r, reason: $why, commandId: $k) { id state cancelledAt cancellationReason } }";
    const ROLLED_OUT: &str =
        "mutation($r: ID!, $t: DateTime!) { markReleaseRolledOut(releaseId: $r, at: $t) { id state rolledOutAt } }";

    // Cancelled: its state says so, a retry answers the same, nothing more happens to it.
    let vars = json!({"r": cancelled, "why": "superseded by W04", "k": "cancel-w03"});
    let first = app.ok(&w.ops, CANCEL, vars.clone()).await["cancelRelease"].clone();
    assert_eq!(first["state"], "CANCELLED");
    assert_eq!(first["cancellationReason"], "superseded by W04");
    let head = app.head().await;
    assert_eq!(app.ok(&w.ops, CANCEL, vars).await["cancelRelease"], first, "a retry answers the first result");
    assert_eq!(app.code(&w.ops, CANCEL, json!({"r": cancelled, "why": "again"})).await, "CONFLICT");
    let veto = "mutation($r: ID!) { vetoRelease(releaseId: $r, reason: \"no\") { id } }";
    assert_eq!(app.code(&w.ops, veto, json!({"r": cancelled})).await, "CONFLICT");
    assert_eq!(app.code(&w.acme_token, CANCEL, json!({"r": rolled, "why": "mine"})).await, "FORBIDDEN");
    assert_eq!(app.code(&w.ops, CANCEL, json!({"r": rolled, "why": " "})).await, "BAD_INPUT");
    assert_eq!(app.head().await, head, "refusals append nothing");
    let seen =
        app.ok(&w.acme_token, "{ releases { id state cancellationReason } }", json!({})).await["releases"].clone();
    let theirs = seen.as_array().unwrap().iter().find(|r| r["id"] == cancelled.as_str()).unwrap().clone();
    assert_eq!(theirs, json!({"id": cancelled, "state": "CANCELLED", "cancellationReason": null}), "why is for staff");

    // The scheduler decides the others when due and leaves the cancelled one alone.
    let veto_held = "mutation($r: ID!) { vetoRelease(releaseId: $r, reason: \"storage migration\") { id } }";
    app.ok(&w.ops, veto_held, json!({"r": held})).await;
    let decided = app::releases::decide_due(&app.state, at("2027-01-26T12:00:00Z")).await.unwrap();
    let decided: Vec<String> = decided.iter().map(ToString::to_string).collect();
    assert_eq!(decided.len(), 2, "{decided:?}");
    assert!(!decided.contains(&cancelled));

    // Before the window, in the future, held or twice: refused; otherwise ROLLED_OUT.
    assert_eq!(
        app.code(&w.ops, ROLLED_OUT, json!({"r": rolled, "t": "2027-01-11T19:00:00Z"})).await,
        "RULE_VIOLATION",
        "the window opened at 20:00Z"
    );
    assert_eq!(
        app.code(&w.ops, ROLLED_OUT, json!({"r": rolled, "t": "2027-01-11T23:00:00Z"})).await,
        "BAD_INPUT",
        "that is still in the future"
    );
    let later =
        app.server_with_clock(std::sync::Arc::new(app::clock::ManualClock::new(at("2027-01-30T00:00:00Z")))).await;
    assert!(later.bus.projector.wait_for(app.head().await, std::time::Duration::from_secs(5)).await);
    let done = gql_on(&later, &w.ops, ROLLED_OUT, json!({"r": rolled, "t": "2027-01-11T23:00:00Z"})).await;
    assert_eq!(
        done["data"]["markReleaseRolledOut"],
        json!({"id": rolled, "state": "ROLLED_OUT", "rolledOutAt": "2027-01-11T23:00:00+00:00"}),
        "{done}"
    );
    let again = gql_on(&later, &w.ops, ROLLED_OUT, json!({"r": rolled, "t": "2027-01-12T01:00:00Z"})).await;
    assert_eq!(again["errors"][0]["extensions"]["code"], "CONFLICT", "{again}");
    let not_approved = gql_on(&later, &w.ops, ROLLED_OUT, json!({"r": held, "t": "2027-01-25T23:00:00Z"})).await;
    assert_eq!(not_approved["errors"][0]["extensions"]["code"], "RULE_VIOLATION", "{not_approved}");
    let cancelled_too = gql_on(&later, &w.ops, ROLLED_OUT, json!({"r": cancelled, "t": "2027-01-18T23:00:00Z"})).await;
    assert_eq!(cancelled_too["errors"][0]["extensions"]["code"], "CONFLICT", "{cancelled_too}");

    let history = "query($e: ID!) { history(entityId: $e) { eventType summary } }";
    let lines = app.ok(BOOT, history, json!({"e": rolled})).await["history"].clone();
    assert_eq!(lines.as_array().unwrap().last().unwrap()["eventType"], "ReleaseRolledOut");
    let lines = app.ok(BOOT, history, json!({"e": cancelled})).await["history"].clone();
    assert!(lines.to_string().contains("Cancelled by") && lines.to_string().contains("superseded by W04"), "{lines}");
});
