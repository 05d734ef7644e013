//! How a process learns that the log grew through another process, without reading the
//! log to find out: on a PostgreSQL primary every commit notifies (`directory_log`, sent by
//! a trigger on `log_head`), and on a hot standby the replayed WAL position moves. Both
//! only wake the reader; the log itself is still read in order from the last position
//! folded, so a lost or late notice costs a poll interval, never an event.

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::watch;

/// How often a standby's replay position is looked at: one call that reads no table.
const REPLAY_POLL: Duration = Duration::from_millis(5);
/// How long to wait before listening again after the connection was lost.
const RETRY: Duration = Duration::from_secs(1);

/// What wakes a follower of the log besides its own commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Follow {
    /// Every commit of any process on this primary notifies.
    Notify,
    /// The standby's replay position is watched.
    Replay,
    /// Nothing does: followers poll (SQLite, or when asked for in a measurement).
    Poll,
}

/// Whether the database is a hot standby (in recovery).
pub(crate) async fn in_recovery(pool: &PgPool) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT pg_is_in_recovery()").fetch_one(pool).await
}

/// Publishes every log position the database announces, until nobody listens.
pub(crate) fn spawn_listener(pool: PgPool, announced: watch::Sender<i64>) {
    tokio::spawn(async move {
        while !announced.is_closed() {
            let mut listener = match PgListener::connect_with(&pool).await {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for commits; polling until it works");
                    tokio::time::sleep(RETRY).await;
                    continue;
                }
            };
            if let Err(e) = listener.listen("directory_log").await {
                tracing::warn!(error = %e, "cannot listen for commits; polling until it works");
                tokio::time::sleep(RETRY).await;
                continue;
            }
            // Notices sent while no connection listened are lost: the head tells what they said.
            if let Ok(position) = crate::postgres::head(&pool).await.map(|h| h.position) {
                publish(&announced, position);
            }
            loop {
                match listener.try_recv().await {
                    Ok(Some(notice)) => {
                        if let Ok(position) = notice.payload().parse() {
                            publish(&announced, position);
                        }
                    }
                    // The connection was lost; the next round listens again.
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "listening for commits failed; listening again");
                        tokio::time::sleep(RETRY).await;
                        break;
                    }
                }
                if announced.is_closed() {
                    return;
                }
            }
        }
    });
}

/// Publishes the log head each time the standby replays more WAL, until nobody listens.
pub(crate) fn spawn_replay_watch(pool: PgPool, announced: watch::Sender<i64>) {
    tokio::spawn(async move {
        let mut replayed: Option<String> = None;
        while !announced.is_closed() {
            let lsn: Result<Option<String>, _> =
                sqlx::query_scalar("SELECT pg_last_wal_replay_lsn()::text").fetch_one(&pool).await;
            match lsn {
                Ok(lsn) if lsn != replayed => {
                    if let Ok(head) = crate::postgres::head(&pool).await {
                        publish(&announced, head.position);
                        replayed = lsn;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "reading the replay position failed");
                    tokio::time::sleep(RETRY).await;
                }
            }
            tokio::time::sleep(REPLAY_POLL).await;
        }
    });
}

fn publish(announced: &watch::Sender<i64>, position: i64) {
    announced.send_if_modified(|known| {
        let newer = position > *known;
        *known = (*known).max(position);
        newer
    });
}
