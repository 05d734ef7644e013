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
    app::releases::spawn_scheduler(restarted.clone());
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
