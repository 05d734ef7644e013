//! Time enters the Directory here, and only here.

use domain::Instant;

pub trait Clock: Send + Sync {
    fn now(&self) -> Instant;
}

/// The system clock, truncated to microseconds (the precision the stores keep).
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        let now = chrono::Utc::now();
        chrono::DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
    }
}
