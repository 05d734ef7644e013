//! Vm: a virtual machine in a project, with its configuration over effective time.

use serde::{Deserialize, Serialize};

use crate::shared::error::{Classify, Invalid, Refusal};
use crate::shared::{Instant, validate};
use crate::{CustomerId, ProjectId, VmId, aggregate, event_names};

#[cfg(test)]
mod tests;

/// Resource bounds of one VM.
pub const CPU: (i64, i64) = (1, 256);
pub const RAM_GB: (i64, i64) = (1, 4096);
pub const DISK_GB: (i64, i64) = (1, 65536);

/// The resources of a VM.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    pub cpu: u32,
    pub ram_gb: u32,
    pub disk_gb: u32,
}

impl Resources {
    /// Checks the bounds of each resource.
    pub fn new(cpu: i64, ram_gb: i64, disk_gb: i64) -> Result<Resources, Invalid> {
        Ok(Resources {
            cpu: validate::within("cpu", cpu, CPU.0, CPU.1, " vCPUs")?,
            ram_gb: validate::within("ramGb", ram_gb, RAM_GB.0, RAM_GB.1, " GB")?,
            disk_gb: validate::within("diskGb", disk_gb, DISK_GB.0, DISK_GB.1, " GB")?,
        })
    }
}

/// What the caller knows about the project a VM is placed in.
#[derive(Clone, Debug, PartialEq)]
pub struct ProjectFacts {
    pub id: ProjectId,
    pub customer_id: CustomerId,
    pub created_at: Instant,
    pub archived: bool,
}

/// One configuration of the VM, in force from `from` (effective time).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Configuration {
    pub from: Instant,
    pub project_id: ProjectId,
    pub resources: Resources,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Vm {
    pub id: Option<VmId>,
    pub customer_id: Option<CustomerId>,
    pub name: String,
    pub location: String,
    /// Every configuration in effective order; the first starts at provisioning.
    pub timeline: Vec<Configuration>,
    pub decommissioned_at: Option<Instant>,
}

impl Vm {
    pub fn provisioned_at(&self) -> Option<Instant> {
        self.timeline.first().map(|c| c.from)
    }

    /// The configuration with the latest effective instant.
    pub fn current(&self) -> Option<&Configuration> {
        self.timeline.last()
    }

    fn live(&self) -> Result<&Configuration, VmError> {
        match (self.current(), self.decommissioned_at) {
            (None, _) => Err(VmError::NotFound),
            (Some(_), Some(at)) => Err(VmError::Decommissioned(at)),
            (Some(c), None) => Ok(c),
        }
    }

    fn not_before_provisioning(&self, at: Instant) -> Result<(), VmError> {
        match self.provisioned_at() {
            Some(since) if at < since => Err(VmError::BeforeProvisioning { at, since }),
            _ => Ok(()),
        }
    }

    fn insert(&mut self, config: Configuration) {
        self.timeline.retain(|c| c.from != config.from);
        let index = self.timeline.partition_point(|c| c.from < config.from);
        self.timeline.insert(index, config);
    }

    /// The configuration in force at `at` (effective time), if the VM existed then.
    pub fn configuration_at(&self, at: Instant) -> Option<&Configuration> {
        if self.decommissioned_at.is_some_and(|d| at >= d) {
            return None;
        }
        self.timeline.iter().rev().find(|c| c.from <= at)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum VmCommand {
    Provision {
        id: VmId,
        project: ProjectFacts,
        name: String,
        location: String,
        cpu: i64,
        ram_gb: i64,
        disk_gb: i64,
        effective_at: Instant,
    },
    Resize {
        cpu: i64,
        ram_gb: i64,
        disk_gb: i64,
        effective_at: Instant,
    },
    MoveToProject {
        project: ProjectFacts,
        effective_at: Instant,
    },
    Decommission {
        effective_at: Instant,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum VmEvent {
    VmProvisioned {
        id: VmId,
        customer_id: CustomerId,
        project_id: ProjectId,
        name: String,
        location: String,
        resources: Resources,
        effective_at: Instant,
    },
    VmResized {
        resources: Resources,
        effective_at: Instant,
    },
    VmMovedToProject {
        from_project_id: ProjectId,
        project_id: ProjectId,
        effective_at: Instant,
    },
    VmDecommissioned {
        effective_at: Instant,
    },
}

event_names!(VmEvent { VmProvisioned, VmResized, VmMovedToProject, VmDecommissioned });

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum VmError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("VM {0} already exists")]
    AlreadyProvisioned(VmId),
    #[error("VM does not exist")]
    NotFound,
    #[error("VM was decommissioned effective {0}; it cannot be changed")]
    Decommissioned(Instant),
    #[error("project {0} is archived")]
    ProjectArchived(ProjectId),
    #[error("effectiveAt {at} is before the project's creation ({since})")]
    BeforeProjectCreation { at: Instant, since: Instant },
    #[error("effectiveAt {at} is before the VM's provisioning ({since})")]
    BeforeProvisioning { at: Instant, since: Instant },
    #[error("effectiveAt {at} is before the VM's last change ({last}); decommission after every change")]
    BeforeLastChange { at: Instant, last: Instant },
    #[error("a VM can only move between projects of the same customer")]
    MoveToAnotherCustomer,
}

impl Classify for VmError {
    fn refusal(&self) -> Refusal {
        match self {
            Self::Invalid(_) => Refusal::BadInput,
            Self::AlreadyProvisioned(_) => Refusal::Conflict,
            Self::NotFound => Refusal::NotFound,
            Self::Decommissioned(_)
            | Self::ProjectArchived(_)
            | Self::BeforeProjectCreation { .. }
            | Self::BeforeProvisioning { .. }
            | Self::BeforeLastChange { .. }
            | Self::MoveToAnotherCustomer => Refusal::RuleViolation,
        }
    }
}

fn usable(project: &ProjectFacts, at: Instant) -> Result<(), VmError> {
    if project.archived {
        return Err(VmError::ProjectArchived(project.id));
    }
    if at < project.created_at {
        return Err(VmError::BeforeProjectCreation { at, since: project.created_at });
    }
    Ok(())
}

pub fn decide(vm: &Vm, cmd: VmCommand) -> Result<Vec<VmEvent>, VmError> {
    use VmCommand as C;
    use VmEvent as E;
    match cmd {
        C::Provision { id, .. } if vm.id.is_some() => Err(VmError::AlreadyProvisioned(id)),
        C::Provision { id, project, name, location, cpu, ram_gb, disk_gb, effective_at } => {
            let name = validate::name("name", &name)?;
            let location = validate::name("location", &location)?;
            let resources = Resources::new(cpu, ram_gb, disk_gb)?;
            usable(&project, effective_at)?;
            Ok(vec![E::VmProvisioned {
                id,
                customer_id: project.customer_id,
                project_id: project.id,
                name,
                location,
                resources,
                effective_at,
            }])
        }
        C::Resize { cpu, ram_gb, disk_gb, effective_at } => {
            let resources = Resources::new(cpu, ram_gb, disk_gb)?;
            vm.live()?;
            vm.not_before_provisioning(effective_at)?;
            let before = vm.configuration_at(effective_at).map(|c| c.resources);
            Ok(if before == Some(resources) { vec![] } else { vec![E::VmResized { resources, effective_at }] })
        }
        C::MoveToProject { project, effective_at } => {
            vm.live()?;
            vm.not_before_provisioning(effective_at)?;
            if vm.customer_id.is_some_and(|c| c != project.customer_id) {
                return Err(VmError::MoveToAnotherCustomer);
            }
            usable(&project, effective_at)?;
            let from_project_id = vm.configuration_at(effective_at).map(|c| c.project_id).unwrap_or(project.id);
            Ok(if from_project_id == project.id {
                vec![]
            } else {
                vec![E::VmMovedToProject { from_project_id, project_id: project.id, effective_at }]
            })
        }
        C::Decommission { effective_at } => {
            let last = vm.live()?.from;
            if effective_at < last {
                return Err(VmError::BeforeLastChange { at: effective_at, last });
            }
            Ok(vec![E::VmDecommissioned { effective_at }])
        }
    }
}

pub fn evolve(vm: &mut Vm, event: &VmEvent) {
    use VmEvent as E;
    match event {
        E::VmProvisioned { id, customer_id, project_id, name, location, resources, effective_at } => {
            *vm = Vm {
                id: Some(*id),
                customer_id: Some(*customer_id),
                name: name.clone(),
                location: location.clone(),
                timeline: vec![Configuration { from: *effective_at, project_id: *project_id, resources: *resources }],
                decommissioned_at: None,
            }
        }
        E::VmResized { resources, effective_at } => {
            if let Some(before) = vm.configuration_at(*effective_at).cloned() {
                vm.insert(Configuration { from: *effective_at, resources: *resources, ..before });
            }
        }
        E::VmMovedToProject { project_id, effective_at, .. } => {
            if let Some(before) = vm.configuration_at(*effective_at).cloned() {
                vm.insert(Configuration { from: *effective_at, project_id: *project_id, ..before });
            }
        }
        E::VmDecommissioned { effective_at } => vm.decommissioned_at = Some(*effective_at),
    }
}

aggregate!(Vm, "vm", VmCommand, VmEvent, VmError);
