//! Email: what the practice is sent, and how it leaves.
//!
//! Mail is never sent from a request handler. A request writes an outbox row in the same
//! transaction as the data it is about; the [`outbox`] worker sends it afterwards, retries with
//! backoff, and marks it sent only once the SMTP server has accepted it. No email carries a
//! personal or health detail: the practice is told that a request arrived and where to read it;
//! the person (if acknowledgements are on) is told that it arrived, with no echo of what they wrote.
//! Emails about a consultation booking are written in [`booking`], about questionnaires in
//! [`questionnaire`].
//!
//! A crate of its own on the rules, the practice in force, the store and the signed links: it
//! must never know of the web (no axum, no pages, no web state). Its workers get what they need
//! passed in (the store, the practice in force, the outbox's wake-up) and run under the
//! server's [`workers::Workers`].

pub mod booking;
mod claimed;
mod documents;
/// The outbox's words, which the store reads and writes too: kept with the practice's rules
/// (`crates/practice/src/mail.rs`), below the store.
use practice::mail as kinds;
pub mod outbox;
pub mod password_reset;
pub mod questionnaire;
pub mod reminders;

pub use claimed::{
    BookingNotice, ClaimedMail, Joining, Mail, Offers, RequestLink, ToPerson, Unsendable,
};
pub use kinds::{BookingMail, Delivery, MailKind, OutboxStatus};

use jiff::Timestamp;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Attachment, Body, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::AsyncSmtpTransport;
use lettre::{AsyncTransport, Message, Tokio1Executor};

use auth::link::LinkTokens;
use settings::config::Config;
use settings::crisis::Crisis;

/// What a booking or questionnaire email says and carries.
pub struct Written {
    /// Whether it goes to the practice's notification address (else to the person).
    pub to_practice: bool,
    pub subject: String,
    pub body: String,
    /// The calendar file: its method and text.
    pub calendar: Option<(practice::calendar::Method, String)>,
}

/// Why a message was not sent, in words safe to store and show (never the server's own text,
/// which may quote an address).
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The server refused it for good (5xx), or it cannot be built: retrying will not help.
    #[error("{0}")]
    Permanent(String),
    /// The server was unreachable or asked us to try later.
    #[error("{0}")]
    Transient(String),
}

/// Why mail cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("mail.smtp_url cannot be used: {0}")]
    SmtpUrl(lettre::transport::smtp::Error),
}

/// How mail leaves this server.
#[derive(Clone)]
pub enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

impl Transport {
    /// The transport for the configured SMTP URL, or `None` when notifications are off.
    pub fn from_config(config: &Config) -> Result<Option<Transport>, TransportError> {
        let Some(url) = &config.mail.smtp_url else {
            return Ok(None);
        };
        let builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(&url.0)
            .map_err(TransportError::SmtpUrl)?;
        Ok(Some(Transport::Smtp(
            builder
                .timeout(Some(std::time::Duration::from_secs(20)))
                .build(),
        )))
    }

    pub async fn send(&self, message: Message) -> Result<(), SendError> {
        match self {
            Transport::Smtp(t) => t.send(message).await.map(|_| ()).map_err(classify),
        }
    }
}

fn classify(e: lettre::transport::smtp::Error) -> SendError {
    let code = e.status().map(|c| c.to_string());
    if e.is_permanent() {
        SendError::Permanent(format!(
            "refused by the mail server (SMTP {})",
            code.unwrap_or_default()
        ))
    } else if e.is_transient() {
        SendError::Transient(format!(
            "deferred by the mail server (SMTP {})",
            code.unwrap_or_default()
        ))
    } else if e.is_timeout() {
        SendError::Transient("the mail server did not answer in time".into())
    } else if e.is_tls() {
        SendError::Transient("a secure connection to the mail server failed".into())
    } else {
        SendError::Transient("cannot reach the mail server".into())
    }
}

/// Builds the email for an outbox row. `links` signs the links back to a booking.
pub fn compose(config: &Config, mail: &Mail, links: &LinkTokens) -> Result<Message, SendError> {
    let from: Mailbox = config
        .mail
        .from
        .parse()
        .map_err(|_| SendError::Permanent("the configured sender address is invalid".into()))?;
    let practice_inbox = || -> Result<Mailbox, SendError> {
        config.mail.notify_email.parse().map_err(|_| {
            SendError::Permanent("the configured notification address is invalid".into())
        })
    };
    let person = || -> Result<Mailbox, SendError> {
        mail.recipient()
            .unwrap_or("")
            .parse()
            .map_err(|_| SendError::Permanent("the recipient address cannot be used".into()))
    };
    let to = |to_practice: bool| {
        if to_practice {
            practice_inbox()
        } else {
            person()
        }
    };
    let practice = &config.practice;
    let when = |at: &Timestamp| match at.in_tz(&practice.time_zone) {
        Ok(zoned) => zoned.strftime("%A, %B %-d, %Y at %-I:%M %p %Z").to_string(),
        Err(_) => at.to_string(),
    };
    let (to, subject, body, calendar) = match mail {
        Mail::NewRequestNotice {
            reference,
            received_at,
        } => {
            let when = when(received_at);
            (
                practice_inbox()?,
                "New consultation request".to_string(),
                format!(
                    "A new consultation request arrived at {when}.\n\nSign in to read it: {}/admin\n\nReference: {reference}\n\nFor privacy, this email holds no details of the request.\n",
                    config.server.base_url
                ),
                None,
            )
        }
        Mail::Acknowledgement {
            received_at,
            booking_link,
            outside_us,
            ..
        } => {
            let when = when(received_at);
            let form = &config.form;
            (
                person()?,
                format!("We received your message - {}", practice.name),
                format!(
                    "Thank you for reaching out to {name}.\n\nYour message arrived on {when}. {clinician} will reply {reply}.\n\n{booking}If you are in crisis, please don't wait for a reply: {crisis}.\n\n{name}\n{email} | {phone}\n\nYou are receiving this because someone used this address on the contact form at {base}. If that wasn't you, you can ignore this email.\n",
                    name = practice.name,
                    clinician = practice.clinician_name_with_credentials(),
                    reply = form.reply_time,
                    booking = booking::acknowledgement_link(config, links, booking_link.as_ref()),
                    crisis = Crisis::for_reader(form, *outside_us).sentence(),
                    email = practice.email,
                    phone = practice.phone,
                    base = config.server.base_url,
                ),
                None,
            )
        }
        Mail::DailyAgenda { agenda } => {
            let (subject, body) = booking::agenda(config, agenda.as_ref()).ok_or_else(|| {
                SendError::Permanent("the day this agenda is about is gone".into())
            })?;
            (practice_inbox()?, subject, body, None)
        }
        Mail::DocumentsLink {
            request, reminder, ..
        } => {
            let (subject, body) = documents::write(config, links, request, *reminder);
            (person()?, subject, body, None)
        }
        Mail::BackupLate => (
            practice_inbox()?,
            format!("Backups have stopped - {}", config.practice.name),
            format!(
                "No backup of the website's records has succeeded for a day and a half.\n\nSign in to see why and what to do: {base}/admin/backups\n\nUntil a backup succeeds, a failed disk or a lost server would lose the practice's records. You will not be told again until a backup has succeeded.\n\nFor privacy, this email holds no details.\n",
                base = config.server.base_url,
            ),
            None,
        ),
        _ => {
            let written = match mail {
                Mail::QuestionnaireLink { .. }
                | Mail::QuestionnaireAttentionNotice { .. }
                | Mail::QuestionnaireAttentionOverdue { .. }
                | Mail::QuestionnaireMailCheck { .. } => questionnaire::write(config, links, mail)
                    .ok_or("the request or test this email is about is gone"),
                _ => booking::write(config, links, mail)
                    .ok_or("the booking this email is about is gone"),
            }
            .map_err(|gone| SendError::Permanent(gone.into()))?;
            (
                to(written.to_practice)?,
                written.subject,
                written.body,
                written.calendar,
            )
        }
    };
    let text = {
        let body = wrap(&body, 72);
        // Plain 7-bit text when possible (it always is for our own words): readable as sent.
        Body::new_with_encoding(body.clone(), ContentTransferEncoding::SevenBit)
            .unwrap_or_else(|_| Body::new(body))
    };
    let mut builder = Message::builder().from(from).to(to).subject(subject);
    if questionnaire::urgent(mail.kind()) {
        use lettre::message::header::{HeaderName, HeaderValue};
        builder = builder
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Importance"),
                "high".into(),
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("X-Priority"),
                "1 (Highest)".into(),
            ));
    }
    let built = match calendar {
        None => builder.header(ContentType::TEXT_PLAIN).body(text),
        Some((method, ics)) => {
            let calendar_type = ContentType::parse(&format!(
                "text/calendar; charset=utf-8; method={}",
                method.as_str()
            ))
            .map_err(|_| SendError::Permanent("the calendar file cannot be attached".into()))?;
            builder.multipart(
                MultiPart::mixed()
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_PLAIN)
                            .body(text),
                    )
                    .singlepart(
                        Attachment::new("consultation.ics".to_string())
                            .body(Body::new(ics), calendar_type),
                    ),
            )
        }
    };
    built.map_err(|_| SendError::Permanent("the message cannot be built".into()))
}

/// Wraps each line at `width` characters on spaces (plain-text mail keeps lines short).
pub fn wrap(text: &str, width: usize) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / width);
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let mut len = 0;
        for (j, word) in line.split(' ').enumerate() {
            let w = word.chars().count();
            if j > 0 {
                if len + 1 + w > width {
                    out.push('\n');
                    len = 0;
                } else {
                    out.push(' ');
                    len += 1;
                }
            }
            out.push_str(word);
            len += w;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn wrapping_keeps_words_and_paragraphs() {
        let text = "one two three four five six\n\nseven";
        assert_eq!(
            super::wrap(text, 9),
            "one two\nthree\nfour five\nsix\n\nseven"
        );
    }
}
