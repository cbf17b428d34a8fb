//! Signing: HMAC-SHA256 tags on tokens and links, written once for every kind of token.
//!
//! A [`Signer`] holds the keys of one purpose (derived from the data keys, see
//! [`super::Keyring::signer`]) and a label that is signed with every payload, so a tag made for
//! one kind of token never passes as another's. It signs with the first key and accepts a tag
//! from any of them, so links sent before a key rotation keep working while the old key is kept
//! in `KAP_DATA_KEYS_PREVIOUS`.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The length of a tag: the first 128 bits of the HMAC.
pub const TAG_LEN: usize = 16;

/// HMAC-SHA256 of the concatenated `parts` under `key`.
pub(super) fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC accepts a key of any length, so this cannot fail; an empty MAC would still never
    // match a genuine tag.
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(key) else {
        return [0; 32];
    };
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Signs and checks the tags of one kind of token.
#[derive(Clone)]
pub struct Signer {
    /// The current key first, then previous ones (checked, never signed with).
    keys: Vec<[u8; 32]>,
    label: &'static [u8],
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer({} keys, secrets redacted)", self.keys.len())
    }
}

impl Signer {
    /// A signer with one key, for tests and tools; servers get theirs from the keyring.
    pub fn new(key: [u8; 32], label: &'static str) -> Signer {
        Signer::with_keys(vec![key], label)
    }

    pub(super) fn with_keys(keys: Vec<[u8; 32]>, label: &'static str) -> Signer {
        Signer {
            keys,
            label: label.as_bytes(),
        }
    }

    fn tag_with(&self, key: &[u8; 32], payload: &[u8]) -> [u8; TAG_LEN] {
        let full = hmac(key, &[self.label, payload]);
        let mut out = [0u8; TAG_LEN];
        out.copy_from_slice(&full[..TAG_LEN]);
        out
    }

    /// The tag of `payload` under the current key.
    pub fn sign(&self, payload: &[u8]) -> [u8; TAG_LEN] {
        match self.keys.first() {
            Some(key) => self.tag_with(key, payload),
            None => [0; TAG_LEN],
        }
    }

    /// Whether `tag` is `payload`'s under any of the keys (compared in constant time).
    pub fn verify(&self, payload: &[u8], tag: &[u8]) -> bool {
        if tag.len() != TAG_LEN {
            return false;
        }
        self.keys.iter().fold(false, |found, key| {
            let expected = self.tag_with(key, payload);
            found | super::equal(tag, &expected)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_check_under_any_key_and_label() {
        let old = Signer::new([1; 32], "a:");
        let tag = old.sign(b"payload");
        assert!(old.verify(b"payload", &tag));
        assert!(!old.verify(b"payloaD", &tag));
        assert!(!old.verify(b"payload", &tag[..15]));
        assert!(!Signer::new([1; 32], "b:").verify(b"payload", &tag));
        assert!(!Signer::new([2; 32], "a:").verify(b"payload", &tag));
        let rotated = Signer::with_keys(vec![[2; 32], [1; 32]], "a:");
        assert!(rotated.verify(b"payload", &tag));
        assert_ne!(rotated.sign(b"payload"), tag, "signs with the current key");
    }
}
