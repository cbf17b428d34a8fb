//! Field encryption: personal data is sealed before it is stored and opened only to be shown to
//! the clinician or exported by them.
//!
//! Each personal field is sealed on its own with XChaCha20-Poly1305 (random 192-bit nonce) under
//! the practice's data key. A sealed value is `version (1) | key id (4) | nonce (24) | ciphertext
//! and tag`; the key id is the first four bytes of the key's SHA-256, so after a rotation old
//! values are still opened with the old key while new ones use the new key. The field's name is
//! bound in as associated data, so a value moved to another column does not open. A value that
//! fails authentication is an error, never shown as data.
//!
//! The key comes from `KAP_DATA_KEY` (64 hex characters) or, on first start, is generated into
//! `data.key` in the data directory with 0600 permissions. Older keys for reading only can be given
//! in `KAP_DATA_KEYS_PREVIOUS` (comma-separated).

use std::fmt;
use std::io::Write;
use std::path::Path;

use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

const VERSION: u8 = 1;
const HEADER: usize = 1 + 4 + 24;

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

/// A stored value could not be opened.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OpenError {
    #[error("sealed value is malformed")]
    Malformed,
    #[error("sealed with a key this server does not have (key id {0})")]
    UnknownKey(String),
    #[error("sealed value failed authentication: it was altered or belongs elsewhere")]
    Forged,
}

/// One 32-byte key.
#[derive(Clone)]
struct DataKey {
    id: [u8; 4],
    cipher: XChaCha20Poly1305,
    raw: [u8; 32],
}

impl DataKey {
    fn new(raw: [u8; 32]) -> Self {
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
    current: DataKey,
    previous: Vec<DataKey>,
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

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Decodes hex digits only: no sign, no space, no other spelling of the same bytes, so one
/// value has exactly one written form (a `+0` is not `00`).
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    let digits = s.as_bytes();
    if digits.len() % 2 != 0 {
        return None;
    }
    digits
        .chunks(2)
        .map(|pair| {
            let hi = char::from(pair[0]).to_digit(16)?;
            let lo = char::from(pair[1]).to_digit(16)?;
            u8::try_from(hi * 16 + lo).ok()
        })
        .collect()
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
                super::create_private_dir(data_dir).map_err(io)?;
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

    /// Seals `plaintext` for the field named `field`.
    pub fn seal(&self, field: &str, plaintext: &str) -> Vec<u8> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let payload = Payload {
            msg: plaintext.as_bytes(),
            aad: field.as_bytes(),
        };
        // Encryption into a Vec only fails on absurd lengths (more than 256 GiB).
        let ciphertext = self
            .current
            .cipher
            .encrypt(&nonce, payload)
            .unwrap_or_default();
        let mut out = Vec::with_capacity(HEADER + ciphertext.len());
        out.push(VERSION);
        out.extend_from_slice(&self.current.id);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        out
    }

    /// Opens a value sealed for `field`.
    pub fn open(&self, field: &str, sealed: &[u8]) -> Result<String, OpenError> {
        if sealed.len() < HEADER + 16 || sealed[0] != VERSION {
            return Err(OpenError::Malformed);
        }
        let id = &sealed[1..5];
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id == id)
            .ok_or_else(|| OpenError::UnknownKey(hex(id)))?;
        let nonce = XNonce::from_slice(&sealed[5..HEADER]);
        let plain = key
            .cipher
            .decrypt(
                nonce,
                Payload {
                    msg: &sealed[HEADER..],
                    aad: field.as_bytes(),
                },
            )
            .map_err(|_| OpenError::Forged)?;
        String::from_utf8(plain).map_err(|_| OpenError::Malformed)
    }

    /// Whether a value was sealed with a key other than the current one (for re-sealing).
    pub fn needs_reseal(&self, sealed: &[u8]) -> bool {
        sealed.get(1..5).is_some_and(|id| id != self.current.id)
    }

    /// A secret for `purpose` derived from the current key (HMAC-SHA256), so every server that
    /// shares the data key shares it too, and no second secret must be managed.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.current.raw)
            .expect("HMAC takes any key length");
        mac.update(b"kap-practice derive v1:");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    const K2: &str = "1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100";

    #[test]
    fn hex_has_one_spelling() {
        assert_eq!(unhex("00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(
            unhex("+0"),
            None,
            "found by fuzzing: from_str_radix accepts a sign"
        );
        assert_eq!(unhex("+5ff"), None);
        assert_eq!(unhex(" 0"), None);
        assert_eq!(unhex("0"), None);
        assert!(Keyring::from_hex(&format!("+0{}", "0".repeat(62)), &[]).is_none());
    }

    #[test]
    fn seals_and_opens() {
        let k = Keyring::from_hex(K1, &[]).expect("key");
        let a = k.seal("name", "Ada Lovelace");
        let b = k.seal("name", "Ada Lovelace");
        assert_ne!(a, b, "fresh nonce each time");
        assert_eq!(k.open("name", &a).as_deref(), Ok("Ada Lovelace"));
        assert!(
            !a.windows(3).any(|w| w == b"Ada"),
            "no plaintext in the sealed bytes"
        );
    }

    #[test]
    fn tampering_or_another_field_fails() {
        let k = Keyring::from_hex(K1, &[]).expect("key");
        let mut a = k.seal("email", "a@b.c");
        assert_eq!(k.open("name", &a), Err(OpenError::Forged));
        let last = a.len() - 1;
        a[last] ^= 1;
        assert_eq!(k.open("email", &a), Err(OpenError::Forged));
        assert_eq!(k.open("email", b"short"), Err(OpenError::Malformed));
    }

    #[test]
    fn rotation_keeps_old_values_readable() {
        let old = Keyring::from_hex(K1, &[]).expect("key");
        let sealed = old.seal("message", "hello");
        let rotated = Keyring::from_hex(K2, &[K1]).expect("keys");
        assert_eq!(rotated.open("message", &sealed).as_deref(), Ok("hello"));
        assert!(rotated.needs_reseal(&sealed));
        let only_new = Keyring::from_hex(K2, &[]).expect("key");
        assert!(matches!(
            only_new.open("message", &sealed),
            Err(OpenError::UnknownKey(_))
        ));
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
