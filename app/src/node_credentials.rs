//! Node credentials: the password each VM's agents use for the node API. It is derived,
//! never stored: HMAC-SHA256 under the server's node key of the VM's id and its password
//! generation (which `rotateNodePassword` counts up, as an event). So no password is ever
//! in the log, a snapshot or a log line; whoever holds the key and the log can derive it,
//! which is what every server of one Directory must be able to do.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use domain::VmId;

/// The server's secret for node credentials: 32 random bytes, the same for every server
/// of one Directory (`DIRECTORY_NODE_KEY_FILE`).
#[derive(Clone)]
pub struct NodeKey([u8; 32]);

impl std::fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NodeKey(…)")
    }
}

impl NodeKey {
    /// A fresh random key.
    pub fn random() -> NodeKey {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("the operating system's random source");
        NodeKey(key)
    }

    /// The key a file holds (64 hex digits), made and written (readable by its owner only)
    /// when the file does not exist yet.
    pub fn from_file(path: &std::path::Path) -> std::io::Result<NodeKey> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let bytes = hex::decode(text.trim()).ok().and_then(|b| <[u8; 32]>::try_from(b).ok());
                bytes.map(NodeKey).ok_or_else(|| {
                    std::io::Error::new(std::io::ErrorKind::InvalidData, "the node key file must hold 64 hex digits")
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = NodeKey::random();
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                std::io::Write::write_all(&mut options.open(path)?, hex::encode(key.0).as_bytes())?;
                Ok(key)
            }
            Err(e) => Err(e),
        }
    }

    fn mac(&self, purpose: &str, subject: &str, generation: u32) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(format!("directory:{purpose}:{subject}:{generation}").as_bytes());
        mac
    }

    /// The node API password of a VM in a generation: 32 hex digits (128 bits).
    pub fn node_password(&self, vm: VmId, generation: u32) -> String {
        hex::encode(&self.mac("node", &vm.to_string(), generation).finalize().into_bytes()[..16])
    }

    /// The password of a platform service's client (fc-compat.md, `list_services`): the
    /// same for the service and the client's host name every time, 32 hex digits.
    pub fn service_password(&self, service: &str, client: &str) -> String {
        hex::encode(&self.mac("service", &format!("{service}/{client}"), 0).finalize().into_bytes()[..16])
    }

    /// Whether `given` is the VM's password in that generation, compared in constant time.
    pub fn verify_node_password(&self, vm: VmId, generation: u32, given: &str) -> bool {
        let Ok(given) = hex::decode(given) else { return false };
        self.mac("node", &vm.to_string(), generation).verify_truncated_left(&given).is_ok() && given.len() == 16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_stable_per_key_vm_and_generation_and_differ_otherwise() {
        let (key, other) = (NodeKey::random(), NodeKey::random());
        let vm = VmId(uuid::Uuid::from_u128(7));
        let first = key.node_password(vm, 0);
        assert_eq!(first.len(), 32);
        assert_eq!(key.node_password(vm, 0), first);
        assert_ne!(key.node_password(vm, 1), first, "a rotation changes it");
        assert_ne!(key.node_password(VmId(uuid::Uuid::from_u128(8)), 0), first);
        assert_ne!(other.node_password(vm, 0), first);
        assert!(key.verify_node_password(vm, 0, &first));
        assert!(!key.verify_node_password(vm, 1, &first));
        assert!(!key.verify_node_password(vm, 0, &first[..30]), "a prefix is not the password");
        assert!(!key.verify_node_password(vm, 0, ""));
        assert!(!key.verify_node_password(vm, 0, "not hex"));
    }

    #[test]
    fn the_key_file_is_made_once_and_read_after() {
        let dir = std::env::temp_dir().join(format!("directory-node-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("node.key");
        let _ = std::fs::remove_file(&path);
        let made = NodeKey::from_file(&path).unwrap();
        let read = NodeKey::from_file(&path).unwrap();
        let vm = VmId(uuid::Uuid::from_u128(7));
        assert_eq!(made.node_password(vm, 0), read.node_password(vm, 0));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        std::fs::write(&path, "short").unwrap();
        assert!(NodeKey::from_file(&path).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
