//! The backup key and the sealed stream a backup is written in.
//!
//! A backup is useless without the key that opens it, so the key is made for a person to keep:
//! 128 random bits spelled as twelve words of the BIP-39 English list (a checksum in the last
//! word catches a word written down wrong). The cipher key is derived from those bits, and the
//! backup carries the data keys inside it, so the twelve words alone restore everything.
//!
//! The stream is XChaCha20-Poly1305 in chunks (the STREAM construction): each chunk's nonce is
//! the file's random prefix, the chunk's number and a flag marking the last chunk, and the
//! file's header is the associated data of every chunk. A chunk changed, moved, dropped or a
//! file cut short therefore fails to open; a backup that opens to its end is the one written.

use std::io::{self, Read, Write};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};

use super::hex::{hex, unhex};
use super::keys::{DataKey, Keyring};
use super::sign::hmac;

/// The first bytes of every backup file.
pub const MAGIC: &[u8; 8] = b"KAPBAK\x00\x01";
/// Plaintext bytes per chunk.
const CHUNK: usize = 64 * 1024;
/// The random part of each chunk's nonce (the rest: a 4-byte counter and the last-chunk flag).
const PREFIX: usize = 19;
/// The header: magic, key id, nonce prefix.
const HEADER: usize = MAGIC.len() + 4 + PREFIX;
/// Poly1305's tag.
const TAG: usize = 16;

/// The key backups are sealed with: twelve words a person writes down.
#[derive(Clone)]
pub struct BackupKey {
    entropy: [u8; 16],
    cipher: XChaCha20Poly1305,
    id: [u8; 4],
}

impl std::fmt::Debug for BackupKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BackupKey({}, secret redacted)", self.id())
    }
}

/// Why words are not a backup key.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BackupKeyError {
    #[error("a backup key is 12 words; {0} were given")]
    Count(usize),
    #[error("word {0} is not one of the backup key's words: check its spelling")]
    UnknownWord(usize),
    #[error(
        "these words are not a backup key: one of them was probably written down wrong (the last word checks the others)"
    )]
    Checksum,
}

impl BackupKey {
    /// A new random key.
    pub fn generate() -> BackupKey {
        BackupKey::from_entropy(super::random::bytes())
    }

    fn from_entropy(entropy: [u8; 16]) -> BackupKey {
        let raw = hmac(&entropy, &[b"kap-practice backup key v1"]);
        let digest = Sha256::digest(raw);
        BackupKey {
            entropy,
            cipher: XChaCha20Poly1305::new(Key::from_slice(&raw)),
            id: [digest[0], digest[1], digest[2], digest[3]],
        }
    }

    /// Reads the twelve words, in any case, separated by any spaces, commas or line breaks.
    pub fn from_words(text: &str) -> Result<BackupKey, BackupKeyError> {
        let words: Vec<String> = text
            .split(|c: char| c.is_whitespace() || c == ',' || c == '-')
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect();
        if words.len() != 12 {
            return Err(BackupKeyError::Count(words.len()));
        }
        let list = bip39::Language::English.word_list();
        if let Some(i) = words.iter().position(|w| !list.contains(&w.as_str())) {
            return Err(BackupKeyError::UnknownWord(i + 1));
        }
        let mnemonic =
            bip39::Mnemonic::parse_in_normalized(bip39::Language::English, &words.join(" "))
                .map_err(|_| BackupKeyError::Checksum)?;
        let (entropy, len) = mnemonic.to_entropy_array();
        let entropy: [u8; 16] = entropy
            .get(..len)
            .and_then(|e| e.try_into().ok())
            .ok_or(BackupKeyError::Checksum)?;
        Ok(BackupKey::from_entropy(entropy))
    }

    /// The twelve words, in order.
    pub fn words(&self) -> Vec<&'static str> {
        // 16 bytes is always a valid entropy length.
        bip39::Mnemonic::from_entropy(&self.entropy)
            .map(|m| m.words().collect())
            .unwrap_or_default()
    }

    /// The key's id (4 bytes of a hash, as hex): safe to show and store, names no secret.
    pub fn id(&self) -> String {
        hex(&self.id)
    }

    /// Seals a stream written to `out`; [`Sealer::finish`] writes the last chunk.
    pub fn sealer<W: Write>(&self, mut out: W) -> io::Result<Sealer<W>> {
        let mut header = [0u8; HEADER];
        header[..MAGIC.len()].copy_from_slice(MAGIC);
        header[MAGIC.len()..MAGIC.len() + 4].copy_from_slice(&self.id);
        super::random::fill(&mut header[MAGIC.len() + 4..]);
        out.write_all(&header)?;
        Ok(Sealer {
            cipher: self.cipher.clone(),
            header,
            out,
            buf: Vec::with_capacity(CHUNK),
            counter: 0,
        })
    }

    /// Opens a stream sealed under this key, read from `input`.
    pub fn opener<R: Read>(&self, mut input: R) -> Result<Opener<R>, StreamError> {
        let mut header = [0u8; HEADER];
        input
            .read_exact(&mut header)
            .map_err(|_| StreamError::NotABackup)?;
        if &header[..MAGIC.len()] != MAGIC {
            return Err(StreamError::NotABackup);
        }
        let id = &header[MAGIC.len()..MAGIC.len() + 4];
        if id != self.id {
            return Err(StreamError::OtherKey(hex(id)));
        }
        Ok(Opener {
            cipher: self.cipher.clone(),
            header,
            input,
            plain: Vec::new(),
            at: 0,
            counter: 0,
            done: false,
        })
    }
}

/// Why a sealed stream did not open.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("this is not a backup of kap-practice (or its first bytes are damaged)")]
    NotABackup,
    #[error(
        "this backup was sealed under another backup key (id {0}): use the words written down when that key was made"
    )]
    OtherKey(String),
}

fn nonce(header: &[u8; HEADER], counter: u32, last: bool) -> XNonce {
    let mut n = [0u8; 24];
    n[..PREFIX].copy_from_slice(&header[MAGIC.len() + 4..]);
    n[PREFIX..PREFIX + 4].copy_from_slice(&counter.to_be_bytes());
    n[23] = u8::from(last);
    *XNonce::from_slice(&n)
}

/// Writes a sealed stream in chunks.
pub struct Sealer<W: Write> {
    cipher: XChaCha20Poly1305,
    header: [u8; HEADER],
    out: W,
    buf: Vec<u8>,
    counter: u32,
}

impl<W: Write> Sealer<W> {
    fn seal_chunk(&mut self, last: bool) -> io::Result<()> {
        let sealed = self
            .cipher
            .encrypt(
                &nonce(&self.header, self.counter, last),
                Payload {
                    msg: &self.buf,
                    aad: &self.header,
                },
            )
            .map_err(|_| io::Error::other("cannot seal a chunk of the backup"))?;
        self.out.write_all(&sealed)?;
        self.buf.clear();
        self.counter = self
            .counter
            .checked_add(1)
            .ok_or_else(|| io::Error::other("the backup is too large for one stream"))?;
        Ok(())
    }

    /// Seals the last chunk and hands back the writer (to be flushed and synced by the caller).
    pub fn finish(mut self) -> io::Result<W> {
        self.seal_chunk(true)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: Write> Write for Sealer<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = CHUNK - self.buf.len();
        let n = room.min(data.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == CHUNK {
            // A full chunk is always a middle one: `finish` seals one more, shorter than a full
            // chunk (possibly empty), marked as the last.
            self.seal_chunk(false)?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Reads a sealed stream, failing on any change, reordering or truncation.
pub struct Opener<R: Read> {
    cipher: XChaCha20Poly1305,
    header: [u8; HEADER],
    input: R,
    plain: Vec<u8>,
    at: usize,
    counter: u32,
    done: bool,
}

impl<R: Read> Opener<R> {
    fn next_chunk(&mut self) -> io::Result<()> {
        let mut sealed = vec![0u8; CHUNK + TAG];
        let mut filled = 0;
        while filled < sealed.len() {
            match self.input.read(&mut sealed[filled..])? {
                0 => break,
                n => filled += n,
            }
        }
        sealed.truncate(filled);
        // A full-size chunk may be a middle one; a shorter one must be the last.
        let damaged = || io::Error::new(io::ErrorKind::InvalidData, OpenFailed);
        let last = filled < CHUNK + TAG;
        let open = |last: bool| {
            self.cipher.decrypt(
                &nonce(&self.header, self.counter, last),
                Payload {
                    msg: &sealed,
                    aad: &self.header,
                },
            )
        };
        let plain = if last {
            open(true).map_err(|_| damaged())?
        } else {
            open(false).map_err(|_| damaged())?
        };
        self.plain = plain;
        self.at = 0;
        self.done = last;
        self.counter = self.counter.checked_add(1).ok_or_else(damaged)?;
        Ok(())
    }
}

/// A chunk of the backup failed to open: the file is damaged, cut short or was changed.
#[derive(Debug, thiserror::Error)]
#[error("the backup is damaged, cut short or was changed after it was written")]
pub struct OpenFailed;

impl<R: Read> Read for Opener<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.at == self.plain.len() {
            if self.done {
                return Ok(0);
            }
            self.next_chunk()?;
        }
        let n = out.len().min(self.plain.len() - self.at);
        out[..n].copy_from_slice(&self.plain[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

impl Keyring {
    /// The data keys as one line (`current` then `previous…`, hex, comma-separated), to travel
    /// inside a sealed backup only, so that one backup key restores the data too.
    pub fn backup_record(&self) -> String {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .map(|k| hex(&k.raw))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The keyring a backup carried (see [`Keyring::backup_record`]).
    pub fn from_backup_record(line: &str) -> Option<Keyring> {
        let mut keys = line.trim().split(',').map(|k| {
            let raw: [u8; 32] = unhex(k.trim())?.try_into().ok()?;
            Some(DataKey::new(raw))
        });
        let current = keys.next()??;
        let previous = keys.collect::<Option<Vec<_>>>()?;
        Some(Keyring { current, previous })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(key: &BackupKey, len: usize) -> Vec<u8> {
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let mut sealer = key.sealer(Vec::new()).expect("sealer");
        sealer.write_all(&data).expect("write");
        let sealed = sealer.finish().expect("finish");
        let mut back = Vec::new();
        key.opener(&sealed[..])
            .expect("opener")
            .read_to_end(&mut back)
            .expect("opens");
        assert_eq!(back, data, "{len} bytes");
        sealed
    }

    #[test]
    fn streams_of_every_shape_open_to_what_was_written() {
        let key = BackupKey::generate();
        for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 7] {
            roundtrip(&key, len);
        }
    }

    #[test]
    fn a_changed_cut_or_foreign_stream_does_not_open() {
        let key = BackupKey::generate();
        let sealed = roundtrip(&key, 2 * CHUNK + 10);
        let read = |bytes: &[u8]| -> io::Result<Vec<u8>> {
            let mut out = Vec::new();
            key.opener(bytes)
                .map_err(io::Error::other)?
                .read_to_end(&mut out)?;
            Ok(out)
        };
        let mut flipped = sealed.clone();
        flipped[HEADER + 100] ^= 1;
        assert!(read(&flipped).is_err());
        // Cut at a chunk boundary: the chunk now last was sealed as a middle one.
        assert!(read(&sealed[..HEADER + 2 * (CHUNK + TAG)]).is_err());
        assert!(read(&sealed[..sealed.len() - 1]).is_err());
        let other = BackupKey::generate();
        assert!(matches!(
            other.opener(&sealed[..]),
            Err(StreamError::OtherKey(_))
        ));
        assert!(matches!(
            key.opener(&b"SQLite format 3\0 and more bytes here"[..]),
            Err(StreamError::NotABackup)
        ));
    }

    #[test]
    fn the_words_spell_the_key_and_a_slip_is_caught() {
        let key = BackupKey::generate();
        let words = key.words();
        assert_eq!(words.len(), 12);
        let written = words.join("  ").to_uppercase();
        let again = BackupKey::from_words(&written).expect("read back");
        assert_eq!(again.id(), key.id());
        assert_eq!(
            BackupKey::from_words(&words[..11].join(" ")).map(|k| k.id()),
            Err(BackupKeyError::Count(11))
        );
        let mut wrong: Vec<&str> = words.clone();
        wrong[3] = "notaword";
        assert_eq!(
            BackupKey::from_words(&wrong.join(" ")).map(|k| k.id()),
            Err(BackupKeyError::UnknownWord(4))
        );
        // Two words swapped. The checksum is four bits, so it catches fifteen slips in sixteen:
        // a random key's swap would pass one run in sixteen, so the slip is made in a fixed
        // phrase (BIP-39's own test vector for 0x7f7f…7f) whose swap the checksum catches.
        let phrase = "legal winner thank year wave sausage worth useful legal winner thank yellow";
        assert!(BackupKey::from_words(phrase).is_ok());
        let mut swapped: Vec<&str> = phrase.split(' ').collect();
        swapped.swap(0, 1);
        assert!(BackupKey::from_words(&swapped.join(" ")).is_err());
    }

    #[test]
    fn the_data_keys_travel_in_one_line() {
        const K1: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
        const K2: &str = "1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100";
        let keys = Keyring::from_hex(K2, &[K1]).expect("keys");
        let back = Keyring::from_backup_record(&keys.backup_record()).expect("record");
        assert_eq!(back.current_id(), keys.current_id());
        assert_eq!(back.backup_record(), keys.backup_record());
        assert!(Keyring::from_backup_record("zz").is_none());
    }
}
