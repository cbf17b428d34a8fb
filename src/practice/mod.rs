//! The rules of the practice, free of HTTP, SQL and templates.
//!
//! This is where a reader learns the business: which places the clinician may serve, and (as the
//! consultation desk grows) what a consultation request is and how it moves through the KAP
//! process, and how a person books the initial consultation.

pub mod booking;
pub mod consultation;
pub mod measures;
pub mod meeting;
pub mod open_times;
pub mod questionnaire;
pub mod status;
pub mod us_states;
