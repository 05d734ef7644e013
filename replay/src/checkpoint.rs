//! Signed checkpoints: (position, chain hash, recorded at) signed with an Ed25519 key, kept
//! by an auditor outside the database. A later log that still extends the checkpoint has
//! the same chain hash at that position; a log rewritten from there on, even with a
//! consistent new chain, does not.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use store::{EventLog, StoreError};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub position: i64,
    /// The chain hash at `position`, hex.
    pub chain_hash: String,
    pub recorded_at: Option<String>,
    /// The Ed25519 public key that signed, hex.
    pub public_key: String,
    /// The signature over [`message`], hex.
    pub signature: String,
}

/// The signed bytes.
pub fn message(position: i64, chain_hash: &str, recorded_at: Option<&str>) -> Vec<u8> {
    format!("directory-checkpoint-v1\n{position}\n{chain_hash}\n{}\n", recorded_at.unwrap_or("")).into_bytes()
}

/// A new signing key (its 32-byte seed, hex, is what the key file holds).
pub fn new_key() -> SigningKey {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).expect("the system's random source");
    SigningKey::from_bytes(&seed)
}

pub fn key_from_hex(text: &str) -> Result<SigningKey, String> {
    let bytes = hex::decode(text.trim()).map_err(|e| format!("the key file is not hex: {e}"))?;
    let seed: [u8; 32] = bytes.try_into().map_err(|_| "the key file must hold a 32-byte seed".to_owned())?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Signs the log's head.
pub async fn make(log: &EventLog, key: &SigningKey) -> Result<Checkpoint, StoreError> {
    let head = log.head().await?;
    let chain_hash = hex::encode(head.chain_hash);
    let recorded_at = head.recorded_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
    let signature = key.sign(&message(head.position, &chain_hash, recorded_at.as_deref()));
    Ok(Checkpoint {
        position: head.position,
        chain_hash,
        recorded_at,
        public_key: hex::encode(key.verifying_key().to_bytes()),
        signature: hex::encode(signature.to_bytes()),
    })
}

/// Whether the checkpoint is signed by its key (or by `expected_key` when given) and the
/// log still has the checkpoint's chain hash at its position.
pub async fn check(
    log: &EventLog,
    cp: &Checkpoint,
    expected_key: Option<&str>,
) -> Result<Result<(), String>, StoreError> {
    if let Some(expected) = expected_key
        && expected.trim() != cp.public_key
    {
        return Ok(Err("the checkpoint was signed by another key".into()));
    }
    let key: Option<VerifyingKey> = hex::decode(&cp.public_key)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .and_then(|b| VerifyingKey::from_bytes(&b).ok());
    let signature: Option<Signature> =
        hex::decode(&cp.signature).ok().and_then(|b| <[u8; 64]>::try_from(b).ok()).map(|b| Signature::from_bytes(&b));
    let (Some(key), Some(signature)) = (key, signature) else {
        return Ok(Err("the checkpoint's key or signature does not decode".into()));
    };
    if key.verify(&message(cp.position, &cp.chain_hash, cp.recorded_at.as_deref()), &signature).is_err() {
        return Ok(Err("the checkpoint's signature does not match its contents".into()));
    }
    if cp.position == 0 {
        return Ok(Ok(()));
    }
    let at = log.read_after(cp.position - 1, 1).await?;
    match at.first() {
        Some(e) if e.position == cp.position && hex::encode(e.chain_hash) == cp.chain_hash => Ok(Ok(())),
        Some(e) if e.position == cp.position => Ok(Err(format!(
            "the log no longer extends the checkpoint: the chain hash at position {} differs",
            cp.position
        ))),
        _ => Ok(Err(format!("the log no longer reaches the checkpoint's position {}", cp.position))),
    }
}
