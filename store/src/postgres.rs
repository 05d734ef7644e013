//! PostgreSQL adapter of the ordered log.

use sqlx::postgres::PgRow;
use sqlx::{PgPool, Postgres, Row as _};

use cqrs_es::persist::SerializedEvent;

use crate::writer::{AppendError, Appended, Appender, Commit, json_text, stored, unique_violation};
use crate::{CommandRecord, HeadHolder, LogHead, StoreError, StoredEvent, hash32};

const COLUMNS: &str = "position, recorded_at, aggregate_type, aggregate_id, sequence, event_type, event_version, \
                       payload::text AS payload, metadata::text AS metadata, chain_hash";

fn event(row: PgRow) -> Result<StoredEvent, StoreError> {
    let position: i64 = row.try_get("position")?;
    Ok(StoredEvent {
        position,
        recorded_at: row.try_get("recorded_at")?,
        aggregate_type: row.try_get("aggregate_type")?,
        aggregate_id: row.try_get("aggregate_id")?,
        sequence: row.try_get("sequence")?,
        event_type: row.try_get("event_type")?,
        event_version: row.try_get("event_version")?,
        payload: row.try_get("payload")?,
        metadata: row.try_get("metadata")?,
        chain_hash: hash32(position, row.try_get("chain_hash")?)?,
    })
}

pub(crate) async fn in_use(pool: &PgPool, aggregate_id: &str) -> Result<bool, StoreError> {
    Ok(sqlx::query("SELECT 1 FROM events WHERE aggregate_id = $1 LIMIT 1")
        .bind(aggregate_id)
        .fetch_optional(pool)
        .await?
        .is_some())
}

pub(crate) async fn read_after(pool: &PgPool, position: i64, limit: u32) -> Result<Vec<StoredEvent>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM events WHERE position > $1 ORDER BY position LIMIT $2");
    sqlx::query(&sql).bind(position).bind(i64::from(limit)).fetch_all(pool).await?.into_iter().map(event).collect()
}

pub(crate) async fn history(
    pool: &PgPool,
    aggregate_types: &[&str],
    aggregate_id: &str,
    after: i64,
    limit: u32,
) -> Result<Vec<StoredEvent>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM events WHERE aggregate_id = $1 AND aggregate_type = ANY($4) AND position > $2 \
         ORDER BY position LIMIT $3"
    );
    sqlx::query(&sql)
        .bind(aggregate_id)
        .bind(after)
        .bind(i64::from(limit))
        .bind(aggregate_types)
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(event)
        .collect()
}

pub(crate) async fn last_sequence(pool: &PgPool, aggregate_type: &str, aggregate_id: &str) -> Result<i64, StoreError> {
    let last: Option<i64> =
        sqlx::query_scalar("SELECT max(sequence) FROM events WHERE aggregate_type = $1 AND aggregate_id = $2")
            .bind(aggregate_type)
            .bind(aggregate_id)
            .fetch_one(pool)
            .await?;
    Ok(last.unwrap_or(0))
}

fn head_row(row: &PgRow) -> Result<LogHead, StoreError> {
    let position: i64 = row.try_get("position")?;
    Ok(LogHead {
        position,
        chain_hash: hash32(position, row.try_get("chain_hash")?)?,
        recorded_at: row.try_get("recorded_at")?,
    })
}

pub(crate) async fn head(pool: &PgPool) -> Result<LogHead, StoreError> {
    head_row(&sqlx::query("SELECT position, chain_hash, recorded_at FROM log_head WHERE id = 1").fetch_one(pool).await?)
}

pub(crate) async fn head_holder(pool: &PgPool) -> Result<Option<HeadHolder>, StoreError> {
    // A row lock (FOR UPDATE, UPDATE) holds a ROW SHARE or ROW EXCLUSIVE lock on the table
    // until the transaction ends; a plain read holds neither and blocks nobody.
    let row = sqlx::query(
        "SELECT a.pid, EXTRACT(EPOCH FROM clock_timestamp() - a.xact_start)::float8 AS open_seconds \
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
         WHERE l.locktype = 'relation' AND l.relation = 'log_head'::regclass AND l.granted \
           AND l.mode IN ('RowShareLock', 'RowExclusiveLock') AND a.pid <> pg_backend_pid() \
           AND a.state LIKE 'idle in transaction%' \
         ORDER BY a.xact_start LIMIT 1",
    )
    .fetch_optional(pool)
    .await?;
    row.map(|r| Ok(HeadHolder { pid: r.try_get("pid")?, open_seconds: r.try_get("open_seconds")? })).transpose()
}

/// Ends the session of the oldest transaction that holds the log head and has sat idle
/// for at least `idle_seconds`; answers its pid, if there was one and it was ended.
pub(crate) async fn end_idle_head_holder(pool: &PgPool, idle_seconds: f64) -> Result<Option<i32>, StoreError> {
    let ended: Option<(i32, bool)> = sqlx::query_as(
        "SELECT a.pid, pg_terminate_backend(a.pid) \
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
         WHERE l.locktype = 'relation' AND l.relation = 'log_head'::regclass AND l.granted \
           AND l.mode IN ('RowShareLock', 'RowExclusiveLock') AND a.pid <> pg_backend_pid() \
           AND a.state LIKE 'idle in transaction%' \
           AND a.state_change <= clock_timestamp() - $1 * interval '1 second' \
         ORDER BY a.xact_start LIMIT 1",
    )
    .bind(idle_seconds)
    .fetch_optional(pool)
    .await?;
    Ok(ended.filter(|(_, done)| *done).map(|(pid, _)| pid))
}

pub(crate) async fn command(pool: &PgPool, actor: &str, command_id: &str) -> Result<Option<CommandRecord>, StoreError> {
    let row = sqlx::query(
        "SELECT command_id, payload_hash, aggregate_type, aggregate_id, position, recorded_at FROM commands \
         WHERE actor = $1 AND command_id = $2",
    )
    .bind(actor)
    .bind(command_id)
    .fetch_optional(pool)
    .await?;
    row.map(|r| {
        Ok(CommandRecord {
            command_id: r.try_get("command_id")?,
            payload_hash: r.try_get("payload_hash")?,
            aggregate_type: r.try_get("aggregate_type")?,
            aggregate_id: r.try_get("aggregate_id")?,
            position: r.try_get("position")?,
            recorded_at: r.try_get("recorded_at")?,
        })
    })
    .transpose()
}

/// Appends through the `directory_append` function: one round trip for a whole group.
pub(crate) struct PgAppender(pub PgPool);

/// The function's arguments for a group of commits.
fn call<'q>(commits: &[Commit<'_>]) -> sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments> {
    let events: Vec<&SerializedEvent> = commits.iter().flat_map(|c| c.events).collect();
    let text = json_text;
    let mut last = 0i32;
    let (mut actors, mut ids, mut hashes, mut lasts) = (vec![], vec![], vec![], vec![]);
    let (mut kinds, mut scopes, mut keys, mut streams, mut at) = (vec![], vec![], vec![], vec![], vec![]);
    for c in commits {
        let first = last + 1;
        last += c.events.len() as i32;
        if let Some(key) = &c.command {
            actors.push(key.actor.clone());
            ids.push(key.id.clone());
            hashes.push(key.payload_hash.clone());
            lasts.push(last);
        }
        for (kind, scope, key) in c.guard.steps() {
            kinds.push(kind);
            scopes.push(scope.to_owned());
            keys.push(key.to_owned());
            streams.push(c.stream().to_owned());
            at.push(first);
        }
    }
    sqlx::query("SELECT * FROM directory_append($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)")
        .bind(events.iter().map(|e| e.aggregate_type.clone()).collect::<Vec<_>>())
        .bind(events.iter().map(|e| e.aggregate_id.clone()).collect::<Vec<_>>())
        .bind(events.iter().map(|e| e.sequence as i64).collect::<Vec<_>>())
        .bind(events.iter().map(|e| e.event_type.clone()).collect::<Vec<_>>())
        .bind(events.iter().map(|e| e.event_version.clone()).collect::<Vec<_>>())
        .bind(events.iter().map(|e| text(&e.payload)).collect::<Vec<_>>())
        .bind(events.iter().map(|e| text(&e.metadata)).collect::<Vec<_>>())
        .bind(actors)
        .bind(ids)
        .bind(hashes)
        .bind(lasts)
        .bind(kinds)
        .bind(scopes)
        .bind(keys)
        .bind(streams)
        .bind(at)
}

/// Each commit's stored events, from the function's answer (one row per event, in order).
fn appended(commits: &[Commit<'_>], rows: Vec<PgRow>) -> Result<Vec<Appended>, StoreError> {
    let mut rows = rows.into_iter();
    let mut result = Vec::with_capacity(commits.len());
    for commit in commits {
        let mut events = Vec::with_capacity(commit.events.len());
        for event in commit.events {
            let row =
                rows.next().ok_or_else(|| StoreError::Corrupt { position: 0, reason: "short append answer".into() })?;
            let position: i64 = row.try_get("event_position")?;
            events.push(stored(
                event,
                position,
                row.try_get("event_recorded_at")?,
                hash32(position, row.try_get("event_chain_hash")?)?,
            ));
        }
        result.push(events);
    }
    Ok(result)
}

impl Appender for PgAppender {
    async fn append_all(&self, commits: &[Commit<'_>]) -> Result<Option<Vec<Appended>>, StoreError> {
        if commits.is_empty() {
            return Ok(Some(vec![]));
        }
        // A single statement is its own transaction: lock, inserts and commit in one round trip.
        match call(commits).fetch_all(&self.0).await {
            Ok(rows) => Ok(Some(appended(commits, rows)?)),
            Err(e) if unique_violation(&e).is_some() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn append_each(&self, commits: &[Commit<'_>]) -> Result<Vec<Result<Appended, AppendError>>, StoreError> {
        let mut tx = self.0.begin().await?;
        let mut outcomes = Vec::with_capacity(commits.len());
        let mut any = false;
        for commit in commits {
            sqlx::query("SAVEPOINT commit_one").execute(&mut *tx).await?;
            let one = std::slice::from_ref(commit);
            match call(one).fetch_all(&mut *tx).await {
                Ok(rows) => {
                    sqlx::query("RELEASE SAVEPOINT commit_one").execute(&mut *tx).await?;
                    outcomes.push(Ok(appended(one, rows)?.pop().unwrap_or_default()));
                    any = true;
                }
                Err(e) => {
                    let Some(constraint) = unique_violation(&e) else { return Err(e.into()) };
                    sqlx::query("ROLLBACK TO SAVEPOINT commit_one").execute(&mut *tx).await?;
                    outcomes.push(Err(commit.refusal(&constraint)));
                }
            }
        }
        if any {
            tx.commit().await?;
        }
        Ok(outcomes)
    }
}
