//! Helpers for the aggregates' given/when/then tests.

use crate::Instant;
use chrono::TimeZone;
use uuid::Uuid;

/// A fixed instant on 2026-`month`-`day` at 12:00 UTC.
pub fn at(month: u32, day: u32) -> Instant {
    chrono::Utc.with_ymd_and_hms(2026, month, day, 12, 0, 0).unwrap()
}

/// A fixed id, distinct per `n`.
pub fn uuid(n: u128) -> Uuid {
    Uuid::from_u128(n)
}
