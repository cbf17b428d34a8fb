-- When a questionnaire's answers last raised "needs attention", and when the second urgent
-- notice was queued because it was not followed up within the time the person was told
-- (contact_form.urgent_reply_hours). A raise sets the first and clears the second; the
-- second is set once, by whichever server's worker claims it first (src/store/questionnaires.rs).
ALTER TABLE questionnaires ADD COLUMN attention_raised_at INTEGER;
ALTER TABLE questionnaires ADD COLUMN attention_overdue_at INTEGER;
-- Flags raised before this version: the last save is the best record of when.
UPDATE questionnaires SET attention_raised_at = updated_at WHERE needs_attention = 1;
