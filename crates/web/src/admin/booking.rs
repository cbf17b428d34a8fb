//! The clinician's side of booking: the booking settings (`/admin/booking`), the list of
//! bookings (`/admin/bookings`), confirming, declining or asking for another time from a
//! request's page, and the private calendar feed's address.

use askama::Template;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use jiff::Timestamp;
use serde::Deserialize;

use super::booking_form::{DAY_NAMES, SettingsForm, WINDOWS_PER_DAY, WindowFields, window_field};
use super::field_error::FieldError;
use super::inbox::{refused, request_page};
use super::posted::{Button, InboxForm, inbox_form};
use super::sign_in::{form_chrome, page_chrome, render};
use super::views::{
    BookingPanel, BookingRow, BookingSettingsView, BookingsView, DayRow, SlotRow, when,
};
use super::{Admin, Clinician};
use crate::form::Posted;
use crate::{AppError, AppState};
use practice::booking::{BookingStatus, ClinicianDecision, decline_message};
use practice::open_times::{BookingRules, open_times};
use practice::wording::{long_time, zone_label};
use store::{ChangeOutcome, ListedBooking, StoredBooking};

/// Every field of the settings form, by name (the same as its id).
fn settings_fields() -> Vec<String> {
    let mut names: Vec<String> = [
        "length",
        "step",
        "buffer",
        "notice",
        "horizon",
        "daily_cap",
        "format-video",
        "format-phone",
        "days_off",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for day in 0..7 {
        for slot in 0..WINDOWS_PER_DAY {
            names.push(window_field(day, slot, false));
            names.push(window_field(day, slot, true));
        }
    }
    names
}

fn day_rows(form: &SettingsForm, errors: &[FieldError]) -> Vec<DayRow> {
    DAY_NAMES
        .iter()
        .enumerate()
        .map(|(day, name)| DayRow {
            name,
            slots: (0..WINDOWS_PER_DAY)
                .map(|slot| {
                    let start_id = window_field(day, slot, false);
                    let end_id = window_field(day, slot, true);
                    let error = errors
                        .iter()
                        .find(|e| e.field == start_id || e.field == end_id)
                        .map(|e| e.message.clone());
                    let fields = &form.windows[day][slot];
                    SlotRow {
                        label: if slot == 0 {
                            "First hours"
                        } else {
                            "Second hours"
                        },
                        start_id,
                        end_id,
                        start: fields.start.clone(),
                        end: fields.end.clone(),
                        error,
                    }
                })
                .collect(),
        })
        .collect()
}

/// "12 times are open in the next 21 days."
fn open_summary(rules: &BookingRules, taken: &[practice::open_times::Booking]) -> String {
    if rules.windows.is_empty() {
        return "No weekly hours are set, so nobody can choose a time online yet.".into();
    }
    let n = open_times(rules, taken, Timestamp::now()).len();
    let days = rules.horizon.as_hours() / 24;
    match n {
        0 => format!("No times are open in the next {days} days."),
        1 => format!("1 time is open in the next {days} days."),
        n => format!("{n} times are open in the next {days} days."),
    }
}

#[derive(Deserialize, Default)]
pub struct SettingsQuery {
    saved: Option<String>,
    replaced: Option<String>,
}

async fn settings_view(
    state: &AppState,
    admin: &Admin,
    form: SettingsForm,
    errors: Vec<FieldError>,
    flags: (bool, bool),
) -> Result<BookingSettingsView, AppError> {
    let rules = state.store.booking_rules(&state.time_zone()).await?;
    let taken = state.store.taken_times(Timestamp::now(), 0).await?;
    let secret = state.store.calendar_feed_secret().await?;
    Ok(BookingSettingsView {
        chrome: form_chrome(
            state,
            admin,
            "Booking settings",
            !errors.is_empty(),
            "booking",
        )
        .await?,
        days: day_rows(&form, &errors),
        form,
        errors,
        saved: flags.0,
        replaced: flags.1,
        zone_label: zone_label(&state.config().practice.time_zone),
        open_summary: open_summary(&rules, &taken),
        feed_url: format!("{}/calendar/{secret}.ics", state.config().server.base_url),
        calendar_problem: mail::booking::calendar_sender(&state.config())
            .err()
            .map(|e| e.to_string()),
        questionnaires_turned_on: state.store.questionnaires_turned_on().await?,
        questionnaires_offered: state.questionnaires_offered().await?,
        questionnaire_mail: super::questionnaires::notice_check(state).await?,
        urgent_reply: practice::wording::within_hours(state.config().form.urgent_reply_hours),
    })
}

/// `GET /admin/booking`.
pub async fn settings(
    Clinician { state, admin }: Clinician,
    Query(q): Query<SettingsQuery>,
) -> Result<Response, AppError> {
    let rules = state.store.booking_rules(&state.time_zone()).await?;
    let view = settings_view(
        &state,
        &admin,
        SettingsForm::from_rules(&rules),
        Vec::new(),
        (q.saved.is_some(), q.replaced.is_some()),
    )
    .await?;
    Ok(render(StatusCode::OK, view.render()))
}

/// The booking settings' form: a week of opening hours and the rules, by field name.
#[derive(Default, Deserialize)]
#[serde(default)]
pub struct SettingsPost {
    csrf: String,
    #[serde(flatten)]
    fields: std::collections::HashMap<String, String>,
}

impl InboxForm for SettingsPost {
    const FIELDS: &'static [&'static str] = &[];

    fn reads(name: &str) -> bool {
        settings_fields().iter().any(|f| f == name)
    }

    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `POST /admin/booking`: checks and saves the settings.
pub async fn save_settings(
    Clinician { state, admin }: Clinician,
    Posted(SettingsPost { fields, .. }): Posted<SettingsPost>,
) -> Result<Response, AppError> {
    let get = |k: &str| fields.get(k).cloned().unwrap_or_default();
    let mut form = SettingsForm {
        length: get("length"),
        step: get("step"),
        buffer: get("buffer"),
        notice: get("notice"),
        horizon: get("horizon"),
        daily_cap: get("daily_cap"),
        video: fields.contains_key("format-video"),
        phone: fields.contains_key("format-phone"),
        windows: Default::default(),
        days_off: get("days_off"),
    };
    for (day, slots) in form.windows.iter_mut().enumerate() {
        for (slot, w) in slots.iter_mut().enumerate() {
            *w = WindowFields {
                start: get(&window_field(day, slot, false)),
                end: get(&window_field(day, slot, true)),
            };
        }
    }
    match form.to_rules(state.time_zone().clone()) {
        Ok(rules) => {
            state
                .store
                .save_booking_rules(&rules, &admin.email, Timestamp::now())
                .await?;
            Ok(Redirect::to("/admin/booking?saved=1").into_response())
        }
        Err(errors) => {
            let view = settings_view(&state, &admin, form, errors, (false, false)).await?;
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, view.render()))
        }
    }
}

/// `POST /admin/booking/calendar-link`: a new feed address; the old one stops working.
pub async fn replace_feed(
    Clinician { state, admin }: Clinician,
    _: Posted<Button>,
) -> Result<Response, AppError> {
    state
        .store
        .replace_calendar_feed_secret(&admin.email, Timestamp::now())
        .await?;
    Ok(Redirect::to("/admin/booking?replaced=1").into_response())
}

fn what(b: &StoredBooking) -> String {
    format!(
        "{} minutes, {}",
        b.end.duration_since(b.start).as_mins(),
        b.format.label().to_lowercase()
    )
}

fn row(state: &AppState, l: &ListedBooking) -> BookingRow {
    let b = &l.booking;
    BookingRow {
        request_id: b.request_id,
        reference: b.reference.clone(),
        name: l.name.clone(),
        when: when(b.start, &state.time_zone()),
        what: what(b),
        status: b.status.label(),
        waiting: b.status == BookingStatus::Held,
    }
}

/// `GET /admin/bookings`.
pub async fn list(Clinician { state, admin }: Clinician) -> Result<Response, AppError> {
    let (upcoming, past) = state.store.list_bookings(Timestamp::now(), 50).await?;
    let view = BookingsView {
        chrome: page_chrome(&state, &admin, "Bookings", "bookings").await?,
        upcoming: upcoming.iter().map(|l| row(&state, l)).collect(),
        past: past.iter().map(|l| row(&state, l)).collect(),
        zone_label: zone_label(&state.config().practice.time_zone),
    };
    Ok(render(StatusCode::OK, view.render()))
}

/// The booking section of a request's page.
pub(super) fn panel(state: &AppState, b: &StoredBooking) -> BookingPanel {
    let location = b
        .session_location
        .as_deref()
        .and_then(practice::consultation::Location::parse);
    let outside = location.as_ref().is_some_and(|l| {
        !state
            .config()
            .practice
            .licensed_states
            .iter()
            .any(|s| s.eq_ignore_ascii_case(l.as_str()))
    });
    BookingPanel {
        location: location.as_ref().map(|l| l.label().to_string()),
        outside,
        when: long_time(b.start, &state.time_zone()),
        what: what(b),
        status: b.status.label(),
        can_confirm: ClinicianDecision::Confirm.applies_to(b.status),
        can_decline: ClinicianDecision::Decline.applies_to(b.status),
        can_propose: ClinicianDecision::ProposeOtherTime.applies_to(b.status),
        closing_cancels: b.status.cancelled_by_closing(b.start, Timestamp::now()),
        mail_enabled: state.mail_enabled,
    }
}

inbox_form!(
    /// The clinician's decision about a held time.
    DecisionForm { decision, message }
);

/// `POST /admin/requests/{id}/booking`: confirm, decline (with an optional message to the person
/// only), or ask for another time.
pub async fn decide(
    Clinician { state, admin }: Clinician,
    Path(id): Path<i64>,
    Posted(form): Posted<DecisionForm>,
) -> Result<Response, AppError> {
    let decision = match form.decision.as_str() {
        "confirm" => Some(ClinicianDecision::Confirm),
        "decline" => Some(ClinicianDecision::Decline),
        "other_time" => Some(ClinicianDecision::ProposeOtherTime),
        _ => None,
    };
    let message = decline_message(&form.message);
    let problem = match (decision, &message) {
        (None, _) => {
            Some("Choose whether to confirm, decline, or ask for another time".to_string())
        }
        (Some(ClinicianDecision::Decline), Err(e)) => Some((*e).to_string()),
        _ => None,
    };
    if let Some(problem) = problem {
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return refused(&state, &admin, id, problem, status).await;
    }
    let Some(decision) = decision else {
        return Err(AppError::NotFound);
    };
    let message = message.ok().flatten();
    let outcome = state
        .store
        .decide_booking(
            id,
            decision,
            message.as_deref(),
            &admin.email,
            state.mail_enabled,
            Timestamp::now(),
        )
        .await?;
    match outcome {
        ChangeOutcome::Changed(_) => {
            if decision == ClinicianDecision::Confirm {
                state.insights.step(crate::insights::Step::Confirmed);
            }
            if state.mail_enabled {
                state.mail_wake.notify_one();
            }
            Ok(Redirect::to(&format!("/admin/requests/{id}")).into_response())
        }
        ChangeOutcome::NoBooking | ChangeOutcome::NotApplicable(_) => {
            let r = state.store.request(id).await?.ok_or(AppError::NotFound)?;
            let why = match outcome {
                ChangeOutcome::NotApplicable(status) => format!(
                    "The booking is “{}” now, so that cannot be done. Nothing was changed.",
                    status.label()
                ),
                _ => "No consultation time has been chosen for this request. Nothing was changed."
                    .to_string(),
            };
            request_page(&state, &admin, r, Some(why), StatusCode::CONFLICT, None).await
        }
    }
}
