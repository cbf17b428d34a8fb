-- What several servers share, kept in the database: sign-in sessions and periodic jobs.
-- Also: a request's first history entry is written by the database as the request is stored.

-- Sessions used to be kept in a table of a session library's own shape; they are now sealed
-- like every other stored value. Existing sessions end: the clinician signs in again.
DROP TABLE IF EXISTS admin_sessions;
CREATE TABLE admin_sessions (
    id             TEXT    PRIMARY KEY,
    record_sealed  BLOB    NOT NULL,
    expires_at     INTEGER NOT NULL
);
CREATE INDEX admin_sessions_expiry ON admin_sessions (expires_at);

-- The last time each periodic job ran, claimed by one server per period.
CREATE TABLE periodic_jobs (
    name         TEXT    PRIMARY KEY,
    last_run_at  INTEGER NOT NULL
);

CREATE TRIGGER consultation_requests_received AFTER INSERT ON consultation_requests
BEGIN
    INSERT INTO request_history (request_id, at, actor, event)
    VALUES (NEW.id, NEW.received_at, 'visitor', 'received');
END;
