//! Examples of each booking rule (daylight-saving nights included) and property tests that check
//! every rule over generated rules, bookings and instants.

use super::*;
use jiff::civil::{date, time};
use proptest::prelude::*;

fn zone(name: &str) -> TimeZone {
    TimeZone::get(name).expect("the zone is in the system's tzdata (Debian package tzdata)")
}

/// The instant the clocks of `tz` first show `y-m-d h:min`.
fn at(tz: &TimeZone, y: i16, m: i8, d: i8, h: i8, min: i8) -> Timestamp {
    tz.to_ambiguous_timestamp(date(y, m, d).at(h, min, 0, 0))
        .earlier()
        .expect("in range")
}

fn window(weekday: Weekday, from: (i8, i8), until: (i8, i8)) -> AvailabilityWindow {
    AvailabilityWindow {
        weekday,
        start: time(from.0, from.1, 0, 0),
        end: time(until.0, until.1, 0, 0),
    }
}

/// Each open time as the practice's clocks show its start, with the UTC offset.
fn shown(tz: &TimeZone, times: &[OpenTime]) -> Vec<String> {
    times
        .iter()
        .map(|t| {
            t.start
                .to_zoned_datetime(tz.clone())
                .strftime("%F %H:%M %:z")
                .to_string()
        })
        .collect()
}

fn mondays_in_los_angeles() -> BookingRules {
    let mut rules = BookingRules::new(zone("America/Los_Angeles"));
    rules.windows = vec![window(Weekday::Monday, (9, 0), (11, 0))];
    rules
}

fn minutes(n: i64) -> SignedDuration {
    SignedDuration::from_mins(n)
}

#[test]
fn defaults_are_valid_and_as_documented() {
    let rules = BookingRules::new(zone("America/Los_Angeles"));
    assert_eq!(rules.validate(), Ok(()));
    assert_eq!(rules.length, minutes(20));
    assert_eq!(rules.notice, SignedDuration::from_hours(24));
    assert_eq!(rules.horizon, SignedDuration::from_hours(21 * 24));
    assert_eq!(rules.step, minutes(30));
    assert_eq!(
        rules.formats,
        [ConsultationFormat::Video, ConsultationFormat::Phone]
    );
    assert_eq!(
        open_times(&rules, &[], Timestamp::UNIX_EPOCH),
        [],
        "no windows, nothing offered"
    );
}

#[test]
fn formats_round_trip() {
    for f in ConsultationFormat::ALL {
        assert_eq!(ConsultationFormat::parse(f.as_str()), Some(f));
    }
    assert_eq!(ConsultationFormat::parse("in person"), None);
}

#[test]
fn weekly_window_offers_a_grid_of_times_that_fit() {
    let rules = mondays_in_los_angeles();
    let tz = rules.time_zone.clone();
    // Sunday 1 June 2025, 8:00: notice runs to Monday 8:00, the horizon to Sunday 22 June.
    let now = at(&tz, 2025, 6, 1, 8, 0);
    let open = open_times(&rules, &[], now);
    assert_eq!(
        shown(&tz, &open),
        [
            "2025-06-02 09:00 -07:00",
            "2025-06-02 09:30 -07:00",
            "2025-06-02 10:00 -07:00",
            "2025-06-02 10:30 -07:00",
            "2025-06-09 09:00 -07:00",
            "2025-06-09 09:30 -07:00",
            "2025-06-09 10:00 -07:00",
            "2025-06-09 10:30 -07:00",
            "2025-06-16 09:00 -07:00",
            "2025-06-16 09:30 -07:00",
            "2025-06-16 10:00 -07:00",
            "2025-06-16 10:30 -07:00",
        ]
    );
    for t in &open {
        assert_eq!(t.end.duration_since(t.start), minutes(20));
        assert_eq!(is_open(&rules, &[], now, t.start), Ok(*t));
    }
    let days = by_day(&tz, &open);
    assert_eq!(
        days.iter().map(|d| d.date).collect::<Vec<_>>(),
        [date(2025, 6, 2), date(2025, 6, 9), date(2025, 6, 16)]
    );
    assert!(days.iter().all(|d| d.times.len() == 4));
}

#[test]
fn each_rule_gives_its_reason() {
    let mut rules = mondays_in_los_angeles();
    let tz = rules.time_zone.clone();
    let now = at(&tz, 2025, 6, 1, 9, 45);
    let check = |rules: &BookingRules, bookings: &[Booking], h: i8, min: i8, d: i8| {
        is_open(rules, bookings, now, at(&tz, 2025, 6, d, h, min)).map(|_| ())
    };
    // Notice: 24 hours from Sunday 9:45.
    assert!(matches!(
        check(&rules, &[], 9, 30, 2),
        Err(WhyNotOpen::TooSoon { earliest }) if earliest == at(&tz, 2025, 6, 2, 9, 45)
    ));
    assert_eq!(check(&rules, &[], 10, 0, 2), Ok(()));
    // Horizon: 21 days.
    assert!(matches!(
        check(&rules, &[], 9, 0, 23),
        Err(WhyNotOpen::TooFarAhead { .. })
    ));
    // Hours and grid.
    assert_eq!(check(&rules, &[], 9, 10, 9), Err(WhyNotOpen::NotAStartTime));
    assert_eq!(
        check(&rules, &[], 10, 45, 9),
        Err(WhyNotOpen::NotAStartTime)
    );
    assert_eq!(
        check(&rules, &[], 8, 0, 9),
        Err(WhyNotOpen::OutsideAvailability)
    );
    assert_eq!(
        check(&rules, &[], 11, 0, 9),
        Err(WhyNotOpen::OutsideAvailability)
    );
    assert_eq!(
        check(&rules, &[], 9, 0, 10),
        Err(WhyNotOpen::OutsideAvailability),
        "a Tuesday"
    );
    // Days off.
    rules.days_off.insert(date(2025, 6, 9));
    assert_eq!(
        check(&rules, &[], 9, 0, 9),
        Err(WhyNotOpen::DayOff {
            date: date(2025, 6, 9)
        })
    );
    assert!(
        open_times(&rules, &[], now)
            .iter()
            .all(|t| tz.to_datetime(t.start).date() != date(2025, 6, 9))
    );
    // Buffers: a booking 10:00–10:20 with 10 minutes either side blocks 9:50–10:30.
    let booked = [Booking {
        start: at(&tz, 2025, 6, 16, 10, 0),
        end: at(&tz, 2025, 6, 16, 10, 20),
    }];
    assert_eq!(check(&rules, &booked, 10, 0, 16), Err(WhyNotOpen::Taken));
    assert_eq!(check(&rules, &booked, 9, 30, 16), Ok(()), "ends 9:50");
    assert_eq!(check(&rules, &booked, 10, 30, 16), Ok(()), "starts 10:30");
    rules.buffer = minutes(15);
    assert_eq!(check(&rules, &booked, 9, 30, 16), Err(WhyNotOpen::Taken));
    assert_eq!(check(&rules, &booked, 10, 30, 16), Err(WhyNotOpen::Taken));
    // The daily cap counts every booking of the local day, in the hours or not.
    rules.daily_cap = Some(1);
    let early = [Booking {
        start: at(&tz, 2025, 6, 16, 7, 0),
        end: at(&tz, 2025, 6, 16, 7, 20),
    }];
    assert_eq!(
        check(&rules, &early, 9, 0, 16),
        Err(WhyNotOpen::DayFull {
            date: date(2025, 6, 16)
        })
    );
    rules.daily_cap = Some(2);
    assert_eq!(check(&rules, &early, 9, 0, 16), Ok(()));
}

#[test]
fn nearest_open_times_surround_a_taken_one() {
    let rules = mondays_in_los_angeles();
    let tz = rules.time_zone.clone();
    let now = at(&tz, 2025, 6, 1, 8, 0);
    let taken = at(&tz, 2025, 6, 9, 9, 30);
    let bookings = [Booking {
        start: taken,
        end: at(&tz, 2025, 6, 9, 9, 50),
    }];
    assert_eq!(
        is_open(&rules, &bookings, now, taken),
        Err(WhyNotOpen::Taken)
    );
    let near = nearest_open(&rules, &bookings, now, taken, 3);
    assert_eq!(
        shown(&tz, &near),
        [
            "2025-06-09 09:00 -07:00",
            "2025-06-09 10:00 -07:00",
            "2025-06-09 10:30 -07:00",
        ],
        "9:00 and 10:00 touch the buffers; 9:30 is taken"
    );
    assert_eq!(nearest_open(&rules, &bookings, now, taken, 0), []);
}

#[test]
fn invalid_rules_offer_nothing() {
    let mut rules = mondays_in_los_angeles();
    rules.step = SignedDuration::ZERO;
    let now = at(&rules.time_zone, 2025, 6, 1, 8, 0);
    assert_eq!(open_times(&rules, &[], now), []);
    assert_eq!(
        is_open(&rules, &[], now, at(&rules.time_zone, 2025, 6, 2, 9, 0)),
        Err(WhyNotOpen::NotOffering)
    );
}

#[test]
fn validation_names_each_problem() {
    let mut rules = BookingRules::new(zone("America/New_York"));
    rules.length = SignedDuration::from_secs(90);
    rules.step = minutes(0);
    rules.buffer = minutes(-5);
    rules.horizon = SignedDuration::from_hours(24 * 400);
    rules.notice = minutes(-1);
    rules.daily_cap = Some(0);
    rules.formats.clear();
    rules.windows = vec![window(Weekday::Monday, (17, 0), (9, 0))];
    assert_eq!(
        rules.validate(),
        Err(vec![
            RulesError::Length,
            RulesError::Step,
            RulesError::Buffer,
            RulesError::Horizon,
            RulesError::NegativeNotice,
            RulesError::ZeroDailyCap,
            RulesError::NoFormat,
            RulesError::WindowEndsBeforeStart(window(Weekday::Monday, (17, 0), (9, 0))),
        ])
    );

    let mut rules = BookingRules::new(zone("America/New_York"));
    rules.notice = SignedDuration::from_hours(24 * 30);
    rules.windows = vec![
        window(Weekday::Tuesday, (9, 0), (9, 15)),
        window(Weekday::Friday, (13, 0), (15, 0)),
        window(Weekday::Friday, (9, 0), (12, 0)),
        window(Weekday::Friday, (11, 30), (12, 30)),
        window(Weekday::Thursday, (11, 30), (12, 30)),
    ];
    let problems = rules.validate().expect_err("invalid");
    let messages: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(
        messages,
        [
            "The minimum notice (30 days) reaches past how far ahead people may book (21 days), so no time could be offered: shorten the notice or book further ahead.",
            "The Tuesday hours 09:00–09:15 are shorter than one consultation (20 minutes): make them longer, or remove them.",
            "The Friday hours 09:00–12:00 and 11:30–12:30 overlap: join them into one, or move one.",
        ]
    );
    assert_eq!(
        RulesError::WindowEndsBeforeStart(window(Weekday::Monday, (17, 0), (9, 0))).to_string(),
        "The Monday hours 17:00–09:00 end before they start: the end must be later on the same day."
    );
    assert_eq!(
        RulesError::Length.to_string(),
        "A consultation must last between 5 minutes and 8 hours, in whole minutes."
    );
    // Windows that only touch are fine; so is no window at all (bookings paused).
    rules.notice = DEFAULT_NOTICE;
    rules.windows = vec![
        window(Weekday::Friday, (9, 0), (12, 0)),
        window(Weekday::Friday, (12, 0), (13, 0)),
    ];
    assert_eq!(rules.validate(), Ok(()));
}

/// Sunday 9 March 2025: New York's clocks go from 2:00 EST straight to 3:00 EDT.
#[test]
fn spring_forward_in_new_york_skips_the_missing_hour() {
    let tz = zone("America/New_York");
    let mut rules = BookingRules::new(tz.clone());
    rules.notice = SignedDuration::ZERO;
    rules.buffer = SignedDuration::ZERO;
    rules.horizon = SignedDuration::from_hours(72);
    rules.windows = vec![window(Weekday::Sunday, (1, 0), (4, 0))];
    let now = at(&tz, 2025, 3, 8, 12, 0);
    let open = open_times(&rules, &[], now);
    assert_eq!(
        shown(&tz, &open),
        [
            "2025-03-09 01:00 -05:00",
            "2025-03-09 01:30 -05:00",
            "2025-03-09 03:00 -04:00",
            "2025-03-09 03:30 -04:00",
        ]
    );
    // Real elapsed time: 1:30 EST to 3:00 EDT is half an hour; each consultation is 20 minutes.
    assert_eq!(open[2].start.duration_since(open[1].start), minutes(30));
    assert!(
        open.iter()
            .all(|t| t.end.duration_since(t.start) == minutes(20))
    );

    // A window ending inside the missing hour ends when the clocks jump (2:00 EST = 3:00 EDT).
    rules.windows = vec![window(Weekday::Sunday, (1, 0), (2, 30))];
    rules.length = minutes(40);
    let open = open_times(&rules, &[], now);
    assert_eq!(shown(&tz, &open), ["2025-03-09 01:00 -05:00"]);
    assert_eq!(
        is_open(
            &rules,
            &[],
            now,
            open[0].start.checked_add(minutes(30)).unwrap()
        ),
        Err(WhyNotOpen::OutsideAvailability),
        "1:30 EST + 40 minutes is 3:10 EDT, past the window"
    );
    rules.length = minutes(30);
    assert_eq!(
        shown(&tz, &open_times(&rules, &[], now)),
        ["2025-03-09 01:00 -05:00", "2025-03-09 01:30 -05:00"],
        "1:30 EST + 30 minutes ends exactly as the clocks jump"
    );
}

/// Sunday 2 November 2025: New York's clocks go from 2:00 EDT back to 1:00 EST.
#[test]
fn fall_back_in_new_york_offers_the_repeated_hour_once() {
    let tz = zone("America/New_York");
    let mut rules = BookingRules::new(tz.clone());
    rules.notice = SignedDuration::ZERO;
    rules.buffer = SignedDuration::ZERO;
    rules.horizon = SignedDuration::from_hours(72);
    rules.windows = vec![window(Weekday::Sunday, (0, 30), (2, 30))];
    let now = at(&tz, 2025, 11, 1, 12, 0);
    let open = open_times(&rules, &[], now);
    assert_eq!(
        shown(&tz, &open),
        [
            "2025-11-02 00:30 -04:00",
            "2025-11-02 01:00 -04:00",
            "2025-11-02 01:30 -04:00",
            "2025-11-02 02:00 -05:00",
        ]
    );
    // The second 1:00 (EST) reads the same as the first: it is not a start time.
    let second_one_oclock = open[1].start.checked_add(minutes(60)).unwrap();
    assert_eq!(
        tz.to_datetime(second_one_oclock),
        date(2025, 11, 2).at(1, 0, 0, 0)
    );
    assert_eq!(
        is_open(&rules, &[], now, second_one_oclock),
        Err(WhyNotOpen::NotAStartTime)
    );
    // 1:30 EDT to 2:00 EST is 90 minutes of real time.
    assert_eq!(open[3].start.duration_since(open[2].start), minutes(90));

    // Buffers are real time too: a booking 1:00–1:20 EST with 30 minutes either side blocks
    // 0:30–1:50 EST, which is 1:30 EDT onwards.
    rules.buffer = minutes(30);
    let bookings = [Booking {
        start: second_one_oclock,
        end: second_one_oclock.checked_add(minutes(20)).unwrap(),
    }];
    assert_eq!(
        shown(&tz, &open_times(&rules, &bookings, now)),
        [
            "2025-11-02 00:30 -04:00",
            "2025-11-02 01:00 -04:00",
            "2025-11-02 02:00 -05:00",
        ]
    );

    // A window ending in the repeated hour ends at its first occurrence.
    rules.buffer = SignedDuration::ZERO;
    rules.windows = vec![window(Weekday::Sunday, (0, 0), (1, 30))];
    rules.length = minutes(40);
    assert_eq!(
        shown(&tz, &open_times(&rules, &[], now)),
        ["2025-11-02 00:00 -04:00", "2025-11-02 00:30 -04:00",]
    );
}

/// Lord Howe Island moves its clocks by half an hour, at 2:00, in the southern spring (October)
/// and autumn (April).
#[test]
fn half_hour_shifts_on_lord_howe_island() {
    let tz = zone("Australia/Lord_Howe");
    let mut rules = BookingRules::new(tz.clone());
    rules.notice = SignedDuration::ZERO;
    rules.buffer = SignedDuration::ZERO;
    rules.horizon = SignedDuration::from_hours(72);
    rules.windows = vec![window(Weekday::Sunday, (1, 0), (3, 0))];

    // Sunday 5 October 2025: 2:00 (+10:30) becomes 2:30 (+11:00).
    let open = open_times(&rules, &[], at(&tz, 2025, 10, 4, 12, 0));
    assert_eq!(
        shown(&tz, &open),
        [
            "2025-10-05 01:00 +10:30",
            "2025-10-05 01:30 +10:30",
            "2025-10-05 02:30 +11:00",
        ]
    );
    assert_eq!(open[2].start.duration_since(open[1].start), minutes(30));

    // Sunday 6 April 2025: 2:00 (+11:00) becomes 1:30 (+10:30); 1:30–2:00 happens twice.
    let open = open_times(&rules, &[], at(&tz, 2025, 4, 5, 12, 0));
    assert_eq!(
        shown(&tz, &open),
        [
            "2025-04-06 01:00 +11:00",
            "2025-04-06 01:30 +11:00",
            "2025-04-06 02:00 +10:30",
            "2025-04-06 02:30 +10:30",
        ]
    );
    assert_eq!(open[2].start.duration_since(open[1].start), minutes(60));
}

/// Santiago changes its clocks at midnight: on Sunday 7 September 2025 the day starts at 1:00.
#[test]
fn a_day_that_starts_at_one_in_santiago() {
    let tz = zone("America/Santiago");
    let mut rules = BookingRules::new(tz.clone());
    rules.notice = SignedDuration::ZERO;
    rules.horizon = SignedDuration::from_hours(72);
    rules.windows = vec![window(Weekday::Sunday, (0, 0), (2, 0))];
    let open = open_times(&rules, &[], at(&tz, 2025, 9, 6, 12, 0));
    assert_eq!(
        shown(&tz, &open),
        ["2025-09-07 01:00 -03:00", "2025-09-07 01:30 -03:00"]
    );
}

// ---------------------------------------------------------------------------------------------
// Properties

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
