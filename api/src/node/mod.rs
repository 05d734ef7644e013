//! The node API: the XML-RPC endpoint the platform's own machines call
//! (`../shared/contract/fc-compat.md`). `POST /v2/api/rg-<name>` is ring 1 (one resource
//! group), `POST /v2/api` ring 0 (the whole platform); nodes log in with HTTP Basic as
//! their host name and node password. Hostile bodies are refused before they are parsed
//! ([`xml`]); who may call what is the application layer's ([`app::node_auth`]).

mod methods;
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

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v2/api", post(ring_0))
        .route("/v2/api/{path}", post(ring_1))
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
        node_auth::authenticate(catalog.live(), state.node_key(), header)
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

/// The caller's resource group for a ring-1 method: the path's, else the node's own.
fn group<'a>(node: &'a Node, path: Option<&'a str>) -> &'a str {
    path.unwrap_or(&node.resource_group)
}
