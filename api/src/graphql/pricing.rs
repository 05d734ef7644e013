//! Price lists: published by billing staff, read by everyone who checks an invoice.

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use domain::person::StaffRole as Staff;
use domain::price_list::{PriceListCommand, Prices, stream_id};
use projections::catalog::PriceListRecord;

use super::scalars::{Decimal, Long};
use super::{answered, app, envelope, principal, view};
use app::error::ApiError;

#[derive(InputObject)]
pub struct PublishPriceListInput {
    pub command_id: Option<ID>,
    pub valid_from: DateTime<Utc>,
    pub vcpu: Decimal,
    pub ram_gb: Decimal,
    pub disk_gb: Decimal,
    pub backup_gb: Decimal,
    pub monitor: Decimal,
    pub sla_basic: Decimal,
    pub sla_standard: Decimal,
    pub sla_premium: Decimal,
}

/// Monthly EUR per unit; per SLA class a monthly surcharge per VM.
#[derive(SimpleObject)]
#[graphql(name = "PriceList")]
pub struct PriceListNode {
    pub valid_from: DateTime<Utc>,
    pub vcpu: Decimal,
    pub ram_gb: Decimal,
    pub disk_gb: Decimal,
    pub backup_gb: Decimal,
    pub monitor: Decimal,
    pub sla_basic: Decimal,
    pub sla_standard: Decimal,
    pub sla_premium: Decimal,
    /// The log position of its publication (the provenance invoices cite).
    pub position: Long,
}

impl From<&PriceListRecord> for PriceListNode {
    fn from(r: &PriceListRecord) -> PriceListNode {
        let p = &r.prices;
        PriceListNode {
            valid_from: r.valid_from,
            vcpu: Decimal(p.vcpu),
            ram_gb: Decimal(p.ram_gb),
            disk_gb: Decimal(p.disk_gb),
            backup_gb: Decimal(p.backup_gb),
            monitor: Decimal(p.monitor),
            sla_basic: Decimal(p.sla_basic),
            sla_standard: Decimal(p.sla_standard),
            sla_premium: Decimal(p.sla_premium),
            position: Long(r.recorded),
        }
    }
}

#[derive(Default)]
pub struct PricingQuery;

#[Object]
impl PricingQuery {
    /// Every published price list, by `validFrom`; with `asOf`, those published by then.
    async fn price_lists(&self, ctx: &Context<'_>, as_of: Option<DateTime<Utc>>) -> Result<Vec<PriceListNode>> {
        principal(ctx)?;
        let view = view(ctx, as_of).await?;
        Ok(view.with(app(ctx), |at| at.price_lists().into_iter().map(PriceListNode::from).collect()))
    }
}

#[derive(Default)]
pub struct PricingMutation;

#[Object]
impl PricingMutation {
    /// A price list that applies from `validFrom` until the next one (staff BILLING).
    async fn publish_price_list(
        &self,
        ctx: &Context<'_>,
        input: PublishPriceListInput,
        reason: Option<String>,
    ) -> Result<PriceListNode> {
        let (app, who) = (app(ctx), principal(ctx)?);
        who.require(&[Staff::Billing])?;
        let env = envelope(ctx, who, input.command_id.as_ref(), reason)?;
        let prices = Prices {
            vcpu: input.vcpu.0,
            ram_gb: input.ram_gb.0,
            disk_gb: input.disk_gb.0,
            backup_gb: input.backup_gb.0,
            monitor: input.monitor.0,
            sla_basic: input.sla_basic.0,
            sla_standard: input.sla_standard.0,
            sla_premium: input.sla_premium.0,
        };
        let valid_from = app.effective("validFrom", Some(input.valid_from))?;
        let cmd = PriceListCommand::Publish { valid_from, prices };
        let done = app.bus.execute(&app.bus.price_lists, &stream_id().to_string(), cmd, &env).await?;
        let published = answered(&done)
            .with(app, |at| at.price_lists().into_iter().find(|r| r.valid_from == valid_from).map(PriceListNode::from));
        Ok(published.ok_or_else(|| ApiError::NotFound("the price list is not in the read model".into()))?)
    }
}
