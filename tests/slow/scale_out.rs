//! Several servers on one PostgreSQL database: what one server receives, every server shows;
//! a sign-in on one is valid on all and a sign-out ends it on all; each request's notice is
//! sent exactly once while every server's mail worker runs; and a database that goes away
//! mid-burst loses nothing that was acknowledged, and comes back without a restart.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::clinician::{Clinician, EMAIL, PASSWORD};
use crate::common::postgres::{self, Cluster};
use crate::common::{Builder, SmtpServer, TestApp, visible_text};
use settings::config::Overrides;

/// The one public address both servers stand behind (as behind a reverse proxy).
const SITE: &str = "http://practice.test";
/// Every request here comes from one address: no rate limit in the way. The practice's own
/// details and its going-live checklist done, as a site at a public address must have before
/// it shows its pages.
const GENEROUS: &str = "[contact_form]\nrate_limit_per_hour = 1000000\n\n[practice]\nname = \"Harbor Light Therapy\"\nclinician_name = \"Sam Rivera\"\nemail = \"sam@harborlight.example.org\"\nphone = \"(212) 555-0188\"\ncity = \"Brooklyn, New York\"\n\n[going_live]\nreviewed = [\"about\", \"credentials\", \"privacy\", \"crisis\"]\n";

/// An empty database for this test (its servers, started at once, migrate it themselves): on
/// the run's PostgreSQL server, or on a cluster of its own.
pub(crate) fn database() -> (String, Option<Cluster>) {
    match postgres::admin_url() {
        Some(admin) => (postgres::empty_database(&admin), None),
        None => {
            let cluster = Cluster::start();
            (postgres::empty_database(&cluster.url()), Some(cluster))
        }
    }
}

/// Two servers of one practice, each built by `builder` (on the same database), started at
/// the same moment.
pub(crate) async fn two_servers(builder: impl Fn() -> Builder) -> (TestApp, TestApp) {
    tokio::join!(builder().build(), builder().build())
}

/// Two servers of one practice with `config` as their config file, on a fresh database (and the
/// cluster that holds it, when the test starts its own: keep it while they run).
pub(crate) async fn two_servers_with(config: &str) -> (Option<Cluster>, TestApp, TestApp) {
    let (url, cluster) = database();
    let key = crypto::generate_key_hex();
    let (a, b) = two_servers(|| TestApp::builder().config(config).database(&url, &key)).await;
    (cluster, a, b)
}

fn overrides(smtp: Option<&SmtpServer>) -> Overrides {
    Overrides {
        base_url: Some(SITE.into()),
        smtp_url: smtp.map(SmtpServer::url),
        ..Overrides::default()
    }
}

/// Waits (up to 30 s) until `condition` holds, asking again every 50 ms.
async fn wait_until<F: std::future::Future<Output = bool>>(what: &str, condition: impl Fn() -> F) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !condition().await {
        assert!(
            std::time::Instant::now() < deadline,
            "waited 30 s for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The clinician signed in on `app`, posting from the public address.
async fn signed_in(app: &TestApp) -> Clinician<'_> {
    let mut clinician = Clinician::new(app);
    clinician.origin = SITE.into();
    let r = clinician.sign_in(PASSWORD).await;
    assert_eq!(r.status, 303, "signed in: {}", r.text());
    clinician
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_share_requests_sessions_and_mail() {
    let (url, _cluster) = database();
    let key = crypto::generate_key_hex();
    let smtp_dir = tempfile::tempdir().expect("tempdir");
    let smtp = SmtpServer::start(smtp_dir.path());
    // Both start at the same moment on an empty database: migrations are applied once, under
    // PostgreSQL's lock, and both agree on the data key.
    let (a, b) = two_servers(|| {
        TestApp::builder()
            .overrides(overrides(Some(&smtp)))
            .config(GENEROUS)
            .database(&url, &key)
    })
    .await;
    a.add_clinician().await;

    // Requests through both servers at once, while both mail workers run.
    const N: usize = 24;
    let names: Vec<String> = (0..N).map(|i| format!("Person{i:02}")).collect();
    let mut sent = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let app = if i % 2 == 0 { &a } else { &b };
        sent.push(app.submit(name, &[]));
    }
    for r in futures_join(sent).await {
        assert_eq!(r.status, 303, "{}", r.text());
    }

    // Sign in on A; the same cookie is valid on B.
    let on_a = signed_in(&a).await;
    for app in [&a, &b] {
        let mut clinician = on_a.on(app);
        let mut shown = String::new();
        for page in 0..3 {
            let r = clinician.get(&format!("/admin?page={page}")).await;
            assert_eq!(r.status, 200, "the session is valid on both servers");
            shown.push_str(&visible_text(&r.text()));
        }
        for i in 0..N {
            assert!(
                shown.contains(&format!("Person{i:02}")),
                "Person{i:02} is in every server's inbox"
            );
        }
    }

    // Sign out on B ends the session on A too.
    let r = on_a.on(&b).action("/admin", "/admin/logout", &[]).await;
    assert_eq!(r.status, 303);
    for app in [&a, &b] {
        let r = on_a.on(app).get("/admin").await;
        assert_eq!(r.status, 303, "signed out everywhere");
        assert_eq!(r.header("location"), Some("/admin/login"));
    }

    // Exactly one notice per request: none missing, none twice. Both workers have sent them
    // all once nothing is pending; a row is marked sent only after the mail server accepted it
    // (and the test's mail server files a message before it accepts it), so by then every
    // notice sent is in the box.
    wait_until("every notice sent", || async {
        a.state.store.outbox_counts().await.expect("counts").pending == 0
    })
    .await;
    let counts = a.state.store.outbox_counts().await.expect("counts");
    assert_eq!(
        (counts.pending, counts.sent, counts.failed),
        (0, N as i64, 0)
    );
    // A notice sent twice would be a second attempt on its row: each row counts its attempts.
    assert_eq!(
        a.database_texts("SELECT CAST(attempts AS TEXT) FROM outbox ORDER BY id")
            .await,
        vec!["1"; N],
        "each notice was sent once"
    );
    assert_eq!(smtp.messages().len(), N, "no notice was sent twice");
    // And neither server's worker takes up a notice already sent: a round of each, at once,
    // finds nothing to send.
    let (to_a, to_b) = (
        crate::common::reminders::outbox_to(&a, &smtp),
        crate::common::reminders::outbox_to(&b, &smtp),
    );
    let now = jiff::Timestamp::now();
    let (on_a, on_b) = tokio::join!(to_a.round_at(now), to_b.round_at(now));
    assert!(
        !on_a.expect("round") && !on_b.expect("round"),
        "a notice already sent was taken up again"
    );
    assert_eq!(smtp.messages().len(), N, "no notice was sent twice");

    // A periodic job is claimed by one server per period.
    let now = jiff::Timestamp::now();
    let hour = jiff::SignedDuration::from_hours(1);
    let job = store::Job::Housekeeping;
    let (ca, cb) = tokio::join!(
        a.state.store.claim_job(job, hour, now),
        b.state.store.claim_job(job, hour, now)
    );
    assert_eq!(
        [ca.expect("claim"), cb.expect("claim")]
            .iter()
            .filter(|c| **c)
            .count(),
        1,
        "exactly one server runs the job"
    );
    let later = now.checked_add(hour).expect("time");
    assert!(
        b.state
            .store
            .claim_job(job, hour, later)
            .await
            .expect("claim")
    );
    assert!(
        !a.state
            .store
            .claim_job(job, hour, later)
            .await
            .expect("claim")
    );
}

/// Waits for every future, running them together.
async fn futures_join<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut out = Vec::with_capacity(futures.len());
    let mut pinned: Vec<_> = futures.into_iter().map(Box::pin).collect();
    // Poll all of them concurrently on this task.
    let mut results: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in pinned.iter_mut().zip(results.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.extend(results.into_iter().flatten());
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_stopped_mid_burst_loses_nothing_acknowledged_and_recovers_by_itself() {
    // A cluster of this test's own: it is stopped and started again.
    let cluster = Cluster::start();
    let url = postgres::fresh_database(&cluster.url());
    let key = crypto::generate_key_hex();
    let mut o = overrides(None);
    o.base_url = None;
    let app = Arc::new(
        TestApp::builder()
            .overrides(o)
            .config(GENEROUS)
            .database(&url, &key)
            .build()
            .await,
    );
    let config = app.state.config().clone();

    let outcomes = Arc::new(Mutex::new(Vec::<(String, u16, String)>::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..4 {
        let app = app.clone();
        let outcomes = outcomes.clone();
        let stop = stop.clone();
        workers.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let name = format!("Burst{w}x{i}");
                let r = app.submit(&name, &[]).await;
                outcomes
                    .lock()
                    .expect("lock")
                    .push((name, r.status, r.text()));
                i += 1;
            }
        }));
    }
    // The burst gets going before the stop.
    let answered = || outcomes.lock().expect("lock").len();
    wait_until("the burst to get going", || async { answered() > 10 }).await;
    let before = answered();
    cluster.stop_immediate();
    wait_until("health to say the database is down", || async {
        let health = app.get("/healthz").await;
        health.status == 503 && health.text().contains("\"database\":\"down\"")
    })
    .await;
    // A deliberate wait, not for a condition: the database stays away for 3 s while the burst
    // goes on, so that requests arrive during the outage, not only at its edges.
    tokio::time::sleep(Duration::from_secs(3)).await;
    cluster.start_server();
    // The servers recover by themselves: keep submitting until the form works again.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let r = app.get("/healthz").await;
        if r.status == 200 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the server did not recover"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The burst goes on until requests are accepted again.
    let recovered = answered();
    wait_until("a request accepted after the recovery", || async {
        outcomes.lock().expect("lock")[recovered..]
            .iter()
            .any(|(_, status, _)| *status == 303)
    })
    .await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in workers {
        w.await.expect("worker");
    }

    let outcomes = outcomes.lock().expect("lock").clone();
    assert!(before > 10, "the burst got going before the stop: {before}");
    let acknowledged: Vec<&String> = outcomes
        .iter()
        .filter(|(_, s, _)| *s == 303)
        .map(|(n, _, _)| n)
        .collect();
    let refused: Vec<&(String, u16, String)> =
        outcomes.iter().filter(|(_, s, _)| *s != 303).collect();
    assert!(!refused.is_empty(), "some requests met the outage");
    for (_, status, body) in &refused {
        assert_eq!(*status, 503, "only 503s during the outage: {body}");
        let text = visible_text(body);
        assert!(
            text.contains("NOT received") || text.contains("not received"),
            "the page says the request was not received: {text}"
        );
        assert!(
            text.contains(&config.practice.email) && text.contains(&config.practice.phone),
            "the page offers the practice's email and phone: {text}"
        );
    }
    eprintln!(
        "burst: {} sent, {} acknowledged (303), {} refused (503) while the database was down",
        outcomes.len(),
        acknowledged.len(),
        refused.len()
    );
    // Once the burst is over, a new request is taken as before the outage. (The burst's own
    // last answers are not the proof: a request begun on a connection the outage broke may end
    // in a 503 just after another has succeeded, and it says so to its sender.)
    let after = app.submit("After the recovery", &[]).await;
    assert_eq!(
        after.status,
        303,
        "requests succeed again without a restart: {}",
        after.text()
    );

    let stored: std::collections::HashSet<String> = app.request_names().await.into_iter().collect();
    let lost: Vec<_> = acknowledged
        .iter()
        .filter(|n| !stored.contains(n.as_str()))
        .collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged requests lost, e.g. {:?}",
        lost.len(),
        lost.first()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_change_on_the_server_ends_the_session_on_every_server() {
    let (url, _cluster) = database();
    let key = crypto::generate_key_hex();
    let (a, b) = tokio::join!(
        TestApp::builder()
            .overrides(overrides(None))
            .database(&url, &key)
            .build(),
        TestApp::builder()
            .overrides(overrides(None))
            .database(&url, &key)
            .build()
    );
    a.add_clinician().await;
    let on_a = signed_in(&a).await;
    for app in [&a, &b] {
        assert_eq!(on_a.on(app).get("/admin").await.status, 200);
    }
    // `admin passwd`, as run on the server, against the shared database.
    let dir = tempfile::tempdir().expect("tempdir");
    let key_file = dir.path().join("data.key");
    std::fs::write(&key_file, &key).expect("key");
    let config = dir.path().join("empty.toml");
    std::fs::write(&config, "").expect("config");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kap-practice"))
        .args(["admin", "passwd", EMAIL])
        .env("DATABASE_URL", &url)
        .env("KAP_DATA_KEY_FILE", &key_file)
        .env("KAP_DATA_DIR", dir.path().join("data"))
        .env("KAP_CONFIG", &config)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run kap-practice");
    {
        use std::io::Write;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(b"quiet harbour lantern meadow\n")
            .expect("password");
    }
    let out = child.wait_with_output().expect("wait");
    crate::common::stdout_of(out, "admin passwd");
    for app in [&b, &a] {
        let r = on_a.on(app).get("/admin").await;
        assert_eq!(r.status, 303, "the old session is over on every server");
        assert!(
            r.header("location")
                .is_some_and(|l| l.starts_with("/admin/login"))
        );
    }
}
