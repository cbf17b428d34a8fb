//! Two servers on one PostgreSQL database: what the clinician publishes on one is served by
//! the other, which finds it by its own look at the site's version (every
//! [`POLL_EVERY`](kap_practice::web::live::POLL_EVERY)), without a restart.

use std::time::{Duration, Instant};

use crate::common::TestApp;
use crate::common::clinician::{Clinician, PASSWORD};
use kap_practice::config::Overrides;

const SITE: &str = "http://practice.test";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_on_one_server_is_served_by_the_other_by_itself() {
    let (url, _cluster) = crate::scale_out::database();
    let key = kap_practice::crypto::generate_key_hex();
    let overrides = || Overrides {
        base_url: Some(SITE.into()),
        ..Overrides::default()
    };
    // The going-live checklist done by the file but for the details (see `going_live`).
    let reviewed =
        "[going_live]\nreviewed = [\"about\", \"credentials\", \"privacy\", \"crisis\"]\n";
    let (a, b) = tokio::join!(
        TestApp::builder()
            .config(reviewed)
            .overrides(overrides())
            .database(&url, &key)
            .build(),
        TestApp::builder()
            .config(reviewed)
            .overrides(overrides())
            .database(&url, &key)
            .build()
    );
    a.add_clinician().await;
    // Both show "being set up" at a public address until the details are saved.
    assert_eq!(b.get("/").await.status, 503);
    let mut c = Clinician::new(&a);
    c.origin = SITE.into();
    assert_eq!(c.sign_in(PASSWORD).await.status, 303);

    let details = [
        ("name", "Harbor Light Therapy"),
        ("clinician_name", "Sam Rivera"),
        ("credentials", "LMFT"),
        ("licensed_states", "NY"),
        ("email", "sam@harborlight.example.org"),
        ("phone", "(212) 555-0188"),
        ("city", "Brooklyn, New York"),
        ("time_zone", "America/New_York"),
        ("accent_color", "#1d4e6b"),
        ("reply_time", "within one business day"),
        ("crisis_call", "988"),
        ("crisis_call_name", "Suicide & Crisis Lifeline"),
        ("crisis_text", "988"),
        ("crisis_text_keyword", ""),
        ("crisis_text_name", "Suicide & Crisis Lifeline"),
        ("emergency_number", "911"),
        ("version", "0"),
    ];
    assert_eq!(
        c.action("/admin/details", "/admin/details", &details)
            .await
            .status,
        303
    );
    wait_for(&b, "/", "Harbor Light Therapy").await;

    let privacy = "/admin/words/privacy";
    let page = c.get(privacy).await.text();
    let start = page.find("name=\"body\"").expect("text area");
    let start = page[start..].find('>').expect("tag") + start + 1;
    let end = page[start..].find("</textarea>").expect("end") + start;
    let text = page[start..end]
        .replace("&#39;", "'")
        .replace("&#34;", "\"")
        .replace("&amp;", "&")
        .replace("in plain language", "in words anyone can follow");
    assert_eq!(
        c.action(
            privacy,
            privacy,
            &[("body", &text), ("base", "0"), ("action", "publish")]
        )
        .await
        .status,
        303
    );
    assert!(
        a.get("/privacy")
            .await
            .text()
            .contains("in words anyone can follow")
    );
    wait_for(&b, "/privacy", "in words anyone can follow").await;
}

/// Waits until `app` serves `path` containing `words`. The server looks every second and
/// prepares its pages again in a moment; on a busy machine that takes longer, so the deadline
/// is far past it and only ends a failure (a server that never finds the change).
async fn wait_for(app: &TestApp, path: &str, words: &str) {
    let since = Instant::now();
    loop {
        let r = app.get(path).await;
        if r.status == 200 && r.text().contains(words) {
            return;
        }
        assert!(
            since.elapsed() < Duration::from_secs(60),
            "the other server did not serve {words:?} on {path} within 60 s: {} at version {:?}, {}",
            r.status,
            app.state.store.site_version().await,
            r.text().chars().take(300).collect::<String>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
