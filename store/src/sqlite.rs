//! SQLite adapter of the ordered log. SQLite has one writer at a time; `BEGIN IMMEDIATE`
//! takes the write lock up front, so the head read and the inserts cannot interleave.

use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row as _, Sqlite, SqlitePool, Transaction};

use cqrs_es::persist::SerializedEvent;

use crate::chain::{self, canonical_instant};
use crate::writer::{AppendError, Appended, Appender, Commit, micros, stored, unique_violation};
use crate::{CommandRecord, LogHead, StoreError, StoredEvent, hash32};

const COLUMNS: &str = "position, recorded_at, aggregate_type, aggregate_id, sequence, event_type, event_version, \
                       payload, metadata, chain_hash";

fn instant(position: i64, text: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt { position, reason: format!("recorded_at {text:?}: {e}") })
}

fn event(row: SqliteRow) -> Result<StoredEvent, StoreError> {
    let position: i64 = row.try_get("position")?;
    let recorded_at: String = row.try_get("recorded_at")?;
    Ok(StoredEvent {
        position,
        recorded_at: instant(position, &recorded_at)?,
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

pub(crate) async fn read_after(pool: &SqlitePool, position: i64, limit: u32) -> Result<Vec<StoredEvent>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM events WHERE position > ? ORDER BY position LIMIT ?");
    sqlx::query(&sql).bind(position).bind(i64::from(limit)).fetch_all(pool).await?.into_iter().map(event).collect()
}

pub(crate) async fn history(
    pool: &SqlitePool,
    aggregate_types: &[&str],
    aggregate_id: &str,
    after: i64,
    limit: u32,
) -> Result<Vec<StoredEvent>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM events WHERE aggregate_id = ? AND position > ? \
         AND aggregate_type IN (SELECT value FROM json_each(?)) ORDER BY position LIMIT ?"
    );
    sqlx::query(&sql)
        .bind(aggregate_id)
        .bind(after)
        .bind(serde_json::to_string(aggregate_types).unwrap_or_default())
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(event)
        .collect()
}

pub(crate) async fn in_use(pool: &SqlitePool, aggregate_id: &str) -> Result<bool, StoreError> {
    Ok(sqlx::query("SELECT 1 FROM events WHERE aggregate_id = ? LIMIT 1")
        .bind(aggregate_id)
        .fetch_optional(pool)
        .await?
        .is_some())
}

pub(crate) async fn last_sequence(
    pool: &SqlitePool,
    aggregate_type: &str,
    aggregate_id: &str,
) -> Result<i64, StoreError> {
    let last: Option<i64> =
        sqlx::query_scalar("SELECT max(sequence) FROM events WHERE aggregate_type = ? AND aggregate_id = ?")
            .bind(aggregate_type)
            .bind(aggregate_id)
            .fetch_one(pool)
            .await?;
    Ok(last.unwrap_or(0))
}

fn head_row(row: &SqliteRow) -> Result<LogHead, StoreError> {
    let position: i64 = row.try_get("position")?;
    let recorded_at: Option<String> = row.try_get("recorded_at")?;
    Ok(LogHead {
        position,
        chain_hash: hash32(position, row.try_get("chain_hash")?)?,
        recorded_at: recorded_at.map(|t| instant(position, &t)).transpose()?,
    })
}

pub(crate) async fn head(pool: &SqlitePool) -> Result<LogHead, StoreError> {
    head_row(&sqlx::query("SELECT position, chain_hash, recorded_at FROM log_head WHERE id = 1").fetch_one(pool).await?)
}

pub(crate) async fn command(
    pool: &SqlitePool,
    actor: &str,
    command_id: &str,
) -> Result<Option<CommandRecord>, StoreError> {
    let row = sqlx::query(
        "SELECT command_id, payload_hash, aggregate_type, aggregate_id, position, recorded_at FROM commands \
         WHERE actor = ? AND command_id = ?",
    )
    .bind(actor)
    .bind(command_id)
    .fetch_optional(pool)
    .await?;
    row.map(|r| {
        let position: i64 = r.try_get("position")?;
        let recorded_at: String = r.try_get("recorded_at")?;
        Ok(CommandRecord {
            command_id: r.try_get("command_id")?,
            payload_hash: r.try_get("payload_hash")?,
            aggregate_type: r.try_get("aggregate_type")?,
            aggregate_id: r.try_get("aggregate_id")?,
            position,
            recorded_at: instant(position, &recorded_at)?,
        })
    })
    .transpose()
}

/// Appends in Rust: SQLite has one writer at a time, and `BEGIN IMMEDIATE` takes the
/// write lock up front, so the head read and the inserts cannot interleave with another process.
pub(crate) struct SqliteAppender(pub SqlitePool);

/// A row ready to insert.
struct Row<'a> {
    event: &'a SerializedEvent,
    stored: StoredEvent,
}

/// Numbers and chains a commit's events after the given head.
fn plan<'a>(commit: &Commit<'a>, head: &mut LogHead, recorded_at: DateTime<Utc>) -> Vec<Row<'a>> {
    commit
        .events
        .iter()
        .map(|event| {
            head.position += 1;
            let mut stored = stored(event, head.position, recorded_at, [0; 32]);
            head.chain_hash = chain::next(&head.chain_hash, head.position, &stored.link());
            stored.chain_hash = head.chain_hash;
            Row { event, stored }
        })
        .collect()
}

/// Why a commit's inserts stopped.
enum Stop {
    /// A unique key or guard refused the commit; the others of its group may go on.
    Refused(AppendError),
    Failed(sqlx::Error),
}

/// Applies a commit's guard, inserts its command record and its events.
async fn insert(
    tx: &mut Transaction<'static, Sqlite>,
    commit: &Commit<'_>,
    rows: &[Row<'_>],
    recorded_at: &str,
) -> Result<(), Stop> {
    let refused = |refusal: AppendError| {
        move |e: sqlx::Error| if unique_violation(&e).is_some() { Stop::Refused(refusal) } else { Stop::Failed(e) }
    };
    let stream = commit.stream();
    for (kind, scope, key) in commit.guard.steps() {
        match kind {
            "release" => {
                sqlx::query("DELETE FROM claims WHERE scope = ? AND key = ? AND aggregate_id = ?")
                    .bind(scope)
                    .bind(key)
                    .bind(stream)
                    .execute(&mut **tx)
                    .await
                    .map_err(Stop::Failed)?;
            }
            "fresh" => {
                let used = sqlx::query("SELECT 1 FROM events WHERE aggregate_id = ? LIMIT 1")
                    .bind(stream)
                    .fetch_optional(&mut **tx)
                    .await
                    .map_err(Stop::Failed)?;
                if used.is_some() {
                    return Err(Stop::Refused(AppendError::IdInUse(stream.to_owned())));
                }
            }
            _ => {
                sqlx::query("INSERT INTO claims (scope, key, aggregate_id, position) VALUES (?, ?, ?, ?)")
                    .bind(scope)
                    .bind(key)
                    .bind(stream)
                    .bind(rows.first().map_or(0, |r| r.stored.position))
                    .execute(&mut **tx)
                    .await
                    .map_err(refused(AppendError::Claimed(scope.to_owned())))?;
            }
        }
    }
    if let (Some(command), Some(last)) = (&commit.command, rows.last()) {
        sqlx::query(
            "INSERT INTO commands (actor, command_id, payload_hash, aggregate_type, aggregate_id, position, recorded_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&command.actor)
        .bind(&command.id)
        .bind(&command.payload_hash)
        .bind(&last.event.aggregate_type)
        .bind(&last.event.aggregate_id)
        .bind(last.stored.position)
        .bind(recorded_at)
        .execute(&mut **tx)
        .await
        .map_err(refused(AppendError::DuplicateCommand(command.id.clone())))?;
    }
    // SQLite binds at most 32766 parameters per statement: 10 per row.
    for chunk in rows.chunks(1000) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, \
             metadata, position, recorded_at, chain_hash) ",
        );
        q.push_values(chunk, |mut b, r| {
            b.push_bind(r.event.aggregate_type.clone())
                .push_bind(r.event.aggregate_id.clone())
                .push_bind(r.event.sequence as i64)
                .push_bind(r.event.event_type.clone())
                .push_bind(r.event.event_version.clone())
                .push_bind(r.stored.payload.clone())
                .push_bind(r.stored.metadata.clone())
                .push_bind(r.stored.position)
                .push_bind(recorded_at.to_owned())
                .push_bind(r.stored.chain_hash.to_vec());
        });
        q.build().execute(&mut **tx).await.map_err(refused(AppendError::Conflict))?;
    }
    Ok(())
}

impl SqliteAppender {
    async fn begin(&self) -> Result<(Transaction<'static, Sqlite>, LogHead, DateTime<Utc>), StoreError> {
        let mut tx = self.0.begin_with("BEGIN IMMEDIATE").await?;
        let head = head_row(
            &sqlx::query("SELECT position, chain_hash, recorded_at FROM log_head WHERE id = 1")
                .fetch_one(&mut *tx)
                .await?,
        )?;
        // Recorded time never runs backwards along the log, so "as of T" is always a prefix.
        let now = micros(Utc::now());
        let recorded_at = head.recorded_at.map_or(now, |last| now.max(last));
        Ok((tx, head, recorded_at))
    }

    async fn finish(mut tx: Transaction<'static, Sqlite>, head: &LogHead, recorded_at: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE log_head SET position = ?, chain_hash = ?, recorded_at = ? WHERE id = 1")
            .bind(head.position)
            .bind(head.chain_hash.to_vec())
            .bind(recorded_at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

impl Appender for SqliteAppender {
    async fn append_all(&self, commits: &[Commit<'_>]) -> Result<Option<Vec<Appended>>, StoreError> {
        if commits.is_empty() {
            return Ok(Some(vec![]));
        }
        let (mut tx, mut head, recorded_at) = self.begin().await?;
        let at = canonical_instant(recorded_at);
        let mut appended = Vec::with_capacity(commits.len());
        for commit in commits {
            let rows = plan(commit, &mut head, recorded_at);
            match insert(&mut tx, commit, &rows, &at).await {
                Ok(()) => appended.push(rows.into_iter().map(|r| r.stored).collect()),
                Err(Stop::Refused(_)) => return Ok(None),
                Err(Stop::Failed(e)) => return Err(e.into()),
            }
        }
        Self::finish(tx, &head, &at).await?;
        Ok(Some(appended))
    }

    async fn append_each(&self, commits: &[Commit<'_>]) -> Result<Vec<Result<Appended, AppendError>>, StoreError> {
        let (mut tx, mut head, recorded_at) = self.begin().await?;
        let at = canonical_instant(recorded_at);
        let start = head.position;
        let mut outcomes = Vec::with_capacity(commits.len());
        for commit in commits {
            let before = head.clone();
            let rows = plan(commit, &mut head, recorded_at);
            sqlx::query("SAVEPOINT commit_one").execute(&mut *tx).await?;
            match insert(&mut tx, commit, &rows, &at).await {
                Ok(()) => {
                    sqlx::query("RELEASE SAVEPOINT commit_one").execute(&mut *tx).await?;
                    outcomes.push(Ok(rows.into_iter().map(|r| r.stored).collect()));
                }
                Err(Stop::Failed(e)) => return Err(e.into()),
                Err(Stop::Refused(refusal)) => {
                    sqlx::query("ROLLBACK TO SAVEPOINT commit_one").execute(&mut *tx).await?;
                    outcomes.push(Err(refusal));
                    head = before;
                }
            }
        }
        if head.position > start {
            Self::finish(tx, &head, &at).await?;
        }
        Ok(outcomes)
    }
}
