//! Keeps the catalog caught up with the log: a full fold at start, then a task that folds
//! what this process appends straight from the writer, and reads the log for anything else
//! (commits of other processes, found by the position gap or at the latest after a short
//! poll interval).

use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::Duration;

use store::{EventLog, StoreError, StoredEvent};
use tokio::sync::{broadcast, watch};

use crate::{Catalog, Recorded};

const PAGE: u32 = 2000;
const POLL: Duration = Duration::from_millis(250);

/// A read model kept in memory and caught up by a background task.
#[derive(Clone)]
pub struct Projector {
    state: Arc<RwLock<Catalog>>,
    position: watch::Receiver<i64>,
}

impl Projector {
    /// Folds the whole log, then keeps following it.
    pub async fn start(log: EventLog) -> Result<Projector, StoreError> {
        let state = Arc::new(RwLock::new(Catalog::default()));
        let position = catch_up(&log, &state).await?;
        let (tx, rx) = watch::channel(position);
        tokio::spawn(follow(log, state.clone(), tx));
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
    let decoded: Vec<Recorded> = events
        .iter()
        .filter_map(|stored| match Recorded::decode(stored) {
            Ok(r) => Some(r),
            Err(e) => {
                // An undecodable event is a bug in an upcaster; skipping it keeps the
                // server answering, and the metric makes it visible.
                tracing::error!(position = stored.position, error = %e, "event not decodable; skipped");
                metrics::counter!("directory_projection_undecodable_total").increment(1);
                None
            }
        })
        .collect();
    let mut catalog = state.write().unwrap_or_else(|poisoned| poisoned.into_inner());
    for r in &decoded {
        catalog.apply(r);
    }
    if let Some(last) = events.last() {
        catalog.position = catalog.position.max(last.position);
    }
    metrics::gauge!("directory_projection_position").set(catalog.position as f64);
    catalog.position
}

async fn follow(log: EventLog, state: Arc<RwLock<Catalog>>, position: watch::Sender<i64>) {
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
