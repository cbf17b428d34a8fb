//! The settings between a file's `+++` lines as form fields, so the words can be edited without
//! writing TOML.
//!
//! Each setting the file has gets a labelled field in the words of the page ("Button link",
//! not `cta_href`); the file is written back from the fields in the file's own order, each
//! value quoted as TOML. A file whose settings the fields cannot show faithfully (a comment, a
//! value on several lines, a setting the form does not know) is edited as one text, as is any
//! file for a person who prefers that ("Edit the settings as text").

use std::collections::HashMap;

use crate::admin::field_error::FieldError;

/// A setting's key, its name for a person and a hint, in the order the form shows them.
const LABELS: &[(&str, &str, &str)] = &[
    ("title", "Title", "The heading readers see."),
    (
        "toc_title",
        "Short title in the list of sections",
        "Leave empty to use the title.",
    ),
    ("toc", "Listed in the page's list of sections", ""),
    (
        "layout",
        "Layout",
        "How the section is shown: hero, compare, steps or myths; empty for plain text.",
    ),
    (
        "anchor",
        "Name of the section in its address",
        "The part after # in a link to it: lowercase letters, digits and -.",
    ),
    ("subtitle", "Subtitle", ""),
    ("lead", "Opening sentence", ""),
    (
        "description",
        "Description for search results",
        "About 160 characters at most: search engines and shared links show it.",
    ),
    ("cta_label", "Button text", "The words on the button."),
    (
        "cta_href",
        "Button link",
        "Where the button leads: an address on this site such as /contact, or https://…",
    ),
    (
        "left",
        "Heading of the side shown first",
        "One of the two headings of the comparison.",
    ),
    ("hint", "Hint under the comparison", ""),
    ("disclaimer", "Note under the section", ""),
];

/// One setting as the form shows it.
pub(super) struct SettingField {
    pub(super) key: &'static str,
    pub(super) label: &'static str,
    pub(super) hint: &'static str,
    pub(super) value: String,
    /// A yes-or-no setting (`toc`): a tick box, ticked when `value` is "true".
    pub(super) yes_no: bool,
    pub(super) error: Option<String>,
}

impl SettingField {
    pub(super) fn checked(&self) -> bool {
        self.value == "true"
    }
}

/// A file's settings and its Markdown, as the form shows them.
pub(super) struct Split {
    pub(super) fields: Vec<SettingField>,
    pub(super) body: String,
}

impl Split {
    /// The keys in the file's order, for the form to send back.
    pub(super) fn keys(&self) -> String {
        self.fields
            .iter()
            .map(|f| f.key)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn known(key: &str) -> Option<&'static (&'static str, &'static str, &'static str)> {
    LABELS.iter().find(|(k, _, _)| *k == key)
}

/// `text` split into fields and Markdown, when every setting can be shown as a field.
pub(super) fn split(text: &str) -> Option<Split> {
    let rest = text.strip_prefix("+++\n")?;
    let mut settings = Vec::new();
    let mut at = 0;
    let body = loop {
        let end = rest[at..].find('\n').map(|i| at + i);
        let line = &rest[at..end.unwrap_or(rest.len())];
        if line.trim_end() == "+++" {
            break end.map_or("", |e| &rest[e + 1..]);
        }
        if !line.trim().is_empty() {
            settings.push(line);
        }
        at = end? + 1;
    };
    let mut fields = Vec::new();
    for line in settings {
        // One `key = value` a line; anything else (a comment, a value over several lines) is
        // left to the text editor.
        let (key, _) = line.split_once('=')?;
        let (key, label, hint) = *known(key.trim())?;
        let table: toml::Table = toml::from_str(line).ok()?;
        let (value, yes_no) = match table.get(key)? {
            toml::Value::String(s) => (s.clone(), false),
            toml::Value::Boolean(b) => (b.to_string(), true),
            _ => return None,
        };
        if value.contains(['\n', '\r']) {
            return None;
        }
        if fields.iter().any(|f: &SettingField| f.key == key) {
            return None;
        }
        fields.push(SettingField {
            key,
            label,
            hint,
            value,
            yes_no,
            error: None,
        });
    }
    Some(Split {
        fields,
        body: body.to_string(),
    })
}

/// The file written from the form: the settings named in `keys` (in that order) with their
/// posted values, then `body`. A setting the form does not know is left out.
pub(super) fn join(keys: &str, posted: &HashMap<String, String>, body: &str) -> String {
    let mut text = String::from("+++\n");
    for key in keys.split_whitespace() {
        let Some((key, _, _)) = known(key) else {
            continue;
        };
        let value = posted
            .get(&format!("setting-{key}"))
            .map_or("", String::as_str);
        if *key == "toc" {
            text.push_str(&format!("{key} = {}\n", value == "true"));
        } else {
            // Fields are one line; a line break pasted in would start a new setting.
            let value = value.replace(['\r', '\n'], " ");
            text.push_str(&format!(
                "{key} = {}\n",
                ::settings::details::toml_string(value.trim())
            ));
        }
    }
    text.push_str("+++\n");
    text.push_str(body);
    text
}

/// A problem the content's checks found in a file written by [`join`], on `line` of it,
/// in the form's words: by the setting's field when it is on a setting's line (the setting
/// named as the form names it), else by the text with the line counted in the text alone.
pub(super) fn place(split: &Split, line: usize, message: &str) -> Placed {
    let settings = split.fields.len();
    match line.checked_sub(2) {
        Some(i) if i < settings => {
            let field = &split.fields[i];
            Placed::Setting(FieldError::new(
                format!("setting-{}", field.key),
                in_words(field, message),
            ))
        }
        _ if line > settings + 2 => {
            Placed::Text(format!("Line {}: {message}", line - settings - 2))
        }
        _ => Placed::Text(super::capitalised(message)),
    }
}

/// Where a problem is shown.
pub(super) enum Placed {
    Setting(FieldError),
    Text(String),
}

/// `message` about `field` with the settings' names put as the form names them:
/// "cta_href x must start with /…" becomes "Button link x must start with /…".
fn in_words(field: &SettingField, message: &str) -> String {
    let message = message
        .strip_prefix(&format!("{} = ", field.key))
        .or_else(|| message.strip_prefix(field.key))
        .map_or_else(
            || format!("{}: {message}", field.label),
            |rest| format!("{}{rest}", field.label),
        );
    // A field has no quotes to write between, nor a line to remove.
    let message = message
        .replace(
            "write the words between the quotes, or remove the line",
            "write the words",
        )
        .replace("write the words between the quotes", "write the words");
    // Other settings a message mentions, by their names in the form.
    let mut out = message;
    for (key, label, _) in LABELS.iter().filter(|(k, _, _)| k.contains('_')) {
        out = out.replace(key, &format!("“{label}”"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "+++\ntitle = \"Is KAP Safe?\"\ntoc = false\ncta_href = \"/contact\"\n+++\nBody \"quoted\".\n";

    #[test]
    fn settings_become_fields_and_the_file_is_written_back_the_same() {
        let split = split(TEXT).expect("fields");
        assert_eq!(split.keys(), "title toc cta_href");
        assert_eq!(split.fields[0].label, "Title");
        assert_eq!(split.fields[0].value, "Is KAP Safe?");
        assert!(split.fields[1].yes_no && !split.fields[1].checked());
        assert_eq!(split.body, "Body \"quoted\".\n");
        let posted: HashMap<String, String> = split
            .fields
            .iter()
            .filter(|f| !f.yes_no || f.checked())
            .map(|f| (format!("setting-{}", f.key), f.value.clone()))
            .collect();
        assert_eq!(join(&split.keys(), &posted, &split.body), TEXT);
    }

    #[test]
    fn values_are_quoted_and_unknown_keys_are_left_out() {
        let posted: HashMap<String, String> = [
            (
                "setting-title".to_string(),
                "Say \"hi\" \\ there\nnow".to_string(),
            ),
            ("setting-toc".to_string(), "true".to_string()),
        ]
        .into();
        let text = join("title toc evil", &posted, "x\n");
        assert_eq!(
            text,
            "+++\ntitle = \"Say \\\"hi\\\" \\\\ there now\"\ntoc = true\n+++\nx\n"
        );
        assert_eq!(
            split(&text).expect("fields").fields[0].value,
            "Say \"hi\" \\ there now"
        );
    }

    #[test]
    fn what_fields_cannot_show_is_left_to_the_text() {
        assert!(split("+++\n# a comment\ntitle = \"A\"\n+++\nx").is_none());
        assert!(split("+++\nunknown = \"A\"\n+++\nx").is_none());
        assert!(split("+++\ntitle = \"\"\"A\nB\"\"\"\n+++\nx").is_none());
        assert!(split("no settings").is_none());
    }

    #[test]
    fn problems_are_placed_by_field_or_by_line_of_the_text() {
        let split = split(TEXT).expect("fields");
        match place(
            &split,
            4,
            "cta_href ftp://x must start with /, #, https://, mailto: or tel:",
        ) {
            Placed::Setting(e) => {
                assert_eq!(e.field, "setting-cta_href");
                assert_eq!(
                    e.message,
                    "Button link ftp://x must start with /, #, https://, mailto: or tel:"
                );
            }
            Placed::Text(t) => panic!("{t}"),
        }
        match place(&split, 2, "description needs a cta_label") {
            Placed::Setting(e) => {
                assert_eq!(e.message, "Title: description needs a “Button text”")
            }
            Placed::Text(t) => panic!("{t}"),
        }
        match place(
            &split,
            2,
            "title is empty: write the words between the quotes",
        ) {
            Placed::Setting(e) => assert_eq!(e.message, "Title is empty: write the words"),
            Placed::Text(t) => panic!("{t}"),
        }
        match place(&split, 7, "a steps section needs steps") {
            Placed::Text(t) => assert_eq!(t, "Line 2: a steps section needs steps"),
            Placed::Setting(e) => panic!("{e:?}"),
        }
    }
}
