//! The HTTP checker: every active monitor is checked every `intervalSeconds` with its
//! timeout, redirects followed by hand so each hop (status and Location) is recorded.
//! Two consecutive failures take a monitor down, one success brings it up; each change
//! is one event. The state a decision starts from is the log's (the catalog), so a
//! restarted checker neither repeats a transition nor loses one; only the count of
//! failures in a row starts again from zero.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use domain::http_monitor::{self, Hop, MonitorCommand, MonitorConfig, MonitorState, Observed};
use domain::{CustomerId, Instant, MonitorId};

use std::net::IpAddr;

use crate::commands::Envelope;
use crate::error::ApiError;
use crate::state::AppState;
use crate::targets::{Reach, VettedResolver, literal};

/// How many checks may run at once.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Checks in flight at once, across all customers. A check that hangs holds a socket
    /// until its timeout (at most 60 s), which is cheap: the bound is generous.
    pub in_flight: usize,
    /// The fewest checks a customer may have in flight, however many customers there are.
    pub min_share: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { in_flight: 256, min_share: 2 }
    }
}

impl Limits {
    /// A customer's share of the slots while `customers` customers have monitors to check.
    /// One share is always left over, so a customer whose checks start later (its first
    /// monitor, say) finds a whole share free even while every other customer's checks
    /// hang; shares only shrink below that at `min_share`, with hundreds of customers.
    pub fn share(&self, customers: usize) -> usize {
        (self.in_flight / (customers + 1)).max(self.min_share)
    }
}

/// Failures in a row that take a monitor down.
const FAILURES_TO_DOWN: u32 = 2;

/// What one check found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckResult {
    pub ok: bool,
    pub status: Option<u16>,
    pub chain: Vec<Hop>,
    pub error: Option<String>,
}

/// The HTTP clients of every check: redirects are not followed by the client, no proxy is
/// used, and the client for public targets resolves names through [`VettedResolver`].
#[derive(Clone)]
pub struct Probe {
    public: reqwest::Client,
    internal: reqwest::Client,
    also: fn(IpAddr) -> bool,
}

impl Default for Probe {
    fn default() -> Self {
        Probe::new()
    }
}

/// What a customer reads when a check could not connect, for every reason alike: a
/// refused target, a closed port and an unknown name must not be told apart.
const NO_CONNECTION: &str = "the connection failed";

impl Probe {
    pub fn new() -> Probe {
        Probe::treating_as_public(|_| false)
    }

    /// A probe that also treats the addresses `also` accepts as public (tests stand in
    /// for the internet with a loopback address).
    pub fn treating_as_public(also: fn(IpAddr) -> bool) -> Probe {
        let client = |resolver: Option<VettedResolver>| {
            let mut builder = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .user_agent(concat!("directory-monitor/", env!("CARGO_PKG_VERSION")));
            if let Some(r) = resolver {
                builder = builder.dns_resolver(Arc::new(r));
            }
            builder.build().expect("the HTTP client builds")
        };
        Probe { public: client(Some(VettedResolver { reach: Reach::Public, also })), internal: client(None), also }
    }

    /// Checks a URL as the monitor says, within its timeout for the whole chain.
    pub async fn check(&self, config: &MonitorConfig, reach: Reach) -> CheckResult {
        let limit = Duration::from_secs(config.timeout_seconds.into());
        match tokio::time::timeout(limit, self.follow(config, reach)).await {
            Ok(outcome) => outcome,
            Err(_) => CheckResult {
                ok: false,
                status: None,
                chain: vec![],
                error: Some(format!("timed out after {} s", config.timeout_seconds)),
            },
        }
    }

    async fn follow(&self, config: &MonitorConfig, reach: Reach) -> CheckResult {
        let fail = |status, chain, error: String| CheckResult { ok: false, status, chain, error: Some(error) };
        let Ok(mut url) = reqwest::Url::parse(&config.url) else {
            return fail(None, vec![], "the URL does not parse".into());
        };
        let client = if reach == Reach::Internal { &self.internal } else { &self.public };
        let mut chain: Vec<Hop> = vec![];
        let mut seen = HashSet::from([url.clone()]);
        loop {
            // Every hop is vetted: an address in the URL here, a name by the resolver.
            if !matches!(url.scheme(), "http" | "https") {
                return fail(None, chain, NO_CONNECTION.into());
            }
            if let Some(ip) = literal(&url)
                && !(reach.allows(ip) || (self.also)(ip))
            {
                return fail(None, chain, NO_CONNECTION.into());
            }
            let response = match client.get(url.clone()).send().await {
                Ok(r) => r,
                Err(e) => return fail(None, chain, describe(&e)),
            };
            let status = response.status();
            if status.is_redirection() && config.follow_redirects {
                let Some(location) = response.headers().get(reqwest::header::LOCATION).and_then(|l| l.to_str().ok())
                else {
                    return fail(Some(status.as_u16()), chain, format!("{status} without a Location"));
                };
                let Ok(next) = url.join(location) else {
                    return fail(
                        Some(status.as_u16()),
                        chain,
                        format!("{status} to an unusable Location {location:?}"),
                    );
                };
                chain.push(Hop { status: status.as_u16(), location: next.to_string() });
                if chain.len() > config.max_redirects as usize {
                    return fail(Some(status.as_u16()), chain, format!("more than {} redirects", config.max_redirects));
                }
                if !seen.insert(next.clone()) {
                    return fail(Some(status.as_u16()), chain, format!("redirect loop at {next}"));
                }
                url = next;
                continue;
            }
            let code = status.as_u16();
            return match config.expected_status.contains(code) {
                true => CheckResult { ok: true, status: Some(code), chain, error: None },
                false => fail(Some(code), chain, format!("status {code}, expected {}", config.expected_status)),
            };
        }
    }
}

/// A failed request in words that name no address, port or inner cause.
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        NO_CONNECTION.into()
    } else {
        "the response could not be read".into()
    }
}

/// Whether a URL points at the Directory itself (its listen address).
pub async fn points_at(url: &str, listen: SocketAddr) -> bool {
    let Ok(url) = reqwest::Url::parse(url) else { return false };
    let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else { return false };
    if port != listen.port() {
        return false;
    }
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let resolved: Vec<SocketAddr> =
        match tokio::time::timeout(Duration::from_secs(2), tokio::net::lookup_host((host, port))).await {
            Ok(Ok(addrs)) => addrs.collect(),
            _ => return false,
        };
    resolved.iter().any(|a| {
        a.ip() == listen.ip() || (listen.ip().is_unspecified() && (a.ip().is_loopback() || a.ip().is_unspecified()))
    })
}

/// The checker: schedules, counts failures, and records transitions.
pub struct Checker {
    app: Arc<AppState>,
    probe: Probe,
    limits: Limits,
    failures: Mutex<HashMap<MonitorId, u32>>,
    schedule: Mutex<Schedule>,
    /// Whether this checker checks only the monitors of the shards its process holds
    /// (several servers on one database), rather than every monitor.
    sharded: bool,
}

/// When each monitor is due and which checks are running, by customer: one customer's
/// hanging sites hold at most its share of the slots, and a monitor is never checked
/// twice at once, so nothing queues up behind a slow target and fires in a burst later.
#[derive(Default)]
struct Schedule {
    next_due: HashMap<MonitorId, Instant>,
    running: HashSet<MonitorId>,
    by_customer: HashMap<Option<CustomerId>, usize>,
}

impl Schedule {
    fn finish(&mut self, id: MonitorId, customer: Option<CustomerId>) {
        self.running.remove(&id);
        if let Some(n) = self.by_customer.get_mut(&customer) {
            *n -= 1;
            if *n == 0 {
                self.by_customer.remove(&customer);
            }
        }
    }
}

/// A started check's slot, given back however the check ends (a panic included).
struct Slot {
    checker: Arc<Checker>,
    id: MonitorId,
    customer: Option<CustomerId>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        lock(&self.checker.schedule).finish(self.id, self.customer);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Checker {
    pub fn new(app: Arc<AppState>) -> Arc<Checker> {
        Checker::with_probe(app, Probe::new())
    }

    pub fn with_probe(app: Arc<AppState>, probe: Probe) -> Arc<Checker> {
        Checker::with_limits(app, probe, Limits::default())
    }

    pub fn with_limits(app: Arc<AppState>, probe: Probe, limits: Limits) -> Arc<Checker> {
        Arc::new(Checker {
            app,
            probe,
            limits,
            failures: Mutex::new(HashMap::new()),
            schedule: Mutex::default(),
            sharded: false,
        })
    }

    /// The checker of a server that shares its database with others: it checks the
    /// monitors of the shards its process's leases hold (see [`crate::leases`]).
    pub fn sharded(app: Arc<AppState>) -> Arc<Checker> {
        let mut checker = Checker::with_probe(app, Probe::new());
        if let Some(c) = Arc::get_mut(&mut checker) {
            c.sharded = true;
        }
        checker
    }

    /// The lease token under which this process may check `id` now (`Some(0)` for a checker
    /// that checks every monitor), or `None` when another process checks it.
    fn lease(&self, id: MonitorId) -> Option<i64> {
        if self.sharded { self.app.leases.checks(&id.0) } else { Some(0) }
    }

    /// Checks running now.
    pub fn in_flight(&self) -> usize {
        lock(&self.schedule).running.len()
    }

    /// Checks one monitor now; answers the transition it recorded, if any. Paused,
    /// deleted and unknown monitors are not checked.
    pub async fn check(&self, id: MonitorId) -> Result<Option<Observed>, ApiError> {
        let Some(token) = self.lease(id) else { return Ok(None) };
        let now = self.app.now();
        let (current, reach) = {
            let catalog = self.app.catalog();
            let live = catalog.live();
            // Live, the latest transition is always in memory.
            let monitor = live.monitor_with_state(&id).and_then(Result::ok);
            let project = monitor.as_ref().and_then(|m| m.project_id).and_then(|p| live.project(&p));
            (monitor, Reach::of_project(project.is_some_and(|p| p.internal_monitor_targets)))
        };
        let Some(monitor) = current.filter(|m| {
            m.deleted_at.is_none() && !m.paused && m.active_at(now) && m.checked_by == http_monitor::Checker::Directory
        }) else {
            return Ok(None);
        };
        let Some(config) = monitor.config.clone() else { return Ok(None) };
        let outcome = match self.app.listen.get() {
            Some(listen) if points_at(&config.url, *listen).await => CheckResult {
                ok: false,
                status: None,
                chain: vec![],
                error: Some("refused: the URL is the Directory's own address".into()),
            },
            _ => self.probe.check(&config, reach).await,
        };
        let at = self.app.now();
        let state = monitor.state();
        let change = {
            let mut failures = lock(&self.failures);
            let count = failures.entry(id).or_default();
            if outcome.ok {
                *count = 0;
                (state != MonitorState::Up).then_some(Observed::Up)
            } else {
                *count += 1;
                (*count >= FAILURES_TO_DOWN && state != MonitorState::Down).then_some(Observed::Down)
            }
        };
        let Some(observed) = change else { return Ok(None) };
        // The shard passed to another process while this check ran: that one decides now.
        if self.lease(id) != Some(token) {
            return Ok(None);
        }
        let envelope = Envelope {
            actor: "system:checker".into(),
            command_id: uuid::Uuid::new_v4().to_string(),
            retryable: false,
            payload_hash: format!("check:{id}:{at}"),
            reason: None,
        };
        let command = MonitorCommand::RecordTransition {
            state: observed,
            at,
            observed_status: outcome.status.map(i64::from),
            redirect_chain: outcome.chain,
            error: if observed == Observed::Down { outcome.error } else { None },
        };
        match self.app.bus.execute(&self.app.bus.monitors, &id.to_string(), command, &envelope).await {
            Ok(_) => Ok(Some(observed)),
            // Another checker (a second server) recorded the same change first.
            Err(ApiError::RuleViolation(_)) | Err(ApiError::Conflict(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Starts the checks that are due at `now`, most overdue first, within the bound on
    /// checks in flight and each customer's share of it; a check that finds no slot stays
    /// due for the next round. Each monitor's first check is spread over its interval by
    /// its id, so monitors created together are not checked together.
    pub fn round(self: &Arc<Self>, now: Instant) -> usize {
        let active: Vec<(MonitorId, u32, Option<CustomerId>)> = {
            let catalog = self.app.catalog();
            catalog
                .monitors
                .iter()
                // A monitor effective later is not checked before then.
                .filter(|(_, m)| {
                    m.deleted_at.is_none()
                        && !m.paused
                        && m.active_at(now)
                        && m.checked_by == http_monitor::Checker::Directory
                })
                .filter(|(id, _)| self.lease(**id).is_some())
                .filter_map(|(id, m)| m.config.as_ref().map(|c| (*id, c.interval_seconds, m.customer_id)))
                .collect()
        };
        let share = self.limits.share(active.iter().map(|(_, _, c)| c).collect::<HashSet<_>>().len());
        let mut schedule = lock(&self.schedule);
        let mut due = vec![];
        for (id, interval, customer) in active {
            let next = *schedule.next_due.entry(id).or_insert_with(|| {
                let jitter = (id.0.as_u128() % u128::from(interval.max(1))) as i64;
                now + chrono::Duration::seconds(jitter)
            });
            if next <= now && !schedule.running.contains(&id) {
                due.push((next, id, interval, customer));
            }
        }
        due.sort();
        let mut started = 0;
        for (_, id, interval, customer) in due {
            if schedule.running.len() >= self.limits.in_flight {
                break;
            }
            let mine = schedule.by_customer.entry(customer).or_default();
            if *mine >= share {
                continue;
            }
            *mine += 1;
            schedule.running.insert(id);
            schedule.next_due.insert(id, now + chrono::Duration::seconds(interval.into()));
            let slot = Slot { checker: self.clone(), id, customer };
            tokio::spawn(async move {
                if let Err(e) = slot.checker.check(id).await {
                    tracing::warn!(monitor = %id, error = %e.message(), "recording a monitor transition failed");
                }
                drop(slot);
            });
            started += 1;
        }
        started
    }

    /// The checker task of `directory serve` and `directory monitor`.
    pub fn spawn(self: Arc<Self>) {
        tokio::spawn(async move {
            loop {
                self.round(self.app.now());
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }
}
