//! SLA reports at a position, with the transitions the catalog no longer keeps read from
//! the monitors' logs (an old month, or a view from before the catalog settled them).

use domain::{MonitorId, Period, ProjectId};
use projections::from_log::{NeedsLog, with_log};
use projections::sla::{SlaReport, report};

use crate::error::ApiError;
use crate::state::{AppState, LogReads};

/// The reports of `projects` for `month` as of `position`, in the order asked; projects
/// unknown at that position are left out.
pub async fn reports(
    app: &AppState,
    position: i64,
    projects: &[ProjectId],
    month: Period,
    reads: &LogReads,
) -> Result<Vec<SlaReport>, ApiError> {
    let compute = |from_log: &projections::monitor_log::FromLog| {
        let catalog = app.catalog();
        let at = catalog.at(position);
        let (mut reports, mut missing) = (vec![], vec![]);
        for project in projects {
            match report(at, *project, month, from_log) {
                Ok(found) => reports.extend(found),
                Err(NeedsLog(monitors)) => missing.extend(monitors),
            }
        }
        if missing.is_empty() { Ok(reports) } else { Err(NeedsLog(missing)) }
    };
    let read = |monitors: Vec<MonitorId>| async move {
        app.transitions_in_log(&monitors, position, month.start(), reads).await
    };
    with_log(compute, read).await?.map_err(|NeedsLog(monitors)| {
        ApiError::Unavailable(format!("the transitions of {} monitors could not be read; try again", monitors.len()))
    })
}

/// One project's report, if the project is known at `position`.
pub async fn report_of(
    app: &AppState,
    position: i64,
    project: ProjectId,
    month: Period,
    reads: &LogReads,
) -> Result<Option<SlaReport>, ApiError> {
    Ok(reports(app, position, &[project], month, reads).await?.pop())
}
