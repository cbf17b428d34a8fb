//! Which backups are kept: the newest of each of the last 7 days, of the last 4 weeks and of the
//! last 12 months that have a backup (the grandfather-father-son rotation), and always the
//! newest of all. Everything else is pruned, and only after a new backup was stored.

use std::collections::BTreeSet;

use jiff::Timestamp;
use jiff::civil::Date;

use super::target::{PREFIX, SUFFIX};

pub const DAILY: usize = 7;
pub const WEEKLY: usize = 4;
pub const MONTHLY: usize = 12;

/// The name of a backup made at `at`: it sorts by time.
pub fn name_at(at: Timestamp) -> String {
    format!("{PREFIX}{}{SUFFIX}", at.strftime("%Y%m%dT%H%M%S%.3fZ"))
}

/// When the backup named `name` was made.
pub fn time_of(name: &str) -> Option<Timestamp> {
    let stamp = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    let stamp = stamp.strip_suffix('Z')?;
    let (date, time) = stamp.split_once('T')?;
    let (hms, millis) = time.split_once('.').unwrap_or((time, "0"));
    let num = |s: &str| s.parse::<i64>().ok();
    if date.len() != 8 || hms.len() != 6 {
        return None;
    }
    let dt = jiff::civil::date(
        i16::try_from(num(&date[..4])?).ok()?,
        i8::try_from(num(&date[4..6])?).ok()?,
        i8::try_from(num(&date[6..])?).ok()?,
    )
    .at(
        i8::try_from(num(&hms[..2])?).ok()?,
        i8::try_from(num(&hms[2..4])?).ok()?,
        i8::try_from(num(&hms[4..])?).ok()?,
        i32::try_from(num(millis)? * 1_000_000).ok()?,
    );
    dt.to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp())
}

/// The names among `names` to keep; names that are not backups' are always kept (never ours to
/// delete).
pub fn keep(names: &[String]) -> BTreeSet<String> {
    let mut dated: Vec<(Timestamp, &String)> = Vec::new();
    let mut kept = BTreeSet::new();
    for name in names {
        match time_of(name) {
            Some(t) => dated.push((t, name)),
            None => {
                kept.insert(name.clone());
            }
        }
    }
    // Newest first.
    dated.sort_by(|a, b| b.cmp(a));
    if let Some((_, newest)) = dated.first() {
        kept.insert((*newest).clone());
    }
    let mut bucket = |period: &dyn Fn(Date) -> (i16, i16), count: usize| {
        let mut seen = BTreeSet::new();
        for (t, name) in &dated {
            let day = t.to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
            if seen.len() == count && !seen.contains(&period(day)) {
                break;
            }
            if seen.insert(period(day)) {
                kept.insert((*name).clone());
            }
        }
    };
    bucket(&|d| (d.year(), d.day_of_year()), DAILY);
    bucket(
        &|d| {
            let w = d.iso_week_date();
            (w.year(), i16::from(w.week()))
        },
        WEEKLY,
    );
    bucket(&|d| (d.year(), i16::from(d.month())), MONTHLY);
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_their_time() {
        let t: Timestamp = "2026-12-06T03:10:00.25Z".parse().expect("time");
        let name = name_at(t);
        assert_eq!(name, "kap-practice-20261206T031000.250Z.kapbak");
        assert_eq!(time_of(&name), Some(t));
        assert_eq!(time_of("kap-practice-2026.kapbak"), None);
    }

    #[test]
    fn a_year_of_nightly_backups_keeps_seven_days_four_weeks_and_twelve_months() {
        let start: Timestamp = "2025-01-01T03:00:00Z".parse().expect("time");
        let names: Vec<String> = (0..400)
            .map(|d| name_at(start + jiff::SignedDuration::from_hours(24 * d)))
            .collect();
        let kept = keep(&names);
        let newest = names.last().expect("names");
        assert!(kept.contains(newest));
        // The last seven days are all kept.
        for name in &names[names.len() - 7..] {
            assert!(kept.contains(name), "{name}");
        }
        // At most 7 + 4 + 12, and at least 12 distinct months' worth.
        assert!(kept.len() <= DAILY + WEEKLY + MONTHLY, "{}", kept.len());
        let months: BTreeSet<String> = kept.iter().map(|n| n[13..19].to_string()).collect();
        assert_eq!(months.len(), MONTHLY, "{months:?}");
        // The oldest backups are pruned.
        assert!(!kept.contains(&names[0]));
        // Several backups in one day: only the newest of the day counts for the day.
        let mut same_day: Vec<String> = (0..5)
            .map(|h| name_at(start + jiff::SignedDuration::from_hours(h)))
            .collect();
        same_day.push("notes.txt".into());
        let kept = keep(&same_day);
        assert!(kept.contains(&same_day[4]) && kept.contains("notes.txt"));
        assert!(!kept.contains(&same_day[0]));
    }
}
