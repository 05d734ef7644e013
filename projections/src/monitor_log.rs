//! A monitor's transitions read from the store, for the questions the catalog no longer
//! answers from memory ([`crate::catalog::InLog`]): transitions that took effect long ago
//! are settled. Folded with the catalog's own [`transitions_from_events`].

use std::collections::BTreeMap;

use domain::MonitorId;
use domain::http_monitor::{HttpMonitor, Transition};
use store::{EventLog, StoreError};

use crate::catalog::transitions_from_events;

/// Transitions read from monitors' logs, at one position and from one instant on.
pub type FromLog = BTreeMap<MonitorId, Vec<Transition>>;

/// What [`crate::At::transitions`] would answer for each monitor at `position` from
/// `since` on, read from the monitors' logs a few at a time.
pub async fn transitions(
    log: &EventLog,
    monitors: &[MonitorId],
    position: i64,
    since: domain::Instant,
) -> Result<FromLog, StoreError> {
    use futures::{StreamExt, TryStreamExt};
    futures::stream::iter(monitors.iter().copied())
        .map(|monitor| async move {
            let id = monitor.to_string();
            let events = crate::own_events::read(log, <HttpMonitor as cqrs_es::Aggregate>::TYPE, &id, position).await?;
            Ok::<_, StoreError>((monitor, transitions_from_events(&events, position, since)))
        })
        .buffered(crate::backup_log::LOG_READS)
        .try_collect()
        .await
}
