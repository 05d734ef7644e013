//! The single writer task: it takes pending commits from a channel and appends as many as
//! are waiting in one transaction (group commit), each under its own savepoint so that one
//! command's conflict does not fail its neighbours.

use std::future::Future;
use std::time::Instant;

use chrono::{DateTime, Utc};
use cqrs_es::persist::SerializedEvent;
use tokio::sync::{mpsc, oneshot, watch};

use crate::chain::{self, Link};
use crate::{Metadata, Pool, StoreError, postgres, sqlite};

/// The most commits one transaction takes.
const MAX_BATCH: usize = 256;

/// What one commit asks for: its events (one aggregate) and where to answer.
pub(crate) struct Pending {
    pub events: Vec<SerializedEvent>,
    pub reply: oneshot::Sender<Result<i64, AppendError>>,
}

/// Why one commit was not appended.
#[derive(Debug)]
pub(crate) enum AppendError {
    /// Another commit took one of these stream sequences first.
    Conflict,
    /// The command id was already recorded by another commit.
    DuplicateCommand(String),
    /// The transaction failed; nothing of it was appended.
    Store(String),
}

/// A row ready to insert.
pub(crate) struct Row {
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    pub payload: String,
    pub metadata: String,
    pub position: i64,
    pub recorded_at: DateTime<Utc>,
    pub chain_hash: [u8; 32],
}

/// The command record written with a commit's events.
pub(crate) struct CommandRow<'a> {
    pub command_id: &'a str,
    pub payload_hash: &'a str,
    pub aggregate_type: &'a str,
    pub aggregate_id: &'a str,
    pub position: i64,
    pub recorded_at: DateTime<Utc>,
}

/// An insert that hit a unique key, or failed otherwise.
pub(crate) enum InsertError {
    Unique,
    Other(sqlx::Error),
}

impl From<sqlx::Error> for InsertError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(d) if d.is_unique_violation() => InsertError::Unique,
            _ => InsertError::Other(e),
        }
    }
}

/// One append transaction on either store. `begin` takes the log-head lock.
pub(crate) trait AppendTx: Sized + Send {
    fn head(&mut self) -> impl Future<Output = Result<(i64, [u8; 32], Option<DateTime<Utc>>), StoreError>> + Send;
    fn execute(&mut self, sql: &'static str) -> impl Future<Output = Result<(), sqlx::Error>> + Send;
    fn insert_command(&mut self, row: CommandRow<'_>) -> impl Future<Output = Result<(), InsertError>> + Send;
    fn insert_events(&mut self, rows: &[Row]) -> impl Future<Output = Result<(), InsertError>> + Send;
    fn set_head(
        &mut self,
        position: i64,
        hash: [u8; 32],
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;
    fn commit(self) -> impl Future<Output = Result<(), sqlx::Error>> + Send;
}

pub(crate) fn spawn(pool: Pool, committed: watch::Sender<i64>) -> mpsc::Sender<Pending> {
    let (tx, mut rx) = mpsc::channel::<Pending>(4 * MAX_BATCH);
    tokio::spawn(async move {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
            let started = Instant::now();
            let size = batch.len();
            let result = match &pool {
                Pool::Postgres(p) => match postgres::begin_append(p).await {
                    Ok(tx) => append(tx, &batch).await,
                    Err(e) => Err(e.into()),
                },
                Pool::Sqlite(p) => match sqlite::begin_append(p).await {
                    Ok(tx) => append(tx, &batch).await,
                    Err(e) => Err(e.into()),
                },
            };
            match result {
                Ok((outcomes, head)) => {
                    committed.send_if_modified(|p| {
                        let newer = head > *p;
                        *p = (*p).max(head);
                        newer
                    });
                    metrics::gauge!("directory_log_head_position").set(head as f64);
                    for (pending, outcome) in batch.drain(..).zip(outcomes) {
                        let _ = pending.reply.send(outcome);
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, commits = size, "append transaction failed");
                    for pending in batch.drain(..) {
                        let _ = pending.reply.send(Err(AppendError::Store(e.to_string())));
                    }
                }
            }
            metrics::histogram!("directory_append_batch_seconds").record(started.elapsed().as_secs_f64());
            metrics::histogram!("directory_append_batch_size").record(size as f64);
        }
    });
    tx
}

/// Appends the batch in one transaction; answers each commit and the new head position.
async fn append<T: AppendTx>(mut tx: T, batch: &[Pending]) -> Result<(Vec<Result<i64, AppendError>>, i64), StoreError> {
    let (mut position, mut hash, last_recorded) = tx.head().await?;
    // Recorded time never runs backwards along the log, so "as of T" is always a prefix.
    let now = micros(Utc::now());
    let recorded_at = last_recorded.map_or(now, |last| now.max(last));
    let isolate = batch.len() > 1;
    let mut outcomes = Vec::with_capacity(batch.len());
    let mut appended = false;
    for pending in batch {
        let rows = rows(&pending.events, position, hash, recorded_at)?;
        let Some(last) = rows.last() else {
            outcomes.push(Ok(position));
            continue;
        };
        let (last_position, last_hash) = (last.position, last.chain_hash);
        if isolate {
            tx.execute("SAVEPOINT commit_one").await?;
        }
        let meta: Metadata = pending
            .events
            .first()
            .map(|e| e.metadata.clone())
            .map_or_else(Metadata::default, |m| serde_json::from_value(m).unwrap_or_default());
        let command = match (&meta.command_id, &meta.payload_hash) {
            (Some(id), Some(hash)) => Some(CommandRow {
                command_id: id,
                payload_hash: hash,
                aggregate_type: &rows[0].aggregate_type,
                aggregate_id: &rows[0].aggregate_id,
                position: last_position,
                recorded_at,
            }),
            _ => None,
        };
        let inserted = match command {
            Some(c) => match tx.insert_command(c).await {
                Ok(()) => tx.insert_events(&rows).await.map_err(|e| (e, false)),
                Err(e) => Err((e, true)),
            },
            None => tx.insert_events(&rows).await.map_err(|e| (e, false)),
        };
        match inserted {
            Ok(()) => {
                if isolate {
                    tx.execute("RELEASE SAVEPOINT commit_one").await?;
                }
                position = last_position;
                hash = last_hash;
                appended = true;
                outcomes.push(Ok(last_position));
            }
            Err((InsertError::Other(e), _)) => return Err(e.into()),
            Err((InsertError::Unique, on_command)) => {
                outcomes.push(Err(if on_command {
                    AppendError::DuplicateCommand(meta.command_id.clone().unwrap_or_default())
                } else {
                    AppendError::Conflict
                }));
                if !isolate {
                    // A lone commit failed: the transaction is void, nothing to keep.
                    return Ok((outcomes, position));
                }
                tx.execute("ROLLBACK TO SAVEPOINT commit_one").await?;
            }
        }
    }
    if appended {
        tx.set_head(position, hash, recorded_at).await?;
        tx.commit().await?;
        metrics::counter!("directory_events_appended_total")
            .increment(outcomes.iter().filter(|o| o.is_ok()).count() as u64);
    }
    let conflicts = outcomes.iter().filter(|o| o.is_err()).count();
    if conflicts > 0 {
        metrics::counter!("directory_append_conflicts_total").increment(conflicts as u64);
    }
    Ok((outcomes, position))
}

fn rows(
    events: &[SerializedEvent],
    after: i64,
    mut hash: [u8; 32],
    recorded_at: DateTime<Utc>,
) -> Result<Vec<Row>, StoreError> {
    let mut rows = Vec::with_capacity(events.len());
    for (i, e) in events.iter().enumerate() {
        let position = after + 1 + i as i64;
        let payload = serde_json::to_string(&e.payload)
            .map_err(|err| StoreError::Corrupt { position, reason: err.to_string() })?;
        let metadata = serde_json::to_string(&e.metadata)
            .map_err(|err| StoreError::Corrupt { position, reason: err.to_string() })?;
        let sequence = e.sequence as i64;
        hash = chain::next(
            &hash,
            position,
            &Link {
                aggregate_type: &e.aggregate_type,
                aggregate_id: &e.aggregate_id,
                sequence,
                event_type: &e.event_type,
                event_version: &e.event_version,
                payload: &payload,
                metadata: &metadata,
                recorded_at,
            },
        );
        rows.push(Row {
            aggregate_type: e.aggregate_type.clone(),
            aggregate_id: e.aggregate_id.clone(),
            sequence,
            event_type: e.event_type.clone(),
            event_version: e.event_version.clone(),
            payload,
            metadata,
            position,
            recorded_at,
            chain_hash: hash,
        });
    }
    Ok(rows)
}

/// Truncates to microseconds, the precision both stores keep.
pub(crate) fn micros(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(at.timestamp_micros()).unwrap_or(at)
}
