//! Whole journeys in a real browser: a person sends the contact form with the keyboard only
//! (making a mistake on the way), and the clinician's working day in the inbox. axe-core checks
//! every page on the way, including the form in its error state.

mod common;
#[path = "browser/harness.rs"]
#[allow(dead_code)] // Shared with tests/browser.rs, which uses the rest.
mod harness;

use std::time::Duration;

use common::TestApp;
use fantoccini::Locator;
use fantoccini::key::Key;
use harness::{Browser, DESKTOP, Options, PHONE};
use kap_practice::audit::{Action, Entry};
use kap_practice::auth::password;
use kap_practice::config::Overrides;
use serde_json::json;

const WCAG_TAGS: [&str; 5] = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"];

/// axe-core's WCAG 2.2 AA violations on the open page, as readable lines.
async fn axe_violations(browser: &Browser) -> Vec<String> {
    let loaded: String = browser
        .js(
            &format!("{}\n;return typeof window.axe;", harness::axe_source()),
            vec![],
        )
        .await;
    assert_eq!(loaded, "object", "axe-core did not load into the page");
    let found: Vec<String> = browser
        .js_async(
            r#"
            const [tags, done] = arguments;
            axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] })
              .then(r => done(r.violations.map(v => v.id + ': ' + v.help + ' at ' + v.nodes.map(n => n.target.join(' ')).join(', '))))
              .catch(e => done(['axe failed: ' + e]));
            "#,
            vec![json!(WCAG_TAGS)],
        )
        .await;
    found
}

async fn assert_accessible(browser: &Browser, what: &str) {
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

/// Presses Tab until the element with `id` has focus (a keyboard user's way there).
async fn tab_to(browser: &Browser, id: &str) {
    for _ in 0..60 {
        if active_id(browser).await == id {
            return;
        }
        browser.press(Key::Tab).await;
    }
    panic!("Tab never reached #{id}");
}

/// Types into whatever has focus.
async fn type_text(browser: &Browser, text: &str) {
    browser
        .client
        .active_element()
        .await
        .expect("focused element")
        .send_keys(text)
        .await
        .expect("type");
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

async fn contact_form_with_the_keyboard(options: Options) {
    let app = TestApp::start().await;
    let browser = Browser::start(options).await;
    browser.goto(&app.url("/contact")).await;
    assert_accessible(&browser, "the contact form").await;

    tab_to(&browser, "name").await;
    type_text(&browser, "Ada Lovelace").await;
    browser.press(Key::Tab).await;
    type_text(&browser, "ada@example.com").await;
    browser.press(Key::Tab).await; // phone: left empty
    browser.press(Key::Tab).await; // into the contact-method radios
    assert_eq!(active_id(&browser).await, "contact_method-email");
    browser.press(Key::Right).await; // "Phone" — but no phone number was given
    assert_eq!(active_id(&browser).await, "contact_method-phone");
    browser.press(Key::Tab).await;
    assert_eq!(active_id(&browser).await, "state");
    type_text(&browser, "California").await;
    browser.press(Key::Tab).await;
    assert_eq!(active_id(&browser).await, "age_group-adult");
    browser.press(Key::Space).await;
    browser.press(Key::Tab).await;
    assert_eq!(active_id(&browser).await, "message");
    type_text(&browser, "Feeling stuck for a long time.").await;
    tab_to(&browser, "consent").await;
    browser.press(Key::Space).await;
    tab_to(&browser, "send-request").await;
    let invalid: Vec<String> = browser
        .js("return [...document.querySelectorAll('form.request-form :invalid')].map(e => e.id || e.name)", vec![])
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
    let kept: String = browser
        .js("return document.getElementById('name').value", vec![])
        .await;
    assert_eq!(kept, "Ada Lovelace");
    assert_accessible(&browser, "the contact form with an error").await;

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
        .js::<()>("document.querySelector('.error-summary a').focus()", vec![])
        .await;
    browser.press(Key::Enter).await;
    assert_eq!(active_id(&browser).await, "phone");
    type_text(&browser, "(510) 555-0123").await;
    mark_page(&browser).await;
    browser.press(Key::Enter).await;

    wait_for_path(&browser, "/contact/thanks").await;
    assert!(heading(&browser).await.contains("Thank you"));
    assert_accessible(&browser, "the thank-you page").await;
    let stored = app.state.store.all_requests().await.expect("stored");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].phone.as_deref(), Some("(510) 555-0123"));
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_sends_the_form_with_the_keyboard_on_a_phone() {
    contact_form_with_the_keyboard(Options::new(PHONE)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_sends_the_form_with_the_keyboard_on_a_desktop() {
    contact_form_with_the_keyboard(Options::new(DESKTOP)).await;
}

const EMAIL: &str = "clinician@practice.example";
const PASSWORD: &str = "lantern orchard velvet tide";

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

async fn fill(browser: &Browser, css: &str, text: &str) {
    browser
        .client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .send_keys(text)
        .await
        .expect("type");
}

/// Marks the current document, so that a wait can tell when a new one has loaded.
async fn mark_page(browser: &Browser) {
    browser.js::<()>("window.kapOldPage = true", vec![]).await;
}

/// Waits until a new document at `path` has loaded (after [`mark_page`], if it was called).
async fn wait_for_path(browser: &Browser, path: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clinicians_working_day() {
    let app = TestApp::start_with(Overrides::default(), None).await;
    let hash = password::hash(PASSWORD).expect("hash");
    app.state
        .store
        .add_account(
            EMAIL,
            &hash,
            jiff::Timestamp::now(),
            &Entry::new("test", Action::AccountAdded),
        )
        .await
        .expect("store")
        .expect("account");
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
    assert_accessible(&browser, "the sign-in page").await;
    fill(&browser, "#email", EMAIL).await;
    fill(&browser, "#password", PASSWORD).await;
    click(&browser, "form.request-form button[type=submit]").await;
    wait_for_path(&browser, "/admin").await;
    assert_accessible(&browser, "the inbox").await;

    // Open the new request.
    click(&browser, "table.requests a[href='/admin/requests/1']").await;
    wait_for_path(&browser, "/admin/requests/1").await;
    assert!(heading(&browser).await.contains("Grace Hopper"));
    assert_accessible(&browser, "a request's page").await;

    // Add a note.
    fill(&browser, "#note", "Called; left a voicemail.").await;
    click(&browser, "form[action='/admin/requests/1/notes'] button").await;
    wait_for_path(&browser, "/admin/requests/1").await;
    let notes = browser
        .client
        .find(Locator::Css("ol.notes"))
        .await
        .expect("notes")
        .text()
        .await
        .expect("text");
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
    click(&browser, "form[action='/admin/requests/1/status'] button").await;
    wait_for_path(&browser, "/admin/requests/1").await;
    assert_eq!(
        app.state
            .store
            .request(1)
            .await
            .expect("read")
            .expect("exists")
            .status,
        "contacted"
    );
    let history = browser
        .client
        .find(Locator::Css("ol.history"))
        .await
        .expect("history")
        .text()
        .await
        .expect("text");
    assert!(history.contains("New → Contacted"), "{history}");

    // Export everything (a download: the page stays where it is).
    browser.goto(&app.url("/admin")).await;
    click(&browser, "button[name=scope][value=all]").await;
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
    click(&browser, "a[href='/admin/requests/1/delete']").await;
    wait_for_path(&browser, "/admin/requests/1/delete").await;
    assert_accessible(&browser, "the delete confirmation").await;
    click(&browser, "form[action='/admin/requests/1/delete'] button").await;
    wait_for_path(&browser, "/admin").await;
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
    ] {
        browser.goto(&app.url(path)).await;
        assert_accessible(&browser, what).await;
    }
    let phone = Browser::start(Options::new(PHONE)).await;
    phone.goto(&app.url("/admin/login")).await;
    assert_accessible(&phone, "the sign-in page on a phone").await;
    phone.close().await;
    browser.close().await;
}
