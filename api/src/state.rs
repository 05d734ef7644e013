//! What every request shares.

use std::sync::{Arc, RwLockReadGuard};

use cqrs_es::Aggregate;
use domain::backup_log::BackupLog;
use domain::{Instant, VmId};
use projections::{BackupView, Catalog, Projector, Recorded};
use store::EventLog;

use crate::clock::Clock;
use crate::commands::Bus;
use crate::error::ApiError;

/// How long an "as of" answer waits for the catalog to fold what the instant includes.
const CATCH_UP: std::time::Duration = std::time::Duration::from_secs(10);

pub struct AppState {
    pub bus: Bus,
    pub clock: Arc<dyn Clock>,
    /// SHA-256 (hex) of `DIRECTORY_BOOTSTRAP_TOKEN`, if set.
    pub bootstrap_hash: Option<String>,
    /// Where `serve` listens: no monitor may check the Directory itself.
    pub listen: std::sync::OnceLock<std::net::SocketAddr>,
}

impl AppState {
    pub async fn start(
        log: EventLog,
        clock: Arc<dyn Clock>,
        bootstrap_token: Option<&str>,
    ) -> Result<AppState, store::StoreError> {
        Self::start_with(log, clock, bootstrap_token, projections::SNAPSHOT_EVERY).await
    }

    /// As [`AppState::start`], storing a read-model snapshot every `snapshot_every` events
    /// (or a quarter of the log, if that is more).
    pub async fn start_with(
        log: EventLog,
        clock: Arc<dyn Clock>,
        bootstrap_token: Option<&str>,
        snapshot_every: i64,
    ) -> Result<AppState, store::StoreError> {
        // A read-only server stores no snapshots: the primary's serve its restarts too.
        let snapshot_every = if log.is_read_only() { i64::MAX } else { snapshot_every };
        let projector = Projector::start_with(log.clone(), snapshot_every).await?;
        Ok(AppState {
            bus: Bus::new(log, projector),
            clock,
            bootstrap_hash: bootstrap_token.filter(|t| !t.is_empty()).map(crate::auth::token_hash),
            listen: std::sync::OnceLock::new(),
        })
    }

    pub fn catalog(&self) -> RwLockReadGuard<'_, Catalog> {
        self.bus.projector.read()
    }

    /// The VM's backups as known at `position`, every detail included, read from the VM's
    /// own events (an index range, not the whole log): the catalog keeps only their numbers.
    pub async fn backups_of(&self, vm: VmId, position: i64) -> Result<Vec<BackupView>, ApiError> {
        const PAGE: u32 = 1_000;
        let id = vm.to_string();
        let (mut events, mut after) = (vec![], 0);
        loop {
            let page = self.bus.log.history(&id, after, PAGE).await.map_err(ApiError::store)?;
            for stored in page.iter().take_while(|e| e.position <= position) {
                if stored.aggregate_type != BackupLog::TYPE {
                    continue;
                }
                match Recorded::decode(stored) {
                    Ok(r) => events.push(r),
                    // As the catalog does: skipped, and logged there already.
                    Err(_) => continue,
                }
            }
            match page.last() {
                Some(last) if page.len() == PAGE as usize && last.position < position => after = last.position,
                _ => break,
            }
        }
        Ok(projections::backup_history::backups_at(vm, &events, position))
    }

    /// The log position of what was recorded up to `at`, once the catalog has folded it.
    pub async fn position_at(&self, at: Instant) -> Result<i64, ApiError> {
        let position = self.bus.log.position_at(at).await.map_err(ApiError::store)?;
        if !self.bus.projector.wait_for(position, CATCH_UP).await {
            return Err(ApiError::Unavailable("the read model is still catching up with the log; try again".into()));
        }
        Ok(position)
    }

    pub fn now(&self) -> Instant {
        self.clock.now()
    }
}
