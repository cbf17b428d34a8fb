//! The clinician's booking settings form, as the inbox sends it, read into [`BookingRules`]
//! (see `practice/open_times.rs` for what each rule means).
//!
//! Every problem, whether a field cannot be read or the rules do not fit together
//! ([`BookingRules::validate`]), comes back with the id of the field to fix, for the GOV.UK
//! error summary.

use std::collections::BTreeSet;

use jiff::SignedDuration;
use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;

use super::field_error::FieldError;
use practice::booking::WEEKDAYS;
use practice::open_times::{AvailabilityWindow, BookingRules, ConsultationFormat, RulesError};

/// The weekdays' names, Monday first, as the form shows them.
pub const DAY_NAMES: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// Hours a day may have on the form.
pub const WINDOWS_PER_DAY: usize = 2;

/// One pair of hours on the form, as typed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WindowFields {
    pub start: String,
    pub end: String,
}

/// The settings form as sent, every value as typed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SettingsForm {
    pub length: String,
    pub step: String,
    pub buffer: String,
    /// Hours.
    pub notice: String,
    /// Days.
    pub horizon: String,
    /// Empty for no limit.
    pub daily_cap: String,
    pub video: bool,
    pub phone: bool,
    /// Monday first, [`WINDOWS_PER_DAY`] each.
    pub windows: [[WindowFields; WINDOWS_PER_DAY]; 7],
    /// One date a line.
    pub days_off: String,
}

/// The id of a window's input: `window-mon-1-start`.
pub fn window_field(day: usize, slot: usize, end: bool) -> String {
    format!(
        "window-{}-{}-{}",
        WEEKDAYS[day % 7].1,
        slot + 1,
        if end { "end" } else { "start" }
    )
}

impl SettingsForm {
    /// The form filled in from `rules` (windows beyond two a day are not shown).
    pub fn from_rules(rules: &BookingRules) -> SettingsForm {
        let mut form = SettingsForm {
            length: rules.length.as_mins().to_string(),
            step: rules.step.as_mins().to_string(),
            buffer: rules.buffer.as_mins().to_string(),
            notice: minutes_as_hours(rules.notice.as_mins()),
            horizon: (rules.horizon.as_hours() / 24).to_string(),
            daily_cap: rules.daily_cap.map(|c| c.to_string()).unwrap_or_default(),
            video: rules.formats.contains(&ConsultationFormat::Video),
            phone: rules.formats.contains(&ConsultationFormat::Phone),
            windows: Default::default(),
            days_off: rules
                .days_off
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("\n"),
        };
        let mut windows = rules.windows.clone();
        windows.sort_by_key(|w| (w.weekday.to_monday_zero_offset(), w.start));
        for w in windows {
            let day = usize::try_from(w.weekday.to_monday_zero_offset()).unwrap_or(0);
            if let Some(slot) = form.windows[day]
                .iter_mut()
                .find(|s| s.start.is_empty() && s.end.is_empty())
            {
                slot.start = hhmm(w.start);
                slot.end = hhmm(w.end);
            }
        }
        form
    }

    /// The rules this form describes in `time_zone`, or every problem with it, in form order.
    pub fn to_rules(&self, time_zone: TimeZone) -> Result<BookingRules, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut err = |field: &str, message: String| errors.push(FieldError::new(field, message));
        let mut rules = BookingRules::new(time_zone);
        // Each duration is a whole number of its unit, the horizon at most 10,000 days.
        let durations: [(&str, &str, DurationOf, i64, &mut SignedDuration, &str); 5] = [
            (
                "length",
                &self.length,
                SignedDuration::from_mins,
                i64::MAX,
                &mut rules.length,
                "Enter how long a consultation lasts, in minutes, like 20",
            ),
            (
                "step",
                &self.step,
                SignedDuration::from_mins,
                i64::MAX,
                &mut rules.step,
                "Enter how often a start time is offered, in minutes, like 30",
            ),
            (
                "buffer",
                &self.buffer,
                SignedDuration::from_mins,
                i64::MAX,
                &mut rules.buffer,
                "Enter the buffer between consultations, in minutes, like 10 (or 0)",
            ),
            (
                "notice",
                &self.notice,
                SignedDuration::from_hours,
                i64::MAX,
                &mut rules.notice,
                "Enter the minimum notice in whole hours, like 24 (or 0)",
            ),
            (
                "horizon",
                &self.horizon,
                |days| SignedDuration::from_hours(24 * days),
                10_000,
                &mut rules.horizon,
                "Enter how far ahead people may book, in days, like 21",
            ),
        ];
        for (field, typed, of, most, rule, message) in durations {
            match whole_number(typed) {
                Some(n) if n <= most => *rule = of(n),
                _ => err(field, message.into()),
            }
        }
        if self.daily_cap.trim().is_empty() {
            rules.daily_cap = None;
        } else {
            match whole_number(&self.daily_cap).and_then(|n| u32::try_from(n).ok()) {
                Some(n) => rules.daily_cap = Some(n),
                None => err(
                    "daily_cap",
                    "Enter the most consultations a day as a whole number, like 4, or leave it empty for no limit".into(),
                ),
            }
        }
        rules.formats = [
            (self.video, ConsultationFormat::Video),
            (self.phone, ConsultationFormat::Phone),
        ]
        .into_iter()
        .filter_map(|(on, f)| on.then_some(f))
        .collect();
        // Which field each window came from, to point at it if the rules find a problem.
        let mut window_fields = Vec::new();
        for (day, slots) in self.windows.iter().enumerate() {
            let ((weekday, _), name) = (WEEKDAYS[day], DAY_NAMES[day]);
            for (slot, w) in slots.iter().enumerate() {
                let (start, end) = (w.start.trim(), w.end.trim());
                if start.is_empty() && end.is_empty() {
                    continue;
                }
                let which = if slot == 0 { "first" } else { "second" };
                let start_field = window_field(day, slot, false);
                let end_field = window_field(day, slot, true);
                let (Some(s), Some(e)) = (clock_time(start), clock_time(end)) else {
                    let field = if clock_time(start).is_none() {
                        start_field
                    } else {
                        end_field
                    };
                    err(
                        &field,
                        format!(
                            "Enter both times of {name}’s {which} hours as times of day, like 09:00 and 12:00"
                        ),
                    );
                    continue;
                };
                let window = AvailabilityWindow {
                    weekday,
                    start: s,
                    end: e,
                };
                window_fields.push((window, start_field));
                rules.windows.push(window);
            }
        }
        let mut days_off = BTreeSet::new();
        for (i, line) in self.days_off.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            match line.parse::<Date>() {
                Ok(d) => {
                    days_off.insert(d);
                }
                Err(_) => err(
                    "days_off",
                    format!(
                        "Enter each day off as a date like 2025-12-25, one a line (line {} is not)",
                        i + 1
                    ),
                ),
            }
        }
        rules.days_off = days_off;
        if !errors.is_empty() {
            return Err(errors);
        }
        match rules.validate() {
            Ok(()) => Ok(rules),
            Err(problems) => Err(problems
                .into_iter()
                .map(|p| {
                    let field = match &p {
                        RulesError::Length => "length".to_string(),
                        RulesError::Step => "step".into(),
                        RulesError::Buffer => "buffer".into(),
                        RulesError::Horizon => "horizon".into(),
                        RulesError::NegativeNotice | RulesError::NoticeBeyondHorizon { .. } => {
                            "notice".into()
                        }
                        RulesError::ZeroDailyCap => "daily_cap".into(),
                        RulesError::NoFormat => "format-video".into(),
                        RulesError::WindowEndsBeforeStart(w)
                        | RulesError::WindowShorterThanConsultation { window: w, .. }
                        | RulesError::WindowsOverlap(_, w) => window_fields
                            .iter()
                            .find(|(fw, _)| fw == w)
                            .map(|(_, f)| f.clone())
                            .unwrap_or_else(|| "window-mon-1-start".into()),
                    };
                    // The rules speak in sentences; the summary's messages end without a stop.
                    let message = p.to_string().trim_end_matches('.').to_string();
                    FieldError { field, message }
                })
                .collect()),
        }
    }
}

/// A duration of so many of its unit.
type DurationOf = fn(i64) -> SignedDuration;

/// A whole number of at most 7 digits, as typed (spaces around it allowed).
fn whole_number(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.is_empty() || s.len() > 7 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// "09:00" or "09:00:00" (what a browser's time input sends).
fn clock_time(s: &str) -> Option<Time> {
    let ok_shape = matches!(s.len(), 5 | 8) && s.as_bytes().get(2) == Some(&b':');
    if !ok_shape {
        return None;
    }
    s.parse::<Time>().ok()
}

fn hhmm(t: Time) -> String {
    format!("{:02}:{:02}", t.hour(), t.minute())
}

fn minutes_as_hours(mins: i64) -> String {
    if mins % 60 == 0 {
        (mins / 60).to_string()
    } else {
        // Stored rules always hold whole hours when set through the form; show what is there.
        format!("{}", mins as f64 / 60.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::{Weekday, time};

    fn tz() -> TimeZone {
        TimeZone::get("America/New_York").expect("tzdata")
    }

    fn filled() -> SettingsForm {
        let mut f = SettingsForm::from_rules(&BookingRules::new(tz()));
        f.windows[0][0] = WindowFields {
            start: "09:00".into(),
            end: "12:00".into(),
        };
        f
    }

    #[test]
    fn the_defaults_read_back_as_they_were_written() {
        let mut rules = BookingRules::new(tz());
        rules.windows.push(AvailabilityWindow {
            weekday: Weekday::Tuesday,
            start: time(13, 0, 0, 0),
            end: time(17, 30, 0, 0),
        });
        rules.days_off.insert(jiff::civil::date(2030, 12, 25));
        rules.daily_cap = Some(3);
        let form = SettingsForm::from_rules(&rules);
        assert_eq!(form.length, "20");
        assert_eq!(form.notice, "24");
        assert_eq!(form.horizon, "21");
        assert_eq!(form.windows[1][0].start, "13:00");
        assert_eq!(form.to_rules(tz()), Ok(rules));
    }

    #[test]
    fn every_problem_names_its_field() {
        let mut f = filled();
        f.length = "twenty".into();
        f.windows[2][1] = WindowFields {
            start: "10:00".into(),
            end: "".into(),
        };
        f.days_off = "2030-12-25\nChristmas".into();
        let errors = f.to_rules(tz()).expect_err("invalid");
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["length", "window-wed-2-end", "days_off"]);
        assert!(errors[2].message.contains("line 2"), "{:?}", errors[2]);
    }

    #[test]
    fn each_duration_is_read_in_its_unit_and_its_problem_named_in_form_order() {
        let mut f = filled();
        (f.length, f.step, f.buffer, f.notice, f.horizon) = (
            "45".into(),
            "15".into(),
            "5".into(),
            "48".into(),
            "60".into(),
        );
        let rules = f.to_rules(tz()).expect("valid");
        assert_eq!(rules.length, SignedDuration::from_mins(45));
        assert_eq!(rules.step, SignedDuration::from_mins(15));
        assert_eq!(rules.buffer, SignedDuration::from_mins(5));
        assert_eq!(rules.notice, SignedDuration::from_hours(48));
        assert_eq!(rules.horizon, SignedDuration::from_hours(24 * 60));
        (f.length, f.step, f.buffer, f.notice, f.horizon) = (
            "x".into(),
            "".into(),
            "-1".into(),
            "1.5".into(),
            "10001".into(),
        );
        let errors = f.to_rules(tz()).expect_err("invalid");
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["length", "step", "buffer", "notice", "horizon"]);
        assert!(errors[0].message.contains("in minutes, like 20"));
        assert!(errors[4].message.contains("in days, like 21"));
    }

    #[test]
    fn the_rules_own_checks_point_at_the_field() {
        let mut f = filled();
        f.video = false;
        f.phone = false;
        f.notice = "600".into();
        f.windows[0][1] = WindowFields {
            start: "11:00".into(),
            end: "13:00".into(),
        };
        let errors = f.to_rules(tz()).expect_err("invalid");
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert!(fields.contains(&"notice"), "{errors:?}");
        assert!(fields.contains(&"format-video"), "{errors:?}");
        assert!(fields.contains(&"window-mon-2-start"), "{errors:?}");
        assert!(errors.iter().all(|e| !e.message.ends_with('.')));
    }
}
