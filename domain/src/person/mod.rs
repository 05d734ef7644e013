//! Person: a member of staff, or a user of one customer; holds roles and API tokens.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::collections::BTreeSet;

use crate::shared::error::{Classify, Invalid, Refusal};
use crate::shared::{Instant, validate};
use crate::{CustomerId, PersonId, ProjectId, TokenId, aggregate, event_names};

#[cfg(test)]
mod tests;

/// A role on a project; it holds for the project and all its descendants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Member,
    Manager,
}

/// A role of the hosting company's own staff.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StaffRole {
    Ops,
    Billing,
    Admin,
    Auditor,
}

/// What the caller knows about the customer a person is registered for.
#[derive(Clone, Debug, PartialEq)]
pub struct CustomerFacts {
    pub id: CustomerId,
    pub closed: bool,
}

/// What the caller knows about the project a role is granted on.
#[derive(Clone, Debug, PartialEq)]
pub struct ProjectFacts {
    pub id: ProjectId,
    pub customer_id: CustomerId,
    pub archived: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Token {
    pub sha256: String,
    pub issued_at: Instant,
    pub expires_at: Option<Instant>,
    pub revoked_at: Option<Instant>,
}

impl Token {
    /// When it stops working: its own expiry, but never later than the longest lifetime
    /// after its issue (which also ends the tokens issued before lifetimes existed).
    pub fn expires(&self, lifetime: TokenLifetime) -> Instant {
        let longest = self.issued_at + chrono::Duration::days(lifetime.max_days.into());
        self.expires_at.map_or(longest, |e| e.min(longest))
    }
}

/// How long API tokens live: a token issued without an expiry lives `default_days`; none
/// lives longer than `max_days` after its issue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenLifetime {
    pub default_days: u32,
    pub max_days: u32,
}

impl Default for TokenLifetime {
    fn default() -> Self {
        TokenLifetime { default_days: 90, max_days: 365 }
    }
}

impl TokenLifetime {
    /// The longest lifetime a deployment may configure: ten years.
    pub const LONGEST_DAYS: u32 = 3650;

    pub fn new(default_days: u32, max_days: u32) -> Result<TokenLifetime, Invalid> {
        if !(1..=Self::LONGEST_DAYS).contains(&max_days) {
            return Err(Invalid::new("maximum token lifetime", format!("1 to {} days", Self::LONGEST_DAYS)));
        }
        if !(1..=max_days).contains(&default_days) {
            return Err(Invalid::new("token lifetime", format!("1 day to the maximum ({max_days} days)")));
        }
        Ok(TokenLifetime { default_days, max_days })
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Person {
    pub id: Option<PersonId>,
    pub name: String,
    pub email: String,
    pub customer_id: Option<CustomerId>,
    pub staff_roles: BTreeSet<StaffRole>,
    pub roles: BTreeMap<ProjectId, Role>,
    pub tokens: BTreeMap<TokenId, Token>,
    pub deactivated_at: Option<Instant>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum PersonCommand {
    /// `customer: None` registers a member of staff.
    Register {
        id: PersonId,
        name: String,
        email: String,
        customer: Option<CustomerFacts>,
        at: Instant,
    },
    GrantRole {
        project: ProjectFacts,
        role: Role,
        at: Instant,
    },
    RevokeRole {
        project_id: ProjectId,
        at: Instant,
    },
    GrantStaffRole {
        role: StaffRole,
        at: Instant,
    },
    RevokeStaffRole {
        role: StaffRole,
        at: Instant,
    },
    Deactivate {
        at: Instant,
    },
    /// The token's text never reaches the domain: only its SHA-256, in hex.
    IssueToken {
        token_id: TokenId,
        sha256: String,
        /// When it should expire; without one, the default lifetime from `at`.
        expires_at: Option<Instant>,
        lifetime: TokenLifetime,
        at: Instant,
    },
    RevokeToken {
        token_id: TokenId,
        at: Instant,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum PersonEvent {
    PersonRegistered { id: PersonId, name: String, email: String, customer_id: Option<CustomerId>, at: Instant },
    RoleGranted { project_id: ProjectId, role: Role, at: Instant },
    RoleRevoked { project_id: ProjectId, at: Instant },
    StaffRoleGranted { role: StaffRole, at: Instant },
    StaffRoleRevoked { role: StaffRole, at: Instant },
    PersonDeactivated { at: Instant },
    TokenIssued { token_id: TokenId, sha256: String, expires_at: Option<Instant>, at: Instant },
    TokenRevoked { token_id: TokenId, at: Instant },
}

event_names!(PersonEvent {
    PersonRegistered,
    RoleGranted,
    RoleRevoked,
    StaffRoleGranted,
    StaffRoleRevoked,
    PersonDeactivated,
    TokenIssued,
    TokenRevoked,
});

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PersonError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("person {0} is already registered")]
    AlreadyRegistered(PersonId),
    #[error("person does not exist")]
    NotRegistered,
    #[error("person is deactivated; a deactivated person cannot be changed")]
    Deactivated,
    #[error("customer {0} is closed; no people can be added to it")]
    CustomerClosed(CustomerId),
    #[error("staff roles can only be granted to staff (people registered without a customer)")]
    StaffRoleForCustomerUser,
    #[error("project roles can only be granted to people of the project's customer ({0})")]
    ProjectOfAnotherCustomer(CustomerId),
    #[error("project {0} is archived")]
    ProjectArchived(ProjectId),
    #[error("person holds no role on project {0}")]
    NoRoleOnProject(ProjectId),
    #[error("person does not hold the staff role {0:?}")]
    NoSuchStaffRole(StaffRole),
    #[error("token {0} does not exist")]
    UnknownToken(TokenId),
    #[error("token {0} already exists")]
    TokenExists(TokenId),
}

impl Classify for PersonError {
    fn refusal(&self) -> Refusal {
        match self {
            Self::Invalid(_) => Refusal::BadInput,
            Self::AlreadyRegistered(_) | Self::TokenExists(_) => Refusal::Conflict,
            Self::NotRegistered | Self::UnknownToken(_) => Refusal::NotFound,
            Self::Deactivated
            | Self::CustomerClosed(_)
            | Self::StaffRoleForCustomerUser
            | Self::ProjectOfAnotherCustomer(_)
            | Self::ProjectArchived(_)
            | Self::NoRoleOnProject(_)
            | Self::NoSuchStaffRole(_) => Refusal::RuleViolation,
        }
    }
}

impl Person {
    pub fn is_staff(&self) -> bool {
        self.id.is_some() && self.customer_id.is_none()
    }

    fn active(&self) -> Result<(), PersonError> {
        match (self.id, self.deactivated_at) {
            (None, _) => Err(PersonError::NotRegistered),
            (Some(_), Some(_)) => Err(PersonError::Deactivated),
            (Some(_), None) => Ok(()),
        }
    }
}

pub fn decide(p: &Person, cmd: PersonCommand) -> Result<Vec<PersonEvent>, PersonError> {
    use PersonCommand as C;
    use PersonEvent as E;
    match cmd {
        C::Register { id, .. } if p.id.is_some() => Err(PersonError::AlreadyRegistered(id)),
        C::Register { id, name, email, customer, at } => {
            if let Some(CustomerFacts { id, closed: true }) = customer {
                return Err(PersonError::CustomerClosed(id));
            }
            Ok(vec![E::PersonRegistered {
                id,
                name: validate::name("name", &name)?,
                email: validate::email("email", &email)?,
                customer_id: customer.map(|c| c.id),
                at,
            }])
        }
        C::GrantRole { project, role, at } => {
            p.active()?;
            if p.customer_id != Some(project.customer_id) {
                return Err(PersonError::ProjectOfAnotherCustomer(project.customer_id));
            }
            if project.archived {
                return Err(PersonError::ProjectArchived(project.id));
            }
            Ok(if p.roles.get(&project.id) == Some(&role) {
                vec![]
            } else {
                vec![E::RoleGranted { project_id: project.id, role, at }]
            })
        }
        C::RevokeRole { project_id, at } => {
            p.active()?;
            if !p.roles.contains_key(&project_id) {
                return Err(PersonError::NoRoleOnProject(project_id));
            }
            Ok(vec![E::RoleRevoked { project_id, at }])
        }
        C::GrantStaffRole { role, at } => {
            p.active()?;
            if !p.is_staff() {
                return Err(PersonError::StaffRoleForCustomerUser);
            }
            Ok(if p.staff_roles.contains(&role) { vec![] } else { vec![E::StaffRoleGranted { role, at }] })
        }
        C::RevokeStaffRole { role, at } => {
            p.active()?;
            if !p.staff_roles.contains(&role) {
                return Err(PersonError::NoSuchStaffRole(role));
            }
            Ok(vec![E::StaffRoleRevoked { role, at }])
        }
        C::Deactivate { at } => {
            p.active()?;
            Ok(vec![E::PersonDeactivated { at }])
        }
        C::IssueToken { token_id, sha256, expires_at, lifetime, at } => {
            p.active()?;
            if p.tokens.contains_key(&token_id) {
                return Err(PersonError::TokenExists(token_id));
            }
            if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(Invalid::new("token", "the token hash must be 64 hex digits").into());
            }
            let expires = expires_at.unwrap_or(at + chrono::Duration::days(lifetime.default_days.into()));
            if expires <= at {
                return Err(Invalid::new("expiresAt", "must be in the future").into());
            }
            if expires > at + chrono::Duration::days(lifetime.max_days.into()) {
                let longest = format!("at most {} days from now (the longest a token lives)", lifetime.max_days);
                return Err(Invalid::new("expiresAt", longest).into());
            }
            Ok(vec![E::TokenIssued { token_id, sha256: sha256.to_ascii_lowercase(), expires_at: Some(expires), at }])
        }
        C::RevokeToken { token_id, at } => {
            if p.id.is_none() {
                return Err(PersonError::NotRegistered);
            }
            match p.tokens.get(&token_id) {
                None => Err(PersonError::UnknownToken(token_id)),
                Some(t) if t.revoked_at.is_some() => Ok(vec![]),
                Some(_) => Ok(vec![E::TokenRevoked { token_id, at }]),
            }
        }
    }
}

pub fn evolve(p: &mut Person, event: &PersonEvent) {
    use PersonEvent as E;
    match event {
        E::PersonRegistered { id, name, email, customer_id, .. } => {
            *p = Person {
                id: Some(*id),
                name: name.clone(),
                email: email.clone(),
                customer_id: *customer_id,
                ..Person::default()
            }
        }
        E::RoleGranted { project_id, role, .. } => {
            p.roles.insert(*project_id, *role);
        }
        E::RoleRevoked { project_id, .. } => {
            p.roles.remove(project_id);
        }
        E::StaffRoleGranted { role, .. } => {
            p.staff_roles.insert(*role);
        }
        E::StaffRoleRevoked { role, .. } => {
            p.staff_roles.remove(role);
        }
        E::PersonDeactivated { at } => p.deactivated_at = Some(*at),
        E::TokenIssued { token_id, sha256, expires_at, at } => {
            p.tokens.insert(
                *token_id,
                Token { sha256: sha256.clone(), issued_at: *at, expires_at: *expires_at, revoked_at: None },
            );
        }
        E::TokenRevoked { token_id, at } => {
            if let Some(t) = p.tokens.get_mut(token_id) {
                t.revoked_at = Some(*at);
            }
        }
    }
}

aggregate!(Person, "person", PersonCommand, PersonEvent, PersonError);
