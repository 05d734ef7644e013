//! Price lists, against both stores.

use serde_json::{Value, json};

use crate::flows::{s, staff, world};
use crate::helpers::{BOOT, TestApp, both_stores};

const HEAD: &str = "{ logHead { position recordedAt } }";

const PUBLISH: &str = "mutation($i: PublishPriceListInput!) { publishPriceList(input: $i) { validFrom vcpu diskGb slaPremium position } }";

fn price_list(valid_from: &str, vcpu: Value) -> Value {
    json!({"i": {"validFrom": valid_from, "vcpu": vcpu, "ramGb": "3.20", "diskGb": "0.045", "backupGb": "0.02", "monitor": "1.50", "slaBasic": "0", "slaStandard": "15", "slaPremium": "45.00"}})
}

both_stores!(billing_staff_publish_price_lists_with_exact_decimals, async |app: &TestApp| {
    let w = world(app).await;
    let billing = staff(app, "Bea", "BILLING").await;
    assert_eq!(app.code(&w.ops, PUBLISH, price_list("2026-01-01T00:00:00+01:00", json!("12.50"))).await, "FORBIDDEN");
    let before = app.head().await;
    assert_eq!(
        app.code(&billing, PUBLISH, price_list("2026-01-01T00:00:00+01:00", json!(12.5))).await,
        "BAD_INPUT",
        "numbers are refused"
    );
    assert_eq!(app.code(&billing, PUBLISH, price_list("2026-01-01T00:00:00+01:00", json!("-1"))).await, "BAD_INPUT");
    assert_eq!(
        app.code(&billing, PUBLISH, price_list("2026-01-01T00:00:00+01:00", json!("1.0000001"))).await,
        "BAD_INPUT"
    );
    assert_eq!(app.head().await, before, "nothing appended");
    let p = app.ok(&billing, PUBLISH, price_list("2026-01-01T00:00:00+01:00", json!("12.50"))).await;
    assert_eq!(p["publishPriceList"]["vcpu"], "12.50", "as written, to the cent");
    assert_eq!(p["publishPriceList"]["diskGb"], "0.045");
    let between = s(&app.ok(BOOT, HEAD, json!({})).await["logHead"]["recordedAt"]);
    assert_eq!(
        app.code(&billing, PUBLISH, price_list("2025-12-31T23:00:00Z", json!("9"))).await,
        "CONFLICT",
        "the same instant"
    );
    app.ok(&billing, PUBLISH, price_list("2026-07-01T00:00:00+02:00", json!("11.90"))).await;
    let q = "query($t: DateTime) { priceLists(asOf: $t) { validFrom vcpu } }";
    let all = app.ok(&w.acme_token, q, json!({})).await;
    assert_eq!(
        all["priceLists"],
        json!([{"validFrom": "2025-12-31T23:00:00+00:00", "vcpu": "12.50"}, {"validFrom": "2026-06-30T22:00:00+00:00", "vcpu": "11.90"}])
    );
    let then = app.ok(&w.acme_token, q, json!({"t": between})).await;
    assert_eq!(then["priceLists"].as_array().unwrap().len(), 1, "as published by then");
});
