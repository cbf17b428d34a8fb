//! Examples of each booking rule (daylight-saving nights included) and property tests that check
//! every rule over generated rules, bookings and instants.

use super::*;
use jiff::SignedDuration;
use jiff::civil::{Weekday, date, time};

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

/// Rules in `tz` for a look at the three days around a change of its clocks: one weekly
/// `window`, no notice, no buffer.
fn around_a_clock_change(tz: &TimeZone, window: AvailabilityWindow) -> BookingRules {
    let mut rules = BookingRules::new(tz.clone());
    rules.notice = SignedDuration::ZERO;
    rules.buffer = SignedDuration::ZERO;
    rules.horizon = SignedDuration::from_hours(72);
    rules.windows = vec![window];
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
    let mut rules = around_a_clock_change(&tz, window(Weekday::Sunday, (1, 0), (4, 0)));
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
    let mut rules = around_a_clock_change(&tz, window(Weekday::Sunday, (0, 30), (2, 30)));
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
    let rules = around_a_clock_change(&tz, window(Weekday::Sunday, (1, 0), (3, 0)));

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

mod properties;
