//! The settings table: one sealed value per key (see `fields::setting`), read here for every
//! setting that is read on its own, outside a transaction that changes it.

use serde::de::DeserializeOwned;

use super::engine::on_db;
use super::fields::{from_json, setting};
use super::{Store, StoreError};

/// Writes a setting's sealed value (`$1` the key, `$2` the value), replacing any.
pub(super) const PUT_SETTING: &str = "INSERT INTO settings (key, value) VALUES ($1, $2)
     ON CONFLICT (key) DO UPDATE SET value = excluded.value";

/// Writes setting `$key` as `$value` (text, sealed here) on `$conn`, replacing any value.
macro_rules! put_setting {
    ($store:expr, $conn:ident, $key:expr, $value:expr) => {
        async {
            let key: &'static str = $key;
            sqlx::query($crate::settings::PUT_SETTING)
                .bind(key)
                .bind($store.seal_setting(key, $value))
                .execute(&mut *$conn)
                .await
                .map(|_| ())
        }
    };
}
pub(super) use put_setting;

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

    /// The setting `key`, a JSON value read as a `T`; `None` when it was never written.
    pub(super) async fn read_json_setting<T: DeserializeOwned>(
        &self,
        key: &'static str,
        what: &'static str,
    ) -> Result<Option<T>, StoreError> {
        let text = self.read_setting(key, what).await?;
        text.map(|t| from_json("settings.value", &t)).transpose()
    }

    /// The setting `key`'s `value`, sealed to be written.
    pub(super) fn seal_setting(&self, key: &'static str, value: &str) -> Vec<u8> {
        self.keys.seal(setting(key).of(key), value)
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
