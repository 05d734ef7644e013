use super::*;
use crate::shared::testing::{at, uuid};
use cqrs_es::test::TestFramework;

type CustomerTest = TestFramework<Customer>;

fn id() -> CustomerId {
    CustomerId(uuid(1))
}

fn register() -> CustomerCommand {
    CustomerCommand::Register {
        id: id(),
        name: " Müller GmbH ".into(),
        country: "de".into(),
        vat_id: Some("DE 123 456 789".into()),
        billing_address: "Hauptstr. 1\n10115 Berlin".into(),
        payment_terms_days: None,
        effective_at: at(1, 1),
    }
}

fn registered() -> CustomerEvent {
    CustomerEvent::CustomerRegistered {
        id: id(),
        name: "Müller GmbH".into(),
        country: "DE".into(),
        vat_id: Some("DE123456789".into()),
        billing_address: "Hauptstr. 1\n10115 Berlin".into(),
        payment_terms_days: 14,
        effective_at: at(1, 1),
    }
}

#[test]
fn registers_a_customer_with_normalised_fields() {
    CustomerTest::with(()).given_no_previous_events().when(register()).then_expect_events(vec![registered()]);
}

#[test]
fn rejects_a_second_registration() {
    CustomerTest::with(())
        .given(vec![registered()])
        .when(register())
        .then_expect_error(CustomerError::AlreadyRegistered(id()));
}

#[test]
fn rejects_an_unknown_country() {
    let mut cmd = register();
    if let CustomerCommand::Register { country, .. } = &mut cmd {
        *country = "XX".into();
    }
    let err = CustomerTest::with(()).given_no_previous_events().when(cmd).inspect_result().unwrap_err();
    assert_eq!(err.refusal(), Refusal::BadInput);
    assert!(err.to_string().starts_with("country:"), "{err}");
}

#[test]
fn rejects_a_malformed_vat_id_and_an_empty_name() {
    let mut bad_vat = register();
    if let CustomerCommand::Register { vat_id, .. } = &mut bad_vat {
        *vat_id = Some("123".into());
    }
    let err = CustomerTest::with(()).given_no_previous_events().when(bad_vat).inspect_result().unwrap_err();
    assert!(err.to_string().starts_with("vatId:"), "{err}");

    let mut no_name = register();
    if let CustomerCommand::Register { name, .. } = &mut no_name {
        *name = "  ".into();
    }
    let err = CustomerTest::with(()).given_no_previous_events().when(no_name).inspect_result().unwrap_err();
    assert!(err.to_string().starts_with("name:"), "{err}");
}

#[test]
fn rejects_payment_terms_out_of_bounds() {
    let mut cmd = register();
    if let CustomerCommand::Register { payment_terms_days, .. } = &mut cmd {
        *payment_terms_days = Some(400);
    }
    let err = CustomerTest::with(()).given_no_previous_events().when(cmd).inspect_result().unwrap_err();
    assert_eq!(err.refusal(), Refusal::BadInput);
}

#[test]
fn renames_and_ignores_a_rename_to_the_same_name() {
    CustomerTest::with(())
        .given(vec![registered()])
        .when(CustomerCommand::Rename { name: "Müller AG".into() })
        .then_expect_events(vec![CustomerEvent::CustomerRenamed { name: "Müller AG".into() }]);
    CustomerTest::with(())
        .given(vec![registered()])
        .when(CustomerCommand::Rename { name: "Müller GmbH".into() })
        .then_expect_events(vec![]);
}

#[test]
fn changes_the_billing_address() {
    CustomerTest::with(())
        .given(vec![registered()])
        .when(CustomerCommand::ChangeBillingAddress { billing_address: "Ring 2, Köln".into() })
        .then_expect_events(vec![CustomerEvent::BillingAddressChanged { billing_address: "Ring 2, Köln".into() }]);
}

#[test]
fn refuses_changes_to_an_unknown_customer() {
    CustomerTest::with(())
        .given_no_previous_events()
        .when(CustomerCommand::Rename { name: "X".into() })
        .then_expect_error(CustomerError::NotRegistered);
}

#[test]
fn closes_once_and_then_refuses_changes() {
    CustomerTest::with(())
        .given(vec![registered()])
        .when(CustomerCommand::Close { effective_at: at(3, 1) })
        .then_expect_events(vec![CustomerEvent::CustomerClosed { effective_at: at(3, 1) }]);
    CustomerTest::with(())
        .given(vec![registered(), CustomerEvent::CustomerClosed { effective_at: at(3, 1) }])
        .when(CustomerCommand::Rename { name: "Y".into() })
        .then_expect_error(CustomerError::Closed);
}

#[test]
fn refuses_a_close_before_registration() {
    CustomerTest::with(())
        .given(vec![registered()])
        .when(CustomerCommand::Close { effective_at: at(1, 1) - chrono::Duration::days(1) })
        .then_expect_error(CustomerError::BeforeRegistration {
            at: at(1, 1) - chrono::Duration::days(1),
            since: at(1, 1),
        });
}
