//! Booking the initial consultation, end to end over HTTP against the real server (a real
//! SQLite file, or PostgreSQL in the second run) and a real SMTP server on loopback: the
//! clinician's settings, the person's page of open times, holding a time (once, however many
//! try at the same moment), the emails and their calendar files as Python's `icalendar` reads
//! them, the signed links, the clinician's decisions and the private calendar feed.

use crate::common;
use crate::common::booking::*;
use crate::common::old_database::sqlite_database_at;
use practice::status::Status;

use crate::common::clinician::{Clinician, EMAIL};
use crate::common::reminders::look;
use crate::common::{Reply, SmtpServer, TestApp, visible_text};
use jiff::civil::time;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use practice::open_times::open_times;
use serde_json::Value;

/// Sends the booking settings form with `fields`, as the clinician does in the inbox.
async fn save_rules(c: &mut Clinician<'_>, fields: &[(&str, &str)]) -> Reply {
    c.action("/admin/booking", "/admin/booking", fields).await
}

#[tokio::test]
async fn the_clinician_sets_the_rules_in_the_inbox_and_mistakes_are_explained() {
    let app = start(None, "").await;
    let mut c = Clinician::signed_in(&app).await;
    let html = c.page("/admin/booking").await;
    for default in [
        "id=\"length\" name=\"length\" type=\"text\" inputmode=\"numeric\" value=\"20\"",
        "id=\"notice\" name=\"notice\" type=\"text\" inputmode=\"numeric\" value=\"24\"",
        "id=\"horizon\" name=\"horizon\" type=\"text\" inputmode=\"numeric\" value=\"21\"",
        "id=\"format-video\" name=\"format-video\" type=\"checkbox\" value=\"yes\" checked",
    ] {
        assert!(html.contains(default), "{default}");
    }
    assert!(visible_text(&html).contains("Eastern Time (America/New_York)"));
    assert!(visible_text(&html).contains("nobody can choose a time online yet"));

    // Mistakes: a length that is not a number, hours that overlap, notice past the horizon.
    let not_a_number = [
        ("length", "twenty"),
        ("step", "30"),
        ("buffer", "10"),
        ("notice", "24"),
        ("horizon", "21"),
        ("format-video", "yes"),
        ("window-mon-1-start", "09:00"),
        ("window-mon-1-end", "12:00"),
        ("days_off", "2030-12-25\nnext Tuesday"),
    ];
    let html = save_rules(&mut c, &not_a_number).await.page_with(422);
    assert!(html.contains("<title>Error: Booking settings"), "{html}");
    assert!(html.contains("href=\"#length\""), "{html}");
    assert!(html.contains("href=\"#days_off\""), "{html}");
    assert!(html.contains("line 2 is not"), "{html}");
    assert!(html.contains("value=\"twenty\""), "what was typed is kept");

    let overlapping = [
        ("length", "20"),
        ("step", "30"),
        ("buffer", "10"),
        ("notice", "600"),
        ("horizon", "21"),
        ("window-mon-1-start", "09:00"),
        ("window-mon-1-end", "12:00"),
        ("window-mon-2-start", "11:00"),
        ("window-mon-2-end", "13:00"),
    ];
    let html = save_rules(&mut c, &overlapping).await.page_with(422);
    let text = visible_text(&html);
    assert!(html.contains("href=\"#notice\""), "{text}");
    assert!(
        text.contains(
            "The minimum notice (25 days) reaches past how far ahead people may book (21 days)"
        ),
        "{text}"
    );
    assert!(html.contains("href=\"#format-video\""), "{text}");
    assert!(text.contains("Offer at least one way to meet"), "{text}");
    assert!(html.contains("href=\"#window-mon-2-start\""), "{text}");
    assert!(text.contains("overlap"), "{text}");
    assert!(
        app.state
            .store
            .booking_rules(&zone())
            .await
            .expect("rules")
            .windows
            .is_empty(),
        "nothing saved"
    );

    // Without the session's token: refused, nothing saved.
    let r = c
        .post("/admin/booking", &common::form_body(&[("length", "30")]))
        .await;
    assert_eq!(r.status, 403);

    let tuesdays = [
        ("length", "25"),
        ("step", "30"),
        ("buffer", "5"),
        ("notice", "48"),
        ("horizon", "14"),
        ("daily_cap", "3"),
        ("format-phone", "yes"),
        ("window-tue-1-start", "09:00"),
        ("window-tue-1-end", "12:00"),
        ("window-tue-2-start", "13:30"),
        ("window-tue-2-end", "17:00"),
        ("days_off", "2030-12-25\r\n2030-12-26"),
    ];
    let r = save_rules(&mut c, &tuesdays).await;
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(r.header("location"), Some("/admin/booking?saved=1"));
    let rules = app.state.store.booking_rules(&zone()).await.expect("rules");
    assert_eq!(rules.length, SignedDuration::from_mins(25));
    assert_eq!(rules.notice, SignedDuration::from_hours(48));
    assert_eq!(rules.horizon, SignedDuration::from_hours(14 * 24));
    assert_eq!(rules.daily_cap, Some(3));
    assert_eq!(rules.formats.len(), 1);
    assert_eq!(rules.windows.len(), 2);
    assert_eq!(rules.days_off.len(), 2);
    assert!(rules.validate().is_ok());
    let saved = c.get("/admin/booking?saved=1").await.text();
    assert!(saved.contains("Booking settings saved."));
    assert!(saved.contains(
        "id=\"window-tue-2-start\" name=\"window-tue-2-start\" type=\"time\" value=\"13:30\""
    ));
    let (rows, _) = app.state.store.audit_log(1, 0).await.expect("audit");
    assert_eq!(rows[0].action, "booking_rules_changed");
    assert_eq!(rows[0].actor, EMAIL);
}

#[tokio::test]
async fn the_open_times_are_a_form_grouped_by_day_in_the_practices_zone() {
    let app = start(None, "").await;
    // Nothing offered yet: the thank-you page has no link.
    let r = app.submit("Ada", &[]).await;
    assert_eq!(r.header("location"), Some("/contact/thanks"));
    assert!(booking_link(&app.get("/contact/thanks").await.text()).is_none());

    let rules = mornings();
    offer(&app, &rules).await;
    let (_, link) = request_and_link(&app, NAME, &[("message", MESSAGE)]).await;
    assert!(!link.contains("Zephyrine") && !link.contains("person"));
    let open_now = || -> Vec<String> {
        open_times(&rules, &[], Timestamp::now())
            .iter()
            .map(|t| t.start.to_string())
            .collect()
    };
    let before = open_now();
    let page = app.get(&link).await;
    let after = open_now();
    assert_eq!(page.status, 200);
    assert!(
        page.header("set-cookie").is_none(),
        "no cookie for visitors"
    );
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert_eq!(page.header("x-robots-tag"), Some("noindex, nofollow"));
    let html = page.text();
    let text = visible_text(&html);
    assert!(
        text.contains("Times are in Eastern Time (America/New_York)."),
        "{text}"
    );
    assert!(html.contains(&format!(
        "<form class=\"request-form booking-form\" method=\"post\" action=\"{link}\""
    )));
    // Every open time is offered, in order, each a radio button with its label.
    let offered = times_in(&html);
    assert!(offered.len() >= 18, "{offered:?}");
    assert!(
        offered == before || offered == after,
        "the page offers the open times: {offered:?} vs {before:?}"
    );
    for value in &offered {
        let t: Timestamp = value.parse().expect("an instant");
        let id = format!("start-{}", t.as_millisecond());
        assert!(html.contains(&format!("<label class=\"radio-label\" for=\"{id}\">")));
    }
    // Grouped by day: one fieldset per day, with the day as its legend.
    let first: Timestamp = offered[0].parse().expect("instant");
    let day = first
        .to_zoned_datetime(zone())
        .strftime("%A, %B %-d")
        .to_string();
    assert!(
        html.contains(&format!("\">{day}</legend>")),
        "{day} in {html}"
    );
    assert!(
        text.contains("9:00 AM") && text.contains("11:30 AM"),
        "{text}"
    );
    // Each day names the practice's offset from UTC (one all morning), which the script
    // compares with the visitor's before it loads any time zone data.
    let offset = zone().to_offset(first).seconds() / 60;
    assert!(
        html.contains(&format!(
            "<fieldset class=\"fieldset day\" data-offset=\"{offset}\" "
        )),
        "the first day names its offset {offset}"
    );
    // Its first view: the public pages' styles without the home page's sections, allowed by
    // the CSP by its hash.
    let start = html.find("<style>").expect("inline styles") + "<style>".len();
    let styles = &html[start..start + html[start..].find("</style>").expect("end")];
    assert!(styles.contains(".booking-form .day") && !styles.contains(".myth-claim"));
    let csp = page.header("content-security-policy").expect("a CSP");
    assert!(
        csp.contains(&common::csp_source(styles)),
        "{csp} does not allow the booking page's styles"
    );
    // Works without JavaScript: its one script only adds the visitor's own times, inline at the
    // end of the page (it runs as the page is parsed, before the first paint, so nothing moves;
    // last, so the page is parsed whole before it is laid out), allowed by the CSP by its hash
    // alone.
    assert_eq!(html.matches("<script").count(), 1, "{html}");
    let script = html.find("<script>").expect("the script") + "<script>".len();
    assert!(
        html.find("</footer>").is_some_and(|footer| footer < script),
        "the script comes after the page's last part: {html}"
    );
    let end = script + html[script..].find("</script>").expect("end");
    assert_eq!(
        html[end..].split_whitespace().collect::<String>(),
        "</script></body></html>",
        "the script is the page's last element: {html}"
    );
    let script = &html[script..end];
    assert!(script.contains("Intl.DateTimeFormat"), "{script}");
    let csp = page.header("content-security-policy").expect("a CSP");
    let scripts = csp
        .split("; ")
        .find(|d| d.starts_with("script-src "))
        .expect("script-src");
    assert!(
        scripts.contains(&common::csp_source(script)),
        "{scripts} does not allow the booking script"
    );
    assert!(!text.contains("Zephyrine") && !text.contains("marker-msg"));
}

/// A time held a few hours ahead is not promised a confirmation "within two business days".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_time_held_hours_ahead_is_promised_confirmation_before_it_begins() {
    let (_dir, smtp, app) = offering_with_mail().await;
    let mut rules = mornings_in(TimeZone::UTC);
    for w in &mut rules.windows {
        w.start = time(0, 0, 0, 0);
        w.end = time(23, 59, 0, 0);
    }
    rules.notice = SignedDuration::from_hours(2);
    offer(&app, &rules).await;
    let (_, link) = request_and_link(&app, NAME, &[]).await;
    let times = times_in(&app.get(&link).await.text());
    let soonest = &times[0];
    let start: Timestamp = soonest.parse().expect("instant");
    assert!(start.duration_since(Timestamp::now()) < SignedDuration::from_hours(4));
    assert_eq!(choose(&app, &link, soonest).await.status, 303);
    let text = visible_text(&app.get(&link).await.text());
    assert!(
        text.contains("will confirm it before it begins, by email"),
        "{text}"
    );
    assert!(!text.contains("within two business days"), "{text}");
    let (_, raw) = wait_for_mail(&smtp, "Your consultation time is held");
    let words = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        words.contains(
            "will confirm the time before it begins, and you will get another email then"
        ),
        "{raw}"
    );
    assert!(!words.contains("within two business days"), "{raw}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holding_a_time_sends_an_invitation_that_icalendar_reads_at_the_chosen_instant() {
    let dir = tempfile::tempdir().expect("tempdir");
    let smtp = SmtpServer::start(dir.path());
    let app = start(Some(smtp.port), "acknowledge = true\n").await;
    offer(&app, &mornings()).await;
    let (id, link) = request_and_link(
        &app,
        NAME,
        &[
            ("message", MESSAGE),
            ("email", "zephyrine.q@example.org"),
            ("phone", "(415) 555-0199"),
        ],
    )
    .await;
    let times = times_in(&app.get(&link).await.text());
    let chosen = &times[3];
    let r = choose(&app, &link, chosen).await;
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(r.header("location"), Some(link.as_str()));
    let held = app.get(&link).await;
    assert_eq!(held.status, 200);
    let text = visible_text(&held.text());
    assert!(text.contains("Your consultation time is held"), "{text}");
    let start: Timestamp = chosen.parse().expect("instant");
    let long = start
        .to_zoned_datetime(zone())
        .strftime("%A, %B %-d, %Y at %-I:%M %p %Z")
        .to_string();
    assert!(text.contains(&long), "{long} in {text}");

    let (mail, raw) = wait_for_mail(&smtp, "Your consultation time is held");
    assert_eq!(mail["to"], "zephyrine.q@example.org");
    assert_eq!(mail["method_param"], "REQUEST");
    assert_eq!(mail["method"], "REQUEST");
    assert_eq!(mail["filename"], "consultation.ics");
    let events = mail["events"].as_array().expect("events");
    assert_eq!(events.len(), 1);
    let ev = &events[0];
    assert_eq!(ev["start"], ms_string(start));
    assert_eq!(
        ev["end"],
        ms_string(
            start
                .checked_add(SignedDuration::from_mins(20))
                .expect("end")
        )
    );
    assert_eq!(ev["status"], "TENTATIVE");
    assert_eq!(ev["sequence"], 0);
    let booking = booking_of(&app, id).await;
    assert_eq!(
        ev["uid"],
        format!("booking-{}@127.0.0.1", booking.id),
        "a stable UID per booking"
    );
    assert_eq!(ev["summary"], "Appointment", "a neutral title by default");
    let body = mail["text"].as_str().expect("text");
    assert!(body.contains(&long), "{body}");
    assert!(
        body.contains("(times are in Eastern Time (America/New_York))"),
        "{body}"
    );
    let from_email = link_in(body, &app);
    let page = visible_text(&app.get(&from_email).await.text());
    assert!(
        page.contains("Your consultation time is held") && page.contains(&long),
        "the email links back to the booking: {page}"
    );
    for leak in [
        "Zephyrine",
        "Quillfeather",
        "marker-msg",
        "accident",
        "555-0199",
    ] {
        assert!(!raw.contains(leak), "the email leaks {leak:?}");
    }
    let ics = mail["ics"].as_str().expect("ics").to_lowercase();
    for word in ["ketamine", "kap ", "zephyrine", "zephyrine.q@example.org"] {
        assert!(!ics.contains(word), "the calendar file says {word:?}");
    }

    // The practice's notice says that a time was chosen, and nothing about the person.
    let (notice, raw) = wait_for_mail(&smtp, "Consultation time chosen");
    assert_eq!(notice["to"], "inbox@practice.example");
    assert!(notice.get("ics").is_none());
    let text = notice["text"].as_str().expect("text");
    assert!(
        text.contains(&format!("{}/admin/requests/{id}", app.url(""))),
        "{text}"
    );
    for leak in ["Zephyrine", "zephyrine.q", "marker-msg", "555-0199"] {
        assert!(!raw.contains(leak), "the notice leaks {leak:?}");
    }
    // The acknowledgement offers the same page.
    let (ack, _) = wait_for_mail(&smtp, "We received your message");
    let ack_link = link_in(ack["text"].as_str().expect("text"), &app);
    assert_eq!(app.get(&ack_link).await.status, 200);

    // The request's history and the audit log record it, in neutral words.
    let history = app.state.store.history(id).await.expect("history");
    assert!(history.iter().any(|h| h.event == "booking"));
    assert!(app.audited("booking_held", id).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_people_choosing_the_same_time_at_once_get_exactly_one_hold() {
    let app = std::sync::Arc::new(start(None, "").await);
    offer(&app, &mornings()).await;
    let mut links = Vec::new();
    for i in 0..50 {
        app.submitted(&format!("Person {i}"), &[]).await;
    }
    let until = Timestamp::now() + SignedDuration::from_hours(1);
    for r in app.state.store.all_requests().await.expect("read") {
        links.push(link_to(&app, r.id, until).await);
    }
    assert_eq!(links.len(), 50);
    let times = times_in(&app.get(&links[0]).await.text());
    let chosen = times[1].clone();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(links.len()));
    let mut tasks = Vec::new();
    for link in links {
        let (app, chosen, barrier) = (app.clone(), chosen.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            choose(&app, &link, &chosen).await.status
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.expect("task"));
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 303).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        49,
        "{statuses:?}"
    );
    let (upcoming, _) = bookings(&app, 10).await;
    assert_eq!(upcoming.len(), 1);
    assert_eq!(upcoming[0].booking.start.to_string(), chosen);

    // The database itself refuses a second booking holding the same start, whatever the
    // program does.
    let start: Timestamp = chosen.parse().expect("instant");
    let other = app.other_request_id(upcoming[0].booking.request_id).await;
    let sql = format!(
        "INSERT INTO bookings (request_id, start_at, end_at, format, status, sequence, created_at, updated_at) VALUES ({other}, {s}, {e}, 'video', 'held', 0, 0, 0)",
        s = start.as_millisecond(),
        e = start.as_millisecond() + 20 * 60 * 1000
    );
    assert!(
        app.state.store.execute_unchecked(&sql).await.is_err(),
        "a second hold of the same start is refused by the database"
    );
    let cancelled = sql.replace("'held'", "'cancelled'");
    assert_eq!(app.execute(&cancelled).await, 1);
}

#[tokio::test]
async fn a_time_taken_a_moment_earlier_gets_the_nearest_others() {
    let app = start(None, "").await;
    offer(&app, &mornings()).await;
    let (_, first) = request_and_link(&app, "Ada", &[]).await;
    let (_, second) = request_and_link(&app, "Grace", &[]).await;
    // Grace's page was served before Ada chose.
    let times = times_in(&app.get(&second).await.text());
    let wanted = times[8].clone();
    assert_eq!(choose(&app, &first, &wanted).await.status, 303);
    let html = choose(&app, &second, &wanted).await.page_with(409);
    let text = visible_text(&html);
    assert!(text.contains("There is a problem"), "{text}");
    assert!(text.contains("That time has just been taken"), "{text}");
    assert!(
        html.contains("<title>Error: Choose a consultation time"),
        "{html}"
    );
    let nearest = times_in(&html);
    assert!(
        !nearest.is_empty() && nearest.len() <= 6,
        "only the nearest: {nearest:?}"
    );
    assert!(!nearest.contains(&wanted));
    // The nearest: those around the time wanted, skipping the buffers of Ada's booking.
    let wanted_at: Timestamp = wanted.parse().expect("instant");
    for t in &nearest {
        let t: Timestamp = t.parse().expect("instant");
        assert!(
            t.duration_since(wanted_at).abs() <= SignedDuration::from_hours(24),
            "{t} is near {wanted_at}"
        );
    }
    assert!(html.contains(&format!("href=\"{second}\">See every open time")));
    let r = choose(&app, &second, &nearest[0]).await;
    assert_eq!(r.status, 303);
}

#[tokio::test]
async fn wrong_answers_get_the_form_back_with_what_to_fix() {
    let app = start(None, "").await;
    offer(&app, &mornings()).await;
    let (_, link) = request_and_link(&app, "Ada", &[]).await;
    let times = times_in(&app.get(&link).await.text());

    let r = post_form(&app, &link, &[("format", "video")]).await;
    assert_eq!(r.status, 422);
    assert!(visible_text(&r.text()).contains("Choose a time"));
    let html = post_form(&app, &link, &[("start", &times[1])])
        .await
        .page_with(422);
    assert!(visible_text(&html).contains("Choose how you would like to meet"));
    assert!(html.contains("checked>"), "the time chosen stays chosen");
    let r = post_form(
        &app,
        &link,
        &[("start", "tomorrow at noon"), ("format", "video")],
    )
    .await;
    assert_eq!(r.status, 422);
    assert!(visible_text(&r.text()).contains("Choose a time from the list"));
    // A time that is not on the grid, or long past.
    let off_grid: Timestamp =
        times[1].parse::<Timestamp>().expect("t") + SignedDuration::from_mins(7);
    let r = choose(&app, &link, &off_grid.to_string()).await;
    assert_eq!(r.status, 409);
    assert!(visible_text(&r.text()).contains("not one of the times offered"));
    let r = choose(&app, &link, "2001-01-01T15:00:00Z").await;
    assert_eq!(r.status, 409);
    assert!(visible_text(&r.text()).contains("too soon"));
    let r = post_form(
        &app,
        &link,
        &[("start", &times[1]), ("format", "carrier-pigeon")],
    )
    .await;
    assert_eq!(r.status, 422);
    // Not a form, or a field twice.
    let r = app
        .request("POST", &link, &[("content-type", "application/json")], "{}")
        .await;
    assert_eq!(r.status, 415);
    let r = app
        .request(
            "POST",
            &link,
            &[("content-type", "application/x-www-form-urlencoded")],
            format!("start={}&start={}&format=video", times[1], times[2]),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(visible_text(&r.text()).contains("sent more than once"));
    assert!(bookings(&app, 10).await.0.is_empty(), "nothing was held");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cancel_link_works_and_a_tampered_or_expired_link_reveals_nothing() {
    let (_dir, smtp, app) = offering_with_mail().await;
    let (id, link) = request_and_link(&app, NAME, &[]).await;
    let times = times_in(&app.get(&link).await.text());
    assert_eq!(choose(&app, &link, &times[2]).await.status, 303);
    let (held, _) = wait_for_mail(&smtp, "Your consultation time is held");
    let from_email = link_in(held["text"].as_str().expect("text"), &app);

    let page = app.get(&from_email).await;
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(html.contains(&format!("action=\"{from_email}/cancel\"")));
    assert!(html.contains(&format!("href=\"{from_email}/change\"")));
    let r = app
        .request("POST", &format!("{from_email}/cancel"), &[], "")
        .await;
    assert_eq!(r.status, 303);
    let booking = booking_of(&app, id).await;
    assert_eq!(booking.status.as_str(), "cancelled");
    assert!(taken_times(&app).await.is_empty(), "the time is open again");
    let after = visible_text(&app.get(&from_email).await.text());
    assert!(after.contains("You cancelled the consultation"), "{after}");
    assert!(
        after.contains("Choose a time for your first conversation"),
        "{after}"
    );
    let (cancelled, _) = wait_for_mail(&smtp, "Your consultation is cancelled");
    assert_eq!(cancelled["method"], "CANCEL");
    assert_eq!(cancelled["events"][0]["status"], "CANCELLED");
    assert_eq!(cancelled["events"][0]["sequence"], 1);
    assert_eq!(cancelled["events"][0]["uid"], held["events"][0]["uid"]);
    let (notice, raw) = wait_for_mail(&smtp, "Consultation cancelled");
    assert_eq!(notice["to"], "inbox@practice.example");
    assert!(!raw.contains("Zephyrine"));

    // A link with one character changed, a made-up one, and an expired one reveal nothing.
    let token = &link["/book/".len()..];
    let last = token.chars().last().expect("char");
    let tampered = format!(
        "/book/{}{}",
        &token[..token.len() - 1],
        if last == '0' { '1' } else { '0' }
    );
    let not_found = app.get("/no-such-page").await.text();
    for path in [
        tampered.clone(),
        format!("{tampered}/change"),
        "/book/00".to_string(),
        "/book/%00%ff".to_string(),
        format!("/book/{}", "a".repeat(5000)),
    ] {
        let r = app.get(&path).await;
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.text(), not_found, "the usual not-found page for {path}");
    }
    let r = app
        .request("POST", &format!("{tampered}/cancel"), &[], "")
        .await;
    assert_eq!(r.status, 404);
    let expired = link_to(&app, id, Timestamp::now() - SignedDuration::from_mins(1)).await;
    for path in [expired.clone(), format!("{expired}/change")] {
        let r = app.get(&path).await;
        assert_eq!(r.status, 410, "{path}");
        let text = visible_text(&r.text());
        assert!(text.contains("This link has expired"), "{text}");
        assert!(
            !text.contains("Zephyrine") && !text.contains("cancelled"),
            "{text}"
        );
    }
    let r = choose(&app, &expired, &times[2]).await;
    assert_eq!(r.status, 410);
    // A link for a request that is gone is simply not found.
    let gone = app.state.links.issue(
        999_999,
        "00112233445566778899aabbccddeeff",
        Timestamp::now() + SignedDuration::from_hours(1),
    );
    assert_eq!(app.get(&format!("/book/{gone}")).await.status, 404);
}

#[tokio::test]
async fn people_outside_the_licensed_states_or_under_18_are_not_offered_times_online() {
    let app = start(None, "").await;
    offer(&app, &mornings()).await;
    for changes in [&[("state", "NY")][..], &[("age_group", "minor")][..]] {
        let r = app.submit("Sam", changes).await;
        let html = app
            .get(r.header("location").expect("location"))
            .await
            .text();
        assert!(booking_link(&html).is_none(), "{changes:?}");
        let id = app.last_request_id().await;
        let link = link_to(&app, id, Timestamp::now() + SignedDuration::from_hours(1)).await;
        assert_eq!(app.get(&link).await.status, 404);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clinician_confirms_declines_or_asks_for_another_time_and_the_person_hears_of_each() {
    let (_dir, smtp, app) = offering_with_mail().await;
    let (ada, ada_link) =
        request_and_link(&app, "Ada Lovelace", &[("email", "ada@example.org")]).await;
    let (grace, grace_link) =
        request_and_link(&app, "Grace Hopper", &[("email", "grace@example.org")]).await;
    let times = times_in(&app.get(&ada_link).await.text());
    assert_eq!(choose(&app, &ada_link, &times[1]).await.status, 303);
    assert_eq!(choose(&app, &grace_link, &times[4]).await.status, 303);

    let mut c = Clinician::signed_in(&app).await;
    let list = c.get("/admin/bookings").await;
    assert_eq!(list.status, 200);
    let text = visible_text(&list.text());
    assert!(
        text.contains("Ada Lovelace") && text.contains("Grace Hopper"),
        "{text}"
    );
    assert!(text.contains("Waiting for confirmation"), "{text}");

    let page = format!("/admin/requests/{ada}");
    let html = c.get(&page).await.text();
    assert!(html.contains("id=\"confirm-booking\""), "{html}");
    let r = c.decide_booking(&page, &[("decision", "confirm")]).await;
    assert_eq!(r.status, 303);
    let (confirmed, _) = wait_for_mail(&smtp, "Your consultation is confirmed");
    assert_eq!(confirmed["to"], "ada@example.org");
    assert_eq!(confirmed["method"], "REQUEST");
    assert_eq!(confirmed["events"][0]["status"], "CONFIRMED");
    assert_eq!(confirmed["events"][0]["sequence"], 1, "SEQUENCE raised");
    assert_eq!(confirmed["events"][0]["start"], times[1]);
    let request = app.stored_request(ada).await;
    assert_eq!(request.status, Status::ConsultationScheduled);
    let person = visible_text(&app.get(&ada_link).await.text());
    assert!(
        person.contains("Your consultation is confirmed"),
        "{person}"
    );
    // Confirming twice is refused, politely.
    let r = c.decide_booking(&page, &[("decision", "confirm")]).await;
    assert_eq!(r.status, 409);
    assert!(visible_text(&r.text()).contains("Nothing was changed"));

    let page = format!("/admin/requests/{grace}");
    let secret = "marker-decline-4471: I am away that week";
    let r = c
        .decide_booking(&page, &[("decision", "decline"), ("message", secret)])
        .await;
    assert_eq!(r.status, 303);
    let (declined, raw) = wait_for_mail(&smtp, "About your consultation time");
    assert_eq!(declined["to"], "grace@example.org");
    assert!(declined["text"].as_str().expect("text").contains(secret));
    assert_eq!(declined["method"], "CANCEL");
    assert!(
        !declined["ics"]
            .as_str()
            .expect("ics")
            .contains("marker-decline")
    );
    assert!(raw.contains("marker-decline-4471"));
    let (rows, _) = app.state.store.audit_log(100, 0).await.expect("audit");
    assert!(
        rows.iter().any(|r| r.action == "booking_confirmed"
            && r.request_id == Some(ada)
            && r.actor == EMAIL)
    );
    assert!(
        rows.iter()
            .any(|r| r.action == "booking_declined" && r.request_id == Some(grace))
    );
    for row in &rows {
        let all = format!("{row:?}");
        assert!(
            !all.contains("marker-decline"),
            "the audit log keeps the message: {all}"
        );
    }
    for h in app.state.store.history(grace).await.expect("history") {
        assert!(!format!("{h:?}").contains("marker-decline"));
    }
    let person = visible_text(&app.get(&grace_link).await.text());
    assert!(person.contains("The practice will be in touch"), "{person}");
    assert!(!person.contains("marker-decline"));
    assert_eq!(
        choose(&app, &grace_link, &times[5]).await.status,
        303,
        "a declined request cannot book again online"
    );
    assert_eq!(booking_of(&app, grace).await.status.as_str(), "declined");

    // Another time, please: the person's link offers the times again, with why.
    let page = format!("/admin/requests/{ada}");
    let r = c.decide_booking(&page, &[("decision", "other_time")]).await;
    assert_eq!(r.status, 303);
    let (other, _) = wait_for_mail(&smtp, "Please choose another consultation time");
    assert_eq!(other["method"], "CANCEL");
    assert_eq!(other["events"][0]["sequence"], 2);
    let again = link_in(other["text"].as_str().expect("text"), &app);
    let html = app.get(&again).await.text();
    assert!(visible_text(&html).contains("asked you to choose another time"));
    let fresh = times_in(&html);
    assert!(fresh.contains(&times[1]), "Ada's old time is open again");
    assert_eq!(choose(&app, &again, &fresh[1]).await.status, 303);
    let b = booking_of(&app, ada).await;
    assert_eq!((b.status.as_str(), b.sequence), ("held", 3));
    assert!(app.state.store.audit_log(1, 0).await.expect("audit").0[0].action == "booking_held");
    // A decline message that cannot be sent is explained.
    let r = c
        .decide_booking(
            &page,
            &[("decision", "decline"), ("message", &"x".repeat(2001))],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(visible_text(&r.text()).contains("2,000 characters or fewer"));
    let r = c.decide_booking(&page, &[("decision", "shrug")]).await;
    assert_eq!(r.status, 422);
}

#[tokio::test]
async fn the_calendar_feed_holds_confirmed_consultations_in_neutral_words_until_its_link_is_replaced()
 {
    let app = start(None, "").await;
    offer(&app, &mornings()).await;
    let (ada, ada_link) = request_and_link(&app, NAME, &[("message", MESSAGE)]).await;
    let (_, grace_link) = request_and_link(&app, "Grace Hopper", &[]).await;
    let times = times_in(&app.get(&ada_link).await.text());
    assert_eq!(choose(&app, &ada_link, &times[1]).await.status, 303);
    assert_eq!(choose(&app, &grace_link, &times[6]).await.status, 303);
    let mut c = Clinician::signed_in(&app).await;
    let page = format!("/admin/requests/{ada}");
    let r = c.decide_booking(&page, &[("decision", "confirm")]).await;
    assert_eq!(r.status, 303);

    let settings = c.get("/admin/booking").await.text();
    let base = app.url("");
    let start = settings
        .find(&format!("{base}/calendar/"))
        .expect("feed address");
    let end = start + settings[start..].find('"').expect("end");
    let feed_url = settings[start..end].to_string();
    let secret = &feed_url[base.len() + "/calendar/".len()..feed_url.len() - ".ics".len()];
    assert_eq!(secret.len(), 64, "256 random bits");
    let feed_path = &feed_url[base.len()..];
    let feed = app.get(feed_path).await;
    assert_eq!(feed.status, 200);
    assert_eq!(
        feed.header("content-type"),
        Some("text/calendar; charset=utf-8")
    );
    assert_eq!(feed.header("cache-control"), Some("no-store"));
    assert!(feed.header("set-cookie").is_none());
    let read = python_read(&feed.text(), "feed");
    assert_eq!(read["method"], "PUBLISH");
    let events = read["events"].as_array().expect("events");
    assert_eq!(events.len(), 1, "confirmed only: {read}");
    assert_eq!(events[0]["start"], times[1]);
    assert_eq!(events[0]["status"], "CONFIRMED");
    let lower = feed.text().to_lowercase();
    for word in [
        "zephyrine",
        "quillfeather",
        "marker-msg",
        "accident",
        "ketamine",
        "person@example.com",
        "grace",
    ] {
        assert!(!lower.contains(word), "the feed says {word:?}");
    }
    assert!(feed.text().contains("Initial consultation by video call."));

    // Wrong secrets find nothing.
    for path in [
        "/calendar/.ics".to_string(),
        format!("/calendar/{}.ics", "0".repeat(64)),
        format!("/calendar/{secret}"),
        format!("/calendar/{secret}.ics.bak"),
    ] {
        assert_eq!(app.get(&path).await.status, 404, "{path}");
    }

    let r = c
        .action("/admin/booking", "/admin/booking/calendar-link", &[])
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(app.get(feed_path).await.status, 404, "the old link is gone");
    let settings = c.get("/admin/booking?replaced=1").await.text();
    assert!(settings.contains("The calendar feed has a new address"));
    let start = settings
        .find(&format!("{base}/calendar/"))
        .expect("feed address");
    let end = start + settings[start..].find('"').expect("end");
    let new_path = settings[start + base.len()..end].to_string();
    assert_ne!(new_path, feed_path);
    assert_eq!(app.get(&new_path).await.status, 200);
    let (rows, _) = app.state.store.audit_log(1, 0).await.expect("audit");
    assert_eq!(rows[0].action, "calendar_link_replaced");
}

#[tokio::test]
async fn too_many_changes_from_one_address_are_refused_kindly() {
    let app = TestApp::with_config(&format!(
        "[practice]\ntime_zone = \"{ZONE}\"\n\n[contact_form]\nrate_limit_per_hour = 2\n"
    ))
    .await;
    offer(&app, &mornings()).await;
    let (_, link) = request_and_link(&app, "Ada", &[]).await;
    let times = times_in(&app.get(&link).await.text());
    assert_eq!(choose(&app, &link, &times[1]).await.status, 303);
    assert_eq!(choose(&app, &link, &times[2]).await.status, 303);
    let r = choose(&app, &link, &times[3]).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("600"));
    assert!(visible_text(&r.text()).contains("Too many changes from your connection"));
    let r = app
        .request("POST", &format!("{link}/cancel"), &[], "")
        .await;
    assert_eq!(r.status, 429);
    let b = taken_times(&app).await;
    assert_eq!(b.len(), 1);
    assert_eq!(
        b[0].start.to_string(),
        times[2],
        "the last change that was made"
    );
}

#[tokio::test]
async fn a_closed_request_can_no_longer_book() {
    let app = start(None, "").await;
    offer(&app, &mornings()).await;
    let (id, link) = request_and_link(&app, NAME, &[]).await;
    let times = times_in(&app.get(&link).await.text());
    assert!(!times.is_empty(), "times are offered before closing");
    let closed = app.execute(&format!(
            "UPDATE consultation_requests SET status = 'closed', closed_reason = 'not_a_fit' WHERE id = {id}"
        )).await;
    assert_eq!(closed, 1);
    assert_eq!(app.get(&link).await.status, 404, "the page is refused");
    assert_eq!(
        choose(&app, &link, &times[0]).await.status,
        404,
        "no time is held"
    );
    assert!(booking_for(&app, id).await.is_none());
}

#[tokio::test]
async fn an_old_thank_you_url_says_the_request_arrived_and_mints_no_link() {
    let app = start(None, "").await;
    offer(&app, &mornings()).await;
    let (id, _) = request_and_link(&app, NAME, &[]).await;
    let old = Timestamp::now() - jiff::SignedDuration::from_mins(61);
    // One issued more than an hour ago, and one sealed before pages carried their time.
    let thanks = crypto::SealedField::kept("thanks");
    for (text, sealed_then) in [
        (format!("0:{id}:{}", old.as_millisecond()), false),
        (format!("0:{id}"), true),
    ] {
        let sealed = if sealed_then {
            common::sealed_the_old_way(&app.data_key(), "thanks", &text)
        } else {
            app.state.store.keys().seal(thanks.alone(), &text)
        };
        let page = app
            .get(&format!("/contact/thanks?n={}", crypto::hex::hex(&sealed)))
            .await;
        assert_eq!(page.status, 410, "{text}");
        let html = page.text();
        assert!(booking_link(&html).is_none(), "no new link for {text}");
        assert!(
            visible_text(&html).contains("Your request was received"),
            "{html}"
        );
    }
}

/// Counts the rows of `table` on a SQLite database.
async fn rows_in(pool: &sqlx::SqlitePool, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
        .fetch_one(pool)
        .await
        .expect("count")
}

/// A SQLite database written before ids were kept from reuse: every row that refers to a
/// request or a booking survives the rebuild of their tables, and the id of a request deleted
/// before the upgrade is never given again.
#[tokio::test]
async fn upgrading_keeps_every_row_and_never_reuses_a_deleted_id() {
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
    let dir = tempfile::tempdir().expect("tempdir");
    // The migrations as they were: the first six.
    let (data, pool, keys, key) = sqlite_database_at(dir.path(), 6).await;
    let file = data.join(store::data_dir::DATABASE_FILE);
    let old_seal = |field: &str, plain: &str| common::sealed_the_old_way(&key, field, plain);
    {
        for id in 1..=3i64 {
            sqlx::query(
                "INSERT INTO consultation_requests (id, reference, received_at, contact_method,
                 location, age_group, outside_licensed_states, minor, name_sealed, email_sealed)
                 VALUES ($1, $2, $3, 'email', 'ny', 'adult', 0, 0, $4, $5)",
            )
            .bind(id)
            .bind(format!("REF-{id}"))
            .bind(1_700_000_000_000 + id)
            .bind(old_seal("name", &format!("Person {id}")))
            .bind(old_seal("email", &format!("p{id}@example.com")))
            .execute(&pool)
            .await
            .expect("request");
            sqlx::query(
                "INSERT INTO request_notes (request_id, author, created_at, body_sealed)
                 VALUES ($1, 'c', 1, $2)",
            )
            .bind(id)
            .bind(old_seal("note", "a note"))
            .execute(&pool)
            .await
            .expect("note");
            sqlx::query(
                "INSERT INTO bookings (id, request_id, start_at, end_at, format, status,
                 created_at, updated_at) VALUES ($1, $1, $2, $3, 'video', 'held', 1, 1)",
            )
            .bind(id)
            .bind(1_800_000_000_000 + id * 3_600_000)
            .bind(1_800_000_000_000 + id * 3_600_000 + 1_200_000)
            .execute(&pool)
            .await
            .expect("booking");
            sqlx::query(
                "INSERT INTO booking_changes (id, booking_id, at, actor, status, start_at, end_at,
                 format, sequence) VALUES ($1, $1, 1, 'person', 'held', 1, 2, 'video', 0)",
            )
            .bind(id)
            .execute(&pool)
            .await
            .expect("change");
            sqlx::query(
                "INSERT INTO outbox (kind, request_id, created_at, next_attempt_at,
                 booking_change_id) VALUES ('booking_held_notice', $1, 1, 1, $1)",
            )
            .bind(id)
            .execute(&pool)
            .await
            .expect("mail");
        }
        // The newest request deleted, as the inbox does: its id is in the audit log only.
        sqlx::query("DELETE FROM consultation_requests WHERE id = 3")
            .execute(&pool)
            .await
            .expect("delete");
        sqlx::query(
            "INSERT INTO audit_log (at, actor, action, request_id) VALUES (2, 'c', 'delete', 3)",
        )
        .execute(&pool)
        .await
        .expect("audit");
        pool.close().await;
    }
    let tables = [
        ("consultation_requests", 2),
        ("request_notes", 2),
        ("request_history", 2),
        ("outbox", 2),
        ("bookings", 2),
        ("booking_changes", 2),
    ];
    let store = store::Store::open(&data, None, keys)
        .await
        .expect("the application opens and upgrades the database");
    let names = common::request_names(&store).await;
    assert_eq!(names, ["Person 1", "Person 2"]);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(
            SqliteConnectOptions::new()
                .filename(&file)
                .foreign_keys(true),
        )
        .await
        .expect("open");
    for (table, n) in tables {
        assert_eq!(rows_in(&pool, table).await, n, "{table} keeps its rows");
    }
    let schema: String = sqlx::query_scalar(
        "SELECT group_concat(sql, ';') FROM sqlite_master WHERE name IN ('consultation_requests', 'bookings')",
    )
    .fetch_one(&pool)
    .await
    .expect("schema");
    assert_eq!(schema.matches("AUTOINCREMENT").count(), 2, "{schema}");
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO consultation_requests (reference, received_at, contact_method, location,
         age_group, outside_licensed_states, minor, name_sealed, email_sealed)
         VALUES ('REF-new', 5, 'email', 'ny', 'adult', 0, 0, x'00', x'00') RETURNING id",
    )
    .fetch_one(&pool)
    .await
    .expect("new request");
    assert_eq!(id, 4, "the deleted request's id 3 is not given again");
    assert_eq!(
        rows_in(&pool, "request_history WHERE request_id = 4").await,
        1,
        "the trigger still writes the first history entry"
    );
    // The references point at the rebuilt tables: deleting a request still takes its rows.
    sqlx::query("DELETE FROM consultation_requests WHERE id = 1")
        .execute(&pool)
        .await
        .expect("delete");
    for table in ["request_notes", "outbox", "bookings", "booking_changes"] {
        assert_eq!(
            rows_in(&pool, table).await,
            1,
            "{table} follows its request"
        );
    }
    let mut booking_ids = Vec::new();
    for _ in 0..2 {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO bookings (request_id, start_at, end_at, format, status, created_at,
             updated_at) VALUES (4, 10, 20, 'phone', 'held', 1, 1) RETURNING id",
        )
        .fetch_one(&pool)
        .await
        .expect("booking");
        sqlx::query("DELETE FROM bookings WHERE id = $1")
            .bind(id)
            .execute(&pool)
            .await
            .expect("delete booking");
        booking_ids.push(id);
    }
    assert_eq!(
        booking_ids,
        [3, 4],
        "a deleted booking's id is not given again"
    );
    pool.close().await;
    store.close().await;
}

/// Alice's request is deleted in the inbox, then Bob sends his: nothing Alice kept (her
/// booking link, her thank-you page's address) shows, holds or cancels anything of Bob's, and
/// Bob's request has an id never used before.
#[tokio::test]
async fn a_deleted_requests_links_open_nothing_of_the_next_persons() {
    let app = start(None, "").await;
    offer(&app, &mornings()).await;
    let sent = app.submitted("Alice Example", &[]).await;
    let alice_thanks = sent.header("location").expect("location").to_string();
    let alice_link = booking_link(&app.get(&alice_thanks).await.text()).expect("a link");
    let alice = app.last_request_id().await;
    let times = times_in(&app.get(&alice_link).await.text());
    assert_eq!(choose(&app, &alice_link, &times[0]).await.status, 303);

    let mut clinician = Clinician::signed_in(&app).await;
    let page = format!("/admin/requests/{alice}/delete");
    assert_eq!(clinician.action(&page, &page, &[]).await.status, 303);
    assert!(
        app.state
            .store
            .request(alice)
            .await
            .expect("read")
            .is_none()
    );

    let (bob, bob_link) = request_and_link(&app, "Bob Example", &[]).await;
    assert!(
        bob > alice,
        "Bob's id {bob} was never used (Alice's was {alice})"
    );
    let bob_times = times_in(&app.get(&bob_link).await.text());
    assert_eq!(choose(&app, &bob_link, &bob_times[1]).await.status, 303);
    let held = booking_of(&app, bob).await;

    assert_eq!(app.get(&alice_link).await.status, 404, "shows nothing");
    assert_eq!(
        choose(&app, &alice_link, &bob_times[2]).await.status,
        404,
        "holds nothing"
    );
    for (method, action) in [("POST", "cancel"), ("GET", "change")] {
        let r = app
            .request(method, &format!("{alice_link}/{action}"), &[], "")
            .await;
        assert_eq!(r.status, 404, "{action}: nothing of Bob's");
    }
    let thanks = app.get(&alice_thanks).await;
    assert_eq!(thanks.status, 200);
    assert!(
        booking_link(&thanks.text()).is_none(),
        "the old thank-you page makes no link"
    );
    let after = booking_of(&app, bob).await;
    assert_eq!(
        (after.status, after.start, after.sequence),
        (held.status, held.start, held.sequence),
        "Bob's booking is untouched"
    );
    assert_eq!(app.get(&bob_link).await.status, 200, "Bob's own link works");
}

/// A link is bound to its request's stored secret, not to its id alone: once the secret is
/// not the one it was made with, neither the link nor the thank-you page's address opens or
/// makes anything.
#[tokio::test]
async fn a_link_opens_nothing_once_its_requests_secret_differs() {
    let app = start(None, "").await;
    offer(&app, &mornings()).await;
    let sent = app.submit(NAME, &[]).await;
    let thanks = sent.header("location").expect("location").to_string();
    let link = booking_link(&app.get(&thanks).await.text()).expect("a link");
    let id = app.last_request_id().await;
    assert_eq!(app.get(&link).await.status, 200);
    let secret = link_secret(&app, id).await;
    assert_eq!(secret.len(), 32);
    assert!(secret.bytes().all(|b| b.is_ascii_hexdigit()), "{secret}");
    let changed = app.execute(&format!(
            "UPDATE consultation_requests SET link_secret = '0123456789abcdef0123456789abcdef' WHERE id = {id}"
        )).await;
    assert_eq!(changed, 1);
    assert_eq!(app.get(&link).await.status, 404);
    let times = times_in(
        &app.get(&link_to(&app, id, Timestamp::now() + SignedDuration::from_hours(1)).await)
            .await
            .text(),
    );
    assert!(!times.is_empty(), "a link made with the new secret works");
    assert_eq!(choose(&app, &link, &times[0]).await.status, 404);
    assert!(booking_for(&app, id).await.is_none(), "nothing held");
    let page = app.get(&thanks).await;
    assert_eq!(page.status, 200);
    assert!(booking_link(&page.text()).is_none(), "no link made");
}

/// The reminders that reached the mail server so far, by recipient.
fn reminders_to(smtp: &SmtpServer, to: &str) -> usize {
    read_mail_with_subject(smtp, "Reminder: your consultation")
        .iter()
        .filter(|m| m["to"] == to)
        .count()
}

/// Closing a request cancels its consultation in the same step, whether the time was confirmed
/// or only held: the calendar feed drops it, the time is offered to others again, no reminder
/// leaves for it (neither one queued before the closing nor one due after), and the person is
/// told by email, or not, as the clinician chose on the close form.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_a_request_cancels_its_booking_and_tells_the_person_as_chosen() {
    use crate::common::reminders::{
        confirm, deliver_at, hours, later_times, meet_by_video, outbox_to,
    };
    use practice::booking::BookingStatus;

    let (_dir, smtp, app) = offering_with_mail().await;
    meet_by_video(&app).await;
    let (ada, ada_link) = request_and_link(&app, NAME, &[("email", "ada@example.org")]).await;
    let (bo, bo_link) = request_and_link(&app, "Bo Brant", &[("email", "bo@example.org")]).await;
    let (cy, cy_link) = request_and_link(&app, "Cy Cole", &[("email", "cy@example.org")]).await;
    let later = later_times(&app, &ada_link).await;
    assert!(later.len() >= 3, "enough open times: {later:?}");
    let (ada_start, bo_start, cy_start) = (later[0], later[1], later[2]);
    // Ada's and Cy's times are confirmed; Bo's is held, waiting for the clinician.
    for (link, t) in [
        (&ada_link, ada_start),
        (&bo_link, bo_start),
        (&cy_link, cy_start),
    ] {
        assert_eq!(choose(&app, link, &t.to_string()).await.status, 303);
    }
    confirm(&app, ada).await;
    confirm(&app, cy).await;
    // Each: the practice's notice, the hold and its notice to the practice; Ada and Cy the
    // confirmation as well.
    assert_eq!(smtp.wait_for(11).len(), 11);

    let feed_path = format!(
        "/calendar/{}.ics",
        app.state
            .store
            .calendar_feed_secret()
            .await
            .expect("secret")
    );
    let feed_starts = |feed: Reply| -> Vec<String> {
        assert_eq!(feed.status, 200);
        python_read(&feed.text(), "feed")["events"]
            .as_array()
            .expect("events")
            .iter()
            .map(|e| e["start"].as_str().expect("start").to_string())
            .collect()
    };
    assert_eq!(
        feed_starts(app.get(&feed_path).await),
        [ada_start.to_string(), cy_start.to_string()]
    );
    // Another person is offered neither Ada's nor Bo's time.
    let (_, di_link) = request_and_link(&app, "Di Dane", &[("email", "di@example.org")]).await;
    let offered = times_in(&app.get(&di_link).await.text());
    assert!(!offered.contains(&ada_start.to_string()), "{offered:?}");
    assert!(!offered.contains(&bo_start.to_string()), "{offered:?}");
    // Ada's day-before reminder is queued before her request is closed.
    assert_eq!(look(&app, ada_start - hours(24)).await, 1);

    // The clinician closes both requests from their pages: Ada is told, Bo is not (the box
    // unticked, so the browser does not send it).
    let mut c = Clinician::signed_in(&app).await;
    let ada_form = c.get(&format!("/admin/requests/{ada}")).await.text();
    let telling_ada = [
        ("status", "closed"),
        ("reason", "not_a_fit"),
        ("tell_person_offered", "1"),
        ("tell_person", "yes"),
    ];
    let closed = c.change_status(ada, &telling_ada).await;
    assert_eq!(closed.status, 303, "{}", closed.text());
    let not_telling_bo = [
        ("status", "closed"),
        ("reason", "no_response"),
        ("tell_person_offered", "1"),
    ];
    let closed = c.change_status(bo, &not_telling_bo).await;
    assert_eq!(closed.status, 303, "{}", closed.text());

    // Both bookings are cancelled, in the same step as the closing.
    for id in [ada, bo] {
        let booking = booking_of(&app, id).await;
        assert_eq!(booking.status, BookingStatus::Cancelled, "request {id}");
    }
    // The feed lists only Cy's consultation; both times are offered again.
    assert_eq!(
        feed_starts(app.get(&feed_path).await),
        [cy_start.to_string()]
    );
    let offered = times_in(&app.get(&di_link).await.text());
    assert!(offered.contains(&ada_start.to_string()), "{offered:?}");
    assert!(offered.contains(&bo_start.to_string()), "{offered:?}");

    // Every reminder moment in turn: the one queued for Ada does not leave, none is queued for
    // her or Bo, and Cy gets both of hers.
    let outbox = outbox_to(&app, &smtp);
    let mut moments: Vec<Timestamp> = [ada_start, bo_start, cy_start]
        .iter()
        .flat_map(|s| [*s - hours(24), *s - hours(1)])
        .collect();
    moments.sort();
    for t in moments {
        look(&app, t).await;
        deliver_at(&app, &outbox, t).await;
    }
    assert_eq!(reminders_to(&smtp, "ada@example.org"), 0);
    assert_eq!(reminders_to(&smtp, "bo@example.org"), 0);
    assert_eq!(reminders_to(&smtp, "cy@example.org"), 2);

    // Ada is told, in words that do not say she asked for it, with the calendar's cancellation
    // and no link to choose again (her request no longer books).
    let (told, _) = wait_for_mail(&smtp, "Your consultation is cancelled");
    assert_eq!(told["to"], "ada@example.org");
    let text = told["text"].as_str().expect("text").replace('\n', " ");
    assert!(
        text.contains("has cancelled your initial consultation"),
        "{text}"
    );
    assert!(!text.contains("As you asked"), "{text}");
    assert!(!text.contains("/book/"), "{text}");
    assert_eq!(told["method"], "CANCEL");
    assert_eq!(told["events"][0]["start"], ada_start.to_string());
    // Bo is not: no such mail was queued for him, and none reached the mail server.
    let queued = app.mail_kinds(bo).await;
    assert!(
        !queued.iter().any(|k| k.starts_with("booking_cancelled")),
        "{queued:?}"
    );
    let cancellations: Vec<Value> = read_mail_with_subject(&smtp, "Your consultation is cancelled");
    assert_eq!(cancellations.len(), 1, "Ada's only: {cancellations:?}");

    // The close form offered the choice, ticked by default.
    assert!(
        ada_form.contains("name=\"tell_person\" type=\"checkbox\" value=\"yes\" checked"),
        "{ada_form}"
    );
}

/// Each booking asks where the person will be during the session (their request's state to
/// begin with); a state outside the licensed ones is flagged to the clinician, not refused.
#[tokio::test]
async fn a_booking_asks_where_the_person_will_be_and_flags_an_unlicensed_state() {
    let app = start(None, "").await;
    offer(&app, &mornings()).await;
    let (away, link) = request_and_link(&app, "Ada", &[]).await;
    let html = app.get(&link).await.text();
    assert!(
        html.contains("Which state will you be in during the consultation?"),
        "{html}"
    );
    assert!(
        html.contains("<option value=\"CA\" selected>California</option>"),
        "the request's state to begin with"
    );
    let times = times_in(&html);

    // Left at "Choose a state": asked again, nothing held.
    let html = choose_from(&app, &link, &times[0], "").await.page_with(422);
    assert!(
        html.contains("href=\"#location\">Choose the state you will be in during the consultation"),
        "{html}"
    );
    assert!(html.contains("aria-invalid=\"true\""));

    // Nevada: held all the same, and flagged on the request's page.
    let r = choose_from(&app, &link, &times[0], "nv").await;
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(
        booking_of(&app, away).await.session_location.as_deref(),
        Some("NV")
    );
    let (home, link) = request_and_link(&app, "Bea", &[]).await;
    let r = choose_from(&app, &link, &times[1], "CA").await;
    assert_eq!(r.status, 303, "{}", r.text());

    let mut c = Clinician::signed_in(&app).await;
    let page = c.get(&format!("/admin/requests/{away}")).await.text();
    assert!(
        page.contains(
            "<dt>Where the person will be</dt><dd><span class=\"tag\">Outside licensed states</span> Nevada</dd>"
        ),
        "{page}"
    );
    let page = c.get(&format!("/admin/requests/{home}")).await.text();
    assert!(
        page.contains("<dt>Where the person will be</dt><dd>California</dd>"),
        "{page}"
    );
}
