//! Vm: a virtual machine in a project, with its configuration over effective time.

use serde::{Deserialize, Serialize};

use crate::shared::error::{Classify, Invalid, Refusal};
use crate::shared::{Instant, validate};
use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::network::Assignment;
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
    /// When it was archived (effective time): it takes VMs only before then.
    pub archived_at: Option<Instant>,
}

/// One configuration of the VM, in force from `from` (effective time).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Configuration {
    pub from: Instant,
    pub project_id: ProjectId,
    pub resources: Resources,
}

/// What the platform's machines know a VM by: its host name (unique platform-wide, never
/// changed), its release channel (the ENC's `environment`), its roles, and whether it
/// serves production.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    pub hostname: String,
    pub channel: Option<String>,
    pub roles: Vec<String>,
    pub production: bool,
}

impl Node {
    /// A VM provisioned before nodes were recorded.
    fn legacy(id: &VmId) -> Node {
        Node { hostname: crate::platform::legacy_hostname(&id.0), channel: None, roles: vec![], production: true }
    }

    fn validate(self) -> Result<Node, Invalid> {
        Ok(Node {
            hostname: crate::platform::hostname("hostname", &self.hostname)?,
            channel: self.channel.map(|c| crate::release::channel(&c)).transpose()?,
            roles: crate::platform::roles("roles", &self.roles)?,
            production: self.production,
        })
    }
}

/// How long after its decommissioning a VM's data is still being removed (the node API's
/// `deletions` lists it so long); its addresses stay its own until then.
pub const DELETION_DAYS: i64 = 90;

/// A VM's interface on one VLAN: its MAC and its address in each of the VLAN's networks.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interface {
    pub mac: String,
    pub addresses: BTreeMap<IpNet, IpAddr>,
}

/// The directory ring a VM's node API credentials reach: 1 its own resource group, 0 the
/// whole platform (infrastructure machines).
pub const DEFAULT_RING: u8 = 1;

/// A VM's configuration over effective time. Its size and its project are two histories
/// of their own: a resize effective on 12 April holds until the next resize, whatever
/// moves were recorded around it, and a correction recorded late takes its place in them
/// like any other change. A decommission cuts both where it takes effect, and can itself
/// be corrected.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Vm {
    pub id: Option<VmId>,
    pub customer_id: Option<CustomerId>,
    pub name: String,
    pub location: String,
    /// Its size from each instant on, in effective order; the first is the provisioning's.
    pub sizes: Vec<(Instant, Resources)>,
    /// Its project from each instant on, in effective order; the first is the provisioning's.
    pub placements: Vec<(Instant, ProjectId)>,
    pub decommissioned_at: Option<Instant>,
    /// What the platform's machines know it by.
    pub node: Option<Node>,
    /// The node API ring its credentials reach.
    pub directory_ring: u8,
    /// How often its node API password was rotated.
    pub password_generation: u32,
    /// Whether its agent marked it out of service: since when, and until when.
    #[serde(default)]
    pub out_of_service: Option<OutOfService>,
    /// Its interfaces by VLAN, with the addresses it holds.
    #[serde(default)]
    pub interfaces: BTreeMap<String, Interface>,
}

/// A node out of service, as its agent marked it: since when, and until when if it said.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutOfService {
    pub since: Instant,
    pub until: Option<Instant>,
}

/// The entry in force at `at` of a history in effective order.
fn in_force<T>(history: &[(Instant, T)], at: Instant) -> Option<&(Instant, T)> {
    history.partition_point(|(from, _)| *from <= at).checked_sub(1).map(|i| &history[i])
}

/// Records `value` from `at` on; a change at the same instant is replaced (the later
/// recorded one holds). A change after every other, the common case, is a push.
fn record<T>(history: &mut Vec<(Instant, T)>, at: Instant, value: T) {
    let i = history.partition_point(|(from, _)| *from < at);
    match history.get_mut(i) {
        Some(entry) if entry.0 == at => entry.1 = value,
        _ => history.insert(i, (at, value)),
    }
}

impl Vm {
    /// Every address it holds.
    pub fn addresses(&self) -> impl Iterator<Item = (&IpNet, &IpAddr)> {
        self.interfaces.values().flat_map(|i| i.addresses.iter())
    }

    /// When its addresses become free: once the node API's `deletions` no longer lists it.
    pub fn addresses_held_until(&self) -> Option<Instant> {
        self.decommissioned_at.map(|d| d + chrono::Duration::days(DELETION_DAYS))
    }

    /// Whether its machine is in service at `at` (the ENC's `servicing`).
    pub fn servicing_at(&self, at: Instant) -> bool {
        match &self.out_of_service {
            Some(out) => out.since > at || out.until.is_some_and(|until| until <= at),
            None => true,
        }
    }

    pub fn provisioned_at(&self) -> Option<Instant> {
        self.sizes.first().map(|(from, _)| *from)
    }

    /// The configuration in force at `at` (effective time), if the VM existed then.
    pub fn configuration_at(&self, at: Instant) -> Option<Configuration> {
        if self.decommissioned_at.is_some_and(|d| at >= d) {
            return None;
        }
        let (sized, resources) = in_force(&self.sizes, at)?;
        let (placed, project_id) = in_force(&self.placements, at)?;
        Some(Configuration { from: (*sized).max(*placed), project_id: *project_id, resources: *resources })
    }

    /// Every configuration of its life in effective order, the first from provisioning;
    /// changes effective at or after the decommission are cut off.
    pub fn timeline(&self) -> Vec<Configuration> {
        let mut instants: Vec<Instant> =
            self.sizes.iter().map(|(from, _)| *from).chain(self.placements.iter().map(|(from, _)| *from)).collect();
        instants.sort_unstable();
        instants.dedup();
        instants.into_iter().map_while(|at| self.configuration_at(at)).collect()
    }

    /// The last configuration of its life: the one in force now, or when it was decommissioned.
    pub fn current(&self) -> Option<Configuration> {
        let (sized, resources) = self.last_before_decommission(&self.sizes)?;
        let (placed, project_id) = self.last_before_decommission(&self.placements)?;
        Some(Configuration { from: (*sized).max(*placed), project_id: *project_id, resources: *resources })
    }

    /// The last entry of a history that took effect in its life (the first always did).
    fn last_before_decommission<'a, T>(&self, history: &'a [(Instant, T)]) -> Option<&'a (Instant, T)> {
        let n = match self.decommissioned_at {
            Some(d) => history.partition_point(|(from, _)| *from < d).max(1),
            None => history.len(),
        };
        history.get(n.checked_sub(1)?)
    }

    /// Every project it was ever placed in, corrections included.
    pub fn projects(&self) -> impl Iterator<Item = ProjectId> + '_ {
        self.placements.iter().map(|(_, p)| *p)
    }

    /// Its node, while it is not decommissioned: the platform's settings change only then.
    fn in_service(&self) -> Result<&Node, VmError> {
        match (&self.node, self.decommissioned_at) {
            (None, _) => Err(VmError::NotFound),
            (Some(_), Some(at)) => Err(VmError::Decommissioned(at)),
            (Some(node), None) => Ok(node),
        }
    }

    /// A change effective at `at` falls inside its life: on or after provisioning, before
    /// any decommission, whatever else was recorded since.
    fn alive_at(&self, at: Instant) -> Result<(), VmError> {
        let since = self.provisioned_at().ok_or(VmError::NotFound)?;
        if at < since {
            return Err(VmError::BeforeProvisioning { at, since });
        }
        match self.decommissioned_at {
            Some(d) if at >= d => Err(VmError::Decommissioned(d)),
            _ => Ok(()),
        }
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
        /// Its host name must be unique platform-wide: the store refuses one another VM holds.
        node: Node,
        effective_at: Instant,
        /// Its addresses from the start, one per network of its location.
        addresses: Vec<Assignment>,
    },
    SetRoles {
        roles: Vec<String>,
    },
    SetDirectoryRing {
        ring: i64,
    },
    /// A new node API password (the next generation); the old one stops working.
    RotateNodePassword,
    /// Staff were shown the node API credentials: who saw them is the command's actor.
    ShowNodeCredentials,
    /// The node's agent marks it in or out of service (out: until `until`, if given).
    MarkServiceStatus {
        in_service: bool,
        until: Option<Instant>,
        at: Instant,
    },
    /// Addresses in networks it has none in yet; one already held is left out.
    AssignAddresses {
        addresses: Vec<Assignment>,
    },
    /// Gives up its addresses once its data is removed (`now` is past [`Vm::addresses_held_until`]).
    ReleaseAddresses {
        now: Instant,
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
        /// Absent in VMs provisioned before nodes were recorded.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        node: Option<Node>,
    },
    VmRolesSet {
        roles: Vec<String>,
    },
    VmDirectoryRingSet {
        ring: u8,
    },
    NodePasswordRotated {
        generation: u32,
    },
    NodeCredentialsShown {},
    NodeServiceStatusMarked {
        in_service: bool,
        until: Option<Instant>,
        at: Instant,
    },
    VmAddressAssigned {
        assignment: Assignment,
    },
    VmAddressesReleased {},
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

event_names!(VmEvent {
    VmProvisioned,
    VmResized,
    VmMovedToProject,
    VmDecommissioned,
    VmRolesSet,
    VmDirectoryRingSet,
    NodePasswordRotated,
    NodeCredentialsShown,
    NodeServiceStatusMarked,
    VmAddressAssigned,
    VmAddressesReleased,
});

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum VmError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("VM {0} already exists")]
    AlreadyProvisioned(VmId),
    #[error("VM does not exist")]
    NotFound,
    #[error("VM was decommissioned effective {0}; it cannot be changed from then on (correct the decommission first)")]
    Decommissioned(Instant),
    #[error("project {0} is archived")]
    ProjectArchived(ProjectId),
    #[error("effectiveAt {at} is before the project's creation ({since})")]
    BeforeProjectCreation { at: Instant, since: Instant },
    #[error("effectiveAt {at} is before the VM's provisioning ({since})")]
    BeforeProvisioning { at: Instant, since: Instant },
    #[error("a VM can only move between projects of the same customer")]
    MoveToAnotherCustomer,
    #[error("the VM is in service: it keeps its addresses")]
    InService,
    #[error("the VM holds its addresses until its data is removed ({0})")]
    AddressesStillHeld(Instant),
    #[error("the VM's interface on VLAN {vlan} has the MAC {mac}")]
    OtherMac { vlan: String, mac: String },
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
            | Self::MoveToAnotherCustomer
            | Self::InService
            | Self::AddressesStillHeld(_) => Refusal::RuleViolation,
            Self::OtherMac { .. } => Refusal::Conflict,
        }
    }
}

fn usable(project: &ProjectFacts, at: Instant) -> Result<(), VmError> {
    if project.archived_at.is_some_and(|archived| at >= archived) {
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
        C::Provision { id, project, name, location, cpu, ram_gb, disk_gb, node, effective_at, addresses } => {
            let name = validate::name("name", &name)?;
            let node = node.validate()?;
            let location = validate::name("location", &location)?;
            let resources = Resources::new(cpu, ram_gb, disk_gb)?;
            usable(&project, effective_at)?;
            let provisioned = E::VmProvisioned {
                id,
                customer_id: project.customer_id,
                project_id: project.id,
                name,
                location,
                resources,
                effective_at,
                node: Some(node),
            };
            let mut vm = Vm::default();
            evolve(&mut vm, &provisioned);
            let mut events = vec![provisioned];
            events.extend(assign(&vm, addresses)?);
            Ok(events)
        }
        C::SetRoles { roles } => {
            let roles = crate::platform::roles("roles", &roles)?;
            let node = vm.in_service()?;
            Ok(if node.roles == roles { vec![] } else { vec![E::VmRolesSet { roles }] })
        }
        C::SetDirectoryRing { ring } => {
            let ring = validate::within("ring", ring, 0, 1, "")? as u8;
            vm.in_service()?;
            Ok(if vm.directory_ring == ring { vec![] } else { vec![E::VmDirectoryRingSet { ring }] })
        }
        C::RotateNodePassword => {
            vm.in_service()?;
            Ok(vec![E::NodePasswordRotated { generation: vm.password_generation + 1 }])
        }
        C::ShowNodeCredentials => {
            vm.in_service()?;
            Ok(vec![E::NodeCredentialsShown {}])
        }
        C::MarkServiceStatus { in_service, until, at } => {
            vm.in_service()?;
            let until = if in_service { None } else { until };
            // Already so (and, out of service, until the same instant): nothing to record.
            let same = vm.servicing_at(at) == in_service
                && (in_service || vm.out_of_service.as_ref().is_some_and(|o| o.until == until));
            Ok(if same { vec![] } else { vec![E::NodeServiceStatusMarked { in_service, until, at }] })
        }
        C::AssignAddresses { addresses } => {
            vm.in_service()?;
            assign(vm, addresses)
        }
        C::ReleaseAddresses { now } => {
            vm.provisioned_at().ok_or(VmError::NotFound)?;
            match vm.addresses_held_until() {
                None => return Err(VmError::InService),
                Some(until) if now < until => return Err(VmError::AddressesStillHeld(until)),
                Some(_) => {}
            }
            Ok(if vm.interfaces.is_empty() { vec![] } else { vec![E::VmAddressesReleased {}] })
        }
        C::Resize { cpu, ram_gb, disk_gb, effective_at } => {
            let resources = Resources::new(cpu, ram_gb, disk_gb)?;
            vm.alive_at(effective_at)?;
            let before = in_force(&vm.sizes, effective_at).map(|(_, r)| *r);
            Ok(if before == Some(resources) { vec![] } else { vec![E::VmResized { resources, effective_at }] })
        }
        C::MoveToProject { project, effective_at } => {
            vm.alive_at(effective_at)?;
            if vm.customer_id.is_some_and(|c| c != project.customer_id) {
                return Err(VmError::MoveToAnotherCustomer);
            }
            usable(&project, effective_at)?;
            let from_project_id = in_force(&vm.placements, effective_at).map(|(_, p)| *p).unwrap_or(project.id);
            Ok(if from_project_id == project.id {
                vec![]
            } else {
                vec![E::VmMovedToProject { from_project_id, project_id: project.id, effective_at }]
            })
        }
        // Recorded again with another instant, it corrects the first: the life ends there.
        C::Decommission { effective_at } => {
            let since = vm.provisioned_at().ok_or(VmError::NotFound)?;
            if effective_at < since {
                return Err(VmError::BeforeProvisioning { at: effective_at, since });
            }
            Ok(if vm.decommissioned_at == Some(effective_at) {
                vec![]
            } else {
                vec![E::VmDecommissioned { effective_at }]
            })
        }
    }
}

/// The events of the addresses a VM gets: one per network it has none in yet (the rest are
/// left out), each inside its network and on the interface's MAC.
fn assign(vm: &Vm, addresses: Vec<Assignment>) -> Result<Vec<VmEvent>, VmError> {
    let mut interfaces = vm.interfaces.clone();
    let mut events = vec![];
    for assignment in addresses {
        if !assignment.network.contains(&assignment.address) {
            let message = format!("{} is not in {}", assignment.address, assignment.network);
            return Err(Invalid::new("address", message).into());
        }
        let interface = interfaces.entry(assignment.vlan.clone()).or_default();
        if interface.mac.is_empty() {
            interface.mac.clone_from(&assignment.mac);
        } else if interface.mac != assignment.mac {
            return Err(VmError::OtherMac { vlan: assignment.vlan, mac: interface.mac.clone() });
        }
        if let std::collections::btree_map::Entry::Vacant(free) = interface.addresses.entry(assignment.network) {
            free.insert(assignment.address);
            events.push(VmEvent::VmAddressAssigned { assignment });
        }
    }
    Ok(events)
}

pub fn evolve(vm: &mut Vm, event: &VmEvent) {
    use VmEvent as E;
    match event {
        E::VmProvisioned { id, customer_id, project_id, name, location, resources, effective_at, node } => {
            *vm = Vm {
                id: Some(*id),
                customer_id: Some(*customer_id),
                name: name.clone(),
                location: location.clone(),
                sizes: vec![(*effective_at, *resources)],
                placements: vec![(*effective_at, *project_id)],
                decommissioned_at: None,
                node: Some(node.clone().unwrap_or_else(|| Node::legacy(id))),
                directory_ring: DEFAULT_RING,
                password_generation: 0,
                out_of_service: None,
                interfaces: BTreeMap::new(),
            }
        }
        E::VmRolesSet { roles } => {
            if let Some(node) = &mut vm.node {
                node.roles = roles.clone();
            }
        }
        E::VmDirectoryRingSet { ring } => vm.directory_ring = *ring,
        E::NodePasswordRotated { generation } => vm.password_generation = *generation,
        E::NodeCredentialsShown {} => {}
        E::NodeServiceStatusMarked { in_service, until, at } => {
            vm.out_of_service = (!in_service).then_some(OutOfService { since: *at, until: *until });
        }
        E::VmAddressAssigned { assignment } => {
            let interface = vm.interfaces.entry(assignment.vlan.clone()).or_default();
            interface.mac.clone_from(&assignment.mac);
            interface.addresses.insert(assignment.network, assignment.address);
        }
        E::VmAddressesReleased {} => vm.interfaces.clear(),
        E::VmResized { resources, effective_at } => record(&mut vm.sizes, *effective_at, *resources),
        E::VmMovedToProject { project_id, effective_at, .. } => record(&mut vm.placements, *effective_at, *project_id),
        E::VmDecommissioned { effective_at } => vm.decommissioned_at = Some(*effective_at),
    }
}

aggregate!(Vm, "vm", VmCommand, VmEvent, VmError);
