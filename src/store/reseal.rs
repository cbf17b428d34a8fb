//! Re-sealing: after a key rotation, every sealed value is sealed again under the current key,
//! so the previous key can be retired (`kap-practice keys reseal`).
//!
//! Values are read in batches by key, each batch in its own transaction, and only values sealed
//! under another key than the current one are written (with their old bytes in the `WHERE`, so
//! a value changed meanwhile by a server is left as that server wrote it). Running it again
//! finds nothing to do; stopping it half-way loses nothing.

use super::engine::{Columns, on_db};
use super::{KEY_CHECK, Store, StoreError};

/// How many rows are read and written per transaction.
const BATCH: i64 = 500;

/// A column of sealed values, in a table whose rows are found by an integer `id`.
struct SealedColumn {
    table: &'static str,
    column: &'static str,
    /// The name the values are sealed under.
    field: &'static str,
}

const fn col(table: &'static str, column: &'static str, field: &'static str) -> SealedColumn {
    SealedColumn {
        table,
        column,
        field,
    }
}

/// Every sealed column with an integer key.
const COLUMNS: &[SealedColumn] = &[
    col("consultation_requests", "name_sealed", "name"),
    col("consultation_requests", "email_sealed", "email"),
    col("consultation_requests", "phone_sealed", "phone"),
    col("consultation_requests", "message_sealed", "message"),
    col(
        "consultation_requests",
        "referral_source_sealed",
        "referral_source",
    ),
    col("outbox", "recipient_sealed", "recipient"),
    col("request_notes", "body_sealed", "note"),
    col("booking_changes", "message_sealed", "booking_message"),
    col("admin_accounts", "totp_secret_sealed", "totp_secret"),
];

/// Settings whose value is sealed under the setting's own name.
const SEALED_SETTINGS: &[&str] = &[KEY_CHECK, super::bookings::CALENDAR_FEED];

impl Store {
    /// Seals again, under the current key, every stored value sealed under a previous one:
    /// requests, mail, notes, booking messages, two-factor secrets, sessions and sealed
    /// settings. Returns how many values were re-sealed.
    pub async fn reseal_all(&self) -> Result<u64, StoreError> {
        let mut done = 0;
        for c in COLUMNS {
            done += self.reseal_column(c).await?;
        }
        done += self.reseal_sessions().await?;
        for key in SEALED_SETTINGS {
            done += self.reseal_setting(key).await?;
        }
        Ok(done)
    }

    /// The value sealed again under the current key, if it was sealed under another.
    fn resealed(&self, field: &'static str, sealed: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        if !self.keys.needs_reseal(sealed) {
            return Ok(None);
        }
        let plain = self
            .keys
            .open(field, sealed)
            .map_err(|source| StoreError::Sealed { field, source })?;
        Ok(Some(self.keys.seal(field, &plain)))
    }

    async fn reseal_column(&self, c: &SealedColumn) -> Result<u64, StoreError> {
        let select = format!(
            "SELECT id, {col} AS sealed FROM {table} WHERE id > $1 AND {col} IS NOT NULL ORDER BY id LIMIT $2",
            col = c.column,
            table = c.table
        );
        let update = format!(
            "UPDATE {table} SET {col} = $1 WHERE id = $2 AND {col} = $3",
            col = c.column,
            table = c.table
        );
        let mut after = 0i64;
        let mut done = 0;
        loop {
            let (last, n) = on_db!(&self.db, pool => {
                let mut tx = pool.begin().await?;
                let rows = sqlx::query(&select)
                    .bind(after)
                    .bind(BATCH)
                    .fetch_all(&mut *tx)
                    .await?;
                let mut last = None;
                let mut n = 0;
                for row in &rows {
                    let id: i64 = row.col("id")?;
                    let sealed: Vec<u8> = row.col("sealed")?;
                    last = Some(id);
                    if let Some(fresh) = self.resealed(c.field, &sealed)? {
                        n += sqlx::query(&update)
                            .bind(fresh)
                            .bind(id)
                            .bind(sealed)
                            .execute(&mut *tx)
                            .await?
                            .rows_affected();
                    }
                }
                tx.commit().await?;
                (last, n)
            });
            done += n;
            match last {
                Some(id) => after = id,
                None => return Ok(done),
            }
        }
    }

    async fn reseal_sessions(&self) -> Result<u64, StoreError> {
        let mut after = String::new();
        let mut done = 0;
        loop {
            let (last, n) = on_db!(&self.db, pool => {
                let mut tx = pool.begin().await?;
                let rows = sqlx::query(
                    "SELECT id, record_sealed FROM admin_sessions WHERE id > $1 ORDER BY id LIMIT $2",
                )
                .bind(&after)
                .bind(BATCH)
                .fetch_all(&mut *tx)
                .await?;
                let mut last = None;
                let mut n = 0;
                for row in &rows {
                    let id: String = row.col("id")?;
                    let sealed: Vec<u8> = row.col("record_sealed")?;
                    if let Some(fresh) = self.resealed("session", &sealed)? {
                        n += sqlx::query(
                            "UPDATE admin_sessions SET record_sealed = $1 WHERE id = $2 AND record_sealed = $3",
                        )
                        .bind(fresh)
                        .bind(&id)
                        .bind(sealed)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    }
                    last = Some(id);
                }
                tx.commit().await?;
                (last, n)
            });
            done += n;
            match last {
                Some(id) => after = id,
                None => return Ok(done),
            }
        }
    }

    async fn reseal_setting(&self, key: &'static str) -> Result<u64, StoreError> {
        Ok(on_db!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            let sealed: Option<Vec<u8>> =
                sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
                    .bind(key)
                    .fetch_optional(&mut *tx)
                    .await?;
            let mut n = 0;
            if let Some(sealed) = sealed
                && let Some(fresh) = self.resealed(key, &sealed)?
            {
                n = sqlx::query("UPDATE settings SET value = $1 WHERE key = $2 AND value = $3")
                    .bind(fresh)
                    .bind(key)
                    .bind(sealed)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            }
            tx.commit().await?;
            n
        }))
    }
}
