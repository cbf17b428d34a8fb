//! A questionnaire a person answers before the consultation (the intake: screening questions,
//! medications, and the two measures) or between sessions (the measures again), page by page.
//!
//! Every answer is optional and each page is kept as soon as it is sent, so a person who stops
//! finds their answers again when they come back. Screening answers of "yes" or "not sure" are topics for the
//! consultation: nothing here refuses anyone. The measures' scoring is in `measures.rs`.

use serde::{Deserialize, Serialize};

use super::measures::{self, Measure, Responses, ScreeningAnswer};

crate::text_forms! {
    /// Which questionnaire.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Kind {
        /// Before the first consultation: everything.
        Intake = "intake" => "Before the consultation",
        /// Sent again by the clinician: the two measures only.
        Measures = "measures" => "Measures",
    }
}

impl Kind {
    /// Its pages, in order.
    pub fn pages(self) -> &'static [Page] {
        match self {
            Kind::Intake => &[Page::Screening, Page::Medications, Page::Phq9, Page::Gad7],
            Kind::Measures => &[Page::Phq9, Page::Gad7],
        }
    }
}

/// One page of a questionnaire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Page {
    Screening,
    Medications,
    Phq9,
    Gad7,
}

impl Page {
    pub fn slug(self) -> &'static str {
        match self {
            Page::Screening => "screening",
            Page::Medications => "medications",
            Page::Phq9 => "phq9",
            Page::Gad7 => "gad7",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Page::Screening, Page::Medications, Page::Phq9, Page::Gad7]
            .into_iter()
            .find(|p| p.slug() == s)
    }
}

/// A screening question as it was asked, with the answer given.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScreeningItem {
    /// The question's words when it was asked (the content may change later).
    pub question: String,
    /// `yes`, `no` or `not_sure`.
    pub answer: String,
}

impl ScreeningItem {
    pub fn answer(&self) -> Option<ScreeningAnswer> {
        ScreeningAnswer::parse(&self.answer)
    }
}

/// Everything answered so far. Sealed as one value (see `store/questionnaires.rs`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Answers {
    pub screening: Vec<ScreeningItem>,
    pub medications: Option<String>,
    pub prescriber: Option<String>,
    pub phq9: Vec<Option<u8>>,
    pub gad7: Vec<Option<u8>>,
    /// The unscored closing question of each measure, 0–3 ([`measures::DIFFICULTY_OPTIONS`]).
    pub phq9_difficulty: Option<u8>,
    pub gad7_difficulty: Option<u8>,
    /// The pages sent so far (by slug), answered or left blank.
    pub pages_sent: Vec<String>,
}

/// The longest free-text answer kept, in characters.
pub const MAX_TEXT: usize = 2000;

impl Answers {
    pub fn responses(&self, measure: Measure) -> Responses {
        let v = match measure {
            Measure::Phq9 => &self.phq9,
            Measure::Gad7 => &self.gad7,
        };
        Responses(v.clone())
    }

    /// The answer (0–3) to `measure`'s closing "how difficult" question.
    pub fn difficulty_answer(&self, measure: Measure) -> Option<u8> {
        match measure {
            Measure::Phq9 => self.phq9_difficulty,
            Measure::Gad7 => self.gad7_difficulty,
        }
    }

    /// The answer to `measure`'s closing "how difficult" question, in words.
    pub fn difficulty(&self, measure: Measure) -> Option<&'static str> {
        let v = self.difficulty_answer(measure)?;
        measures::DIFFICULTY_OPTIONS.get(usize::from(v)).copied()
    }

    pub fn score(&self, measure: Measure) -> Option<measures::Score> {
        measures::score(measure, &self.responses(measure))
    }

    /// Whether the answers need the clinician's attention soon (see `measures.rs`).
    pub fn needs_attention(&self) -> bool {
        measures::needs_attention(&self.responses(Measure::Phq9))
    }

    /// Whether these answers need the clinician's attention again compared with `before`
    /// (see `measures::attention_rises`).
    pub fn attention_rises_from(&self, before: &Answers) -> bool {
        measures::attention_rises(
            &before.responses(Measure::Phq9),
            &self.responses(Measure::Phq9),
        )
    }

    /// Screening questions answered "yes" or "not sure": topics for the consultation.
    pub fn to_discuss(&self) -> impl Iterator<Item = &ScreeningItem> {
        self.screening
            .iter()
            .filter(|s| s.answer().is_some_and(ScreeningAnswer::to_discuss))
    }

    pub fn sent(&self, page: Page) -> bool {
        self.pages_sent.iter().any(|p| p == page.slug())
    }

    pub fn mark_sent(&mut self, page: Page) {
        if !self.sent(page) {
            self.pages_sent.push(page.slug().to_string());
        }
    }

    /// The first page of `kind` not yet sent, if any.
    pub fn next_page(&self, kind: Kind) -> Option<Page> {
        kind.pages().iter().copied().find(|p| !self.sent(*p))
    }

    /// Takes `page`'s answers from `sent` (what the page's form sent) and marks the page sent,
    /// leaving every other page's answers as they are: two pages saved at once from two tabs
    /// both keep their answers.
    pub fn take_page(&mut self, page: Page, sent: &Answers) {
        match page {
            Page::Screening => self.screening = sent.screening.clone(),
            Page::Medications => {
                self.medications = sent.medications.clone();
                self.prescriber = sent.prescriber.clone();
            }
            Page::Phq9 => {
                self.phq9 = sent.phq9.clone();
                self.phq9_difficulty = sent.phq9_difficulty;
            }
            Page::Gad7 => {
                self.gad7 = sent.gad7.clone();
                self.gad7_difficulty = sent.gad7_difficulty;
            }
        }
        self.mark_sent(page);
    }

    /// Whether `kind` is complete once `page` is saved: it was the last page, or every page
    /// has been sent.
    pub fn complete_after(&self, kind: Kind, page: Page) -> bool {
        kind.pages().last() == Some(&page) || self.next_page(kind).is_none()
    }
}

/// A free-text answer as kept: trimmed, line ends made plain, control characters refused,
/// at most [`MAX_TEXT`] characters. Empty is no answer.
pub fn text_answer(value: &str) -> Result<Option<String>, TextError> {
    let v = value.trim().replace("\r\n", "\n");
    if v.is_empty() {
        return Ok(None);
    }
    if v.chars().count() > MAX_TEXT {
        return Err(TextError::TooLong);
    }
    if v.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(TextError::Control);
    }
    Ok(Some(v))
}

/// Why a free-text answer was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("must be 2,000 characters or fewer")]
    TooLong,
    #[error("includes characters that cannot be saved")]
    Control,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_takes_only_its_own_answers() {
        let mut stored = Answers {
            medications: Some("kept".into()),
            phq9: vec![Some(1); 9],
            ..Answers::default()
        };
        stored.mark_sent(Page::Medications);
        stored.mark_sent(Page::Phq9);
        // A stale copy with the GAD-7 answered and nothing else.
        let sent = Answers {
            gad7: vec![Some(2); 7],
            gad7_difficulty: Some(1),
            phq9_difficulty: Some(3),
            ..Answers::default()
        };
        stored.take_page(Page::Gad7, &sent);
        assert_eq!(stored.medications.as_deref(), Some("kept"));
        assert_eq!(stored.phq9, vec![Some(1); 9]);
        assert_eq!(stored.gad7, vec![Some(2); 7]);
        assert_eq!(stored.difficulty(Measure::Gad7), Some("Somewhat difficult"));
        assert_eq!(
            stored.difficulty(Measure::Phq9),
            None,
            "another page's answer"
        );
        assert!(stored.sent(Page::Gad7) && stored.sent(Page::Phq9));
        assert!(stored.complete_after(Kind::Measures, Page::Gad7));
        assert!(!stored.complete_after(Kind::Intake, Page::Phq9));
        assert!(
            stored.complete_after(Kind::Intake, Page::Gad7),
            "the last page"
        );
        stored.take_page(Page::Medications, &Answers::default());
        assert_eq!(
            stored.medications, None,
            "a page sent empty clears its answers"
        );
    }

    #[test]
    fn pages_come_in_order_and_progress_is_kept() {
        let mut a = Answers::default();
        assert_eq!(a.next_page(Kind::Intake), Some(Page::Screening));
        assert_eq!(a.next_page(Kind::Measures), Some(Page::Phq9));
        a.mark_sent(Page::Screening);
        a.mark_sent(Page::Screening);
        assert_eq!(a.pages_sent.len(), 1);
        assert_eq!(a.next_page(Kind::Intake), Some(Page::Medications));
        a.mark_sent(Page::Medications);
        a.mark_sent(Page::Phq9);
        a.mark_sent(Page::Gad7);
        assert_eq!(a.next_page(Kind::Intake), None);
        for p in Kind::Intake.pages() {
            assert_eq!(Page::parse(p.slug()), Some(*p));
        }
        assert_eq!(Kind::parse("measures"), Some(Kind::Measures));
        assert_eq!(Kind::parse("other"), None);
    }

    #[test]
    fn yes_and_not_sure_answers_are_topics_and_item_nine_raises_attention() {
        let a = Answers {
            screening: vec![
                ScreeningItem {
                    question: "Q1".into(),
                    answer: "yes".into(),
                },
                ScreeningItem {
                    question: "Q2".into(),
                    answer: "not_sure".into(),
                },
            ],
            phq9: vec![Some(0), None, None, None, None, None, None, None, Some(2)],
            ..Answers::default()
        };
        assert_eq!(
            a.to_discuss()
                .map(|s| s.question.as_str())
                .collect::<Vec<_>>(),
            ["Q1", "Q2"]
        );
        assert!(a.needs_attention());
        assert_eq!(a.score(Measure::Phq9), None);
    }

    #[test]
    fn free_text_is_tidied_and_bounded() {
        assert_eq!(text_answer("  "), Ok(None));
        assert_eq!(text_answer(" a\r\nb "), Ok(Some("a\nb".into())));
        assert_eq!(
            text_answer(&"x".repeat(MAX_TEXT + 1)),
            Err(TextError::TooLong)
        );
        assert_eq!(text_answer("a\u{0}b"), Err(TextError::Control));
    }
}
