//! `/admin/details`: the practice's details, kept by the clinician in the inbox.
//!
//! Checked with the config's own checks ([`crate::details::check`]), saved with the version
//! the form was shown at (a save from an older version, another tab's say, is refused and the
//! text kept), audited, and live at once: this server prepares its pages again before
//! answering, the others within seconds ([`crate::web::live`]). Settings written in the config
//! file are shown read-only with where they come from.

use askama::Template;
use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use jiff::Timestamp;
use serde::Deserialize;

use super::Admin;
use super::field_error::FieldError;
use super::sign_in::{form_chrome, render};
use super::views::when;
use crate::audit::{Action, Entry};
use crate::details::{self, FIELDS, PracticeDetails};
use crate::web::form::decode;
use crate::web::{AppError, AppState};

/// One input as the template shows it.
struct FieldView {
    name: &'static str,
    label: &'static str,
    hint: &'static str,
    input_type: &'static str,
    value: String,
    from_file: Option<String>,
    error: Option<String>,
    described_by: String,
}

#[derive(Template)]
#[template(path = "admin/details.html")]
struct DetailsView {
    chrome: super::views::Chrome,
    fields: Vec<FieldView>,
    errors: Vec<FieldError>,
    version: i64,
    saved: bool,
    stale: Option<String>,
    last_saved: Option<String>,
}

#[derive(Deserialize)]
pub struct DetailsQuery {
    saved: Option<String>,
}

struct Shown {
    values: PracticeDetails,
    errors: Vec<FieldError>,
    version: i64,
    saved: bool,
    stale: Option<String>,
    status: StatusCode,
}

async fn page(state: &AppState, admin: &Admin, shown: Shown) -> Result<Response, AppError> {
    let file = state.in_force.file();
    let from_file = details::set_in_file(&file);
    let source = details::source_name(&file);
    let file_values = details::values_of(&file);
    let stored = state.store.practice_details().await?;
    let fields = FIELDS
        .iter()
        .map(|f| {
            let in_file = from_file.contains(&f.name);
            let error = super::field_error::message_for(&shown.errors, f.name).map(str::to_string);
            let mut described = Vec::new();
            if !f.hint.is_empty() {
                described.push(format!("{}-hint", f.name));
            }
            if in_file {
                described.push(format!("{}-source", f.name));
            }
            if error.is_some() {
                described.push(format!("{}-error", f.name));
            }
            FieldView {
                name: f.name,
                label: f.label,
                hint: f.hint,
                input_type: match f.name {
                    "email" => "email",
                    "phone" | "crisis_call" | "crisis_text" | "emergency_number" => "tel",
                    _ => "text",
                },
                value: if in_file {
                    file_values[f.name].clone()
                } else {
                    shown.values.get(f.name).cloned().unwrap_or_default()
                },
                from_file: in_file.then(|| source.clone()),
                error,
                described_by: described.join(" "),
            }
        })
        .collect();
    let view = DetailsView {
        chrome: form_chrome(
            state,
            admin,
            "The practice's details",
            !shown.errors.is_empty(),
            "details",
        )
        .await?,
        fields,
        errors: shown.errors,
        version: shown.version,
        saved: shown.saved,
        stale: shown.stale,
        last_saved: stored
            .map(|d| format!("{} by {}", when(d.saved_at, &state.time_zone()), d.saved_by)),
    };
    Ok(render(shown.status, view.render()))
}

pub async fn show(
    State(state): State<AppState>,
    Extension(admin): Extension<Admin>,
    Query(q): Query<DetailsQuery>,
) -> Result<Response, AppError> {
    let stored = state.store.practice_details().await?;
    let version = stored.as_ref().map_or(0, |d| d.version);
    let values = details::values_of(&state.config());
    page(
        &state,
        &admin,
        Shown {
            values,
            errors: Vec::new(),
            version,
            saved: q.saved.is_some(),
            stale: None,
            status: StatusCode::OK,
        },
    )
    .await
}

pub async fn save(
    State(state): State<AppState>,
    Extension(admin): Extension<Admin>,
    body: Bytes,
) -> Result<Response, AppError> {
    let mut known: Vec<&str> = FIELDS.iter().map(|f| f.name).collect();
    known.push("version");
    let mut form = match decode(&body, &known) {
        Ok(f) => f,
        Err(e) => {
            return Ok((
                StatusCode::BAD_REQUEST,
                format!("The form could not be read because {e}. Nothing was saved."),
            )
                .into_response());
        }
    };
    let version: i64 = form
        .remove("version")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(-1);
    // Settings from the config file are not the form's to change.
    let file = state.in_force.file();
    let from_file = details::set_in_file(&file);
    let file_values = details::values_of(&file);
    let values: PracticeDetails = FIELDS
        .iter()
        .map(|f| {
            let v = if from_file.contains(&f.name) {
                file_values[f.name].clone()
            } else {
                form.remove(f.name).unwrap_or_default().trim().to_string()
            };
            (f.name.to_string(), v)
        })
        .collect();
    if let Err(problems) = details::check(&values) {
        let errors = problems
            .into_iter()
            .map(|(field, message)| FieldError::new(field, message))
            .collect();
        return page(
            &state,
            &admin,
            Shown {
                values,
                errors,
                version,
                saved: false,
                stale: None,
                status: StatusCode::UNPROCESSABLE_ENTITY,
            },
        )
        .await;
    }
    let now = Timestamp::now();
    let audit = Entry::new(&admin.email, Action::PracticeDetailsSaved);
    if !state
        .store
        .save_practice_details(&values, version, now, &audit)
        .await?
    {
        let current = state.store.practice_details().await?;
        let stale = format!(
            "Someone saved these details after you opened this page{}, so yours were not saved, to keep their change. Your text is below: compare it with the public site, then save again.",
            current
                .as_ref()
                .map(|d| format!(
                    " ({} by {})",
                    when(d.saved_at, &state.time_zone()),
                    d.saved_by
                ))
                .unwrap_or_default()
        );
        return page(
            &state,
            &admin,
            Shown {
                values,
                errors: Vec::new(),
                version: current.map_or(0, |d| d.version),
                saved: false,
                stale: Some(stale),
                status: StatusCode::CONFLICT,
            },
        )
        .await;
    }
    super::super::live::refresh(&state, false).await?;
    Ok(Redirect::to("/admin/details?saved=1").into_response())
}
