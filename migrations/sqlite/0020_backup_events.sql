-- What the automatic backups did: each backup and verify with its outcome, the warning sent when
-- backups are late, and the backup key made and confirmed (by its id, never the key). The inbox,
-- /healthz and the late-backup warning read the latest of each kind. Object names, sizes, row
-- counts and storage errors only: no personal detail.
CREATE TABLE backup_events (
    id     INTEGER PRIMARY KEY,
    kind   TEXT NOT NULL CHECK (kind IN ('backup', 'verify', 'late_warning', 'key_made', 'key_confirmed')),
    at     INTEGER NOT NULL,
    ok     BOOLEAN NOT NULL,
    name   TEXT,
    bytes  INTEGER,
    detail TEXT
);
CREATE INDEX backup_events_kind_at ON backup_events (kind, at);
