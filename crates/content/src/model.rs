//! The page model: what the content files mean, validated and ready to render.
//!
//! HTML fields hold Markdown already rendered with every raw tag escaped; plain-text fields are
//! escaped by the templates.

/// All the practice's words.
#[derive(Clone, Debug)]
pub struct Content {
    pub home: HomePage,
    pub contact: TextPage,
    pub privacy: TextPage,
    /// The screening questions of the questionnaire before a consultation.
    pub screening: Screening,
    /// Simple pages the clinician added in the inbox (About, Fees…), in navigation order.
    pub own_pages: Vec<OwnPage>,
    /// Addresses of pages the clinician removed: they answer 410 Gone.
    pub removed_pages: Vec<String>,
}

/// The KAP page at `/`.
#[derive(Clone, Debug)]
pub struct HomePage {
    pub hero: Hero,
    pub sections: Vec<Section>,
}

impl HomePage {
    /// Sections listed in the "On this page" table of contents.
    pub fn toc(&self) -> impl Iterator<Item = &Section> {
        self.sections.iter().filter(|s| s.in_toc)
    }

    /// A section by its anchor.
    pub fn section(&self, anchor: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.anchor == anchor)
    }
}

/// The top of the page: its main heading and opening words.
#[derive(Clone, Debug)]
pub struct Hero {
    pub title: String,
    pub subtitle: String,
    pub lead: String,
    /// The page's summary for search engines and link previews.
    pub description: String,
    pub html: String,
    pub cta: Option<Cta>,
}

/// A button leading somewhere, usually to `/contact`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cta {
    pub label: String,
    pub href: String,
}

/// One `<section>` of the KAP page.
#[derive(Clone, Debug)]
pub struct Section {
    pub title: String,
    pub anchor: String,
    pub toc_title: String,
    pub in_toc: bool,
    pub body: SectionBody,
    pub cta: Option<Cta>,
}

impl Section {
    /// The Markdown of a plain text section.
    pub fn text_html(&self) -> Option<&str> {
        match &self.body {
            SectionBody::Text { html } => Some(html),
            _ => None,
        }
    }

    /// The text of a closing banner.
    pub fn call_html(&self) -> Option<&str> {
        match &self.body {
            SectionBody::Call { html } => Some(html),
            _ => None,
        }
    }

    pub fn compare(&self) -> Option<&Compare> {
        match &self.body {
            SectionBody::Compare(c) => Some(c),
            _ => None,
        }
    }

    /// The introduction and the numbered steps.
    pub fn steps(&self) -> Option<(&str, &[Step])> {
        match &self.body {
            SectionBody::Steps { intro_html, steps } => Some((intro_html, steps)),
            _ => None,
        }
    }

    /// The introduction and the misconceptions.
    pub fn myths(&self) -> Option<(&str, &[Myth])> {
        match &self.body {
            SectionBody::Myths { intro_html, myths } => Some((intro_html, myths)),
            _ => None,
        }
    }
}

/// How a section is laid out, with what that layout needs.
#[derive(Clone, Debug)]
pub enum SectionBody {
    Text {
        html: String,
    },
    Compare(Compare),
    Steps {
        intro_html: String,
        steps: Vec<Step>,
    },
    Myths {
        intro_html: String,
        myths: Vec<Myth>,
    },
    Call {
        html: String,
    },
}

/// The "Tap or Drag Anywhere to Compare" panel: two sides and a divider.
#[derive(Clone, Debug)]
pub struct Compare {
    pub hint: String,
    pub disclaimer: String,
    /// Both sides in the order of the content file (which is the reading order without script).
    pub sides: [CompareSide; 2],
}

impl Compare {
    /// The side shown left of the divider.
    pub fn left(&self) -> &CompareSide {
        self.sides
            .iter()
            .find(|s| s.is_left)
            .unwrap_or(&self.sides[0])
    }

    /// The side shown right of the divider.
    pub fn right(&self) -> &CompareSide {
        self.sides
            .iter()
            .find(|s| !s.is_left)
            .unwrap_or(&self.sides[1])
    }
}

#[derive(Clone, Debug)]
pub struct CompareSide {
    pub title: String,
    pub html: String,
    pub is_left: bool,
}

/// One numbered step of the process.
#[derive(Clone, Debug)]
pub struct Step {
    pub number: u32,
    /// The heading without its number, e.g. "Initial Consultation".
    pub title: String,
    pub anchor: String,
    pub html: String,
}

/// A misconception (shown as the summary of a disclosure) and its answer.
#[derive(Clone, Debug)]
pub struct Myth {
    pub claim: String,
    pub html: String,
}

/// A page of the clinician's own at an address of its own (`/fees`).
#[derive(Clone, Debug)]
pub struct OwnPage {
    pub path: String,
    pub page: TextPage,
}

/// A simple page of Markdown: contact words, the privacy notice.
#[derive(Clone, Debug)]
pub struct TextPage {
    pub title: String,
    pub description: String,
    pub html: String,
}

/// The screening questions a person may answer before the consultation (yes / no / not sure):
/// the topics of the page's "not appropriate for everyone" section, in the practice's words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Screening {
    pub title: String,
    /// Said above the questions: why they are asked.
    pub description: String,
    /// The words above the list, as HTML (may be empty).
    pub html: String,
    pub questions: Vec<String>,
}
