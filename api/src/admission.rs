//! Overload is shed, not queued. Requests that do real work (GraphQL, documents, the node
//! API) run only with a permit; at most `in_flight` run at once, and a request that finds
//! none free within `wait` is answered at once with 503 and `Retry-After`, before its body
//! is decoded or anything runs. So the work in the server stays bounded whatever arrives,
//! admitted requests keep their latency, and the server is back to normal as soon as the
//! load drops (no backlog is left to work off). Health, readiness, metrics and the
//! portal's static files never wait for a permit.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Requests at work at once when the deployment configured nothing.
pub const DEFAULT_IN_FLIGHT: usize = 64;
/// How long a request may wait for a permit when the deployment configured nothing.
pub const DEFAULT_WAIT: Duration = Duration::from_millis(50);
/// What a shed request is told to wait before it tries again, in seconds.
const RETRY_AFTER: &str = "1";

/// The permits of one server process.
#[derive(Clone)]
pub struct Admission {
    permits: Arc<Semaphore>,
    wait: Duration,
}

impl Default for Admission {
    fn default() -> Self {
        Admission::new(DEFAULT_IN_FLIGHT, DEFAULT_WAIT)
    }
}

impl Admission {
    pub fn new(in_flight: usize, wait: Duration) -> Admission {
        Admission { permits: Arc::new(Semaphore::new(in_flight.max(1))), wait }
    }

    /// A permit to work (held until dropped), or the answer that sheds the request.
    pub async fn enter(&self) -> Result<OwnedSemaphorePermit, Response> {
        match tokio::time::timeout(self.wait, self.permits.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => {
                metrics::counter!("directory_requests_shed_total").increment(1);
                Err(shed())
            }
        }
    }
}

/// The middleware of routes whose handlers all do real work.
pub async fn layer(State(admission): State<Admission>, request: Request, next: Next) -> Response {
    match admission.enter().await {
        Ok(_permit) => next.run(request).await,
        Err(response) => response,
    }
}

/// 503 with `Retry-After`, and the contract's retryable error in GraphQL's shape.
fn shed() -> Response {
    let body = serde_json::json!({ "errors": [{
        "message": "the server is at capacity; retry after a second (with the same commandId)",
        "extensions": { "code": "UNAVAILABLE" }
    }] });
    (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, RETRY_AFTER)], axum::Json(body)).into_response()
}
