-- Sign-in attempts are counted before they are checked (see
-- migrations/sqlite/0015_sign_in_attempts_counted_before_checking.sql and src/auth/throttle.rs).
CREATE TABLE sign_in_throttle (
    subject       TEXT    PRIMARY KEY,
    attempts      BIGINT  NOT NULL,
    started_at    BIGINT  NOT NULL,
    paused_until  BIGINT
);
DROP TABLE sign_in_failures;
