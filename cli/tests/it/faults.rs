//! Faults the Directory survives, each test bounded in time: the server killed (SIGKILL)
//! under a write load, and PostgreSQL restarted under load. (An idle transaction holding
//! the log is `api`'s `faults.rs`; one command id retried concurrently is
//! `flows::ten_concurrent_retries_…`.)

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use app::clock::SystemClock;
use app::state::AppState;
use serde_json::json;
use sqlx::{Connection, Row};
use store::EventLog;
use store::testing::TempStore;

use bench::cluster::Cluster;

use super::support::{REGISTER, Server, TOKEN, post, register_vars};

/// Every command record has its events, every customer event its command record, the
/// chain verifies, and the acknowledged commands are there with the ids they answered.
async fn assert_log_holds(log: &EventLog, url: &str, acked: &BTreeMap<String, String>) {
    let head = log.head().await.unwrap().position;
    assert_eq!(replay::audit::verify(log).await.unwrap(), Ok(head), "the chain verifies, gapless");
    let mut db = sqlx::PgConnection::connect(url).await.unwrap();
    let recorded: BTreeMap<String, String> =
        sqlx::query("SELECT command_id, aggregate_id FROM commands WHERE command_id LIKE 'k-%'")
            .fetch_all(&mut db)
            .await
            .unwrap()
            .into_iter()
            .map(|r| (r.get("command_id"), r.get("aggregate_id")))
            .collect();
    for (command, id) in acked {
        assert_eq!(recorded.get(command), Some(id), "acknowledged command {command} is in the log");
    }
    let orphans: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM commands c WHERE NOT EXISTS \
         (SELECT 1 FROM events e WHERE e.position = c.position AND e.aggregate_id = c.aggregate_id)",
    )
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(orphans, 0, "no command record without its events");
    let customers: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'CustomerRegistered'")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(customers as usize, recorded.len(), "every customer event came with its command record, once");
}

/// Restarting (a newest snapshot plus the tail) gives the same read models as a rebuild from 0.
async fn assert_restart_equals_rebuild(log: &EventLog) {
    let restarted = AppState::start(log.clone(), Arc::new(SystemClock), None).await.unwrap();
    let (rebuilt, _) = replay::rebuild::rebuild(log, |_, _| {}).await.unwrap();
    let catalog = restarted.catalog();
    assert_eq!(catalog.position, rebuilt.position);
    assert_eq!(catalog.digest(), rebuilt.digest(), "read models after a restart equal a rebuild");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_writes_twenty_times_loses_no_acknowledged_command() {
    let store = TempStore::postgres().await;
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let mut acked = BTreeMap::new();
    let mut per_cycle = Vec::new();
    for cycle in 0..20 {
        // Snapshots often, so that kills land while one is being written too.
        let server = Server::start(&store.url, &[], &[("DIRECTORY_SNAPSHOT_EVERY", "40")]);
        let addr = server.addr.clone();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let writers: Vec<_> = (0..8)
            .map(|w| {
                let (client, addr, tx) = (client.clone(), addr.clone(), tx.clone());
                tokio::spawn(async move {
                    for i in 0.. {
                        let command = format!("k-{cycle}-{w}-{i}");
                        match post(&client, &addr, REGISTER, register_vars(&command)).await {
                            Ok((200, answer)) if answer["data"]["registerCustomer"]["id"].is_string() => {
                                let id = answer["data"]["registerCustomer"]["id"].as_str().unwrap().to_owned();
                                let _ = tx.send((command, id));
                            }
                            // Shed at capacity before any work: not acknowledged, so no claim.
                            Ok((503, answer)) if answer["errors"][0]["extensions"]["code"] == "UNAVAILABLE" => {
                                tokio::time::sleep(Duration::from_millis(50)).await
                            }
                            Ok((status, answer)) => panic!("an unexpected answer under load: {status} {answer}"),
                            // The server died: this command may or may not have landed.
                            Err(_) => return,
                        }
                    }
                })
            })
            .collect();
        drop(tx);
        // The load is running once the first write is acknowledged; kill at a different
        // moment after that each cycle, between 100 and 480 ms into the load.
        let first = tokio::time::timeout(Duration::from_secs(30), rx.recv()).await.expect("a write is acknowledged");
        let (command, id) = first.expect("the writers are running");
        acked.insert(command, id);
        tokio::time::sleep(Duration::from_millis(100 + (cycle * 20) as u64)).await;
        server.kill9();
        for w in writers {
            w.await.unwrap();
        }
        let mut n = 1;
        while let Some((command, id)) = rx.recv().await {
            acked.insert(command, id);
            n += 1;
        }
        per_cycle.push(n);
    }
    let log = EventLog::connect(&store.url).await.unwrap();
    assert_log_holds(&log, &store.url, &acked).await;
    let snapshot = log.snapshot_at_or_before(projections::Catalog::SNAPSHOT_MODEL, i64::MAX).await.unwrap();
    assert!(snapshot.is_some(), "the killed servers stored snapshots, so the restart below starts from one");
    assert_restart_equals_rebuild(&log).await;
    eprintln!("20 kills: {} acknowledged commands, all in the log; per cycle {per_cycle:?}", acked.len());
    store.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_under_load_gives_retryable_errors_only_and_loses_nothing() {
    let cluster = Cluster::primary().unwrap();
    let log = EventLog::connect(&cluster.url()).await.unwrap();
    let state = Arc::new(AppState::start(log.clone(), Arc::new(SystemClock), Some(TOKEN)).await.unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(axum::serve(listener, api::http::router(state.clone(), None)).into_future());
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();

    // Writers retry each command with its id until it is acknowledged, as the contract
    // tells clients to; readers read the catalog and the log head.
    let stop = Arc::new(AtomicBool::new(false));
    let codes = Arc::new(std::sync::Mutex::new(BTreeMap::<String, usize>::new()));
    let note = {
        let codes = codes.clone();
        move |code: String| *codes.lock().unwrap().entry(code).or_default() += 1
    };
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (client, addr, stop, note) = (client.clone(), addr.clone(), stop.clone(), note.clone());
            tokio::spawn(async move {
                let mut acked = BTreeMap::new();
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let command = format!("k-{w}-{i}");
                    loop {
                        let (status, answer) = post(&client, &addr, REGISTER, register_vars(&command)).await.unwrap();
                        assert_eq!(status, 200, "never a 5xx: {answer}");
                        if let Some(id) = answer["data"]["registerCustomer"]["id"].as_str() {
                            acked.insert(command.clone(), id.to_owned());
                            note("OK".into());
                            break;
                        }
                        note(answer["errors"][0]["extensions"]["code"].as_str().unwrap_or("?").to_owned());
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    i += 1;
                }
                acked
            })
        })
        .collect();
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (client, addr, stop, note) = (client.clone(), addr.clone(), stop.clone(), note.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let q = "{ customers(first: 3) { totalCount } logHead { position } }";
                    let (status, answer) = post(&client, &addr, q, json!({})).await.unwrap();
                    assert_eq!(status, 200, "never a 5xx: {answer}");
                    if let Some(code) = answer["errors"][0]["extensions"]["code"].as_str() {
                        note(format!("read {code}"));
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = state.bus.log.head().await.unwrap().position;
    assert!(before > 0, "the load is running");
    // An immediate stop is a crash for PostgreSQL: it recovers from its WAL on start.
    let pg = tokio::task::spawn_blocking(move || {
        cluster.pg_ctl(&["-m", "immediate", "stop"]).unwrap();
        std::thread::sleep(Duration::from_secs(2));
        cluster.pg_ctl(&["start"]).unwrap();
        cluster
    });
    let cluster = pg.await.unwrap();
    // The server was not restarted: it must take writes again by itself.
    let after = Instant::now();
    let resumed = loop {
        let (_, answer) = post(&client, &addr, REGISTER, register_vars("k-after-restart")).await.unwrap();
        if answer["data"]["registerCustomer"]["id"].is_string() {
            break after.elapsed();
        }
        assert!(after.elapsed() < Duration::from_secs(30), "no write succeeded after the restart: {answer}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    let mut acked = BTreeMap::new();
    for w in writers {
        acked.extend(w.await.unwrap());
    }
    for r in readers {
        r.await.unwrap();
    }
    let codes = codes.lock().unwrap().clone();
    let unexpected: Vec<_> =
        codes.keys().filter(|c| !matches!(c.as_str(), "OK" | "UNAVAILABLE" | "read UNAVAILABLE")).collect();
    assert!(unexpected.is_empty(), "clients get retryable errors only: {codes:?}");

    let head = state.bus.log.head().await.unwrap().position;
    assert!(
        state.bus.projector.wait_for(head, Duration::from_secs(10)).await,
        "the read models caught up by themselves"
    );
    let status = client.get(format!("http://{addr}/readyz")).send().await.unwrap().status();
    assert_eq!(status.as_u16(), 200, "ready again");
    assert_log_holds(&log, &cluster.url(), &acked).await;
    assert_restart_equals_rebuild(&log).await;
    eprintln!(
        "PostgreSQL restart: answers {codes:?}; first write {resumed:?} after the restart; {} acknowledged",
        acked.len()
    );
    drop(cluster);
}
