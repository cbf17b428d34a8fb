-- Visits and the path to a consultation, counted without identifying anyone: one number per
-- day, kind (page views, unique visitors, referring sites, campaign tags, steps towards a
-- consultation) and subject (the page, the site's host, the tag, the step). No address, user
-- agent or full referring URL is ever stored; see src/insights/.
CREATE TABLE insight_counts (
    day TEXT NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    total INTEGER NOT NULL,
    PRIMARY KEY (day, kind, subject)
);
