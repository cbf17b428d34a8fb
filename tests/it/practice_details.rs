//! The practice's details kept in the inbox: checked as `check` checks them, live without a
//! restart, refused when another tab saved first, and outranked by the config file.

use crate::common::TestApp;
use crate::common::clinician::Clinician;
use crate::common::details::{new_practice, save_first, send_details};

/// A site at a public address, so the example practice is hidden until the details are saved
/// (the rest of the going-live checklist is done by the file; see tests/it/records.rs).
const PUBLIC: &str = "[server]\nbase_url = \"https://practice.test\"\n\n[going_live]\nreviewed = [\"about\", \"credentials\", \"privacy\", \"crisis\"]\n";

/// The form's version field on the details page.
fn version_on(html: &str) -> String {
    let at = html
        .find("name=\"version\" value=\"")
        .expect("version field")
        + 22;
    html[at..].split('"').next().expect("value").to_string()
}

async fn signed_in_app(config: &str) -> TestApp {
    let app = TestApp::with_config(config).await;
    app.add_clinician().await;
    app
}

/// The clinician signed in, posting from the site's public address.
async fn clinician(app: &TestApp) -> Clinician<'_> {
    Clinician::signed_in_from(app, "https://practice.test").await
}

#[tokio::test]
async fn saved_details_replace_the_example_practice_at_once() {
    let app = signed_in_app(PUBLIC).await;
    assert_eq!(app.get("/").await.status, 503, "being set up");
    let mut c = clinician(&app).await;
    let html = c.page("/admin/details").await;
    assert!(html.contains("<label class=\"label\" for=\"phone\">Phone number</label>"));
    let version = version_on(&html);
    assert_eq!(version, "0");

    // Mistakes are named in the config's words, by field, and the text is kept.
    let mistakes = [("phone", "call me"), ("accent_color", "#ffff00")];
    let html = send_details(&mut c, &mistakes, "0").await.page_with(422);
    assert!(html.contains("<title>Error: The practice"));
    // In the form's words: the setting's internal name means nothing to the person at the form.
    assert!(
        html.contains("href=\"#phone\">Phone number: &#34;call me&#34; is not a phone number")
            || html.contains(
                "href=\"#phone\">Phone number: &quot;call me&quot; is not a phone number"
            ),
        "{html}"
    );
    assert!(html.contains("href=\"#accent_color\">Accent colour: #ffff00 is too light"));
    assert!(!html.contains("practice.phone") && !html.contains("practice.accent_color"));
    assert!(
        html.contains("value=\"Harbor Light Therapy\""),
        "the text is kept"
    );
    assert_eq!(app.get("/").await.status, 503, "nothing saved");

    let saved = send_details(&mut c, &[], "0").await;
    assert_eq!(saved.status, 303, "{}", saved.text());
    assert_eq!(saved.header("location"), Some("/admin/details?saved=1"));
    // Live without a restart: the public pages name the practice and no example is left.
    let html = app.page("/").await;
    assert!(html.contains("Harbor Light Therapy"));
    assert!(html.contains("Sam Rivera, LMFT"));
    assert!(!html.contains("Clearwater"));
    let contact = app.get("/contact").await.text();
    assert!(contact.contains("(212) 555-0188"));
    assert!(contact.contains("within one business day"));
    assert!(!contact.contains("010-0100"));
    // Saved by whom, and in the audit log.
    let again = c.get("/admin/details?saved=1").await.text();
    assert!(again.contains("The practice's details are saved"));
    assert!(again.contains("by clinician@practice.example"));
    assert_eq!(version_on(&again), "1");
    let (rows, _) = app.state.store.audit_log(10, 0).await.expect("audit");
    assert!(rows.iter().any(|r| r.action == "practice_details_saved"));
}

#[tokio::test]
async fn a_save_from_an_older_page_is_refused_and_its_text_kept() {
    let app = signed_in_app(PUBLIC).await;
    let mut c = clinician(&app).await;
    save_first(&mut c, &new_practice()).await;
    // The second tab was opened at version 0, before that save.
    let second = [("city", "Queens, New York")];
    let html = send_details(&mut c, &second, "0").await.page_with(409);
    assert!(html.contains("Someone saved these details after you opened this page"));
    assert!(
        html.contains("value=\"Queens, New York\""),
        "their text is kept"
    );
    assert_eq!(version_on(&html), "1", "a second save goes through");
    let saved = app
        .state
        .store
        .practice_details()
        .await
        .expect("store")
        .expect("saved");
    assert_eq!(saved.values["city"], "Brooklyn, New York");
    assert_eq!(saved.version, 1);
}

#[tokio::test]
async fn a_value_in_the_config_file_wins_and_is_shown_read_only() {
    let config = format!("{PUBLIC}\n[practice]\nname = \"Harbor Light Therapy\"\n");
    let app = signed_in_app(&config).await;
    let mut c = clinician(&app).await;
    let html = c.get("/admin/details").await.text();
    assert!(html.contains("value=\"Harbor Light Therapy\" readonly"));
    assert!(html.contains("id=\"name-source\">Set in "));
    assert!(html.contains("kap-practice.toml, which wins over this page"));
    let another_name = [("name", "Another Name")];
    assert_eq!(send_details(&mut c, &another_name, "0").await.status, 303);
    let home = app.get("/").await.text();
    assert!(home.contains("Harbor Light Therapy"));
    assert!(!home.contains("Another Name"));
}

#[tokio::test]
async fn a_saved_time_zone_reaches_bookings_at_once_and_after_the_next_start() {
    let app = signed_in_app(PUBLIC).await;
    let mut c = clinician(&app).await;
    let page = c.get("/admin/details").await.text();
    assert!(!page.contains("until the server is restarted"), "{page}");
    assert_eq!(
        app.state.time_zone().iana_name(),
        Some("America/Los_Angeles")
    );

    let saved = send_details(&mut c, &[], "0").await;
    assert_eq!(saved.status, 303, "{}", saved.text());
    // Open times, bookings, reminders, emails and the calendar follow the saved zone at once.
    assert_eq!(app.state.time_zone().iana_name(), Some("America/New_York"));
    let page = c.get("/admin/details?saved=1").await.text();
    assert!(!page.contains("until the server is restarted"), "{page}");

    // The next start, on the same data, keeps it.
    let (config, site) = kap_practice::prepare(&app.overrides).expect("valid config");
    let restarted = kap_practice::open(config, site).await.expect("opens");
    assert_eq!(
        restarted.state.time_zone().iana_name(),
        Some("America/New_York")
    );
    assert_eq!(
        restarted.state.config().practice.time_zone,
        "America/New_York"
    );
}

/// The time zone is picked from a list (the United States' zones first), not typed as an IANA
/// name; the saved zone is the one selected.
#[tokio::test]
async fn the_time_zone_is_chosen_from_a_list_with_the_united_states_first() {
    let app = signed_in_app(PUBLIC).await;
    let mut c = clinician(&app).await;
    let page = c.get("/admin/details").await.text();
    let select = page
        .split("<select class=\"select\" id=\"time_zone\" name=\"time_zone\"")
        .nth(1)
        .and_then(|s| s.split("</select>").next())
        .unwrap_or_else(|| panic!("a list of time zones: {page}"));
    let us = select
        .find("<optgroup label=\"United States\">")
        .expect("US group");
    let others = select
        .find("<optgroup label=\"Other time zones\">")
        .expect("others");
    assert!(us < others, "the United States first");
    assert!(
        select[us..others].contains(
            "<option value=\"America/New_York\">Eastern (New York): America/New_York</option>"
        ),
        "{select}"
    );
    assert!(
        select[others..].contains("<option value=\"Europe/Berlin\">"),
        "{select}"
    );
    assert!(
        select.contains("<option value=\"America/Los_Angeles\" selected>"),
        "the zone in force is selected: {select}"
    );
    assert!(!page.contains("America/New_York or America/Los_Angeles"));

    let chicago = [("time_zone", "America/Chicago")];
    let saved = send_details(&mut c, &chicago, "0").await;
    assert_eq!(saved.status, 303, "{}", saved.text());
    let page = c.get("/admin/details?saved=1").await.text();
    assert!(page.contains("<option value=\"America/Chicago\" selected>"));
    assert_eq!(app.state.time_zone().iana_name(), Some("America/Chicago"));
}
