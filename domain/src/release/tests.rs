use super::*;
use crate::shared::testing::{at, uuid};
use chrono::TimeZone;
use cqrs_es::test::TestFramework;

type ReleaseTest = TestFramework<Release>;

fn utc(y: i32, m: u32, d: u32, h: u32) -> Instant {
    chrono::Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
}
fn week(s: &str) -> IsoWeek {
    s.parse().unwrap()
}
fn scheduled() -> ReleaseEvent {
    ReleaseEvent::ReleaseScheduled {
        id: ReleaseId(uuid(5)),
        channel: "stable".into(),
        week: week("2026-W14"),
        window_start: utc(2026, 3, 30, 19),
        decision_due: utc(2026, 3, 30, 13),
        changelog: "Kernel 6.12".into(),
        scheduled_at: at(3, 20),
    }
}
fn inputs(at: Instant) -> PolicyInputs {
    PolicyInputs {
        at,
        open_vetoes: vec![],
        platform_monitors_down: vec![],
        scheduled_at: at_scheduled(),
        min_soak_hours: 72,
    }
}
fn at_scheduled() -> Instant {
    at(3, 20)
}

#[test]
fn the_window_opens_monday_at_21_berlin_time_across_both_dst_changes() {
    assert_eq!(week("2026-W13").window_start(), utc(2026, 3, 23, 20), "winter time: 20:00Z");
    assert_eq!(week("2026-W14").window_start(), utc(2026, 3, 30, 19), "summer time from 29 March: 19:00Z");
    assert_eq!(week("2026-W43").window_start(), utc(2026, 10, 19, 19));
    assert_eq!(week("2026-W44").window_start(), utc(2026, 10, 26, 20), "winter time again from 25 October");
    assert_eq!(week("2026-W53").window_start(), utc(2026, 12, 28, 20), "2026 has 53 ISO weeks");
    assert_eq!(week("2027-W01").window_start(), utc(2027, 1, 4, 20));
    assert_eq!(week("2026-W01").window_start(), utc(2025, 12, 29, 20), "week 1 may start in December");
    // Around the last Sundays of March and October in other years.
    for (w, expected) in [
        ("2027-W12", utc(2027, 3, 22, 20)),
        ("2027-W13", utc(2027, 3, 29, 19)),
        ("2027-W43", utc(2027, 10, 25, 19)),
        ("2027-W44", utc(2027, 11, 1, 20)),
        ("2028-W12", utc(2028, 3, 20, 20)),
        ("2028-W13", utc(2028, 3, 27, 19)),
        ("2028-W43", utc(2028, 10, 23, 19)),
        ("2028-W44", utc(2028, 10, 30, 20)),
        ("2020-W53", utc(2020, 12, 28, 20)),
        ("2021-W01", utc(2021, 1, 4, 20)),
    ] {
        assert_eq!(week(w).window_start(), expected, "{w}");
    }
    assert!("2027-W53".parse::<IsoWeek>().is_err(), "2027 has 52 weeks");
    for bad in ["2025-W53", "2026-W00", "2026-W54", "2026-48", "W48", "2026-Wx", ""] {
        assert!(bad.parse::<IsoWeek>().is_err(), "{bad:?}");
    }
    assert_eq!(IsoWeek::of(utc(2026, 12, 31, 12)).to_string(), "2026-W53");
}

#[test]
fn schedules_with_the_decision_due_a_lead_time_before_the_window() {
    ReleaseTest::with(())
        .given_no_previous_events()
        .when(ReleaseCommand::Schedule {
            id: ReleaseId(uuid(5)),
            channel: "stable".into(),
            week: week("2026-W14"),
            changelog: "Kernel 6.12".into(),
            lead_hours: DEFAULT_LEAD_HOURS,
            now: at(3, 20),
        })
        .then_expect_events(vec![scheduled()]);
    ReleaseTest::with(())
        .given_no_previous_events()
        .when(ReleaseCommand::Schedule {
            id: ReleaseId(uuid(5)),
            channel: "stable".into(),
            week: week("2026-W14"),
            changelog: "late".into(),
            lead_hours: 6,
            now: utc(2026, 3, 30, 19),
        })
        .then_expect_error(ReleaseError::WindowOpen(utc(2026, 3, 30, 19)));
    let err = ReleaseTest::with(())
        .given_no_previous_events()
        .when(ReleaseCommand::Schedule {
            id: ReleaseId(uuid(5)),
            channel: "Stable Channel".into(),
            week: week("2026-W14"),
            changelog: "x".into(),
            lead_hours: 6,
            now: at(3, 20),
        })
        .inspect_result()
        .unwrap_err();
    assert_eq!(err.refusal(), Refusal::BadInput);
}

#[test]
fn the_policy_approves_when_every_condition_holds_and_lists_every_failed_one() {
    let due = utc(2026, 3, 30, 13);
    ReleaseTest::with(())
        .given(vec![scheduled()])
        .when(ReleaseCommand::DecideByPolicy { inputs: inputs(due) })
        .then_expect_events(vec![ReleaseEvent::ReleaseApproved {
            by: DecidedBy::Policy,
            at: due,
            reason: None,
            inputs: Some(inputs(due)),
        }]);
    let bad = PolicyInputs {
        open_vetoes: vec!["ops: storage migration".into()],
        platform_monitors_down: vec![MonitorId(uuid(8))],
        scheduled_at: due - chrono::Duration::hours(10),
        ..inputs(due)
    };
    let verdict = policy(&bad);
    assert!(!verdict.approve);
    assert_eq!(verdict.failed_conditions.len(), 3, "{:?}", verdict.failed_conditions);
    assert!(verdict.failed_conditions[2].contains("10 h"));
    ReleaseTest::with(())
        .given(vec![scheduled()])
        .when(ReleaseCommand::DecideByPolicy { inputs: bad.clone() })
        .then_expect_events(vec![ReleaseEvent::ReleaseHeld {
            by: DecidedBy::Policy,
            at: due,
            failed_conditions: verdict.failed_conditions,
            reason: None,
            inputs: Some(bad),
        }]);
    ReleaseTest::with(())
        .given(vec![scheduled()])
        .when(ReleaseCommand::DecideByPolicy { inputs: inputs(due - chrono::Duration::seconds(1)) })
        .then_expect_error(ReleaseError::NotDue { due, at: due - chrono::Duration::seconds(1) });
}

#[test]
fn the_first_decision_wins() {
    let by_hand = ReleaseEvent::ReleaseHeld {
        by: DecidedBy::Staff("ops-1".into()),
        at: at(3, 25),
        failed_conditions: vec![],
        reason: Some("storage migration".into()),
        inputs: None,
    };
    ReleaseTest::with(())
        .given(vec![scheduled()])
        .when(ReleaseCommand::DecideByHand {
            by: "ops-1".into(),
            approve: false,
            reason: "storage migration".into(),
            at: at(3, 25),
        })
        .then_expect_events(vec![by_hand.clone()]);
    ReleaseTest::with(())
        .given(vec![scheduled(), by_hand])
        .when(ReleaseCommand::DecideByPolicy { inputs: inputs(utc(2026, 3, 30, 13)) })
        .then_expect_error(ReleaseError::AlreadyDecided { approve: false, at: at(3, 25) });
    ReleaseTest::with(())
        .given(vec![scheduled()])
        .when(ReleaseCommand::DecideByHand {
            by: "ops-1".into(),
            approve: true,
            reason: "x".into(),
            at: utc(2026, 3, 30, 19),
        })
        .then_expect_error(ReleaseError::WindowOpen(utc(2026, 3, 30, 19)));
}

#[test]
fn vetoes_are_raised_and_withdrawn_once_each() {
    let vetoed = ReleaseEvent::ReleaseVetoed { by: "p-1".into(), reason: "freeze".into(), at: at(3, 21) };
    ReleaseTest::with(())
        .given(vec![scheduled()])
        .when(ReleaseCommand::Veto { by: "p-1".into(), reason: "freeze".into(), at: at(3, 21) })
        .then_expect_events(vec![vetoed.clone()]);
    ReleaseTest::with(())
        .given(vec![scheduled(), vetoed.clone()])
        .when(ReleaseCommand::Veto { by: "p-1".into(), reason: "again".into(), at: at(3, 22) })
        .then_expect_error(ReleaseError::AlreadyVetoed("p-1".into()));
    ReleaseTest::with(())
        .given(vec![scheduled(), vetoed.clone()])
        .when(ReleaseCommand::WithdrawVeto { by: "p-1".into(), at: at(3, 22) })
        .then_expect_events(vec![ReleaseEvent::VetoWithdrawn { by: "p-1".into(), at: at(3, 22) }]);
    ReleaseTest::with(())
        .given(vec![scheduled()])
        .when(ReleaseCommand::WithdrawVeto { by: "p-2".into(), at: at(3, 22) })
        .then_expect_error(ReleaseError::NoOpenVeto("p-2".into()));
    let mut r = Release::default();
    for e in [scheduled(), vetoed] {
        evolve(&mut r, &e);
    }
    assert_eq!(r.open_vetoes(at(3, 21)), vec!["p-1: freeze".to_owned()]);
    assert!(r.open_vetoes(at(3, 20)).is_empty(), "not raised yet");
    evolve(&mut r, &ReleaseEvent::VetoWithdrawn { by: "p-1".into(), at: at(3, 22) });
    assert_eq!(r.open_vetoes(at(3, 21)), vec!["p-1: freeze".to_owned()], "open until withdrawn");
    assert!(r.open_vetoes(at(3, 22)).is_empty());
}

#[test]
fn channels_are_named_as_the_platform_names_them() {
    for good in ["fc-24.05-production", "fc-24.11-dev", "fc_23.11_staging", "Stable", "7"] {
        assert_eq!(channel(good).as_deref(), Ok(good), "{good}");
    }
    for bad in ["", "-fc", ".fc", "fc 24.05", "fc/24.05", "fc-24.05\nproduction", "ü", &"x".repeat(65)] {
        assert!(channel(bad).is_err(), "{bad:?}");
    }
    let configure = |name: &str| ChannelCommand::Configure {
        channel: name.into(),
        lead_hours: 6,
        min_soak_hours: 72,
        platform_project: None,
    };
    assert!(decide_channel(&ReleaseChannel::default(), configure("fc-24.05-production")).is_ok());
}

fn approved(at: Instant) -> ReleaseEvent {
    ReleaseEvent::ReleaseApproved { by: DecidedBy::Policy, at, reason: None, inputs: Some(inputs(at)) }
}

#[test]
fn a_release_is_cancelled_before_its_window_and_then_takes_no_decision() {
    let cancel =
        |d: u32| ReleaseCommand::Cancel { by: "ops".into(), reason: "regression in 6.12".into(), at: at(3, d) };
    let cancelled =
        ReleaseEvent::ReleaseCancelled { by: "ops".into(), reason: "regression in 6.12".into(), at: at(3, 25) };
    ReleaseTest::with(()).given(vec![scheduled()]).when(cancel(25)).then_expect_events(vec![cancelled.clone()]);
    // Approved, it may still be called off before the window.
    ReleaseTest::with(())
        .given(vec![scheduled(), approved(utc(2026, 3, 30, 13))])
        .when(ReleaseCommand::Cancel { by: "ops".into(), reason: "x".into(), at: utc(2026, 3, 30, 14) })
        .then_expect_events(vec![ReleaseEvent::ReleaseCancelled {
            by: "ops".into(),
            reason: "x".into(),
            at: utc(2026, 3, 30, 14),
        }]);
    ReleaseTest::with(())
        .given(vec![scheduled()])
        .when(ReleaseCommand::Cancel { by: "ops".into(), reason: "x".into(), at: utc(2026, 3, 30, 19) })
        .then_expect_error(ReleaseError::WindowOpen(utc(2026, 3, 30, 19)));
    ReleaseTest::with(())
        .given(vec![scheduled(), cancelled.clone()])
        .when(cancel(26))
        .then_expect_error(ReleaseError::Cancelled(at(3, 25)));
    ReleaseTest::with(())
        .given(vec![scheduled(), cancelled.clone()])
        .when(ReleaseCommand::DecideByPolicy { inputs: inputs(utc(2026, 3, 30, 13)) })
        .then_expect_error(ReleaseError::Cancelled(at(3, 25)));
    ReleaseTest::with(())
        .given(vec![scheduled(), cancelled])
        .when(ReleaseCommand::Veto { by: "p".into(), reason: "no".into(), at: at(3, 26) })
        .then_expect_error(ReleaseError::Cancelled(at(3, 25)));
    let err = ReleaseTest::with(())
        .given(vec![scheduled()])
        .when(ReleaseCommand::Cancel { by: "ops".into(), reason: " ".into(), at: at(3, 25) })
        .inspect_result()
        .unwrap_err();
    assert_eq!(err.refusal(), Refusal::BadInput);
}

#[test]
fn only_an_approved_release_rolls_out_after_its_window_opened_and_once() {
    let window = utc(2026, 3, 30, 19);
    let roll = |at: Instant| ReleaseCommand::MarkRolledOut { by: "ops".into(), at, now: utc(2026, 3, 31, 8) };
    let ready = [scheduled(), approved(utc(2026, 3, 30, 13))];
    let done = ReleaseEvent::ReleaseRolledOut { by: "ops".into(), at: utc(2026, 3, 30, 23) };
    ReleaseTest::with(()).given(ready.to_vec()).when(roll(utc(2026, 3, 30, 23))).then_expect_events(vec![done.clone()]);
    ReleaseTest::with(())
        .given(ready.to_vec())
        .when(roll(utc(2026, 3, 30, 18)))
        .then_expect_error(ReleaseError::WindowNotOpen { window, at: utc(2026, 3, 30, 18) });
    ReleaseTest::with(())
        .given(ready.to_vec())
        .when(roll(utc(2026, 3, 31, 9)))
        .then_expect_error(ReleaseError::InTheFuture { at: utc(2026, 3, 31, 9) });
    ReleaseTest::with(())
        .given(vec![scheduled(), approved(utc(2026, 3, 30, 13)), done])
        .when(roll(utc(2026, 3, 31, 1)))
        .then_expect_error(ReleaseError::AlreadyRolledOut(utc(2026, 3, 30, 23)));
    ReleaseTest::with(())
        .given(vec![scheduled()])
        .when(roll(utc(2026, 3, 30, 23)))
        .then_expect_error(ReleaseError::NotApproved);
    let held = ReleaseEvent::ReleaseHeld {
        by: DecidedBy::Policy,
        at: utc(2026, 3, 30, 13),
        failed_conditions: vec!["open vetoes: x".into()],
        reason: None,
        inputs: None,
    };
    ReleaseTest::with(())
        .given(vec![scheduled(), held])
        .when(roll(utc(2026, 3, 30, 23)))
        .then_expect_error(ReleaseError::NotApproved);
    let mut r = Release::default();
    for e in
        [scheduled(), approved(utc(2026, 3, 30, 13)), ReleaseEvent::ReleaseRolledOut { by: "ops".into(), at: window }]
    {
        evolve(&mut r, &e);
    }
    assert_eq!(r.rolled_out_at, Some(window));
}
