//! Work that one server process at a time does when several serve one database: the
//! monitors' checks (spread over [`SHARDS`] leases, shared out evenly among the live
//! processes), the billing run and the release decisions (one lease each), and the
//! deciding of a node's maintenance slot (a short lease per VM, see [`Leases::lock`]).
//!
//! A lease is held until an instant of the database's clock; this process counts its own
//! lease as held only until a little before that, measured from before it asked, so it
//! stops before anyone else may start. A killed holder's work passes to another process
//! once its leases expire, at the next round of that process's keeper.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use store::{EventLog, StoreError};
use tokio::time::Instant;

use crate::error::ApiError;

/// How many leases the monitors are spread over.
pub const SHARDS: u32 = 16;
/// The billing scheduler's lease.
pub const BILLING: &str = "billing";
/// The release scheduler's lease.
pub const RELEASES: &str = "releases";
/// Each live process's presence, by holder: the monitors are shared among these.
const MEMBERS: &str = "members/";
/// A VM's maintenance slot being decided (see [`Leases::lock`]).
pub const MAINTENANCE: &str = "maintenance/";
/// How long an expired presence or lock is kept for staff to see.
const FORGET_AFTER: Duration = Duration::from_secs(24 * 3600);
/// How long a lease lasts when the deployment configured nothing.
pub const DEFAULT_TTL: Duration = Duration::from_secs(15);

/// The leases of this process.
pub struct Leases {
    log: EventLog,
    holder: String,
    ttl: Duration,
    held: Mutex<HashMap<String, Held>>,
}

#[derive(Clone, Copy)]
struct Held {
    token: i64,
    /// Until when this process counts the lease as its own.
    until: Instant,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The lease of the monitors whose id falls in shard `n`.
pub fn shard(n: u32) -> String {
    format!("checker/{n:02}")
}

/// The shard a monitor's checks belong to.
pub fn shard_of(id: &uuid::Uuid) -> u32 {
    (id.as_u128() % u128::from(SHARDS)) as u32
}

impl Leases {
    /// The leases of a process that names itself after its host, its pid and a random
    /// part (a restarted process is a new holder).
    pub fn new(log: EventLog, ttl: Duration) -> Arc<Leases> {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        let host = if host.trim().is_empty() { "directory" } else { host.trim() };
        let random = uuid::Uuid::new_v4().simple().to_string();
        let holder = format!("{host}:{}:{}", std::process::id(), &random[..8]);
        Arc::new(Leases { log, holder, ttl: ttl.max(Duration::from_secs(1)), held: Mutex::new(HashMap::new()) })
    }

    /// This process's name in the lease table.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// How long a lease lasts.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The token of the lease `name`, while this process holds it.
    pub fn holds(&self, name: &str) -> Option<i64> {
        lock(&self.held).get(name).filter(|h| h.until > Instant::now()).map(|h| h.token)
    }

    /// The token of the shard a monitor belongs to, while this process holds it.
    pub fn checks(&self, monitor: &uuid::Uuid) -> Option<i64> {
        self.holds(&shard(shard_of(monitor)))
    }

    /// Takes or renews one lease; answers whether this process holds it now.
    pub async fn take(&self, name: &str) -> Result<bool, StoreError> {
        let asked = Instant::now();
        let token = self.log.take_lease(name, &self.holder, self.ttl).await?;
        let mut held = lock(&self.held);
        match token {
            // Counted from before the question, less a tenth for clocks that run apart.
            Some(token) => {
                held.insert(name.to_owned(), Held { token, until: asked + self.ttl.mul_f64(0.9) });
            }
            None => {
                held.remove(name);
            }
        }
        Ok(token.is_some())
    }

    /// Gives one lease up now.
    pub async fn give_up(&self, name: &str) -> Result<(), StoreError> {
        lock(&self.held).remove(name);
        self.log.release_lease(name, &self.holder).await
    }

    /// Gives every lease up, for a process that is stopping: its work passes on at once.
    pub async fn give_up_all(&self) {
        let names: Vec<String> = lock(&self.held).keys().cloned().collect();
        for name in names {
            if let Err(e) = self.give_up(&name).await {
                tracing::warn!(lease = %name, error = %e, "giving up a lease failed; it expires by itself");
            }
        }
    }

    /// One round of the keeper: says this process is alive (its `members/` lease), renews
    /// what it holds, takes or gives up monitor shards until it holds its even share of
    /// them among the live members, and takes the schedulers' leases if nobody holds them
    /// and this process runs the `schedulers`.
    pub async fn tend(&self, schedulers: bool) -> Result<(), StoreError> {
        let member = format!("{MEMBERS}{}", self.holder);
        self.take(&member).await?;
        let all = self.log.leases().await?;
        let is_shard = |name: &str| name.starts_with("checker/");
        let members = all.iter().filter(|l| l.live && l.name.starts_with(MEMBERS)).count().max(1);
        let share = SHARDS.div_ceil(members as u32) as usize;
        let mine: Vec<&str> = all
            .iter()
            .filter(|l| l.holder == self.holder && l.live && is_shard(&l.name))
            .map(|l| l.name.as_str())
            .collect();
        let mut holding = 0;
        for name in mine {
            if holding < share {
                holding += usize::from(self.take(name).await?);
            } else {
                // Given up at once, so that a new member finds its share free.
                self.give_up(name).await?;
            }
        }
        for n in 0..SHARDS {
            if holding >= share {
                break;
            }
            let name = shard(n);
            if !all.iter().any(|l| l.name == name && l.live) && self.take(&name).await? {
                holding += 1;
            }
        }
        for job in [BILLING, RELEASES].into_iter().filter(|_| schedulers) {
            if all.iter().any(|l| l.name == job && l.live && l.holder != self.holder) {
                lock(&self.held).remove(job);
            } else {
                self.take(job).await?;
            }
        }
        for prefix in [MEMBERS, MAINTENANCE] {
            self.log.forget_leases(prefix, FORGET_AFTER).await?;
        }
        Ok(())
    }

    /// Keeps the leases: a round every third of the lease's life.
    pub fn spawn(self: Arc<Self>, schedulers: bool) {
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(self.ttl / 3).await;
                if let Err(e) = self.tend(schedulers).await {
                    tracing::warn!(error = %e, "keeping the leases failed; retrying");
                }
            }
        });
    }

    /// Holds the lease `name` for one short piece of work, waiting up to `wait` for it;
    /// it is given up when the guard is dropped.
    pub async fn lock(self: &Arc<Self>, name: &str, wait: Duration) -> Result<LeaseGuard, ApiError> {
        if self.log.is_read_only() {
            return Err(ApiError::Unavailable("this server only reads; send changes to the primary".into()));
        }
        let deadline = Instant::now() + wait;
        loop {
            if self.take(name).await.map_err(ApiError::store)? {
                return Ok(LeaseGuard { leases: self.clone(), name: name.to_owned() });
            }
            if Instant::now() >= deadline {
                return Err(ApiError::Unavailable(format!("{name} is being decided by another server; try again")));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A lease held for one piece of work.
pub struct LeaseGuard {
    leases: Arc<Leases>,
    name: String,
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        let (leases, name) = (self.leases.clone(), std::mem::take(&mut self.name));
        tokio::spawn(async move {
            let _ = leases.give_up(&name).await;
        });
    }
}
