//! Invoice: drafted with its full content, issued once with a gapless number, and never
//! changed after; cancelled only by a cancellation invoice (Stornorechnung) with the
//! negated lines, which refers to the original's number and date.
//!
//! Numbers come from a series stream per kind and year (`RE-2026`, `ST-2026`): number N is
//! the series' event at sequence N, appended in the same transaction as the invoice's
//! `InvoiceIssued`. The event store's key on (stream, sequence) then makes every number
//! used at most once, and a failed issue appends neither, so no number is lost.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::shared::error::{Classify, Invalid, Refusal};
use crate::shared::period::Period;
use crate::shared::{Instant, validate};
use crate::{CustomerId, InvoiceId, ProjectId, aggregate, event_names};

#[cfg(test)]
mod tests;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InvoiceKind {
    Invoice,
    Cancellation,
}

impl InvoiceKind {
    /// The number prefix of the kind's series.
    pub fn prefix(self) -> &'static str {
        match self {
            InvoiceKind::Invoice => "RE",
            InvoiceKind::Cancellation => "ST",
        }
    }
}

/// Rounds half-up (away from zero) to cents, as German commercial practice and EN 16931 do.
pub fn cents(amount: Decimal) -> Decimal {
    amount.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceLine {
    /// The VM's name, or the monitor's URL.
    pub subject: String,
    /// `vCPU`, `RAM GB`, `Disk GB`, `SLA standard`, `Backup GB`, `Monitor`.
    pub component: String,
    pub from: Instant,
    pub to: Instant,
    pub units: Decimal,
    pub unit_price: Decimal,
    pub amount: Decimal,
    /// The log positions of the events that determined the line.
    pub provenance: Vec<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectGroup {
    pub project_id: ProjectId,
    pub project_name: String,
    /// Project names from the root down to this project.
    pub path: Vec<String>,
    pub subtotal: Decimal,
    pub lines: Vec<InvoiceLine>,
}

/// The customer as the invoice names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Buyer {
    pub name: String,
    pub address: String,
    pub country: String,
    pub vat_id: Option<String>,
    pub payment_terms_days: u32,
}

/// How VAT applies to an invoice; each document states it in its own words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaxCase {
    /// German VAT at the invoice's rate.
    Standard,
    /// A business in another EU country, with a VAT id: it owes the VAT (reverse charge).
    ReverseCharge,
    /// A customer outside the EU: the service is not taxable in Germany.
    NotTaxableHere,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "StoredContent")]
pub struct InvoiceContent {
    /// The log position the content was computed from: an auditor recomputes it there.
    pub computed_at: i64,
    pub customer_id: CustomerId,
    pub recipient: Buyer,
    pub period: Period,
    pub groups: Vec<ProjectGroup>,
    pub net: Decimal,
    pub vat_rate: Decimal,
    pub vat: Decimal,
    pub gross: Decimal,
    pub tax_case: TaxCase,
    /// "Reverse charge" where it applies.
    pub note: Option<String>,
    /// What changed against the previous month, one sentence each.
    pub changes: Vec<String>,
}

/// Content as stored: contents drafted before the tax case was recorded name it by their
/// rate and note (a rate means German VAT, a note reverse charge, neither not taxable).
#[derive(Deserialize)]
struct StoredContent {
    computed_at: i64,
    customer_id: CustomerId,
    recipient: Buyer,
    period: Period,
    groups: Vec<ProjectGroup>,
    net: Decimal,
    vat_rate: Decimal,
    vat: Decimal,
    gross: Decimal,
    tax_case: Option<TaxCase>,
    note: Option<String>,
    changes: Vec<String>,
}

impl From<StoredContent> for InvoiceContent {
    fn from(s: StoredContent) -> InvoiceContent {
        let tax_case = s.tax_case.unwrap_or(match (s.vat_rate.is_zero(), s.note.is_some()) {
            (false, _) => TaxCase::Standard,
            (true, true) => TaxCase::ReverseCharge,
            (true, false) => TaxCase::NotTaxableHere,
        });
        InvoiceContent {
            computed_at: s.computed_at,
            customer_id: s.customer_id,
            recipient: s.recipient,
            period: s.period,
            groups: s.groups,
            net: s.net,
            vat_rate: s.vat_rate,
            vat: s.vat,
            gross: s.gross,
            tax_case,
            note: s.note,
            changes: s.changes,
        }
    }
}

impl InvoiceContent {
    /// The content with every amount negated, for a cancellation invoice.
    pub fn negated(&self) -> InvoiceContent {
        let mut c = self.clone();
        for g in &mut c.groups {
            g.subtotal = -g.subtotal;
            for l in &mut g.lines {
                l.amount = -l.amount;
                l.units = -l.units;
            }
        }
        (c.net, c.vat, c.gross) = (-c.net, -c.vat, -c.gross);
        c
    }

    /// SHA-256 (hex) of the content's JSON: what an issued invoice is checked against.
    pub fn digest(&self) -> String {
        use sha2::{Digest, Sha256};
        hex::encode(Sha256::digest(serde_json::to_vec(self).expect("the content serialises")))
    }

    /// Whether the totals add up: subtotals are the sums of their lines, net the sum of
    /// the subtotals, VAT the rounded rate of net, gross their sum, every line in cents.
    fn check(&self) -> Result<(), Invalid> {
        let mut net = Decimal::ZERO;
        for g in &self.groups {
            if g.lines.iter().any(|l| l.amount != cents(l.amount) || l.from > l.to) {
                return Err(Invalid::new("lines", "every amount is in cents and every interval runs forward"));
            }
            if g.lines.iter().map(|l| l.amount).sum::<Decimal>() != g.subtotal {
                return Err(Invalid::new("subtotal", format!("{} is not the sum of its lines", g.project_name)));
            }
            net += g.subtotal;
        }
        if net != self.net || cents(self.net * self.vat_rate) != self.vat || self.net + self.vat != self.gross {
            return Err(Invalid::new("totals", "net, VAT and gross do not add up"));
        }
        Ok(())
    }
}

/// What a cancellation refers to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reference {
    pub invoice_id: InvoiceId,
    pub number: String,
    pub issued_at: Instant,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Invoice {
    pub id: Option<InvoiceId>,
    pub kind: Option<InvoiceKind>,
    pub content: Option<InvoiceContent>,
    pub refers_to: Option<Reference>,
    pub number: Option<String>,
    pub issued_at: Option<Instant>,
    pub due_date: Option<Instant>,
    pub content_hash: Option<String>,
    /// The cancellation invoice that cancelled this one.
    pub cancelled_by: Option<Reference>,
    pub cancel_reason: Option<String>,
    /// Where the document was handed over, and when: (target, instant).
    pub exported: Vec<(String, Instant)>,
}

/// The invoice id of a customer's `generation`-th invoice for a period (0 first, one more
/// after each cancellation): two runs racing for the same invoice write the same stream,
/// and the store lets only one of them.
pub fn invoice_id(customer: crate::CustomerId, period: crate::Period, generation: usize) -> InvoiceId {
    InvoiceId(Uuid::new_v5(
        &Uuid::NAMESPACE_OID,
        format!("directory:invoice:{customer}:{period}:{generation}").as_bytes(),
    ))
}

/// The id of the invoice that cancels `original`: one cancellation per invoice.
pub fn cancellation_id(original: InvoiceId) -> InvoiceId {
    InvoiceId(Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("directory:cancellation:{original}").as_bytes()))
}

/// The series stream of a kind and year, e.g. `RE-2026`.
pub fn series_id(kind: InvoiceKind, year: i32) -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("directory:invoice-series:{}-{year}", kind.prefix()).as_bytes())
}

/// The series stream: one event per number, the number being its sequence.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InvoiceSeries {
    pub last: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum SeriesEvent {
    NumberAssigned { number: String, invoice_id: InvoiceId },
}

event_names!(SeriesEvent { NumberAssigned });

#[derive(Clone, Debug, PartialEq)]
pub enum InvoiceCommand {
    Draft { id: InvoiceId, content: InvoiceContent },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum InvoiceEvent {
    InvoiceDrafted {
        id: InvoiceId,
        kind: InvoiceKind,
        content: Box<InvoiceContent>,
        refers_to: Option<Reference>,
    },
    InvoiceIssued {
        number: String,
        issued_at: Instant,
        due_date: Instant,
        content_hash: String,
    },
    InvoiceCancelled {
        by: Reference,
        reason: String,
    },
    /// Handed over to accounting (`target`, e.g. `datev-extf`) in the batch with this digest.
    InvoiceExported {
        target: String,
        batch: String,
        at: Instant,
    },
}

event_names!(InvoiceEvent { InvoiceDrafted, InvoiceIssued, InvoiceCancelled, InvoiceExported });

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum InvoiceError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("the invoice already exists")]
    AlreadyExists,
    #[error("the invoice does not exist")]
    NotFound,
    #[error("the invoice was already issued as {0}")]
    AlreadyIssued(String),
    #[error("the invoice is not issued yet")]
    NotIssued,
    #[error("an invoice with a total of zero is not issued")]
    ZeroTotal,
    #[error("invoice {0} was already cancelled by {1}")]
    AlreadyCancelled(String, String),
    #[error("{0} is a cancellation invoice; it cannot be cancelled")]
    CancellingACancellation(String),
}

impl Classify for InvoiceError {
    fn refusal(&self) -> Refusal {
        match self {
            Self::Invalid(_) => Refusal::BadInput,
            Self::NotFound => Refusal::NotFound,
            Self::AlreadyExists | Self::AlreadyIssued(_) | Self::AlreadyCancelled(..) => Refusal::Conflict,
            Self::NotIssued | Self::ZeroTotal | Self::CancellingACancellation(_) => Refusal::RuleViolation,
        }
    }
}

pub fn decide(invoice: &Invoice, cmd: InvoiceCommand) -> Result<Vec<InvoiceEvent>, InvoiceError> {
    match cmd {
        InvoiceCommand::Draft { id, content } => {
            if invoice.id.is_some() {
                return Err(InvoiceError::AlreadyExists);
            }
            content.check()?;
            if content.net.is_zero() {
                return Err(InvoiceError::ZeroTotal);
            }
            Ok(vec![InvoiceEvent::InvoiceDrafted {
                id,
                kind: InvoiceKind::Invoice,
                content: Box::new(content),
                refers_to: None,
            }])
        }
    }
}

/// Issues a drafted invoice with the series' next number: the invoice's event and the
/// series' event, to be appended together.
pub fn issue(
    invoice: &Invoice,
    series: &InvoiceSeries,
    at: Instant,
) -> Result<(InvoiceEvent, SeriesEvent), InvoiceError> {
    let (Some(id), Some(kind), Some(content)) = (invoice.id, invoice.kind, &invoice.content) else {
        return Err(InvoiceError::NotFound);
    };
    if let Some(n) = &invoice.number {
        return Err(InvoiceError::AlreadyIssued(n.clone()));
    }
    let number = format!("{}-{}-{:05}", kind.prefix(), Period::of(at).year(), series.last + 1);
    let due_date = at + chrono::Duration::days(content.recipient.payment_terms_days.into());
    Ok((
        InvoiceEvent::InvoiceIssued { number: number.clone(), issued_at: at, due_date, content_hash: content.digest() },
        SeriesEvent::NumberAssigned { number, invoice_id: id },
    ))
}

/// Cancels an issued invoice: the original's `InvoiceCancelled`, and the cancellation
/// invoice drafted and issued with the cancellation series' next number.
pub fn cancel(
    original: &Invoice,
    cancellation_id: InvoiceId,
    series: &InvoiceSeries,
    reason: &str,
    at: Instant,
) -> Result<(InvoiceEvent, [InvoiceEvent; 2], SeriesEvent), InvoiceError> {
    let (Some(id), Some(content)) = (original.id, &original.content) else { return Err(InvoiceError::NotFound) };
    let (Some(number), Some(issued_at)) = (&original.number, original.issued_at) else {
        return Err(InvoiceError::NotIssued);
    };
    if original.kind == Some(InvoiceKind::Cancellation) {
        return Err(InvoiceError::CancellingACancellation(number.clone()));
    }
    if let Some(by) = &original.cancelled_by {
        return Err(InvoiceError::AlreadyCancelled(number.clone(), by.number.clone()));
    }
    let reason = validate::text("reason", reason)?;
    let refers_to = Reference { invoice_id: id, number: number.clone(), issued_at };
    let drafted = InvoiceEvent::InvoiceDrafted {
        id: cancellation_id,
        kind: InvoiceKind::Cancellation,
        content: Box::new(content.negated()),
        refers_to: Some(refers_to),
    };
    let mut cancellation = Invoice::default();
    evolve(&mut cancellation, &drafted);
    let (issued, numbered) = issue(&cancellation, series, at)?;
    let InvoiceEvent::InvoiceIssued { number: st, .. } = &issued else { unreachable!("issue answers InvoiceIssued") };
    let by = Reference { invoice_id: cancellation_id, number: st.clone(), issued_at: at };
    Ok((InvoiceEvent::InvoiceCancelled { by, reason }, [drafted, issued], numbered))
}

/// Records the hand-over of an issued document to `target`; nothing when it was handed
/// over there before (an export runs again without booking twice).
pub fn export(invoice: &Invoice, target: &str, batch: &str, at: Instant) -> Result<Option<InvoiceEvent>, InvoiceError> {
    if invoice.id.is_none() {
        return Err(InvoiceError::NotFound);
    }
    if invoice.number.is_none() {
        return Err(InvoiceError::NotIssued);
    }
    if invoice.exported.iter().any(|(t, _)| t == target) {
        return Ok(None);
    }
    Ok(Some(InvoiceEvent::InvoiceExported { target: target.to_owned(), batch: batch.to_owned(), at }))
}

pub fn evolve(invoice: &mut Invoice, event: &InvoiceEvent) {
    match event {
        InvoiceEvent::InvoiceDrafted { id, kind, content, refers_to } => {
            invoice.id = Some(*id);
            invoice.kind = Some(*kind);
            invoice.content = Some((**content).clone());
            invoice.refers_to = refers_to.clone();
        }
        InvoiceEvent::InvoiceIssued { number, issued_at, due_date, content_hash } => {
            invoice.number = Some(number.clone());
            invoice.issued_at = Some(*issued_at);
            invoice.due_date = Some(*due_date);
            invoice.content_hash = Some(content_hash.clone());
        }
        InvoiceEvent::InvoiceCancelled { by, reason } => {
            invoice.cancelled_by = Some(by.clone());
            invoice.cancel_reason = Some(reason.clone());
        }
        InvoiceEvent::InvoiceExported { target, at, .. } => invoice.exported.push((target.clone(), *at)),
    }
}

pub fn evolve_series(series: &mut InvoiceSeries, event: &SeriesEvent) {
    match event {
        SeriesEvent::NumberAssigned { .. } => series.last += 1,
    }
}

aggregate!(Invoice, "invoice", InvoiceCommand, InvoiceEvent, InvoiceError);

/// The aggregate type of the series streams.
pub const SERIES_TYPE: &str = "invoice_series";
