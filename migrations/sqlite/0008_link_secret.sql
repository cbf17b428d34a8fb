-- Every booking link is bound to its request by a secret stored with the request: 128 random
-- bits as 32 hex characters, drawn by the application for each new request and signed into
-- each link (see src/auth/link.rs), so a link opens only the request it was made for. Existing
-- requests get theirs here; links sent before this change are refused.
ALTER TABLE consultation_requests ADD COLUMN link_secret TEXT NOT NULL DEFAULT '';
UPDATE consultation_requests SET link_secret = lower(hex(randomblob(16)));
