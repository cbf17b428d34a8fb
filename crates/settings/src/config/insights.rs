//! `[insights]`: counting visits for the clinician's insights page.

use serde::Deserialize;
use toml::Spanned;

use super::read::Reader;

/// Counting visits for the clinician's insights page (see `src/insights/`).
#[derive(Clone, Debug)]
pub struct InsightsConfig {
    /// Count page views, visitors, sources and the steps towards a consultation.
    pub enabled: bool,
    /// Counts older than this many months are deleted by the hourly housekeeping.
    pub retention_months: u32,
}

impl Default for InsightsConfig {
    fn default() -> Self {
        InsightsConfig {
            enabled: true,
            retention_months: 25,
        }
    }
}

/// `[insights]` as the file writes it.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct FileInsights {
    enabled: Option<bool>,
    retention_months: Option<Spanned<u32>>,
}

impl Reader<'_> {
    /// Reads `[insights]`.
    pub(super) fn insights(&mut self, i: FileInsights) -> InsightsConfig {
        let defaults = InsightsConfig::default();
        InsightsConfig {
            enabled: i.enabled.unwrap_or(defaults.enabled),
            retention_months: self.at_least_one(
                i.retention_months,
                defaults.retention_months,
                "insights.retention_months must be at least 1 (25 is the default: two years and the month before, to compare a month with the same month a year earlier)",
            ),
        }
    }
}
