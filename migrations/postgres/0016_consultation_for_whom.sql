-- Whom a consultation request is for: the person writing ('myself') or someone they care for
-- ('someone_else', such as a parent writing for their child). age_group is the age of the
-- person the consultation is for. Requests sent before the form asked have none.
ALTER TABLE consultation_requests
    ADD COLUMN for_whom TEXT CHECK (for_whom IN ('myself', 'someone_else'));
