-- The practice's data on PostgreSQL: the same tables as on SQLite (see migrations/sqlite/),
-- with PostgreSQL's types. Personal fields are sealed (encrypted) by the application before
-- they reach this database: columns ending in _sealed hold ciphertext only. Instants are UTC
-- milliseconds since 1970, as on SQLite, so the same queries serve both engines.

CREATE TABLE consultation_requests (
    id                       BIGSERIAL PRIMARY KEY,
    reference                TEXT     NOT NULL UNIQUE,
    received_at              BIGINT   NOT NULL,
    status                   TEXT     NOT NULL DEFAULT 'new',
    spam                     BOOLEAN  NOT NULL DEFAULT FALSE,
    spam_reason              TEXT,
    contact_method           TEXT     NOT NULL CHECK (contact_method IN ('email', 'phone', 'either')),
    location                 TEXT     NOT NULL,
    age_group                TEXT     NOT NULL CHECK (age_group IN ('adult', 'minor')),
    outside_licensed_states  BOOLEAN  NOT NULL,
    minor                    BOOLEAN  NOT NULL,
    name_sealed              BYTEA    NOT NULL,
    email_sealed             BYTEA    NOT NULL,
    phone_sealed             BYTEA,
    message_sealed           BYTEA,
    referral_source_sealed   BYTEA,
    closed_reason            TEXT,
    closed_at                BIGINT
);
CREATE INDEX consultation_requests_received ON consultation_requests (spam, received_at DESC);
CREATE INDEX consultation_requests_status ON consultation_requests (status);

-- Mail waiting to be sent, written in the same transaction as what caused it.
CREATE TABLE outbox (
    id                  BIGSERIAL PRIMARY KEY,
    kind                TEXT    NOT NULL CHECK (kind IN ('new_request_notice', 'acknowledgement')),
    request_id          BIGINT  REFERENCES consultation_requests (id) ON DELETE CASCADE,
    recipient_sealed    BYTEA,
    created_at          BIGINT  NOT NULL,
    status              TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts            BIGINT  NOT NULL DEFAULT 0,
    permanent_failures  BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at     BIGINT  NOT NULL,
    claimed_until       BIGINT,
    last_error          TEXT,
    sent_at             BIGINT
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_request ON outbox (request_id);

-- Small facts about this database, such as which data key it was written with.
CREATE TABLE settings (
    key    TEXT PRIMARY KEY,
    value  BYTEA NOT NULL
);

CREATE TABLE admin_accounts (
    id                   BIGSERIAL PRIMARY KEY,
    email                TEXT    NOT NULL,
    password_hash        TEXT    NOT NULL,
    totp_secret_sealed   BYTEA,
    totp_last_step       BIGINT,
    created_at           BIGINT  NOT NULL,
    password_changed_at  BIGINT  NOT NULL
);
CREATE UNIQUE INDEX admin_accounts_email ON admin_accounts (lower(email));

CREATE TABLE recovery_codes (
    id          BIGSERIAL PRIMARY KEY,
    account_id  BIGINT  NOT NULL REFERENCES admin_accounts (id) ON DELETE CASCADE,
    code_hash   TEXT    NOT NULL,
    used_at     BIGINT
);

-- Failed sign-ins, by account and by client address, shared by every server.
CREATE TABLE sign_in_failures (
    id       BIGSERIAL PRIMARY KEY,
    subject  TEXT    NOT NULL,
    at       BIGINT  NOT NULL
);
CREATE INDEX sign_in_failures_subject ON sign_in_failures (subject, at);

CREATE TABLE request_notes (
    id           BIGSERIAL PRIMARY KEY,
    request_id   BIGINT  NOT NULL REFERENCES consultation_requests (id) ON DELETE CASCADE,
    author       TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL,
    body_sealed  BYTEA   NOT NULL
);

CREATE TABLE request_history (
    id          BIGSERIAL PRIMARY KEY,
    request_id  BIGINT  NOT NULL REFERENCES consultation_requests (id) ON DELETE CASCADE,
    at          BIGINT  NOT NULL,
    actor       TEXT    NOT NULL,
    event       TEXT    NOT NULL,
    detail      TEXT
);
CREATE INDEX request_history_request ON request_history (request_id);

CREATE FUNCTION consultation_requests_received() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO request_history (request_id, at, actor, event)
    VALUES (NEW.id, NEW.received_at, 'visitor', 'received');
    RETURN NEW;
END
$$;
CREATE TRIGGER consultation_requests_received AFTER INSERT ON consultation_requests
    FOR EACH ROW EXECUTE FUNCTION consultation_requests_received();

-- Who did what, when, to which request — never the personal fields themselves.
-- Append-only: the trigger refuses changes and deletions.
CREATE TABLE audit_log (
    id          BIGSERIAL PRIMARY KEY,
    at          BIGINT  NOT NULL,
    actor       TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    request_id  BIGINT,
    detail      TEXT
);
CREATE INDEX audit_log_at ON audit_log (at DESC);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- Sign-in sessions, sealed, shared by every server.
CREATE TABLE admin_sessions (
    id             TEXT    PRIMARY KEY,
    record_sealed  BYTEA   NOT NULL,
    expires_at     BIGINT  NOT NULL
);
CREATE INDEX admin_sessions_expiry ON admin_sessions (expires_at);

-- The last time each periodic job ran, claimed by one server per period.
CREATE TABLE periodic_jobs (
    name         TEXT    PRIMARY KEY,
    last_run_at  BIGINT  NOT NULL
);
