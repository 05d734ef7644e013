//! Read models: each a pure fold `apply(&mut state, &Recorded)` over the ordered log, with
//! no IO and no clock ("now" inside a fold is the event's `recorded_at`). The [`runner`]
//! is the adapter that reads the log and keeps a model caught up.

pub mod backup_history;
pub mod backup_log;
pub mod billing;
pub mod catalog;
pub mod envelope;
pub mod from_log;
pub mod keys;
pub mod monitor_log;
mod own_events;
pub mod runner;
pub mod search;
pub mod sla;
pub mod versions;

pub use backup_history::BackupView;
pub use catalog::{At, Catalog};
pub use envelope::Recorded;
pub use runner::{Projector, SNAPSHOT_EVERY};
