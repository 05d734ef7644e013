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
            Value::String(s) if s.len() <= 40 => s
                .trim()
                .parse::<rust_decimal::Decimal>()
                .map(Decimal)
                .map_err(|_| InputValueError::custom(format!("{s:?} is not a decimal number"))),
            Value::String(_) => Err(InputValueError::custom("a decimal of at most 40 characters")),
            _ => Err(InputValueError::custom("a decimal is written as a string, e.g. \"12.50\"")),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_string())
    }
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
