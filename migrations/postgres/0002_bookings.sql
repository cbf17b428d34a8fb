-- Booking the initial consultation: the same tables as on SQLite (see
-- migrations/sqlite/0004_bookings.sql), with PostgreSQL's types.

CREATE TABLE booking_rules (
    id              BIGINT  PRIMARY KEY CHECK (id = 1),
    length_minutes  BIGINT  NOT NULL,
    formats         TEXT    NOT NULL,
    buffer_minutes  BIGINT  NOT NULL,
    notice_minutes  BIGINT  NOT NULL,
    horizon_days    BIGINT  NOT NULL,
    daily_cap       BIGINT,
    step_minutes    BIGINT  NOT NULL,
    windows         TEXT    NOT NULL,
    days_off        TEXT    NOT NULL,
    updated_at      BIGINT  NOT NULL
);
INSERT INTO booking_rules (id, length_minutes, formats, buffer_minutes, notice_minutes, horizon_days,
                           daily_cap, step_minutes, windows, days_off, updated_at)
VALUES (1, 20, 'video,phone', 10, 1440, 21, NULL, 30, '', '', 0);

CREATE TABLE bookings (
    id          BIGSERIAL PRIMARY KEY,
    request_id  BIGINT  NOT NULL UNIQUE REFERENCES consultation_requests (id) ON DELETE CASCADE,
    start_at    BIGINT  NOT NULL,
    end_at      BIGINT  NOT NULL CHECK (end_at > start_at),
    format      TEXT    NOT NULL CHECK (format IN ('video', 'phone')),
    status      TEXT    NOT NULL CHECK (status IN ('held', 'confirmed', 'declined', 'cancelled', 'proposed_other_time')),
    sequence    BIGINT  NOT NULL DEFAULT 0,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);
-- No double booking, whatever the application does.
CREATE UNIQUE INDEX bookings_one_per_start ON bookings (start_at) WHERE status IN ('held', 'confirmed');
CREATE INDEX bookings_start ON bookings (start_at);

CREATE TABLE booking_changes (
    id              BIGSERIAL PRIMARY KEY,
    booking_id      BIGINT  NOT NULL REFERENCES bookings (id) ON DELETE CASCADE,
    at              BIGINT  NOT NULL,
    actor           TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    start_at        BIGINT  NOT NULL,
    end_at          BIGINT  NOT NULL,
    format          TEXT    NOT NULL,
    sequence        BIGINT  NOT NULL,
    message_sealed  BYTEA
);
CREATE INDEX booking_changes_booking ON booking_changes (booking_id);

ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check CHECK (kind IN ('new_request_notice', 'acknowledgement',
    'booking_held', 'booking_held_notice', 'booking_confirmed', 'booking_declined',
    'booking_other_time', 'booking_cancelled', 'booking_cancelled_notice'));
ALTER TABLE outbox ADD COLUMN booking_change_id BIGINT REFERENCES booking_changes (id) ON DELETE CASCADE;
