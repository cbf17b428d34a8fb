//! Properties: every rule checked over generated rules, bookings and instants.

use super::*;
use proptest::prelude::*;

/// Zones with the shapes of change that matter: northern and southern daylight saving, a
/// half-hour shift, changes at midnight, none at all.
const ZONES: &[&str] = &[
    "America/New_York",
    "America/Los_Angeles",
    "Australia/Lord_Howe",
    "America/Santiago",
    "America/Sao_Paulo",
    "Europe/London",
    "Asia/Kolkata",
    "UTC",
];

#[derive(Clone, Debug)]
struct Case {
    rules: BookingRules,
    bookings: Vec<Booking>,
    now: Timestamp,
}

/// Rules, bookings and a present instant, `now` often in the weeks before a clock change.
fn case() -> impl Strategy<Value = Case> {
    let settings = (
        0..ZONES.len(),
        prop::sample::select(vec![15i64, 20, 30, 45, 50, 60, 90]),
        prop::sample::select(vec![5i64, 10, 15, 20, 30, 60]),
        0i64..=12,
        0i64..=96,
        1i64..=14,
        prop::option::of(1u32..=3),
    );
    // Half the windows fall on Sunday's early hours, when clocks change in most of these zones.
    let windows = prop::collection::vec(
        prop_oneof![
            (1i8..=7, 0i64..96, 1i64..=40),
            (Just(7i8), 0i64..16, 1i64..=16)
        ],
        0..8,
    );
    let instants = (
        2024i16..=2027,
        0usize..3,
        prop_oneof![0i64..=4 * 24 * 60, 0i64..=25 * 24 * 60],
    );
    let bookings = prop::collection::vec((-24 * 60i64..=16 * 24 * 60, 15i64..=90), 0..25);
    let days_off = prop::collection::vec(-1i64..=16, 0..3);
    (settings, windows, instants, bookings, days_off).prop_map(
        |(settings, windows, instants, bookings, days_off)| {
            let (zone_index, length, step, buffer, notice, horizon_days, daily_cap) = settings;
            let tz = zone(ZONES[zone_index]);
            let mut rules = BookingRules::new(tz.clone());
            rules.length = minutes(length);
            rules.step = minutes(step);
            rules.buffer = minutes(buffer * 5);
            rules.notice = minutes(notice * 30);
            rules.horizon = rules.notice + SignedDuration::from_hours(24 * horizon_days);
            rules.daily_cap = daily_cap;
            // Windows on a quarter-hour grid; those too short or overlapping an earlier one are
            // left out, so the rules are valid.
            for (weekday, from, quarters) in windows {
                let weekday = Weekday::from_monday_one_offset(weekday).unwrap();
                let to = (from + quarters).min(95);
                let w = AvailabilityWindow {
                    weekday,
                    start: time((from / 4) as i8, (from % 4 * 15) as i8, 0, 0),
                    end: time((to / 4) as i8, (to % 4 * 15) as i8, 0, 0),
                };
                let fits = w.start < w.end && w.start.duration_until(w.end) >= rules.length;
                let overlaps = rules
                    .windows
                    .iter()
                    .any(|o| o.weekday == w.weekday && o.start < w.end && w.start < o.end);
                if fits && !overlaps {
                    rules.windows.push(w);
                }
            }
            // The present: some minutes before one of the year's clock changes (or New Year's
            // Day where there are none).
            let (year, change, before) = instants;
            let new_year = at(&tz, year, 1, 1, 0, 0);
            let anchor = tz
                .following(new_year)
                .nth(change)
                .map(|t| t.timestamp())
                .filter(|t| t.as_second() < at(&tz, year + 1, 1, 1, 0, 0).as_second())
                .unwrap_or(new_year);
            let now = anchor.checked_sub(minutes(before)).unwrap();
            let bookings = bookings
                .into_iter()
                .map(|(from, length)| {
                    let start = now.checked_add(minutes(from)).unwrap();
                    Booking {
                        start,
                        end: start.checked_add(minutes(length)).unwrap(),
                    }
                })
                .collect();
            let today = tz.to_datetime(now).date();
            rules.days_off = days_off
                .into_iter()
                .map(|d| today.checked_add(jiff::Span::new().days(d)).unwrap())
                .collect();
            Case {
                rules,
                bookings,
                now,
            }
        },
    )
}

/// The windows whose hours, on the day the practice's clocks show at `start`, cover every moment
/// from `start` until `end` (sampled every 5 minutes, on which all windows and clock changes here
/// fall, and just before `end`).
fn covering_window(rules: &BookingRules, t: OpenTime) -> Option<AvailabilityWindow> {
    let tz = &rules.time_zone;
    let day = tz.to_datetime(t.start).date();
    let mut samples = Vec::new();
    let mut u = t.start;
    while u < t.end {
        samples.push(u);
        u = u.checked_add(minutes(5)).unwrap();
    }
    samples.push(t.end.checked_sub(SignedDuration::from_nanos(1)).unwrap());
    rules
        .windows
        .iter()
        .find(|w| {
            w.weekday == day.weekday()
                && samples.iter().all(|u| {
                    let local = tz.to_datetime(*u);
                    local.date() == day && w.start <= local.time() && local.time() < w.end
                })
        })
        .copied()
}

fn local_day(rules: &BookingRules, t: Timestamp) -> Date {
    rules.time_zone.to_datetime(t).date()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn open_times_keep_every_rule(case in case()) {
        let Case { rules, bookings, now } = &case;
        prop_assert_eq!(rules.validate(), Ok(()));
        let open = open_times(rules, bookings, *now);
        let earliest = now.checked_add(rules.notice).unwrap();
        let latest = now.checked_add(rules.horizon).unwrap();
        for pair in open.windows(2) {
            prop_assert!(pair[0].start < pair[1].start, "sorted and distinct");
        }
        let mut labels: Vec<DateTime> =
            open.iter().map(|t| rules.time_zone.to_datetime(t.start)).collect();
        labels.sort();
        labels.dedup();
        prop_assert_eq!(labels.len(), open.len(), "no two times read the same on the clocks");
        for t in &open {
            prop_assert_eq!(t.end.duration_since(t.start), rules.length);
            let w = covering_window(rules, *t);
            prop_assert!(w.is_some(), "{t:?} is outside availability");
            let local = rules.time_zone.to_datetime(t.start);
            let since = local.time().duration_since(w.unwrap().start);
            prop_assert_eq!(since.as_nanos() % rules.step.as_nanos(), 0, "on the step grid");
            for b in bookings {
                let from = b.start.checked_sub(rules.buffer).unwrap();
                let until = b.end.checked_add(rules.buffer).unwrap();
                prop_assert!(t.end <= from || until <= t.start, "{t:?} overlaps {b:?} ± buffer");
            }
            prop_assert!(t.start >= earliest, "inside the notice");
            prop_assert!(t.start <= latest, "past the horizon");
            let day = local_day(rules, t.start);
            prop_assert!(!rules.days_off.contains(&day), "on a day off");
            if let Some(cap) = rules.daily_cap {
                let that_day = bookings.iter().filter(|b| local_day(rules, b.start) == day).count();
                prop_assert!(that_day < cap as usize, "on a full day");
            }
            prop_assert_eq!(is_open(rules, bookings, *now, t.start), Ok(*t));
        }
    }

    #[test]
    fn is_open_accepts_only_listed_times(case in case(), offsets in prop::collection::vec(0i64..=17 * 24 * 60 * 60, 20)) {
        let Case { rules, bookings, now } = &case;
        let open = open_times(rules, bookings, *now);
        let listed = |s: Timestamp| open.iter().find(|t| t.start == s).copied();
        let tz = &rules.time_zone;
        // Every start time of every window, both readings of a repeated time and the shifted
        // readings of a skipped one...
        let mut candidates = Vec::new();
        let mut day = local_day(rules, *now).yesterday().unwrap();
        let last = local_day(rules, now.checked_add(rules.horizon).unwrap()).tomorrow().unwrap();
        while day <= last {
            for w in rules.windows.iter().filter(|w| w.weekday == day.weekday()) {
                let mut civil = day.to_datetime(w.start);
                while civil.date() == day && civil.time() < w.end {
                    let ambiguous = tz.to_ambiguous_timestamp(civil);
                    candidates.push(ambiguous.earlier().unwrap());
                    candidates.push(ambiguous.later().unwrap());
                    civil = civil.checked_add(rules.step).unwrap();
                }
            }
            day = day.tomorrow().unwrap();
        }
        // ...bookings' edges, and seconds picked at random.
        for b in bookings {
            candidates.extend([b.start, b.end]);
        }
        candidates.extend(offsets.iter().map(|s| now.checked_add(SignedDuration::from_secs(*s)).unwrap()));
        for s in candidates {
            match is_open(rules, bookings, *now, s) {
                Ok(t) => prop_assert_eq!(listed(s), Some(t), "accepted but not listed: {:?}", s),
                Err(why) => prop_assert_eq!(listed(s), None, "listed but refused ({:?})", why),
            }
        }
    }

    #[test]
    fn nearest_open_are_the_nearest(case in case(), offset in -24 * 60i64..=17 * 24 * 60, n in 0usize..6) {
        let Case { rules, bookings, now } = &case;
        let target = now.checked_add(minutes(offset)).unwrap();
        let open = open_times(rules, bookings, *now);
        let near = nearest_open(rules, bookings, *now, target, n);
        prop_assert_eq!(near.len(), n.min(open.len()));
        for pair in near.windows(2) {
            prop_assert!(pair[0].start < pair[1].start);
        }
        let distance = |t: &OpenTime| t.start.duration_since(target).abs();
        let farthest_in = near.iter().map(distance).max();
        for t in &open {
            if near.contains(t) {
                continue;
            }
            prop_assert!(Some(distance(t)) >= farthest_in, "{t:?} is nearer than one returned");
        }
    }

    #[test]
    fn by_day_groups_in_order(case in case()) {
        let Case { rules, bookings, now } = &case;
        let open = open_times(rules, bookings, *now);
        let days = by_day(&rules.time_zone, &open);
        let flat: Vec<OpenTime> = days.iter().flat_map(|d| d.times.clone()).collect();
        prop_assert_eq!(flat, open);
        for pair in days.windows(2) {
            prop_assert!(pair[0].date < pair[1].date);
        }
        for d in &days {
            prop_assert!(!d.times.is_empty());
            prop_assert!(d.times.iter().all(|t| local_day(rules, t.start) == d.date));
        }
    }
}
