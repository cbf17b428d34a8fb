-- A session ends when its account's password or two-factor sign-in changes, or the account is
-- removed. Each change counts up `credentials_version`; a session remembers the count it began
-- under and every signed-in request compares the two. Each session row also names its account,
-- so a change deletes the account's sessions at once.
ALTER TABLE admin_accounts ADD COLUMN credentials_version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE admin_sessions ADD COLUMN account_id BIGINT;
CREATE INDEX admin_sessions_account ON admin_sessions (account_id);
