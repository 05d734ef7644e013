//! An event of the log, decoded.

use chrono::{DateTime, Utc};
use domain::AnyEvent;
use store::{Metadata, StoredEvent};

/// A decoded event with its place in the log.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub position: i64,
    pub recorded_at: DateTime<Utc>,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub metadata: Metadata,
    pub event: AnyEvent,
}

impl Recorded {
    pub fn decode(stored: &StoredEvent) -> Result<Recorded, domain::event::DecodeError> {
        Ok(Recorded {
            position: stored.position,
            recorded_at: stored.recorded_at,
            aggregate_id: stored.aggregate_id.clone(),
            sequence: stored.sequence,
            event_type: stored.event_type.clone(),
            metadata: stored.metadata(),
            event: AnyEvent::decode(&stored.aggregate_type, &stored.payload)?,
        })
    }
}
