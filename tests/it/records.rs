//! Going live without someone else's claims, and the records a practice keeps described truly:
//! the going-live checklist in the inbox, the retention periods (set in the config file or the
//! inbox, stated on the privacy page, with an export offered before anything is deleted), and
//! a privacy page whose list of what is kept in plain text is the database's.

use jiff::{SignedDuration, Timestamp};

use crate::common::clinician::Clinician;
use crate::common::{TestApp, visible_text};
use practice::status::StatusChange;

/// A site at a public address: the example practice is hidden until it goes live.
const PUBLIC: &str = "[server]\nbase_url = \"https://practice.test\"\n";

/// The "who I am" section's address in the words editor.
const ABOUT: &str = "/admin/words/home-14-why-work-with-me";

/// The details form as a new practice first saves it: its own name, email and phone, the
/// example's city left as it was, and the credentials written into the name as well.
fn first_save() -> Vec<(&'static str, &'static str)> {
    with(
        crate::common::details::new_practice(),
        &[
            ("clinician_name", "Maya Okafor, LCSW"),
            ("credentials", "LCSW"),
            ("licensed_states", "NY"),
            ("email", "maya@harborlight.example.org"),
            ("city", "Oakland, California"),
            ("urgent_reply_hours", "24"),
            ("keep_closed_days", "365"),
            ("keep_consulted_days", "2557"),
        ],
    )
}

/// `fields` with `changes` in place.
fn with(
    mut fields: Vec<(&'static str, &'static str)>,
    changes: &[(&'static str, &'static str)],
) -> Vec<(&'static str, &'static str)> {
    for (k, v) in changes {
        fields.retain(|(name, _)| name != k);
        fields.push((k, v));
    }
    fields
}

async fn save_details(c: &mut Clinician<'_>, fields: &[(&str, &str)], version: &str) {
    let mut fields = fields.to_vec();
    fields.push(("version", version));
    let r = c.action("/admin/details", "/admin/details", &fields).await;
    assert_eq!(r.status, 303, "{}", r.text());
}

/// Moves request `id` to the status and reason `to` (the reason may be empty) at `at`.
async fn move_to(app: &TestApp, id: i64, to: (&str, &str), at: Timestamp) {
    let change = StatusChange::parse(to.0, to.1).expect("valid");
    app.state
        .store
        .change_status(id, change, "test", false, at)
        .await
        .expect("status changed");
}

/// The revision a words form was shown at.
fn base_on(html: &str) -> String {
    let at = html.find("name=\"base\" value=\"").expect("base field") + 19;
    html[at..].split('"').next().expect("value").to_string()
}

async fn confirm(c: &mut Clinician<'_>, item: &str) -> u16 {
    c.action("/admin", "/admin/going-live", &[("item", item)])
        .await
        .status
}

/// The text of the going-live item `key` on the inbox page.
fn item<'h>(inbox: &'h str, key: &str) -> &'h str {
    let at = inbox
        .find(&format!("id=\"going-live-{key}\""))
        .unwrap_or_else(|| panic!("no item {key}: {inbox}"));
    let rest = &inbox[at..];
    &rest[..rest.find("</li>").unwrap_or(rest.len())]
}

#[tokio::test]
async fn the_site_goes_live_only_once_every_item_of_the_checklist_is_done() {
    let app = TestApp::with_config(PUBLIC).await;
    app.add_clinician().await;
    let mut c = Clinician::signed_in_from(&app, "https://practice.test").await;

    // Name, clinician, email and phone are the practice's own: not enough to go live.
    save_details(&mut c, &first_save(), "0").await;
    assert_eq!(app.get("/").await.status, 503, "still being set up");
    let notice = c.get("/admin/details?saved=1").await.text();
    assert!(
        notice.contains("Visitors still see the “being set up” page"),
        "{notice}"
    );
    assert!(
        !notice.contains("The public pages show them now"),
        "the notice does not claim the public sees the details"
    );

    // The inbox's checklist says what is left, and the example's city and biography cannot
    // be waved through.
    let inbox = c.get("/admin").await.text();
    assert!(
        inbox.contains("Before the public sees your site"),
        "{inbox}"
    );
    assert!(item(&inbox, "details").contains("Done"));
    assert!(item(&inbox, "city").contains("To do"));
    assert!(item(&inbox, "city").contains("Oakland, California"));
    assert!(item(&inbox, "about").contains("To do"));
    assert!(item(&inbox, "about").contains("href=\"/admin/words/home-14-why-work-with-me\""));
    let credentials = item(&inbox, "credentials");
    assert!(credentials.contains("To do"), "{credentials}");
    assert!(
        credentials.contains("already ends with your credentials")
            && credentials.contains("“Maya Okafor, LCSW, LCSW”"),
        "the repeated credentials are caught: {credentials}"
    );
    for kept_as_is in ["privacy", "crisis"] {
        assert!(item(&inbox, kept_as_is).contains("name=\"item\" value=\""));
    }
    for own in ["city", "about", "details", "credentials"] {
        assert!(
            !item(&inbox, own).contains("name=\"item\""),
            "{own} cannot be confirmed as it is"
        );
    }
    assert_eq!(confirm(&mut c, "city").await, 422);
    assert_eq!(confirm(&mut c, "about").await, 422);
    assert_eq!(confirm(&mut c, "credentials").await, 422, "name repeats");
    assert_eq!(confirm(&mut c, "nothing").await, 400);

    // The name alone and the practice's own city; credentials, privacy page and crisis
    // numbers reviewed and kept.
    let fixed = with(
        first_save(),
        &[
            ("clinician_name", "Maya Okafor"),
            ("city", "Brooklyn, New York"),
        ],
    );
    save_details(&mut c, &fixed, "1").await;
    for reviewed in ["credentials", "privacy", "crisis"] {
        assert_eq!(confirm(&mut c, reviewed).await, 303, "{reviewed}");
    }
    let inbox = c.get("/admin").await.text();
    for done in ["details", "city", "credentials", "privacy", "crisis"] {
        assert!(item(&inbox, done).contains("Done"), "{done}: {inbox}");
    }
    assert_eq!(app.get("/").await.status, 503, "the biography is left");

    // The "who I am" section in the clinician's own words: live.
    let csrf = c.csrf(ABOUT).await;
    let body = "+++\ntitle = \"Why Work with Me?\"\n+++\nI trained in psychedelic-assisted therapy at a program in New York, and own-words-marker-5521.\n";
    let published = c
        .post(
            ABOUT,
            &crate::common::form_body(&[
                ("csrf", &csrf),
                ("body", body),
                ("base", "0"),
                ("action", "publish"),
            ]),
        )
        .await;
    assert_eq!(published.status, 303, "{}", published.text());
    let home = app.get("/").await;
    assert_eq!(home.status, 200, "live");
    let html = home.text();
    assert!(html.contains("own-words-marker-5521"));
    assert!(html.contains("Brooklyn, New York"));
    assert!(!html.contains("Oakland"), "the example's city is not shown");
    assert!(
        !html.contains("Integral Studies") && !html.contains("prescribing psychiatrist"),
        "the example clinician's training is not shown"
    );
    assert!(html.contains("Maya Okafor, LCSW") && !html.contains("LCSW, LCSW"));
    let inbox = c.get("/admin").await.text();
    assert!(!inbox.contains("Before the public sees your site"));
    let notice = c.get("/admin/details?saved=1").await.text();
    assert!(notice.contains("The public pages show them now"));
    assert_eq!(app.audit_lines("going_live_reviewed").await, 3);

    // Restoring the example's words takes the site back to "being set up".
    let editor = c.get(ABOUT).await.text();
    let base = base_on(&editor);
    let csrf = c.csrf(ABOUT).await;
    let built_in = content::built_in_files()
        .into_iter()
        .find(|(rel, _)| rel == "home/14-why-work-with-me.md")
        .expect("the built-in section")
        .1;
    let r = c
        .post(
            ABOUT,
            &crate::common::form_body(&[
                ("csrf", &csrf),
                ("body", &built_in),
                ("base", &base),
                ("action", "publish"),
            ]),
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(app.get("/").await.status, 503);
}

/// The retention periods as the inbox sets them, stated on the privacy page and followed by
/// the hourly housekeeping (driven here by its clock); the config file's value wins.
#[tokio::test]
async fn retention_periods_are_set_in_the_inbox_stated_and_followed() {
    let app = TestApp::with_clinician().await;
    let mut c = Clinician::signed_in(&app).await;
    let days = with(
        first_save(),
        &[("clinician_name", "Maya Okafor"), ("keep_closed_days", "0")],
    );
    let mut fields = days.clone();
    fields.push(("version", "0"));
    let refused = c.action("/admin/details", "/admin/details", &fields).await;
    refused.assert_shows(422, "write a whole number of days from 1 to 36500");
    let days = with(
        days,
        &[("keep_closed_days", "90"), ("keep_consulted_days", "3650")],
    );
    save_details(&mut c, &days, "0").await;
    let privacy = visible_text(&app.get("/privacy").await.text());
    assert!(
        privacy.contains(
            "if it never reached a consultation, it is deleted for good 90 days after it was closed"
        ) && privacy.contains("it is deleted for good 3650 days after it was closed"),
        "{privacy}"
    );

    for name in ["Ended early", "Went on"] {
        assert_eq!(app.submit(name, &[]).await.status, 303);
    }
    let now = Timestamp::now();
    move_to(&app, 1, ("closed", "no_response"), now).await;
    move_to(&app, 2, ("consultation_scheduled", ""), now).await;
    move_to(&app, 2, ("closed", "not_a_fit"), now).await;
    let after = |d: i64| now + SignedDuration::from_hours(24 * d);
    let housekeeping = |at| web::housekeeping::run_at(&app.state, at);
    assert_eq!(housekeeping(after(89)).await.expect("housekeeping"), 0);
    assert_eq!(housekeeping(after(91)).await.expect("housekeeping"), 1);
    assert_eq!(housekeeping(after(3649)).await.expect("housekeeping"), 0);
    assert_eq!(housekeeping(after(3651)).await.expect("housekeeping"), 1);

    // A period written in the config file wins, and the inbox shows where it comes from.
    let filed = TestApp::with_config("[admin]\nkeep_consulted_days = 4000\n").await;
    filed.add_clinician().await;
    let mut c = Clinician::signed_in(&filed).await;
    let page = c.get("/admin/details").await.text();
    assert!(page.contains("id=\"keep_consulted_days-source\""), "{page}");
    save_details(&mut c, &days, "0").await;
    let privacy = visible_text(&filed.get("/privacy").await.text());
    assert!(
        privacy.contains("deleted for good 90 days after")
            && privacy.contains("deleted for good 4000 days after"),
        "{privacy}"
    );
}

/// What retention deletes within 30 days is listed in the inbox with an export of exactly
/// those requests, before it is gone.
#[tokio::test]
async fn the_inbox_offers_an_export_of_what_retention_deletes_within_30_days() {
    let app = TestApp::with_clinician().await;
    for name in ["Due soon", "Not yet", "Client"] {
        assert_eq!(app.submit(name, &[]).await.status, 303);
    }
    let now = Timestamp::now();
    let ago = |d: i64| now - SignedDuration::from_hours(24 * d);
    // Closed 340 days ago: deleted in 25 days (a year after closing).
    move_to(&app, 1, ("closed", "no_response"), ago(340)).await;
    // Closed 300 days ago: 65 days left.
    move_to(&app, 2, ("closed", "no_response"), ago(300)).await;
    // A client's record closed 340 days ago is kept seven years.
    move_to(&app, 3, ("medication_sessions", ""), ago(400)).await;
    move_to(&app, 3, ("closed", "completed"), ago(340)).await;
    let requests = app.state.store.all_requests().await.expect("read");
    let reference = |name: &str| {
        requests
            .iter()
            .find(|r| r.name == name)
            .expect("request")
            .reference
            .clone()
    };

    let mut c = Clinician::signed_in(&app).await;
    let inbox = c.get("/admin").await.text();
    let at = inbox
        .find("id=\"due-for-deletion\"")
        .unwrap_or_else(|| panic!("no list of what is deleted soon: {inbox}"));
    let section = &inbox[at..at + inbox[at..].find("</section>").expect("end")];
    assert!(section.contains(&reference("Due soon")), "{section}");
    // The day shown is a year after closing, as housekeeping's cutoffs have it.
    let deleted = (ago(340) + SignedDuration::from_hours(24 * 365))
        .to_zoned_datetime(app.state.time_zone())
        .strftime("%b %-d, %Y, %-I:%M %p %Z")
        .to_string();
    assert!(
        section.contains(&format!("deleted after {deleted}")),
        "{deleted} in {section}"
    );
    assert!(!section.contains(&reference("Not yet")), "{section}");
    assert!(!section.contains(&reference("Client")), "{section}");
    assert!(section.contains("<input type=\"hidden\" name=\"id\" value=\"1\">"));
    assert!(section.contains("Export this request"));

    let csv = c.export_csv(1).await;
    assert!(
        csv.contains("Due soon") && !csv.contains("Not yet"),
        "{csv}"
    );

    // 26 days on, it is gone, and the others stay.
    let purged = web::housekeeping::run_at(&app.state, now + SignedDuration::from_hours(24 * 26))
        .await
        .expect("housekeeping");
    assert_eq!(purged, 1);
    let mut left = app.request_names().await;
    left.sort();
    assert_eq!(left, ["Client", "Not yet"]);
}

/// Every column of the tables about a request is sealed, one of the form's answers the notice
/// lists, one of the plain-text records it lists, or named as saying nothing about the person:
/// a column added in plain text fails here until the privacy page says so.
#[tokio::test]
async fn the_privacy_page_names_everything_kept_in_plain_text() {
    use web::site::privacy::{COLLECTED, KEPT_PLAIN, NOT_ABOUT_THE_PERSON};
    let app = TestApp::start().await;
    let postgres = matches!(app.state.store.engine(), store::Engine::Postgres);
    let mut unnamed = Vec::new();
    for table in [
        "consultation_requests",
        "request_history",
        "request_notes",
        "bookings",
        "booking_changes",
        "booking_reminders",
        "questionnaires",
        "good_faith_estimates",
        "outbox",
        "audit_log",
    ] {
        let sql = if postgres {
            format!(
                "SELECT column_name::text FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = '{table}'"
            )
        } else {
            format!("SELECT name FROM pragma_table_info('{table}')")
        };
        let columns = app.database_texts(&sql).await;
        assert!(!columns.is_empty(), "{table} has columns");
        for column in columns {
            let name = format!("{table}.{column}");
            let named = column.ends_with("_sealed")
                || (table == "consultation_requests"
                    && COLLECTED.iter().any(|c| c.stored_in == column))
                || KEPT_PLAIN
                    .iter()
                    .any(|r| r.columns.contains(&name.as_str()))
                || NOT_ABOUT_THE_PERSON.contains(&name.as_str());
            if !named {
                unnamed.push(name);
            }
        }
    }
    assert!(
        unnamed.is_empty(),
        "plain columns the privacy page does not name: {unnamed:?}"
    );

    // And the page lists every one of them.
    let privacy = visible_text(&app.get("/privacy").await.text());
    assert!(
        privacy.contains("Besides these, the following are kept with your request as plain text")
    );
    for record in KEPT_PLAIN {
        assert!(
            privacy.contains(record.label),
            "{}: {privacy}",
            record.label
        );
    }

    // The words editor says which part of the page is generated, and how to change it.
    app.add_clinician().await;
    let mut c = Clinician::signed_in(&app).await;
    let editor = c.get("/admin/words/privacy").await.text();
    assert!(
        editor.contains("id=\"generated-part\"")
            && editor.contains("is written by the program from the practice’s settings")
            && editor.contains("href=\"/admin/details\""),
        "{editor}"
    );
}
