//! How the clinician and the person meet, and when the person is reminded.
//!
//! The clinician names, in the booking settings, their own video room (an address from whatever
//! telehealth service they use) and how a phone consultation works (the clinician calls the
//! number the person gave, or the person calls a number). A confirmed consultation is followed by
//! reminders at set times before it (by default a day and an hour before; each can be turned
//! off). These words travel in emails and calendar files that others may see, so a video address
//! that names the treatment is refused here, before it is stored.

use jiff::{SignedDuration, Timestamp};

use super::open_times::ConsultationFormat;

/// Longest video room address, in characters.
pub const VIDEO_ADDRESS_MAX: usize = 500;
/// The most hours before a consultation a reminder may leave (two weeks).
pub const REMINDER_HOURS_MAX: i64 = 336;
/// The reminders a practice starts with: a day, then an hour before.
pub const DEFAULT_REMINDERS: [i64; 2] = [24 * 60, 60];

/// The clinician's meeting details and reminder times.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeetingDetails {
    /// The clinician's video room (https), if set.
    pub video_address: Option<String>,
    /// A number the person calls for a phone consultation; `None` when the clinician calls the
    /// number the person gave.
    pub phone_number: Option<String>,
    /// Minutes before a confirmed consultation that each reminder leaves, largest first, no
    /// two the same.
    pub reminders: Vec<i64>,
    /// Whether the clinician gets an email each morning with the day's consultations.
    pub daily_agenda: bool,
}

impl Default for MeetingDetails {
    fn default() -> Self {
        MeetingDetails {
            video_address: None,
            phone_number: None,
            reminders: DEFAULT_REMINDERS.to_vec(),
            daily_agenda: false,
        }
    }
}

impl MeetingDetails {
    /// How the person joins a consultation by `format`, in one or two sentences;
    /// `phone_given` says whether the person gave a phone number with their request (the
    /// clinician who calls needs one, and a phone consultation may be booked without).
    pub fn how_to_join(&self, format: ConsultationFormat, phone_given: bool) -> String {
        match format {
            ConsultationFormat::Video => match &self.video_address {
                Some(address) => format!("Join the video call at {address}"),
                None => "The video call's address will be sent to you before the consultation."
                    .to_string(),
            },
            ConsultationFormat::Phone => match &self.phone_number {
                Some(number) => format!("Please call {number} at the time of the consultation."),
                None if phone_given => {
                    "You will be called at the phone number you gave.".to_string()
                }
                None => "The practice will contact you about how to join.".to_string(),
            },
        }
    }

    /// What a calendar shows as the event's place: the video address, or the number to call.
    pub fn location(&self, format: ConsultationFormat) -> Option<&str> {
        match format {
            ConsultationFormat::Video => self.video_address.as_deref(),
            ConsultationFormat::Phone => self.phone_number.as_deref(),
        }
    }

    /// The reminders as the settings describe them: "24 hours and 1 hour before", "none".
    pub fn reminders_in_words(&self) -> String {
        if self.reminders.is_empty() {
            return "none".into();
        }
        let each: Vec<String> = self.reminders.iter().map(|m| before(*m)).collect();
        format!("{} before", each.join(" and "))
    }

    /// The audit log's line for saved details: what is set, never the room or the number.
    pub fn audit_line(&self) -> String {
        let set = |v: &Option<String>| if v.is_some() { "set" } else { "not set" };
        format!(
            "meeting details: video room {}, number to call {}, reminders {}, daily agenda {}",
            set(&self.video_address),
            set(&self.phone_number),
            self.reminders_in_words(),
            if self.daily_agenda { "on" } else { "off" },
        )
    }
}

/// A reminder that was taken out of the outbox without being sent, as a request's history keeps
/// it: the kind and the reminder's set time, never a sentence (the inbox words it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReminderNotSent {
    /// The mail server could not be reached before the consultation began.
    Began { minutes_before: i64 },
    /// The mail server could not be reached until a nearer reminder was due, which went instead.
    NearerDue { minutes_before: i64 },
}

impl ReminderNotSent {
    /// The form kept in the history's detail: `began 1440`, `nearer-due 60`.
    pub fn encode(self) -> String {
        match self {
            ReminderNotSent::Began { minutes_before } => format!("began {minutes_before}"),
            ReminderNotSent::NearerDue { minutes_before } => format!("nearer-due {minutes_before}"),
        }
    }

    /// Reads [`ReminderNotSent::encode`]'s form back; `None` for anything else (such as the
    /// sentences older versions kept).
    pub fn decode(detail: &str) -> Option<Self> {
        let (kind, minutes) = detail.split_once(' ')?;
        let minutes_before = minutes.parse().ok()?;
        match kind {
            "began" => Some(ReminderNotSent::Began { minutes_before }),
            "nearer-due" => Some(ReminderNotSent::NearerDue { minutes_before }),
            _ => None,
        }
    }
}

/// "24 hours", "1 hour", "90 minutes".
pub fn before(minutes: i64) -> String {
    match minutes {
        60 => "1 hour".into(),
        m if m % 60 == 0 => format!("{} hours", m / 60),
        1 => "1 minute".into(),
        m => format!("{m} minutes"),
    }
}

/// The time left before a consultation as a reminder says it, to the nearest hour from an
/// hour and a half on ("24 hours", "3 hours"), else "1 hour" from 55 minutes, else in minutes.
pub fn time_left(left: SignedDuration) -> String {
    let secs = left.as_secs().max(0);
    // Whole minutes, rounded up: "in about 0 minutes" would say nothing.
    let minutes = (secs + 59) / 60;
    match minutes {
        m if m >= 90 => before((m + 30) / 60 * 60),
        m if m >= 55 => before(60),
        m => before(m.max(1)),
    }
}

/// Checks a video room address as typed; `Ok(None)` when it is empty.
pub fn video_address(text: &str) -> Result<Option<String>, &'static str> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if text.chars().count() > VIDEO_ADDRESS_MAX {
        return Err("The video room address must be 500 characters or fewer");
    }
    let Some(rest) = text.strip_prefix("https://") else {
        return Err(
            "Enter the video room address as it starts in your browser, with https://, like https://meet.example.com/your-room",
        );
    };
    if text
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '<' | '>' | '\\'))
    {
        return Err("The video room address cannot contain spaces or quotation marks");
    }
    let host = crate::neutral::host_of(text);
    let host_ok = !host.is_empty()
        && host.contains('.')
        && host
            .split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    if !host_ok || rest.starts_with('@') {
        return Err(
            "Enter a video room address with a web address after https://, like https://meet.example.com/your-room",
        );
    }
    if crate::neutral::names_treatment(text) {
        return Err(
            "The video room address appears in people’s calendars and emails, so it must not name the treatment: use a neutral room name",
        );
    }
    Ok(Some(text.to_string()))
}

/// Checks the number a person calls, as typed; `Ok(None)` when it is empty (the clinician calls).
pub fn phone_number(text: &str) -> Result<Option<String>, &'static str> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let digits = text.chars().filter(char::is_ascii_digit).count();
    let allowed = text
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '+' | '-' | '(' | ')' | '.'));
    if !allowed || !(7..=15).contains(&digits) || text.chars().count() > 30 {
        return Err(
            "Enter the number to call with digits, spaces, + - ( ) only, like (510) 555-0123",
        );
    }
    Ok(Some(text.to_string()))
}

/// Checks a reminder time in whole hours as typed; `Ok(None)` when it is empty (turned off).
pub fn reminder_hours(text: &str) -> Result<Option<i64>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    match text.parse::<i64>() {
        Ok(h) if (1..=REMINDER_HOURS_MAX).contains(&h) && text.len() <= 3 => Ok(Some(h * 60)),
        _ => Err(format!(
            "Enter the reminder time in whole hours from 1 to {REMINDER_HOURS_MAX}, like 24, or leave it empty for no reminder"
        )),
    }
}

/// The reminders of a consultation starting at `start`, confirmed at `confirmed_at`, that are
/// due at `now`, as `(minutes before, whether it is the one to send)`.
///
/// A reminder is due once its moment has come, if the consultation has not started and the
/// moment came after the confirmation (a consultation confirmed an hour before it starts gets no
/// "tomorrow" reminder). When several are due at once (the servers were down across more than
/// one moment) only the nearest to the start is sent; the others are recorded as skipped.
pub fn due_reminders(
    reminders: &[i64],
    start: Timestamp,
    confirmed_at: Timestamp,
    now: Timestamp,
) -> Vec<(i64, bool)> {
    if now >= start {
        return Vec::new();
    }
    let mut due: Vec<i64> = reminders
        .iter()
        .copied()
        .filter(|m| {
            let moment = start
                .checked_sub(SignedDuration::from_mins(*m))
                .unwrap_or(start);
            moment <= now && moment > confirmed_at
        })
        .collect();
    due.sort_unstable();
    due.iter().enumerate().map(|(i, m)| (*m, i == 0)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_audit_line_says_what_is_set_and_never_the_room_or_the_number() {
        let details = MeetingDetails {
            video_address: Some("https://meet.example.com/room-4711".into()),
            phone_number: Some("+1 555 0100".into()),
            reminders: vec![1440, 60],
            daily_agenda: false,
        };
        let line = details.audit_line();
        assert_eq!(
            line,
            format!(
                "meeting details: video room set, number to call set, reminders {}, daily agenda off",
                details.reminders_in_words()
            )
        );
        assert!(
            !line.contains("room-4711") && !line.contains("0100"),
            "{line}"
        );
        let none = MeetingDetails {
            video_address: None,
            phone_number: None,
            ..details
        };
        assert!(
            none.audit_line()
                .contains("video room not set, number to call not set")
        );
    }

    #[test]
    fn a_reminder_not_sent_is_kept_as_its_kind_and_set_time() {
        for e in [
            ReminderNotSent::Began {
                minutes_before: 1440,
            },
            ReminderNotSent::NearerDue { minutes_before: 60 },
        ] {
            assert_eq!(ReminderNotSent::decode(&e.encode()), Some(e));
        }
        assert_eq!(
            ReminderNotSent::Began { minutes_before: 60 }.encode(),
            "began 60"
        );
        assert_eq!(
            ReminderNotSent::decode("Reminder (1 hour before) not sent: the mail server"),
            None
        );
    }

    fn at(s: &str) -> Timestamp {
        s.parse().expect("instant")
    }

    #[test]
    fn video_addresses_must_be_https_and_neutral() {
        assert_eq!(video_address("  "), Ok(None));
        assert_eq!(
            video_address(" https://meet.example.com/room-7 "),
            Ok(Some("https://meet.example.com/room-7".into()))
        );
        let too_long = format!("https://a.example/{}", "x".repeat(500));
        for refused in [
            "http://meet.example.com/x",
            "meet.example.com/x",
            "https://",
            "https://meet example.com",
            "https://localhost/x",
            "https://doxy.me/ketamine-clinic",
            &too_long,
        ] {
            assert!(video_address(refused).is_err(), "{refused}");
        }
    }

    #[test]
    fn phone_numbers_and_reminder_hours_are_read_plainly() {
        assert_eq!(phone_number(""), Ok(None));
        assert_eq!(
            phone_number("(510) 555-0123"),
            Ok(Some("(510) 555-0123".into()))
        );
        for refused in ["call me", "12"] {
            assert!(phone_number(refused).is_err(), "{refused}");
        }
        assert_eq!(reminder_hours(""), Ok(None));
        assert_eq!(reminder_hours("24"), Ok(Some(1440)));
        for refused in ["0", "1.5", "337"] {
            assert!(reminder_hours(refused).is_err(), "{refused}");
        }
    }

    #[test]
    fn reminders_fall_due_at_their_moment_and_only_before_the_start() {
        let start = at("2030-05-02T15:00:00Z");
        let confirmed = at("2030-04-28T10:00:00Z");
        let r = [1440, 60];
        assert!(due_reminders(&r, start, confirmed, at("2030-05-01T14:59:59Z")).is_empty());
        assert_eq!(
            due_reminders(&r, start, confirmed, at("2030-05-01T15:00:00Z")),
            vec![(1440, true)]
        );
        assert_eq!(
            due_reminders(&r, start, confirmed, at("2030-05-02T14:00:00Z")),
            vec![(60, true), (1440, false)]
        );
        assert!(due_reminders(&r, start, confirmed, start).is_empty());
        // Confirmed two hours before: no "a day before" reminder, the hour's one comes.
        let late = at("2030-05-02T13:00:00Z");
        assert!(due_reminders(&r, start, late, at("2030-05-02T13:30:00Z")).is_empty());
        assert_eq!(
            due_reminders(&r, start, late, at("2030-05-02T14:00:00Z")),
            vec![(60, true)]
        );
    }

    #[test]
    fn the_time_left_is_said_as_a_person_would() {
        let said = |secs: i64| time_left(SignedDuration::from_secs(secs));
        assert_eq!(said(24 * 3600), "24 hours");
        assert_eq!(said(24 * 3600 - 50), "24 hours");
        assert_eq!(said(2 * 3600 + 29 * 60), "2 hours");
        assert_eq!(said(2 * 3600 + 30 * 60), "3 hours");
        assert_eq!(said(90 * 60), "2 hours");
        assert_eq!(said(89 * 60), "1 hour");
        assert_eq!(said(3600), "1 hour");
        assert_eq!(said(55 * 60), "1 hour");
        assert_eq!(said(54 * 60), "54 minutes");
        assert_eq!(said(30 * 60 - 20), "30 minutes");
        assert_eq!(said(61), "2 minutes");
        assert_eq!(said(1), "1 minute");
        assert_eq!(said(0), "1 minute");
    }

    #[test]
    fn details_say_how_to_join() {
        let mut d = MeetingDetails::default();
        assert_eq!(d.reminders_in_words(), "24 hours and 1 hour before");
        assert!(
            d.how_to_join(ConsultationFormat::Phone, true)
                .contains("number you gave")
        );
        assert_eq!(
            d.how_to_join(ConsultationFormat::Phone, false),
            "The practice will contact you about how to join."
        );
        d.video_address = Some("https://meet.example.com/r".into());
        d.phone_number = Some("(510) 555-0123".into());
        assert_eq!(
            d.location(ConsultationFormat::Video),
            Some("https://meet.example.com/r")
        );
        assert!(
            d.how_to_join(ConsultationFormat::Phone, false)
                .contains("(510) 555-0123")
        );
        d.reminders.clear();
        assert_eq!(d.reminders_in_words(), "none");
    }
}
