//! BillingRun: the scheduled run of one period (one stream per period). It records that
//! the run was started and completed, so a server that starts after the due instant knows
//! whether the run still has to happen.

use serde::{Deserialize, Serialize};

use crate::shared::Instant;
use crate::shared::error::{Classify, Refusal};
use crate::shared::period::Period;
use crate::{InvoiceId, aggregate, event_names};

/// The stream of a period's run.
pub fn stream_id(period: Period) -> uuid::Uuid {
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, format!("directory:billing-run:{period}").as_bytes())
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BillingRun {
    pub period: Option<Period>,
    pub started_at: Option<Instant>,
    pub completed_at: Option<Instant>,
    pub invoices: Vec<InvoiceId>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum BillingRunCommand {
    Start { period: Period, at: Instant },
    Complete { invoices: Vec<InvoiceId>, at: Instant },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum BillingRunEvent {
    BillingRunStarted { period: Period, at: Instant },
    BillingRunCompleted { invoices: Vec<InvoiceId>, at: Instant },
}

event_names!(BillingRunEvent { BillingRunStarted, BillingRunCompleted });

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum BillingRunError {
    #[error("the run of {0} was already completed")]
    AlreadyCompleted(Period),
    #[error("the run was not started")]
    NotStarted,
    #[error("the period {period} has not ended yet; it can be billed from {ends}")]
    NotEnded { period: Period, ends: Instant },
}

impl Classify for BillingRunError {
    fn refusal(&self) -> Refusal {
        match self {
            Self::AlreadyCompleted(_) => Refusal::Conflict,
            Self::NotStarted | Self::NotEnded { .. } => Refusal::RuleViolation,
        }
    }
}

/// Whether the period may be billed at `now`: only once it has ended.
pub fn billable(period: Period, now: Instant) -> Result<(), BillingRunError> {
    match period.end() > now {
        true => Err(BillingRunError::NotEnded { period, ends: period.end() }),
        false => Ok(()),
    }
}

/// The period the scheduled run bills at `now`: the previous month from the 1st at 06:00
/// Europe/Berlin on (the 1st never has a DST change, so that is six hours after midnight).
pub fn scheduled_period(now: Instant) -> Period {
    let current = Period::of(now);
    if now >= current.start() + chrono::Duration::hours(6) { current.previous() } else { current.previous().previous() }
}

/// When the scheduled run after `now` falls due.
pub fn next_schedule(now: Instant) -> Instant {
    let current = Period::of(now);
    let this_month = current.start() + chrono::Duration::hours(6);
    if now < this_month { this_month } else { current.next().start() + chrono::Duration::hours(6) }
}

pub fn decide(run: &BillingRun, cmd: BillingRunCommand) -> Result<Vec<BillingRunEvent>, BillingRunError> {
    match cmd {
        BillingRunCommand::Start { period, at } => match (run.period, run.completed_at) {
            (Some(p), Some(_)) => Err(BillingRunError::AlreadyCompleted(p)),
            // Started before and not completed (the server stopped): run it again.
            _ => Ok(vec![BillingRunEvent::BillingRunStarted { period, at }]),
        },
        BillingRunCommand::Complete { invoices, at } => match (run.period, run.completed_at) {
            (None, _) => Err(BillingRunError::NotStarted),
            (Some(p), Some(_)) => Err(BillingRunError::AlreadyCompleted(p)),
            (Some(_), None) => Ok(vec![BillingRunEvent::BillingRunCompleted { invoices, at }]),
        },
    }
}

pub fn evolve(run: &mut BillingRun, event: &BillingRunEvent) {
    match event {
        BillingRunEvent::BillingRunStarted { period, at } => {
            run.period = Some(*period);
            run.started_at = Some(*at);
        }
        BillingRunEvent::BillingRunCompleted { invoices, at } => {
            run.invoices = invoices.clone();
            run.completed_at = Some(*at);
        }
    }
}

aggregate!(BillingRun, "billing_run", BillingRunCommand, BillingRunEvent, BillingRunError);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::testing::at;
    use cqrs_es::test::TestFramework;

    fn march() -> Period {
        "2026-03".parse().unwrap()
    }

    #[test]
    fn a_run_starts_completes_once_and_restarts_when_interrupted() {
        let started = BillingRunEvent::BillingRunStarted { period: march(), at: at(4, 1) };
        TestFramework::<BillingRun>::with(())
            .given(vec![started.clone()])
            .when(BillingRunCommand::Start { period: march(), at: at(4, 2) })
            .then_expect_events(vec![BillingRunEvent::BillingRunStarted { period: march(), at: at(4, 2) }]);
        let completed = BillingRunEvent::BillingRunCompleted { invoices: vec![], at: at(4, 1) };
        TestFramework::<BillingRun>::with(())
            .given(vec![started.clone(), completed.clone()])
            .when(BillingRunCommand::Start { period: march(), at: at(4, 2) })
            .then_expect_error(BillingRunError::AlreadyCompleted(march()));
        TestFramework::<BillingRun>::with(())
            .given_no_previous_events()
            .when(BillingRunCommand::Complete { invoices: vec![], at: at(4, 2) })
            .then_expect_error(BillingRunError::NotStarted);
    }
}
