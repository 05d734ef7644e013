//! Leases: named work that one process at a time does, held until an instant of the
//! database's clock, so that processes on several machines agree without trusting each
//! other's clocks. Taking a lease that another holds succeeds only once it has expired;
//! a holder renews its own. Leases are coordination, not facts: they live beside the log,
//! never in it.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use sqlx::Row as _;

use crate::{EventLog, Pool, StoreError};

/// One lease as the table holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub name: String,
    pub holder: String,
    /// Grows by one each time the lease changes hands (a fencing token).
    pub token: i64,
    pub acquired_at: DateTime<Utc>,
    pub renewed_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Whether it had not expired when it was read, by the database's clock.
    pub live: bool,
}

/// The upsert that takes or renews a lease, in either database's dialect: its three
/// parameters (name, holder, milliseconds to live), the database's clock and how it adds
/// the milliseconds to it. A lease is free from the instant it expires (a given-up one
/// expires when it is given up), as `live` says: SQLite's clock has milliseconds, so a
/// take in the same millisecond as the release is common there.
fn take_sql([name, holder]: [&str; 2], now: &str, expires: &str) -> String {
    format!(
        "INSERT INTO leases AS l (name, holder, token, acquired_at, renewed_at, expires_at) \
         VALUES ({name}, {holder}, 1, {now}, {now}, {expires}) \
         ON CONFLICT (name) DO UPDATE SET \
           holder = excluded.holder, \
           token = CASE WHEN l.holder = excluded.holder THEN l.token ELSE l.token + 1 END, \
           acquired_at = CASE WHEN l.holder = excluded.holder THEN l.acquired_at ELSE excluded.acquired_at END, \
           renewed_at = excluded.renewed_at, expires_at = excluded.expires_at \
         WHERE l.holder = excluded.holder OR l.expires_at <= excluded.renewed_at \
         RETURNING token"
    )
}

const SQLITE_NOW: &str = "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)";

impl EventLog {
    /// Takes or renews the lease `name` for `holder` for `ttl`; answers its token, or
    /// `None` while another holder's lease has not expired. A read-only log takes none.
    pub async fn take_lease(&self, name: &str, holder: &str, ttl: Duration) -> Result<Option<i64>, StoreError> {
        if self.is_read_only() {
            return Ok(None);
        }
        let ttl = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        Ok(match self.pool() {
            Pool::Postgres(p) => {
                let now = "clock_timestamp()";
                let sql = take_sql(["$1", "$2"], now, &format!("{now} + $3 * interval '1 millisecond'"));
                sqlx::query_scalar(&sql).bind(name).bind(holder).bind(ttl as f64).fetch_optional(p).await?
            }
            Pool::Sqlite(p) => {
                let sql = take_sql(["?1", "?2"], SQLITE_NOW, &format!("{SQLITE_NOW} + ?3"));
                sqlx::query_scalar(&sql).bind(name).bind(holder).bind(ttl).fetch_optional(p).await?
            }
        })
    }

    /// Gives the lease up at once, if `holder` holds it (it expires now; the row stays, so
    /// the next holder's token is still a larger one).
    pub async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        if self.is_read_only() {
            return Ok(());
        }
        match self.pool() {
            Pool::Postgres(p) => {
                sqlx::query("UPDATE leases SET expires_at = clock_timestamp() WHERE name = $1 AND holder = $2")
                    .bind(name)
                    .bind(holder)
                    .execute(p)
                    .await?;
            }
            Pool::Sqlite(p) => {
                let sql = format!("UPDATE leases SET expires_at = {SQLITE_NOW} WHERE name = ? AND holder = ?");
                sqlx::query(&sql).bind(name).bind(holder).execute(p).await?;
            }
        }
        Ok(())
    }

    /// Deletes the leases named `prefix…` that expired more than `expired_for` ago (the
    /// presence of processes long gone, locks of work long done). Their tokens start
    /// again from 1 if the names are ever taken again.
    pub async fn forget_leases(&self, prefix: &str, expired_for: Duration) -> Result<u64, StoreError> {
        if self.is_read_only() {
            return Ok(0);
        }
        let ms = i64::try_from(expired_for.as_millis()).unwrap_or(i64::MAX);
        let pattern = format!("{}%", prefix.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
        let done = match self.pool() {
            Pool::Postgres(p) => sqlx::query(
                "DELETE FROM leases WHERE name LIKE $1 ESCAPE '\\' \
                     AND expires_at < clock_timestamp() - $2 * interval '1 millisecond'",
            )
            .bind(pattern)
            .bind(ms as f64)
            .execute(p)
            .await?
            .rows_affected(),
            Pool::Sqlite(p) => {
                let sql = format!("DELETE FROM leases WHERE name LIKE ? ESCAPE '\\' AND expires_at < {SQLITE_NOW} - ?");
                sqlx::query(&sql).bind(pattern).bind(ms).execute(p).await?.rows_affected()
            }
        };
        Ok(done)
    }

    /// Every lease, expired ones included, by name.
    pub async fn leases(&self) -> Result<Vec<Lease>, StoreError> {
        match self.pool() {
            Pool::Postgres(p) => {
                let rows = sqlx::query(
                    "SELECT name, holder, token, acquired_at, renewed_at, expires_at, \
                     expires_at > clock_timestamp() AS live FROM leases ORDER BY name",
                )
                .fetch_all(p)
                .await?;
                rows.into_iter()
                    .map(|r| {
                        Ok(Lease {
                            name: r.try_get("name")?,
                            holder: r.try_get("holder")?,
                            token: r.try_get("token")?,
                            acquired_at: r.try_get("acquired_at")?,
                            renewed_at: r.try_get("renewed_at")?,
                            expires_at: r.try_get("expires_at")?,
                            live: r.try_get("live")?,
                        })
                    })
                    .collect()
            }
            Pool::Sqlite(p) => {
                let sql = format!(
                    "SELECT name, holder, token, acquired_at, renewed_at, expires_at, \
                     expires_at > {SQLITE_NOW} AS live FROM leases ORDER BY name"
                );
                let rows = sqlx::query(&sql).fetch_all(p).await?;
                let instant = |ms: i64| Utc.timestamp_millis_opt(ms).single().unwrap_or_default();
                rows.into_iter()
                    .map(|r| {
                        Ok(Lease {
                            name: r.try_get("name")?,
                            holder: r.try_get("holder")?,
                            token: r.try_get("token")?,
                            acquired_at: instant(r.try_get("acquired_at")?),
                            renewed_at: instant(r.try_get("renewed_at")?),
                            expires_at: instant(r.try_get("expires_at")?),
                            live: r.try_get("live")?,
                        })
                    })
                    .collect()
            }
        }
    }
}
