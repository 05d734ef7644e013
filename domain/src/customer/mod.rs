//! Customer: a company (or person) that the hosting company bills.

use serde::{Deserialize, Serialize};

use crate::shared::error::{Classify, Invalid, Refusal};
use crate::shared::{Instant, validate};
use crate::{CustomerId, aggregate, event_names};

#[cfg(test)]
mod tests;

/// Payment terms when none are given: 14 days is the German default for B2B invoices.
pub const DEFAULT_PAYMENT_TERMS_DAYS: u32 = 14;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    pub id: Option<CustomerId>,
    pub name: String,
    pub country: String,
    pub vat_id: Option<String>,
    pub billing_address: String,
    pub payment_terms_days: u32,
    pub registered_at: Option<Instant>,
    pub closed_at: Option<Instant>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum CustomerCommand {
    Register {
        id: CustomerId,
        name: String,
        country: String,
        vat_id: Option<String>,
        billing_address: String,
        payment_terms_days: Option<i64>,
        effective_at: Instant,
    },
    Rename {
        name: String,
    },
    ChangeBillingAddress {
        billing_address: String,
    },
    Close {
        effective_at: Instant,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum CustomerEvent {
    CustomerRegistered {
        id: CustomerId,
        name: String,
        country: String,
        vat_id: Option<String>,
        billing_address: String,
        payment_terms_days: u32,
        effective_at: Instant,
    },
    CustomerRenamed {
        name: String,
    },
    BillingAddressChanged {
        billing_address: String,
    },
    CustomerClosed {
        effective_at: Instant,
    },
}

event_names!(CustomerEvent { CustomerRegistered, CustomerRenamed, BillingAddressChanged, CustomerClosed });

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum CustomerError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("customer {0} is already registered")]
    AlreadyRegistered(CustomerId),
    #[error("customer does not exist")]
    NotRegistered,
    #[error("customer is closed; a closed customer cannot be changed")]
    Closed,
    #[error("effectiveAt {at} is before the customer's registration ({since})")]
    BeforeRegistration { at: Instant, since: Instant },
}

impl Classify for CustomerError {
    fn refusal(&self) -> Refusal {
        match self {
            Self::Invalid(_) => Refusal::BadInput,
            Self::AlreadyRegistered(_) => Refusal::Conflict,
            Self::NotRegistered => Refusal::NotFound,
            Self::Closed | Self::BeforeRegistration { .. } => Refusal::RuleViolation,
        }
    }
}

impl Customer {
    fn open(&self) -> Result<(), CustomerError> {
        match (self.id, self.closed_at) {
            (None, _) => Err(CustomerError::NotRegistered),
            (Some(_), Some(_)) => Err(CustomerError::Closed),
            (Some(_), None) => Ok(()),
        }
    }
}

pub fn decide(c: &Customer, cmd: CustomerCommand) -> Result<Vec<CustomerEvent>, CustomerError> {
    use CustomerCommand as C;
    use CustomerEvent as E;
    match cmd {
        C::Register { id, .. } if c.id.is_some() => Err(CustomerError::AlreadyRegistered(id)),
        C::Register { id, name, country, vat_id, billing_address, payment_terms_days, effective_at } => {
            let payment_terms_days = match payment_terms_days {
                Some(days) => validate::within("paymentTermsDays", days, 0, 365, " days")?,
                None => DEFAULT_PAYMENT_TERMS_DAYS,
            };
            Ok(vec![E::CustomerRegistered {
                id,
                name: validate::name("name", &name)?,
                country: validate::country("country", &country)?,
                vat_id: vat_id.filter(|v| !v.trim().is_empty()).map(|v| validate::vat_id("vatId", &v)).transpose()?,
                billing_address: validate::text("billingAddress", &billing_address)?,
                payment_terms_days,
                effective_at,
            }])
        }
        C::Rename { name } => {
            c.open()?;
            let name = validate::name("name", &name)?;
            Ok(if name == c.name { vec![] } else { vec![E::CustomerRenamed { name }] })
        }
        C::ChangeBillingAddress { billing_address } => {
            c.open()?;
            let billing_address = validate::text("billingAddress", &billing_address)?;
            Ok(if billing_address == c.billing_address {
                vec![]
            } else {
                vec![E::BillingAddressChanged { billing_address }]
            })
        }
        C::Close { effective_at } => {
            c.open()?;
            let since = c.registered_at.unwrap_or(effective_at);
            if effective_at < since {
                return Err(CustomerError::BeforeRegistration { at: effective_at, since });
            }
            Ok(vec![E::CustomerClosed { effective_at }])
        }
    }
}

pub fn evolve(c: &mut Customer, event: &CustomerEvent) {
    match event {
        CustomerEvent::CustomerRegistered {
            id,
            name,
            country,
            vat_id,
            billing_address,
            payment_terms_days,
            effective_at,
        } => {
            *c = Customer {
                id: Some(*id),
                name: name.clone(),
                country: country.clone(),
                vat_id: vat_id.clone(),
                billing_address: billing_address.clone(),
                payment_terms_days: *payment_terms_days,
                registered_at: Some(*effective_at),
                closed_at: None,
            }
        }
        CustomerEvent::CustomerRenamed { name } => c.name = name.clone(),
        CustomerEvent::BillingAddressChanged { billing_address } => c.billing_address = billing_address.clone(),
        CustomerEvent::CustomerClosed { effective_at } => c.closed_at = Some(*effective_at),
    }
}

aggregate!(Customer, "customer", CustomerCommand, CustomerEvent, CustomerError);
