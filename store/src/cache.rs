//! An in-process cache of aggregates in front of the event store, so that a command on a
//! recently used aggregate does not read its events again.
//!
//! The cache may be stale (another process appended): then the append collides on the
//! stream sequence and the command is decided again on fresh state. A command that changes
//! nothing on cached state is also treated as a collision, and the bus re-decides a
//! refusal on fresh state, so a stale cache never turns into a wrong answer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cqrs_es::persist::{PersistedEventStore, PersistenceError};
use cqrs_es::{Aggregate, AggregateError, CqrsFramework, EventEnvelope, EventStore};

use crate::{EventLog, LogRepository};

/// Aggregates kept per type; the cache is emptied when it grows past this.
const CAPACITY: usize = 50_000;

/// An aggregate's state and the sequence of its last event.
type Entry<A> = (A, usize);

pub struct AggregateCache<A> {
    entries: Mutex<HashMap<String, Entry<A>>>,
}

impl<A: Clone> AggregateCache<A> {
    fn get(&self, id: &str) -> Option<Entry<A>> {
        self.lock().get(id).cloned()
    }

    fn put(&self, id: String, entry: Entry<A>) {
        let mut entries = self.lock();
        if entries.len() >= CAPACITY && !entries.contains_key(&id) {
            entries.clear();
        }
        entries.insert(id, entry);
    }

    fn forget(&self, id: &str) {
        self.lock().remove(id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry<A>>> {
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The context of a loaded aggregate, remembering whether it came from the cache.
pub struct Loaded<A> {
    id: String,
    aggregate: A,
    sequence: usize,
    cached: bool,
}

impl<A: Aggregate> cqrs_es::AggregateContext<A> for Loaded<A> {
    fn aggregate(&mut self) -> &mut A {
        &mut self.aggregate
    }
}

/// The event store with the cache in front.
pub struct CachedStore<A: Aggregate> {
    inner: PersistedEventStore<LogRepository, A>,
    cache: Arc<AggregateCache<A>>,
}

impl<A: Aggregate + Clone> EventStore<A> for CachedStore<A> {
    type AC = Loaded<A>;

    async fn load_events(&self, id: &str) -> Result<Vec<EventEnvelope<A>>, AggregateError<A::Error>> {
        self.inner.load_events(id).await
    }

    async fn load_aggregate(&self, id: &str) -> Result<Loaded<A>, AggregateError<A::Error>> {
        if let Some((aggregate, sequence)) = self.cache.get(id) {
            return Ok(Loaded { id: id.to_owned(), aggregate, sequence, cached: true });
        }
        let context = self.inner.load_aggregate(id).await?;
        Ok(Loaded {
            id: id.to_owned(),
            aggregate: context.aggregate,
            sequence: context.current_sequence,
            cached: false,
        })
    }

    async fn commit(
        &self,
        events: Vec<A::Event>,
        loaded: Loaded<A>,
        metadata: HashMap<String, String>,
    ) -> Result<Vec<EventEnvelope<A>>, AggregateError<A::Error>> {
        if events.is_empty() && loaded.cached {
            // "Nothing to do" on possibly stale state: decide again on fresh state.
            self.cache.forget(&loaded.id);
            return Err(PersistenceError::OptimisticLockError.into());
        }
        let after = (loaded.aggregate.clone(), loaded.sequence + events.len());
        let context = cqrs_es::persist::EventStoreAggregateContext {
            aggregate_id: loaded.id.clone(),
            aggregate: loaded.aggregate,
            current_sequence: loaded.sequence,
            current_snapshot: None,
        };
        match self.inner.commit(events, context, metadata).await {
            Ok(committed) => {
                self.cache.put(loaded.id, after);
                Ok(committed)
            }
            Err(e) => {
                self.cache.forget(&loaded.id);
                Err(e)
            }
        }
    }
}

/// A command framework for one aggregate type over the log, in plain event-store mode
/// (cqrs-es 0.5's snapshot modes apply events twice), with the aggregate cache.
pub struct Cqrs<A: Aggregate + Clone> {
    framework: CqrsFramework<A, CachedStore<A>>,
    cache: Arc<AggregateCache<A>>,
}

pub fn cqrs<A: Aggregate + Clone>(log: &EventLog, services: A::Services) -> Cqrs<A> {
    let cache = Arc::new(AggregateCache { entries: Mutex::new(HashMap::new()) });
    let store =
        CachedStore { inner: PersistedEventStore::new_event_store(LogRepository::new(log)), cache: cache.clone() };
    Cqrs { framework: CqrsFramework::new(store, vec![], services), cache }
}

impl<A: Aggregate + Clone> Cqrs<A> {
    /// Loads (or takes from the cache), decides, and appends.
    pub async fn execute_with_metadata(
        &self,
        id: &str,
        command: A::Command,
        metadata: HashMap<String, String>,
    ) -> Result<(), AggregateError<A::Error>> {
        self.framework.execute_with_metadata(id, command, metadata).await
    }

    /// As [`Cqrs::execute_with_metadata`], with a guard the store checks in the append's
    /// transaction (a refused guard is an `UnexpectedError` holding
    /// [`IdInUse`](crate::IdInUse) or [`Claimed`](crate::Claimed)).
    pub async fn execute_guarded(
        &self,
        id: &str,
        command: A::Command,
        metadata: HashMap<String, String>,
        guard: crate::Guard,
    ) -> Result<(), AggregateError<A::Error>> {
        crate::repository::GUARD.scope(guard, self.framework.execute_with_metadata(id, command, metadata)).await
    }

    /// Drops the cached state, so the next command reads the aggregate's events.
    pub fn forget(&self, id: &str) {
        self.cache.forget(id);
    }

    /// Declares an id that was just generated: its aggregate cannot exist yet, so the next
    /// command need not read the store (a wrong guess only costs a collision and a retry).
    pub fn assume_new(&self, id: &str) {
        self.cache.put(id.to_owned(), (A::default(), 0));
    }
}
