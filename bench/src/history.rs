//! `directory bench history`: does a restart cost more as the same fleet's history grows?
//!
//! The fixtures grow their fleet with their size (one year of history each), so their
//! start-up grows with the fleet. This holds the fleet fixed and lengthens its history:
//! nightly backups of every VM (3 % failed, good ones expired after 30 days) and a resize
//! of every VM once a year, recorded as they happen, for one year and for longer, all
//! ending on the same day. Each history is folded into a catalog in process; the figures
//! are what a restart loads (the snapshot) and how long decoding it takes, against the
//! one-year baseline measured in the same run; then, for the longest history, how long
//! questions about its past take after the restart, against the same about the present.

use std::time::Instant as Clock;

use anyhow::Context as _;
use chrono::{Datelike, Duration, TimeZone, Utc};
use domain::backup_log::BackupLogEvent;
use domain::vm::{Resources, VmEvent};
use domain::{AnyEvent, CustomerId, Instant, ProjectId, VmId};
use projections::{Catalog, Recorded};
use rand::{Rng, SeedableRng};

use super::report::figure;

/// One fleet's history of `years`, folded.
fn folded(vms: usize, years: i32) -> (Catalog, i64) {
    // Every history ends on the same day, so that each keeps the same part of a month.
    let end = Utc.with_ymd_and_hms(2026, 1, 15, 0, 0, 0).unwrap();
    let start = end.with_year(end.year() - years).expect("a date");
    let (customer, project) = (CustomerId(uuid::Uuid::from_u128(1)), ProjectId(uuid::Uuid::from_u128(2)));
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut catalog = Catalog::default();
    let mut position = 0;
    let mut apply = |catalog: &mut Catalog, recorded_at: Instant, vm: VmId, event: AnyEvent| {
        position += 1;
        catalog.apply(&Recorded {
            position,
            recorded_at,
            aggregate_id: vm.to_string(),
            sequence: 0,
            event_type: String::new(),
            metadata: Default::default(),
            event,
        });
    };
    let ids: Vec<VmId> = (0..vms).map(fleet_vm).collect();
    for (n, vm) in ids.iter().enumerate() {
        apply(&mut catalog, start, *vm, provisioned(n, customer, project, start));
    }
    let mut kept: Vec<Vec<(String, Instant)>> = vec![vec![]; vms];
    for night in 0..(end - start).num_days() {
        let finished_at = start + Duration::days(night) + Duration::hours(2);
        for (vm, kept) in ids.iter().zip(&mut kept) {
            if night % 365 == 180 {
                let resources = Resources { cpu: 3 + (night / 365) as u32 % 4, ram_gb: 4, disk_gb: 40 };
                let resized = VmEvent::VmResized { resources, effective_at: finished_at };
                apply(&mut catalog, finished_at, *vm, AnyEvent::Vm(resized));
            }
            for event in nightly_backup(&mut rng, *vm, night, finished_at, kept) {
                apply(&mut catalog, finished_at, *vm, event);
            }
        }
    }
    (catalog, position)
}

/// The `n`th VM of a bench fleet.
pub(super) fn fleet_vm(n: usize) -> VmId {
    VmId(uuid::Uuid::from_u128(1_000 + n as u128))
}

/// The `n`th VM of a bench fleet provisioned at `start`.
pub(super) fn provisioned(n: usize, customer: CustomerId, project: ProjectId, start: Instant) -> AnyEvent {
    AnyEvent::Vm(VmEvent::VmProvisioned {
        id: fleet_vm(n),
        customer_id: customer,
        project_id: project,
        name: format!("vm-{n}"),
        location: "fsn1".into(),
        resources: Resources { cpu: 2, ram_gb: 4, disk_gb: 40 },
        effective_at: start,
        node: None,
    })
}

/// A VM's backup of `night` (3 % failed; a good one is added to `kept`), then the expiry of
/// each kept backup 30 days old.
pub(super) fn nightly_backup(
    rng: &mut impl Rng,
    vm: VmId,
    night: i64,
    finished_at: Instant,
    kept: &mut Vec<(String, Instant)>,
) -> Vec<AnyEvent> {
    let backup_id = format!("b-{night}");
    let backup = if rng.random_bool(0.03) {
        let error = "snapshot timed out".to_owned();
        BackupLogEvent::BackupFailed { vm_id: vm, backup_id, started_at: finished_at, finished_at, error }
    } else {
        kept.push((backup_id.clone(), finished_at));
        BackupLogEvent::BackupSucceeded {
            vm_id: vm,
            backup_id,
            started_at: finished_at,
            finished_at,
            size_bytes: rng.random_range(2_000_000_000..20_000_000_000),
            tags: vec!["daily".to_owned()],
        }
    };
    let mut events = vec![AnyEvent::BackupLog(backup)];
    while kept.first().is_some_and(|(_, f)| *f + Duration::days(30) <= finished_at) {
        let (backup_id, _) = kept.remove(0);
        events.push(AnyEvent::BackupLog(BackupLogEvent::BackupExpired { backup_id, at: finished_at }));
    }
    events
}

pub fn run(vms: usize) -> anyhow::Result<()> {
    out!(
        "directory bench history: {vms} VMs, nightly backups and a yearly resize recorded as they happen, folded in process"
    );
    out!(
        "{:<8} {:>12} {:>14} {:>18} {:>14} {:>14} {:>12}",
        "years",
        "events",
        "backups kept",
        "versions decoded",
        "snapshot KiB",
        "restart ms",
        "ratio"
    );
    struct History {
        years: i32,
        events: i64,
        position: i64,
        kept: usize,
        versions: (usize, usize),
        snapshot: Vec<u8>,
    }
    let mut histories = vec![];
    for years in [1, 2, 4] {
        let (catalog, events) = folded(vms, years);
        let kept: usize = catalog.backups.values().map(|s| s.records.len()).sum();
        let (versions, position, snapshot) = (catalog.version_counts(), catalog.position, catalog.to_snapshot()?);
        histories.push(History { years, events, position, kept, versions, snapshot });
    }
    // A restart decodes the snapshot. The histories take turns, seven rounds, and each
    // keeps its best: what the machine does meanwhile weighs on all three alike.
    let mut bests = vec![f64::MAX; histories.len()];
    for _ in 0..7 {
        for (h, best) in histories.iter().zip(&mut bests) {
            let started = Clock::now();
            let restored = Catalog::from_snapshot(&h.snapshot).context("the snapshot decodes")?;
            *best = best.min(started.elapsed().as_secs_f64());
            anyhow::ensure!(restored.position == h.position, "the snapshot is the catalog");
        }
    }
    for (h, best) in histories.iter().zip(&bests) {
        let ratio = best / bests[0];
        let (decoded, settled) = h.versions;
        out!(
            "{:<8} {:>12} {:>14} {:>18} {:>14.0} {:>14.1} {:>12.2}",
            h.years,
            h.events,
            h.kept,
            format!("{decoded} of {}", decoded + settled),
            h.snapshot.len() as f64 / 1024.0,
            best * 1e3,
            ratio
        );
        let key = format!("{}y", h.years);
        figure("history", &format!("{key}_events"), h.events);
        figure("history", &format!("{key}_backups_kept"), h.kept);
        figure("history", &format!("{key}_versions_decoded"), decoded);
        figure("history", &format!("{key}_versions_settled"), settled);
        figure("history", &format!("{key}_snapshot_kib"), h.snapshot.len() as f64 / 1024.0);
        figure("history", &format!("{key}_restart_ms"), best * 1e3);
        figure("history", &format!("{key}_restart_ratio"), ratio);
    }
    let longest = histories.last().context("a history")?;
    as_of(&Catalog::from_snapshot(&longest.snapshot).context("the snapshot decodes")?, vms)
}

/// Questions about the past of a restarted catalog, whose settled versions are all still
/// deflated: one VM, and the whole fleet, as of random positions, each against the same
/// question about the live state.
fn as_of(catalog: &Catalog, vms: usize) -> anyhow::Result<()> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let vm = fleet_vm;
    let timed = |samples: usize, rng: &mut rand::rngs::StdRng, ask: &dyn Fn(i64, VmId) -> usize, live: bool| {
        let mut micros: Vec<f64> = (0..samples)
            .map(|_| {
                let position = if live { catalog.position } else { rng.random_range(1..=catalog.position) };
                let id = vm(rng.random_range(0..vms));
                let started = Clock::now();
                std::hint::black_box(ask(position, id));
                started.elapsed().as_secs_f64() * 1e6
            })
            .collect();
        micros.sort_by(f64::total_cmp);
        let pick = |q: f64| micros[((micros.len() as f64 * q) as usize).min(micros.len() - 1)];
        (pick(0.5), pick(0.99), micros[micros.len() - 1])
    };
    let one = |position: i64, id: VmId| usize::from(catalog.at(position).vm(&id).is_some());
    let fleet = |position: i64, _: VmId| catalog.at(position).vms().count();
    out!("as of a random position in the 4-year history, after a restart (settled chunks decoded on first need):");
    out!("{:<34} {:>12} {:>12} {:>12} {:>12}", "question", "p50 µs", "p99 µs", "max µs", "p99 / live");
    for (label, key, samples, ask) in
        [("one VM", "vm", 1_000, &one as &dyn Fn(i64, VmId) -> usize), ("every VM", "fleet", 50, &fleet)]
    {
        let (p50, p99, max) = timed(samples, &mut rng, ask, false);
        let (_, live_p99, _) = timed(samples, &mut rng, ask, true);
        out!("{:<34} {:>12.1} {:>12.1} {:>12.1} {:>12.2}", label, p50, p99, max, p99 / live_p99);
        figure("history", &format!("as_of_{key}_p50_us"), p50);
        figure("history", &format!("as_of_{key}_p99_us"), p99);
        figure("history", &format!("as_of_{key}_max_us"), max);
        figure("history", &format!("as_of_{key}_live_p99_us"), live_p99);
    }
    let middle = catalog.at(catalog.position / 2);
    anyhow::ensure!(middle.vms().count() == vms, "every VM is found in the middle of its history");
    Ok(())
}
