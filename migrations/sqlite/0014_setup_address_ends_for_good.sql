-- The first-run setup address works only while the practice has never had an account. Until
-- now it asked whether an account exists, so removing the last account (one made with
-- `admin add`, say) opened an unexpired address again. From now on the program writes the
-- `accounts_began` setting in the transaction that makes any account and never deletes it;
-- here it is written for a database that has, or has had, an account (an `account_added`
-- line in the audit log), with the time of the first one known.
INSERT INTO settings (key, value)
SELECT 'accounts_began', CAST(CAST(first AS TEXT) AS BLOB)
FROM (SELECT min(at) AS first
      FROM (SELECT created_at AS at FROM admin_accounts
            UNION ALL
            SELECT at FROM audit_log WHERE action = 'account_added'))
WHERE first IS NOT NULL
ON CONFLICT (key) DO NOTHING;
DELETE FROM setup_tokens WHERE EXISTS (SELECT 1 FROM settings WHERE key = 'accounts_began');
