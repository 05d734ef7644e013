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
    let customers = cqrs::<domain::customer::Customer>(&log, ());
    let meta: HashMap<String, String> = Metadata { actor: "system:test".into(), ..Metadata::default() }.to_map();
    for n in 1..=3u128 {
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
