//! Fresh stores for tests: a temporary SQLite file, or a new PostgreSQL database that is
//! dropped afterwards. Tests use the real PostgreSQL (`DIRECTORY_TEST_PG`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`), never a mock.

use sqlx::Connection;
use sqlx::postgres::PgConnection;

/// The server tests create their databases on.
pub fn admin_url() -> String {
    std::env::var("DIRECTORY_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A store URL that lives as long as this value.
pub struct TempStore {
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    File(std::path::PathBuf),
    Database(String),
}

impl TempStore {
    /// A new SQLite file in the system's temporary directory.
    pub fn sqlite() -> TempStore {
        let path = std::env::temp_dir().join(format!("directory-test-{}.db", unique()));
        TempStore { url: format!("sqlite://{}", path.display()), cleanup: Cleanup::File(path) }
    }

    /// A new, empty PostgreSQL database.
    pub async fn postgres() -> TempStore {
        let admin = admin_url();
        let name = format!("directory_test_{}", unique());
        let mut conn = PgConnection::connect(&admin).await.expect("PostgreSQL must be running for the tests");
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.expect("create test database");
        let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
        TempStore { url: format!("{base}/{name}"), cleanup: Cleanup::Database(name) }
    }

    /// Either store, by name (`sqlite` or `postgres`).
    pub async fn of_kind(kind: &str) -> TempStore {
        match kind {
            "postgres" => Self::postgres().await,
            _ => Self::sqlite(),
        }
    }

    /// Removes the store. Call at the end of a test; a panicking test leaves it behind.
    pub async fn remove(self) {
        match &self.cleanup {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            Cleanup::Database(name) => {
                if let Ok(mut conn) = PgConnection::connect(&admin_url()).await {
                    let _ =
                        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut conn).await;
                }
            }
        }
    }
}

fn unique() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{}_{}_{}", std::process::id(), nanos % 1_000_000_000_000, COUNTER.fetch_add(1, Ordering::Relaxed))
}
