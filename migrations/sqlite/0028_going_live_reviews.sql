-- The going-live checklist: what the clinician confirmed having reviewed before the public sees
-- the site (the privacy page, the crisis numbers, the credentials…), by whom and when. A site
-- already live when this arrived had its privacy page and crisis numbers before the public:
-- those two count as reviewed; its city, "who I am" section and credentials are checked anew.
CREATE TABLE going_live_reviews (
    item         TEXT    PRIMARY KEY,
    reviewed_by  TEXT    NOT NULL,
    reviewed_at  INTEGER NOT NULL
);

INSERT INTO going_live_reviews (item, reviewed_by, reviewed_at)
SELECT item, 'before the checklist', saved_at
FROM practice_details, (SELECT 'privacy' AS item UNION ALL SELECT 'crisis') AS items;
