//! A VM's backup log read from the store, for the questions the catalog no longer answers
//! from memory ([`crate::catalog::InLog`]): backups that ended long ago are settled. The
//! live read path (through the application's per-request memo) and the audit both read
//! through here, folding with the same [`backup_history`] as the catalog.

use crate::billing::FromLog;
use crate::{BackupView, Recorded, backup_history};
use domain::VmId;
use domain::backup_log::BackupLog;
use store::{EventLog, StoreError};

/// The VM's backups with every detail, as they were known at `position`, in the order
/// they were recorded.
pub async fn backups_at(log: &EventLog, vm: VmId, position: i64) -> Result<Vec<BackupView>, StoreError> {
    Ok(backup_history::backups_at(vm, &events_at(log, vm, position).await?, position))
}

/// What [`projections::catalog::At::backups`] would answer for each VM at `position` from
/// `since` on, read from the VMs' logs.
pub async fn backups(
    log: &EventLog,
    vms: &[VmId],
    position: i64,
    since: domain::Instant,
) -> Result<FromLog, StoreError> {
    use futures::{StreamExt, TryStreamExt};
    futures::stream::iter(vms.iter().copied())
        .map(|vm| async move {
            let events = events_at(log, vm, position).await?;
            Ok::<_, StoreError>((vm, backup_history::backups(vm, &events, position, since)))
        })
        .buffered(LOG_READS)
        .try_collect()
        .await
}

/// VMs' logs read at once.
pub const LOG_READS: usize = 8;

/// The VM's backup log up to `position`: its own events read by id (an index range).
async fn events_at(log: &EventLog, vm: VmId, position: i64) -> Result<Vec<Recorded>, StoreError> {
    crate::own_events::read(log, <BackupLog as cqrs_es::Aggregate>::TYPE, &vm.to_string(), position).await
}
