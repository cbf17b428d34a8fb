//! Calendar files as another program reads them: each file is written to disk and parsed by
//! Python's `icalendar` package (Debian's python3-icalendar, which the test command installs),
//! which must find the booked instants, the text, and lines that keep to RFC 5545.

use std::process::Command;

use jiff::civil::{Weekday, date, time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use practice::calendar::{self, CalendarSender, ConsultationEvent, EventStatus, Method};
use practice::open_times::{AvailabilityWindow, BookingRules, ConsultationFormat, open_times};

/// Checks the raw file (CRLF only, lines of at most 75 octets, each valid UTF-8 on its own so
/// no fold split a character), then prints what the parser read.
const PARSE: &str = r#"
import datetime, json, sys
from icalendar import Calendar

raw = open(sys.argv[1], 'rb').read()
lines = raw.split(b'\r\n')
assert lines[-1] == b'', 'the file ends with CRLF'
for line in lines[:-1]:
    assert b'\n' not in line and b'\r' not in line, 'a bare line break'
    assert len(line) <= 75, 'a line of %d octets' % len(line)
    line.decode('utf-8')
cal = Calendar.from_ical(raw)
print('METHOD', cal.get('METHOD'))
for ev in cal.walk('VEVENT'):
    for name in ('DTSTART', 'DTEND', 'DTSTAMP'):
        dt = ev.decoded(name)
        assert dt.utcoffset() == datetime.timedelta(0), name + ' is not UTC'
        print(name, dt.astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ'))
    for name in ('UID', 'SEQUENCE', 'STATUS', 'SUMMARY', 'DESCRIPTION'):
        print(name, json.dumps(str(ev.get(name)), ensure_ascii=False))
"#;

fn parse_with_python(ics: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("consultation.ics");
    std::fs::write(&path, ics).unwrap();
    let out = Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(PARSE)
        .arg(&path)
        .env("PYTHONIOENCODING", "utf-8")
        .output()
        .expect("/usr/bin/python3 runs (the test command installs python3-icalendar)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("No module named 'icalendar'"),
        "Python's icalendar package is missing: apt-get install -y python3-icalendar"
    );
    assert!(
        out.status.success(),
        "the parser refused the file: {stderr}\n{ics}"
    );
    String::from_utf8(out.stdout).unwrap()
}

fn new_york() -> TimeZone {
    TimeZone::get("America/New_York").expect("the system's tzdata (Debian package tzdata)")
}

/// The first open time after New York's clocks changed, from Sunday hours 1:00–4:00.
fn first_open_after_change(saturday_noon: Timestamp, change: Timestamp) -> Timestamp {
    let mut rules = BookingRules::new(new_york());
    rules.notice = SignedDuration::ZERO;
    rules.horizon = SignedDuration::from_hours(48);
    rules.windows = vec![AvailabilityWindow {
        weekday: Weekday::Sunday,
        start: time(1, 0, 0, 0),
        end: time(4, 0, 0, 0),
    }];
    open_times(&rules, &[], saturday_noon)
        .into_iter()
        .map(|t| t.start)
        .find(|s| *s >= change)
        .expect("an open time after the change")
}

fn at(y: i16, m: i8, d: i8, h: i8, min: i8) -> Timestamp {
    date(y, m, d)
        .at(h, min, 0, 0)
        .to_zoned_datetime(new_york())
        .unwrap()
        .timestamp()
}

#[test]
fn an_invitation_just_after_spring_forward_is_read_at_the_booked_instant() {
    // 9 March 2025: 2:00 EST became 3:00 EDT; the first open time after it is 3:00 EDT.
    let change: Timestamp = "2025-03-09T07:00:00Z".parse().unwrap();
    let start = first_open_after_change(at(2025, 3, 8, 12, 0), change);
    assert_eq!(start.to_string(), "2025-03-09T07:00:00Z");
    assert_eq!(
        start
            .to_zoned_datetime(new_york())
            .strftime("%H:%M %Z")
            .to_string(),
        "03:00 EDT"
    );
    // A long name with separators and characters of two and three octets, so folds fall
    // near them and escaping matters.
    let sender = CalendarSender::new("Clearwater Psychotherapy", "www.example.com")
        .unwrap()
        .with_title("Clínica Ørsted, Hart; Åsa \\ Ellis — Psychotherapie & Beratung für Erwachsene")
        .unwrap()
        .with_organizer("hello@example.com")
        .unwrap();
    let event = ConsultationEvent {
        reference: 1042,
        format: ConsultationFormat::Video,
        start,
        end: start.checked_add(SignedDuration::from_mins(20)).unwrap(),
        sequence: 1,
        status: EventStatus::Confirmed,
        join: None,
    };
    let stamp: Timestamp = "2025-03-01T17:04:05Z".parse().unwrap();
    let ics = calendar::write(Method::Request, &sender, &[event], stamp).unwrap();
    assert!(
        ics.split("\r\n").any(|l| l.starts_with(' ')),
        "the summary is long enough to fold"
    );
    assert_eq!(
        parse_with_python(&ics),
        "METHOD REQUEST\n\
         DTSTART 2025-03-09T07:00:00Z\n\
         DTEND 2025-03-09T07:20:00Z\n\
         DTSTAMP 2025-03-01T17:04:05Z\n\
         UID \"booking-1042@www.example.com\"\n\
         SEQUENCE \"1\"\n\
         STATUS \"CONFIRMED\"\n\
         SUMMARY \"Clínica Ørsted, Hart; Åsa \\\\ Ellis — Psychotherapie & Beratung für Erwachsene\"\n\
         DESCRIPTION \"Initial consultation by video call.\\nReference: 1042\"\n"
    );
}

#[test]
fn a_feed_across_fall_back_and_a_cancellation_are_read_as_written() {
    // 2 November 2025: 2:00 EDT became 1:00 EST. The repeated 1:00 is offered once (EDT); the
    // first open time after the change is 2:00 EST.
    let change: Timestamp = "2025-11-02T06:00:00Z".parse().unwrap();
    let after = first_open_after_change(at(2025, 11, 1, 12, 0), change);
    assert_eq!(after.to_string(), "2025-11-02T07:00:00Z");
    let before = at(2025, 11, 2, 1, 30);
    assert_eq!(before.to_string(), "2025-11-02T05:30:00Z", "the first 1:30");

    let sender = CalendarSender::new("Clearwater Psychotherapy", "www.example.com").unwrap();
    let booking = |reference, start: Timestamp, status| ConsultationEvent {
        reference,
        format: ConsultationFormat::Phone,
        start,
        end: start.checked_add(SignedDuration::from_mins(20)).unwrap(),
        sequence: 0,
        status,
        join: None,
    };
    let stamp: Timestamp = "2025-10-30T09:00:00Z".parse().unwrap();
    let feed = calendar::write(
        Method::Publish,
        &sender,
        &[
            booking(7, before, EventStatus::Tentative),
            booking(8, after, EventStatus::Confirmed),
        ],
        stamp,
    )
    .unwrap();
    let read = parse_with_python(&feed);
    assert!(read.starts_with("METHOD PUBLISH\n"));
    assert!(read.contains(
        "DTSTART 2025-11-02T05:30:00Z\nDTEND 2025-11-02T05:50:00Z\nDTSTAMP 2025-10-30T09:00:00Z\nUID \"booking-7@www.example.com\"\n"
    ));
    assert!(read.contains(
        "DTSTART 2025-11-02T07:00:00Z\nDTEND 2025-11-02T07:20:00Z\nDTSTAMP 2025-10-30T09:00:00Z\nUID \"booking-8@www.example.com\"\n"
    ));
    assert!(read.contains("STATUS \"TENTATIVE\"\n"));
    assert!(read.contains("DESCRIPTION \"Initial consultation by phone call.\\nReference: 8\"\n"));

    let mut cancelled = booking(8, after, EventStatus::Cancelled);
    cancelled.sequence = 1;
    let read =
        parse_with_python(&calendar::write(Method::Cancel, &sender, &[cancelled], stamp).unwrap());
    assert!(read.starts_with("METHOD CANCEL\nDTSTART 2025-11-02T07:00:00Z\n"));
    assert!(read.contains("SEQUENCE \"1\"\nSTATUS \"CANCELLED\"\n"));
    assert!(!read.to_lowercase().contains("ketamine"));
}
