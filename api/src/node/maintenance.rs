//! Maintenance a node asks for (fc-compat.md): each request of a VM's agent is a
//! maintenance window of that VM, announced when requested and placed in the next
//! 22:00–06:00 Europe/Berlin slot at least a day away, so it counts as announced for the
//! SLA. The agent knows a window by its request id; the window's id is derived from the
//! VM and that id, so a request sent again finds its window.

use std::collections::BTreeMap;

use dxr::{Fault, Value};

use super::methods::{envelope, structure, text, truncate};
use super::xml::{BAD_REQUEST, NOT_FOUND, UNAVAILABLE, fault};
use app::node_auth::Node;
use app::state::AppState;
use domain::maintenance_window::{self as maintenance, MaintenanceCommand, NODE_SLOT_HOURS, ProjectFacts};
use domain::{Instant, MaintenanceId, VmId};

/// The most requests one call may carry.
const MAX_REQUESTS: usize = 100;
/// How long a call waits while another server decides the same VM's slot.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// The window a VM's request id stands for.
fn window_id(vm: VmId, request: &str) -> MaintenanceId {
    MaintenanceId(uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_OID,
        format!("directory:maintenance:{vm}:{request}").as_bytes(),
    ))
}

pub(super) async fn dispatch(state: &AppState, caller: &Node, method: &str, requests: Value) -> Result<Value, Fault> {
    let Value::Struct(requests) = requests else {
        return Err(fault(BAD_REQUEST, format!("{method} takes a struct of requests by their id")));
    };
    if requests.len() > MAX_REQUESTS {
        return Err(fault(BAD_REQUEST, format!("{method} takes at most {MAX_REQUESTS} requests")));
    }
    // Shape first: a malformed request records nothing of the call.
    let mut parsed = Vec::with_capacity(requests.len());
    for (request, fields) in requests {
        if request.is_empty() || request.len() > 200 {
            return Err(fault(BAD_REQUEST, format!("{method}: a request id is 1-200 characters")));
        }
        let Value::Struct(fields) = fields else {
            return Err(fault(BAD_REQUEST, format!("{method}: request {:?} must be a struct", truncate(&request))));
        };
        parsed.push((request, fields));
    }
    match method {
        "schedule_maintenance" => schedule(state, caller, parsed).await,
        "postpone_maintenance" => {
            for (request, fields) in parsed {
                let seconds = seconds(method, &request, &fields, "postpone_by")?
                    .ok_or_else(|| fault(BAD_REQUEST, format!("{method}: request {request:?} lacks postpone_by")))?;
                let command = MaintenanceCommand::Postpone { seconds };
                change(state, caller, method, &request, command).await?;
            }
            Ok(text(""))
        }
        _ => {
            for (request, fields) in parsed {
                let result = match fields.get("result") {
                    Some(Value::String(r)) if !r.trim().is_empty() => truncate(r),
                    _ => "ended".to_owned(),
                };
                seconds(method, &request, &fields, "duration")?;
                let command =
                    MaintenanceCommand::End { at: state.now(), reason: format!("Reported by its agent: {result}") };
                change(state, caller, method, &request, command).await?;
            }
            Ok(text(""))
        }
    }
}

/// A number of seconds a request carries, if it carries one.
fn seconds(method: &str, request: &str, fields: &BTreeMap<String, Value>, name: &str) -> Result<Option<i64>, Fault> {
    match fields.get(name) {
        None | Some(Value::Nil) => Ok(None),
        Some(Value::Integer(s)) => Ok(Some(i64::from(*s))),
        Some(Value::Long(s)) => Ok(Some(*s)),
        Some(Value::Double(s)) if s.is_finite() && s.abs() < 1e12 => Ok(Some(*s as i64)),
        Some(_) => {
            Err(fault(BAD_REQUEST, format!("{method}: {name} of request {:?} must be seconds", truncate(request))))
        }
    }
}

/// Records each new request as a window of the caller's VM and answers every request's
/// start (`nil` for one that ended or was called off).
async fn schedule(
    state: &AppState,
    caller: &Node,
    requests: Vec<(String, BTreeMap<String, Value>)>,
) -> Result<Value, Fault> {
    // One server at a time decides this VM's slot, from a catalog that holds every window
    // other servers recorded: all of them answer alike.
    let _deciding = state
        .leases
        .lock(&format!("{}{}", app::leases::MAINTENANCE, caller.vm), LOCK_WAIT)
        .await
        .map_err(|e| fault(UNAVAILABLE, e.message()))?;
    state.bus.catch_up_to_head().await.map_err(|e| fault(UNAVAILABLE, e.message()))?;
    let now = state.now();
    let mut answers = BTreeMap::new();
    for (request, fields) in requests {
        let estimate = seconds("schedule_maintenance", &request, &fields, "estimate")?.unwrap_or(3600);
        let comment = match fields.get("comment") {
            Some(Value::String(c)) if !c.trim().is_empty() => c.clone(),
            _ => format!("Requested by {}", caller.hostname),
        };
        let wid = window_id(caller.vm, &request);
        let (known, slot, project) = {
            let catalog = state.catalog();
            let at = catalog.live();
            let known = at.maintenance_window(&wid).cloned();
            let vm = at.vm(&caller.vm);
            let project = vm.and_then(|v| v.current()).and_then(|c| {
                let p = at.project(&c.project_id)?;
                Some(ProjectFacts { id: c.project_id, customer_id: p.customer_id?, archived: p.archived_at.is_some() })
            });
            // Several requests of one VM share a slot: the one its open windows are in.
            let open =
                project.iter().flat_map(|p| at.maintenance_for(p.id)).filter_map(|id| at.maintenance_window(&id));
            let open = open
                .filter(|w| w.vm_id == Some(caller.vm) && w.cancelled_at.is_none() && w.ended_at.is_none())
                .filter(|w| w.start >= now + chrono::Duration::hours(maintenance::NOTICE_HOURS))
                .map(|w| w.start)
                .min();
            (known, open.unwrap_or_else(|| maintenance::next_node_slot(now)), project)
        };
        let window = match known {
            Some(w) => w,
            None => {
                let project = project.ok_or_else(|| fault(NOT_FOUND, "this node's VM is not in a project"))?;
                let length = estimate.clamp(60, NODE_SLOT_HOURS * 3600);
                let command = MaintenanceCommand::Schedule {
                    id: wid,
                    project: Some(project),
                    start: slot,
                    end: slot + chrono::Duration::seconds(length),
                    announced_at: now,
                    reason: comment,
                    now,
                    vm_id: Some(caller.vm),
                };
                let done =
                    state.bus.execute(&state.bus.maintenance, &wid.to_string(), command, &envelope(caller)).await;
                // Refused because a concurrent call recorded it first: answer that one.
                let catalog = state.catalog();
                match (catalog.live().maintenance_window(&wid), done) {
                    (Some(w), _) => w.clone(),
                    (None, Err(e)) => return Err(fault(BAD_REQUEST, format!("schedule_maintenance: {}", e.message()))),
                    (None, Ok(_)) => return Err(fault(NOT_FOUND, "the window was not recorded")),
                }
            }
        };
        let time = match window.cancelled_at.is_none() && window.ended_at.is_none() {
            true => text(iso(window.start)),
            false => Value::Nil,
        };
        answers.insert(request, structure([("time", time)]));
    }
    Ok(Value::Struct(answers))
}

/// An instant as the agents read it: ISO 8601 with the Berlin offset.
fn iso(at: Instant) -> String {
    at.with_timezone(&chrono_tz::Europe::Berlin).to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

/// Moves or ends the window of one of the caller's requests; an id it does not know is
/// left alone (the agents forget nothing, but a window may have been called off).
async fn change(
    state: &AppState,
    caller: &Node,
    method: &str,
    request: &str,
    command: MaintenanceCommand,
) -> Result<(), Fault> {
    let wid = window_id(caller.vm, request);
    if state.catalog().live().maintenance_window(&wid).is_none() {
        return Ok(());
    }
    match state.bus.execute(&state.bus.maintenance, &wid.to_string(), command, &envelope(caller)).await {
        Ok(_) => Ok(()),
        Err(e) => Err(fault(BAD_REQUEST, format!("{method}: request {:?}: {}", truncate(request), e.message()))),
    }
}
