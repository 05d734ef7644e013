//! The runner keeps the catalog equal to a fold of the whole log, whether events come
//! from this process's writer or from another process on the same store.

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
