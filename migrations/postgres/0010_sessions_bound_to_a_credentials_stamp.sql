-- A session is bound to its account's credentials by a random stamp rather than a count (see
-- migrations/sqlite/0013_sessions_bound_to_a_credentials_stamp.sql for why). Account ids come
-- from a sequence (BIGSERIAL), which never gives a value twice, so nothing is rebuilt here.
-- `credentials_stamp` is drawn for every new row (a random UUID's 122 random bits) and replaced
-- by the application on every credential change. Sessions from before this change carry no
-- stamp: their clinician signs in again.
ALTER TABLE admin_accounts
    ADD COLUMN credentials_stamp TEXT NOT NULL DEFAULT replace(gen_random_uuid()::text, '-', '');
ALTER TABLE admin_accounts DROP COLUMN credentials_version;
