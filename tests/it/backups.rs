//! Automatic encrypted backups: to a local directory and a real S3-compatible server (moto,
//! started by the test on loopback), on a schedule driven by the test's clock, pruned to the
//! retention, verified, restored by the command line, and honest when storage fails. On
//! PostgreSQL every part refuses and says to use the database's own backups.

use std::path::{Path, PathBuf};

use jiff::{SignedDuration, Timestamp};
use store::Engine;
use web::backup::worker::{BackupWorker, Health};
use web::backup::{BackupError, TargetError};

use crate::common::s3::S3Server;
use crate::common::{SmtpServer, TestApp};

/// A server whose `[backup]` section is `backup`, with a backup key made and confirmed.
async fn app_with(backup: &str) -> TestApp {
    let app = TestApp::with_config(&format!("[backup]\n{backup}")).await;
    if app.state.store.engine() == Engine::Sqlite {
        let config = app.state.config();
        let key = web::backup::make_key(
            &app.state.store,
            &config.backup,
            &config.server.data_dir,
            Timestamp::now(),
        )
        .await
        .expect("key");
        web::backup::confirm_key(&app.state.store, &key, Timestamp::now())
            .await
            .expect("confirmed");
    }
    app
}

fn worker(app: &TestApp) -> BackupWorker {
    app.state.backup_worker()
}

/// The complete backups in `dir`, and anything else left there.
fn in_dir(dir: &Path) -> (Vec<String>, Vec<String>) {
    let mut backups = Vec::new();
    let mut other = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        if web::backup::target::is_backup_name(&name) {
            backups.push(name);
        } else {
            other.push(name);
        }
    }
    backups.sort();
    (backups, other)
}

/// On PostgreSQL: no backup is made, and each way in says why.
async fn refused_on_postgres(app: &TestApp) {
    let config = app.state.config();
    assert!(!worker(app).active());
    let refused = web::backup::backup_and_record(
        &app.state.store,
        &config.backup,
        &config.server.data_dir,
        Timestamp::now(),
    )
    .await;
    assert!(matches!(refused, Err(BackupError::Postgres)), "{refused:?}");
    let (code, _, err) = app.cli(&["backup", "now"]);
    assert_eq!(code, 1);
    assert!(err.contains("PostgreSQL keeps its own backups"), "{err}");
    assert!(err.contains("pg_dump"), "{err}");
    let health = app.get("/healthz").await.text();
    assert!(health.contains("\"backup\":\"off\""), "{health}");
}

/// After a failed backup at `failed` (the last good one at `good`): the failure is kept with
/// its reason (naming `reason`) and no backup's name or size, and the status says failing.
async fn failed_honestly(app: &TestApp, good: Timestamp, failed: Timestamp, reason: &str) {
    let log = app.state.store.backup_log().await.expect("log");
    assert_eq!(log.last_success.as_ref().map(|s| s.at), Some(good));
    let failure = log.last_failure.clone().expect("the failure is kept");
    assert_eq!(failure.at, failed);
    assert!(
        failure.name.is_none() && failure.bytes.is_none(),
        "{failure:?}"
    );
    assert!(
        failure
            .detail
            .as_deref()
            .is_some_and(|d| d.contains(reason)),
        "{failure:?}"
    );
    assert_eq!(
        Health::of(&log, failed + SignedDuration::from_hours(1)),
        Health::Failing
    );
    let health = app.get("/healthz").await.text();
    assert!(health.contains("\"backup\":\"failing\""), "{health}");
}

/// 03:00 in Los Angeles (the built-in practice's zone) on `day` of March 2026, plus `hours`.
fn at(day: i8, hours: i64) -> Timestamp {
    let t: Timestamp = format!("2026-03-{day:02}T11:00:00Z").parse().expect("time");
    t + SignedDuration::from_hours(hours)
}

/// The names of the backups `target` holds.
async fn names_at(target: &web::backup::Target) -> Vec<String> {
    let listed = target.list().await.expect("list");
    listed.into_iter().map(|l| l.name).collect()
}

/// The practice backing up to the folder `dir` (with `more` lines of `[backup]`), no backup key
/// made yet (unlike [`app_with`]).
async fn backing_up_to(dir: &Path, more: &str) -> TestApp {
    TestApp::builder()
        .config(&format!("[backup]\ndir = \"{}\"\n{more}", dir.display()))
        .build()
        .await
}

/// The practice backing up to the folder `dir` as [`backing_up_to`], with the clinician's
/// account.
async fn clinician_backing_up_to(dir: &Path, more: &str) -> TestApp {
    let app = backing_up_to(dir, more).await;
    app.add_clinician().await;
    app
}

/// Object storage with the bucket `practice-backups`.
fn storage_with_bucket() -> S3Server {
    let s3 = S3Server::start();
    s3.create_bucket("practice-backups");
    s3
}

/// Whether the data directory `data` has nothing left in its backups' staging folder.
fn staging_is_empty(data: &Path) -> bool {
    let mut staged = data.join("backup-staging").read_dir().expect("staging");
    staged.next().is_none()
}

/// Opens and checks the newest backup in the folder `dir` with `key`, working in `work`.
async fn verify_in(
    dir: &Path,
    key: &crypto::BackupKey,
    work: &Path,
) -> Result<web::backup::Verified, BackupError> {
    let target = web::backup::Target::Local(dir.to_path_buf());
    web::backup::verify(&target, None, key, work).await
}

#[tokio::test]
async fn daily_backups_reach_a_directory_and_object_storage_are_pruned_and_verified() {
    let s3 = storage_with_bucket();
    let dir = tempfile::tempdir().expect("tempdir");
    let app = app_with(&format!(
        "dir = \"{}\"\n{}",
        dir.path().display(),
        s3.config("practice-backups")
    ))
    .await;
    if app.state.store.engine() == Engine::Postgres {
        return refused_on_postgres(&app).await;
    }
    assert_eq!(app.submit("Ada Example", &[]).await.status, 303);
    let w = worker(&app);
    assert!(w.active());

    // The first look after 3 AM backs up and verifies; the next looks that day do nothing.
    let first = w.look(at(2, 1)).await.expect("look");
    let made = first.backup.expect("a backup was due").expect("backed up");
    let verified = first.verify.expect("a verify was due").expect("verified");
    assert_eq!(verified.name, made.name);
    assert_eq!(verified.requests_opened, 1);
    assert!(
        verified.counts.to_string().contains("requests 1"),
        "{}",
        verified.counts
    );
    let later = w.look(at(2, 5)).await.expect("look");
    assert!(later.backup.is_none() && later.verify.is_none());
    // Before 3 AM the next day, still nothing; after it, the next backup.
    assert!(w.look(at(3, -1)).await.expect("look").backup.is_none());
    assert!(w.look(at(3, 0)).await.expect("look").backup.is_some());

    // Forty nights: every copy is stored, then pruned to the retention in both places.
    let mut verifies = 1;
    for day in 4..=31 {
        let round = w.look(at(day, 2)).await.expect("look");
        round.backup.expect("due").expect("backed up");
        if let Some(v) = round.verify {
            v.expect("verified");
            verifies += 1;
        }
    }
    // A weekly verify: March 2 and then every seven days.
    assert_eq!(verifies, 5);
    let (local, other) = in_dir(dir.path());
    assert!(other.is_empty(), "nothing half-written is left: {other:?}");
    let expected = web::backup::retention::keep(&local);
    assert_eq!(expected.len(), local.len(), "what is left is what is kept");
    // Seven days, and the older weeks (the month's other weeks fall in March too).
    assert!((8..=11).contains(&local.len()), "{local:?}");
    let remote = names_at(&web::backup::Target::all(&app.state.config().backup)[1]).await;
    assert_eq!(remote, local);

    let log = app.state.store.backup_log().await.expect("log");
    assert_eq!(Health::of(&log, at(31, 3)), Health::Ok);
    assert_eq!(Health::of(&log, at(31, 2 + 37)), Health::Late);
    assert!(log.key.as_ref().is_some_and(|(_, confirmed)| *confirmed));

    // The command line lists and verifies what the worker stored.
    let (code, out, err) = app.cli(&["backup", "list"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.matches(".kapbak").count(), 2 * local.len(), "{out}");
    let (code, out, err) = app.cli(&["backup", "verify"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out.matches("opened and checked").count(), 2, "{out}");
}

#[tokio::test]
async fn storage_that_fails_is_reported_and_never_counted_as_a_backup() {
    let mut s3 = storage_with_bucket();
    let dir = tempfile::tempdir().expect("tempdir");
    let app = app_with(&s3.config("practice-backups")).await;
    if app.state.store.engine() == Engine::Postgres {
        return refused_on_postgres(&app).await;
    }
    let config = app.state.config();
    let data_dir = config.server.data_dir.clone();
    let backup = |now| {
        let (store, settings, data_dir) = (
            app.state.store.clone(),
            config.backup.clone(),
            data_dir.clone(),
        );
        async move { web::backup::backup_and_record(&store, &settings, &data_dir, now).await }
    };
    let good = backup(at(2, 0)).await.expect("the first backup");

    // The bucket vanishes (moto's own reset: every bucket is gone).
    assert!(!good.name.is_empty());
    assert_eq!(s3.plain("POST", "/moto-api/reset"), 200);
    let gone = backup(at(3, 0)).await;
    assert!(
        matches!(gone, Err(BackupError::Target(TargetError::NoBucket(_)))),
        "{gone:?}"
    );
    failed_honestly(&app, at(2, 0), at(3, 0), "does not exist").await;

    // The server is stopped: the upload cannot happen, and nothing is counted.
    s3.stop();
    let stopped = backup(at(4, 0)).await;
    assert!(
        matches!(
            stopped,
            Err(BackupError::Target(TargetError::Unreachable(_)))
        ),
        "{stopped:?}"
    );
    let log = app.state.store.backup_log().await.expect("log");
    assert_eq!(log.last_success.as_ref().map(|s| s.at), Some(at(2, 0)));
    assert_eq!(log.last_failure.as_ref().map(|f| f.at), Some(at(4, 0)));
    // The worker waits an hour before trying again, and says so by doing nothing.
    let w = worker(&app);
    assert!(
        w.look(at(4, 0) + SignedDuration::from_mins(30))
            .await
            .expect("look")
            .backup
            .is_none()
    );

    // A full disk: the local copy's file is the kernel's always-full device, so its writes fail
    // with ENOSPC; the partial copy is removed and no backup carries a name there.
    let mut settings = config.backup.clone();
    settings.s3 = None;
    settings.dir = Some(dir.path().to_path_buf());
    let name = web::backup::retention::name_at(at(6, 0));
    std::os::unix::fs::symlink("/dev/full", dir.path().join(format!("{name}.partial")))
        .expect("symlink");
    let full =
        web::backup::backup_and_record(&app.state.store, &settings, &data_dir, at(6, 0)).await;
    let Err(BackupError::Target(TargetError::Local { source, .. })) = &full else {
        panic!("{full:?}");
    };
    assert_eq!(source.raw_os_error(), Some(28), "ENOSPC: {source}");
    let (backups, other) = in_dir(dir.path());
    assert!(
        backups.is_empty() && other.is_empty(),
        "{backups:?} {other:?}"
    );
    assert!(staging_is_empty(&data_dir), "the staging folder is emptied");
    let log = app.state.store.backup_log().await.expect("log");
    assert_eq!(log.last_success.as_ref().map(|s| s.at), Some(at(2, 0)));
}

#[tokio::test]
async fn a_day_and_a_half_without_a_backup_sends_one_email_without_detail() {
    let mail_dir = tempfile::tempdir().expect("tempdir");
    let smtp = SmtpServer::start(mail_dir.path());
    // A directory that does not exist: every backup fails.
    let app = app_with("dir = \"/nonexistent/kap-backups\"\n").await;
    if app.state.store.engine() == Engine::Postgres {
        return refused_on_postgres(&app).await;
    }
    assert_eq!(app.submit("Ada Example", &[]).await.status, 303);
    let w = BackupWorker {
        mail: true,
        ..worker(&app)
    };
    let first = w.look(at(2, 0)).await.expect("look");
    assert!(matches!(first.backup, Some(Err(BackupError::Target(_)))));
    assert!(!first.warned);
    // Tried every hour, never told before a day and a half.
    for h in (1..=36).step_by(5) {
        assert!(!w.look(at(2, h)).await.expect("look").warned, "hour {h}");
    }
    assert!(w.look(at(2, 37)).await.expect("look").warned);
    assert!(!w.look(at(2, 40)).await.expect("look").warned, "told once");
    let outbox = crate::common::reminders::outbox_to(&app, &smtp);
    crate::common::reminders::deliver_at(&app, &outbox, at(2, 40)).await;
    let sent = smtp.with_subject("Backups have stopped");
    assert_eq!(sent.len(), 1);
    assert!(!sent[0].contains("Ada"), "no personal detail");
    assert!(sent[0].contains("/admin/backups"));
}

#[tokio::test]
async fn restore_brings_a_backup_back_into_an_empty_directory_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = app_with(&format!("dir = \"{}\"\n", dir.path().display())).await;
    if app.state.store.engine() == Engine::Postgres {
        return refused_on_postgres(&app).await;
    }
    assert_eq!(app.submit("Ada Example", &[]).await.status, 303);
    let (code, out, err) = app.cli(&["backup", "now"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("backed up: kap-practice-"), "{out}");
    let words = std::fs::read_to_string(app.state.config().server.data_dir.join("backup.key"))
        .expect("the key's words");

    let restore_into = |target: &Path, words: &str| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kap-practice"));
        cmd.args(["backup", "restore", "--from"])
            .arg(dir.path())
            .env("KAP_DATA_DIR", target)
            .env("KAP_BACKUP_KEY", words)
            .env(
                "KAP_CONFIG",
                app.overrides.config_file.as_ref().expect("config"),
            )
            .env_remove("DATABASE_URL")
            .env_remove("RUST_LOG");
        crate::common::outcome(cmd.output().expect("run"))
    };
    // Never over a live data directory.
    let live = app.state.config().server.data_dir.clone();
    let (code, _, err) = restore_into(&live, &words);
    assert_eq!(code, 1);
    assert!(err.contains("is not empty"), "{err}");
    // A wrong word is caught before anything is written.
    let fresh = tempfile::tempdir().expect("tempdir");
    let target: PathBuf = fresh.path().join("data");
    let mut wrong: Vec<&str> = words.split_whitespace().collect();
    wrong[5] = if wrong[5] == "abandon" {
        "ability"
    } else {
        "abandon"
    };
    let (code, _, err) = restore_into(&target, &wrong.join(" "));
    assert_eq!(code, 1, "{err}");
    assert!(!target.join("kap-practice.db").exists());
    // The right words restore the database and its data key.
    let (code, out, err) = restore_into(&target, &words);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("requests 1"), "{out}");
    assert_eq!(
        std::fs::read_to_string(target.join("data.key"))
            .expect("key")
            .trim(),
        app.data_key()
    );
    // The restored directory serves the same request.
    let (code, out, err) = crate::common::run_binary(
        &[
            "inquiries",
            "export",
            "--data-dir",
            &target.display().to_string(),
        ],
        fresh.path(),
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Ada Example"), "{out}");
}

#[tokio::test]
async fn the_backups_page_shows_the_key_once_and_confirms_it_by_three_words() {
    use crate::common::clinician::Clinician;
    let dir = tempfile::tempdir().expect("tempdir");
    let app = clinician_backing_up_to(dir.path(), "").await;
    let mut c = Clinician::signed_in(&app).await;
    let html = c.page("/admin/backups").await;
    if app.state.store.engine() == Engine::Postgres {
        assert!(html.contains("PostgreSQL keeps its own backups"), "{html}");
        assert!(!html.contains("Make the backup key"));
        return;
    }
    assert!(html.contains("There is no backup key yet"), "{html}");
    assert!(html.contains(&dir.path().display().to_string()));

    // Test the connection now: the directory takes a file.
    let tested = c
        .action("/admin/backups", "/admin/backups/test", &[])
        .await
        .text();
    assert!(tested.contains(": works"), "{tested}");

    // The key, shown once as twelve words.
    let shown = c
        .action("/admin/backups", "/admin/backups/key", &[])
        .await
        .text();
    let words: Vec<String> = shown
        .split("<ol class=\"backup-words\">")
        .nth(1)
        .and_then(|s| s.split("</ol>").next())
        .expect("the words")
        .split("<li>")
        .filter_map(|w| w.split("</li>").next())
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    assert_eq!(words.len(), 12, "{words:?}");
    let again = c.get("/admin/backups").await.text();
    assert!(!again.contains(&format!("<li>{}</li>", words[0])) || !again.contains("backup-words"));
    assert!(again.contains("never confirmed"), "{again}");
    let inbox = c.get("/admin").await.text();
    assert!(inbox.contains("never confirmed"), "{inbox}");

    // A wrong word is refused, the right ones confirm.
    let wrong = c
        .action(
            "/admin/backups",
            "/admin/backups/key/confirm",
            &[
                ("word3", &words[2]),
                ("word7", "wrong"),
                ("word11", &words[10]),
            ],
        )
        .await;
    wrong.assert_shows(422, "word 7 did not match");
    let right = c
        .action(
            "/admin/backups",
            "/admin/backups/key/confirm",
            &[
                ("word3", &words[2].to_uppercase()),
                ("word7", &words[6]),
                ("word11", &words[10]),
            ],
        )
        .await;
    right.assert_shows(200, "Confirmed: the words match");

    // The words open the backups made now.
    let (code, _, err) = app.cli(&["backup", "now"]);
    assert_eq!(code, 0, "{err}");
    let key = crypto::BackupKey::from_words(&words.join(" ")).expect("words");
    let verified = verify_in(dir.path(), &key, &dir.path().join("work"))
        .await
        .expect("verified with the words");
    assert_eq!(verified.counts.0[0], ("requests", 0));
    let inbox = c.get("/admin").await.text();
    assert!(inbox.contains("Last backup: today at"), "{inbox}");
}

#[tokio::test]
async fn check_says_how_backups_stand() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = backing_up_to(dir.path(), "").await;
    let (code, _, err) = app.cli(&["check"]);
    assert_eq!(code, 0, "{err}");
    if app.state.store.engine() == Engine::Postgres {
        assert!(
            err.contains("note: PostgreSQL keeps its own backups"),
            "{err}"
        );
    } else {
        assert!(err.contains("warning: no backup key yet"), "{err}");
    }
}

/// A database made by an older version: the first `applied` of the SQLite migrations, in a
/// data directory of its own.
async fn older_database(dir: &Path, applied: usize) {
    use sqlx::ConnectOptions;
    let mut migrator = sqlx::migrate::Migrator::new(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite"),
    )
    .await
    .expect("migrations");
    migrator.migrations = migrator.migrations[..applied].to_vec().into();
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(dir.join("kap-practice.db"))
        .create_if_missing(true)
        .foreign_keys(false)
        .connect()
        .await
        .expect("create");
    migrator.run(&mut conn).await.expect("older migrations");
}

#[tokio::test]
async fn a_backup_is_made_before_the_database_is_updated_at_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = app_with(&format!("dir = \"{}\"\n", dir.path().display())).await;
    if app.state.store.engine() == Engine::Postgres {
        // The database's own backups: opening it again makes none, whatever is pending.
        let config = app.state.config();
        let url = config.database.url.as_ref().map(|u| u.0.clone());
        let before = web::backup::before_migrations(
            &config.backup,
            &config.server.data_dir,
            url.as_deref(),
            Timestamp::now(),
        )
        .await
        .expect("nothing to do");
        assert!(before.is_none());
        return refused_on_postgres(&app).await;
    }
    // A data directory whose database an older version wrote, with this server's backup key.
    let older = tempfile::tempdir().expect("tempdir");
    let data = older.path().join("data");
    store::data_dir::private::create_dir(&data).expect("data dir");
    older_database(&data, 10).await;
    let live = app.state.config().server.data_dir.clone();
    std::fs::copy(live.join("backup.key"), data.join("backup.key")).expect("key");
    let mut config = (*app.state.config()).clone();
    config.server.data_dir = data.clone();

    let store = kap_practice::open_store(&config).await.expect("starts");
    let (backups, other) = in_dir(dir.path());
    assert_eq!(
        backups.len(),
        1,
        "one backup before the update: {backups:?}"
    );
    assert!(other.is_empty(), "{other:?}");
    let log = store.backup_log().await.expect("log");
    let success = log.last_success.clone().expect("recorded");
    assert_eq!(success.name.as_deref(), Some(backups[0].as_str()));
    let pending = sqlx::migrate::Migrator::new(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite"),
    )
    .await
    .expect("migrations")
    .iter()
    .count()
        - 10;
    assert_eq!(
        success.detail.as_deref(),
        Some(format!("before the database's update ({pending} migrations)").as_str())
    );
    assert!(
        staging_is_empty(&data),
        "nothing is left in the staging folder"
    );
    store.close().await;
    // The backup opens with the words and holds a database.
    let words = std::fs::read_to_string(data.join("backup.key")).expect("words");
    let key = crypto::BackupKey::from_words(&words).expect("words");
    verify_in(dir.path(), &key, &older.path().join("work"))
        .await
        .expect("the backup before the update opens");

    // Started again with nothing pending, no backup; nor for a new data directory.
    let store = kap_practice::open_store(&config).await.expect("starts");
    store.close().await;
    config.server.data_dir = older.path().join("new");
    let store = kap_practice::open_store(&config).await.expect("starts");
    store.close().await;
    assert_eq!(in_dir(dir.path()).0, backups);
}

/// Wrong credentials at a real object storage: moto, with its checking of access keys turned
/// on, refuses the upload; the failure is kept with its reason, `/healthz` says failing, the
/// earlier good backup stays the last one, and nothing half-written is left in the bucket.
#[tokio::test]
async fn wrong_credentials_are_reported_and_never_counted_as_a_backup() {
    let s3 = storage_with_bucket();
    let app = app_with(&s3.config("practice-backups")).await;
    if app.state.store.engine() == Engine::Postgres {
        return refused_on_postgres(&app).await;
    }
    let config = app.state.config();
    let data_dir = config.server.data_dir.clone();
    let good =
        web::backup::backup_and_record(&app.state.store, &config.backup, &data_dir, at(2, 0))
            .await
            .expect("the first backup");

    let mut wrong = config.backup.clone();
    let s3_settings = wrong.s3.as_mut().expect("object storage");
    s3_settings.access_key_id = "AKIAWRONGWRONGWRONG0".into();
    s3_settings.secret_access_key = settings::config::Secret("not the secret".into());
    s3.check_access_keys(true);
    let refused =
        web::backup::backup_and_record(&app.state.store, &wrong, &data_dir, at(3, 0)).await;
    assert!(
        matches!(
            refused,
            Err(BackupError::Target(
                TargetError::Refused(_) | TargetError::Status(..)
            ))
        ),
        "{refused:?}"
    );
    failed_honestly(&app, at(2, 0), at(3, 0), "object storage").await;

    // The bucket holds the good backup only.
    s3.check_access_keys(false);
    let remote = names_at(&web::backup::Target::all(&config.backup)[0]).await;
    assert_eq!(remote, vec![good.name]);
}

/// The settings form of `/admin/backups` with `fields` (besides the csrf).
async fn save_settings(
    c: &mut crate::common::clinician::Clinician<'_>,
    fields: &[(&str, &str)],
) -> crate::common::Reply {
    c.action("/admin/backups", "/admin/backups/settings", fields)
        .await
}

#[tokio::test]
async fn where_and_when_are_saved_in_the_browser_and_the_file_wins_where_it_sets_them() {
    use crate::common::clinician::Clinician;
    let s3 = storage_with_bucket();
    let dir = tempfile::tempdir().expect("tempdir");
    let app = TestApp::with_clinician().await;
    let mut c = Clinician::signed_in(&app).await;
    let html = c.get("/admin/backups").await.text();
    assert!(html.contains("Change where and when"), "{html}");
    if app.state.store.engine() == Engine::Sqlite {
        assert!(html.contains("No destination is set yet"), "{html}");
    }

    // A relative directory and a storage without its bucket are refused, by field.
    let html = save_settings(
        &mut c,
        &[
            ("dir", "backups"),
            ("s3_endpoint", &s3.endpoint()),
            ("hour", "4"),
        ],
    )
    .await
    .page_with(422);
    assert!(
        html.contains("Enter the directory&#39;s full path")
            || html.contains("Enter the directory's full path"),
        "{html}"
    );
    assert!(html.contains("Enter the bucket"), "{html}");
    assert!(
        app.state
            .store
            .saved_backup_settings()
            .await
            .expect("read")
            .is_none()
    );

    // A directory and a bucket whose access key is in a file named here (never typed in).
    let credentials = dir.path().join("s3-credentials");
    std::fs::write(
        &credentials,
        format!(
            "{}\n{}\n",
            crate::common::s3::ACCESS_KEY,
            crate::common::s3::SECRET_KEY
        ),
    )
    .expect("credentials");
    let local = dir.path().join("copies");
    std::fs::create_dir(&local).expect("dir");
    let saved = save_settings(
        &mut c,
        &[
            ("enabled", "on"),
            ("dir", &local.display().to_string()),
            ("s3_endpoint", &s3.endpoint()),
            ("s3_bucket", "practice-backups"),
            ("s3_prefix", "practice/"),
            ("s3_credentials_file", &credentials.display().to_string()),
            ("hour", "4"),
        ],
    )
    .await;
    saved.assert_shows(200, "Saved.");
    let stored = app
        .state
        .store
        .saved_backup_settings()
        .await
        .expect("read")
        .expect("saved");
    assert!(
        !stored
            .values()
            .any(|v| v.contains(crate::common::s3::SECRET_KEY)),
        "no secret is stored: {stored:?}"
    );
    let in_force = app.state.config().backup.clone();
    assert_eq!(in_force.dir.as_deref(), Some(local.as_path()));
    assert_eq!(in_force.hour, 4);
    assert!(in_force.configured());
    if app.state.store.engine() == Engine::Postgres {
        // Kept, and the page says why no backup is made here.
        let html = c.get("/admin/backups").await.text();
        assert!(html.contains("PostgreSQL keeps its own backups"), "{html}");
        assert!(html.contains("The settings are kept, but this server makes no backups"));
        assert!(!worker(&app).active());
    } else {
        // Test the connection now: both places take a file.
        let tested = c
            .action("/admin/backups", "/admin/backups/test", &[])
            .await
            .text();
        assert_eq!(tested.matches(": works").count(), 2, "{tested}");
        // The worker makes the backup in both places with the saved settings.
        web::backup::make_key(
            &app.state.store,
            &in_force,
            &app.state.config().server.data_dir,
            Timestamp::now(),
        )
        .await
        .expect("key");
        let round = worker(&app).look(Timestamp::now()).await.expect("look");
        round.backup.expect("due").expect("backed up");
        assert_eq!(in_dir(&local).0.len(), 1);
    }

    // A credentials file that cannot be read: said on the page, and the test says so too.
    std::fs::remove_file(&credentials).expect("remove");
    let saved = save_settings(
        &mut c,
        &[
            ("enabled", "on"),
            ("s3_endpoint", &s3.endpoint()),
            ("s3_bucket", "practice-backups"),
            ("s3_credentials_file", &credentials.display().to_string()),
            ("hour", "4"),
        ],
    )
    .await
    .text();
    assert!(saved.contains("cannot be read"), "{saved}");
    assert!(app.state.config().backup.s3.is_none());

    // Turned off: no automatic backups.
    save_settings(
        &mut c,
        &[("dir", &local.display().to_string()), ("hour", "4")],
    )
    .await;
    assert!(!app.state.config().backup.configured());
}

#[tokio::test]
async fn the_config_file_wins_over_the_settings_saved_in_the_browser() {
    use crate::common::clinician::Clinician;
    let dir = tempfile::tempdir().expect("tempdir");
    let app = clinician_backing_up_to(dir.path(), "hour = 2\n").await;
    let mut c = Clinician::signed_in(&app).await;
    let html = c.get("/admin/backups").await.text();
    assert!(
        html.contains("which wins over what is saved here"),
        "{html}"
    );
    assert!(
        !html.contains("name=\"dir\""),
        "the file's directory is not a field"
    );
    let saved = save_settings(
        &mut c,
        &[("enabled", "on"), ("dir", "/elsewhere"), ("hour", "5")],
    )
    .await;
    assert_eq!(saved.status, 200, "{}", saved.text());
    let backup = &app.state.config().backup;
    assert_eq!(backup.dir.as_deref(), Some(dir.path()));
    assert_eq!(backup.hour, 2);
}
