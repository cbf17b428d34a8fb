//! Retention: the closed requests and spam past their periods, listed for export beforehand and
//! then deleted, one audit row each.

use jiff::Timestamp;

use super::super::engine::{Columns, on_db, record};
use super::super::{Store, StoreError, ms};
use super::write_audit;
use crate::audit;

/// The instants before which closed requests, and spam, are past their retention periods.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cutoffs {
    /// Closed requests that never reached a consultation, closed before this.
    pub closed: Timestamp,
    /// Closed requests that reached a consultation or went further, closed before this.
    pub consulted: Timestamp,
    /// Spam received before this.
    pub spam: Timestamp,
}

/// A closed request retention is about to delete.
#[derive(Clone, Debug)]
pub struct DueForDeletion {
    pub id: i64,
    pub reference: String,
    pub closed_at: Timestamp,
    /// Kept for the longer period, as the start of a clinical record.
    pub reached_consultation: bool,
}

/// The closed requests (not spam) past their retention, given the closed and consulted
/// cutoffs as `$1` and `$2`.
const PAST_RETENTION: &str = "(spam = FALSE AND status = 'closed' AND ((reached_consultation = FALSE AND closed_at < $1) OR (reached_consultation = TRUE AND closed_at < $2)))";

impl Store {
    /// Deletes the closed requests and spam past their retention periods ([`Cutoffs`]); one
    /// audit row per deletion. Returns the ids deleted.
    pub async fn purge(&self, before: &Cutoffs, now: Timestamp) -> Result<Vec<i64>, StoreError> {
        on_db!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            let rows = sqlx::query(&format!(
                "SELECT id, spam FROM consultation_requests WHERE {PAST_RETENTION} OR (spam = TRUE AND received_at < $3)"
            ))
            .bind(ms(before.closed))
            .bind(ms(before.consulted))
            .bind(ms(before.spam))
            .fetch_all(&mut *tx)
            .await?;
            let mut ids = Vec::with_capacity(rows.len());
            for row in rows {
                let id: i64 = row.col("id")?;
                let spam: bool = row.col("spam")?;
                sqlx::query("DELETE FROM consultation_requests WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                let why = if spam {
                    "spam past its retention period"
                } else {
                    "closed past its retention period"
                };
                write_audit!(
                    tx,
                    &audit::Entry::new("system", audit::Action::Purge)
                        .request(id)
                        .detail(why),
                    now
                )
                .await?;
                ids.push(id);
            }
            tx.commit().await?;
            Ok(ids)
        })
    }

    /// The closed requests (not spam) that [`Store::purge`] with `before` would delete, oldest
    /// closing first: what the inbox offers to export before it is gone.
    pub async fn due_for_deletion(
        &self,
        before: &Cutoffs,
    ) -> Result<Vec<DueForDeletion>, StoreError> {
        self.read_all(
            &format!(
                "SELECT id, reference, closed_at, reached_consultation FROM consultation_requests
                 WHERE {PAST_RETENTION} ORDER BY closed_at, id"
            ),
            &[ms(before.closed).into(), ms(before.consulted).into()],
            |r| {
                record!(r => DueForDeletion { id, reference, closed_at: time, reached_consultation })
            },
        )
        .await
    }
}
