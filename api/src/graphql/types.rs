//! Output types: views of the catalog, checked for tenancy where they are reached.

use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use domain::customer::Customer;
use domain::http_monitor::{Hop, HttpMonitor, Transition};
use domain::person::Person;
use domain::project::Project;
use domain::ssh_key::SshKey;
use domain::vm::Vm;
use domain::{CustomerId, MonitorId, PersonId, ProjectId, SshKeyId, VmId};
use projections::At;
use projections::BackupView;
use projections::catalog::InLog;
use serde::Serialize;

use super::scalars::{BackupStatus, Language, Long, Role, SlaClass, StaffRole};
use super::{View, app, reads};
use app::error::ApiError;

fn id(x: impl ToString) -> ID {
    ID(x.to_string())
}

/// Projects by name.
fn projects_by_name(at: At<'_>, ids: impl Iterator<Item = ProjectId>, view: View) -> Vec<ProjectNode> {
    let mut nodes: Vec<_> = ids.filter_map(|p| at.project(&p).map(|x| ProjectNode(p, x.clone(), view))).collect();
    nodes.sort_by(|a, b| a.1.name.cmp(&b.1.name));
    nodes
}

/// A customer, read from `.2` (the live catalog or one as of a past instant).
pub struct CustomerNode(pub CustomerId, pub Customer, pub View);

#[Object(name = "Customer")]
impl CustomerNode {
    async fn id(&self) -> ID {
        id(self.0)
    }
    async fn name(&self) -> &str {
        &self.1.name
    }
    async fn country(&self) -> &str {
        &self.1.country
    }
    async fn vat_id(&self) -> Option<&str> {
        self.1.vat_id.as_deref()
    }
    async fn billing_address(&self) -> &str {
        &self.1.billing_address
    }
    async fn payment_terms_days(&self) -> u32 {
        self.1.payment_terms_days
    }
    async fn closed(&self) -> bool {
        self.1.closed_at.is_some()
    }
    async fn closed_at(&self) -> Option<DateTime<Utc>> {
        self.1.closed_at
    }
    /// Every project of the customer, roots and descendants, by name.
    async fn projects(&self, ctx: &Context<'_>) -> Vec<ProjectNode> {
        self.2.with(app(ctx), |at| projects_by_name(at, at.projects_of(self.0), self.2))
    }
    async fn people(&self, ctx: &Context<'_>) -> Vec<PersonNode> {
        let mut nodes: Vec<_> = self.2.with(app(ctx), |at| {
            at.people_of(self.0).filter_map(|p| at.person(&p).map(|x| PersonNode(p, x.clone(), self.2))).collect()
        });
        nodes.sort_by(|a, b| a.1.name.cmp(&b.1.name));
        nodes
    }
}

#[derive(SimpleObject)]
pub struct ProjectRole {
    pub project_id: ID,
    pub role: Role,
}

pub struct PersonNode(pub PersonId, pub Person, pub View);

#[Object(name = "Person")]
impl PersonNode {
    async fn id(&self) -> ID {
        id(self.0)
    }
    async fn name(&self) -> &str {
        &self.1.name
    }
    async fn email(&self) -> &str {
        &self.1.email
    }
    async fn customer_id(&self) -> Option<ID> {
        self.1.customer_id.map(id)
    }
    async fn staff_roles(&self) -> Vec<StaffRole> {
        self.1.staff_roles.iter().map(|r| (*r).into()).collect()
    }
    async fn roles(&self) -> Vec<ProjectRole> {
        self.1.roles.iter().map(|(p, r)| ProjectRole { project_id: id(p), role: (*r).into() }).collect()
    }
    async fn deactivated(&self) -> bool {
        self.1.deactivated_at.is_some()
    }
    /// The login name on the platform's machines, given at registration and never changed.
    async fn uid(&self, ctx: &Context<'_>) -> String {
        self.2.with(app(ctx), |at| at.login(&self.0).map(|l| l.uid.clone())).unwrap_or_default()
    }
    /// The login number on the platform's machines (from 1000 up, in registration order).
    async fn uid_number(&self, ctx: &Context<'_>) -> u32 {
        self.2.with(app(ctx), |at| at.login(&self.0).map(|l| l.uid_number)).unwrap_or_default()
    }
    /// The person's keys, active and revoked, oldest first.
    async fn ssh_keys(&self, ctx: &Context<'_>) -> Vec<SshKeyNode> {
        let mut keys: Vec<_> = self.2.with(app(ctx), |at| {
            at.keys_of(self.0).filter_map(|k| at.key(&k).map(|x| SshKeyNode(k, x.clone()))).collect()
        });
        keys.sort_by_key(|k| k.1.added_at);
        keys
    }
}

pub struct SshKeyNode(pub SshKeyId, pub SshKey);

#[Object(name = "SshKey")]
impl SshKeyNode {
    async fn id(&self) -> ID {
        id(self.0)
    }
    async fn person_id(&self) -> ID {
        id(self.1.person_id.map(|p| p.to_string()).unwrap_or_default())
    }
    async fn algorithm(&self) -> &str {
        &self.1.algorithm
    }
    async fn bits(&self) -> u32 {
        self.1.bits
    }
    async fn fingerprint(&self) -> &str {
        &self.1.fingerprint
    }
    async fn comment(&self) -> Option<&str> {
        self.1.comment.as_deref()
    }
    /// The key in OpenSSH format, without its comment.
    async fn public_key(&self) -> &str {
        &self.1.public_key
    }
    async fn added_at(&self) -> DateTime<Utc> {
        self.1.added_at.unwrap_or_default()
    }
    async fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.1.revoked_at
    }
    async fn revoke_reason(&self) -> Option<&str> {
        self.1.revoke_reason.as_deref()
    }
    /// Whether a deployment's secrets can be encrypted to it (`age` takes ssh-ed25519 and
    /// ssh-rsa keys; the key list URL skips the others).
    async fn usable_for_secrets(&self) -> bool {
        self.1.unusable_for_secrets().is_none()
    }
    /// Why not, when it is not.
    async fn unusable_for_secrets_reason(&self) -> Option<String> {
        self.1.unusable_for_secrets()
    }
}

#[derive(SimpleObject)]
pub struct Deployment {
    pub name: String,
    pub environment: String,
}

pub struct ProjectNode(pub ProjectId, pub Project, pub View);

#[Object(name = "Project")]
impl ProjectNode {
    async fn id(&self) -> ID {
        id(self.0)
    }
    async fn customer_id(&self) -> ID {
        id(self.1.customer_id.map(|c| c.to_string()).unwrap_or_default())
    }
    async fn parent_id(&self) -> Option<ID> {
        self.1.parent_id.map(id)
    }
    async fn children(&self, ctx: &Context<'_>) -> Vec<ProjectNode> {
        self.2.with(app(ctx), |at| projects_by_name(at, at.children(self.0), self.2))
    }
    async fn name(&self) -> &str {
        &self.1.name
    }
    /// The class with the latest effective instant.
    async fn sla_class(&self) -> SlaClass {
        self.1.sla_class().unwrap_or(domain::project::SlaClass::Basic).into()
    }
    async fn archived(&self) -> bool {
        self.1.archived_at.is_some()
    }
    /// Whether staff let this project's monitors reach internal addresses.
    async fn internal_monitor_targets(&self) -> bool {
        self.1.internal_monitor_targets
    }
    async fn created_at(&self) -> Option<DateTime<Utc>> {
        self.1.created_at
    }
    /// The VMs currently placed in this project (decommissioned ones included), by name.
    async fn vms(&self, ctx: &Context<'_>) -> Vec<VmNode> {
        let mut nodes: Vec<_> = self.2.with(app(ctx), |at| {
            at.vms_in(self.0).filter_map(|v| at.vm(&v).map(|x| VmNode::new(v, x.clone(), at))).collect()
        });
        nodes.sort_by(|a, b| a.vm.name.cmp(&b.vm.name));
        nodes
    }
    /// The project's HTTP monitors (deleted ones left out).
    async fn monitors(&self, ctx: &Context<'_>) -> Vec<MonitorNode> {
        self.2.with(app(ctx), |at| monitors_of(at, self.0))
    }
    /// The platform-wide unique name its machines know it by (the node API's resource group).
    async fn resource_group(&self) -> &str {
        &self.1.resource_group
    }
    async fn deployments(&self) -> Vec<Deployment> {
        self.1
            .deployments
            .iter()
            .map(|(name, environment)| Deployment { name: name.clone(), environment: environment.clone() })
            .collect()
    }
}

pub struct VmNode {
    pub id: VmId,
    pub vm: Vm,
    /// The view's position, for reading the VM's backup log if need be.
    position: i64,
    last_good_backup_at: Result<Option<DateTime<Utc>>, InLog>,
}

impl VmNode {
    pub fn new(id: VmId, vm: Vm, at: At<'_>) -> VmNode {
        VmNode { id, position: at.position(), last_good_backup_at: at.last_good_backup(id), vm }
    }

    /// A node whose latest good backup is already known.
    pub fn with_last_good(id: VmId, vm: Vm, position: i64, last_good: Option<DateTime<Utc>>) -> VmNode {
        VmNode { id, vm, position, last_good_backup_at: Ok(last_good) }
    }
}

/// A VM's interface on one VLAN.
#[derive(SimpleObject)]
pub struct NetworkInterface {
    pub vlan: String,
    /// Locally administered (`02:…`), the same for the VM and VLAN for good.
    pub mac: String,
    /// Its address in each of the VLAN's networks, with the prefix length (`172.20.2.15/24`).
    pub addresses: Vec<String>,
}

#[Object(name = "Vm")]
impl VmNode {
    async fn id(&self) -> ID {
        id(self.id)
    }
    async fn project_id(&self) -> ID {
        id(self.vm.current().map(|c| c.project_id.to_string()).unwrap_or_default())
    }
    async fn name(&self) -> &str {
        &self.vm.name
    }
    async fn location(&self) -> &str {
        &self.vm.location
    }
    async fn cpu(&self) -> u32 {
        self.vm.current().map_or(0, |c| c.resources.cpu)
    }
    async fn ram_gb(&self) -> u32 {
        self.vm.current().map_or(0, |c| c.resources.ram_gb)
    }
    async fn disk_gb(&self) -> u32 {
        self.vm.current().map_or(0, |c| c.resources.disk_gb)
    }
    async fn provisioned_at(&self) -> DateTime<Utc> {
        self.vm.provisioned_at().unwrap_or_default()
    }
    async fn decommissioned_at(&self) -> Option<DateTime<Utc>> {
        self.vm.decommissioned_at
    }
    /// The platform-wide unique host name its machine answers to.
    async fn hostname(&self) -> &str {
        self.vm.node.as_ref().map_or("", |n| n.hostname.as_str())
    }
    /// The release channel it runs (the node API's `environment`).
    async fn channel(&self) -> Option<&str> {
        self.vm.node.as_ref().and_then(|n| n.channel.as_deref())
    }
    /// The platform's roles (`webgateway`, `postgresql15`, …), sorted.
    async fn roles(&self) -> &[String] {
        self.vm.node.as_ref().map_or(&[], |n| n.roles.as_slice())
    }
    /// Whether its machine is in service now (its agent marks it out for maintenance).
    async fn servicing(&self, ctx: &Context<'_>) -> bool {
        self.vm.servicing_at(app(ctx).now())
    }
    async fn production(&self) -> bool {
        self.vm.node.as_ref().is_none_or(|n| n.production)
    }
    /// Its interfaces, one per VLAN of its location, with its addresses.
    async fn interfaces(&self) -> Vec<NetworkInterface> {
        let vm = &self.vm;
        vm.interfaces
            .iter()
            .map(|(vlan, i)| NetworkInterface {
                vlan: vlan.clone(),
                mac: i.mac.clone(),
                addresses: i.addresses.iter().map(|(net, a)| format!("{a}/{}", net.prefix_len())).collect(),
            })
            .collect()
    }
    /// The node API ring its credentials reach: 1 its resource group, 0 the whole platform.
    async fn directory_ring(&self) -> u8 {
        self.vm.directory_ring
    }
    async fn last_good_backup_at(&self, ctx: &Context<'_>) -> Result<Option<DateTime<Utc>>, ApiError> {
        match self.last_good_backup_at {
            Ok(known) => Ok(known),
            Err(InLog) => {
                let backups = app(ctx).backups(self.id, self.position, DateTime::<Utc>::MAX_UTC, reads(ctx)).await?;
                Ok(backups.last_good(DateTime::<Utc>::MAX_UTC))
            }
        }
    }
    /// Every configuration by effective time, oldest first.
    async fn configurations(&self) -> Vec<VmConfiguration> {
        self.vm
            .timeline()
            .iter()
            .map(|c| VmConfiguration {
                from: c.from,
                project_id: id(c.project_id),
                cpu: c.resources.cpu,
                ram_gb: c.resources.ram_gb,
                disk_gb: c.resources.disk_gb,
            })
            .collect()
    }
}

#[derive(SimpleObject)]
pub struct VmConfiguration {
    pub from: DateTime<Utc>,
    pub project_id: ID,
    pub cpu: u32,
    pub ram_gb: u32,
    pub disk_gb: u32,
}

pub struct BackupNode(pub BackupView);

#[Object(name = "Backup")]
impl BackupNode {
    async fn backup_id(&self) -> &str {
        &self.0.backup_id
    }
    async fn vm_id(&self) -> ID {
        id(self.0.vm_id)
    }
    async fn status(&self) -> BackupStatus {
        self.0.status.into()
    }
    async fn started_at(&self) -> DateTime<Utc> {
        self.0.started_at
    }
    async fn finished_at(&self) -> DateTime<Utc> {
        self.0.finished_at
    }
    async fn size_bytes(&self) -> Option<Long> {
        self.0.size_bytes.map(Long)
    }
    async fn tags(&self) -> &[String] {
        &self.0.tags
    }
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }
    async fn expired_at(&self) -> Option<DateTime<Utc>> {
        self.0.expired_at
    }
}

#[derive(SimpleObject)]
pub struct Viewer {
    pub person_id: Option<ID>,
    pub name: String,
    pub staff_roles: Vec<StaffRole>,
    pub customer_id: Option<ID>,
    /// When the token of this request stops working (none for the bootstrap token).
    pub token_expires_at: Option<DateTime<Utc>>,
}

#[derive(SimpleObject)]
pub struct IssuedToken {
    /// Shown once: only its SHA-256 is stored.
    pub token: String,
    pub person_id: ID,
    pub token_id: ID,
    /// When it stops working: the expiry asked for, or the default lifetime from now.
    pub expires_at: DateTime<Utc>,
}

#[derive(SimpleObject)]
pub struct LogHead {
    pub position: Long,
    /// SHA-256 chain hash of the last event, hex.
    pub chain_hash: String,
    pub recorded_at: Option<DateTime<Utc>>,
}

/// Shared work one server process does until `expiresAt` (by the database's clock).
#[derive(SimpleObject)]
pub struct Lease {
    pub name: String,
    /// The holding process: host, pid and a random part.
    pub holder: String,
    /// Grows each time the lease passes to another holder.
    pub token: Long,
    pub acquired_at: DateTime<Utc>,
    pub renewed_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub live: bool,
}

impl From<store::Lease> for Lease {
    fn from(l: store::Lease) -> Lease {
        Lease {
            name: l.name,
            holder: l.holder,
            token: Long(l.token),
            acquired_at: l.acquired_at,
            renewed_at: l.renewed_at,
            expires_at: l.expires_at,
            live: l.live,
        }
    }
}

#[derive(SimpleObject)]
#[graphql(complex)]
pub struct HistoryEntry {
    pub position: Long,
    pub entity_id: ID,
    pub recorded_at: DateTime<Utc>,
    pub actor: String,
    pub event_type: String,
    pub reason: Option<String>,
    /// The event, when this server can decode it (an unknown kind is summarised by its type).
    #[graphql(skip)]
    pub event: Option<domain::AnyEvent>,
}

#[async_graphql::ComplexObject]
impl HistoryEntry {
    /// One line a person reads: what happened, in English or German.
    async fn summary(&self, #[graphql(default)] language: Language) -> String {
        match &self.event {
            Some(event) => event.summary_in(language.into()),
            None => self.event_type.clone(),
        }
    }
}

impl HistoryEntry {
    pub fn from_stored(e: &store::StoredEvent) -> HistoryEntry {
        let meta = e.metadata();
        HistoryEntry {
            position: Long(e.position),
            entity_id: ID(e.aggregate_id.clone()),
            recorded_at: e.recorded_at,
            actor: meta.actor,
            event_type: e.event_type.clone(),
            reason: meta.reason,
            event: domain::AnyEvent::decode(&e.aggregate_type, &e.payload).ok(),
        }
    }
}

#[derive(SimpleObject)]
pub struct PageInfo {
    pub has_next_page: bool,
    pub end_cursor: Option<String>,
}

#[derive(SimpleObject)]
pub struct CustomerConnection {
    pub nodes: Vec<CustomerNode>,
    pub page_info: PageInfo,
    pub total_count: i32,
}

#[derive(SimpleObject)]
pub struct BackupConnection {
    pub nodes: Vec<BackupNode>,
    pub page_info: PageInfo,
    pub total_count: i32,
}

#[derive(SimpleObject)]
pub struct SearchHit {
    /// `customer`, `project`, `vm`, `person` or `sshKey`.
    pub kind: String,
    pub id: ID,
    pub title: String,
    /// Where it sits: the customer, then the projects from the root down, then the VM.
    pub path: Vec<String>,
    /// The same path, each step with what it is and its id, to link to.
    pub steps: Vec<SearchStep>,
}

#[derive(SimpleObject)]
pub struct SearchStep {
    /// `customer`, `project`, `vm`, `person` or `sshKey`.
    pub kind: String,
    pub id: ID,
    pub name: String,
}

#[derive(SimpleObject)]
pub struct VmBackupHealth {
    pub vm: VmNode,
    pub last_good_backup_at: Option<DateTime<Utc>>,
    pub failures_last7_days: i32,
    pub stale: bool,
}

impl From<app::backup_health::Health> for VmBackupHealth {
    fn from(h: app::backup_health::Health) -> VmBackupHealth {
        VmBackupHealth {
            vm: VmNode::with_last_good(h.vm_id, h.vm, h.position, h.last_good),
            last_good_backup_at: h.last_good,
            failures_last7_days: h.failures_last_week as i32,
            stale: h.stale,
        }
    }
}

/// One page of `items` after the item whose cursor is `after`, with the page info.
pub fn page<T>(
    items: Vec<T>,
    first: usize,
    after: Option<&str>,
    cursor: impl Fn(&T) -> String,
) -> Result<(Vec<T>, PageInfo), app::error::ApiError> {
    let start = match after {
        None => 0,
        Some(a) => items.iter().position(|i| cursor(i) == a).map(|i| i + 1).ok_or_else(|| {
            app::error::ApiError::BadInput("after: unknown cursor; use an endCursor from an earlier page".into())
        })?,
    };
    let mut rest: Vec<T> = items.into_iter().skip(start).collect();
    let has_next_page = rest.len() > first;
    rest.truncate(first);
    let end_cursor = rest.last().map(&cursor);
    Ok((rest, PageInfo { has_next_page, end_cursor }))
}

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq, Serialize)]
#[graphql(remote = "domain::http_monitor::MonitorState")]
pub enum MonitorState {
    Unknown,
    Up,
    Down,
    Paused,
}

/// Who checks a monitor: the built-in checker, or an external one over the node API.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq, Serialize)]
#[graphql(remote = "domain::http_monitor::Checker")]
pub enum MonitorChecker {
    Directory,
    External,
}

pub struct MonitorNode {
    pub id: MonitorId,
    /// Its settings, and its latest transition at the view unless that must be read from
    /// its log.
    pub monitor: HttpMonitor,
    latest: Result<(), InLog>,
    /// The view's position, for reading the monitor's log if need be.
    position: i64,
}

impl MonitorNode {
    /// The monitor as the view shows it, if it exists there.
    pub fn new(id: MonitorId, at: At<'_>) -> Option<MonitorNode> {
        let position = at.position();
        Some(match at.monitor_with_state(&id)? {
            Ok(monitor) => MonitorNode { id, monitor, latest: Ok(()), position },
            Err(InLog) => MonitorNode { id, monitor: at.monitor(&id)?.clone(), latest: Err(InLog), position },
        })
    }

    /// Its latest transition at the view.
    async fn last(&self, ctx: &Context<'_>) -> Result<Option<Transition>, ApiError> {
        match self.latest {
            Ok(()) => Ok(self.monitor.transitions.last().cloned()),
            Err(InLog) => {
                let since = DateTime::<Utc>::MAX_UTC;
                Ok(app(ctx).transitions(self.id, self.position, since, reads(ctx)).await?.pop())
            }
        }
    }
}

/// A redirect hop as a person reads it: `301 https://example.com/next`.
fn hop(h: &Hop) -> String {
    format!("{} {}", h.status, h.location)
}

#[Object(name = "HttpMonitor")]
impl MonitorNode {
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }
    async fn project_id(&self) -> ID {
        ID(self.monitor.project_id.map(|p| p.to_string()).unwrap_or_default())
    }
    async fn url(&self) -> &str {
        self.monitor.config.as_ref().map_or("", |c| &c.url)
    }
    async fn follow_redirects(&self) -> bool {
        self.monitor.config.as_ref().is_some_and(|c| c.follow_redirects)
    }
    async fn max_redirects(&self) -> u32 {
        self.monitor.config.as_ref().map_or(0, |c| c.max_redirects)
    }
    /// In canonical form: sorted, overlaps merged.
    async fn expected_status(&self) -> String {
        self.monitor.config.as_ref().map(|c| c.expected_status.to_string()).unwrap_or_default()
    }
    async fn interval_seconds(&self) -> u32 {
        self.monitor.config.as_ref().map_or(0, |c| c.interval_seconds)
    }
    async fn timeout_seconds(&self) -> u32 {
        self.monitor.config.as_ref().map_or(0, |c| c.timeout_seconds)
    }
    async fn checked_by(&self) -> MonitorChecker {
        self.monitor.checked_by.into()
    }
    async fn state(&self, ctx: &Context<'_>) -> Result<MonitorState, ApiError> {
        Ok(self.monitor.state_after(self.last(ctx).await?.as_ref()).into())
    }
    async fn last_transition_at(&self, ctx: &Context<'_>) -> Result<Option<DateTime<Utc>>, ApiError> {
        Ok(self.last(ctx).await?.map(|t| t.at))
    }
    /// The redirects the last transition's check followed, each `STATUS LOCATION`.
    async fn last_redirect_chain(&self, ctx: &Context<'_>) -> Result<Vec<String>, ApiError> {
        Ok(self.last(ctx).await?.map(|t| t.redirect_chain.iter().map(hop).collect()).unwrap_or_default())
    }
    /// The last transition's observed status code, if there was an answer.
    async fn last_observed_status(&self, ctx: &Context<'_>) -> Result<Option<u16>, ApiError> {
        Ok(self.last(ctx).await?.and_then(|t| t.observed_status))
    }
    /// Why the last check that took it down failed.
    async fn last_error(&self, ctx: &Context<'_>) -> Result<Option<String>, ApiError> {
        Ok(self.last(ctx).await?.and_then(|t| t.error))
    }
    async fn deleted_at(&self) -> Option<DateTime<Utc>> {
        self.monitor.deleted_at
    }
}

/// The project's monitors at a view, deleted ones left out, by URL.
pub fn monitors_of(at: At<'_>, project: ProjectId) -> Vec<MonitorNode> {
    let mut nodes: Vec<_> = at
        .monitors_of(project)
        .filter(|m| at.monitor(m).is_some_and(|m| m.deleted_at.is_none()))
        .filter_map(|m| MonitorNode::new(m, at))
        .collect();
    nodes.sort_by(|a, b| {
        fn url(n: &MonitorNode) -> Option<&str> {
            n.monitor.config.as_ref().map(|c| c.url.as_str())
        }
        url(a).cmp(&url(b)).then(a.id.cmp(&b.id))
    });
    nodes
}
