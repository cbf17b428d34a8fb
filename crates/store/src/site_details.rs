//! The practice's details saved in the inbox, and the site's version counter that tells every
//! server when the public pages must be prepared again.

use std::collections::BTreeMap;

use jiff::Timestamp;

use super::engine::on_db;
use super::fields::{from_json, to_json};
use super::inbox::commit_audited;
use super::{Store, StoreError, from_ms, ms};
use crate::audit;

/// The practice's details, each value by its field's name (`details::PracticeDetails`: the
/// details module reads and checks them; the store keeps them as they are).
type PracticeDetails = BTreeMap<String, String>;

/// The details as last saved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SavedPracticeDetails {
    pub values: PracticeDetails,
    /// Raised by each save; a form carries the version it was shown with.
    pub version: i64,
    pub saved_at: Timestamp,
    pub saved_by: String,
}

/// Raises the site's version on `$tx`, so every server prepares its pages again.
#[allow(unused_macros)]
macro_rules! bump_site_version {
    ($tx:ident) => {
        sqlx::query("UPDATE site_version SET version = version + 1 WHERE id = 1").execute(&mut *$tx)
    };
}
pub(super) use bump_site_version;

impl Store {
    /// The details saved in the inbox, if they ever were.
    pub async fn practice_details(&self) -> Result<Option<SavedPracticeDetails>, StoreError> {
        let row: Option<(String, i64, i64, String)> = on_db!(&self.db, pool => sqlx::query_as(
            "SELECT fields, version, saved_at, saved_by FROM practice_details WHERE id = 1",
        )
        .fetch_optional(pool)
        .await?);
        let Some((fields, version, saved_at, saved_by)) = row else {
            return Ok(None);
        };
        let values: PracticeDetails = from_json("practice_details.fields", &fields)?;
        Ok(Some(SavedPracticeDetails {
            values,
            version,
            saved_at: from_ms("practice_details.saved_at", saved_at)?,
            saved_by,
        }))
    }

    /// Saves `values` if the stored details are still at `expected_version` (0: never saved);
    /// false when someone saved in between (nothing is written then).
    pub async fn save_practice_details(
        &self,
        values: &PracticeDetails,
        expected_version: i64,
        now: Timestamp,
        audit: &audit::Entry,
    ) -> Result<bool, StoreError> {
        let fields = to_json("practice_details.fields", values)?;
        on_db!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            let written = if expected_version == 0 {
                sqlx::query(
                    "INSERT INTO practice_details (id, fields, version, saved_at, saved_by)
                     VALUES (1, $1, 1, $2, $3) ON CONFLICT (id) DO NOTHING",
                )
                .bind(&fields)
                .bind(ms(now))
                .bind(&audit.actor)
                .execute(&mut *tx)
                .await?
                .rows_affected()
            } else {
                sqlx::query(
                    "UPDATE practice_details SET fields = $1, version = version + 1,
                     saved_at = $2, saved_by = $3 WHERE id = 1 AND version = $4",
                )
                .bind(&fields)
                .bind(ms(now))
                .bind(&audit.actor)
                .bind(expected_version)
                .execute(&mut *tx)
                .await?
                .rows_affected()
            };
            if written != 1 {
                return Ok(false);
            }
            bump_site_version!(tx).await?;
            commit_audited!(tx, audit, now).await?;
            Ok(true)
        })
    }

    /// The site's version: it moves whenever something the public pages show changes.
    pub async fn site_version(&self) -> Result<i64, StoreError> {
        Ok(on_db!(&self.db, pool => sqlx::query_scalar(
            "SELECT version FROM site_version WHERE id = 1",
        )
        .fetch_one(pool)
        .await?))
    }
}
