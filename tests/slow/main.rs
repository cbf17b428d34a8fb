//! The slow tier of the integration tests: real Chromium (the browser in `harness`), PostgreSQL
//! clusters a test starts on its own, several servers of one practice, ACME certificates, and
//! the disk and flood drills. `cargo test --bench slow` runs it (and `cargo xtask test`, after
//! the fast tier, on SQLite and then on PostgreSQL); plain `cargo test` leaves it out without
//! building it. It shares the harness of the fast tier, tests/it/common.

// Shared with tests/it, which uses other parts of it.
#[allow(dead_code)]
#[path = "../it/common/mod.rs"]
mod common;
mod harness;
// Shared with `cargo xtask screenshots` and `lighthouse`, which start Chromium the same way.
#[path = "../browser/chromium_flags.rs"]
mod chromium_flags;

mod backup_drill;
mod browser;
mod browser_booking;
mod browser_documents;
mod browser_editor;
mod browser_insights;
mod browser_journeys;
mod browser_meeting;
mod browser_questionnaire;
mod drills;
mod insights;
mod practice_in_force;
mod publish_everywhere;
mod scale_out;
mod scale_out_reminders;
mod tls;
