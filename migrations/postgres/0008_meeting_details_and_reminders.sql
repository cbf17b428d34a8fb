-- How the clinician meets people, reminders and the daily agenda: the same tables as on SQLite
-- (see migrations/sqlite/0011_meeting_details_and_reminders.sql), with PostgreSQL's types.

CREATE TABLE meeting_details (
    id              BIGINT  PRIMARY KEY CHECK (id = 1),
    video_address   TEXT    NOT NULL DEFAULT '',
    phone_number    TEXT    NOT NULL DEFAULT '',
    reminders       TEXT    NOT NULL DEFAULT '1440,60',
    daily_agenda    BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at      BIGINT  NOT NULL
);
INSERT INTO meeting_details (id, updated_at) VALUES (1, 0);

CREATE TABLE booking_reminders (
    id              BIGSERIAL PRIMARY KEY,
    booking_id      BIGINT  NOT NULL REFERENCES bookings (id) ON DELETE CASCADE,
    booking_change_id BIGINT NOT NULL REFERENCES booking_changes (id) ON DELETE CASCADE,
    start_at        BIGINT  NOT NULL,
    minutes_before  BIGINT  NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('queued', 'skipped', 'dropped')),
    outbox_id       BIGINT  REFERENCES outbox (id) ON DELETE SET NULL,
    at              BIGINT  NOT NULL,
    UNIQUE (booking_id, booking_change_id, minutes_before)
);
CREATE INDEX booking_reminders_outbox ON booking_reminders (outbox_id);

CREATE TABLE daily_agendas (
    day         TEXT    PRIMARY KEY,
    outbox_id   BIGINT  REFERENCES outbox (id) ON DELETE SET NULL,
    at          BIGINT  NOT NULL
);

-- The program reads only the kinds of mail it knows; the list is no longer kept twice.
ALTER TABLE outbox DROP CONSTRAINT IF EXISTS outbox_kind_check;
