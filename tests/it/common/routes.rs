//! Every route the site answers, each with the kind of response it must give, for the tests
//! that check something of every response (its headers, above all).

use super::clinician::{Clinician, EMAIL, PASSWORD};
use super::{Reply, TestApp, asset_url, form_body, valid_fields};

/// The kinds of response, each with its own rules for caching, indexing and cookies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A public page or file that is the same for everyone: revalidated with its ETag.
    Page,
    /// A public page made for this one request (a form with its token, an error, a result):
    /// never stored.
    Fresh,
    /// A content-hashed asset: cached for a year, never revalidated.
    Asset,
    /// `/healthz`: JSON, never stored.
    Health,
    /// A public redirect.
    Redirect,
    /// Anything under `/admin`: never stored, never indexed.
    Admin,
    /// An admin page for a signed-in clinician: as [`Kind::Admin`], and it renews the session
    /// cookie.
    SignedIn,
}

/// One request, the status it must answer and the kind of response that is.
pub struct Probe {
    /// The same on every server: `GET /book/{link}` rather than the link itself.
    pub label: String,
    pub method: &'static str,
    pub path: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
    /// `None` where it depends on the route (the admin area signed out: a form, a redirect or
    /// a refusal).
    pub status: Option<u16>,
    pub kind: Kind,
}

impl Probe {
    fn new(method: &'static str, path: &str, status: impl Into<Option<u16>>, kind: Kind) -> Probe {
        Probe {
            label: format!("{method} {path}"),
            method,
            path: path.to_string(),
            headers: Vec::new(),
            body: Vec::new(),
            status: status.into(),
            kind,
        }
    }

    fn form(mut self, body: impl Into<Vec<u8>>) -> Probe {
        self.headers.push((
            "content-type",
            "application/x-www-form-urlencoded".to_string(),
        ));
        self.body = body.into();
        self
    }

    fn labelled(mut self, label: &str) -> Probe {
        self.label = format!("{} {label}", self.method);
        self
    }

    /// Sends the request, with `extra` headers besides its own.
    pub async fn send(&self, app: &TestApp, extra: &[(&str, &str)]) -> Reply {
        let mut headers: Vec<(&str, &str)> =
            self.headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        headers.extend_from_slice(extra);
        app.request(self.method, &self.path, &headers, self.body.clone())
            .await
    }
}

/// Every route of `app`: public pages, files for crawlers, assets, `/healthz`, error pages
/// (404, 405, 413), redirects, the contact form's results, a booking page, and every admin
/// route signed out and (for pages) signed in. Adds the clinician's account and sends a
/// contact request on the way. Each probe is meant to be sent once (the contact form's token
/// is spent by it).
pub async fn every_route(app: &TestApp) -> Vec<Probe> {
    use Kind::*;
    let home = app.get("/").await.text();
    let mut probes = vec![
        Probe::new("GET", "/", 200, Page),
        Probe::new("HEAD", "/", 200, Page),
        Probe::new("GET", "/contact", 200, Fresh),
        Probe::new("GET", "/privacy", 200, Page),
        Probe::new("GET", "/robots.txt", 200, Page),
        Probe::new("GET", "/sitemap.xml", 200, Page),
        Probe::new("GET", "/healthz", 200, Health),
        Probe::new("GET", "/no-such-page", 404, Fresh),
        Probe::new("GET", "/static/css/no-such-file.css", 404, Fresh),
        Probe::new("GET", "/contact/", 308, Redirect),
        Probe::new("GET", "/book/00", 404, Fresh),
        Probe::new("GET", "/calendar/00.ics", 404, Fresh),
        Probe::new("POST", "/", 405, Fresh),
        Probe::new("DELETE", "/healthz", 405, Fresh),
    ];
    // The stylesheet as the inbox's pages link it (public pages carry their styles inline), the
    // compare panel's script as the home page loads it (the icon is in each page).
    let inbox = app.get("/admin/login").await.text();
    for (page, prefix, suffix) in [
        (&inbox, "/static/css/site.", ".css"),
        (&home, "/static/js/compare.", ".js"),
    ] {
        let path = asset_url(page, prefix, suffix);
        probes.push(Probe::new("GET", &path, 200, Asset).labelled(&format!("{prefix}…{suffix}")));
    }

    // The contact form: refused without a token, refused as too large, accepted.
    probes.push(Probe::new("POST", "/contact", 400, Fresh).form(""));
    probes.push(
        Probe::new("POST", "/contact", 413, Fresh)
            .labelled("/contact (too large)")
            .form(vec![b'a'; 70 * 1024]),
    );
    let mut fields = valid_fields("Robin Headers");
    let token = app.token().await;
    fields.push(("form_token", token));
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    probes.push(
        Probe::new("POST", "/contact", 303, Redirect)
            .labelled("/contact (accepted)")
            .form(form_body(&pairs)),
    );
    // The pages a request leads to: its thank-you page and its booking page.
    let sent = app.submit("Sam Headers", &[]).await;
    assert_eq!(sent.status, 303, "a request sent: {}", sent.text());
    let thanks = sent.header("location").expect("thank-you page").to_string();
    probes.push(Probe::new("GET", &thanks, 200, Fresh).labelled("/contact/thanks?…"));
    let id = app.last_request_id().await;
    let link = crate::common::booking::link_to(
        app,
        id,
        jiff::Timestamp::now() + jiff::Span::new().hours(24),
    )
    .await;
    probes.push(Probe::new("GET", &link, 200, Fresh).labelled("/book/{link}"));

    // Every admin route, signed out: sign-in pages, redirects to them, refused POSTs; then
    // every admin page signed in.
    app.add_clinician().await;
    let mut clinician = Clinician::new(app);
    let csrf = clinician.csrf("/admin/login").await;
    let body = form_body(&[("csrf", &csrf), ("email", EMAIL), ("password", PASSWORD)]);
    let signed_in = clinician
        .post_with("/admin/login", &body, &[("sec-fetch-site", "same-origin")])
        .await;
    assert_eq!(signed_in.status, 303, "signed in: {}", signed_in.text());
    let cookie = clinician.cookie.clone().expect("a session cookie");
    // A page of the practice's own, for the routes of one such page.
    let page = match app
        .state
        .store
        .add_own_page(
            "/fees",
            "Fees",
            "Fees.",
            jiff::Timestamp::now(),
            &kap_practice::audit::Entry::new("test", kap_practice::audit::Action::PageAdded),
        )
        .await
        .expect("store")
    {
        kap_practice::store::PageAdded::Added(page) => page,
        other => panic!("the page was not added: {other:?}"),
    };
    for route in kap_practice::web::admin::route_table() {
        let id = if route.path.starts_with("/admin/pages/") {
            page
        } else {
            id
        };
        let path = route
            .path
            .replace("{id}", &id.to_string())
            .replace("{token}", "00")
            .replace("{section}", "privacy");
        match route.method.as_str() {
            "GET" => {
                probes.push(Probe::new("GET", &path, None, Admin));
                let mut signed_in = Probe::new("GET", &path, None, SignedIn)
                    .labelled(&format!("{path} (signed in)"));
                signed_in.headers.push(("cookie", cookie.clone()));
                probes.push(signed_in);
            }
            "POST" => probes.push(Probe::new("POST", &path, None, Admin).form("")),
            other => panic!("an admin route with method {other}: add it here"),
        }
    }
    probes.push(Probe::new("GET", "/admin", 303, Admin));
    probes
}
