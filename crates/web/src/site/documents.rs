//! The page where a person reads and signs the documents the practice sent them (rendered per
//! request: it shows their own documents and signatures). Phone first, no script: each
//! document in full, then one form with a checkbox per document, the typed full name and the
//! date, as in the GOV.UK Design System's patterns.

use askama::Template;

use super::views::{Chrome, ErrorLink, Head, LocationQuestion};
use super::{RenderError, Renderer};

/// The page of a packet.
pub struct DocumentsPage {
    pub errors: Vec<ErrorLink>,
    pub notice: Option<String>,
    pub documents: Vec<ShownDocument>,
    /// The form to sign what is not signed yet (none when everything is).
    pub form: Option<SignForm>,
}

/// One document as the person reads it.
pub struct ShownDocument {
    pub id: i64,
    pub title: String,
    /// The document's text as sent, as HTML.
    pub html: String,
    /// "Signed on 6 December 2026 by …", when signed.
    pub signed: Option<String>,
    pub pdf_href: Option<String>,
    /// "Revoked on …", when revoked.
    pub revoked: Option<String>,
    /// Where to post to revoke it (a signed release not yet revoked).
    pub revoke_action: Option<String>,
}

pub struct SignForm {
    pub action: String,
    /// The checkboxes: (document id, words), the consent to sign electronically first.
    pub boxes: Vec<(i64, String, bool)>,
    pub boxes_error: Option<String>,
    pub name: String,
    pub name_error: Option<String>,
    /// Signed by a parent or guardian (the person is under 18).
    pub guardian: bool,
    pub guardian_checked: bool,
    pub guardian_error: Option<String>,
    /// Today, in the practice's time zone, as the signature's date.
    pub date: String,
    /// With the telehealth consent unsigned: the question of where the person will be during
    /// sessions, with the licensed states named, and the answer chosen.
    pub location: Option<LocationQuestion>,
}

#[derive(Template)]
#[template(path = "public/documents.html")]
struct DocumentsView<'a> {
    head: Head,
    chrome: Chrome<'a>,
    page: DocumentsPage,
}

impl Renderer {
    /// The page of a packet. Not indexed.
    pub fn documents(&self, page: DocumentsPage) -> Result<String, RenderError> {
        let heading = "Documents to read and sign";
        let title = self.form_title(heading, !page.errors.is_empty());
        let head = self.unlisted_head("/documents", title, heading);
        self.unlisted("/documents", head, |head, chrome| DocumentsView {
            head,
            chrome,
            page,
        })
    }
}
