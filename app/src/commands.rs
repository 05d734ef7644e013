//! The command bus: idempotency by command id, attribution, retries on a lost race,
//! and read-your-writes (a mutation answers only once the read models show its change).

use std::fmt::Display;
use std::time::Duration;

use cqrs_es::persist::SerializedEvent;
use cqrs_es::{Aggregate, AggregateError};
use domain::backup_log::BackupLog;
use domain::billing_run::BillingRun;
use domain::customer::Customer;
use domain::http_monitor::HttpMonitor;
use domain::maintenance_window::MaintenanceWindow;
use domain::network::Networks;
use domain::person::Person;
use domain::price_list::PriceLists;
use domain::project::Project;
use domain::release::{Release, ReleaseChannel};
use domain::ssh_key::SshKey;
use domain::vm::Vm;
use domain::{Classify, Refusal};
use projections::Projector;
use serde::Serialize;
use sha2::{Digest, Sha256};
use store::{Atomic, Claimed, Cqrs, DuplicateCommand, EventLog, Guard, IdInUse, Metadata, cqrs};

use crate::auth::Principal;
use crate::error::ApiError;

/// How often a command is re-decided after losing a race on its stream.
const ATTEMPTS: usize = 5;
/// How long a mutation waits for the read models to show its change.
const CATCH_UP: Duration = Duration::from_secs(10);

/// One command framework per aggregate, over one log.
pub struct Bus {
    pub log: EventLog,
    pub projector: Projector,
    pub customers: Cqrs<Customer>,
    pub people: Cqrs<Person>,
    pub keys: Cqrs<SshKey>,
    pub projects: Cqrs<Project>,
    pub vms: Cqrs<Vm>,
    pub backups: Cqrs<BackupLog>,
    pub monitors: Cqrs<HttpMonitor>,
    pub maintenance: Cqrs<MaintenanceWindow>,
    pub price_lists: Cqrs<PriceLists>,
    pub billing_runs: Cqrs<BillingRun>,
    pub releases: Cqrs<Release>,
    pub channels: Cqrs<ReleaseChannel>,
    pub networks: Cqrs<Networks>,
    /// Addresses this process is claiming now (`addresses`).
    pub reserved: crate::addresses::Reserved,
}

/// Who sends a command, under which id, and why.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub actor: String,
    pub command_id: String,
    /// Whether the client chose the command id (only then can it be a retry).
    pub retryable: bool,
    pub payload_hash: String,
    pub reason: Option<String>,
}

impl Envelope {
    /// `name` and `input` identify the command for idempotency: a retry must repeat both.
    pub fn new<C: AsRef<str> + ?Sized>(
        principal: &Principal,
        name: &str,
        input: &impl Serialize,
        command_id: Option<&C>,
        reason: Option<String>,
    ) -> Result<Envelope, ApiError> {
        let retryable = command_id.is_some();
        let command_id = match command_id {
            Some(id) => {
                let id = id.as_ref().trim();
                if id.is_empty() || id.len() > 200 || id.chars().any(char::is_control) {
                    return Err(ApiError::BadInput("commandId: must be 1-200 printable characters".into()));
                }
                id.to_owned()
            }
            None => uuid::Uuid::new_v4().to_string(),
        };
        let reason = reason
            .map(|r| domain::shared::validate::text("reason", &r))
            .transpose()
            .map_err(|e| ApiError::BadInput(e.to_string()))?;
        let mut h = Sha256::new();
        h.update(name.as_bytes());
        h.update([0]);
        h.update(serde_json::to_vec(input).unwrap_or_default());
        h.update([0]);
        h.update(principal.actor().as_bytes());
        Ok(Envelope {
            actor: principal.actor(),
            command_id,
            retryable,
            payload_hash: hex::encode(h.finalize()),
            reason,
        })
    }

    /// The envelope of a command that one command entails on another stream (an address
    /// taken back for it, say): the same actor and reason, a command id of its own.
    pub fn part(&self, what: &str) -> Envelope {
        let mut h = Sha256::new();
        h.update(self.payload_hash.as_bytes());
        h.update([0]);
        h.update(what.as_bytes());
        Envelope {
            actor: self.actor.clone(),
            command_id: format!("{}/{what}", self.command_id),
            retryable: false,
            payload_hash: hex::encode(h.finalize()),
            reason: self.reason.clone(),
        }
    }

    fn metadata(&self) -> Metadata {
        Metadata {
            actor: self.actor.clone(),
            command_id: Some(self.command_id.clone()),
            payload_hash: Some(self.payload_hash.clone()),
            reason: self.reason.clone(),
        }
    }
}

/// The one answer for a client's id that some stream uses, whichever stream and owner.
fn id_in_use(id: &str) -> ApiError {
    ApiError::Conflict(format!("id {id} is already in use; choose another random UUID, or omit the id"))
}

/// The answer when another stream holds a unique name; it never says which, or whose.
fn taken(scope: &str) -> String {
    match scope {
        domain::ssh_key::FINGERPRINT => {
            "this public key is already registered as an active key; it can be added again once revoked there".into()
        }
        domain::platform::RESOURCE_GROUP => {
            "this resource group is already taken by another project; choose another, or omit it for a free one".into()
        }
        domain::platform::HOSTNAME => {
            "this host name is already taken by another VM; choose another, or omit it for a free one".into()
        }
        other => format!("a unique name of kind {other} is already taken"),
    }
}

/// What a command did, and the entity its answer is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Executed {
    /// Applied now (its events, if any, are in the log and in the read models).
    Applied(String),
    /// The same command was applied before; nothing new was appended. Carries the
    /// aggregate the first application changed (its id may have been chosen then) and the
    /// position of its last event: a retry answers the entity as it stood there, not as
    /// later changes left it.
    AlreadyApplied { aggregate_id: String, position: i64 },
}

impl Executed {
    pub fn aggregate_id(&self) -> &str {
        match self {
            Executed::Applied(id) | Executed::AlreadyApplied { aggregate_id: id, .. } => id,
        }
    }

    /// The log position the answer is as of: none for a command applied now (the live read
    /// models show it), the first application's for a retry.
    pub fn answered_at(&self) -> Option<i64> {
        match self {
            Executed::Applied(_) => None,
            Executed::AlreadyApplied { position, .. } => Some(*position),
        }
    }
}

impl Bus {
    pub fn new(log: EventLog, projector: Projector) -> Bus {
        Bus {
            customers: cqrs(&log, ()),
            people: cqrs(&log, ()),
            keys: cqrs(&log, ()),
            projects: cqrs(&log, ()),
            vms: cqrs(&log, ()),
            backups: cqrs(&log, ()),
            monitors: cqrs(&log, ()),
            maintenance: cqrs(&log, ()),
            price_lists: cqrs(&log, ()),
            billing_runs: cqrs(&log, ()),
            releases: cqrs(&log, ()),
            channels: cqrs(&log, ()),
            networks: cqrs(&log, ()),
            reserved: crate::addresses::Reserved::default(),
            log,
            projector,
        }
    }

    /// Runs a creating command. When this server `generated` the id, the aggregate cannot
    /// exist yet, so its (empty) events are not read. A client's id must not be used by any
    /// stream of any type, now or when the append commits: whoever owns it, the answer is
    /// the same `CONFLICT`.
    pub async fn create<A>(
        &self,
        framework: &Cqrs<A>,
        (aggregate_id, generated): (&str, bool),
        command: A::Command,
        envelope: &Envelope,
    ) -> Result<Executed, ApiError>
    where
        A: Aggregate + Clone,
        A::Command: Clone,
        A::Error: Classify + Display,
    {
        self.create_guarded(framework, (aggregate_id, generated), command, envelope, Guard::default()).await
    }

    /// As [`Bus::create`], with the unique names the new stream takes (`guard`'s claims).
    pub async fn create_guarded<A>(
        &self,
        framework: &Cqrs<A>,
        (aggregate_id, generated): (&str, bool),
        command: A::Command,
        envelope: &Envelope,
        guard: Guard,
    ) -> Result<Executed, ApiError>
    where
        A: Aggregate + Clone,
        A::Command: Clone,
        A::Error: Classify + Display,
    {
        if generated {
            framework.assume_new(aggregate_id);
        }
        let guard = Guard { fresh_id: !generated, ..guard };
        self.execute_guarded(framework, aggregate_id, command, envelope, guard).await
    }

    /// Runs a command against one aggregate.
    pub async fn execute<A>(
        &self,
        framework: &Cqrs<A>,
        aggregate_id: &str,
        command: A::Command,
        envelope: &Envelope,
    ) -> Result<Executed, ApiError>
    where
        A: Aggregate + Clone,
        A::Command: Clone,
        A::Error: Classify + Display,
    {
        self.execute_guarded(framework, aggregate_id, command, envelope, Guard::default()).await
    }

    /// Runs a command whose append must also pass `guard` (a fresh id, unique names taken
    /// or given up), checked by the store in the append's transaction.
    pub async fn execute_guarded<A>(
        &self,
        framework: &Cqrs<A>,
        aggregate_id: &str,
        command: A::Command,
        envelope: &Envelope,
        guard: Guard,
    ) -> Result<Executed, ApiError>
    where
        A: Aggregate + Clone,
        A::Command: Clone,
        A::Error: Classify + Display,
    {
        // A fresh id chosen here cannot have been used; only a client's id needs the lookup.
        if envelope.retryable
            && let Some(first) = self.already_applied(envelope).await?
        {
            return Ok(first);
        }
        // Asked first so that an id in use is refused before any aggregate judges it, with
        // one answer for every owner; the store asks again when it appends.
        if guard.fresh_id && self.log.in_use(aggregate_id).await.map_err(ApiError::store)? {
            return Err(id_in_use(aggregate_id));
        }
        let metadata = envelope.metadata().to_map();
        let mut refused_once = false;
        for attempt in 1..=ATTEMPTS {
            let run = framework.execute_guarded(aggregate_id, command.clone(), metadata.clone(), guard.clone());
            match run.await {
                Ok(()) => {
                    self.catch_up().await;
                    return Ok(Executed::Applied(aggregate_id.to_owned()));
                }
                Err(AggregateError::UserError(e)) => {
                    // Bad input is bad on any state; any other refusal may come from this
                    // process's cached state, so it is answered only when fresh state agrees.
                    if refused_once || e.refusal() == Refusal::BadInput {
                        return Err(ApiError::refused(&e));
                    }
                    framework.forget(aggregate_id);
                    refused_once = true;
                }
                Err(AggregateError::AggregateConflict) => {
                    tracing::debug!(aggregate_id, attempt, "lost a race on the stream; deciding again");
                }
                // A guard refused may mean that a concurrent request with the same command id
                // took the id or the name first: then this is its retry.
                Err(AggregateError::UnexpectedError(e)) if e.downcast_ref::<IdInUse>().is_some() => {
                    return match self.retried(envelope).await? {
                        Some(first) => Ok(first),
                        None => Err(id_in_use(aggregate_id)),
                    };
                }
                Err(AggregateError::UnexpectedError(e)) if e.downcast_ref::<Claimed>().is_some() => {
                    let scope = e.downcast_ref::<Claimed>().map(|c| c.0.to_owned()).unwrap_or_default();
                    return match self.retried(envelope).await? {
                        Some(first) => Ok(first),
                        None => Err(ApiError::Conflict(taken(&scope))),
                    };
                }
                Err(AggregateError::UnexpectedError(e)) if e.downcast_ref::<DuplicateCommand>().is_some() => {
                    // A concurrent request with the same command id won the race.
                    return match self.already_applied(envelope).await? {
                        Some(first) => Ok(first),
                        None => Err(ApiError::Conflict("the command id was just used by a concurrent request".into())),
                    };
                }
                Err(e) => return Err(ApiError::store(e)),
            }
        }
        Err(ApiError::Conflict(format!("{aggregate_id} is changing concurrently; retry the command")))
    }

    /// The first application of a client's command id, if one was recorded meanwhile.
    async fn retried(&self, envelope: &Envelope) -> Result<Option<Executed>, ApiError> {
        match envelope.retryable {
            true => self.already_applied(envelope).await,
            false => Ok(None),
        }
    }

    /// Whether the command id was recorded: with the same payload it was applied already
    /// (to the aggregate returned), with another it is a misuse of the id.
    async fn already_applied(&self, envelope: &Envelope) -> Result<Option<Executed>, ApiError> {
        match self.log.command(&envelope.actor, &envelope.command_id).await.map_err(ApiError::store)? {
            None => Ok(None),
            Some(record) if record.payload_hash == envelope.payload_hash => {
                // The record may be committed before this process's writer has announced it
                // (or by another process): wait for its own position, not the local watermark.
                self.catch_up_to(record.position).await;
                Ok(Some(Executed::AlreadyApplied { aggregate_id: record.aggregate_id, position: record.position }))
            }
            Some(_) => Err(ApiError::Conflict(format!(
                "commandId {} was already used for a different command",
                envelope.command_id
            ))),
        }
    }

    /// The one path for a change to several streams at once (an invoice and its number
    /// series, a cancellation, an export's hand-overs): `decide` loads what it needs and
    /// answers the new events of each stream after the sequence it read; they are appended
    /// in one transaction, and when any of those streams moved meanwhile, `decide` runs
    /// again on fresh state. Answers what the accepted decision answered, once the read
    /// models show it.
    pub async fn append_together<T, F, D>(&self, metadata: &Metadata, mut decide: F) -> Result<T, ApiError>
    where
        F: FnMut() -> D,
        D: Future<Output = Result<Decided<T>, ApiError>>,
    {
        /// Decisions before a change gives up on streams that keep moving.
        const DECISIONS: usize = 20;
        let metadata = serde_json::to_value(metadata).expect("metadata serialises");
        for _ in 0..DECISIONS {
            let (streams, answer) = match decide().await? {
                Decided::Nothing(answer) => return Ok(answer),
                Decided::Append(streams, answer) => (streams, answer),
            };
            let events = streams
                .into_iter()
                .flat_map(|s| {
                    let (kind, id, metadata) = (s.aggregate_type, s.id, metadata.clone());
                    s.events.into_iter().zip(s.after + 1..).map(move |((event_type, version, payload), sequence)| {
                        SerializedEvent::new(
                            id.clone(),
                            sequence as usize,
                            kind.to_owned(),
                            event_type,
                            version,
                            payload,
                            metadata.clone(),
                        )
                    })
                })
                .collect();
            match self.log.append_atomic(events).await.map_err(ApiError::store)? {
                Atomic::Appended(position) => {
                    self.catch_up_to(position).await;
                    return Ok(answer);
                }
                Atomic::Conflict | Atomic::DuplicateCommand(_) => {
                    tracing::debug!("a stream moved while a change to several was decided; deciding again");
                }
            }
        }
        Err(ApiError::Unavailable("the streams this change touches kept changing; try again".into()))
    }

    /// Waits until the read models show everything this process has committed.
    pub async fn catch_up(&self) {
        let committed = *self.log.committed().borrow();
        self.catch_up_to(committed).await;
    }

    /// Waits until the read models show everything committed to the log so far, by any server.
    pub async fn catch_up_to_head(&self) -> Result<(), ApiError> {
        let head = self.log.head().await.map_err(ApiError::store)?;
        self.catch_up_to(head.position).await;
        Ok(())
    }

    /// Waits until the read models have folded `position`.
    async fn catch_up_to(&self, position: i64) {
        if !self.projector.wait_for(position, CATCH_UP).await {
            tracing::warn!(position, "read models did not catch up in time");
        }
    }
}

/// What a decision over several streams came to: nothing to append, or these events.
pub enum Decided<T> {
    Nothing(T),
    Append(Vec<Appending>, T),
}

/// New events of one stream, to follow the sequence the decision read (`after`).
pub struct Appending {
    aggregate_type: &'static str,
    id: String,
    after: i64,
    events: Vec<(String, String, serde_json::Value)>,
}

impl Appending {
    pub fn new<E: cqrs_es::DomainEvent + Serialize>(
        aggregate_type: &'static str,
        id: impl ToString,
        after: i64,
        events: &[E],
    ) -> Appending {
        let events = events
            .iter()
            .map(|e| (e.event_type(), e.event_version(), serde_json::to_value(e).expect("events serialise")))
            .collect();
        Appending { aggregate_type, id: id.to_string(), after, events }
    }
}
