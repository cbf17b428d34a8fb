-- A session is bound to its account's credentials by a random stamp rather than a count.
--
-- `credentials_version` counted changes from 0, and SQLite gave a new account the id of a
-- removed one (the largest id plus one), so a session of a removed account that had never
-- changed its credentials matched the next account made: the old cookie opened the inbox as
-- someone else, and the audit log named the wrong person. Now:
-- - account ids are never given twice (AUTOINCREMENT keeps the largest id ever given in
--   sqlite_sequence), and
-- - `credentials_stamp` is 128 random bits, drawn when the account is made and again whenever
--   its password or two-factor sign-in changes; a session remembers the stamp it began under
--   and every signed-in request compares the two. A stamp never comes back, whatever happens
--   to ids (a restored backup, a row made by hand).
-- Sessions from before this change carry no stamp: their clinician signs in again.
--
-- SQLite cannot add AUTOINCREMENT to a table, so it is rebuilt as in 0007 (foreign keys are off
-- while migrations run and checked afterwards; recovery_codes refers to it by name).

CREATE TABLE admin_accounts_new (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    email                TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    password_hash        TEXT    NOT NULL,
    -- Two-factor secret, sealed; set once enrolment is confirmed with a first code.
    totp_secret_sealed   BLOB,
    -- The last 30-second step a code was accepted for (codes are never accepted twice).
    totp_last_step       INTEGER,
    created_at           INTEGER NOT NULL,
    password_changed_at  INTEGER NOT NULL,
    -- Drawn here for every new row; replaced by the application on every credential change.
    credentials_stamp    TEXT    NOT NULL DEFAULT (lower(hex(randomblob(16))))
);
INSERT INTO admin_accounts_new (id, email, password_hash, totp_secret_sealed, totp_last_step,
                                created_at, password_changed_at)
SELECT id, email, password_hash, totp_secret_sealed, totp_last_step, created_at,
       password_changed_at
FROM admin_accounts;
DROP TABLE admin_accounts;
ALTER TABLE admin_accounts_new RENAME TO admin_accounts;

-- A removed account may have had a larger id than any left; its sessions still name it.
DELETE FROM sqlite_sequence WHERE name = 'admin_accounts';
INSERT INTO sqlite_sequence (name, seq)
SELECT 'admin_accounts', max(coalesce((SELECT max(id) FROM admin_accounts), 0),
                             coalesce((SELECT max(account_id) FROM admin_sessions), 0));
