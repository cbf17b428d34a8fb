//! Reminders with two servers on one PostgreSQL database: both look for what is due at every
//! moment, several times at once, and both mail workers run; each reminder is still queued once
//! and arrives once.

use jiff::Timestamp;

use crate::common::SmtpServer;
use crate::common::booking::{choose, config, mornings, offer, request_and_link};
use crate::common::reminders::{
    confirm, deliver_at, exactly_reminders, hours, later_times, meet_by_video, outbox_to,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_queue_and_send_each_reminder_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let smtp = SmtpServer::start(dir.path());
    let (_cluster, a, b) = crate::scale_out::two_servers_with(&config(Some(smtp.port), "")).await;
    offer(&a, &mornings()).await;
    meet_by_video(&a).await;
    let mut starts: Vec<Timestamp> = Vec::new();
    for (i, email) in ["ada@example.org", "bo@example.org", "cy@example.org"]
        .into_iter()
        .enumerate()
    {
        let app = if i % 2 == 0 { &a } else { &b };
        let (id, link) = request_and_link(app, &format!("Person {i}"), &[("email", email)]).await;
        let later = later_times(app, &link).await;
        let start = later[i * 2];
        assert_eq!(choose(app, &link, &start.to_string()).await.status, 303);
        confirm(app, id).await;
        starts.push(start);
    }

    let mut moments: Vec<Timestamp> = starts
        .iter()
        .flat_map(|s| [*s - hours(24), *s - hours(1)])
        .collect();
    moments.sort();
    let (to_a, to_b) = (outbox_to(&a, &smtp), outbox_to(&b, &smtp));
    let (looks_a, looks_b) = (a.state.reminders(), b.state.reminders());
    let mut queued = 0;
    for t in moments {
        let (n1, n2, n3, n4) = tokio::join!(
            looks_a.look(t),
            looks_b.look(t),
            looks_a.look(t),
            looks_b.look(t)
        );
        queued += n1.expect("look") + n2.expect("look") + n3.expect("look") + n4.expect("look");
        // Both servers' workers send what is due, at the same moment.
        tokio::join!(deliver_at(&a, &to_a, t), deliver_at(&b, &to_b, t));
    }
    assert_eq!(queued, 6, "two reminders for each of three consultations");
    let got = exactly_reminders(&a, &smtp, 6).await;
    for email in ["ada@example.org", "bo@example.org", "cy@example.org"] {
        assert_eq!(
            got.iter().filter(|(to, _, _)| to == email).count(),
            2,
            "{email} is reminded twice"
        );
    }
}
