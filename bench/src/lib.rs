//! `directory bench …`: figures measured next to their baseline in the same run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use axum::body::Body;
use axum::http::Request;
use clap::Subcommand;
use sqlx::Connection;
use tower::ServiceExt;

use app::clock::SystemClock;
use app::state::AppState;

/// Prints a line of a table, unless the figures are wanted as JSON.
macro_rules! out {
    ($($arg:tt)*) => {
        if !$crate::report::json() {
            println!($($arg)*);
        }
    };
}

pub mod abuse;
pub mod abuse_cases;
pub mod cluster;
pub mod portal_pages;

/// A `directory serve` of this binary in a child process, as in production (its own
/// runtime and workers), stopped however the bench ends.
pub(crate) struct Server {
    child: std::process::Child,
    pub base: String,
}

impl Server {
    /// Starts it on a free loopback port with `args` and waits until `/readyz` answers.
    pub async fn start(url: &str, token: &str, args: &[&str], patience: Duration) -> anyhow::Result<Server> {
        Self::start_with(url, token, args, &[], patience).await
    }

    /// As [`Server::start`], with more environment variables.
    pub async fn start_with(
        url: &str,
        token: &str,
        args: &[&str],
        env: &[(&str, &str)],
        patience: Duration,
    ) -> anyhow::Result<Server> {
        Self::spawn(std::process::Command::new(std::env::current_exe()?), url, token, args, env, patience).await
    }

    /// As [`Server::start`], running on the CPU cores `cores` only (`taskset -c`), so that
    /// a load generator on the others does not take the server's time.
    pub async fn start_on(
        cores: &str,
        url: &str,
        token: &str,
        env: &[(&str, &str)],
        patience: Duration,
    ) -> anyhow::Result<Server> {
        let mut command = std::process::Command::new("taskset");
        command.arg("-c").arg(cores).arg(std::env::current_exe()?);
        Self::spawn(command, url, token, &[], env, patience).await
    }

    async fn spawn(
        mut command: std::process::Command,
        url: &str,
        token: &str,
        args: &[&str],
        env: &[(&str, &str)],
        patience: Duration,
    ) -> anyhow::Result<Server> {
        use anyhow::Context as _;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = command
            .arg("serve")
            .args(args)
            .env("DATABASE_URL", url)
            .env("DIRECTORY_LISTEN", format!("127.0.0.1:{port}"))
            .env("DIRECTORY_BOOTSTRAP_TOKEN", token)
            .env("DIRECTORY_NODE_KEY_FILE", std::env::temp_dir().join("directory-bench.node-key"))
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::null())
            .spawn()
            .context("starting directory serve")?;
        let mut server = Server { child, base: format!("http://127.0.0.1:{port}") };
        let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build()?;
        let starting = Instant::now();
        loop {
            if let Some(status) = server.child.try_wait()? {
                anyhow::bail!("directory serve exited before it was ready: {status}");
            }
            let answer = client.get(format!("{}/readyz", server.base)).send().await;
            if answer.is_ok_and(|r| r.status().is_success()) {
                return Ok(server);
            }
            anyhow::ensure!(starting.elapsed() < patience, "not ready after {} s", patience.as_secs());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// Runs this process's threads on the CPU cores `cores` only (`taskset -a -p -c`).
fn pin_self(cores: &str) -> anyhow::Result<()> {
    let pid = std::process::id().to_string();
    let status = std::process::Command::new("taskset")
        .args(["-a", "-p", "-c", cores, &pid])
        .stdout(std::process::Stdio::null())
        .status()?;
    anyhow::ensure!(status.success(), "taskset -c {cores} failed: {status}");
    Ok(())
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
mod history;
pub mod load;
pub mod report;
mod scale_out;
mod serve;
mod settling;

use report::figure;

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Every figure of the issue's list in one run: append, replay, as-of, graphql,
    /// billing, sla, documents (PDF), checker and abuse, on one fixture database.
    All {
        #[command(flatten)]
        fixture: FixtureDb,
    },
    /// Write path (GraphQL → command → append) at 1 and 16 clients against raw SQL inserts
    /// of equivalent event rows (one row per transaction, 16 clients), on a fresh
    /// PostgreSQL database that is dropped afterwards.
    Append {
        /// The PostgreSQL server to create the benchmark database on.
        #[arg(long, env = "DIRECTORY_BENCH_PG", default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
        pg: String,
        /// Commands per phase.
        #[arg(long, default_value_t = 4000)]
        commands: usize,
    },
    /// Rebuild of every read model from position 0 against a raw `COPY … TO STDOUT` of the
    /// same rows in log order, on a PostgreSQL database holding a fixture (loaded once and
    /// kept for later runs); prints the ratio and the peak memory.
    Replay {
        #[command(flatten)]
        fixture: FixtureDb,
    },
    /// Latency of "as of" answers (a customer page, a project's infrastructure overview, a VM's backup history) at random past positions
    /// of a fixture database, through GraphQL in-process.
    AsOf {
        #[command(flatten)]
        fixture: FixtureDb,
        /// How many random instants.
        #[arg(long, default_value_t = 1000)]
        samples: usize,
    },
    /// The billing run of one month for every customer of a fixture, on a scratch copy of
    /// the fixture database, against computing the same invoices without issuing them.
    Billing {
        #[command(flatten)]
        fixture: FixtureDb,
        /// The month to bill.
        #[arg(long, default_value = "2026-10")]
        period: String,
    },
    /// The checker with many monitors against a local HTTP server, against plain GETs
    /// of the same URLs with the same client settings and concurrency.
    Checker {
        #[arg(long, default_value_t = 2000)]
        monitors: usize,
        /// Rounds of checks.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
    },
    /// SLA reports for every project of a fixture for one month, against reading the
    /// monitors and transitions the reports are made of.
    Sla {
        #[command(flatten)]
        fixture: FixtureDb,
        #[arg(long, default_value = "2026-10")]
        month: String,
    },
    /// Writes and reads at fixed rates (open loop) over loopback HTTP against PostgreSQL
    /// holding the demo fixture: latency percentiles and every error, for RELIABILITY.md.
    Load {
        #[arg(long, env = "DIRECTORY_BENCH_PG", default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
        pg: String,
        /// Write commands per second (backup reports, new VMs and customers, resizes).
        #[arg(long, default_value_t = 200.0)]
        writes: f64,
        /// Reads per second (the portal's project and customer pages).
        #[arg(long, default_value_t = 800.0)]
        reads: f64,
        #[arg(long, default_value_t = 300.0)]
        seconds: f64,
        /// Events between two snapshots of the read models (the server's `DIRECTORY_SNAPSHOT_EVERY`).
        #[arg(long, default_value_t = projections::SNAPSHOT_EVERY)]
        snapshot_every: i64,
        /// Never told of commits by the database: follow by polling only (to compare).
        #[arg(long)]
        polling: bool,
    },
    /// The portal's project page query against `/healthz`, each at the same fixed rate over
    /// loopback HTTP (open loop).
    Graphql {
        #[arg(long, env = "DIRECTORY_BENCH_PG", default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
        pg: String,
        /// Requests per second.
        #[arg(long, default_value_t = 500.0)]
        rate: f64,
        #[arg(long, default_value_t = 30.0)]
        seconds: f64,
    },
    /// The node API's six inventory methods, called by the demo fleet's VMs as themselves,
    /// against `/healthz`, each at the same fixed rate over loopback HTTP (open loop).
    Nodes {
        #[arg(long, env = "DIRECTORY_BENCH_PG", default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
        pg: String,
        /// Calls per second (a fleet of 5,000 VMs makes 50).
        #[arg(long, default_value_t = 500.0)]
        rate: f64,
        #[arg(long, default_value_t = 30.0)]
        seconds: f64,
    },
    /// A fixed fleet whose history grows (1, 2 and 4 years of nightly backups, folded in
    /// process): what a restart loads and how long it takes, against one year.
    History {
        /// VMs in the fleet.
        #[arg(long, default_value_t = 2000)]
        vms: usize,
    },
    /// The longest fold of one event on a large fleet's months of history (each month
    /// begins a settling, moved on in steps) against the settling done at once, and the
    /// memory that questions about the past decode, with and without a budget.
    Settling {
        /// VMs in the fleet, each with a monitor.
        #[arg(long, default_value_t = 10_000)]
        vms: usize,
        /// Months of history, recorded as it happens.
        #[arg(long, default_value_t = 6)]
        months: u32,
    },
    /// `directory serve` (read-only) on a fixture database after a restart: the time until
    /// `/readyz` answers, its resident and peak memory once it has answered the portal's
    /// pages live and as of random instants, and those pages' latency over HTTP.
    Serve {
        #[command(flatten)]
        fixture: FixtureDb,
        /// How many page requests before the memory is read.
        #[arg(long, default_value_t = 400)]
        requests: usize,
    },
    /// Abusive GraphQL requests (depth, aliases, fragments, directives, nesting, sizes)
    /// and how fast each is refused, against a plain small query.
    Abuse {
        /// How many times each request is sent.
        #[arg(long, default_value_t = 5)]
        rounds: usize,
    },
    /// Rendering of a 200-line invoice as PDF, against rendering it as XRechnung XML.
    Documents {
        /// How many documents of each kind.
        #[arg(long, default_value_t = 200)]
        count: usize,
    },
    /// The resize-heavy load: every VM of the small fixture resized `per-vm` times a second,
    /// open loop, with the timeline of answers, sheds, failures and memory.
    Resizes {
        #[arg(long, env = "DIRECTORY_BENCH_PG", default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
        pg: String,
        #[arg(long, default_value_t = 2.0)]
        per_vm: f64,
        #[arg(long, default_value_t = 180.0)]
        seconds: f64,
    },
    /// Several processes on one machine, on a PostgreSQL primary and two streaming hot
    /// standbys of the bench's own: catch-up of another process polled against notified,
    /// standby lag, reads on one server against three, writes on one server against three,
    /// and the failover of shared work when its holder is killed.
    ScaleOut {
        /// Seconds of each throughput phase and of the lag measurement.
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        /// The servers' lease length (`DIRECTORY_LEASE_SECONDS`).
        #[arg(long, default_value_t = 15)]
        lease_seconds: u64,
    },
}

/// A PostgreSQL database that holds a fixture, kept between runs.
#[derive(clap::Args, Debug, Clone)]
pub struct FixtureDb {
    /// The PostgreSQL server.
    #[arg(long, env = "DIRECTORY_BENCH_PG", default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pg: String,
    /// small, demo, large (≥ 5 million events), or about N events (`--size 20m`).
    #[arg(long, alias = "events", default_value = "large")]
    size: fixtures::Size,
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

impl FixtureDb {
    /// Connects to the fixture's database, creating and loading it on first use.
    async fn open(&self) -> anyhow::Result<(store::EventLog, String)> {
        // Named by the generator's version too, so a changed generator never reuses old data.
        let name = format!("directory_bench_{}_{}_v{}", self.size.name(), self.seed, fixtures::VERSION).to_lowercase();
        let mut admin = sqlx::PgConnection::connect(&self.pg).await.context("connecting to PostgreSQL")?;
        let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
            .bind(&name)
            .fetch_optional(&mut admin)
            .await?;
        if exists.is_none() {
            sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await?;
        }
        let base = self.pg.rsplit_once('/').map(|(b, _)| b).unwrap_or(&self.pg);
        let url = format!("{base}/{name}");
        let log = store::EventLog::connect(&url).await?;
        if log.head().await?.position == 0 {
            eprintln!("loading the {:?} fixture (seed {}) into {name} once; later runs reuse it", self.size, self.seed);
            let started = Instant::now();
            let head = log.append_in_order(fixtures::generate(self.size, self.seed).map(|c| c.appendable())).await?;
            eprintln!("loaded {head} events in {:.0} s", started.elapsed().as_secs_f64());
        }
        Ok((log, url))
    }
}

pub async fn run(command: BenchCommand, json: bool) -> anyhow::Result<()> {
    report::set_json(json);
    run_one(command).await?;
    report::finish();
    Ok(())
}

async fn run_one(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::All { fixture } => {
            let pg = fixture.pg.clone();
            let steps = [
                BenchCommand::Append { pg: pg.clone(), commands: 4000 },
                BenchCommand::Replay { fixture: fixture.clone() },
                BenchCommand::AsOf { fixture: fixture.clone(), samples: 1000 },
                BenchCommand::Serve { fixture: fixture.clone(), requests: 400 },
                BenchCommand::History { vms: 2000 },
                BenchCommand::Settling { vms: 10_000, months: 6 },
                BenchCommand::Graphql { pg: pg.clone(), rate: 500.0, seconds: 30.0 },
                BenchCommand::Nodes { pg: pg.clone(), rate: 500.0, seconds: 30.0 },
                BenchCommand::Billing { fixture: fixture.clone(), period: "2026-10".into() },
                BenchCommand::Sla { fixture: fixture.clone(), month: "2026-10".into() },
                BenchCommand::Documents { count: 200 },
                BenchCommand::Checker { monitors: 2000, rounds: 3 },
                BenchCommand::Abuse { rounds: 5 },
                BenchCommand::ScaleOut { seconds: 10.0, lease_seconds: 15 },
            ];
            for step in steps {
                Box::pin(run_one(step)).await?;
                out!();
            }
            Ok(())
        }
        BenchCommand::Append { pg, commands } => append(&pg, commands).await,
        BenchCommand::Replay { fixture } => replay(&fixture).await,
        BenchCommand::AsOf { fixture, samples } => as_of(&fixture, samples).await,
        BenchCommand::Billing { fixture, period } => billing(&fixture, &period).await,
        BenchCommand::Documents { count } => documents(count),
        BenchCommand::ScaleOut { seconds, lease_seconds } => scale_out::scale_out(seconds, lease_seconds).await,
        BenchCommand::Checker { monitors, rounds } => checker(monitors, rounds).await,
        BenchCommand::Sla { fixture, month } => sla(&fixture, &month).await,
        BenchCommand::Abuse { rounds } => abuse::run(rounds).await,
        BenchCommand::Serve { fixture, requests } => serve::run(&fixture, requests).await,
        BenchCommand::History { vms } => history::run(vms),
        BenchCommand::Settling { vms, months } => settling::run(vms, months),
        BenchCommand::Load { pg, writes, reads, seconds, snapshot_every, polling } => {
            load::load(&pg, writes, reads, seconds, snapshot_every, polling).await
        }
        BenchCommand::Graphql { pg, rate, seconds } => load::graphql(&pg, rate, seconds).await,
        BenchCommand::Nodes { pg, rate, seconds } => load::nodes(&pg, rate, seconds).await,
        BenchCommand::Resizes { pg, per_vm, seconds } => load::resizes(&pg, per_vm, seconds).await,
    }
}

/// The process's peak resident memory, from the kernel.
fn peak_memory_mib() -> Option<f64> {
    memory_mib("self", "VmHWM:")
}

/// One memory figure (`VmRSS:`, `VmHWM:`) of a process (`self` or a pid), in MiB, from the kernel.
fn memory_mib(process: &str, key: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{process}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

async fn replay(fixture: &FixtureDb) -> anyhow::Result<()> {
    use futures::StreamExt;
    let (log, url) = fixture.open().await?;
    let head = log.head().await?.position;
    // Baseline: the same rows, in log order, as fast as PostgreSQL can send them.
    let mut conn = sqlx::PgConnection::connect(&url).await?;
    let started = Instant::now();
    let mut bytes = 0usize;
    {
        let mut copy = conn
            .copy_out_raw(
                "COPY (SELECT position, recorded_at, aggregate_type, aggregate_id, sequence, event_type, event_version, \
                 payload, metadata, chain_hash FROM events ORDER BY position) TO STDOUT",
            )
            .await?;
        while let Some(chunk) = copy.next().await {
            bytes += chunk?.len();
        }
    }
    let raw = started.elapsed().as_secs_f64();
    // Rebuilt and stored as the newest snapshot, so the start-up below is a restart's.
    let rebuilt = replay::rebuild::rebuild_and_swap(&log, |_, _| {}).await?;
    let snapshot_bytes =
        log.snapshot_at_or_before(projections::Catalog::SNAPSHOT_MODEL, i64::MAX).await?.map_or(0, |(_, b)| b.len());
    let starting = Instant::now();
    let restarted = projections::Projector::start(log.clone()).await?;
    let startup = starting.elapsed().as_secs_f64();
    anyhow::ensure!(restarted.position() == head, "the restart folded to {} of {head}", restarted.position());
    let kept: usize = restarted.read().backups.values().map(|s| s.records.len()).sum();
    let (decoded, settled) = restarted.read().version_counts();
    // What storing a snapshot costs the fold: the catalog is copied while the fold waits.
    let copying = Instant::now();
    let copy = restarted.read().clone();
    let copy_ms = copying.elapsed().as_secs_f64() * 1e3;
    drop(copy);
    drop(restarted);
    let backups: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE aggregate_type = $1 AND event_type IN ('BackupSucceeded', 'BackupFailed')",
    )
    .bind(<domain::backup_log::BackupLog as cqrs_es::Aggregate>::TYPE)
    .fetch_one(&mut conn)
    .await?;
    out!("directory bench replay: {head} events ({:.0} MiB as COPY text), PostgreSQL", bytes as f64 / 1048576.0);
    out!("{:<44} {:>12} {:>10}", "phase", "events/s", "seconds");
    out!("{:<44} {:>12.0} {:>10.2}", "raw COPY … TO STDOUT in log order", head as f64 / raw, raw);
    out!(
        "{:<44} {:>12.0} {:>10.2}",
        "rebuild of every read model",
        rebuilt.events as f64 / rebuilt.seconds,
        rebuilt.seconds
    );
    out!("ratio rebuild / raw read: {:.2}", raw / rebuilt.seconds);
    out!(
        "{:<44} {:>12} {:>10.2}",
        format!("restart from the snapshot ({:.0} MiB)", snapshot_bytes as f64 / 1048576.0),
        "",
        startup
    );
    for (model, digest) in &rebuilt.digests {
        out!("{model} sha256:{digest}");
    }
    figure("replay", "events", head);
    figure("replay", "raw_copy_events_per_s", head as f64 / raw);
    figure("replay", "rebuild_events_per_s", rebuilt.events as f64 / rebuilt.seconds);
    figure("replay", "ratio", raw / rebuilt.seconds);
    figure("replay", "restart_seconds", startup);
    figure("replay", "snapshot_mib", snapshot_bytes as f64 / 1048576.0);
    out!("a copy of the catalog (the fold waits for it when a snapshot is stored): {copy_ms:.1} ms");
    figure("replay", "catalog_copy_ms", copy_ms);
    out!("backups kept in memory: {kept} of {backups} recorded");
    figure("replay", "backups_kept", kept);
    figure("replay", "backups_recorded", backups);
    out!("entity versions decoded at restart: {decoded}; settled (deflated until asked for): {settled}");
    figure("replay", "versions_decoded", decoded);
    figure("replay", "versions_settled", settled);
    if let Some(peak) = peak_memory_mib() {
        out!("peak memory of this process: {peak:.0} MiB");
        figure("replay", "peak_memory_mib", peak);
    }
    Ok(())
}

/// The infrastructure overview the as-of benchmark asks for.
const OVERVIEW: &str = "query($id: ID!, $t: DateTime) { infrastructureOverview(projectId: $id, asOf: $t) { project { name children { name } } vmCount totalCpu totalRamGb totalDiskGb vms { name cpu ramGb diskGb lastGoodBackupAt } monitors { url state lastTransitionAt } backupHealth { lastGoodBackupAt failuresLast7Days stale } access { name } upcomingMaintenance { start reason } } }";

async fn as_of(fixture: &FixtureDb, samples: usize) -> anyhow::Result<()> {
    use rand::{Rng, SeedableRng};
    let (log, _) = fixture.open().await?;
    let head = log.head().await?.position;
    let loading = Instant::now();
    let state = Arc::new(AppState::start(log.clone(), Arc::new(SystemClock), None).await?);
    let loaded = loading.elapsed().as_secs_f64();
    let schema = api::graphql::build(state.clone());
    let (customers, projects, vms): (Vec<String>, Vec<String>, Vec<String>) = {
        let catalog = state.catalog();
        (
            catalog.customers.keys().map(|c| c.to_string()).collect(),
            catalog.projects.keys().map(|p| p.to_string()).collect(),
            catalog.vms.keys().map(|v| v.to_string()).collect(),
        )
    };
    // VMs with settled backups, each with the positions from its provisioning to the last
    // settling: an overview of its project as of then reads its backups from the log.
    let settled: Vec<(domain::VmId, i64, i64)> = {
        let catalog = state.catalog();
        catalog
            .backups
            .iter()
            .filter_map(|(v, series)| {
                let first = *catalog.vms.positions_at(v, i64::MAX).first()?;
                (series.settled.through > first).then_some((*v, first, series.settled.through))
            })
            .collect()
    };
    let staff = app::auth::Principal::Bootstrap;
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let queries = [
        (
            "customer page",
            "query($id: ID!, $t: DateTime) { customer(id: $id, asOf: $t) { name projects { name parentId } people { name sshKeys { fingerprint } } } }",
        ),
        ("overview", OVERVIEW),
        (
            // As of an instant in the project's own past, before its VMs' old backups were
            // settled: their backups are read from the VMs' logs.
            "overview (log)",
            OVERVIEW,
        ),
        (
            // Read from the VM's own events in the store, not from memory.
            "backup history",
            "query($id: ID!, $t: DateTime) { backupHistory(vmId: $id, first: 50, asOf: $t) { totalCount nodes { backupId status startedAt finishedAt sizeBytes tags error expiredAt } } }",
        ),
    ];
    // Per query: the times as of a random instant, and of the same query live (the baseline).
    let mut times: Vec<(Vec<Duration>, Vec<Duration>)> = queries.iter().map(|_| (vec![], vec![])).collect();
    let started = Instant::now();
    let mut from_log = 0;
    for _ in 0..samples {
        let position = rng.random_range(1..=head);
        let at = log.read_after(position - 1, 1).await?.first().map(|e| e.recorded_at).context("an event")?;
        let customer = &customers[rng.random_range(0..customers.len())];
        let project = &projects[rng.random_range(0..projects.len())];
        let vm = &vms[rng.random_range(0..vms.len())];
        // Group commit gives many events one recorded instant: draw until the instant's
        // view lies before the VM's settling, with the VM in a project then.
        let (mut old_project, mut old_at) = (project.clone(), at);
        for _ in 0..50 {
            let Some((vm, first, through)) = settled.get(rng.random_range(0..settled.len().max(1))) else { break };
            let position = rng.random_range(*first..*through);
            let instant = log.read_after(position - 1, 1).await?.first().map(|e| e.recorded_at).context("an event")?;
            let view = log.position_at(instant).await?;
            let then = state.catalog().at(view).vm(vm).and_then(|v| v.current()).map(|c| c.project_id);
            if let (true, Some(p)) = (view < *through, then) {
                (old_project, old_at) = (p.to_string(), instant);
                from_log += 1;
                break;
            }
        }
        for ((label, query), (as_of_times, live_times)) in queries.iter().zip(times.iter_mut()) {
            let (id, at) = match *label {
                "customer page" => (customer, at),
                "overview" => (project, at),
                "overview (log)" => (&old_project, old_at),
                _ => (vm, at),
            };
            for (instant, times) in [(Some(at), &mut *as_of_times), (None, &mut *live_times)] {
                let request = async_graphql::Request::new(*query)
                    .variables(async_graphql::Variables::from_json(serde_json::json!({"id": id, "t": instant})))
                    .data(staff.clone())
                    .data(app::state::LogReads::default());
                let t = Instant::now();
                let response = schema.execute(request).await;
                times.push(t.elapsed());
                anyhow::ensure!(response.errors.is_empty(), "{:?}", response.errors);
            }
        }
    }
    out!("directory bench as-of: {samples} random instants over {head} events, PostgreSQL, GraphQL in-process");
    out!("catalog folded at start in {loaded:.1} s");
    out!(
        "{:<16} {:>12} {:>12} {:>12} {:>12} {:>14}",
        "query",
        "as-of p50",
        "as-of p99",
        "live p50",
        "live p99",
        "p99 ratio"
    );
    for ((label, _), (as_of_times, live_times)) in queries.iter().zip(times) {
        let a = Figures::new(label, 1, started.elapsed(), as_of_times);
        let l = Figures::new(label, 1, started.elapsed(), live_times);
        out!(
            "{:<16} {:>9.2} ms {:>9.2} ms {:>9.2} ms {:>9.2} ms {:>14.2}",
            label,
            a.p50.as_secs_f64() * 1e3,
            a.p99.as_secs_f64() * 1e3,
            l.p50.as_secs_f64() * 1e3,
            l.p99.as_secs_f64() * 1e3,
            a.p99.as_secs_f64() / l.p99.as_secs_f64()
        );
        let key = label.replace(" (log)", "_from_log").replace(' ', "_");
        figure("as_of", &format!("{key}_p50_ms"), a.p50.as_secs_f64() * 1e3);
        figure("as_of", &format!("{key}_p99_ms"), a.p99.as_secs_f64() * 1e3);
        figure("as_of", &format!("{key}_live_p99_ms"), l.p99.as_secs_f64() * 1e3);
    }
    out!("VMs with settled backups: {} of {}", settled.len(), vms.len());
    out!("\"overview (log)\" samples as of an instant before a VM's settling: {from_log} of {samples}");
    figure("as_of", "overview_from_log_samples", from_log);
    figure("as_of", "events", head);
    figure("as_of", "start_fold_seconds", loaded);
    if let Some(peak) = peak_memory_mib() {
        out!("peak memory of this process: {peak:.0} MiB");
        figure("as_of", "peak_memory_mib", peak);
    }
    Ok(())
}

async fn billing(fixture: &FixtureDb, period: &str) -> anyhow::Result<()> {
    let period: domain::Period = period.parse().map_err(|e: domain::Invalid| anyhow::anyhow!("{e}"))?;
    let (log, url) = fixture.open().await?;
    drop(log);
    // The run issues invoices: bill a copy, so the fixture stays as it was.
    let scratch = format!("directory_bench_billing_{}", std::process::id());
    let base = url.rsplit_once('/').map(|(b, _)| b).unwrap_or(&url).to_owned();
    let template = url.rsplit_once('/').map(|(_, n)| n).unwrap_or_default().to_owned();
    let mut admin = sqlx::PgConnection::connect(&fixture.pg).await?;
    let copying = Instant::now();
    sqlx::query(&format!("CREATE DATABASE {scratch} TEMPLATE {template}")).execute(&mut admin).await?;
    eprintln!("copied the fixture database in {:.0} s", copying.elapsed().as_secs_f64());
    let result = billing_on(&format!("{base}/{scratch}"), period).await;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {scratch} WITH (FORCE)")).execute(&mut admin).await?;
    result
}

async fn billing_on(url: &str, period: domain::Period) -> anyhow::Result<()> {
    let log = store::EventLog::connect(url).await?;
    let head = log.head().await?.position;
    let state = AppState::start(log, Arc::new(SystemClock), None).await?;
    let customers: Vec<domain::CustomerId> = state.catalog().live().customers().map(|(id, _)| *id).collect();
    // Backups that ended before the month before the load's month are read from the log.
    let from_log = {
        let catalog = state.catalog();
        let none = projections::billing::FromLog::new();
        customers.iter().filter(|c| projections::billing::compute(catalog.live(), **c, period, &none).is_err()).count()
    };
    let started = Instant::now();
    let position = state.catalog().position;
    let mut computed = 0;
    for c in &customers {
        let content = state
            .invoice_content(Some(position), *c, period, &app::state::LogReads::default())
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        computed += usize::from(content.is_some_and(|c| !c.net.is_zero()));
    }
    let compute_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let issued = app::billing::run(&state, period, "system:bench", state.now())
        .await
        .map_err(|e| anyhow::anyhow!(e.message().to_owned()))?;
    let run_seconds = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        issued.len() == computed,
        "the run issued {} invoices, the computation gave {computed}",
        issued.len()
    );
    let lines: usize = {
        let catalog = state.catalog();
        issued
            .iter()
            .filter_map(|i| catalog.live().invoice(i).and_then(|x| x.content.clone()))
            .map(|c| c.groups.iter().map(|g| g.lines.len()).sum::<usize>())
            .sum()
    };
    out!("directory bench billing: {period} for {} customers over {head} events, PostgreSQL", customers.len());
    out!("{:<44} {:>10} {:>12} {:>10}", "phase", "invoices", "invoices/s", "seconds");
    out!(
        "{:<44} {:>10} {:>12.0} {:>10.2}",
        "compute every invoice (no issuing)",
        computed,
        computed as f64 / compute_seconds,
        compute_seconds
    );
    out!(
        "{:<44} {:>10} {:>12.0} {:>10.2}",
        "billing run: compute, draft, number, append",
        issued.len(),
        issued.len() as f64 / run_seconds,
        run_seconds
    );
    out!("ratio run / compute-only throughput: {:.2}", compute_seconds / run_seconds);
    out!("customers whose backups were read from the log: {from_log}");
    figure("billing", "customers", customers.len());
    figure("billing", "customers_from_log", from_log);
    figure("billing", "invoices", issued.len());
    figure("billing", "compute_invoices_per_s", computed as f64 / compute_seconds);
    figure("billing", "run_invoices_per_s", issued.len() as f64 / run_seconds);
    figure("billing", "run_seconds", run_seconds);
    figure("billing", "ratio", compute_seconds / run_seconds);
    out!("{lines} invoice lines in all");
    Ok(())
}

/// CPU seconds this process has used (user + system), from the kernel.
pub(crate) fn cpu_seconds() -> f64 {
    cpu_seconds_of("self")
}

/// CPU seconds a process (`self` or a pid) has used (user + system), from the kernel.
pub(crate) fn cpu_seconds_of(process: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{process}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces): utime is the 14th, stime the 15th.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

async fn checker(monitors: usize, rounds: usize) -> anyhow::Result<()> {
    use domain::http_monitor::{MAX_PER_PROJECT, MonitorCommand, MonitorSpec, ProjectFacts};
    // The target: a local server that answers 200.
    let target = axum::Router::new().route("/health", axum::routing::get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, target).await });
    let dir = std::env::temp_dir().join(format!("directory-bench-checker-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let log = store::EventLog::connect(&format!("sqlite://{}/bench.db", dir.display())).await?;
    let state = Arc::new(AppState::start(log, Arc::new(SystemClock), None).await?);
    let envelope = || app::commands::Envelope {
        actor: "system:bench".into(),
        command_id: uuid::Uuid::new_v4().to_string(),
        retryable: false,
        payload_hash: String::new(),
        reason: None,
    };
    let mut ids = vec![];
    for n in 0..monitors {
        // As many projects as the cap on monitors per project asks for.
        let project = ProjectFacts {
            id: domain::ProjectId(uuid::Uuid::from_u128(1 + (n / MAX_PER_PROJECT) as u128)),
            customer_id: domain::CustomerId(uuid::Uuid::from_u128(u128::MAX)),
            archived: false,
            monitors: n % MAX_PER_PROJECT,
        };
        let id = domain::MonitorId(uuid::Uuid::new_v4());
        let spec = MonitorSpec {
            url: format!("http://{addr}/health?n={n}"),
            follow_redirects: true,
            max_redirects: 5,
            expected_status: "200".into(),
            interval_seconds: 60,
            timeout_seconds: 10,
        };
        let cmd = MonitorCommand::Create {
            checked_by: domain::http_monitor::Checker::Directory,
            id,
            project,
            spec,
            effective_at: state.now(),
        };
        state
            .bus
            .create(&state.bus.monitors, (&id.to_string(), true), cmd, &envelope())
            .await
            .map_err(|e| anyhow::anyhow!(e.message().to_owned()))?;
        ids.push(id);
    }
    // The bench's sites listen on loopback, which customers' monitors may not reach.
    let loopback = app::checker::Probe::treating_as_public(|ip| ip.is_loopback());
    let checker = app::checker::Checker::with_probe(state.clone(), loopback.clone());
    let limit = Arc::new(tokio::sync::Semaphore::new(64));
    // Every monitor's first check records its first transition (unknown → up); the later rounds record nothing.
    let (cpu0, started) = (cpu_seconds(), Instant::now());
    for _ in 0..rounds {
        let tasks: Vec<_> = ids
            .iter()
            .map(|id| {
                let (checker, limit, id) = (checker.clone(), limit.clone(), *id);
                tokio::spawn(async move {
                    let _permit = limit.acquire_owned().await.ok()?;
                    checker.check(id).await.ok()
                })
            })
            .collect();
        for t in tasks {
            let _ = t.await;
        }
    }
    let (check_seconds, check_cpu) = (started.elapsed().as_secs_f64(), cpu_seconds() - cpu0);
    let probe = loopback;
    let configs: Vec<_> = {
        let catalog = state.catalog();
        ids.iter().filter_map(|id| catalog.monitors.get(id).and_then(|m| m.config.clone())).collect()
    };
    let (cpu0, started) = (cpu_seconds(), Instant::now());
    for _ in 0..rounds {
        let tasks: Vec<_> = configs
            .iter()
            .cloned()
            .map(|c| {
                let (probe, limit) = (probe.clone(), limit.clone());
                tokio::spawn(async move {
                    let _permit = limit.acquire_owned().await.ok()?;
                    Some(probe.check(&c, app::targets::Reach::Public).await)
                })
            })
            .collect();
        for t in tasks {
            let _ = t.await;
        }
    }
    let (get_seconds, get_cpu) = (started.elapsed().as_secs_f64(), cpu_seconds() - cpu0);
    let checks = (monitors * rounds) as f64;
    let up = {
        let catalog = state.catalog();
        ids.iter()
            .filter(|id| {
                catalog.live().monitor(id).is_some_and(|m| m.state() == domain::http_monitor::MonitorState::Up)
            })
            .count()
    };
    out!(
        "directory bench checker: {monitors} monitors × {rounds} rounds against a local server, 64 in flight, SQLite store"
    );
    out!("{:<40} {:>10} {:>16}", "phase", "checks/s", "CPU ms / check");
    out!(
        "{:<40} {:>10.0} {:>16.3}",
        "checker (probe, state, transitions)",
        checks / check_seconds,
        check_cpu * 1e3 / checks
    );
    out!("{:<40} {:>10.0} {:>16.3}", "plain GETs (baseline)", checks / get_seconds, get_cpu * 1e3 / checks);
    out!("ratio checker / plain GET throughput: {:.2}", get_seconds / check_seconds);
    figure("checker", "checks_per_s", checks / check_seconds);
    figure("checker", "cpu_ms_per_check", check_cpu * 1e3 / checks);
    figure("checker", "ratio", get_seconds / check_seconds);
    out!("{up} of {monitors} monitors up after the first round");
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

async fn sla(fixture: &FixtureDb, month: &str) -> anyhow::Result<()> {
    let month: domain::Period = month.parse().map_err(|e: domain::Invalid| anyhow::anyhow!("{e}"))?;
    let (log, _) = fixture.open().await?;
    let head = log.head().await?.position;
    let state = AppState::start(log, Arc::new(SystemClock), None).await?;
    let (projects, position, transitions, read_seconds) = {
        let catalog = state.catalog();
        let at = catalog.live();
        let projects: Vec<domain::ProjectId> = at.projects().map(|(id, _)| *id).collect();
        let started = Instant::now();
        let mut transitions = 0usize;
        for p in &projects {
            for m in at.monitors_of(*p) {
                transitions += at.transitions(&m, month.start()).map_or(0, |t| t.len());
            }
        }
        (projects, at.position(), transitions, started.elapsed().as_secs_f64())
    };
    let started = Instant::now();
    let reads = app::state::LogReads::default();
    let reports = app::sla::reports(&state, position, &projects, month, &reads)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message()))?;
    let report_seconds = started.elapsed().as_secs_f64();
    let breached = reports.iter().filter(|r| r.breached).count();
    out!("directory bench sla: {month} for {} projects over {head} events ({transitions} transitions)", projects.len());
    out!("{:<44} {:>12} {:>10}", "phase", "projects/s", "seconds");
    out!(
        "{:<44} {:>12.0} {:>10.3}",
        "read every project's monitors (baseline)",
        projects.len() as f64 / read_seconds,
        read_seconds
    );
    out!(
        "{:<44} {:>12.0} {:>10.3}",
        "SLA report of every project",
        reports.len() as f64 / report_seconds,
        report_seconds
    );
    out!("ratio report / read throughput: {:.2}", read_seconds / report_seconds);
    figure("sla", "projects", projects.len());
    figure("sla", "reports_per_s", reports.len() as f64 / report_seconds);
    figure("sla", "ratio", read_seconds / report_seconds);
    out!("{breached} projects breached their target");
    Ok(())
}

fn documents(count: usize) -> anyhow::Result<()> {
    let invoice = fixtures::synthetic_invoice(20, 10);
    let issuer = documents::pdf::invoice::Issuer::from_env();
    let _ = documents::pdf::invoice::render(&invoice, &issuer, None); // fonts parsed once, outside the timing
    let started = Instant::now();
    let mut pdf_bytes = 0;
    for _ in 0..count {
        pdf_bytes = documents::pdf::invoice::render(&invoice, &issuer, None).len();
    }
    let pdf_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let mut xml_bytes = 0;
    for _ in 0..count {
        xml_bytes = documents::xrechnung::render(&invoice, &issuer, None).map_or(0, |x| x.len());
    }
    let xml_seconds = started.elapsed().as_secs_f64();
    out!("directory bench documents: a 200-line invoice, {count} times each, one core");
    out!("{:<28} {:>12} {:>12}", "document", "documents/s", "bytes");
    out!("{:<28} {:>12.1} {:>12}", "PDF (fonts embedded)", count as f64 / pdf_seconds, pdf_bytes);
    out!("{:<28} {:>12.1} {:>12}", "XRechnung XML (baseline)", count as f64 / xml_seconds, xml_bytes);
    out!("ratio PDF / XML throughput: {:.3}", xml_seconds / pdf_seconds);
    figure("pdf", "pdf_per_s", count as f64 / pdf_seconds);
    figure("pdf", "xml_per_s", count as f64 / xml_seconds);
    figure("pdf", "pdf_bytes", pdf_bytes);
    figure("pdf", "ratio", xml_seconds / pdf_seconds);
    Ok(())
}

/// Throughput and latency of one phase.
pub(crate) struct Figures {
    label: String,
    clients: usize,
    per_second: f64,
    p50: Duration,
    p99: Duration,
}

impl Figures {
    fn new(label: &str, clients: usize, elapsed: Duration, mut latencies: Vec<Duration>) -> Figures {
        latencies.sort();
        let pick = |q: f64| latencies.get(((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)).copied();
        Figures {
            label: label.into(),
            clients,
            per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
            p50: pick(0.50).unwrap_or_default(),
            p99: pick(0.99).unwrap_or_default(),
        }
    }

    fn print(&self) {
        out!(
            "{:<34} {:>7} {:>12.0} {:>10.2} {:>10.2}",
            self.label,
            self.clients,
            self.per_second,
            self.p50.as_secs_f64() * 1e3,
            self.p99.as_secs_f64() * 1e3
        );
    }
}

/// A database that exists for the benchmark's duration.
pub(crate) struct BenchDb {
    admin: String,
    name: String,
    url: String,
}

impl BenchDb {
    async fn create(admin: &str) -> anyhow::Result<BenchDb> {
        let name = format!("directory_bench_{}", std::process::id());
        let mut conn = sqlx::PgConnection::connect(admin).await.context("connecting to PostgreSQL")?;
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name}")).execute(&mut conn).await?;
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await?;
        let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(admin);
        Ok(BenchDb { admin: admin.into(), url: format!("{base}/{name}"), name })
    }

    async fn drop(self) {
        if let Ok(mut conn) = sqlx::PgConnection::connect(&self.admin).await {
            let _ =
                sqlx::query(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)).execute(&mut conn).await;
        }
    }
}

async fn append(pg: &str, commands: usize) -> anyhow::Result<()> {
    let db = BenchDb::create(pg).await?;
    let result = append_on(&db.url, commands).await;
    db.drop().await;
    result
}

async fn append_on(url: &str, commands: usize) -> anyhow::Result<()> {
    const TOKEN: &str = "bench-bootstrap";
    let log = store::EventLog::connect(url).await?;
    let state = Arc::new(AppState::start(log, Arc::new(SystemClock), Some(TOKEN)).await?);
    let router = api::http::router(state, None);

    let write_path = |clients: usize, phase: &'static str| {
        let router = router.clone();
        async move {
            let per_client = commands / clients;
            let started = Instant::now();
            let tasks: Vec<_> = (0..clients)
                .map(|c| {
                    let router = router.clone();
                    tokio::spawn(async move {
                        let mut latencies = Vec::with_capacity(per_client);
                        let mut last_customer = String::new();
                        for i in 0..per_client {
                            // Half the commands create a customer, half rename the one created before.
                            let body = if i % 2 == 0 {
                                serde_json::json!({
                                    "query": "mutation($i: RegisterCustomerInput!) { registerCustomer(input: $i) { id } }",
                                    "variables": {"i": {"name": format!("{phase} customer {c}-{i}"), "country": "DE",
                                                         "vatId": "DE123456789", "billingAddress": "Hauptstraße 1, Berlin"}}
                                })
                            } else {
                                serde_json::json!({
                                    "query": "mutation($c: ID!, $n: String!) { renameCustomer(customerId: $c, name: $n) { id } }",
                                    "variables": {"c": last_customer, "n": format!("{phase} customer {c}-{i} renamed")}
                                })
                            };
                            let request = Request::post("/graphql")
                                .header("content-type", "application/json")
                                .header("authorization", format!("Bearer {TOKEN}"))
                                .body(Body::from(serde_json::to_vec(&body).expect("json")))
                                .expect("request");
                            let t = Instant::now();
                            let response = router.clone().oneshot(request).await.expect("infallible");
                            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
                            latencies.push(t.elapsed());
                            let answer: serde_json::Value = serde_json::from_slice(&bytes).expect("json answer");
                            assert!(answer.get("errors").is_none(), "{answer}");
                            if let Some(id) = answer["data"]["registerCustomer"]["id"].as_str() {
                                last_customer = id.to_owned();
                            }
                        }
                        latencies
                    })
                })
                .collect();
            let mut all = Vec::with_capacity(commands);
            for t in tasks {
                all.extend(t.await.expect("client"));
            }
            (started.elapsed(), all)
        }
    };

    out!("directory bench append: {commands} commands per phase, PostgreSQL, write path in-process over HTTP routing");
    out!("{:<34} {:>7} {:>12} {:>10} {:>10}", "phase", "clients", "per second", "p50 ms", "p99 ms");
    let (elapsed, lat) = write_path(1, "one").await;
    let one = Figures::new("write path (GraphQL → append)", 1, elapsed, lat);
    one.print();
    let (elapsed, lat) = write_path(16, "many").await;
    let many = Figures::new("write path (GraphQL → append)", 16, elapsed, lat);
    many.print();
    let raw = raw_inserts(url, 16, commands).await?;
    raw.print();
    out!("ratio write path (16 clients) / raw inserts (16 clients): {:.2}", many.per_second / raw.per_second);
    for (key, f) in [("write_path_1_client", &one), ("write_path_16_clients", &many), ("raw_inserts_16_clients", &raw)]
    {
        figure(
            "append",
            key,
            serde_json::json!({"per_second": f.per_second, "p50_ms": f.p50.as_secs_f64() * 1e3, "p99_ms": f.p99.as_secs_f64() * 1e3}),
        );
    }
    figure("append", "ratio", many.per_second / raw.per_second);
    Ok(())
}

/// Plain SQL: one event row per transaction, the same columns and sizes as the log's rows.
async fn raw_inserts(url: &str, clients: usize, rows: usize) -> anyhow::Result<Figures> {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(clients as u32)
        .test_before_acquire(false)
        .connect(url)
        .await?;
    sqlx::query(
        "CREATE TABLE raw_events (aggregate_type text NOT NULL, aggregate_id text NOT NULL, sequence bigint NOT NULL, \
         event_type text NOT NULL, event_version text NOT NULL, payload json NOT NULL, metadata json NOT NULL, \
         position bigserial UNIQUE, recorded_at timestamptz NOT NULL DEFAULT now(), chain_hash bytea NOT NULL, \
         PRIMARY KEY (aggregate_type, aggregate_id, sequence))",
    )
    .execute(&pool)
    .await?;
    let payload = r#"{"CustomerRegistered":{"billing_address":"Hauptstraße 1, Berlin","country":"DE","effective_at":"2026-11-27T05:00:00.000000Z","id":"00000000-0000-0000-0000-000000000000","name":"raw customer","payment_terms_days":14,"vat_id":"DE123456789"}}"#;
    let metadata = r#"{"actor":"system:bootstrap","command_id":"00000000-0000-0000-0000-000000000000","payload_hash":"0000000000000000000000000000000000000000000000000000000000000000"}"#;
    let per_client = rows / clients;
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(per_client);
                for i in 0..per_client {
                    let t = Instant::now();
                    sqlx::query(
                        "INSERT INTO raw_events (aggregate_type, aggregate_id, sequence, event_type, event_version, \
                         payload, metadata, chain_hash) VALUES ('customer', $1, 1, 'CustomerRegistered', '1.0', $2::json, $3::json, $4)",
                    )
                    .bind(format!("raw-{c}-{i}"))
                    .bind(payload)
                    .bind(metadata)
                    .bind(vec![7u8; 32])
                    .execute(&pool)
                    .await
                    .expect("raw insert");
                    latencies.push(t.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut all = Vec::with_capacity(rows);
    for t in tasks {
        all.extend(t.await?);
    }
    Ok(Figures::new("raw SQL insert, 1 row per tx", clients, started.elapsed(), all))
}
