//! What every section's reader shares: the file's name and text (for `file:line` messages),
//! the problems found so far, and the shapes of check that recur across sections.

use toml::Spanned;

use diagnostics::{Diagnostic, Diagnostics, line_of};

/// The file being read and the problems found in it, in the order found.
pub(crate) struct Reader<'a> {
    /// The file's name in messages.
    pub name: &'a str,
    text: &'a str,
    pub errors: Diagnostics,
}

impl<'a> Reader<'a> {
    pub fn new(name: &'a str, text: &'a str) -> Self {
        Reader {
            name,
            text,
            errors: Diagnostics::default(),
        }
    }

    /// The 1-based line a value stands on.
    pub fn line<T>(&self, value: &Spanned<T>) -> usize {
        line_of(self.text, value.span().start)
    }

    /// A problem at `line` of the file.
    pub fn error(&mut self, line: usize, message: impl Into<String>) {
        self.errors.push(Diagnostic::new(self.name, line, message));
    }

    /// A problem in a setting that came from `file` (the config file, or the environment
    /// variable that gave it) at `line`.
    pub fn error_in(&mut self, file: impl Into<String>, line: usize, message: impl Into<String>) {
        self.errors.push(Diagnostic::new(file, line, message));
    }

    /// A value that must pass `ok`: one that does not is reported with `message` and read as
    /// `default`, as is a value not given.
    pub fn checked<T>(
        &mut self,
        value: Option<Spanned<T>>,
        ok: impl FnOnce(&T) -> bool,
        default: T,
        message: impl Into<String>,
    ) -> T {
        match value {
            Some(v) if !ok(v.get_ref()) => {
                let line = self.line(&v);
                self.error(line, message);
                default
            }
            Some(v) => v.into_inner(),
            None => default,
        }
    }

    /// A count that must be at least 1: zero is reported with `message` and read as `default`.
    pub fn at_least_one<T: Default + PartialEq>(
        &mut self,
        value: Option<Spanned<T>>,
        default: T,
        message: impl Into<String>,
    ) -> T {
        self.checked(value, |v| *v != T::default(), default, message)
    }

    /// A setting from the environment (named `env_name`) or the file, trimmed, with where it
    /// came from: `(value, file, line)`.
    pub fn given(
        &self,
        env: &Option<String>,
        env_name: &str,
        file: Option<Spanned<String>>,
    ) -> Option<(String, String, usize)> {
        match (env, file) {
            (Some(v), _) => Some((v.trim().to_string(), env_name.to_string(), 0)),
            (None, Some(v)) => Some((
                v.get_ref().trim().to_string(),
                self.name.to_string(),
                self.line(&v),
            )),
            (None, None) => None,
        }
    }

    /// [`Reader::given`], where an empty value is as good as none.
    pub fn setting(
        &self,
        env: &Option<String>,
        env_name: &str,
        file: Option<Spanned<String>>,
    ) -> Option<(String, String, usize)> {
        self.given(env, env_name, file)
            .filter(|(v, _, _)| !v.is_empty())
    }
}

/// An address a message could be sent to: `local@domain.tld`, no spaces or brackets.
pub(super) fn looks_like_email(v: &str) -> bool {
    let Some((local, domain)) = v.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !v
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>\"".contains(c))
        && !domain.contains('@')
}
