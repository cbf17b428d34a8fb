-- When attention was raised, and when the second urgent notice was queued (see
-- migrations/sqlite/0018_second_urgent_notice.sql).
ALTER TABLE questionnaires ADD COLUMN attention_raised_at BIGINT;
ALTER TABLE questionnaires ADD COLUMN attention_overdue_at BIGINT;
UPDATE questionnaires SET attention_raised_at = updated_at WHERE needs_attention;
