use super::*;
use crate::shared::testing::{at, uuid};
use cqrs_es::test::TestFramework;

type WindowTest = TestFramework<MaintenanceWindow>;

fn project() -> ProjectFacts {
    ProjectFacts { id: ProjectId(uuid(2)), customer_id: CustomerId(uuid(1)), archived: false }
}
fn schedule(project: Option<ProjectFacts>, announced_at: Instant) -> MaintenanceCommand {
    MaintenanceCommand::Schedule {
        id: MaintenanceId(uuid(7)),
        project,
        start: at(3, 10),
        end: at(3, 10) + chrono::Duration::hours(2),
        announced_at,
        reason: "Kernel update".into(),
        now: at(3, 9),
        vm_id: None,
    }
}
fn scheduled(project: Option<ProjectFacts>, announced_at: Instant) -> MaintenanceEvent {
    MaintenanceEvent::MaintenanceScheduled {
        id: MaintenanceId(uuid(7)),
        project_id: project.as_ref().map(|p| p.id),
        customer_id: project.as_ref().map(|p| p.customer_id),
        start: at(3, 10),
        end: at(3, 10) + chrono::Duration::hours(2),
        announced_at,
        reason: "Kernel update".into(),
        vm_id: None,
    }
}

#[test]
fn schedules_project_and_platform_windows() {
    WindowTest::with(())
        .given_no_previous_events()
        .when(schedule(Some(project()), at(3, 1)))
        .then_expect_events(vec![scheduled(Some(project()), at(3, 1))]);
    WindowTest::with(())
        .given_no_previous_events()
        .when(schedule(None, at(3, 1)))
        .then_expect_events(vec![scheduled(None, at(3, 1))]);
}

#[test]
fn is_excluded_only_when_announced_a_day_ahead() {
    let fold = |announced_at| {
        let mut w = MaintenanceWindow::default();
        evolve(&mut w, &scheduled(None, announced_at));
        w.announced_in_time()
    };
    assert!(fold(at(3, 9)), "exactly 24 hours ahead");
    assert!(!fold(at(3, 9) + chrono::Duration::seconds(1)));
}

#[test]
fn refuses_bad_windows() {
    let MaintenanceCommand::Schedule { id, project: none, start, announced_at, reason, now, .. } =
        schedule(None, at(3, 1))
    else {
        unreachable!()
    };
    let bad = [
        MaintenanceCommand::Schedule {
            id,
            project: none.clone(),
            start,
            end: start,
            announced_at,
            reason: reason.clone(),
            now,
            vm_id: None,
        },
        MaintenanceCommand::Schedule {
            id,
            project: none.clone(),
            start,
            end: start + chrono::Duration::days(32),
            announced_at,
            reason: reason.clone(),
            now,
            vm_id: None,
        },
        MaintenanceCommand::Schedule {
            id,
            project: none.clone(),
            start,
            end: at(3, 11),
            announced_at: at(3, 10),
            reason: reason.clone(),
            now,
            vm_id: None,
        },
        MaintenanceCommand::Schedule {
            id,
            project: none.clone(),
            start,
            end: at(3, 11),
            announced_at,
            reason: " ".into(),
            now,
            vm_id: None,
        },
    ];
    for cmd in bad {
        let err = WindowTest::with(()).given_no_previous_events().when(cmd.clone()).inspect_result().unwrap_err();
        assert_eq!(err.refusal(), Refusal::BadInput, "{cmd:?}");
    }
    WindowTest::with(())
        .given_no_previous_events()
        .when(schedule(Some(ProjectFacts { archived: true, ..project() }), at(3, 1)))
        .then_expect_error(MaintenanceError::ProjectArchived);
    WindowTest::with(())
        .given(vec![scheduled(None, at(3, 1))])
        .when(schedule(None, at(3, 1)))
        .then_expect_error(MaintenanceError::AlreadyExists);
}

#[test]
fn cancels_before_the_start_only_once() {
    let cancel = |at| MaintenanceCommand::Cancel { reason: "postponed".into(), at };
    WindowTest::with(())
        .given(vec![scheduled(None, at(3, 1))])
        .when(cancel(at(3, 5)))
        .then_expect_events(vec![MaintenanceEvent::MaintenanceCancelled { reason: "postponed".into(), at: at(3, 5) }]);
    WindowTest::with(())
        .given(vec![scheduled(None, at(3, 1))])
        .when(cancel(at(3, 10)))
        .then_expect_error(MaintenanceError::AlreadyStarted(at(3, 10)));
    WindowTest::with(())
        .given(vec![
            scheduled(None, at(3, 1)),
            MaintenanceEvent::MaintenanceCancelled { reason: "x".into(), at: at(3, 5) },
        ])
        .when(cancel(at(3, 6)))
        .then_expect_error(MaintenanceError::AlreadyCancelled(at(3, 5)));
    WindowTest::with(())
        .given_no_previous_events()
        .when(cancel(at(3, 6)))
        .then_expect_error(MaintenanceError::NotFound);
}

#[test]
fn a_node_window_is_postponed_and_ended_by_its_agent() {
    let vm = Some(crate::VmId(uuid(9)));
    let mut w = MaintenanceWindow::default();
    let fold = |w: &mut MaintenanceWindow, cmd| {
        let events = decide(w, cmd)?;
        events.iter().for_each(|e| evolve(w, e));
        Ok::<_, MaintenanceError>(events.len())
    };
    let MaintenanceCommand::Schedule { id, project, start, end, announced_at, reason, now, .. } =
        schedule(Some(project()), at(3, 1))
    else {
        unreachable!()
    };
    fold(&mut w, MaintenanceCommand::Schedule { id, project, start, end, announced_at, reason, now, vm_id: vm })
        .unwrap();
    assert_eq!(w.vm_id, vm);
    fold(&mut w, MaintenanceCommand::Postpone { seconds: 3600 }).unwrap();
    let h = chrono::Duration::hours;
    assert_eq!((w.start, w.end), (at(3, 10) + h(1), at(3, 10) + h(3)));
    assert!(w.announced_in_time(), "moved later, still announced in time");
    let bad = decide(&w, MaintenanceCommand::Postpone { seconds: 0 }).unwrap_err();
    assert_eq!(bad.refusal(), Refusal::BadInput);
    let done = at(3, 10) + h(2);
    fold(&mut w, MaintenanceCommand::End { at: done, reason: "done".into() }).unwrap();
    assert_eq!((w.end, w.ended_at), (done, Some(done)), "ended early: the window ends there");
    assert_eq!(fold(&mut w, MaintenanceCommand::End { at: at(3, 14), reason: "done".into() }), Ok(0), "a retry");
    let late = decide(&w, MaintenanceCommand::Postpone { seconds: 60 }).unwrap_err();
    assert_eq!(late, MaintenanceError::AlreadyEnded(done));
}

#[test]
fn a_node_window_ended_before_it_began_is_cancelled_and_an_overrun_is_not_excluded() {
    let mut w = MaintenanceWindow::default();
    evolve(&mut w, &scheduled(None, at(3, 1)));
    let events = decide(&w, MaintenanceCommand::End { at: at(3, 9), reason: "deleted".into() }).unwrap();
    assert!(matches!(events[..], [MaintenanceEvent::MaintenanceCancelled { .. }]), "{events:?}");
    let events = decide(&w, MaintenanceCommand::End { at: at(3, 20), reason: "done".into() }).unwrap();
    events.iter().for_each(|e| evolve(&mut w, e));
    assert_eq!(
        w.end,
        at(3, 10) + chrono::Duration::hours(2),
        "the end announced stays: the overrun is not maintenance"
    );
}

#[test]
fn a_node_slot_starts_at_22_berlin_time_at_least_a_day_ahead() {
    let utc = |s: &str| s.parse::<Instant>().unwrap();
    assert_eq!(next_node_slot(utc("2026-12-05T10:00:00Z")), utc("2026-12-06T21:00:00Z"), "winter: 22:00 is 21:00 UTC");
    assert_eq!(next_node_slot(utc("2026-12-05T20:59:59Z")), utc("2026-12-06T21:00:00Z"), "exactly a day is enough");
    assert_eq!(next_node_slot(utc("2026-12-05T21:00:01Z")), utc("2026-12-07T21:00:00Z"));
    assert_eq!(next_node_slot(utc("2026-07-01T12:00:00Z")), utc("2026-07-02T20:00:00Z"), "summer: 20:00 UTC");
    assert_eq!(next_node_slot(utc("2026-03-28T12:00:00Z")), utc("2026-03-29T20:00:00Z"), "the day clocks change");
}
