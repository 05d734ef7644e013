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

/// A clock that stands still until moved: tests run a week of scheduling in milliseconds.
pub struct ManualClock(std::sync::Mutex<Instant>);

impl ManualClock {
    pub fn new(at: Instant) -> ManualClock {
        ManualClock(std::sync::Mutex::new(at))
    }

    pub fn set(&self, at: Instant) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = at;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}
