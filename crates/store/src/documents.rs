//! The practice's documents sent to a person to sign: packets, the text of each document as
//! sent, and each signature.
//!
//! A document's text is filled in when the packet is sent (the newest published revision, with
//! the practice's fields and, for the release, the prescriber's) and sealed, bound to its row:
//! what the person reads and signs is that text, whatever the clinician edits afterwards. A
//! signature is written once, in one sealed value bound to the row (the name typed, the role,
//! the SHA-256 of the text as read in the signing transaction, and the consent to sign
//! electronically it was given under); the store signs only unsigned rows and never rewrites a
//! signature. Only a signed release can be revoked, once. The person's steps (opened, signed,
//! revoked) go into the request's history; the clinician's sending into the audit log, which
//! names the request only. Rows go with their request, by the database's `ON DELETE CASCADE`.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::engine::{Columns, claim, on_db, record};
use super::fields::{DOCUMENT_TEXT, SIGNATURE, seal_in_row};
use super::inbox::{commit_audited, write_history};
use super::{Store, StoreError, ms};
use crate::audit;
use practice::mail::MailKind;

/// Who signed: the person, or a parent or legal guardian for a person under 18.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignerRole {
    Person,
    ParentOrGuardian,
}

impl SignerRole {
    pub fn label(self) -> &'static str {
        match self {
            SignerRole::Person => "The person",
            SignerRole::ParentOrGuardian => "Parent or legal guardian, for a person under 18",
        }
    }
}

/// What is kept of a signature (sealed).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// The full name the signer typed.
    pub name: String,
    pub role: SignerRole,
    /// The SHA-256 of the text signed, in hex.
    pub sha256: String,
    /// The SHA-256 of the consent to sign electronically the signature was given under, in hex
    /// (the consent itself: none).
    pub esign_sha256: Option<String>,
    /// With the telehealth consent: where the person said they will be during sessions (a
    /// state's code, or `outside-us`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

practice::debug_shows!(Signature { role });

/// One document of a packet, opened.
#[derive(Clone)]
pub struct PacketDocument {
    pub id: i64,
    pub packet_id: i64,
    /// Its path inside `content/` (`documents/40-prescriber-release.md`).
    pub document: String,
    /// The published revision its text was filled in from.
    pub revision_id: i64,
    /// The exact text as sent.
    pub text: String,
    pub signed_at: Option<Timestamp>,
    pub signature: Option<Signature>,
    pub revoked_at: Option<Timestamp>,
}

practice::debug_shows!(PacketDocument as d {
    id,
    document,
    signed: d.signed_at.is_some(),
});

/// A packet sent to a request's person.
#[derive(Clone, Debug)]
pub struct Packet {
    pub id: i64,
    pub request_id: i64,
    pub sent_at: Timestamp,
    pub sent_by: String,
    pub opened_at: Option<Timestamp>,
    pub reminded_at: Option<Timestamp>,
    pub documents: Vec<PacketDocument>,
}

/// A document to send: its path, the revision and the text filled in from it.
#[derive(Clone)]
pub struct NewPacketDocument {
    pub document: String,
    pub revision_id: i64,
    pub text: String,
}

/// What a request's link to its documents may do.
#[derive(Clone, Debug)]
pub struct DocumentsLink {
    pub link_secret: String,
    pub closed: bool,
    pub minor: bool,
}

/// The SHA-256 of `text`, in hex: what a signature and its PDF name the text by.
pub fn sha256(text: &str) -> String {
    crypto::hex::hex(&Sha256::digest(text.as_bytes()))
}

/// The documents of packets, with their packet to filter on (`p`).
const DOCUMENT_ROWS: &str = "SELECT d.id, d.packet_id, d.document, d.revision_id, d.text_sealed,
        d.signed_at, d.signature_sealed, d.revoked_at
     FROM packet_documents d JOIN document_packets p ON p.id = d.packet_id";

/// The sealed email address of request `$request_id` and its link secret, read on `$tx`;
/// none if the request is gone.
macro_rules! person_of {
    ($tx:ident, $request_id:expr) => {
        sqlx::query_as::<_, (Vec<u8>, String)>(
            "SELECT email_sealed, link_secret FROM consultation_requests WHERE id = $1",
        )
        .bind($request_id)
        .fetch_optional(&mut *$tx)
    };
}
pub(crate) use person_of;

/// Queues the email `$kind` about request `$request_id` on `$tx` to the person, whose address
/// is `$email` as sealed with the request (bound to its link secret `$link_secret`).
macro_rules! queue_to_person {
    ($store:ident, $tx:ident, $kind:expr, $request_id:expr, $link_secret:expr, $email:expr, $now:expr) => {{
        let link_secret: &str = $link_secret;
        let recipient = $store.recipient_of(link_secret, &$email)?;
        $crate::outbox::queue_mail!($tx, $kind, $request_id, recipient, $now).await?;
    }};
}

impl Store {
    fn packet_document(&self, row: &impl Columns) -> Result<PacketDocument, StoreError> {
        let id: i64 = row.col("id")?;
        let text = self.unseal_present(DOCUMENT_TEXT, id, row.col("text_sealed")?)?;
        let signature: Option<Vec<u8>> = row.col("signature_sealed")?;
        let signature = signature
            .map(|s| self.unseal_json(SIGNATURE, id, &s))
            .transpose()?;
        record!(row => PacketDocument {
            packet_id, document, revision_id, signed_at: time_opt, revoked_at: time_opt
        } and { id, text, signature })
    }

    /// What the documents link of request `request_id` may do: its secret, whether the request
    /// is closed, whether it is for a person under 18. `None` when the request is gone or spam.
    pub async fn documents_link(
        &self,
        request_id: i64,
    ) -> Result<Option<DocumentsLink>, StoreError> {
        let row: Option<(String, String, String)> = on_db!(&self.db, pool => {
            sqlx::query_as(
                "SELECT link_secret, status, age_group FROM consultation_requests
                 WHERE id = $1 AND spam = FALSE",
            )
            .bind(request_id)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(|(link_secret, status, age)| DocumentsLink {
            link_secret,
            closed: status == practice::status::Status::Closed.as_str(),
            minor: age == "minor",
        }))
    }

    /// Sends `documents` to request `request_id`'s person as one packet: the texts sealed, the
    /// email with the link queued, a line in the history and the audit log, in one
    /// transaction. `None` if the request is gone.
    pub async fn send_packet(
        &self,
        request_id: i64,
        documents: &[NewPacketDocument],
        actor: &str,
        now: Timestamp,
    ) -> Result<Option<i64>, StoreError> {
        on_db!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            let Some((email, link_secret)) = person_of!(tx, request_id).await? else {
                return Ok(None);
            };
            let packet: i64 = sqlx::query_scalar(
                "INSERT INTO document_packets (request_id, sent_at, sent_by) VALUES ($1, $2, $3)
                 RETURNING id",
            )
            .bind(request_id)
            .bind(ms(now))
            .bind(actor)
            .fetch_one(&mut *tx)
            .await?;
            for d in documents {
                // The text is sealed for its own row, whose id the insert gives.
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO packet_documents (packet_id, document, revision_id)
                     VALUES ($1, $2, $3) RETURNING id",
                )
                .bind(packet)
                .bind(&d.document)
                .bind(d.revision_id)
                .fetch_one(&mut *tx)
                .await?;
                seal_in_row!(self, tx, DOCUMENT_TEXT, id, &d.text).await?;
            }
            queue_to_person!(self, tx, MailKind::DocumentsLink, request_id, &link_secret, email, now);
            let detail = format!("{} sent to sign", documents.len());
            write_history!(tx, request_id, actor, "documents", Some(detail.as_str()), now).await?;
            let audit = audit::Entry::new(actor, audit::Action::DocumentsSent).request(request_id);
            commit_audited!(tx, &audit, now).await?;
            Ok(Some(packet))
        })
    }

    /// Every packet of request `request_id` with its documents, newest first.
    pub async fn packets(&self, request_id: i64) -> Result<Vec<Packet>, StoreError> {
        let docs = self
            .read_all(
                &format!("{DOCUMENT_ROWS} WHERE p.request_id = $1 ORDER BY d.id"),
                &[request_id.into()],
                |r| self.packet_document(r),
            )
            .await?;
        self.read_all(
            "SELECT id, request_id, sent_at, sent_by, opened_at, reminded_at
             FROM document_packets WHERE request_id = $1 ORDER BY id DESC",
            &[request_id.into()],
            |r| {
                let id: i64 = r.col("id")?;
                let documents = docs.iter().filter(|d| d.packet_id == id).cloned().collect();
                record!(r => Packet {
                    request_id, sent_at: time, sent_by, opened_at: time_opt, reminded_at: time_opt
                } and { id, documents })
            },
        )
        .await
    }

    /// Queues the one reminder of each packet sent at or before `sent_by` with a document still
    /// unsigned, the request's newest and the request open: once per packet, however many
    /// servers look, with a line in the request's history. Returns how many were queued.
    pub async fn queue_documents_reminders(
        &self,
        sent_by: Timestamp,
        now: Timestamp,
    ) -> Result<usize, StoreError> {
        on_db!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            let due: Vec<(i64, i64, Vec<u8>, String)> = sqlx::query_as(
                "SELECT p.id, p.request_id, r.email_sealed, r.link_secret
                 FROM document_packets p JOIN consultation_requests r ON r.id = p.request_id
                 WHERE p.reminded_at IS NULL AND p.sent_at <= $1 AND r.status <> 'closed'
                   AND p.id = (SELECT MAX(n.id) FROM document_packets n WHERE n.request_id = p.request_id)
                   AND EXISTS (SELECT 1 FROM packet_documents d
                               WHERE d.packet_id = p.id AND d.signed_at IS NULL)
                 ORDER BY p.id",
            )
            .bind(ms(sent_by))
            .fetch_all(&mut *tx)
            .await?;
            let mut queued = 0;
            for (packet, request_id, email, link_secret) in due {
                let sql = "UPDATE document_packets SET reminded_at = $1
                           WHERE id = $2 AND reminded_at IS NULL";
                if !claim!(tx, sql, now, packet).await? {
                    continue;
                }
                queue_to_person!(
                    self,
                    tx,
                    MailKind::DocumentsReminder,
                    request_id,
                    &link_secret,
                    email,
                    now
                );
                write_history!(tx, request_id, "system", "documents", Some("reminder sent"), now)
                    .await?;
                queued += 1;
            }
            tx.commit().await?;
            Ok(queued)
        })
    }

    /// The person opened packet `packet_id` of request `request_id`: noted the first time, with
    /// a line in the history.
    pub async fn packet_opened(
        &self,
        request_id: i64,
        packet_id: i64,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        on_db!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            let n = sqlx::query(
                "UPDATE document_packets SET opened_at = $1
                 WHERE id = $2 AND request_id = $3 AND opened_at IS NULL",
            )
            .bind(ms(now))
            .bind(packet_id)
            .bind(request_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n > 0 {
                write_history!(tx, request_id, "person", "documents", Some("opened"), now).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Signs documents `ids` of packet `packet_id` (of request `request_id`) as `name` in
    /// `role`, under the packet's consent to sign electronically (`esign`, one of `ids` or
    /// already signed); the telehealth consent (`location.0`) with where the person will be
    /// during sessions (`location.1`). Each signature holds the SHA-256 of the text as stored, read in this
    /// transaction. Documents already signed are left as they are. Returns how many were signed.
    #[allow(clippy::too_many_arguments)]
    pub async fn sign_documents(
        &self,
        request_id: i64,
        packet_id: i64,
        ids: &[i64],
        esign: i64,
        name: &str,
        role: SignerRole,
        location: Option<(i64, &str)>,
        now: Timestamp,
    ) -> Result<usize, StoreError> {
        on_db!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            let rows = sqlx::query(
                &format!("{DOCUMENT_ROWS} WHERE d.packet_id = $1 AND p.request_id = $2 ORDER BY d.id"),
            )
            .bind(packet_id)
            .bind(request_id)
            .fetch_all(&mut *tx)
            .await?;
            let docs = rows
                .iter()
                .map(|r| self.packet_document(r))
                .collect::<Result<Vec<_>, _>>()?;
            let Some(consent) = docs.iter().find(|d| d.id == esign) else {
                return Ok(0);
            };
            let esign_sha256 = sha256(&consent.text);
            let mut signed = 0;
            for d in docs.iter().filter(|d| ids.contains(&d.id) && d.signed_at.is_none()) {
                let signature = Signature {
                    name: name.to_string(),
                    role,
                    sha256: sha256(&d.text),
                    esign_sha256: (d.id != esign).then(|| esign_sha256.clone()),
                    location: location
                        .filter(|(id, _)| *id == d.id)
                        .map(|(_, l)| l.to_string()),
                };
                signed += sqlx::query(
                    "UPDATE packet_documents SET signed_at = $1, signature_sealed = $2
                     WHERE id = $3 AND signed_at IS NULL",
                )
                .bind(ms(now))
                .bind(self.seal_json(SIGNATURE, d.id, &signature)?)
                .bind(d.id)
                .execute(&mut *tx)
                .await?
                .rows_affected() as usize;
            }
            if signed > 0 {
                let detail = format!("{signed} signed");
                write_history!(tx, request_id, "person", "documents", Some(detail.as_str()), now)
                    .await?;
            }
            tx.commit().await?;
            Ok(signed)
        })
    }

    /// Revokes signed document `id` of request `request_id` (the person did, in writing, on
    /// their page), with a line in the history. False if it is not signed or already revoked.
    pub async fn revoke_document(
        &self,
        request_id: i64,
        id: i64,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        on_db!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            let n = sqlx::query(
                "UPDATE packet_documents SET revoked_at = $1
                 WHERE id = $2 AND signed_at IS NOT NULL AND revoked_at IS NULL
                   AND packet_id IN (SELECT id FROM document_packets WHERE request_id = $3)",
            )
            .bind(ms(now))
            .bind(id)
            .bind(request_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n > 0 {
                write_history!(tx, request_id, "person", "documents", Some("authorization revoked"), now)
                    .await?;
            }
            tx.commit().await?;
            Ok(n > 0)
        })
    }
}
