//! The inbox's form posts: every one is a typed form ([`InboxForm`]) read by the one extractor
//! ([`Posted`](crate::form::Posted)), which also checks its token: the session's, or, on the
//! sign-in and first-run forms shown before any session exists, a signed short-lived one. A post
//! that cannot be read gets a 4xx that says why and that nothing was saved; one without a
//! genuine token, the "refused" page (403).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tower_sessions::Session;

use super::{SessionData, forbidden, sign_in};
use crate::AppState;
use crate::form::{PostedForm, Refusal};

/// A form of the inbox. Its type names its fields; the extractor checks its `csrf` token.
pub trait InboxForm: DeserializeOwned + Send {
    /// The form's fields besides `csrf`.
    const FIELDS: &'static [&'static str];
    /// Fields sent once per ticked box; their values arrive one a line.
    const LISTS: &'static [&'static str] = &[];
    /// What became of the post when it is refused.
    const NOTHING: &'static str = "Nothing was saved.";

    /// Whether the form reads the field `name` besides `csrf` (by default: it is one of
    /// [`Self::FIELDS`] or [`Self::LISTS`]).
    fn reads(name: &str) -> bool {
        Self::FIELDS.contains(&name) || Self::LISTS.contains(&name)
    }

    /// The token the form carried.
    fn csrf(&self) -> &str;
}

impl<F: InboxForm> PostedForm for F {
    const FIELDS: &'static [&'static str] = <F as InboxForm>::FIELDS;

    fn reads(name: &str) -> bool {
        name == "csrf" || <F as InboxForm>::reads(name)
    }

    fn repeats(name: &str) -> bool {
        F::LISTS.contains(&name)
    }

    async fn check(&mut self, state: &AppState, parts: &mut Parts) -> Result<(), Refusal> {
        if genuine(state, parts, self.csrf()).await {
            Ok(())
        } else {
            Err(Refusal::Forged)
        }
    }

    fn refused(state: &AppState, why: Refusal, _headers: &HeaderMap) -> Response {
        match why {
            Refusal::Forged => forbidden(
                state,
                "This form has expired or did not come from the inbox. Go back, reload the page, and try again.",
            ),
            Refusal::TooLarge => {
                (StatusCode::PAYLOAD_TOO_LARGE, "What you sent is too large.").into_response()
            }
            Refusal::NotAForm => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "The request was not sent as a web form. {} Go back and use the form.",
                    F::NOTHING
                ),
            )
                .into_response(),
            Refusal::Unreadable(e) => (
                StatusCode::BAD_REQUEST,
                format!("The form could not be read because {e}. {}", F::NOTHING),
            )
                .into_response(),
        }
    }
}

/// Whether `token` is the session's, or, on a form shown before there is a session, one this
/// site signed a short while ago.
async fn genuine(state: &AppState, parts: &mut Parts, token: &str) -> bool {
    let Ok(session) = Session::from_request_parts(parts, state).await else {
        return false;
    };
    let data = SessionData::load(&session).await;
    let path = parts.uri.path();
    let before_session = path == "/admin/login"
        || path == "/admin/login/forgot"
        || path.starts_with("/admin/login/reset/")
        || path.starts_with("/admin/setup/");
    (!data.csrf.is_empty() && crypto::equal(token.as_bytes(), data.csrf.as_bytes()))
        || (before_session
            && state
                .form_tokens
                .verify(token, Timestamp::now(), sign_in::SIGN_IN_FORM_AGE)
                .is_ok())
}

/// A form that is only a button: its token and nothing else.
#[derive(Default, Deserialize)]
#[serde(default)]
pub struct Button {
    pub csrf: String,
}

impl InboxForm for Button {
    const FIELDS: &'static [&'static str] = &[];

    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// Declares an inbox form: a struct of text fields (each empty when not sent) and a `csrf`.
macro_rules! inbox_form {
    ($(#[$meta:meta])* $name:ident { $($(#[$fmeta:meta])* $field:ident),* $(,)? }) => {
        inbox_form!($(#[$meta])* $name { $($(#[$fmeta])* $field),* } "Nothing was saved.");
    };
    ($(#[$meta:meta])* $name:ident { $($(#[$fmeta:meta])* $field:ident),* $(,)? } $nothing:literal) => {
        $(#[$meta])*
        #[derive(Default, serde::Deserialize)]
        #[serde(default)]
        pub struct $name {
            pub csrf: String,
            $($(#[$fmeta])* pub $field: String,)*
        }

        impl $crate::admin::posted::InboxForm for $name {
            const FIELDS: &'static [&'static str] = &[$(stringify!($field)),*];
            const NOTHING: &'static str = $nothing;

            fn csrf(&self) -> &str {
                &self.csrf
            }
        }
    };
}
pub(crate) use inbox_form;
