use super::*;
use crate::shared::testing::{at, uuid};
use cqrs_es::test::TestFramework;

type InvoiceTest = TestFramework<Invoice>;

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}
fn line(amount: &str) -> InvoiceLine {
    InvoiceLine {
        subject: "web-1".into(),
        component: "vCPU".into(),
        from: at(3, 1),
        to: at(3, 31),
        units: d("2"),
        unit_price: d("12.50"),
        amount: d(amount),
        provenance: vec![3, 9],
    }
}
fn content(amounts: &[&str]) -> InvoiceContent {
    let lines: Vec<InvoiceLine> = amounts.iter().map(|a| line(a)).collect();
    let net: Decimal = lines.iter().map(|l| l.amount).sum();
    let vat = cents(net * d("0.19"));
    InvoiceContent {
        computed_at: 12,
        customer_id: CustomerId(uuid(1)),
        recipient: Buyer {
            name: "Acme GmbH".into(),
            address: "Street 1".into(),
            country: "DE".into(),
            vat_id: None,
            payment_terms_days: 14,
        },
        period: "2026-03".parse().unwrap(),
        groups: vec![ProjectGroup {
            project_id: ProjectId(uuid(2)),
            project_name: "Shop".into(),
            path: vec!["Shop".into()],
            subtotal: net,
            lines,
        }],
        net,
        vat_rate: d("0.19"),
        vat,
        gross: net + vat,
        tax_case: TaxCase::Standard,
        note: None,
        changes: vec![],
    }
}
fn drafted(c: InvoiceContent) -> InvoiceEvent {
    InvoiceEvent::InvoiceDrafted {
        id: InvoiceId(uuid(7)),
        kind: InvoiceKind::Invoice,
        content: Box::new(c),
        refers_to: None,
    }
}
fn fold(events: &[InvoiceEvent]) -> Invoice {
    let mut i = Invoice::default();
    for e in events {
        evolve(&mut i, e);
    }
    i
}

#[test]
fn rounds_half_up_away_from_zero() {
    assert_eq!(cents(d("0.125")), d("0.13"));
    assert_eq!(cents(d("0.135")), d("0.14"), "not banker's rounding");
    assert_eq!(cents(d("-0.125")), d("-0.13"));
    assert_eq!(cents(d("2.0049")), d("2.00"));
}

#[test]
fn drafts_only_content_whose_totals_add_up() {
    InvoiceTest::with(())
        .given_no_previous_events()
        .when(InvoiceCommand::Draft { id: InvoiceId(uuid(7)), content: content(&["25.00", "3.21"]) })
        .then_expect_events(vec![drafted(content(&["25.00", "3.21"]))]);
    let mut wrong = content(&["25.00"]);
    wrong.vat = d("4.76");
    let err = InvoiceTest::with(())
        .given_no_previous_events()
        .when(InvoiceCommand::Draft { id: InvoiceId(uuid(7)), content: wrong })
        .inspect_result()
        .unwrap_err();
    assert_eq!(err.refusal(), Refusal::BadInput);
    let mut fraction = content(&["25.00"]);
    fraction.groups[0].lines[0].amount = d("25.001");
    assert!(
        InvoiceTest::with(())
            .given_no_previous_events()
            .when(InvoiceCommand::Draft { id: InvoiceId(uuid(7)), content: fraction })
            .inspect_result()
            .is_err()
    );
    InvoiceTest::with(())
        .given_no_previous_events()
        .when(InvoiceCommand::Draft { id: InvoiceId(uuid(7)), content: content(&["0.00"]) })
        .then_expect_error(InvoiceError::ZeroTotal);
}

#[test]
fn issues_with_the_series_next_number_once() {
    let invoice = fold(&[drafted(content(&["25.00"]))]);
    let issued_at = at(4, 1);
    let (issued, numbered) = issue(&invoice, &InvoiceSeries { last: 41 }, issued_at).unwrap();
    let InvoiceEvent::InvoiceIssued { number, due_date, content_hash, .. } = &issued else { panic!() };
    assert_eq!(number, "RE-2026-00042");
    assert_eq!(*due_date, issued_at + chrono::Duration::days(14));
    assert_eq!(*content_hash, content(&["25.00"]).digest());
    assert_eq!(
        numbered,
        SeriesEvent::NumberAssigned { number: "RE-2026-00042".into(), invoice_id: InvoiceId(uuid(7)) }
    );
    let done = fold(&[drafted(content(&["25.00"])), issued]);
    assert_eq!(
        issue(&done, &InvoiceSeries { last: 42 }, issued_at),
        Err(InvoiceError::AlreadyIssued("RE-2026-00042".into()))
    );
    assert_eq!(issue(&Invoice::default(), &InvoiceSeries::default(), issued_at), Err(InvoiceError::NotFound));
}

#[test]
fn a_cancellation_negates_the_original_and_refers_to_it() {
    let original = drafted(content(&["25.00", "3.21"]));
    let (issued, _) = issue(&fold(std::slice::from_ref(&original)), &InvoiceSeries::default(), at(4, 1)).unwrap();
    let invoice = fold(&[original.clone(), issued.clone()]);
    let (cancelled, [drafted_st, issued_st], numbered) =
        cancel(&invoice, InvoiceId(uuid(8)), &InvoiceSeries { last: 2 }, "wrong address", at(4, 3)).unwrap();
    let st = fold(&[drafted_st, issued_st]);
    assert_eq!(st.number.as_deref(), Some("ST-2026-00003"));
    assert_eq!(st.kind, Some(InvoiceKind::Cancellation));
    assert_eq!(st.refers_to.as_ref().map(|r| (r.number.as_str(), r.issued_at)), Some(("RE-2026-00001", at(4, 1))));
    let c = st.content.unwrap();
    assert_eq!((c.net, c.gross), (d("-28.21"), -content(&["25.00", "3.21"]).gross));
    assert_eq!(c.groups[0].lines[1].amount, d("-3.21"));
    assert!(matches!(numbered, SeriesEvent::NumberAssigned { ref number, .. } if number == "ST-2026-00003"));

    let cancelled_invoice = fold(&[original.clone(), issued, cancelled]);
    assert_eq!(
        cancel(&cancelled_invoice, InvoiceId(uuid(9)), &InvoiceSeries { last: 3 }, "again", at(4, 4)),
        Err(InvoiceError::AlreadyCancelled("RE-2026-00001".into(), "ST-2026-00003".into()))
    );
    assert_eq!(
        cancel(&st_of(&cancelled_invoice), InvoiceId(uuid(9)), &InvoiceSeries::default(), "x", at(4, 4))
            .unwrap_err()
            .refusal(),
        Refusal::RuleViolation
    );
    assert_eq!(
        cancel(&fold(&[original]), InvoiceId(uuid(9)), &InvoiceSeries::default(), "x", at(4, 4)),
        Err(InvoiceError::NotIssued)
    );
}

/// A cancellation invoice as issued.
fn st_of(original: &Invoice) -> Invoice {
    let (_, [d, i], _) = cancel(
        &Invoice { cancelled_by: None, ..original.clone() },
        InvoiceId(uuid(10)),
        &InvoiceSeries::default(),
        "x",
        at(4, 5),
    )
    .unwrap();
    fold(&[d, i])
}

#[test]
fn an_issued_document_is_exported_once_per_target() {
    let original = drafted(content(&["25.00"]));
    assert_eq!(
        export(&fold(std::slice::from_ref(&original)), "datev-extf", "b1", at(4, 2)),
        Err(InvoiceError::NotIssued)
    );
    let (issued, _) = issue(&fold(std::slice::from_ref(&original)), &InvoiceSeries::default(), at(4, 1)).unwrap();
    let invoice = fold(&[original.clone(), issued.clone()]);
    let exported = export(&invoice, "datev-extf", "b1", at(4, 2)).unwrap().expect("an event");
    let done = fold(&[original, issued, exported]);
    assert_eq!(export(&done, "datev-extf", "b2", at(4, 3)), Ok(None), "not twice");
    assert!(export(&done, "other", "b2", at(4, 3)).unwrap().is_some());
}

#[test]
fn contents_stored_before_the_tax_case_was_recorded_name_it_by_rate_and_note() {
    let stored = |rate: &str, note: Option<&str>| {
        let mut json = serde_json::to_value(content(&["10.00"])).unwrap();
        let fields = json.as_object_mut().unwrap();
        fields.remove("tax_case");
        fields.insert("vat_rate".into(), serde_json::json!(rate));
        fields.insert("note".into(), serde_json::json!(note));
        serde_json::from_value::<InvoiceContent>(json).unwrap().tax_case
    };
    assert_eq!(stored("0.19", None), TaxCase::Standard);
    assert_eq!(stored("0", Some("Reverse charge")), TaxCase::ReverseCharge);
    assert_eq!(stored("0", None), TaxCase::NotTaxableHere);
    let recorded = content(&["10.00"]);
    let again: InvoiceContent = serde_json::from_value(serde_json::to_value(&recorded).unwrap()).unwrap();
    assert_eq!(again, recorded, "a content with its tax case reads back as written");
}
