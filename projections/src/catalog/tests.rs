use super::backups::settle_before;
use super::*;
use chrono::Datelike;
use chrono::TimeZone;
use domain::person::Role;
use domain::project::SlaClass;
use domain::vm::Resources;
use store::Metadata;
use uuid::Uuid;

fn at(day: u32) -> Instant {
    chrono::Utc.with_ymd_and_hms(2026, 1, day, 0, 0, 0).unwrap()
}

fn rec(position: i64, aggregate_id: impl ToString, event: AnyEvent) -> Recorded {
    Recorded {
        position,
        recorded_at: at(1),
        aggregate_id: aggregate_id.to_string(),
        sequence: 1,
        event_type: String::new(),
        metadata: Metadata::default(),
        event,
    }
}

fn ids() -> (CustomerId, ProjectId, ProjectId, PersonId, VmId) {
    (
        CustomerId(Uuid::from_u128(1)),
        ProjectId(Uuid::from_u128(2)),
        ProjectId(Uuid::from_u128(3)),
        PersonId(Uuid::from_u128(4)),
        VmId(Uuid::from_u128(5)),
    )
}

fn history() -> Vec<Recorded> {
    let (c, root, child, person, vm) = ids();
    vec![
        rec(
            1,
            c,
            AnyEvent::Customer(CustomerEvent::CustomerRegistered {
                id: c,
                name: "Acme".into(),
                country: "DE".into(),
                vat_id: None,
                billing_address: "Berlin".into(),
                payment_terms_days: 14,
                effective_at: at(1),
            }),
        ),
        rec(
            2,
            root,
            AnyEvent::Project(ProjectEvent::ProjectCreated {
                id: root,
                customer_id: c,
                parent_id: None,
                name: "Root".into(),
                sla_class: SlaClass::Basic,
                effective_at: at(1),
                resource_group: None,
            }),
        ),
        rec(
            3,
            child,
            AnyEvent::Project(ProjectEvent::ProjectCreated {
                id: child,
                customer_id: c,
                parent_id: Some(root),
                name: "Child".into(),
                sla_class: SlaClass::Premium,
                effective_at: at(1),
                resource_group: None,
            }),
        ),
        rec(
            4,
            person,
            AnyEvent::Person(PersonEvent::PersonRegistered {
                id: person,
                name: "Ada".into(),
                email: "ada@example.com".into(),
                customer_id: Some(c),
                at: at(1),
            }),
        ),
        rec(5, person, AnyEvent::Person(PersonEvent::RoleGranted { project_id: root, role: Role::Member, at: at(1) })),
        rec(
            6,
            vm,
            AnyEvent::Vm(VmEvent::VmProvisioned {
                id: vm,
                customer_id: c,
                project_id: child,
                name: "web-1".into(),
                location: "fsn1".into(),
                resources: Resources { cpu: 2, ram_gb: 4, disk_gb: 40 },
                effective_at: at(2),
                node: None,
            }),
        ),
        rec(
            7,
            vm,
            AnyEvent::Vm(VmEvent::VmMovedToProject { from_project_id: child, project_id: root, effective_at: at(3) }),
        ),
        rec(
            8,
            vm,
            AnyEvent::BackupLog(BackupLogEvent::BackupSucceeded {
                vm_id: vm,
                backup_id: "b1".into(),
                started_at: at(4),
                finished_at: at(5),
                size_bytes: 10,
                tags: vec![],
            }),
        ),
        rec(
            9,
            person,
            AnyEvent::Person(PersonEvent::TokenIssued {
                token_id: TokenId(Uuid::from_u128(9)),
                sha256: "ab".repeat(32),
                expires_at: None,
                at: at(1),
            }),
        ),
    ]
}

#[test]
fn builds_the_navigation_indexes() {
    let (c, root, child, person, vm) = ids();
    let mut catalog = Catalog::default();
    for e in history() {
        catalog.apply(&e);
    }
    assert_eq!(catalog.position, 9);
    let live = catalog.live();
    assert_eq!(live.projects_of(c).collect::<BTreeSet<_>>(), BTreeSet::from([root, child]));
    assert_eq!(live.children(root).collect::<Vec<_>>(), vec![child]);
    assert_eq!(live.people_of(c).collect::<Vec<_>>(), vec![person]);
    assert_eq!(live.vms_in(root).collect::<Vec<_>>(), vec![vm], "the move re-indexed the VM");
    assert_eq!(live.vms_in(child).count(), 0);
    assert_eq!(live.last_good_backup(vm), Ok(Some(at(5))));
    assert_eq!(live.effective_role(person, child), Some(Role::Member), "roles hold for descendants");
    assert_eq!(catalog.tokens["ab".repeat(32).as_str()].person_id, person);
}

#[test]
fn a_past_position_sees_the_entities_and_indexes_of_then() {
    let (c, root, child, person, vm) = ids();
    let mut catalog = Catalog::default();
    for e in history() {
        catalog.apply(&e);
    }
    let before_the_move = catalog.at(6);
    assert_eq!(before_the_move.vms_in(child).collect::<Vec<_>>(), vec![vm]);
    assert_eq!(before_the_move.vms_in(root).count(), 0);
    assert_eq!(before_the_move.last_good_backup(vm), Ok(None), "the backup was recorded later");
    assert!(catalog.at(2).project(&child).is_none(), "not created yet");
    assert_eq!(catalog.at(2).projects_of(c).collect::<Vec<_>>(), vec![root]);
    assert!(catalog.at(3).person(&person).is_none());
    assert_eq!(catalog.at(100).position(), 9, "clamped to what was folded");
}

/// The history, then the expiry of backup `b1` recorded at position 10.
fn folded_with_an_expiry() -> Catalog {
    let (_, _, _, _, vm) = ids();
    let mut catalog = Catalog::default();
    for e in history() {
        catalog.apply(&e);
    }
    catalog.apply(&rec(
        10,
        vm,
        AnyEvent::BackupLog(BackupLogEvent::BackupExpired { backup_id: "b1".into(), at: at(9) }),
    ));
    catalog
}

#[test]
fn an_expiry_shows_from_the_position_that_recorded_it() {
    let (_, _, _, _, vm) = ids();
    let catalog = folded_with_an_expiry();
    let expiry =
        |p: i64| catalog.at(p).backups(vm, at(1)).unwrap().records.iter().map(|b| b.expired_at).collect::<Vec<_>>();
    assert_eq!(expiry(9), vec![None]);
    assert_eq!(expiry(10), vec![Some(at(9))]);
    assert_eq!(expiry(7), Vec::<Option<Instant>>::new(), "not yet recorded");
}

#[test]
fn the_details_read_from_the_backup_log_agree_with_the_records_kept() {
    let (_, _, _, _, vm) = ids();
    let mut events = history();
    let failed = BackupLogEvent::BackupFailed {
        vm_id: vm,
        backup_id: "b2".into(),
        started_at: at(10),
        finished_at: at(11),
        error: "snapshot timed out".into(),
    };
    events.push(rec(10, vm, AnyEvent::BackupLog(failed)));
    events.push(rec(11, vm, AnyEvent::BackupLog(BackupLogEvent::BackupExpired { backup_id: "b1".into(), at: at(12) })));
    let mut catalog = Catalog::default();
    for e in &events {
        catalog.apply(e);
    }
    for position in 0..=12 {
        let details = crate::backup_history::backups_at(vm, &events, position);
        let records = catalog.at(position).backups(vm, at(1)).unwrap().records;
        let numbers = |b: &crate::BackupView| (b.status, b.finished_at, b.size_bytes, b.expired_at);
        assert_eq!(
            details.iter().map(numbers).collect::<Vec<_>>(),
            records.iter().map(|r| (r.status, r.finished_at, r.size_bytes, r.expired_at)).collect::<Vec<_>>(),
            "as of position {position}"
        );
    }
    let now = crate::backup_history::backups_at(vm, &events, i64::MAX);
    assert_eq!(now.iter().map(|b| b.backup_id.as_str()).collect::<Vec<_>>(), vec!["b1", "b2"]);
    assert_eq!(now[1].error.as_deref(), Some("snapshot timed out"));
    assert_eq!(now[0].expired_at, Some(at(12)));
    assert!(crate::backup_history::backups_at(vm, &events, 10)[0].expired_at.is_none(), "expired later");
}

#[test]
fn folding_the_same_events_again_changes_nothing() {
    let mut once = Catalog::default();
    for e in history() {
        once.apply(&e);
    }
    let mut twice = once.clone();
    for e in history() {
        twice.apply(&e);
    }
    assert_eq!(once, twice);
}

#[test]
fn a_snapshot_gives_back_the_same_catalog_and_garbage_gives_none() {
    let catalog = folded_with_an_expiry();
    let bytes = catalog.to_snapshot().expect("serialises");
    assert_eq!(Catalog::from_snapshot(&bytes), Some(catalog.clone()));
    assert_eq!(Catalog::from_snapshot(&bytes[..bytes.len() / 2]), None, "cut short");
    assert_eq!(Catalog::from_snapshot(b"{\"position\": 1}"), None, "not deflated");
}

#[test]
fn a_backup_record_stays_a_few_plain_numbers() {
    // There is one per backup, millions of them: a string or a vector here would put the
    // backup log back into memory.
    assert!(std::mem::size_of::<BackupRecord>() <= 72, "{} bytes", std::mem::size_of::<BackupRecord>());
}

/// Nightly backups of one VM from 1 January 2026, every tenth one failed, good ones expired
/// 30 days after they finished; each event recorded by `recorded(finish)`.
fn nightly_backups(vm: VmId, nights: i64, recorded: impl Fn(Instant) -> Instant) -> Vec<Recorded> {
    let start = chrono::Utc.with_ymd_and_hms(2026, 1, 1, 2, 0, 0).unwrap();
    let mut events = vec![];
    let mut push = |t: Instant, event: BackupLogEvent| {
        let position = events.len() as i64 + 1;
        events.push(Recorded { recorded_at: recorded(t), ..rec(position, vm, AnyEvent::BackupLog(event)) });
    };
    let mut kept: Vec<(String, Instant)> = vec![];
    for night in 0..nights {
        let finished_at = start + chrono::Duration::days(night);
        let backup_id = format!("b-{night}");
        if night % 10 == 9 {
            let error = "snapshot timed out".to_owned();
            let started_at = finished_at;
            push(finished_at, BackupLogEvent::BackupFailed { vm_id: vm, backup_id, started_at, finished_at, error });
        } else {
            let (started_at, size_bytes, tags) = (finished_at, 1_000 + night, vec![]);
            let ok = BackupLogEvent::BackupSucceeded {
                vm_id: vm,
                backup_id: backup_id.clone(),
                started_at,
                finished_at,
                size_bytes,
                tags,
            };
            push(finished_at, ok);
            kept.push((backup_id, finished_at));
        }
        while kept.first().is_some_and(|(_, f)| *f + chrono::Duration::days(30) <= finished_at) {
            let (backup_id, _) = kept.remove(0);
            push(finished_at, BackupLogEvent::BackupExpired { backup_id, at: finished_at });
        }
    }
    events
}

/// At every position, for questions from several instants on: memory answers exactly what
/// the VM's backup log gives, or says the log must be read.
fn memory_agrees_with_the_log(catalog: &Catalog, vm: VmId, events: &[Recorded]) -> (usize, usize) {
    let (mut from_memory, mut from_log) = (0, 0);
    let month = |m: u32| chrono::Utc.with_ymd_and_hms(2026, m, 1, 0, 0, 0).unwrap();
    let since = [month(1), month(3), month(4), month(5), month(6), Instant::MAX_UTC];
    for position in 0..=catalog.position {
        for since in since {
            let log = crate::backup_history::backups(vm, events, position, since);
            match catalog.at(position).backups(vm, since) {
                Ok(kept) => {
                    assert_eq!(kept, log, "as of position {position}, from {since}");
                    from_memory += 1;
                }
                Err(InLog) => from_log += 1,
            }
        }
        let last_good =
            crate::backup_history::backups(vm, events, position, Instant::MAX_UTC).last_good(Instant::MAX_UTC);
        if let Ok(kept) = catalog.at(position).last_good_backup(vm) {
            assert_eq!(kept, last_good, "position {position}");
        }
    }
    (from_memory, from_log)
}

#[test]
fn backups_that_ended_long_ago_leave_memory_and_are_answered_the_same_from_the_log() {
    let (_, _, _, _, vm) = ids();
    // Recorded as they happen: each new month settles what ended before the month before.
    let live = nightly_backups(vm, 151, |t| t + chrono::Duration::hours(1));
    let mut catalog = Catalog::default();
    live.iter().for_each(|e| catalog.apply(e));
    let series = &catalog.backups[&vm];
    let settled = series.settled;
    assert!(series.records.len() < 100, "{} of 151 backups kept", series.records.len());
    assert_eq!(settled.ended_by.map(|t| t < settle_before(at(1).with_month(5).unwrap())), Some(true));
    assert!(settled.last_good.is_some() && settled.through > 0);
    let (memory, log) = memory_agrees_with_the_log(&catalog, vm, &live);
    assert!(memory > 0 && log > 0, "both paths taken: {memory} from memory, {log} from the log");
    let now = catalog.live();
    assert!(
        now.backups(vm, chrono::Utc.with_ymd_and_hms(2026, 4, 1, 0, 0, 0).unwrap()).is_ok(),
        "last month's billing"
    );
    assert!(now.last_good_backup(vm).is_ok_and(|t| t.is_some()));

    // Loaded long after (a migration): everything that ended settles at once.
    let loaded = nightly_backups(vm, 151, |_| chrono::Utc.with_ymd_and_hms(2026, 11, 27, 0, 0, 0).unwrap());
    let mut catalog = Catalog::default();
    loaded.iter().for_each(|e| catalog.apply(e));
    let kept = catalog.backups[&vm].records.len();
    assert!((25..=31).contains(&kept), "only the backups not expired are kept: {kept}");
    memory_agrees_with_the_log(&catalog, vm, &loaded);

    // A snapshot keeps what was settled.
    assert_eq!(Catalog::from_snapshot(&catalog.to_snapshot().unwrap()).as_ref(), Some(&catalog));
}

#[test]
fn a_new_recorded_month_settles_what_ended_before_the_month_before() {
    let (_, _, _, _, vm) = ids();
    let march = |d: u32| chrono::Utc.with_ymd_and_hms(2026, 3, d, 0, 0, 0).unwrap();
    let good = BackupLogEvent::BackupSucceeded {
        vm_id: vm,
        backup_id: "b1".into(),
        started_at: march(1),
        finished_at: march(2),
        size_bytes: 10,
        tags: vec![],
    };
    let expiry = BackupLogEvent::BackupExpired { backup_id: "b1".into(), at: march(3) };
    let mut catalog = Catalog::default();
    for (position, recorded_at, event) in [(1, march(2), good), (2, march(3), expiry)] {
        catalog.apply(&Recorded { recorded_at, ..rec(position, vm, AnyEvent::BackupLog(event)) });
    }
    assert_eq!(catalog.backups[&vm].records.len(), 1, "ended this month: kept");
    let in_april = Recorded {
        recorded_at: march(31) + chrono::Duration::days(2),
        ..rec(3, "other", AnyEvent::BackupLog(BackupLogEvent::BackupExpired { backup_id: "x".into(), at: march(3) }))
    };
    catalog.apply(&in_april);
    assert_eq!(catalog.backups[&vm].records.len(), 1, "in April, March is the month before: kept");
    let in_may = Recorded { recorded_at: march(31) + chrono::Duration::days(32), ..in_april.clone() };
    catalog.apply(&Recorded { position: 4, ..in_may });
    let series = &catalog.backups[&vm];
    assert!(series.records.is_empty(), "in May it is settled");
    assert_eq!(
        (series.settled.through, series.settled.ended_by, series.settled.last_good),
        (4, Some(march(3)), Some(march(2)))
    );
    assert_eq!(catalog.live().last_good_backup(vm), Ok(Some(march(2))));
    assert_eq!(catalog.at(3).last_good_backup(vm), Err(InLog), "before it was settled, the log knows");
    assert_eq!(catalog.live().backups(vm, march(3)).map(|b| b.earlier_good), Ok(Some(march(2))));
    assert_eq!(catalog.live().backups(vm, march(2)), Err(InLog), "it mattered then");

    // Expired an hour before April began in UTC, in Berlin's April: billing April there
    // (from 31 March 22:00 UTC) still finds it in memory in May.
    let (late, held) = (march(31) + chrono::Duration::hours(23), march(31) + chrono::Duration::hours(22));
    let events = [
        BackupLogEvent::BackupSucceeded {
            vm_id: vm,
            backup_id: "b2".into(),
            started_at: march(30),
            finished_at: march(30),
            size_bytes: 10,
            tags: vec![],
        },
        BackupLogEvent::BackupExpired { backup_id: "b2".into(), at: late },
    ];
    let in_april = march(31) + chrono::Duration::days(2);
    for (position, event) in (5..).zip(events) {
        catalog.apply(&Recorded { recorded_at: in_april, ..rec(position, vm, AnyEvent::BackupLog(event)) });
    }
    let expiry = BackupLogEvent::BackupExpired { backup_id: "x".into(), at: late };
    let in_may = march(31) + chrono::Duration::days(32);
    catalog.apply(&Recorded { recorded_at: in_may, ..rec(7, "other", AnyEvent::BackupLog(expiry)) });
    assert_eq!(catalog.live().backups(vm, held).map(|b| b.records.len()), Ok(1), "Berlin's April, from memory");
}

#[test]
fn the_backups_kept_do_not_grow_with_the_length_of_the_history() {
    let (_, _, _, _, vm) = ids();
    let kept = |nights: i64| {
        let mut catalog = Catalog::default();
        nightly_backups(vm, nights, |t| t + chrono::Duration::hours(1)).iter().for_each(|e| catalog.apply(e));
        catalog.backups[&vm].records.len()
    };
    let (one, three) = (kept(365), kept(3 * 365));
    // Not expired (30 days) and ended since the start of the month before: about 90 at most.
    assert!(one <= 95 && three <= 95, "one year keeps {one}, three years keep {three}");
}

/// The history, then the VM resized (and the person's role changed) every week for
/// `weeks`, each event recorded a week after the one before; `recorded` maps that instant
/// to the one stamped on the event.
fn weekly_changes(weeks: i64, recorded: impl Fn(Instant) -> Instant) -> Vec<Recorded> {
    let (_, root, child, person, vm) = ids();
    let mut events = history();
    for week in 1..=weeks {
        let t = at(2) + chrono::Duration::weeks(week);
        let resources = Resources { cpu: 1 + week as u32 % 8, ram_gb: 4, disk_gb: 40 };
        let project_id = if week % 2 == 0 { root } else { child };
        let role = if week % 3 == 0 { Role::Manager } else { Role::Member };
        for event in [
            AnyEvent::Vm(VmEvent::VmResized { resources, effective_at: t }),
            AnyEvent::Person(PersonEvent::RoleGranted { project_id, role, at: t }),
        ] {
            let id = if matches!(event, AnyEvent::Vm(_)) { vm.to_string() } else { person.to_string() };
            let position = events.len() as i64 + 1;
            events.push(Recorded { recorded_at: recorded(t), ..rec(position, id, event) });
        }
    }
    events
}

#[test]
fn versions_superseded_long_ago_are_settled_and_answer_as_before() {
    let as_they_happen = weekly_changes(60, |t| t);
    let mut settling = Catalog::default();
    as_they_happen.iter().for_each(|e| settling.apply(e));
    // The same events recorded within one month: nothing settles.
    let mut whole = Catalog::default();
    weekly_changes(60, |_| at(1)).iter().for_each(|e| whole.apply(e));
    assert_eq!(whole.version_counts().1, 0);
    let (decoded, settled) = settling.version_counts();
    assert_eq!(decoded + settled, whole.version_counts().0);
    assert!(decoded < 30 && settled > 90, "{decoded} decoded, {settled} settled");

    let mut restarted = Catalog::from_snapshot(&settling.to_snapshot().unwrap()).unwrap();
    assert_eq!(restarted, settling);
    assert_eq!(restarted.past_decoded_bytes(), 0);
    for position in 0..=settling.position {
        let expected = whole.at(position).state();
        assert_eq!(settling.at(position).state(), expected, "at {position}");
        assert_eq!(restarted.at(position).state(), expected, "after a restart, at {position}");
        let (_, _, _, _, vm) = ids();
        assert_eq!(restarted.at(position).vm_events(&vm), whole.at(position).vm_events(&vm));
    }
    // What those questions decoded is given back under a budget, and decodes again.
    let decoded = restarted.past_decoded_bytes();
    assert!(decoded > 0);
    assert_eq!(restarted.evict_past(decoded), 0, "within the budget");
    assert_eq!(restarted.evict_past(0), decoded);
    assert_eq!(restarted.past_decoded_bytes(), 0);
    assert_eq!(restarted.at(3).state(), whole.at(3).state());
}

#[test]
fn the_versions_decoded_do_not_grow_with_the_length_of_the_history() {
    let decoded = |weeks: i64| {
        let mut catalog = Catalog::default();
        weekly_changes(weeks, |t| t).iter().for_each(|e| catalog.apply(e));
        let restarted = Catalog::from_snapshot(&catalog.to_snapshot().unwrap()).unwrap();
        restarted.version_counts().0
    };
    let (one, three) = (decoded(52), decoded(3 * 52));
    // The entities of the history, and two versions a week since the start of the month before.
    assert!(one <= 30 && three <= 30, "one year decodes {one}, three years decode {three}");
}

/// The history, then a monitor of the root project created on 1 January and down for an
/// hour every third day for `days`, each transition recorded when `recorded` says; on
/// day 100, an outage of day 20 is imported (recorded late, effective long before).
fn flapping(days: i64, recorded: impl Fn(Instant) -> Instant) -> (MonitorId, Vec<Recorded>) {
    use domain::http_monitor::{ExpectedStatus, MonitorConfig};
    let (c, root, ..) = ids();
    let monitor = MonitorId(Uuid::from_u128(9));
    let mut events = history();
    let push = |events: &mut Vec<Recorded>, when: Instant, event: HttpMonitorEvent| {
        let position = events.len() as i64 + 1;
        let recorded_at = recorded(when).max(events.last().map_or(when, |e: &Recorded| e.recorded_at));
        events.push(Recorded { recorded_at, ..rec(position, monitor, AnyEvent::HttpMonitor(event)) });
    };
    let config = MonitorConfig {
        url: "https://shop.example/".into(),
        follow_redirects: false,
        max_redirects: 0,
        expected_status: "200".parse::<ExpectedStatus>().unwrap(),
        interval_seconds: 60,
        timeout_seconds: 10,
    };
    let created = HttpMonitorEvent::HttpMonitorCreated {
        id: monitor,
        project_id: root,
        customer_id: c,
        config,
        effective_at: at(1),
        checked_by: Default::default(),
    };
    push(&mut events, at(1), created);
    let down = |at: Instant| HttpMonitorEvent::MonitorWentDown {
        at,
        observed_status: Some(503),
        redirect_chain: vec![],
        error: Some("503".into()),
    };
    let up =
        |at: Instant| HttpMonitorEvent::MonitorRecovered { at, observed_status: Some(200), redirect_chain: vec![] };
    for day in 1..=days {
        let start = at(1) + chrono::Duration::days(day) + chrono::Duration::hours(10);
        if day == 100 {
            let imported = at(1) + chrono::Duration::days(20) + chrono::Duration::hours(3);
            push(&mut events, start, down(imported));
            push(&mut events, start, up(imported + chrono::Duration::minutes(20)));
        }
        if day % 3 == 0 {
            push(&mut events, start, down(start));
            push(&mut events, start + chrono::Duration::hours(1), up(start + chrono::Duration::hours(1)));
        }
    }
    (monitor, events)
}

#[test]
fn transitions_that_took_effect_long_ago_leave_memory_and_are_answered_the_same_from_the_log() {
    let (_, root, ..) = ids();
    let (monitor, events) = flapping(400, |t| t);
    let mut catalog = Catalog::default();
    events.iter().for_each(|e| catalog.apply(e));
    let series = &catalog.transitions[&monitor];
    // Since a day before the start of the month before the last recorded one, and the floor.
    assert!(series.len() < 50, "{} kept of {}", series.len(), 2 * (400 / 3) + 2);
    assert!(series.settled_through() > 0);

    let month = |y: i32, m: u32| chrono::Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).unwrap();
    let since = [at(1), month(2026, 1) + chrono::Duration::days(21), month(2026, 6), month(2027, 1), Instant::MAX_UTC];
    let (mut from_memory, mut from_log) = (0, 0);
    for position in (0..=catalog.position).step_by(7).chain([catalog.position]) {
        for since in since {
            let log = transitions_from_events(&events, position, since);
            match catalog.at(position).transitions(&monitor, since) {
                Ok(kept) => {
                    assert_eq!(kept, log, "as of position {position}, from {since}");
                    from_memory += 1;
                }
                Err(InLog) => from_log += 1,
            }
        }
    }
    // Views from before the last settling read the log, as they do for backups.
    assert!(from_memory > 0 && from_log > 0, "{from_memory} from memory, {from_log} from the log");
    // The present and the last two months are always answered from memory.
    let live = catalog.live();
    let recent = month(2027, 1);
    assert!(live.transitions(&monitor, recent).is_ok() && live.monitor_with_state(&monitor).unwrap().is_ok());

    // The SLA of an old month names the monitor whose log it needs, then answers as a
    // catalog that kept everything (the same events recorded in one month) does.
    let old = "2026-01".parse().unwrap();
    assert_eq!(crate::sla::report(live, root, old, &Default::default()), Err(crate::from_log::NeedsLog(vec![monitor])));
    let read = [(monitor, transitions_from_events(&events, catalog.position, old.start()))].into();
    let from_log = crate::sla::report(live, root, old, &read).unwrap().unwrap();
    let (_, at_once) = flapping(400, |_| at(1));
    let mut whole = Catalog::default();
    at_once.iter().for_each(|e| whole.apply(e));
    assert_eq!(whole.transitions[&monitor].settled_through(), 0);
    let kept = crate::sla::report(whole.live(), root, old, &Default::default()).unwrap().unwrap();
    assert_eq!(from_log, kept);
    assert_eq!(from_log.incidents.len(), 10 + 1, "every third day of January, and the imported outage");

    let restarted = Catalog::from_snapshot(&catalog.to_snapshot().unwrap()).unwrap();
    assert_eq!(restarted, catalog);
}

#[test]
fn the_transitions_kept_do_not_grow_with_the_length_of_the_history() {
    let kept = |days: i64| {
        let (monitor, events) = flapping(days, |t| t);
        let mut catalog = Catalog::default();
        events.iter().for_each(|e| catalog.apply(e));
        catalog.transitions[&monitor].len()
    };
    let (one, three) = (kept(365), kept(3 * 365));
    // Two a third day from a day before the start of the month before, and the floor: 44 at most.
    assert!(one <= 44 && three <= 44, "one year keeps {one}, three years keep {three}");
}

#[test]
fn a_fleets_settling_is_done_in_steps_and_ends_as_one_done_at_once() {
    let vms: Vec<VmId> = (0..600u128).map(|n| VmId(Uuid::from_u128(100 + n))).collect();
    let night = |n: i64| at(1) + chrono::Duration::days(n) + chrono::Duration::hours(2);
    let mut events = vec![];
    for n in 0..75 {
        for vm in &vms {
            let mut push = |event| {
                let position = events.len() as i64 + 1;
                events.push(Recorded { recorded_at: night(n), ..rec(position, vm, AnyEvent::BackupLog(event)) });
            };
            push(BackupLogEvent::BackupSucceeded {
                vm_id: *vm,
                backup_id: format!("b-{n}"),
                started_at: night(n),
                finished_at: night(n),
                size_bytes: 10,
                tags: vec![],
            });
            if n >= 5 {
                push(BackupLogEvent::BackupExpired { backup_id: format!("b-{}", n - 5), at: night(n) });
            }
            // Each VM's monitor goes down for an hour every night.
            let monitor = MonitorId(vm.0);
            for (hours, down) in [(3, true), (4, false)] {
                let at = night(n) + chrono::Duration::hours(hours);
                let event = if down {
                    HttpMonitorEvent::MonitorWentDown { at, observed_status: None, redirect_chain: vec![], error: None }
                } else {
                    HttpMonitorEvent::MonitorRecovered { at, observed_status: Some(200), redirect_chain: vec![] }
                };
                let position = events.len() as i64 + 1;
                events.push(Recorded { recorded_at: at, ..rec(position, monitor, AnyEvent::HttpMonitor(event)) });
            }
        }
    }
    let (mut stepped, mut at_once) = (Catalog::default(), Catalog::default());
    let mut boundaries = 0;
    for e in &events {
        let month = stepped.month_began;
        stepped.apply(e);
        at_once.apply(e);
        at_once.finish_settling();
        if stepped.month_began != month && month != 0 {
            boundaries += 1;
            // March's first event settled the first VMs' January; the last VM's waits.
            let kept = |c: &Catalog, vm: &VmId| c.backups[vm].records.len();
            let transitions = |c: &Catalog, vm: &VmId| c.transitions[&MonitorId(vm.0)].len();
            assert_eq!(kept(&stepped, &vms[0]), kept(&at_once, &vms[0]));
            assert_eq!(transitions(&stepped, &vms[0]), transitions(&at_once, &vms[0]));
            if boundaries == 2 {
                assert!(kept(&stepped, &vms[599]) > kept(&at_once, &vms[599]), "not settled yet");
                assert!(transitions(&stepped, &vms[599]) > transitions(&at_once, &vms[599]));
            }
        }
        if e.position % 97 == 0 || stepped.series_settling.is_some() {
            for vm in [vms[0], vms[300], vms[599]] {
                for since in [at(1), night(40), night(70), Instant::MAX_UTC] {
                    let (a, b) = (stepped.live().backups(vm, since), at_once.live().backups(vm, since));
                    // Settling later never changes an answer: either answers the same.
                    if let (Ok(a), Ok(b)) = (&a, &b) {
                        assert_eq!(a, b, "VM {vm} from {since} at {}", e.position);
                    }
                    assert!(a.is_ok() || b.is_err(), "memory answers what it answered before settling");
                    let monitor = MonitorId(vm.0);
                    let (a, b) =
                        (stepped.live().transitions(&monitor, since), at_once.live().transitions(&monitor, since));
                    if let (Ok(a), Ok(b)) = (&a, &b) {
                        assert_eq!(a, b, "monitor {monitor} from {since} at {}", e.position);
                    }
                    assert!(a.is_ok() || b.is_err());
                }
            }
        }
    }
    assert_eq!(boundaries, 2, "February and March began");
    assert!(stepped.series_settling.is_none());
    assert_eq!(stepped, at_once, "the same catalog once the steps are done");
}
