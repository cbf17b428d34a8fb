-- The practice inbox: accounts, sign-in throttling, notes, history, and the audit log.

CREATE TABLE admin_accounts (
    id                   INTEGER PRIMARY KEY,
    email                TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    password_hash        TEXT    NOT NULL,
    -- Two-factor secret, sealed; set once enrolment is confirmed with a first code.
    totp_secret_sealed   BLOB,
    -- The last 30-second step a code was accepted for (codes are never accepted twice).
    totp_last_step       INTEGER,
    created_at           INTEGER NOT NULL,
    password_changed_at  INTEGER NOT NULL
);

CREATE TABLE recovery_codes (
    id          INTEGER PRIMARY KEY,
    account_id  INTEGER NOT NULL REFERENCES admin_accounts (id) ON DELETE CASCADE,
    code_hash   TEXT    NOT NULL,
    used_at     INTEGER
);

-- Failed sign-ins, by account and by client address, shared by every server.
CREATE TABLE sign_in_failures (
    id       INTEGER PRIMARY KEY,
    subject  TEXT    NOT NULL,
    at       INTEGER NOT NULL
);
CREATE INDEX sign_in_failures_subject ON sign_in_failures (subject, at);

ALTER TABLE consultation_requests ADD COLUMN closed_reason TEXT;
ALTER TABLE consultation_requests ADD COLUMN closed_at INTEGER;
CREATE INDEX consultation_requests_status ON consultation_requests (status);

-- The clinician's private notes on a request (sealed: they may hold health details).
CREATE TABLE request_notes (
    id           INTEGER PRIMARY KEY,
    request_id   INTEGER NOT NULL REFERENCES consultation_requests (id) ON DELETE CASCADE,
    author       TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    body_sealed  BLOB    NOT NULL
);

-- What happened to a request: received, status changes, spam decisions, notes added.
CREATE TABLE request_history (
    id          INTEGER PRIMARY KEY,
    request_id  INTEGER NOT NULL REFERENCES consultation_requests (id) ON DELETE CASCADE,
    at          INTEGER NOT NULL,
    actor       TEXT    NOT NULL,
    event       TEXT    NOT NULL,
    detail      TEXT
);

-- Who did what, when, to which request — never the personal fields themselves.
-- Append-only: the triggers refuse changes and deletions.
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    actor       TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    request_id  INTEGER,
    detail      TEXT
);
CREATE INDEX audit_log_at ON audit_log (at DESC);

CREATE TRIGGER audit_log_append_only_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

CREATE TRIGGER audit_log_append_only_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
