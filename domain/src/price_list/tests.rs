use super::*;
use crate::shared::testing::at;
use cqrs_es::test::TestFramework;

type PriceTest = TestFramework<PriceLists>;

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}
fn prices() -> Prices {
    Prices {
        vcpu: d("12.50"),
        ram_gb: d("3.20"),
        disk_gb: d("0.045"),
        backup_gb: d("0.02"),
        monitor: d("1.00"),
        sla_basic: d("0"),
        sla_standard: d("15"),
        sla_premium: d("40"),
    }
}
fn published(month: u32) -> PriceListEvent {
    PriceListEvent::PriceListPublished { valid_from: at(month, 1), prices: prices() }
}

#[test]
fn publishes_a_list_and_the_latest_valid_from_applies() {
    PriceTest::with(())
        .given_no_previous_events()
        .when(PriceListCommand::Publish { valid_from: at(1, 1), prices: prices() })
        .then_expect_events(vec![published(1)]);
    let mut state = PriceLists::default();
    evolve(&mut state, &published(3));
    evolve(&mut state, &published(1));
    assert_eq!(state.applies_at(at(2, 15)).map(|(from, _)| from), Some(at(1, 1)));
    assert_eq!(state.applies_at(at(3, 1)).map(|(from, _)| from), Some(at(3, 1)), "from its first instant");
    assert_eq!(state.applies_at(at(1, 1) - chrono::Duration::seconds(1)), None);
}

#[test]
fn refuses_a_second_list_for_the_same_instant_and_bad_prices() {
    PriceTest::with(())
        .given(vec![published(1)])
        .when(PriceListCommand::Publish { valid_from: at(1, 1), prices: prices() })
        .then_expect_error(PriceListError::AlreadyPublished(at(1, 1)));
    for bad in [
        Prices { vcpu: d("-1"), ..prices() },
        Prices { ram_gb: d("0.0000001"), ..prices() },
        Prices { monitor: d("1000001"), ..prices() },
    ] {
        let err = PriceTest::with(())
            .given_no_previous_events()
            .when(PriceListCommand::Publish { valid_from: at(1, 1), prices: bad })
            .inspect_result()
            .unwrap_err();
        assert_eq!(err.refusal(), Refusal::BadInput, "{err}");
    }
}

#[test]
fn prices_are_stored_as_exact_decimal_strings() {
    let json = serde_json::to_value(published(1)).unwrap();
    assert_eq!(json["PriceListPublished"]["prices"]["disk_gb"], "0.045");
}
