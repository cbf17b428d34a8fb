-- How the clinician meets people, the reminders sent before a confirmed consultation, and the
-- clinician's daily agenda.

-- The outbox no longer lists its kinds in a CHECK: the program reads only the kinds it knows
-- (an unknown one is left alone), and SQLite could only change the list by rebuilding the table
-- for every new kind of mail. The table is rebuilt once more, every column as before.
CREATE TABLE outbox_new (
    id                  INTEGER PRIMARY KEY,
    kind                TEXT    NOT NULL,
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
                        permanent_failures, next_attempt_at, claimed_until, last_error, sent_at,
                        booking_change_id)
SELECT id, kind, request_id, recipient_sealed, created_at, status, attempts,
       permanent_failures, next_attempt_at, claimed_until, last_error, sent_at, booking_change_id
FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_request ON outbox (request_id);

-- One row, edited in the inbox's booking settings.
CREATE TABLE meeting_details (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    -- The clinician's own video room (https), or '' when none is set.
    video_address   TEXT    NOT NULL DEFAULT '',
    -- A number the person calls for a phone consultation, or '' when the clinician calls them.
    phone_number    TEXT    NOT NULL DEFAULT '',
    -- Minutes before a confirmed consultation that a reminder leaves, "1440,60"; '' for none.
    reminders       TEXT    NOT NULL DEFAULT '1440,60',
    daily_agenda    INTEGER NOT NULL DEFAULT 0 CHECK (daily_agenda IN (0, 1)),
    updated_at      INTEGER NOT NULL
);
INSERT INTO meeting_details (id, updated_at) VALUES (1, 0);

-- Each reminder of one confirmation of a booking, claimed once by whichever server first
-- inserts it: the unique key is what makes "exactly once" hold across servers. A booking is one
-- row changed in place, so the key is the change that confirmed it, not its start: a moved
-- booking, or one cancelled and chosen again at the same time (or moved away and back), is
-- confirmed by a new change, and its reminders are new rows.
CREATE TABLE booking_reminders (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    booking_id      INTEGER NOT NULL REFERENCES bookings (id) ON DELETE CASCADE,
    booking_change_id INTEGER NOT NULL REFERENCES booking_changes (id) ON DELETE CASCADE,
    start_at        INTEGER NOT NULL,
    minutes_before  INTEGER NOT NULL,
    -- queued: in the outbox; skipped: the booking changed, or a nearer reminder went instead;
    -- dropped: the consultation began before the mail could leave.
    status          TEXT    NOT NULL CHECK (status IN ('queued', 'skipped', 'dropped')),
    outbox_id       INTEGER REFERENCES outbox (id) ON DELETE SET NULL,
    at              INTEGER NOT NULL,
    UNIQUE (booking_id, booking_change_id, minutes_before)
);
CREATE INDEX booking_reminders_outbox ON booking_reminders (outbox_id);

-- One agenda a day (the practice's date), claimed the same way.
CREATE TABLE daily_agendas (
    day         TEXT    PRIMARY KEY,
    outbox_id   INTEGER REFERENCES outbox (id) ON DELETE SET NULL,
    at          INTEGER NOT NULL
);
