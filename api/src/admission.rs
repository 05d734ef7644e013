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
//! A queue there only drains while the cores have time to spare, so a server may also
//! watch its runtime ([`Admission::watching_runtime`]): while its workers are busy nearly
//! all the time it admits a shrinking share of requests and sheds the rest at once (a
//! shed costs a small fraction of an admitted request), and it sheds everything while the
//! runtime runs a task that is due later than a limit.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
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
    /// The share of requests admitted while the runtime is busy, when it is watched.
    governor: Option<Arc<Governor>>,
}

/// The share of the runtime's time its workers may be busy before fewer requests are
/// admitted: what leaves a queue in front of them room to drain.
const BUSY_HIGH: f64 = 0.95;
/// Below this, the admitted share grows back.
const BUSY_LOW: f64 = 0.9;
/// The admitted share in 1/1024, and the least of it (some requests always pass, so that
/// the server keeps serving and keeps measuring).
const ALL: u32 = 1024;
const LEAST: u32 = 16;

/// Admits a share of requests, the share lowered multiplicatively while the runtime's
/// workers are busier than [`BUSY_HIGH`] and raised additively while they are idler than
/// [`BUSY_LOW`] (as TCP's congestion window, so it settles below saturation).
pub struct Governor {
    /// The admitted share, in 1/[`ALL`].
    share: AtomicU32,
    /// Requests seen while the share was below all of them: which of them pass follows
    /// from their count, so the share holds exactly over any run of requests.
    seen: AtomicU64,
}

impl Default for Governor {
    fn default() -> Self {
        Governor::new()
    }
}

impl Governor {
    pub fn new() -> Governor {
        Governor { share: AtomicU32::new(ALL), seen: AtomicU64::new(0) }
    }

    /// Takes in how busy the workers were since the last look (0 idle, 1 always busy).
    pub fn observe(&self, busy: f64) {
        let share = self.share.load(Ordering::Relaxed);
        // Down by a sixteenth a look while busy; back up from the least to all in 16 looks,
        // so that a burst's lowered share is gone a fraction of a second after it.
        let next = if busy > BUSY_HIGH {
            (share - share / 16).max(LEAST)
        } else if busy < BUSY_LOW {
            (share + ALL / 16).min(ALL)
        } else {
            share
        };
        self.share.store(next, Ordering::Relaxed);
        metrics::gauge!("directory_admitted_share").set(f64::from(next) / f64::from(ALL));
    }

    /// The share admitted now (1 when everything is).
    pub fn share(&self) -> f64 {
        f64::from(self.share.load(Ordering::Relaxed)) / f64::from(ALL)
    }

    /// Whether the next request is admitted.
    pub fn admits(&self) -> bool {
        let share = u64::from(self.share.load(Ordering::Relaxed));
        if share >= u64::from(ALL) {
            return true;
        }
        // Request n passes when the admitted count floor(n × share) steps up at it.
        let n = self.seen.fetch_add(1, Ordering::Relaxed);
        (n + 1) * share / u64::from(ALL) > n * share / u64::from(ALL)
    }
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
        Admission { permits: Arc::new(Semaphore::new(in_flight.max(1))), wait, lag: None, governor: None }
    }

    /// Also watches the runtime: a probe task (on the current runtime, ending with the last
    /// copy of this admission) sleeps [`PROBE`], records how late it woke (everything is
    /// shed while that is later than `limit`) and tells the [`Governor`] how busy the
    /// workers were meanwhile.
    pub fn watching_runtime(self, limit: Duration) -> Admission {
        let lag = Arc::new(AtomicU64::new(0));
        let governor = Arc::new(Governor::new());
        tokio::spawn(probe(Arc::downgrade(&lag), Arc::downgrade(&governor)));
        Admission { lag: Some((lag, limit)), governor: Some(governor), ..self }
    }

    /// How late the runtime ran the last probe (zero when not watched).
    pub fn lag(&self) -> Duration {
        self.lag.as_ref().map_or(Duration::ZERO, |(l, _)| Duration::from_micros(l.load(Ordering::Relaxed)))
    }

    /// A permit to work (held until dropped), or the answer that sheds the request.
    pub async fn enter(&self) -> Result<OwnedSemaphorePermit, Response> {
        let late = self.lag.as_ref().is_some_and(|(_, limit)| self.lag() > *limit);
        if late || self.governor.as_ref().is_some_and(|g| !g.admits()) {
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

/// Measures, every [`PROBE`], how late the runtime woke a task that was due, and how busy
/// its workers were since the last time.
async fn probe(lag: Weak<AtomicU64>, governor: Weak<Governor>) {
    let runtime = tokio::runtime::Handle::current().metrics();
    let busy = || (0..runtime.num_workers()).map(|w| runtime.worker_total_busy_duration(w)).sum::<Duration>();
    let (mut last_busy, mut last) = (busy(), tokio::time::Instant::now());
    // Smoothed over a few looks: one burst that fills a 10 ms look at half the capacity is
    // not the saturation a share should be lowered for.
    let mut smoothed = 0.0;
    loop {
        let due = tokio::time::Instant::now() + PROBE;
        tokio::time::sleep_until(due).await;
        let now = tokio::time::Instant::now();
        let late = now.saturating_duration_since(due);
        let (Some(lag), Some(governor)) = (lag.upgrade(), governor.upgrade()) else { return };
        lag.store(u64::try_from(late.as_micros()).unwrap_or(u64::MAX), Ordering::Relaxed);
        metrics::gauge!("directory_runtime_lag_seconds").set(late.as_secs_f64());
        let spent = busy();
        let wall = now.saturating_duration_since(last).as_secs_f64() * runtime.num_workers() as f64;
        if wall > 0.0 {
            smoothed = smoothed / 2.0 + spent.saturating_sub(last_busy).as_secs_f64() / wall / 2.0;
            governor.observe(smoothed);
        }
        (last_busy, last) = (spent, now);
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
        let admission = Admission::new(64, Duration::from_millis(50)).watching_runtime(Duration::from_millis(100));
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
        // Caught up, and idle long enough for the busy stretch's lowered share to grow back.
        tokio::time::sleep(PROBE * 10).await;
        assert_eq!(admission.governor.as_ref().unwrap().share(), 1.0);
        assert!(admission.enter().await.is_ok(), "caught up: admitted again");
        let plain = Admission::new(64, Duration::from_millis(50));
        assert_eq!(plain.lag(), Duration::ZERO, "not watched unless asked");
    }

    #[test]
    fn a_busy_runtime_admits_a_shrinking_share_and_an_idle_one_all_again() {
        let g = Governor::new();
        let passed = |g: &Governor, n: usize| (0..n).filter(|_| g.admits()).count();
        g.observe(0.5);
        assert_eq!(passed(&g, 1000), 1000, "not busy: all admitted");
        for _ in 0..10 {
            g.observe(0.99);
        }
        let share = g.share();
        assert!((0.52..0.54).contains(&share), "ten busy looks: 15/16 to the tenth, {share}");
        let n = passed(&g, 10_000);
        assert!(n.abs_diff((share * 10_000.0) as usize) <= 1, "the share holds over a run: {n}");
        g.observe(0.92);
        assert_eq!(g.share(), share, "between the marks: held");
        for _ in 0..200 {
            g.observe(1.0);
        }
        assert_eq!(g.share(), f64::from(LEAST) / f64::from(ALL), "never below the least share");
        assert!(passed(&g, 1024) >= LEAST as usize, "some always pass");
        for _ in 0..16 {
            g.observe(0.3);
        }
        assert_eq!(g.share(), 1.0, "idle again: everything admitted");
    }
}
