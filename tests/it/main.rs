//! The integration tests, one crate with a module per area, all sharing the helpers in `common`
//! (a real server on loopback, its client, an SMTP server, a PostgreSQL database of its own) and
//! the browser in `harness`.
//!
//! Plain `cargo test` is the fast tier: no Chromium, no PostgreSQL server of a test's own, no
//! drills that take minutes. The feature `slow-tests` (turned on by `cargo xtask test`) compiles
//! those in as well; nothing is skipped at run time.

mod common;
#[cfg(feature = "slow-tests")]
mod harness;

mod admin;
mod booking;
#[cfg(feature = "slow-tests")]
mod browser;
#[cfg(feature = "slow-tests")]
mod browser_booking;
#[cfg(feature = "slow-tests")]
mod browser_editor;
#[cfg(feature = "slow-tests")]
mod browser_insights;
#[cfg(feature = "slow-tests")]
mod browser_journeys;
#[cfg(feature = "slow-tests")]
mod browser_meeting;
#[cfg(feature = "slow-tests")]
mod browser_questionnaire;
mod calendar_file;
mod cli;
mod connections;
mod contact_form;
#[cfg(feature = "slow-tests")]
mod drills;
mod first_run;
mod fuzz;
mod insights;
mod layers;
mod mail;
mod page_words;
mod practice_details;
mod practice_in_force;
mod public_site;
#[cfg(feature = "slow-tests")]
mod publish_everywhere;
mod questionnaire;
mod reliability;
mod reminders;
#[cfg(feature = "slow-tests")]
mod scale_out;
#[cfg(feature = "slow-tests")]
mod scale_out_reminders;
mod security_headers;
mod tls;
