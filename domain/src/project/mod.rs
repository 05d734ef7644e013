//! Project: a customer's project; projects of one customer form a tree and hold deployments.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::shared::error::{Classify, Invalid, Refusal};
use crate::shared::{Instant, validate};
use crate::{CustomerId, ProjectId, aggregate, event_names};

#[cfg(test)]
mod tests;

/// The SLA class of a project, which sets its availability target and surcharge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SlaClass {
    Basic,
    Standard,
    Premium,
}

/// What the caller knows about the project's customer.
#[derive(Clone, Debug, PartialEq)]
pub struct CustomerFacts {
    pub id: CustomerId,
    pub closed: bool,
}

/// What the caller knows about the parent project.
#[derive(Clone, Debug, PartialEq)]
pub struct ParentFacts {
    pub id: ProjectId,
    pub customer_id: CustomerId,
    pub archived: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Project {
    pub id: Option<ProjectId>,
    pub customer_id: Option<CustomerId>,
    pub parent_id: Option<ProjectId>,
    pub name: String,
    /// Every SLA class with the instant it takes effect, in effective order.
    pub sla_timeline: Vec<(Instant, SlaClass)>,
    pub created_at: Option<Instant>,
    /// Deployment name → environment.
    pub deployments: BTreeMap<String, String>,
    /// Deployment name → when its secrets were last re-encrypted to the current keys.
    #[serde(default)]
    pub rekeyed_at: BTreeMap<String, Instant>,
    pub archived_at: Option<Instant>,
    /// Its resource group: the platform-wide unique name its machines know it by.
    #[serde(default)]
    pub resource_group: String,
    /// Whether the project's HTTP monitors may reach internal addresses (loopback, private
    /// networks, link-local, …): staff set this for the platform's own projects; a
    /// customer's monitors reach public addresses only.
    #[serde(default)]
    pub internal_monitor_targets: bool,
}

impl Project {
    /// The class with the latest effective instant.
    pub fn sla_class(&self) -> Option<SlaClass> {
        self.sla_timeline.last().map(|(_, c)| *c)
    }

    fn open(&self) -> Result<(), ProjectError> {
        match (self.id, self.archived_at) {
            (None, _) => Err(ProjectError::NotFound),
            (Some(_), Some(_)) => Err(ProjectError::Archived),
            (Some(_), None) => Ok(()),
        }
    }

    /// A change effective at `at` falls inside its life: on or after its creation and
    /// before its archiving, whatever was recorded since.
    fn alive_at(&self, at: Instant) -> Result<(), ProjectError> {
        if self.id.is_none() {
            return Err(ProjectError::NotFound);
        }
        self.not_before_creation(at)?;
        match self.archived_at {
            Some(archived) if at >= archived => Err(ProjectError::ArchivedSince(archived)),
            _ => Ok(()),
        }
    }

    fn not_before_creation(&self, at: Instant) -> Result<(), ProjectError> {
        match self.created_at {
            Some(since) if at < since => Err(ProjectError::BeforeCreation { at, since }),
            _ => Ok(()),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum ProjectCommand {
    Create {
        id: ProjectId,
        customer: CustomerFacts,
        parent: Option<ParentFacts>,
        name: String,
        sla_class: SlaClass,
        /// Unique platform-wide: the store refuses one another project holds.
        resource_group: String,
        effective_at: Instant,
    },
    Rename {
        name: String,
    },
    /// Lets the project's monitors reach internal addresses, or stops them.
    AllowInternalMonitorTargets {
        allowed: bool,
    },
    ChangeSlaClass {
        sla_class: SlaClass,
        effective_at: Instant,
    },
    AddDeployment {
        name: String,
        environment: String,
    },
    RemoveDeployment {
        name: String,
    },
    /// The deployment's secrets were re-encrypted to its current recipients.
    MarkSecretsRekeyed {
        deployment: String,
        at: Instant,
    },
    Archive {
        effective_at: Instant,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ProjectEvent {
    ProjectCreated {
        id: ProjectId,
        customer_id: CustomerId,
        parent_id: Option<ProjectId>,
        name: String,
        sla_class: SlaClass,
        effective_at: Instant,
        /// Absent in projects created before resource groups were recorded (see
        /// [`crate::platform::legacy_resource_group`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resource_group: Option<String>,
    },
    ProjectRenamed {
        name: String,
    },
    InternalMonitorTargetsAllowed {
        allowed: bool,
    },
    SlaClassChanged {
        sla_class: SlaClass,
        effective_at: Instant,
    },
    DeploymentAdded {
        name: String,
        environment: String,
    },
    DeploymentRemoved {
        name: String,
    },
    SecretsRekeyed {
        deployment: String,
        at: Instant,
    },
    ProjectArchived {
        effective_at: Instant,
    },
}

event_names!(ProjectEvent {
    ProjectCreated,
    ProjectRenamed,
    InternalMonitorTargetsAllowed,
    SlaClassChanged,
    DeploymentAdded,
    DeploymentRemoved,
    SecretsRekeyed,
    ProjectArchived,
});

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ProjectError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("project {0} already exists")]
    AlreadyExists(ProjectId),
    #[error("project does not exist")]
    NotFound,
    #[error("project is archived; an archived project cannot be changed")]
    Archived,
    #[error("project was archived effective {0}; it cannot be changed from then on")]
    ArchivedSince(Instant),
    #[error("customer {0} is closed; no projects can be created for it")]
    CustomerClosed(CustomerId),
    #[error("the parent project belongs to another customer ({0})")]
    ParentOfAnotherCustomer(CustomerId),
    #[error("the parent project {0} is archived")]
    ParentArchived(ProjectId),
    #[error("effectiveAt {at} is before the project's creation ({since})")]
    BeforeCreation { at: Instant, since: Instant },
    #[error("deployment {0:?} already exists in this project")]
    DeploymentExists(String),
    #[error("deployment {0:?} does not exist in this project")]
    NoSuchDeployment(String),
}

impl Classify for ProjectError {
    fn refusal(&self) -> Refusal {
        match self {
            Self::Invalid(_) => Refusal::BadInput,
            Self::AlreadyExists(_) | Self::DeploymentExists(_) => Refusal::Conflict,
            Self::NotFound | Self::NoSuchDeployment(_) => Refusal::NotFound,
            Self::Archived
            | Self::ArchivedSince(_)
            | Self::CustomerClosed(_)
            | Self::ParentOfAnotherCustomer(_)
            | Self::ParentArchived(_)
            | Self::BeforeCreation { .. } => Refusal::RuleViolation,
        }
    }
}

/// A deployment or environment name: it appears in key-list URLs, so it is a slug of
/// 1–64 lower-case letters, digits, `.`, `_` or `-`, starting with a letter or digit.
pub fn slug(field: &str, value: &str) -> Result<String, Invalid> {
    let v = value.trim();
    let ok = (1..=64).contains(&v.len())
        && v.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'))
        && v.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric());
    if ok {
        Ok(v.to_owned())
    } else {
        Err(Invalid::new(
            field,
            "must be 1-64 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit",
        ))
    }
}

pub fn decide(p: &Project, cmd: ProjectCommand) -> Result<Vec<ProjectEvent>, ProjectError> {
    use ProjectCommand as C;
    use ProjectEvent as E;
    match cmd {
        C::Create { id, .. } if p.id.is_some() => Err(ProjectError::AlreadyExists(id)),
        C::Create { id, customer, parent, name, sla_class, resource_group, effective_at } => {
            let name = validate::name("name", &name)?;
            let resource_group = crate::platform::resource_group("resourceGroup", &resource_group)?;
            if customer.closed {
                return Err(ProjectError::CustomerClosed(customer.id));
            }
            if let Some(parent) = &parent {
                if parent.customer_id != customer.id {
                    return Err(ProjectError::ParentOfAnotherCustomer(parent.customer_id));
                }
                if parent.archived {
                    return Err(ProjectError::ParentArchived(parent.id));
                }
            }
            Ok(vec![E::ProjectCreated {
                id,
                customer_id: customer.id,
                parent_id: parent.map(|p| p.id),
                name,
                sla_class,
                effective_at,
                resource_group: Some(resource_group),
            }])
        }
        C::Rename { name } => {
            p.open()?;
            let name = validate::name("name", &name)?;
            Ok(if name == p.name { vec![] } else { vec![E::ProjectRenamed { name }] })
        }
        C::AllowInternalMonitorTargets { allowed } => {
            p.open()?;
            Ok(if allowed == p.internal_monitor_targets {
                vec![]
            } else {
                vec![E::InternalMonitorTargetsAllowed { allowed }]
            })
        }
        C::ChangeSlaClass { sla_class, effective_at } => {
            p.alive_at(effective_at)?;
            Ok(vec![E::SlaClassChanged { sla_class, effective_at }])
        }
        C::AddDeployment { name, environment } => {
            p.open()?;
            let name = slug("name", &name)?;
            let environment = slug("environment", &environment)?;
            if p.deployments.contains_key(&name) {
                return Err(ProjectError::DeploymentExists(name));
            }
            Ok(vec![E::DeploymentAdded { name, environment }])
        }
        C::RemoveDeployment { name } => {
            p.open()?;
            if !p.deployments.contains_key(name.trim()) {
                return Err(ProjectError::NoSuchDeployment(name));
            }
            Ok(vec![E::DeploymentRemoved { name: name.trim().to_owned() }])
        }
        C::MarkSecretsRekeyed { deployment, at } => {
            p.open()?;
            let deployment = deployment.trim().to_owned();
            if !p.deployments.contains_key(&deployment) {
                return Err(ProjectError::NoSuchDeployment(deployment));
            }
            Ok(vec![E::SecretsRekeyed { deployment, at }])
        }
        C::Archive { effective_at } => {
            p.open()?;
            p.not_before_creation(effective_at)?;
            Ok(vec![E::ProjectArchived { effective_at }])
        }
    }
}

pub fn evolve(p: &mut Project, event: &ProjectEvent) {
    use ProjectEvent as E;
    match event {
        E::ProjectCreated { id, customer_id, parent_id, name, sla_class, effective_at, resource_group } => {
            *p = Project {
                id: Some(*id),
                customer_id: Some(*customer_id),
                parent_id: *parent_id,
                name: name.clone(),
                sla_timeline: vec![(*effective_at, *sla_class)],
                created_at: Some(*effective_at),
                deployments: BTreeMap::new(),
                rekeyed_at: BTreeMap::new(),
                archived_at: None,
                resource_group: resource_group.clone().unwrap_or_else(|| crate::platform::legacy_resource_group(&id.0)),
                internal_monitor_targets: false,
            }
        }
        E::ProjectRenamed { name } => p.name = name.clone(),
        E::InternalMonitorTargetsAllowed { allowed } => p.internal_monitor_targets = *allowed,
        E::SlaClassChanged { sla_class, effective_at } => {
            // Keep the timeline in effective order; a later-recorded change with the same
            // instant replaces the earlier one (a correction).
            p.sla_timeline.retain(|(at, _)| at != effective_at);
            let index = p.sla_timeline.partition_point(|(at, _)| at < effective_at);
            p.sla_timeline.insert(index, (*effective_at, *sla_class));
        }
        E::DeploymentAdded { name, environment } => {
            p.deployments.insert(name.clone(), environment.clone());
        }
        E::DeploymentRemoved { name } => {
            p.deployments.remove(name);
            p.rekeyed_at.remove(name);
        }
        E::SecretsRekeyed { deployment, at } => {
            p.rekeyed_at.insert(deployment.clone(), *at);
        }
        E::ProjectArchived { effective_at } => p.archived_at = Some(*effective_at),
    }
}

aggregate!(Project, "project", ProjectCommand, ProjectEvent, ProjectError);
