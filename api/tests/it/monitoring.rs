//! HTTP monitors, maintenance windows and the infrastructure overview, against both stores.

use serde_json::{Value, json};

use crate::flows::{PROVISION, project, s, world};
use crate::helpers::{BOOT, TestApp, both_stores};

const CREATE: &str = "mutation($i: CreateHttpMonitorInput!) { createHttpMonitor(input: $i) { id projectId url followRedirects maxRedirects expectedStatus intervalSeconds timeoutSeconds state lastTransitionAt lastRedirectChain } }";
const TRANSITION: &str = "mutation($m: ID!, $s: MonitorState!, $t: DateTime!, $o: Int, $e: String) { recordMonitorTransition(monitorId: $m, state: $s, at: $t, observedStatus: $o, error: $e) { state lastTransitionAt } }";
const RECONFIGURE: &str = "mutation($m: ID!, $i: ReconfigureHttpMonitorInput!) { reconfigureHttpMonitor(monitorId: $m, input: $i) { state intervalSeconds expectedStatus } }";
const MAINTENANCE: &str = "mutation($p: ID, $s: DateTime!, $e: DateTime!, $a: DateTime!, $r: String!) { scheduleMaintenance(projectId: $p, start: $s, end: $e, announcedAt: $a, reason: $r) { id projectId reason announcedInTime } }";
const OVERVIEW: &str = "query($p: ID!, $t: DateTime) { infrastructureOverview(projectId: $p, asOf: $t) { project { name } vmCount totalCpu totalRamGb totalDiskGb vms { name } monitors { url state } backupHealth { vm { name } stale } access { name } upcomingMaintenance { reason projectId } } }";
const HEAD: &str = "{ logHead { position recordedAt } }";

fn monitor_input(project: &str, url: &str) -> Value {
    json!({"i": {"projectId": project, "url": url, "followRedirects": true, "expectedStatus": "301, 200-299", "effectiveAt": "2026-01-01T00:00:00Z"}})
}

both_stores!(a_manager_configures_a_monitor_and_staff_record_its_transitions, async |app: &TestApp| {
    let w = world(app).await;
    let grant = "mutation($p: ID!, $pr: ID!) { grantRole(personId: $p, projectId: $pr, role: MANAGER) { id } }";
    app.ok(BOOT, grant, json!({"p": w.acme_person, "pr": w.acme_root})).await;
    let created = app.ok(&w.acme_token, CREATE, monitor_input(&w.acme_root, "https://shop.example.com/health")).await;
    let m = created["createHttpMonitor"].clone();
    assert_eq!(m["expectedStatus"], "200-299,301", "stored in canonical form");
    assert_eq!(
        (m["maxRedirects"].clone(), m["intervalSeconds"].clone(), m["timeoutSeconds"].clone()),
        (json!(5), json!(60), json!(10))
    );
    assert_eq!(m["state"], "UNKNOWN", "unknown until its first result");
    let id = s(&m["id"]);
    // Who checks a monitor is staff's choice: a manager cannot hand it to an external checker.
    let head = app.head().await;
    let external = json!({"m": id, "i": {"checkedBy": "EXTERNAL"}});
    assert_eq!(app.code(&w.acme_token, RECONFIGURE, external).await, "FORBIDDEN");
    let mut input = monitor_input(&w.acme_root, "https://shop.example.com/other");
    input["i"]["checkedBy"] = json!("EXTERNAL");
    assert_eq!(app.code(&w.acme_token, CREATE, input).await, "FORBIDDEN");
    assert_eq!(app.head().await, head);

    // Another customer's project, a bad URL, bad status lists: refused, nothing appended.
    let before = app.head().await;
    assert_eq!(
        app.code(&w.acme_token, CREATE, monitor_input(&w.globex_project, "https://x.example")).await,
        "NOT_FOUND"
    );
    assert_eq!(app.code(&w.acme_token, CREATE, monitor_input(&w.acme_root, "ftp://x.example")).await, "BAD_INPUT");
    let bad_status = json!({"i": {"projectId": w.acme_root, "url": "https://x.example", "followRedirects": false, "expectedStatus": "200-"}});
    assert_eq!(app.code(&w.acme_token, CREATE, bad_status).await, "BAD_INPUT");
    let secret = monitor_input(&w.acme_root, "https://user:pw@x.example/");
    assert_eq!(app.code(&w.acme_token, CREATE, secret).await, "BAD_INPUT");
    assert_eq!(app.head().await, before);

    // Transitions come from staff and automation, by effective time, while it is checked.
    let early = json!({"m": id, "s": "DOWN", "t": "2025-12-31T00:00:00Z"});
    assert_eq!(app.code(&w.ops, TRANSITION, early).await, "RULE_VIOLATION", "before it existed");
    let down = json!({"m": id, "s": "DOWN", "t": "2026-03-01T10:00:00Z", "o": 503});
    assert_eq!(app.code(&w.acme_token, TRANSITION, down.clone()).await, "FORBIDDEN");
    let d = app.ok(&w.ops, TRANSITION, down.clone()).await;
    assert_eq!(d["recordMonitorTransition"], json!({"state": "DOWN", "lastTransitionAt": "2026-03-01T10:00:00+00:00"}));
    let again = json!({"m": id, "s": "DOWN", "t": "2026-03-01T10:05:00Z"});
    assert_eq!(app.code(&w.ops, TRANSITION, again).await, "RULE_VIOLATION", "already down then");
    assert_eq!(
        app.code(&w.ops, TRANSITION, json!({"m": id, "s": "PAUSED", "t": "2026-03-01T11:00:00Z"})).await,
        "BAD_INPUT"
    );
    assert_eq!(
        app.code(&w.ops, TRANSITION, json!({"m": id, "s": "UP", "t": "2026-03-01T11:00:00Z", "o": 999})).await,
        "BAD_INPUT"
    );
    let up = app.ok(&w.ops, TRANSITION, json!({"m": id, "s": "UP", "t": "2026-03-01T10:30:00Z", "o": 200})).await;
    assert_eq!(up["recordMonitorTransition"]["state"], "UP");

    let r = app.ok(&w.acme_token, RECONFIGURE, json!({"m": id, "i": {"intervalSeconds": 30, "paused": true}})).await;
    assert_eq!(
        r["reconfigureHttpMonitor"],
        json!({"state": "PAUSED", "intervalSeconds": 30, "expectedStatus": "200-299,301"})
    );
    assert_eq!(app.code(&w.acme_token, RECONFIGURE, json!({"m": id, "i": {"paused": true}})).await, "RULE_VIOLATION");
    assert_eq!(app.code(&w.acme_token, RECONFIGURE, json!({"m": id, "i": {"timeoutSeconds": 0}})).await, "BAD_INPUT");

    let q = "query($p: ID!) { project(id: $p) { monitors { url state } } }";
    let seen = app.ok(&w.acme_token, q, json!({"p": w.acme_root})).await;
    assert_eq!(seen["project"]["monitors"], json!([{"url": "https://shop.example.com/health", "state": "PAUSED"}]));
    let history = "query($e: ID!) { history(entityId: $e) { eventType actor } }";
    let types: Vec<String> = app.ok(BOOT, history, json!({"e": id})).await["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| s(&h["eventType"]))
        .collect();
    assert_eq!(
        types,
        ["HttpMonitorCreated", "MonitorWentDown", "MonitorRecovered", "HttpMonitorReconfigured", "HttpMonitorPaused"]
    );
});

both_stores!(the_overview_shows_a_project_as_it_stood_at_any_instant, async |app: &TestApp| {
    let w = world(app).await;
    let grant = "mutation($p: ID!, $pr: ID!) { grantRole(personId: $p, projectId: $pr, role: VIEWER) { id } }";
    app.ok(BOOT, grant, json!({"p": w.acme_person, "pr": w.acme_root})).await;
    let before_vm = s(&app.ok(BOOT, HEAD, json!({})).await["logHead"]["recordedAt"]);
    let vm = json!({"i": {"projectId": w.acme_root, "name": "web-1", "location": "fsn1", "cpu": 2, "ramGb": 4, "diskGb": 40, "effectiveAt": "2026-01-01T00:00:00Z"}});
    app.ok(BOOT, PROVISION, vm).await;
    let gone = json!({"i": {"projectId": w.acme_root, "name": "old-1", "location": "fsn1", "cpu": 1, "ramGb": 1, "diskGb": 10, "effectiveAt": "2025-06-01T00:00:00Z"}});
    let old = s(&app.ok(BOOT, PROVISION, gone).await["provisionVm"]["id"]);
    let decommission = "mutation($v: ID!) { decommissionVm(vmId: $v, effectiveAt: \"2025-12-01T00:00:00Z\") { id } }";
    app.ok(BOOT, decommission, json!({"v": old})).await;
    app.ok(BOOT, CREATE, monitor_input(&w.acme_root, "https://shop.example.com/")).await;
    let before_maintenance = s(&app.ok(BOOT, HEAD, json!({})).await["logHead"]["recordedAt"]);
    let window = |p: Option<&str>, start: &str, reason: &str| json!({"p": p, "s": start, "e": "2030-06-01T04:00:00Z", "a": "2026-01-01T00:00:00Z", "r": reason});
    assert_eq!(
        app.code(&w.acme_token, MAINTENANCE, window(Some(&w.acme_root), "2030-06-01T02:00:00Z", "x")).await,
        "FORBIDDEN"
    );
    let own = app.ok(&w.ops, MAINTENANCE, window(Some(&w.acme_root), "2030-06-01T02:00:00Z", "Database upgrade")).await;
    assert_eq!(own["scheduleMaintenance"]["announcedInTime"], true);
    app.ok(&w.ops, MAINTENANCE, window(None, "2030-06-01T01:00:00Z", "Network")).await;
    app.ok(&w.ops, MAINTENANCE, window(Some(&w.globex_project), "2030-06-01T01:00:00Z", "Not Acme's")).await;
    let future_announcement = json!({"p": w.acme_root, "s": "2030-06-01T02:00:00Z", "e": "2030-06-01T04:00:00Z", "a": "2029-01-01T00:00:00Z", "r": "x"});
    assert_eq!(app.code(&w.ops, MAINTENANCE, future_announcement).await, "BAD_INPUT");

    let now = app.ok(&w.acme_token, OVERVIEW, json!({"p": w.acme_root})).await["infrastructureOverview"].clone();
    assert_eq!(
        now,
        json!({
            "project": {"name": "Shop"},
            "vmCount": 1, "totalCpu": 2, "totalRamGb": 4, "totalDiskGb": 40,
            "vms": [{"name": "web-1"}],
            "monitors": [{"url": "https://shop.example.com/", "state": "UNKNOWN"}],
            "backupHealth": [{"vm": {"name": "web-1"}, "stale": true}],
            "access": [{"name": "Ada"}],
            "upcomingMaintenance": [{"reason": "Network", "projectId": null}, {"reason": "Database upgrade", "projectId": w.acme_root}],
        }),
        "decommissioned VMs and other customers' windows are left out; windows by start"
    );
    let then = app.ok(&w.acme_token, OVERVIEW, json!({"p": w.acme_root, "t": before_maintenance})).await;
    assert_eq!(then["infrastructureOverview"]["upcomingMaintenance"], json!([]));
    assert_eq!(then["infrastructureOverview"]["monitors"].as_array().unwrap().len(), 1);
    let earlier = app.ok(&w.acme_token, OVERVIEW, json!({"p": w.acme_root, "t": before_vm})).await;
    assert_eq!(earlier["infrastructureOverview"]["vms"], json!([]));
    assert_eq!(earlier["infrastructureOverview"]["monitors"], json!([]));
    assert_eq!(earlier["infrastructureOverview"]["access"], json!([{"name": "Ada"}]));
    let ancient = app.ok(&w.acme_token, OVERVIEW, json!({"p": w.acme_root, "t": "2000-01-01T00:00:00Z"})).await;
    assert_eq!(ancient["infrastructureOverview"], Value::Null, "the project did not exist");
    let foreign = app.ok(&w.acme_token, OVERVIEW, json!({"p": w.globex_project})).await;
    assert_eq!(foreign["infrastructureOverview"], Value::Null, "another customer's project is not there");
    let child = project(app, &w.acme, Some(&w.acme_root), "Shop staging").await;
    let inherited = app.ok(&w.acme_token, OVERVIEW, json!({"p": child})).await;
    assert_eq!(inherited["infrastructureOverview"]["access"], json!([{"name": "Ada"}]), "roles hold for descendants");
    assert_eq!(
        inherited["infrastructureOverview"]["upcomingMaintenance"],
        json!([{"reason": "Network", "projectId": null}]),
        "the platform's windows apply to every project"
    );
});

both_stores!(staff_correct_a_pause_back_in_time_and_it_shows_as_drift_never_in_the_invoice, async |app: &TestApp| {
    let w = world(app).await;
    let grant = "mutation($p: ID!, $pr: ID!) { grantRole(personId: $p, projectId: $pr, role: MANAGER) { id } }";
    app.ok(BOOT, grant, json!({"p": w.acme_person, "pr": w.acme_root})).await;
    let m = s(
        &app.ok(BOOT, CREATE, monitor_input(&w.acme_root, "https://shop.example.com/")).await["createHttpMonitor"]["id"],
    );
    let billing = crate::flows::staff(app, "Bea", "BILLING").await;
    let list = json!({"i": {"validFrom": "2026-01-01T00:00:00+01:00", "vcpu": "0", "ramGb": "0", "diskGb": "0", "backupGb": "0", "monitor": "1.50", "slaBasic": "0", "slaStandard": "0", "slaPremium": "0"}});
    app.ok(&billing, "mutation($i: PublishPriceListInput!) { publishPriceList(input: $i) { position } }", list).await;
    let run = app.ok(&billing, "mutation { runBilling(period: \"2026-03\") { customerId net } }", json!({})).await;
    assert_eq!(run["runBilling"], json!([{"customerId": w.acme, "net": "1.50"}]));

    // Backdating changes what is billed: a manager may pause now, not in the past.
    let pause = |paused: bool, at: &str| json!({"m": m, "i": {"paused": paused, "effectiveAt": at}});
    let head = app.head().await;
    assert_eq!(app.code(&w.acme_token, RECONFIGURE, pause(true, "2026-03-10T00:00:00Z")).await, "FORBIDDEN");
    assert_eq!(app.code(&w.ops, RECONFIGURE, pause(true, "2099-01-01T00:00:00Z")).await, "BAD_INPUT", "not planned");
    assert_eq!(
        app.code(&w.ops, RECONFIGURE, pause(true, "2025-12-31T00:00:00Z")).await,
        "RULE_VIOLATION",
        "before it existed"
    );
    assert_eq!(app.head().await, head);

    // OPS record that it was paused from 10 to 20 March: 1.50 × (2,674,800 − 864,000) ÷
    // 2,674,800 s = 1.0154… → 1.02 EUR; the issued 1.50 stays.
    app.ok(&w.ops, RECONFIGURE, pause(true, "2026-03-10T00:00:00Z")).await;
    let resumed = app.ok(&w.ops, RECONFIGURE, pause(false, "2026-03-20T00:00:00Z")).await;
    assert_eq!(resumed["reconfigureHttpMonitor"]["state"], "UNKNOWN", "checked again since 20 March");
    let drift = "query { billingDrift(period: \"2026-03\") { customerId issuedNet recomputedNet difference } }";
    assert_eq!(
        app.ok(&billing, drift, json!({})).await["billingDrift"],
        json!([{"customerId": w.acme, "issuedNet": "1.50", "recomputedNet": "1.02", "difference": "-0.48"}])
    );
});
