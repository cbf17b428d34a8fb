//! Keys and what is done with them: sealing personal fields, signing tokens and links, and the
//! hex spelling of both. This is the only module that touches key material; the store seals and
//! opens through [`Keyring`], and the web layer signs through [`Signer`]s it is handed, never
//! seeing a key's bytes.

pub mod hex;
mod keys;
pub mod private;
pub mod random;
mod seal;
mod sign;

pub use keys::{KEY_FILE, KeyEnv, KeyError, KeySource, Keyring, generate_key_hex};
pub use seal::{Binding, FIELD_BOUND, OpenError, RowKey, SealedField};
pub use sign::{Signer, TAG_LEN};

/// Whether `a` and `b` are the same bytes, compared in constant time (for tokens, tags, codes
/// and secrets a client supplies). Lengths are not secret.
pub fn equal(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}
