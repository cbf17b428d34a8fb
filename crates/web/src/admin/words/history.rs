//! The history of a section's words: every revision with what it changed, and the text of
//! any version (the built-in words too), for the editor's "Earlier versions".

use super::Section;
use crate::AppState;
use crate::admin::views::when;
use content::diff::{self, Change};
use store::Revision;

/// One version in the history.
pub(super) struct HistoryEntry {
    /// The revision's id; `0` for the built-in words.
    pub(super) id: i64,
    pub(super) label: String,
    /// The version the public site shows now.
    pub(super) current: bool,
    pub(super) changes: Vec<Change>,
}

/// The revisions newest first, then the built-in words, each with what it changed.
pub(super) fn history(
    state: &AppState,
    section: &Section,
    revisions: &[Revision],
) -> Vec<HistoryEntry> {
    let mut entries = Vec::new();
    for (i, r) in revisions.iter().enumerate() {
        let before = revisions
            .get(i + 1)
            .map_or(section.built_in.as_str(), |p| p.body.as_str());
        let how = match r.restored_from {
            Some(0) => "The built-in words restored".to_string(),
            Some(_) => "An earlier version restored".to_string(),
            None => "Published".to_string(),
        };
        entries.push(HistoryEntry {
            id: r.id,
            label: format!(
                "{how} {} by {}",
                when(r.published_at, &state.time_zone()),
                r.published_by
            ),
            current: i == 0,
            changes: changes(before, &r.body),
        });
    }
    entries.push(HistoryEntry {
        id: 0,
        label: "The built-in words".to_string(),
        current: revisions.is_empty(),
        changes: Vec::new(),
    });
    entries
}

/// The word-level changes from `before` to `after`, with long unchanged runs shortened to
/// their ends; empty when nothing changed.
fn changes(before: &str, after: &str) -> Vec<Change> {
    let all = diff::words(before, after);
    if all.iter().all(|c| matches!(c, Change::Same(_))) {
        return Vec::new();
    }
    all.into_iter()
        .map(|c| match c {
            Change::Same(run) => {
                let words: Vec<&str> = run.split(' ').collect();
                if words.len() > 16 {
                    Change::Same(format!(
                        "{} … {}",
                        words[..8].join(" "),
                        words[words.len() - 8..].join(" ")
                    ))
                } else {
                    Change::Same(run)
                }
            }
            other => other,
        })
        .collect()
}

/// The words of version `id` of `section`: a revision, or (`0`) the built-in words.
pub(super) fn version_text(section: &Section, revisions: &[Revision], id: i64) -> Option<String> {
    if id == 0 {
        return Some(section.built_in.clone());
    }
    revisions
        .iter()
        .find(|r| r.id == id)
        .map(|r| r.body.clone())
}
