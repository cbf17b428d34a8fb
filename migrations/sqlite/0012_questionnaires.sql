-- Questionnaires a person answers before and between sessions: the screening questions,
-- medications and the standard measures (PHQ-9, GAD-7). Every answer, free text and score is
-- health information: it lives only in `answers_sealed`, sealed and bound to the row's id (see
-- src/store/fields.rs). `needs_attention` is set when the PHQ-9's item 9 is answered above
-- "Not at all", so the inbox can raise it at the top without opening every questionnaire; it
-- holds no answer. Rows go with their request (deletion, retention).
CREATE TABLE questionnaires (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id        INTEGER NOT NULL REFERENCES consultation_requests (id) ON DELETE CASCADE,
    kind              TEXT    NOT NULL CHECK (kind IN ('intake', 'measures')),
    sent_at           INTEGER NOT NULL,
    updated_at        INTEGER,
    completed_at      INTEGER,
    answers_sealed    BLOB,
    needs_attention   INTEGER NOT NULL DEFAULT 0 CHECK (needs_attention IN (0, 1)),
    attention_seen_at INTEGER
);

-- One intake questionnaire per request: offering it twice at the same moment gives one.
CREATE UNIQUE INDEX questionnaires_one_intake ON questionnaires (request_id) WHERE kind = 'intake';
CREATE INDEX questionnaires_by_request ON questionnaires (request_id, id);
CREATE INDEX questionnaires_attention ON questionnaires (needs_attention) WHERE needs_attention = 1;

-- The outbox learns the questionnaire emails. SQLite cannot alter a CHECK constraint, so the
-- table is rebuilt (nothing refers to it).
CREATE TABLE outbox_new (
    id                  INTEGER PRIMARY KEY,
    kind                TEXT    NOT NULL CHECK (kind IN ('new_request_notice', 'acknowledgement',
                                 'booking_held', 'booking_held_notice', 'booking_confirmed',
                                 'booking_declined', 'booking_other_time', 'booking_cancelled',
                                 'booking_cancelled_notice', 'questionnaire_link',
                                 'questionnaire_attention_notice')),
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
