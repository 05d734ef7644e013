//! MaintenanceWindow: planned work on one project or on the whole platform, or on one VM
//! that asked for it through the node API. A window that was announced at least 24 hours
//! before its start does not count as downtime.

use serde::{Deserialize, Serialize};

use crate::shared::error::{Classify, Invalid, Refusal};
use crate::shared::{Instant, validate};
use crate::{CustomerId, MaintenanceId, ProjectId, VmId, aggregate, event_names};

#[cfg(test)]
mod tests;

/// The longest window accepted.
pub const MAX_LENGTH_DAYS: i64 = 31;
/// How far ahead a window must be announced to be excluded from downtime.
pub const NOTICE_HOURS: i64 = 24;

/// When maintenance a node asks for may run: 22:00 to 06:00 Europe/Berlin (fc-compat.md, *ours*).
pub const NODE_SLOT_START_HOUR: u32 = 22;
pub const NODE_SLOT_HOURS: i64 = 8;

/// The start of the first node slot at least [`NOTICE_HOURS`] after `now`, so that a
/// window requested now counts as announced.
pub fn next_node_slot(now: Instant) -> Instant {
    use chrono::TimeZone;
    let earliest = now + chrono::Duration::hours(NOTICE_HOURS);
    let mut day = earliest.with_timezone(&chrono_tz::Europe::Berlin).date_naive();
    loop {
        let start = day.and_hms_opt(NODE_SLOT_START_HOUR, 0, 0).expect("a valid time");
        // 22:00 exists on every day in Berlin (clocks change at night, at 02:00 and 03:00).
        if let Some(start) = chrono_tz::Europe::Berlin.from_local_datetime(&start).earliest() {
            let start = start.with_timezone(&chrono::Utc);
            if start >= earliest {
                return start;
            }
        }
        day = day.succ_opt().expect("a day after");
    }
}

/// What the caller knows about the window's project.
#[derive(Clone, Debug, PartialEq)]
pub struct ProjectFacts {
    pub id: ProjectId,
    pub customer_id: CustomerId,
    pub archived: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MaintenanceWindow {
    pub id: Option<MaintenanceId>,
    /// None: platform-wide.
    pub project_id: Option<ProjectId>,
    pub customer_id: Option<CustomerId>,
    pub start: Instant,
    pub end: Instant,
    pub announced_at: Instant,
    pub reason: String,
    pub cancelled_at: Option<Instant>,
    /// The VM whose agent asked for it (node API `schedule_maintenance`).
    #[serde(default)]
    pub vm_id: Option<VmId>,
    /// When the work was reported done; `end` is then no later.
    #[serde(default)]
    pub ended_at: Option<Instant>,
}

impl MaintenanceWindow {
    /// Whether the window was announced early enough to be excluded from downtime.
    pub fn announced_in_time(&self) -> bool {
        self.announced_at <= self.start - chrono::Duration::hours(NOTICE_HOURS)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum MaintenanceCommand {
    Schedule {
        id: MaintenanceId,
        project: Option<ProjectFacts>,
        start: Instant,
        end: Instant,
        announced_at: Instant,
        reason: String,
        /// The recording instant: an announcement cannot lie in the future.
        now: Instant,
        vm_id: Option<VmId>,
    },
    Cancel {
        reason: String,
        at: Instant,
    },
    /// Moves the window later by `seconds`.
    Postpone {
        seconds: i64,
    },
    /// The work ended at `at` (a window whose work never began is cancelled).
    End {
        at: Instant,
        reason: String,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum MaintenanceEvent {
    MaintenanceScheduled {
        id: MaintenanceId,
        project_id: Option<ProjectId>,
        customer_id: Option<CustomerId>,
        start: Instant,
        end: Instant,
        announced_at: Instant,
        reason: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        vm_id: Option<VmId>,
    },
    MaintenanceCancelled {
        reason: String,
        at: Instant,
    },
    MaintenancePostponed {
        start: Instant,
        end: Instant,
    },
    MaintenanceEnded {
        at: Instant,
    },
}

event_names!(MaintenanceEvent { MaintenanceScheduled, MaintenanceCancelled, MaintenancePostponed, MaintenanceEnded });

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum MaintenanceError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("the maintenance window already exists")]
    AlreadyExists,
    #[error("the maintenance window does not exist")]
    NotFound,
    #[error("the project is archived")]
    ProjectArchived,
    #[error("the window was already cancelled at {0}")]
    AlreadyCancelled(Instant),
    #[error("the window started at {0}; a window that has begun cannot be cancelled")]
    AlreadyStarted(Instant),
    #[error("the window already ended at {0}")]
    AlreadyEnded(Instant),
}

impl Classify for MaintenanceError {
    fn refusal(&self) -> Refusal {
        match self {
            Self::Invalid(_) => Refusal::BadInput,
            Self::AlreadyExists => Refusal::Conflict,
            Self::NotFound => Refusal::NotFound,
            Self::ProjectArchived | Self::AlreadyCancelled(_) | Self::AlreadyStarted(_) | Self::AlreadyEnded(_) => {
                Refusal::RuleViolation
            }
        }
    }
}

pub fn decide(w: &MaintenanceWindow, cmd: MaintenanceCommand) -> Result<Vec<MaintenanceEvent>, MaintenanceError> {
    use MaintenanceCommand as C;
    use MaintenanceEvent as E;
    match cmd {
        C::Schedule { id, project, start, end, announced_at, reason, now, vm_id } => {
            if w.id.is_some() {
                return Err(MaintenanceError::AlreadyExists);
            }
            let reason = validate::text("reason", &reason)?;
            if end <= start {
                return Err(Invalid::new("end", "must be after start").into());
            }
            if end - start > chrono::Duration::days(MAX_LENGTH_DAYS) {
                return Err(Invalid::new("end", format!("a window lasts at most {MAX_LENGTH_DAYS} days")).into());
            }
            if announced_at > now {
                return Err(Invalid::new("announcedAt", "must not be in the future").into());
            }
            if project.as_ref().is_some_and(|p| p.archived) {
                return Err(MaintenanceError::ProjectArchived);
            }
            Ok(vec![E::MaintenanceScheduled {
                id,
                project_id: project.as_ref().map(|p| p.id),
                customer_id: project.as_ref().map(|p| p.customer_id),
                start,
                end,
                announced_at,
                reason,
                vm_id,
            }])
        }
        C::Cancel { reason, at } => {
            if w.id.is_none() {
                return Err(MaintenanceError::NotFound);
            }
            let reason = validate::text("reason", &reason)?;
            if let Some(c) = w.cancelled_at {
                return Err(MaintenanceError::AlreadyCancelled(c));
            }
            if at >= w.start {
                return Err(MaintenanceError::AlreadyStarted(w.start));
            }
            Ok(vec![E::MaintenanceCancelled { reason, at }])
        }
        C::Postpone { seconds } => {
            w.open()?;
            let by = validate::within("postpone_by", seconds, 1, MAX_LENGTH_DAYS * 86_400, " seconds")?;
            let by = chrono::Duration::seconds(i64::from(by));
            Ok(vec![E::MaintenancePostponed { start: w.start + by, end: w.end + by }])
        }
        C::End { at, reason } => {
            if w.id.is_none() {
                return Err(MaintenanceError::NotFound);
            }
            // Reported again (the agents retry): nothing more to record.
            if w.cancelled_at.is_some() || w.ended_at.is_some() {
                return Ok(vec![]);
            }
            Ok(vec![match at < w.start {
                true => E::MaintenanceCancelled { reason: validate::text("reason", &reason)?, at },
                false => E::MaintenanceEnded { at },
            }])
        }
    }
}

impl MaintenanceWindow {
    /// A window still to come or under way: neither cancelled nor ended.
    fn open(&self) -> Result<(), MaintenanceError> {
        match (self.id, self.cancelled_at, self.ended_at) {
            (None, _, _) => Err(MaintenanceError::NotFound),
            (_, Some(at), _) => Err(MaintenanceError::AlreadyCancelled(at)),
            (_, _, Some(at)) => Err(MaintenanceError::AlreadyEnded(at)),
            _ => Ok(()),
        }
    }
}

pub fn evolve(w: &mut MaintenanceWindow, event: &MaintenanceEvent) {
    match event {
        MaintenanceEvent::MaintenanceScheduled {
            id,
            project_id,
            customer_id,
            start,
            end,
            announced_at,
            reason,
            vm_id,
        } => {
            *w = MaintenanceWindow {
                id: Some(*id),
                project_id: *project_id,
                customer_id: *customer_id,
                start: *start,
                end: *end,
                announced_at: *announced_at,
                reason: reason.clone(),
                cancelled_at: None,
                vm_id: *vm_id,
                ended_at: None,
            }
        }
        MaintenanceEvent::MaintenanceCancelled { at, .. } => w.cancelled_at = Some(*at),
        MaintenanceEvent::MaintenancePostponed { start, end } => (w.start, w.end) = (*start, *end),
        MaintenanceEvent::MaintenanceEnded { at } => {
            w.ended_at = Some(*at);
            w.end = w.end.min(*at);
        }
    }
}

aggregate!(MaintenanceWindow, "maintenance_window", MaintenanceCommand, MaintenanceEvent, MaintenanceError);
