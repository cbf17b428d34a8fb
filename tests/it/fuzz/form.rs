//! The `form` fuzz target's body, `check`: written once, run by libFuzzer (`cargo xtask fuzz`)
//! and by `cargo test` (see `tests/it/fuzz/mod.rs`).
//!
//! The contact form, from raw body to valid request: `web::form::decode` then
//! `ConsultationForm::validate`, exactly as `POST /contact` calls them.
//!
//! Besides never panicking, it checks what the rest of the system relies on: a decoded form holds
//! only known fields; a valid request's one-line fields are on one line and free of control
//! characters (tab aside), its message is at most 2000 characters with `\n` line ends, its flags agree with
//! its answers, and its `Debug` shows no personal field; a refused form gets at least one message
//! per problem, in form order, one per field.

use practice::consultation::{
    AgeGroup, EMAIL_MAX, Field, Licence, Location, MESSAGE_MAX, NAME_MAX, PHONE_MAX, REFERRAL_MAX,
    valid_email, valid_phone,
};
use web::contact::{FIELDS, form_of};
use web::form::{FormDecodeError, decode};

pub fn check(body: &[u8]) {
    let fields = match decode(body, FIELDS) {
        Ok(fields) => fields,
        Err(e) => {
            assert!(!e.to_string().is_empty(), "a decode error has no message");
            if let FormDecodeError::Duplicate(name) = &e {
                assert!(
                    FIELDS.contains(&name.as_str()),
                    "duplicate of an unknown field {name:?}"
                );
            }
            return;
        }
    };
    for name in fields.keys() {
        assert!(
            FIELDS.contains(&name.as_str()),
            "unknown field {name:?} kept"
        );
    }

    let form = form_of(&fields);
    let licensed = ["CA".to_string()];
    match form.validate(&Licence { states: &licensed }) {
        Ok(request) => {
            one_line("name", &request.name, NAME_MAX);
            assert!(!request.name.is_empty(), "empty name accepted");
            one_line("email", &request.email, EMAIL_MAX);
            assert!(valid_email(&request.email), "invalid email accepted");
            if let Some(phone) = &request.phone {
                one_line("phone", phone, PHONE_MAX);
                assert!(valid_phone(phone), "invalid phone accepted");
            }
            if let Some(referral) = &request.referral_source {
                one_line("referral_source", referral, REFERRAL_MAX);
            }
            if let Some(message) = &request.message {
                assert!(!message.is_empty(), "Some(\"\") message");
                assert!(
                    message.chars().count() <= MESSAGE_MAX,
                    "message of {} characters accepted",
                    message.chars().count()
                );
                for c in message.chars() {
                    assert!(c != '\r', "message keeps a \\r");
                    assert!(
                        !c.is_control() || c == '\n' || c == '\t',
                        "message keeps control character {c:?}"
                    );
                }
            }
            for value in [&request.phone, &request.referral_source] {
                assert!(value.as_deref() != Some(""), "Some(\"\") kept");
            }
            assert_eq!(form.consent.trim(), "yes", "accepted without consent");
            assert_eq!(
                request.flags.minor,
                request.age_group == AgeGroup::Minor,
                "minor flag disagrees with the age group"
            );
            assert_eq!(
                request.flags.outside_licensed_states,
                request.location != Location::State("CA".into()),
                "licence flag disagrees with the location"
            );
            // `Debug` must never show personal fields (it can reach logs). The email holds an
            // `@` and the phone at least 7 digits; the `Debug` text has neither.
            let debug = format!("{request:?}");
            assert!(!debug.contains(&request.email), "Debug shows the email");
            if let Some(phone) = &request.phone {
                assert!(!debug.contains(phone.as_str()), "Debug shows the phone");
            }
        }
        Err(errors) => {
            assert!(!errors.is_empty(), "refused with no message");
            let mut previous: Option<Field> = None;
            for e in &errors {
                assert!(
                    !e.message.trim().is_empty(),
                    "empty message for {:?}",
                    e.field
                );
                if let Some(p) = previous {
                    assert!(
                        p < e.field,
                        "errors out of form order or repeated: {errors:?}"
                    );
                }
                previous = Some(e.field);
            }
        }
    }
}

/// A single-line field of a valid request: trimmed, on one line, no control characters but tab
/// (which the rules accept as a space).
fn one_line(field: &str, value: &str, max: usize) {
    assert!(
        value.chars().count() <= max,
        "{field} longer than {max} characters accepted"
    );
    assert_eq!(value, value.trim(), "{field} not trimmed");
    for c in value.chars() {
        assert!(
            !matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}'),
            "{field} holds a line break {c:?}"
        );
        assert!(
            !c.is_control() || c == '\t',
            "{field} holds control character {c:?}"
        );
    }
}
