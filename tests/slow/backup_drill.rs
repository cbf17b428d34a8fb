//! The restore drill: a practice with requests, an account with two-factor sign-in, bookings,
//! questionnaires and revisions of its words is backed up; its data directory is deleted (the
//! server and the disk are gone); `kap-practice backup restore` brings everything back on a new
//! server with the backup key's words; a booking link and the calendar feed issued before still
//! work, and the inbox signs in with the password and the second factor.

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use store::Engine;

use crate::common::clinician::{Clinician, text_area};
use crate::common::{TestApp, booking, questionnaire};

const PRIVACY: &str = "/admin/words/privacy";
/// The same page with the whole file (settings and words) in one text.
const PRIVACY_AS_TEXT: &str = "/admin/words/privacy?as_text=1";

/// `kap-practice backup restore --from backups` into `data`, with the words given as the
/// owner types them.
fn restore(backups: &Path, data: &Path, words: &str) -> (i32, String, String) {
    let cwd = tempfile::tempdir().expect("tempdir");
    let config = cwd.path().join("empty.toml");
    std::fs::write(&config, "").expect("config");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kap-practice"))
        .args(["backup", "restore", "--from"])
        .arg(backups)
        .current_dir(cwd.path())
        .env("KAP_DATA_DIR", data)
        .env("KAP_BACKUP_KEY", words)
        .env("KAP_CONFIG", &config)
        .env_remove("DATABASE_URL")
        .env_remove("RUST_LOG")
        .output()
        .expect("run");
    crate::common::outcome(out)
}

fn vevents(feed: &str) -> usize {
    feed.matches("BEGIN:VEVENT").count()
}

#[tokio::test]
async fn a_deleted_data_directory_comes_back_from_a_backup_and_everything_works() {
    let mail = tempfile::tempdir().expect("tempdir");
    let smtp = crate::common::SmtpServer::start(mail.path());
    let backups = tempfile::tempdir().expect("tempdir");
    let config = booking::config(
        Some(smtp.port),
        &format!("[backup]\ndir = \"{}\"\n", backups.path().display()),
    );
    let app = TestApp::with_config(&config).await;
    app.add_clinician().await;
    if app.state.store.engine() == Engine::Postgres {
        let (code, _, err) = app.cli(&["backup", "now"]);
        assert_eq!(code, 1);
        assert!(err.contains("PostgreSQL keeps its own backups"), "{err}");
        return;
    }
    booking::offer(&app, &booking::mornings()).await;
    questionnaire::offer_questionnaires(&app).await;

    // Requests: one plain, one that held a time and answered its questionnaire.
    assert_eq!(app.submit("Ada Example", &[]).await.status, 303);
    let (held, q) = questionnaire::held(&app).await;
    questionnaire::answer(&app, &q, "phq9", &[1, 1, 1, 1, 0, 0, 0, 0, 0]).await;
    // A booking link issued before the backup, for a request without a booking yet.
    let (waiting, link) = booking::request_and_link(&app, "Bram Waiting", &[]).await;
    let times = booking::times_in(&app.get(&link).await.text());
    assert!(!times.is_empty(), "the link offers times");
    // A revision of the site's words.
    let mut c = Clinician::signed_in(&app).await;
    let original = text_area(&c.get(PRIVACY_AS_TEXT).await.text());
    let edited = original.replace("in plain language", "in everyday words");
    assert_ne!(edited, original);
    assert_eq!(c.publish_words(PRIVACY, &edited, "0").await.status, 303);
    // The calendar feed, as the clinician's calendar subscribed to it.
    let feed = format!(
        "/calendar/{}.ics",
        app.state
            .store
            .calendar_feed_secret()
            .await
            .expect("the feed")
    );
    let feed_before = app.get(&feed).await;
    assert_eq!(feed_before.status, 200);
    let requests_before = crate::common::request_names(&app.state.store).await;
    let held_booking = booking::booking_of(&app, held).await;
    let answers_before = app.answers(held).await;
    assert!(!answers_before.is_empty(), "the questionnaire was answered");
    let revisions_before = app
        .state
        .store
        .revisions("privacy.md")
        .await
        .expect("read")
        .len();
    assert_eq!(revisions_before, 1);

    // The backup key, written down, and the backup.
    let settings = app.state.config().backup.clone();
    let data: PathBuf = app.state.config().server.data_dir.clone();
    let key = web::backup::make_key(&app.state.store, &settings, &data, Timestamp::now())
        .await
        .expect("key");
    let words = key.words().join(" ");
    let (code, out, err) = app.cli(&["backup", "now"]);
    assert_eq!(code, 0, "{out}{err}");

    // The server and its disk are gone.
    app.state.store.close().await;
    drop(c);
    drop(app);
    assert!(!data.exists(), "the data directory is deleted");

    // A new server: its data directory restored from the backup before it opens it.
    let from = backups.path().to_path_buf();
    let restored = TestApp::builder()
        .config(&config)
        .before_open(move |data| {
            let (code, out, err) = restore(&from, data, &words);
            assert_eq!(code, 0, "{out}{err}");
            assert!(out.contains("requests 3"), "{out}");
        })
        .build()
        .await;

    assert_eq!(
        crate::common::request_names(&restored.state.store).await,
        requests_before
    );
    let back = booking::booking_of(&restored, held).await;
    assert_eq!(
        (back.start, back.end),
        (held_booking.start, held_booking.end)
    );
    // The questionnaire's answers open (sealed under the data key the backup carried).
    assert_eq!(restored.answers(held).await, answers_before);
    let revisions = restored
        .state
        .store
        .revisions("privacy.md")
        .await
        .expect("read");
    assert_eq!(revisions.len(), revisions_before);
    // The link issued before still offers times, and books one.
    let times = booking::times_in(&restored.page(&link).await);
    assert!(!times.is_empty());
    let booked = booking::choose(&restored, &link, &times[0]).await;
    assert_eq!(booked.status, 303, "{}", booked.text());
    assert!(booking::booking_for(&restored, waiting).await.is_some());
    // The feed the calendar subscribed to still answers, with the same consultations.
    let feed_after = restored.get(&feed).await;
    assert_eq!(feed_after.status, 200);
    assert_eq!(vevents(&feed_after.text()), vevents(&feed_before.text()));
    // The inbox signs in with the password and the authenticator's code.
    let code = restored.authenticator_code().await;
    let mut c = Clinician::signed_in_with_code(&restored, &code).await;
    assert_eq!(c.get("/admin").await.status, 200);
    // The published words and their revision are back.
    assert!(text_area(&c.get(PRIVACY_AS_TEXT).await.text()).contains("in everyday words"));
    let site = restored.get("/privacy").await.text();
    assert!(
        site.contains("in everyday words"),
        "the published words are served"
    );
}
