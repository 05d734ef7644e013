//! The event store: cqrs-es in plain event-store mode over SQLite (sqlite-es) or
//! PostgreSQL (postgres-es), extended by the ordered log that every reader uses.
//!
//! Appends go through one writer task per process ([`writer`]) that groups concurrent
//! commits into one transaction. Each transaction locks the single `log_head` row, so
//! positions are gapless and taken in commit order: `read_after(p)` can never skip an event
//! that commits late. The same transaction writes the hash chain ([`chain`]) and the
//! command-id record that makes retries idempotent. Reads of one stream (loading an
//! aggregate) are delegated to the stock postgres-es / sqlite-es repositories.
//!
//! This crate knows nothing of the domain's events: payloads are JSON text here.

mod cache;
pub mod chain;
mod follow;
mod leases;
mod postgres;
mod repository;
mod sqlite;
#[cfg(feature = "testing")]
pub mod testing;
mod writer;

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use cqrs_es::persist::SerializedEvent;
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};
use tokio::sync::{broadcast, mpsc, watch};

pub use cache::{Cqrs, cqrs};
pub use follow::Follow;
pub use leases::Lease;
pub use repository::{Claimed, DuplicateCommand, IdInUse, LogRepository};

/// The default store when `DATABASE_URL` is unset.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://directory.db";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported DATABASE_URL {0:?}: use sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("the store is shutting down")]
    Closed,
    #[error("an append was refused ({0}); is the store already loaded?")]
    Rejected(String),
    #[error("corrupt row at position {position}: {reason}")]
    Corrupt { position: i64, reason: String },
}

/// How an atomic append of several streams ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Atomic {
    /// Appended; the position of the last event.
    Appended(i64),
    /// A stream had moved on: nothing was appended.
    Conflict,
    /// The command id was recorded before: nothing was appended.
    DuplicateCommand(String),
}

/// One event as the log holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub position: i64,
    pub recorded_at: DateTime<Utc>,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    /// The payload JSON text exactly as stored (and hashed).
    pub payload: String,
    /// The metadata JSON text exactly as stored (and hashed).
    pub metadata: String,
    pub chain_hash: [u8; 32],
}

impl StoredEvent {
    pub fn metadata(&self) -> Metadata {
        serde_json::from_str(&self.metadata).unwrap_or_default()
    }
}

/// The envelope facts every event carries besides its payload. No secrets, ever.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// A person id, or `system:<job>`.
    #[serde(default)]
    pub actor: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_id: Option<String>,
    /// SHA-256 (hex) of the command's name and input, to tell a retry from a reuse of its id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Metadata {
    /// The map cqrs-es copies onto every event of a commit.
    pub fn to_map(&self) -> HashMap<String, String> {
        let mut m = HashMap::from([("actor".to_owned(), self.actor.clone())]);
        for (k, v) in [("command_id", &self.command_id), ("payload_hash", &self.payload_hash), ("reason", &self.reason)]
        {
            if let Some(v) = v {
                m.insert(k.to_owned(), v.clone());
            }
        }
        m
    }
}

/// What a commit needs besides its streams' next sequences, checked and applied in the
/// transaction that appends it, so that no concurrent commit can slip in between.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Guard {
    /// The commit starts a stream whose id no stream of any type may use yet (an id a
    /// client chose: it must never continue, or later become, another stream).
    pub fresh_id: bool,
    /// Unique names `(scope, key)` the commit's stream takes; refused while another holds one.
    pub claims: Vec<(String, String)>,
    /// Names the stream holds and gives up.
    pub releases: Vec<(String, String)>,
}

impl Guard {
    /// The steps in the order the store applies them: releases, the id check, claims.
    pub(crate) fn steps(&self) -> impl Iterator<Item = (&'static str, &str, &str)> {
        let release = self.releases.iter().map(|(s, k)| ("release", s.as_str(), k.as_str()));
        let fresh = self.fresh_id.then_some(("fresh", "", ""));
        let claim = self.claims.iter().map(|(s, k)| ("claim", s.as_str(), k.as_str()));
        release.chain(fresh).chain(claim)
    }
}

/// The end of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogHead {
    pub position: i64,
    pub chain_hash: [u8; 32],
    pub recorded_at: Option<DateTime<Utc>>,
}

/// A command id recorded with the events it appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandRecord {
    pub command_id: String,
    pub payload_hash: String,
    pub aggregate_type: String,
    pub aggregate_id: String,
    /// The position of the command's last event.
    pub position: i64,
    pub recorded_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub(crate) enum Pool {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// The ordered log and its writer; cheap to clone.
#[derive(Clone)]
pub struct EventLog {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    writer: mpsc::Sender<writer::Pending>,
    committed: watch::Receiver<i64>,
    appended: broadcast::Sender<Arc<[StoredEvent]>>,
    busy: writer::Busy,
    read_only: bool,
    /// The newest position the database announced (see [`follow`]).
    announced: watch::Receiver<i64>,
    follow: Follow,
}

/// Another session's transaction that holds the log head and sits idle: nothing can be
/// appended past it, so every writer (and so every reader) waits until it ends.
#[derive(Debug, Clone, PartialEq)]
pub struct HeadHolder {
    pub pid: i32,
    /// Seconds since that transaction began.
    pub open_seconds: f64,
}

impl EventLog {
    /// Connects to `sqlite://PATH` (created if missing) or `postgres://…` and applies the migrations.
    pub async fn connect(url: &str) -> Result<EventLog, StoreError> {
        Self::open(url, false, true).await
    }

    /// As [`EventLog::connect`], but never woken by other processes' commits: its followers
    /// find them by polling only. For measuring what the notices save.
    pub async fn connect_polling(url: &str) -> Result<EventLog, StoreError> {
        Self::open(url, false, false).await
    }

    /// Connects without ever writing: no migrations, no appends (each is refused), for a
    /// server that answers queries from a PostgreSQL streaming replica (or any connection
    /// that may only read). The schema must already be there.
    pub async fn connect_read_only(url: &str) -> Result<EventLog, StoreError> {
        Self::open(url, true, true).await
    }

    async fn open(url: &str, read_only: bool, follow: bool) -> Result<EventLog, StoreError> {
        let pool = if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // FULL: an acknowledged command survives a power loss, not only a crash.
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                .read_only(read_only)
                .create_if_missing(!read_only);
            let pool = SqlitePoolOptions::new().max_connections(8).connect_with(options).await?;
            if !read_only {
                sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
            }
            Pool::Sqlite(pool)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let mut options = PgPoolOptions::new()
                .max_connections(24)
                .acquire_timeout(Duration::from_secs(10))
                // A broken connection shows as an error on use and is then dropped; a
                // ping before every use would cost one more round trip per query.
                .test_before_acquire(false);
            if read_only {
                // On a primary too, this connection then fails any write the database sees.
                options = options.after_connect(|conn, _| {
                    Box::pin(async move {
                        sqlx::query("SET default_transaction_read_only = on").execute(conn).await.map(|_| ())
                    })
                });
            }
            let pool = options.connect(url).await?;
            if !read_only {
                sqlx::migrate!("./migrations/postgres").run(&pool).await?;
            }
            Pool::Postgres(pool)
        } else {
            return Err(StoreError::UnsupportedUrl(url.to_owned()));
        };
        Self::start(pool, read_only, follow).await
    }

    async fn start(pool: Pool, read_only: bool, follow: bool) -> Result<EventLog, StoreError> {
        let head = match &pool {
            Pool::Postgres(p) => postgres::head(p).await?,
            Pool::Sqlite(p) => sqlite::head(p).await?,
        };
        let (announce, announced) = watch::channel(head.position);
        let follow = match &pool {
            Pool::Postgres(p) if follow && follow::in_recovery(p).await? => {
                follow::spawn_replay_watch(p.clone(), announce);
                Follow::Replay
            }
            Pool::Postgres(p) if follow => {
                follow::spawn_listener(p.clone(), announce);
                Follow::Notify
            }
            _ => Follow::Poll,
        };
        let (committed_tx, committed) = watch::channel(head.position);
        let (appended, _) = broadcast::channel(1024);
        let busy = writer::Busy::default();
        let writer = match &pool {
            _ if read_only => writer::refuse_all(),
            Pool::Postgres(p) => {
                writer::spawn(postgres::PgAppender(p.clone()), committed_tx, appended.clone(), busy.clone())
            }
            Pool::Sqlite(p) => {
                writer::spawn(sqlite::SqliteAppender(p.clone()), committed_tx, appended.clone(), busy.clone())
            }
        };
        Ok(EventLog {
            inner: Arc::new(Inner { pool, writer, committed, appended, busy, read_only, announced, follow }),
        })
    }

    pub(crate) fn pool(&self) -> &Pool {
        &self.inner.pool
    }

    pub(crate) fn writer(&self) -> &mpsc::Sender<writer::Pending> {
        &self.inner.writer
    }

    /// The last position this process committed or saw committed; changes wake readers.
    pub fn committed(&self) -> watch::Receiver<i64> {
        self.inner.committed.clone()
    }

    /// The newest log position the database announced, committed by any process; it
    /// changes only where [`EventLog::follow`] is not [`Follow::Poll`].
    pub fn announced(&self) -> watch::Receiver<i64> {
        self.inner.announced.clone()
    }

    /// What tells this process of other processes' commits.
    pub fn follow(&self) -> Follow {
        self.inner.follow
    }

    /// Appends commits in the order given (each one aggregate's events, numbered from its
    /// current sequence, with its guard), through the writer, with many in flight; answers
    /// the last position. For loading fixtures and imports.
    pub async fn append_in_order(
        &self,
        commits: impl IntoIterator<Item = (Vec<SerializedEvent>, Guard)>,
    ) -> Result<i64, StoreError> {
        const WINDOW: usize = 4096;
        let mut in_flight = std::collections::VecDeque::with_capacity(WINDOW);
        let mut last = self.head().await?.position;
        let settle = |answer: Result<writer::Outcome, tokio::sync::oneshot::error::RecvError>| match answer {
            Ok(Ok(position)) => Ok(position),
            Ok(Err(e)) => Err(StoreError::Rejected(format!("{e:?}"))),
            Err(_) => Err(StoreError::Closed),
        };
        for (events, guard) in commits {
            if events.is_empty() {
                continue;
            }
            let (reply, answer) = tokio::sync::oneshot::channel();
            // The channel keeps the order, and the writer appends in channel order.
            let pending = writer::Pending { events, guard, reply };
            self.inner.writer.send(pending).await.map_err(|_| StoreError::Closed)?;
            in_flight.push_back(answer);
            if in_flight.len() >= WINDOW
                && let Some(oldest) = in_flight.pop_front()
            {
                last = last.max(settle(oldest.await)?);
            }
        }
        for answer in in_flight {
            last = last.max(settle(answer.await)?);
        }
        Ok(last)
    }

    /// Appends events of several streams in one transaction, all or nothing: each event
    /// at its stream's next sequence, as the caller numbered them. A stream that moved on
    /// meanwhile makes the whole append a [`Atomic::Conflict`] (load again and retry).
    pub async fn append_atomic(&self, events: Vec<SerializedEvent>) -> Result<Atomic, StoreError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let pending = writer::Pending { events, guard: Guard::default(), reply };
        self.inner.writer.send(pending).await.map_err(|_| StoreError::Closed)?;
        match answer.await.map_err(|_| StoreError::Closed)? {
            Ok(position) => Ok(Atomic::Appended(position)),
            Err(writer::AppendError::Conflict | writer::AppendError::IdInUse(_) | writer::AppendError::Claimed(_)) => {
                Ok(Atomic::Conflict)
            }
            Err(writer::AppendError::DuplicateCommand(id)) => Ok(Atomic::DuplicateCommand(id)),
            Err(writer::AppendError::Store(e)) => Err(StoreError::Rejected(e)),
        }
    }

    /// The last sequence of one stream (0 when it has no events).
    pub async fn last_sequence(&self, aggregate_type: &str, aggregate_id: &str) -> Result<i64, StoreError> {
        match &self.inner.pool {
            Pool::Postgres(p) => postgres::last_sequence(p, aggregate_type, aggregate_id).await,
            Pool::Sqlite(p) => sqlite::last_sequence(p, aggregate_type, aggregate_id).await,
        }
    }

    /// The events this process appends, group by group in log order, as they commit. A
    /// reader that falls behind (or sees a gap left by another process) reads the log.
    pub fn appended(&self) -> broadcast::Receiver<Arc<[StoredEvent]>> {
        self.inner.appended.subscribe()
    }

    /// Up to `limit` events after `position`, in log order. Every reader of the whole log uses this.
    pub async fn read_after(&self, position: i64, limit: u32) -> Result<Vec<StoredEvent>, StoreError> {
        match &self.inner.pool {
            Pool::Postgres(p) => postgres::read_after(p, position, limit).await,
            Pool::Sqlite(p) => sqlite::read_after(p, position, limit).await,
        }
    }

    /// The events of the streams of these types under one id, in log order (an index range).
    pub async fn history(
        &self,
        aggregate_types: &[&str],
        aggregate_id: &str,
        after: i64,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        match &self.inner.pool {
            Pool::Postgres(p) => postgres::history(p, aggregate_types, aggregate_id, after, limit).await,
            Pool::Sqlite(p) => sqlite::history(p, aggregate_types, aggregate_id, after, limit).await,
        }
    }

    /// Whether a stream of any type uses this id.
    pub async fn in_use(&self, aggregate_id: &str) -> Result<bool, StoreError> {
        match &self.inner.pool {
            Pool::Postgres(p) => postgres::in_use(p, aggregate_id).await,
            Pool::Sqlite(p) => sqlite::in_use(p, aggregate_id).await,
        }
    }

    /// Whether this log only reads (see [`EventLog::connect_read_only`]).
    pub fn is_read_only(&self) -> bool {
        self.inner.read_only
    }

    /// How long the append transaction in flight has been running (`None` when the writer is idle).
    pub fn append_waiting(&self) -> Option<Duration> {
        self.inner.busy.elapsed()
    }

    /// The oldest idle transaction of another session that holds the log head (PostgreSQL
    /// only: SQLite has no such view; a writer there waits at most its busy timeout).
    pub async fn head_holder(&self) -> Result<Option<HeadHolder>, StoreError> {
        match &self.inner.pool {
            Pool::Postgres(p) => postgres::head_holder(p).await,
            Pool::Sqlite(_) => Ok(None),
        }
    }

    /// Ends the session of another transaction that holds the log head and has sat idle
    /// for at least `idle_for` (PostgreSQL only), so that appends resume; answers the
    /// database pid ended. Needs the right to signal that session (the same role, a
    /// member of `pg_signal_backend`, or a superuser); without it, the error says so.
    pub async fn end_idle_head_holder(&self, idle_for: Duration) -> Result<Option<i32>, StoreError> {
        match &self.inner.pool {
            Pool::Postgres(p) => postgres::end_idle_head_holder(p, idle_for.as_secs_f64()).await,
            Pool::Sqlite(_) => Ok(None),
        }
    }

    /// The last position and chain hash.
    pub async fn head(&self) -> Result<LogHead, StoreError> {
        match &self.inner.pool {
            Pool::Postgres(p) => postgres::head(p).await,
            Pool::Sqlite(p) => sqlite::head(p).await,
        }
    }

    /// The last position recorded at or before `at` (0 when nothing was): "as recorded at
    /// `at`" is the log up to there, since recording instants never run backwards.
    pub async fn position_at(&self, at: DateTime<Utc>) -> Result<i64, StoreError> {
        // One backward step on the (recorded_at, position) index, not a scan of every earlier row.
        let position: Option<i64> = match &self.inner.pool {
            Pool::Postgres(p) => sqlx::query_scalar(
                "SELECT position FROM events WHERE recorded_at <= $1 ORDER BY recorded_at DESC, position DESC LIMIT 1",
            )
            .bind(at)
            .fetch_optional(p)
            .await?,
            Pool::Sqlite(p) => sqlx::query_scalar(
                "SELECT position FROM events WHERE recorded_at <= ? ORDER BY recorded_at DESC, position DESC LIMIT 1",
            )
            .bind(chain::canonical_instant(at))
            .fetch_optional(p)
            .await?,
        };
        Ok(position.unwrap_or(0))
    }

    /// Stores a read model's state as of `position` (replacing one stored for the same position).
    pub async fn save_snapshot(&self, model: &str, position: i64, state: &[u8]) -> Result<(), StoreError> {
        match &self.inner.pool {
            Pool::Postgres(p) => {
                sqlx::query(
                    "INSERT INTO read_model_snapshots (model, position, state) VALUES ($1, $2, $3) \
                     ON CONFLICT (model, position) DO UPDATE SET state = excluded.state",
                )
                .bind(model)
                .bind(position)
                .bind(state)
                .execute(p)
                .await?;
            }
            Pool::Sqlite(p) => {
                sqlx::query("INSERT OR REPLACE INTO read_model_snapshots (model, position, state) VALUES (?, ?, ?)")
                    .bind(model)
                    .bind(position)
                    .bind(state)
                    .execute(p)
                    .await?;
            }
        }
        Ok(())
    }

    /// Replaces every snapshot of a read model by one at `position`, in one transaction
    /// (a rebuilt read model takes the place of the old one at once).
    pub async fn replace_snapshots(&self, model: &str, position: i64, state: &[u8]) -> Result<(), StoreError> {
        match &self.inner.pool {
            Pool::Postgres(p) => {
                let mut tx = p.begin().await?;
                sqlx::query("DELETE FROM read_model_snapshots WHERE model = $1").bind(model).execute(&mut *tx).await?;
                sqlx::query("INSERT INTO read_model_snapshots (model, position, state) VALUES ($1, $2, $3)")
                    .bind(model)
                    .bind(position)
                    .bind(state)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
            }
            Pool::Sqlite(p) => {
                let mut tx = p.begin().await?;
                sqlx::query("DELETE FROM read_model_snapshots WHERE model = ?").bind(model).execute(&mut *tx).await?;
                sqlx::query("INSERT INTO read_model_snapshots (model, position, state) VALUES (?, ?, ?)")
                    .bind(model)
                    .bind(position)
                    .bind(state)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
            }
        }
        Ok(())
    }

    /// Drops a read model's snapshots taken before `position`.
    pub async fn prune_snapshots(&self, model: &str, position: i64) -> Result<(), StoreError> {
        match &self.inner.pool {
            Pool::Postgres(p) => {
                sqlx::query("DELETE FROM read_model_snapshots WHERE model = $1 AND position < $2")
                    .bind(model)
                    .bind(position)
                    .execute(p)
                    .await?;
            }
            Pool::Sqlite(p) => {
                sqlx::query("DELETE FROM read_model_snapshots WHERE model = ? AND position < ?")
                    .bind(model)
                    .bind(position)
                    .execute(p)
                    .await?;
            }
        }
        Ok(())
    }

    /// The latest snapshot of a read model at or before `position`.
    pub async fn snapshot_at_or_before(
        &self,
        model: &str,
        position: i64,
    ) -> Result<Option<(i64, Vec<u8>)>, StoreError> {
        let sql_pg = "SELECT position, state FROM read_model_snapshots WHERE model = $1 AND position <= $2 \
                      ORDER BY position DESC LIMIT 1";
        let sql_lite = "SELECT position, state FROM read_model_snapshots WHERE model = ? AND position <= ? \
                        ORDER BY position DESC LIMIT 1";
        Ok(match &self.inner.pool {
            Pool::Postgres(p) => sqlx::query_as(sql_pg).bind(model).bind(position).fetch_optional(p).await?,
            Pool::Sqlite(p) => sqlx::query_as(sql_lite).bind(model).bind(position).fetch_optional(p).await?,
        })
    }

    /// The record of an actor's command id, if that command appended events.
    pub async fn command(&self, actor: &str, command_id: &str) -> Result<Option<CommandRecord>, StoreError> {
        match &self.inner.pool {
            Pool::Postgres(p) => postgres::command(p, actor, command_id).await,
            Pool::Sqlite(p) => sqlite::command(p, actor, command_id).await,
        }
    }
}

/// Hashes a 32-byte value from a row, or reports the row as corrupt.
pub(crate) fn hash32(position: i64, bytes: Vec<u8>) -> Result<[u8; 32], StoreError> {
    bytes.try_into().map_err(|_| StoreError::Corrupt { position, reason: "chain hash is not 32 bytes".into() })
}
