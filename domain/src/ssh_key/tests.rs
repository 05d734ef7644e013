use super::*;
use crate::shared::testing::{at, uuid};
use cqrs_es::test::TestFramework;

type KeyTest = TestFramework<SshKey>;

const ED: &str = include_str!("testdata/ed.pub");
const ED_FP: &str = "SHA256:kuqPxNHg6c1IMIWEE8B2ZiPTMsuu63knScZvKpkqHnI";
const EC: &str = include_str!("testdata/ec.pub");
const RSA2048: &str = include_str!("testdata/rsa2048.pub");
const RSA1024: &str = include_str!("testdata/rsa1024.pub");
const DSA: &str = include_str!("testdata/dsa.pub");
const PRIVATE: &str = include_str!("testdata/ed.private");

fn person() -> PersonFacts {
    PersonFacts { id: PersonId(uuid(10)), active: true }
}

fn added() -> SshKeyEvent {
    SshKeyEvent::SshKeyAdded {
        id: SshKeyId(uuid(7)),
        person_id: person().id,
        algorithm: "ssh-ed25519".into(),
        bits: 256,
        fingerprint: ED_FP.into(),
        comment: Some("ada@laptop".into()),
        public_key: ED.split_whitespace().take(2).collect::<Vec<_>>().join(" "),
        at: at(1, 2),
    }
}

fn add(text: &str) -> SshKeyCommand {
    SshKeyCommand::Add { id: SshKeyId(uuid(7)), person: person(), public_key: text.into(), at: at(1, 2) }
}

#[test]
fn fingerprints_match_ssh_keygen() {
    assert_eq!(parse_public_key(ED).unwrap().fingerprint, ED_FP);
    let ec = parse_public_key(EC).unwrap();
    assert_eq!(ec.fingerprint, "SHA256:xROrJ5F7zfbRRcSslDzB0Q8VLLq8G/TTdHY22sssFuo");
    assert_eq!((ec.algorithm.as_str(), ec.bits, ec.comment.as_deref()), ("ecdsa-sha2-nistp384", 384, Some("ec key")));
    let rsa = parse_public_key(RSA2048).unwrap();
    assert_eq!(rsa.fingerprint, "SHA256:BBy32k5KW8POVkbaINYgSCk0Sev9qBDOd1jCi3tDNEU");
    assert_eq!((rsa.bits, rsa.comment), (2048, None));
}

#[test]
fn adds_a_key_under_the_id_given() {
    KeyTest::with(()).given_no_previous_events().when(add(ED)).then_expect_events(vec![added()]);
}

#[test]
fn a_key_record_is_added_once_even_after_revocation() {
    // A key added again (by anyone) is a new record with an id of its own: an old record
    // and its history stay with the person who owned it.
    KeyTest::with(()).given(vec![added()]).when(add(ED)).then_expect_error(SshKeyError::AlreadyPresent);
    KeyTest::with(())
        .given(vec![added(), SshKeyEvent::SshKeyRevoked { reason: "laptop lost".into(), at: at(1, 3) }])
        .when(add(ED))
        .then_expect_error(SshKeyError::AlreadyPresent);
}

#[test]
fn refuses_dsa_short_rsa_private_keys_options_garbage_and_huge_input() {
    let cases = [
        (DSA, "DSA keys are refused"),
        (RSA1024, "RSA key of 1024 bits"),
        (PRIVATE, "looks like a private key"),
        ("command=\"ls\" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK6N", "authorized_keys options"),
        ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK6N+Sji", "not a valid OpenSSH public key"),
        ("sk-ssh-ed25519@openssh.com AAAA", "unsupported or unknown key type"),
        ("", "must not be empty"),
    ];
    for (text, expected) in cases {
        let err = KeyTest::with(()).given_no_previous_events().when(add(text)).inspect_result().unwrap_err();
        assert_eq!(err.refusal(), Refusal::BadInput, "{text}");
        assert!(err.to_string().contains(expected), "{err} should contain {expected}");
    }
    let huge = format!("ssh-rsa {}", "A".repeat(100_000));
    let err = KeyTest::with(()).given_no_previous_events().when(add(&huge)).inspect_result().unwrap_err();
    assert!(err.to_string().contains("larger than"), "{err}");
}

#[test]
fn never_echoes_a_pasted_private_key() {
    let err = parse_public_key(PRIVATE).unwrap_err();
    assert!(!err.to_string().contains("BEGIN"), "{err}");
}

#[test]
fn refuses_a_deactivated_owner() {
    KeyTest::with(())
        .given_no_previous_events()
        .when(SshKeyCommand::Add {
            id: SshKeyId(uuid(7)),
            person: PersonFacts { active: false, ..person() },
            public_key: ED.into(),
            at: at(1, 2),
        })
        .then_expect_error(SshKeyError::PersonDeactivated);
}

#[test]
fn revokes_once_with_a_reason() {
    KeyTest::with(())
        .given(vec![added()])
        .when(SshKeyCommand::Revoke { reason: "left the company".into(), at: at(2, 1) })
        .then_expect_events(vec![SshKeyEvent::SshKeyRevoked { reason: "left the company".into(), at: at(2, 1) }]);
    KeyTest::with(())
        .given(vec![added(), SshKeyEvent::SshKeyRevoked { reason: "x".into(), at: at(2, 1) }])
        .when(SshKeyCommand::Revoke { reason: "again".into(), at: at(2, 2) })
        .then_expect_error(SshKeyError::AlreadyRevoked);
    KeyTest::with(())
        .given_no_previous_events()
        .when(SshKeyCommand::Revoke { reason: "x".into(), at: at(2, 2) })
        .then_expect_error(SshKeyError::NotFound);
    let err = KeyTest::with(())
        .given(vec![added()])
        .when(SshKeyCommand::Revoke { reason: " ".into(), at: at(2, 2) })
        .inspect_result()
        .unwrap_err();
    assert_eq!(err.refusal(), Refusal::BadInput);
}
