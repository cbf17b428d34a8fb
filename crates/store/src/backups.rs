//! What the automatic backups did (`backup_events`), and the checks a backup copy is put
//! through when it is verified: SQLite's integrity check and the rows counted by kind.
//!
//! Events name objects, sizes, counts and storage errors only: never a personal detail.

use jiff::Timestamp;

use super::engine::{Db, on_db};
use super::{Store, StoreError, from_ms, ms};

practice::text_forms! {
    /// What a backup event records.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum BackupEventKind {
        Backup = "backup",
        Verify = "verify",
        /// The practice was told that backups are late.
        LateWarning = "late_warning",
        /// A backup key was made (`name`: its id).
        KeyMade = "key_made",
        /// Its words were typed back (`name`: its id).
        KeyConfirmed = "key_confirmed",
    }
}

/// One backup event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupEvent {
    pub kind: BackupEventKind,
    pub at: Timestamp,
    pub ok: bool,
    /// The backup's object name.
    pub name: Option<String>,
    pub bytes: Option<i64>,
    /// Why it failed, or what a verify counted.
    pub detail: Option<String>,
}

/// The latest events that tell how backups stand.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BackupLog {
    pub last_success: Option<BackupEvent>,
    pub last_failure: Option<BackupEvent>,
    /// The first failed backup after the last success: since when backups have been failing.
    pub failing_since: Option<BackupEvent>,
    pub last_verify: Option<BackupEvent>,
    pub last_warning: Option<BackupEvent>,
    /// The id of the newest backup key made, and whether its words were typed back.
    pub key: Option<(String, bool)>,
}

type EventRow = (
    String,
    i64,
    bool,
    Option<String>,
    Option<i64>,
    Option<String>,
);

fn event(row: EventRow) -> Result<BackupEvent, StoreError> {
    let (kind, at, ok, name, bytes, detail) = row;
    Ok(BackupEvent {
        kind: super::parsed("backup_events.kind", kind, BackupEventKind::parse)?,
        at: from_ms("backup_events.at", at)?,
        ok,
        name,
        bytes,
        detail,
    })
}

/// Rows per kind of record in a backup copy, as a verify reports them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RowCounts(pub Vec<(&'static str, i64)>);

impl std::fmt::Display for RowCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|(t, n)| format!("{t} {n}")).collect();
        f.write_str(&parts.join(", "))
    }
}

/// The records a verify counts, by table and the name shown.
const COUNTED: &[(&str, &str)] = &[
    ("consultation_requests", "requests"),
    ("admin_accounts", "accounts"),
    ("bookings", "bookings"),
    ("questionnaires", "questionnaires"),
    ("content_revisions", "revisions"),
    ("request_notes", "notes"),
    ("audit_log", "audit entries"),
];

impl Store {
    /// Queues the one email that tells the practice its backups are late (no personal detail);
    /// false when mail is off.
    pub async fn queue_backup_late_notice(
        &self,
        mail: bool,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        if !mail {
            return Ok(false);
        }
        on_db!(&self.db, pool => sqlx::query(
            "INSERT INTO outbox (kind, created_at, next_attempt_at) VALUES ($1, $2, $2)",
        )
        .bind(practice::mail::MailKind::BackupLate.as_str())
        .bind(ms(now))
        .execute(pool)
        .await?
        .rows_affected());
        Ok(true)
    }

    /// Records one backup event.
    pub async fn record_backup_event(&self, e: &BackupEvent) -> Result<(), StoreError> {
        on_db!(&self.db, pool => sqlx::query(
            "INSERT INTO backup_events (kind, at, ok, name, bytes, detail) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(e.kind.as_str())
        .bind(ms(e.at))
        .bind(e.ok)
        .bind(&e.name)
        .bind(e.bytes)
        .bind(&e.detail)
        .execute(pool)
        .await?
        .rows_affected());
        Ok(())
    }

    async fn latest_backup_event(
        &self,
        kind: BackupEventKind,
        ok: Option<bool>,
    ) -> Result<Option<BackupEvent>, StoreError> {
        let row: Option<EventRow> = on_db!(&self.db, pool => sqlx::query_as(
            "SELECT kind, at, ok, name, bytes, detail FROM backup_events
             WHERE kind = $1 AND ($2 IS NULL OR ok = $2) ORDER BY at DESC, id DESC LIMIT 1",
        )
        .bind(kind.as_str())
        .bind(ok)
        .fetch_optional(pool)
        .await?);
        row.map(event).transpose()
    }

    /// How backups stand.
    pub async fn backup_log(&self) -> Result<BackupLog, StoreError> {
        use BackupEventKind as K;
        let key = match self.latest_backup_event(K::KeyMade, None).await? {
            Some(made) => {
                let id = made.name.unwrap_or_default();
                let confirmed: i64 = on_db!(&self.db, pool => sqlx::query_scalar(
                    "SELECT COUNT(*) FROM backup_events WHERE kind = $1 AND name = $2",
                )
                .bind(K::KeyConfirmed.as_str())
                .bind(&id)
                .fetch_one(pool)
                .await?);
                Some((id, confirmed > 0))
            }
            None => None,
        };
        let last_success = self.latest_backup_event(K::Backup, Some(true)).await?;
        let after = last_success.as_ref().map_or(i64::MIN, |s| ms(s.at));
        let first_failure: Option<EventRow> = on_db!(&self.db, pool => sqlx::query_as(
            "SELECT kind, at, ok, name, bytes, detail FROM backup_events
             WHERE kind = $1 AND ok = FALSE AND at > $2 ORDER BY at, id LIMIT 1",
        )
        .bind(K::Backup.as_str())
        .bind(after)
        .fetch_optional(pool)
        .await?);
        Ok(BackupLog {
            failing_since: first_failure.map(event).transpose()?,
            last_success,
            last_failure: self.latest_backup_event(K::Backup, Some(false)).await?,
            last_verify: self.latest_backup_event(K::Verify, None).await?,
            last_warning: self.latest_backup_event(K::LateWarning, None).await?,
            key,
        })
    }

    /// SQLite's own integrity check of this database, then its records counted by kind. For a
    /// backup copy opened to be verified.
    pub async fn check_copy(&self) -> Result<Result<RowCounts, String>, StoreError> {
        if let Db::Sqlite(pool) = &self.db {
            let result: String = sqlx::query_scalar("PRAGMA integrity_check")
                .fetch_one(pool)
                .await?;
            if result != "ok" {
                return Ok(Err(result));
            }
        }
        let mut counts = Vec::new();
        for (table, shown) in COUNTED {
            // The table names are this program's own constants, never input.
            let sql = format!("SELECT COUNT(*) FROM {table}");
            let n: i64 = on_db!(&self.db, pool => sqlx::query_scalar(&sql).fetch_one(pool).await?);
            counts.push((*shown, n));
        }
        Ok(Ok(RowCounts(counts)))
    }
}

/// The settings key of the backup settings saved in the inbox (a JSON object of text values,
/// sealed like every setting).
pub(crate) const SAVED_SETTINGS: &str = "backup_settings";

impl Store {
    /// Where and when backups are made, as saved in the inbox (`backup::settings` reads and
    /// checks the values; the store keeps them as they are). `None`: never saved.
    pub async fn saved_backup_settings(
        &self,
    ) -> Result<Option<std::collections::BTreeMap<String, String>>, StoreError> {
        self.read_json_setting(SAVED_SETTINGS, "the backup settings")
            .await
    }

    /// Saves the backup settings, with the audit row, in one transaction.
    pub async fn save_backup_settings(
        &self,
        values: &std::collections::BTreeMap<String, String>,
        now: Timestamp,
        audit: &crate::audit::Entry,
    ) -> Result<(), StoreError> {
        let json = super::fields::to_json("settings.value", values)?;
        on_db!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            super::settings::put_setting!(self, tx, SAVED_SETTINGS, &json).await?;
            super::inbox::commit_audited!(tx, audit, now).await?;
            Ok(())
        })
    }
}
