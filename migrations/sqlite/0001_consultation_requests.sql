-- Consultation requests sent through the contact form, and the mail they cause.
-- Personal fields are sealed (encrypted) by the application before they reach this database:
-- columns ending in _sealed hold ciphertext only. Instants are UTC milliseconds since 1970.

CREATE TABLE consultation_requests (
    id                       INTEGER PRIMARY KEY,
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
    referral_source_sealed   BLOB
);

CREATE INDEX consultation_requests_received ON consultation_requests (spam, received_at DESC);

-- Mail waiting to be sent, written in the same transaction as what caused it.
CREATE TABLE outbox (
    id                  INTEGER PRIMARY KEY,
    kind                TEXT    NOT NULL CHECK (kind IN ('new_request_notice', 'acknowledgement')),
    request_id          INTEGER REFERENCES consultation_requests (id) ON DELETE CASCADE,
    -- Only mail to a person has a sealed recipient; notices go to the practice's configured address.
    recipient_sealed    BLOB,
    created_at          INTEGER NOT NULL,
    status              TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts            INTEGER NOT NULL DEFAULT 0,
    permanent_failures  INTEGER NOT NULL DEFAULT 0,
    next_attempt_at     INTEGER NOT NULL,
    claimed_until       INTEGER,
    last_error          TEXT,
    sent_at             INTEGER
);

CREATE INDEX outbox_due ON outbox (status, next_attempt_at);

-- Small facts about this database, such as which data key it was written with.
CREATE TABLE settings (
    key    TEXT PRIMARY KEY,
    value  BLOB NOT NULL
);
