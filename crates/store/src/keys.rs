//! Where the data key comes from: `KAP_DATA_KEY` (64 hex characters), a key file named by
//! `KAP_DATA_KEY_FILE`, or `data.key` in the data directory, generated there on first start with
//! 0600 permissions. Older keys for reading only can be given in `KAP_DATA_KEYS_PREVIOUS`
//! (comma-separated).
//!
//! Private to the store: the layers above open the store ([`crate::Store::open_with_data_key`])
//! and never see where its key came from; the crypto crate turns the key's text into a
//! [`Keyring`] and never learns of the environment or the data directory.

use std::io::Write;
use std::path::{Path, PathBuf};

use crypto::{Keyring, generate_key_hex};

use crate::data_dir::private;

/// The file name of the generated key in the data directory.
pub const KEY_FILE: &str = "data.key";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "KAP_DATA_KEY must be 64 hexadecimal characters (32 bytes); `kap-practice keys generate` prints a new one"
    )]
    BadEnvKey,
    #[error(
        "{path} must hold 64 hexadecimal characters (32 bytes): it looks damaged; restore it from your backup or point KAP_DATA_KEY at the right key"
    )]
    BadKeyFile { path: String },
    #[error(
        "no data key: with PostgreSQL every server must use the same key, so none is generated. Set KAP_DATA_KEY, or KAP_DATA_KEY_FILE to a key file, or put the key in {path} (`kap-practice keys generate` prints a new one for the first server)"
    )]
    NotShared { path: String },
    #[error("KAP_DATA_KEYS_PREVIOUS holds a key that is not 64 hexadecimal characters")]
    BadPreviousKey,
    #[error("cannot read or create the data key at {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// Where the data key comes from.
#[derive(Clone, Copy, Debug)]
pub(crate) struct KeySource<'a> {
    pub data_dir: &'a Path,
    /// `KAP_DATA_KEY`: the key itself, in hex.
    pub env_key: Option<&'a str>,
    /// `KAP_DATA_KEY_FILE`: a file holding the key.
    pub key_file: Option<&'a Path>,
    /// `KAP_DATA_KEYS_PREVIOUS`: older keys, still read, never written with.
    pub env_previous: Option<&'a str>,
    /// Whether a missing `data.key` may be created (one server on SQLite), or must already be
    /// there (servers sharing PostgreSQL must share one key).
    pub may_generate: bool,
}

impl<'a> KeySource<'a> {
    /// The key for a server: from the environment, a file, or `data.key` in `data_dir`.
    pub fn from_env(data_dir: &'a Path, env: &'a KeyEnv, may_generate: bool) -> Self {
        KeySource {
            data_dir,
            env_key: env.key.as_deref(),
            key_file: env.key_file.as_deref(),
            env_previous: env.previous.as_deref(),
            may_generate,
        }
    }
}

/// The key settings read from the environment.
#[derive(Clone, Debug, Default)]
pub(crate) struct KeyEnv {
    pub key: Option<String>,
    pub key_file: Option<PathBuf>,
    pub previous: Option<String>,
}

impl KeyEnv {
    pub fn read() -> KeyEnv {
        let var = |name| {
            std::env::var(name)
                .ok()
                .filter(|v: &String| !v.trim().is_empty())
        };
        KeyEnv {
            key: var("KAP_DATA_KEY"),
            key_file: var("KAP_DATA_KEY_FILE").map(PathBuf::from),
            previous: var("KAP_DATA_KEYS_PREVIOUS"),
        }
    }
}

/// Whether `text` is one key's spelling.
fn is_key(text: &str) -> bool {
    Keyring::from_hex(text.trim(), &[]).is_some()
}

/// The keyring for a server: `KAP_DATA_KEY` if set, else the key file, else
/// `data_dir/data.key`, created on first start when `may_generate`.
pub(crate) fn load(source: &KeySource<'_>) -> Result<Keyring, KeyError> {
    let current = match (
        source.env_key.filter(|k| !k.trim().is_empty()),
        source.key_file,
    ) {
        (Some(k), _) if is_key(k) => k.trim().to_string(),
        (Some(_), _) => return Err(KeyError::BadEnvKey),
        (None, Some(path)) => read_key_file(path)?,
        (None, None) => key_file(source.data_dir, source.may_generate)?,
    };
    let previous: Vec<&str> = source
        .env_previous
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .collect();
    if !previous.iter().all(|k| is_key(k)) {
        return Err(KeyError::BadPreviousKey);
    }
    Keyring::from_hex(&current, &previous).ok_or(KeyError::BadPreviousKey)
}

/// A key file named by path must exist: it is never generated.
fn read_key_file(path: &Path) -> Result<String, KeyError> {
    let text = std::fs::read_to_string(path).map_err(|source| KeyError::Io {
        path: path.display().to_string(),
        source,
    })?;
    checked(text, path)
}

fn checked(text: String, path: &Path) -> Result<String, KeyError> {
    if is_key(&text) {
        Ok(text.trim().to_string())
    } else {
        Err(KeyError::BadKeyFile {
            path: path.display().to_string(),
        })
    }
}

fn key_file(data_dir: &Path, may_generate: bool) -> Result<String, KeyError> {
    let path = data_dir.join(KEY_FILE);
    let io = |source| KeyError::Io {
        path: path.display().to_string(),
        source,
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => checked(text, &path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !may_generate => {
            Err(KeyError::NotShared {
                path: path.display().to_string(),
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            private::create_dir(data_dir).map_err(io)?;
            let key = generate_key_hex();
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let mut file = options.open(&path).map_err(io)?;
            file.write_all(format!("{key}\n").as_bytes()).map_err(io)?;
            file.sync_all().map_err(io)?;
            tracing::info!(path = %path.display(), "generated a new data key: back it up with the database");
            checked(key, &path)
        }
        Err(e) => Err(io(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source<'a>(dir: &'a Path, env_key: Option<&'a str>, may_generate: bool) -> KeySource<'a> {
        KeySource {
            data_dir: dir,
            env_key,
            key_file: None,
            env_previous: None,
            may_generate,
        }
    }

    #[test]
    fn the_key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = load(&source(dir.path(), None, true)).expect("created");
        let b = load(&source(dir.path(), None, true)).expect("reused");
        assert_eq!(a.current_id(), b.current_id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(load(&source(dir.path(), Some("abc"), true)).is_err());
        std::fs::write(dir.path().join(KEY_FILE), "damaged").expect("write");
        assert!(matches!(
            load(&source(dir.path(), None, true)),
            Err(KeyError::BadKeyFile { .. })
        ));
    }

    #[test]
    fn a_shared_key_is_never_generated() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(matches!(
            load(&source(dir.path(), None, false)),
            Err(KeyError::NotShared { .. })
        ));
        assert!(!dir.path().join(KEY_FILE).exists());
        let file = dir.path().join("shared.key");
        std::fs::write(&file, format!("{}\n", generate_key_hex())).expect("write");
        let from_file = KeySource {
            key_file: Some(&file),
            ..source(dir.path(), None, false)
        };
        let a = load(&from_file).expect("read from the file");
        let b = load(&from_file).expect("read again");
        assert_eq!(a.current_id(), b.current_id());
        let missing = dir.path().join("missing.key");
        assert!(matches!(
            load(&KeySource {
                key_file: Some(&missing),
                ..source(dir.path(), None, true)
            }),
            Err(KeyError::Io { .. })
        ));
    }

    #[test]
    fn a_bad_previous_key_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = generate_key_hex();
        let with_previous = |previous| KeySource {
            env_previous: Some(previous),
            ..source(dir.path(), Some(&key), false)
        };
        assert!(matches!(
            load(&with_previous("nonsense")),
            Err(KeyError::BadPreviousKey)
        ));
        let old = generate_key_hex();
        assert!(load(&with_previous(&format!(" {old} ,"))).is_ok());
    }
}
