//! What the catalog keeps of each monitor's transitions, and how much of their past.
//!
//! A monitor that flaps records a transition each time, for as long as it exists, so
//! keeping them all made memory grow with the log, as backups did. A monitor's series keeps
//! the transitions that took effect since the cut of [`super::backups::settle_before`]
//! (a day before the start of the month before the latest recorded one), and the latest
//! one before it: the state every later question starts from (its *floor*). Older ones are
//! *settled*: they leave memory, and the series remembers the latest position that
//! settled one.
//!
//! A question names the earliest instant it cares about (`since`): an SLA report the start
//! of its month, the release policy its decision instant, the state now the end of time.
//! Memory answers when the floor was known at the view's position and took effect by
//! `since`; every settled transition took effect by the floor, so none can matter then.
//! Otherwise the answer is [`InLog`], and the caller reads the monitor's own events
//! ([`crate::monitor_log`]) and folds them with [`from_events`] into the same answer, which
//! the tests hold.

use serde::{Deserialize, Serialize};

use domain::http_monitor::{self, HttpMonitor, HttpMonitorEvent, Transition};
use domain::{AnyEvent, Instant};

use super::InLog;
use crate::Recorded;

/// A monitor transition and the log position that recorded it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TransitionRecord {
    pub recorded: i64,
    pub transition: Transition,
}

/// One monitor's transitions that may still matter, in effective order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TransitionSeries {
    /// Once some were settled, the first is the floor.
    records: Vec<TransitionRecord>,
    /// The latest position that settled one; 0 while none was.
    through: i64,
}

impl TransitionSeries {
    /// A transition recorded at `position`, placed after every one that took effect at or
    /// before it (as the monitor itself orders them); one that took effect before `cut`
    /// settles what it supersedes at once.
    pub(super) fn add(&mut self, record: TransitionRecord, cut: Instant, position: i64) {
        let late = record.transition.at < cut;
        let i = self.records.partition_point(|r| r.transition.at <= record.transition.at);
        self.records.insert(i, record);
        if late {
            self.settle_before(cut, position);
        }
    }

    /// Settles, at `position`, every transition that took effect before `cut` but the
    /// latest of them.
    pub(super) fn settle_before(&mut self, cut: Instant, position: i64) {
        let before = self.records.partition_point(|r| r.transition.at < cut);
        if before > 1 {
            self.records.drain(..before - 1);
            // A settling done in steps may reach this series after a later event settled
            // some of it: the latest position stands, as if all had been settled at once.
            self.through = self.through.max(position);
        }
    }

    /// The transitions known at `position` from the state at `since` on: the latest that
    /// took effect by `since`, then every later one, in effective order; [`InLog`] when a
    /// settled one might be among them.
    pub fn at(&self, position: i64, since: Instant) -> Result<Vec<Transition>, InLog> {
        if self.through > 0 {
            let floor = &self.records[0];
            if floor.recorded > position || floor.transition.at > since {
                return Err(InLog);
            }
        }
        Ok(from_state_at(self.records.iter().filter(|r| r.recorded <= position).map(|r| &r.transition), since))
    }

    /// How many transitions memory keeps.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The latest position that settled one; 0 while none was.
    pub fn settled_through(&self) -> i64 {
        self.through
    }
}

/// From transitions in effective order: the latest that took effect by `since`, then
/// every later one.
fn from_state_at<'a>(known: impl Iterator<Item = &'a Transition>, since: Instant) -> Vec<Transition> {
    let known: Vec<&Transition> = known.collect();
    let first = known.partition_point(|t| t.at <= since).saturating_sub(1);
    known[first..].iter().map(|t| (*t).clone()).collect()
}

/// What [`TransitionSeries::at`] answers when memory keeps them, folded from the monitor's
/// own events (in log order; other streams' events are ignored) as the monitor orders them.
pub fn from_events(events: &[Recorded], position: i64, since: Instant) -> Vec<Transition> {
    let mut monitor = HttpMonitor::default();
    for e in events.iter().take_while(|e| e.position <= position) {
        if let AnyEvent::HttpMonitor(
            ev @ (HttpMonitorEvent::MonitorWentDown { .. } | HttpMonitorEvent::MonitorRecovered { .. }),
        ) = &e.event
        {
            http_monitor::evolve(&mut monitor, ev);
        }
    }
    from_state_at(monitor.transitions.iter(), since)
}
