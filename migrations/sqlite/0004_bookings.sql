-- Booking the initial consultation: the clinician's booking rules, the bookings people make,
-- every change to a booking (what each email about it says), and mail that is about a booking.

-- The clinician's booking rules: one row, edited in the inbox. With no weekly hours nothing is
-- offered, so nobody can book until the clinician says when.
CREATE TABLE booking_rules (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    length_minutes  INTEGER NOT NULL,
    -- "video,phone": the ways a person may choose to meet.
    formats         TEXT    NOT NULL,
    buffer_minutes  INTEGER NOT NULL,
    notice_minutes  INTEGER NOT NULL,
    horizon_days    INTEGER NOT NULL,
    daily_cap       INTEGER,
    step_minutes    INTEGER NOT NULL,
    -- "mon 09:00-12:00,tue 13:00-17:00": weekly hours in the practice's time zone.
    windows         TEXT    NOT NULL,
    -- "2025-12-24,2025-12-25": dates with nothing offered.
    days_off        TEXT    NOT NULL,
    updated_at      INTEGER NOT NULL
);
INSERT INTO booking_rules (id, length_minutes, formats, buffer_minutes, notice_minutes, horizon_days,
                           daily_cap, step_minutes, windows, days_off, updated_at)
VALUES (1, 20, 'video,phone', 10, 1440, 21, NULL, 30, '', '', 0);

-- One booking per consultation request, moved through its statuses as things change:
-- held (chosen by the person) → confirmed, declined, cancelled, or proposed_other_time (the
-- clinician asked for another time); a person may choose again after cancelling or when asked.
CREATE TABLE bookings (
    id          INTEGER PRIMARY KEY,
    request_id  INTEGER NOT NULL UNIQUE REFERENCES consultation_requests (id) ON DELETE CASCADE,
    start_at    INTEGER NOT NULL,
    end_at      INTEGER NOT NULL CHECK (end_at > start_at),
    format      TEXT    NOT NULL CHECK (format IN ('video', 'phone')),
    status      TEXT    NOT NULL CHECK (status IN ('held', 'confirmed', 'declined', 'cancelled', 'proposed_other_time')),
    -- Raised with every change sent to the person (iCalendar SEQUENCE).
    sequence    INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
-- No double booking: two bookings that hold a time can never start at the same instant,
-- whatever the application does.
CREATE UNIQUE INDEX bookings_one_per_start ON bookings (start_at) WHERE status IN ('held', 'confirmed');
CREATE INDEX bookings_start ON bookings (start_at);

-- Each change to a booking as it was made: what the email about it says. A message from the
-- clinician to the person (with a decline) is sealed: it is for the person only.
CREATE TABLE booking_changes (
    id              INTEGER PRIMARY KEY,
    booking_id      INTEGER NOT NULL REFERENCES bookings (id) ON DELETE CASCADE,
    at              INTEGER NOT NULL,
    actor           TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    start_at        INTEGER NOT NULL,
    end_at          INTEGER NOT NULL,
    format          TEXT    NOT NULL,
    sequence        INTEGER NOT NULL,
    message_sealed  BLOB
);
CREATE INDEX booking_changes_booking ON booking_changes (booking_id);

-- The outbox learns the booking emails, and which change each is about. SQLite cannot alter a
-- CHECK constraint, so the table is rebuilt (nothing refers to it).
CREATE TABLE outbox_new (
    id                  INTEGER PRIMARY KEY,
    kind                TEXT    NOT NULL CHECK (kind IN ('new_request_notice', 'acknowledgement',
                                 'booking_held', 'booking_held_notice', 'booking_confirmed',
                                 'booking_declined', 'booking_other_time', 'booking_cancelled',
                                 'booking_cancelled_notice')),
    request_id          INTEGER REFERENCES consultation_requests (id) ON DELETE CASCADE,
    recipient_sealed    BLOB,
    created_at          INTEGER NOT NULL,
    status              TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts            INTEGER NOT NULL DEFAULT 0,
    permanent_failures  INTEGER NOT NULL DEFAULT 0,
    next_attempt_at     INTEGER NOT NULL,
    claimed_until       INTEGER,
    last_error          TEXT,
    sent_at             INTEGER,
    booking_change_id   INTEGER REFERENCES booking_changes (id) ON DELETE CASCADE
);
INSERT INTO outbox_new (id, kind, request_id, recipient_sealed, created_at, status, attempts,
                        permanent_failures, next_attempt_at, claimed_until, last_error, sent_at)
SELECT id, kind, request_id, recipient_sealed, created_at, status, attempts,
       permanent_failures, next_attempt_at, claimed_until, last_error, sent_at
FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_request ON outbox (request_id);
