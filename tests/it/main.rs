//! The integration tests, one crate with a module per area, all sharing the helpers in `common`
//! (a real server on loopback, its client, an SMTP server, a PostgreSQL database of its own) and
//! the browser in `harness`.

mod common;
mod harness;

mod admin;
mod booking;
mod browser;
mod browser_booking;
mod browser_journeys;
mod calendar_file;
mod cli;
mod connections;
mod contact_form;
mod drills;
mod mail;
mod public_site;
mod reliability;
mod scale_out;
mod security_headers;
