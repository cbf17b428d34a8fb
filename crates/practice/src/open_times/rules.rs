//! The clinician's booking rules: their defaults and bounds, and the check that says, in the
//! clinician's words, what is wrong with them.

use std::collections::BTreeSet;
use std::fmt;

use jiff::SignedDuration;
use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;

/// Default length of a first conversation.
pub const DEFAULT_LENGTH: SignedDuration = SignedDuration::from_mins(20);
/// Default space kept free before and after each booking.
pub const DEFAULT_BUFFER: SignedDuration = SignedDuration::from_mins(10);
/// Default minimum notice: nobody books a conversation for the next day's morning at midnight.
pub const DEFAULT_NOTICE: SignedDuration = SignedDuration::from_hours(24);
/// Default horizon: how far ahead people may book.
pub const DEFAULT_HORIZON: SignedDuration = SignedDuration::from_hours(21 * 24);
/// Default spacing of start times: a 20-minute conversation and a 10-minute buffer fill it
/// exactly, so back-to-back bookings leave no unusable gaps.
pub const DEFAULT_STEP: SignedDuration = SignedDuration::from_mins(30);

/// Shortest and longest consultation, in minutes.
pub const LENGTH_MINUTES: (i64, i64) = (5, 8 * 60);
/// Tightest and widest spacing of start times, in minutes.
pub const STEP_MINUTES: (i64, i64) = (5, 4 * 60);
/// Longest buffer, in minutes.
pub const BUFFER_MAX_MINUTES: i64 = 8 * 60;
/// Furthest horizon, in days.
pub const HORIZON_MAX_DAYS: i64 = 366;

crate::text_forms! {
    /// How the first conversation takes place.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
    pub enum ConsultationFormat {
        Video = "video" => "Video call",
        Phone = "phone" => "Phone call",
    }
}

/// Hours in one weekday when the clinician takes first conversations, as the practice's clocks
/// show them: from `start` until `end` (exclusive), on every `weekday`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AvailabilityWindow {
    pub weekday: Weekday,
    pub start: Time,
    pub end: Time,
}

/// The clinician's booking settings. Build with [`BookingRules::new`] for the defaults, then set
/// what differs; check with [`BookingRules::validate`] before saving.
#[derive(Clone, Debug, PartialEq)]
pub struct BookingRules {
    /// The practice's zone (`practice.time_zone`): windows and days are read on its clocks.
    pub time_zone: TimeZone,
    /// How long one consultation lasts, in whole minutes.
    pub length: SignedDuration,
    /// The ways a person may choose to meet; at least one.
    pub formats: Vec<ConsultationFormat>,
    /// The weekly hours. None at all is valid: nothing is offered (bookings paused).
    pub windows: Vec<AvailabilityWindow>,
    /// Space kept free before and after every booking, in whole minutes.
    pub buffer: SignedDuration,
    /// No time starts sooner than this after the present instant.
    pub notice: SignedDuration,
    /// No time starts later than this after the present instant.
    pub horizon: SignedDuration,
    /// Dates (in the practice's zone) with nothing offered.
    pub days_off: BTreeSet<Date>,
    /// Once a day holds this many bookings, nothing more is offered on it. `None`: no cap.
    pub daily_cap: Option<u32>,
    /// Spacing of offered start times, from each window's start, in whole minutes.
    pub step: SignedDuration,
}

impl BookingRules {
    /// The defaults in `time_zone`, with no availability windows yet.
    pub fn new(time_zone: TimeZone) -> Self {
        BookingRules {
            time_zone,
            length: DEFAULT_LENGTH,
            formats: ConsultationFormat::ALL.to_vec(),
            windows: Vec::new(),
            buffer: DEFAULT_BUFFER,
            notice: DEFAULT_NOTICE,
            horizon: DEFAULT_HORIZON,
            days_off: BTreeSet::new(),
            daily_cap: None,
            step: DEFAULT_STEP,
        }
    }

    /// Whether consultation times are offered online: there are weekly hours, and the rules
    /// hold together.
    pub fn offers_times(&self) -> bool {
        !self.windows.is_empty() && self.validate().is_ok()
    }

    /// Every problem with these settings, each in words the clinician can act on.
    pub fn validate(&self) -> Result<(), Vec<RulesError>> {
        let mut problems = Vec::new();
        let length_ok = whole_minutes_within(self.length, LENGTH_MINUTES);
        if !length_ok {
            problems.push(RulesError::Length);
        }
        if !whole_minutes_within(self.step, STEP_MINUTES) {
            problems.push(RulesError::Step);
        }
        if !whole_minutes_within(self.buffer, (0, BUFFER_MAX_MINUTES)) {
            problems.push(RulesError::Buffer);
        }
        let horizon_ok = self.horizon.is_positive()
            && self.horizon <= SignedDuration::from_hours(24 * HORIZON_MAX_DAYS);
        if !horizon_ok {
            problems.push(RulesError::Horizon);
        }
        if self.notice.is_negative() {
            problems.push(RulesError::NegativeNotice);
        } else if horizon_ok && self.notice >= self.horizon {
            problems.push(RulesError::NoticeBeyondHorizon {
                notice: self.notice,
                horizon: self.horizon,
            });
        }
        if self.daily_cap == Some(0) {
            problems.push(RulesError::ZeroDailyCap);
        }
        if self.formats.is_empty() {
            problems.push(RulesError::NoFormat);
        }
        for w in &self.windows {
            if w.end <= w.start {
                problems.push(RulesError::WindowEndsBeforeStart(*w));
            } else if length_ok && w.start.duration_until(w.end) < self.length {
                problems.push(RulesError::WindowShorterThanConsultation {
                    window: *w,
                    length: self.length,
                });
            }
        }
        let mut sorted: Vec<&AvailabilityWindow> =
            self.windows.iter().filter(|w| w.start < w.end).collect();
        sorted.sort_by_key(|w| (w.weekday.to_monday_one_offset(), w.start, w.end));
        for pair in sorted.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            if a.weekday == b.weekday && b.start < a.end {
                problems.push(RulesError::WindowsOverlap(*a, *b));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

fn whole_minutes_within(d: SignedDuration, (min, max): (i64, i64)) -> bool {
    d.subsec_nanos() == 0 && d.as_secs() % 60 == 0 && (min..=max).contains(&d.as_mins())
}

/// What is wrong with the clinician's booking settings.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RulesError {
    #[error(
        "A consultation must last between {} and {}, in whole minutes.",
        Minutes(LENGTH_MINUTES.0),
        Minutes(LENGTH_MINUTES.1)
    )]
    Length,
    #[error(
        "Start times must be offered every {} to {}, in whole minutes.",
        Minutes(STEP_MINUTES.0),
        Minutes(STEP_MINUTES.1)
    )]
    Step,
    #[error(
        "The buffer between consultations must be between 0 minutes and {}, in whole minutes.",
        Minutes(BUFFER_MAX_MINUTES)
    )]
    Buffer,
    #[error(
        "How far ahead people may book must be more than 0 and at most {HORIZON_MAX_DAYS} days."
    )]
    Horizon,
    #[error("The minimum notice cannot be negative: use 0 to allow booking right away.")]
    NegativeNotice,
    #[error(
        "The minimum notice ({}) reaches past how far ahead people may book ({}), so no time could be offered: shorten the notice or book further ahead.",
        Span(*notice),
        Span(*horizon)
    )]
    NoticeBeyondHorizon {
        notice: SignedDuration,
        horizon: SignedDuration,
    },
    #[error(
        "A daily limit of 0 would offer no times: remove the limit, or allow at least 1 consultation a day."
    )]
    ZeroDailyCap,
    #[error("Offer at least one way to meet: video or phone.")]
    NoFormat,
    #[error(
        "The {} hours {} end before they start: the end must be later on the same day.",
        Day(.0.weekday),
        Hours(.0)
    )]
    WindowEndsBeforeStart(AvailabilityWindow),
    #[error(
        "The {} hours {} are shorter than one consultation ({}): make them longer, or remove them.",
        Day(window.weekday),
        Hours(window),
        Span(*length)
    )]
    WindowShorterThanConsultation {
        window: AvailabilityWindow,
        length: SignedDuration,
    },
    #[error(
        "The {} hours {} and {} overlap: join them into one, or move one.",
        Day(.0.weekday),
        Hours(.0),
        Hours(.1)
    )]
    WindowsOverlap(AvailabilityWindow, AvailabilityWindow),
}

/// "45 minutes", "1 hour", "24 hours", "21 days": a setting's length as a person says it.
struct Span(SignedDuration);

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mins = self.0.as_mins();
        let plural = |n: i64| if n == 1 { "" } else { "s" };
        if mins != 0 && mins % (24 * 60) == 0 && mins >= 2 * 24 * 60 {
            let days = mins / (24 * 60);
            write!(f, "{days} day{}", plural(days))
        } else if mins != 0 && mins % 60 == 0 {
            let hours = mins / 60;
            write!(f, "{hours} hour{}", plural(hours))
        } else {
            write!(f, "{mins} minute{}", plural(mins))
        }
    }
}

struct Minutes(i64);

impl fmt::Display for Minutes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Span(SignedDuration::from_mins(self.0)).fmt(f)
    }
}

/// "Monday".
struct Day(Weekday);

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            Weekday::Monday => "Monday",
            Weekday::Tuesday => "Tuesday",
            Weekday::Wednesday => "Wednesday",
            Weekday::Thursday => "Thursday",
            Weekday::Friday => "Friday",
            Weekday::Saturday => "Saturday",
            Weekday::Sunday => "Sunday",
        })
    }
}

/// "09:00–12:30".
struct Hours<'a>(&'a AvailabilityWindow);

impl fmt::Display for Hours<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (s, e) = (self.0.start, self.0.end);
        write!(
            f,
            "{:02}:{:02}–{:02}:{:02}",
            s.hour(),
            s.minute(),
            e.hour(),
            e.minute()
        )
    }
}
