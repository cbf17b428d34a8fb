//! The outbox worker: sends queued mail, retries with exponential backoff, survives restarts.
//!
//! Each round claims the mail that is due (with a lease, so a second worker — on this server
//! or another — never takes the same row at the same time), tries to send it, and records the
//! outcome. A message is marked sent only after the SMTP server accepted it; if the process dies
//! between those two steps the message is sent again after the lease ends (at least once, never
//! lost). Permanent refusals are counted, and the message is given up after the configured
//! number, kept with its reason for the inbox to show.

use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio::sync::Notify;

use super::{ClaimedMail, Delivery, Mail, Offers, SendError, Transport, compose};
use auth::link::LinkTokens;
use settings::config::Config;
use settings::in_force::InForce;
use store::{ReminderFate, Store};

/// How long a claimed message is reserved for the worker that claimed it.
const LEASE: SignedDuration = SignedDuration::from_secs(120);
/// The longest the worker sleeps without looking again.
const IDLE: Duration = Duration::from_secs(30);

/// The worker and what it needs.
pub struct Outbox {
    pub store: Store,
    pub transport: Transport,
    /// The practice in force: read for every message, so details saved in the inbox (its
    /// name, email, numbers, where notices go) reach the next email.
    pub in_force: Arc<InForce>,
    /// Woken when new mail is queued, so it leaves at once.
    pub wake: Arc<Notify>,
    /// Signs the links in booking emails.
    pub links: LinkTokens,
}

impl Outbox {
    /// Sends mail as it comes due until `stop` is cancelled; a round in progress finishes.
    pub async fn run(self, stop: tokio_util::sync::CancellationToken) {
        loop {
            match self.round().await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "outbox: cannot read queued mail; will retry"),
            }
            let sleep = match self.store.next_mail_due().await {
                Ok(Some(due)) => {
                    let wait = due.duration_since(Timestamp::now());
                    Duration::try_from(wait).unwrap_or(Duration::ZERO).min(IDLE)
                }
                _ => IDLE,
            };
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(sleep.max(Duration::from_millis(50))) => {}
                () = self.wake.notified() => {}
            }
        }
    }

    /// Sends what is due; returns whether anything was claimed.
    pub async fn round(&self) -> Result<bool, store::StoreError> {
        self.round_at(Timestamp::now()).await
    }

    /// Sends what is due at `now` (the present, except in tests that move the clock).
    pub async fn round_at(&self, now: Timestamp) -> Result<bool, store::StoreError> {
        let rows = self.store.claim_due_mail(now, LEASE, 10).await?;
        if rows.is_empty() {
            return Ok(false);
        }
        let offers = Offers {
            times: self
                .store
                .booking_rules(&self.in_force.get().practice.zone)
                .await?
                .offers_times(),
            // The link to the questionnaire goes with booking emails only while it is offered.
            questionnaire: self
                .store
                .questionnaires_offered(Some(&self.in_force.get().mail.notify_email))
                .await?,
        };
        for row in rows {
            let mut mail = ClaimedMail::from_row(row, offers);
            if let Ok(m) = &mut mail.mail {
                match self.read_at_sending(mail.id, m, now).await {
                    Ok(true) => {}
                    // A reminder that no longer fits: taken out of the outbox, not sent.
                    Ok(false) => continue,
                    Err(e) => {
                        // The lease runs out and the message is looked at again.
                        tracing::warn!(error = %e, mail_id = mail.id, "outbox: cannot read what the mail says");
                        continue;
                    }
                }
            }
            let (outcome, to) = self.deliver(&mail, now).await;
            if let Err(e) = self
                .store
                .record_delivery(mail.id, &outcome, to.as_deref(), now)
                .await
            {
                // The lease runs out and the message is tried again: sent at least once.
                tracing::warn!(error = %e, mail_id = mail.id, "outbox: cannot record the delivery");
            }
        }
        Ok(true)
    }

    /// Reads what `mail` says that is decided as it leaves; false when it is not to be sent.
    async fn read_at_sending(
        &self,
        id: i64,
        mail: &mut Mail,
        now: Timestamp,
    ) -> Result<bool, store::StoreError> {
        match mail {
            Mail::BookingReminder { time_left, .. } => {
                match self.store.settle_reminder(id, now).await? {
                    ReminderFate::Send { time_left: left } => *time_left = Some(left),
                    ReminderFate::Dropped => {
                        tracing::info!(
                            mail_id = id,
                            "reminder not sent: the booking changed, the consultation began, or a nearer reminder went instead"
                        );
                        return Ok(false);
                    }
                }
            }
            Mail::QuestionnaireMailCheck { code } => {
                *code = self.store.mail_check_code().await?;
            }
            Mail::DailyAgenda { agenda } => {
                *agenda = self
                    .store
                    .agenda_of_mail(id, &self.in_force.get().practice.zone)
                    .await?;
            }
            _ => {}
        }
        if let Mail::BookingConfirmed(person, joining)
        | Mail::BookingReminder {
            person, joining, ..
        } = mail
        {
            joining.meeting = self.store.meeting_details().await?;
            if let Some(request) = &person.request {
                joining.phone_given = self.store.phone_given(request.id).await?;
            }
        }
        if let Mail::BookingHeld(person) | Mail::BookingConfirmed(person, _) = mail
            && person.questionnaire_offered
            && let Some(request) = &person.request
        {
            person.questionnaire_done =
                self.store
                    .questionnaires(request.id)
                    .await?
                    .iter()
                    .any(|q| {
                        q.kind == practice::questionnaire::Kind::Intake && q.completed_at.is_some()
                    });
        }
        Ok(true)
    }

    /// Tries to send `mail`; with the outcome, the practice's address it went to when it is
    /// mail to the practice.
    async fn deliver(&self, mail: &ClaimedMail, now: Timestamp) -> (Delivery, Option<String>) {
        let config = self.in_force.get();
        let to = (!mail.kind.to_person()).then(|| config.mail.notify_email.clone());
        let result = match &mail.mail {
            Ok(m) => match compose(&config, m, &self.links) {
                Ok(message) => self.transport.send(message).await,
                Err(e) => Err(e),
            },
            Err(why) => Err(SendError::Permanent((*why).to_string())),
        };
        (self.outcome(mail, now, &config, result), to)
    }

    fn outcome(
        &self,
        mail: &ClaimedMail,
        now: Timestamp,
        config: &Config,
        result: Result<(), SendError>,
    ) -> Delivery {
        let attempt = mail.attempts + 1;
        match result {
            Ok(()) => {
                tracing::info!(
                    mail_id = mail.id,
                    kind = mail.kind.log_name(),
                    attempt,
                    "mail sent"
                );
                Delivery::Sent
            }
            Err(SendError::Permanent(error))
                if mail.permanent_failures + 1 >= config.mail.max_permanent_failures =>
            {
                tracing::error!(mail_id = mail.id, kind = mail.kind.log_name(), %error, "mail given up after permanent failures");
                Delivery::Failed { error }
            }
            Err(e) => {
                let permanent = matches!(e, SendError::Permanent(_));
                let delay = backoff(config, attempt);
                tracing::warn!(mail_id = mail.id, kind = mail.kind.log_name(), attempt, error = %e, retry_in_s = delay.as_secs(), "mail not sent; will retry");
                Delivery::Retry {
                    next_attempt_at: now
                        .checked_add(
                            SignedDuration::try_from(delay)
                                .unwrap_or(SignedDuration::from_secs(60)),
                        )
                        .unwrap_or(now),
                    permanent,
                    error: e.to_string(),
                }
            }
        }
    }
}

/// base × 2^(attempt−1), capped.
pub fn backoff(config: &Config, attempt: i64) -> Duration {
    let base = config.mail.retry_base_seconds;
    let exp = u32::try_from(attempt.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
    Duration::from_secs(
        base.saturating_mul(1u64 << exp)
            .min(config.mail.retry_max_seconds),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_doubles_and_is_capped() {
        let config = settings::config::Config::from_toml(
            "[mail]\nretry_base_seconds = 5\nretry_max_seconds = 60\n",
            "t.toml",
            None,
            &settings::config::Overrides::default(),
        )
        .expect("valid");
        let secs: Vec<u64> = (1..=6)
            .map(|a| super::backoff(&config, a).as_secs())
            .collect();
        assert_eq!(secs, vec![5, 10, 20, 40, 60, 60]);
    }
}
