//! "This site is being set up": what a server open to the world shows before the practice's
//! details exist and the going-live checklist ([`settings::going_live`]) is done.
//!
//! A fresh install carries an example practice (a name, a clinician, an email and a phone
//! number) so that it runs with no setup at all on a laptop. A server others may reach must
//! never show those to a visitor: someone could call the example number or write to the example
//! address. Only a purely local server counts as unreachable: bound to loopback, with a loopback
//! public address, no reverse proxy in front (`server.trusted_proxies`: a proxy is there to
//! bring the world in, whatever the bind address says) and no HTTPS of its own (`[tls]`). Until
//! the practice's details are saved, any other server answers every public page with a short,
//! calm page that names no one (`noindex`, `503` with `Retry-After`, so search engines come back
//! later). `/healthz`, the stylesheet and the inbox (where the setup happens) keep working.
//! Every error page of such a server, on every listener (a missing asset or inbox page, a
//! method not taken, a body too large, a failure of ours), names no one either: the middleware
//! asks [`error_page`] for it instead of the prepared pages, which carry the example practice.
//! On a purely local server the example site is still shown, so a trial run shows the whole
//! page.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};

use askama::Template;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::ErrorPage;
use settings::config::Config;

/// Whether this server still hides the example practice from visitors.
#[derive(Debug)]
pub struct SetupGate {
    closed: AtomicBool,
}

impl SetupGate {
    /// Closed whenever others may reach the server, until the going-live checklist has been
    /// read from the database ([`crate::live`] opens it then): a server that cannot read
    /// it at start never shows the example practice meanwhile.
    pub fn until_checked(config: &Config) -> SetupGate {
        SetupGate {
            closed: AtomicBool::new(!local_only(config)),
        }
    }

    /// True while visitors get the "being set up" page.
    pub fn closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    /// Closes or opens the public site as `closed` says.
    pub fn set_closed(&self, closed: bool) {
        self.closed.store(closed, Ordering::Relaxed);
    }
}

/// Whether a server with `config` shows "being set up": it may be reached by others and the
/// practice is still (even in part) the example's, or the going-live checklist is not done.
pub fn closed_with(config: &Config, checklist_done: bool) -> bool {
    !local_only(config) && (config.practice.shows_example() || !checklist_done)
}

/// True when no one else can be sent to this site: the bind address and the public address are
/// loopback, no reverse proxy is trusted and no HTTPS is served. Anything else may be public.
pub fn local_only(config: &Config) -> bool {
    let host = config.server.host();
    let host_local = host == "localhost"
        || host.ends_with(".localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    config.server.bind.ip().is_loopback()
        && host_local
        && config.server.trusted_proxies.is_empty()
        && config.tls.is_none()
}

#[derive(Template)]
#[template(path = "public/setting_up.html")]
struct SettingUpView<'a> {
    css: &'a str,
    favicon: &'a str,
    heading: &'a str,
    paragraphs: &'a [&'a str],
}

/// A page that names no practice, with `status`.
pub fn neutral_page(
    state: &AppState,
    status: StatusCode,
    heading: &str,
    paragraphs: &[&str],
) -> Response {
    let site = state.site.load();
    let assets = &site.renderer.assets;
    let html = SettingUpView {
        css: &assets.css,
        favicon: &assets.favicon,
        heading,
        paragraphs,
    }
    .render()
    .unwrap_or_else(|_| heading.to_string());
    let mut r = (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        html,
    )
        .into_response();
    r.headers_mut().insert(
        "x-robots-tag",
        HeaderValue::from_static("noindex, nofollow"),
    );
    r
}

/// The page every public address answers while the site is being set up.
fn being_set_up(state: &AppState) -> Response {
    let mut r = neutral_page(
        state,
        StatusCode::SERVICE_UNAVAILABLE,
        "This site is being set up",
        &["The practice is preparing its website. Please come back soon."],
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("3600"));
    r
}

/// Paths that keep working while the site is being set up.
fn always_served(path: &str) -> bool {
    path == "/healthz" || path.starts_with("/static/")
}

/// The layer: public pages become the "being set up" page while the gate is closed. (Error
/// pages, the inbox's and the assets' included, are made neutral by the middleware.)
pub async fn gate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if !state.setup.closed() {
        return next.run(request).await;
    }
    let path = request.uri().path();
    if always_served(path) || crate::admin::is_inbox(path) {
        return next.run(request).await;
    }
    being_set_up(&state)
}

/// The heading and sentence of an error page that names no one.
pub fn words(page: ErrorPage) -> (&'static str, &'static str) {
    match page {
        ErrorPage::NotFound => ("Page not found", "There is nothing at this address."),
        ErrorPage::MethodNotAllowed => (
            "That did not work",
            "This address does not accept that kind of request.",
        ),
        ErrorPage::TooLarge => (
            "What you sent is too large",
            "Nothing was saved. Please shorten your message and try again.",
        ),
        ErrorPage::ServerError => (
            "Something went wrong",
            "Nothing was changed. Please try again in a moment.",
        ),
        ErrorPage::Unavailable => (
            "Not available just now",
            "Please try again in a few minutes.",
        ),
    }
}

/// The error page `page`, answered with `status`, that names no one: what every error of a
/// server being set up shows.
pub fn error_page(state: &AppState, page: ErrorPage, status: StatusCode) -> Response {
    let (heading, text) = words(page);
    neutral_page(state, status, heading, &[text])
}

#[cfg(test)]
mod tests {
    use super::*;
    use settings::config::Overrides;

    fn config(bind: &str, base_url: &str, practice: &str) -> Config {
        let overrides = Overrides {
            bind: Some(bind.parse().expect("addr")),
            base_url: Some(base_url.into()),
            ..Overrides::default()
        };
        Config::from_toml(practice, "test.toml", None, &overrides).expect("valid")
    }

    const OWN: &str = "[practice]\nname = \"Harbor Light Therapy\"\nclinician_name = \"Sam Rivera\"\nemail = \"sam@harborlight.org\"\nphone = \"(212) 555-0188\"\n";

    #[test]
    fn closed_only_when_reachable_and_still_the_example() {
        // With the going-live checklist done: what the server and the details decide.
        let gate = |bind, url, practice| closed_with(&config(bind, url, practice), true);
        assert!(!gate("127.0.0.1:8080", "http://127.0.0.1:8080", ""));
        assert!(!gate("127.0.0.1:8080", "http://localhost:8080", ""));
        assert!(!gate("[::1]:8080", "http://[::1]:8080", ""));
        assert!(gate("127.0.0.1:8080", "https://practice.test", ""));
        assert!(gate("0.0.0.0:8080", "http://127.0.0.1:8080", ""));
        assert!(!gate("0.0.0.0:8080", "https://harborlight.org", OWN));
        // One example value left is enough to keep the site closed.
        let partly = "[practice]\nname = \"Harbor Light Therapy\"\nclinician_name = \"Sam Rivera\"\nemail = \"sam@harborlight.org\"\n";
        assert!(gate("0.0.0.0:8080", "https://harborlight.org", partly));
    }

    #[test]
    fn a_proxy_or_https_of_its_own_means_others_may_reach_it() {
        let closed = |text: &str| {
            closed_with(
                &config("127.0.0.1:8080", "https://localhost:8443", text),
                true,
            )
        };
        assert!(!closed(""), "purely local");
        assert!(closed("[server]\ntrusted_proxies = [\"127.0.0.1\"]\n"));
        assert!(closed("[server]\ntrusted_proxies = [\"::1\"]\n"));
        let tls =
            "[tls]\nbind = \"127.0.0.1:8443\"\ncert_file = \"cert.pem\"\nkey_file = \"key.pem\"\n";
        assert!(closed(tls));
        assert!(!closed(&format!(
            "[server]\ntrusted_proxies = [\"127.0.0.1\"]\n\n{tls}\n{OWN}"
        )));
    }

    #[test]
    fn closed_until_the_checklist_is_read_and_opening_is_seen_at_once() {
        let c = config("127.0.0.2:8080", "https://practice.test", OWN);
        let g = SetupGate::until_checked(&c);
        assert!(g.closed(), "own details, checklist not read yet");
        assert!(closed_with(&c, false), "own details, checklist not done");
        g.set_closed(closed_with(&c, true));
        assert!(!g.closed());
        let local = config("127.0.0.1:8080", "http://127.0.0.1:8080", "");
        assert!(!SetupGate::until_checked(&local).closed());
        assert!(
            !closed_with(&local, false),
            "a local server shows the example"
        );
    }
}
