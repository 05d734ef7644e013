//! SQLite adapter of the ordered log. SQLite has one writer at a time; `BEGIN IMMEDIATE`
//! takes the write lock up front, so the head read and the inserts cannot interleave.

use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row as _, Sqlite, SqlitePool, Transaction};

use crate::chain::canonical_instant;
use crate::writer::{AppendTx, CommandRow, InsertError, Row};
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
    aggregate_id: &str,
    after: i64,
    limit: u32,
) -> Result<Vec<StoredEvent>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM events WHERE aggregate_id = ? AND position > ? ORDER BY position LIMIT ?");
    sqlx::query(&sql)
        .bind(aggregate_id)
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(event)
        .collect()
}

fn head_row(row: &SqliteRow) -> Result<(i64, [u8; 32], Option<DateTime<Utc>>), StoreError> {
    let position: i64 = row.try_get("position")?;
    let recorded_at: Option<String> = row.try_get("recorded_at")?;
    Ok((
        position,
        hash32(position, row.try_get("chain_hash")?)?,
        recorded_at.map(|t| instant(position, &t)).transpose()?,
    ))
}

pub(crate) async fn head(pool: &SqlitePool) -> Result<LogHead, StoreError> {
    let row =
        sqlx::query("SELECT position, chain_hash, recorded_at FROM log_head WHERE id = 1").fetch_one(pool).await?;
    let (position, chain_hash, recorded_at) = head_row(&row)?;
    Ok(LogHead { position, chain_hash, recorded_at })
}

pub(crate) async fn command(pool: &SqlitePool, command_id: &str) -> Result<Option<CommandRecord>, StoreError> {
    let row = sqlx::query(
        "SELECT command_id, payload_hash, aggregate_type, aggregate_id, position, recorded_at FROM commands WHERE command_id = ?",
    )
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

pub(crate) struct SqliteAppend(Transaction<'static, Sqlite>);

pub(crate) async fn begin_append(pool: &SqlitePool) -> Result<SqliteAppend, sqlx::Error> {
    Ok(SqliteAppend(pool.begin_with("BEGIN IMMEDIATE").await?))
}

impl AppendTx for SqliteAppend {
    async fn head(&mut self) -> Result<(i64, [u8; 32], Option<DateTime<Utc>>), StoreError> {
        let row = sqlx::query("SELECT position, chain_hash, recorded_at FROM log_head WHERE id = 1")
            .fetch_one(&mut *self.0)
            .await?;
        head_row(&row)
    }

    async fn execute(&mut self, sql: &'static str) -> Result<(), sqlx::Error> {
        sqlx::query(sql).execute(&mut *self.0).await.map(drop)
    }

    async fn insert_command(&mut self, c: CommandRow<'_>) -> Result<(), InsertError> {
        sqlx::query(
            "INSERT INTO commands (command_id, payload_hash, aggregate_type, aggregate_id, position, recorded_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(c.command_id)
        .bind(c.payload_hash)
        .bind(c.aggregate_type)
        .bind(c.aggregate_id)
        .bind(c.position)
        .bind(canonical_instant(c.recorded_at))
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    async fn insert_events(&mut self, rows: &[Row]) -> Result<(), InsertError> {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, \
                                 position, recorded_at, chain_hash) ",
        );
        q.push_values(rows, |mut b, r| {
            b.push_bind(r.aggregate_type.clone())
                .push_bind(r.aggregate_id.clone())
                .push_bind(r.sequence)
                .push_bind(r.event_type.clone())
                .push_bind(r.event_version.clone())
                .push_bind(r.payload.clone())
                .push_bind(r.metadata.clone())
                .push_bind(r.position)
                .push_bind(canonical_instant(r.recorded_at))
                .push_bind(r.chain_hash.to_vec());
        });
        q.build().execute(&mut *self.0).await?;
        Ok(())
    }

    async fn set_head(&mut self, position: i64, hash: [u8; 32], at: DateTime<Utc>) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE log_head SET position = ?, chain_hash = ?, recorded_at = ? WHERE id = 1")
            .bind(position)
            .bind(hash.to_vec())
            .bind(canonical_instant(at))
            .execute(&mut *self.0)
            .await
            .map(drop)
    }

    async fn commit(self) -> Result<(), sqlx::Error> {
        self.0.commit().await
    }
}
