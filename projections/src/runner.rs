//! Keeps the catalog caught up with the log. At start it loads the latest snapshot and
//! folds the tail; then a task folds what this process appends straight from the writer,
//! and reads the log for anything else: commits of other processes, announced by the
//! database where it can (a notice on a primary, the replay position on a standby), found
//! by the position gap, or at the latest after a short poll interval. It stores a snapshot
//! of the catalog (every version included) that the next start folds forward from: after `snapshot_every`
//! events, or after a quarter of the log's length if that is more, so the cost of
//! snapshots stays proportional to the events folded however large the catalog grows.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::Duration;

use store::{EventLog, StoreError, StoredEvent};
use tokio::sync::{broadcast, watch};

use crate::Catalog;

const PAGE: u32 = 2000;
const POLL: Duration = Duration::from_millis(250);
/// Events between two snapshots of the catalog.
pub const SNAPSHOT_EVERY: i64 = 10_000;
/// The bytes of JSON the catalog keeps decoded for questions about the past, unless set.
pub const PAST_BUDGET: usize = 256 << 20;

/// A read model kept in memory and caught up by a background task.
#[derive(Clone)]
pub struct Projector {
    state: Arc<RwLock<Catalog>>,
    position: watch::Receiver<i64>,
    past_budget: Arc<AtomicUsize>,
}

impl Projector {
    /// Starts from the latest snapshot, folds the rest of the log, then keeps following it.
    pub async fn start(log: EventLog) -> Result<Projector, StoreError> {
        Self::start_with(log, SNAPSHOT_EVERY).await
    }

    /// As [`Projector::start`], storing a snapshot every `snapshot_every` events.
    pub async fn start_with(log: EventLog, snapshot_every: i64) -> Result<Projector, StoreError> {
        let catalog = load_snapshot(&log, i64::MAX).await?.unwrap_or_default();
        let mut snapshot_at = catalog.position;
        let state = Arc::new(RwLock::new(catalog));
        let position = catch_up(&log, &state).await?;
        let every = snapshot_every.max(1);
        // A long tail folded at start is stored now, from the catalog itself (nothing waits
        // for it yet), so that the next start does not fold it again.
        if due(snapshot_at, every, position) && !log.is_read_only() {
            let folded = state.clone();
            let bytes =
                off_the_runtime(move || folded.read().unwrap_or_else(|poisoned| poisoned.into_inner()).to_snapshot())
                    .await?;
            match bytes {
                Ok(bytes) => match log.save_snapshot(Catalog::SNAPSHOT_MODEL, position, &bytes).await {
                    Ok(()) => snapshot_at = position,
                    Err(e) => tracing::warn!(position, error = %e, "catalog snapshot not stored"),
                },
                Err(e) => tracing::warn!(position, error = %e, "catalog snapshot not serialised"),
            }
        }
        let (tx, rx) = watch::channel(position);
        let snapshots = Snapshots { log: log.clone(), every, last: snapshot_at, writing: None };
        let past_budget = Arc::new(AtomicUsize::new(PAST_BUDGET));
        tokio::spawn(follow(log, state.clone(), tx, snapshots, past_budget.clone()));
        Ok(Projector { state, position: rx, past_budget })
    }

    /// How many bytes of JSON the catalog may keep decoded for questions about the past;
    /// the least recently read beyond it are given back as the log is followed.
    pub fn set_past_budget(&self, bytes: usize) {
        self.past_budget.store(bytes, Ordering::Relaxed);
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
/// (written by other code) is ignored: the fold starts from the beginning instead.
async fn load_snapshot(log: &EventLog, position: i64) -> Result<Option<Catalog>, StoreError> {
    let Some((at, bytes)) = log.snapshot_at_or_before(Catalog::SNAPSHOT_MODEL, position).await? else {
        return Ok(None);
    };
    match tokio::task::spawn_blocking(move || Catalog::from_snapshot(&bytes)).await.ok().flatten() {
        Some(catalog) if catalog.position == at => Ok(Some(catalog)),
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
    /// The snapshot being written: one at a time, so they land (and prune) in order.
    writing: Option<tokio::task::JoinHandle<()>>,
}

impl Snapshots {
    /// Stores one when due, made apart from the live catalog: the previous snapshot is
    /// decoded and the log folded onto it up to `position` in a task of its own, so the
    /// fold that reads and writes wait for never stops for a snapshot (a copy of the live
    /// catalog would hold it for as long as the copy takes). The snapshots before the
    /// previous one are dropped (one is kept in case the newest does not decode).
    fn maybe_save(&mut self, position: i64) {
        if !due(self.last, self.every, position) || self.writing.as_ref().is_some_and(|w| !w.is_finished()) {
            return;
        }
        let previous = std::mem::replace(&mut self.last, position);
        let log = self.log.clone();
        self.writing = Some(tokio::spawn(async move {
            if let Err(e) = store_snapshot(&log, position, previous).await {
                tracing::warn!(position, error = %e, "catalog snapshot not stored");
            }
        }));
    }
}

/// Folds the catalog at `position` from the newest snapshot at or before it and stores it,
/// dropping the snapshots before `previous`.
async fn store_snapshot(log: &EventLog, position: i64, previous: i64) -> Result<(), StoreError> {
    let mut catalog = load_snapshot(log, position).await?.unwrap_or_default();
    while catalog.position < position {
        // Positions are gapless: this page ends at `position` at the latest.
        let limit = u32::try_from(position - catalog.position).unwrap_or(PAGE).min(PAGE);
        let page = log.read_after(catalog.position, limit).await?;
        if page.is_empty() {
            break;
        }
        catalog = off_the_runtime(move || {
            catalog.fold(&page);
            catalog
        })
        .await?;
    }
    if catalog.position != position {
        return Err(StoreError::Corrupt { position, reason: format!("the log ends at {}", catalog.position) });
    }
    let bytes = off_the_runtime(move || catalog.to_snapshot())
        .await?
        .map_err(|e| StoreError::Corrupt { position, reason: format!("the catalog does not serialise: {e}") })?;
    log.save_snapshot(Catalog::SNAPSHOT_MODEL, position, &bytes).await?;
    log.prune_snapshots(Catalog::SNAPSHOT_MODEL, previous).await
}

/// Runs CPU-bound work on the blocking pool.
async fn off_the_runtime<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(work).await.map_err(|_| StoreError::Closed)
}

/// Whether a snapshot is due at `position`, the last one having been taken at `last`.
fn due(last: i64, every: i64, position: i64) -> bool {
    position - last >= every.max(last / 4)
}

async fn follow(
    log: EventLog,
    state: Arc<RwLock<Catalog>>,
    position: watch::Sender<i64>,
    mut snapshots: Snapshots,
    past_budget: Arc<AtomicUsize>,
) {
    let mut appended = log.appended();
    let mut announced = log.announced();
    let mut announcing = log.follow() != store::Follow::Poll;
    let committed = log.committed();
    loop {
        let from_writer = tokio::select! {
            group = appended.recv() => match group {
                Ok(group) => Some(group),
                Err(broadcast::error::RecvError::Lagged(_)) => None,
                Err(broadcast::error::RecvError::Closed) => return,
            },
            changed = announced.changed(), if announcing => {
                let folded = state.read().map(|s| s.position).unwrap_or_default();
                let newest = *announced.borrow_and_update();
                // This process's own commits come from the writer, folded without a read.
                if changed.is_err() {
                    announcing = false;
                    continue;
                } else if newest <= folded || newest <= *committed.borrow() {
                    continue;
                }
                None
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
                snapshots.maybe_save(p);
            }
            Err(e) => {
                tracing::warn!(error = %e, "catching up with the log failed; retrying");
                tokio::time::sleep(POLL).await;
            }
        }
        evict_past(&state, past_budget.load(Ordering::Relaxed));
        if position.is_closed() {
            return;
        }
    }
}

/// Gives back what questions about the past decoded beyond the budget; every pass of the
/// follow loop (at least one per poll interval) is one tick of the chunks' recent use.
fn evict_past(state: &RwLock<Catalog>, budget: usize) {
    crate::versions::tick();
    let decoded = state.read().unwrap_or_else(|poisoned| poisoned.into_inner()).past_decoded_bytes();
    metrics::gauge!("directory_past_decoded_bytes").set(decoded as f64);
    if decoded > budget {
        let freed = state.write().unwrap_or_else(|poisoned| poisoned.into_inner()).evict_past(budget);
        metrics::counter!("directory_past_evicted_bytes_total").increment(freed as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::due;

    #[test]
    fn a_snapshot_is_due_every_n_events_or_a_quarter_of_the_log_if_that_is_more() {
        assert!(!due(0, 10, 0), "nothing folded");
        assert!(!due(0, 10, 9));
        assert!(due(0, 10, 10));
        assert!(due(100, 10, 125), "a quarter of 100 is less than 25");
        assert!(!due(1_000, 10, 1_200), "a quarter of 1,000 is 250");
        assert!(due(1_000, 10, 1_250));
    }
}
