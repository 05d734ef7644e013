//! Recomputes the hash chain from the stored rows, as an auditor would.

use store::chain::{Break, Verifier};
use store::{EventLog, StoreError};

/// Events read per page.
const PAGE: u32 = 5000;

/// Checks every event in log order and then the log head. `Ok(n)`: n events, all intact;
/// `Err(break)`: the first position where the stored log stops matching its chain.
pub async fn verify(log: &EventLog) -> Result<Result<i64, Break>, StoreError> {
    let mut verifier = Verifier::default();
    loop {
        let page = log.read_after(verifier.position, PAGE).await?;
        if page.is_empty() {
            break;
        }
        for event in &page {
            if let Err(broken) = verifier.check(event) {
                return Ok(Err(broken));
            }
        }
    }
    let head = log.head().await?;
    if head.position != verifier.position || head.chain_hash != verifier.hash {
        return Ok(Err(Break::Head { position: head.position }));
    }
    Ok(Ok(verifier.position))
}

/// An issued document that does not match what it claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub number: String,
    pub reason: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.number, self.reason)
    }
}

/// Recomputes every issued invoice from the log as it stood at the position its content
/// was computed from, and checks every cancellation against the invoice it cancels and
/// every document against the content hash it was issued with. Answers the number of
/// documents checked, or the ones that do not match. Backups the catalog no longer keeps
/// are read from `log`, which the catalog must have been folded from.
pub async fn verify_invoices(
    log: &EventLog,
    catalog: &projections::Catalog,
) -> Result<Result<usize, Vec<Mismatch>>, StoreError> {
    use domain::invoice::InvoiceKind;
    let live = catalog.live();
    let mut checked = 0;
    let mut bad = vec![];
    for (id, invoice) in catalog.invoices.iter() {
        let (Some(number), Some(content)) = (&invoice.number, &invoice.content) else { continue };
        checked += 1;
        let mut fail = |reason: String| bad.push(Mismatch { number: number.clone(), reason });
        if invoice.content_hash.as_deref() != Some(content.digest().as_str()) {
            fail(format!("invoice {id}: the content does not match the hash it was issued with"));
        }
        match (invoice.kind, &invoice.refers_to) {
            (Some(InvoiceKind::Cancellation), Some(r)) => {
                let original = live.invoice(&r.invoice_id).and_then(|o| o.content.clone());
                if original.map(|o| o.negated()).as_ref() != Some(content) {
                    fail(format!("does not negate {}", r.number));
                }
            }
            _ => {
                let again = recompute(log, catalog.at(content.computed_at), content).await?;
                if again.as_ref() != Some(content) {
                    fail(format!("recomputed at position {} it differs", content.computed_at));
                }
            }
        }
    }
    Ok(if bad.is_empty() { Ok(checked) } else { Err(bad) })
}

/// The content the billing rules give for an issued invoice's customer and period at the
/// view, reading from the log the backups the catalog no longer keeps.
async fn recompute(
    log: &EventLog,
    at: projections::At<'_>,
    content: &domain::invoice::InvoiceContent,
) -> Result<Option<domain::invoice::InvoiceContent>, StoreError> {
    use projections::billing::compute;
    use projections::from_log::with_log;
    let again = with_log(
        |read| compute(at, content.customer_id, content.period, read),
        |vms| async move { projections::backup_log::backups(log, &vms, at.position(), content.period.start()).await },
    )
    .await?;
    // Every VM it named is read by then.
    Ok(again.unwrap_or(None))
}
