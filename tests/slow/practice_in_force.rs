//! The practice in force across servers and in a real browser: details saved on one server of
//! a practice reach the others' mail and flags, and the details form filled in Chromium
//! reaches the next emails.

use std::time::Duration;

use crate::common::SmtpServer;
use crate::common::clinician::Clinician;
use crate::common::details::{
    SAVED, config, practice_with_mail, save_details, the_next_request_is_announced_as_saved,
};

/// Two servers of one practice on PostgreSQL: details saved through one reach the other's
/// pages, flags and mail worker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn details_saved_on_one_server_reach_the_others_mail_and_flags() {
    let dir = tempfile::tempdir().expect("tempdir");
    let smtp = SmtpServer::start(dir.path());
    let (_cluster, a, b) = crate::scale_out::two_servers_with(&config(smtp.port)).await;
    a.add_clinician().await;
    let mut c = Clinician::signed_in(&a).await;
    save_details(&mut c).await;

    // B learns of the change by its poll of the site's version: its practice in force first,
    // then its pages once they are prepared again.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let home = b.get("/").await.text();
        if b.state.config().practice.name == "Harbor Light"
            && home.contains("Harbor Light")
            && !home.contains("Clearwater")
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "B never took the saved details"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    b.submitted(
        "Ezra Vale",
        &[("state", "CA"), ("email", "ezra@example.org")],
    )
    .await;
    let requests = b.state.store.all_requests().await.expect("read");
    assert!(
        requests[0].flags.outside_licensed_states,
        "CA is flagged on B"
    );

    the_next_request_is_announced_as_saved(&smtp);
}

/// The details form filled in a real browser (Chromium), as the clinician does: the notice of
/// the next request and the person's acknowledgement carry what was typed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_details_form_filled_in_a_browser_reaches_the_next_emails() {
    use crate::harness::{Browser, DESKTOP, Options};
    let (_dir, smtp, app) = practice_with_mail().await;
    let browser = Browser::signed_in(&app, Options::new(DESKTOP)).await;
    browser.goto(&app.url("/admin/details")).await;
    for (id, value) in SAVED {
        browser
            .js::<()>(
                "document.getElementById(arguments[0]).value = arguments[1]",
                vec![serde_json::json!(id), serde_json::json!(value)],
            )
            .await;
    }
    browser
        .click_to("form.settings-form button[type=submit]", "/admin/details")
        .await;
    assert!(browser.text_of(".notice").await.contains("are saved"));
    browser.close().await;

    app.submitted(
        "Fay Lindqvist",
        &[("state", "NY"), ("email", "fay@example.org")],
    )
    .await;
    the_next_request_is_announced_as_saved(&smtp);
}
