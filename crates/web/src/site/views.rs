//! The askama templates of the public pages and the data each one needs.

use askama::Template;

use std::collections::HashMap;

use crate::site::assets::Assets;
use content::{HomePage, TextPage};
use practice::consultation::{ConsultationForm, ContactMethod, FieldError};
use practice::us_states;
use settings::config::{Config, FormConfig, Practice};
use settings::crisis::Crisis;

/// The `<head>` of a page.
pub struct Head {
    pub title: String,
    pub description: String,
    pub canonical: String,
    /// False for error pages: they ask search engines not to index them.
    pub indexable: bool,
    /// Whether the page loads the compare script (once it has painted).
    pub script: bool,
    /// schema.org JSON-LD, already escaped for a `<script>` element.
    pub json_ld: Option<String>,
}

/// What every page shows around its content: header, footer, identity.
pub struct Chrome<'a> {
    pub practice: &'a Practice,
    pub assets: &'a Assets,
    /// The path of the page, to mark the current link.
    pub current: &'a str,
    /// "California and Oregon".
    pub licensed_states: String,
    pub phone_uri: String,
    pub theme_color: &'a str,
    /// The configured crisis lines and emergency number, shown on every page (on a page for
    /// one person, the ones for where they said they are).
    pub crisis: Crisis,
    /// The clinician's own pages, linked from the navigation.
    pub own_pages: &'a [content::OwnPage],
}

impl<'a> Chrome<'a> {
    pub fn new(config: &'a Config, assets: &'a Assets, current: &'a str) -> Self {
        let practice = &config.practice;
        Chrome {
            practice,
            assets,
            current,
            licensed_states: join_names(&practice.licensed_state_names()),
            phone_uri: practice.phone_uri(),
            theme_color: &assets.theme_color,
            crisis: Crisis::new(&config.form),
            own_pages: &[],
        }
    }
}

/// `text` escaped for HTML, as the templates escape what they show.
pub fn escaped(text: &str) -> String {
    askama::filters::escape(text, askama::filters::Html)
        .map(|e| e.to_string())
        .unwrap_or_default()
}

/// "A", "A and B", "A, B and C".
pub fn join_names(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => (*one).to_string(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

#[derive(Template)]
#[template(path = "public/home.html")]
pub struct HomeView<'a> {
    pub head: Head,
    pub chrome: Chrome<'a>,
    pub home: &'a HomePage,
}

#[derive(Template)]
#[template(path = "public/contact.html")]
pub struct ContactView<'a> {
    pub head: Head,
    pub chrome: Chrome<'a>,
    pub page: &'a TextPage,
    pub form: FormView,
}

/// One entry of the error summary: the message and the id of the field it links to.
pub struct ErrorLink {
    pub target: String,
    pub message: String,
}

/// The contact form as shown: what was typed, what is wrong, and its token.
pub struct FormView {
    pub values: ConsultationForm,
    pub errors: Vec<ErrorLink>,
    by_field: HashMap<&'static str, String>,
    /// A problem that belongs to no single field (an expired form, say).
    pub notice: Option<String>,
    pub token: String,
    pub reply_time: String,
    pub contact_methods: Vec<(&'static str, &'static str)>,
    pub states: &'static [(&'static str, &'static str)],
}

impl FormView {
    pub fn new(
        form: &FormConfig,
        values: ConsultationForm,
        errors: &[FieldError],
        notice: Option<String>,
        token: String,
    ) -> Self {
        FormView {
            values,
            errors: errors
                .iter()
                .map(|e| ErrorLink {
                    target: e.field.target_id().to_string(),
                    message: e.message.clone(),
                })
                .collect(),
            by_field: errors
                .iter()
                .map(|e| (e.field.name(), e.message.clone()))
                .collect(),
            notice,
            token,
            reply_time: form.reply_time.clone(),
            contact_methods: ContactMethod::ALL
                .iter()
                .map(|m| (m.as_str(), m.label()))
                .collect(),
            states: us_states::ALL,
        }
    }

    /// The message for a field, by its HTML name.
    pub fn error(&self, name: &str) -> Option<&str> {
        self.by_field.get(name).map(String::as_str)
    }
}

/// The page after a request was sent.
#[derive(Template)]
#[template(path = "public/thanks.html")]
pub struct ThanksView<'a> {
    pub head: Head,
    pub chrome: Chrome<'a>,
    pub reply_time: &'a str,
    pub outside_licensed_states: bool,
    pub minor: bool,
    /// Someone under 18 wrote for themselves.
    pub minor_alone: bool,
    /// The link to choose a consultation time, when the person may book online.
    pub booking_href: Option<&'a str>,
}

/// One time a person may choose.
pub struct TimeChoice {
    /// The radio button's id.
    pub id: String,
    /// The instant, UTC (RFC 3339): what the form sends.
    pub value: String,
    /// "9:00 AM", on the practice's clocks.
    pub label: String,
    pub checked: bool,
}

/// The open times of one day.
pub struct DayChoice {
    /// The id of the day's legend, for the error summary.
    pub id: String,
    /// "Tuesday, March 11".
    pub heading: String,
    /// The practice's offset from UTC in minutes, where it is one for all the day's times: the
    /// script that adds the visitor's own times compares it with the visitor's, so that a
    /// visitor on the practice's clocks costs it no time zone data.
    pub offset: Option<i32>,
    pub times: Vec<TimeChoice>,
}

/// A way to meet the person may choose.
pub struct FormatChoice {
    /// The radio's id: `format-video`.
    pub id: String,
    pub value: &'static str,
    pub label: &'static str,
    pub checked: bool,
}

/// The page where a person chooses a consultation time: what varies from one to the next.
pub struct BookPage {
    pub title: String,
    pub heading: String,
    /// Why the person is choosing (again): a cancellation, the clinician's request.
    pub notice: Option<String>,
    /// The form's action: `/book/{token}`.
    pub action: String,
    /// On the "just taken" answer, which lists only the nearest times: the page with all.
    pub all_times_href: Option<String>,
    /// The practice's zone (IANA), for the script that adds the visitor's own times.
    pub zone: String,
    /// "Eastern Time (America/New_York)".
    pub zone_label: String,
    pub length_minutes: i64,
    pub days: Vec<DayChoice>,
    pub formats: Vec<FormatChoice>,
    pub errors: Vec<ErrorLink>,
    pub time_error: Option<String>,
    pub format_error: Option<String>,
    /// Where the person will be during the session (the request's state, to begin with).
    pub location: LocationQuestion,
    /// Where to go back to without changing anything (when changing a booked time).
    pub back_href: Option<String>,
}

/// The question of where a person will be during sessions (asked when they book, and with the
/// telehealth consent): every state to choose from, the licensed ones in words, the answer
/// chosen and its error.
pub struct LocationQuestion {
    pub licensed: String,
    pub states: &'static [(&'static str, &'static str)],
    pub chosen: String,
    pub error: Option<String>,
}

impl LocationQuestion {
    /// The question for `practice`, with the state `chosen` so far and its `error`, if any.
    pub fn new(practice: &Practice, chosen: String, error: Option<String>) -> LocationQuestion {
        LocationQuestion {
            licensed: practice.licensed_state_names().join(", "),
            states: us_states::ALL,
            chosen,
            error,
        }
    }
}

#[derive(Template)]
#[template(path = "public/book.html")]
pub struct BookView<'a> {
    pub head: Head,
    pub chrome: Chrome<'a>,
    pub page: BookPage,
}

/// The page that shows a person where their booking stands.
pub struct BookingPage {
    pub heading: String,
    /// Shown as a success panel (a time held or confirmed).
    pub success: bool,
    /// The booked time, in full, and how long and how.
    pub when: Option<String>,
    pub what: Option<String>,
    pub zone_label: String,
    pub paragraphs: Vec<String>,
    pub change_href: Option<String>,
    pub cancel_action: Option<String>,
    /// The questionnaire before the consultation, when the practice offers it.
    pub questionnaire_href: Option<String>,
}

#[derive(Template)]
#[template(path = "public/booking.html")]
pub struct BookingView<'a> {
    pub head: Head,
    pub chrome: Chrome<'a>,
    pub page: BookingPage,
}

/// The privacy notice: the practice's words, then what the config in force does with a
/// person's information.
#[derive(Template)]
#[template(path = "public/privacy.html")]
pub struct PrivacyView<'a> {
    pub head: Head,
    pub chrome: Chrome<'a>,
    pub page: &'a TextPage,
    pub facts: crate::site::privacy::PrivacyFacts,
}

#[derive(Template)]
#[template(path = "public/text.html")]
pub struct TextView<'a> {
    pub head: Head,
    pub chrome: Chrome<'a>,
    pub page: &'a TextPage,
}

/// Not found, server error and similar pages.
#[derive(Template)]
#[template(path = "public/status.html")]
pub struct StatusView<'a> {
    pub head: Head,
    pub chrome: Chrome<'a>,
    pub heading: &'a str,
    pub paragraphs: &'a [&'a str],
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_joined_for_reading() {
        assert_eq!(super::join_names(&["California"]), "California");
        assert_eq!(
            super::join_names(&["California", "Oregon"]),
            "California and Oregon"
        );
        assert_eq!(super::join_names(&["A", "B", "C"]), "A, B and C");
    }
}
