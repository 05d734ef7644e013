//! The runner keeps the catalog equal to a fold of the whole log, whether events come
//! from this process's writer or from another process on the same store.

mod properties;

use std::time::Duration;

use chrono::TimeZone;
use domain::CustomerId;
use domain::customer::{Customer, CustomerCommand};
use projections::Projector;
use store::testing::TempStore;
use store::{EventLog, Metadata, cqrs};

fn register(n: u128) -> (String, CustomerCommand) {
    let id = CustomerId(uuid::Uuid::from_u128(n));
    let command = CustomerCommand::Register {
        id,
        name: format!("Customer {n}"),
        country: "DE".into(),
        vat_id: None,
        billing_address: "Berlin".into(),
        payment_terms_days: None,
        effective_at: chrono::Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
    };
    (id.to_string(), command)
}

async fn two_processes_fold_to_what_a_rebuild_gives(kind: &str) {
    let store = TempStore::of_kind(kind).await;
    let (a, b) = (EventLog::connect(&store.url).await.unwrap(), EventLog::connect(&store.url).await.unwrap());
    let (pa, pb) = (Projector::start(a.clone()).await.unwrap(), Projector::start(b.clone()).await.unwrap());
    let (ca, cb) = (cqrs::<Customer>(&a, ()), cqrs::<Customer>(&b, ()));
    let meta = Metadata { actor: "system:test".into(), ..Metadata::default() }.to_map();
    for n in 1..=30u128 {
        // Interleave writers so each process's feed has gaps the other one filled.
        let (id, cmd) = register(n);
        let writer = if n % 3 == 0 { &cb } else { &ca };
        writer.execute_with_metadata(&id, cmd, meta.clone()).await.unwrap();
    }
    let head = a.head().await.unwrap().position;
    assert_eq!(head, 30);
    assert!(pa.wait_for(head, Duration::from_secs(5)).await, "process A caught up");
    assert!(pb.wait_for(head, Duration::from_secs(5)).await, "process B caught up");
    let rebuilt = Projector::start(EventLog::connect(&store.url).await.unwrap()).await.unwrap();
    assert_eq!(*pa.read(), *rebuilt.read());
    assert_eq!(*pb.read(), *rebuilt.read());
    assert_eq!(rebuilt.read().customers.len(), 30);
    store.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_sqlite_fold_to_what_a_rebuild_gives() {
    two_processes_fold_to_what_a_rebuild_gives("sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_postgres_fold_to_what_a_rebuild_gives() {
    two_processes_fold_to_what_a_rebuild_gives("postgres").await;
}

/// Registers `n` customers one command at a time (each its own recording instant).
async fn history(log: &EventLog, n: u128) {
    let customers = cqrs::<Customer>(log, ());
    let meta = Metadata { actor: "system:test".into(), ..Metadata::default() }.to_map();
    for i in 1..=n {
        let (id, cmd) = register(i);
        customers.execute_with_metadata(&id, cmd, meta.clone()).await.unwrap();
    }
}

/// The catalog folded from position 0 over the events recorded at or before `upto`.
async fn rebuilt(log: &EventLog, upto: Option<chrono::DateTime<chrono::Utc>>) -> projections::Catalog {
    let events = log.read_after(0, 100_000).await.unwrap();
    let cut: Vec<_> = events.into_iter().filter(|e| upto.is_none_or(|t| e.recorded_at <= t)).collect();
    let mut catalog = projections::Catalog::default();
    catalog.fold(&cut);
    catalog
}

const MODEL: &str = projections::Catalog::SNAPSHOT_MODEL;

async fn restarts_from_the_latest_snapshot(kind: &str) {
    let store = TempStore::of_kind(kind).await;
    let log = EventLog::connect(&store.url).await.unwrap();
    let live = Projector::start_with(log.clone(), 5).await.unwrap();
    history(&log, 23).await;
    assert!(live.wait_for(23, Duration::from_secs(5)).await);
    // Snapshots are written off the folding task, one at a time (a due one waits while
    // another is written): wait until the newest is less than 5 events behind.
    let newest = async || log.snapshot_at_or_before(MODEL, i64::MAX).await.unwrap().map(|s| s.0).unwrap_or(0);
    for _ in 0..200 {
        if newest().await > 23 - 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let at = newest().await;
    assert!(at > 23 - 5, "a snapshot every 5 events, the newest at {at}");
    // Pruning follows the newest write; once it has, the one before the newest is all that is left.
    let older = async |than: i64| log.snapshot_at_or_before(MODEL, than - 1).await.unwrap().map(|s| s.0);
    for _ in 0..200 {
        match older(at).await {
            Some(previous) if older(previous).await.is_none() => break,
            _ => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
    let previous = older(at).await.expect("the one before the newest is kept");
    assert_eq!(older(previous).await, None, "older ones are dropped");
    let restarted = Projector::start(EventLog::connect(&store.url).await.unwrap()).await.unwrap();
    let full = rebuilt(&log, None).await;
    assert_eq!(*restarted.read(), full, "snapshot + tail = full fold");
    assert_eq!(*live.read(), *restarted.read());
    store.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarts_from_the_latest_snapshot_on_sqlite() {
    restarts_from_the_latest_snapshot("sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarts_from_the_latest_snapshot_on_postgres() {
    restarts_from_the_latest_snapshot("postgres").await;
}

async fn as_of_equals_a_rebuild_of_the_log_cut_there(kind: &str) {
    let store = TempStore::of_kind(kind).await;
    let log = EventLog::connect(&store.url).await.unwrap();
    let live = Projector::start_with(log.clone(), 4).await.unwrap();
    history(&log, 12).await;
    assert!(live.wait_for(12, Duration::from_secs(5)).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let events = log.read_after(0, 100).await.unwrap();
    let as_of = async |at| {
        let position = log.position_at(at).await.unwrap();
        live.read().at(position).state()
    };
    let before_all = events[0].recorded_at - chrono::Duration::seconds(1);
    assert_eq!(
        as_of(before_all).await,
        projections::Catalog::default().live().state(),
        "nothing before the first event"
    );
    for e in &events {
        let expected = rebuilt(&log, Some(e.recorded_at)).await;
        assert_eq!(as_of(e.recorded_at).await, expected.live().state(), "as of position {}", e.position);
    }
    let later = events.last().unwrap().recorded_at + chrono::Duration::days(1);
    assert_eq!(as_of(later).await, live.read().live().state());
    store.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn as_of_equals_a_rebuild_of_the_log_cut_there_on_sqlite() {
    as_of_equals_a_rebuild_of_the_log_cut_there("sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn as_of_equals_a_rebuild_of_the_log_cut_there_on_postgres() {
    as_of_equals_a_rebuild_of_the_log_cut_there("postgres").await;
}
