//! One entity's own events read from the store up to a position, for the questions the
//! catalog answers from the log ([`crate::catalog::InLog`]).

use store::{EventLog, StoreError};

use crate::Recorded;

/// Events read per page.
const PAGE: u32 = 1_000;

/// The stream's events up to `position`, in log order, read by id (an index range).
pub(crate) async fn read(
    log: &EventLog,
    aggregate_type: &str,
    id: &str,
    position: i64,
) -> Result<Vec<Recorded>, StoreError> {
    let (mut events, mut after) = (vec![], 0);
    loop {
        let page = log.history(&[aggregate_type], id, after, PAGE).await?;
        for stored in page.iter().take_while(|e| e.position <= position) {
            // An undecodable event is skipped, as the catalog skips it (and counts it there).
            if let Ok(r) = Recorded::decode(stored) {
                events.push(r);
            }
        }
        match page.last() {
            Some(last) if page.len() == PAGE as usize && last.position < position => after = last.position,
            _ => break,
        }
    }
    Ok(events)
}
