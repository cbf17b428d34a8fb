//! Notification mail through a real SMTP server on loopback (Debian's aiosmtpd): it arrives,
//! says nothing personal, survives the mail server being down, and is never sent twice.

use std::time::Duration;

use crate::common::{SmtpServer, TestApp, free_port};

fn mail_config(port: u16, extra: &str) -> String {
    format!(
        "[practice]\nemail = \"hello@practice.example\"\n\n[mail]\nsmtp_url = \"smtp://127.0.0.1:{port}\"\nnotify_email = \"inbox@practice.example\"\nretry_base_seconds = 1\nretry_max_seconds = 1\n{extra}"
    )
}

/// The server with mail to `smtp` and the person's acknowledgement on.
async fn acknowledging(smtp: &SmtpServer) -> TestApp {
    TestApp::with_config(&mail_config(
        smtp.port,
        "\n[contact_form]\nacknowledge = true\n",
    ))
    .await
}

const PERSONAL: &[(&str, &str)] = &[
    ("phone", "(415) 555-0199"),
    ("contact_method", "either"),
    (
        "message",
        "I have felt stuck since the accident; marker-msg-5521",
    ),
    ("referral_source", "marker-ref-7781"),
    ("email", "zephyrine.q@example.org"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_notification_arrives_and_holds_none_of_what_was_sent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let smtp = SmtpServer::start(dir.path());
    let app = TestApp::with_config(&mail_config(smtp.port, "")).await;
    app.submitted("Zephyrine Quillfeather", PERSONAL).await;
    let messages = smtp.wait_for(1);
    assert_eq!(messages.len(), 1, "one notification");
    let m = &messages[0];
    assert!(
        !m.contains("base64") && !m.contains("quoted-printable"),
        "readable as sent: {m}"
    );
    assert!(m.contains("To: inbox@practice.example"), "{m}");
    assert!(m.contains("Subject: New consultation request"), "{m}");
    assert!(m.contains("A new consultation request arrived at"), "{m}");
    assert!(m.contains(&format!("{}/admin", app.url(""))), "{m}");
    let reference = &app.state.store.all_requests().await.expect("stored")[0].reference;
    assert!(m.contains(reference.as_str()), "{m}");
    for value in [
        "Zephyrine",
        "Quillfeather",
        "zephyrine.q",
        "555-0199",
        "marker-msg-5521",
        "accident",
        "marker-ref-7781",
        "California",
    ] {
        assert!(!m.contains(value), "the notification leaks {value:?}: {m}");
    }
    // The state's abbreviation as a word: two capitals can stand inside the random reference
    // or a message id.
    assert!(
        !m.split(|c: char| !c.is_ascii_alphanumeric())
            .any(|word| word == "CA"),
        "the notification leaks the state: {m}"
    );
    // The mail server files a message before it answers; the worker marks the row sent once it
    // has that answer, so the counts are read once the outbox has settled.
    let counts = outbox_settled(&app, 1).await;
    assert_eq!((counts.pending, counts.sent, counts.failed), (0, 1, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_waits_for_the_smtp_server_and_is_sent_once_when_it_returns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let app = TestApp::with_config(&mail_config(port, "")).await;
    // The mail server is down when the request comes: the request is still accepted.
    app.submitted("Ada", &[]).await;
    assert_eq!(
        app.state.store.all_requests().await.expect("stored").len(),
        1
    );
    // The worker has tried, failed and tried again while the server was down.
    let id = app.state.store.all_requests().await.expect("stored")[0].id;
    let deadline = std::time::Instant::now() + crate::common::PATIENCE;
    loop {
        let states = app.state.store.mail_states(id).await.expect("mail states");
        if states.iter().any(|m| m.attempts >= 2) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the mail was not retried: {states:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let counts = app.state.store.outbox_counts().await.expect("counts");
    assert_eq!(counts.pending, 1, "still waiting, not given up");

    let smtp = SmtpServer::start_on(port, &dir.path().join("maildir"));
    let messages = smtp.wait_for(1);
    assert_eq!(
        messages.len(),
        1,
        "delivered once the server is back, without a restart"
    );
    // Once the outbox has it as sent, nothing sends it again.
    let counts = outbox_settled(&app, 1).await;
    assert_eq!(smtp.messages().len(), 1, "never sent twice");
    assert_eq!((counts.pending, counts.sent), (0, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_gets_exactly_one_notification() {
    let dir = tempfile::tempdir().expect("tempdir");
    let smtp = SmtpServer::start(dir.path());
    let app = TestApp::with_config(&mail_config(
        smtp.port,
        "\n[contact_form]\nrate_limit_per_hour = 100\n",
    ))
    .await;
    let n = 12;
    let mut handles = Vec::new();
    let app = std::sync::Arc::new(app);
    for i in 0..n {
        let app = app.clone();
        handles.push(tokio::spawn(async move {
            app.submit(&format!("Person {i}"), &[]).await.status
        }));
    }
    for h in handles {
        assert_eq!(h.await.expect("task"), 303);
    }
    let messages = smtp.wait_for(n);
    // Once the outbox has every one as sent, nothing sends one again.
    let counts = outbox_settled(&app, n).await;
    assert_eq!((counts.pending, counts.sent), (0, n as i64));
    let messages_after = smtp.messages();
    assert_eq!(messages.len(), n);
    assert_eq!(messages_after.len(), n, "none twice");
    let mut references: Vec<String> = messages_after
        .iter()
        .filter_map(|m| {
            m.lines()
                .find(|l| l.starts_with("Reference: "))
                .map(str::to_string)
        })
        .collect();
    references.sort();
    references.dedup();
    assert_eq!(references.len(), n, "one notice per request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_optional_acknowledgement_echoes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let smtp = SmtpServer::start(dir.path());
    let app = acknowledging(&smtp).await;
    app.submitted("Zephyrine Quillfeather", PERSONAL).await;
    let messages = smtp.wait_for(2);
    assert_eq!(messages.len(), 2);
    let ack = messages
        .iter()
        .find(|m| m.contains("To: zephyrine.q@example.org"))
        .expect("an acknowledgement to the person");
    assert!(
        !ack.contains("base64"),
        "readable as sent, so the checks below mean something"
    );
    assert!(ack.contains("Thank you for reaching out"), "{ack}");
    assert!(ack.contains("988"), "{ack}");
    for value in [
        "Zephyrine",
        "Quillfeather",
        "555-0199",
        "marker-msg-5521",
        "accident",
        "marker-ref-7781",
    ] {
        assert!(
            !ack.contains(value),
            "the acknowledgement echoes {value:?}: {ack}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_outside_the_us_is_told_of_local_emergency_services_not_988() {
    let dir = tempfile::tempdir().expect("tempdir");
    let smtp = SmtpServer::start(dir.path());
    let app = acknowledging(&smtp).await;
    app.submitted(
        "Kim",
        &[("state", "outside-us"), ("email", "kim@example.org")],
    )
    .await;
    let messages = smtp.wait_for(2);
    let ack = messages
        .iter()
        .find(|m| m.contains("To: kim@example.org"))
        .expect("an acknowledgement to the person");
    let words = ack.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        words.contains("If you are in crisis, please don't wait for a reply: contact your local emergency services."),
        "{ack}"
    );
    // The body only: the headers carry random digits (the message's id, its date).
    let body = ack
        .split_once("\r\n\r\n")
        .or_else(|| ack.split_once("\n\n"))
        .map_or(ack.as_str(), |(_, body)| body);
    assert!(!body.contains("988") && !body.contains("911"), "{ack}");
}

#[tokio::test]
async fn the_inbox_names_each_email_and_its_delivery_in_words() {
    // Mail on, its server not there: the notice waits in the outbox.
    let app = TestApp::with_config(&mail_config(free_port(), "")).await;
    app.add_clinician().await;
    assert_eq!(app.submit("Ada", &[]).await.status, 303);
    let id = app.state.store.all_requests().await.expect("read")[0].id;
    let mut c = crate::common::clinician::Clinician::signed_in(&app).await;
    let page = crate::common::visible_text(&c.get(&format!("/admin/requests/{id}")).await.text());
    // Waiting, or (once the worker has tried) not gone out yet: either way in words.
    assert!(
        page.contains("Notice of this request to you is waiting to be sent")
            || page.contains("Notice of this request to you has not gone out yet"),
        "{page}"
    );
    assert!(
        !page.contains("new_request_notice") && !page.contains("pending"),
        "{page}"
    );
}

/// The outbox counts once `sent` mails are marked sent and none is pending (or after 20 s).
async fn outbox_settled(app: &TestApp, sent: usize) -> store::OutboxCounts {
    let deadline = std::time::Instant::now() + crate::common::PATIENCE;
    loop {
        let counts = app.state.store.outbox_counts().await.expect("counts");
        if (counts.pending == 0 && counts.sent >= sent as i64)
            || std::time::Instant::now() >= deadline
        {
            return counts;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
