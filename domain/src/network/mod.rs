//! Networks: the IP networks of each VLAN in each location, from which VMs get their
//! addresses (`../shared/contract/fc-compat.md`, `defineNetwork`). One stream holds them
//! all, so that two networks can never overlap.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::shared::error::{Classify, Invalid, Refusal};
use crate::shared::validate;
use crate::{VmId, aggregate, event_names};

#[cfg(test)]
mod tests;

/// The claim scope of addresses: a VM holds each of its addresses as a unique name, so two
/// VMs never hold one address, whichever server allocated it.
pub const ADDRESS: &str = "vm.address";
/// The claim scope of MAC addresses.
pub const MAC: &str = "vm.mac";

/// The prefix lengths accepted: at least two addresses for VMs besides the gateway.
const IPV4_PREFIX: (u8, u8) = (8, 29);
const IPV6_PREFIX: (u8, u8) = (32, 126);

/// The id of the one stream that holds every network.
pub fn stream_id() -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_OID, b"directory:networks")
}

/// One network of a VLAN in a location, with its gateway.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    pub location: String,
    pub vlan: String,
    pub cidr: IpNet,
    pub gateway: IpAddr,
}

impl Network {
    /// The addresses VMs may get, lowest first: neither the network's own address, nor its
    /// gateway, nor (IPv4) its broadcast address.
    pub fn hosts(&self) -> impl Iterator<Item = IpAddr> + '_ {
        let broadcast = matches!(self.cidr, IpNet::V4(_)).then(|| self.cidr.broadcast());
        self.cidr.hosts().filter(move |a| *a != self.gateway && *a != self.cidr.network() && Some(*a) != broadcast)
    }

    /// An address of this network with its prefix length, as the node API writes it (`172.20.2.15/24`).
    pub fn with_prefix(&self, address: IpAddr) -> String {
        format!("{address}/{}", self.cidr.prefix_len())
    }
}

/// Every network defined, in the order defined.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Networks {
    pub networks: Vec<Network>,
}

impl Networks {
    /// The networks of one location.
    pub fn in_location<'a>(&'a self, location: &'a str) -> impl Iterator<Item = &'a Network> + 'a {
        self.networks.iter().filter(move |n| n.location == location)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum NetworkCommand {
    Define { location: String, vlan: String, cidr: String, gateway: String },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum NetworkEvent {
    NetworkDefined { network: Network },
}

event_names!(NetworkEvent { NetworkDefined });

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum NetworkError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("{cidr} overlaps the network {other} of VLAN {vlan} in {location}")]
    Overlaps { cidr: IpNet, other: IpNet, vlan: String, location: String },
}

impl Classify for NetworkError {
    fn refusal(&self) -> Refusal {
        match self {
            Self::Invalid(_) => Refusal::BadInput,
            Self::Overlaps { .. } => Refusal::Conflict,
        }
    }
}

/// Parses and checks a network and its gateway.
pub fn network(location: &str, vlan: &str, cidr: &str, gateway: &str) -> Result<Network, Invalid> {
    let location = validate::name("location", location)?;
    let vlan = crate::platform::vlan("vlan", vlan)?;
    let cidr: IpNet = cidr
        .trim()
        .parse()
        .map_err(|_| Invalid::new("cidr", "must be an IPv4 or IPv6 network such as 172.20.2.0/24"))?;
    if cidr.trunc() != cidr {
        return Err(Invalid::new("cidr", format!("has host bits set; the network is {}", cidr.trunc())));
    }
    let (min, max) = match cidr {
        IpNet::V4(_) => IPV4_PREFIX,
        IpNet::V6(_) => IPV6_PREFIX,
    };
    if !(min..=max).contains(&cidr.prefix_len()) {
        return Err(Invalid::new("cidr", format!("the prefix length must be {min}-{max}")));
    }
    let gateway: IpAddr =
        gateway.trim().parse().map_err(|_| Invalid::new("gateway", "must be an IPv4 or IPv6 address"))?;
    let broadcast = matches!(cidr, IpNet::V4(_)).then(|| cidr.broadcast());
    if !cidr.contains(&gateway) || gateway == cidr.network() || Some(gateway) == broadcast {
        return Err(Invalid::new("gateway", format!("must be a host address of {cidr}")));
    }
    Ok(Network { location, vlan, cidr, gateway })
}

pub fn decide(all: &Networks, cmd: NetworkCommand) -> Result<Vec<NetworkEvent>, NetworkError> {
    let NetworkCommand::Define { location, vlan, cidr, gateway } = cmd;
    let network = network(&location, &vlan, &cidr, &gateway)?;
    // The same network defined again is a retry: nothing to record.
    if all.networks.contains(&network) {
        return Ok(vec![]);
    }
    let overlapping =
        |n: &&Network| n.cidr.contains(&network.cidr.network()) || network.cidr.contains(&n.cidr.network());
    if let Some(other) = all.networks.iter().find(overlapping) {
        return Err(NetworkError::Overlaps {
            cidr: network.cidr,
            other: other.cidr,
            vlan: other.vlan.clone(),
            location: other.location.clone(),
        });
    }
    Ok(vec![NetworkEvent::NetworkDefined { network }])
}

pub fn evolve(all: &mut Networks, event: &NetworkEvent) {
    let NetworkEvent::NetworkDefined { network } = event;
    all.networks.push(network.clone());
}

aggregate!(Networks, "networks", NetworkCommand, NetworkEvent, NetworkError);

/// The MAC address of a VM's interface on a VLAN: locally administered (`02:…`), the same
/// for the VM and VLAN every time; `attempt` picks another should one be taken.
pub fn mac(vm: VmId, vlan: &str, attempt: u32) -> String {
    let digest = Sha256::new().chain_update(vm.0.as_bytes()).chain_update(vlan).chain_update(attempt.to_be_bytes());
    let bytes = digest.finalize();
    let mut mac = String::from("02");
    for b in &bytes[..5] {
        mac.push_str(&format!(":{b:02x}"));
    }
    mac
}

/// One address a VM gets: its interface on the VLAN (with the interface's MAC), the
/// network and the address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    pub vlan: String,
    pub mac: String,
    pub network: IpNet,
    pub address: IpAddr,
}
