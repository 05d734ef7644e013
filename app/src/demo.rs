//! Fixtures into a store, and the demo: the demo fixture in an empty store, kept current
//! when it is started again later, plus tokens for a staff admin, an auditor and one
//! customer's person.

use std::collections::HashMap;
use std::io::{BufRead, Write};

use chrono::{Duration, NaiveTime};
use cqrs_es::Aggregate;
use domain::backup_log::{self, BackupLog, BackupLogCommand, BackupLogEvent, BackupStatus, VmFacts};
use domain::person::{PersonCommand, StaffRole};
use domain::release::{IsoWeek, Release, ReleaseCommand};
use domain::{Instant, PersonId, ReleaseId, TokenId, VmId};
use fixtures::{Commit, Size};
use store::{EventLog, Metadata};

use crate::auth;
use crate::commands::{Appending, Decided, Envelope};
use crate::error::ApiError;
use crate::state::AppState;

/// Writes a fixture as JSON lines, one commit a line; answers the number of events.
pub fn write(size: Size, seed: u64, out: &mut impl Write) -> anyhow::Result<usize> {
    let mut events = 0;
    for commit in fixtures::generate(size, seed) {
        events += commit.events.len();
        serde_json::to_writer(&mut *out, &commit)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(events)
}

/// Appends commits read as JSON lines; answers (events, seconds).
pub async fn load(log: &EventLog, input: impl BufRead) -> anyhow::Result<(usize, f64)> {
    let started = std::time::Instant::now();
    let mut count = 0;
    let mut commits = vec![];
    for line in input.lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let commit: Commit = serde_json::from_str(&line)?;
        count += commit.events.len();
        commits.push(commit.appendable());
        if commits.len() >= 50_000 {
            log.append_in_order(std::mem::take(&mut commits)).await?;
        }
    }
    log.append_in_order(commits).await?;
    Ok((count, started.elapsed().as_secs_f64()))
}

/// Fills an empty store with a fixture (seed 1) whose year of history ends `now`, so that
/// the demo is current whenever it is made; answers the number of events appended.
pub async fn fill_if_empty(log: &EventLog, size: Size, now: domain::Instant) -> anyhow::Result<usize> {
    if log.head().await?.position > 0 {
        return Ok(0);
    }
    let mut count = 0;
    let commits = fixtures::generate_in(size, 1, fixtures::Span::ending(now)).map(|c| {
        count += c.events.len();
        c.appendable()
    });
    log.append_in_order(commits).await?;
    Ok(count)
}

/// Whether the store holds a demo: its history begins with a fixture's events. A store that
/// began otherwise (a real one, started with `--demo` by mistake) is never added to.
pub async fn is_demo(log: &EventLog) -> Result<bool, ApiError> {
    let first = log.read_after(0, 1).await.map_err(ApiError::store)?;
    Ok(first.first().is_some_and(|e| e.metadata().actor == fixtures::ACTOR))
}

/// What [`catch_up`] added.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct CaughtUp {
    pub backups: usize,
    pub releases: usize,
}

/// The actor of what the demo adds on its own.
const DEMO: &str = "system:demo";

/// How far back a demo store is caught up: its backup server keeps a month of nights, and
/// what happened before that was never reported.
const CATCH_UP_DAYS: i64 = 31;

/// Brings a demo store up to `now` when it is started again after a while, as the platform
/// would have while it was off: every live VM's nightly backups since its last one (at most
/// [`CATCH_UP_DAYS`] back, good ones expiring after 30 days, a few failing), reported as a
/// backup server reports late ones; and each release channel's releases for this week and
/// the next, so that one is always ahead. Recorded times are the present; effective times
/// are the nights. Starting twice adds nothing the second time.
pub async fn catch_up(state: &AppState, now: Instant) -> Result<CaughtUp, ApiError> {
    let mut caught = CaughtUp::default();
    let vms: Vec<VmFacts> = {
        let catalog = state.catalog();
        catalog
            .live()
            .vms()
            .filter(|(_, v)| v.decommissioned_at.is_none())
            .filter_map(|(id, v)| {
                v.provisioned_at().map(|provisioned_at| VmFacts { id: *id, provisioned_at, decommissioned_at: None })
            })
            .collect()
    };
    let metadata = Metadata { actor: DEMO.into(), reason: Some("the demo caught up".into()), ..Metadata::default() };
    for vm in vms {
        let log = &state.bus.log;
        let vm = &vm;
        caught.backups += state
            .bus
            .append_together(&metadata, move || async move {
                let (mut backups, sequence) = backup_log_of(log, vm.id).await?;
                let events = nights_since(&mut backups, vm, now)?;
                let recorded = events.iter().filter(|e| !matches!(e, BackupLogEvent::BackupExpired { .. })).count();
                Ok(match events.is_empty() {
                    true => Decided::Nothing(0),
                    false => Decided::Append(vec![Appending::new(BackupLog::TYPE, vm.id, sequence, &events)], recorded),
                })
            })
            .await?;
    }
    let channels: Vec<(String, i64, Vec<IsoWeek>)> = {
        let catalog = state.catalog();
        let live = catalog.live();
        let mut names: Vec<String> = live.releases().map(|(_, r)| r.channel.clone()).collect();
        names.sort();
        names.dedup();
        names
            .into_iter()
            .map(|name| {
                let weeks = live.releases().filter(|(_, r)| r.channel == name).filter_map(|(_, r)| r.week).collect();
                let lead = live.channel(&name).lead_hours;
                (name, lead, weeks)
            })
            .collect()
    };
    for (channel, lead_hours, weeks) in channels {
        for week in [IsoWeek::of(now), IsoWeek::of(now + Duration::days(7))] {
            if week.window_start() <= now || weeks.contains(&week) {
                continue;
            }
            let id = ReleaseId(uuid::Uuid::new_v4());
            let envelope = Envelope {
                actor: DEMO.into(),
                command_id: uuid::Uuid::new_v4().to_string(),
                retryable: false,
                payload_hash: format!("demo release {channel} {week}"),
                reason: Some("the demo caught up".into()),
            };
            let changelog = format!("Platform release {week}: security updates and fixes");
            let cmd = ReleaseCommand::Schedule { id, channel: channel.clone(), week, changelog, lead_hours, now };
            state.bus.create::<Release>(&state.bus.releases, (&id.to_string(), true), cmd, &envelope).await?;
            caught.releases += 1;
        }
    }
    Ok(caught)
}

/// A VM's backup log as its stream holds it, and the stream's last sequence.
async fn backup_log_of(log: &EventLog, vm: VmId) -> Result<(BackupLog, i64), ApiError> {
    let (mut backups, mut after, mut sequence) = (BackupLog::default(), 0, 0);
    loop {
        let page = log.history(&[BackupLog::TYPE], &vm.to_string(), after, 1_000).await.map_err(ApiError::store)?;
        for e in &page {
            let event: BackupLogEvent = serde_json::from_str(&e.payload).map_err(|err| {
                ApiError::Unavailable(format!("backup event at {} does not decode: {err}", e.position))
            })?;
            backup_log::evolve(&mut backups, &event);
            (after, sequence) = (e.position, e.sequence);
        }
        if page.len() < 1_000 {
            return Ok((backups, sequence));
        }
    }
}

/// The nights' backups of a VM whose last one finished before `now`, decided (and folded
/// into `backups`) one by one as the backup server would report them: one a night from
/// 02:00, 3 % failing, sizes drifting from the last good one, good ones expiring after 30
/// days. A VM that was never backed up is left so.
fn nights_since(backups: &mut BackupLog, vm: &VmFacts, now: Instant) -> Result<Vec<BackupLogEvent>, ApiError> {
    let Some(last) = backups.backups.values().map(|b| b.finished_at).max() else { return Ok(vec![]) };
    let two = NaiveTime::from_hms_opt(2, 0, 0).expect("02:00");
    let earliest = (now - Duration::days(CATCH_UP_DAYS)).date_naive().and_time(two).and_utc();
    let mut night = (last.date_naive() + Duration::days(1)).and_time(two).and_utc().max(earliest);
    let mut size = backups
        .backups
        .values()
        .filter(|b| b.status == BackupStatus::Succeeded)
        .max_by_key(|b| b.finished_at)
        .and_then(|b| b.size_bytes)
        .unwrap_or(10_000_000_000);
    let mut events = vec![];
    let mut decide = |backups: &mut BackupLog, cmd| -> Result<(), ApiError> {
        for e in backup_log::decide(backups, cmd).map_err(|e| ApiError::refused(&e))? {
            backup_log::evolve(backups, &e);
            events.push(e);
        }
        Ok(())
    };
    loop {
        let dice = scatter(&format!("{}{night}", vm.id));
        let started = night + Duration::minutes((dice % 30) as i64);
        let finished = started + Duration::minutes(10 + (dice >> 8) as i64 % 50);
        if finished > now {
            break;
        }
        let ok = (dice >> 16) % 100 >= 3;
        size = (size + (dice >> 24) as i64 % 170_000_000 - 50_000_000).max(0);
        let cmd = BackupLogCommand::Record {
            vm: vm.clone(),
            backup_id: format!("b-{}", night.format("%Y%m%d")),
            status: if ok { BackupStatus::Succeeded } else { BackupStatus::Failed },
            started_at: started,
            finished_at: finished,
            size_bytes: ok.then_some(size),
            tags: vec!["daily".into()],
            error: (!ok).then(|| "snapshot timed out".into()),
        };
        decide(backups, cmd)?;
        let expiring: Vec<String> = backups
            .backups
            .iter()
            .filter(|(_, b)| b.status == BackupStatus::Succeeded && b.expired_at.is_none())
            .filter(|(_, b)| b.finished_at + Duration::days(30) <= night)
            .map(|(id, _)| id.clone())
            .collect();
        for backup_id in expiring {
            decide(backups, BackupLogCommand::Expire { backup_id, at: night })?;
        }
        night += Duration::days(1);
    }
    Ok(events)
}

/// A number that looks random and is the same for the same `key` (SplitMix64 over FNV-1a):
/// the caught-up nights vary as a fleet's do, and the same start decides the same.
fn scatter(key: &str) -> u64 {
    let mut x = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// New tokens for the demo's staff admin, auditor and one customer's person (tokens are
/// stored as hashes only, so each start issues fresh ones).
pub async fn tokens(state: &AppState) -> anyhow::Result<Vec<(String, String)>> {
    let picks: Vec<(String, PersonId)> = {
        let catalog = state.catalog();
        let staff = |role| {
            catalog
                .people
                .iter()
                .find(|(_, p)| p.staff_roles.contains(&role) && p.deactivated_at.is_none())
                .map(|(id, _)| *id)
        };
        let customer = catalog
            .people
            .iter()
            .filter(|(_, p)| p.customer_id.is_some() && p.deactivated_at.is_none())
            .min_by(|a, b| a.1.name.cmp(&b.1.name))
            .map(|(id, _)| *id);
        [("staff admin", staff(StaffRole::Admin)), ("auditor", staff(StaffRole::Auditor)), ("customer", customer)]
            .into_iter()
            .filter_map(|(label, id)| id.map(|id| (label.to_owned(), id)))
            .collect()
    };
    let mut issued = vec![];
    for (label, person) in picks {
        let token = auth::new_token();
        let token_id = TokenId(uuid::Uuid::new_v4());
        let envelope = Envelope::new(
            &auth::Principal::Bootstrap,
            "issueToken",
            &serde_json::json!([person, token_id]),
            None::<&str>,
            Some("demo token".into()),
        )
        .map_err(ApiError::into_anyhow)?;
        let cmd = PersonCommand::IssueToken {
            token_id,
            sha256: auth::token_hash(&token),
            expires_at: None,
            lifetime: state.token_lifetime(),
            at: state.now(),
        };
        state
            .bus
            .execute(&state.bus.people, &person.to_string(), cmd, &envelope)
            .await
            .map_err(ApiError::into_anyhow)?;
        let name = state.catalog().people.get(&person).map(|p| p.name.clone()).unwrap_or_default();
        issued.push((format!("{label} ({name})"), token));
    }
    Ok(issued)
}

/// Counts events per type in a fixture, for `fixtures generate --stats`.
pub fn stats(size: Size, seed: u64) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for commit in fixtures::generate(size, seed) {
        for e in commit.events {
            *counts.entry(e.event_type).or_default() += 1;
        }
    }
    counts
}

/// Bills the month before the current one, as the monthly run would have: the demo's
/// customers find last month's invoices. Answers how many are valid for it.
pub async fn bill_last_month(state: &AppState) -> Result<usize, ApiError> {
    let now = state.now();
    let period = domain::Period::of(now).previous();
    Ok(crate::billing::run(state, period, "system:demo", now).await?.len())
}
