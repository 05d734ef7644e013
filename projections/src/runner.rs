//! Keeps the catalog caught up with the log. At start it loads the latest snapshot and
//! folds the tail; then a task folds what this process appends straight from the writer,
//! and reads the log for anything else (commits of other processes, found by the position
//! gap or at the latest after a short poll interval). Every `snapshot_every` events, and at
//! the first event recorded in a new calendar month, it stores a snapshot, which restarts
//! and "as of" answers fold forward from.

use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::Duration;

use store::{EventLog, StoreError, StoredEvent};
use tokio::sync::{broadcast, watch};

use crate::Catalog;

const PAGE: u32 = 2000;
const POLL: Duration = Duration::from_millis(250);
/// Events between two snapshots of the catalog.
pub const SNAPSHOT_EVERY: i64 = 10_000;

/// A read model kept in memory and caught up by a background task.
#[derive(Clone)]
pub struct Projector {
    state: Arc<RwLock<Catalog>>,
    position: watch::Receiver<i64>,
}

impl Projector {
    /// Starts from the latest snapshot, folds the rest of the log, then keeps following it.
    pub async fn start(log: EventLog) -> Result<Projector, StoreError> {
        Self::start_with(log, SNAPSHOT_EVERY).await
    }

    /// As [`Projector::start`], storing a snapshot every `snapshot_every` events.
    pub async fn start_with(log: EventLog, snapshot_every: i64) -> Result<Projector, StoreError> {
        let catalog = load_snapshot(&log, i64::MAX).await?.unwrap_or_default();
        // Counted from the stored snapshot, so a long tail folded at start is stored soon
        // after, and the next start does not fold it again.
        let (snapshot_at, month) = (catalog.position, catalog.recorded_at.map(month_of));
        let state = Arc::new(RwLock::new(catalog));
        let position = catch_up(&log, &state).await?;
        let (tx, rx) = watch::channel(position);
        let snapshots = Snapshots { log: log.clone(), every: snapshot_every.max(1), last: snapshot_at, month };
        tokio::spawn(follow(log, state.clone(), tx, snapshots));
        Ok(Projector { state, position: rx })
    }

    /// The catalog as folded so far.
    pub fn read(&self) -> RwLockReadGuard<'_, Catalog> {
        self.state.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The last position folded.
    pub fn position(&self) -> i64 {
        *self.position.borrow()
    }

    /// Waits until the catalog has folded `position` (read-your-writes), for at most `limit`.
    pub async fn wait_for(&self, position: i64, limit: Duration) -> bool {
        let mut rx = self.position.clone();
        tokio::time::timeout(limit, rx.wait_for(|p| *p >= position)).await.is_ok_and(|r| r.is_ok())
    }
}

/// The latest stored catalog at or before `position`. A snapshot that does not decode
/// (written by other code) is ignored: the fold starts earlier instead.
pub(crate) async fn load_snapshot(log: &EventLog, position: i64) -> Result<Option<Catalog>, StoreError> {
    let Some((at, bytes)) = log.snapshot_at_or_before(Catalog::SNAPSHOT_MODEL, position).await? else {
        return Ok(None);
    };
    match serde_json::from_slice::<Catalog>(&bytes) {
        Ok(catalog) if catalog.position == at => Ok(Some(catalog)),
        _ => {
            tracing::warn!(position = at, "catalog snapshot not usable; folding from the start");
            Ok(None)
        }
    }
}

async fn catch_up(log: &EventLog, state: &RwLock<Catalog>) -> Result<i64, StoreError> {
    let mut position = state.read().map(|s| s.position).unwrap_or_default();
    loop {
        let page = log.read_after(position, PAGE).await?;
        if page.is_empty() {
            return Ok(position);
        }
        position = fold(state, &page);
    }
}

/// Folds events that follow the catalog's position; answers the new position.
fn fold(state: &RwLock<Catalog>, events: &[StoredEvent]) -> i64 {
    let mut catalog = state.write().unwrap_or_else(|poisoned| poisoned.into_inner());
    catalog.fold(events);
    metrics::gauge!("directory_projection_position").set(catalog.position as f64);
    catalog.position
}

/// When to store the next snapshot.
struct Snapshots {
    log: EventLog,
    every: i64,
    last: i64,
    /// The (year, month) of the last snapshot's recording instant.
    month: Option<(i32, u32)>,
}

fn month_of(at: chrono::DateTime<chrono::Utc>) -> (i32, u32) {
    use chrono::Datelike;
    (at.year(), at.month())
}

impl Snapshots {
    /// Stores one when `every` events were folded since the last, or when the recording
    /// month changed; the copy is serialised and written off the folding task.
    fn maybe_save(&mut self, state: &RwLock<Catalog>) {
        let (position, month) = state.read().map(|s| (s.position, s.recorded_at.map(month_of))).unwrap_or_default();
        if self.month.is_none() {
            self.month = month;
        }
        if !due(self.last, self.month, self.every, position, month) {
            return;
        }
        self.last = position;
        self.month = month;
        let copy = state.read().map(|s| s.clone()).unwrap_or_default();
        let log = self.log.clone();
        tokio::spawn(async move {
            let bytes = match tokio::task::spawn_blocking(move || serde_json::to_vec(&copy)).await {
                Ok(Ok(bytes)) => bytes,
                _ => return,
            };
            if let Err(e) = log.save_snapshot(Catalog::SNAPSHOT_MODEL, position, &bytes).await {
                tracing::warn!(position, error = %e, "catalog snapshot not stored");
            }
        });
    }
}

/// Whether a snapshot is due at `position` (recorded in `month`), the last one having been
/// taken at `last` in `last_month`.
fn due(last: i64, last_month: Option<(i32, u32)>, every: i64, position: i64, month: Option<(i32, u32)>) -> bool {
    position > last && (position - last >= every || (month.is_some() && last_month.is_some() && month != last_month))
}

async fn follow(log: EventLog, state: Arc<RwLock<Catalog>>, position: watch::Sender<i64>, mut snapshots: Snapshots) {
    let mut appended = log.appended();
    loop {
        let from_writer = tokio::select! {
            group = appended.recv() => match group {
                Ok(group) => Some(group),
                Err(broadcast::error::RecvError::Lagged(_)) => None,
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = tokio::time::sleep(POLL) => None,
        };
        let folded = state.read().map(|s| s.position).unwrap_or_default();
        let result = match from_writer {
            // The common path: this process's own commit, right after what was folded.
            Some(group) if group.first().is_some_and(|e| e.position == folded + 1) => Ok(fold(&state, &group)),
            Some(group) if group.last().is_some_and(|e| e.position <= folded) => Ok(folded),
            _ => catch_up(&log, &state).await,
        };
        match result {
            Ok(p) => {
                position.send_if_modified(|old| {
                    let newer = p > *old;
                    *old = (*old).max(p);
                    newer
                });
                snapshots.maybe_save(&state);
            }
            Err(e) => {
                tracing::warn!(error = %e, "catching up with the log failed; retrying");
                tokio::time::sleep(POLL).await;
            }
        }
        if position.is_closed() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::due;

    #[test]
    fn a_snapshot_is_due_every_n_events_and_when_the_month_changes() {
        let (nov, dec) = (Some((2026, 11)), Some((2026, 12)));
        assert!(!due(100, nov, 10, 105, nov));
        assert!(due(100, nov, 10, 110, nov));
        assert!(due(100, nov, 10, 101, dec), "the first event of a new month");
        assert!(!due(100, nov, 10, 100, dec), "nothing new folded");
        assert!(!due(100, None, 10, 105, dec), "no month known yet");
    }
}
