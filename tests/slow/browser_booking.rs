//! Booking in a real browser (Chromium through chromedriver): a person goes from the thank-you
//! page to the open times and holds one with the keyboard alone, with and without JavaScript;
//! the "just taken" answer; and the clinician's booking pages. axe-core checks every page on
//! the way against WCAG 2.2 AA.

use std::time::Duration;

use crate::common::booking::{
    booking_of, choose, choose_to_meet, every_day, link_to, offer, times_in,
};
use crate::common::{SmtpServer, TestApp};
use crate::harness::{Browser, DESKTOP, Options, PHONE};
use fantoccini::key::Key;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde_json::json;

const ZONE: &str = "America/New_York";

/// An SMTP server, and the server mailing through it, open two hours every morning for five
/// days (the folder holds the mail: keep it while they run).
pub(crate) async fn start_app() -> (tempfile::TempDir, SmtpServer, TestApp) {
    let smtp_dir = tempfile::tempdir().expect("tempdir");
    let smtp = SmtpServer::start(smtp_dir.path());
    let config = format!(
        "[practice]\ntime_zone = \"{ZONE}\"\n\n[contact_form]\nrate_limit_per_hour = 100\n\n[mail]\nsmtp_url = \"{}\"\nretry_base_seconds = 1\nretry_max_seconds = 1\n",
        smtp.url()
    );
    let app = TestApp::with_config(&config).await;
    let rules = every_day(TimeZone::get(ZONE).expect("tzdata"), (9, 11), 5);
    offer(&app, &rules).await;
    (smtp_dir, smtp, app)
}

/// The status of the booking of request `id`.
async fn booking_status(app: &TestApp, id: i64) -> String {
    booking_of(app, id).await.status.as_str().to_string()
}

/// Clicks `button` on the page of request `id`, open in `browser`: the booking is then
/// `status`, and the request's page that comes back passes axe.
async fn decide(browser: &Browser, app: &TestApp, id: i64, button: &str, status: &str) {
    browser
        .click_to(button, &format!("/admin/requests/{id}"))
        .await;
    assert_eq!(booking_status(app, id).await, status);
    browser
        .assert_accessible(&format!("a request with a {status} booking"))
        .await;
}

/// A request sent through the form: the thank-you page's address and the request's id.
async fn send_request(app: &TestApp, name: &str) -> (String, i64) {
    let r = app.submitted(name, &[]).await;
    let id = app.last_request_id().await;
    (r.header("location").expect("location").to_string(), id)
}

async fn book_with_the_keyboard(options: Options) {
    let (_smtp_dir, smtp, app) = start_app().await;
    let (thanks, id) = send_request(&app, "Ada Lovelace").await;
    let browser = Browser::start(options).await;
    browser.goto(&app.url(&thanks)).await;
    browser
        .assert_accessible("the thank-you page with the booking link")
        .await;

    // From the thank-you page to the times, by keyboard.
    browser.tab_to_one_of("choose-a-time").await;
    let link: String = browser
        .eval("return document.getElementById('choose-a-time').getAttribute('href')")
        .await;
    assert!(link.starts_with("/book/"), "{link}");
    browser.enter_to(&link).await;
    assert!(browser.heading().await.contains("Choose a time"));
    browser.assert_accessible("the open times").await;

    if options.javascript {
        // The enhancement: each time on the visitor's own clocks too, when they differ.
        let zone: String = browser
            .eval("return Intl.DateTimeFormat().resolvedOptions().timeZone")
            .await;
        let shown: usize = browser
            .eval("return document.querySelectorAll('.local-time').length")
            .await;
        if zone == ZONE {
            assert_eq!(shown, 0);
        } else {
            // The first days' times are there when the page first shows; the later days' are
            // added once it has painted, and then every time has its own.
            assert!(shown > 0, "times in {zone} are shown");
            let (all, times): (usize, usize) = browser
                .js_async(
                    "const done = arguments[0];
                     const count = () => [document.querySelectorAll('.local-time').length,
                       document.querySelectorAll('input[name=\"start\"]').length];
                     const wait = (tries) => {
                       const [shown, times] = count();
                       if (shown === times || tries === 0) done([shown, times]);
                       else setTimeout(() => wait(tries - 1), 50);
                     };
                     wait(100);",
                    vec![],
                )
                .await;
            assert_eq!(all, times, "every time in {zone} is shown");
        }
    } else {
        let shown: usize = browser
            .eval("return document.querySelectorAll('.local-time').length")
            .await;
        assert_eq!(shown, 0, "no script ran");
    }

    // Into the times: Tab reaches the first, the arrow key chooses the next.
    let first = browser.tab_to_one_of("start-").await;
    browser.press(Key::Down).await;
    let second = browser.active_id().await;
    assert_ne!(first, second);
    assert!(second.starts_with("start-"), "{second}");
    let checked: bool = browser
        .js(
            "return document.getElementById(arguments[0]).checked",
            vec![json!(second)],
        )
        .await;
    assert!(checked, "the arrow key chose the time");
    browser.press(Key::Tab).await;
    assert_eq!(browser.active_id().await, "format-video");
    browser.tick_and_send("choose-time", &link).await;
    assert!(
        browser
            .heading()
            .await
            .contains("Your consultation time is held"),
        "{}",
        browser.heading().await
    );
    browser.assert_accessible("the held booking").await;
    let booking = booking_of(&app, id).await;
    let chosen_ms: i64 = second["start-".len()..].parse().expect("ms");
    assert_eq!(booking.start.as_millisecond(), chosen_ms);

    // The person receives the invitation (its instant is read by Python's icalendar in
    // tests/booking.rs), then cancels through the page's own button, with the keyboard.
    let invitation = wait_for_mail(&smtp, "method=REQUEST").await;
    assert!(
        invitation.contains("To: person@example.com"),
        "{invitation}"
    );
    browser.tab_to_one_of("cancel-booking").await;
    browser.mark_page().await;
    browser.press(Key::Enter).await;
    let mut cancelled = false;
    for _ in 0..100 {
        let status = booking_of(&app, id).await.status;
        if status.as_str() == "cancelled" {
            cancelled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(cancelled, "the cancel button cancelled the booking");
    browser.assert_accessible("the page after cancelling").await;
    let cancellation = wait_for_mail(&smtp, "method=CANCEL").await;
    assert!(
        cancellation.contains("To: person@example.com"),
        "{cancellation}"
    );

    // Another person's page, then someone else takes the time they choose: the answer offers
    // the nearest times, and it too passes axe.
    let (_, grace) = send_request(&app, "Grace Hopper").await;
    let (_, third) = send_request(&app, "Third Person").await;
    let until = Timestamp::now() + SignedDuration::from_hours(1);
    let grace_link = link_to(&app, grace, until).await;
    browser.goto(&app.url(&grace_link)).await;
    // The second time: the first may pass its minimum notice while the test runs.
    browser.tab_to_one_of("start-").await;
    browser.press(Key::Down).await;
    let wanted = browser.active_id().await;
    let value = browser.value_of(&wanted).await;
    let third_link = link_to(&app, third, until).await;
    let r = choose_to_meet(&app, &third_link, &value, "phone").await;
    assert_eq!(r.status, 303);
    browser.press(Key::Tab).await;
    browser.tick_and_send("choose-time", &grace_link).await;
    browser
        .assert_mistake_shown("just been taken", "the just-taken answer")
        .await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_books_a_time_with_the_keyboard_on_a_phone() {
    book_with_the_keyboard(Options::new(PHONE)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_books_a_time_with_the_keyboard_on_a_desktop_without_javascript() {
    let mut options = Options::new(DESKTOP);
    options.javascript = false;
    book_with_the_keyboard(options).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_booking_pages_pass_axe_on_a_desktop_and_the_clinician_confirms_and_declines() {
    let (_smtp_dir, smtp, app) = start_app().await;
    app.add_clinician().await;
    let (thanks, id) = send_request(&app, "Grace Hopper").await;
    let until = Timestamp::now() + SignedDuration::from_hours(1);
    let link = link_to(&app, id, until).await;
    // The person's pages on a desktop, before and after choosing a time.
    let browser = Browser::start(Options::new(DESKTOP)).await;
    browser.goto(&app.url(&thanks)).await;
    browser
        .assert_accessible("the thank-you page with the booking link on a desktop")
        .await;
    browser.goto(&app.url(&link)).await;
    browser
        .assert_accessible("the open times on a desktop")
        .await;
    let first_time = times_in(&app.get(&link).await.text())[0].clone();
    let r = choose(&app, &link, &first_time).await;
    assert_eq!(r.status, 303);
    browser.goto(&app.url(&link)).await;
    browser
        .assert_accessible("a held booking on a desktop")
        .await;

    browser.sign_in(&app).await;

    browser.goto(&app.url("/admin/booking")).await;
    browser.assert_accessible("the booking settings").await;
    // A mistake, shown GOV.UK-style, is accessible too.
    browser
        .eval::<()>("document.getElementById('length').value = 'twenty'")
        .await;
    browser
        .click_to("#save-booking-settings", "/admin/booking")
        .await;
    browser
        .assert_mistake_shown(
            "how long a consultation lasts",
            "the booking settings with a mistake",
        )
        .await;

    browser.goto(&app.url("/admin/bookings")).await;
    browser.assert_accessible("the list of bookings").await;
    browser
        .goto(&app.url(&format!("/admin/requests/{id}")))
        .await;
    browser
        .assert_accessible("a request with a held booking")
        .await;
    decide(&browser, &app, id, "#confirm-booking", "confirmed").await;

    // Another person's time, declined with a message: the person is told by email.
    let (_, other) = send_request(&app, "Declined Person").await;
    let until = Timestamp::now() + SignedDuration::from_hours(1);
    let other_link = link_to(&app, other, until).await;
    let times = times_in(&app.get(&other_link).await.text());
    let r = choose(&app, &other_link, times.get(1).expect("a second open time")).await;
    assert_eq!(r.status, 303, "{}", r.text());
    browser
        .goto(&app.url(&format!("/admin/requests/{other}")))
        .await;
    browser
        .fill(
            "#decline-message",
            "Those hours are taken; please choose another.",
        )
        .await;
    decide(&browser, &app, other, "#decline-booking", "declined").await;
    let declined = wait_for_mail(&smtp, "Those hours are taken").await;
    assert!(declined.contains("To: person@example.com"), "{declined}");
    browser.close().await;
}

/// The first message at the SMTP server that contains `needle`, waiting up to 20 s.
async fn wait_for_mail(smtp: &SmtpServer, needle: &str) -> String {
    for _ in 0..200 {
        if let Some(m) = smtp.messages().into_iter().find(|m| m.contains(needle)) {
            return m;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no message with {needle:?}: {:?}", smtp.messages());
}
