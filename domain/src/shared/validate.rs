//! Input bounds shared by the aggregates.

use super::error::Invalid;

/// The longest name of anything (customer, project, VM, deployment).
pub const MAX_NAME_CHARS: usize = 200;
/// The longest free text (addresses, reasons, changelogs).
pub const MAX_TEXT_CHARS: usize = 4000;

/// A trimmed, non-empty name of at most [`MAX_NAME_CHARS`] characters without control characters.
pub fn name(field: &str, value: &str) -> Result<String, Invalid> {
    bounded(field, value, MAX_NAME_CHARS)
}

/// A trimmed, non-empty text of at most [`MAX_TEXT_CHARS`] characters (newlines allowed).
pub fn text(field: &str, value: &str) -> Result<String, Invalid> {
    let v = value.trim();
    if v.is_empty() {
        return Err(Invalid::new(field, "must not be empty"));
    }
    if v.chars().count() > MAX_TEXT_CHARS {
        return Err(Invalid::new(field, format!("must be at most {MAX_TEXT_CHARS} characters")));
    }
    if v.chars().any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t') {
        return Err(Invalid::new(field, "must not contain control characters"));
    }
    Ok(v.to_owned())
}

fn bounded(field: &str, value: &str, max: usize) -> Result<String, Invalid> {
    let v = value.trim();
    if v.is_empty() {
        return Err(Invalid::new(field, "must not be empty"));
    }
    if v.chars().count() > max {
        return Err(Invalid::new(field, format!("must be at most {max} characters")));
    }
    if v.chars().any(char::is_control) {
        return Err(Invalid::new(field, "must not contain control characters"));
    }
    Ok(v.to_owned())
}

/// An e-mail address of a plausible shape (one `@`, a dot in the domain, no spaces).
pub fn email(field: &str, value: &str) -> Result<String, Invalid> {
    let v = bounded(field, value, 254)?;
    let ok = match v.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !v.chars().any(char::is_whitespace)
        }
        None => false,
    };
    if ok { Ok(v) } else { Err(Invalid::new(field, "must be an e-mail address like name@example.com")) }
}

/// ISO 3166-1 alpha-2 country codes (officially assigned).
const COUNTRIES: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

/// The EU member states, by ISO code (VAT rules depend on it).
const EU: &str = "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK";

/// An ISO 3166-1 alpha-2 country code, upper-cased.
pub fn country(field: &str, value: &str) -> Result<String, Invalid> {
    let v = value.trim().to_ascii_uppercase();
    if v.len() == 2 && COUNTRIES.split(' ').any(|c| c == v) {
        Ok(v)
    } else {
        Err(Invalid::new(field, format!("{value:?} is not an ISO 3166-1 alpha-2 country code (e.g. DE, AT, US)")))
    }
}

/// Whether an ISO country code is an EU member state.
pub fn is_eu(country: &str) -> bool {
    EU.split(' ').any(|c| c == country)
}

/// A VAT identification number: a two-letter prefix, then 2 to 13 letters or digits
/// (spaces, dots and dashes are removed). Greece uses the prefix EL.
pub fn vat_id(field: &str, value: &str) -> Result<String, Invalid> {
    let v: String = value.chars().filter(|c| !matches!(c, ' ' | '.' | '-')).collect::<String>().to_ascii_uppercase();
    let (prefix, rest) = v.split_at(v.len().min(2));
    let ok = prefix.len() == 2
        && prefix.chars().all(|c| c.is_ascii_uppercase())
        && (2..=13).contains(&rest.len())
        && rest.chars().all(|c| c.is_ascii_alphanumeric())
        && rest.chars().any(|c| c.is_ascii_digit());
    if ok {
        Ok(v)
    } else {
        Err(Invalid::new(
            field,
            format!(
                "{value:?} is not a VAT id (two-letter country prefix and 2-13 letters or digits, e.g. DE123456789)"
            ),
        ))
    }
}

/// An integer within inclusive bounds.
/// How far ahead an effective instant may lie by default: the Directory records what is
/// or was so, and what is planned for the coming year; a year 9999 is a typing error.
pub const EFFECTIVE_HORIZON_DAYS: u32 = 365;

/// An effective instant (valid time) at most `horizon_days` after `now`; any past one is
/// a correction or an import and is judged by the entity it changes.
pub fn effective(
    field: &str,
    at: super::Instant,
    now: super::Instant,
    horizon_days: u32,
) -> Result<super::Instant, Invalid> {
    let bound = now + chrono::Duration::days(horizon_days.into());
    if at > bound {
        return Err(Invalid::new(
            field,
            format!(
                "must be at most {horizon_days} days ahead, so not after {}; got {}",
                bound.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
        ));
    }
    Ok(at)
}

pub fn within(field: &str, value: i64, min: i64, max: i64, unit: &str) -> Result<u32, Invalid> {
    if (min..=max).contains(&value) {
        Ok(value as u32)
    } else {
        Err(Invalid::new(field, format!("must be between {min} and {max}{unit}, got {value}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(name("name", "  Acme  ").unwrap(), "Acme");
        assert!(name("name", "   ").is_err());
        assert!(name("name", &"x".repeat(201)).is_err());
        assert!(name("name", &"ü".repeat(200)).is_ok());
        assert!(name("name", "a\u{0}b").is_err());
    }

    #[test]
    fn countries_are_iso_codes() {
        assert_eq!(country("country", "de").unwrap(), "DE");
        assert!(country("country", "XX").is_err());
        assert!(country("country", "DEU").is_err());
        assert!(is_eu("AT") && !is_eu("CH"));
    }

    #[test]
    fn vat_ids_have_a_prefix_and_digits() {
        assert_eq!(vat_id("vatId", "de 123.456.789").unwrap(), "DE123456789");
        assert!(vat_id("vatId", "123456789").is_err());
        assert!(vat_id("vatId", "DE").is_err());
        assert!(vat_id("vatId", "DEABCDEFG").is_err());
        assert!(vat_id("vatId", &format!("DE{}", "1".repeat(14))).is_err());
    }

    #[test]
    fn emails_need_an_at_and_a_domain() {
        assert!(email("email", "a@b.de").is_ok());
        assert!(email("email", "a@b").is_err());
        assert!(email("email", "a b@c.de").is_err());
        assert!(email("email", "@c.de").is_err());
    }
}
