use super::*;
use crate::shared::testing::{at, uuid};
use cqrs_es::test::TestFramework;

type PersonTest = TestFramework<Person>;

fn pid() -> PersonId {
    PersonId(uuid(10))
}
fn customer() -> CustomerId {
    CustomerId(uuid(1))
}
fn project() -> ProjectFacts {
    ProjectFacts { id: ProjectId(uuid(20)), customer_id: customer(), archived: false }
}
fn user_registered() -> PersonEvent {
    PersonEvent::PersonRegistered {
        id: pid(),
        name: "Ada".into(),
        email: "ada@example.com".into(),
        customer_id: Some(customer()),
        at: at(1, 1),
    }
}
fn staff_registered() -> PersonEvent {
    PersonEvent::PersonRegistered {
        id: pid(),
        name: "Sam".into(),
        email: "sam@hoster.example".into(),
        customer_id: None,
        at: at(1, 1),
    }
}
const HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

#[test]
fn registers_a_customer_user_and_a_member_of_staff() {
    PersonTest::with(())
        .given_no_previous_events()
        .when(PersonCommand::Register {
            id: pid(),
            name: "Ada".into(),
            email: "ada@example.com".into(),
            customer: Some(CustomerFacts { id: customer(), closed: false }),
            at: at(1, 1),
        })
        .then_expect_events(vec![user_registered()]);
    PersonTest::with(())
        .given_no_previous_events()
        .when(PersonCommand::Register {
            id: pid(),
            name: "Sam".into(),
            email: "sam@hoster.example".into(),
            customer: None,
            at: at(1, 1),
        })
        .then_expect_events(vec![staff_registered()]);
}

#[test]
fn refuses_registration_twice_for_a_closed_customer_or_with_a_bad_email() {
    let register = |email: &str, closed: bool| PersonCommand::Register {
        id: pid(),
        name: "Ada".into(),
        email: email.into(),
        customer: Some(CustomerFacts { id: customer(), closed }),
        at: at(1, 1),
    };
    PersonTest::with(())
        .given(vec![user_registered()])
        .when(register("ada@example.com", false))
        .then_expect_error(PersonError::AlreadyRegistered(pid()));
    PersonTest::with(())
        .given_no_previous_events()
        .when(register("ada@example.com", true))
        .then_expect_error(PersonError::CustomerClosed(customer()));
    let err = PersonTest::with(())
        .given_no_previous_events()
        .when(register("not-an-address", false))
        .inspect_result()
        .unwrap_err();
    assert_eq!(err.refusal(), Refusal::BadInput);
}

#[test]
fn grants_changes_and_revokes_a_project_role() {
    PersonTest::with(())
        .given(vec![user_registered()])
        .when(PersonCommand::GrantRole { project: project(), role: Role::Member, at: at(2, 1) })
        .then_expect_events(vec![PersonEvent::RoleGranted {
            project_id: project().id,
            role: Role::Member,
            at: at(2, 1),
        }]);
    let granted = PersonEvent::RoleGranted { project_id: project().id, role: Role::Member, at: at(2, 1) };
    PersonTest::with(())
        .given(vec![user_registered(), granted.clone()])
        .when(PersonCommand::GrantRole { project: project(), role: Role::Member, at: at(2, 2) })
        .then_expect_events(vec![]);
    PersonTest::with(())
        .given(vec![user_registered(), granted])
        .when(PersonCommand::RevokeRole { project_id: project().id, at: at(2, 3) })
        .then_expect_events(vec![PersonEvent::RoleRevoked { project_id: project().id, at: at(2, 3) }]);
}

#[test]
fn refuses_project_roles_across_customers_on_archived_projects_and_unknown_revokes() {
    let foreign = ProjectFacts { customer_id: CustomerId(uuid(2)), ..project() };
    PersonTest::with(())
        .given(vec![user_registered()])
        .when(PersonCommand::GrantRole { project: foreign, role: Role::Viewer, at: at(2, 1) })
        .then_expect_error(PersonError::ProjectOfAnotherCustomer(CustomerId(uuid(2))));
    PersonTest::with(())
        .given(vec![staff_registered()])
        .when(PersonCommand::GrantRole { project: project(), role: Role::Viewer, at: at(2, 1) })
        .then_expect_error(PersonError::ProjectOfAnotherCustomer(customer()));
    PersonTest::with(())
        .given(vec![user_registered()])
        .when(PersonCommand::GrantRole {
            project: ProjectFacts { archived: true, ..project() },
            role: Role::Viewer,
            at: at(2, 1),
        })
        .then_expect_error(PersonError::ProjectArchived(project().id));
    PersonTest::with(())
        .given(vec![user_registered()])
        .when(PersonCommand::RevokeRole { project_id: project().id, at: at(2, 1) })
        .then_expect_error(PersonError::NoRoleOnProject(project().id));
}

#[test]
fn grants_staff_roles_only_to_staff() {
    PersonTest::with(())
        .given(vec![staff_registered()])
        .when(PersonCommand::GrantStaffRole { role: StaffRole::Ops, at: at(2, 1) })
        .then_expect_events(vec![PersonEvent::StaffRoleGranted { role: StaffRole::Ops, at: at(2, 1) }]);
    PersonTest::with(())
        .given(vec![user_registered()])
        .when(PersonCommand::GrantStaffRole { role: StaffRole::Admin, at: at(2, 1) })
        .then_expect_error(PersonError::StaffRoleForCustomerUser);
    PersonTest::with(())
        .given(vec![staff_registered(), PersonEvent::StaffRoleGranted { role: StaffRole::Ops, at: at(2, 1) }])
        .when(PersonCommand::RevokeStaffRole { role: StaffRole::Ops, at: at(2, 2) })
        .then_expect_events(vec![PersonEvent::StaffRoleRevoked { role: StaffRole::Ops, at: at(2, 2) }]);
    PersonTest::with(())
        .given(vec![staff_registered()])
        .when(PersonCommand::RevokeStaffRole { role: StaffRole::Billing, at: at(2, 2) })
        .then_expect_error(PersonError::NoSuchStaffRole(StaffRole::Billing));
}

#[test]
fn deactivates_once_and_then_refuses_roles_and_tokens() {
    let deactivated = PersonEvent::PersonDeactivated { at: at(3, 1) };
    PersonTest::with(())
        .given(vec![user_registered()])
        .when(PersonCommand::Deactivate { at: at(3, 1) })
        .then_expect_events(vec![deactivated.clone()]);
    PersonTest::with(())
        .given(vec![user_registered(), deactivated.clone()])
        .when(PersonCommand::Deactivate { at: at(3, 2) })
        .then_expect_error(PersonError::Deactivated);
    PersonTest::with(())
        .given(vec![user_registered(), deactivated.clone()])
        .when(PersonCommand::GrantRole { project: project(), role: Role::Viewer, at: at(3, 2) })
        .then_expect_error(PersonError::Deactivated);
    PersonTest::with(())
        .given(vec![user_registered(), deactivated])
        .when(PersonCommand::IssueToken {
            token_id: TokenId(uuid(5)),
            sha256: HASH.into(),
            expires_at: None,
            lifetime: TokenLifetime::default(),
            at: at(3, 2),
        })
        .then_expect_error(PersonError::Deactivated);
    PersonTest::with(())
        .given_no_previous_events()
        .when(PersonCommand::Deactivate { at: at(3, 2) })
        .then_expect_error(PersonError::NotRegistered);
}

#[test]
fn a_token_never_outlives_the_longest_lifetime_after_its_issue() {
    let lifetime = TokenLifetime::new(90, 365).unwrap();
    let token = |expires_at| Token { sha256: HASH.into(), issued_at: at(1, 1), expires_at, revoked_at: None };
    let longest = at(1, 1) + chrono::Duration::days(365);
    assert_eq!(token(None).expires(lifetime), longest, "issued before lifetimes existed");
    assert_eq!(token(Some(at(3, 1))).expires(lifetime), at(3, 1));
    let later = longest + chrono::Duration::days(400);
    assert_eq!(token(Some(later)).expires(lifetime), longest, "a lowered maximum applies to tokens already issued");
    assert!(TokenLifetime::new(0, 365).is_err() && TokenLifetime::new(400, 365).is_err());
    assert!(TokenLifetime::new(90, 0).is_err() && TokenLifetime::new(90, 3651).is_err());
}

#[test]
fn issues_and_revokes_tokens_by_hash_only() {
    // Without an expiry, a token lives the default lifetime (90 days).
    let in_90_days = at(2, 1) + chrono::Duration::days(90);
    let issued = PersonEvent::TokenIssued {
        token_id: TokenId(uuid(5)),
        sha256: HASH.into(),
        expires_at: Some(in_90_days),
        at: at(2, 1),
    };
    PersonTest::with(())
        .given(vec![user_registered()])
        .when(PersonCommand::IssueToken {
            token_id: TokenId(uuid(5)),
            sha256: HASH.to_uppercase(),
            expires_at: None,
            lifetime: TokenLifetime::default(),
            at: at(2, 1),
        })
        .then_expect_events(vec![issued.clone()]);
    PersonTest::with(())
        .given(vec![user_registered(), issued.clone()])
        .when(PersonCommand::IssueToken {
            token_id: TokenId(uuid(5)),
            sha256: HASH.into(),
            expires_at: None,
            lifetime: TokenLifetime::default(),
            at: at(2, 1),
        })
        .then_expect_error(PersonError::TokenExists(TokenId(uuid(5))));
    PersonTest::with(())
        .given(vec![user_registered()])
        .when(PersonCommand::IssueToken {
            token_id: TokenId(uuid(6)),
            sha256: "abc".into(),
            expires_at: None,
            lifetime: TokenLifetime::default(),
            at: at(2, 1),
        })
        .then_expect_error(Invalid::new("token", "the token hash must be 64 hex digits").into());
    PersonTest::with(())
        .given(vec![user_registered()])
        .when(PersonCommand::IssueToken {
            token_id: TokenId(uuid(6)),
            sha256: HASH.into(),
            expires_at: Some(at(1, 1)),
            lifetime: TokenLifetime::default(),
            at: at(2, 1),
        })
        .then_expect_error(Invalid::new("expiresAt", "must be in the future").into());
    let lifetime = TokenLifetime::new(30, 400).unwrap();
    let issue = |expires_at| PersonCommand::IssueToken {
        token_id: TokenId(uuid(6)),
        sha256: HASH.into(),
        expires_at,
        lifetime,
        at: at(2, 1),
    };
    let longest = at(2, 1) + chrono::Duration::days(400);
    PersonTest::with(())
        .given(vec![user_registered()])
        .when(issue(Some(longest + chrono::Duration::seconds(1))))
        .then_expect_error(Invalid::new("expiresAt", "at most 400 days from now (the longest a token lives)").into());
    PersonTest::with(()).given(vec![user_registered()]).when(issue(Some(longest))).then_expect_events(vec![
        PersonEvent::TokenIssued {
            token_id: TokenId(uuid(6)),
            sha256: HASH.into(),
            expires_at: Some(longest),
            at: at(2, 1),
        },
    ]);
    PersonTest::with(()).given(vec![user_registered()]).when(issue(None)).then_expect_events(vec![
        PersonEvent::TokenIssued {
            token_id: TokenId(uuid(6)),
            sha256: HASH.into(),
            expires_at: Some(at(2, 1) + chrono::Duration::days(30)),
            at: at(2, 1),
        },
    ]);
    PersonTest::with(())
        .given(vec![user_registered(), issued])
        .when(PersonCommand::RevokeToken { token_id: TokenId(uuid(5)), at: at(2, 2) })
        .then_expect_events(vec![PersonEvent::TokenRevoked { token_id: TokenId(uuid(5)), at: at(2, 2) }]);
    PersonTest::with(())
        .given(vec![user_registered()])
        .when(PersonCommand::RevokeToken { token_id: TokenId(uuid(9)), at: at(2, 2) })
        .then_expect_error(PersonError::UnknownToken(TokenId(uuid(9))));
}
