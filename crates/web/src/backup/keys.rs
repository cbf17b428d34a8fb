//! The backup key on this server: where its words are kept, made and confirmed.

use std::path::{Path, PathBuf};

use jiff::Timestamp;

use super::{BackupError, BackupSettings, KEY_FILE, io};
use crypto::BackupKey;
use store::{BackupEvent, BackupEventKind, Store, StoreError};

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
    store::data_dir::private::file(&partial, true).map_err(io(&partial))?;
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
