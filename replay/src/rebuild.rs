//! Rebuilds every read model from position 0 and puts the result in place of the stored
//! snapshots; reports each model's digest, so two rebuilds (or a rebuild and a live
//! server) can be compared.

use std::time::Instant;

use projections::Catalog;
use store::{EventLog, StoreError};

const PAGE: u32 = 5000;

/// What a rebuild did.
#[derive(Debug, Clone, PartialEq)]
pub struct Rebuilt {
    pub position: i64,
    pub events: i64,
    pub seconds: f64,
    /// Each read model's name and the SHA-256 of its canonical state.
    pub digests: Vec<(String, String)>,
}

/// Folds the whole log into fresh read models; `progress(done, total)` after each page.
/// Reading the next pages overlaps folding the current one.
pub async fn rebuild(log: &EventLog, mut progress: impl FnMut(i64, i64)) -> Result<(Catalog, Rebuilt), StoreError> {
    let started = Instant::now();
    let total = log.head().await?.position;
    let (pages, mut incoming) = tokio::sync::mpsc::channel(4);
    let reader = {
        let log = log.clone();
        tokio::spawn(async move {
            let mut after = 0;
            loop {
                let page = log.read_after(after, PAGE).await?;
                let Some(last) = page.last() else { return Ok::<_, StoreError>(()) };
                after = last.position;
                if pages.send(page).await.is_err() {
                    return Ok(());
                }
            }
        })
    };
    let mut catalog = Catalog::default();
    while let Some(page) = incoming.recv().await {
        catalog.fold(&page);
        progress(catalog.position, total);
    }
    reader.await.map_err(|_| StoreError::Closed)??;
    let rebuilt = Rebuilt {
        position: catalog.position,
        events: catalog.position,
        seconds: started.elapsed().as_secs_f64(),
        digests: vec![(Catalog::SNAPSHOT_MODEL.to_owned(), catalog.digest())],
    };
    Ok((catalog, rebuilt))
}

/// Rebuilds, then replaces the stored snapshots with the rebuilt state in one transaction.
pub async fn rebuild_and_swap(log: &EventLog, progress: impl FnMut(i64, i64)) -> Result<Rebuilt, StoreError> {
    let (catalog, rebuilt) = rebuild(log, progress).await?;
    let bytes =
        catalog.to_snapshot().map_err(|e| StoreError::Corrupt { position: catalog.position, reason: e.to_string() })?;
    log.replace_snapshots(Catalog::SNAPSHOT_MODEL, catalog.position, &bytes).await?;
    Ok(rebuilt)
}
