//! The clinician's own pages: added, changed, and removed (the address then answers 410 until a new page takes it).

use jiff::Timestamp;

use super::engine::on_db;
use super::inbox::commit_audited;
use super::{Store, StoreError, from_ms, ms};
use crate::audit;

/// One page as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredPage {
    pub id: i64,
    pub path: String,
    pub title: String,
    pub body: String,
    pub changed_at: Timestamp,
    pub changed_by: String,
    pub removed: bool,
}

/// What became of a new page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PageAdded {
    Added(i64),
    /// Another page has (or had) this address.
    AddressTaken,
}

/// What became of a change to a page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PageChanged {
    Changed,
    /// The page changed (or was removed) after the version the change was made on.
    Stale,
}

/// id, path, title, body, changed_at, changed_by, removed_at.
type PageRow = (i64, String, String, String, i64, String, Option<i64>);

impl Store {
    /// Every page, removed ones too, in the order they were added.
    pub async fn own_pages(&self) -> Result<Vec<StoredPage>, StoreError> {
        let rows: Vec<PageRow> = on_db!(&self.db, pool => sqlx::query_as(
                "SELECT id, path, title, body, changed_at, changed_by, removed_at
                 FROM own_pages ORDER BY id",
            )
            .fetch_all(pool)
            .await?);
        rows.into_iter()
            .map(|(id, path, title, body, at, by, removed)| {
                Ok(StoredPage {
                    id,
                    path,
                    title,
                    body,
                    changed_at: from_ms("own_pages.changed_at", at)?,
                    changed_by: by,
                    removed: removed.is_some(),
                })
            })
            .collect()
    }

    /// Adds a page at `path`, audited, raising the site's version.
    pub async fn add_own_page(
        &self,
        path: &str,
        title: &str,
        body: &str,
        now: Timestamp,
        audit: &audit::Entry,
    ) -> Result<PageAdded, StoreError> {
        on_db!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            // A removed page's address can be given to a new page: the old row, kept only so
            // that the address said "removed", goes (the audit log keeps its removal).
            sqlx::query("DELETE FROM own_pages WHERE path = $1 AND removed_at IS NOT NULL")
                .bind(path)
                .execute(&mut *tx)
                .await?;
            let inserted: Result<i64, sqlx::Error> = sqlx::query_scalar(
                "INSERT INTO own_pages (path, title, body, created_at, changed_at, changed_by)
                 VALUES ($1, $2, $3, $4, $4, $5) RETURNING id",
            )
            .bind(path)
            .bind(title)
            .bind(body)
            .bind(ms(now))
            .bind(&audit.actor)
            .fetch_one(&mut *tx)
            .await;
            let id = match inserted {
                Ok(id) => id,
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                    return Ok(PageAdded::AddressTaken)
                }
                Err(e) => return Err(e.into()),
            };
            sqlx::query("UPDATE site_version SET version = version + 1 WHERE id = 1")
                .execute(&mut *tx)
                .await?;
            commit_audited!(tx, audit, now).await?;
            Ok(PageAdded::Added(id))
        })
    }

    /// Gives page `id` a new title and words, if it is still as it was at `seen` (its
    /// `changed_at`, as shown with the form): a change made on an older version is refused, never
    /// applied over the newer one. Audited, raising the site's version.
    pub async fn change_own_page(
        &self,
        id: i64,
        seen: Timestamp,
        title: &str,
        body: &str,
        now: Timestamp,
        audit: &audit::Entry,
    ) -> Result<PageChanged, StoreError> {
        // Each change moves `changed_at` forward, even within one millisecond, so that it
        // tells versions apart.
        let at = ms(now).max(ms(seen) + 1);
        on_db!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            let changed = sqlx::query(
                "UPDATE own_pages SET title = $1, body = $2, changed_at = $3, changed_by = $4
                 WHERE id = $5 AND changed_at = $6 AND removed_at IS NULL",
            )
            .bind(title)
            .bind(body)
            .bind(at)
            .bind(&audit.actor)
            .bind(id)
            .bind(ms(seen))
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if changed != 1 {
                return Ok(PageChanged::Stale);
            }
            sqlx::query("UPDATE site_version SET version = version + 1 WHERE id = 1")
                .execute(&mut *tx)
                .await?;
            commit_audited!(tx, audit, now).await?;
            Ok(PageChanged::Changed)
        })
    }

    /// Removes page `id` (its address answers 410 until a new page is added there); false if
    /// there is no such page still shown.
    pub async fn remove_own_page(
        &self,
        id: i64,
        now: Timestamp,
        audit: &audit::Entry,
    ) -> Result<bool, StoreError> {
        on_db!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            let removed = sqlx::query(
                "UPDATE own_pages SET removed_at = $1, changed_at = $1, changed_by = $2
                 WHERE id = $3 AND removed_at IS NULL",
            )
            .bind(ms(now))
            .bind(&audit.actor)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if removed != 1 {
                return Ok(false);
            }
            sqlx::query("UPDATE site_version SET version = version + 1 WHERE id = 1")
                .execute(&mut *tx)
                .await?;
            commit_audited!(tx, audit, now).await?;
            Ok(true)
        })
    }
}
