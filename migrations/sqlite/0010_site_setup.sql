-- The site run from the browser.
--
-- The first-run setup address: one at a time (the row with id 1), kept as the SHA-256 of its
-- token only, so a copy of the database does not open it. Several servers share it.
CREATE TABLE setup_tokens (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    token_hash  TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);

-- The practice's details as saved in the inbox: one row, the values as a JSON object by field
-- name, with a version that each save raises (a save from an older version is refused).
CREATE TABLE practice_details (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    fields    TEXT    NOT NULL,
    version   INTEGER NOT NULL,
    saved_at  INTEGER NOT NULL,
    saved_by  TEXT    NOT NULL
);

-- Raised by every change to what the public site shows (details, words, pages), in the same
-- transaction: each server looks at it every few seconds and rebuilds its pages when it moved.
CREATE TABLE site_version (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    version  INTEGER NOT NULL
);
INSERT INTO site_version (id, version) VALUES (1, 0);

-- The page's words: every publish of a content file's text (by its path inside content/, such
-- as home/10-is-kap-safe.md) is a revision. The newest revision of a file is what the site
-- shows; a file with none shows the built-in words.
CREATE TABLE content_revisions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    section       TEXT    NOT NULL,
    body          TEXT    NOT NULL,
    published_at  INTEGER NOT NULL,
    published_by  TEXT    NOT NULL,
    restored_from INTEGER
);
CREATE INDEX content_revisions_section ON content_revisions (section, id);

-- Simple pages of the clinician's own (About, Fees…). A removed page keeps its row, so its
-- address answers 410 Gone and is not given to another page.
CREATE TABLE own_pages (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    path        TEXT    NOT NULL UNIQUE,
    title       TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    changed_at  INTEGER NOT NULL,
    changed_by  TEXT    NOT NULL,
    removed_at  INTEGER
);
