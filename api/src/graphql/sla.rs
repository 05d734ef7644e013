//! SLA reports: one project's month, and every project's month for staff.

use async_graphql::{Context, ID, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use domain::{Period, ProjectId};

use super::scalars::{Decimal, SlaClass};
use super::{app, parse_id, principal, reads, view};
use app::error::ApiError;

#[derive(SimpleObject)]
pub struct Incident {
    pub monitor_id: ID,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub seconds: i64,
    /// Wholly inside maintenance announced in time, so not counted.
    pub excluded: bool,
}

#[derive(SimpleObject)]
pub struct ReportedMaintenance {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub reason: String,
    pub platform: bool,
    pub announced_in_time: bool,
    /// The VM whose agent asked for the window (node API), and its host name.
    pub vm_id: Option<ID>,
    pub hostname: Option<String>,
}

#[derive(SimpleObject)]
#[graphql(name = "SlaReport")]
pub struct SlaReportNode {
    pub project_id: ID,
    pub project_name: String,
    pub month: String,
    pub sla_class: SlaClass,
    pub target_percent: Decimal,
    pub availability_percent: Decimal,
    pub downtime_seconds: i64,
    pub excluded_maintenance_seconds: i64,
    pub breached: bool,
    pub incidents: Vec<Incident>,
    pub maintenance: Vec<ReportedMaintenance>,
    /// Per day of the month (Europe/Berlin), that day's availability in percent.
    pub daily_availability: Vec<Decimal>,
    pub pdf_url: String,
}

impl SlaReportNode {
    pub fn new(r: projections::sla::SlaReport, project_name: String) -> SlaReportNode {
        SlaReportNode {
            project_id: ID(r.project_id.to_string()),
            project_name,
            month: r.month.to_string(),
            sla_class: r.class.into(),
            target_percent: Decimal(r.target_percent),
            availability_percent: Decimal(r.availability_percent),
            downtime_seconds: r.downtime_seconds,
            excluded_maintenance_seconds: r.excluded_maintenance_seconds,
            breached: r.breached,
            incidents: r
                .incidents
                .into_iter()
                .map(|i| Incident {
                    monitor_id: ID(i.monitor_id.to_string()),
                    start: i.start,
                    end: i.end,
                    seconds: i.seconds,
                    excluded: i.excluded,
                })
                .collect(),
            maintenance: r
                .maintenance
                .into_iter()
                .map(|m| ReportedMaintenance {
                    start: m.start,
                    end: m.end,
                    reason: m.reason,
                    platform: m.platform,
                    announced_in_time: m.announced_in_time,
                    vm_id: m.vm.as_ref().map(|(id, _)| ID(id.to_string())),
                    hostname: m.vm.map(|(_, host)| host),
                })
                .collect(),
            daily_availability: r.daily.into_iter().map(Decimal).collect(),
            pdf_url: format!("/reports/sla/{}/{}.pdf", r.project_id, r.month),
        }
    }
}

pub fn month(s: &str) -> Result<Period, ApiError> {
    s.trim().parse().map_err(|e: domain::Invalid| ApiError::BadInput(e.to_string().replace("period", "month")))
}

#[derive(Default)]
pub struct SlaQuery;

#[Object]
impl SlaQuery {
    /// A project's availability in a month against its class's target, with the
    /// incidents and maintenance that went into it; with `asOf`, as recorded then.
    #[graphql(complexity = "super::limits::LOG_READ + child_complexity")]
    async fn sla_report(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
        month: String,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<SlaReportNode> {
        let who = principal(ctx)?;
        let id: ProjectId = parse_id(&project_id, "projectId")?;
        let month = self::month(&month)?;
        let view = view(ctx, as_of).await?;
        let found = view.with(app(ctx), |at| {
            let project = at.project(&id).filter(|p| p.customer_id.is_some_and(|c| who.can_read_customer(c)))?;
            Some((at.position(), project.name.clone()))
        });
        let Some((position, name)) = found else {
            return Err(ApiError::NotFound(format!("project {id} does not exist")).into());
        };
        let report = app::sla::report_of(app(ctx), position, id, month, reads(ctx)).await?;
        let report = report.ok_or_else(|| ApiError::NotFound(format!("project {id} does not exist")))?;
        Ok(SlaReportNode::new(report, name))
    }

    /// Every project's report for a month (staff), breached ones only if asked, worst first.
    #[graphql(complexity = "super::limits::FLEET_LOG_READ + child_complexity")]
    async fn sla_reports(
        &self,
        ctx: &Context<'_>,
        month: String,
        #[graphql(default_with = "Some(false)")] breached_only: Option<bool>,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<Vec<SlaReportNode>> {
        let who = principal(ctx)?;
        if !who.is_staff() {
            return Err(ApiError::forbidden().into());
        }
        let month = self::month(&month)?;
        let view = view(ctx, as_of).await?;
        Ok(all(app(ctx), view, month, breached_only.unwrap_or(false), reads(ctx)).await?)
    }
}

/// Every project's report for a month, worst availability first.
pub async fn all(
    app: &app::state::AppState,
    view: super::View,
    month: Period,
    breached_only: bool,
    reads: &app::state::LogReads,
) -> Result<Vec<SlaReportNode>, ApiError> {
    let (position, projects): (i64, Vec<(ProjectId, String)>) =
        view.with(app, |at| (at.position(), at.projects().map(|(id, p)| (*id, p.name.clone())).collect()));
    let ids: Vec<ProjectId> = projects.iter().map(|(id, _)| *id).collect();
    let names: std::collections::BTreeMap<ProjectId, String> = projects.into_iter().collect();
    let mut reports: Vec<_> = app::sla::reports(app, position, &ids, month, reads)
        .await?
        .into_iter()
        .filter(|r| !breached_only || r.breached)
        .map(|r| {
            let name = names.get(&r.project_id).cloned().unwrap_or_default();
            (r, name)
        })
        .collect();
    reports.sort_by(|a, b| a.0.availability_percent.cmp(&b.0.availability_percent).then(a.1.cmp(&b.1)));
    Ok(reports.into_iter().map(|(r, name)| SlaReportNode::new(r, name)).collect())
}
