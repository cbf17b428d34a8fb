//! Questionnaires in a real browser (Chromium through chromedriver): a person holds a time and
//! answers the questionnaire with the keyboard alone on a phone, an item 9 answer above "Not at
//! all" opening the next page with the crisis resources; the clinician sees the scores, bands,
//! the "needs attention" flag and the chart, and sends the measures again, whose answers show as
//! a second point. axe-core checks every new page and state against WCAG 2.2 AA.

use std::time::Duration;

use crate::common::booking::link_to;
use crate::common::{SmtpServer, TestApp};
use crate::harness::{Browser, DESKTOP, Options, PHONE};
use fantoccini::key::Key;
use jiff::{SignedDuration, Timestamp};

const MEDS: &str = "sertraline-marker-5520";

/// As [`crate::browser_booking::start_app`], with the clinician's account and the
/// questionnaires offered.
async fn start_app() -> (tempfile::TempDir, SmtpServer, TestApp) {
    let (smtp_dir, smtp, app) = crate::browser_booking::start_app().await;
    app.add_clinician().await;
    crate::common::questionnaire::offer_questionnaires(&app).await;
    (smtp_dir, smtp, app)
}

/// Answers a measure's page with the keyboard: each item's group reached with Tab, the answer
/// chosen with Space (the first, "Not at all") and the arrow key (the next ones).
async fn answer_measure(browser: &Browser, key: &str, values: &[u8]) {
    for (i, v) in values.iter().enumerate() {
        choose(browser, &format!("{key}-{i}"), *v).await;
    }
}

/// Chooses answer `v` of the radio group `name` with the keyboard.
async fn choose(browser: &Browser, name: &str, v: u8) {
    let id = browser.tab_to_one_of(&format!("{name}-")).await;
    assert_eq!(
        id,
        format!("{name}-0"),
        "Tab enters the group at its first answer"
    );
    browser.press(Key::Space).await;
    for _ in 0..v {
        browser.press(Key::Down).await;
    }
    assert_eq!(browser.active_id().await, format!("{name}-{v}"));
}

/// Presses the page's "Save and …" button with the keyboard and waits for `path`.
async fn save_and_go(browser: &Browser, path: &str) {
    browser.tab_to("save-continue").await;
    browser.enter_to(path).await;
}

/// A message at the SMTP server containing `needle`, as its text reads.
async fn wait_for_mail(smtp: &SmtpServer, needle: &str) -> String {
    for _ in 0..200 {
        if let Some(m) = smtp
            .messages()
            .into_iter()
            .map(|m| {
                m.replace("=\r\n", "")
                    .replace("=\n", "")
                    .replace("=3D", "=")
            })
            .find(|m| m.contains(needle))
        {
            return m;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no message with {needle:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_answers_with_the_keyboard_and_the_clinician_follows_the_scores() {
    let (_smtp_dir, smtp, app) = start_app().await;
    app.submitted("Ada Lovelace", &[]).await;
    let id = app.state.store.all_requests().await.expect("read")[0].id;
    let book = link_to(&app, id, Timestamp::now() + SignedDuration::from_hours(2)).await;
    let q = book.replace("/book/", "/questionnaire/");

    // The person holds a time with the keyboard, on a phone.
    let browser = Browser::start(Options::new(PHONE)).await;
    browser.goto(&app.url(&book)).await;
    browser.tab_to_one_of("start-").await;
    browser.press(Key::Down).await;
    browser.tab_to("format-video").await;
    browser.tick_and_send("choose-time", &book).await;
    assert!(
        browser
            .heading()
            .await
            .contains("Your consultation time is held")
    );
    browser
        .assert_accessible("the held booking offering the questionnaire")
        .await;

    // Offered at once: into the questionnaire.
    browser.tab_to("questionnaire-start").await;
    browser.enter_to(&q).await;
    assert_eq!(browser.heading().await, "A few questions before we meet");
    browser.assert_accessible("the questionnaire's start").await;
    browser.tab_to("questionnaire-next").await;
    browser.enter_to(&format!("{q}/screening")).await;
    browser.assert_accessible("the screening questions").await;
    // The first question "yes" (Space), the second "no" (Space then Down): the rest skipped.
    browser.tab_to("s0-yes").await;
    browser.press(Key::Space).await;
    browser.tab_to("s1-yes").await;
    browser.press(Key::Space).await;
    browser.press(Key::Down).await;
    assert_eq!(browser.active_id().await, "s1-no");
    save_and_go(&browser, &format!("{q}/medications")).await;
    browser.assert_accessible("the medications").await;

    // Too long an answer: the GOV.UK error pattern, accessible too.
    browser
        .eval::<()>("document.getElementById('medications').value = 'x'.repeat(2001)")
        .await;
    browser
        .click_to("#save-continue", &format!("{q}/medications"))
        .await;
    browser
        .assert_mistake_shown(
            "2,000 characters or fewer",
            "the medications with a mistake",
        )
        .await;
    browser
        .eval::<()>("document.getElementById('medications').value = ''")
        .await;
    browser.tab_to("medications").await;
    browser.type_text(MEDS).await;
    save_and_go(&browser, &format!("{q}/phq9")).await;
    browser.assert_accessible("the PHQ-9").await;

    // Item 9 "Several days": the next page opens with the crisis resources.
    answer_measure(&browser, "phq9", &[2, 2, 1, 1, 1, 1, 1, 0, 1]).await;
    // The published, unscored closing question: "Somewhat difficult".
    choose(&browser, "phq9-difficulty", 1).await;
    save_and_go(&browser, &format!("{q}/gad7")).await;
    assert_eq!(
        browser.heading().await,
        "You don’t have to carry this alone"
    );
    let panel = browser.text_of("#support").await;
    assert!(panel.contains("988") && panel.contains("911"), "{panel}");
    browser
        .assert_accessible("the GAD-7 opening with the crisis resources")
        .await;
    answer_measure(&browser, "gad7", &[1, 1, 1, 1, 1, 1, 0]).await;
    browser.tab_to("save-continue").await;
    browser.enter_to(&format!("{q}/done")).await;
    browser
        .assert_accessible("the end of the questionnaire")
        .await;
    wait_for_mail(&smtp, "Urgent: a questionnaire needs your attention").await;

    // The clinician: the flag at the top of the inbox, then scores, bands and the chart.
    browser.sign_in(&app).await;
    let flag = browser.text_of("#needs-attention").await;
    assert!(flag.contains("Needs attention"), "{flag}");
    browser
        .assert_accessible("the inbox with a questionnaire needing attention")
        .await;
    browser
        .goto(&app.url(&format!("/admin/requests/{id}")))
        .await;
    let panel = browser
        .text_of("section[aria-labelledby=questionnaires-title]")
        .await;
    assert!(
        panel.contains("PHQ-9\n10 — Moderate") || panel.contains("10 — Moderate"),
        "{panel}"
    );
    assert!(panel.contains("6 — Mild"), "{panel}");
    assert!(panel.contains("Somewhat difficult"), "{panel}");
    assert!(
        panel.contains("Needs attention") && panel.contains(MEDS),
        "{panel}"
    );
    let points: usize = browser
        .eval("return document.querySelectorAll('#scores-chart .chart-point').length")
        .await;
    assert_eq!(points, 2, "one PHQ-9 and one GAD-7 point");
    browser
        .assert_accessible("a request with questionnaire results")
        .await;

    // The measures again, from the request's page.
    browser
        .click_to("#send-measures", &format!("/admin/requests/{id}"))
        .await;
    let mail = wait_for_mail(&smtp, "Two short questionnaires").await;
    let base = app.url("");
    let at = mail.find(&format!("{base}/questionnaire/")).expect("link") + base.len();
    let link: String = mail[at..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    browser.goto(&app.url(&link)).await;
    assert_eq!(browser.heading().await, "Two short questionnaires");
    browser.assert_accessible("the measures sent again").await;
    browser.goto(&app.url(&format!("{link}/phq9"))).await;
    answer_measure(&browser, "phq9", &[1, 1, 0, 0, 0, 0, 0, 0, 0]).await;
    save_and_go(&browser, &format!("{link}/gad7")).await;
    answer_measure(&browser, "gad7", &[1, 0, 0, 0, 0, 0, 0]).await;
    save_and_go(&browser, &format!("{link}/done")).await;

    browser
        .goto(&app.url(&format!("/admin/requests/{id}")))
        .await;
    let points: usize = browser
        .eval("return document.querySelectorAll('#scores-chart .chart-point').length")
        .await;
    assert_eq!(points, 4, "a second point for each measure");
    let table = browser.text_of("#scores-table").await;
    assert!(
        table.contains("2 (Minimal)") && table.contains("1 (Minimal)"),
        "{table}"
    );
    browser
        .assert_accessible("a request with two sets of measures")
        .await;
    browser
        .fill("#attention-note", "Spoke with them by phone.")
        .await;
    browser
        .click_to("#attention-followed-up", &format!("/admin/requests/{id}"))
        .await;
    browser.goto(&app.url("/admin")).await;
    let flagged: usize = browser
        .eval("return document.querySelectorAll('#needs-attention').length")
        .await;
    assert_eq!(flagged, 0);
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_questionnaire_setting_passes_axe_on_a_desktop() {
    let (_smtp_dir, _smtp, app) = start_app().await;
    let browser = Browser::signed_in(&app, Options::new(DESKTOP)).await;
    browser.goto(&app.url("/admin/booking")).await;
    browser.click("#questionnaire-off").await;
    browser
        .click_to("#save-questionnaire-setting", "/admin/booking")
        .await;
    assert!(!app.state.questionnaires_offered().await.expect("read"));
    browser
        .assert_accessible("the booking settings with the questionnaire setting")
        .await;
    browser.goto(&app.url("/privacy")).await;
    let text = browser.text_of("#questionnaires-who").await;
    assert!(text.contains("encrypted"), "{text}");
    browser.assert_accessible("the privacy notice").await;
    browser.close().await;
}

/// The needs-attention alert is the first thing on the request's page and in the inbox, in the
/// page's order and on the screen, at a phone's width and a desktop's, in the light and the dark
/// colour scheme; axe-core finds nothing there, and the alert says where its urgent notice went.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_alert_comes_first_on_every_screen_and_in_both_colour_schemes() {
    let (_smtp_dir, _smtp, app) = start_app().await;
    // The person's side in the browser is checked above; here their answers go over HTTP.
    let (id, q) = crate::common::questionnaire::held(&app).await;
    crate::common::questionnaire::answer(&app, &q, "phq9", &[0, 0, 0, 0, 0, 0, 0, 0, 2]).await;
    crate::common::questionnaire::notice_attempted(&app, id, "sent").await;
    for viewport in [PHONE, DESKTOP] {
        for dark in [false, true] {
            let scheme = if dark { "dark" } else { "light" };
            let browser = Browser::start(Options {
                viewport,
                javascript: true,
                dark,
            })
            .await;
            assert_eq!(browser.is_dark().await, dark);
            browser.sign_in(&app).await;
            for (path, alert) in [
                (format!("/admin/requests/{id}"), "attention"),
                ("/admin".to_string(), "needs-attention"),
            ] {
                browser.goto(&app.url(&path)).await;
                let first: String = browser
                    .eval("return document.querySelector('main').firstElementChild.id")
                    .await;
                assert_eq!(first, alert, "{path} at {}px", viewport.width);
                let (top, heading): (f64, f64) = browser
                    .js(
                        "return [document.getElementById(arguments[0]).getBoundingClientRect().top, document.querySelector('main h1').getBoundingClientRect().top]",
                        vec![serde_json::json!(alert)],
                    )
                    .await;
                assert!(
                    top < heading,
                    "{path} at {}px: the alert is above the heading on the screen",
                    viewport.width
                );
                browser
                    .assert_accessible(&format!(
                        "{path} with its alert at {}px, {scheme}",
                        viewport.width
                    ))
                    .await;
            }
            let said = browser.text_of("#needs-attention").await;
            assert!(
                said.contains("Urgent notice sent to hello@example.com at "),
                "{said}"
            );
            browser.close().await;
        }
    }
}
