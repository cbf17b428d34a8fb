//! The clinician's booking rules as stored: one row, its weekly hours and days off as text.

use std::collections::BTreeSet;

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use super::super::engine::{Columns, on_db};
use super::super::{Store, StoreError, join_list, ms, parsed, split_list};
use crate::audit;
use practice::booking::{weekday_code, weekday_from_code};
use practice::open_times::{AvailabilityWindow, BookingRules, ConsultationFormat};

/// `mon 09:00-12:00,tue 13:00-17:00`.
fn encode_windows(windows: &[AvailabilityWindow]) -> String {
    join_list(windows.iter().map(|w| {
        format!(
            "{} {:02}:{:02}-{:02}:{:02}",
            weekday_code(w.weekday),
            w.start.hour(),
            w.start.minute(),
            w.end.hour(),
            w.end.minute()
        )
    }))
}

fn decode_windows(text: &str) -> Option<Vec<AvailabilityWindow>> {
    split_list(text, |w| {
        let (day, hours) = w.split_once(' ')?;
        let (start, end) = hours.split_once('-')?;
        Some(AvailabilityWindow {
            weekday: weekday_from_code(day)?,
            start: start.parse::<Time>().ok()?,
            end: end.parse::<Time>().ok()?,
        })
    })
}

fn decode_days(text: &str) -> Option<BTreeSet<Date>> {
    split_list(text, |d| d.parse::<Date>().ok())
}

pub(super) fn rules_row(
    row: &impl Columns,
    time_zone: &TimeZone,
) -> Result<BookingRules, StoreError> {
    let mut rules = BookingRules::new(time_zone.clone());
    rules.length = SignedDuration::from_mins(row.col("length_minutes")?);
    rules.buffer = SignedDuration::from_mins(row.col("buffer_minutes")?);
    rules.notice = SignedDuration::from_mins(row.col("notice_minutes")?);
    rules.horizon = SignedDuration::from_hours(24 * row.col::<i64>("horizon_days")?);
    rules.step = SignedDuration::from_mins(row.col("step_minutes")?);
    let cap: Option<i64> = row.col("daily_cap")?;
    rules.daily_cap = cap.and_then(|c| u32::try_from(c).ok());
    let formats: String = row.col("formats")?;
    rules.formats = formats
        .split(',')
        .filter(|f| !f.is_empty())
        .map(|f| parsed("formats", f.to_string(), ConsultationFormat::parse))
        .collect::<Result<_, _>>()?;
    let windows: String = row.col("windows")?;
    let days_off: String = row.col("days_off")?;
    match (decode_windows(&windows), decode_days(&days_off)) {
        (Some(w), Some(d)) => {
            rules.windows = w;
            rules.days_off = d;
        }
        _ => {
            // Only this program writes the row; if it cannot be read, offer nothing rather
            // than times the clinician never gave.
            tracing::error!("the stored booking rules cannot be read; no times are offered");
            rules.windows.clear();
        }
    }
    Ok(rules)
}

impl Store {
    /// The clinician's booking rules, read in `time_zone` (the practice's). Read on every
    /// request sent through the form, so it does not wait for the writes (see `engine.rs`).
    pub async fn booking_rules(&self, time_zone: &TimeZone) -> Result<BookingRules, StoreError> {
        on_db!(&self.reads, pool => {
            let row = sqlx::query("SELECT * FROM booking_rules WHERE id = 1")
                .fetch_one(pool)
                .await?;
            rules_row(&row, time_zone)
        })
    }

    /// Saves the rules (checked by the caller) and audits the change.
    pub async fn save_booking_rules(
        &self,
        rules: &BookingRules,
        actor: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let formats = join_list(rules.formats.iter().map(|f| f.as_str()));
        let days_off = join_list(&rules.days_off);
        let windows = encode_windows(&rules.windows);
        let detail = format!(
            "{} min, {} weekly hours, {} days off",
            rules.length.as_mins(),
            rules.windows.len(),
            rules.days_off.len()
        );
        self.execute_audited(
            "UPDATE booking_rules SET length_minutes = $1, formats = $2, buffer_minutes = $3,
             notice_minutes = $4, horizon_days = $5, daily_cap = $6, step_minutes = $7,
             windows = $8, days_off = $9, updated_at = $10 WHERE id = 1",
            &[
                rules.length.as_mins().into(),
                formats.as_str().into(),
                rules.buffer.as_mins().into(),
                rules.notice.as_mins().into(),
                (rules.horizon.as_hours() / 24).into(),
                rules.daily_cap.map(i64::from).into(),
                rules.step.as_mins().into(),
                windows.as_str().into(),
                days_off.as_str().into(),
                ms(now).into(),
            ],
            &audit::Entry::new(actor, audit::Action::BookingRulesChanged).detail(detail),
            now,
        )
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::{Weekday, time};

    #[test]
    fn windows_are_stored_as_text_and_read_back() {
        let windows = vec![
            AvailabilityWindow {
                weekday: Weekday::Monday,
                start: time(9, 0, 0, 0),
                end: time(12, 30, 0, 0),
            },
            AvailabilityWindow {
                weekday: Weekday::Sunday,
                start: time(13, 5, 0, 0),
                end: time(17, 0, 0, 0),
            },
        ];
        let text = encode_windows(&windows);
        assert_eq!(text, "mon 09:00-12:30,sun 13:05-17:00");
        assert_eq!(decode_windows(&text), Some(windows));
        assert_eq!(decode_windows(""), Some(vec![]));
        assert_eq!(decode_windows("xyz 09:00-10:00"), None);
        assert_eq!(decode_days(""), Some(BTreeSet::new()));
        assert!(decode_days("2025-02-30").is_none());
    }
}
