//! The sealed file itself: a database snapshot gzipped and sealed under the backup key, with
//! the data keys inside, and the way back to the database file.

use std::io::{BufRead, Read, Write};
use std::path::Path;

use jiff::Timestamp;

use super::{BackupError, FORMAT_LINE, io};
use crypto::{BackupKey, Keyring};

/// Writes the sealed backup of the database file `snapshot` to `out`; returns its size.
pub(super) fn seal_file(
    snapshot: &Path,
    out: &Path,
    key: &BackupKey,
    keys: &str,
    now: Timestamp,
) -> Result<u64, BackupError> {
    let mut database = std::fs::File::open(snapshot).map_err(io(snapshot))?;
    let size = database.metadata().map_err(io(snapshot))?.len();
    store::data_dir::private::file(out, true).map_err(io(out))?;
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
pub(super) struct Opened {
    pub keys: Keyring,
    /// The data keys as the backup carried them (hex, current first).
    pub record: String,
    pub created_at: String,
}

/// Opens the sealed backup `sealed` into the database file `database`.
pub(super) fn open_file(
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
    store::data_dir::private::file(database, true).map_err(io(database))?;
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
pub(super) fn write_keys(record: &str, dir: &Path) -> Result<usize, BackupError> {
    let mut keys = record.split(',').map(str::trim);
    let current = keys.next().unwrap_or_default();
    let previous: Vec<&str> = keys.collect();
    let write = |name: &str, text: String| {
        let path = dir.join(name);
        store::data_dir::private::file(&path, true).map_err(io(&path))?;
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
