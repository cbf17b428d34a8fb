//! Questionnaires end to end over HTTP against the real server (a real SQLite file, or
//! PostgreSQL in the second run) and a real SMTP server on loopback: offered after a time is
//! held, answered part by part, item 9 of the PHQ-9 raising the crisis resources, the flag and
//! the urgent email; the clinician's scores, bands, chart and table; the measures sent again;
//! export and deletion; and the person's free-text answers nowhere at rest, in a log line or in
//! an email.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use crate::common::booking::{link_to, mornings_in};
use crate::common::clinician::Clinician;
use crate::common::documents::{signed_link_in, unfold};
use crate::common::questionnaire::*;
use crate::common::reminders::look;
use crate::common::{Reply, SmtpServer, TestApp, form_body};

const ZONE: &str = "America/New_York";
/// Typed into every free-text answer.
const MEDS_MARKER: &str = "quetiapine-marker-medq-6143";
const PRESCRIBER_MARKER: &str = "Dr Marker-presc-8820";
/// Written as the follow-up's note.
const FOLLOW_UP_MARKER: &str = "Reached by phone followup-marker-7731";

/// Everything the server logs, for every test in this process (the markers are unique to
/// this file, so other tests' lines do no harm).
fn logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: std::sync::OnceLock<Arc<Mutex<Vec<u8>>>> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = buffer.clone();
        let installed = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || LogWriter(writer.clone()))
            .try_init();
        assert!(
            installed.is_ok(),
            "no other test sets the global log subscriber"
        );
        buffer
    })
    .clone()
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut b) = self.0.lock() {
            b.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn config(smtp_port: u16) -> String {
    format!(
        "[practice]\nemail = \"hello@practice.example\"\ntime_zone = \"{ZONE}\"\n\n[contact_form]\nrate_limit_per_hour = 200\n\n[mail]\nsmtp_url = \"smtp://127.0.0.1:{smtp_port}\"\nnotify_email = \"inbox@practice.example\"\nretry_base_seconds = 1\nretry_max_seconds = 1\n"
    )
}

async fn start(smtp: &SmtpServer) -> TestApp {
    start_on(&config(smtp.port)).await
}

/// The server with `config`, a clinician and open times.
async fn start_on(config: &str) -> TestApp {
    let app = TestApp::with_config(config).await;
    app.add_clinician().await;
    let rules = mornings_in(jiff::tz::TimeZone::get(ZONE).expect("tzdata"));
    app.state
        .store
        .save_booking_rules(&rules, "test", Timestamp::now())
        .await
        .expect("rules saved");
    app
}

/// The questionnaires of request `id`, as stored.
async fn questionnaires(app: &TestApp, id: i64) -> Vec<store::StoredQuestionnaire> {
    app.state.store.questionnaires(id).await.expect("read")
}

/// What needs the clinician's attention, as the inbox lists it.
async fn needing_attention(app: &TestApp) -> Vec<store::AttentionItem> {
    app.state.store.needing_attention().await.expect("read")
}

/// The clinician sends request `id` the measures again, as the request's page does: whether
/// they were sent.
async fn send_measures(app: &TestApp, id: i64) -> bool {
    let store = &app.state.store;
    store
        .send_measures(id, "clinician", Timestamp::now())
        .await
        .expect("sent")
}

/// How many points of `measure` ("phq9", "gad7") the chart on a request's page shows.
fn points(page: &str, measure: &str) -> usize {
    page.matches(&format!("class=\"chart-point chart-point-{measure}\""))
        .count()
}

/// A practice that offers its questionnaires, its mail caught in a new folder (kept while the
/// test runs).
async fn offering() -> (tempfile::TempDir, SmtpServer, TestApp) {
    let dir = tempfile::tempdir().expect("tempdir");
    let smtp = SmtpServer::start(dir.path());
    let app = start(&smtp).await;
    offer_questionnaires(&app).await;
    (dir, smtp, app)
}

/// The signed questionnaire link an email carries.
fn questionnaire_link(app: &TestApp, mail: &str) -> String {
    signed_link_in(app, mail, "questionnaire")
}

/// The code a test email of the notice address carries.
fn code_in(mail: &str) -> String {
    let mail = unfold(mail);
    let at = mail
        .find("code in the booking settings")
        .expect("the code's sentence");
    let code: String = mail[at..]
        .split(": ")
        .nth(1)
        .expect("a code")
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    assert_eq!(code.len(), 6, "{mail}");
    code
}

/// The clinician turns the questionnaire on in the booking settings.
async fn turn_on(c: &mut Clinician<'_>) -> Reply {
    c.action(
        "/admin/booking",
        "/admin/booking/questionnaire",
        &[("questionnaire", "on")],
    )
    .await
}

/// The clinician tries to turn the questionnaire on and is told why not; sends a test email to
/// the notice address `to` from the booking settings, enters a wrong code and then the one the
/// email carries: the notices are confirmed to reach `to`.
async fn confirm_notices_by_test_email(c: &mut Clinician<'_>, smtp: &SmtpServer, to: &str) {
    let r = turn_on(c).await;
    r.assert_shows(
        409,
        &format!("until you confirm that urgent notices reach {to}"),
    );
    let before: Vec<String> = smtp
        .messages()
        .into_iter()
        .filter(|m| m.contains("Subject: Test of urgent notices"))
        .collect();
    let r = c
        .action("/admin/booking", "/admin/booking/questionnaire/test", &[])
        .await;
    assert_eq!(r.status, 303, "{}", r.text());
    let deadline = std::time::Instant::now() + crate::common::PATIENCE;
    let mail = loop {
        if let Some(new) = smtp
            .messages()
            .into_iter()
            .find(|m| m.contains("Subject: Test of urgent notices") && !before.contains(m))
        {
            break new;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no test email arrived"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(mail.contains(&format!("To: {to}")), "{mail}");
    let settings = c.get("/admin/booking").await.text();
    assert!(
        settings.contains(&format!("A test email was sent to {to}")),
        "{settings}"
    );
    let code = code_in(&mail);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let r = c
        .action(
            "/admin/booking",
            "/admin/booking/questionnaire/confirm",
            &[("code", wrong)],
        )
        .await;
    r.assert_shows(422, "does not match");
    let r = c
        .action(
            "/admin/booking",
            "/admin/booking/questionnaire/confirm",
            &[("code", &code)],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text());
    let settings = c.get("/admin/booking").await.text();
    assert!(
        settings.contains(&format!("Urgent notices reach {to}: confirmed")),
        "{settings}"
    );
}

/// The clinician marks the request followed up from its page, with `note`: first without
/// one, which is refused with a message by the field.
async fn follow_up(c: &mut Clinician<'_>, id: i64, note: &str) {
    let page = format!("/admin/requests/{id}");
    let path = format!("/admin/requests/{id}/attention");
    let r = c.action(&page, &path, &[("note", "  ")]).await;
    assert_eq!(r.status, 422, "{}", r.text());
    let text = r.text();
    assert!(
        text.contains("<span class=\"visually-hidden\">Error:</span> Write a short note of what you did to follow it up"),
        "{text}"
    );
    assert!(text.contains("aria-invalid=\"true\""), "{text}");
    assert!(text.contains("id=\"attention\""), "still needs attention");
    let r = c.action(&page, &path, &[("note", note)]).await;
    assert_eq!(r.status, 303, "{}", r.text());
}

/// Waits for a message whose subject line starts with `subject`.
fn wait_for_subject(smtp: &SmtpServer, subject: &str) -> String {
    let deadline = std::time::Instant::now() + crate::common::PATIENCE;
    loop {
        if let Some(m) = smtp
            .messages()
            .into_iter()
            .find(|m| m.contains(&format!("Subject: {subject}")))
        {
            return m;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no email \"{subject}\" arrived"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_answers_and_the_clinician_follows_the_scores_over_time() {
    let logs = logs();
    let dir = tempfile::tempdir().expect("tempdir");
    let smtp = SmtpServer::start(dir.path());
    let app = start(&smtp).await;
    let mut c = Clinician::signed_in(&app).await;

    // Off by default: the booking page offers nothing and the link opens nothing.
    let (id, q) = held(&app).await;
    let book = q.replace("/questionnaire/", "/book/");
    assert!(!app.get(&book).await.text().contains("/questionnaire/"));
    assert_eq!(app.get(&q).await.status, 404);

    // The clinician turns it on in the booking settings, once a test email proves that the
    // urgent notice reaches the notice address.
    confirm_notices_by_test_email(&mut c, &smtp, "inbox@practice.example").await;
    let csrf = c.csrf("/admin/booking").await;
    let r = c
        .post(
            "/admin/booking/questionnaire",
            &form_body(&[("csrf", &csrf), ("questionnaire", "on")]),
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text());
    let settings = c.get("/admin/booking").await.text();
    assert!(
        settings.contains(
            "id=\"questionnaire-on\" name=\"questionnaire\" type=\"radio\" value=\"on\" checked"
        ),
        "{settings}"
    );

    // Offered right after the time is held.
    let page = app.get(&book).await.text();
    assert!(page.contains(&format!("href=\"{q}\"")), "{page}");
    let start = app.get(&q).await;
    start.assert_shows(200, &format!("href=\"{q}/screening?q="));

    // Screening: the content's questions, each a fieldset with a legend.
    let screening = app.get(&format!("{q}/screening")).await.text();
    assert!(
        screening
            .contains("<legend class=\"legend\">Do you have, or have you had, heart problems or high blood pressure?</legend>"),
        "{screening}"
    );
    let r = post(
        &app,
        &format!("{q}/screening"),
        &[("s0", "yes"), ("s1", "no"), ("s3", "not_sure")],
    )
    .await;
    assert_eq!(r.status, 303);
    assert!(
        r.header("location")
            .is_some_and(|l| l.starts_with(&format!("{q}/medications?q=")))
    );

    // Stopping here keeps what was sent: coming back continues.
    let again = app.get(&q).await.text();
    assert!(
        again.contains("Continue where you stopped") && again.contains(&format!("{q}/medications")),
        "{again}"
    );
    let screening = app.get(&format!("{q}/screening")).await.text();
    assert!(screening.contains("id=\"s0-yes\" name=\"s0\" type=\"radio\" value=\"yes\" checked"));

    let r = post(
        &app,
        &format!("{q}/medications"),
        &[
            ("medications", MEDS_MARKER),
            ("prescriber", PRESCRIBER_MARKER),
        ],
    )
    .await;
    assert_eq!(r.status, 303);

    // The PHQ-9 with its published stem; item 9 answered "Several days".
    let phq = app.get(&format!("{q}/phq9")).await.text();
    assert!(phq.contains(
        "Over the last 2 weeks, how often have you been bothered by any of the following problems?"
    ));
    assert!(phq.contains(
        "9. Thoughts that you would be better off dead or of hurting yourself in some way"
    ));
    assert!(!phq.contains("You don’t have to carry this alone"));
    // With the attribution line its published form carries.
    let attribution = "Developed by Drs. Robert L. Spitzer, Janet B.W. Williams, Kurt Kroenke and colleagues, with an educational grant from Pfizer Inc.";
    assert!(phq.contains(attribution), "{phq}");
    let r = post_owned(
        &app,
        &format!("{q}/phq9"),
        &measure("phq9", &[2, 2, 2, 1, 1, 1, 1, 1, 1]),
    )
    .await;
    assert_eq!(r.status, 303);
    assert!(
        r.header("location")
            .is_some_and(|l| l.starts_with(&format!("{q}/gad7?q=")))
    );
    // The next page opens with the crisis resources.
    let gad = app.get(&format!("{q}/gad7")).await.text();
    let support = gad
        .find("You don’t have to carry this alone")
        .expect("crisis resources");
    let form = gad.find("<form").expect("the form");
    assert!(support < form, "the crisis resources come first");
    assert!(gad.contains(attribution));
    // With when the clinician will get in touch (the built-in 24 hours).
    assert!(
        gad.contains("will see your answers and get in touch with you within 24 hours"),
        "{gad}"
    );
    assert!(gad.contains("7. Feeling afraid as if something awful might happen"));
    // The GAD-7 with its own published stem, not the PHQ-9's.
    assert!(gad.contains(
        "Over the last 2 weeks, how often have you been bothered by the following problems?"
    ));
    assert!(!gad.contains("bothered by any of the following"));
    // Each measure closes with its published, unscored "how difficult" question.
    assert!(gad.contains(
        "If you checked off any problems, how difficult have these made it for you to do your work"
    ));
    assert!(phq.contains(
        "If you checked off any problems, how difficult have these problems made it for you"
    ));
    assert!(
        gad.contains(
            "id=\"gad7-difficulty-3\" name=\"gad7-difficulty\" type=\"radio\" value=\"3\""
        )
    );
    assert!(gad.contains(
        "<label class=\"radio-label\" for=\"gad7-difficulty-1\">Somewhat difficult</label>"
    ));
    assert!(
        gad.contains("href=\"tel:988\"") && gad.contains("href=\"tel:911\""),
        "{gad}"
    );

    // The clinician is emailed, marked urgent, with nothing but where to sign in.
    let urgent = wait_for_subject(&smtp, "Urgent: a questionnaire needs your attention");
    assert!(urgent.contains("Importance: high"), "{urgent}");
    assert!(urgent.contains("X-Priority: 1"), "{urgent}");
    assert!(
        urgent.contains(&format!("{}/admin/requests/{id}", app.url(""))),
        "{urgent}"
    );
    for word in ["PHQ", "item", "Oriel", "dead", "hurting", MEDS_MARKER] {
        assert!(
            !urgent.contains(word),
            "the urgent email says {word:?}: {urgent}"
        );
    }

    let mut gad7 = measure("gad7", &[3, 2, 2, 2, 2, 2, 2]);
    gad7.push(("gad7-difficulty".into(), "2".into()));
    let r = post_owned(&app, &format!("{q}/gad7"), &gad7).await;
    assert_eq!(r.status, 303);
    assert!(
        r.header("location")
            .is_some_and(|l| l.starts_with(&format!("{q}/done?q=")))
    );
    let done = app.get(&format!("{q}/done")).await.text();
    assert!(done.contains("Thank you") && done.contains("You don’t have to carry this alone"));

    // The inbox raises it at the top; the request shows scores, bands, answers and the chart.
    let inbox = c.get("/admin").await.text();
    let flag = inbox
        .find("id=\"needs-attention\"")
        .expect("needs attention");
    assert!(flag < inbox.find("<form class=\"filters\"").expect("filters"));
    assert!(
        flag < inbox.find("<h1>").expect("the heading"),
        "the alert is the first thing in the inbox"
    );
    let reference = app.stored_request(id).await.reference;
    assert!(inbox[flag..].contains(&reference));
    // Where and when the urgent notice went, in plain words (once the outbox recorded it).
    notice_attempted(&app, id, "sent").await;
    let page = c.get(&format!("/admin/requests/{id}")).await.text();
    assert!(
        page.contains("Urgent notice sent to inbox@practice.example at "),
        "{page}"
    );
    assert!(!page.contains("questionnaire_attention_notice"), "{page}");
    // Each item's answer is there for the clinician, not only the totals.
    assert!(
        page.contains("<summary>PHQ-9: the answer to each question</summary>")
            && page.contains("<summary>GAD-7: the answer to each question</summary>"),
        "{page}"
    );
    // The alert is the first thing on the request's page, before the person's details and the
    // booking's buttons, on every screen (the page's order, not only its style).
    let main = &page[page.find("<main").expect("the main part")..];
    let first = main[main.find('>').expect("the main tag") + 1..].trim_start();
    assert!(
        first.starts_with("<section class=\"attention-panel\" id=\"attention\""),
        "nothing comes before the alert: {first}"
    );
    let alert = page.find("id=\"attention\"").expect("the alert");
    for later in [
        "<h1>",
        "<dl class=\"details\">",
        "id=\"booking-title\"",
        "id=\"questionnaires-title\"",
    ] {
        assert!(
            alert < page.find(later).expect(later),
            "{later} comes first"
        );
    }
    assert!(
        page.contains("<dt>PHQ-9</dt><dd class=\"score\">12 — Moderate</dd>"),
        "{page}"
    );
    assert!(
        page.contains("<dt>GAD-7</dt><dd class=\"score\">15 — Severe</dd>"),
        "{page}"
    );
    assert!(page.contains("<dt>PHQ-9 item 9</dt><dd>Several days</dd>"));
    assert!(
        page.contains("<dt>GAD-7: how difficult daily life has been</dt><dd>Very difficult</dd>"),
        "{page}"
    );
    assert!(
        !page.contains("PHQ-9: how difficult"),
        "left unanswered, it is not shown"
    );
    assert!(page.contains(MEDS_MARKER) && page.contains(PRESCRIBER_MARKER));
    assert!(page.contains("Do you have, or have you had, heart problems or high blood pressure? <strong>Yes</strong> <span class=\"tag\">To discuss</span>"), "{page}");
    // "Not sure" is raised as "Yes" is; "No" is not.
    assert!(page.contains("Have you ever had bipolar disorder, or periods of mania? <strong>Not sure</strong> <span class=\"tag\">To discuss</span>"), "{page}");
    assert!(
        !page.contains("in the last month? <strong>No</strong> <span"),
        "{page}"
    );
    assert_eq!(points(&page, "phq9"), 1);
    assert!(page.contains("data-measure=\"PHQ-9\" data-value=\"12\""));
    assert!(
        page.contains("<td>12 (Moderate)</td><td>15 (Severe)</td>"),
        "{page}"
    );

    // The measures again, from the request's page: a signed link by email.
    let csrf = c.csrf(&format!("/admin/requests/{id}")).await;
    let r = c
        .post(&format!("/admin/requests/{id}/measures"), &form_body(&[]))
        .await;
    assert_eq!(r.status, 403, "the action needs the CSRF token");
    let r = c
        .post(
            &format!("/admin/requests/{id}/measures"),
            &form_body(&[("csrf", &csrf)]),
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text());
    let mail = wait_for_subject(&smtp, "Two short questionnaires");
    assert!(mail.contains("To: person@example.com"), "{mail}");
    let link = questionnaire_link(&app, &mail);
    let intro = app.get(&link).await.text();
    assert!(
        intro.contains("Two short questionnaires") && intro.contains(&format!("{link}/phq9")),
        "{link}: {intro}"
    );
    assert_eq!(
        app.get(&format!("{link}/screening")).await.status,
        404,
        "the measures only"
    );
    answer(&app, &link, "phq9", &[1, 1, 1, 1, 0, 0, 0, 0, 0]).await;
    assert!(
        !app.get(&format!("{link}/gad7"))
            .await
            .text()
            .contains("carry this alone")
    );
    let r = post_owned(
        &app,
        &format!("{link}/gad7"),
        &measure("gad7", &[1, 1, 1, 1, 1, 1, 1]),
    )
    .await;
    assert_eq!(r.status, 303);
    let page = c.get(&format!("/admin/requests/{id}")).await.text();
    assert_eq!(points(&page, "phq9"), 2, "a second point");
    assert_eq!(points(&page, "gad7"), 2);
    assert!(page.contains("class=\"chart-line chart-line-phq9\""));
    assert!(
        page.contains("<td>4 (Minimal)</td><td>7 (Mild)</td>"),
        "{page}"
    );

    // Followed up: no longer at the top of the inbox.
    follow_up(&mut c, id, FOLLOW_UP_MARKER).await;
    // The note is in the request's history, by who wrote it.
    let page = c.get(&format!("/admin/requests/{id}")).await.text();
    let line = page
        .find("questionnaire: followed up")
        .expect("the history line");
    assert!(
        page[line..].contains(&format!("<p class=\"message\">{FOLLOW_UP_MARKER}</p>")),
        "{page}"
    );
    assert!(
        !c.get("/admin")
            .await
            .text()
            .contains("id=\"needs-attention\"")
    );

    // The audit log names the request, never an answer.
    let (rows, _) = app.state.store.audit_log(100, 0).await.expect("audit");
    assert!(
        rows.iter()
            .any(|r| r.action == "measures_sent" && r.request_id == Some(id))
    );
    assert!(rows.iter().any(|r| r.action == "questionnaires_turned_on"));

    // The export carries the answers and scores.
    let csrf = c.csrf("/admin").await;
    let export = c
        .post(
            "/admin/export",
            &form_body(&[("csrf", &csrf), ("scope", "all")]),
        )
        .await
        .text();
    assert!(
        export.contains("questionnaires") && export.contains("\"\"phq9_total\"\":12"),
        "{export}"
    );
    assert!(export.contains(MEDS_MARKER));
    assert!(
        export.contains("\"\"gad7_difficulty\"\":\"\"Very difficult\"\""),
        "{export}"
    );

    // Every email has left: the markers are in none, in no log line, and nowhere at rest.
    let deadline = std::time::Instant::now() + crate::common::PATIENCE;
    while app.mail_pending().await > 0 {
        assert!(std::time::Instant::now() < deadline, "mail still pending");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let messages: Vec<String> = smtp.messages().iter().map(|m| unfold(m)).collect();
    assert!(messages.len() >= 4, "{}", messages.len());
    let log = String::from_utf8_lossy(&logs.lock().expect("logs")).into_owned();
    assert!(
        log.contains("path=/questionnaire/…/gad7"),
        "the log holds the server's lines"
    );
    // The urgent notice was sent and logged, but as mail to the practice, not by its kind.
    let outbox_lines: Vec<&str> = log.lines().filter(|l| l.contains("mail::outbox")).collect();
    assert!(
        outbox_lines
            .iter()
            .any(|l| l.contains("mail sent") && l.contains("kind=\"practice_notice\"")),
        "{outbox_lines:?}"
    );
    for line in &outbox_lines {
        assert!(
            !line.contains("questionnaire_attention"),
            "the log names the urgent notice's kind: {line}"
        );
    }
    for token in [
        q.trim_start_matches("/questionnaire/"),
        link.trim_start_matches("/questionnaire/"),
    ] {
        assert!(
            !log.contains(token),
            "a link's token is a key: it is not logged"
        );
    }
    for marker in [
        MEDS_MARKER,
        PRESCRIBER_MARKER,
        "quetiapine",
        "Marker-presc",
        "followup-marker",
    ] {
        for m in &messages {
            assert!(!m.contains(marker), "an email holds {marker:?}: {m}");
        }
        assert!(!log.contains(marker), "the log holds {marker:?}");
    }
    at_rest_nowhere(
        &app,
        id,
        &[MEDS_MARKER, PRESCRIBER_MARKER, FOLLOW_UP_MARKER],
    )
    .await;

    // Deleting the request deletes its questionnaires.
    let csrf = c.csrf(&format!("/admin/requests/{id}/delete")).await;
    let r = c
        .post(
            &format!("/admin/requests/{id}/delete"),
            &form_body(&[("csrf", &csrf)]),
        )
        .await;
    assert_eq!(r.status, 303);
    assert!(questionnaires(&app, id).await.is_empty());
    assert!(
        app.database_blobs(
            "SELECT answers_sealed FROM questionnaires WHERE answers_sealed IS NOT NULL"
        )
        .await
        .is_empty()
    );
}

/// The database holds none of `markers`: on SQLite, not in any byte of its files; on either
/// engine, not in any sealed answer, history or audit detail.
async fn at_rest_nowhere(app: &TestApp, id: i64, markers: &[&str]) {
    let answers = app
        .database_blobs(
            "SELECT answers_sealed FROM questionnaires WHERE answers_sealed IS NOT NULL",
        )
        .await;
    assert!(!answers.is_empty(), "answers are stored");
    let notes = app
        .database_blobs("SELECT note_sealed FROM request_history WHERE note_sealed IS NOT NULL")
        .await;
    assert!(!notes.is_empty(), "the follow-up's note is stored");
    let (audit, _) = app.state.store.audit_log(1000, 0).await.expect("audit");
    let history = app.state.store.history(id).await.expect("history");
    let text: Vec<Vec<u8>> = audit
        .iter()
        .map(|r| r.detail.clone().unwrap_or_default().into_bytes())
        .chain(
            history
                .iter()
                .map(|h| h.detail.clone().unwrap_or_default().into_bytes()),
        )
        .collect();
    assert!(!history.is_empty());
    if app.overrides.database_url.is_none() {
        let data = app.data_dir.path().join("data");
        for entry in std::fs::read_dir(&data).expect("data dir").flatten() {
            let bytes = std::fs::read(entry.path()).unwrap_or_default();
            for m in markers {
                assert!(
                    !crate::common::at_rest::holds(&bytes, m),
                    "{m:?} is in {} as written",
                    entry.path().display()
                );
            }
        }
    }
    for blob in answers.iter().chain(&notes).chain(&text) {
        for m in markers {
            assert!(
                !crate::common::at_rest::holds(blob, m),
                "{m:?} stored in plain"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_answers_are_explained_and_only_genuine_links_open() {
    let (_dir, smtp, app) = offering().await;
    let (_, q) = held(&app).await;

    // The email about the held time carries the questionnaire's signed link too.
    let held_mail = wait_for_subject(&smtp, "Your consultation time is held");
    let emailed = questionnaire_link(&app, &held_mail);
    let start = app.get(&emailed).await;
    start.assert_shows(200, "A few questions before we meet");

    // An answer that is not one of the four choices: the GOV.UK error pattern, nothing saved.
    let r = post(
        &app,
        &format!("{q}/phq9"),
        &[("phq9-0", "7"), ("phq9-1", "2"), ("phq9-difficulty", "4")],
    )
    .await;
    assert_eq!(r.status, 422);
    let html = r.text();
    assert!(html.contains("There is a problem"), "{html}");
    assert!(
        html.contains("href=\"#phq9-0-0\">Choose one of the four answers for question 1</a>"),
        "{html}"
    );
    assert!(
        html.contains(
            "href=\"#phq9-difficulty-0\">Choose one of the four answers for the last question</a>"
        ),
        "{html}"
    );
    assert!(html.contains("<title>Error:"));
    assert!(
        html.contains("id=\"phq9-1-2\" name=\"phq9-1\" type=\"radio\" value=\"2\" checked"),
        "what was chosen stays chosen"
    );
    let long = "x".repeat(2001);
    let r = post(&app, &format!("{q}/medications"), &[("medications", &long)]).await;
    r.assert_shows(422, "Your medications must be 2,000 characters or fewer");
    let r = post(&app, &format!("{q}/screening"), &[("s0", "perhaps")]).await;
    r.assert_shows(422, "Choose yes, no or not sure for question 1");
    let r = post(
        &app,
        &format!("{q}/screening"),
        &[("s0", "yes"), ("s0", "no")],
    )
    .await;
    r.assert_shows(400, "was sent more than once");
    assert_eq!(app.get(&format!("{q}/elsewhere")).await.status, 404);

    // Nothing was saved by those, and no flag or email came of them.
    assert!(needing_attention(&app).await.is_empty());

    // Altered, foreign or expired links open nothing.
    let mut altered = q.clone();
    let last = altered.pop().expect("a character");
    altered.push(if last == '0' { '1' } else { '0' });
    assert_eq!(app.get(&altered).await.status, 404);
    assert_eq!(app.get("/questionnaire/not-a-token").await.status, 404);
    let id = newest_request(&app).await;
    let old = link_to(&app, id, Timestamp::now() - SignedDuration::from_hours(1)).await;
    let r = app.get(&old.replace("/book/", "/questionnaire/")).await;
    r.assert_shows(410, "This link has expired");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_deletes_questionnaires_with_their_request() {
    let (_dir, _smtp, app) = offering().await;
    let (id, q) = held(&app).await;
    answer(&app, &q, "phq9", &[0; 9]).await;
    assert_eq!(questionnaires(&app, id).await.len(), 1);
    let now = Timestamp::now();
    app.state
        .store
        .change_status(
            id,
            practice::status::StatusChange::parse("closed", "not_a_fit").expect("a change"),
            "test",
            false,
            now,
        )
        .await
        .expect("closed");
    let purged = app
        .state
        .store
        .purge(
            &store::Cutoffs {
                closed: now + SignedDuration::from_secs(1),
                consulted: now,
                spam: now,
            },
            now,
        )
        .await
        .expect("purge");
    assert_eq!(purged, [id]);
    assert!(questionnaires(&app, id).await.is_empty());
}

/// How many emails with a subject starting `subject` have arrived, waiting up to a while for
/// `at_least` of them.
fn count_subject(smtp: &SmtpServer, subject: &str, at_least: usize) -> usize {
    let deadline = std::time::Instant::now() + crate::common::PATIENCE;
    loop {
        let n = smtp
            .messages()
            .iter()
            .filter(|m| m.contains(&format!("Subject: {subject}")))
            .count();
        if n >= at_least || std::time::Instant::now() >= deadline {
            return n;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_higher_item_nine_after_a_follow_up_needs_attention_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let smtp = SmtpServer::start(dir.path());
    let app = start(&smtp).await;
    let mut c = Clinician::signed_in(&app).await;
    offer_questionnaires(&app).await;
    let (id, q) = held(&app).await;
    const URGENT: &str = "Urgent: a questionnaire needs your attention";
    let flagged = |items: Vec<store::AttentionItem>| items.iter().any(|a| a.request_id == id);

    answer(&app, &q, "phq9", &[0, 0, 0, 0, 0, 0, 0, 0, 1]).await;
    assert_eq!(count_subject(&smtp, URGENT, 1), 1);
    assert!(flagged(needing_attention(&app).await));

    // The clinician follows it up.
    follow_up(&mut c, id, "Spoke with them by phone.").await;
    assert!(!flagged(needing_attention(&app).await));

    // The same answer sent again raises nothing new.
    answer(&app, &q, "phq9", &[1, 0, 0, 0, 0, 0, 0, 0, 1]).await;
    assert!(!flagged(needing_attention(&app).await));

    // A higher item 9: flagged again at the top of the inbox, and a second urgent email.
    answer(&app, &q, "phq9", &[1, 0, 0, 0, 0, 0, 0, 0, 3]).await;
    assert!(flagged(needing_attention(&app).await));
    let inbox = c.get("/admin").await.text();
    assert!(inbox.contains("id=\"needs-attention\""), "{inbox}");
    assert_eq!(count_subject(&smtp, URGENT, 2), 2);
}

/// The address a page's form sends to.
fn action_of(html: &str) -> String {
    let at = html.find("action=\"").expect("a form") + "action=\"".len();
    html[at..].chars().take_while(|c| *c != '"').collect()
}

/// The confirmation does not invite a person to a questionnaire they already finished.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_questionnaire_is_not_offered_again_in_the_confirmation() {
    let (_dir, smtp, app) = offering().await;
    let (id, q) = held(&app).await;
    let held_mail = unfold(&wait_for_subject(&smtp, "Your consultation time is held"));
    assert!(held_mail.contains("Before we meet"), "{held_mail}");

    // Every page of the intake, to its end.
    let screening = app.get(&format!("{q}/screening")).await.text();
    let r = post(&app, &action_of(&screening), &[("s0", "no")]).await;
    let meds = app.get(r.header("location").expect("next")).await.text();
    let r = post(
        &app,
        &action_of(&meds),
        &[("medications", "none"), ("prescriber", "")],
    )
    .await;
    let phq = app.get(r.header("location").expect("next")).await.text();
    let r = post_owned(&app, &action_of(&phq), &measure("phq9", &[0; 9])).await;
    let gad = app.get(r.header("location").expect("next")).await.text();
    let r = post_owned(&app, &action_of(&gad), &measure("gad7", &[0; 7])).await;
    assert_eq!(r.status, 303);
    let qs = questionnaires(&app, id).await;
    assert!(qs[0].completed_at.is_some(), "the intake is finished");

    crate::common::reminders::confirm(&app, id).await;
    let confirmed = unfold(&wait_for_subject(&smtp, "Your consultation is confirmed"));
    assert!(confirmed.contains("How to join"), "{confirmed}");
    assert!(!confirmed.contains("Before we meet"), "{confirmed}");
    assert!(!confirmed.contains("/questionnaire/"), "{confirmed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unfinished_intake_goes_on_after_the_measures_are_sent_again() {
    let (_dir, _smtp, app) = offering().await;
    let (id, q) = held(&app).await;

    // Half the intake: screening sent, the medications page open in the person's browser.
    let screening = app.get(&format!("{q}/screening")).await.text();
    let r = post(&app, &action_of(&screening), &[("s0", "yes")]).await;
    assert_eq!(r.status, 303);
    let medications = r.header("location").expect("next").to_string();
    let page = app.get(&medications).await.text();
    assert!(page.contains("Your medications"), "{page}");

    // Meanwhile the clinician sends the measures again.
    assert!(send_measures(&app, id).await);

    // The open page still saves into the intake, and the intake goes on to its end.
    let r = post(
        &app,
        &action_of(&page),
        &[("medications", "none"), ("prescriber", "")],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text());
    let phq = app.get(r.header("location").expect("next")).await;
    phq.assert_shows(200, "Part 3 of 4");
    let phq9 = [1, 1, 1, 1, 1, 1, 1, 1, 0];
    let r = post_owned(&app, &action_of(&phq.text()), &measure("phq9", &phq9)).await;
    assert_eq!(r.status, 303);
    let gad = app.get(r.header("location").expect("next")).await.text();
    assert!(gad.contains("Part 4 of 4"), "{gad}");
    let r = post_owned(&app, &action_of(&gad), &measure("gad7", &[2; 7])).await;
    assert_eq!(r.status, 303);
    let done = app.get(r.header("location").expect("next")).await.text();
    assert!(done.contains("Thank you"), "{done}");

    let qs = questionnaires(&app, id).await;
    assert_eq!(qs.len(), 2);
    let (intake, again) = (&qs[0], &qs[1]);
    assert_eq!(intake.kind.as_str(), "intake");
    assert!(intake.completed_at.is_some());
    assert_eq!(intake.answers.medications.as_deref(), Some("none"));
    assert_eq!(intake.answers.phq9, phq9.map(Some).to_vec());
    assert_eq!(intake.answers.gad7, vec![Some(2); 7]);
    assert_eq!(intake.answers.screening.len(), 1);
    assert_eq!(again.kind.as_str(), "measures");
    assert!(again.completed_at.is_none());
    assert!(again.answers.phq9.is_empty() && again.answers.gad7.is_empty());

    // The link itself opens the new measures, whose pages save into them.
    let intro = app.get(&q).await.text();
    assert!(intro.contains("Two short questionnaires"), "{intro}");
    let r = post_owned(
        &app,
        &format!("{q}/phq9?q={}", again.id),
        &measure("phq9", &[0; 9]),
    )
    .await;
    assert_eq!(r.status, 303);
    let qs = questionnaires(&app, id).await;
    assert_eq!(qs[1].answers.phq9, vec![Some(0); 9]);
    assert_eq!(
        qs[0].answers.phq9,
        phq9.map(Some).to_vec(),
        "the intake kept"
    );

    // A questionnaire that is not this link's, or no number at all: not found, plainly said.
    app.submitted("Tamsin Orchard", &[]).await;
    let other = app.other_request_id(id).await;
    assert!(send_measures(&app, other).await);
    let foreign = questionnaires(&app, other).await[0].id;
    for bad in [
        format!("{q}/phq9?q={foreign}"),
        format!("{q}/phq9?q=first"),
        format!("{q}/gad7?q={}&q={}", again.id, foreign),
    ] {
        let r = app.get(&bad).await;
        assert_eq!(r.status, 404, "{bad}");
        assert!(
            r.text().contains("This questionnaire was not found"),
            "{bad}"
        );
        let r = post_owned(&app, &bad, &measure("phq9", &[3; 9])).await;
        assert_eq!(r.status, 404, "{bad}");
    }
    assert_eq!(app.get(&format!("{q}?q=-1")).await.status, 404);
    assert!(questionnaires(&app, other).await[0].answers.phq9.is_empty());
    assert!(needing_attention(&app).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_pages_saved_from_two_tabs_both_keep_their_answers() {
    use practice::questionnaire::Page;
    let (_dir, _smtp, app) = offering().await;
    let (id, q) = held(&app).await;
    assert_eq!(app.get(&q).await.status, 200, "the intake is created");
    let store = &app.state.store;

    // Two tabs read the questionnaire as it stands, then each saves a different page.
    let tab_a = store.questionnaires(id).await.expect("read").remove(0);
    let tab_b = store.questionnaires(id).await.expect("read").remove(0);
    let mut a = tab_a.answers.clone();
    a.phq9 = vec![Some(2); 9];
    a.phq9[8] = Some(0);
    let mut b = tab_b.answers.clone();
    b.gad7 = vec![Some(1); 7];
    b.medications = Some("not this page's".into());
    store
        .save_page(tab_a.id, id, Page::Phq9, &a, Timestamp::now())
        .await
        .expect("saved")
        .expect("found");
    store
        .save_page(tab_b.id, id, Page::Gad7, &b, Timestamp::now())
        .await
        .expect("saved")
        .expect("found");
    let now = store.questionnaires(id).await.expect("read").remove(0);
    assert_eq!(now.answers.phq9, a.phq9, "the first tab's page is kept");
    assert_eq!(now.answers.gad7, b.gad7);
    assert_eq!(now.answers.medications, None, "only the page sent is taken");
    assert!(now.answers.sent(Page::Phq9) && now.answers.sent(Page::Gad7));
    assert!(now.completed_at.is_some(), "the last page was sent");

    // The same over HTTP, many pairs at once: every page keeps its answers.
    let (id2, q2) = {
        app.submitted("Wren Halloway", &[]).await;
        let id2 = app.other_request_id(id).await;
        let book = link_to(&app, id2, Timestamp::now() + SignedDuration::from_hours(24)).await;
        (id2, book.replace("/book/", "/questionnaire/"))
    };
    assert_eq!(app.get(&q2).await.status, 200);
    for round in 0..10u8 {
        let v = round % 4;
        let phq = measure("phq9", &[v, v, v, v, v, v, v, v, 0]);
        let gad = measure("gad7", &[v; 7]);
        let meds = [("medications".to_string(), format!("round {round}"))];
        let (p1, p2, p3) = (
            format!("{q2}/phq9"),
            format!("{q2}/gad7"),
            format!("{q2}/medications"),
        );
        let (r1, r2, r3) = tokio::join!(
            post_owned(&app, &p1, &phq),
            post_owned(&app, &p2, &gad),
            post_owned(&app, &p3, &meds),
        );
        assert_eq!((r1.status, r2.status, r3.status), (303, 303, 303));
        let now = store.questionnaires(id2).await.expect("read").remove(0);
        assert_eq!(now.answers.phq9[0], Some(v), "round {round}");
        assert_eq!(now.answers.gad7, vec![Some(v); 7], "round {round}");
        assert_eq!(
            now.answers.medications.as_deref(),
            Some(format!("round {round}").as_str())
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_questionnaire_is_offered_only_while_its_urgent_notice_is_known_to_arrive() {
    // Without email, it cannot be turned on, no test can be sent, and it is never offered.
    let quiet = TestApp::start().await;
    quiet.add_clinician().await;
    let mut c = Clinician::signed_in(&quiet).await;
    let settings = c.get("/admin/booking").await.text();
    assert!(
        settings.contains("This website sends no email, so the questionnaire cannot be offered"),
        "{settings}"
    );
    let r = turn_on(&mut c).await;
    r.assert_shows(409, "this website sends no email");
    let r = c
        .action("/admin/booking", "/admin/booking/questionnaire/test", &[])
        .await;
    assert_eq!(r.status, 409, "{}", r.text());
    quiet
        .state
        .store
        .set_questionnaires_offered(true, "test", Timestamp::now())
        .await
        .expect("on");
    assert!(!quiet.state.questionnaires_offered().await.expect("read"));
    // The privacy notice says so, and promises no email.
    let privacy = quiet.get("/privacy").await.text();
    assert!(
        privacy.contains("This website sends no emails")
            && privacy.contains("The practice does not offer a questionnaire on this website"),
        "{privacy}"
    );
    assert!(!privacy.contains("asking me to sign in"), "{privacy}");

    // With email: where notices go follows the practice's email (no `notify_email`).
    let dir = tempfile::tempdir().expect("tempdir");
    let smtp = SmtpServer::start(dir.path());
    let app = start_on(&format!(
        "[contact_form]\nrate_limit_per_hour = 200\n\n[mail]\nsmtp_url = \"smtp://127.0.0.1:{}\"\nretry_base_seconds = 1\nretry_max_seconds = 1\n",
        smtp.port
    ))
    .await;
    let mut c = Clinician::signed_in(&app).await;
    confirm_notices_by_test_email(&mut c, &smtp, "hello@example.com").await;
    let r = turn_on(&mut c).await;
    assert_eq!(r.status, 303, "{}", r.text());
    let (_, q) = held(&app).await;
    let book = q.replace("/questionnaire/", "/book/");
    assert!(
        app.get(&book)
            .await
            .text()
            .contains(&format!("href=\"{q}\""))
    );

    // The practice's email changes in the browser: notices go there now, unconfirmed, so the
    // questionnaire is no longer offered until a test to the new address is confirmed.
    let mut fields = crate::common::details::SAVED.to_vec();
    fields.push(("version", "0"));
    let r = c.action("/admin/details", "/admin/details", &fields).await;
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(
        app.state.notices_to().as_deref(),
        Some("sam@harborlight.org")
    );
    assert!(!app.state.questionnaires_offered().await.expect("read"));
    assert!(!app.get(&book).await.text().contains("/questionnaire/"));
    assert_eq!(app.get(&q).await.status, 404, "the link opens nothing new");
    let settings = c.get("/admin/booking").await.text();
    assert!(
        settings.contains("The questionnaire is on but not offered until a test is confirmed"),
        "{settings}"
    );
    confirm_notices_by_test_email(&mut c, &smtp, "sam@harborlight.org").await;
    assert!(app.state.questionnaires_offered().await.expect("read"));
    assert!(
        app.get(&book)
            .await
            .text()
            .contains(&format!("href=\"{q}\""))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clinician_is_told_when_the_urgent_notice_does_not_go_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut smtp = SmtpServer::start(dir.path());
    let app = start(&smtp).await;
    offer_questionnaires(&app).await;
    let mut c = Clinician::signed_in(&app).await;
    let (id, q) = held(&app).await;

    // The mail server stops; then item 9 is answered above "Not at all".
    smtp.stop();
    answer(&app, &q, "phq9", &[0, 0, 0, 0, 0, 0, 0, 0, 2]).await;
    notice_attempted(&app, id, "pending").await;
    let said = "Urgent notice has not gone out yet: cannot reach the mail server. Trying again at ";
    let inbox = c.get("/admin").await.text();
    let flag = inbox.find("id=\"needs-attention\"").expect("the alert");
    assert!(inbox[flag..].contains(said), "{inbox}");
    let page = c.get(&format!("/admin/requests/{id}")).await.text();
    assert!(
        page.contains(&format!(
            "<p id=\"attention-notice\" class=\"error-message\"><strong>{said}"
        )),
        "{page}"
    );

    // The mail server is back: the notice leaves, and the page says where and when.
    let again = SmtpServer::start_on(smtp.port, &dir.path().join("after"));
    wait_for_subject(&again, "Urgent: a questionnaire needs your attention");
    notice_attempted(&app, id, "sent").await;
    let inbox = c.get("/admin").await.text();
    assert!(
        inbox.contains("Urgent notice sent to inbox@practice.example at "),
        "{inbox}"
    );
    assert!(!inbox.contains("has not gone out"), "{inbox}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_person_is_told_when_the_clinician_will_get_in_touch() {
    let (_dir, _smtp, app) = offering().await;
    let mut c = Clinician::signed_in(&app).await;

    // The clinician sets the time frame in the practice details; a wrong one is explained.
    let mut fields = crate::common::details::SAVED.to_vec();
    fields.extend([("version", "0"), ("urgent_reply_hours", "0")]);
    let r = c.action("/admin/details", "/admin/details", &fields).await;
    r.assert_shows(
        422,
        "urgent_reply_hours must be a whole number of hours from 1 to 72",
    );
    fields.pop();
    fields.push(("urgent_reply_hours", "6"));
    let r = c.action("/admin/details", "/admin/details", &fields).await;
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(app.state.config().form.urgent_reply_hours, 6);
    let settings = c.get("/admin/booking").await.text();
    assert!(
        settings.contains("The person is told you will get in touch within 6 hours"),
        "{settings}"
    );

    // The crisis resources say it, and so does the privacy notice.
    let (_, q) = held_with(&app, &[("state", "NY")]).await;
    answer(&app, &q, "phq9", &[0, 0, 0, 0, 0, 0, 0, 0, 1]).await;
    let gad = app.get(&format!("{q}/gad7")).await.text();
    assert!(
        gad.contains("will see your answers and get in touch with you within 6 hours"),
        "{gad}"
    );
    let done = app.get(&format!("{q}/done")).await.text();
    assert!(done.contains("within 6 hours"), "{done}");
    let deadline = std::time::Instant::now() + crate::common::PATIENCE;
    loop {
        let privacy = app.get("/privacy").await.text();
        if privacy.contains("I will get in touch with you within 6 hours") {
            assert!(!privacy.contains("This website sends no emails"));
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the privacy notice does not say it: {privacy}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_not_followed_up_in_time_sends_one_more_urgent_notice() {
    use crate::common::reminders::{deliver_at, outbox_to};

    let (_dir, smtp, app) = offering().await;
    let mut c = Clinician::signed_in(&app).await;
    let raised = Timestamp::now();
    let (id, q) = held(&app).await;
    answer(&app, &q, "phq9", &[0, 0, 0, 0, 0, 0, 0, 0, 3]).await;
    // Another alert, followed up in time: it sends nothing more.
    let (done, q2) = held(&app).await;
    answer(&app, &q2, "phq9", &[0, 0, 0, 0, 0, 0, 0, 0, 1]).await;
    follow_up(&mut c, done, "Spoke with them by phone.").await;
    let page = c.get(&format!("/admin/requests/{id}")).await.text();
    assert!(
        page.contains("The person was told you will get in touch within 24 hours: by "),
        "{page}"
    );

    // Within the 24 hours the person was told, nothing; once they pass, one more notice, once.
    let hours = |h: i64| SignedDuration::from_hours(h);
    assert_eq!(look(&app, raised + hours(23)).await, 0);
    let later = Timestamp::now() + hours(24) + SignedDuration::from_mins(1);
    assert_eq!(look(&app, later).await, 1);
    assert_eq!(look(&app, later + hours(1)).await, 0);
    assert_eq!(look(&app, later + hours(48)).await, 0);
    let outbox = outbox_to(&app, &smtp);
    deliver_at(&app, &outbox, later).await;
    let second = wait_for_subject(
        &smtp,
        "Urgent, not yet followed up: a questionnaire needs your attention",
    );
    assert!(second.contains("Importance: high"), "{second}");
    assert!(
        unfold(&second).contains(&format!("{}/admin/requests/{id}", app.url(""))),
        "{second}"
    );
    for word in ["PHQ", "item", "Oriel", "dead", "hurting"] {
        assert!(!second.contains(word), "the email says {word:?}: {second}");
    }
    let overdue: Vec<String> = smtp
        .messages()
        .into_iter()
        .filter(|m| m.contains("Subject: Urgent, not yet followed up"))
        .collect();
    assert_eq!(
        overdue.len(),
        1,
        "one more notice, for the alert not followed up"
    );

    // The inbox and the request's history say it.
    let inbox = c.get("/admin").await.text();
    assert!(
        inbox.contains("Second urgent notice sent to inbox@practice.example at "),
        "{inbox}"
    );
    let history = app.state.store.history(id).await.expect("history");
    assert!(
        history
            .iter()
            .any(|h| h.detail.as_deref() == Some("not followed up in time: second urgent notice")),
        "{history:?}"
    );
}
