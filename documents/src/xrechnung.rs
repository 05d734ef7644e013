//! The issued invoice as XRechnung 3.0 in the UN/CEFACT Cross Industry Invoice syntax
//! (EN 16931), written with quick-xml (which escapes every text and attribute).
//!
//! Every invoice line becomes one line item with its real quantity in its UN/ECE
//! Recommendation 20 unit (vCPUs and the SLA surcharge as `C62` "one", gigabytes as `E34`)
//! and the net price of one unit for the line's billing period: the monthly unit price
//! prorated by the seconds of the line's interval, so that quantity × price rounded
//! half-up to cents is the line amount (rules.md). Backup lines already carry the
//! prorated average gigabytes, so their price is the monthly one.
//! A cancellation invoice is a credit note (type 381) with positive amounts that refers
//! to the invoice it cancels.

use chrono::{DateTime, Utc};
use chrono_tz::Europe::Berlin;
use domain::invoice::{Invoice, InvoiceContent, InvoiceKind, InvoiceLine, TaxCase, cents};
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};
use rust_decimal::Decimal;

use crate::address::Address;
use crate::pdf::invoice::Issuer;

pub const GUIDELINE: &str = "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0";
/// The Factur-X / ZUGFeRD profile EN 16931 ("COMFORT"): the same content, the core standard's identifier.
pub const FACTUR_X_EN16931: &str = "urn:cen.eu:en16931:2017";

/// Which specification a document declares (BT-24).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// XRechnung 3.0, the German CIUS: the XML sent on its own.
    XRechnung,
    /// Factur-X / ZUGFeRD EN 16931: the XML inside the hybrid invoice PDF.
    FacturX,
}

type W = Writer<Vec<u8>>;
type Written = std::io::Result<()>;

/// The UN/ECE Recommendation 20 unit of an invoice line's component.
pub fn unit_code(component: &str) -> &'static str {
    if component.ends_with("GB") { "E34" } else { "C62" }
}

/// The net price of one unit over the line's interval, with as few decimals (at least
/// two) as make quantity × price round to the line's amount.
pub fn unit_price(line: &InvoiceLine, content: &InvoiceContent) -> Decimal {
    let period = (content.period.end() - content.period.start()).num_seconds();
    let exact = if line.component == "Backup GB" || period <= 0 {
        line.unit_price
    } else {
        line.unit_price * Decimal::from((line.to - line.from).num_seconds()) / Decimal::from(period)
    };
    let rounded = |places| exact.round_dp_with_strategy(places, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    (2..=12).map(rounded).find(|p| cents(line.units * *p).abs() == line.amount.abs()).unwrap_or_else(|| {
        // Units rounded before the amount was taken (backups): the price that gives it.
        if line.units.is_zero() { Decimal::ZERO } else { (line.amount / line.units).abs().round_dp(12).normalize() }
    })
}

/// Text as XML 1.0 may carry it: control characters other than tab and newline become spaces.
fn clean(s: &str) -> String {
    s.chars().map(|c| if (c as u32) < 0x20 && c != '\n' && c != '\t' { ' ' } else { c }).collect()
}

fn day(at: DateTime<Utc>) -> String {
    at.with_timezone(&Berlin).format("%Y%m%d").to_string()
}

fn amount(d: Decimal) -> String {
    format!("{:.2}", cents(d))
}

fn leaf(w: &mut W, name: &str, text: &str) -> Written {
    w.create_element(name).write_text_content(BytesText::new(&clean(text)))?;
    Ok(())
}

fn leaf_with(w: &mut W, name: &str, attribute: (&str, &str), text: &str) -> Written {
    w.create_element(name).with_attribute(attribute).write_text_content(BytesText::new(&clean(text)))?;
    Ok(())
}

fn node(w: &mut W, name: &str, inner: impl FnOnce(&mut W) -> Written) -> Written {
    w.create_element(name).write_inner_content(inner)?;
    Ok(())
}

fn date(w: &mut W, name: &str, data_type: &str, at: DateTime<Utc>) -> Written {
    node(w, name, |w| leaf_with(w, &format!("{data_type}:DateTimeString"), ("format", "102"), &day(at)))
}

/// A free-text address as the CII's street line, postcode and city.
fn address(w: &mut W, text: &str, country: &str) -> Written {
    let Address { street, postcode, city } = Address::parse(text);
    node(w, "ram:PostalTradeAddress", |w| {
        if let Some(p) = &postcode {
            leaf(w, "ram:PostcodeCode", p)?;
        }
        if !street.is_empty() {
            leaf(w, "ram:LineOne", &street)?;
        }
        leaf(w, "ram:CityName", &city)?;
        leaf(w, "ram:CountryID", country)
    })
}

/// The tax category (UNTDID 5305) and the exemption reason of a tax case.
fn category(case: TaxCase) -> (&'static str, Option<&'static str>) {
    match case {
        TaxCase::Standard => ("S", None),
        TaxCase::ReverseCharge => ("AE", Some("Reverse charge")),
        TaxCase::NotTaxableHere => ("O", Some("Nicht im Inland steuerbare Leistung")),
    }
}

/// The XRechnung XML of an issued invoice; none for a draft.
pub fn render(invoice: &Invoice, issuer: &Issuer, buyer_email: Option<&str>) -> Option<String> {
    render_as(Profile::XRechnung, invoice, issuer, buyer_email)
}

/// The XML of an issued invoice under a profile; none for a draft.
pub fn render_as(profile: Profile, invoice: &Invoice, issuer: &Issuer, buyer_email: Option<&str>) -> Option<String> {
    let c = invoice.content.as_ref()?;
    let (number, issued_at) = (invoice.number.as_ref()?, invoice.issued_at?);
    let mut w = Writer::new(Vec::with_capacity(16 * 1024));
    let guideline = match profile {
        Profile::XRechnung => GUIDELINE,
        Profile::FacturX => FACTUR_X_EN16931,
    };
    write(&mut w, guideline, invoice, c, number, issued_at, issuer, buyer_email).expect("a Vec<u8> takes every write");
    let mut xml = String::from_utf8(w.into_inner()).expect("quick-xml writes the UTF-8 it is given");
    xml.push('\n');
    Some(xml)
}

#[allow(clippy::too_many_arguments)]
fn write(
    w: &mut W,
    guideline: &str,
    invoice: &Invoice,
    c: &InvoiceContent,
    number: &str,
    issued_at: DateTime<Utc>,
    issuer: &Issuer,
    buyer_email: Option<&str>,
) -> Written {
    let cancellation = invoice.kind == Some(InvoiceKind::Cancellation);
    // A credit note carries positive amounts; the cancellation's content is negated.
    let sign = if cancellation { Decimal::NEGATIVE_ONE } else { Decimal::ONE };
    let (cat, exemption) = category(c.tax_case);
    let rate = (c.vat_rate * Decimal::ONE_HUNDRED).normalize().to_string();
    let tax = |w: &mut W, amounts: Option<(Decimal, Decimal)>| {
        node(w, "ram:ApplicableTradeTax", |w| {
            if let Some((calculated, _)) = amounts {
                leaf(w, "ram:CalculatedAmount", &amount(calculated))?;
            }
            leaf(w, "ram:TypeCode", "VAT")?;
            if let (Some(reason), Some(_)) = (exemption, amounts) {
                leaf(w, "ram:ExemptionReason", reason)?;
            }
            if let Some((_, basis)) = amounts {
                leaf(w, "ram:BasisAmount", &amount(basis))?;
            }
            leaf(w, "ram:CategoryCode", cat)?;
            // A line outside the scope of VAT names no rate (BR-O-05); the breakdown always
            // does, zero for it (XRechnung's BR-DE-14).
            if cat != "O" || amounts.is_some() {
                leaf(w, "ram:RateApplicablePercent", &rate)?;
            }
            Ok(())
        })
    };
    let period = |w: &mut W, from: DateTime<Utc>, to: DateTime<Utc>| {
        node(w, "ram:BillingSpecifiedPeriod", |w| {
            date(w, "ram:StartDateTime", "udt", from)?;
            date(w, "ram:EndDateTime", "udt", to - chrono::Duration::seconds(1))
        })
    };

    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    w.write_event(Event::Text(BytesText::from_escaped("\n")))?;
    let root = w
        .create_element("rsm:CrossIndustryInvoice")
        .with_attribute(("xmlns:rsm", "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"))
        .with_attribute((
            "xmlns:ram",
            "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
        ))
        .with_attribute(("xmlns:qdt", "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"))
        .with_attribute(("xmlns:udt", "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"));
    root.write_inner_content(|w| {
        node(w, "rsm:ExchangedDocumentContext", |w| {
            node(w, "ram:GuidelineSpecifiedDocumentContextParameter", |w| leaf(w, "ram:ID", guideline))
        })?;
        node(w, "rsm:ExchangedDocument", |w| {
            leaf(w, "ram:ID", number)?;
            leaf(w, "ram:TypeCode", if cancellation { "381" } else { "380" })?;
            date(w, "ram:IssueDateTime", "udt", issued_at)?;
            for note in c.note.iter().chain(c.changes.iter()) {
                node(w, "ram:IncludedNote", |w| leaf(w, "ram:Content", note))?;
            }
            Ok(())
        })?;
        node(w, "rsm:SupplyChainTradeTransaction", |w| {
            let mut n = 0;
            for g in &c.groups {
                for l in &g.lines {
                    n += 1;
                    let price = unit_price(l, c);
                    let note = format!(
                        "{}: {} {} at {} EUR a month, {} to {}",
                        g.path.join(" / "),
                        l.units.normalize(),
                        l.component,
                        l.unit_price.normalize(),
                        l.from.to_rfc3339(),
                        l.to.to_rfc3339()
                    );
                    node(w, "ram:IncludedSupplyChainTradeLineItem", |w| {
                        node(w, "ram:AssociatedDocumentLineDocument", |w| {
                            leaf(w, "ram:LineID", &n.to_string())?;
                            node(w, "ram:IncludedNote", |w| leaf(w, "ram:Content", &note))
                        })?;
                        node(w, "ram:SpecifiedTradeProduct", |w| {
                            leaf(w, "ram:Name", &format!("{} · {}", l.subject, l.component))
                        })?;
                        node(w, "ram:SpecifiedLineTradeAgreement", |w| {
                            node(w, "ram:NetPriceProductTradePrice", |w| {
                                leaf(w, "ram:ChargeAmount", &price_text(price))
                            })
                        })?;
                        node(w, "ram:SpecifiedLineTradeDelivery", |w| {
                            leaf_with(
                                w,
                                "ram:BilledQuantity",
                                ("unitCode", unit_code(&l.component)),
                                &l.units.abs().normalize().to_string(),
                            )
                        })?;
                        node(w, "ram:SpecifiedLineTradeSettlement", |w| {
                            tax(w, None)?;
                            period(w, l.from, l.to)?;
                            node(w, "ram:SpecifiedTradeSettlementLineMonetarySummation", |w| {
                                leaf(w, "ram:LineTotalAmount", &amount(l.amount * sign))
                            })
                        })
                    })?;
                }
            }

            node(w, "ram:ApplicableHeaderTradeAgreement", |w| {
                leaf(w, "ram:BuyerReference", &c.customer_id.to_string())?;
                node(w, "ram:SellerTradeParty", |w| {
                    leaf(w, "ram:Name", &issuer.name)?;
                    node(w, "ram:SpecifiedLegalOrganization", |w| leaf(w, "ram:ID", &issuer.register))?;
                    node(w, "ram:DefinedTradeContact", |w| {
                        leaf(w, "ram:PersonName", "Buchhaltung")?;
                        node(w, "ram:TelephoneUniversalCommunication", |w| {
                            leaf(w, "ram:CompleteNumber", &issuer.phone)
                        })?;
                        node(w, "ram:EmailURIUniversalCommunication", |w| leaf(w, "ram:URIID", &issuer.email))
                    })?;
                    address(w, &issuer.address.join("\n"), "DE")?;
                    node(w, "ram:URIUniversalCommunication", |w| {
                        leaf_with(w, "ram:URIID", ("schemeID", "EM"), &issuer.email)
                    })?;
                    // Outside the scope of VAT, the seller's VAT id is not named (BR-O-02).
                    if cat != "O" {
                        node(w, "ram:SpecifiedTaxRegistration", |w| {
                            leaf_with(w, "ram:ID", ("schemeID", "VA"), &issuer.vat_id)
                        })?;
                    }
                    node(w, "ram:SpecifiedTaxRegistration", |w| {
                        leaf_with(w, "ram:ID", ("schemeID", "FC"), &issuer.tax_number)
                    })
                })?;
                node(w, "ram:BuyerTradeParty", |w| {
                    leaf(w, "ram:Name", &c.recipient.name)?;
                    address(w, &c.recipient.address, &c.recipient.country)?;
                    if let Some(email) = buyer_email {
                        node(w, "ram:URIUniversalCommunication", |w| {
                            leaf_with(w, "ram:URIID", ("schemeID", "EM"), email)
                        })?;
                    }
                    if let (Some(vat_id), false) = (&c.recipient.vat_id, cat == "O") {
                        node(w, "ram:SpecifiedTaxRegistration", |w| {
                            leaf_with(w, "ram:ID", ("schemeID", "VA"), vat_id)
                        })?;
                    }
                    Ok(())
                })
            })?;
            w.create_element("ram:ApplicableHeaderTradeDelivery").write_empty()?;

            node(w, "ram:ApplicableHeaderTradeSettlement", |w| {
                leaf(w, "ram:InvoiceCurrencyCode", "EUR")?;
                node(w, "ram:SpecifiedTradeSettlementPaymentMeans", |w| {
                    leaf(w, "ram:TypeCode", "58")?;
                    node(w, "ram:PayeePartyCreditorFinancialAccount", |w| {
                        leaf(w, "ram:IBANID", &issuer.iban.replace(' ', ""))
                    })
                })?;
                tax(w, Some((c.vat * sign, c.net * sign)))?;
                period(w, c.period.start(), c.period.end())?;
                if !cancellation && let Some(due) = invoice.due_date {
                    node(w, "ram:SpecifiedTradePaymentTerms", |w| {
                        let terms =
                            format!("Zahlbar ohne Abzug bis zum {}", due.with_timezone(&Berlin).format("%d.%m.%Y"));
                        leaf(w, "ram:Description", &terms)?;
                        date(w, "ram:DueDateDateTime", "udt", due)
                    })?;
                }
                node(w, "ram:SpecifiedTradeSettlementHeaderMonetarySummation", |w| {
                    let (net, vat, gross) = (amount(c.net * sign), amount(c.vat * sign), amount(c.gross * sign));
                    leaf(w, "ram:LineTotalAmount", &net)?;
                    leaf(w, "ram:TaxBasisTotalAmount", &net)?;
                    leaf_with(w, "ram:TaxTotalAmount", ("currencyID", "EUR"), &vat)?;
                    leaf(w, "ram:GrandTotalAmount", &gross)?;
                    leaf(w, "ram:DuePayableAmount", &gross)
                })?;
                if let Some(r) = &invoice.refers_to {
                    node(w, "ram:InvoiceReferencedDocument", |w| {
                        leaf(w, "ram:IssuerAssignedID", &r.number)?;
                        date(w, "ram:FormattedIssueDateTime", "qdt", r.issued_at)
                    })?;
                }
                Ok(())
            })
        })
    })?;
    Ok(())
}

/// A price with at least two decimals (`10.00`, `3.2258064516`).
fn price_text(price: Decimal) -> String {
    let price = price.normalize();
    if price.scale() < 2 { format!("{price:.2}") } else { price.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quick_xml::events::Event;

    /// Lines as billing makes them: prorated by seconds, and backups whose average
    /// gigabytes were rounded to six places before the amount was taken of the exact ones.
    #[test]
    fn every_price_multiplies_out_to_its_line_amount() {
        let invoice = fixtures::synthetic_invoice(1, 1);
        let content = invoice.content.unwrap();
        let (start, end) = (content.period.start(), content.period.end());
        let period = Decimal::from((end - start).num_seconds());
        let mut checked = 0;
        for units in [1i64, 2, 3, 4, 7, 8, 16, 40, 64, 160, 2000] {
            for price in ["12.50", "3.20", "0.045", "15", "0.02", "1.50", "45", "0.0333"] {
                let price: Decimal = price.parse().unwrap();
                for hours in [1i64, 7, 100, 333, 371, 600, 743] {
                    let to = start + chrono::Duration::seconds(hours * 3600 - 17 * (hours % 5));
                    let seconds = Decimal::from((to - start).num_seconds());
                    let line = InvoiceLine {
                        subject: "vm".into(),
                        component: "RAM GB".into(),
                        from: start,
                        to,
                        units: Decimal::from(units),
                        unit_price: price,
                        amount: cents(Decimal::from(units) * price * seconds / period),
                        provenance: vec![],
                    };
                    let p = unit_price(&line, &content);
                    assert_eq!(cents(line.units * p), line.amount, "{units} × {p} ({price} for {hours} h)");
                    let gb = Decimal::from(units * 1_000_000_007) * seconds / period / Decimal::from(1_000_000_000);
                    let backup = InvoiceLine {
                        component: "Backup GB".into(),
                        units: gb.round_dp(6),
                        amount: cents(gb * price),
                        ..line
                    };
                    let p = unit_price(&backup, &content);
                    assert_eq!(cents(backup.units * p), backup.amount, "{} GB × {p}", backup.units);
                    checked += 2;
                }
            }
        }
        assert_eq!(checked, 11 * 8 * 7 * 2);
    }

    #[test]
    fn text_is_escaped_and_the_document_reads_back() {
        let mut invoice = fixtures::synthetic_invoice(2, 3);
        let content = invoice.content.as_mut().unwrap();
        content.recipient.name = "Smith & Sons <\"Hosting\"> \u{7} Ltd".into();
        content.recipient.address = "Rue d'Alésia 3\n75014 Paris\nFrance".into();
        let xml = render(&invoice, &Issuer::from_env(), Some("a&b@example.com")).unwrap();
        assert!(xml.contains("Smith &amp; Sons &lt;&quot;Hosting&quot;&gt;   Ltd"), "{xml}");
        assert!(xml.contains("<ram:PostcodeCode>75014</ram:PostcodeCode><ram:LineOne>Rue d&apos;Alésia 3</ram:LineOne><ram:CityName>Paris</ram:CityName>"), "{xml}");
        let mut reader = quick_xml::Reader::from_str(&xml);
        let (mut depth, mut names) = (0i32, vec![]);
        loop {
            match reader.read_event().expect("well-formed") {
                Event::Start(e) => {
                    depth += 1;
                    names.push(e.name().0.to_owned());
                }
                Event::End(_) => depth -= 1,
                Event::Eof => break,
                _ => {}
            }
        }
        assert_eq!(depth, 0, "every element closed");
        assert_eq!(names.iter().filter(|n| *n == "ram:IncludedSupplyChainTradeLineItem").count(), 6);
        assert!(xml.contains(r#"<ram:BilledQuantity unitCode="C62">1</ram:BilledQuantity>"#));
        assert!(xml.contains(r#"<ram:BilledQuantity unitCode="E34">2</ram:BilledQuantity>"#));
    }

    #[test]
    fn postcodes_are_found_where_people_write_them() {
        let written = |text: &str| {
            let mut w = Writer::new(vec![]);
            address(&mut w, text, "XX").unwrap();
            String::from_utf8(w.into_inner()).unwrap()
        };
        assert!(written("Damrak 1\n1012 LG Amsterdam").contains("<ram:PostcodeCode>1012 LG</ram:PostcodeCode><ram:LineOne>Damrak 1</ram:LineOne><ram:CityName>Amsterdam</ram:CityName>"));
        assert!(written("c/o Acme\nHauptstr. 5\n10115 Berlin\nDeutschland").contains("<ram:PostcodeCode>10115</ram:PostcodeCode><ram:LineOne>c/o Acme, Hauptstr. 5</ram:LineOne><ram:CityName>Berlin</ram:CityName>"));
        assert!(written("Wien").contains("<ram:PostalTradeAddress><ram:CityName>Wien</ram:CityName>"));
        assert!(written("100 Market Street\nSan Francisco, CA 94105").contains("<ram:PostcodeCode>94105</ram:PostcodeCode><ram:LineOne>100 Market Street</ram:LineOne><ram:CityName>San Francisco, CA</ram:CityName>"));
    }
}
