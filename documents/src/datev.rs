//! The DATEV booking batch ("EXTF Buchungsstapel", format version 700, category 21): one
//! booking per issued invoice and cancellation invoice of a service period. Each document
//! is booked at its gross amount on the debtor account against the revenue account of its
//! tax case (SKR03: 8400 revenue at 19 %, 8336 EU services under reverse charge, 8338
//! services not taxable in Germany); an invoice on the debit side, a cancellation on the
//! credit side.

use domain::invoice::{Invoice, InvoiceKind, TaxCase};
use domain::{Instant, InvoiceId, Period};
use rust_decimal::Decimal;

pub const TARGET: &str = "datev-extf";

/// Accounts and identifiers of the booking batch.
#[derive(Clone, Debug)]
pub struct Accounts {
    pub consultant: u32,
    pub client: u32,
    /// The collective debtor account the documents are booked on.
    pub debtor: u32,
}

impl Default for Accounts {
    fn default() -> Self {
        Accounts { consultant: 1001, client: 1, debtor: 10000 }
    }
}

fn revenue_account(invoice: &Invoice) -> u32 {
    let c = invoice.content.as_ref().expect("issued documents have content");
    match c.tax_case {
        TaxCase::Standard => 8400,
        TaxCase::ReverseCharge => 8336,
        TaxCase::NotTaxableHere => 8338,
    }
}

/// A field in quotes, with quotes doubled and the separator kept out.
fn text(s: &str, max: usize) -> String {
    let clean: String = s.chars().filter(|c| *c != '"' && *c != ';' && !c.is_control()).take(max).collect();
    format!("\"{clean}\"")
}

fn german_amount(d: Decimal) -> String {
    format!("{:.2}", d.abs().round_dp(2)).replace('.', ",")
}

/// The documents of a service period, invoices first, each by number.
pub fn documents(at: projections::At<'_>, period: Period) -> Vec<(InvoiceId, Invoice)> {
    let mut docs: Vec<(InvoiceId, Invoice)> = at
        .customers()
        .flat_map(|(c, _)| at.invoices_of(*c).collect::<Vec<_>>())
        .filter_map(|i| at.invoice(&i).map(|x| (i, x.clone())))
        .filter(|(_, x)| x.number.is_some() && x.content.as_ref().is_some_and(|c| c.period == period))
        .collect();
    docs.sort_by(|a, b| {
        (a.1.kind == Some(InvoiceKind::Cancellation), &a.1.number)
            .cmp(&(b.1.kind == Some(InvoiceKind::Cancellation), &b.1.number))
    });
    docs
}

/// The batch as text (Windows line ends, as DATEV reads it).
pub fn batch(documents: &[(InvoiceId, Invoice)], period: Period, accounts: &Accounts, created: Instant) -> String {
    let berlin = |t: Instant| t.with_timezone(&chrono_tz::Europe::Berlin);
    let fiscal_year = format!("{}0101", period.year());
    let header = [
        "\"EXTF\"".to_owned(),
        "700".into(),
        "21".into(),
        "\"Buchungsstapel\"".into(),
        "13".into(),
        berlin(created).format("%Y%m%d%H%M%S%3f").to_string(),
        String::new(),
        "\"RE\"".into(),
        "\"directory\"".into(),
        "\"\"".into(),
        accounts.consultant.to_string(),
        accounts.client.to_string(),
        fiscal_year,
        "4".into(),
        berlin(period.start()).format("%Y%m%d").to_string(),
        berlin(period.end() - chrono::Duration::seconds(1)).format("%Y%m%d").to_string(),
        text(&format!("Rechnungen {period}"), 30),
        "\"\"".into(),
        "1".into(),
        "0".into(),
        "0".into(),
        "\"EUR\"".into(),
    ];
    let columns = "Umsatz (ohne Soll/Haben-Kz);Soll/Haben-Kennzeichen;WKZ Umsatz;Kurs;Basis-Umsatz;WKZ Basis-Umsatz;Konto;Gegenkonto (ohne BU-Schlüssel);BU-Schlüssel;Belegdatum;Belegfeld 1;Belegfeld 2;Skonto;Buchungstext";
    let mut out = format!("{}\r\n{columns}\r\n", header.join(";"));
    for (_, doc) in documents {
        let c = doc.content.as_ref().expect("content");
        let cancellation = doc.kind == Some(InvoiceKind::Cancellation);
        let issued = doc.issued_at.map(berlin).map(|d| d.format("%d%m").to_string()).unwrap_or_default();
        // Belegfeld 2 holds 12 characters at most: the cancelled number goes into the text.
        let what = match &doc.refers_to {
            Some(r) if cancellation => format!("Storno zu {}", r.number),
            _ => "Rechnung".to_owned(),
        };
        let row = [
            german_amount(c.gross),
            text(if cancellation { "H" } else { "S" }, 1),
            text("EUR", 3),
            String::new(),
            String::new(),
            String::new(),
            accounts.debtor.to_string(),
            revenue_account(doc).to_string(),
            text("", 4),
            issued,
            text(doc.number.as_deref().unwrap_or_default(), 36),
            text("", 12),
            String::new(),
            text(&format!("{what} {} {}", c.period, c.recipient.name), 60),
        ];
        out.push_str(&row.join(";"));
        out.push_str("\r\n");
    }
    out
}
