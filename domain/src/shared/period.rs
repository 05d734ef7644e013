//! A billing period: a calendar month in Europe/Berlin, from the 1st at 00:00 local time
//! to the 1st of the next month at 00:00 local time (so March has 743 hours, October 745).

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate, TimeZone};
use chrono_tz::Europe::Berlin;
use serde::{Deserialize, Serialize};

use super::Instant;
use super::error::Invalid;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Period {
    year: i32,
    month: u32,
}

/// Midnight at the start of a local date in Berlin (midnight always exists there).
fn berlin_midnight(date: NaiveDate) -> Instant {
    let local = date.and_hms_opt(0, 0, 0).expect("midnight");
    Berlin.from_local_datetime(&local).single().expect("midnight exists once in Berlin").with_timezone(&chrono::Utc)
}

impl Period {
    pub fn new(year: i32, month: u32) -> Option<Period> {
        ((2000..=2200).contains(&year) && (1..=12).contains(&month)).then_some(Period { year, month })
    }

    pub fn year(&self) -> i32 {
        self.year
    }

    pub fn month(&self) -> u32 {
        self.month
    }

    /// The first instant of the period.
    pub fn start(&self) -> Instant {
        berlin_midnight(NaiveDate::from_ymd_opt(self.year, self.month, 1).expect("a valid month"))
    }

    /// The first instant after the period.
    pub fn end(&self) -> Instant {
        self.next().start()
    }

    pub fn seconds(&self) -> i64 {
        (self.end() - self.start()).num_seconds()
    }

    pub fn next(&self) -> Period {
        if self.month == 12 {
            Period { year: self.year + 1, month: 1 }
        } else {
            Period { year: self.year, month: self.month + 1 }
        }
    }

    pub fn previous(&self) -> Period {
        if self.month == 1 {
            Period { year: self.year - 1, month: 12 }
        } else {
            Period { year: self.year, month: self.month - 1 }
        }
    }

    /// The period an instant falls in.
    pub fn of(at: Instant) -> Period {
        let local = at.with_timezone(&Berlin);
        Period { year: local.year(), month: local.month() }
    }
}

impl FromStr for Period {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Period, Invalid> {
        let bad = || {
            Invalid::new(
                "period",
                format!("{:?} is not a month such as 2026-03", s.chars().take(20).collect::<String>()),
            )
        };
        let (y, m) = s.split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 || !y.chars().chain(m.chars()).all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        Period::new(y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?).ok_or_else(bad)
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl TryFrom<String> for Period {
    type Error = Invalid;
    fn try_from(s: String) -> Result<Period, Invalid> {
        s.parse()
    }
}

impl From<Period> for String {
    fn from(p: Period) -> String {
        p.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn p(s: &str) -> Period {
        s.parse().unwrap()
    }

    #[test]
    fn months_run_from_berlin_midnight_to_berlin_midnight() {
        assert_eq!(p("2026-01").start(), Utc.with_ymd_and_hms(2025, 12, 31, 23, 0, 0).unwrap());
        assert_eq!(p("2026-07").start(), Utc.with_ymd_and_hms(2026, 6, 30, 22, 0, 0).unwrap());
        assert_eq!(p("2026-03").seconds(), 743 * 3600, "March loses an hour");
        assert_eq!(p("2026-10").seconds(), 745 * 3600, "October gains one");
        assert_eq!(p("2026-02").seconds(), 28 * 24 * 3600);
        assert_eq!(p("2026-12").next(), p("2027-01"));
        assert_eq!(p("2026-01").previous(), p("2025-12"));
        assert_eq!(
            Period::of(Utc.with_ymd_and_hms(2026, 3, 31, 22, 30, 0).unwrap()),
            p("2026-04"),
            "already April in Berlin"
        );
        assert_eq!(p("2026-03").to_string(), "2026-03");
    }

    #[test]
    fn refuses_what_is_not_a_month() {
        for bad in ["2026-13", "2026-00", "april", "2026-3", "26-03", "2026-03-01", "", "2026-1a", "1999-12", "+026-03"]
        {
            assert!(bad.parse::<Period>().is_err(), "{bad:?}");
        }
    }
}
