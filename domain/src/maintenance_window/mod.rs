//! MaintenanceWindow: planned work on one project or on the whole platform. A window that
//! was announced at least 24 hours before its start does not count as downtime.

use serde::{Deserialize, Serialize};

use crate::shared::error::{Classify, Invalid, Refusal};
use crate::shared::{Instant, validate};
use crate::{CustomerId, MaintenanceId, ProjectId, aggregate, event_names};

#[cfg(test)]
mod tests;

/// The longest window accepted.
pub const MAX_LENGTH_DAYS: i64 = 31;
/// How far ahead a window must be announced to be excluded from downtime.
pub const NOTICE_HOURS: i64 = 24;

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
    },
    Cancel {
        reason: String,
        at: Instant,
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
    },
    MaintenanceCancelled {
        reason: String,
        at: Instant,
    },
}

event_names!(MaintenanceEvent { MaintenanceScheduled, MaintenanceCancelled });

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
}

impl Classify for MaintenanceError {
    fn refusal(&self) -> Refusal {
        match self {
            Self::Invalid(_) => Refusal::BadInput,
            Self::AlreadyExists => Refusal::Conflict,
            Self::NotFound => Refusal::NotFound,
            Self::ProjectArchived | Self::AlreadyCancelled(_) | Self::AlreadyStarted(_) => Refusal::RuleViolation,
        }
    }
}

pub fn decide(w: &MaintenanceWindow, cmd: MaintenanceCommand) -> Result<Vec<MaintenanceEvent>, MaintenanceError> {
    use MaintenanceCommand as C;
    use MaintenanceEvent as E;
    match cmd {
        C::Schedule { id, project, start, end, announced_at, reason, now } => {
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
    }
}

pub fn evolve(w: &mut MaintenanceWindow, event: &MaintenanceEvent) {
    match event {
        MaintenanceEvent::MaintenanceScheduled { id, project_id, customer_id, start, end, announced_at, reason } => {
            *w = MaintenanceWindow {
                id: Some(*id),
                project_id: *project_id,
                customer_id: *customer_id,
                start: *start,
                end: *end,
                announced_at: *announced_at,
                reason: reason.clone(),
                cancelled_at: None,
            }
        }
        MaintenanceEvent::MaintenanceCancelled { at, .. } => w.cancelled_at = Some(*at),
    }
}

aggregate!(MaintenanceWindow, "maintenance_window", MaintenanceCommand, MaintenanceEvent, MaintenanceError);
