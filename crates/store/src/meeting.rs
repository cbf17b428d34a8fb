//! The clinician's meeting details, the reminders before confirmed consultations, and the
//! clinician's daily agenda.
//!
//! Every server looks for reminders that are due; each reminder of one confirmation of a booking
//! (the booking change that confirmed it) is a row of `booking_reminders` under a unique key, and
//! only the server whose insert made the row queues the email, in the same transaction. So each
//! reminder is queued exactly once however many servers look, and the outbox then sends it once;
//! a booking confirmed again (after a move, or a cancellation and the same time chosen again)
//! has a new confirming change, so it is reminded again. A reminder's email is checked again
//! just before it leaves ([`Store::settle_reminder`]): a booking cancelled, declined or moved
//! since gets nothing, and a consultation that began while the mail server was unreachable gets
//! no late reminder; that one is recorded on the request's history instead (as a typed
//! [`ReminderNotSent`], worded by the inbox).

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use super::bookings::{BOOKING_COLUMNS, booking_row};
use super::engine::{Columns, on_db};
use super::inbox::{request_column, write_history};
use super::{Store, StoreError, StoredBooking, join_list, ms, split_list};
use crate::audit;
use practice::mail::MailKind;
use practice::meeting::{self, MeetingDetails, ReminderNotSent};

/// What becomes of a reminder about to leave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReminderFate {
    /// Send it: the consultation is still confirmed at that time, has not begun, and no nearer
    /// reminder has come due.
    Send {
        /// How long until the consultation begins, as the reminder leaves.
        time_left: SignedDuration,
    },
    /// Not sent: the booking changed, the consultation began, or a nearer reminder came due
    /// while this one waited; its outbox row is gone.
    Dropped,
}

/// A booking as read in the transaction that queues its reminder: status, start, when it last
/// changed, its last change (the one that confirmed it), and its request's sealed email and link
/// secret.
type CurrentBooking = (String, i64, i64, Option<i64>, Vec<u8>, String);

/// A queued reminder as read just before it leaves: its row, the start it was for, how long
/// before it, the request, the booking's status now, the change that confirmed it, and the
/// booking's last change.
type QueuedReminder = (i64, i64, i64, i64, String, i64, Option<i64>);

/// What kind of problem `e` is, in words that hold no stored value (for the log).
pub(super) fn unreadable(e: &StoreError) -> &'static str {
    match e {
        StoreError::Sealed { .. } => "a sealed field cannot be opened",
        StoreError::Unreadable { .. } => "a stored value cannot be read",
        _ => "the database failed",
    }
}

fn decode_reminders(text: &str) -> Option<Vec<i64>> {
    split_list(text, |m| m.parse::<i64>().ok().filter(|m| *m > 0))
}

impl Store {
    /// The meeting details and reminder times.
    pub async fn meeting_details(&self) -> Result<MeetingDetails, StoreError> {
        on_db!(&self.db, pool => {
            let row = sqlx::query("SELECT * FROM meeting_details WHERE id = 1")
                .fetch_one(pool)
                .await?;
            let text = |column: &str| -> Result<Option<String>, sqlx::Error> {
                let v: String = row.col(column)?;
                Ok(Some(v).filter(|v| !v.is_empty()))
            };
            let reminders: String = row.col("reminders")?;
            let reminders = match decode_reminders(&reminders) {
                Some(r) => r,
                None => {
                    // Only this program writes the row: if it cannot be read, send no reminder
                    // rather than at times the clinician never set.
                    tracing::error!("the stored reminder times cannot be read; no reminders are sent");
                    Vec::new()
                }
            };
            Ok(MeetingDetails {
                video_address: text("video_address")?,
                phone_number: text("phone_number")?,
                reminders,
                daily_agenda: row.col("daily_agenda")?,
            })
        })
    }

    /// Whether request `request_id` gave a phone number (without opening it).
    pub async fn phone_given(&self, request_id: i64) -> Result<bool, StoreError> {
        let sealed: Option<Option<Vec<u8>>> =
            on_db!(&self.db, pool => request_column!(pool, "phone_sealed", request_id).await?);
        Ok(sealed.flatten().is_some_and(|v| !v.is_empty()))
    }

    /// Saves the meeting details (checked by the caller) and audits the change.
    pub async fn save_meeting_details(
        &self,
        details: &MeetingDetails,
        actor: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let detail = details.audit_line();
        let reminders = join_list(&details.reminders);
        self.execute_audited(
            "UPDATE meeting_details SET video_address = $1, phone_number = $2, reminders = $3,
             daily_agenda = $4, updated_at = $5 WHERE id = 1",
            &[
                details.video_address.as_deref().unwrap_or_default().into(),
                details.phone_number.as_deref().unwrap_or_default().into(),
                reminders.as_str().into(),
                details.daily_agenda.into(),
                ms(now).into(),
            ],
            &audit::Entry::new(actor, audit::Action::BookingRulesChanged).detail(detail),
            now,
        )
        .await?;
        Ok(())
    }

    /// Queues every reminder due at `now` that no server has queued yet; returns how many
    /// emails were queued.
    pub async fn queue_due_reminders(&self, now: Timestamp) -> Result<usize, StoreError> {
        let details = self.meeting_details().await?;
        let Some(furthest) = details.reminders.iter().max().copied() else {
            return Ok(0);
        };
        let until = now
            .checked_add(SignedDuration::from_mins(furthest))
            .unwrap_or(now);
        let mut queued = 0;
        on_db!(&self.db, pool => {
            let rows = sqlx::query(&format!(
                "SELECT {BOOKING_COLUMNS} FROM bookings b JOIN consultation_requests r ON r.id = b.request_id
                 WHERE b.status = 'confirmed' AND b.start_at > $1 AND b.start_at <= $2
                 ORDER BY b.start_at, b.id"
            ))
            .bind(ms(now))
            .bind(ms(until))
            .fetch_all(pool)
            .await?;
            // One unreadable booking must not hold up the others' reminders: it is logged by
            // its id alone and looked at again next time.
            let mut bookings = Vec::with_capacity(rows.len());
            for row in &rows {
                match booking_row(row) {
                    Ok(b) => bookings.push(b),
                    Err(e) => {
                        let booking: Option<i64> = row.col("id").ok();
                        tracing::error!(booking, problem = unreadable(&e), "reminders: a booking cannot be read; its reminders wait");
                    }
                }
            }
            for b in bookings {
                // The booking's last change is its confirmation: reminders whose moment came
                // before it are not sent.
                let due = meeting::due_reminders(&details.reminders, b.start, b.updated_at, now);
                if due.is_empty() {
                    continue;
                }
                let done: Result<usize, StoreError> = async {
                    let mut this_booking = 0;
                    let mut tx = pool.begin().await?;
                    // Still confirmed at this time, read in the transaction that queues.
                    let current: Option<CurrentBooking> = sqlx::query_as(
                        "SELECT b.status, b.start_at, b.updated_at, (SELECT MAX(c.id) FROM booking_changes c WHERE c.booking_id = b.id),
                                r.email_sealed, r.link_secret
                         FROM bookings b JOIN consultation_requests r ON r.id = b.request_id WHERE b.id = $1",
                    )
                    .bind(b.id)
                    .fetch_optional(&mut *tx)
                    .await?;
                    let Some((status, start_at, updated_at, Some(change_id), email, link_secret)) = current
                    else {
                        return Ok(0);
                    };
                    // Unchanged since it was read above (else it is looked at again next time).
                    if status != "confirmed" || start_at != ms(b.start) || updated_at != ms(b.updated_at) {
                        return Ok(0);
                    }
                    for (minutes, send) in due {
                        let status = if send { "queued" } else { "skipped" };
                        let claimed: Option<i64> = sqlx::query_scalar(
                            "INSERT INTO booking_reminders (booking_id, booking_change_id, start_at, minutes_before, status, at)
                             VALUES ($1, $2, $3, $4, $5, $6)
                             ON CONFLICT (booking_id, booking_change_id, minutes_before) DO NOTHING RETURNING id",
                        )
                        .bind(b.id)
                        .bind(change_id)
                        .bind(ms(b.start))
                        .bind(minutes)
                        .bind(status)
                        .bind(ms(now))
                        .fetch_optional(&mut *tx)
                        .await?;
                        let (Some(reminder_id), true) = (claimed, send) else {
                            continue;
                        };
                        let recipient = self.recipient_of(&link_secret, &email)?;
                        let outbox_id: i64 = sqlx::query_scalar(
                            "INSERT INTO outbox (kind, request_id, recipient_sealed, created_at, next_attempt_at, booking_change_id)
                             VALUES ($1, $2, $3, $4, $4, $5) RETURNING id",
                        )
                        .bind(MailKind::BookingReminder.as_str())
                        .bind(b.request_id)
                        .bind(recipient)
                        .bind(ms(now))
                        .bind(change_id)
                        .fetch_one(&mut *tx)
                        .await?;
                        sqlx::query("UPDATE booking_reminders SET outbox_id = $1 WHERE id = $2")
                            .bind(outbox_id)
                            .bind(reminder_id)
                            .execute(&mut *tx)
                            .await?;
                        this_booking += 1;
                    }
                    tx.commit().await?;
                    Ok(this_booking)
                }
                .await;
                match done {
                    Ok(n) => queued += n,
                    Err(e) => tracing::error!(
                        booking = b.id,
                        problem = unreadable(&e),
                        "reminders: a booking's reminders cannot be queued; they wait"
                    ),
                }
            }
        });
        Ok(queued)
    }

    /// Decides, just before it leaves, whether the reminder in outbox row `mail_id` still goes.
    /// One that no longer fits is taken out of the outbox. One whose consultation has begun, or
    /// whose place a nearer reminder took while it waited (the mail server was unreachable from
    /// a day before until an hour before), is also recorded on the request's history: the
    /// person gets one reminder that says the time left, not a "tomorrow" one minutes before.
    pub async fn settle_reminder(
        &self,
        mail_id: i64,
        now: Timestamp,
    ) -> Result<ReminderFate, StoreError> {
        let reminders = self.meeting_details().await?.reminders;
        on_db!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            // The reminder still fits while the change that confirmed the booking is its last.
            let row: Option<QueuedReminder> = sqlx::query_as(
                "SELECT br.id, br.start_at, br.minutes_before, b.request_id, b.status, br.booking_change_id,
                        (SELECT MAX(c.id) FROM booking_changes c WHERE c.booking_id = b.id)
                 FROM booking_reminders br JOIN bookings b ON b.id = br.booking_id
                 WHERE br.outbox_id = $1",
            )
            .bind(mail_id)
            .fetch_optional(&mut *tx)
            .await?;
            let row = row.map(|(id, start, minutes_before, request_id, status, confirmed_by, last)| {
                (id, start, minutes_before, request_id, status, last == Some(confirmed_by))
            });
            let fate = match row {
                Some((id, start, minutes_before, request_id, status, current)) => {
                    let fits = status == "confirmed" && current;
                    // A set reminder nearer the start whose moment has come: it goes instead.
                    let nearer_due = reminders
                        .iter()
                        .filter(|m| **m < minutes_before)
                        .any(|m| start.saturating_sub(m.saturating_mul(60_000)) <= ms(now));
                    let (new_status, why) = if !fits {
                        ("skipped", None)
                    } else if ms(now) >= start {
                        ("dropped", Some(ReminderNotSent::Began { minutes_before }))
                    } else if nearer_due {
                        ("skipped", Some(ReminderNotSent::NearerDue { minutes_before }))
                    } else {
                        return Ok(ReminderFate::Send {
                            time_left: SignedDuration::from_millis(start - ms(now)),
                        });
                    };
                    sqlx::query("UPDATE booking_reminders SET status = $1, outbox_id = NULL, at = $2 WHERE id = $3")
                        .bind(new_status)
                        .bind(ms(now))
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    if let Some(why) = why {
                        write_history!(tx, request_id, "system", "reminder", Some(why.encode()), now)
                            .await?;
                    }
                    ReminderFate::Dropped
                }
                None => ReminderFate::Dropped,
            };
            sqlx::query("DELETE FROM outbox WHERE id = $1")
                .bind(mail_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(fate)
        })
    }

    /// Queues today's agenda for the clinician if it is on, it is past `hour` on the practice's
    /// clocks, today has a confirmed consultation, and no server queued it yet. True when this
    /// call queued it.
    pub async fn queue_daily_agenda(
        &self,
        now: Timestamp,
        time_zone: &TimeZone,
        hour: i8,
    ) -> Result<bool, StoreError> {
        let local = now.to_zoned_datetime(time_zone.clone());
        if local.hour() < hour || !self.meeting_details().await?.daily_agenda {
            return Ok(false);
        }
        let day = local.date();
        if self.agenda_bookings(day, time_zone).await?.is_empty() {
            return Ok(false);
        }
        on_db!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            let claimed = sqlx::query(
                "INSERT INTO daily_agendas (day, at) VALUES ($1, $2) ON CONFLICT (day) DO NOTHING",
            )
            .bind(day.to_string())
            .bind(ms(now))
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if claimed != 1 {
                return Ok(false);
            }
            let outbox_id: i64 = sqlx::query_scalar(
                "INSERT INTO outbox (kind, created_at, next_attempt_at) VALUES ($1, $2, $2) RETURNING id",
            )
            .bind(MailKind::DailyAgenda.as_str())
            .bind(ms(now))
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query("UPDATE daily_agendas SET outbox_id = $1 WHERE day = $2")
                .bind(outbox_id)
                .bind(day.to_string())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    /// The day and the consultations of the agenda in outbox row `mail_id`, read as they stand
    /// when it leaves.
    pub async fn agenda_of_mail(
        &self,
        mail_id: i64,
        time_zone: &TimeZone,
    ) -> Result<Option<(Date, Vec<StoredBooking>)>, StoreError> {
        let day: Option<String> = on_db!(&self.db, pool => {
            sqlx::query_scalar("SELECT day FROM daily_agendas WHERE outbox_id = $1")
                .bind(mail_id)
                .fetch_optional(pool)
                .await?
        });
        let Some(day) = day.and_then(|d| d.parse::<Date>().ok()) else {
            return Ok(None);
        };
        Ok(Some((day, self.agenda_bookings(day, time_zone).await?)))
    }

    /// The confirmed consultations starting on `day` on the practice's clocks.
    async fn agenda_bookings(
        &self,
        day: Date,
        time_zone: &TimeZone,
    ) -> Result<Vec<StoredBooking>, StoreError> {
        let (Ok(from), Ok(to)) = (
            day.to_zoned_datetime(time_zone.clone()),
            day.tomorrow()
                .and_then(|d| d.to_zoned_datetime(time_zone.clone())),
        ) else {
            return Ok(Vec::new());
        };
        let sql = format!(
            "SELECT {BOOKING_COLUMNS} FROM bookings b JOIN consultation_requests r ON r.id = b.request_id
             WHERE b.status = 'confirmed' AND b.start_at >= $1 AND b.start_at < $2 ORDER BY b.start_at, b.id"
        );
        let binds = [ms(from.timestamp()).into(), ms(to.timestamp()).into()];
        self.read_all(&sql, &binds, |r| booking_row(r)).await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn reminder_times_are_stored_as_text_and_read_back() {
        assert_eq!(super::join_list([1440, 60]), "1440,60");
        assert_eq!(super::decode_reminders("1440,60"), Some(vec![1440, 60]));
        assert_eq!(super::decode_reminders(""), Some(vec![]));
        assert_eq!(super::decode_reminders("x"), None);
        assert_eq!(super::decode_reminders("-5"), None);
    }
}
