-- Sign-in attempts are counted before they are checked, one counter row per email or client
-- address, so that the database hands attempts out one at a time: a statement that refuses an
-- attempt while its counter is paused and otherwise counts it (see src/auth/throttle.rs).
-- The rows of single failures counted afterwards are no longer read; a pause under way when
-- the program is upgraded ends with it.
CREATE TABLE sign_in_throttle (
    -- account:<email> or ip:<address>
    subject       TEXT    PRIMARY KEY,
    -- Attempts in the current run (a right answer gives its attempt back).
    attempts      INTEGER NOT NULL,
    -- When the run began; a run older than the window is forgotten.
    started_at    INTEGER NOT NULL,
    -- Set by the attempt that reached the limit: until then, no attempt is checked.
    paused_until  INTEGER
);
DROP TABLE sign_in_failures;
