//! `/admin/pages`: simple pages of the clinician's own (About, Fees and insurance…).
//!
//! A page has a title, an address of one segment (`/fees`) and Markdown, checked like the
//! privacy page's. It is published at once, linked in the navigation and listed in the
//! sitemap; removing it (after a page that asks) makes its address answer 410 Gone until a new
//! page is given the address. Addresses that belong to
//! the site itself are refused. A page's title and words can be changed later (its address
//! stays), with a preview first; a change made on a version someone else has changed since is
//! refused with the text kept. Every change is audited.

use askama::Template;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use jiff::Timestamp;
use serde::Deserialize;

use super::field_error::{FieldError, FieldErrors as _};
use super::posted::{Button, inbox_form};
use super::sign_in::{form_chrome, render};
use super::{Admin, Clinician};
use crate::form::Posted;
use crate::{AppError, AppState};
use store::audit::{Action, Entry};
use store::{PageAdded, PageChanged, StoredPage};

/// First segments the site itself answers: never a page of the clinician's.
const SYSTEM: &[&str] = &[
    "admin",
    "static",
    "book",
    "calendar",
    "contact",
    "privacy",
    "healthz",
    "robots.txt",
    "sitemap.xml",
    "favicon.ico",
    "questionnaire",
    "questionnaires",
];

#[derive(Template)]
#[template(path = "admin/pages.html")]
struct PagesView {
    chrome: super::views::Chrome,
    pages: Vec<StoredPage>,
    errors: Vec<FieldError>,
    notice: Option<String>,
    title: String,
    path: String,
    body: String,
}

#[derive(Deserialize)]
pub struct PagesQuery {
    added: Option<String>,
    removed: Option<String>,
}

struct Form {
    title: String,
    path: String,
    body: String,
}

async fn page(
    state: &AppState,
    admin: &Admin,
    form: Form,
    errors: Vec<FieldError>,
    notice: Option<String>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let pages = state
        .store
        .own_pages()
        .await?
        .into_iter()
        .filter(|p| !p.removed)
        .collect();
    let view = PagesView {
        chrome: form_chrome(state, admin, "Your pages", !errors.is_empty(), "pages").await?,
        pages,
        errors,
        notice,
        title: form.title,
        path: form.path,
        body: form.body,
    };
    Ok(render(status, view.render()))
}

pub async fn list(
    Clinician { state, admin }: Clinician,
    Query(q): Query<PagesQuery>,
) -> Result<Response, AppError> {
    let notice = if q.added.is_some() {
        Some("The page is published and linked in the navigation.".to_string())
    } else if q.removed.is_some() {
        Some("The page is removed: its address now says the page has been removed, until you give the address to a new page.".to_string())
    } else {
        None
    };
    let empty = Form {
        title: String::new(),
        path: String::new(),
        body: String::new(),
    };
    page(&state, &admin, empty, Vec::new(), notice, StatusCode::OK).await
}

/// The problem with `path` as a page's address, if any.
fn path_problem(path: &str) -> Option<String> {
    let Some(name) = path.strip_prefix('/') else {
        return Some("Start the address with a slash, such as /fees".to_string());
    };
    let well_formed = !name.is_empty()
        && name.len() <= 60
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if !well_formed {
        return Some(
            "Use one short name of lowercase letters, digits and dashes after the slash, such as /fees-and-insurance"
                .to_string(),
        );
    }
    if SYSTEM.contains(&name) {
        return Some(format!(
            "{path} belongs to the site itself: choose another address"
        ));
    }
    None
}

/// The problems with a page's title and words: the same checks as the privacy page's.
fn words_problems(form: &Form) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if form.title.is_empty() {
        errors.push(FieldError::new("title", "Enter a title"));
    } else if form.title.chars().count() > 80 || form.title.chars().any(char::is_control) {
        errors.push(FieldError::new(
            "title",
            "Keep the title to one line of at most 80 characters",
        ));
    }
    if form.body.trim().is_empty() {
        errors.push(FieldError::new("body", "Write the page's words"));
    } else if let Err(found) = content::own_page(&form.path, &form.title, &form.body) {
        for d in found.0 {
            let message = if d.line > 0 {
                format!("Line {}: {}", d.line, d.message)
            } else {
                d.message
            };
            errors.push(FieldError::new("body", message));
        }
    }
    errors
}

inbox_form!(
    /// A new page, as sent.
    NewPagePost { title, path, body } "Nothing was published."
);

inbox_form!(
    /// A page's new title and words, as sent: previewed or published (`action`), over the
    /// version shown (`seen`).
    PageChangePost { title, body, seen, action } "Nothing was published."
);

pub async fn add(
    Clinician { state, admin }: Clinician,
    Posted(post): Posted<NewPagePost>,
) -> Result<Response, AppError> {
    let form = Form {
        title: post.title.trim().to_string(),
        path: post.path.trim().to_string(),
        body: post.body.replace("\r\n", "\n"),
    };
    let mut errors = words_problems(&form);
    if let Some(problem) = path_problem(&form.path) {
        // In the order of the form: title, address, words.
        let after_title = errors.iter().filter(|e| e.field == "title").count();
        errors.insert(after_title, FieldError::new("path", problem));
    }
    if !errors.is_empty() {
        return page(
            &state,
            &admin,
            form,
            errors,
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let audit = Entry::new(&admin.email, Action::PageAdded).detail(form.path.clone());
    match state
        .store
        .add_own_page(
            &form.path,
            &form.title,
            &form.body,
            Timestamp::now(),
            &audit,
        )
        .await?
    {
        PageAdded::AddressTaken => {
            let message = format!(
                "{} is or was the address of another page: choose another address",
                form.path
            );
            page(
                &state,
                &admin,
                form,
                vec![FieldError::new("path", message)],
                None,
                StatusCode::CONFLICT,
            )
            .await
        }
        PageAdded::Added(_) => super::republished(&state, "/admin/pages?added=1").await,
    }
}

#[derive(Template)]
#[template(path = "admin/page_remove.html")]
struct RemoveView {
    chrome: super::views::Chrome,
    id: i64,
    title: String,
    path: String,
}

/// `GET /admin/pages/{id}/remove`: what removing the page does, and the button that does it.
pub async fn confirm_remove(
    Clinician { state, admin }: Clinician,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let page = shown_page(&state, id).await?;
    let view = RemoveView {
        chrome: super::sign_in::form_chrome(
            &state,
            &admin,
            &format!("Remove {}?", page.title),
            false,
            "pages",
        )
        .await?,
        id,
        title: page.title,
        path: page.path,
    };
    Ok(super::sign_in::render(StatusCode::OK, view.render()))
}

pub async fn remove(
    Clinician { state, admin }: Clinician,
    Path(id): Path<i64>,
    _: Posted<Button>,
) -> Result<Response, AppError> {
    let pages = state.store.own_pages().await?;
    let Some(found) = pages.iter().find(|p| p.id == id && !p.removed) else {
        return Err(AppError::NotFound);
    };
    let audit = Entry::new(&admin.email, Action::PageRemoved).detail(found.path.clone());
    if !state
        .store
        .remove_own_page(id, Timestamp::now(), &audit)
        .await?
    {
        return Err(AppError::NotFound);
    }
    super::republished(&state, "/admin/pages?removed=1").await
}

/// The edit page. Handlers fill in what it shows; [`edit_page`] adds the chrome.
#[derive(Template)]
#[template(path = "admin/page_edit.html")]
struct EditView {
    chrome: super::views::Chrome,
    id: i64,
    path: String,
    /// The version the form was opened on (`changed_at` in milliseconds).
    seen: i64,
    errors: Vec<FieldError>,
    notice: Option<String>,
    title: String,
    body: String,
    preview: Option<String>,
}

#[derive(Deserialize)]
pub struct EditQuery {
    changed: Option<String>,
}

/// The page `id`, if it is still shown.
async fn shown_page(state: &AppState, id: i64) -> Result<StoredPage, AppError> {
    state
        .store
        .own_pages()
        .await?
        .into_iter()
        .find(|p| p.id == id && !p.removed)
        .ok_or(AppError::NotFound)
}

async fn edit_page(
    state: &AppState,
    admin: &Admin,
    mut view: EditView,
    status: StatusCode,
) -> Result<Response, AppError> {
    let title = format!("Change {}", view.path);
    view.chrome = form_chrome(state, admin, &title, !view.errors.is_empty(), "pages").await?;
    Ok(render(status, view.render()))
}

impl EditView {
    fn of(page: StoredPage) -> Self {
        EditView {
            chrome: Default::default(),
            id: page.id,
            path: page.path,
            seen: page.changed_at.as_millisecond(),
            errors: Vec::new(),
            notice: None,
            title: page.title,
            body: page.body,
            preview: None,
        }
    }
}

pub async fn edit(
    Clinician { state, admin }: Clinician,
    Path(id): Path<i64>,
    Query(q): Query<EditQuery>,
) -> Result<Response, AppError> {
    let mut parts = EditView::of(shown_page(&state, id).await?);
    if q.changed.is_some() {
        parts.notice = Some("The change is published.".to_string());
    }
    edit_page(&state, &admin, parts, StatusCode::OK).await
}

/// Previews or publishes a new title and words for page `id`.
pub async fn change(
    Clinician { state, admin }: Clinician,
    Path(id): Path<i64>,
    Posted(post): Posted<PageChangePost>,
) -> Result<Response, AppError> {
    let stored = shown_page(&state, id).await?;
    let form = Form {
        title: post.title.trim().to_string(),
        path: stored.path.clone(),
        body: post.body.replace("\r\n", "\n"),
    };
    let seen: i64 = post.seen.trim().parse().unwrap_or(-1);
    let publish = post.action == "publish";
    let mut parts = EditView {
        chrome: Default::default(),
        id,
        path: stored.path.clone(),
        seen,
        errors: words_problems(&form),
        notice: None,
        title: form.title.clone(),
        body: form.body.clone(),
        preview: None,
    };
    if !parts.errors.is_empty() {
        return edit_page(&state, &admin, parts, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    if !publish {
        let mut content = (*state.site.load().renderer.content).clone();
        // Checked above, so the page is there to show.
        if let Ok(edited) = content::own_page(&form.path, &form.title, &form.body) {
            match content.own_pages.iter_mut().find(|p| p.path == form.path) {
                Some(shown) => *shown = edited,
                None => content.own_pages.push(edited),
            }
        }
        parts.preview = Some(super::words::preview_of(&state, content, &form.path).await?);
        return edit_page(&state, &admin, parts, StatusCode::OK).await;
    }
    let audit = Entry::new(&admin.email, Action::PageChanged).detail(form.path.clone());
    let changed = match Timestamp::from_millisecond(seen) {
        Ok(seen) => {
            state
                .store
                .change_own_page(id, seen, &form.title, &form.body, Timestamp::now(), &audit)
                .await?
        }
        Err(_) => PageChanged::Stale,
    };
    match changed {
        PageChanged::Changed => {
            super::republished(&state, &format!("/admin/pages/{id}?changed=1")).await
        }
        PageChanged::Stale => {
            // Shown again on the newest version, with the text that was sent.
            let newest = shown_page(&state, id).await?;
            parts.seen = newest.changed_at.as_millisecond();
            parts.errors = vec![FieldError::new(
                "body",
                format!(
                    "Someone changed this page after you opened it ({} by {}), so your change was not published, to keep theirs. Your text is still here: compare it with the page, then publish again.",
                    super::views::when(newest.changed_at, &state.time_zone()),
                    newest.changed_by
                ),
            )];
            edit_page(&state, &admin, parts, StatusCode::CONFLICT).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::path_problem;

    #[test]
    fn addresses_of_the_site_itself_and_odd_ones_are_refused() {
        assert_eq!(path_problem("/fees"), None);
        assert_eq!(path_problem("/fees-and-insurance2"), None);
        for bad in [
            "/admin",
            "/contact",
            "/static",
            "/book",
            "/",
            "fees",
            "/Fees",
            "/a/b",
            "/-x",
            "/sitemap.xml",
        ] {
            assert!(path_problem(bad).is_some(), "{bad}");
        }
    }
}
