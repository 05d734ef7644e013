//! Addresses for VMs (fc-compat.md, `defineNetwork`): a VM gets, on each VLAN with networks
//! in its location, an interface with a locally administered MAC and the lowest free
//! address of each of the VLAN's networks. The catalog proposes, the store decides: every
//! address and MAC is a claim of the VM's append, so two VMs never hold one, whichever
//! server allocated it; an allocation that lost a race plans again once the read models
//! show the winner. Within one process, an address being claimed is reserved until its
//! append ends, so concurrent allocations of one server plan different addresses at once
//! instead of losing to each other in turns. A decommissioned VM's addresses are taken
//! back once `deletions` no longer lists it.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use domain::network::{ADDRESS, Assignment, MAC, mac};
use domain::vm::{Interface, VmCommand};
use domain::{Instant, VmId};
use projections::At;
use store::Guard;

use crate::commands::{Bus, Envelope, Executed};
use crate::error::ApiError;

/// How often an allocation plans again after losing an address to a concurrent one.
const ATTEMPTS: usize = 32;

/// What a VM is to get: its addresses, and the VMs past their deletion whose addresses
/// among them must be released first.
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    pub addresses: Vec<Assignment>,
    pub reclaim: Vec<VmId>,
}

/// The addresses this process is claiming now, in appends not yet ended.
#[derive(Clone, Default)]
pub struct Reserved(Arc<Mutex<BTreeSet<IpAddr>>>);

/// Addresses reserved for one allocation, given back when it ends however it ends (the
/// request may be dropped halfway).
struct Reservation {
    reserved: Reserved,
    addresses: Vec<IpAddr>,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut set = self.reserved.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for a in &self.addresses {
            set.remove(a);
        }
    }
}

/// The addresses VM `vm` in `location` (holding `interfaces`) lacks: for each network of
/// the location it has none in, the lowest address no one holds (nor `reserved`), or whose
/// holder's data was removed by `now`. RULE_VIOLATION when a network has no address left.
pub fn plan(
    at: At<'_>,
    vm: VmId,
    location: &str,
    interfaces: &BTreeMap<String, Interface>,
    now: Instant,
    reserved: &BTreeSet<IpAddr>,
) -> Result<Plan, ApiError> {
    let mut plan = Plan::default();
    let mut macs: BTreeMap<&str, String> = interfaces.iter().map(|(vlan, i)| (vlan.as_str(), i.mac.clone())).collect();
    for network in at.networks().filter(|n| n.location == location) {
        if interfaces.get(&network.vlan).is_some_and(|i| i.addresses.contains_key(&network.cidr)) {
            continue;
        }
        let mac = macs
            .entry(&network.vlan)
            .or_insert_with(|| {
                (0..).map(|n| mac(vm, &network.vlan, n)).find(|m| at.mac_holder(m).is_none_or(|h| h == vm)).unwrap()
            })
            .clone();
        let mut reclaim = None;
        let free = network.hosts().filter(|a| !reserved.contains(a)).find(|address| match at.address_holder(address) {
            None => true,
            Some(holder) => {
                let gone = at.vm(&holder).and_then(|v| v.addresses_held_until()).is_some_and(|until| until <= now);
                reclaim = gone.then_some(holder);
                gone
            }
        });
        let address = free.ok_or_else(|| {
            ApiError::RuleViolation(format!(
                "network {} of VLAN {} in {location} has no free address",
                network.cidr, network.vlan
            ))
        })?;
        plan.reclaim.extend(reclaim);
        plan.addresses.push(Assignment { vlan: network.vlan.clone(), mac, network: network.cidr, address });
    }
    plan.reclaim.sort();
    plan.reclaim.dedup();
    Ok(plan)
}

/// The claims of a plan's addresses and MACs; a MAC the VM's interface has already is its own.
pub fn claims(plan: &Plan, interfaces: &BTreeMap<String, Interface>) -> Vec<(String, String)> {
    let mut claims: Vec<(String, String)> = vec![];
    for a in &plan.addresses {
        claims.push((ADDRESS.to_owned(), a.address.to_string()));
        let known = interfaces.get(&a.vlan).is_some_and(|i| i.mac == a.mac);
        if !known && !claims.iter().any(|(scope, key)| scope == MAC && *key == a.mac) {
            claims.push((MAC.to_owned(), a.mac.clone()));
        }
    }
    claims
}

/// Runs a command that takes the addresses `propose` plans: first the release of the
/// addresses of VMs past their deletion that the plan reuses, then `run` with the plan and
/// the claims its append must make. When the append is refused and the read models, caught
/// up with the log, plan otherwise, it runs again with the new plan.
pub async fn allocating<P, R, F>(
    bus: &Bus,
    envelope: &Envelope,
    now: Instant,
    mut propose: P,
    mut run: R,
) -> Result<Executed, ApiError>
where
    P: FnMut(&BTreeSet<IpAddr>) -> Result<(Plan, Guard), ApiError>,
    R: FnMut(Vec<Assignment>, Guard) -> F,
    F: Future<Output = Result<Executed, ApiError>>,
{
    let mut refused: Option<(Vec<Assignment>, ApiError)> = None;
    for _ in 0..ATTEMPTS {
        let (plan, guard, _reservation) = {
            let mut set = bus.reserved.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let (plan, guard) = propose(&set)?;
            let addresses: Vec<IpAddr> = plan.addresses.iter().map(|a| a.address).collect();
            set.extend(addresses.iter().copied());
            (plan, guard, Reservation { reserved: bus.reserved.clone(), addresses })
        };
        if let Some((tried, error)) = refused.take() {
            // Refused for another reason than a concurrent allocation: the plan stands.
            if tried == plan.addresses {
                return Err(error);
            }
        }
        for holder in &plan.reclaim {
            reclaim(bus, envelope, now, *holder).await?;
        }
        match run(plan.addresses.clone(), guard).await {
            Err(error @ ApiError::Conflict(_)) => {
                tracing::debug!(message = error.message(), "an allocation was refused; planning again once caught up");
                bus.catch_up_to_head().await?;
                refused = Some((plan.addresses, error));
            }
            done => return done,
        }
    }
    Err(ApiError::Conflict("the addresses kept being taken by concurrent allocations; retry".into()))
}

/// Gives up the addresses of a VM past its deletion, so that another VM may take them.
async fn reclaim(bus: &Bus, envelope: &Envelope, now: Instant, holder: VmId) -> Result<(), ApiError> {
    let Some(vm) = bus.projector.read().live().vm(&holder).cloned() else { return Ok(()) };
    let releases = vm
        .interfaces
        .values()
        .flat_map(|i| {
            let addresses = i.addresses.values().map(|a| (ADDRESS.to_owned(), a.to_string()));
            addresses.chain([(MAC.to_owned(), i.mac.clone())])
        })
        .collect();
    let guard = Guard { releases, ..Guard::default() };
    let part = envelope.part(&format!("release/{holder}"));
    bus.execute_guarded(&bus.vms, &holder.to_string(), VmCommand::ReleaseAddresses { now }, &part, guard).await?;
    Ok(())
}

/// The plan of the addresses an existing VM lacks, with the claims its append makes; an
/// empty plan for a VM that is gone or being decommissioned.
fn lacking(bus: &Bus, vm: VmId, now: Instant, reserved: &BTreeSet<IpAddr>) -> Result<(Plan, Guard), ApiError> {
    let catalog = bus.projector.read();
    let at = catalog.live();
    let Some(v) = at.vm(&vm).filter(|v| v.decommissioned_at.is_none()) else {
        return Ok((Plan::default(), Guard::default()));
    };
    let plan = plan(at, vm, &v.location, &v.interfaces, now, reserved)?;
    let guard = Guard { claims: claims(&plan, &v.interfaces), ..Guard::default() };
    Ok((plan, guard))
}

/// Gives a VM the addresses it lacks (a network was defined in its location since).
pub async fn fill(bus: &Bus, envelope: &Envelope, now: Instant, vm: VmId) -> Result<(), ApiError> {
    let part = envelope.part(&format!("addresses/{vm}"));
    let run = |addresses: Vec<Assignment>, guard: Guard| {
        let part = &part;
        async move {
            if addresses.is_empty() {
                return Ok(Executed::Applied(vm.to_string()));
            }
            let command = VmCommand::AssignAddresses { addresses };
            bus.execute_guarded(&bus.vms, &vm.to_string(), command, part, guard).await
        }
    };
    allocating(bus, &part, now, |reserved| lacking(bus, vm, now, reserved), run).await?;
    Ok(())
}

/// Defines a network and gives every VM of its location an address in it, the oldest VM
/// the lowest. Refused before anything is recorded when the network has too few addresses
/// for the VMs there. Sent again, it gives the addresses any VM still lacks.
pub async fn define_network(
    bus: &Bus,
    envelope: &Envelope,
    now: Instant,
    command: domain::network::NetworkCommand,
) -> Result<Executed, ApiError> {
    let domain::network::NetworkCommand::Define { location, vlan, cidr, gateway } = &command;
    let network =
        domain::network::network(location, vlan, cidr, gateway).map_err(|e| ApiError::BadInput(e.to_string()))?;
    let vms: Vec<VmId> = {
        let catalog = bus.projector.read();
        let at = catalog.live();
        let mut vms: Vec<(u32, VmId)> = at
            .vms()
            .filter(|(_, v)| v.location == network.location && v.decommissioned_at.is_none())
            .filter(|(_, v)| !v.interfaces.get(&network.vlan).is_some_and(|i| i.addresses.contains_key(&network.cidr)))
            .map(|(id, _)| (at.platform_number(&id.0).unwrap_or(u32::MAX), *id))
            .collect();
        vms.sort();
        let free = |a: &std::net::IpAddr| {
            at.address_holder(a).is_none_or(|holder| {
                at.vm(&holder).and_then(|v| v.addresses_held_until()).is_some_and(|until| until <= now)
            })
        };
        let room = network.hosts().filter(free).take(vms.len()).count();
        if room < vms.len() {
            return Err(ApiError::RuleViolation(format!(
                "{} has room for {room} VMs; the {} VMs in {} need an address in it",
                network.cidr,
                vms.len(),
                network.location
            )));
        }
        vms.into_iter().map(|(_, id)| id).collect()
    };
    let stream = domain::network::stream_id().to_string();
    let done = bus.execute(&bus.networks, &stream, command, envelope).await?;
    for vm in vms {
        fill(bus, envelope, now, vm).await?;
    }
    Ok(done)
}
