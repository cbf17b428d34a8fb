//! `/contact`: the form a person sends to ask for a consultation, and the page after it.
//!
//! The order of a submission: rate limit ▶ the form, read by the one extractor (content type,
//! body, token: [`Posted`]) ▶ the practice's decision ([`consultation::decide`]: spam signals,
//! the rules, which mail) ▶ one durable transaction (request + outbox) ▶ 303 to the thank-you
//! page.
//! A person's mistake gets the form back (422) with everything they typed and a summary of what
//! to fix. Suspected spam gets the same thank-you page as everyone, is stored in the spam folder
//! (when it can be) and causes no email. If the database fails, the person is told plainly that
//! the request did NOT arrive, and how else to reach the practice.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::client::client_key;
use super::form::{Posted, PostedForm, Refusal, RefusalWords};
use super::form_token::TokenError;
use super::pages::page_response;
use super::respond::{html_response, refusal};
use crate::site::FormView;
use mail::MailKind;
use practice::consultation::{
    self, ConsultationForm, Decision, FormAge, Location, Rules, Sent, SpamReason,
};
use store::Submission;

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

/// The contact form as posted: the person's answers, the field people never see, and the
/// token that says when the form was served.
#[derive(Default, Deserialize)]
#[serde(default)]
pub struct ContactPost {
    #[serde(flatten)]
    pub form: ConsultationForm,
    /// The honeypot: hidden from people, filled in by bots.
    pub website: String,
    pub form_token: String,
    /// When the form was served, as its token says (set by the token check).
    #[serde(skip)]
    pub age: Option<FormAge>,
}

impl PostedForm for ContactPost {
    const FIELDS: &'static [&'static str] = FIELDS;

    async fn check(&mut self, state: &AppState, _parts: &mut Parts) -> Result<(), Refusal> {
        let max_age = SignedDuration::from_mins(
            i64::try_from(state.config().form.token_max_age_minutes).unwrap_or(120),
        );
        self.age = match state
            .form_tokens
            .verify(&self.form_token, Timestamp::now(), max_age)
        {
            Ok(age) => Some(FormAge::Served(age)),
            Err(TokenError::Expired) => Some(FormAge::Expired),
            Err(TokenError::Forged) => return Err(Refusal::Forged),
        };
        Ok(())
    }

    fn refused(state: &AppState, why: Refusal, headers: &HeaderMap) -> Response {
        RefusalWords {
            nothing: "Nothing was saved.",
            use_the_form: "Please use the form on the contact page.",
            too_large: (
                "What you sent is too long",
                "The form was larger than it can be. Nothing was saved. Please shorten your message and try again.",
            ),
            again: "Please open the contact page again and send your request from there.",
        }
        .page(state, why, headers)
    }
}

/// The form's answers from its decoded fields (a field not sent is empty), read as
/// [`ContactPost`] reads them.
pub fn form_of(fields: &std::collections::HashMap<String, String>) -> ConsultationForm {
    let fields = fields.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    ContactPost::deserialize(serde::de::value::MapDeserializer::<
        _,
        serde::de::value::Error,
    >::new(fields))
    .map(|post| post.form)
    .unwrap_or_default()
}

/// The contact form's rate limit, per client address: checked before the body is read.
pub struct FormRate;

impl FromRequestParts<AppState> for FormRate {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| peer.ip());
        let trusted = &state.config().server.trusted_proxies;
        match peer.map(|ip| client_key(ip, &parts.headers, trusted)) {
            Some(client) if !state.form_limiter.allow(client) => {
                let mut r = refusal(
                    state,
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many requests from your connection",
                    &[
                        "Several requests were sent from your connection in a short time, so this one was not accepted. Please wait a while and try again, or contact the practice directly by email or phone (below).",
                    ],
                    &parts.headers,
                );
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("600"));
                Err(r)
            }
            _ => Ok(FormRate),
        }
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

/// `POST /contact`: the practice's rules decide; the handler carries the decision out.
pub async fn submit(
    State(state): State<AppState>,
    _: FormRate,
    headers: HeaderMap,
    Posted(post): Posted<ContactPost>,
) -> Response {
    let config = state.config();
    let sent = Sent {
        form: &post.form,
        honeypot: &post.website,
        age: post.age.unwrap_or(FormAge::Expired),
    };
    let rules = Rules {
        licensed_states: &config.practice.licensed_states,
        min_fill: SignedDuration::from_secs(
            i64::try_from(config.form.min_fill_seconds).unwrap_or(3),
        ),
        mail: state.mail_enabled,
        acknowledge: config.form.acknowledge,
        offers_times: offers_times(&state).await,
    };
    let store = match consultation::decide(&sent, &rules) {
        Decision::Store(store) => store,
        Decision::Discard(reason) => {
            tracing::info!(
                reason = reason.as_str(),
                "suspected spam discarded: not a valid request"
            );
            return thanks_redirect(&state, ThanksToken::new(0, None));
        }
        Decision::Correct { errors, expired } => {
            return correct(&state, post, &errors, expired, &headers);
        }
    };
    let mail = mail_of(&store);
    let submission = Submission {
        request: &store.request,
        spam: store.spam,
        mail: &mail,
    };
    match state.store.insert(&submission, Timestamp::now()).await {
        Ok(inserted) => {
            state.storage.write_succeeded();
            tracing::info!(
                stored_id = inserted.id,
                spam = store.spam.map(SpamReason::as_str),
                "consultation request stored"
            );
            if !mail.is_empty() {
                state.mail_wake.notify_one();
            }
            if store.spam.is_none() {
                state.insights.visitor_step(
                    crate::insights::Step::RequestSent,
                    crate::client::user_agent(&headers),
                );
            }
            let booking = store
                .offer_times
                .then(|| (inserted.id, inserted.link_secret.clone()));
            thanks_redirect(&state, ThanksToken::new(notes_of(&store), booking))
        }
        Err(e) => {
            state.storage.write_failed();
            tracing::error!(error = %e, "consultation request NOT stored");
            not_received(&state)
        }
    }
}

/// The form again (422) with what the person typed, its problems, and, when the page had been
/// open too long, a note and a fresh token.
fn correct(
    state: &AppState,
    post: ContactPost,
    errors: &[consultation::FieldError],
    expired: bool,
    headers: &HeaderMap,
) -> Response {
    let (notice, token) = if expired {
        (
            Some("This page was open for a long time, so for your safety the form was not sent. Everything you typed is still here: please check it and send it again.".to_string()),
            state.form_tokens.issue(Timestamp::now()),
        )
    } else {
        (None, post.form_token)
    };
    let view = FormView::new(&state.config().form, post.form, errors, notice, token);
    match state.site.load().renderer.contact(view) {
        Ok(html) => html_response(
            StatusCode::UNPROCESSABLE_ENTITY,
            html.into_bytes(),
            headers,
            false,
        ),
        Err(e) => super::AppError::from(e).into_response(),
    }
}

/// The mail the decision sends.
fn mail_of(store: &consultation::Store) -> Vec<MailKind> {
    [
        (store.notify_practice, MailKind::NewRequestNotice),
        (store.acknowledge, MailKind::Acknowledgement),
    ]
    .into_iter()
    .filter_map(|(goes, kind)| goes.then_some(kind))
    .collect()
}

/// The thank-you page's notes for a stored request (none for spam: it looks like any other).
fn notes_of(store: &consultation::Store) -> usize {
    let request = &store.request;
    let notes = crate::site::ThanksNotes {
        outside_licensed_states: request.flags.outside_licensed_states,
        minor: request.flags.minor,
        outside_us: request.location == Location::OutsideUs,
        minor_alone: request.minor_writing_alone(),
    };
    if store.spam.is_none() {
        notes.index()
    } else {
        0
    }
}

/// The request did NOT arrive (503): said plainly, with how else to reach the practice.
fn not_received(state: &AppState) -> Response {
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

/// How long the thank-you page's URL shows its notes and mints booking links: long enough to
/// read it and come back to it, short enough that an old history entry does not.
pub const THANKS_LIFETIME: jiff::SignedDuration = jiff::SignedDuration::from_hours(1);

/// What the thank-you page shows, sealed into its link so the URL reveals nothing: which notes
/// (outside the licensed states, under 18), for a request that may book its consultation
/// online the request and its link secret (for the link to choose a time, which is only made
/// while that request still has that secret), and when the page was first shown.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
struct ThanksToken {
    /// The index of the notes' prepared page ([`crate::site::ThanksNotes::index`]).
    notes: usize,
    /// The request and its link secret, when the page may link to its times (no notes then).
    booking: Option<(i64, String)>,
    /// When the page was first shown, in milliseconds since the epoch.
    issued: i64,
}

impl ThanksToken {
    fn new(notes: usize, booking: Option<(i64, String)>) -> Self {
        ThanksToken {
            booking: booking.filter(|_| notes == 0),
            notes,
            issued: Timestamp::now().as_millisecond(),
        }
    }

    /// Whether the page says anything beyond the plain thank-you.
    fn says_more(&self) -> bool {
        self.notes != 0 || self.booking.is_some()
    }

    fn seal(&self, state: &AppState) -> Option<String> {
        let text = serde_json::to_string(self).ok()?;
        let sealed = state.store.keys().seal(THANKS_TOKEN.alone(), &text);
        Some(crypto::hex::hex(&sealed))
    }

    /// The token sealed in a link, if it opens: `Some(None)` for one sealed by this site in an
    /// earlier shape, which is old by now.
    fn open(state: &AppState, sealed: &str) -> Option<Option<Self>> {
        let bytes = crypto::hex::unhex(sealed)?;
        let text = state.store.keys().open(THANKS_TOKEN.alone(), &bytes).ok()?;
        Some(serde_json::from_str(&text).ok())
    }

    fn fresh(&self) -> bool {
        Timestamp::from_millisecond(self.issued)
            .is_ok_and(|at| Timestamp::now().duration_since(at) <= THANKS_LIFETIME)
    }
}

/// The thank-you page's token, sealed into its link: bound to that purpose, so no stored value
/// opens as one.
const THANKS_TOKEN: crypto::SealedField = crypto::SealedField::kept("thanks");

/// 303 to the thank-you page, with its token sealed into the link when it says more than thanks.
fn thanks_redirect(state: &AppState, token: ThanksToken) -> Response {
    let location = match token.says_more().then(|| token.seal(state)).flatten() {
        Some(sealed) => format!("/contact/thanks?n={sealed}"),
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
    let head = method == Method::HEAD;
    // A link that does not open is the plain thank-you; one that opens but is old, the note
    // that the request arrived.
    let token = match query.n.and_then(|n| ThanksToken::open(&state, &n)) {
        Some(Some(token)) if token.fresh() => Some(token),
        Some(_) => return thanks_expired(&state, &headers),
        None => None,
    };
    let (index, booking) = token.map_or((0, None), |t| (t.notes, t.booking));
    let index = if index < crate::site::ThanksNotes::PAGES {
        index
    } else {
        0
    };
    if let Some((id, secret)) = booking.filter(|_| index == 0)
        && offers_booking(&state, id, &secret).await
    {
        let site = state.site.load();
        let split = &site.thanks_booking;
        let link = super::booking::link_for(&state, id, &secret);
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
