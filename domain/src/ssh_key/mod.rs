//! SshKey: an OpenSSH public key of a person. Every added key is its own stream, owned by
//! one person for ever; "an active fingerprint belongs to one person" is a unique name
//! ([`FINGERPRINT`]) the key's stream holds from its addition to its revocation, which the
//! store takes and gives up in the append's transaction.

use serde::{Deserialize, Serialize};

use crate::shared::error::{Classify, Invalid, Refusal};
use crate::shared::{Instant, validate};
use crate::{PersonId, SshKeyId, aggregate, event_names};

#[cfg(test)]
mod tests;

/// The largest public key text accepted (an RSA-16384 key is about 2.8 KB).
pub const MAX_KEY_BYTES: usize = 16 * 1024;
/// The smallest RSA modulus accepted.
pub const MIN_RSA_BITS: u32 = 2048;

/// A public key as parsed and fingerprinted on entry.
#[derive(Clone, Debug, PartialEq)]
pub struct ParsedKey {
    /// The algorithm name as OpenSSH writes it, e.g. `ssh-ed25519`.
    pub algorithm: String,
    pub bits: u32,
    /// `SHA256:` + unpadded base64, exactly as `ssh-keygen -l` prints it.
    pub fingerprint: String,
    pub comment: Option<String>,
    /// `algorithm base64` without the comment.
    pub public_key: String,
}

/// The scope of the unique name an active key holds: its fingerprint.
pub const FINGERPRINT: &str = "ssh_key.fingerprint";

/// Parses one OpenSSH public key line and enforces the accepted algorithms and sizes.
/// Error messages never echo the input, since a pasted private key must not reach any log.
pub fn parse_public_key(text: &str) -> Result<ParsedKey, Invalid> {
    let bad = |m: &str| Invalid::new("publicKey", m.to_owned());
    if text.len() > MAX_KEY_BYTES {
        return Err(bad(&format!("is larger than {MAX_KEY_BYTES} bytes; paste one public key line")));
    }
    let line = text.trim();
    if line.contains("PRIVATE KEY") || line.starts_with("-----BEGIN") || line.starts_with("PuTTY-User-Key-File") {
        return Err(bad("looks like a private key; it was not stored. Paste the public key (the .pub file) instead"));
    }
    if line.is_empty() {
        return Err(bad("must not be empty"));
    }
    if line.lines().count() > 1 {
        return Err(bad("must be a single line"));
    }
    let first = line.split_whitespace().next().unwrap_or_default();
    if first == "ssh-dss" {
        return Err(bad(
            "DSA keys are refused; use ssh-ed25519, ecdsa-sha2-nistp256/384/521 or ssh-rsa of at least 2048 bits",
        ));
    }
    let known = ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-rsa"];
    if !known.contains(&first) {
        if first.contains('=') || first.contains('"') || first.contains(',') {
            return Err(bad(
                "authorized_keys options are not accepted; paste the key alone, starting with its type (e.g. ssh-ed25519)",
            ));
        }
        return Err(bad(
            "has an unsupported or unknown key type; accepted are ssh-ed25519, ecdsa-sha2-nistp256/384/521 and ssh-rsa",
        ));
    }
    let key = ssh_key::PublicKey::from_openssh(line).map_err(|_| {
        bad("is not a valid OpenSSH public key (the base64 part is damaged, truncated or of another type)")
    })?;
    let bits = match key.key_data() {
        ssh_key::public::KeyData::Ed25519(_) => 256,
        ssh_key::public::KeyData::Ecdsa(e) => match e.curve() {
            ssh_key::EcdsaCurve::NistP256 => 256,
            ssh_key::EcdsaCurve::NistP384 => 384,
            ssh_key::EcdsaCurve::NistP521 => 521,
        },
        ssh_key::public::KeyData::Rsa(r) => {
            let bytes = r.n.as_positive_bytes().map(|b| b.len()).unwrap_or(0);
            let bits = u32::try_from(bytes * 8).unwrap_or(u32::MAX);
            if bits < MIN_RSA_BITS {
                return Err(bad(&format!("is an RSA key of {bits} bits; at least {MIN_RSA_BITS} bits are required")));
            }
            bits
        }
        _ => return Err(bad("has an unsupported key type")),
    };
    let comment = key.comment().trim();
    let comment = if comment.is_empty() { None } else { Some(validate::name("publicKey comment", comment)?) };
    let mut bare = key.clone();
    bare.set_comment("");
    let public_key = bare.to_openssh().map_err(|_| bad("could not be re-encoded"))?.trim().to_owned();
    Ok(ParsedKey {
        algorithm: key.algorithm().as_str().to_owned(),
        bits,
        fingerprint: key.fingerprint(ssh_key::HashAlg::Sha256).to_string(),
        comment,
        public_key,
    })
}

/// What the caller knows about the key's owner.
#[derive(Clone, Debug, PartialEq)]
pub struct PersonFacts {
    pub id: PersonId,
    pub active: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SshKey {
    pub id: Option<SshKeyId>,
    pub person_id: Option<PersonId>,
    pub algorithm: String,
    pub bits: u32,
    pub fingerprint: String,
    pub comment: Option<String>,
    pub public_key: String,
    pub added_at: Option<Instant>,
    pub revoked_at: Option<Instant>,
    pub revoke_reason: Option<String>,
}

impl SshKey {
    pub fn is_active(&self) -> bool {
        self.id.is_some() && self.revoked_at.is_none()
    }

    /// Why a deployment's secrets cannot be encrypted to this key, if they cannot: they are
    /// encrypted with `age`, which takes ssh-ed25519 and ssh-rsa keys as recipients only.
    /// The key still logs in; it is a recipient the tools skip.
    pub fn unusable_for_secrets(&self) -> Option<String> {
        match self.algorithm.as_str() {
            "ssh-ed25519" | "ssh-rsa" => None,
            other => Some(format!(
                "age cannot encrypt to {other} keys; add an ssh-ed25519 (or ssh-rsa) key to receive secrets"
            )),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum SshKeyCommand {
    Add { id: SshKeyId, person: PersonFacts, public_key: String, at: Instant },
    Revoke { reason: String, at: Instant },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum SshKeyEvent {
    SshKeyAdded {
        id: SshKeyId,
        person_id: PersonId,
        algorithm: String,
        bits: u32,
        fingerprint: String,
        comment: Option<String>,
        public_key: String,
        at: Instant,
    },
    SshKeyRevoked {
        reason: String,
        at: Instant,
    },
}

event_names!(SshKeyEvent { SshKeyAdded, SshKeyRevoked });

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SshKeyError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("this key is already registered; a key is added once")]
    AlreadyPresent,
    #[error("key does not exist")]
    NotFound,
    #[error("key is already revoked")]
    AlreadyRevoked,
    #[error("person is deactivated; a deactivated person cannot add keys")]
    PersonDeactivated,
}

impl Classify for SshKeyError {
    fn refusal(&self) -> Refusal {
        match self {
            Self::Invalid(_) => Refusal::BadInput,
            Self::AlreadyPresent => Refusal::Conflict,
            Self::NotFound => Refusal::NotFound,
            Self::AlreadyRevoked | Self::PersonDeactivated => Refusal::RuleViolation,
        }
    }
}

pub fn decide(k: &SshKey, cmd: SshKeyCommand) -> Result<Vec<SshKeyEvent>, SshKeyError> {
    match cmd {
        SshKeyCommand::Add { id, person, public_key, at } => {
            let parsed = parse_public_key(&public_key)?;
            if k.id.is_some() {
                return Err(SshKeyError::AlreadyPresent);
            }
            if !person.active {
                return Err(SshKeyError::PersonDeactivated);
            }
            Ok(vec![SshKeyEvent::SshKeyAdded {
                id,
                person_id: person.id,
                algorithm: parsed.algorithm,
                bits: parsed.bits,
                fingerprint: parsed.fingerprint,
                comment: parsed.comment,
                public_key: parsed.public_key,
                at,
            }])
        }
        SshKeyCommand::Revoke { reason, at } => {
            if k.id.is_none() {
                return Err(SshKeyError::NotFound);
            }
            if k.revoked_at.is_some() {
                return Err(SshKeyError::AlreadyRevoked);
            }
            Ok(vec![SshKeyEvent::SshKeyRevoked { reason: validate::text("reason", &reason)?, at }])
        }
    }
}

pub fn evolve(k: &mut SshKey, event: &SshKeyEvent) {
    match event {
        SshKeyEvent::SshKeyAdded { id, person_id, algorithm, bits, fingerprint, comment, public_key, at } => {
            *k = SshKey {
                id: Some(*id),
                person_id: Some(*person_id),
                algorithm: algorithm.clone(),
                bits: *bits,
                fingerprint: fingerprint.clone(),
                comment: comment.clone(),
                public_key: public_key.clone(),
                added_at: Some(*at),
                revoked_at: None,
                revoke_reason: None,
            }
        }
        SshKeyEvent::SshKeyRevoked { reason, at } => {
            k.revoked_at = Some(*at);
            k.revoke_reason = Some(reason.clone());
        }
    }
}

aggregate!(SshKey, "ssh_key", SshKeyCommand, SshKeyEvent, SshKeyError);
