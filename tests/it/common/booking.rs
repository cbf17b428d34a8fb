//! Booking for the tests: the practice's hours offered, a request sent and its booking link
//! followed, a time held, and the mail and calendar files as Python's `email` and `icalendar`
//! packages read them.

use jiff::civil::{Weekday, time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use practice::open_times::{AvailabilityWindow, Booking, BookingRules};
use serde_json::Value;
use store::{ListedBooking, StoredBooking};

use super::{Reply, SmtpServer, TestApp};

pub const ZONE: &str = "America/New_York";

/// Words from the person's request that must never reach an email's calendar file, the feed,
/// the audit log or the practice's notices.
pub const NAME: &str = "Zephyrine Quillfeather";
pub const MESSAGE: &str = "Since the accident nothing helps; marker-msg-5521";

pub fn config(smtp_port: Option<u16>, extra: &str) -> String {
    let mail = match smtp_port {
        Some(port) => format!(
            "\n[mail]\nsmtp_url = \"smtp://127.0.0.1:{port}\"\nnotify_email = \"inbox@practice.example\"\nretry_base_seconds = 1\nretry_max_seconds = 1\n"
        ),
        None => String::new(),
    };
    format!(
        "[practice]\nemail = \"hello@practice.example\"\ntime_zone = \"{ZONE}\"\n\n[contact_form]\nrate_limit_per_hour = 200\n{extra}\n{mail}"
    )
}

pub async fn start(smtp_port: Option<u16>, extra: &str) -> TestApp {
    let app = TestApp::with_config(&config(smtp_port, extra)).await;
    app.add_clinician().await;
    app
}

/// The server with its mail going to a real SMTP server on loopback, offering the mornings;
/// the folder holds the mail server's messages and is kept as long as the test keeps it.
pub async fn offering_with_mail() -> (tempfile::TempDir, SmtpServer, TestApp) {
    let dir = tempfile::tempdir().expect("tempdir");
    let smtp = SmtpServer::start(dir.path());
    let app = start(Some(smtp.port), "").await;
    offer(&app, &mornings()).await;
    (dir, smtp, app)
}

pub fn zone() -> TimeZone {
    TimeZone::get(ZONE).expect("tzdata")
}

/// Mornings every day, 9:00 to 12:00, bookable a week ahead with the default notice.
pub fn mornings() -> BookingRules {
    mornings_in(zone())
}

/// The same mornings in `time_zone`.
pub fn mornings_in(time_zone: TimeZone) -> BookingRules {
    every_day(time_zone, (9, 12), 7)
}

/// Open every day from the first to the second hour of `hours`, bookable `days` ahead with the
/// default notice.
pub fn every_day(time_zone: TimeZone, hours: (i8, i8), days: i64) -> BookingRules {
    let mut rules = BookingRules::new(time_zone);
    rules.horizon = SignedDuration::from_hours(days * 24);
    for weekday in [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
        Weekday::Saturday,
        Weekday::Sunday,
    ] {
        rules.windows.push(AvailabilityWindow {
            weekday,
            start: time(hours.0, 0, 0, 0),
            end: time(hours.1, 0, 0, 0),
        });
    }
    rules
}

pub async fn offer(app: &TestApp, rules: &BookingRules) {
    app.state
        .store
        .save_booking_rules(rules, "test", Timestamp::now())
        .await
        .expect("rules saved");
}

/// Sends a request through the form and follows the thank-you page's link: (request id, path
/// of the booking page).
pub async fn request_and_link(
    app: &TestApp,
    name: &str,
    changes: &[(&str, &str)],
) -> (i64, String) {
    let r = app.submitted(name, changes).await;
    let html = app.page(r.header("location").expect("location")).await;
    let link = booking_link(&html).unwrap_or_else(|| panic!("a booking link on {html}"));
    let id = app.last_request_id().await;
    (id, link)
}

/// A booking link for request `id`, signed with its link secret, good until `until`.
pub async fn link_to(app: &TestApp, id: i64, until: Timestamp) -> String {
    let secret = link_secret(app, id).await;
    format!("/book/{}", app.state.links.issue(id, &secret, until))
}

/// The link secret of request `id`, which must exist.
pub async fn link_secret(app: &TestApp, id: i64) -> String {
    app.state
        .store
        .link_secret(id)
        .await
        .expect("read")
        .expect("the request exists")
}

/// The booking of request `id`, if it has one.
pub async fn booking_for(app: &TestApp, id: i64) -> Option<StoredBooking> {
    app.state.store.booking_for_request(id).await.expect("read")
}

/// The booking of request `id`, which must have one.
pub async fn booking_of(app: &TestApp, id: i64) -> StoredBooking {
    booking_for(app, id).await.expect("booked")
}

/// The times held or booked now, which no one else can choose.
pub async fn taken_times(app: &TestApp) -> Vec<Booking> {
    app.state
        .store
        .taken_times(Timestamp::now(), 0)
        .await
        .expect("read")
}

/// The bookings as the inbox lists them now: the upcoming ones, and up to `past` past ones.
pub async fn bookings(app: &TestApp, past: i64) -> (Vec<ListedBooking>, Vec<ListedBooking>) {
    app.state
        .store
        .list_bookings(Timestamp::now(), past)
        .await
        .expect("bookings")
}

/// The path of the booking page a thank-you page links to.
pub fn booking_link(html: &str) -> Option<String> {
    let start = html.find("href=\"/book/")? + 6;
    let end = start + html[start..].find('"')?;
    Some(html[start..end].to_string())
}

/// The values of the time radio buttons on a page, in order.
pub fn times_in(html: &str) -> Vec<String> {
    html.match_indices("name=\"start\" type=\"radio\" value=\"")
        .map(|(i, m)| {
            let from = i + m.len();
            html[from..from + html[from..].find('"').expect("end")].to_string()
        })
        .collect()
}

pub use super::questionnaire::post as post_form;

/// Chooses `start` to meet by video.
pub async fn choose(app: &TestApp, link: &str, start: &str) -> Reply {
    choose_to_meet(app, link, start, "video").await
}

/// Chooses `start` to meet in `format` (`video` or `phone`).
pub async fn choose_to_meet(app: &TestApp, link: &str, start: &str, format: &str) -> Reply {
    post_form(app, link, &[("start", start), ("format", format)]).await
}

/// Chooses `start` to meet by video, saying the person will be in `location` (a state's code)
/// during the session.
pub async fn choose_from(app: &TestApp, link: &str, start: &str, location: &str) -> Reply {
    post_form(
        app,
        link,
        &[
            ("start", start),
            ("format", "video"),
            ("location", location),
        ],
    )
    .await
}

/// An email as Python's `email` and `icalendar` packages read it.
pub const READ_MAIL: &str = r#"
import datetime, json, sys
from email import policy
from email.parser import BytesParser
from icalendar import Calendar

def when(ev, name):
    dt = ev.decoded(name)
    assert dt.utcoffset() == datetime.timedelta(0), name + ' is not UTC'
    return dt.astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')

def events(cal):
    return [{
        'start': when(ev, 'DTSTART'), 'end': when(ev, 'DTEND'),
        'uid': str(ev.get('UID')), 'sequence': int(ev.get('SEQUENCE')),
        'status': str(ev.get('STATUS')), 'summary': str(ev.get('SUMMARY')),
        'description': str(ev.get('DESCRIPTION')),
        'location': str(ev.get('LOCATION')) if ev.get('LOCATION') is not None else None,
        'url': str(ev.get('URL')) if ev.get('URL') is not None else None,
        'organizer': str(ev.get('ORGANIZER')) if ev.get('ORGANIZER') is not None else None,
    } for ev in cal.walk('VEVENT')]

raw = open(sys.argv[1], 'rb').read()
out = {}
if sys.argv[2] == 'mail':
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    out['subject'] = str(msg['subject'])
    out['to'] = str(msg['to'])
    out['from'] = str(msg['from'])
    for part in msg.walk():
        kind = part.get_content_type()
        if kind == 'text/plain':
            out['text'] = part.get_content()
        elif kind == 'text/calendar':
            out['method_param'] = part.get_param('method')
            out['filename'] = part.get_filename()
            ics = part.get_payload(decode=True)
            out['ics'] = ics.decode('utf-8')
            cal = Calendar.from_ical(ics)
            out['method'] = str(cal.get('METHOD'))
            out['events'] = events(cal)
else:
    cal = Calendar.from_ical(raw)
    out['method'] = str(cal.get('METHOD'))
    out['name'] = str(cal.get('X-WR-CALNAME'))
    out['events'] = events(cal)
print(json.dumps(out))
"#;

pub fn python_read(raw: &str, what: &str) -> Value {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("item");
    std::fs::write(&path, raw).expect("write");
    let out = std::process::Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(READ_MAIL)
        .arg(&path)
        .arg(what)
        .env("PYTHONIOENCODING", "utf-8")
        .output()
        .expect("/usr/bin/python3 runs (the test command installs python3-icalendar)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "Python could not read it: {stderr}\n{raw}"
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

/// Waits for the message whose subject starts with `subject` (read in Rust, with no process
/// per look) and reads it as Python's `email` and `icalendar` do.
pub fn wait_for_mail(smtp: &SmtpServer, subject: &str) -> (Value, String) {
    let raw = super::patiently_blocking(|| {
        let raw = smtp.with_subject(subject).into_iter().next();
        raw.ok_or_else(|| format!("no email \"{subject}\" arrived"))
    });
    let read = python_read(&raw, "mail");
    assert!(
        read["subject"]
            .as_str()
            .is_some_and(|s| s.starts_with(subject)),
        "Python reads another subject: {read}"
    );
    (read, raw)
}

pub fn ms_string(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The link back to the booking in an email's text.
pub fn link_in(text: &str, app: &TestApp) -> String {
    let base = app.url("");
    let start = text.find(&format!("{base}/book/")).expect("a booking link") + base.len();
    let end = start
        + text[start..]
            .find(|c: char| c.is_whitespace())
            .unwrap_or(text.len() - start);
    text[start..end].to_string()
}

/// The messages received so far whose subject starts with `subject`, as Python reads them.
pub fn read_mail_with_subject(smtp: &SmtpServer, subject: &str) -> Vec<Value> {
    smtp.with_subject(subject)
        .iter()
        .map(|raw| python_read(raw, "mail"))
        .collect()
}
