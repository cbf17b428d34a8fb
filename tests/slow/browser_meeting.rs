//! The meeting details and reminders page in a real browser (Chromium through chromedriver):
//! reached from the booking settings, a mistake shown GOV.UK-style, then saved; axe-core checks
//! each state against WCAG 2.2 AA.

use crate::common::TestApp;
use crate::harness::{Browser, DESKTOP, Options};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_meeting_details_page_passes_axe_with_and_without_a_mistake() {
    let app = TestApp::with_clinician().await;
    let browser = Browser::signed_in(&app, Options::new(DESKTOP)).await;

    browser.goto(&app.url("/admin/booking")).await;
    browser
        .click_to("#meeting-link", "/admin/booking/meeting")
        .await;
    assert_eq!(browser.heading().await, "Meeting details and reminders");
    browser
        .assert_accessible("the meeting details and reminders")
        .await;

    browser
        .fill("#video_address", "meet.example.com/clearwater")
        .await;
    browser
        .click_to("#save-meeting", "/admin/booking/meeting")
        .await;
    browser
        .assert_mistake_shown("with https://", "the meeting details with a mistake")
        .await;

    browser
        .eval::<()>("document.getElementById('video_address').value = 'https://meet.example.com/clearwater'")
        .await;
    browser.click("#phone_way-person-calls").await;
    browser.fill("#phone_number", "(510) 555-0123").await;
    browser
        .click_to("#save-meeting", "/admin/booking/meeting")
        .await;
    let notice = browser.text_of(".notice").await;
    assert!(notice.contains("saved"), "{notice}");
    browser
        .assert_accessible("the meeting details after saving")
        .await;
    let details = app.state.store.meeting_details().await.expect("read");
    assert_eq!(
        details.video_address.as_deref(),
        Some("https://meet.example.com/clearwater")
    );
    assert_eq!(details.phone_number.as_deref(), Some("(510) 555-0123"));
    browser.close().await;
}
