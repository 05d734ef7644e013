//! The node API as the platform's agents call it: through Python's `xmlrpc.client`,
//! constructed exactly as the agents construct it, over real HTTP.

use serde_json::{Value, json};

use crate::flows::{PROVISION, customer, s, staff};
use crate::helpers::{BOOT, TestApp, both_stores};

/// The agents' client: `ServerProxy(url_with_credentials, allow_none=True,
/// use_datetime=True)`; each result written as the agents write it,
/// `json.dump(..., sort_keys=True)`. A fault or an HTTP error is written as such.
const CLIENT: &str = r#"
import json, sys, xmlrpc.client
url, method, args = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
proxy = xmlrpc.client.ServerProxy(url, allow_none=True, use_datetime=True)
try:
    result = getattr(proxy, method)(*args)
except xmlrpc.client.Fault as f:
    result = {"fault": f.faultCode, "message": f.faultString}
except xmlrpc.client.ProtocolError as e:
    result = {"http": e.errcode}
json.dump(result, sys.stdout, sort_keys=True)
"#;

/// Raw bodies, for what no well-behaved client sends: the HTTP status and body.
const RAW: &str = r#"
import base64, http.client, json, sys, urllib.parse
url, user, password, size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
body = sys.stdin.buffer.read() if size == 0 else b"<methodCall>" + b" " * size + b"</methodCall>"
target = urllib.parse.urlsplit(url)
conn = http.client.HTTPConnection(target.hostname, target.port)
conn.putrequest("POST", target.path)
conn.putheader("Content-Type", "text/xml")
conn.putheader("Content-Length", str(len(body)))
conn.putheader("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())
conn.endheaders()
try:
    for i in range(0, len(body), 65536):
        conn.send(body[i:i + 65536])
except (BrokenPipeError, ConnectionResetError):
    pass  # the server answered before reading it all
response = conn.getresponse()
json.dump({"status": response.status, "body": response.read().decode(errors="replace")}, sys.stdout)
"#;

/// A call whose body is written by hand (what Python's client never sends, like `<i8>`),
/// its answer read as the agents read answers.
const RAW_CALL: &str = r#"
import base64, http.client, json, sys, urllib.parse, xmlrpc.client
url, user, password = sys.argv[1], sys.argv[2], sys.argv[3]
body = sys.stdin.buffer.read()
target = urllib.parse.urlsplit(url)
conn = http.client.HTTPConnection(target.hostname, target.port)
auth = base64.b64encode(f"{user}:{password}".encode()).decode()
conn.request("POST", target.path, body, {"Content-Type": "text/xml", "Authorization": "Basic " + auth})
try:
    result = xmlrpc.client.loads(conn.getresponse().read(), use_datetime=True)[0][0]
except xmlrpc.client.Fault as f:
    result = {"fault": f.faultCode, "message": f.faultString}
json.dump(result, sys.stdout, sort_keys=True)
"#;

async fn python(script: &'static str, args: Vec<String>, stdin: Vec<u8>) -> Value {
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = std::process::Command::new("python3")
            .arg("-c")
            .arg(script)
            .args(&args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("python3 runs");
        child.stdin.take().unwrap().write_all(&stdin).unwrap();
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("{text}\n{}", String::from_utf8_lossy(&out.stderr)))
    })
    .await
    .unwrap()
}

/// The Directory on a loopback port, as the agents reach it.
async fn listen(app: &TestApp) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = app.router.clone();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("127.0.0.1:{}", addr.port())
}

struct Platform {
    base: String,
    web: String,
    db: String,
    other: String,
    ops: String,
}

impl Platform {
    fn url(&self, user: &str, password: &str, path: &str) -> String {
        format!("http://{user}:{password}@{}{path}", self.base)
    }
}

async fn platform(app: &TestApp) -> Platform {
    let acme = customer(app, "Acme GmbH", "DE").await;
    let project = "mutation($i: CreateProjectInput!) { createProject(input: $i) { id } }";
    let rg = |name: &str, rg: &str| json!({"i": {"customerId": acme, "name": name, "slaClass": "STANDARD", "effectiveAt": "2025-01-01T00:00:00Z", "resourceGroup": rg}});
    let shop = s(&app.ok(BOOT, project, rg("Shop", "shop")).await["createProject"]["id"]);
    let other = s(&app.ok(BOOT, project, rg("Other", "other")).await["createProject"]["id"]);
    // Networks of VLAN srv before the VMs, of VLAN fe after them: both give them addresses.
    let define = "mutation($l: String!, $v: String!, $c: String!, $g: String!) { defineNetwork(location: $l, vlan: $v, cidr: $c, gateway: $g) { cidr } }";
    let network = |vlan: &str, cidr: &str, gateway: &str| json!({"l": "rzob", "v": vlan, "c": cidr, "g": gateway});
    app.ok(BOOT, define, network("srv", "172.20.2.0/24", "172.20.2.1")).await;
    app.ok(BOOT, define, network("srv", "2a02:db8:f030:102::/64", "2a02:db8:f030:102::1")).await;
    let vm = |project: &str, name: &str, roles: Value| json!({"i": {"projectId": project, "name": name, "location": "rzob", "cpu": 2, "ramGb": 4, "diskGb": 50, "effectiveAt": "2026-02-01T00:00:00Z", "hostname": name, "channel": "fc-24.05-production", "roles": roles}});
    let web = s(&app.ok(BOOT, PROVISION, vm(&shop, "web01", json!(["webgateway"]))).await["provisionVm"]["id"]);
    let db = s(&app.ok(BOOT, PROVISION, vm(&shop, "db01", json!(["postgresql15"]))).await["provisionVm"]["id"]);
    let other = s(&app.ok(BOOT, PROVISION, vm(&other, "x01", json!([]))).await["provisionVm"]["id"]);
    app.ok(BOOT, define, network("fe", "172.20.3.0/24", "172.20.3.1")).await;
    Platform { base: listen(app).await, web, db, other, ops: staff(app, "Otto", "OPS").await }
}

async fn password(app: &TestApp, p: &Platform, vm: &str) -> String {
    let q = "query($v: ID!) { nodeCredentials(vmId: $v) { password } }";
    s(&app.ok(&p.ops, q, json!({"v": vm})).await["nodeCredentials"]["password"])
}

async fn call(url: String, method: &str, args: Value) -> Value {
    python(CLIENT, vec![url, method.to_owned(), args.to_string()], vec![]).await
}

both_stores!(a_node_looks_itself_up_as_the_agents_do_and_sees_only_its_resource_group, async |app: &TestApp| {
    let p = platform(app).await;
    let secret = password(app, &p, &p.web).await;
    let head = app.head().await;
    let url = p.url("web01", &secret, "/v2/api/rg-shop");

    let enc = call(url.clone(), "lookup_node", json!(["web01"])).await;
    assert_eq!(enc["name"], "web01");
    assert_eq!(enc["roles"], json!(["webgateway"]));
    assert_eq!(enc["classes"], json!(["role::webgateway"]));
    let params = &enc["parameters"];
    for (key, expected) in [
        ("resource_group", json!("shop")),
        ("resource_group_parent", json!("")),
        ("location", json!("rzob")),
        ("environment", json!("fc-24.05-production")),
        ("environment_class", json!("NixOS")),
        ("production", json!(true)),
        ("machine", json!("virtual")),
        ("servicing", json!(true)),
        ("timezone", json!("Europe/Berlin")),
        ("memory", json!(4096)),
        ("cores", json!(2)),
        ("disk", json!(50)),
        ("directory_password", json!(secret)),
        ("directory_ring", json!(1)),
    ] {
        assert_eq!(params[key], expected, "{key}: {enc}");
    }
    let interfaces = &params["interfaces"];
    assert_eq!(
        interfaces["srv"]["networks"],
        json!({"172.20.2.0/24": ["172.20.2.2"], "2a02:db8:f030:102::/64": ["2a02:db8:f030:102::2"]}),
        "the lowest free addresses, past network and gateway: {enc}"
    );
    assert_eq!(
        interfaces["srv"]["gateways"],
        json!({"172.20.2.0/24": "172.20.2.1", "2a02:db8:f030:102::/64": "2a02:db8:f030:102::1"})
    );
    assert_eq!(interfaces["fe"]["networks"], json!({"172.20.3.0/24": ["172.20.3.2"]}), "given when fe was defined");
    for vlan in ["srv", "fe"] {
        assert_eq!(interfaces[vlan]["bridged"], false, "every interface says whether it is bridged");
        let mac = interfaces[vlan]["mac"].as_str().unwrap();
        assert!(mac.starts_with("02:") && mac.len() == 17, "locally administered: {mac}");
    }
    assert_ne!(interfaces["srv"]["mac"], interfaces["fe"]["mac"]);
    // Numbers in creation order: the projects shop and other, then web01 (db01 and x01 after).
    assert_eq!(params["id"], 3, "{enc}");
    // A neighbour's ENC, without its password; another resource group's node is unknown.
    let db = call(url.clone(), "lookup_node", json!(["db01"])).await;
    assert_eq!((db["name"].as_str(), db["parameters"]["directory_password"].as_str()), (Some("db01"), Some("")));
    let foreign = call(url.clone(), "lookup_node", json!(["x01"])).await;
    assert_eq!(foreign["fault"], 404, "{foreign}");
    let permissions = call(url.clone(), "list_permissions", json!([])).await;
    let names: Vec<&str> = permissions.as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["login", "code", "stats", "sudo-srv", "manager", "wheel"]);

    // Wrong calls are faults that say what to do.
    let unknown = call(url.clone(), "list_routers", json!([])).await;
    assert_eq!(unknown["fault"], 405);
    assert!(unknown["message"].as_str().unwrap().contains("\"list_routers\""), "{unknown}");
    let arity = call(url.clone(), "lookup_node", json!([])).await;
    assert!(arity["message"].as_str().unwrap().contains("lookup_node takes the node's name"), "{arity}");
    let kind = call(url.clone(), "lookup_node", json!([42])).await;
    assert_eq!(kind["fault"], 400, "{kind}");
    assert_eq!(app.head().await, head, "reads append nothing");
});

both_stores!(node_credentials_open_their_own_path_only, async |app: &TestApp| {
    let p = platform(app).await;
    let secret = password(app, &p, &p.web).await;
    let other_secret = password(app, &p, &p.other).await;
    let head = app.head().await;
    let lookup = |url: String| call(url, "list_permissions", json!([]));
    assert!(lookup(p.url("web01", &secret, "/v2/api/rg-shop")).await.is_array());
    assert_eq!(lookup(p.url("web01", "wrong", "/v2/api/rg-shop")).await, json!({"http": 401}));
    assert_eq!(lookup(p.url("web01", &other_secret, "/v2/api/rg-shop")).await, json!({"http": 401}), "x01's password");
    assert_eq!(lookup(p.url("nobody", &secret, "/v2/api/rg-shop")).await, json!({"http": 401}));
    assert_eq!(lookup(p.url("web01", &secret, "/v2/api/rg-other")).await, json!({"http": 403}), "another group");
    assert_eq!(lookup(p.url("web01", &secret, "/v2/api")).await, json!({"http": 403}), "ring 0 from ring 1");
    assert_eq!(lookup(p.url("web01", &secret, "/v2/api/shop")).await, json!({"http": 404}));
    assert_eq!(app.head().await, head);

    // Ring 0 reaches the whole platform (and every group's path).
    let ring = "mutation($v: ID!) { setDirectoryRing(vmId: $v, ring: 0) { directoryRing } }";
    app.ok(BOOT, ring, json!({"v": p.other})).await;
    assert!(lookup(p.url("x01", &other_secret, "/v2/api")).await.is_array());
    let enc = call(p.url("x01", &other_secret, "/v2/api/rg-shop"), "lookup_node", json!(["web01"])).await;
    assert_eq!(enc["parameters"]["directory_password"], "", "never another node's password");
    let anywhere = call(p.url("x01", &other_secret, "/v2/api"), "lookup_node", json!(["web01"])).await;
    assert_eq!(anywhere["parameters"]["resource_group"], "shop", "ring 0 looks up any node: {anywhere}");

    // A rotated password, or a decommissioned node, is refused.
    let rotate = "mutation($v: ID!) { rotateNodePassword(vmId: $v) { password } }";
    let rotated = s(&app.ok(&p.ops, rotate, json!({"v": p.web})).await["rotateNodePassword"]["password"]);
    assert_eq!(lookup(p.url("web01", &secret, "/v2/api/rg-shop")).await, json!({"http": 401}));
    assert!(lookup(p.url("web01", &rotated, "/v2/api/rg-shop")).await.is_array());
    let db_secret = password(app, &p, &p.db).await;
    let gone = "mutation($v: ID!) { decommissionVm(vmId: $v, effectiveAt: \"2026-06-01T00:00:00Z\") { id } }";
    app.ok(BOOT, gone, json!({"v": p.db})).await;
    assert_eq!(lookup(p.url("db01", &db_secret, "/v2/api/rg-shop")).await, json!({"http": 401}));
});

both_stores!(hostile_bodies_are_refused_before_they_cost_anything, async |app: &TestApp| {
    let p = platform(app).await;
    let secret = password(app, &p, &p.web).await;
    let head = app.head().await;
    let url = format!("http://{}/v2/api/rg-shop", p.base);
    let raw = |body: &str| {
        python(RAW, vec![url.clone(), "web01".into(), secret.clone(), "0".into()], body.as_bytes().to_vec())
    };
    let laughs = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol9 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><methodCall><methodName>&lol9;</methodName></methodCall>"#;
    let external = r#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><methodCall><methodName>&xxe;</methodName></methodCall>"#;
    let deep = format!(
        "<methodCall><methodName>lookup_node</methodName><params><param>{}{}</param></params></methodCall>",
        "<value><array><data>".repeat(5000),
        "</data></array></value>".repeat(5000)
    );
    for (what, body) in
        [("entities", laughs), ("external entity", external), ("nesting", deep.as_str()), ("not XML", "{\"json\": 1}")]
    {
        let answer = raw(body).await;
        assert_eq!(answer["status"], 200, "{what}: a fault, as XML-RPC has it: {answer}");
        let text = answer["body"].as_str().unwrap();
        assert!(text.contains("<fault>") && !text.contains("root:"), "{what}: {text}");
    }
    // Ten megabytes are refused by size, unread.
    let big =
        python(RAW, vec![url.clone(), "web01".into(), secret.clone(), (10 * 1024 * 1024).to_string()], vec![]).await;
    assert_eq!(big["status"], 413, "{}", big["status"]);
    assert_eq!(app.head().await, head);
});

both_stores!(
    list_users_serves_the_resource_groups_people_staff_and_service_user_as_nixos_reads_them,
    async |app: &TestApp| {
        let p = platform(app).await;
        let shop = s(&app
            .ok(BOOT, "{ projects: customers { nodes { projects { id resourceGroup } } } }", json!({}))
            .await["projects"]["nodes"][0]["projects"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["resourceGroup"] == "shop")
            .unwrap()["id"]);
        let acme = s(&app.ok(BOOT, "{ customers { nodes { id } } }", json!({})).await["customers"]["nodes"][0]["id"]);
        let register = "mutation($i: RegisterPersonInput!) { registerPerson(input: $i) { id uid uidNumber } }";
        let grant =
            "mutation($p: ID!, $pr: ID!, $r: Role!) { grantRole(personId: $p, projectId: $pr, role: $r) { id } }";
        let add_key = "mutation($p: ID!, $k: String!) { addSshKey(personId: $p, publicKey: $k) { id } }";
        let mut people = std::collections::BTreeMap::new();
        for (name, email, role) in [
            ("Ada Lovelace", "ada@example.org", Some("MEMBER")),
            ("Max Planck", "max@example.org", Some("MANAGER")),
            ("Vera Rubin", "vera@example.org", Some("VIEWER")),
            ("Carl Gauss", "carl@example.org", Some("MEMBER")),
            ("Gus Grissom", "ada@other.example", None),
        ] {
            let person = app.ok(BOOT, register, json!({"i": {"name": name, "email": email, "customerId": acme}})).await
                ["registerPerson"]
                .clone();
            if let Some(role) = role {
                app.ok(BOOT, grant, json!({"p": person["id"], "pr": shop, "r": role})).await;
            }
            people.insert(name, person);
        }
        assert_eq!(people["Gus Grissom"]["uid"], "ada-2", "a login name is made unique");
        let numbers: std::collections::BTreeSet<i64> =
            people.values().map(|p| p["uidNumber"].as_i64().unwrap()).collect();
        assert!(numbers.len() == 5 && numbers.iter().all(|n| *n >= 1000), "{numbers:?}");
        let ed = |comment: &str| {
            format!("{} {comment}", crate::flows::ED25519.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
        };
        app.ok(BOOT, add_key, json!({"p": people["Ada Lovelace"]["id"], "k": ed("ada@laptop")})).await;
        app.ok(
            BOOT,
            "mutation($p: ID!) { deactivatePerson(personId: $p) { id } }",
            json!({"p": people["Carl Gauss"]["id"]}),
        )
        .await;

        let secret = password(app, &p, &p.web).await;
        let users = call(p.url("web01", &secret, "/v2/api/rg-shop"), "list_users", json!([])).await;
        let users = users.as_array().unwrap_or_else(|| panic!("{users}"));
        let by_uid: std::collections::BTreeMap<&str, &Value> =
            users.iter().map(|u| (u["uid"].as_str().unwrap(), u)).collect();
        let order: Vec<&str> = users.iter().map(|u| u["uid"].as_str().unwrap()).collect();
        assert_eq!(order, ["px", "ada", "max", "vera", "s-shop"], "by login number, Otto (OPS, p@) first: {users:?}");
        let allowed = ["login", "code", "stats", "sudo-srv", "manager", "wheel"];
        for user in users {
            assert!(user["password"].is_string() && user["permissions"]["shop"].is_array(), "{user}");
            assert!(
                user["permissions"]["shop"].as_array().unwrap().iter().all(|p| allowed.contains(&p.as_str().unwrap()))
            );
            assert!(user["id"].is_i64() && user["gid"].is_i64() && user["ssh_pubkey"].is_array(), "{user}");
        }
        let ada = by_uid["ada"];
        assert_eq!(ada["class"], "human");
        assert_eq!(ada["permissions"], json!({"shop": ["login", "code", "stats"]}));
        assert_eq!(ada["ssh_pubkey"], json!([ed("ada@laptop")]));
        assert_eq!((ada["home_directory"].as_str(), ada["password"].as_str()), (Some("/home/ada"), Some("*")));
        assert_eq!(by_uid["max"]["permissions"], json!({"shop": ["login", "code", "stats", "sudo-srv", "manager"]}));
        assert_eq!(by_uid["vera"]["permissions"], json!({"shop": ["stats"]}));
        assert_eq!(by_uid["px"]["permissions"], json!({"shop": ["login", "code", "stats", "sudo-srv", "wheel"]}));
        let service = by_uid["s-shop"];
        assert_eq!((service["class"].as_str(), service["gid"].as_i64()), (Some("service"), Some(101)));
        assert_eq!(service["home_directory"], "/srv/s-shop");
        assert_eq!(service["ssh_pubkey"], json!([ed("ada@laptop")]), "the members' and managers' keys");
        assert_eq!(service["permissions"], json!({"shop": []}));

        // Its own group by name too; another group is not reachable from ring 1.
        let named = call(p.url("web01", &secret, "/v2/api/rg-shop"), "list_users", json!(["shop"])).await;
        assert_eq!(named.as_array().unwrap().len(), 5);
        let other = call(p.url("web01", &secret, "/v2/api/rg-shop"), "list_users", json!(["other"])).await;
        assert_eq!(other["fault"], 403, "{other}");
        let unknown = call(p.url("web01", &secret, "/v2/api/rg-shop"), "list_users", json!(["nope"])).await;
        assert_eq!(
            unknown["message"],
            other["message"].as_str().unwrap().replace("other", "nope"),
            "no telling which exist"
        );
    }
);

both_stores!(ring_0_lists_deletions_by_stage_and_a_locations_machines, async |app: &TestApp| {
    let p = platform(app).await;
    let secret = password(app, &p, &p.other).await;
    let ring = "mutation($v: ID!) { setDirectoryRing(vmId: $v, ring: 0) { directoryRing } }";
    app.ok(BOOT, ring, json!({"v": p.other})).await;
    let shop =
        s(&app.ok(BOOT, "query($v: ID!) { vm(id: $v) { projectId } }", json!({"v": p.web})).await["vm"]["projectId"]);
    let now = chrono::Utc::now();
    let decommission = "mutation($v: ID!, $t: DateTime!) { decommissionVm(vmId: $v, effectiveAt: $t) { id } }";
    for (name, days_ago) in [("gone-1", 1), ("gone-10", 10), ("gone-40", 40), ("gone-100", 100), ("leaving", -5)] {
        let vm = json!({"i": {"projectId": shop, "name": name, "location": "rzob", "cpu": 1, "ramGb": 1, "diskGb": 10, "effectiveAt": "2026-02-01T00:00:00Z", "hostname": name}});
        let id = s(&app.ok(BOOT, PROVISION, vm).await["provisionVm"]["id"]);
        let at = (now - chrono::Duration::days(days_ago)).to_rfc3339();
        app.ok(BOOT, decommission, json!({"v": id, "t": at})).await;
    }
    let ring_0 = p.url("x01", &secret, "/v2/api");
    let deletions = call(ring_0.clone(), "deletions", json!(["vm"])).await;
    assert_eq!(
        deletions,
        json!({
            "gone-1": {"stages": ["prepare", "soft"]},
            "gone-10": {"stages": ["prepare", "soft", "hard"]},
            "gone-40": {"stages": ["prepare", "soft", "hard", "purge"]},
        }),
        "after 90 days a VM leaves the list; one decommissioned next week is not on it yet"
    );
    assert_eq!(call(ring_0.clone(), "deletions", json!(["router"])).await["fault"], 400);
    let machines = call(ring_0.clone(), "list_virtual_machines", json!(["rzob"])).await;
    let names: Vec<&str> = machines.as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["db01", "leaving", "web01", "x01"], "in service at rzob, by name");
    assert_eq!(machines[2]["parameters"]["resource_group"], "shop");
    assert_eq!(call(ring_0, "list_virtual_machines", json!(["nowhere"])).await, json!([]));
    // Ring 0 methods need the ring 0 path; ring 1 nodes cannot reach it at all.
    let on_group_path = call(p.url("x01", &secret, "/v2/api/rg-other"), "deletions", json!(["vm"])).await;
    assert_eq!(on_group_path["fault"], 403, "{on_group_path}");
    let web_secret = password(app, &p, &p.web).await;
    let from_ring_1 = call(p.url("web01", &web_secret, "/v2/api/rg-shop"), "deletions", json!(["vm"])).await;
    assert_eq!(from_ring_1["fault"], 403, "{from_ring_1}");
});

both_stores!(
    an_external_checker_runs_the_monitors_staff_gave_it_and_its_results_are_transitions,
    async |app: &TestApp| {
        let p = platform(app).await;
        let secret = password(app, &p, &p.other).await;
        app.ok(BOOT, "mutation($v: ID!) { setDirectoryRing(vmId: $v, ring: 0) { id } }", json!({"v": p.other})).await;
        let shop = s(
            &app.ok(BOOT, "query($v: ID!) { vm(id: $v) { projectId } }", json!({"v": p.web})).await["vm"]["projectId"],
        );
        let create = "mutation($i: CreateHttpMonitorInput!) { createHttpMonitor(input: $i) { id checkedBy } }";
        let monitor = |url: &str, checker: &str| json!({"i": {"projectId": shop, "url": url, "followRedirects": true, "expectedStatus": "200,301-302", "effectiveAt": "2026-01-01T00:00:00Z", "checkedBy": checker}});
        let external =
            app.ok(&p.ops, create, monitor("https://shop.example.com/", "EXTERNAL")).await["createHttpMonitor"].clone();
        assert_eq!(external["checkedBy"], "EXTERNAL");
        // One the Directory checks itself, created right after.
        app.ok(&p.ops, create, monitor("https://api.example.com/", "DIRECTORY")).await;
        let ring_0 = p.url("x01", &secret, "/v2/api");

        let checks = call(ring_0.clone(), "list_servicechecks", json!([])).await;
        let checks = checks.as_array().unwrap_or_else(|| panic!("{checks}"));
        assert_eq!(checks.len(), 1, "only the monitors the external checker runs: {checks:?}");
        let check = &checks[0];
        assert_eq!(
            (
                check["resource_group"].clone(),
                check["url"].clone(),
                check["redirect"].clone(),
                check["acceptable"].clone()
            ),
            (json!("shop"), json!("https://shop.example.com/"), json!(true), json!([200, 301, 302]))
        );
        let id = check["id"].as_i64().unwrap();

        // Results in the checker's local time (Berlin): CRITICAL is down, WARNING up, UNKNOWN nothing.
        let result = |state: i64, at: &str| json!({"id": id, "state": state, "result": "HTTP 503", "last_check": at});
        let register = |results: Value| call(ring_0.clone(), "register_servicecheck_results", json!([results]));
        assert_eq!(register(json!([result(2, "2026-11-20T15:00:00")])).await, "");
        let state = "query($m: ID!) { httpMonitor(id: $m) { state lastTransitionAt } }";
        let seen = app.ok(BOOT, state, json!({"m": external["id"]})).await["httpMonitor"].clone();
        assert_eq!(seen, json!({"state": "DOWN", "lastTransitionAt": "2026-11-20T14:00:00+00:00"}));
        register(json!([result(1, "2026-11-20T15:10:00"), result(3, "2026-11-20T15:20:00")])).await;
        let seen = app.ok(BOOT, state, json!({"m": external["id"]})).await["httpMonitor"].clone();
        assert_eq!(seen, json!({"state": "UP", "lastTransitionAt": "2026-11-20T14:10:00+00:00"}));
        let history = "query($e: ID!) { history(entityId: $e) { eventType actor } }";
        let lines = app.ok(BOOT, history, json!({"e": external["id"]})).await["history"].clone();
        let actors: Vec<&str> =
            lines.as_array().unwrap().iter().skip(1).map(|l| l["actor"].as_str().unwrap()).collect();
        assert_eq!(actors, ["node:x01", "node:x01"]);

        // Wrong results are faults, and none of a faulty list is recorded.
        let head = app.head().await;
        // Numbers are given in creation order: the monitor created next has the next one.
        let own_id = id + 1;
        for (results, why) in [
            (
                json!([result(2, "2026-11-21T10:00:00"), {"id": 999_999, "state": 2, "last_check": "2026-11-21T10:00:00"}]),
                "no check 999999",
            ),
            (json!([{"id": own_id, "state": 2, "last_check": "2026-11-21T10:00:00"}]), "the Directory's own checker"),
            (json!([result(5, "2026-11-21T10:00:00")]), "state 5"),
            (json!([result(2, "tomorrow")]), "last_check"),
            (json!([42]), "must be a struct"),
        ] {
            let answer = register(results).await;
            assert_eq!(answer["fault"], 400, "{answer}");
            assert!(answer["message"].as_str().unwrap().contains(why), "{answer}");
        }
        assert_eq!(app.head().await, head);
        // Ring 1 nodes do not reach them.
        let web_secret = password(app, &p, &p.web).await;
        let denied = call(p.url("web01", &web_secret, "/v2/api/rg-shop"), "list_servicechecks", json!([])).await;
        assert_eq!(denied["fault"], 403);
    }
);

/// A backup server's call as backy makes it: revisions with a `dateTime` timestamp.
const BACKUP: &str = r#"
import datetime, json, sys, xmlrpc.client
url, vm = sys.argv[1], sys.argv[2]
proxy = xmlrpc.client.ServerProxy(url, allow_none=True, use_datetime=True)
revisions = [
    {"uuid": "rev-1", "timestamp": datetime.datetime(2026, 11, 20, 2, 0, 0), "stats": {"bytes_written": 1500000000, "duration": 120.5}, "tags": ["daily"], "trust": "trusted", "server": "backy01"},
    {"uuid": "rev-2", "timestamp": datetime.datetime(2026, 11, 21, 2, 0, 0), "stats": {"bytes_written": 20, "duration": 3.0}, "tags": ["daily", "weekly"], "trust": "trusted", "server": "backy01"},
]
try:
    result = proxy.publish_backup_status(vm, revisions)
except xmlrpc.client.Fault as f:
    result = {"fault": f.faultCode, "message": f.faultString}
json.dump(result, sys.stdout, sort_keys=True)
"#;

both_stores!(a_backup_server_publishes_revisions_as_backup_records_once, async |app: &TestApp| {
    let p = platform(app).await;
    let secret = password(app, &p, &p.other).await;
    app.ok(BOOT, "mutation($v: ID!) { setDirectoryRing(vmId: $v, ring: 0) { id } }", json!({"v": p.other})).await;
    let ring_0 = p.url("x01", &secret, "/v2/api");
    assert_eq!(python(BACKUP, vec![ring_0.clone(), "web01".into()], vec![]).await, "");
    let history =
        "query($v: ID!) { backupHistory(vmId: $v) { nodes { backupId status startedAt finishedAt sizeBytes tags } } }";
    let backups = app.ok(BOOT, history, json!({"v": p.web})).await["backupHistory"]["nodes"].clone();
    let mut backups: Vec<Value> = backups.as_array().unwrap().clone();
    backups.sort_by_key(|b| b["backupId"].as_str().unwrap().to_owned());
    assert_eq!(
        backups[0],
        json!({"backupId": "rev-1", "status": "SUCCEEDED", "startedAt": "2026-11-20T01:57:59.500+00:00", "finishedAt": "2026-11-20T02:00:00+00:00", "sizeBytes": 1500000000i64, "tags": ["daily"]})
    );
    assert_eq!(backups.len(), 2);
    // Again: nothing new.
    let head = app.head().await;
    assert_eq!(python(BACKUP, vec![ring_0.clone(), "web01".into()], vec![]).await, "");
    assert_eq!(app.head().await, head);
    let unknown = python(BACKUP, vec![ring_0, "nobody".into()], vec![]).await;
    assert_eq!(unknown["fault"], 404, "{unknown}");
    let events = app.ok(BOOT, "query($e: ID!) { history(entityId: $e) { actor } }", json!({"e": p.web})).await;
    assert!(events.to_string().contains("node:x01"), "{events}");
});

both_stores!(a_node_marks_itself_out_of_service_and_comes_back, async |app: &TestApp| {
    let p = platform(app).await;
    let secret = password(app, &p, &p.web).await;
    let url = p.url("web01", &secret, "/v2/api/rg-shop");
    let servicing = |enc: &Value| enc["parameters"]["servicing"].clone();
    assert_eq!(servicing(&call(url.clone(), "lookup_node", json!(["web01"])).await), true);
    assert_eq!(call(url.clone(), "mark_node_service_status", json!(["web01", false])).await, "");
    assert_eq!(servicing(&call(url.clone(), "lookup_node", json!(["web01"])).await), false);
    let q = "query($v: ID!) { vm(id: $v) { servicing } }";
    assert_eq!(app.ok(BOOT, q, json!({"v": p.web})).await["vm"]["servicing"], false);
    assert_eq!(call(url.clone(), "mark_node_service_status", json!(["web01", true])).await, "");
    assert_eq!(app.ok(BOOT, q, json!({"v": p.web})).await["vm"]["servicing"], true);
    // For a while only: back by itself after the seconds given.
    assert_eq!(call(url.clone(), "mark_node_service_status", json!(["db01", false, 3600])).await, "");
    assert_eq!(app.ok(BOOT, q, json!({"v": p.db})).await["vm"]["servicing"], false);
    let later = app
        .server_with_clock(std::sync::Arc::new(app::clock::ManualClock::new(
            chrono::Utc::now() + chrono::Duration::hours(2),
        )))
        .await;
    assert!(later.bus.projector.wait_for(app.head().await, std::time::Duration::from_secs(5)).await);
    let db: domain::VmId = p.db.parse().unwrap();
    assert!(later.catalog().live().vm(&db).unwrap().servicing_at(later.now()), "back after an hour");
    // Recorded as the node; another group's node, and bad arguments, are faults.
    let history = app.ok(BOOT, "query($e: ID!) { history(entityId: $e) { summary actor } }", json!({"e": p.web})).await;
    assert!(history.to_string().contains("\"actor\":\"node:web01\""), "{history}");
    let head = app.head().await;
    assert_eq!(call(url.clone(), "mark_node_service_status", json!(["x01", false])).await["fault"], 404);
    assert_eq!(call(url.clone(), "mark_node_service_status", json!(["web01", "no"])).await["fault"], 400);
    assert_eq!(call(url.clone(), "mark_node_service_status", json!(["web01", false, -5])).await["fault"], 400);
    assert_eq!(call(url, "mark_node_service_status", json!(["web01"])).await["fault"], 400);
    assert_eq!(app.head().await, head);
});

both_stores!(a_node_learns_its_neighbours_addresses_and_the_services_it_uses, async |app: &TestApp| {
    let p = platform(app).await;
    let roles = "mutation($v: ID!, $r: [String!]!) { setVmRoles(vmId: $v, roles: $r) { id } }";
    app.ok(BOOT, roles, json!({"v": p.db, "r": ["postgresql15", "sensuserver"]})).await;
    app.ok(BOOT, roles, json!({"v": p.other, "r": ["sensuserver", "redis"]})).await;
    let (web, db, x) =
        (password(app, &p, &p.web).await, password(app, &p, &p.db).await, password(app, &p, &p.other).await);
    let head = app.head().await;
    let web_url = p.url("web01", &web, "/v2/api/rg-shop");

    let srv = call(web_url.clone(), "list_nodes_addresses", json!(["rzob", "srv"])).await;
    let rows: Vec<(String, String)> = srv.as_array().unwrap().iter().map(|r| (s(&r["name"]), s(&r["ip"]))).collect();
    let expected = [
        ("web01", "172.20.2.2/24"),
        ("web01", "2a02:db8:f030:102::2/64"),
        ("db01", "172.20.2.3/24"),
        ("db01", "2a02:db8:f030:102::3/64"),
    ];
    assert_eq!(rows, expected.map(|(n, ip)| (n.to_owned(), ip.to_owned())), "its group's nodes only: {srv}");
    let first = &srv[0];
    assert_eq!(
        (first["vlan"].as_str(), first["rg"].as_str(), first["rg_parent"].as_str()),
        (Some("srv"), Some("shop"), Some(""))
    );
    assert_eq!(first["ring"], 1);
    let enc = call(web_url.clone(), "lookup_node", json!(["web01"])).await;
    assert_eq!(first["mac"], enc["parameters"]["interfaces"]["srv"]["mac"]);
    let v4 = call(web_url.clone(), "list_nodes_addresses", json!(["rzob", "srv", 4])).await;
    assert_eq!(v4.as_array().unwrap().len(), 2, "{v4}");
    let every = call(web_url.clone(), "list_nodes_addresses", json!(["rzob", ""])).await;
    assert_eq!(every.as_array().unwrap().len(), 6, "fe too: {every}");
    assert_eq!(call(web_url.clone(), "list_nodes_addresses", json!(["whq", "srv"])).await, json!([]));
    assert_eq!(call(web_url.clone(), "list_nodes_addresses", json!(["rzob", "srv", 5])).await["fault"], 400);
    assert_eq!(call(web_url.clone(), "list_nodes_addresses", json!(["rzob"])).await["fault"], 400);

    // Services: a platform service once per location (its oldest provider), the group's own.
    let services = call(web_url.clone(), "list_services", json!([])).await;
    let names: Vec<String> =
        services.as_array().unwrap().iter().map(|s| s["service"].as_str().unwrap().to_owned()).collect();
    assert_eq!(names, ["postgresql15-server", "sensuserver-server", "webgateway-server"], "{services}");
    let sensu = &services[1];
    assert_eq!(sensu["address"], "db01.fcio.net");
    assert_eq!(sensu["ips"], json!(["172.20.3.3", "172.20.2.3", "2a02:db8:f030:102::3"]), "{sensu}");
    assert_eq!(sensu["location"], "rzob");
    let web_password = s(&sensu["password"]);
    assert_eq!(web_password.len(), 32);
    // Another group's node uses the platform service, never the group's own.
    let x_services = call(p.url("x01", &x, "/v2/api/rg-other"), "list_services", json!([])).await;
    let names: Vec<&str> = x_services.as_array().unwrap().iter().map(|s| s["service"].as_str().unwrap()).collect();
    assert_eq!(names, ["redis-server", "sensuserver-server"], "{x_services}");
    assert!(!x_services.to_string().contains("postgresql15"));

    // The provider learns its clients, with the passwords they log in with.
    let clients = call(p.url("db01", &db, "/v2/api/rg-shop"), "list_service_clients", json!([])).await;
    let rows: Vec<(&str, &str)> = clients
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["service"].as_str().unwrap(), c["node"].as_str().unwrap()))
        .collect();
    assert_eq!(
        rows,
        [
            ("postgresql15-server", "web01.fcio.net"),
            ("postgresql15-server", "db01.fcio.net"),
            ("sensuserver-server", "web01.fcio.net"),
            ("sensuserver-server", "db01.fcio.net"),
            ("sensuserver-server", "x01.fcio.net"),
        ],
        "{clients}"
    );
    assert_eq!(clients[2]["password"], json!(web_password), "the client's and the provider's passwords agree");
    let none = call(web_url.clone(), "list_service_clients", json!([])).await;
    assert_eq!(none.as_array().unwrap().iter().filter(|c| c["node"] == "x01.fcio.net").count(), 0, "{none}");
    assert_eq!(app.head().await, head, "reads append nothing");
});

both_stores!(a_node_asks_for_maintenance_and_its_window_counts_as_announced, async |app: &TestApp| {
    let p = platform(app).await;
    let secret = password(app, &p, &p.web).await;
    let url = p.url("web01", &secret, "/v2/api/rg-shop");
    let head = app.head().await;
    assert_eq!(call(url.clone(), "schedule_maintenance", json!([{}])).await, json!({}), "an empty request");
    assert_eq!(app.head().await, head);

    let before = head;
    let asked =
        call(url.clone(), "schedule_maintenance", json!([{"r1": {"estimate": 1800, "comment": "kernel update"}}]))
            .await;
    let time = s(&asked["r1"]["time"]);
    let start = chrono::DateTime::parse_from_rfc3339(&time).unwrap();
    let berlin = start.with_timezone(&chrono_tz::Europe::Berlin);
    assert_eq!(chrono::Timelike::hour(&berlin), 22, "in the night slot: {time}");
    assert!(start >= chrono::Utc::now() + chrono::Duration::hours(24), "a day away at least: {time}");
    let head = app.head().await;
    assert_eq!(
        call(url.clone(), "schedule_maintenance", json!([{"r1": {"estimate": 1800}}])).await,
        asked,
        "asked again"
    );
    assert_eq!(app.head().await, head, "nothing new");
    // As an agent may write it: <i8> seconds; a second request shares the slot.
    let body = br#"<?xml version="1.0"?><methodCall><methodName>schedule_maintenance</methodName><params><param><value><struct>
        <member><name>r2</name><value><struct><member><name>estimate</name><value><i8>600</i8></value></member>
        <member><name>comment</name><value><nil/></value></member></struct></value></member>
        </struct></value></param></params></methodCall>"#;
    let second = python(RAW_CALL, vec![url.clone(), "web01".into(), secret.clone()], body.to_vec()).await;
    assert_eq!(second["r2"]["time"], json!(time), "{second}");

    // The project's overview and its SLA report show both, with the VM.
    let overview = "query($p: ID!) { infrastructureOverview(projectId: $p) { project { id } upcomingMaintenance { vmId start end reason announcedInTime } } }";
    let shop =
        s(&app.ok(BOOT, "query($v: ID!) { vm(id: $v) { projectId } }", json!({"v": p.web})).await["vm"]["projectId"]);
    let windows =
        app.ok(BOOT, overview, json!({"p": shop})).await["infrastructureOverview"]["upcomingMaintenance"].clone();
    assert_eq!(windows.as_array().unwrap().len(), 2, "{windows}");
    for w in windows.as_array().unwrap() {
        assert_eq!((w["vmId"].as_str(), &w["announcedInTime"]), (Some(p.web.as_str()), &json!(true)), "{w}");
    }
    assert!(windows.to_string().contains("kernel update") && windows.to_string().contains("Requested by web01"));
    let month = berlin.format("%Y-%m").to_string();
    let report = "query($p: ID!, $m: String!) { slaReport(projectId: $p, month: $m) { maintenance { vmId hostname announcedInTime } } }";
    let used = app.ok(BOOT, report, json!({"p": shop, "m": month})).await["slaReport"]["maintenance"].clone();
    assert!(
        used.as_array().unwrap().iter().any(|m| m["hostname"] == "web01" && m["announcedInTime"] == true),
        "{used}"
    );

    // Moved later; called off before it began; an unknown id is left alone.
    assert_eq!(call(url.clone(), "postpone_maintenance", json!([{"r2": {"postpone_by": 3600}}])).await, "");
    let windows =
        app.ok(BOOT, overview, json!({"p": shop})).await["infrastructureOverview"]["upcomingMaintenance"].clone();
    let r2 = windows.as_array().unwrap().iter().find(|w| w["reason"] == "Requested by web01").unwrap().clone();
    assert_eq!(chrono::DateTime::parse_from_rfc3339(&s(&r2["start"])).unwrap(), start + chrono::Duration::hours(1));
    let ended = json!([{"r1": {"duration": null, "result": "deleted"}}]);
    assert_eq!(call(url.clone(), "end_maintenance", ended.clone()).await, "");
    assert_eq!(call(url.clone(), "schedule_maintenance", json!([{"r1": {}}])).await, json!({"r1": {"time": null}}));
    let head = app.head().await;
    assert_eq!(call(url.clone(), "end_maintenance", ended).await, "", "reported again");
    assert_eq!(call(url.clone(), "postpone_maintenance", json!([{"nope": {"postpone_by": 60}}])).await, "");
    assert_eq!(app.head().await, head);
    let recorded =
        app.ok(BOOT, "query($h: Long!) { events(after: $h, first: 50) { actor } }", json!({"h": before})).await;
    let actors: Vec<&str> =
        recorded["events"].as_array().unwrap().iter().map(|e| e["actor"].as_str().unwrap()).collect();
    assert!(!actors.is_empty() && actors.iter().all(|a| *a == "node:web01"), "{recorded}");

    // Bad requests are faults, and record nothing.
    for bad in [json!(["x"]), json!([{"r9": 5}]), json!([{"r9": {"estimate": "soon"}}]), json!([])] {
        let answer = call(url.clone(), "schedule_maintenance", bad.clone()).await;
        assert_eq!(answer["fault"], 400, "{bad}: {answer}");
    }
    assert_eq!(call(url.clone(), "postpone_maintenance", json!([{"r2": {}}])).await["fault"], 400);
    assert_eq!(call(url, "postpone_maintenance", json!([{"r2": {"postpone_by": -5}}])).await["fault"], 400);
    assert_eq!(app.head().await, head);
});
