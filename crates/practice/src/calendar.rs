//! Calendar files (iCalendar, RFC 5545) for consultation bookings: the invitation a person adds
//! to their calendar, its cancellation, and the clinician's feed of bookings.
//!
//! A calendar entry is seen in places the person does not control: a phone's lock screen, a
//! calendar shared with family or an employer, a reminder read aloud. So the words in these files
//! are neutral by construction: [`ConsultationEvent`] holds only a reference number, the format
//! (video or phone) and the times, and the only other text is the event's title (the practice
//! chooses it; "Appointment" by default, so a shared calendar does not say "therapy") and the
//! practice's name and host, checked by [`CalendarSender`] to name no treatment. No person's name, nor anything a person
//! wrote, can reach a calendar file through this module.
//!
//! The writer is our own, not the `icalendar` crate: that crate brings a second time library
//! (chrono) beside jiff, plus uuid and iso8601, and needs a newer Rust than this crate does, while
//! what we write is one kind of event with fixed properties. What RFC 5545 asks of a writer is
//! all here: CRLF line ends, lines folded at 75 octets (never inside a UTF-8 character), TEXT
//! escaping, UTC times, and the properties iTIP (RFC 5546) needs to update or cancel an event
//! already in a calendar: a stable UID per booking, SEQUENCE and METHOD.

use std::fmt::{self, Write as _};

use jiff::Timestamp;
use jiff::tz::Offset;

use crate::host::is_host;
use crate::open_times::ConsultationFormat;

#[cfg(test)]
mod tests;

/// Longest practice name, in characters.
pub const NAME_MAX: usize = 100;

crate::text_forms! {
    /// What the file asks of the calendar that opens it (iTIP, RFC 5546).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Method {
        /// An invitation or a hold: add this event, or update it (same UID, higher SEQUENCE).
        Request = "REQUEST",
        /// Remove this event (same UID, higher SEQUENCE, status cancelled).
        Cancel = "CANCEL",
        /// A feed to subscribe to: the clinician's bookings.
        Publish = "PUBLISH",
    }
}

crate::text_forms! {
    /// Where a booking stands, as calendars understand it.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum EventStatus {
        /// Held for the person, not yet confirmed by the clinician.
        Tentative = "TENTATIVE",
        Confirmed = "CONFIRMED",
        Cancelled = "CANCELLED",
    }
}

/// One booked consultation, as a calendar event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConsultationEvent<'a> {
    /// The booking's reference number: it makes the event's UID, so every version of the file
    /// for one booking updates the same calendar entry.
    pub reference: u64,
    pub format: ConsultationFormat,
    /// Written in UTC to the second.
    pub start: Timestamp,
    pub end: Timestamp,
    /// Raised by one with each change sent for the booking (a new time, a cancellation).
    pub sequence: u32,
    pub status: EventStatus,
    /// How to join: the clinician's video room address (written as LOCATION and URL) or the
    /// number the person calls (LOCATION). Checked to name no treatment, like the sender.
    pub join: Option<Join<'a>>,
}

/// Where a consultation takes place, as a calendar shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Join<'a> {
    /// An https address of the clinician's video room.
    Video(&'a str),
    /// A phone number the person calls.
    Call(&'a str),
}

/// Who the calendar files come from: the practice's name and its web host, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CalendarSender {
    name: String,
    host: String,
    /// Each event's summary: the practice's chosen title ("Appointment" by default).
    title: String,
    organizer: Option<String>,
}

/// Why a calendar file cannot be written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error(
        "Calendar invitations show the practice's name and address to anyone who sees the person's calendar, so they must not name the treatment (\"{word}\"): use a neutral practice name and address."
    )]
    NamesTreatment { word: String },
    #[error(
        "The practice's name for calendar invitations must be one line of 1 to {NAME_MAX} characters."
    )]
    Name,
    #[error("\"{0}\" is not a host name (like www.example.com) for calendar invitations.")]
    Host(String),
    #[error("\"{0}\" is not an email address for calendar invitations.")]
    Organizer(String),
    #[error("The title of calendar invitations cannot be used: {0}.")]
    Title(#[from] crate::neutral::EventTitleProblem),
    #[error("Booking {reference} ends before it starts.")]
    EndNotAfterStart { reference: u64 },
    #[error("Booking {reference} is outside the years 1 to 9999.")]
    OutOfRange { reference: u64 },
    #[error("The calendar file's creation time is outside the years 1 to 9999.")]
    StampOutOfRange,
    #[error("A calendar {method:?} carries exactly one booking; {count} were given.")]
    OneEventPerMessage { method: Method, count: usize },
    #[error("A calendar {method:?} cannot carry a booking whose status is {status:?}.")]
    StatusDoesNotFit { method: Method, status: EventStatus },
}

impl CalendarSender {
    /// `practice_name` (shown as the feed's name) and `host` (the site's host, which makes UIDs
    /// unique to this practice). Each event's summary is the neutral default title until
    /// [`CalendarSender::with_title`] gives the practice's own.
    pub fn new(practice_name: &str, host: &str) -> Result<Self, CalendarError> {
        let name = practice_name.trim();
        if name.is_empty() || name.chars().count() > NAME_MAX || name.chars().any(char::is_control)
        {
            return Err(CalendarError::Name);
        }
        check_neutral(name)?;
        if !is_host(host) {
            return Err(CalendarError::Host(host.to_owned()));
        }
        check_neutral(host)?;
        Ok(CalendarSender {
            name: name.to_owned(),
            host: host.to_ascii_lowercase(),
            title: crate::neutral::DEFAULT_EVENT_TITLE.to_owned(),
            organizer: None,
        })
    }

    /// Gives each event the practice's chosen title, checked by the practice's rule: one line
    /// that never names the treatment.
    pub fn with_title(mut self, title: &str) -> Result<Self, CalendarError> {
        crate::neutral::check_event_title(title)?;
        self.title = title.trim().to_owned();
        Ok(self)
    }

    /// Names the practice's email address as the events' organizer, so calendars that answer
    /// invitations know where to.
    pub fn with_organizer(mut self, email: &str) -> Result<Self, CalendarError> {
        let valid = match email.rsplit_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && local.len() <= 64
                    && local
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || ".!#$%&'*+/=?^_`{|}~-".contains(c))
                    && is_host(domain)
            }
            None => false,
        };
        if !valid {
            return Err(CalendarError::Organizer(email.to_owned()));
        }
        check_neutral(email)?;
        self.organizer = Some(email.to_owned());
        Ok(self)
    }
}

/// Refuses what names the treatment (the rule is the practice's: `practice::neutral`).
fn check_neutral(text: &str) -> Result<(), CalendarError> {
    match crate::neutral::treatment_named_in(text) {
        Some(word) => Err(CalendarError::NamesTreatment {
            word: word.to_owned(),
        }),
        None => Ok(()),
    }
}

/// The calendar file: `method` for `events`, created at `stamp` (the DTSTAMP, normally now).
///
/// A request carries one event that is tentative or confirmed; a cancellation carries one
/// cancelled event; a feed carries any number (an empty feed is written with no event, which
/// calendar programs read as "no bookings").
pub fn write(
    method: Method,
    sender: &CalendarSender,
    events: &[ConsultationEvent<'_>],
    stamp: Timestamp,
) -> Result<String, CalendarError> {
    if method != Method::Publish && events.len() != 1 {
        return Err(CalendarError::OneEventPerMessage {
            method,
            count: events.len(),
        });
    }
    for e in events {
        let fits = match method {
            Method::Request => e.status != EventStatus::Cancelled,
            Method::Cancel => e.status == EventStatus::Cancelled,
            Method::Publish => true,
        };
        if !fits {
            return Err(CalendarError::StatusDoesNotFit {
                method,
                status: e.status,
            });
        }
        if e.end.as_second() <= e.start.as_second() {
            return Err(CalendarError::EndNotAfterStart {
                reference: e.reference,
            });
        }
        if let Some(Join::Video(place) | Join::Call(place)) = e.join {
            check_neutral(place)?;
        }
    }
    let mut out = Lines::default();
    out.line("BEGIN", "VCALENDAR");
    out.line("VERSION", "2.0");
    out.line("PRODID", &format!("-//{}//Consultations//EN", sender.host));
    out.line("CALSCALE", "GREGORIAN");
    out.line("METHOD", method.as_str());
    if method == Method::Publish {
        out.text("X-WR-CALNAME", &format!("Consultations: {}", sender.name));
    }
    // DTSTAMP is the same for every event: they are written together.
    let stamp = utc(stamp).ok_or(CalendarError::StampOutOfRange)?;
    for e in events {
        let out_of_range = CalendarError::OutOfRange {
            reference: e.reference,
        };
        let (start, end) = match (utc(e.start), utc(e.end)) {
            (Some(start), Some(end)) => (start, end),
            _ => return Err(out_of_range),
        };
        out.line("BEGIN", "VEVENT");
        out.line("UID", &format!("booking-{}@{}", e.reference, sender.host));
        out.line("DTSTAMP", &stamp);
        out.line("DTSTART", &start);
        out.line("DTEND", &end);
        out.line("SEQUENCE", &e.sequence.to_string());
        out.line("STATUS", e.status.as_str());
        out.text("SUMMARY", &sender.title);
        let join = match e.join {
            Some(Join::Video(address)) => format!("\nJoin the video call: {address}"),
            Some(Join::Call(number)) => format!("\nCall {number} at the time of the consultation."),
            None => String::new(),
        };
        out.text(
            "DESCRIPTION",
            &format!(
                "Initial consultation by {}.{join}\nReference: {}",
                match e.format {
                    ConsultationFormat::Video => "video call",
                    ConsultationFormat::Phone => "phone call",
                },
                e.reference
            ),
        );
        match e.join {
            Some(Join::Video(address)) => {
                out.text("LOCATION", address);
                // A URI value: the address was checked to hold no spaces, quotes or controls.
                out.line("URL", address);
            }
            Some(Join::Call(number)) => out.text("LOCATION", &format!("Phone: {number}")),
            None => {}
        }
        out.line("CLASS", "PRIVATE");
        out.line("TRANSP", "OPAQUE");
        if let Some(email) = &sender.organizer {
            out.line("ORGANIZER", &format!("mailto:{email}"));
        }
        out.line("END", "VEVENT");
    }
    out.line("END", "VCALENDAR");
    Ok(out.0)
}

/// `20250309T070000Z`: a UTC DATE-TIME, to the second; `None` outside the years 1 to 9999.
fn utc(t: Timestamp) -> Option<String> {
    let dt = Offset::UTC.to_datetime(t);
    if !(1..=9999).contains(&dt.year()) {
        return None;
    }
    Some(format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    ))
}

/// Content lines, each folded and ended with CRLF.
#[derive(Default)]
struct Lines(String);

impl Lines {
    /// A property whose value is written as given (not TEXT: no escaping needed).
    fn line(&mut self, name: &str, value: &str) {
        fold_into(&mut self.0, &format!("{name}:{value}"));
    }

    /// A TEXT property: the value escaped.
    fn text(&mut self, name: &str, value: &str) {
        fold_into(&mut self.0, &format!("{name}:{}", Escaped(value)));
    }
}

/// A TEXT value with backslash, semicolon, comma and line breaks escaped (RFC 5545 §3.3.11).
/// Other control characters are not allowed in TEXT, and are left out.
struct Escaped<'a>(&'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut chars = self.0.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' => f.write_str("\\\\")?,
                ';' => f.write_str("\\;")?,
                ',' => f.write_str("\\,")?,
                '\r' => {
                    if chars.peek() == Some(&'\n') {
                        chars.next();
                    }
                    f.write_str("\\n")?;
                }
                '\n' => f.write_str("\\n")?,
                '\t' => f.write_char('\t')?,
                c if c.is_control() => {}
                c => f.write_char(c)?,
            }
        }
        Ok(())
    }
}

/// Longest line, in octets, not counting its CRLF (RFC 5545 §3.1).
const LINE_MAX: usize = 75;

/// Appends `line` folded: after at most 75 octets, CRLF and a space begin a continuation line
/// (whose space counts towards its 75). Breaks fall between characters, never inside one.
fn fold_into(out: &mut String, line: &str) {
    let mut used = 0;
    for c in line.chars() {
        let n = c.len_utf8();
        if used + n > LINE_MAX {
            out.push_str("\r\n ");
            used = 1;
        }
        out.push(c);
        used += n;
    }
    out.push_str("\r\n");
}
