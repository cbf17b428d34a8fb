//! The headers of every response, held to an exact table: what each kind of response must carry,
//! with the exact value, and what it must not (a cookie for a visitor, `Server`, `X-Powered-By`,
//! CORS grants, HSTS over plain HTTP). Checked on every route (`common::routes`) of the site
//! served three ways: over plain HTTP, behind a TLS-terminating proxy (configured for https),
//! and serving HTTPS itself, where the headers must be those sent behind the proxy.
//!
//! An attacker picks the weakest response, not the front page, so every route counts.

use crate::common::TestApp;
use crate::common::routes::{Kind, every_route};
use crate::common::{Reply, routes::Probe};

/// The site as deployed: behind TLS, so HSTS is sent and secure cookies are used, with the
/// practice's own details (a public address never shows the example practice).
const HTTPS_CONFIG: &str = "[server]\nbase_url = \"https://kap.example.org\"\n\n[practice]\nname = \"Harbor Light Therapy\"\nclinician_name = \"Sam Rivera\"\nemail = \"sam@harborlight.example.org\"\nphone = \"(212) 555-0188\"\ncity = \"Brooklyn, New York\"\n\n[going_live]\nreviewed = [\"about\", \"credentials\", \"privacy\", \"crisis\"]\n";
const SITE_HOST: &str = "kap.example.org";
/// Another site's origin, sent with every GET a second time: no response may grant it access.
const FOREIGN_ORIGIN: &str = "https://elsewhere.example.net";

/// Our own origin only, no inline code but the first view's styles and the public pages' two
/// inline scripts named by their hashes (`STYLE_HASH`: the two first views, filled in from the pages; and
/// `SCRIPT_HASHES`, see [`script_hashes`]), no plugins, no framing, forms only to ourselves.
const CSP: &str = "default-src 'self'; script-src 'self' SCRIPT_HASHES; style-src 'self' STYLE_HASH; img-src 'self' data:; \
font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
frame-ancestors 'none'; manifest-src 'self'";
const PERMISSIONS: &str = "camera=(), microphone=(), geolocation=(), interest-cohort=(), \
browsing-topics=(), payment=(), usb=()";
/// Two years, subdomains included; never assumed to be preloaded.
const HSTS: &str = "max-age=63072000; includeSubDomains";

/// Headers every response carries, with their exact values.
fn every_response(https: bool, style_hash: &str) -> Vec<(&'static str, String)> {
    let csp = CSP
        .replace("STYLE_HASH", style_hash)
        .replace("SCRIPT_HASHES", &script_hashes());
    let mut headers = vec![
        (
            "content-security-policy",
            if https {
                format!("{csp}; upgrade-insecure-requests")
            } else {
                csp
            },
        ),
        ("x-content-type-options", "nosniff".into()),
        ("referrer-policy", "no-referrer".into()),
        ("x-frame-options", "DENY".into()),
        ("permissions-policy", PERMISSIONS.into()),
        ("cross-origin-resource-policy", "same-origin".into()),
    ];
    if https {
        headers.push(("strict-transport-security", HSTS.into()));
    }
    headers
}

/// What each kind of response carries besides: exact values, then headers that must be there
/// with a value of their own.
fn by_kind(
    kind: Kind,
) -> (
    &'static [(&'static str, &'static str)],
    &'static [&'static str],
) {
    match kind {
        Kind::Page => (&[("cache-control", "no-cache")], &["etag"]),
        Kind::Fresh => (&[("cache-control", "no-store")], &[]),
        Kind::Asset => (
            &[("cache-control", "public, max-age=31536000, immutable")],
            &["etag"],
        ),
        Kind::Health => (
            &[
                ("cache-control", "no-store"),
                ("content-type", "application/json"),
            ],
            &[],
        ),
        Kind::Redirect => (&[], &["location"]),
        // The inbox, where the records are, is kept apart from other sites' windows.
        Kind::Admin | Kind::SignedIn => (
            &[
                ("cache-control", "no-store"),
                ("x-robots-tag", "noindex, nofollow"),
                ("cross-origin-opener-policy", "same-origin"),
            ],
            &[],
        ),
    }
}

/// Headers no response carries: what the server runs on, and any CORS grant (nothing here is
/// for another site's scripts).
const NEVER: &[&str] = &[
    "server",
    "x-powered-by",
    "access-control-allow-origin",
    "access-control-allow-credentials",
];

/// The CSP sources of the inline styles: `'sha256-…'` of the exact text of the one `<style>`
/// element of every page but the home, contact, booking and text pages (the not-found page's),
/// then of the home page's, then of the contact and booking pages' (the booking page is checked
/// in `booking::`), then of the pages of text (`/privacy`'s).
async fn style_hash(app: &TestApp) -> String {
    let mut sources = Vec::new();
    for path in ["/no-such-page", "/", "/contact", "/privacy"] {
        let html = app.get(path).await.text();
        let start = html
            .find("<style>")
            .unwrap_or_else(|| panic!("{path} has inline styles"))
            + 7;
        let end = start + html[start..].find("</style>").expect("the styles end");
        assert_eq!(
            html.matches("<style").count(),
            1,
            "{path}: one <style> element"
        );
        sources.push(crate::common::csp_source(&html[start..end]));
    }
    let booking = crate::common::csp_source(&app.state.site.load().renderer.assets.booking_css);
    assert_eq!(
        sources[2], booking,
        "the contact page carries the booking page's styles"
    );
    let text = crate::common::csp_source(&app.state.site.load().renderer.assets.text_css);
    assert_eq!(
        sources[3], text,
        "the privacy notice carries a page of text's styles"
    );
    sources.join(" ")
}

/// The CSP sources of the two inline scripts: the one that loads a page's script once it has
/// painted (the home page's), and the booking page's, each as the pages carry it (the file
/// without its comments and indentation).
fn script_hashes() -> String {
    use web::site::assets::inline_script;
    let after_paint = inline_script(include_str!("../../static/js/after-paint.js"));
    let booking = inline_script(include_str!("../../static/js/booking.js"));
    format!(
        "{} {}",
        crate::common::csp_source(&after_paint),
        crate::common::csp_source(&booking)
    )
}

/// Every way `reply`, a response of `kind`, breaks the table (empty when it keeps it); the
/// site's inline styles hash to `style_hash`.
fn breaches(reply: &Reply, kind: Kind, https: bool, style_hash: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let (exact, present) = by_kind(kind);
    let exact = every_response(https, style_hash)
        .into_iter()
        .chain(exact.iter().map(|(n, v)| (*n, v.to_string())));
    for (name, want) in exact {
        let got: Vec<_> = reply.headers.get_all(name).iter().collect();
        if got.len() != 1 || got[0].as_bytes() != want.as_bytes() {
            problems.push(format!("{name}: want {want:?}, got {got:?}"));
        }
    }
    for name in present.iter().chain(&["x-request-id"]) {
        if reply.headers.get(*name).is_none() {
            problems.push(format!("{name}: missing"));
        }
    }
    for name in NEVER {
        if let Some(v) = reply.headers.get(*name) {
            problems.push(format!("{name}: must not be sent, got {v:?}"));
        }
    }
    // A visitor's page opens no window and is never framed: it is not kept apart from other
    // sites' windows, which would cost every visit a new browser process before its first paint.
    if !matches!(kind, Kind::Admin | Kind::SignedIn)
        && let Some(v) = reply.headers.get("cross-origin-opener-policy")
    {
        problems.push(format!(
            "cross-origin-opener-policy: the inbox's alone, got {v:?}"
        ));
    }
    if !https && reply.headers.contains_key("strict-transport-security") {
        problems.push("strict-transport-security: never over plain HTTP".into());
    }
    let cookies: Vec<_> = reply.headers.get_all("set-cookie").iter().collect();
    match (kind, cookies.as_slice()) {
        (_, []) => {}
        (Kind::SignedIn, [cookie]) => {
            let cookie = String::from_utf8_lossy(cookie.as_bytes());
            if let Some(problem) = session_cookie_breach(&cookie, https) {
                problems.push(problem);
            }
        }
        _ => problems.push(format!("set-cookie: must not be sent, got {cookies:?}")),
    }
    problems
}

/// The session cookie a signed-in page renews: `HttpOnly`, `SameSite=Strict`, no `Domain`; on
/// https `__Host-` prefixed, `Secure` and so `Path=/`, over plain HTTP `Path=/admin`; its value
/// and lifetime are its own.
fn session_cookie_breach(cookie: &str, https: bool) -> Option<String> {
    let mut parts = cookie.split(';').map(str::trim);
    let name = parts.next()?.split('=').next()?;
    let mut attributes: Vec<&str> = parts
        .filter(|a| !a.starts_with("Max-Age=") && !a.starts_with("Expires="))
        .collect();
    attributes.sort_unstable();
    let (want_name, mut want) = if https {
        (
            "__Host-kap_admin",
            vec!["HttpOnly", "Path=/", "SameSite=Strict", "Secure"],
        )
    } else {
        (
            "kap_admin",
            vec!["HttpOnly", "Path=/admin", "SameSite=Strict"],
        )
    };
    want.sort_unstable();
    (name != want_name || attributes != want).then(|| {
        format!("set-cookie: want {want_name}=…; {want:?} (and a lifetime), got {cookie:?}")
    })
}

/// Sends every probe of `app`'s route list (GETs a second time with a foreign Origin) and
/// checks each reply against the table; returns the replies, in the list's order.
async fn every_route_keeps_the_table(app: &TestApp, https: bool) -> Vec<(Probe, Reply)> {
    let probes = every_route(app).await;
    assert!(
        probes.len() >= 40,
        "the route list shrank: {}",
        probes.len()
    );
    let style_hash = style_hash(app).await;
    let mut failures = Vec::new();
    let mut replies = Vec::new();
    for probe in probes {
        let reply = probe.send(app, &[]).await;
        if let Some(want) = probe.status {
            assert_eq!(
                reply.status,
                want,
                "{} no longer answers {want}: the route list needs a look\n{}",
                probe.label,
                reply.text()
            );
        }
        let mut problems = breaches(&reply, probe.kind, https, &style_hash);
        if probe.method == "GET" {
            let foreign = probe.send(app, &[("origin", FOREIGN_ORIGIN)]).await;
            problems.extend(
                breaches(&foreign, probe.kind, https, &style_hash)
                    .into_iter()
                    .map(|p| format!("with a foreign Origin: {p}")),
            );
        }
        for problem in problems {
            failures.push(format!(
                "{} ({}, {:?}): {problem}",
                probe.label, reply.status, probe.kind
            ));
        }
        replies.push((probe, reply));
    }
    assert!(
        failures.is_empty(),
        "responses breaking the header table:\n  {}",
        failures.join("\n  ")
    );
    replies
}

#[tokio::test]
async fn every_route_over_plain_http_carries_its_kinds_headers_and_no_hsts() {
    let app = TestApp::start().await;
    every_route_keeps_the_table(&app, false).await;
}

/// Served over HTTPS by the program itself (HTTP/2 by ALPN, its certificate from a test
/// authority) and over plain HTTP behind a proxy, configured for https: both keep the https
/// table, and every route sends the same headers on both but for those that differ per request
/// or per connection.
#[tokio::test]
async fn every_route_over_https_carries_its_kinds_headers_the_same_as_behind_a_proxy() {
    let https = TestApp::builder()
        .config(HTTPS_CONFIG)
        .https(SITE_HOST)
        .build()
        .await;
    let secure = every_route_keeps_the_table(&https, true).await;
    let http = TestApp::with_config(HTTPS_CONFIG).await;
    let plain = every_route_keeps_the_table(&http, true).await;
    assert_eq!(
        secure.iter().map(|(p, _)| &p.label).collect::<Vec<_>>(),
        plain.iter().map(|(p, _)| &p.label).collect::<Vec<_>>(),
        "the same routes on both"
    );
    let mut differences = Vec::new();
    for ((probe, secure), (_, plain)) in secure.iter().zip(&plain) {
        assert_eq!(secure.status, plain.status, "{}: status", probe.label);
        let (secure, plain) = (comparable_headers(secure), comparable_headers(plain));
        if secure != plain {
            differences.push(format!(
                "{}:\n    https: {secure:?}\n    http:  {plain:?}",
                probe.label
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "headers differ between https and http:\n{}",
        differences.join("\n")
    );
}

/// A response's headers, sorted, without those that change per request (date, request id,
/// a redirect to a request's own thank-you page, the value of an ETag), describe the body rather than the
/// response's policy (its length: `/healthz` says more over https) or belong to one
/// connection's protocol (HTTP/1.1's `connection` and `transfer-encoding`).
fn comparable_headers(reply: &Reply) -> Vec<(String, String)> {
    const PER_REQUEST: &[&str] = &[
        "date",
        "x-request-id",
        "content-length",
        "connection",
        "keep-alive",
        "transfer-encoding",
        "location",
    ];
    let mut headers: Vec<(String, String)> = reply
        .headers
        .iter()
        .filter(|(name, _)| !PER_REQUEST.contains(&name.as_str()))
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            // A cookie's value is new each time; its name and attributes are compared.
            let value = match (name.as_str(), value.split_once('=')) {
                ("set-cookie", Some((cookie, rest))) => {
                    let attributes = rest.split_once(';').map_or("", |(_, a)| a);
                    format!("{cookie}=…;{attributes}")
                }
                // An ETag names the body, and a page made for one request (a thank-you page
                // with its own booking link) differs between two servers: whether a page
                // carries one is compared, not its value.
                ("etag", _) => "(present)".to_string(),
                _ => value,
            };
            (name.as_str().to_string(), value)
        })
        .collect();
    headers.sort();
    headers
}

#[tokio::test]
async fn a_response_without_the_csp_fails_the_table() {
    let app = TestApp::with_config(HTTPS_CONFIG).await;
    let mut reply = app.get("/").await;
    let hash = style_hash(&app).await;
    assert_eq!(
        breaches(&reply, Kind::Page, true, &hash),
        Vec::<String>::new()
    );
    // The home page's inline script is the one allowed.
    let html = reply.text();
    let script = html
        .find("<script data-src=")
        .expect("the home page's script");
    let script = &html[script..];
    let script =
        &script[script.find('>').expect("tag") + 1..script.find("</script>").expect("end")];
    assert!(script_hashes().starts_with(&crate::common::csp_source(script)));
    // Styles other than the page's own would not be allowed.
    let other = "'sha256-qznLcsROx4GACP2dm0UCKCzCG+HiZ1guq6ZZDob/Tng='";
    assert_eq!(breaches(&reply, Kind::Page, true, other).len(), 1);
    reply.headers.remove("content-security-policy");
    let problems = breaches(&reply, Kind::Page, true, &hash);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("content-security-policy: want"),
        "{problems:?}"
    );
}
