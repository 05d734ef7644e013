//! What a node learns of the network (fc-compat.md): its own interfaces in its ENC, the
//! addresses of its resource group's nodes, and the platform services of its location
//! with their clients. A node never learns more of another resource group than the
//! services it uses or provides.

use std::collections::BTreeMap;

use dxr::{Fault, Value};
use projections::At;

use super::methods::{number, running_at, string, structure, text};
use super::xml::{BAD_REQUEST, fault};
use app::node_auth::Node;
use app::state::AppState;
use domain::VmId;
use domain::platform::{PLATFORM_SERVICE_ROLES, service};
use domain::vm::Vm;

/// The ENC's `interfaces`: per VLAN its MAC, `bridged` (always present: the NixOS modules
/// read it without a default), its addresses by network, and each network's gateway.
pub(super) fn interfaces(at: At<'_>, vm: &Vm) -> Value {
    let gateways: BTreeMap<_, _> = at.networks().map(|n| (n.cidr, n.gateway)).collect();
    let interfaces = vm.interfaces.iter().map(|(vlan, i)| {
        let networks = i.addresses.iter().map(|(net, a)| (net.to_string(), Value::Array(vec![text(a.to_string())])));
        let gateway = |net| gateways.get(net).map_or_else(String::new, ToString::to_string);
        let gateways = i.addresses.keys().map(|net| (net.to_string(), text(gateway(net))));
        let interface = structure([
            ("mac", text(i.mac.clone())),
            ("bridged", Value::Boolean(false)),
            ("networks", Value::Struct(networks.collect())),
            ("gateways", Value::Struct(gateways.collect())),
        ]);
        (vlan.clone(), interface)
    });
    Value::Struct(interfaces.collect())
}

/// `list_nodes_addresses(location, vlan[, ipversion])`: every address of the running VMs
/// of the caller's resource group in that location, on that VLAN (`""`: every VLAN), of
/// that IP version (4 or 6) if given.
pub(super) fn list_nodes_addresses(
    state: &AppState,
    caller: &Node,
    path: Option<&str>,
    method: &str,
    params: Vec<Value>,
) -> Result<Value, Fault> {
    let given = params.len();
    if !(2..=3).contains(&given) {
        return Err(fault(BAD_REQUEST, format!("{method} takes a location, a VLAN and an IP version, got {given}")));
    }
    let mut params = params.into_iter();
    let location = string(method, "location", params.next().expect("two"))?;
    let vlan = string(method, "vlan", params.next().expect("two"))?;
    let version = match params.next() {
        None | Some(Value::Nil) => None,
        Some(Value::Integer(v @ (4 | 6))) => Some(v),
        Some(Value::Long(v @ (4 | 6))) => Some(v as i32),
        Some(Value::String(v)) if v == "4" || v == "6" => v.parse().ok(),
        Some(_) => return Err(fault(BAD_REQUEST, format!("{method}: ipversion must be 4 or 6"))),
    };
    let group = super::group(caller, path);
    let catalog = state.catalog();
    let at = catalog.live();
    let Some((project, rg)) = at.project_by_resource_group(group) else { return Ok(Value::Array(vec![])) };
    let rg_parent = rg.parent_id.and_then(|p| at.project(&p)).map(|p| p.resource_group.clone()).unwrap_or_default();
    let mut vms: Vec<(i32, VmId, &Vm)> = at
        .vms_in(project)
        .filter_map(|id| at.vm(&id).map(|vm| (number(at, &id.0), id, vm)))
        .filter(|(_, _, vm)| vm.location == location && running_at(vm, state.now()))
        .collect();
    vms.sort_by_key(|(n, ..)| *n);
    let mut listed = vec![];
    for (_, _, vm) in vms {
        let Some(node) = &vm.node else { continue };
        for (name, interface) in vm.interfaces.iter().filter(|(name, _)| vlan.is_empty() || **name == vlan) {
            for (net, address) in &interface.addresses {
                if version.is_some_and(|v| (v == 4) != address.is_ipv4()) {
                    continue;
                }
                listed.push(structure([
                    ("name", text(node.hostname.clone())),
                    ("ip", text(format!("{address}/{}", net.prefix_len()))),
                    ("mac", text(interface.mac.clone())),
                    ("vlan", text(name.clone())),
                    ("rg", text(rg.resource_group.clone())),
                    ("rg_parent", text(rg_parent.clone())),
                    ("ring", Value::Integer(vm.directory_ring.into())),
                ]));
            }
        }
    }
    Ok(Value::Array(listed))
}

/// A service one VM provides in its location, and who uses it.
struct Provided<'a> {
    service: String,
    provider: &'a Vm,
    /// Every VM of the location (a platform service), or those of this resource group.
    group: Option<String>,
}

/// The services provided in a location, each once (by its oldest provider), by name.
fn services<'a>(at: At<'a>, location: &str, now: domain::Instant) -> BTreeMap<String, Provided<'a>> {
    let mut providers: Vec<(i32, &Vm)> = at
        .vms()
        .filter(|(_, vm)| vm.location == location && running_at(vm, now))
        .map(|(id, vm)| (number(at, &id.0), vm))
        .collect();
    providers.sort_by_key(|(n, _)| *n);
    let mut services = BTreeMap::new();
    for (_, vm) in providers {
        let Some(node) = &vm.node else { continue };
        for role in &node.roles {
            let group = match PLATFORM_SERVICE_ROLES.contains(&role.as_str()) {
                true => None,
                false => Some(resource_group(at, vm)),
            };
            services.entry(service(role)).or_insert_with(|| Provided { service: service(role), provider: vm, group });
        }
    }
    services
}

fn resource_group(at: At<'_>, vm: &Vm) -> String {
    vm.current().and_then(|c| at.project(&c.project_id)).map(|p| p.resource_group.clone()).unwrap_or_default()
}

/// Whether `vm` uses a service: every VM of the location uses a platform service.
fn uses(at: At<'_>, provided: &Provided<'_>, vm: &Vm) -> bool {
    provided.group.as_ref().is_none_or(|group| resource_group(at, vm) == *group)
}

/// `list_services()`: the services the caller uses in its location, each once, with the
/// address its provider is reached at and the password the caller logs in to it with.
pub(super) fn list_services(state: &AppState, caller: &Node) -> Value {
    let catalog = state.catalog();
    let at = catalog.live();
    let Some(me) = at.vm(&caller.vm) else { return Value::Array(vec![]) };
    let listed = services(at, &me.location, state.now())
        .into_values()
        .filter(|p| uses(at, p, me))
        .map(|p| {
            let host = p.provider.node.as_ref().map_or_else(String::new, |n| n.hostname.clone());
            let ips = p.provider.addresses().map(|(_, a)| text(a.to_string())).collect();
            structure([
                ("service", text(p.service.clone())),
                ("address", text(format!("{host}.{}", state.node_domain()))),
                ("ips", Value::Array(ips)),
                ("location", text(me.location.clone())),
                ("password", text(state.node_key().service_password(&p.service, &caller.hostname))),
            ])
        })
        .collect();
    Value::Array(listed)
}

/// `list_service_clients()`: for each service the caller provides in its location, the
/// VMs that use it, with the password each logs in with.
pub(super) fn list_service_clients(state: &AppState, caller: &Node) -> Value {
    let catalog = state.catalog();
    let at = catalog.live();
    let Some(me) = at.vm(&caller.vm) else { return Value::Array(vec![]) };
    let now = state.now();
    let mine: Vec<Provided<'_>> = match &me.node {
        Some(node) => node
            .roles
            .iter()
            .map(|role| {
                let platform = PLATFORM_SERVICE_ROLES.contains(&role.as_str());
                Provided { service: service(role), provider: me, group: (!platform).then(|| resource_group(at, me)) }
            })
            .collect(),
        None => vec![],
    };
    let mut clients: Vec<(i32, &Vm)> = at
        .vms()
        .filter(|(_, vm)| vm.location == me.location && running_at(vm, now))
        .map(|(id, vm)| (number(at, &id.0), vm))
        .collect();
    clients.sort_by_key(|(n, _)| *n);
    let mut listed = vec![];
    for provided in &mine {
        for (_, client) in clients.iter().filter(|(_, vm)| uses(at, provided, vm)) {
            let Some(node) = &client.node else { continue };
            listed.push(structure([
                ("service", text(provided.service.clone())),
                ("node", text(format!("{}.{}", node.hostname, state.node_domain()))),
                ("location", text(me.location.clone())),
                ("password", text(state.node_key().service_password(&provided.service, &node.hostname))),
            ]));
        }
    }
    Value::Array(listed)
}
