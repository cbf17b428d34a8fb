//! Housekeeping: what the practice no longer keeps is deleted once an hour (closed requests
//! and spam past their retention periods, expired sessions, old sign-in counts and visit
//! counts), on whichever server first claims the hour.

use settings::config::AdminConfig;

use crate::AppState;

/// Deletes what the practice no longer keeps: closed requests and spam past their retention
/// periods (each deletion audited), expired sign-in sessions and sign-in counts past their
/// window. Returns the requests deleted.
pub async fn run(state: &AppState) -> Result<usize, store::StoreError> {
    run_at(state, jiff::Timestamp::now()).await
}

/// The instants before which requests are past their retention periods at `now`, under the
/// periods in force (the config file's, else the inbox's).
pub fn retention_cutoffs(admin: &AdminConfig, now: jiff::Timestamp) -> store::Cutoffs {
    let before = |d: u64| {
        let hours = i64::try_from(d).unwrap_or(i64::MAX / 24).saturating_mul(24);
        now.checked_sub(jiff::SignedDuration::from_hours(hours))
            .unwrap_or(jiff::Timestamp::MIN)
    };
    store::Cutoffs {
        closed: before(admin.keep_closed_days),
        consulted: before(admin.keep_consulted_days),
        spam: before(admin.keep_spam_days),
    }
}

/// [`run`] as of `now` (tests drive the clock with it).
pub async fn run_at(state: &AppState, now: jiff::Timestamp) -> Result<usize, store::StoreError> {
    use tower_sessions::session_store::ExpiredDeletion;
    let config = state.config();
    let purged = state
        .store
        .purge(&retention_cutoffs(&config.admin, now), now)
        .await?;
    if !purged.is_empty() {
        tracing::info!(
            count = purged.len(),
            "deleted requests past their retention period"
        );
    }
    if let Err(e) = state.store.sessions().delete_expired().await {
        tracing::warn!(error = %e, "cannot delete expired sessions");
    }
    if let Err(e) = state
        .store
        .forget_old_sign_in_attempts(auth::throttle::WINDOW, now)
        .await
    {
        tracing::warn!(error = %e, "cannot delete old sign-in counts");
    }
    let first_kept = state
        .insights
        .first_kept_day(config.insights.retention_months);
    match state
        .store
        .delete_insight_counts_before(&first_kept.to_string())
        .await
    {
        Ok(0) => {}
        Ok(rows) => tracing::info!(rows, "deleted visit counts past their retention period"),
        Err(e) => tracing::warn!(error = %e, "cannot delete old visit counts"),
    }
    Ok(purged.len())
}

/// Runs [`run`] once an hour across all servers: each server looks every few
/// minutes, and whichever first claims the hour does the work.
pub fn every_hour(workers: &workers::Workers, state: AppState) {
    workers.every(std::time::Duration::from_secs(300), move || {
        let state = state.clone();
        async move {
            let claimed = state
                .store
                .claim_job(
                    store::Job::Housekeeping,
                    jiff::SignedDuration::from_hours(1),
                    jiff::Timestamp::now(),
                )
                .await;
            match claimed {
                Ok(true) => {
                    if let Err(e) = run(&state).await {
                        tracing::warn!(error = %e, "housekeeping failed; will try again in an hour");
                    }
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "cannot reach the database for housekeeping"),
            }
        }
    });
}
