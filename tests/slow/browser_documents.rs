//! Documents to sign in a real browser (Chromium through chromedriver): a person opens the
//! link from the email on a phone (390 px), reads the documents, makes a mistake and signs with
//! the keyboard alone; the clinician's request page shows the signature. axe-core checks every
//! page and state in both colour schemes against WCAG 2.2 AA.

use fantoccini::key::Key;

use crate::common::documents::{boxes, consent_sent};
use crate::harness::{Browser, DESKTOP, Options, PHONE};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_signs_on_a_phone_with_the_keyboard() {
    let (_smtp_dir, smtp, app) = crate::browser_booking::start_app().await;
    app.add_clinician().await;
    app.submitted("Ada Lovelace", &[]).await;
    let id = app.state.store.all_requests().await.expect("read")[0].id;
    let link = consent_sent(&app, &smtp, id).await;
    let ids = boxes(&app.get(&link).await.text());
    assert_eq!(ids.len(), 2);

    let browser = Browser::start(Options::new(PHONE)).await;
    browser.goto(&app.url(&link)).await;
    assert_eq!(browser.heading().await, "Documents to read and sign");
    browser.assert_accessible("the documents to sign").await;
    let fits: bool = browser
        .eval("return document.documentElement.scrollWidth <= window.innerWidth")
        .await;
    assert!(fits, "nothing wider than the phone's screen");

    // Both ticked, but no name: the error, accessible too.
    browser.tab_to(&format!("sign-{}", ids[0])).await;
    browser.press(Key::Space).await;
    browser.tab_to(&format!("sign-{}", ids[1])).await;
    browser.tick_and_send("sign-button", &link).await;
    browser
        .assert_mistake_shown("Type your full name", "the signing form with a mistake")
        .await;

    // The ticks are kept; the name typed; signed with Enter.
    browser.tab_to("name").await;
    browser.type_text("Ada Lovelace").await;
    browser.tab_to("sign-button").await;
    browser.enter_to(&link).await;
    let page = browser.text_of("main").await;
    assert!(page.contains("by Ada Lovelace"), "{page}");
    assert!(page.contains("Download the signed copy (PDF)"), "{page}");
    browser.assert_accessible("the signed documents").await;
    browser.close().await;

    // The clinician sees it on the request's page.
    let desk = Browser::start(Options::new(DESKTOP)).await;
    desk.sign_in(&app).await;
    desk.goto(&app.url(&format!("/admin/requests/{id}"))).await;
    let panel = desk
        .text_of("section[aria-labelledby=documents-title]")
        .await;
    assert!(
        panel.contains("Signed") && panel.contains("Ada Lovelace"),
        "{panel}"
    );
    desk.assert_accessible("the request's page with signed documents")
        .await;
    desk.close().await;
}
