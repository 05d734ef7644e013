use super::*;
use crate::shared::testing::{at, uuid};
use cqrs_es::test::TestFramework;

type MonitorTest = TestFramework<HttpMonitor>;

fn project() -> ProjectFacts {
    ProjectFacts { id: ProjectId(uuid(2)), customer_id: CustomerId(uuid(1)), archived: false, monitors: 3 }
}
fn spec() -> MonitorSpec {
    MonitorSpec {
        url: "https://shop.example.com/health".into(),
        follow_redirects: true,
        max_redirects: 5,
        expected_status: "200-299,301".into(),
        interval_seconds: 60,
        timeout_seconds: 10,
    }
}
fn config() -> MonitorConfig {
    spec().validate().unwrap()
}
fn created() -> HttpMonitorEvent {
    HttpMonitorEvent::HttpMonitorCreated {
        checked_by: Default::default(),
        id: MonitorId(uuid(9)),
        project_id: project().id,
        customer_id: project().customer_id,
        config: config(),
        effective_at: at(1, 1),
    }
}
fn down(day: u32) -> HttpMonitorEvent {
    HttpMonitorEvent::MonitorWentDown {
        at: at(1, day),
        observed_status: Some(503),
        redirect_chain: vec![Hop { status: 301, location: "https://shop.example.com/health/".into() }],
        error: None,
    }
}
fn up(day: u32) -> HttpMonitorEvent {
    HttpMonitorEvent::MonitorRecovered { at: at(1, day), observed_status: Some(200), redirect_chain: vec![] }
}
fn transition(state: Observed, day: u32) -> MonitorCommand {
    MonitorCommand::RecordTransition {
        state,
        at: at(1, day),
        observed_status: Some(if state == Observed::Up { 200 } else { 503 }),
        redirect_chain: if state == Observed::Down {
            vec![Hop { status: 301, location: "https://shop.example.com/health/".into() }]
        } else {
            vec![]
        },
        error: None,
    }
}
fn fold(events: &[HttpMonitorEvent]) -> HttpMonitor {
    let mut m = HttpMonitor::default();
    for e in events {
        evolve(&mut m, e);
    }
    m
}

#[test]
fn creates_a_monitor_with_a_canonical_configuration() {
    MonitorTest::with(())
        .given_no_previous_events()
        .when(MonitorCommand::Create {
            checked_by: Checker::Directory,
            id: MonitorId(uuid(9)),
            project: project(),
            spec: MonitorSpec { expected_status: "301, 200-299".into(), ..spec() },
            effective_at: at(1, 1),
        })
        .then_expect_events(vec![created()]);
    assert_eq!(fold(&[created()]).state(), MonitorState::Unknown, "unknown until its first result");
}

#[test]
fn refuses_bad_configurations() {
    let cases = [
        MonitorSpec { url: "ftp://example.com".into(), ..spec() },
        MonitorSpec { url: "not a url".into(), ..spec() },
        MonitorSpec { url: "https://user:secret@example.com/".into(), ..spec() },
        MonitorSpec { url: format!("https://example.com/{}", "a".repeat(MAX_URL)), ..spec() },
        MonitorSpec { expected_status: "200-".into(), ..spec() },
        MonitorSpec { expected_status: "700".into(), ..spec() },
        MonitorSpec { interval_seconds: 4, ..spec() },
        MonitorSpec { interval_seconds: 86_401, ..spec() },
        MonitorSpec { timeout_seconds: 0, ..spec() },
        MonitorSpec { timeout_seconds: 61, ..spec() },
        MonitorSpec { max_redirects: -1, ..spec() },
        MonitorSpec { max_redirects: 21, ..spec() },
    ];
    for spec in cases {
        let cmd = MonitorCommand::Create {
            checked_by: Checker::Directory,
            id: MonitorId(uuid(9)),
            project: project(),
            spec,
            effective_at: at(1, 1),
        };
        let err = MonitorTest::with(()).given_no_previous_events().when(cmd.clone()).inspect_result().unwrap_err();
        assert_eq!(err.refusal(), Refusal::BadInput, "{cmd:?}");
    }
    MonitorTest::with(())
        .given_no_previous_events()
        .when(MonitorCommand::Create {
            checked_by: Checker::Directory,
            id: MonitorId(uuid(9)),
            project: ProjectFacts { archived: true, ..project() },
            spec: spec(),
            effective_at: at(1, 1),
        })
        .then_expect_error(MonitorError::ProjectArchived);
    let create = |monitors| MonitorCommand::Create {
        checked_by: Checker::Directory,
        id: MonitorId(uuid(9)),
        project: ProjectFacts { monitors, ..project() },
        spec: spec(),
        effective_at: at(1, 1),
    };
    MonitorTest::with(())
        .given_no_previous_events()
        .when(create(MAX_PER_PROJECT))
        .then_expect_error(MonitorError::TooManyMonitors);
    MonitorTest::with(())
        .given_no_previous_events()
        .when(create(MAX_PER_PROJECT - 1))
        .then_expect_events(vec![created()]);
    MonitorTest::with(())
        .given(vec![created()])
        .when(MonitorCommand::Create {
            checked_by: Checker::Directory,
            id: MonitorId(uuid(9)),
            project: project(),
            spec: spec(),
            effective_at: at(1, 1),
        })
        .then_expect_error(MonitorError::AlreadyExists);
}

#[test]
fn reconfigures_pauses_and_resumes() {
    let changes = MonitorChanges { interval_seconds: Some(30), paused: Some(true), ..MonitorChanges::default() };
    MonitorTest::with(())
        .given(vec![created()])
        .when(MonitorCommand::Reconfigure { changes, at: at(1, 5) })
        .then_expect_events(vec![
            HttpMonitorEvent::HttpMonitorReconfigured {
                config: MonitorConfig { interval_seconds: 30, ..config() },
                at: at(1, 5),
            },
            HttpMonitorEvent::HttpMonitorPaused { at: at(1, 5) },
        ]);
    let paused = [created(), HttpMonitorEvent::HttpMonitorPaused { at: at(1, 5) }];
    assert_eq!(fold(&paused).state(), MonitorState::Paused);
    MonitorTest::with(())
        .given(paused.to_vec())
        .when(MonitorCommand::Reconfigure {
            changes: MonitorChanges { paused: Some(false), ..Default::default() },
            at: at(1, 6),
        })
        .then_expect_events(vec![HttpMonitorEvent::HttpMonitorResumed { at: at(1, 6) }]);
    MonitorTest::with(())
        .given(vec![created()])
        .when(MonitorCommand::Reconfigure {
            changes: MonitorChanges {
                expected_status: Some("200-299, 301".into()),
                paused: Some(false),
                ..Default::default()
            },
            at: at(1, 6),
        })
        .then_expect_error(MonitorError::NothingChanged);
    MonitorTest::with(())
        .given(vec![created()])
        .when(MonitorCommand::Reconfigure {
            changes: MonitorChanges { timeout_seconds: Some(0), ..Default::default() },
            at: at(1, 6),
        })
        .then_expect_error(MonitorError::Invalid(Invalid::new(
            "timeoutSeconds",
            "must be between 1 and 60 seconds, got 0",
        )));
}

#[test]
fn records_transitions_with_their_evidence() {
    MonitorTest::with(()).given(vec![created()]).when(transition(Observed::Down, 3)).then_expect_events(vec![down(3)]);
    MonitorTest::with(())
        .given(vec![created(), down(3)])
        .when(transition(Observed::Up, 4))
        .then_expect_events(vec![up(4)]);
    let m = fold(&[created(), down(3), up(4)]);
    assert_eq!(m.state(), MonitorState::Up);
    assert_eq!(m.observed_at(at(1, 3)), Some(Observed::Down));
}

#[test]
fn an_imported_past_transition_lands_in_effective_order() {
    let m = fold(&[created(), down(10), up(11), down(5), up(6)]);
    let order: Vec<_> = m.transitions.iter().map(|t| (t.at, t.state)).collect();
    assert_eq!(
        order,
        vec![
            (at(1, 5), Observed::Down),
            (at(1, 6), Observed::Up),
            (at(1, 10), Observed::Down),
            (at(1, 11), Observed::Up)
        ]
    );
    assert_eq!(m.state(), MonitorState::Up, "the latest transition decides the state now");
}

#[test]
fn refuses_transitions_that_change_nothing_or_fall_outside_checking() {
    MonitorTest::with(())
        .given(vec![created(), down(3)])
        .when(transition(Observed::Down, 4))
        .then_expect_error(MonitorError::AlreadyInState { state: Observed::Down, at: at(1, 4) });
    let before = MonitorCommand::RecordTransition {
        state: Observed::Down,
        at: at(1, 1) - chrono::Duration::days(1),
        observed_status: None,
        redirect_chain: vec![],
        error: Some("timeout".into()),
    };
    MonitorTest::with(())
        .given(vec![created()])
        .when(before)
        .then_expect_error(MonitorError::NotChecked(at(1, 1) - chrono::Duration::days(1)));
    MonitorTest::with(())
        .given(vec![created(), HttpMonitorEvent::HttpMonitorPaused { at: at(1, 2) }])
        .when(transition(Observed::Down, 3))
        .then_expect_error(MonitorError::NotChecked(at(1, 3)));
    MonitorTest::with(())
        .given(vec![created(), HttpMonitorEvent::HttpMonitorDeleted { at: at(1, 2) }])
        .when(transition(Observed::Down, 3))
        .then_expect_error(MonitorError::Deleted(at(1, 2)));
    for bad in [Some(99), Some(600)] {
        let cmd = MonitorCommand::RecordTransition {
            state: Observed::Down,
            at: at(1, 3),
            observed_status: bad,
            redirect_chain: vec![],
            error: None,
        };
        let err = MonitorTest::with(()).given(vec![created()]).when(cmd).inspect_result().unwrap_err();
        assert_eq!(err.refusal(), Refusal::BadInput);
    }
    MonitorTest::with(())
        .given_no_previous_events()
        .when(transition(Observed::Up, 3))
        .then_expect_error(MonitorError::NotFound);
}

#[test]
fn a_deleted_monitor_takes_no_more_changes() {
    MonitorTest::with(())
        .given(vec![created()])
        .when(MonitorCommand::Delete { at: at(1, 9) })
        .then_expect_events(vec![HttpMonitorEvent::HttpMonitorDeleted { at: at(1, 9) }]);
    MonitorTest::with(())
        .given(vec![created(), HttpMonitorEvent::HttpMonitorDeleted { at: at(1, 9) }])
        .when(MonitorCommand::Reconfigure {
            changes: MonitorChanges { paused: Some(true), ..Default::default() },
            at: at(1, 10),
        })
        .then_expect_error(MonitorError::Deleted(at(1, 9)));
    let m = fold(&[created(), HttpMonitorEvent::HttpMonitorDeleted { at: at(1, 9) }]);
    assert!(m.active_at(at(1, 8)) && !m.active_at(at(1, 9)));
}

#[test]
fn a_pause_is_corrected_back_to_any_instant_of_its_life() {
    let deleted = HttpMonitorEvent::HttpMonitorDeleted { at: at(1, 9) };
    let pause_from =
        |paused, day| MonitorChanges { paused: Some(paused), paused_from: Some(at(1, day)), ..Default::default() };
    // Recorded after the deletion, effective before it.
    MonitorTest::with(())
        .given(vec![created(), deleted.clone()])
        .when(MonitorCommand::Reconfigure { changes: pause_from(true, 3), at: at(1, 10) })
        .then_expect_events(vec![HttpMonitorEvent::HttpMonitorPaused { at: at(1, 3) }]);
    MonitorTest::with(())
        .given(vec![created(), deleted.clone()])
        .when(MonitorCommand::Reconfigure { changes: pause_from(true, 9), at: at(1, 10) })
        .then_expect_error(MonitorError::Deleted(at(1, 9)));
    MonitorTest::with(())
        .given(vec![created()])
        .when(MonitorCommand::Reconfigure {
            changes: MonitorChanges {
                paused: Some(true),
                paused_from: Some(at(1, 1) - chrono::Duration::days(1)),
                ..Default::default()
            },
            at: at(1, 10),
        })
        .then_expect_error(MonitorError::BeforeCreation { at: at(1, 1) - chrono::Duration::days(1), since: at(1, 1) });
    // A pause from the 3rd and a resume on the 5th, both recorded on the 10th after a later
    // pause: the monitor was checked before the 3rd and from the 5th to the 7th.
    let late_pause = HttpMonitorEvent::HttpMonitorPaused { at: at(1, 7) };
    MonitorTest::with(())
        .given(vec![created(), late_pause.clone(), HttpMonitorEvent::HttpMonitorPaused { at: at(1, 3) }])
        .when(MonitorCommand::Reconfigure { changes: pause_from(false, 5), at: at(1, 10) })
        .then_expect_events(vec![HttpMonitorEvent::HttpMonitorResumed { at: at(1, 5) }]);
    let m = fold(&[
        created(),
        late_pause,
        HttpMonitorEvent::HttpMonitorPaused { at: at(1, 3) },
        HttpMonitorEvent::HttpMonitorResumed { at: at(1, 5) },
    ]);
    let checked: Vec<bool> = [2, 4, 6, 8].iter().map(|d| m.active_at(at(1, *d))).collect();
    assert_eq!(checked, [true, false, true, false]);
    assert_eq!(m.state(), MonitorState::Paused, "the latest pause holds now");
}
