//! What a hostile customer tries, generated from the served schema where it can be: ids
//! claimed for new entities (another tenant's, or ones the server derives), history read
//! through such ids, and SSH keys that once belonged to someone else. Each test here failed
//! on the code before the refusal it proves was built.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::flows::s;
use crate::generated::{Field, Kind, Schema, base_name, call, code, normalized, schema, two_tenants};
use crate::helpers::{BOOT, TestApp, both_stores};

/// Ids the server derives from names (number series, billing runs, channels, price lists,
/// invoices): no client may ever choose one.
fn derived_ids(invoice: &str) -> Vec<String> {
    use domain::invoice::{InvoiceKind, series_id};
    let period: domain::Period = "2026-03".parse().unwrap();
    vec![
        series_id(InvoiceKind::Invoice, 2026).to_string(),
        series_id(InvoiceKind::Cancellation, 2027).to_string(),
        domain::billing_run::stream_id(period).to_string(),
        domain::release::channel_stream("stable").to_string(),
        domain::price_list::stream_id().to_string(),
        invoice.to_owned(),
    ]
}

/// A creation with a chosen id: `field(id: …)` or `field(input: {id: …, …})`, with every
/// other argument valid.
fn creation(schema: &Schema, field: &Field, id: &str, ids: &dyn Fn(Kind) -> String) -> Option<String> {
    let id = json!(id).to_string();
    let mut args = schema.arguments(field, true, ids);
    if field.args.iter().any(|(name, _)| name == "id") {
        args.push(("id".into(), id));
        return Some(schema.document(field, true, &args));
    }
    let (input, ty) = field.args.iter().find(|(_, ty)| {
        schema.inputs.get(base_name(ty)).is_some_and(|fields| fields.iter().any(|(name, _)| name == "id"))
    })?;
    let inner: Vec<String> = schema.inputs[base_name(ty)]
        .iter()
        .filter_map(|(f, t)| {
            if f == "id" {
                return Some(format!("id: {id}"));
            }
            Some(format!("{f}: {}", schema.value(&field.name, f, t, true, ids)?))
        })
        .collect();
    args.retain(|(name, _)| name != input);
    args.push((input.clone(), format!("{{{}}}", inner.join(", "))));
    Some(schema.document(field, true, &args))
}

fn message(answer: &Value) -> &str {
    answer["errors"][0]["message"].as_str().unwrap_or_default()
}

both_stores!(claimed_and_derived_ids_never_name_another_stream, async |app: &TestApp| {
    let schema = schema();
    let (acme, acme_token, globex) = two_tenants(app).await;
    let derived = derived_ids(&globex.ids[&Kind::Invoice]);
    // Every existing entity of the other tenant, of every kind (the invoice is derived).
    let existing: Vec<String> =
        globex.ids.iter().filter(|(k, _)| !matches!(k, Kind::Invoice | Kind::Token)).map(|(_, v)| v.clone()).collect();
    let ids = |k: Kind| acme.ids[&k].clone();
    let head = app.head().await;
    let mut creations = 0;
    for field in &schema.mutations {
        // Admin first (no role stands in the way), then the attacker's own token.
        for token in [BOOT, acme_token.as_str()] {
            let Some(_) = creation(&schema, field, "x", &ids) else { continue };
            for id in &derived {
                let doc = creation(&schema, field, id, &ids).unwrap();
                let answer = call(app, token, &doc).await;
                let c = code(&answer);
                assert!(
                    c == Some("BAD_INPUT") || (token != BOOT && c == Some("FORBIDDEN")),
                    "{}: a derived id must be bad input: {doc}\n{answer}",
                    field.name
                );
            }
            let mut answers = BTreeMap::new();
            for id in &existing {
                let doc = creation(&schema, field, id, &ids).unwrap();
                let answer = call(app, token, &doc).await;
                if token != BOOT && code(&answer) == Some("FORBIDDEN") {
                    continue;
                }
                assert_eq!(code(&answer), Some("CONFLICT"), "{}: an existing id: {doc}\n{answer}", field.name);
                answers.insert(normalized(&answer["errors"][0]["message"], std::slice::from_ref(id)), id.clone());
            }
            assert!(answers.len() <= 1, "{}: one answer for every owner and kind: {answers:#?}", field.name);
            creations += 1;
        }
    }
    assert_eq!(app.head().await, head, "no claimed id appended anything");
    assert!(creations >= 14, "every creation that takes an id was tried: {creations}");
    eprintln!(
        "claimed ids: {creations} creations (field × token) tried with {} derived and {} existing ids",
        derived.len(),
        existing.len()
    );

    // Versions a client could only pick to aim at a name-based space are bad input too.
    let v5 = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, b"x").to_string();
    let doc = format!(
        "mutation {{ registerPerson(input: {{id: \"{v5}\", name: \"M\", email: \"m@example.com\"}}) {{ id }} }}"
    );
    assert_eq!(app.code(BOOT, &doc, json!({})).await, "BAD_INPUT");

    // History reads exactly the streams of an entity the caller may see, in either language.
    let history = "query($e: ID!) { history(entityId: $e) { entityId eventType summary de: summary(language: DE) } }";
    for id in globex.ids.values().chain(&derived) {
        let answer = app.ok(&acme_token, history, json!({"e": id})).await;
        assert_eq!(answer["history"], json!([]), "another tenant's or a derived stream: {id}");
    }
    let series = &derived[0];
    let staff_view = app.ok(BOOT, history, json!({"e": series})).await;
    assert!(!staff_view["history"].as_array().unwrap().is_empty(), "staff read the number series");
    let vm = app.ok(&acme_token, history, json!({"e": acme.ids[&Kind::Vm]})).await;
    let types: Vec<&str> = vm["history"].as_array().unwrap().iter().map(|e| e["eventType"].as_str().unwrap()).collect();
    assert!(types.contains(&"VmProvisioned") && types.contains(&"BackupSucceeded"), "{types:?}");
    let told: Vec<(&str, &str)> = vm["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["summary"].as_str().unwrap(), e["de"].as_str().unwrap()))
        .collect();
    assert!(told.iter().any(|(en, de)| en.starts_with("VM ") && de.contains("bereitgestellt")), "{told:?}");
});

const ADD_KEY: &str =
    "mutation($p: ID!, $k: String!) { addSshKey(personId: $p, publicKey: $k) { id personId revokedAt } }";
const REVOKE_KEY: &str = "mutation($k: ID!) { revokeSshKey(keyId: $k, reason: \"left Globex\") { id revokedAt } }";
const KEYS_OF: &str = "query($p: ID!) { person(id: $p) { sshKeys { id fingerprint revokedAt } } }";
const HISTORY: &str = "query($e: ID!) { history(entityId: $e) { actor eventType summary reason } }";

both_stores!(an_ssh_key_is_a_record_of_its_owner_for_ever, async |app: &TestApp| {
    let (acme, acme_token, globex) = two_tenants(app).await;
    let (victim, attacker) = (globex.ids[&Kind::Person].clone(), acme.ids[&Kind::Person].clone());
    let dir = std::env::temp_dir().join(format!("directory-attack-keys-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let (old, active) = (crate::keys::keypair(&dir, "old").1, crate::keys::keypair(&dir, "active").1);
    let _ = std::fs::remove_dir_all(&dir);

    // The victim's key, revoked with a reason, then added by the attacker for themselves.
    let revoked = s(&app.ok(BOOT, ADD_KEY, json!({"p": victim, "k": old})).await["addSshKey"]["id"]);
    app.ok(BOOT, REVOKE_KEY, json!({"k": revoked})).await;
    let mine = app.ok(&acme_token, ADD_KEY, json!({"p": attacker, "k": old})).await;
    let mine = s(&mine["addSshKey"]["id"]);
    assert_ne!(mine, revoked, "a key added again is a new record");
    let victims = app.ok(BOOT, KEYS_OF, json!({"p": victim})).await;
    let listed: Vec<&Value> = victims["person"]["sshKeys"].as_array().unwrap().iter().collect();
    assert!(listed.iter().any(|k| k["id"] == json!(revoked) && !k["revokedAt"].is_null()), "{victims}");
    let history = app.ok(&acme_token, HISTORY, json!({"e": mine})).await;
    let entries = history["history"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "only the attacker's own addition: {history}");
    assert!(!history.to_string().contains("left Globex") && !history.to_string().contains(&victim), "{history}");
    assert_eq!(app.ok(&acme_token, HISTORY, json!({"e": revoked})).await["history"], json!([]));

    // An active key of someone else is refused without saying whose, and appends nothing.
    let theirs = s(&app.ok(BOOT, ADD_KEY, json!({"p": victim, "k": active})).await["addSshKey"]["id"]);
    let head = app.head().await;
    let refused = app.gql(&acme_token, ADD_KEY, json!({"p": attacker, "k": active})).await;
    assert_eq!(code(&refused), Some("CONFLICT"), "{refused}");
    for secret in [victim.as_str(), theirs.as_str(), globex.ids[&Kind::Customer].as_str(), "Globex"] {
        assert!(!message(&refused).contains(secret), "the refusal names the owner: {refused}");
    }
    assert_eq!(app.head().await, head);
    // The owner's own second attempt gets the same answer.
    let again = app.gql(BOOT, ADD_KEY, json!({"p": victim, "k": active})).await;
    assert_eq!(message(&again), message(&refused));

    // Once revoked, anyone may add it; two people racing for one free key: one wins.
    app.ok(BOOT, REVOKE_KEY, json!({"k": theirs})).await;
    let race = futures::future::join_all([
        app.gql(&acme_token, ADD_KEY, json!({"p": attacker, "k": active})),
        app.gql(BOOT, ADD_KEY, json!({"p": victim, "k": active})),
    ])
    .await;
    let won = race.iter().filter(|a| a.get("errors").is_none()).count();
    assert_eq!(won, 1, "exactly one holder of an active fingerprint: {race:?}");
    assert!(race.iter().any(|a| code(a) == Some("CONFLICT")), "{race:?}");
});

both_stores!(a_command_id_belongs_to_the_actor_that_used_it, async |app: &TestApp| {
    let (acme, acme_token, _) = two_tenants(app).await;
    let person = "mutation($c: ID!, $i: ID) { registerPerson(input: {commandId: $i, name: \"Eve\", email: \"eve@example.com\", customerId: $c}) { id } }";
    // The attacker takes the id an import script will use later ...
    app.ok(&acme_token, person, json!({"c": acme.ids[&Kind::Customer], "i": "import-2027-01"})).await;
    // ... and the script's command is still its own.
    let customer = "mutation($i: ID) { registerCustomer(input: {commandId: $i, name: \"Initech\", country: \"DE\", billingAddress: \"B\"}) { id name } }";
    let first = app.ok(BOOT, customer, json!({"i": "import-2027-01"})).await;
    assert_eq!(first["registerCustomer"]["name"], json!("Initech"));
    // Within one actor the id still means one command: a retry answers it, a reuse is refused.
    let head = app.head().await;
    assert_eq!(app.ok(BOOT, customer, json!({"i": "import-2027-01"})).await, first);
    let reuse = app
        .gql(
            &acme_token,
            person.replace("Eve", "Mallory").as_str(),
            json!({"c": acme.ids[&Kind::Customer], "i": "import-2027-01"}),
        )
        .await;
    assert_eq!(code(&reuse), Some("CONFLICT"), "{reuse}");
    assert_eq!(app.head().await, head);
});

/// A listener that counts the connections it accepts (and answers none of them).
async fn counting_listener(addr: &str) -> (std::net::SocketAddr, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let (local, count) = (listener.local_addr().unwrap(), std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0)));
    let counted = count.clone();
    tokio::spawn(async move {
        while let Ok((_socket, _)) = listener.accept().await {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    (local, count)
}

/// A stand-in for a public site (on 127.0.0.2, which the probe is told to treat as
/// public) that redirects wherever `?to=` says.
async fn redirector() -> std::net::SocketAddr {
    use axum::response::IntoResponse;
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(|axum::extract::Query(q): axum::extract::Query<BTreeMap<String, String>>| async move {
            (axum::http::StatusCode::FOUND, [(axum::http::header::LOCATION, q["to"].clone())]).into_response()
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.2:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// Every spelling of an internal address the attack used, at `port`.
fn internal_urls(port: u16) -> Vec<String> {
    [
        "127.0.0.1",
        "0.0.0.0",
        "[::1]",
        "[::]",
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
        "[64:ff9b::7f00:1]",
        "2130706433",
        "127.1",
        "0x7f.1",
        "localhost",
        "10.0.0.1",
        "172.16.0.1",
        "192.168.0.1",
        "100.64.0.1",
        "169.254.169.254",
        "[fd00::1]",
        "[fe80::1]",
    ]
    .iter()
    .map(|host| format!("http://{host}:{port}/"))
    .collect()
}

const CREATE_MONITOR: &str = "mutation($i: CreateHttpMonitorInput!) { createHttpMonitor(input: $i) { id } }";

both_stores!(a_customers_monitor_reaches_public_addresses_only, async |app: &TestApp| {
    use app::checker::{Checker, Probe};
    use app::targets::Reach;
    let (acme, acme_token, _) = two_tenants(app).await;
    let project = acme.ids[&Kind::Project].clone();
    let (v4, count_v4) = counting_listener("127.0.0.1:0").await;
    let (_, count_v6) = counting_listener(&format!("[::1]:{}", v4.port())).await;
    let connections =
        || count_v4.load(std::sync::atomic::Ordering::SeqCst) + count_v6.load(std::sync::atomic::Ordering::SeqCst);

    // Written in the URL, an internal address is refused when the monitor is made.
    let head = app.head().await;
    for url in internal_urls(v4.port()) {
        let input = json!({"i": {"projectId": project, "url": url, "followRedirects": true, "expectedStatus": "200"}});
        let refused = app.gql(&acme_token, CREATE_MONITOR, input).await;
        assert_eq!(code(&refused), Some("BAD_INPUT"), "{url}: {refused}");
        assert!(message(&refused).contains("public addresses"), "{refused}");
    }
    assert_eq!(app.head().await, head);

    // The checker, handed such a URL (or led there by a redirect), never connects, and says
    // the same as for a closed port on a public address.
    let public_stand_in = |ip: std::net::IpAddr| ip == std::net::IpAddr::from([127, 0, 0, 2]);
    let probe = Probe::treating_as_public(public_stand_in);
    let site = redirector().await;
    let closed = probe.check(&monitor_config("http://127.0.0.2:9/".to_owned(), 2), Reach::Public).await;
    assert!(!closed.ok && closed.status.is_none(), "{closed:?}");
    for url in internal_urls(v4.port()) {
        let direct = probe.check(&monitor_config(url.clone(), 2), Reach::Public).await;
        let hop =
            format!("http://{site}/?to={}", url::form_urlencoded::byte_serialize(url.as_bytes()).collect::<String>());
        let redirected = probe.check(&monitor_config(hop, 2), Reach::Public).await;
        for outcome in [&direct, &redirected] {
            assert!(!outcome.ok && outcome.error == closed.error, "{url}: {outcome:?} vs {closed:?}");
        }
        assert_eq!(redirected.chain.len(), 1, "the hop was recorded, not followed: {redirected:?}");
    }
    assert_eq!(connections(), 0, "no check reached an internal listener");
    // Staff may let a project reach internal targets; then the same checker connects.
    let internal = probe.check(&monitor_config(format!("http://127.0.0.1:{}/", v4.port()), 1), Reach::Internal).await;
    assert!(!internal.ok && connections() == 1, "{internal:?}");

    // A monitor effective in the future is not checked before then.
    crate::checker::allow_internal(app, &project).await;
    let later = json!({"i": {"projectId": project, "url": format!("http://127.0.0.1:{}/", v4.port()), "followRedirects": false, "expectedStatus": "200", "effectiveAt": (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339()}});
    let id: domain::MonitorId =
        s(&app.ok(BOOT, CREATE_MONITOR, later).await["createHttpMonitor"]["id"]).parse().unwrap();
    let checker = Checker::with_probe(app.state.clone(), probe);
    assert_eq!(checker.check(id).await.unwrap(), None);
    let now = app.state.now();
    for second in 0..120 {
        checker.round(now + chrono::Duration::seconds(second));
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(connections(), 1, "nothing checked the monitor effective in 30 days");
});

fn monitor_config(url: String, timeout: i64) -> domain::http_monitor::MonitorConfig {
    domain::http_monitor::MonitorSpec {
        url,
        follow_redirects: true,
        max_redirects: 5,
        expected_status: "200".into(),
        interval_seconds: 60,
        timeout_seconds: timeout,
    }
    .validate()
    .unwrap()
}

both_stores!(a_manager_deactivates_only_people_of_the_projects_they_manage, async |app: &TestApp| {
    let (acme, acme_token, _) = two_tenants(app).await;
    let customer = acme.ids[&Kind::Customer].clone();
    let other_project = crate::flows::project(app, &customer, None, "Back office").await;
    let grant = "mutation($p: ID!, $pr: ID!) { grantRole(personId: $p, projectId: $pr, role: MEMBER) { id } }";
    let (inside, _) = crate::flows::person(app, Some(&customer), "Ina").await;
    app.ok(BOOT, grant, json!({"p": inside, "pr": acme.ids[&Kind::Project]})).await;
    let (elsewhere, _) = crate::flows::person(app, Some(&customer), "Bert").await;
    app.ok(BOOT, grant, json!({"p": elsewhere, "pr": other_project})).await;
    let (both, _) = crate::flows::person(app, Some(&customer), "Bo").await;
    app.ok(BOOT, grant, json!({"p": both, "pr": acme.ids[&Kind::Project]})).await;
    app.ok(BOOT, grant, json!({"p": both, "pr": other_project})).await;
    let deactivate = "mutation($p: ID!) { deactivatePerson(personId: $p) { id } }";
    let head = app.head().await;
    for person in [&elsewhere, &both] {
        assert_eq!(app.code(&acme_token, deactivate, json!({"p": person})).await, "FORBIDDEN", "{person}");
    }
    assert_eq!(app.head().await, head);
    app.ok(&acme_token, deactivate, json!({"p": inside})).await;
});

/// The queries that name no customer's thing: either every token may ask them (each
/// answers what the token may see) or only staff and auditors may.
const PLATFORM_READS: &[(&str, bool)] = &[
    ("me", true),
    ("customers", true),
    ("search", true),
    ("staleBackups", true),
    ("releases", true),
    ("priceLists", true),
    ("billingDrift", false),
    ("slaReports", false),
    ("rekeyRequired", false),
    ("releasePolicyPreview", false),
    ("releaseChannel", false),
    ("logHead", false),
    ("leases", false),
    ("events", false),
    ("networks", false),
];

both_stores!(customers_see_their_releases_schedule_and_state_and_no_platform_internals, async |app: &TestApp| {
    let schema = schema();
    let (acme, acme_token, _) = two_tenants(app).await;
    let release = acme.ids[&Kind::Release].clone();
    app.ok(
        BOOT,
        "mutation($r: ID!) { vetoRelease(releaseId: $r, reason: \"storage migration on ceph-3\") { id } }",
        json!({"r": release}),
    )
    .await;
    // A VIEWER of the customer's project is the weakest token a customer has.
    let (viewer, viewer_token) = crate::flows::person(app, Some(&acme.ids[&Kind::Customer]), "Vic").await;
    let grant = "mutation($p: ID!, $pr: ID!) { grantRole(personId: $p, projectId: $pr, role: VIEWER) { id } }";
    app.ok(BOOT, grant, json!({"p": viewer, "pr": acme.ids[&Kind::Project]})).await;
    let reads: BTreeMap<&str, bool> = PLATFORM_READS.iter().copied().collect();
    let mut checked = 0;
    for field in &schema.queries {
        let kinds = schema.id_kinds(field, false);
        if !kinds.is_empty() && !kinds.iter().all(|k| *k == Kind::Release) {
            continue; // tenant-scoped by its ids: the generated tenancy test covers it
        }
        let customers = *reads
            .get(field.name.as_str())
            .unwrap_or_else(|| panic!("{}: say in PLATFORM_READS whether customers may read it", field.name));
        let doc = schema.document(field, false, &schema.arguments(field, false, &|k| acme.ids[&k].clone()));
        for token in [&acme_token, &viewer_token] {
            let answer = call(app, token, &doc).await;
            match customers {
                true => assert_ne!(code(&answer), Some("FORBIDDEN"), "customers may read {}: {answer}", field.name),
                false => {
                    assert_eq!(code(&answer), Some("FORBIDDEN"), "{} is for staff: {answer}", field.name);
                    assert!(answer["data"].is_null() || answer["data"][&field.name].is_null(), "{answer}");
                }
            }
        }
        let staff = call(app, BOOT, &doc).await;
        assert_ne!(code(&staff), Some("FORBIDDEN"), "staff read {}: {staff}", field.name);
        checked += 1;
    }
    assert_eq!(checked, PLATFORM_READS.len(), "every listed read is served");
    // A release shows a customer its schedule and state; vetoes and decisions are staff's.
    let q = "{ releases { id channel isoWeek windowStart decisionDueAt state decision { reason failedConditions } vetoes { by reason } } }";
    for token in [&acme_token, &viewer_token] {
        let seen = app.ok(token, q, json!({})).await["releases"][0].clone();
        assert_eq!((seen["id"].as_str(), seen["state"].as_str()), (Some(release.as_str()), Some("SCHEDULED")));
        assert_eq!((&seen["decision"], &seen["vetoes"]), (&Value::Null, &json!([])), "{seen}");
    }
    let staff = app.ok(BOOT, q, json!({})).await["releases"][0].clone();
    assert_eq!(staff["vetoes"][0]["reason"], "storage migration on ceph-3");
    let decided =
        "mutation($r: ID!) { decideRelease(releaseId: $r, approve: false, reason: \"ceph-3 degraded\") { state } }";
    app.ok(BOOT, decided, json!({"r": release})).await;
    let seen = app.ok(&viewer_token, q, json!({})).await["releases"][0].clone();
    assert_eq!((seen["state"].as_str(), &seen["decision"]), (Some("HELD"), &Value::Null), "the state, not the why");
    assert!(!seen.to_string().contains("ceph-3"));
    // Cancelled: that it was, and when; why, and who did it, are staff's.
    let cancel = "mutation($r: ID!) { cancelRelease(releaseId: $r, reason: \"ceph-3 replaced\") { state } }";
    app.ok(BOOT, cancel, json!({"r": release})).await;
    let q = "{ releases { state cancelledAt cancellationReason } }";
    for token in [&acme_token, &viewer_token] {
        let seen = app.ok(token, q, json!({})).await["releases"][0].clone();
        assert_eq!((seen["state"].as_str(), &seen["cancellationReason"]), (Some("CANCELLED"), &Value::Null), "{seen}");
        assert!(seen["cancelledAt"].is_string());
    }
    let history = "query($r: ID!) { history(entityId: $r) { summary } }";
    assert_eq!(app.ok(&acme_token, history, json!({"r": release})).await["history"], json!([]), "the log is staff's");
    let attempts = [
        ("mutation($r: ID!) { cancelRelease(releaseId: $r, reason: \"mine\") { id } }", json!({"r": release})),
        (
            "mutation($r: ID!) { markReleaseRolledOut(releaseId: $r, at: \"2026-01-01T00:00:00Z\") { id } }",
            json!({"r": release}),
        ),
    ];
    let head = app.head().await;
    for (mutation, vars) in attempts {
        assert_eq!(app.code(&acme_token, mutation, vars).await, "FORBIDDEN");
    }
    assert_eq!(app.head().await, head);
});

both_stores!(what_reads_the_log_costs_accordingly_and_is_read_once_per_request, async |app: &TestApp| {
    let (acme, acme_token, _) = two_tenants(app).await;
    let provision = json!({"i": {"projectId": acme.ids[&Kind::Project], "name": "db-9", "location": "fsn1", "cpu": 2, "ramGb": 4, "diskGb": 40, "effectiveAt": "2026-02-01T00:00:00Z"}});
    let vm = s(&app.ok(BOOT, crate::flows::PROVISION, provision).await["provisionVm"]["id"]);
    let record = "mutation($i: RecordBackupInput!) { recordBackup(input: $i) { backupId } }";
    for day in 1..=5 {
        let backup = json!({"i": {"vmId": vm, "backupId": format!("b-{day}"), "status": "SUCCEEDED", "startedAt": format!("2026-03-0{day}T01:00:00Z"), "finishedAt": format!("2026-03-0{day}T01:30:00Z"), "sizeBytes": 1000}});
        app.ok(BOOT, record, backup).await;
    }
    // 450 aliases of one VM's backup history: refused by cost before anything is read…
    let aliases = |n: usize, field: &str| {
        format!("{{ {} }}", (0..n).map(|i| format!("a{i}: {field}")).collect::<Vec<_>>().join(" "))
    };
    let history = format!("backupHistory(vmId: \"{vm}\", first: 1) {{ totalCount }}");
    for token in [&acme_token, BOOT] {
        let answer = call(app, token, &aliases(450, &history)).await;
        assert_eq!(code(&answer), Some("BAD_INPUT"), "{answer}");
        assert!(message(&answer).contains("complex"), "{answer}");
    }
    // …as are a few fleet-wide questions about the past, which may read every VM's log.
    let stale = "staleBackups(asOf: \"2026-03-03T00:00:00Z\") { vm { id } }";
    assert_eq!(code(&call(app, BOOT, &aliases(6, stale)).await), Some("BAD_INPUT"));
    assert_eq!(code(&call(app, BOOT, &aliases(4, stale)).await), None, "a handful is fine");
    // What a request may ask is answered, every alias alike.
    let answer = call(app, &acme_token, &aliases(60, &history)).await;
    assert_eq!(code(&answer), None, "{answer}");
    assert!((0..60).all(|i| answer["data"][format!("a{i}")]["totalCount"] == 5), "{answer}");
    // One request's aliases of the same VM and position read its log once, however many
    // resolve at once; another position is another read.
    let vm_id: domain::VmId = vm.parse().unwrap();
    let position = app.head().await;
    let reads = app::state::LogReads::default();
    let state = &app.state;
    let all = futures::future::join_all((0..450).map(|_| state.backups_of(vm_id, position, &reads))).await;
    assert!(all.iter().all(|r| r.as_ref().is_ok_and(|b| b.len() == 5)));
    assert_eq!(reads.reads(), 1, "450 aliases, one read");
    let earlier = state.backups_of(vm_id, position - 3, &reads).await.unwrap();
    assert_eq!((earlier.len(), reads.reads()), (2, 2), "as of three events before: two backups, a second read");
    let since: chrono::DateTime<chrono::Utc> = "2026-03-02T00:00:00Z".parse().unwrap();
    let one = [vm_id];
    let windows =
        futures::future::join_all((0..100).map(|_| state.backups_in_log(&one, position, since, &reads))).await;
    let alone = state.backups_in_log(&one, position, since, &app::state::LogReads::default()).await.unwrap();
    assert!(!alone[&vm_id].records.is_empty());
    assert!(windows.iter().all(|w| w.as_ref().is_ok_and(|w| w[&vm_id] == alone[&vm_id])));
    assert_eq!(reads.reads(), 3, "one more read for the window, shared by 100 callers");

    // SLA reports may read every monitor of the project from its log (an old month), every
    // project's for staff: priced so, and each monitor's log read once per request.
    let project = &acme.ids[&Kind::Project];
    let report = format!("slaReport(projectId: \"{project}\", month: \"2026-03\") {{ downtimeSeconds }}");
    assert_eq!(code(&call(app, &acme_token, &aliases(150, &report)).await), Some("BAD_INPUT"));
    assert_eq!(code(&call(app, &acme_token, &aliases(60, &report)).await), None);
    let reports = "slaReports(month: \"2026-03\") { downtimeSeconds }";
    assert_eq!(code(&call(app, BOOT, &aliases(6, reports)).await), Some("BAD_INPUT"));
    let create = "mutation($i: CreateHttpMonitorInput!) { createHttpMonitor(input: $i) { id } }";
    let input = json!({"i": {"projectId": project, "url": "https://a.example/", "followRedirects": false, "expectedStatus": "200", "effectiveAt": "2026-01-01T00:00:00Z"}});
    let monitor: domain::MonitorId = s(&app.ok(BOOT, create, input).await["createHttpMonitor"]["id"]).parse().unwrap();
    let transition = "mutation($m: ID!, $s: MonitorState!, $t: DateTime!) { recordMonitorTransition(monitorId: $m, state: $s, at: $t) { state } }";
    for (state, at) in [("DOWN", "2026-03-02T00:00:00Z"), ("UP", "2026-03-02T01:00:00Z")] {
        app.ok(BOOT, transition, json!({"m": monitor.to_string(), "s": state, "t": at})).await;
    }
    // A monitor as of an earlier instant may read its log too: priced like a VM's history.
    let as_of = format!("httpMonitor(id: \"{monitor}\", asOf: \"2026-12-01T00:00:00Z\") {{ state }}");
    assert_eq!(code(&call(app, &acme_token, &aliases(150, &as_of)).await), Some("BAD_INPUT"));
    let position = app.head().await;
    let reads = app::state::LogReads::default();
    let all = futures::future::join_all((0..100).map(|_| state.transitions(monitor, position, since, &reads))).await;
    assert!(all.iter().all(|t| t.as_ref().is_ok_and(|t| t.len() == 2)), "{all:?}");
    // Recorded months late, March's outage settled at once: it is read from the log, once.
    assert_eq!(reads.reads(), 1, "100 callers, one read");
});

both_stores!(whoever_keeps_sending_refused_documents_waits_and_others_do_not, async |app: &TestApp| {
    let (_, acme_token, _) = two_tenants(app).await;
    let refused = crate::abuse_cases::Case {
        name: "3,000 fields",
        body: serde_json::to_vec(&json!({"query": format!("{{{} }}", " logHead { position }".repeat(3_000))})).unwrap(),
    };
    // Refused before anything runs: by the checks before parsing, and by validation.
    let invalid = crate::abuse_cases::Case {
        name: "an unknown field",
        body: serde_json::to_vec(&json!({"query": "{ noSuchField }"})).unwrap(),
    };
    for n in 0..20 {
        let case = if n % 2 == 0 { &refused } else { &invalid };
        let answer = crate::abuse_cases::send(&app.router, &acme_token, case).await;
        assert_eq!(answer.code.as_deref(), Some("BAD_INPUT"), "{}", answer.body);
    }
    // The budget is spent: the next request of that token waits before it is read…
    let router = app.router.clone();
    let held = tokio::spawn(async move { crate::abuse_cases::send(&router, &acme_token, &refused).await });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!held.is_finished(), "held back while the budget refills");
    // …while everyone else is answered at once.
    let other = call(app, BOOT, "{ logHead { position } }").await;
    assert_eq!(code(&other), None, "{other}");
    assert!(!held.is_finished());
    // And then it gets its answer, the same refusal.
    let answer = held.await.unwrap();
    assert_eq!((answer.status, answer.code.as_deref()), (200, Some("BAD_INPUT")), "{}", answer.body);
});
