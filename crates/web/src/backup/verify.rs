//! The way back: a backup downloaded, opened and checked (verify), or restored into an empty
//! data directory.

use std::path::{Path, PathBuf};

use jiff::Timestamp;

use super::make::record;
use super::sealed::{Opened, open_file, write_keys};
use super::{BackupError, BackupSettings, Listed, STAGING, Target, TargetError, io, load_key};
use crypto::{BackupKey, Keyring};
use store::data_dir::DATABASE_FILE;
use store::{BackupEventKind, RowCounts, Store};

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
    store::data_dir::private::create_dir(work).map_err(io(work))?;
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

/// Verifies the newest backup: at the object storage when there is one (the copy off the
/// machine is the one that matters), else in the local directory.
async fn verify_newest(
    store: &Store,
    settings: &BackupSettings,
    data_dir: &Path,
) -> Result<Verified, BackupError> {
    if store.engine() == store::Engine::Postgres {
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
    store::data_dir::private::create_dir(data_dir).map_err(io(data_dir))?;
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
