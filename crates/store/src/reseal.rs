//! Re-sealing: after a key rotation, every sealed value is sealed again under the current key,
//! so the previous key can be retired (`kap-practice keys reseal`). Values sealed before values
//! were bound to their rows (format 1) are sealed again too, bound to their rows.
//!
//! Values are read in batches by key, each batch in its own transaction, and only values sealed
//! under another key than the current one are written (with their old bytes in the `WHERE`, so
//! a value changed meanwhile by a server is left as that server wrote it). Running it again
//! finds nothing to do; stopping it half-way loses nothing.

use super::engine::{Columns, on_db};
use super::fields::{
    BOOKING_MESSAGE, DOCUMENT_TEXT, EMAIL, ESTIMATE, HISTORY_NOTE, MESSAGE, NAME, NOTE, PHONE,
    QUESTIONNAIRE_ANSWERS, RECIPIENT, REFERRAL_SOURCE, SESSION, SIGNATURE, TOTP_SECRET, setting,
};
use super::{KEY_CHECK, Store, StoreError};
use crypto::{FIELD_BOUND, RowKey, SealedField};

/// How many rows are read and written per transaction.
const BATCH: i64 = 500;

/// Writes `$fresh` over the sealed value of row `$row` on `$tx` with `$sql` (`$1` the new
/// value, `$2` the row, `$3` the old value), only where the row still holds `$old`: how many
/// rows changed.
macro_rules! replace {
    ($tx:ident, $sql:expr, $fresh:expr, $row:expr, $old:expr) => {
        async {
            sqlx::query($sql)
                .bind($fresh)
                .bind($row)
                .bind($old)
                .execute(&mut *$tx)
                .await
                .map(|done| done.rows_affected())
        }
    };
}

/// Reads on `$db` the batch of rows `$select` gives after key `$after` (`$1`; `$2` is the
/// batch's size) and hands each to `$each`, with the batch's transaction open as `$tx`; the
/// block gives the row's key and how many values it sealed again. Commits, then gives the last
/// key read (none when the batch was empty) and the batch's count, as [`in_batches`] takes them.
macro_rules! batch {
    ($db:expr, $select:expr, $after:expr, |$tx:ident, $row:ident| $each:block) => {
        Ok(on_db!($db, pool => {
            let mut $tx = pool.begin().await?;
            let rows = sqlx::query($select)
                .bind($after)
                .bind(BATCH)
                .fetch_all(&mut *$tx)
                .await?;
            let mut last = None;
            let mut done = 0;
            for $row in &rows {
                let (key, n) = $each;
                last = Some(key);
                done += n;
            }
            $tx.commit().await?;
            (last, done)
        }))
    };
}

/// Runs `batch` from key `after` on, each time from the last key the one before read, until one
/// reads nothing: how many values all of them sealed again.
async fn in_batches<K, F, B>(mut after: K, mut batch: F) -> Result<u64, StoreError>
where
    F: FnMut(K) -> B,
    B: Future<Output = Result<(Option<K>, u64), StoreError>>,
{
    let mut done = 0;
    loop {
        let (last, n) = batch(after).await?;
        done += n;
        match last {
            Some(key) => after = key,
            None => return Ok(done),
        }
    }
}

/// What a column's values are bound to (see `fields.rs`).
enum BoundTo {
    /// The row's own id.
    Id,
    /// The link secret of the request the row is, or is about: an SQL expression over the
    /// table (`t`) and the join that reaches it.
    Request {
        link_secret: &'static str,
        join: &'static str,
    },
}

/// A column of sealed values, in a table whose rows are found by an integer `id`.
struct SealedColumn {
    field: SealedField,
    bound_to: BoundTo,
}

const THE_REQUEST: BoundTo = BoundTo::Request {
    link_secret: "t.link_secret",
    join: "",
};

/// Every sealed column with an integer key.
const COLUMNS: &[SealedColumn] = &[
    SealedColumn {
        field: NAME,
        bound_to: THE_REQUEST,
    },
    SealedColumn {
        field: EMAIL,
        bound_to: THE_REQUEST,
    },
    SealedColumn {
        field: PHONE,
        bound_to: THE_REQUEST,
    },
    SealedColumn {
        field: MESSAGE,
        bound_to: THE_REQUEST,
    },
    SealedColumn {
        field: REFERRAL_SOURCE,
        bound_to: THE_REQUEST,
    },
    SealedColumn {
        field: RECIPIENT,
        bound_to: BoundTo::Request {
            link_secret: "r.link_secret",
            join: "LEFT JOIN consultation_requests r ON r.id = t.request_id",
        },
    },
    SealedColumn {
        field: NOTE,
        bound_to: BoundTo::Id,
    },
    SealedColumn {
        field: BOOKING_MESSAGE,
        bound_to: BoundTo::Id,
    },
    SealedColumn {
        field: TOTP_SECRET,
        bound_to: BoundTo::Id,
    },
    SealedColumn {
        field: QUESTIONNAIRE_ANSWERS,
        bound_to: BoundTo::Id,
    },
    SealedColumn {
        field: HISTORY_NOTE,
        bound_to: BoundTo::Id,
    },
    SealedColumn {
        field: DOCUMENT_TEXT,
        bound_to: BoundTo::Id,
    },
    SealedColumn {
        field: SIGNATURE,
        bound_to: BoundTo::Id,
    },
    SealedColumn {
        field: ESTIMATE,
        bound_to: BoundTo::Id,
    },
];

/// Settings whose value is sealed, bound to the setting's key.
const SEALED_SETTINGS: &[&str] = &[
    KEY_CHECK,
    super::bookings::CALENDAR_FEED,
    super::questionnaires::OFFERED,
    super::questionnaires::MAIL_CHECK,
    super::backups::SAVED_SETTINGS,
];

impl Store {
    /// Seals again, under the current key and bound to its row, every stored value sealed
    /// under a previous key or before values were bound to their rows: requests, mail, notes,
    /// booking messages, questionnaire answers, two-factor secrets, sessions and sealed
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

    /// Whether any stored value was sealed before values were bound to their rows, so that
    /// `kap-practice keys reseal` has format-1 values to bind. Reads only each value's first
    /// byte (its format), opening nothing.
    pub async fn has_unbound_values(&self) -> Result<bool, StoreError> {
        let sealed_settings = format!("key IN ('{}') AND", SEALED_SETTINGS.join("', '"));
        let columns = COLUMNS
            .iter()
            .map(|c| (c.field.table(), c.field.column(), ""))
            .chain([
                ("admin_sessions", "record_sealed", ""),
                ("settings", "value", sealed_settings.as_str()),
            ]);
        for (table, column, only) in columns {
            let sql =
                format!("SELECT 1 FROM {table} WHERE {only} substr({column}, 1, 1) = $1 LIMIT 1");
            let found: Option<i32> = on_db!(&self.db, pool => {
                sqlx::query_scalar(&sql)
                    .bind(vec![FIELD_BOUND])
                    .fetch_optional(pool)
                    .await?
            });
            if found.is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The value sealed again under the current key for `field` in row `row`, if it was sealed
    /// under another key or without its row.
    fn resealed(
        &self,
        field: SealedField,
        row: RowKey<'_>,
        sealed: &[u8],
    ) -> Result<Option<Vec<u8>>, StoreError> {
        if !self.keys.needs_reseal(sealed) {
            return Ok(None);
        }
        let plain = self.unseal(field, row, sealed)?;
        Ok(Some(self.keys.seal(field.of(row), &plain)))
    }

    async fn reseal_column(&self, c: &SealedColumn) -> Result<u64, StoreError> {
        let (row_key, join) = match c.bound_to {
            BoundTo::Id => ("NULL", ""),
            BoundTo::Request { link_secret, join } => (link_secret, join),
        };
        let select = format!(
            "SELECT t.id AS id, {row_key} AS row_key, t.{col} AS sealed FROM {table} t {join}
             WHERE t.id > $1 AND t.{col} IS NOT NULL ORDER BY t.id LIMIT $2",
            col = c.field.column(),
            table = c.field.table()
        );
        let update = format!(
            "UPDATE {table} SET {col} = $1 WHERE id = $2 AND {col} = $3",
            col = c.field.column(),
            table = c.field.table()
        );
        let (select, update) = (&select, &update);
        in_batches(0i64, |after| async move {
            batch!(&self.db, select, after, |tx, row| {
                let id: i64 = row.col("id")?;
                let sealed: Vec<u8> = row.col("sealed")?;
                let link_secret: Option<String> = match c.bound_to {
                    BoundTo::Id => None,
                    BoundTo::Request { .. } => {
                        Some(row.col::<Option<String>>("row_key")?.unwrap_or_default())
                    }
                };
                let key = match &link_secret {
                    Some(secret) => RowKey::Text(secret),
                    None => RowKey::Id(id),
                };
                let n = match self.resealed(c.field, key, &sealed)? {
                    Some(fresh) => replace!(tx, update, fresh, id, sealed).await?,
                    None => 0,
                };
                (id, n)
            })
        })
        .await
    }

    async fn reseal_sessions(&self) -> Result<u64, StoreError> {
        const UPDATE: &str =
            "UPDATE admin_sessions SET record_sealed = $1 WHERE id = $2 AND record_sealed = $3";
        const SELECT: &str =
            "SELECT id, record_sealed FROM admin_sessions WHERE id > $1 ORDER BY id LIMIT $2";
        in_batches(String::new(), |after| async move {
            batch!(&self.db, SELECT, &after, |tx, row| {
                let id: String = row.col("id")?;
                let sealed: Vec<u8> = row.col("record_sealed")?;
                let n = match self.resealed(SESSION, RowKey::Text(&id), &sealed)? {
                    Some(fresh) => replace!(tx, UPDATE, fresh, &id, sealed).await?,
                    None => 0,
                };
                (id, n)
            })
        })
        .await
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
                && let Some(fresh) = self.resealed(setting(key), RowKey::Text(key), &sealed)?
            {
                n = replace!(
                    tx,
                    "UPDATE settings SET value = $1 WHERE key = $2 AND value = $3",
                    fresh,
                    key,
                    sealed
                )
                .await?;
            }
            tx.commit().await?;
            n
        }))
    }
}
