//! The node API: the XML-RPC endpoint the platform's own machines call
//! (`../shared/contract/fc-compat.md`). `POST /v2/api/rg-<name>` is ring 1 (one resource
//! group), `POST /v2/api` ring 0 (the whole platform); nodes log in with HTTP Basic as
//! their host name and node password. Hostile bodies are refused before they are parsed
//! ([`xml`]); who may call what is the application layer's ([`app::node_auth`]).

mod maintenance;
mod methods;
mod network;
mod xml;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use app::node_auth::{self, Node, Refused};
use app::state::AppState;

/// The largest body a node sends (a backup server's revisions of one VM fit many times).
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

pub fn router(state: Arc<AppState>, admission: crate::admission::Admission) -> Router {
    Router::new()
        .route("/v2/api", post(ring_0))
        .route("/v2/api/{path}", post(ring_1))
        .route_layer(axum::middleware::from_fn_with_state(admission, crate::admission::layer))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

async fn ring_0(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    call(&state, &headers, None, &body).await
}

async fn ring_1(
    State(state): State<Arc<AppState>>,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match path.strip_prefix("rg-").filter(|rg| !rg.is_empty()) {
        Some(rg) => call(&state, &headers, Some(rg), &body).await,
        None => (StatusCode::NOT_FOUND, "the node API is /v2/api (ring 0) and /v2/api/rg-<resource group> (ring 1)\n")
            .into_response(),
    }
}

/// One call: who it is, whether its ring reaches the path, the method, the answer.
async fn call(state: &AppState, headers: &HeaderMap, resource_group: Option<&str>, body: &[u8]) -> Response {
    let node = {
        let catalog = state.catalog();
        let header = headers.get(header::AUTHORIZATION).and_then(|h| h.to_str().ok());
        node_auth::authenticate(catalog.live(), state.node_key(), header, state.now())
            .and_then(|node| node_auth::admit(&node, resource_group).map(|()| node))
    };
    let node = match node {
        Ok(node) => node,
        Err(Refused::Unauthenticated) => {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Basic realm=\"directory\"")],
                "log in with the node's host name and node password\n",
            )
                .into_response();
        }
        Err(Refused::Forbidden(why)) => return (StatusCode::FORBIDDEN, format!("{why}\n")).into_response(),
    };
    let answer = match xml::call(body) {
        Ok((method, params)) => methods::dispatch(state, &node, resource_group, &method, params).await,
        Err(fault) => Err(fault),
    };
    xml::respond(answer)
}

/// A node's ENC as its agent would receive it from `lookup_node`, for staff (`directory
/// node enc`): as JSON, the way the agents store it, and without its password.
pub fn enc(state: &AppState, hostname: &str) -> Option<serde_json::Value> {
    let catalog = state.catalog();
    let at = catalog.live();
    let (_, vm) = at.vm_by_hostname(hostname)?;
    let resource_group = at.project(&vm.current()?.project_id)?.resource_group.clone();
    // Staff, as a ring 0 node that is none of the VMs (so no password is shown).
    let staff = Node { vm: domain::VmId(uuid::Uuid::nil()), hostname: String::new(), resource_group, ring: 0 };
    methods::lookup_node(state, at, &staff, None, hostname).ok().map(|v| json(&v))
}

/// The users of a resource group's machines as `list_users` serves them, as JSON, for staff.
pub fn users(state: &AppState, resource_group: &str) -> Option<serde_json::Value> {
    let catalog = state.catalog();
    let at = catalog.live();
    at.project_by_resource_group(resource_group)?;
    let staff = Node {
        vm: domain::VmId(uuid::Uuid::nil()),
        hostname: String::new(),
        resource_group: resource_group.to_owned(),
        ring: 0,
    };
    methods::list_users(at, &staff, resource_group).ok().map(|v| json(&v))
}

/// An XML-RPC value as the agents write it into JSON.
fn json(value: &dxr::Value) -> serde_json::Value {
    use dxr::Value as V;
    use serde_json::Value as J;
    match value {
        V::Integer(i) => J::from(*i),
        V::Long(l) => J::from(*l),
        V::Boolean(b) => J::Bool(*b),
        V::String(s) => J::String(s.clone()),
        V::Double(d) => J::from(*d),
        V::Struct(members) => J::Object(members.iter().map(|(k, v)| (k.clone(), json(v))).collect()),
        V::Array(items) => J::Array(items.iter().map(json).collect()),
        V::Nil => J::Null,
        // Never in an answer of ours (fc-compat.md: no dateTime, no base64 out).
        _ => J::Null,
    }
}

/// The caller's resource group for a ring-1 method: the path's, else the node's own.
fn group<'a>(node: &'a Node, path: Option<&'a str>) -> &'a str {
    path.unwrap_or(&node.resource_group)
}
