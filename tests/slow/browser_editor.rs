//! Running the site from the browser, in a real browser (Chromium through chromedriver): the
//! first run from the setup address through the account and the practice's details to the
//! public page showing them; an edit of the page's words with a mistake, a preview, a publish
//! that changes the public page without a restart, and restoring the built-in words; a page of
//! the practice's own in the navigation and sitemap, changed in place, then removed (410).
//! axe-core checks every new page, in its error state too.

use crate::common::TestApp;
use crate::common::clinician::{EMAIL, PASSWORD};
use crate::harness::{Browser, DESKTOP, Options};
use serde_json::json;

/// The home page's words as the document holds them. Its sections below the first screen are
/// not rendered until they are scrolled to (`content-visibility: auto`), and `innerText`
/// follows rendering, so it would leave them out.
const MAIN_WORDS: &str = "return document.querySelector('main').textContent";

/// Presses the submit button of `form` (a CSS selector), which loads `path`.
async fn send_form(browser: &Browser, form: &str, path: &str) {
    let button = format!("{form} button[type=submit]");
    browser.click_to(&button, path).await;
}

/// Sets a form field's value as typing would.
async fn set_value(browser: &Browser, id: &str, value: &str) {
    browser
        .js::<()>(
            "document.getElementById(arguments[0]).value = arguments[1]",
            vec![json!(id), json!(value)],
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_run_from_the_setup_address_to_the_practices_own_public_page() {
    let app = TestApp::start().await;
    let token = app.setup_token().await;
    let browser = Browser::start(Options::new(DESKTOP)).await;
    let setup = format!("/admin/setup/{token}");
    browser.goto(&app.url(&setup)).await;
    assert_eq!(browser.heading().await, "Set up your practice's website");
    browser.assert_accessible("the setup page").await;

    // With the keyboard: a password too short first.
    browser.tab_to("email").await;
    browser.type_text(EMAIL).await;
    browser.tab_to("password").await;
    browser.type_text("too short").await;
    browser.tab_to("password_again").await;
    browser.type_text("too short").await;
    browser.enter_to(&setup).await;
    browser
        .assert_mistake_shown("at least 12 characters", "the setup page with a mistake")
        .await;
    set_value(&browser, "password", PASSWORD).await;
    set_value(&browser, "password_again", PASSWORD).await;
    send_form(&browser, "form.request-form", "/admin/welcome").await;
    assert_eq!(browser.heading().await, "Your account is ready");
    browser.assert_accessible("the welcome page").await;

    // Two-factor sign-in is required before anything else; then the practice's details.
    browser
        .click_to("a[href='/admin/two-factor']", "/admin/two-factor")
        .await;
    browser.assert_accessible("the two-factor page").await;
    let secret = crate::common::clinician::base32_decode(&browser.text_of("code.secret").await);
    let code = auth::totp::current_code(&secret, jiff::Timestamp::now()).expect("a code");
    set_value(&browser, "password", PASSWORD).await;
    set_value(&browser, "code", &code).await;
    browser
        .click_to(
            "form[action='/admin/two-factor'] button[type=submit]",
            "/admin/two-factor",
        )
        .await;
    browser
        .click_to("a.button[href='/admin/details']", "/admin/details")
        .await;
    browser.assert_accessible("the practice's details").await;
    for (id, value) in [
        ("name", "Harbor Light Therapy"),
        ("clinician_name", "Sam Rivera"),
        ("credentials", "LMFT"),
        ("licensed_states", "NY"),
        ("email", "sam@harborlight.example.org"),
        ("phone", "not a number"),
        ("city", "Brooklyn, New York"),
    ] {
        set_value(&browser, id, value).await;
    }
    send_form(&browser, "form.settings-form", "/admin/details").await;
    browser
        .assert_mistake_shown(
            "is not a phone number",
            "the practice's details with a mistake",
        )
        .await;
    set_value(&browser, "phone", "(212) 555-0188").await;
    send_form(&browser, "form.settings-form", "/admin/details").await;
    assert!(browser.text_of(".notice").await.contains("are saved"));

    browser.goto(&app.url("/contact")).await;
    let page: String = browser.eval("return document.body.innerText").await;
    assert!(page.contains("Harbor Light Therapy"), "{page}");
    assert!(page.contains("(212) 555-0188"));
    assert!(!page.contains("Clearwater"));
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_with_a_mistake_a_preview_a_publish_and_a_restore() {
    let app = TestApp::with_clinician().await;
    let browser = Browser::signed_in(&app, Options::new(DESKTOP)).await;

    browser.goto(&app.url("/admin/words")).await;
    browser
        .assert_accessible("the list of the page's words")
        .await;
    let path = "/admin/words/home-10-is-kap-safe";
    browser.click_to(&format!("a[href='{path}']"), path).await;
    browser
        .assert_accessible("a section's words, its settings as fields")
        .await;

    // A setting left empty: named by its field, in the form's words.
    set_value(&browser, "setting-title", "").await;
    browser.click_to("button[value=publish]", path).await;
    browser
        .assert_mistake_shown(
            "Title is empty: write the words",
            "a section's settings with a mistake",
        )
        .await;

    // The whole text, its settings in TOML, for whoever prefers it.
    set_value(&browser, "setting-title", "Is KAP Safe?").await;
    browser.click_to("button[value=as_text]", path).await;
    let original = browser.value_of("body").await;
    assert!(original.starts_with("+++\ntitle = "), "{original}");

    // A Markdown mistake: named by its line, the text kept.
    let broken = original.replacen("+++\n", "+++\nlayout = \"carousel\"\n", 1);
    set_value(&browser, "body", &broken).await;
    browser.click_to("button[value=publish]", path).await;
    browser
        .assert_mistake_shown(
            "Line 2: layout \"carousel\" is not known",
            "a section's words with a mistake",
        )
        .await;
    let kept = browser.value_of("body").await;
    assert!(kept.contains("carousel"), "the text is kept");

    // A preview, then a publish that changes the public page.
    let edited = original.replace("it is not risk-free", "it is never free of risk");
    set_value(&browser, "body", &edited).await;
    browser.click_to("button[value=preview]", path).await;
    assert!(
        browser
            .text_of(".preview")
            .await
            .contains("it is never free of risk")
    );
    browser.assert_accessible("a preview").await;
    assert!(app.get("/").await.text().contains("it is not risk-free"));
    browser.click_to("button[value=publish]", path).await;
    browser
        .assert_accessible("the words with their history")
        .await;
    browser.goto(&app.url("/")).await;
    let home: String = browser.eval(MAIN_WORDS).await;
    assert!(home.contains("it is never free of risk"));

    // Restore the built-in words (the last entry of the history): shown first, then restored.
    browser.goto(&app.url(path)).await;
    browser
        .click_to("ol.history li:last-child a.button", path)
        .await;
    assert!(
        browser
            .text_of(".preview")
            .await
            .contains("it is not risk-free")
    );
    browser
        .assert_accessible("a version shown before it is restored")
        .await;
    browser
        .click_to("form[action$='/restore'] button[type=submit]", path)
        .await;
    browser.goto(&app.url("/")).await;
    let home: String = browser.eval(MAIN_WORDS).await;
    assert!(home.contains("it is not risk-free"));
    assert!(!home.contains("it is never free of risk"));

    // A page of the practice's own: a refused address first, then /fees, then removed.
    browser.goto(&app.url("/admin/pages")).await;
    browser.assert_accessible("the practice's own pages").await;
    set_value(&browser, "title", "Fees and insurance").await;
    set_value(&browser, "path", "/contact").await;
    set_value(&browser, "body", "A session is **$200**.").await;
    send_form(&browser, "form.request-form", "/admin/pages").await;
    browser
        .assert_mistake_shown(
            "/contact belongs to the site itself",
            "the practice's own pages with a mistake",
        )
        .await;
    set_value(&browser, "path", "/fees").await;
    send_form(&browser, "form.request-form", "/admin/pages").await;
    browser.goto(&app.url("/")).await;
    browser.click_to("nav a[href='/fees']", "/fees").await;
    assert_eq!(browser.heading().await, "Fees and insurance");
    browser
        .assert_accessible("a page of the practice's own")
        .await;
    assert!(app.get("/sitemap.xml").await.text().contains("/fees</loc>"));

    // Changed in place: a mistake (the text kept), a preview, a publish.
    browser.goto(&app.url("/admin/pages")).await;
    let edit: String = browser
        .eval("return new URL(document.querySelector('ul.own-pages a.button').href).pathname")
        .await;
    browser.click_to("ul.own-pages a.button", &edit).await;
    browser
        .assert_accessible("changing a page of the practice's own")
        .await;
    set_value(&browser, "title", "").await;
    set_value(&browser, "body", "Sessions are **$220** from May.").await;
    browser.click_to("button[value=publish]", &edit).await;
    browser
        .assert_mistake_shown(
            "Enter a title",
            "changing a page of the practice's own, with a mistake",
        )
        .await;
    let kept = browser.value_of("body").await;
    assert_eq!(kept, "Sessions are **$220** from May.");
    set_value(&browser, "title", "Fees").await;
    browser.click_to("button[value=preview]", &edit).await;
    assert!(browser.text_of(".preview").await.contains("$220 from May"));
    browser
        .assert_accessible("a preview of a page of the practice's own")
        .await;
    assert!(app.get("/fees").await.text().contains("$200"));
    browser.click_to("button[value=publish]", &edit).await;
    browser.goto(&app.url("/fees")).await;
    assert_eq!(browser.heading().await, "Fees");
    let page: String = browser.eval("return document.body.innerText").await;
    assert!(page.contains("$220 from May"), "{page}");

    browser.goto(&app.url("/admin/pages")).await;
    let remove = format!("{edit}/remove");
    browser
        .click_to(&format!("ul.own-pages a[href='{remove}']"), &remove)
        .await;
    browser
        .assert_accessible("removing a page asks first")
        .await;
    browser
        .click_to(
            &format!("form[action='{remove}'] button[type=submit]"),
            "/admin/pages",
        )
        .await;
    assert_eq!(app.get("/fees").await.status, 410);
    assert!(!app.get("/sitemap.xml").await.text().contains("/fees"));
    browser.close().await;
}
