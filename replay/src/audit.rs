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
