//! The hash chain that makes the log tamper-evident.
//!
//! `chain_hash(n) = SHA-256( chain_hash(n-1) ‖ be64(position) ‖ canonical(event) )`, starting
//! from 32 zero bytes. `canonical` is each field as a big-endian u32 length and its UTF-8
//! bytes, in this order: aggregate type, aggregate id, sequence (decimal), event type,
//! event version, payload JSON text, metadata JSON text, recorded_at (RFC 3339, UTC,
//! microseconds). The JSON texts are the stored bytes, so an auditor recomputes the chain
//! from the table alone.

use chrono::{DateTime, SecondsFormat, Utc};
use sha2::{Digest, Sha256};

use crate::StoredEvent;

/// The chain hash before the first event.
pub const GENESIS: [u8; 32] = [0; 32];

/// The fields of an event that the chain covers.
pub struct Link<'a> {
    pub aggregate_type: &'a str,
    pub aggregate_id: &'a str,
    pub sequence: i64,
    pub event_type: &'a str,
    pub event_version: &'a str,
    pub payload: &'a str,
    pub metadata: &'a str,
    pub recorded_at: DateTime<Utc>,
}

/// An instant as the chain covers it: RFC 3339, UTC, six fractional digits.
pub fn canonical_instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The chain hash of an event at `position` following `previous`.
pub fn next(previous: &[u8; 32], position: i64, link: &Link<'_>) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(previous);
    h.update(position.to_be_bytes());
    let sequence = link.sequence.to_string();
    let recorded_at = canonical_instant(link.recorded_at);
    for field in [
        link.aggregate_type,
        link.aggregate_id,
        sequence.as_str(),
        link.event_type,
        link.event_version,
        link.payload,
        link.metadata,
        recorded_at.as_str(),
    ] {
        h.update((field.len() as u32).to_be_bytes());
        h.update(field.as_bytes());
    }
    h.finalize().into()
}

impl StoredEvent {
    pub fn link(&self) -> Link<'_> {
        Link {
            aggregate_type: &self.aggregate_type,
            aggregate_id: &self.aggregate_id,
            sequence: self.sequence,
            event_type: &self.event_type,
            event_version: &self.event_version,
            payload: &self.payload,
            metadata: &self.metadata,
            recorded_at: self.recorded_at,
        }
    }
}

/// Where a chain check stopped, if it did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Break {
    /// The event at this position is missing (a deleted or renumbered row).
    Missing { expected: i64, found: i64 },
    /// The event's stored hash does not match its content and predecessor.
    Altered { position: i64 },
    /// The log head does not match the last event.
    Head { position: i64 },
}

impl std::fmt::Display for Break {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Break::Missing { expected, found } => write!(f, "position {expected} is missing (next row is {found})"),
            Break::Altered { position } => write!(f, "event at position {position} does not match its chain hash"),
            Break::Head { position } => write!(f, "the log head does not match the last event (position {position})"),
        }
    }
}

/// Checks events in position order, carrying the state between pages.
#[derive(Debug, Clone)]
pub struct Verifier {
    pub position: i64,
    pub hash: [u8; 32],
}

impl Default for Verifier {
    fn default() -> Self {
        Verifier { position: 0, hash: GENESIS }
    }
}

impl Verifier {
    pub fn check(&mut self, event: &StoredEvent) -> Result<(), Break> {
        if event.position != self.position + 1 {
            return Err(Break::Missing { expected: self.position + 1, found: event.position });
        }
        let expected = next(&self.hash, event.position, &event.link());
        if expected != event.chain_hash {
            return Err(Break::Altered { position: event.position });
        }
        self.position = event.position;
        self.hash = expected;
        Ok(())
    }
}
