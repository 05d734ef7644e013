//! The `directory` binary's audit command on a real store file.

use std::collections::HashMap;
use std::process::Command;

use sqlx::Connection;
use store::testing::TempStore;
use store::{EventLog, Metadata, cqrs};

fn verify(url: &str) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_directory"))
        .args(["replay", "verify"])
        .env("DATABASE_URL", url)
        .output()
        .expect("run directory");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_verify_passes_an_intact_log_and_names_the_first_altered_event() {
    let store = TempStore::sqlite();
    let log = EventLog::connect(&store.url).await.unwrap();
    register(&log, 1, 3).await;
    let (ok, out) = verify(&store.url);
    assert!(ok, "{out}");
    assert!(out.contains("3 events"), "{out}");

    let mut conn = sqlx::SqliteConnection::connect(&store.url).await.unwrap();
    sqlx::query("UPDATE events SET payload = replace(payload, 'C2', 'C9') WHERE position = 2")
        .execute(&mut conn)
        .await
        .unwrap();
    let (ok, out) = verify(&store.url);
    assert!(!ok, "a tampered log must fail: {out}");
    assert!(out.contains("position 2"), "{out}");
    store.remove().await;
}

/// One HTTP/1.1 exchange over a fresh connection; answers the whole response text.
fn http(addr: &str, request: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream.write_all(request.as_bytes()).expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("receive");
    answer
}

const SCRAPER: &str = "metrics-scraper-token-0123456789abcdef";

#[test]
fn serve_refuses_to_start_with_a_short_token_or_a_token_lifetime_past_its_maximum() {
    let store = TempStore::sqlite();
    for (name, value) in
        [("DIRECTORY_BOOTSTRAP_TOKEN", "shorty"), ("DIRECTORY_METRICS_TOKEN", "0123456789abcdef0123456789abcde")]
    {
        let out = Command::new(env!("CARGO_BIN_EXE_directory"))
            .arg("serve")
            .env("DATABASE_URL", &store.url)
            .env("DIRECTORY_LISTEN", "127.0.0.1:0")
            .env(name, value)
            .output()
            .expect("run directory serve");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(name) && err.contains("at least 32"), "{name}: {err}");
        assert!(!err.contains(value), "the refusal does not print the token: {err}");
    }
    for (lifetime, longest, complaint) in [("400", "365", "1 day to the maximum"), ("30", "4000", "1 to 3650 days")] {
        let out = Command::new(env!("CARGO_BIN_EXE_directory"))
            .arg("serve")
            .env("DATABASE_URL", &store.url)
            .env("DIRECTORY_LISTEN", "127.0.0.1:0")
            .env("DIRECTORY_TOKEN_LIFETIME_DAYS", lifetime)
            .env("DIRECTORY_TOKEN_MAX_LIFETIME_DAYS", longest)
            .output()
            .expect("run directory serve");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(complaint), "{lifetime}/{longest}: {err}");
    }
    std::fs::remove_file(store.url.trim_start_matches("sqlite://")).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_logs_json_exposes_metrics_and_stops_cleanly_on_sigterm() {
    let store = TempStore::sqlite();
    let addr = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().to_string()
    };
    let server = Command::new(env!("CARGO_BIN_EXE_directory"))
        .arg("serve")
        .env("DATABASE_URL", &store.url)
        .env("DIRECTORY_LISTEN", &addr)
        .env("DIRECTORY_BOOTSTRAP_TOKEN", "cli-test-token-0123456789abcdefghij")
        .env("DIRECTORY_METRICS_TOKEN", SCRAPER)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start directory serve");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::net::TcpStream::connect(&addr).is_err() {
        assert!(std::time::Instant::now() < deadline, "the server did not start listening");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let body = r#"{"query":"mutation { registerCustomer(input: {name: \"Acme\", country: \"DE\", billingAddress: \"B\"}) { name } }"}"#;
    let answer = http(
        &addr,
        &format!(
            "POST /graphql HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer cli-test-token-0123456789abcdefghij\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    );
    assert!(answer.contains(r#"{"data":{"registerCustomer":{"name":"Acme"}}}"#), "{answer}");
    // Metrics are for the scraper's token and for staff, never for anyone who asks.
    let get_metrics =
        |auth: &str| http(&addr, &format!("GET /metrics HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n"));
    assert!(get_metrics("").starts_with("HTTP/1.1 401"), "{}", get_metrics(""));
    assert!(get_metrics("Authorization: Bearer not-the-scraper\r\n").starts_with("HTTP/1.1 401"));
    let staff = get_metrics("Authorization: bearer cli-test-token-0123456789abcdefghij\r\n");
    assert!(staff.starts_with("HTTP/1.1 200"), "{staff}");
    let metrics = get_metrics(&format!("Authorization: Bearer {SCRAPER}\r\n"));
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
    // The billing scheduler also records its run at start, so count at least the mutation.
    let value = |name: &str| -> f64 {
        let line =
            metrics.lines().find(|l| l.starts_with(&format!("{name} "))).unwrap_or_else(|| panic!("{name}: {metrics}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert!(value("directory_commits_appended_total") >= 1.0, "{metrics}");
    assert!(value("directory_log_head_position") >= 1.0, "{metrics}");

    let status = Command::new("kill").args(["-TERM", &server.id().to_string()]).status().unwrap();
    assert!(status.success());
    let out = server.wait_with_output().expect("server exits");
    let logs = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit after SIGTERM: {:?}\n{logs}", out.status);
    assert!(logs.lines().all(|l| l.starts_with('{')), "JSON lines when not on a terminal:\n{logs}");
    assert!(logs.contains("\"message\":\"stopped\""), "{logs}");
    store.remove().await;
}

fn directory(args: &[&str], database_url: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_directory"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .output()
        .expect("run directory")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixtures_are_deterministic_and_load_into_a_verifiable_log() {
    let dir = std::env::temp_dir().join(format!("directory-fixture-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (a, b) = (dir.join("a.jsonl"), dir.join("b.jsonl"));
    let store = TempStore::sqlite();
    for path in [&a, &b] {
        let out = directory(
            &["fixtures", "generate", "--size", "small", "--seed", "3", "--out", path.to_str().unwrap()],
            &store.url,
        );
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap(), "same size and seed, same bytes");
    let events: usize = std::fs::read_to_string(&a)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<fixtures::Commit>(l).unwrap().events.len())
        .sum();
    let out = directory(&["fixtures", "load", a.to_str().unwrap()], &store.url);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success() && text.contains(&format!("loaded {events} events")), "{text}");
    let (ok, verified) = verify(&store.url);
    assert!(ok && verified.contains(&format!("{events} events")), "{verified}");
    let again = directory(&["fixtures", "load", a.to_str().unwrap()], &store.url);
    assert!(!again.status.success(), "loading the same fixture twice is refused");
    let log = EventLog::connect(&store.url).await.unwrap();
    assert_eq!(log.head().await.unwrap().position, events as i64, "and appends nothing");
    std::fs::remove_dir_all(&dir).unwrap();
    store.remove().await;
}

/// `directory serve --demo` (the small fixture) on a store, once it listens: the server
/// (its output piped) and its address.
fn start_demo(store: &TempStore) -> (std::process::Child, String) {
    let addr = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().to_string()
    };
    let server = Command::new(env!("CARGO_BIN_EXE_directory"))
        .args(["serve", "--demo", "--demo-size", "small", "--listen", &addr])
        .env("DATABASE_URL", &store.url)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::net::TcpStream::connect(&addr).is_err() {
        assert!(std::time::Instant::now() < deadline, "the server did not start listening");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    (server, addr)
}

/// [`start_demo`], and the demo tokens it printed (before it listened), by who they are for.
fn demo_server(store: &TempStore) -> (std::process::Child, String, HashMap<String, String>) {
    use std::io::BufRead;
    let (mut server, addr) = start_demo(store);
    let mut lines = std::io::BufReader::new(server.stdout.take().unwrap()).lines();
    let mut tokens = HashMap::new();
    while tokens.len() < 3 {
        let line = lines.next().expect("the server prints three tokens").unwrap();
        if let Some(token) = line.split_whitespace().last().filter(|t| t.starts_with("dir_")) {
            tokens.insert(line.split_whitespace().next().unwrap().to_owned(), token.to_owned());
        }
    }
    (server, addr, tokens)
}

/// A GraphQL query to a running server, answered as JSON.
fn ask(addr: &str, token: &str, query: &str) -> serde_json::Value {
    let body = serde_json::json!({ "query": query }).to_string();
    let answer = http(
        addr,
        &format!(
            "POST /graphql HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    );
    serde_json::from_str(answer.split_once("\r\n\r\n").unwrap().1).unwrap()
}

/// Whether a demo server's store looks alive now: last month billed for the demo customer,
/// most VMs backed up in the last two days, and a release ahead.
fn is_current(addr: &str, tokens: &HashMap<String, String>) {
    let now = chrono::Utc::now();
    let last_month = domain::Period::of(now).previous().to_string();
    let me = ask(addr, &tokens["customer"], "{ me { customerId } }");
    let mine =
        format!("{{ invoices(customerId: \"{}\") {{ period }} }}", me["data"]["me"]["customerId"].as_str().unwrap());
    let invoices = ask(addr, &tokens["customer"], &mine);
    let periods: Vec<&str> =
        invoices["data"]["invoices"].as_array().unwrap().iter().map(|i| i["period"].as_str().unwrap()).collect();
    assert!(periods.contains(&last_month.as_str()), "last month, {last_month}, is billed: {invoices}");
    let stale = |hours: u32| {
        let answer =
            ask(addr, &tokens["staff"], &format!("{{ staleBackups(olderThanHours: {hours}) {{ vm {{ name }} }} }}"));
        answer["data"]["staleBackups"].as_array().unwrap_or_else(|| panic!("{answer}")).len()
    };
    // Every VM's last backup is older than an hour; most are younger than two days.
    let (all, old) = (stale(1), stale(48));
    assert!(all > 0 && old * 2 < all, "{old} of {all} VMs have no backup of the last two days");
    let releases = ask(addr, &tokens["staff"], "{ releases { windowStart state } }");
    let ahead = releases["data"]["releases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["windowStart"].as_str().unwrap().parse::<chrono::DateTime<chrono::Utc>>().unwrap() > now)
        .count();
    assert!(ahead >= 1, "a release is ahead: {releases}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_demo_fills_an_empty_store_and_prints_working_tokens() {
    let store = TempStore::sqlite();
    let (mut server, addr, tokens) = demo_server(&store);
    let me = |token: &str| ask(&addr, token, "{ me { staffRoles customerId } customers { totalCount } }").to_string();
    let admin = me(&tokens["staff"]);
    assert!(admin.contains(r#""staffRoles":["ADMIN"]"#) && admin.contains(r#""totalCount":6"#), "{admin}");
    assert!(me(&tokens["auditor"]).contains(r#""staffRoles":["AUDITOR"]"#));
    let customer = me(&tokens["customer"]);
    assert!(customer.contains(r#""staffRoles":[]"#) && customer.contains(r#""totalCount":1"#), "{customer}");
    // The demo is current: its history runs up to now.
    is_current(&addr, &tokens);
    server.kill().unwrap();
    server.wait().unwrap();
    store.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_demo_catches_a_store_filled_days_ago_up_to_now_once() {
    let store = TempStore::sqlite();
    let log = EventLog::connect(&store.url).await.unwrap();
    let then = chrono::Utc::now() - chrono::Duration::days(10);
    app::demo::fill_if_empty(&log, fixtures::Size::Small, then).await.unwrap();
    // Every backup event of the live VMs, by VM.
    let backups = async |log: &EventLog| {
        let catalog = projections::Projector::start(log.clone()).await.unwrap();
        let vms: Vec<String> = catalog
            .read()
            .live()
            .vms()
            .filter(|(_, v)| v.decommissioned_at.is_none())
            .map(|(id, _)| id.to_string())
            .collect();
        let mut counts = vec![];
        for vm in vms {
            counts.push((vm.clone(), log.history(&["backup_log"], &vm, 0, 100_000).await.unwrap().len()));
        }
        counts
    };
    let before = backups(&log).await;
    assert!(!before.is_empty());

    let (mut server, addr, tokens) = demo_server(&store);
    is_current(&addr, &tokens);
    server.kill().unwrap();
    server.wait().unwrap();
    let after = backups(&log).await;
    let nights: Vec<usize> = before.iter().zip(&after).map(|((_, b), (_, a))| a - b).collect();
    // Ten nights each (some VMs also expire a backup a night): none left out.
    assert!(nights.iter().all(|n| *n >= 9), "backup events added per VM: {nights:?}");

    let (mut server, addr, tokens) = demo_server(&store);
    is_current(&addr, &tokens);
    server.kill().unwrap();
    server.wait().unwrap();
    assert_eq!(backups(&log).await, after, "a second start adds no backup");
    store.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_demo_adds_nothing_to_a_store_that_holds_no_demo() {
    let store = TempStore::sqlite();
    let log = EventLog::connect(&store.url).await.unwrap();
    // A real store: people, VMs whose last backups are weeks old, releases; not the fixture's.
    let real =
        fixtures::generate(fixtures::Size::Small, 3).map(|c| fixtures::Commit { actor: "system:import".into(), ..c });
    log.append_in_order(real.map(|c| c.appendable())).await.unwrap();
    let head = log.head().await.unwrap();
    let (mut server, _) = start_demo(&store);
    server.kill().unwrap();
    let out = server.wait_with_output().unwrap();
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(!printed.contains("dir_"), "no demo tokens for a real store: {printed}");
    // The server's own jobs may have run (a billing run); the demo added nothing.
    let since = log.read_after(head.position, 1_000).await.unwrap();
    let added: Vec<(String, String)> = since.iter().map(|e| (e.event_type.clone(), e.metadata().actor)).collect();
    assert!(
        added.iter().all(|(kind, actor)| actor != "system:demo" && kind != "TokenIssued" && kind != "BackupSucceeded"),
        "nothing of the demo appended to a store that holds none: {added:?}"
    );
    store.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_rebuild_gives_the_same_digest_twice_and_as_of_answers_without_a_server() {
    let store = TempStore::sqlite();
    let log = EventLog::connect(&store.url).await.unwrap();
    let before = chrono::Utc::now();
    log.append_in_order(fixtures::generate(fixtures::Size::Small, 5).map(|c| c.appendable())).await.unwrap();
    let rebuild = || {
        let out = directory(&["replay", "rebuild"], &store.url);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.lines().find(|l| l.starts_with("catalog/")).expect("a digest line").to_owned()
    };
    let first = rebuild();
    assert_eq!(first, rebuild(), "two rebuilds, one digest");
    let live = projections::Projector::start(log.clone()).await.unwrap();
    assert_eq!(first, format!("{} sha256:{}", projections::Catalog::SNAPSHOT_MODEL, live.read().digest()));

    let as_of = |t: &str, q: &str| directory(&["replay", "as-of", t, q], &store.url);
    let empty = as_of(&(before - chrono::Duration::seconds(1)).to_rfc3339(), "{ customers { totalCount } }");
    assert!(String::from_utf8_lossy(&empty.stdout).contains("\"totalCount\": 0"));
    let now = as_of("2100-01-01T00:00:00Z", "{ customers { totalCount } }");
    assert!(
        String::from_utf8_lossy(&now.stdout).contains("\"totalCount\": 6"),
        "{}",
        String::from_utf8_lossy(&now.stdout)
    );
    let change = as_of("2100-01-01T00:00:00Z", "mutation { closeCustomer(customerId: \"x\") { id } }");
    assert!(!change.status.success(), "changes are refused");
    store.remove().await;
}

#[test]
fn billing_export_refuses_a_bad_period_and_writes_an_empty_batch_for_an_empty_store() {
    let store = TempStore::sqlite();
    let bad = directory(&["billing", "export", "--period", "2026-13"], &store.url);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("period"), "{}", String::from_utf8_lossy(&bad.stderr));
    let out = store.url.replace("sqlite://", "") + ".csv";
    let reversed = directory(&["billing", "export", "--period", "2026-03", "--debtors", "69999-10000"], &store.url);
    assert!(!reversed.status.success(), "a range that runs backwards is refused");
    let ok = directory(&["billing", "export", "--period", "2026-03", "--out", &out], &store.url);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    // Windows-1252, as DATEV reads it: the column names' umlauts are single bytes.
    let batch = std::fs::read(&out).unwrap();
    assert!(batch.starts_with(b"\"EXTF\";700;21;\"Buchungsstapel\""));
    assert!(batch.windows(5).any(|w| w == b"Schl\xfc"), "ü in Windows-1252");
    assert_eq!(batch.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count(), 2, "header and column names only");
    let beside = std::path::Path::new(&out).with_file_name("EXTF_Debitoren_Kreditoren.csv");
    let master = std::fs::read(&beside).expect("the master data beside the batch");
    assert!(master.starts_with(b"\"EXTF\";700;16;\"Debitoren/Kreditoren\";5;"));
    let _ = std::fs::remove_file(&beside);
    assert!(String::from_utf8_lossy(&ok.stderr).contains("0 documents of 2026-03"));
}

#[test]
fn sla_report_prints_a_table_or_csv_and_refuses_a_bad_month() {
    let store = TempStore::sqlite();
    let bad = directory(&["sla", "report", "--month", "2026-13"], &store.url);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("month"), "{}", String::from_utf8_lossy(&bad.stderr));
    let csv = directory(&["sla", "report", "--month", "2026-03", "--format", "csv"], &store.url);
    assert!(csv.status.success(), "{}", String::from_utf8_lossy(&csv.stderr));
    assert_eq!(
        String::from_utf8_lossy(&csv.stdout).lines().next(),
        Some(
            "project_id,project,class,target_percent,availability_percent,downtime_seconds,excluded_maintenance_seconds,breached,incidents"
        )
    );
    let table = directory(&["sla", "report", "--month", "2026-03"], &store.url);
    assert!(String::from_utf8_lossy(&table.stdout).starts_with("project "));
}

async fn register(log: &EventLog, from: u128, to: u128) {
    let customers = cqrs::<domain::customer::Customer>(log, ());
    let meta: HashMap<String, String> = Metadata { actor: "system:test".into(), ..Metadata::default() }.to_map();
    for n in from..=to {
        let id = domain::CustomerId(uuid::Uuid::from_u128(n));
        let cmd = domain::customer::CustomerCommand::Register {
            id,
            name: format!("C{n}"),
            country: "DE".into(),
            vat_id: None,
            billing_address: "Berlin".into(),
            payment_terms_days: None,
            effective_at: chrono::Utc::now(),
        };
        customers.execute_with_metadata(&id.to_string(), cmd, meta.clone()).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_checkpoint_proves_the_log_was_extended_not_rewritten() {
    let (store, forged) = (TempStore::sqlite(), TempStore::sqlite());
    let log = EventLog::connect(&store.url).await.unwrap();
    register(&log, 1, 3).await;
    let dir = std::env::temp_dir().join(format!("directory-checkpoint-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let (key, cp) = (dir.join("auditor.key"), dir.join("checkpoint.json"));
    let out =
        directory(&["replay", "checkpoint", "--key", key.to_str().unwrap(), "--out", cp.to_str().unwrap()], &store.url);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let checkpoint: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&cp).unwrap()).unwrap();
    assert_eq!(checkpoint["position"], 3);

    // The log grows: it still extends the checkpoint, signed by the pinned key.
    register(&log, 4, 5).await;
    let public = checkpoint["public_key"].as_str().unwrap();
    let ok = directory(&["replay", "verify", "--checkpoint", cp.to_str().unwrap(), "--public-key", public], &store.url);
    assert!(ok.status.success(), "{}{}", String::from_utf8_lossy(&ok.stdout), String::from_utf8_lossy(&ok.stderr));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("extends the checkpoint at position 3"));

    // Another log with a chain of its own (as a rewrite from scratch would have) does not.
    let other = EventLog::connect(&forged.url).await.unwrap();
    register(&other, 11, 15).await;
    let rewritten = directory(&["replay", "verify", "--checkpoint", cp.to_str().unwrap()], &forged.url);
    assert!(!rewritten.status.success());
    assert!(
        String::from_utf8_lossy(&rewritten.stderr).contains("chain hash at position 3 differs"),
        "{}",
        String::from_utf8_lossy(&rewritten.stderr)
    );

    // An altered checkpoint, or one signed by another key, is refused.
    let mut altered = checkpoint.clone();
    altered["position"] = serde_json::json!(2);
    std::fs::write(&cp, altered.to_string()).unwrap();
    let bad = directory(&["replay", "verify", "--checkpoint", cp.to_str().unwrap()], &store.url);
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("signature does not match"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    std::fs::write(&cp, checkpoint.to_string()).unwrap();
    let other_key = directory(
        &["replay", "verify", "--checkpoint", cp.to_str().unwrap(), "--public-key", &"00".repeat(32)],
        &store.url,
    );
    assert!(String::from_utf8_lossy(&other_key.stderr).contains("signed by another key"));
    let _ = std::fs::remove_dir_all(&dir);
    store.remove().await;
    forged.remove().await;
}

/// A fixture node's ENC, as `directory node enc` prints it: reviewed by hand once and kept
/// (`golden/enc.json`); a change to what the agents receive shows here first.
#[test]
fn a_fixture_nodes_enc_and_users_are_what_was_reviewed() {
    let store = TempStore::sqlite();
    let dir = std::env::temp_dir().join(format!("directory-enc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fixture = dir.join("small.jsonl");
    let run = |args: &[&str]| {
        let out = directory(args, &store.url);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    run(&["fixtures", "generate", "--size", "small", "--seed", "1", "--out", fixture.to_str().unwrap()]);
    run(&["fixtures", "load", fixture.to_str().unwrap()]);
    let enc: serde_json::Value = serde_json::from_str(&run(&["node", "enc", "cache-3-c0"])).unwrap();
    let golden: serde_json::Value = serde_json::from_str(include_str!("golden/enc.json")).unwrap();
    assert_eq!(enc, golden);
    let group = enc["parameters"]["resource_group"].as_str().unwrap();
    let users: serde_json::Value = serde_json::from_str(&run(&["node", "users", group])).unwrap();
    let golden: serde_json::Value = serde_json::from_str(include_str!("golden/users.json")).unwrap();
    assert_eq!(users, golden);
    let missing = directory(&["node", "enc", "app-6-c0"], &store.url);
    assert!(!missing.status.success(), "a decommissioned node has no ENC");
    let _ = std::fs::remove_dir_all(&dir);
}
