//! `directory bench serve`: a real `directory serve` process on a fixture database, started
//! as after a restart (the newest snapshot stored): how long until `/readyz` answers, and
//! how much memory the process holds once it has answered the portal's pages, live and as
//! of past instants. The server runs read-only, so the fixture is not changed and no
//! scheduler or checker adds work of its own.

use std::time::{Duration, Instant};

use anyhow::Context;
use rand::{Rng, SeedableRng};

use super::report::figure;
use super::{Figures, FixtureDb};

const TOKEN: &str = "bench-serve-token-0123456789abcdef";

/// The resident and peak memory of a process, in MiB.
fn memory_mib(pid: u32) -> Option<(f64, f64)> {
    let pid = pid.to_string();
    Some((super::memory_mib(&pid, "VmRSS:")?, super::memory_mib(&pid, "VmHWM:")?))
}

pub(super) async fn run(fixture: &FixtureDb, requests: usize) -> anyhow::Result<()> {
    let (log, url) = fixture.open().await?;
    let head = log.head().await?.position;
    // The newest snapshot's position and size (its bytes are not kept here).
    let stored = async || -> anyhow::Result<Option<(i64, usize)>> {
        let snapshot = log.snapshot_at_or_before(projections::Catalog::SNAPSHOT_MODEL, i64::MAX).await?;
        Ok(snapshot.map(|(p, bytes)| (p, bytes.len())))
    };
    let mut snapshot = stored().await?;
    if snapshot.is_none_or(|(p, _)| p < head) {
        eprintln!("storing a snapshot at the head first, as a running primary would have");
        replay::rebuild::rebuild_and_swap(&log, |_, _| {}).await?;
        snapshot = stored().await?;
    }
    let snapshot_mib = snapshot.map_or(0.0, |(_, len)| len as f64 / 1048576.0);
    let (first_instant, last_instant) = (
        log.read_after(0, 1).await?.first().map(|e| e.recorded_at).context("an empty fixture")?,
        log.head().await?.recorded_at.context("an empty fixture")?,
    );
    drop(log);

    let starting = Instant::now();
    let server = super::Server::start(&url, TOKEN, &["--read-only"], Duration::from_secs(1800)).await?;
    let ready = starting.elapsed().as_secs_f64();
    let (base, pid) = (server.base.clone(), server.pid());
    let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build()?;
    let (rss_ready, _) = memory_mib(pid).context("reading the server's memory")?;

    // The portal's pages, live and as of random instants, through HTTP as the portal asks.
    let graphql = async |query: &str, variables: serde_json::Value| -> anyhow::Result<serde_json::Value> {
        let body = serde_json::to_vec(&serde_json::json!({ "query": query, "variables": variables }))?;
        let answer = client
            .post(format!("{base}/graphql"))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await?;
        Ok(serde_json::from_slice(&answer.bytes().await?)?)
    };
    let ids =
        graphql("{ customers(first: 500) { nodes { id projects { id vms { id } } } } }", serde_json::json!({})).await?;
    let customers = ids["data"]["customers"]["nodes"].as_array().context("customers")?;
    let projects: Vec<&serde_json::Value> =
        customers.iter().flat_map(|c| c["projects"].as_array().into_iter().flatten()).collect();
    let vms: Vec<&serde_json::Value> =
        projects.iter().flat_map(|p| p["vms"].as_array().into_iter().flatten()).collect();
    anyhow::ensure!(!projects.is_empty() && !vms.is_empty(), "the fixture has no projects or VMs: {ids}");
    let span = (last_instant - first_instant).num_seconds().max(1);
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let overview = "query($id: ID!, $t: DateTime) { infrastructureOverview(projectId: $id, asOf: $t) { vmCount vms { name lastGoodBackupAt } backupHealth { stale } } }";
    let backups = "query($id: ID!, $t: DateTime) { backupHistory(vmId: $id, first: 50, asOf: $t) { totalCount nodes { backupId status finishedAt expiredAt } } }";
    let (mut times, asking) = (vec![], Instant::now());
    for i in 0..requests {
        let at = (i % 2 == 0).then(|| first_instant + chrono::Duration::seconds(rng.random_range(0..span)));
        let (query, id) = match i % 4 {
            0 | 1 => (overview, &projects[rng.random_range(0..projects.len())]["id"]),
            _ => (backups, &vms[rng.random_range(0..vms.len())]["id"]),
        };
        let t = Instant::now();
        let answer = graphql(query, serde_json::json!({ "id": id, "t": at })).await?;
        times.push(t.elapsed());
        anyhow::ensure!(answer.get("errors").is_none(), "{answer}");
    }
    let (rss, peak) = memory_mib(pid).context("reading the server's memory")?;
    drop(server);
    let pages = Figures::new("pages", 1, asking.elapsed(), times);
    let (p50, p99) = (pages.p50.as_secs_f64() * 1e3, pages.p99.as_secs_f64() * 1e3);

    out!("directory bench serve: `directory serve --read-only` over {head} events, PostgreSQL");
    out!("{:<52} {:>10}", "figure", "value");
    out!("{:<52} {:>10.0}", "stored snapshot, MiB", snapshot_mib);
    out!("{:<52} {:>10.2}", "start to /readyz answering 200, s", ready);
    out!("{:<52} {:>10.0}", "resident memory when ready, MiB", rss_ready);
    out!("{:<52} {:>10.0}", format!("resident memory after {requests} requests, MiB"), rss);
    out!("{:<52} {:>10.0}", "peak resident memory, MiB", peak);
    out!("{:<52} {:>10.1}", "peak memory per 1,000 events, KiB", peak * 1024.0 / head as f64 * 1000.0);
    out!("{:<52} {:>6.2} / {:.2}", "overview and backup history over HTTP, p50 / p99 ms", p50, p99);
    figure("serve", "events", head);
    figure("serve", "snapshot_mib", snapshot_mib);
    figure("serve", "ready_seconds", ready);
    figure("serve", "rss_ready_mib", rss_ready);
    figure("serve", "rss_mib", rss);
    figure("serve", "peak_mib", peak);
    figure("serve", "requests_p50_ms", p50);
    figure("serve", "requests_p99_ms", p99);
    Ok(())
}
