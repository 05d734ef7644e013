use super::*;
use crate::shared::testing::{at, uuid};
use cqrs_es::test::TestFramework;

type ProjectTest = TestFramework<Project>;

fn id() -> ProjectId {
    ProjectId(uuid(20))
}
fn customer() -> CustomerFacts {
    CustomerFacts { id: CustomerId(uuid(1)), closed: false }
}
fn create(parent: Option<ParentFacts>) -> ProjectCommand {
    ProjectCommand::Create {
        id: id(),
        customer: customer(),
        parent,
        name: "Shop".into(),
        sla_class: SlaClass::Standard,
        resource_group: "shop".into(),
        effective_at: at(1, 1),
    }
}
fn created() -> ProjectEvent {
    ProjectEvent::ProjectCreated {
        id: id(),
        customer_id: customer().id,
        parent_id: None,
        name: "Shop".into(),
        sla_class: SlaClass::Standard,
        effective_at: at(1, 1),
        resource_group: Some("shop".into()),
    }
}

#[test]
fn creates_a_root_project_and_a_child() {
    ProjectTest::with(()).given_no_previous_events().when(create(None)).then_expect_events(vec![created()]);
    let parent = ParentFacts { id: ProjectId(uuid(21)), customer_id: customer().id, archived: false };
    let ProjectEvent::ProjectCreated { id, customer_id, name, sla_class, effective_at, resource_group, .. } = created()
    else {
        unreachable!()
    };
    ProjectTest::with(()).given_no_previous_events().when(create(Some(parent))).then_expect_events(vec![
        ProjectEvent::ProjectCreated {
            id,
            customer_id,
            parent_id: Some(ProjectId(uuid(21))),
            name,
            sla_class,
            effective_at,
            resource_group,
        },
    ]);
}

#[test]
fn refuses_a_parent_of_another_customer_an_archived_parent_a_closed_customer_and_duplicates() {
    let foreign = ParentFacts { id: ProjectId(uuid(21)), customer_id: CustomerId(uuid(2)), archived: false };
    ProjectTest::with(())
        .given_no_previous_events()
        .when(create(Some(foreign)))
        .then_expect_error(ProjectError::ParentOfAnotherCustomer(CustomerId(uuid(2))));
    let archived = ParentFacts { id: ProjectId(uuid(21)), customer_id: customer().id, archived: true };
    ProjectTest::with(())
        .given_no_previous_events()
        .when(create(Some(archived)))
        .then_expect_error(ProjectError::ParentArchived(ProjectId(uuid(21))));
    let ProjectCommand::Create { id, parent, name, sla_class, resource_group, effective_at, .. } = create(None) else {
        unreachable!()
    };
    ProjectTest::with(())
        .given_no_previous_events()
        .when(ProjectCommand::Create {
            id,
            customer: CustomerFacts { closed: true, ..customer() },
            parent,
            name,
            sla_class,
            resource_group,
            effective_at,
        })
        .then_expect_error(ProjectError::CustomerClosed(customer().id));
    ProjectTest::with(()).given(vec![created()]).when(create(None)).then_expect_error(ProjectError::AlreadyExists(id));
}

#[test]
fn renames_and_changes_the_sla_class_from_an_effective_instant() {
    ProjectTest::with(())
        .given(vec![created()])
        .when(ProjectCommand::Rename { name: "Web shop".into() })
        .then_expect_events(vec![ProjectEvent::ProjectRenamed { name: "Web shop".into() }]);
    ProjectTest::with(())
        .given(vec![created()])
        .when(ProjectCommand::ChangeSlaClass { sla_class: SlaClass::Premium, effective_at: at(2, 1) })
        .then_expect_events(vec![ProjectEvent::SlaClassChanged {
            sla_class: SlaClass::Premium,
            effective_at: at(2, 1),
        }]);
    ProjectTest::with(())
        .given(vec![created()])
        .when(ProjectCommand::ChangeSlaClass {
            sla_class: SlaClass::Premium,
            effective_at: at(1, 1) - chrono::Duration::hours(1),
        })
        .then_expect_error(ProjectError::BeforeCreation { at: at(1, 1) - chrono::Duration::hours(1), since: at(1, 1) });
}

#[test]
fn keeps_the_sla_timeline_in_effective_order() {
    let mut p = Project::default();
    evolve(&mut p, &created());
    evolve(&mut p, &ProjectEvent::SlaClassChanged { sla_class: SlaClass::Premium, effective_at: at(3, 1) });
    evolve(&mut p, &ProjectEvent::SlaClassChanged { sla_class: SlaClass::Basic, effective_at: at(2, 1) });
    assert_eq!(
        p.sla_timeline,
        vec![(at(1, 1), SlaClass::Standard), (at(2, 1), SlaClass::Basic), (at(3, 1), SlaClass::Premium)]
    );
    assert_eq!(p.sla_class(), Some(SlaClass::Premium));
}

#[test]
fn adds_and_removes_deployments_with_slug_names() {
    ProjectTest::with(())
        .given(vec![created()])
        .when(ProjectCommand::AddDeployment { name: "shop-prod".into(), environment: "production".into() })
        .then_expect_events(vec![ProjectEvent::DeploymentAdded {
            name: "shop-prod".into(),
            environment: "production".into(),
        }]);
    let added = ProjectEvent::DeploymentAdded { name: "shop-prod".into(), environment: "production".into() };
    ProjectTest::with(())
        .given(vec![created(), added.clone()])
        .when(ProjectCommand::AddDeployment { name: "shop-prod".into(), environment: "staging".into() })
        .then_expect_error(ProjectError::DeploymentExists("shop-prod".into()));
    ProjectTest::with(())
        .given(vec![created(), added])
        .when(ProjectCommand::RemoveDeployment { name: "shop-prod".into() })
        .then_expect_events(vec![ProjectEvent::DeploymentRemoved { name: "shop-prod".into() }]);
    ProjectTest::with(())
        .given(vec![created()])
        .when(ProjectCommand::RemoveDeployment { name: "nope".into() })
        .then_expect_error(ProjectError::NoSuchDeployment("nope".into()));
    for bad in ["Shop Prod", "../etc", "", "-x"] {
        let err = ProjectTest::with(())
            .given(vec![created()])
            .when(ProjectCommand::AddDeployment { name: bad.into(), environment: "production".into() })
            .inspect_result()
            .unwrap_err();
        assert_eq!(err.refusal(), Refusal::BadInput, "{bad:?}");
    }
}

#[test]
fn archives_once_and_then_refuses_changes() {
    let archived = ProjectEvent::ProjectArchived { effective_at: at(6, 1) };
    ProjectTest::with(())
        .given(vec![created()])
        .when(ProjectCommand::Archive { effective_at: at(6, 1) })
        .then_expect_events(vec![archived.clone()]);
    ProjectTest::with(())
        .given(vec![created(), archived])
        .when(ProjectCommand::Rename { name: "X".into() })
        .then_expect_error(ProjectError::Archived);
    ProjectTest::with(())
        .given_no_previous_events()
        .when(ProjectCommand::Archive { effective_at: at(6, 1) })
        .then_expect_error(ProjectError::NotFound);
}

#[test]
fn an_sla_class_change_inside_its_life_is_accepted_after_a_later_archive_was_recorded() {
    let archived = ProjectEvent::ProjectArchived { effective_at: at(6, 1) };
    ProjectTest::with(())
        .given(vec![created(), archived.clone()])
        .when(ProjectCommand::ChangeSlaClass { sla_class: SlaClass::Premium, effective_at: at(3, 1) })
        .then_expect_events(vec![ProjectEvent::SlaClassChanged {
            sla_class: SlaClass::Premium,
            effective_at: at(3, 1),
        }]);
    ProjectTest::with(())
        .given(vec![created(), archived])
        .when(ProjectCommand::ChangeSlaClass { sla_class: SlaClass::Premium, effective_at: at(6, 1) })
        .then_expect_error(ProjectError::ArchivedSince(at(6, 1)));
}

#[test]
fn marks_a_deployments_secrets_rekeyed() {
    let created = ProjectEvent::ProjectCreated {
        id: ProjectId(uuid(2)),
        customer_id: CustomerId(uuid(1)),
        parent_id: None,
        name: "Shop".into(),
        sla_class: SlaClass::Basic,
        effective_at: at(1, 1),
        resource_group: None,
    };
    let added = ProjectEvent::DeploymentAdded { name: "app".into(), environment: "production".into() };
    ProjectTest::with(())
        .given(vec![created.clone(), added])
        .when(ProjectCommand::MarkSecretsRekeyed { deployment: "app".into(), at: at(2, 1) })
        .then_expect_events(vec![ProjectEvent::SecretsRekeyed { deployment: "app".into(), at: at(2, 1) }]);
    ProjectTest::with(())
        .given(vec![created])
        .when(ProjectCommand::MarkSecretsRekeyed { deployment: "app".into(), at: at(2, 1) })
        .then_expect_error(ProjectError::NoSuchDeployment("app".into()));
}

#[test]
fn internal_monitor_targets_are_allowed_and_stopped_once_each() {
    let allow = |allowed| ProjectCommand::AllowInternalMonitorTargets { allowed };
    ProjectTest::with(())
        .given(vec![created()])
        .when(allow(true))
        .then_expect_events(vec![ProjectEvent::InternalMonitorTargetsAllowed { allowed: true }]);
    ProjectTest::with(()).given(vec![created()]).when(allow(false)).then_expect_events(vec![]);
    ProjectTest::with(())
        .given(vec![created(), ProjectEvent::InternalMonitorTargetsAllowed { allowed: true }])
        .when(allow(false))
        .then_expect_events(vec![ProjectEvent::InternalMonitorTargetsAllowed { allowed: false }]);
}

#[test]
fn a_resource_group_is_a_platform_name_and_old_projects_get_one_from_their_id() {
    let ProjectCommand::Create { id, customer, parent, name, sla_class, effective_at, .. } = create(None) else {
        unreachable!()
    };
    let err = ProjectTest::with(())
        .given_no_previous_events()
        .when(ProjectCommand::Create {
            id,
            customer,
            parent,
            name,
            sla_class,
            resource_group: "Shop Prod".into(),
            effective_at,
        })
        .inspect_result()
        .unwrap_err();
    assert_eq!(err.refusal(), Refusal::BadInput);
    assert!(err.to_string().starts_with("resourceGroup"), "{err}");
    let mut p = Project::default();
    evolve(&mut p, &created());
    assert_eq!(p.resource_group, "shop");
    // An event recorded before resource groups existed reads as it was stored.
    let old = r#"{"ProjectCreated":{"id":"00000000-0000-0000-0000-000000000002","customer_id":"00000000-0000-0000-0000-000000000001","parent_id":null,"name":"Shop","sla_class":"basic","effective_at":"2026-01-01T12:00:00Z"}}"#;
    let mut p = Project::default();
    evolve(&mut p, &serde_json::from_str(old).unwrap());
    assert_eq!(p.resource_group, crate::platform::legacy_resource_group(&uuid(2)));
}
