//! Keeps the catalog caught up with the log: a full fold at start, then a task that folds
//! each new page when this process commits (the log's `committed` signal) or, for commits
//! of other processes, at the latest after a short poll interval.

use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::Duration;

use store::{EventLog, StoreError};
use tokio::sync::watch;

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
        let Some(last) = page.last() else { return Ok(position) };
        let last = last.position;
        let decoded: Vec<Recorded> = page
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
        {
            let mut catalog = state.write().unwrap_or_else(|poisoned| poisoned.into_inner());
            for r in &decoded {
                catalog.apply(r);
            }
            catalog.position = catalog.position.max(last);
        }
        position = last;
        metrics::gauge!("directory_projection_position").set(position as f64);
    }
}

async fn follow(log: EventLog, state: Arc<RwLock<Catalog>>, position: watch::Sender<i64>) {
    let mut committed = log.committed();
    loop {
        tokio::select! {
            changed = committed.changed() => if changed.is_err() { return },
            _ = tokio::time::sleep(POLL) => {}
        }
        match catch_up(&log, &state).await {
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
