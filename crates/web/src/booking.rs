//! `/book/{token}`: a person chooses, changes or cancels their initial consultation time, and
//! `/calendar/{secret}.ics`: the clinician's private feed of confirmed consultations.
//!
//! The token in the address is the person's only key (visitors get no cookie): a signed link
//! naming their request and an expiry (see `auth/link.rs`). A guessed or altered token gets the
//! ordinary "not found" page and an expired one a short "this link has expired" page; neither
//! says anything about any request. Every page here is complete without JavaScript: the times
//! are radio buttons grouped by day, in the practice's zone, which the page names.
//!
//! Choosing a time holds it at once (re-checked in the store's transaction against the bookings
//! of that moment). A time taken a moment earlier answers 409 with the nearest open times, so
//! the person can choose again in one step.

use std::net::SocketAddr;
use std::str::FromStr;

use axum::extract::{ConnectInfo, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;

use super::client::client_key;
use super::form::{Posted, PostedForm, Refusal, refuse_on_own_page};
use super::respond::{linked_request, private_page, refusal, see_other};
use super::{AppError, AppState};
use crate::site::{BookPage, BookingPage, DayChoice, ErrorLink, FormatChoice, TimeChoice};
use auth::link;
use practice::booking::BookingStatus;
use practice::calendar::{self, ConsultationEvent, EventStatus, Method as CalendarMethod};
use practice::consultation::Location;
use practice::open_times::{
    BookingRules, ConsultationFormat, OpenTime, WhyNotOpen, by_day, nearest_open, open_times,
};
use practice::wording::{clock, day_heading, long_time, zone_label};
use store::{ChangeOutcome, Hold, HoldOutcome, StoredBooking};

mod feed;
mod pages;

pub use feed::feed;
use pages::{TimesForm, open_for, status_page, times_page};

/// How many of the nearest open times the "just taken" answer offers.
const NEAREST: usize = 6;

/// The token (or feed file name) from the path. An address whose part cannot be read at all
/// (not UTF-8, say) reads as an empty token, which is simply not found.
pub struct Token(String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Token {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Token(
            Path::<String>::from_request_parts(parts, state)
                .await
                .map(|Path(t)| t)
                .unwrap_or_default(),
        ))
    }
}

/// Refuses a client that chose or cancelled too often in the last hour (each change sends
/// email); the page says when to try again.
fn limited(state: &AppState, peer: SocketAddr, headers: &HeaderMap) -> Option<Response> {
    let client = client_key(peer.ip(), headers, &state.config().server.trusted_proxies);
    if state.booking_limiter.allow(client) {
        return None;
    }
    let mut r = refusal(
        state,
        StatusCode::TOO_MANY_REQUESTS,
        "Too many changes from your connection",
        &[
            "Several changes were sent from your connection in a short time, so this one was not made. Please wait a while and try again, or contact the practice directly by email or phone (below).",
        ],
        headers,
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("600"));
    Some(r)
}

/// The request a link's token is for, or the page to answer with. The token must be signed
/// with the request's own link secret: a link for a deleted request, or for another, is simply
/// not found.
async fn request_of(state: &AppState, token: &str, headers: &HeaderMap) -> Result<i64, Response> {
    let to = "to choose or change a consultation time";
    linked_request(state, token, headers, to, |id| async move {
        Ok(state.store.bookable(id).await?.map(|b| b.link_secret))
    })
    .await
}

/// What a person's booking link opens: its token, the request it is for and that request's
/// booking, if any. A handler that takes it runs only for a link that holds; any other is
/// answered with the page that says why.
pub struct Booked {
    token: String,
    id: i64,
    booking: Option<StoredBooking>,
}

impl FromRequestParts<AppState> for Booked {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Token(token) = match Token::from_request_parts(parts, state).await {
            Ok(token) => token,
            Err(never) => match never {},
        };
        let id = request_of(state, &token, &parts.headers).await?;
        match state.store.booking_for_request(id).await {
            Ok(booking) => Ok(Booked { token, id, booking }),
            Err(e) => Err(AppError::from(e).into_response()),
        }
    }
}

/// The request of a change sent through the link of `token` (choosing or cancelling a time),
/// or the page to answer with: the link must hold and the client must not be [`limited`].
async fn change_of(
    state: &AppState,
    token: &str,
    peer: SocketAddr,
    headers: &HeaderMap,
) -> Result<i64, Response> {
    let id = request_of(state, token, headers).await?;
    limited(state, peer, headers).map_or(Ok(id), Err)
}

/// What the person chose, as sent.
#[derive(Default, serde::Deserialize)]
#[serde(default)]
pub struct Choice {
    start: String,
    format: String,
    /// Where the person will be during the session; `None` from a post without the question.
    #[serde(deserialize_with = "present")]
    location: Option<String>,
}

/// A field that is sent (even empty), as opposed to one that is absent (`None`, the default).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    <String as serde::Deserialize>::deserialize(d).map(Some)
}

impl Choice {
    /// A new choice, with where the person will be taken from their request (they may change
    /// it).
    async fn near(state: &AppState, id: i64) -> Choice {
        let location = match state.store.request(id).await {
            Ok(Some(r)) => Some(r.location.as_str().to_string()),
            _ => None,
        };
        Choice {
            location,
            ..Choice::default()
        }
    }
}

impl PostedForm for Choice {
    const FIELDS: &'static [&'static str] = &["start", "format", "location"];

    fn refused(state: &AppState, why: Refusal, headers: &HeaderMap) -> Response {
        let again = "Please open the page again and choose from there.";
        refuse_on_own_page(state, why, headers, "Nothing was changed.", again)
    }
}

/// `GET /book/{token}`: the booking, or the times to choose from.
pub async fn show(
    State(state): State<AppState>,
    Booked { token, id, booking }: Booked,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let head = method == Method::HEAD;
    let now = Timestamp::now();
    let site = state.site.load();
    let notice = match &booking {
        Some(b) if b.status.takes_time() || b.status == BookingStatus::Declined => {
            let mut page = status_page(&state, &token, b, now);
            // Offered right after a time is held, and whenever the person comes back.
            if b.status.takes_time() && b.start > now {
                match state.questionnaires_offered().await {
                    Ok(true) => page.questionnaire_href = Some(format!("/questionnaire/{token}")),
                    Ok(false) => {}
                    Err(e) => return AppError::from(e).into_response(),
                }
            }
            return private_page(StatusCode::OK, site.renderer.booking(page), &headers, head);
        }
        Some(b) if b.status == BookingStatus::Cancelled => Some(format!(
            "You cancelled the consultation that was on {}. If you would like another time, choose one below.",
            long_time(b.start, &state.time_zone())
        )),
        Some(b) => Some(format!(
            "{} asked you to choose another time: the time you chose before ({}) is no longer held.",
            state.config().practice.clinician_name,
            long_time(b.start, &state.time_zone())
        )),
        None => None,
    };
    let page = Fresh {
        heading: "Choose a time for your first conversation",
        notice,
        back: false,
    };
    page.answer(&state, id, &token, now, &headers, head).await
}

/// The times to choose from, nothing chosen yet: under `heading`, with `notice`, and a way
/// back to the time held when `back`.
struct Fresh {
    heading: &'static str,
    notice: Option<String>,
    back: bool,
}

impl Fresh {
    async fn answer(
        self,
        state: &AppState,
        id: i64,
        token: &str,
        now: Timestamp,
        headers: &HeaderMap,
        head: bool,
    ) -> Response {
        let (rules, open) = match open_for(state, id, now).await {
            Ok(x) => x,
            Err(e) => return e.into_response(),
        };
        let form = TimesForm {
            token,
            rules: &rules,
            open: &open,
            choice: &Choice::near(state, id).await,
            heading: self.heading,
            notice: self.notice,
            time_error: None,
            format_error: None,
            location_error: None,
            nearest_only: false,
            back: self.back,
        };
        let page = times_page(state, form);
        let site = state.site.load();
        private_page(StatusCode::OK, site.renderer.book(page), headers, head)
    }
}

/// `GET /book/{token}/change`: the times to choose from instead of the one held.
pub async fn change(
    State(state): State<AppState>,
    Booked { token, id, booking }: Booked,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let now = Timestamp::now();
    let Some(b) = booking.filter(|b| b.status.takes_time() && b.start > now) else {
        return see_other(&format!("/book/{token}"));
    };
    let notice = format!(
        "Your time now is {}. A new time replaces it, and {} confirms the new time by email.",
        long_time(b.start, &state.time_zone()),
        state.config().practice.clinician_name
    );
    let page = Fresh {
        heading: "Choose a different time",
        notice: Some(notice),
        back: true,
    };
    let head = method == Method::HEAD;
    page.answer(&state, id, &token, now, &headers, head).await
}

/// `POST /book/{token}`: holds the chosen time.
pub async fn choose(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Token(token): Token,
    headers: HeaderMap,
    Posted(choice): Posted<Choice>,
) -> Response {
    let id = match change_of(&state, &token, peer, &headers).await {
        Ok(id) => id,
        Err(r) => return r,
    };
    let sent = Sent {
        state: &state,
        token: &token,
        id,
        choice: &choice,
        headers: &headers,
    };
    let now = Timestamp::now();
    let start = Timestamp::from_str(choice.start.trim()).ok();
    let format = ConsultationFormat::parse(choice.format.trim());
    // Asked on every booking; a place outside the licensed states is flagged to the
    // clinician, never refused (as with the telehealth consent).
    let location = choice
        .location
        .as_deref()
        .map(|l| Location::parse(l.trim()));
    let location_error = matches!(location, Some(None))
        .then(|| "Choose the state you will be in during the consultation".to_string());
    let location = location.flatten();
    let (start, format) = match (start, format, location_error) {
        (Some(start), Some(format), None) => (start, format),
        (start, format, location_error) => {
            let time_error = start.is_none().then(|| {
                if choice.start.trim().is_empty() {
                    "Choose a time".to_string()
                } else {
                    "Choose a time from the list".to_string()
                }
            });
            let format_error = format
                .is_none()
                .then(|| "Choose how you would like to meet".to_string());
            return sent
                .again(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    (time_error, format_error, location_error),
                    None,
                )
                .await;
        }
    };
    let hold = Hold {
        request_id: id,
        start,
        format,
        time_zone: &state.time_zone(),
        mail: state.mail_enabled,
        location: location.as_ref().map(Location::as_str),
    };
    let outcome = state.store.hold(&hold, now).await;
    match &outcome {
        Ok(_) => state.storage.write_succeeded(),
        Err(_) => state.storage.write_failed(),
    }
    match outcome {
        Ok(HoldOutcome::Held(booking)) => {
            // A person's first choice is a step towards a consultation; a changed time is not
            // another one.
            if booking.sequence == 0 {
                state.insights.visitor_step(
                    crate::insights::Step::TimeChosen,
                    crate::client::user_agent(&headers),
                );
            }
            if state.mail_enabled {
                state.mail_wake.notify_one();
            }
            tracing::info!(request_id = id, "consultation time held");
            see_other(&format!("/book/{token}"))
        }
        Ok(HoldOutcome::NotOpen(why)) => {
            let message = match why {
                WhyNotOpen::Taken => {
                    "That time has just been taken. Please choose one of the nearest open times below"
                        .to_string()
                }
                other => other.to_string().trim_end_matches('.').to_string(),
            };
            sent.again(
                StatusCode::CONFLICT,
                (Some(message), None, None),
                Some(start),
            )
            .await
        }
        Ok(HoldOutcome::FormatNotOffered) => {
            sent.again(
                StatusCode::UNPROCESSABLE_ENTITY,
                (
                    None,
                    Some("Choose how you would like to meet".to_string()),
                    None,
                ),
                None,
            )
            .await
        }
        Ok(HoldOutcome::NotBookable) => see_other(&format!("/book/{token}")),
        Err(e) => AppError::from(e).into_response(),
    }
}

/// A choice sent for request `id` through the link of `token`.
struct Sent<'a> {
    state: &'a AppState,
    token: &'a str,
    id: i64,
    choice: &'a Choice,
    headers: &'a HeaderMap,
}

impl Sent<'_> {
    /// The form again with what to fix: all open times, or (when `near` is given) the nearest
    /// to it.
    async fn again(
        &self,
        status: StatusCode,
        (time_error, format_error, location_error): (
            Option<String>,
            Option<String>,
            Option<String>,
        ),
        near: Option<Timestamp>,
    ) -> Response {
        let Sent {
            state,
            token,
            id,
            choice,
            headers,
        } = *self;
        let now = Timestamp::now();
        let rules = match state.store.booking_rules(&state.time_zone()).await {
            Ok(r) => r,
            Err(e) => return AppError::from(e).into_response(),
        };
        let taken = match state.store.taken_times(now, id).await {
            Ok(t) => t,
            Err(e) => return AppError::from(e).into_response(),
        };
        let open = match near {
            Some(start) => nearest_open(&rules, &taken, now, start, NEAREST),
            None => open_times(&rules, &taken, now),
        };
        // A time no longer open is not kept as chosen.
        let choice = Choice {
            start: if near.is_some() {
                String::new()
            } else {
                choice.start.clone()
            },
            format: choice.format.clone(),
            location: choice.location.clone(),
        };
        let page = times_page(
            state,
            TimesForm {
                token,
                rules: &rules,
                open: &open,
                choice: &choice,
                heading: if near.is_some() {
                    "Choose another time"
                } else {
                    "Choose a time for your first conversation"
                },
                notice: None,
                time_error,
                format_error,
                location_error,
                nearest_only: near.is_some(),
                back: false,
            },
        );
        let site = state.site.load();
        private_page(status, site.renderer.book(page), headers, false)
    }
}

/// `POST /book/{token}/cancel`.
pub async fn cancel(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Token(token): Token,
    headers: HeaderMap,
) -> Response {
    let id = match change_of(&state, &token, peer, &headers).await {
        Ok(id) => id,
        Err(r) => return r,
    };
    let outcome = state
        .store
        .cancel_booking(id, state.mail_enabled, Timestamp::now())
        .await;
    match &outcome {
        Ok(_) => state.storage.write_succeeded(),
        Err(_) => state.storage.write_failed(),
    }
    match outcome {
        Ok(ChangeOutcome::Changed(_)) => {
            if state.mail_enabled {
                state.mail_wake.notify_one();
            }
            tracing::info!(request_id = id, "consultation cancelled by the person");
            see_other(&format!("/book/{token}"))
        }
        Ok(ChangeOutcome::NoBooking | ChangeOutcome::NotApplicable(_)) => {
            see_other(&format!("/book/{token}"))
        }
        Err(e) => AppError::from(e).into_response(),
    }
}

/// A booking link for request `id` with link secret `link_secret`, valid for the usual time
/// from now.
pub fn link_for(state: &AppState, id: i64, link_secret: &str) -> String {
    format!(
        "/book/{}",
        state
            .links
            .issue(id, link_secret, link::expiry(Timestamp::now(), None))
    )
}
