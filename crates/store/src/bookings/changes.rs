//! How a booking changes, written to run inside a transaction that may do more (closing a
//! request cancels its booking in the same commit): macros over either engine's connection.

/// Every held or confirmed booking that may still matter for times from `now` on, except the
/// request `except`'s own.
macro_rules! taken_times {
    ($conn:expr, $now:expr, $except:expr) => {
        async {
            let rows = sqlx::query(
                "SELECT start_at, end_at FROM bookings
                 WHERE status IN ('held', 'confirmed') AND end_at > $1 AND request_id <> $2",
            )
            // Buffers reach back at most a day: bookings that ended earlier take nothing.
            .bind($crate::ms($now) - 24 * 3600 * 1000)
            .bind($except)
            .fetch_all($conn)
            .await?;
            rows.iter()
                .map(|r| {
                    $crate::engine::record!(r => Booking { start: time("start_at"), end: time("end_at") })
                })
                .collect::<Result<Vec<Booking>, StoreError>>()
        }
    };
}

/// Records one change of a booking and the mail about it, on `$conn`.
macro_rules! record_change {
    ($conn:ident, $store:expr, $booking:expr, $actor:expr, $message:expr, $mail:expr, $now:expr) => {
        async {
            let b: &$crate::StoredBooking = $booking;
            let message: Option<&str> = $message;
            let change_id: i64 = sqlx::query_scalar(
                "INSERT INTO booking_changes (booking_id, at, actor, status, start_at, end_at, format, sequence, message_sealed)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
            )
            .bind(b.id)
            .bind($crate::ms($now))
            .bind($actor)
            .bind(b.status.as_str())
            .bind($crate::ms(b.start))
            .bind($crate::ms(b.end))
            .bind(b.format.as_str())
            .bind(b.sequence)
            .bind(None::<Vec<u8>>)
            .fetch_one(&mut *$conn)
            .await?;
            // The message is sealed for its own row, whose id the insert gives.
            if let Some(m) = message {
                $crate::fields::seal_in_row!($store, $conn, $crate::fields::BOOKING_MESSAGE, change_id, m)
                    .await?;
            }
            let kinds: &[::practice::mail::MailKind] = $mail;
            if !kinds.is_empty() {
                let (email, link_secret): (Vec<u8>, String) = sqlx::query_as(
                    "SELECT email_sealed, link_secret FROM consultation_requests WHERE id = $1",
                )
                .bind(b.request_id)
                .fetch_one(&mut *$conn)
                .await?;
                let email = $store.unseal($crate::fields::EMAIL, link_secret.as_str(), &email)?;
                for kind in kinds {
                    let recipient = kind
                        .to_person()
                        .then(|| $store.keys.seal($crate::fields::RECIPIENT.of(link_secret.as_str()), &email));
                    $crate::outbox::queue_mail!($conn, kind, b.request_id, recipient, $now, change_id)
                        .await?;
                }
            }
            $crate::inbox::write_history!($conn, b.request_id, $actor, "booking", Some(b.status.label()), $now)
                .await?;
            Ok::<(), $crate::StoreError>(())
        }
    };
}

/// Moves `$booking` to `$status` on `$conn`, raising its sequence; evaluates to the booking after.
macro_rules! change_status {
    ($conn:ident, $booking:expr, $status:expr, $now:expr) => {
        async {
            let mut b: $crate::StoredBooking = $booking;
            let status: ::practice::booking::BookingStatus = $status;
            sqlx::query(
                "UPDATE bookings SET status = $1, sequence = sequence + 1, updated_at = $2 WHERE id = $3",
            )
            .bind(status.as_str())
            .bind($crate::ms($now))
            .bind(b.id)
            .execute(&mut *$conn)
            .await?;
            b.status = status;
            b.sequence += 1;
            b.updated_at = $now;
            Ok::<$crate::StoredBooking, sqlx::Error>(b)
        }
    };
}

/// Reads one booking by its request on `$conn`.
macro_rules! booking_of_request {
    ($conn:expr, $request_id:expr) => {
        async {
            let row = sqlx::query(&format!(
                "SELECT {} FROM bookings b JOIN consultation_requests r ON r.id = b.request_id WHERE b.request_id = $1",
                $crate::bookings::BOOKING_COLUMNS
            ))
            .bind($request_id)
            .fetch_optional($conn)
            .await?;
            row.as_ref().map($crate::bookings::booking_row).transpose()
        }
    };
}

/// Cancels request `$request_id`'s booking on `$conn` (a transaction) when closing the request
/// ends it: a held or confirmed time that has not begun (see
/// [`BookingStatus::cancelled_by_closing`]). With `$mail`, the person is sent the cancellation.
/// Evaluates to the booking as cancelled, if one was.
///
/// It runs in the transaction that closes the request, so from that commit on the time is open
/// again, the calendar feed no longer lists it, no reminder is queued for it, and one already
/// queued no longer fits and is not sent (see `meeting.rs`).
macro_rules! cancel_on_closing {
    ($conn:ident, $store:expr, $request_id:expr, $actor:expr, $mail:expr, $now:expr) => {
        async {
            let now: jiff::Timestamp = $now;
            let request_id: i64 = $request_id;
            let Some(booking) =
                $crate::bookings::booking_of_request!(&mut *$conn, request_id).await?
            else {
                return Ok::<_, $crate::StoreError>(None);
            };
            if !booking.status.cancelled_by_closing(booking.start, now) {
                return Ok(None);
            }
            let booking = $crate::bookings::change_status!(
                $conn,
                booking,
                ::practice::booking::BookingStatus::Cancelled,
                now
            )
            .await?;
            let kinds: &[::practice::mail::MailKind] = if $mail {
                &[::practice::mail::MailKind::BookingCancelled]
            } else {
                &[]
            };
            $crate::bookings::record_change!($conn, $store, &booking, $actor, None, kinds, now)
                .await?;
            $crate::inbox::write_audit!(
                $conn,
                &$crate::audit::Entry::new($actor, $crate::audit::Action::BookingCancelled)
                    .request(request_id)
                    .detail("the request was closed"),
                now
            )
            .await?;
            Ok(Some(booking))
        }
    };
}
pub(crate) use {booking_of_request, cancel_on_closing, change_status, record_change, taken_times};
