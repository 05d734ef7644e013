//! The release policy's inputs at an instant, and the scheduler that makes each due
//! decision once. The inputs are read as the log stood at the decision instant, so a
//! decision made late (the server was down) is the one that was due.

use std::sync::Arc;
use std::time::Duration;

use domain::http_monitor::Observed;
use domain::release::{PolicyInputs, Release, ReleaseCommand};
use domain::{Instant, ReleaseId};

use crate::commands::Envelope;
use crate::error::ApiError;
use crate::state::{AppState, LogReads};

/// What the policy sees for a release at `instant`.
pub async fn inputs(app: &AppState, id: ReleaseId, instant: Instant) -> Result<(Release, PolicyInputs), ApiError> {
    let position = if instant <= app.now() { Some(app.position_at(instant).await?) } else { None };
    let (release, position, watched, min_soak_hours) = {
        let catalog = app.catalog();
        let live = catalog.live();
        let release =
            live.release(&id).cloned().ok_or_else(|| ApiError::NotFound(format!("release {id} does not exist")))?;
        let at = position.map_or(live, |p| catalog.at(p));
        let watched = at.platform_monitors(&release.channel, instant);
        let min_soak_hours = at.channel(&release.channel).min_soak_hours;
        (release, at.position(), watched, min_soak_hours)
    };
    // A monitor's state at the instant is its latest transition by then (which a decision
    // made long after may have to read from the monitor's log).
    let reads = LogReads::default();
    let mut platform_monitors_down = vec![];
    for monitor in watched {
        let transitions = app.transitions(monitor, position, instant, &reads).await?;
        if transitions.first().is_some_and(|t| t.at <= instant && t.state == Observed::Down) {
            platform_monitors_down.push(monitor);
        }
    }
    let inputs = PolicyInputs {
        at: instant,
        open_vetoes: release.open_vetoes(instant),
        platform_monitors_down,
        scheduled_at: release.scheduled_at.unwrap_or(instant),
        min_soak_hours,
    };
    Ok((release, inputs))
}

/// Makes every decision that is due at `now` and not made yet; answers the releases decided.
pub async fn decide_due(app: &AppState, now: Instant) -> Result<Vec<ReleaseId>, ApiError> {
    let due: Vec<(ReleaseId, Instant)> = {
        let catalog = app.catalog();
        catalog
            .live()
            .releases()
            .filter(|(_, r)| r.decision.is_none() && r.cancelled.is_none())
            .filter_map(|(id, r)| r.decision_due.filter(|d| *d <= now).map(|d| (*id, d)))
            .collect()
    };
    let mut decided = vec![];
    for (id, instant) in due {
        let (_, inputs) = inputs(app, id, instant).await?;
        let envelope = Envelope {
            actor: "system:release-policy".into(),
            command_id: uuid::Uuid::new_v4().to_string(),
            retryable: false,
            payload_hash: format!("decide:{id}"),
            reason: None,
        };
        match app
            .bus
            .execute(&app.bus.releases, &id.to_string(), ReleaseCommand::DecideByPolicy { inputs }, &envelope)
            .await
        {
            Ok(_) => decided.push(id),
            // Decided already, by a person or by another server: the first decision wins.
            Err(ApiError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(decided)
}

/// The release scheduler of `directory serve`: at start (decisions that fell due while the
/// server was down) and every 30 seconds; among several servers of one database, the one
/// holding the releases lease decides.
pub fn spawn_scheduler(app: Arc<AppState>, sharing: bool) {
    tokio::spawn(async move {
        loop {
            if sharing && app.leases.holds(crate::leases::RELEASES).is_none() {
                tokio::time::sleep(app.leases.ttl().min(Duration::from_secs(30))).await;
                continue;
            }
            match decide_due(&app, app.now()).await {
                Ok(decided) if !decided.is_empty() => tracing::info!(count = decided.len(), "release decisions made"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e.message(), "release decisions failed; retrying"),
            }
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
    });
}
