//! Queries. A customer's token sees only its own customer: for anything else the answer is
//! the same as for an id that does not exist.

use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, Utc};
use domain::{CustomerId, PersonId, ProjectId, VmId};

use super::scalars::Long;
use super::types::{CustomerNode, HistoryEntry, LogHead, PersonNode, ProjectNode, Viewer, VmNode};
use super::{app, page_size, parse_id, principal, view};
use crate::auth::Principal;
use crate::error::ApiError;

pub struct Query;

#[Object]
impl Query {
    /// Who the token belongs to.
    async fn me(&self, ctx: &Context<'_>) -> Result<Viewer> {
        Ok(match principal(ctx)? {
            Principal::Bootstrap => Viewer {
                person_id: None,
                name: "system:bootstrap".into(),
                staff_roles: vec![domain::person::StaffRole::Admin.into()],
                customer_id: None,
            },
            Principal::Person { id, name, customer_id, staff_roles } => Viewer {
                person_id: Some(ID(id.to_string())),
                name: name.clone(),
                staff_roles: staff_roles.iter().map(|r| (*r).into()).collect(),
                customer_id: customer_id.map(|c| ID(c.to_string())),
            },
        })
    }

    /// A customer; with `asOf`, as it was recorded at that instant (null if it did not exist yet).
    async fn customer(&self, ctx: &Context<'_>, id: ID, as_of: Option<DateTime<Utc>>) -> Result<Option<CustomerNode>> {
        let who = principal(ctx)?;
        let id: CustomerId = parse_id(&id, "id")?;
        let view = view(ctx, as_of).await?;
        Ok(view.with(app(ctx), |catalog| {
            catalog
                .customers
                .get(&id)
                .filter(|_| who.can_read_customer(id))
                .map(|c| CustomerNode(id, c.clone(), view.clone()))
        }))
    }

    async fn project(&self, ctx: &Context<'_>, id: ID, as_of: Option<DateTime<Utc>>) -> Result<Option<ProjectNode>> {
        let who = principal(ctx)?;
        let id: ProjectId = parse_id(&id, "id")?;
        let view = view(ctx, as_of).await?;
        Ok(view.with(app(ctx), |catalog| {
            catalog
                .projects
                .get(&id)
                .filter(|p| p.customer_id.is_some_and(|c| who.can_read_customer(c)))
                .map(|p| ProjectNode(id, p.clone(), view.clone()))
        }))
    }

    async fn vm(&self, ctx: &Context<'_>, id: ID, as_of: Option<DateTime<Utc>>) -> Result<Option<VmNode>> {
        let who = principal(ctx)?;
        let id: VmId = parse_id(&id, "id")?;
        let view = view(ctx, as_of).await?;
        Ok(view.with(app(ctx), |catalog| {
            catalog
                .vms
                .get(&id)
                .filter(|v| v.customer_id.is_some_and(|c| who.can_read_customer(c)))
                .map(|v| VmNode::new(id, v.clone(), catalog))
        }))
    }

    async fn person(&self, ctx: &Context<'_>, id: ID, as_of: Option<DateTime<Utc>>) -> Result<Option<PersonNode>> {
        let who = principal(ctx)?;
        let id: PersonId = parse_id(&id, "id")?;
        let view = view(ctx, as_of).await?;
        Ok(view.with(app(ctx), |catalog| {
            catalog
                .people
                .get(&id)
                .filter(|p| match p.customer_id {
                    Some(c) => who.can_read_customer(c),
                    None => who.is_staff() || who.person_id() == Some(id),
                })
                .map(|p| PersonNode(id, p.clone(), view.clone()))
        }))
    }

    /// Every event of one entity, oldest first, with who caused it and why. `after` is the
    /// position of the last entry of the previous page.
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
        if !who.is_staff() {
            let owner = owner_of(&app.catalog(), entity);
            if owner.is_none() || owner != who.customer_id() {
                return Ok(vec![]);
            }
        }
        let events = app.bus.log.history(entity, after, first).await.map_err(ApiError::store)?;
        Ok(events.iter().map(HistoryEntry::from_stored).collect())
    }

    /// The whole log in order, for staff and auditors.
    async fn events(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(Long(0))")] after: Option<Long>,
        #[graphql(default = 100)] first: Option<i32>,
    ) -> Result<Vec<HistoryEntry>> {
        let who = principal(ctx)?;
        if !who.is_staff() {
            return Err(ApiError::forbidden().into());
        }
        let first = page_size(first.unwrap_or(100), 1000)?;
        let after = after.map_or(0, |a| a.0.max(0));
        let events = app(ctx).bus.log.read_after(after, first).await.map_err(ApiError::store)?;
        Ok(events.iter().map(HistoryEntry::from_stored).collect())
    }

    /// The last position of the log and its chain hash.
    async fn log_head(&self, ctx: &Context<'_>) -> Result<LogHead> {
        principal(ctx)?;
        let head = app(ctx).bus.log.head().await.map_err(ApiError::store)?;
        Ok(LogHead {
            position: Long(head.position),
            chain_hash: hex::encode(head.chain_hash),
            recorded_at: head.recorded_at,
        })
    }
}

/// The customer an entity id belongs to, whatever kind of entity it is.
fn owner_of(catalog: &projections::Catalog, id: &str) -> Option<CustomerId> {
    let uuid: uuid::Uuid = id.parse().ok()?;
    if catalog.customers.contains_key(&CustomerId(uuid)) {
        return Some(CustomerId(uuid));
    }
    if let Some(p) = catalog.projects.get(&ProjectId(uuid)) {
        return p.customer_id;
    }
    if let Some(v) = catalog.vms.get(&VmId(uuid)) {
        return v.customer_id;
    }
    if let Some(p) = catalog.people.get(&PersonId(uuid)) {
        return p.customer_id;
    }
    let key = catalog.keys.get(&domain::SshKeyId(uuid))?;
    catalog.people.get(&key.person_id?)?.customer_id
}
