//! The page's words as published from the inbox: one revision per publish, per content file.

use std::collections::BTreeMap;

use jiff::Timestamp;

use super::engine::on_db;
use super::inbox::commit_audited;
use super::{Store, StoreError, from_ms, ms};
use crate::audit;

/// One published text of a content file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revision {
    pub id: i64,
    pub section: String,
    pub body: String,
    pub published_at: Timestamp,
    pub published_by: String,
    /// The revision this one brought back, when it was a restore (0: the built-in words).
    pub restored_from: Option<i64>,
}

type RevisionRow = (i64, String, String, i64, String, Option<i64>);

fn revision(row: RevisionRow) -> Result<Revision, StoreError> {
    let (id, section, body, at, by, restored_from) = row;
    Ok(Revision {
        id,
        section,
        body,
        published_at: from_ms("content_revisions.published_at", at)?,
        published_by: by,
        restored_from,
    })
}

impl Store {
    /// The newest revision of every file that has one: what the site shows.
    pub async fn published_words(&self) -> Result<BTreeMap<String, Revision>, StoreError> {
        let rows: Vec<RevisionRow> = on_db!(&self.db, pool => sqlx::query_as(
            "SELECT r.id, r.section, r.body, r.published_at, r.published_by, r.restored_from
             FROM content_revisions r
             WHERE r.id = (SELECT MAX(id) FROM content_revisions n WHERE n.section = r.section)",
        )
        .fetch_all(pool)
        .await?);
        rows.into_iter()
            .map(|row| revision(row).map(|r| (r.section.clone(), r)))
            .collect()
    }

    /// Every revision of `section`, newest first.
    pub async fn revisions(&self, section: &str) -> Result<Vec<Revision>, StoreError> {
        let rows: Vec<RevisionRow> = on_db!(&self.db, pool => sqlx::query_as(
            "SELECT id, section, body, published_at, published_by, restored_from
             FROM content_revisions WHERE section = $1 ORDER BY id DESC",
        )
        .bind(section)
        .fetch_all(pool)
        .await?);
        rows.into_iter().map(revision).collect()
    }

    /// Publishes `body` as the newest revision of `section` if the newest is still `base` (0:
    /// none, the built-in words); `None` when someone published in between (nothing written).
    pub async fn publish_words(
        &self,
        section: &str,
        body: &str,
        base: i64,
        restored_from: Option<i64>,
        now: Timestamp,
        audit: &audit::Entry,
    ) -> Result<Option<i64>, StoreError> {
        on_db!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            // First a write, so two publishes at once take their turns from here on.
            sqlx::query("UPDATE site_version SET version = version + 1 WHERE id = 1")
                .execute(&mut *tx)
                .await?;
            let newest: Option<i64> = sqlx::query_scalar(
                "SELECT MAX(id) FROM content_revisions WHERE section = $1",
            )
            .bind(section)
            .fetch_one(&mut *tx)
            .await?;
            if newest.unwrap_or(0) != base {
                return Ok(None);
            }
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO content_revisions (section, body, published_at, published_by, restored_from)
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(section)
            .bind(body)
            .bind(ms(now))
            .bind(&audit.actor)
            .bind(restored_from)
            .fetch_one(&mut *tx)
            .await?;
            commit_audited!(tx, audit, now).await?;
            Ok(Some(id))
        })
    }
}
