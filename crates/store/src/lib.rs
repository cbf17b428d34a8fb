//! Storage: every query of the program lives in this crate, with what storage needs below it:
//! the audit trail's words ([`audit`]), the data directory and its private files
//! ([`data_dir`]), and where the data key is kept (the environment, a key file or `data.key`;
//! private here, see [`Store::open_with_data_key`]).
//!
//! Personal fields are sealed here on the way in and opened here on the way out, and nowhere
//! else. Writes are durable before they are acknowledged: SQLite runs in WAL mode with
//! `synchronous=FULL`, so a committed transaction survives a crash or power loss.
//!
//! The engine is SQLite in the data directory (no setup at all) or, with `DATABASE_URL`,
//! PostgreSQL shared by several servers; both are always built. The practice's queries are
//! written once and run on either (see `engine.rs`); each engine has its own migrations in the
//! repository's `migrations/<engine>/`. The API is engine-neutral: plain Rust types in and out.
//!
//! A crate of its own so that the compiler keeps the walls: it is the only crate that depends on
//! sqlx, so SQL anywhere else does not build, and the key's sources are private to it. It must
//! never know of the web, pages, templates, the config file or how mail is written: it depends
//! on the practice's rules (whose words it stores, the outbox's among them) and the crypto
//! crate, and the layers above depend on it.

mod accounts;
pub mod audit;
mod backups;
mod bookings;
pub mod data_dir;
mod documents;
pub(crate) mod engine;
mod estimates;
mod fields;
mod going_live;
mod inbox;
mod insights;
mod jobs;
mod keys;
mod meeting;
mod outbox;
mod own_pages;
mod questionnaires;
mod requests;
mod reseal;
mod sessions;
mod settings;
mod setup;
mod site_details;
mod words;

use std::path::Path;

use jiff::Timestamp;

use engine::{Db, on_db};

use crate::data_dir::DATABASE_FILE;
use crate::data_dir::private;
pub use accounts::{Account, Credentials, SignInClaim, SignInCounter, email_key};
pub use backups::{BackupEvent, BackupEventKind, BackupLog, RowCounts};
pub use bookings::{Bookable, ChangeOutcome, Hold, HoldOutcome, ListedBooking, StoredBooking};
pub use crypto::{Keyring, OpenError};
pub use documents::{
    DocumentsLink, NewPacketDocument, Packet, PacketDocument, Signature, SignerRole, sha256,
};
pub use engine::Engine;
pub use estimates::{DueBecause, GivenHow, NewEstimate, StoredEstimate};
pub use going_live::Review;
pub use inbox::{
    AuditRow, Cutoffs, DueForDeletion, FoundRequest, HistoryEntry, InboxFilter, InboxPage,
    MailState, Note, UnreadableRequest,
};
pub use insights::InsightCount;
pub use jobs::Job;
pub use keys::KeyError;
pub use meeting::ReminderFate;
pub use outbox::OutboxRow;
pub use own_pages::{PageAdded, PageChanged, StoredPage};
use practice::consultation::{
    AgeGroup, ContactMethod, Flags, ForWhom, Location, NewConsultationRequest, SpamReason,
};
use practice::mail::MailKind;
use practice::status::{ClosedReason, Status};
pub use questionnaires::{AttentionItem, MailCheck, MailCheckAnswer, StoredQuestionnaire};
pub use requests::SEALED_REQUEST_FIELDS;
pub use sessions::SessionStore;
pub use setup::{FirstAccount, SETUP_VALID_FOR};
pub use site_details::SavedPracticeDetails;
pub use words::Revision;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or refused the write (disk full, read-only, locked).
    #[error("database unavailable: {0}")]
    Unavailable(#[from] sqlx::Error),
    #[error("cannot apply database migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// After a migration, rows refer to rows that do not exist.
    #[error(
        "the database has {0} rows that refer to missing rows after its migrations: restore the last backup and report this"
    )]
    BrokenReferences(usize),
    /// A stored value failed to open: tampering, damage, or a missing key.
    #[error("a stored {field} cannot be opened: {source}")]
    Sealed {
        field: &'static str,
        source: OpenError,
    },
    #[error(
        "the data key (id {current}) is not the key this database was written with: start with the right KAP_DATA_KEY or data.key, or add the old key to KAP_DATA_KEYS_PREVIOUS"
    )]
    WrongKey { current: String },
    #[error(
        "{0} cannot make a backup copy itself: use pg_dump (see docs/deployment.md, \"Backups\")"
    )]
    BackupUnsupported(&'static str),
    /// The operating system gave no randomness for a secret.
    #[error("no randomness available from the operating system")]
    NoRandomness,
    /// A stored status, time or choice holds a value this version cannot read: damage, or a
    /// database written by a newer version. Never replaced by a default.
    #[error("the stored {column} holds {value:?}, which this version cannot read")]
    Unreadable { column: &'static str, value: String },
    /// The data key cannot be read, or made on first start.
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
}

/// The sealed marker that tells which key a database was written with.
const KEY_CHECK: &str = "key_check";

/// Where the key check's marker is sealed.
const KEY_CHECK_VALUE: crypto::SealedField = fields::setting(KEY_CHECK);

/// The practice's storage, on SQLite or PostgreSQL.
#[derive(Clone)]
pub struct Store {
    db: Db,
    /// Where the reads on a visitor's path run: on SQLite, read-only connections beside the
    /// one that writes (see `engine.rs`); on PostgreSQL, the same pool as `db`.
    reads: Db,
    keys: Keyring,
}

pub(crate) fn ms(t: Timestamp) -> i64 {
    t.as_millisecond()
}

/// Reads a stored time (milliseconds since 1970); a value out of range is an error.
pub(crate) fn from_ms(column: &'static str, v: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_millisecond(v).map_err(|_| StoreError::Unreadable {
        column,
        value: v.to_string(),
    })
}

/// Reads a stored choice (a status, a format) with its parser; an unknown value is an error.
pub(crate) fn parsed<T>(
    column: &'static str,
    value: String,
    parse: impl FnOnce(&str) -> Option<T>,
) -> Result<T, StoreError> {
    parse(&value).ok_or(StoreError::Unreadable { column, value })
}

/// A list stored as text: its items joined by commas.
pub(crate) fn join_list<T: std::fmt::Display>(items: impl IntoIterator<Item = T>) -> String {
    items
        .into_iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// A list stored by [`join_list`], each item read with `parse`; `None` if one cannot be read.
pub(crate) fn split_list<T, C: FromIterator<T>>(
    text: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Option<C> {
    text.split(',')
        .map(str::trim)
        .filter(|i| !i.is_empty())
        .map(parse)
        .collect()
}

/// What `read` finds for each of `requests`, by request id (a request with nothing is absent):
/// `by_request(requests, |id| store.estimates(id))`.
pub async fn by_request<T, F>(
    requests: &[StoredRequest],
    read: impl Fn(i64) -> F,
) -> Result<std::collections::HashMap<i64, Vec<T>>, StoreError>
where
    F: Future<Output = Result<Vec<T>, StoreError>>,
{
    let mut all = std::collections::HashMap::new();
    for r in requests {
        let found = read(r.id).await?;
        if !found.is_empty() {
            all.insert(r.id, found);
        }
    }
    Ok(all)
}

impl Store {
    /// Opens the practice's database: PostgreSQL at `database_url` if given, else SQLite in
    /// `data_dir` (created if needed, readable by this user only). Applies migrations and
    /// checks that `keys` is the key the data was written with.
    pub async fn open(
        data_dir: &Path,
        database_url: Option<&str>,
        keys: Keyring,
    ) -> Result<Store, StoreError> {
        let (db, reads) = match database_url {
            Some(url) => {
                let db = Db::open_postgres(url).await?;
                (db.clone(), db)
            }
            None => {
                private::create_dir(data_dir).map_err(|source| StoreError::DataDir {
                    path: data_dir.display().to_string(),
                    source,
                })?;
                let database = data_dir.join(DATABASE_FILE);
                // SQLite gives its WAL and shared-memory files the database file's mode.
                for path in [
                    database.clone(),
                    sidecar(&database, "-wal"),
                    sidecar(&database, "-shm"),
                ] {
                    private::file(&path, path == database).map_err(|source| {
                        StoreError::DataDir {
                            path: path.display().to_string(),
                            source,
                        }
                    })?;
                }
                let db = Db::open_sqlite(&database).await?;
                (db, Db::open_sqlite_readers(&database).await?)
            }
        };
        let store = Store { db, reads, keys };
        store.check_key().await?;
        Ok(store)
    }

    /// Opens the data key and the database, as a server does: the key from `KAP_DATA_KEY`,
    /// `KAP_DATA_KEY_FILE` or `data.key` in `data_dir` (generated there on first start on
    /// SQLite; with PostgreSQL it must be given, never generated, because every server must
    /// share it), then [`Store::open`].
    pub async fn open_with_data_key(
        data_dir: &Path,
        database_url: Option<&str>,
    ) -> Result<Store, StoreError> {
        let keys = Store::data_keys(data_dir, database_url)?;
        Store::open(data_dir, database_url, keys).await
    }

    /// The data key as a server finds it (see [`Store::open_with_data_key`]).
    pub fn data_keys(data_dir: &Path, database_url: Option<&str>) -> Result<Keyring, StoreError> {
        let env = keys::KeyEnv::read();
        let source = keys::KeySource::from_env(data_dir, &env, database_url.is_none());
        Ok(keys::load(&source)?)
    }

    /// Before a SQLite database is opened (and migrated): when the database in `data_dir`
    /// exists and has migrations still to apply, a consistent copy of it at `out`, readable by
    /// this user only. Returns how many migrations are pending (0: no copy made).
    pub async fn snapshot_before_migrations(
        data_dir: &Path,
        out: &Path,
    ) -> Result<usize, StoreError> {
        let database = data_dir.join(DATABASE_FILE);
        if !database.exists() {
            return Ok(0);
        }
        private::file(out, true).map_err(|source| StoreError::DataDir {
            path: out.display().to_string(),
            source,
        })?;
        let pending = engine::snapshot_if_pending(&database, out).await;
        if !matches!(pending, Ok(n) if n > 0) {
            let _ = std::fs::remove_file(out);
        }
        pending
    }

    /// The engine this store runs on.
    pub fn engine(&self) -> Engine {
        self.db.engine()
    }

    /// The data keys personal fields are sealed with.
    pub fn keys(&self) -> &Keyring {
        &self.keys
    }

    /// Refuses a key other than the one the database was written with. The first server to
    /// start records its key; a server starting at the same moment finds that record and
    /// checks against it.
    async fn check_key(&self) -> Result<(), StoreError> {
        let marker = self
            .keys
            .seal(KEY_CHECK_VALUE.of(KEY_CHECK), "kap-practice");
        let value = self.setting_or_insert(KEY_CHECK, marker).await?;
        self.keys
            .open(KEY_CHECK_VALUE.of(KEY_CHECK), &value)
            .map(|_| ())
            .map_err(|_| StoreError::WrongKey {
                current: self.keys.current_id(),
            })
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_db!(&self.db, pool => sqlx::query("SELECT 1").execute(pool).await?.rows_affected());
        Ok(())
    }

    /// A consistent copy of the SQLite database, taken while it is in use (`VACUUM INTO`).
    /// PostgreSQL has `pg_dump` for this.
    pub async fn backup_to(&self, path: &Path) -> Result<(), StoreError> {
        match &self.db {
            Db::Sqlite(pool) => {
                // An empty file is a valid target for VACUUM INTO; creating it first gives the
                // copy this user's permissions only, whatever the umask.
                private::file(path, true).map_err(|source| StoreError::DataDir {
                    path: path.display().to_string(),
                    source,
                })?;
                sqlx::query("VACUUM INTO $1")
                    .bind(path.display().to_string())
                    .execute(pool)
                    .await?;
                Ok(())
            }
            Db::Postgres(_) => Err(StoreError::BackupUnsupported(Engine::Postgres.name())),
        }
    }

    /// Runs one SQL statement as it is: for tests that check what the database itself refuses.
    #[doc(hidden)]
    pub async fn execute_unchecked(&self, sql: &str) -> Result<u64, StoreError> {
        Ok(on_db!(&self.db, pool => sqlx::query(sql).execute(pool).await?.rows_affected()))
    }

    /// Closes the connections (on SQLite, checkpointing the WAL).
    pub async fn close(&self) {
        // The readers first: the writer, closing last, checkpoints the WAL and removes it.
        self.reads.close().await;
        self.db.close().await;
    }
}

/// A consultation request as stored, opened for the clinician.
#[derive(Clone)]
pub struct StoredRequest {
    pub id: i64,
    pub reference: String,
    pub received_at: Timestamp,
    pub status: Status,
    pub closed_reason: Option<ClosedReason>,
    pub spam: Option<SpamReason>,
    pub contact_method: ContactMethod,
    pub location: Location,
    /// The age of the person the consultation is for.
    pub age_group: AgeGroup,
    /// Whom the consultation is for; `None` for a request sent before the form asked.
    pub for_whom: Option<ForWhom>,
    pub flags: Flags,
    pub name: String,
    pub email: String,
    pub phone: Option<String>,
    pub message: Option<String>,
    pub referral_source: Option<String>,
}

practice::debug_shows!(StoredRequest {
    id,
    reference,
    status
});

/// A request accepted by the form, with what to send because of it.
pub struct Submission<'a> {
    pub request: &'a NewConsultationRequest,
    pub spam: Option<SpamReason>,
    /// Mail to queue in the same transaction.
    pub mail: &'a [MailKind],
}

/// What `insert` returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inserted {
    pub id: i64,
    pub reference: String,
    /// The secret the request's booking links are bound to.
    pub link_secret: String,
}

/// Outbox rows by state, for health checks and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    pub pending: i64,
    pub sent: i64,
    pub failed: i64,
}

/// The file SQLite keeps beside `database` with `suffix` (`-wal`, `-shm`).
fn sidecar(database: &Path, suffix: &str) -> std::path::PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(suffix);
    std::path::PathBuf::from(name)
}

/// A new request's link secret: 128 bits from the operating system, as 32 hex characters.
pub(crate) fn new_link_secret() -> Result<String, StoreError> {
    Ok(crypto::hex::hex(&crypto::random::bytes::<16>()))
}

/// A short reference a person can read out, from an alphabet without look-alike characters.
pub fn new_reference() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let bytes: [u8; 8] = crypto::random::bytes();
    let mut s = String::with_capacity(9);
    for (i, b) in bytes.iter().enumerate() {
        if i == 4 {
            s.push('-');
        }
        s.push(ALPHABET[usize::from(*b) % ALPHABET.len()] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn references_are_readable() {
        let r = super::new_reference();
        assert_eq!(r.len(), 9);
        assert_eq!(&r[4..5], "-");
        assert!(!r.contains('O') && !r.contains('0') && !r.contains('I') && !r.contains('1'));
        assert_ne!(super::new_reference(), r);
    }
}

#[cfg(all(test, unix))]
mod file_mode_tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).expect("meta").permissions().mode() & 0o777
    }

    #[tokio::test]
    async fn the_database_its_journal_and_backups_are_private_in_an_open_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        assert!(crate::data_dir::open_to_others(dir.path()));
        let keys = Keyring::from_hex(&"ab".repeat(32), &[]).expect("key");
        let store = Store::open(dir.path(), None, keys).await.expect("open");
        store
            .execute_unchecked("INSERT INTO settings (key, value) VALUES ('mode-test', x'00')")
            .await
            .expect("write");
        let database = dir.path().join(DATABASE_FILE);
        for path in [
            database.clone(),
            sidecar(&database, "-wal"),
            sidecar(&database, "-shm"),
        ] {
            assert_eq!(mode(&path), 0o600, "{}", path.display());
        }
        let backup = dir.path().join("backup.db");
        store.backup_to(&backup).await.expect("backup");
        assert_eq!(mode(&backup), 0o600);
        assert!(std::fs::metadata(&backup).expect("meta").len() > 0);
        store.close().await;

        // A database left 0644 by an older version is narrowed at the next start.
        std::fs::set_permissions(&database, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let keys = Keyring::from_hex(&"ab".repeat(32), &[]).expect("key");
        let store = Store::open(dir.path(), None, keys).await.expect("reopen");
        assert_eq!(mode(&database), 0o600);
        store.close().await;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))
            .expect("chmod");
        assert!(!crate::data_dir::open_to_others(dir.path()));
    }
}
