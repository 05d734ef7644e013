//! Who calls the node API: a VM's machine, by its host name and node password (HTTP Basic),
//! and what its ring lets it reach. The policy for every node API method is here: a ring-1
//! node sees its own resource group; a ring-0 node (infrastructure) the whole platform.

use base64::Engine as _;
use domain::VmId;
use projections::At;

use crate::node_credentials::NodeKey;

/// A platform machine calling the node API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub vm: VmId,
    pub hostname: String,
    pub resource_group: String,
    pub ring: u8,
}

impl Node {
    /// The actor of what it changes.
    pub fn actor(&self) -> String {
        format!("node:{}", self.hostname)
    }

    /// Whether it may act in a resource group: its own, or any from ring 0.
    pub fn may_reach(&self, resource_group: &str) -> bool {
        self.ring == 0 || self.resource_group == resource_group
    }
}

/// Why a node is refused: unknown credentials (401) or a place its ring does not reach (403).
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    Unauthenticated,
    Forbidden(String),
}

/// The node an `Authorization: Basic …` header names, if its password is that VM's now and
/// the VM is not decommissioned by `now`. Every failure is the same answer, whatever was wrong.
pub fn authenticate(at: At<'_>, key: &NodeKey, header: Option<&str>, now: domain::Instant) -> Result<Node, Refused> {
    let encoded = header.and_then(|h| h.strip_prefix("Basic ")).ok_or(Refused::Unauthenticated)?;
    let decoded =
        base64::engine::general_purpose::STANDARD.decode(encoded.trim()).map_err(|_| Refused::Unauthenticated)?;
    let decoded = String::from_utf8(decoded).map_err(|_| Refused::Unauthenticated)?;
    let (user, password) = decoded.split_once(':').ok_or(Refused::Unauthenticated)?;
    let (id, vm) = at.vm_by_hostname(user).ok_or(Refused::Unauthenticated)?;
    if vm.decommissioned_at.is_some_and(|d| d <= now) || !key.verify_node_password(id, vm.password_generation, password)
    {
        return Err(Refused::Unauthenticated);
    }
    let project = vm.current().and_then(|c| at.project(&c.project_id)).ok_or(Refused::Unauthenticated)?;
    Ok(Node {
        vm: id,
        hostname: user.to_owned(),
        resource_group: project.resource_group.clone(),
        ring: vm.directory_ring,
    })
}

/// Whether a node may call a path's methods: `/v2/api` (ring 0) needs ring 0, and
/// `/v2/api/rg-<name>` a node of that resource group or of ring 0.
pub fn admit(node: &Node, resource_group: Option<&str>) -> Result<(), Refused> {
    match resource_group {
        None if node.ring == 0 => Ok(()),
        None => Err(Refused::Forbidden(format!(
            "{} has ring 1: it calls its resource group's path /v2/api/rg-{}",
            node.hostname, node.resource_group
        ))),
        Some(rg) if node.may_reach(rg) => Ok(()),
        Some(_) => Err(Refused::Forbidden(format!(
            "{} belongs to another resource group; its path is /v2/api/rg-{}",
            node.hostname, node.resource_group
        ))),
    }
}
