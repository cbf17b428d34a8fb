//! Two servers on one PostgreSQL database: what the clinician publishes on one is served by
//! the other, which finds it by its own look at the site's version (every
//! [`POLL_EVERY`](web::live::POLL_EVERY)), without a restart.

use std::time::{Duration, Instant};

use crate::common::TestApp;
use crate::common::clinician::{Clinician, PASSWORD, text_area};
use crate::common::details::{new_practice, save_first};
use settings::config::Overrides;

const SITE: &str = "http://practice.test";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_on_one_server_is_served_by_the_other_by_itself() {
    let (url, _cluster) = crate::scale_out::database();
    let key = crypto::generate_key_hex();
    let overrides = || Overrides {
        base_url: Some(SITE.into()),
        ..Overrides::default()
    };
    // The going-live checklist done by the file but for the details (see `going_live`).
    let reviewed =
        "[going_live]\nreviewed = [\"about\", \"credentials\", \"privacy\", \"crisis\"]\n";
    let (a, b) = crate::scale_out::two_servers(|| {
        TestApp::builder()
            .config(reviewed)
            .overrides(overrides())
            .database(&url, &key)
    })
    .await;
    a.add_clinician().await;
    // Both show "being set up" at a public address until the details are saved.
    assert_eq!(b.get("/").await.status, 503);
    let mut c = Clinician::new(&a);
    c.origin = SITE.into();
    assert_eq!(c.sign_in(PASSWORD).await.status, 303);

    save_first(&mut c, &new_practice()).await;
    wait_for(&b, "/", "Harbor Light Therapy").await;

    let privacy = "/admin/words/privacy";
    let text = text_area(&c.get(&format!("{privacy}?as_text=1")).await.text())
        .replace("in plain language", "in words anyone can follow");
    assert_eq!(c.publish_words(privacy, &text, "0").await.status, 303);
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
