//! The node API's methods, answered from the read models as the agents expect them
//! (fc-compat.md). Every answer is a plain XML-RPC value: instants are ISO strings, never
//! `dateTime`, as the agents write results straight into JSON.

use std::collections::BTreeMap;

use dxr::{Fault, Value};
use projections::At;

use super::xml::{BAD_REQUEST, FORBIDDEN, NOT_FOUND, UNKNOWN_METHOD, fault};
use app::commands::Envelope;
use app::error::ApiError;
use app::node_auth::Node;
use app::state::AppState;
use domain::backup_log::{BackupLogCommand, BackupStatus, VmFacts};
use domain::http_monitor::{Checker, MonitorCommand, Observed};
use domain::person::{Role, StaffRole};
use domain::vm::VmCommand;
use domain::{MonitorId, PersonId};

/// The methods served, by ring: what an unknown method's fault lists.
const RING_1: &[&str] = &[
    "lookup_node",
    "list_nodes_addresses",
    "list_users",
    "list_permissions",
    "list_services",
    "list_service_clients",
    "schedule_maintenance",
    "postpone_maintenance",
    "end_maintenance",
    "mark_node_service_status",
];
const RING_0: &[&str] = &[
    "deletions",
    "list_virtual_machines",
    "list_servicechecks",
    "register_servicecheck_results",
    "publish_backup_status",
];

/// Days after a decommissioning when a VM's data reaches each deletion stage, and when it
/// leaves the list (fc-compat.md, *ours*).
const HARD_AFTER_DAYS: i64 = 7;
const PURGE_AFTER_DAYS: i64 = 30;
const LISTED_DAYS: i64 = domain::vm::DELETION_DAYS;

/// Answers one method of a node's call.
pub async fn dispatch(
    state: &AppState,
    node: &Node,
    path: Option<&str>,
    method: &str,
    params: Vec<Value>,
) -> Result<Value, Fault> {
    match method {
        "lookup_node" => {
            let [name] = arguments::<1>(method, params, "the node's name")?;
            let name = string(method, "name", name)?;
            let catalog = state.catalog();
            lookup_node(state, catalog.live(), node, path, &name)
        }
        "list_users" => {
            let group = match params.len() {
                0 => super::group(node, path).to_owned(),
                1 => string(method, "rg", params.into_iter().next().expect("one"))?,
                given => {
                    return Err(fault(BAD_REQUEST, format!("{method} takes an optional resource group, got {given}")));
                }
            };
            let catalog = state.catalog();
            list_users(catalog.live(), node, &group)
        }
        "mark_node_service_status" => mark_node_service_status(state, node, path, method, params).await,
        "list_nodes_addresses" => super::network::list_nodes_addresses(state, node, path, method, params),
        "list_services" => {
            arguments::<0>(method, params, "no arguments")?;
            Ok(super::network::list_services(state, node))
        }
        "list_service_clients" => {
            arguments::<0>(method, params, "no arguments")?;
            Ok(super::network::list_service_clients(state, node))
        }
        "schedule_maintenance" | "postpone_maintenance" | "end_maintenance" => {
            let [requests] = arguments::<1>(method, params, "a struct of requests by id")?;
            super::maintenance::dispatch(state, node, method, requests).await
        }
        "list_permissions" => {
            arguments::<0>(method, params, "no arguments")?;
            Ok(list_permissions())
        }
        "deletions" => {
            ring_0(method, path)?;
            let [kind] = arguments::<1>(method, params, "the kind of thing, \"vm\"")?;
            match string(method, "kind", kind)?.as_str() {
                "vm" => {
                    let catalog = state.catalog();
                    Ok(deletions(catalog.live(), state.now()))
                }
                other => Err(fault(BAD_REQUEST, format!("deletions knows \"vm\" only, not {:?}", truncate(other)))),
            }
        }
        "list_servicechecks" => {
            ring_0(method, path)?;
            arguments::<0>(method, params, "no arguments")?;
            let catalog = state.catalog();
            Ok(list_servicechecks(catalog.live(), state.now()))
        }
        "register_servicecheck_results" => {
            ring_0(method, path)?;
            let [results] = arguments::<1>(method, params, "a list of results")?;
            register_servicecheck_results(state, node, results).await
        }
        "publish_backup_status" => {
            ring_0(method, path)?;
            let [vm, revisions] = arguments::<2>(method, params, "the VM's name and its revisions")?;
            let vm = string(method, "vm", vm)?;
            publish_backup_status(state, node, &vm, revisions).await
        }
        "list_virtual_machines" => {
            ring_0(method, path)?;
            let [location] = arguments::<1>(method, params, "a location")?;
            let location = string(method, "location", location)?;
            let catalog = state.catalog();
            Ok(list_virtual_machines(catalog.live(), &location, state.now()))
        }
        _ => Err(fault(
            UNKNOWN_METHOD,
            format!(
                "unknown method {:?}; this Directory serves {} (ring 1) and {} (ring 0)",
                truncate(method),
                RING_1.join(", "),
                RING_0.join(", ")
            ),
        )),
    }
}

/// A ring-0 method is called at `/v2/api` (a ring-0 node may also call ring-1 paths).
fn ring_0(method: &str, path: Option<&str>) -> Result<(), Fault> {
    match path {
        None => Ok(()),
        Some(_) => Err(fault(FORBIDDEN, format!("{method} is a ring 0 method: call it at /v2/api"))),
    }
}

pub(super) fn truncate(s: &str) -> String {
    s.chars().take(80).collect()
}

/// Exactly `N` parameters, or a fault naming what the method takes.
pub(super) fn arguments<const N: usize>(method: &str, params: Vec<Value>, takes: &str) -> Result<[Value; N], Fault> {
    let given = params.len();
    params.try_into().map_err(|_| fault(BAD_REQUEST, format!("{method} takes {takes} ({N} parameters), got {given}")))
}

pub(super) fn string(method: &str, name: &str, value: Value) -> Result<String, Fault> {
    match value {
        Value::String(s) => Ok(s),
        _ => Err(fault(BAD_REQUEST, format!("{method}: {name} must be a string"))),
    }
}

pub(super) fn text(s: impl Into<String>) -> Value {
    Value::String(s.into())
}

pub(super) fn structure<const N: usize>(members: [(&str, Value); N]) -> Value {
    Value::Struct(members.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

/// Whether a VM's machine runs at `now`: provisioned and not yet decommissioned (one
/// planned for later still runs).
pub(super) fn running_at(vm: &domain::vm::Vm, now: domain::Instant) -> bool {
    vm.decommissioned_at.is_none_or(|d| d > now)
}

/// Where service users' numbers start: a person's come from 1000 up, one per person.
const SERVICE_USER_NUMBERS: i32 = 1_000_000;

/// The number the agents know a project, VM or monitor by (given in creation order, never twice).
pub(super) fn number(at: At<'_>, id: &uuid::Uuid) -> i32 {
    at.platform_number(id).map_or(0, |n| n as i32)
}

/// The node's ENC: `name`, `roles`, `classes` and its `parameters`. On a resource group's
/// path the node must be of that group; on the ring 0 path it may be any.
pub(super) fn lookup_node(
    state: &AppState,
    at: At<'_>,
    caller: &Node,
    path: Option<&str>,
    name: &str,
) -> Result<Value, Fault> {
    let unknown = || fault(NOT_FOUND, format!("no node {:?} here", truncate(name)));
    let (id, vm) = at.vm_by_hostname(name).filter(|(_, v)| running_at(v, state.now())).ok_or_else(unknown)?;
    let node = vm.node.as_ref().ok_or_else(unknown)?;
    let config = vm.current().ok_or_else(unknown)?;
    let project = at.project(&config.project_id).ok_or_else(unknown)?;
    // Another resource group's nodes look unknown, whoever asks on this path.
    if path.is_some_and(|group| project.resource_group != group) || !caller.may_reach(&project.resource_group) {
        return Err(unknown());
    }
    let parent = project.parent_id.and_then(|p| at.project(&p)).map(|p| p.resource_group.clone()).unwrap_or_default();
    let release = node.channel.as_deref().and_then(|c| current_release(at, c, state.now())).unwrap_or_default();
    // A node learns its own password (it has it already), never another's.
    let password =
        if id == caller.vm { state.node_key().node_password(id, vm.password_generation) } else { String::new() };
    let parameters = structure([
        ("resource_group", text(project.resource_group.clone())),
        ("resource_group_parent", text(parent)),
        ("location", text(vm.location.clone())),
        ("environment", text(node.channel.clone().unwrap_or_default())),
        ("environment_url", text("")),
        ("environment_class", text("NixOS")),
        ("release_name", text(release)),
        ("release_changelog", text("")),
        ("production", Value::Boolean(node.production)),
        ("machine", text("virtual")),
        ("servicing", Value::Boolean(vm.servicing_at(state.now()))),
        ("service_description", text("")),
        ("timezone", text("Europe/Berlin")),
        ("profile", text("generic")),
        ("memory", Value::Integer((config.resources.ram_gb * 1024) as i32)),
        ("cores", Value::Integer(config.resources.cpu as i32)),
        ("disk", Value::Integer(config.resources.disk_gb as i32)),
        ("rbd_pool", text("rbd.hdd")),
        ("online", Value::Boolean(true)),
        ("kvm_host", text("")),
        ("id", Value::Integer(number(at, &id.0))),
        ("directory_password", text(password)),
        ("directory_ring", Value::Integer(vm.directory_ring.into())),
        ("interfaces", super::network::interfaces(at, vm)),
    ]);
    Ok(structure([
        ("name", text(name)),
        ("roles", Value::Array(node.roles.iter().map(|r| text(r.clone())).collect())),
        ("classes", Value::Array(node.roles.iter().map(|r| text(format!("role::{r}"))).collect())),
        ("parameters", parameters),
    ]))
}

/// The release a channel runs now: the newest rolled out, or approved with its window open.
fn current_release(at: At<'_>, channel: &str, now: domain::Instant) -> Option<String> {
    at.releases()
        .map(|(_, r)| r)
        .filter(|r| r.channel == channel && r.cancelled.is_none())
        .filter(|r| {
            r.rolled_out_at.is_some()
                || (r.decision.as_ref().is_some_and(|d| d.approve) && r.window_start.is_some_and(|w| w <= now))
        })
        .max_by_key(|r| r.window_start)
        .and_then(|r| r.week.map(|w| w.to_string()))
}

/// What each role lets a person do on a resource group's machines (fc-compat.md, *ours*).
fn permissions(role: Option<Role>, ops: bool) -> Vec<&'static str> {
    match (role, ops) {
        (_, true) => vec!["login", "code", "stats", "sudo-srv", "wheel"],
        (Some(Role::Manager), false) => vec!["login", "code", "stats", "sudo-srv", "manager"],
        (Some(Role::Member), false) => vec!["login", "code", "stats"],
        (Some(Role::Viewer), false) => vec!["stats"],
        (None, false) => vec![],
    }
}

/// The users of a resource group's machines: everyone with a role on its project or an
/// ancestor, staff OPS, and the group's service user `s-<rg>`, whose keys are the active
/// keys of the project's members and managers. Deactivated people and revoked keys never
/// appear.
pub(super) fn list_users(at: At<'_>, caller: &Node, group: &str) -> Result<Value, Fault> {
    let unreachable =
        || fault(FORBIDDEN, format!("resource group {:?} is not reachable from this node", truncate(group)));
    if !caller.may_reach(group) {
        return Err(unreachable());
    }
    let (project, _) = at.project_by_resource_group(group).ok_or_else(unreachable)?;
    let keys = |person: PersonId| -> Vec<Value> {
        at.keys_of(person)
            .filter_map(|k| at.key(&k))
            .filter(|k| k.is_active())
            .map(|k| text(k.comment.as_ref().map_or(k.public_key.clone(), |c| format!("{} {c}", k.public_key))))
            .collect()
    };
    let mut users = vec![];
    let mut service_keys = vec![];
    for (id, person) in at.people().filter(|(_, p)| p.deactivated_at.is_none()) {
        let role = at.effective_role(*id, project);
        let ops = person.staff_roles.contains(&StaffRole::Ops);
        let granted = permissions(role, ops);
        if granted.is_empty() {
            continue;
        }
        if matches!(role, Some(Role::Member | Role::Manager)) {
            service_keys.extend(keys(*id));
        }
        let Some(login) = at.login(id) else { continue };
        users.push((
            login.uid_number,
            structure([
                ("class", text("human")),
                ("id", Value::Integer(login.uid_number as i32)),
                ("uid", text(login.uid.clone())),
                ("gid", Value::Integer(100)),
                ("name", text(person.name.clone())),
                ("home_directory", text(format!("/home/{}", login.uid))),
                ("login_shell", text("/bin/bash")),
                ("password", text("*")),
                ("ssh_pubkey", Value::Array(keys(*id))),
                ("email_addresses", Value::Array(vec![text(person.email.clone())])),
                ("permissions", group_permissions(group, &granted)),
            ]),
        ));
    }
    // By login number: the order people were registered, the same on every call.
    users.sort_by_key(|(number, _)| *number);
    let mut users: Vec<Value> = users.into_iter().map(|(_, user)| user).collect();
    let service = format!("s-{group}");
    users.push(structure([
        ("class", text("service")),
        // Far above every person's number: service users never share one with a person.
        ("id", Value::Integer(SERVICE_USER_NUMBERS + number(at, &project.0))),
        ("uid", text(service.clone())),
        ("gid", Value::Integer(101)),
        ("name", text(format!("Service user of {group}"))),
        ("home_directory", text(format!("/srv/{service}"))),
        ("login_shell", text("/bin/bash")),
        ("password", text("*")),
        ("ssh_pubkey", Value::Array(service_keys)),
        ("email_addresses", Value::Array(vec![])),
        ("permissions", group_permissions(group, &[])),
    ]));
    Ok(Value::Array(users))
}

/// `{rg: [permission, …]}`: the group is a key even with no permission in it.
fn group_permissions(group: &str, granted: &[&str]) -> Value {
    Value::Struct(BTreeMap::from([(group.to_owned(), Value::Array(granted.iter().map(|p| text(*p)).collect()))]))
}

/// Decommissioned VMs whose data is still to be removed, with their cumulative stages:
/// `prepare` and `soft` from the decommissioning, `hard` after 7 days, `purge` after 30; a
/// VM leaves the list 90 days after. A decommissioning planned for later is not listed yet.
fn deletions(at: At<'_>, now: domain::Instant) -> Value {
    let mut listed = BTreeMap::new();
    for (_, vm) in at.vms() {
        let (Some(node), Some(gone)) = (&vm.node, vm.decommissioned_at) else { continue };
        let days = (now - gone).num_days();
        if now < gone || days >= LISTED_DAYS {
            continue;
        }
        let mut stages = vec![text("prepare"), text("soft")];
        if days >= HARD_AFTER_DAYS {
            stages.push(text("hard"));
        }
        if days >= PURGE_AFTER_DAYS {
            stages.push(text("purge"));
        }
        listed.insert(node.hostname.clone(), structure([("stages", Value::Array(stages))]));
    }
    Value::Struct(listed)
}

/// The VMs of a location, for the infrastructure that runs and backs them up.
fn list_virtual_machines(at: At<'_>, location: &str, now: domain::Instant) -> Value {
    let mut vms: Vec<(String, Value)> = at
        .vms()
        .filter(|(_, v)| v.location == location && running_at(v, now))
        .filter_map(|(_, v)| {
            let node = v.node.as_ref()?;
            let project = at.project(&v.current()?.project_id)?;
            let parameters = structure([
                ("resource_group", text(project.resource_group.clone())),
                ("backy_server", text("")),
                ("backy_schedule", text("default")),
                ("rbd_pool", text("rbd.hdd")),
                ("production", Value::Boolean(node.production)),
                ("environment", text(node.channel.clone().unwrap_or_default())),
            ]);
            Some((
                node.hostname.clone(),
                structure([("name", text(node.hostname.clone())), ("parameters", parameters)]),
            ))
        })
        .collect();
    vms.sort_by(|a, b| a.0.cmp(&b.0));
    Value::Array(vms.into_iter().map(|(_, vm)| vm).collect())
}

/// The monitors an external checker runs: every active one that staff gave to it, with an
/// id that stays the monitor's.
fn list_servicechecks(at: At<'_>, now: domain::Instant) -> Value {
    let mut checks = vec![];
    for (project_id, project) in at.projects() {
        for id in at.monitors_of(*project_id) {
            let Some(m) = at.monitor(&id) else { continue };
            let Some(config) = m.config.as_ref().filter(|_| m.checked_by == Checker::External) else { continue };
            if m.deleted_at.is_some() || !m.active_at(now) {
                continue;
            }
            let acceptable = config.expected_status.codes().map(|c| Value::Integer(c.into())).collect();
            checks.push(structure([
                ("id", Value::Integer(number(at, &id.0))),
                ("resource_group", text(project.resource_group.clone())),
                ("url", text(config.url.clone())),
                ("redirect", Value::Boolean(config.follow_redirects)),
                ("acceptable", Value::Array(acceptable)),
            ]));
        }
    }
    Value::Array(checks)
}

/// One external result, checked before anything is recorded.
struct ExternalResult {
    monitor: MonitorId,
    state: Option<Observed>,
    at: domain::Instant,
    error: Option<String>,
}

/// Records an external checker's results as the monitors' transitions (the same UP/DOWN
/// rules as the built-in checker: WARNING is up, UNKNOWN changes nothing). Every result is
/// checked first; one that is wrong is a fault and nothing is recorded.
async fn register_servicecheck_results(state: &AppState, node: &Node, results: Value) -> Result<Value, Fault> {
    const METHOD: &str = "register_servicecheck_results";
    let Value::Array(items) = results else {
        return Err(fault(BAD_REQUEST, format!("{METHOD} takes a list of results")));
    };
    let parsed: Vec<ExternalResult> = {
        let catalog = state.catalog();
        let at = catalog.live();
        let by_number: BTreeMap<i32, (MonitorId, Checker)> = at
            .projects()
            .flat_map(|(p, _)| at.monitors_of(*p))
            .filter_map(|id| at.monitor(&id).map(|m| (number(at, &id.0), (id, m.checked_by))))
            .collect();
        items
            .into_iter()
            .enumerate()
            .map(|(n, item)| {
                let bad = |what: &str| fault(BAD_REQUEST, format!("{METHOD}: result {n}: {what}"));
                let Value::Struct(fields) = item else { return Err(bad("must be a struct")) };
                let int = |key: &str| match fields.get(key) {
                    Some(Value::Integer(i)) => Ok(i64::from(*i)),
                    Some(Value::Long(l)) => Ok(*l),
                    _ => Err(bad(&format!("{key} must be an int"))),
                };
                let id = i32::try_from(int("id")?).map_err(|_| bad("no such check"))?;
                let (monitor, checker) = *by_number.get(&id).ok_or_else(|| bad(&format!("no check {id}")))?;
                if checker != Checker::External {
                    return Err(bad(&format!("check {id} is run by the Directory's own checker, not an external one")));
                }
                let state = match int("state")? {
                    0 | 1 => Some(Observed::Up),
                    2 => Some(Observed::Down),
                    3 => None,
                    other => return Err(bad(&format!("state {other} is not 0 (OK), 1, 2 or 3"))),
                };
                let last_check = match fields.get("last_check") {
                    Some(Value::String(s)) => s.clone(),
                    _ => return Err(bad("last_check must be an ISO instant (Europe/Berlin, without offset)")),
                };
                let at = domain::platform::berlin_instant(&last_check)
                    .ok_or_else(|| bad("last_check must be a Europe/Berlin time such as 2026-04-20T15:12:40"))?;
                let error = match (state, fields.get("result")) {
                    (Some(Observed::Down), Some(Value::String(r))) if !r.trim().is_empty() => {
                        Some(r.chars().take(1000).collect())
                    }
                    (Some(Observed::Down), _) => Some("CRITICAL".to_owned()),
                    _ => None,
                };
                Ok(ExternalResult { monitor, state, at, error })
            })
            .collect::<Result<_, _>>()?
    };
    for result in parsed {
        let Some(state_) = result.state else { continue };
        let command = MonitorCommand::RecordTransition {
            state: state_,
            at: result.at,
            observed_status: None,
            redirect_chain: vec![],
            error: result.error,
        };
        match state.bus.execute(&state.bus.monitors, &result.monitor.to_string(), command, &envelope(node)).await {
            Ok(_) => {}
            // Already so, or not checked then (paused, deleted): the state stands as it is.
            Err(ApiError::RuleViolation(_)) => {}
            Err(e) => return Err(fault(super::xml::UNAVAILABLE, format!("{}: {}", e.code(), e.message()))),
        }
    }
    Ok(text(""))
}

/// A backup server's revisions of one VM, each a backup record of that VM once (by its
/// `uuid`; one already recorded is skipped). The shape of every revision is checked before
/// any is recorded; then each is a record of its own, so one the VM's log refuses (say,
/// from before it existed) is named in the fault while the others stand, and sending the
/// list again records nothing twice.
async fn publish_backup_status(state: &AppState, node: &Node, vm: &str, revisions: Value) -> Result<Value, Fault> {
    const METHOD: &str = "publish_backup_status";
    let Value::Array(items) = revisions else {
        return Err(fault(BAD_REQUEST, format!("{METHOD} takes the VM's name and a list of revisions")));
    };
    let facts = {
        let catalog = state.catalog();
        let at = catalog.live();
        let (id, v) = at.vm_by_hostname(vm).ok_or_else(|| fault(NOT_FOUND, format!("no node {:?}", truncate(vm))))?;
        VmFacts { id, provisioned_at: v.provisioned_at().unwrap_or_default(), decommissioned_at: v.decommissioned_at }
    };
    let mut records = vec![];
    for (n, item) in items.into_iter().enumerate() {
        let bad = |what: &str| fault(BAD_REQUEST, format!("{METHOD}: revision {n}: {what}"));
        let Value::Struct(fields) = item else { return Err(bad("must be a struct")) };
        let Some(Value::String(uuid)) = fields.get("uuid") else { return Err(bad("uuid must be a string")) };
        let finished_at = match fields.get("timestamp") {
            Some(Value::DateTime(t)) => chrono::NaiveDateTime::from(*t).and_utc(),
            Some(Value::String(t)) => t.parse().map_err(|_| bad("timestamp must be an ISO instant"))?,
            _ => return Err(bad("timestamp must be a dateTime")),
        };
        let stats = match fields.get("stats") {
            Some(Value::Struct(stats)) => stats.clone(),
            _ => BTreeMap::new(),
        };
        let number = |key: &str| match stats.get(key) {
            Some(Value::Integer(i)) => Some(f64::from(*i)),
            Some(Value::Long(l)) => Some(*l as f64),
            Some(Value::Double(d)) => Some(*d),
            _ => None,
        };
        let size_bytes = number("bytes_written").map(|b| b.max(0.0) as i64);
        let duration = chrono::Duration::milliseconds((number("duration").unwrap_or(0.0).max(0.0) * 1000.0) as i64);
        let tags = match fields.get("tags") {
            Some(Value::Array(tags)) => tags
                .iter()
                .map(|t| match t {
                    Value::String(t) => Ok(t.clone()),
                    _ => Err(bad("tags must be strings")),
                })
                .collect::<Result<Vec<_>, _>>()?,
            _ => vec![],
        };
        records.push(BackupLogCommand::Record {
            vm: facts.clone(),
            backup_id: uuid.clone(),
            status: BackupStatus::Succeeded,
            started_at: finished_at - duration,
            finished_at,
            size_bytes,
            tags,
            error: None,
        });
    }
    let mut refused = vec![];
    for record in records {
        match state.bus.execute(&state.bus.backups, &facts.id.to_string(), record, &envelope(node)).await {
            // Recorded before (the backup server reports every revision it keeps).
            Ok(_) | Err(ApiError::Conflict(_)) => {}
            Err(e) => refused.push(e.message().to_owned()),
        }
    }
    match refused.is_empty() {
        true => Ok(text("")),
        false => Err(fault(BAD_REQUEST, format!("{METHOD}: not recorded: {}", refused.join("; ")))),
    }
}

/// `mark_node_service_status(name, in_service[, seconds])`: a node of the caller's group
/// goes out of service (back by itself after `seconds`, if given) or back into it.
async fn mark_node_service_status(
    state: &AppState,
    caller: &Node,
    path: Option<&str>,
    method: &str,
    params: Vec<Value>,
) -> Result<Value, Fault> {
    let given = params.len();
    let mut params = params.into_iter();
    let (Some(name), Some(in_service)) = (params.next(), params.next()) else {
        return Err(fault(BAD_REQUEST, format!("{method} takes a name, in_service and seconds, got {given}")));
    };
    let name = string(method, "name", name)?;
    let Value::Boolean(in_service) = in_service else {
        return Err(fault(BAD_REQUEST, format!("{method}: in_service must be a boolean")));
    };
    let seconds = match params.next() {
        None | Some(Value::Nil) => None,
        Some(Value::Integer(s)) => Some(i64::from(s)),
        Some(Value::Long(s)) => Some(s),
        Some(Value::Double(s)) if s.is_finite() => Some(s as i64),
        Some(_) => return Err(fault(BAD_REQUEST, format!("{method}: seconds must be a number"))),
    };
    if params.next().is_some() || seconds.is_some_and(|s| !(1..=366 * 86_400).contains(&s)) {
        return Err(fault(BAD_REQUEST, format!("{method} takes a name, in_service and at most a year of seconds")));
    }
    let now = state.now();
    let vm = {
        let catalog = state.catalog();
        let at = catalog.live();
        let unknown = || fault(NOT_FOUND, format!("no node {:?} here", truncate(&name)));
        let (id, vm) = at.vm_by_hostname(&name).filter(|(_, v)| running_at(v, now)).ok_or_else(unknown)?;
        let project = vm.current().and_then(|c| at.project(&c.project_id)).ok_or_else(unknown)?;
        if path.is_some_and(|group| project.resource_group != group) || !caller.may_reach(&project.resource_group) {
            return Err(unknown());
        }
        id
    };
    let until = seconds.map(|s| now + chrono::Duration::seconds(s));
    let command = VmCommand::MarkServiceStatus { in_service, until, at: now };
    match state.bus.execute(&state.bus.vms, &vm.to_string(), command, &envelope(caller)).await {
        Ok(_) => Ok(text("")),
        Err(e) => Err(fault(BAD_REQUEST, format!("{method}: {}", e.message()))),
    }
}

/// What a node's change is recorded as: its own actor, a command of its own.
pub(super) fn envelope(node: &Node) -> Envelope {
    Envelope {
        actor: node.actor(),
        command_id: uuid::Uuid::new_v4().to_string(),
        retryable: false,
        payload_hash: String::new(),
        reason: None,
    }
}

/// The six permissions `list_users` names (fc-compat.md).
fn list_permissions() -> Value {
    let permissions = [
        (1, "login", "Log in to the resource group's machines"),
        (2, "code", "Deploy code to the resource group's machines"),
        (3, "stats", "Read the resource group's statistics"),
        (4, "sudo-srv", "Act as the service user"),
        (5, "manager", "Manage the resource group"),
        (6, "wheel", "Administer the machines (staff)"),
    ];
    Value::Array(
        permissions
            .into_iter()
            .map(|(id, name, description)| {
                structure([("id", Value::Integer(id)), ("name", text(name)), ("description", text(description))])
            })
            .collect(),
    )
}
