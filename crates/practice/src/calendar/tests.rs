//! The exact text written, escaping, folding, and that nothing names the treatment.

use super::*;
use proptest::prelude::*;

fn sender() -> CalendarSender {
    CalendarSender::new("Clearwater Psychotherapy", "www.example.com").expect("neutral")
}

fn event(status: EventStatus) -> ConsultationEvent<'static> {
    ConsultationEvent {
        reference: 1042,
        format: ConsultationFormat::Video,
        start: "2025-03-09T07:00:00Z".parse().unwrap(),
        end: "2025-03-09T07:20:00Z".parse().unwrap(),
        sequence: 0,
        status,
        join: None,
    }
}

fn stamp() -> Timestamp {
    "2025-03-01T17:04:05.678Z".parse().unwrap()
}

/// The invitation `sender` writes for one event of `status`, at [`stamp`].
fn invitation(sender: &CalendarSender, status: EventStatus) -> String {
    write(Method::Request, sender, &[event(status)], stamp()).unwrap()
}

fn unfold(text: &str) -> String {
    text.replace("\r\n ", "")
}

#[test]
fn an_invitation_reads_exactly_so() {
    let sender = sender().with_organizer("hello@example.com").unwrap();
    let ics = invitation(&sender, EventStatus::Confirmed);
    assert_eq!(
        ics,
        "BEGIN:VCALENDAR\r\n\
         VERSION:2.0\r\n\
         PRODID:-//www.example.com//Consultations//EN\r\n\
         CALSCALE:GREGORIAN\r\n\
         METHOD:REQUEST\r\n\
         BEGIN:VEVENT\r\n\
         UID:booking-1042@www.example.com\r\n\
         DTSTAMP:20250301T170405Z\r\n\
         DTSTART:20250309T070000Z\r\n\
         DTEND:20250309T072000Z\r\n\
         SEQUENCE:0\r\n\
         STATUS:CONFIRMED\r\n\
         SUMMARY:Appointment\r\n\
         DESCRIPTION:Initial consultation by video call.\\nReference: 1042\r\n\
         CLASS:PRIVATE\r\n\
         TRANSP:OPAQUE\r\n\
         ORGANIZER:mailto:hello@example.com\r\n\
         END:VEVENT\r\n\
         END:VCALENDAR\r\n"
    );
}

#[test]
fn a_cancellation_and_a_feed() {
    let mut cancelled = event(EventStatus::Cancelled);
    cancelled.sequence = 2;
    cancelled.format = ConsultationFormat::Phone;
    let ics = write(Method::Cancel, &sender(), &[cancelled], stamp()).unwrap();
    assert!(ics.contains("\r\nMETHOD:CANCEL\r\n"));
    assert!(ics.contains("\r\nSTATUS:CANCELLED\r\n"));
    assert!(ics.contains("\r\nSEQUENCE:2\r\n"));
    assert!(ics.contains("\r\nUID:booking-1042@www.example.com\r\n"));
    assert!(ics.contains("by phone call."));
    assert!(!ics.contains("ORGANIZER"));

    let mut other = event(EventStatus::Tentative);
    other.reference = 7;
    let feed = write(
        Method::Publish,
        &sender(),
        &[event(EventStatus::Confirmed), other, cancelled],
        stamp(),
    )
    .unwrap();
    assert_eq!(feed.matches("BEGIN:VEVENT\r\n").count(), 3);
    assert!(feed.contains("\r\nX-WR-CALNAME:Consultations: Clearwater Psychotherapy\r\n"));
    let empty = write(Method::Publish, &sender(), &[], stamp()).unwrap();
    assert!(!empty.contains("VEVENT"));
}

#[test]
fn methods_carry_the_events_they_should() {
    let s = sender();
    let now = stamp();
    assert_eq!(
        write(Method::Request, &s, &[], now),
        Err(CalendarError::OneEventPerMessage {
            method: Method::Request,
            count: 0
        })
    );
    assert_eq!(
        write(
            Method::Cancel,
            &s,
            &[event(EventStatus::Cancelled), event(EventStatus::Cancelled)],
            now
        ),
        Err(CalendarError::OneEventPerMessage {
            method: Method::Cancel,
            count: 2
        })
    );
    assert_eq!(
        write(Method::Request, &s, &[event(EventStatus::Cancelled)], now),
        Err(CalendarError::StatusDoesNotFit {
            method: Method::Request,
            status: EventStatus::Cancelled
        })
    );
    assert_eq!(
        write(Method::Cancel, &s, &[event(EventStatus::Confirmed)], now),
        Err(CalendarError::StatusDoesNotFit {
            method: Method::Cancel,
            status: EventStatus::Confirmed
        })
    );
    let mut backwards = event(EventStatus::Tentative);
    backwards.end = backwards.start;
    assert_eq!(
        write(Method::Request, &s, &[backwards], now),
        Err(CalendarError::EndNotAfterStart { reference: 1042 })
    );
    let mut ancient = event(EventStatus::Tentative);
    ancient.start = "-000001-06-01T00:00:00Z".parse().unwrap();
    ancient.end = "-000001-06-01T00:20:00Z".parse().unwrap();
    assert_eq!(
        write(Method::Request, &s, &[ancient], now),
        Err(CalendarError::OutOfRange { reference: 1042 })
    );
}

#[test]
fn the_sender_names_no_treatment() {
    for (name, host) in [
        ("Ketamine Wellness", "www.example.com"),
        ("Clearwater Esketamine Clinic", "www.example.com"),
        ("KAP Therapy Center", "www.example.com"),
        ("Clearwater (kap)", "www.example.com"),
        ("Clearwater Psychotherapy", "ketaminecare.example.com"),
        ("Clearwater Psychotherapy", "kap-oakland.example.com"),
        ("Psychedelic Integration", "www.example.com"),
    ] {
        assert!(
            matches!(
                CalendarSender::new(name, host),
                Err(CalendarError::NamesTreatment { .. })
            ),
            "{name} at {host}"
        );
    }
    assert!(matches!(
        sender().with_organizer("ketamine@example.com"),
        Err(CalendarError::NamesTreatment { .. })
    ));
    // "kap" inside a longer word is someone's name, not the treatment.
    assert!(CalendarSender::new("Kapoor & Ellis Counselling", "kapoor.example.com").is_ok());
    assert_eq!(
        CalendarSender::new("Ketamine Care", "www.example.com")
            .unwrap_err()
            .to_string(),
        "Calendar invitations show the practice's name and address to anyone who sees the person's calendar, so they must not name the treatment (\"ketamine\"): use a neutral practice name and address."
    );
}

#[test]
fn the_sender_is_checked() {
    for name in ["  ", "Two\nLines", &"x".repeat(NAME_MAX + 1)] {
        assert_eq!(
            CalendarSender::new(name, "www.example.com"),
            Err(CalendarError::Name),
            "{name:?}"
        );
    }
    for host in [
        "",
        "www.example.com:8080",
        "[::1]",
        "a..b",
        "-a.example",
        "a b",
    ] {
        assert_eq!(
            CalendarSender::new("Clearwater", host),
            Err(CalendarError::Host(host.to_owned())),
            "{host:?}"
        );
    }
    assert!(CalendarSender::new("Clearwater", "127.0.0.1").is_ok());
    for email in [
        "",
        "@example.com",
        "hello",
        "a b@example.com",
        "hello@",
        "x\r\n@e.com",
    ] {
        assert_eq!(
            sender().with_organizer(email),
            Err(CalendarError::Organizer(email.to_owned())),
            "{email:?}"
        );
    }
}

#[test]
fn text_is_escaped() {
    assert_eq!(
        Escaped("a\\b;c,d\ne\r\nf\rg\th\u{7}i").to_string(),
        "a\\\\b\\;c\\,d\\ne\\nf\\ng\thi"
    );
    let sender = sender().with_title("Ellis, Hart; and \\ Partners").unwrap();
    let ics = invitation(&sender, EventStatus::Tentative);
    assert!(ics.contains("SUMMARY:Ellis\\, Hart\\; and \\\\ Partners\r\n"));
}

#[test]
fn long_lines_fold_at_75_octets() {
    // The text, and the length in octets of each line it folds into. Two-octet characters: 37
    // fit on the first line (74 octets), and 37 after each space. A line of exactly 75 octets
    // is not folded.
    for (text, lengths) in [
        ("a".repeat(200), vec![75, 75, 52]),
        ("é".repeat(100), vec![74, 75, 53]),
        ("b".repeat(75), vec![75]),
    ] {
        let mut out = String::new();
        fold_into(&mut out, &text);
        let lines: Vec<&str> = out.split_terminator("\r\n").collect();
        assert_eq!(lines.iter().map(|l| l.len()).collect::<Vec<_>>(), lengths);
        assert!(lines[1..].iter().all(|l| l.starts_with(' ')), "{out}");
        assert_eq!(unfold(&out), format!("{text}\r\n"));
    }
}

proptest! {
    #[test]
    fn folding_keeps_lines_short_and_characters_whole(line in "[^\r\n]{0,300}") {
        let mut out = String::new();
        fold_into(&mut out, &line);
        prop_assert!(out.ends_with("\r\n"));
        for (i, physical) in out.split_terminator("\r\n").enumerate() {
            prop_assert!(physical.len() <= 75, "{} octets", physical.len());
            prop_assert!(i == 0 || physical.starts_with(' '));
        }
        prop_assert_eq!(unfold(&out), format!("{line}\r\n"));
    }

    #[test]
    fn escaped_text_has_no_bare_separators(text in "\\PC{0,80}|[\\\\;,\r\n a]{0,40}") {
        let escaped = Escaped(&text).to_string();
        prop_assert!(!escaped.contains('\n') && !escaped.contains('\r'));
        // Every ';' and ',' is preceded by an odd run of backslashes.
        let bytes = escaped.as_bytes();
        for (i, b) in bytes.iter().enumerate() {
            if *b == b';' || *b == b',' {
                let run = bytes[..i].iter().rev().take_while(|c| **c == b'\\').count();
                prop_assert!(run % 2 == 1, "unescaped separator in {:?}", escaped);
            }
        }
    }

    #[test]
    fn no_file_names_the_treatment(
        reference in any::<u64>(),
        sequence in any::<u32>(),
        minutes in 1i64..=600,
        phone in any::<bool>(),
        offset in 0i64..=20 * 365 * 24 * 60,
    ) {
        let start = Timestamp::UNIX_EPOCH
            .checked_add(jiff::SignedDuration::from_mins(offset + 30 * 365 * 24 * 60))
            .unwrap();
        let e = ConsultationEvent {
            reference,
            format: if phone { ConsultationFormat::Phone } else { ConsultationFormat::Video },
            start,
            end: start.checked_add(jiff::SignedDuration::from_mins(minutes)).unwrap(),
            sequence,
            status: EventStatus::Confirmed,
            join: None,
        };
        let cancelled = ConsultationEvent { status: EventStatus::Cancelled, ..e };
        let s = sender().with_organizer("hello@example.com").unwrap();
        for ics in [
            write(Method::Request, &s, &[e], stamp()).unwrap(),
            write(Method::Cancel, &s, &[cancelled], stamp()).unwrap(),
            write(Method::Publish, &s, &[e, cancelled], stamp()).unwrap(),
        ] {
            let lower = unfold(&ics).to_lowercase();
            prop_assert!(!lower.contains("ketamine"));
            prop_assert!(!lower.contains("kap"));
            prop_assert!(ics.split_terminator("\r\n").all(|l| l.len() <= 75 && !l.contains('\n')));
        }
    }
}

#[test]
fn a_confirmed_invitation_says_where_to_join_and_refuses_a_place_naming_the_treatment() {
    let mut e = event(EventStatus::Confirmed);
    e.join = Some(Join::Video("https://meet.example.com/room-7"));
    let ics = unfold(&write(Method::Request, &sender(), &[e], stamp()).unwrap());
    assert!(
        ics.contains("\r\nLOCATION:https://meet.example.com/room-7\r\n"),
        "{ics}"
    );
    assert!(
        ics.contains("\r\nURL:https://meet.example.com/room-7\r\n"),
        "{ics}"
    );
    assert!(
        ics.contains("Join the video call: https://meet.example.com/room-7"),
        "{ics}"
    );
    e.format = ConsultationFormat::Phone;
    e.join = Some(Join::Call("(510) 555-0123"));
    let ics = unfold(&write(Method::Request, &sender(), &[e], stamp()).unwrap());
    assert!(
        ics.contains("\r\nLOCATION:Phone: (510) 555-0123\r\n"),
        "{ics}"
    );
    assert!(!ics.contains("\r\nURL:"), "{ics}");
    e.join = Some(Join::Video("https://meet.example.com/ketamine"));
    assert!(matches!(
        write(Method::Request, &sender(), &[e], stamp()),
        Err(CalendarError::NamesTreatment { .. })
    ));
}

#[test]
fn the_title_is_the_practices_and_never_names_the_treatment() {
    let titled = sender().with_title("  Meeting with J.  ").unwrap();
    let ics = invitation(&titled, EventStatus::Tentative);
    assert!(ics.contains("\r\nSUMMARY:Meeting with J.\r\n"), "{ics}");
    assert!(
        !ics.contains("Clearwater"),
        "the practice's name is not the title: {ics}"
    );
    assert_eq!(
        sender().with_title("Ketamine session"),
        Err(CalendarError::Title(
            crate::neutral::EventTitleProblem::NamesTreatment("ketamine")
        ))
    );
}
