//! `directory bench scale-out`: the Directory as several processes on one machine, on a
//! PostgreSQL primary and two streaming hot standbys of its own (`cluster`), with the
//! small fixture loaded. Each figure is set against its one-process baseline measured in
//! the same run:
//!
//! - catch-up: how long after a write is acknowledged another process's read models
//!   hold it, polling (the baseline) against notified;
//! - standby lag: acknowledged on the primary → answered by a standby's read-only server;
//! - reads: the portal's customer page, closed loop, on the primary's server alone against
//!   it plus the two standbys' servers;
//! - writes: customer registrations, closed loop, on one server against three on the primary;
//! - failover: the holder of the billing lease killed → its leases held by the others.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::{Value, json};

use super::Server;
use super::cluster::Cluster;
use super::report::figure;

const TOKEN: &str = "bench-scale-out-token-0123456789abcdef";
const REGISTER: &str = "mutation($i: RegisterCustomerInput!) { registerCustomer(input: $i) { id } }";
/// Closed-loop clients in each throughput phase, however many servers they are spread over.
const CLIENTS: usize = 32;

fn register(n: String) -> Value {
    json!({"query": REGISTER, "variables": {"i": {"name": format!("Scale {n}"), "country": "DE", "billingAddress": "Berlin"}}})
}

async fn graphql(client: &reqwest::Client, base: &str, body: &Value) -> anyhow::Result<Value> {
    let response = client
        .post(format!("{base}/graphql"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await?;
    let answer: Value = serde_json::from_slice(&response.bytes().await?)?;
    anyhow::ensure!(answer["errors"].is_null(), "{answer}");
    Ok(answer["data"].clone())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    sorted.get(((sorted.len() as f64 * q) as usize).min(sorted.len().saturating_sub(1))).copied().unwrap_or_default()
}

pub async fn scale_out(seconds: f64, lease_seconds: u64) -> anyhow::Result<()> {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).pool_max_idle_per_host(64).build()?;
    let primary = Cluster::primary()?;
    let log = store::EventLog::connect(&primary.url()).await?;
    let head = log.append_in_order(fixtures::generate(fixtures::Size::Small, 1).map(|c| c.appendable())).await?;
    let standbys = [Cluster::standby_of(&primary)?, Cluster::standby_of(&primary)?];
    out!("scale-out on this machine: one primary and two streaming standbys, the small fixture ({head} events)");
    let lease = lease_seconds.to_string();
    let env = [("DIRECTORY_LEASE_SECONDS", lease.as_str())];
    let patience = Duration::from_secs(120);
    let writer = Server::start_with(&primary.url(), TOKEN, &[], &env, patience).await?;

    catch_up(&client, &writer, &primary.url()).await?;

    let readers = [
        Server::start_with(&standbys[0].url(), TOKEN, &["--read-only"], &[], patience).await?,
        Server::start_with(&standbys[1].url(), TOKEN, &["--read-only"], &[], patience).await?,
    ];
    standby_lag(&client, &writer, &readers[0], seconds).await?;

    let customers =
        graphql(&client, &writer.base, &json!({"query": "{ customers(first: 200) { nodes { id } } }"})).await?;
    let customers: Vec<String> = customers["customers"]["nodes"]
        .as_array()
        .context("customers")?
        .iter()
        .filter_map(|c| c["id"].as_str().map(str::to_owned))
        .collect();
    let page = Arc::new(
        move |n: usize| json!({"query": super::load::CUSTOMER_PAGE, "variables": {"c": customers[n % customers.len()]}}),
    );
    out!("{:<44} {:>10} {:>12}", "throughput, closed loop of 32 clients", "servers", "per second");
    let one = closed_loop(&client, std::slice::from_ref(&writer.base), seconds, page.clone()).await?;
    let bases = vec![writer.base.clone(), readers[0].base.clone(), readers[1].base.clone()];
    let three = closed_loop(&client, &bases, seconds, page).await?;
    compare("reads", ["the customer page, primary only", "primary + two standbys"], one, three);
    drop(readers);

    let writes = Arc::new(|n: usize| register(format!("w{n}")));
    let one = closed_loop(&client, std::slice::from_ref(&writer.base), seconds, writes.clone()).await?;
    let more = [
        Server::start_with(&primary.url(), TOKEN, &[], &env, patience).await?,
        Server::start_with(&primary.url(), TOKEN, &[], &env, patience).await?,
    ];
    let bases = vec![writer.base.clone(), more[0].base.clone(), more[1].base.clone()];
    let writes = Arc::new(|n: usize| register(format!("x{n}")));
    let three = closed_loop(&client, &bases, seconds, writes).await?;
    compare("writes", ["registrations, one server", "three servers on the primary"], one, three);

    let mut servers = vec![writer];
    servers.extend(more);
    failover(&client, servers, lease_seconds).await?;
    Ok(())
}

/// Prints and records a throughput on one server against three: `{kind}_per_second_1`,
/// `…_3` and the ratio (`read_ratio_3_vs_1`, `write_ratio_3_vs_1`).
fn compare(kind: &str, [alone, three_label]: [&str; 2], one: f64, three: f64) {
    out!("{:<44} {:>10} {:>12.0}", format!("{kind}: {alone}"), 1, one);
    out!("{:<44} {:>10} {:>12.0}", format!("{kind}: {three_label}"), 3, three);
    figure("scale_out", &format!("{kind}_per_second_1"), one);
    figure("scale_out", &format!("{kind}_per_second_3"), three);
    figure("scale_out", &format!("{}_ratio_3_vs_1", kind.trim_end_matches('s')), three / one);
}

/// A write acknowledged by the server, then the time until this process's read models
/// hold it: one log polling only, one notified by the primary, measured at once.
async fn catch_up(client: &reqwest::Client, writer: &Server, url: &str) -> anyhow::Result<()> {
    let polled = projections::Projector::start(store::EventLog::connect_polling(url).await?).await?;
    let notified_log = store::EventLog::connect(url).await?;
    let notified = projections::Projector::start(notified_log.clone()).await?;
    let (mut by_poll, mut by_notice) = (vec![], vec![]);
    for n in 0..200u64 {
        graphql(client, &writer.base, &register(format!("c{n}"))).await?;
        let acked = Instant::now();
        let head = notified_log.head().await?.position;
        let limit = Duration::from_secs(5);
        let poll = async {
            polled.wait_for(head, limit).await;
            acked.elapsed()
        };
        let notice = async {
            notified.wait_for(head, limit).await;
            acked.elapsed()
        };
        let (polled_after, notified_after) = tokio::join!(poll, notice);
        by_poll.push(polled_after);
        by_notice.push(notified_after);
        // Writes at spread moments: right after a poll found the last one, a fixed pause
        // would always land at the same point of the poll's period.
        tokio::time::sleep(Duration::from_millis(20 + n * 7919 % 250)).await;
    }
    by_poll.sort();
    by_notice.sort();
    let (p50, p99) = (quantile(&by_poll, 0.5), quantile(&by_poll, 0.99));
    let (n50, n99) = (quantile(&by_notice, 0.5), quantile(&by_notice, 0.99));
    out!("{:<44} {:>10} {:>12}", "catch-up of another process, 200 writes", "p50 ms", "p99 ms");
    out!("{:<44} {:>10.2} {:>12.2}", "polling every 250 ms (before)", ms(p50), ms(p99));
    out!("{:<44} {:>10.2} {:>12.2}", "notified by the primary (after)", ms(n50), ms(n99));
    figure("scale_out", "catch_up_poll_p50_ms", ms(p50));
    figure("scale_out", "catch_up_poll_p99_ms", ms(p99));
    figure("scale_out", "catch_up_notify_p50_ms", ms(n50));
    figure("scale_out", "catch_up_notify_p99_ms", ms(n99));
    figure("scale_out", "catch_up_ratio_p50", ms(n50) / ms(p50));
    Ok(())
}

/// 100 writes a second on the primary for `seconds`; each acknowledged customer is asked
/// for on the standby's server until it is there.
async fn standby_lag(client: &reqwest::Client, writer: &Server, reader: &Server, seconds: f64) -> anyhow::Result<()> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(String, Instant)>();
    let total = (100.0 * seconds) as usize;
    let load = {
        let (client, base) = (client.clone(), writer.base.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(10));
            for n in 0..total {
                tick.tick().await;
                let data = graphql(&client, &base, &register(format!("l{n}"))).await?;
                let id = data["registerCustomer"]["id"].as_str().context("an id")?.to_owned();
                let _ = tx.send((id, Instant::now()));
            }
            anyhow::Ok(())
        })
    };
    let mut lags = vec![];
    while let Some((id, acked)) = rx.recv().await {
        let ask = json!({"query": "query($c: ID!) { customer(id: $c) { id } }", "variables": {"c": id}});
        while graphql(client, &reader.base, &ask).await?["customer"]["id"] != json!(id) {
            anyhow::ensure!(acked.elapsed() < Duration::from_secs(30), "the standby never showed {id}");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        lags.push(acked.elapsed());
    }
    load.await??;
    lags.sort();
    let (p50, p99, max) = (quantile(&lags, 0.5), quantile(&lags, 0.99), lags.last().copied().unwrap_or_default());
    out!("{:<44} {:>10} {:>12} {:>8}", "standby lag at 100 writes/s", "p50 ms", "p99 ms", "max ms");
    out!("{:<44} {:>10.2} {:>12.2} {:>8.1}", "acknowledged → answered by the standby", ms(p50), ms(p99), ms(max));
    figure("scale_out", "standby_lag_p50_ms", ms(p50));
    figure("scale_out", "standby_lag_p99_ms", ms(p99));
    figure("scale_out", "standby_lag_max_ms", ms(max));
    Ok(())
}

/// Requests answered per second by `CLIENTS` clients, each sending its next request when
/// the last is answered, spread evenly over `bases`, for `seconds`.
async fn closed_loop(
    client: &reqwest::Client,
    bases: &[String],
    seconds: f64,
    body: Arc<dyn Fn(usize) -> Value + Send + Sync>,
) -> anyhow::Result<f64> {
    let stop = Arc::new(AtomicBool::new(false));
    let (done, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let started = Instant::now();
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (client, base, body) = (client.clone(), bases[c % bases.len()].clone(), body.clone());
            let (stop, done, failed) = (stop.clone(), done.clone(), failed.clone());
            tokio::spawn(async move {
                let mut n = c;
                while !stop.load(Ordering::Relaxed) {
                    match graphql(&client, &base, &body(n)).await {
                        Ok(_) => done.fetch_add(1, Ordering::Relaxed),
                        Err(_) => failed.fetch_add(1, Ordering::Relaxed),
                    };
                    n += CLIENTS;
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await?;
    }
    let failed = failed.load(Ordering::Relaxed);
    anyhow::ensure!(failed == 0, "{failed} requests failed");
    Ok(done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64())
}

/// The live leases as staff read them: (name, holder).
async fn leases(client: &reqwest::Client, base: &str) -> anyhow::Result<Vec<(String, String)>> {
    let data = graphql(client, base, &json!({"query": "{ leases { name holder live } }"})).await?;
    Ok(data["leases"]
        .as_array()
        .context("leases")?
        .iter()
        .filter(|l| l["live"] == json!(true))
        .filter_map(|l| Some((l["name"].as_str()?.to_owned(), l["holder"].as_str()?.to_owned())))
        .collect())
}

fn pid_of(holder: &str) -> Option<u32> {
    holder.split(':').nth(1)?.parse().ok()
}

/// Kills the server holding the billing lease and times until the others hold the billing
/// lease and every monitor shard.
async fn failover(client: &reqwest::Client, mut servers: Vec<Server>, lease_seconds: u64) -> anyhow::Result<()> {
    let shards = app::leases::SHARDS as usize;
    let holder = loop {
        let now = leases(client, &servers[0].base).await?;
        let holders: BTreeSet<&str> =
            now.iter().filter(|(n, _)| n.starts_with("checker/")).map(|(_, h)| h.as_str()).collect();
        let billing = now.iter().find(|(n, _)| n == app::leases::BILLING).and_then(|(_, h)| pid_of(h));
        if holders.len() == servers.len() && billing.is_some() {
            break billing.unwrap_or_default();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let index = servers.iter().position(|s| s.pid() == holder).context("the billing holder is one of the servers")?;
    drop(servers.remove(index));
    let killed = Instant::now();
    loop {
        let now = leases(client, &servers[0].base).await?;
        let alive = |h: &str| pid_of(h) != Some(holder);
        let covered = now.iter().filter(|(n, h)| n.starts_with("checker/") && alive(h)).count() == shards;
        let billing = now.iter().any(|(n, h)| n == app::leases::BILLING && alive(h));
        if covered && billing {
            break;
        }
        anyhow::ensure!(
            killed.elapsed() < Duration::from_secs(10 * lease_seconds.max(1)),
            "the leases never passed on"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let took = killed.elapsed().as_secs_f64();
    out!("{:<44} {:>10} {:>12}", "failover of shared work", "lease s", "seconds");
    out!("{:<44} {:>10} {:>12.2}", "billing holder killed → leases held again", lease_seconds, took);
    figure("scale_out", "lease_seconds", lease_seconds);
    figure("scale_out", "failover_seconds", took);
    Ok(())
}
