//! Fixtures into a store, and the demo: the demo fixture in an empty store, plus tokens
//! for a staff admin, an auditor and one customer's person.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::time::Instant;

use domain::person::{PersonCommand, StaffRole};
use domain::{PersonId, TokenId};
use fixtures::{Commit, Size};
use store::EventLog;

use crate::auth;
use crate::commands::Envelope;
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
    let started = Instant::now();
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
