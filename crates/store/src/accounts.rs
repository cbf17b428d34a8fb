//! Clinician accounts, two-factor secrets, recovery codes and sign-in throttling.
//!
//! An account is found by its email compared in Rust through [`email_key`], never by the
//! database's `lower()`, which differs between the engines beyond ASCII.

use jiff::{SignedDuration, Timestamp};

use super::engine::{Bind, Columns, bind_all, on_db, record};
use super::fields::TOTP_SECRET;
use super::inbox::commit_audited;
use super::{Store, StoreError, from_ms, ms};
use crate::audit;

/// The one form of an email address that accounts and sign-in throttling compare: trimmed and
/// lower-cased by Rust's full Unicode rules. The databases are never asked to lower-case (SQLite
/// folds only ASCII, PostgreSQL follows its collation), so one address is one name everywhere.
pub fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}

/// One count of sign-in attempts the database keeps (`auth::throttle` decides what is counted
/// and the limits).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignInCounter {
    /// What is counted: `account:<email>` or `ip:<address>`.
    pub subject: String,
    /// Attempts that begin a pause.
    pub limit: i64,
    /// How long the pause lasts.
    pub pause: SignedDuration,
    /// A run of failures that began longer ago than this is forgotten.
    pub window: SignedDuration,
}

/// What happened to a sign-in attempt's claim: counted (go on and check it), or refused
/// because sign-in is paused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignInClaim {
    /// Counted: each counter's attempts in its run, this one included, in the order given;
    /// and whether this attempt reached a limit and so began a pause.
    Counted {
        attempts: Vec<i64>,
        began_pause: bool,
    },
    /// Paused until then; nothing was counted and nothing may be checked.
    Paused(Timestamp),
}

/// Deletes every session of an account, inside the transaction that changes its credentials.
macro_rules! end_sessions {
    ($tx:expr, $account_id:expr) => {
        sqlx::query("DELETE FROM admin_sessions WHERE account_id = $1")
            .bind($account_id)
            .execute(&mut *$tx)
    };
}

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
    /// Random, drawn anew with every change of password or two-factor sign-in and never the
    /// same twice; a session lives only while the stamp it began under is still the account's.
    pub credentials_stamp: String,
    pub email: String,
    pub password_hash: String,
    pub totp_secret: Option<Vec<u8>>,
    pub totp_last_step: Option<i64>,
}

practice::debug_shows!(Credentials { id });

/// A new credentials stamp: 128 bits from the operating system, as 32 hex characters. It is
/// only ever compared, never kept secret; what matters is that it does not repeat (new rows get
/// theirs from the database, see the migration that added it).
fn new_credentials_stamp() -> Result<String, StoreError> {
    super::new_link_secret()
}

impl Store {
    /// The id of the account for `email`, compared by [`email_key`] (there are only a few).
    async fn account_id(&self, email: &str) -> Result<Option<i64>, StoreError> {
        let key = email_key(email);
        let all: Vec<(i64, String)> = on_db!(&self.db, pool => sqlx::query_as(
            "SELECT id, email FROM admin_accounts",
        )
        .fetch_all(pool)
        .await?);
        Ok(all
            .into_iter()
            .find(|(_, e)| email_key(e) == key)
            .map(|(id, _)| id))
    }

    pub async fn add_account(
        &self,
        email: &str,
        password_hash: &str,
        now: Timestamp,
        audit: &audit::Entry,
    ) -> Result<Option<i64>, StoreError> {
        if self.account_id(email).await?.is_some() {
            return Ok(None);
        }
        let email = email_key(email);
        on_db!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            let id = match super::setup::insert_account!(tx, email, password_hash, now).await {
                Ok(id) => id,
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => return Ok(None),
                Err(e) => return Err(e.into()),
            };
            commit_audited!(tx, audit, now).await?;
            Ok(Some(id))
        })
    }

    pub async fn set_password(
        &self,
        email: &str,
        password_hash: &str,
        now: Timestamp,
        audit: &audit::Entry,
    ) -> Result<bool, StoreError> {
        let Some(id) = self.account_id(email).await? else {
            return Ok(false);
        };
        self.replace_password(id, None, password_hash, now, audit)
            .await
    }

    /// Sets the password chosen through a reset link, only while the account's credentials
    /// stamp is still the one the link was issued for: of two posts of one link at the same
    /// moment, one changes the password and the other finds the stamp changed (`false`).
    pub async fn reset_password(
        &self,
        account_id: i64,
        stamp_was: &str,
        password_hash: &str,
        now: Timestamp,
        audit: &audit::Entry,
    ) -> Result<bool, StoreError> {
        self.replace_password(account_id, Some(stamp_was), password_hash, now, audit)
            .await
    }

    /// A new password and credentials stamp for the account (if its stamp is still
    /// `stamp_was`, when given), its sessions ended, audited.
    async fn replace_password(
        &self,
        id: i64,
        stamp_was: Option<&str>,
        password_hash: &str,
        now: Timestamp,
        audit: &audit::Entry,
    ) -> Result<bool, StoreError> {
        let stamp = new_credentials_stamp()?;
        let sql = "UPDATE admin_accounts SET password_hash = $1, password_changed_at = $2,
                   credentials_stamp = $4
                   WHERE id = $3 AND ($5 IS NULL OR credentials_stamp = $5) RETURNING id";
        let binds = [
            password_hash.into(),
            ms(now).into(),
            id.into(),
            stamp.as_str().into(),
            stamp_was.into(),
        ];
        self.change_credentials(sql, &binds, audit, now).await
    }

    pub async fn remove_account(
        &self,
        email: &str,
        now: Timestamp,
        audit: &audit::Entry,
    ) -> Result<bool, StoreError> {
        let Some(id) = self.account_id(email).await? else {
            return Ok(false);
        };
        let sql = "DELETE FROM admin_accounts WHERE id = $1 RETURNING id";
        self.change_credentials(sql, &[id.into()], audit, now).await
    }

    /// Runs `sql` (`binds`), a change to one account's credentials or its removal that returns
    /// the account's id, then ends the account's sessions and writes `audit`, in one
    /// transaction. False when no account changed.
    async fn change_credentials(
        &self,
        sql: &str,
        binds: &[Bind<'_>],
        audit: &audit::Entry,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        on_db!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            let changed: Option<i64> = bind_all!(sqlx::query_scalar(sql), binds)
                .fetch_optional(&mut *tx)
                .await?;
            let Some(id) = changed else {
                return Ok(false);
            };
            end_sessions!(tx, id).await?;
            commit_audited!(tx, audit, now).await?;
            Ok(true)
        })
    }

    pub async fn list_accounts(&self) -> Result<Vec<Account>, StoreError> {
        self.read_all(
            "SELECT id, email, created_at, totp_secret_sealed IS NOT NULL AS two_factor
             FROM admin_accounts ORDER BY email",
            &[],
            |r| record!(r => Account { id, email, created_at: time, two_factor }),
        )
        .await
    }

    pub async fn credentials(&self, email: &str) -> Result<Option<Credentials>, StoreError> {
        let Some(account_id) = self.account_id(email).await? else {
            return Ok(None);
        };
        let found = on_db!(&self.db, pool => {
            let row = sqlx::query("SELECT id, credentials_stamp, email, password_hash, totp_secret_sealed, totp_last_step FROM admin_accounts WHERE id = $1")
                .bind(account_id)
                .fetch_optional(pool)
                .await?;
            match row {
                Some(r) => Some((
                    r.col::<i64>("id")?,
                    r.col::<String>("credentials_stamp")?,
                    r.col::<String>("email")?,
                    r.col::<String>("password_hash")?,
                    r.col::<Option<Vec<u8>>>("totp_secret_sealed")?,
                    r.col::<Option<i64>>("totp_last_step")?,
                )),
                None => None,
            }
        });
        let Some((id, credentials_stamp, email, password_hash, sealed, totp_last_step)) = found
        else {
            return Ok(None);
        };
        let totp_secret = sealed
            .map(|v| {
                self.unseal(TOTP_SECRET, id, &v).and_then(|hex| {
                    crypto::hex::unhex(&hex).ok_or(StoreError::Sealed {
                        field: TOTP_SECRET.name(),
                        source: super::OpenError::Malformed,
                    })
                })
            })
            .transpose()?;
        Ok(Some(Credentials {
            id,
            credentials_stamp,
            email,
            password_hash,
            totp_secret,
            totp_last_step,
        }))
    }

    pub async fn enable_two_factor(
        &self,
        account_id: i64,
        secret: &[u8],
        step: i64,
        recovery_hashes: &[String],
        now: Timestamp,
        audit: &audit::Entry,
    ) -> Result<Option<String>, StoreError> {
        let sealed = self
            .keys
            .seal(TOTP_SECRET.of(account_id), &crypto::hex::hex(secret));
        let stamp = new_credentials_stamp()?;
        on_db!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            let stamp: Option<String> = sqlx::query_scalar(
                "UPDATE admin_accounts SET totp_secret_sealed = $1, totp_last_step = $2,
                 credentials_stamp = $4
                 WHERE id = $3 RETURNING credentials_stamp",
            )
            .bind(&sealed)
            .bind(step)
            .bind(account_id)
            .bind(&stamp)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(stamp) = stamp else {
                return Ok(None);
            };
            end_sessions!(tx, account_id).await?;
            sqlx::query("DELETE FROM recovery_codes WHERE account_id = $1")
                .bind(account_id)
                .execute(&mut *tx)
                .await?;
            for h in recovery_hashes {
                sqlx::query("INSERT INTO recovery_codes (account_id, code_hash) VALUES ($1, $2)")
                    .bind(account_id)
                    .bind(h)
                    .execute(&mut *tx)
                    .await?;
            }
            commit_audited!(tx, audit, now).await?;
            Ok(Some(stamp))
        })
    }

    /// The account's credentials stamp, or `None` if the account is gone.
    pub async fn credentials_stamp(&self, account_id: i64) -> Result<Option<String>, StoreError> {
        Ok(on_db!(&self.db, pool => sqlx::query_scalar(
            "SELECT credentials_stamp FROM admin_accounts WHERE id = $1",
        )
        .bind(account_id)
        .fetch_optional(pool)
        .await?))
    }

    pub async fn use_totp_step(&self, account_id: i64, step: i64) -> Result<bool, StoreError> {
        let done = on_db!(&self.db, pool => sqlx::query("UPDATE admin_accounts SET totp_last_step = $1 WHERE id = $2 AND (totp_last_step IS NULL OR totp_last_step < $1)")
            .bind(step)
            .bind(account_id)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(done == 1)
    }

    pub async fn use_recovery_code(
        &self,
        account_id: i64,
        code_hash: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let done = on_db!(&self.db, pool => sqlx::query("UPDATE recovery_codes SET used_at = $1 WHERE account_id = $2 AND code_hash = $3 AND used_at IS NULL")
            .bind(ms(now))
            .bind(account_id)
            .bind(code_hash)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(done >= 1)
    }

    pub async fn unused_recovery_codes(&self, account_id: i64) -> Result<i64, StoreError> {
        Ok(on_db!(&self.db, pool => sqlx::query_scalar(
            "SELECT COUNT(*) FROM recovery_codes WHERE account_id = $1 AND used_at IS NULL",
        )
        .bind(account_id)
        .fetch_one(pool)
        .await?))
    }

    /// Counts one sign-in attempt against every counter in `counters`, before it is checked,
    /// unless one of them is paused. One transaction: either every counter takes the attempt,
    /// or none does and the answer is when the pause ends. Each counter takes it in one
    /// statement that refuses it while paused, so attempts made together are handed out one by
    /// one and never get past a limit, on either engine.
    pub async fn claim_sign_in_attempt(
        &self,
        counters: &[SignInCounter],
        now: Timestamp,
    ) -> Result<SignInClaim, StoreError> {
        on_db!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            let mut attempts = Vec::with_capacity(counters.len());
            let mut began_pause = false;
            for c in counters {
                let window_start = ms(now.checked_sub(c.window).unwrap_or(now));
                let paused_until = ms(now.checked_add(c.pause).unwrap_or(now));
                // A run restarts when it began before the window, or after a pause that ended.
                let taken = sqlx::query(
                    "INSERT INTO sign_in_throttle (subject, attempts, started_at, paused_until)
                     VALUES ($1, 1, $2, CASE WHEN $3 <= 1 THEN $4 END)
                     ON CONFLICT (subject) DO UPDATE SET
                     attempts = CASE WHEN sign_in_throttle.started_at < $5
                                      OR sign_in_throttle.paused_until IS NOT NULL
                                     THEN 1 ELSE sign_in_throttle.attempts + 1 END,
                     started_at = CASE WHEN sign_in_throttle.started_at < $5
                                        OR sign_in_throttle.paused_until IS NOT NULL
                                       THEN $2 ELSE sign_in_throttle.started_at END,
                     paused_until = CASE WHEN (CASE WHEN sign_in_throttle.started_at < $5
                                                     OR sign_in_throttle.paused_until IS NOT NULL
                                                    THEN 1 ELSE sign_in_throttle.attempts + 1 END) >= $3
                                         THEN $4 END
                     WHERE sign_in_throttle.paused_until IS NULL
                        OR sign_in_throttle.paused_until <= $2
                     RETURNING attempts, paused_until",
                )
                .bind(&c.subject)
                .bind(ms(now))
                .bind(c.limit)
                .bind(paused_until)
                .bind(window_start)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(row) = taken else {
                    // Paused: nothing is counted (the transaction is dropped, so neither are the
                    // counters before this one).
                    let until: i64 = sqlx::query_scalar(
                        "SELECT paused_until FROM sign_in_throttle WHERE subject = $1",
                    )
                    .bind(&c.subject)
                    .fetch_one(&mut *tx)
                    .await?;
                    return Ok(SignInClaim::Paused(from_ms("paused_until", until)?));
                };
                attempts.push(row.col::<i64>("attempts")?);
                began_pause |= row.col::<Option<i64>>("paused_until")?.is_some();
            }
            tx.commit().await?;
            Ok(SignInClaim::Counted {
                attempts,
                began_pause,
            })
        })
    }

    /// Gives back an attempt counted by [`Store::claim_sign_in_attempt`] that turned out right
    /// (a right password before its code, say), lifting a pause it began.
    pub async fn give_back_sign_in_attempt(
        &self,
        counter: &SignInCounter,
    ) -> Result<(), StoreError> {
        on_db!(&self.db, pool => sqlx::query(
            "UPDATE sign_in_throttle SET attempts = attempts - 1,
             paused_until = CASE WHEN attempts - 1 >= $2 THEN paused_until END
             WHERE subject = $1 AND attempts > 0",
        )
        .bind(&counter.subject)
        .bind(counter.limit)
        .execute(pool)
        .await?
        .rows_affected());
        Ok(())
    }

    pub async fn clear_sign_in_failures(&self, subject: &str) -> Result<(), StoreError> {
        on_db!(&self.db, pool => sqlx::query("DELETE FROM sign_in_throttle WHERE subject = $1")
            .bind(subject)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(())
    }

    /// Deletes the counts that no longer matter: runs that began more than `window` before `now`
    /// and are not paused (the next attempt would start afresh anyway).
    pub async fn forget_old_sign_in_attempts(
        &self,
        window: SignedDuration,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let window_start = ms(now.checked_sub(window).unwrap_or(now));
        Ok(on_db!(&self.db, pool => sqlx::query(
            "DELETE FROM sign_in_throttle WHERE started_at < $1
             AND (paused_until IS NULL OR paused_until <= $2)",
        )
        .bind(window_start)
        .bind(ms(now))
        .execute(pool)
        .await?
        .rows_affected()))
    }
}
