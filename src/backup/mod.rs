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

pub mod commands;
pub mod retention;
pub mod settings;
pub mod target;
pub mod worker;

use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};

use jiff::Timestamp;

pub use settings::{BackupSettings, FileBackup, S3Settings};
pub use target::{Listed, Target, TargetError};

use crate::crypto::backup::StreamError;
use crate::crypto::{BackupKey, BackupKeyError, Keyring};
use crate::data_dir::DATABASE_FILE;
use crate::store::{BackupEvent, BackupEventKind, RowCounts, Store, StoreError};

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

/// The backup key this server seals with: `KAP_BACKUP_KEY` (the words), else the key file
/// (`backup.key_file`, default `backup.key` in the data directory). `None`: none made yet.
pub fn load_key(
    settings: &BackupSettings,
    data_dir: &Path,
) -> Result<Option<BackupKey>, BackupError> {
    if let Some(words) = std::env::var("KAP_BACKUP_KEY")
        .ok()
        .filter(|v| !v.trim().is_empty())
    {
        return Ok(Some(BackupKey::from_words(&words)?));
    }
    let path = key_path(settings, data_dir);
    match std::fs::read_to_string(&path) {
        Ok(words) => BackupKey::from_words(&words)
            .map(Some)
            .map_err(|e| BackupError::BadKeyFile {
                path: path.display().to_string(),
                problem: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(BackupError::BadKeyFile {
            path: path.display().to_string(),
            problem: e.to_string(),
        }),
    }
}

/// Where the key file is.
pub fn key_path(settings: &BackupSettings, data_dir: &Path) -> PathBuf {
    settings
        .key_file
        .clone()
        .unwrap_or_else(|| data_dir.join(KEY_FILE))
}

/// Makes a new backup key, keeps its words in the key file (0600, replacing any older one) and
/// records that it was made. The words are returned to be shown once.
pub async fn make_key(
    store: &Store,
    settings: &BackupSettings,
    data_dir: &Path,
    now: Timestamp,
) -> Result<BackupKey, BackupError> {
    let key = BackupKey::generate();
    let path = key_path(settings, data_dir);
    let partial = path.with_extension("key.partial");
    let _ = std::fs::remove_file(&partial);
    crate::data_dir::private::file(&partial, true).map_err(io(&partial))?;
    std::fs::write(&partial, format!("{}\n", key.words().join(" "))).map_err(io(&partial))?;
    std::fs::rename(&partial, &path).map_err(io(&path))?;
    store
        .record_backup_event(&BackupEvent {
            kind: BackupEventKind::KeyMade,
            at: now,
            ok: true,
            name: Some(key.id()),
            bytes: None,
            detail: None,
        })
        .await?;
    Ok(key)
}

/// Records that the owner typed the key's words back.
pub async fn confirm_key(store: &Store, key: &BackupKey, now: Timestamp) -> Result<(), StoreError> {
    store
        .record_backup_event(&BackupEvent {
            kind: BackupEventKind::KeyConfirmed,
            at: now,
            ok: true,
            name: Some(key.id()),
            bytes: None,
            detail: None,
        })
        .await
}

/// What `kap-practice check` says about backups: `("note", …)` or `("warning", …)`.
pub fn check_notes(config: &crate::config::Config) -> Option<(&'static str, String)> {
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

/// A backup made and stored.
#[derive(Clone, Debug)]
pub struct Made {
    pub name: String,
    pub bytes: u64,
    /// Older backups deleted by the retention.
    pub pruned: usize,
}

/// Makes a backup now and records the outcome (success or why not), whatever it is.
pub async fn backup_and_record(
    store: &Store,
    settings: &BackupSettings,
    data_dir: &Path,
    now: Timestamp,
) -> Result<Made, BackupError> {
    if store.engine() == crate::store::Engine::Postgres {
        return Err(BackupError::Postgres);
    }
    let result = match load_key(settings, data_dir) {
        Ok(Some(key)) => backup_now(store, settings, data_dir, &key, now).await,
        Ok(None) => Err(BackupError::NoKey),
        Err(e) => Err(e),
    };
    if matches!(result, Err(BackupError::Postgres)) {
        return result;
    }
    let outcome = result.as_ref().map(|made| {
        (
            made.name.clone(),
            made.bytes,
            (made.pruned > 0).then(|| format!("{} older backups pruned", made.pruned)),
        )
    });
    record(store, BackupEventKind::Backup, now, outcome).await;
    match &result {
        Ok(made) => {
            tracing::info!(name = %made.name, bytes = made.bytes, pruned = made.pruned, "backup stored")
        }
        Err(e) => tracing::warn!(problem = %e, "backup failed"),
    }
    result
}

/// Makes a backup: snapshot, compress, seal, store everywhere, then prune.
pub async fn backup_now(
    store: &Store,
    settings: &BackupSettings,
    data_dir: &Path,
    key: &BackupKey,
    now: Timestamp,
) -> Result<Made, BackupError> {
    if store.engine() == crate::store::Engine::Postgres {
        return Err(BackupError::Postgres);
    }
    let targets = Target::all(settings);
    if targets.is_empty() {
        return Err(BackupError::NotConfigured);
    }
    let staging = data_dir.join(STAGING);
    crate::data_dir::private::create_dir(&staging).map_err(io(&staging))?;
    let snapshot = staging.join("snapshot.db");
    let name = retention::name_at(now);
    let sealed = staging.join(&name);
    for leftover in [&snapshot, &sealed] {
        let _ = std::fs::remove_file(leftover);
    }
    let result = snapshot_seal_store(store, &targets, key, &snapshot, &sealed, &name, now).await;
    let _ = std::fs::remove_file(&snapshot);
    let _ = std::fs::remove_file(&sealed);
    result
}

/// The steps of [`backup_now`] (a function of their own: the worker's future must be `Send`,
/// which an async block borrowing its caller's arguments defeats).
async fn snapshot_seal_store(
    store: &Store,
    targets: &[Target],
    key: &BackupKey,
    snapshot: &Path,
    sealed: &Path,
    name: &str,
    now: Timestamp,
) -> Result<Made, BackupError> {
    store.backup_to(snapshot).await?;
    let bytes = {
        let (snapshot, sealed, key) = (snapshot.to_path_buf(), sealed.to_path_buf(), key.clone());
        let record = store.keys().backup_record();
        tokio::task::spawn_blocking(move || seal_file(&snapshot, &sealed, &key, &record, now))
            .await
            .map_err(|e| BackupError::Io {
                path: "the backup".into(),
                source: std::io::Error::other(e.to_string()),
            })??
    };
    let _ = std::fs::remove_file(snapshot);
    let mut failed = None;
    for target in targets {
        if let Err(e) = target.put(name, sealed).await {
            failed = Some(e);
        }
    }
    if let Some(e) = failed {
        return Err(BackupError::Target(e));
    }
    let mut pruned = 0;
    for target in targets {
        pruned += prune(target).await?;
    }
    Ok(Made {
        name: name.to_string(),
        bytes,
        pruned,
    })
}

/// Deletes the backups at `target` beyond the retention. Returns how many.
pub async fn prune(target: &Target) -> Result<usize, BackupError> {
    let names: Vec<String> = target.list().await?.into_iter().map(|l| l.name).collect();
    let keep = retention::keep(&names);
    let mut pruned = 0;
    for name in names.iter().filter(|n| !keep.contains(*n)) {
        target.delete(name).await?;
        pruned += 1;
    }
    Ok(pruned)
}

/// Writes the sealed backup of the database file `snapshot` to `out`; returns its size.
fn seal_file(
    snapshot: &Path,
    out: &Path,
    key: &BackupKey,
    keys: &str,
    now: Timestamp,
) -> Result<u64, BackupError> {
    let mut database = std::fs::File::open(snapshot).map_err(io(snapshot))?;
    let size = database.metadata().map_err(io(snapshot))?.len();
    crate::data_dir::private::file(out, true).map_err(io(out))?;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(out)
        .map_err(io(out))?;
    let sealer = key.sealer(std::io::BufWriter::new(file)).map_err(io(out))?;
    let mut gz = flate2::write::GzEncoder::new(sealer, flate2::Compression::default());
    let head = format!(
        "{FORMAT_LINE}\ncreated_at={now}\nversion={}\ndatabase_bytes={size}\nkeys={keys}\n\n",
        env!("CARGO_PKG_VERSION")
    );
    gz.write_all(head.as_bytes()).map_err(io(out))?;
    std::io::copy(&mut database, &mut gz).map_err(io(out))?;
    let sealer = gz.finish().map_err(io(out))?;
    let file = sealer
        .finish()
        .map_err(io(out))?
        .into_inner()
        .map_err(|e| BackupError::Io {
            path: out.display().to_string(),
            source: e.into_error(),
        })?;
    file.sync_all().map_err(io(out))?;
    Ok(file.metadata().map_err(io(out))?.len())
}

/// What a backup holds besides the database.
struct Opened {
    keys: Keyring,
    /// The data keys as the backup carried them (hex, current first).
    record: String,
    created_at: String,
}

/// Opens the sealed backup `sealed` into the database file `database`.
fn open_file(
    sealed: &Path,
    database: &Path,
    key: &BackupKey,
    name: &str,
) -> Result<Opened, BackupError> {
    let damaged = || BackupError::Damaged(name.to_string());
    let file = std::fs::File::open(sealed).map_err(io(sealed))?;
    let opener = key.opener(std::io::BufReader::new(file))?;
    let mut reader = std::io::BufReader::new(flate2::read::GzDecoder::new(opener));
    let mut line = String::new();
    reader.read_line(&mut line).map_err(|_| damaged())?;
    if line.trim_end() != FORMAT_LINE {
        return Err(if line.starts_with("kap-practice backup ") {
            BackupError::Newer(line.trim_end().to_string())
        } else {
            damaged()
        });
    }
    let (mut keys, mut record, mut created_at, mut size) =
        (None, String::new(), String::new(), None);
    loop {
        line.clear();
        reader.read_line(&mut line).map_err(|_| damaged())?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        match l.split_once('=') {
            Some(("keys", v)) => {
                keys = Keyring::from_backup_record(v);
                record = v.to_string();
            }
            Some(("created_at", v)) => created_at = v.to_string(),
            Some(("database_bytes", v)) => size = v.parse::<u64>().ok(),
            _ => {}
        }
    }
    let (Some(keys), Some(size)) = (keys, size) else {
        return Err(damaged());
    };
    crate::data_dir::private::file(database, true).map_err(io(database))?;
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(database)
        .map_err(io(database))?;
    let copied = std::io::copy(&mut reader.by_ref().take(size + 1), &mut out).map_err(|e| {
        if e.kind() == std::io::ErrorKind::InvalidData {
            damaged()
        } else {
            BackupError::Io {
                path: database.display().to_string(),
                source: e,
            }
        }
    })?;
    // Read to the end, so the last chunk's seal is checked too.
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest).map_err(|_| damaged())?;
    if copied != size || !rest.is_empty() {
        return Err(damaged());
    }
    out.sync_all().map_err(io(database))?;
    Ok(Opened {
        keys,
        record,
        created_at,
    })
}

/// Writes the data keys a backup carried into a restored data directory: the current one as
/// `data.key`, the previous ones (if any) in `data.keys.previous` for `KAP_DATA_KEYS_PREVIOUS`
/// until `keys reseal` has run. Returns how many previous keys there were.
fn write_keys(record: &str, dir: &Path) -> Result<usize, BackupError> {
    let mut keys = record.split(',').map(str::trim);
    let current = keys.next().unwrap_or_default();
    let previous: Vec<&str> = keys.collect();
    let write = |name: &str, text: String| {
        let path = dir.join(name);
        crate::data_dir::private::file(&path, true).map_err(io(&path))?;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&path)
            .map_err(io(&path))?;
        file.write_all(text.as_bytes()).map_err(io(&path))?;
        file.sync_all().map_err(io(&path))
    };
    write("data.key", format!("{current}\n"))?;
    if !previous.is_empty() {
        write("data.keys.previous", format!("{}\n", previous.join(",")))?;
    }
    Ok(previous.len())
}

/// What a verify found.
#[derive(Clone, Debug)]
pub struct Verified {
    pub name: String,
    pub created_at: String,
    pub bytes: u64,
    pub counts: RowCounts,
    /// Consultation requests whose sealed fields all opened.
    pub requests_opened: usize,
}

impl std::fmt::Display for Verified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} opened and checked: {}; every request's sealed fields open",
            self.name, self.counts
        )
    }
}

/// The newest backup at `target`, or `name` if given.
async fn choose(target: &Target, name: Option<&str>) -> Result<Listed, BackupError> {
    let listed = target.list().await?;
    match name {
        Some(n) => listed
            .into_iter()
            .find(|l| l.name == n)
            .ok_or_else(|| TargetError::NotFound(n.into(), target.describe()).into()),
        None => listed
            .into_iter()
            .next_back()
            .ok_or_else(|| BackupError::NoneYet(target.describe())),
    }
}

/// Downloads a backup (the newest, or `name`), opens it with `key`, runs SQLite's integrity
/// check, counts its records and opens every request's sealed fields with the data keys it
/// carries. `work` is an empty folder to work in, removed afterwards.
pub async fn verify(
    target: &Target,
    name: Option<&str>,
    key: &BackupKey,
    work: &Path,
) -> Result<Verified, BackupError> {
    let chosen = choose(target, name).await?;
    crate::data_dir::private::create_dir(work).map_err(io(work))?;
    let result = open_and_check(target, &chosen, key, work).await;
    let _ = std::fs::remove_dir_all(work);
    result
}

/// The steps of [`verify`] once a backup is chosen.
async fn open_and_check(
    target: &Target,
    chosen: &Listed,
    key: &BackupKey,
    work: &Path,
) -> Result<Verified, BackupError> {
    let (sealed, opened) = fetch_and_open(target, &chosen.name, key, work).await?;
    let _ = std::fs::remove_file(&sealed);
    let (counts, requests_opened) = on_own_runtime(work, opened.keys, count_and_open).await?;
    Ok(Verified {
        name: chosen.name.clone(),
        created_at: opened.created_at,
        bytes: chosen.bytes,
        counts,
        requests_opened,
    })
}

/// The integrity check, the records counted, and every request's sealed fields opened.
async fn count_and_open(store: Store) -> Result<(RowCounts, usize), BackupError> {
    let counts = store.check_copy().await?.map_err(BackupError::Integrity)?;
    let requests = store.all_requests().await?;
    Ok((counts, requests.len()))
}

/// Opens the database in `dir` with `keys` (applying its migrations, checking the key) and runs
/// `check` on it, on a runtime of its own on a blocking thread: a copy being checked shares no
/// thread with the site (and opening a store is not a future the server's workers can hold).
async fn on_own_runtime<T, F, Fut>(dir: &Path, keys: Keyring, check: F) -> Result<T, BackupError>
where
    T: Send + 'static,
    F: FnOnce(Store) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<T, BackupError>>,
{
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(io(&dir))?;
        runtime.block_on(async {
            let store = Store::open(&dir, None, keys).await?;
            let result = check(store.clone()).await;
            store.close().await;
            result
        })
    })
    .await
    .map_err(|e| BackupError::Io {
        path: "the backup copy".into(),
        source: std::io::Error::other(e.to_string()),
    })?
}

async fn fetch_and_open(
    target: &Target,
    name: &str,
    key: &BackupKey,
    dir: &Path,
) -> Result<(PathBuf, Opened), BackupError> {
    let sealed = dir.join(format!("{name}.download"));
    target.get(name, &sealed).await?;
    let database = dir.join(DATABASE_FILE);
    let opened = {
        let (sealed, database, key, name) =
            (sealed.clone(), database, key.clone(), name.to_string());
        tokio::task::spawn_blocking(move || open_file(&sealed, &database, &key, &name))
            .await
            .map_err(|e| BackupError::Io {
                path: "the backup".into(),
                source: std::io::Error::other(e.to_string()),
            })??
    };
    Ok((sealed, opened))
}

/// Verifies the newest backup at the first destination and records the outcome.
pub async fn verify_and_record(
    store: &Store,
    settings: &BackupSettings,
    data_dir: &Path,
    now: Timestamp,
) -> Result<Verified, BackupError> {
    let result = verify_newest(store, settings, data_dir).await;
    if matches!(result, Err(BackupError::Postgres)) {
        return result;
    }
    let outcome = result
        .as_ref()
        .map(|v| (v.name.clone(), v.bytes, Some(v.counts.to_string())));
    record(store, BackupEventKind::Verify, now, outcome).await;
    result
}

/// Records the outcome of a backup or verify: the backup's name, size and a detail, or why it
/// failed. A record that cannot be written is logged (the outcome itself is returned anyway).
async fn record(
    store: &Store,
    kind: BackupEventKind,
    now: Timestamp,
    outcome: Result<(String, u64, Option<String>), &BackupError>,
) {
    let event = match outcome {
        Ok((name, bytes, detail)) => BackupEvent {
            kind,
            at: now,
            ok: true,
            name: Some(name),
            bytes: i64::try_from(bytes).ok(),
            detail,
        },
        Err(e) => BackupEvent {
            kind,
            at: now,
            ok: false,
            name: None,
            bytes: None,
            detail: Some(e.to_string()),
        },
    };
    if let Err(e) = store.record_backup_event(&event).await {
        tracing::warn!(error = %e, kind = kind.as_str(), "cannot record the outcome");
    }
}

/// Verifies the newest backup: at the object storage when there is one (the copy off the
/// machine is the one that matters), else in the local directory.
async fn verify_newest(
    store: &Store,
    settings: &BackupSettings,
    data_dir: &Path,
) -> Result<Verified, BackupError> {
    if store.engine() == crate::store::Engine::Postgres {
        return Err(BackupError::Postgres);
    }
    let key = load_key(settings, data_dir)?.ok_or(BackupError::NoKey)?;
    let targets = Target::all(settings);
    let target = targets.last().ok_or(BackupError::NotConfigured)?;
    verify(target, None, &key, &data_dir.join(STAGING).join("verify")).await
}

/// What a restore brought back.
#[derive(Clone, Debug)]
pub struct Restored {
    pub name: String,
    pub created_at: String,
    pub counts: RowCounts,
    /// Previous data keys written to `data.keys.previous`.
    pub previous_keys: usize,
}

/// Restores a backup (the newest, or `name`) from `target` into `data_dir`, which must be
/// empty or not exist: the database, and the data key it carried as `data.key`. The restored
/// database is opened and checked before this returns.
pub async fn restore(
    target: &Target,
    name: Option<&str>,
    key: &BackupKey,
    data_dir: &Path,
) -> Result<Restored, BackupError> {
    if data_dir.exists() {
        let mut entries = std::fs::read_dir(data_dir).map_err(io(data_dir))?;
        if entries.next().is_some() {
            return Err(BackupError::NotEmpty(data_dir.display().to_string()));
        }
    }
    crate::data_dir::private::create_dir(data_dir).map_err(io(data_dir))?;
    let result = async {
        let chosen = choose(target, name).await?;
        let (sealed, opened) = fetch_and_open(target, &chosen.name, key, data_dir).await?;
        let _ = std::fs::remove_file(&sealed);
        let previous_keys = write_keys(&opened.record, data_dir)?;
        let counts = on_own_runtime(data_dir, opened.keys, |store| async move {
            store.check_copy().await?.map_err(BackupError::Integrity)
        })
        .await?;
        Ok(Restored {
            name: chosen.name,
            created_at: opened.created_at,
            counts,
            previous_keys,
        })
    }
    .await;
    if result.is_err() {
        // The directory was empty: what a failed restore left in it goes, so it can be tried
        // again (from another destination, say).
        if let Ok(entries) = std::fs::read_dir(data_dir) {
            for entry in entries.flatten() {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_database_opens_to_the_same_bytes_and_a_changed_one_does_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("a.db");
        let bytes: Vec<u8> = (0..300_000u32).map(|i| (i % 97) as u8).collect();
        std::fs::write(&db, &bytes).expect("write");
        let key = BackupKey::generate();
        let keys = Keyring::from_hex(&"ab".repeat(32), &[]).expect("key");
        let sealed = dir.path().join("b.kapbak");
        let now = Timestamp::now();
        let size = seal_file(&db, &sealed, &key, &keys.backup_record(), now).expect("sealed");
        assert_eq!(size, std::fs::metadata(&sealed).expect("meta").len());
        let back = dir.path().join("c.db");
        let opened = open_file(&sealed, &back, &key, "b").expect("opens");
        assert_eq!(std::fs::read(&back).expect("read"), bytes);
        assert_eq!(opened.keys.current_id(), keys.current_id());
        let mut damaged = std::fs::read(&sealed).expect("read");
        let middle = damaged.len() / 2;
        damaged[middle] ^= 0x40;
        std::fs::write(&sealed, &damaged).expect("write");
        assert!(matches!(
            open_file(&sealed, &back, &key, "b"),
            Err(BackupError::Damaged(_))
        ));
    }
}
