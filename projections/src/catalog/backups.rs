//! What the catalog keeps of each VM's backups, and how much of their past it still holds.
//!
//! Backups are most of a hosting company's log: a nightly backup and its expiry for every
//! VM. Keeping a record of every backup ever taken made memory, snapshots and start-up grow
//! with the log. So a VM's series keeps only the backups that may still matter to the
//! questions asked of the present: those not expired yet, and those that ended (expired,
//! or failed) since the start of the month before the latest recorded one (a day earlier,
//! for time zones ahead of UTC). Older ones are *settled*: they leave memory, and the
//! series remembers only the latest position that settled one, when the last of them
//! ended, and the latest good one among them.
//!
//! A question about backups names the earliest instant it cares about (`since`): billing a
//! period asks from its start, backup health from a week before its "now". Memory answers
//! when the view is at or after the settling position and every settled backup ended by
//! `since`; otherwise the answer is [`InLog`], and the caller folds the VM's own backup log
//! ([`crate::backup_history`]) into the same [`Backups`]. Either way the answer is the same
//! value, which the tests hold.

use std::collections::BTreeMap;

use chrono::{Datelike, Months, NaiveDate};
use serde::{Deserialize, Serialize};

use domain::Instant;
use domain::backup_log::BackupStatus;

/// What the catalog keeps of one backup: the numbers billing and backup health need, and
/// the positions that recorded it and its expiry. Its id, start, tags and error are read
/// from the VM's backup log when asked for ([`crate::backup_history`]).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(from = "BackupRow", into = "BackupRow")]
pub struct BackupRecord {
    pub recorded: i64,
    pub expired_recorded: Option<i64>,
    pub status: BackupStatus,
    pub finished_at: Instant,
    pub size_bytes: Option<i64>,
    /// As it is now (once recorded).
    pub expired_at: Option<Instant>,
}

/// A backup record as snapshots store it: a JSON array without field names, since there
/// are many of them.
type BackupRow = (i64, Option<i64>, BackupStatus, Instant, Option<i64>, Option<Instant>);

impl From<BackupRow> for BackupRecord {
    fn from((recorded, expired_recorded, status, finished_at, size_bytes, expired_at): BackupRow) -> Self {
        BackupRecord { recorded, expired_recorded, status, finished_at, size_bytes, expired_at }
    }
}

impl From<BackupRecord> for BackupRow {
    fn from(r: BackupRecord) -> Self {
        (r.recorded, r.expired_recorded, r.status, r.finished_at, r.size_bytes, r.expired_at)
    }
}

impl BackupRecord {
    /// The record as it was known at `position`: an expiry recorded later is not known yet.
    pub fn at(&self, position: i64) -> BackupRecord {
        match self.expired_recorded {
            Some(p) if p > position => BackupRecord { expired_recorded: None, expired_at: None, ..*self },
            _ => *self,
        }
    }

    /// When the backup stopped being held: a failed one when it finished, a good one when
    /// it expired; none while a good one is kept.
    pub fn ended_at(&self) -> Option<Instant> {
        match self.status {
            BackupStatus::Failed => Some(self.finished_at),
            BackupStatus::Succeeded => self.expired_at,
        }
    }

    fn is_good(&self) -> bool {
        self.status == BackupStatus::Succeeded
    }
}

/// A day before the start (UTC) of the month before the one `recorded_at` falls in:
/// backups that ended before it are settled. Billing runs for the month just ended (which
/// starts up to a day earlier in UTC where its time zone is ahead) and backup health looks
/// back a week, so both are answered from memory.
pub(super) fn settle_before(recorded_at: Instant) -> Instant {
    let first = NaiveDate::from_ymd_opt(recorded_at.year(), recorded_at.month(), 1).expect("the first of a month");
    let before = first.checked_sub_months(Months::new(1)).and_then(|d| d.pred_opt()).unwrap_or(first);
    before.and_hms_opt(0, 0, 0).expect("midnight").and_utc()
}

/// What a series remembers of the backups it no longer keeps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Settled {
    /// The latest position that settled one: views before it may need the settled ones.
    pub through: i64,
    /// When the last of them ended.
    pub ended_by: Option<Instant>,
    /// The finish of the latest good one.
    pub last_good: Option<Instant>,
}

/// One VM's backups still kept, in the order they were recorded, and which of them may
/// still expire.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "Decoded")]
pub struct BackupSeries {
    pub records: Vec<BackupRecord>,
    /// Backup id → the position that recorded it, for good backups not expired yet: only
    /// those can expire, and a retention policy bounds how many there are.
    unexpired: BTreeMap<String, i64>,
    pub settled: Settled,
}

/// A series as decoded from a snapshot, before its records give back their spare room.
#[derive(Deserialize)]
struct Decoded {
    records: Vec<BackupRecord>,
    unexpired: BTreeMap<String, i64>,
    settled: Settled,
}

impl From<Decoded> for BackupSeries {
    /// JSON does not say how long an array is, so the records grew by doubling while they
    /// were decoded; shrinking each series at once lets the next one reuse that room.
    fn from(Decoded { mut records, unexpired, settled }: Decoded) -> Self {
        records.shrink_to_fit();
        BackupSeries { records, unexpired, settled }
    }
}

impl BackupSeries {
    /// A good backup recorded at `position`.
    pub(super) fn succeeded(&mut self, backup_id: &str, position: i64, finished_at: Instant, size_bytes: i64) {
        self.unexpired.insert(backup_id.to_owned(), position);
        self.records.push(BackupRecord {
            recorded: position,
            expired_recorded: None,
            status: BackupStatus::Succeeded,
            finished_at,
            size_bytes: Some(size_bytes),
            expired_at: None,
        });
    }

    /// A failed backup recorded at `position`; settled at once if it ended before `cut`.
    pub(super) fn failed(&mut self, position: i64, finished_at: Instant, cut: Instant) {
        let record = BackupRecord {
            recorded: position,
            expired_recorded: None,
            status: BackupStatus::Failed,
            finished_at,
            size_bytes: None,
            expired_at: None,
        };
        if finished_at < cut {
            self.settled.note(&record, position);
        } else {
            self.records.push(record);
        }
    }

    /// The expiry of a good backup, recorded at `position`; settled at once if it ended
    /// before `cut`. The backup log refuses to expire a backup that failed or already expired.
    pub(super) fn expired(&mut self, backup_id: &str, position: i64, at: Instant, cut: Instant) {
        let Some(recorded) = self.unexpired.remove(backup_id) else { return };
        let Ok(i) = self.records.binary_search_by_key(&recorded, |r| r.recorded) else { return };
        let record = &mut self.records[i];
        record.expired_at = Some(at);
        record.expired_recorded = Some(position);
        if at < cut {
            let record = self.records.remove(i);
            self.settled.note(&record, position);
        }
    }

    /// Settles every kept backup that ended before `cut`, at `position`.
    pub(super) fn settle_ended_before(&mut self, cut: Instant, position: i64) {
        let BackupSeries { records, settled, .. } = self;
        records.retain(|r| match r.ended_at() {
            Some(t) if t < cut => {
                settled.note(r, position);
                false
            }
            _ => true,
        });
    }

    /// The backups as known at `position` that matter from `since` on, or [`InLog`] when
    /// some that were settled might.
    pub fn at(&self, position: i64, since: Instant) -> Result<Backups, InLog> {
        let s = &self.settled;
        if position < s.through || s.ended_by.is_some_and(|t| t > since) {
            return Err(InLog);
        }
        let known = &self.records[..self.records.partition_point(|r| r.recorded <= position)];
        Ok(Backups::of(known.iter().map(|r| r.at(position)), since, s.last_good))
    }
}

impl Settled {
    fn note(&mut self, record: &BackupRecord, position: i64) {
        self.through = self.through.max(position);
        self.ended_by = self.ended_by.max(record.ended_at());
        if record.is_good() {
            self.last_good = self.last_good.max(Some(record.finished_at));
        }
    }
}

/// The answer needs the VM's backup log: the catalog no longer keeps backups that matter
/// to it. Read the log with [`crate::backup_history`] and make [`Backups::of`] from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InLog;

/// A VM's backups as known at a position that matter from an instant on (`since`): those
/// not ended by then, and the finish of the latest good one among the rest.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Backups {
    /// In the order they were recorded.
    pub records: Vec<BackupRecord>,
    /// The finish of the latest good backup that ended by `since`.
    pub earlier_good: Option<Instant>,
}

impl Backups {
    /// From every backup known at a position (in the order recorded), and the finish of
    /// the latest good one among those already left out.
    pub fn of(known: impl IntoIterator<Item = BackupRecord>, since: Instant, earlier_good: Option<Instant>) -> Backups {
        let mut backups = Backups { records: vec![], earlier_good };
        for r in known {
            match r.ended_at() {
                Some(t) if t <= since => {
                    if r.is_good() {
                        backups.earlier_good = backups.earlier_good.max(Some(r.finished_at));
                    }
                }
                _ => backups.records.push(r),
            }
        }
        backups
    }

    /// The finish of the latest good backup finished by `until` (at or after `since`).
    pub fn last_good(&self, until: Instant) -> Option<Instant> {
        let kept = self.records.iter().filter(|r| r.is_good() && r.finished_at <= until).map(|r| r.finished_at).max();
        kept.max(self.earlier_good.filter(|t| *t <= until))
    }
}
