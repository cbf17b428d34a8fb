//! Bookings of the initial consultation: the clinician's booking rules, holding a time,
//! the clinician's decisions, cancellations, the calendar feed's secret.
//!
//! Holding a time is one transaction: read the rules and the times already taken, re-check the
//! chosen time with [`is_open`], write the booking, the change it records and the mail about
//! it. Two people choosing the same time at the same moment cannot both have it: on SQLite the
//! one connection runs one transaction at a time; on PostgreSQL every hold first locks the rules
//! row, so holds run one after another there too. Behind both, the partial unique index
//! `bookings_one_per_start` refuses a second held or confirmed booking at the same start; its
//! refusal reads as "just taken".
//!
//! Each change to a booking is written to `booking_changes` as it was made, and the mail about
//! it points there: the email says what happened at that moment, even when it leaves later and
//! the booking has changed again since.

mod changes;
mod feed;
mod rules;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::engine::{Columns, Db, on_db, record};
use super::fields::NAME;
use super::inbox::{commit_audited, request_column, write_audit, write_history};
use super::{Store, StoreError, ms, parsed};
use crate::audit;
use practice::booking::{BookingStatus, ClinicianDecision};
use practice::mail::MailKind;
use practice::open_times::{Booking, ConsultationFormat, WhyNotOpen, is_open};
use practice::status::Status;

/// The settings key of the calendar feed's secret (sealed).
pub(super) const CALENDAR_FEED: &str = "calendar_feed";

/// Who the person is in a booking's changes and the audit log (they have no account).
pub(super) const PERSON: &str = "visitor";

/// A booking as stored, with its request's reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredBooking {
    pub id: i64,
    pub request_id: i64,
    /// The request's reference ("ABCD-EFGH").
    pub reference: String,
    pub start: Timestamp,
    pub end: Timestamp,
    pub format: ConsultationFormat,
    pub status: BookingStatus,
    pub sequence: i64,
    pub updated_at: Timestamp,
    /// Where the person said they will be during the session (a state's code, or
    /// `outside-us`); `None` when the form did not ask.
    pub session_location: Option<String>,
}

/// A booking with the name on its request, for the inbox's list.
#[derive(Clone)]
pub struct ListedBooking {
    pub booking: StoredBooking,
    pub name: String,
}

practice::debug_shows!(ListedBooking { booking });

/// A person's choice of time.
#[derive(Clone, Copy, Debug)]
pub struct Hold<'a> {
    pub request_id: i64,
    pub start: Timestamp,
    pub format: ConsultationFormat,
    /// The practice's zone, in which the rules are read.
    pub time_zone: &'a TimeZone,
    /// Queue the emails (false when no mail server is configured).
    pub mail: bool,
    /// Where the person will be during the session, as they said.
    pub location: Option<&'a str>,
}

/// What became of a choice of time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HoldOutcome {
    Held(StoredBooking),
    /// The time cannot be booked (taken a moment earlier, too soon, …).
    NotOpen(WhyNotOpen),
    /// The rules do not offer that way of meeting.
    FormatNotOffered,
    /// The request is gone, or is not one that books online (spam, flagged, declined).
    NotBookable,
}

/// What became of a decision or a cancellation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChangeOutcome {
    Changed(StoredBooking),
    /// No booking for that request.
    NoBooking,
    /// The booking stands where this change does not apply (already cancelled, in the past…).
    NotApplicable(BookingStatus),
}

/// Whether a request may book online at all: it exists, is not spam, and is not flagged (a
/// person outside the licensed states, or under 18, hears from the clinician instead).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bookable {
    pub request_id: i64,
    /// The secret the request's booking links are bound to.
    pub link_secret: String,
}

pub(super) const BOOKING_COLUMNS: &str = "b.id, b.request_id, r.reference, b.start_at, b.end_at, b.format, b.status, b.sequence, b.updated_at, b.session_location";

pub(super) fn booking_row(row: &impl Columns) -> Result<StoredBooking, StoreError> {
    record!(row => StoredBooking {
        id, request_id, reference, start: time("start_at"), end: time("end_at"), sequence,
        updated_at: time, session_location
    } and {
        format: row.choice("format", ConsultationFormat::parse)?,
        status: row.choice("status", BookingStatus::parse)?,
    })
}

use changes::taken_times;
pub(super) use changes::{booking_of_request, cancel_on_closing, change_status, record_change};
use rules::rules_row;

impl Store {
    /// Whether request `id` may book online: not spam, not one the practice cannot see, not
    /// closed.
    pub async fn bookable(&self, id: i64) -> Result<Option<Bookable>, StoreError> {
        on_db!(&self.reads, pool => {
            let row = sqlx::query(
                "SELECT spam, outside_licensed_states, minor, status, link_secret FROM consultation_requests WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?;
            let Some(row) = row else { return Ok(None) };
            let (spam, outside, minor): (bool, bool, bool) = (
                row.col("spam")?,
                row.col("outside_licensed_states")?,
                row.col("minor")?,
            );
            // A closed request is finished: its links no longer hold or change a time.
            let status: String = row.col("status")?;
            let closed = status == Status::Closed.as_str();
            let link_secret: String = row.col("link_secret")?;
            Ok((!spam && !outside && !minor && !closed).then_some(Bookable {
                request_id: id,
                link_secret,
            }))
        })
    }

    /// The secret request `id`'s booking links are bound to, if the request exists (for
    /// tools and tests that make a link themselves).
    pub async fn link_secret(&self, id: i64) -> Result<Option<String>, StoreError> {
        Ok(on_db!(&self.db, pool => request_column!(pool, "link_secret", id).await?))
    }

    /// The times held or confirmed by other requests than `except`, for listing open times.
    pub async fn taken_times(
        &self,
        now: Timestamp,
        except: i64,
    ) -> Result<Vec<Booking>, StoreError> {
        Ok(on_db!(&self.db, pool => taken_times!(pool, now, except).await?))
    }

    /// The booking of request `request_id`, if it has one.
    pub async fn booking_for_request(
        &self,
        request_id: i64,
    ) -> Result<Option<StoredBooking>, StoreError> {
        on_db!(&self.db, pool => booking_of_request!(pool, request_id).await)
    }

    /// Holds a time for a person: a first choice, a change, or a new choice after a
    /// cancellation or the clinician's request for another time.
    pub async fn hold(&self, h: &Hold<'_>, now: Timestamp) -> Result<HoldOutcome, StoreError> {
        let lock = match &self.db {
            Db::Sqlite(_) => "",
            Db::Postgres(_) => " FOR UPDATE",
        };
        let mail: &[MailKind] = if h.mail {
            &[MailKind::BookingHeld, MailKind::BookingHeldNotice]
        } else {
            &[]
        };
        let outcome: Result<HoldOutcome, StoreError> = on_db!(&self.db, pool => async {
            let mut tx = pool.begin().await?;
            let row = sqlx::query(&format!("SELECT * FROM booking_rules WHERE id = 1{lock}"))
                .fetch_one(&mut *tx)
                .await?;
            let rules = rules_row(&row, h.time_zone)?;
            let request = sqlx::query(
                "SELECT spam, outside_licensed_states, minor FROM consultation_requests WHERE id = $1",
            )
            .bind(h.request_id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(request) = request else {
                return Ok(HoldOutcome::NotBookable);
            };
            let flagged: [bool; 3] = [
                request.col("spam")?,
                request.col("outside_licensed_states")?,
                request.col("minor")?,
            ];
            if flagged.iter().any(|f| *f) {
                return Ok(HoldOutcome::NotBookable);
            }
            let existing = booking_of_request!(&mut *tx, h.request_id).await?;
            if existing.as_ref().is_some_and(|b| !b.status.person_may_choose()) {
                return Ok(HoldOutcome::NotBookable);
            }
            if !rules.formats.contains(&h.format) {
                return Ok(HoldOutcome::FormatNotOffered);
            }
            let taken = taken_times!(&mut *tx, now, h.request_id).await?;
            let time = match is_open(&rules, &taken, now, h.start) {
                Ok(time) => time,
                Err(why) => return Ok(HoldOutcome::NotOpen(why)),
            };
            let written: Result<i64, sqlx::Error> = match &existing {
                Some(b) => sqlx::query_scalar(
                    "UPDATE bookings SET start_at = $1, end_at = $2, format = $3, status = 'held',
                     sequence = sequence + 1, updated_at = $4, session_location = $6
                     WHERE id = $5 RETURNING id",
                )
                .bind(ms(time.start))
                .bind(ms(time.end))
                .bind(h.format.as_str())
                .bind(ms(now))
                .bind(b.id)
                .bind(h.location)
                .fetch_one(&mut *tx)
                .await,
                None => sqlx::query_scalar(
                    "INSERT INTO bookings (request_id, start_at, end_at, format, status, sequence, created_at, updated_at, session_location)
                     VALUES ($1, $2, $3, $4, 'held', 0, $5, $5, $6) RETURNING id",
                )
                .bind(h.request_id)
                .bind(ms(time.start))
                .bind(ms(time.end))
                .bind(h.format.as_str())
                .bind(ms(now))
                .bind(h.location)
                .fetch_one(&mut *tx)
                .await,
            };
            let id = match written {
                Ok(id) => id,
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                    return Ok(HoldOutcome::NotOpen(WhyNotOpen::Taken));
                }
                Err(e) => return Err(e.into()),
            };
            let booking = booking_of_request!(&mut *tx, h.request_id)
                .await?
                .filter(|b| b.id == id)
                .ok_or(StoreError::Unavailable(sqlx::Error::RowNotFound))?;
            record_change!(tx, self, &booking, PERSON, None, mail, now).await?;
            let detail = if existing.is_some() { "time chosen again" } else { "time chosen" };
            write_audit!(
                tx,
                &audit::Entry::new(PERSON, audit::Action::BookingHeld)
                    .request(h.request_id)
                    .detail(detail),
                now
            )
            .await?;
            match tx.commit().await {
                Ok(()) => Ok(HoldOutcome::Held(booking)),
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                    Ok(HoldOutcome::NotOpen(WhyNotOpen::Taken))
                }
                Err(e) => Err(e.into()),
            }
        }
        .await);
        outcome
    }

    /// The person cancels their booking (only before it starts).
    pub async fn cancel_booking(
        &self,
        request_id: i64,
        mail: bool,
        now: Timestamp,
    ) -> Result<ChangeOutcome, StoreError> {
        let kinds: &[MailKind] = if mail {
            &[MailKind::BookingCancelled, MailKind::BookingCancelledNotice]
        } else {
            &[]
        };
        on_db!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            let Some(booking) = booking_of_request!(&mut *tx, request_id).await? else {
                return Ok(ChangeOutcome::NoBooking);
            };
            if !booking.status.takes_time() || booking.start <= now {
                return Ok(ChangeOutcome::NotApplicable(booking.status));
            }
            let booking = change_status!(tx, booking, BookingStatus::Cancelled, now).await?;
            record_change!(tx, self, &booking, PERSON, None, kinds, now).await?;
            let audit = audit::Entry::new(PERSON, audit::Action::BookingCancelled).request(request_id);
            commit_audited!(tx, &audit, now).await?;
            Ok(ChangeOutcome::Changed(booking))
        })
    }

    /// The clinician confirms, declines (with an optional message for the person only), or asks
    /// for another time. Confirming moves a new or contacted request to "Consultation scheduled".
    pub async fn decide_booking(
        &self,
        request_id: i64,
        decision: ClinicianDecision,
        message: Option<&str>,
        actor: &str,
        mail: bool,
        now: Timestamp,
    ) -> Result<ChangeOutcome, StoreError> {
        let (kind, action) = match decision {
            ClinicianDecision::Confirm => {
                (MailKind::BookingConfirmed, audit::Action::BookingConfirmed)
            }
            ClinicianDecision::Decline => {
                (MailKind::BookingDeclined, audit::Action::BookingDeclined)
            }
            ClinicianDecision::ProposeOtherTime => (
                MailKind::BookingOtherTime,
                audit::Action::BookingOtherTimeProposed,
            ),
        };
        let kinds: &[MailKind] = if mail {
            std::slice::from_ref(&kind)
        } else {
            &[]
        };
        let message = if decision == ClinicianDecision::Decline {
            message
        } else {
            None
        };
        on_db!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            let Some(booking) = booking_of_request!(&mut *tx, request_id).await? else {
                return Ok(ChangeOutcome::NoBooking);
            };
            if !decision.applies_to(booking.status) {
                return Ok(ChangeOutcome::NotApplicable(booking.status));
            }
            let before = booking.status;
            let booking = change_status!(tx, booking, decision.outcome(), now).await?;
            record_change!(tx, self, &booking, actor, message, kinds, now).await?;
            if decision == ClinicianDecision::Confirm {
                // A confirmed consultation makes the request the start of a clinical record.
                sqlx::query("UPDATE consultation_requests SET reached_consultation = TRUE WHERE id = $1")
                    .bind(request_id)
                    .execute(&mut *tx)
                    .await?;
                let status: String =
                    sqlx::query_scalar("SELECT status FROM consultation_requests WHERE id = $1")
                        .bind(request_id)
                        .fetch_one(&mut *tx)
                        .await?;
                let old = parsed("status", status, Status::parse)?;
                if matches!(old, Status::New | Status::Contacted) {
                    sqlx::query("UPDATE consultation_requests SET status = $1 WHERE id = $2")
                        .bind(Status::ConsultationScheduled.as_str())
                        .bind(request_id)
                        .execute(&mut *tx)
                        .await?;
                    let detail = format!(
                        "{} → {}",
                        old.label(),
                        Status::ConsultationScheduled.label()
                    );
                    write_history!(tx, request_id, actor, "status", Some(&detail), now).await?;
                }
            }
            let detail = format!("{} → {}", before.label(), booking.status.label());
            let audit = audit::Entry::new(actor, action).request(request_id).detail(detail);
            commit_audited!(tx, &audit, now).await?;
            Ok(ChangeOutcome::Changed(booking))
        })
    }

    /// Bookings for the inbox's list: those not yet over (soonest first), then the `past` most
    /// recent ones that are.
    pub async fn list_bookings(
        &self,
        now: Timestamp,
        past: i64,
    ) -> Result<(Vec<ListedBooking>, Vec<ListedBooking>), StoreError> {
        let sql = |condition: &str, order: &str| {
            format!(
                "SELECT {BOOKING_COLUMNS}, r.name_sealed, r.link_secret FROM bookings b JOIN consultation_requests r ON r.id = b.request_id
                 WHERE {condition} ORDER BY b.start_at {order}, b.id LIMIT $2"
            )
        };
        let upcoming_sql = sql("b.end_at > $1", "ASC");
        let past_sql = sql("b.end_at <= $1", "DESC");
        on_db!(&self.db, pool => {
            let mut lists = Vec::with_capacity(2);
            for (sql, limit) in [(&upcoming_sql, 1000), (&past_sql, past)] {
                let rows = sqlx::query(sql)
                    .bind(ms(now))
                    .bind(limit)
                    .fetch_all(pool)
                    .await?;
                let list = rows
                    .iter()
                    .map(|row| {
                        let name: Vec<u8> = row.col("name_sealed")?;
                        let link_secret: String = row.col("link_secret")?;
                        Ok(ListedBooking {
                            booking: booking_row(row)?,
                            name: self.unseal(NAME, link_secret.as_str(), &name)?,
                        })
                    })
                    .collect::<Result<Vec<_>, StoreError>>()?;
                lists.push(list);
            }
            let past = lists.pop().unwrap_or_default();
            let upcoming = lists.pop().unwrap_or_default();
            Ok((upcoming, past))
        })
    }

    /// Confirmed bookings that end after `since`, for the calendar feed.
    pub async fn confirmed_bookings(
        &self,
        since: Timestamp,
    ) -> Result<Vec<StoredBooking>, StoreError> {
        let sql = format!(
            "SELECT {BOOKING_COLUMNS} FROM bookings b JOIN consultation_requests r ON r.id = b.request_id
             WHERE b.status = 'confirmed' AND b.end_at > $1 ORDER BY b.start_at, b.id"
        );
        self.read_all(&sql, &[ms(since).into()], |r| booking_row(r))
            .await
    }
}
