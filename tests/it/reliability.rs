//! What is acknowledged is kept: SIGKILL in the middle of a burst, the database's integrity, the
//! data key, and personal data never in plaintext on disk or in the logs.

use crate::common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::{
    Process, SmtpServer, at_rest, blocking_post, export, form_body, run_binary, token_in,
    valid_fields,
};

fn post_request(
    addr: std::net::SocketAddr,
    token: &str,
    name: &str,
    changes: &[(&str, &str)],
) -> Option<(u16, String, String)> {
    let mut fields = valid_fields(name);
    for (k, v) in changes {
        if let Some(slot) = fields.iter_mut().find(|(f, _)| f == k) {
            slot.1 = v.to_string();
        }
    }
    let mut pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    pairs.push(("form_token", token));
    blocking_post(
        addr,
        "/contact",
        "application/x-www-form-urlencoded",
        form_body(&pairs).as_bytes(),
    )
}

fn token(p: &Process) -> String {
    let page = p.get("/contact");
    token_in(&page)
}

async fn integrity_check(data_dir: &std::path::Path) -> String {
    use sqlx::ConnectOptions;
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(data_dir.join("kap-practice.db"))
        .connect()
        .await
        .expect("open the database");
    sqlx::query_scalar::<_, String>("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await
        .expect("integrity check")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_a_burst_loses_no_acknowledged_request() {
    let env = [("KAP_MIN_FILL_SECONDS", "0")];
    // A generous rate limit, and a data directory that outlives the first process.
    let keep = tempfile::tempdir().expect("tempdir");
    let data = keep.path().join("data");
    let config = keep.path().join("kap.toml");
    std::fs::write(&config, "[contact_form]\nrate_limit_per_hour = 100000\n").expect("config");
    let data_arg = data.to_str().expect("utf-8").to_string();
    let config_arg = config.to_str().expect("utf-8").to_string();
    let mut p = Process::serve(&["--data-dir", &data_arg, "--config", &config_arg], &env);
    let token = token(&p);
    let addr = p.addr;
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut threads = Vec::new();
    for t in 0..8 {
        let acknowledged = acknowledged.clone();
        let token = token.clone();
        threads.push(std::thread::spawn(move || {
            for i in 0..200 {
                let name = format!("burst-{t}-{i}");
                match post_request(addr, &token, &name, &[]) {
                    Some((303, _, _)) => acknowledged.lock().expect("lock").push(name),
                    Some((status, _, body)) => panic!("unexpected {status}: {body}"),
                    None => return,
                }
            }
        }));
    }
    // Kill it mid-burst, once a good number have been acknowledged.
    let deadline = std::time::Instant::now() + crate::common::PATIENCE;
    while acknowledged.lock().expect("lock").len() < 150 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    p.signal("KILL");
    let _ = p.wait_exit(Duration::from_secs(5));
    for t in threads {
        let _ = t.join();
    }
    let acknowledged = acknowledged.lock().expect("lock").clone();
    assert!(
        acknowledged.len() >= 150,
        "the burst got going: {}",
        acknowledged.len()
    );
    assert!(acknowledged.len() < 1600, "the kill came mid-burst");

    // After a restart, every acknowledged request is there.
    let p2 = Process::serve(&["--data-dir", &data_arg, "--config", &config_arg], &env);
    drop(p2);
    let exported = export(&data, "jsonl");
    let names: std::collections::HashSet<String> = exported
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("json line")["name"]
                .as_str()
                .expect("name")
                .to_string()
        })
        .collect();
    let missing: Vec<_> = acknowledged
        .iter()
        .filter(|n| !names.contains(*n))
        .collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged requests lost, e.g. {:?}",
        missing.len(),
        missing.first()
    );
    if common::postgres::admin_url().is_none() {
        assert_eq!(integrity_check(&data).await, "ok");
    }
}

#[test]
fn personal_data_is_never_in_plaintext_on_disk_or_in_the_logs() {
    let smtp_dir = tempfile::tempdir().expect("tempdir");
    let smtp = SmtpServer::start(smtp_dir.path());
    let smtp_url = smtp.url();
    let p = Process::serve(
        &[],
        &[("KAP_MIN_FILL_SECONDS", "0"), ("KAP_SMTP_URL", &smtp_url)],
    );
    let token = token(&p);
    let marker = "unique-marker-q8z4w1";
    let r = post_request(
        p.addr,
        &token,
        &format!("Name {marker}"),
        &[
            ("email", &format!("{marker}@example.org")),
            ("phone", "(415) 555-0142"),
            ("message", &format!("message {marker}")),
            ("referral_source", &format!("ref {marker}")),
        ],
    )
    .expect("response");
    assert_eq!(r.0, 303);
    assert_eq!(smtp.wait_for(1).len(), 1);
    // A request with a mistake, too: its error page must not reach the log either.
    let r = post_request(
        p.addr,
        &token,
        &format!("Name {marker}"),
        &[("email", "bad")],
    )
    .expect("response");
    assert_eq!(r.0, 422);
    // What the scan and the log check below look at is whole once the server has logged the
    // last thing each request caused: the mail's "mail sent" (the delivery is recorded right
    // after, with nothing personal in it), and the access line of the request with a mistake,
    // which comes after every line its handling logged (lines reach the log in order).
    let id =
        r.1.lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("x-request-id:")
                    .map(|v| v.trim().to_string())
            })
            .expect("a request id");
    for line in [
        "mail sent".to_string(),
        format!("request_id={id} method=POST path=/contact status=422"),
    ] {
        assert!(p.log_with(&line).contains(&line), "the log has {line:?}");
    }

    // On SQLite: the database, its WAL and the key file. On PostgreSQL: the server's database
    // (tables and indexes) and the cluster's WAL.
    let files: Vec<std::path::PathBuf> = match common::postgres::admin_url() {
        None => at_rest::files_below(&p.dir.path().join("data")),
        Some(admin) => {
            let url = std::fs::read_to_string(p.dir.path().join("data.database-url"))
                .expect("the server's database");
            at_rest::postgres_files(&admin, &url)
        }
    };
    let mut checked = 0;
    for path in files {
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        for needle in [marker, "555-0142"] {
            assert!(
                !at_rest::holds(&bytes, needle),
                "{needle} in plaintext in {}",
                path.display()
            );
        }
        checked += 1;
    }
    assert!(
        checked >= 3,
        "the database, its WAL and the key file were checked"
    );
    let log = p.log_with("consultation request stored");
    assert!(log.contains("consultation request stored"), "{log}");
    assert!(
        !log.contains(marker) && !log.contains("555-0142"),
        "personal data in the log: {log}"
    );
    for m in smtp.messages() {
        assert!(!m.contains(marker), "personal data in the notification");
    }
    // The clinician's export opens it all.
    drop(p);
}

#[test]
fn the_export_decrypts_and_is_safe_in_a_spreadsheet() {
    let p = Process::serve(&[], &[("KAP_MIN_FILL_SECONDS", "0")]);
    let token = token(&p);
    let r = post_request(
        p.addr,
        &token,
        "=HYPERLINK(\"http://evil.example\",\"click\")",
        &[
            ("referral_source", "+1 cmd"),
            ("message", "line one\nline two, with \"quotes\""),
        ],
    )
    .expect("response");
    assert_eq!(r.0, 303);
    let data = p.dir.path().join("data");
    let csv = export(&data, "csv");
    let mut lines = csv.lines();
    assert!(
        lines
            .next()
            .expect("header")
            .starts_with("reference,received_at,status")
    );
    assert!(csv.contains("'=HYPERLINK"), "{csv}");
    assert!(csv.contains("'+1 cmd"), "{csv}");
    assert!(
        csv.contains("\"line one\nline two, with \"\"quotes\"\"\""),
        "{csv}"
    );
    let jsonl = export(&data, "jsonl");
    let v: serde_json::Value =
        serde_json::from_str(jsonl.lines().next().expect("a line")).expect("json");
    assert_eq!(v["name"], "=HYPERLINK(\"http://evil.example\",\"click\")");
    assert_eq!(v["email"], "person@example.com");
}

#[test]
fn a_wrong_or_damaged_data_key_refuses_to_start_and_says_why() {
    let k1 = "11".repeat(32);
    let k2 = "22".repeat(32);
    let keep = tempfile::tempdir().expect("tempdir");
    let data = keep.path().join("data");
    let data_arg = data.to_str().expect("utf-8").to_string();
    {
        let p = Process::serve(
            &["--data-dir", &data_arg],
            &[("KAP_DATA_KEY", &k1), ("KAP_MIN_FILL_SECONDS", "0")],
        );
        let token = token(&p);
        assert_eq!(
            post_request(p.addr, &token, "Ada", &[])
                .expect("response")
                .0,
            303
        );
    }
    let run = |key: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_kap-practice"))
            .args([
                "serve",
                "--bind",
                "127.0.0.1:0",
                "--data-dir",
                &data_arg,
                "--config",
                "/dev/null",
            ])
            .env("KAP_DATA_KEY", key)
            .envs(common::database_env(&data, true))
            .output()
            .expect("run");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run(&k2);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("is not the key this database was written with"),
        "{err}"
    );
    let (code, err) = run("not-hex");
    assert_eq!(code, Some(1));
    assert!(
        err.contains("KAP_DATA_KEY must be 64 hexadecimal characters"),
        "{err}"
    );
    // The right key still works, and a rotation (new key, old key kept for reading) too.
    let p = Process::serve(
        &["--data-dir", &data_arg],
        &[("KAP_DATA_KEY", &k2), ("KAP_DATA_KEYS_PREVIOUS", &k1)],
    );
    drop(p);
}

#[tokio::test]
async fn backup_copies_a_running_sqlite_database_and_points_postgres_to_pg_dump() {
    let p = Process::serve(&[], &[("KAP_MIN_FILL_SECONDS", "0")]);
    let token = token(&p);
    for name in ["Backed Up One", "Backed Up Two"] {
        assert_eq!(
            post_request(p.addr, &token, name, &[]).expect("response").0,
            303
        );
    }
    let data = p.dir.path().join("data");
    let data_arg = data.to_str().expect("utf-8").to_string();
    let out = tempfile::tempdir().expect("tempdir");
    let copy = out.path().join("copy.db");
    let copy_arg = copy.to_str().expect("utf-8").to_string();
    let config = out.path().join("empty.toml");
    std::fs::write(&config, "").expect("config");
    let config_arg = config.to_str().expect("utf-8").to_string();
    let args = [
        "backup",
        &copy_arg,
        "--data-dir",
        &data_arg,
        "--config",
        &config_arg,
    ];
    let (code, _, err) = run_binary(&args, out.path());
    if common::postgres::admin_url().is_some() {
        assert_eq!(code, 1, "{err}");
        assert!(err.contains("pg_dump"), "{err}");
        assert!(!copy.exists());
        return;
    }
    assert_eq!(code, 0, "{err}");
    // The copy is a whole database: it passes SQLite's own check and, with the data key,
    // opens to the same requests.
    let restored = out.path().join("restored");
    std::fs::create_dir_all(&restored).expect("dir");
    std::fs::copy(&copy, restored.join("kap-practice.db")).expect("copy");
    std::fs::copy(data.join("data.key"), restored.join("data.key")).expect("key");
    assert_eq!(integrity_check(&restored).await, "ok");
    let exported = export(&restored, "jsonl");
    assert!(exported.contains("Backed Up One") && exported.contains("Backed Up Two"));
    // It never overwrites.
    let (code, _, err) = run_binary(&args, out.path());
    assert_eq!(code, 1);
    assert!(err.contains("already exists"), "{err}");
    drop(p);
}
