//! Whole journeys in a real browser: a person sends the contact form with the keyboard only
//! (making a mistake on the way), and the clinician's working day in the inbox. axe-core checks
//! every page on the way, including the form in its error state.

use practice::status::Status;
use std::time::Duration;

use crate::common::TestApp;
use crate::common::clinician::{EMAIL, PASSWORD};
use crate::harness::{Browser, DESKTOP, Options, PHONE, on_phone_and_desktop};
use fantoccini::Locator;
use fantoccini::key::Key;

async fn contact_form_with_the_keyboard(options: Options) {
    let app = TestApp::start().await;
    let browser = Browser::start(options).await;
    browser.goto(&app.url("/contact")).await;
    browser.assert_accessible("the contact form").await;

    browser.tab_to("name").await;
    browser.type_text("Ada Lovelace").await;
    browser.press(Key::Tab).await;
    browser.type_text("ada@example.com").await;
    browser.press(Key::Tab).await; // phone: left empty
    browser.press(Key::Tab).await; // into the contact-method radios
    assert_eq!(browser.active_id().await, "contact_method-email");
    browser.press(Key::Right).await; // "Phone" — but no phone number was given
    assert_eq!(browser.active_id().await, "contact_method-phone");
    // Choosing the phone brings the voicemail question, next in the order; it is optional.
    browser.press(Key::Tab).await;
    assert_eq!(browser.active_id().await, "voicemail-yes");
    browser.press(Key::Tab).await;
    assert_eq!(browser.active_id().await, "state");
    browser.type_text("California").await;
    browser.press(Key::Tab).await;
    assert_eq!(browser.active_id().await, "for_whom-myself");
    browser.press(Key::Space).await;
    browser.press(Key::Tab).await;
    assert_eq!(browser.active_id().await, "age_group-adult");
    browser.press(Key::Space).await;
    browser.press(Key::Tab).await;
    assert_eq!(browser.active_id().await, "message");
    browser.type_text("Feeling stuck for a long time.").await;
    browser.tab_to("consent").await;
    browser.press(Key::Space).await;
    browser.tab_to("send-request").await;
    let invalid: Vec<String> = browser
        .eval("return [...document.querySelectorAll('form.request-form :invalid')].map(e => e.id || e.name)")
        .await;
    assert!(
        invalid.is_empty(),
        "the browser would refuse to send: {invalid:?}"
    );
    browser.press(Key::Enter).await;

    // The server answers with the form again, a summary of what to fix, and the values kept.
    let summary = browser
        .client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(".error-summary"))
        .await
        .expect("the error summary");
    let summary_text = summary.text().await.expect("text");
    assert!(
        summary_text.contains("Enter a phone number"),
        "{summary_text}"
    );
    let kept = browser.value_of("name").await;
    assert_eq!(kept, "Ada Lovelace");
    browser
        .assert_accessible("the contact form with an error")
        .await;

    // Fix it: follow the summary's link to the field, type the number, send.
    let link = browser
        .client
        .find(Locator::Css(".error-summary a"))
        .await
        .expect("error link");
    let href = link.attr("href").await.expect("href").unwrap_or_default();
    assert_eq!(href, "#phone");
    // Keyboard: focus the link, press Enter, land in the field.
    browser
        .eval::<()>("document.querySelector('.error-summary a').focus()")
        .await;
    browser.press(Key::Enter).await;
    assert_eq!(browser.active_id().await, "phone");
    browser.type_text("(510) 555-0123").await;
    browser.enter_to("/contact/thanks").await;
    assert!(browser.heading().await.contains("Thank you"));
    browser.assert_accessible("the thank-you page").await;
    let stored = app.state.store.all_requests().await.expect("stored");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].phone.as_deref(), Some("(510) 555-0123"));
    browser.close().await;
}

on_phone_and_desktop!(
    |viewport| contact_form_with_the_keyboard(Options::new(viewport));
    a_person_sends_the_form_with_the_keyboard_on_a_phone,
    a_person_sends_the_form_with_the_keyboard_on_a_desktop
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clinicians_working_day() {
    let app = TestApp::builder().build().await;
    app.add_clinician().await;
    assert_eq!(
        app.submit(
            "Grace Hopper",
            &[("message", "Looking for a different way in.")]
        )
        .await
        .status,
        303
    );

    let browser = Browser::start(Options::new(DESKTOP)).await;
    browser.goto(&app.url("/admin/login")).await;
    browser.assert_accessible("the sign-in page").await;
    browser.fill("#email", EMAIL).await;
    browser.fill("#password", PASSWORD).await;
    browser
        .click_to("form.request-form button[type=submit]", "/admin/login/code")
        .await;
    browser.assert_accessible("the sign-in code page").await;
    browser.fill("#code", &app.authenticator_code().await).await;
    browser
        .click_to("form.request-form button[type=submit]", "/admin")
        .await;
    browser.assert_accessible("the inbox").await;

    // Open the new request.
    browser
        .click_to(
            "table.requests a[href='/admin/requests/1']",
            "/admin/requests/1",
        )
        .await;
    assert!(browser.heading().await.contains("Grace Hopper"));
    browser.assert_accessible("a request's page").await;

    // Add a note.
    browser.fill("#note", "Called; left a voicemail.").await;
    browser
        .click_to(
            "form[action='/admin/requests/1/notes'] button",
            "/admin/requests/1",
        )
        .await;
    let notes = browser.text_of("ol.notes").await;
    assert!(notes.contains("Called; left a voicemail."), "{notes}");

    // Move it to Contacted.
    browser
        .client
        .find(Locator::Css("#new-status"))
        .await
        .expect("status")
        .select_by_value("contacted")
        .await
        .expect("select");
    browser
        .click_to(
            "form[action='/admin/requests/1/status'] button",
            "/admin/requests/1",
        )
        .await;
    assert_eq!(app.stored_request(1).await.status, Status::Contacted);
    let history = browser.text_of("ol.history").await;
    assert!(history.contains("New → Contacted"), "{history}");

    // Export everything (a download: the page stays where it is).
    browser.goto(&app.url("/admin")).await;
    browser.click("button[name=scope][value=all]").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (rows, _) = app.state.store.audit_log(1, 0).await.expect("audit");
        if rows.first().is_some_and(|r| r.action == "export") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the export was not recorded"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Delete it, after the confirmation.
    browser.goto(&app.url("/admin/requests/1")).await;
    browser
        .click_to(
            "a[href='/admin/requests/1/delete']",
            "/admin/requests/1/delete",
        )
        .await;
    browser.assert_accessible("the delete confirmation").await;
    browser
        .click_to("form[action='/admin/requests/1/delete'] button", "/admin")
        .await;
    assert!(
        app.state
            .store
            .all_requests()
            .await
            .expect("read")
            .is_empty()
    );

    // The other inbox pages.
    for (path, what) in [
        ("/admin/audit", "the audit log"),
        ("/admin/two-factor", "two-factor enrolment"),
        ("/admin?folder=spam", "the spam folder"),
        ("/admin/backups", "the backups page and its settings"),
    ] {
        browser.goto(&app.url(path)).await;
        browser.assert_accessible(what).await;
    }
    let phone = Browser::start(Options::new(PHONE)).await;
    phone.goto(&app.url("/admin/login")).await;
    phone.assert_accessible("the sign-in page on a phone").await;
    phone
        .click_to("a[href='/admin/login/forgot']", "/admin/login/forgot")
        .await;
    phone
        .assert_accessible("\"Forgot your password?\" on a phone")
        .await;
    phone.close().await;
    browser.close().await;
}

/// The going-live checklist at the top of the inbox, on a phone and a desktop: every item is
/// there with what is left to do, the items that may be kept have their button, and axe-core
/// finds nothing in the light or the dark colour scheme.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_going_live_checklist_is_readable_on_a_phone_and_a_desktop() {
    let app = TestApp::with_clinician().await;
    for viewport in [PHONE, DESKTOP] {
        let browser = Browser::signed_in(&app, Options::new(viewport)).await;
        let checklist = browser.text_of("#going-live").await;
        assert!(
            checklist.contains("Before the public sees your site"),
            "{checklist}"
        );
        for item in [
            "details",
            "city",
            "about",
            "credentials",
            "privacy",
            "crisis",
        ] {
            let row = browser.text_of(&format!("#going-live-{item}")).await;
            assert!(
                row.contains("To do"),
                "{item} at {}px: {row}",
                viewport.width
            );
        }
        let keep: usize = browser
            .js(
                "return document.querySelectorAll('#going-live form[action=\"/admin/going-live\"]').length",
                vec![],
            )
            .await;
        assert!(
            keep >= 2,
            "the privacy page and the crisis numbers may be kept"
        );
        browser
            .assert_accessible(&format!(
                "the inbox with the going-live checklist at {}px",
                viewport.width
            ))
            .await;
        browser.close().await;
    }
}

/// The recovery codes shown once after turning on two-factor sign-in are readable (axe's
/// contrast check, light and dark) on a phone and a desktop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_recovery_codes_are_readable_on_a_phone_and_a_desktop() {
    for viewport in [PHONE, DESKTOP] {
        let app = TestApp::start().await;
        app.add_clinician_without_two_factor().await;
        let browser = Browser::start(Options::new(viewport)).await;
        // An account without two-factor sign-in is sent to turn it on first.
        browser.sign_in_password(&app, "/admin/two-factor").await;
        browser
            .assert_accessible("two-factor sign-in, required before the inbox")
            .await;
        let secret = crate::common::clinician::base32_decode(&browser.text_of("code.secret").await);
        let code = auth::totp::current_code(&secret, jiff::Timestamp::now()).expect("a code");
        browser.fill("#password", PASSWORD).await;
        browser.fill("#code", &code).await;
        browser
            .click_to(
                "form[action='/admin/two-factor'] button[type=submit]",
                "/admin/two-factor",
            )
            .await;
        let codes = browser.text_of(".recovery-codes").await;
        assert_eq!(codes.lines().count(), 10, "{codes}");
        browser
            .assert_accessible("the recovery codes shown once")
            .await;
        // Their page to print, without the inbox's navigation.
        browser
            .click_to(
                "a[href='/admin/two-factor/recovery-codes']",
                "/admin/two-factor/recovery-codes",
            )
            .await;
        let printed = browser.text_of(".recovery-codes").await;
        assert_eq!(printed, codes);
        browser
            .assert_accessible("the recovery codes' page to print")
            .await;
        browser.close().await;
    }
}
