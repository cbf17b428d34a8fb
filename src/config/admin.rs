//! `[admin]`: the inbox's sign-in sessions and how long requests are kept.

use serde::Deserialize;
use toml::Spanned;

use super::read::Reader;

/// The inbox: sign-in sessions and how long requests are kept.
#[derive(Clone, Debug)]
pub struct AdminConfig {
    /// A session ends after this long without a request.
    pub idle_timeout_minutes: u64,
    /// A session ends this long after sign-in, however active.
    pub absolute_timeout_hours: u64,
    /// Closed requests are deleted this many days after they were closed.
    pub keep_closed_days: u64,
    /// Spam is deleted this many days after it arrived.
    pub keep_spam_days: u64,
}

/// `[admin]` as the file writes it.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct FileAdmin {
    idle_timeout_minutes: Option<Spanned<u64>>,
    absolute_timeout_hours: Option<Spanned<u64>>,
    keep_closed_days: Option<Spanned<u64>>,
    keep_spam_days: Option<Spanned<u64>>,
}

impl Reader<'_> {
    /// Reads `[admin]`: every value at least 1.
    pub(super) fn admin(&mut self, a: FileAdmin) -> AdminConfig {
        let mut positive = |v, key: &str, default| {
            self.at_least_one(v, default, format!("admin.{key} must be at least 1"))
        };
        AdminConfig {
            idle_timeout_minutes: positive(a.idle_timeout_minutes, "idle_timeout_minutes", 30),
            absolute_timeout_hours: positive(
                a.absolute_timeout_hours,
                "absolute_timeout_hours",
                12,
            ),
            keep_closed_days: positive(a.keep_closed_days, "keep_closed_days", 365),
            keep_spam_days: positive(a.keep_spam_days, "keep_spam_days", 30),
        }
    }
}
