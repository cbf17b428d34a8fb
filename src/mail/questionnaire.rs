//! The emails about questionnaires: to the person, the link to answer the measures again; to the
//! practice, marked urgent, that a questionnaire needs attention soon.
//!
//! Neither carries an answer, a score, a name or a word about what needs attention: the person's
//! email says that the clinician asks them to answer two short questionnaires and where; the
//! practice's says only that a questionnaire needs their attention soon and where to sign in.

use jiff::Timestamp;

use crate::auth::link::{self, LinkTokens};
use crate::config::Config;
use crate::crisis::Crisis;
use crate::store::{ClaimedMail, MailKind};

/// What a questionnaire email says.
pub struct Written {
    /// Whether it goes to the practice's notification address (else to the person).
    pub to_practice: bool,
    pub subject: String,
    pub body: String,
}

/// Whether an email is marked urgent (`Importance: high`, `X-Priority: 1`).
pub fn urgent(kind: MailKind) -> bool {
    kind == MailKind::QuestionnaireAttentionNotice
}

/// Writes the email for a questionnaire mail, or `None` when the row is not about one.
pub fn write(config: &Config, links: &LinkTokens, mail: &ClaimedMail) -> Option<Written> {
    let practice = &config.practice;
    let base = &config.server.base_url;
    match mail.kind {
        MailKind::QuestionnaireLink => {
            let (id, secret) = mail.request_id.zip(mail.link_secret.as_deref())?;
            let token = links.issue(id, secret, link::expiry(Timestamp::now(), None));
            Some(Written {
                to_practice: false,
                subject: format!("Two short questionnaires - {}", practice.name),
                body: format!(
                    "{clinician} asks you to answer two short questionnaires, about how you have been over the last 2 weeks. They take about five minutes, every question is optional, and your answers go only to {clinician}.\n\n{base}/questionnaire/{token}\n\nIf you are in crisis, please don't wait: {crisis}.\n\n{name}\n{email} | {phone}\n",
                    clinician = practice.clinician_name,
                    crisis = Crisis::for_reader(&config.form, mail.outside_us).sentence(),
                    name = practice.name,
                    email = practice.email,
                    phone = practice.phone,
                ),
            })
        }
        MailKind::QuestionnaireAttentionNotice => {
            let link = match mail.request_id {
                Some(id) => format!("{base}/admin/requests/{id}"),
                None => format!("{base}/admin"),
            };
            Some(Written {
                to_practice: true,
                subject: "Urgent: a questionnaire needs your attention".to_string(),
                body: format!(
                    "A questionnaire needs your attention soon.\n\nSign in to see it: {link}\n\nReference: {reference}\n\nFor privacy, this email holds no details.\n",
                    reference = mail.reference.as_deref().unwrap_or(""),
                ),
            })
        }
        _ => None,
    }
}
