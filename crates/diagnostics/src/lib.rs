//! Problems found in the clinician's files, reported as `file:line: message`.
//!
//! Config and content are checked like source code: every problem is collected (not just the
//! first), each names the file and line and says how to fix it, and the same text is printed by
//! `kap-practice check`, by `serve` when it refuses to start, and in the log on a failed reload.
//!
//! A crate of its own, below the config and the content that both report through it; it depends
//! on nothing of the program.

use std::fmt;

/// One problem in one file. Line 0 means "the file as a whole".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: String,
    pub line: usize,
    pub message: String,
}

impl Diagnostic {
    pub fn new(file: impl Into<String>, line: usize, message: impl Into<String>) -> Self {
        Diagnostic {
            file: file.into(),
            line,
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}:{}: {}", self.file, self.line, self.message)
        }
    }
}

/// Every problem found, in the order found.
#[derive(Clone, Debug, Default, PartialEq, Eq, thiserror::Error)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn one(d: Diagnostic) -> Self {
        Diagnostics(vec![d])
    }

    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(value)` when nothing was found, otherwise every problem.
    pub fn into_result<T>(self, value: T) -> Result<T, Diagnostics> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

/// The 1-based line of a byte offset in `text`.
pub fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// What the owner wrote, in double quotes, for a message about it: their own characters, with
/// a line break or other control character shown as a space so the message stays on its line.
/// (Never Rust's debug notation, which would show `Borrowed("…")` or escapes to the owner.)
pub fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    out.extend(text.chars().map(|c| if c.is_control() { ' ' } else { c }));
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_is_the_owners_text_in_quotes() {
        assert_eq!(quoted("javascript:alert(1)"), "\"javascript:alert(1)\"");
        assert_eq!(quoted("Isn’t it\nfine"), "\"Isn’t it fine\"");
    }

    #[test]
    fn lines_are_counted_from_one() {
        let t = "a\nbb\nccc";
        assert_eq!(line_of(t, 0), 1);
        assert_eq!(line_of(t, 2), 2);
        assert_eq!(line_of(t, 5), 3);
        assert_eq!(line_of(t, 999), 3);
    }

    #[test]
    fn display_is_file_line_message() {
        let d = Diagnostics(vec![
            Diagnostic::new("a.md", 3, "bad"),
            Diagnostic::new("b.toml", 0, "unreadable"),
        ]);
        assert_eq!(d.to_string(), "a.md:3: bad\nb.toml: unreadable");
    }
}
