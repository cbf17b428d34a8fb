//! Making a backup: snapshot, compress, seal, store everywhere, prune; and the record of it.

use std::path::Path;

use jiff::Timestamp;

use super::sealed::seal_file;
use super::{BackupError, BackupSettings, STAGING, Target, io, load_key, retention};
use crypto::{BackupKey, Keyring};
use store::{BackupEvent, BackupEventKind, Store};

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
    if store.engine() == store::Engine::Postgres {
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
    if store.engine() == store::Engine::Postgres {
        return Err(BackupError::Postgres);
    }
    let targets = Target::all(settings);
    if targets.is_empty() {
        return Err(BackupError::NotConfigured);
    }
    let staging = data_dir.join(STAGING);
    store::data_dir::private::create_dir(&staging).map_err(io(&staging))?;
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
    seal_and_store(targets, key, store.keys(), snapshot, sealed, name, now).await
}

/// Seals the database copy `snapshot` (with the data keys `keys` inside) into `sealed`, stores
/// it at every destination as `name`, then prunes.
async fn seal_and_store(
    targets: &[Target],
    key: &BackupKey,
    keys: &Keyring,
    snapshot: &Path,
    sealed: &Path,
    name: &str,
    now: Timestamp,
) -> Result<Made, BackupError> {
    let bytes = {
        let (snapshot, sealed, key) = (snapshot.to_path_buf(), sealed.to_path_buf(), key.clone());
        let record = keys.backup_record();
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

/// Records the outcome of a backup or verify: the backup's name, size and a detail, or why it
/// failed. A record that cannot be written is logged (the outcome itself is returned anyway).
pub(super) async fn record(
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

/// A backup made at start, before the database's migrations (see [`before_migrations`]).
#[derive(Clone, Debug)]
pub struct BeforeMigrations {
    pub made: Made,
    /// How many migrations were then applied.
    pub pending: usize,
    pub at: Timestamp,
}

/// At start, before the SQLite database is opened: when backups are configured and the
/// database has migrations to apply, a backup of it as it is, so an update that goes wrong can
/// be undone. `None` when nothing was due (PostgreSQL, no destination, a new database, nothing
/// pending). With backups configured but no backup key the migrations go ahead after a warning
/// (there is nothing to seal with); a backup that fails stops the start, with why.
pub async fn before_migrations(
    settings: &BackupSettings,
    data_dir: &Path,
    database_url: Option<&str>,
    now: Timestamp,
) -> Result<Option<BeforeMigrations>, BackupError> {
    if database_url.is_some() || !settings.configured() {
        return Ok(None);
    }
    let staging = data_dir.join(STAGING);
    let snapshot = staging.join("before-migrations.db");
    if !data_dir.join(store::data_dir::DATABASE_FILE).exists() {
        return Ok(None);
    }
    store::data_dir::private::create_dir(&staging).map_err(io(&staging))?;
    let _ = std::fs::remove_file(&snapshot);
    let pending = store::Store::snapshot_before_migrations(data_dir, &snapshot).await?;
    if pending == 0 {
        return Ok(None);
    }
    let name = retention::name_at(now);
    let sealed = staging.join(&name);
    let result = match load_key(settings, data_dir) {
        Ok(Some(key)) => {
            let keys = store::Store::data_keys(data_dir, None)?;
            seal_and_store(
                &Target::all(settings),
                &key,
                &keys,
                &snapshot,
                &sealed,
                &name,
                now,
            )
            .await
            .map(Some)
        }
        Ok(None) => {
            tracing::warn!(
                pending,
                "no backup key yet, so no backup before the database's update: run `kap-practice backup key`"
            );
            Ok(None)
        }
        Err(e) => Err(e),
    };
    let _ = std::fs::remove_file(&snapshot);
    let _ = std::fs::remove_file(&sealed);
    let made = result?;
    if let Some(made) = &made {
        tracing::info!(name = %made.name, bytes = made.bytes, pending, "backup stored before the database's update");
    }
    Ok(made.map(|made| BeforeMigrations {
        made,
        pending,
        at: now,
    }))
}

/// Records a backup made before the migrations, once the database is open.
pub async fn record_before_migrations(store: &Store, before: &BeforeMigrations) {
    let detail = format!(
        "before the database's update ({} migrations)",
        before.pending
    );
    let outcome = Ok((before.made.name.clone(), before.made.bytes, Some(detail)));
    record(store, BackupEventKind::Backup, before.at, outcome).await;
}
