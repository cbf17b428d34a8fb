//! The data keys: the current one (sealing and signing) and previous ones (opening and checking
//! only), read from the environment, a key file, or `data.key` in the data directory.
//!
//! The key comes from `KAP_DATA_KEY` (64 hex characters) or, on first start, is generated into
//! `data.key` in the data directory with 0600 permissions. Older keys for reading only can be given
//! in `KAP_DATA_KEYS_PREVIOUS` (comma-separated). A key's id is the first four bytes of its
//! SHA-256: safe to log and stored with each sealed value.

use std::fmt;
use std::io::Write;
use std::path::Path;

use chacha20poly1305::aead::{KeyInit, OsRng};
use chacha20poly1305::{Key, XChaCha20Poly1305};
use sha2::{Digest, Sha256};

use super::hex::{hex, unhex};
use super::sign::{Signer, hmac};

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
pub struct KeySource<'a> {
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
pub struct KeyEnv {
    pub key: Option<String>,
    pub key_file: Option<std::path::PathBuf>,
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
            key_file: var("KAP_DATA_KEY_FILE").map(std::path::PathBuf::from),
            previous: var("KAP_DATA_KEYS_PREVIOUS"),
        }
    }
}

/// One 32-byte key.
#[derive(Clone)]
pub(super) struct DataKey {
    pub(super) id: [u8; 4],
    pub(super) cipher: XChaCha20Poly1305,
    pub(super) raw: [u8; 32],
}

impl DataKey {
    pub(super) fn new(raw: [u8; 32]) -> Self {
        let digest = Sha256::digest(raw);
        let id = [digest[0], digest[1], digest[2], digest[3]];
        DataKey {
            id,
            cipher: XChaCha20Poly1305::new(Key::from_slice(&raw)),
            raw,
        }
    }

    fn from_hex(s: &str) -> Option<Self> {
        let raw: [u8; 32] = unhex(s.trim())?.try_into().ok()?;
        Some(DataKey::new(raw))
    }
}

/// The current key (for sealing and opening) and any previous ones (for opening only).
#[derive(Clone)]
pub struct Keyring {
    pub(super) current: DataKey,
    pub(super) previous: Vec<DataKey>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Keyring(current {}, {} previous, secrets redacted)",
            self.current_id(),
            self.previous.len()
        )
    }
}

/// A new random key as 64 hex characters.
pub fn generate_key_hex() -> String {
    let key = XChaCha20Poly1305::generate_key(&mut OsRng);
    hex(&key)
}

impl Keyring {
    /// A keyring from hex keys (tests and tools).
    pub fn from_hex(current: &str, previous: &[&str]) -> Option<Keyring> {
        Some(Keyring {
            current: DataKey::from_hex(current)?,
            previous: previous
                .iter()
                .map(|k| DataKey::from_hex(k))
                .collect::<Option<_>>()?,
        })
    }

    /// The keyring for a server: `KAP_DATA_KEY` if set, else `data_dir/data.key`, created on first
    /// start.
    pub fn load(source: &KeySource<'_>) -> Result<Keyring, KeyError> {
        let current = match (
            source.env_key.filter(|k| !k.trim().is_empty()),
            source.key_file,
        ) {
            (Some(k), _) => DataKey::from_hex(k).ok_or(KeyError::BadEnvKey)?,
            (None, Some(path)) => Self::read_key_file(path)?,
            (None, None) => Self::key_file(source.data_dir, source.may_generate)?,
        };
        let env_previous = source.env_previous;
        let mut previous = Vec::new();
        for k in env_previous
            .unwrap_or("")
            .split(',')
            .filter(|k| !k.trim().is_empty())
        {
            previous.push(DataKey::from_hex(k).ok_or(KeyError::BadPreviousKey)?);
        }
        Ok(Keyring { current, previous })
    }

    /// A key file named by path must exist: it is never generated.
    fn read_key_file(path: &Path) -> Result<DataKey, KeyError> {
        let text = std::fs::read_to_string(path).map_err(|source| KeyError::Io {
            path: path.display().to_string(),
            source,
        })?;
        DataKey::from_hex(&text).ok_or_else(|| KeyError::BadKeyFile {
            path: path.display().to_string(),
        })
    }

    fn key_file(data_dir: &Path, may_generate: bool) -> Result<DataKey, KeyError> {
        let path = data_dir.join(KEY_FILE);
        let io = |source| KeyError::Io {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => DataKey::from_hex(&text).ok_or_else(|| KeyError::BadKeyFile {
                path: path.display().to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !may_generate => {
                Err(KeyError::NotShared {
                    path: path.display().to_string(),
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                super::private::create_dir(data_dir).map_err(io)?;
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
                DataKey::from_hex(&key).ok_or_else(|| KeyError::BadKeyFile {
                    path: path.display().to_string(),
                })
            }
            Err(e) => Err(io(e)),
        }
    }

    /// The current key's id, as hex (safe to log).
    pub fn current_id(&self) -> String {
        hex(&self.current.id)
    }

    /// A secret for `purpose` derived from `key` (HMAC-SHA256), so every server that shares the
    /// data key shares it too, and no second secret must be managed.
    fn derive(key: &DataKey, purpose: &str) -> [u8; 32] {
        hmac(&key.raw, &[b"kap-practice derive v1:", purpose.as_bytes()])
    }

    /// The signer for tokens of `purpose`, tagged with `label`: it signs with a key derived from
    /// the current data key and also accepts tags made under the previous ones, so links and
    /// forms sent before a key rotation keep working while the old key is kept.
    pub fn signer(&self, purpose: &str, label: &'static str) -> Signer {
        let keys = std::iter::once(&self.current)
            .chain(&self.previous)
            .map(|key| Self::derive(key, purpose))
            .collect();
        Signer::with_keys(keys, label)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_made_before_a_rotation_still_check() {
        const K1: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
        const K2: &str = "1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100";
        let old = Keyring::from_hex(K1, &[]).expect("key");
        let tag = old.signer("link", "l:").sign(b"request 7");
        let rotated = Keyring::from_hex(K2, &[K1]).expect("keys");
        assert!(rotated.signer("link", "l:").verify(b"request 7", &tag));
        assert!(!rotated.signer("form", "l:").verify(b"request 7", &tag));
        let retired = Keyring::from_hex(K2, &[]).expect("key");
        assert!(!retired.signer("link", "l:").verify(b"request 7", &tag));
    }

    #[test]
    fn a_key_has_one_spelling() {
        assert!(Keyring::from_hex(&format!("+0{}", "0".repeat(62)), &[]).is_none());
    }

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
        let a = Keyring::load(&source(dir.path(), None, true)).expect("created");
        let b = Keyring::load(&source(dir.path(), None, true)).expect("reused");
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
        assert!(Keyring::load(&source(dir.path(), Some("abc"), true)).is_err());
        std::fs::write(dir.path().join(KEY_FILE), "damaged").expect("write");
        assert!(matches!(
            Keyring::load(&source(dir.path(), None, true)),
            Err(KeyError::BadKeyFile { .. })
        ));
    }

    #[test]
    fn a_shared_key_is_never_generated() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(matches!(
            Keyring::load(&source(dir.path(), None, false)),
            Err(KeyError::NotShared { .. })
        ));
        assert!(!dir.path().join(KEY_FILE).exists());
        let file = dir.path().join("shared.key");
        std::fs::write(&file, format!("{}\n", generate_key_hex())).expect("write");
        let from_file = KeySource {
            key_file: Some(&file),
            ..source(dir.path(), None, false)
        };
        let a = Keyring::load(&from_file).expect("read from the file");
        let b = Keyring::load(&from_file).expect("read again");
        assert_eq!(a.current_id(), b.current_id());
        let missing = dir.path().join("missing.key");
        assert!(matches!(
            Keyring::load(&KeySource {
                key_file: Some(&missing),
                ..source(dir.path(), None, true)
            }),
            Err(KeyError::Io { .. })
        ));
    }
}
