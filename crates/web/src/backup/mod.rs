//! Automatic encrypted backups of the SQLite database, kept off the machine, and the way back.
//!
//! A backup is a consistent snapshot of the live database (`VACUUM INTO`, never a copy of the
//! file), compressed (gzip) and sealed under the backup key (twelve words the owner writes down,
//! see `crypto::backup`). The data keys travel inside the sealed backup, so the words alone
//! restore everything. The sealed file goes to a local directory and/or S3-compatible object
//! storage (`target.rs`); after every destination has it, older backups beyond the retention
//! (`retention.rs`) are pruned. Each backup and verify is recorded in the database with its
//! outcome (`store::BackupLog`), which the inbox, `/healthz` and the late-backup warning read.
//!
//! Inside the seal, after gzip: a first line `kap-practice backup 1`, then `key=value` lines
//! (the time, the version, the database's size, the data keys), an empty line, and the
//! database file's bytes.
//!
//! On PostgreSQL the database's own backups are the way (managed point-in-time recovery,
//! `pg_dump`, pgBackRest): everything here refuses with that message rather than pretend.

mod keys;
mod make;
pub mod retention;
mod sealed;
pub mod target;
mod verify;
pub mod worker;

use std::path::Path;

pub use keys::{confirm_key, key_path, load_key, make_key};
pub use make::{
    BeforeMigrations, Made, backup_and_record, backup_now, before_migrations, prune,
    record_before_migrations,
};
pub use settings::backup::BackupSettings;
pub use target::{Listed, Target, TargetError};
pub use verify::{Restored, Verified, restore, verify, verify_and_record};

use crypto::BackupKeyError;
use crypto::backup::StreamError;
use store::StoreError;

/// The file the backup key's words are kept in, in the data directory (0600).
pub const KEY_FILE: &str = "backup.key";
/// The folder in the data directory where a backup is prepared.
const STAGING: &str = "backup-staging";
/// The first line inside every backup.
const FORMAT_LINE: &str = "kap-practice backup 1";

/// Why a backup, verify or restore did not happen. Messages name storage and files, never data.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(
        "PostgreSQL keeps its own backups: use your provider's point-in-time recovery, pg_dump or pgBackRest (see docs/deployment.md, \"Backups\"); kap-practice makes backups of SQLite only"
    )]
    Postgres,
    #[error(
        "no backup destination is set: set backup.dir (a directory on another disk or a mounted share) or backup.s3_endpoint and backup.s3_bucket in the config file"
    )]
    NotConfigured,
    #[error(
        "no backup key yet: run `kap-practice backup key` and write down the twelve words it shows"
    )]
    NoKey,
    #[error("the backup key in {path} cannot be read: {problem}")]
    BadKeyFile { path: String, problem: String },
    #[error("{0}")]
    KeyWords(#[from] BackupKeyError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Target(#[from] TargetError),
    #[error("{0}")]
    Stream(#[from] StreamError),
    #[error("cannot write {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("the backup {0} is damaged, cut short or was changed after it was written")]
    Damaged(String),
    #[error("the backup copy fails SQLite's integrity check: {0}")]
    Integrity(String),
    #[error("there is no backup yet at {0}")]
    NoneYet(String),
    #[error(
        "{0} is not empty: a backup is restored only into an empty data directory, never over a live one (stop the server and choose a new directory)"
    )]
    NotEmpty(String),
    #[error("the backup was made by a newer version of kap-practice: {0}")]
    Newer(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + use<> {
    let path = path.display().to_string();
    move |source| BackupError::Io { path, source }
}

/// What `kap-practice check` says about backups: `("note", …)` or `("warning", …)`.
pub fn check_notes(config: &settings::config::Config) -> Option<(&'static str, String)> {
    let settings = &config.backup;
    if config.database.url.is_some() {
        return Some(("note", BackupError::Postgres.to_string()));
    }
    if !settings.configured() {
        return Some((
            "note",
            "no automatic backups: set backup.dir or backup.s3_endpoint and backup.s3_bucket (see docs/deployment.md, \"Backups\")".into(),
        ));
    }
    match load_key(settings, &config.server.data_dir) {
        Ok(Some(_)) => None,
        Ok(None) => Some(("warning", BackupError::NoKey.to_string())),
        Err(e) => Some(("warning", e.to_string())),
    }
}
