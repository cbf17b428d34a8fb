//! The outbox: mail written in the same transaction as what caused it, claimed by workers.
//!
//! Any number of servers work the same outbox. A worker claims due rows by leasing them
//! (`claimed_until`) in one transaction; on PostgreSQL the rows are also locked with
//! `FOR UPDATE SKIP LOCKED`, so two workers never claim the same row — each takes what the
//! other left. A worker that dies mid-send loses its lease when it runs out, and the mail is
//! tried again: "at least once" to the SMTP server, and in practice exactly once, because a row
//! is marked sent as soon as the server accepted it.

use jiff::{SignedDuration, Timestamp};

use super::engine::{Columns, Db, on_db};
use super::fields::{BOOKING_MESSAGE, RECIPIENT};
use super::{OutboxCounts, Store, StoreError, from_ms, ms, parsed};
use practice::booking::BookingStatus;
use practice::mail::{BookingMail, Delivery, MailKind, OutboxStatus};
use practice::open_times::ConsultationFormat;

/// Queues the email `$kind` on `$conn`, due at `$now`: about the request `$request_id` (an id,
/// or `None` for mail about no request), to the sealed address `$recipient` (`None`: the
/// practice's notification address) and, where given, about the booking change `$change`.
macro_rules! queue_mail {
    ($conn:ident, $kind:expr, $request_id:expr, $recipient:expr, $now:expr) => {
        $crate::outbox::queue_mail!($conn, $kind, $request_id, $recipient, $now, None::<i64>)
    };
    ($conn:ident, $kind:expr, $request_id:expr, $recipient:expr, $now:expr, $change:expr) => {
        sqlx::query(
            "INSERT INTO outbox (kind, request_id, recipient_sealed, created_at, next_attempt_at, booking_change_id)
             VALUES ($1, $2, $3, $4, $4, $5)",
        )
        .bind($kind.as_str())
        .bind($request_id)
        .bind($recipient)
        .bind($crate::ms($now))
        .bind($change)
        .execute(&mut *$conn)
    };
}
pub(crate) use queue_mail;

const DUE: &str = "SELECT o.id, o.kind, o.recipient_sealed, o.attempts, o.permanent_failures,
        o.request_id, r.link_secret, r.reference, r.received_at, r.spam, r.outside_licensed_states, r.minor,
        r.location,
        c.booking_id, c.status AS booking_status, c.start_at AS booking_start,
        c.end_at AS booking_end, c.format AS booking_format, c.sequence AS booking_sequence,
        c.message_sealed AS booking_message, c.actor AS booking_actor, o.booking_change_id
 FROM outbox o LEFT JOIN consultation_requests r ON r.id = o.request_id
      LEFT JOIN booking_changes c ON c.id = o.booking_change_id
 WHERE o.status = $3 AND o.next_attempt_at <= $1
   AND (o.claimed_until IS NULL OR o.claimed_until <= $1)
 ORDER BY o.next_attempt_at, o.id
 LIMIT $2";

/// A due outbox row, leased to the worker that claimed it, with what it is about, opened. The
/// mail module makes the email of it.
#[derive(Clone)]
pub struct OutboxRow {
    pub id: i64,
    pub kind: MailKind,
    pub attempts: i64,
    pub permanent_failures: i64,
    pub recipient: Option<String>,
    /// The request the mail is about, if any (and while it exists).
    pub request_id: Option<i64>,
    /// The secret the request's booking links are bound to.
    pub link_secret: Option<String>,
    pub reference: Option<String>,
    pub received_at: Option<Timestamp>,
    pub spam: Option<bool>,
    pub outside_licensed_states: Option<bool>,
    pub minor: Option<bool>,
    /// The person said they will be outside the US: their crisis numbers are local ones.
    pub outside_us: bool,
    /// The change to a booking this mail is about.
    pub booking: Option<BookingMail>,
}

impl Store {
    /// Claims up to `limit` pieces of mail that are due, leasing them for `lease` so no other
    /// worker takes them meanwhile.
    pub async fn claim_due_mail(
        &self,
        now: Timestamp,
        lease: SignedDuration,
        limit: i64,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        let sql = match &self.db {
            Db::Sqlite(_) => DUE.to_string(),
            Db::Postgres(_) => format!("{DUE} FOR UPDATE OF o SKIP LOCKED"),
        };
        let until = ms(now.checked_add(lease).unwrap_or(now));
        on_db!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            let rows = sqlx::query(&sql)
                .bind(ms(now))
                .bind(limit)
                .bind(OutboxStatus::Pending.as_str())
                .fetch_all(&mut *tx)
                .await?;
            let mut claimed = Vec::with_capacity(rows.len());
            for row in rows {
                let id: i64 = row.col("id")?;
                sqlx::query("UPDATE outbox SET claimed_until = $1 WHERE id = $2")
                    .bind(until)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                // One unreadable row must not hold up the rest: it is logged and stays leased,
                // to be tried again when its lease runs out.
                match self.claimed(id, &row) {
                    Ok(mail) => claimed.push(mail),
                    Err(e) => tracing::error!(mail = id, error = %e, "a piece of mail cannot be read"),
                }
            }
            tx.commit().await?;
            Ok(claimed)
        })
    }

    fn claimed(&self, id: i64, row: &impl Columns) -> Result<OutboxRow, StoreError> {
        let kind = row.choice("kind", MailKind::parse)?;
        let recipient: Option<Vec<u8>> = row.col("recipient_sealed")?;
        // Mail is bound to the request it is about (see `fields.rs`).
        let link_secret: Option<String> = row.col("link_secret")?;
        let recipient = recipient
            .map(|v| self.unseal(RECIPIENT, link_secret.as_deref().unwrap_or(""), &v))
            .transpose()?;
        let booking_id: Option<i64> = row.col("booking_id")?;
        let booking = match booking_id {
            None => None,
            Some(booking_id) => {
                // The join finds the booking change the mail was written for (it is deleted
                // only with the mail), so these columns are present.
                let status: Option<String> = row.col("booking_status")?;
                let format: Option<String> = row.col("booking_format")?;
                let missing = |column| StoreError::Unreadable {
                    column,
                    value: "nothing".into(),
                };
                let message: Option<Vec<u8>> = row.col("booking_message")?;
                let change_id: Option<i64> = row.col("booking_change_id")?;
                let message = message
                    .map(|m| self.unseal(BOOKING_MESSAGE, change_id.unwrap_or(0), &m))
                    .transpose()?;
                Some(BookingMail {
                    booking_id,
                    status: parsed(
                        "booking status",
                        status.ok_or_else(|| missing("booking status"))?,
                        BookingStatus::parse,
                    )?,
                    start: from_ms(
                        "booking start",
                        row.col::<Option<i64>>("booking_start")?
                            .ok_or_else(|| missing("booking start"))?,
                    )?,
                    end: from_ms(
                        "booking end",
                        row.col::<Option<i64>>("booking_end")?
                            .ok_or_else(|| missing("booking end"))?,
                    )?,
                    format: parsed(
                        "booking format",
                        format.ok_or_else(|| missing("booking format"))?,
                        ConsultationFormat::parse,
                    )?,
                    sequence: row
                        .col::<Option<i64>>("booking_sequence")?
                        .ok_or_else(|| missing("booking sequence"))?,
                    message,
                    by_person: row.col::<Option<String>>("booking_actor")?.as_deref()
                        == Some(super::bookings::PERSON),
                })
            }
        };
        Ok(OutboxRow {
            id,
            kind,
            attempts: row.col("attempts")?,
            permanent_failures: row.col("permanent_failures")?,
            recipient,
            request_id: row.col("request_id")?,
            link_secret,
            reference: row.col("reference")?,
            received_at: row.time_opt("received_at")?,
            spam: row.col("spam")?,
            outside_licensed_states: row.col("outside_licensed_states")?,
            minor: row.col("minor")?,
            outside_us: row.col::<Option<String>>("location")?.as_deref()
                == Some(practice::consultation::OUTSIDE_US),
            booking,
        })
    }

    /// Records the outcome of one sending attempt; for mail to the practice, `sent_to` is the
    /// notice address it went to (kept with a sent mail, in the same write).
    pub async fn record_delivery(
        &self,
        id: i64,
        delivery: &Delivery,
        sent_to: Option<&str>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        on_db!(&self.db, pool => {
            let q = match delivery {
                Delivery::Sent => sqlx::query(
                    "UPDATE outbox SET status = $3, sent_at = $1, attempts = attempts + 1,
                     claimed_until = NULL, last_error = NULL, sent_to = $4 WHERE id = $2",
                )
                .bind(ms(now))
                .bind(id)
                .bind(OutboxStatus::Sent.as_str())
                .bind(sent_to),
                Delivery::Retry {
                    next_attempt_at,
                    permanent,
                    error,
                } => sqlx::query(
                    "UPDATE outbox SET attempts = attempts + 1, permanent_failures = permanent_failures + $1,
                     next_attempt_at = $2, claimed_until = NULL, last_error = $3 WHERE id = $4",
                )
                .bind(i64::from(*permanent))
                .bind(ms(*next_attempt_at))
                .bind(error.clone())
                .bind(id),
                Delivery::Failed { error } => sqlx::query(
                    "UPDATE outbox SET status = $3, attempts = attempts + 1,
                     permanent_failures = permanent_failures + 1, claimed_until = NULL, last_error = $1
                     WHERE id = $2",
                )
                .bind(error.clone())
                .bind(id)
                .bind(OutboxStatus::Failed.as_str()),
            };
            q.execute(pool).await?;
        });
        Ok(())
    }

    /// When the next pending mail is due, if any.
    pub async fn next_mail_due(&self) -> Result<Option<Timestamp>, StoreError> {
        let v: Option<i64> = on_db!(&self.db, pool => sqlx::query_scalar(
            "SELECT MIN(CASE WHEN claimed_until IS NOT NULL AND claimed_until > next_attempt_at
                             THEN claimed_until ELSE next_attempt_at END)
             FROM outbox WHERE status = $1",
        )
        .bind(OutboxStatus::Pending.as_str())
        .fetch_one(pool)
        .await?);
        v.map(|v| from_ms("next_attempt_at", v)).transpose()
    }

    /// How many pending mails a worker holds leased at `now`: mail being sent at that moment.
    pub async fn outbox_leased(&self, now: Timestamp) -> Result<i64, StoreError> {
        Ok(on_db!(&self.db, pool => sqlx::query_scalar(
            "SELECT COUNT(*) FROM outbox WHERE status = $1 AND claimed_until > $2",
        )
        .bind(OutboxStatus::Pending.as_str())
        .bind(ms(now))
        .fetch_one(pool)
        .await?))
    }

    /// Outbox rows by state.
    pub async fn outbox_counts(&self) -> Result<OutboxCounts, StoreError> {
        let counts = self
            .read_all(
                "SELECT status, COUNT(*) AS n FROM outbox GROUP BY status",
                &[],
                |r| Ok((r.choice("status", OutboxStatus::parse)?, r.col::<i64>("n")?)),
            )
            .await?;
        let mut c = OutboxCounts::default();
        for (status, n) in counts {
            match status {
                OutboxStatus::Pending => c.pending = n,
                OutboxStatus::Sent => c.sent = n,
                OutboxStatus::Failed => c.failed = n,
            }
        }
        Ok(c)
    }
}
