//! The emails about a consultation booking: to the person (with the calendar file) and the
//! practice's notices.
//!
//! Each is written from the booking as it was when the change was made (the outbox row points at
//! that change), at the moment it is sent. The person's emails say what happened, what happens
//! next, and where to change or cancel (a signed link, see `auth/link.rs`); they repeat nothing
//! the person wrote, and the attached calendar file is neutral by construction (see
//! `calendar.rs`). The practice's notices say only that something happened, when, and where to
//! sign in.

use jiff::{SignedDuration, Timestamp};

use super::{BookingMail, Joining, Mail, MailKind, RequestLink, ToPerson, Written};
use auth::link::{self, LinkTokens};
use practice::calendar::{self, CalendarSender, ConsultationEvent, EventStatus, Join, Method};
use practice::meeting::{self, MeetingDetails};
use practice::open_times::ConsultationFormat;
use practice::wording::{clock, confirm_by, day_heading, long_time, zone_label};
use settings::config::Config;
use settings::crisis::Crisis;
use store::StoredBooking;

/// The sender of calendar files: the practice's name and its site's host, with the practice's
/// email as organizer when it is a plain address.
///
/// Each event is titled as the practice chose (`practice.calendar_title`, in force: the config
/// file or the inbox). A practice whose name or address names the treatment still sends
/// calendar files: the feed is then named for "the practice", and the events' unique ids use a
/// stand-in for the host made from its hash (the ids must be unique, not readable).
pub fn calendar_sender(config: &Config) -> Result<CalendarSender, calendar::CalendarError> {
    let name = if practice::neutral::names_treatment(&config.practice.name) {
        "the practice"
    } else {
        config.practice.name.as_str()
    };
    let host = practice::neutral::host_of(&config.server.base_url);
    let host = if practice::neutral::names_treatment(host) || host.is_empty() {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(host.as_bytes());
        format!("{}.practice", crypto::hex::hex(&digest[..8]))
    } else {
        host.to_string()
    };
    let sender = CalendarSender::new(name, &host)?;
    // The title was checked when the practice was read (file or inbox); a title that fails the
    // rule all the same leaves the neutral default.
    let sender = sender
        .clone()
        .with_title(&config.practice.calendar_title)
        .unwrap_or(sender);
    Ok(sender
        .clone()
        .with_organizer(&config.practice.email)
        .unwrap_or(sender))
}

/// "video call" or "phone call".
fn by(format: ConsultationFormat) -> &'static str {
    match format {
        ConsultationFormat::Video => "video call",
        ConsultationFormat::Phone => "phone call",
    }
}

/// Writes the email for a booking mail, or `None` when the row is not about a booking.
pub fn write(config: &Config, links: &LinkTokens, mail: &Mail) -> Option<Written> {
    // The booking, the request (a link back for the person, a page in the inbox for a
    // notice), and how to join, as this kind of mail has them.
    type About<'a> = (
        &'a BookingMail,
        Option<&'a RequestLink>,
        Option<i64>,
        &'a str,
        bool,
        Option<&'a Joining>,
        Option<SignedDuration>,
    );
    fn to_person<'a>(
        p: &'a ToPerson,
        joining: Option<&'a Joining>,
        time_left: Option<SignedDuration>,
    ) -> About<'a> {
        let q = p.questionnaire_offered && !p.questionnaire_done;
        (
            &p.booking,
            p.request.as_ref(),
            None,
            "",
            q,
            joining,
            time_left,
        )
    }
    let (b, request, request_id, reference, questionnaire_offered, joining, time_left) = match mail
    {
        Mail::BookingHeld(p)
        | Mail::BookingDeclined(p)
        | Mail::BookingOtherTime(p)
        | Mail::BookingCancelled(p) => to_person(p, None, None),
        Mail::BookingConfirmed(p, joining) => to_person(p, Some(joining), None),
        Mail::BookingReminder {
            person,
            joining,
            time_left,
        } => to_person(person, Some(joining), *time_left),
        Mail::BookingHeldNotice(n) | Mail::BookingCancelledNotice(n) => {
            let r = n.reference.as_str();
            (&n.booking, None, n.request_id, r, false, None, None)
        }
        _ => return None,
    };
    let practice = &config.practice;
    let tz = &practice.zone;
    let when = format!(
        "{}\n(times are in {})",
        long_time(b.start, tz),
        zone_label(&practice.time_zone)
    );
    let minutes = b.end.duration_since(b.start).as_mins();
    let what = format!("{minutes} minutes, by {}", by(b.format));
    let base = &config.server.base_url;
    let now = Timestamp::now();
    let link = request.map(|r| {
        format!(
            "{base}/book/{}",
            links.issue(r.id, &r.link_secret, link::expiry(now, Some(b.end)))
        )
    });
    let link = link.as_deref().unwrap_or(base.as_str());
    let clinician = &practice.clinician_name;
    let signature = format!(
        "{name}\n{email} | {phone}",
        name = practice.name,
        email = practice.email,
        phone = practice.phone
    );
    let crisis = format!(
        "If you are in crisis, please don't wait: {}.",
        Crisis::for_reader(&config.form, mail.person().is_some_and(|p| p.outside_us)).sentence()
    );
    let admin_link = match request_id {
        Some(id) => format!("{base}/admin/requests/{id}"),
        None => format!("{base}/admin/bookings"),
    };
    let privacy = "For privacy, this email holds no details of the person.";
    let meeting = joining.map(|j| j.meeting.clone()).unwrap_or_default();
    let join = meeting.how_to_join(b.format, joining.is_some_and(|j| j.phone_given));
    // The questionnaire before the consultation, by the same signed link, unless it is done.
    let questionnaire = if questionnaire_offered && link.contains("/book/") {
        format!(
            "Before we meet, {clinician} asks a few optional questions (about ten minutes): {}\n\n",
            link.replacen("/book/", "/questionnaire/", 1)
        )
    } else {
        String::new()
    };
    let (to_practice, subject, body, calendar) = match mail.kind() {
        MailKind::BookingHeld => (
            false,
            format!("Your consultation time is held - {}", practice.name),
            format!(
                "Thank you for choosing a time for your initial consultation with {clinician}.\n\nThis time is held for you:\n\n{when}\n{what}\n\nWhat happens next: {clinician} will confirm the time {reply}, and you will get another email then. The calendar invitation attached is marked tentative until the time is confirmed. The confirmation will say how you will meet.\n\nTo choose a different time or cancel: {link}\n\n{questionnaire}{crisis}\n\n{signature}\n",
                reply = confirm_by(b.start, now, &config.form.reply_time),
            ),
            Some((Method::Request, EventStatus::Tentative)),
        ),
        MailKind::BookingConfirmed => (
            false,
            format!("Your consultation is confirmed - {}", practice.name),
            format!(
                "{clinician} confirmed your initial consultation:\n\n{when}\n{what}\n\nHow to join: {join}\n\nThe calendar invitation attached replaces the tentative one.\n\nTo choose a different time or cancel: {link}\n\n{questionnaire}{crisis}\n\n{signature}\n"
            ),
            Some((Method::Request, EventStatus::Confirmed)),
        ),
        MailKind::BookingDeclined => {
            let message = match &b.message {
                Some(m) => format!("A message from {clinician}:\n\n{m}\n\n"),
                None => String::new(),
            };
            (
                false,
                format!("About your consultation time - {}", practice.name),
                format!(
                    "{clinician} cannot meet at the time you chose:\n\n{when}\n\n{message}The practice will be in touch about what is possible. The calendar file attached removes the time from your calendar if you added it.\n\n{crisis}\n\n{signature}\n"
                ),
                Some((Method::Cancel, EventStatus::Cancelled)),
            )
        }
        MailKind::BookingOtherTime => (
            false,
            format!(
                "Please choose another consultation time - {}",
                practice.name
            ),
            format!(
                "{clinician} asks you to choose another time for your initial consultation: the time you chose no longer works.\n\n{when}\n\nChoose a new time: {link}\n\nThe calendar file attached removes the earlier time from your calendar if you added it.\n\n{crisis}\n\n{signature}\n"
            ),
            Some((Method::Cancel, EventStatus::Cancelled)),
        ),
        MailKind::BookingCancelled if b.by_person => (
            false,
            format!("Your consultation is cancelled - {}", practice.name),
            format!(
                "As you asked, your initial consultation is cancelled:\n\n{when}\n\nIf you would like another time, you can choose one here: {link}\n\nThe calendar file attached removes the time from your calendar if you added it.\n\n{crisis}\n\n{signature}\n"
            ),
            Some((Method::Cancel, EventStatus::Cancelled)),
        ),
        // The practice closed the request: no link to choose again (it no longer books).
        MailKind::BookingCancelled => (
            false,
            format!("Your consultation is cancelled - {}", practice.name),
            format!(
                "{clinician} has cancelled your initial consultation:\n\n{when}\n\nThe consultation will not take place at this time. If you have a question about it, please reply to this email or call {phone}.\n\nThe calendar file attached removes the time from your calendar if you added it.\n\n{crisis}\n\n{signature}\n",
                phone = practice.phone,
            ),
            Some((Method::Cancel, EventStatus::Cancelled)),
        ),
        MailKind::BookingHeldNotice => (
            true,
            "Consultation time chosen".to_string(),
            format!(
                "A consultation time was chosen and waits for your confirmation:\n\n{when}\n{what}\n\nSign in to confirm it: {admin_link}\n\nReference: {reference}\n\n{privacy}\n"
            ),
            None,
        ),
        MailKind::BookingCancelledNotice => (
            true,
            "Consultation cancelled".to_string(),
            format!(
                "A consultation was cancelled by the person who booked it:\n\n{when}\n\nThe time is open again. Sign in to see the request: {admin_link}\n\nReference: {reference}\n\n{privacy}\n"
            ),
            None,
        ),
        MailKind::BookingReminder => {
            // The time really left: a reminder that waited for the mail server says so.
            let soon = match time_left {
                Some(left) => format!("in about {}", meeting::time_left(left)),
                None => "soon".to_string(),
            };
            (
                false,
                format!("Reminder: your consultation {soon} - {}", practice.name),
                format!(
                    "A reminder of your initial consultation with {clinician}, which begins {soon}:\n\n{when}\n{what}\n\nHow to join: {join}\n\nTo choose a different time or cancel: {link}\n\n{crisis}\n\n{signature}\n"
                ),
                None,
            )
        }
        MailKind::NewRequestNotice
        | MailKind::Acknowledgement
        | MailKind::DailyAgenda
        | MailKind::QuestionnaireLink
        | MailKind::QuestionnaireAttentionNotice
        | MailKind::QuestionnaireMailCheck
        | MailKind::QuestionnaireAttentionOverdue
        | MailKind::DocumentsLink
        | MailKind::DocumentsReminder
        | MailKind::BackupLate => return None,
    };
    let calendar = calendar.and_then(|(method, status)| {
        match invitation(config, b, method, status, &meeting, now) {
            Ok(ics) => Some((method, ics)),
            Err(e) => {
                tracing::warn!(kind = mail.kind().as_str(), error = %e, "booking email sent without its calendar file");
                None
            }
        }
    });
    Some(Written {
        to_practice,
        subject,
        body,
        calendar,
    })
}

/// The calendar file for the booking as this change left it.
fn invitation(
    config: &Config,
    b: &BookingMail,
    method: Method,
    status: EventStatus,
    meeting: &MeetingDetails,
    now: Timestamp,
) -> Result<String, calendar::CalendarError> {
    let sender = calendar_sender(config)?;
    // Only a confirmed consultation says how to join; a held time does not yet.
    let join = match (status, b.format) {
        (EventStatus::Confirmed, ConsultationFormat::Video) => {
            meeting.video_address.as_deref().map(Join::Video)
        }
        (EventStatus::Confirmed, ConsultationFormat::Phone) => {
            meeting.phone_number.as_deref().map(Join::Call)
        }
        _ => None,
    };
    let event = ConsultationEvent {
        reference: u64::try_from(b.booking_id).unwrap_or(0),
        format: b.format,
        start: b.start,
        end: b.end,
        sequence: u32::try_from(b.sequence).unwrap_or(u32::MAX),
        status,
        join,
    };
    calendar::write(method, &sender, &[event], now)
}

/// The paragraph of the acknowledgement that offers the booking page, when the request may
/// book online.
pub fn acknowledgement_link(
    config: &Config,
    links: &LinkTokens,
    booking_link: Option<&RequestLink>,
) -> String {
    match booking_link {
        Some(r) => format!(
            "You can choose a time for your initial consultation now: {}/book/{}\n\n",
            config.server.base_url,
            links.issue(r.id, &r.link_secret, link::expiry(Timestamp::now(), None))
        ),
        None => String::new(),
    }
}

/// The clinician's agenda for a day: each confirmed consultation's time, way of meeting and
/// reference number, and where to sign in. No names: the email passes through mail servers
/// and may be read on a phone's lock screen.
pub fn agenda(
    config: &Config,
    agenda: Option<&(jiff::civil::Date, Vec<StoredBooking>)>,
) -> Option<(String, String)> {
    let (day, bookings) = agenda?;
    let tz = &config.practice.zone;
    let heading = day_heading(*day);
    let mut lines = String::new();
    for b in bookings {
        lines.push_str(&format!(
            "{} - {} minutes by {} - reference {}\n",
            clock(b.start, tz),
            b.end.duration_since(b.start).as_mins(),
            by(b.format),
            b.reference
        ));
    }
    if bookings.is_empty() {
        lines.push_str("No confirmed consultations are left today.\n");
    }
    Some((
        format!("Today's consultations: {heading}"),
        format!(
            "Your confirmed consultations for {heading} (times are in {zone}):\n\n{lines}\nSign in to see each request: {base}/admin/bookings\n\nFor privacy, this email holds no names or details of the people.\n",
            zone = zone_label(&config.practice.time_zone),
            base = config.server.base_url,
        ),
    ))
}
