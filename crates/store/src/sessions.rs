//! The clinician's sign-in sessions, kept server-side in the practice's database.
//!
//! Any server can read a session another server wrote, and signing out deletes it for all of
//! them. The session's record (who is signed in, when, the CSRF secret) is sealed like every
//! other stored value; the expiry is kept in the clear so expired sessions can be deleted in
//! one statement, and the account's id so that changing its credentials deletes its sessions.
//! This implements `tower_sessions`' store trait over both engines, so the sessions follow the
//! practice's data to whichever engine it lives on.
//!
//! Only `create` inserts a row. `save`, which runs at the end of every admin request, updates
//! the row if it is still there and otherwise does nothing: a slow request that began before
//! its session was deleted (signed out elsewhere, its account removed or its credentials
//! changed) must not write the session back as it ends.

use async_trait::async_trait;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion};

use super::engine::on_db;
use super::fields::SESSION;
use super::{Store, ms};

/// The session store: a [`Store`] seen through `tower_sessions`' eyes.
#[derive(Clone)]
pub struct SessionStore {
    store: Store,
}

impl std::fmt::Debug for SessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionStore")
            .field("engine", &self.store.engine())
            .finish()
    }
}

impl Store {
    /// The sign-in sessions kept in this store.
    pub fn sessions(&self) -> SessionStore {
        SessionStore {
            store: self.clone(),
        }
    }

    /// How many session rows there are (expired or not), and how many belong to `account_id`.
    pub async fn session_counts(&self, account_id: i64) -> Result<(i64, i64), super::StoreError> {
        Ok(on_db!(&self.db, pool => {
            let all: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM admin_sessions")
                .fetch_one(pool)
                .await?;
            let mine: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM admin_sessions WHERE account_id = $1")
                    .bind(account_id)
                    .fetch_one(pool)
                    .await?;
            (all, mine)
        }))
    }
}

fn backend(e: impl std::fmt::Display) -> session_store::Error {
    session_store::Error::Backend(e.to_string())
}

/// The account a session belongs to (signed in, or waiting for its code), kept beside the sealed
/// record so that changing the account's credentials can delete its sessions.
fn account_of(record: &Record) -> Option<i64> {
    let data = record.data.get("admin")?;
    ["account_id", "pending_account_id"]
        .into_iter()
        .find_map(|k| data.get(k).and_then(serde_json::Value::as_i64))
}

fn expires_ms(record: &Record) -> i64 {
    record.expiry_date.unix_timestamp().saturating_mul(1000)
}

impl SessionStore {
    fn seal(&self, record: &Record) -> session_store::Result<Vec<u8>> {
        let json = serde_json::to_string(record)
            .map_err(|e| session_store::Error::Encode(e.to_string()))?;
        let id = record.id.to_string();
        Ok(self.store.keys.seal(SESSION.of(id.as_str()), &json))
    }

    /// Runs `sql` with the session's id, sealed record, expiry and account as `$1`…`$4`;
    /// returns how many rows it changed.
    async fn write(&self, sql: &str, record: &Record) -> session_store::Result<u64> {
        let sealed = self.seal(record)?;
        let id = record.id.to_string();
        let expires = expires_ms(record);
        Ok(on_db!(&self.store.db, pool => sqlx::query(sql)
            .bind(id)
            .bind(sealed)
            .bind(expires)
            .bind(account_of(record))
            .execute(pool)
            .await
            .map_err(backend)?
            .rows_affected()))
    }

    /// Writes a new session; false if the id is taken.
    async fn insert(&self, record: &Record) -> session_store::Result<bool> {
        let sql = "INSERT INTO admin_sessions (id, record_sealed, expires_at, account_id)
                   VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING";
        Ok(self.write(sql, record).await? == 1)
    }
}

#[async_trait]
impl session_store::SessionStore for SessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // Ids are 128 random bits; a collision is drawn again rather than overwriting.
        for _ in 0..8 {
            if self.insert(record).await? {
                return Ok(());
            }
            record.id = Id::default();
        }
        Err(backend("cannot draw an unused session id"))
    }

    /// Updates an existing session; one whose row is gone stays gone (see the module's
    /// comment). The request still gets its answer; its cookie opens nothing afterwards.
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let sql = "UPDATE admin_sessions SET record_sealed = $2, expires_at = $3, account_id = $4
                   WHERE id = $1";
        self.write(sql, record).await?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let now = ms(jiff::Timestamp::now());
        let sealed: Option<Vec<u8>> = on_db!(&self.store.db, pool => sqlx::query_scalar(
            "SELECT record_sealed FROM admin_sessions WHERE id = $1 AND expires_at > $2",
        )
        .bind(id.to_string())
        .bind(now)
        .fetch_optional(pool)
        .await
        .map_err(backend)?);
        let Some(sealed) = sealed else {
            return Ok(None);
        };
        let json = self
            .store
            .keys
            .open(SESSION.of(id.to_string().as_str()), &sealed)
            .map_err(|e| session_store::Error::Decode(e.to_string()))?;
        let record =
            serde_json::from_str(&json).map_err(|e| session_store::Error::Decode(e.to_string()))?;
        Ok(Some(record))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        on_db!(&self.store.db, pool => sqlx::query("DELETE FROM admin_sessions WHERE id = $1")
            .bind(id.to_string())
            .execute(pool)
            .await
            .map_err(backend)?
            .rows_affected());
        Ok(())
    }
}

#[async_trait]
impl ExpiredDeletion for SessionStore {
    async fn delete_expired(&self) -> session_store::Result<()> {
        let now = ms(jiff::Timestamp::now());
        on_db!(&self.store.db, pool => sqlx::query("DELETE FROM admin_sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(pool)
            .await
            .map_err(backend)?
            .rows_affected());
        Ok(())
    }
}
