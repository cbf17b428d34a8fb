//! The inbox's templates and what each needs. Rendered per request (they show private data and
//! are never cached); every value is escaped by askama, so anything a visitor typed is text.

use askama::Template;

use super::booking_form::SettingsForm;
use super::field_error::{FieldError, FieldErrors as _};
use practice::status::{ClosedReason, Status};
use store::{AuditRow, HistoryEntry, MailState, Note, StoredRequest, UnreadableRequest};

/// What every inbox page shows around its content.
#[derive(Default)]
pub struct Chrome {
    pub title: String,
    pub css: String,
    pub favicon: String,
    pub practice: String,
    /// The signed-in account, if any (not on the sign-in pages).
    pub email: Option<String>,
    pub csrf: String,
    pub new_count: i64,
    /// "inbox", "spam", "bookings", "booking", "insights", "audit", "two-factor" or "".
    pub current: &'static str,
}

/// A time shown to the clinician, in the practice's zone.
pub fn when(ts: jiff::Timestamp, tz: &jiff::tz::TimeZone) -> String {
    ts.to_zoned_datetime(tz.clone())
        .strftime("%b %-d, %Y, %-I:%M %p %Z")
        .to_string()
}

/// "3:10 PM EST on Dec 6, 2026": an instant after "at".
pub fn at_time(ts: jiff::Timestamp, tz: &jiff::tz::TimeZone) -> String {
    ts.to_zoned_datetime(tz.clone())
        .strftime("%-I:%M %p %Z on %b %-d, %Y")
        .to_string()
}

/// What an email about a request is, in words.
fn mail_label(kind: &str) -> &'static str {
    match kind {
        "new_request_notice" => "Notice of this request to you",
        "acknowledgement" => "Acknowledgement to the person",
        "booking_held" => "Held time, to the person",
        "booking_held_notice" => "Notice of the held time to you",
        "booking_confirmed" => "Confirmation to the person",
        "booking_declined" => "Decline to the person",
        "booking_other_time" => "Request for another time, to the person",
        "booking_cancelled" => "Cancellation to the person",
        "booking_cancelled_notice" => "Notice of the cancellation to you",
        "booking_reminder" => "Reminder to the person",
        "daily_agenda" => "Daily agenda to you",
        "questionnaire_link" => "Questionnaire link to the person",
        "questionnaire_attention_notice" => "Urgent notice",
        "questionnaire_attention_overdue" => "Second urgent notice",
        _ => "Email",
    }
}

/// What became of an email about a request, in plain words: "Urgent notice sent to
/// sam@example.org at 3:10 PM EST on Dec 6, 2026", or that it did not go out or waits.
pub fn mail_line(m: &MailState, tz: &jiff::tz::TimeZone) -> String {
    let what = mail_label(&m.kind);
    let error = m.last_error.as_deref().unwrap_or("no reason was given");
    match (m.status.as_str(), m.sent_at) {
        ("sent", Some(at)) => match &m.sent_to {
            Some(to) => format!("{what} sent to {to} at {}", at_time(at, tz)),
            None => format!("{what} sent at {}", at_time(at, tz)),
        },
        ("failed", _) => format!(
            "{what} did not go out: {error}. It was given up after {} attempts; check the mail settings, then retry sending",
            m.attempts
        ),
        _ if m.attempts > 0 => format!(
            "{what} has not gone out yet: {error}. Trying again at {}",
            at_time(m.next_attempt_at, tz)
        ),
        _ => format!(
            "{what} is waiting to be sent (queued at {})",
            at_time(m.created_at, tz)
        ),
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
    /// The request cannot be read: `name` says so, and nothing of the person is shown.
    pub unreadable: bool,
}

impl Row {
    pub fn new(r: &StoredRequest, tz: &jiff::tz::TimeZone) -> Row {
        let status = r.status;
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
            spam_reason: r.spam.map(|s| s.as_str().to_string()),
            unreadable: false,
        }
    }

    /// The row of a request that cannot be read.
    pub fn unreadable(u: &UnreadableRequest, tz: &jiff::tz::TimeZone) -> Row {
        Row {
            id: u.id,
            reference: unreadable_reference(u),
            received: u.received_at.map(|t| when(t, tz)).unwrap_or_default(),
            name: unreadable_title(u),
            email: String::new(),
            status: "",
            is_new: false,
            outside: false,
            minor: false,
            spam_reason: None,
            unreadable: true,
        }
    }
}

/// How a request that cannot be read is named: its reference, or its number.
pub fn unreadable_reference(u: &UnreadableRequest) -> String {
    u.reference
        .clone()
        .unwrap_or_else(|| format!("number {}", u.id))
}

/// "Request ABCD-EFGH cannot be read".
pub fn unreadable_title(u: &UnreadableRequest) -> String {
    format!("Request {} cannot be read", unreadable_reference(u))
}

/// The page of a request that cannot be read: what happened and what the clinician can do.
#[derive(Template)]
#[template(path = "admin/unreadable.html")]
pub struct UnreadableView {
    pub chrome: Chrome,
    pub id: i64,
    pub title: String,
    pub received: String,
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
    /// Shown above the list when the HTTPS certificate could not be renewed and expires soon.
    pub certificate_warning: Option<String>,
    /// How backups stand (see `backups::inbox_line`): the sentence, and whether it is a warning.
    pub backup_line: Option<(String, bool)>,
    /// Requests whose questionnaire needs attention: (id, reference, since, what became of
    /// the urgent notice), shown first.
    pub attention: Vec<(i64, String, String, String)>,
    /// The going-live checklist while any item is left, with whether the public sees "being
    /// set up".
    pub going_live: Option<(Vec<super::going_live::ChecklistRow>, bool)>,
    /// Closed requests retention deletes within 30 days: (id, reference, deleted after), with
    /// an export offered first.
    pub due_for_deletion: Vec<(i64, String, String)>,
}

impl RequestView {
    /// The `mailto:` link to the person: their address percent-encoded, so nothing stored in it
    /// can add a recipient, header or body to the email.
    pub fn mailto(&self) -> String {
        mailto_href(&self.r.email)
    }
}

/// `mailto:` and `address` with everything but letters, digits, `@`, `.`, `-`, `_` and `~`
/// percent-encoded.
pub fn mailto_href(address: &str) -> String {
    let mut href = String::from("mailto:");
    for b in address.bytes() {
        if b.is_ascii_alphanumeric() || b"@.-_~".contains(&b) {
            href.push(char::from(b));
        } else {
            href.push_str(&format!("%{b:02X}"));
        }
    }
    href
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
    /// Whom the consultation is for.
    pub for_whom: &'static str,
    pub status: Status,
    pub closed_reason: Option<&'static str>,
    pub statuses: Vec<(&'static str, &'static str)>,
    pub reasons: Vec<(&'static str, &'static str)>,
    pub notes: Vec<(Note, String)>,
    pub history: Vec<(HistoryEntry, String)>,
    /// Each email about the request and what became of it, in words.
    pub mail: Vec<String>,
    pub error: Option<String>,
    pub message: Option<String>,
    /// The request's consultation booking, if a time was ever chosen.
    pub booking: Option<BookingPanel>,
    /// The request's questionnaires and measures.
    pub questionnaires: super::questionnaires::QuestionnairesPanel,
    /// The documents sent to sign, and the form to send more.
    pub documents: super::documents::DocumentsPanel,
    /// The Good Faith Estimates made for the person, and the form to make one.
    pub estimates: super::estimates::EstimatesPanel,
}

/// A request's booking as its page shows it, with what the clinician may do.
pub struct BookingPanel {
    pub when: String,
    pub what: String,
    pub status: &'static str,
    pub can_confirm: bool,
    pub can_decline: bool,
    pub can_propose: bool,
    /// Whether closing the request would cancel the booking (a time that has not begun).
    pub closing_cancels: bool,
    /// Whether email is set up, so the person can be told of a cancellation.
    pub mail_enabled: bool,
    /// Where the person said they will be during the session, in words.
    pub location: Option<String>,
    /// That place is outside the licensed states (flagged, not refused).
    pub outside: bool,
}

/// One pair of hours on the settings form.
pub struct SlotRow {
    pub label: &'static str,
    pub start_id: String,
    pub end_id: String,
    pub start: String,
    pub end: String,
    pub error: Option<String>,
}

/// A weekday's hours on the settings form.
pub struct DayRow {
    pub name: &'static str,
    pub slots: Vec<SlotRow>,
}

#[derive(Template)]
#[template(path = "admin/booking.html")]
pub struct BookingSettingsView {
    pub chrome: Chrome,
    pub form: SettingsForm,
    pub days: Vec<DayRow>,
    pub errors: Vec<FieldError>,
    pub saved: bool,
    pub replaced: bool,
    /// "Eastern Time (America/New_York)".
    pub zone_label: String,
    /// How many times the saved settings open now, in words.
    pub open_summary: String,
    pub feed_url: String,
    /// Why calendar files cannot be written with the practice's name and address, if so.
    pub calendar_problem: Option<String>,
    /// Whether the owner turned the questionnaire on.
    pub questionnaires_turned_on: bool,
    /// Whether it is offered now (turned on, and its urgent notice known to arrive).
    pub questionnaires_offered: bool,
    /// Whether urgent notices are known to reach the notice address.
    pub questionnaire_mail: super::questionnaires::NoticeCheck,
    /// When the clinician gets in touch after an answer about self-harm: "within 24 hours".
    pub urgent_reply: String,
}

/// One booking in the inbox's list.
pub struct BookingRow {
    pub request_id: i64,
    pub reference: String,
    pub name: String,
    pub when: String,
    pub what: String,
    pub status: &'static str,
    pub waiting: bool,
}

#[derive(Template)]
#[template(path = "admin/bookings.html")]
pub struct BookingsView {
    pub chrome: Chrome,
    pub upcoming: Vec<BookingRow>,
    pub past: Vec<BookingRow>,
    pub zone_label: String,
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
    /// The `otpauth://` address the QR code holds, as a link for an app on the same phone.
    pub otpauth_url: String,
    /// The name the authenticator app lists the account under: the practice's name in force.
    pub issuer: String,
    /// Mistakes in the form sent, each by its field.
    pub errors: Vec<FieldError>,
    /// Shown once, right after enrolment.
    pub recovery_codes: Vec<String>,
    pub unused_codes: i64,
    /// Where to go once the codes are kept: the practice's details while they were never
    /// saved, else the inbox.
    pub next_href: &'static str,
    pub next_label: &'static str,
}

/// The recovery codes of an enrolment just made, on a page of their own to print.
#[derive(Template)]
#[template(path = "admin/recovery_codes.html")]
pub struct RecoveryCodesView {
    pub chrome: Chrome,
    pub practice: String,
    pub recovery_codes: Vec<String>,
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

#[cfg(test)]
mod mailto_tests {
    use super::mailto_href;

    #[test]
    fn a_stored_address_cannot_add_a_recipient() {
        assert_eq!(
            mailto_href("ada.l-b_x@example.com"),
            "mailto:ada.l-b_x@example.com"
        );
        let href = mailto_href("victim%40gmail.com?bcc=attacker%40evil.com&body=@example.com");
        assert!(!href.contains(['?', '&', '#']), "{href}");
        assert_eq!(
            href,
            "mailto:victim%2540gmail.com%3Fbcc%3Dattacker%2540evil.com%26body%3D@example.com"
        );
    }
}
