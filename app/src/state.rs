//! What every request shares.

use std::collections::HashMap;
use std::sync::{Arc, RwLockReadGuard};

use domain::http_monitor::Transition;
use domain::invoice::InvoiceContent;
use domain::person::TokenLifetime;
use domain::{CustomerId, Instant, MonitorId, Period, VmId};
use projections::catalog::{Backups, InLog};
use projections::{BackupView, Catalog, Projector};
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
    /// SHA-256 (hex) of `DIRECTORY_METRICS_TOKEN`, if set: it may read `/metrics` (so may staff).
    pub metrics_token_hash: std::sync::OnceLock<String>,
    /// Where `serve` listens: no monitor may check the Directory itself.
    pub listen: std::sync::OnceLock<std::net::SocketAddr>,
    /// How long API tokens live, if the deployment configured it.
    pub token_lifetimes: std::sync::OnceLock<TokenLifetime>,
    /// How many days ahead an effective instant may lie, if the deployment configured it.
    pub effective_horizon_days: std::sync::OnceLock<u32>,
    /// The key node API passwords are derived with (`DIRECTORY_NODE_KEY_FILE`); a random one
    /// for this process when the deployment configured none.
    pub node_key: std::sync::OnceLock<crate::node_credentials::NodeKey>,
    /// The DNS domain of the platform's machines (`DIRECTORY_NODE_DOMAIN`).
    pub node_domain: std::sync::OnceLock<String>,
    /// The work this process does alone among the processes of one database.
    pub leases: Arc<crate::leases::Leases>,
}

/// The platform machines' DNS domain when the deployment configured none.
pub const NODE_DOMAIN: &str = "fcio.net";

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
            leases: crate::leases::Leases::new(log.clone(), crate::leases::DEFAULT_TTL),
            bus: Bus::new(log, projector),
            clock,
            bootstrap_hash: bootstrap_token.filter(|t| !t.is_empty()).map(crate::auth::token_hash),
            metrics_token_hash: std::sync::OnceLock::new(),
            listen: std::sync::OnceLock::new(),
            token_lifetimes: std::sync::OnceLock::new(),
            effective_horizon_days: std::sync::OnceLock::new(),
            node_key: std::sync::OnceLock::new(),
            node_domain: std::sync::OnceLock::new(),
        })
    }

    /// How long API tokens live: as configured, else 90 days by default and 365 at most.
    pub fn token_lifetime(&self) -> TokenLifetime {
        self.token_lifetimes.get().copied().unwrap_or_default()
    }

    /// The effective instant of a change: `at`, or now when absent; BAD_INPUT, naming
    /// `field` and the bound, when it lies beyond the horizon.
    pub fn effective(&self, field: &str, at: Option<Instant>) -> Result<Instant, ApiError> {
        let now = self.now();
        let horizon =
            self.effective_horizon_days.get().copied().unwrap_or(domain::shared::validate::EFFECTIVE_HORIZON_DAYS);
        domain::shared::validate::effective(field, at.unwrap_or(now), now, horizon)
            .map_err(|e| ApiError::BadInput(e.to_string()))
    }

    pub fn node_key(&self) -> &crate::node_credentials::NodeKey {
        self.node_key.get_or_init(crate::node_credentials::NodeKey::random)
    }

    pub fn node_domain(&self) -> &str {
        self.node_domain.get().map_or(NODE_DOMAIN, String::as_str)
    }

    pub fn catalog(&self) -> RwLockReadGuard<'_, Catalog> {
        self.bus.projector.read()
    }

    /// The VM's backups with every detail as they were known at `position`, read from its
    /// log (once per request for the same VM and position).
    pub async fn backups_of(&self, vm: VmId, position: i64, reads: &LogReads) -> Result<Vec<BackupView>, ApiError> {
        let cell = LogReads::cell(&reads.histories, (vm, position));
        let read = cell
            .get_or_try_init(|| async {
                reads.count();
                projections::backup_log::backups_at(&self.bus.log, vm, position)
                    .await
                    .map(Arc::new)
                    .map_err(ApiError::store)
            })
            .await?;
        Ok(read.as_ref().clone())
    }

    /// What the catalog answers for the VM's backups at `position` from `since` on, read
    /// from its log when the catalog no longer keeps them ([`projections::catalog::InLog`]).
    pub async fn backups(
        &self,
        vm: VmId,
        position: i64,
        since: Instant,
        reads: &LogReads,
    ) -> Result<Backups, ApiError> {
        let kept = self.catalog().at(position).backups(vm, since);
        match kept {
            Ok(backups) => Ok(backups),
            Err(InLog) => Ok(self.backups_in_log(&[vm], position, since, reads).await?.remove(&vm).unwrap_or_default()),
        }
    }

    /// What the catalog would answer for each VM's backups at `position` from `since` on,
    /// read from the VMs' logs (a few at a time, each once per request).
    pub async fn backups_in_log(
        &self,
        vms: &[VmId],
        position: i64,
        since: Instant,
        reads: &LogReads,
    ) -> Result<projections::billing::FromLog, ApiError> {
        use futures::{StreamExt, TryStreamExt};
        futures::stream::iter(vms.iter().copied())
            .map(|vm| async move {
                let cell = LogReads::cell(&reads.windows, (vm, position, since));
                let read = cell
                    .get_or_try_init(|| async {
                        reads.count();
                        let mut one = projections::backup_log::backups(&self.bus.log, &[vm], position, since)
                            .await
                            .map_err(ApiError::store)?;
                        Ok::<_, ApiError>(one.remove(&vm).unwrap_or_default())
                    })
                    .await?;
                Ok::<_, ApiError>((vm, read.clone()))
            })
            .buffered(projections::backup_log::LOG_READS)
            .try_collect()
            .await
    }

    /// What the catalog answers for the monitor's transitions at `position` from its state
    /// at `since` on, read from its log when the catalog no longer keeps them.
    pub async fn transitions(
        &self,
        monitor: MonitorId,
        position: i64,
        since: Instant,
        reads: &LogReads,
    ) -> Result<Vec<Transition>, ApiError> {
        let kept = self.catalog().at(position).transitions(&monitor, since);
        match kept {
            Ok(transitions) => Ok(transitions),
            Err(InLog) => {
                let mut read = self.transitions_in_log(&[monitor], position, since, reads).await?;
                Ok(read.remove(&monitor).unwrap_or_default())
            }
        }
    }

    /// What the catalog would answer for each monitor's transitions at `position` from
    /// `since` on, read from the monitors' logs (a few at a time, each once per request).
    pub async fn transitions_in_log(
        &self,
        monitors: &[MonitorId],
        position: i64,
        since: Instant,
        reads: &LogReads,
    ) -> Result<projections::monitor_log::FromLog, ApiError> {
        use futures::{StreamExt, TryStreamExt};
        futures::stream::iter(monitors.iter().copied())
            .map(|monitor| async move {
                let cell = LogReads::cell(&reads.transitions, (monitor, position, since));
                let read = cell
                    .get_or_try_init(|| async {
                        reads.count();
                        let mut one = projections::monitor_log::transitions(&self.bus.log, &[monitor], position, since)
                            .await
                            .map_err(ApiError::store)?;
                        Ok::<_, ApiError>(one.remove(&monitor).unwrap_or_default())
                    })
                    .await?;
                Ok::<_, ApiError>((monitor, read.clone()))
            })
            .buffered(projections::backup_log::LOG_READS)
            .try_collect()
            .await
    }

    /// What the customer owes for the period as of `position` (live when `None`), by the
    /// billing rules; backups the catalog no longer keeps are read from the log.
    pub async fn invoice_content(
        &self,
        position: Option<i64>,
        customer: CustomerId,
        period: Period,
        reads: &LogReads,
    ) -> Result<Option<InvoiceContent>, ApiError> {
        use projections::billing::compute;
        use projections::from_log::{NeedsLog, with_log};
        // Both passes and the read at one position (the live one is the view at the head);
        // the catalog is locked only while computing.
        let position = position.unwrap_or_else(|| self.catalog().live().position());
        let content = with_log(
            |read| compute(self.catalog().at(position), customer, period, read),
            |vms| async move { self.backups_in_log(&vms, position, period.start(), reads).await },
        )
        .await?;
        content.map_err(|NeedsLog(vms)| {
            ApiError::Unavailable(format!("the backups of {} VMs could not be read; try again", vms.len()))
        })
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

/// What one request has read from VMs' backup logs, by VM and log position (and start):
/// what a log holds up to a position never changes, so an alias that asks the same again
/// is answered from here, and aliases resolved at once wait for a single read. Dropped
/// with the request.
#[derive(Default)]
pub struct LogReads {
    histories: Memo<(VmId, i64), Arc<Vec<BackupView>>>,
    windows: Memo<(VmId, i64, Instant), Backups>,
    transitions: Memo<(MonitorId, i64, Instant), Vec<Transition>>,
    reads: std::sync::atomic::AtomicUsize,
}

type Memo<K, V> = std::sync::Mutex<HashMap<K, Arc<tokio::sync::OnceCell<V>>>>;

impl LogReads {
    fn cell<K: std::hash::Hash + Eq, V>(memo: &Memo<K, V>, key: K) -> Arc<tokio::sync::OnceCell<V>> {
        memo.lock().unwrap_or_else(|p| p.into_inner()).entry(key).or_default().clone()
    }

    fn count(&self) {
        self.reads.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// How many VM and monitor logs this request has read.
    pub fn reads(&self) -> usize {
        self.reads.load(std::sync::atomic::Ordering::Relaxed)
    }
}
