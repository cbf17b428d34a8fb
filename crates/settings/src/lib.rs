//! The practice in force: the config file read and checked, and the settings the clinician can
//! also change in the browser (the practice's details, the backup settings), put together in
//! one place that every page, email and worker reads.
//!
//! It owns the typed config (`config`, with file:line problems), the details saved in the inbox
//! and their checks (`details`), the backup settings (`backup`), the crisis lines (`crisis`),
//! the going-live checklist (`going_live`) and the one reader of all of them (`in_force`).
//! A crate of its own so that the compiler keeps it below the web and the mail: it must never
//! depend on a runtime, a database, a web or template crate, or the mail; they depend on it.
//! It reads no database: what was saved in the inbox is handed to it.

pub mod backup;
pub mod config;
pub mod crisis;
pub mod details;
pub mod going_live;
pub mod in_force;
