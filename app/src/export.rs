//! The transfer to accounting: the period's DATEV booking batch and the customer master
//! data beside it (`documents::datev`), and an `InvoiceExported` event per document. The
//! batch holds every document of the period, so the same log gives the same bytes; events
//! are appended only for documents not exported before, so running the export again books
//! nothing twice.

use cqrs_es::Aggregate;
pub use documents::datev::Accounts;
use documents::datev::{TARGET, batch, debtor_accounts, documents, master_data};
use domain::invoice::{self, Invoice};
use domain::{Instant, Period};
use store::Metadata;

use crate::commands::{Appending, Decided};
use crate::error::ApiError;
use crate::state::AppState;

/// What an export did.
pub struct Exported {
    /// The booking batch and the master data, as DATEV reads them (Windows-1252).
    pub batch: Vec<u8>,
    pub master_data: Vec<u8>,
    pub documents: usize,
    pub newly_exported: usize,
}

/// Writes the period's batch and records the hand-over of every document not exported before.
pub async fn export(app: &AppState, period: Period, accounts: &Accounts, now: Instant) -> Result<Exported, ApiError> {
    let (docs, text, master) = {
        let catalog = app.catalog();
        let live = catalog.live();
        let debtors = debtor_accounts(live, accounts).map_err(|e| ApiError::BadInput(e.to_string()))?;
        let docs = documents(live, period);
        // The creation stamp is the newest issue instant, so the same documents give the same bytes.
        let created = docs.iter().filter_map(|(_, d)| d.issued_at).max().unwrap_or_else(|| period.end());
        let text = batch(&docs, period, accounts, &debtors, created);
        let master = master_data(live, accounts, &debtors, created);
        (docs, text, master)
    };
    let digest = {
        use sha2::{Digest, Sha256};
        hex::encode(Sha256::digest(&text))
    };
    let metadata =
        Metadata { actor: "system:export".into(), reason: Some(format!("EXTF batch {period}")), ..Metadata::default() };
    let (documents, docs, text, master, digest) = (docs.len(), &docs, &text, &master, &digest);
    app.bus
        .append_together(&metadata, move || async move {
            let mut streams = vec![];
            for (id, _) in docs {
                let (state, sequence) = crate::billing::load(&app.bus.log, *id).await?;
                if let Some(e) = invoice::export(&state, TARGET, digest, now).map_err(|e| ApiError::refused(&e))? {
                    streams.push(Appending::new(Invoice::TYPE, id, sequence, &[e]));
                }
            }
            let exported =
                Exported { batch: text.clone(), master_data: master.clone(), documents, newly_exported: streams.len() };
            Ok(match streams.is_empty() {
                true => Decided::Nothing(exported),
                false => Decided::Append(streams, exported),
            })
        })
        .await
}
