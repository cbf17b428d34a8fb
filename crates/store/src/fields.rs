//! Where every sealed value the store writes belongs: one [`SealedField`] per sealed column, so
//! sealing, opening and re-sealing name the same binding.
//!
//! A value is bound to its table, its column and its row (see `crypto/seal.rs`). The row is
//! named by a key that is known before the row is written and never changes or passes to another
//! row:
//!
//! - A consultation request, and the mail about it, by the request's link secret: 128 random
//!   bits drawn for the request before its insert (requests are written many to a statement, so
//!   their ids come only afterwards) and never changed. Mail is always to the request's person,
//!   and its rows are written in the same statements, so it is bound to the request it is about.
//! - A note, a booking change, a questionnaire and an account by their ids, which are never used twice: a note's
//!   and a change's value is sealed once the insert has given the id, in the same transaction.
//! - A session by its id, a setting by its key.

use crypto::{RowKey, SealedField};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::StoreError;

const fn request(column: &'static str, name: &'static str) -> SealedField {
    SealedField::stored("consultation_requests", column, name)
}

pub(super) const NAME: SealedField = request("name_sealed", "name");
pub(super) const EMAIL: SealedField = request("email_sealed", "email");
pub(super) const PHONE: SealedField = request("phone_sealed", "phone");
pub(super) const MESSAGE: SealedField = request("message_sealed", "message");
pub(super) const REFERRAL_SOURCE: SealedField =
    request("referral_source_sealed", "referral_source");
/// Bound to the request the mail is about, by its link secret.
pub(super) const RECIPIENT: SealedField =
    SealedField::stored("outbox", "recipient_sealed", "recipient");
pub(super) const NOTE: SealedField = SealedField::stored("request_notes", "body_sealed", "note");
pub(super) const BOOKING_MESSAGE: SealedField =
    SealedField::stored("booking_changes", "message_sealed", "booking_message");
pub(super) const TOTP_SECRET: SealedField =
    SealedField::stored("admin_accounts", "totp_secret_sealed", "totp_secret");
/// Everything a person answered in one questionnaire, bound to the questionnaire's id.
pub(super) const QUESTIONNAIRE_ANSWERS: SealedField =
    SealedField::stored("questionnaires", "answers_sealed", "questionnaire_answers");
/// The note written with an event of a request's history (a follow-up), bound to the row's id.
pub(super) const HISTORY_NOTE: SealedField =
    SealedField::stored("request_history", "note_sealed", "history_note");
/// The exact text of a document as sent to be signed, bound to its row's id.
pub(super) const DOCUMENT_TEXT: SealedField =
    SealedField::stored("packet_documents", "text_sealed", "document_text");
/// A signature (the name typed, the role, the hashes), bound to its document's row id.
pub(super) const SIGNATURE: SealedField =
    SealedField::stored("packet_documents", "signature_sealed", "signature");
/// What a Good Faith Estimate says (the person's name and date of birth, the services, the
/// text as given), bound to its row's id.
pub(super) const ESTIMATE: SealedField = SealedField::stored(
    "good_faith_estimates",
    "estimate_sealed",
    "good_faith_estimate",
);
pub(super) const SESSION: SealedField =
    SealedField::stored("admin_sessions", "record_sealed", "session");

/// A setting's value; its row is the setting's key, and format-1 values were sealed under it.
pub(super) const fn setting(key: &'static str) -> SealedField {
    SealedField::stored("settings", "value", key)
}

/// Seals `$value` (text) as `$field` of row `$id` of the field's table, on `$conn`: for a value
/// bound to its own row, once the insert has given the id, in the same transaction.
macro_rules! seal_in_row {
    ($store:expr, $conn:ident, $field:expr, $id:expr, $value:expr) => {
        async {
            let field: ::crypto::SealedField = $field;
            let id: i64 = $id;
            let sql = format!(
                "UPDATE {} SET {} = $1 WHERE id = $2",
                field.table(),
                field.column()
            );
            sqlx::query(&sql)
                .bind($store.keys.seal(field.of(id), $value))
                .bind(id)
                .execute(&mut *$conn)
                .await
                .map(|_| ())
        }
    };
}
pub(super) use seal_in_row;

/// `value` as JSON text, to be kept in `column`.
pub(super) fn to_json(column: &'static str, value: &impl Serialize) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|_| StoreError::Unreadable {
        column,
        value: "(cannot be written as JSON)".into(),
    })
}

/// The JSON text kept in `column`, read as a `T`; text that is not one is an error that never
/// quotes it.
pub(super) fn from_json<T: DeserializeOwned>(
    column: &'static str,
    text: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|_| StoreError::Unreadable {
        column,
        value: "(not the JSON this version reads)".into(),
    })
}

impl super::Store {
    /// Opens `field`'s value in the row whose key is `row`; a value that does not open is an
    /// error that names the field (never the value).
    pub(super) fn unseal<'a>(
        &self,
        field: SealedField,
        row: impl Into<RowKey<'a>>,
        sealed: &[u8],
    ) -> Result<String, StoreError> {
        self.keys
            .open(field.of(row), sealed)
            .map_err(|source| StoreError::Sealed {
                field: field.name(),
                source,
            })
    }

    /// Opens `field`'s value in row `row`, a value every row has: an empty one is an error.
    pub(super) fn unseal_present<'a>(
        &self,
        field: SealedField,
        row: impl Into<RowKey<'a>>,
        sealed: Option<Vec<u8>>,
    ) -> Result<String, StoreError> {
        let sealed = sealed.ok_or_else(|| StoreError::Unreadable {
            column: field.column(),
            value: "(empty)".into(),
        })?;
        self.unseal(field, row, &sealed)
    }

    /// `value` as JSON, sealed as `field` of row `row`.
    pub(super) fn seal_json<'a>(
        &self,
        field: SealedField,
        row: impl Into<RowKey<'a>>,
        value: &impl Serialize,
    ) -> Result<Vec<u8>, StoreError> {
        Ok(self
            .keys
            .seal(field.of(row), &to_json(field.column(), value)?))
    }

    /// Opens `field`'s JSON value in row `row`, read as a `T`.
    pub(super) fn unseal_json<'a, T: DeserializeOwned>(
        &self,
        field: SealedField,
        row: impl Into<RowKey<'a>>,
        sealed: &[u8],
    ) -> Result<T, StoreError> {
        from_json(field.column(), &self.unseal(field, row, sealed)?)
    }

    /// The person's address on a request (sealed with the request's link secret), sealed again
    /// for an outbox row that writes to them.
    pub(super) fn recipient_of(
        &self,
        link_secret: &str,
        sealed_email: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        let email = self.unseal(EMAIL, link_secret, sealed_email)?;
        Ok(self.keys.seal(RECIPIENT.of(link_secret), &email))
    }
}
