//! `/admin/going-live`: confirming an item of the going-live checklist as reviewed (see
//! [`settings::going_live`]). The checklist itself is shown at the top of the inbox.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;

use super::Clinician;
use super::posted::inbox_form;
use crate::form::Posted;
use crate::{AppError, AppState};
use settings::going_live::Item;

/// One item of the checklist as the inbox shows it.
pub struct ChecklistRow {
    pub key: &'static str,
    pub label: &'static str,
    pub done: bool,
    pub words: String,
    pub edit_at: &'static str,
    /// It may be confirmed as it is.
    pub confirm: bool,
}

/// The checklist, when any item is left; with whether the public sees "being set up".
pub fn rows(state: &AppState) -> Option<(Vec<ChecklistRow>, bool)> {
    let entries = crate::live::checklist(state);
    if entries.iter().all(|e| e.done) {
        return None;
    }
    let rows = entries
        .into_iter()
        .map(|e| ChecklistRow {
            key: e.item.as_str(),
            label: e.item.label(),
            done: e.done,
            confirm: !e.done && e.item.may_be_kept() && !needs_change(state, e.item),
            words: e.words,
            edit_at: e.item.edit_at(),
        })
        .collect();
    Some((rows, state.setup.closed()))
}

/// Whether the item must be changed whatever is confirmed (a name that repeats the
/// credentials).
fn needs_change(state: &AppState, item: Item) -> bool {
    item == Item::Credentials && state.config().practice.name_repeats_credentials()
}

inbox_form!(
    /// "I have reviewed it: keep it", for one item of the checklist.
    ReviewForm { item }
);

pub async fn review(
    Clinician { state, admin }: Clinician,
    Posted(form): Posted<ReviewForm>,
) -> Result<Response, AppError> {
    let item = Item::parse(form.item.trim());
    let Some(item) = item else {
        return Ok((
            StatusCode::BAD_REQUEST,
            "Choose an item of the checklist to confirm. Nothing was saved.",
        )
            .into_response());
    };
    if !item.may_be_kept() {
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "{} must be your own before the public sees the site: change it at {}. Nothing was saved.",
                item.label(),
                item.edit_at()
            ),
        )
            .into_response());
    }
    if needs_change(&state, item) {
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            "Your name already ends with your credentials: keep the name alone in the name field on the details page first. Nothing was saved.",
        )
            .into_response());
    }
    state
        .store
        .review_going_live(item.as_str(), &admin.email, Timestamp::now())
        .await?;
    super::republished(&state, "/admin#going-live").await
}
