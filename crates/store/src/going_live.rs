//! The going-live checklist's reviews: which items the clinician confirmed, by whom and when.
//! Recording one raises the site's version, so every server looks at its gate again.

use jiff::Timestamp;

use super::engine::{Columns, on_db, record};
use super::inbox::write_audit;
use super::site_details::bump_site_version;
use super::{Store, StoreError, ms};
use crate::audit;

/// One item confirmed as reviewed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Review {
    pub item: String,
    pub reviewed_by: String,
    pub reviewed_at: Timestamp,
}

impl Store {
    /// Every item confirmed as reviewed.
    pub async fn going_live_reviews(&self) -> Result<Vec<Review>, StoreError> {
        self.read_all(
            "SELECT item, reviewed_by, reviewed_at FROM going_live_reviews ORDER BY item",
            &[],
            |r| record!(r => Review { item, reviewed_by, reviewed_at: time }),
        )
        .await
    }

    /// Records that `actor` reviewed `item` (once: a second confirmation changes nothing), with
    /// an audit line.
    pub async fn review_going_live(
        &self,
        item: &str,
        actor: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        on_db!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            let added = sqlx::query(
                "INSERT INTO going_live_reviews (item, reviewed_by, reviewed_at) VALUES ($1, $2, $3)
                 ON CONFLICT (item) DO NOTHING",
            )
            .bind(item)
            .bind(actor)
            .bind(ms(now))
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if added == 1 {
                bump_site_version!(tx).await?;
                write_audit!(
                    tx,
                    &audit::Entry::new(actor, audit::Action::GoingLiveReviewed).detail(item),
                    now
                )
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }
}
