//! BackupLog: the backups of one VM (its stream shares the VM's id).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::shared::error::{Classify, Invalid, Refusal};
use crate::shared::{Instant, validate};
use crate::{VmId, aggregate, event_names};

#[cfg(test)]
mod tests;

/// At most this many retention tags per backup.
pub const MAX_TAGS: usize = 20;
/// Hours without a good backup after which a VM's backups are stale: a nightly backup
/// may run a couple of hours late before anyone is told.
pub const STALE_AFTER_HOURS: i32 = 26;

/// Whether backups whose latest good one finished at `last_good` are stale at `now`,
/// `hours` after it (none at all is stale).
pub fn is_stale(last_good: Option<Instant>, now: Instant, hours: i32) -> bool {
    last_good
        .is_none_or(|t| now.checked_sub_signed(chrono::Duration::hours(hours.into())).is_some_and(|limit| t < limit))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackupStatus {
    Succeeded,
    Failed,
}

/// What the caller knows about the VM the backup belongs to.
#[derive(Clone, Debug, PartialEq)]
pub struct VmFacts {
    pub id: VmId,
    pub provisioned_at: Instant,
    pub decommissioned_at: Option<Instant>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Backup {
    pub status: BackupStatus,
    pub started_at: Instant,
    pub finished_at: Instant,
    pub size_bytes: Option<i64>,
    pub expired_at: Option<Instant>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BackupLog {
    pub vm_id: Option<VmId>,
    pub backups: BTreeMap<String, Backup>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum BackupLogCommand {
    Record {
        vm: VmFacts,
        backup_id: String,
        status: BackupStatus,
        started_at: Instant,
        finished_at: Instant,
        size_bytes: Option<i64>,
        tags: Vec<String>,
        error: Option<String>,
    },
    Expire {
        backup_id: String,
        at: Instant,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum BackupLogEvent {
    BackupSucceeded {
        vm_id: VmId,
        backup_id: String,
        started_at: Instant,
        finished_at: Instant,
        size_bytes: i64,
        tags: Vec<String>,
    },
    BackupFailed {
        vm_id: VmId,
        backup_id: String,
        started_at: Instant,
        finished_at: Instant,
        error: String,
    },
    BackupExpired {
        backup_id: String,
        at: Instant,
    },
}

event_names!(BackupLogEvent { BackupSucceeded, BackupFailed, BackupExpired });

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum BackupLogError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("backup {0:?} is already recorded for this VM")]
    AlreadyRecorded(String),
    #[error("backup {0:?} does not exist for this VM")]
    NotFound(String),
    #[error("backup {0:?} failed; only successful backups expire")]
    NotSucceeded(String),
    #[error("backup {0:?} already expired")]
    AlreadyExpired(String),
    #[error("the backup started at {started}, outside the VM's lifetime")]
    OutsideVmLifetime { started: Instant },
    #[error("expiry at {at} is before the backup finished ({finished})")]
    ExpiryBeforeFinish { at: Instant, finished: Instant },
}

impl Classify for BackupLogError {
    fn refusal(&self) -> Refusal {
        match self {
            Self::Invalid(_) => Refusal::BadInput,
            Self::AlreadyRecorded(_) => Refusal::Conflict,
            Self::NotFound(_) => Refusal::NotFound,
            Self::NotSucceeded(_)
            | Self::AlreadyExpired(_)
            | Self::OutsideVmLifetime { .. }
            | Self::ExpiryBeforeFinish { .. } => Refusal::RuleViolation,
        }
    }
}

/// A backup id or tag: 1–200 printable characters without spaces.
fn token(field: &str, value: &str) -> Result<String, Invalid> {
    let v = validate::name(field, value)?;
    if v.chars().any(char::is_whitespace) {
        return Err(Invalid::new(field, "must not contain spaces"));
    }
    Ok(v)
}

pub fn decide(log: &BackupLog, cmd: BackupLogCommand) -> Result<Vec<BackupLogEvent>, BackupLogError> {
    use BackupLogCommand as C;
    use BackupLogEvent as E;
    match cmd {
        C::Record { vm, backup_id, status, started_at, finished_at, size_bytes, tags, error } => {
            let backup_id = token("backupId", &backup_id)?;
            if finished_at < started_at {
                return Err(Invalid::new("finishedAt", "must not be before startedAt").into());
            }
            if tags.len() > MAX_TAGS {
                return Err(Invalid::new("tags", format!("at most {MAX_TAGS} tags")).into());
            }
            let mut tags = tags.iter().map(|t| token("tags", t)).collect::<Result<Vec<_>, _>>()?;
            tags.sort();
            tags.dedup();
            if log.backups.contains_key(&backup_id) {
                return Err(BackupLogError::AlreadyRecorded(backup_id));
            }
            if started_at < vm.provisioned_at || vm.decommissioned_at.is_some_and(|d| started_at >= d) {
                return Err(BackupLogError::OutsideVmLifetime { started: started_at });
            }
            match status {
                BackupStatus::Succeeded => {
                    let size_bytes = match size_bytes {
                        Some(n) if n >= 0 => n,
                        Some(_) => {
                            return Err(Invalid::new("sizeBytes", "must not be negative").into());
                        }
                        None => {
                            return Err(Invalid::new("sizeBytes", "is required for a successful backup").into());
                        }
                    };
                    if error.is_some() {
                        return Err(Invalid::new("error", "only a failed backup has an error").into());
                    }
                    Ok(vec![E::BackupSucceeded { vm_id: vm.id, backup_id, started_at, finished_at, size_bytes, tags }])
                }
                BackupStatus::Failed => {
                    let error = validate::text("error", error.as_deref().unwrap_or_default())
                        .map_err(|_| Invalid::new("error", "a failed backup needs an error text"))?;
                    Ok(vec![E::BackupFailed { vm_id: vm.id, backup_id, started_at, finished_at, error }])
                }
            }
        }
        C::Expire { backup_id, at } => {
            let backup = log.backups.get(&backup_id).ok_or_else(|| BackupLogError::NotFound(backup_id.clone()))?;
            if backup.status != BackupStatus::Succeeded {
                return Err(BackupLogError::NotSucceeded(backup_id));
            }
            if backup.expired_at.is_some() {
                return Err(BackupLogError::AlreadyExpired(backup_id));
            }
            if at < backup.finished_at {
                return Err(BackupLogError::ExpiryBeforeFinish { at, finished: backup.finished_at });
            }
            Ok(vec![E::BackupExpired { backup_id, at }])
        }
    }
}

pub fn evolve(log: &mut BackupLog, event: &BackupLogEvent) {
    use BackupLogEvent as E;
    match event {
        E::BackupSucceeded { vm_id, backup_id, started_at, finished_at, size_bytes, .. } => {
            log.vm_id = Some(*vm_id);
            log.backups.insert(
                backup_id.clone(),
                Backup {
                    status: BackupStatus::Succeeded,
                    started_at: *started_at,
                    finished_at: *finished_at,
                    size_bytes: Some(*size_bytes),
                    expired_at: None,
                },
            );
        }
        E::BackupFailed { vm_id, backup_id, started_at, finished_at, .. } => {
            log.vm_id = Some(*vm_id);
            log.backups.insert(
                backup_id.clone(),
                Backup {
                    status: BackupStatus::Failed,
                    started_at: *started_at,
                    finished_at: *finished_at,
                    size_bytes: None,
                    expired_at: None,
                },
            );
        }
        E::BackupExpired { backup_id, at } => {
            if let Some(b) = log.backups.get_mut(backup_id) {
                b.expired_at = Some(*at);
            }
        }
    }
}

aggregate!(BackupLog, "backup_log", BackupLogCommand, BackupLogEvent, BackupLogError);
