//! `/admin/words`: the page's words, edited in the inbox.
//!
//! Every file of the content (each section of the KAP page, the contact page, the privacy
//! page) can be edited as the Markdown it is written in. "Preview" checks the text with the
//! loader `check` uses, naming the line of a mistake, and shows the page as the public site
//! would (the same pipeline and stylesheet, no script needed); nothing is stored. "Publish"
//! checks again and stores the text as a new revision, audited; the site follows at once on
//! this server and within seconds on the others ([`crate::web::live`]). The form carries the
//! revision it was opened at: when someone published in between, the publish is refused and
//! the text kept. Every revision can be restored, the built-in words too. With `content.dir`
//! set the files are the words: the editor shows them read-only.

use std::collections::BTreeMap;
use std::sync::Arc;

use askama::Template;
use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use jiff::Timestamp;
use serde::Deserialize;

use super::Admin;
use super::posted::inbox_form;
use super::sign_in::{form_chrome, page_chrome, render};
use super::views::when;
use crate::audit::{Action, Entry};
use crate::content::diff::{self, Change};
use crate::store::Revision;
use crate::web::form::Posted;
use crate::web::{AppError, AppState};

/// One editable file.
pub(super) struct Section {
    /// Its path inside `content/`: `home/10-is-kap-safe.md`.
    rel: String,
    /// Its address in the inbox: `home-10-is-kap-safe`.
    slug: String,
    title: String,
    built_in: String,
    /// One of the practice's documents to sign (`documents/…`), not a file of the site.
    document: bool,
}

/// Every editable file, in page order: the built-in content's files, then the practice's
/// documents to sign.
fn sections() -> Vec<Section> {
    let documents = crate::content::documents::built_in_documents()
        .into_iter()
        .map(|(rel, text)| {
            let slug = rel.strip_suffix(".md").unwrap_or(&rel).replace('/', "-");
            let title = crate::content::documents::document(&rel, &text)
                .map(|d| format!("Document: {}", d.title))
                .unwrap_or_else(|_| slug.clone());
            Section {
                rel,
                slug,
                title,
                built_in: text,
                document: true,
            }
        });
    crate::content::built_in_files()
        .into_iter()
        .map(|(rel, text)| {
            let stem = rel.strip_suffix(".md").unwrap_or(&rel);
            let slug = stem.replace('/', "-");
            let title = match stem {
                "contact" => "The contact page".to_string(),
                "privacy" => "The privacy page".to_string(),
                "screening" => "The screening questions".to_string(),
                s if s.starts_with("home/") && title_in(&text).is_some() => {
                    format!("KAP page: {}", title_in(&text).unwrap_or_default())
                }
                s => {
                    let name = s.rsplit('/').next().unwrap_or(s);
                    let words = name
                        .trim_start_matches(|c: char| c.is_ascii_digit())
                        .trim_start_matches('-')
                        .replace('-', " ");
                    let mut c = words.chars();
                    let words = match c.next() {
                        Some(f) => f.to_uppercase().chain(c).collect(),
                        None => words,
                    };
                    format!("KAP page: {words}")
                }
            };
            Section {
                rel,
                slug,
                title,
                built_in: text,
                document: false,
            }
        })
        .chain(documents)
        .collect()
}

/// The `title` a file's settings give it (`+++ title = "Is KAP Safe?" +++`), if any: the
/// name the reader sees, rather than one made from the file's name.
fn title_in(text: &str) -> Option<String> {
    let settings = text.strip_prefix("+++\n")?;
    let settings = &settings[..settings.find("\n+++")?];
    let table: toml::Table = toml::from_str(settings).ok()?;
    let title = table.get("title")?.as_str()?.trim();
    (!title.is_empty()).then(|| title.to_string())
}

/// A section's name from its words as published now, else its built-in name.
fn named(section: &Section, published: Option<&str>) -> String {
    match published.and_then(title_in) {
        Some(t) if section.rel.starts_with("home/") => format!("KAP page: {t}"),
        _ => section.title.clone(),
    }
}

pub(super) fn find(slug: &str) -> Option<Section> {
    sections().into_iter().find(|s| s.slug == slug)
}

/// The public page a file's words appear on.
fn page_of(rel: &str) -> &'static str {
    match rel {
        "contact.md" => "/contact",
        "privacy.md" => "/privacy",
        _ => "/",
    }
}

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

struct HistoryEntry {
    id: i64,
    label: String,
    current: bool,
    changes: Vec<Change>,
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
    notice: Option<String>,
    preview: Option<String>,
    restoring: Option<(i64, String)>,
    history: Vec<HistoryEntry>,
}

fn files_dir(state: &AppState) -> Option<std::path::PathBuf> {
    state.config().content_dir.clone()
}

pub async fn list(
    State(state): State<AppState>,
    Extension(admin): Extension<Admin>,
) -> Result<Response, AppError> {
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
    let view = EditView {
        chrome: form_chrome(
            state,
            admin,
            &named(section, Some(&current_text)),
            !shown.errors.is_empty(),
            "words",
        )
        .await?,
        slug: section.slug.clone(),
        title: named(section, Some(&current_text)),
        body: shown.body.unwrap_or(current_text),
        base: shown.base.unwrap_or(newest),
        read_only: dir.is_some(),
        generated_below: section.rel == "privacy.md",
        errors: shown.errors,
        notice: shown.notice,
        preview: shown.preview,
        restoring: shown.restoring,
        history: if dir.is_some() { Vec::new() } else { history },
    };
    Ok(render(status, view.render()))
}

/// The revisions newest first, then the built-in words, each with what it changed.
fn history(state: &AppState, section: &Section, revisions: &[Revision]) -> Vec<HistoryEntry> {
    let mut entries = Vec::new();
    for (i, r) in revisions.iter().enumerate() {
        let before = revisions
            .get(i + 1)
            .map_or(section.built_in.as_str(), |p| p.body.as_str());
        let how = match r.restored_from {
            Some(0) => "The built-in words restored".to_string(),
            Some(_) => "An earlier version restored".to_string(),
            None => "Published".to_string(),
        };
        entries.push(HistoryEntry {
            id: r.id,
            label: format!(
                "{how} {} by {}",
                when(r.published_at, &state.time_zone()),
                r.published_by
            ),
            current: i == 0,
            changes: changes(before, &r.body),
        });
    }
    entries.push(HistoryEntry {
        id: 0,
        label: "The built-in words".to_string(),
        current: revisions.is_empty(),
        changes: Vec::new(),
    });
    entries
}

/// The word-level changes from `before` to `after`, with long unchanged runs shortened to
/// their ends; empty when nothing changed.
fn changes(before: &str, after: &str) -> Vec<Change> {
    let all = diff::words(before, after);
    if all.iter().all(|c| matches!(c, Change::Same(_))) {
        return Vec::new();
    }
    all.into_iter()
        .map(|c| match c {
            Change::Same(run) => {
                let words: Vec<&str> = run.split(' ').collect();
                if words.len() > 16 {
                    Change::Same(format!(
                        "{} … {}",
                        words[..8].join(" "),
                        words[words.len() - 8..].join(" ")
                    ))
                } else {
                    Change::Same(run)
                }
            }
            other => other,
        })
        .collect()
}

#[derive(Deserialize)]
pub struct EditQuery {
    published: Option<String>,
    restored: Option<String>,
    /// A version to look at before restoring it: a revision's id, `0` for the built-in words.
    restore: Option<String>,
}

pub async fn edit(
    State(state): State<AppState>,
    Extension(admin): Extension<Admin>,
    Path(slug): Path<String>,
    Query(q): Query<EditQuery>,
) -> Result<Response, AppError> {
    let Some(section) = find(&slug) else {
        return Err(AppError::NotFound);
    };
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
            Err(errors) => shown.errors = errors,
        }
        shown.restoring = Some((id, entry.label));
    }
    edit_page(&state, &admin, &section, shown, StatusCode::OK).await
}

/// The words of version `id` of `section`: a revision, or (`0`) the built-in words.
fn version_text(section: &Section, revisions: &[Revision], id: i64) -> Option<String> {
    if id == 0 {
        return Some(section.built_in.clone());
    }
    revisions
        .iter()
        .find(|r| r.id == id)
        .map(|r| r.body.clone())
}

/// The words as they would be with `text` for `section`: checked like `check` checks files.
async fn with_text(
    state: &AppState,
    section: &Section,
    text: &str,
) -> Result<Result<crate::content::Content, Vec<String>>, AppError> {
    let mut words: BTreeMap<String, String> = state
        .store
        .published_words()
        .await?
        .into_iter()
        .map(|(k, r)| (k, r.body))
        .collect();
    words.insert(section.rel.clone(), text.to_string());
    Ok(crate::content::load_edited(&words).map_err(|found| {
        let own = format!("content/{}", section.rel);
        found
            .0
            .into_iter()
            .map(|d| {
                if d.file == own && d.line > 0 {
                    format!("Line {}: {}", d.line, d.message)
                } else if d.file == own {
                    capitalised(&d.message)
                } else {
                    d.to_string()
                }
            })
            .collect()
    }))
}

pub(super) fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// The part of the KAP page a file's words make: its top, or one section by its anchor.
#[derive(Debug, PartialEq)]
enum Part {
    Top,
    Section(String),
}

/// Where the words of `rel` (now `text`) appear on their page, so a preview shows that part
/// rather than the whole page; `None` for the pages shown whole.
fn part_of(content: &crate::content::Content, rel: &str, text: &str) -> Option<Part> {
    if !rel.starts_with("home/") {
        return None;
    }
    let title = title_in(text)?;
    if content.home.hero.title == title {
        return Some(Part::Top);
    }
    content
        .home
        .sections
        .iter()
        .find(|s| s.title == title)
        .map(|s| Part::Section(s.anchor.clone()))
}

impl Part {
    /// The part's element in a page's `<main>`, whole.
    fn cut(&self, main: &str) -> Option<String> {
        let (start, open, close) = match self {
            Part::Top => (
                main.find("<header class=\"hero\">")?,
                "<header",
                "</header>",
            ),
            Part::Section(anchor) => {
                let at = main.find(&format!(" id=\"{anchor}\""))?;
                (main[..at].rfind("<section")?, "<section", "</section>")
            }
        };
        // The element ends where as many of its kind closed as opened.
        let mut depth = 0usize;
        let mut i = start;
        while i < main.len() {
            let rest = &main[i..];
            if rest.starts_with(open) {
                depth += 1;
                i += open.len();
            } else if rest.starts_with(close) {
                depth = depth.saturating_sub(1);
                i += close.len();
                if depth == 0 {
                    return Some(main[start..i].to_string());
                }
            } else {
                i += rest.chars().next().map_or(1, char::len_utf8);
            }
        }
        None
    }
}

/// The `<main>` of `path` as the public site would show it with `content`.
pub(super) async fn preview_of(
    state: &AppState,
    content: crate::content::Content,
    path: &str,
) -> Result<String, AppError> {
    let config = state.config();
    let site = tokio::task::spawn_blocking(move || {
        crate::site::build(
            config,
            Arc::new(content),
            crate::store::SEALED_REQUEST_FIELDS,
        )
    })
    .await??;
    let html = match site.get(path) {
        Some(page) => String::from_utf8_lossy(&page.identity.body).into_owned(),
        None => site
            .renderer
            .contact(site.renderer.empty_form(String::new()))?,
    };
    let start = html
        .find("<main")
        .and_then(|i| html[i..].find('>').map(|j| i + j + 1));
    let end = html.rfind("</main>");
    Ok(match (start, end) {
        (Some(s), Some(e)) if s <= e => html[s..e].to_string(),
        _ => String::new(),
    })
}

inbox_form!(
    /// New words for a section, as sent: previewed or published (`action`), over the version
    /// they were written from (`base`).
    WordsPost { body, base, action } "Nothing was published."
);

inbox_form!(
    /// An earlier version of a section to restore, over the version shown.
    RestorePost { base, revision } "Nothing was restored."
);

pub async fn save(
    State(state): State<AppState>,
    Extension(admin): Extension<Admin>,
    Path(slug): Path<String>,
    Posted(form): Posted<WordsPost>,
) -> Result<Response, AppError> {
    let Some(section) = find(&slug) else {
        return Err(AppError::NotFound);
    };
    if files_dir(&state).is_some() && !section.document {
        return read_only(&state, &admin, &section).await;
    }
    // Browsers send CR LF line ends from a text area; the files use LF.
    let text = form.body.replace("\r\n", "\n");
    let base: i64 = form.base.trim().parse().unwrap_or(-1);
    let publish = form.action == "publish";
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
        Err(errors) => {
            let shown = Shown {
                body: Some(text),
                base: Some(base),
                errors,
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
    crate::web::live::refresh(&state, false).await?;
    Ok(Redirect::to(&format!("/admin/words/{}?published=1", section.slug)).into_response())
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
    State(state): State<AppState>,
    Extension(admin): Extension<Admin>,
    Path(slug): Path<String>,
    Posted(form): Posted<RestorePost>,
) -> Result<Response, AppError> {
    let Some(section) = find(&slug) else {
        return Err(AppError::NotFound);
    };
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
        crate::web::live::refresh(&state, false).await?;
    }
    Ok(Redirect::to(&format!("/admin/words/{}?restored=1", section.slug)).into_response())
}
