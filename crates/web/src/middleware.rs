//! The middleware stack, in one place, with its order explained.
//!
//! From the outside in:
//! 1. `respond` — gives the request an id, logs method, path (never the query string or body),
//!    status and latency, sets the security headers on every response, and swaps marked or bare
//!    error responses for the error pages (the prepared ones; while the site is being set up,
//!    ones that name no one: [`setup`](super::setup)). Outermost, so it sees everything, panics
//!    included, on the redirecting plain listener too.
//! 2. catch-panic — a handler that panics becomes a 500 page instead of a dropped connection.
//! 3. body limit — bodies past 64 KiB are refused with 413 before anything reads them.
//!
//! Routes that do real work (forms, the inbox, the database) also carry [`timeout`]: a request
//! that takes longer than 30 s gets a 503 rather than hanging. Prepared pages (the fallback) do
//! not: they are a lookup and a write, and cannot take long.
//!
//! Every response passes through this stack, prepared pages included: the server
//! ([`server`](super::server)) hands every request to the router.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tower_http::timeout::TimeoutLayer as Timeout;

use arc_swap::ArcSwap;
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;

use super::AppState;
use super::error::ErrorPage;
use super::pages::page_response;
use super::setup;

/// The largest request body accepted.
pub const BODY_LIMIT: usize = 64 * 1024;

/// Headers sent on every response, prepared once.
pub struct SecurityHeaders {
    headers: Vec<(HeaderName, HeaderValue)>,
    /// Whether Strict-Transport-Security is among them; when it is not, it is also taken off a
    /// prepared page that carries it (HSTS must not be sent over plain HTTP, RFC 6797 §7.2).
    hsts: bool,
    /// The Content-Security-Policy for the inline styles and scripts last asked for: their
    /// hashes, and the header. The styles follow the practice's accent colour, so a rebuilt site
    /// may bring new ones; the header is made again only then.
    csp: ArcSwap<(String, String, HeaderValue)>,
}

/// The Content-Security-Policy: our own origin only, no inline code but the first view's styles
/// and the public pages' scripts named by their hashes (`style_hash` and `script_hashes`,
/// `'sha256-…'`; see [`crate::site::assets`]), no framing.
pub fn csp(https: bool, style_hash: &str, script_hashes: &str) -> String {
    let with = |hashes: &str| {
        if hashes.is_empty() {
            String::new()
        } else {
            format!(" {hashes}")
        }
    };
    let (styles, scripts) = (with(style_hash), with(script_hashes));
    let upgrade = if https {
        "; upgrade-insecure-requests"
    } else {
        ""
    };
    format!(
        "default-src 'self'; script-src 'self'{scripts}; style-src 'self'{styles}; img-src 'self' data:; \
font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
frame-ancestors 'none'; manifest-src 'self'{upgrade}"
    )
}

fn csp_header(https: bool, style_hash: &str, script_hashes: &str) -> HeaderValue {
    HeaderValue::from_str(&csp(https, style_hash, script_hashes))
        .unwrap_or(HeaderValue::from_static("default-src 'self'"))
}

impl SecurityHeaders {
    pub fn new(https: bool) -> Self {
        let mut h = vec![
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
            (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
            (
                HeaderName::from_static("permissions-policy"),
                HeaderValue::from_static(
                    "camera=(), microphone=(), geolocation=(), interest-cohort=(), browsing-topics=(), payment=(), usb=()",
                ),
            ),
            (
                HeaderName::from_static("cross-origin-resource-policy"),
                HeaderValue::from_static("same-origin"),
            ),
        ];
        if https {
            h.push((
                header::STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_static("max-age=63072000; includeSubDomains"),
            ));
        }
        SecurityHeaders {
            headers: h,
            hsts: https,
            csp: ArcSwap::from_pointee((String::new(), String::new(), csp_header(https, "", ""))),
        }
    }

    /// The Content-Security-Policy header that allows the inline styles hashed `style_hash`
    /// and the inline scripts hashed `script_hashes`.
    fn csp_for(&self, style_hash: &str, script_hashes: &str) -> HeaderValue {
        let last = self.csp.load();
        if last.0 == style_hash && last.1 == script_hashes {
            return last.2.clone();
        }
        let value = csp_header(self.hsts, style_hash, script_hashes);
        self.csp.store(Arc::new((
            style_hash.to_string(),
            script_hashes.to_string(),
            value.clone(),
        )));
        value
    }

    /// Sets the headers on a response of a site whose inline styles hash to `style_hash` and
    /// inline scripts to `script_hashes`; `inbox` for the clinician's pages.
    ///
    /// Only the inbox, where the records are, is kept apart from other sites' windows
    /// (`Cross-Origin-Opener-Policy: same-origin`, which also has Chrome on Android give it a
    /// process of its own). The visitors' pages open no window and are never framed (CSP
    /// `frame-ancestors 'none'`), so another site's window could learn nothing through them;
    /// and the policy costs every visit a new browser process before its first paint: a
    /// one-paragraph page sent with it painted 28 ms later (median of three) and in one run of
    /// three blocked the main thread for 71 ms, on Lighthouse 12's simulated phone.
    pub fn apply(
        &self,
        headers: &mut HeaderMap,
        style_hash: &str,
        script_hashes: &str,
        inbox: bool,
    ) {
        for (name, value) in &self.headers {
            headers.insert(name.clone(), value.clone());
        }
        if inbox {
            headers.insert(
                CROSS_ORIGIN_OPENER_POLICY,
                HeaderValue::from_static("same-origin"),
            );
        } else {
            headers.remove(CROSS_ORIGIN_OPENER_POLICY);
        }
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            self.csp_for(style_hash, script_hashes),
        );
        if !self.hsts {
            headers.remove(header::STRICT_TRANSPORT_SECURITY);
        }
    }
}

/// Keeps a page's window apart from other sites' windows (sent on the inbox's pages only).
const CROSS_ORIGIN_OPENER_POLICY: HeaderName =
    HeaderName::from_static("cross-origin-opener-policy");

/// Search engines' instructions for one response (the inbox's pages: `noindex, nofollow`).
pub const X_ROBOTS_TAG: HeaderName = HeaderName::from_static("x-robots-tag");

/// The header that carries a request's number, as in its log line.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

static NEXT_REQUEST_ID: AtomicU64 = AtomicU64::new(1);

/// The time limit for routes that do real work (`server.request_timeout_seconds`).
pub fn timeout(limit: Duration) -> Timeout {
    Timeout::with_status_code(StatusCode::SERVICE_UNAVAILABLE, limit)
}

/// Adds the whole stack to `router`.
pub fn stack(router: Router, state: AppState) -> Router {
    router
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
        .layer(CatchPanicLayer::custom(|_| {
            let mut r = StatusCode::INTERNAL_SERVER_ERROR.into_response();
            r.extensions_mut().insert(ErrorPage::ServerError);
            r
        }))
        .layer(axum::middleware::from_fn_with_state(state, every_response))
}

async fn every_response(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = next_request_id();
    let method = request.method().clone();
    // A clone of the URI shares its bytes; only the path is ever logged.
    let uri = request.uri().clone();
    let path = loggable_path(uri.path());
    let is_head = method == axum::http::Method::HEAD;
    let visit = Visit::read(&state, &request);
    let inbox = crate::admin::is_inbox(uri.path());
    // For an error page, which goes out compressed like any prepared page (it carries the first
    // view's styles).
    let accept = request.headers().get(header::ACCEPT_ENCODING).cloned();

    let mut response = next.run(request).await;
    if let Some(visit) = visit {
        visit.count(&state, &uri, response.status());
    }

    let status = response.status();
    let marker = response
        .extensions()
        .get::<ErrorPage>()
        .copied()
        .or_else(|| {
            // A bare error from a layer (timeout, body limit) also gets a page a person can read.
            match status {
                StatusCode::METHOD_NOT_ALLOWED if response_is_empty(&response) => {
                    Some(ErrorPage::MethodNotAllowed)
                }
                StatusCode::SERVICE_UNAVAILABLE if response_is_empty(&response) => {
                    Some(ErrorPage::Unavailable)
                }
                s if s.is_server_error() && response_is_empty(&response) => {
                    Some(ErrorPage::ServerError)
                }
                // The body limit's own answer is terse; give a page a person can act on.
                StatusCode::PAYLOAD_TOO_LARGE
                    if !response
                        .headers()
                        .get(header::CONTENT_TYPE)
                        .is_some_and(|t| t.as_bytes().starts_with(b"text/html")) =>
                {
                    Some(ErrorPage::TooLarge)
                }
                _ => None,
            }
        });
    if let Some(page) = marker {
        let accept = accept.as_ref().and_then(|v| v.to_str().ok());
        let mut replaced = error_page(&state, page, status, is_head, accept);
        // What the answer said about itself stays: the methods allowed, when to come back, and
        // an inbox page's "never cache, never index".
        let keep: Vec<_> = response
            .headers()
            .iter()
            .filter(|(n, _)| {
                [
                    header::ALLOW,
                    header::RETRY_AFTER,
                    header::CACHE_CONTROL,
                    X_ROBOTS_TAG,
                ]
                .contains(n)
            })
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect();
        for (n, v) in keep {
            replaced.headers_mut().insert(n, v);
        }
        response = replaced;
    }

    if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
        // The rest of the body is never read, so this connection cannot carry another request;
        // saying so keeps the client from sending its next one on it.
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    let site = state.site.load();
    let assets = &site.renderer.assets;
    state.security_headers.apply(
        response.headers_mut(),
        &assets.style_hashes,
        &assets.script_hashes,
        inbox,
    );
    finish(response, id, &method, &path, started)
}

/// The page for an error `page` answered with `status`: the prepared page, or, while the site
/// is being set up, one that names no one (the prepared pages carry the example practice).
fn error_page(
    state: &AppState,
    page: ErrorPage,
    status: StatusCode,
    head: bool,
    accept: Option<&str>,
) -> Response {
    if state.setup.closed() {
        return setup::error_page(state, page, status);
    }
    let site = state.site.load();
    let prepared = match page {
        ErrorPage::NotFound => &site.not_found,
        ErrorPage::MethodNotAllowed => &site.method_not_allowed,
        ErrorPage::ServerError => &site.server_error,
        ErrorPage::Unavailable => &site.unavailable,
        ErrorPage::TooLarge => {
            let (heading, text) = setup::words(page);
            let html = site
                .renderer
                .status(heading, &[text])
                .unwrap_or_else(|_| format!("{heading}. {text}"));
            return (
                status,
                [
                    (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                    (header::CACHE_CONTROL, "no-store"),
                ],
                html,
            )
                .into_response();
        }
    };
    page_response(prepared, accept, head, status)
}

/// What a possible page view needs from its request, taken before the request is handled: a
/// `GET` that is no prefetch, while counting is on. Header values are shared, not copied.
struct Visit {
    client: std::net::IpAddr,
    user_agent: Option<HeaderValue>,
    referrer: Option<HeaderValue>,
    host: Option<HeaderValue>,
}

impl Visit {
    fn read(state: &AppState, request: &Request) -> Option<Visit> {
        if !state.insights.enabled() || request.method() != Method::GET {
            return None;
        }
        let headers = request.headers();
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        if crate::insights::is_prefetch(text("sec-purpose"), text("purpose")) {
            return None;
        }
        let peer = request
            .extensions()
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()?
            .0;
        Some(Visit {
            client: super::client::client_ip(
                peer.ip(),
                headers,
                &state.config().server.trusted_proxies,
            ),
            user_agent: headers.get(header::USER_AGENT).cloned(),
            referrer: headers.get(header::REFERER).cloned(),
            host: headers.get(header::HOST).cloned(),
        })
    }

    /// Counts the view if it was of a public page, answered 200 or 304.
    fn count(self, state: &AppState, uri: &axum::http::Uri, status: StatusCode) {
        if status != StatusCode::OK && status != StatusCode::NOT_MODIFIED {
            return;
        }
        let path = uri.path();
        let public_page = path == "/contact" || {
            let site = state.site.load();
            site.get(path).is_some_and(|page| {
                page.status == StatusCode::OK
                    && page.content_type.as_bytes().starts_with(b"text/html")
            })
        };
        if !public_page {
            return;
        }
        fn text(v: &Option<HeaderValue>) -> Option<&str> {
            v.as_ref().and_then(|v| v.to_str().ok())
        }
        state.insights.page_view(&crate::insights::PageView {
            path,
            query: uri.query(),
            client: self.client,
            user_agent: text(&self.user_agent).unwrap_or(""),
            referrer: text(&self.referrer),
            host: text(&self.host).or(uri.host()),
        });
    }
}

/// The path as logged. A booking, questionnaire or documents link's token, a calendar feed's
/// secret and the setup address's token are keys, so they are left out: `/book/…/change`,
/// `/questionnaire/…/phq9`, `/documents/…/pdf/3`, `/calendar/…`, `/admin/setup/…`.
pub fn loggable_path(path: &str) -> std::borrow::Cow<'_, str> {
    for prefix in [
        "/book/",
        "/questionnaire/",
        "/documents/",
        "/calendar/",
        "/admin/setup/",
        "/admin/login/reset/",
    ] {
        if let Some(rest) = path.strip_prefix(prefix) {
            let tail = rest.find('/').map_or("", |i| &rest[i..]);
            return std::borrow::Cow::Owned(format!("{prefix}…{tail}"));
        }
    }
    std::borrow::Cow::Borrowed(path)
}

/// A number for the next request, shown in its `X-Request-Id` and its log line.
pub fn next_request_id() -> u64 {
    NEXT_REQUEST_ID.fetch_add(1, Ordering::Relaxed)
}

/// The last step of every response: its request id, and one log line (target `access`) with
/// method, path (never the query string), status and latency.
pub fn finish(
    mut response: Response,
    id: u64,
    method: &Method,
    path: &str,
    started: Instant,
) -> Response {
    response
        .headers_mut()
        .insert(REQUEST_ID, HeaderValue::from(id));
    let latency_us = started.elapsed().as_micros() as u64;
    let status = response.status().as_u16();
    if response.status().is_server_error() {
        tracing::warn!(target: "access", request_id = id, %method, path = %path, status, latency_us, "request");
    } else {
        tracing::info!(target: "access", request_id = id, %method, path = %path, status, latency_us, "request");
    }
    response
}

/// A bare status from a layer or the router, with nothing a person could read.
///
/// Every handler of ours sets a content type; the layers' and router's own errors do not. (The body's
/// size hint is not reliable here: the layers wrap the body.)
fn response_is_empty(response: &Response<Body>) -> bool {
    !response.headers().contains_key(header::CONTENT_TYPE)
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_in_paths_are_not_logged() {
        assert_eq!(super::loggable_path("/book/abc123"), "/book/…");
        assert_eq!(
            super::loggable_path("/book/abc123/cancel"),
            "/book/…/cancel"
        );
        assert_eq!(super::loggable_path("/calendar/f00.ics"), "/calendar/…");
        assert_eq!(
            super::loggable_path("/questionnaire/abc123/gad7"),
            "/questionnaire/…/gad7"
        );
        assert_eq!(
            super::loggable_path("/documents/abc123/pdf/7"),
            "/documents/…/pdf/7"
        );
        assert_eq!(super::loggable_path("/contact"), "/contact");
    }
}
