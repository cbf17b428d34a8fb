//! The list of requests, a request's page, and what the clinician can do with a request.

use askama::Template;
use axum::extract::{Path, Query};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use jiff::Timestamp;
use serde::Deserialize;

use super::posted::{Button, InboxForm, inbox_form};
use super::sign_in::{page_chrome, render};
use super::views::{
    DeleteView, InboxView, RequestView, Row, UnreadableView, mail_line, reason_options,
    status_options, unreadable_reference, unreadable_title, when,
};
use super::{Admin, Clinician};
use crate::form::Posted;
use crate::{AppError, AppState};
use practice::status::{ClosedReason, Status, StatusChange};
use store::{FoundRequest, InboxFilter, StoredRequest, UnreadableRequest};

const PER_PAGE: usize = 25;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    folder: Option<String>,
    status: Option<String>,
    q: Option<String>,
    outside: Option<String>,
    minor: Option<String>,
    page: Option<usize>,
}

fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

pub async fn list(
    Clinician { state, admin }: Clinician,
    Query(q): Query<ListQuery>,
) -> Result<Response, AppError> {
    let spam = q.folder.as_deref() == Some("spam");
    let status = q.status.as_deref().and_then(Status::parse);
    let filter = InboxFilter {
        spam,
        status,
        outside_licensed_states: q.outside.is_some(),
        minor: q.minor.is_some(),
        search: q.q.clone(),
        page: q.page.unwrap_or(0),
        per_page: PER_PAGE,
    };
    let page = state.store.list_requests(&filter).await?;
    let tz = &state.time_zone();
    let mut filter_query = String::new();
    if spam {
        filter_query.push_str("folder=spam&");
    }
    if let Some(s) = status {
        filter_query.push_str(&format!("status={}&", s.as_str()));
    }
    if let Some(text) = q.q.as_deref().filter(|t| !t.trim().is_empty()) {
        filter_query.push_str(&format!("q={}&", enc(text)));
    }
    if filter.outside_licensed_states {
        filter_query.push_str("outside=1&");
    }
    if filter.minor {
        filter_query.push_str("minor=1&");
    }
    let mut attention = Vec::new();
    for a in state.store.needing_attention().await? {
        let mail = state.store.mail_states(a.request_id).await?;
        let notice = super::questionnaires::notice_state(&state, &mail, tz);
        attention.push((a.request_id, a.reference, when(a.since, tz), notice.words));
    }
    let view = InboxView {
        chrome: page_chrome(
            &state,
            &admin,
            if spam { "Spam" } else { "Requests" },
            if spam { "spam" } else { "inbox" },
        )
        .await?,
        spam,
        rows: page
            .requests
            .iter()
            .map(|r| match r {
                FoundRequest::Readable(r) => Row::new(r, tz),
                FoundRequest::Unreadable(u) => Row::unreadable(u, tz),
            })
            .collect(),
        total: page.total,
        page: filter.page,
        pages: page.total.div_ceil(PER_PAGE),
        status: status.map(|s| s.as_str().to_string()).unwrap_or_default(),
        q: q.q.unwrap_or_default(),
        outside: filter.outside_licensed_states,
        minor: filter.minor,
        statuses: status_options(),
        filter_query,
        certificate_warning: state
            .tls
            .as_ref()
            .and_then(|t| t.warning(jiff::Timestamp::now())),
        backup_line: super::backups::inbox_line(&state).await,
        attention,
        going_live: super::going_live::rows(&state),
        due_for_deletion: if spam {
            Vec::new()
        } else {
            due_for_deletion(&state, tz).await?
        },
    };
    Ok(render(StatusCode::OK, view.render()))
}

/// How far ahead the inbox lists what retention is about to delete.
const DELETION_NOTICE_DAYS: i64 = 30;

/// The closed requests retention deletes within [`DELETION_NOTICE_DAYS`], under the periods in
/// force: (id, reference, the moment after which it is deleted).
async fn due_for_deletion(
    state: &AppState,
    tz: &jiff::tz::TimeZone,
) -> Result<Vec<(i64, String, String)>, AppError> {
    let admin = state.config().admin.clone();
    let now = Timestamp::now();
    let soon = now
        .checked_add(jiff::SignedDuration::from_hours(24 * DELETION_NOTICE_DAYS))
        .unwrap_or(now);
    let due = state
        .store
        .due_for_deletion(&crate::housekeeping::retention_cutoffs(&admin, soon))
        .await?;
    // A request is kept as long after closing as `now` is after today's cutoff for it: the
    // periods are the cutoffs' alone, so the date shown is the day housekeeping deletes it.
    let today = crate::housekeeping::retention_cutoffs(&admin, now);
    Ok(due
        .into_iter()
        .map(|d| {
            let cutoff = if d.reached_consultation {
                today.consulted
            } else {
                today.closed
            };
            let at = d
                .closed_at
                .checked_add(now.duration_since(cutoff))
                .unwrap_or(d.closed_at);
            (d.id, d.reference, when(at, tz))
        })
        .collect())
}

/// The request's page again, with `error` at the top.
pub(super) async fn refused(
    state: &AppState,
    admin: &Admin,
    id: i64,
    error: String,
    status: StatusCode,
) -> Result<Response, AppError> {
    let Some(r) = state.store.request(id).await? else {
        return Err(AppError::NotFound);
    };
    request_page(state, admin, r, Some(error), status, None).await
}

/// The request's page, with `error` at the top; `note_error` is the message by the follow-up
/// note's field.
pub(super) async fn request_page(
    state: &AppState,
    admin: &Admin,
    r: StoredRequest,
    error: Option<String>,
    status_code: StatusCode,
    note_error: Option<String>,
) -> Result<Response, AppError> {
    let tz = &state.time_zone();
    let notes = state.store.notes(r.id).await?.into_iter().map(|n| {
        let at = when(n.at, tz);
        (n, at)
    });
    let history = state.store.history(r.id).await?.into_iter().map(|mut h| {
        let at = when(h.at, tz);
        h.detail = h.detail.map(|d| history_detail(&h.event, d));
        (h, at)
    });
    let mail = state.store.mail_states(r.id).await?;
    let status = r.status;
    let booking = state
        .store
        .booking_for_request(r.id)
        .await?
        .map(|b| super::booking::panel(state, &b));
    let view = RequestView {
        chrome: page_chrome(state, admin, &r.reference, "inbox").await?,
        row: Row::new(&r, tz),
        received: when(r.received_at, tz),
        contact_method: r.contact_method.label(),
        location: r.location.label().to_string(),
        age: match r.age_group {
            practice::consultation::AgeGroup::Adult => "18 or older",
            practice::consultation::AgeGroup::Minor => "Under 18",
        },
        for_whom: r
            .for_whom
            .map_or("Not asked (sent before the form asked)", |f| f.label()),
        status,
        closed_reason: r.closed_reason.map(ClosedReason::label),
        statuses: status_options(),
        reasons: reason_options(),
        notes: notes.collect(),
        history: history.collect(),
        mail: mail.iter().map(|m| mail_line(m, tz)).collect(),
        error,
        message: None,
        booking,
        questionnaires: super::questionnaires::panel(state, r.id, &mail, note_error).await?,
        documents: super::documents::panel(state, &r).await?,
        estimates: super::estimates::panel(state, &r).await?,
        r,
    };
    Ok(render(status_code, view.render()))
}

fn not_found() -> AppError {
    AppError::NotFound
}

pub async fn detail(
    Clinician { state, admin }: Clinician,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    match state
        .store
        .view_request(id, &admin.email, Timestamp::now())
        .await?
        .ok_or_else(not_found)?
    {
        FoundRequest::Readable(r) => {
            request_page(&state, &admin, r, None, StatusCode::OK, None).await
        }
        FoundRequest::Unreadable(u) => unreadable_page(&state, &admin, &u).await,
    }
}

/// The page of a request that cannot be read: says so plainly, shows nothing of it, and
/// offers what the clinician can do.
async fn unreadable_page(
    state: &AppState,
    admin: &Admin,
    u: &UnreadableRequest,
) -> Result<Response, AppError> {
    let title = unreadable_title(u);
    let view = UnreadableView {
        chrome: page_chrome(state, admin, &title, "inbox").await?,
        id: u.id,
        title,
        received: u
            .received_at
            .map(|t| when(t, &state.time_zone()))
            .unwrap_or_default(),
    };
    Ok(render(StatusCode::OK, view.render()))
}

inbox_form!(
    /// A change of a request's status.
    StatusForm {
        status,
        reason,
        tell_person,
        /// Sent when the form offered the box (a form from before the person chose a time
        /// had none).
        tell_person_offered,
    }
);

inbox_form!(
    /// A note on a request.
    NoteForm { note }
);

inbox_form!(
    /// Moving a request into or out of the spam folder.
    SpamForm { spam }
);

/// The export's form: every request, or those ticked.
#[derive(Default, Deserialize)]
#[serde(default)]
pub struct ExportForm {
    csrf: String,
    scope: String,
    /// The ticked requests' ids, one a line.
    id: String,
}

impl InboxForm for ExportForm {
    const FIELDS: &'static [&'static str] = &[];
    const LISTS: &'static [&'static str] = &["scope", "id"];

    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// After a change, back to the request's page (a GET: reloading repeats nothing).
fn back_to(id: i64) -> Response {
    Redirect::to(&format!("/admin/requests/{id}")).into_response()
}

/// Back to the request's page after the store changed it, or "not found" when it had no
/// request `id` to change (`changed` is false).
fn back_after(changed: bool, id: i64) -> Result<Response, AppError> {
    if changed {
        Ok(back_to(id))
    } else {
        Err(not_found())
    }
}

pub async fn change_status(
    Clinician { state, admin }: Clinician,
    Path(id): Path<i64>,
    Posted(form): Posted<StatusForm>,
) -> Result<Response, AppError> {
    // Closing cancels a booking that has not begun; the person is told unless the clinician
    // unticked the box. A form from before the person chose a time had no box: they are told.
    let tell_person = form.tell_person_offered.is_empty() || form.tell_person == "yes";
    match StatusChange::parse(&form.status, &form.reason) {
        Ok(change) => {
            let mail = tell_person && state.mail_enabled;
            if !state
                .store
                .change_status(id, change, &admin.email, mail, Timestamp::now())
                .await?
            {
                return Err(not_found());
            }
            if mail {
                state.mail_wake.notify_one();
            }
            Ok(back_to(id))
        }
        Err(e) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            refused(&state, &admin, id, e.to_string(), status).await
        }
    }
}

pub async fn add_note(
    Clinician { state, admin }: Clinician,
    Path(id): Path<i64>,
    Posted(NoteForm { note, .. }): Posted<NoteForm>,
) -> Result<Response, AppError> {
    let note = note.trim();
    let problem = if note.is_empty() {
        Some("Write the note before adding it")
    } else if note.chars().count() > 5000 {
        Some("A note must be 5,000 characters or fewer")
    } else if note
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        Some("The note includes characters that cannot be saved")
    } else {
        None
    };
    if let Some(p) = problem {
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return refused(&state, &admin, id, p.to_string(), status).await;
    }
    let note = note.replace("\r\n", "\n");
    let added = state
        .store
        .add_note(id, &admin.email, &note, Timestamp::now())
        .await?;
    back_after(added, id)
}

pub async fn set_spam(
    Clinician { state, admin }: Clinician,
    Path(id): Path<i64>,
    Posted(SpamForm { spam, .. }): Posted<SpamForm>,
) -> Result<Response, AppError> {
    let spam = match spam.as_str() {
        "yes" => true,
        "no" => false,
        _ => return Ok((StatusCode::BAD_REQUEST, "Choose spam=yes or spam=no.").into_response()),
    };
    let marked = state
        .store
        .set_spam(id, spam, &admin.email, Timestamp::now())
        .await?;
    back_after(marked, id)
}

pub async fn retry_mail(
    Clinician { state, admin }: Clinician,
    Path(id): Path<i64>,
    _: Posted<Button>,
) -> Result<Response, AppError> {
    if state.store.request(id).await?.is_none() {
        return Err(not_found());
    }
    state
        .store
        .retry_mail(id, &admin.email, Timestamp::now())
        .await?;
    state.mail_wake.notify_one();
    Ok(back_to(id))
}

pub async fn confirm_delete(
    Clinician { state, admin }: Clinician,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    // A request that cannot be read can still be deleted.
    let (reference, name) = match state.store.find_request(id).await?.ok_or_else(not_found)? {
        FoundRequest::Readable(r) => (r.reference, r.name),
        FoundRequest::Unreadable(u) => (
            unreadable_reference(&u),
            "a person whose details cannot be read".to_string(),
        ),
    };
    let view = DeleteView {
        chrome: page_chrome(&state, &admin, "Delete a request", "inbox").await?,
        id,
        reference,
        name,
    };
    Ok(render(StatusCode::OK, view.render()))
}

pub async fn delete(
    Clinician { state, admin }: Clinician,
    Path(id): Path<i64>,
    _: Posted<Button>,
) -> Result<Response, AppError> {
    if !state
        .store
        .delete_request(id, &admin.email, Timestamp::now())
        .await?
    {
        return Err(not_found());
    }
    Ok(Redirect::to("/admin").into_response())
}

/// `POST /admin/export`: the selected requests (`id` fields) or all, as a CSV download.
pub async fn export(
    Clinician { state, admin }: Clinician,
    Posted(form): Posted<ExportForm>,
) -> Result<Response, AppError> {
    let all = form.scope.lines().any(|v| v == "all");
    let ids: Vec<i64> = form.id.lines().filter_map(|v| v.parse().ok()).collect();
    let requests = if all {
        state.store.all_requests().await?
    } else {
        state.store.requests_by_id(&ids).await?
    };
    if requests.is_empty() {
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            "Select at least one request to export, or export all.",
        )
            .into_response());
    }
    let mut out = Vec::new();
    let attached = crate::export::Attached::of(&state.store, &requests).await?;
    crate::export::csv(&requests, &attached, &mut out).map_err(AppError::Export)?;
    state
        .store
        .audit_export(&admin.email, requests.len(), Timestamp::now())
        .await?;
    let name = format!(
        "consultation-requests-{}.csv",
        Timestamp::now().strftime("%Y-%m-%d")
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        out,
    )
        .into_response())
}
/// A history entry's detail in words: the events the store keeps typed are worded here; the
/// others (and rows older versions wrote as sentences) are shown as kept.
fn history_detail(event: &str, detail: String) -> String {
    use practice::meeting::{ReminderNotSent, before};
    match (event, ReminderNotSent::decode(&detail)) {
        ("reminder", Some(ReminderNotSent::Began { minutes_before })) => format!(
            "Reminder ({} before) not sent: the mail server could not be reached before the consultation began",
            before(minutes_before)
        ),
        ("reminder", Some(ReminderNotSent::NearerDue { minutes_before })) => format!(
            "Reminder ({} before) not sent: the mail server could not be reached until a nearer reminder was due",
            before(minutes_before)
        ),
        _ => detail,
    }
}
