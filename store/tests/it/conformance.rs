use std::collections::HashMap;

use cqrs_es::AggregateError;
use cqrs_es::persist::{PersistedEventRepository, PersistenceError, SerializedEvent};
use store::testing::TempStore;
use store::{EventLog, Guard, LogRepository, Metadata, chain, cqrs};

use crate::counter::Counter;

/// Runs one async test body against both stores.
macro_rules! both_stores {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run("sqlite", $body).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                run("postgres", $body).await
            }
        }
    };
}

async fn run<F, Fut>(kind: &str, body: F)
where
    F: FnOnce(EventLog, String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let store = TempStore::of_kind(kind).await;
    let log = EventLog::connect(&store.url).await.expect("connect");
    body(log, store.url.clone()).await;
    store.remove().await;
}

fn meta(command_id: Option<&str>) -> HashMap<String, String> {
    Metadata {
        actor: "system:test".into(),
        command_id: command_id.map(Into::into),
        payload_hash: command_id.map(|_| "ab".repeat(32)),
        reason: None,
    }
    .to_map()
}

fn serialized(aggregate_id: &str, sequence: usize) -> SerializedEvent {
    SerializedEvent::new(
        aggregate_id.into(),
        sequence,
        "counter".into(),
        "Added".into(),
        "1.0".into(),
        serde_json::json!({"Added": {"by": 1}}),
        serde_json::to_value(meta(None)).unwrap(),
    )
}

both_stores!(appends_get_gapless_positions_in_commit_order, |log: EventLog, _| async move {
    let counters = cqrs::<Counter>(&log, ());
    counters.execute_with_metadata("a", vec![1, 2], meta(None)).await.unwrap();
    counters.execute_with_metadata("b", vec![5], meta(None)).await.unwrap();
    counters.execute_with_metadata("a", vec![3], meta(None)).await.unwrap();

    let events = log.read_after(0, 100).await.unwrap();
    let order: Vec<_> = events.iter().map(|e| (e.position, e.aggregate_id.as_str(), e.sequence)).collect();
    assert_eq!(order, vec![(1, "a", 1), (2, "a", 2), (3, "b", 1), (4, "a", 3)]);
    assert_eq!(events[0].recorded_at, events[1].recorded_at, "one transaction, one recording instant");
    assert!(
        events[1].recorded_at < events[2].recorded_at && events[2].recorded_at < events[3].recorded_at,
        "each transaction is recorded later than the one before"
    );
    assert_eq!(log.read_after(2, 1).await.unwrap()[0].position, 3);
    assert_eq!(events[0].metadata().actor, "system:test");

    let head = log.head().await.unwrap();
    assert_eq!((head.position, head.chain_hash), (4, events[3].chain_hash));
    assert_eq!(replay::audit::verify(&log).await.unwrap(), Ok(4));
    assert_eq!(*log.committed().borrow(), 4);

    let history: Vec<_> = log.history(&["counter"], "a", 0, 100).await.unwrap().iter().map(|e| e.position).collect();
    assert_eq!(history, vec![1, 2, 4]);

    let loaded = counters.execute_with_metadata("a", vec![10], meta(None)).await;
    assert!(loaded.is_ok());
    let last = log.read_after(4, 10).await.unwrap();
    assert_eq!(last.len(), 1);
    assert_eq!(last[0].sequence, 4, "the aggregate was loaded with its three earlier events");
});

both_stores!(a_refused_command_appends_nothing, |log: EventLog, _| async move {
    let counters = cqrs::<Counter>(&log, ());
    let refused = counters.execute_with_metadata("a", vec![1, 0], meta(None)).await;
    assert!(matches!(refused, Err(AggregateError::UserError(_))));
    assert!(log.read_after(0, 10).await.unwrap().is_empty());
    assert_eq!(log.head().await.unwrap().position, 0);
});

both_stores!(a_second_writer_on_the_same_sequence_conflicts, |log: EventLog, _| async move {
    let repo = LogRepository::new(&log);
    repo.persist::<Counter>(&[serialized("a", 1)], None).await.unwrap();
    let second = repo.persist::<Counter>(&[serialized("a", 1)], None).await;
    assert!(matches!(second, Err(PersistenceError::OptimisticLockError)), "{second:?}");
    assert_eq!(log.head().await.unwrap().position, 1);
    assert_eq!(replay::audit::verify(&log).await.unwrap(), Ok(1));
});

both_stores!(a_command_id_is_recorded_once_by_the_database, |log: EventLog, _| async move {
    let counters = cqrs::<Counter>(&log, ());
    counters.execute_with_metadata("a", vec![1], meta(Some("cmd-1"))).await.unwrap();
    let record = log.command("system:test", "cmd-1").await.unwrap().expect("recorded");
    assert_eq!((record.aggregate_id.as_str(), record.position), ("a", 1));
    let again = counters.execute_with_metadata("b", vec![1], meta(Some("cmd-1"))).await;
    let Err(AggregateError::UnexpectedError(e)) = again else { panic!("expected a duplicate, got {again:?}") };
    assert!(e.downcast_ref::<store::DuplicateCommand>().is_some());
    assert_eq!(log.head().await.unwrap().position, 1, "the duplicate appended nothing");
    assert!(log.command("system:test", "cmd-2").await.unwrap().is_none());
});

fn meta_of(actor: &str, command_id: &str) -> HashMap<String, String> {
    Metadata {
        actor: actor.into(),
        command_id: Some(command_id.into()),
        payload_hash: Some("cd".repeat(32)),
        reason: None,
    }
    .to_map()
}

both_stores!(command_ids_are_scoped_to_their_actor, |log: EventLog, _| async move {
    let counters = cqrs::<Counter>(&log, ());
    counters.execute_with_metadata("a", vec![1], meta_of("person:1", "import-7")).await.unwrap();
    // Another actor's use of the same id is its own command, not a duplicate.
    counters.execute_with_metadata("b", vec![1], meta_of("system:import", "import-7")).await.unwrap();
    let mine = log.command("person:1", "import-7").await.unwrap().expect("recorded");
    let theirs = log.command("system:import", "import-7").await.unwrap().expect("recorded");
    assert_eq!((mine.aggregate_id.as_str(), theirs.aggregate_id.as_str()), ("a", "b"));
    assert!(log.command("person:2", "import-7").await.unwrap().is_none());
    // The same actor still cannot use it twice.
    let again = counters.execute_with_metadata("c", vec![1], meta_of("person:1", "import-7")).await;
    let Err(AggregateError::UnexpectedError(e)) = again else { panic!("expected a duplicate, got {again:?}") };
    assert!(e.downcast_ref::<store::DuplicateCommand>().is_some());
    assert_eq!(log.head().await.unwrap().position, 2);
});

fn other_type(aggregate_id: &str) -> SerializedEvent {
    let mut event = serialized(aggregate_id, 1);
    event.aggregate_type = "tally".into();
    event
}

fn fresh() -> Guard {
    Guard { fresh_id: true, ..Guard::default() }
}

both_stores!(a_fresh_id_is_refused_when_any_stream_uses_it, |log: EventLog, _| async move {
    let repo = LogRepository::new(&log);
    repo.persist::<Counter>(&[other_type("taken")], None).await.unwrap();
    let counters = cqrs::<Counter>(&log, ());
    let refused = counters.execute_guarded("taken", vec![1], meta(None), fresh()).await;
    let Err(AggregateError::UnexpectedError(e)) = refused else { panic!("expected IdInUse, got {refused:?}") };
    assert_eq!(e.downcast_ref::<store::IdInUse>().map(|e| e.0.as_str()), Some("taken"));
    assert_eq!(log.head().await.unwrap().position, 1, "nothing was appended");
    // Unguarded, a stream of another type may share the id (a VM and its backup log do).
    counters.execute_with_metadata("taken", vec![1], meta(None)).await.unwrap();
    counters.execute_guarded("new", vec![1], meta(None), fresh()).await.unwrap();
    assert_eq!(log.head().await.unwrap().position, 3);
});

both_stores!(concurrent_fresh_ids_of_two_types_let_one_win, |log: EventLog, _| async move {
    // Many commits in shared transactions: per id, the first one wins, whatever its type.
    let counters = std::sync::Arc::new(cqrs::<Counter>(&log, ()));
    let tallies = std::sync::Arc::new(cqrs::<crate::counter::Tally>(&log, ()));
    let tasks: Vec<_> = (0..64)
        .map(|n| {
            let (counters, tallies) = (counters.clone(), tallies.clone());
            tokio::spawn(async move {
                let id = format!("id-{}", n / 2);
                if n % 2 == 0 {
                    counters.execute_guarded(&id, vec![1], meta(None), fresh()).await.is_ok()
                } else {
                    tallies.execute_guarded(&id, vec![1], meta(None), fresh()).await.is_ok()
                }
            })
        })
        .collect();
    let mut won = std::collections::BTreeMap::<usize, usize>::new();
    for (n, t) in tasks.into_iter().enumerate() {
        if t.await.unwrap() {
            *won.entry(n / 2).or_default() += 1;
        }
    }
    assert!(won.len() == 32 && won.values().all(|w| *w == 1), "{won:?}");
    assert_eq!(log.head().await.unwrap().position, 32);
});

fn claim(key: &str) -> Guard {
    Guard { claims: vec![("name".into(), key.into())], ..Guard::default() }
}

both_stores!(a_claimed_name_has_one_holder_until_released, |log: EventLog, _| async move {
    let counters = cqrs::<Counter>(&log, ());
    counters.execute_guarded("a", vec![1], meta(None), claim("k")).await.unwrap();
    let refused = counters.execute_guarded("b", vec![1], meta(None), claim("k")).await;
    let Err(AggregateError::UnexpectedError(e)) = refused else { panic!("expected Claimed, got {refused:?}") };
    assert_eq!(e.downcast_ref::<store::Claimed>().map(|e| e.0.as_str()), Some("name"));
    assert_eq!(log.head().await.unwrap().position, 1, "the refused commit appended nothing");
    // Only the holder's release frees it.
    let release = || Guard { releases: vec![("name".into(), "k".into())], ..Guard::default() };
    counters.execute_guarded("b", vec![1], meta(None), release()).await.unwrap();
    assert!(counters.execute_guarded("b", vec![1], meta(None), claim("k")).await.is_err());
    counters.execute_guarded("a", vec![1], meta(None), release()).await.unwrap();
    counters.execute_guarded("b", vec![1], meta(None), claim("k")).await.unwrap();
    // Concurrent claims of one name: exactly one wins.
    let counters = std::sync::Arc::new(counters);
    let tasks: Vec<_> = (0..32)
        .map(|n| {
            let counters = counters.clone();
            tokio::spawn(async move {
                counters.execute_guarded(&format!("c{n}"), vec![1], meta(None), claim("race")).await.is_ok()
            })
        })
        .collect();
    let mut winners = 0;
    for t in tasks {
        winners += usize::from(t.await.unwrap());
    }
    assert_eq!(winners, 1);
});

both_stores!(group_commit_isolates_one_conflict_from_its_neighbours, |log: EventLog, _| async move {
    let repo = std::sync::Arc::new(LogRepository::new(&log));
    repo.persist::<Counter>(&[serialized("taken", 1)], None).await.unwrap();
    // Many concurrent commits land in shared transactions; the ones on "taken" must fail alone.
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let repo = repo.clone();
            tokio::spawn(async move {
                let id = if i % 8 == 0 { "taken".to_owned() } else { format!("s{i}") };
                (i % 8 == 0, repo.persist::<Counter>(&[serialized(&id, 1)], None).await)
            })
        })
        .collect();
    for task in tasks {
        let (should_conflict, result) = task.await.unwrap();
        assert_eq!(should_conflict, matches!(result, Err(PersistenceError::OptimisticLockError)), "{result:?}");
    }
    let events = log.read_after(0, 1000).await.unwrap();
    assert_eq!(events.len(), 1 + 56);
    assert!(events.iter().enumerate().all(|(i, e)| e.position == i as i64 + 1), "positions stay gapless");
    assert_eq!(replay::audit::verify(&log).await.unwrap(), Ok(57));
});

both_stores!(verify_names_the_first_altered_or_missing_row, |log: EventLog, url: String| async move {
    let counters = cqrs::<Counter>(&log, ());
    for i in 0..5 {
        counters.execute_with_metadata(&format!("c{i}"), vec![1], meta(None)).await.unwrap();
    }
    assert_eq!(replay::audit::verify(&log).await.unwrap(), Ok(5));
    tamper(&url, "UPDATE events SET payload = '{\"Added\":{\"by\":2}}' WHERE position = 3").await;
    assert_eq!(replay::audit::verify(&log).await.unwrap(), Err(chain::Break::Altered { position: 3 }));
    tamper(&url, "DELETE FROM events WHERE position = 2").await;
    assert_eq!(replay::audit::verify(&log).await.unwrap(), Err(chain::Break::Missing { expected: 2, found: 3 }));
});

both_stores!(verify_notices_reordered_and_inserted_rows, |log: EventLog, url: String| async move {
    let counters = cqrs::<Counter>(&log, ());
    for i in 0..5 {
        counters.execute_with_metadata(&format!("c{i}"), vec![1], meta(None)).await.unwrap();
    }
    // Two rows swap places, each keeping its own hash: the first one out of place breaks.
    for sql in [
        "UPDATE events SET position = 999 WHERE position = 2",
        "UPDATE events SET position = 2 WHERE position = 4",
        "UPDATE events SET position = 4 WHERE position = 999",
    ] {
        tamper(&url, sql).await;
    }
    assert_eq!(replay::audit::verify(&log).await.unwrap(), Err(chain::Break::Altered { position: 2 }));
    for sql in [
        "UPDATE events SET position = 999 WHERE position = 4",
        "UPDATE events SET position = 4 WHERE position = 2",
        "UPDATE events SET position = 2 WHERE position = 999",
    ] {
        tamper(&url, sql).await;
    }
    assert_eq!(replay::audit::verify(&log).await.unwrap(), Ok(5), "swapped back, the log verifies again");

    // A forged row slipped in between: the rows after it move up one place.
    for p in (3..=5).rev() {
        tamper(&url, &format!("UPDATE events SET position = {} WHERE position = {p}", p + 1)).await;
    }
    forge(&url, 3, 2).await;
    assert_eq!(replay::audit::verify(&log).await.unwrap(), Err(chain::Break::Altered { position: 3 }));
    // Appended past the head instead: the head no longer matches the last row.
    tamper(&url, "DELETE FROM events WHERE position = 3").await;
    for p in 4..=6 {
        tamper(&url, &format!("UPDATE events SET position = {} WHERE position = {p}", p - 1)).await;
    }
    assert_eq!(replay::audit::verify(&log).await.unwrap(), Ok(5));
    forge(&url, 6, 5).await;
    assert!(replay::audit::verify(&log).await.unwrap().is_err(), "a row past the head is noticed");
});

/// Inserts a forged row at `position`, a copy of the row at `copy_of` with its hash.
async fn forge(url: &str, position: i64, copy_of: i64) {
    let sql = format!(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, \
         position, recorded_at, chain_hash) SELECT aggregate_type, 'forged', 1, event_type, event_version, payload, \
         metadata, {position}, recorded_at, chain_hash FROM events WHERE position = {copy_of}"
    );
    tamper(url, &sql).await;
}

async fn tamper(url: &str, sql: &str) {
    use sqlx::Connection;
    if url.starts_with("postgres") {
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query(sql).execute(&mut c).await.unwrap();
    } else {
        let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query(sql).execute(&mut c).await.unwrap();
    }
}

#[tokio::test]
async fn an_unsupported_url_is_refused() {
    assert!(matches!(EventLog::connect("mysql://x").await, Err(store::StoreError::UnsupportedUrl(_))));
}

both_stores!(the_chain_covers_non_ascii_text_byte_for_byte, |log: EventLog, _| async move {
    let repo = LogRepository::new(&log);
    let mut event = serialized("müller", 1);
    event.payload = serde_json::json!({"Added": {"by": 1, "note": "Müller GmbH – Straße ✓"}});
    event.metadata =
        serde_json::to_value(Metadata { reason: Some("Kündigung „sofort“".into()), ..Metadata::default() }).unwrap();
    repo.persist::<Counter>(&[event], None).await.unwrap();
    let stored = &log.read_after(0, 1).await.unwrap()[0];
    assert!(stored.payload.contains("Straße ✓"));
    assert_eq!(stored.metadata().reason.as_deref(), Some("Kündigung „sofort“"));
    assert_eq!(replay::audit::verify(&log).await.unwrap(), Ok(1));
});

both_stores!(a_stale_cached_aggregate_collides_and_is_then_read_fresh, |log: EventLog, url: String| async move {
    // Two processes on one store, each with its own cache.
    let other = EventLog::connect(&url).await.unwrap();
    let here = cqrs::<Counter>(&log, ());
    let there = cqrs::<Counter>(&other, ());
    here.execute_with_metadata("x", vec![1], meta(None)).await.unwrap();
    there.execute_with_metadata("x", vec![10], meta(None)).await.unwrap();
    let stale = here.execute_with_metadata("x", vec![100], meta(None)).await;
    assert!(matches!(stale, Err(AggregateError::AggregateConflict)), "{stale:?}");
    here.execute_with_metadata("x", vec![100], meta(None)).await.unwrap();
    let sequences: Vec<_> = log.history(&["counter"], "x", 0, 10).await.unwrap().iter().map(|e| e.sequence).collect();
    assert_eq!(sequences, vec![1, 2, 3]);
    // A command that changes nothing on cached state is decided again on fresh state.
    let noop = here.execute_with_metadata("x", vec![], meta(None)).await;
    assert!(matches!(noop, Err(AggregateError::AggregateConflict)), "{noop:?}");
    here.execute_with_metadata("x", vec![], meta(None)).await.unwrap();
    assert_eq!(log.head().await.unwrap().position, 3);
});

both_stores!(a_lease_has_one_holder_until_it_expires_or_is_given_up, |log: EventLog, url: String| async move {
    let ttl = std::time::Duration::from_millis(400);
    let other = EventLog::connect(&url).await.unwrap();
    assert_eq!(log.take_lease("billing", "a", ttl).await.unwrap(), Some(1), "a free lease is taken");
    assert_eq!(other.take_lease("billing", "b", ttl).await.unwrap(), None, "held by a: refused to b");
    assert_eq!(log.take_lease("billing", "a", ttl).await.unwrap(), Some(1), "the holder renews, same token");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(other.take_lease("billing", "b", ttl).await.unwrap(), Some(2), "expired: b takes it, a new token");
    assert_eq!(log.take_lease("billing", "a", ttl).await.unwrap(), None, "a's renewal comes too late");
    let leases = log.leases().await.unwrap();
    assert_eq!(leases.len(), 1);
    assert_eq!((leases[0].holder.as_str(), leases[0].token, leases[0].live), ("b", 2, true));
    assert!(leases[0].acquired_at <= leases[0].renewed_at && leases[0].renewed_at < leases[0].expires_at);

    log.release_lease("billing", "a").await.unwrap();
    assert!(log.leases().await.unwrap()[0].live, "only the holder gives a lease up");
    other.release_lease("billing", "b").await.unwrap();
    assert!(!log.leases().await.unwrap()[0].live, "given up: expired at once");
    assert_eq!(log.take_lease("billing", "a", ttl).await.unwrap(), Some(3), "the token still grows");

    // Many takers at once: one wins.
    let takers = (0..16).map(|i| {
        let log = log.clone();
        tokio::spawn(async move { log.take_lease("releases", &format!("p{i}"), ttl).await.unwrap() })
    });
    let won = futures::future::join_all(takers).await.into_iter().filter(|t| t.as_ref().unwrap().is_some()).count();
    assert_eq!(won, 1, "one of 16 concurrent takers holds it");

    // Long-expired presences are forgotten; live ones and other names stay.
    log.take_lease("members/x", "x", std::time::Duration::from_millis(1)).await.unwrap();
    log.take_lease("members/y", "y", ttl).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert_eq!(log.forget_leases("members/", std::time::Duration::from_millis(10)).await.unwrap(), 1);
    let names: Vec<String> = log.leases().await.unwrap().into_iter().map(|l| l.name).collect();
    assert_eq!(names, ["billing", "members/y", "releases"]);
    assert_eq!(log.forget_leases("members_", std::time::Duration::ZERO).await.unwrap(), 0, "_ is no wildcard");
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_on_the_primary_is_announced_to_every_other_process() {
    let store = TempStore::postgres().await;
    let writer = EventLog::connect(&store.url).await.unwrap();
    let follower = EventLog::connect(&store.url).await.unwrap();
    let polling = EventLog::connect_polling(&store.url).await.unwrap();
    assert_eq!((follower.follow(), polling.follow()), (store::Follow::Notify, store::Follow::Poll));
    let mut announced = follower.announced();
    // The listener may start listening after the first commit: the head it reads then covers it.
    let counters = cqrs::<Counter>(&writer, ());
    for i in 1..=3 {
        counters.execute_with_metadata("a", vec![i], meta(None)).await.unwrap();
        let heard = tokio::time::timeout(std::time::Duration::from_secs(5), announced.wait_for(|p| *p >= i)).await;
        assert!(heard.is_ok(), "commit {i} announced to the other process");
    }
    assert_eq!(*polling.announced().borrow(), 0, "a polling log is told nothing");
    store.remove().await;
}
