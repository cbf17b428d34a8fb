//! The inbox's templates and what each needs. Rendered per request (they show private data and
//! are never cached); every value is escaped by askama, so anything a visitor typed is text.

use askama::Template;

use crate::practice::status::{ClosedReason, Status};
use crate::store::{AuditRow, HistoryEntry, MailState, Note, StoredRequest};

/// What every inbox page shows around its content.
pub struct Chrome {
    pub title: String,
    pub css: String,
    pub favicon: String,
    pub practice: String,
    /// The signed-in account, if any (not on the sign-in pages).
    pub email: Option<String>,
    pub csrf: String,
    pub new_count: i64,
    /// "inbox", "spam", "audit", "two-factor" or "".
    pub current: &'static str,
}

/// A time shown to the clinician, in the practice's zone.
pub fn when(ts: jiff::Timestamp, tz: &str) -> String {
    match ts.in_tz(tz) {
        Ok(z) => z.strftime("%b %-d, %Y, %-I:%M %p %Z").to_string(),
        Err(_) => ts.to_string(),
    }
}

#[derive(Template)]
#[template(path = "admin/login.html")]
pub struct LoginView {
    pub chrome: Chrome,
    pub email: String,
    pub error: Option<String>,
    pub notice: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/code.html")]
pub struct CodeView {
    pub chrome: Chrome,
    pub error: Option<String>,
}

/// One row of the list.
pub struct Row {
    pub id: i64,
    pub reference: String,
    pub received: String,
    pub name: String,
    pub email: String,
    pub status: &'static str,
    pub is_new: bool,
    pub outside: bool,
    pub minor: bool,
    pub spam_reason: Option<String>,
}

impl Row {
    pub fn new(r: &StoredRequest, tz: &str) -> Row {
        let status = Status::parse(&r.status).unwrap_or(Status::New);
        Row {
            id: r.id,
            reference: r.reference.clone(),
            received: when(r.received_at, tz),
            name: r.name.clone(),
            email: r.email.clone(),
            status: status.label(),
            is_new: status == Status::New,
            outside: r.flags.outside_licensed_states,
            minor: r.flags.minor,
            spam_reason: r.spam.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/inbox.html")]
pub struct InboxView {
    pub chrome: Chrome,
    pub spam: bool,
    pub rows: Vec<Row>,
    pub total: usize,
    pub page: usize,
    pub pages: usize,
    pub status: String,
    pub q: String,
    pub outside: bool,
    pub minor: bool,
    pub statuses: Vec<(&'static str, &'static str)>,
    /// The query string of the current filters, without the page, for paging links.
    pub filter_query: String,
}

#[derive(Template)]
#[template(path = "admin/request.html")]
pub struct RequestView {
    pub chrome: Chrome,
    pub r: StoredRequest,
    pub row: Row,
    pub received: String,
    pub contact_method: &'static str,
    pub location: String,
    pub age: &'static str,
    pub status: Status,
    pub closed_reason: Option<&'static str>,
    pub statuses: Vec<(&'static str, &'static str)>,
    pub reasons: Vec<(&'static str, &'static str)>,
    pub notes: Vec<(Note, String)>,
    pub history: Vec<(HistoryEntry, String)>,
    pub mail: Vec<(MailState, String)>,
    pub error: Option<String>,
    pub message: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/delete.html")]
pub struct DeleteView {
    pub chrome: Chrome,
    pub id: i64,
    pub reference: String,
    pub name: String,
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
pub struct AuditView {
    pub chrome: Chrome,
    pub rows: Vec<(AuditRow, String, String)>,
    pub page: usize,
    pub pages: usize,
}

#[derive(Template)]
#[template(path = "admin/two_factor.html")]
pub struct TwoFactorView {
    pub chrome: Chrome,
    pub enabled: bool,
    pub qr_svg: String,
    pub secret: String,
    pub error: Option<String>,
    /// Shown once, right after enrolment.
    pub recovery_codes: Vec<String>,
    pub unused_codes: i64,
}

pub fn status_options() -> Vec<(&'static str, &'static str)> {
    Status::ALL
        .iter()
        .map(|s| (s.as_str(), s.label()))
        .collect()
}

pub fn reason_options() -> Vec<(&'static str, &'static str)> {
    ClosedReason::ALL
        .iter()
        .map(|r| (r.as_str(), r.label()))
        .collect()
}
