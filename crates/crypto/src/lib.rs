//! Keys and what is done with them: sealing personal fields, signing tokens and links, the hex
//! spelling of both, and randomness.
//!
//! A crate of its own so that the compiler keeps it the only place that touches key material:
//! the store seals and opens through [`Keyring`], and the web layer signs through [`Signer`]s it
//! is handed, never seeing a key's bytes. Where a key is kept (the environment, a key file,
//! `data.key`) is the store's business: this crate reads no environment and no file.
//!
//! It must never know of a database, the web, templates or mail, nor touch the file system:
//! it depends on cipher, MAC and randomness crates alone, and the layers above depend on it.

pub mod hex;
mod keys;
pub mod random;
mod seal;
mod sign;

pub use keys::{Keyring, generate_key_hex};
pub use seal::{Binding, FIELD_BOUND, OpenError, RowKey, SealedField};
pub use sign::{Signer, TAG_LEN};

/// Whether `a` and `b` are the same bytes, compared in constant time (for tokens, tags, codes
/// and secrets a client supplies). Lengths are not secret.
pub fn equal(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}
