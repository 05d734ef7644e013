//! The invoice as a German A4 document with the contents § 14 UStG requires: both
//! parties' names and addresses and VAT ids, date and number, the service period, the
//! quantities and kinds of service, net, rate, VAT and gross, the reverse-charge note
//! where it applies; lines grouped by the project tree; "Seite x von y" on every page.

use chrono::{DateTime, Utc};
use chrono_tz::Europe::Berlin;
use domain::invoice::{Invoice, InvoiceKind, TaxCase};
use rust_decimal::Decimal;

use xmp_writer::{CustomNamespace, Namespace, XmpWriter};

use super::{About, Attachment, LEFT, Page, RIGHT, Weight, document, euro, german, month_name};

/// The company that issues the invoices (`DIRECTORY_ISSUER_*` overrides each field).
#[derive(Clone, Debug)]
pub struct Issuer {
    pub name: String,
    pub address: Vec<String>,
    pub vat_id: String,
    pub tax_number: String,
    /// The commercial register entry (court and number), the seller's legal registration.
    pub register: String,
    pub iban: String,
    pub bic: String,
    pub email: String,
    pub phone: String,
}

impl Issuer {
    pub fn from_env() -> Issuer {
        let var = |key: &str, default: &str| std::env::var(key).unwrap_or_else(|_| default.to_owned());
        Issuer {
            name: var("DIRECTORY_ISSUER_NAME", "Directory Hosting GmbH"),
            address: var("DIRECTORY_ISSUER_ADDRESS", "Rechenzentrumstraße 1\n10115 Berlin\nDeutschland")
                .lines()
                .map(str::to_owned)
                .collect(),
            vat_id: var("DIRECTORY_ISSUER_VAT_ID", "DE123456789"),
            tax_number: var("DIRECTORY_ISSUER_TAX_NUMBER", "30/123/45678"),
            register: var("DIRECTORY_ISSUER_REGISTER", "Amtsgericht Charlottenburg HRB 123456 B"),
            iban: var("DIRECTORY_ISSUER_IBAN", "DE89 3704 0044 0532 0130 00"),
            bic: var("DIRECTORY_ISSUER_BIC", "COBADEFFXXX"),
            email: var("DIRECTORY_ISSUER_EMAIL", "billing@directory.example"),
            phone: var("DIRECTORY_ISSUER_PHONE", "+49 30 1234567"),
        }
    }
}

fn date(at: DateTime<Utc>) -> String {
    at.with_timezone(&Berlin).format("%d.%m.%Y").to_string()
}

/// An interval as days, the year once: `01.03.–15.03.2026`.
fn span(from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    let (first, last) = (date(from), last_day(to));
    match (first.get(6..), last.get(6..)) {
        (Some(a), Some(b)) if a == b => format!("{}–{last}", &first[..6]),
        _ => format!("{first}–{last}"),
    }
}

/// The last day an interval ending (exclusively) at `to` covers.
fn last_day(to: DateTime<Utc>) -> String {
    date(to - chrono::Duration::seconds(1))
}

enum Row {
    Group(String),
    Line { text: String, period: String, units: String, unit_price: String, amount: String },
    Subtotal(String, String),
    Total { label: String, amount: String, bold: bool },
    Text { text: String, bold: bool },
    Gap,
}

const ROW: f32 = 13.0;
const BOTTOM: f32 = 80.0;
const FIRST_TABLE_TOP: f32 = 560.0;
const NEXT_TABLE_TOP: f32 = 780.0;

fn rows(invoice: &Invoice) -> Vec<Row> {
    let c = invoice.content.as_ref().expect("an issued invoice has content");
    let mut rows = vec![];
    for g in &c.groups {
        rows.push(Row::Group(g.path.join(" › ")));
        for l in &g.lines {
            // Whole units as they are; fractional ones (GB held on average) to two places.
            let units = if l.units.fract().is_zero() { german(l.units, 0) } else { german(l.units.round_dp(2), 2) };
            rows.push(Row::Line {
                text: format!("{} · {}", l.subject, l.component),
                period: span(l.from, l.to),
                units,
                unit_price: format!("{} €", german(l.unit_price, 2)),
                amount: euro(l.amount),
            });
        }
        rows.push(Row::Subtotal(format!("Summe {}", g.project_name), euro(g.subtotal)));
    }
    rows.push(Row::Gap);
    let rate = (c.vat_rate * Decimal::ONE_HUNDRED).normalize();
    rows.push(Row::Total { label: "Nettobetrag".into(), amount: euro(c.net), bold: false });
    rows.push(Row::Total { label: format!("Umsatzsteuer {} %", german(rate, 0)), amount: euro(c.vat), bold: false });
    rows.push(Row::Total { label: "Bruttobetrag".into(), amount: euro(c.gross), bold: true });
    rows.push(Row::Gap);
    let mut notes = vec![];
    match c.tax_case {
        TaxCase::Standard => {}
        TaxCase::ReverseCharge => {
            notes.push("Steuerschuldnerschaft des Leistungsempfängers (Reverse charge, § 13b UStG).".to_owned())
        }
        TaxCase::NotTaxableHere => notes.push("Nicht im Inland steuerbare Leistung.".to_owned()),
    }
    match (invoice.kind, &invoice.refers_to) {
        (Some(InvoiceKind::Cancellation), Some(r)) => {
            notes.push(format!("Diese Stornorechnung storniert die Rechnung {} vom {}.", r.number, date(r.issued_at)));
        }
        _ => {
            if let Some(due) = invoice.due_date {
                notes.push(format!("Zahlbar ohne Abzug bis zum {}.", date(due)));
            }
        }
    }
    for n in notes {
        rows.push(Row::Text { text: n, bold: false });
    }
    if !c.changes.is_empty() && invoice.kind == Some(InvoiceKind::Invoice) {
        rows.push(Row::Gap);
        rows.push(Row::Text { text: "Änderungen gegenüber dem Vormonat".into(), bold: true });
        for change in &c.changes {
            rows.push(Row::Text { text: format!("• {change}"), bold: false });
        }
    }
    rows
}

/// The rows of each page.
fn paginate(rows: Vec<Row>) -> Vec<Vec<Row>> {
    let mut pages: Vec<Vec<Row>> = vec![vec![]];
    let mut y = FIRST_TABLE_TOP - 2.0 * ROW;
    for row in rows {
        if y < BOTTOM {
            pages.push(vec![]);
            y = NEXT_TABLE_TOP - 2.0 * ROW;
        }
        y -= ROW;
        pages.last_mut().expect("a page").push(row);
    }
    pages
}

fn table_header(page: &mut Page, top: f32) {
    page.band(top - 4.0, ROW + 2.0, 0.9);
    page.text(LEFT + 2.0, top, 8.0, Weight::Bold, "Leistung");
    page.text(300.0, top, 8.0, Weight::Bold, "Zeitraum");
    page.text_right(418.0, top, 8.0, Weight::Bold, "Menge");
    page.text_right(478.0, top, 8.0, Weight::Bold, "Einzelpreis");
    page.text_right(RIGHT - 2.0, top, 8.0, Weight::Bold, "Betrag");
}

fn first_page_head(page: &mut Page, invoice: &Invoice, issuer: &Issuer) {
    let c = invoice.content.as_ref().expect("content");
    let sender = format!("{} · {}", issuer.name, issuer.address.join(" · "));
    page.text_fit(LEFT, 770.0, 7.0, Weight::Regular, &sender, 260.0);
    let mut y = 750.0;
    page.text(LEFT, y, 10.0, Weight::Bold, &c.recipient.name);
    for line in c.recipient.address.lines() {
        y -= 13.0;
        page.text_fit(LEFT, y, 10.0, Weight::Regular, line, 250.0);
    }
    y -= 13.0;
    page.text(LEFT, y, 10.0, Weight::Regular, &c.recipient.country);
    if let Some(vat_id) = &c.recipient.vat_id {
        y -= 13.0;
        page.text(LEFT, y, 9.0, Weight::Regular, &format!("USt-IdNr.: {vat_id}"));
    }
    let kind = if invoice.kind == Some(InvoiceKind::Cancellation) { "Stornorechnung" } else { "Rechnung" };
    let period_end = c.period.end();
    let facts = [
        ("Nummer", invoice.number.clone().unwrap_or_default()),
        ("Datum", invoice.issued_at.map(date).unwrap_or_default()),
        ("Leistungszeitraum", format!("{}–{}", date(c.period.start()), last_day(period_end))),
        ("Kundennummer", c.customer_id.to_string()[..8].to_uppercase()),
        ("Unsere USt-IdNr.", issuer.vat_id.clone()),
        ("Steuernummer", issuer.tax_number.clone()),
    ];
    let mut fy = 750.0;
    for (label, value) in facts {
        page.text(340.0, fy, 8.5, Weight::Regular, label);
        page.text_right(RIGHT, fy, 8.5, Weight::Bold, &value);
        fy -= 12.0;
    }
    page.text(LEFT, 620.0, 16.0, Weight::Bold, &format!("{kind} {}", invoice.number.as_deref().unwrap_or_default()));
    let intro = match (&invoice.kind, &invoice.refers_to) {
        (Some(InvoiceKind::Cancellation), Some(r)) => {
            format!("Hiermit stornieren wir die Rechnung {} vom {} vollständig.", r.number, date(r.issued_at))
        }
        _ => format!("Für unsere Leistungen im {} berechnen wir:", month_name(c.period)),
    };
    page.text(LEFT, 598.0, 10.0, Weight::Regular, &intro);
}

fn footer(page: &mut Page, issuer: &Issuer, n: usize, of: usize) {
    page.rule(62.0, 0.3);
    let left = format!("{} · {} · {}", issuer.name, issuer.address.join(", "), issuer.email);
    page.text_fit(LEFT, 50.0, 7.0, Weight::Regular, &left, 380.0);
    let bank = format!("IBAN {} · BIC {} · {}", issuer.iban, issuer.bic, issuer.register);
    page.text_fit(LEFT, 40.0, 7.0, Weight::Regular, &bank, 380.0);
    page.text_right(RIGHT, 50.0, 8.0, Weight::Regular, &format!("Seite {n} von {of}"));
}

/// The invoice's PDF, a hybrid invoice (Factur-X / ZUGFeRD, profile EN 16931): PDF/A-3b
/// carrying the invoice's CII XML as `factur-x.xml`. The same issued invoice always gives
/// the same bytes.
pub fn render(invoice: &Invoice, issuer: &Issuer, buyer_email: Option<&str>) -> Vec<u8> {
    let pages = paginate(rows(invoice));
    let count = pages.len();
    let mut out = vec![];
    for (i, rows) in pages.into_iter().enumerate() {
        let mut page = Page::new();
        let top = if i == 0 {
            first_page_head(&mut page, invoice, issuer);
            FIRST_TABLE_TOP
        } else {
            NEXT_TABLE_TOP
        };
        table_header(&mut page, top);
        let mut y = top - 2.0 * ROW + 4.0;
        for row in rows {
            match row {
                Row::Group(path) => page.text_fit(LEFT + 2.0, y, 9.0, Weight::Bold, &path, RIGHT - LEFT),
                Row::Line { text, period, units, unit_price, amount } => {
                    page.text_fit(LEFT + 8.0, y, 8.0, Weight::Regular, &text, 238.0);
                    page.text(300.0, y, 8.0, Weight::Regular, &period);
                    page.text_right(418.0, y, 8.0, Weight::Regular, &units);
                    page.text_right(478.0, y, 8.0, Weight::Regular, &unit_price);
                    page.text_right(RIGHT - 2.0, y, 8.0, Weight::Regular, &amount);
                }
                Row::Subtotal(label, amount) => {
                    page.text_right(478.0, y, 8.0, Weight::Bold, &label);
                    page.text_right(RIGHT - 2.0, y, 8.0, Weight::Bold, &amount);
                }
                Row::Total { label, amount, bold } => {
                    let weight = if bold { Weight::Bold } else { Weight::Regular };
                    page.text_right(478.0, y, 9.5, weight, &label);
                    page.text_right(RIGHT - 2.0, y, 9.5, weight, &amount);
                }
                Row::Text { text, bold } => {
                    let weight = if bold { Weight::Bold } else { Weight::Regular };
                    page.text_fit(LEFT + 2.0, y, 8.5, weight, &text, RIGHT - LEFT);
                }
                Row::Gap => {}
            }
            y -= ROW;
        }
        footer(&mut page, issuer, i + 1, count);
        out.push(page);
    }
    let title = format!(
        "{} {}",
        if invoice.kind == Some(InvoiceKind::Cancellation) { "Stornorechnung" } else { "Rechnung" },
        invoice.number.as_deref().unwrap_or_default()
    );
    let xml = crate::xrechnung::render_as(crate::xrechnung::Profile::FacturX, invoice, issuer, buyer_email);
    let attachment = xml.as_deref().map(|xml| Attachment {
        name: FACTUR_X_FILE,
        mime: "text/xml",
        description: "Factur-X/ZUGFeRD invoice (EN 16931)",
        bytes: xml.as_bytes(),
        xmp: factur_x,
    });
    let created = invoice.issued_at.unwrap_or_default();
    document(About { title: &title, created, attachment }, out)
}

/// The name Factur-X gives the embedded invoice.
pub const FACTUR_X_FILE: &str = "factur-x.xml";

/// The Factur-X XMP extension schema, and what it says of the embedded invoice.
fn factur_x(xmp: &mut XmpWriter<'_>) {
    const URI: &str = "urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#";
    let fx = || Namespace::Custom(Box::new(CustomNamespace::new("Factur-X PDFA Extension", "fx", URI)));
    let fields = [
        ("DocumentFileName", FACTUR_X_FILE, "The name of the embedded XML document"),
        ("DocumentType", "INVOICE", "The type of the hybrid document in capital letters, e.g. INVOICE or ORDER"),
        ("Version", "1.0", "The actual version of the standard applying to the embedded XML document"),
        ("ConformanceLevel", "EN 16931", "The conformance level of the embedded XML document"),
    ];
    for (name, value, _) in fields {
        xmp.element(name, fx()).value(value);
    }
    let mut schemas = xmp.extension_schemas();
    let mut schema = schemas.add_schema();
    schema.namespace(fx());
    let mut properties = schema.properties();
    for (name, _, description) in fields {
        properties.add_property().name(name).value_type("Text").category(false).description(description);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(tool: &str, args: &[&str], pdf: &[u8]) -> String {
        let path = std::env::temp_dir().join(format!("directory-{}-{tool}.pdf", std::process::id()));
        std::fs::write(&path, pdf).unwrap();
        let out = std::process::Command::new(tool)
            .args(args)
            .arg(&path)
            .args(["-"].iter().filter(|_| tool == "pdftotext"))
            .output();
        let _ = std::fs::remove_file(&path);
        let out = out.unwrap_or_else(|e| panic!("{tool} (poppler-utils) is installed: {e}"));
        assert!(out.status.success(), "{tool} failed");
        String::from_utf8(out.stdout).unwrap()
    }

    #[test]
    fn a_long_invoice_runs_over_pages_numbered_x_of_y_with_the_fonts_embedded() {
        let invoice = fixtures::synthetic_invoice(20, 10);
        let pdf = render(&invoice, &Issuer::from_env(), None);
        let text = run("pdftotext", &["-layout"], &pdf);
        let pages = text.matches("Seite ").count();
        assert!(pages >= 3, "200 lines need several pages:\n{text}");
        for n in 1..=pages {
            assert!(text.contains(&format!("Seite {n} von {pages}")), "page {n} of {pages}");
        }
        assert!(text.contains("Project 19") && text.contains("Bruttobetrag"), "the last group and the totals");
        let fonts = run("pdffonts", &[], &pdf);
        let embedded: Vec<&str> = fonts.lines().filter(|l| l.contains("+DejaVuSans")).collect();
        assert_eq!(embedded.len(), 2, "{fonts}");
        for font in embedded {
            // name, "CID TrueType", "Identity-H", then embedded, subset and ToUnicode: all yes.
            let columns: Vec<&str> = font.split_whitespace().collect();
            assert_eq!(columns[1..=3], ["CID", "TrueType", "Identity-H"], "{fonts}");
            assert_eq!(columns[4..=6], ["yes", "yes", "yes"], "{fonts}");
        }
        assert!(pdf.len() < 100 * 1024, "200 lines over several pages: {} bytes", pdf.len());
        let attached = run("pdfdetach", &["-list"], &pdf);
        assert!(attached.contains("factur-x.xml"), "the Factur-X XML travels along: {attached}");
        let metadata = String::from_utf8_lossy(&pdf);
        assert!(
            metadata.contains("<pdfaid:part>3</pdfaid:part>")
                && metadata.contains("<fx:ConformanceLevel>EN 16931</fx:ConformanceLevel>")
        );
        assert_eq!(render(&invoice, &Issuer::from_env(), None), pdf, "deterministic bytes");
    }
}
