//! The preview of a section's words: the page as the public site would show it with the new
//! words, cut to the part the section makes, so the reader lands on the change.

use std::sync::Arc;

use super::title_in;
use crate::{AppError, AppState};

/// The public page a file's words appear on.
pub(super) fn page_of(rel: &str) -> &'static str {
    match rel {
        "contact.md" => "/contact",
        "privacy.md" => "/privacy",
        _ => "/",
    }
}

/// The part of the KAP page a file's words make: its top, or one section by its anchor.
#[derive(Debug, PartialEq)]
pub(super) enum Part {
    Top,
    Section(String),
}

/// Where the words of `rel` (now `text`) appear on their page, so a preview shows that part
/// rather than the whole page; `None` for the pages shown whole.
pub(super) fn part_of(content: &content::Content, rel: &str, text: &str) -> Option<Part> {
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
    pub(super) fn cut(&self, main: &str) -> Option<String> {
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
pub(crate) async fn preview_of(
    state: &AppState,
    content: content::Content,
    path: &str,
) -> Result<String, AppError> {
    let config = state.config();
    let site = tokio::task::spawn_blocking(move || {
        crate::site::build(config, Arc::new(content), store::SEALED_REQUEST_FIELDS)
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
