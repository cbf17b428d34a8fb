//! The SQLite engine: one file in the data directory, WAL mode, `synchronous=FULL`.
//!
//! One connection does all the work: SQLite has a single writer anyway, and a single connection
//! means no "database is locked" retries. Each acknowledged write is one committed transaction,
//! whose WAL frame is fsynced before the commit returns.

use std::path::Path;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};

use super::sealed::Keyring;
use super::{
    ClaimedMail, Delivery, Inserted, MailKind, OutboxCounts, StoreError, StoredRequest, Submission,
    new_reference,
};
use crate::practice::consultation::{AgeGroup, ContactMethod, Flags, Location};

/// The sealed marker that tells which key a database was written with.
const KEY_CHECK: &str = "key_check";

/// The practice's storage.
#[derive(Clone)]
pub struct Store {
    pub(super) pool: SqlitePool,
    pub(super) keys: Keyring,
}

pub(super) fn ms(t: Timestamp) -> i64 {
    t.as_millisecond()
}

pub(super) fn from_ms(v: i64) -> Timestamp {
    Timestamp::from_millisecond(v).unwrap_or(Timestamp::UNIX_EPOCH)
}

impl Store {
    /// Opens (creating if needed) the SQLite database in `data_dir`, applies migrations, and
    /// checks that `keys` is the key the data was written with.
    pub async fn open_sqlite(data_dir: &Path, keys: Keyring) -> Result<Store, StoreError> {
        super::create_private_dir(data_dir).map_err(|source| StoreError::DataDir {
            path: data_dir.display().to_string(),
            source,
        })?;
        let store = Self::open(&data_dir.join(super::DATABASE_FILE), keys).await?;
        store.check_key().await?;
        Ok(store)
    }

    async fn open(path: &Path, keys: Keyring) -> Result<Store, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(Store { pool, keys })
    }

    /// The data keys personal fields are sealed with.
    pub fn keys(&self) -> &Keyring {
        &self.keys
    }

    /// The connection pool, for the session store that shares this database.
    pub fn sqlite_pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Refuses a key other than the one the database was written with.
    async fn check_key(&self) -> Result<(), StoreError> {
        let row = sqlx::query("SELECT value FROM settings WHERE key = ?")
            .bind(KEY_CHECK)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => {
                let value: Vec<u8> = row.try_get("value")?;
                self.keys
                    .open(KEY_CHECK, &value)
                    .map(|_| ())
                    .map_err(|_| StoreError::WrongKey {
                        current: self.keys.current_id(),
                    })
            }
            None => {
                sqlx::query("INSERT INTO settings (key, value) VALUES (?, ?)")
                    .bind(KEY_CHECK)
                    .bind(self.keys.seal(KEY_CHECK, "kap-practice"))
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }
        }
    }

    /// Stores a request, its first history entry and its mail in one transaction; returns once
    /// the commit is durable.
    pub async fn insert(&self, s: &Submission<'_>, now: Timestamp) -> Result<Inserted, StoreError> {
        let r = s.request;
        let k = &self.keys;
        let seal_opt = |field: &str, v: &Option<String>| v.as_ref().map(|v| k.seal(field, v));
        let mut tx = self.pool.begin().await?;
        let mut attempt = 0;
        let (id, reference) = loop {
            let reference = new_reference();
            let result = sqlx::query(
                "INSERT INTO consultation_requests
                 (reference, received_at, spam, spam_reason, contact_method, location, age_group,
                  outside_licensed_states, minor, name_sealed, email_sealed, phone_sealed,
                  message_sealed, referral_source_sealed)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&reference)
            .bind(ms(now))
            .bind(s.spam.is_some())
            .bind(s.spam.map(|r| r.as_str()))
            .bind(r.contact_method.as_str())
            .bind(r.location.as_str())
            .bind(r.age_group.as_str())
            .bind(r.flags.outside_licensed_states)
            .bind(r.flags.minor)
            .bind(k.seal("name", &r.name))
            .bind(k.seal("email", &r.email))
            .bind(seal_opt("phone", &r.phone))
            .bind(seal_opt("message", &r.message))
            .bind(seal_opt("referral_source", &r.referral_source))
            .execute(&mut *tx)
            .await;
            match result {
                Ok(done) => break (done.last_insert_rowid(), reference),
                // A reference collision (one in a trillion): draw another.
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() && attempt < 3 => {
                    attempt += 1
                }
                Err(e) => return Err(e.into()),
            }
        };
        sqlx::query("INSERT INTO request_history (request_id, at, actor, event) VALUES (?, ?, 'visitor', 'received')")
            .bind(id)
            .bind(ms(now))
            .execute(&mut *tx)
            .await?;
        for kind in s.mail {
            let recipient = match kind {
                MailKind::Acknowledgement => Some(k.seal("recipient", &r.email)),
                MailKind::NewRequestNotice => None,
            };
            sqlx::query(
                "INSERT INTO outbox (kind, request_id, recipient_sealed, created_at, next_attempt_at)
                 VALUES (?, ?, ?, ?, ?)",
            )
            .bind(kind.as_str())
            .bind(id)
            .bind(recipient)
            .bind(ms(now))
            .bind(ms(now))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(Inserted { id, reference })
    }

    /// Every request, oldest first, opened.
    pub async fn all_requests(&self) -> Result<Vec<StoredRequest>, StoreError> {
        let rows = sqlx::query("SELECT * FROM consultation_requests ORDER BY received_at, id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|row| self.open_request(row)).collect()
    }

    pub(super) fn open_request(&self, row: &SqliteRow) -> Result<StoredRequest, StoreError> {
        let open = |field: &'static str, column: &str| -> Result<String, StoreError> {
            let v: Vec<u8> = row.try_get(column)?;
            self.keys
                .open(field, &v)
                .map_err(|source| StoreError::Sealed { field, source })
        };
        let open_opt = |field: &'static str, column: &str| -> Result<Option<String>, StoreError> {
            let v: Option<Vec<u8>> = row.try_get(column)?;
            v.map(|v| {
                self.keys
                    .open(field, &v)
                    .map_err(|source| StoreError::Sealed { field, source })
            })
            .transpose()
        };
        let spam: bool = row.try_get("spam")?;
        let spam_reason: Option<String> = row.try_get("spam_reason")?;
        let contact_method: String = row.try_get("contact_method")?;
        let location: String = row.try_get("location")?;
        let age_group: String = row.try_get("age_group")?;
        Ok(StoredRequest {
            id: row.try_get("id")?,
            reference: row.try_get("reference")?,
            received_at: from_ms(row.try_get("received_at")?),
            status: row.try_get("status")?,
            closed_reason: row.try_get("closed_reason")?,
            spam: spam.then(|| spam_reason.unwrap_or_else(|| "spam".into())),
            contact_method: ContactMethod::parse(&contact_method).unwrap_or(ContactMethod::Either),
            location: Location::parse(&location).unwrap_or(Location::OutsideUs),
            age_group: AgeGroup::parse(&age_group).unwrap_or(AgeGroup::Adult),
            flags: Flags {
                outside_licensed_states: row.try_get("outside_licensed_states")?,
                minor: row.try_get("minor")?,
            },
            name: open("name", "name_sealed")?,
            email: open("email", "email_sealed")?,
            phone: open_opt("phone", "phone_sealed")?,
            message: open_opt("message", "message_sealed")?,
            referral_source: open_opt("referral_source", "referral_source_sealed")?,
        })
    }

    /// Claims up to `limit` pieces of mail that are due, leasing them for `lease` so no other
    /// worker takes them meanwhile.
    pub async fn claim_due_mail(
        &self,
        now: Timestamp,
        lease: SignedDuration,
        limit: i64,
    ) -> Result<Vec<ClaimedMail>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query(
            "SELECT o.id, o.kind, o.recipient_sealed, o.attempts, o.permanent_failures,
                    r.reference, r.received_at
             FROM outbox o LEFT JOIN consultation_requests r ON r.id = o.request_id
             WHERE o.status = 'pending' AND o.next_attempt_at <= ?
               AND (o.claimed_until IS NULL OR o.claimed_until <= ?)
             ORDER BY o.next_attempt_at, o.id
             LIMIT ?",
        )
        .bind(ms(now))
        .bind(ms(now))
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        let until = ms(now.checked_add(lease).unwrap_or(now));
        let mut claimed = Vec::with_capacity(rows.len());
        for row in rows {
            let id: i64 = row.try_get("id")?;
            sqlx::query("UPDATE outbox SET claimed_until = ? WHERE id = ?")
                .bind(until)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            let kind: String = row.try_get("kind")?;
            let Some(kind) = MailKind::parse(&kind) else {
                continue;
            };
            let recipient: Option<Vec<u8>> = row.try_get("recipient_sealed")?;
            let recipient = recipient
                .map(|v| {
                    self.keys
                        .open("recipient", &v)
                        .map_err(|source| StoreError::Sealed {
                            field: "recipient",
                            source,
                        })
                })
                .transpose()?;
            let received_at: Option<i64> = row.try_get("received_at")?;
            claimed.push(ClaimedMail {
                id,
                kind,
                recipient,
                reference: row.try_get("reference")?,
                received_at: received_at.map(from_ms),
                attempts: row.try_get("attempts")?,
                permanent_failures: row.try_get("permanent_failures")?,
            });
        }
        tx.commit().await?;
        Ok(claimed)
    }

    /// Records the outcome of one sending attempt.
    pub async fn record_delivery(
        &self,
        id: i64,
        delivery: &Delivery,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let q = match delivery {
            Delivery::Sent => sqlx::query(
                "UPDATE outbox SET status = 'sent', sent_at = ?, attempts = attempts + 1,
                 claimed_until = NULL, last_error = NULL WHERE id = ?",
            )
            .bind(ms(now))
            .bind(id),
            Delivery::Retry {
                next_attempt_at,
                permanent,
                error,
            } => sqlx::query(
                "UPDATE outbox SET attempts = attempts + 1, permanent_failures = permanent_failures + ?,
                 next_attempt_at = ?, claimed_until = NULL, last_error = ? WHERE id = ?",
            )
            .bind(i64::from(*permanent))
            .bind(ms(*next_attempt_at))
            .bind(error.clone())
            .bind(id),
            Delivery::Failed { error } => sqlx::query(
                "UPDATE outbox SET status = 'failed', attempts = attempts + 1,
                 permanent_failures = permanent_failures + 1, claimed_until = NULL, last_error = ?
                 WHERE id = ?",
            )
            .bind(error.clone())
            .bind(id),
        };
        q.execute(&self.pool).await?;
        Ok(())
    }

    /// When the next pending mail is due, if any.
    pub async fn next_mail_due(&self) -> Result<Option<Timestamp>, StoreError> {
        let v: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(MAX(next_attempt_at, COALESCE(claimed_until, 0))) FROM outbox WHERE status = 'pending'",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(v.map(from_ms))
    }

    /// Outbox rows by state.
    pub async fn outbox_counts(&self) -> Result<OutboxCounts, StoreError> {
        let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM outbox GROUP BY status")
            .fetch_all(&self.pool)
            .await?;
        let mut c = OutboxCounts::default();
        for row in rows {
            let status: String = row.try_get("status")?;
            let n: i64 = row.try_get("n")?;
            match status.as_str() {
                "pending" => c.pending = n,
                "sent" => c.sent = n,
                "failed" => c.failed = n,
                _ => {}
            }
        }
        Ok(c)
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// A consistent copy of the database, taken while it is in use (`VACUUM INTO`).
    pub async fn backup_to(&self, path: &Path) -> Result<(), StoreError> {
        sqlx::query("VACUUM INTO ?")
            .bind(path.display().to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Closes the connection, checkpointing the WAL.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
