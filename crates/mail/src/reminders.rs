//! The worker that queues reminders, the clinician's daily agenda and the second urgent notice
//! of an answer not followed up in time, when their moment comes.
//!
//! Every server runs it; the database decides which one queues each email (see
//! `store/meeting.rs`), and the outbox sends it. It looks once a minute, so a reminder leaves
//! within about a minute of its moment; after a restart it catches up on what came due meanwhile.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::Notify;

use settings::in_force::InForce;
use store::{Store, StoreError};

/// How often the worker looks.
const EVERY: Duration = Duration::from_secs(60);
/// How long after documents were sent their one reminder leaves, if some are still unsigned.
pub const DOCUMENTS_REMINDER_AFTER: jiff::SignedDuration = jiff::SignedDuration::from_hours(3 * 24);
/// The hour, on the practice's clocks, after which the day's agenda leaves.
pub const AGENDA_HOUR: i8 = 7;

/// The worker and what it needs.
#[derive(Clone)]
pub struct Reminders {
    pub store: Store,
    /// The practice in force: its time zone says when the day's agenda is due.
    pub in_force: Arc<InForce>,
    /// The outbox's wake-up, rung when mail was queued so it leaves at once.
    pub wake: Arc<Notify>,
}

impl Reminders {
    /// Queues what is due at `now`: reminders, the day's agenda, the second urgent notice of
    /// an answer not followed up within the time the person was told, and the one reminder of
    /// documents still unsigned. Returns how many emails
    /// were queued.
    pub async fn look(&self, now: Timestamp) -> Result<usize, StoreError> {
        let mut queued = self.store.queue_due_reminders(now).await?;
        let config = self.in_force.get();
        // The second urgent notice of an answer not followed up within the time the person
        // was told.
        let hours = i64::from(config.form.urgent_reply_hours);
        let raised_by = now
            .checked_sub(jiff::SignedDuration::from_hours(hours))
            .unwrap_or(now);
        queued += self.store.queue_overdue_attention(raised_by, now).await?;
        // The one reminder of documents still unsigned a few days after they were sent.
        let sent_by = now.checked_sub(DOCUMENTS_REMINDER_AFTER).unwrap_or(now);
        queued += self.store.queue_documents_reminders(sent_by, now).await?;
        let zone = config.practice.zone.clone();
        if self
            .store
            .queue_daily_agenda(now, &zone, AGENDA_HOUR)
            .await?
        {
            queued += 1;
        }
        if queued > 0 {
            self.wake.notify_one();
        }
        Ok(queued)
    }

    /// Runs [`Reminders::look`] every minute until the server stops.
    pub fn look_every_minute(self, workers: &workers::Workers) {
        workers.every(EVERY, move || {
            let reminders = self.clone();
            async move {
                match reminders.look(Timestamp::now()).await {
                    Ok(0) => {}
                    Ok(queued) => tracing::info!(queued, "reminders queued"),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot look for reminders due; will look again")
                    }
                }
            }
        });
    }
}
