//! The ordered log under concurrent writers on PostgreSQL.

use std::collections::HashSet;
use std::time::Duration;

use sqlx::{Connection, Row};
use store::testing::TempStore;
use store::{EventLog, Metadata, chain, cqrs};

use crate::counter::Counter;

fn meta() -> std::collections::HashMap<String, String> {
    Metadata { actor: "system:test".into(), ..Metadata::default() }.to_map()
}

/// Transaction 1 takes a position and stays open while transaction 2 tries to append:
/// a reader must not pass transaction 1's position, and must see both, in order, once
/// transaction 1 commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_never_passes_an_open_transaction() {
    let store = TempStore::postgres().await;
    let log = EventLog::connect(&store.url).await.unwrap();

    // Transaction 1: the append protocol by hand, left open.
    let mut t1 = sqlx::PgConnection::connect(&store.url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut t1).await.unwrap();
    let head = sqlx::query("SELECT position FROM log_head WHERE id = 1 FOR UPDATE").fetch_one(&mut t1).await.unwrap();
    let position: i64 = head.get::<i64, _>("position") + 1;
    let recorded_at = chrono::DateTime::from_timestamp_micros(chrono::Utc::now().timestamp_micros()).unwrap();
    let (payload, metadata) = (r#"{"Added":{"by":7}}"#, r#"{"actor":"system:t1"}"#);
    let link = chain::Link {
        aggregate_type: "counter",
        aggregate_id: "t1",
        sequence: 1,
        event_type: "Added",
        event_version: "1.0",
        payload,
        metadata,
        recorded_at,
    };
    let hash = chain::next(&chain::GENESIS, position, &link);
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, \
         position, recorded_at, chain_hash) VALUES ('counter', 't1', 1, 'Added', '1.0', $1::json, $2::json, $3, $4, $5)",
    )
    .bind(payload)
    .bind(metadata)
    .bind(position)
    .bind(recorded_at)
    .bind(hash.to_vec())
    .execute(&mut t1)
    .await
    .unwrap();
    sqlx::query("UPDATE log_head SET position = $1, chain_hash = $2, recorded_at = $3 WHERE id = 1")
        .bind(position)
        .bind(hash.to_vec())
        .bind(recorded_at)
        .execute(&mut t1)
        .await
        .unwrap();

    // Transaction 2: an ordinary append through the write path.
    let writer = {
        let log = log.clone();
        tokio::spawn(async move { cqrs::<Counter>(&log, ()).execute_with_metadata("t2", vec![1], meta()).await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!writer.is_finished(), "transaction 2 must wait for transaction 1's position");
    assert!(log.read_after(0, 100).await.unwrap().is_empty(), "the reader must not pass the open position");

    sqlx::query("COMMIT").execute(&mut t1).await.unwrap();
    writer.await.unwrap().unwrap();
    let seen: Vec<_> =
        log.read_after(0, 100).await.unwrap().into_iter().map(|e| (e.position, e.aggregate_id)).collect();
    assert_eq!(seen, vec![(1, "t1".to_owned()), (2, "t2".to_owned())]);
    assert_eq!(replay::audit::verify(&log).await.unwrap(), Ok(2));
    store.remove().await;
}

/// 16 concurrent writers × 500 commands while a reader tails: every event is seen exactly
/// once, in one total order without gaps.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tailing_reader_sees_every_event_exactly_once_under_16_writers() {
    const WRITERS: usize = 16;
    const COMMANDS: usize = 500;
    let store = TempStore::postgres().await;
    let log = EventLog::connect(&store.url).await.unwrap();

    let reader = {
        let log = log.clone();
        tokio::spawn(async move {
            let (mut after, mut seen) = (0i64, Vec::new());
            while seen.len() < WRITERS * COMMANDS {
                let page = log.read_after(after, 300).await.unwrap();
                for e in page {
                    assert_eq!(e.position, after + 1, "positions come gapless and in order");
                    after = e.position;
                    seen.push((e.aggregate_id, e.sequence));
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            seen
        })
    };
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let log = log.clone();
            tokio::spawn(async move {
                let counters = cqrs::<Counter>(&log, ());
                for i in 0..COMMANDS {
                    counters.execute_with_metadata(&format!("w{w}-{i}"), vec![1], meta()).await.unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap();
    }
    let seen = tokio::time::timeout(Duration::from_secs(120), reader).await.expect("reader caught up").unwrap();
    assert_eq!(seen.len(), WRITERS * COMMANDS);
    let distinct: HashSet<_> = seen.iter().collect();
    assert_eq!(distinct.len(), WRITERS * COMMANDS, "no event delivered twice");
    for w in 0..WRITERS {
        for i in 0..COMMANDS {
            assert!(distinct.contains(&(format!("w{w}-{i}"), 1)), "w{w}-{i} was acknowledged but not seen");
        }
    }
    assert_eq!(log.read_after(seen.len() as i64, 10).await.unwrap().len(), 0);
    assert_eq!(replay::audit::verify(&log).await.unwrap(), Ok((WRITERS * COMMANDS) as i64));
    store.remove().await;
}
