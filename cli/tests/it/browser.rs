//! The portal in a real browser: Debian's chromium, driven headless by playwright-core
//! (`api/tests/browser/portal.mjs`) against a `directory serve` this test starts and fills.
//! Screenshots of the main pages land in the target directory's `browser-screenshots/`.

use std::process::{Command, Stdio};

use serde_json::{Value, json};
use store::testing::TempStore;

const TOKEN: &str = "browser-test-token-0123456789abcdef";

struct Server {
    child: std::process::Child,
    base: String,
    client: reqwest::Client,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    async fn gql(&self, token: &str, query: &str, variables: Value) -> Value {
        let res = self
            .client
            .post(format!("{}/graphql", self.base))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&json!({"query": query, "variables": variables})).unwrap())
            .send()
            .await
            .unwrap();
        let body: Value = serde_json::from_slice(&res.bytes().await.unwrap()).unwrap();
        assert!(body.get("errors").is_none(), "{query}: {body}");
        body["data"].clone()
    }
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}")).to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_and_customers_use_the_portal_in_chromium() {
    let store = TempStore::sqlite();
    let addr = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().to_string()
    };
    let child = Command::new(env!("CARGO_BIN_EXE_directory"))
        .arg("serve")
        .env("DATABASE_URL", &store.url)
        .env("DIRECTORY_LISTEN", &addr)
        .env("DIRECTORY_BOOTSTRAP_TOKEN", TOKEN)
        .stderr(Stdio::null())
        .spawn()
        .expect("start directory serve");
    let server = Server { child, base: format!("http://{addr}"), client: reqwest::Client::new() };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::net::TcpStream::connect(&addr).is_err() {
        assert!(std::time::Instant::now() < deadline, "the server did not start");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }

    // Two customers; a project tree with a VM that is resized; a person with a token; an invoice.
    let customer = "mutation($n: String!, $c: String!) { registerCustomer(input: {name: $n, country: $c, billingAddress: \"Hauptstraße 1\\n10115 Berlin\"}) { id } }";
    let acme = s(&server.gql(TOKEN, customer, json!({"n": "Acme GmbH", "c": "DE"})).await["registerCustomer"]["id"]);
    let globex = s(&server.gql(TOKEN, customer, json!({"n": "Globex Inc", "c": "US"})).await["registerCustomer"]["id"]);
    let project = "mutation($c: ID!, $p: ID, $n: String!) { createProject(input: {customerId: $c, parentId: $p, name: $n, slaClass: STANDARD, effectiveAt: \"2025-01-01T00:00:00Z\"}) { id } }";
    let shop = s(&server.gql(TOKEN, project, json!({"c": acme, "n": "Shop"})).await["createProject"]["id"]);
    let staging =
        s(&server.gql(TOKEN, project, json!({"c": acme, "p": shop, "n": "Shop staging"})).await["createProject"]["id"]);
    let secret = s(&server.gql(TOKEN, project, json!({"c": globex, "n": "Secret"})).await["createProject"]["id"]);
    let network = "mutation { defineNetwork(location: \"fsn1\", vlan: \"srv\", cidr: \"172.20.2.0/24\", gateway: \"172.20.2.1\") { cidr } }";
    server.gql(TOKEN, network, json!({})).await;
    let provision = "mutation($p: ID!) { provisionVm(input: {projectId: $p, name: \"web-1\", location: \"fsn1\", cpu: 2, ramGb: 4, diskGb: 40, effectiveAt: \"2026-02-01T00:00:00Z\"}) { id } }";
    let vm = s(&server.gql(TOKEN, provision, json!({"p": staging})).await["provisionVm"]["id"]);
    let before_resize = s(&server.gql(TOKEN, "{ logHead { recordedAt } }", json!({})).await["logHead"]["recordedAt"]);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let resize = "mutation($v: ID!) { resizeVm(vmId: $v, cpu: 8, ramGb: 16, diskGb: 40, effectiveAt: \"2026-03-15T23:00:00Z\") { cpu } }";
    server.gql(TOKEN, resize, json!({"v": vm})).await;
    let backup = "mutation($v: ID!) { recordBackup(input: {vmId: $v, backupId: \"nightly-1\", status: SUCCEEDED, startedAt: \"2026-03-10T01:00:00Z\", finishedAt: \"2026-03-10T01:20:00Z\", sizeBytes: 10100000000}) { backupId } }";
    server.gql(TOKEN, backup, json!({"v": vm})).await;
    let more = "mutation($v: ID!, $b: String!, $s: BackupStatus!, $at: DateTime!, $n: Long, $e: String) { recordBackup(input: {vmId: $v, backupId: $b, status: $s, startedAt: $at, finishedAt: $at, sizeBytes: $n, error: $e}) { backupId } }";
    server
        .gql(
            TOKEN,
            more,
            json!({"v": vm, "b": "nightly-0", "s": "SUCCEEDED", "at": "2026-03-09T01:20:00Z", "n": 9_800_000_000i64}),
        )
        .await;
    let failed = json!({"v": vm, "b": "nightly-2", "s": "FAILED", "at": "2026-03-11T01:20:00Z", "e": "disk full"});
    server.gql(TOKEN, more, failed).await;
    // Enough people for the customer's page to page them.
    for n in 1..=26 {
        let many = "mutation($c: ID!, $n: String!, $e: String!) { registerPerson(input: {name: $n, email: $e, customerId: $c}) { id } }";
        let (name, email) = (format!("Tester {n:02}"), format!("tester{n}@acme.example"));
        server.gql(TOKEN, many, json!({"c": acme, "n": name, "e": email})).await;
    }
    let person = "mutation($c: ID!) { registerPerson(input: {name: \"Ada\", email: \"ada@acme.example\", customerId: $c}) { id } }";
    let ada = s(&server.gql(TOKEN, person, json!({"c": acme})).await["registerPerson"]["id"]);
    let grant = "mutation($p: ID!, $pr: ID!) { grantRole(personId: $p, projectId: $pr, role: MANAGER) { id } }";
    server.gql(TOKEN, grant, json!({"p": ada, "pr": shop})).await;
    let ada_token = s(&server
        .gql(TOKEN, "mutation($p: ID!) { issueToken(personId: $p) { token } }", json!({"p": ada}))
        .await["issueToken"]["token"]);
    let prices = "mutation { publishPriceList(input: {validFrom: \"2026-01-01T00:00:00+01:00\", vcpu: \"12.50\", ramGb: \"3.20\", diskGb: \"0.045\", backupGb: \"0.02\", monitor: \"1.50\", slaBasic: \"0\", slaStandard: \"15\", slaPremium: \"45\"}) { validFrom } }";
    server.gql(TOKEN, prices, json!({})).await;
    let run = server.gql(TOKEN, "mutation { runBilling(period: \"2026-03\") { number } }", json!({})).await;
    assert_eq!(run["runBilling"][0]["number"], "RE-2026-00001");

    let dir = env!("CARGO_MANIFEST_DIR");
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-screenshots");
    let _ = std::fs::remove_dir_all(&shots);
    std::fs::create_dir_all(&shots).unwrap();
    // The as-of picker takes a local time to the second; the browser runs in UTC. A second
    // after the provisioning was recorded is still before the resize (recorded 1.1 s later).
    let before: chrono::DateTime<chrono::Utc> = before_resize.parse().unwrap();
    let before = before + chrono::Duration::seconds(1);
    let out = Command::new("node")
        .arg(format!("{dir}/tests/browser/portal.mjs"))
        .env("BASE", &server.base)
        .env("STAFF_TOKEN", TOKEN)
        .env("CUSTOMER_TOKEN", &ada_token)
        .env("PROJECT", &shop)
        .env("OTHER_PROJECT", &secret)
        .env("VM", &vm)
        .env("BEFORE_RESIZE", before.format("%Y-%m-%dT%H:%M:%S").to_string())
        .env("SCREENSHOTS", &shots)
        .env("TZ", "UTC")
        .output()
        .expect("node with playwright-core (npm install in api/tests/browser) and /usr/bin/chromium");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the browser run failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("all steps passed"), "{stdout}");
    // axe-core looked at every page type (the summary says how many had findings at all).
    assert!(stdout.contains("none serious or critical"), "{stdout}");
    for line in stdout.lines().filter(|l| l.starts_with("axe: ")) {
        eprintln!("{line}");
    }
    for page in [
        "customers",
        "search",
        "history",
        "events",
        "vm",
        "project",
        "customer",
        "invoice",
        "monitor-error",
        "monitors",
        "sla",
        "releases",
        "vm-as-of",
        "dashboard",
        "customer-not-found",
        "customer-phone",
        "graphiql",
    ] {
        assert!(shots.join(format!("{page}.png")).exists(), "screenshot of {page}");
    }
    drop(server);
    store.remove().await;
}
