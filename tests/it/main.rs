//! The integration tests, one crate with a module per area, all sharing the helpers in `common`
//! (a real server on loopback, its client, an SMTP server, a PostgreSQL database of its own).
//!
//! This is the fast tier, what plain `cargo test` runs: no Chromium, no PostgreSQL server of a
//! test's own, no drills that take minutes. Those are the slow tier, tests/slow (the bench
//! target `slow`, run by `cargo test --bench slow` and by `cargo xtask test`), built on the same
//! library and the same `common`; nothing is skipped at run time.

// Shared with tests/slow, which uses other parts of it.
#[allow(dead_code)]
mod common;

mod admin;
mod backups;
mod booking;
mod calendar_file;
mod cli;
mod connections;
mod contact_form;
mod documents;
mod estimates;
mod first_run;
mod fuzz;
mod insights;
mod mail;
mod page_words;
mod practice_details;
mod practice_in_force;
mod public_site;
mod questionnaire;
mod records;
mod reliability;
mod reminders;
mod security_headers;
mod tls;
