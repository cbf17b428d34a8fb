//! `[admin]`: the inbox's sign-in sessions and how long requests are kept.

use serde::Deserialize;
use toml::Spanned;

use super::read::Reader;

/// Days a closed request that never reached a consultation is kept: a year.
pub const DEFAULT_KEEP_CLOSED_DAYS: u64 = 365;

/// Days a closed request that reached a consultation is kept by default: seven years (with
/// their leap days). How long clinical records must be kept depends on the state: the
/// practice checks it with its counsel and sets it here or in the inbox.
pub const DEFAULT_KEEP_CONSULTED_DAYS: u64 = 2557;

/// The inbox: sign-in sessions and how long requests are kept.
#[derive(Clone, Debug)]
pub struct AdminConfig {
    /// A session ends after this long without a request.
    pub idle_timeout_minutes: u64,
    /// A session ends this long after sign-in, however active.
    pub absolute_timeout_hours: u64,
    /// Closed requests that never reached a consultation are deleted this many days after they
    /// were closed.
    pub keep_closed_days: u64,
    /// Closed requests that reached a consultation or went further (the start of a clinical
    /// record, which state rules keep for years) are deleted this many days after they were
    /// closed: seven years by default.
    pub keep_consulted_days: u64,
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
    keep_consulted_days: Option<Spanned<u64>>,
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
            keep_closed_days: positive(
                a.keep_closed_days,
                "keep_closed_days",
                DEFAULT_KEEP_CLOSED_DAYS,
            ),
            keep_consulted_days: positive(
                a.keep_consulted_days,
                "keep_consulted_days",
                DEFAULT_KEEP_CONSULTED_DAYS,
            ),
            keep_spam_days: positive(a.keep_spam_days, "keep_spam_days", 30),
        }
    }
}
