//! The practice's documents a person reads and signs: the informed consent to KAP, the
//! telehealth consent, the acknowledgement of the Notice of Privacy Practices, the authorization
//! to exchange information with the prescriber, and the consent to sign electronically that
//! comes first in every packet.
//!
//! They are content files like the page's words (`content/documents/*.md`: settings between
//! `+++` lines, then Markdown), edited in the inbox with the same editor and revisions. A text
//! may hold fields in double braces (`{{practice_name}}`), filled in when a packet is sent: the
//! practice's from the practice in force, the prescriber's for each person. The release must
//! keep the prescriber's fields, so that each authorization names who receives the information
//! (45 CFR 164.508(c)(1)(iii)). HTML comments are the practice's notes (the legal elements
//! each part answers): they are kept in the file and never shown.

use diagnostics::{Diagnostic, Diagnostics};

use super::front_matter::split_front_matter;
use super::markdown::{self, Origin};
use super::sources::{EMBEDDED, File};

/// The fields filled from the practice when a packet is sent.
pub const PRACTICE_FIELDS: &[&str] = &[
    "practice_name",
    "clinician_name",
    "practice_email",
    "practice_phone",
    "licensed_states",
    "privacy_notice_address",
];

/// The fields filled for each person: who receives the information the release covers.
pub const PRESCRIBER_FIELDS: &[&str] = &[
    "prescriber_name",
    "prescriber_practice",
    "prescriber_contact",
];

/// What a document is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DocumentKind {
    /// The consent to receive and sign records electronically (ESIGN, 15 U.S.C. 7001(c)): first
    /// in every packet, agreed to before anything else is signed.
    Esign,
    /// A consent or acknowledgement the person signs.
    Consent,
    /// The consent to telehealth: signed with where the person will be during sessions.
    Telehealth,
    /// The authorization to exchange information with the prescriber: filled in per person,
    /// and revocable.
    Release,
    /// The Notice of Privacy Practices (45 CFR 164.520): never sent to sign, but published at
    /// its public address once the clinician has reviewed and published it.
    Notice,
}

impl DocumentKind {
    /// The kind of the document at `rel` (`documents/40-prescriber-release.md`).
    pub fn of(rel: &str) -> DocumentKind {
        if rel.contains("notice-of-privacy-practices") {
            DocumentKind::Notice
        } else if rel.contains("esign") {
            DocumentKind::Esign
        } else if rel.contains("release") {
            DocumentKind::Release
        } else if rel.contains("telehealth") {
            DocumentKind::Telehealth
        } else {
            DocumentKind::Consent
        }
    }
}

/// A document's text read for showing: its title, its body as HTML and as plain text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Document {
    pub title: String,
    pub html: String,
    /// The title and the body as lines of plain text (headings and emphasis without their
    /// marks, comments left out): what a PDF of it holds.
    pub plain: Vec<String>,
}

/// Every built-in document by its path inside `content/` (`documents/10-kap-informed-consent.md`)
/// with its text, in packet order (the consent to sign electronically first).
pub fn built_in_documents() -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = EMBEDDED
        .get_dir("documents")
        .map(|dir| {
            dir.files()
                .filter(|f| f.path().extension().is_some_and(|e| e == "md"))
                .filter_map(|f| {
                    Some((
                        f.path().to_string_lossy().replace('\\', "/"),
                        f.contents_utf8()?.to_string(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    all.sort();
    all
}

/// `text` without its HTML comments (an unclosed one runs to the end).
pub fn without_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("<!--") {
        out.push_str(&rest[..start]);
        match rest[start..].find("-->") {
            Some(end) => rest = &rest[start + end + 3..],
            None => rest = "",
        }
    }
    out.push_str(rest);
    out
}

/// The `{{name}}` fields of `text`, in order, with the line each is on.
fn fields(text: &str) -> Vec<(String, usize)> {
    let mut found = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let mut rest = line;
        while let Some(start) = rest.find("{{") {
            let after = &rest[start + 2..];
            let Some(end) = after.find("}}") else { break };
            found.push((after[..end].trim().to_string(), i + 1));
            rest = &after[end + 2..];
        }
    }
    found
}

/// `text` with each `{{name}}` of `values` replaced by its value.
pub fn fill(text: &str, values: &[(&str, &str)]) -> String {
    let mut out = text.to_string();
    for (name, value) in values {
        out = out.replace(&format!("{{{{{name}}}}}"), value);
    }
    out
}

/// Checks the document `rel`'s `text` as the editor does before a preview or a publish, and
/// reads it. Problems name the line, like the page's words.
pub fn document(rel: &str, text: &str) -> Result<Document, Diagnostics> {
    let name = format!("content/{rel}");
    let mut errors = Diagnostics::default();
    for (field, line) in fields(&without_comments(text)) {
        if !PRACTICE_FIELDS.contains(&field.as_str())
            && !PRESCRIBER_FIELDS.contains(&field.as_str())
        {
            errors.push(Diagnostic::new(
                &name,
                line,
                format!(
                    "`{{{{{field}}}}}` is not a field that can be filled in: use one of {}",
                    PRACTICE_FIELDS
                        .iter()
                        .chain(PRESCRIBER_FIELDS)
                        .map(|f| format!("`{{{{{f}}}}}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    if DocumentKind::of(rel) == DocumentKind::Release {
        let shown = fields(&without_comments(text));
        for f in PRESCRIBER_FIELDS {
            if !shown.iter().any(|(s, _)| s == f) {
                errors.push(Diagnostic::new(
                    &name,
                    0,
                    format!(
                        "the authorization must name who receives the information: keep `{{{{{f}}}}}`, filled in for each person when it is sent"
                    ),
                ));
            }
        }
    }
    let read = read(&name, text);
    match read {
        Ok(d) => errors.into_result(d),
        Err(more) => {
            errors.extend(more);
            Err(errors)
        }
    }
}

/// Reads a document's title and body (filled in or not).
fn read(name: &str, text: &str) -> Result<Document, Diagnostics> {
    let file = File {
        name: name.to_string(),
        text: text.to_string(),
    };
    let parsed = split_front_matter(&file).map_err(Diagnostics::one)?;
    let title = match parsed.fm.title.as_ref().map(|t| t.get_ref().trim()) {
        Some(t) if !t.is_empty() => t.to_string(),
        _ => {
            return Err(Diagnostics::one(Diagnostic::new(
                name,
                1,
                "the document needs a title: add `title = \"…\"` between the `+++` lines",
            )));
        }
    };
    let body = without_comments(parsed.body);
    let html = markdown::render_page(
        &body,
        Origin {
            file: name,
            first_line: parsed.body_line,
        },
    )?;
    let mut plain = vec![title.clone(), String::new()];
    let mut blank = true;
    for line in body.lines() {
        let line = line.trim_end();
        let line = line.trim_start_matches('#').trim_start();
        let line = line.replace("**", "");
        if line.is_empty() {
            if !blank {
                plain.push(String::new());
            }
            blank = true;
        } else {
            plain.push(line);
            blank = false;
        }
    }
    while plain.last().is_some_and(String::is_empty) {
        plain.pop();
    }
    Ok(Document { title, html, plain })
}

/// Reads a document as sent (filled in and already checked when it was published).
pub fn sent(rel: &str, text: &str) -> Result<Document, Diagnostics> {
    read(&format!("content/{rel}"), text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_document_reads_and_says_to_review_it_with_counsel() {
        let all = built_in_documents();
        assert_eq!(all.len(), 6, "{all:?}");
        assert_eq!(DocumentKind::of(&all[0].0), DocumentKind::Esign);
        for (rel, text) in &all {
            let d = document(rel, text).unwrap_or_else(|e| panic!("{rel}: {e}"));
            assert!(
                d.plain
                    .iter()
                    .any(|l| l.contains("review with its own counsel")),
                "{rel}"
            );
            assert!(!d.html.contains("&lt;!--"), "{rel}: comments are not shown");
        }
    }

    #[test]
    fn the_release_keeps_the_prescriber_fields() {
        let (rel, text) = built_in_documents()
            .into_iter()
            .find(|(r, _)| DocumentKind::of(r) == DocumentKind::Release)
            .expect("a release");
        let without = text.replace("{{prescriber_contact}}", "the prescriber");
        let e = document(&rel, &without).expect_err("refused");
        assert!(e.to_string().contains("prescriber_contact"), "{e}");
        let e = document(&rel, &format!("{text}\n{{{{prescriber_nmae}}}}\n")).expect_err("typo");
        assert!(e.to_string().contains("prescriber_nmae"), "{e}");
    }

    #[test]
    fn fields_are_filled_and_comments_left_out() {
        let text = "+++\ntitle = \"T\"\n+++\n<!-- note -->\nTo {{prescriber_name}}.\n";
        let filled = fill(text, &[("prescriber_name", "Dr Q")]);
        let d = sent("documents/x.md", &filled).expect("reads");
        assert_eq!(
            d.plain,
            vec!["T".to_string(), String::new(), "To Dr Q.".into()]
        );
    }
}
