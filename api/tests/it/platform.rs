//! The names the platform's machines know projects and VMs by (fc-compat.md): resource
//! groups and host names, unique platform-wide and never changed; a VM's channel, roles,
//! production flag and node API ring.

use serde_json::{Value, json};

use crate::flows::{PROVISION, customer, s, staff};
use crate::helpers::{BOOT, TestApp, both_stores};

const CREATE: &str = "mutation($i: CreateProjectInput!) { createProject(input: $i) { id name resourceGroup } }";
const VM: &str =
    "query($v: ID!, $t: DateTime) { vm(id: $v, asOf: $t) { hostname channel roles production directoryRing } }";

fn project(customer: &str, name: &str, rg: Option<&str>) -> Value {
    json!({"i": {"customerId": customer, "name": name, "slaClass": "STANDARD", "effectiveAt": "2025-01-01T00:00:00Z", "resourceGroup": rg}})
}

both_stores!(resource_groups_are_unique_platform_wide_and_made_from_the_name_when_omitted, async |app: &TestApp| {
    let acme = customer(app, "Acme GmbH", "DE").await;
    let globex = customer(app, "Globex Inc", "US").await;
    let shop = app.ok(BOOT, CREATE, project(&acme, "Web Shop", Some("shop"))).await["createProject"].clone();
    assert_eq!(shop["resourceGroup"], "shop");
    let head = app.head().await;
    // Another customer cannot take it; what is refused appends nothing.
    let taken = app.gql(BOOT, CREATE, project(&globex, "Shop", Some("shop"))).await;
    assert_eq!(taken["errors"][0]["extensions"]["code"], "CONFLICT", "{taken}");
    assert!(taken["errors"][0]["message"].as_str().unwrap().contains("resource group is already taken"));
    for bad in ["Shop EU", "s", "2shop", "shop.eu"] {
        assert_eq!(app.code(BOOT, CREATE, project(&globex, "Shop", Some(bad))).await, "BAD_INPUT", "{bad:?}");
    }
    assert_eq!(app.head().await, head);
    // Omitted: made from the name, the first one free.
    let made: Vec<String> = {
        let mut made = vec![];
        for (c, name) in [(&globex, "Shop"), (&acme, "Shop"), (&acme, "Web Shop")] {
            made.push(s(&app.ok(BOOT, CREATE, project(c, name, None)).await["createProject"]["resourceGroup"]));
        }
        made
    };
    assert_eq!(made, ["shop-2", "shop-3", "web-shop"]);
});

both_stores!(two_projects_racing_for_one_resource_group_get_it_once, async |app: &TestApp| {
    let acme = customer(app, "Acme GmbH", "DE").await;
    let head = app.head().await;
    let answers = futures::future::join_all(
        (0..6).map(|n| app.gql(BOOT, CREATE, project(&acme, &format!("Shop {n}"), Some("shop")))),
    )
    .await;
    let won = answers.iter().filter(|a| a.get("errors").is_none()).count();
    let conflicts = answers.iter().filter(|a| a["errors"][0]["extensions"]["code"] == "CONFLICT").count();
    assert_eq!((won, conflicts), (1, 5), "{answers:?}");
    assert_eq!(app.head().await, head + 1);
});

both_stores!(a_vm_is_a_node_with_a_unique_host_name_a_channel_roles_and_a_ring, async |app: &TestApp| {
    let acme = customer(app, "Acme GmbH", "DE").await;
    let shop = s(&app.ok(BOOT, CREATE, project(&acme, "Shop", Some("shop"))).await["createProject"]["id"]);
    let provision = |name: &str, extra: Value| {
        let mut input = json!({"projectId": shop, "name": name, "location": "fsn1", "cpu": 2, "ramGb": 4, "diskGb": 40, "effectiveAt": "2026-02-01T00:00:00Z"});
        input.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        json!({"i": input})
    };
    let web = app
        .ok(BOOT, PROVISION, provision("web01", json!({"hostname": "web01", "channel": "fc-24.05-production", "roles": ["webgateway", "postgresql15"], "production": false})))
        .await;
    let web = s(&web["provisionVm"]["id"]);
    let node = app.ok(BOOT, VM, json!({"v": web})).await["vm"].clone();
    assert_eq!(
        node,
        json!({"hostname": "web01", "channel": "fc-24.05-production", "roles": ["postgresql15", "webgateway"], "production": false, "directoryRing": 1})
    );
    let head = app.head().await;
    assert_eq!(app.code(BOOT, PROVISION, provision("other", json!({"hostname": "web01"}))).await, "CONFLICT");
    for bad in [json!({"hostname": "Web 01"}), json!({"channel": "fc 24.05"}), json!({"roles": ["Web"]})] {
        assert_eq!(app.code(BOOT, PROVISION, provision("other", bad.clone())).await, "BAD_INPUT", "{bad}");
    }
    assert_eq!(app.head().await, head);
    // Omitted: made from the name, free platform-wide; production by default.
    let second = s(&app.ok(BOOT, PROVISION, provision("web01", json!({}))).await["provisionVm"]["id"]);
    let node = app.ok(BOOT, VM, json!({"v": second})).await["vm"].clone();
    assert_eq!(
        node,
        json!({"hostname": "web01-2", "channel": null, "roles": [], "production": true, "directoryRing": 1})
    );

    // Roles change; as of before, they were as provisioned.
    let before = s(&app.ok(BOOT, "{ logHead { recordedAt } }", json!({})).await["logHead"]["recordedAt"]);
    let roles = "mutation($v: ID!, $r: [String!]!) { setVmRoles(vmId: $v, roles: $r) { roles } }";
    let ops = staff(app, "Otto", "OPS").await;
    assert_eq!(
        app.ok(&ops, roles, json!({"v": web, "r": ["sensuserver"]})).await["setVmRoles"]["roles"],
        json!(["sensuserver"])
    );
    assert_eq!(
        app.ok(BOOT, VM, json!({"v": web, "t": before})).await["vm"]["roles"],
        json!(["postgresql15", "webgateway"])
    );

    // Ring 0 reaches the whole platform: ADMIN only; ring 1 is OPS's too.
    let ring = "mutation($v: ID!, $r: Int!) { setDirectoryRing(vmId: $v, ring: $r) { directoryRing } }";
    assert_eq!(app.code(&ops, ring, json!({"v": web, "r": 0})).await, "FORBIDDEN");
    assert_eq!(app.code(BOOT, ring, json!({"v": web, "r": 2})).await, "BAD_INPUT");
    assert_eq!(app.ok(BOOT, ring, json!({"v": web, "r": 0})).await["setDirectoryRing"]["directoryRing"], 0);
    assert_eq!(app.ok(&ops, ring, json!({"v": web, "r": 1})).await["setDirectoryRing"]["directoryRing"], 1);
    let history = app.ok(BOOT, "query($e: ID!) { history(entityId: $e) { summary } }", json!({"e": web})).await;
    let lines: Vec<String> = history["history"].as_array().unwrap().iter().map(|h| s(&h["summary"])).collect();
    assert!(lines[0].ends_with("host name web01"), "{lines:?}");
    assert!(lines.contains(&"Roles set to sensuserver".to_owned()), "{lines:?}");
    assert!(lines.contains(&"Node API ring set to 0".to_owned()), "{lines:?}");
});

both_stores!(node_credentials_are_shown_to_ops_only_each_showing_recorded_and_never_stored, async |app: &TestApp| {
    let w = crate::flows::world(app).await;
    let vm = json!({"i": {"projectId": w.acme_root, "name": "web01", "location": "fsn1", "cpu": 2, "ramGb": 4, "diskGb": 40, "effectiveAt": "2026-02-01T00:00:00Z"}});
    let vm = s(&app.ok(BOOT, PROVISION, vm).await["provisionVm"]["id"]);
    let show = "query($v: ID!) { nodeCredentials(vmId: $v) { vmId hostname password ring } }";
    let first = app.ok(&w.ops, show, json!({"v": vm})).await["nodeCredentials"].clone();
    assert_eq!(
        (first["vmId"].as_str(), first["hostname"].as_str(), first["ring"].as_i64()),
        (Some(vm.as_str()), Some("web01"), Some(1))
    );
    let password = s(&first["password"]);
    assert!(password.len() == 32 && password.bytes().all(|b| b.is_ascii_hexdigit()), "{password}");
    assert_eq!(app.ok(&w.ops, show, json!({"v": vm})).await["nodeCredentials"], first, "derived: the same each time");

    // Customers, even the project's manager, and auditors are refused; nothing is recorded.
    let grant = "mutation($p: ID!, $pr: ID!) { grantRole(personId: $p, projectId: $pr, role: MANAGER) { id } }";
    app.ok(BOOT, grant, json!({"p": w.acme_person, "pr": w.acme_root})).await;
    let head = app.head().await;
    for token in [&w.acme_token, &w.auditor] {
        assert_eq!(app.code(token, show, json!({"v": vm})).await, "FORBIDDEN");
    }
    let rotate = "mutation($v: ID!) { rotateNodePassword(vmId: $v) { password } }";
    assert_eq!(app.code(&w.acme_token, rotate, json!({"v": vm})).await, "FORBIDDEN");
    assert_eq!(app.head().await, head);

    // A rotation makes a new one; the old one is gone.
    let rotated = s(&app.ok(&w.ops, rotate, json!({"v": vm})).await["rotateNodePassword"]["password"]);
    assert_ne!(rotated, password);
    assert_eq!(app.ok(&w.ops, show, json!({"v": vm})).await["nodeCredentials"]["password"], rotated.as_str());

    // Who saw them is in the VM's history; no password is anywhere in the log.
    let history = "query($e: ID!) { history(entityId: $e) { summary actor } }";
    let lines = app.ok(BOOT, history, json!({"e": vm})).await["history"].clone();
    let shown = lines.as_array().unwrap().iter().filter(|l| l["summary"] == "Node API credentials shown").count();
    assert_eq!(shown, 3);
    let log = app.state.bus.log.read_after(0, 100_000).await.unwrap();
    for e in &log {
        for secret in [&password, &rotated] {
            assert!(
                !e.payload.contains(secret.as_str()) && !e.metadata.contains(secret.as_str()),
                "position {}",
                e.position
            );
        }
    }
});
