//! The single writer task: it takes pending commits from a channel and appends as many as
//! are waiting in one transaction (group commit). Collisions inside a group are settled
//! here (the first commit wins); a collision with an earlier transaction makes the store
//! append the group again with a savepoint per commit, so only the colliding commits fail.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use cqrs_es::persist::SerializedEvent;
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use crate::{Guard, Metadata, StoreError, StoredEvent};

/// The most commits one transaction takes.
const MAX_BATCH: usize = 256;

/// What one commit asks for: its events (one aggregate) and where to answer.
pub(crate) struct Pending {
    pub events: Vec<SerializedEvent>,
    pub guard: Guard,
    pub reply: oneshot::Sender<Outcome>,
}

/// A commit's answer: the position of its last event, or why it was not appended.
pub(crate) type Outcome = Result<i64, AppendError>;

#[derive(Debug)]
pub(crate) enum AppendError {
    /// Another commit took one of these stream sequences first.
    Conflict,
    /// The command id was already recorded by another commit (of the same actor).
    DuplicateCommand(String),
    /// The commit's new stream takes an id that a stream of some type uses already.
    IdInUse(String),
    /// Another stream holds one of the names the commit claims (its scope).
    Claimed(String),
    /// The transaction failed; nothing of it was appended.
    Store(String),
}

/// A command id as recorded: unique per actor.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct CommandKey {
    pub actor: String,
    pub id: String,
    pub payload_hash: String,
}

/// A commit as a store appends it.
#[derive(Clone)]
pub(crate) struct Commit<'a> {
    pub events: &'a [SerializedEvent],
    /// The command id, recorded with the events.
    pub command: Option<CommandKey>,
    pub guard: &'a Guard,
}

impl<'a> Commit<'a> {
    fn of(pending: &'a Pending) -> Commit<'a> {
        let meta: Metadata =
            pending.events.first().and_then(|e| serde_json::from_value(e.metadata.clone()).ok()).unwrap_or_default();
        let actor = meta.actor;
        let command =
            meta.command_id.zip(meta.payload_hash).map(|(id, payload_hash)| CommandKey { actor, id, payload_hash });
        Commit { events: &pending.events, command, guard: &pending.guard }
    }

    /// The stream its guard is about: the one its first event belongs to.
    pub fn stream(&self) -> &'a str {
        self.events.first().map_or("", |e| e.aggregate_id.as_str())
    }

    /// Why the store refused this commit, from the unique constraint that failed.
    pub fn refusal(&self, constraint: &str) -> AppendError {
        if constraint.contains("commands")
            && let Some(c) = &self.command
        {
            AppendError::DuplicateCommand(c.id.clone())
        } else if constraint.contains("fresh_id") {
            AppendError::IdInUse(self.stream().to_owned())
        } else if constraint.contains("claims") {
            AppendError::Claimed(self.guard.claims.first().map(|(scope, _)| scope.clone()).unwrap_or_default())
        } else {
            AppendError::Conflict
        }
    }
}

/// A commit's events as stored.
pub(crate) type Appended = Vec<StoredEvent>;

/// A store's two ways of appending a group of commits.
pub(crate) trait Appender: Send + Sync + 'static {
    /// All commits in one transaction: each one's stored events, or `None` when a unique
    /// key collided with an earlier transaction (then nothing was appended).
    fn append_all(
        &self,
        commits: &[Commit<'_>],
    ) -> impl Future<Output = Result<Option<Vec<Appended>>, StoreError>> + Send;

    /// One transaction with a savepoint per commit, so a collision fails only its commit.
    fn append_each(
        &self,
        commits: &[Commit<'_>],
    ) -> impl Future<Output = Result<Vec<Result<Appended, AppendError>>, StoreError>> + Send;
}

/// A stored event, from the event sent and what the store assigned to it.
pub(crate) fn stored(
    event: &SerializedEvent,
    position: i64,
    recorded_at: DateTime<Utc>,
    chain_hash: [u8; 32],
) -> StoredEvent {
    StoredEvent {
        position,
        recorded_at,
        aggregate_type: event.aggregate_type.clone(),
        aggregate_id: event.aggregate_id.clone(),
        sequence: event.sequence as i64,
        event_type: event.event_type.clone(),
        event_version: event.event_version.clone(),
        payload: json_text(&event.payload),
        metadata: json_text(&event.metadata),
        chain_hash,
    }
}

/// The JSON text that is stored and hashed.
pub(crate) fn json_text(value: &serde_json::Value) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// When the append transaction in flight began; shared with the log for its metrics.
#[derive(Clone, Default)]
pub(crate) struct Busy(Arc<std::sync::Mutex<Option<Instant>>>);

impl Busy {
    fn set(&self, since: Option<Instant>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = since;
    }

    pub(crate) fn elapsed(&self) -> Option<std::time::Duration> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).map(|since| since.elapsed())
    }
}

/// Starts the writer. Every appended group is also sent, in log order, to `appended`, so
/// that read models in this process can fold it without reading it back.
pub(crate) fn spawn(
    appender: impl Appender,
    committed: watch::Sender<i64>,
    appended: broadcast::Sender<Arc<[StoredEvent]>>,
    busy: Busy,
) -> mpsc::Sender<Pending> {
    let (tx, mut rx) = mpsc::channel::<Pending>(4 * MAX_BATCH);
    tokio::spawn(async move {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
            let started = Instant::now();
            let size = batch.len();
            busy.set(Some(started));
            let result = append(&appender, &batch).await;
            busy.set(None);
            match result {
                Ok(results) => {
                    let events: Vec<StoredEvent> = results.iter().flat_map(|r| r.iter().flatten().cloned()).collect();
                    let outcomes: Vec<Outcome> =
                        results.into_iter().map(|r| r.map(|events| events.last().map_or(0, |e| e.position))).collect();
                    if !events.is_empty() {
                        let _ = appended.send(events.into());
                    }
                    if let Some(head) = outcomes.iter().filter_map(|o| o.as_ref().ok()).max().copied() {
                        committed.send_if_modified(|p| {
                            let newer = head > *p;
                            *p = (*p).max(head);
                            newer
                        });
                        metrics::gauge!("directory_log_head_position").set(head as f64);
                    }
                    count(&outcomes);
                    for (pending, outcome) in batch.drain(..).zip(outcomes) {
                        let _ = pending.reply.send(outcome);
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, commits = size, "append transaction failed");
                    for pending in batch.drain(..) {
                        let _ = pending.reply.send(Err(AppendError::Store(e.to_string())));
                    }
                }
            }
            metrics::histogram!("directory_append_batch_seconds").record(started.elapsed().as_secs_f64());
            metrics::histogram!("directory_append_batch_size").record(size as f64);
        }
    });
    tx
}

/// A writer for a read-only log: every commit is refused, nothing is touched.
pub(crate) fn refuse_all() -> mpsc::Sender<Pending> {
    let (tx, mut rx) = mpsc::channel::<Pending>(MAX_BATCH);
    tokio::spawn(async move {
        while let Some(pending) = rx.recv().await {
            let _ = pending.reply.send(Err(AppendError::Store("this server is read-only".into())));
        }
    });
    tx
}

async fn append(appender: &impl Appender, batch: &[Pending]) -> Result<Vec<Result<Appended, AppendError>>, StoreError> {
    let commits: Vec<Commit<'_>> = batch.iter().map(Commit::of).collect();
    let mut outcomes: Vec<Option<Result<Appended, AppendError>>> = settle_within(&commits);
    let admitted: Vec<usize> = (0..commits.len()).filter(|i| outcomes[*i].is_none()).collect();
    let group: Vec<Commit<'_>> = admitted.iter().map(|i| commits[*i].clone()).collect();
    let answers: Vec<Result<Appended, AppendError>> = match appender.append_all(&group).await? {
        Some(appended) => appended.into_iter().map(Ok).collect(),
        None => appender.append_each(&group).await?,
    };
    for (i, answer) in admitted.into_iter().zip(answers) {
        outcomes[i] = Some(answer);
    }
    Ok(outcomes.into_iter().map(|o| o.unwrap_or(Err(AppendError::Conflict))).collect())
}

/// Refuses the commits that collide with an earlier commit of the same group: the same
/// stream sequence, or the same command id of the same actor. The others are `None` (still
/// to append); guards are left to the store, which checks them in log order.
fn settle_within(commits: &[Commit<'_>]) -> Vec<Option<Result<Appended, AppendError>>> {
    let mut streams = HashSet::new();
    let mut ids = HashSet::new();
    commits
        .iter()
        .map(|c| {
            if c.events.iter().any(|e| streams.contains(&(&e.aggregate_type, &e.aggregate_id, e.sequence))) {
                return Some(Err(AppendError::Conflict));
            }
            if let Some(key) = &c.command
                && !ids.insert((key.actor.as_str(), key.id.as_str()))
            {
                return Some(Err(AppendError::DuplicateCommand(key.id.clone())));
            }
            for e in c.events {
                streams.insert((&e.aggregate_type, &e.aggregate_id, e.sequence));
            }
            None
        })
        .collect()
}

fn count(outcomes: &[Outcome]) {
    let refused = outcomes.iter().filter(|o| o.is_err()).count();
    metrics::counter!("directory_commits_appended_total").increment((outcomes.len() - refused) as u64);
    if refused > 0 {
        metrics::counter!("directory_commits_refused_total").increment(refused as u64);
    }
}

/// Truncates to microseconds, the precision both stores keep.
pub(crate) fn micros(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(at.timestamp_micros()).unwrap_or(at)
}

/// Whether a database error is a unique-key violation, and on which constraint.
pub(crate) fn unique_violation(e: &sqlx::Error) -> Option<String> {
    match e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            Some(d.constraint().map(str::to_owned).unwrap_or_else(|| d.message().to_owned()))
        }
        _ => None,
    }
}
