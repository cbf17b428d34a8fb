//! Form posts: one way in for every form. [`Posted<F>`] reads an
//! `application/x-www-form-urlencoded` body (within the body limit), decodes it strictly into
//! the form's own type `F` (serde), checks the form's token where it has one, and refuses
//! anything else with `F`'s own page: a 4xx with a reason a person can read.
//!
//! Browsers send well-formed forms; anything else is refused before it reaches the rules of the
//! practice: bytes that are not UTF-8 (after percent-decoding), a field sent twice, a broken
//! percent escape. Fields the form does not read are ignored.

use std::collections::HashMap;

use axum::extract::{FromRequest, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde::de::DeserializeOwned;

use super::AppState;
use super::middleware::BODY_LIMIT;
use super::respond::refusal;

/// A form post, decoded into its form's type.
pub struct Posted<F>(pub F);

/// Why a form post was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not sent as a web form (415).
    NotAForm,
    /// Longer than the form can be (413).
    TooLarge,
    /// It cannot be read (400).
    Unreadable(FormDecodeError),
    /// Its token was not one this site gave out (400).
    Forged,
}

/// A form that is posted: its fields, its token check and its refusal page.
pub trait PostedForm: DeserializeOwned + Send + Sized {
    /// The fields the form sends (each at most once).
    const FIELDS: &'static [&'static str];

    /// Whether the form reads the field `name` (by default: it is one of [`Self::FIELDS`]).
    fn reads(name: &str) -> bool {
        Self::FIELDS.contains(&name)
    }

    /// Whether the form may send the field `name` more than once (its values then arrive one
    /// a line).
    fn repeats(_name: &str) -> bool {
        false
    }

    /// Checks the form's token, once decoded (by default the form has none).
    fn check(
        &mut self,
        _state: &AppState,
        _parts: &mut Parts,
    ) -> impl Future<Output = Result<(), Refusal>> + Send {
        async { Ok(()) }
    }

    /// The page a refused post gets: this form's own.
    fn refused(state: &AppState, refusal: Refusal, headers: &HeaderMap) -> Response;
}

/// The words of a refusal page for a form whose pages say them differently.
pub struct RefusalWords<'a> {
    /// What happened to the post, after every refusal ("Nothing was saved.").
    pub nothing: &'a str,
    /// What to do instead, after a refusal for not being a web form.
    pub use_the_form: &'a str,
    /// The heading and paragraph for a post that is too long.
    pub too_large: (&'a str, &'a str),
    /// What to do after an unreadable or forged post.
    pub again: &'a str,
}

/// The refusal page of a form on a person's own page (their booking, their documents):
/// `nothing` says what did not happen ("Nothing was signed."), `again` what to do instead.
pub fn refuse_on_own_page(
    state: &AppState,
    refused: Refusal,
    headers: &HeaderMap,
    nothing: &str,
    again: &str,
) -> Response {
    let use_the_form = "Please use the form on the page.";
    let too_large = format!("{nothing} {use_the_form}");
    RefusalWords {
        nothing,
        use_the_form,
        too_large: ("What you sent is too large", &too_large),
        again,
    }
    .page(state, refused, headers)
}

impl RefusalWords<'_> {
    /// The refusal page for `refusal`, in these words.
    pub fn page(&self, state: &AppState, refused: Refusal, headers: &HeaderMap) -> Response {
        match refused {
            Refusal::NotAForm => {
                let why = format!(
                    "The request was not sent as a web form (application/x-www-form-urlencoded). {} {}",
                    self.nothing, self.use_the_form
                );
                refusal(
                    state,
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "This form could not be read",
                    &[&why],
                    headers,
                )
            }
            Refusal::TooLarge => {
                let (heading, why) = self.too_large;
                refusal(
                    state,
                    StatusCode::PAYLOAD_TOO_LARGE,
                    heading,
                    &[why],
                    headers,
                )
            }
            Refusal::Unreadable(e) => {
                let why = format!("The form could not be read because {e}. {}", self.nothing);
                refusal(
                    state,
                    StatusCode::BAD_REQUEST,
                    "This form could not be read",
                    &[&why, self.again],
                    headers,
                )
            }
            Refusal::Forged => {
                let why = format!(
                    "The form’s security check did not match, which happens when a form comes from somewhere other than this site. {} {}",
                    self.nothing, self.again
                );
                refusal(
                    state,
                    StatusCode::BAD_REQUEST,
                    "This form could not be accepted",
                    &[&why],
                    headers,
                )
            }
        }
    }
}

impl<F: PostedForm> FromRequest<AppState> for Posted<F> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let refuse = |why, parts: &Parts| F::refused(state, why, &parts.headers);
        let mime = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .unwrap_or("")
            .trim();
        if !mime.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            return Err(refuse(Refusal::NotAForm, &parts));
        }
        let Ok(body) = axum::body::to_bytes(body, BODY_LIMIT).await else {
            return Err(refuse(Refusal::TooLarge, &parts));
        };
        let mut form = decode_with(&body, F::reads, F::repeats)
            .and_then(|fields| {
                F::deserialize(serde::de::value::MapDeserializer::new(fields.into_iter()))
                    .map_err(|_: serde::de::value::Error| FormDecodeError::Shape)
            })
            .map_err(|e| refuse(Refusal::Unreadable(e), &parts))?;
        match form.check(state, &mut parts).await {
            Ok(()) => Ok(Posted(form)),
            Err(why) => Err(refuse(why, &parts)),
        }
    }
}

/// Why a form body cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormDecodeError {
    #[error("the field “{0}” was sent more than once")]
    Duplicate(String),
    #[error("part of the form is not valid text (UTF-8)")]
    InvalidUtf8,
    #[error("part of the form is not encoded correctly")]
    BadEscape,
    #[error("its fields are not those of this form")]
    Shape,
}

/// Decodes a body into field values, refusing duplicates of the `known` fields.
pub fn decode(body: &[u8], known: &[&str]) -> Result<HashMap<String, String>, FormDecodeError> {
    decode_with(body, |name| known.contains(&name), |_| false)
}

/// Decodes a body into the values of the fields `reads` names, refusing duplicates of them
/// but of those that `repeats` names, whose values are kept one a line.
pub fn decode_with(
    body: &[u8],
    reads: impl Fn(&str) -> bool,
    repeats: impl Fn(&str) -> bool,
) -> Result<HashMap<String, String>, FormDecodeError> {
    let mut fields = HashMap::new();
    for pair in body.split(|b| *b == b'&') {
        if pair.is_empty() {
            continue;
        }
        let (name, value) = match pair.iter().position(|b| *b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &[][..]),
        };
        let name = unescape(name)?;
        if !reads(&name) {
            continue;
        }
        let value = unescape(value)?;
        if repeats(&name) {
            let values: &mut String = fields.entry(name).or_default();
            if !values.is_empty() {
                values.push('\n');
            }
            values.push_str(&value);
        } else if fields.insert(name.clone(), value).is_some() {
            return Err(FormDecodeError::Duplicate(name));
        }
    }
    Ok(fields)
}

fn unescape(input: &[u8]) -> Result<String, FormDecodeError> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = input.get(i + 1..i + 3).ok_or(FormDecodeError::BadEscape)?;
                let hi = (hex[0] as char)
                    .to_digit(16)
                    .ok_or(FormDecodeError::BadEscape)?;
                let lo = (hex[1] as char)
                    .to_digit(16)
                    .ok_or(FormDecodeError::BadEscape)?;
                out.push((hi * 16 + lo) as u8);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| FormDecodeError::InvalidUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: &[&str] = &["name", "message"];

    #[test]
    fn decodes_plus_and_percent() {
        let f = decode(b"name=Ada+L%C3%B6velace&message=a%26b%3Dc&other=x", KNOWN).expect("ok");
        assert_eq!(f["name"], "Ada Lövelace");
        assert_eq!(f["message"], "a&b=c");
        assert!(!f.contains_key("other"));
    }

    #[test]
    fn refuses_duplicates_bad_utf8_and_bad_escapes() {
        assert_eq!(
            decode(b"name=a&name=b", KNOWN),
            Err(FormDecodeError::Duplicate("name".into()))
        );
        assert_eq!(
            decode(b"name=%FF%FE", KNOWN),
            Err(FormDecodeError::InvalidUtf8)
        );
        assert_eq!(decode(b"name=%4", KNOWN), Err(FormDecodeError::BadEscape));
        assert_eq!(decode(b"name=%zz", KNOWN), Err(FormDecodeError::BadEscape));
        assert_eq!(
            decode(b"name=\xff", KNOWN),
            Err(FormDecodeError::InvalidUtf8)
        );
    }

    #[test]
    fn keeps_nul_and_newlines_for_the_rules_to_judge() {
        let f = decode(b"name=a%00b&message=x%0D%0Ay", KNOWN).expect("ok");
        assert_eq!(f["name"], "a\0b");
        assert_eq!(f["message"], "x\r\ny");
    }
}
