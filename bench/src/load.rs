//! Load at a fixed rate over loopback HTTP (open loop: a request is sent when it is due,
//! whether or not earlier ones have been answered, and its latency counts from when it
//! was due, so a stalled server cannot hide its stall).
//!
//! `directory bench load`: writes and reads mixed on PostgreSQL, the reliability target.
//! `directory bench graphql`: the portal's project page against `/healthz` at one rate.
//! `directory bench nodes`: the node API's inventory methods against `/healthz` at one rate.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use super::report::figure;
use super::{BenchDb, Figures};
use app::clock::SystemClock;
use app::state::AppState;

/// The bootstrap token of the servers under load (a server process refuses a short one).
const TOKEN: &str = "bench-load-token-0123456789abcdefghij";

pub use crate::portal_pages::{CUSTOMER_PAGE, PROJECT_PAGE};

/// How one request ended.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Answer {
    Ok,
    /// A refusal the contract expects under concurrency (another write won the race).
    Conflict,
    /// Turned away at capacity (503 with `Retry-After`), before any work.
    Shed,
    /// Anything else: an error code, an HTTP status, or no answer.
    Error(String),
}

/// What one stream of requests did.
struct Stream {
    latencies: Vec<Duration>,
    /// (seconds since the start when the request was due, its latency, whether it failed), for the timeline.
    samples: Vec<(u32, Duration, bool)>,
    /// When each shed request was due (seconds since the start).
    shed_at: Vec<u32>,
    /// How long each request took from when it went onto a connection (what the server
    /// and the network took, without the wait for a free connection), and how it ended.
    on_wire: Vec<(Duration, Answer)>,
    outcomes: BTreeMap<Answer, usize>,
    elapsed: Duration,
}

impl Stream {
    fn figures(&self, label: &str) -> Figures {
        Figures::new(label, 0, self.elapsed, self.latencies.clone())
    }

    fn errors(&self) -> usize {
        self.outcomes.iter().filter(|(o, _)| matches!(o, Answer::Error(_))).map(|(_, n)| n).sum()
    }

    fn count(&self, outcome: &Answer) -> usize {
        self.outcomes.get(outcome).copied().unwrap_or(0)
    }

    fn json(&self) -> Value {
        let f = self.figures("");
        json!({
            "sent": self.latencies.len(), "per_second": f.per_second,
            "p50_ms": f.p50.as_secs_f64() * 1e3, "p99_ms": f.p99.as_secs_f64() * 1e3,
            "max_ms": self.latencies.iter().max().copied().unwrap_or_default().as_secs_f64() * 1e3,
            "ok": self.count(&Answer::Ok), "conflicts": self.count(&Answer::Conflict), "shed": self.count(&Answer::Shed), "errors": self.errors(),
            "error_kinds": self.outcomes.iter().filter_map(|(o, n)| match o { Answer::Error(e) => Some((e.clone(), *n)), _ => None }).collect::<BTreeMap<_, _>>(),
        })
    }
}

/// One request of a stream.
enum Call {
    Get(String),
    /// A GraphQL body, with the bootstrap token.
    Graphql(Value),
    /// An XML-RPC call to a node API path, as a node (HTTP Basic).
    XmlRpc {
        path: String,
        user: String,
        password: String,
        body: String,
    },
}

type MakeRequest = Arc<dyn Fn(u64) -> Call + Send + Sync>;

/// The 99th percentile of some latencies (zero for none); sorts them.
fn p99(latencies: &mut [Duration]) -> Duration {
    latencies.sort();
    latencies
        .get(((latencies.len() as f64 * 0.99) as usize).min(latencies.len().saturating_sub(1)))
        .copied()
        .unwrap_or_default()
}

/// Sends one request and tells how it ended.
async fn send(client: &reqwest::Client, base: &str, call: Call) -> Answer {
    let xml = matches!(call, Call::XmlRpc { .. });
    let request = match call {
        Call::Graphql(body) => client
            .post(format!("{base}/graphql"))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(body.to_string()),
        Call::Get(path) => client.get(format!("{base}{path}")),
        Call::XmlRpc { path, user, password, body } => client
            .post(format!("{base}{path}"))
            .basic_auth(user, Some(password))
            .header("content-type", "text/xml")
            .body(body),
    };
    match request.send().await {
        Ok(response) if response.status().is_success() => {
            let bytes = response.bytes().await.unwrap_or_default();
            // An XML-RPC fault comes with HTTP 200, as does a GraphQL error; an answer that
            // names no error is not parsed (the generator should cost less than the server).
            let fault = xml && bytes.windows(7).any(|w| w == b"<fault>");
            if !fault && !bytes.windows(8).any(|w| w == b"\"errors\"") {
                return Answer::Ok;
            }
            match serde_json::from_slice::<Value>(&bytes) {
                _ if fault => Answer::Error("fault".into()),
                Ok(answer) => match answer["errors"][0]["extensions"]["code"].as_str() {
                    None => Answer::Ok,
                    Some("CONFLICT") => Answer::Conflict,
                    Some(code) => Answer::Error(code.to_owned()),
                },
                // `/healthz` answers plain text.
                Err(_) => Answer::Ok,
            }
        }
        Ok(response) if response.status().as_u16() == 503 => Answer::Shed,
        Ok(response) => Answer::Error(format!("HTTP {}", response.status().as_u16())),
        Err(e) => Answer::Error(if e.is_timeout() { "timeout".into() } else { "no answer".into() }),
    }
}

/// Sends `make(n)` every `1/rate` seconds for `seconds`, then waits for the answers.
async fn stream(client: reqwest::Client, base: String, rate: f64, seconds: f64, make: MakeRequest) -> Stream {
    stream_through(client, base, rate, seconds, make, None).await
}

/// As [`stream`]; with `connections`, at most that many requests are open at once, as a
/// load balancer's pool of connections to the server holds them (the rest wait their
/// turn, and their latency counts from when they were due).
async fn stream_through(
    client: reqwest::Client,
    base: String,
    rate: f64,
    seconds: f64,
    make: MakeRequest,
    connections: Option<Arc<tokio::sync::Semaphore>>,
) -> Stream {
    let period = Duration::from_secs_f64(1.0 / rate);
    let total = (rate * seconds).round() as u64;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let started = Instant::now();
    for n in 0..total {
        let due = started + period.mul_f64(n as f64);
        tokio::time::sleep_until(due.into()).await;
        let (client, base, tx, connections) = (client.clone(), base.clone(), tx.clone(), connections.clone());
        let call = make(n);
        tokio::spawn(async move {
            let _connection = match connections {
                Some(pool) => pool.acquire_owned().await.ok(),
                None => None,
            };
            let sent = Instant::now();
            let outcome = send(&client, &base, call).await;
            let _ = tx.send((due.duration_since(started).as_secs() as u32, due.elapsed(), sent.elapsed(), outcome));
        });
    }
    drop(tx);
    let mut result = Stream {
        latencies: Vec::with_capacity(total as usize),
        samples: Vec::with_capacity(total as usize),
        shed_at: Vec::new(),
        on_wire: Vec::with_capacity(total as usize),
        outcomes: BTreeMap::new(),
        elapsed: Duration::ZERO,
    };
    while let Some((second, latency, on_wire, outcome)) = rx.recv().await {
        result.latencies.push(latency);
        result.on_wire.push((on_wire, outcome.clone()));
        result.samples.push((second, latency, !matches!(outcome, Answer::Ok | Answer::Conflict)));
        if outcome == Answer::Shed {
            result.shed_at.push(second);
        }
        *result.outcomes.entry(outcome).or_default() += 1;
    }
    result.elapsed = started.elapsed();
    result
}

/// A server on loopback over a fresh PostgreSQL database with the demo fixture (a year of
/// a mid-sized hosting company, about 200,000 events).
struct Served {
    base: String,
    state: Arc<AppState>,
    db: BenchDb,
    server: tokio::task::JoinHandle<()>,
}

impl Served {
    /// Stops serving (so nothing keeps following the log) and drops the database.
    async fn stop(self) {
        self.server.abort();
        let _ = self.server.await;
        drop(self.state);
        self.db.drop().await;
    }
}

async fn serve(pg: &str, size: fixtures::Size, snapshot_every: i64) -> anyhow::Result<Served> {
    serve_following(pg, size, snapshot_every, false).await
}

/// As [`serve`]; with `polling`, the server is never told of commits by the database.
async fn serve_following(pg: &str, size: fixtures::Size, snapshot_every: i64, polling: bool) -> anyhow::Result<Served> {
    let db = BenchDb::create(pg).await?;
    let loader = store::EventLog::connect(&db.url).await?;
    loader.append_in_order(fixtures::generate(size, 1).map(|c| c.appendable())).await?;
    drop(loader);
    let log = if polling {
        store::EventLog::connect_polling(&db.url).await?
    } else {
        store::EventLog::connect(&db.url).await?
    };
    let state = Arc::new(AppState::start_with(log, Arc::new(SystemClock), Some(TOKEN), snapshot_every).await?);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let router = api::http::router(state.clone(), None);
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok(Served { base, state, db, server })
}

fn client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(256)
        .build()
        .context("HTTP client")
}

/// The ids requests pick from: VMs in service, live projects, customers.
struct Targets {
    vms: Vec<String>,
    projects: Vec<String>,
    customers: Vec<String>,
}

fn targets(state: &AppState) -> Targets {
    let catalog = state.catalog();
    let live = catalog.live();
    let state = live.state();
    let mut t = Targets { vms: vec![], projects: vec![], customers: vec![] };
    for (id, vm) in &state.vms {
        if vm.decommissioned_at.is_none() {
            t.vms.push(id.to_string());
        }
    }
    for (id, p) in &state.projects {
        if p.archived_at.is_none() {
            t.projects.push(id.to_string());
        }
    }
    t.customers = state.customers.keys().map(|id| id.to_string()).collect();
    t
}

/// `directory bench load`, storing a snapshot of the read models every `snapshot_every`
/// events; with `polling`, the server is not told of commits by the database (as before
/// issue 22), to compare.
pub async fn load(
    pg: &str,
    writes: f64,
    reads: f64,
    seconds: f64,
    snapshot_every: i64,
    polling: bool,
) -> anyhow::Result<()> {
    let served = serve_following(pg, fixtures::Size::Demo, snapshot_every, polling).await?;
    let result = load_on(&served, writes, reads, seconds).await;
    served.stop().await;
    result
}

/// Runs `bench` against a server on the demo fixture, then stops it and drops its database.
async fn on_demo(pg: &str, bench: impl AsyncFnOnce(&Served) -> anyhow::Result<()>) -> anyhow::Result<()> {
    let served = serve(pg, fixtures::Size::Demo, projections::SNAPSHOT_EVERY).await?;
    let result = bench(&served).await;
    served.stop().await;
    result
}

async fn load_on(served: &Served, writes: f64, reads: f64, seconds: f64) -> anyhow::Result<()> {
    let t = Arc::new(targets(&served.state));
    anyhow::ensure!(!t.vms.is_empty() && !t.projects.is_empty(), "the fixture has no VMs or projects");
    let write: MakeRequest = {
        let t = t.clone();
        Arc::new(move |n| {
            let mut rng = rand::rngs::StdRng::seed_from_u64(n);
            let vm = &t.vms[rng.random_range(0..t.vms.len())];
            let now = chrono::Utc::now();
            // A hosting company's day: mostly backup reports, then new VMs and customers, a few resizes.
            let body = match n % 10 {
                0..=4 => json!({
                    "query": "mutation($i: RecordBackupInput!) { recordBackup(input: $i) { backupId } }",
                    "variables": {"i": {"vmId": vm, "backupId": format!("load-{n}"), "status": "SUCCEEDED",
                        "startedAt": (now - chrono::Duration::minutes(20)).to_rfc3339(), "finishedAt": now.to_rfc3339(),
                        "sizeBytes": 1_000_000_000 + n as i64}}
                }),
                5 => json!({
                    "query": "mutation($v: ID!, $c: Int!, $t: DateTime!) { resizeVm(vmId: $v, cpu: $c, ramGb: 8, diskGb: 80, effectiveAt: $t) { cpu } }",
                    "variables": {"v": vm, "c": 2 + (n % 7) as i64, "t": now.to_rfc3339()}
                }),
                6 | 7 => json!({
                    "query": "mutation($i: ProvisionVmInput!) { provisionVm(input: $i) { id } }",
                    "variables": {"i": {"projectId": t.projects[rng.random_range(0..t.projects.len())], "name": format!("load-{n}"),
                        "location": "fsn1", "cpu": 2, "ramGb": 4, "diskGb": 40, "effectiveAt": now.to_rfc3339()}}
                }),
                _ => json!({
                    "query": "mutation($i: RegisterCustomerInput!) { registerCustomer(input: $i) { id } }",
                    "variables": {"i": {"name": format!("Load customer {n}"), "country": "DE", "billingAddress": "Berlin"}}
                }),
            };
            Call::Graphql(body)
        })
    };
    let read: MakeRequest = {
        let t = t.clone();
        Arc::new(move |n| {
            let mut rng = rand::rngs::StdRng::seed_from_u64(u64::MAX - n);
            let body = if n % 5 == 4 {
                json!({"query": CUSTOMER_PAGE, "variables": {"c": t.customers[rng.random_range(0..t.customers.len())]}})
            } else {
                json!({"query": PROJECT_PAGE, "variables": {"p": t.projects[rng.random_range(0..t.projects.len())]}})
            };
            Call::Graphql(body)
        })
    };
    let client = client()?;
    let newest_snapshot = async || {
        let log = &served.state.bus.log;
        anyhow::Ok(log.snapshot_at_or_before(projections::Catalog::SNAPSHOT_MODEL, i64::MAX).await?.map(|(p, _)| p))
    };
    let snapshot_before = newest_snapshot().await?;
    let (w, r) = tokio::join!(
        stream(client.clone(), served.base.clone(), writes, seconds, write),
        stream(client, served.base.clone(), reads, seconds, read.clone())
    );
    let read_mix = read;
    let head = served.state.bus.log.head().await?.position;
    let snapshot_after = newest_snapshot().await?;
    figure("load", "seconds", seconds);
    figure("load", "newest_snapshot_before_and_after", json!([snapshot_before, snapshot_after]));
    figure("load", "writes", w.json());
    figure("load", "reads", r.json());
    figure("load", "log_head", head);
    out!(
        "directory bench load: {writes} writes/s + {reads} reads/s for {seconds} s, PostgreSQL, loopback HTTP, open loop (latency from when each request was due)"
    );
    out!(
        "{:<34} {:>8} {:>10} {:>10} {:>10} {:>10} {:>8} {:>8}",
        "stream",
        "sent",
        "per second",
        "p50 ms",
        "p99 ms",
        "max ms",
        "conflict",
        "errors"
    );
    for (label, s) in [("writes (backup, VM, customer)", &w), ("reads (project and customer page)", &r)] {
        let f = s.figures(label);
        out!(
            "{:<34} {:>8} {:>10.1} {:>10.2} {:>10.2} {:>10.2} {:>8} {:>8}",
            label,
            s.latencies.len(),
            f.per_second,
            f.p50.as_secs_f64() * 1e3,
            f.p99.as_secs_f64() * 1e3,
            s.latencies.iter().max().copied().unwrap_or_default().as_secs_f64() * 1e3,
            s.count(&Answer::Conflict),
            s.errors()
        );
        for (o, n) in &s.outcomes {
            if let Answer::Error(e) = o {
                out!("    error {e}: {n}");
            }
        }
    }
    out!("log head after the run: {head}; targets: p99 write < 50 ms, p99 read < 20 ms, no errors");
    out!("newest snapshot of the read models before the run at {snapshot_before:?}, after it at {snapshot_after:?}");
    out!("timeline (by when requests were due): window, then p99 ms and errors of writes and of reads");
    let window = 10u32;
    for start in (0..seconds.ceil() as u32).step_by(window as usize) {
        let of = |s: &Stream| {
            let mut l: Vec<Duration> =
                s.samples.iter().filter(|(t, _, _)| (start..start + window).contains(t)).map(|(_, l, _)| *l).collect();
            let errors = s.samples.iter().filter(|(t, _, e)| *e && (start..start + window).contains(t)).count();
            (p99(&mut l).as_secs_f64() * 1e3, errors)
        };
        let ((wp, we), (rp, re)) = (of(&w), of(&r));
        out!("  {start:>4}-{:<4} s   writes {wp:>9.2} ms {we:>6}   reads {rp:>9.2} ms {re:>6}", start + window);
    }
    // A server process of its own on the same database takes the overload, on cores of its
    // own: in this process the generator's tasks would share the server's runtime, and on
    // shared cores the generator's backlog, not the server, would set the latency.
    let taskset = std::process::Command::new("taskset").arg("-V").output().is_ok_and(|o| o.status.success());
    let cores = if taskset { std::thread::available_parallelism().map_or(1, |n| n.get()) } else { 1 };
    let patience = Duration::from_secs(120);
    let start = async |env: &[(&str, &str)]| match cores {
        1 => crate::Server::start_with(&served.db.url, TOKEN, &[], env, patience).await,
        n => crate::Server::start_on(&format!("0-{}", n - 2), &served.db.url, TOKEN, env, patience).await,
    };
    if cores >= 2 {
        crate::pin_self(&(cores - 1).to_string())?;
    }
    // The capacity is what the server's cores do when nothing is shed: measured on a server
    // that watches no runtime (closed loop clients retrying a 503 at once would otherwise
    // measure how fast it says no).
    let unshed = start(&[("DIRECTORY_SHED_LAG_MS", "0")]).await?;
    let capacity = capacity_of(&unshed, read_mix.clone()).await;
    drop(unshed);
    let own = start(&[]).await?;
    let result = match capacity {
        Ok(capacity) => overload_on(&own, read_mix, capacity).await,
        Err(e) => Err(e),
    };
    if cores >= 2 {
        crate::pin_self(&format!("0-{}", cores - 1))?;
    }
    match cores {
        1 => out!("(the server and the load generator shared the cores: one core, or no taskset)"),
        n => out!("(the server on {} of the {n} cores, the load generator on the other)", n - 1),
    }
    result
}

/// The read mix's capacity on the server at `base`: answers a second from a closed loop of
/// [`CLIENTS`] clients.
async fn capacity_of(server: &crate::Server, read: MakeRequest) -> anyhow::Result<f64> {
    let base = server.base.as_str();
    let client = client()?;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let done = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let started = Instant::now();
    let loops: Vec<_> = (0..CLIENTS as u64)
        .map(|c| {
            let (client, base, read, stop, done) =
                (client.clone(), base.to_owned(), read.clone(), stop.clone(), done.clone());
            tokio::spawn(async move {
                let mut n = c;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    if send(&client, &base, read(n)).await == Answer::Ok {
                        done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    n += CLIENTS as u64;
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(5)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for l in loops {
        l.await?;
    }
    Ok(done.load(std::sync::atomic::Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64())
}

/// Closed-loop clients of the capacity phase.
const CLIENTS: usize = 64;

/// The overload phase of `bench load`, against the server at `base`: twice the read mix's
/// `capacity` sent open loop, then half of it again, by second: how much was shed, how fast
/// the admitted requests were, and how soon latency was back to normal.
async fn overload_on(server: &crate::Server, read: MakeRequest, capacity: f64) -> anyhow::Result<()> {
    const CONNECTIONS: usize = 256;
    let base = server.base.as_str();
    let client = client()?;
    let ok_p99 = |s: &Stream, window: Option<u32>| {
        let mut l: Vec<Duration> = s
            .samples
            .iter()
            .filter(|(t, _, failed)| !failed && window.is_none_or(|w| *t == w))
            .map(|(_, l, _)| *l)
            .collect();
        p99(&mut l)
    };
    let wire_p99 = |s: &Stream, outcome: &Answer| {
        p99(&mut s.on_wire.iter().filter(|(_, o)| o == outcome).map(|(l, _)| *l).collect::<Vec<_>>())
    };
    let base = base.to_owned();
    // The generator reaches the server as a load balancer would, through a bounded pool of
    // connections: unbounded, it opens thousands, and the queue forms in the kernel's
    // backlog of connections not yet accepted, where the server can neither see nor shed it.
    let pool = Some(Arc::new(tokio::sync::Semaphore::new(CONNECTIONS)));
    let open = |rate: f64, seconds: f64| {
        stream_through(client.clone(), base.clone(), rate, seconds, read.clone(), pool.clone())
    };
    let before = open(capacity / 2.0, 5.0).await;
    let shed_total = async || -> anyhow::Result<f64> {
        let text = client.get(format!("{base}/metrics")).bearer_auth(TOKEN).send().await?.text().await?;
        let line = text.lines().find(|l| l.starts_with("directory_requests_shed_total"));
        Ok(line.and_then(|l| l.split_whitespace().last()).and_then(|v| v.parse().ok()).unwrap_or(0.0))
    };
    let (pid, shed_before) = (server.pid().to_string(), shed_total().await?);
    let (server_cpu, own_cpu, wall) = (super::cpu_seconds_of(&pid), super::cpu_seconds(), Instant::now());
    let over = open(capacity * 2.0, 10.0).await;
    let wall = wall.elapsed().as_secs_f64();
    let (server_cpu, own_cpu) = (super::cpu_seconds_of(&pid) - server_cpu, super::cpu_seconds() - own_cpu);
    let server_shed = shed_total().await? - shed_before;
    out!(
        "at twice capacity: the server shed {server_shed:.0} by its own count; CPU cores busy: server {:.2}, load generator {:.2}",
        server_cpu / wall,
        own_cpu / wall
    );
    let after = open(capacity / 2.0, 15.0).await;
    let normal = ok_p99(&before, None);
    let shed = over.count(&Answer::Shed) as f64 / over.latencies.len().max(1) as f64;
    // Recovered at the first second whose p99 is within twice normal again (a later
    // second's spike is the machine's noise, printed by second below, not a backlog).
    let windows: Vec<Duration> = (0..15).map(|w| ok_p99(&after, Some(w))).collect();
    let recovered = windows.iter().position(|p| *p <= normal * 2).map(|w| w as f64);
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    out!(
        "overload: the read mix's capacity (closed loop, {CLIENTS} clients, a server that sheds nothing) {capacity:.0} requests/s; then open loop through {CONNECTIONS} connections"
    );
    out!("(ok p99: from when each request was due; on the wire: from when it got a connection)");
    out!(
        "{:<26} {:>10} {:>8} {:>8} {:>10} {:>12} {:>14} {:>8}",
        "phase, open loop",
        "per second",
        "ok",
        "shed",
        "ok p99 ms",
        "on wire, ok",
        "on wire, shed",
        "errors"
    );
    for (label, s, rate) in [
        ("half capacity, before", &before, capacity / 2.0),
        ("twice capacity", &over, capacity * 2.0),
        ("half capacity, after", &after, capacity / 2.0),
    ] {
        out!(
            "{:<26} {:>10.0} {:>8} {:>8} {:>10.2} {:>12.2} {:>14.2} {:>8}",
            label,
            rate,
            s.count(&Answer::Ok),
            s.count(&Answer::Shed),
            ms(ok_p99(s, None)),
            ms(wire_p99(s, &Answer::Ok)),
            ms(wire_p99(s, &Answer::Shed)),
            s.errors()
        );
    }
    for (o, n) in &over.outcomes {
        if let Answer::Error(e) = o {
            out!("    at twice capacity, error {e}: {n}");
        }
    }
    let windows_ms: Vec<String> = windows.iter().map(|w| format!("{:.1}", ms(*w))).collect();
    out!("after the overload, p99 ms by second: {}", windows_ms.join(" "));
    match recovered {
        Some(s) => out!(
            "shed {:.1} % at twice capacity; back to normal (p99 within twice {:.2} ms) after {s} s",
            shed * 100.0,
            ms(normal)
        ),
        None => out!("shed {:.1} % at twice capacity; not back to normal within 15 s", shed * 100.0),
    }
    figure(
        "load",
        "overload",
        json!({
            "capacity_per_second": capacity, "normal_p99_ms": ms(normal),
            "before": before.json(), "over": over.json(), "after": after.json(),
            "shed_share": shed, "admitted_p99_ms": ms(ok_p99(&over, None)),
            "admitted_p99_on_wire_ms": ms(wire_p99(&over, &Answer::Ok)), "shed_p99_on_wire_ms": ms(wire_p99(&over, &Answer::Shed)),
            "recover_seconds": recovered, "after_p99_ms_by_second": windows.iter().map(|w| ms(*w)).collect::<Vec<_>>(),
        }),
    );
    Ok(())
}

/// `directory bench resizes`: every VM of the small fixture resized `per_vm` times a
/// second, open loop, for `seconds`; by ten-second window: resizes answered, shed and
/// failed, the p99 of those answered, and the process's resident memory.
pub async fn resizes(pg: &str, per_vm: f64, seconds: f64) -> anyhow::Result<()> {
    let served = serve(pg, fixtures::Size::Small, projections::SNAPSHOT_EVERY).await?;
    let result = resizes_on(&served, per_vm, seconds).await;
    served.stop().await;
    result
}

async fn resizes_on(served: &Served, per_vm: f64, seconds: f64) -> anyhow::Result<()> {
    let vms = Arc::new(targets(&served.state).vms);
    anyhow::ensure!(!vms.is_empty(), "the fixture has no VMs in service");
    let rate = per_vm * vms.len() as f64;
    let resize: MakeRequest = {
        let vms = vms.clone();
        Arc::new(move |n| {
            Call::Graphql(json!({
                "query": "mutation($v: ID!, $c: Int!, $t: DateTime!) { resizeVm(vmId: $v, cpu: $c, ramGb: 8, diskGb: 80, effectiveAt: $t) { cpu } }",
                "variables": {"v": vms[n as usize % vms.len()], "c": 2 + (n / vms.len() as u64 % 7) as i64, "t": chrono::Utc::now().to_rfc3339()}
            }))
        })
    };
    let memory = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sampler = {
        let memory = memory.clone();
        tokio::spawn(async move {
            loop {
                memory
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(super::memory_mib("self", "VmRSS:").unwrap_or(0.0));
                tokio::time::sleep(Duration::from_secs(10)).await;
            }
        })
    };
    let s = stream(client()?, served.base.clone(), rate, seconds, resize).await;
    sampler.abort();
    let memory = memory.lock().unwrap_or_else(|e| e.into_inner()).clone();
    out!(
        "directory bench resizes: {} VMs × {per_vm} resizes/s = {rate:.0}/s for {seconds} s, open loop, small fixture",
        vms.len()
    );
    out!("{:<12} {:>8} {:>8} {:>8} {:>10} {:>10}", "window s", "ok", "shed", "failed", "ok p99 ms", "RSS MiB");
    let window = 10u32;
    for (i, start) in (0..seconds.ceil() as u32).step_by(window as usize).enumerate() {
        let within: Vec<&(u32, Duration, bool)> =
            s.samples.iter().filter(|(t, _, _)| (start..start + window).contains(t)).collect();
        let mut ok: Vec<Duration> = within.iter().filter(|(_, _, failed)| !failed).map(|(_, l, _)| *l).collect();
        let shed = s.shed_at.iter().filter(|t| (start..start + window).contains(*t)).count();
        let p99 = p99(&mut ok);
        out!(
            "{:<12} {:>8} {:>8} {:>8} {:>10.2} {:>10.0}",
            format!("{start}-{}", start + window),
            ok.len(),
            shed,
            within.len() - ok.len() - shed,
            p99.as_secs_f64() * 1e3,
            memory.get(i).copied().unwrap_or_default()
        );
    }
    out!("outcomes: {:?}", s.outcomes);
    figure("resizes", "rate", rate);
    figure("resizes", "vms", vms.len());
    figure("resizes", "all", s.json());
    figure("resizes", "rss_mib_by_10s", memory);
    Ok(())
}

/// `directory bench graphql`: the project page and `/healthz` at the same rate, one after the other.
pub async fn graphql(pg: &str, rate: f64, seconds: f64) -> anyhow::Result<()> {
    on_demo(pg, async |served| graphql_on(served, rate, seconds).await).await
}

async fn graphql_on(served: &Served, rate: f64, seconds: f64) -> anyhow::Result<()> {
    let t = Arc::new(targets(&served.state));
    let client = client()?;
    let health: MakeRequest = Arc::new(|_| Call::Get("/healthz".to_owned()));
    let page: MakeRequest = {
        let t = t.clone();
        Arc::new(move |n| {
            let project = &t.projects[(n as usize * 7919) % t.projects.len()];
            Call::Graphql(json!({"query": PROJECT_PAGE, "variables": {"p": project}}))
        })
    };
    let h = stream(client.clone(), served.base.clone(), rate, seconds, health).await;
    let p = stream(client, served.base.clone(), rate, seconds, page).await;
    let (hf, pf) = (h.figures("/healthz (baseline)"), p.figures("project page"));
    let ratio = pf.p99.as_secs_f64() / hf.p99.as_secs_f64().max(1e-9);
    figure("graphql", "rate", rate);
    figure("graphql", "healthz", h.json());
    figure("graphql", "project_page", p.json());
    figure("graphql", "p99_ratio", ratio);
    out!(
        "directory bench graphql: {rate} requests/s for {seconds} s each, loopback HTTP, open loop, PostgreSQL (demo fixture)"
    );
    out!("{:<34} {:>7} {:>12} {:>10} {:>10}", "request", "errors", "per second", "p50 ms", "p99 ms");
    for (f, s) in [(&hf, &h), (&pf, &p)] {
        out!(
            "{:<34} {:>7} {:>12.0} {:>10.2} {:>10.2}",
            f.label,
            s.errors(),
            f.per_second,
            f.p50.as_secs_f64() * 1e3,
            f.p99.as_secs_f64() * 1e3
        );
    }
    out!("ratio p99 project page / p99 /healthz: {ratio:.2} (target: project page p99 < 20 ms)");
    Ok(())
}

/// The six methods every VM's agent calls every ten minutes, with their arguments.
const NODE_METHODS: [&str; 6] =
    ["lookup_node", "list_nodes_addresses", "list_users", "list_permissions", "list_services", "list_service_clients"];

/// One node of the fleet: its host name, resource group, location and password.
struct FleetNode {
    hostname: String,
    group: String,
    location: String,
    password: String,
}

fn xml_call(method: &str, params: &[&str]) -> String {
    let params: String = params.iter().map(|p| format!("<param><value><string>{p}</string></value></param>")).collect();
    format!(
        "<?xml version=\"1.0\"?><methodCall><methodName>{method}</methodName><params>{params}</params></methodCall>"
    )
}

/// `directory bench nodes`: the demo fleet's agents calling the six inventory methods at
/// `rate` calls a second (a fleet of 5,000 VMs makes 50), each VM as itself on its resource
/// group's path, beside `/healthz` at the same rate.
pub async fn nodes(pg: &str, rate: f64, seconds: f64) -> anyhow::Result<()> {
    on_demo(pg, async |served| nodes_on(served, rate, seconds).await).await
}

async fn nodes_on(served: &Served, rate: f64, seconds: f64) -> anyhow::Result<()> {
    let fleet: Arc<Vec<FleetNode>> = {
        let catalog = served.state.catalog();
        let at = catalog.live();
        let now = served.state.now();
        let mut fleet = vec![];
        for (id, vm) in at.vms().filter(|(_, v)| v.decommissioned_at.is_none_or(|d| d > now)) {
            let (Some(node), Some(config)) = (&vm.node, vm.current()) else { continue };
            let Some(project) = at.project(&config.project_id) else { continue };
            fleet.push(FleetNode {
                hostname: node.hostname.clone(),
                group: project.resource_group.clone(),
                location: vm.location.clone(),
                password: served.state.node_key().node_password(*id, vm.password_generation),
            });
        }
        Arc::new(fleet)
    };
    anyhow::ensure!(!fleet.is_empty(), "the fixture has no running VMs");
    let client = client()?;
    let health: MakeRequest = Arc::new(|_| Call::Get("/healthz".to_owned()));
    let calls: MakeRequest = {
        let fleet = fleet.clone();
        Arc::new(move |n| {
            let node = &fleet[(n as usize * 7919) % fleet.len()];
            let method = NODE_METHODS[n as usize % NODE_METHODS.len()];
            let body = match method {
                "lookup_node" => xml_call(method, &[&node.hostname]),
                "list_nodes_addresses" => xml_call(method, &[&node.location, "srv"]),
                _ => xml_call(method, &[]),
            };
            let path = format!("/v2/api/rg-{}", node.group);
            Call::XmlRpc { path, user: node.hostname.clone(), password: node.password.clone(), body }
        })
    };
    let cpu = super::cpu_seconds();
    let h = stream(client.clone(), served.base.clone(), rate, seconds, health).await;
    let between = super::cpu_seconds();
    let c = stream(client, served.base.clone(), rate, seconds, calls).await;
    let after = super::cpu_seconds();
    let (hf, cf) = (h.figures("/healthz (baseline)"), c.figures("node API, six inventory methods"));
    let per_call = |cpu: f64, s: &Stream| cpu / s.latencies.len().max(1) as f64 * 1e3;
    let (h_cpu, c_cpu) = (per_call(between - cpu, &h), per_call(after - between, &c));
    let ratio = cf.p99.as_secs_f64() / hf.p99.as_secs_f64().max(1e-9);
    figure("nodes", "rate", rate);
    figure("nodes", "fleet", fleet.len());
    figure("nodes", "healthz", h.json());
    figure("nodes", "node_api", c.json());
    figure("nodes", "cpu_ms_per_call", json!({"healthz": h_cpu, "node_api": c_cpu}));
    figure("nodes", "p99_ratio", ratio);
    out!(
        "directory bench nodes: {rate} calls/s for {seconds} s each, loopback HTTP, open loop, PostgreSQL (demo fixture, {} running VMs calling as themselves)",
        fleet.len()
    );
    out!(
        "{:<34} {:>7} {:>12} {:>10} {:>10} {:>14}",
        "request",
        "errors",
        "per second",
        "p50 ms",
        "p99 ms",
        "CPU ms/call"
    );
    for (f, s, cpu) in [(&hf, &h, h_cpu), (&cf, &c, c_cpu)] {
        out!(
            "{:<34} {:>7} {:>12.0} {:>10.2} {:>10.2} {:>14.3}",
            f.label,
            s.errors(),
            f.per_second,
            f.p50.as_secs_f64() * 1e3,
            f.p99.as_secs_f64() * 1e3,
            cpu
        );
    }
    out!("CPU is this process's (server and load generator together), per call sent.");
    out!("ratio p99 node API / p99 /healthz: {ratio:.2} (target: node API p99 < 20 ms)");
    Ok(())
}
