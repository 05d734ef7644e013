use super::*;
use crate::shared::testing::{at, uuid};
use cqrs_es::test::TestFramework;

type VmTest = TestFramework<Vm>;

fn id() -> VmId {
    VmId(uuid(30))
}
fn project(n: u128) -> ProjectFacts {
    ProjectFacts { id: ProjectId(uuid(n)), customer_id: CustomerId(uuid(1)), created_at: at(1, 1), archived_at: None }
}
fn small() -> Resources {
    Resources { cpu: 2, ram_gb: 4, disk_gb: 50 }
}
fn provision() -> VmCommand {
    VmCommand::Provision {
        id: id(),
        project: project(20),
        name: "web-1".into(),
        location: "fsn1".into(),
        cpu: 2,
        ram_gb: 4,
        disk_gb: 50,
        node: node(),
        effective_at: at(1, 10),
        addresses: vec![],
    }
}
fn node() -> Node {
    Node { hostname: "web01".into(), channel: Some("fc-24.05-production".into()), roles: vec![], production: true }
}
fn provisioned() -> VmEvent {
    VmEvent::VmProvisioned {
        id: id(),
        customer_id: CustomerId(uuid(1)),
        project_id: ProjectId(uuid(20)),
        name: "web-1".into(),
        location: "fsn1".into(),
        resources: small(),
        effective_at: at(1, 10),
        node: Some(node()),
    }
}

#[test]
fn provisions_a_vm() {
    VmTest::with(()).given_no_previous_events().when(provision()).then_expect_events(vec![provisioned()]);
}

#[test]
fn refuses_resources_out_of_bounds() {
    for (cpu, ram, disk, field) in
        [(0, 4, 50, "cpu"), (257, 4, 50, "cpu"), (2, 0, 50, "ramGb"), (2, 4097, 50, "ramGb"), (2, 4, 65537, "diskGb")]
    {
        let VmCommand::Provision { id, project, name, location, effective_at, .. } = provision() else {
            unreachable!()
        };
        let err = VmTest::with(())
            .given_no_previous_events()
            .when(VmCommand::Provision {
                id,
                project,
                name,
                location,
                cpu,
                ram_gb: ram,
                disk_gb: disk,
                node: node(),
                effective_at,
                addresses: vec![],
            })
            .inspect_result()
            .unwrap_err();
        assert_eq!(err.refusal(), Refusal::BadInput);
        assert!(err.to_string().starts_with(field), "{err}");
    }
}

#[test]
fn refuses_provisioning_twice_into_an_archived_project_or_before_the_project() {
    VmTest::with(()).given(vec![provisioned()]).when(provision()).then_expect_error(VmError::AlreadyProvisioned(id()));
    let VmCommand::Provision { id, name, location, cpu, ram_gb, disk_gb, effective_at, .. } = provision() else {
        unreachable!()
    };
    VmTest::with(())
        .given_no_previous_events()
        .when(VmCommand::Provision {
            id,
            project: ProjectFacts { archived_at: Some(at(1, 1)), ..project(20) },
            name: name.clone(),
            location: location.clone(),
            cpu,
            ram_gb,
            disk_gb,
            node: node(),
            effective_at,
            addresses: vec![],
        })
        .then_expect_error(VmError::ProjectArchived(ProjectId(uuid(20))));
    VmTest::with(())
        .given_no_previous_events()
        .when(VmCommand::Provision {
            id,
            project: project(20),
            name,
            location,
            cpu,
            ram_gb,
            disk_gb,
            node: node(),
            effective_at: at(1, 1) - chrono::Duration::days(1),
            addresses: vec![],
        })
        .then_expect_error(VmError::BeforeProjectCreation {
            at: at(1, 1) - chrono::Duration::days(1),
            since: at(1, 1),
        });
}

#[test]
fn resizes_from_an_effective_instant_even_in_the_past() {
    let resized =
        VmEvent::VmResized { resources: Resources { cpu: 4, ram_gb: 8, disk_gb: 50 }, effective_at: at(1, 15) };
    VmTest::with(())
        .given(vec![provisioned()])
        .when(VmCommand::Resize { cpu: 4, ram_gb: 8, disk_gb: 50, effective_at: at(1, 15) })
        .then_expect_events(vec![resized.clone()]);
    let mut vm = Vm::default();
    evolve(&mut vm, &provisioned());
    evolve(
        &mut vm,
        &VmEvent::VmResized { resources: Resources { cpu: 8, ram_gb: 8, disk_gb: 50 }, effective_at: at(3, 1) },
    );
    evolve(&mut vm, &resized);
    assert_eq!(vm.configuration_at(at(1, 12)).unwrap().resources, small());
    assert_eq!(vm.configuration_at(at(2, 1)).unwrap().resources.cpu, 4);
    assert_eq!(vm.current().unwrap().resources.cpu, 8);
}

#[test]
fn ignores_a_resize_to_the_same_size_and_refuses_one_before_provisioning() {
    VmTest::with(())
        .given(vec![provisioned()])
        .when(VmCommand::Resize { cpu: 2, ram_gb: 4, disk_gb: 50, effective_at: at(2, 1) })
        .then_expect_events(vec![]);
    VmTest::with(())
        .given(vec![provisioned()])
        .when(VmCommand::Resize { cpu: 4, ram_gb: 4, disk_gb: 50, effective_at: at(1, 9) })
        .then_expect_error(VmError::BeforeProvisioning { at: at(1, 9), since: at(1, 10) });
    VmTest::with(())
        .given_no_previous_events()
        .when(VmCommand::Resize { cpu: 4, ram_gb: 4, disk_gb: 50, effective_at: at(1, 9) })
        .then_expect_error(VmError::NotFound);
}

#[test]
fn moves_within_the_customer_only() {
    VmTest::with(())
        .given(vec![provisioned()])
        .when(VmCommand::MoveToProject { project: project(21), effective_at: at(2, 1) })
        .then_expect_events(vec![VmEvent::VmMovedToProject {
            from_project_id: ProjectId(uuid(20)),
            project_id: ProjectId(uuid(21)),
            effective_at: at(2, 1),
        }]);
    VmTest::with(())
        .given(vec![provisioned()])
        .when(VmCommand::MoveToProject {
            project: ProjectFacts { customer_id: CustomerId(uuid(2)), ..project(21) },
            effective_at: at(2, 1),
        })
        .then_expect_error(VmError::MoveToAnotherCustomer);
}

fn fold(events: &[VmEvent]) -> Vm {
    let mut vm = Vm::default();
    for e in events {
        evolve(&mut vm, e);
    }
    vm
}

fn resized(cpu: u32, effective_at: Instant) -> VmEvent {
    VmEvent::VmResized { resources: Resources { cpu, ram_gb: 4, disk_gb: 50 }, effective_at }
}

#[test]
fn a_resize_holds_until_the_next_resize_whatever_moves_were_recorded_around_it() {
    let moved = VmEvent::VmMovedToProject {
        from_project_id: ProjectId(uuid(20)),
        project_id: ProjectId(uuid(21)),
        effective_at: at(3, 1),
    };
    // The move is recorded first; the resize effective before it is recorded later.
    let vm = fold(&[provisioned(), moved, resized(4, at(2, 1))]);
    let at_march = vm.configuration_at(at(3, 2)).unwrap();
    assert_eq!((at_march.project_id, at_march.resources.cpu), (ProjectId(uuid(21)), 4));
    let froms: Vec<_> = vm.timeline().iter().map(|c| (c.from, c.resources.cpu, c.project_id)).collect();
    assert_eq!(
        froms,
        vec![
            (at(1, 10), 2, ProjectId(uuid(20))),
            (at(2, 1), 4, ProjectId(uuid(20))),
            (at(3, 1), 4, ProjectId(uuid(21))),
        ]
    );
    // A second resize at the same instant corrects the first.
    let vm = fold(&[provisioned(), resized(4, at(2, 1)), resized(6, at(2, 1))]);
    assert_eq!(vm.sizes.len(), 2);
    assert_eq!(vm.current().unwrap().resources.cpu, 6);
}

#[test]
fn changes_inside_its_life_are_accepted_after_a_later_decommission_was_recorded() {
    let gone = VmEvent::VmDecommissioned { effective_at: at(4, 25) };
    VmTest::with(())
        .given(vec![provisioned(), gone.clone()])
        .when(VmCommand::Resize { cpu: 4, ram_gb: 4, disk_gb: 50, effective_at: at(4, 12) })
        .then_expect_events(vec![resized(4, at(4, 12))]);
    VmTest::with(())
        .given(vec![provisioned(), gone.clone()])
        .when(VmCommand::MoveToProject { project: project(21), effective_at: at(4, 12) })
        .then_expect_events(vec![VmEvent::VmMovedToProject {
            from_project_id: ProjectId(uuid(20)),
            project_id: ProjectId(uuid(21)),
            effective_at: at(4, 12),
        }]);
    // From the decommission on, nothing can change.
    VmTest::with(())
        .given(vec![provisioned(), gone.clone()])
        .when(VmCommand::Resize { cpu: 4, ram_gb: 8, disk_gb: 50, effective_at: at(4, 25) })
        .then_expect_error(VmError::Decommissioned(at(4, 25)));
    // A project archived later took the VM before then.
    VmTest::with(())
        .given(vec![provisioned()])
        .when(VmCommand::MoveToProject {
            project: ProjectFacts { archived_at: Some(at(5, 1)), ..project(21) },
            effective_at: at(4, 12),
        })
        .then_expect_events(vec![VmEvent::VmMovedToProject {
            from_project_id: ProjectId(uuid(20)),
            project_id: ProjectId(uuid(21)),
            effective_at: at(4, 12),
        }]);
    VmTest::with(())
        .given(vec![provisioned()])
        .when(VmCommand::MoveToProject {
            project: ProjectFacts { archived_at: Some(at(4, 1)), ..project(21) },
            effective_at: at(4, 12),
        })
        .then_expect_error(VmError::ProjectArchived(ProjectId(uuid(21))));
}

#[test]
fn a_decommission_is_corrected_earlier_or_later_and_cuts_the_timeline_there() {
    let gone = |d| VmEvent::VmDecommissioned { effective_at: at(4, d) };
    // Earlier than a recorded resize: allowed, and the resize falls outside the life.
    VmTest::with(())
        .given(vec![provisioned(), resized(4, at(3, 1))])
        .when(VmCommand::Decommission { effective_at: at(2, 1) })
        .then_expect_events(vec![VmEvent::VmDecommissioned { effective_at: at(2, 1) }]);
    VmTest::with(())
        .given(vec![provisioned(), gone(25)])
        .when(VmCommand::Decommission { effective_at: at(4, 28) })
        .then_expect_events(vec![gone(28)]);
    VmTest::with(())
        .given(vec![provisioned(), gone(25)])
        .when(VmCommand::Decommission { effective_at: at(4, 25) })
        .then_expect_events(vec![]);
    VmTest::with(())
        .given(vec![provisioned(), gone(25)])
        .when(VmCommand::Decommission { effective_at: at(1, 9) })
        .then_expect_error(VmError::BeforeProvisioning { at: at(1, 9), since: at(1, 10) });
    VmTest::with(())
        .given_no_previous_events()
        .when(VmCommand::Decommission { effective_at: at(1, 9) })
        .then_expect_error(VmError::NotFound);

    let vm = fold(&[provisioned(), resized(4, at(4, 20)), gone(15)]);
    assert_eq!(vm.timeline().len(), 1, "the resize after the decommission is cut off");
    assert_eq!(vm.current().unwrap().resources.cpu, 2);
    assert!(vm.configuration_at(at(4, 16)).is_none());
    // Corrected later again, the resize is back inside the life.
    let vm = fold(&[provisioned(), resized(4, at(4, 20)), gone(15), gone(25)]);
    assert_eq!(vm.timeline().len(), 2);
    assert_eq!(vm.configuration_at(at(4, 21)).unwrap().resources.cpu, 4);
    assert!(vm.configuration_at(at(4, 25)).is_none());
}

#[test]
fn a_node_is_checked_and_its_roles_and_ring_change_until_it_is_decommissioned() {
    let VmCommand::Provision { id, project, name, location, cpu, ram_gb, disk_gb, effective_at, .. } = provision()
    else {
        unreachable!()
    };
    for (bad, field) in [
        (Node { hostname: "Web 01".into(), ..node() }, "hostname"),
        (Node { channel: Some("fc 24.05".into()), ..node() }, "channel"),
        (Node { roles: vec!["Web".into()], ..node() }, "roles"),
    ] {
        let cmd = VmCommand::Provision {
            id,
            project: project.clone(),
            name: name.clone(),
            location: location.clone(),
            cpu,
            ram_gb,
            disk_gb,
            node: bad,
            effective_at,
            addresses: vec![],
        };
        let err = VmTest::with(()).given_no_previous_events().when(cmd).inspect_result().unwrap_err();
        assert!(err.to_string().starts_with(field), "{err}");
    }
    let roles = |r: &[&str]| r.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    VmTest::with(())
        .given(vec![provisioned()])
        .when(VmCommand::SetRoles { roles: roles(&["webgateway", "postgresql15", "webgateway"]) })
        .then_expect_events(vec![VmEvent::VmRolesSet { roles: roles(&["postgresql15", "webgateway"]) }]);
    VmTest::with(())
        .given(vec![provisioned(), VmEvent::VmRolesSet { roles: roles(&["webgateway"]) }])
        .when(VmCommand::SetRoles { roles: roles(&["webgateway"]) })
        .then_expect_events(vec![]);
    VmTest::with(())
        .given(vec![provisioned()])
        .when(VmCommand::SetDirectoryRing { ring: 0 })
        .then_expect_events(vec![VmEvent::VmDirectoryRingSet { ring: 0 }]);
    let err = VmTest::with(())
        .given(vec![provisioned()])
        .when(VmCommand::SetDirectoryRing { ring: 2 })
        .inspect_result()
        .unwrap_err();
    assert_eq!(err.refusal(), Refusal::BadInput);
    VmTest::with(())
        .given(vec![provisioned(), VmEvent::VmDecommissioned { effective_at: at(2, 1) }])
        .when(VmCommand::SetRoles { roles: roles(&["webgateway"]) })
        .then_expect_error(VmError::Decommissioned(at(2, 1)));
    // A VM recorded before nodes existed reads with a host name from its id.
    let old = r#"{"VmProvisioned":{"id":"00000000-0000-0000-0000-00000000001e","customer_id":"00000000-0000-0000-0000-000000000001","project_id":"00000000-0000-0000-0000-000000000014","name":"web-1","location":"fsn1","resources":{"cpu":2,"ram_gb":4,"disk_gb":50},"effective_at":"2026-01-10T12:00:00Z"}}"#;
    let vm = fold(&[serde_json::from_str(old).unwrap()]);
    let node = vm.node.unwrap();
    assert_eq!(
        (node.hostname, node.production, vm.directory_ring),
        (crate::platform::legacy_hostname(&uuid(30)), true, 1)
    );
}

#[test]
fn a_node_password_rotates_to_the_next_generation_and_a_showing_is_recorded() {
    VmTest::with(())
        .given(vec![provisioned(), VmEvent::NodePasswordRotated { generation: 1 }])
        .when(VmCommand::RotateNodePassword)
        .then_expect_events(vec![VmEvent::NodePasswordRotated { generation: 2 }]);
    VmTest::with(())
        .given(vec![provisioned()])
        .when(VmCommand::ShowNodeCredentials)
        .then_expect_events(vec![VmEvent::NodeCredentialsShown {}]);
    VmTest::with(())
        .given(vec![provisioned(), VmEvent::VmDecommissioned { effective_at: at(2, 1) }])
        .when(VmCommand::RotateNodePassword)
        .then_expect_error(VmError::Decommissioned(at(2, 1)));
    assert_eq!(fold(&[provisioned(), VmEvent::NodePasswordRotated { generation: 1 }]).password_generation, 1);
}

#[test]
fn a_node_is_marked_out_of_service_for_a_while_or_until_it_is_back() {
    let out = |until| VmEvent::NodeServiceStatusMarked { in_service: false, until, at: at(3, 1) };
    VmTest::with(())
        .given(vec![provisioned()])
        .when(VmCommand::MarkServiceStatus { in_service: false, until: Some(at(3, 2)), at: at(3, 1) })
        .then_expect_events(vec![out(Some(at(3, 2)))]);
    VmTest::with(())
        .given(vec![provisioned()])
        .when(VmCommand::MarkServiceStatus { in_service: true, until: None, at: at(3, 1) })
        .then_expect_events(vec![]);
    let vm = fold(&[provisioned(), out(Some(at(3, 2)))]);
    assert!(vm.servicing_at(at(2, 28)) && !vm.servicing_at(at(3, 1)) && vm.servicing_at(at(3, 2)), "back by itself");
    let vm = fold(&[provisioned(), out(None)]);
    assert!(!vm.servicing_at(at(12, 1)), "out until marked back");
    VmTest::with(())
        .given(vec![provisioned(), out(None)])
        .when(VmCommand::MarkServiceStatus { in_service: true, until: None, at: at(3, 5) })
        .then_expect_events(vec![VmEvent::NodeServiceStatusMarked { in_service: true, until: None, at: at(3, 5) }]);
}

fn assignment(vlan: &str, network: &str, address: &str) -> Assignment {
    Assignment {
        vlan: vlan.into(),
        mac: crate::network::mac(id(), vlan, 0),
        network: network.parse().unwrap(),
        address: address.parse().unwrap(),
    }
}

#[test]
fn a_vm_gets_one_address_per_network_on_one_interface_per_vlan() {
    let mut vm = fold(&[provisioned()]);
    let v4 = assignment("srv", "172.20.2.0/24", "172.20.2.2");
    let v6 = assignment("srv", "2a02:db8::/64", "2a02:db8::2");
    let again = assignment("srv", "172.20.2.0/24", "172.20.2.3");
    let events =
        decide(&vm, VmCommand::AssignAddresses { addresses: vec![v4.clone(), v6.clone(), again.clone()] }).unwrap();
    assert_eq!(events.len(), 2, "one address per network, the second left out: {events:?}");
    events.iter().for_each(|e| evolve(&mut vm, e));
    assert_eq!(vm.interfaces.len(), 1);
    assert_eq!(vm.addresses().count(), 2);
    assert_eq!(decide(&vm, VmCommand::AssignAddresses { addresses: vec![again] }).unwrap(), vec![], "held already");
    let outside = assignment("fe", "10.0.0.0/24", "10.1.0.2");
    let e = decide(&vm, VmCommand::AssignAddresses { addresses: vec![outside] }).unwrap_err();
    assert_eq!(e.refusal(), Refusal::BadInput);
    let other_mac = Assignment { mac: "02:00:00:00:00:01".into(), ..assignment("srv", "10.9.0.0/24", "10.9.0.2") };
    let e = decide(&vm, VmCommand::AssignAddresses { addresses: vec![other_mac] }).unwrap_err();
    assert!(matches!(e, VmError::OtherMac { .. }), "{e}");
}

#[test]
fn addresses_are_released_only_once_the_vm_left_deletions() {
    let mut vm = fold(&[
        provisioned(),
        VmEvent::VmAddressAssigned { assignment: assignment("srv", "172.20.2.0/24", "172.20.2.2") },
    ]);
    let e = decide(&vm, VmCommand::ReleaseAddresses { now: at(6, 1) }).unwrap_err();
    assert_eq!(e, VmError::InService);
    evolve(&mut vm, &VmEvent::VmDecommissioned { effective_at: at(2, 1) });
    let until = at(2, 1) + chrono::Duration::days(DELETION_DAYS);
    let e = decide(&vm, VmCommand::ReleaseAddresses { now: until - chrono::Duration::seconds(1) }).unwrap_err();
    assert_eq!(e, VmError::AddressesStillHeld(until));
    let events = decide(&vm, VmCommand::ReleaseAddresses { now: until }).unwrap();
    assert_eq!(events, vec![VmEvent::VmAddressesReleased {}]);
    evolve(&mut vm, &events[0]);
    assert_eq!(vm.addresses().count(), 0);
    assert_eq!(decide(&vm, VmCommand::ReleaseAddresses { now: until }).unwrap(), vec![], "nothing left to release");
    let e =
        decide(&vm, VmCommand::AssignAddresses { addresses: vec![assignment("srv", "172.20.2.0/24", "172.20.2.2")] });
    assert!(matches!(e, Err(VmError::Decommissioned(_))), "{e:?}");
}
