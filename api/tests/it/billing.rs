//! The billing run, cancellations, drift and the exact cents, against both stores.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::flows::{PROVISION, customer, project, s, staff, world};
use crate::helpers::{BOOT, TestApp, both_stores};

const PUBLISH: &str = "mutation($i: PublishPriceListInput!) { publishPriceList(input: $i) { position } }";
const RUN: &str = "mutation($p: String!) { runBilling(period: $p) { id number kind customerId period net vatRate vat gross note cancelled projects { projectName path subtotal lines { subject component from to units unitPrice amount provenance } } changes } }";
const CANCEL: &str = "mutation($i: ID!, $r: String!) { cancelInvoice(invoiceId: $i, reason: $r) { id number kind net gross refersTo refersToNumber projects { subtotal lines { amount } } } }";
const DRIFT: &str = "query($p: String!) { billingDrift(period: $p) { invoiceId issuedNet recomputedNet difference } }";

async fn prices(app: &TestApp, billing: &str) -> i64 {
    let input = json!({"i": {"validFrom": "2026-01-01T00:00:00+01:00", "vcpu": "12.50", "ramGb": "3.20", "diskGb": "0.045", "backupGb": "0.02", "monitor": "1.50", "slaBasic": "0", "slaStandard": "15", "slaPremium": "45"}});
    app.ok(billing, PUBLISH, input).await["publishPriceList"]["position"].as_i64().unwrap()
}

/// A VM resized mid-March, a backup of 10 GB from 10 March, a monitor from 1 March.
async fn march(app: &TestApp, project: &str) -> String {
    let vm = json!({"i": {"projectId": project, "name": "web-1", "location": "fsn1", "cpu": 2, "ramGb": 4, "diskGb": 40, "effectiveAt": "2026-02-01T00:00:00Z"}});
    let id = s(&app.ok(BOOT, PROVISION, vm).await["provisionVm"]["id"]);
    let resize = "mutation($v: ID!, $t: DateTime!) { resizeVm(vmId: $v, cpu: 4, ramGb: 8, diskGb: 40, effectiveAt: $t) { cpu } }";
    app.ok(BOOT, resize, json!({"v": id, "t": "2026-03-15T23:00:00Z"})).await;
    let backup = "mutation($i: RecordBackupInput!) { recordBackup(input: $i) { backupId } }";
    let b = json!({"i": {"vmId": id, "backupId": "b-1", "status": "SUCCEEDED", "startedAt": "2026-03-09T23:30:00Z", "finishedAt": "2026-03-10T00:00:00Z", "sizeBytes": 10_000_000_000i64}});
    app.ok(BOOT, backup, b).await;
    let monitor = "mutation($i: CreateHttpMonitorInput!) { createHttpMonitor(input: $i) { id } }";
    let m = json!({"i": {"projectId": project, "url": "https://shop.example.com/", "followRedirects": false, "expectedStatus": "200", "effectiveAt": "2026-03-01T00:00:00Z"}});
    app.ok(BOOT, monitor, m).await;
    id
}

both_stores!(a_run_bills_every_cent_by_the_rules_once, async |app: &TestApp| {
    let w = world(app).await;
    let billing = staff(app, "Bea", "BILLING").await;
    let list = prices(app, &billing).await;
    let vm = march(app, &w.acme_root).await;

    let preview = "query($c: ID!, $p: String!) { billingPreview(customerId: $c, period: $p) { net gross projects { lines { amount } } } }";
    let before = app.ok(&w.acme_token, preview, json!({"c": w.acme, "p": "2026-03"})).await["billingPreview"].clone();
    assert_eq!(
        (before["net"].clone(), before["gross"].clone()),
        (json!("75.72"), json!("90.11")),
        "the preview is the run's computation"
    );
    let head = app.head().await;
    let run = app.ok(&billing, RUN, json!({"p": "2026-03"})).await["runBilling"].clone();
    assert!(app.head().await > head, "the run issues; the preview did not");
    assert_eq!(run.as_array().unwrap().len(), 1, "Globex has nothing to bill: {run}");
    let invoice = run[0].clone();
    assert_eq!(invoice["number"], "RE-2026-00001");
    assert_eq!((invoice["kind"].clone(), invoice["period"].clone()), (json!("INVOICE"), json!("2026-03")));
    assert_eq!(
        (invoice["net"].clone(), invoice["vatRate"].clone(), invoice["vat"].clone(), invoice["gross"].clone()),
        (json!("75.72"), json!("0.19"), json!("14.39"), json!("90.11"))
    );
    assert_eq!(invoice["note"], Value::Null, "German VAT, no reverse charge");
    let group = &invoice["projects"][0];
    assert_eq!((group["path"].clone(), group["subtotal"].clone()), (json!(["Shop"]), json!("75.72")));
    let lines: Vec<(String, String, String)> = group["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (s(&l["subject"]), s(&l["component"]), s(&l["amount"])))
        .collect();
    let expected = [
        ("https://shop.example.com/", "Monitor", "1.50"),
        ("web-1", "Backup GB", "0.14"),
        ("web-1", "Disk GB", "0.87"),
        ("web-1", "Disk GB", "0.93"),
        ("web-1", "RAM GB", "6.20"),
        ("web-1", "RAM GB", "13.20"),
        ("web-1", "SLA standard", "7.27"),
        ("web-1", "SLA standard", "7.73"),
        ("web-1", "vCPU", "12.11"),
        ("web-1", "vCPU", "25.77"),
    ];
    assert_eq!(lines, expected.map(|(a, b, c)| (a.to_owned(), b.to_owned(), c.to_owned())));
    let cpu = &group["lines"][8];
    assert_eq!(
        (cpu["from"].clone(), cpu["to"].clone(), cpu["units"].clone(), cpu["unitPrice"].clone()),
        (json!("2026-02-28T23:00:00+00:00"), json!("2026-03-15T23:00:00+00:00"), json!("2"), json!("12.50")),
        "the period starts at midnight in Berlin; the resize splits the line"
    );
    assert!(cpu["provenance"].as_array().unwrap().contains(&json!(list)), "the price list is cited: {cpu}");
    let history = "query($e: ID!) { history(entityId: $e) { position } }";
    let vm_events: Vec<Value> = app.ok(BOOT, history, json!({"e": vm})).await["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h.get("position").cloned())
        .collect();
    for p in &vm_events[..2] {
        assert!(cpu["provenance"].as_array().unwrap().contains(p), "the VM's events are cited: {cpu}");
    }
    assert!(
        invoice["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c.as_str().unwrap().starts_with("VM web-1 resized on 16.03.2026"))
    );

    // Idempotent: a second run issues nothing.
    let head = app.head().await;
    let again = app.ok(&billing, RUN, json!({"p": "2026-03"})).await["runBilling"].clone();
    assert_eq!(again[0]["id"], invoice["id"]);
    assert_eq!(app.head().await, head, "nothing appended");

    // A late correction changes nothing issued, and shows as drift.
    let resize = "mutation($v: ID!) { resizeVm(vmId: $v, cpu: 8, ramGb: 8, diskGb: 40, effectiveAt: \"2026-03-25T00:00:00Z\") { cpu } }";
    app.ok(BOOT, resize, json!({"v": vm})).await;
    let drift = app.ok(&billing, DRIFT, json!({"p": "2026-03"})).await["billingDrift"].clone();
    assert_eq!(drift[0]["issuedNet"], "75.72");
    assert_ne!(drift[0]["difference"], "0.00", "{drift}");
    let q = "query($i: ID!) { invoice(id: $i) { net number cancelled } }";
    assert_eq!(
        app.ok(&w.acme_token, q, json!({"i": invoice["id"]})).await["invoice"],
        json!({"net": "75.72", "number": "RE-2026-00001", "cancelled": false})
    );

    // Cancelled only by a cancellation invoice; then the next run issues a new one.
    let st =
        app.ok(&billing, CANCEL, json!({"i": invoice["id"], "r": "wrong configuration billed"})).await["cancelInvoice"]
            .clone();
    assert_eq!((st["number"].clone(), st["kind"].clone()), (json!("ST-2026-00001"), json!("CANCELLATION")));
    assert_eq!((st["net"].clone(), st["gross"].clone()), (json!("-75.72"), json!("-90.11")));
    assert_eq!((st["refersTo"].clone(), st["refersToNumber"].clone()), (invoice["id"].clone(), json!("RE-2026-00001")));
    assert_eq!(st["projects"][0]["subtotal"], "-75.72");
    assert_eq!(app.code(&billing, CANCEL, json!({"i": invoice["id"], "r": "again"})).await, "CONFLICT");
    assert_eq!(app.code(&billing, CANCEL, json!({"i": st["id"], "r": "x"})).await, "RULE_VIOLATION");
    assert_eq!(
        app.code(&billing, CANCEL, json!({"i": "00000000-0000-0000-0000-000000000001", "r": "x"})).await,
        "NOT_FOUND"
    );
    let rerun = app.ok(&billing, RUN, json!({"p": "2026-03"})).await["runBilling"].clone();
    assert_eq!(rerun[0]["number"], "RE-2026-00002");
    assert_eq!(rerun[0]["net"], drift[0]["recomputedNet"], "computed from the log as it stands");
    assert_eq!(app.ok(&billing, DRIFT, json!({"p": "2026-03"})).await["billingDrift"][0]["difference"], "0.00");

    let mine = "query($c: ID!) { invoices(customerId: $c) { number kind cancelled } }";
    let listed = app.ok(&w.acme_token, mine, json!({"c": w.acme})).await["invoices"].clone();
    assert_eq!(listed.as_array().unwrap().len(), 3);
    let numbers: BTreeMap<String, bool> =
        listed.as_array().unwrap().iter().map(|i| (s(&i["number"]), i["cancelled"].as_bool().unwrap())).collect();
    assert_eq!(
        numbers,
        BTreeMap::from([
            ("RE-2026-00001".into(), true),
            ("RE-2026-00002".into(), false),
            ("ST-2026-00001".into(), false)
        ])
    );
    let globex = crate::flows::person(app, Some(&w.globex), "Gus").await.1;
    assert_eq!(app.ok(&globex, mine, json!({"c": w.acme})).await["invoices"], json!([]), "another customer's invoices");
    assert_eq!(app.code(&w.acme_token, RUN, json!({"p": "2026-03"})).await, "FORBIDDEN");
});

both_stores!(bad_periods_are_refused_and_append_nothing, async |app: &TestApp| {
    let billing = staff(app, "Bea", "BILLING").await;
    let head = app.head().await;
    for bad in ["2026-13", "april", "2026-3", ""] {
        assert_eq!(app.code(&billing, RUN, json!({"p": bad})).await, "BAD_INPUT", "{bad:?}");
        assert_eq!(app.code(&billing, DRIFT, json!({"p": bad})).await, "BAD_INPUT", "{bad:?}");
    }
    assert_eq!(app.code(&billing, RUN, json!({"p": "2099-01"})).await, "RULE_VIOLATION", "a period in the future");
    assert_eq!(app.head().await, head);
});

both_stores!(concurrent_runs_number_gaplessly_and_bill_each_customer_once, async |app: &TestApp| {
    let billing = staff(app, "Bea", "BILLING").await;
    prices(app, &billing).await;
    for n in 0..6 {
        let c = customer(app, &format!("Customer {n}"), "DE").await;
        let p = project(app, &c, None, "Main").await;
        let vm = json!({"i": {"projectId": p, "name": "vm", "location": "fsn1", "cpu": 1, "ramGb": 1, "diskGb": 10, "effectiveAt": "2026-01-01T00:00:00Z"}});
        app.ok(BOOT, PROVISION, vm).await;
    }
    let runs = futures::future::join_all((0..3).map(|_| app.gql(&billing, RUN, json!({"p": "2026-03"})))).await;
    for r in &runs {
        assert!(r.get("errors").is_none(), "{r}");
    }
    let numbers: Vec<String> =
        runs[0]["data"]["runBilling"].as_array().unwrap().iter().map(|i| s(&i["number"])).collect();
    let mut sorted = numbers.clone();
    sorted.sort();
    assert_eq!(sorted, (1..=6).map(|n| format!("RE-2026-{n:05}")).collect::<Vec<_>>(), "gapless, none doubled");
    let q = "{ events(first: 1000) { eventType } }";
    let issued = app.ok(BOOT, q, json!({})).await["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["eventType"] == "InvoiceIssued")
        .count();
    assert_eq!(issued, 6, "each customer billed once");
});

#[test]
fn the_scheduled_run_bills_the_previous_month_from_the_1st_at_6_berlin_time() {
    use domain::billing_run::{next_schedule, scheduled_period};
    let t = |s: &str| s.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
    // 1 April 06:00 in Berlin is 04:00Z (summer time); 1 March 06:00 is 05:00Z.
    assert_eq!(scheduled_period(t("2026-04-01T03:59:59Z")).to_string(), "2026-02");
    assert_eq!(scheduled_period(t("2026-04-01T04:00:00Z")).to_string(), "2026-03");
    assert_eq!(scheduled_period(t("2026-03-01T04:59:59Z")).to_string(), "2026-01");
    assert_eq!(scheduled_period(t("2026-03-01T05:00:00Z")).to_string(), "2026-02");
    assert_eq!(scheduled_period(t("2027-01-01T05:00:00Z")).to_string(), "2026-12");
    assert_eq!(next_schedule(t("2026-03-15T12:00:00Z")), t("2026-04-01T04:00:00Z"));
    assert_eq!(next_schedule(t("2026-04-01T03:00:00Z")), t("2026-04-01T04:00:00Z"));
    assert_eq!(next_schedule(t("2026-10-02T00:00:00Z")), t("2026-11-01T05:00:00Z"), "back to winter time");
}

both_stores!(a_missed_scheduled_run_happens_at_start_once, async |app: &TestApp| {
    let w = world(app).await;
    let billing = staff(app, "Bea", "BILLING").await;
    prices(app, &billing).await;
    march(app, &w.acme_root).await;
    let due = "2026-04-03T09:00:00Z".parse().unwrap();
    let first = app::billing::run_scheduled(&app.state, due).await.unwrap();
    assert_eq!(periods(&first), ["2026-03"], "the first run ever bills the month due only");
    let head = app.head().await;
    assert_eq!(app::billing::run_scheduled(&app.state, due).await.unwrap(), vec![], "completed: not again");
    assert_eq!(app.head().await, head);
    let q = "query($c: ID!) { invoices(customerId: $c) { number period } }";
    assert_eq!(
        app.ok(BOOT, q, json!({"c": w.acme})).await["invoices"],
        json!([{"number": "RE-2026-00001", "period": "2026-03"}])
    );
    let runs = "{ events(first: 1000) { eventType actor } }";
    let events = app.ok(BOOT, runs, json!({})).await["events"].clone();
    let run_events: Vec<&Value> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["eventType"].as_str().unwrap().starts_with("BillingRun"))
        .collect();
    assert_eq!(run_events.len(), 2, "started and completed: {run_events:?}");
    assert_eq!(run_events[0]["actor"], "system:billing-scheduler");
});

fn periods(billed: &[domain::Period]) -> Vec<String> {
    billed.iter().map(ToString::to_string).collect()
}

both_stores!(months_missed_while_the_server_was_stopped_are_billed_once_each_oldest_first, async |app: &TestApp| {
    let w = world(app).await;
    let billing = staff(app, "Bea", "BILLING").await;
    prices(app, &billing).await;
    march(app, &w.acme_root).await;
    let t = |s: &str| s.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
    // Running in February: January is billed (nothing to bill yet, but the run is recorded).
    let billed = app::billing::run_scheduled(&app.state, t("2026-02-03T09:00:00Z")).await.unwrap();
    assert_eq!(periods(&billed), ["2026-01"]);
    // Stopped, and started again after the clock crossed 1 March, 1 April and 1 May.
    let billed = app::billing::run_scheduled(&app.state, t("2026-05-15T09:00:00Z")).await.unwrap();
    assert_eq!(periods(&billed), ["2026-02", "2026-03", "2026-04"], "every missed month, oldest first");
    let head = app.head().await;
    let again = app::billing::run_scheduled(&app.state, t("2026-05-15T10:00:00Z")).await.unwrap();
    assert_eq!(again, vec![], "each month once");
    assert_eq!(app.head().await, head);

    let q = "query($c: ID!) { invoices(customerId: $c) { number period } }";
    let mut invoices: Vec<(String, String)> = app.ok(BOOT, q, json!({"c": w.acme})).await["invoices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (s(&i["period"]), s(&i["number"])))
        .collect();
    invoices.sort();
    assert_eq!(
        invoices,
        [("2026-02", "RE-2026-00001"), ("2026-03", "RE-2026-00002"), ("2026-04", "RE-2026-00003")]
            .map(|(p, n)| (p.to_owned(), n.to_owned())),
        "numbered in the order the months were billed"
    );
    // Each month its own run record: started and completed, in order.
    let events = app.ok(BOOT, "{ events(first: 1000) { eventType summary } }", json!({})).await["events"].clone();
    let runs: Vec<String> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["eventType"].as_str().unwrap().starts_with("BillingRun"))
        .map(|e| format!("{} {}", s(&e["eventType"]), s(&e["summary"])))
        .collect();
    assert_eq!(runs.len(), 8, "{runs:#?}");
    let started: Vec<&String> = runs.iter().filter(|r| r.starts_with("BillingRunStarted")).collect();
    for (run, period) in started.iter().zip(["2026-01", "2026-02", "2026-03", "2026-04"]) {
        assert!(run.contains(period), "{run} should be the run of {period}");
    }
});

both_stores!(issued_invoices_are_german_pdfs_with_every_mandatory_content, async |app: &TestApp| {
    use crate::helpers::pdftotext;
    let w = world(app).await;
    let address = "mutation($c: ID!, $a: String!) { changeBillingAddress(customerId: $c, billingAddress: $a) { id } }";
    app.ok(BOOT, address, json!({"c": w.acme, "a": "Hauptstraße 5\n10115 Berlin"})).await;
    let billing = staff(app, "Bea", "BILLING").await;
    prices(app, &billing).await;
    march(app, &w.acme_root).await;
    let run = app.ok(&billing, RUN, json!({"p": "2026-03"})).await["runBilling"].clone();
    let id = s(&run[0]["id"]);
    let path = format!("/invoices/{id}.pdf");
    let (status, kind, pdf) = app.get_as(Some(&w.acme_token), &path).await;
    assert_eq!((status.as_u16(), kind.as_str()), (200, "application/pdf"));
    assert!(pdf.starts_with(b"%PDF-1.7"));
    // A hybrid invoice: PDF/A-3b carrying its Factur-X XML, in fonts subset to what it shows.
    assert!(pdf.len() < 100 * 1024, "a one-page invoice is {} bytes", pdf.len());
    let warnings = crate::helpers::validate_hybrid(&pdf).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("hybrid invoice, {} bytes, {} warnings: {warnings:#?}", pdf.len(), warnings.len());
    let fonts = crate::helpers::pdf_tool("pdffonts", &[], &pdf);
    let subsets: Vec<&str> = fonts.lines().filter(|l| l.contains("+DejaVuSans")).collect();
    assert_eq!(subsets.len(), 2, "{fonts}");
    for font in subsets {
        // name, type "CID TrueType", encoding "Identity-H", then emb, sub and uni: all yes.
        let columns: Vec<&str> = font.split_whitespace().collect();
        assert_eq!(&columns[columns.len() - 5..columns.len() - 2], ["yes", "yes", "yes"], "{fonts}");
    }
    let named = app.header_of(&w.acme_token, &path, "content-disposition").await;
    assert_eq!(named, r#"inline; filename="RE-2026-00001.pdf""#, "saved under its number");
    let named = app.header_of(&w.acme_token, &format!("/invoices/{id}.xml"), "content-disposition").await;
    assert_eq!(named, r#"inline; filename="RE-2026-00001.xml""#);
    let structure = crate::helpers::pdf_tool("qpdf", &["--check"], &pdf);
    assert!(structure.contains("No syntax or stream encoding errors found"), "{structure}");
    let attached = crate::helpers::pdf_tool("pdfdetach", &["-list"], &pdf);
    assert!(attached.contains("1 embedded files") && attached.contains("factur-x.xml"), "{attached}");
    let text = pdftotext(&pdf);
    for expected in [
        "Rechnung RE-2026-00001",
        "Acme GmbH",
        "Hauptstraße 5",
        "10115 Berlin",
        "Directory Hosting GmbH",
        "Unsere USt-IdNr.",
        "DE123456789",
        "Leistungszeitraum",
        "01.03.2026–31.03.2026",
        "Shop",
        "web-1 · vCPU",
        "01.03.–15.03.2026",
        "12,50 €",
        "12,11 €",
        "Summe Shop",
        "Nettobetrag",
        "75,72 €",
        "Umsatzsteuer 19 %",
        "14,39 €",
        "Bruttobetrag",
        "90,11 €",
        "Zahlbar ohne Abzug bis zum",
        "Seite 1 von 1",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from:\n{text}");
    }
    let (_, _, again) = app.get_as(Some(&w.acme_token), &path).await;
    assert_eq!(pdf, again, "the same invoice gives the same bytes");
    assert_eq!(app.get_as(None, &path).await.0.as_u16(), 401);
    let globex = crate::flows::person(app, Some(&w.globex), "Gus").await.1;
    assert_eq!(app.get_as(Some(&globex), &path).await.0.as_u16(), 404, "another customer's invoice");
    assert_eq!(app.get_as(Some(&billing), "/invoices/nope.pdf").await.0.as_u16(), 404);

    let st = app.ok(&billing, CANCEL, json!({"i": id, "r": "wrong address"})).await["cancelInvoice"].clone();
    let (status, _, st_pdf) = app.get_as(Some(&billing), &format!("/invoices/{}.pdf", s(&st["id"]))).await;
    assert_eq!(status.as_u16(), 200);
    let st_text = pdftotext(&st_pdf);
    assert!(st_text.contains("Stornorechnung ST-2026-00001"), "{st_text}");
    assert!(st_text.contains("storniert die Rechnung RE-2026-00001 vom"), "{st_text}");
    assert!(st_text.contains("-90,11 €"), "{st_text}");
});

both_stores!(issued_invoices_pass_the_en16931_and_xrechnung_rules, async |app: &TestApp| {
    use crate::helpers::validate_cii;
    let w = world(app).await;
    let billing = staff(app, "Bea", "BILLING").await;
    prices(app, &billing).await;
    march(app, &w.acme_root).await;
    let register = async |input: Value| {
        let query = "mutation($i: RegisterCustomerInput!) { registerCustomer(input: $i) { id } }";
        let id = s(&app.ok(BOOT, query, json!({"i": input})).await["registerCustomer"]["id"]);
        let project = project(app, &id, None, "Web").await;
        march(app, &project).await;
    };
    // An EU business with a VAT id (reverse charge), and a customer outside the EU.
    register(json!({"name": "Tulip B.V.", "country": "NL", "vatId": "NL123456789B01", "billingAddress": "Damrak 1\n1012 LG Amsterdam"})).await;
    register(json!({"name": "Matterhorn AG", "country": "CH", "billingAddress": "Bahnhofstrasse 1\n8001 Zürich"}))
        .await;
    let run = app.ok(&billing, RUN, json!({"p": "2026-03"})).await["runBilling"].clone();
    assert_eq!(run.as_array().unwrap().len(), 3);
    let mut checked = vec![];
    let mut check = async |id: &str| {
        let (status, kind, xml) = app.get_as(Some(&billing), &format!("/invoices/{id}.xml")).await;
        assert_eq!((status.as_u16(), kind.as_str()), (200, "application/xml; charset=utf-8"));
        let warnings = validate_cii(&xml).unwrap_or_else(|e| panic!("{e}\n{}", String::from_utf8_lossy(&xml)));
        let text = String::from_utf8(xml).unwrap();
        eprintln!("{id}: {} warnings: {warnings:#?}", warnings.len());
        checked.push(text.clone());
        text
    };
    for invoice in run.as_array().unwrap() {
        let text = check(&s(&invoice["id"])).await;
        assert!(text.contains(&format!("<ram:ID>{}</ram:ID>", s(&invoice["number"]))));
        assert!(text.contains(&format!("<ram:GrandTotalAmount>{}</ram:GrandTotalAmount>", s(&invoice["gross"]))));
        assert!(text.contains("urn:xeinkauf.de:kosit:xrechnung_3.0"));
        assert!(text.contains(r#"<ram:BilledQuantity unitCode="E34">8</ram:BilledQuantity>"#), "8 GB of RAM: {text}");
    }
    let by_note = |note: Value| run.as_array().unwrap().iter().find(|i| i["note"] == note).unwrap().clone();
    let reverse = by_note(json!("Reverse charge"));
    let text = check(&s(&reverse["id"])).await;
    assert!(text.contains("<ram:CategoryCode>AE</ram:CategoryCode>") && text.contains("NL123456789B01"), "{text}");
    let zero_vat = |i: &&Value| s(&i["vat"]).parse::<rust_decimal::Decimal>().unwrap().is_zero();
    let outside =
        run.as_array().unwrap().iter().filter(zero_vat).find(|i| i["note"].is_null()).expect("Matterhorn's invoice");
    let text = check(&s(&outside["id"])).await;
    assert!(text.contains("<ram:CategoryCode>O</ram:CategoryCode>") && text.contains("Matterhorn AG"), "{text}");
    let (_, _, pdf) = app.get_as(Some(&billing), &format!("/invoices/{}.pdf", s(&reverse["id"]))).await;
    let pdf_text = crate::helpers::pdftotext(&pdf);
    for expected in [
        "Steuerschuldnerschaft des Leistungsempfängers (Reverse charge, § 13b UStG)",
        "USt-IdNr.: NL123456789B01",
        "Umsatzsteuer 0 %",
        "Tulip B.V.",
        "1012 LG Amsterdam",
    ] {
        assert!(pdf_text.contains(expected), "{expected:?} missing from:\n{pdf_text}");
    }

    let st =
        app.ok(&billing, CANCEL, json!({"i": reverse["id"], "r": "wrong customer"})).await["cancelInvoice"].clone();
    let text = check(&s(&st["id"])).await;
    assert!(text.contains("<ram:TypeCode>381</ram:TypeCode>"), "a credit note");
    assert!(
        text.contains(&format!("<ram:IssuerAssignedID>{}</ram:IssuerAssignedID>", s(&reverse["number"]))),
        "refers to the original"
    );
    // Every line multiplies out: quantity × price, rounded half-up to cents, is its amount.
    let mut lines = 0;
    for text in &checked {
        for item in text.split("<ram:IncludedSupplyChainTradeLineItem>").skip(1) {
            let between = |open: &str, close: &str| -> String {
                let from = item.find(open).unwrap_or_else(|| panic!("{open} in {item}")) + open.len();
                item[from..from + item[from..].find(close).unwrap()].to_owned()
            };
            let quantity: rust_decimal::Decimal =
                between("<ram:BilledQuantity unitCode=\"", "</").split_once("\">").unwrap().1.parse().unwrap();
            let unit = between("<ram:BilledQuantity unitCode=\"", "\"");
            let price: rust_decimal::Decimal = between("<ram:ChargeAmount>", "<").parse().unwrap();
            let total: rust_decimal::Decimal = between("<ram:LineTotalAmount>", "<").parse().unwrap();
            assert_eq!(domain::invoice::cents(quantity * price), total, "{item}");
            assert!(["C62", "E34"].contains(&unit.as_str()), "{unit}");
            lines += 1;
        }
    }
    assert!(lines >= 20, "{lines} lines checked");
});

/// A DATEV EXTF file checked against the format's rules, as the import would read it:
/// Windows-1252 bytes with Windows line ends; a header line of 31 fields naming the format;
/// a line of unique column names; records of exactly as many fields, each filled one of
/// the kind and length `rules` gives for its column and every other one empty. Answers the
/// records, each by column name.
fn extf(
    bytes: &[u8],
    category: u32,
    name: &str,
    version: u32,
    columns: usize,
    rules: &[(&str, &str, usize)],
) -> Vec<BTreeMap<String, String>> {
    const UNDEFINED: [u8; 5] = [0x81, 0x8d, 0x8f, 0x90, 0x9d];
    assert!(!bytes.iter().any(|b| UNDEFINED.contains(b)), "only bytes Windows-1252 defines");
    assert!(std::str::from_utf8(bytes).is_err() || bytes.is_ascii(), "Windows-1252, not UTF-8");
    // Windows-1252 agrees with Latin-1 on every byte the records may hold but € and dashes.
    let text: String = bytes.iter().map(|b| char::from(*b)).collect();
    assert!(text.ends_with("\r\n") && !text.replace("\r\n", "").contains('\n'), "Windows line ends only");
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    let header: Vec<&str> = lines[0].split(';').collect();
    assert_eq!(header.len(), 31, "the header line: {}", lines[0]);
    assert_eq!(&header[..5], ["\"EXTF\"", "700", &category.to_string(), &format!("\"{name}\""), &version.to_string()]);
    assert!(header[5].len() == 17 && header[5].bytes().all(|b| b.is_ascii_digit()), "created: {}", header[5]);
    assert!((1001..=9_999_999).contains(&header[10].parse::<u32>().unwrap()), "consultant");
    assert!((1..=99_999).contains(&header[11].parse::<u32>().unwrap()), "client");
    assert!(header[12].len() == 8 && header[12].ends_with("0101"), "fiscal year: {}", header[12]);
    assert!((4..=8).contains(&header[13].parse::<u32>().unwrap()), "ledger account length");
    let names: Vec<&str> = lines[1].split(';').collect();
    assert_eq!(names.len(), columns, "every column of the format");
    assert_eq!(names.iter().collect::<std::collections::BTreeSet<_>>().len(), columns, "no column twice");
    let mut records = vec![];
    for line in &lines[2..] {
        let fields: Vec<&str> = line.split(';').collect();
        assert_eq!(fields.len(), columns, "a field for every column: {line}");
        let mut record = BTreeMap::new();
        for (column, field) in names.iter().zip(&fields) {
            let Some((_, kind, max)) = rules.iter().find(|(n, _, _)| n == column) else {
                assert!(field.is_empty() || *field == "\"\"", "{column} is not filled: {field:?}");
                continue;
            };
            let value = match *kind {
                // A text column this record has nothing for (a German customer's EU VAT id).
                "text" if field.is_empty() => String::new(),
                "text" => {
                    assert!(
                        field.len() >= 2 && field.starts_with('"') && field.ends_with('"'),
                        "{column} is quoted text: {field}"
                    );
                    let inner = &field[1..field.len() - 1];
                    assert!(!inner.contains('"'), "{column}: {field}");
                    inner.to_owned()
                }
                "amount" => {
                    let (units, cents) = field.split_once(',').expect("a decimal comma");
                    assert!(
                        !units.is_empty() && units.len() <= 10 && units.bytes().all(|b| b.is_ascii_digit()),
                        "{column}: {field}"
                    );
                    assert!(cents.len() == 2 && cents.bytes().all(|b| b.is_ascii_digit()), "{column}: {field}");
                    (*field).to_owned()
                }
                "digits" => {
                    assert!(field.bytes().all(|b| b.is_ascii_digit()), "{column} is a number: {field}");
                    (*field).to_owned()
                }
                other => panic!("no kind {other}"),
            };
            assert!(value.chars().count() <= *max, "{column} holds {max} characters at most: {value:?}");
            record.insert((*column).to_owned(), value);
        }
        records.push(record);
    }
    records
}

both_stores!(the_accounting_export_books_each_document_once_on_the_customers_own_accounts, async |app: &TestApp| {
    let w = world(app).await;
    let billing = staff(app, "Bea", "BILLING").await;
    prices(app, &billing).await;
    march(app, &w.acme_root).await;
    let run = app.ok(&billing, RUN, json!({"p": "2026-03"})).await["runBilling"].clone();
    app.ok(&billing, CANCEL, json!({"i": run[0]["id"], "r": "wrong address"})).await;
    app.ok(&billing, RUN, json!({"p": "2026-03"})).await;
    let period = "2026-03".parse().unwrap();
    let accounts = app::export::Accounts::default();
    let first = app::export::export(&app.state, period, &accounts, app.state.now()).await.unwrap();
    assert_eq!((first.documents, first.newly_exported), (3, 3));
    let booking_rules = [
        ("Umsatz (ohne Soll/Haben-Kz)", "amount", 13),
        ("Soll/Haben-Kennzeichen", "text", 1),
        ("WKZ Umsatz", "text", 3),
        ("Konto", "digits", 5),
        ("Gegenkonto (ohne BU-Schlüssel)", "digits", 4),
        ("Belegdatum", "digits", 4),
        ("Belegfeld 1", "text", 36),
        ("Buchungstext", "text", 60),
    ];
    let bookings = extf(&first.batch, 21, "Buchungsstapel", 13, 125, &booking_rules);
    assert!(String::from_utf8_lossy(&first.batch).contains(";20260301;20260331;"), "the period");
    assert_eq!(bookings.len(), 3, "two invoices and one cancellation");
    let field = |r: &BTreeMap<String, String>, c: &str| r.get(c).cloned().unwrap_or_default();
    assert_eq!(field(&bookings[0], "Umsatz (ohne Soll/Haben-Kz)"), "90,11");
    assert_eq!(field(&bookings[0], "Soll/Haben-Kennzeichen"), "S");
    assert_eq!(field(&bookings[0], "Belegfeld 1"), "RE-2026-00001");
    assert_eq!(field(&bookings[0], "Gegenkonto (ohne BU-Schlüssel)"), "8400");
    assert_eq!(field(&bookings[2], "Soll/Haben-Kennzeichen"), "H", "the cancellation on the credit side");
    assert_eq!(field(&bookings[2], "Belegfeld 1"), "ST-2026-00001");
    assert_eq!(field(&bookings[2], "Buchungstext"), "Storno zu RE-2026-00001 2026-03 Acme GmbH");

    let master_rules = [
        ("Konto", "digits", 5),
        ("Name (Adressattyp Unternehmen)", "text", 50),
        ("Adressattyp", "text", 1),
        ("Kurzbezeichnung", "text", 15),
        ("EU-Land", "text", 2),
        ("EU-UStID", "text", 13),
        ("Adressart", "text", 3),
        ("Straße", "text", 36),
        ("Postleitzahl", "text", 10),
        ("Ort", "text", 30),
        ("Land", "text", 2),
        ("Kunden-/Lief.-Nr.", "text", 15),
        ("Sprache", "digits", 1),
        ("Fälligkeit in Tagen (Debitor)", "digits", 3),
        ("Nummer Fremdsystem", "text", 15),
    ];
    let customers = extf(&first.master_data, 16, "Debitoren/Kreditoren", 5, 254, &master_rules);
    let by_name = |records: &[BTreeMap<String, String>], name: &str| {
        records
            .iter()
            .find(|r| field(r, "Name (Adressattyp Unternehmen)") == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name}: {records:#?}"))
    };
    let acme = by_name(&customers, "Acme GmbH");
    let acme_account = field(&acme, "Konto");
    assert_eq!(field(&bookings[0], "Konto"), acme_account, "Acme's bookings land on Acme's account");
    assert_eq!(field(&bookings[2], "Konto"), acme_account);
    assert_eq!((field(&acme, "Postleitzahl").as_str(), field(&acme, "Ort").as_str()), ("10115", "Berlin"));
    assert_eq!(field(&acme, "Fälligkeit in Tagen (Debitor)"), "14");
    let accounts_given: Vec<u32> = customers.iter().map(|r| field(r, "Konto").parse().unwrap()).collect();
    assert_eq!(
        accounts_given,
        (10000..10000 + customers.len() as u32).collect::<Vec<_>>(),
        "from the range's start, in order"
    );

    let head = app.head().await;
    let again = app::export::export(&app.state, period, &accounts, app.state.now()).await.unwrap();
    assert_eq!(again.newly_exported, 0, "nothing is exported twice");
    assert_eq!(again.batch, first.batch, "the same documents give the same bytes");
    assert_eq!(app.head().await, head, "nothing appended");
    let history = "query($e: ID!) { history(entityId: $e) { eventType } }";
    let events = app.ok(BOOT, history, json!({"e": run[0]["id"]})).await["history"].clone();
    assert_eq!(events.as_array().unwrap().iter().filter(|e| e["eventType"] == "InvoiceExported").count(), 1);

    // A customer registered later, backdated before all others, comes last: no account moves.
    let register = "mutation($i: RegisterCustomerInput!) { registerCustomer(input: $i) { id } }";
    let eu = json!({"i": {"name": "Müller & Søn ApS", "country": "DK", "vatId": "DK12345678", "billingAddress": "Nørregade 1\n1165 København", "effectiveAt": "2020-01-01T00:00:00Z"}});
    app.ok(BOOT, register, eu).await;
    let later = app::export::export(&app.state, period, &accounts, app.state.now()).await.unwrap();
    let customers_later = extf(&later.master_data, 16, "Debitoren/Kreditoren", 5, 254, &master_rules);
    for before in &customers {
        let name = field(before, "Name (Adressattyp Unternehmen)");
        assert_eq!(
            field(&by_name(&customers_later, &name), "Konto"),
            field(before, "Konto"),
            "{name} keeps its account"
        );
    }
    let dk = by_name(&customers_later, "Müller & Søn ApS");
    assert_eq!(field(&dk, "Konto"), (10000 + customers.len()).to_string(), "the newest customer comes last");
    assert_eq!((field(&dk, "EU-Land").as_str(), field(&dk, "EU-UStID").as_str()), ("DK", "12345678"));
    assert_eq!(field(&dk, "Sprache"), "4", "English for a Danish customer");
    assert!(later.master_data.windows(3).any(|w| w == b"M\xfcl"), "ü as Windows-1252 writes it");
    assert!(later.master_data.windows(2).any(|w| w == b"S\xf8"), "ø as well");

    let tight = app::export::Accounts { debtors: 10000..=10001, ..Default::default() };
    let refused =
        app::export::export(&app.state, period, &tight, app.state.now()).await.err().expect("the range is full");
    assert_eq!(refused.code(), "BAD_INPUT", "{}", refused.message());
});

both_stores!(replay_verify_recomputes_every_issued_document, async |app: &TestApp| {
    let w = world(app).await;
    let billing = staff(app, "Bea", "BILLING").await;
    prices(app, &billing).await;
    march(app, &w.acme_root).await;
    let run = app.ok(&billing, RUN, json!({"p": "2026-03"})).await["runBilling"].clone();
    app.ok(&billing, CANCEL, json!({"i": run[0]["id"], "r": "wrong address"})).await;
    app.ok(&billing, RUN, json!({"p": "2026-03"})).await;
    // A late correction after issue changes nothing the audit checks.
    let later = json!({"i": {"projectId": w.acme_root, "name": "late", "location": "fsn1", "cpu": 1, "ramGb": 1, "diskGb": 10, "effectiveAt": "2026-03-02T00:00:00Z"}});
    app.ok(BOOT, PROVISION, later).await;
    let (catalog, _) = replay::rebuild::rebuild(&app.state.bus.log, |_, _| {}).await.unwrap();
    assert_eq!(replay::audit::verify_invoices(&app.state.bus.log, &catalog).await.unwrap(), Ok(3));

    // A document whose content the rules do not give (a bug, or a hand-written row) is named.
    use cqrs_es::DomainEvent;
    let (state, _) = app::billing::load(&app.state.bus.log, s(&run[0]["id"]).parse().unwrap()).await.unwrap();
    let mut content = state.content.clone().unwrap();
    content.groups[0].lines[0].amount += rust_decimal::Decimal::ONE;
    content.groups[0].subtotal += rust_decimal::Decimal::ONE;
    content.net += rust_decimal::Decimal::ONE;
    let forged_id = domain::InvoiceId(uuid::Uuid::from_u128(77));
    let drafted = domain::invoice::InvoiceEvent::InvoiceDrafted {
        id: forged_id,
        kind: domain::invoice::InvoiceKind::Invoice,
        content: Box::new(content.clone()),
        refers_to: None,
    };
    let issued = domain::invoice::InvoiceEvent::InvoiceIssued {
        number: "RE-2026-99999".into(),
        issued_at: app.state.now(),
        due_date: app.state.now(),
        content_hash: content.digest(),
    };
    let meta = serde_json::json!({"actor": "system:forger"});
    let events = [drafted, issued]
        .iter()
        .enumerate()
        .map(|(i, e)| {
            cqrs_es::persist::SerializedEvent::new(
                forged_id.to_string(),
                i + 1,
                "invoice".into(),
                e.event_type(),
                e.event_version(),
                serde_json::to_value(e).unwrap(),
                meta.clone(),
            )
        })
        .collect();
    assert!(matches!(app.state.bus.log.append_atomic(events).await.unwrap(), store::Atomic::Appended(_)));
    let (catalog, _) = replay::rebuild::rebuild(&app.state.bus.log, |_, _| {}).await.unwrap();
    let bad = replay::audit::verify_invoices(&app.state.bus.log, &catalog).await.unwrap().unwrap_err();
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0].number, "RE-2026-99999");
    assert!(bad[0].reason.contains("recomputed at position"), "{}", bad[0]);
});

both_stores!(backups_that_ended_long_ago_are_billed_and_shown_from_the_vms_log, async |app: &TestApp| {
    let w = world(app).await;
    let billing = staff(app, "Bea", "BILLING").await;
    prices(app, &billing).await;
    let vm = march(app, &w.acme_root).await;
    let preview = "query($c: ID!, $p: String!) { billingPreview(customerId: $c, period: $p) { net projects { lines { component units amount } } } }";
    let backup_line = |d: &Value| {
        let lines = d["billingPreview"]["projects"][0]["lines"].as_array().unwrap().clone();
        lines.into_iter().find(|l| l["component"] == "Backup GB").unwrap()
    };
    // 10 GB from 10 March 00:00 to the end of March (22:00 UTC): 526 of 743 hours.
    let held = app.ok(&w.acme_token, preview, json!({"c": w.acme, "p": "2026-03"})).await;
    assert_eq!(
        (backup_line(&held)["units"].clone(), backup_line(&held)["amount"].clone()),
        (json!("7.079408"), json!("0.14"))
    );

    let before_expiry = chrono::Utc::now();
    let expire =
        "mutation($v: ID!) { expireBackup(vmId: $v, backupId: \"b-1\", at: \"2026-03-20T00:00:00Z\") { expiredAt } }";
    app.ok(BOOT, expire, json!({"v": vm})).await;
    {
        // It ended in March, recorded months later: settled at once, out of memory.
        let catalog = app.state.catalog();
        let series = &catalog.backups[&vm.parse().unwrap()];
        assert!(series.records.is_empty() && series.settled.through == catalog.position, "{series:?}");
    }
    // March is billed from the VM's log: 240 of 743 hours.
    let read = app.ok(&w.acme_token, preview, json!({"c": w.acme, "p": "2026-03"})).await;
    assert_eq!(
        (backup_line(&read)["units"].clone(), backup_line(&read)["amount"].clone()),
        (json!("3.230148"), json!("0.06"))
    );
    let run = app.ok(&billing, RUN, json!({"p": "2026-03"})).await["runBilling"].clone();
    assert_eq!(run[0]["net"], read["billingPreview"]["net"], "the run bills what the preview showed");
    let drift = app.ok(&billing, DRIFT, json!({"p": "2026-03"})).await["billingDrift"].clone();
    assert_eq!(drift[0]["difference"], "0.00", "{drift}");
    let (catalog, _) = replay::rebuild::rebuild(&app.state.bus.log, |_, _| {}).await.unwrap();
    assert_eq!(replay::audit::verify_invoices(&app.state.bus.log, &catalog).await.unwrap(), Ok(1));

    // The latest good backup: from what memory remembers now, from the log before the expiry.
    let last_good = "query($v: ID!, $t: DateTime) { vm(id: $v, asOf: $t) { lastGoodBackupAt } }";
    for t in [None, Some(before_expiry.to_rfc3339())] {
        let d = app.ok(BOOT, last_good, json!({"v": vm, "t": t})).await;
        assert_eq!(d["vm"]["lastGoodBackupAt"], "2026-03-10T00:00:00+00:00", "as of {t:?}");
    }
    let overview = "query($p: ID!, $t: DateTime) { infrastructureOverview(projectId: $p, asOf: $t) { vms { lastGoodBackupAt } backupHealth { lastGoodBackupAt stale failuresLast7Days } } }";
    let then = app.ok(BOOT, overview, json!({"p": w.acme_root, "t": before_expiry.to_rfc3339()})).await;
    let health = &then["infrastructureOverview"]["backupHealth"][0];
    assert_eq!(
        (health["lastGoodBackupAt"].clone(), health["stale"].clone()),
        (json!("2026-03-10T00:00:00+00:00"), json!(true))
    );
    let stale = "query($t: DateTime) { staleBackups(asOf: $t) { vm { name lastGoodBackupAt } lastGoodBackupAt } }";
    let d = app.ok(BOOT, stale, json!({"t": before_expiry.to_rfc3339()})).await["staleBackups"].clone();
    assert_eq!(d[0]["vm"]["lastGoodBackupAt"], "2026-03-10T00:00:00+00:00", "{d}");
});
