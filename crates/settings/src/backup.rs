//! Where and when backups are made: the `[backup]` section of the config file, with the
//! environment on top (`KAP_BACKUP_*`, and the usual `AWS_ACCESS_KEY_ID` /
//! `AWS_SECRET_ACCESS_KEY` for object storage).

use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::config::Secret;
use crate::config::read::Reader;

/// The `[backup]` table as written.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FileBackup {
    dir: Option<String>,
    s3_endpoint: Option<Spanned<String>>,
    s3_bucket: Option<String>,
    s3_region: Option<String>,
    s3_prefix: Option<String>,
    /// Bucket in the path (`https://host/bucket/key`), as most providers other than AWS want.
    s3_path_style: Option<bool>,
    s3_access_key_id: Option<String>,
    s3_secret_access_key: Option<String>,
    /// A file of two lines: the access key id, then the secret.
    s3_credentials_file: Option<Spanned<String>>,
    hour: Option<Spanned<u8>>,
    /// Off: no automatic backups, even with a destination set.
    enabled: Option<bool>,
    verify_every_days: Option<Spanned<u32>>,
    key_file: Option<String>,
}

/// S3-compatible object storage.
#[derive(Clone, Debug)]
pub struct S3Settings {
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    /// Prepended to every object name (`kap-practice/`, say); may be empty.
    pub prefix: String,
    pub path_style: bool,
    pub access_key_id: String,
    pub secret_access_key: Secret,
}

/// Backups as configured.
#[derive(Clone, Debug)]
pub struct BackupSettings {
    /// A local directory (another disk, a mounted share).
    pub dir: Option<PathBuf>,
    pub s3: Option<S3Settings>,
    /// The hour of the day (practice's time zone) the daily backup is made.
    pub hour: u8,
    /// A backup is downloaded and checked this often.
    pub verify_every_days: u32,
    /// Where the backup key's words are kept on this server; default `backup.key` in the data
    /// directory. `KAP_BACKUP_KEY` (the words) wins.
    pub key_file: Option<PathBuf>,
    /// Whether automatic backups are on.
    pub enabled: bool,
    /// What the config file (or the environment) sets: it wins over what the inbox saved.
    pub file_sets: FileSets,
    /// Why the object storage saved in the inbox cannot be used (its access key cannot be
    /// found, say), for the page to say.
    pub saved_problem: Option<String>,
}

/// The groups of backup settings the config file (or the environment) sets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FileSets {
    pub dir: bool,
    pub s3: bool,
    pub hour: bool,
    pub enabled: bool,
}

impl Default for BackupSettings {
    fn default() -> Self {
        BackupSettings {
            dir: None,
            s3: None,
            hour: 3,
            verify_every_days: 7,
            key_file: None,
            enabled: true,
            file_sets: FileSets::default(),
            saved_problem: None,
        }
    }
}

impl BackupSettings {
    /// Whether any destination is set: backups are made only then.
    pub fn configured(&self) -> bool {
        self.enabled && (self.dir.is_some() || self.s3.is_some())
    }

    /// Reads the section (and the environment), reporting problems by line.
    pub(crate) fn from_file(file: FileBackup, read: &mut Reader<'_>) -> BackupSettings {
        let env = |n: &str| std::env::var(n).ok().filter(|v| !v.trim().is_empty());
        let defaults = BackupSettings::default();
        let file_sets = FileSets {
            dir: env("KAP_BACKUP_DIR").is_some() || file.dir.is_some(),
            s3: env("KAP_BACKUP_S3_ENDPOINT").is_some()
                || env("KAP_BACKUP_S3_BUCKET").is_some()
                || file.s3_endpoint.is_some()
                || file.s3_bucket.is_some(),
            hour: file.hour.is_some(),
            enabled: file.enabled.is_some(),
        };
        let hour = read.checked(
            file.hour,
            |h| *h <= 23,
            defaults.hour,
            "backup.hour is the hour of the day of the daily backup: 0 to 23 (3 is 3 AM)",
        );
        let verify_every_days = read.at_least_one(
            file.verify_every_days,
            defaults.verify_every_days,
            "backup.verify_every_days must be at least 1 (7: once a week)",
        );
        let dir = env("KAP_BACKUP_DIR")
            .or(file.dir)
            .filter(|d| !d.trim().is_empty())
            .map(PathBuf::from);
        let endpoint_line = file.s3_endpoint.as_ref().map(|e| read.line(e)).unwrap_or(0);
        let endpoint = env("KAP_BACKUP_S3_ENDPOINT").or(file.s3_endpoint.map(|e| e.into_inner()));
        let bucket = env("KAP_BACKUP_S3_BUCKET").or(file.s3_bucket);
        let s3 = match (endpoint, bucket) {
            (None, None) => None,
            (Some(endpoint), Some(bucket)) => {
                if !(endpoint.starts_with("https://") || endpoint.starts_with("http://")) {
                    read.error(
                        endpoint_line,
                        "backup.s3_endpoint must be the storage's address, starting with https:// (for example https://s3.us-east-1.amazonaws.com)",
                    );
                }
                let (mut id, mut secret) = (file.s3_access_key_id, file.s3_secret_access_key);
                if let Some(path) = file.s3_credentials_file {
                    let line = read.line(&path);
                    let path = path.into_inner();
                    match std::fs::read_to_string(&path) {
                        Ok(t) => {
                            let mut lines = t.lines().map(str::trim).filter(|l| !l.is_empty());
                            id = lines.next().map(str::to_string);
                            secret = lines.next().map(str::to_string);
                        }
                        Err(e) => read.error(
                            line,
                            format!("cannot read backup.s3_credentials_file {path}: {e}"),
                        ),
                    }
                }
                let id = env("AWS_ACCESS_KEY_ID").or(id);
                let secret = env("AWS_SECRET_ACCESS_KEY").or(secret);
                match (id, secret) {
                    (Some(id), Some(secret)) => Some(S3Settings {
                        endpoint,
                        bucket,
                        region: env("KAP_BACKUP_S3_REGION")
                            .or(file.s3_region)
                            .unwrap_or_else(|| "us-east-1".into()),
                        prefix: env("KAP_BACKUP_S3_PREFIX")
                            .or(file.s3_prefix)
                            .unwrap_or_default(),
                        path_style: file.s3_path_style.unwrap_or(true),
                        access_key_id: id,
                        secret_access_key: Secret(secret),
                    }),
                    _ => {
                        read.error(
                            endpoint_line,
                            "backups to object storage need its access key: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or backup.s3_credentials_file (a file of two lines: the key id, then the secret)",
                        );
                        None
                    }
                }
            }
            _ => {
                read.error(
                    endpoint_line,
                    "backups to object storage need both backup.s3_endpoint and backup.s3_bucket",
                );
                None
            }
        };
        BackupSettings {
            dir,
            s3,
            hour,
            verify_every_days,
            key_file: file.key_file.map(PathBuf::from),
            enabled: file.enabled.unwrap_or(true),
            file_sets,
            saved_problem: None,
        }
    }

    /// These settings with what the inbox saved in place, except where the config file (or
    /// the environment) sets a value. The saved object storage takes its access key from the
    /// environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`) or from the credentials file
    /// it names: no secret is ever saved from a page.
    pub fn with_saved(&self, saved: &SavedBackup) -> BackupSettings {
        let mut out = self.clone();
        let get = |k: &str| saved.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
        if !self.file_sets.dir {
            out.dir = get("dir").map(PathBuf::from);
        }
        if !self.file_sets.hour
            && let Some(h) = get("hour")
                .and_then(|h| h.parse::<u8>().ok())
                .filter(|h| *h < 24)
        {
            out.hour = h;
        }
        if !self.file_sets.enabled
            && let Some(on) = get("enabled")
        {
            out.enabled = on == "on";
        }
        if !self.file_sets.s3 {
            out.s3 = None;
            if let (Some(endpoint), Some(bucket)) = (get("s3_endpoint"), get("s3_bucket")) {
                match saved_credentials(get("s3_credentials_file")) {
                    Ok((id, secret)) => {
                        out.s3 = Some(S3Settings {
                            endpoint: endpoint.to_string(),
                            bucket: bucket.to_string(),
                            region: get("s3_region").unwrap_or("us-east-1").to_string(),
                            prefix: get("s3_prefix").unwrap_or_default().to_string(),
                            path_style: true,
                            access_key_id: id,
                            secret_access_key: Secret(secret),
                        })
                    }
                    Err(problem) => out.saved_problem = Some(problem),
                }
            }
        }
        out
    }
}

/// The backup settings saved in the inbox, by field name (see [`SAVED_FIELDS`]).
pub type SavedBackup = std::collections::BTreeMap<String, String>;

/// The fields the inbox saves.
pub const SAVED_FIELDS: [&str; 8] = [
    "dir",
    "s3_endpoint",
    "s3_bucket",
    "s3_prefix",
    "s3_region",
    "s3_credentials_file",
    "hour",
    "enabled",
];

/// The object storage's access key for settings saved in the inbox: the environment's, else
/// the two lines of `file`.
fn saved_credentials(file: Option<&str>) -> Result<(String, String), String> {
    let env = |n: &str| std::env::var(n).ok().filter(|v| !v.trim().is_empty());
    if let (Some(id), Some(secret)) = (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
        return Ok((id, secret));
    }
    let Some(path) = file else {
        return Err("the object storage's access key is not set: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the server's environment, or name a credentials file".into());
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("the credentials file {path} cannot be read: {e}"))?;
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    match (lines.next(), lines.next()) {
        (Some(id), Some(secret)) => Ok((id.to_string(), secret.to_string())),
        _ => Err(format!(
            "the credentials file {path} must hold two lines: the access key id, then the secret"
        )),
    }
}

/// Checks the settings posted on `/admin/backups`: the values to save, or the problems by
/// field. Only where and when are taken; never a secret.
pub fn check_posted(
    posted: &std::collections::BTreeMap<String, String>,
) -> Result<SavedBackup, Vec<(&'static str, String)>> {
    let mut out = SavedBackup::new();
    let mut problems = Vec::new();
    for field in SAVED_FIELDS {
        let value = posted.get(field).map(|v| v.trim()).unwrap_or_default();
        if !value.is_empty() {
            out.insert(field.to_string(), value.to_string());
        }
    }
    out.entry("enabled".into()).or_insert_with(|| "off".into());
    if let Some(dir) = out.get("dir")
        && !Path::new(dir).is_absolute()
    {
        problems.push((
            "dir",
            "Enter the directory's full path, starting with / (for example /mnt/backup-disk/kap-practice).".into(),
        ));
    }
    match (out.get("s3_endpoint"), out.get("s3_bucket")) {
        (Some(e), _) if !(e.starts_with("https://") || e.starts_with("http://")) => problems.push((
            "s3_endpoint",
            "Enter the storage's address, starting with https:// (for example https://s3.us-east-1.amazonaws.com).".into(),
        )),
        (Some(_), None) => problems.push(("s3_bucket", "Enter the bucket's name, or leave the storage's address empty.".into())),
        (None, Some(_)) => problems.push(("s3_endpoint", "Enter the storage's address, or leave the bucket empty.".into())),
        _ => {}
    }
    if let Some(f) = out.get("s3_credentials_file")
        && !Path::new(f).is_absolute()
    {
        problems.push((
            "s3_credentials_file",
            "Enter the credentials file's full path, starting with /.".into(),
        ));
    }
    if let Some(h) = out.get("hour")
        && !h.parse::<u8>().is_ok_and(|h| h < 24)
    {
        problems.push(("hour", "Choose an hour of the day.".into()));
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn posted(pairs: &[(&str, &str)]) -> SavedBackup {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn posted_settings_are_checked_by_field_and_unticked_means_off() {
        let ok = check_posted(&posted(&[("dir", " /mnt/b "), ("hour", "4")])).expect("valid");
        assert_eq!(ok.get("dir").map(String::as_str), Some("/mnt/b"));
        assert_eq!(ok.get("enabled").map(String::as_str), Some("off"));
        let problems = check_posted(&posted(&[
            ("dir", "relative"),
            ("s3_endpoint", "s3.example.com"),
            ("s3_credentials_file", "creds"),
            ("hour", "24"),
        ]))
        .expect_err("refused");
        let fields: Vec<&str> = problems.iter().map(|(f, _)| *f).collect();
        assert_eq!(
            fields,
            ["dir", "s3_endpoint", "s3_credentials_file", "hour"]
        );
    }

    #[test]
    fn saved_settings_apply_where_the_file_is_silent() {
        let saved = posted(&[("dir", "/saved"), ("hour", "5"), ("enabled", "on")]);
        let file = BackupSettings {
            dir: Some(PathBuf::from("/file")),
            file_sets: FileSets {
                dir: true,
                ..FileSets::default()
            },
            ..BackupSettings::default()
        };
        let now = file.with_saved(&saved);
        assert_eq!(now.dir, Some(PathBuf::from("/file")));
        assert_eq!(now.hour, 5);
        let off =
            BackupSettings::default().with_saved(&posted(&[("dir", "/d"), ("enabled", "off")]));
        assert!(!off.configured());
    }
}
