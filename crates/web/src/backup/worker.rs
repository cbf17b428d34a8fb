//! The backup worker: the daily backup at the configured hour (practice's time), a verify every
//! few days, and the warning when no backup has succeeded for a day and a half.
//!
//! It runs beside the site in the server's background workers: the snapshot is SQLite's own
//! `VACUUM INTO` on the store's connection (a read, between requests' transactions), and the
//! compressing, sealing and uploading run off the request threads, so the site keeps serving.
//! [`look`] does what is due at a given time, so tests drive it with their own clock.

use std::path::PathBuf;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use super::{BackupError, BackupSettings, Made, Verified};
use store::{BackupEvent, BackupEventKind, BackupLog, Store, StoreError};

/// How often the worker looks.
const EVERY: Duration = Duration::from_secs(300);
/// After a failed backup, the next try waits this long.
const RETRY_AFTER: SignedDuration = SignedDuration::from_hours(1);
/// A backup older than this is late: `/healthz` says so and the practice is told once.
pub const LATE_AFTER: SignedDuration = SignedDuration::from_hours(36);

/// How backups stand, for `/healthz` and the inbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    /// The last backup succeeded within the day and a half.
    Ok,
    /// The last backup succeeded, but longer ago than that.
    Late,
    /// The last attempt failed, or none ever succeeded.
    Failing,
    /// Backups are not made here (not configured, or PostgreSQL).
    Off,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Ok => "ok",
            Health::Late => "late",
            Health::Failing => "failing",
            Health::Off => "off",
        }
    }

    /// How `log` stands at `now`.
    pub fn of(log: &BackupLog, now: Timestamp) -> Health {
        let failed_since = match (&log.last_failure, &log.last_success) {
            (Some(f), Some(s)) => f.at > s.at,
            (Some(_), None) => true,
            _ => false,
        };
        match &log.last_success {
            _ if failed_since => Health::Failing,
            Some(s) if now.duration_since(s.at) > LATE_AFTER => Health::Late,
            Some(_) => Health::Ok,
            None => Health::Failing,
        }
    }
}

/// What the worker needs.
#[derive(Clone)]
pub struct BackupWorker {
    pub store: Store,
    pub settings: BackupSettings,
    pub data_dir: PathBuf,
    pub zone: jiff::tz::TimeZone,
    /// Queues the one email to the practice when backups are late (none without mail).
    pub mail: bool,
    pub wake: std::sync::Arc<tokio::sync::Notify>,
    /// Where the settings in force are read before each look (the inbox may change them);
    /// `None`: `settings` as given.
    pub in_force: Option<std::sync::Arc<settings::in_force::InForce>>,
}

/// What one look did.
#[derive(Debug, Default)]
pub struct Round {
    pub backup: Option<Result<Made, BackupError>>,
    pub verify: Option<Result<Verified, BackupError>>,
    /// The practice was told that backups are late.
    pub warned: bool,
}

impl BackupWorker {
    /// Whether this server makes backups at all.
    pub fn active(&self) -> bool {
        self.settings.configured() && self.store.engine() == store::Engine::Sqlite
    }

    /// The latest scheduled moment at or before `now`: today at the hour, or yesterday's.
    fn scheduled_before(&self, now: Timestamp) -> Timestamp {
        let local = now.to_zoned_datetime(self.zone.clone());
        let at_hour = |d: jiff::civil::Date| {
            d.at(i8::try_from(self.settings.hour).unwrap_or(3), 0, 0, 0)
                .to_zoned_datetime(self.zone.clone())
                .map(|z| z.timestamp())
                .unwrap_or(now)
        };
        let today = at_hour(local.date());
        if today <= now {
            today
        } else {
            local
                .date()
                .yesterday()
                .map(at_hour)
                .unwrap_or(now - SignedDuration::from_hours(24))
        }
    }

    /// Does what is due at `now`.
    pub async fn look(&self, now: Timestamp) -> Result<Round, StoreError> {
        let mut round = Round::default();
        if !self.active() {
            return Ok(round);
        }
        let log = self.store.backup_log().await?;
        let due = self.scheduled_before(now);
        let done_since = log.last_success.as_ref().is_some_and(|s| s.at >= due);
        let tried_lately = log
            .last_failure
            .as_ref()
            .is_some_and(|f| now.duration_since(f.at) < RETRY_AFTER);
        if !done_since && !tried_lately {
            round.backup = Some(
                super::backup_and_record(&self.store, &self.settings, &self.data_dir, now).await,
            );
        }
        let log = self.store.backup_log().await?;
        let verify_every =
            SignedDuration::from_hours(24 * i64::from(self.settings.verify_every_days));
        let verify_due = log.last_success.is_some()
            && log
                .last_verify
                .as_ref()
                .is_none_or(|v| now.duration_since(v.at) >= verify_every);
        if verify_due {
            round.verify = Some(
                super::verify_and_record(&self.store, &self.settings, &self.data_dir, now).await,
            );
        }
        round.warned = self.warn_if_late(&log, now).await?;
        Ok(round)
    }

    /// Tells the practice once when no backup succeeded for [`LATE_AFTER`]: an email without
    /// any personal detail, and the inbox's warning (which reads the log).
    async fn warn_if_late(&self, log: &BackupLog, now: Timestamp) -> Result<bool, StoreError> {
        // Since when backups have been wanted and not made.
        let since = match (&log.last_success, &log.failing_since) {
            (Some(s), _) => s.at,
            (None, Some(f)) => f.at,
            (None, None) => return Ok(false),
        };
        if now.duration_since(since) <= LATE_AFTER {
            return Ok(false);
        }
        if log.last_warning.as_ref().is_some_and(|w| w.at > since) {
            return Ok(false);
        }
        let queued = self.store.queue_backup_late_notice(self.mail, now).await?;
        self.store
            .record_backup_event(&BackupEvent {
                kind: BackupEventKind::LateWarning,
                at: now,
                ok: queued,
                name: None,
                bytes: None,
                detail: None,
            })
            .await?;
        if queued {
            self.wake.notify_one();
        }
        tracing::warn!("no backup has succeeded for a day and a half");
        Ok(true)
    }

    /// Runs [`BackupWorker::look`] every few minutes until the server stops.
    pub fn run_every_few_minutes(self, workers: &workers::Workers) {
        // Backups may be set up in the inbox later: only PostgreSQL never makes them.
        if self.store.engine() != store::Engine::Sqlite {
            return;
        }
        workers.every(EVERY, move || {
            let mut worker = self.clone();
            if let Some(in_force) = &worker.in_force {
                worker.settings = in_force.get().backup.clone();
            }
            async move {
                if let Err(e) = worker.look(Timestamp::now()).await {
                    tracing::warn!(error = %e, "cannot look at the backups; will look again");
                }
            }
        });
    }
}
