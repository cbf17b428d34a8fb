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
mod markdown;
pub mod model;

use std::path::{Path, PathBuf};

use include_dir::{Dir, include_dir};
use serde::Deserialize;
use toml::Spanned;

use diagnostics::{Diagnostic, Diagnostics, line_of, quoted};
use markdown::Origin;
pub use model::*;

/// The default content, built into the binary.
static EMBEDDED: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../../content");

/// Where content comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContentSource {
    /// The content built into the binary.
    Embedded,
    /// A folder laid out like the repository's `content/`.
    Dir(PathBuf),
}

impl ContentSource {
    pub fn from_config(dir: Option<&Path>) -> Self {
        match dir {
            Some(d) => ContentSource::Dir(d.to_path_buf()),
            None => ContentSource::Embedded,
        }
    }
}

/// One file's text and the name used for it in messages.
struct File {
    name: String,
    text: String,
}

/// Every content file, as read.
struct Files {
    home: Vec<File>,
    contact: File,
    privacy: File,
    screening: File,
}

impl Files {
    fn iter_mut(&mut self) -> impl Iterator<Item = &mut File> {
        self.home
            .iter_mut()
            .chain([&mut self.contact, &mut self.privacy, &mut self.screening])
    }
}

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

fn read_files(source: &ContentSource) -> Result<Files, Diagnostics> {
    let mut errors = Diagnostics::default();
    let mut home = Vec::new();
    let (contact, privacy) = match source {
        ContentSource::Embedded => {
            let prefix = "content";
            if let Some(dir) = EMBEDDED.get_dir("home") {
                for f in dir.files() {
                    let rel = f.path().to_string_lossy().to_string();
                    if !is_content_file(&rel) {
                        continue;
                    }
                    let name = format!("{prefix}/{rel}");
                    match f.contents_utf8() {
                        Some(text) => home.push(File {
                            name,
                            text: text.to_string(),
                        }),
                        None => errors.push(not_utf8(&name)),
                    }
                }
            }
            let one = |rel: &str, errors: &mut Diagnostics| {
                let name = format!("{prefix}/{rel}");
                match EMBEDDED.get_file(rel).and_then(|f| f.contents_utf8()) {
                    Some(text) => Some(File {
                        name,
                        text: text.to_string(),
                    }),
                    None => {
                        errors.push(Diagnostic::new(
                            name,
                            0,
                            "missing from the built-in content",
                        ));
                        None
                    }
                }
            };
            (
                one("contact.md", &mut errors),
                one("privacy.md", &mut errors),
            )
        }
        ContentSource::Dir(root) => {
            let home_dir = root.join("home");
            match std::fs::read_dir(&home_dir) {
                Ok(entries) => {
                    for entry in entries.flatten() {
                        let path = entry.path();
                        let file_name = entry.file_name().to_string_lossy().to_string();
                        if !is_content_file(&file_name) || !path.is_file() {
                            continue;
                        }
                        if let Some(f) = read_disk(&path, &mut errors) {
                            home.push(f);
                        }
                    }
                }
                Err(e) => errors.push(Diagnostic::new(
                    home_dir.display().to_string(),
                    0,
                    format!("cannot read the folder of the KAP page's sections: {e}; content_dir must hold home/, contact.md and privacy.md (see docs/content.md)"),
                )),
            }
            (
                read_disk(&root.join("contact.md"), &mut errors),
                read_disk(&root.join("privacy.md"), &mut errors),
            )
        }
    };
    home.sort_by(|a, b| a.name.cmp(&b.name));
    let screening = read_one(source, "screening.md", &mut errors);
    match (contact, privacy, screening) {
        (Some(contact), Some(privacy), Some(screening)) if errors.is_empty() => Ok(Files {
            home,
            contact,
            privacy,
            screening,
        }),
        _ => Err(errors),
    }
}

/// One file at `rel` in the content's folder; a folder without it (one laid out before the file
/// existed) gets the built-in one.
fn read_one(source: &ContentSource, rel: &str, errors: &mut Diagnostics) -> Option<File> {
    match source {
        ContentSource::Dir(root) if root.join(rel).exists() => read_disk(&root.join(rel), errors),
        _ => {
            let name = format!("content/{rel}");
            match EMBEDDED.get_file(rel).and_then(|f| f.contents_utf8()) {
                Some(text) => Some(File {
                    name,
                    text: text.to_string(),
                }),
                None => {
                    errors.push(Diagnostic::new(
                        name,
                        0,
                        "missing from the built-in content",
                    ));
                    None
                }
            }
        }
    }
}

fn is_content_file(name: &str) -> bool {
    let base = name.rsplit('/').next().unwrap_or(name);
    base.ends_with(".md") && !base.starts_with('.') && !base.starts_with('_')
}

fn not_utf8(name: &str) -> Diagnostic {
    Diagnostic::new(
        name,
        0,
        "is not UTF-8 text: save it as UTF-8 in your editor",
    )
}

fn read_disk(path: &Path, errors: &mut Diagnostics) -> Option<File> {
    let name = path.display().to_string();
    match std::fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => Some(File { name, text }),
            Err(_) => {
                errors.push(not_utf8(&name));
                None
            }
        },
        Err(e) => {
            errors.push(Diagnostic::new(name, 0, format!("cannot be read: {e}")));
            None
        }
    }
}

// ---- Front matter --------------------------------------------------------------------------

/// Settings between the `+++` lines. Unknown keys are errors (they are usually typos).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FrontMatter {
    title: Option<Spanned<String>>,
    layout: Option<Spanned<String>>,
    anchor: Option<Spanned<String>>,
    toc_title: Option<String>,
    toc: Option<bool>,
    cta_label: Option<String>,
    cta_href: Option<Spanned<String>>,
    subtitle: Option<Spanned<String>>,
    lead: Option<Spanned<String>>,
    description: Option<Spanned<String>>,
    left: Option<Spanned<String>>,
    hint: Option<Spanned<String>>,
    disclaimer: Option<Spanned<String>>,
}

/// A file split into its settings and its Markdown body.
struct Parsed<'a> {
    file: &'a File,
    fm: FrontMatter,
    /// Byte offset of the front matter's TOML text in the file.
    fm_offset: usize,
    body: &'a str,
    body_line: usize,
}

impl Parsed<'_> {
    fn origin(&self) -> Origin<'_> {
        Origin {
            file: &self.file.name,
            first_line: self.body_line,
        }
    }

    fn line_of_span(&self, span: std::ops::Range<usize>) -> usize {
        line_of(&self.file.text, self.fm_offset + span.start)
    }

    fn error(&self, line: usize, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(&self.file.name, line, message)
    }
}

fn split_front_matter(file: &File) -> Result<Parsed<'_>, Diagnostic> {
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

// ---- Pages ---------------------------------------------------------------------------------

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

fn parse_home(files: &[File], errors: &mut Diagnostics) -> Option<HomePage> {
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
        let cta = p.fm.cta_label.as_ref().map(|label| Cta {
            label: label.trim().to_string(),
            href: p
                .fm
                .cta_href
                .as_ref()
                .map(|h| h.get_ref().trim().to_string())
                .unwrap_or_else(|| "/contact".into()),
        });
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

fn required_text(
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
    let lead =
        p.fm.lead
            .as_ref()
            .map(|l| l.get_ref().trim().to_string())
            .unwrap_or_default();
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
        cta: p.fm.cta_label.as_ref().map(|label| Cta {
            label: label.trim().to_string(),
            href: p
                .fm
                .cta_href
                .as_ref()
                .map(|h| h.get_ref().trim().to_string())
                .unwrap_or_else(|| "/contact".into()),
        }),
    })
}

fn parse_compare(p: &Parsed<'_>, errors: &mut Diagnostics) -> Option<Compare> {
    let hint = required_text(p, &p.fm.hint, "hint", errors);
    let disclaimer =
        p.fm.disclaimer
            .as_ref()
            .map(|d| d.get_ref().trim().to_string())
            .unwrap_or_default();
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

/// The front matter of a page that stands alone (screening questions, a text page): only
/// title and description are taken, and every key a home page section uses is reported as
/// not used `where_and_what`.
fn page_front_matter<'a>(
    file: &'a File,
    where_and_what: &str,
    errors: &mut Diagnostics,
) -> Option<Parsed<'a>> {
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
    Some(p)
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
fn parse_screening(file: &File, errors: &mut Diagnostics) -> Option<Screening> {
    let p = page_front_matter(
        file,
        "for the screening questions: they take title, description, words and a list of questions",
        errors,
    )?;
    let fm = &p.fm;
    let title = required_text(&p, &fm.title, "title", errors);
    let description = required_text(&p, &fm.description, "description", errors);
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

fn parse_text_page(file: &File, errors: &mut Diagnostics) -> Option<TextPage> {
    let p = page_front_matter(
        file,
        "on this page: it takes title, description and text",
        errors,
    )?;
    let fm = &p.fm;
    let title = required_text(&p, &fm.title, "title", errors);
    let description = required_text(&p, &fm.description, "description", errors);
    let html = render_page(p.body, &p, errors);
    Some(TextPage {
        title: title?,
        description: description?,
        html: html?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each screening question reads alone as a question whose "yes" is something to discuss,
    /// and together they ask about each topic of the KAP page's screening section.
    #[test]
    fn the_screening_questions_each_ask_one_thing_and_yes_means_a_concern() {
        let c = load(&ContentSource::Embedded).unwrap_or_else(|e| panic!("{e}"));
        let s = &c.screening;
        assert!(
            !s.html.trim_end().trim_end_matches("</p>").ends_with(':'),
            "the words above the list are not the start of every question: {}",
            s.html
        );
        for q in &s.questions {
            let first = q.split_whitespace().next().unwrap_or("");
            assert!(
                ["Do", "Have", "Are", "Would", "Is"].contains(&first) && q.ends_with('?'),
                "not a question of its own: {q}"
            );
            let lower = q.to_lowercase();
            for negative in ["no one", "not ", "never", "without"] {
                assert!(
                    !lower.contains(negative),
                    "a \"yes\" must mean a concern: {q}"
                );
            }
        }
        // The page's screening topics ("Screening may explore: …"), each asked on its own.
        let asks = |words: &[&str]| {
            s.questions
                .iter()
                .filter(|q| words.iter().all(|w| q.to_lowercase().contains(w)))
                .count()
        };
        for topic in [
            &["blood pressure"][..],
            &["medications"],
            &["psychosis", "dissociation"],
            &["bipolar", "mania"],
            &["currently use", "alcohol"],
            &["misused ketamine"],
            &["pregnant"],
            &["medical condition"],
            &["safety instructions"],
            &["ride home"],
            &["support during and after treatment"],
        ] {
            assert!(asks(topic) >= 1, "no question asks about {topic:?}");
        }
        assert_eq!(
            asks(&["alcohol", "ketamine"]),
            0,
            "current use and past misuse are separate questions"
        );
    }

    #[test]
    fn the_built_in_content_is_valid() {
        let c = load(&ContentSource::Embedded).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.home.hero.title, "Ketamine-Assisted Psychotherapy");
        assert!(c.home.section("when-insight-alone-isnt-enough").is_some());
        let steps = c
            .home
            .sections
            .iter()
            .find_map(|s| match &s.body {
                SectionBody::Steps { steps, .. } => Some(steps.len()),
                _ => None,
            })
            .expect("a steps section");
        assert_eq!(steps, 6);
        let myths = c
            .home
            .sections
            .iter()
            .find_map(|s| match &s.body {
                SectionBody::Myths { myths, .. } => Some(myths.len()),
                _ => None,
            })
            .expect("a myths section");
        assert_eq!(myths, 8);
    }

    fn home_with(files: &[(&str, &str)]) -> Result<Content, Diagnostics> {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("home")).expect("mkdir");
        std::fs::write(dir.path().join("home/00-hero.md"), "+++\ntitle = \"T\"\nlayout = \"hero\"\nsubtitle = \"S\"\ndescription = \"D\"\n+++\nHi\n").expect("write");
        for (name, text) in files {
            std::fs::write(dir.path().join("home").join(name), text).expect("write");
        }
        std::fs::write(
            dir.path().join("contact.md"),
            "+++\ntitle = \"Contact\"\ndescription = \"C\"\n+++\nWrite.\n",
        )
        .expect("write");
        std::fs::write(
            dir.path().join("privacy.md"),
            "+++\ntitle = \"Privacy\"\ndescription = \"P\"\n+++\nNone.\n",
        )
        .expect("write");
        load(&ContentSource::Dir(dir.path().to_path_buf()))
    }

    #[test]
    fn a_valid_folder_loads() {
        let c = home_with(&[("01-a.md", "+++\ntitle = \"A b\"\n+++\nText\n")]).expect("valid");
        assert_eq!(c.home.sections[0].anchor, "a-b");
    }

    #[test]
    fn problems_name_file_and_line() {
        let errs = home_with(&[
            ("01-a.md", "+++\ntitle = \"A\"\nlayout = \"slides\"\n+++\n"),
            (
                "02-b.md",
                "+++\ntitle = \"B\"\nlayout = \"steps\"\n+++\n## 1. One\n\nx\n\n## 3. Three\n\ny\n",
            ),
            ("03-c.md", "+++\ntitel = \"C\"\n+++\n"),
            ("04-d.md", "no settings\n"),
            ("05-e.md", "+++\ntitle = \"E\"\n+++\nok\n\n# Big\n"),
        ])
        .expect_err("invalid")
        .to_string();
        assert!(
            errs.contains("01-a.md:3: layout \"slides\" is not known"),
            "{errs}"
        );
        assert!(
            errs.contains("02-b.md:9: this step is numbered 3"),
            "{errs}"
        );
        assert!(errs.contains("03-c.md:2: unknown field `titel`"), "{errs}");
        assert!(
            errs.contains("04-d.md:1: the file must start with settings"),
            "{errs}"
        );
        assert!(errs.contains("05-e.md:6: a `#` heading"), "{errs}");
    }

    #[test]
    fn a_home_page_key_on_a_page_that_stands_alone_is_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        let write = |name: &str, text: &str| {
            std::fs::write(dir.path().join(name), text).expect("write");
        };
        std::fs::create_dir(dir.path().join("home")).expect("mkdir");
        write(
            "home/00-hero.md",
            "+++\ntitle = \"T\"\nlayout = \"hero\"\nsubtitle = \"S\"\ndescription = \"D\"\n+++\nHi\n",
        );
        write(
            "contact.md",
            "+++\ntitle = \"C\"\ndescription = \"C\"\nlead = \"L\"\n+++\nW\n",
        );
        write(
            "privacy.md",
            "+++\ntitle = \"P\"\ndescription = \"P\"\n+++\nN\n",
        );
        write(
            "screening.md",
            "+++\ntitle = \"S\"\ndescription = \"Why\"\nanchor = \"a\"\n+++\n- Heart problems?\n",
        );
        let errs = load(&ContentSource::Dir(dir.path().to_path_buf()))
            .expect_err("invalid")
            .to_string();
        assert!(
            errs.contains(
                "contact.md:4: lead is not used on this page: it takes title, description and text"
            ),
            "{errs}"
        );
        assert!(
            errs.contains("screening.md:4: anchor is not used for the screening questions: they take title, description, words and a list of questions"),
            "{errs}"
        );
    }

    #[test]
    fn screening_questions_are_a_list_checked_like_the_rest() {
        let c = load(&ContentSource::Embedded).unwrap_or_else(|e| panic!("{e}"));
        assert!(c.screening.questions.len() >= 8);
        assert!(c.screening.questions.iter().any(|q| q.contains("pregnan")));
        let built_in = c.screening.questions.len();
        // A folder without screening.md gets the built-in questions.
        let c = home_with(&[]).expect("valid");
        assert_eq!(c.screening.questions.len(), built_in);

        let dir = tempfile::tempdir().expect("tempdir");
        let write = |name: &str, text: &str| {
            std::fs::write(dir.path().join(name), text).expect("write");
        };
        std::fs::create_dir(dir.path().join("home")).expect("mkdir");
        write(
            "home/00-hero.md",
            "+++\ntitle = \"T\"\nlayout = \"hero\"\nsubtitle = \"S\"\ndescription = \"D\"\n+++\nHi\n",
        );
        write(
            "contact.md",
            "+++\ntitle = \"C\"\ndescription = \"C\"\n+++\nW\n",
        );
        write(
            "privacy.md",
            "+++\ntitle = \"P\"\ndescription = \"P\"\n+++\nN\n",
        );
        write(
            "screening.md",
            "+++\ntitle = \"S\"\ndescription = \"Why\"\n+++\nHave you:\n\n- Heart problems?\n- Heart problems?\n- \nafter\n",
        );
        let errs = load(&ContentSource::Dir(dir.path().to_path_buf()))
            .expect_err("invalid")
            .to_string();
        assert!(
            errs.contains("screening.md:8: this question is asked twice"),
            "{errs}"
        );
        assert!(
            errs.contains("screening.md:9: this question is empty"),
            "{errs}"
        );
        assert!(
            errs.contains("screening.md:10: only questions may follow"),
            "{errs}"
        );
        write(
            "screening.md",
            "+++\ntitle = \"S\"\ndescription = \"Why\"\n+++\nNo list.\n",
        );
        let errs = load(&ContentSource::Dir(dir.path().to_path_buf()))
            .expect_err("invalid")
            .to_string();
        assert!(
            errs.contains("screening.md:5: there are no questions"),
            "{errs}"
        );
        write(
            "screening.md",
            "+++\ntitle = \"S\"\ndescription = \"Why\"\n+++\nHave you:\n\n- Heart problems?\n- Pregnancy?\n",
        );
        let c = load(&ContentSource::Dir(dir.path().to_path_buf())).expect("valid");
        assert_eq!(c.screening.questions, ["Heart problems?", "Pregnancy?"]);
        assert!(c.screening.html.contains("Have you:"));
    }

    #[test]
    fn compare_needs_two_sides_and_a_known_left() {
        let errs = home_with(&[(
            "01-c.md",
            "+++\ntitle = \"C\"\nlayout = \"compare\"\nhint = \"h\"\nleft = \"Nope\"\n+++\n## A\n\nx\n\n## B\n\ny\n",
        )])
        .expect_err("invalid")
        .to_string();
        assert!(
            errs.contains("01-c.md:5: left = \"Nope\" must be one of"),
            "{errs}"
        );
    }
}
