//! The visit counts behind the clinician's insights page: one number per day, kind and subject.
//!
//! Counts arrive in batches from each server's in-memory tally and are *added* to what is stored
//! (an upsert with addition), so several servers on one PostgreSQL database add up to one set
//! of numbers. Rows are written in one order (day, kind, subject) so that two servers flushing
//! at the same moment never wait on each other's rows in opposite orders.

use super::fields::REFERRAL_SOURCE;
use jiff::Timestamp;

use super::engine::{Columns, on_db, record};
use super::{Store, StoreError, ms};

/// One stored count: `total` of `kind` for `subject` on `day` (`YYYY-MM-DD`, the practice's
/// calendar day).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct InsightCount {
    pub day: String,
    pub kind: String,
    pub subject: String,
    pub total: i64,
}

impl Store {
    /// Adds `counts` to the stored ones, in one transaction.
    pub async fn add_insight_counts(&self, counts: &[InsightCount]) -> Result<(), StoreError> {
        if counts.is_empty() {
            return Ok(());
        }
        let mut sorted: Vec<&InsightCount> = counts.iter().collect();
        sorted.sort();
        on_db!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            for c in &sorted {
                sqlx::query(
                    "INSERT INTO insight_counts (day, kind, subject, total) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (day, kind, subject)
                     DO UPDATE SET total = insight_counts.total + excluded.total",
                )
                .bind(&c.day)
                .bind(&c.kind)
                .bind(&c.subject)
                .bind(c.total)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Every count from `first_day` (`YYYY-MM-DD`) on, oldest first.
    pub async fn insight_counts_since(
        &self,
        first_day: &str,
    ) -> Result<Vec<InsightCount>, StoreError> {
        self.read_all(
            "SELECT day, kind, subject, total FROM insight_counts WHERE day >= $1
             ORDER BY day, kind, subject",
            &[first_day.into()],
            |r| record!(r => InsightCount { day, kind, subject, total }),
        )
        .await
    }

    /// Deletes the counts of days before `first_kept_day` (`YYYY-MM-DD`); returns how many rows.
    pub async fn delete_insight_counts_before(
        &self,
        first_kept_day: &str,
    ) -> Result<u64, StoreError> {
        let deleted = on_db!(&self.db, pool => sqlx::query(
            "DELETE FROM insight_counts WHERE day < $1",
        )
        .bind(first_kept_day)
        .execute(pool)
        .await?
        .rows_affected());
        Ok(deleted)
    }

    /// The answers to "how did you hear about the practice" of the requests received since
    /// `since` and not filed as spam, opened for the signed-in clinician's tally (`None`: not
    /// answered). The answers stay sealed in the database; only the tally is shown.
    pub async fn referral_answers_since(
        &self,
        since: Timestamp,
    ) -> Result<Vec<Option<String>>, StoreError> {
        let sealed: Vec<(String, Option<Vec<u8>>)> = on_db!(&self.db, pool => {
            let rows = sqlx::query(
                "SELECT link_secret, referral_source_sealed FROM consultation_requests
                 WHERE spam = FALSE AND received_at >= $1",
            )
            .bind(ms(since))
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| Ok((r.col("link_secret")?, r.col(REFERRAL_SOURCE.column())?)))
                .collect::<Result<Vec<_>, sqlx::Error>>()?
        });
        sealed
            .into_iter()
            .map(|(link_secret, v)| {
                v.map(|v| self.unseal(REFERRAL_SOURCE, link_secret.as_str(), &v))
                    .transpose()
            })
            .collect()
    }
}
