//! The first run: the one-time setup address that creates the first account, and the "being
//! set up" page a server open to others shows instead of the example practice.

use crate::common::clinician::{Clinician, EMAIL, PASSWORD};
use crate::common::{OWN_PRACTICE, Process, TestApp, form_body};
use settings::config::Overrides;

/// What only the example practice shows: its names, its email, its phone number.
const EXAMPLE_IDENTITY: &[&str] = &[
    "Clearwater",
    "Jordan Ellis",
    "hello@example.com",
    "010-0100",
    "Oakland",
];

/// The setup address's token in a log.
fn setup_token(log: &str) -> Option<String> {
    let at = log.rfind("/admin/setup/")? + "/admin/setup/".len();
    let token: String = log[at..].chars().take(64).collect();
    (token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit())).then_some(token)
}

/// The body of a raw HTTP response.
fn body_of(raw: &str) -> &str {
    raw.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

#[test]
fn serve_logs_a_setup_address_while_no_account_exists_and_a_new_one_each_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let data = data.to_str().expect("utf-8");
    let first = Process::serve(&["--data-dir", data], &[]);
    let old = setup_token(&first.stderr()).expect("a setup address in the log");
    let page = first.get(&format!("/admin/setup/{old}"));
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("Set up your practice"), "{page}");
    drop(first);

    let second = Process::serve(&["--data-dir", data], &[]);
    let new = setup_token(&second.stderr()).expect("a new setup address");
    assert_ne!(old, new, "each start draws a new address");
    let stale = second.get(&format!("/admin/setup/{old}"));
    assert!(stale.starts_with("HTTP/1.1 404"), "{stale}");
    assert!(
        stale.contains("This setup address does not work"),
        "{stale}"
    );
    assert!(
        second
            .get(&format!("/admin/setup/{new}"))
            .starts_with("HTTP/1.1 200")
    );
    // Logged once per start; the access log leaves the token out.
    assert_eq!(
        second.stderr().matches(new.as_str()).count(),
        1,
        "{}",
        second.stderr()
    );
}

#[test]
fn a_server_others_can_reach_never_shows_the_example_practice() {
    // 127.0.0.2 is not the loopback address people type, and the public address is a real
    // name: this server stands for one on the network.
    let p = Process::serve_on(
        [127, 0, 0, 2],
        &[],
        &[("KAP_BASE_URL", "https://practice.test")],
    );
    for path in [
        "/",
        "/contact",
        "/privacy",
        "/sitemap.xml",
        "/robots.txt",
        "/no-such-page",
        "/book/00",
    ] {
        let raw = p.get(path);
        assert!(raw.starts_with("HTTP/1.1 503"), "{path}: {raw}");
        assert!(raw.contains("This site is being set up"), "{path}");
        assert!(
            raw.contains("<meta name=\"robots\" content=\"noindex"),
            "{path}"
        );
        assert!(
            raw.to_ascii_lowercase().contains("x-robots-tag: noindex"),
            "{path}"
        );
        for shown in EXAMPLE_IDENTITY {
            assert!(!body_of(&raw).contains(shown), "{path} shows {shown}");
        }
    }
    for path in [
        "/admin/login",
        "/admin/requests/1/delete",
        "/admin/setup/00",
    ] {
        let raw = p.get(path);
        assert!(!raw.starts_with("HTTP/1.1 5"), "{path}: {raw}");
        for shown in EXAMPLE_IDENTITY {
            assert!(!body_of(&raw).contains(shown), "{path} shows {shown}");
        }
    }
    let health = p.get("/healthz");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    // The stylesheet the page links to is served.
    let page = p.get("/");
    let css = page
        .split("href=\"")
        .find_map(|s| s.strip_prefix("/static/css/"))
        .and_then(|s| s.split('"').next())
        .expect("stylesheet link");
    assert!(
        p.get(&format!("/static/css/{css}"))
            .starts_with("HTTP/1.1 200")
    );
}

/// Nothing a server being set up answers names anyone, its error pages included: a missing
/// asset or inbox page (404), a method an address does not take (405), a body past the limit
/// (413); over plain HTTP, over HTTPS, and on the plain port that redirects to HTTPS.
#[tokio::test]
async fn the_error_pages_of_a_site_being_set_up_name_no_one() {
    let http = TestApp::builder()
        .overrides(Overrides {
            base_url: Some("https://practice.test".into()),
            ..Overrides::default()
        })
        .build()
        .await;
    let https = TestApp::builder().https("practice.test").build().await;
    let large = vec![b'a'; 70 * 1024];
    let form = [("content-type", "application/x-www-form-urlencoded")];
    for (how, app) in [("http", &http), ("https", &https)] {
        assert!(app.state.setup.closed(), "{how}: being set up");
        for (method, path, body, status) in [
            ("GET", "/static/x", &b""[..], 404),
            ("GET", "/static/css/none.css", b"", 404),
            ("GET", "/admin/nope", b"", 404),
            ("POST", "/healthz", b"", 405),
            ("POST", "/", &large, 413),
            ("POST", "/contact", &large, 413),
            ("POST", "/admin/login", &large, 413),
        ] {
            let what = format!("{how}: {method} {path}");
            let reply = app
                .request(method, path, &form, bytes::Bytes::copy_from_slice(body))
                .await;
            assert_eq!(reply.status, status, "{what}: {}", reply.text());
            let html = reply.text();
            assert!(html.contains("<html"), "{what}: a page a person can read");
            for shown in EXAMPLE_IDENTITY {
                assert!(!html.contains(shown), "{what} shows {shown}");
            }
        }
    }
    let plain = https.https.as_ref().expect("served over https").plain;
    for (request, body, status) in [
        ("POST /healthz", &b""[..], "405"),
        ("DELETE /healthz", b"", "405"),
        ("POST /contact", &large, "413"),
    ] {
        let raw = crate::common::tls::plain_request(plain, "practice.test", request, body).await;
        assert!(
            raw.starts_with(&format!("HTTP/1.1 {status}")),
            "plain port: {request}: {raw}"
        );
        for shown in EXAMPLE_IDENTITY {
            assert!(
                !body_of(&raw).contains(shown),
                "plain port: {request} shows {shown}"
            );
        }
    }
}

/// Behind a reverse proxy the server listens on loopback and its public address may be left
/// unset, yet the proxy brings the world to it: with trusted proxies, the example practice is
/// hidden as on any public server, until the practice's own details are given.
#[tokio::test]
async fn a_server_behind_a_proxy_never_shows_the_example_practice() {
    const BEHIND_PROXY: &str = "[server]\ntrusted_proxies = [\"127.0.0.1\"]\n";
    let app = TestApp::with_config(BEHIND_PROXY).await;
    assert!(app.addr.ip().is_loopback());
    for path in ["/", "/contact", "/privacy"] {
        let page = app.get(path).await;
        assert_eq!(page.status, 503, "{path}");
        let html = page.text();
        assert!(html.contains("This site is being set up"), "{path}");
        for shown in EXAMPLE_IDENTITY {
            assert!(!html.contains(shown), "{path} shows {shown}");
        }
    }
    let own = TestApp::with_config(&format!("{BEHIND_PROXY}\n{OWN_PRACTICE}")).await;
    let home = own.get("/").await;
    home.assert_shows(200, "Harbor Light Therapy");
}

#[tokio::test]
async fn on_loopback_the_example_site_is_still_shown() {
    let app = TestApp::start().await;
    let home = app.get("/").await;
    home.assert_shows(200, "Clearwater Psychotherapy");
}

/// A server with a fresh setup address.
async fn with_setup_address() -> (TestApp, String) {
    let app = TestApp::start().await;
    let token = app.setup_token().await;
    (app, token)
}

/// The setup address at `path` is refused, plainly said, and makes no account when sent.
async fn assert_setup_address_dead(app: &TestApp, path: &str) {
    let again = app.get(path).await;
    again.assert_shows(404, "This setup address does not work");
    let mut other = Clinician::new(app);
    let csrf = other.csrf("/admin/login").await;
    let reuse = other
        .post(
            path,
            &form_body(&[
                ("csrf", &csrf),
                ("email", "someone@else.example"),
                ("password", PASSWORD),
                ("password_again", PASSWORD),
            ]),
        )
        .await;
    assert_eq!(reuse.status, 404);
}

#[tokio::test]
async fn the_setup_address_creates_the_first_account_once() {
    let (app, token) = with_setup_address().await;
    let path = format!("/admin/setup/{token}");
    let mut c = Clinician::new(&app);

    // The account's rules are those of `admin add`, each named by its field.
    let html = c
        .action(
            &path,
            &path,
            &[
                ("email", EMAIL),
                ("password", "short"),
                ("password_again", "short"),
            ],
        )
        .await
        .page_with(422);
    assert!(html.contains("<title>Error: Set up"), "{html}");
    assert!(html.contains("href=\"#password\">The password must be at least 12 characters"));
    assert!(
        html.contains(&format!("value=\"{EMAIL}\"")),
        "the email is kept"
    );
    let html = c
        .action(
            &path,
            &path,
            &[
                ("email", "not an address"),
                ("password", PASSWORD),
                ("password_again", "lantern orchard velvet"),
            ],
        )
        .await
        .page_with(422);
    assert!(html.contains("href=\"#email\">Enter an email address in the right form"));
    assert!(html.contains("href=\"#password_again\">The two passwords are not the same"));
    assert!(!app.state.store.has_accounts().await.expect("store"));

    let made = c
        .action(
            &path,
            &path,
            &[
                ("email", EMAIL),
                ("password", PASSWORD),
                ("password_again", PASSWORD),
            ],
        )
        .await;
    assert_eq!(made.status, 303, "{}", made.text());
    assert_eq!(made.header("location"), Some("/admin/welcome"));
    // Signed in at once, and offered two-factor sign-in, then the practice's details.
    let html = c.page("/admin/welcome").await;
    assert!(html.contains("Your account is ready"));
    assert!(html.contains("href=\"/admin/two-factor\""));
    assert_eq!(c.get("/admin/two-factor").await.status, 200);

    // The address is spent.
    assert_setup_address_dead(&app, &path).await;
    let accounts = app.state.store.list_accounts().await.expect("store");
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0].email, EMAIL);
    // The account signs in like any other, and the audit log says how it was made.
    let mut again = Clinician::new(&app);
    assert_eq!(again.sign_in(PASSWORD).await.status, 303);
    let (rows, _) = app.state.store.audit_log(10, 0).await.expect("audit");
    assert!(
        rows.iter()
            .any(|r| r.action == "account_added" && r.actor == EMAIL)
    );
    // With an account, no setup address is drawn at the next start.
    assert_eq!(
        app.state
            .store
            .issue_setup_token(jiff::Timestamp::now())
            .await
            .expect("store"),
        None
    );
}

#[tokio::test]
async fn a_setup_address_lasts_a_day_and_only_the_newest_works() {
    let app = TestApp::start().await;
    let store = &app.state.store;
    let now = jiff::Timestamp::now();
    let day_old = store
        .issue_setup_token(now - jiff::SignedDuration::from_hours(25))
        .await
        .expect("store")
        .expect("token");
    assert!(!store.setup_token_valid(&day_old, now).await.expect("store"));
    assert_eq!(
        app.get(&format!("/admin/setup/{day_old}")).await.status,
        404
    );
    let older = store
        .issue_setup_token(now)
        .await
        .expect("store")
        .expect("token");
    let newer = store
        .issue_setup_token(now)
        .await
        .expect("store")
        .expect("token");
    assert!(!store.setup_token_valid(&older, now).await.expect("store"));
    assert!(store.setup_token_valid(&newer, now).await.expect("store"));
    assert_eq!(app.get("/admin/setup/not-a-token").await.status, 404);
}

#[tokio::test]
async fn two_uses_of_the_address_at_once_make_one_account() {
    let (app, token) = with_setup_address().await;
    let path = format!("/admin/setup/{token}");
    let mut a = Clinician::new(&app);
    let mut b = Clinician::new(&app);
    let (ca, cb) = (a.csrf(&path).await, b.csrf(&path).await);
    let body = |csrf: &str, email: &str| {
        form_body(&[
            ("csrf", csrf),
            ("email", email),
            ("password", PASSWORD),
            ("password_again", PASSWORD),
        ])
    };
    let (first, second) = (
        body(&ca, "first@practice.example"),
        body(&cb, "second@practice.example"),
    );
    let (ra, rb) = tokio::join!(a.post(&path, &first), b.post(&path, &second));
    let mut statuses = [ra.status, rb.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [303, 404]);
    assert_eq!(
        app.state.store.list_accounts().await.expect("store").len(),
        1
    );
}

#[tokio::test]
async fn the_setup_address_stays_dead_once_an_account_has_existed() {
    let (app, token) = with_setup_address().await;
    let path = format!("/admin/setup/{token}");
    assert_eq!(app.get(&path).await.status, 200);
    // `admin add` on the server makes an account; the address no longer works...
    app.add_clinician().await;
    assert_eq!(app.get(&path).await.status, 404);
    // ...nor once that account is removed, within the address's 24 hours.
    let removed = store::audit::Entry::new("test", store::audit::Action::AccountRemoved);
    let store = &app.state.store;
    assert!(
        store
            .remove_account(EMAIL, jiff::Timestamp::now(), &removed)
            .await
            .expect("remove")
    );
    assert_setup_address_dead(&app, &path).await;
    assert!(store.list_accounts().await.expect("store").is_empty());
    // A restart draws no new address either: accounts are made with `admin add` from now on.
    assert_eq!(
        store
            .issue_setup_token(jiff::Timestamp::now())
            .await
            .expect("store"),
        None
    );
}
