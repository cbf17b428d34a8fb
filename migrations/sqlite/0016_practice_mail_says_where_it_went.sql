-- Where a piece of mail to the practice went, once the mail server accepted it: the practice's
-- own notice address as it was at sending (it can change in the inbox), so the request's page
-- can say "Urgent notice sent to … at …". Mail to a person keeps its address sealed in
-- `recipient_sealed`; this column is never written for it.
ALTER TABLE outbox ADD COLUMN sent_to TEXT;
