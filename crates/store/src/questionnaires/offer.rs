//! Whether the practice offers questionnaires: the owner's switch, and the test that the urgent
//! notice reaches the notice address, without which the questionnaire is not offered.

use jiff::Timestamp;

use super::super::engine::on_db;
use super::super::fields::to_json;
use super::super::inbox::{commit_audited, write_audit};
use super::super::settings::put_setting;
use super::super::{Store, StoreError, ms};
use crate::audit;
use practice::mail::MailKind;

/// The settings key of whether questionnaires are offered (sealed, as every setting).
pub(crate) const OFFERED: &str = "questionnaire_offered";

/// The settings key of the test that urgent notices reach the notice address (sealed).
pub(crate) const MAIL_CHECK: &str = "questionnaire_mail_check";

/// The latest test email to the notice address, and whether its code came back.
///
/// The questionnaire asks about thoughts of self-harm, so the practice offers it only while
/// the urgent notice is known to arrive: the owner sends a test to the notice address and
/// enters the code it carries. A test confirms that address only; when the notices go
/// elsewhere, the questionnaire stops being offered until a test to the new address is
/// confirmed.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct MailCheck {
    /// Where the test went.
    pub to: String,
    code: String,
    /// When the test was queued (ms since the epoch).
    sent_at: i64,
    /// When its code was entered (ms since the epoch), if it was.
    confirmed_at: Option<i64>,
}

practice::debug_shows!(MailCheck as c {
    confirmed: c.confirmed_at.is_some()
});

impl MailCheck {
    /// When the test was queued.
    pub fn sent_at(&self) -> Option<Timestamp> {
        Timestamp::from_millisecond(self.sent_at).ok()
    }

    /// When the code came back, if it did.
    pub fn confirmed_at(&self) -> Option<Timestamp> {
        self.confirmed_at
            .and_then(|v| Timestamp::from_millisecond(v).ok())
    }

    /// Whether the test confirmed that notices reach `address`.
    pub fn confirms(&self, address: &str) -> bool {
        self.confirmed_at.is_some() && same_address(&self.to, address)
    }
}

fn same_address(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

/// What entering a test's code did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MailCheckAnswer {
    Confirmed,
    /// No test was sent, or it went to another address than notices go to now.
    NoTest,
    WrongCode,
}

impl Store {
    /// Whether the practice offers the questionnaire after a time is held: turned on, and the
    /// urgent notice known to reach `notices_to`, where notices go now (`None` when the server
    /// sends no email, and so never offers it).
    pub async fn questionnaires_offered(
        &self,
        notices_to: Option<&str>,
    ) -> Result<bool, StoreError> {
        let Some(to) = notices_to else {
            return Ok(false);
        };
        Ok(self.questionnaires_turned_on().await?
            && self.mail_check().await?.is_some_and(|c| c.confirms(to)))
    }

    /// Whether the owner turned the questionnaire on (it is offered only while its notice is
    /// known to arrive: [`Store::questionnaires_offered`]).
    pub async fn questionnaires_turned_on(&self) -> Result<bool, StoreError> {
        Ok(self
            .read_setting(OFFERED, "questionnaire setting")
            .await?
            .is_some_and(|v| v == "on"))
    }

    /// Turns the questionnaire on or off, with an audit line.
    pub async fn set_questionnaires_offered(
        &self,
        on: bool,
        actor: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let action = if on {
            audit::Action::QuestionnairesTurnedOn
        } else {
            audit::Action::QuestionnairesTurnedOff
        };
        on_db!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            put_setting!(self, tx, OFFERED, if on { "on" } else { "off" }).await?;
            commit_audited!(tx, &audit::Entry::new(actor, action), now).await?;
        });
        Ok(())
    }

    /// The latest test email to the notice address, if one was sent.
    pub async fn mail_check(&self) -> Result<Option<MailCheck>, StoreError> {
        self.read_json_setting(MAIL_CHECK, "questionnaire mail check")
            .await
    }

    /// Queues a test email to `to`, the address urgent notices go to now, with a new code that
    /// replaces any earlier test's; returns the code (which only the email carries).
    pub async fn send_mail_check(&self, to: &str, now: Timestamp) -> Result<String, StoreError> {
        let n = u32::from_le_bytes(crypto::random::bytes::<4>()) % 1_000_000;
        let check = MailCheck {
            to: to.trim().to_string(),
            code: format!("{n:06}"),
            sent_at: ms(now),
            confirmed_at: None,
        };
        self.put_mail_check(&check, Some(now), None).await?;
        Ok(check.code)
    }

    /// The owner entered `code` from the test email; it confirms notices reach `to` (where
    /// they go now) if it is the latest test's code and that test went to `to`.
    pub async fn confirm_mail_check(
        &self,
        code: &str,
        to: &str,
        actor: &str,
        now: Timestamp,
    ) -> Result<MailCheckAnswer, StoreError> {
        let Some(mut check) = self.mail_check().await? else {
            return Ok(MailCheckAnswer::NoTest);
        };
        if !same_address(&check.to, to) {
            return Ok(MailCheckAnswer::NoTest);
        }
        let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        if !crypto::equal(code.as_bytes(), check.code.as_bytes()) {
            return Ok(MailCheckAnswer::WrongCode);
        }
        check.confirmed_at = Some(ms(now));
        self.put_mail_check(&check, None, Some((actor, now)))
            .await?;
        Ok(MailCheckAnswer::Confirmed)
    }

    /// Stores `check`; with `queue_at`, queues its email; with `audit`, writes the
    /// confirmation's audit line.
    async fn put_mail_check(
        &self,
        check: &MailCheck,
        queue_at: Option<Timestamp>,
        audit: Option<(&str, Timestamp)>,
    ) -> Result<(), StoreError> {
        let json = to_json("settings.value", check)?;
        on_db!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            put_setting!(self, tx, MAIL_CHECK, &json).await?;
            if let Some(at) = queue_at {
                crate::outbox::queue_mail!(
                    tx,
                    MailKind::QuestionnaireMailCheck,
                    None::<i64>,
                    None::<Vec<u8>>,
                    at
                )
                .await?;
            }
            if let Some((actor, at)) = audit {
                write_audit!(
                    tx,
                    &audit::Entry::new(actor, audit::Action::QuestionnaireMailConfirmed),
                    at
                )
                .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// The code of the latest test email, for the outbox to write it.
    pub async fn mail_check_code(&self) -> Result<Option<String>, StoreError> {
        Ok(self.mail_check().await?.map(|c| c.code))
    }
}
