-- Where a piece of mail to the practice went (see
-- migrations/sqlite/0016_practice_mail_says_where_it_went.sql).
ALTER TABLE outbox ADD COLUMN sent_to TEXT;
