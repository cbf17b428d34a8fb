//! Open consultation times: when a person who sent a consultation request may book the first
//! conversation with the clinician.
//!
//! The clinician describes their week once ([`BookingRules`]): the hours they take first
//! conversations, in the practice's own time zone, how long each lasts, a buffer between two, how
//! much notice they need, how far ahead people may book, days off and a cap per day. From those
//! rules, the bookings already made and the present instant, [`open_times`] lists every time a
//! person may choose, and [`is_open`] re-checks one chosen time when the form comes back (someone
//! else may have taken it in the meantime; [`nearest_open`] then offers the nearest others).
//!
//! Everything here is plain computation over instants ([`Timestamp`]) and the practice's
//! [`TimeZone`]: no clock, no storage. `open_times` and `is_open` share every check, so a time that
//! was listed is accepted, and a time that is accepted would have been listed.
//!
//! # Start times
//!
//! Start times are offered on a grid of wall-clock times: every [`BookingRules::step`] from the
//! start of each availability window (with a window from 9:00 and a step of 30 minutes: 9:00,
//! 9:30, 10:00…), as long as the whole consultation ends by the window's end. A consultation never
//! spans two windows.
//!
//! # Daylight-saving changes
//!
//! Windows are wall-clock times in the practice's zone, so "Monday 9:00–12:00" means 9:00 on the
//! practice's clocks in summer and in winter. On the nights the clocks change:
//!
//! - A start time that does not exist (the hour skipped when clocks spring forward) is not
//!   offered. Nothing is shifted onto the next valid time, so no instant is offered twice.
//! - A start time that happens twice (the hour repeated when clocks fall back) is offered once, at
//!   its first occurrence. The two occurrences would read the same to a person, so offering both
//!   would be ambiguous; the second occurrence is refused by [`is_open`] as
//!   [`WhyNotOpen::NotAStartTime`].
//! - A consultation lasts its real length: its end is its start plus [`BookingRules::length`] of
//!   elapsed time, whatever the clocks do meanwhile. Buffers, notice and horizon are elapsed time
//!   too.
//! - A consultation fits a window when, at every moment from its start until its end, the
//!   practice's clocks show that day and a time within the window's hours. A window "1:15–2:00"
//!   on a fall-back night therefore takes no consultation from 1:55 that would see the clocks go
//!   back to 1:00; a window ending at a skipped time ends when the clocks jump past it.
//!
//! Days (for days off and the daily cap) are the practice's local dates.
//!
//! Rules that fail [`BookingRules::validate`] offer no times at all: when the settings are wrong,
//! nobody can book, rather than somebody booking a time the clinician never meant to give.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::{AmbiguousOffset, TimeZone};

mod rules;
#[cfg(test)]
mod tests;

pub use rules::*;

/// A consultation already booked (held or confirmed; cancelled ones are left out by the caller).
/// It takes its time, its buffers and a place in its day's cap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Booking {
    pub start: Timestamp,
    pub end: Timestamp,
}

/// A time a person may book: from `start` until `end` (`start` plus the consultation's length).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OpenTime {
    pub start: Timestamp,
    pub end: Timestamp,
}

/// The open times of one day in the practice's zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenDay {
    pub date: Date,
    pub times: Vec<OpenTime>,
}

/// Why a chosen time cannot be booked, in words for the person choosing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WhyNotOpen {
    #[error("Consultations cannot be booked online at the moment. Please contact the practice.")]
    NotOffering,
    #[error("That time is too soon to book. Please choose a later time.")]
    TooSoon { earliest: Timestamp },
    #[error("That time is too far ahead to book yet. Please choose an earlier time.")]
    TooFarAhead { latest: Timestamp },
    #[error("The practice is closed that day. Please choose another day.")]
    DayOff { date: Date },
    #[error("That time is outside the practice's consultation hours. Please choose another time.")]
    OutsideAvailability,
    #[error("That is not one of the times offered. Please choose a time from the list.")]
    NotAStartTime,
    #[error("That day is fully booked. Please choose another day.")]
    DayFull { date: Date },
    #[error("That time has just been taken. Please choose another time.")]
    Taken,
}

/// Every open time, sorted by start, each start once.
pub fn open_times(rules: &BookingRules, bookings: &[Booking], now: Timestamp) -> Vec<OpenTime> {
    let Some(ledger) = Ledger::new(rules, bookings, now) else {
        return Vec::new();
    };
    let tz = &rules.time_zone;
    let mut open = Vec::new();
    // A day either side: where clocks fall back across midnight, a local date can return.
    let first_day = tz.to_datetime(ledger.earliest).date().yesterday();
    let last_day = tz.to_datetime(ledger.latest).date().tomorrow();
    let (Ok(first_day), Ok(last_day)) = (first_day, last_day) else {
        return Vec::new();
    };
    let mut day = first_day;
    while day <= last_day {
        if !rules.days_off.contains(&day) && !ledger.full(day) {
            for w in rules.windows.iter().filter(|w| w.weekday == day.weekday()) {
                ledger.offer_window(day, w, &mut open);
            }
        }
        match day.tomorrow() {
            Ok(next) => day = next,
            Err(_) => break,
        }
    }
    open.sort();
    open.dedup();
    open
}

/// Whether `start` may be booked now; the time it would take when it may.
///
/// Accepts exactly the starts [`open_times`] lists. The reasons are checked in the order a person
/// can best act on: when, which day, which hours, then whether the day or the time is taken.
pub fn is_open(
    rules: &BookingRules,
    bookings: &[Booking],
    now: Timestamp,
    start: Timestamp,
) -> Result<OpenTime, WhyNotOpen> {
    let ledger = Ledger::new(rules, bookings, now).ok_or(WhyNotOpen::NotOffering)?;
    if start < ledger.earliest {
        return Err(WhyNotOpen::TooSoon {
            earliest: ledger.earliest,
        });
    }
    if start > ledger.latest {
        return Err(WhyNotOpen::TooFarAhead {
            latest: ledger.latest,
        });
    }
    let local = rules.time_zone.to_datetime(start);
    let day = local.date();
    if rules.days_off.contains(&day) {
        return Err(WhyNotOpen::DayOff { date: day });
    }
    let time = ledger.in_windows(local, start)?;
    if ledger.full(day) {
        return Err(WhyNotOpen::DayFull { date: day });
    }
    if ledger.taken(time) {
        return Err(WhyNotOpen::Taken);
    }
    Ok(time)
}

/// The `n` open times nearest `start` (before or after it; at equal distance the earlier first),
/// sorted by start: the "that time was just taken; these are the nearest" answer. `start` itself
/// is among them when it is open.
pub fn nearest_open(
    rules: &BookingRules,
    bookings: &[Booking],
    now: Timestamp,
    start: Timestamp,
    n: usize,
) -> Vec<OpenTime> {
    let mut open = open_times(rules, bookings, now);
    open.sort_by_key(|t| (t.start.duration_since(start).abs(), t.start));
    open.truncate(n);
    open.sort();
    open
}

/// `times` grouped by their start's date in `time_zone`, days in order; `times` sorted by start.
pub fn by_day(time_zone: &TimeZone, times: &[OpenTime]) -> Vec<OpenDay> {
    let mut days: Vec<OpenDay> = Vec::new();
    for t in times {
        let date = time_zone.to_datetime(t.start).date();
        match days.last_mut() {
            Some(d) if d.date == date => d.times.push(*t),
            _ => days.push(OpenDay {
                date,
                times: vec![*t],
            }),
        }
    }
    days
}

/// The rules applied to one moment and one set of bookings: what both [`open_times`] and
/// [`is_open`] check.
struct Ledger<'a> {
    rules: &'a BookingRules,
    /// Bookings widened by the buffer on both sides, merged, sorted, disjoint.
    blocked: Vec<(Timestamp, Timestamp)>,
    /// Bookings per local date.
    per_day: BTreeMap<Date, u32>,
    earliest: Timestamp,
    latest: Timestamp,
}

impl<'a> Ledger<'a> {
    /// `None` when the rules are invalid or the instants leave the representable range.
    fn new(rules: &'a BookingRules, bookings: &[Booking], now: Timestamp) -> Option<Self> {
        rules.validate().ok()?;
        let earliest = now.checked_add(rules.notice).ok()?;
        let latest = now.checked_add(rules.horizon).ok()?;
        let mut blocked: Vec<(Timestamp, Timestamp)> = bookings
            .iter()
            .map(|b| {
                let (from, until) = (b.start.min(b.end), b.start.max(b.end));
                (
                    from.checked_sub(rules.buffer).unwrap_or(Timestamp::MIN),
                    until.checked_add(rules.buffer).unwrap_or(Timestamp::MAX),
                )
            })
            .collect();
        blocked.sort();
        let mut merged: Vec<(Timestamp, Timestamp)> = Vec::with_capacity(blocked.len());
        for (from, until) in blocked {
            match merged.last_mut() {
                Some(last) if from <= last.1 => last.1 = last.1.max(until),
                _ => merged.push((from, until)),
            }
        }
        let mut per_day = BTreeMap::new();
        for b in bookings {
            let day = rules.time_zone.to_datetime(b.start).date();
            let count = per_day.entry(day).or_insert(0u32);
            *count = count.saturating_add(1);
        }
        Some(Ledger {
            rules,
            blocked: merged,
            per_day,
            earliest,
            latest,
        })
    }

    fn full(&self, day: Date) -> bool {
        match self.rules.daily_cap {
            Some(cap) => self.per_day.get(&day).copied().unwrap_or(0) >= cap,
            None => false,
        }
    }

    /// Whether `time` overlaps a booking or its buffers (touching is fine).
    fn taken(&self, time: OpenTime) -> bool {
        let i = self.blocked.partition_point(|b| b.1 <= time.start);
        self.blocked.get(i).is_some_and(|b| b.0 < time.end)
    }

    /// Adds the open times of window `w` on `day` to `open` (the day is neither off nor full).
    fn offer_window(&self, day: Date, w: &AvailabilityWindow, open: &mut Vec<OpenTime>) {
        let mut civil = day.to_datetime(w.start);
        while civil.date() == day && civil.time() < w.end {
            if let Some(time) = self.time_at(civil) {
                if time.start > self.latest {
                    return;
                }
                if time.start >= self.earliest && self.fits(day, w, time) && !self.taken(time) {
                    open.push(time);
                }
            }
            civil = match civil.checked_add(self.rules.step) {
                Ok(next) => next,
                Err(_) => return,
            };
        }
    }

    /// Whether the practice's clocks show `day` and a time within `w`'s hours at every moment of
    /// `time`. Between two clock changes the reading only moves forward, so each stretch is
    /// checked at its ends.
    fn fits(&self, day: Date, w: &AvailabilityWindow, time: OpenTime) -> bool {
        let tz = &self.rules.time_zone;
        let (opens, closes) = (day.to_datetime(w.start), day.to_datetime(w.end));
        let mut from = time.start;
        loop {
            let offset = tz.to_offset(from);
            let change = tz
                .following(from)
                .next()
                .map(|t| t.timestamp())
                .filter(|t| *t < time.end);
            let until = change.unwrap_or(time.end);
            // The reading at `from`, and the one the clocks approach (never show) at `until`.
            if offset.to_datetime(from) < opens || offset.to_datetime(until) > closes {
                return false;
            }
            match change {
                Some(change) => from = change,
                None => return true,
            }
        }
    }

    /// The consultation starting when the practice's clocks first show `civil`, if they do.
    fn time_at(&self, civil: DateTime) -> Option<OpenTime> {
        let start = first_occurrence(&self.rules.time_zone, civil)?;
        let end = start.checked_add(self.rules.length).ok()?;
        Some(OpenTime { start, end })
    }

    /// The consultation starting at `start` (shown as `local` on the practice's clocks) if it is a
    /// start time of one of the day's windows and fits in it.
    fn in_windows(&self, local: DateTime, start: Timestamp) -> Result<OpenTime, WhyNotOpen> {
        let day = local.date();
        let mut why = WhyNotOpen::OutsideAvailability;
        for w in self
            .rules
            .windows
            .iter()
            .filter(|w| w.weekday == day.weekday())
        {
            if local.time() < w.start || local.time() >= w.end {
                continue;
            }
            let since_start = local.duration_since(day.to_datetime(w.start));
            let on_grid = since_start.as_nanos() % self.rules.step.as_nanos() == 0;
            let time = match self.time_at(local) {
                Some(time) if on_grid && time.start == start => time,
                _ => {
                    why = WhyNotOpen::NotAStartTime;
                    continue;
                }
            };
            if self.fits(day, w, time) {
                return Ok(time);
            }
        }
        Err(why)
    }
}

/// The instant the practice's clocks first show `civil`; `None` when they skip it.
fn first_occurrence(tz: &TimeZone, civil: DateTime) -> Option<Timestamp> {
    let ambiguous = tz.to_ambiguous_timestamp(civil);
    match ambiguous.offset() {
        AmbiguousOffset::Gap { .. } => None,
        AmbiguousOffset::Unambiguous { .. } | AmbiguousOffset::Fold { .. } => {
            ambiguous.earlier().ok()
        }
    }
}
