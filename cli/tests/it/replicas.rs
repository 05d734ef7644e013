//! The Directory beyond one process: a read-only server on a real streaming hot standby,
//! the standby promoted when its primary is gone, and several read-write servers sharing
//! one database's work by leases.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use app::clock::SystemClock;
use app::state::AppState;
use serde_json::{Value, json};
use sqlx::Connection;
use store::EventLog;
use store::testing::TempStore;

use bench::cluster::Cluster;

use super::support::{REGISTER, Server, TOKEN, node_key_file, post, register_vars};

/// What both servers are asked, to compare: the log's end and the whole customer list.
const SAME: &str = "{ logHead { position chainHash } customers(first: 500) { totalCount nodes { id name country } } }";

async fn head(client: &reqwest::Client, addr: &str) -> i64 {
    let (_, answer) = post(client, addr, "{ logHead { position } }", json!({})).await.unwrap();
    answer["data"]["logHead"]["position"].as_str().and_then(|p| p.parse().ok()).unwrap_or(-1)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hot_standby_answers_as_its_primary_refuses_writes_and_takes_over_when_promoted() {
    let primary = Cluster::primary().unwrap();
    let writer = Server::start(&primary.url(), &[], &[]);
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    // History before the standby exists (it arrives in the base backup) and after (streamed).
    for i in 0..20 {
        let (_, answer) = post(&client, &writer.addr, REGISTER, register_vars(&format!("before-{i}"))).await.unwrap();
        assert!(answer["data"]["registerCustomer"]["id"].is_string(), "{answer}");
    }
    let standby = Cluster::standby_of(&primary).unwrap();
    let reader = Server::start(&standby.url(), &["--read-only"], &[]);

    // A steady write load on the primary, 100 commands a second for 3 s; each acknowledged
    // customer is looked for on the standby's server until it answers there.
    let (acked_tx, mut acked_rx) = tokio::sync::mpsc::unbounded_channel::<(String, Instant)>();
    let load = {
        let (client, addr) = (client.clone(), writer.addr.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(10));
            for i in 0..300 {
                tick.tick().await;
                let (status, answer) =
                    post(&client, &addr, REGISTER, register_vars(&format!("load-{i}"))).await.unwrap();
                let id = answer["data"]["registerCustomer"]["id"].as_str().map(str::to_owned);
                assert_eq!((status, id.is_some()), (200, true), "{answer}");
                acked_tx.send((id.unwrap(), Instant::now())).unwrap();
            }
        })
    };
    let mut lags = vec![];
    let mut ids = vec![];
    while let Some((id, acked)) = acked_rx.recv().await {
        let query = "query($c: ID!) { customer(id: $c) { id } }";
        loop {
            let (_, answer) = post(&client, &reader.addr, query, json!({"c": id})).await.unwrap();
            if answer["data"]["customer"]["id"] == json!(id) {
                lags.push(acked.elapsed().as_secs_f64() * 1000.0);
                break;
            }
            assert!(acked.elapsed() < Duration::from_secs(10), "the standby never answered with {id}: {answer}");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        ids.push(id);
    }
    load.await.unwrap();
    lags.sort_by(f64::total_cmp);
    assert_eq!(lags.len(), 300);
    eprintln!(
        "standby lag behind 100 writes/s (acknowledged on the primary → answered by the standby's server), ms: \
         p50 {:.1}, p99 {:.1}, max {:.1}",
        percentile(&lags, 0.5),
        percentile(&lags, 0.99),
        lags[lags.len() - 1]
    );

    // At the same log position both servers answer alike.
    let position = head(&client, &writer.addr).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while head(&client, &reader.addr).await != position || !super::support::ready(&reader.addr) {
        assert!(Instant::now() < deadline, "the standby did not reach position {position}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (_, on_primary) = post(&client, &writer.addr, SAME, json!({})).await.unwrap();
    let (_, on_standby) = post(&client, &reader.addr, SAME, json!({})).await.unwrap();
    assert_eq!(on_primary["data"]["customers"]["totalCount"], json!(320), "{on_primary}");
    assert_eq!(on_standby, on_primary, "the standby answers as the primary at the same position");

    // A write sent to the standby's server is refused as retryable, and changes nothing.
    let (status, refused) = post(&client, &reader.addr, REGISTER, register_vars("on-the-standby")).await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(refused["errors"][0]["extensions"]["code"], json!("UNAVAILABLE"), "{refused}");
    assert_eq!(head(&client, &reader.addr).await, position);

    // The primary is lost; the standby is promoted: its log verifies, and a server on it
    // takes writes and holds every acknowledged one.
    writer.kill9();
    drop(reader);
    primary.pg_ctl(&["-m", "fast", "stop"]).unwrap();
    let promoted = Instant::now();
    standby.promote().unwrap();
    let verify = Command::new(env!("CARGO_BIN_EXE_directory"))
        .args(["replay", "verify"])
        .env("DATABASE_URL", standby.url())
        .output()
        .unwrap();
    assert!(verify.status.success(), "replay verify: {}", String::from_utf8_lossy(&verify.stderr));
    let server = Server::start(&standby.url(), &[], &[]);
    let (_, answer) = post(&client, &server.addr, REGISTER, register_vars("after-promotion")).await.unwrap();
    assert!(answer["data"]["registerCustomer"]["id"].is_string(), "the promoted standby takes writes: {answer}");
    let took = promoted.elapsed();
    let (_, all) = post(&client, &server.addr, SAME, json!({})).await.unwrap();
    let held: Vec<&str> =
        all["data"]["customers"]["nodes"].as_array().unwrap().iter().filter_map(|c| c["id"].as_str()).collect();
    assert_eq!(all["data"]["customers"]["totalCount"], json!(321));
    for id in &ids {
        assert!(held.contains(&id.as_str()), "acknowledged customer {id} survived the failover");
    }
    eprintln!("failover: promotion, replay verify and a first write in {took:?}");
}

/// An HTTP target that notes when each path was asked for.
async fn target() -> (String, Arc<Mutex<Vec<(String, Instant)>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let noted = seen.clone();
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let noted = noted.clone();
        async move {
            noted.lock().unwrap().push((uri.path().to_owned(), Instant::now()));
            "ok"
        }
    });
    tokio::spawn(axum::serve(listener, app).into_future());
    (addr, seen)
}

/// Sets the platform up through a server of the test's own that runs no schedulers, so
/// that the billing run is left to the three servers: a customer with a VM since October, a
/// VM a node agent speaks for, and twelve monitors checked every 5 s.
async fn platform(url: &str, target: &str) -> (String, String) {
    let log = EventLog::connect(url).await.unwrap();
    let state = AppState::start(log, Arc::new(SystemClock), Some(TOKEN)).await.unwrap();
    let _ = state.node_key.set(app::node_credentials::NodeKey::from_file(&node_key_file()).unwrap());
    let state = Arc::new(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let serving = tokio::spawn(axum::serve(listener, api::http::router(state, None)).into_future());
    let client = reqwest::Client::new();
    let ok = async |query: &str, variables: Value| {
        let (_, answer) = post(&client, &addr, query, variables).await.unwrap();
        assert!(answer["errors"].is_null(), "{answer}");
        answer["data"].clone()
    };
    let prices = json!({"i": {"validFrom": "2026-01-01T00:00:00+01:00", "vcpu": "12.50", "ramGb": "3.20", "diskGb": "0.045", "backupGb": "0.02", "monitor": "1.50", "slaBasic": "0", "slaStandard": "15", "slaPremium": "45"}});
    ok("mutation($i: PublishPriceListInput!) { publishPriceList(input: $i) { position } }", prices).await;
    let customer = ok(REGISTER, register_vars("acme")).await["registerCustomer"]["id"].as_str().unwrap().to_owned();
    let project = json!({"i": {"customerId": customer, "name": "Shop", "slaClass": "STANDARD", "effectiveAt": "2026-01-01T00:00:00Z", "resourceGroup": "shop"}});
    let project = ok("mutation($i: CreateProjectInput!) { createProject(input: $i) { id } }", project).await;
    let project = project["createProject"]["id"].as_str().unwrap().to_owned();
    let allow =
        "mutation($p: ID!) { allowInternalMonitorTargets(projectId: $p, allowed: true) { internalMonitorTargets } }";
    ok(allow, json!({"p": project})).await;
    let vm = json!({"i": {"projectId": project, "name": "web01", "location": "rzob", "cpu": 2, "ramGb": 4, "diskGb": 50, "effectiveAt": "2026-10-01T00:00:00Z", "hostname": "web01"}});
    let provision = "mutation($i: ProvisionVmInput!) { provisionVm(input: $i) { id } }";
    let vm = ok(provision, vm).await["provisionVm"]["id"].as_str().unwrap().to_owned();
    for i in 0..12 {
        let monitor = json!({"i": {"projectId": project, "url": format!("http://{target}/m/{i}"), "followRedirects": false, "expectedStatus": "200", "intervalSeconds": 5, "timeoutSeconds": 2}});
        ok("mutation($i: CreateHttpMonitorInput!) { createHttpMonitor(input: $i) { id } }", monitor).await;
    }
    let password = ok("query($v: ID!) { nodeCredentials(vmId: $v) { password } }", json!({"v": vm})).await;
    serving.abort();
    (customer, password["nodeCredentials"]["password"].as_str().unwrap().to_owned())
}

/// The leases as a server reports them to staff: name → holder, live ones only.
async fn live_leases(client: &reqwest::Client, addr: &str) -> BTreeMap<String, String> {
    let (_, answer) = post(client, addr, "{ leases { name holder live } }", json!({})).await.unwrap();
    let leases = answer["data"]["leases"].as_array().cloned().unwrap_or_default();
    leases
        .iter()
        .filter(|l| l["live"] == json!(true))
        .map(|l| (l["name"].as_str().unwrap().to_owned(), l["holder"].as_str().unwrap().to_owned()))
        .collect()
}

/// The pid in a holder's name (`host:pid:random`).
fn pid_of(holder: &str) -> u32 {
    holder.split(':').nth(1).and_then(|p| p.parse().ok()).unwrap()
}

/// A node's `schedule_maintenance` call with one request, as the agent sends it; answers the time given.
async fn schedule(client: &reqwest::Client, addr: &str, password: &str, request: String) -> String {
    let body = format!(
        "<?xml version=\"1.0\"?><methodCall><methodName>schedule_maintenance</methodName><params><param><value><struct>\
         <member><name>{request}</name><value><struct><member><name>estimate</name><value><int>900</int></value></member>\
         </struct></value></member></struct></value></param></params></methodCall>"
    );
    let res = client
        .post(format!("http://{addr}/v2/api/rg-shop"))
        .basic_auth("web01", Some(password))
        .header("content-type", "text/xml")
        .body(body)
        .send()
        .await
        .unwrap();
    let text = res.text().await.unwrap();
    let start = text.find("<name>time</name>").unwrap_or_else(|| panic!("no time in {text}"));
    let rest = &text[start..];
    let (from, to) = (rest.find("<string>").unwrap() + 8, rest.find("</string>").unwrap());
    rest[from..to].to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_servers_share_the_work_by_leases_and_a_killed_holders_work_passes_on() {
    let store = TempStore::postgres().await;
    let (target, seen) = target().await;
    let (customer, password) = platform(&store.url, &target).await;
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();

    // Three servers start at once, each with leases of 2 s.
    let env = [("DIRECTORY_LEASE_SECONDS", "2")];
    let url = store.url.clone();
    let starting: Vec<_> = (0..3)
        .map(|_| {
            std::thread::spawn({
                let url = url.clone();
                move || Server::start(&url, &[], &env)
            })
        })
        .collect();
    let mut servers: Vec<Server> = starting.into_iter().map(|s| s.join().unwrap()).collect();
    let staff = servers[0].addr.clone();

    // Each ends up with its share of the monitors; one bills, one decides releases.
    let deadline = Instant::now() + Duration::from_secs(20);
    let leases = loop {
        let leases = live_leases(&client, &staff).await;
        let mut shards: BTreeMap<&str, usize> = BTreeMap::new();
        for (name, holder) in &leases {
            if name.starts_with("checker/") {
                *shards.entry(holder.as_str()).or_default() += 1;
            }
        }
        let even = shards.len() == 3 && shards.values().all(|n| *n <= 6) && shards.values().sum::<usize>() == 16;
        if even && leases.contains_key("billing") && leases.contains_key("releases") {
            break leases;
        }
        assert!(Instant::now() < deadline, "the leases were not shared out: {leases:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let pids: Vec<u32> = servers.iter().map(Server::pid).collect();
    assert!(leases.values().all(|h| pids.contains(&pid_of(h))), "every holder is one of the servers: {leases:?}");

    // The month due is billed once, whichever server started first.
    let mut db = sqlx::PgConnection::connect(&store.url).await.unwrap();
    let count =
        async |db: &mut sqlx::PgConnection, sql: &str| -> i64 { sqlx::query_scalar(sql).fetch_one(db).await.unwrap() };
    let deadline = Instant::now() + Duration::from_secs(20);
    while count(&mut db, "SELECT count(*) FROM events WHERE event_type = 'BillingRunCompleted'").await == 0 {
        assert!(Instant::now() < deadline, "the scheduled billing run did not complete");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, invoices) =
        post(&client, &staff, "query($c: ID!) { invoices(customerId: $c) { number period } }", json!({"c": customer}))
            .await
            .unwrap();
    let invoices = invoices["data"]["invoices"].as_array().unwrap().clone();
    assert_eq!(invoices.len(), 1, "one invoice: {invoices:?}");
    assert_eq!(count(&mut db, "SELECT count(*) FROM events WHERE event_type = 'BillingRunStarted'").await, 1);

    // A node's requests reach the three servers at once: one slot for all of them.
    let times = futures::future::join_all(
        servers.iter().enumerate().map(|(i, s)| schedule(&client, &s.addr, &password, format!("r{i}"))),
    )
    .await;
    assert!(times.iter().all(|t| *t == times[0]), "one slot from every server: {times:?}");

    // Checked by one server at a time: at the interval, not three times as often.
    let watch_from = Instant::now();
    tokio::time::sleep(Duration::from_secs(12)).await;
    let checks = |since: Instant| {
        let mut by_path: BTreeMap<String, Vec<Instant>> = BTreeMap::new();
        for (path, at) in seen.lock().unwrap().iter().filter(|(_, at)| *at >= since) {
            by_path.entry(path.clone()).or_default().push(*at);
        }
        by_path
    };
    let steady = checks(watch_from);
    assert_eq!(steady.len(), 12, "every monitor is checked: {:?}", steady.keys());
    for (path, times) in &steady {
        assert!(times.len() >= 2, "{path} checked {} times in 12 s", times.len());
        for pair in times.windows(2) {
            let apart = pair[1] - pair[0];
            assert!(apart >= Duration::from_secs(4), "{path} checked twice within {apart:?}: two checkers");
        }
    }

    // The holder of the billing lease dies; its leases pass to the two others.
    let victim = pid_of(&leases["billing"]);
    let index = servers.iter().position(|s| s.pid() == victim).unwrap();
    servers.remove(index).kill9();
    let killed = Instant::now();
    let survivor = servers[0].addr.clone();
    let handed = loop {
        let now = live_leases(&client, &survivor).await;
        let shards = now.iter().filter(|(name, h)| name.starts_with("checker/") && pid_of(h) != victim).count();
        if shards == 16 && now.get("billing").is_some_and(|h| pid_of(h) != victim) {
            break killed.elapsed();
        }
        assert!(killed.elapsed() < Duration::from_secs(15), "the killed server's leases did not pass on: {now:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // Every monitor is checked again after the kill (its first check is spread over 5 s).
    let deadline = killed + Duration::from_secs(15);
    let resumed = loop {
        let after = checks(killed);
        if after.len() == 12 {
            break after.values().map(|t| t[0] - killed).max().unwrap();
        }
        assert!(Instant::now() < deadline, "monitors not checked since the kill: {}", 12 - after.len());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!("killed holder: leases passed on after {handed:?}; every monitor checked again within {resumed:?}");
    drop(servers);
    store.remove().await;
}
