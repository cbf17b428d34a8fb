-- Good Faith Estimates (No Surprises Act, 45 CFR 149.610) made for a request's person. What
-- the estimate says (the person's name and date of birth as the clinician entered them, the
-- services, codes and charges, the text as given) is one sealed value bound to the row's id,
-- written once: a corrected estimate is a new row. What made it due and by when, and when it
-- was given and how, are plain: they say what happened, not to whom. Rows go with their
-- request (deletion, retention); the law asks for a copy to be kept six years, which the
-- retention period of a request that reached a consultation (seven years by default) covers.
CREATE TABLE good_faith_estimates (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id      INTEGER NOT NULL REFERENCES consultation_requests (id) ON DELETE CASCADE,
    made_at         INTEGER NOT NULL,
    made_by         TEXT    NOT NULL,
    -- 'requested' (the person asked) or 'scheduled' (a service was scheduled).
    due_because     TEXT    NOT NULL CHECK (due_because IN ('requested', 'scheduled')),
    -- When the person asked or the service was scheduled.
    due_from        INTEGER NOT NULL,
    -- The day the scheduled service is to be given (YYYY-MM-DD), for 'scheduled'.
    service_on      TEXT,
    -- The last day to give it (YYYY-MM-DD, the practice's calendar); none when the law asks
    -- for none (a service scheduled fewer than 3 business days ahead).
    due_on          TEXT,
    estimate_sealed BLOB,
    given_at        INTEGER,
    -- 'email' (a link sent to the person) or 'pdf' (the clinician gave the PDF).
    given_how       TEXT CHECK (given_how IS NULL OR given_how IN ('email', 'pdf'))
);
CREATE INDEX good_faith_estimates_by_request ON good_faith_estimates (request_id, id);
