//! Valid time: corrections of the past, recorded in any order against an invoice's issue
//! and against the entity's other changes. An issued invoice never changes; what a new
//! computation would bill shows in `billingDrift`, and `asOf` shows what was known when.
//!
//! Every figure below was computed by hand from rules.md: March 2026 in Berlin runs from
//! 2026-02-28T23:00Z to 2026-03-31T22:00Z (2,674,800 s); vCPU at 12.50 EUR, the SLA
//! surcharge 15 EUR (standard, project A) or 45 EUR (premium, project B) per VM, each line
//! `units × price × seconds ÷ 2,674,800` rounded half-up to cents. Every VM is provisioned
//! in A with 2 vCPU on 1 February and resized to 4 vCPU effective 20 March ("the other
//! change", recorded first): 15.38 + 9.23 + 19.25 + 5.77 = 49.63 EUR.

use serde_json::{Value, json};

use crate::flows::{PROVISION, customer, s, staff};
use crate::helpers::{BOOT, TestApp, both_stores};

const OTHER_CHANGE: &str = "2026-03-20T00:00:00Z";
const BEFORE_IT: &str = "2026-03-10T00:00:00Z";
const AFTER_IT: &str = "2026-03-25T00:00:00Z";
const RESIZE: &str = "mutation($v: ID!, $c: Int!, $t: DateTime!) { resizeVm(vmId: $v, cpu: $c, ramGb: 4, diskGb: 40, effectiveAt: $t) { id } }";
const MOVE: &str =
    "mutation($v: ID!, $p: ID!, $t: DateTime!) { moveVm(vmId: $v, projectId: $p, effectiveAt: $t) { id } }";
const DECOMMISSION: &str =
    "mutation($v: ID!, $t: DateTime!) { decommissionVm(vmId: $v, effectiveAt: $t) { id decommissionedAt } }";
const DRIFT: &str = "query($p: String!) { billingDrift(period: $p) { customerId issuedNet recomputedNet difference } }";

async fn prices(app: &TestApp) {
    let billing = staff(app, "Bea", "BILLING").await;
    let list = json!({"i": {"validFrom": "2026-01-01T00:00:00+01:00", "vcpu": "12.50", "ramGb": "0", "diskGb": "0", "backupGb": "0", "monitor": "0", "slaBasic": "0", "slaStandard": "15", "slaPremium": "45"}});
    app.ok(&billing, "mutation($i: PublishPriceListInput!) { publishPriceList(input: $i) { position } }", list).await;
}

async fn project(app: &TestApp, customer: &str, name: &str, class: &str) -> String {
    let q = "mutation($i: CreateProjectInput!) { createProject(input: $i) { id } }";
    let input =
        json!({"i": {"customerId": customer, "name": name, "slaClass": class, "effectiveAt": "2025-01-01T00:00:00Z"}});
    s(&app.ok(BOOT, q, input).await["createProject"]["id"])
}

/// One customer per case: its projects A (standard) and B (premium) and its VM.
struct Case {
    name: &'static str,
    customer: String,
    b: String,
    vm: String,
}

async fn case(app: &TestApp, name: &'static str) -> Case {
    let customer = customer(app, name, "DE").await;
    let a = project(app, &customer, "A", "STANDARD").await;
    let b = project(app, &customer, "B", "PREMIUM").await;
    let vm = json!({"i": {"projectId": a, "name": "web-1", "location": "fsn1", "cpu": 2, "ramGb": 4, "diskGb": 40, "effectiveAt": "2026-02-01T00:00:00Z"}});
    let vm = s(&app.ok(BOOT, PROVISION, vm).await["provisionVm"]["id"]);
    app.ok(BOOT, RESIZE, json!({"v": vm, "c": 4, "t": OTHER_CHANGE})).await;
    Case { name, customer, b, vm }
}

#[derive(Clone, Copy, Debug)]
enum Correction {
    Resize(&'static str),
    Move(&'static str),
    Decommission(&'static str),
}

async fn correct(app: &TestApp, c: &Case, correction: Correction) {
    match correction {
        Correction::Resize(t) => app.ok(BOOT, RESIZE, json!({"v": c.vm, "c": 8, "t": t})).await,
        Correction::Move(t) => app.ok(BOOT, MOVE, json!({"v": c.vm, "p": c.b, "t": t})).await,
        Correction::Decommission(t) => app.ok(BOOT, DECOMMISSION, json!({"v": c.vm, "t": t})).await,
    };
}

both_stores!(late_corrections_change_the_drift_never_the_invoice_in_every_order, async |app: &TestApp| {
    use Correction::*;
    prices(app).await;
    // (case, correction, recorded after the issue, net with the correction), by hand:
    // resize to 8 vCPU from 10 March: 7.30 + 4.38 + 32.30 + 4.85 + 19.25 + 5.77 = 73.85
    //   (the resize of 20 March to 4 vCPU still holds from then on);
    // resize to 8 vCPU from 25 March: 15.38 + 9.23 + 8.08 + 2.42 + 22.34 + 3.35 = 60.80;
    // move to B from 10 March: 7.30 + 4.38 + 8.08 + 14.54 + 19.25 + 17.32 = 70.87
    //   (the VM keeps 2 vCPU in B until the resize of 20 March);
    // move to B from 25 March: 15.38 + 9.23 + 8.08 + 2.42 + 11.17 + 10.05 = 56.33;
    // decommissioned from 10 March, before the recorded resize: 7.30 + 4.38 = 11.68;
    // decommissioned from 25 March: 15.38 + 9.23 + 8.08 + 2.42 = 35.11.
    let plan: [(&'static str, Correction, bool, &str); 12] = [
        ("resize before it, recorded before issue", Resize(BEFORE_IT), false, "73.85"),
        ("resize after it, recorded before issue", Resize(AFTER_IT), false, "60.80"),
        ("resize before it, recorded after issue", Resize(BEFORE_IT), true, "73.85"),
        ("resize after it, recorded after issue", Resize(AFTER_IT), true, "60.80"),
        ("move before it, recorded before issue", Move(BEFORE_IT), false, "70.87"),
        ("move after it, recorded before issue", Move(AFTER_IT), false, "56.33"),
        ("move before it, recorded after issue", Move(BEFORE_IT), true, "70.87"),
        ("move after it, recorded after issue", Move(AFTER_IT), true, "56.33"),
        ("decommission before it, recorded before issue", Decommission(BEFORE_IT), false, "11.68"),
        ("decommission after it, recorded before issue", Decommission(AFTER_IT), false, "35.11"),
        ("decommission before it, recorded after issue", Decommission(BEFORE_IT), true, "11.68"),
        ("decommission after it, recorded after issue", Decommission(AFTER_IT), true, "35.11"),
    ];
    let mut cases = vec![];
    for (name, correction, late, net) in plan {
        let c = case(app, name).await;
        if !late {
            correct(app, &c, correction).await;
        }
        cases.push((c, correction, late, net));
    }
    let billing = staff(app, "Bill", "BILLING").await;
    let run = app.ok(&billing, "mutation { runBilling(period: \"2026-03\") { id customerId net } }", json!({})).await;
    let issued = |customer: &str| -> String {
        let all = run["runBilling"].as_array().unwrap();
        s(&all.iter().find(|i| i["customerId"] == customer).unwrap_or_else(|| panic!("{customer} billed"))["net"])
    };
    let known_at_issue = chrono::Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    for (c, correction, late, _) in &cases {
        if *late {
            correct(app, c, *correction).await;
        }
    }

    let drift = app.ok(&billing, DRIFT, json!({"p": "2026-03"})).await["billingDrift"].clone();
    let drift_of = |customer: &str| -> Value {
        drift.as_array().unwrap().iter().find(|d| d["customerId"] == customer).cloned().unwrap_or(Value::Null)
    };
    for (c, _, late, net) in &cases {
        let (issued_net, difference) = match late {
            // Known at issue: the invoice bills it; nothing drifts.
            false => (net.to_string(), "0.00".to_owned()),
            // Recorded after: the invoice stays as issued (49.63); the drift shows the rest.
            true => {
                let diff = net.parse::<rust_decimal::Decimal>().unwrap() - rust_decimal::Decimal::new(4963, 2);
                ("49.63".to_owned(), diff.to_string())
            }
        };
        assert_eq!(issued(&c.customer), issued_net, "{}: the invoice", c.name);
        assert_eq!(
            drift_of(&c.customer),
            json!({"customerId": c.customer, "issuedNet": issued_net, "recomputedNet": net, "difference": difference}),
            "{}: the drift",
            c.name
        );
    }
    // The invoices did not change: a second run issues nothing and answers them as issued.
    let again = app.ok(&billing, "mutation { runBilling(period: \"2026-03\") { id customerId net } }", json!({})).await;
    assert_eq!(again, run);

    // As of the issue, the late corrections were not known; live, they are.
    let q = "query($v: ID!, $t: DateTime) { vm(id: $v, asOf: $t) { decommissionedAt configurations { from cpu projectId } } }";
    let (late_move, _, _, _) = &cases[6];
    let then = app.ok(BOOT, q, json!({"v": late_move.vm, "t": known_at_issue})).await["vm"].clone();
    let now = app.ok(BOOT, q, json!({"v": late_move.vm})).await["vm"].clone();
    let projects = |v: &Value| -> Vec<(i64, bool)> {
        v["configurations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["cpu"].as_i64().unwrap(), c["projectId"] == late_move.b))
            .collect()
    };
    assert_eq!(projects(&then), [(2, false), (4, false)], "as of the issue: A all month");
    assert_eq!(projects(&now), [(2, false), (2, true), (4, true)], "live: in B from 10 March, resized there");
    let (late_decommission, _, _, _) = &cases[10];
    let then = app.ok(BOOT, q, json!({"v": late_decommission.vm, "t": known_at_issue})).await["vm"].clone();
    assert_eq!(then["decommissionedAt"], Value::Null);
    let now = app.ok(BOOT, q, json!({"v": late_decommission.vm})).await["vm"].clone();
    assert_eq!(now["decommissionedAt"], "2026-03-10T00:00:00+00:00");
    assert_eq!(projects(&now), [(2, false)], "the resize of 20 March falls after the decommission: cut off");
});

both_stores!(
    a_decommission_is_corrected_earlier_or_later_and_changes_inside_its_life_stay_possible,
    async |app: &TestApp| {
        prices(app).await;
        // Decommissioned from 25 March (35.11 billed), corrected to 10 March after the issue: 11.68.
        let earlier = case(app, "corrected earlier").await;
        app.ok(BOOT, DECOMMISSION, json!({"v": earlier.vm, "t": AFTER_IT})).await;
        // Decommissioned from 10 March (11.68 billed), corrected to 25 March: 35.11 again.
        let later = case(app, "corrected later").await;
        app.ok(BOOT, DECOMMISSION, json!({"v": later.vm, "t": BEFORE_IT})).await;
        // Decommissioned from 25 March (35.11 billed); a resize to 8 vCPU effective 10 March,
        // recorded after both the decommission and the issue: 7.30 + 4.38 + 32.30 + 4.85 +
        // 8.08 + 2.42 = 59.33.
        let resized = case(app, "resized inside its life").await;
        app.ok(BOOT, DECOMMISSION, json!({"v": resized.vm, "t": AFTER_IT})).await;
        let billing = staff(app, "Bill", "BILLING").await;
        app.ok(&billing, "mutation { runBilling(period: \"2026-03\") { id } }", json!({})).await;

        app.ok(BOOT, DECOMMISSION, json!({"v": earlier.vm, "t": BEFORE_IT})).await;
        app.ok(BOOT, DECOMMISSION, json!({"v": later.vm, "t": AFTER_IT})).await;
        app.ok(BOOT, RESIZE, json!({"v": resized.vm, "c": 8, "t": BEFORE_IT})).await;

        // From the decommission on, and before provisioning, nothing changes; the log stays.
        let head = app.head().await;
        let refused = app.gql(BOOT, RESIZE, json!({"v": resized.vm, "c": 6, "t": AFTER_IT})).await;
        assert_eq!(refused["errors"][0]["extensions"]["code"], "RULE_VIOLATION", "{refused}");
        let message = refused["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("decommissioned effective 2026-03-25"), "{message}");
        let refused = app.gql(BOOT, DECOMMISSION, json!({"v": earlier.vm, "t": "2026-01-31T00:00:00Z"})).await;
        assert_eq!(refused["errors"][0]["extensions"]["code"], "RULE_VIOLATION", "{refused}");
        assert_eq!(app.head().await, head);

        let drift = app.ok(&billing, DRIFT, json!({"p": "2026-03"})).await["billingDrift"].clone();
        let of = |c: &Case| drift.as_array().unwrap().iter().find(|d| d["customerId"] == c.customer).cloned().unwrap();
        assert_eq!(
            of(&earlier),
            json!({"customerId": earlier.customer, "issuedNet": "35.11", "recomputedNet": "11.68", "difference": "-23.43"})
        );
        assert_eq!(
            of(&later),
            json!({"customerId": later.customer, "issuedNet": "11.68", "recomputedNet": "35.11", "difference": "23.43"})
        );
        assert_eq!(
            of(&resized),
            json!({"customerId": resized.customer, "issuedNet": "35.11", "recomputedNet": "59.33", "difference": "24.22"})
        );
    }
);

both_stores!(effective_instants_beyond_the_horizon_are_bad_input_naming_the_bound, async |app: &TestApp| {
    prices(app).await;
    let c = case(app, "far future").await;
    let head = app.head().await;
    for (query, vars) in [
        (RESIZE, json!({"v": c.vm, "c": 8, "t": "9999-01-01T00:00:00Z"})),
        (DECOMMISSION, json!({"v": c.vm, "t": "9999-01-01T00:00:00Z"})),
        (MOVE, json!({"v": c.vm, "p": c.b, "t": "2100-01-01T00:00:00Z"})),
        (
            "mutation($p: ID!) { changeSlaClass(projectId: $p, slaClass: BASIC, effectiveAt: \"9999-12-31T00:00:00Z\") { id } }",
            json!({"p": c.b}),
        ),
        (
            "mutation($c: ID!) { closeCustomer(customerId: $c, effectiveAt: \"3000-01-01T00:00:00Z\") { id } }",
            json!({"c": c.customer}),
        ),
    ] {
        let answer = app.gql(BOOT, query, vars).await;
        assert_eq!(answer["errors"][0]["extensions"]["code"], "BAD_INPUT", "{answer}");
        let message = answer["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("must be at most 365 days ahead, so not after "), "{message}");
    }
    assert_eq!(app.head().await, head, "nothing appended");
    // Within the horizon, a planned change is fine.
    let soon = (chrono::Utc::now() + chrono::Duration::days(300)).to_rfc3339();
    app.ok(BOOT, RESIZE, json!({"v": c.vm, "c": 8, "t": soon})).await;
});
