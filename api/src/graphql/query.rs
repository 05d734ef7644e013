//! Queries. A customer's token sees only its own customer: for anything else the answer is
//! the same as for an id that does not exist.

use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, Utc};
use domain::{CustomerId, PersonId, ProjectId, VmId};

use super::scalars::Long;
use super::search;
use super::types::{
    BackupConnection, BackupNode, CustomerConnection, CustomerNode, HistoryEntry, Lease, LogHead, PersonNode,
    ProjectNode, SearchHit, Viewer, VmBackupHealth, VmNode, page,
};
use super::{app, as_of_instant, page_size, parse_id, principal, reads, view};
use app::auth::Principal;
use app::backup_health;
use app::error::ApiError;

#[derive(Default)]
pub struct CoreQuery;

#[Object]
impl CoreQuery {
    /// Who the token belongs to.
    async fn me(&self, ctx: &Context<'_>) -> Result<Viewer> {
        Ok(match principal(ctx)? {
            Principal::Bootstrap => Viewer {
                person_id: None,
                name: "system:bootstrap".into(),
                staff_roles: vec![domain::person::StaffRole::Admin.into()],
                customer_id: None,
                token_expires_at: None,
            },
            Principal::Person { id, name, customer_id, staff_roles, token_expires_at } => Viewer {
                person_id: Some(ID(id.to_string())),
                name: name.clone(),
                staff_roles: staff_roles.iter().map(|r| (*r).into()).collect(),
                customer_id: customer_id.map(|c| ID(c.to_string())),
                token_expires_at: *token_expires_at,
            },
        })
    }

    /// A customer; with `asOf`, as it was recorded at that instant (null if it did not exist yet).
    async fn customer(&self, ctx: &Context<'_>, id: ID, as_of: Option<DateTime<Utc>>) -> Result<Option<CustomerNode>> {
        let who = principal(ctx)?;
        let id: CustomerId = parse_id(&id, "id")?;
        let view = view(ctx, as_of).await?;
        Ok(view.with(app(ctx), |at| {
            at.customer(&id).filter(|_| who.can_read_customer(id)).map(|c| CustomerNode(id, c.clone(), view))
        }))
    }

    async fn project(&self, ctx: &Context<'_>, id: ID, as_of: Option<DateTime<Utc>>) -> Result<Option<ProjectNode>> {
        let who = principal(ctx)?;
        let id: ProjectId = parse_id(&id, "id")?;
        let view = view(ctx, as_of).await?;
        Ok(view.with(app(ctx), |at| {
            at.project(&id)
                .filter(|p| p.customer_id.is_some_and(|c| who.can_read_customer(c)))
                .map(|p| ProjectNode(id, p.clone(), view))
        }))
    }

    async fn vm(&self, ctx: &Context<'_>, id: ID, as_of: Option<DateTime<Utc>>) -> Result<Option<VmNode>> {
        let who = principal(ctx)?;
        let id: VmId = parse_id(&id, "id")?;
        let view = view(ctx, as_of).await?;
        Ok(view.with(app(ctx), |at| {
            at.vm(&id)
                .filter(|v| v.customer_id.is_some_and(|c| who.can_read_customer(c)))
                .map(|v| VmNode::new(id, v.clone(), at))
        }))
    }

    async fn person(&self, ctx: &Context<'_>, id: ID, as_of: Option<DateTime<Utc>>) -> Result<Option<PersonNode>> {
        let who = principal(ctx)?;
        let id: PersonId = parse_id(&id, "id")?;
        let view = view(ctx, as_of).await?;
        Ok(view.with(app(ctx), |at| {
            at.person(&id)
                .filter(|p| match p.customer_id {
                    Some(c) => who.can_read_customer(c),
                    None => who.is_staff() || who.person_id() == Some(id),
                })
                .map(|p| PersonNode(id, p.clone(), view))
        }))
    }

    /// Customers by name: all of them for staff, one's own for a customer's people.
    /// `search` matches a part of the name, case-insensitively.
    #[graphql(complexity = "page_cost(first, 50, child_complexity)")]
    async fn customers(
        &self,
        ctx: &Context<'_>,
        search: Option<String>,
        #[graphql(default = 50)] first: Option<i32>,
        after: Option<String>,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<CustomerConnection> {
        let who = principal(ctx)?;
        let first = page_size(first.unwrap_or(50), 500)? as usize;
        let needle = search.map(|s| s.trim().to_lowercase()).filter(|s| !s.is_empty());
        let view = view(ctx, as_of).await?;
        let mut matching: Vec<CustomerNode> = view.with(app(ctx), |at| {
            at.customers()
                .filter(|(id, _)| who.can_read_customer(**id))
                .filter(|(_, c)| needle.as_ref().is_none_or(|n| c.name.to_lowercase().contains(n)))
                .map(|(id, c)| CustomerNode(*id, c.clone(), view))
                .collect()
        });
        matching.sort_by(|a, b| a.1.name.cmp(&b.1.name).then(a.0.cmp(&b.0)));
        let total_count = matching.len() as i32;
        let (nodes, page_info) = page(matching, first, after.as_deref(), |c| c.0.to_string())?;
        Ok(CustomerConnection { nodes, page_info, total_count })
    }

    /// Finds customers, projects, VMs, people and SSH keys by name, e-mail, comment or
    /// fingerprint; each hit carries its path customer → project → … → VM.
    #[graphql(complexity = "page_cost(first, 20, child_complexity)")]
    async fn search(
        &self,
        ctx: &Context<'_>,
        text: String,
        #[graphql(default = 20)] first: Option<i32>,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<Vec<SearchHit>> {
        let who = principal(ctx)?;
        let first = page_size(first.unwrap_or(20), 100)? as usize;
        let needle = text.trim().to_lowercase();
        if needle.is_empty() || needle.chars().count() > 200 {
            return Err(ApiError::BadInput("text: must be 1-200 characters".into()).into());
        }
        let view = view(ctx, as_of).await?;
        Ok(view.with(app(ctx), |at| search::find(at, who, &needle, first)))
    }

    /// The backups of one VM, newest first.
    #[graphql(complexity = "super::limits::LOG_READ + page_cost(first, 50, child_complexity)")]
    async fn backup_history(
        &self,
        ctx: &Context<'_>,
        vm_id: ID,
        #[graphql(default = 50)] first: Option<i32>,
        after: Option<String>,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<BackupConnection> {
        let who = principal(ctx)?;
        let id: VmId = parse_id(&vm_id, "vmId")?;
        let first = page_size(first.unwrap_or(50), 500)? as usize;
        let view = view(ctx, as_of).await?;
        let (visible, position) = view.with(app(ctx), |at| {
            (at.vm(&id).and_then(|v| v.customer_id).is_some_and(|c| who.can_read_customer(c)), at.position())
        });
        let mut backups: Vec<BackupNode> = match visible {
            true => app(ctx).backups_of(id, position, reads(ctx)).await?.into_iter().map(BackupNode).collect(),
            false => vec![],
        };
        backups.sort_by(|a, b| b.0.started_at.cmp(&a.0.started_at).then(b.0.backup_id.cmp(&a.0.backup_id)));
        let total_count = backups.len() as i32;
        let (nodes, page_info) = page(backups, first, after.as_deref(), |b| b.0.backup_id.clone())?;
        Ok(BackupConnection { nodes, page_info, total_count })
    }

    /// VMs in service without a successful backup in the last `olderThanHours` (fleet-wide
    /// for staff, one's own for a customer), as of now or of `asOf`.
    #[graphql(complexity = "as_of_cost(&as_of, super::limits::FLEET_LOG_READ, child_complexity)")]
    async fn stale_backups(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(domain::backup_log::STALE_AFTER_HOURS)")] older_than_hours: Option<i32>,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<Vec<VmBackupHealth>> {
        let who = principal(ctx)?;
        let hours = older_than_hours.unwrap_or(domain::backup_log::STALE_AFTER_HOURS);
        if !(1..=24 * 366).contains(&hours) {
            return Err(ApiError::BadInput("olderThanHours: must be between 1 and 8784".into()).into());
        }
        let now = as_of_instant(ctx, as_of).unwrap_or_else(|| app(ctx).now());
        let view = view(ctx, as_of).await?;
        let (position, pending) = view.with(app(ctx), |at| {
            let pending: Vec<_> = at
                .vms()
                .filter(|(_, v)| v.customer_id.is_some_and(|c| who.can_read_customer(c)))
                .filter(|(_, v)| {
                    v.provisioned_at().is_some_and(|p| p <= now) && v.decommissioned_at.is_none_or(|d| d > now)
                })
                .map(|(id, v)| (*id, v.clone(), backup_health::known(at, *id, v, now, hours)))
                .filter(|(_, _, h)| !matches!(h, Ok(h) if !h.stale))
                .collect();
            (at.position(), pending)
        });
        let mut stale: Vec<VmBackupHealth> =
            backup_health::resolve(app(ctx), reads(ctx), position, now, hours, pending)
                .await?
                .into_iter()
                .filter(|h| h.stale)
                .map(VmBackupHealth::from)
                .collect();
        stale.sort_by(|a, b| a.last_good_backup_at.cmp(&b.last_good_backup_at).then(a.vm.vm.name.cmp(&b.vm.vm.name)));
        Ok(stale)
    }

    /// Every event of one entity, oldest first, with who caused it and why. `after` is the
    /// position of the last entry of the previous page.
    #[graphql(complexity = "page_cost(first, 100, child_complexity)")]
    async fn history(
        &self,
        ctx: &Context<'_>,
        entity_id: ID,
        #[graphql(default = 100)] first: Option<i32>,
        after: Option<String>,
    ) -> Result<Vec<HistoryEntry>> {
        let who = principal(ctx)?;
        let first = page_size(first.unwrap_or(100), 1000)?;
        let after = match after {
            Some(a) => a.parse::<i64>().map_err(|_| ApiError::BadInput("after: must be a position cursor".into()))?,
            None => 0,
        };
        let app = app(ctx);
        let entity = entity_id.as_str();
        // Exactly the streams of the entity the caller may see: never another stream that
        // happens to carry the same id.
        let Some(types) = streams_of(app.catalog().live(), who, entity) else { return Ok(vec![]) };
        let events = app.bus.log.history(&types, entity, after, first).await.map_err(ApiError::store)?;
        Ok(events.iter().map(HistoryEntry::from_stored).collect())
    }

    /// The whole log in order, for staff and auditors.
    #[graphql(complexity = "page_cost(first, 100, child_complexity)")]
    async fn events(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(Long(0))")] after: Option<Long>,
        #[graphql(default = 100)] first: Option<i32>,
    ) -> Result<Vec<HistoryEntry>> {
        let who = principal(ctx)?;
        if !who.is_staff() {
            return Err(ApiError::staff_only().into());
        }
        let first = page_size(first.unwrap_or(100), 1000)?;
        let after = after.map_or(0, |a| a.0.max(0));
        let events = app(ctx).bus.log.read_after(after, first).await.map_err(ApiError::store)?;
        Ok(events.iter().map(HistoryEntry::from_stored).collect())
    }

    /// The last position of the log and its chain hash, for staff and auditors (it tells
    /// how busy the whole platform is).
    async fn log_head(&self, ctx: &Context<'_>) -> Result<LogHead> {
        if !principal(ctx)?.is_staff() {
            return Err(ApiError::staff_only().into());
        }
        let head = app(ctx).bus.log.head().await.map_err(ApiError::store)?;
        Ok(LogHead {
            position: Long(head.position),
            chain_hash: hex::encode(head.chain_hash),
            recorded_at: head.recorded_at,
        })
    }

    /// Which server process holds which shared work (a share of the monitors' checks,
    /// the billing run, the release decisions, a VM's maintenance slot being decided) and
    /// until when, for staff and auditors; expired leases are listed with `live: false`.
    async fn leases(&self, ctx: &Context<'_>) -> Result<Vec<Lease>> {
        if !principal(ctx)?.is_staff() {
            return Err(ApiError::staff_only().into());
        }
        let leases = app(ctx).bus.log.leases().await.map_err(ApiError::store)?;
        Ok(leases.into_iter().map(Lease::from).collect())
    }
}

/// A question about the past may read the log: it costs `cost` more than the live one.
pub(super) fn as_of_cost(as_of: &Option<DateTime<Utc>>, cost: usize, child_complexity: usize) -> usize {
    child_complexity.saturating_add(if as_of.is_some() { cost } else { 0 })
}

/// A paged list costs its page size times what each item asks for, so a request cannot
/// hide thousands of rows behind one field.
fn page_cost(first: Option<i32>, default: i32, child_complexity: usize) -> usize {
    (first.unwrap_or(default).clamp(1, 1000) as usize).saturating_mul(child_complexity.max(1))
}

/// The stream types of the entity an id names, if the caller may read its history: a
/// customer's people see their customer, its projects, VMs (with their backup logs),
/// people, SSH keys, monitors and invoices; staff see any entity, and any stream by id
/// (number series, billing runs and channels are no entity of the catalog).
fn streams_of(at: projections::At<'_>, who: &Principal, id: &str) -> Option<Vec<&'static str>> {
    use cqrs_es::Aggregate;
    use domain::{InvoiceId, MaintenanceId, MonitorId, ReleaseId, SshKeyId};
    let uuid: uuid::Uuid = id.parse().ok()?;
    let customer_of_person = |p: PersonId| at.person(&p).and_then(|p| p.customer_id);
    let found: Option<(Vec<&'static str>, Option<CustomerId>)> = if at.customer(&CustomerId(uuid)).is_some() {
        Some((vec![domain::customer::Customer::TYPE], Some(CustomerId(uuid))))
    } else if let Some(p) = at.project(&ProjectId(uuid)) {
        Some((vec![domain::project::Project::TYPE], p.customer_id))
    } else if let Some(v) = at.vm(&VmId(uuid)) {
        Some((vec![domain::vm::Vm::TYPE, domain::backup_log::BackupLog::TYPE], v.customer_id))
    } else if at.person(&PersonId(uuid)).is_some() {
        Some((vec![domain::person::Person::TYPE], customer_of_person(PersonId(uuid))))
    } else if let Some(k) = at.key(&SshKeyId(uuid)) {
        Some((vec![domain::ssh_key::SshKey::TYPE], k.person_id.and_then(customer_of_person)))
    } else if let Some(m) = at.monitor(&MonitorId(uuid)) {
        Some((vec![domain::http_monitor::HttpMonitor::TYPE], m.customer_id))
    } else if let Some(i) = at.invoice(&InvoiceId(uuid)) {
        Some((vec![domain::invoice::Invoice::TYPE], i.content.as_ref().map(|c| c.customer_id)))
    } else if at.maintenance_window(&MaintenanceId(uuid)).is_some() {
        Some((vec![domain::maintenance_window::MaintenanceWindow::TYPE], None))
    } else if at.release(&ReleaseId(uuid)).is_some() {
        Some((vec![domain::release::Release::TYPE], None))
    } else {
        None
    };
    match found {
        Some((types, owner)) if who.is_staff() || owner.is_some_and(|c| who.customer_id() == Some(c)) => Some(types),
        Some(_) => None,
        None if who.is_staff() => Some(STREAM_TYPES.to_vec()),
        None => None,
    }
}

/// Every stream type of the log, for staff reading a stream that is no catalog entity.
const STREAM_TYPES: &[&str] = {
    use cqrs_es::Aggregate;
    use domain::{backup_log, billing_run, customer, http_monitor, invoice, maintenance_window, person, price_list};
    use domain::{project, release, ssh_key, vm};
    &[
        customer::Customer::TYPE,
        person::Person::TYPE,
        ssh_key::SshKey::TYPE,
        project::Project::TYPE,
        vm::Vm::TYPE,
        backup_log::BackupLog::TYPE,
        http_monitor::HttpMonitor::TYPE,
        maintenance_window::MaintenanceWindow::TYPE,
        price_list::PriceLists::TYPE,
        invoice::Invoice::TYPE,
        invoice::SERIES_TYPE,
        billing_run::BillingRun::TYPE,
        release::Release::TYPE,
        release::ReleaseChannel::TYPE,
        domain::network::Networks::TYPE,
    ]
};
