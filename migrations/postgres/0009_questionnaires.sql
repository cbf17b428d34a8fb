-- Questionnaires a person answers before and between sessions: the screening questions,
-- medications and the standard measures (PHQ-9, GAD-7). Every answer, free text and score is
-- health information: it lives only in `answers_sealed`, sealed and bound to the row's id (see
-- src/store/fields.rs). `needs_attention` is set when the PHQ-9's item 9 is answered above
-- "Not at all", so the inbox can raise it at the top without opening every questionnaire; it
-- holds no answer. Rows go with their request (deletion, retention).
CREATE TABLE questionnaires (
    id                BIGSERIAL PRIMARY KEY,
    request_id        BIGINT  NOT NULL REFERENCES consultation_requests (id) ON DELETE CASCADE,
    kind              TEXT    NOT NULL CHECK (kind IN ('intake', 'measures')),
    sent_at           BIGINT  NOT NULL,
    updated_at        BIGINT,
    completed_at      BIGINT,
    answers_sealed    BYTEA,
    needs_attention   BOOLEAN NOT NULL DEFAULT FALSE,
    attention_seen_at BIGINT
);

-- One intake questionnaire per request: offering it twice at the same moment gives one.
CREATE UNIQUE INDEX questionnaires_one_intake ON questionnaires (request_id) WHERE kind = 'intake';
CREATE INDEX questionnaires_by_request ON questionnaires (request_id, id);
CREATE INDEX questionnaires_attention ON questionnaires (needs_attention) WHERE needs_attention;

-- The outbox takes the questionnaire emails as they are: it lists no kinds since the
-- meeting details migration.
