//! The data keys: the current one (sealing and signing) and previous ones (opening and checking
//! only), made from their hex spelling. Where that text comes from (the environment, a key file,
//! `data.key` in the data directory) is the store's business (`crates/store/src/keys.rs`), not
//! this crate's. A key's id is the first four bytes of its SHA-256: safe to log and stored with
//! each sealed value.

use std::fmt;

use chacha20poly1305::aead::{KeyInit, OsRng};
use chacha20poly1305::{Key, XChaCha20Poly1305};
use sha2::{Digest, Sha256};

use super::hex::{hex, unhex};
use super::sign::{Signer, hmac};

/// One 32-byte key.
#[derive(Clone)]
pub(super) struct DataKey {
    pub(super) id: [u8; 4],
    pub(super) cipher: XChaCha20Poly1305,
    raw: [u8; 32],
}

impl DataKey {
    fn new(raw: [u8; 32]) -> Self {
        let digest = Sha256::digest(raw);
        let id = [digest[0], digest[1], digest[2], digest[3]];
        DataKey {
            id,
            cipher: XChaCha20Poly1305::new(Key::from_slice(&raw)),
            raw,
        }
    }

    fn from_hex(s: &str) -> Option<Self> {
        let raw: [u8; 32] = unhex(s.trim())?.try_into().ok()?;
        Some(DataKey::new(raw))
    }
}

/// The current key (for sealing and opening) and any previous ones (for opening only).
#[derive(Clone)]
pub struct Keyring {
    pub(super) current: DataKey,
    pub(super) previous: Vec<DataKey>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Keyring(current {}, {} previous, secrets redacted)",
            self.current_id(),
            self.previous.len()
        )
    }
}

/// A new random key as 64 hex characters.
pub fn generate_key_hex() -> String {
    let key = XChaCha20Poly1305::generate_key(&mut OsRng);
    hex(&key)
}

impl Keyring {
    /// A keyring from hex keys (tests and tools).
    pub fn from_hex(current: &str, previous: &[&str]) -> Option<Keyring> {
        Some(Keyring {
            current: DataKey::from_hex(current)?,
            previous: previous
                .iter()
                .map(|k| DataKey::from_hex(k))
                .collect::<Option<_>>()?,
        })
    }

    /// The current key's id, as hex (safe to log).
    pub fn current_id(&self) -> String {
        hex(&self.current.id)
    }

    /// A secret for `purpose` derived from `key` (HMAC-SHA256), so every server that shares the
    /// data key shares it too, and no second secret must be managed.
    fn derive(key: &DataKey, purpose: &str) -> [u8; 32] {
        hmac(&key.raw, &[b"kap-practice derive v1:", purpose.as_bytes()])
    }

    /// The signer for tokens of `purpose`, tagged with `label`: it signs with a key derived from
    /// the current data key and also accepts tags made under the previous ones, so links and
    /// forms sent before a key rotation keep working while the old key is kept.
    pub fn signer(&self, purpose: &str, label: &'static str) -> Signer {
        let keys = std::iter::once(&self.current)
            .chain(&self.previous)
            .map(|key| Self::derive(key, purpose))
            .collect();
        Signer::with_keys(keys, label)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_made_before_a_rotation_still_check() {
        const K1: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
        const K2: &str = "1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100";
        let old = Keyring::from_hex(K1, &[]).expect("key");
        let tag = old.signer("link", "l:").sign(b"request 7");
        let rotated = Keyring::from_hex(K2, &[K1]).expect("keys");
        assert!(rotated.signer("link", "l:").verify(b"request 7", &tag));
        assert!(!rotated.signer("form", "l:").verify(b"request 7", &tag));
        let retired = Keyring::from_hex(K2, &[]).expect("key");
        assert!(!retired.signer("link", "l:").verify(b"request 7", &tag));
    }

    #[test]
    fn a_key_has_one_spelling() {
        assert!(Keyring::from_hex(&format!("+0{}", "0".repeat(62)), &[]).is_none());
    }
}
