//! The issued invoice as XRechnung 3.0 in the UN/CEFACT Cross Industry Invoice syntax
//! (EN 16931). Every invoice line becomes one line item with quantity 1 and its rounded
//! amount as price, so that quantity × price = line amount holds exactly; the line's real
//! units, unit price and proration travel in the line's note and billing period.
//! A cancellation invoice is a credit note (type 381) with positive amounts that refers
//! to the invoice it cancels.

use std::fmt::Write;

use chrono::{DateTime, Utc};
use chrono_tz::Europe::Berlin;
use domain::invoice::{Invoice, InvoiceKind, TaxCase};
use rust_decimal::Decimal;

use crate::pdf::invoice::Issuer;

pub const GUIDELINE: &str = "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0";

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn day(at: DateTime<Utc>) -> String {
    at.with_timezone(&Berlin).format("%Y%m%d").to_string()
}

fn amount(d: Decimal) -> String {
    format!("{:.2}", d.round_dp(2))
}

/// A free-text address as street line, postcode and city: the last line is read as
/// "postcode city" when it starts with digits.
fn address(text: &str, country: &str) -> String {
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let (street, rest) = match lines.split_last() {
        Some((last, before)) if !before.is_empty() => (before.join(", "), *last),
        Some((last, _)) => (String::new(), *last),
        None => (String::new(), ""),
    };
    let (postcode, city) = match rest.split_once(' ') {
        Some((p, c)) if p.chars().all(|c| c.is_ascii_alphanumeric()) && p.chars().any(|c| c.is_ascii_digit()) => {
            (Some(p), c)
        }
        _ => (None, rest),
    };
    let mut x = String::from("<ram:PostalTradeAddress>");
    if let Some(p) = postcode {
        let _ = write!(x, "<ram:PostcodeCode>{}</ram:PostcodeCode>", esc(p));
    }
    if !street.is_empty() {
        let _ = write!(x, "<ram:LineOne>{}</ram:LineOne>", esc(&street));
    }
    let _ = write!(x, "<ram:CityName>{}</ram:CityName><ram:CountryID>{}</ram:CountryID>", esc(city), esc(country));
    x.push_str("</ram:PostalTradeAddress>");
    x
}

/// The tax category (UNTDID 5305) and the exemption reason of a tax case.
fn category(case: TaxCase) -> (&'static str, Option<&'static str>) {
    match case {
        TaxCase::Standard => ("S", None),
        TaxCase::ReverseCharge => ("AE", Some("Reverse charge")),
        TaxCase::NotTaxableHere => ("O", Some("Nicht im Inland steuerbare Leistung")),
    }
}

/// The XML of an issued invoice; none for a draft.
pub fn render(invoice: &Invoice, issuer: &Issuer, buyer_email: Option<&str>) -> Option<String> {
    let c = invoice.content.as_ref()?;
    let (number, issued_at) = (invoice.number.as_ref()?, invoice.issued_at?);
    let cancellation = invoice.kind == Some(InvoiceKind::Cancellation);
    // A credit note carries positive amounts; the cancellation's content is negated.
    let sign = if cancellation { Decimal::NEGATIVE_ONE } else { Decimal::ONE };
    let (cat, exemption) = category(c.tax_case);
    let rate = (c.vat_rate * Decimal::ONE_HUNDRED).normalize();
    let tax = |x: &mut String, with_amounts: Option<(Decimal, Decimal)>| {
        x.push_str("<ram:ApplicableTradeTax>");
        if let Some((calculated, _)) = with_amounts {
            let _ = write!(x, "<ram:CalculatedAmount>{}</ram:CalculatedAmount>", amount(calculated));
        }
        x.push_str("<ram:TypeCode>VAT</ram:TypeCode>");
        if let (Some(reason), Some(_)) = (exemption, with_amounts) {
            let _ = write!(x, "<ram:ExemptionReason>{}</ram:ExemptionReason>", esc(reason));
        }
        if let Some((_, basis)) = with_amounts {
            let _ = write!(x, "<ram:BasisAmount>{}</ram:BasisAmount>", amount(basis));
        }
        let _ = write!(x, "<ram:CategoryCode>{cat}</ram:CategoryCode>");
        if cat != "O" {
            let _ = write!(x, "<ram:RateApplicablePercent>{rate}</ram:RateApplicablePercent>");
        }
        x.push_str("</ram:ApplicableTradeTax>");
    };
    let period = |x: &mut String, from: DateTime<Utc>, to: DateTime<Utc>| {
        let _ = write!(
            x,
            "<ram:BillingSpecifiedPeriod><ram:StartDateTime><udt:DateTimeString format=\"102\">{}</udt:DateTimeString></ram:StartDateTime><ram:EndDateTime><udt:DateTimeString format=\"102\">{}</udt:DateTimeString></ram:EndDateTime></ram:BillingSpecifiedPeriod>",
            day(from),
            day(to - chrono::Duration::seconds(1))
        );
    };

    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x.push_str("<rsm:CrossIndustryInvoice xmlns:rsm=\"urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100\" xmlns:ram=\"urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100\" xmlns:qdt=\"urn:un:unece:uncefact:data:standard:QualifiedDataType:100\" xmlns:udt=\"urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100\">");
    let _ = write!(
        x,
        "<rsm:ExchangedDocumentContext><ram:GuidelineSpecifiedDocumentContextParameter><ram:ID>{GUIDELINE}</ram:ID></ram:GuidelineSpecifiedDocumentContextParameter></rsm:ExchangedDocumentContext>"
    );
    let _ = write!(
        x,
        "<rsm:ExchangedDocument><ram:ID>{}</ram:ID><ram:TypeCode>{}</ram:TypeCode><ram:IssueDateTime><udt:DateTimeString format=\"102\">{}</udt:DateTimeString></ram:IssueDateTime>",
        esc(number),
        if cancellation { "381" } else { "380" },
        day(issued_at)
    );
    for note in c.note.iter().chain(c.changes.iter()) {
        let _ = write!(x, "<ram:IncludedNote><ram:Content>{}</ram:Content></ram:IncludedNote>", esc(note));
    }
    x.push_str("</rsm:ExchangedDocument><rsm:SupplyChainTradeTransaction>");

    let mut n = 0;
    for g in &c.groups {
        for l in &g.lines {
            n += 1;
            let line_amount = l.amount * sign;
            let note = format!(
                "{}: {} × {} EUR, {} to {}",
                g.path.join(" / "),
                l.units * sign,
                l.unit_price,
                l.from.to_rfc3339(),
                l.to.to_rfc3339()
            );
            let _ = write!(
                x,
                "<ram:IncludedSupplyChainTradeLineItem><ram:AssociatedDocumentLineDocument><ram:LineID>{n}</ram:LineID><ram:IncludedNote><ram:Content>{}</ram:Content></ram:IncludedNote></ram:AssociatedDocumentLineDocument><ram:SpecifiedTradeProduct><ram:Name>{}</ram:Name></ram:SpecifiedTradeProduct><ram:SpecifiedLineTradeAgreement><ram:NetPriceProductTradePrice><ram:ChargeAmount>{}</ram:ChargeAmount></ram:NetPriceProductTradePrice></ram:SpecifiedLineTradeAgreement><ram:SpecifiedLineTradeDelivery><ram:BilledQuantity unitCode=\"C62\">1</ram:BilledQuantity></ram:SpecifiedLineTradeDelivery><ram:SpecifiedLineTradeSettlement>",
                esc(&note),
                esc(&format!("{} · {}", l.subject, l.component)),
                amount(line_amount)
            );
            tax(&mut x, None);
            period(&mut x, l.from, l.to);
            let _ = write!(
                x,
                "<ram:SpecifiedTradeSettlementLineMonetarySummation><ram:LineTotalAmount>{}</ram:LineTotalAmount></ram:SpecifiedTradeSettlementLineMonetarySummation></ram:SpecifiedLineTradeSettlement></ram:IncludedSupplyChainTradeLineItem>",
                amount(line_amount)
            );
        }
    }

    x.push_str("<ram:ApplicableHeaderTradeAgreement>");
    let _ = write!(x, "<ram:BuyerReference>{}</ram:BuyerReference>", esc(&c.customer_id.to_string()));
    let _ = write!(
        x,
        "<ram:SellerTradeParty><ram:Name>{}</ram:Name><ram:DefinedTradeContact><ram:PersonName>Buchhaltung</ram:PersonName><ram:TelephoneUniversalCommunication><ram:CompleteNumber>{}</ram:CompleteNumber></ram:TelephoneUniversalCommunication><ram:EmailURIUniversalCommunication><ram:URIID>{}</ram:URIID></ram:EmailURIUniversalCommunication></ram:DefinedTradeContact>",
        esc(&issuer.name),
        esc(&issuer.phone),
        esc(&issuer.email)
    );
    x.push_str(&address(&issuer.address.join("\n"), "DE"));
    let _ = write!(
        x,
        "<ram:URIUniversalCommunication><ram:URIID schemeID=\"EM\">{}</ram:URIID></ram:URIUniversalCommunication><ram:SpecifiedTaxRegistration><ram:ID schemeID=\"VA\">{}</ram:ID></ram:SpecifiedTaxRegistration><ram:SpecifiedTaxRegistration><ram:ID schemeID=\"FC\">{}</ram:ID></ram:SpecifiedTaxRegistration></ram:SellerTradeParty>",
        esc(&issuer.email),
        esc(&issuer.vat_id),
        esc(&issuer.tax_number)
    );
    let _ = write!(x, "<ram:BuyerTradeParty><ram:Name>{}</ram:Name>", esc(&c.recipient.name));
    x.push_str(&address(&c.recipient.address, &c.recipient.country));
    if let Some(email) = buyer_email {
        let _ = write!(
            x,
            "<ram:URIUniversalCommunication><ram:URIID schemeID=\"EM\">{}</ram:URIID></ram:URIUniversalCommunication>",
            esc(email)
        );
    }
    if let Some(vat_id) = &c.recipient.vat_id {
        let _ = write!(
            x,
            "<ram:SpecifiedTaxRegistration><ram:ID schemeID=\"VA\">{}</ram:ID></ram:SpecifiedTaxRegistration>",
            esc(vat_id)
        );
    }
    x.push_str("</ram:BuyerTradeParty></ram:ApplicableHeaderTradeAgreement>");
    x.push_str("<ram:ApplicableHeaderTradeDelivery/>");

    x.push_str("<ram:ApplicableHeaderTradeSettlement><ram:InvoiceCurrencyCode>EUR</ram:InvoiceCurrencyCode>");
    let _ = write!(
        x,
        "<ram:SpecifiedTradeSettlementPaymentMeans><ram:TypeCode>58</ram:TypeCode><ram:PayeePartyCreditorFinancialAccount><ram:IBANID>{}</ram:IBANID></ram:PayeePartyCreditorFinancialAccount></ram:SpecifiedTradeSettlementPaymentMeans>",
        esc(&issuer.iban.replace(' ', ""))
    );
    tax(&mut x, Some((c.vat * sign, c.net * sign)));
    period(&mut x, c.period.start(), c.period.end());
    if !cancellation && let Some(due) = invoice.due_date {
        let _ = write!(
            x,
            "<ram:SpecifiedTradePaymentTerms><ram:Description>Zahlbar ohne Abzug bis zum {}</ram:Description><ram:DueDateDateTime><udt:DateTimeString format=\"102\">{}</udt:DateTimeString></ram:DueDateDateTime></ram:SpecifiedTradePaymentTerms>",
            due.with_timezone(&Berlin).format("%d.%m.%Y"),
            day(due)
        );
    }
    let _ = write!(
        x,
        "<ram:SpecifiedTradeSettlementHeaderMonetarySummation><ram:LineTotalAmount>{net}</ram:LineTotalAmount><ram:TaxBasisTotalAmount>{net}</ram:TaxBasisTotalAmount><ram:TaxTotalAmount currencyID=\"EUR\">{vat}</ram:TaxTotalAmount><ram:GrandTotalAmount>{gross}</ram:GrandTotalAmount><ram:DuePayableAmount>{gross}</ram:DuePayableAmount></ram:SpecifiedTradeSettlementHeaderMonetarySummation>",
        net = amount(c.net * sign),
        vat = amount(c.vat * sign),
        gross = amount(c.gross * sign)
    );
    if let Some(r) = &invoice.refers_to {
        let _ = write!(
            x,
            "<ram:InvoiceReferencedDocument><ram:IssuerAssignedID>{}</ram:IssuerAssignedID><ram:FormattedIssueDateTime><qdt:DateTimeString format=\"102\">{}</qdt:DateTimeString></ram:FormattedIssueDateTime></ram:InvoiceReferencedDocument>",
            esc(&r.number),
            day(r.issued_at)
        );
    }
    x.push_str("</ram:ApplicableHeaderTradeSettlement></rsm:SupplyChainTradeTransaction></rsm:CrossIndustryInvoice>\n");
    Some(x)
}
