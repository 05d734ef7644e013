//! The catalog as it was recorded at a past instant: the nearest stored snapshot at or
//! before the instant's log position, folded forward to that position. Recent answers are
//! kept, since a person paging through "as of" views asks for the same instant repeatedly.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use store::{EventLog, StoreError};

use crate::Catalog;
use crate::runner::load_snapshot;

/// How many past catalogs are kept (each is a whole catalog: keep few).
const KEEP: usize = 3;
const PAGE: u32 = 2000;

pub struct AsOf {
    log: EventLog,
    recent: Mutex<Vec<Arc<Catalog>>>,
}

impl AsOf {
    pub fn new(log: EventLog) -> AsOf {
        AsOf { log, recent: Mutex::new(Vec::new()) }
    }

    /// The catalog as recorded at `at`.
    pub async fn at(&self, at: DateTime<Utc>) -> Result<Arc<Catalog>, StoreError> {
        let position = self.log.position_at(at).await?;
        self.at_position(position).await
    }

    /// The catalog after folding the log up to and including `position`.
    pub async fn at_position(&self, position: i64) -> Result<Arc<Catalog>, StoreError> {
        if let Some(hit) = self.lock().iter().find(|c| c.position == position) {
            return Ok(hit.clone());
        }
        let mut catalog = load_snapshot(&self.log, position).await?.unwrap_or_default();
        while catalog.position < position {
            let page = self.log.read_after(catalog.position, PAGE).await?;
            let before = catalog.position;
            let upto = page.partition_point(|e| e.position <= position);
            catalog.fold(&page[..upto]);
            if page.len() < PAGE as usize || upto < page.len() || catalog.position == before {
                catalog.position = position;
            }
        }
        let catalog = Arc::new(catalog);
        let evicted = {
            let mut recent = self.lock();
            let evicted = (recent.len() >= KEEP).then(|| recent.remove(0));
            recent.push(catalog.clone());
            evicted
        };
        if let Some(old) = evicted {
            // Freeing a large catalog takes a while: not on the request's path.
            tokio::task::spawn_blocking(move || drop(old));
        }
        Ok(catalog)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Arc<Catalog>>> {
        self.recent.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
