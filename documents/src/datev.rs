//! DATEV's import format ("EXTF", header version 700), in Windows-1252 with Windows line
//! ends, as DATEV reads it; each file is a header line of 31 fields, a line naming every
//! column of its format, then one line per record with a field for every column.
//!
//! - The booking batch ("Buchungsstapel", category 21, format version 13, 125 columns): one
//!   booking per issued invoice and cancellation invoice of a service period, at its gross
//!   amount on the customer's debtor account against the revenue account of its tax case
//!   (SKR03: 8400 revenue at 19 %, 8336 EU services under reverse charge, 8338 services not
//!   taxable in Germany); an invoice on the debit side, a cancellation on the credit side.
//! - The customer master data ("Debitoren/Kreditoren", category 16, format version 5, 254
//!   columns): one record per customer with its debtor account, name, address, VAT id and
//!   payment terms, so that the bookings land on accounts the bookkeeper knows.
//!
//! A customer's debtor account is the configured range's start plus the customer's rank in
//! the order customers were registered (by log position): a new customer always comes last,
//! so no account ever changes once given.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use domain::customer::Customer;
use domain::invoice::{Invoice, InvoiceKind, TaxCase};
use domain::{CustomerId, Instant, InvoiceId, Period};
use rust_decimal::Decimal;

pub const TARGET: &str = "datev-extf";

/// The length of general-ledger accounts (SKR03: four digits); debtor accounts have one more.
pub const ACCOUNT_LENGTH: u32 = 4;

/// Accounts and identifiers of the files.
#[derive(Clone, Debug)]
pub struct Accounts {
    pub consultant: u32,
    pub client: u32,
    /// The debtor accounts customers are given, in the order they were registered.
    pub debtors: RangeInclusive<u32>,
}

impl Default for Accounts {
    fn default() -> Self {
        // SKR03's debtor range with four-digit ledger accounts.
        Accounts { consultant: 1001, client: 1, debtors: 10000..=69999 }
    }
}

/// More customers than the configured debtor range holds.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the debtor accounts {first}–{last} hold {capacity} customers; there are {customers}")]
pub struct RangeFull {
    pub first: u32,
    pub last: u32,
    pub capacity: u64,
    pub customers: usize,
}

/// Every customer's debtor account, given in the order of registration.
pub fn debtor_accounts(at: projections::At<'_>, accounts: &Accounts) -> Result<BTreeMap<CustomerId, u32>, RangeFull> {
    let mut registered: Vec<(i64, CustomerId)> =
        at.customers().map(|(id, _)| (at.customer_events(id).first().copied().unwrap_or(i64::MAX), *id)).collect();
    registered.sort();
    let (first, last) = (*accounts.debtors.start(), *accounts.debtors.end());
    let capacity = u64::from(last.saturating_sub(first)) + 1;
    if first > last || registered.len() as u64 > capacity {
        return Err(RangeFull { first, last, capacity, customers: registered.len() });
    }
    Ok(registered.into_iter().zip(first..).map(|((_, id), account)| (id, account)).collect())
}

/// A field's kind in DATEV's format description: text is quoted, the rest is not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Text,
    /// An amount: digits, a decimal comma, two places, no sign.
    Amount,
    Number,
    /// `DDMM` in the booking batch, `TTMMJJJJ` elsewhere.
    Date,
    Account,
}

/// The booking batch's columns (format version 13).
pub const BOOKING_COLUMNS: [(&str, Kind); 125] = {
    use Kind::*;
    [
        ("Umsatz (ohne Soll/Haben-Kz)", Amount),
        ("Soll/Haben-Kennzeichen", Text),
        ("WKZ Umsatz", Text),
        ("Kurs", Number),
        ("Basis-Umsatz", Amount),
        ("WKZ Basis-Umsatz", Text),
        ("Konto", Account),
        ("Gegenkonto (ohne BU-Schlüssel)", Account),
        ("BU-Schlüssel", Text),
        ("Belegdatum", Date),
        ("Belegfeld 1", Text),
        ("Belegfeld 2", Text),
        ("Skonto", Amount),
        ("Buchungstext", Text),
        ("Postensperre", Number),
        ("Diverse Adressnummer", Text),
        ("Geschäftspartnerbank", Number),
        ("Sachverhalt", Number),
        ("Zinssperre", Number),
        ("Beleglink", Text),
        ("Beleginfo - Art 1", Text),
        ("Beleginfo - Inhalt 1", Text),
        ("Beleginfo - Art 2", Text),
        ("Beleginfo - Inhalt 2", Text),
        ("Beleginfo - Art 3", Text),
        ("Beleginfo - Inhalt 3", Text),
        ("Beleginfo - Art 4", Text),
        ("Beleginfo - Inhalt 4", Text),
        ("Beleginfo - Art 5", Text),
        ("Beleginfo - Inhalt 5", Text),
        ("Beleginfo - Art 6", Text),
        ("Beleginfo - Inhalt 6", Text),
        ("Beleginfo - Art 7", Text),
        ("Beleginfo - Inhalt 7", Text),
        ("Beleginfo - Art 8", Text),
        ("Beleginfo - Inhalt 8", Text),
        ("KOST1 - Kostenstelle", Text),
        ("KOST2 - Kostenstelle", Text),
        ("Kost-Menge", Number),
        ("EU-Land u. UStID (Bestimmung)", Text),
        ("EU-Steuersatz (Bestimmung)", Number),
        ("Abw. Versteuerungsart", Text),
        ("Sachverhalt L+L", Number),
        ("Funktionsergänzung L+L", Number),
        ("BU 49 Hauptfunktionstyp", Number),
        ("BU 49 Hauptfunktionsnummer", Number),
        ("BU 49 Funktionsergänzung", Number),
        ("Zusatzinformation - Art 1", Text),
        ("Zusatzinformation- Inhalt 1", Text),
        ("Zusatzinformation - Art 2", Text),
        ("Zusatzinformation- Inhalt 2", Text),
        ("Zusatzinformation - Art 3", Text),
        ("Zusatzinformation- Inhalt 3", Text),
        ("Zusatzinformation - Art 4", Text),
        ("Zusatzinformation- Inhalt 4", Text),
        ("Zusatzinformation - Art 5", Text),
        ("Zusatzinformation- Inhalt 5", Text),
        ("Zusatzinformation - Art 6", Text),
        ("Zusatzinformation- Inhalt 6", Text),
        ("Zusatzinformation - Art 7", Text),
        ("Zusatzinformation- Inhalt 7", Text),
        ("Zusatzinformation - Art 8", Text),
        ("Zusatzinformation- Inhalt 8", Text),
        ("Zusatzinformation - Art 9", Text),
        ("Zusatzinformation- Inhalt 9", Text),
        ("Zusatzinformation - Art 10", Text),
        ("Zusatzinformation- Inhalt 10", Text),
        ("Zusatzinformation - Art 11", Text),
        ("Zusatzinformation- Inhalt 11", Text),
        ("Zusatzinformation - Art 12", Text),
        ("Zusatzinformation- Inhalt 12", Text),
        ("Zusatzinformation - Art 13", Text),
        ("Zusatzinformation- Inhalt 13", Text),
        ("Zusatzinformation - Art 14", Text),
        ("Zusatzinformation- Inhalt 14", Text),
        ("Zusatzinformation - Art 15", Text),
        ("Zusatzinformation- Inhalt 15", Text),
        ("Zusatzinformation - Art 16", Text),
        ("Zusatzinformation- Inhalt 16", Text),
        ("Zusatzinformation - Art 17", Text),
        ("Zusatzinformation- Inhalt 17", Text),
        ("Zusatzinformation - Art 18", Text),
        ("Zusatzinformation- Inhalt 18", Text),
        ("Zusatzinformation - Art 19", Text),
        ("Zusatzinformation- Inhalt 19", Text),
        ("Zusatzinformation - Art 20", Text),
        ("Zusatzinformation- Inhalt 20", Text),
        ("Stück", Number),
        ("Gewicht", Number),
        ("Zahlweise", Number),
        ("Forderungsart", Text),
        ("Veranlagungsjahr", Number),
        ("Zugeordnete Fälligkeit", Date),
        ("Skontotyp", Number),
        ("Auftragsnummer", Text),
        ("Buchungstyp (Anzahlungen)", Text),
        ("USt-Schlüssel (Anzahlungen)", Number),
        ("EU-Land (Anzahlungen)", Text),
        ("Sachverhalt L+L (Anzahlungen)", Number),
        ("EU-Steuersatz (Anzahlungen)", Number),
        ("Erlöskonto (Anzahlungen)", Account),
        ("Herkunft-Kz", Text),
        ("Buchungs GUID", Text),
        ("KOST-Datum", Date),
        ("SEPA-Mandatsreferenz", Text),
        ("Skontosperre", Number),
        ("Gesellschaftername", Text),
        ("Beteiligtennummer", Number),
        ("Identifikationsnummer", Text),
        ("Zeichnernummer", Text),
        ("Postensperre bis", Date),
        ("Bezeichnung SoBil-Sachverhalt", Text),
        ("Kennzeichen SoBil-Buchung", Number),
        ("Festschreibung", Number),
        ("Leistungsdatum", Date),
        ("Datum Zuord. Steuerperiode", Date),
        ("Fälligkeit", Date),
        ("Generalumkehr (GU)", Text),
        ("Steuersatz", Number),
        ("Land", Text),
        ("Abrechnungsreferenz", Text),
        ("BVV-Position", Number),
        ("EU-Land u. UStID (Ursprung)", Text),
        ("EU-Steuersatz (Ursprung)", Number),
        ("Abw. Skontokonto", Account),
    ]
};

/// The master data's columns (format version 5).
pub const MASTER_COLUMNS: usize = 254;

/// The master data's column names, from DATEV's format description: the columns that
/// repeat per bank account (1–10) and individual field (1–15) are made from their pattern.
pub fn master_column_names() -> Vec<String> {
    let mut names: Vec<String> = [
        "Konto",
        "Name (Adressattyp Unternehmen)",
        "Unternehmensgegenstand",
        "Name (Adressattyp natürl. Person)",
        "Vorname (Adressattyp natürl. Person)",
        "Name (Adressattyp keine Angabe)",
        "Adressattyp",
        "Kurzbezeichnung",
        "EU-Land",
        "EU-UStID",
        "Anrede",
        "Titel/Akad. Grad",
        "Adelstitel",
        "Namensvorsatz",
        "Adressart",
        "Straße",
        "Postfach",
        "Postleitzahl",
        "Ort",
        "Land",
        "Versandzusatz",
        "Adresszusatz",
        "Abweichende Anrede",
        "Abw. Zustellbezeichnung 1",
        "Abw. Zustellbezeichnung 2",
        "Kennz. Korrespondenzadresse",
        "Adresse Gültig von",
        "Adresse Gültig bis",
        "Telefon",
        "Bemerkung (Telefon)",
        "Telefon GL",
        "Bemerkung (Telefon GL)",
        "E-Mail",
        "Bemerkung (E-Mail)",
        "Internet",
        "Bemerkung (Internet)",
        "Fax",
        "Bemerkung (Fax)",
        "Sonstige",
        "Bemerkung (Sonstige)",
    ]
    .map(String::from)
    .to_vec();
    let bank = |names: &mut Vec<String>, n: usize, blank: usize| {
        names.extend([
            format!("Bankleitzahl {n}"),
            format!("Bankbezeichnung {n}"),
            format!("Bank-Kontonummer {n}"),
            format!("Länderkennzeichen {n}"),
            format!("IBAN-Nr. {n}"),
            format!("Leerfeld {blank}"),
            format!("SWIFT-Code {n}"),
            format!("Abw. Kontoinhaber {n}"),
            format!("Kennz. Hauptbankverb. {n}"),
            format!("Bankverb {n} Gültig von"),
            format!("Bankverb {n} Gültig bis"),
        ]);
    };
    for n in 1..=5 {
        bank(&mut names, n, n);
    }
    names.extend(
        [
            "Leerfeld 6",
            "Briefanrede",
            "Grußformel",
            "Kunden-/Lief.-Nr.",
            "Steuernummer",
            "Sprache",
            "Ansprechpartner",
            "Vertreter",
            "Sachbearbeiter",
            "Diverse-Konto",
            "Ausgabeziel",
            "Währungssteuerung",
            "Kreditlimit (Debitor)",
            "Zahlungsbedingung",
            "Fälligkeit in Tagen (Debitor)",
            "Skonto in Prozent (Debitor)",
            "Kreditoren-Ziel 1 Tg.",
            "Kreditoren-Skonto 1 %",
            "Kreditoren-Ziel 2 Tg.",
            "Kreditoren-Skonto 2 %",
            "Kreditoren-Ziel 3 Brutto Tg.",
            "Kreditoren-Ziel 4 Tg.",
            "Kreditoren-Skonto 4 %",
            "Kreditoren-Ziel 5 Tg.",
            "Kreditoren-Skonto 5 %",
            "Mahnung",
            "Kontoauszug",
            "Mahntext 1",
            "Mahntext 2",
            "Mahntext 3",
            "Kontoauszugstext",
            "Mahnlimit Betrag",
            "Mahnlimit %",
            "Zinsberechnung",
            "Mahnzinssatz 1",
            "Mahnzinssatz 2",
            "Mahnzinssatz 3",
            "Lastschrift",
            "Leerfeld 7",
            "Mandantenbank",
            "Zahlungsträger",
        ]
        .map(String::from),
    );
    names.extend((1..=15).map(|n| format!("Indiv. Feld {n}")));
    names.extend(
        [
            "Abweichende Anrede (Rechnungsadresse)",
            "Adressart (Rechnungsadresse)",
            "Straße (Rechnungsadresse)",
            "Postfach (Rechnungsadresse)",
            "Postleitzahl (Rechnungsadresse)",
            "Ort (Rechnungsadresse)",
            "Land (Rechnungsadresse)",
            "Versandzusatz (Rechnungsadresse)",
            "Adresszusatz (Rechnungsadresse)",
            "Abw. Zustellbezeichnung 1 (Rechnungsadresse)",
            "Abw. Zustellbezeichnung 2 (Rechnungsadresse)",
            "Adresse Gültig von (Rechnungsadresse)",
            "Adresse Gültig bis (Rechnungsadresse)",
        ]
        .map(String::from),
    );
    for n in 6..=10 {
        bank(&mut names, n, n + 2);
    }
    names.extend(["Nummer Fremdsystem", "Insolvent"].map(String::from));
    names.extend((1..=10).map(|n| format!("SEPA-Mandatsreferenz {n}")));
    names.extend(
        [
            "Verknüpftes OPOS-Konto",
            "Mahnsperre bis",
            "Lastschriftsperre bis",
            "Zahlungssperre bis",
            "Gebührenberechnung",
            "Mahngebühr 1",
            "Mahngebühr 2",
            "Mahngebühr 3",
            "Pauschalenberechnung",
            "Verzugspauschale 1",
            "Verzugspauschale 2",
            "Verzugspauschale 3",
            "Alternativer Suchname",
            "Status",
            "Anschrift manuell geändert (Korrespondenzadresse)",
            "Anschrift individuell (Korrespondenzadresse)",
            "Anschrift manuell geändert (Rechnungsadresse)",
            "Anschrift individuell (Rechnungsadresse)",
            "Fristberechnung bei Debitor",
            "Mahnfrist 1",
            "Mahnfrist 2",
            "Mahnfrist 3",
            "Letzte Frist",
        ]
        .map(String::from),
    );
    names
}

/// The master data's columns this export fills, by their number (1-based); the account,
/// the language and the days to pay are numbers, the rest text.
mod master {
    pub const ACCOUNT: usize = 1;
    pub const COMPANY: usize = 2;
    pub const ADDRESSEE_KIND: usize = 7;
    pub const SHORT_NAME: usize = 8;
    pub const EU_COUNTRY: usize = 9;
    pub const EU_VAT_ID: usize = 10;
    pub const ADDRESS_KIND: usize = 15;
    pub const STREET: usize = 16;
    pub const POSTCODE: usize = 18;
    pub const CITY: usize = 19;
    pub const COUNTRY: usize = 20;
    pub const CUSTOMER_NUMBER: usize = 99;
    pub const LANGUAGE: usize = 101;
    pub const DUE_DAYS: usize = 110;
    pub const FOREIGN_NUMBER: usize = 220;
}

fn revenue_account(invoice: &Invoice) -> u32 {
    let c = invoice.content.as_ref().expect("issued documents have content");
    match c.tax_case {
        TaxCase::Standard => 8400,
        TaxCase::ReverseCharge => 8336,
        TaxCase::NotTaxableHere => 8338,
    }
}

/// A text field: quoted, at most `max` characters, with what would end it (quotes, the
/// separator, line ends) left out.
fn text(s: &str, max: usize) -> String {
    let clean: String = s.chars().filter(|c| *c != '"' && *c != ';' && !c.is_control()).take(max).collect();
    format!("\"{}\"", clean.trim())
}

fn german_amount(d: Decimal) -> String {
    format!("{:.2}", d.abs().round_dp(2)).replace('.', ",")
}

fn berlin(t: Instant) -> chrono::DateTime<chrono_tz::Tz> {
    t.with_timezone(&chrono_tz::Europe::Berlin)
}

/// The header line: 31 fields, the last nine reserved or unused here.
fn header(
    category: u32,
    name: &str,
    version: u32,
    accounts: &Accounts,
    created: Instant,
    dated: Option<Period>,
    label: &str,
) -> String {
    let fiscal_year =
        dated.map_or_else(|| format!("{}0101", berlin(created).format("%Y")), |p| format!("{}0101", p.year()));
    let (from, to) = match dated {
        Some(p) => (
            berlin(p.start()).format("%Y%m%d").to_string(),
            berlin(p.end() - chrono::Duration::seconds(1)).format("%Y%m%d").to_string(),
        ),
        None => (String::new(), String::new()),
    };
    let booking = dated.is_some();
    [
        "\"EXTF\"".to_owned(),
        "700".into(),
        category.to_string(),
        text(name, 40),
        version.to_string(),
        berlin(created).format("%Y%m%d%H%M%S%3f").to_string(),
        String::new(),
        "\"RE\"".into(),
        "\"directory\"".into(),
        "\"\"".into(),
        accounts.consultant.to_string(),
        accounts.client.to_string(),
        fiscal_year,
        ACCOUNT_LENGTH.to_string(),
        from,
        to,
        text(label, 30),
        "\"\"".into(),
        if booking { "1".into() } else { String::new() },
        if booking { "0".into() } else { String::new() },
        if booking { "0".into() } else { String::new() },
        if booking { "\"EUR\"".into() } else { "\"\"".into() },
        String::new(),
        "\"\"".into(),
        String::new(),
        String::new(),
        "\"03\"".into(),
        String::new(),
        String::new(),
        "\"\"".into(),
        "\"\"".into(),
    ]
    .join(";")
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

/// Lines as DATEV reads them: Windows-1252, Windows line ends. A character that code page
/// lacks becomes `?`.
fn file(lines: Vec<String>) -> Vec<u8> {
    let code_page = encoding_rs::WINDOWS_1252;
    let encodable = |c: char| c.is_ascii() || !code_page.encode(c.encode_utf8(&mut [0; 4])).2;
    let text: String = lines
        .into_iter()
        .flat_map(|l| l.chars().chain(['\r', '\n']).collect::<Vec<_>>())
        .map(|c| if encodable(c) { c } else { '?' })
        .collect();
    code_page.encode(&text).0.into_owned()
}

/// The booking batch of a period's documents.
pub fn batch(
    documents: &[(InvoiceId, Invoice)],
    period: Period,
    accounts: &Accounts,
    debtors: &BTreeMap<CustomerId, u32>,
    created: Instant,
) -> Vec<u8> {
    let mut lines = vec![
        header(21, "Buchungsstapel", 13, accounts, created, Some(period), &format!("Rechnungen {period}")),
        BOOKING_COLUMNS.iter().map(|(name, _)| *name).collect::<Vec<_>>().join(";"),
    ];
    for (_, doc) in documents {
        let c = doc.content.as_ref().expect("content");
        let cancellation = doc.kind == Some(InvoiceKind::Cancellation);
        let issued = doc.issued_at.map(berlin).map(|d| d.format("%d%m").to_string()).unwrap_or_default();
        // Belegfeld 2 holds 12 characters at most: the cancelled number goes into the text.
        let what = match &doc.refers_to {
            Some(r) if cancellation => format!("Storno zu {}", r.number),
            _ => "Rechnung".to_owned(),
        };
        let debtor = debtors.get(&c.customer_id).map(u32::to_string).unwrap_or_default();
        let mut row: Vec<String> = BOOKING_COLUMNS
            .iter()
            .map(|(_, kind)| if *kind == Kind::Text { "\"\"".into() } else { String::new() })
            .collect();
        row[0] = german_amount(c.gross);
        row[1] = text(if cancellation { "H" } else { "S" }, 1);
        row[2] = text("EUR", 3);
        row[6] = debtor;
        row[7] = revenue_account(doc).to_string();
        row[9] = issued;
        row[10] = text(doc.number.as_deref().unwrap_or_default(), 36);
        row[13] = text(&format!("{what} {} {}", c.period, c.recipient.name), 60);
        lines.push(row.join(";"));
    }
    file(lines)
}

/// The customer master data: every customer with its debtor account.
pub fn master_data(
    at: projections::At<'_>,
    accounts: &Accounts,
    debtors: &BTreeMap<CustomerId, u32>,
    created: Instant,
) -> Vec<u8> {
    let names = master_column_names();
    let mut lines = vec![header(16, "Debitoren/Kreditoren", 5, accounts, created, None, "Kunden"), names.join(";")];
    let mut customers: Vec<(u32, CustomerId, &Customer)> =
        at.customers().filter_map(|(id, c)| debtors.get(id).map(|a| (*a, *id, c))).collect();
    customers.sort_by_key(|(account, _, _)| *account);
    for (account, id, c) in customers {
        // Columns left empty are empty whatever their kind.
        let mut row = vec![String::new(); MASTER_COLUMNS];
        let mut set = |column: usize, value: String| row[column - 1] = value;
        let address = crate::address::Address::parse(&c.billing_address);
        set(master::ACCOUNT, account.to_string());
        set(master::COMPANY, text(&c.name, 50));
        set(master::ADDRESSEE_KIND, text("2", 1));
        set(master::SHORT_NAME, text(&c.name, 15));
        // EU customers: country and VAT id apart (a German one needs neither for the VAT return).
        if let Some(vat) = c.vat_id.as_deref().filter(|v| v.len() > 2 && c.country != "DE") {
            set(master::EU_COUNTRY, text(&vat[..2], 2));
            set(master::EU_VAT_ID, text(&vat[2..], 13));
        }
        set(master::ADDRESS_KIND, text("STR", 3));
        set(master::STREET, text(&address.street, 36));
        set(master::POSTCODE, text(address.postcode.as_deref().unwrap_or_default(), 10));
        set(master::CITY, text(&address.city, 30));
        set(master::COUNTRY, text(&c.country, 2));
        let short_id: String = id.to_string().chars().filter(|c| *c != '-').take(15).collect();
        set(master::CUSTOMER_NUMBER, text(&short_id, 15));
        // DATEV's language codes: 1 German, 4 English.
        set(master::LANGUAGE, if ["DE", "AT", "CH", "LI"].contains(&c.country.as_str()) { "1" } else { "4" }.into());
        set(master::DUE_DAYS, c.payment_terms_days.min(999).to_string());
        set(master::FOREIGN_NUMBER, text(&short_id, 15));
        lines.push(row.join(";"));
    }
    file(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_column_of_both_formats_is_named_once() {
        let booking: std::collections::BTreeSet<&str> = BOOKING_COLUMNS.iter().map(|(n, _)| *n).collect();
        assert_eq!(booking.len(), 125);
        let names = master_column_names();
        assert_eq!(names.len(), MASTER_COLUMNS);
        assert_eq!(names.iter().collect::<std::collections::BTreeSet<_>>().len(), MASTER_COLUMNS);
        for (column, name) in [
            (master::ACCOUNT, "Konto"),
            (master::COMPANY, "Name (Adressattyp Unternehmen)"),
            (master::ADDRESSEE_KIND, "Adressattyp"),
            (master::SHORT_NAME, "Kurzbezeichnung"),
            (master::EU_COUNTRY, "EU-Land"),
            (master::EU_VAT_ID, "EU-UStID"),
            (master::ADDRESS_KIND, "Adressart"),
            (master::STREET, "Straße"),
            (master::POSTCODE, "Postleitzahl"),
            (master::CITY, "Ort"),
            (master::COUNTRY, "Land"),
            (master::CUSTOMER_NUMBER, "Kunden-/Lief.-Nr."),
            (master::LANGUAGE, "Sprache"),
            (master::DUE_DAYS, "Fälligkeit in Tagen (Debitor)"),
            (master::FOREIGN_NUMBER, "Nummer Fremdsystem"),
            (254, "Letzte Frist"),
        ] {
            assert_eq!(names[column - 1], name, "column {column}");
        }
    }

    #[test]
    fn files_are_windows_1252_with_windows_line_ends() {
        let bytes = file(vec!["Müller;Grüße – 5 €".into(), "Pfeil → Ende".into()]);
        assert_eq!(bytes, b"M\xfcller;Gr\xfc\xdfe \x96 5 \x80\r\nPfeil ? Ende\r\n");
    }
}
