//! The practice in force: details saved in the inbox's form reach every email (read from a real
//! SMTP server), the licensed-state flag, the calendar invitation and feed, the booking and
//! questionnaire pages and the two-factor issuer — on SQLite and on PostgreSQL. A second server
//! of the same practice and the form filled in a browser are in the slow tier
//! (tests/slow/practice_in_force.rs).

use jiff::SignedDuration;

use crate::common::booking::{
    NAME, booking_link, choose, mornings, offer, python_read, request_and_link,
};
use crate::common::clinician::Clinician;
use crate::common::details::*;
use crate::common::reminders::{confirm, deliver_at, hours, later_times, meet_by_video, outbox_to};
use crate::common::{SmtpServer, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn details_saved_in_the_browser_reach_every_email_flag_invitation_feed_and_page() {
    let (_dir, smtp, app) = practice_with_mail().await;
    let mut c = Clinician::signed_in(&app).await;
    save_details(&mut c).await;
    offer(&app, &mornings()).await;
    meet_by_video(&app).await;
    crate::common::questionnaire::offer_questionnaires(&app).await;

    // The licensed states are the saved ones: California is now outside them, New York inside.
    let r = app
        .submitted(
            "Casey West",
            &[("state", "CA"), ("email", "casey@example.org")],
        )
        .await;
    let thanks = app
        .get(r.header("location").expect("location"))
        .await
        .text();
    assert!(booking_link(&thanks).is_none(), "no times offered in CA");
    let requests = app.state.store.all_requests().await.expect("read");
    assert!(requests[0].flags.outside_licensed_states, "CA is flagged");

    let (id, link) = request_and_link(&app, NAME, &[("state", "NY")]).await;
    let requests = app.state.store.all_requests().await.expect("read");
    let ny = requests.iter().find(|r| r.id == id).expect("NY request");
    assert!(!ny.flags.outside_licensed_states, "NY is not flagged");

    // The booking page speaks of the saved clinician, in the saved zone.
    let page = app.get(&link).await.text();
    assert!(page.contains("Sam Rivera"), "{page}");
    let times = later_times(&app, &link).await;
    let start = times[0];
    assert_eq!(choose(&app, &link, &start.to_string()).await.status, 303);
    confirm(&app, id).await;

    // The questionnaire: its pages name the saved clinician; item 9 answered sends the urgent
    // notice to the practice's saved email.
    let q = link.replacen("/book/", "/questionnaire/", 1);
    let intro = app.get(&q).await.text();
    assert!(intro.contains("Sam Rivera"), "{intro}");
    for leak in EXAMPLE {
        assert!(!intro.contains(leak), "the questionnaire says {leak:?}");
        assert!(!page.contains(leak), "the booking page says {leak:?}");
    }
    let phq9: Vec<(String, String)> = (0..10)
        .map(|i| {
            let v = if i == 8 { "2" } else { "1" };
            (format!("phq9-{i}"), v.to_string())
        })
        .collect();
    let pairs: Vec<(&str, &str)> = phq9.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = app
        .request(
            "POST",
            &format!("{q}/phq9"),
            &[("content-type", "application/x-www-form-urlencoded")],
            crate::common::form_body(&pairs),
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text());

    // The reminder a day before, from a worker on the same practice in force.
    let outbox = outbox_to(&app, &smtp);
    let day_before = start - hours(24) + SignedDuration::from_secs(1);
    assert!(app.state.reminders().look(day_before).await.expect("look") >= 1);
    deliver_at(&app, &outbox, day_before).await;

    let mail = all_mail(
        &smtp,
        &[
            "New consultation request",
            "We received your message",
            "Your consultation time is held",
            "Consultation time chosen",
            "Your consultation is confirmed",
            "Urgent: a questionnaire needs your attention",
            "Reminder: your consultation",
        ],
    );
    for (m, raw) in &mail {
        let subject = m["subject"].as_str().unwrap_or("");
        assert_eq!(m["from"], SENDER, "{subject}");
        for leak in EXAMPLE {
            assert!(!raw.contains(leak), "\"{subject}\" says {leak:?}");
        }
    }
    for notice in [
        "New consultation request",
        "Consultation time chosen",
        "Urgent: a questionnaire needs your attention",
    ] {
        assert_eq!(with_subject(&mail, notice)["to"], "sam@harborlight.org");
    }
    let ack = acknowledgement_in_saved_words(&mail);
    assert!(
        ack.contains("sam@harborlight.org | (212) 555-0147"),
        "{ack}"
    );
    let held = with_subject(&mail, "Your consultation time is held - Harbor Light");
    let text = text_of(held);
    assert!(
        text.contains("text HOME to 741741 (Crisis Text Line), or call 112"),
        "{text}"
    );
    assert!(text.contains("(212) 555-0147"), "{text}");
    for kind in [
        "Your consultation time is held",
        "Your consultation is confirmed",
    ] {
        let event = &with_subject(&mail, kind)["events"][0];
        assert_eq!(event["organizer"], "mailto:sam@harborlight.org", "{kind}");
    }
    let reminder = text_of(with_subject(&mail, "Reminder: your consultation"));
    assert!(reminder.contains("Sam Rivera"), "{reminder}");
    assert!(reminder.contains("741741"), "{reminder}");

    // The calendar feed is named for the saved practice.
    let settings = c.get("/admin/booking").await.text();
    let at = settings.find("/calendar/").expect("feed address");
    let feed: String = settings[at..].chars().take_while(|c| *c != '"').collect();
    let ics = app.get(&feed).await;
    assert_eq!(ics.status, 200);
    let read = python_read(&ics.text(), "ics");
    assert_eq!(read["name"], "Consultations: Harbor Light");

    // The authenticator app lists the account under the saved name.
    let two_factor = c.get("/admin/two-factor").await.text();
    assert!(two_factor.contains("issuer=Harbor%20Light"), "{two_factor}");
    assert!(two_factor.contains("The app lists it as Harbor Light."));
}

/// The title a person's calendar shows is the one chosen in the browser, in the invitation and
/// in the clinician's feed; one that names the treatment is refused in the form's words.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_calendar_title_chosen_in_the_browser_reaches_the_invitation_and_the_feed() {
    let (_dir, smtp, app) = practice_with_mail().await;
    let mut c = Clinician::signed_in(&app).await;
    let mut refused = SAVED.to_vec();
    refused.extend([("calendar_title", "Ketamine check-in"), ("version", "0")]);
    let r = c.action("/admin/details", "/admin/details", &refused).await;
    assert_eq!(r.status, 422, "{}", r.text());
    let page = crate::common::visible_text(&r.text());
    assert!(
        page.contains("Title of calendar invitations: \"Ketamine check-in\" cannot be used: it names the treatment"),
        "{page}"
    );
    assert!(!page.contains("practice.calendar_title"), "{page}");
    let mut saved = SAVED.to_vec();
    saved.push(("calendar_title", "Visit with Sam"));
    save_first(&mut c, &saved).await;
    offer(&app, &mornings()).await;

    let (id, link) = request_and_link(&app, NAME, &[("state", "NY")]).await;
    let start = later_times(&app, &link).await[0];
    assert_eq!(choose(&app, &link, &start.to_string()).await.status, 303);
    confirm(&app, id).await;
    let mail = all_mail(
        &smtp,
        &[
            "Your consultation time is held",
            "Your consultation is confirmed",
        ],
    );
    for kind in [
        "Your consultation time is held",
        "Your consultation is confirmed",
    ] {
        let m = with_subject(&mail, kind);
        assert_eq!(m["events"][0]["summary"], "Visit with Sam", "{kind}");
        let ics = m["ics"].as_str().expect("calendar file");
        assert!(!ics.contains("Harbor Light"), "{kind}: {ics}");
    }

    let settings = c.get("/admin/booking").await.text();
    let at = settings.find("/calendar/").expect("feed address");
    let feed: String = settings[at..].chars().take_while(|c| *c != '"').collect();
    let read = python_read(&app.get(&feed).await.text(), "ics");
    assert_eq!(read["events"][0]["summary"], "Visit with Sam", "{read}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_notices_follow_the_practice_email_unless_set_on_their_own() {
    let dir = tempfile::tempdir().expect("tempdir");
    let smtp = SmtpServer::start(dir.path());
    let text = format!(
        "{}notify_email = \"desk@harborlight.org\"\nfrom = \"Front Desk <desk@harborlight.org>\"\n",
        config(smtp.port)
    );
    let app = TestApp::with_config(&text).await;
    app.add_clinician().await;
    let mut c = Clinician::signed_in(&app).await;
    save_details(&mut c).await;
    app.submitted("Dale Noor", &[("state", "NY")]).await;
    let mail = all_mail(
        &smtp,
        &["New consultation request", "We received your message"],
    );
    let notice = with_subject(&mail, "New consultation request");
    assert_eq!(notice["to"], "desk@harborlight.org");
    assert_eq!(notice["from"], "Front Desk <desk@harborlight.org>");
    let ack = with_subject(&mail, "We received your message");
    assert_eq!(ack["from"], "Front Desk <desk@harborlight.org>");
    assert!(text_of(ack).contains("Sam Rivera, LCSW"));
}
