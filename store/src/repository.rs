//! The cqrs-es repository: stream reads through postgres-es / sqlite-es, appends through
//! the log's writer (which adds position, chain hash and command record).

use cqrs_es::Aggregate;
use cqrs_es::persist::{PersistedEventRepository, PersistenceError, ReplayStream, SerializedEvent, SerializedSnapshot};
use postgres_es::PostgresEventRepository;
use serde_json::Value;
use sqlite_es::SqliteEventRepository;
use tokio::sync::oneshot;

use crate::writer::{AppendError, Pending};
use crate::{EventLog, Pool};

/// Raised (inside `AggregateError::UnexpectedError`) when a command id was already
/// recorded by a concurrent commit: the caller answers that commit's result instead.
#[derive(Debug, thiserror::Error)]
#[error("command {0} was already applied")]
pub struct DuplicateCommand(pub String);

/// Raised (inside `AggregateError::UnexpectedError`) when a commit's new stream takes an
/// id that a stream of some type already uses (see [`crate::Guard::fresh_id`]).
#[derive(Debug, thiserror::Error)]
#[error("id {0} is already in use")]
pub struct IdInUse(pub String);

/// Raised (inside `AggregateError::UnexpectedError`) when another stream holds a name the
/// commit claims (see [`crate::Guard::claims`]); carries the claim's scope.
#[derive(Debug, thiserror::Error)]
#[error("a name of scope {0} is held by another stream")]
pub struct Claimed(pub String);

tokio::task_local! {
    /// The guard of the command being executed on this task (see [`crate::Cqrs::execute_guarded`]).
    pub(crate) static GUARD: crate::Guard;
}

#[derive(Debug, thiserror::Error)]
#[error("append failed: {0}")]
struct AppendFailed(String);

enum Reader {
    Postgres(PostgresEventRepository),
    Sqlite(SqliteEventRepository),
}

pub struct LogRepository {
    log: EventLog,
    reader: Reader,
}

impl LogRepository {
    pub fn new(log: &EventLog) -> Self {
        let reader = match log.pool() {
            Pool::Postgres(p) => Reader::Postgres(PostgresEventRepository::new(p.clone())),
            Pool::Sqlite(p) => Reader::Sqlite(SqliteEventRepository::new(p.clone())),
        };
        LogRepository { log: log.clone(), reader }
    }
}

impl PersistedEventRepository for LogRepository {
    async fn get_events<A: Aggregate>(&self, aggregate_id: &str) -> Result<Vec<SerializedEvent>, PersistenceError> {
        match &self.reader {
            Reader::Postgres(r) => r.get_events::<A>(aggregate_id).await,
            Reader::Sqlite(r) => r.get_events::<A>(aggregate_id).await,
        }
    }

    async fn get_last_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
        last_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        match &self.reader {
            Reader::Postgres(r) => r.get_last_events::<A>(aggregate_id, last_sequence).await,
            Reader::Sqlite(r) => r.get_last_events::<A>(aggregate_id, last_sequence).await,
        }
    }

    async fn get_snapshot<A: Aggregate>(&self, _: &str) -> Result<Option<SerializedSnapshot>, PersistenceError> {
        Ok(None)
    }

    async fn persist<A: Aggregate>(
        &self,
        events: &[SerializedEvent],
        _snapshot: Option<(String, Value, usize)>,
    ) -> Result<(), PersistenceError> {
        if events.is_empty() {
            return Ok(());
        }
        let (reply, answer) = oneshot::channel();
        let closed = || PersistenceError::ConnectionError(Box::new(AppendFailed("the writer stopped".into())));
        let guard = GUARD.try_with(Clone::clone).unwrap_or_default();
        let pending = Pending { events: events.to_vec(), guard, reply };
        self.log.writer().send(pending).await.map_err(|_| closed())?;
        match answer.await.map_err(|_| closed())? {
            Ok(_) => Ok(()),
            Err(AppendError::Conflict) => Err(PersistenceError::OptimisticLockError),
            Err(AppendError::DuplicateCommand(id)) => {
                Err(PersistenceError::UnknownError(Box::new(DuplicateCommand(id))))
            }
            Err(AppendError::IdInUse(id)) => Err(PersistenceError::UnknownError(Box::new(IdInUse(id)))),
            Err(AppendError::Claimed(scope)) => Err(PersistenceError::UnknownError(Box::new(Claimed(scope)))),
            Err(AppendError::Store(e)) => Err(PersistenceError::ConnectionError(Box::new(AppendFailed(e)))),
        }
    }

    async fn stream_events<A: Aggregate>(&self, aggregate_id: &str) -> Result<ReplayStream, PersistenceError> {
        match &self.reader {
            Reader::Postgres(r) => r.stream_events::<A>(aggregate_id).await,
            Reader::Sqlite(r) => r.stream_events::<A>(aggregate_id).await,
        }
    }

    async fn stream_all_events<A: Aggregate>(&self) -> Result<ReplayStream, PersistenceError> {
        match &self.reader {
            Reader::Postgres(r) => r.stream_all_events::<A>().await,
            Reader::Sqlite(r) => r.stream_all_events::<A>().await,
        }
    }
}
