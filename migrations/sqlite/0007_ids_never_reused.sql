-- Ids are never used twice. Without AUTOINCREMENT, SQLite gives a new row the largest id in the
-- table plus one, so deleting the newest request handed its id to the next one, and anything
-- that named the old id (a link sent by email, a page in a browser's history) named the new
-- request instead. With AUTOINCREMENT the largest id ever given is kept in sqlite_sequence and
-- never given again. SQLite cannot add AUTOINCREMENT to a table, so both tables are rebuilt
-- (SQLite's "12-step" procedure), every column as its earlier migrations left it.
--
-- The application runs migrations on a connection with foreign keys off (as the procedure
-- asks; `PRAGMA foreign_keys` cannot change inside the transaction each migration runs in), so
-- dropping the old tables does not cascade into notes, history, mail, bookings or their
-- changes; it checks `PRAGMA foreign_key_check` afterwards and refuses to start on a violation.

CREATE TABLE consultation_requests_new (
    id                       INTEGER PRIMARY KEY AUTOINCREMENT,
    reference                TEXT    NOT NULL UNIQUE,
    received_at              INTEGER NOT NULL,
    status                   TEXT    NOT NULL DEFAULT 'new',
    spam                     INTEGER NOT NULL DEFAULT 0 CHECK (spam IN (0, 1)),
    spam_reason              TEXT,
    contact_method           TEXT    NOT NULL CHECK (contact_method IN ('email', 'phone', 'either')),
    location                 TEXT    NOT NULL,
    age_group                TEXT    NOT NULL CHECK (age_group IN ('adult', 'minor')),
    outside_licensed_states  INTEGER NOT NULL CHECK (outside_licensed_states IN (0, 1)),
    minor                    INTEGER NOT NULL CHECK (minor IN (0, 1)),
    name_sealed              BLOB    NOT NULL,
    email_sealed             BLOB    NOT NULL,
    phone_sealed             BLOB,
    message_sealed           BLOB,
    referral_source_sealed   BLOB,
    closed_reason            TEXT,
    closed_at                INTEGER
);
INSERT INTO consultation_requests_new
       (id, reference, received_at, status, spam, spam_reason, contact_method, location,
        age_group, outside_licensed_states, minor, name_sealed, email_sealed, phone_sealed,
        message_sealed, referral_source_sealed, closed_reason, closed_at)
SELECT id, reference, received_at, status, spam, spam_reason, contact_method, location,
       age_group, outside_licensed_states, minor, name_sealed, email_sealed, phone_sealed,
       message_sealed, referral_source_sealed, closed_reason, closed_at
FROM consultation_requests;
DROP TABLE consultation_requests;
ALTER TABLE consultation_requests_new RENAME TO consultation_requests;
CREATE INDEX consultation_requests_received ON consultation_requests (spam, received_at DESC);
CREATE INDEX consultation_requests_status ON consultation_requests (status);
CREATE TRIGGER consultation_requests_received AFTER INSERT ON consultation_requests
BEGIN
    INSERT INTO request_history (request_id, at, actor, event)
    VALUES (NEW.id, NEW.received_at, 'visitor', 'received');
END;

CREATE TABLE bookings_new (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
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
INSERT INTO bookings_new (id, request_id, start_at, end_at, format, status, sequence, created_at,
                          updated_at)
SELECT id, request_id, start_at, end_at, format, status, sequence, created_at, updated_at
FROM bookings;
DROP TABLE bookings;
ALTER TABLE bookings_new RENAME TO bookings;
-- No double booking: two bookings that hold a time can never start at the same instant,
-- whatever the application does.
CREATE UNIQUE INDEX bookings_one_per_start ON bookings (start_at) WHERE status IN ('held', 'confirmed');
CREATE INDEX bookings_start ON bookings (start_at);

-- Copying the rows recorded their largest id; a deleted request may have had a larger one,
-- and the audit log remembers every request it named, deleted ones included.
DELETE FROM sqlite_sequence WHERE name IN ('consultation_requests', 'bookings');
INSERT INTO sqlite_sequence (name, seq)
SELECT 'consultation_requests', max(coalesce((SELECT max(id) FROM consultation_requests), 0),
                                    coalesce((SELECT max(request_id) FROM audit_log), 0));
INSERT INTO sqlite_sequence (name, seq)
SELECT 'bookings', coalesce((SELECT max(id) FROM bookings), 0);
