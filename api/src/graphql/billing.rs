//! Invoices: the monthly run, cancellations, the invoices themselves, the preview that
//! computes without issuing, and the drift of issued invoices against the log as it stands.

use async_graphql::{Context, Enum, ID, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use domain::invoice::{Invoice, InvoiceContent, InvoiceKind as DomainKind, InvoiceLine, ProjectGroup};
use domain::person::StaffRole as Staff;
use domain::{CustomerId, InvoiceId, Period};
use serde::Serialize;

use super::scalars::{Decimal, Long};
use super::{app, parse_id, principal, reads, view};
use app::billing;
use app::error::ApiError;

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq, Serialize)]
#[graphql(remote = "domain::invoice::InvoiceKind")]
pub enum InvoiceKind {
    Invoice,
    Cancellation,
}

#[derive(SimpleObject)]
#[graphql(name = "InvoiceLine")]
pub struct LineNode {
    pub subject: String,
    pub component: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub units: Decimal,
    pub unit_price: Decimal,
    pub amount: Decimal,
    pub provenance: Vec<Long>,
}

impl From<&InvoiceLine> for LineNode {
    fn from(l: &InvoiceLine) -> LineNode {
        LineNode {
            subject: l.subject.clone(),
            component: l.component.clone(),
            from: l.from,
            to: l.to,
            units: Decimal(l.units),
            unit_price: Decimal(l.unit_price),
            amount: Decimal(l.amount),
            provenance: l.provenance.iter().copied().map(Long).collect(),
        }
    }
}

#[derive(SimpleObject)]
#[graphql(name = "InvoiceProjectGroup")]
pub struct GroupNode {
    pub project_id: ID,
    pub project_name: String,
    pub path: Vec<String>,
    pub subtotal: Decimal,
    pub lines: Vec<LineNode>,
}

impl From<&ProjectGroup> for GroupNode {
    fn from(g: &ProjectGroup) -> GroupNode {
        GroupNode {
            project_id: ID(g.project_id.to_string()),
            project_name: g.project_name.clone(),
            path: g.path.clone(),
            subtotal: Decimal(g.subtotal),
            lines: g.lines.iter().map(Into::into).collect(),
        }
    }
}

pub struct InvoiceNode(pub InvoiceId, pub Invoice);

impl InvoiceNode {
    fn content(&self) -> &InvoiceContent {
        self.1.content.as_ref().expect("only drafted invoices are shown")
    }
}

#[Object(name = "Invoice")]
impl InvoiceNode {
    async fn id(&self) -> ID {
        ID(self.0.to_string())
    }
    async fn kind(&self) -> InvoiceKind {
        self.1.kind.unwrap_or(DomainKind::Invoice).into()
    }
    /// `RE-YYYY-NNNNN` (or `ST-…` for a cancellation); none before it is issued.
    async fn number(&self) -> Option<&str> {
        self.1.number.as_deref()
    }
    async fn customer_id(&self) -> ID {
        ID(self.content().customer_id.to_string())
    }
    async fn period(&self) -> String {
        self.content().period.to_string()
    }
    async fn issued_at(&self) -> Option<DateTime<Utc>> {
        self.1.issued_at
    }
    async fn due_date(&self) -> Option<DateTime<Utc>> {
        self.1.due_date
    }
    async fn cancelled(&self) -> bool {
        self.1.cancelled_by.is_some()
    }
    /// The cancellation invoice that cancelled this one.
    async fn cancelled_by(&self) -> Option<ID> {
        self.1.cancelled_by.as_ref().map(|r| ID(r.invoice_id.to_string()))
    }
    /// For a cancellation invoice: the invoice it cancels.
    async fn refers_to(&self) -> Option<ID> {
        self.1.refers_to.as_ref().map(|r| ID(r.invoice_id.to_string()))
    }
    async fn refers_to_number(&self) -> Option<&str> {
        self.1.refers_to.as_ref().map(|r| r.number.as_str())
    }
    async fn net(&self) -> Decimal {
        Decimal(self.content().net)
    }
    async fn vat_rate(&self) -> Decimal {
        Decimal(self.content().vat_rate)
    }
    async fn vat(&self) -> Decimal {
        Decimal(self.content().vat)
    }
    async fn gross(&self) -> Decimal {
        Decimal(self.content().gross)
    }
    async fn note(&self) -> Option<&str> {
        self.content().note.as_deref()
    }
    /// Lines grouped by project in tree order, with subtotals.
    async fn projects(&self) -> Vec<GroupNode> {
        self.content().groups.iter().map(GroupNode::from).collect()
    }
    /// What changed against the previous month.
    async fn changes(&self) -> &[String] {
        &self.content().changes
    }
    /// SHA-256 of the content as issued; `replay verify` recomputes it.
    async fn content_hash(&self) -> Option<&str> {
        self.1.content_hash.as_deref()
    }
    async fn pdf_url(&self) -> String {
        format!("/invoices/{}.pdf", self.0)
    }
}

/// An invoice as a run would issue it now, without issuing it.
#[derive(SimpleObject)]
pub struct InvoicePreview {
    pub customer_id: ID,
    pub period: String,
    pub net: Decimal,
    pub vat_rate: Decimal,
    pub vat: Decimal,
    pub gross: Decimal,
    pub note: Option<String>,
    pub projects: Vec<GroupNode>,
    pub changes: Vec<String>,
}

#[derive(SimpleObject)]
pub struct DriftEntry {
    pub invoice_id: ID,
    pub customer_id: ID,
    pub issued_net: Decimal,
    pub recomputed_net: Decimal,
    pub difference: Decimal,
}

fn period(s: &str) -> Result<Period, ApiError> {
    s.trim().parse().map_err(|e: domain::Invalid| ApiError::BadInput(e.to_string()))
}

/// Every valid (issued, not cancelled) invoice of the period, in customer-name order.
fn valid_invoices(at: projections::At<'_>, period: Period) -> Vec<(InvoiceId, Invoice)> {
    let mut customers: Vec<_> = at.customers().map(|(id, c)| (c.name.clone(), *id)).collect();
    customers.sort();
    customers
        .into_iter()
        .flat_map(|(_, c)| at.invoices_of(c).collect::<Vec<_>>())
        .filter_map(|i| at.invoice(&i).map(|x| (i, x.clone())))
        .filter(|(_, x)| {
            x.kind == Some(DomainKind::Invoice)
                && x.number.is_some()
                && x.cancelled_by.is_none()
                && x.content.as_ref().is_some_and(|c| c.period == period)
        })
        .collect()
}

#[derive(Default)]
pub struct BillingQuery;

#[Object]
impl BillingQuery {
    /// A customer's invoices and cancellation invoices, newest period first.
    async fn invoices(
        &self,
        ctx: &Context<'_>,
        customer_id: ID,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<Vec<InvoiceNode>> {
        let who = principal(ctx)?;
        let customer: CustomerId = parse_id(&customer_id, "customerId")?;
        if !who.can_read_customer(customer) {
            return Ok(vec![]);
        }
        let view = view(ctx, as_of).await?;
        let mut nodes: Vec<InvoiceNode> = view.with(app(ctx), |at| {
            at.invoices_of(customer)
                .filter_map(|i| at.invoice(&i).filter(|x| x.number.is_some()).map(|x| InvoiceNode(i, x.clone())))
                .collect()
        });
        nodes.sort_by(|a, b| b.1.issued_at.cmp(&a.1.issued_at).then(b.1.number.cmp(&a.1.number)));
        Ok(nodes)
    }

    async fn invoice(&self, ctx: &Context<'_>, id: ID, as_of: Option<DateTime<Utc>>) -> Result<Option<InvoiceNode>> {
        let who = principal(ctx)?;
        let id: InvoiceId = parse_id(&id, "id")?;
        let view = view(ctx, as_of).await?;
        Ok(view.with(app(ctx), |at| {
            at.invoice(&id)
                .filter(|x| x.number.is_some())
                .filter(|x| x.content.as_ref().is_some_and(|c| who.can_read_customer(c.customer_id)))
                .map(|x| InvoiceNode(id, x.clone()))
        }))
    }

    /// The invoice a run would issue now for a customer and period, by the same code, without
    /// issuing it (a past period may read its VMs' backup logs).
    #[graphql(complexity = "super::limits::LOG_READ + child_complexity")]
    async fn billing_preview(
        &self,
        ctx: &Context<'_>,
        customer_id: ID,
        period: String,
    ) -> Result<Option<InvoicePreview>> {
        let who = principal(ctx)?;
        let customer: CustomerId = parse_id(&customer_id, "customerId")?;
        let period = self::period(&period)?;
        if !who.can_read_customer(customer) {
            return Ok(None);
        }
        let content = app(ctx).invoice_content(None, customer, period, reads(ctx)).await?;
        Ok(content.map(|c| InvoicePreview {
            customer_id: ID(customer.to_string()),
            period: c.period.to_string(),
            net: Decimal(c.net),
            vat_rate: Decimal(c.vat_rate),
            vat: Decimal(c.vat),
            gross: Decimal(c.gross),
            note: c.note.clone(),
            projects: c.groups.iter().map(GroupNode::from).collect(),
            changes: c.changes.clone(),
        }))
    }

    /// Per valid issued invoice of the period: its net, and what the log as it stands now
    /// would give (late corrections never change an issued invoice).
    async fn billing_drift(&self, ctx: &Context<'_>, period: String) -> Result<Vec<DriftEntry>> {
        let who = principal(ctx)?;
        who.require(&[Staff::Billing, Staff::Auditor])?;
        let period = self::period(&period)?;
        let (position, issued) = {
            let catalog = app(ctx).catalog();
            let at = catalog.live();
            let issued: Vec<_> =
                valid_invoices(at, period).into_iter().filter_map(|(id, x)| Some((id, x.content?))).collect();
            (at.position(), issued)
        };
        let mut drift = vec![];
        for (id, issued) in issued {
            let recomputed = app(ctx)
                .invoice_content(Some(position), issued.customer_id, period, reads(ctx))
                .await?
                .map_or(rust_decimal::Decimal::ZERO, |c| c.net);
            drift.push(DriftEntry {
                invoice_id: ID(id.to_string()),
                customer_id: ID(issued.customer_id.to_string()),
                issued_net: Decimal(issued.net),
                recomputed_net: Decimal(recomputed),
                difference: Decimal(recomputed - issued.net),
            });
        }
        Ok(drift)
    }
}

#[derive(Default)]
pub struct BillingMutation;

#[Object]
impl BillingMutation {
    /// Issues one invoice per customer with a non-zero total for an ended period, in
    /// customer-name order; a customer with a valid invoice for it gets none. Answers the
    /// period's valid invoices (staff BILLING).
    async fn run_billing(&self, ctx: &Context<'_>, period: String) -> Result<Vec<InvoiceNode>> {
        let (app, who) = (app(ctx), principal(ctx)?);
        who.require(&[Staff::Billing])?;
        let period = self::period(&period)?;
        let valid = billing::run(app, period, &who.actor(), app.now()).await?;
        let catalog = app.catalog();
        let at = catalog.live();
        Ok(valid.into_iter().filter_map(|id| at.invoice(&id).map(|x| InvoiceNode(id, x.clone()))).collect())
    }

    /// Cancels an issued invoice by issuing a cancellation invoice with the negated lines;
    /// answers the cancellation invoice (staff BILLING).
    async fn cancel_invoice(&self, ctx: &Context<'_>, invoice_id: ID, reason: String) -> Result<InvoiceNode> {
        let (app, who) = (app(ctx), principal(ctx)?);
        who.require(&[Staff::Billing])?;
        let id: InvoiceId = parse_id(&invoice_id, "invoiceId")?;
        let st = billing::cancel(app, id, &reason, &who.actor(), app.now()).await?;
        let catalog = app.catalog();
        let found = catalog.live().invoice(&st).cloned();
        Ok(found
            .map(|x| InvoiceNode(st, x))
            .ok_or_else(|| ApiError::NotFound("the cancellation is not in the read model".into()))?)
    }
}
