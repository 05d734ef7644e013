//! GraphQL flows over HTTP, each against SQLite and PostgreSQL.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{BOOT, TestApp, both_stores};

pub(crate) const ED25519: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK6N+SjiAHvT3zzmrFLHmwnIjdJI1ulD/247aNFHKeqV ada@laptop";
const DSA: &str = "ssh-dss AAAAB3NzaC1kc3MAAACBAM9ejy96Tw3emGExhs48b6mGjjcNn65BnRifrsB1hj08xLQidZooEpJRmBEgbHJP/t2Bs9Tx4oLjOEptIxdai2DA+VEsy46zfgfhd6+a2Li99+y1XQb1YuW5wOsFg2Gy1JtKO7VR56a3cr+JlSBtlGnkU8YFMe8Ml2/PjUv+zmsl";

const REGISTER_CUSTOMER: &str = "mutation($i: RegisterCustomerInput!, $r: String) { registerCustomer(input: $i, reason: $r) { id name country vatId closed projects { id } } }";
const CREATE_PROJECT: &str =
    "mutation($i: CreateProjectInput!) { createProject(input: $i) { id name parentId slaClass customerId } }";
const REGISTER_PERSON: &str = "mutation($i: RegisterPersonInput!) { registerPerson(input: $i) { id name customerId } }";
const ISSUE_TOKEN: &str = "mutation($p: ID!) { issueToken(personId: $p) { token personId } }";
pub(crate) const PROVISION: &str =
    "mutation($i: ProvisionVmInput!) { provisionVm(input: $i) { id name cpu ramGb diskGb projectId provisionedAt } }";

pub(crate) fn s(v: &Value) -> String {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}")).to_owned()
}

/// Two customers, each with a project and a person holding a token; a staff auditor and an ops person.
pub(crate) struct World {
    pub acme: String,
    pub acme_root: String,
    pub acme_token: String,
    pub acme_person: String,
    pub globex: String,
    pub globex_project: String,
    pub auditor: String,
    pub ops: String,
}

pub(crate) async fn customer(app: &TestApp, name: &str, country: &str) -> String {
    let d = app
        .ok(
            BOOT,
            REGISTER_CUSTOMER,
            json!({"i": {"name": name, "country": country, "billingAddress": "Street 1\n10115 Berlin"}}),
        )
        .await;
    s(&d["registerCustomer"]["id"])
}

pub(crate) async fn project(app: &TestApp, customer: &str, parent: Option<&str>, name: &str) -> String {
    let d = app
        .ok(
            BOOT,
            CREATE_PROJECT,
            json!({"i": {"customerId": customer, "parentId": parent, "name": name, "slaClass": "STANDARD", "effectiveAt": "2025-01-01T00:00:00Z"}}),
        )
        .await;
    s(&d["createProject"]["id"])
}

pub(crate) async fn person(app: &TestApp, customer: Option<&str>, name: &str) -> (String, String) {
    let d = app
        .ok(BOOT, REGISTER_PERSON, json!({"i": {"name": name, "email": "p@example.com", "customerId": customer}}))
        .await;
    let id = s(&d["registerPerson"]["id"]);
    let t = app.ok(BOOT, ISSUE_TOKEN, json!({"p": id})).await;
    (id, s(&t["issueToken"]["token"]))
}

pub(crate) async fn staff(app: &TestApp, name: &str, role: &str) -> String {
    let (id, token) = person(app, None, name).await;
    app.ok(
        BOOT,
        "mutation($p: ID!, $r: StaffRole!) { grantStaffRole(personId: $p, role: $r) { id } }",
        json!({"p": id, "r": role}),
    )
    .await;
    token
}

pub(crate) async fn world(app: &TestApp) -> World {
    let acme = customer(app, "Acme GmbH", "DE").await;
    let acme_root = project(app, &acme, None, "Shop").await;
    let (acme_person, acme_token) = person(app, Some(&acme), "Ada").await;
    let globex = customer(app, "Globex Inc", "US").await;
    let globex_project = project(app, &globex, None, "Secret").await;
    let auditor = staff(app, "Audrey", "AUDITOR").await;
    let ops = staff(app, "Otto", "OPS").await;
    World { acme, acme_root, acme_token, acme_person, globex, globex_project, auditor, ops }
}

both_stores!(builds_a_customer_with_a_project_tree_people_and_roles, async |app: &TestApp| {
    let w = world(app).await;
    let child = project(app, &w.acme, Some(&w.acme_root), "Shop staging").await;
    app.ok(
        BOOT,
        "mutation($p: ID!, $pr: ID!) { grantRole(personId: $p, projectId: $pr, role: MANAGER) { id } }",
        json!({"p": w.acme_person, "pr": w.acme_root}),
    )
    .await;
    let d = app
        .ok(
            BOOT,
            "query($c: ID!, $p: ID!) { customer(id: $c) { name projects { name parentId children { name } } people { name roles { projectId role } } }
                                project(id: $p) { parentId } }",
            json!({"c": w.acme, "p": child}),
        )
        .await;
    let c = &d["customer"];
    assert_eq!(c["name"], "Acme GmbH");
    assert_eq!(c["projects"].as_array().unwrap().len(), 2);
    assert_eq!(c["projects"][0]["name"], "Shop");
    assert_eq!(c["projects"][0]["children"][0]["name"], "Shop staging");
    assert_eq!(c["people"][0]["roles"][0], json!({"projectId": w.acme_root, "role": "MANAGER"}));
    assert_eq!(d["project"]["parentId"], json!(w.acme_root));

    // A parent of another customer is refused, and nothing is appended.
    let head = app.head().await;
    let code = app
        .code(
            BOOT,
            CREATE_PROJECT,
            json!({"i": {"customerId": w.acme, "parentId": w.globex_project, "name": "X", "slaClass": "BASIC"}}),
        )
        .await;
    assert_eq!(code, "RULE_VIOLATION");
    assert_eq!(app.head().await, head);
});

both_stores!(history_attributes_every_change_with_actor_and_reason, async |app: &TestApp| {
    let d = app
        .ok(
            BOOT,
            REGISTER_CUSTOMER,
            json!({"i": {"name": "Initech", "country": "AT", "vatId": "ATU12345678", "billingAddress": "Wien"}, "r": "signed contract 42"}),
        )
        .await;
    let id = s(&d["registerCustomer"]["id"]);
    assert_eq!(d["registerCustomer"]["vatId"], "ATU12345678");
    app.ok(
        BOOT,
        "mutation($c: ID!) { renameCustomer(customerId: $c, name: \"Initech AG\") { name } }",
        json!({"c": id}),
    )
    .await;
    let h = app
        .ok(
            BOOT,
            "query($c: ID!) { history(entityId: $c) { position actor eventType summary reason } }",
            json!({"c": id}),
        )
        .await;
    let h = h["history"].as_array().unwrap();
    assert_eq!(h.len(), 2);
    assert_eq!(h[0]["eventType"], "CustomerRegistered");
    assert_eq!(h[0]["actor"], "system:bootstrap");
    assert_eq!(h[0]["reason"], "signed contract 42");
    assert_eq!(h[1]["summary"], "Renamed to Initech AG");
    let head =
        app.ok(BOOT, "{ logHead { position chainHash } events(after: 1, first: 1) { position } }", json!({})).await;
    assert_eq!(head["logHead"]["position"], 2);
    assert_eq!(head["logHead"]["chainHash"].as_str().unwrap().len(), 64);
    assert_eq!(head["events"], json!([{"position": 2}]));
});

both_stores!(a_retried_command_id_appends_nothing_and_answers_the_first_result, async |app: &TestApp| {
    let vars = json!({"i": {"commandId": "import-7", "name": "Umbrella", "country": "FR", "billingAddress": "Paris"}});
    let first = app.ok(BOOT, REGISTER_CUSTOMER, vars.clone()).await;
    let head = app.head().await;
    let again = app.ok(BOOT, REGISTER_CUSTOMER, vars).await;
    assert_eq!(first, again, "the retry answers the first result, with the id chosen then");
    assert_eq!(app.head().await, head, "the retry appended nothing");
    let other =
        json!({"i": {"commandId": "import-7", "name": "Umbrella SA", "country": "FR", "billingAddress": "Paris"}});
    assert_eq!(app.code(BOOT, REGISTER_CUSTOMER, other).await, "CONFLICT");
    assert_eq!(app.head().await, head);
});

both_stores!(a_retry_answers_its_own_result_not_what_changed_since, async |app: &TestApp| {
    let vars = json!({"i": {"commandId": "import-8", "name": "Umbrella", "country": "FR", "billingAddress": "Paris"}});
    let first = app.ok(BOOT, REGISTER_CUSTOMER, vars.clone()).await;
    let id = s(&first["registerCustomer"]["id"]);
    let rename = "mutation($c: ID!) { renameCustomer(customerId: $c, name: \"Umbrella SA\") { name } }";
    app.ok(BOOT, rename, json!({"c": id})).await;
    let head = app.head().await;
    assert_eq!(app.ok(BOOT, REGISTER_CUSTOMER, vars).await, first, "answered as the first attempt left it");
    assert_eq!(app.head().await, head);

    let project = project(app, &id, None, "Shop").await;
    let vm = json!({"i": {"projectId": project, "name": "web-1", "location": "fsn1", "cpu": 2, "ramGb": 4, "diskGb": 40, "effectiveAt": "2026-02-01T00:00:00Z"}});
    let vm = s(&app.ok(BOOT, PROVISION, vm).await["provisionVm"]["id"]);
    let resize = "mutation($v: ID!, $c: Int!, $k: ID) { resizeVm(vmId: $v, cpu: $c, ramGb: 4, diskGb: 40, effectiveAt: \"2026-03-01T00:00:00Z\", commandId: $k) { cpu configurations { cpu } } }";
    let first = app.ok(BOOT, resize, json!({"v": vm, "c": 4, "k": "resize-4"})).await;
    app.ok(BOOT, resize, json!({"v": vm, "c": 8, "k": "resize-8"})).await;
    let retry = app.ok(BOOT, resize, json!({"v": vm, "c": 4, "k": "resize-4"})).await;
    assert_eq!(retry, first);
    assert_eq!(retry["resizeVm"], json!({"cpu": 4, "configurations": [{"cpu": 2}, {"cpu": 4}]}));
    let live = app.ok(BOOT, "query($v: ID!) { vm(id: $v) { cpu } }", json!({"v": vm})).await;
    assert_eq!(live["vm"]["cpu"], 8, "the retry changed nothing");

    // A backup recorded, then expired: the retried record answers the backup as recorded.
    let record = "mutation($i: RecordBackupInput!) { recordBackup(input: $i) { backupId expiredAt } }";
    let backup = json!({"i": {"commandId": "backup-1", "vmId": vm, "backupId": "b-1", "status": "SUCCEEDED", "startedAt": "2026-03-09T23:30:00Z", "finishedAt": "2026-03-10T00:00:00Z", "sizeBytes": 1000}});
    let first = app.ok(BOOT, record, backup.clone()).await;
    let expire =
        "mutation($v: ID!) { expireBackup(vmId: $v, backupId: \"b-1\", at: \"2026-04-10T00:00:00Z\") { expiredAt } }";
    app.ok(BOOT, expire, json!({"v": vm})).await;
    assert_eq!(app.ok(BOOT, record, backup).await, first);
    assert_eq!(first["recordBackup"]["expiredAt"], Value::Null);
});

both_stores!(ten_concurrent_retries_of_one_command_append_once, async |app: &TestApp| {
    let acme = customer(app, "Acme", "DE").await;
    let head = app.head().await;
    let vars = json!({"i": {"commandId": "create-shop", "customerId": acme, "name": "Shop", "slaClass": "PREMIUM"}});
    let answers = futures::future::join_all((0..10).map(|_| app.gql(BOOT, CREATE_PROJECT, vars.clone()))).await;
    let ids: std::collections::BTreeSet<String> =
        answers.iter().map(|a| a["data"]["createProject"]["id"].to_string()).collect();
    assert!(answers.iter().all(|a| a.get("errors").is_none()), "{answers:?}");
    assert_eq!(ids.len(), 1, "every retry answers the same project");
    assert_eq!(app.head().await, head + 1, "one event for ten requests");
});

both_stores!(customers_see_only_their_own_customer, async |app: &TestApp| {
    let w = world(app).await;
    let t = &w.acme_token;
    let me = app.ok(t, "{ me { personId customerId staffRoles } }", json!({})).await;
    assert_eq!(me["me"], json!({"personId": w.acme_person, "customerId": w.acme, "staffRoles": []}));
    let own = app.ok(t, "query($c: ID!) { customer(id: $c) { name } }", json!({"c": w.acme})).await;
    assert_eq!(own["customer"]["name"], "Acme GmbH");
    let q = "query($c: ID!, $p: ID!) { customer(id: $c) { name } project(id: $p) { name } }";
    let foreign = app.ok(t, q, json!({"c": w.globex, "p": w.globex_project})).await;
    assert_eq!(foreign, json!({"customer": null, "project": null}), "another customer's ids look unknown");
    let h = app.ok(t, "query($c: ID!) { history(entityId: $c) { position } }", json!({"c": w.globex})).await;
    assert_eq!(h["history"], json!([]));
    assert_eq!(app.code(t, "{ events { position } }", json!({})).await, "FORBIDDEN");

    // Changes: another customer's project looks unknown; staff-only changes are forbidden.
    let add = "mutation($p: ID!) { addDeployment(projectId: $p, name: \"prod\", environment: \"production\") { id } }";
    assert_eq!(app.code(t, add, json!({"p": w.globex_project})).await, "NOT_FOUND");
    assert_eq!(app.code(t, add, json!({"p": w.acme_root})).await, "FORBIDDEN", "not a manager yet");
    let vm = json!({"i": {"projectId": w.acme_root, "name": "x", "location": "fsn1", "cpu": 1, "ramGb": 1, "diskGb": 10, "effectiveAt": "2026-01-01T00:00:00Z"}});
    assert_eq!(app.code(t, PROVISION, vm).await, "FORBIDDEN");
    app.ok(
        BOOT,
        "mutation($p: ID!, $pr: ID!) { grantRole(personId: $p, projectId: $pr, role: MANAGER) { id } }",
        json!({"p": w.acme_person, "pr": w.acme_root}),
    )
    .await;
    let d = app.ok(t, "mutation($p: ID!) { addDeployment(projectId: $p, name: \"prod\", environment: \"production\") { deployments { name environment } } }", json!({"p": w.acme_root})).await;
    assert_eq!(d["addDeployment"]["deployments"], json!([{"name": "prod", "environment": "production"}]));
});

both_stores!(auditors_read_everything_and_change_nothing, async |app: &TestApp| {
    let w = world(app).await;
    let a = &w.auditor;
    let d = app
        .ok(a, "query($c: ID!) { customer(id: $c) { name } events(first: 3) { position } }", json!({"c": w.globex}))
        .await;
    assert_eq!(d["customer"]["name"], "Globex Inc");
    assert_eq!(d["events"].as_array().unwrap().len(), 3);
    let head = app.head().await;
    let attempts = [
        (REGISTER_CUSTOMER, json!({"i": {"name": "X", "country": "DE", "billingAddress": "Y"}})),
        (CREATE_PROJECT, json!({"i": {"customerId": w.acme, "name": "X", "slaClass": "BASIC"}})),
        ("mutation($p: ID!) { deactivatePerson(personId: $p) { id } }", json!({"p": w.acme_person})),
    ];
    for (q, v) in attempts {
        assert_eq!(app.code(a, q, v).await, "FORBIDDEN", "{q}");
    }
    assert_eq!(app.head().await, head);
    // Ops may provision but not grant staff roles.
    let vm = json!({"i": {"projectId": w.acme_root, "name": "web-1", "location": "fsn1", "cpu": 2, "ramGb": 4, "diskGb": 40, "effectiveAt": "2026-01-01T00:00:00Z"}});
    app.ok(&w.ops, PROVISION, vm).await;
    let grant = "mutation($p: ID!) { grantStaffRole(personId: $p, role: ADMIN) { id } }";
    assert_eq!(app.code(&w.ops, grant, json!({"p": w.acme_person})).await, "FORBIDDEN");
});

both_stores!(a_vm_lives_by_effective_time_and_reports_its_backups, async |app: &TestApp| {
    let w = world(app).await;
    let vm = json!({"i": {"projectId": w.acme_root, "name": "db-1", "location": "nbg1", "cpu": 2, "ramGb": 8, "diskGb": 100, "effectiveAt": "2026-01-01T00:00:00Z"}});
    let d = app.ok(BOOT, PROVISION, vm).await;
    let id = s(&d["provisionVm"]["id"]);
    assert_eq!(d["provisionVm"]["provisionedAt"], "2026-01-01T00:00:00+00:00");
    let resize = "mutation($v: ID!, $at: DateTime!) { resizeVm(vmId: $v, cpu: 4, ramGb: 16, diskGb: 100, effectiveAt: $at) { cpu ramGb configurations { from cpu } } }";
    let d = app.ok(BOOT, resize, json!({"v": id, "at": "2026-01-15T00:00:00Z"})).await;
    assert_eq!((d["resizeVm"]["cpu"].as_i64(), d["resizeVm"]["ramGb"].as_i64()), (Some(4), Some(16)));
    assert_eq!(d["resizeVm"]["configurations"].as_array().unwrap().len(), 2);
    let early = app.code(BOOT, resize, json!({"v": id, "at": "2025-12-31T00:00:00Z"})).await;
    assert_eq!(early, "RULE_VIOLATION", "a resize before provisioning");

    let record =
        "mutation($i: RecordBackupInput!) { recordBackup(input: $i) { backupId status sizeBytes tags error } }";
    let ok = json!({"i": {"vmId": id, "backupId": "b-1", "status": "SUCCEEDED", "startedAt": "2026-01-20T01:00:00Z", "finishedAt": "2026-01-20T01:30:00Z", "sizeBytes": 12_000_000_000_i64, "tags": ["daily"]}});
    let d = app.ok(BOOT, record, ok.clone()).await;
    assert_eq!(d["recordBackup"]["sizeBytes"], 12_000_000_000_i64);
    assert_eq!(app.code(BOOT, record, ok).await, "CONFLICT", "the same backup id twice");
    let failed = json!({"i": {"vmId": id, "backupId": "b-2", "status": "FAILED", "startedAt": "2026-01-21T01:00:00Z", "finishedAt": "2026-01-21T01:05:00Z", "error": "disk full"}});
    assert_eq!(app.ok(BOOT, record, failed).await["recordBackup"]["error"], "disk full");
    let v = app.ok(BOOT, "query($v: ID!) { vm(id: $v) { lastGoodBackupAt } }", json!({"v": id})).await;
    assert_eq!(v["vm"]["lastGoodBackupAt"], "2026-01-20T01:30:00+00:00");
    let expire =
        "mutation($v: ID!) { expireBackup(vmId: $v, backupId: \"b-1\", at: \"2026-02-20T00:00:00Z\") { expiredAt } }";
    assert_eq!(app.ok(BOOT, expire, json!({"v": id})).await["expireBackup"]["expiredAt"], "2026-02-20T00:00:00+00:00");

    let gone =
        "mutation($v: ID!) { decommissionVm(vmId: $v, effectiveAt: \"2026-03-01T00:00:00Z\") { decommissionedAt } }";
    assert_eq!(
        app.ok(BOOT, gone, json!({"v": id})).await["decommissionVm"]["decommissionedAt"],
        "2026-03-01T00:00:00+00:00"
    );
    assert_eq!(app.code(BOOT, resize, json!({"v": id, "at": "2026-03-02T00:00:00Z"})).await, "RULE_VIOLATION");
});

both_stores!(ssh_keys_are_fingerprinted_unique_and_revocable, async |app: &TestApp| {
    let w = world(app).await;
    let add = "mutation($p: ID!, $k: String!) { addSshKey(personId: $p, publicKey: $k) { id algorithm fingerprint comment revokedAt } }";
    let d = app.ok(&w.acme_token, add, json!({"p": w.acme_person, "k": ED25519})).await;
    let key = &d["addSshKey"];
    assert_eq!(key["fingerprint"], "SHA256:kuqPxNHg6c1IMIWEE8B2ZiPTMsuu63knScZvKpkqHnI");
    assert_eq!(key["comment"], "ada@laptop");
    let (other, _) = person(app, Some(&w.acme), "Bob").await;
    assert_eq!(app.code(BOOT, add, json!({"p": other, "k": ED25519})).await, "CONFLICT", "one fingerprint, one person");
    assert_eq!(app.code(BOOT, add, json!({"p": other, "k": DSA})).await, "BAD_INPUT");
    let revoke = "mutation($k: ID!) { revokeSshKey(keyId: $k, reason: \"laptop lost\") { revokedAt } }";
    let d = app.ok(&w.acme_token, revoke, json!({"k": key["id"]})).await;
    assert!(d["revokeSshKey"]["revokedAt"].is_string());
    let keys = app
        .ok(
            BOOT,
            "query($p: ID!) { person(id: $p) { sshKeys { fingerprint revokedAt } } }",
            json!({"p": w.acme_person}),
        )
        .await;
    assert_eq!(keys["person"]["sshKeys"].as_array().unwrap().len(), 1);
});

both_stores!(tokens_work_at_once_and_stop_when_revoked_or_deactivated, async |app: &TestApp| {
    let w = world(app).await;
    let (id, token) = person(app, Some(&w.acme), "Carol").await;
    assert_eq!(app.ok(&token, "{ me { name } }", json!({})).await["me"]["name"], "Carol");
    app.ok(BOOT, "mutation($p: ID!) { deactivatePerson(personId: $p) { id } }", json!({"p": id})).await;
    let (status, body) = app.post(Some(&token), br#"{"query":"{ me { name } }"}"#.to_vec()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");

    let issued = app.ok(&w.acme_token, ISSUE_TOKEN, json!({"p": w.acme_person})).await;
    let second = s(&issued["issueToken"]["token"]);
    assert!(second.starts_with("dir_"));
    let p = app.ok(BOOT, "query($p: ID!) { person(id: $p) { id } }", json!({"p": w.acme_person})).await;
    assert_eq!(p["person"]["id"], json!(w.acme_person));
    let events = app.ok(BOOT, "{ events(first: 1000) { summary } }", json!({})).await.to_string();
    assert!(!events.contains(&second[4..20]), "no token text in the log");
});

both_stores!(a_token_stops_at_its_expiry_and_when_revoked, async |app: &TestApp| {
    use tower::ServiceExt;
    let w = world(app).await;
    let now = chrono::Utc::now();
    let clock = std::sync::Arc::new(app::clock::ManualClock::new(now));
    let server = app.server_with_clock(clock.clone()).await;
    let router = api::http::router(server.clone(), None);
    let me = |token: String| {
        let router = router.clone();
        async move {
            let request = axum::http::Request::post("/graphql")
                .header("content-type", "application/json")
                .header("authorization", format!("Bearer {token}"))
                .body(axum::body::Body::from(r#"{"query":"{ me { personId } }"}"#))
                .unwrap();
            router.oneshot(request).await.unwrap().status()
        }
    };
    let issue = "mutation($p: ID!, $e: DateTime) { issueToken(personId: $p, expiresAt: $e) { token tokenId } }";
    let expiring = app
        .ok(&w.acme_token, issue, json!({"p": w.acme_person, "e": (now + chrono::Duration::hours(1)).to_rfc3339()}))
        .await;
    let expiring = s(&expiring["issueToken"]["token"]);
    let lasting = app.ok(&w.acme_token, issue, json!({"p": w.acme_person, "e": null})).await["issueToken"].clone();
    // The second server has folded what the first appended before it answers by its own clock.
    assert!(server.bus.projector.wait_for(app.head().await, std::time::Duration::from_secs(5)).await);
    assert_eq!(me(expiring.clone()).await, StatusCode::OK);
    clock.set(now + chrono::Duration::hours(2));
    assert_eq!(me(expiring).await, StatusCode::UNAUTHORIZED, "expired");
    assert_eq!(me(s(&lasting["token"])).await, StatusCode::OK, "a token without expiry lasts…");

    // …the default lifetime, 90 days, which the portal shows; none lives past the maximum.
    let issue = "mutation($p: ID!, $e: DateTime) { issueToken(personId: $p, expiresAt: $e) { token expiresAt } }";
    let default = app.ok(&w.acme_token, issue, json!({"p": w.acme_person})).await["issueToken"].clone();
    let expires: chrono::DateTime<chrono::Utc> = s(&default["expiresAt"]).parse().unwrap();
    let days = (expires - chrono::Utc::now()).num_hours() as f64 / 24.0;
    assert!((89.9..=90.0).contains(&days), "{days} days");
    let shown = app.ok(&s(&default["token"]), "{ me { tokenExpiresAt } }", json!({})).await;
    assert_eq!(shown["me"]["tokenExpiresAt"], default["expiresAt"]);
    assert_eq!(app.ok(BOOT, "{ me { tokenExpiresAt } }", json!({})).await["me"]["tokenExpiresAt"], Value::Null);
    let head = app.head().await;
    let too_long = json!({"p": w.acme_person, "e": (chrono::Utc::now() + chrono::Duration::days(366)).to_rfc3339()});
    let refused = app.gql(&w.acme_token, issue, too_long).await;
    assert_eq!(refused["errors"][0]["extensions"]["code"], "BAD_INPUT");
    assert!(s(&refused["errors"][0]["message"]).contains("at most 365 days"), "{refused}");
    assert_eq!(app.head().await, head, "nothing appended");
    assert!(server.bus.projector.wait_for(app.head().await, std::time::Duration::from_secs(5)).await);
    clock.set(now + chrono::Duration::days(91));
    assert_eq!(me(s(&default["token"])).await, StatusCode::UNAUTHORIZED, "90 days later");
    // A deployment that lowers the maximum ends the tokens already issued past it.
    let strict = app
        .server_with_clock(std::sync::Arc::new(app::clock::ManualClock::new(now + chrono::Duration::days(31))))
        .await;
    strict.token_lifetimes.set(domain::person::TokenLifetime::new(7, 30).unwrap()).unwrap();
    assert!(strict.bus.projector.wait_for(app.head().await, std::time::Duration::from_secs(5)).await);
    let strict_router = api::http::router(strict.clone(), None);
    let request = axum::http::Request::post("/graphql")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {}", s(&default["token"])))
        .body(axum::body::Body::from(r#"{"query":"{ me { personId } }"}"#))
        .unwrap();
    assert_eq!(strict_router.oneshot(request).await.unwrap().status(), StatusCode::UNAUTHORIZED, "31 days > 30");
    clock.set(now + chrono::Duration::hours(2));

    // Revoked by its person: refused at once, and by nobody else's hand.
    let revoke = "mutation($p: ID!, $t: ID!) { revokeToken(personId: $p, tokenId: $t) { id } }";
    let vars = json!({"p": w.acme_person, "t": s(&lasting["tokenId"])});
    assert_eq!(app.code(&w.ops, revoke, vars.clone()).await, "FORBIDDEN");
    app.ok(&w.acme_token, revoke, vars).await;
    let (status, body) = app.post(Some(&s(&lasting["token"])), br#"{"query":"{ me { name } }"}"#.to_vec()).await;
    assert_eq!(
        (status, body["errors"][0]["extensions"]["code"].clone()),
        (StatusCode::UNAUTHORIZED, json!("UNAUTHENTICATED"))
    );
    assert_eq!(
        app.ok(&w.acme_token, "{ me { personId } }", json!({})).await["me"]["personId"],
        json!(w.acme_person),
        "other tokens still work"
    );
});

both_stores!(bad_input_gets_a_code_never_a_5xx_and_never_a_partial_append, async |app: &TestApp| {
    let w = world(app).await;
    let head = app.head().await;
    let cases = [
        ("query { customer(id: \"not-a-uuid\") { id } }", json!({})),
        (
            PROVISION,
            json!({"i": {"projectId": w.acme_root, "name": "x", "location": "l", "cpu": 1, "ramGb": 1, "diskGb": 1, "effectiveAt": "yesterday"}}),
        ),
        (
            PROVISION,
            json!({"i": {"projectId": w.acme_root, "name": "x", "location": "l", "cpu": 999, "ramGb": 1, "diskGb": 1, "effectiveAt": "2026-01-01T00:00:00Z"}}),
        ),
        (CREATE_PROJECT, json!({"i": {"customerId": w.acme, "name": "x", "slaClass": "GOLD"}})),
        (REGISTER_CUSTOMER, json!({"i": {"name": "x".repeat(70 * 1024), "country": "DE", "billingAddress": "y"}})),
        (REGISTER_CUSTOMER, json!({"i": {"name": "x".repeat(201), "country": "DE", "billingAddress": "y"}})),
        (REGISTER_CUSTOMER, json!({"i": {"name": "x", "country": "Germany", "billingAddress": "y"}})),
        ("query { history(entityId: \"x\", first: 0) { position } }", json!({})),
        ("{ nope }", json!({})),
    ];
    for (q, v) in cases {
        assert_eq!(app.code(BOOT, q, v.clone()).await, "BAD_INPUT", "{q} {v:.100}");
    }
    let unknown = json!({"i": {"projectId": "00000000-0000-0000-0000-000000000009", "name": "x", "location": "l", "cpu": 1, "ramGb": 1, "diskGb": 1, "effectiveAt": "2026-01-01T00:00:00Z"}});
    assert_eq!(app.code(BOOT, PROVISION, unknown).await, "NOT_FOUND");
    assert_eq!(app.code(BOOT, "mutation { revokeRole(personId: \"00000000-0000-0000-0000-000000000009\", projectId: \"00000000-0000-0000-0000-000000000009\") { id } }", json!({})).await, "NOT_FOUND");
    assert_eq!(app.head().await, head, "no refused command appended anything");

    let (status, _) = app.post(Some(BOOT), b"{not json".to_vec()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = app.post(Some(BOOT), br#"[{"query":"{ me { name } }"}]"#.to_vec()).await;
    assert_eq!(
        (status, body["errors"][0]["extensions"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("BAD_INPUT"))
    );
    let (status, _) = app.post(Some(BOOT), vec![b' '; 2 * 1024 * 1024]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let (status, _) = app.post(None, br#"{"query":"{ me { name } }"}"#.to_vec()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
});

both_stores!(health_and_readiness_answer, async |app: &TestApp| {
    assert_eq!(app.get("/healthz").await, (StatusCode::OK, "ok".to_owned()));
    customer(app, "Acme", "DE").await;
    assert_eq!(app.get("/readyz").await.0, StatusCode::OK);
});

both_stores!(graphiql_is_served_from_the_binary_under_the_portals_csp, async |app: &TestApp| {
    use tower::ServiceExt;
    let fetch = |path: String| {
        let router = app.router.clone();
        async move {
            let res =
                router.oneshot(axum::http::Request::get(&path).body(axum::body::Body::empty()).unwrap()).await.unwrap();
            let header =
                |name: &str| res.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
            let (status, csp, kind) = (res.status(), header("content-security-policy"), header("content-type"));
            let body = http_body_util::BodyExt::collect(res.into_body()).await.unwrap().to_bytes();
            (status, csp, kind, String::from_utf8_lossy(&body).into_owned())
        }
    };
    // Without a token: the page, and every file it loads, from this server.
    let (status, csp, kind, page) = fetch("/graphql".into()).await;
    assert_eq!((status, kind.as_str()), (StatusCode::OK, "text/html; charset=utf-8"));
    assert!(csp.starts_with("default-src 'self';") && !csp.contains("unsafe") && !csp.contains("http"), "{csp}");
    let refs: Vec<&str> = page.split(['"', '\'']).filter(|p| p.starts_with('/') || p.contains("//")).collect();
    assert_eq!(refs.len(), 6, "two stylesheets and four scripts: {refs:?}");
    for path in refs {
        assert!(path.starts_with("/assets/graphiql-"), "served from the binary: {path}");
        let (status, csp, kind, body) = fetch(path.to_owned()).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(kind.starts_with("text/javascript") || kind.starts_with("text/css"), "{path}: {kind}");
        assert!(csp.starts_with("default-src 'self';"), "{path}");
        assert!(body.len() > 100, "{path}");
    }
    assert_eq!(fetch("/assets/graphiql-3.9.0/../../Cargo.toml".into()).await.0, StatusCode::NOT_FOUND);
    assert_eq!(fetch("/assets/graphiql-3.9.0/secret.js".into()).await.0, StatusCode::NOT_FOUND);
});

both_stores!(queries_answer_as_recorded_at_a_past_instant, async |app: &TestApp| {
    let w = world(app).await;
    let head = "{ logHead { recordedAt } }";
    let before_child = s(&app.ok(BOOT, head, json!({})).await["logHead"]["recordedAt"]);
    let child = project(app, &w.acme, Some(&w.acme_root), "Shop staging").await;
    let vm = json!({"i": {"projectId": child, "name": "web-1", "location": "fsn1", "cpu": 2, "ramGb": 4, "diskGb": 40, "effectiveAt": "2026-01-01T00:00:00Z"}});
    let id = s(&app.ok(BOOT, PROVISION, vm).await["provisionVm"]["id"]);
    let before_resize = s(&app.ok(BOOT, head, json!({})).await["logHead"]["recordedAt"]);
    let resize = "mutation($v: ID!) { resizeVm(vmId: $v, cpu: 8, ramGb: 32, diskGb: 40, effectiveAt: \"2026-02-01T00:00:00Z\") { cpu } }";
    app.ok(BOOT, resize, json!({"v": id})).await;

    let q = "query($v: ID!, $p: ID!, $c: ID!, $t: DateTime) { vm(id: $v, asOf: $t) { cpu ramGb } project(id: $p, asOf: $t) { children { name } } customer(id: $c, asOf: $t) { name projects { name } } }";
    let now = app.ok(BOOT, q, json!({"v": id, "p": w.acme_root, "c": w.acme, "t": null})).await;
    assert_eq!(now["vm"], json!({"cpu": 8, "ramGb": 32}));
    let then = app.ok(BOOT, q, json!({"v": id, "p": w.acme_root, "c": w.acme, "t": before_resize})).await;
    assert_eq!(then["vm"], json!({"cpu": 2, "ramGb": 4}), "the size as recorded before the resize");
    let earlier = app.ok(BOOT, q, json!({"v": id, "p": w.acme_root, "c": w.acme, "t": before_child})).await;
    assert_eq!(earlier["vm"], Value::Null, "the VM did not exist yet");
    assert_eq!(earlier["project"]["children"], json!([]), "nor the child project");
    assert_eq!(earlier["customer"]["projects"], json!([{"name": "Shop"}]), "nested fields read the same past state");
    let ancient = app.ok(BOOT, q, json!({"v": id, "p": w.acme_root, "c": w.acme, "t": "2000-01-01T00:00:00Z"})).await;
    assert_eq!(ancient, json!({"vm": null, "project": null, "customer": null}));
    // Tenancy holds in the past too.
    let foreign = app
        .ok(
            &w.acme_token,
            "query($c: ID!, $t: DateTime) { customer(id: $c, asOf: $t) { name } }",
            json!({"c": w.globex, "t": before_resize}),
        )
        .await;
    assert_eq!(foreign["customer"], Value::Null);
});

both_stores!(customers_page_by_name_and_search_finds_things_with_their_path, async |app: &TestApp| {
    let w = world(app).await;
    let list = "query($s: String, $f: Int, $a: String) { customers(search: $s, first: $f, after: $a) { nodes { name } pageInfo { hasNextPage endCursor } totalCount } }";
    let p1 = app.ok(BOOT, list, json!({"f": 1})).await["customers"].clone();
    assert_eq!((p1["nodes"].clone(), p1["totalCount"].clone()), (json!([{"name": "Acme GmbH"}]), json!(2)));
    assert_eq!(p1["pageInfo"]["hasNextPage"], true);
    let p2 = app.ok(BOOT, list, json!({"f": 1, "a": p1["pageInfo"]["endCursor"]})).await["customers"].clone();
    assert_eq!(p2["nodes"], json!([{"name": "Globex Inc"}]));
    assert_eq!(p2["pageInfo"]["hasNextPage"], false);
    assert_eq!(app.ok(BOOT, list, json!({"s": "GLOB"})).await["customers"]["totalCount"], 1);
    assert_eq!(app.ok(&w.acme_token, list, json!({})).await["customers"]["nodes"], json!([{"name": "Acme GmbH"}]));
    assert_eq!(app.code(BOOT, list, json!({"a": "nope"})).await, "BAD_INPUT");

    let child = project(app, &w.acme, Some(&w.acme_root), "Shop staging").await;
    let vm = json!({"i": {"projectId": child, "name": "web-1", "location": "fsn1", "cpu": 2, "ramGb": 4, "diskGb": 40, "effectiveAt": "2026-01-01T00:00:00Z"}});
    app.ok(BOOT, PROVISION, vm).await;
    let add = "mutation($p: ID!, $k: String!) { addSshKey(personId: $p, publicKey: $k) { id } }";
    app.ok(BOOT, add, json!({"p": w.acme_person, "k": ED25519})).await;
    let search = "query($t: String!) { search(text: $t) { kind title path } }";
    let hits = app.ok(BOOT, search, json!({"t": "web"})).await;
    assert_eq!(
        hits["search"],
        json!([{"kind": "vm", "title": "web-1", "path": ["Acme GmbH", "Shop", "Shop staging", "web-1"]}])
    );
    let key = app.ok(&w.acme_token, search, json!({"t": "sha256:kuqp"})).await;
    assert_eq!(key["search"][0]["kind"], "sshKey");
    assert_eq!(
        key["search"][0]["path"],
        json!(["Acme GmbH", "Ada", "SHA256:kuqPxNHg6c1IMIWEE8B2ZiPTMsuu63knScZvKpkqHnI"])
    );
    assert_eq!(
        app.ok(BOOT, search, json!({"t": "secret"})).await["search"][0]["path"],
        json!(["Globex Inc", "Secret"])
    );
    assert_eq!(
        app.ok(&w.acme_token, search, json!({"t": "secret"})).await["search"],
        json!([]),
        "another customer's project"
    );
    // The path's steps, each with what it is and its id, to link to.
    let steps = "query($t: String!) { search(text: $t) { steps { kind id name } } }";
    let web = app.ok(BOOT, steps, json!({"t": "web"})).await["search"][0]["steps"].clone();
    let kinds: Vec<&str> = web.as_array().unwrap().iter().map(|s| s["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["customer", "project", "project", "vm"]);
    assert_eq!(
        (web[0]["id"].as_str(), web[1]["id"].as_str(), web[2]["id"].as_str()),
        (Some(w.acme.as_str()), Some(w.acme_root.as_str()), Some(child.as_str()))
    );
    let own = app.ok(&w.acme_token, steps, json!({"t": "sha256:kuqp"})).await["search"][0]["steps"].clone();
    assert_eq!(own[1]["kind"], "person", "a key's path names its owner");
    assert_eq!(
        app.ok(&w.acme_token, steps, json!({"t": "secret"})).await["search"],
        json!([]),
        "no steps into another customer"
    );
    let shop = app.ok(BOOT, search, json!({"t": "shop"})).await;
    assert_eq!(shop["search"][0]["title"], "Shop", "an exact match ranks first");
    assert_eq!(app.code(BOOT, search, json!({"t": "  "})).await, "BAD_INPUT");
    let past = "query($t: String!, $at: DateTime) { search(text: $t, asOf: $at) { title } }";
    let before = app.ok(BOOT, past, json!({"t": "web", "at": "2000-01-01T00:00:00Z"})).await;
    assert_eq!(before["search"], json!([]), "nothing was there then");
});

both_stores!(backup_history_pages_newest_first_and_stale_backups_judges_each_vm, async |app: &TestApp| {
    let w = world(app).await;
    let vm = |name: &str| json!({"i": {"projectId": w.acme_root, "name": name, "location": "fsn1", "cpu": 2, "ramGb": 4, "diskGb": 40, "effectiveAt": "2026-01-01T00:00:00Z"}});
    let fresh = s(&app.ok(BOOT, PROVISION, vm("fresh")).await["provisionVm"]["id"]);
    let old = s(&app.ok(BOOT, PROVISION, vm("old")).await["provisionVm"]["id"]);
    let record = "mutation($i: RecordBackupInput!) { recordBackup(input: $i) { backupId } }";
    let now = chrono::Utc::now();
    let backup = |vm: &str, id: &str, hours_ago: i64, ok: bool| {
        let end = now - chrono::Duration::hours(hours_ago);
        let mut i = json!({"vmId": vm, "backupId": id, "startedAt": (end - chrono::Duration::minutes(10)).to_rfc3339(), "finishedAt": end.to_rfc3339()});
        if ok {
            i["status"] = json!("SUCCEEDED");
            i["sizeBytes"] = json!(1000);
        } else {
            i["status"] = json!("FAILED");
            i["error"] = json!("timeout");
        }
        json!({ "i": i })
    };
    app.ok(BOOT, record, backup(&fresh, "f-1", 50, true)).await;
    app.ok(BOOT, record, backup(&fresh, "f-2", 2, false)).await;
    app.ok(BOOT, record, backup(&fresh, "f-3", 1, true)).await;
    app.ok(BOOT, record, backup(&old, "o-1", 30, true)).await;

    let history = "query($v: ID!, $a: String) { backupHistory(vmId: $v, first: 2, after: $a) { nodes { backupId status } pageInfo { hasNextPage endCursor } totalCount } }";
    let p1 = app.ok(BOOT, history, json!({"v": fresh})).await["backupHistory"].clone();
    assert_eq!(
        p1["nodes"],
        json!([{"backupId": "f-3", "status": "SUCCEEDED"}, {"backupId": "f-2", "status": "FAILED"}])
    );
    assert_eq!((p1["totalCount"].clone(), p1["pageInfo"]["hasNextPage"].clone()), (json!(3), json!(true)));
    let p2 =
        app.ok(BOOT, history, json!({"v": fresh, "a": p1["pageInfo"]["endCursor"]})).await["backupHistory"].clone();
    assert_eq!(p2["nodes"], json!([{"backupId": "f-1", "status": "SUCCEEDED"}]));
    let own = app.ok(&w.acme_token, history, json!({"v": fresh})).await;
    assert_eq!(own["backupHistory"]["totalCount"], 3, "the customer sees its own VM's backups");

    // The details come from the VM's own events, each as known at the instant asked about.
    let before_expiry = chrono::Utc::now();
    let expire = "mutation($v: ID!, $b: String!, $at: DateTime!) { expireBackup(vmId: $v, backupId: $b, at: $at) { backupId sizeBytes expiredAt } }";
    let expired = app.ok(BOOT, expire, json!({"v": fresh, "b": "f-1", "at": now.to_rfc3339()})).await;
    assert_eq!(expired["expireBackup"]["backupId"], "f-1");
    assert_eq!(expired["expireBackup"]["sizeBytes"], 1000);
    assert!(expired["expireBackup"]["expiredAt"].is_string(), "{expired}");
    let details =
        "query($v: ID!, $t: DateTime) { backupHistory(vmId: $v, asOf: $t) { nodes { backupId error expiredAt } } }";
    let today = app.ok(BOOT, details, json!({"v": fresh})).await["backupHistory"]["nodes"].clone();
    assert_eq!(today[1], json!({"backupId": "f-2", "error": "timeout", "expiredAt": null}));
    assert!(today[2]["expiredAt"].is_string(), "f-1 expired: {today}");
    let then =
        app.ok(BOOT, details, json!({"v": fresh, "t": before_expiry.to_rfc3339()})).await["backupHistory"]["nodes"]
            .clone();
    assert_eq!(then[2], json!({"backupId": "f-1", "error": null, "expiredAt": null}), "not expired yet then");

    let stale =
        "query($h: Int) { staleBackups(olderThanHours: $h) { vm { name } stale failuresLast7Days lastGoodBackupAt } }";
    let d = app.ok(BOOT, stale, json!({})).await;
    assert_eq!(d["staleBackups"].as_array().unwrap().len(), 1);
    assert_eq!(d["staleBackups"][0]["vm"]["name"], "old", "30 h without a good backup is stale at 26 h");
    assert_eq!(app.ok(BOOT, stale, json!({"h": 48})).await["staleBackups"], json!([]));
    let all = app.ok(BOOT, stale, json!({"h": 1})).await["staleBackups"].clone();
    let fresh_health = all.as_array().unwrap().iter().find(|h| h["vm"]["name"] == "fresh").unwrap().clone();
    assert_eq!(fresh_health["failuresLast7Days"], 1);
    let other = app.ok(&w.auditor, stale, json!({})).await["staleBackups"].as_array().unwrap().len();
    assert_eq!(other, 1, "auditors see the fleet");
});

both_stores!(the_portal_is_served_from_the_binary_with_scripts_from_itself_only, async |app: &TestApp| {
    let (status, kind, page) = app.get_as(None, "/").await;
    assert_eq!((status.as_u16(), kind.as_str()), (200, "text/html; charset=utf-8"));
    let page = String::from_utf8(page).unwrap();
    assert!(page.contains("<script type=\"module\" src=\"/assets/app.js\">"), "{page}");
    assert!(!page.contains("http://") && !page.contains("https://"), "no outside addresses");
    let (status, kind, script) = app.get_as(None, "/assets/app.js").await;
    assert_eq!((status.as_u16(), kind.as_str()), (200, "text/javascript; charset=utf-8"));
    let script = String::from_utf8(script).unwrap();
    assert!(script.contains("fetchRetrying(\"/graphql\""), "the portal is a client of /graphql");
    let imports: Vec<&str> = script.lines().filter(|l| l.starts_with("import ")).collect();
    assert_eq!(imports.len(), 1, "one module, importing only its own words: {imports:?}");
    assert!(imports[0].ends_with("from \"./i18n.js\";"), "{imports:?}");
    assert!(!script.contains("import("), "nothing else loaded");
    let (status, kind, catalog) = app.get_as(None, "/assets/i18n.js").await;
    assert_eq!((status.as_u16(), kind.as_str()), (200, "text/javascript; charset=utf-8"));
    let catalog = String::from_utf8(catalog).unwrap();
    assert!(!catalog.contains("import "), "the words import nothing");
    german_for_every_word(&script, &page, &catalog);
    assert_eq!(app.get_as(None, "/assets/style.css").await.0.as_u16(), 200);
    // Every query the portal sends fits the served schema: no unknown field, argument or
    // type, no unused variable (values are left out, so only missing values may be named).
    let queries = portal_queries(&script);
    assert!(queries.len() >= 10, "found {} queries", queries.len());
    // The benchmarks load the portal's own project page, not a copy that drifted from it.
    let words = |q: &str| q.split_whitespace().collect::<Vec<_>>().join(" ");
    for page in [crate::portal_pages::PROJECT_PAGE, crate::portal_pages::CUSTOMER_PAGE] {
        assert!(queries.iter().any(|q| words(q) == words(page)), "the benchmarks' query is the portal's: {page}");
    }
    for query in queries {
        let body = serde_json::to_vec(&json!({ "query": query, "variables": {} })).unwrap();
        let (_, res) = app.post(Some(BOOT), body).await;
        for e in res["errors"].as_array().cloned().unwrap_or_default() {
            let message = e["message"].as_str().unwrap_or_default();
            assert!(message.ends_with("is not defined."), "{message}\n{query}");
        }
    }
});

/// Every text the portal shows has its German: each `t("…")` of the script and each `data-t…`
/// of the page is an entry of the German catalog, and every entry is such a text or one of
/// the API's values (an enum, a search hit's kind, a refusal's code).
fn german_for_every_word(script: &str, page: &str, words: &str) {
    // `opener` where it starts a word: `t("` of a call, not of `get("` or `split("`.
    let quoted_after = |text: &str, opener: &str| -> Vec<String> {
        text.match_indices(opener)
            .filter(|(i, _)| !text[..*i].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == '.' || c == '-'))
            .map(|(i, _)| {
                let rest = &text[i + opener.len()..];
                rest[..rest.find('"').expect("a closing quote")].to_owned()
            })
            .collect()
    };
    let mut shown: std::collections::BTreeSet<String> = quoted_after(script, "t(\"").into_iter().collect();
    for opener in ["data-t=\"", "data-t-placeholder=\"", "data-t-aria-label=\""] {
        shown.extend(quoted_after(page, opener));
    }
    assert!(shown.len() > 150, "found {} texts", shown.len());
    assert!(shown.iter().all(|s| !s.contains('\\')), "texts are plain literals");
    let catalog = |name: &str| -> Vec<String> {
        let start = words.find(&format!("const {name} = {{\n")).expect("the catalog");
        let body = &words[start..];
        let body = &body[..body.find("\n};").expect("the catalog's end")];
        body.lines()
            .skip(1)
            .filter_map(|l| l.trim_start().strip_prefix('"'))
            .map(|l| l[..l.find("\": ").expect("an entry a line")].to_owned())
            .collect()
    };
    let german = catalog("de");
    let mut sorted = german.clone();
    sorted.dedup();
    assert_eq!(sorted.len(), german.len(), "no text twice");
    let untranslated: Vec<&String> = shown.iter().filter(|s| !german.contains(s)).collect();
    assert!(untranslated.is_empty(), "texts without German: {untranslated:?}");
    let plural: Vec<String> = catalog("en").into_iter().filter(|s| !shown.contains(s)).collect();
    assert!(plural.is_empty(), "English plural forms of texts not shown: {plural:?}");
    let value = |s: &str| {
        s.chars().all(|c| c.is_ascii_uppercase() || c == '_') || ["person", "project", "sshKey", "vm"].contains(&s)
    };
    let left_over: Vec<&String> = german.iter().filter(|s| !shown.contains(*s) && !value(s)).collect();
    assert!(left_over.is_empty(), "German for texts no longer shown: {left_over:?}");
}

/// The GraphQL documents in the portal's script (backquoted or quoted strings that start an operation).
fn portal_queries(script: &str) -> Vec<String> {
    let mut out = vec![];
    for quote in ['`', '"'] {
        let parts: Vec<&str> = script.split(quote).collect();
        for (i, part) in parts.iter().enumerate() {
            let t = part.trim_start();
            if i % 2 == 1 && (t.starts_with("query(") || t.starts_with("{ me")) {
                out.push(t.to_owned());
            }
        }
    }
    out
}

both_stores!(introspection_and_field_suggestions_are_for_staff_only, async |app: &TestApp| {
    let w = world(app).await;
    let introspect = "{ __schema { queryType { name } } }";
    assert_eq!(app.ok(&w.auditor, introspect, json!({})).await["__schema"]["queryType"]["name"], "Query");
    let refused = app.gql(&w.acme_token, introspect, json!({})).await;
    assert_eq!(refused["data"]["__schema"], Value::Null, "a customer sees no schema: {refused}");
    let typo = "{ me { nam } }";
    let staff = app.gql(&w.auditor, typo, json!({})).await.to_string();
    let customer = app.gql(&w.acme_token, typo, json!({})).await.to_string();
    assert!(staff.contains("Did you mean"), "{staff}");
    assert!(!customer.contains("Did you mean") && customer.contains("Unknown field"), "{customer}");
});

both_stores!(paged_lists_cost_their_page_size_times_their_fields, async |app: &TestApp| {
    let page = "{ events(first: 1000) { position entityId recordedAt actor eventType summary reason } }";
    assert!(app.gql(BOOT, page, json!({})).await.get("errors").is_none(), "1,000 rows of 7 fields fit");
    let twice = "{ a: events(first: 1000) { position entityId recordedAt actor eventType summary reason } b: events(first: 1000) { position entityId recordedAt actor eventType summary reason } }";
    assert_eq!(app.code(BOOT, twice, json!({})).await, "BAD_INPUT", "14,000 is over the limit");
    let fields: String = (1..=20).map(|n| format!("n{n}: name ")).collect();
    let wide = format!("{{ customers(first: 500) {{ nodes {{ {fields} }} }} }}");
    assert_eq!(app.code(BOOT, &wide, json!({})).await, "BAD_INPUT", "500 × 21 is over the limit");
    let narrow = format!("{{ customers(first: 20) {{ nodes {{ {fields} }} }} }}");
    assert!(app.gql(BOOT, &narrow, json!({})).await.get("errors").is_none(), "20 × 21 is not");
});

both_stores!(every_abusive_request_is_refused_with_a_clear_error, async |app: &TestApp| {
    let w = world(app).await;
    for token in [w.acme_token.as_str(), BOOT] {
        for case in crate::abuse_cases::cases() {
            let r = crate::abuse_cases::send(&app.router, token, &case).await;
            assert!([200, 400, 413].contains(&r.status), "{}: {} {}", case.name, r.status, r.body);
            assert_eq!(r.code.as_deref(), Some("BAD_INPUT"), "{}: {}", case.name, r.body);
            let answer: Value = serde_json::from_str(&r.body).unwrap();
            assert!(answer["data"].is_null(), "{}: nothing is answered: {}", case.name, r.body);
            for internal in crate::generated::INTERNALS {
                assert!(!r.body.contains(internal), "{}: {internal:?} leaked: {}", case.name, r.body);
            }
        }
    }
    // The server is unharmed.
    assert!(app.ok(BOOT, "{ logHead { position } }", json!({})).await["logHead"]["position"].as_i64().unwrap() > 0);
});

both_stores!(a_retry_is_the_same_request_in_any_order_and_anything_else_is_a_conflict, async |app: &TestApp| {
    let w = world(app).await;
    let rename = "mutation($c: ID!, $n: String!, $k: ID, $r: String) { renameCustomer(customerId: $c, name: $n, commandId: $k, reason: $r) { name } }";
    let reordered = "mutation($c: ID!, $n: String!, $k: ID, $r: String) { renameCustomer(reason: $r, commandId: $k, name: $n, customerId: $c) { name } }";
    let k = uuid::Uuid::new_v4().to_string();
    let vars = |name: &str, reason: &str| json!({"c": w.acme, "n": name, "k": k, "r": reason});
    app.ok(BOOT, rename, vars("Acme AG", "signed")).await;
    let head = app.head().await;
    // The envelope is derived from the request: the same arguments in another order are the same command…
    let again = app.ok(BOOT, reordered, vars("Acme AG", "signed")).await;
    assert_eq!(again["renameCustomer"]["name"], "Acme AG");
    // …and another value, the reason included, is another command under a used id.
    assert_eq!(app.code(BOOT, rename, vars("Acme SE", "signed")).await, "CONFLICT");
    assert_eq!(app.code(BOOT, rename, vars("Acme AG", "another reason")).await, "CONFLICT");
    assert_eq!(app.head().await, head, "retries append nothing");
    // In an input object the order of the fields and the command id among them do not count.
    let k2 = uuid::Uuid::new_v4().to_string();
    let create = |i: &str| format!("mutation {{ createProject(input: {i}) {{ id }} }}");
    let first = format!("{{commandId: \"{k2}\", customerId: \"{}\", name: \"Retry\", slaClass: BASIC}}", w.acme);
    let second = format!("{{slaClass: BASIC, name: \"Retry\", customerId: \"{}\", commandId: \"{k2}\"}}", w.acme);
    let a = app.ok(BOOT, &create(&first), json!({})).await;
    let head = app.head().await;
    let b = app.ok(BOOT, &create(&second), json!({})).await;
    assert_eq!(a["createProject"]["id"], b["createProject"]["id"]);
    assert_eq!(app.head().await, head);
});
