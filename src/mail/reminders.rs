//! The worker that queues reminders, the clinician's daily agenda and the second urgent notice
//! of an answer not followed up in time, when their moment comes.
//!
//! Every server runs it; the database decides which one queues each email (see
//! `store/meeting.rs`), and the outbox sends it. It looks once a minute, so a reminder leaves
//! within about a minute of its moment; after a restart it catches up on what came due meanwhile.

use std::time::Duration;

use jiff::Timestamp;

use crate::web::AppState;

/// How often the worker looks.
const EVERY: Duration = Duration::from_secs(60);
/// The hour, on the practice's clocks, after which the day's agenda leaves.
pub const AGENDA_HOUR: i8 = 7;

/// Queues what is due at `now`: reminders, the day's agenda, and the second urgent notice of
/// an answer not followed up within the time the person was told. Returns how many emails
/// were queued.
pub async fn look(state: &AppState, now: Timestamp) -> Result<usize, crate::store::StoreError> {
    let mut queued = state.store.queue_due_reminders(now).await?;
    let hours = i64::from(state.config().form.urgent_reply_hours);
    let raised_by = now
        .checked_sub(jiff::SignedDuration::from_hours(hours))
        .unwrap_or(now);
    queued += state.store.queue_overdue_attention(raised_by, now).await?;
    if state
        .store
        .queue_daily_agenda(now, &state.time_zone(), AGENDA_HOUR)
        .await?
    {
        queued += 1;
    }
    if queued > 0 {
        state.mail_wake.notify_one();
    }
    Ok(queued)
}

/// Runs [`look`] every minute until the server stops.
pub fn look_every_minute(workers: &crate::workers::Workers, state: AppState) {
    workers.every(EVERY, move || {
        let state = state.clone();
        async move {
            match look(&state, Timestamp::now()).await {
                Ok(0) => {}
                Ok(queued) => tracing::info!(queued, "reminders queued"),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot look for reminders due; will look again")
                }
            }
        }
    });
}
