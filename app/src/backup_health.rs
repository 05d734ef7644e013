//! Backup health of VMs at an instant: the last good backup, the failed backups of the week
//! before, and whether the backups are stale. The catalog answers for most VMs; those whose
//! backups it no longer keeps (an instant before its settling) are read from their logs.

use domain::backup_log::BackupStatus;
use domain::vm::Vm;
use domain::{Instant, VmId};
use projections::At;
use projections::catalog::{Backups, InLog};

use crate::error::ApiError;
use crate::state::{AppState, LogReads};

/// One VM's backup health as of a log position.
pub struct Health {
    pub vm_id: VmId,
    pub vm: Vm,
    pub position: i64,
    pub last_good: Option<Instant>,
    pub failures_last_week: usize,
    pub stale: bool,
}

/// What the view knows of the VM's backup health at `now`, or [`InLog`] when its backups
/// must be read from the log ([`resolve`] does).
pub fn known(at: At<'_>, id: VmId, vm: &Vm, now: Instant, hours: i32) -> Result<Health, InLog> {
    let backups = at.backups(id, week_before(now))?;
    Ok(of(id, vm.clone(), at.position(), &backups, now, hours))
}

/// The health of each VM `known` left pending, reading the backups of those in the log
/// (once per request, a few VMs at a time).
pub async fn resolve(
    app: &AppState,
    reads: &LogReads,
    position: i64,
    now: Instant,
    hours: i32,
    pending: Vec<(VmId, Vm, Result<Health, InLog>)>,
) -> Result<Vec<Health>, ApiError> {
    let in_log: Vec<VmId> = pending.iter().filter(|(_, _, known)| known.is_err()).map(|(id, _, _)| *id).collect();
    let read = app.backups_in_log(&in_log, position, week_before(now), reads).await?;
    let none = Backups::default();
    let resolve = |(id, vm, known): (VmId, Vm, Result<Health, InLog>)| {
        known.unwrap_or_else(|InLog| of(id, vm, position, read.get(&id).unwrap_or(&none), now, hours))
    };
    Ok(pending.into_iter().map(resolve).collect())
}

/// A week before `now`; the earliest instant for one at the edge of the calendar.
fn week_before(now: Instant) -> Instant {
    now.checked_sub_signed(chrono::Duration::days(7)).unwrap_or(Instant::MIN_UTC)
}

fn of(id: VmId, vm: Vm, position: i64, backups: &Backups, now: Instant, hours: i32) -> Health {
    let last_good = backups.last_good(now);
    let week = week_before(now);
    let failures_last_week = backups
        .records
        .iter()
        .filter(|b| b.status == BackupStatus::Failed && b.finished_at > week && b.finished_at <= now)
        .count();
    let stale = domain::backup_log::is_stale(last_good, now, hours);
    Health { vm_id: id, vm, position, last_good, failures_last_week, stale }
}
