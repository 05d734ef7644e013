//! Keeps the log writable: every append takes the one `log_head` row lock, so a session
//! of any client that takes that lock and then sits idle in its transaction stops every
//! writer of every server. Once such a session has been idle for the limit, it is ended
//! (its transaction rolls back) and the waiting appends go on.

use std::sync::Arc;
use std::time::Duration;

use crate::state::AppState;

/// How long another session may sit idle holding the log head when the deployment
/// configured nothing.
pub const DEFAULT_LIMIT: Duration = Duration::from_secs(10);

/// How often the lock is looked at.
const EVERY: Duration = Duration::from_millis(500);

/// Looks for such a session every half second, for as long as the process runs.
pub fn spawn(app: Arc<AppState>, limit: Duration) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(EVERY).await;
            match app.bus.log.end_idle_head_holder(limit).await {
                Ok(Some(pid)) => tracing::warn!(
                    pid,
                    limit_seconds = limit.as_secs_f64(),
                    "ended a database session that held the log head idle in its transaction"
                ),
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "could not end a session holding the log head"),
            }
        }
    });
}
