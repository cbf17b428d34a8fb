//! The practice inbox over HTTP: sign-in, sessions, CSRF, throttling, two-factor sign-in, the
//! clinician's actions and the audit rows they leave.

use crate::common;
use practice::status::Status;

use crate::common::clinician::{Clinician, EMAIL, PASSWORD, base32_decode};
use crate::common::old_database::sqlite_database_at;
use crate::common::{Reply, TestApp, visible_text};
use auth::totp;
use web::admin::{Access, route_table};

async fn app_with_account() -> TestApp {
    app_with_account_config(None).await
}

/// An account as the first run or `admin add` leaves it: no two-factor sign-in yet.
async fn app_without_two_factor() -> TestApp {
    let app = TestApp::builder().build().await;
    app.add_clinician_without_two_factor().await;
    app
}

/// The account and one request in the inbox (Ada's, id 1).
async fn app_with_a_request() -> TestApp {
    let app = app_with_account().await;
    let _ = app.submit("Ada", &[]).await;
    app
}

async fn app_with_account_config(config: Option<&str>) -> TestApp {
    let mut builder = TestApp::builder();
    if let Some(text) = config {
        builder = builder.config(text);
    }
    let app = builder.build().await;
    app.add_clinician().await;
    app
}

async fn audit_count(app: &TestApp) -> i64 {
    app.state.store.audit_log(1, 0).await.expect("audit").1
}

async fn last_audit(app: &TestApp) -> store::AuditRow {
    app.state
        .store
        .audit_log(1, 0)
        .await
        .expect("audit")
        .0
        .remove(0)
}

/// The words of a refused sign-in's error summary, up to the form.
fn sign_in_error(r: &Reply) -> String {
    let t = visible_text(&r.text());
    t[t.find("There is a problem").expect("error")..]
        .split("Email address")
        .next()
        .unwrap_or("")
        .to_string()
}

fn concrete(path: &str) -> String {
    path.replace("{id}", "1")
        .replace("{token}", "00")
        .replace("{estimate}", "1")
        .replace("{section}", "privacy")
}

#[tokio::test]
async fn every_admin_route_sends_a_stranger_to_sign_in() {
    let app = app_with_a_request().await;
    let routes = route_table();
    assert!(routes.len() >= 15, "the table lists every route");
    for route in routes.iter().filter(|r| r.access == Access::SignedIn) {
        let r = app
            .request(
                route.method.as_str(),
                &concrete(route.path),
                &[
                    ("content-type", "application/x-www-form-urlencoded"),
                    ("origin", &app.url("")),
                ],
                "csrf=x",
            )
            .await;
        assert_eq!(r.status, 303, "{} {}", route.method, route.path);
        assert_eq!(
            r.header("location"),
            Some("/admin/login"),
            "{} {}",
            route.method,
            route.path
        );
        assert_eq!(r.header("cache-control"), Some("no-store"));
    }
    // The public pages never get a cookie.
    for path in ["/", "/contact", "/privacy"] {
        assert!(app.get(path).await.header("set-cookie").is_none(), "{path}");
    }
}

#[tokio::test]
async fn signing_in_sets_a_strict_cookie_and_every_admin_page_is_private() {
    let app = app_with_account().await;
    let mut c = Clinician::new(&app);
    let first = c.get("/admin/login").await;
    let before = first
        .header("set-cookie")
        .map(|s| s.split(';').next().unwrap_or("").to_string());
    let r = c.sign_in(PASSWORD).await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/admin"));
    let cookie = r.header("set-cookie").expect("session cookie");
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/admin", "Max-Age=1800"] {
        assert!(cookie.contains(attr), "{attr} in {cookie}");
    }
    assert_ne!(
        Some(cookie.split(';').next().unwrap_or("").to_string()),
        before,
        "a new session id at sign-in"
    );
    let _ = app.submit("Ada", &[]).await;
    // A page of the practice's own, so that its page in the inbox (`{id}` = 1) is there.
    let added = c.add_page("Fees", "/fees", "Fees.").await;
    assert_eq!(added.status, 303);
    for route in route_table()
        .iter()
        .filter(|r| r.method == axum::http::Method::GET)
    {
        let r = c.get(&concrete(route.path)).await;
        assert!(r.status < 500, "{}", route.path);
        assert_eq!(
            r.header("cache-control"),
            Some("no-store"),
            "{}",
            route.path
        );
        assert_eq!(
            r.header("x-robots-tag"),
            Some("noindex, nofollow"),
            "{}",
            route.path
        );
    }
    // The inbox's own "not found" (a page of the practice's that does not exist) is the
    // site's 404 page, and still private.
    let missing = c.get("/admin/pages/999").await;
    assert_eq!(missing.status, 404);
    assert!(missing.text().contains("<html"), "the 404 page");
    assert_eq!(missing.header("cache-control"), Some("no-store"));
    assert_eq!(missing.header("x-robots-tag"), Some("noindex, nofollow"));
}

/// The sign-in form with the right password and the token `csrf`, sent with only `headers`
/// (not the site's Origin).
async fn sign_in_with_headers(
    c: &mut Clinician<'_>,
    csrf: &str,
    headers: &[(&str, &str)],
) -> Reply {
    let form = common::form_body(&[("csrf", csrf), ("email", EMAIL), ("password", PASSWORD)]);
    c.post_with("/admin/login", &form, headers).await
}

#[tokio::test]
async fn on_https_the_cookie_is_host_prefixed_and_secure() {
    let app =
        app_with_account_config(Some("[server]\nbase_url = \"https://kap.example.org\"\n")).await;
    let mut c = Clinician::new(&app);
    let csrf = c.csrf("/admin/login").await;
    let r = sign_in_with_headers(&mut c, &csrf, &[("sec-fetch-site", "same-origin")]).await;
    let cookie = r.header("set-cookie").expect("cookie at sign-in");
    assert!(cookie.starts_with("__Host-kap_admin="), "{cookie}");
    assert!(
        cookie.contains("Secure") && cookie.contains("Path=/"),
        "{cookie}"
    );
}

#[tokio::test]
async fn a_cookie_from_before_sign_out_is_refused_after() {
    let app = app_with_account().await;
    let mut c = Clinician::signed_in(&app).await;
    assert_eq!(c.get("/admin").await.status, 200);
    let old_cookie = c.cookie.clone();
    let r = c.action("/admin", "/admin/logout", &[]).await;
    assert_eq!(r.status, 303);
    let mut replay = Clinician::new(&app);
    replay.cookie = old_cookie;
    let r = replay.get("/admin").await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/admin/login"));
    assert_eq!(last_audit(&app).await.action, "sign_out");
}

/// Every form of the inbox checks its token where the form is read: a post to any route
/// without it, or with a wrong one, changes nothing and is refused.
#[tokio::test]
async fn every_inbox_form_refuses_a_post_without_its_token() {
    let app = app_with_a_request().await;
    let mut c = Clinician::signed_in(&app).await;
    let audited = audit_count(&app).await;
    for route in route_table()
        .iter()
        .filter(|r| r.method == axum::http::Method::POST)
    {
        for body in ["", "csrf=0000"] {
            let r = c.post(&concrete(route.path), body).await;
            assert_eq!(r.status, 403, "{} {body:?}", route.path);
        }
    }
    assert_eq!(audit_count(&app).await, audited, "nothing was done");
}

#[tokio::test]
async fn state_changes_need_the_token_and_the_same_origin() {
    let app = app_with_a_request().await;
    let mut c = Clinician::signed_in(&app).await;
    let csrf = c.csrf("/admin/requests/1").await;
    let body = common::form_body(&[("status", "contacted"), ("reason", "")]);
    let r = c.post("/admin/requests/1/status", &body).await;
    assert_eq!(r.status, 403, "no token");
    assert!(visible_text(&r.text()).contains("refused"));
    let with_token = common::form_body(&[("csrf", &csrf), ("status", "contacted"), ("reason", "")]);
    let refused: [(&[(&str, &str)], &str); 3] = [
        (&[("origin", "https://evil.example")], "cross-site origin"),
        (&[("sec-fetch-site", "cross-site")], "cross-site fetch"),
        (&[], "neither origin nor fetch metadata"),
    ];
    for (headers, why) in refused {
        let r = c
            .post_with("/admin/requests/1/status", &with_token, headers)
            .await;
        assert_eq!(r.status, 403, "{why}");
    }
    let bad = common::form_body(&[
        ("csrf", &"0".repeat(64)),
        ("status", "contacted"),
        ("reason", ""),
    ]);
    assert_eq!(
        c.post("/admin/requests/1/status", &bad).await.status,
        403,
        "wrong token"
    );
    assert_eq!(
        app.stored_request(1).await.status,
        Status::New,
        "nothing changed"
    );
    let r = c
        .post_with(
            "/admin/requests/1/status",
            &with_token,
            &[("origin", &app.url("")), ("sec-fetch-site", "same-origin")],
        )
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(app.stored_request(1).await.status, Status::Contacted);
}

#[tokio::test]
async fn wrong_credentials_reveal_nothing_and_repeated_failures_lock() {
    let app = app_with_account().await;
    let mut c = Clinician::new(&app);
    let wrong_password = c.sign_in("not the password at all").await;
    assert_eq!(wrong_password.status, 401, "a wrong password");
    let unknown = c.sign_in_as("nobody@practice.example", PASSWORD).await;
    assert_eq!(unknown.status, 401, "an unknown email");
    assert_eq!(
        sign_in_error(&wrong_password),
        sign_in_error(&unknown),
        "the same words either way"
    );
    assert_eq!(last_audit(&app).await.action, "sign_in_failed");
    assert_eq!(last_audit(&app).await.actor, "unknown");

    for _ in 0..4 {
        assert_eq!(c.sign_in("still not the password").await.status, 401);
    }
    let locked = c.sign_in(PASSWORD).await;
    assert_eq!(locked.status, 429, "locked even with the right password");
    assert!(
        visible_text(&locked.text()).contains("sign-in is paused"),
        "{}",
        visible_text(&locked.text())
    );
}

#[tokio::test]
async fn the_stored_hash_is_argon2id_with_owasp_parameters() {
    let app = app_with_account().await;
    let creds = account(&app).await;
    assert!(
        creds
            .password_hash
            .starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{}",
        creds.password_hash
    );
}

#[tokio::test]
async fn markup_from_a_visitor_is_shown_as_text_in_the_list_and_the_page() {
    let app = app_with_account().await;
    let payload = "\"><img src=x onerror=alert(1)>";
    assert_eq!(
        app.submit(payload, &[("message", payload)]).await.status,
        303
    );
    let mut c = Clinician::signed_in(&app).await;
    for path in ["/admin", "/admin/requests/1"] {
        let html = c.get(path).await.text();
        assert!(!html.contains("<img src=x"), "{path} renders markup");
        assert!(
            html.contains("&#34;&#62;&#60;img src=x onerror=alert(1)&#62;")
                || html.contains("&quot;&gt;&lt;img"),
            "{path} shows it as text"
        );
    }
}

#[tokio::test]
async fn each_action_writes_exactly_one_audit_row_without_personal_fields() {
    let app = app_with_account().await;
    assert_eq!(
        app.submit("Grace Hopper", &[("message", "private words")])
            .await
            .status,
        303
    );
    assert_eq!(app.submit("Alan Turing", &[]).await.status, 303);
    let mut c = Clinician::new(&app);
    let mut n = audit_count(&app).await;
    let mut step = |expected: &str, count: i64| {
        assert_eq!(count, n + 1, "{expected}: exactly one row");
        n = count;
    };
    assert_eq!(c.sign_in(PASSWORD).await.status, 303);
    step("sign_in", audit_count(&app).await);
    assert_eq!(last_audit(&app).await.action, "sign_in");

    assert_eq!(c.get("/admin/requests/1").await.status, 200);
    step("view", audit_count(&app).await);
    assert_eq!(last_audit(&app).await.action, "view_request");

    let r = c
        .action(
            "/admin/requests/1",
            "/admin/requests/1/notes",
            &[("note", "Called, left a message.")],
        )
        .await;
    assert_eq!(r.status, 303);
    // The page load for the token is a view: count it, then the note.
    let after = audit_count(&app).await;
    assert_eq!(after, n + 2);
    n = after;
    assert_eq!(last_audit(&app).await.action, "note_added");

    let r = c
        .action(
            "/admin",
            "/admin/requests/1/status",
            &[("status", "contacted"), ("reason", "")],
        )
        .await;
    assert_eq!(r.status, 303);
    let after = audit_count(&app).await;
    assert_eq!(after, n + 1);
    n = after;
    let row = last_audit(&app).await;
    assert_eq!(
        (row.action.as_str(), row.request_id, row.detail.as_deref()),
        ("status_change", Some(1), Some("New → Contacted"))
    );

    let r = c
        .action("/admin", "/admin/export", &[("scope", "all")])
        .await;
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type")
            .is_some_and(|t| t.starts_with("text/csv"))
    );
    assert!(r.text().contains("Grace Hopper"));
    let after = audit_count(&app).await;
    assert_eq!(after, n + 1);
    n = after;
    assert_eq!(last_audit(&app).await.action, "export");

    let r = c
        .action("/admin/requests/2/delete", "/admin/requests/2/delete", &[])
        .await;
    assert_eq!(r.status, 303);
    let after = audit_count(&app).await;
    assert_eq!(after, n + 1);
    assert_eq!(last_audit(&app).await.action, "delete");
    assert!(
        app.state.store.request(2).await.expect("read").is_none(),
        "deleted for good"
    );

    let (rows, _) = app.state.store.audit_log(1000, 0).await.expect("audit");
    for row in rows {
        let text = format!("{} {} {:?}", row.actor, row.action, row.detail);
        for personal in [
            "Grace",
            "Hopper",
            "Turing",
            "private words",
            "person@example.com",
        ] {
            assert!(
                !text.contains(personal),
                "audit row holds {personal}: {text}"
            );
        }
    }
    // The audit page lists them, and the log refuses to be changed.
    assert!(visible_text(&c.get("/admin/audit").await.text()).contains("Changed a status"));
    let refused = app
        .state
        .store
        .execute_unchecked("DELETE FROM audit_log")
        .await;
    assert!(refused.is_err(), "append-only");
}

#[tokio::test]
async fn retention_deletes_what_it_should_and_nothing_else() {
    let app = app_with_account().await;
    for name in ["Closed", "Open", "Spam", "New", "Treated"] {
        let website = if name == "Spam" { "x" } else { "" };
        assert_eq!(app.submit(name, &[("website", website)]).await.status, 303);
    }
    let store = &app.state.store;
    let now = jiff::Timestamp::now();
    let change = |s: &str, r: &str| practice::status::StatusChange::parse(s, r).expect("valid");
    for (id, status, reason) in [
        (1, "closed", "not_a_fit"),
        (2, "contacted", ""),
        (5, "medication_sessions", ""),
        (5, "closed", "completed"),
    ] {
        assert!(
            store
                .change_status(id, change(status, reason), EMAIL, false, now)
                .await
                .expect("change")
        );
    }
    // The clock moves on: housekeeping as it runs that many days from now.
    let days = |d: i64| now + jiff::SignedDuration::from_hours(24 * d);
    let left = || async {
        let mut names = app.request_names().await;
        names.sort();
        names
    };
    let housekeeping = |at| web::housekeeping::run_at(&app.state, at);
    assert_eq!(housekeeping(days(29)).await.expect("housekeeping"), 0);
    // Spam goes after 30 days.
    assert_eq!(housekeeping(days(31)).await.expect("housekeeping"), 1);
    assert_eq!(left().await, ["Closed", "New", "Open", "Treated"]);
    assert_eq!(housekeeping(days(364)).await.expect("housekeeping"), 0);
    // A request closed before it reached a consultation goes a year after closing…
    assert_eq!(housekeeping(days(366)).await.expect("housekeeping"), 1);
    assert_eq!(left().await, ["New", "Open", "Treated"]);
    // …one that reached treatment is a clinical record, kept seven years.
    assert_eq!(housekeeping(days(2556)).await.expect("housekeeping"), 0);
    assert_eq!(housekeeping(days(2558)).await.expect("housekeeping"), 1);
    assert_eq!(left().await, ["New", "Open"]);
    let (rows, _) = store.audit_log(3, 0).await.expect("audit");
    assert!(
        rows.iter()
            .all(|r| r.action == "purge" && r.actor == "system")
    );
    // The privacy notice states the periods in force.
    let privacy = visible_text(&app.get("/privacy").await.text());
    assert!(
        privacy.contains("if it never reached a consultation, it is deleted for good 365 days after it was closed")
            && privacy.contains("it is kept as the start of a clinical record: it is deleted for good 2557 days after it was closed")
            && privacy.contains("after 30 days"),
        "{privacy}"
    );
}

#[tokio::test]
async fn two_factor_enrolment_code_sign_in_and_single_use_recovery_codes() {
    let app = app_without_two_factor().await;
    let mut c = Clinician::signed_in(&app).await;
    let page = c.get("/admin/two-factor").await.text();
    assert!(page.contains("<svg role=\"img\""), "an inline SVG QR code");
    let secret = offered_secret(&page);
    let code = totp::current_code(&secret, jiff::Timestamp::now()).expect("code");
    let codes = recovery_codes(&turn_on(&mut c, &code).await.text());
    assert_eq!(codes.len(), 10, "ten recovery codes, shown once");
    assert_eq!(last_audit(&app).await.action, "two_factor_enrolled");
    c.action("/admin", "/admin/logout", &[]).await;

    // Password alone is not enough now.
    let r = c.sign_in_password_only(PASSWORD).await;
    assert_eq!(r.header("location"), Some("/admin/login/code"));
    assert_eq!(
        c.get("/admin").await.header("location"),
        Some("/admin/login")
    );
    // The code that enrolled cannot be replayed.
    let r = c.send_code(&code).await;
    assert_eq!(r.status, 401, "no replay");
    // A fresh code for the next step works.
    let next = totp::current_code(
        &secret,
        jiff::Timestamp::now() + jiff::SignedDuration::from_secs(30),
    )
    .expect("code");
    let r = c.send_code(&next).await;
    assert_eq!(
        r.header("location"),
        Some("/admin"),
        "signed in with a code"
    );
    assert_eq!(c.get("/admin").await.status, 200);
    c.action("/admin", "/admin/logout", &[]).await;

    // A recovery code works once.
    c.sign_in_password_only(PASSWORD).await;
    let r = c.send_code(&codes[0]).await;
    assert_eq!(
        r.header("location"),
        Some("/admin"),
        "signed in with a recovery code"
    );
    c.action("/admin", "/admin/logout", &[]).await;
    c.sign_in_password_only(PASSWORD).await;
    let r = c.send_code(&codes[0]).await;
    assert_eq!(r.status, 401, "a recovery code is single use");
}

/// Runs `kap-practice` with `args` against the test server's database, as an operator on the
/// server would, feeding `stdin`: (exit code, stderr).
fn admin_cli(app: &TestApp, args: &[&str], stdin: &str) -> (i32, String) {
    let (code, _, err) = admin_cli_with(app, args, stdin, &[]);
    (code, err)
}

/// The same, with `env` set: (exit code, stdout, stderr).
fn admin_cli_with(
    app: &TestApp,
    args: &[&str],
    stdin: &str,
    env: &[(&str, &str)],
) -> (i32, String, String) {
    use std::io::Write;
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kap-practice"));
    cmd.args(args)
        .env("KAP_DATA_DIR", app.data_dir.path().join("data"))
        .env_remove("RUST_LOG")
        .env_remove("KAP_BASE_URL")
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    if let Some(config) = &app.overrides.config_file {
        cmd.env("KAP_CONFIG", config);
    }
    if let Some(url) = &app.overrides.database_url {
        cmd.env("DATABASE_URL", url);
    }
    let mut child = cmd.spawn().expect("run kap-practice");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    common::outcome(child.wait_with_output().expect("wait"))
}

/// The clinician's account as stored.
async fn account(app: &TestApp) -> store::Credentials {
    app.state
        .store
        .credentials(EMAIL)
        .await
        .expect("read")
        .expect("account")
}

async fn account_id(app: &TestApp) -> i64 {
    account(app).await.id
}

/// Adds an account for `email` with the password hashed as `hash`, as `admin add` does: its
/// id, or `None` when the address has an account already.
async fn add_account(store: &store::Store, email: &str, hash: &str) -> Option<i64> {
    let entry = store::audit::Entry::new("test", store::audit::Action::AccountAdded);
    store
        .add_account(email, hash, jiff::Timestamp::now(), &entry)
        .await
        .expect("store")
}

/// `r` sends the browser to the sign-in page (`why`: what that means here).
fn assert_sent_to_sign_in(r: &Reply, why: &str) {
    assert_eq!(r.status, 303, "{why}");
    assert!(
        r.header("location")
            .is_some_and(|l| l.starts_with("/admin/login")),
        "{why}: {:?}",
        r.header("location")
    );
}

/// A signed-in cookie from before a credential change reads nothing, changes nothing and
/// exports nothing afterwards.
async fn assert_session_ended(app: &TestApp, cookie: Option<String>, csrf: &str) {
    let mut old = Clinician::new(app);
    old.cookie = cookie;
    let r = old.get("/admin/requests/1").await;
    assert_sent_to_sign_in(&r, "the old session reads no request");
    let export = common::form_body(&[("csrf", csrf), ("scope", "all")]);
    let r = old.post("/admin/export", &export).await;
    assert_eq!(r.status, 303, "the old session exports nothing");
    assert!(!r.text().contains("Ada"));
    let note = common::form_body(&[("csrf", csrf), ("note", "written after the change")]);
    let r = old.post("/admin/requests/1/notes", &note).await;
    assert_eq!(r.status, 303, "the old session adds no note");
}

#[tokio::test]
async fn changing_the_password_or_removing_the_account_ends_its_sessions() {
    let app = app_with_a_request().await;
    let id = account_id(&app).await;

    // `admin passwd` while signed in.
    let mut c = Clinician::signed_in(&app).await;
    let csrf = c.csrf("/admin/requests/1").await;
    assert_eq!(c.get("/admin/requests/1").await.status, 200);
    assert_eq!(
        app.state.store.session_counts(id).await.expect("count").1,
        1
    );
    let new_password = "quiet harbour lantern meadow";
    let (code, err) = admin_cli(
        &app,
        &["admin", "passwd", EMAIL],
        &format!("{new_password}\n"),
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        app.state.store.session_counts(id).await.expect("count").1,
        0,
        "the account's session rows are deleted"
    );
    assert_session_ended(&app, c.cookie.clone(), &csrf).await;

    // The new password signs in; `admin remove` ends that session too.
    let mut c = Clinician::new(&app);
    let r = c.sign_in(new_password).await;
    assert_eq!(r.status, 303, "signed in with the new password");
    assert_eq!(r.header("location"), Some("/admin"));
    let csrf = c.csrf("/admin/requests/1").await;
    assert_eq!(c.get("/admin/requests/1").await.status, 200);
    let (code, err) = admin_cli(&app, &["admin", "remove", EMAIL], "");
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        app.state.store.session_counts(id).await.expect("count").1,
        0
    );
    assert_session_ended(&app, c.cookie.clone(), &csrf).await;
    let notes = app.state.store.notes(1).await.expect("notes");
    assert!(notes.is_empty(), "no note was added by an ended session");
}

#[tokio::test]
async fn turning_on_two_factor_ends_the_accounts_other_sessions() {
    let app = app_without_two_factor().await;
    let _ = app.submit("Ada", &[]).await;
    let mut other = Clinician::signed_in(&app).await;
    let other_csrf = other.csrf("/admin/two-factor").await;
    let mut c = Clinician::signed_in(&app).await;
    let page = c.get("/admin/two-factor").await.text();
    let secret = offered_secret(&page);
    let code = totp::current_code(&secret, jiff::Timestamp::now()).expect("code");
    turn_on(&mut c, &code).await;
    assert_eq!(
        c.get("/admin/requests/1").await.status,
        200,
        "the session that turned it on carries on"
    );
    assert_session_ended(&app, other.cookie.clone(), &other_csrf).await;
}

#[tokio::test]
async fn the_sign_in_form_and_a_refused_sign_in_leave_nothing_on_the_server() {
    let app = app_with_account().await;
    let mut c = Clinician::new(&app);
    let page = c.get("/admin/login").await;
    assert_eq!(page.status, 200);
    assert!(
        page.header("set-cookie").is_none(),
        "no cookie for the form"
    );
    let r = c.sign_in("not the password at all").await;
    assert_eq!(r.status, 401);
    assert!(r.header("set-cookie").is_none(), "no cookie for a refusal");
    assert_eq!(
        app.state.store.session_counts(0).await.expect("count").0,
        0,
        "no session rows before sign-in"
    );
    // The form's token is checked all the same: a forged one, or none, is refused.
    for csrf in ["", &"0".repeat(64)] {
        let r = c
            .post(
                "/admin/login",
                &common::form_body(&[("csrf", csrf), ("email", EMAIL), ("password", PASSWORD)]),
            )
            .await;
        assert_eq!(r.status, 403, "token {csrf:?}");
    }
    // And from another site, even with a genuine token.
    let csrf = c.csrf("/admin/login").await;
    let r = sign_in_with_headers(&mut c, &csrf, &[("origin", "https://evil.example")]).await;
    assert_eq!(r.status, 403, "cross-site");
    assert_eq!(
        c.sign_in(PASSWORD).await.status,
        303,
        "the real form signs in"
    );
    assert_eq!(app.state.store.session_counts(0).await.expect("count").0, 1);
}

#[tokio::test]
async fn the_audit_export_streams_every_row() {
    let app = app_with_account().await;
    let now = jiff::Timestamp::now();
    for i in 0..2500 {
        app.state
            .store
            .audit(
                &store::audit::Entry::new("system", store::audit::Action::Purge)
                    .detail(format!("row {i}")),
                now,
            )
            .await
            .expect("audit");
    }
    let mut c = Clinician::signed_in(&app).await;
    let total = audit_count(&app).await;
    let r = c.action("/admin/audit", "/admin/audit/export", &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/csv; charset=utf-8"));
    assert!(
        r.header("content-length").is_none(),
        "sent as it is read, not built whole first"
    );
    let text = r.text();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("id,at,actor,action,request_id,detail"),
        "one header line"
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(
        rows.len() as i64,
        total + 1,
        "every row, and the export's own"
    );
    for i in [0, 1234, 2499] {
        assert!(text.contains(&format!("row {i}\n")), "row {i}");
    }
}

/// A sign-in attempt as if from `client` (the test server trusts 127.0.0.1 as its proxy).
async fn sign_in_from(
    app: &TestApp,
    c: &mut Clinician<'_>,
    client: &str,
    email: &str,
    password: &str,
) -> Reply {
    let csrf = c.csrf("/admin/login").await;
    let origin = app.url("");
    c.post_with(
        "/admin/login",
        &common::form_body(&[("csrf", &csrf), ("email", email), ("password", password)]),
        &[("origin", &origin), ("x-forwarded-for", client)],
    )
    .await
}

const BEHIND_PROXY: &str = "[server]\ntrusted_proxies = [\"127.0.0.1\"]\n";

/// Strangers who know the clinician's email can pause its sign-in, but only for a minute at a
/// time (see src/auth/throttle.rs): an account without a second factor, as every account is
/// right after setup, is not kept out for long. Told through the store with explicit times.
#[tokio::test]
async fn strangers_wrong_passwords_pause_an_account_for_a_minute_only() {
    use auth::throttle;
    use store::SignInClaim;
    let app = app_with_account().await;
    let store = &app.state.store;
    // Whole milliseconds, as the database keeps times.
    let t0 =
        jiff::Timestamp::from_millisecond(jiff::Timestamp::now().as_millisecond()).expect("now");
    let at = |s: i64| t0 + jiff::SignedDuration::from_secs(s);
    let from = |ip: &str| {
        [
            throttle::account(EMAIL),
            throttle::address(web::client::ClientKey::of(ip.parse().expect("ip"))),
        ]
    };
    for i in 1..=throttle::ACCOUNT_LIMIT {
        let claim = store
            .claim_sign_in_attempt(&from(&format!("203.0.113.{i}")), at(0))
            .await
            .expect("claim");
        assert_eq!(
            claim,
            SignInClaim::Counted {
                attempts: vec![i, 1],
                began_pause: i == throttle::ACCOUNT_LIMIT,
            }
        );
    }
    // Paused: the owner's attempt is not counted, nor checked...
    let owner = "192.0.2.10";
    assert_eq!(
        store
            .claim_sign_in_attempt(&from(owner), at(30))
            .await
            .expect("claim"),
        SignInClaim::Paused(at(0) + throttle::ACCOUNT_PAUSE)
    );
    // ...for a minute; then it is, from a fresh run.
    assert_eq!(
        store
            .claim_sign_in_attempt(&from(owner), at(61))
            .await
            .expect("claim"),
        SignInClaim::Counted {
            attempts: vec![1, 1],
            began_pause: false,
        }
    );
    // A right answer gives its attempt back.
    for counter in from(owner) {
        store
            .give_back_sign_in_attempt(&counter)
            .await
            .expect("give back");
    }
    for i in 1..throttle::ACCOUNT_LIMIT {
        let claim = store
            .claim_sign_in_attempt(&from(owner), at(62))
            .await
            .expect("claim");
        assert_eq!(
            claim,
            SignInClaim::Counted {
                attempts: vec![i, i],
                began_pause: false,
            }
        );
    }
    // Housekeeping forgets runs that began before the window: the strangers' five addresses
    // first, then the email's and the owner's address.
    let forget = |t: i64| store.forget_old_sign_in_attempts(throttle::WINDOW, at(t));
    assert_eq!(forget(62).await.expect("forget"), 0);
    assert_eq!(forget(901).await.expect("forget"), 5);
    assert_eq!(forget(962).await.expect("forget"), 2);
}

#[tokio::test]
async fn an_ipv6_slash_64_is_limited_as_one_address() {
    let app = std::sync::Arc::new(app_with_account_config(Some(BEHIND_PROXY)).await);
    // More attempts than the limit allows in a minute, all at once from one /64 (other
    // addresses in it, other emails: the limit met is the address's, not an account's). Sent
    // together, so that however slowly a busy machine answers, the minute's allowance cannot
    // refill between them.
    let attempts = auth::throttle::ATTEMPTS_PER_MINUTE + 5;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 1..=attempts {
        let app = app.clone();
        tasks.spawn(async move {
            let mut c = Clinician::new(&app);
            sign_in_from(
                &app,
                &mut c,
                &format!("2001:db8:1:2:{i:x}::1"),
                &format!("nobody{i}@practice.example"),
                "a guess",
            )
            .await
            .status
        });
    }
    let statuses = tasks.join_all().await;
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 429),
        "each attempt is refused or limited: {statuses:?}"
    );
    assert!(
        statuses.contains(&429),
        "one /64 is one address: {statuses:?}"
    );
    let mut c = Clinician::new(&app);
    let r = sign_in_from(
        &app,
        &mut c,
        "2001:db8:1:3::1",
        "someone@practice.example",
        "a guess",
    )
    .await;
    assert_eq!(r.status, 401, "the next /64 is another address");
}

#[tokio::test]
async fn an_email_is_one_name_whatever_the_case_of_its_letters() {
    let app = TestApp::start().await;
    let hash = auth::password::hash(PASSWORD).expect("hash");
    let store = &app.state.store;
    // "İ" lower-cases to "i̇" (i and a combining dot) in Unicode; SQLite's lower() leaves it
    // and PostgreSQL's may give a plain "i".
    let id = add_account(store, "İlkay@Practice.example", &hash)
        .await
        .expect("new account");
    assert_eq!(
        add_account(store, "i\u{307}lkay@practice.example", &hash).await,
        None,
        "the same address, differently cased, is not a second account"
    );
    for typed in ["İLKAY@PRACTICE.EXAMPLE", "i\u{307}lkay@practice.example"] {
        assert_eq!(
            store.credentials(typed).await.expect("read").map(|c| c.id),
            Some(id),
            "{typed}"
        );
        assert_eq!(
            auth::throttle::account_subject(typed),
            auth::throttle::account_subject("İlkay@Practice.example")
        );
    }
    let mut c = Clinician::new(&app);
    let r = c
        .sign_in_as("i\u{307}lkay@practice.example", PASSWORD)
        .await;
    assert_eq!(r.status, 303, "signed in as typed in lower case");
}

/// A request's sealed name and email copied into another request's row, with SQL on the
/// database (as someone with the database but not the key could), do not open there: the
/// request's page and the inbox say it cannot be read, the exports fail with the plain error
/// page, none shows the other person's details, and the copied-from request still reads as
/// before.
#[tokio::test]
async fn a_sealed_value_copied_into_another_request_does_not_open_there() {
    use store::{OpenError, StoreError};
    let app = app_with_account().await;
    let [a, b] = requests_from(
        &app,
        [
            ("Ada Lovelace", "ada@lovelace.example"),
            ("Grace Hopper", "grace@hopper.example"),
        ],
    )
    .await;
    copy_sealed(&app, &["name_sealed", "email_sealed"], a, b).await;

    let leaks = |text: &str| {
        ["Ada", "Lovelace", "ada@lovelace"]
            .into_iter()
            .any(|s| text.contains(s))
    };
    match app.state.store.request(b).await {
        Err(StoreError::Sealed {
            source: OpenError::Forged,
            ..
        }) => {}
        other => panic!("the copy opened or failed otherwise: {other:?}"),
    }
    let own = app.stored_request(a).await;
    assert_eq!(own.name, "Ada Lovelace", "the original still opens");

    let mut c = Clinician::signed_in(&app).await;
    let page = c.get(&format!("/admin/requests/{b}")).await;
    page.assert_shows(200, "cannot be read");
    assert!(!leaks(&page.text()), "{}", page.text());
    let inbox = c.get("/admin").await;
    assert_eq!(inbox.status, 200);
    // Ada's own row is listed (with her name, so look only at the other row's cell).
    let row = inbox
        .text()
        .split("<tr")
        .find(|r| r.contains(&format!("href=\"/admin/requests/{b}\"")))
        .expect("the unreadable row")
        .to_string();
    assert!(row.contains("cannot be read"), "{row}");
    assert!(!leaks(&row), "{row}");
    for fields in [[("id", b.to_string())], [("scope", "all".to_string())]] {
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let export = c
            .action(&format!("/admin/requests/{a}"), "/admin/export", &fields)
            .await;
        assert_eq!(export.status, 500, "{fields:?}");
        assert!(!leaks(&export.text()), "{}", export.text());
    }
    let page = c.get(&format!("/admin/requests/{a}")).await;
    page.assert_shows(200, "Ada Lovelace");

    // The operator's export stops with an error that names no one.
    let (code, out, err) = app.cli(&["inquiries", "export", "--format", "jsonl"]);
    assert_ne!(code, 0, "{out}{err}");
    assert!(!leaks(&out) && !leaks(&err), "{out}{err}");
    assert!(err.contains("cannot be opened"), "{err}");
}

#[tokio::test]
async fn a_stored_value_this_version_cannot_read_is_an_error_not_a_default() {
    let app = app_with_a_request().await;
    let changed = app
        .execute("UPDATE consultation_requests SET status = 'archived' WHERE id = 1")
        .await;
    assert_eq!(changed, 1);
    let err = app
        .state
        .store
        .request(1)
        .await
        .expect_err("an unknown status is not read as another one")
        .to_string();
    assert!(err.contains("status") && err.contains("archived"), "{err}");
    let mut c = Clinician::signed_in(&app).await;
    let page = c.get("/admin/requests/1").await;
    assert_eq!(page.status, 200);
    let text = visible_text(&page.text());
    assert!(
        text.contains("cannot be read"),
        "an honest page, not a guessed status: {text}"
    );
    assert!(!text.contains("Ada"), "nothing of the request is shown");
    let list = c.get("/admin").await;
    assert_eq!(list.status, 200);
    let row = list
        .text()
        .split("<tr")
        .find(|r| r.contains("href=\"/admin/requests/1\""))
        .expect("the request's row")
        .to_string();
    assert!(row.contains("cannot be read"), "{row}");
    assert!(
        !row.contains("New") && !row.contains("is-new"),
        "the inbox does not show the request as New: {row}"
    );
}

/// Sends a request from each of `people` (name, email): their requests' ids, in that order.
async fn requests_from<const N: usize>(app: &TestApp, people: [(&str, &str); N]) -> [i64; N] {
    for (name, email) in people {
        assert_eq!(app.submit(name, &[("email", email)]).await.status, 303);
    }
    let all = app.state.store.all_requests().await.expect("read");
    people.map(|(name, _)| all.iter().find(|r| r.name == name).expect("stored").id)
}

/// Overwrites `columns` of request `to` with request `from`'s sealed values, with SQL on the
/// database (as someone with the database but not the key could).
async fn copy_sealed(app: &TestApp, columns: &[&str], from: i64, to: i64) {
    let set: Vec<String> = columns
        .iter()
        .map(|c| format!("{c} = (SELECT {c} FROM consultation_requests WHERE id = {from})"))
        .collect();
    let sql = format!(
        "UPDATE consultation_requests SET {} WHERE id = {to}",
        set.join(", ")
    );
    assert_eq!(app.database_write(&sql, &[]).await, 1);
}

/// The session id in a clinician's cookie.
fn session_id(c: &Clinician<'_>) -> tower_sessions::session::Id {
    let cookie = c.cookie.as_deref().expect("a session cookie");
    let (_, value) = cookie.split_once('=').expect("name=value");
    value.parse().expect("a session id")
}

#[tokio::test]
async fn a_session_saved_after_its_account_was_removed_does_not_open_the_next_account() {
    use tower_sessions::SessionStore as _;
    let app = app_with_a_request().await;
    let mut c = Clinician::signed_in(&app).await;
    assert_eq!(c.get("/admin/requests/1").await.status, 200);
    let store = &app.state.store;
    let now = jiff::Timestamp::now();
    // A slow request in flight has read the session...
    let sessions = store.sessions();
    let record = sessions
        .load(&session_id(&c))
        .await
        .expect("load")
        .expect("the session");
    // ...when `admin remove` runs...
    let entry = store::audit::Entry::new("test", store::audit::Action::AccountRemoved);
    assert!(
        store
            .remove_account(EMAIL, now, &entry)
            .await
            .expect("remove")
    );
    // ...and writes the session back as it ends.
    sessions.save(&record).await.expect("save");
    // `admin add` then makes someone else's account.
    let hash = auth::password::hash(PASSWORD).expect("hash");
    add_account(store, "next@practice.example", &hash)
        .await
        .expect("new account");
    let r = c.get("/admin/requests/1").await;
    assert_sent_to_sign_in(&r, "the removed account's cookie opens nothing");
}

#[tokio::test]
async fn saving_a_session_updates_it_but_never_brings_back_a_deleted_one() {
    use tower_sessions::SessionStore as _;
    use tower_sessions::session::{Id, Record};
    let app = TestApp::start().await;
    let sessions = app.state.store.sessions();
    let mut record = Record {
        id: Id::default(),
        data: Default::default(),
        expiry_date: tower_sessions::cookie::time::OffsetDateTime::now_utc()
            + tower_sessions::cookie::time::Duration::minutes(30),
    };
    sessions.create(&mut record).await.expect("create");
    record
        .data
        .insert("note".to_string(), serde_json::json!("changed"));
    sessions.save(&record).await.expect("save");
    let loaded = sessions
        .load(&record.id)
        .await
        .expect("load")
        .expect("kept");
    assert_eq!(loaded.data.get("note"), Some(&serde_json::json!("changed")));
    sessions.delete(&record.id).await.expect("delete");
    sessions
        .save(&record)
        .await
        .expect("a late save is not an error");
    assert!(
        sessions.load(&record.id).await.expect("load").is_none(),
        "a deleted session stays deleted"
    );
    assert_eq!(app.state.store.session_counts(0).await.expect("count").0, 0);
}

#[tokio::test]
async fn account_ids_are_never_given_again() {
    let app = TestApp::start().await;
    let store = &app.state.store;
    let now = jiff::Timestamp::now();
    let hash = auth::password::hash(PASSWORD).expect("hash");
    let removed = store::audit::Entry::new("test", store::audit::Action::AccountRemoved);
    let first = add_account(store, "first@practice.example", &hash)
        .await
        .expect("new account");
    assert!(
        store
            .remove_account("first@practice.example", now, &removed)
            .await
            .expect("remove")
    );
    let second = add_account(store, "second@practice.example", &hash)
        .await
        .expect("new account");
    assert!(second > first, "{second} follows {first}");
}

#[tokio::test]
async fn a_session_does_not_open_an_account_made_again_under_its_id() {
    let app = app_with_a_request().await;
    let id = account_id(&app).await;
    let mut c = Clinician::signed_in(&app).await;
    assert_eq!(c.get("/admin/requests/1").await.status, 200);
    // The account's row replaced by another under the same id, behind the program's back (a
    // restored backup, a hand-made row): the session's credentials are not the new row's.
    app.database_write(&format!("DELETE FROM admin_accounts WHERE id = {id}"), &[])
        .await;
    app.database_write(
        &format!(
            "INSERT INTO admin_accounts (id, email, password_hash, created_at, password_changed_at)
             VALUES ({id}, 'next@practice.example', 'not a hash', 0, 0)"
        ),
        &[],
    )
    .await;
    let r = c.get("/admin/requests/1").await;
    assert_eq!(r.status, 303, "the old session opens nothing");
}

/// The application's store on the old database at `data`, which it upgrades as it opens.
async fn upgraded(data: &std::path::Path, keys: store::Keyring) -> store::Store {
    store::Store::open(data, None, keys)
        .await
        .expect("the application opens and upgrades the database")
}

/// A SQLite database written before account ids were kept from reuse: its accounts, their
/// recovery codes and the references between them survive the rebuild, every account gets a
/// stamp of its own, and the id of an account removed before the upgrade (its session row still
/// naming it) is not given again.
#[tokio::test]
async fn upgrading_keeps_the_accounts_and_never_reuses_a_removed_accounts_id() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The migrations as they were before this change.
    let (data, pool, keys, _) = sqlite_database_at(dir.path(), 12).await;
    {
        let hash = auth::password::hash(PASSWORD).expect("hash");
        for (id, email) in [(1i64, EMAIL), (2, "second@practice.example")] {
            sqlx::query(
                "INSERT INTO admin_accounts (id, email, password_hash, created_at,
                 password_changed_at) VALUES ($1, $2, $3, 1, 1)",
            )
            .bind(id)
            .bind(email)
            .bind(&hash)
            .execute(&pool)
            .await
            .expect("account");
        }
        for code in ["a", "b"] {
            sqlx::query("INSERT INTO recovery_codes (account_id, code_hash) VALUES (2, $1)")
                .bind(code)
                .execute(&pool)
                .await
                .expect("recovery code");
        }
        // Account 5 was removed; a session written back late still names it.
        sqlx::query(
            "INSERT INTO admin_sessions (id, record_sealed, expires_at, account_id)
             VALUES ('old', x'00', 1, 5)",
        )
        .execute(&pool)
        .await
        .expect("session");
        pool.close().await;
    }
    let store = upgraded(&data, keys).await;
    let mut stamps = Vec::new();
    for (id, email) in [(1i64, EMAIL), (2, "second@practice.example")] {
        let account = store.credentials(email).await.expect("read").expect("kept");
        assert_eq!(account.id, id);
        assert_eq!(account.credentials_stamp.len(), 32);
        stamps.push(account.credentials_stamp);
    }
    assert_ne!(stamps[0], stamps[1], "a stamp of its own");
    assert_eq!(store.unused_recovery_codes(2).await.expect("codes"), 2);
    let hash = auth::password::hash(PASSWORD).expect("hash");
    let id = add_account(&store, "third@practice.example", &hash)
        .await
        .expect("new account");
    assert_eq!(id, 6, "the removed account's id 5 is not given again");
    // The recovery codes still follow their account.
    let removed = store::audit::Entry::new("test", store::audit::Action::AccountRemoved);
    assert!(
        store
            .remove_account("second@practice.example", jiff::Timestamp::now(), &removed)
            .await
            .expect("remove")
    );
    store.close().await;
    let pool = sqlx::SqlitePool::connect_with(
        sqlx::sqlite::SqliteConnectOptions::new()
            .filename(data.join(store::data_dir::DATABASE_FILE))
            .foreign_keys(true),
    )
    .await
    .expect("open");
    let codes: i64 = sqlx::query_scalar("SELECT count(*) FROM recovery_codes")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(codes, 0, "removing the account took its recovery codes");
}

/// A SQLite database whose every account was removed before the upgrade (the audit log says
/// one was added) and that still holds an unexpired setup address: the address stays dead.
#[tokio::test]
async fn upgrading_a_database_that_had_an_account_keeps_the_setup_address_dead() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (data, pool, keys, _) = sqlite_database_at(dir.path(), 12).await;
    let now = jiff::Timestamp::now();
    let token = "ab".repeat(32);
    let hash = {
        use sha2::Digest;
        crypto::hex::hex(&sha2::Sha256::digest(token.as_bytes()))
    };
    sqlx::query("INSERT INTO setup_tokens (id, token_hash, created_at) VALUES (1, $1, $2)")
        .bind(hash)
        .bind(now.as_millisecond())
        .execute(&pool)
        .await
        .expect("setup address");
    sqlx::query(
        "INSERT INTO audit_log (at, actor, action) VALUES (1, 'someone@practice.example', 'account_added')",
    )
    .execute(&pool)
    .await
    .expect("audit");
    pool.close().await;
    let store = upgraded(&data, keys).await;
    assert!(!store.has_accounts().await.expect("store"));
    assert!(store.accounts_began().await.expect("store"));
    assert!(!store.setup_token_valid(&token, now).await.expect("store"));
    assert_eq!(store.issue_setup_token(now).await.expect("store"), None);
}

#[tokio::test]
async fn while_an_account_is_paused_no_password_is_checked() {
    let app = app_with_account_config(Some(BEHIND_PROXY)).await;
    app.state
        .store
        .enable_two_factor(
            account_id(&app).await,
            &totp::new_secret(),
            0,
            &[],
            jiff::Timestamp::now(),
            &store::audit::Entry::new("test", store::audit::Action::TwoFactorEnrolled),
        )
        .await
        .expect("two-factor on");
    let mut stranger = Clinician::new(&app);
    for i in 1..=5 {
        let r = sign_in_from(
            &app,
            &mut stranger,
            &format!("203.0.113.{i}"),
            EMAIL,
            "a guess",
        )
        .await;
        assert_eq!(r.status, 401, "guess {i}");
    }
    // The right password is not even looked at: it gets the answer a wrong one gets, and no
    // step towards the code.
    let right = sign_in_from(&app, &mut stranger, "198.51.100.7", EMAIL, PASSWORD).await;
    let wrong = sign_in_from(&app, &mut stranger, "198.51.100.8", EMAIL, "another guess").await;
    assert_eq!(right.status, 429, "{:?}", right.header("location"));
    assert_eq!(wrong.status, 429);
    assert!(sign_in_error(&right).contains("sign-in is paused"));
    assert_eq!(sign_in_error(&right), sign_in_error(&wrong));
    assert_eq!(
        stranger.get("/admin/login/code").await.header("location"),
        Some("/admin/login"),
        "no code is asked for"
    );
}

#[tokio::test]
async fn wrong_passwords_at_once_stop_at_the_limit_and_the_pause_is_audited_once() {
    let app = app_with_account_config(Some(BEHIND_PROXY)).await;
    let mut c = Clinician::new(&app);
    let csrf = c.csrf("/admin/login").await;
    let origin = app.url("");
    let body = common::form_body(&[("csrf", &csrf), ("email", EMAIL), ("password", "a guess")]);
    let attempt = |i: u8| {
        let client = format!("203.0.113.{i}");
        let (body, origin) = (body.clone(), origin.clone());
        let app = &app;
        async move {
            app.request(
                "POST",
                "/admin/login",
                &[
                    ("content-type", "application/x-www-form-urlencoded"),
                    ("origin", &origin),
                    ("x-forwarded-for", &client),
                ],
                body,
            )
            .await
            .status
        }
    };
    // Ten guesses sent together, each from an address of its own.
    let (a, b, c3, d, e, f, g, h, i, j) = tokio::join!(
        attempt(1),
        attempt(2),
        attempt(3),
        attempt(4),
        attempt(5),
        attempt(6),
        attempt(7),
        attempt(8),
        attempt(9),
        attempt(10)
    );
    let statuses = [a, b, c3, d, e, f, g, h, i, j];
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let paused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(
        (checked, paused),
        (
            auth::throttle::ACCOUNT_LIMIT as usize,
            10 - auth::throttle::ACCOUNT_LIMIT as usize
        ),
        "{statuses:?}"
    );
    let (rows, _) = app.state.store.audit_log(100, 0).await.expect("audit");
    let pauses = rows
        .iter()
        .filter(|r| {
            r.action == "sign_in_failed"
                && r.detail
                    .as_deref()
                    .is_some_and(|d| d.contains("sign-in paused"))
        })
        .count();
    assert_eq!(pauses, 1, "the pause is written once");
}

/// The enrolment key the two-factor page offers.
fn offered_secret(page: &str) -> Vec<u8> {
    let start =
        page.find("<code class=\"secret\">").expect("secret") + "<code class=\"secret\">".len();
    base32_decode(&page[start..start + page[start..].find('<').expect("end")])
}

/// The recovery codes on the page shown right after enrolment.
fn recovery_codes(html: &str) -> Vec<String> {
    html.split("<li><code>")
        .skip(1)
        .map(|s| s[..s.find('<').expect("end")].to_string())
        .collect()
}

#[tokio::test]
async fn replacing_two_factor_asks_for_the_password_and_a_current_code() {
    let app = app_without_two_factor().await;
    let mut c = Clinician::signed_in(&app).await;
    let secret = offered_secret(&c.get("/admin/two-factor").await.text());
    let code = totp::current_code(&secret, jiff::Timestamp::now()).expect("code");
    // Turning it on asks for the password too.
    let r = c
        .action("/admin/two-factor", "/admin/two-factor", &[("code", &code)])
        .await;
    r.assert_shows(422, "href=\"#password\">Enter your password");
    let codes = recovery_codes(&turn_on(&mut c, &code).await.text());
    assert_eq!(codes.len(), 10);
    let enrolled = account(&app).await.totp_secret;
    let mut other = Clinician::signed_in_with_code(&app, &codes[1]).await;

    // Someone with the session alone, not the password nor the phone, cannot replace it.
    let page = c.get("/admin/two-factor").await.text();
    let theirs = offered_secret(&page);
    let their_code = totp::current_code(&theirs, jiff::Timestamp::now()).expect("code");
    let attempts: [(&[(&str, &str)], &str); 3] = [
        (&[("code", &their_code)], "password"),
        (
            &[
                ("password", "not the password"),
                ("current_code", &codes[0]),
                ("code", &their_code),
            ],
            "password",
        ),
        (
            &[
                ("password", PASSWORD),
                ("current_code", "000000"),
                ("code", &their_code),
            ],
            "current_code",
        ),
    ];
    for (fields, field) in attempts {
        let r = c
            .action("/admin/two-factor", "/admin/two-factor", fields)
            .await;
        assert!((400..500).contains(&r.status), "{fields:?}: {}", r.status);
        let html = r.text();
        assert!(html.contains("<title>Error: "), "{html}");
        assert!(html.contains("There is a problem"), "{html}");
        assert!(
            html.contains(&format!("href=\"#{field}\"")),
            "the summary links to {field}: {html}"
        );
        assert!(recovery_codes(&html).is_empty(), "no new recovery codes");
    }
    assert_eq!(
        account(&app).await.totp_secret,
        enrolled,
        "the second factor is unchanged"
    );
    assert_eq!(
        other.get("/admin").await.status,
        200,
        "the owner's other session carries on"
    );
    let failed = last_audit(&app).await;
    assert_eq!(failed.action, "sign_in_failed");
    assert_eq!(
        failed.detail.as_deref(),
        Some("wrong code on the two-factor page")
    );

    // With the password and a current code (here a recovery code), it is replaced.
    let r = c
        .action(
            "/admin/two-factor",
            "/admin/two-factor",
            &[
                ("password", PASSWORD),
                ("current_code", &codes[0]),
                ("code", &their_code),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(recovery_codes(&r.text()).len(), 10);
    assert_eq!(
        c.get("/admin").await.status,
        200,
        "the session that replaced it carries on"
    );
}

/// One request whose sealed value cannot be opened (damaged, or sealed for another row) does not
/// take the inbox down: the list answers with the others, shows that one as unreadable (by its
/// reference, with nothing of the person), and its own page says plainly that it cannot be read.
#[tokio::test]
async fn one_unreadable_request_leaves_the_rest_of_the_inbox_usable() {
    let app = app_with_account().await;
    let [ada, grace, _] = requests_from(
        &app,
        [
            ("Ada Lovelace", "ada@lovelace.example"),
            ("Grace Hopper", "grace@hopper.example"),
            ("Katherine Johnson", "katherine@johnson.example"),
        ],
    )
    .await;
    let reference = app.stored_request(grace).await.reference;
    // Grace's name is overwritten with Ada's sealed name, which opens only on Ada's row.
    copy_sealed(&app, &["name_sealed"], ada, grace).await;

    let mut c = Clinician::signed_in(&app).await;
    let inbox = c.get("/admin").await;
    assert_eq!(inbox.status, 200, "{}", inbox.text());
    let text = visible_text(&inbox.text());
    assert!(text.contains("3 requests"), "{text}");
    for shown in [
        "Ada Lovelace",
        "Katherine Johnson",
        "katherine@johnson.example",
    ] {
        assert!(text.contains(shown), "{shown}: {text}");
    }
    assert!(
        text.contains(&format!("Request {reference} cannot be read")),
        "{text}"
    );
    assert!(!text.contains("grace@hopper"), "{text}");
    assert!(
        inbox
            .text()
            .contains(&format!("href=\"/admin/requests/{grace}\"")),
        "the unreadable row links to its page"
    );

    let page = c.get(&format!("/admin/requests/{grace}")).await;
    assert_eq!(page.status, 200, "{}", page.text());
    let text = visible_text(&page.text());
    assert!(
        text.contains(&format!("Request {reference} cannot be read")),
        "{text}"
    );
    for leak in ["Ada", "Lovelace", "Grace", "grace@hopper"] {
        assert!(!text.contains(leak), "{leak}: {text}");
    }
    // The others' pages are as before.
    let page = c.get(&format!("/admin/requests/{ada}")).await;
    page.assert_shows(200, "Ada Lovelace");
}

/// Turns on two-factor sign-in from its page, with the key it offers: the page then shown.
async fn enrol(c: &mut Clinician<'_>) -> Reply {
    let secret = offered_secret(&c.get("/admin/two-factor").await.text());
    let code = totp::current_code(&secret, jiff::Timestamp::now()).expect("code");
    turn_on(c, &code).await
}

/// Turns on two-factor sign-in with `code` and the password: the page then shown.
async fn turn_on(c: &mut Clinician<'_>, code: &str) -> Reply {
    let r = c
        .action(
            "/admin/two-factor",
            "/admin/two-factor",
            &[("password", PASSWORD), ("code", code)],
        )
        .await;
    assert_eq!(r.status, 200);
    r
}

/// Two-factor sign-in is required: an account without it is sent to turn it on before any
/// other inbox page opens (the welcome page and signing out excepted), and once it is on the
/// inbox opens.
#[tokio::test]
async fn every_account_turns_on_two_factor_before_the_inbox_opens() {
    let app = app_without_two_factor().await;
    let _ = app.submit("Ada", &[]).await;
    let mut c = Clinician::new(&app);
    let r = c.sign_in(PASSWORD).await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/admin/two-factor"));
    for path in [
        "/admin",
        "/admin/requests/1",
        "/admin/details",
        "/admin/words",
        "/admin/audit",
    ] {
        let r = c.get(path).await;
        assert_eq!(r.status, 303, "{path}");
        assert_eq!(r.header("location"), Some("/admin/two-factor"), "{path}");
    }
    // A state-changing request is refused the same way, and changes nothing.
    let csrf = c.csrf("/admin/two-factor").await;
    let r = c
        .post(
            "/admin/requests/1/notes",
            &common::form_body(&[("csrf", &csrf), ("note", "before two-factor")]),
        )
        .await;
    assert_eq!(r.header("location"), Some("/admin/two-factor"));
    assert!(app.state.store.notes(1).await.expect("notes").is_empty());
    assert_eq!(c.get("/admin/welcome").await.status, 200);
    let page = c.get("/admin/two-factor").await.text();
    assert!(
        page.contains("Two-factor sign-in is required for every account"),
        "{page}"
    );

    let r = enrol(&mut c).await;
    // The practice's details were never saved: they come next.
    assert!(
        r.text()
            .contains("<a class=\"button\" href=\"/admin/details\">Next: enter the practice"),
        "{}",
        r.text()
    );
    assert_eq!(c.get("/admin/requests/1").await.status, 200);
    assert_eq!(c.get("/admin").await.status, 200);
}

/// The recovery codes can be kept: downloaded as a plain-text file or opened on a page of their
/// own to print (no script needed), by the session that made them only.
#[tokio::test]
async fn the_recovery_codes_can_be_downloaded_and_printed() {
    let app = app_without_two_factor().await;
    let mut c = Clinician::signed_in(&app).await;
    // Before an enrolment there are none to give: the account is sent to enrol.
    assert_eq!(
        c.get("/admin/two-factor/recovery-codes.txt")
            .await
            .header("location"),
        Some("/admin/two-factor")
    );
    let html = enrol(&mut c).await.text();
    let codes = recovery_codes(&html);
    assert_eq!(codes.len(), 10);
    assert!(html.contains("href=\"/admin/two-factor/recovery-codes.txt\" download"));
    assert!(html.contains("href=\"/admin/two-factor/recovery-codes\""));
    assert!(!html.contains("They are shown only now"));

    let file = c.get("/admin/two-factor/recovery-codes.txt").await;
    assert_eq!(file.status, 200);
    assert_eq!(
        file.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(
        file.header("content-disposition"),
        Some("attachment; filename=\"recovery-codes.txt\"")
    );
    assert_eq!(file.header("cache-control"), Some("no-store"));
    let text = file.text();
    let lines: Vec<&str> = text.lines().collect();
    for code in &codes {
        assert!(lines.contains(&code.as_str()), "{code} in {text}");
    }
    assert!(text.contains(EMAIL));

    let page = c.page("/admin/two-factor/recovery-codes").await;
    assert_eq!(recovery_codes(&page), codes);
    assert!(page.contains("class=\"narrow printable\""));
    assert!(page.contains("use your browser's Print command"));
    assert!(!page.contains("<script"));

    // Another session of the same account gets none of them.
    let mut other = Clinician::new(&app);
    let r = other.sign_in_password_only(PASSWORD).await;
    assert_eq!(r.header("location"), Some("/admin/login/code"));
    let r = other.send_code(&codes[0]).await;
    assert_eq!(r.header("location"), Some("/admin"));
    for path in [
        "/admin/two-factor/recovery-codes.txt",
        "/admin/two-factor/recovery-codes",
    ] {
        let r = other.get(path).await;
        assert_eq!(r.status, 404, "{path}");
        assert!(!r.text().contains(&codes[1]));
    }
}

/// `admin add` prints where the new account signs in at the site's public address (not the
/// listening address, `…:8080`), that two-factor sign-in comes first, and where the practice's
/// details go while they were never saved; without `server.base_url` it says what it printed.
#[tokio::test]
async fn admin_add_prints_the_public_address_and_the_steps_that_follow() {
    let app =
        TestApp::with_config("[server]\nbase_url = \"https://www.harborlight.example\"\n").await;
    let (code, out, err) = admin_cli_with(
        &app,
        &["admin", "add", "sam@harborlight.example"],
        &format!("{PASSWORD}\n"),
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("sign in at https://www.harborlight.example/admin/login\n"),
        "{out}"
    );
    assert!(
        out.contains(
            "turn on two-factor sign-in at https://www.harborlight.example/admin/two-factor"
        ),
        "{out}"
    );
    assert!(
        out.contains(
            "enter the practice's details at https://www.harborlight.example/admin/details"
        ),
        "{out}"
    );
    assert!(!out.contains(":8080") && !out.contains("Note:"), "{out}");

    // Once the details are saved, they are not asked for again; with no public address set,
    // the listening address is printed and said to be only that.
    let app = TestApp::builder().build().await;
    app.add_clinician().await;
    let mut c = Clinician::signed_in(&app).await;
    crate::common::details::save_details(&mut c).await;
    let (code, out, err) = admin_cli_with(
        &app,
        &["admin", "add", "second@harborlight.example"],
        &format!("{PASSWORD}\n"),
        &[("KAP_BASE_URL", "")],
    );
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("/admin/details"), "{out}");
    assert!(
        out.contains(
            "Note: server.base_url is not set, so this is the address the server listens on"
        ),
        "{out}"
    );
}

/// The link in a reset email, from its raw text (soft line breaks of quoted-printable undone).
fn reset_link(raw: &str) -> String {
    let parsed = mail_parser::MessageParser::new()
        .parse(raw.as_bytes())
        .expect("a message");
    let body = parsed.body_text(0).expect("text").to_string();
    let at = body.find("/admin/login/reset/").expect("a link");
    body[at..]
        .split_whitespace()
        .next()
        .expect("link")
        .to_string()
}

/// An app with one clinician whose mail goes to a real SMTP server: `before` comes before
/// the `[mail]` table, `mail` inside it.
async fn with_mail(
    before: &str,
    mail: &str,
) -> (tempfile::TempDir, crate::common::SmtpServer, TestApp) {
    let dir = tempfile::tempdir().expect("tempdir");
    let smtp = crate::common::SmtpServer::start(dir.path());
    let app = TestApp::with_config(&format!(
        "{before}[mail]\nsmtp_url = \"smtp://127.0.0.1:{}\"\n{mail}",
        smtp.port
    ))
    .await;
    app.add_clinician().await;
    (dir, smtp, app)
}

/// "Forgot your password?" sent for the clinician's email.
async fn ask_for_a_link(c: &mut Clinician<'_>) -> Reply {
    c.action(
        "/admin/login/forgot",
        "/admin/login/forgot",
        &[("email", EMAIL)],
    )
    .await
}

/// "Forgot your password?": the same answer whether or not an account uses the address; an
/// emailed link (the token and nothing personal) that works once, for a short while; a new
/// password under the usual rules that ends the account's sessions; and the second factor is
/// still asked for at the next sign-in. Each step is audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forgotten_password_is_reset_from_an_emailed_link_and_the_code_is_still_asked() {
    let (_dir, smtp, app) = with_mail(
        "[practice]\nemail = \"hello@practice.example\"\n\n",
        "notify_email = \"inbox@practice.example\"\n",
    )
    .await;
    let mut signed_in = Clinician::signed_in(&app).await;
    assert_eq!(signed_in.get("/admin").await.status, 200);

    let mut c = Clinician::new(&app);
    let login = c.get("/admin/login").await.text();
    assert!(login.contains("<a href=\"/admin/login/forgot\">Forgot your password?</a>"));
    let mut answers = Vec::new();
    for email in ["nobody@practice.example", EMAIL] {
        let r = c
            .action(
                "/admin/login/forgot",
                "/admin/login/forgot",
                &[("email", email)],
            )
            .await;
        assert_eq!(r.status, 200);
        answers.push(r.text());
    }
    let strip = |html: &str| {
        html.split("name=\"csrf\" value=\"")
            .map(|part| part.get(64..).unwrap_or(part).to_string())
            .collect::<String>()
    };
    assert_eq!(
        strip(&answers[0]),
        strip(&answers[1]),
        "the same answer either way"
    );
    assert!(answers[1].contains("If an account uses that address"));
    let messages = smtp.wait_for(1);
    assert_eq!(messages.len(), 1, "one email: to the account only");
    let raw = &messages[0];
    assert!(raw.contains(&format!("To: {EMAIL}")), "{raw}");
    assert!(raw.contains("Subject: Choose a new password"), "{raw}");
    let link = reset_link(raw);
    let token = link.trim_start_matches("/admin/login/reset/");
    assert!(
        token.chars().all(|ch| ch.is_ascii_hexdigit()),
        "the address holds the token alone: {link}"
    );
    assert!(!raw.contains(PASSWORD) && !raw.contains("clinician@practice.example/"));

    // The new password follows the usual rules.
    let weak = c
        .action(
            &link,
            &link,
            &[
                ("password", "password1234"),
                ("password_again", "password1234"),
            ],
        )
        .await;
    assert_eq!(weak.status, 422, "{}", weak.text());
    let new_password = "harbour quietly lantern meadow";
    let r = c
        .action(
            &link,
            &link,
            &[("password", new_password), ("password_again", new_password)],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(r.header("location"), Some("/admin/login?reset=1"));
    // Not signed in by it, and every other session ended.
    assert_eq!(
        c.get("/admin").await.header("location"),
        Some("/admin/login")
    );
    assert!(
        signed_in
            .get("/admin")
            .await
            .header("location")
            .is_some_and(|l| l.starts_with("/admin/login"))
    );
    // The link works once.
    let again = c.get(&link).await;
    again.assert_shows(404, "That link does not work");
    // The old password no longer signs in; the new one asks for the code.
    let r = c.sign_in_password_only(PASSWORD).await;
    assert_eq!(r.status, 401);
    let r = c.sign_in_password_only(new_password).await;
    assert_eq!(r.header("location"), Some("/admin/login/code"));
    let code = app.authenticator_code().await;
    let r = c.send_code(&code).await;
    assert_eq!(r.header("location"), Some("/admin"));

    let (rows, _) = app.state.store.audit_log(50, 0).await.expect("audit");
    assert!(rows.iter().any(|r| r.action == "password_reset_requested"
        && r.actor == "unknown"
        && r.detail.as_deref() == Some("no account uses that address; nothing sent")));
    assert!(rows.iter().any(|r| r.action == "password_reset_requested"
        && r.actor == EMAIL
        && r.detail.as_deref() == Some("link sent")));
    assert!(rows.iter().any(|r| r.action == "password_changed"
        && r.detail.as_deref() == Some("reset from an emailed link")));
    // The link's token is not in the access log's form of the address.
    assert_eq!(
        web::middleware::loggable_path(&link),
        "/admin/login/reset/…"
    );
}

/// Two posts of the same reset link at the same moment: the password is changed once, the
/// other post is told the link no longer works, and the store refuses a change for a stamp
/// that is no longer the account's (on either engine).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_link_posted_twice_at_once_changes_the_password_once() {
    let (_dir, smtp, app) = with_mail("", "").await;
    let mut c = Clinician::new(&app);
    assert_eq!(ask_for_a_link(&mut c).await.status, 200);
    let link = reset_link(&smtp.wait_for(1)[0]);
    let (first_password, second_password) = (
        "harbour quietly lantern meadow",
        "orchard gently compass river",
    );
    let mut first = Clinician::new(&app);
    let mut second = Clinician::new(&app);
    let csrf = (first.csrf(&link).await, second.csrf(&link).await);
    let body = |csrf: &str, pw: &str| {
        crate::common::form_body(&[("csrf", csrf), ("password", pw), ("password_again", pw)])
    };
    let (a, b) = (
        body(&csrf.0, first_password),
        body(&csrf.1, second_password),
    );
    let (a, b) = tokio::join!(first.post(&link, &a), second.post(&link, &b));
    let statuses = [a.status, b.status];
    assert!(
        statuses.contains(&303) && statuses.contains(&404),
        "one change and one dead link: {statuses:?}"
    );
    let (winner, loser) = if a.status == 303 {
        (first_password, second_password)
    } else {
        (second_password, first_password)
    };
    let dead = if a.status == 404 { &a } else { &b };
    assert!(dead.text().contains("That link does not work"));
    let mut c = Clinician::new(&app);
    assert_eq!(c.sign_in_password_only(loser).await.status, 401);
    let r = c.sign_in_password_only(winner).await;
    assert_eq!(r.header("location"), Some("/admin/login/code"));
    assert_eq!(app.audit_lines("password_changed").await, 1);

    // The condition itself: a stamp that is no longer the account's changes nothing.
    let account = account(&app).await;
    let audit = store::audit::Entry::new(EMAIL, store::audit::Action::PasswordChanged);
    let hash = auth::password::hash(loser).expect("hash");
    let now = jiff::Timestamp::now();
    let store = &app.state.store;
    assert!(
        !store
            .reset_password(account.id, "an older stamp", &hash, now, &audit)
            .await
            .expect("store")
    );
    assert!(
        store
            .reset_password(account.id, &account.credentials_stamp, &hash, now, &audit)
            .await
            .expect("store")
    );
}

/// A reset link is asked for at most a few times per email in a quarter of an hour: past it,
/// the answer is the same and nothing more is sent.
#[tokio::test]
async fn reset_links_are_limited_per_email_with_the_same_answer() {
    let app = TestApp::with_config("[mail]\nsmtp_url = \"smtp://127.0.0.1:9\"\n").await;
    app.add_clinician().await;
    let mut c = Clinician::new(&app);
    for _ in 0..5 {
        let r = ask_for_a_link(&mut c).await;
        r.assert_shows(200, "If an account uses that address");
    }
    let sent = app.audit_lines("password_reset_requested").await;
    assert_eq!(sent, 3, "three links, then none for a while");
}
