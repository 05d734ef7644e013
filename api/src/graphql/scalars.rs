//! The contract's scalars and enums.

use async_graphql::{Enum, InputValueError, InputValueResult, Scalar, ScalarType, Value};
use serde::Serialize;

/// A 64-bit integer as a JSON number (byte sizes, log positions).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Long(pub i64);

#[Scalar(name = "Long")]
impl ScalarType for Long {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::Number(n) => n.as_i64().map(Long).ok_or_else(|| InputValueError::custom("must be a 64-bit integer")),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::Number(self.0.into())
    }
}

/// An exact decimal number, written as a string (`"1234.56"`): a JSON number would pass
/// through binary floating point on its way, so numbers are refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Decimal(pub rust_decimal::Decimal);

#[Scalar(name = "Decimal")]
impl ScalarType for Decimal {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            // Plain notation only: the parser would also take `1_000` and other spellings.
            Value::String(s) if s.len() <= 40 && plain(s) => s
                .trim()
                .parse::<rust_decimal::Decimal>()
                .map(Decimal)
                .map_err(|_| InputValueError::custom(format!("{s:?} is not a decimal number"))),
            Value::String(s) if s.len() <= 40 => Err(InputValueError::custom(format!("{s:?} is not a decimal number"))),
            Value::String(_) => Err(InputValueError::custom("a decimal of at most 40 characters")),
            _ => Err(InputValueError::custom("a decimal is written as a string, e.g. \"12.50\"")),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_string())
    }
}

/// A sign, digits and at most one point, with digits on at least one side of it.
fn plain(s: &str) -> bool {
    let s = s.trim();
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    !(whole.is_empty() && fraction.is_empty())
        && whole.chars().all(|c| c.is_ascii_digit())
        && fraction.chars().all(|c| c.is_ascii_digit())
}

/// The language a text the server writes is in (an entity's history).
#[derive(Enum, Copy, Clone, Debug, Default, Eq, PartialEq, Serialize)]
#[graphql(remote = "domain::event::Language")]
pub enum Language {
    #[default]
    #[graphql(name = "EN")]
    English,
    #[graphql(name = "DE")]
    German,
}

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq, Serialize)]
#[graphql(remote = "domain::project::SlaClass")]
pub enum SlaClass {
    Basic,
    Standard,
    Premium,
}

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq, Serialize)]
#[graphql(remote = "domain::person::Role")]
pub enum Role {
    Viewer,
    Member,
    Manager,
}

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq, Serialize)]
#[graphql(remote = "domain::person::StaffRole")]
pub enum StaffRole {
    Ops,
    Billing,
    Admin,
    Auditor,
}

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq, Serialize)]
#[graphql(remote = "domain::backup_log::BackupStatus")]
pub enum BackupStatus {
    Succeeded,
    Failed,
}

#[cfg(test)]
mod tests {
    use async_graphql::{ScalarType, Value};
    use proptest::prelude::*;

    use super::Decimal;

    /// Plain decimal notation, as a pattern independent of the parser's own check.
    fn plain(s: &str) -> bool {
        let re = |c: char| c.is_ascii_digit();
        let t = s.trim().trim_start_matches(['+', '-']);
        s.trim().chars().filter(|c| *c == '+' || *c == '-').count() <= 1
            && t.chars().filter(|c| *c == '.').count() <= 1
            && t.chars().all(|c| re(c) || c == '.')
            && t.chars().any(re)
    }

    fn near(alphabet: &'static str, max: usize) -> impl Strategy<Value = String> {
        proptest::collection::vec(proptest::sample::select(alphabet.chars().collect::<Vec<_>>()), 0..max)
            .prop_map(|c| c.into_iter().collect())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

        #[test]
        fn decimals_never_panic_accept_only_plain_notation_and_round_trip(
            text in prop_oneof![any::<String>(), near("0123456789.-+_eE ", 45)]
        ) {
            if let Ok(d) = Decimal::parse(Value::String(text.clone())) {
                prop_assert!(plain(&text), "accepted {text:?}");
                prop_assert_eq!(Decimal::parse(d.to_value()).ok(), Some(d));
            }
        }

        #[test]
        fn instants_never_panic_and_accept_only_rfc3339(
            text in prop_oneof![any::<String>(), near("0123456789-:TZ+. ", 32)]
        ) {
            let parsed = <chrono::DateTime<chrono::Utc> as ScalarType>::parse(Value::String(text.clone()));
            if let Ok(at) = parsed {
                prop_assert!(chrono::DateTime::parse_from_rfc3339(&text).is_ok(), "accepted {text:?}");
                prop_assert_eq!(<chrono::DateTime<chrono::Utc> as ScalarType>::parse(at.to_value()).ok(), Some(at));
            }
        }
    }
}
