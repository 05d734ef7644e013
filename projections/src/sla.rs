//! The SLA rules of `contract/rules.md` as a pure function of a catalog view: a project's
//! downtime in a Europe/Berlin month, the union of its monitors' down intervals clipped
//! to the month, less what announced maintenance covers.
//!
//! Where the rules are silent: a monitor that is paused or deleted while down counts as
//! down only until then (nobody checked it afterwards); cancelled windows exclude nothing;
//! an incident is `excluded` when announced maintenance covers all of it.

use domain::http_monitor::Observed;
use domain::project::SlaClass;
use domain::{Instant, MonitorId, Period, ProjectId};
use rust_decimal::Decimal;

use crate::catalog::{At, InLog};
use crate::from_log::NeedsLog;
use crate::monitor_log::FromLog;

type Span = (Instant, Instant);

pub fn target(class: SlaClass) -> Decimal {
    match class {
        SlaClass::Basic => Decimal::new(990, 1),
        SlaClass::Standard => Decimal::new(995, 1),
        SlaClass::Premium => Decimal::new(999, 1),
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Incident {
    pub monitor_id: MonitorId,
    pub start: Instant,
    pub end: Instant,
    pub seconds: i64,
    pub excluded: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MaintenanceUsed {
    pub start: Instant,
    pub end: Instant,
    pub reason: String,
    pub platform: bool,
    pub announced_in_time: bool,
    /// The VM whose agent asked for it, and its host name.
    pub vm: Option<(domain::VmId, String)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlaReport {
    pub project_id: ProjectId,
    pub month: Period,
    pub class: SlaClass,
    pub target_percent: Decimal,
    /// Truncated to three decimals.
    pub availability_percent: Decimal,
    /// Downtime that counts, after maintenance was taken out.
    pub downtime_seconds: i64,
    pub excluded_maintenance_seconds: i64,
    pub breached: bool,
    pub incidents: Vec<Incident>,
    /// The windows of the month that applied to the project.
    pub maintenance: Vec<MaintenanceUsed>,
    /// Per day of the month (Berlin), the availability of that day in percent.
    pub daily: Vec<Decimal>,
}

/// Merges spans into disjoint ones, in order.
fn union(mut spans: Vec<Span>) -> Vec<Span> {
    spans.sort();
    let mut out: Vec<Span> = vec![];
    for (a, b) in spans {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

fn clip((a, b): Span, (c, d): Span) -> Option<Span> {
    let (from, to) = (a.max(c), b.min(d));
    (from < to).then_some((from, to))
}

fn seconds(spans: &[Span]) -> i64 {
    spans.iter().map(|(a, b)| (*b - *a).num_seconds()).sum()
}

/// `spans` minus `holes` (both disjoint and sorted).
fn subtract(spans: &[Span], holes: &[Span]) -> Vec<Span> {
    let mut out = vec![];
    for &(mut a, b) in spans {
        for &(h0, h1) in holes {
            if h1 <= a || h0 >= b {
                continue;
            }
            if h0 > a {
                out.push((a, h0));
            }
            a = a.max(h1);
        }
        if a < b {
            out.push((a, b));
        }
    }
    out
}

/// Truncates a percentage to three decimals.
fn truncate3(d: Decimal) -> Decimal {
    let mut t = d.trunc_with_scale(3);
    t.rescale(3);
    t
}

/// The project's SLA report for a month, as the view shows the log; none for an unknown
/// project. [`NeedsLog`] names the monitors whose transitions must be read from their logs
/// into `from_log` (at the view's position, from the month's start) before it can answer.
pub fn report(
    at: At<'_>,
    project: ProjectId,
    month: Period,
    from_log: &FromLog,
) -> Result<Option<SlaReport>, NeedsLog<MonitorId>> {
    let Some(p) = at.project(&project) else { return Ok(None) };
    let span = (month.start(), month.end());
    let class = p
        .sla_timeline
        .iter()
        .rev()
        .find(|(from, _)| *from <= span.0)
        .or(p.sla_timeline.first())
        .map_or(SlaClass::Basic, |(_, c)| *c);

    let mut monitors = vec![];
    let mut needs_log = vec![];
    for mid in at.monitors_of(project) {
        let Some(m) = at.monitor(&mid) else { continue };
        match at.transitions(&mid, span.0).or_else(|InLog| from_log.get(&mid).cloned().ok_or(InLog)) {
            Ok(transitions) => monitors.push((mid, m, transitions)),
            Err(InLog) => needs_log.push(mid),
        }
    }
    if !needs_log.is_empty() {
        return Err(NeedsLog(needs_log));
    }

    let mut incidents = vec![];
    let mut down: Vec<Span> = vec![];
    for (mid, m, transitions) in monitors {
        for (i, t) in transitions.iter().enumerate() {
            if t.state != Observed::Down {
                continue;
            }
            let recovered = transitions[i + 1..].iter().find(|n| n.state == Observed::Up).map(|n| n.at);
            // Unchecked from a pause or deletion on: down only until then.
            let stopped = m.activity.iter().find(|(when, on)| !on && *when > t.at).map(|(when, _)| *when);
            let end = [recovered, stopped].into_iter().flatten().min().unwrap_or(span.1);
            if let Some(s) = clip((t.at, end), span) {
                down.push(s);
                incidents.push(Incident {
                    monitor_id: mid,
                    start: s.0,
                    end: s.1,
                    seconds: (s.1 - s.0).num_seconds(),
                    excluded: false,
                });
            }
        }
    }
    let down = union(down);

    let mut maintenance = vec![];
    let mut holes = vec![];
    for wid in at.maintenance_for(project) {
        let Some(w) = at.maintenance_window(&wid) else { continue };
        if w.cancelled_at.is_some() {
            continue;
        }
        let Some(s) = clip((w.start, w.end), span) else { continue };
        maintenance.push(MaintenanceUsed {
            start: w.start,
            end: w.end,
            reason: w.reason.clone(),
            platform: w.project_id.is_none(),
            announced_in_time: w.announced_in_time(),
            vm: w.vm_id.map(|v| {
                let host = at.vm(&v).and_then(|vm| vm.node.as_ref()).map(|n| n.hostname.clone());
                (v, host.unwrap_or_default())
            }),
        });
        if w.announced_in_time() {
            holes.push(s);
        }
    }
    maintenance.sort_by_key(|m| m.start);
    let holes = union(holes);
    let counted = subtract(&down, &holes);
    let downtime_seconds = seconds(&counted);
    let excluded_maintenance_seconds = seconds(&down) - downtime_seconds;
    for incident in &mut incidents {
        incident.excluded = subtract(&[(incident.start, incident.end)], &holes).is_empty();
    }
    incidents.sort_by(|a, b| a.start.cmp(&b.start).then(a.monitor_id.cmp(&b.monitor_id)));

    let month_seconds = Decimal::from(month.seconds());
    let availability = Decimal::ONE_HUNDRED - Decimal::from(downtime_seconds) * Decimal::ONE_HUNDRED / month_seconds;
    let availability_percent = truncate3(availability);
    let target_percent = target(class);

    // Each Berlin day of the month, with its own length (23 or 25 hours at the DST changes).
    let mut daily = vec![];
    let mut day_start = span.0;
    while day_start < span.1 {
        let local = day_start.with_timezone(&chrono_tz::Europe::Berlin).date_naive() + chrono::Days::new(1);
        let next = {
            use chrono::TimeZone;
            chrono_tz::Europe::Berlin
                .from_local_datetime(&local.and_hms_opt(0, 0, 0).expect("midnight"))
                .single()
                .expect("midnight exists once in Berlin")
                .with_timezone(&chrono::Utc)
        };
        let day = (day_start, next.min(span.1));
        let down_that_day: i64 = counted.iter().filter_map(|s| clip(*s, day)).map(|(a, b)| (b - a).num_seconds()).sum();
        let length = Decimal::from((day.1 - day.0).num_seconds());
        daily.push(truncate3(Decimal::ONE_HUNDRED - Decimal::from(down_that_day) * Decimal::ONE_HUNDRED / length));
        day_start = next;
    }

    Ok(Some(SlaReport {
        project_id: project,
        month,
        class,
        target_percent,
        breached: availability_percent < target_percent,
        availability_percent,
        downtime_seconds,
        excluded_maintenance_seconds,
        incidents,
        maintenance,
        daily,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(d: u32, h: u32, m: u32) -> Instant {
        chrono::Utc.with_ymd_and_hms(2026, 3, d, h, m, 0).unwrap()
    }

    #[test]
    fn spans_merge_and_subtract() {
        let u = union(vec![(t(2, 0, 0), t(2, 2, 0)), (t(2, 1, 0), t(2, 3, 0)), (t(5, 0, 0), t(5, 1, 0))]);
        assert_eq!(u, vec![(t(2, 0, 0), t(2, 3, 0)), (t(5, 0, 0), t(5, 1, 0))], "overlaps count once");
        let left = subtract(&u, &[(t(2, 1, 0), t(2, 2, 0)), (t(4, 0, 0), t(6, 0, 0))]);
        assert_eq!(left, vec![(t(2, 0, 0), t(2, 1, 0)), (t(2, 2, 0), t(2, 3, 0))]);
        assert_eq!(seconds(&left), 7200);
    }

    #[test]
    fn availability_is_truncated_not_rounded() {
        assert_eq!(truncate3("99.99969".parse().unwrap()).to_string(), "99.999");
        assert_eq!(truncate3(Decimal::ONE_HUNDRED).to_string(), "100.000");
        assert_eq!(target(SlaClass::Premium).to_string(), "99.9");
    }
}
