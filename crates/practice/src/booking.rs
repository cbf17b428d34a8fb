//! Booking the initial consultation: where a booking stands and what the clinician may decide.
//!
//! A consultation request has at most one booking, which moves as things change: the person
//! chooses a time (held), the clinician confirms it, declines it, or asks for another time; the
//! person may cancel, or choose again after cancelling or being asked. Closing the request
//! cancels a time that has not begun. Only a held or confirmed booking takes its time: the
//! database itself refuses two of them at the same start.
//!

use jiff::Timestamp;
use jiff::civil::Weekday;

crate::text_forms! {
    /// Where a booking stands.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub enum BookingStatus {
        /// Chosen by the person, waiting for the clinician.
        Held = "held" => "Waiting for confirmation",
        Confirmed = "confirmed" => "Confirmed",
        /// The clinician cannot meet at that time, and does not ask for another online.
        Declined = "declined" => "Declined",
        /// Cancelled: by the person, or because the clinician closed the request.
        Cancelled = "cancelled" => "Cancelled",
        /// The clinician asked the person to choose another time.
        ProposedOtherTime = "proposed_other_time" => "Asked to choose another time",
    }
}

impl BookingStatus {
    /// Whether the booking takes its time (and a place in its day's cap).
    pub fn takes_time(self) -> bool {
        matches!(self, BookingStatus::Held | BookingStatus::Confirmed)
    }

    /// Whether the person may choose a time now (a first time, a new one, or a change).
    pub fn person_may_choose(self) -> bool {
        self != BookingStatus::Declined
    }

    /// Whether closing the request cancels a booking that stands here and starts at `start`: a
    /// held or confirmed time that has not begun. A consultation that has begun or taken place
    /// stays as it was.
    pub fn cancelled_by_closing(self, start: Timestamp, now: Timestamp) -> bool {
        self.takes_time() && start > now
    }
}

/// What the clinician may do with a booking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClinicianDecision {
    Confirm,
    Decline,
    ProposeOtherTime,
}

impl ClinicianDecision {
    /// Whether the decision applies to a booking that stands at `status`.
    pub fn applies_to(self, status: BookingStatus) -> bool {
        match self {
            ClinicianDecision::Confirm => status == BookingStatus::Held,
            ClinicianDecision::Decline | ClinicianDecision::ProposeOtherTime => status.takes_time(),
        }
    }

    /// The status the booking moves to.
    pub fn outcome(self) -> BookingStatus {
        match self {
            ClinicianDecision::Confirm => BookingStatus::Confirmed,
            ClinicianDecision::Decline => BookingStatus::Declined,
            ClinicianDecision::ProposeOtherTime => BookingStatus::ProposedOtherTime,
        }
    }
}

/// Longest message a clinician may send with a decline, in characters.
pub const DECLINE_MESSAGE_MAX: usize = 2000;

/// Checks the clinician's optional message to the person; `Ok(None)` when there is none.
pub fn decline_message(text: &str) -> Result<Option<String>, &'static str> {
    let text = text.trim().replace("\r\n", "\n");
    if text.is_empty() {
        return Ok(None);
    }
    if text.chars().count() > DECLINE_MESSAGE_MAX {
        return Err("The message must be 2,000 characters or fewer");
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err("The message includes characters that cannot be sent");
    }
    Ok(Some(text))
}

/// The weekdays, Monday first, with the short names they are stored under (and that the
/// settings form uses in its field names).
pub const WEEKDAYS: [(Weekday, &str); 7] = [
    (Weekday::Monday, "mon"),
    (Weekday::Tuesday, "tue"),
    (Weekday::Wednesday, "wed"),
    (Weekday::Thursday, "thu"),
    (Weekday::Friday, "fri"),
    (Weekday::Saturday, "sat"),
    (Weekday::Sunday, "sun"),
];

/// The short name of a weekday, as stored.
pub fn weekday_code(day: Weekday) -> &'static str {
    WEEKDAYS
        .iter()
        .find(|(d, _)| *d == day)
        .map(|(_, code)| *code)
        .unwrap_or("mon")
}

pub fn weekday_from_code(code: &str) -> Option<Weekday> {
    WEEKDAYS.iter().find(|(_, c)| *c == code).map(|(d, _)| *d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_fit_where_the_booking_stands() {
        assert!(ClinicianDecision::Confirm.applies_to(BookingStatus::Held));
        assert!(!ClinicianDecision::Confirm.applies_to(BookingStatus::Confirmed));
        assert!(ClinicianDecision::Decline.applies_to(BookingStatus::Confirmed));
        assert!(!ClinicianDecision::ProposeOtherTime.applies_to(BookingStatus::Cancelled));
        assert_eq!(decline_message("  "), Ok(None));
        let now = Timestamp::from_second(1_000_000).expect("instant");
        let later = Timestamp::from_second(1_000_060).expect("instant");
        assert!(BookingStatus::Confirmed.cancelled_by_closing(later, now));
        assert!(BookingStatus::Held.cancelled_by_closing(later, now));
        assert!(
            !BookingStatus::Confirmed.cancelled_by_closing(now, now),
            "it has begun"
        );
        assert!(!BookingStatus::ProposedOtherTime.cancelled_by_closing(later, now));
        assert!(decline_message("a\u{7}b").is_err());
    }
}
