//! The emails about questionnaires: to the person, the link to answer the measures again; to the
//! practice, marked urgent, that a questionnaire needs attention soon (and once more if it is
//! not followed up in time), and the test that those notices reach the notice address.
//!
//! Neither carries an answer, a score, a name or a word about what needs attention: the person's
//! email says that the clinician asks them to answer two short questionnaires and where; the
//! practice's says only that a questionnaire needs their attention soon and where to sign in.

use jiff::Timestamp;

use super::{Mail, MailKind, Written};
use auth::link::{self, LinkTokens};
use settings::config::Config;
use settings::crisis::Crisis;

/// Whether an email is marked urgent (`Importance: high`, `X-Priority: 1`).
pub fn urgent(kind: MailKind) -> bool {
    matches!(
        kind,
        MailKind::QuestionnaireAttentionNotice | MailKind::QuestionnaireAttentionOverdue
    )
}

/// Writes the email for a questionnaire mail, or `None` when the row is not about one.
pub fn write(config: &Config, links: &LinkTokens, mail: &Mail) -> Option<Written> {
    let practice = &config.practice;
    let base = &config.server.base_url;
    // None of them carries a calendar file.
    let (to_practice, subject, body) = match mail {
        Mail::QuestionnaireLink {
            request,
            outside_us,
            ..
        } => {
            let token = links.issue(
                request.id,
                &request.link_secret,
                link::expiry(Timestamp::now(), None),
            );
            (
                false,
                format!("Two short questionnaires - {}", practice.name),
                format!(
                    "{clinician} asks you to answer two short questionnaires, about how you have been over the last 2 weeks. They take about five minutes, every question is optional, and your answers go only to {clinician}.\n\n{base}/questionnaire/{token}\n\nIf you are in crisis, please don't wait: {crisis}.\n\n{name}\n{email} | {phone}\n",
                    clinician = practice.clinician_name,
                    crisis = Crisis::for_reader(&config.form, *outside_us).sentence(),
                    name = practice.name,
                    email = practice.email,
                    phone = practice.phone,
                ),
            )
        }
        Mail::QuestionnaireAttentionNotice {
            request_id,
            reference,
        }
        | Mail::QuestionnaireAttentionOverdue {
            request_id,
            reference,
        } => {
            let link = match request_id {
                Some(id) => format!("{base}/admin/requests/{id}"),
                None => format!("{base}/admin"),
            };
            let within = practice::wording::within_hours(config.form.urgent_reply_hours);
            if matches!(mail, Mail::QuestionnaireAttentionNotice { .. }) {
                (
                    true,
                    "Urgent: a questionnaire needs your attention".to_string(),
                    format!(
                        "A questionnaire needs your attention soon. The person was told you will get in touch {within}.\n\nSign in to see it: {link}\n\nReference: {reference}\n\nFor privacy, this email holds no details.\n",
                    ),
                )
            } else {
                (
                    true,
                    "Urgent, not yet followed up: a questionnaire needs your attention".to_string(),
                    format!(
                        "A questionnaire that needs your attention has not been marked as followed up. The person was told you will get in touch {within}, and that time has passed.\n\nSign in to see it and mark it followed up: {link}\n\nReference: {reference}\n\nFor privacy, this email holds no details. This is the last reminder about it.\n",
                    ),
                )
            }
        }
        Mail::QuestionnaireMailCheck { code } => {
            let code = code.as_deref()?;
            (
                true,
                format!("Test of urgent notices - {}", practice.name),
                format!(
                    "This is a test from the website of {name}. It was sent so that you know urgent notices about questionnaires reach this address.\n\nTo confirm that they do, enter this code in the booking settings ({base}/admin/booking): {code}\n\nUntil a test is confirmed, the questionnaire is not offered.\n",
                    name = practice.name,
                ),
            )
        }
        _ => return None,
    };
    Some(Written {
        to_practice,
        subject,
        body,
        calendar: None,
    })
}
