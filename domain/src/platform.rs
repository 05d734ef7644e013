//! The names the platform's machines know things by (`../shared/contract/fc-compat.md`):
//! a project's resource group, a VM's host name and its roles. Resource groups and host
//! names are unique platform-wide and never change; the store holds them as unique names
//! (claims) in the append that takes them.

use crate::shared::error::Invalid;

/// The claim scope of resource group names.
pub const RESOURCE_GROUP: &str = "project.resource_group";
/// The claim scope of host names.
pub const HOSTNAME: &str = "vm.hostname";

/// The most roles a VM carries.
pub const MAX_ROLES: usize = 32;

/// Lower-case letters, digits, `-` and `_`, starting with a letter, within `len` bytes.
fn platform_name(field: &str, value: &str, len: std::ops::RangeInclusive<usize>) -> Result<String, Invalid> {
    let v = value.trim();
    let ok = len.contains(&v.len())
        && v.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_'))
        && v.bytes().next().is_some_and(|b| b.is_ascii_lowercase());
    match ok {
        true => Ok(v.to_owned()),
        false => Err(Invalid::new(
            field,
            format!(
                "must be {}-{} lower-case letters, digits, '-' or '_', starting with a letter",
                len.start(),
                len.end()
            ),
        )),
    }
}

/// A resource group's name: 2–40 characters.
pub fn resource_group(field: &str, value: &str) -> Result<String, Invalid> {
    platform_name(field, value, 2..=40)
}

/// A host name: 2–63 characters.
pub fn hostname(field: &str, value: &str) -> Result<String, Invalid> {
    platform_name(field, value, 2..=63)
}

/// A VLAN's name (`srv`, `fe`, …): 1–32 characters.
pub fn vlan(field: &str, value: &str) -> Result<String, Invalid> {
    platform_name(field, value, 1..=32)
}

/// Roles whose service every VM of the provider's location uses (monitoring, logs,
/// statistics, backups); any other role's service is used by the VMs of the provider's
/// resource group there (fc-compat.md, `list_services`, *ours*).
pub const PLATFORM_SERVICE_ROLES: &[&str] = &["sensuserver", "loghost", "statshost", "backyserver"];

/// The service a role provides: `sensuserver` provides `sensuserver-server`.
pub fn service(role: &str) -> String {
    format!("{role}-server")
}

/// A VM's roles (`webgateway`, `postgresql15`, …): each 1–64 characters of the same set,
/// at most [`MAX_ROLES`], answered sorted and without repeats.
pub fn roles(field: &str, values: &[String]) -> Result<Vec<String>, Invalid> {
    if values.len() > MAX_ROLES {
        return Err(Invalid::new(field, format!("at most {MAX_ROLES} roles")));
    }
    let mut roles = values.iter().map(|r| platform_name(field, r, 1..=64)).collect::<Result<Vec<_>, _>>()?;
    roles.sort();
    roles.dedup();
    Ok(roles)
}

/// The names a thing called `name` may take when none is given, best first: its name as a
/// platform name (`Web Shop` → `web-shop`), then with a numeric suffix (`web-shop-2`, …),
/// each within `max` characters.
pub fn candidates(name: &str, max: usize) -> impl Iterator<Item = String> {
    let mut base = String::new();
    for c in name.trim().chars().flat_map(char::to_lowercase) {
        match c {
            'a'..='z' | '0'..='9' => base.push(c),
            'ä' => base.push_str("ae"),
            'ö' => base.push_str("oe"),
            'ü' => base.push_str("ue"),
            'ß' => base.push_str("ss"),
            _ if !base.is_empty() && !base.ends_with('-') => base.push('-'),
            _ => {}
        }
    }
    let mut base = base.trim_end_matches('-').to_owned();
    if base.is_empty() {
        base.push('x');
    } else if !base.starts_with(|c: char| c.is_ascii_lowercase()) {
        base.insert_str(0, "x-");
    }
    if base.len() < 2 {
        base.push('x');
    }
    (1..).map(move |n: u32| {
        let suffix = if n == 1 { String::new() } else { format!("-{n}") };
        let room = max.saturating_sub(suffix.len());
        format!("{}{suffix}", base[..base.len().min(room)].trim_end_matches('-'))
    })
}

/// An instant an external checker writes in its local time without an offset
/// (`2026-04-20T15:12:40`, Europe/Berlin); in a repeated hour, the earlier one.
pub fn berlin_instant(local: &str) -> Option<crate::Instant> {
    use chrono::TimeZone;
    let local = chrono::NaiveDateTime::parse_from_str(local.trim(), "%Y-%m-%dT%H:%M:%S%.f").ok()?;
    Some(chrono_tz::Europe::Berlin.from_local_datetime(&local).earliest()?.with_timezone(&chrono::Utc))
}

/// The resource group of a project created before resource groups were recorded:
/// derived from its id, so every fold gives it the same one (and a migration holds it).
pub fn legacy_resource_group(id: &uuid::Uuid) -> String {
    format!("p-{}", &id.simple().to_string()[..12])
}

/// The host name of a VM provisioned before host names were recorded (see
/// [`legacy_resource_group`]).
pub fn legacy_hostname(id: &uuid::Uuid) -> String {
    format!("vm-{}", &id.simple().to_string()[..12])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_names_are_lower_case_and_start_with_a_letter() {
        assert_eq!(resource_group("resourceGroup", " shop ").unwrap(), "shop");
        assert!(resource_group("resourceGroup", "shop_2-eu").is_ok());
        for bad in ["s", "Shop", "2shop", "-shop", "shop.eu", "shop eu", &"x".repeat(41)] {
            assert!(resource_group("resourceGroup", bad).is_err(), "{bad:?}");
        }
        assert!(hostname("hostname", &"x".repeat(63)).is_ok());
        assert!(hostname("hostname", &"x".repeat(64)).is_err());
    }

    #[test]
    fn roles_are_checked_sorted_and_unique() {
        let given = ["webgateway", "postgresql15", "webgateway"].map(String::from);
        assert_eq!(roles("roles", &given).unwrap(), ["postgresql15", "webgateway"]);
        assert!(roles("roles", &["Web".to_owned()]).is_err());
        assert!(roles("roles", &vec!["a".to_owned(); MAX_ROLES + 1]).is_err());
    }

    #[test]
    fn candidates_are_valid_names_of_the_given_name_then_numbered() {
        let first: Vec<String> = candidates("Web Shop (Prod)", 40).take(3).collect();
        assert_eq!(first, ["web-shop-prod", "web-shop-prod-2", "web-shop-prod-3"]);
        assert_eq!(candidates("Müller & Söhne", 40).next().unwrap(), "mueller-soehne");
        assert_eq!(candidates("2048", 40).next().unwrap(), "x-2048");
        assert_eq!(candidates("!", 40).next().unwrap(), "xx");
        let long: Vec<String> = candidates(&"a".repeat(50), 40).take(12).collect();
        assert!(long.iter().all(|c| resource_group("rg", c).is_ok()), "{long:?}");
        assert_eq!(long[11], format!("{}-12", "a".repeat(37)));
        for name in ["Shop", "web-1", "DB 2", "ÄÖÜ", "_", "a", "x-", "--"] {
            for c in candidates(name, 63).take(3) {
                assert!(hostname("hostname", &c).is_ok(), "{name:?} gives {c:?}");
            }
        }
    }

    #[test]
    fn an_external_checkers_local_time_is_berlin_time() {
        let utc = |s: &str| s.parse::<crate::Instant>().unwrap();
        assert_eq!(berlin_instant("2026-04-20T15:12:40"), Some(utc("2026-04-20T13:12:40Z")), "summer");
        assert_eq!(berlin_instant("2026-01-20T15:12:40.5"), Some(utc("2026-01-20T14:12:40.5Z")), "winter");
        assert_eq!(berlin_instant("2026-10-25T02:30:00"), Some(utc("2026-10-25T00:30:00Z")), "the earlier of two");
        assert_eq!(berlin_instant("2026-03-29T02:30:00"), None, "no such time");
        assert_eq!(berlin_instant("yesterday"), None);
    }

    #[test]
    fn legacy_names_are_valid_and_stable() {
        let id = uuid::Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        assert_eq!(legacy_resource_group(&id), "p-0123456789ab");
        assert_eq!(legacy_hostname(&id), "vm-0123456789ab");
        assert!(resource_group("rg", &legacy_resource_group(&id)).is_ok());
    }
}
