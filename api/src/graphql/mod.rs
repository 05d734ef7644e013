//! The GraphQL schema: the contract's types, queries and mutations.

mod billing;
pub mod keys;
pub mod limits;
mod monitoring;
mod mutation;
mod nodes;
mod pricing;
mod query;
mod releases;
pub mod scalars;
mod search;
pub mod sla;
pub mod types;

use std::str::FromStr;
use std::sync::Arc;

use async_graphql::{Context, EmptySubscription, ID, Schema};

use app::auth::Principal;
use app::error::ApiError;
use app::state::AppState;

/// Every query, each area in its own module.
#[derive(async_graphql::MergedObject, Default)]
pub struct Query(
    query::CoreQuery,
    monitoring::MonitoringQuery,
    pricing::PricingQuery,
    billing::BillingQuery,
    sla::SlaQuery,
    keys::KeysQuery,
    releases::ReleasesQuery,
    nodes::NodesQuery,
);

/// Every mutation, each area in its own module.
#[derive(async_graphql::MergedObject, Default)]
pub struct Mutation(
    mutation::CoreMutation,
    monitoring::MonitoringMutation,
    pricing::PricingMutation,
    billing::BillingMutation,
    keys::KeysMutation,
    releases::ReleasesMutation,
    nodes::NodesMutation,
);

pub type DirectorySchema = Schema<Query, Mutation, EmptySubscription>;

pub use limits::{MAX_COMPLEXITY, MAX_DEPTH};

pub fn build(state: Arc<AppState>) -> DirectorySchema {
    builder(state).finish()
}

/// The schema customers' requests run on: no "did you mean" suggestions, which would
/// leak field names that introspection (staff only) keeps to staff.
pub fn build_public(state: Arc<AppState>) -> DirectorySchema {
    builder(state).disable_suggestions().finish()
}

fn builder(state: Arc<AppState>) -> async_graphql::SchemaBuilder<Query, Mutation, EmptySubscription> {
    Schema::build(Query::default(), Mutation::default(), EmptySubscription)
        .data(state)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .limit_recursive_depth(limits::MAX_RECURSIVE_DEPTH)
        .limit_directives(limits::MAX_DIRECTIVES)
}

/// The schema without state, for printing its SDL.
pub fn sdl() -> String {
    Schema::build(Query::default(), Mutation::default(), EmptySubscription).finish().sdl()
}

/// What a request reads: the live catalog, or the catalog as it stood at a past log
/// position. Nodes carry it, so that a whole "as of" answer comes from one state.
#[derive(Clone, Copy, Debug)]
pub enum View {
    Live,
    At(i64),
}

impl View {
    pub fn with<R>(&self, app: &AppState, f: impl FnOnce(projections::At<'_>) -> R) -> R {
        let catalog = app.catalog();
        match self {
            View::Live => f(catalog.live()),
            View::At(position) => f(catalog.at(*position)),
        }
    }
}

/// The view a mutation answers in: live for a command applied now; for a retry, as of the
/// position its first attempt recorded, so that it answers its own result and not what
/// later changes made of the entity.
pub(crate) fn answered(done: &app::commands::Executed) -> View {
    done.answered_at().map_or(View::Live, View::At)
}

/// Answers a whole request as recorded at an instant (`directory replay as-of`): fields
/// without an `asOf` argument of their own use it.
pub struct AsOfRequest(pub chrono::DateTime<chrono::Utc>);

/// The instant a field answers as of: its own `asOf`, else the whole request's, else none (live).
pub(crate) fn as_of_instant(
    ctx: &Context<'_>,
    as_of: Option<chrono::DateTime<chrono::Utc>>,
) -> Option<chrono::DateTime<chrono::Utc>> {
    as_of.or_else(|| ctx.data_opt::<AsOfRequest>().map(|r| r.0))
}

/// The view for an optional `asOf` argument.
pub(crate) async fn view(ctx: &Context<'_>, as_of: Option<chrono::DateTime<chrono::Utc>>) -> Result<View, ApiError> {
    match as_of_instant(ctx, as_of) {
        None => Ok(View::Live),
        Some(at) => Ok(View::At(app(ctx).position_at(at).await?)),
    }
}

pub(crate) fn app<'a>(ctx: &Context<'a>) -> &'a AppState {
    ctx.data_unchecked::<Arc<AppState>>()
}

/// This request's reads of the log: every request carries one ([`app::state::LogReads`]).
pub(crate) fn reads<'a>(ctx: &Context<'a>) -> &'a app::state::LogReads {
    ctx.data_unchecked::<app::state::LogReads>()
}

pub(crate) fn principal<'a>(ctx: &Context<'a>) -> Result<&'a Principal, ApiError> {
    ctx.data_opt::<Principal>().ok_or_else(|| ApiError::Unauthenticated("no token".into()))
}

/// The idempotency envelope of the mutation being resolved, derived from the request: the
/// field's name and its arguments as sent (variables resolved, object keys in order), all
/// but `commandId` (top-level or in the input), so a retry must repeat the request.
pub(crate) fn envelope(
    ctx: &Context<'_>,
    who: &Principal,
    command_id: Option<&ID>,
    reason: Option<String>,
) -> Result<app::commands::Envelope, ApiError> {
    let field = ctx.field();
    let arguments = field.arguments().map_err(|e| ApiError::BadInput(e.message))?;
    let mut input = serde_json::Map::new();
    for (name, value) in arguments {
        if name.as_str() == "commandId" {
            continue;
        }
        let mut json = value.into_json().map_err(|e| ApiError::BadInput(e.to_string()))?;
        if let serde_json::Value::Object(fields) = &mut json {
            fields.remove("commandId");
        }
        input.insert(name.to_string(), json);
    }
    app::commands::Envelope::new(who, field.name(), &input, command_id, reason)
}

/// The id of an entity a command just changed, as the bus answered it.
pub(crate) fn parsed<T: FromStr>(s: &str) -> Result<T, ApiError> {
    s.parse().map_err(|_| ApiError::NotFound("the changed entity is not in the read model".into()))
}

/// The client's id for a new entity (see [`app::policy::client_id`]), or a new one;
/// `true` when the id was generated here.
pub(crate) fn new_or<T: FromStr + From<uuid::Uuid>>(id: &Option<ID>) -> Result<(T, bool), ApiError> {
    match id {
        Some(id) => Ok((T::from(app::policy::client_id(parse_id(id, "id")?)?), false)),
        None => Ok((T::from(uuid::Uuid::new_v4()), true)),
    }
}

/// Parses an id argument, naming the field when it is not a UUID.
pub(crate) fn parse_id<T: FromStr>(id: &ID, field: &str) -> Result<T, ApiError> {
    id.parse().map_err(|_| ApiError::BadInput(format!("{field}: {:?} is not a UUID", truncate(id))))
}

/// Bounds a page size argument.
pub(crate) fn page_size(first: i32, max: i32) -> Result<u32, ApiError> {
    if (1..=max).contains(&first) {
        Ok(first as u32)
    } else {
        Err(ApiError::BadInput(format!("first: must be between 1 and {max}, got {first}")))
    }
}

/// Long input echoed in messages is cut, so a 64 KiB id does not come back in the answer.
fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}
