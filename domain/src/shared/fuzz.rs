//! Every parser of outside input, fed arbitrary and near-valid text: none panics, and
//! whatever one accepts is well-formed (it prints back to something it accepts again).

use proptest::prelude::*;

use crate::http_monitor::ExpectedStatus;
use crate::release::IsoWeek;
use crate::shared::period::Period;
use crate::ssh_key::parse_public_key;

/// Text near the valid forms: digits, separators and letters mixed.
fn near(alphabet: &'static str, max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(alphabet.chars().collect::<Vec<_>>()), 0..max)
        .prop_map(|chars| chars.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn expected_status_lists_never_panic_and_round_trip(text in prop_oneof![any::<String>(), near("0123456789,- a", 24)]) {
        if let Ok(parsed) = text.parse::<ExpectedStatus>() {
            let printed = parsed.to_string();
            prop_assert_eq!(printed.parse::<ExpectedStatus>(), Ok(parsed));
            prop_assert!(printed.split(',').all(|part| part.split('-').all(|c| (100..=599).contains(&c.parse::<u16>().unwrap()))));
        }
    }

    #[test]
    fn periods_never_panic_and_round_trip(text in prop_oneof![any::<String>(), near("0123456789-", 9)]) {
        if let Ok(p) = text.parse::<Period>() {
            prop_assert_eq!(p.to_string(), text.clone());
            prop_assert!(p.start() < p.end());
        }
    }

    #[test]
    fn iso_weeks_never_panic_and_round_trip(text in prop_oneof![any::<String>(), near("0123456789-W", 10)]) {
        if let Ok(w) = text.parse::<IsoWeek>() {
            prop_assert_eq!(w.to_string().parse::<IsoWeek>(), Ok(w));
            let _ = w.window_start();
        }
    }

    #[test]
    fn ssh_keys_never_panic_and_accept_only_what_they_can_fingerprint(
        text in prop_oneof![
            any::<String>(),
            near("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/= -", 120).prop_map(|b| format!("ssh-ed25519 {b}")),
            near("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/= -", 400).prop_map(|b| format!("ssh-rsa {b}")),
        ]
    ) {
        if let Ok(key) = parse_public_key(&text) {
            prop_assert!(key.fingerprint.starts_with("SHA256:"));
        }
    }
}
