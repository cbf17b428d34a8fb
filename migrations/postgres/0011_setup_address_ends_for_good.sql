-- The first-run setup address works only while the practice has never had an account (see
-- migrations/sqlite/0014_setup_address_ends_for_good.sql): the `accounts_began` setting is
-- written here for a database that has, or has had, an account.
INSERT INTO settings (key, value)
SELECT 'accounts_began', convert_to(first::text, 'UTF8')
FROM (SELECT min(at) AS first
      FROM (SELECT created_at AS at FROM admin_accounts
            UNION ALL
            SELECT at FROM audit_log WHERE action = 'account_added') AS made) AS began
WHERE first IS NOT NULL
ON CONFLICT (key) DO NOTHING;
DELETE FROM setup_tokens WHERE EXISTS (SELECT 1 FROM settings WHERE key = 'accounts_began');
