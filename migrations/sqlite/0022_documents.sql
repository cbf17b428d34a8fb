-- The practice's documents sent to a person to sign (a packet) and each document in it. The
-- document's text as sent (the published revision with the practice's and the prescriber's
-- fields filled in) is sealed and bound to the row's id, and never changes: the clinician may
-- edit the document afterwards, the signed copy stays as signed. The signature (the name typed,
-- the role, the text's SHA-256, the consent to sign electronically it was given under) is one
-- sealed value bound to the row, written once (the store signs only unsigned rows). Times are
-- plain: they say what happened, not to whom. Rows go with their request (deletion, retention).
CREATE TABLE document_packets (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id  INTEGER NOT NULL REFERENCES consultation_requests (id) ON DELETE CASCADE,
    sent_at     INTEGER NOT NULL,
    sent_by     TEXT    NOT NULL,
    opened_at   INTEGER,
    reminded_at INTEGER
);
CREATE INDEX document_packets_by_request ON document_packets (request_id, id);

CREATE TABLE packet_documents (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    packet_id        INTEGER NOT NULL REFERENCES document_packets (id) ON DELETE CASCADE,
    -- The document's path inside content/ (documents/10-kap-informed-consent.md).
    document         TEXT    NOT NULL,
    -- The published revision the text was filled in from (content_revisions.id).
    revision_id      INTEGER NOT NULL,
    text_sealed      BLOB,
    signed_at        INTEGER,
    signature_sealed BLOB,
    revoked_at       INTEGER,
    CHECK (revoked_at IS NULL OR signed_at IS NOT NULL)
);
CREATE INDEX packet_documents_by_packet ON packet_documents (packet_id, id);
