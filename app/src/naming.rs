//! Names for the platform's machines when staff give none: a new project's resource group
//! and a new VM's host name, each the first of [`domain::platform::candidates`] that no
//! project or VM holds. The store still has the last word: the append claims the name,
//! so two creations racing for one get one name and one CONFLICT.

use domain::platform::candidates;
use projections::At;

/// The resource group for a new project: the one given, or one made from its name.
pub fn resource_group(at: At<'_>, given: Option<&str>, name: &str) -> String {
    match given {
        Some(given) => given.trim().to_owned(),
        None => {
            candidates(name, 40).find(|c| at.project_by_resource_group(c).is_none()).expect("the candidates never end")
        }
    }
}

/// The host name for a new VM: the one given, or one made from its name.
pub fn hostname(at: At<'_>, given: Option<&str>, name: &str) -> String {
    match given {
        Some(given) => given.trim().to_owned(),
        None => candidates(name, 63).find(|c| at.vm_by_hostname(c).is_none()).expect("the candidates never end"),
    }
}
