-- The site run from the browser.
--
-- The first-run setup address: one at a time (the row with id 1), kept as the SHA-256 of its
-- token only, so a copy of the database does not open it. Several servers share it.
CREATE TABLE setup_tokens (
    id          BIGINT PRIMARY KEY CHECK (id = 1),
    token_hash  TEXT   NOT NULL,
    created_at  BIGINT NOT NULL
);
