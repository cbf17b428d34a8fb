//! The clinician's meeting details and reminder times (`/admin/booking/meeting`): how people
//! join a video or phone consultation, when they are reminded of it, and whether the clinician
//! gets a daily agenda. The rules for each value are in `practice/meeting.rs`.

use askama::Template;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use jiff::Timestamp;
use serde::Deserialize;

use super::field_error::{FieldError, FieldErrors as _};
use super::posted::inbox_form;
use super::sign_in::{form_chrome, render};
use super::views::Chrome;
use super::{Admin, Clinician};
use crate::form::Posted;
use crate::{AppError, AppState};
use practice::meeting::{self, MeetingDetails};

/// How a phone consultation works, as the form's radios name it.
const WE_CALL: &str = "clinician-calls";
const THEY_CALL: &str = "person-calls";

/// The form as sent, every value as typed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MeetingForm {
    pub video_address: String,
    /// [`WE_CALL`] or [`THEY_CALL`].
    pub phone_way: String,
    pub phone_number: String,
    /// Hours before; empty when off.
    pub first_reminder: String,
    pub second_reminder: String,
    pub daily_agenda: bool,
}

impl MeetingForm {
    pub fn from_details(d: &MeetingDetails) -> MeetingForm {
        let hours = |i: usize| {
            d.reminders
                .get(i)
                .map(|m| (m / 60).to_string())
                .unwrap_or_default()
        };
        MeetingForm {
            video_address: d.video_address.clone().unwrap_or_default(),
            phone_way: if d.phone_number.is_some() {
                THEY_CALL
            } else {
                WE_CALL
            }
            .into(),
            phone_number: d.phone_number.clone().unwrap_or_default(),
            first_reminder: hours(0),
            second_reminder: hours(1),
            daily_agenda: d.daily_agenda,
        }
    }

    /// The details this form describes, or every problem with it, in form order.
    pub fn to_details(&self) -> Result<MeetingDetails, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut details = MeetingDetails {
            daily_agenda: self.daily_agenda,
            reminders: Vec::new(),
            ..MeetingDetails::default()
        };
        match meeting::video_address(&self.video_address) {
            Ok(v) => details.video_address = v,
            Err(m) => errors.push(FieldError::new("video_address", m)),
        }
        match self.phone_way.as_str() {
            THEY_CALL => match meeting::phone_number(&self.phone_number) {
                Ok(Some(n)) => details.phone_number = Some(n),
                Ok(None) => errors.push(FieldError::new(
                    "phone_number",
                    "Enter the number people call, or choose that you call them",
                )),
                Err(m) => errors.push(FieldError::new("phone_number", m)),
            },
            WE_CALL => {}
            _ => errors.push(FieldError::new(
                "phone_way-clinician-calls",
                "Choose how a phone consultation works",
            )),
        }
        for (field, text) in [
            ("first_reminder", &self.first_reminder),
            ("second_reminder", &self.second_reminder),
        ] {
            match meeting::reminder_hours(text) {
                Ok(Some(m)) if details.reminders.contains(&m) => errors.push(FieldError::new(
                    field,
                    "The two reminders are set for the same time: change one, or leave it empty",
                )),
                Ok(Some(m)) => details.reminders.push(m),
                Ok(None) => {}
                Err(m) => errors.push(FieldError::new(field, m)),
            }
        }
        details.reminders.sort_unstable_by(|a, b| b.cmp(a));
        if errors.is_empty() {
            Ok(details)
        } else {
            Err(errors)
        }
    }
}

#[derive(Template)]
#[template(path = "admin/meeting.html")]
pub struct MeetingView {
    pub chrome: Chrome,
    pub form: MeetingForm,
    pub errors: Vec<FieldError>,
    pub saved: bool,
    pub we_call: &'static str,
    pub they_call: &'static str,
}

#[derive(Deserialize, Default)]
pub struct MeetingQuery {
    saved: Option<String>,
}

async fn view(
    state: &AppState,
    admin: &Admin,
    form: MeetingForm,
    errors: Vec<FieldError>,
    saved: bool,
) -> Result<MeetingView, AppError> {
    Ok(MeetingView {
        chrome: form_chrome(
            state,
            admin,
            "Meeting details and reminders",
            !errors.is_empty(),
            "booking",
        )
        .await?,
        form,
        errors,
        saved,
        we_call: WE_CALL,
        they_call: THEY_CALL,
    })
}

/// `GET /admin/booking/meeting`.
pub async fn page(
    Clinician { state, admin }: Clinician,
    Query(q): Query<MeetingQuery>,
) -> Result<Response, AppError> {
    let details = state.store.meeting_details().await?;
    let v = view(
        &state,
        &admin,
        MeetingForm::from_details(&details),
        Vec::new(),
        q.saved.is_some(),
    )
    .await?;
    Ok(render(StatusCode::OK, v.render()))
}

inbox_form!(
    /// The meeting details' form, as sent.
    MeetingPost {
        video_address,
        phone_way,
        phone_number,
        first_reminder,
        second_reminder,
        daily_agenda,
    }
);

/// `POST /admin/booking/meeting`: checks and saves.
pub async fn save(
    Clinician { state, admin }: Clinician,
    Posted(post): Posted<MeetingPost>,
) -> Result<Response, AppError> {
    let form = MeetingForm {
        video_address: post.video_address,
        phone_way: post.phone_way,
        phone_number: post.phone_number,
        first_reminder: post.first_reminder,
        second_reminder: post.second_reminder,
        // A ticked box sends a value.
        daily_agenda: !post.daily_agenda.is_empty(),
    };
    match form.to_details() {
        Ok(details) => {
            state
                .store
                .save_meeting_details(&details, &admin.email, Timestamp::now())
                .await?;
            Ok(Redirect::to("/admin/booking/meeting?saved=1").into_response())
        }
        Err(errors) => {
            let v = view(&state, &admin, form, errors, false).await?;
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, v.render()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_read_back_and_every_problem_names_its_field() {
        let d = MeetingDetails::default();
        let form = MeetingForm::from_details(&d);
        assert_eq!(form.first_reminder, "24");
        assert_eq!(form.second_reminder, "1");
        assert_eq!(form.to_details(), Ok(d));

        let mut f = form.clone();
        f.second_reminder = String::new();
        f.first_reminder = "2".into();
        assert_eq!(f.to_details().map(|d| d.reminders), Ok(vec![120]));

        let f = MeetingForm {
            video_address: "zoom.example.com/room".into(),
            phone_way: THEY_CALL.into(),
            phone_number: String::new(),
            first_reminder: "24".into(),
            second_reminder: "24".into(),
            daily_agenda: true,
        };
        let errors = f.to_details().expect_err("invalid");
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["video_address", "phone_number", "second_reminder"]);
    }
}
