//! The rules of the practice, free of HTTP, SQL and templates.
//!
//! A crate of its own so that the compiler keeps it that way: it depends on no runtime,
//! database, web or template crate, and nothing here may do I/O, format a page or parse a form.
//! The store, the mail and the web depend on it; it depends on none of them.
//!
//! This is where a reader learns the business: which places the clinician may serve, and (as the
//! consultation desk grows) what a consultation request is and how it moves through the KAP
//! process, and how a person books the initial consultation.

pub mod booking;
/// Calendar files (iCalendar): the invitation, its cancellation and the clinician's feed, whose
/// words never name the treatment.
pub mod calendar;
pub mod consultation;
mod debug_shows;
/// The Good Faith Estimate of the No Surprises Act: when it is due and what it says.
pub mod good_faith_estimate;
pub mod host;
/// The words of the mail the practice sends (what kind a piece of mail is, where it stands,
/// what came of sending it). They live here rather than beside the mail code, which sits above
/// the store: the store writes and reads them in the outbox, so they must be below it, and they
/// need nothing but time. Composing and sending mail stays in the mail layer.
pub mod mail;
pub mod measures;
pub mod meeting;
pub mod neutral;
pub mod open_times;
pub mod questionnaire;
pub mod status;
mod text_forms;
pub mod us_states;
/// How times and time zones are written for people, in pages and emails alike.
pub mod wording;
