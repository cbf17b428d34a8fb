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

-- The outbox takes the questionnaire emails as they are: it lists no kinds since the
-- meeting details migration.
