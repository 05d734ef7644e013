//! HttpMonitor: an HTTP check of one project's endpoint, its configuration, and the
//! transitions between up and down that the checker observed or another monitoring
//! system reported. Transitions are kept in effective order, so an imported history
//! that arrives late still lands in the right place for the SLA.

use serde::{Deserialize, Serialize};

use crate::shared::error::{Classify, Invalid, Refusal};
use crate::shared::{Instant, validate};
use crate::{CustomerId, MonitorId, ProjectId, aggregate, event_names};

mod expected;
#[cfg(test)]
mod tests;

pub use expected::ExpectedStatus;

/// The longest URL a monitor accepts.
pub const MAX_URL: usize = 2048;
/// The most redirects a monitor may follow.
pub const MAX_REDIRECTS: i64 = 20;
/// The most monitors a project may have (deleted ones aside): the checker shares its
/// slots fairly, but every monitor still costs a check per interval.
pub const MAX_PER_PROJECT: usize = 100;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MonitorState {
    Unknown,
    Up,
    Down,
    Paused,
}

/// A result that changes a monitor's state: only up and down are observed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Observed {
    Up,
    Down,
}

/// Who checks a monitor: the Directory's own checker, or an external one that reports its
/// results over the node API. One of them, so results never count twice.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Checker {
    #[default]
    Directory,
    External,
}

/// One redirect followed: the status that redirected and where to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hop {
    pub status: u16,
    pub location: String,
}

/// A validated configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonitorConfig {
    pub url: String,
    pub follow_redirects: bool,
    pub max_redirects: u32,
    pub expected_status: ExpectedStatus,
    pub interval_seconds: u32,
    pub timeout_seconds: u32,
}

/// A configuration as a person wrote it.
#[derive(Clone, Debug, PartialEq)]
pub struct MonitorSpec {
    pub url: String,
    pub follow_redirects: bool,
    pub max_redirects: i64,
    pub expected_status: String,
    pub interval_seconds: i64,
    pub timeout_seconds: i64,
}

/// Changes to a configuration; what is absent stays.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MonitorChanges {
    pub url: Option<String>,
    pub follow_redirects: Option<bool>,
    pub max_redirects: Option<i64>,
    pub expected_status: Option<String>,
    pub interval_seconds: Option<i64>,
    pub timeout_seconds: Option<i64>,
    /// Who checks it from now on (staff's choice).
    pub checked_by: Option<Checker>,
    pub paused: Option<bool>,
    /// When the pause or resume takes effect (a correction of the past); the command's
    /// instant when absent. A new configuration always takes effect when it is recorded:
    /// the checks before it ran with the old one.
    pub paused_from: Option<Instant>,
}

/// An http(s) URL with a host and without credentials (they would be stored in the log).
fn monitor_url(value: &str) -> Result<String, Invalid> {
    let value = value.trim();
    if value.len() > MAX_URL {
        return Err(Invalid::new("url", format!("at most {MAX_URL} characters")));
    }
    let url = url::Url::parse(value).map_err(|e| Invalid::new("url", format!("not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Invalid::new("url", format!("must be http or https, not {}", url.scheme())));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Invalid::new("url", "needs a host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Invalid::new("url", "must not contain credentials"));
    }
    Ok(url.to_string())
}

impl MonitorSpec {
    pub fn validate(self) -> Result<MonitorConfig, Invalid> {
        Ok(MonitorConfig {
            url: monitor_url(&self.url)?,
            follow_redirects: self.follow_redirects,
            max_redirects: validate::within("maxRedirects", self.max_redirects, 0, MAX_REDIRECTS, "")?,
            expected_status: self.expected_status.parse().map_err(|m| Invalid::new("expectedStatus", m))?,
            interval_seconds: validate::within("intervalSeconds", self.interval_seconds, 5, 86_400, " seconds")?,
            timeout_seconds: validate::within("timeoutSeconds", self.timeout_seconds, 1, 60, " seconds")?,
        })
    }
}

impl MonitorConfig {
    fn spec(&self) -> MonitorSpec {
        MonitorSpec {
            url: self.url.clone(),
            follow_redirects: self.follow_redirects,
            max_redirects: self.max_redirects.into(),
            expected_status: self.expected_status.to_string(),
            interval_seconds: self.interval_seconds.into(),
            timeout_seconds: self.timeout_seconds.into(),
        }
    }
}

/// One observed (or reported) change of state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    pub at: Instant,
    pub state: Observed,
    pub observed_status: Option<u16>,
    pub redirect_chain: Vec<Hop>,
    pub error: Option<String>,
}

/// What the caller knows about the monitor's project.
#[derive(Clone, Debug, PartialEq)]
pub struct ProjectFacts {
    pub id: ProjectId,
    pub customer_id: CustomerId,
    pub archived: bool,
    /// Its monitors that are not deleted.
    pub monitors: usize,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HttpMonitor {
    pub id: Option<MonitorId>,
    pub project_id: Option<ProjectId>,
    pub customer_id: Option<CustomerId>,
    pub config: Option<MonitorConfig>,
    pub created_at: Option<Instant>,
    pub paused: bool,
    pub deleted_at: Option<Instant>,
    /// Who checks it.
    #[serde(default)]
    pub checked_by: Checker,
    /// When it was created, paused, resumed and deleted: (instant, checked from then on).
    pub activity: Vec<(Instant, bool)>,
    /// Every transition, in effective order.
    pub transitions: Vec<Transition>,
}

impl HttpMonitor {
    /// The state now: paused, or the latest transition since it was last (re)activated,
    /// or unknown until its first result.
    pub fn state(&self) -> MonitorState {
        self.state_after(self.transitions.last())
    }

    /// The state now, given its latest transition (for a monitor whose transitions are
    /// kept apart from it).
    pub fn state_after(&self, last: Option<&Transition>) -> MonitorState {
        if self.paused {
            return MonitorState::Paused;
        }
        let since = self.activity.last().map(|(at, _)| *at);
        match last {
            Some(t) if since.is_none_or(|s| t.at >= s) => match t.state {
                Observed::Up => MonitorState::Up,
                Observed::Down => MonitorState::Down,
            },
            _ => MonitorState::Unknown,
        }
    }

    /// The state the transitions put it in at `at` (ignoring pauses), if any.
    pub fn observed_at(&self, at: Instant) -> Option<Observed> {
        let n = self.transitions.partition_point(|t| t.at <= at);
        n.checked_sub(1).map(|i| self.transitions[i].state)
    }

    /// Whether it was being checked at `at`: created, not paused, not deleted.
    pub fn active_at(&self, at: Instant) -> bool {
        let n = self.activity.partition_point(|(t, _)| *t <= at);
        n.checked_sub(1).is_some_and(|i| self.activity[i].1)
    }

    fn live(&self) -> Result<&MonitorConfig, MonitorError> {
        match (&self.config, self.deleted_at) {
            (None, _) => Err(MonitorError::NotFound),
            (Some(_), Some(at)) => Err(MonitorError::Deleted(at)),
            (Some(c), None) => Ok(c),
        }
    }

    /// A change effective at `at` falls inside its life: on or after its creation, before
    /// its deletion, whatever was recorded since.
    fn alive_at(&self, at: Instant) -> Result<(), MonitorError> {
        let since = self.created_at.ok_or(MonitorError::NotFound)?;
        if at < since {
            return Err(MonitorError::BeforeCreation { at, since });
        }
        match self.deleted_at {
            Some(deleted) if at >= deleted => Err(MonitorError::Deleted(deleted)),
            _ => Ok(()),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum MonitorCommand {
    Create {
        id: MonitorId,
        project: ProjectFacts,
        spec: MonitorSpec,
        checked_by: Checker,
        effective_at: Instant,
    },
    Reconfigure {
        changes: MonitorChanges,
        at: Instant,
    },
    Delete {
        at: Instant,
    },
    RecordTransition {
        state: Observed,
        at: Instant,
        observed_status: Option<i64>,
        redirect_chain: Vec<Hop>,
        error: Option<String>,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum HttpMonitorEvent {
    HttpMonitorCreated {
        id: MonitorId,
        project_id: ProjectId,
        customer_id: CustomerId,
        config: MonitorConfig,
        effective_at: Instant,
        /// Absent in monitors created before an external checker could own one.
        #[serde(default)]
        checked_by: Checker,
    },
    HttpMonitorReconfigured {
        config: MonitorConfig,
        at: Instant,
    },
    HttpMonitorPaused {
        at: Instant,
    },
    HttpMonitorResumed {
        at: Instant,
    },
    HttpMonitorDeleted {
        at: Instant,
    },
    MonitorCheckerChanged {
        checked_by: Checker,
    },
    MonitorWentDown {
        at: Instant,
        observed_status: Option<u16>,
        redirect_chain: Vec<Hop>,
        error: Option<String>,
    },
    MonitorRecovered {
        at: Instant,
        observed_status: Option<u16>,
        redirect_chain: Vec<Hop>,
    },
}

event_names!(HttpMonitorEvent {
    HttpMonitorCreated,
    HttpMonitorReconfigured,
    HttpMonitorPaused,
    HttpMonitorResumed,
    HttpMonitorDeleted,
    MonitorCheckerChanged,
    MonitorWentDown,
    MonitorRecovered,
});

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum MonitorError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("the monitor already exists")]
    AlreadyExists,
    #[error("the monitor does not exist")]
    NotFound,
    #[error("the monitor was deleted at {0}")]
    Deleted(Instant),
    #[error("effectiveAt {at} is before the monitor's creation ({since})")]
    BeforeCreation { at: Instant, since: Instant },
    #[error("the project is archived; it takes no new monitors")]
    ProjectArchived,
    #[error("the project already has {MAX_PER_PROJECT} monitors, the most a project may have; delete one first")]
    TooManyMonitors,
    #[error("nothing to change: the configuration is already so")]
    NothingChanged,
    #[error("the monitor was not checked at {0} (before it existed, or paused)")]
    NotChecked(Instant),
    #[error("the monitor was already {state:?} at {at}")]
    AlreadyInState { state: Observed, at: Instant },
}

impl Classify for MonitorError {
    fn refusal(&self) -> Refusal {
        match self {
            Self::Invalid(_) => Refusal::BadInput,
            Self::AlreadyExists => Refusal::Conflict,
            Self::NotFound => Refusal::NotFound,
            Self::Deleted(_)
            | Self::BeforeCreation { .. }
            | Self::ProjectArchived
            | Self::TooManyMonitors
            | Self::NothingChanged
            | Self::NotChecked(_)
            | Self::AlreadyInState { .. } => Refusal::RuleViolation,
        }
    }
}

/// An HTTP status code as reported: 100–599.
fn status_code(field: &str, code: i64) -> Result<u16, Invalid> {
    validate::within(field, code, 100, 599, "").map(|c| c as u16)
}

pub fn decide(m: &HttpMonitor, cmd: MonitorCommand) -> Result<Vec<HttpMonitorEvent>, MonitorError> {
    use HttpMonitorEvent as E;
    use MonitorCommand as C;
    match cmd {
        C::Create { id, project, spec, checked_by, effective_at } => {
            if m.id.is_some() {
                return Err(MonitorError::AlreadyExists);
            }
            let config = spec.validate()?;
            if project.archived {
                return Err(MonitorError::ProjectArchived);
            }
            if project.monitors >= MAX_PER_PROJECT {
                return Err(MonitorError::TooManyMonitors);
            }
            Ok(vec![E::HttpMonitorCreated {
                id,
                project_id: project.id,
                customer_id: project.customer_id,
                config,
                effective_at,
                checked_by,
            }])
        }
        C::Reconfigure { changes, at } => {
            let mut events = vec![];
            let reconfigures = [
                changes.url.is_some(),
                changes.follow_redirects.is_some(),
                changes.max_redirects.is_some(),
                changes.expected_status.is_some(),
                changes.interval_seconds.is_some(),
                changes.timeout_seconds.is_some(),
            ];
            if reconfigures.contains(&true) {
                let current = m.live()?;
                let old = current.spec();
                let config = MonitorSpec {
                    url: changes.url.unwrap_or(old.url),
                    follow_redirects: changes.follow_redirects.unwrap_or(old.follow_redirects),
                    max_redirects: changes.max_redirects.unwrap_or(old.max_redirects),
                    expected_status: changes.expected_status.unwrap_or(old.expected_status),
                    interval_seconds: changes.interval_seconds.unwrap_or(old.interval_seconds),
                    timeout_seconds: changes.timeout_seconds.unwrap_or(old.timeout_seconds),
                }
                .validate()?;
                if config != *current {
                    events.push(E::HttpMonitorReconfigured { config, at });
                }
            }
            if let Some(checked_by) = changes.checked_by.filter(|c| *c != m.checked_by) {
                m.live()?;
                events.push(E::MonitorCheckerChanged { checked_by });
            }
            if let Some(paused) = changes.paused {
                // Paused from an instant on: the checks stop there until the next resume.
                let from = changes.paused_from.unwrap_or(at);
                m.alive_at(from)?;
                match (paused, m.active_at(from)) {
                    (true, true) => events.push(E::HttpMonitorPaused { at: from }),
                    (false, false) => events.push(E::HttpMonitorResumed { at: from }),
                    _ => {}
                }
            }
            if events.is_empty() {
                return Err(MonitorError::NothingChanged);
            }
            Ok(events)
        }
        C::Delete { at } => {
            m.live()?;
            Ok(vec![E::HttpMonitorDeleted { at }])
        }
        C::RecordTransition { state, at, observed_status, redirect_chain, error } => {
            // A transition before a deletion is an observation, whatever was recorded since.
            m.config.as_ref().ok_or(MonitorError::NotFound)?;
            if let Some(deleted) = m.deleted_at.filter(|d| at >= *d) {
                return Err(MonitorError::Deleted(deleted));
            }
            let observed_status = observed_status.map(|c| status_code("observedStatus", c)).transpose()?;
            if redirect_chain.len() > MAX_REDIRECTS as usize + 1 {
                return Err(Invalid::new("redirectChain", "longer than any monitor follows").into());
            }
            for hop in &redirect_chain {
                status_code("redirectChain", hop.status.into())?;
                if hop.location.len() > MAX_URL {
                    return Err(
                        Invalid::new("redirectChain", format!("a location of at most {MAX_URL} characters")).into()
                    );
                }
            }
            let error = error.map(|e| validate::text("error", &e)).transpose()?;
            if !m.active_at(at) {
                return Err(MonitorError::NotChecked(at));
            }
            if m.observed_at(at) == Some(state) {
                return Err(MonitorError::AlreadyInState { state, at });
            }
            Ok(vec![match state {
                Observed::Down => E::MonitorWentDown { at, observed_status, redirect_chain, error },
                Observed::Up if error.is_some() => {
                    return Err(Invalid::new("error", "only a transition to DOWN has an error").into());
                }
                Observed::Up => E::MonitorRecovered { at, observed_status, redirect_chain },
            }])
        }
    }
}

/// Inserts after every element at or before the new one's instant, keeping effective order
/// (and, for equal instants, the order they were recorded in).
fn insert_in_order<T>(items: &mut Vec<T>, item: T, at: impl Fn(&T) -> Instant) {
    let i = items.partition_point(|x| at(x) <= at(&item));
    items.insert(i, item);
}

pub fn evolve(m: &mut HttpMonitor, event: &HttpMonitorEvent) {
    use HttpMonitorEvent as E;
    let transition = |m: &mut HttpMonitor, t: Transition| insert_in_order(&mut m.transitions, t, |t| t.at);
    let activity = |m: &mut HttpMonitor, at: Instant, on: bool| insert_in_order(&mut m.activity, (at, on), |a| a.0);
    match event {
        E::MonitorWentDown { at, observed_status, redirect_chain, error } => transition(
            m,
            Transition {
                at: *at,
                state: Observed::Down,
                observed_status: *observed_status,
                redirect_chain: redirect_chain.clone(),
                error: error.clone(),
            },
        ),
        E::MonitorRecovered { at, observed_status, redirect_chain } => transition(
            m,
            Transition {
                at: *at,
                state: Observed::Up,
                observed_status: *observed_status,
                redirect_chain: redirect_chain.clone(),
                error: None,
            },
        ),
        E::HttpMonitorCreated { id, project_id, customer_id, config, effective_at, checked_by } => {
            m.checked_by = *checked_by;
            m.id = Some(*id);
            m.project_id = Some(*project_id);
            m.customer_id = Some(*customer_id);
            m.config = Some(config.clone());
            m.created_at = Some(*effective_at);
            activity(m, *effective_at, true);
        }
        E::HttpMonitorReconfigured { config, .. } => m.config = Some(config.clone()),
        E::HttpMonitorPaused { at } => {
            activity(m, *at, false);
            m.paused = m.deleted_at.is_none() && m.activity.last().is_some_and(|(_, on)| !on);
        }
        E::HttpMonitorResumed { at } => {
            activity(m, *at, true);
            m.paused = m.deleted_at.is_none() && m.activity.last().is_some_and(|(_, on)| !on);
        }
        E::MonitorCheckerChanged { checked_by } => m.checked_by = *checked_by,
        E::HttpMonitorDeleted { at } => {
            m.deleted_at = Some(*at);
            activity(m, *at, false);
        }
    }
}

aggregate!(HttpMonitor, "http_monitor", MonitorCommand, HttpMonitorEvent, MonitorError);
