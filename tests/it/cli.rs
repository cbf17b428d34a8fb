//! The binary as the clinician and the operator use it: `check`, `serve`, signals and logs.

use std::time::Duration;

use crate::common::{Process, copy_content, run_binary};

#[test]
fn check_accepts_the_built_in_content() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, out, err) = run_binary(&["check"], dir.path());
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("ok:"), "{out}");
}

#[test]
fn check_names_the_file_and_line_of_every_problem() {
    let dir = tempfile::tempdir().expect("tempdir");
    let content = copy_content(dir.path());
    let safe = content.join("home/10-is-kap-safe.md");
    let text = std::fs::read_to_string(&safe).expect("read");
    std::fs::write(
        &safe,
        text.replacen("+++\n", "+++\nlayout = \"carousel\"\n", 1),
    )
    .expect("write");
    let steps = content.join("home/07-what-the-process-with-me-may-look-like.md");
    let text = std::fs::read_to_string(&steps).expect("read");
    std::fs::write(
        &steps,
        text.replace("## 3. Preparation", "## 4. Preparation"),
    )
    .expect("write");
    let config = dir.path().join("kap.toml");
    std::fs::write(
        &config,
        format!(
            "[content]\ndir = \"{}\"\n\n[practice]\naccent_color = \"#ffff00\"\n",
            content.display()
        ),
    )
    .expect("config");

    let (code, out, err) = run_binary(
        &["check", "--config", config.to_str().expect("utf-8")],
        dir.path(),
    );
    assert_eq!(code, 1, "{out}{err}");
    let safe_name = safe.display().to_string();
    let steps_name = steps.display().to_string();
    assert!(
        err.contains(&format!("{safe_name}:2: layout \"carousel\" is not known")),
        "{err}"
    );
    let step_line = std::fs::read_to_string(&steps)
        .expect("read")
        .lines()
        .position(|l| l == "## 4. Preparation")
        .expect("line")
        + 1;
    assert!(
        err.contains(&format!(
            "{steps_name}:{step_line}: this step is numbered 4"
        )),
        "{err}"
    );
    assert!(
        err.contains("kap.toml:5: practice.accent_color #ffff00 is too light"),
        "{err}"
    );

    // serve refuses to start on the same content, with the same messages.
    let (code, _, serve_err) = run_binary(
        &[
            "serve",
            "--config",
            config.to_str().expect("utf-8"),
            "--bind",
            "127.0.0.1:0",
        ],
        dir.path(),
    );
    assert_eq!(code, 1);
    assert!(
        serve_err.contains(&format!("{safe_name}:2: layout \"carousel\" is not known")),
        "{serve_err}"
    );
}

#[test]
fn help_and_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, out, _) = run_binary(&["--help"], dir.path());
    assert_eq!(code, 0);
    for word in ["serve", "check", "--data-dir", "--config"] {
        assert!(out.contains(word), "{word} in help: {out}");
    }
    let (code, out, _) = run_binary(&["--version"], dir.path());
    assert_eq!(code, 0);
    assert!(out.contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn sighup_reloads_content_and_keeps_the_old_site_on_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let content = copy_content(dir.path());
    let content_arg = content.display().to_string();
    let p = Process::serve(&[], &[("KAP_CONTENT_DIR", content_arg.as_str())]);
    assert!(p.get("/").contains("Is KAP Safe?"));

    let safe = content.join("home/10-is-kap-safe.md");
    let original = std::fs::read_to_string(&safe).expect("read");
    std::fs::write(
        &safe,
        original.replace(
            "title = \"Is KAP Safe?\"",
            "title = \"Is KAP Safe for Me?\"",
        ),
    )
    .expect("write");
    p.signal("HUP");
    wait_until(
        || p.get("/").contains("Is KAP Safe for Me?"),
        "the new title after SIGHUP",
    );

    std::fs::write(
        &safe,
        original.replace("+++\n", "+++\nlayout = \"carousel\"\n"),
    )
    .expect("write");
    p.signal("HUP");
    wait_until(
        || p.stderr().contains("content reload refused"),
        "the refusal in the log",
    );
    assert!(
        p.get("/").contains("Is KAP Safe for Me?"),
        "the previous content is still served"
    );
    assert!(
        p.stderr().contains("layout \\\"carousel\\\" is not known")
            || p.stderr().contains("layout \"carousel\" is not known"),
        "{}",
        p.stderr()
    );
}

#[test]
fn sigterm_stops_gracefully() {
    let mut p = Process::serve(&[], &[]);
    p.signal("TERM");
    let status = p
        .wait_exit(Duration::from_secs(10))
        .expect("exits after SIGTERM");
    assert!(status.success(), "{status}");
    assert!(p.stderr().contains("shutting down"));
}

#[test]
fn logs_name_method_path_status_and_latency_but_never_query_strings() {
    let p = Process::serve(&[], &[]);
    let reply = p.get("/privacy?email=someone%40example.com&note=secret-marker-7731");
    assert!(reply.starts_with("HTTP/1.1 200"));
    let _ = p.get("/missing?secret-marker-7731");
    wait_until(
        || p.stderr().contains("path=/missing"),
        "the request in the log",
    );
    let log = p.stderr();
    assert!(
        log.contains("method=GET")
            && log.contains("path=/privacy")
            && log.contains("status=200")
            && log.contains("latency_us="),
        "{log}"
    );
    assert!(
        !log.contains("secret-marker-7731"),
        "query string leaked into the log: {log}"
    );
    assert!(!log.contains("someone"), "{log}");
}

fn wait_until(mut f: impl FnMut() -> bool, what: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}

/// An example address for new-request notices, or mail with no notice address, is named loudly
/// by `check` and by `serve` at start, with the setting and the fix.
#[test]
fn check_and_serve_warn_about_an_example_notice_address() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("kap.toml");
    let config_arg = config.to_str().expect("utf-8");
    let write = |text: &str| std::fs::write(&config, text).expect("config");

    // The built-in identity: the example address is shown and receives the notices.
    write("");
    let (code, out, err) = run_binary(&["check", "--config", config_arg], dir.path());
    assert_eq!(code, 0, "a warning is not a failure: {out}{err}");
    assert!(
        err.contains("warning: practice.email \"hello@example.com\" is an example address"),
        "{err}"
    );
    assert!(
        err.contains(
            "warning: notices of new consultation requests go to \"hello@example.com\", an example address, from practice.email (used because mail.notify_email is not set)"
        ) && err.contains("set mail.notify_email (or KAP_NOTIFY_EMAIL)"),
        "{err}"
    );

    // A real practice address and mail on, but notices to a reserved test domain.
    write(
        "[practice]\nemail = \"hello@harbor-therapy.org\"\n[mail]\nsmtp_url = \"smtp://127.0.0.1:2525\"\nnotify_email = \"inbox@practice.test\"\n",
    );
    let (code, out, err) = run_binary(&["check", "--config", config_arg], dir.path());
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        err.contains("warning: notices of new consultation requests go to \"inbox@practice.test\", an example address, from mail.notify_email: real requests would arrive unannounced"),
        "{err}"
    );
    assert!(!err.contains("practice.email \""), "{err}");

    // Mail on with no notice address of its own.
    write(
        "[practice]\nemail = \"hello@harbor-therapy.org\"\n[mail]\nsmtp_url = \"smtp://127.0.0.1:2525\"\n",
    );
    let (_, _, err) = run_binary(&["check", "--config", config_arg], dir.path());
    assert!(
        err.contains("warning: mail.smtp_url is set but mail.notify_email is not"),
        "{err}"
    );

    // Everything real: no warning.
    write(
        "[practice]\nemail = \"hello@harbor-therapy.org\"\n[mail]\nnotify_email = \"inbox@harbor-therapy.org\"\n",
    );
    let (_, out, err) = run_binary(&["check", "--config", config_arg], dir.path());
    assert!(!err.contains("warning"), "{out}{err}");

    // serve says the same at start.
    write(
        "[mail]\nsmtp_url = \"smtp://127.0.0.1:2525\"\nnotify_email = \"inbox@practice.invalid\"\n",
    );
    let p = Process::serve(&["--config", config_arg], &[]);
    let log = p.stderr();
    assert!(
        log.contains("WARN")
            && log.contains("notices of new consultation requests go to \"inbox@practice.invalid\", an example address, from mail.notify_email"),
        "{log}"
    );
    assert!(
        log.contains("practice.email \"hello@example.com\" is an example address"),
        "{log}"
    );
}

/// The outbox's mail due within the hour, claimed (each row opened with the store's keys).
async fn claim_due_within_the_hour(store: &store::Store) -> Vec<store::OutboxRow> {
    store
        .claim_due_mail(
            jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1),
            jiff::SignedDuration::from_mins(1),
            100,
        )
        .await
        .expect("mail opens")
}

/// A key rotation finished: values sealed under key A, re-sealed by a server given B with A as
/// a previous key, all open with B alone, and the store starts with B alone.
#[tokio::test]
async fn after_resealing_everything_opens_with_the_new_key_alone() {
    use crypto::Keyring;
    use store::Store;
    let app = crate::common::TestApp::start().await;
    app.add_clinician().await;
    assert_eq!(app.submit("Ada Lovelace", &[]).await.status, 303);
    let id = app.state.store.all_requests().await.expect("read")[0].id;
    let noted = app
        .state
        .store
        .add_note(id, "c", "a private note", jiff::Timestamp::now())
        .await
        .expect("note");
    assert!(noted);
    app.state
        .store
        .calendar_feed_secret()
        .await
        .expect("feed secret");
    let backup_settings =
        std::collections::BTreeMap::from([("schedule".to_string(), "daily".to_string())]);
    app.state
        .store
        .save_backup_settings(
            &backup_settings,
            jiff::Timestamp::now(),
            &store::audit::Entry::new("c", store::audit::Action::BackupSettingsSaved),
        )
        .await
        .expect("backup settings saved");
    let data = app.data_dir.path().join("data");
    let a = std::fs::read_to_string(data.join("data.key")).unwrap_or_else(|_| {
        panic!("the test's data key");
    });
    let a = a.trim().to_string();
    // The server stays up (its folder goes with it); the rotation happens beside it.
    let url = app.overrides.database_url.clone();

    let b = crypto::generate_key_hex();
    let rotating = Store::open(
        &data,
        url.as_deref(),
        Keyring::from_hex(&b, &[&a]).expect("keys"),
    )
    .await
    .expect("opens with B and previous A");
    let n = rotating.reseal_all().await.expect("reseal");
    // At least the name, the email, the note and the three sealed settings.
    assert!(n >= 6, "re-sealed {n}");
    assert_eq!(rotating.reseal_all().await.expect("again"), 0, "idempotent");
    rotating.close().await;

    let only_b = Store::open(
        &data,
        url.as_deref(),
        Keyring::from_hex(&b, &[]).expect("key"),
    )
    .await
    .expect("starts with B alone");
    let requests = only_b.all_requests().await.expect("every request opens");
    assert_eq!(requests[0].name, "Ada Lovelace");
    let notes = only_b.notes(id).await.expect("notes open");
    assert_eq!(notes.len(), 1);
    only_b
        .calendar_feed_secret()
        .await
        .expect("feed secret opens");
    assert_eq!(
        only_b
            .saved_backup_settings()
            .await
            .expect("the saved backup settings open"),
        Some(backup_settings)
    );
    claim_due_within_the_hour(&only_b).await;
    only_b.close().await;
    drop(app);
}

/// Values written before values were bound to their rows still open after the upgrade, and
/// `kap-practice keys reseal` seals them again bound to their rows; afterwards they still open.
#[tokio::test]
async fn values_sealed_before_rows_were_bound_open_and_are_resealed() {
    let app = crate::common::TestApp::start().await;
    assert_eq!(
        app.submit("Ada Lovelace", &[("email", "ada@lovelace.example")])
            .await
            .status,
        303
    );
    let store = &app.state.store;
    let id = store.all_requests().await.expect("read")[0].id;
    assert!(
        store
            .add_note(id, "c", "a private note", jiff::Timestamp::now())
            .await
            .expect("note")
    );
    store.calendar_feed_secret().await.expect("feed secret");
    let key = app.data_key();
    let key = key.as_str();

    // The database as the earlier version left it: every value in format 1.
    let old = |field: &str, plain: &str| crate::common::sealed_the_old_way(key, field, plain);
    let feed = "ab".repeat(32);
    // An acknowledgement still waiting to be sent (this server sends no mail).
    let queued_mail = format!(
        "INSERT INTO outbox (kind, request_id, recipient_sealed, created_at, next_attempt_at)
         VALUES ('acknowledgement', {id}, $1, 1, 1)"
    );
    for (sql, value) in [
        (
            "UPDATE consultation_requests SET name_sealed = $1",
            old("name", "Ada Lovelace"),
        ),
        (
            "UPDATE consultation_requests SET email_sealed = $1",
            old("email", "ada@lovelace.example"),
        ),
        (
            "UPDATE request_notes SET body_sealed = $1",
            old("note", "a private note"),
        ),
        (
            queued_mail.as_str(),
            old("recipient", "ada@lovelace.example"),
        ),
        (
            "UPDATE settings SET value = $1 WHERE key = 'calendar_feed'",
            old("calendar_feed", &feed),
        ),
        (
            "UPDATE settings SET value = $1 WHERE key = 'key_check'",
            old("key_check", "kap-practice"),
        ),
    ] {
        assert!(app.database_write(sql, &[&value]).await >= 1, "{sql}");
    }
    let format_1 = |blobs: Vec<Vec<u8>>| blobs.iter().filter(|b| b.first() == Some(&1)).count();
    let everything = "SELECT name_sealed FROM consultation_requests
         UNION ALL SELECT email_sealed FROM consultation_requests
         UNION ALL SELECT body_sealed FROM request_notes
         UNION ALL SELECT recipient_sealed FROM outbox WHERE recipient_sealed IS NOT NULL
         UNION ALL SELECT value FROM settings WHERE key IN ('calendar_feed', 'key_check')";
    let before = app.database_blobs(everything).await;
    assert_eq!(before.len(), 6, "name, email, note, mail and two settings");
    assert_eq!(format_1(before.clone()), before.len(), "all format 1");
    assert!(store.has_unbound_values().await.expect("check"));
    // A server starting on such a database says what to do.
    let data = app.data_dir.path().join("data");
    let data = data.to_str().expect("utf-8");
    let env: Vec<(&str, &str)> = app
        .overrides
        .database_url
        .iter()
        .map(|url| ("DATABASE_URL", url.as_str()))
        .collect();
    let asks_for_reseal = || {
        Process::serve(&["--data-dir", data], &env)
            .stderr()
            .contains("run `kap-practice keys reseal` once to bind them")
    };
    assert!(asks_for_reseal(), "the server warns of unbound values");

    // They open as they are.
    let request = &store.all_requests().await.expect("format 1 opens")[0];
    assert_eq!(
        (request.name.as_str(), request.email.as_str()),
        ("Ada Lovelace", "ada@lovelace.example")
    );
    assert_eq!(
        store.notes(id).await.expect("notes")[0].body,
        "a private note"
    );
    assert!(store.is_calendar_feed_secret(&feed).await.expect("feed"));

    let (code, out, err) = app.cli(&["keys", "reseal"]);
    assert_eq!(code, 0, "{out}{err}");
    let after = app.database_blobs(everything).await;
    assert_eq!(after.len(), before.len());
    assert_eq!(
        format_1(after),
        0,
        "every value sealed again, bound to its row"
    );
    assert!(!store.has_unbound_values().await.expect("check"));
    assert!(!asks_for_reseal(), "and is quiet once they are bound");
    let (code, out, err) = app.cli(&["keys", "reseal"]);
    assert_eq!(code, 0, "{out}{err}");

    // And open bound to their rows, the server's mail included.
    let request = &store.all_requests().await.expect("opens after")[0];
    assert_eq!(request.name, "Ada Lovelace");
    assert_eq!(
        store.notes(id).await.expect("notes")[0].body,
        "a private note"
    );
    assert!(store.is_calendar_feed_secret(&feed).await.expect("feed"));
    let mail = claim_due_within_the_hour(store).await;
    assert!(
        mail.iter()
            .any(|m| m.recipient.as_deref() == Some("ada@lovelace.example")),
        "the acknowledgement still goes to the person"
    );
}
