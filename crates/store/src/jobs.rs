//! Periodic jobs that must run once per period, however many servers are up.
//!
//! Every server wakes on the same schedule and tries to claim the job's period with one
//! conditional write; the database lets exactly one of them succeed, and only that one runs it.

use jiff::{SignedDuration, Timestamp};

use super::engine::on_db;
use super::{Store, StoreError, ms};

practice::text_forms! {
    /// A job the servers share.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Job {
        /// Retention: deleting closed requests and spam past their periods, and expired sessions.
        Housekeeping = "housekeeping",
    }
}

impl Store {
    /// Claims `job` for the period starting `now` if no server ran it in the last `period`:
    /// true means this server should run it now.
    pub async fn claim_job(
        &self,
        job: Job,
        period: SignedDuration,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let due_before = ms(now) - i64::try_from(period.as_millis()).unwrap_or(i64::MAX);
        let claimed = on_db!(&self.db, pool => sqlx::query(
            "INSERT INTO periodic_jobs (name, last_run_at) VALUES ($1, $2)
             ON CONFLICT (name) DO UPDATE SET last_run_at = excluded.last_run_at
             WHERE periodic_jobs.last_run_at <= $3",
        )
        .bind(job.as_str())
        .bind(ms(now))
        .bind(due_before)
        .execute(pool)
        .await?
        .rows_affected());
        Ok(claimed == 1)
    }
}
