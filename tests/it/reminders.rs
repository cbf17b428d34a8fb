//! Meeting details and reminders, end to end against the real server (SQLite, or PostgreSQL in
//! the second run) and a real SMTP server on loopback, with the clock moved by the test: the
//! reminder worker's look and the outbox's round both take the present as an argument.
//!
//! The confirmation's invitation is read by Python's `icalendar` (a parser that shares nothing
//! with our writer) and carries the video room's address; reminders leave once at each set time,
//! never for cancelled or declined bookings, and at the new time for a moved one; a reminder whose
//! moment passed while the mail server was down leaves late if the consultation has not begun,
//! and is dropped and noted on the request's history if it has.

use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

use crate::common::booking::{
    MESSAGE, NAME, booking_of, choose, choose_to_meet, link_in, mornings, offer,
    offering_with_mail, read_mail_with_subject, request_and_link, start, wait_for_mail, zone,
};
use crate::common::clinician::Clinician;
use crate::common::reminders::*;
use crate::common::{SmtpServer, TestApp, free_port, visible_text};
use practice::booking::ClinicianDecision;
use practice::meeting::MeetingDetails;
use practice::wording::long_time;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_confirmation_carries_the_video_room_and_reminders_leave_once_at_each_set_time() {
    let (_dir, smtp, app) = offering_with_mail().await;
    meet_by_video(&app).await;
    let (ada, ada_link) = request_and_link(
        &app,
        NAME,
        &[("email", "ada@example.org"), ("message", MESSAGE)],
    )
    .await;
    let (bo, bo_link) = request_and_link(&app, "Bo Brant", &[("email", "bo@example.org")]).await;
    let (cy, cy_link) = request_and_link(&app, "Cy Cole", &[("email", "cy@example.org")]).await;
    let (di, di_link) = request_and_link(&app, "Di Dane", &[("email", "di@example.org")]).await;
    let later = later_times(&app, &ada_link).await;
    assert!(later.len() >= 5, "enough open times: {later:?}");
    let at = |i: usize| later[i].to_string();
    for (id, link, i) in [
        (ada, &ada_link, 0),
        (bo, &bo_link, 1),
        (cy, &cy_link, 2),
        (di, &di_link, 3),
    ] {
        assert_eq!(choose(&app, link, &at(i)).await.status, 303);
        confirm(&app, id).await;
    }

    // The confirmation, as an independent parser reads it: the video room is the event's
    // place and address, and the email says how to join.
    // Four each of: the practice's notice, the hold, the practice's hold notice, the confirmation.
    assert_eq!(smtp.wait_for(16).len(), 16);
    let (confirmed, raw) = wait_for_mail(&smtp, "Your consultation is confirmed");
    let event = &confirmed["events"][0];
    assert_eq!(event["status"], "CONFIRMED");
    assert_eq!(event["location"], VIDEO);
    assert_eq!(event["url"], VIDEO);
    assert!(
        event["description"]
            .as_str()
            .is_some_and(|d| d.contains(VIDEO)),
        "{event}"
    );
    // Lines are wrapped at 72 characters: read as one.
    let text = confirmed["text"].as_str().expect("text").replace('\n', " ");
    assert!(
        text.contains(&format!("How to join: Join the video call at {VIDEO}")),
        "{text}"
    );
    let ics = confirmed["ics"].as_str().expect("ics").to_lowercase();
    for leak in [
        "ketamine",
        "zephyrine",
        "quillfeather",
        "marker-msg",
        "bo brant",
    ] {
        assert!(!ics.contains(leak), "the invitation says {leak:?}");
        assert!(
            !raw.to_lowercase().contains(leak),
            "the email says {leak:?}"
        );
    }

    // Bo cancels, Cy is declined, Di moves to another time (and is confirmed again).
    app.state
        .store
        .cancel_booking(bo, true, Timestamp::now())
        .await
        .expect("cancelled");
    app.state
        .store
        .decide_booking(
            cy,
            ClinicianDecision::Decline,
            None,
            "test",
            true,
            Timestamp::now(),
        )
        .await
        .expect("declined");
    assert_eq!(choose(&app, &di_link, &at(4)).await.status, 303);
    confirm(&app, di).await;

    // Ada's first reminder: not a second early, once at its moment, never again.
    let ada_start = later[0];
    let day_before = ada_start - hours(24);
    assert_eq!(
        look(&app, day_before - SignedDuration::from_secs(1)).await,
        0
    );
    assert_eq!(look(&app, day_before).await, 1);
    assert_eq!(look(&app, day_before).await, 0);
    let outbox = outbox_to(&app, &smtp);
    deliver_at(&app, &outbox, day_before).await;
    let first = exactly_reminders(&app, &smtp, 1).await;
    let (to, mail, raw) = &first[0];
    assert_eq!(to, "ada@example.org");
    assert!(
        mail["subject"]
            .as_str()
            .is_some_and(|s| s.starts_with("Reminder: your consultation in about 24 hours")),
        "{mail}"
    );
    assert!(
        mail.get("ics").is_none(),
        "a reminder carries no invitation"
    );
    let body = mail["text"].as_str().expect("text");
    assert!(body.contains(&long_time(ada_start, &zone())), "{body}");
    assert!(
        body.contains("(times are in Eastern Time (America/New_York))"),
        "{body}"
    );
    assert!(body.contains(VIDEO), "how to join: {body}");
    let page = visible_text(&app.get(&link_in(body, &app)).await.text());
    assert!(
        page.contains("Your consultation is confirmed"),
        "the link changes or cancels: {page}"
    );
    for leak in [
        "Zephyrine",
        "Quillfeather",
        "marker-msg",
        "accident",
        "etamine",
    ] {
        assert!(!raw.contains(leak), "the reminder says {leak:?}");
    }

    // Every other moment, in order, each looked at twice: Ada's hour-before reminder and Di's
    // two at her new time; nothing for Bo, Cy, or Di's old time.
    let mut moments: Vec<Timestamp> = later
        .iter()
        .take(5)
        .flat_map(|s| [*s - hours(24), *s - hours(1), *s])
        .filter(|t| *t > day_before)
        .collect();
    moments.sort();
    let mut queued = 0;
    for t in moments {
        queued += look(&app, t).await;
        queued += look(&app, t).await;
        deliver_at(&app, &outbox, t).await;
    }
    assert_eq!(queued, 3);
    let all = exactly_reminders(&app, &smtp, 4).await;
    let to: Vec<&str> = all.iter().map(|(to, _, _)| to.as_str()).collect();
    assert_eq!(to.iter().filter(|t| **t == "ada@example.org").count(), 2);
    assert_eq!(to.iter().filter(|t| **t == "di@example.org").count(), 2);
    for (to, mail, _) in &all {
        if to == "di@example.org" {
            let body = mail["text"].as_str().expect("text");
            assert!(body.contains(&long_time(later[4], &zone())), "{body}");
            assert!(!body.contains(&long_time(later[3], &zone())), "{body}");
        }
    }
}

/// The subject of a reminder to `to` among `sent`.
fn subject_to<'a>(sent: &'a [(String, Value, String)], to: &str) -> &'a str {
    sent.iter()
        .find(|(t, _, _)| t == to)
        .and_then(|(_, m, _)| m["subject"].as_str())
        .unwrap_or_else(|| panic!("a reminder to {to}"))
}

/// The reminder notes on request `id`'s history.
async fn reminder_notes(app: &TestApp, id: i64) -> Vec<String> {
    let history = app.state.store.history(id).await.expect("history");
    history
        .iter()
        .filter(|h| h.event == "reminder")
        .filter_map(|h| h.detail.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reminder_missed_while_the_mail_server_was_down_leaves_late_only_before_the_start() {
    // The server's mail goes to a port where nothing listens: the mail server is down.
    let down = free_port();
    let app = start(Some(down), "").await;
    // Open 8:00 to 20:00, so that three consultations fit within a day.
    let mut rules = mornings();
    for w in &mut rules.windows {
        w.start = jiff::civil::time(8, 0, 0, 0);
        w.end = jiff::civil::time(20, 0, 0, 0);
    }
    offer(&app, &rules).await;
    meet_by_video(&app).await;
    let (ada, ada_link) =
        request_and_link(&app, "Ada Lovelace", &[("email", "ada@example.org")]).await;
    let (bo, bo_link) = request_and_link(&app, "Bo Brant", &[("email", "bo@example.org")]).await;
    let (cy, cy_link) = request_and_link(&app, "Cy Cole", &[("email", "cy@example.org")]).await;
    let later = later_times(&app, &ada_link).await;
    // Bo's consultation first, Cy's at least two hours later, Ada's at least two hours after
    // Cy's and less than 23 hours after Bo's (so no hour-before moment comes before the first
    // look below).
    let bo_start = later[0];
    let cy_start = *later
        .iter()
        .find(|t| **t >= bo_start + hours(2))
        .expect("a time for Cy");
    let ada_start = *later
        .iter()
        .find(|t| **t >= cy_start + hours(2))
        .expect("a time for Ada");
    assert!(ada_start < bo_start + hours(23), "{bo_start} {ada_start}");
    for (id, link, t) in [
        (ada, &ada_link, ada_start),
        (bo, &bo_link, bo_start),
        (cy, &cy_link, cy_start),
    ] {
        assert_eq!(choose(&app, link, &t.to_string()).await.status, 303);
        confirm(&app, id).await;
    }

    // While the mail server is down: the three day-before reminders come due, then Bo's and
    // Cy's hour-before ones.
    assert_eq!(look(&app, ada_start - hours(24)).await, 3);
    assert_eq!(look(&app, bo_start - hours(1)).await, 1);
    assert_eq!(look(&app, cy_start - hours(1)).await, 1);

    // The mail server is back half an hour before Cy's consultation: Bo's has begun, Ada's is
    // hours away.
    let dir = tempfile::tempdir().expect("tempdir");
    let smtp = SmtpServer::start(dir.path());
    let back = cy_start - SignedDuration::from_mins(30);
    deliver_at(&app, &outbox_to(&app, &smtp), back).await;
    // One reminder each for Ada and Cy, none for Bo; each says the time really left.
    let sent = exactly_reminders(&app, &smtp, 2).await;
    let mut to: Vec<&str> = sent.iter().map(|(to, _, _)| to.as_str()).collect();
    to.sort_unstable();
    assert_eq!(to, ["ada@example.org", "cy@example.org"]);
    assert!(
        subject_to(&sent, "cy@example.org")
            .starts_with("Reminder: your consultation in about 30 minutes"),
        "Cy's hour-before reminder goes, not the day-before one: {sent:?}"
    );
    // Ada's day-before reminder leaves late and says how many hours are left, not 24.
    let left = (ada_start - back).as_mins();
    let expected = format!(
        "Reminder: your consultation in about {} hours",
        (left + 30) / 60
    );
    assert!(left < 22 * 60, "{left}");
    assert!(
        subject_to(&sent, "ada@example.org").starts_with(&expected),
        "{expected}: {sent:?}"
    );
    // The history keeps what happened (the kind and the reminder's set time), not a sentence.
    assert_eq!(reminder_notes(&app, bo).await, ["began 1440", "began 60"]);
    assert_eq!(reminder_notes(&app, cy).await, ["nearer-due 1440"]);
    assert!(reminder_notes(&app, ada).await.is_empty());
    // The clinician reads it in words on the request's page.
    let mut c = Clinician::signed_in(&app).await;
    let page = visible_text(&c.get(&format!("/admin/requests/{bo}")).await.text());
    for said in [
        "Reminder (24 hours before) not sent: the mail server could not be reached before the consultation began",
        "Reminder (1 hour before) not sent: the mail server could not be reached before the consultation began",
    ] {
        assert!(page.contains(said), "{said}: {page}");
    }
    let page = visible_text(&c.get(&format!("/admin/requests/{cy}")).await.text());
    let said = "Reminder (24 hours before) not sent: the mail server could not be reached until a nearer reminder was due";
    assert!(page.contains(said), "{said}: {page}");
    // Nothing is left to send later, and looking again queues nothing for Bo or Cy.
    assert_eq!(look(&app, back).await, 0);
    assert_eq!(app.mail_pending().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clinician_sets_the_meeting_details_and_mistakes_are_explained() {
    let app = start(None, "").await;
    let mut c = Clinician::signed_in(&app).await;
    let page = "/admin/booking/meeting";
    let html = c.page(page).await;
    assert!(
        html.contains("value=\"24\"") && html.contains("value=\"1\""),
        "{html}"
    );
    let mistakes = [
        ("video_address", "meet.example.com/room"),
        ("phone_way", "person-calls"),
        ("phone_number", ""),
        ("first_reminder", "twenty"),
        ("second_reminder", "1"),
    ];
    let r = c.action(page, page, &mistakes).await;
    assert_eq!(r.status, 422);
    let text = visible_text(&r.text());
    assert!(text.contains("There is a problem"), "{text}");
    assert!(text.contains("with https://"), "{text}");
    assert!(text.contains("Enter the number people call"), "{text}");
    assert!(text.contains("whole hours"), "{text}");
    assert!(r.text().contains("href=\"#video_address\""));
    assert!(
        r.text()
            .contains("<title>Error: Meeting details and reminders"),
        "{}",
        r.text()
    );
    let details = [
        ("video_address", VIDEO),
        ("phone_way", "person-calls"),
        ("phone_number", "(510) 555-0123"),
        ("first_reminder", "48"),
        ("second_reminder", ""),
        ("daily_agenda", "yes"),
    ];
    let r = c.action(page, page, &details).await;
    assert_eq!(r.status, 303, "{}", r.text());
    let details = app.state.store.meeting_details().await.expect("read");
    assert_eq!(
        details,
        MeetingDetails {
            video_address: Some(VIDEO.into()),
            phone_number: Some("(510) 555-0123".into()),
            reminders: vec![48 * 60],
            daily_agenda: true,
        }
    );
    let (rows, _) = app.state.store.audit_log(5, 0).await.expect("audit");
    assert!(
        crate::common::a_detail_says(&rows, "meeting details"),
        "audited"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_agenda_lists_the_days_consultations_without_names() {
    let (_dir, smtp, app) = offering_with_mail().await;
    save_meeting(
        &app,
        MeetingDetails {
            daily_agenda: true,
            reminders: Vec::new(),
            ..MeetingDetails::default()
        },
    )
    .await;
    let (ada, ada_link) = request_and_link(&app, NAME, &[("email", "ada@example.org")]).await;
    let later = later_times(&app, &ada_link).await;
    assert_eq!(
        choose(&app, &ada_link, &later[0].to_string()).await.status,
        303
    );
    confirm(&app, ada).await;
    let booking = booking_of(&app, ada).await;
    // 6:59 on the practice's clocks that day: too early; 7:00: queued once, however often looked.
    let day = later[0].to_zoned_datetime(zone()).date();
    let seven = day
        .at(7, 0, 0, 0)
        .to_zoned_datetime(zone())
        .expect("7:00")
        .timestamp();
    assert_eq!(look(&app, seven - SignedDuration::from_mins(1)).await, 0);
    assert_eq!(look(&app, seven).await, 1);
    assert_eq!(look(&app, seven + hours(1)).await, 0);
    deliver_at(&app, &outbox_to(&app, &smtp), seven).await;
    let (agenda, raw) = wait_for_mail(&smtp, "Today's consultations");
    assert_eq!(agenda["to"], "inbox@practice.example");
    let text = agenda["text"].as_str().expect("text");
    assert!(text.contains(&booking.reference), "{text}");
    assert!(text.contains("by video call"), "{text}");
    assert!(
        text.contains(&practice::wording::clock(later[0], &zone())),
        "{text}"
    );
    assert!(text.contains(&format!("{}/admin", app.url(""))), "{text}");
    for leak in ["Zephyrine", "Quillfeather", "ada@example.org"] {
        assert!(!raw.contains(leak), "the agenda says {leak:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reminder_queued_before_a_cancellation_or_a_move_does_not_leave() {
    let (_dir, smtp, app) = offering_with_mail().await;
    let AdaAndBo {
        ada,
        bo,
        bo_link,
        later,
    } = ada_and_bo_confirmed(&app).await;
    // Both day-before reminders are queued while the outbox has not yet run at that moment.
    let t = later[1] - hours(24);
    assert_eq!(look(&app, t).await, 2);
    // Then Ada cancels and Bo moves to another time.
    app.state
        .store
        .cancel_booking(ada, true, Timestamp::now())
        .await
        .expect("cancelled");
    assert_eq!(choose(&app, &bo_link, &at_(later[3])).await.status, 303);
    deliver_at(&app, &outbox_to(&app, &smtp), t).await;
    exactly_reminders(&app, &smtp, 0).await;
    for id in [ada, bo] {
        let history = app.state.store.history(id).await.expect("history");
        assert!(
            !history.iter().any(|h| h.event == "reminder"),
            "a reminder that no longer fits is not noted as missed"
        );
    }
}

/// Two people with confirmed consultations: Ada at the first of the later times, Bo at the second.
struct AdaAndBo {
    ada: i64,
    bo: i64,
    bo_link: String,
    later: Vec<Timestamp>,
}

async fn ada_and_bo_confirmed(app: &TestApp) -> AdaAndBo {
    let (ada, ada_link) =
        request_and_link(app, "Ada Lovelace", &[("email", "ada@example.org")]).await;
    let (bo, bo_link) = request_and_link(app, "Bo Brant", &[("email", "bo@example.org")]).await;
    let later = later_times(app, &ada_link).await;
    assert_eq!(choose(app, &ada_link, &at_(later[0])).await.status, 303);
    assert_eq!(choose(app, &bo_link, &at_(later[1])).await.status, 303);
    confirm(app, ada).await;
    confirm(app, bo).await;
    AdaAndBo {
        ada,
        bo,
        bo_link,
        later,
    }
}

fn at_(t: Timestamp) -> String {
    t.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booking_cancelled_and_chosen_again_at_the_same_time_is_reminded_again() {
    let (_dir, smtp, app) = offering_with_mail().await;
    let (ada, ada_link) =
        request_and_link(&app, "Ada Lovelace", &[("email", "ada@example.org")]).await;
    let later = later_times(&app, &ada_link).await;
    let t = later[0];
    assert_eq!(choose(&app, &ada_link, &at_(t)).await.status, 303);
    confirm(&app, ada).await;
    let outbox = outbox_to(&app, &smtp);
    // The day-before reminder is queued; Ada cancels before it leaves, so it does not.
    assert_eq!(look(&app, t - hours(24)).await, 1);
    app.state
        .store
        .cancel_booking(ada, true, Timestamp::now())
        .await
        .expect("cancelled");
    deliver_at(&app, &outbox, t - hours(24)).await;
    exactly_reminders(&app, &smtp, 0).await;
    // She chooses the same time again and it is confirmed: both reminders come for it.
    let page = app.get(&ada_link).await.text();
    assert!(
        crate::common::booking::times_in(&page)
            .iter()
            .any(|s| s.parse::<Timestamp>().ok() == Some(t)),
        "the time is open again"
    );
    assert_eq!(choose(&app, &ada_link, &at_(t)).await.status, 303);
    confirm(&app, ada).await;
    assert_eq!(look(&app, t - hours(24)).await, 1);
    deliver_at(&app, &outbox, t - hours(24)).await;
    assert_eq!(look(&app, t - hours(1)).await, 1);
    deliver_at(&app, &outbox, t - hours(1)).await;
    let sent = exactly_reminders(&app, &smtp, 2).await;
    for (to, mail, _) in &sent {
        assert_eq!(to, "ada@example.org");
        let body = mail["text"].as_str().expect("text");
        assert!(body.contains(&long_time(t, &zone())), "{body}");
    }
    assert_eq!(look(&app, t - hours(1)).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_unreadable_request_does_not_hold_up_the_other_reminders() {
    let (_dir, smtp, app) = offering_with_mail().await;
    // Ada's consultation comes first, so hers is looked at first.
    let AdaAndBo { ada, later, .. } = ada_and_bo_confirmed(&app).await;
    // Ada's sealed email is damaged, as someone with the database but not the key could.
    assert_eq!(
        app.database_write(
            &format!("UPDATE consultation_requests SET email_sealed = $1 WHERE id = {ada}"),
            &[b"damaged beyond opening".as_slice()],
        )
        .await,
        1
    );
    let t = later[1] - hours(24);
    assert_eq!(look(&app, t).await, 1, "Bo's is queued");
    // Looked at again, Ada's still cannot be queued and nothing fails.
    assert_eq!(look(&app, t).await, 0);
    deliver_at(&app, &outbox_to(&app, &smtp), t).await;
    let sent = exactly_reminders(&app, &smtp, 1).await;
    assert_eq!(sent[0].0, "bo@example.org");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_consultation_says_how_to_join_whether_or_not_a_number_was_given() {
    let (_dir, smtp, app) = offering_with_mail().await;
    // The clinician calls (no number for people to call); Ada gave no phone number, Bo did.
    let (ada, ada_link) =
        request_and_link(&app, "Ada Lovelace", &[("email", "ada@example.org")]).await;
    let (bo, bo_link) = request_and_link(
        &app,
        "Bo Brant",
        &[
            ("email", "bo@example.org"),
            ("phone", "555 010 0100"),
            ("contact_method", "either"),
        ],
    )
    .await;
    let later = later_times(&app, &ada_link).await;
    for (id, link, t) in [(ada, &ada_link, later[0]), (bo, &bo_link, later[1])] {
        let r = choose_to_meet(&app, link, &at_(t), "phone").await;
        assert_eq!(r.status, 303, "{}", r.text());
        confirm(&app, id).await;
    }
    // The practice's notice, the hold, the practice's hold notice and the confirmation, twice.
    assert!(smtp.wait_for(8).len() >= 8);
    let confirmations = read_mail_with_subject(&smtp, "Your consultation is confirmed");
    let join = |to: &str| -> String {
        confirmations
            .iter()
            .find(|m| m["to"] == to)
            .and_then(|m| m["text"].as_str().map(|t| t.replace('\n', " ")))
            .unwrap_or_else(|| panic!("a confirmation to {to}"))
    };
    let ada_text = join("ada@example.org");
    assert!(
        ada_text.contains("How to join: The practice will contact you about how to join."),
        "{ada_text}"
    );
    assert!(!ada_text.contains("number you gave"), "{ada_text}");
    let bo_text = join("bo@example.org");
    assert!(
        bo_text.contains("How to join: You will be called at the phone number you gave."),
        "{bo_text}"
    );
    // The reminder says the same.
    let t = later[0] - hours(24);
    assert_eq!(look(&app, t).await, 1);
    deliver_at(&app, &outbox_to(&app, &smtp), t).await;
    let sent = exactly_reminders(&app, &smtp, 1).await;
    let text = sent[0].1["text"].as_str().expect("text").replace('\n', " ");
    assert!(
        text.contains("How to join: The practice will contact you about how to join."),
        "{text}"
    );
}
