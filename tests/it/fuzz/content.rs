//! The `content` fuzz target's body, `check`: written once, run by libFuzzer (`cargo xtask fuzz`)
//! and by `cargo test` (see `tests/it/fuzz/mod.rs`).
//!
//! The content parser: front matter (TOML), layouts and Markdown, through `content::load`.
//!
//! `content::load` only reads folders, so the fuzz input becomes one section file,
//! `home/01-x.md`, in a content folder that is otherwise valid (a hero, `contact.md`,
//! `privacy.md`). The folder lives on tmpfs (`/dev/shm`) when there is one, is made once per
//! process, and only the fuzzed file is rewritten per input.
//!
//! Checked: loading never panics; every problem names a file and a line within it and says
//! something; since only `01-x.md` varies, every problem is about `01-x.md`; and content that
//! loads is safe to serve: its HTML uses only the tags Markdown makes, and links and images
//! point only where the content rules allow.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use content::{ContentSource, SectionBody, load};

const HERO: &str =
    "+++\ntitle = \"T\"\nlayout = \"hero\"\nsubtitle = \"S\"\ndescription = \"D\"\n+++\nHi\n";
const CONTACT: &str = "+++\ntitle = \"Contact\"\ndescription = \"C\"\n+++\nWrite.\n";
const PRIVACY: &str = "+++\ntitle = \"Privacy\"\ndescription = \"P\"\n+++\nNone.\n";
const FUZZED: &str = "01-x.md";
const PREFIX: &str = "kap-practice-fuzz-content-";

/// This process's content folder, made on first use.
fn folder() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let shm = Path::new("/dev/shm");
        let base = if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        remove_stale(&base);
        let dir = base.join(format!("{PREFIX}{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("home")).expect("create the content folder");
        std::fs::write(dir.join("home/00-hero.md"), HERO).expect("write the hero");
        std::fs::write(dir.join("contact.md"), CONTACT).expect("write contact.md");
        std::fs::write(dir.join("privacy.md"), PRIVACY).expect("write privacy.md");
        dir
    })
}

/// Removes the folders of earlier runs whose process is gone (neither libFuzzer nor the test
/// process cleans up on exit).
fn remove_stale(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name.strip_prefix(PREFIX)
            && pid.parse::<u32>().is_ok()
            && !Path::new("/proc").join(pid).exists()
        {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

pub fn check(data: &[u8]) {
    let dir = folder();
    let file = dir.join("home").join(FUZZED);
    std::fs::write(&file, data).expect("write the fuzzed section");

    match load(&ContentSource::Dir(dir.to_path_buf())) {
        Err(problems) => {
            assert!(!problems.is_empty(), "refused with no problem reported");
            let lines = data.iter().filter(|&&b| b == b'\n').count() + 1;
            for d in &problems.0 {
                assert!(
                    !d.message.trim().is_empty(),
                    "a problem with no message: {d:?}"
                );
                assert!(
                    d.file.ends_with(FUZZED),
                    "a problem about a valid file: {d:?}"
                );
                assert!(
                    d.line <= lines,
                    "line {} of a {lines}-line file: {d:?}",
                    d.line
                );
            }
            assert!(!problems.to_string().trim().is_empty());
        }
        Ok(content) => {
            let home = &content.home;
            assert_eq!(home.hero.title, "T");
            assert!(home.sections.len() <= 1, "one file made several sections");
            for s in &home.sections {
                assert!(!s.title.is_empty(), "a section without a title");
                assert!(
                    !s.anchor.is_empty()
                        && s.anchor
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                    "bad anchor {:?}",
                    s.anchor
                );
                match &s.body {
                    SectionBody::Text { html } | SectionBody::Call { html } => safe_html(html),
                    SectionBody::Compare(c) => {
                        for side in &c.sides {
                            safe_html(&side.html);
                        }
                    }
                    SectionBody::Steps { intro_html, steps } => {
                        safe_html(intro_html);
                        for (i, step) in steps.iter().enumerate() {
                            assert_eq!(step.number as usize, i + 1, "steps out of order");
                            safe_html(&step.html);
                        }
                    }
                    SectionBody::Myths { intro_html, myths } => {
                        safe_html(intro_html);
                        for myth in myths {
                            safe_html(&myth.html);
                        }
                    }
                }
            }
        }
    }
}

/// The tags pulldown-cmark makes for the Markdown features the site enables; raw HTML in content
/// is escaped, so any other tag is an injection.
const TAGS: &[&str] = &[
    "p",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "ul",
    "ol",
    "li",
    "a",
    "img",
    "em",
    "strong",
    "del",
    "code",
    "pre",
    "blockquote",
    "hr",
    "br",
];

/// Checks rendered HTML: only Markdown's tags, and `href`/`src` only where the rules allow.
fn safe_html(html: &str) {
    for (i, _) in html.match_indices('<') {
        let rest = html[i + 1..].strip_prefix('/').unwrap_or(&html[i + 1..]);
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        assert!(
            TAGS.contains(&name.as_str()),
            "unexpected tag <{name}> in {html:?}"
        );
    }
    for (i, _) in html.match_indices(" href=\"") {
        let value = &html[i + 7..];
        assert!(
            ["/", "#", "https://", "http://", "mailto:", "tel:"]
                .iter()
                .any(|p| value.starts_with(p)),
            "unsafe link in {html:?}"
        );
    }
    for (i, _) in html.match_indices(" src=\"") {
        let value = &html[i + 6..];
        assert!(
            value.starts_with('/') && !value.starts_with("//"),
            "image from elsewhere in {html:?}"
        );
    }
}
