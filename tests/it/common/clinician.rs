//! The clinician in tests: an account on the server, and a browser-like client for the inbox
//! that keeps the session cookie and sends the site's Origin.

use super::{Reply, TestApp, form_body};
use auth::password;
use store::audit::{Action, Entry};

pub const EMAIL: &str = "clinician@practice.example";
pub const PASSWORD: &str = "lantern orchard velvet tide";

/// The clinician's authenticator app: the two-factor secret [`TestApp::add_clinician`] enrols.
pub const TOTP_SECRET: &[u8; 20] = b"kap-practice-testkey";

impl TestApp {
    /// Adds the clinician's account ([`EMAIL`], [`PASSWORD`]) with two-factor sign-in on
    /// ([`TOTP_SECRET`]), as every account must have it before the inbox opens.
    pub async fn add_clinician(&self) {
        let id = self.add_clinician_without_two_factor().await;
        let hashes: Vec<String> = auth::totp::new_recovery_codes()
            .iter()
            .map(|c| auth::totp::recovery_code_hash(c))
            .collect();
        self.state
            .store
            .enable_two_factor(
                id,
                TOTP_SECRET,
                0,
                &hashes,
                jiff::Timestamp::now(),
                &Entry::new(EMAIL, Action::TwoFactorEnrolled),
            )
            .await
            .expect("two-factor sign-in on");
    }

    /// Adds the clinician's account without two-factor sign-in, as the first run or `admin
    /// add` leaves it: it is sent to turn it on at its first sign-in. Returns its id.
    pub async fn add_clinician_without_two_factor(&self) -> i64 {
        let hash = password::hash(PASSWORD).expect("hash");
        self.state
            .store
            .add_account(
                EMAIL,
                &hash,
                jiff::Timestamp::now(),
                &Entry::new("test", Action::AccountAdded),
            )
            .await
            .expect("store")
            .expect("new account")
    }

    /// The code the clinician's authenticator app shows now. A code works once, and a test
    /// may sign in many times within one 30-second step: the account's record of the last
    /// step used is cleared first (the single use itself is tested in `admin.rs`, on accounts
    /// of its own).
    pub async fn authenticator_code(&self) -> String {
        self.state
            .store
            .execute_unchecked("UPDATE admin_accounts SET totp_last_step = NULL")
            .await
            .expect("the last step forgotten");
        auth::totp::current_code(TOTP_SECRET, jiff::Timestamp::now()).expect("code")
    }
}

pub struct Clinician<'a> {
    app: &'a TestApp,
    pub cookie: Option<String>,
    /// The Origin its posts carry: the server's own address unless set (to the public address
    /// several servers stand behind, say).
    pub origin: String,
}

impl<'a> Clinician<'a> {
    /// Not signed in yet.
    pub fn new(app: &'a TestApp) -> Self {
        Clinician {
            app,
            cookie: None,
            origin: app.url(""),
        }
    }

    /// The same browser (its cookie, its origin) talking to `app`, another server of the same
    /// practice.
    pub fn on<'b>(&self, app: &'b TestApp) -> Clinician<'b> {
        Clinician {
            app,
            cookie: self.cookie.clone(),
            origin: self.origin.clone(),
        }
    }

    /// Signed in with the right password.
    pub async fn signed_in(app: &'a TestApp) -> Clinician<'a> {
        let mut c = Clinician::new(app);
        let r = c.sign_in(PASSWORD).await;
        assert_eq!(r.status, 303, "signed in");
        c
    }

    /// Signed in with the right password, posting from `origin` (the site's public address).
    pub async fn signed_in_from(app: &'a TestApp, origin: &str) -> Clinician<'a> {
        let mut c = Clinician::new(app);
        c.origin = origin.into();
        let r = c.sign_in(PASSWORD).await;
        assert_eq!(r.status, 303, "signed in: {}", r.text());
        c
    }

    /// Signed in with the right password and `code`: one from the authenticator app, or a
    /// recovery code.
    pub async fn signed_in_with_code(app: &'a TestApp, code: &str) -> Clinician<'a> {
        let mut c = Clinician::new(app);
        let r = c.sign_in_password_only(PASSWORD).await;
        assert_eq!(
            r.header("location"),
            Some("/admin/login/code"),
            "a code is asked for"
        );
        let r = c.send_code(code).await;
        assert_eq!(
            r.header("location"),
            Some("/admin"),
            "signed in with a code"
        );
        c
    }

    fn remember(&mut self, r: &Reply) {
        if let Some(c) = r.header("set-cookie") {
            self.cookie = Some(c.split(';').next().unwrap_or("").to_string());
        }
    }

    pub async fn get(&mut self, path: &str) -> Reply {
        let cookie = self.cookie.clone().unwrap_or_default();
        let r = self
            .app
            .request("GET", path, &[("cookie", &cookie)], "")
            .await;
        self.remember(&r);
        r
    }

    /// The page at `path`, which must be there (200).
    pub async fn page(&mut self, path: &str) -> String {
        self.get(path).await.page_with(200)
    }

    pub async fn post(&mut self, path: &str, body: &str) -> Reply {
        let origin = self.origin.clone();
        self.post_with(path, body, &[("origin", &origin)]).await
    }

    pub async fn post_with(&mut self, path: &str, body: &str, extra: &[(&str, &str)]) -> Reply {
        let cookie = self.cookie.clone().unwrap_or_default();
        let mut headers = vec![
            ("cookie", cookie.as_str()),
            ("content-type", "application/x-www-form-urlencoded"),
        ];
        headers.extend_from_slice(extra);
        let r = self
            .app
            .request("POST", path, &headers, body.to_string())
            .await;
        self.remember(&r);
        r
    }

    /// The CSRF token on a page.
    pub async fn csrf(&mut self, path: &str) -> String {
        let html = self.get(path).await.text();
        let start = html.find("name=\"csrf\" value=\"").expect("csrf field") + 19;
        html[start..start + 64].to_string()
    }

    /// Signs in with `password` and, when a code is asked for, the authenticator app's code:
    /// the answer to the last step.
    pub async fn sign_in(&mut self, password: &str) -> Reply {
        let r = self.sign_in_password_only(password).await;
        if r.header("location") != Some("/admin/login/code") {
            return r;
        }
        let code = self.app.authenticator_code().await;
        self.send_code(&code).await
    }

    /// Sends the sign-in's second step with `code` (from the authenticator app, or a recovery
    /// code).
    pub async fn send_code(&mut self, code: &str) -> Reply {
        self.action("/admin/login/code", "/admin/login/code", &[("code", code)])
            .await
    }

    /// Sends the sign-in form with `password`, and no code.
    pub async fn sign_in_password_only(&mut self, password: &str) -> Reply {
        self.sign_in_as(EMAIL, password).await
    }

    /// Sends the sign-in form's first step with `email` and `password` as typed.
    pub async fn sign_in_as(&mut self, email: &str, password: &str) -> Reply {
        let fields = [("email", email), ("password", password)];
        self.action("/admin/login", "/admin/login", &fields).await
    }

    /// Publishes `body` as the words edited on `page`, from the revision `base` (the page's
    /// first is "0").
    pub async fn publish_words(&mut self, page: &str, body: &str, base: &str) -> Reply {
        self.words(page, body, base, "publish").await
    }

    /// Previews `body` as the words edited on `page`, from the revision `base`.
    pub async fn preview_words(&mut self, page: &str, body: &str, base: &str) -> Reply {
        self.words(page, body, base, "preview").await
    }

    async fn words(&mut self, page: &str, body: &str, base: &str, action: &str) -> Reply {
        let fields = [("body", body), ("base", base), ("action", action)];
        self.action(page, page, &fields).await
    }

    /// Adds a page of the practice's own at `path` with the form of `/admin/pages`.
    pub async fn add_page(&mut self, title: &str, path: &str, body: &str) -> Reply {
        self.action(
            "/admin/pages",
            "/admin/pages",
            &[("title", title), ("path", path), ("body", body)],
        )
        .await
    }

    /// Sends the status form on the page of request `id` with `fields` (status, reason, ...).
    pub async fn change_status(&mut self, id: i64, fields: &[(&str, &str)]) -> Reply {
        let page = format!("/admin/requests/{id}");
        self.action(&page, &format!("{page}/status"), fields).await
    }

    /// Sends the booking decision `fields` from the request's page `page` (as
    /// `/admin/requests/{id}`).
    pub async fn decide_booking(&mut self, page: &str, fields: &[(&str, &str)]) -> Reply {
        self.action(page, &format!("{page}/booking"), fields).await
    }

    /// Sends the form on `page` to `path`, with the page's CSRF token and `fields`.
    pub async fn action(&mut self, page: &str, path: &str, fields: &[(&str, &str)]) -> Reply {
        let csrf = self.csrf(page).await;
        let mut pairs = vec![("csrf", csrf.as_str())];
        pairs.extend_from_slice(fields);
        self.post(path, &form_body(&pairs)).await
    }

    /// The inbox's CSV export of request `id`, as the inbox's export button sends it.
    pub async fn export_csv(&mut self, id: i64) -> String {
        let r = self
            .action("/admin", "/admin/export", &[("id", &id.to_string())])
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        r.text()
    }
}

/// Asserts that the inbox's CSV export `csv` has a header row ending with `last_columns` and
/// holds each of `expected`.
#[track_caller]
pub fn assert_export(csv: &str, last_columns: &str, expected: &[&str]) {
    assert!(
        csv.lines()
            .next()
            .is_some_and(|h| h.ends_with(last_columns)),
        "{csv}"
    );
    for e in expected {
        assert!(csv.contains(e), "{e} in {csv}");
    }
}

/// The text area's words on an edit page (as the browser would send them back).
pub fn text_area(html: &str) -> String {
    let start = html.find("name=\"body\"").expect("text area");
    let start = html[start..].find('>').expect("tag end") + start + 1;
    let end = html[start..].find("</textarea>").expect("text area end") + start;
    html[start..end]
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The bytes of a two-factor secret as the enrolment page shows it (RFC 4648 base32).
pub fn base32_decode(s: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut bits = 0u64;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes().filter(|c| *c != b'=') {
        let v = ALPHABET.iter().position(|a| *a == c).expect("base32") as u64;
        bits = (bits << 5) | v;
        n += 5;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    out
}
