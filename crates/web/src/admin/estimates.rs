//! The Good Faith Estimate on a request's page (No Surprises Act, 45 CFR 149.610): the form
//! that makes one for the person from the clinician's fees, each estimate made with when it is
//! due and when it was given, and its PDF.
//!
//! The fees, NPI, TIN and office come from the practice in force (`[estimate]`, or the inbox's
//! details); the person's name and date of birth are entered here by the clinician, sealed with
//! the estimate, and appear nowhere but on this page and in the PDF. The due date is the rules'
//! ([`practice::good_faith_estimate`]), counted in the practice's time zone.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use jiff::Timestamp;
use jiff::civil::Date;

use super::Clinician;
use super::inbox::refused;
use super::views::when;
use crate::form::Posted;
use crate::{AppError, AppState};
use practice::good_faith_estimate::{
    self as gfe, EstimateInput, Provider, Service, SessionKind, Trigger,
};
use store::{DueBecause, GivenHow, NewEstimate, StoredEstimate, StoredRequest};

/// The longest name, and code, the form takes.
const NAME_MAX: usize = 200;
const CODE_MAX: usize = 12;

/// One estimate on a request's page.
pub struct EstimateLine {
    pub id: i64,
    /// "Made …"
    pub made: String,
    /// "Due by Tuesday, December 8, 2026" or why none is required.
    pub due: String,
    /// "Given … by email" or `None`.
    pub given: Option<String>,
    /// Not given and its due day has passed.
    pub late: bool,
}

/// One kind of session on the form: its code field.
pub struct KindRow {
    pub key: &'static str,
    pub label: &'static str,
}

/// The estimates panel of a request's page.
pub struct EstimatesPanel {
    pub made: Vec<EstimateLine>,
    /// The settings still missing before an estimate can be made (in the details' words).
    pub missing: Vec<String>,
    pub kinds: Vec<KindRow>,
    /// Today in the practice's zone, for the form's default dates.
    pub today: String,
}

/// `due_on` as the page shows it.
fn due_words(e: &StoredEstimate) -> String {
    match e.due_on.as_deref().and_then(|d| d.parse::<Date>().ok()) {
        Some(d) => format!("Due by {}", d.strftime("%A, %B %-d, %Y")),
        None => "Not required by law (the service was scheduled fewer than 3 business days ahead)"
            .to_string(),
    }
}

/// What is missing from the practice's settings before an estimate can be made.
fn missing(state: &AppState) -> Vec<String> {
    let config = state.config();
    let e = &config.estimate;
    let mut out = Vec::new();
    for (value, label) in [
        (&e.npi, "the National Provider Identifier (NPI)"),
        (&e.tin, "the Taxpayer Identification Number (TIN)"),
        (&e.office_address, "the office address"),
    ] {
        if value.is_empty() {
            out.push(label.to_string());
        }
    }
    if let Err(kinds) = e.fees() {
        for k in kinds {
            out.push(format!("the fee for {}", k.key().replace('_', " ")));
        }
    }
    out
}

/// The estimates panel of request `r`.
pub async fn panel(state: &AppState, r: &StoredRequest) -> Result<EstimatesPanel, AppError> {
    let tz = state.time_zone();
    let today = Timestamp::now().to_zoned_datetime(tz.clone()).date();
    let made = state
        .store
        .estimates(r.id)
        .await?
        .iter()
        .map(|e| {
            let due_on = e.due_on.as_deref().and_then(|d| d.parse::<Date>().ok());
            EstimateLine {
                id: e.id,
                made: format!("Made {}", when(e.made_at, &tz)),
                due: due_words(e),
                given: e.given_at.map(|at| {
                    let how = match e.given_how {
                        Some(GivenHow::Email) => " by email",
                        Some(GivenHow::Pdf) => " as a PDF",
                        None => "",
                    };
                    format!("Given {}{how}", when(at, &tz))
                }),
                late: e.given_at.is_none() && due_on.is_some_and(|d| d < today),
            }
        })
        .collect();
    Ok(EstimatesPanel {
        made,
        missing: missing(state),
        kinds: SessionKind::ALL
            .into_iter()
            .map(|k| KindRow {
                key: k.key(),
                label: k.description(),
            })
            .collect(),
        today: today.to_string(),
    })
}

/// The estimate form.
#[derive(Default, serde::Deserialize)]
#[serde(default)]
pub struct EstimateForm {
    csrf: String,
    person_name: String,
    date_of_birth: String,
    due_because: String,
    due_from: String,
    service_on: String,
    diagnosis_codes: String,
    #[serde(flatten)]
    codes: std::collections::HashMap<String, String>,
}

impl super::posted::InboxForm for EstimateForm {
    const FIELDS: &'static [&'static str] = &[
        "person_name",
        "date_of_birth",
        "due_because",
        "due_from",
        "service_on",
        "diagnosis_codes",
    ];
    const NOTHING: &'static str = "No estimate was made.";

    fn reads(name: &str) -> bool {
        Self::FIELDS.contains(&name) || name.starts_with("code-")
    }

    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// A service or diagnosis code: letters, digits, dots and hyphens.
fn code(value: &str) -> Option<String> {
    let v = value.trim();
    (!v.is_empty()
        && v.chars().count() <= CODE_MAX
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'))
    .then(|| v.to_ascii_uppercase())
}

/// A date as the form gives it (`YYYY-MM-DD`).
fn date(value: &str) -> Option<Date> {
    value.trim().parse::<Date>().ok()
}

/// `POST /admin/requests/{id}/estimates`: makes a Good Faith Estimate for the request's person.
pub async fn make(
    Clinician { state, admin }: Clinician,
    Path(id): Path<i64>,
    Posted(form): Posted<EstimateForm>,
) -> Result<Response, AppError> {
    if state.store.request(id).await?.is_none() {
        return Err(AppError::NotFound);
    }
    let missing = missing(&state);
    if !missing.is_empty() {
        return refused(
            &state,
            &admin,
            id,
            format!(
                "Before an estimate can be made, set {} under Practice details.",
                missing.join(", ")
            ),
            StatusCode::CONFLICT,
        )
        .await;
    }
    let tz = state.time_zone();
    let now = Timestamp::now();
    let today = now.to_zoned_datetime(tz.clone()).date();
    let mut problems = Vec::new();
    let name = form
        .person_name
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if name.is_empty() || name.chars().count() > NAME_MAX {
        problems.push(format!(
            "Write the person's full name, in at most {NAME_MAX} characters"
        ));
    }
    let dob = date(&form.date_of_birth).filter(|d| *d <= today && d.year() >= 1900);
    if dob.is_none() {
        problems.push(
            "Write the person's date of birth as year-month-day, such as 1988-04-02".to_string(),
        );
    }
    let due_from = date(&form.due_from).filter(|d| *d <= today);
    if due_from.is_none() {
        problems.push("Write the day the person asked or the service was scheduled, as year-month-day, no later than today".to_string());
    }
    let scheduled = form.due_because == "scheduled";
    if !scheduled && form.due_because != "requested" {
        problems.push(
            "Choose whether the person asked for an estimate or a service was scheduled"
                .to_string(),
        );
    }
    let service_on = date(&form.service_on);
    if scheduled && service_on.is_none_or(|s| due_from.is_some_and(|f| s <= f)) {
        problems.push("Write the day of the scheduled service, as year-month-day, after the day it was scheduled".to_string());
    }
    let diagnosis: Vec<&str> = form
        .diagnosis_codes
        .split([',', ' '])
        .filter(|c| !c.trim().is_empty())
        .collect();
    let diagnosis_codes: Vec<String> = diagnosis.iter().filter_map(|c| code(c)).collect();
    if diagnosis_codes.len() != diagnosis.len() || diagnosis.len() > 12 {
        problems
            .push("Write up to 12 diagnosis codes separated by commas, such as F33.1".to_string());
    }
    let config = state.config();
    let fees = config.estimate.fees().unwrap_or_default();
    let mut services = Vec::new();
    for fee in &fees {
        let mut one = Service::from_fees(std::slice::from_ref(fee));
        let given = form
            .codes
            .get(&format!("code-{}", fee.kind.key()))
            .map(|v| v.trim())
            .unwrap_or("");
        if !given.is_empty() {
            match code(given) {
                Some(c) => one.iter_mut().for_each(|s| s.service_code = Some(c.clone())),
                None => problems.push(format!(
                    "The service code for {} can hold only letters, digits, dots and hyphens, up to {CODE_MAX}",
                    fee.kind.key().replace('_', " ")
                )),
            }
        }
        services.extend(one);
    }
    let (Some(dob), Some(due_from), true) = (dob, due_from, problems.is_empty()) else {
        return refused(
            &state,
            &admin,
            id,
            format!("{}. No estimate was made.", problems.join(". ")),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    // The day the person asked or the service was scheduled: now when it is today, else that
    // day's noon in the practice's zone (the rules count from the practice's calendar day).
    let from_at = if due_from == today {
        now
    } else {
        due_from
            .at(12, 0, 0, 0)
            .to_zoned_datetime(tz.clone())
            .map(|z| z.timestamp())
            .unwrap_or(now)
    };
    let trigger = match (scheduled, service_on) {
        (true, Some(service_on)) => Trigger::Scheduled {
            at: from_at,
            service_on,
        },
        _ => Trigger::Requested { at: from_at },
    };
    let due_on = gfe::due_on(trigger, &tz);
    let practice = &config.practice;
    let input = EstimateInput {
        person_name: name,
        date_of_birth: dob,
        provider: Provider {
            name: practice.clinician_name_with_credentials(),
            practice: practice.name.clone(),
            npi: config.estimate.npi.clone(),
            tin: config.estimate.tin.clone(),
            office: config.estimate.office_address.clone(),
            states: practice
                .licensed_state_names()
                .into_iter()
                .map(String::from)
                .collect(),
        },
        services,
        diagnosis_codes,
        separately: Vec::new(),
        given_on: today,
    };
    let content = gfe::compose(&input).lines().join("\n");
    let new = NewEstimate {
        due_because: if scheduled {
            DueBecause::Scheduled
        } else {
            DueBecause::Requested
        },
        due_from: from_at,
        service_on: service_on.filter(|_| scheduled).map(|d| d.to_string()),
        due_on: due_on.map(|d| d.to_string()),
        content,
    };
    if state
        .store
        .add_estimate(id, &new, &admin.email, now)
        .await?
        .is_none()
    {
        return Err(AppError::NotFound);
    }
    Ok(Redirect::to(&format!("/admin/requests/{id}#estimates-title")).into_response())
}

/// The estimate's PDF.
pub(crate) fn pdf_response(e: &StoredEstimate) -> Response {
    let lines: Vec<String> = std::iter::once("Good Faith Estimate".to_string())
        .chain(std::iter::once(String::new()))
        .chain(e.content.lines().map(String::from))
        .collect();
    let bytes = crate::pdf::document("Good Faith Estimate", &lines);
    crate::respond::pdf_download(bytes, "good-faith-estimate.pdf")
}

/// `GET /admin/requests/{id}/estimates/{estimate}/pdf`: the estimate as a PDF, to give.
pub async fn pdf(
    Clinician { state, .. }: Clinician,
    Path((id, estimate)): Path<(i64, i64)>,
) -> Result<Response, AppError> {
    match state.store.estimate(id, estimate).await? {
        Some(e) => Ok(pdf_response(&e)),
        None => Err(AppError::NotFound),
    }
}

/// The form that records an estimate as given.
#[derive(Default, serde::Deserialize)]
#[serde(default)]
pub struct GivenForm {
    csrf: String,
}

impl super::posted::InboxForm for GivenForm {
    const FIELDS: &'static [&'static str] = &[];
    const NOTHING: &'static str = "Nothing was recorded.";

    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `POST /admin/requests/{id}/estimates/{estimate}/given`: records that the clinician gave the
/// estimate's PDF to the person.
pub async fn given(
    Clinician { state, admin }: Clinician,
    Path((id, estimate)): Path<(i64, i64)>,
    Posted(_): Posted<GivenForm>,
) -> Result<Response, AppError> {
    if state.store.estimate(id, estimate).await?.is_none() {
        return Err(AppError::NotFound);
    }
    state
        .store
        .estimate_given(id, estimate, GivenHow::Pdf, &admin.email, Timestamp::now())
        .await?;
    Ok(Redirect::to(&format!("/admin/requests/{id}#estimates-title")).into_response())
}
