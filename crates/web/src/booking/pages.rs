//! The booking pages' views: the times to choose from, and where a booking stands.

use super::*;
use crate::site::LocationQuestion;

/// The form with `open` times, in the state given.
pub(super) struct TimesForm<'a> {
    pub(super) token: &'a str,
    pub(super) rules: &'a BookingRules,
    pub(super) open: &'a [OpenTime],
    pub(super) choice: &'a Choice,
    pub(super) heading: &'a str,
    pub(super) notice: Option<String>,
    pub(super) time_error: Option<String>,
    pub(super) format_error: Option<String>,
    pub(super) location_error: Option<String>,
    pub(super) nearest_only: bool,
    pub(super) back: bool,
}

/// The zone's offset from UTC in minutes at `times`, if it is the same at each.
fn one_offset(tz: &jiff::tz::TimeZone, times: &[OpenTime]) -> Option<i32> {
    let mut offsets = times.iter().map(|t| tz.to_offset(t.start).seconds() / 60);
    let first = offsets.next()?;
    offsets.all(|o| o == first).then_some(first)
}

pub(super) fn times_page(state: &AppState, f: TimesForm<'_>) -> BookPage {
    let tz = &state.time_zone();
    let days: Vec<DayChoice> = by_day(tz, f.open)
        .into_iter()
        .map(|day| DayChoice {
            id: format!("day-{}", day.date),
            heading: day_heading(day.date),
            offset: one_offset(tz, &day.times),
            times: day
                .times
                .iter()
                .map(|t| {
                    let value = t.start.to_string();
                    TimeChoice {
                        id: format!("start-{}", t.start.as_millisecond()),
                        checked: value == f.choice.start,
                        label: clock(t.start, tz),
                        value,
                    }
                })
                .collect(),
        })
        .collect();
    let first_time = days
        .first()
        .and_then(|d| d.times.first())
        .map(|t| t.id.clone())
        .unwrap_or_else(|| "main".into());
    let mut errors = Vec::new();
    if let Some(e) = &f.time_error {
        errors.push(ErrorLink {
            target: first_time,
            message: e.clone(),
        });
    }
    if let Some(e) = &f.format_error {
        let target = f
            .rules
            .formats
            .first()
            .map(|x| format!("format-{}", x.as_str()))
            .unwrap_or_default();
        errors.push(ErrorLink {
            target,
            message: e.clone(),
        });
    }
    if let Some(e) = &f.location_error {
        errors.push(ErrorLink {
            target: "location".to_string(),
            message: e.clone(),
        });
    }
    let config = state.config();
    let practice = &config.practice;
    let title = if errors.is_empty() {
        format!("Choose a consultation time · {}", practice.name)
    } else {
        format!("Error: Choose a consultation time · {}", practice.name)
    };
    BookPage {
        title,
        heading: f.heading.to_string(),
        notice: f.notice,
        action: format!("/book/{}", f.token),
        all_times_href: f.nearest_only.then(|| format!("/book/{}", f.token)),
        zone: practice.time_zone.clone(),
        zone_label: zone_label(&practice.time_zone),
        length_minutes: f.rules.length.as_mins(),
        days,
        formats: f
            .rules
            .formats
            .iter()
            .map(|x| FormatChoice {
                id: format!("format-{}", x.as_str()),
                value: x.as_str(),
                label: x.label(),
                checked: x.as_str() == f.choice.format,
            })
            .collect(),
        errors,
        time_error: f.time_error,
        format_error: f.format_error,
        location: LocationQuestion::new(
            practice,
            f.choice.location.clone().unwrap_or_default(),
            f.location_error,
        ),
        back_href: f.back.then(|| format!("/book/{}", f.token)),
    }
}

/// The rules and the times open to request `id` now.
pub(super) async fn open_for(
    state: &AppState,
    id: i64,
    now: Timestamp,
) -> Result<(BookingRules, Vec<OpenTime>), AppError> {
    let rules = state.store.booking_rules(&state.time_zone()).await?;
    let taken = state.store.taken_times(now, id).await?;
    let open = open_times(&rules, &taken, now);
    Ok((rules, open))
}

fn what(b: &StoredBooking) -> String {
    format!(
        "{} minutes, by {}",
        b.end.duration_since(b.start).as_mins(),
        b.format.label().to_lowercase()
    )
}

/// Where a booking stands, for the person.
pub(super) fn status_page(
    state: &AppState,
    token: &str,
    b: &StoredBooking,
    now: Timestamp,
) -> BookingPage {
    let practice = &state.config().practice;
    let clinician = &practice.clinician_name;
    let ahead = b.start > now;
    let mut page = BookingPage {
        heading: String::new(),
        success: false,
        when: Some(long_time(b.start, &state.time_zone())),
        what: Some(what(b)),
        zone_label: zone_label(&practice.time_zone),
        paragraphs: Vec::new(),
        change_href: ahead.then(|| format!("/book/{token}/change")),
        cancel_action: ahead.then(|| format!("/book/{token}/cancel")),
        questionnaire_href: None,
    };
    match b.status {
        BookingStatus::Held => {
            page.heading = "Your consultation time is held".into();
            page.success = true;
            page.paragraphs.push(format!(
                "{clinician} will confirm it {}, by email.",
                practice::wording::confirm_by(b.start, now, &state.config().form.reply_time)
            ));
            if state.mail_enabled {
                page.paragraphs.push(
                    "You are sent an email with a calendar invitation, and a link back to this page to change or cancel the time."
                        .into(),
                );
            }
        }
        BookingStatus::Confirmed => {
            page.heading = "Your consultation is confirmed".into();
            page.success = true;
            page.paragraphs.push(
                "The confirmation email says how you will meet, with a calendar invitation.".into(),
            );
        }
        BookingStatus::Declined => {
            page.heading = "The practice will be in touch".into();
            page.when = None;
            page.what = None;
            page.change_href = None;
            page.cancel_action = None;
            page.paragraphs.push(format!(
                "{clinician} cannot meet at the time you chose, and will get in touch about what is possible."
            ));
        }
        BookingStatus::Cancelled | BookingStatus::ProposedOtherTime => {}
    }
    if !ahead && b.status.takes_time() {
        page.paragraphs
            .push("This time has passed, so it can no longer be changed here.".into());
    }
    page
}
