//! What every request shares.

use std::sync::{Arc, RwLockReadGuard};

use domain::Instant;
use projections::{AsOf, Catalog, Projector};
use store::EventLog;

use crate::clock::Clock;
use crate::commands::Bus;

pub struct AppState {
    pub bus: Bus,
    /// The catalog as recorded at past instants.
    pub as_of: AsOf,
    pub clock: Arc<dyn Clock>,
    /// SHA-256 (hex) of `DIRECTORY_BOOTSTRAP_TOKEN`, if set.
    pub bootstrap_hash: Option<String>,
}

impl AppState {
    pub async fn start(
        log: EventLog,
        clock: Arc<dyn Clock>,
        bootstrap_token: Option<&str>,
    ) -> Result<AppState, store::StoreError> {
        let projector = Projector::start(log.clone()).await?;
        Ok(AppState {
            as_of: AsOf::new(log.clone()),
            bus: Bus::new(log, projector),
            clock,
            bootstrap_hash: bootstrap_token.filter(|t| !t.is_empty()).map(crate::auth::token_hash),
        })
    }

    pub fn catalog(&self) -> RwLockReadGuard<'_, Catalog> {
        self.bus.projector.read()
    }

    pub fn now(&self) -> Instant {
        self.clock.now()
    }
}
