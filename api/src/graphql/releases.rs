//! Platform releases: scheduling, vetoes, decisions by the policy or by staff, and the
//! policy's answer for any instant.

use async_graphql::{Context, Enum, ID, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use domain::person::StaffRole as Staff;
use domain::release::{ChannelCommand, DecidedBy, IsoWeek, Release, ReleaseCommand, channel_stream};
use domain::{ProjectId, ReleaseId};
use serde::Serialize;

use super::new_or;
use super::{View, answered, app, envelope, parse_id, parsed, principal, view};
use app::error::ApiError;
use app::state::AppState;

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq, Serialize)]
pub enum ReleaseState {
    Scheduled,
    Approved,
    Held,
    RolledOut,
    Cancelled,
}

#[derive(SimpleObject)]
pub struct ReleaseDecision {
    pub approve: bool,
    /// Made by the policy (not by a person).
    pub automatic: bool,
    pub at: DateTime<Utc>,
    pub failed_conditions: Vec<String>,
    /// A person's reason for a decision by hand.
    pub reason: Option<String>,
}

#[derive(SimpleObject)]
pub struct Veto {
    /// The person who vetoed (none for automation).
    pub by: Option<ID>,
    pub reason: String,
    pub at: DateTime<Utc>,
    pub withdrawn: bool,
}

#[derive(SimpleObject)]
pub struct ReleaseChannelSettings {
    pub channel: String,
    pub lead_hours: i64,
    pub min_soak_hours: i64,
    pub platform_project_id: Option<ID>,
}

pub struct ReleaseNode(pub ReleaseId, pub Release);

#[Object(name = "Release")]
impl ReleaseNode {
    async fn id(&self) -> ID {
        ID(self.0.to_string())
    }
    async fn channel(&self) -> &str {
        &self.1.channel
    }
    async fn iso_week(&self) -> String {
        self.1.week.map(|w| w.to_string()).unwrap_or_default()
    }
    async fn window_start(&self) -> DateTime<Utc> {
        self.1.window_start.unwrap_or_default()
    }
    async fn decision_due_at(&self) -> DateTime<Utc> {
        self.1.decision_due.unwrap_or_default()
    }
    async fn changelog(&self) -> &str {
        &self.1.changelog
    }
    async fn scheduled_at(&self) -> Option<DateTime<Utc>> {
        self.1.scheduled_at
    }
    async fn state(&self) -> ReleaseState {
        let r = &self.1;
        match (&r.cancelled, r.rolled_out_at, &r.decision) {
            (Some(_), _, _) => ReleaseState::Cancelled,
            (None, Some(_), _) => ReleaseState::RolledOut,
            (None, None, None) => ReleaseState::Scheduled,
            (None, None, Some(d)) if d.approve => ReleaseState::Approved,
            (None, None, Some(_)) => ReleaseState::Held,
        }
    }
    /// When the rollout finished, as staff recorded it.
    async fn rolled_out_at(&self) -> Option<DateTime<Utc>> {
        self.1.rolled_out_at
    }
    /// When it was called off; why, for staff (customers see that it was).
    async fn cancelled_at(&self) -> Option<DateTime<Utc>> {
        self.1.cancelled.as_ref().map(|c| c.at)
    }
    async fn cancellation_reason(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        if !principal(ctx)?.is_staff() {
            return Ok(None);
        }
        Ok(self.1.cancelled.as_ref().map(|c| c.reason.clone()))
    }
    /// How and why it was decided (staff and auditors; customers see the state only).
    async fn decision(&self, ctx: &Context<'_>) -> Result<Option<ReleaseDecision>> {
        if !principal(ctx)?.is_staff() {
            return Ok(None);
        }
        Ok(self.1.decision.as_ref().map(|d| ReleaseDecision {
            approve: d.approve,
            automatic: d.by == DecidedBy::Policy,
            at: d.at,
            failed_conditions: d.failed_conditions.clone(),
            reason: d.reason.clone(),
        }))
    }
    /// Who vetoed and why (staff and auditors; empty for customers).
    async fn vetoes(&self, ctx: &Context<'_>) -> Result<Vec<Veto>> {
        if !principal(ctx)?.is_staff() {
            return Ok(vec![]);
        }
        Ok(self
            .1
            .vetoes
            .iter()
            .map(|(by, v)| Veto {
                by: by.parse::<uuid::Uuid>().ok().map(|u| ID(u.to_string())),
                reason: v.reason.clone(),
                at: v.at,
                withdrawn: v.withdrawn_at.is_some(),
            })
            .collect())
    }
}

/// Refuses everyone but staff (of any role) and the bootstrap token.
fn staff_only(ctx: &Context<'_>) -> Result<(), ApiError> {
    match principal(ctx)?.is_staff() {
        true => Ok(()),
        false => Err(ApiError::staff_only()),
    }
}

/// The shared path of the commands on one release: the roles, the release (NOT_FOUND when
/// unknown), the command made from the actor and the instant, and the answer.
async fn release_command(
    ctx: &Context<'_>,
    release_id: &ID,
    roles: &[Staff],
    (command_id, reason): (Option<&ID>, Option<String>),
    command: impl FnOnce(String, domain::Instant) -> ReleaseCommand,
) -> Result<ReleaseNode, ApiError> {
    let (app, who) = (app(ctx), principal(ctx)?);
    who.require(roles)?;
    let id: ReleaseId = parse_id(release_id, "releaseId")?;
    release_node(app, id, View::Live)?;
    let env = envelope(ctx, who, command_id, reason)?;
    let done = app.bus.execute(&app.bus.releases, &id.to_string(), command(who.actor(), app.now()), &env).await?;
    release_node(app, id, answered(&done))
}

fn release_node(app: &AppState, id: ReleaseId, view: View) -> Result<ReleaseNode, ApiError> {
    let found = view.with(app, |at| at.release(&id).cloned());
    found.map(|r| ReleaseNode(id, r)).ok_or_else(|| ApiError::NotFound(format!("release {id} does not exist")))
}

#[derive(Default)]
pub struct ReleasesQuery;

#[Object]
impl ReleasesQuery {
    /// Releases by window, newest first, of one channel or all; with `asOf`, as recorded then.
    /// Customers see each release's schedule and state; how it was decided is for staff.
    async fn releases(
        &self,
        ctx: &Context<'_>,
        channel: Option<String>,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<Vec<ReleaseNode>> {
        principal(ctx)?;
        let view = view(ctx, as_of).await?;
        let mut nodes: Vec<ReleaseNode> = view.with(app(ctx), |at| {
            at.releases()
                .filter(|(_, r)| channel.as_deref().is_none_or(|c| r.channel == c.trim()))
                .map(|(id, r)| ReleaseNode(*id, r.clone()))
                .collect()
        });
        nodes.sort_by(|a, b| b.1.window_start.cmp(&a.1.window_start).then(a.1.channel.cmp(&b.1.channel)));
        Ok(nodes)
    }

    /// What the policy would decide for the release at `at`, by the same code the
    /// scheduler runs (staff and auditors: it names open vetoes and platform monitors).
    async fn release_policy_preview(
        &self,
        ctx: &Context<'_>,
        release_id: ID,
        at: DateTime<Utc>,
    ) -> Result<ReleaseDecision> {
        staff_only(ctx)?;
        let id: ReleaseId = parse_id(&release_id, "releaseId")?;
        let (_, inputs) = app::releases::inputs(app(ctx), id, at).await?;
        let verdict = domain::release::policy(&inputs);
        Ok(ReleaseDecision {
            approve: verdict.approve,
            automatic: true,
            at,
            failed_conditions: verdict.failed_conditions,
            reason: None,
        })
    }

    /// A channel's settings (the defaults until staff configure it; staff and auditors).
    async fn release_channel(&self, ctx: &Context<'_>, channel: String) -> Result<ReleaseChannelSettings> {
        staff_only(ctx)?;
        let s = app(ctx).catalog().live().channel(channel.trim());
        Ok(ReleaseChannelSettings {
            channel: s.channel,
            lead_hours: s.lead_hours,
            min_soak_hours: s.min_soak_hours,
            platform_project_id: s.platform_project.map(|p| ID(p.to_string())),
        })
    }
}

#[derive(Default)]
pub struct ReleasesMutation;

#[Object]
impl ReleasesMutation {
    /// Schedules a release for an ISO week (`2026-W48`): the window opens that Monday at
    /// 21:00 Europe/Berlin; the decision is due the channel's lead time before (staff OPS).
    async fn schedule_release(
        &self,
        ctx: &Context<'_>,
        channel: String,
        iso_week: String,
        changelog: String,
        id: Option<ID>,
        command_id: Option<ID>,
    ) -> Result<ReleaseNode> {
        let (app, who) = (app(ctx), principal(ctx)?);
        who.require(&[Staff::Ops])?;
        let week: IsoWeek = iso_week.parse().map_err(|e: domain::Invalid| ApiError::BadInput(e.to_string()))?;
        let (rid, generated): (ReleaseId, bool) = new_or(&id)?;
        let lead_hours = app.catalog().live().channel(channel.trim()).lead_hours;
        let env = envelope(ctx, who, command_id.as_ref(), None)?;
        let cmd = ReleaseCommand::Schedule { id: rid, channel, week, changelog, lead_hours, now: app.now() };
        let done = app.bus.create(&app.bus.releases, (&rid.to_string(), generated), cmd, &env).await?;
        Ok(release_node(app, parsed(done.aggregate_id())?, answered(&done))?)
    }

    /// Vetoes a release before its window (staff OPS or BILLING); the policy holds it while the veto is open.
    async fn veto_release(
        &self,
        ctx: &Context<'_>,
        release_id: ID,
        reason: String,
        command_id: Option<ID>,
    ) -> Result<ReleaseNode> {
        // Staff who may change things; auditors change nothing.
        let envelope = (command_id.as_ref(), Some(reason.clone()));
        Ok(release_command(ctx, &release_id, &[Staff::Ops, Staff::Billing], envelope, |by, at| ReleaseCommand::Veto {
            by,
            reason,
            at,
        })
        .await?)
    }

    /// Withdraws one's own veto (staff OPS or BILLING).
    async fn withdraw_veto(&self, ctx: &Context<'_>, release_id: ID, command_id: Option<ID>) -> Result<ReleaseNode> {
        let envelope = (command_id.as_ref(), None);
        Ok(release_command(ctx, &release_id, &[Staff::Ops, Staff::Billing], envelope, |by, at| {
            ReleaseCommand::WithdrawVeto { by, at }
        })
        .await?)
    }

    /// Approves or holds a release by hand before its window (staff OPS); the first
    /// decision wins, a second answers CONFLICT.
    async fn decide_release(
        &self,
        ctx: &Context<'_>,
        release_id: ID,
        approve: bool,
        reason: String,
        command_id: Option<ID>,
    ) -> Result<ReleaseNode> {
        let envelope = (command_id.as_ref(), Some(reason.clone()));
        Ok(release_command(ctx, &release_id, &[Staff::Ops], envelope, |by, at| ReleaseCommand::DecideByHand {
            by,
            approve,
            reason,
            at,
        })
        .await?)
    }

    /// Calls a release off before its window opens, decided or not (staff OPS); the
    /// scheduler then decides nothing for it.
    async fn cancel_release(
        &self,
        ctx: &Context<'_>,
        release_id: ID,
        reason: String,
        command_id: Option<ID>,
    ) -> Result<ReleaseNode> {
        let envelope = (command_id.as_ref(), Some(reason.clone()));
        Ok(release_command(ctx, &release_id, &[Staff::Ops], envelope, |by, at| ReleaseCommand::Cancel {
            by,
            reason,
            at,
        })
        .await?)
    }

    /// Records that an approved release was rolled out, finishing at `at`: after its window
    /// opened and not in the future (staff OPS).
    async fn mark_release_rolled_out(
        &self,
        ctx: &Context<'_>,
        release_id: ID,
        at: DateTime<Utc>,
        command_id: Option<ID>,
        reason: Option<String>,
    ) -> Result<ReleaseNode> {
        let envelope = (command_id.as_ref(), reason);
        Ok(release_command(ctx, &release_id, &[Staff::Ops], envelope, |by, now| ReleaseCommand::MarkRolledOut {
            by,
            at,
            now,
        })
        .await?)
    }

    /// A channel's lead time, soak time and platform project (staff OPS).
    async fn configure_release_channel(
        &self,
        ctx: &Context<'_>,
        channel: String,
        lead_hours: i32,
        min_soak_hours: i32,
        platform_project_id: Option<ID>,
    ) -> Result<ReleaseChannelSettings> {
        let (app, who) = (app(ctx), principal(ctx)?);
        who.require(&[Staff::Ops])?;
        let platform: Option<ProjectId> =
            platform_project_id.as_ref().map(|p| parse_id(p, "platformProjectId")).transpose()?;
        if let Some(p) = platform
            && app.catalog().live().project(&p).is_none()
        {
            return Err(ApiError::NotFound(format!("project {p} does not exist")).into());
        }
        let env = envelope(ctx, who, None, None)?;
        let name = channel.trim().to_owned();
        let cmd = ChannelCommand::Configure {
            channel: name.clone(),
            lead_hours: lead_hours.into(),
            min_soak_hours: min_soak_hours.into(),
            platform_project: platform,
        };
        app.bus.execute(&app.bus.channels, &channel_stream(&name).to_string(), cmd, &env).await?;
        let s = app.catalog().live().channel(&name);
        Ok(ReleaseChannelSettings {
            channel: s.channel,
            lead_hours: s.lead_hours,
            min_soak_hours: s.min_soak_hours,
            platform_project_id: s.platform_project.map(|p| ID(p.to_string())),
        })
    }
}
