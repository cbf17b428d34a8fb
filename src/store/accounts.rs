//! Clinician accounts, two-factor secrets, recovery codes and sign-in throttling.

use jiff::Timestamp;
use sqlx::Row;

use super::sqlite::{from_ms, ms};
use super::{Store, StoreError};
use crate::audit;

/// An account as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub id: i64,
    pub email: String,
    pub created_at: Timestamp,
    pub two_factor: bool,
}

/// What sign-in needs to know about an account.
#[derive(Clone)]
pub struct Credentials {
    pub id: i64,
    pub email: String,
    pub password_hash: String,
    pub totp_secret: Option<Vec<u8>>,
    pub totp_last_step: Option<i64>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Adds an account; `Ok(None)` when the email is already taken.
    pub async fn add_account(
        &self,
        email: &str,
        password_hash: &str,
        now: Timestamp,
        audit: &audit::Entry,
    ) -> Result<Option<i64>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let result = sqlx::query("INSERT INTO admin_accounts (email, password_hash, created_at, password_changed_at) VALUES (?, ?, ?, ?)")
            .bind(email)
            .bind(password_hash)
            .bind(ms(now))
            .bind(ms(now))
            .execute(&mut *tx)
            .await;
        let id = match result {
            Ok(done) => done.last_insert_rowid(),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        Self::write_audit(&mut tx, audit, now).await?;
        tx.commit().await?;
        Ok(Some(id))
    }

    /// Replaces an account's password; false when there is no such account.
    pub async fn set_password(
        &self,
        email: &str,
        password_hash: &str,
        now: Timestamp,
        audit: &audit::Entry,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE admin_accounts SET password_hash = ?, password_changed_at = ? WHERE email = ?",
        )
        .bind(password_hash)
        .bind(ms(now))
        .bind(email)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        Self::write_audit(&mut tx, audit, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Removes an account; false when there is no such account.
    pub async fn remove_account(
        &self,
        email: &str,
        now: Timestamp,
        audit: &audit::Entry,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("DELETE FROM admin_accounts WHERE email = ?")
            .bind(email)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        Self::write_audit(&mut tx, audit, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    pub async fn list_accounts(&self) -> Result<Vec<Account>, StoreError> {
        let rows = sqlx::query("SELECT id, email, created_at, totp_secret_sealed IS NOT NULL AS two_factor FROM admin_accounts ORDER BY email")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Account {
                    id: r.try_get("id")?,
                    email: r.try_get("email")?,
                    created_at: from_ms(r.try_get("created_at")?),
                    two_factor: r.try_get("two_factor")?,
                })
            })
            .collect()
    }

    pub async fn credentials(&self, email: &str) -> Result<Option<Credentials>, StoreError> {
        let row = sqlx::query("SELECT id, email, password_hash, totp_secret_sealed, totp_last_step FROM admin_accounts WHERE email = ?")
            .bind(email.trim())
            .fetch_optional(&self.pool)
            .await?;
        let Some(r) = row else { return Ok(None) };
        let sealed: Option<Vec<u8>> = r.try_get("totp_secret_sealed")?;
        let totp_secret = sealed
            .map(|v| {
                self.keys
                    .open("totp_secret", &v)
                    .map_err(|source| StoreError::Sealed {
                        field: "totp_secret",
                        source,
                    })
                    .and_then(|hex| {
                        super::sealed::unhex(&hex).ok_or(StoreError::Sealed {
                            field: "totp_secret",
                            source: super::OpenError::Malformed,
                        })
                    })
            })
            .transpose()?;
        Ok(Some(Credentials {
            id: r.try_get("id")?,
            email: r.try_get("email")?,
            password_hash: r.try_get("password_hash")?,
            totp_secret,
            totp_last_step: r.try_get("totp_last_step")?,
        }))
    }

    /// Turns on two-factor sign-in with `secret`, replacing any recovery codes.
    pub async fn enable_two_factor(
        &self,
        account_id: i64,
        secret: &[u8],
        step: i64,
        recovery_hashes: &[String],
        now: Timestamp,
        audit: &audit::Entry,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE admin_accounts SET totp_secret_sealed = ?, totp_last_step = ? WHERE id = ?",
        )
        .bind(self.keys.seal("totp_secret", &super::sealed::hex(secret)))
        .bind(step)
        .bind(account_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM recovery_codes WHERE account_id = ?")
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
        for h in recovery_hashes {
            sqlx::query("INSERT INTO recovery_codes (account_id, code_hash) VALUES (?, ?)")
                .bind(account_id)
                .bind(h)
                .execute(&mut *tx)
                .await?;
        }
        Self::write_audit(&mut tx, audit, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records the step of an accepted code; false if that step (or a later one) was used
    /// already, which means the code is a replay.
    pub async fn use_totp_step(&self, account_id: i64, step: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE admin_accounts SET totp_last_step = ? WHERE id = ? AND (totp_last_step IS NULL OR totp_last_step < ?)")
            .bind(step)
            .bind(account_id)
            .bind(step)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Uses up a recovery code; false when it is unknown or used already.
    pub async fn use_recovery_code(
        &self,
        account_id: i64,
        code_hash: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE recovery_codes SET used_at = ? WHERE account_id = ? AND code_hash = ? AND used_at IS NULL")
            .bind(ms(now))
            .bind(account_id)
            .bind(code_hash)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() >= 1)
    }

    pub async fn unused_recovery_codes(&self, account_id: i64) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM recovery_codes WHERE account_id = ? AND used_at IS NULL",
        )
        .bind(account_id)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Records a failed sign-in against each subject (`account:…`, `ip:…`).
    pub async fn record_sign_in_failure(
        &self,
        subjects: &[String],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for s in subjects {
            sqlx::query("INSERT INTO sign_in_failures (subject, at) VALUES (?, ?)")
                .bind(s)
                .bind(ms(now))
                .execute(&mut *tx)
                .await?;
        }
        // Old failures no longer matter.
        sqlx::query("DELETE FROM sign_in_failures WHERE at < ?")
            .bind(ms(now) - 24 * 3600 * 1000)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Failures for `subject` since `since`, and the time of the latest.
    pub async fn sign_in_failures(
        &self,
        subject: &str,
        since: Timestamp,
    ) -> Result<(i64, Option<Timestamp>), StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n, MAX(at) AS latest FROM sign_in_failures WHERE subject = ? AND at >= ?")
            .bind(subject)
            .bind(ms(since))
            .fetch_one(&self.pool)
            .await?;
        let latest: Option<i64> = row.try_get("latest")?;
        Ok((row.try_get("n")?, latest.map(from_ms)))
    }

    pub async fn clear_sign_in_failures(&self, subject: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sign_in_failures WHERE subject = ?")
            .bind(subject)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
