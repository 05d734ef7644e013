//! `directory bench settling`: what a new month costs the fold of a large fleet, and what
//! questions about the far past leave in memory.
//!
//! A fleet of VMs (10,000 by default), each with an HTTP monitor, lives through months of
//! history recorded as it happens: a nightly backup of every VM (3 % failed, good ones
//! expired after 30 days), a resize of each VM about once a month and a monitor outage
//! about every tenth day. Each event is folded into a catalog in process and timed. The
//! first event of each month starts the settling (backups and transitions that ended long
//! ago leave memory, superseded versions are deflated), which the following events move
//! on in steps; the figure is the longest fold of one event, against the same settling
//! done at once (how it was done before), measured on a copy in the same run.
//!
//! Then every VM is asked about as of random past positions, which decodes settled chunks:
//! the bytes decoded and the process's memory without a budget, and with the catalog
//! giving back the least recently read beyond one between rounds of questions.

use std::time::Instant as Clock;

use chrono::{Datelike, Duration, TimeZone, Utc};
use domain::backup_log::BackupLogEvent;
use domain::http_monitor::{ExpectedStatus, HttpMonitorEvent, MonitorConfig};
use domain::vm::{Resources, VmEvent};
use domain::{AnyEvent, CustomerId, Instant, MonitorId, ProjectId, VmId};
use projections::{Catalog, Recorded};
use rand::{Rng, SeedableRng};

use super::history::{fleet_vm, nightly_backup, provisioned};
use super::report::figure;

/// The monthly settling may stop the fold (and every write waiting for it) this long.
const TARGET_MS: f64 = 50.0;

struct Folding {
    catalog: Catalog,
    position: i64,
    /// Each event's fold, in nanoseconds.
    folds: Vec<u32>,
    /// The positions that began a month.
    months: Vec<i64>,
    /// The catalog just after the last month began, before its settling moved on.
    before_last: Option<Catalog>,
    month: Option<(i32, u32)>,
}

impl Folding {
    fn apply(&mut self, recorded_at: Instant, aggregate_id: String, event: AnyEvent) {
        self.position += 1;
        let month = Some((recorded_at.year(), recorded_at.month()));
        let new_month = self.month.is_some() && self.month != month;
        self.month = month;
        let started = Clock::now();
        self.catalog.apply(&Recorded {
            position: self.position,
            recorded_at,
            aggregate_id,
            sequence: 0,
            event_type: String::new(),
            metadata: Default::default(),
            event,
        });
        let took = started.elapsed();
        self.folds.push(u32::try_from(took.as_nanos()).unwrap_or(u32::MAX));
        if new_month {
            self.months.push(self.position);
        }
    }
}

fn history(vms: usize, months: u32, end: Instant) -> Folding {
    let start = end - chrono::Months::new(months);
    let (customer, project) = (CustomerId(uuid::Uuid::from_u128(1)), ProjectId(uuid::Uuid::from_u128(2)));
    let mut rng = rand::rngs::StdRng::seed_from_u64(23);
    let mut f = Folding {
        catalog: Catalog::default(),
        position: 0,
        folds: vec![],
        months: vec![],
        before_last: None,
        month: None,
    };
    let ids: Vec<(VmId, MonitorId)> =
        (0..vms).map(|n| (fleet_vm(n), MonitorId(uuid::Uuid::from_u128(1 << 64 | n as u128)))).collect();
    for (n, (vm, monitor)) in ids.iter().enumerate() {
        f.apply(start, vm.to_string(), provisioned(n, customer, project, start));
        let created = HttpMonitorEvent::HttpMonitorCreated {
            id: *monitor,
            project_id: project,
            customer_id: customer,
            config: MonitorConfig {
                url: format!("https://vm-{n}.example/"),
                follow_redirects: false,
                max_redirects: 0,
                expected_status: "200".parse::<ExpectedStatus>().expect("a status"),
                interval_seconds: 60,
                timeout_seconds: 10,
            },
            effective_at: start,
            checked_by: Default::default(),
        };
        f.apply(start, monitor.to_string(), AnyEvent::HttpMonitor(created));
    }
    let mut kept: Vec<Vec<(String, Instant)>> = vec![vec![]; vms];
    let last_month = (end - Duration::days(1)).with_day(1).expect("the first").date_naive();
    for night in 0..(end - start).num_days() {
        let finished_at = start + Duration::days(night) + Duration::hours(2);
        if f.before_last.is_none() && finished_at.date_naive() >= last_month {
            // The first event of the last month begins it; a copy is taken right after.
            let (vm, _) = ids[0];
            let failed = BackupLogEvent::BackupFailed {
                vm_id: vm,
                backup_id: format!("probe-{night}"),
                started_at: finished_at,
                finished_at,
                error: "probe".into(),
            };
            f.apply(finished_at, vm.to_string(), AnyEvent::BackupLog(failed));
            f.before_last = Some(f.catalog.clone());
        }
        for ((vm, monitor), kept) in ids.iter().zip(&mut kept) {
            if rng.random_ratio(1, 30) {
                let resources = Resources { cpu: rng.random_range(1..=16), ram_gb: 4, disk_gb: 40 };
                let resized = VmEvent::VmResized { resources, effective_at: finished_at };
                f.apply(finished_at, vm.to_string(), AnyEvent::Vm(resized));
            }
            if rng.random_ratio(1, 10) {
                let down = finished_at + Duration::hours(1);
                let went_down = HttpMonitorEvent::MonitorWentDown {
                    at: down,
                    observed_status: Some(503),
                    redirect_chain: vec![],
                    error: Some("503 Service Unavailable".into()),
                };
                let recovered = HttpMonitorEvent::MonitorRecovered {
                    at: down + Duration::minutes(rng.random_range(1..90)),
                    observed_status: Some(200),
                    redirect_chain: vec![],
                };
                f.apply(down, monitor.to_string(), AnyEvent::HttpMonitor(went_down));
                f.apply(down, monitor.to_string(), AnyEvent::HttpMonitor(recovered));
            }
            for event in nightly_backup(&mut rng, *vm, night, finished_at, kept) {
                f.apply(finished_at, vm.to_string(), event);
            }
        }
    }
    f
}

fn ms(nanos: u32) -> f64 {
    f64::from(nanos) / 1e6
}

pub fn run(vms: usize, months: u32) -> anyhow::Result<()> {
    let end = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
    let started = Clock::now();
    let mut f = history(vms, months, end);
    let seconds = started.elapsed().as_secs_f64();
    out!(
        "directory bench settling: {vms} VMs with a monitor each, {months} months recorded as they happen: {} events folded in {seconds:.1} s",
        f.position
    );

    // The settling done at once, as before, on the copy taken when the last month began.
    let mut at_once = f.before_last.take().ok_or_else(|| anyhow::anyhow!("the history reached its last month"))?;
    let begun = Clock::now();
    at_once.finish_settling();
    let at_once_ms = begun.elapsed().as_secs_f64() * 1e3;
    drop(at_once);

    let mut sorted = f.folds.clone();
    sorted.sort_unstable();
    let pick = |q: f64| ms(sorted[((sorted.len() as f64 * q) as usize).min(sorted.len() - 1)]);
    let longest = ms(*sorted.last().unwrap_or(&0));
    // The event that began each month, and the longest fold of the events after it that
    // moved its settling on (the next 5,000).
    let mut boundary_max: f64 = 0.0;
    let mut steps_max: f64 = 0.0;
    for &p in &f.months {
        let i = (p - 1) as usize;
        boundary_max = boundary_max.max(ms(f.folds[i]));
        let after = &f.folds[i + 1..(i + 5_001).min(f.folds.len())];
        steps_max = steps_max.max(after.iter().copied().map(ms).fold(0.0, f64::max));
    }
    out!("{:<58} {:>12}", "fold of one event", "ms");
    for (label, value) in [
        ("p50", pick(0.5)),
        ("p99", pick(0.99)),
        ("p99.99", pick(0.9999)),
        ("longest, of any event", longest),
        (&*format!("the first event of a month (the longest of {})", f.months.len()), boundary_max),
        ("the events that moved a settling on (the longest)", steps_max),
        ("the last month's settling done at once (baseline)", at_once_ms),
    ] {
        out!("{label:<58} {value:>12.3}");
    }
    out!(
        "longest fold / settling at once: {:.3}; target: no fold longer than {TARGET_MS} ms: {}",
        longest / at_once_ms,
        if longest <= TARGET_MS { "held" } else { "missed" }
    );
    figure("settling", "vms", vms);
    figure("settling", "events", f.position);
    figure("settling", "fold_p50_ms", pick(0.5));
    figure("settling", "fold_p99_ms", pick(0.99));
    figure("settling", "fold_longest_ms", longest);
    figure("settling", "month_start_longest_ms", boundary_max);
    figure("settling", "settling_steps_longest_ms", steps_max);
    figure("settling", "settling_at_once_ms", at_once_ms);
    figure("settling", "longest_vs_at_once", longest / at_once_ms);
    past(&mut f.catalog, vms)
}

/// Rounds of questions about random VMs as of random past positions (the portal's "as
/// of" pages, many requests): without a budget, then with the catalog evicting down to
/// one between rounds, as the follow loop does between folds.
fn past(catalog: &mut Catalog, vms: usize) -> anyhow::Result<()> {
    const ROUNDS: usize = 40;
    let vm = fleet_vm;
    let per_round = (vms / 20).max(1);
    let budget = 16usize << 20;
    let mib = |bytes: usize| bytes as f64 / f64::from(1 << 20);
    out!("{ROUNDS} rounds of {per_round} questions, each about a random VM as of a random past position:");
    out!(
        "{:<24} {:>18} {:>18} {:>14} {:>14}",
        "",
        "decoded MiB, max",
        "kept MiB, last",
        "resident MiB",
        "round ms, p50"
    );
    for (label, key, limit) in [("no budget (baseline)", "unbounded", usize::MAX), ("16 MiB budget", "budget", budget)]
    {
        catalog.evict_past(0);
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let (mut decoded_max, mut rounds) = (0usize, vec![]);
        for _ in 0..ROUNDS {
            let started = Clock::now();
            let head = catalog.position;
            for _ in 0..per_round {
                let (n, position) = (rng.random_range(0..vms), rng.random_range(1..=head));
                std::hint::black_box(catalog.at(position).vm(&vm(n)).is_some());
            }
            rounds.push(started.elapsed());
            decoded_max = decoded_max.max(catalog.past_decoded_bytes());
            projections::versions::tick();
            catalog.evict_past(limit);
        }
        rounds.sort();
        let p50 = rounds[rounds.len() / 2].as_secs_f64() * 1e3;
        let resident = super::memory_mib("self", "VmRSS:").unwrap_or(0.0);
        let kept = mib(catalog.past_decoded_bytes());
        out!("{label:<24} {:>18.1} {:>18.1} {:>14.0} {:>14.2}", mib(decoded_max), kept, resident, p50);
        figure("settling", &format!("past_{key}_decoded_max_mib"), mib(decoded_max));
        figure("settling", &format!("past_{key}_kept_mib"), kept);
        figure("settling", &format!("past_{key}_round_p50_ms"), p50);
        figure("settling", &format!("past_{key}_resident_mib"), resident);
    }
    Ok(())
}
