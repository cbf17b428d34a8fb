//! `/admin/details`: the practice's details, kept by the clinician in the inbox.
//!
//! Checked with the config's own checks ([`settings::details::check`]), saved with the version
//! the form was shown at (a save from an older version, another tab's say, is refused and the
//! text kept), audited, and live at once: this server prepares its pages again before
//! answering, the others within seconds ([`crate::live`]). Settings written in the config
//! file are shown read-only with where they come from.

use askama::Template;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;
use jiff::Timestamp;
use serde::Deserialize;

use super::field_error::{FieldError, FieldErrors as _};
use super::posted::InboxForm;
use super::sign_in::{form_chrome, render};
use super::views::when;
use super::{Admin, Clinician};
use crate::form::Posted;
use crate::{AppError, AppState};
use settings::details::{self, FIELDS, PracticeDetails};
use store::audit::{Action, Entry};

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
    /// The choices of a field picked from a list (the time zone), in groups; empty for a
    /// field typed in.
    choices: Vec<ChoiceGroup>,
}

/// A group of choices in a list (an `<optgroup>`).
struct ChoiceGroup {
    label: &'static str,
    /// Each choice's value and the words shown for it.
    choices: Vec<(String, String)>,
}

/// The time zones of the United States, east to west, named as people know them.
const US_ZONES: &[(&str, &str)] = &[
    ("America/New_York", "Eastern (New York)"),
    ("America/Chicago", "Central (Chicago)"),
    ("America/Denver", "Mountain (Denver)"),
    ("America/Phoenix", "Mountain, no daylight saving (Phoenix)"),
    ("America/Los_Angeles", "Pacific (Los Angeles)"),
    ("America/Anchorage", "Alaska (Anchorage)"),
    ("Pacific/Honolulu", "Hawaii (Honolulu)"),
    ("America/Puerto_Rico", "Atlantic (Puerto Rico)"),
    ("Pacific/Guam", "Chamorro (Guam)"),
];

/// The time zone list: the United States' zones first, then every other zone the time zone
/// database knows (the system's, or the one built in), so the clinician picks a zone rather
/// than types its IANA name. A saved value missing from both is kept as the first choice.
fn time_zone_choices(current: &str) -> Vec<ChoiceGroup> {
    let us: Vec<(String, String)> = US_ZONES
        .iter()
        .map(|(zone, words)| (zone.to_string(), format!("{words}: {zone}")))
        .collect();
    let mut others: Vec<String> = jiff::tz::db()
        .available()
        .map(|name| name.as_str().to_string())
        // The canonical region/city names; the old aliases ("US/Pacific", "EST5EDT") are
        // left out, as are the US zones already listed.
        .filter(|name| name.contains('/') && !name.starts_with("US/") && !name.starts_with("Etc/"))
        .filter(|name| !US_ZONES.iter().any(|(zone, _)| zone == name))
        .collect();
    others.sort();
    others.dedup();
    let mut groups = Vec::new();
    let known = |name: &str| {
        US_ZONES.iter().any(|(zone, _)| *zone == name) || others.iter().any(|z| z == name)
    };
    if !current.is_empty() && !known(current) {
        groups.push(ChoiceGroup {
            label: "Saved",
            choices: vec![(current.to_string(), current.to_string())],
        });
    }
    groups.push(ChoiceGroup {
        label: "United States",
        choices: us,
    });
    if !others.is_empty() {
        groups.push(ChoiceGroup {
            label: "Other time zones",
            choices: others.into_iter().map(|z| (z.clone(), z)).collect(),
        });
    }
    groups
}

#[derive(Template)]
#[template(path = "admin/details.html")]
struct DetailsView {
    chrome: super::views::Chrome,
    fields: Vec<FieldView>,
    errors: Vec<FieldError>,
    version: i64,
    saved: bool,
    /// Visitors still see "being set up" (the checklist is not done).
    being_set_up: bool,
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
            let error = shown.errors.message_for(f.name).map(str::to_string);
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
                choices: if f.name == "time_zone" && !in_file {
                    time_zone_choices(shown.values.get(f.name).map_or("", String::as_str))
                } else {
                    Vec::new()
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
        being_set_up: state.setup.closed(),
        stale: shown.stale,
        last_saved: stored
            .map(|d| format!("{} by {}", when(d.saved_at, &state.time_zone()), d.saved_by)),
    };
    Ok(render(shown.status, view.render()))
}

pub async fn show(
    Clinician { state, admin }: Clinician,
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

/// The details form: the version it was shown at and each detail by name.
#[derive(Default, Deserialize)]
#[serde(default)]
pub struct DetailsPost {
    csrf: String,
    version: String,
    #[serde(flatten)]
    values: std::collections::HashMap<String, String>,
}

impl InboxForm for DetailsPost {
    const FIELDS: &'static [&'static str] = &["version"];

    fn reads(name: &str) -> bool {
        name == "version" || FIELDS.iter().any(|f| f.name == name)
    }

    fn csrf(&self) -> &str {
        &self.csrf
    }
}

pub async fn save(
    Clinician { state, admin }: Clinician,
    Posted(post): Posted<DetailsPost>,
) -> Result<Response, AppError> {
    let DetailsPost {
        version,
        values: mut form,
        ..
    } = post;
    let version: i64 = version.trim().parse().unwrap_or(-1);
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
    super::republished(&state, "/admin/details?saved=1").await
}
