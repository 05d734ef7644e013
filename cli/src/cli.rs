//! The `directory` command line.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use store::EventLog;

use api::{graphql, http, telemetry};
use app::clock::SystemClock;
use app::demo;
use app::state::AppState;

/// The Directory: customers, projects, VMs, people and keys, backups and invoices, as an
/// event log with read models, served over GraphQL.
#[derive(Parser, Debug)]
#[command(name = "directory", version)]
pub struct Cli {
    /// Where the log lives: sqlite://PATH (created if missing) or postgres://…
    #[arg(long, env = "DATABASE_URL", default_value = store::DEFAULT_DATABASE_URL, global = true)]
    pub database_url: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum NodeCommand {
    /// A node's ENC as its agent receives it from the node API's `lookup_node`, as JSON
    /// (without its password: `nodeCredentials` shows that, recorded).
    Enc {
        /// The node's host name.
        hostname: String,
    },
    /// The users of a resource group's machines as the node API's `list_users` serves
    /// them, as JSON.
    Users {
        /// The resource group's name.
        resource_group: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum SlaCommand {
    /// Every project's availability in a month against its target, worst first.
    Report {
        /// The month, YYYY-MM (Europe/Berlin).
        #[arg(long)]
        month: String,
        #[arg(long, value_enum, default_value = "table")]
        format: ReportFormat,
    },
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportFormat {
    Table,
    Csv,
}

#[derive(Subcommand, Debug)]
pub enum BillingCommand {
    /// Write the DATEV booking batch (EXTF Buchungsstapel) of every issued invoice and
    /// cancellation invoice of a service period, and record each document's export once.
    Export {
        /// The service period, YYYY-MM.
        #[arg(long)]
        period: String,
        /// Where to write the booking batch (standard output when omitted); the customer
        /// master data goes beside it, as `EXTF_Debitoren_Kreditoren.csv`.
        #[arg(long)]
        out: Option<String>,
        /// DATEV consultant number.
        #[arg(long, default_value_t = 1001, value_parser = clap::value_parser!(u32).range(1001..=9_999_999))]
        consultant: u32,
        /// DATEV client number.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=99_999))]
        client: u32,
        /// The debtor accounts customers are given, in the order they were registered
        /// (five digits: the ledger's accounts have four).
        #[arg(long, default_value = "10000-69999", value_parser = debtor_range)]
        debtors: std::ops::RangeInclusive<u32>,
    },
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve GraphQL, health, readiness and metrics over HTTP.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "DIRECTORY_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// A bearer token that acts as staff admin (actor `system:bootstrap`); at least 32 characters.
        #[arg(long, env = "DIRECTORY_BOOTSTRAP_TOKEN", hide_env_values = true)]
        bootstrap_token: Option<String>,
        /// A bearer token that may read `/metrics` (a scraper; staff tokens may too); at least 32 characters.
        #[arg(long, env = "DIRECTORY_METRICS_TOKEN", hide_env_values = true)]
        metrics_token: Option<String>,
        /// Fill an empty store with the demo fixture (or catch a demo store up to now), and
        /// print fresh demo tokens (staff admin, auditor, one customer's person); a store
        /// that did not begin with the fixture is left alone.
        #[arg(long)]
        demo: bool,
        /// Answer queries only, from a connection that may only read (a PostgreSQL streaming
        /// replica): no migrations, no snapshots, no schedulers or checker; mutations are
        /// refused with UNAVAILABLE so clients send them to the primary.
        #[arg(long, env = "DIRECTORY_READ_ONLY")]
        read_only: bool,
        /// Days an API token lives when issued without an expiry.
        #[arg(long, env = "DIRECTORY_TOKEN_LIFETIME_DAYS", default_value_t = 90)]
        token_lifetime_days: u32,
        /// Days any API token lives at most after its issue (tokens already issued included).
        #[arg(long, env = "DIRECTORY_TOKEN_MAX_LIFETIME_DAYS", default_value_t = 365)]
        token_max_lifetime_days: u32,
        /// Days ahead of now an effective instant (`effectiveAt`, `validFrom`) may lie; a
        /// later one is refused as BAD_INPUT that names the bound.
        #[arg(long, env = "DIRECTORY_EFFECTIVE_HORIZON_DAYS", default_value_t = domain::shared::validate::EFFECTIVE_HORIZON_DAYS)]
        effective_horizon_days: u32,
        /// The file holding the key node API passwords are derived with (64 hex digits),
        /// made on first start; every server of one Directory needs the same one. By
        /// default beside an SQLite database (`PATH.node-key`), else `directory-node.key`.
        #[arg(long, env = "DIRECTORY_NODE_KEY_FILE")]
        node_key_file: Option<std::path::PathBuf>,
        /// The DNS domain of the platform's machines: the node API names a service's
        /// address and its clients `<host name>.<domain>`.
        #[arg(long, env = "DIRECTORY_NODE_DOMAIN", default_value = app::state::NODE_DOMAIN)]
        node_domain: String,
        /// Seconds a lease on shared work (a share of the monitors, the billing run, the
        /// release decisions) lasts: a killed server's work passes to another within
        /// about this long and a third more.
        #[arg(long, env = "DIRECTORY_LEASE_SECONDS", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=3600))]
        lease_seconds: u64,
        /// Seconds another database session may hold the log head idle in its transaction
        /// (which stops every write) before the server ends that session.
        #[arg(long, env = "DIRECTORY_HEAD_IDLE_SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
        head_idle_seconds: u64,
        /// Requests that may work at once (GraphQL, documents, the node API); more wait.
        #[arg(long, env = "DIRECTORY_MAX_IN_FLIGHT", default_value_t = api::admission::DEFAULT_IN_FLIGHT as u64, value_parser = clap::value_parser!(u64).range(1..=100_000))]
        max_in_flight: u64,
        /// Milliseconds a request waits for its turn before it is answered 503 with
        /// `Retry-After` (shed rather than queued).
        #[arg(long, env = "DIRECTORY_QUEUE_WAIT_MS", default_value_t = api::admission::DEFAULT_WAIT.as_millis() as u64, value_parser = clap::value_parser!(u64).range(0..=60_000))]
        queue_wait_ms: u64,
        /// Milliseconds the server's runtime may run late (its cores saturated, requests
        /// queueing before any permit sees them) before every request is shed with 503;
        /// 0 turns off watching the runtime (this, and admitting a shrinking share of
        /// requests while its workers are busy nearly all the time).
        #[arg(long, env = "DIRECTORY_SHED_LAG_MS", default_value_t = api::admission::DEFAULT_LAG_LIMIT.as_millis() as u64, value_parser = clap::value_parser!(u64).range(0..=60_000))]
        shed_lag_ms: u64,
        /// MiB of settled history the read models keep decoded for questions about the
        /// past; the least recently read beyond it is given back.
        #[arg(long, env = "DIRECTORY_PAST_CACHE_MIB", default_value_t = (projections::runner::PAST_BUDGET >> 20) as u64, value_parser = clap::value_parser!(u64).range(1..=1_048_576))]
        past_cache_mib: u64,
        /// The fixture `--demo` loads (tests use a small one).
        #[arg(long, default_value = "demo", hide = true)]
        demo_size: fixtures::Size,
    },
    /// Deterministic histories made through domain commands.
    Fixtures {
        #[command(subcommand)]
        command: FixturesCommand,
    },
    /// Print the GraphQL schema (SDL) that `serve` answers.
    Schema,
    /// Audit tools over the log.
    Replay {
        #[command(subcommand)]
        command: ReplayCommand,
    },
    /// Run the HTTP checker alone (as `serve` does beside GraphQL), until stopped.
    Monitor,
    /// SLA tools that run without a server.
    Sla {
        #[command(subcommand)]
        command: SlaCommand,
    },
    /// The platform's nodes as their agents see them.
    Node {
        #[command(subcommand)]
        command: NodeCommand,
    },
    /// Billing tools that run without a server.
    Billing {
        #[command(subcommand)]
        command: BillingCommand,
    },
    /// Benchmarks that print their figures next to a baseline measured in the same run.
    Bench {
        /// Print one JSON object with every figure instead of the tables.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        command: bench::BenchCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum FixturesCommand {
    /// Write a fixture as JSON lines (one commit a line); the same size and seed give the same bytes.
    Generate {
        /// small (~10k events), demo (~200k) or large (≥ 5 million).
        #[arg(long, default_value = "small")]
        size: fixtures::Size,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Where to write (standard output when omitted).
        #[arg(long)]
        out: Option<std::path::PathBuf>,
        /// Print the number of events of each type instead of the fixture.
        #[arg(long)]
        stats: bool,
    },
    /// Append a generated fixture (JSON lines) to the store, in order.
    Load {
        /// The fixture file (standard input when omitted).
        input: Option<std::path::PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
pub enum ReplayCommand {
    /// Recompute the whole hash chain and every issued invoice; exits non-zero naming the
    /// first mismatch. With `--checkpoint`, also prove the log still extends a signed checkpoint.
    Verify {
        /// A checkpoint written by `replay checkpoint`.
        #[arg(long)]
        checkpoint: Option<std::path::PathBuf>,
        /// The public key (hex) the checkpoint must be signed with.
        #[arg(long)]
        public_key: Option<String>,
    },
    /// Sign the log's head (position, chain hash, time) with an Ed25519 key, for an auditor
    /// to keep outside the database. A missing key file is created with a new key.
    Checkpoint {
        /// The key file: a 32-byte seed, hex.
        #[arg(long)]
        key: std::path::PathBuf,
        /// Where to write the checkpoint (standard output when omitted).
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// Rebuild every read model from position 0, print events/s and each model's SHA-256,
    /// and put the rebuilt state in place of the stored snapshots.
    Rebuild,
    /// Answer a GraphQL query as recorded at an instant, without a server (read-only; as staff).
    AsOf {
        /// RFC 3339, e.g. 2026-03-30T19:00:00Z.
        instant: chrono::DateTime<chrono::Utc>,
        /// The GraphQL query.
        query: String,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Schema => {
            print!("{}", graphql::sdl());
            Ok(())
        }
        Command::Serve {
            listen,
            bootstrap_token,
            metrics_token,
            demo,
            read_only,
            demo_size,
            token_lifetime_days,
            token_max_lifetime_days,
            effective_horizon_days,
            node_key_file,
            node_domain,
            lease_seconds,
            head_idle_seconds,
            max_in_flight,
            queue_wait_ms,
            shed_lag_ms,
            past_cache_mib,
        } => {
            let settings = Settings {
                bootstrap: secret("DIRECTORY_BOOTSTRAP_TOKEN", bootstrap_token)?,
                metrics: secret("DIRECTORY_METRICS_TOKEN", metrics_token)?,
                lifetime: domain::person::TokenLifetime::new(token_lifetime_days, token_max_lifetime_days).map_err(
                    |e| anyhow::anyhow!("DIRECTORY_TOKEN_LIFETIME_DAYS / DIRECTORY_TOKEN_MAX_LIFETIME_DAYS: {e}"),
                )?,
                effective_horizon_days,
                node_key: {
                    let path = node_key_file.unwrap_or_else(|| default_node_key_file(&cli.database_url));
                    app::node_credentials::NodeKey::from_file(&path)
                        .with_context(|| format!("the node key file {}", path.display()))?
                },
                node_domain,
                lease: std::time::Duration::from_secs(lease_seconds),
                head_idle: std::time::Duration::from_secs(head_idle_seconds),
                admission: api::admission::Admission::new(
                    max_in_flight as usize,
                    std::time::Duration::from_millis(queue_wait_ms),
                ),
                shed_lag: (shed_lag_ms > 0).then(|| std::time::Duration::from_millis(shed_lag_ms)),
                past_budget: usize::try_from(past_cache_mib << 20).unwrap_or(usize::MAX),
            };
            anyhow::ensure!(!(demo && read_only), "--demo writes the demo fixture; a read-only server cannot");
            serve(&cli.database_url, listen, settings, demo.then_some(demo_size), read_only).await
        }
        Command::Fixtures { command: FixturesCommand::Generate { size, seed, out, stats } } => {
            if stats {
                let mut counts: Vec<_> = demo::stats(size, seed).into_iter().collect();
                counts.sort();
                let total: usize = counts.iter().map(|(_, n)| n).sum();
                for (kind, n) in counts {
                    println!("{kind:<22} {n:>10}");
                }
                println!("{:<22} {total:>10}", "total");
                return Ok(());
            }
            let events = match out {
                Some(path) => {
                    let file = std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
                    demo::write(size, seed, &mut std::io::BufWriter::new(file))?
                }
                None => demo::write(size, seed, &mut std::io::BufWriter::new(std::io::stdout().lock()))?,
            };
            eprintln!("{events} events");
            Ok(())
        }
        Command::Fixtures { command: FixturesCommand::Load { input } } => {
            let log = EventLog::connect(&cli.database_url).await.context("opening the store")?;
            let (events, seconds) = match input {
                Some(path) => {
                    let file = std::fs::File::open(&path).with_context(|| format!("opening {}", path.display()))?;
                    demo::load(&log, std::io::BufReader::new(file)).await?
                }
                None => demo::load(&log, std::io::stdin().lock()).await?,
            };
            println!("loaded {events} events in {seconds:.1} s ({:.0} events/s)", events as f64 / seconds.max(1e-9));
            Ok(())
        }
        Command::Replay { command: ReplayCommand::Rebuild } => {
            let log = EventLog::connect(&cli.database_url).await.context("opening the store")?;
            let bar = indicatif::ProgressBar::new(0).with_style(
                indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} events, {per_sec}, {eta} left")
                    .expect("template"),
            );
            let rebuilt = replay::rebuild::rebuild_and_swap(&log, |done, total| {
                bar.set_length(total.max(0) as u64);
                bar.set_position(done.max(0) as u64);
            })
            .await?;
            bar.finish_and_clear();
            println!(
                "rebuilt {} events in {:.2} s ({:.0} events/s)",
                rebuilt.events,
                rebuilt.seconds,
                rebuilt.events as f64 / rebuilt.seconds.max(1e-9)
            );
            for (model, digest) in rebuilt.digests {
                println!("{model} sha256:{digest}");
            }
            Ok(())
        }
        Command::Replay { command: ReplayCommand::AsOf { instant, query } } => {
            let log = EventLog::connect(&cli.database_url).await.context("opening the store")?;
            let answer = as_of_query(log, instant, &query).await?;
            println!("{answer}");
            Ok(())
        }
        Command::Replay { command: ReplayCommand::Checkpoint { key, out } } => {
            let signing = match std::fs::read_to_string(&key) {
                Ok(text) => replay::checkpoint::key_from_hex(&text).map_err(|e| anyhow::anyhow!(e))?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    let new = replay::checkpoint::new_key();
                    std::fs::write(&key, hex::encode(new.to_bytes()))
                        .with_context(|| format!("writing {}", key.display()))?;
                    eprintln!("created a new key in {}", key.display());
                    new
                }
                Err(e) => return Err(e).with_context(|| format!("reading {}", key.display())),
            };
            let log = EventLog::connect(&cli.database_url).await.context("opening the store")?;
            let checkpoint = replay::checkpoint::make(&log, &signing).await?;
            let text = serde_json::to_string_pretty(&checkpoint)?;
            match out {
                Some(path) => std::fs::write(&path, &text).with_context(|| format!("writing {}", path.display()))?,
                None => println!("{text}"),
            }
            eprintln!("checkpoint at position {} signed by {}", checkpoint.position, checkpoint.public_key);
            Ok(())
        }
        Command::Replay { command: ReplayCommand::Verify { checkpoint, public_key } } => {
            let log = EventLog::connect(&cli.database_url).await.context("opening the store")?;
            match replay::audit::verify(&log).await? {
                Ok(position) => println!("chain verified: {position} events, head matches"),
                Err(broken) => anyhow::bail!("chain broken: {broken}"),
            }
            if let Some(path) = checkpoint {
                let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
                let cp: replay::checkpoint::Checkpoint = serde_json::from_str(&text).context("the checkpoint file")?;
                match replay::checkpoint::check(&log, &cp, public_key.as_deref()).await? {
                    Ok(()) => println!("the log extends the checkpoint at position {}", cp.position),
                    Err(why) => anyhow::bail!("checkpoint not extended: {why}"),
                }
            }
            let (catalog, _) = replay::rebuild::rebuild(&log, |_, _| {}).await?;
            match replay::audit::verify_invoices(&log, &catalog).await? {
                Ok(n) => {
                    println!("issued documents verified: {n} recomputed from the log and matching");
                    Ok(())
                }
                Err(bad) => {
                    for m in &bad {
                        eprintln!("invoice mismatch: {m}");
                    }
                    anyhow::bail!("{} issued documents do not match the log, first {}", bad.len(), bad[0])
                }
            }
        }
        Command::Monitor => {
            let log = EventLog::connect(&cli.database_url).await?;
            let state = Arc::new(AppState::start(log, Arc::new(SystemClock), None).await?);
            // It shares the monitors with the servers of the same database, by leases.
            state.leases.tend(false).await?;
            state.leases.clone().spawn(false);
            app::checker::Checker::sharded(state.clone()).spawn();
            tracing::info!("checking monitors");
            shutdown().await;
            state.leases.give_up_all().await;
            tracing::info!("stopped");
            Ok(())
        }
        Command::Node { command: NodeCommand::Users { resource_group } } => {
            let log = EventLog::connect(&cli.database_url).await?;
            let state = AppState::start(log, Arc::new(SystemClock), None).await?;
            let users = api::node::users(&state, resource_group.trim())
                .ok_or_else(|| anyhow::anyhow!("no resource group {:?}", resource_group.trim()))?;
            println!("{}", serde_json::to_string_pretty(&users)?);
            Ok(())
        }
        Command::Node { command: NodeCommand::Enc { hostname } } => {
            let log = EventLog::connect(&cli.database_url).await?;
            let state = AppState::start(log, Arc::new(SystemClock), None).await?;
            let enc = api::node::enc(&state, hostname.trim())
                .ok_or_else(|| anyhow::anyhow!("no node {:?}", hostname.trim()))?;
            println!("{}", serde_json::to_string_pretty(&enc)?);
            Ok(())
        }
        Command::Sla { command: SlaCommand::Report { month, format } } => {
            let month = api::graphql::sla::month(&month).map_err(|e| anyhow::anyhow!("{}", e.message()))?;
            let log = EventLog::connect(&cli.database_url).await?;
            let state = AppState::start(log, Arc::new(SystemClock), None).await?;
            let reads = app::state::LogReads::default();
            let reports = api::graphql::sla::all(&state, api::graphql::View::Live, month, false, &reads)
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.message()))?;
            match format {
                ReportFormat::Csv => {
                    println!(
                        "project_id,project,class,target_percent,availability_percent,downtime_seconds,excluded_maintenance_seconds,breached,incidents"
                    );
                    for r in &reports {
                        println!(
                            "{},\"{}\",{:?},{},{},{},{},{},{}",
                            r.project_id.as_str(),
                            r.project_name.replace('"', "\"\""),
                            r.sla_class,
                            r.target_percent.0,
                            r.availability_percent.0,
                            r.downtime_seconds,
                            r.excluded_maintenance_seconds,
                            r.breached,
                            r.incidents.len()
                        );
                    }
                }
                ReportFormat::Table => {
                    println!(
                        "{:<36} {:<30} {:<9} {:>7} {:>9} {:>10} {:>9}",
                        "project", "name", "class", "target", "avail. %", "downtime s", "breached"
                    );
                    for r in &reports {
                        let name: String = r.project_name.chars().take(30).collect();
                        println!(
                            "{:<36} {:<30} {:<9} {:>7} {:>9} {:>10} {:>9}",
                            r.project_id.as_str(),
                            name,
                            format!("{:?}", r.sla_class),
                            r.target_percent.0,
                            r.availability_percent.0,
                            r.downtime_seconds,
                            if r.breached { "yes" } else { "no" }
                        );
                    }
                }
            }
            Ok(())
        }
        Command::Billing { command: BillingCommand::Export { period, out, consultant, client, debtors } } => {
            let period: domain::Period = period.parse().map_err(|e: domain::Invalid| anyhow::anyhow!("{e}"))?;
            let log = EventLog::connect(&cli.database_url).await?;
            let state = AppState::start(log, Arc::new(SystemClock), None).await?;
            let accounts = app::export::Accounts { consultant, client, debtors };
            let done = app::export::export(&state, period, &accounts, state.now())
                .await
                .map_err(|e| anyhow::anyhow!("{}: {}", e.code(), e.message()))?;
            match out {
                Some(path) => {
                    std::fs::write(&path, &done.batch).with_context(|| format!("writing {path}"))?;
                    let beside = std::path::Path::new(&path).with_file_name("EXTF_Debitoren_Kreditoren.csv");
                    std::fs::write(&beside, &done.master_data)
                        .with_context(|| format!("writing {}", beside.display()))?;
                }
                None => std::io::Write::write_all(&mut std::io::stdout(), &done.batch)?,
            }
            eprintln!(
                "{} documents of {period} in the batch; {} exported for the first time",
                done.documents, done.newly_exported
            );
            Ok(())
        }
        Command::Bench { json, command } => bench::run(command, json).await,
    }
}

/// The shortest token accepted for the bootstrap and metrics tokens: guessing one must be
/// as hopeless as guessing an issued token.
pub const MIN_SECRET_CHARS: usize = 32;

/// What `serve` is configured with.
struct Settings {
    bootstrap: Option<String>,
    metrics: Option<String>,
    lifetime: domain::person::TokenLifetime,
    effective_horizon_days: u32,
    node_key: app::node_credentials::NodeKey,
    node_domain: String,
    lease: std::time::Duration,
    head_idle: std::time::Duration,
    admission: api::admission::Admission,
    shed_lag: Option<std::time::Duration>,
    past_budget: usize,
}

/// Where the node key lives when none is configured: beside an SQLite database, else in
/// the working directory.
fn default_node_key_file(database_url: &str) -> std::path::PathBuf {
    match database_url.strip_prefix("sqlite://") {
        Some(path) => format!("{}.node-key", path.split('?').next().unwrap_or(path)).into(),
        None => "directory-node.key".into(),
    }
}

/// A configured token, refused when it is too short to be a secret (unset or empty: none).
fn secret(name: &str, value: Option<String>) -> anyhow::Result<Option<String>> {
    match value.filter(|v| !v.is_empty()) {
        Some(v) if v.chars().count() < MIN_SECRET_CHARS => anyhow::bail!(
            "{name} has {} characters; use at least {MIN_SECRET_CHARS} random ones (for example `openssl rand -hex 32`)",
            v.chars().count()
        ),
        v => Ok(v),
    }
}

async fn serve(
    database_url: &str,
    listen: SocketAddr,
    settings: Settings,
    demo: Option<fixtures::Size>,
    read_only: bool,
) -> anyhow::Result<()> {
    let metrics = telemetry::metrics();
    let log =
        if read_only { EventLog::connect_read_only(database_url).await } else { EventLog::connect(database_url).await }
            .with_context(|| format!("opening the store {}", redact(database_url)))?;
    if let Some(size) = demo {
        let appended = demo::fill_if_empty(&log, size, chrono::Utc::now()).await?;
        if appended > 0 {
            tracing::info!(events = appended, "the empty store was filled with the demo fixture");
        }
    }
    let snapshot_every = match std::env::var("DIRECTORY_SNAPSHOT_EVERY") {
        Ok(v) => {
            v.parse::<i64>().ok().filter(|n| *n > 0).context("DIRECTORY_SNAPSHOT_EVERY must be a positive number")?
        }
        Err(_) => projections::SNAPSHOT_EVERY,
    };
    let mut state =
        AppState::start_with(log, Arc::new(SystemClock), settings.bootstrap.as_deref(), snapshot_every).await?;
    state.leases = app::leases::Leases::new(state.bus.log.clone(), settings.lease);
    state.bus.projector.set_past_budget(settings.past_budget);
    if let Some(token) = &settings.metrics {
        let _ = state.metrics_token_hash.set(app::auth::token_hash(token));
    }
    let _ = state.token_lifetimes.set(settings.lifetime);
    let _ = state.effective_horizon_days.set(settings.effective_horizon_days);
    let _ = state.node_key.set(settings.node_key);
    let _ = state.node_domain.set(settings.node_domain);
    let demo_store =
        demo.is_some() && demo::is_demo(&state.bus.log).await.map_err(app::error::ApiError::into_anyhow)?;
    if demo.is_some() && !demo_store {
        tracing::warn!("the store did not begin with the demo fixture: --demo adds nothing to it and issues no tokens");
    }
    if demo_store {
        // A demo filled on an earlier start has a gap up to now: the platform's nights and
        // weeks are caught up, then last month is billed (once: a valid invoice stays).
        let caught = demo::catch_up(&state, state.now()).await.map_err(app::error::ApiError::into_anyhow)?;
        tracing::info!(backups = caught.backups, releases = caught.releases, "the demo was caught up to now");
        let billed = demo::bill_last_month(&state).await.map_err(app::error::ApiError::into_anyhow)?;
        tracing::info!(invoices = billed, "last month of the demo is billed");
        println!("Demo tokens (use as `Authorization: Bearer <token>`):");
        for (who, token) in demo::tokens(&state).await? {
            println!("  {who:<40} {token}");
        }
    }
    let state = Arc::new(state);
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("listening on {listen}"))?;
    let _ = state.listen.set(listener.local_addr()?);
    // Servers on the primary bill, release and check, each what its leases hold; a
    // read-only server only answers.
    if !read_only {
        if let Err(e) = state.leases.tend(true).await {
            tracing::warn!(error = %e, "taking the leases failed; the keeper retries");
        }
        state.leases.clone().spawn(true);
        app::billing::spawn_scheduler(state.clone(), true);
        app::releases::spawn_scheduler(state.clone(), true);
        app::checker::Checker::sharded(state.clone()).spawn();
        app::head_watch::spawn(state.clone(), settings.head_idle);
    }
    let leases = state.leases.clone();
    let admission = match settings.shed_lag {
        Some(limit) => settings.admission.watching_runtime(limit),
        None => settings.admission,
    };
    let app = http::router_with(state, metrics, admission);
    tracing::info!(address = %listener.local_addr()?, store = %redact(database_url), read_only, holder = leases.holder(), "serving");
    axum::serve(listener, app).with_graceful_shutdown(shutdown()).await?;
    // The work passes to the other servers now rather than when the leases expire.
    leases.give_up_all().await;
    tracing::info!("stopped");
    Ok(())
}

/// Answers a read-only GraphQL query as recorded at `instant`, as an auditor would see it.
pub async fn as_of_query(log: EventLog, instant: chrono::DateTime<chrono::Utc>, query: &str) -> anyhow::Result<String> {
    use async_graphql::parser::types::OperationType;
    let document = async_graphql::parser::parse_query(query).context("parsing the query")?;
    if document.operations.iter().any(|(_, op)| op.node.ty != OperationType::Query) {
        anyhow::bail!("only queries can be answered as of an instant");
    }
    let state = Arc::new(AppState::start(log, Arc::new(SystemClock), None).await?);
    let schema = graphql::build(state);
    let auditor = app::auth::Principal::Person {
        id: domain::PersonId(uuid::Uuid::nil()),
        name: "replay".into(),
        customer_id: None,
        staff_roles: [domain::person::StaffRole::Auditor].into(),
        token_expires_at: None,
    };
    let request = async_graphql::Request::new(query)
        .data(auditor)
        .data(graphql::AsOfRequest(instant))
        .data(app::state::LogReads::default());
    Ok(serde_json::to_string_pretty(&schema.execute(request).await)?)
}

/// Resolves on SIGTERM or Ctrl-C; in-flight requests finish first.
async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

/// A database URL without its password, for logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme), Some(at)) if at > scheme => match url[scheme + 3..at].split_once(':') {
            Some((user, _)) => format!("{}{}:***{}", &url[..scheme + 3], user, &url[at..]),
            None => url.to_owned(),
        },
        _ => url.to_owned(),
    }
}

/// A range of debtor accounts, `first-last`, of five digits each.
fn debtor_range(text: &str) -> Result<std::ops::RangeInclusive<u32>, String> {
    let (first, last) = text.split_once('-').ok_or("first-last, such as 10000-69999")?;
    let account = |s: &str| match s.trim().parse::<u32>() {
        Ok(n) if (10_000..=99_999).contains(&n) => Ok(n),
        _ => Err(format!("{s:?} is not a five-digit account")),
    };
    let (first, last) = (account(first)?, account(last)?);
    if first > last {
        return Err(format!("{first} comes after {last}"));
    }
    Ok(first..=last)
}
