//! Overload is shed, not queued. Requests that do real work (GraphQL, documents, the node
//! API) run only with a permit; at most `in_flight` run at once, and a request that finds
//! none free within `wait` is answered at once with 503 and `Retry-After`, before its body
//! is decoded or anything runs. So the work in the server stays bounded whatever arrives,
//! admitted requests keep their latency, and the server is back to normal as soon as the
//! load drops (no backlog is left to work off). Health, readiness, metrics and the
//! portal's static files never wait for a permit.
//!
//! Permits alone do not see every queue: when the server's cores are saturated, requests
//! also wait where no permit is asked for (connections not yet read, tasks not yet run),
//! and then fewer requests than permits are at work while latency grows without bound.
//! So a server may also watch how late its runtime runs a task that is due
//! ([`Admission::watching_lag`]), and sheds at once while that is longer than a limit.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
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

/// How often the runtime's lateness is measured.
const PROBE: Duration = Duration::from_millis(10);

/// The permits of one server process.
#[derive(Clone)]
pub struct Admission {
    permits: Arc<Semaphore>,
    wait: Duration,
    /// How late the runtime ran the last probe, in microseconds, and how late it may run
    /// before requests are shed, when it is watched.
    lag: Option<(Arc<AtomicU64>, Duration)>,
}

/// How late the runtime may run tasks before requests are shed, when the deployment
/// configured nothing: far above what a healthy server sees (a millisecond or two), and
/// what a request would wait in its turn behind a hundred and fifty others.
pub const DEFAULT_LAG_LIMIT: Duration = Duration::from_millis(100);

impl Default for Admission {
    fn default() -> Self {
        Admission::new(DEFAULT_IN_FLIGHT, DEFAULT_WAIT)
    }
}

impl Admission {
    pub fn new(in_flight: usize, wait: Duration) -> Admission {
        Admission { permits: Arc::new(Semaphore::new(in_flight.max(1))), wait, lag: None }
    }

    /// Also sheds while the runtime runs tasks later than `limit`: a probe task (on the
    /// current runtime, ending with the last copy of this admission) sleeps [`PROBE`] and
    /// records how late it woke.
    pub fn watching_lag(self, limit: Duration) -> Admission {
        let lag = Arc::new(AtomicU64::new(0));
        tokio::spawn(probe(Arc::downgrade(&lag)));
        Admission { lag: Some((lag, limit)), ..self }
    }

    /// How late the runtime ran the last probe (zero when not watched).
    pub fn lag(&self) -> Duration {
        self.lag.as_ref().map_or(Duration::ZERO, |(l, _)| Duration::from_micros(l.load(Ordering::Relaxed)))
    }

    /// A permit to work (held until dropped), or the answer that sheds the request.
    pub async fn enter(&self) -> Result<OwnedSemaphorePermit, Response> {
        if self.lag.as_ref().is_some_and(|(_, limit)| self.lag() > *limit) {
            metrics::counter!("directory_requests_shed_total").increment(1);
            return Err(shed());
        }
        if let Ok(permit) = self.permits.clone().try_acquire_owned() {
            return Ok(permit);
        }
        // The waiters are served in turn, each given a permit as one is released, even
        // after its wait ran out while the runtime was busy: what counts is how long the
        // request waited, so one that waited too long is shed with the permit it got.
        let asked = tokio::time::Instant::now();
        match tokio::time::timeout(self.wait, self.permits.clone().acquire_owned()).await {
            Ok(Ok(permit)) if asked.elapsed() <= self.wait => Ok(permit),
            _ => {
                metrics::counter!("directory_requests_shed_total").increment(1);
                Err(shed())
            }
        }
    }
}

/// Measures, every [`PROBE`], how late the runtime woke a task that was due.
async fn probe(lag: Weak<AtomicU64>) {
    loop {
        let due = tokio::time::Instant::now() + PROBE;
        tokio::time::sleep_until(due).await;
        let late = tokio::time::Instant::now().saturating_duration_since(due);
        let Some(lag) = lag.upgrade() else { return };
        lag.store(u64::try_from(late.as_micros()).unwrap_or(u64::MAX), Ordering::Relaxed);
        metrics::gauge!("directory_runtime_lag_seconds").set(late.as_secs_f64());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn a_runtime_running_late_sheds_at_once_and_admits_again_when_it_catches_up() {
        let admission = Admission::new(64, Duration::from_millis(50)).watching_lag(Duration::from_millis(100));
        tokio::time::sleep(PROBE * 3).await;
        assert!(admission.enter().await.is_ok(), "on time: admitted");
        // The one worker busy for 200 ms: every task due meanwhile runs late.
        std::thread::sleep(Duration::from_millis(200));
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert!(admission.lag() > Duration::from_millis(100), "{:?}", admission.lag());
        let shed = admission.enter().await.expect_err("running late: shed");
        assert_eq!(shed.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(admission.permits.available_permits(), 64, "no permit taken");
        tokio::time::sleep(PROBE * 3).await;
        assert!(admission.enter().await.is_ok(), "caught up: admitted again");
        let plain = Admission::new(64, Duration::from_millis(50));
        assert_eq!(plain.lag(), Duration::ZERO, "not watched unless asked");
    }
}
