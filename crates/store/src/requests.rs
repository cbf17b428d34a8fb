//! Consultation requests: storing what the form accepted, and reading it back opened.
//!
//! A request, its first history entry (written by a trigger) and its mail go in one transaction,
//! and the form's 303 waits for that transaction's commit (on SQLite an fsync of the WAL, with
//! `synchronous=FULL`): a request is acknowledged only once it is on disk.

use jiff::Timestamp;

use super::engine::{Columns, Db, on_db};
use super::fields::{EMAIL, MESSAGE, NAME, PHONE, RECIPIENT, REFERRAL_SOURCE};
use super::{
    Inserted, Store, StoreError, StoredRequest, Submission, ms, new_link_secret, new_reference,
    parsed,
};
use crypto::{OpenError, SealedField};
use practice::consultation::{AgeGroup, ContactMethod, Flags, ForWhom, Location, SpamReason};
use practice::status::{ClosedReason, Status};

/// The fields of a consultation request the store seals (encrypts) before writing, by the names
/// they are sealed under; each lives in the column `<name>_sealed`. The others (how the person
/// prefers to be contacted, where they will be, whether they are 18 or older) stay plain text
/// because the inbox sorts and flags requests by them. The privacy notice lists the encrypted
/// fields from this list, so what the site says is what the store does.
pub const SEALED_REQUEST_FIELDS: &[&str] =
    &["name", "email", "phone", "message", "referral_source"];

const INSERT_REQUEST: &str = "INSERT INTO consultation_requests
     (reference, received_at, spam, spam_reason, contact_method, location, age_group,
      for_whom, outside_licensed_states, minor, name_sealed, email_sealed, phone_sealed,
      message_sealed, referral_source_sealed, link_secret)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
     RETURNING id";

/// The mail queued with a request, every message in one statement: `$1` the request, `$2` the
/// time, then a kind and a sealed recipient per message.
fn insert_mail(messages: usize) -> String {
    let rows: Vec<String> = (0..messages)
        .map(|i| format!("(${}, $1, ${}, $2, $2)", 3 + 2 * i, 4 + 2 * i))
        .collect();
    format!(
        "INSERT INTO outbox (kind, request_id, recipient_sealed, created_at, next_attempt_at)
         VALUES {}",
        rows.join(", ")
    )
}

/// A request ready to store: personal fields already sealed.
struct SealedRequest {
    received_at: i64,
    spam_reason: Option<&'static str>,
    contact_method: &'static str,
    location: String,
    age_group: &'static str,
    for_whom: &'static str,
    flags: Flags,
    name: Vec<u8>,
    email: Vec<u8>,
    phone: Option<Vec<u8>>,
    message: Option<Vec<u8>>,
    referral_source: Option<Vec<u8>>,
    /// What every booking link of the request is bound to (see `auth/link.rs`).
    link_secret: String,
    /// The mail to queue with the request: its kind and, for mail to the person, the sealed
    /// recipient.
    mail: Vec<(&'static str, Option<Vec<u8>>)>,
}

/// Stores one request in its own transaction, drawing a new reference on the (one in a
/// trillion) collision.
///
/// The connection is the one serial part of taking a request on SQLite (one writer), so it is
/// held for as few statements as can be: a request with no mail is one `INSERT` (one statement
/// is its own transaction: the request and the history entry its trigger writes commit
/// together); with mail, `BEGIN`, the request, all its mail in one `INSERT`, `COMMIT`.
async fn insert(db: &Db, row: &SealedRequest) -> Result<Inserted, StoreError> {
    let mut attempt = 0;
    let mail_sql = (!row.mail.is_empty()).then(|| insert_mail(row.mail.len()));
    loop {
        let reference = new_reference();
        let outcome: Result<i64, sqlx::Error> = on_db!(db, pool => async {
            let request = sqlx::query_scalar(INSERT_REQUEST)
                .bind(&reference)
                .bind(row.received_at)
                .bind(row.spam_reason.is_some())
                .bind(row.spam_reason)
                .bind(row.contact_method)
                .bind(&row.location)
                .bind(row.age_group)
                .bind(row.for_whom)
                .bind(row.flags.outside_licensed_states)
                .bind(row.flags.minor)
                .bind(&row.name)
                .bind(&row.email)
                .bind(&row.phone)
                .bind(&row.message)
                .bind(&row.referral_source)
                .bind(&row.link_secret);
            let Some(mail_sql) = &mail_sql else {
                // Run to its end (`fetch_all`, not `fetch_one`): on its own the statement
                // commits as it finishes, and a commit that fails is reported only then; sqlx
                // stops a `fetch_one` at the first row and drops what the rest says.
                let ids: Vec<i64> = request.fetch_all(pool).await?;
                return ids.first().copied().ok_or(sqlx::Error::RowNotFound);
            };
            let mut tx = pool.begin().await?;
            let id: i64 = request.fetch_one(&mut *tx).await?;
            let mut mail = sqlx::query(mail_sql).bind(id).bind(row.received_at);
            for (kind, recipient) in &row.mail {
                mail = mail.bind(*kind).bind(recipient);
            }
            mail.execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(id)
        }
        .await);
        match outcome {
            Ok(id) => {
                return Ok(Inserted {
                    id,
                    reference,
                    link_secret: row.link_secret.clone(),
                });
            }
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() && attempt < 3 => attempt += 1,
            Err(e) => return Err(e.into()),
        }
    }
}

impl Store {
    /// Stores a request, its first history entry and its mail in one transaction; returns once
    /// the commit is durable.
    pub async fn insert(&self, s: &Submission<'_>, now: Timestamp) -> Result<Inserted, StoreError> {
        let row = self.seal(s, now)?;
        insert(&self.db, &row).await
    }

    fn seal(&self, s: &Submission<'_>, now: Timestamp) -> Result<SealedRequest, StoreError> {
        let r = s.request;
        let k = &self.keys;
        // Every value is bound to this request by its link secret, drawn before the insert.
        let link_secret = new_link_secret()?;
        let row = link_secret.as_str();
        let seal_opt =
            |field: SealedField, v: &Option<String>| v.as_ref().map(|v| k.seal(field.of(row), v));
        Ok(SealedRequest {
            received_at: ms(now),
            spam_reason: s.spam.map(|r| r.as_str()),
            contact_method: r.contact_method.as_str(),
            location: r.location.as_str().to_string(),
            age_group: r.age_group.as_str(),
            for_whom: r.for_whom.as_str(),
            flags: r.flags,
            name: k.seal(NAME.of(row), &r.name),
            email: k.seal(EMAIL.of(row), &r.email),
            phone: seal_opt(PHONE, &r.phone),
            message: seal_opt(MESSAGE, &r.message),
            referral_source: seal_opt(REFERRAL_SOURCE, &r.referral_source),
            mail: s
                .mail
                .iter()
                .map(|kind| {
                    let recipient = kind
                        .to_person()
                        .then(|| k.seal(RECIPIENT.of(row), &r.email));
                    (kind.as_str(), recipient)
                })
                .collect(),
            link_secret,
        })
    }

    /// Every request, oldest first, opened.
    pub async fn all_requests(&self) -> Result<Vec<StoredRequest>, StoreError> {
        self.read_all(
            "SELECT * FROM consultation_requests ORDER BY received_at, id",
            &[],
            |r| self.open_request(r),
        )
        .await
    }

    pub(super) fn open_request(&self, row: &impl Columns) -> Result<StoredRequest, StoreError> {
        let link_secret: String = row.col("link_secret")?;
        let open_opt = |field: SealedField| -> Result<Option<String>, StoreError> {
            let v: Option<Vec<u8>> = row.col(field.column())?;
            v.map(|v| self.unseal(field, link_secret.as_str(), &v))
                .transpose()
        };
        let open = |field: SealedField| -> Result<String, StoreError> {
            open_opt(field)?.ok_or(StoreError::Sealed {
                field: field.name(),
                source: OpenError::Malformed,
            })
        };
        let spam: bool = row.col("spam")?;
        // A request is in the spam folder with the reason it was put there.
        let spam = spam
            .then(|| row.choice("spam_reason", SpamReason::parse))
            .transpose()?;
        let closed_reason: Option<String> = row.col("closed_reason")?;
        Ok(StoredRequest {
            id: row.col("id")?,
            reference: row.col("reference")?,
            received_at: row.time("received_at")?,
            status: row.choice("status", Status::parse)?,
            closed_reason: closed_reason
                .map(|v| parsed("closed_reason", v, ClosedReason::parse))
                .transpose()?,
            spam,
            contact_method: row
                .choice("contact_method", ContactMethod::parse)
                .map_err(unshown)?,
            location: row.choice("location", Location::parse).map_err(unshown)?,
            age_group: row.choice("age_group", AgeGroup::parse).map_err(unshown)?,
            // Requests sent before the form asked whom they are for have none.
            for_whom: row
                .col::<Option<String>>("for_whom")?
                .map(|v| parsed("for_whom", v, ForWhom::parse))
                .transpose()
                .map_err(unshown)?,
            flags: Flags {
                outside_licensed_states: row.col("outside_licensed_states")?,
                minor: row.col("minor")?,
            },
            name: open(NAME)?,
            email: open(EMAIL)?,
            phone: open_opt(PHONE)?,
            message: open_opt(MESSAGE)?,
            referral_source: open_opt(REFERRAL_SOURCE)?,
        })
    }
}

/// The person's own answers (where they live, their age group, how to reach them) are not
/// sealed, since the inbox filters on them, but an unreadable one is still not written into an
/// error that reaches the log.
fn unshown(e: StoreError) -> StoreError {
    match e {
        StoreError::Unreadable { column, .. } => StoreError::Unreadable {
            column,
            value: "(a value not shown here)".into(),
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_unreadable_answer_of_the_person_is_not_quoted_in_the_error() {
        let e = super::unshown(super::StoreError::Unreadable {
            column: "location",
            value: "a place of the person's".into(),
        })
        .to_string();
        assert!(e.contains("location"), "{e}");
        assert!(!e.contains("a place of the person's"), "{e}");
    }

    /// The list the privacy notice reads is exactly the sealed columns the store writes.
    #[test]
    fn sealed_fields_are_the_sealed_columns_written() {
        let columns = super::INSERT_REQUEST
            .split(['(', ')', ',', ' ', '\n'])
            .filter_map(|c| c.strip_suffix("_sealed"))
            .collect::<Vec<_>>();
        assert_eq!(columns, super::SEALED_REQUEST_FIELDS);
    }
}
