//! The pages of a questionnaire as the person sees them (rendered per request: they show the
//! person's own answers). Every question is a fieldset with a legend, every answer a radio button
//! or a text box with its label, as in the GOV.UK Design System; everything works without
//! JavaScript. When the answers need attention, the page opens with the crisis resources.

use askama::Template;

use super::views::{Chrome, ErrorLink, Head};
use super::{RenderError, Renderer};

/// One page of a questionnaire, or its start or end.
pub struct QuestionnairePage {
    pub heading: String,
    /// "Part 2 of 4", above the heading.
    pub caption: Option<String>,
    /// Open with the crisis resources (the PHQ-9's item 9 was answered above "Not at all").
    pub crisis: bool,
    /// When the clinician gets in touch after such an answer: "within 24 hours" (the practice
    /// in force's `contact_form.urgent_reply_hours`).
    pub follow_up: String,
    pub paragraphs: Vec<String>,
    /// The practice's words from the content (already HTML).
    pub intro_html: Option<String>,
    pub errors: Vec<ErrorLink>,
    pub form: Option<QuestionForm>,
    /// A link shown as a button: (address, words).
    pub next: Option<(String, String)>,
    pub back_href: Option<String>,
}

/// The questions of a page.
pub struct QuestionForm {
    pub action: String,
    /// Said once above the questions (the measures' stem).
    pub stem: Option<String>,
    /// Said once below the questions (the measures' published attribution).
    pub attribution: Option<&'static str>,
    pub choices: Vec<ChoiceQuestion>,
    pub texts: Vec<TextQuestion>,
    pub submit: String,
}

/// A question answered by choosing one option.
pub struct ChoiceQuestion {
    pub name: String,
    pub legend: String,
    pub options: Vec<ChoiceOption>,
    pub error: Option<String>,
}

pub struct ChoiceOption {
    pub id: String,
    pub value: String,
    pub label: String,
    pub checked: bool,
}

/// A question answered in the person's own words.
pub struct TextQuestion {
    pub name: String,
    pub label: String,
    pub hint: String,
    pub value: String,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "public/questionnaire.html")]
struct QuestionnaireView<'a> {
    head: Head,
    chrome: Chrome<'a>,
    page: QuestionnairePage,
}

impl Renderer {
    /// A page of a questionnaire. Not indexed.
    pub fn questionnaire(&self, page: QuestionnairePage) -> Result<String, RenderError> {
        let title = self.form_title(&page.heading, !page.errors.is_empty());
        let head = self.unlisted_head("/questionnaire", title, &page.heading);
        self.unlisted("/questionnaire", head, |head, chrome| QuestionnaireView {
            head,
            chrome,
            page,
        })
    }
}
