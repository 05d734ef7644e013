//! Abusive GraphQL requests, each of which must be refused quickly with a clear error:
//! `directory bench abuse` times their refusals, and the API tests check each refusal.

use std::sync::Arc;
use std::time::{Duration, Instant};

use app::clock::SystemClock;
use app::state::AppState;

pub use crate::abuse_cases::{Case, Refusal, cases, query, send};

/// `directory bench abuse`: each case `rounds` times on an empty SQLite store, against a
/// plain small query; prints the slowest refusal of each.
pub async fn run(rounds: usize) -> anyhow::Result<()> {
    const TOKEN: &str = "bench-bootstrap";
    let dir = std::env::temp_dir().join(format!("directory-bench-abuse-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let url = format!("sqlite://{}", dir.join("abuse.db").display());
    let log = store::EventLog::connect(&url).await?;
    let state = Arc::new(AppState::start(log, Arc::new(SystemClock), Some(TOKEN)).await?);
    let baseline = Case { name: "plain query (baseline)", body: query("{ logHead { position } }".into()) };
    out!("directory bench abuse: each request {rounds} times, in-process over HTTP routing, one client");
    out!("{:<30} {:>8} {:>12} {:>10}  {}", "request", "status", "code", "max ms", "answer");
    let mut slowest = Duration::ZERO;
    let cases = cases();
    let mut worst_of: Vec<(Duration, usize)> = vec![];
    for (n, case) in std::iter::once(&baseline).chain(cases.iter()).enumerate() {
        // A router of its own per case: the cost of refusing is measured here, not the
        // wait of a client that keeps sending refused documents (`throttle.rs`).
        let router = api::http::router(state.clone(), None);
        let mut worst = Duration::ZERO;
        let mut last = None;
        for _ in 0..rounds {
            let r = send(&router, TOKEN, case).await;
            worst = worst.max(r.took);
            last = Some(r);
        }
        let r = last.expect("at least one round");
        if n > 0 {
            slowest = slowest.max(worst);
            worst_of.push((worst, n - 1));
        }
        let message = serde_json::from_str::<serde_json::Value>(&r.body)
            .ok()
            .and_then(|v| v["errors"][0]["message"].as_str().map(str::to_owned))
            .unwrap_or_else(|| r.body.chars().take(60).collect());
        out!(
            "{:<30} {:>8} {:>12} {:>10.2}  {}",
            case.name,
            r.status,
            r.code.as_deref().unwrap_or("-"),
            worst.as_secs_f64() * 1e3,
            message.chars().take(70).collect::<String>()
        );
    }
    out!("slowest refusal: {:.2} ms (target < 100 ms)", slowest.as_secs_f64() * 1e3);
    super::report::figure("abuse", "slowest_refusal_ms", slowest.as_secs_f64() * 1e3);
    worst_of.sort();
    let worst: Vec<&Case> = worst_of.iter().rev().take(2).map(|(_, n)| &cases[*n]).collect();
    let health = healthz_under_attack(&dir, &worst).await;
    let _ = std::fs::remove_dir_all(&dir);
    health
}

/// `/healthz` probes, one at a time, for this long idle and then under attack.
const PROBING: Duration = Duration::from_secs(10);

/// `/healthz` latency of a real server (a child process, its own runtime) while two clients
/// send the worst refused documents in a loop, against its latency idle: p99 against p99.
async fn healthz_under_attack(dir: &std::path::Path, worst: &[&Case]) -> anyhow::Result<()> {
    const TOKEN: &str = "bench-abuse-token-0123456789abcdefghij";
    let url = format!("sqlite://{}", dir.join("healthz.db").display());
    let server = super::Server::start(&url, TOKEN, &[], Duration::from_secs(60)).await?;
    let names: Vec<&str> = worst.iter().map(|c| c.name).collect();
    out!();
    out!("/healthz under attack: a real server, two clients looping the slowest refusals ({})", names.join(", "));
    let healthz = format!("{}/healthz", server.base);
    let idle = latencies(healthz.clone()).await?;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let attackers: Vec<_> = (0..2)
        .map(|i| {
            let (stop, endpoint) = (stop.clone(), format!("{}/graphql", server.base));
            let bodies: Vec<Vec<u8>> = worst.iter().map(|c| c.body.clone()).collect();
            tokio::spawn(async move {
                let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build()?;
                let mut sent = 0usize;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let body = bodies[(sent + i) % bodies.len()].clone();
                    let answer = client
                        .post(&endpoint)
                        .bearer_auth(TOKEN)
                        .header("content-type", "application/json")
                        .body(body)
                        .send()
                        .await?;
                    anyhow::ensure!(!answer.status().is_server_error(), "a refusal answered {}", answer.status());
                    answer.bytes().await?;
                    sent += 1;
                }
                Ok::<_, anyhow::Error>(sent)
            })
        })
        .collect();
    let attacked = latencies(healthz).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut sent = 0;
    for attacker in attackers {
        sent += attacker.await??;
    }
    let attacked = attacked?;
    let (p99_idle, p99_attacked) = (p99(&idle), p99(&attacked));
    let ratio = p99_attacked / p99_idle;
    out!("{:<22} {:>8} {:>10} {:>10}", "/healthz", "probes", "p50 ms", "p99 ms");
    out!("{:<22} {:>8} {:>10.3} {:>10.3}", "idle", idle.len(), percentile(&idle, 0.5), p99_idle);
    out!("{:<22} {:>8} {:>10.3} {:>10.3}", "under attack", attacked.len(), percentile(&attacked, 0.5), p99_attacked);
    out!("refused documents sent meanwhile: {sent} ({:.0}/s)", sent as f64 / PROBING.as_secs_f64());
    out!("p99 under attack / p99 idle: {ratio:.2} (target ≤ 2)");
    super::report::figure("abuse", "healthz_p99_idle_ms", p99_idle);
    super::report::figure("abuse", "healthz_p99_attacked_ms", p99_attacked);
    super::report::figure("abuse", "healthz_p99_ratio", ratio);
    drop(server);
    Ok(())
}

/// `/healthz` answered one after another for [`PROBING`]: each latency in ms, sorted. The
/// prober has a thread and runtime of its own, so the attackers' tasks in this process do
/// not delay its measurements (the two processes still share the machine's cores).
async fn latencies(url: String) -> anyhow::Result<Vec<f64>> {
    let prober = std::thread::spawn(move || -> anyhow::Result<Vec<f64>> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        runtime.block_on(async {
            let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build()?;
            let (started, mut times) = (Instant::now(), vec![]);
            while started.elapsed() < PROBING {
                let t = Instant::now();
                let answer = client.get(&url).send().await?;
                anyhow::ensure!(answer.status().is_success(), "/healthz answered {}", answer.status());
                answer.bytes().await?;
                times.push(t.elapsed().as_secs_f64() * 1e3);
                // A probe every millisecond or so, like a busy load balancer, not a tight loop.
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            times.sort_by(f64::total_cmp);
            Ok(times)
        })
    });
    tokio::task::spawn_blocking(move || prober.join()).await?.map_err(|_| anyhow::anyhow!("the prober panicked"))?
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    let i = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len().max(1)) - 1;
    sorted.get(i).copied().unwrap_or(f64::NAN)
}

fn p99(sorted: &[f64]) -> f64 {
    percentile(sorted, 0.99)
}
