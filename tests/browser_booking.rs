//! Booking in a real browser (Chromium through chromedriver): a person goes from the thank-you
//! page to the open times and holds one with the keyboard alone, with and without JavaScript;
//! the "just taken" answer; and the clinician's booking pages. axe-core checks every page on
//! the way against WCAG 2.2 AA.

mod common;
#[path = "browser/harness.rs"]
#[allow(dead_code)] // Shared with tests/browser.rs, which uses the rest.
mod harness;

use std::time::Duration;

use common::{SmtpServer, TestApp};
use fantoccini::Locator;
use fantoccini::key::Key;
use harness::{Browser, DESKTOP, Options, PHONE};
use jiff::civil::{Weekday, time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use kap_practice::audit::{Action, Entry};
use kap_practice::auth::password;
use kap_practice::config::Overrides;
use kap_practice::practice::open_times::{AvailabilityWindow, BookingRules};
use serde_json::json;

const WCAG_TAGS: [&str; 5] = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"];
const EMAIL: &str = "clinician@practice.example";
const PASSWORD: &str = "lantern orchard velvet tide";
const ZONE: &str = "America/New_York";

/// axe-core's WCAG 2.2 AA violations on the open page, as readable lines.
async fn axe_violations(browser: &Browser) -> Vec<String> {
    let loaded: String = browser
        .js(
            &format!("{}\n;return typeof window.axe;", harness::axe_source()),
            vec![],
        )
        .await;
    assert_eq!(loaded, "object", "axe-core did not load into the page");
    browser
        .js_async(
            r#"
            const [tags, done] = arguments;
            axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] })
              .then(r => done(r.violations.map(v => v.id + ': ' + v.help + ' at ' + v.nodes.map(n => n.target.join(' ')).join(', '))))
              .catch(e => done(['axe failed: ' + e]));
            "#,
            vec![json!(WCAG_TAGS)],
        )
        .await
}

/// axe-core on the open page. axe runs as a script, so with JavaScript off the page is not
/// checked here: every page checked without JavaScript is checked with it in another test.
async fn assert_accessible(browser: &Browser, what: &str) {
    if !browser.options.javascript {
        return;
    }
    let v = axe_violations(browser).await;
    assert!(v.is_empty(), "axe-core on {what}:\n{}", v.join("\n"));
}

async fn active_id(browser: &Browser) -> String {
    browser
        .js::<Option<String>>(
            "return document.activeElement && document.activeElement.id || null",
            vec![],
        )
        .await
        .unwrap_or_default()
}

/// Presses Tab until an element whose id starts with `prefix` has focus; returns its id.
async fn tab_to(browser: &Browser, prefix: &str) -> String {
    for _ in 0..80 {
        let id = active_id(browser).await;
        if id.starts_with(prefix) {
            return id;
        }
        browser.press(Key::Tab).await;
    }
    panic!("Tab never reached #{prefix}…");
}

async fn heading(browser: &Browser) -> String {
    browser
        .client
        .find(Locator::Css("h1"))
        .await
        .expect("h1")
        .text()
        .await
        .expect("text")
}

/// Marks the current document, so that a wait can tell when a new one has loaded.
async fn mark_page(browser: &Browser) {
    browser.js::<()>("window.kapOldPage = true", vec![]).await;
}

/// Waits until a new document at `path` has loaded (after [`mark_page`]).
async fn wait_for_path(browser: &Browser, path: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let url = browser.client.current_url().await.expect("current url");
        let ready: String = browser
            .js(
                "return window.kapOldPage ? 'old' : document.readyState",
                vec![],
            )
            .await;
        if url.path() == path && ready == "complete" {
            return;
        }
        if std::time::Instant::now() >= deadline {
            let text: String = browser
                .js(
                    "return document.body ? document.body.innerText : ''",
                    vec![],
                )
                .await;
            panic!("waiting for {path}, at {url}: {text}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn click(browser: &Browser, css: &str) {
    browser
        .js::<()>(
            "document.querySelector(arguments[0]).scrollIntoView({block: 'center', behavior: 'instant'})",
            vec![json!(css)],
        )
        .await;
    mark_page(browser).await;
    browser
        .client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("clicking {css}: {e}"));
}

async fn start_app(smtp: &SmtpServer) -> TestApp {
    let config = format!(
        "[practice]\ntime_zone = \"{ZONE}\"\n\n[contact_form]\nrate_limit_per_hour = 100\n\n[mail]\nsmtp_url = \"{}\"\nretry_base_seconds = 1\nretry_max_seconds = 1\n",
        smtp.url()
    );
    let app = TestApp::start_with(Overrides::default(), Some(&config)).await;
    let mut rules = BookingRules::new(TimeZone::get(ZONE).expect("tzdata"));
    rules.horizon = SignedDuration::from_hours(5 * 24);
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
            start: time(9, 0, 0, 0),
            end: time(11, 0, 0, 0),
        });
    }
    app.state
        .store
        .save_booking_rules(&rules, "test", Timestamp::now())
        .await
        .expect("rules");
    // As the settings page does after saving: the server forgets what it remembered.
    app.state.booking_offer.forget();
    app
}

/// A request sent through the form: the thank-you page's address and the request's id.
async fn send_request(app: &TestApp, name: &str) -> (String, i64) {
    let r = app.submit(name, &[]).await;
    assert_eq!(r.status, 303);
    let id = app
        .state
        .store
        .all_requests()
        .await
        .expect("read")
        .last()
        .expect("stored")
        .id;
    (r.header("location").expect("location").to_string(), id)
}

async fn book_with_the_keyboard(options: Options) {
    let smtp_dir = tempfile::tempdir().expect("tempdir");
    let smtp = SmtpServer::start(smtp_dir.path());
    let app = start_app(&smtp).await;
    let (thanks, id) = send_request(&app, "Ada Lovelace").await;
    let browser = Browser::start(options).await;
    browser.goto(&app.url(&thanks)).await;
    assert_accessible(&browser, "the thank-you page with the booking link").await;

    // From the thank-you page to the times, by keyboard.
    tab_to(&browser, "choose-a-time").await;
    let link: String = browser
        .js(
            "return document.getElementById('choose-a-time').getAttribute('href')",
            vec![],
        )
        .await;
    assert!(link.starts_with("/book/"), "{link}");
    mark_page(&browser).await;
    browser.press(Key::Enter).await;
    wait_for_path(&browser, &link).await;
    assert!(heading(&browser).await.contains("Choose a time"));
    assert_accessible(&browser, "the open times").await;

    if options.javascript {
        // The enhancement: each time on the visitor's own clocks too, when they differ.
        let zone: String = browser
            .js(
                "return Intl.DateTimeFormat().resolvedOptions().timeZone",
                vec![],
            )
            .await;
        let shown: usize = browser
            .js(
                "return document.querySelectorAll('.local-time').length",
                vec![],
            )
            .await;
        if zone == ZONE {
            assert_eq!(shown, 0);
        } else {
            assert!(shown > 0, "times in {zone} are shown");
        }
    } else {
        let shown: usize = browser
            .js(
                "return document.querySelectorAll('.local-time').length",
                vec![],
            )
            .await;
        assert_eq!(shown, 0, "no script ran");
    }

    // Into the times: Tab reaches the first, the arrow key chooses the next.
    let first = tab_to(&browser, "start-").await;
    browser.press(Key::Down).await;
    let second = active_id(&browser).await;
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
    assert_eq!(active_id(&browser).await, "format-video");
    browser.press(Key::Space).await;
    tab_to(&browser, "choose-time").await;
    mark_page(&browser).await;
    browser.press(Key::Enter).await;
    wait_for_path(&browser, &link).await;
    assert!(
        heading(&browser)
            .await
            .contains("Your consultation time is held"),
        "{}",
        heading(&browser).await
    );
    assert_accessible(&browser, "the held booking").await;
    let booking = app
        .state
        .store
        .booking_for_request(id)
        .await
        .expect("read")
        .expect("held");
    let chosen_ms: i64 = second["start-".len()..].parse().expect("ms");
    assert_eq!(booking.start.as_millisecond(), chosen_ms);

    // The person receives the invitation (its instant is read by Python's icalendar in
    // tests/booking.rs), then cancels through the page's own button, with the keyboard.
    let invitation = wait_for_mail(&smtp, "method=REQUEST").await;
    assert!(
        invitation.contains("To: person@example.com"),
        "{invitation}"
    );
    tab_to(&browser, "cancel-booking").await;
    mark_page(&browser).await;
    browser.press(Key::Enter).await;
    let mut cancelled = false;
    for _ in 0..100 {
        let status = app
            .state
            .store
            .booking_for_request(id)
            .await
            .expect("read")
            .expect("booking")
            .status;
        if status.as_str() == "cancelled" {
            cancelled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(cancelled, "the cancel button cancelled the booking");
    assert_accessible(&browser, "the page after cancelling").await;
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
    let grace_link = format!("/book/{}", app.state.links.issue(grace, until));
    browser.goto(&app.url(&grace_link)).await;
    // The second time: the first may pass its minimum notice while the test runs.
    tab_to(&browser, "start-").await;
    browser.press(Key::Down).await;
    let wanted = active_id(&browser).await;
    let value: String = browser
        .js(
            "return document.getElementById(arguments[0]).value",
            vec![json!(wanted)],
        )
        .await;
    let third_link = format!("/book/{}", app.state.links.issue(third, until));
    let r = app
        .request(
            "POST",
            &third_link,
            &[("content-type", "application/x-www-form-urlencoded")],
            common::form_body(&[("start", &value), ("format", "phone")]),
        )
        .await;
    assert_eq!(r.status, 303);
    browser.press(Key::Tab).await;
    browser.press(Key::Space).await;
    tab_to(&browser, "choose-time").await;
    mark_page(&browser).await;
    browser.press(Key::Enter).await;
    wait_for_path(&browser, &grace_link).await;
    let summary = browser
        .client
        .find(Locator::Css(".error-summary"))
        .await
        .expect("the error summary")
        .text()
        .await
        .expect("text");
    assert!(summary.contains("just been taken"), "{summary}");
    assert_accessible(&browser, "the just-taken answer").await;
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
    let smtp_dir = tempfile::tempdir().expect("tempdir");
    let smtp = SmtpServer::start(smtp_dir.path());
    let app = start_app(&smtp).await;
    let hash = password::hash(PASSWORD).expect("hash");
    app.state
        .store
        .add_account(
            EMAIL,
            &hash,
            Timestamp::now(),
            &Entry::new("test", Action::AccountAdded),
        )
        .await
        .expect("store")
        .expect("account");
    let (thanks, id) = send_request(&app, "Grace Hopper").await;
    let until = Timestamp::now() + SignedDuration::from_hours(1);
    let link = format!("/book/{}", app.state.links.issue(id, until));
    // The person's pages on a desktop, before and after choosing a time.
    let browser = Browser::start(Options::new(DESKTOP)).await;
    browser.goto(&app.url(&thanks)).await;
    assert_accessible(
        &browser,
        "the thank-you page with the booking link on a desktop",
    )
    .await;
    browser.goto(&app.url(&link)).await;
    assert_accessible(&browser, "the open times on a desktop").await;
    let page = app.get(&link).await.text();
    let start = page
        .find("name=\"start\" type=\"radio\" value=\"")
        .expect("a time")
        + 33;
    let value = &page[start..start + page[start..].find('"').expect("end")];
    let r = app
        .request(
            "POST",
            &link,
            &[("content-type", "application/x-www-form-urlencoded")],
            common::form_body(&[("start", value), ("format", "video")]),
        )
        .await;
    assert_eq!(r.status, 303);
    browser.goto(&app.url(&link)).await;
    assert_accessible(&browser, "a held booking on a desktop").await;

    browser.goto(&app.url("/admin/login")).await;
    browser
        .client
        .find(Locator::Css("#email"))
        .await
        .expect("email")
        .send_keys(EMAIL)
        .await
        .expect("type");
    browser
        .client
        .find(Locator::Css("#password"))
        .await
        .expect("password")
        .send_keys(PASSWORD)
        .await
        .expect("type");
    click(&browser, "form.request-form button[type=submit]").await;
    wait_for_path(&browser, "/admin").await;

    browser.goto(&app.url("/admin/booking")).await;
    assert_accessible(&browser, "the booking settings").await;
    // A mistake, shown GOV.UK-style, is accessible too.
    browser
        .js::<()>("document.getElementById('length').value = 'twenty'", vec![])
        .await;
    click(&browser, "#save-booking-settings").await;
    wait_for_path(&browser, "/admin/booking").await;
    let summary = browser
        .client
        .find(Locator::Css(".error-summary"))
        .await
        .expect("the error summary")
        .text()
        .await
        .expect("text");
    assert!(
        summary.contains("how long a consultation lasts"),
        "{summary}"
    );
    assert_accessible(&browser, "the booking settings with a mistake").await;

    browser.goto(&app.url("/admin/bookings")).await;
    assert_accessible(&browser, "the list of bookings").await;
    browser
        .goto(&app.url(&format!("/admin/requests/{id}")))
        .await;
    assert_accessible(&browser, "a request with a held booking").await;
    click(&browser, "#confirm-booking").await;
    wait_for_path(&browser, &format!("/admin/requests/{id}")).await;
    let status = app
        .state
        .store
        .booking_for_request(id)
        .await
        .expect("read")
        .expect("booking")
        .status;
    assert_eq!(status.as_str(), "confirmed");
    assert_accessible(&browser, "a request with a confirmed booking").await;

    // Another person's time, declined with a message: the person is told by email.
    let (_, other) = send_request(&app, "Declined Person").await;
    let until = Timestamp::now() + SignedDuration::from_hours(1);
    let other_link = format!("/book/{}", app.state.links.issue(other, until));
    let page = app.get(&other_link).await.text();
    let start = page
        .split("name=\"start\" type=\"radio\" value=\"")
        .nth(2)
        .and_then(|rest| rest.split('"').next())
        .expect("a second open time")
        .to_string();
    let r = app
        .request(
            "POST",
            &other_link,
            &[("content-type", "application/x-www-form-urlencoded")],
            common::form_body(&[("start", &start), ("format", "video")]),
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text());
    browser
        .goto(&app.url(&format!("/admin/requests/{other}")))
        .await;
    let message = browser
        .client
        .find(Locator::Css("#decline-message"))
        .await
        .expect("the decline message field");
    message
        .send_keys("Those hours are taken; please choose another.")
        .await
        .expect("type");
    click(&browser, "#decline-booking").await;
    wait_for_path(&browser, &format!("/admin/requests/{other}")).await;
    let status = app
        .state
        .store
        .booking_for_request(other)
        .await
        .expect("read")
        .expect("booking")
        .status;
    assert_eq!(status.as_str(), "declined");
    assert_accessible(&browser, "a request with a declined booking").await;
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
