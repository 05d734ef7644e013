//! SLA reports by the contract's rules, against both stores.

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::flows::{project, s, world};
use crate::helpers::{BOOT, TestApp, both_stores};

const MONITOR: &str = "mutation($i: CreateHttpMonitorInput!) { createHttpMonitor(input: $i) { id } }";
const TRANSITION: &str = "mutation($m: ID!, $s: MonitorState!, $t: DateTime!) { recordMonitorTransition(monitorId: $m, state: $s, at: $t) { state } }";
const WINDOW: &str = "mutation($p: ID, $s: DateTime!, $e: DateTime!, $a: DateTime!) { scheduleMaintenance(projectId: $p, start: $s, end: $e, announcedAt: $a, reason: \"Kernel update\") { id } }";
const REPORT: &str = "query($p: ID!, $m: String!, $t: DateTime) { slaReport(projectId: $p, month: $m, asOf: $t) { projectId month slaClass targetPercent availabilityPercent downtimeSeconds excludedMaintenanceSeconds breached incidents { monitorId start end seconds excluded } maintenance { announcedInTime platform } dailyAvailability pdfUrl } }";

async fn monitor(app: &TestApp, project: &str, url: &str) -> String {
    let input = json!({"i": {"projectId": project, "url": url, "followRedirects": false, "expectedStatus": "200", "effectiveAt": "2026-01-01T00:00:00Z"}});
    s(&app.ok(BOOT, MONITOR, input).await["createHttpMonitor"]["id"])
}

async fn outage(app: &TestApp, monitor: &str, down: &str, up: &str) {
    app.ok(BOOT, TRANSITION, json!({"m": monitor, "s": "DOWN", "t": down})).await;
    app.ok(BOOT, TRANSITION, json!({"m": monitor, "s": "UP", "t": up})).await;
}

both_stores!(a_month_counts_the_union_of_outages_less_announced_maintenance, async |app: &TestApp| {
    let w = world(app).await;
    let (a, b) = (
        monitor(app, &w.acme_root, "https://a.example/").await,
        monitor(app, &w.acme_root, "https://b.example/").await,
    );
    // Two monitors down at once: 10:00–10:30 and 10:15–10:45 count as 45 minutes.
    outage(app, &a, "2026-03-10T10:00:00Z", "2026-03-10T10:30:00Z").await;
    outage(app, &b, "2026-03-10T10:15:00Z", "2026-03-10T10:45:00Z").await;
    // Announced five days ahead: excluded. Announced six hours ahead: counted.
    app.ok(BOOT, WINDOW, json!({"p": w.acme_root, "s": "2026-03-20T02:00:00Z", "e": "2026-03-20T03:00:00Z", "a": "2026-03-15T00:00:00Z"})).await;
    app.ok(
        BOOT,
        WINDOW,
        json!({"p": null, "s": "2026-03-25T02:00:00Z", "e": "2026-03-25T03:00:00Z", "a": "2026-03-24T20:00:00Z"}),
    )
    .await;
    let before_last = s(&app.ok(BOOT, "{ logHead { recordedAt } }", json!({})).await["logHead"]["recordedAt"]);
    outage(app, &a, "2026-03-20T02:10:00Z", "2026-03-20T02:40:00Z").await;
    outage(app, &a, "2026-03-25T02:00:00Z", "2026-03-25T02:20:00Z").await;

    {
        // Recorded months after they took effect, March's transitions settle at once but
        // each monitor's latest: its March is read from its log.
        let catalog = app.state.catalog();
        let series = &catalog.transitions[&a.parse().unwrap()];
        assert!(series.settled_through() > 0 && series.len() == 1, "{series:?}");
    }
    let r = app.ok(&w.acme_token, REPORT, json!({"p": w.acme_root, "m": "2026-03"})).await["slaReport"].clone();
    assert_eq!(r["slaClass"], "STANDARD");
    assert_eq!((r["targetPercent"].clone(), r["breached"].clone()), (json!("99.5"), json!(false)));
    assert_eq!((r["downtimeSeconds"].clone(), r["excludedMaintenanceSeconds"].clone()), (json!(3900), json!(1800)));
    // 100 − 3,900 s × 100 / 2,674,800 s = 99.85419…, truncated.
    assert_eq!(r["availabilityPercent"], "99.854");
    let incidents: Vec<(String, i64, bool)> = r["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (s(&i["start"]), i["seconds"].as_i64().unwrap(), i["excluded"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        incidents,
        vec![
            ("2026-03-10T10:00:00+00:00".into(), 1800, false),
            ("2026-03-10T10:15:00+00:00".into(), 1800, false),
            ("2026-03-20T02:10:00+00:00".into(), 1800, true),
            ("2026-03-25T02:00:00+00:00".into(), 1200, false),
        ]
    );
    assert_eq!(
        r["maintenance"],
        json!([{"announcedInTime": true, "platform": false}, {"announcedInTime": false, "platform": true}])
    );
    let daily = r["dailyAvailability"].as_array().unwrap();
    assert_eq!(daily.len(), 31);
    assert_eq!(daily[9], "96.875", "10 March: 2,700 s of 86,400 s down");
    assert_eq!(daily[0], "100.000");
    assert_eq!(r["pdfUrl"], format!("/reports/sla/{}/2026-03.pdf", w.acme_root));

    let then =
        app.ok(&w.acme_token, REPORT, json!({"p": w.acme_root, "m": "2026-03", "t": before_last})).await["slaReport"]
            .clone();
    assert_eq!(
        (then["downtimeSeconds"].clone(), then["incidents"].as_array().unwrap().len()),
        (json!(2700), 2),
        "as recorded then"
    );
    // The monitor's state as recorded before its last outage ended, from its log.
    let state = "query($m: ID!, $t: DateTime) { httpMonitor(id: $m, asOf: $t) { state lastTransitionAt } }";
    let head = app.ok(BOOT, "{ logHead { position recordedAt } }", json!({})).await["logHead"].clone();
    let between = head["recordedAt"].clone();
    app.ok(BOOT, TRANSITION, json!({"m": a, "s": "DOWN", "t": "2026-04-02T00:00:00Z"})).await;
    app.ok(BOOT, TRANSITION, json!({"m": a, "s": "UP", "t": "2026-04-02T01:00:00Z"})).await;
    let now = app.ok(BOOT, state, json!({"m": a})).await["httpMonitor"].clone();
    assert_eq!(now, json!({"state": "UP", "lastTransitionAt": "2026-04-02T01:00:00+00:00"}));
    let in_memory = app
        .state
        .catalog()
        .at(head["position"].as_i64().unwrap())
        .transitions(&a.parse().unwrap(), DateTime::<Utc>::MAX_UTC);
    assert_eq!(in_memory, Err(projections::catalog::InLog), "settled when April's outage was recorded");
    let then = app.ok(BOOT, state, json!({"m": a, "t": between})).await["httpMonitor"].clone();
    assert_eq!(then, json!({"state": "UP", "lastTransitionAt": "2026-03-25T02:20:00+00:00"}), "from the log");

    // A premium project down three hours breaches; staff list the breaches.
    let premium = project(app, &w.acme, None, "Payments").await;
    let change = "mutation($p: ID!) { changeSlaClass(projectId: $p, slaClass: PREMIUM, effectiveAt: \"2026-02-01T00:00:00Z\") { slaClass } }";
    app.ok(BOOT, change, json!({"p": premium})).await;
    let c = monitor(app, &premium, "https://pay.example/").await;
    outage(app, &c, "2026-03-05T00:00:00Z", "2026-03-05T03:00:00Z").await;
    let list = "query($m: String!, $b: Boolean) { slaReports(month: $m, breachedOnly: $b) { projectName availabilityPercent breached } }";
    let breaches = app.ok(BOOT, list, json!({"m": "2026-03", "b": true})).await["slaReports"].clone();
    assert_eq!(breaches, json!([{"projectName": "Payments", "availabilityPercent": "99.596", "breached": true}]));
    let all = app.ok(BOOT, list, json!({"m": "2026-03"})).await["slaReports"].as_array().unwrap().len();
    assert_eq!(all, 3, "every project: Shop, Payments and Globex's Secret");
    let october = "query($p: ID!) { slaReport(projectId: $p, month: \"2026-10\") { dailyAvailability } }";
    assert_eq!(
        app.ok(BOOT, october, json!({"p": w.acme_root})).await["slaReport"]["dailyAvailability"]
            .as_array()
            .unwrap()
            .len(),
        31,
        "October's 25-hour day is one day"
    );

    // The PDF says the same.
    let path = format!("/reports/sla/{}/2026-03.pdf", w.acme_root);
    let (status, kind, pdf) = app.get_as(Some(&w.acme_token), &path).await;
    assert_eq!((status.as_u16(), kind.as_str()), (200, "application/pdf"));
    // PDF/A-3b like the invoices, but no hybrid invoice: the container check says so.
    assert!(pdf.starts_with(b"%PDF-1.7") && String::from_utf8_lossy(&pdf).contains("<pdfaid:part>3</pdfaid:part>"));
    let named = app.header_of(&w.acme_token, &path, "content-disposition").await;
    assert_eq!(named, r#"inline; filename="SLA-Shop-2026-03.pdf""#);
    let refused = crate::helpers::validate_hybrid(&pdf).expect_err("an SLA report carries no invoice");
    assert!(refused.contains("container"), "{refused}");
    let text = crate::helpers::pdftotext(&pdf);
    for expected in [
        "SLA-Bericht März 2026",
        "Kunde: Acme GmbH",
        "Projekt: Shop",
        "Standard",
        "99,5 %",
        "99,854 %",
        "Ziel erreicht",
        "1 h 05 min",
        "Verfügbarkeit je Tag",
        "Ausfälle (4)",
        "https://a.example/",
        "gezählt: nein (Wartung)",
        "Wartungsfenster (2)",
        "rechtzeitig: ja, ausgenommen",
        "rechtzeitig: nein, gezählt",
        "So wurde gezählt:",
        "mindestens 24 Stunden vor Beginn",
        "Stand der Daten:",
        "Seite 1 von",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from:\n{text}");
    }
    let early = format!("{path}?asOf={}", before_last.replace('+', "%2B"));
    let (_, _, then_pdf) = app.get_as(Some(&w.acme_token), &early).await;
    assert!(crate::helpers::pdftotext(&then_pdf).contains("Ausfälle (2)"), "as of an earlier instant");
    assert_eq!(
        app.get_as(Some(&w.acme_token), &format!("/reports/sla/{}/2026-03.pdf", w.globex_project)).await.0.as_u16(),
        404
    );
    assert_eq!(
        app.get_as(Some(&w.acme_token), &format!("/reports/sla/{}/2026-13.pdf", w.acme_root)).await.0.as_u16(),
        400
    );
    assert_eq!(app.get_as(None, &path).await.0.as_u16(), 401);

    // An outage still open at the end of the month counts until then, and the next month from its start.
    let open = project(app, &w.acme, None, "Open").await;
    let m = monitor(app, &open, "https://open.example/").await;
    app.ok(BOOT, TRANSITION, json!({"m": m, "s": "DOWN", "t": "2026-03-31T21:00:00Z"})).await;
    let r = app.ok(BOOT, REPORT, json!({"p": open, "m": "2026-03"})).await["slaReport"].clone();
    assert_eq!(r["downtimeSeconds"], 3600, "21:00Z to the Berlin month end at 22:00Z");
    assert_eq!(r["incidents"][0]["end"], "2026-03-31T22:00:00+00:00");
    let april = app.ok(BOOT, REPORT, json!({"p": open, "m": "2026-04"})).await["slaReport"].clone();
    assert_eq!(april["downtimeSeconds"], 30 * 24 * 3600, "down all April");
    assert_eq!((april["availabilityPercent"].clone(), april["breached"].clone()), (json!("0.000"), json!(true)));

    assert_eq!(app.code(&w.acme_token, list, json!({"m": "2026-03"})).await, "FORBIDDEN");
    assert_eq!(app.code(&w.acme_token, REPORT, json!({"p": w.globex_project, "m": "2026-03"})).await, "NOT_FOUND");
    assert_eq!(app.code(BOOT, REPORT, json!({"p": w.acme_root, "m": "2026-13"})).await, "BAD_INPUT");
});
