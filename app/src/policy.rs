//! The one access policy: who may see or do what. Every adapter asks here; a thing the
//! caller may not see answers exactly as a thing that does not exist (NOT_FOUND), and a
//! change the caller may not make answers FORBIDDEN.

use domain::person::{Role as DomainRole, StaffRole as Staff};
use domain::{CustomerId, PersonId, ProjectId, VmId, person, project, vm};
use projections::{At, Catalog};
use uuid::Uuid;

use crate::auth::Principal;
use crate::error::ApiError;

/// A customer the caller may see, or NOT_FOUND (the same answer as for an unknown id).
pub fn visible_customer(catalog: &Catalog, who: &Principal, id: CustomerId) -> Result<(), ApiError> {
    match catalog.customers.get(&id) {
        Some(_) if who.can_read_customer(id) => Ok(()),
        _ => Err(ApiError::NotFound(format!("customer {id} does not exist"))),
    }
}

/// Whether the caller may read a project (as of any view): staff, or its customer's people.
pub fn may_read_project(who: &Principal, project: &project::Project) -> bool {
    project.customer_id.is_some_and(|c| who.can_read_customer(c))
}

/// Whether the caller may read an issued invoice (as of any view): staff, or its customer's people.
pub fn may_read_invoice(who: &Principal, invoice: &domain::invoice::Invoice) -> bool {
    invoice.content.as_ref().is_some_and(|c| who.can_read_customer(c.customer_id))
}

/// Whether the caller may see a project's key list: staff, or a person of its customer
/// with a role on it (or an ancestor).
pub fn may_see_key_list(at: At<'_>, who: &Principal, project: ProjectId) -> bool {
    let Some(customer) = at.customer_of_project(project) else { return false };
    match who {
        Principal::Bootstrap => true,
        Principal::Person { .. } if who.is_staff() => true,
        Principal::Person { id, customer_id: Some(own), .. } => {
            *own == customer && at.effective_role(*id, project).is_some()
        }
        Principal::Person { .. } => false,
    }
}

/// A project the caller may see now, or NOT_FOUND (the same answer as for an unknown id).
pub fn visible_project<'a>(
    catalog: &'a Catalog,
    who: &Principal,
    id: ProjectId,
) -> Result<&'a project::Project, ApiError> {
    match catalog.projects.get(&id) {
        Some(p) if may_read_project(who, p) => Ok(p),
        _ => Err(ApiError::NotFound(format!("project {id} does not exist"))),
    }
}

pub fn visible_person<'a>(catalog: &'a Catalog, who: &Principal, id: PersonId) -> Result<&'a person::Person, ApiError> {
    match catalog.people.get(&id) {
        Some(p)
            if p.customer_id.map_or(who.is_staff(), |c| who.can_read_customer(c)) || who.person_id() == Some(id) =>
        {
            Ok(p)
        }
        _ => Err(ApiError::NotFound(format!("person {id} does not exist"))),
    }
}

pub fn visible_vm<'a>(catalog: &'a Catalog, who: &Principal, id: VmId) -> Result<&'a vm::Vm, ApiError> {
    match catalog.vms.get(&id) {
        Some(v) if v.customer_id.is_some_and(|c| who.can_read_customer(c)) => Ok(v),
        _ => Err(ApiError::NotFound(format!("VM {id} does not exist"))),
    }
}

/// Staff with one of `roles` (or ADMIN), or a customer's person who manages the project
/// (directly or through an ancestor).
pub fn may_manage(catalog: &Catalog, who: &Principal, project: ProjectId, roles: &[Staff]) -> Result<(), ApiError> {
    if who.has_staff_role(roles) {
        return Ok(());
    }
    match who {
        Principal::Person { id, customer_id: Some(_), .. }
            if catalog.live().effective_role(*id, project) == Some(DomainRole::Manager) =>
        {
            Ok(())
        }
        _ => Err(ApiError::forbidden()),
    }
}

/// Whether a customer's person manages at least one project of that customer.
pub fn manages_customer(catalog: &Catalog, who: &Principal, customer: CustomerId) -> bool {
    let Principal::Person { id, customer_id: Some(own), .. } = who else { return false };
    *own == customer && catalog.people.get(id).is_some_and(|p| p.roles.values().any(|r| *r == DomainRole::Manager))
}

/// ADMIN, or the person themselves.
pub fn self_or_admin(_: &Catalog, who: &Principal, person: &person::Person) -> Result<(), ApiError> {
    if who.has_staff_role(&[]) || (person.id.is_some() && who.person_id() == person.id) {
        Ok(())
    } else {
        Err(ApiError::forbidden())
    }
}

/// A new entity's id as a client chose it: only a random UUID (version 4 or 7). Ids the
/// server derives (invoices, their number series, billing runs, channels) are name-based,
/// so a client's id can never be, or later become, one of those.
pub fn client_id(uuid: Uuid) -> Result<Uuid, ApiError> {
    let random = uuid.get_variant() == uuid::Variant::RFC4122 && matches!(uuid.get_version_num(), 4 | 7);
    match random {
        true => Ok(uuid),
        false => Err(ApiError::BadInput(
            "id: must be a random UUID (version 4 or 7); omit it to let the server choose one".into(),
        )),
    }
}
