//! Markdown to safe HTML, and splitting a body at its `##` headings.
//!
//! Raw HTML in content is shown as text, never passed through, so nothing pasted into a content
//! file can add a script or break the layout. Headings move one level down (a section's `##`
//! becomes `<h3>`, since the section title is the `<h2>`).

use std::ops::Range;

use pulldown_cmark::{CowStr, Event, HeadingLevel, Options, Parser, Tag, TagEnd};

use diagnostics::{Diagnostic, Diagnostics, line_of, quoted};

/// Where a body sits in its file, so problems can name the right line.
#[derive(Clone, Copy, Debug)]
pub struct Origin<'a> {
    pub file: &'a str,
    /// 1-based line of the body's first line in the file.
    pub first_line: usize,
}

impl Origin<'_> {
    fn line(&self, body: &str, offset: usize) -> usize {
        self.first_line + line_of(body, offset) - 1
    }
}

/// A part of a body that starts with a `##` heading.
#[derive(Debug)]
pub struct Part {
    pub heading: String,
    /// The line of the heading in the file.
    pub line: usize,
    pub html: String,
}

/// A body split at its `##` headings: what comes before the first one, then each part.
#[derive(Debug)]
pub struct Split {
    pub intro_html: String,
    pub intro_is_empty: bool,
    pub parts: Vec<Part>,
}

type Spanned<'a> = (Event<'a>, Range<usize>);

fn parse(body: &str) -> Vec<Spanned<'_>> {
    Parser::new_ext(body, Options::ENABLE_STRIKETHROUGH)
        .into_offset_iter()
        .collect()
}

/// Renders a whole body. `##` and deeper headings are allowed and shifted one level down.
pub fn render(body: &str, origin: Origin<'_>) -> Result<String, Diagnostics> {
    let events = parse(body);
    let mut errors = Diagnostics::default();
    let html = to_html(events, body, origin, &mut errors, true);
    errors.into_result(html)
}

/// Renders the body of a page of its own (privacy, contact): its `##` headings are `<h2>`, under
/// the page's `<h1>` title.
pub fn render_page(body: &str, origin: Origin<'_>) -> Result<String, Diagnostics> {
    let events = parse(body);
    let mut errors = Diagnostics::default();
    let html = to_html(events, body, origin, &mut errors, false);
    errors.into_result(html)
}

/// Renders a body whose `##` headings are structure (steps, misconceptions, compare sides).
pub fn split(body: &str, origin: Origin<'_>) -> Result<Split, Diagnostics> {
    let events = parse(body);
    let mut errors = Diagnostics::default();
    let mut intro: Vec<Spanned<'_>> = Vec::new();
    let mut parts: Vec<(String, usize, Vec<Spanned<'_>>)> = Vec::new();
    let mut heading: Option<(String, usize)> = None;

    for (event, range) in events {
        match (&event, &mut heading) {
            (
                Event::Start(Tag::Heading {
                    level: HeadingLevel::H2,
                    ..
                }),
                None,
            ) => {
                heading = Some((String::new(), origin.line(body, range.start)));
            }
            (Event::End(TagEnd::Heading(HeadingLevel::H2)), Some(_)) => {
                if let Some((text, line)) = heading.take() {
                    parts.push((text.trim().to_string(), line, Vec::new()));
                }
            }
            (Event::Text(t) | Event::Code(t), Some((text, _))) => text.push_str(t),
            (Event::SoftBreak | Event::HardBreak, Some((text, _))) => text.push(' '),
            (_, Some(_)) => {}
            (_, None) => match parts.last_mut() {
                Some((_, _, events)) => events.push((event, range)),
                None => intro.push((event, range)),
            },
        }
    }
    let intro_is_empty = intro.is_empty();
    let intro_html = to_html(intro, body, origin, &mut errors, true);
    let parts = parts
        .into_iter()
        .map(|(heading, line, events)| Part {
            heading,
            line,
            html: to_html(events, body, origin, &mut errors, true),
        })
        .collect();
    errors.into_result(Split {
        intro_html,
        intro_is_empty,
        parts,
    })
}

/// Makes events safe and renders them; problems are added to `errors`.
fn to_html(
    events: Vec<Spanned<'_>>,
    body: &str,
    origin: Origin<'_>,
    errors: &mut Diagnostics,
    shift: bool,
) -> String {
    let level_of = |l: HeadingLevel| if shift { deeper(l) } else { l };
    let mut out = Vec::with_capacity(events.len());
    for (event, range) in events {
        let line = origin.line(body, range.start);
        let mut refuse = |message: String| errors.push(Diagnostic::new(origin.file, line, message));
        let event = match event {
            Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
            Event::Start(Tag::Heading {
                level,
                id,
                classes,
                attrs,
            }) => {
                if level == HeadingLevel::H1 {
                    refuse(
                        "a `#` heading inside a section: the title is the section's heading; use `##` for headings inside it".into(),
                    );
                }
                Event::Start(Tag::Heading {
                    level: level_of(level),
                    id,
                    classes,
                    attrs,
                })
            }
            Event::End(TagEnd::Heading(level)) => Event::End(TagEnd::Heading(level_of(level))),
            Event::Start(Tag::Image { ref dest_url, .. }) if !is_local(dest_url) => {
                refuse(format!(
                    "the image {} is on another site: visitors' browsers must not contact other sites; put the image in the site's own files and link it with a path starting with /",
                    quoted(dest_url)
                ));
                event
            }
            Event::Start(Tag::Link { ref dest_url, .. }) if !is_safe_link(dest_url) => {
                refuse(format!(
                    "the link {} is not allowed: links must start with https://, http://, mailto:, tel:, / or #",
                    quoted(dest_url)
                ));
                event
            }
            other => other,
        };
        out.push(event);
    }
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, out.into_iter());
    html
}

fn deeper(level: HeadingLevel) -> HeadingLevel {
    match level {
        HeadingLevel::H1 | HeadingLevel::H2 => HeadingLevel::H3,
        HeadingLevel::H3 => HeadingLevel::H4,
        HeadingLevel::H4 => HeadingLevel::H5,
        HeadingLevel::H5 | HeadingLevel::H6 => HeadingLevel::H6,
    }
}

fn is_local(url: &CowStr<'_>) -> bool {
    url.starts_with('/') && !url.starts_with("//")
}

fn is_safe_link(url: &CowStr<'_>) -> bool {
    is_local(url)
        || ["#", "https://", "http://", "mailto:", "tel:"]
            .iter()
            .any(|p| url.starts_with(p))
}

/// An anchor made from a title: lowercase ASCII letters and digits joined by `-`.
pub fn slug(title: &str) -> String {
    let mut out = String::new();
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if matches!(c, '’' | '\'' | '‘') {
            continue;
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: Origin<'static> = Origin {
        file: "x.md",
        first_line: 5,
    };

    #[test]
    fn raw_html_is_shown_as_text() {
        let html = render("Hello <script>alert(1)</script> there\n", AT).expect("renders");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(!html.contains("<script>"), "{html}");
    }

    #[test]
    fn headings_move_down_and_h1_is_refused() {
        assert!(render("## Sub\n", AT).expect("ok").contains("<h3>Sub</h3>"));
        let err = render("text\n\n# Big\n", AT).expect_err("h1");
        assert_eq!(err.0[0].line, 7);
    }

    #[test]
    fn remote_images_and_script_links_are_refused() {
        assert!(render("![x](https://cdn.example/x.png)\n", AT).is_err());
        let err = render("[x](javascript:alert(1))\n", AT).expect_err("refused");
        assert_eq!(
            err.0[0].message,
            "the link \"javascript:alert(1)\" is not allowed: links must start with https://, http://, mailto:, tel:, / or #"
        );
        assert!(render("[x](/contact) [y](mailto:a@b.c)\n", AT).is_ok());
    }

    #[test]
    fn split_keeps_intro_and_parts_with_lines() {
        let s = split("Intro.\n\n## 1. One\n\nA\n\n## 2. Two\n\n- b\n", AT).expect("ok");
        assert!(s.intro_html.contains("Intro."));
        assert_eq!(s.parts.len(), 2);
        assert_eq!(s.parts[0].heading, "1. One");
        assert_eq!(s.parts[0].line, 7);
        assert!(s.parts[1].html.contains("<li>b</li>"));
    }

    #[test]
    fn slugs() {
        assert_eq!(
            slug("When Insight Alone Isn’t Enough"),
            "when-insight-alone-isnt-enough"
        );
        assert_eq!(
            slug("KAP Is an Opportunity—not a Promise"),
            "kap-is-an-opportunity-not-a-promise"
        );
        assert_eq!(
            slug("Who Might Benefit from KAP?"),
            "who-might-benefit-from-kap"
        );
    }
}
