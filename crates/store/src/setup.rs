//! The first-run setup address: while the practice has never had an account, one secret
//! address lets whoever started the server create the first one from the browser.
//!
//! Only the SHA-256 of the token is stored, so the database alone does not open the address,
//! and it is kept in the database rather than in one server's memory, so any server of the
//! practice accepts it. There is one at a time: each start of a server without accounts draws
//! a new one, replacing the last.
//!
//! Once any account has been made (from the address or with `admin add`), the address is dead
//! for good, even if every account is removed later: the database remembers that accounts
//! began ([`ACCOUNTS_BEGAN`] in `settings`, written in the transaction that makes an account),
//! and from then on accounts are made with `admin add` on the server only. Otherwise removing
//! the last account would open the address again to whoever had seen it.

use jiff::{SignedDuration, Timestamp};
use sha2::{Digest, Sha256};

use super::engine::on_db;
use super::inbox::commit_audited;
use super::{Store, StoreError, ms};
use crate::audit;

/// How long a setup address stays valid when unused.
pub const SETUP_VALID_FOR: SignedDuration = SignedDuration::from_hours(24);

/// What happened to a request to create the first account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FirstAccount {
    /// Created, with this id; the setup address no longer works.
    Added(i64),
    /// The address is unknown, used or past its 24 hours.
    AddressInvalid,
}

/// [`SETUP_VALID_FOR`] in milliseconds, as stored times are.
const VALID_MS: i64 = 24 * 3600 * 1000;

/// The `settings` key whose row says that the practice has had an account (its value: when
/// the first was made, in milliseconds as text). Never deleted.
pub(crate) const ACCOUNTS_BEGAN: &str = "accounts_began";

/// Records, inside the transaction that makes an account, that accounts began, and forgets
/// any setup address: from now on it opens nothing.
macro_rules! accounts_begin {
    ($tx:expr, $now:expr) => {
        async {
            sqlx::query(
                "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
            )
            .bind($crate::setup::ACCOUNTS_BEGAN)
            .bind($crate::ms($now).to_string().into_bytes())
            .execute(&mut *$tx)
            .await?;
            sqlx::query("DELETE FROM setup_tokens")
                .execute(&mut *$tx)
                .await
        }
    };
}
pub(crate) use accounts_begin;

/// Makes the account of `$email` (already as its key) with `$password_hash` inside the
/// transaction `$tx`, and records that accounts began: the new account's id.
macro_rules! insert_account {
    ($tx:expr, $email:expr, $password_hash:expr, $now:expr) => {
        async {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO admin_accounts (email, password_hash, created_at, password_changed_at)
                 VALUES ($1, $2, $3, $3) RETURNING id",
            )
            .bind($email)
            .bind($password_hash)
            .bind($crate::ms($now))
            .fetch_one(&mut *$tx)
            .await?;
            $crate::setup::accounts_begin!($tx, $now).await?;
            Ok::<i64, sqlx::Error>(id)
        }
    };
}
pub(crate) use insert_account;

fn token_hash(token: &str) -> String {
    crypto::hex::hex(&Sha256::digest(token.as_bytes()))
}

impl Store {
    /// Whether any clinician account exists.
    pub async fn has_accounts(&self) -> Result<bool, StoreError> {
        let n: i64 = on_db!(&self.db, pool => sqlx::query_scalar(
            "SELECT COUNT(*) FROM admin_accounts",
        )
        .fetch_one(pool)
        .await?);
        Ok(n > 0)
    }

    /// Whether the practice has ever had an account (some may exist now, or none).
    pub async fn accounts_began(&self) -> Result<bool, StoreError> {
        let n: i64 = on_db!(&self.db, pool => sqlx::query_scalar(
            "SELECT COUNT(*) FROM settings WHERE key = $1",
        )
        .bind(ACCOUNTS_BEGAN)
        .fetch_one(pool)
        .await?);
        Ok(n > 0 || self.has_accounts().await?)
    }

    /// Draws a new setup token while the practice has never had an account (replacing any
    /// earlier one) and returns it; otherwise forgets any left over and returns `None`.
    pub async fn issue_setup_token(&self, now: Timestamp) -> Result<Option<String>, StoreError> {
        if self.accounts_began().await? {
            on_db!(&self.db, pool => sqlx::query("DELETE FROM setup_tokens")
                .execute(pool)
                .await?
                .rows_affected());
            return Ok(None);
        }
        let token = crypto::hex::hex(&crypto::random::bytes::<32>());
        on_db!(&self.db, pool => sqlx::query(
            "INSERT INTO setup_tokens (id, token_hash, created_at) VALUES (1, $1, $2)
             ON CONFLICT (id) DO UPDATE SET token_hash = excluded.token_hash,
             created_at = excluded.created_at",
        )
        .bind(token_hash(&token))
        .bind(ms(now))
        .execute(pool)
        .await?
        .rows_affected());
        Ok(Some(token))
    }

    /// Whether `token` opens the setup page now: it is the current one, unused, under 24
    /// hours old, and the practice has never had an account.
    pub async fn setup_token_valid(&self, token: &str, now: Timestamp) -> Result<bool, StoreError> {
        let since = ms(now) - VALID_MS;
        let found: Option<i64> = on_db!(&self.db, pool => sqlx::query_scalar(
            "SELECT id FROM setup_tokens WHERE token_hash = $1 AND created_at >= $2
             AND NOT EXISTS (SELECT 1 FROM admin_accounts)
             AND NOT EXISTS (SELECT 1 FROM settings WHERE key = $3)",
        )
        .bind(token_hash(token))
        .bind(since)
        .bind(ACCOUNTS_BEGAN)
        .fetch_optional(pool)
        .await?);
        Ok(found.is_some())
    }

    /// Uses `token` to create the first account, in one transaction with its audit line: of
    /// two requests at once, exactly one can use the address.
    pub async fn add_first_account(
        &self,
        token: &str,
        email: &str,
        password_hash: &str,
        now: Timestamp,
        audit: &audit::Entry,
    ) -> Result<FirstAccount, StoreError> {
        let since = ms(now) - VALID_MS;
        let email = super::email_key(email);
        on_db!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            let used = sqlx::query(
                "DELETE FROM setup_tokens WHERE token_hash = $1 AND created_at >= $2",
            )
            .bind(token_hash(token))
            .bind(since)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            let accounts: i64 = sqlx::query_scalar(
                "SELECT (SELECT COUNT(*) FROM admin_accounts)
                      + (SELECT COUNT(*) FROM settings WHERE key = $1)",
            )
            .bind(ACCOUNTS_BEGAN)
            .fetch_one(&mut *tx)
            .await?;
            if used != 1 || accounts > 0 {
                return Ok(FirstAccount::AddressInvalid);
            }
            let id = insert_account!(tx, email, password_hash, now).await?;
            commit_audited!(tx, audit, now).await?;
            Ok(FirstAccount::Added(id))
        })
    }
}
