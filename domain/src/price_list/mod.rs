//! PriceLists: every published price list, by the instant from which it applies. One
//! stream holds them all, so two lists can never claim the same `valid_from`.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::shared::Instant;
use crate::shared::error::{Classify, Invalid, Refusal};
use crate::{aggregate, event_names};

#[cfg(test)]
mod tests;

/// The most decimal places a unit price may have (prices per hour need sub-cent precision).
pub const MAX_SCALE: u32 = 6;
/// A monthly unit price above this is a typing error.
pub const MAX_PRICE: i64 = 1_000_000;

/// The id of the one stream that holds every price list.
pub fn stream_id() -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_OID, b"directory:price-lists")
}

/// Monthly EUR per unit, and per SLA class a monthly surcharge per VM.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prices {
    pub vcpu: Decimal,
    pub ram_gb: Decimal,
    pub disk_gb: Decimal,
    pub backup_gb: Decimal,
    pub monitor: Decimal,
    pub sla_basic: Decimal,
    pub sla_standard: Decimal,
    pub sla_premium: Decimal,
}

impl Prices {
    fn validate(&self) -> Result<(), Invalid> {
        let fields = [
            ("vcpu", self.vcpu),
            ("ramGb", self.ram_gb),
            ("diskGb", self.disk_gb),
            ("backupGb", self.backup_gb),
            ("monitor", self.monitor),
            ("slaBasic", self.sla_basic),
            ("slaStandard", self.sla_standard),
            ("slaPremium", self.sla_premium),
        ];
        for (field, price) in fields {
            if price.is_sign_negative() && !price.is_zero() {
                return Err(Invalid::new(field, "must not be negative"));
            }
            if price.normalize().scale() > MAX_SCALE {
                return Err(Invalid::new(field, format!("at most {MAX_SCALE} decimal places")));
            }
            if price > Decimal::from(MAX_PRICE) {
                return Err(Invalid::new(field, format!("at most {MAX_PRICE} EUR a month")));
            }
        }
        Ok(())
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PriceLists {
    pub lists: BTreeMap<Instant, Prices>,
}

impl PriceLists {
    /// The list that applies at `at`: the one with the latest `valid_from <= at`.
    pub fn applies_at(&self, at: Instant) -> Option<(Instant, &Prices)> {
        self.lists.range(..=at).next_back().map(|(from, p)| (*from, p))
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum PriceListCommand {
    Publish { valid_from: Instant, prices: Prices },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum PriceListEvent {
    PriceListPublished { valid_from: Instant, prices: Prices },
}

event_names!(PriceListEvent { PriceListPublished });

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PriceListError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("a price list valid from {0} is already published")]
    AlreadyPublished(Instant),
}

impl Classify for PriceListError {
    fn refusal(&self) -> Refusal {
        match self {
            Self::Invalid(_) => Refusal::BadInput,
            Self::AlreadyPublished(_) => Refusal::Conflict,
        }
    }
}

pub fn decide(state: &PriceLists, cmd: PriceListCommand) -> Result<Vec<PriceListEvent>, PriceListError> {
    match cmd {
        PriceListCommand::Publish { valid_from, prices } => {
            prices.validate()?;
            if state.lists.contains_key(&valid_from) {
                return Err(PriceListError::AlreadyPublished(valid_from));
            }
            Ok(vec![PriceListEvent::PriceListPublished { valid_from, prices }])
        }
    }
}

pub fn evolve(state: &mut PriceLists, event: &PriceListEvent) {
    match event {
        PriceListEvent::PriceListPublished { valid_from, prices } => {
            state.lists.insert(*valid_from, prices.clone());
        }
    }
}

aggregate!(PriceLists, "price_list", PriceListCommand, PriceListEvent, PriceListError);
