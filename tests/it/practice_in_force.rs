//! The practice in force: details saved in the inbox's form reach every email (read from a real
//! SMTP server), the licensed-state flag, the calendar invitation and feed, the booking and
//! questionnaire pages and the two-factor issuer — on SQLite, on PostgreSQL, and on a second
//! server of the same practice.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

use crate::booking::{NAME, booking_link, choose, mornings, offer, python_read, request_and_link};
use crate::common::clinician::Clinician;
use crate::common::{SmtpServer, TestApp};
use crate::reminders::{confirm, deliver_at, hours, later_times, meet_by_video, outbox_to};
use kap_practice::config::Overrides;
use kap_practice::mail::reminders::look;

/// The details the clinician saves in the inbox (the config file names no practice).
const SAVED: &[(&str, &str)] = &[
    ("name", "Harbor Light"),
    ("clinician_name", "Sam Rivera"),
    ("credentials", "LCSW"),
    ("licensed_states", "NY"),
    ("email", "sam@harborlight.org"),
    ("phone", "(212) 555-0147"),
    ("city", "Brooklyn, New York"),
    ("time_zone", "America/New_York"),
    ("accent_color", "#1d4e6b"),
    ("reply_time", "within one business day"),
    ("crisis_call", ""),
    ("crisis_call_name", ""),
    ("crisis_text", "741741"),
    ("crisis_text_keyword", "HOME"),
    ("crisis_text_name", "Crisis Text Line"),
    ("emergency_number", "112"),
];

const SENDER: &str = "Harbor Light <sam@harborlight.org>";

/// What the built-in example practice would have said.
const EXAMPLE: &[&str] = &[
    "Clearwater",
    "Jordan Ellis",
    "hello@example.com",
    "010-0100",
    "call or text 988",
    "call 911",
];

/// Mail on, no `[practice]`, no `mail.notify_email` and no `mail.from`: where notices go and
/// whom they come from follow the practice's email.
fn config(smtp_port: u16) -> String {
    format!(
        "[contact_form]\nrate_limit_per_hour = 200\nacknowledge = true\n\n[mail]\nsmtp_url = \"smtp://127.0.0.1:{smtp_port}\"\nretry_base_seconds = 1\nretry_max_seconds = 1\n"
    )
}

/// Saves [`SAVED`] through the details form, as the clinician does in the browser.
async fn save_details(c: &mut Clinician<'_>) {
    let mut fields = SAVED.to_vec();
    fields.push(("version", "0"));
    let r = c.action("/admin/details", "/admin/details", &fields).await;
    assert_eq!(r.status, 303, "{}", r.text());
}

/// Every message that arrived, as Python reads it, once one of each of `subjects` has.
fn all_mail(smtp: &SmtpServer, subjects: &[&str]) -> Vec<(Value, String)> {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let mail: Vec<(Value, String)> = smtp
            .messages()
            .into_iter()
            .map(|raw| (python_read(&raw, "mail"), raw))
            .collect();
        let missing: Vec<&&str> = subjects
            .iter()
            .filter(|s| {
                !mail
                    .iter()
                    .any(|(m, _)| m["subject"].as_str().is_some_and(|t| t.starts_with(**s)))
            })
            .collect();
        if missing.is_empty() {
            return mail;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no email {missing:?} arrived"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn with_subject<'a>(mail: &'a [(Value, String)], subject: &str) -> &'a Value {
    &mail
        .iter()
        .find(|(m, _)| {
            m["subject"]
                .as_str()
                .is_some_and(|s| s.starts_with(subject))
        })
        .unwrap_or_else(|| panic!("no email \"{subject}\""))
        .0
}

fn text_of(m: &Value) -> String {
    m["text"].as_str().unwrap_or("").replace('\n', " ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn details_saved_in_the_browser_reach_every_email_flag_invitation_feed_and_page() {
    let dir = tempfile::tempdir().expect("tempdir");
    let smtp = SmtpServer::start(dir.path());
    let app = TestApp::start_with(Overrides::default(), Some(&config(smtp.port))).await;
    app.add_clinician().await;
    let mut c = Clinician::signed_in(&app).await;
    save_details(&mut c).await;
    offer(&app, &mornings()).await;
    meet_by_video(&app).await;
    app.state
        .store
        .set_questionnaires_offered(true, "test", Timestamp::now())
        .await
        .expect("questionnaires on");

    // The licensed states are the saved ones: California is now outside them, New York inside.
    let r = app
        .submit(
            "Casey West",
            &[("state", "CA"), ("email", "casey@example.org")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text());
    let thanks = app
        .get(r.header("location").expect("location"))
        .await
        .text();
    assert!(booking_link(&thanks).is_none(), "no times offered in CA");
    let requests = app.state.store.all_requests().await.expect("read");
    assert!(requests[0].flags.outside_licensed_states, "CA is flagged");

    let (id, link) = request_and_link(&app, NAME, &[("state", "NY")]).await;
    let requests = app.state.store.all_requests().await.expect("read");
    let ny = requests.iter().find(|r| r.id == id).expect("NY request");
    assert!(!ny.flags.outside_licensed_states, "NY is not flagged");

    // The booking page speaks of the saved clinician, in the saved zone.
    let page = app.get(&link).await.text();
    assert!(page.contains("Sam Rivera"), "{page}");
    let times = later_times(&app, &link).await;
    let start = times[0];
    assert_eq!(choose(&app, &link, &start.to_string()).await.status, 303);
    confirm(&app, id).await;

    // The questionnaire: its pages name the saved clinician; item 9 answered sends the urgent
    // notice to the practice's saved email.
    let q = link.replacen("/book/", "/questionnaire/", 1);
    let intro = app.get(&q).await.text();
    assert!(intro.contains("Sam Rivera"), "{intro}");
    for leak in EXAMPLE {
        assert!(!intro.contains(leak), "the questionnaire says {leak:?}");
        assert!(!page.contains(leak), "the booking page says {leak:?}");
    }
    let phq9: Vec<(String, String)> = (0..10)
        .map(|i| {
            let v = if i == 8 { "2" } else { "1" };
            (format!("phq9-{i}"), v.to_string())
        })
        .collect();
    let pairs: Vec<(&str, &str)> = phq9.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = app
        .request(
            "POST",
            &format!("{q}/phq9"),
            &[("content-type", "application/x-www-form-urlencoded")],
            crate::common::form_body(&pairs),
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text());

    // The reminder a day before, from a worker on the same practice in force.
    let outbox = outbox_to(&app, &smtp);
    let day_before = start - hours(24) + SignedDuration::from_secs(1);
    assert!(look(&app.state, day_before).await.expect("look") >= 1);
    deliver_at(&app, &outbox, day_before).await;

    let mail = all_mail(
        &smtp,
        &[
            "New consultation request",
            "We received your message",
            "Your consultation time is held",
            "Consultation time chosen",
            "Your consultation is confirmed",
            "Urgent: a questionnaire needs your attention",
            "Reminder: your consultation",
        ],
    );
    for (m, raw) in &mail {
        let subject = m["subject"].as_str().unwrap_or("");
        assert_eq!(m["from"], SENDER, "{subject}");
        for leak in EXAMPLE {
            assert!(!raw.contains(leak), "\"{subject}\" says {leak:?}");
        }
    }
    for notice in [
        "New consultation request",
        "Consultation time chosen",
        "Urgent: a questionnaire needs your attention",
    ] {
        assert_eq!(with_subject(&mail, notice)["to"], "sam@harborlight.org");
    }
    let ack = text_of(with_subject(
        &mail,
        "We received your message - Harbor Light",
    ));
    assert!(
        ack.contains("Sam Rivera, LCSW will reply within one business day"),
        "{ack}"
    );
    assert!(
        ack.contains("sam@harborlight.org | (212) 555-0147"),
        "{ack}"
    );
    let held = with_subject(&mail, "Your consultation time is held - Harbor Light");
    let text = text_of(held);
    assert!(
        text.contains("text HOME to 741741 (Crisis Text Line), or call 112"),
        "{text}"
    );
    assert!(text.contains("(212) 555-0147"), "{text}");
    for kind in [
        "Your consultation time is held",
        "Your consultation is confirmed",
    ] {
        let event = &with_subject(&mail, kind)["events"][0];
        assert_eq!(event["organizer"], "mailto:sam@harborlight.org", "{kind}");
    }
    let reminder = text_of(with_subject(&mail, "Reminder: your consultation"));
    assert!(reminder.contains("Sam Rivera"), "{reminder}");
    assert!(reminder.contains("741741"), "{reminder}");

    // The calendar feed is named for the saved practice.
    let settings = c.get("/admin/booking").await.text();
    let at = settings.find("/calendar/").expect("feed address");
    let feed: String = settings[at..].chars().take_while(|c| *c != '"').collect();
    let ics = app.get(&feed).await;
    assert_eq!(ics.status, 200);
    let read = python_read(&ics.text(), "ics");
    assert_eq!(read["name"], "Consultations: Harbor Light");

    // The authenticator app lists the account under the saved name.
    let two_factor = c.get("/admin/two-factor").await.text();
    assert!(two_factor.contains("issuer=Harbor%20Light"), "{two_factor}");
    assert!(two_factor.contains("The app lists it as Harbor Light."));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_notices_follow_the_practice_email_unless_set_on_their_own() {
    let dir = tempfile::tempdir().expect("tempdir");
    let smtp = SmtpServer::start(dir.path());
    let text = format!(
        "{}notify_email = \"desk@harborlight.org\"\nfrom = \"Front Desk <desk@harborlight.org>\"\n",
        config(smtp.port)
    );
    let app = TestApp::start_with(Overrides::default(), Some(&text)).await;
    app.add_clinician().await;
    let mut c = Clinician::signed_in(&app).await;
    save_details(&mut c).await;
    let r = app.submit("Dale Noor", &[("state", "NY")]).await;
    assert_eq!(r.status, 303, "{}", r.text());
    let mail = all_mail(
        &smtp,
        &["New consultation request", "We received your message"],
    );
    let notice = with_subject(&mail, "New consultation request");
    assert_eq!(notice["to"], "desk@harborlight.org");
    assert_eq!(notice["from"], "Front Desk <desk@harborlight.org>");
    let ack = with_subject(&mail, "We received your message");
    assert_eq!(ack["from"], "Front Desk <desk@harborlight.org>");
    assert!(text_of(ack).contains("Sam Rivera, LCSW"));
}

/// Two servers of one practice on PostgreSQL: details saved through one reach the other's
/// pages, flags and mail worker.
#[cfg(feature = "slow-tests")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn details_saved_on_one_server_reach_the_others_mail_and_flags() {
    let (url, _cluster) = crate::scale_out::database();
    let key = kap_practice::crypto::generate_key_hex();
    let dir = tempfile::tempdir().expect("tempdir");
    let smtp = SmtpServer::start(dir.path());
    let text = config(smtp.port);
    let (a, b) = tokio::join!(
        TestApp::start_on_database(Overrides::default(), Some(&text), &url, &key),
        TestApp::start_on_database(Overrides::default(), Some(&text), &url, &key)
    );
    a.add_clinician().await;
    let mut c = Clinician::signed_in(&a).await;
    save_details(&mut c).await;

    // B learns of the change by its poll of the site's version: its practice in force first,
    // then its pages once they are prepared again.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let home = b.get("/").await.text();
        if b.state.config().practice.name == "Harbor Light"
            && home.contains("Harbor Light")
            && !home.contains("Clearwater")
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "B never took the saved details"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = b
        .submit(
            "Ezra Vale",
            &[("state", "CA"), ("email", "ezra@example.org")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text());
    let requests = b.state.store.all_requests().await.expect("read");
    assert!(
        requests[0].flags.outside_licensed_states,
        "CA is flagged on B"
    );

    the_next_request_is_announced_as_saved(&smtp);
}

/// The details form filled in a real browser (Chromium), as the clinician does: the notice of
/// the next request and the person's acknowledgement carry what was typed.
#[cfg(feature = "slow-tests")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_details_form_filled_in_a_browser_reaches_the_next_emails() {
    use crate::harness::{Browser, DESKTOP, Options};
    let dir = tempfile::tempdir().expect("tempdir");
    let smtp = SmtpServer::start(dir.path());
    let app = TestApp::start_with(Overrides::default(), Some(&config(smtp.port))).await;
    app.add_clinician().await;
    let browser = Browser::start(Options::new(DESKTOP)).await;
    browser.sign_in(&app).await;
    browser.goto(&app.url("/admin/details")).await;
    for (id, value) in SAVED {
        browser
            .js::<()>(
                "document.getElementById(arguments[0]).value = arguments[1]",
                vec![serde_json::json!(id), serde_json::json!(value)],
            )
            .await;
    }
    browser
        .click("form.settings-form button[type=submit]")
        .await;
    browser.wait_for_path("/admin/details").await;
    assert!(browser.text_of(".notice").await.contains("are saved"));
    browser.close().await;

    let r = app
        .submit(
            "Fay Lindqvist",
            &[("state", "NY"), ("email", "fay@example.org")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text());
    the_next_request_is_announced_as_saved(&smtp);
}

/// The notice of the request just sent goes to the saved email in the saved name, and the
/// person's acknowledgement names the saved clinician and crisis numbers, nothing of the example.
#[cfg(feature = "slow-tests")]
fn the_next_request_is_announced_as_saved(smtp: &SmtpServer) {
    let mail = all_mail(
        smtp,
        &["New consultation request", "We received your message"],
    );
    let notice = with_subject(&mail, "New consultation request");
    assert_eq!(notice["to"], "sam@harborlight.org");
    assert_eq!(notice["from"], SENDER);
    let ack = text_of(with_subject(
        &mail,
        "We received your message - Harbor Light",
    ));
    assert!(
        ack.contains("Sam Rivera, LCSW will reply within one business day"),
        "{ack}"
    );
    assert!(
        ack.contains("text HOME to 741741 (Crisis Text Line), or call 112"),
        "{ack}"
    );
    for (_, raw) in &mail {
        for leak in EXAMPLE {
            assert!(!raw.contains(leak), "an email says {leak:?}");
        }
    }
}
