//! The practice's details as the clinician saves them in the inbox, and the mail that shows
//! them (the practice in force, on one server or several).

use serde_json::Value;

use super::SmtpServer;
use super::booking::python_read;
use super::clinician::Clinician;

/// The details the clinician saves in the inbox (the config file names no practice).
pub const SAVED: &[(&str, &str)] = &[
    ("name", "Harbor Light"),
    ("clinician_name", "Sam Rivera"),
    ("credentials", "LCSW"),
    ("licensed_states", "NY"),
    ("email", "sam@harborlight.org"),
    ("phone", "(212) 555-0147"),
    ("city", "Brooklyn, New York"),
    ("time_zone", "America/New_York"),
    ("accent_color", "#1d4e6b"),
    ("reply_time", "within one business day"),
    ("crisis_call", ""),
    ("crisis_call_name", ""),
    ("crisis_text", "741741"),
    ("crisis_text_keyword", "HOME"),
    ("crisis_text_name", "Crisis Text Line"),
    ("emergency_number", "112"),
];

/// The details form's fields as a new practice saves them (the config file names none).
pub fn new_practice() -> Vec<(&'static str, &'static str)> {
    vec![
        ("name", "Harbor Light Therapy"),
        ("clinician_name", "Sam Rivera"),
        ("credentials", "LMFT"),
        ("licensed_states", "NY, nj"),
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
    ]
}

pub const SENDER: &str = "Harbor Light <sam@harborlight.org>";

/// What the built-in example practice would have said.
pub const EXAMPLE: &[&str] = &[
    "Clearwater",
    "Jordan Ellis",
    "hello@example.com",
    "010-0100",
    "call or text 988",
    "call 911",
];

/// Mail on, no `[practice]`, no `mail.notify_email` and no `mail.from`: where notices go and
/// whom they come from follow the practice's email.
pub fn config(smtp_port: u16) -> String {
    format!(
        "[contact_form]\nrate_limit_per_hour = 200\nacknowledge = true\n\n[mail]\nsmtp_url = \"smtp://127.0.0.1:{smtp_port}\"\nretry_base_seconds = 1\nretry_max_seconds = 1\n"
    )
}

/// An SMTP server, and the practice of [`config`] mailing through it with the clinician's
/// account (the folder holds the mail: keep it while they run).
pub async fn practice_with_mail() -> (tempfile::TempDir, SmtpServer, super::TestApp) {
    let dir = tempfile::tempdir().expect("tempdir");
    let smtp = SmtpServer::start(dir.path());
    let app = super::TestApp::with_config(&config(smtp.port)).await;
    app.add_clinician().await;
    (dir, smtp, app)
}

/// Saves [`SAVED`] through the details form, as the clinician does in the browser.
pub async fn save_details(c: &mut Clinician<'_>) {
    save_first(c, SAVED).await;
}

/// Saves `fields` as the practice's first details (version 0) in the inbox.
pub async fn save_first(c: &mut Clinician<'_>, fields: &[(&str, &str)]) {
    let mut fields = fields.to_vec();
    fields.push(("version", "0"));
    let r = c.action("/admin/details", "/admin/details", &fields).await;
    assert_eq!(r.status, 303, "{}", r.text());
}

/// Sends the details form from a page of `version` with [`new_practice`]'s fields and
/// `changes` (each replacing the field of its name, or added).
pub async fn send_details(
    c: &mut Clinician<'_>,
    changes: &[(&str, &str)],
    version: &str,
) -> super::Reply {
    let mut fields = new_practice();
    fields.retain(|(k, _)| changes.iter().all(|(changed, _)| changed != k));
    fields.extend_from_slice(changes);
    fields.push(("version", version));
    c.action("/admin/details", "/admin/details", &fields).await
}

/// Every message that arrived, as Python reads it, once one of each of `subjects` has.
pub fn all_mail(smtp: &SmtpServer, subjects: &[&str]) -> Vec<(Value, String)> {
    // Subjects read here; Python reads the messages once they are all in.
    let arrived = super::patiently_blocking(|| {
        let arrived = smtp.subjects();
        let missing: Vec<&&str> = subjects
            .iter()
            .filter(|s| !arrived.iter().any(|(t, _)| t.starts_with(**s)))
            .collect();
        match missing.is_empty() {
            true => Ok(arrived),
            false => Err(format!("no email {missing:?} arrived")),
        }
    });
    arrived
        .into_iter()
        .map(|(_, raw)| (python_read(&raw, "mail"), raw))
        .collect()
}

pub fn with_subject<'a>(mail: &'a [(Value, String)], subject: &str) -> &'a Value {
    &mail
        .iter()
        .find(|(m, _)| {
            m["subject"]
                .as_str()
                .is_some_and(|s| s.starts_with(subject))
        })
        .unwrap_or_else(|| panic!("no email \"{subject}\""))
        .0
}

pub fn text_of(m: &Value) -> String {
    m["text"].as_str().unwrap_or("").replace('\n', " ")
}

/// The text of the person's acknowledgement in `mail`, sent in the saved practice's name and
/// naming the saved clinician and reply time.
pub fn acknowledgement_in_saved_words(mail: &[(Value, String)]) -> String {
    let ack = text_of(with_subject(
        mail,
        "We received your message - Harbor Light",
    ));
    assert!(
        ack.contains("Sam Rivera, LCSW will reply within one business day"),
        "{ack}"
    );
    ack
}

/// The notice of the request just sent goes to the saved email in the saved name, and the
/// person's acknowledgement names the saved clinician and crisis numbers, nothing of the example.
pub fn the_next_request_is_announced_as_saved(smtp: &SmtpServer) {
    let mail = all_mail(
        smtp,
        &["New consultation request", "We received your message"],
    );
    let notice = with_subject(&mail, "New consultation request");
    assert_eq!(notice["to"], "sam@harborlight.org");
    assert_eq!(notice["from"], SENDER);
    let ack = acknowledgement_in_saved_words(&mail);
    assert!(
        ack.contains("text HOME to 741741 (Crisis Text Line), or call 112"),
        "{ack}"
    );
    for (_, raw) in &mail {
        for leak in EXAMPLE {
            assert!(!raw.contains(leak), "an email says {leak:?}");
        }
    }
}
