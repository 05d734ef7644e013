//! Key access to deployment secrets, with a real age round trip to the key list.

use std::io::{Read, Write};

use serde_json::json;

use crate::flows::{person, s, staff, world};
use crate::helpers::{BOOT, TestApp, both_stores};

/// A fresh ed25519 key pair from ssh-keygen: (private key file text, public key line).
pub(crate) fn keypair(dir: &std::path::Path, name: &str) -> (String, String) {
    keypair_of(dir, name, "ed25519")
}

/// A fresh key pair of a type from ssh-keygen: (private key file text, public key line).
fn keypair_of(dir: &std::path::Path, name: &str, kind: &str) -> (String, String) {
    let path = dir.join(name);
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", kind, "-N", "", "-C", name, "-f"])
        .arg(&path)
        .status()
        .expect("ssh-keygen (openssh-client) is installed");
    assert!(status.success());
    (std::fs::read_to_string(&path).unwrap(), std::fs::read_to_string(path.with_extension("pub")).unwrap())
}

/// Encrypts to a key list as `age -R` reads it: `#` lines are comments.
fn encrypt(key_list: &str, secret: &[u8]) -> Vec<u8> {
    let recipients: Vec<age::ssh::Recipient> =
        key_list.lines().filter(|l| !l.starts_with('#')).map(|l| l.parse().expect("an age recipient")).collect();
    let encryptor = age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient)).unwrap();
    let mut out = vec![];
    let mut writer = encryptor.wrap_output(&mut out).unwrap();
    writer.write_all(secret).unwrap();
    writer.finish().unwrap();
    out
}

fn decrypt(file: &[u8], private_key: &str) -> Option<Vec<u8>> {
    let identity = age::ssh::Identity::from_buffer(std::io::BufReader::new(private_key.as_bytes()), None).unwrap();
    let decryptor = age::Decryptor::new(file).ok()?;
    let mut reader = decryptor.decrypt(std::iter::once(&identity as &dyn age::Identity)).ok()?;
    let mut out = vec![];
    reader.read_to_end(&mut out).ok()?;
    Some(out)
}

const ADD_KEY: &str = "mutation($p: ID!, $k: String!) { addSshKey(personId: $p, publicKey: $k) { id fingerprint } }";
const RECIPIENTS: &str = "query($p: ID!, $d: String!) { secretsRecipients(projectId: $p, deployment: $d) { recipients { fingerprint } rekeyRequired rekeyReasons } }";

async fn grant(app: &TestApp, person: &str, project: &str, role: &str) {
    let q = "mutation($p: ID!, $pr: ID!, $r: Role!) { grantRole(personId: $p, projectId: $pr, role: $r) { id } }";
    app.ok(BOOT, q, json!({"p": person, "pr": project, "r": role})).await;
}

/// The world with a deployment `app` in Acme's project, and a scratch directory for key pairs.
async fn with_deployment(app: &TestApp, name: &str) -> (crate::flows::World, std::path::PathBuf) {
    let w = world(app).await;
    let dir = std::env::temp_dir().join(format!("directory-{name}-{}-{}", std::process::id(), app.head().await));
    std::fs::create_dir_all(&dir).unwrap();
    app.ok(
        BOOT,
        "mutation($p: ID!) { addDeployment(projectId: $p, name: \"app\", environment: \"production\") { id } }",
        json!({"p": w.acme_root}),
    )
    .await;
    (w, dir)
}

both_stores!(the_key_list_decrypts_for_members_and_ops_and_stops_at_revocation, async |app: &TestApp| {
    let (w, dir) = with_deployment(app, "keys").await;
    let (carl, carl_token) = person(app, Some(&w.acme), "Carl").await;
    let (vera, vera_token) = person(app, Some(&w.acme), "Vera").await;
    grant(app, &w.acme_person, &w.acme_root, "MEMBER").await;
    grant(app, &carl, &w.acme_root, "MANAGER").await;
    grant(app, &vera, &w.acme_root, "VIEWER").await;
    let ops_token = staff(app, "Olga", "OPS").await;
    let olga = s(&app.ok(&ops_token, "{ me { personId } }", json!({})).await["me"]["personId"]);
    let mut private = std::collections::HashMap::new();
    for (who, name) in [(&w.acme_person, "ada"), (&carl, "carl"), (&vera, "vera"), (&olga, "olga")] {
        let (secret, public) = keypair(&dir, name);
        let added = app.ok(BOOT, ADD_KEY, json!({"p": who, "k": public.trim()})).await["addSshKey"].clone();
        // The fingerprint exactly as `ssh-keygen -l` prints it.
        let listed =
            std::process::Command::new("ssh-keygen").arg("-lf").arg(dir.join(format!("{name}.pub"))).output().unwrap();
        let printed = String::from_utf8(listed.stdout).unwrap();
        assert_eq!(printed.split_whitespace().nth(1), Some(s(&added["fingerprint"]).as_str()), "{printed}");
        private.insert(name, (secret, s(&added["id"]), s(&added["fingerprint"])));
    }

    let path = format!("/keys/{}/app.pub", w.acme_root);
    let (status, kind, body) = app.get_as(Some(&vera_token), &path).await;
    assert_eq!((status.as_u16(), kind.as_str()), (200, "text/plain; charset=utf-8"), "a viewer may read the list");
    let list = String::from_utf8(body).unwrap();
    assert_eq!(list.lines().count(), 3, "Ada (member), Carl (manager), Olga (ops); not Vera (viewer):\n{list}");
    let fingerprints: Vec<String> =
        app.ok(&carl_token, RECIPIENTS, json!({"p": w.acme_root, "d": "app"})).await["secretsRecipients"]["recipients"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| s(&r["fingerprint"]))
            .collect();
    let mut sorted = fingerprints.clone();
    sorted.sort();
    assert_eq!(fingerprints, sorted, "sorted by fingerprint");
    assert!(!fingerprints.contains(&private["vera"].2));

    // The list is a deployment tool's recipients: every member decrypts.
    let file = encrypt(&list, b"database password");
    for name in ["ada", "carl", "olga"] {
        assert_eq!(decrypt(&file, &private[name].0).as_deref(), Some(&b"database password"[..]), "{name}");
    }
    assert_eq!(decrypt(&file, &private["vera"].0), None, "a viewer cannot");

    // The ETag changes only when the set does.
    let (status, first) = app.get_etag(BOOT, &path, None).await;
    assert_eq!((status.as_u16(), first.is_empty()), (200, false));
    assert_eq!(app.get_etag(BOOT, &path, None).await.1, first, "the same set, the same tag");
    assert_eq!(app.get_etag(BOOT, &path, Some(&first)).await.0.as_u16(), 304);

    // Ada's key is revoked: it leaves the list, the deployment needs re-keying, and a
    // file encrypted to the new list is closed to her.
    let before_revocation = s(&app.ok(BOOT, "{ logHead { recordedAt } }", json!({})).await["logHead"]["recordedAt"]);
    let revoke = "mutation($k: ID!) { revokeSshKey(keyId: $k, reason: \"laptop stolen\") { revokedAt } }";
    app.ok(BOOT, revoke, json!({"k": private["ada"].1})).await;
    assert_ne!(app.get_etag(BOOT, &path, None).await.1, first, "a new set, a new tag");
    assert_eq!(app.get_etag(BOOT, &path, Some(&first)).await.0.as_u16(), 200);
    let (_, _, body) = app.get_as(Some(&carl_token), &path).await;
    let new_list = String::from_utf8(body).unwrap();
    assert_eq!(new_list.lines().count(), 2);
    let r = app.ok(&carl_token, RECIPIENTS, json!({"p": w.acme_root, "d": "app"})).await["secretsRecipients"].clone();
    assert_eq!(r["rekeyRequired"], true);
    assert_eq!(r["rekeyReasons"], json!([format!("{} left: key revoked (laptop stolen)", private["ada"].2)]));
    let waiting = app.ok(BOOT, "{ rekeyRequired { projectId deployment } }", json!({})).await["rekeyRequired"].clone();
    assert_eq!(waiting, json!([{"projectId": w.acme_root, "deployment": "app"}]));
    let as_of = "query($p: ID!, $t: DateTime) { secretsRecipients(projectId: $p, deployment: \"app\", asOf: $t) { recipients { fingerprint } rekeyRequired } }";
    let then =
        app.ok(BOOT, as_of, json!({"p": w.acme_root, "t": before_revocation})).await["secretsRecipients"].clone();
    assert_eq!(
        (then["recipients"].as_array().unwrap().len(), then["rekeyRequired"].clone()),
        (3, json!(false)),
        "as recorded before the revocation"
    );
    let rekeyed = encrypt(&new_list, b"new database password");
    assert_eq!(decrypt(&rekeyed, &private["ada"].0), None, "the revoked key cannot decrypt the new file");
    assert_eq!(decrypt(&rekeyed, &private["carl"].0).as_deref(), Some(&b"new database password"[..]));
    let mark =
        "mutation($p: ID!) { markSecretsRekeyed(projectId: $p, deployment: \"app\") { rekeyRequired rekeyReasons } }";
    assert_eq!(
        app.ok(&carl_token, mark, json!({"p": w.acme_root})).await["markSecretsRekeyed"],
        json!({"rekeyRequired": false, "rekeyReasons": []})
    );
    assert_eq!(app.ok(BOOT, "{ rekeyRequired { deployment } }", json!({})).await["rekeyRequired"], json!([]));

    // Carl is deactivated: his key leaves too.
    app.ok(BOOT, "mutation($p: ID!) { deactivatePerson(personId: $p) { id } }", json!({"p": carl})).await;
    let r = app.ok(BOOT, RECIPIENTS, json!({"p": w.acme_root, "d": "app"})).await["secretsRecipients"].clone();
    assert_eq!(r["rekeyReasons"], json!([format!("{} left: Carl was deactivated", private["carl"].2)]));

    // Other customers see nothing; unknown deployments are not there.
    assert_eq!(
        app.get_as(Some(&crate::flows::person(app, Some(&w.globex), "Gus").await.1), &path).await.0.as_u16(),
        404
    );
    assert_eq!(app.get_as(Some(BOOT), &format!("/keys/{}/nope.pub", w.acme_root)).await.0.as_u16(), 404);
    assert_eq!(app.get_as(None, &path).await.0.as_u16(), 401);
    assert_eq!(app.code(&vera_token, mark, json!({"p": w.acme_root})).await, "FORBIDDEN");
    let _ = std::fs::remove_dir_all(&dir);
});

both_stores!(bad_keys_get_a_code_and_a_private_key_is_never_stored, async |app: &TestApp| {
    let w = world(app).await;
    let dir = std::env::temp_dir().join(format!("directory-badkeys-{}-{}", std::process::id(), app.head().await));
    std::fs::create_dir_all(&dir).unwrap();
    let (private_key, public) = keypair(&dir, "oops");
    let head = app.head().await;
    let body = public.split_whitespace().nth(1).unwrap().to_owned();
    let cases = [
        private_key.clone(),
        format!("ssh-ed25519 {}", &body[..body.len() / 2]),
        format!("command=\"ls\" {}", public.trim()),
        format!("ssh-ed25519 {}", "A".repeat(100_000)),
        format!("ssh-foo {body}"),
        "ssh-dss AAAAB3NzaC1kc3MAAACBAM9ejy96Tw3em".to_owned(),
    ];
    for key in &cases {
        let res = app.gql(BOOT, ADD_KEY, json!({"p": w.acme_person, "k": key})).await;
        assert_eq!(res["errors"][0]["extensions"]["code"], "BAD_INPUT", "{}", &key[..key.len().min(40)]);
        let message = res["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(!message.contains("PRIVATE KEY") && message.len() < 300, "the key is not echoed: {message}");
    }
    assert_eq!(app.head().await, head, "nothing appended");
    let secret_line = private_key.lines().nth(1).unwrap();
    let log = app.ok(BOOT, "{ events(first: 1000) { summary } }", json!({})).await.to_string();
    assert!(!log.contains(secret_line), "the private key is nowhere in the log");
    let _ = std::fs::remove_dir_all(&dir);
});

both_stores!(keys_age_cannot_use_are_named_in_the_list_not_served_as_recipients, async |app: &TestApp| {
    let (w, dir) = with_deployment(app, "ecdsa").await;
    grant(app, &w.acme_person, &w.acme_root, "MEMBER").await;
    let (ed_private, ed_public) = keypair(&dir, "ada-ed25519");
    let (_, ecdsa_public) = keypair_of(&dir, "ada-ecdsa", "ecdsa");
    // age itself refuses an ECDSA key as a recipient: served as a key line, it breaks `age -R`.
    assert!(ecdsa_public.trim().parse::<age::ssh::Recipient>().is_err());
    let ed = app.ok(BOOT, ADD_KEY, json!({"p": w.acme_person, "k": ed_public.trim()})).await["addSshKey"].clone();
    let ecdsa = app.ok(BOOT, ADD_KEY, json!({"p": w.acme_person, "k": ecdsa_public.trim()})).await["addSshKey"].clone();

    let path = format!("/keys/{}/app.pub", w.acme_root);
    let (status, _, body) = app.get_as(Some(&w.acme_token), &path).await;
    assert_eq!(status.as_u16(), 200);
    let list = String::from_utf8(body).unwrap();
    let keys: Vec<&str> = list.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(keys, [ed_public.split_whitespace().take(2).collect::<Vec<_>>().join(" ")], "{list}");
    let comments: Vec<&str> = list.lines().filter(|l| l.starts_with('#')).collect();
    assert_eq!(
        comments,
        [format!(
            "# skipped {} (ecdsa-sha2-nistp256): age cannot encrypt to ecdsa-sha2-nistp256 keys; add an ssh-ed25519 (or ssh-rsa) key to receive secrets",
            s(&ecdsa["fingerprint"])
        )],
        "{list}"
    );
    let file = encrypt(&list, b"database password");
    assert_eq!(decrypt(&file, &ed_private).as_deref(), Some(&b"database password"[..]));

    let q = "query($p: ID!) { secretsRecipients(projectId: $p, deployment: \"app\") { recipients { fingerprint usableForSecrets unusableForSecretsReason } } }";
    let recipients =
        app.ok(&w.acme_token, q, json!({"p": w.acme_root})).await["secretsRecipients"]["recipients"].clone();
    let by_fingerprint = |f: &serde_json::Value| {
        recipients.as_array().unwrap().iter().find(|r| r["fingerprint"] == *f).cloned().unwrap()
    };
    assert_eq!(by_fingerprint(&ed["fingerprint"])["usableForSecrets"], true);
    assert_eq!(by_fingerprint(&ed["fingerprint"])["unusableForSecretsReason"], serde_json::Value::Null);
    let skipped = by_fingerprint(&ecdsa["fingerprint"]);
    assert_eq!(skipped["usableForSecrets"], false);
    assert!(skipped["unusableForSecretsReason"].as_str().unwrap().starts_with("age cannot encrypt to ecdsa"));
    let _ = std::fs::remove_dir_all(&dir);
});
