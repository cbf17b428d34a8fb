//! How the practice writes times and time zones for people: pages and emails use the same
//! words, so a time reads the same on the booking page, in the inbox and in the confirmation.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

/// "Eastern Time (America/New_York)": the practice's zone as people in the US name it.
pub fn zone_label(iana: &str) -> String {
    let common = match iana {
        "America/New_York"
        | "America/Detroit"
        | "America/Indiana/Indianapolis"
        | "America/Kentucky/Louisville" => Some("Eastern Time"),
        "America/Chicago" => Some("Central Time"),
        "America/Denver" | "America/Boise" | "America/Phoenix" => Some("Mountain Time"),
        "America/Los_Angeles" => Some("Pacific Time"),
        "America/Anchorage" => Some("Alaska Time"),
        "Pacific/Honolulu" => Some("Hawaii Time"),
        _ => None,
    };
    match common {
        Some(name) => format!("{name} ({iana})"),
        None => iana.to_string(),
    }
}

/// "Tuesday, March 11, 2025 at 9:00 AM PDT": an instant on the practice's clocks, in full.
pub fn long_time(t: Timestamp, time_zone: &TimeZone) -> String {
    t.to_zoned_datetime(time_zone.clone())
        .strftime("%A, %B %-d, %Y at %-I:%M %p %Z")
        .to_string()
}

/// "Tuesday, March 11": a day's heading.
pub fn day_heading(date: Date) -> String {
    date.strftime("%A, %B %-d").to_string()
}

/// "within 24 hours", "within 1 hour": when the clinician gets in touch after an answer about
/// self-harm.
pub fn within_hours(hours: u32) -> String {
    if hours == 1 {
        "within 1 hour".to_string()
    } else {
        format!("within {hours} hours")
    }
}

/// "9:00 AM": an instant on the practice's clocks.
pub fn clock(t: Timestamp, time_zone: &TimeZone) -> String {
    t.to_zoned_datetime(time_zone.clone())
        .strftime("%-I:%M %p")
        .to_string()
}

/// When the clinician will confirm a held time, as it reads after "will confirm it": the
/// practice's usual reply time, unless the time begins sooner than that could be kept. The
/// reply time is the owner's phrase ("within two business days"), so its length is not known:
/// a time within a day is confirmed "before it begins"; within a week (when two business days
/// may run past it, over a weekend), the usual time "and always before it begins".
pub fn confirm_by(start: Timestamp, now: Timestamp, reply_time: &str) -> String {
    let ahead = start.duration_since(now);
    if ahead <= jiff::SignedDuration::from_hours(24) {
        "before it begins".to_string()
    } else if ahead <= jiff::SignedDuration::from_hours(7 * 24) {
        format!("{reply_time}, and always before it begins")
    } else {
        reply_time.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_time_sooner_than_the_usual_reply_is_confirmed_before_it_begins() {
        let now: Timestamp = "2026-03-06T15:00:00Z".parse().expect("now");
        let at = |hours: i64| now + jiff::SignedDuration::from_hours(hours);
        let usual = "within two business days";
        // Held 2.5 hours ahead: "within two business days" would come after the time.
        let soon = now + jiff::SignedDuration::from_mins(150);
        assert_eq!(confirm_by(soon, now, usual), "before it begins");
        assert_eq!(
            confirm_by(at(72), now, usual),
            "within two business days, and always before it begins"
        );
        assert_eq!(confirm_by(at(10 * 24), now, usual), usual);
    }

    fn tz() -> TimeZone {
        TimeZone::get("America/New_York").expect("tzdata")
    }

    #[test]
    fn times_read_as_people_say_them() {
        let t: Timestamp = "2025-03-11T16:00:00Z".parse().expect("ts");
        assert_eq!(
            long_time(t, &tz()),
            "Tuesday, March 11, 2025 at 12:00 PM EDT"
        );
        assert_eq!(clock(t, &tz()), "12:00 PM");
        assert_eq!(
            day_heading(jiff::civil::date(2025, 3, 11)),
            "Tuesday, March 11"
        );
    }

    #[test]
    fn zones_are_named_as_people_say_them() {
        assert_eq!(
            zone_label("America/New_York"),
            "Eastern Time (America/New_York)"
        );
        assert_eq!(zone_label("Europe/Berlin"), "Europe/Berlin");
    }
}
