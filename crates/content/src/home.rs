//! The home page: its sections, one file each, in the layout each names (hero, compare,
//! steps, myths, plain text).

use diagnostics::{Diagnostic, Diagnostics, quoted};
use toml::Spanned;

use crate::front_matter::{Parsed, optional_text, required_text, split_front_matter};
use crate::markdown;
use crate::model::*;
use crate::sources::File;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Layout {
    Hero,
    Text,
    Compare,
    Steps,
    Myths,
    Call,
}

impl Layout {
    const NAMES: &'static str = "hero, text, compare, steps, myths or call";

    /// The name a file gives it (`layout = "…"`).
    fn name(self) -> &'static str {
        match self {
            Layout::Hero => "hero",
            Layout::Text => "text",
            Layout::Compare => "compare",
            Layout::Steps => "steps",
            Layout::Myths => "myths",
            Layout::Call => "call",
        }
    }

    fn parse(s: &str) -> Option<Layout> {
        Some(match s {
            "hero" => Layout::Hero,
            "text" => Layout::Text,
            "compare" => Layout::Compare,
            "steps" => Layout::Steps,
            "myths" => Layout::Myths,
            "call" => Layout::Call,
            _ => return None,
        })
    }
}

/// Anchors the page uses for itself.
const RESERVED_ANCHORS: &[&str] = &["main", "contents", "top", "site-header", "site-footer"];

/// The section's call to action, if it has one: to the contact page unless it says where.
fn cta(p: &Parsed<'_>) -> Option<Cta> {
    p.fm.cta_label.as_ref().map(|label| Cta {
        label: label.trim().to_string(),
        href: optional_text(&p.fm.cta_href).unwrap_or_else(|| "/contact".into()),
    })
}

pub(crate) fn parse_home(files: &[File], errors: &mut Diagnostics) -> Option<HomePage> {
    let mut hero = None;
    let mut sections: Vec<Section> = Vec::new();
    let mut anchors: Vec<(String, String)> = Vec::new();
    if files.is_empty() {
        errors.push(Diagnostic::new(
            "content/home",
            0,
            "has no sections: add Markdown files such as 00-hero.md (see docs/content.md)",
        ));
        return None;
    }
    for (index, file) in files.iter().enumerate() {
        let p = match split_front_matter(file) {
            Ok(p) => p,
            Err(d) => {
                errors.push(d);
                continue;
            }
        };
        let before = errors.0.len();
        let layout = match &p.fm.layout {
            None => Layout::Text,
            Some(l) => match Layout::parse(l.get_ref().trim()) {
                Some(layout) => layout,
                None => {
                    errors.push(p.error(
                        p.line_of_span(l.span()),
                        format!(
                            "layout {} is not known: use {}",
                            quoted(l.get_ref()),
                            Layout::NAMES
                        ),
                    ));
                    continue;
                }
            },
        };
        check_keys_fit_layout(&p, layout, errors);
        let Some(title) = required_text(&p, &p.fm.title, "title", errors) else {
            continue;
        };
        if layout == Layout::Hero {
            if index != 0 {
                errors.push(p.error(1, "the hero must be the first section: give its file the first name in order, e.g. 00-hero.md"));
            }
            if hero.is_some() {
                errors.push(p.error(
                    1,
                    "there is already a hero section: only one file can use layout = \"hero\"",
                ));
            }
            hero = parse_hero(&p, title, errors);
            continue;
        }
        if index == 0 {
            errors.push(p.error(1, "the first section must be the hero (layout = \"hero\"): it holds the page's main heading"));
        }
        let anchor = match &p.fm.anchor {
            Some(a) => {
                let v = a.get_ref().trim().to_string();
                if v.is_empty()
                    || !v
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                {
                    errors.push(p.error(
                        p.line_of_span(a.span()),
                        format!(
                            "anchor {} may only use lowercase letters, digits and -",
                            quoted(&v)
                        ),
                    ));
                }
                v
            }
            None => markdown::slug(&title),
        };
        if anchor.is_empty() {
            errors.push(p.error(
                1,
                "cannot make an anchor from this title: set anchor = \"a-short-name\"",
            ));
        }
        if RESERVED_ANCHORS.contains(&anchor.as_str()) {
            errors.push(p.error(
                1,
                format!(
                    "the anchor {} is used by the page itself: set another one with anchor = \"…\"",
                    quoted(&anchor)
                ),
            ));
        }
        if let Some((_, other)) = anchors.iter().find(|(a, _)| *a == anchor) {
            errors.push(p.error(
                1,
                format!(
                    "the anchor {} is already used by {other}: set a different anchor = \"…\"",
                    quoted(&anchor)
                ),
            ));
        }
        anchors.push((anchor.clone(), file.name.clone()));
        let body = match layout {
            Layout::Text => render(&p, errors).map(|html| SectionBody::Text { html }),
            Layout::Call => render(&p, errors).map(|html| SectionBody::Call { html }),
            Layout::Compare => parse_compare(&p, errors).map(SectionBody::Compare),
            Layout::Steps => parse_steps(&p, &anchor, errors),
            Layout::Myths => parse_myths(&p, errors),
            Layout::Hero => None,
        };
        let cta = cta(&p);
        if let (Some(body), true) = (body, errors.0.len() == before) {
            sections.push(Section {
                toc_title: p
                    .fm
                    .toc_title
                    .clone()
                    .map(|t| t.trim().to_string())
                    .unwrap_or_else(|| title.clone()),
                in_toc: p.fm.toc.unwrap_or(layout != Layout::Call),
                title,
                anchor,
                body,
                cta,
            });
        }
    }
    match hero {
        Some(hero) => Some(HomePage { hero, sections }),
        None => {
            if errors.is_empty() {
                errors.push(Diagnostic::new(
                    &files[0].name,
                    1,
                    "the KAP page needs a hero section (layout = \"hero\") as its first file",
                ));
            }
            None
        }
    }
}

fn check_keys_fit_layout(p: &Parsed<'_>, layout: Layout, errors: &mut Diagnostics) {
    let fm = &p.fm;
    let only = |key: &str,
                span: Option<std::ops::Range<usize>>,
                allowed: &[Layout],
                errors: &mut Diagnostics| {
        if let Some(span) = span
            && !allowed.contains(&layout)
        {
            let names: Vec<_> = allowed.iter().map(|l| l.name()).collect();
            errors.push(p.error(
                p.line_of_span(span),
                format!(
                    "{key} is only used with layout = {}: remove it or change the layout",
                    names.join(" or ")
                ),
            ));
        }
    };
    let span = |v: &Option<Spanned<String>>| v.as_ref().map(|s| s.span());
    for (key, at, allowed) in [
        ("subtitle", span(&fm.subtitle), &[Layout::Hero][..]),
        ("lead", span(&fm.lead), &[Layout::Hero]),
        ("description", span(&fm.description), &[Layout::Hero]),
        ("left", span(&fm.left), &[Layout::Compare]),
        ("hint", span(&fm.hint), &[Layout::Compare]),
        ("disclaimer", span(&fm.disclaimer), &[Layout::Compare]),
    ] {
        only(key, at, allowed, errors);
    }
    for (key, value) in [("cta_label", &fm.cta_label), ("toc_title", &fm.toc_title)] {
        if value.as_ref().is_some_and(|v| v.trim().is_empty()) {
            errors.push(p.error(
                1,
                format!("{key} is empty: write the words between the quotes, or remove the line"),
            ));
        }
    }
    if let Some(href) = &fm.cta_href {
        let h = href.get_ref().trim();
        if !(h.starts_with('/')
            || h.starts_with("https://")
            || h.starts_with("mailto:")
            || h.starts_with("tel:")
            || h.starts_with('#'))
        {
            errors.push(p.error(
                p.line_of_span(href.span()),
                format!(
                    "cta_href {} must start with /, #, https://, mailto: or tel:",
                    quoted(h)
                ),
            ));
        }
        if fm.cta_label.is_none() {
            errors.push(p.error(
                p.line_of_span(href.span()),
                "cta_href needs a cta_label: the words on the button",
            ));
        }
    }
}

fn render(p: &Parsed<'_>, errors: &mut Diagnostics) -> Option<String> {
    match markdown::render(p.body, p.origin()) {
        Ok(html) => Some(html),
        Err(e) => {
            errors.extend(e);
            None
        }
    }
}

fn split(p: &Parsed<'_>, errors: &mut Diagnostics) -> Option<markdown::Split> {
    match markdown::split(p.body, p.origin()) {
        Ok(s) => Some(s),
        Err(e) => {
            errors.extend(e);
            None
        }
    }
}

fn parse_hero(p: &Parsed<'_>, title: String, errors: &mut Diagnostics) -> Option<Hero> {
    let subtitle = required_text(p, &p.fm.subtitle, "subtitle", errors);
    let lead = optional_text(&p.fm.lead).unwrap_or_default();
    let description = required_text(p, &p.fm.description, "description", errors);
    if let (Some(d), Some(span)) = (&description, p.fm.description.as_ref().map(|d| d.span())) {
        let n = d.chars().count();
        if n > 160 {
            errors.push(p.error(
                p.line_of_span(span),
                format!(
                    "description is {n} characters: search engines show about 160, so shorten it"
                ),
            ));
        }
    }
    let html = render(p, errors)?;
    Some(Hero {
        title,
        subtitle: subtitle?,
        lead,
        description: description?,
        html,
        cta: cta(p),
    })
}

fn parse_compare(p: &Parsed<'_>, errors: &mut Diagnostics) -> Option<Compare> {
    let hint = required_text(p, &p.fm.hint, "hint", errors);
    let disclaimer = optional_text(&p.fm.disclaimer).unwrap_or_default();
    let left = required_text(p, &p.fm.left, "left", errors);
    let s = split(p, errors)?;
    if !s.intro_is_empty {
        errors.push(p.error(p.body_line, "a compare panel has no text before its first `##` heading: start with the heading of one side"));
    }
    if s.parts.len() != 2 {
        errors.push(p.error(p.body_line, format!("a compare panel has exactly two sides, each starting with a `##` heading; found {}", s.parts.len())));
        return None;
    }
    let left = left?;
    let mut parts = s.parts.into_iter();
    let (Some(a), Some(b)) = (parts.next(), parts.next()) else {
        return None;
    };
    if a.heading != left && b.heading != left {
        let line =
            p.fm.left
                .as_ref()
                .map(|l| p.line_of_span(l.span()))
                .unwrap_or(1);
        errors.push(p.error(
            line,
            format!(
                "left = {} must be one of the two headings: {} or {}",
                quoted(&left),
                quoted(&a.heading),
                quoted(&b.heading)
            ),
        ));
        return None;
    }
    let side = |part: markdown::Part| CompareSide {
        is_left: part.heading == left,
        title: part.heading,
        html: part.html,
    };
    Some(Compare {
        hint: hint?,
        disclaimer,
        sides: [side(a), side(b)],
    })
}

fn parse_steps(p: &Parsed<'_>, anchor: &str, errors: &mut Diagnostics) -> Option<SectionBody> {
    let s = split(p, errors)?;
    if s.parts.is_empty() {
        errors.push(p.error(p.body_line, "a steps section needs steps: start each with a heading like `## 1. Initial Consultation`"));
        return None;
    }
    let mut steps = Vec::new();
    for (i, part) in s.parts.into_iter().enumerate() {
        let expected = i as u32 + 1;
        let parsed = part.heading.split_once(". ").and_then(|(n, rest)| {
            n.trim()
                .parse::<u32>()
                .ok()
                .map(|n| (n, rest.trim().to_string()))
        });
        match parsed {
            Some((n, title)) if n == expected && !title.is_empty() => steps.push(Step {
                number: n,
                anchor: format!("{anchor}-{n}"),
                title,
                html: part.html,
            }),
            Some((n, _)) if n != expected => errors.push(p.error(part.line, format!("this step is numbered {n}, but step {expected} comes here: number the steps 1, 2, 3… in order"))),
            _ => errors.push(p.error(part.line, format!("a step heading starts with its number and a full stop, e.g. `## {expected}. {}`", part.heading))),
        }
    }
    Some(SectionBody::Steps {
        intro_html: s.intro_html,
        steps,
    })
}

fn parse_myths(p: &Parsed<'_>, errors: &mut Diagnostics) -> Option<SectionBody> {
    let s = split(p, errors)?;
    if s.parts.is_empty() {
        errors.push(p.error(
            p.body_line,
            "a myths section needs at least one misconception: start each with a `##` heading",
        ));
        return None;
    }
    let mut myths = Vec::new();
    for part in s.parts {
        if part.html.trim().is_empty() {
            errors.push(p.error(
                part.line,
                format!(
                    "the misconception {} has no answer: write it under the heading",
                    quoted(&part.heading)
                ),
            ));
        }
        myths.push(Myth {
            claim: part.heading,
            html: part.html,
        });
    }
    Some(SectionBody::Myths {
        intro_html: s.intro_html,
        myths,
    })
}
