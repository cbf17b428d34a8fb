//! The data directory, where the database and the data key live: checked before the server
//! starts, and watched while it serves.
//!
//! A server that cannot keep what people send it must not open its doors, so `serve` first makes
//! sure the directory exists and takes a small write that reaches the disk. If it cannot, the
//! start stops with one line that names the directory and what to do — rather than a database
//! error about a file the operator never heard of.
//!
//! While serving, the disk can fill up or be remounted read-only. The contact form then answers
//! 503 with a page that says the request was NOT received (see `web::contact`), and `/healthz`
//! reports the problem from [`Watch`]: the file system's free space and read-only flag, and
//! whether the last write of a request failed. Nothing needs a restart: once there is space
//! again, the next request is stored.

pub mod private;

use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The file name of the SQLite database in the data directory.
pub const DATABASE_FILE: &str = "kap-practice.db";

/// Less free space than this, and the data directory counts as full: a request with its
/// history and mail is a few pages of the database, but the write-ahead log and checkpoints
/// need room beyond that.
pub const RESERVE_BYTES: u64 = 1024 * 1024;

/// How long a failed write keeps `/healthz` degraded when nothing has been written since (after
/// that, the free space and read-only checks speak alone, so a load balancer that stopped
/// sending traffic lets the server back in).
const FAILURE_MEMORY: Duration = Duration::from_secs(60);

/// The file written and removed by [`check`].
const PROBE: &str = ".write-check";

/// Why the data directory cannot be used. Each message is one line that names the place and
/// what to do.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    #[error(
        "the data directory {path} cannot be created: {file} is a file, not a folder; choose another place with --data-dir or KAP_DATA_DIR"
    )]
    NotAFolder { path: PathBuf, file: PathBuf },
    #[error(
        "{what} {path} is on a read-only file system; mount it read-write, or choose another place with --data-dir or KAP_DATA_DIR"
    )]
    ReadOnly { what: &'static str, path: PathBuf },
    #[error(
        "{what} {path} may not be written by the user running kap-practice; give that user write access (chown or chmod), or choose another place with --data-dir or KAP_DATA_DIR"
    )]
    NoAccess { what: &'static str, path: PathBuf },
    #[error(
        "the disk of the data directory {path} is full; free some space, then start kap-practice again"
    )]
    Full { path: PathBuf },
    #[error(
        "{what} {path} cannot be used ({reason}); make sure it is a writable folder, or choose another place with --data-dir or KAP_DATA_DIR"
    )]
    Other {
        what: &'static str,
        path: PathBuf,
        reason: std::io::Error,
    },
}

const DIRECTORY: &str = "the data directory";
const DATABASE: &str = "the database file";

/// Makes sure `dir` exists (created private if not) and takes a write that reaches the disk;
/// also that an existing database file there can be written.
pub fn check(dir: &Path) -> Result<(), DataDirError> {
    if let Some(file) = file_in_the_way(dir) {
        return Err(DataDirError::NotAFolder {
            path: dir.to_path_buf(),
            file,
        });
    }
    private::create_dir(dir).map_err(|e| classify(DIRECTORY, dir, e))?;
    probe(dir).map_err(|e| classify(DIRECTORY, dir, e))?;
    let database = dir.join(DATABASE_FILE);
    if database.exists() {
        std::fs::OpenOptions::new()
            .write(true)
            .open(&database)
            .map_err(|e| classify(DATABASE, &database, e))?;
    }
    Ok(())
}

/// Whether other users may read or enter `dir` (its mode grants group or others anything).
pub fn open_to_others(dir: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(dir).is_ok_and(|m| m.permissions().mode() & 0o077 != 0)
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        false
    }
}

/// `dir` itself or the nearest existing folder on its way, if that is not a folder.
fn file_in_the_way(dir: &Path) -> Option<PathBuf> {
    dir.ancestors()
        .find(|p| p.exists())
        .filter(|p| !p.is_dir())
        .map(Path::to_path_buf)
}

/// Writes a few kilobytes, syncs them and removes the file again.
fn probe(dir: &Path) -> std::io::Result<()> {
    let path = dir.join(PROBE);
    let result = (|| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&path)?;
        file.write_all(&[0u8; 8192])?;
        file.sync_all()
    })();
    let removed = std::fs::remove_file(&path);
    match (result, removed) {
        (Err(e), _) => Err(e),
        (Ok(()), Err(e)) if e.kind() != ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

fn classify(what: &'static str, path: &Path, reason: std::io::Error) -> DataDirError {
    let path = path.to_path_buf();
    match reason.kind() {
        ErrorKind::ReadOnlyFilesystem => DataDirError::ReadOnly { what, path },
        ErrorKind::PermissionDenied => DataDirError::NoAccess { what, path },
        ErrorKind::StorageFull | ErrorKind::QuotaExceeded | ErrorKind::FileTooLarge => {
            DataDirError::Full { path }
        }
        ErrorKind::NotADirectory => DataDirError::NotAFolder {
            file: file_in_the_way(&path).unwrap_or_else(|| path.clone()),
            path,
        },
        _ => DataDirError::Other { what, path, reason },
    }
}

practice::text_forms! {
    /// The data directory's health, as `/healthz` reports it.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Storage {
        Ok = "ok",
        /// Less than [`RESERVE_BYTES`] free.
        Full = "full",
        ReadOnly = "read-only",
        /// The last write of a request failed, recently, and none has succeeded since.
        Failing = "failing",
        /// The directory cannot be examined at all (removed, unmounted).
        Unreachable = "unreachable",
    }
}

/// Watches the data directory while serving: the file system's state, and how the writes of
/// requests went.
pub struct Watch {
    dir: PathBuf,
    started: Instant,
    /// Milliseconds after `started` (plus one; zero means never) of the last failed write…
    last_failure: AtomicU64,
    /// …and of the last successful one.
    last_success: AtomicU64,
}

impl Watch {
    pub fn new(dir: &Path) -> Self {
        Watch {
            dir: dir.to_path_buf(),
            started: Instant::now(),
            last_failure: AtomicU64::new(0),
            last_success: AtomicU64::new(0),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis())
            .unwrap_or(u64::MAX - 1)
            .saturating_add(1)
    }

    /// A write of a request failed.
    pub fn write_failed(&self) {
        self.last_failure.store(self.now(), Ordering::Relaxed);
    }

    /// A write of a request reached the disk.
    pub fn write_succeeded(&self) {
        self.last_success.store(self.now(), Ordering::Relaxed);
    }

    /// The state now: one `statvfs` call and two loads.
    pub fn status(&self) -> Storage {
        match rustix::fs::statvfs(&self.dir) {
            Err(_) => Storage::Unreachable,
            Ok(s) if s.f_flag.contains(rustix::fs::StatVfsMountFlags::RDONLY) => Storage::ReadOnly,
            Ok(s) if s.f_bavail.saturating_mul(s.f_frsize) < RESERVE_BYTES => Storage::Full,
            Ok(_) if self.failing() => Storage::Failing,
            Ok(_) => Storage::Ok,
        }
    }

    fn failing(&self) -> bool {
        let failure = self.last_failure.load(Ordering::Relaxed);
        let success = self.last_success.load(Ordering::Relaxed);
        let recent = u64::try_from(FAILURE_MEMORY.as_millis()).unwrap_or(u64::MAX);
        failure > success && self.now().saturating_sub(failure) < recent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_writable_folder_passes_and_keeps_no_probe() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("new").join("data");
        check(&data).expect("created and written");
        assert!(data.is_dir());
        assert!(!data.join(PROBE).exists());
        check(&data).expect("again, existing");
    }

    #[test]
    fn a_file_in_the_way_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("occupied");
        std::fs::write(&file, "x").expect("file");
        for data in [file.join("data"), file.clone()] {
            let e = check(&data).expect_err("cannot be a folder");
            let text = e.to_string();
            assert!(matches!(e, DataDirError::NotAFolder { .. }), "{text}");
            assert!(text.contains(&file.display().to_string()), "{text}");
            assert!(text.contains("--data-dir"), "{text}");
            assert!(!text.contains('\n'), "one line: {text}");
        }
    }

    #[test]
    fn io_errors_become_messages_that_say_what_to_do() {
        let path = Path::new("/srv/kap/data");
        let ro = classify(DIRECTORY, path, std::io::Error::from_raw_os_error(30));
        assert!(matches!(ro, DataDirError::ReadOnly { .. }));
        assert!(
            ro.to_string()
                .starts_with("the data directory /srv/kap/data is on a read-only file system;")
        );
        let full = classify(DIRECTORY, path, std::io::Error::from_raw_os_error(28));
        assert!(full.to_string().contains("free some space"), "{full}");
        let denied = classify(DATABASE, path, std::io::Error::from_raw_os_error(13));
        assert!(
            denied.to_string().starts_with(
                "the database file /srv/kap/data may not be written by the user running kap-practice"
            ),
            "{denied}"
        );
    }

    #[test]
    fn a_failed_write_degrades_until_one_succeeds() {
        let dir = tempfile::tempdir().expect("tempdir");
        let watch = Watch::new(dir.path());
        assert_eq!(watch.status(), Storage::Ok);
        watch.write_failed();
        assert_eq!(watch.status(), Storage::Failing);
        std::thread::sleep(Duration::from_millis(2));
        watch.write_succeeded();
        assert_eq!(watch.status(), Storage::Ok);
        let gone = Watch::new(&dir.path().join("missing"));
        assert_eq!(gone.status(), Storage::Unreachable);
    }
}
