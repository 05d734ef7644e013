//! Expected status codes: a comma-separated list of codes and inclusive ranges, such as
//! `200-299,301,418`, each code within 100–599. Parsed once, when a monitor is configured;
//! stored in its canonical form (sorted, overlaps merged).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ExpectedStatus(Vec<(u16, u16)>);

impl ExpectedStatus {
    /// Every code it accepts, in order.
    pub fn codes(&self) -> impl Iterator<Item = u16> + '_ {
        self.0.iter().flat_map(|(from, to)| *from..=*to)
    }

    pub fn contains(&self, code: u16) -> bool {
        self.0.iter().any(|(lo, hi)| (*lo..=*hi).contains(&code))
    }
}

fn code(s: &str) -> Result<u16, String> {
    let n: u16 = s.trim().parse().map_err(|_| format!("{:?} is not a status code", s.trim()))?;
    if (100..=599).contains(&n) { Ok(n) } else { Err(format!("{n} is outside 100-599")) }
}

impl FromStr for ExpectedStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s.len() > 1000 {
            return Err("at most 1000 characters".into());
        }
        let mut ranges = vec![];
        for part in s.split(',') {
            let part = part.trim();
            if part.is_empty() {
                return Err("an empty entry; write codes and ranges like 200-299,301".into());
            }
            let range = match part.split_once('-') {
                Some((lo, hi)) => (code(lo)?, code(hi)?),
                None => (code(part)?, code(part)?),
            };
            if range.0 > range.1 {
                return Err(format!("the range {part} runs backwards"));
            }
            ranges.push(range);
        }
        ranges.sort();
        let mut merged: Vec<(u16, u16)> = vec![];
        for (lo, hi) in ranges {
            match merged.last_mut() {
                Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
                _ => merged.push((lo, hi)),
            }
        }
        Ok(ExpectedStatus(merged))
    }
}

impl fmt::Display for ExpectedStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> =
            self.0.iter().map(|(lo, hi)| if lo == hi { lo.to_string() } else { format!("{lo}-{hi}") }).collect();
        f.write_str(&parts.join(","))
    }
}

impl TryFrom<String> for ExpectedStatus {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<ExpectedStatus> for String {
    fn from(e: ExpectedStatus) -> String {
        e.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::ExpectedStatus;

    #[test]
    fn parses_codes_and_ranges_into_a_canonical_form() {
        let e: ExpectedStatus = " 301, 200-299 ,418,250-260".parse().unwrap();
        assert_eq!(e.to_string(), "200-299,301,418");
        assert!(e.contains(200) && e.contains(299) && e.contains(301) && e.contains(418));
        assert!(!e.contains(300) && !e.contains(302) && !e.contains(500));
        assert_eq!("200-201,202".parse::<ExpectedStatus>().unwrap().to_string(), "200-202", "adjacent ranges merge");
    }

    #[test]
    fn refuses_what_is_not_a_list_of_codes() {
        for bad in ["", "200,", "abc", "99", "600", "299-200", "200-", "-5", "200-299-300", &"200,".repeat(300)] {
            assert!(bad.parse::<ExpectedStatus>().is_err(), "{bad:?}");
        }
    }
}
