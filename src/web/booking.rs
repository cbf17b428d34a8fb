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

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;

use super::client::client_key;
use super::form::decode;
use super::middleware::BODY_LIMIT;
use super::respond::{html_response, refusal};
use super::{AppError, AppState};
use crate::auth::link::{self, LinkError};
use crate::calendar::{self, ConsultationEvent, EventStatus, Method as CalendarMethod};
use crate::practice::booking::BookingStatus;
use crate::practice::open_times::{
    BookingRules, ConsultationFormat, OpenTime, WhyNotOpen, by_day, nearest_open, open_times,
};
use crate::site::{BookPage, BookingPage, DayChoice, ErrorLink, FormatChoice, TimeChoice};
use crate::store::{ChangeOutcome, Hold, HoldOutcome, StoredBooking};
use crate::wording::{clock, day_heading, long_time, zone_label};

/// How many of the nearest open times the "just taken" answer offers.
const NEAREST: usize = 6;

/// The form's fields.
const FIELDS: &[&str] = &["start", "format"];

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
    let presented = match state.links.read(token) {
        Ok(p) => p,
        Err(_) => return Err(AppError::NotFound.into_response()),
    };
    let bookable = match state.store.bookable(presented.request_id()).await {
        Ok(Some(b)) => b,
        Ok(None) => return Err(AppError::NotFound.into_response()),
        Err(e) => return Err(AppError::from(e).into_response()),
    };
    match state
        .links
        .verify(&presented, &bookable.link_secret, Timestamp::now())
    {
        Ok(id) => Ok(id),
        Err(LinkError::Forged) => Err(AppError::NotFound.into_response()),
        Err(LinkError::Expired) => Err(refusal(
            state,
            StatusCode::GONE,
            "This link has expired",
            &[
                "For your safety, links to choose or change a consultation time only work for a while.",
                "Please use the link in the latest email from the practice, or contact the practice by email or phone (below).",
            ],
            headers,
        )),
    }
}

fn render(
    status: StatusCode,
    html: Result<String, crate::site::RenderError>,
    headers: &HeaderMap,
    head: bool,
) -> Response {
    match html {
        Ok(html) => {
            let mut r = html_response(status, html.into_bytes(), headers, head);
            r.headers_mut().insert(
                "x-robots-tag",
                HeaderValue::from_static("noindex, nofollow"),
            );
            r
        }
        Err(e) => AppError::from(e).into_response(),
    }
}

fn redirect(to: String) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response()
}

/// What the person chose, as sent.
#[derive(Default)]
struct Choice {
    start: String,
    format: String,
}

/// The form with `open` times, in the state given.
struct TimesForm<'a> {
    token: &'a str,
    rules: &'a BookingRules,
    open: &'a [OpenTime],
    choice: &'a Choice,
    heading: &'a str,
    notice: Option<String>,
    time_error: Option<String>,
    format_error: Option<String>,
    nearest_only: bool,
    back: bool,
}

fn times_page(state: &AppState, f: TimesForm<'_>) -> BookPage {
    let tz = &state.time_zone();
    let days: Vec<DayChoice> = by_day(tz, f.open)
        .into_iter()
        .map(|day| DayChoice {
            id: format!("day-{}", day.date),
            heading: day_heading(day.date),
            times: day
                .times
                .iter()
                .map(|t| {
                    let value = t.start.to_string();
                    TimeChoice {
                        id: format!("start-{}", t.start.as_millisecond()),
                        checked: value == f.choice.start,
                        label: clock(t.start, tz),
                        value,
                    }
                })
                .collect(),
        })
        .collect();
    let first_time = days
        .first()
        .and_then(|d| d.times.first())
        .map(|t| t.id.clone())
        .unwrap_or_else(|| "main".into());
    let mut errors = Vec::new();
    if let Some(e) = &f.time_error {
        errors.push(ErrorLink {
            target: first_time,
            message: e.clone(),
        });
    }
    if let Some(e) = &f.format_error {
        let target = f
            .rules
            .formats
            .first()
            .map(|x| format!("format-{}", x.as_str()))
            .unwrap_or_default();
        errors.push(ErrorLink {
            target,
            message: e.clone(),
        });
    }
    let practice = &state.config().practice;
    let title = if errors.is_empty() {
        format!("Choose a consultation time · {}", practice.name)
    } else {
        format!("Error: Choose a consultation time · {}", practice.name)
    };
    BookPage {
        title,
        heading: f.heading.to_string(),
        notice: f.notice,
        action: format!("/book/{}", f.token),
        all_times_href: f.nearest_only.then(|| format!("/book/{}", f.token)),
        zone: practice.time_zone.clone(),
        zone_label: zone_label(&practice.time_zone),
        length_minutes: f.rules.length.as_mins(),
        days,
        formats: f
            .rules
            .formats
            .iter()
            .map(|x| FormatChoice {
                value: x.as_str(),
                label: x.label(),
                checked: x.as_str() == f.choice.format,
            })
            .collect(),
        errors,
        time_error: f.time_error,
        format_error: f.format_error,
        back_href: f.back.then(|| format!("/book/{}", f.token)),
    }
}

/// The rules and the times open to request `id` now.
async fn open_for(
    state: &AppState,
    id: i64,
    now: Timestamp,
) -> Result<(BookingRules, Vec<OpenTime>), AppError> {
    let rules = state.store.booking_rules(&state.time_zone()).await?;
    let taken = state.store.taken_times(now, id).await?;
    let open = open_times(&rules, &taken, now);
    Ok((rules, open))
}

fn what(b: &StoredBooking) -> String {
    format!(
        "{} minutes, by {}",
        b.end.duration_since(b.start).as_mins(),
        b.format.label().to_lowercase()
    )
}

/// Where a booking stands, for the person.
fn status_page(state: &AppState, token: &str, b: &StoredBooking, now: Timestamp) -> BookingPage {
    let practice = &state.config().practice;
    let clinician = &practice.clinician_name;
    let ahead = b.start > now;
    let mut page = BookingPage {
        heading: String::new(),
        success: false,
        when: Some(long_time(b.start, &state.time_zone())),
        what: Some(what(b)),
        zone_label: zone_label(&practice.time_zone),
        paragraphs: Vec::new(),
        change_href: ahead.then(|| format!("/book/{token}/change")),
        cancel_action: ahead.then(|| format!("/book/{token}/cancel")),
        questionnaire_href: None,
    };
    match b.status {
        BookingStatus::Held => {
            page.heading = "Your consultation time is held".into();
            page.success = true;
            page.paragraphs.push(format!(
                "{clinician} will confirm it {}, by email.",
                crate::wording::confirm_by(b.start, now, &state.config().form.reply_time)
            ));
            if state.mail_enabled {
                page.paragraphs.push(
                    "You are sent an email with a calendar invitation, and a link back to this page to change or cancel the time."
                        .into(),
                );
            }
        }
        BookingStatus::Confirmed => {
            page.heading = "Your consultation is confirmed".into();
            page.success = true;
            page.paragraphs.push(
                "The confirmation email says how you will meet, with a calendar invitation.".into(),
            );
        }
        BookingStatus::Declined => {
            page.heading = "The practice will be in touch".into();
            page.when = None;
            page.what = None;
            page.change_href = None;
            page.cancel_action = None;
            page.paragraphs.push(format!(
                "{clinician} cannot meet at the time you chose, and will get in touch about what is possible."
            ));
        }
        BookingStatus::Cancelled | BookingStatus::ProposedOtherTime => {}
    }
    if !ahead && b.status.takes_time() {
        page.paragraphs
            .push("This time has passed, so it can no longer be changed here.".into());
    }
    page
}

/// `GET /book/{token}`: the booking, or the times to choose from.
pub async fn show(
    State(state): State<AppState>,
    Token(token): Token,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let id = match request_of(&state, &token, &headers).await {
        Ok(id) => id,
        Err(r) => return r,
    };
    let head = method == Method::HEAD;
    let now = Timestamp::now();
    let booking = match state.store.booking_for_request(id).await {
        Ok(b) => b,
        Err(e) => return AppError::from(e).into_response(),
    };
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
            return render(StatusCode::OK, site.renderer.booking(page), &headers, head);
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
    let (rules, open) = match open_for(&state, id, now).await {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let page = times_page(
        &state,
        TimesForm {
            token: &token,
            rules: &rules,
            open: &open,
            choice: &Choice::default(),
            heading: "Choose a time for your first conversation",
            notice,
            time_error: None,
            format_error: None,
            nearest_only: false,
            back: false,
        },
    );
    render(StatusCode::OK, site.renderer.book(page), &headers, head)
}

/// `GET /book/{token}/change`: the times to choose from instead of the one held.
pub async fn change(
    State(state): State<AppState>,
    Token(token): Token,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let id = match request_of(&state, &token, &headers).await {
        Ok(id) => id,
        Err(r) => return r,
    };
    let now = Timestamp::now();
    let booking = match state.store.booking_for_request(id).await {
        Ok(b) => b,
        Err(e) => return AppError::from(e).into_response(),
    };
    let Some(b) = booking.filter(|b| b.status.takes_time() && b.start > now) else {
        return redirect(format!("/book/{token}"));
    };
    let (rules, open) = match open_for(&state, id, now).await {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let page = times_page(
        &state,
        TimesForm {
            token: &token,
            rules: &rules,
            open: &open,
            choice: &Choice::default(),
            heading: "Choose a different time",
            notice: Some(format!(
                "Your time now is {}. A new time replaces it, and {} confirms the new time by email.",
                long_time(b.start, &state.time_zone()),
                state.config().practice.clinician_name
            )),
            time_error: None,
            format_error: None,
            nearest_only: false,
            back: true,
        },
    );
    let site = state.site.load();
    render(
        StatusCode::OK,
        site.renderer.book(page),
        &headers,
        method == Method::HEAD,
    )
}

/// Reads a form body, or the page that explains why it cannot be read.
async fn form_body(
    state: &AppState,
    request: Request,
    fields: &[&str],
) -> Result<std::collections::HashMap<String, String>, Response> {
    let headers = request.headers().clone();
    let mime = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if mime != "application/x-www-form-urlencoded" {
        return Err(refusal(
            state,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "This form could not be read",
            &[
                "The request was not sent as a web form. Nothing was changed. Please use the form on the page.",
            ],
            &headers,
        ));
    }
    let body = axum::body::to_bytes(request.into_body(), BODY_LIMIT)
        .await
        .map_err(|_| {
            refusal(
                state,
                StatusCode::PAYLOAD_TOO_LARGE,
                "What you sent is too large",
                &["Nothing was changed. Please use the form on the page."],
                &headers,
            )
        })?;
    decode(&body, fields).map_err(|e| {
        let reason = format!("The form could not be read because {e}. Nothing was changed.");
        refusal(
            state,
            StatusCode::BAD_REQUEST,
            "This form could not be read",
            &[&reason, "Please open the page again and choose from there."],
            &headers,
        )
    })
}

/// `POST /book/{token}`: holds the chosen time.
pub async fn choose(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Token(token): Token,
    request: Request,
) -> Response {
    let headers = request.headers().clone();
    let id = match request_of(&state, &token, &headers).await {
        Ok(id) => id,
        Err(r) => return r,
    };
    if let Some(r) = limited(&state, peer, &headers) {
        return r;
    }
    let fields = match form_body(&state, request, FIELDS).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let choice = Choice {
        start: fields.get("start").cloned().unwrap_or_default(),
        format: fields.get("format").cloned().unwrap_or_default(),
    };
    let now = Timestamp::now();
    let start = Timestamp::from_str(choice.start.trim()).ok();
    let format = ConsultationFormat::parse(choice.format.trim());
    let (start, format) = match (start, format) {
        (Some(start), Some(format)) => (start, format),
        (start, format) => {
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
            return again(
                &state,
                &token,
                id,
                &choice,
                &headers,
                StatusCode::UNPROCESSABLE_ENTITY,
                (time_error, format_error),
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
                    crate::web::client::user_agent(&headers),
                );
            }
            if state.mail_enabled {
                state.mail_wake.notify_one();
            }
            tracing::info!(request_id = id, "consultation time held");
            redirect(format!("/book/{token}"))
        }
        Ok(HoldOutcome::NotOpen(why)) => {
            let message = match why {
                WhyNotOpen::Taken => {
                    "That time has just been taken. Please choose one of the nearest open times below"
                        .to_string()
                }
                other => other.to_string().trim_end_matches('.').to_string(),
            };
            again(
                &state,
                &token,
                id,
                &choice,
                &headers,
                StatusCode::CONFLICT,
                (Some(message), None),
                Some(start),
            )
            .await
        }
        Ok(HoldOutcome::FormatNotOffered) => {
            again(
                &state,
                &token,
                id,
                &choice,
                &headers,
                StatusCode::UNPROCESSABLE_ENTITY,
                (None, Some("Choose how you would like to meet".to_string())),
                None,
            )
            .await
        }
        Ok(HoldOutcome::NotBookable) => redirect(format!("/book/{token}")),
        Err(e) => AppError::from(e).into_response(),
    }
}

/// The form again with what to fix: all open times, or (when `near` is given) the nearest to it.
#[allow(clippy::too_many_arguments)]
async fn again(
    state: &AppState,
    token: &str,
    id: i64,
    choice: &Choice,
    headers: &HeaderMap,
    status: StatusCode,
    (time_error, format_error): (Option<String>, Option<String>),
    near: Option<Timestamp>,
) -> Response {
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
            nearest_only: near.is_some(),
            back: false,
        },
    );
    let site = state.site.load();
    render(status, site.renderer.book(page), headers, false)
}

/// `POST /book/{token}/cancel`.
pub async fn cancel(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Token(token): Token,
    headers: HeaderMap,
) -> Response {
    let id = match request_of(&state, &token, &headers).await {
        Ok(id) => id,
        Err(r) => return r,
    };
    if let Some(r) = limited(&state, peer, &headers) {
        return r;
    }
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
            redirect(format!("/book/{token}"))
        }
        Ok(ChangeOutcome::NoBooking | ChangeOutcome::NotApplicable(_)) => {
            redirect(format!("/book/{token}"))
        }
        Err(e) => AppError::from(e).into_response(),
    }
}

/// `GET /calendar/{secret}.ics`: confirmed consultations, neutral words only.
pub async fn feed(
    State(state): State<AppState>,
    Token(file): Token,
    method: Method,
) -> Result<Response, AppError> {
    let Some(secret) = file.strip_suffix(".ics") else {
        return Err(AppError::NotFound);
    };
    if !state.store.is_calendar_feed_secret(secret).await? {
        return Err(AppError::NotFound);
    }
    let now = Timestamp::now();
    let since = now
        .checked_sub(jiff::SignedDuration::from_hours(24 * 90))
        .unwrap_or(now);
    let bookings = state.store.confirmed_bookings(since).await?;
    let events: Vec<ConsultationEvent> = bookings
        .iter()
        .map(|b| ConsultationEvent {
            reference: u64::try_from(b.id).unwrap_or(0),
            format: b.format,
            start: b.start,
            end: b.end,
            sequence: u32::try_from(b.sequence).unwrap_or(u32::MAX),
            status: EventStatus::Confirmed,
            join: None,
        })
        .collect();
    let sender = crate::mail::booking::calendar_sender(&state.config())?;
    let ics = calendar::write(CalendarMethod::Publish, &sender, &events, now)?;
    let len = ics.len();
    let mut r = Response::new(if method == Method::HEAD {
        Body::empty()
    } else {
        Body::from(ics)
    });
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/calendar; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        "x-robots-tag",
        HeaderValue::from_static("noindex, nofollow"),
    );
    if method == Method::HEAD {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    Ok(r)
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
