//! Sealing: personal data is sealed before it is stored and opened only to be shown to the
//! clinician or exported by them.
//!
//! Each personal value is sealed on its own with XChaCha20-Poly1305 (random 192-bit nonce) under
//! the practice's data key. A sealed value is `version | key id (4) | nonce (24) | ciphertext and
//! tag`; the key id is the first four bytes of the key's SHA-256, so after a rotation old values
//! are still opened with the old key while new ones use the new key. A value that fails
//! authentication is an error, never shown as data.
//!
//! What a value is bound to (its associated data) is where it belongs, a [`Binding`]: the table,
//! the column and the row it is stored in. A sealed name copied into another request, into
//! another column or into another table does not open there: it fails as [`OpenError::Forged`].
//! The row is named by a key the row carries from before its insert to its deletion, so a value
//! can be sealed before the row exists (requests are written many to a statement, and their ids
//! are only known afterwards): see `store/fields.rs` for which key each table uses. Values kept
//! outside the database (the thank-you page's token, a two-factor secret being enrolled) are
//! bound to their purpose, so they cannot stand in for stored ones or each other.
//!
//! Format 2 carries that binding. Format 1, written before it, bound only the field's name;
//! such values still open (with the name each [`SealedField`] remembers), and
//! [`Keyring::needs_reseal`] reports them, so `kap-practice keys reseal` seals them again as
//! format 2. While format 1 is read, a format-1 value (from an old backup, say) put into another
//! row of the same column still opens there; the server's warning at start and `keys reseal`
//! keep the time values are stored that way short.

use chacha20poly1305::aead::{Aead, AeadCore, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use super::Keyring;
use super::hex::hex;

/// Format 1: bound to the field's name only. Opened, never written. A sealed value's first
/// byte is its format, so the store can find these without opening them.
pub const FIELD_BOUND: u8 = 1;
/// Format 2: bound to the table, column and row.
const ROW_BOUND: u8 = 2;
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

/// A kind of sealed value: the table and column it is stored in, or for a value kept outside
/// the database, its purpose. Also remembers the name format-1 values were sealed under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SealedField {
    /// Empty for a value kept outside the database.
    table: &'static str,
    /// The column, or the purpose of a value kept outside the database.
    column: &'static str,
    /// The field name format-1 values were bound to; also the name errors give.
    name: &'static str,
}

impl SealedField {
    /// Values stored in `table`.`column`, sealed as `name` before rows were bound.
    pub const fn stored(table: &'static str, column: &'static str, name: &'static str) -> Self {
        SealedField {
            table,
            column,
            name,
        }
    }

    /// Values kept outside the database for `purpose` (a link, a session), sealed as `purpose`
    /// before rows were bound.
    pub const fn kept(purpose: &'static str) -> Self {
        SealedField {
            table: "",
            column: purpose,
            name: purpose,
        }
    }

    /// The field's name, for messages.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// The table the values are stored in (empty for values kept outside the database).
    pub const fn table(&self) -> &'static str {
        self.table
    }

    /// The column the values are stored in (the purpose, for values kept outside).
    pub const fn column(&self) -> &'static str {
        self.column
    }

    /// The value of this field in the row whose key is `row`.
    pub fn of<'a>(self, row: impl Into<RowKey<'a>>) -> Binding<'a> {
        Binding {
            field: self,
            row: row.into(),
        }
    }

    /// The one value of this field where there is no row (a value kept outside the database).
    pub fn alone(self) -> Binding<'static> {
        self.of(RowKey::None)
    }
}

/// The key of the row a value belongs to: fixed for the row's life and never given to another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowKey<'a> {
    /// A row id (ids are never used twice).
    Id(i64),
    /// A textual key: a session id, a setting's name, a request's link secret.
    Text(&'a str),
    /// No row: the value stands alone.
    None,
}

impl From<i64> for RowKey<'_> {
    fn from(id: i64) -> Self {
        RowKey::Id(id)
    }
}

impl<'a> From<&'a str> for RowKey<'a> {
    fn from(key: &'a str) -> Self {
        RowKey::Text(key)
    }
}

/// Where one sealed value belongs: its field and its row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Binding<'a> {
    field: SealedField,
    row: RowKey<'a>,
}

impl Binding<'_> {
    /// The associated data of a format-2 value: each part length-prefixed, so no two bindings
    /// share one.
    fn associated_data(&self) -> Vec<u8> {
        let (tag, key): (u8, std::borrow::Cow<'_, [u8]>) = match self.row {
            RowKey::Id(id) => (b'i', id.to_be_bytes().to_vec().into()),
            RowKey::Text(s) => (b't', s.as_bytes().into()),
            RowKey::None => (b'n', (&[][..]).into()),
        };
        let mut aad = Vec::with_capacity(16 + self.field.table.len() + self.field.column.len());
        aad.push(ROW_BOUND);
        for part in [self.field.table.as_bytes(), self.field.column.as_bytes()] {
            aad.extend_from_slice(&len(part));
            aad.extend_from_slice(part);
        }
        aad.push(tag);
        aad.extend_from_slice(&len(&key));
        aad.extend_from_slice(&key);
        aad
    }
}

/// A part's length, as four bytes (parts are names and keys: far below 4 GiB).
fn len(part: &[u8]) -> [u8; 4] {
    u32::try_from(part.len()).unwrap_or(u32::MAX).to_be_bytes()
}

impl Keyring {
    /// Seals `plaintext` for the place `at`.
    pub fn seal(&self, at: Binding<'_>, plaintext: &str) -> Vec<u8> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let aad = at.associated_data();
        let payload = Payload {
            msg: plaintext.as_bytes(),
            aad: &aad,
        };
        // Encryption into a Vec only fails on absurd lengths (more than 256 GiB).
        let ciphertext = self
            .current
            .cipher
            .encrypt(&nonce, payload)
            .unwrap_or_default();
        let mut out = Vec::with_capacity(HEADER + ciphertext.len());
        out.push(ROW_BOUND);
        out.extend_from_slice(&self.current.id);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        out
    }

    /// Opens a value sealed for the place `at`; a value sealed for any other place is
    /// [`OpenError::Forged`]. Format-1 values open by their field's name alone.
    pub fn open(&self, at: Binding<'_>, sealed: &[u8]) -> Result<String, OpenError> {
        if sealed.len() < HEADER + 16 {
            return Err(OpenError::Malformed);
        }
        let aad = match sealed[0] {
            FIELD_BOUND => at.field.name.as_bytes().to_vec(),
            ROW_BOUND => at.associated_data(),
            _ => return Err(OpenError::Malformed),
        };
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
                    aad: &aad,
                },
            )
            .map_err(|_| OpenError::Forged)?;
        String::from_utf8(plain).map_err(|_| OpenError::Malformed)
    }

    /// Whether a value should be sealed again: it was sealed with a key other than the current
    /// one, or in format 1 (not bound to its row).
    pub fn needs_reseal(&self, sealed: &[u8]) -> bool {
        sealed.first() != Some(&ROW_BOUND)
            || sealed.get(1..5).is_some_and(|id| id != self.current.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    const K2: &str = "1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100";

    const NAME: SealedField = SealedField::stored("consultation_requests", "name_sealed", "name");
    const EMAIL: SealedField =
        SealedField::stored("consultation_requests", "email_sealed", "email");
    const NOTE: SealedField = SealedField::stored("request_notes", "body_sealed", "note");
    const RECIPIENT: SealedField = SealedField::stored("outbox", "recipient_sealed", "recipient");

    /// A value as format 1 wrote it: bound to the field's name only.
    fn sealed_v1(k: &Keyring, name: &str, plaintext: &str) -> Vec<u8> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let ciphertext = k
            .current
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: name.as_bytes(),
                },
            )
            .expect("encrypt");
        let mut out = vec![FIELD_BOUND];
        out.extend_from_slice(&k.current.id);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        out
    }

    #[test]
    fn seals_and_opens() {
        let k = Keyring::from_hex(K1, &[]).expect("key");
        let a = k.seal(NAME.of("row-a"), "Ada Lovelace");
        let b = k.seal(NAME.of("row-a"), "Ada Lovelace");
        assert_ne!(a, b, "fresh nonce each time");
        assert_eq!(a[0], ROW_BOUND);
        assert_eq!(k.open(NAME.of("row-a"), &a).as_deref(), Ok("Ada Lovelace"));
        assert!(!k.needs_reseal(&a));
        assert!(
            !a.windows(3).any(|w| w == b"Ada"),
            "no plaintext in the sealed bytes"
        );
    }

    #[test]
    fn another_row_column_or_table_fails() {
        let k = Keyring::from_hex(K1, &[]).expect("key");
        let a = k.seal(EMAIL.of("row-a"), "a@b.c");
        assert_eq!(k.open(EMAIL.of("row-b"), &a), Err(OpenError::Forged));
        assert_eq!(k.open(NAME.of("row-a"), &a), Err(OpenError::Forged));
        assert_eq!(k.open(RECIPIENT.of("row-a"), &a), Err(OpenError::Forged));
        assert_eq!(k.open(EMAIL.of(7), &a), Err(OpenError::Forged));
        assert_eq!(k.open(EMAIL.alone(), &a), Err(OpenError::Forged));

        let n = k.seal(NOTE.of(7), "a note");
        assert_eq!(k.open(NOTE.of(8), &n), Err(OpenError::Forged));
        assert_eq!(
            k.open(NOTE.of("7"), &n),
            Err(OpenError::Forged),
            "id 7 is not text 7"
        );
        assert_eq!(k.open(NOTE.of(7), &n).as_deref(), Ok("a note"));

        let thanks = SealedField::kept("thanks");
        let t = k.seal(thanks.alone(), "0:1:2:x");
        assert_eq!(
            k.open(SealedField::kept("enrol_secret").alone(), &t),
            Err(OpenError::Forged)
        );
        assert_eq!(k.open(thanks.alone(), &t).as_deref(), Ok("0:1:2:x"));
    }

    #[test]
    fn tampering_fails() {
        let k = Keyring::from_hex(K1, &[]).expect("key");
        let mut a = k.seal(EMAIL.of(1), "a@b.c");
        let last = a.len() - 1;
        a[last] ^= 1;
        assert_eq!(k.open(EMAIL.of(1), &a), Err(OpenError::Forged));
        assert_eq!(k.open(EMAIL.of(1), b"short"), Err(OpenError::Malformed));
        let mut v = k.seal(EMAIL.of(1), "a@b.c");
        v[0] = 9;
        assert_eq!(k.open(EMAIL.of(1), &v), Err(OpenError::Malformed));
        v[0] = FIELD_BOUND;
        assert_eq!(
            k.open(EMAIL.of(1), &v),
            Err(OpenError::Forged),
            "a format-2 value relabelled as format 1 does not open"
        );
    }

    #[test]
    fn format_1_values_still_open_and_need_resealing() {
        let k = Keyring::from_hex(K1, &[]).expect("key");
        let old = sealed_v1(&k, "name", "Ada Lovelace");
        assert_eq!(
            k.open(NAME.of("any row"), &old).as_deref(),
            Ok("Ada Lovelace")
        );
        assert_eq!(k.open(EMAIL.of("any row"), &old), Err(OpenError::Forged));
        assert!(k.needs_reseal(&old), "format 1 is sealed again");
        let fresh = k.seal(NAME.of("row-a"), "Ada Lovelace");
        assert!(!k.needs_reseal(&fresh));
    }

    #[test]
    fn rotation_keeps_old_values_readable() {
        let old = Keyring::from_hex(K1, &[]).expect("key");
        let sealed = old.seal(NOTE.of(3), "hello");
        let rotated = Keyring::from_hex(K2, &[K1]).expect("keys");
        assert_eq!(rotated.open(NOTE.of(3), &sealed).as_deref(), Ok("hello"));
        assert!(rotated.needs_reseal(&sealed));
        let only_new = Keyring::from_hex(K2, &[]).expect("key");
        assert!(matches!(
            only_new.open(NOTE.of(3), &sealed),
            Err(OpenError::UnknownKey(_))
        ));
    }
}
