//! One VM's backups with every detail its backup log recorded, folded from that VM's own
//! events when someone asks for them. The catalog keeps only the few numbers of each
//! backup that billing and backup health need at any position (see
//! [`crate::catalog::BackupRecord`]), and only those that may still matter: backups are
//! most of a hosting company's events, and keeping them all made memory grow with the log.
//! Questions the catalog can no longer answer ([`crate::catalog::InLog`]) are answered
//! from this fold with [`backups`].

use domain::backup_log::{BackupLogEvent, BackupStatus};
use domain::{AnyEvent, Instant, VmId};

use crate::catalog::{BackupRecord, Backups};
use serde::{Deserialize, Serialize};

use crate::Recorded;

/// One backup as reported.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BackupView {
    pub backup_id: String,
    pub vm_id: VmId,
    pub status: BackupStatus,
    pub started_at: Instant,
    pub finished_at: Instant,
    pub size_bytes: Option<i64>,
    pub tags: Vec<String>,
    pub error: Option<String>,
    pub expired_at: Option<Instant>,
    /// The positions that recorded it and its expiry.
    pub recorded: i64,
    pub expired_recorded: Option<i64>,
}

impl BackupView {
    /// What the catalog keeps of it.
    pub fn record(&self) -> BackupRecord {
        BackupRecord {
            recorded: self.recorded,
            expired_recorded: self.expired_recorded,
            status: self.status,
            finished_at: self.finished_at,
            size_bytes: self.size_bytes,
            expired_at: self.expired_at,
        }
    }
}

/// The VM's backups as known at `position` that matter from `since` on: what
/// [`crate::catalog::At::backups`] answers when the catalog still keeps them.
pub fn backups(vm: VmId, events: &[Recorded], position: i64, since: Instant) -> Backups {
    Backups::of(backups_at(vm, events, position).iter().map(BackupView::record), since, None)
}

/// The VM's backups as they were known at `position`, in the order they were recorded.
/// `events` are the VM's events in log order (other streams' events are ignored).
pub fn backups_at(vm: VmId, events: &[Recorded], position: i64) -> Vec<BackupView> {
    let vm_text = vm.to_string();
    let mut backups: Vec<BackupView> = vec![];
    for e in events.iter().take_while(|e| e.position <= position) {
        let AnyEvent::BackupLog(ev) = &e.event else { continue };
        if e.aggregate_id != vm_text {
            continue;
        }
        let view = |backup_id: &String, status, started_at, finished_at| BackupView {
            backup_id: backup_id.clone(),
            vm_id: vm,
            status,
            started_at,
            finished_at,
            size_bytes: None,
            tags: vec![],
            error: None,
            expired_at: None,
            recorded: e.position,
            expired_recorded: None,
        };
        match ev {
            BackupLogEvent::BackupSucceeded { backup_id, started_at, finished_at, size_bytes, tags, .. } => backups
                .push(BackupView {
                    size_bytes: Some(*size_bytes),
                    tags: tags.clone(),
                    ..view(backup_id, BackupStatus::Succeeded, *started_at, *finished_at)
                }),
            BackupLogEvent::BackupFailed { backup_id, started_at, finished_at, error, .. } => {
                backups.push(BackupView {
                    error: Some(error.clone()),
                    ..view(backup_id, BackupStatus::Failed, *started_at, *finished_at)
                })
            }
            BackupLogEvent::BackupExpired { backup_id, at } => {
                // Backups expire in about the order they were taken: search from the newest.
                if let Some(b) = backups.iter_mut().rev().find(|b| b.backup_id == *backup_id) {
                    b.expired_at = Some(*at);
                    b.expired_recorded = Some(e.position);
                }
            }
        }
    }
    backups
}
