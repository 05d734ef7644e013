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
        },
        MaintenanceCommand::Schedule {
            id,
            project: none.clone(),
            start,
            end: start + chrono::Duration::days(32),
            announced_at,
            reason: reason.clone(),
            now,
        },
        MaintenanceCommand::Schedule {
            id,
            project: none.clone(),
            start,
            end: at(3, 11),
            announced_at: at(3, 10),
            reason: reason.clone(),
            now,
        },
        MaintenanceCommand::Schedule {
            id,
            project: none.clone(),
            start,
            end: at(3, 11),
            announced_at,
            reason: " ".into(),
            now,
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
