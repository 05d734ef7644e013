//! Networks and the addresses VMs get from them: the lowest free address of each network
//! of the VM's location, never one address for two VMs (also when two servers provision
//! at once), an address taken back once its VM left `deletions`, and refusals that record
//! nothing.

use serde_json::{Value, json};

use crate::flows::{customer, s};
use crate::helpers::{BOOT, TestApp, ask, both_stores};

const DEFINE: &str = "mutation($l: String!, $v: String!, $c: String!, $g: String!) { defineNetwork(location: $l, vlan: $v, cidr: $c, gateway: $g) { location vlan cidr gateway } }";
const PROVISION: &str =
    "mutation($i: ProvisionVmInput!) { provisionVm(input: $i) { id interfaces { vlan mac addresses } } }";
const INTERFACES: &str = "query($v: ID!, $t: DateTime) { vm(id: $v, asOf: $t) { interfaces { vlan mac addresses } } }";

fn network(location: &str, vlan: &str, cidr: &str, gateway: &str) -> Value {
    json!({"l": location, "v": vlan, "c": cidr, "g": gateway})
}

async fn project(app: &TestApp) -> String {
    let acme = customer(app, "Acme GmbH", "DE").await;
    let create = "mutation($i: CreateProjectInput!) { createProject(input: $i) { id } }";
    let input = json!({"i": {"customerId": acme, "name": "Shop", "slaClass": "STANDARD", "effectiveAt": "2025-01-01T00:00:00Z"}});
    s(&app.ok(BOOT, create, input).await["createProject"]["id"])
}

fn vm(project: &str, name: &str, location: &str) -> Value {
    json!({"i": {"projectId": project, "name": name, "location": location, "cpu": 1, "ramGb": 2, "diskGb": 20, "effectiveAt": "2026-02-01T00:00:00Z"}})
}

fn addresses(vm: &Value) -> Vec<String> {
    let interfaces = vm["interfaces"].as_array().unwrap();
    interfaces.iter().flat_map(|i| i["addresses"].as_array().unwrap().iter().map(s)).collect()
}

both_stores!(a_vm_gets_the_lowest_free_address_of_each_network_of_its_location, async |app: &TestApp| {
    let project = project(app).await;
    let before = chrono::Utc::now().to_rfc3339();
    let lonely = s(&app.ok(BOOT, PROVISION, vm(&project, "early", "rzob")).await["provisionVm"]["id"]);
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let before_networks = chrono::Utc::now().to_rfc3339();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let defined = app.ok(BOOT, DEFINE, network("rzob", "srv", "172.20.2.0/24", "172.20.2.1")).await;
    assert_eq!(
        defined["defineNetwork"],
        json!({"location": "rzob", "vlan": "srv", "cidr": "172.20.2.0/24", "gateway": "172.20.2.1"})
    );
    app.ok(BOOT, DEFINE, network("rzob", "srv", "2a02:db8:f030:102::/64", "2a02:db8:f030:102::1")).await;
    app.ok(BOOT, DEFINE, network("whq", "srv", "10.1.0.0/24", "10.1.0.1")).await;
    // The VM provisioned before the networks got an address in each when it was defined.
    let early = app.ok(BOOT, INTERFACES, json!({"v": lonely})).await["vm"].clone();
    assert_eq!(addresses(&early), ["172.20.2.2/24", "2a02:db8:f030:102::2/64"]);
    let first = app.ok(BOOT, PROVISION, vm(&project, "web", "rzob")).await["provisionVm"].clone();
    assert_eq!(addresses(&first), ["172.20.2.3/24", "2a02:db8:f030:102::3/64"]);
    assert_eq!(first["interfaces"][0]["vlan"], "srv");
    let elsewhere = app.ok(BOOT, PROVISION, vm(&project, "far", "whq")).await["provisionVm"].clone();
    assert_eq!(addresses(&elsewhere), ["10.1.0.2/24"], "only its own location's networks");
    // As of before the networks: none; as of before the VM: no VM.
    let past = app.ok(BOOT, INTERFACES, json!({"v": lonely, "t": before_networks})).await;
    assert_eq!(past["vm"]["interfaces"], json!([]), "{past}");
    let past = app.ok(BOOT, INTERFACES, json!({"v": lonely, "t": before})).await;
    assert_eq!(past["vm"], Value::Null, "{past}");
    let networks = app.ok(BOOT, "{ networks(location: \"rzob\") { cidr } }", json!({})).await;
    assert_eq!(networks["networks"], json!([{"cidr": "172.20.2.0/24"}, {"cidr": "2a02:db8:f030:102::/64"}]));
    let all = app.ok(BOOT, "query($t: DateTime) { networks(asOf: $t) { cidr } }", json!({"t": before})).await;
    assert_eq!(all["networks"], json!([]), "none defined then");

    // Bad networks are refused before anything is recorded, with what to do: six VMs in
    // rzob do not fit in a /29.
    for n in 0..4 {
        app.ok(BOOT, PROVISION, vm(&project, &format!("extra{n}"), "rzob")).await;
    }
    let head = app.head().await;
    for (bad, code, says) in [
        (network("rzob", "srv", "172.20.2.7/24", "172.20.2.1"), "BAD_INPUT", "the network is 172.20.2.0/24"),
        (network("rzob", "srv", "172.20.9.0/24", "172.20.2.1"), "BAD_INPUT", "host address of 172.20.9.0/24"),
        (network("rzob", "srv", "banana", "172.20.2.1"), "BAD_INPUT", "IPv4 or IPv6 network"),
        (network("rzob", "fe", "172.20.0.0/16", "172.20.0.1"), "CONFLICT", "overlaps the network 172.20.2.0/24"),
        (network("rzob", "fe", "172.30.0.0/30", "172.30.0.1"), "BAD_INPUT", "prefix length must be 8-29"),
        (network("rzob", "fe", "172.30.0.0/29", "172.30.0.1"), "RULE_VIOLATION", "has room for"),
    ] {
        let answer = app.gql(BOOT, DEFINE, bad.clone()).await;
        assert_eq!(answer["errors"][0]["extensions"]["code"], code, "{bad}: {answer}");
        assert!(answer["errors"][0]["message"].as_str().unwrap().contains(says), "{bad}: {answer}");
    }
    assert_eq!(app.head().await, head, "nothing recorded");
    // Defined again, it is a retry that records nothing.
    app.ok(BOOT, DEFINE, network("rzob", "srv", "172.20.2.0/24", "172.20.2.1")).await;
    assert_eq!(app.head().await, head);
});

both_stores!(two_servers_provisioning_at_once_never_give_one_address_twice, async |app: &TestApp| {
    let project = project(app).await;
    app.ok(BOOT, DEFINE, network("rzob", "srv", "10.9.0.0/27", "10.9.0.1")).await;
    let other = app.second_server().await;
    assert!(other.bus.projector.wait_for(app.head().await, std::time::Duration::from_secs(5)).await);
    let routers = [app.router.clone(), api::http::router(other.clone(), api::telemetry::metrics())];
    let calls = (0..16).map(|n| {
        let router = routers[n % 2].clone();
        let input = vm(&project, &format!("vm{n}"), "rzob");
        async move { ask(&router, PROVISION, input).await }
    });
    let answers = futures::future::join_all(calls).await;
    let mut taken: Vec<String> = vec![];
    let mut macs: Vec<String> = vec![];
    for answer in &answers {
        assert!(answer["errors"].is_null(), "{answer}");
        let vm = &answer["data"]["provisionVm"];
        taken.extend(addresses(vm));
        macs.push(s(&vm["interfaces"][0]["mac"]));
    }
    taken.sort_by_key(|a| a.trim_end_matches("/27").split('.').nth(3).unwrap().parse::<u32>().unwrap());
    let expected: Vec<String> = (2..18).map(|n| format!("10.9.0.{n}/27")).collect();
    assert_eq!(taken, expected, "the sixteen lowest, each once");
    macs.sort();
    macs.dedup();
    assert_eq!(macs.len(), 16);
    // The network holds 29; the thirtieth VM finds none free and is not provisioned.
    for n in 16..29 {
        app.ok(BOOT, PROVISION, vm(&project, &format!("vm{n}"), "rzob")).await;
    }
    let head = app.head().await;
    let full = app.gql(BOOT, PROVISION, vm(&project, "vm29", "rzob")).await;
    assert_eq!(full["errors"][0]["extensions"]["code"], "RULE_VIOLATION", "{full}");
    assert!(full["errors"][0]["message"].as_str().unwrap().contains("no free address"), "{full}");
    assert_eq!(app.head().await, head, "nothing recorded");
});

both_stores!(an_address_is_taken_back_once_its_vm_left_deletions, async |app: &TestApp| {
    let project = project(app).await;
    app.ok(BOOT, DEFINE, network("rzob", "srv", "10.8.0.0/29", "10.8.0.1")).await;
    let mut vms = vec![];
    for n in 0..5 {
        vms.push(s(&app.ok(BOOT, PROVISION, vm(&project, &format!("vm{n}"), "rzob")).await["provisionVm"]["id"]));
    }
    let decommission = "mutation($v: ID!, $t: DateTime!) { decommissionVm(vmId: $v, effectiveAt: $t) { id } }";
    // vm0 left deletions long ago (90 days after it was decommissioned); vm1 is still in them.
    app.ok(BOOT, decommission, json!({"v": vms[0], "t": "2026-03-01T00:00:00Z"})).await;
    app.ok(BOOT, decommission, json!({"v": vms[1], "t": chrono::Utc::now().to_rfc3339()})).await;
    let next = app.ok(BOOT, PROVISION, vm(&project, "next", "rzob")).await["provisionVm"].clone();
    assert_eq!(addresses(&next), ["10.8.0.2/29"], "vm0's address, the lowest free again");
    let gone = app.ok(BOOT, INTERFACES, json!({"v": vms[0]})).await;
    assert_eq!(gone["vm"]["interfaces"], json!([]));
    let history = app.ok(BOOT, "query($e: ID!) { history(entityId: $e) { summary } }", json!({"e": vms[0]})).await;
    assert!(history.to_string().contains("Addresses released"), "{history}");
    let held = app.ok(BOOT, INTERFACES, json!({"v": vms[1]})).await;
    assert_eq!(addresses(&held["vm"]), ["10.8.0.3/29"], "still held while its data is removed");
    let full = app.gql(BOOT, PROVISION, vm(&project, "more", "rzob")).await;
    assert_eq!(full["errors"][0]["extensions"]["code"], "RULE_VIOLATION", "{full}");
});
