//! `/contact`: the form a person sends to ask for a consultation, and the page after it.
//!
//! The order of a submission: rate limit ▶ content type ▶ body ▶ token ▶ spam signals ▶ the
//! practice's rules ▶ one durable transaction (request + outbox) ▶ 303 to the thank-you page.
//! A person's mistake gets the form back (422) with everything they typed and a summary of what
//! to fix. Suspected spam gets the same thank-you page as everyone, is stored in the spam folder
//! (when it can be) and causes no email. If the database fails, the person is told plainly that
//! the request did NOT arrive, and how else to reach the practice.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;

use super::AppState;
use super::client::client_key;
use super::form::{FormDecodeError, decode};
use super::form_token::TokenError;
use super::middleware::BODY_LIMIT;
use super::pages::page_response;
use super::respond::{html_response, refusal};
use crate::mail::MailKind;
use crate::practice::consultation::SpamReason;
use crate::practice::consultation::{ConsultationForm, Licence, Location};
use crate::site::FormView;
use crate::store::Submission;

/// The form's field names, as the HTML sends them.
pub const FIELDS: &[&str] = &[
    "name",
    "email",
    "phone",
    "contact_method",
    "voicemail",
    "state",
    "for_whom",
    "age_group",
    "message",
    "referral_source",
    "consent",
    "website",
    "form_token",
];

/// The form's answers from its decoded fields (a field not sent is empty).
pub fn form_of(fields: &std::collections::HashMap<String, String>) -> ConsultationForm {
    let get = |name: &str| fields.get(name).cloned().unwrap_or_default();
    ConsultationForm {
        name: get("name"),
        email: get("email"),
        phone: get("phone"),
        contact_method: get("contact_method"),
        voicemail: get("voicemail"),
        state: get("state"),
        for_whom: get("for_whom"),
        age_group: get("age_group"),
        message: get("message"),
        referral_source: get("referral_source"),
        consent: get("consent"),
    }
}

/// `GET /contact`: the prepared page with a fresh token, compressed for this client.
pub async fn show(State(state): State<AppState>, method: Method, headers: HeaderMap) -> Response {
    let site = state.site.load();
    let token = state.form_tokens.issue(Timestamp::now());
    let split = &site.contact_form;
    let mut html = Vec::with_capacity(split.prefix.len() + token.len() + split.suffix.len());
    html.extend_from_slice(&split.prefix);
    html.extend_from_slice(token.as_bytes());
    html.extend_from_slice(&split.suffix);
    html_response(StatusCode::OK, html, &headers, method == Method::HEAD)
}

/// `POST /contact`.
pub async fn submit(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let headers = request.headers().clone();
    let config = state.config().clone();
    let client = client_key(peer.ip(), &headers, &config.server.trusted_proxies);
    if !state.form_limiter.allow(client) {
        let mut r = refusal(
            &state,
            StatusCode::TOO_MANY_REQUESTS,
            "Too many requests from your connection",
            &[
                "Several requests were sent from your connection in a short time, so this one was not accepted. Please wait a while and try again, or contact the practice directly by email or phone (below).",
            ],
            &headers,
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("600"));
        return r;
    }

    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = content_type.split(';').next().unwrap_or("").trim();
    if !mime.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return refusal(
            &state,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "This form could not be read",
            &[
                "The request was not sent as a web form (application/x-www-form-urlencoded). Nothing was saved. Please use the form on the contact page.",
            ],
            &headers,
        );
    }

    let body = match axum::body::to_bytes(request.into_body(), BODY_LIMIT).await {
        Ok(b) => b,
        Err(_) => {
            return refusal(
                &state,
                StatusCode::PAYLOAD_TOO_LARGE,
                "What you sent is too long",
                &[
                    "The form was larger than it can be. Nothing was saved. Please shorten your message and try again.",
                ],
                &headers,
            );
        }
    };
    let fields = match decode(&body, FIELDS) {
        Ok(f) => f,
        Err(e) => return unreadable(&state, &e, &headers),
    };
    let get = |name: &str| fields.get(name).cloned().unwrap_or_default();
    let form = form_of(&fields);

    let now = Timestamp::now();
    let max_age =
        SignedDuration::from_mins(i64::try_from(config.form.token_max_age_minutes).unwrap_or(120));
    let token = get("form_token");
    let (token, age, notice) = match state.form_tokens.verify(&token, now, max_age) {
        Ok(age) => (token, Some(age), None),
        Err(TokenError::Expired) => (
            state.form_tokens.issue(now),
            None,
            Some("This page was open for a long time, so for your safety the form was not sent. Everything you typed is still here: please check it and send it again.".to_string()),
        ),
        Err(TokenError::Forged) => {
            return refusal(
                &state,
                StatusCode::BAD_REQUEST,
                "This form could not be accepted",
                &["The form’s security check did not match, which happens when a form comes from somewhere other than this site. Nothing was saved. Please open the contact page again and send your request from there."],
                &headers,
            );
        }
    };

    let spam = if !get("website").trim().is_empty() {
        Some(SpamReason::Honeypot)
    } else if age.is_some_and(|a| {
        a < SignedDuration::from_secs(i64::try_from(config.form.min_fill_seconds).unwrap_or(3))
    }) {
        Some(SpamReason::TooFast)
    } else {
        None
    };

    let licence = Licence {
        states: &config.practice.licensed_states,
    };
    let request = match (form.validate(&licence), notice) {
        (Ok(request), None) => request,
        (Err(_), _) if spam.is_some() => {
            tracing::info!(
                reason = spam.map(SpamReason::as_str),
                "suspected spam discarded: not a valid request"
            );
            return thanks_redirect(&state, None, None);
        }
        (result, notice) => {
            let errors = result.err().unwrap_or_default();
            let site = state.site.load();
            let view = FormView::new(&config.form, form, &errors, notice, token);
            return match site.renderer.contact(view) {
                Ok(html) => html_response(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    html.into_bytes(),
                    &headers,
                    false,
                ),
                Err(e) => super::AppError::from(e).into_response(),
            };
        }
    };

    let mut mail = Vec::new();
    if spam.is_none() && state.mail_enabled {
        mail.push(MailKind::NewRequestNotice);
        if config.form.acknowledge {
            mail.push(MailKind::Acknowledgement);
        }
    }
    let submission = Submission {
        request: &request,
        spam,
        mail: &mail,
    };
    match state.store.insert(&submission, now).await {
        Ok(inserted) => {
            state.storage.write_succeeded();
            tracing::info!(
                stored_id = inserted.id,
                spam = spam.map(SpamReason::as_str),
                "consultation request stored"
            );
            if !mail.is_empty() {
                state.mail_wake.notify_one();
            }
            if spam.is_none() {
                state.insights.visitor_step(
                    crate::insights::Step::RequestSent,
                    crate::web::client::user_agent(&headers),
                );
            }
            // When the practice offers times online, the thank-you page may link to them: the
            // request travels (sealed) to it, for spam too, so the address looks the same.
            let booking = offers_times(&state)
                .await
                .then_some((inserted.id, inserted.link_secret.as_str()));
            if spam.is_some() {
                thanks_redirect(&state, None, booking)
            } else {
                thanks_redirect(
                    &state,
                    Some(crate::site::ThanksNotes {
                        outside_licensed_states: request.flags.outside_licensed_states,
                        minor: request.flags.minor,
                        outside_us: request.location == Location::OutsideUs,
                        minor_alone: request.minor_writing_alone(),
                    }),
                    booking,
                )
            }
        }
        Err(e) => {
            state.storage.write_failed();
            tracing::error!(error = %e, "consultation request NOT stored");
            let site = state.site.load();
            let mut r = page_response(
                &site.not_received,
                None,
                false,
                StatusCode::SERVICE_UNAVAILABLE,
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("300"));
            r
        }
    }
}

fn unreadable(state: &AppState, e: &FormDecodeError, headers: &HeaderMap) -> Response {
    let reason = format!("The form could not be read because {e}. Nothing was saved.");
    refusal(
        state,
        StatusCode::BAD_REQUEST,
        "This form could not be read",
        &[
            &reason,
            "Please open the contact page again and send your request from there.",
        ],
        headers,
    )
}

/// How long the thank-you page's URL shows its notes and mints booking links: long enough to
/// read it and come back to it, short enough that an old history entry does not.
pub const THANKS_LIFETIME: jiff::SignedDuration = jiff::SignedDuration::from_hours(1);

/// 303 to the thank-you page. What it shows travels sealed, so the URL reveals nothing: which
/// notes (outside the licensed states, under 18), for a request that may book its consultation
/// online the request and its link secret (for the link to choose a time, which is only made
/// while that request still has that secret), and when the page was first shown:
/// `index:request:issued-ms:link-secret`.
/// The thank-you page's token, sealed into its link: bound to that purpose, so no stored value
/// opens as one.
const THANKS_TOKEN: crate::crypto::SealedField = crate::crypto::SealedField::kept("thanks");

fn thanks_redirect(
    state: &AppState,
    notes: Option<crate::site::ThanksNotes>,
    request: Option<(i64, &str)>,
) -> Response {
    let index = notes.map_or(0, crate::site::ThanksNotes::index);
    let issued = Timestamp::now().as_millisecond();
    let sealed = match (index, request) {
        (0, Some((id, secret))) => Some(format!("0:{id}:{issued}:{secret}")),
        (0, None) => None,
        (i, _) => Some(format!("{i}::{issued}")),
    };
    let location = match sealed {
        Some(text) => {
            let sealed = state.store.keys().seal(THANKS_TOKEN.alone(), &text);
            format!("/contact/thanks?n={}", crate::crypto::hex::hex(&sealed))
        }
        None => "/contact/thanks".to_string(),
    };
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

#[derive(Deserialize)]
pub struct ThanksQuery {
    n: Option<String>,
}

/// `GET /contact/thanks`.
pub async fn thanks(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    Query(query): Query<ThanksQuery>,
) -> Response {
    let opened = query
        .n
        .and_then(|n| crate::crypto::hex::unhex(&n))
        .and_then(|bytes| state.store.keys().open(THANKS_TOKEN.alone(), &bytes).ok())
        .unwrap_or_default();
    let head = method == Method::HEAD;
    let mut parts = opened.splitn(4, ':');
    let (index, request, issued, secret) = (parts.next(), parts.next(), parts.next(), parts.next());
    if !opened.is_empty() {
        let fresh = issued
            .and_then(|ms| ms.parse::<i64>().ok())
            .and_then(|ms| Timestamp::from_millisecond(ms).ok())
            .is_some_and(|at| Timestamp::now().duration_since(at) <= THANKS_LIFETIME);
        if !fresh {
            return thanks_expired(&state, &headers);
        }
    }
    let request = request.and_then(|id| id.parse::<i64>().ok());
    let index = index
        .and_then(|i| i.parse::<usize>().ok())
        .filter(|i| *i < crate::site::ThanksNotes::PAGES)
        .unwrap_or(0);
    if let Some(id) = request.filter(|_| index == 0)
        && let Some(secret) = secret
        && offers_booking(&state, id, secret).await
    {
        let site = state.site.load();
        let split = &site.thanks_booking;
        let link = super::booking::link_for(&state, id, secret);
        let mut html = Vec::with_capacity(split.prefix.len() + link.len() + split.suffix.len());
        html.extend_from_slice(&split.prefix);
        html.extend_from_slice(link.as_bytes());
        html.extend_from_slice(&split.suffix);
        return html_response(StatusCode::OK, html, &headers, head);
    }
    let site = state.site.load();
    let accept = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok());
    page_response(&site.thanks[index], accept, head, StatusCode::OK)
}

/// An old thank-you URL (from the browser's history, say): the request was received, and the
/// page says so without showing notes or minting a new link.
fn thanks_expired(state: &AppState, headers: &HeaderMap) -> Response {
    refusal(
        state,
        StatusCode::GONE,
        "Your request was received",
        &[
            "This thank-you page was for a request sent a while ago. The request itself arrived safely: there is no need to send it again.",
            "To choose or change a consultation time, use the link in the latest email from the practice, or contact the practice by email or phone (below).",
        ],
        headers,
    )
}

/// Whether the practice offers consultation times online (it has weekly hours, and its rules
/// hold together). When the database cannot say: no.
async fn offers_times(state: &AppState) -> bool {
    match state.store.booking_rules(&state.time_zone()).await {
        Ok(rules) => rules.offers_times(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the booking rules");
            false
        }
    }
}

/// Whether request `id` may choose its consultation time online now: the practice offers times,
/// the request is one that books online, and it is still the request whose link secret the
/// thank-you page carries (not a later one that came to have its id).
async fn offers_booking(state: &AppState, id: i64, link_secret: &str) -> bool {
    offers_times(state).await
        && matches!(
            state.store.bookable(id).await,
            Ok(Some(b)) if !b.link_secret.is_empty() && b.link_secret == link_secret
        )
}
