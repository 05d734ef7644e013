//! Release: a platform release of one channel in one ISO week. Its window opens on that
//! week's Monday at 21:00 Europe/Berlin; the decision falls due a lead time before. The
//! policy approves when no veto is open, no platform monitor is down and the release was
//! known for the soak time; the first decision, by the policy or by staff, wins.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate, TimeZone, Weekday};
use chrono_tz::Europe::Berlin;
use serde::{Deserialize, Serialize};

use crate::shared::error::{Classify, Invalid, Refusal};
use crate::shared::{Instant, validate};
use crate::{MonitorId, ReleaseId, aggregate, event_names};

#[cfg(test)]
mod tests;

pub const DEFAULT_LEAD_HOURS: i64 = 6;
pub const DEFAULT_SOAK_HOURS: i64 = 72;

/// An ISO week, written `2026-W48`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct IsoWeek {
    pub year: i32,
    pub week: u32,
}

impl std::str::FromStr for IsoWeek {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<IsoWeek, Invalid> {
        let bad = || {
            Invalid::new(
                "isoWeek",
                format!("{:?} is not an ISO week such as 2026-W48", s.chars().take(20).collect::<String>()),
            )
        };
        let (year, week) = s.trim().split_once("-W").ok_or_else(bad)?;
        let (year, week): (i32, u32) = (year.parse().map_err(|_| bad())?, week.parse().map_err(|_| bad())?);
        if !(2000..=2200).contains(&year) || NaiveDate::from_isoywd_opt(year, week, Weekday::Mon).is_none() {
            return Err(Invalid::new("isoWeek", format!("{year} has no week {week}")));
        }
        Ok(IsoWeek { year, week })
    }
}

impl std::fmt::Display for IsoWeek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-W{:02}", self.year, self.week)
    }
}

impl IsoWeek {
    /// The week's Monday at 21:00 in Europe/Berlin, whatever the UTC offset that day.
    pub fn window_start(&self) -> Instant {
        let monday = NaiveDate::from_isoywd_opt(self.year, self.week, Weekday::Mon).expect("validated");
        let local = monday.and_hms_opt(21, 0, 0).expect("a valid time");
        // 21:00 is never in a DST gap or fold in Berlin (they fall at 02:00 and 03:00).
        Berlin.from_local_datetime(&local).single().expect("21:00 exists once").with_timezone(&chrono::Utc)
    }

    /// The ISO week an instant falls in (in Europe/Berlin).
    pub fn of(at: Instant) -> IsoWeek {
        let week = at.with_timezone(&Berlin).iso_week();
        IsoWeek { year: week.year(), week: week.week() }
    }
}

/// Who decided.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DecidedBy {
    Policy,
    /// A staff member (the actor's id, or `system:bootstrap`).
    Staff(String),
}

/// What the policy saw at the decision instant: the evidence of a decision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyInputs {
    pub at: Instant,
    pub open_vetoes: Vec<String>,
    pub platform_monitors_down: Vec<MonitorId>,
    pub scheduled_at: Instant,
    pub min_soak_hours: i64,
}

/// The policy's verdict: approve when no condition failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub approve: bool,
    pub failed_conditions: Vec<String>,
}

/// The release policy, a pure function of its inputs.
pub fn policy(inputs: &PolicyInputs) -> Verdict {
    let mut failed = vec![];
    if !inputs.open_vetoes.is_empty() {
        failed.push(format!("open vetoes: {}", inputs.open_vetoes.join("; ")));
    }
    if !inputs.platform_monitors_down.is_empty() {
        let ids: Vec<String> = inputs.platform_monitors_down.iter().map(ToString::to_string).collect();
        failed.push(format!("platform monitors down: {}", ids.join(", ")));
    }
    let soaked = inputs.at - inputs.scheduled_at;
    if soaked < chrono::Duration::hours(inputs.min_soak_hours) {
        failed.push(format!(
            "scheduled {} h before the decision, less than the soak time of {} h",
            soaked.num_hours(),
            inputs.min_soak_hours
        ));
    }
    Verdict { approve: failed.is_empty(), failed_conditions: failed }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Veto {
    pub reason: String,
    pub at: Instant,
    pub withdrawn_at: Option<Instant>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub approve: bool,
    pub by: DecidedBy,
    pub at: Instant,
    pub failed_conditions: Vec<String>,
    pub reason: Option<String>,
    pub inputs: Option<PolicyInputs>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Release {
    pub id: Option<ReleaseId>,
    pub channel: String,
    pub week: Option<IsoWeek>,
    pub window_start: Option<Instant>,
    pub decision_due: Option<Instant>,
    pub changelog: String,
    pub scheduled_at: Option<Instant>,
    /// Vetoes by who raised them (a person's id or a system actor); one open veto each.
    pub vetoes: BTreeMap<String, Veto>,
    pub decision: Option<Decision>,
    #[serde(default)]
    pub cancelled: Option<Cancellation>,
    /// When the rollout finished, as staff recorded it.
    #[serde(default)]
    pub rolled_out_at: Option<Instant>,
}

/// Why and when a release was called off, and by whom.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cancellation {
    pub by: String,
    pub reason: String,
    pub at: Instant,
}

impl Release {
    /// The vetoes open at `at` (raised by then, not withdrawn by then), as the policy names them.
    pub fn open_vetoes(&self, at: Instant) -> Vec<String> {
        self.vetoes
            .iter()
            .filter(|(_, v)| v.at <= at && v.withdrawn_at.is_none_or(|w| w > at))
            .map(|(by, v)| format!("{by}: {}", v.reason))
            .collect()
    }

    fn scheduled(&self) -> Result<(Instant, Instant), ReleaseError> {
        match (self.window_start, self.decision_due) {
            (Some(w), Some(d)) => Ok((w, d)),
            _ => Err(ReleaseError::NotFound),
        }
    }

    /// Not called off: every change but the record of a rollout needs this.
    fn not_cancelled(&self) -> Result<(), ReleaseError> {
        match &self.cancelled {
            Some(c) => Err(ReleaseError::Cancelled(c.at)),
            None => Ok(()),
        }
    }

    fn undecided(&self) -> Result<(), ReleaseError> {
        self.not_cancelled()?;
        match &self.decision {
            Some(d) => Err(ReleaseError::AlreadyDecided { approve: d.approve, at: d.at }),
            None => Ok(()),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum ReleaseCommand {
    Schedule {
        id: ReleaseId,
        channel: String,
        week: IsoWeek,
        changelog: String,
        lead_hours: i64,
        now: Instant,
    },
    Veto {
        by: String,
        reason: String,
        at: Instant,
    },
    WithdrawVeto {
        by: String,
        at: Instant,
    },
    /// The policy's decision, made with what it saw.
    DecideByPolicy {
        inputs: PolicyInputs,
    },
    /// A staff member's decision before the window.
    DecideByHand {
        by: String,
        approve: bool,
        reason: String,
        at: Instant,
    },
    /// Calls the release off before its window opens, decided or not.
    Cancel {
        by: String,
        reason: String,
        at: Instant,
    },
    /// Records that an approved release was rolled out, finishing at `at` (after its window
    /// opened, not after `now`).
    MarkRolledOut {
        by: String,
        at: Instant,
        now: Instant,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ReleaseEvent {
    ReleaseScheduled {
        id: ReleaseId,
        channel: String,
        week: IsoWeek,
        window_start: Instant,
        decision_due: Instant,
        changelog: String,
        scheduled_at: Instant,
    },
    ReleaseVetoed {
        by: String,
        reason: String,
        at: Instant,
    },
    VetoWithdrawn {
        by: String,
        at: Instant,
    },
    ReleaseApproved {
        by: DecidedBy,
        at: Instant,
        reason: Option<String>,
        inputs: Option<PolicyInputs>,
    },
    ReleaseHeld {
        by: DecidedBy,
        at: Instant,
        failed_conditions: Vec<String>,
        reason: Option<String>,
        inputs: Option<PolicyInputs>,
    },
    ReleaseCancelled {
        by: String,
        reason: String,
        at: Instant,
    },
    ReleaseRolledOut {
        by: String,
        at: Instant,
    },
}

event_names!(ReleaseEvent {
    ReleaseScheduled,
    ReleaseVetoed,
    VetoWithdrawn,
    ReleaseApproved,
    ReleaseHeld,
    ReleaseCancelled,
    ReleaseRolledOut,
});

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ReleaseError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("the release already exists")]
    AlreadyExists,
    #[error("the release does not exist")]
    NotFound,
    #[error("the release was already {} at {at}", if *approve { "approved" } else { "held" })]
    AlreadyDecided { approve: bool, at: Instant },
    #[error("the window opened at {0}; it is too late for that")]
    WindowOpen(Instant),
    #[error("the decision is due at {due}, not yet at {at}")]
    NotDue { due: Instant, at: Instant },
    #[error("{0} already has an open veto")]
    AlreadyVetoed(String),
    #[error("{0} has no open veto")]
    NoOpenVeto(String),
    #[error("the release was cancelled at {0}")]
    Cancelled(Instant),
    #[error("the release was already rolled out at {0}")]
    AlreadyRolledOut(Instant),
    #[error("the release was not approved; only an approved release rolls out")]
    NotApproved,
    #[error("the window opens at {window}; a rollout cannot finish before that ({at})")]
    WindowNotOpen { window: Instant, at: Instant },
    #[error("at {at} is in the future; record a rollout once it has finished")]
    InTheFuture { at: Instant },
}

impl Classify for ReleaseError {
    fn refusal(&self) -> Refusal {
        match self {
            Self::Invalid(_) => Refusal::BadInput,
            Self::NotFound => Refusal::NotFound,
            Self::AlreadyExists
            | Self::AlreadyDecided { .. }
            | Self::AlreadyVetoed(_)
            | Self::Cancelled(_)
            | Self::AlreadyRolledOut(_) => Refusal::Conflict,
            Self::InTheFuture { .. } => Refusal::BadInput,
            Self::WindowOpen(_)
            | Self::NotDue { .. }
            | Self::NoOpenVeto(_)
            | Self::NotApproved
            | Self::WindowNotOpen { .. } => Refusal::RuleViolation,
        }
    }
}

/// A channel name as the platform names them (`fc-24.05-production`): 1–64 letters,
/// digits, `.`, `-` and `_`, starting with a letter or digit.
pub fn channel(value: &str) -> Result<String, Invalid> {
    let v = value.trim();
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
    if v.is_empty() || v.len() > 64 || !v.starts_with(|c: char| c.is_ascii_alphanumeric()) || !v.chars().all(allowed) {
        return Err(Invalid::new(
            "channel",
            "must be 1-64 letters, digits, '.', '-' or '_', starting with a letter or digit (such as fc-24.05-production)",
        ));
    }
    Ok(v.to_owned())
}

pub fn decide(r: &Release, cmd: ReleaseCommand) -> Result<Vec<ReleaseEvent>, ReleaseError> {
    use ReleaseCommand as C;
    use ReleaseEvent as E;
    match cmd {
        C::Schedule { id, channel: name, week, changelog, lead_hours, now } => {
            if r.id.is_some() {
                return Err(ReleaseError::AlreadyExists);
            }
            let channel = channel(&name)?;
            let changelog = validate::text("changelog", &changelog)?;
            let lead = validate::within("leadHours", lead_hours, 0, 7 * 24, " hours")?;
            let window_start = week.window_start();
            if window_start <= now {
                return Err(ReleaseError::WindowOpen(window_start));
            }
            let decision_due = window_start - chrono::Duration::hours(lead.into());
            Ok(vec![E::ReleaseScheduled {
                id,
                channel,
                week,
                window_start,
                decision_due,
                changelog,
                scheduled_at: now,
            }])
        }
        C::Veto { by, reason, at } => {
            let (window, _) = r.scheduled()?;
            let reason = validate::text("reason", &reason)?;
            r.undecided()?;
            if at >= window {
                return Err(ReleaseError::WindowOpen(window));
            }
            if r.vetoes.get(&by).is_some_and(|v| v.withdrawn_at.is_none()) {
                return Err(ReleaseError::AlreadyVetoed(by));
            }
            Ok(vec![E::ReleaseVetoed { by, reason, at }])
        }
        C::WithdrawVeto { by, at } => {
            r.scheduled()?;
            r.not_cancelled()?;
            if r.vetoes.get(&by).is_none_or(|v| v.withdrawn_at.is_some()) {
                return Err(ReleaseError::NoOpenVeto(by));
            }
            Ok(vec![E::VetoWithdrawn { by, at }])
        }
        C::DecideByPolicy { inputs } => {
            let (_, due) = r.scheduled()?;
            r.undecided()?;
            if inputs.at < due {
                return Err(ReleaseError::NotDue { due, at: inputs.at });
            }
            let verdict = policy(&inputs);
            let (by, at, inputs) = (DecidedBy::Policy, inputs.at, Some(inputs));
            Ok(vec![match verdict.approve {
                true => E::ReleaseApproved { by, at, reason: None, inputs },
                false => E::ReleaseHeld { by, at, failed_conditions: verdict.failed_conditions, reason: None, inputs },
            }])
        }
        C::DecideByHand { by, approve, reason, at } => {
            let (window, _) = r.scheduled()?;
            let reason = validate::text("reason", &reason)?;
            r.undecided()?;
            if at >= window {
                return Err(ReleaseError::WindowOpen(window));
            }
            let by = DecidedBy::Staff(by);
            Ok(vec![match approve {
                true => E::ReleaseApproved { by, at, reason: Some(reason), inputs: None },
                false => E::ReleaseHeld { by, at, failed_conditions: vec![], reason: Some(reason), inputs: None },
            }])
        }
        C::Cancel { by, reason, at } => {
            let (window, _) = r.scheduled()?;
            let reason = validate::text("reason", &reason)?;
            r.not_cancelled()?;
            if at >= window {
                return Err(ReleaseError::WindowOpen(window));
            }
            Ok(vec![E::ReleaseCancelled { by, reason, at }])
        }
        C::MarkRolledOut { by, at, now } => {
            let (window, _) = r.scheduled()?;
            r.not_cancelled()?;
            if let Some(done) = r.rolled_out_at {
                return Err(ReleaseError::AlreadyRolledOut(done));
            }
            if !r.decision.as_ref().is_some_and(|d| d.approve) {
                return Err(ReleaseError::NotApproved);
            }
            if at < window {
                return Err(ReleaseError::WindowNotOpen { window, at });
            }
            if at > now {
                return Err(ReleaseError::InTheFuture { at });
            }
            Ok(vec![E::ReleaseRolledOut { by, at }])
        }
    }
}

pub fn evolve(r: &mut Release, event: &ReleaseEvent) {
    use ReleaseEvent as E;
    match event {
        E::ReleaseScheduled { id, channel, week, window_start, decision_due, changelog, scheduled_at } => {
            r.id = Some(*id);
            r.channel = channel.clone();
            r.week = Some(*week);
            r.window_start = Some(*window_start);
            r.decision_due = Some(*decision_due);
            r.changelog = changelog.clone();
            r.scheduled_at = Some(*scheduled_at);
        }
        E::ReleaseVetoed { by, reason, at } => {
            r.vetoes.insert(by.clone(), Veto { reason: reason.clone(), at: *at, withdrawn_at: None });
        }
        E::VetoWithdrawn { by, at } => {
            if let Some(v) = r.vetoes.get_mut(by) {
                v.withdrawn_at = Some(*at);
            }
        }
        E::ReleaseApproved { by, at, reason, inputs } => {
            r.decision = Some(Decision {
                approve: true,
                by: by.clone(),
                at: *at,
                failed_conditions: vec![],
                reason: reason.clone(),
                inputs: inputs.clone(),
            });
        }
        E::ReleaseHeld { by, at, failed_conditions, reason, inputs } => {
            r.decision = Some(Decision {
                approve: false,
                by: by.clone(),
                at: *at,
                failed_conditions: failed_conditions.clone(),
                reason: reason.clone(),
                inputs: inputs.clone(),
            });
        }
        E::ReleaseCancelled { by, reason, at } => {
            r.cancelled = Some(Cancellation { by: by.clone(), reason: reason.clone(), at: *at });
        }
        E::ReleaseRolledOut { at, .. } => r.rolled_out_at = Some(*at),
    }
}

aggregate!(Release, "release", ReleaseCommand, ReleaseEvent, ReleaseError);

/// A release channel's settings (one stream per channel).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelSettings {
    pub channel: String,
    pub lead_hours: i64,
    pub min_soak_hours: i64,
    /// The project whose monitors are the platform's own.
    pub platform_project: Option<crate::ProjectId>,
}

impl ChannelSettings {
    pub fn default_for(channel: &str) -> ChannelSettings {
        ChannelSettings {
            channel: channel.to_owned(),
            lead_hours: DEFAULT_LEAD_HOURS,
            min_soak_hours: DEFAULT_SOAK_HOURS,
            platform_project: None,
        }
    }
}

/// The stream of a channel's settings.
pub fn channel_stream(channel: &str) -> uuid::Uuid {
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, format!("directory:release-channel:{channel}").as_bytes())
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ReleaseChannel {
    pub settings: Option<ChannelSettings>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ChannelCommand {
    Configure { channel: String, lead_hours: i64, min_soak_hours: i64, platform_project: Option<crate::ProjectId> },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ChannelEvent {
    ChannelConfigured { settings: ChannelSettings },
}

event_names!(ChannelEvent { ChannelConfigured });

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ChannelError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("the channel is already configured so")]
    Unchanged,
}

impl Classify for ChannelError {
    fn refusal(&self) -> Refusal {
        match self {
            Self::Invalid(_) => Refusal::BadInput,
            Self::Unchanged => Refusal::RuleViolation,
        }
    }
}

pub fn decide_channel(c: &ReleaseChannel, cmd: ChannelCommand) -> Result<Vec<ChannelEvent>, ChannelError> {
    match cmd {
        ChannelCommand::Configure { channel: name, lead_hours, min_soak_hours, platform_project } => {
            let settings = ChannelSettings {
                channel: channel(&name)?,
                lead_hours: validate::within("leadHours", lead_hours, 0, 7 * 24, " hours")?.into(),
                min_soak_hours: validate::within("minSoakHours", min_soak_hours, 0, 30 * 24, " hours")?.into(),
                platform_project,
            };
            if c.settings.as_ref() == Some(&settings) {
                return Err(ChannelError::Unchanged);
            }
            Ok(vec![ChannelEvent::ChannelConfigured { settings }])
        }
    }
}

pub fn evolve_channel(c: &mut ReleaseChannel, event: &ChannelEvent) {
    match event {
        ChannelEvent::ChannelConfigured { settings } => c.settings = Some(settings.clone()),
    }
}

mod channel_aggregate {
    use super::*;

    fn decide(c: &ReleaseChannel, cmd: ChannelCommand) -> Result<Vec<ChannelEvent>, ChannelError> {
        decide_channel(c, cmd)
    }
    fn evolve(c: &mut ReleaseChannel, e: &ChannelEvent) {
        evolve_channel(c, e)
    }
    aggregate!(ReleaseChannel, "release_channel", ChannelCommand, ChannelEvent, ChannelError);
}
