//! Sealing: personal data is sealed before it is stored and opened only to be shown to the
//! clinician or exported by them.
//!
//! Each personal field is sealed on its own with XChaCha20-Poly1305 (random 192-bit nonce) under
//! the practice's data key. A sealed value is `version (1) | key id (4) | nonce (24) | ciphertext
//! and tag`; the key id is the first four bytes of the key's SHA-256, so after a rotation old
//! values are still opened with the old key while new ones use the new key. The field's name is
//! bound in as associated data, so a value moved to another column does not open. A value that
//! fails authentication is an error, never shown as data.

use chacha20poly1305::aead::{Aead, AeadCore, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use super::Keyring;
use super::hex::hex;

const VERSION: u8 = 1;
const HEADER: usize = 1 + 4 + 24;

/// A stored value could not be opened.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OpenError {
    #[error("sealed value is malformed")]
    Malformed,
    #[error("sealed with a key this server does not have (key id {0})")]
    UnknownKey(String),
    #[error("sealed value failed authentication: it was altered or belongs elsewhere")]
    Forged,
}

impl Keyring {
    /// Seals `plaintext` for the field named `field`.
    pub fn seal(&self, field: &str, plaintext: &str) -> Vec<u8> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let payload = Payload {
            msg: plaintext.as_bytes(),
            aad: field.as_bytes(),
        };
        // Encryption into a Vec only fails on absurd lengths (more than 256 GiB).
        let ciphertext = self
            .current
            .cipher
            .encrypt(&nonce, payload)
            .unwrap_or_default();
        let mut out = Vec::with_capacity(HEADER + ciphertext.len());
        out.push(VERSION);
        out.extend_from_slice(&self.current.id);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        out
    }

    /// Opens a value sealed for `field`.
    pub fn open(&self, field: &str, sealed: &[u8]) -> Result<String, OpenError> {
        if sealed.len() < HEADER + 16 || sealed[0] != VERSION {
            return Err(OpenError::Malformed);
        }
        let id = &sealed[1..5];
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id == id)
            .ok_or_else(|| OpenError::UnknownKey(hex(id)))?;
        let nonce = XNonce::from_slice(&sealed[5..HEADER]);
        let plain = key
            .cipher
            .decrypt(
                nonce,
                Payload {
                    msg: &sealed[HEADER..],
                    aad: field.as_bytes(),
                },
            )
            .map_err(|_| OpenError::Forged)?;
        String::from_utf8(plain).map_err(|_| OpenError::Malformed)
    }

    /// Whether a value was sealed with a key other than the current one (for re-sealing).
    pub fn needs_reseal(&self, sealed: &[u8]) -> bool {
        sealed.get(1..5).is_some_and(|id| id != self.current.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    const K2: &str = "1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100";

    #[test]
    fn seals_and_opens() {
        let k = Keyring::from_hex(K1, &[]).expect("key");
        let a = k.seal("name", "Ada Lovelace");
        let b = k.seal("name", "Ada Lovelace");
        assert_ne!(a, b, "fresh nonce each time");
        assert_eq!(k.open("name", &a).as_deref(), Ok("Ada Lovelace"));
        assert!(
            !a.windows(3).any(|w| w == b"Ada"),
            "no plaintext in the sealed bytes"
        );
    }

    #[test]
    fn tampering_or_another_field_fails() {
        let k = Keyring::from_hex(K1, &[]).expect("key");
        let mut a = k.seal("email", "a@b.c");
        assert_eq!(k.open("name", &a), Err(OpenError::Forged));
        let last = a.len() - 1;
        a[last] ^= 1;
        assert_eq!(k.open("email", &a), Err(OpenError::Forged));
        assert_eq!(k.open("email", b"short"), Err(OpenError::Malformed));
    }

    #[test]
    fn rotation_keeps_old_values_readable() {
        let old = Keyring::from_hex(K1, &[]).expect("key");
        let sealed = old.seal("message", "hello");
        let rotated = Keyring::from_hex(K2, &[K1]).expect("keys");
        assert_eq!(rotated.open("message", &sealed).as_deref(), Ok("hello"));
        assert!(rotated.needs_reseal(&sealed));
        let only_new = Keyring::from_hex(K2, &[]).expect("key");
        assert!(matches!(
            only_new.open("message", &sealed),
            Err(OpenError::UnknownKey(_))
        ));
    }
}
