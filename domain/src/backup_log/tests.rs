use super::*;
use crate::shared::testing::{at, uuid};
use cqrs_es::test::TestFramework;

type LogTest = TestFramework<BackupLog>;

fn vm() -> VmFacts {
    VmFacts { id: VmId(uuid(30)), provisioned_at: at(1, 1), decommissioned_at: None }
}
fn record(id: &str, status: BackupStatus, size: Option<i64>, error: Option<&str>) -> BackupLogCommand {
    BackupLogCommand::Record {
        vm: vm(),
        backup_id: id.into(),
        status,
        started_at: at(2, 1),
        finished_at: at(2, 1) + chrono::Duration::minutes(20),
        size_bytes: size,
        tags: vec!["weekly".into(), "daily".into(), "daily".into()],
        error: error.map(Into::into),
    }
}
fn succeeded() -> BackupLogEvent {
    BackupLogEvent::BackupSucceeded {
        vm_id: vm().id,
        backup_id: "b-1".into(),
        started_at: at(2, 1),
        finished_at: at(2, 1) + chrono::Duration::minutes(20),
        size_bytes: 5_000_000_000,
        tags: vec!["daily".into(), "weekly".into()],
    }
}

#[test]
fn records_a_successful_backup_with_sorted_unique_tags() {
    LogTest::with(())
        .given_no_previous_events()
        .when(record("b-1", BackupStatus::Succeeded, Some(5_000_000_000), None))
        .then_expect_events(vec![succeeded()]);
}

#[test]
fn records_a_failed_backup_with_its_error() {
    LogTest::with(())
        .given_no_previous_events()
        .when(record("b-2", BackupStatus::Failed, None, Some("disk full")))
        .then_expect_events(vec![BackupLogEvent::BackupFailed {
            vm_id: vm().id,
            backup_id: "b-2".into(),
            started_at: at(2, 1),
            finished_at: at(2, 1) + chrono::Duration::minutes(20),
            error: "disk full".into(),
        }]);
}

#[test]
fn refuses_bad_backup_reports() {
    let cases = [
        record("b-1", BackupStatus::Succeeded, None, None),
        record("b-1", BackupStatus::Succeeded, Some(-1), None),
        record("b-1", BackupStatus::Failed, None, None),
        record("has space", BackupStatus::Succeeded, Some(1), None),
        record("", BackupStatus::Succeeded, Some(1), None),
    ];
    for cmd in cases {
        let err = LogTest::with(()).given_no_previous_events().when(cmd.clone()).inspect_result().unwrap_err();
        assert_eq!(err.refusal(), Refusal::BadInput, "{cmd:?}");
    }
    let BackupLogCommand::Record { vm, backup_id, status, started_at, size_bytes, tags, error, .. } =
        record("b-1", BackupStatus::Succeeded, Some(1), None)
    else {
        unreachable!()
    };
    let err = LogTest::with(())
        .given_no_previous_events()
        .when(BackupLogCommand::Record {
            vm,
            backup_id,
            status,
            started_at,
            finished_at: started_at - chrono::Duration::seconds(1),
            size_bytes,
            tags,
            error,
        })
        .inspect_result()
        .unwrap_err();
    assert!(err.to_string().starts_with("finishedAt"), "{err}");
}

#[test]
fn refuses_a_duplicate_backup_id_and_backups_outside_the_vm_lifetime() {
    LogTest::with(())
        .given(vec![succeeded()])
        .when(record("b-1", BackupStatus::Succeeded, Some(1), None))
        .then_expect_error(BackupLogError::AlreadyRecorded("b-1".into()));
    let BackupLogCommand::Record { backup_id, status, started_at, finished_at, size_bytes, tags, error, .. } =
        record("b-3", BackupStatus::Succeeded, Some(1), None)
    else {
        unreachable!()
    };
    LogTest::with(())
        .given_no_previous_events()
        .when(BackupLogCommand::Record {
            vm: VmFacts { decommissioned_at: Some(at(1, 20)), ..vm() },
            backup_id,
            status,
            started_at,
            finished_at,
            size_bytes,
            tags,
            error,
        })
        .then_expect_error(BackupLogError::OutsideVmLifetime { started: at(2, 1) });
}

#[test]
fn expires_a_successful_backup_once() {
    let expired = BackupLogEvent::BackupExpired { backup_id: "b-1".into(), at: at(3, 1) };
    LogTest::with(())
        .given(vec![succeeded()])
        .when(BackupLogCommand::Expire { backup_id: "b-1".into(), at: at(3, 1) })
        .then_expect_events(vec![expired.clone()]);
    LogTest::with(())
        .given(vec![succeeded(), expired])
        .when(BackupLogCommand::Expire { backup_id: "b-1".into(), at: at(3, 2) })
        .then_expect_error(BackupLogError::AlreadyExpired("b-1".into()));
    LogTest::with(())
        .given(vec![succeeded()])
        .when(BackupLogCommand::Expire { backup_id: "b-1".into(), at: at(1, 1) })
        .then_expect_error(BackupLogError::ExpiryBeforeFinish {
            at: at(1, 1),
            finished: at(2, 1) + chrono::Duration::minutes(20),
        });
    LogTest::with(())
        .given_no_previous_events()
        .when(BackupLogCommand::Expire { backup_id: "nope".into(), at: at(3, 1) })
        .then_expect_error(BackupLogError::NotFound("nope".into()));
}

#[test]
fn refuses_to_expire_a_failed_backup() {
    let failed = BackupLogEvent::BackupFailed {
        vm_id: vm().id,
        backup_id: "b-2".into(),
        started_at: at(2, 1),
        finished_at: at(2, 2),
        error: "disk full".into(),
    };
    LogTest::with(())
        .given(vec![failed])
        .when(BackupLogCommand::Expire { backup_id: "b-2".into(), at: at(3, 1) })
        .then_expect_error(BackupLogError::NotSucceeded("b-2".into()));
}
