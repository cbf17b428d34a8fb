//! The pages that stand alone: the screening questions and the text pages (contact, privacy).

use diagnostics::Diagnostics;

use crate::front_matter::{Parsed, required_text, split_front_matter};
use crate::markdown;
use crate::model::*;
use crate::sources::File;

/// The front matter of a page that stands alone (screening questions, a text page), with the
/// title and description every such page needs: only those are taken, and every key a home
/// page section uses is reported as not used `where_and_what`.
fn page_front_matter<'a>(
    file: &'a File,
    where_and_what: &str,
    errors: &mut Diagnostics,
) -> Option<(Parsed<'a>, Option<String>, Option<String>)> {
    let p = match split_front_matter(file) {
        Ok(p) => p,
        Err(d) => {
            errors.push(d);
            return None;
        }
    };
    let fm = &p.fm;
    for (key, span) in [
        ("layout", fm.layout.as_ref().map(|s| s.span())),
        ("subtitle", fm.subtitle.as_ref().map(|s| s.span())),
        ("lead", fm.lead.as_ref().map(|s| s.span())),
        ("left", fm.left.as_ref().map(|s| s.span())),
        ("hint", fm.hint.as_ref().map(|s| s.span())),
        ("disclaimer", fm.disclaimer.as_ref().map(|s| s.span())),
        ("anchor", fm.anchor.as_ref().map(|s| s.span())),
    ] {
        if let Some(span) = span {
            errors.push(p.error(
                p.line_of_span(span),
                format!("{key} is not used {where_and_what}"),
            ));
        }
    }
    let title = required_text(&p, &p.fm.title, "title", errors);
    let description = required_text(&p, &p.fm.description, "description", errors);
    Some((p, title, description))
}

/// `text` rendered as a whole page's Markdown, its mistakes added to `errors`.
fn render_page(text: &str, p: &Parsed<'_>, errors: &mut Diagnostics) -> Option<String> {
    match markdown::render_page(text, p.origin()) {
        Ok(html) => Some(html),
        Err(e) => {
            errors.extend(e);
            None
        }
    }
}

/// The longest screening question, in characters.
const MAX_QUESTION: usize = 300;

/// `screening.md`: a title and description, optional words, then the questions as a list, one
/// `- ` line each.
pub(crate) fn parse_screening(file: &File, errors: &mut Diagnostics) -> Option<Screening> {
    let (p, title, description) = page_front_matter(
        file,
        "for the screening questions: they take title, description, words and a list of questions",
        errors,
    )?;
    let mut intro = String::new();
    let mut questions: Vec<String> = Vec::new();
    let mut bad_question = false;
    for (i, line) in p.body.lines().enumerate() {
        let line_no = p.body_line + i;
        let Some(q) = line.trim_start().strip_prefix("- ") else {
            if questions.is_empty() {
                intro.push_str(line);
                intro.push('\n');
            } else if !line.trim().is_empty() {
                errors.push(p.error(
                    line_no,
                    "only questions may follow the list: start the line with `- ` or move the words above the questions",
                ));
            }
            continue;
        };
        let q = q.trim();
        if q.is_empty() {
            bad_question = true;
            errors.push(p.error(line_no, "this question is empty: write it after the `- `"));
        } else if q.chars().count() > MAX_QUESTION {
            bad_question = true;
            errors.push(p.error(
                line_no,
                format!("this question is longer than {MAX_QUESTION} characters: shorten it"),
            ));
        } else if questions.iter().any(|x| x == q) {
            errors.push(p.error(line_no, "this question is asked twice: remove one"));
        } else {
            questions.push(q.to_string());
        }
    }
    if questions.is_empty() && !bad_question {
        errors.push(p.error(
            p.body_line,
            "there are no questions: write each as a list line starting with `- `",
        ));
    }
    let html = render_page(&intro, &p, errors);
    Some(Screening {
        title: title?,
        description: description?,
        html: html?,
        questions,
    })
}

pub(crate) fn parse_text_page(file: &File, errors: &mut Diagnostics) -> Option<TextPage> {
    let (p, title, description) = page_front_matter(
        file,
        "on this page: it takes title, description and text",
        errors,
    )?;
    let html = render_page(p.body, &p, errors);
    Some(TextPage {
        title: title?,
        description: description?,
        html: html?,
    })
}
