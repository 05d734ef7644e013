//! `directory bench history`: does a restart cost more as the same fleet's history grows?
//!
//! The fixtures grow their fleet with their size (one year of history each), so their
//! start-up grows with the fleet. This holds the fleet fixed and lengthens its history:
//! nightly backups of every VM (3 % failed, good ones expired after 30 days) and a resize
//! of every VM once a year, recorded as they happen, for one year and for longer, all
//! ending on the same day. Each history is folded into a catalog in process; the figures
//! are what a restart loads (the snapshot) and how long decoding it takes, against the
//! one-year baseline measured in the same run.

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
    let ids: Vec<VmId> = (0..vms).map(|n| VmId(uuid::Uuid::from_u128(1_000 + n as u128))).collect();
    for (n, vm) in ids.iter().enumerate() {
        let provisioned = VmEvent::VmProvisioned {
            id: *vm,
            customer_id: customer,
            project_id: project,
            name: format!("vm-{n}"),
            location: "fsn1".into(),
            resources: Resources { cpu: 2, ram_gb: 4, disk_gb: 40 },
            effective_at: start,
        };
        apply(&mut catalog, start, *vm, AnyEvent::Vm(provisioned));
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
            let backup_id = format!("b-{night}");
            let event = if rng.random_bool(0.03) {
                let error = "snapshot timed out".to_owned();
                BackupLogEvent::BackupFailed { vm_id: *vm, backup_id, started_at: finished_at, finished_at, error }
            } else {
                kept.push((backup_id.clone(), finished_at));
                let size_bytes = rng.random_range(2_000_000_000..20_000_000_000);
                let tags = vec!["daily".to_owned()];
                BackupLogEvent::BackupSucceeded {
                    vm_id: *vm,
                    backup_id,
                    started_at: finished_at,
                    finished_at,
                    size_bytes,
                    tags,
                }
            };
            apply(&mut catalog, finished_at, *vm, AnyEvent::BackupLog(event));
            while kept.first().is_some_and(|(_, f)| *f + Duration::days(30) <= finished_at) {
                let (backup_id, _) = kept.remove(0);
                let expired = BackupLogEvent::BackupExpired { backup_id, at: finished_at };
                apply(&mut catalog, finished_at, *vm, AnyEvent::BackupLog(expired));
            }
        }
    }
    (catalog, position)
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
    let mut baseline = None;
    for years in [1, 2, 4] {
        let (catalog, events) = folded(vms, years);
        let kept: usize = catalog.backups.values().map(|s| s.records.len()).sum();
        let (decoded, settled) = catalog.version_counts();
        let bytes = catalog.to_snapshot()?;
        // A restart decodes the snapshot; the best of three, as nothing else varies.
        let mut best = f64::MAX;
        for _ in 0..3 {
            let started = Clock::now();
            let restored = Catalog::from_snapshot(&bytes).context("the snapshot decodes")?;
            best = best.min(started.elapsed().as_secs_f64());
            anyhow::ensure!(restored.position == catalog.position, "the snapshot is the catalog");
        }
        let ratio = best / *baseline.get_or_insert(best);
        out!(
            "{:<8} {:>12} {:>14} {:>18} {:>14.0} {:>14.1} {:>12.2}",
            years,
            events,
            kept,
            format!("{decoded} of {}", decoded + settled),
            bytes.len() as f64 / 1024.0,
            best * 1e3,
            ratio
        );
        let key = format!("{years}y");
        figure("history", &format!("{key}_events"), events);
        figure("history", &format!("{key}_backups_kept"), kept);
        figure("history", &format!("{key}_versions_decoded"), decoded);
        figure("history", &format!("{key}_versions_settled"), settled);
        figure("history", &format!("{key}_snapshot_kib"), bytes.len() as f64 / 1024.0);
        figure("history", &format!("{key}_restart_ms"), best * 1e3);
        figure("history", &format!("{key}_restart_ratio"), ratio);
    }
    Ok(())
}
