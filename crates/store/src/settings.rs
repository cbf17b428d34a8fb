//! The settings table: one sealed value per key (see `fields::setting`), read here for every
//! setting that is read on its own, outside a transaction that changes it.

use super::engine::on_db;
use super::fields::setting;
use super::{Store, StoreError};

impl Store {
    /// The setting `key`, opened; `None` when it was never written. `what` names it in an
    /// error.
    pub(super) async fn read_setting(
        &self,
        key: &'static str,
        what: &'static str,
    ) -> Result<Option<String>, StoreError> {
        let sealed: Option<Vec<u8>> = on_db!(&self.db, pool => {
            sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
                .bind(key)
                .fetch_optional(pool)
                .await?
        });
        sealed.map(|s| self.open_setting(key, what, &s)).transpose()
    }

    /// The setting `key` as sealed, after writing `sealed` to it if it had no value: of two
    /// servers doing this at once, the first one's value stands and both read it.
    pub(super) async fn setting_or_insert(
        &self,
        key: &'static str,
        sealed: Vec<u8>,
    ) -> Result<Vec<u8>, StoreError> {
        Ok(on_db!(&self.db, pool => {
            sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
                .bind(key)
                .bind(sealed)
                .execute(pool)
                .await?;
            sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
                .bind(key)
                .fetch_one(pool)
                .await?
        }))
    }

    /// The setting `key`'s `sealed` value, opened; `what` names it in an error.
    pub(super) fn open_setting(
        &self,
        key: &'static str,
        what: &'static str,
        sealed: &[u8],
    ) -> Result<String, StoreError> {
        self.keys
            .open(setting(key).of(key), sealed)
            .map_err(|source| StoreError::Sealed {
                field: what,
                source,
            })
    }
}
