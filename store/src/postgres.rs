//! PostgreSQL adapter of the ordered log.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Postgres, Row as _, Transaction};

use crate::writer::{AppendTx, CommandRow, InsertError, Row};
use crate::{CommandRecord, LogHead, StoreError, StoredEvent, hash32};

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

pub(crate) async fn read_after(pool: &PgPool, position: i64, limit: u32) -> Result<Vec<StoredEvent>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM events WHERE position > $1 ORDER BY position LIMIT $2");
    sqlx::query(&sql).bind(position).bind(i64::from(limit)).fetch_all(pool).await?.into_iter().map(event).collect()
}

pub(crate) async fn history(
    pool: &PgPool,
    aggregate_id: &str,
    after: i64,
    limit: u32,
) -> Result<Vec<StoredEvent>, StoreError> {
    let sql =
        format!("SELECT {COLUMNS} FROM events WHERE aggregate_id = $1 AND position > $2 ORDER BY position LIMIT $3");
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

pub(crate) async fn head(pool: &PgPool) -> Result<LogHead, StoreError> {
    let row =
        sqlx::query("SELECT position, chain_hash, recorded_at FROM log_head WHERE id = 1").fetch_one(pool).await?;
    let position: i64 = row.try_get("position")?;
    Ok(LogHead {
        position,
        chain_hash: hash32(position, row.try_get("chain_hash")?)?,
        recorded_at: row.try_get("recorded_at")?,
    })
}

pub(crate) async fn command(pool: &PgPool, command_id: &str) -> Result<Option<CommandRecord>, StoreError> {
    let row = sqlx::query(
        "SELECT command_id, payload_hash, aggregate_type, aggregate_id, position, recorded_at FROM commands WHERE command_id = $1",
    )
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

pub(crate) struct PgAppend(Transaction<'static, Postgres>);

pub(crate) async fn begin_append(pool: &PgPool) -> Result<PgAppend, sqlx::Error> {
    Ok(PgAppend(pool.begin().await?))
}

impl AppendTx for PgAppend {
    async fn head(&mut self) -> Result<(i64, [u8; 32], Option<DateTime<Utc>>), StoreError> {
        // The row lock is held until commit: it serialises appends across all processes.
        let row = sqlx::query("SELECT position, chain_hash, recorded_at FROM log_head WHERE id = 1 FOR UPDATE")
            .fetch_one(&mut *self.0)
            .await?;
        let position: i64 = row.try_get("position")?;
        Ok((position, hash32(position, row.try_get("chain_hash")?)?, row.try_get("recorded_at")?))
    }

    async fn execute(&mut self, sql: &'static str) -> Result<(), sqlx::Error> {
        sqlx::query(sql).execute(&mut *self.0).await.map(drop)
    }

    async fn insert_command(&mut self, c: CommandRow<'_>) -> Result<(), InsertError> {
        sqlx::query(
            "INSERT INTO commands (command_id, payload_hash, aggregate_type, aggregate_id, position, recorded_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(c.command_id)
        .bind(c.payload_hash)
        .bind(c.aggregate_type)
        .bind(c.aggregate_id)
        .bind(c.position)
        .bind(c.recorded_at)
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    async fn insert_events(&mut self, rows: &[Row]) -> Result<(), InsertError> {
        // One statement for any number of rows, so it stays a single prepared statement.
        sqlx::query(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, \
                                 position, recorded_at, chain_hash) \
             SELECT t.at, t.ai, t.sq, t.et, t.ev, t.p::json, t.m::json, t.pos, t.rec, t.h \
               FROM UNNEST($1::text[], $2::text[], $3::int8[], $4::text[], $5::text[], $6::text[], $7::text[], \
                           $8::int8[], $9::timestamptz[], $10::bytea[]) AS t(at, ai, sq, et, ev, p, m, pos, rec, h)",
        )
        .bind(rows.iter().map(|r| r.aggregate_type.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.aggregate_id.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.sequence).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.event_type.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.event_version.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.payload.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.metadata.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.position).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.recorded_at).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.chain_hash.to_vec()).collect::<Vec<_>>())
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    async fn set_head(&mut self, position: i64, hash: [u8; 32], at: DateTime<Utc>) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE log_head SET position = $1, chain_hash = $2, recorded_at = $3 WHERE id = 1")
            .bind(position)
            .bind(hash.to_vec())
            .bind(at)
            .execute(&mut *self.0)
            .await
            .map(drop)
    }

    async fn commit(self) -> Result<(), sqlx::Error> {
        self.0.commit().await
    }
}
