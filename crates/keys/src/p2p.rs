//! The node's libp2p identity: an ed25519 keypair and the peer id it gives.
//!
//! The file holds the keypair in libp2p's protobuf `PrivateKey` encoding (the form
//! `Keypair::to_protobuf_encoding` writes and every libp2p implementation reads), with
//! mode 0600. It is not password-encrypted: it only names the node on the network (the
//! genesis lists each member's peer id), it signs nothing of value, and the node must be
//! able to restart unattended. A file readable by other users is refused, as ssh does.

use crate::KeysError;
use libp2p_identity::{Keypair, PeerId};
use std::path::Path;
use zeroize::Zeroizing;

/// A new random ed25519 keypair.
pub fn generate() -> Result<Keypair, KeysError> {
    let mut seed = Zeroizing::new([0u8; 32]);
    getrandom::fill(seed.as_mut()).map_err(|e| KeysError::Random(e.to_string()))?;
    Ok(from_seed(*seed))
}

/// The ed25519 keypair whose secret is `seed` (for reproducible tests).
pub fn from_seed(mut seed: [u8; 32]) -> Keypair {
    // `ed25519_from_bytes` zeroes its input; any 32 bytes are a valid ed25519 secret.
    Keypair::ed25519_from_bytes(&mut seed).expect("32 bytes are an ed25519 secret key")
}

/// The peer id of `keypair`, in its usual text form (`12D3KooW…` for ed25519).
pub fn peer_id(keypair: &Keypair) -> String {
    keypair.public().to_peer_id().to_string()
}

/// Checks that `text` is a peer id.
pub fn parse_peer_id(text: &str) -> Result<PeerId, String> {
    text.parse::<PeerId>().map_err(|e| format!("`{text}` is not a libp2p peer id: {e}"))
}

/// Writes `keypair` to `path` (mode 0600, atomically).
pub fn write(path: &Path, keypair: &Keypair) -> Result<(), KeysError> {
    let bytes = Zeroizing::new(
        keypair
            .to_protobuf_encoding()
            .map_err(|e| KeysError::Invalid { path: path.to_path_buf(), reason: format!("cannot encode: {e}") })?,
    );
    Ok(claystack_fs_util::write_private(path, &bytes)?)
}

/// Reads the keypair at `path`; refuses a file that others can read, or one that is not
/// an ed25519 key.
pub fn read(path: &Path) -> Result<Keypair, KeysError> {
    let bytes = Zeroizing::new(claystack_fs_util::read_private(path)?);
    let keypair = Keypair::from_protobuf_encoding(&bytes).map_err(|e| KeysError::Invalid {
        path: path.to_path_buf(),
        reason: format!("not a libp2p private key (protobuf encoding): {e}"),
    })?;
    if keypair.clone().try_into_ed25519().is_err() {
        return Err(KeysError::Invalid { path: path.to_path_buf(), reason: "not an ed25519 key".into() });
    }
    Ok(keypair)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn write_read_mode_and_peer_id() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p2p.key");
        let kp = from_seed([9; 32]);
        write(&path, &kp).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let back = read(&path).unwrap();
        assert_eq!(peer_id(&back), peer_id(&kp));
        assert!(peer_id(&kp).starts_with("12D3KooW"), "{}", peer_id(&kp));
        assert!(parse_peer_id(&peer_id(&kp)).is_ok());
        assert!(parse_peer_id("local-0").is_err());
        assert_ne!(peer_id(&generate().unwrap()), peer_id(&generate().unwrap()));

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = read(&path).unwrap_err().to_string();
        assert!(err.contains("chmod 600") && err.contains("644"), "{err}");
        std::fs::write(&path, b"garbage").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(read(&path).unwrap_err().to_string().contains("not a libp2p private key"));
    }
}
