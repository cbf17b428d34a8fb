//! Front matter: the settings between a file's `+++` lines, split from its Markdown body, and
//! the checks every kind of page makes of them.

use serde::Deserialize;
use toml::Spanned;

use diagnostics::{Diagnostic, Diagnostics, line_of};

use crate::markdown::Origin;
use crate::sources::File;

/// Settings between the `+++` lines. Unknown keys are errors (they are usually typos).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct FrontMatter {
    pub title: Option<Spanned<String>>,
    pub layout: Option<Spanned<String>>,
    pub anchor: Option<Spanned<String>>,
    pub toc_title: Option<String>,
    pub toc: Option<bool>,
    pub cta_label: Option<String>,
    pub cta_href: Option<Spanned<String>>,
    pub subtitle: Option<Spanned<String>>,
    pub lead: Option<Spanned<String>>,
    pub description: Option<Spanned<String>>,
    pub left: Option<Spanned<String>>,
    pub hint: Option<Spanned<String>>,
    pub disclaimer: Option<Spanned<String>>,
}

/// A file split into its settings and its Markdown body.
pub(crate) struct Parsed<'a> {
    pub file: &'a File,
    pub fm: FrontMatter,
    /// Byte offset of the front matter's TOML text in the file.
    pub fm_offset: usize,
    pub body: &'a str,
    pub body_line: usize,
}

impl Parsed<'_> {
    pub(crate) fn origin(&self) -> Origin<'_> {
        Origin {
            file: &self.file.name,
            first_line: self.body_line,
        }
    }

    pub(crate) fn line_of_span(&self, span: std::ops::Range<usize>) -> usize {
        line_of(&self.file.text, self.fm_offset + span.start)
    }

    pub(crate) fn error(&self, line: usize, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(&self.file.name, line, message)
    }
}

pub(crate) fn split_front_matter(file: &File) -> Result<Parsed<'_>, Diagnostic> {
    let text = file.text.strip_prefix('\u{feff}').unwrap_or(&file.text);
    let bom = file.text.len() - text.len();
    let missing = || {
        Diagnostic::new(
            &file.name,
            1,
            "the file must start with settings between two `+++` lines, e.g. `+++` / `title = \"…\"` / `+++`",
        )
    };
    let first_end = text.find('\n').ok_or_else(missing)?;
    if text[..first_end].trim_end() != "+++" {
        return Err(missing());
    }
    let fm_start = first_end + 1;
    let mut pos = fm_start;
    loop {
        let end = text[pos..].find('\n').map(|i| pos + i);
        let line = &text[pos..end.unwrap_or(text.len())];
        if line.trim_end() == "+++" {
            let body_start = end.map(|e| e + 1).unwrap_or(text.len());
            let toml_text = &text[fm_start..pos];
            let fm: FrontMatter = toml::from_str(toml_text).map_err(|e| {
                let line = e
                    .span()
                    .map(|s| line_of(&file.text, bom + fm_start + s.start))
                    .unwrap_or(1);
                Diagnostic::new(
                    &file.name,
                    line,
                    format!(
                        "{} (settings are TOML: key = \"value\")",
                        e.message().trim()
                    ),
                )
            })?;
            return Ok(Parsed {
                file,
                fm,
                fm_offset: bom + fm_start,
                body: &text[body_start..],
                body_line: line_of(&file.text, bom + body_start),
            });
        }
        match end {
            Some(e) => pos = e + 1,
            None => {
                return Err(Diagnostic::new(
                    &file.name,
                    1,
                    "the settings that start on line 1 are never closed: add a line with only `+++` after them",
                ));
            }
        }
    }
}

/// An optional value of the front matter, trimmed.
pub(crate) fn optional_text(value: &Option<Spanned<String>>) -> Option<String> {
    value.as_ref().map(|v| v.get_ref().trim().to_string())
}

pub(crate) fn required_text(
    p: &Parsed<'_>,
    value: &Option<Spanned<String>>,
    key: &str,
    errors: &mut Diagnostics,
) -> Option<String> {
    match value {
        None => {
            errors.push(p.error(
                1,
                format!("{key} is missing: add {key} = \"…\" between the +++ lines"),
            ));
            None
        }
        Some(v) if v.get_ref().trim().is_empty() => {
            errors.push(p.error(
                p.line_of_span(v.span()),
                format!("{key} is empty: write the words between the quotes"),
            ));
            None
        }
        Some(v) => Some(v.get_ref().trim().to_string()),
    }
}
