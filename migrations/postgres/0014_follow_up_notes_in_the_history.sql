-- A sealed note with an event of a request's history (see
-- migrations/sqlite/0017_follow_up_notes_in_the_history.sql).
ALTER TABLE request_history ADD COLUMN note_sealed BYTEA;
