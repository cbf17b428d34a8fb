//! `/admin/words`: the page's words, edited in the inbox.
//!
//! Every file of the content (each section of the KAP page, the contact page, the privacy
//! page) can be edited as the Markdown it is written in, its settings (the `+++` lines) as form
//! fields ([`settings`]) or, for whoever prefers, as the one text with the settings in TOML. "Preview" checks the text with the
//! loader `check` uses, naming the line of a mistake, and shows the page as the public site
//! would (the same pipeline and stylesheet, no script needed); nothing is stored. "Publish"
//! checks again and stores the text as a new revision, audited; the site follows at once on
//! this server and within seconds on the others ([`crate::live`]). The form carries the
//! revision it was opened at: when someone published in between, the publish is refused and
//! the text kept. Every revision can be restored, the built-in words too. With `content.dir`
//! set the files are the words: the editor shows them read-only.

mod history;
mod preview;
mod sections;
mod settings;

use askama::Template;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use jiff::Timestamp;
use serde::Deserialize;

use super::field_error::{FieldError, FieldErrors as _};
use super::posted::{InboxForm, inbox_form};
use super::sign_in::{form_chrome, page_chrome, render};
use super::views::when;
use super::{Admin, Clinician};
use crate::form::Posted;
use crate::{AppError, AppState};
use content::diff::Change;
use diagnostics::Diagnostics;
use history::{HistoryEntry, history, version_text};
pub(super) use preview::preview_of;
use preview::{page_of, part_of};
pub(super) use sections::{Section, find};
use sections::{named, sections, title_in};
use store::audit::{Action, Entry};

struct Listed {
    slug: String,
    title: String,
    edited: bool,
    document: bool,
}

#[derive(Template)]
#[template(path = "admin/words.html")]
struct ListView {
    chrome: super::views::Chrome,
    files_dir: Option<String>,
    sections: Vec<Listed>,
}

#[derive(Template)]
#[template(path = "admin/word_edit.html")]
struct EditView {
    chrome: super::views::Chrome,
    slug: String,
    title: String,
    body: String,
    base: i64,
    read_only: bool,
    /// The privacy page: most of it is written from the settings, not from these words.
    generated_below: bool,
    errors: Vec<String>,
    /// Problems with the settings shown as fields, each linked to its field.
    setting_errors: Vec<FieldError>,
    /// The settings as form fields (`body` is then the Markdown alone); `None` when the whole
    /// file is edited as one text.
    settings: Option<settings::Split>,
    /// Whether the file's settings can be shown as fields (to offer the switch back).
    fields_possible: bool,
    notice: Option<String>,
    preview: Option<String>,
    restoring: Option<(i64, String)>,
    history: Vec<HistoryEntry>,
}

fn files_dir(state: &AppState) -> Option<std::path::PathBuf> {
    state.config().content_dir.clone()
}

pub async fn list(Clinician { state, admin }: Clinician) -> Result<Response, AppError> {
    let published = state.store.published_words().await?;
    let view = ListView {
        chrome: page_chrome(&state, &admin, "The page's words", "words").await?,
        files_dir: files_dir(&state).map(|d| d.display().to_string()),
        sections: sections()
            .into_iter()
            .map(|s| Listed {
                edited: published.contains_key(&s.rel),
                document: s.document,
                title: named(&s, published.get(&s.rel).map(|r| r.body.as_str())),
                slug: s.slug,
            })
            .collect(),
    };
    Ok(render(StatusCode::OK, view.render()))
}

/// What the edit page shows besides the section itself.
#[derive(Default)]
pub(super) struct Shown {
    pub(super) body: Option<String>,
    pub(super) base: Option<i64>,
    pub(super) errors: Vec<String>,
    pub(super) setting_errors: Vec<FieldError>,
    /// Edit the whole file as one text, its settings in TOML.
    pub(super) as_text: bool,
    pub(super) notice: Option<String>,
    pub(super) preview: Option<String>,
    /// The version being looked at before it is restored: its id and how the history names it.
    pub(super) restoring: Option<(i64, String)>,
}

pub(super) async fn edit_page(
    state: &AppState,
    admin: &Admin,
    section: &Section,
    shown: Shown,
    status: StatusCode,
) -> Result<Response, AppError> {
    let revisions = state.store.revisions(&section.rel).await?;
    let newest = revisions.first().map_or(0, |r| r.id);
    let dir = files_dir(state).filter(|_| !section.document);
    let current_text = match &dir {
        Some(d) => std::fs::read_to_string(d.join(&section.rel)).unwrap_or_default(),
        None => revisions
            .first()
            .map_or_else(|| section.built_in.clone(), |r| r.body.clone()),
    };
    let history = history(state, section, &revisions);
    let body = shown.body.unwrap_or_else(|| current_text.clone());
    let read_only = dir.is_some();
    // The site's files have their settings as fields; the documents keep one text.
    let split = (!section.document && !read_only)
        .then(|| settings::split(&body))
        .flatten();
    let fields_possible = split.is_some();
    let split = split.filter(|_| !shown.as_text).map(|mut split| {
        for field in &mut split.fields {
            field.error = shown
                .setting_errors
                .message_for(&format!("setting-{}", field.key))
                .map(str::to_string);
        }
        split
    });
    let view = EditView {
        chrome: form_chrome(
            state,
            admin,
            &named(section, Some(&current_text)),
            !shown.errors.is_empty() || !shown.setting_errors.is_empty(),
            "words",
        )
        .await?,
        slug: section.slug.clone(),
        title: named(section, Some(&current_text)),
        body: split.as_ref().map_or(body.clone(), |s| s.body.clone()),
        base: shown.base.unwrap_or(newest),
        read_only,
        generated_below: section.rel == "privacy.md",
        errors: shown.errors,
        setting_errors: shown.setting_errors,
        settings: split,
        fields_possible,
        notice: shown.notice,
        preview: shown.preview,
        restoring: shown.restoring,
        history: if dir.is_some() { Vec::new() } else { history },
    };
    Ok(render(status, view.render()))
}

#[derive(Deserialize)]
pub struct EditQuery {
    published: Option<String>,
    restored: Option<String>,
    /// A version to look at before restoring it: a revision's id, `0` for the built-in words.
    restore: Option<String>,
    /// Show the whole file as one text, its settings in TOML, rather than as fields.
    as_text: Option<String>,
}

pub async fn edit(
    Clinician { state, admin }: Clinician,
    Path(slug): Path<String>,
    Query(q): Query<EditQuery>,
) -> Result<Response, AppError> {
    let section = find(&slug).ok_or(AppError::NotFound)?;
    let notice = if q.published.is_some() && section.document {
        Some("Published: this text is the one sent from now on.".to_string())
    } else if q.published.is_some() {
        Some("Published: the public site shows these words now.".to_string())
    } else if q.restored.is_some() {
        Some("Restored: the public site shows these words now.".to_string())
    } else {
        None
    };
    let mut shown = Shown {
        notice,
        as_text: q.as_text.is_some(),
        ..Shown::default()
    };
    // "Restore" first shows the version as the public page would, with the button that
    // publishes it; nothing changes until that is pressed.
    if let Some(id) = q.restore.as_deref() {
        let Ok(id) = id.trim().parse::<i64>() else {
            return Err(AppError::NotFound);
        };
        let revisions = state.store.revisions(&section.rel).await?;
        let Some(entry) = history(&state, &section, &revisions)
            .into_iter()
            .find(|h| h.id == id && !h.current)
        else {
            return Err(AppError::NotFound);
        };
        let text = version_text(&section, &revisions, id).ok_or(AppError::NotFound)?;
        match with_text(&state, &section, &text).await? {
            Ok(content) => {
                let part = part_of(&content, &section.rel, &text);
                let page = preview_of(&state, content, page_of(&section.rel)).await?;
                shown.preview = Some(part.as_ref().and_then(|p| p.cut(&page)).unwrap_or(page));
            }
            Err(found) => shown.errors = problems(&section, found, None).0,
        }
        shown.restoring = Some((id, entry.label));
    }
    edit_page(&state, &admin, &section, shown, StatusCode::OK).await
}

/// The words as they would be with `text` for `section`: checked like `check` checks files.
async fn with_text(
    state: &AppState,
    section: &Section,
    text: &str,
) -> Result<Result<content::Content, Diagnostics>, AppError> {
    let mut words = crate::live::published_texts(state).await?;
    words.insert(section.rel.clone(), text.to_string());
    Ok(content::load_edited(&words))
}

/// The problems `found` in `section`'s words, said for the editor: by line of the text, or,
/// when the settings are shown as fields (`split`), by the field of the setting.
fn problems(
    section: &Section,
    found: Diagnostics,
    split: Option<&settings::Split>,
) -> (Vec<String>, Vec<FieldError>) {
    let own = format!("content/{}", section.rel);
    let (mut text, mut fields) = (Vec::new(), Vec::new());
    for d in found.0 {
        if d.file != own {
            text.push(d.to_string());
            continue;
        }
        match split {
            Some(split) if d.line > 0 => match settings::place(split, d.line, &d.message) {
                settings::Placed::Setting(e) => fields.push(e),
                settings::Placed::Text(t) => text.push(t),
            },
            _ if d.line > 0 => text.push(format!("Line {}: {}", d.line, d.message)),
            _ => text.push(capitalised(&d.message)),
        }
    }
    (text, fields)
}

pub(super) fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// New words for a section, as sent: previewed, published or shown another way (`action`),
/// over the version they were written from (`base`); with the settings as fields
/// (`mode` "fields": their keys in `settings`, each value as `setting-<key>`) or in the text.
#[derive(Default, Deserialize)]
#[serde(default)]
pub struct WordsPost {
    csrf: String,
    body: String,
    base: String,
    action: String,
    mode: String,
    settings: String,
    #[serde(flatten)]
    values: std::collections::HashMap<String, String>,
}

impl InboxForm for WordsPost {
    const FIELDS: &'static [&'static str] = &["body", "base", "action", "mode", "settings"];
    const NOTHING: &'static str = "Nothing was published.";

    fn reads(name: &str) -> bool {
        Self::FIELDS.contains(&name) || name.starts_with("setting-")
    }

    fn csrf(&self) -> &str {
        &self.csrf
    }
}

inbox_form!(
    /// An earlier version of a section to restore, over the version shown.
    RestorePost { base, revision } "Nothing was restored."
);

pub async fn save(
    Clinician { state, admin }: Clinician,
    Path(slug): Path<String>,
    Posted(form): Posted<WordsPost>,
) -> Result<Response, AppError> {
    let section = find(&slug).ok_or(AppError::NotFound)?;
    if files_dir(&state).is_some() && !section.document {
        return read_only(&state, &admin, &section).await;
    }
    // Browsers send CR LF line ends from a text area; the files use LF.
    let body = form.body.replace("\r\n", "\n");
    let as_fields = form.mode == "fields" && !section.document;
    let text = if as_fields {
        settings::join(&form.settings, &form.values, &body)
    } else {
        body
    };
    let base: i64 = form.base.trim().parse().unwrap_or(-1);
    let publish = form.action == "publish";
    // "Edit the settings as text" and back: the same words, shown the other way.
    if matches!(form.action.as_str(), "as_text" | "as_fields") {
        let shown = Shown {
            body: Some(text),
            base: Some(base),
            as_text: form.action == "as_text",
            ..Shown::default()
        };
        return edit_page(&state, &admin, &section, shown, StatusCode::OK).await;
    }
    if section.document {
        return super::documents::save(
            &state,
            &admin,
            &section.rel,
            &section.slug,
            text,
            base,
            publish,
        )
        .await;
    }
    let content = match with_text(&state, &section, &text).await? {
        Ok(c) => c,
        Err(found) => {
            let split = if as_fields {
                settings::split(&text)
            } else {
                None
            };
            let (errors, setting_errors) = problems(&section, found, split.as_ref());
            let shown = Shown {
                body: Some(text),
                base: Some(base),
                errors,
                setting_errors,
                as_text: !as_fields,
                ..Shown::default()
            };
            return edit_page(
                &state,
                &admin,
                &section,
                shown,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    if !publish {
        let part = part_of(&content, &section.rel, &text);
        let page = preview_of(&state, content, page_of(&section.rel)).await?;
        let preview = part.as_ref().and_then(|p| p.cut(&page)).unwrap_or(page);
        let shown = Shown {
            body: Some(text),
            base: Some(base),
            preview: Some(preview),
            as_text: !as_fields,
            ..Shown::default()
        };
        return edit_page(&state, &admin, &section, shown, StatusCode::OK).await;
    }
    let audit = Entry::new(&admin.email, Action::WordsPublished).detail(section.rel.clone());
    let published = state
        .store
        .publish_words(&section.rel, &text, base, None, Timestamp::now(), &audit)
        .await?;
    if published.is_none() {
        return stale(&state, &admin, &section, text).await;
    }
    super::republished(
        &state,
        &format!("/admin/words/{}?published=1", section.slug),
    )
    .await
}

pub(super) async fn stale(
    state: &AppState,
    admin: &Admin,
    section: &Section,
    text: String,
) -> Result<Response, AppError> {
    let newest = state.store.revisions(&section.rel).await?;
    let who = newest
        .first()
        .map(|r| {
            format!(
                " ({} by {})",
                when(r.published_at, &state.time_zone()),
                r.published_by
            )
        })
        .unwrap_or_default();
    let shown = Shown {
        body: Some(text),
        base: Some(newest.first().map_or(0, |r| r.id)),
        errors: vec![format!(
            "Someone published these words after you opened this page{who}, so yours were not published, to keep their change. Your text is still here: compare it with the newest version below, then publish again."
        )],
        ..Shown::default()
    };
    edit_page(state, admin, section, shown, StatusCode::CONFLICT).await
}

async fn read_only(
    state: &AppState,
    admin: &Admin,
    section: &Section,
) -> Result<Response, AppError> {
    let shown = Shown {
        errors: vec!["The words come from files (content.dir), so they cannot be changed here: change the file, then reload the server.".to_string()],
        ..Shown::default()
    };
    edit_page(state, admin, section, shown, StatusCode::CONFLICT).await
}

pub async fn restore(
    Clinician { state, admin }: Clinician,
    Path(slug): Path<String>,
    Posted(form): Posted<RestorePost>,
) -> Result<Response, AppError> {
    let section = find(&slug).ok_or(AppError::NotFound)?;
    if files_dir(&state).is_some() && !section.document {
        return read_only(&state, &admin, &section).await;
    }
    let number = |v: &str| v.trim().parse::<i64>().ok();
    let (Some(base), Some(id)) = (number(&form.base), number(&form.revision)) else {
        return Ok((
            StatusCode::BAD_REQUEST,
            "The form could not be read. Nothing was restored.",
        )
            .into_response());
    };
    let revisions = state.store.revisions(&section.rel).await?;
    let text = version_text(&section, &revisions, id).ok_or(AppError::NotFound)?;
    let audit = Entry::new(&admin.email, Action::WordsRestored).detail(format!(
        "{} from {}",
        section.rel,
        if id == 0 {
            "the built-in words".to_string()
        } else {
            format!("revision {id}")
        }
    ));
    let published = state
        .store
        .publish_words(
            &section.rel,
            &text,
            base,
            Some(id),
            Timestamp::now(),
            &audit,
        )
        .await?;
    if published.is_none() {
        return stale(&state, &admin, &section, text).await;
    }
    if !section.document {
        crate::live::refresh(&state, false).await?;
    }
    Ok(Redirect::to(&format!("/admin/words/{}?restored=1", section.slug)).into_response())
}
