//! Reminders for the tests: video meetings, confirmed bookings, and an outbox worker whose
//! rounds run at instants the test chooses.

use jiff::{SignedDuration, Timestamp};
use mail::outbox::Outbox;
use practice::booking::ClinicianDecision;
use practice::meeting::MeetingDetails;
use serde_json::Value;

use super::booking::python_read;
use super::{SmtpServer, TestApp};

pub const VIDEO: &str = "https://meet.example.com/clearwater-room-7";

pub fn hours(h: i64) -> SignedDuration {
    SignedDuration::from_hours(h)
}

/// Looks for reminders due at `now`, as the reminders task does: how many it queued.
pub async fn look(app: &TestApp, now: Timestamp) -> usize {
    app.state.reminders().look(now).await.expect("look")
}

pub async fn meet_by_video(app: &TestApp) {
    save_meeting(
        app,
        MeetingDetails {
            video_address: Some(VIDEO.into()),
            ..MeetingDetails::default()
        },
    )
    .await;
}

/// Saves `details` as the practice's meeting details, as the clinician would in the inbox.
pub async fn save_meeting(app: &TestApp, details: MeetingDetails) {
    app.state
        .store
        .save_meeting_details(&details, "test", Timestamp::now())
        .await
        .expect("saved");
}

/// Open times at least two days ahead, so that both reminders' moments come after the
/// confirmation.
pub async fn later_times(app: &TestApp, link: &str) -> Vec<Timestamp> {
    let html = app.get(link).await.text();
    let soonest = Timestamp::now() + hours(48);
    super::booking::times_in(&html)
        .iter()
        .map(|t| t.parse::<Timestamp>().expect("instant"))
        .filter(|t| *t > soonest)
        .collect()
}

pub async fn confirm(app: &TestApp, id: i64) {
    let outcome = app
        .state
        .store
        .decide_booking(
            id,
            ClinicianDecision::Confirm,
            None,
            "test",
            true,
            Timestamp::now(),
        )
        .await
        .expect("decided");
    assert!(
        matches!(outcome, store::ChangeOutcome::Changed(_)),
        "{outcome:?}"
    );
    // As the inbox does after a decision: the mail leaves at once.
    app.state.mail_wake.notify_one();
}

/// An outbox worker for `app`'s database sending through `smtp`, whose rounds the test runs at
/// instants of its choosing (the server's own worker goes by the real clock, so it leaves the
/// mail queued at the test's later instants alone).
pub fn outbox_to(app: &TestApp, smtp: &SmtpServer) -> Outbox {
    let mut config = (*app.state.config()).clone();
    config.mail.smtp_url = Some(settings::config::Secret(smtp.url()));
    Outbox {
        store: app.state.store.clone(),
        transport: mail::Transport::from_config(&config)
            .expect("transport")
            .expect("configured"),
        // The server's own practice in force, so details saved in the inbox reach this worker's
        // mail as they reach the server's.
        in_force: app.state.in_force.clone(),
        wake: std::sync::Arc::new(tokio::sync::Notify::new()),
        links: (*app.state.links).clone(),
    }
}

/// Runs `outbox`'s rounds at `now` until nothing due waits (a row the server's own worker holds
/// locked for a moment is taken in a later round).
///
/// A mail the server's own worker is sending holds its lease until a real moment; a round at a
/// later `now` would take that lease as lapsed and send the mail a second time. So this waits
/// first until the server's worker holds nothing.
pub async fn deliver_at(app: &TestApp, outbox: &Outbox, now: Timestamp) {
    super::patiently(|| async {
        match app.state.store.outbox_leased(Timestamp::now()).await {
            Ok(0) => Ok(()),
            leased => Err(format!("{leased:?} mails still being sent")),
        }
    })
    .await;
    super::patiently(|| async {
        outbox.round_at(now).await.expect("round");
        match app.mail_pending().await {
            0 => Ok(()),
            pending => Err(format!("{pending} mails still wait")),
        }
    })
    .await;
}

/// The reminders received so far, read by Python: (recipient, message as read, raw).
pub fn reminders(smtp: &SmtpServer) -> Vec<(String, Value, String)> {
    smtp.with_subject("Reminder: your consultation")
        .into_iter()
        .map(|raw| (python_read(&raw, "mail"), raw))
        .map(|(m, raw)| (m["to"].as_str().unwrap_or("").to_string(), m, raw))
        .collect()
}

/// The reminders sent, once [`deliver_at`] has left nothing pending: exactly `n`. No waiting
/// to see whether more come: the outbox marks a row sent only after the mail server accepted
/// it (and the test's mail server files a message before it accepts it), so with nothing
/// pending nothing more is on its way. A second copy would be a second row, or a second
/// attempt on one row (`attempts` counts each), so the outbox's rows of reminders say it: `n`
/// sent, each at its first attempt, none waiting or failed.
pub async fn exactly_reminders(
    app: &TestApp,
    smtp: &SmtpServer,
    n: usize,
) -> Vec<(String, Value, String)> {
    let rows = app
        .database_texts(
            "SELECT status || ' after ' || CAST(attempts AS TEXT) FROM outbox
             WHERE kind = 'booking_reminder' ORDER BY id",
        )
        .await;
    assert_eq!(
        rows,
        vec!["sent after 1"; n],
        "the outbox holds exactly {n} reminders, each sent once"
    );
    let got = reminders(smtp);
    assert_eq!(got.len(), n, "exactly {n} reminders");
    got
}
