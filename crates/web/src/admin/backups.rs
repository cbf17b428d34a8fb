//! `/admin/backups`: how the automatic backups stand, where and when they are made (saved here,
//! or set in the config file's `[backup]` section, which wins where it sets a value), a test
//! of each destination now, and the backup key: made here, shown once as twelve words to write
//! down or print, confirmed by typing three back.

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;
use jiff::Timestamp;

use super::posted::{Button, inbox_form};
use super::sign_in::{chrome, render};
use super::views::{Chrome, when};
use super::{Admin, Clinician};
use crate::backup::{self, Target, worker::Health};
use crate::form::Posted;
use crate::{AppError, AppState};
use settings::backup::{FileSets, SavedBackup, check_posted};
use store::audit::{Action, Entry};

/// The words asked back to confirm the key (1-based).
const ASKED: [usize; 3] = [3, 7, 11];

#[derive(Template)]
#[template(path = "admin/backups.html")]
pub struct BackupsView {
    pub chrome: Chrome,
    /// On PostgreSQL: why there is nothing here.
    pub postgres: Option<String>,
    /// The status in one sentence, and whether it needs attention.
    pub status: String,
    pub attention: bool,
    pub last_failure: Option<(String, String)>,
    pub last_verify: Option<(String, bool, String)>,
    pub destinations: Vec<String>,
    pub schedule: String,
    /// The results of "test the connection now".
    pub tested: Vec<(String, Option<String>)>,
    /// `None`: no key yet; else whether its words were confirmed.
    pub key_confirmed: Option<bool>,
    /// The words, shown once right after the key is made.
    pub words: Vec<&'static str>,
    pub asked: [usize; 3],
    pub confirm_error: Option<String>,
    pub confirmed_now: bool,
    /// The settings form: the values shown (saved, or as posted after a problem).
    pub saved: SavedBackup,
    /// What the config file sets (shown, not editable here).
    pub file_sets: FileSets,
    /// The values in force, for the fields the file sets.
    pub file_dir: String,
    pub file_s3: String,
    pub hour_now: u8,
    pub enabled_now: bool,
    pub hours: Vec<(u8, String)>,
    /// Problems with the posted settings, by field.
    pub errors: Vec<(&'static str, String)>,
    pub saved_now: bool,
    /// Why the saved object storage cannot be used.
    pub saved_problem: Option<String>,
}

/// A text field of the settings form.
pub struct TextField {
    pub name: &'static str,
    pub label: &'static str,
    pub hint: &'static str,
    pub value: String,
    pub error: Option<String>,
}

impl BackupsView {
    /// The value shown in the settings form's field `name`.
    pub fn value(&self, name: &str) -> &str {
        self.saved.get(name).map(String::as_str).unwrap_or_default()
    }

    /// The problem with field `name`, if any.
    pub fn error(&self, name: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| *f == name)
            .map(|(_, m)| m.as_str())
    }

    fn field(&self, name: &'static str, label: &'static str, hint: &'static str) -> TextField {
        TextField {
            name,
            label,
            hint,
            value: self.value(name).to_string(),
            error: self.error(name).map(str::to_string),
        }
    }

    /// The local directory's field (empty when the config file sets it).
    pub fn dir_fields(&self) -> Vec<TextField> {
        if self.file_sets.dir {
            return Vec::new();
        }
        vec![self.field(
            "dir",
            "A directory on another disk or a mounted share",
            "Its full path, for example /mnt/backup-disk/kap-practice. Leave it empty for none.",
        )]
    }

    /// The object storage's fields (none when the config file sets it).
    pub fn s3_fields(&self) -> Vec<TextField> {
        if self.file_sets.s3 {
            return Vec::new();
        }
        vec![
            self.field(
                "s3_endpoint",
                "The storage's address",
                "For example https://s3.us-east-1.amazonaws.com. Leave it empty for none.",
            ),
            self.field("s3_bucket", "The bucket", ""),
            self.field(
                "s3_prefix",
                "Folder in the bucket (optional)",
                "For example kap-practice/",
            ),
            self.field("s3_region", "Region (optional)", "us-east-1 when empty"),
            self.field(
                "s3_credentials_file",
                "The access key's file on the server (optional)",
                "The full path of a file of two lines, the access key id and then the secret, readable by the server only. Without it, the key is taken from the server's environment (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY). The secret itself is never typed here.",
            ),
        ]
    }

    /// The hour shown as chosen.
    pub fn hour_chosen(&self) -> u8 {
        self.value("hour").parse().unwrap_or(self.hour_now)
    }

    /// Whether "make backups" shows as ticked.
    pub fn enabled_chosen(&self) -> bool {
        match self.saved.get("enabled") {
            Some(v) => v == "on",
            None => self.enabled_now,
        }
    }
}

async fn view(state: &AppState, admin: &Admin) -> Result<BackupsView, AppError> {
    let config = state.config();
    let tz = state.time_zone();
    let mut v = BackupsView {
        chrome: chrome(
            state,
            "Backups",
            Some(admin.email.clone()),
            &admin.csrf,
            state.store.count_new().await?,
            "backups",
        ),
        postgres: None,
        status: String::new(),
        attention: false,
        last_failure: None,
        last_verify: None,
        destinations: Target::all(&config.backup)
            .iter()
            .map(Target::describe)
            .collect(),
        schedule: format!(
            "Every day at {}, on the practice's clock; the newest backup is opened and checked every {} days. Kept: the last 7 days, 4 weeks and 12 months.",
            hour(config.backup.hour),
            config.backup.verify_every_days
        ),
        tested: Vec::new(),
        key_confirmed: None,
        words: Vec::new(),
        asked: ASKED,
        confirm_error: None,
        confirmed_now: false,
        saved: state.in_force.saved_backup().unwrap_or_default(),
        file_sets: config.backup.file_sets,
        file_dir: config
            .backup
            .dir
            .as_ref()
            .map(|d| d.display().to_string())
            .unwrap_or_default(),
        file_s3: config
            .backup
            .s3
            .as_ref()
            .map(|s3| format!("{}/{}/{}", s3.endpoint, s3.bucket, s3.prefix))
            .unwrap_or_default(),
        hour_now: config.backup.hour,
        enabled_now: config.backup.enabled,
        hours: (0..24).map(|h| (h, hour(h))).collect(),
        errors: Vec::new(),
        saved_now: false,
        saved_problem: config.backup.saved_problem.clone(),
    };
    if state.store.engine() == store::Engine::Postgres {
        v.postgres = Some(backup::BackupError::Postgres.to_string());
        return Ok(v);
    }
    let log = state.store.backup_log().await?;
    let now = Timestamp::now();
    v.status = status_line(&log, &tz, now, config.backup.configured());
    v.attention = !matches!(Health::of(&log, now), Health::Ok);
    v.last_failure = log
        .last_failure
        .as_ref()
        .filter(|f| log.last_success.as_ref().is_none_or(|s| f.at > s.at))
        .map(|f| (when(f.at, &tz), f.detail.clone().unwrap_or_default()));
    v.last_verify = log
        .last_verify
        .as_ref()
        .map(|e| (when(e.at, &tz), e.ok, e.detail.clone().unwrap_or_default()));
    v.key_confirmed = log.key.as_ref().map(|(_, confirmed)| *confirmed);
    Ok(v)
}

/// "3 AM", "3 PM".
fn hour(h: u8) -> String {
    match h {
        0 => "midnight".into(),
        12 => "noon".into(),
        h if h < 12 => format!("{h} AM"),
        h => format!("{} PM", h - 12),
    }
}

/// "Last backup: yesterday at 3:10 AM, 2.1 MB, verified Sunday." The inbox shows it too.
pub fn status_line(
    log: &store::BackupLog,
    tz: &jiff::tz::TimeZone,
    now: Timestamp,
    configured: bool,
) -> String {
    if !configured {
        return "Automatic backups are not set up: the practice's records exist only on this server.".into();
    }
    let Some(success) = &log.last_success else {
        return "No backup has succeeded yet.".into();
    };
    let mut line = format!(
        "Last backup: {}, {}",
        day_time(success.at, tz, now),
        size(success.bytes.unwrap_or(0))
    );
    if let Some(v) = log.last_verify.as_ref().filter(|v| v.ok) {
        line.push_str(&format!(", verified {}", day(v.at, tz, now)));
    }
    line.push('.');
    match Health::of(log, now) {
        Health::Late => line.push_str(" That is more than a day and a half ago."),
        Health::Failing => line.push_str(" The backups since have failed."),
        _ => {}
    }
    line
}

/// "today", "yesterday", "Sunday" (within the week), "on Nov 28".
fn day(at: Timestamp, tz: &jiff::tz::TimeZone, now: Timestamp) -> String {
    let (then, today) = (
        at.to_zoned_datetime(tz.clone()).date(),
        now.to_zoned_datetime(tz.clone()).date(),
    );
    let days = (today - then).get_days();
    match days {
        0 => "today".into(),
        1 => "yesterday".into(),
        2..=6 => then.strftime("%A").to_string(),
        _ => then.strftime("on %b %-d").to_string(),
    }
}

/// "yesterday at 3:10 AM".
fn day_time(at: Timestamp, tz: &jiff::tz::TimeZone, now: Timestamp) -> String {
    format!(
        "{} at {}",
        day(at, tz, now),
        practice::wording::clock(at, tz)
    )
}

/// "2.1 MB", "840 kB".
fn size(bytes: i64) -> String {
    if bytes >= 1_000_000 {
        format!("{}.{} MB", bytes / 1_000_000, (bytes % 1_000_000) / 100_000)
    } else {
        format!("{} kB", (bytes + 999) / 1000)
    }
}

/// The inbox's line about backups (SQLite only): the last backup and verify, and a warning
/// when they are late or failing, not set up, or the key was never confirmed.
pub async fn inbox_line(state: &AppState) -> Option<(String, bool)> {
    if state.store.engine() == store::Engine::Postgres {
        return None;
    }
    let config = state.config();
    let log = state.store.backup_log().await.ok()?;
    let now = Timestamp::now();
    let mut line = status_line(&log, &state.time_zone(), now, config.backup.configured());
    let mut warning = config.backup.configured() && Health::of(&log, now) != Health::Ok;
    if config.backup.configured() && !log.key.as_ref().is_some_and(|(_, confirmed)| *confirmed) {
        line.push_str(" The backup key's words were never confirmed as written down.");
        warning = true;
    }
    Some((line, warning))
}

pub async fn page(Clinician { state, admin }: Clinician) -> Result<Response, AppError> {
    let v = view(&state, &admin).await?;
    Ok(render(StatusCode::OK, v.render()))
}

/// "Test the connection now": each destination takes a small test file.
pub async fn test(
    Clinician { state, admin }: Clinician,
    _: Posted<Button>,
) -> Result<Response, AppError> {
    let mut v = view(&state, &admin).await?;
    if v.postgres.is_none() {
        for target in Target::all(&state.config().backup) {
            let result = target.test().await.err().map(|e| e.to_string());
            v.tested.push((target.describe(), result));
        }
    }
    Ok(render(StatusCode::OK, v.render()))
}

/// Makes a new backup key and shows its words, once.
pub async fn make_key(
    Clinician { state, admin }: Clinician,
    _: Posted<Button>,
) -> Result<Response, AppError> {
    let mut v = view(&state, &admin).await?;
    if v.postgres.is_some() {
        return Ok(render(StatusCode::CONFLICT, v.render()));
    }
    let config = state.config();
    let key = backup::make_key(
        &state.store,
        &config.backup,
        &config.server.data_dir,
        Timestamp::now(),
    )
    .await?;
    v.words = key.words();
    v.key_confirmed = Some(false);
    Ok(render(StatusCode::OK, v.render()))
}

inbox_form!(
    /// The words of the backup key asked back ([`ASKED`]).
    ConfirmKeyForm { word3, word7, word11 } "Nothing was confirmed."
);

/// Confirms the key: the three words asked must match.
pub async fn confirm_key(
    Clinician { state, admin }: Clinician,
    Posted(form): Posted<ConfirmKeyForm>,
) -> Result<Response, AppError> {
    let mut v = view(&state, &admin).await?;
    let config = state.config();
    let key = backup::load_key(&config.backup, &config.server.data_dir)?;
    let Some(key) = key else {
        v.confirm_error = Some("There is no backup key yet: make one first.".into());
        return Ok(render(StatusCode::UNPROCESSABLE_ENTITY, v.render()));
    };
    let words = key.words();
    let typed = |n: usize| {
        match n {
            3 => &form.word3,
            7 => &form.word7,
            _ => &form.word11,
        }
        .trim()
        .to_lowercase()
    };
    let wrong: Vec<usize> = ASKED
        .into_iter()
        .filter(|n| typed(*n) != words[n - 1])
        .collect();
    if !wrong.is_empty() {
        let list: Vec<String> = wrong.iter().map(|n| format!("word {n}")).collect();
        v.confirm_error = Some(format!(
            "{} did not match what was shown. Check the words you wrote down; if they are lost, make a new key.",
            list.join(", ")
        ));
        v.chrome.title = format!("Error: {}", v.chrome.title);
        return Ok(render(StatusCode::UNPROCESSABLE_ENTITY, v.render()));
    }
    backup::confirm_key(&state.store, &key, Timestamp::now()).await?;
    v.key_confirmed = Some(true);
    v.confirmed_now = true;
    Ok(render(StatusCode::OK, v.render()))
}

inbox_form!(
    /// Where and when backups are made (never a secret: the object storage's access key comes
    /// from the server's environment or the credentials file named here).
    SettingsForm { dir, s3_endpoint, s3_bucket, s3_prefix, s3_region, s3_credentials_file, hour, enabled }
);

/// Saves where and when backups are made (the fields the config file sets are not taken).
pub async fn save_settings(
    Clinician { state, admin }: Clinician,
    Posted(form): Posted<SettingsForm>,
) -> Result<Response, AppError> {
    let posted: SavedBackup = [
        ("dir", form.dir),
        ("s3_endpoint", form.s3_endpoint),
        ("s3_bucket", form.s3_bucket),
        ("s3_prefix", form.s3_prefix),
        ("s3_region", form.s3_region),
        ("s3_credentials_file", form.s3_credentials_file),
        ("hour", form.hour),
        ("enabled", form.enabled),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    match check_posted(&posted) {
        Err(errors) => {
            let mut v = view(&state, &admin).await?;
            v.saved = posted;
            v.errors = errors;
            v.chrome.title = format!("Error: {}", v.chrome.title);
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, v.render()))
        }
        Ok(values) => {
            let audit = Entry::new(&admin.email, Action::BackupSettingsSaved);
            state
                .store
                .save_backup_settings(&values, Timestamp::now(), &audit)
                .await?;
            state.in_force.set_saved_backup(Some(values));
            let mut v = view(&state, &admin).await?;
            v.saved_now = true;
            Ok(render(StatusCode::OK, v.render()))
        }
    }
}
