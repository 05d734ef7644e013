//! Bearer tokens and who is asking.

use std::collections::BTreeSet;

use domain::person::{StaffRole, TokenLifetime};
use domain::{CustomerId, Instant, PersonId};
use projections::Catalog;
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// The prefix of every token the Directory issues, so scanners can recognise a leaked one.
pub const TOKEN_PREFIX: &str = "dir_";

/// Who a request acts for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// `DIRECTORY_BOOTSTRAP_TOKEN`: staff admin, for automation and first set-up.
    Bootstrap,
    Person {
        id: PersonId,
        name: String,
        customer_id: Option<CustomerId>,
        staff_roles: BTreeSet<StaffRole>,
        /// When the token of this request stops working.
        token_expires_at: Option<Instant>,
    },
}

impl Principal {
    /// The actor recorded in the events this principal causes.
    pub fn actor(&self) -> String {
        match self {
            Principal::Bootstrap => "system:bootstrap".into(),
            Principal::Person { id, .. } => id.to_string(),
        }
    }

    /// Staff of the hosting company (any staff role, including auditors).
    pub fn is_staff(&self) -> bool {
        match self {
            Principal::Bootstrap => true,
            Principal::Person { customer_id, staff_roles, .. } => customer_id.is_none() && !staff_roles.is_empty(),
        }
    }

    /// Holds one of `roles`, or ADMIN, which may do everything staff may do.
    pub fn has_staff_role(&self, roles: &[StaffRole]) -> bool {
        match self {
            Principal::Bootstrap => true,
            Principal::Person { staff_roles, .. } => {
                staff_roles.contains(&StaffRole::Admin) || roles.iter().any(|r| staff_roles.contains(r))
            }
        }
    }

    pub fn person_id(&self) -> Option<PersonId> {
        match self {
            Principal::Bootstrap => None,
            Principal::Person { id, .. } => Some(*id),
        }
    }

    pub fn customer_id(&self) -> Option<CustomerId> {
        match self {
            Principal::Bootstrap => None,
            Principal::Person { customer_id, .. } => *customer_id,
        }
    }

    /// Whether this principal may see anything of the customer.
    pub fn can_read_customer(&self, customer: CustomerId) -> bool {
        self.is_staff() || self.customer_id() == Some(customer)
    }

    /// Requires one of the staff roles.
    pub fn require(&self, roles: &[StaffRole]) -> Result<(), ApiError> {
        if self.has_staff_role(roles) { Ok(()) } else { Err(ApiError::forbidden()) }
    }
}

/// SHA-256 of a token, in hex: the only form in which tokens are stored.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new token: the prefix, 256 random bits and a 32-bit checksum, all hex.
pub fn new_token() -> String {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).expect("the operating system's random source");
    let checksum = &Sha256::digest(secret)[..4];
    format!("{TOKEN_PREFIX}{}{}", hex::encode(secret), hex::encode(checksum))
}

/// Whether a string has the shape of an issued token (prefix and checksum).
pub fn well_formed(token: &str) -> bool {
    let Some(body) = token.strip_prefix(TOKEN_PREFIX) else { return false };
    let Ok(bytes) = hex::decode(body) else { return false };
    bytes.len() == 36 && Sha256::digest(&bytes[..32])[..4] == bytes[32..]
}

/// Resolves the bearer token of a request.
pub fn authenticate(
    header: Option<&str>,
    bootstrap_hash: Option<&str>,
    catalog: &Catalog,
    lifetime: TokenLifetime,
    now: Instant,
) -> Result<Principal, ApiError> {
    let missing = || ApiError::Unauthenticated("send an API token as `Authorization: Bearer <token>`".into());
    // The scheme is case-insensitive (RFC 9110 §11.1): `bearer` and `BEARER` are `Bearer`.
    let token = header
        .and_then(|h| h.trim_start().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or_else(missing)?;
    if token.is_empty() {
        return Err(missing());
    }
    let hash = token_hash(token);
    if bootstrap_hash.is_some_and(|b| b == hash) {
        return Ok(Principal::Bootstrap);
    }
    let invalid = || ApiError::Unauthenticated("the token is unknown, revoked or expired".into());
    if !well_formed(token) {
        return Err(invalid());
    }
    let owner = catalog.tokens.get(&hash).ok_or_else(invalid)?;
    let person = catalog.people.get(&owner.person_id).ok_or_else(invalid)?;
    let token = person.tokens.get(&owner.token_id).ok_or_else(invalid)?;
    let expires = token.expires(lifetime);
    if person.deactivated_at.is_some() || token.revoked_at.is_some() || expires <= now {
        return Err(invalid());
    }
    Ok(Principal::Person {
        id: owner.person_id,
        name: person.name.clone(),
        customer_id: person.customer_id,
        staff_roles: person.staff_roles.clone(),
        token_expires_at: Some(expires),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_carry_a_prefix_and_a_checksum() {
        let t = new_token();
        assert!(t.starts_with(TOKEN_PREFIX));
        assert_eq!(t.len(), TOKEN_PREFIX.len() + 72);
        assert!(well_formed(&t));
        let mut damaged = t.clone();
        damaged.replace_range(10..11, if &t[10..11] == "0" { "1" } else { "0" });
        assert!(!well_formed(&damaged));
        assert_ne!(new_token(), t);
    }

    #[test]
    fn unknown_and_missing_tokens_are_unauthenticated() {
        let catalog = Catalog::default();
        let now = chrono::Utc::now();
        assert_eq!(
            authenticate(None, None, &catalog, TokenLifetime::default(), now).unwrap_err().code(),
            "UNAUTHENTICATED"
        );
        assert_eq!(
            authenticate(Some("Bearer "), None, &catalog, TokenLifetime::default(), now).unwrap_err().code(),
            "UNAUTHENTICATED"
        );
        assert_eq!(
            authenticate(Some(&format!("Bearer {}", new_token())), None, &catalog, TokenLifetime::default(), now)
                .unwrap_err()
                .code(),
            "UNAUTHENTICATED"
        );
        let boot = token_hash("s3cret");
        assert_eq!(
            authenticate(Some("Bearer s3cret"), Some(&boot), &catalog, TokenLifetime::default(), now).unwrap(),
            Principal::Bootstrap
        );
        for scheme in ["bearer", "BEARER", "bEaReR"] {
            let header = format!("{scheme} s3cret");
            assert_eq!(
                authenticate(Some(&header), Some(&boot), &catalog, TokenLifetime::default(), now).unwrap(),
                Principal::Bootstrap
            );
        }
        assert_eq!(
            authenticate(Some("Basic s3cret"), Some(&boot), &catalog, TokenLifetime::default(), now)
                .unwrap_err()
                .code(),
            "UNAUTHENTICATED"
        );
        assert_eq!(
            authenticate(Some("Bearers3cret"), Some(&boot), &catalog, TokenLifetime::default(), now)
                .unwrap_err()
                .code(),
            "UNAUTHENTICATED"
        );
    }
}
