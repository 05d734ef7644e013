//! The billing run and cancellations. Issuing touches two streams (the invoice and its
//! number series) and a cancellation three (the original, the cancellation invoice and
//! the cancellation series), so these commands take the bus's path for several streams
//! (`Bus::append_together`): they load the streams, decide with the domain's pure
//! functions, and the bus appends every event in one transaction, deciding again on fresh
//! state when a stream moved meanwhile.

use cqrs_es::Aggregate;
use domain::billing_run::{billable, next_schedule, scheduled_period};
use domain::invoice::{
    self, Invoice, InvoiceEvent, InvoiceKind, InvoiceSeries, SERIES_TYPE, cancellation_id, invoice_id,
};
use domain::{CustomerId, Instant, InvoiceId, Period};
use store::{EventLog, Metadata};
use uuid::Uuid;

use crate::commands::{Appending, Decided};
use crate::error::ApiError;
use crate::state::AppState;

fn refused(e: &invoice::InvoiceError) -> ApiError {
    ApiError::refused(e)
}

/// An invoice's state and last sequence, read from its stream.
pub async fn load(log: &EventLog, id: InvoiceId) -> Result<(Invoice, i64), ApiError> {
    let events = log.history(&[Invoice::TYPE], &id.to_string(), 0, 1000).await.map_err(ApiError::store)?;
    let mut invoice = Invoice::default();
    let mut sequence = 0;
    for e in &events {
        let event: InvoiceEvent = serde_json::from_str(&e.payload)
            .map_err(|err| ApiError::Unavailable(format!("invoice event at {} does not decode: {err}", e.position)))?;
        invoice::evolve(&mut invoice, &event);
        sequence = e.sequence;
    }
    Ok((invoice, sequence))
}

async fn series(log: &EventLog, kind: InvoiceKind, at: Instant) -> Result<(Uuid, InvoiceSeries), ApiError> {
    let id = invoice::series_id(kind, Period::of(at).year());
    let last = log.last_sequence(SERIES_TYPE, &id.to_string()).await.map_err(ApiError::store)?;
    Ok((id, InvoiceSeries { last: last as u32 }))
}

/// What a run found per customer.
pub enum RunOutcome {
    Issued(InvoiceId),
    AlreadyValid(InvoiceId),
    NothingToBill,
}

/// Bills one customer for a period: nothing when a valid invoice exists or the total is
/// zero, else a new invoice drafted and issued in one transaction.
pub async fn bill_customer(
    app: &AppState,
    customer: CustomerId,
    period: Period,
    actor: &str,
    now: Instant,
) -> Result<RunOutcome, ApiError> {
    let log = &app.bus.log;
    let metadata =
        Metadata { actor: actor.to_owned(), reason: Some(format!("billing run {period}")), ..Metadata::default() };
    app.bus
        .append_together(&metadata, move || async move {
            // The generation: the first invoice id of this customer and period not yet cancelled.
            let mut generation = 0;
            let (id, state, sequence) = loop {
                let id = invoice_id(customer, period, generation);
                let (state, sequence) = load(log, id).await?;
                match (&state.cancelled_by, state.number.is_some()) {
                    (Some(_), _) => generation += 1,
                    (None, true) => return Ok(Decided::Nothing(RunOutcome::AlreadyValid(id))),
                    (None, false) => break (id, state, sequence),
                }
            };
            let content = app.invoice_content(None, customer, period, &crate::state::LogReads::default()).await?;
            let Some(content) = content.filter(|c| !c.net.is_zero()) else {
                return Ok(Decided::Nothing(RunOutcome::NothingToBill));
            };
            let drafted = match state.id {
                Some(_) => vec![],
                None => {
                    invoice::decide(&state, invoice::InvoiceCommand::Draft { id, content }).map_err(|e| refused(&e))?
                }
            };
            let mut draft = state.clone();
            for e in &drafted {
                invoice::evolve(&mut draft, e);
            }
            let (series_id, series) = series(log, InvoiceKind::Invoice, now).await?;
            let (issued, numbered) = invoice::issue(&draft, &series, now).map_err(|e| refused(&e))?;
            let events: Vec<InvoiceEvent> = drafted.into_iter().chain([issued]).collect();
            let streams = vec![
                Appending::new(Invoice::TYPE, id, sequence, &events),
                Appending::new(SERIES_TYPE, series_id, series.last.into(), &[numbered]),
            ];
            Ok(Decided::Append(streams, RunOutcome::Issued(id)))
        })
        .await
}

/// Bills every customer for the period, in customer-name order; answers the period's
/// valid invoices (new and earlier), in the same order.
pub async fn run(app: &AppState, period: Period, actor: &str, now: Instant) -> Result<Vec<InvoiceId>, ApiError> {
    billable(period, now).map_err(|e| ApiError::refused(&e))?;
    let customers: Vec<CustomerId> = {
        let catalog = app.catalog();
        let mut all: Vec<_> = catalog.live().customers().map(|(id, c)| (c.name.clone(), *id)).collect();
        all.sort();
        all.into_iter().map(|(_, id)| id).collect()
    };
    let mut valid = vec![];
    for customer in customers {
        match bill_customer(app, customer, period, actor, now).await? {
            RunOutcome::Issued(id) | RunOutcome::AlreadyValid(id) => valid.push(id),
            RunOutcome::NothingToBill => {}
        }
    }
    // An invoice another run issued meanwhile was found in the log, perhaps before the read
    // models folded it: answer once they show everything the log holds now.
    let head = app.bus.log.head().await.map_err(ApiError::store)?.position;
    app.bus.projector.wait_for(head, std::time::Duration::from_secs(10)).await;
    Ok(valid)
}

/// How far back the scheduler looks for months whose run was missed: a server stopped
/// for longer than this is a migration, billed by hand.
const MISSED_MONTHS_AT_MOST: usize = 24;

/// Runs the scheduled billing of every period due at `now` whose run was not completed:
/// the period due and each one before it back to the last completed run (months missed
/// while the server was down, or a run cut short), oldest first, each with its own run
/// record. With no completed run in the last two years (a new installation), only the
/// period due. Answers the periods billed.
pub async fn run_scheduled(app: &AppState, now: Instant) -> Result<Vec<Period>, ApiError> {
    let mut due = vec![];
    let mut period = scheduled_period(now);
    let mut found_completed = false;
    for _ in 0..MISSED_MONTHS_AT_MOST {
        if run_of(app, period).await?.completed_at.is_some() {
            found_completed = true;
            break;
        }
        due.push(period);
        period = period.previous();
    }
    if !found_completed {
        due.truncate(1);
    }
    let mut billed = vec![];
    for period in due.into_iter().rev() {
        if run_period(app, period, now).await? {
            billed.push(period);
        }
    }
    Ok(billed)
}

/// A period's run record as its stream holds it.
async fn run_of(app: &AppState, period: Period) -> Result<domain::billing_run::BillingRun, ApiError> {
    use domain::billing_run::{BillingRun, BillingRunEvent, evolve, stream_id};
    let stream = stream_id(period).to_string();
    let events = app.bus.log.history(&[BillingRun::TYPE], &stream, 0, 100).await.map_err(ApiError::store)?;
    let mut run = BillingRun::default();
    for e in &events {
        let event: BillingRunEvent = serde_json::from_str(&e.payload).map_err(|err| {
            ApiError::Unavailable(format!("billing run event at {} does not decode: {err}", e.position))
        })?;
        evolve(&mut run, &event);
    }
    Ok(run)
}

/// The scheduled run of one period, unless it was completed; whether it ran.
async fn run_period(app: &AppState, period: Period, now: Instant) -> Result<bool, ApiError> {
    use domain::billing_run::{BillingRunCommand, stream_id};
    let actor = "system:billing-scheduler";
    let envelope = |name: &str| crate::commands::Envelope {
        actor: actor.to_owned(),
        command_id: Uuid::new_v4().to_string(),
        retryable: false,
        payload_hash: format!("{name}:{period}"),
        reason: Some(format!("scheduled billing run of {period}")),
    };
    let stream = stream_id(period).to_string();
    let start = BillingRunCommand::Start { period, at: now };
    match app.bus.execute(&app.bus.billing_runs, &stream, start, &envelope("start")).await {
        Ok(_) => {}
        Err(ApiError::Conflict(_)) => return Ok(false),
        Err(e) => return Err(e),
    }
    let invoices = run(app, period, actor, now).await?;
    let complete = BillingRunCommand::Complete { invoices, at: app.now() };
    app.bus.execute(&app.bus.billing_runs, &stream, complete, &envelope("complete")).await?;
    Ok(true)
}

/// The scheduler task of `directory serve`. Among several servers of one database, the
/// one holding the billing lease runs; the others look again each time the lease could
/// have passed to them.
pub fn spawn_scheduler(app: std::sync::Arc<AppState>, sharing: bool) {
    tokio::spawn(async move {
        loop {
            let mine = !sharing || app.leases.holds(crate::leases::BILLING).is_some();
            if mine {
                match run_scheduled(&app, app.now()).await {
                    Ok(periods) => {
                        for period in periods {
                            tracing::info!(%period, "scheduled billing run completed");
                        }
                    }
                    Err(e) => tracing::warn!(error = %e.message(), "scheduled billing run failed; retrying later"),
                }
            }
            // Wake at the next due instant, and hourly in case the clock jumped.
            let wait = (next_schedule(app.now()) - app.now()).to_std().unwrap_or_default();
            let most = if mine { std::time::Duration::from_secs(3600) } else { app.leases.ttl() };
            tokio::time::sleep(wait.min(most)).await;
        }
    });
}

/// Cancels an issued invoice with a cancellation invoice; answers the cancellation's id.
pub async fn cancel(
    app: &AppState,
    original: InvoiceId,
    reason: &str,
    actor: &str,
    now: Instant,
) -> Result<InvoiceId, ApiError> {
    let log = &app.bus.log;
    let metadata = Metadata { actor: actor.to_owned(), reason: Some(reason.to_owned()), ..Metadata::default() };
    let st = cancellation_id(original);
    app.bus
        .append_together(&metadata, move || async move {
            let (state, sequence) = load(log, original).await?;
            if state.id.is_none() {
                return Err(ApiError::NotFound(format!("invoice {original} does not exist")));
            }
            let (series_id, series) = series(log, InvoiceKind::Cancellation, now).await?;
            let (cancelled, [drafted, issued], numbered) =
                invoice::cancel(&state, st, &series, reason, now).map_err(|e| refused(&e))?;
            let streams = vec![
                Appending::new(Invoice::TYPE, original, sequence, &[cancelled]),
                Appending::new(Invoice::TYPE, st, 0, &[drafted, issued]),
                Appending::new(SERIES_TYPE, series_id, series.last.into(), &[numbered]),
            ];
            Ok(Decided::Append(streams, st))
        })
        .await
}
