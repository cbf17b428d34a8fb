//! The practice's words: content files loaded and validated into a typed page model.
//!
//! Like a static site generator, content is checked as a whole at start (and on reload): every
//! problem names its file and line and says how to fix it, and the server does not start on bad
//! content. The repository's `content/` folder is built into the binary; a configured folder with
//! the same layout replaces it. The format is documented for the clinician in `docs/content.md`.
//!
//! A crate of its own so that the compiler keeps it below everything that shows the words: it
//! reads files and checks them into a page model, and must never know of the config, a
//! database, the web or how a page is rendered (the site renders the model; the store keeps the
//! words edited in the browser and hands them in).

pub mod diff;
pub mod documents;
mod front_matter;
mod home;
mod markdown;
pub mod model;
mod pages;
mod sources;

use diagnostics::Diagnostics;
use markdown::Origin;
pub use model::*;
pub use sources::ContentSource;

use home::parse_home;
use pages::{parse_screening, parse_text_page};
use sources::{Files, read_files};

/// Loads and validates all content from `source`.
pub fn load(source: &ContentSource) -> Result<Content, Diagnostics> {
    parse_all(read_files(source)?)
}

/// Every file of the built-in content by its path inside `content/` (`home/00-hero.md`,
/// `contact.md`…) with its text: the words the site starts from, in page order. This is the
/// list of what the clinician can edit in the inbox: a file the loader reads is editable.
pub fn built_in_files() -> Vec<(String, String)> {
    let mut files = Vec::new();
    if let Ok(mut all) = read_files(&ContentSource::Embedded) {
        for f in all.iter_mut() {
            let rel = f
                .name
                .strip_prefix("content/")
                .unwrap_or(&f.name)
                .to_string();
            files.push((rel, std::mem::take(&mut f.text)));
        }
    }
    files
}

/// Loads and validates the built-in content with the texts in `edited` (by path inside
/// `content/`) in place of the built-in ones; problems name the file and line as [`load`] does.
pub fn load_edited(
    edited: &std::collections::BTreeMap<String, String>,
) -> Result<Content, Diagnostics> {
    let mut all = read_files(&ContentSource::Embedded)?;
    for f in all.iter_mut() {
        let rel = f.name.strip_prefix("content/").unwrap_or(&f.name);
        if let Some(text) = edited.get(rel) {
            f.text = text.clone();
        }
    }
    parse_all(all)
}

/// A page of the clinician's own: its Markdown rendered as the privacy page's is, with the
/// same checks; a problem names the line of `markdown`.
pub fn own_page(path: &str, title: &str, markdown: &str) -> Result<OwnPage, Diagnostics> {
    let html = markdown::render_page(
        markdown,
        Origin {
            file: path,
            first_line: 1,
        },
    )?;
    let description: String = markdown
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .unwrap_or(title)
        .chars()
        .take(160)
        .collect();
    Ok(OwnPage {
        path: path.to_string(),
        page: TextPage {
            title: title.to_string(),
            description,
            html,
        },
    })
}

fn parse_all(files: Files) -> Result<Content, Diagnostics> {
    let mut errors = Diagnostics::default();
    let home = parse_home(&files.home, &mut errors);
    let contact = parse_text_page(&files.contact, &mut errors);
    let privacy = parse_text_page(&files.privacy, &mut errors);
    let screening = parse_screening(&files.screening, &mut errors);
    match (home, contact, privacy, screening) {
        (Some(home), Some(contact), Some(privacy), Some(screening)) if errors.is_empty() => {
            Ok(Content {
                home,
                contact,
                privacy,
                screening,
                own_pages: Vec::new(),
                removed_pages: Vec::new(),
            })
        }
        _ => Err(errors),
    }
}

#[cfg(test)]
mod tests;
