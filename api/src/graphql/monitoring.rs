//! HTTP monitors, maintenance windows, and the infrastructure overview of a project that
//! shows them beside its VMs, backups and people.

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use domain::http_monitor::{self as monitor, MonitorChanges, MonitorCommand, MonitorSpec, Observed};
use domain::maintenance_window::{self as maintenance, MaintenanceCommand, MaintenanceWindow};
use domain::person::StaffRole as Staff;
use domain::vm::Vm;
use domain::{CustomerId, MaintenanceId, MonitorId, ProjectId, VmId};
use projections::At;
use projections::catalog::InLog;

use super::new_or;
use super::types::{
    MonitorChecker, MonitorNode, MonitorState, PersonNode, ProjectNode, VmBackupHealth, VmNode, monitors_of,
};
use super::{View, answered, app, as_of_instant, envelope, parse_id, parsed, principal, reads, view};
use app::auth::Principal;
use app::backup_health;
use app::commands::Executed;
use app::error::ApiError;
use app::policy::{may_manage, visible_project};
use app::state::AppState;
use domain::backup_log::STALE_AFTER_HOURS;

#[derive(InputObject)]
pub struct CreateHttpMonitorInput {
    pub id: Option<ID>,
    pub command_id: Option<ID>,
    pub project_id: ID,
    pub url: String,
    pub follow_redirects: bool,
    #[graphql(default = 5)]
    pub max_redirects: Option<i32>,
    /// Codes and inclusive ranges, e.g. `200-299,301,418`.
    pub expected_status: String,
    #[graphql(default = 60)]
    pub interval_seconds: Option<i32>,
    #[graphql(default = 10)]
    pub timeout_seconds: Option<i32>,
    pub effective_at: Option<DateTime<Utc>>,
    /// Who checks it: the built-in checker, or an external one reporting over the node API
    /// (staff OPS choose that).
    #[graphql(default_with = "Some(MonitorChecker::Directory)")]
    pub checked_by: Option<MonitorChecker>,
}

#[derive(InputObject)]
pub struct ReconfigureHttpMonitorInput {
    pub url: Option<String>,
    pub follow_redirects: Option<bool>,
    pub max_redirects: Option<i32>,
    pub expected_status: Option<String>,
    pub interval_seconds: Option<i32>,
    pub timeout_seconds: Option<i32>,
    /// Who checks it from now on (staff OPS).
    pub checked_by: Option<MonitorChecker>,
    pub paused: Option<bool>,
    /// From when `paused` applies (default: now). An earlier instant corrects the past (a
    /// pause or resume that was not recorded in time) and changes what is billed: staff
    /// OPS only. A new configuration always applies from now.
    pub effective_at: Option<DateTime<Utc>>,
}

pub struct MaintenanceNode(pub MaintenanceId, pub MaintenanceWindow);

#[Object(name = "MaintenanceWindow")]
impl MaintenanceNode {
    async fn id(&self) -> ID {
        ID(self.0.to_string())
    }
    /// None for a platform-wide window.
    async fn project_id(&self) -> Option<ID> {
        self.1.project_id.map(|p| ID(p.to_string()))
    }
    async fn start(&self) -> DateTime<Utc> {
        self.1.start
    }
    async fn end(&self) -> DateTime<Utc> {
        self.1.end
    }
    async fn announced_at(&self) -> DateTime<Utc> {
        self.1.announced_at
    }
    async fn reason(&self) -> &str {
        &self.1.reason
    }
    /// Whether it was announced at least 24 hours ahead, so it does not count as downtime.
    async fn announced_in_time(&self) -> bool {
        self.1.announced_in_time()
    }
    async fn cancelled_at(&self) -> Option<DateTime<Utc>> {
        self.1.cancelled_at
    }
    /// The VM whose agent asked for the window (node API `schedule_maintenance`).
    async fn vm_id(&self) -> Option<ID> {
        self.1.vm_id.map(|v| ID(v.to_string()))
    }
    /// When its agent reported the work done (`end` is then no later).
    async fn ended_at(&self) -> Option<DateTime<Utc>> {
        self.1.ended_at
    }
}

#[derive(SimpleObject)]
pub struct InfrastructureOverview {
    pub project: ProjectNode,
    pub vm_count: i32,
    pub total_cpu: i32,
    pub total_ram_gb: i32,
    pub total_disk_gb: i32,
    /// The VMs in service, by name.
    pub vms: Vec<VmNode>,
    pub monitors: Vec<MonitorNode>,
    pub backup_health: Vec<VmBackupHealth>,
    /// The customer's people with a role on the project or an ancestor, by name.
    pub access: Vec<PersonNode>,
    /// The project's and the platform's windows that have not ended, by start.
    pub upcoming_maintenance: Vec<MaintenanceNode>,
}

/// The overview as the view shows it, with its backup health still to resolve.
type Pending = (InfrastructureOverview, Vec<(VmId, Vm, Result<backup_health::Health, InLog>)>);

fn overview(at: At<'_>, view: View, id: ProjectId, now: DateTime<Utc>) -> Option<Pending> {
    let project = at.project(&id)?;
    let mut vms: Vec<VmNode> = at
        .vms_in(id)
        .filter_map(|v| at.vm(&v).map(|x| VmNode::new(v, x.clone(), at)))
        .filter(|v| v.vm.decommissioned_at.is_none_or(|d| d > now))
        .collect();
    vms.sort_by(|a, b| a.vm.name.cmp(&b.vm.name));
    let total = |f: fn(&domain::vm::Resources) -> u32| {
        vms.iter().filter_map(|v| v.vm.current()).map(|c| f(&c.resources) as i64).sum::<i64>().min(i32::MAX.into())
            as i32
    };
    let (total_cpu, total_ram_gb, total_disk_gb) = (total(|r| r.cpu), total(|r| r.ram_gb), total(|r| r.disk_gb));
    let backup_health = vms
        .iter()
        .filter_map(|v| {
            at.vm(&v.id).map(|x| (v.id, x.clone(), backup_health::known(at, v.id, x, now, STALE_AFTER_HOURS)))
        })
        .collect();
    let mut access: Vec<PersonNode> = project
        .customer_id
        .into_iter()
        .flat_map(|c| at.people_of(c))
        .filter_map(|p| at.person(&p).map(|x| (p, x)))
        .filter(|(p, x)| x.deactivated_at.is_none() && at.effective_role(*p, id).is_some())
        .map(|(p, x)| PersonNode(p, x.clone(), view))
        .collect();
    access.sort_by(|a, b| a.1.name.cmp(&b.1.name));
    let mut upcoming_maintenance: Vec<MaintenanceNode> = at
        .maintenance_for(id)
        .filter_map(|w| at.maintenance_window(&w).map(|x| MaintenanceNode(w, x.clone())))
        .filter(|w| w.1.cancelled_at.is_none() && w.1.end > now)
        .collect();
    upcoming_maintenance.sort_by(|a, b| a.1.start.cmp(&b.1.start).then(a.0.cmp(&b.0)));
    let overview = InfrastructureOverview {
        project: ProjectNode(id, project.clone(), view),
        vm_count: vms.len() as i32,
        total_cpu,
        total_ram_gb,
        total_disk_gb,
        monitors: monitors_of(at, id),
        backup_health: vec![],
        access,
        upcoming_maintenance,
        vms,
    };
    Some((overview, backup_health))
}

#[derive(Default)]
pub struct MonitoringQuery;

#[Object]
impl MonitoringQuery {
    /// A project's VMs, monitors, backup health, people and upcoming maintenance on one
    /// page; with `asOf`, as recorded at that instant (null if the project did not exist).
    #[graphql(complexity = "super::query::as_of_cost(&as_of, super::limits::LOG_READ, child_complexity)")]
    async fn infrastructure_overview(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<Option<InfrastructureOverview>> {
        let who = principal(ctx)?;
        let id: ProjectId = parse_id(&project_id, "projectId")?;
        let view = view(ctx, as_of).await?;
        let now = as_of_instant(ctx, as_of).unwrap_or_else(|| app(ctx).now());
        let found = view.with(app(ctx), |at| {
            let visible = at.customer_of_project(id).is_some_and(|c| who.can_read_customer(c));
            visible.then(|| overview(at, view, id, now).map(|o| (o, at.position()))).flatten()
        });
        let Some(((mut overview, pending), position)) = found else { return Ok(None) };
        overview.backup_health =
            backup_health::resolve(app(ctx), reads(ctx), position, now, STALE_AFTER_HOURS, pending)
                .await?
                .into_iter()
                .map(VmBackupHealth::from)
                .collect();
        Ok(Some(overview))
    }

    /// One monitor; with `asOf`, as recorded at that instant.
    #[graphql(complexity = "super::query::as_of_cost(&as_of, super::limits::LOG_READ, child_complexity)")]
    async fn http_monitor(
        &self,
        ctx: &Context<'_>,
        id: ID,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<Option<MonitorNode>> {
        let who = principal(ctx)?;
        let id: MonitorId = parse_id(&id, "id")?;
        let view = view(ctx, as_of).await?;
        Ok(view.with(app(ctx), |at| {
            let visible = at.monitor(&id).is_some_and(|m| m.customer_id.is_some_and(|c| who.can_read_customer(c)));
            visible.then(|| MonitorNode::new(id, at)).flatten()
        }))
    }
}

fn monitor_node(app: &AppState, done: &Executed) -> Result<MonitorNode, ApiError> {
    let id: MonitorId = parsed(done.aggregate_id())?;
    let found = answered(done).with(app, |at| MonitorNode::new(id, at));
    found.ok_or_else(|| ApiError::NotFound(format!("monitor {id} does not exist")))
}

fn maintenance_node(app: &AppState, done: &Executed) -> Result<MaintenanceNode, ApiError> {
    let id: MaintenanceId = parsed(done.aggregate_id())?;
    let found = answered(done).with(app, |at| at.maintenance_window(&id).cloned());
    found
        .map(|w| MaintenanceNode(id, w))
        .ok_or_else(|| ApiError::NotFound(format!("maintenance window {id} does not exist")))
}

/// A monitor the caller may see and change (staff OPS, or a manager of its project).
fn manageable_monitor(app: &AppState, who: &Principal, id: MonitorId) -> Result<(), ApiError> {
    let catalog = app.catalog();
    let monitor = catalog.monitors.get(&id).filter(|m| m.customer_id.is_some_and(|c| who.can_read_customer(c)));
    let project =
        monitor.and_then(|m| m.project_id).ok_or_else(|| ApiError::NotFound(format!("monitor {id} does not exist")))?;
    may_manage(&catalog, who, project, &[Staff::Ops])
}

fn project_facts<T>(
    app: &AppState,
    who: &Principal,
    id: ProjectId,
    facts: impl FnOnce(CustomerId, bool) -> T,
) -> Result<T, ApiError> {
    let catalog = app.catalog();
    let p = visible_project(&catalog, who, id)?;
    let customer = p.customer_id.ok_or_else(|| ApiError::NotFound(format!("project {id} does not exist")))?;
    Ok(facts(customer, p.archived_at.is_some()))
}

/// Refuses a URL the checker could never reach from this project (an internal address
/// written in it, for a project whose monitors reach public addresses only), or one that
/// points at the Directory's own listen address.
async fn reachable(app: &AppState, project: Option<ProjectId>, url: &str) -> Result<(), ApiError> {
    let internal = {
        let catalog = app.catalog();
        project.and_then(|p| catalog.projects.get(&p)).is_some_and(|p| p.internal_monitor_targets)
    };
    // A URL that does not parse is refused by the monitor itself, with its own message.
    if let Ok(parsed) = url::Url::parse(url)
        && let Some(why) = app::targets::never_reachable(&parsed, app::targets::Reach::of_project(internal))
    {
        return Err(ApiError::BadInput(why));
    }
    match app.listen.get() {
        Some(listen) if app::checker::points_at(url, *listen).await => Err(ApiError::RuleViolation(format!(
            "url: {listen} is the Directory's own address; a monitor checks other services"
        ))),
        _ => Ok(()),
    }
}

fn to_i64(v: Option<i32>, default: i64) -> i64 {
    v.map_or(default, i64::from)
}

#[derive(Default)]
pub struct MonitoringMutation;

#[Object]
impl MonitoringMutation {
    /// A new HTTP monitor of a project (staff OPS, or a manager of the project).
    async fn create_http_monitor(
        &self,
        ctx: &Context<'_>,
        input: CreateHttpMonitorInput,
        reason: Option<String>,
    ) -> Result<MonitorNode> {
        let (app, who) = (app(ctx), principal(ctx)?);
        let (id, generated): (MonitorId, bool) = new_or(&input.id)?;
        let project_id: ProjectId = parse_id(&input.project_id, "projectId")?;
        let monitors = app
            .catalog()
            .monitors
            .values()
            .filter(|m| m.project_id == Some(project_id) && m.deleted_at.is_none())
            .count();
        let project = project_facts(app, who, project_id, |customer_id, archived| monitor::ProjectFacts {
            id: project_id,
            customer_id,
            archived,
            monitors,
        })?;
        may_manage(&app.catalog(), who, project_id, &[Staff::Ops])?;
        let checked_by = input.checked_by.unwrap_or(MonitorChecker::Directory);
        if checked_by == MonitorChecker::External {
            who.require(&[Staff::Ops])?;
        }
        reachable(app, Some(project_id), &input.url).await?;
        let env = envelope(ctx, who, input.command_id.as_ref(), reason)?;
        let cmd = MonitorCommand::Create {
            checked_by: checked_by.into(),
            id,
            project,
            spec: MonitorSpec {
                url: input.url,
                follow_redirects: input.follow_redirects,
                max_redirects: to_i64(input.max_redirects, 5),
                expected_status: input.expected_status,
                interval_seconds: to_i64(input.interval_seconds, 60),
                timeout_seconds: to_i64(input.timeout_seconds, 10),
            },
            effective_at: app.effective("effectiveAt", input.effective_at)?,
        };
        let done = app.bus.create(&app.bus.monitors, (&id.to_string(), generated), cmd, &env).await?;
        Ok(monitor_node(app, &done)?)
    }

    /// Changes what is given; `paused` pauses or resumes the checks.
    async fn reconfigure_http_monitor(
        &self,
        ctx: &Context<'_>,
        monitor_id: ID,
        input: ReconfigureHttpMonitorInput,
        command_id: Option<ID>,
        reason: Option<String>,
    ) -> Result<MonitorNode> {
        let (app, who) = (app(ctx), principal(ctx)?);
        let id: MonitorId = parse_id(&monitor_id, "monitorId")?;
        manageable_monitor(app, who, id)?;
        if let Some(url) = &input.url {
            let project = app.catalog().monitors.get(&id).and_then(|m| m.project_id);
            reachable(app, project, url).await?;
        }
        let now = app.now();
        let paused_from = match input.effective_at {
            Some(at) if at > now => {
                return Err(ApiError::BadInput(
                    "effectiveAt: a pause or resume applies from now or corrects the past; it cannot be planned".into(),
                )
                .into());
            }
            Some(at) if at < now => {
                who.require(&[Staff::Ops])?;
                Some(at)
            }
            _ => None,
        };
        if input.checked_by.is_some() {
            who.require(&[Staff::Ops])?;
        }
        let env = envelope(ctx, who, command_id.as_ref(), reason)?;
        let changes = MonitorChanges {
            url: input.url,
            follow_redirects: input.follow_redirects,
            max_redirects: input.max_redirects.map(i64::from),
            expected_status: input.expected_status,
            interval_seconds: input.interval_seconds.map(i64::from),
            timeout_seconds: input.timeout_seconds.map(i64::from),
            checked_by: input.checked_by.map(Into::into),
            paused: input.paused,
            paused_from,
        };
        let cmd = MonitorCommand::Reconfigure { changes, at: now };
        let done = app.bus.execute(&app.bus.monitors, &id.to_string(), cmd, &env).await?;
        Ok(monitor_node(app, &done)?)
    }

    /// Stops and removes a monitor; its history stays.
    async fn delete_http_monitor(
        &self,
        ctx: &Context<'_>,
        monitor_id: ID,
        command_id: Option<ID>,
        reason: Option<String>,
    ) -> Result<MonitorNode> {
        let (app, who) = (app(ctx), principal(ctx)?);
        let id: MonitorId = parse_id(&monitor_id, "monitorId")?;
        manageable_monitor(app, who, id)?;
        let env = envelope(ctx, who, command_id.as_ref(), reason)?;
        let done =
            app.bus.execute(&app.bus.monitors, &id.to_string(), MonitorCommand::Delete { at: app.now() }, &env).await?;
        Ok(monitor_node(app, &done)?)
    }

    /// A transition observed by another monitoring system (staff OPS and automation),
    /// folded by its effective instant like the checker's own.
    #[allow(clippy::too_many_arguments)]
    async fn record_monitor_transition(
        &self,
        ctx: &Context<'_>,
        monitor_id: ID,
        state: MonitorState,
        at: DateTime<Utc>,
        observed_status: Option<i32>,
        error: Option<String>,
        command_id: Option<ID>,
        reason: Option<String>,
    ) -> Result<MonitorNode> {
        let (app, who) = (app(ctx), principal(ctx)?);
        who.require(&[Staff::Ops])?;
        let id: MonitorId = parse_id(&monitor_id, "monitorId")?;
        let observed = match state {
            MonitorState::Up => Observed::Up,
            MonitorState::Down => Observed::Down,
            MonitorState::Paused | MonitorState::Unknown => {
                return Err(ApiError::BadInput("state: a transition is to UP or DOWN".into()).into());
            }
        };
        if app.catalog().monitors.get(&id).is_none() {
            return Err(ApiError::NotFound(format!("monitor {id} does not exist")).into());
        }
        let env = envelope(ctx, who, command_id.as_ref(), reason)?;
        let cmd = MonitorCommand::RecordTransition {
            state: observed,
            at,
            observed_status: observed_status.map(i64::from),
            redirect_chain: vec![],
            error,
        };
        let done = app.bus.execute(&app.bus.monitors, &id.to_string(), cmd, &env).await?;
        Ok(monitor_node(app, &done)?)
    }

    /// A maintenance window of a project, or of the whole platform without `projectId`
    /// (staff OPS). Excluded from downtime when announced at least 24 hours ahead.
    #[allow(clippy::too_many_arguments)]
    async fn schedule_maintenance(
        &self,
        ctx: &Context<'_>,
        project_id: Option<ID>,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        announced_at: DateTime<Utc>,
        reason: String,
        id: Option<ID>,
        command_id: Option<ID>,
    ) -> Result<MaintenanceNode> {
        let (app, who) = (app(ctx), principal(ctx)?);
        who.require(&[Staff::Ops])?;
        let (wid, generated): (MaintenanceId, bool) = new_or(&id)?;
        let project = match &project_id {
            Some(p) => {
                let pid: ProjectId = parse_id(p, "projectId")?;
                Some(project_facts(app, who, pid, |customer_id, archived| maintenance::ProjectFacts {
                    id: pid,
                    customer_id,
                    archived,
                })?)
            }
            None => None,
        };
        let env = envelope(ctx, who, command_id.as_ref(), Some(reason.clone()))?;
        let cmd = MaintenanceCommand::Schedule {
            id: wid,
            project,
            start,
            end,
            announced_at,
            reason,
            now: app.now(),
            vm_id: None,
        };
        let done = app.bus.create(&app.bus.maintenance, (&wid.to_string(), generated), cmd, &env).await?;
        Ok(maintenance_node(app, &done)?)
    }

    /// Calls off a window that has not begun (staff OPS).
    async fn cancel_maintenance(
        &self,
        ctx: &Context<'_>,
        maintenance_id: ID,
        reason: String,
        command_id: Option<ID>,
    ) -> Result<MaintenanceNode> {
        let (app, who) = (app(ctx), principal(ctx)?);
        who.require(&[Staff::Ops])?;
        let id: MaintenanceId = parse_id(&maintenance_id, "maintenanceId")?;
        if app.catalog().maintenance.get(&id).is_none() {
            return Err(ApiError::NotFound(format!("maintenance window {id} does not exist")).into());
        }
        let env = envelope(ctx, who, command_id.as_ref(), Some(reason.clone()))?;
        let cmd = MaintenanceCommand::Cancel { reason, at: app.now() };
        let done = app.bus.execute(&app.bus.maintenance, &id.to_string(), cmd, &env).await?;
        Ok(maintenance_node(app, &done)?)
    }
}
