//! Every route's security headers, graded with the Mozilla HTTP Observatory's rubric.
//!
//! Rubric implemented: MDN's "HTTP Observatory scoring methodology"
//! (developer.mozilla.org/en-US/observatory/docs/tests_and_scoring), the edition whose highest
//! possible score is 145 (100 + CSP 10 + cookies 5 + referrer 5 + HSTS preload 5 + SRI 5 +
//! X-Frame-Options via CSP 5 + CORP 10). The modifiers are those of the reference scanner's
//! `src/grader/charts.js` (mdn/mdn-http-observatory; identical at commits a57b50e and 01b4711,
//! its changelog at v1.5.0 of 2025-10-23, which re-scored X-Frame-Options), and each test
//! decides as its `src/analyzer/tests/<test>.js` does. Re-read both when a new edition appears.
//!
//! Scoring, as published: start at 100; take off every penalty; only if the result is still 90
//! or more, add the bonuses; never below 0. 100 and up is A+, 90–99 A, 85–89 A-, 80–84 B+,
//! 70–79 B, 65–69 B-, 60–64 C+, 50–59 C, 45–49 C-, 40–44 D+, 30–39 D, 25–29 D-, below 25 F.
//!
//! The Observatory grades one page (the site's front page, after redirects); this test grades
//! every route separately — pages, assets, files for crawlers, 404s, 405s, redirects, refused
//! POSTs and the admin area — because an attacker picks the weakest response, not the front page.
//!
//! Where this differs from the scanner, on purpose:
//! - Redirection (http:// → https:// on the same host) is not scored here: the plain port's
//!   redirect is tested with the HTTPS server (`tls.rs`), and behind a proxy it is the proxy's.
//! - The server is configured for `https://kap.example.org` and graded twice: over plain HTTP on
//!   loopback (as behind a TLS-terminating proxy) and serving HTTPS itself; both are graded as
//!   the scanner's HTTPS responses: HSTS counts, `http:` sources count as insecure, and the
//!   headers must be the same on both. HSTS preloading is never assumed (the +5 needs the
//!   Chromium preload list).
//! - One Content-Security-Policy header is modelled; several are refused as invalid (the scanner
//!   intersects them). `<meta http-equiv>` policies are not read (the site sends none).
//! - Subresource Integrity reads `<script src>` with a small tag scanner instead of a DOM, and
//!   "same second-level domain" compares the last two host labels instead of the public suffix
//!   list. The site loads no script from another origin, so this test is not applicable today.
//!
//! Beyond the rubric, the site's own policy is checked too: no `Access-Control-Allow-Origin: *`,
//! and on HTTPS every cookie is `__Host-` prefixed, `Secure`, `HttpOnly`, `SameSite=Strict|Lax`.

use crate::common::{Reply, TestApp, asset_url};
use kap_practice::config::Overrides;

/// The site as deployed: behind TLS, so HSTS is sent and secure cookies are used.
const HTTPS_CONFIG: &str = "[server]\nbase_url = \"https://kap.example.org\"\n";
const SITE_HOST: &str = "kap.example.org";
/// The foreign origin the CORS probe sends, as the Observatory does with its own.
const FOREIGN_ORIGIN: &str = "https://observatory.example.net";

#[tokio::test]
async fn every_route_earns_an_a_plus_from_the_observatory_rubric() {
    let app = TestApp::start_with(Overrides::default(), Some(HTTPS_CONFIG)).await;
    every_route_earns_an_a_plus(&app).await;
}

/// The same site serving HTTPS itself (HTTP/2 by ALPN, its certificate from a test authority):
/// every route earns the A+ over https too, carries HSTS with the two-year max-age, and sends
/// exactly the headers it sends over plain HTTP behind a proxy (the deployment graded above),
/// but for the ones that differ per request or per connection.
#[tokio::test]
async fn every_route_earns_an_a_plus_over_https_with_the_same_headers_as_over_http() {
    let https = TestApp::start_https(HTTPS_CONFIG, SITE_HOST).await;
    every_route_earns_an_a_plus(&https).await;

    let http = TestApp::start_with(Overrides::default(), Some(HTTPS_CONFIG)).await;
    let probes = every_route(&https).await;
    assert_eq!(
        probes.iter().map(|p| &p.path).collect::<Vec<_>>(),
        every_route(&http)
            .await
            .iter()
            .map(|p| &p.path)
            .collect::<Vec<_>>(),
        "the same routes on both"
    );
    let mut differences = Vec::new();
    for probe in &probes {
        let secure = send(&https, probe, &[]).await;
        let plain = send(&http, probe, &[]).await;
        let label = format!("{} {}", probe.method, probe.path);
        assert_eq!(secure.status, plain.status, "{label}: status");
        assert_eq!(
            secure.header("strict-transport-security"),
            Some("max-age=63072000; includeSubDomains"),
            "{label}: HSTS over https"
        );
        let (secure, plain) = (comparable_headers(&secure), comparable_headers(&plain));
        if secure != plain {
            differences.push(format!(
                "{label}:\n    https: {secure:?}\n    http:  {plain:?}"
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "headers differ between https and http:\n{}",
        differences.join("\n")
    );
}

/// A response's headers, sorted, without those that change per request (date, request id),
/// describe the body rather than the response's policy (its length: `/healthz` says more over
/// https, the certificate's expiry) or belong to one connection's protocol (HTTP/1.1's
/// `connection` and `transfer-encoding`, which HTTP/2 does not carry).
fn comparable_headers(reply: &Reply) -> Vec<(String, String)> {
    const PER_REQUEST: &[&str] = &[
        "date",
        "x-request-id",
        "content-length",
        "connection",
        "keep-alive",
        "transfer-encoding",
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
                _ => value,
            };
            (name.as_str().to_string(), value)
        })
        .collect();
    headers.sort();
    headers
}

/// Grades every route of `app` with the rubric (and the site's own policy): each must earn
/// the A+.
async fn every_route_earns_an_a_plus(app: &TestApp) {
    let probes = every_route(app).await;
    assert!(
        probes.len() >= 30,
        "the route list shrank: {}",
        probes.len()
    );

    let mut report = String::new();
    let mut failures = Vec::new();
    for probe in &probes {
        let reply = send(app, probe, &[]).await;
        if let Some(want) = probe.status {
            assert_eq!(
                reply.status, want,
                "{} {} no longer answers {want}: the route list needs a look",
                probe.method, probe.path
            );
        }
        // The Observatory's CORS test repeats the request with a foreign Origin.
        let cors =
            Response::from_reply(&send(app, probe, &[("origin", FOREIGN_ORIGIN)]).await, true);
        let response = Response::from_reply(&reply, true);
        let grade = grade(&response, &cors);
        let policy = site_policy(&response, &cors);
        let label = format!("{} {} ({})", probe.method, probe.path, reply.status);
        report.push_str(&format!(
            "{label}: {} {}\n{}",
            grade.score,
            grade.letter,
            grade.breakdown()
        ));
        for problem in &policy {
            report.push_str(&format!("    policy: {problem}\n"));
        }
        if grade.score < 100 || !policy.is_empty() {
            failures.push(format!("{label}: {} {}", grade.score, grade.letter));
        }
    }
    // Shown with the failure (cargo test prints a failing test's output), or with --nocapture.
    println!("per-route breakdown (score, grade, then each test's modifier and result):\n{report}");
    assert!(
        failures.is_empty(),
        "routes below A+ (score 100) or breaking the site's policy (breakdown above):\n  {}",
        failures.join("\n  ")
    );
}

#[tokio::test]
async fn removing_the_csp_costs_the_a_plus() {
    let app = TestApp::start_with(Overrides::default(), Some(HTTPS_CONFIG)).await;
    let reply = app.get("/").await;
    let full = Response::from_reply(&reply, true);
    let with = grade(&full, &full);
    assert!(with.score >= 100, "{}", with.breakdown());

    let mut stripped = full.clone();
    stripped
        .headers
        .retain(|(name, _)| name != "content-security-policy");
    let without = grade(&stripped, &stripped);
    assert!(
        without.score < 100 && without.letter != "A+",
        "a page without a CSP must not keep an A+:\n{}",
        without.breakdown()
    );
    // -25 for no CSP takes the score under 90, so no bonus is added (and frame-ancestors goes
    // with the policy, leaving X-Frame-Options alone at 0).
    assert_eq!(without.score, 75, "{}", without.breakdown());
    assert_eq!(without.letter, "B");
}

#[test]
fn the_rubric_matches_the_published_modifiers() {
    let csp = |policy: &str| {
        let r = Response::new(true, &[("content-security-policy", policy)]);
        let o = content_security_policy(&r);
        (o.result, o.modifier)
    };
    assert_eq!(
        csp("default-src 'none'; script-src 'self'; form-action 'self'"),
        ("csp-implemented-with-no-unsafe-default-src-none", 10)
    );
    assert_eq!(
        csp("default-src 'self'"),
        ("csp-implemented-with-no-unsafe", 5)
    );
    assert_eq!(
        csp("default-src 'self'; script-src 'self' 'unsafe-inline'"),
        ("csp-implemented-with-unsafe-inline", -20)
    );
    assert_eq!(
        csp("default-src 'self'; script-src 'self' data:"),
        ("csp-implemented-with-unsafe-inline", -20)
    );
    assert_eq!(
        csp("script-src 'self'"),
        ("csp-implemented-with-unsafe-inline", -20),
        "no object-src and no default-src leaves plugins unrestricted"
    );
    assert_eq!(
        csp("default-src 'self'; script-src 'self' 'nonce-abc' 'unsafe-inline'"),
        ("csp-implemented-with-no-unsafe", 5),
        "a nonce makes 'unsafe-inline' a fallback for old browsers only"
    );
    assert_eq!(
        csp("default-src 'self'; script-src 'self' 'unsafe-eval'"),
        ("csp-implemented-with-unsafe-eval", -10)
    );
    assert_eq!(
        csp("default-src 'self'; style-src 'self' 'unsafe-inline'"),
        ("csp-implemented-with-unsafe-inline-in-style-src-only", 0)
    );
    assert_eq!(
        csp("default-src 'self'; connect-src http://api.example"),
        ("csp-implemented-with-insecure-scheme", -20)
    );
    assert_eq!(
        csp("default-src 'self'; img-src http://img.example"),
        (
            "csp-implemented-with-insecure-scheme-in-passive-content-only",
            -10
        )
    );
    assert_eq!(
        csp("default-src 'self'; default-src 'none'"),
        ("csp-header-invalid", -25)
    );
    assert_eq!(
        csp("default-src 'self'; script-src 'strict-dynamic'"),
        ("csp-header-invalid", -25)
    );

    // The grade chart and the two rounds: bonuses only from 90 up.
    assert_eq!(letter(145), "A+");
    assert_eq!(letter(100), "A+");
    assert_eq!(letter(99), "A");
    assert_eq!(letter(90), "A");
    assert_eq!(letter(89), "A-");
    assert_eq!(letter(84), "B+");
    assert_eq!(letter(79), "B");
    assert_eq!(letter(69), "B-");
    assert_eq!(letter(64), "C+");
    assert_eq!(letter(59), "C");
    assert_eq!(letter(49), "C-");
    assert_eq!(letter(44), "D+");
    assert_eq!(letter(39), "D");
    assert_eq!(letter(29), "D-");
    assert_eq!(letter(24), "F");
    assert_eq!(letter(0), "F");
    let outcome = |modifier| Outcome {
        test: "t",
        result: "r",
        modifier,
    };
    assert_eq!(Grade::of(vec![outcome(-10), outcome(5)]).score, 95);
    assert_eq!(Grade::of(vec![outcome(-15), outcome(5)]).score, 85);
    assert_eq!(Grade::of(vec![outcome(-200)]).score, 0);

    // Each header test, one case apiece.
    let one = |name: &str, value: &str, test: fn(&Response) -> Outcome| {
        let o = test(&Response::new(true, &[(name, value)]));
        (o.result, o.modifier)
    };
    assert_eq!(
        one("referrer-policy", "no-referrer", referrer_policy),
        ("referrer-policy-private", 5)
    );
    assert_eq!(
        one("referrer-policy", "unsafe-url", referrer_policy),
        ("referrer-policy-unsafe", -5)
    );
    assert_eq!(
        one(
            "strict-transport-security",
            "max-age=300",
            strict_transport_security
        ),
        ("hsts-implemented-max-age-less-than-six-months", -10)
    );
    assert_eq!(
        one("x-content-type-options", "sniff", x_content_type_options),
        ("x-content-type-options-header-invalid", -5)
    );
    assert_eq!(
        one("x-frame-options", "SAMEORIGIN", x_frame_options),
        ("x-frame-options-sameorigin-or-deny", 0)
    );
    assert_eq!(
        one(
            "cross-origin-resource-policy",
            "same-site",
            cross_origin_resource_policy
        ),
        ("corp-implemented-with-same-site", 10)
    );
    let no_hsts = Response::new(false, &[]);
    assert_eq!(
        strict_transport_security(&no_hsts).result,
        "hsts-not-implemented-no-https"
    );

    let cookie = |value: &str| {
        let r = Response::new(
            true,
            &[
                ("set-cookie", value),
                ("strict-transport-security", "max-age=63072000"),
            ],
        );
        let o = cookies(&r);
        (o.result, o.modifier)
    };
    assert_eq!(
        cookie("__Host-kap_admin=x; Path=/; Secure; HttpOnly; SameSite=Strict"),
        ("cookies-secure-with-httponly-sessions-and-samesite", 5)
    );
    assert_eq!(
        cookie("theme=dark; Path=/; Secure"),
        ("cookies-secure-with-httponly-sessions", 0)
    );
    assert_eq!(
        cookie("sessionid=x; Path=/; HttpOnly; SameSite=Lax"),
        (
            "cookies-session-without-secure-flag-but-protected-by-hsts",
            -10
        )
    );
    assert_eq!(
        cookie("sessionid=x; Path=/; Secure; SameSite=Lax"),
        ("cookies-session-without-httponly-flag", -30)
    );
    assert_eq!(
        cookie("a=x; Secure; SameSite=Bogus"),
        ("cookies-samesite-flag-invalid", -20)
    );

    let cors = |headers: &[(&str, &str)]| {
        let r = Response::new(true, headers);
        let o = cross_origin_resource_sharing(&r);
        (o.result, o.modifier)
    };
    assert_eq!(
        cors(&[]),
        ("cross-origin-resource-sharing-not-implemented", 0)
    );
    assert_eq!(
        cors(&[
            ("access-control-allow-origin", FOREIGN_ORIGIN),
            ("access-control-allow-credentials", "true"),
        ]),
        (
            "cross-origin-resource-sharing-implemented-with-universal-access",
            -50
        )
    );

    // The site's own cookie and CORS policy catches what the rubric lets through.
    let plain = Response::new(
        true,
        &[(
            "set-cookie",
            "kap_admin=x; Path=/admin; HttpOnly; SameSite=Strict",
        )],
    );
    assert_eq!(
        cookies(&plain).result,
        "cookies-without-secure-flag",
        "not Secure, and no HSTS to make up for it"
    );
    assert_eq!(
        site_policy(
            &plain,
            &Response::new(true, &[("access-control-allow-origin", "*")])
        ),
        vec![
            "Access-Control-Allow-Origin: * (nothing here is public data)".to_string(),
            "cookie kap_admin lacks the __Host- prefix, Path=/, Secure".to_string(),
        ]
    );

    let html = |body: &str| {
        let mut r = Response::new(true, &[("content-type", "text/html; charset=utf-8")]);
        r.body = body.to_string();
        let o = subresource_integrity(&r);
        (o.result, o.modifier)
    };
    assert_eq!(
        html("<p>no scripts</p>"),
        ("sri-not-implemented-but-no-scripts-loaded", 0)
    );
    assert_eq!(
        html("<script src=\"/static/js/a.js\" defer></script>"),
        (
            "sri-not-implemented-but-all-scripts-loaded-from-secure-origin",
            0
        )
    );
    assert_eq!(
        html("<script src=\"https://cdn.example.net/a.js\"></script>"),
        (
            "sri-not-implemented-but-external-scripts-loaded-securely",
            -5
        )
    );
    assert_eq!(
        html("<script src=\"//cdn.example.net/a.js\"></script>"),
        (
            "sri-not-implemented-and-external-scripts-not-loaded-securely",
            -50
        )
    );
    assert_eq!(
        html("<script src=\"https://cdn.example.net/a.js\" integrity=\"sha384-x\"></script>"),
        ("sri-implemented-and-external-scripts-loaded-securely", 5)
    );
}

// ---------------------------------------------------------------------------------------------
// The routes.

/// One request to grade, and the status it must answer (so the list keeps covering what it
/// claims: a 404, a redirect, a refused POST…).
struct Probe {
    method: &'static str,
    path: String,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    status: Option<u16>,
}

fn probe(method: &'static str, path: &str, status: Option<u16>) -> Probe {
    Probe {
        method,
        path: path.to_string(),
        headers: Vec::new(),
        body: Vec::new(),
        status,
    }
}

async fn every_route(app: &TestApp) -> Vec<Probe> {
    let home = app.get("/").await.text();
    let mut probes = vec![
        probe("GET", "/", Some(200)),
        probe("HEAD", "/", Some(200)),
        probe("GET", "/contact", Some(200)),
        probe("GET", "/contact/thanks", None),
        probe("GET", "/privacy", Some(200)),
        probe("GET", "/robots.txt", Some(200)),
        probe("GET", "/sitemap.xml", Some(200)),
        probe("GET", "/healthz", Some(200)),
        probe("GET", "/no-such-page", Some(404)),
        probe("GET", "/static/css/no-such-file.css", Some(404)),
        probe("GET", "/contact/", Some(308)),
        probe("GET", "/book/00", Some(404)),
        probe("GET", "/calendar/00.ics", Some(404)),
        probe("POST", "/", Some(405)),
        probe("DELETE", "/healthz", Some(405)),
    ];
    // Assets, by the content-hashed URLs the page links.
    for (prefix, suffix) in [
        ("/static/css/site.", ".css"),
        ("/static/js/compare.", ".js"),
        ("/static/icons/favicon.", ".svg"),
    ] {
        probes.push(probe("GET", &asset_url(&home, prefix, suffix), Some(200)));
    }
    // The public form, refused: no token, then too large.
    let mut empty = probe("POST", "/contact", None);
    empty.headers = vec![(
        "content-type",
        "application/x-www-form-urlencoded".to_string(),
    )];
    probes.push(empty);
    let mut large = probe("POST", "/contact", Some(413));
    large.headers = vec![(
        "content-type",
        "application/x-www-form-urlencoded".to_string(),
    )];
    large.body = vec![b'a'; 70 * 1024];
    probes.push(large);
    // Every admin route, signed out: sign-in pages, redirects to them, refused POSTs.
    for route in kap_practice::web::admin::route_table() {
        let path = route.path.replace("{id}", "1");
        let method = match route.method.as_str() {
            "GET" => "GET",
            "POST" => "POST",
            other => panic!("an admin route with method {other}: add it here"),
        };
        let mut p = probe(method, &path, None);
        if method == "POST" {
            p.headers = vec![(
                "content-type",
                "application/x-www-form-urlencoded".to_string(),
            )];
        }
        probes.push(p);
    }
    probes.push(probe("GET", "/admin", Some(303)));
    probes
}

async fn send(app: &TestApp, probe: &Probe, extra: &[(&str, &str)]) -> Reply {
    let mut headers: Vec<(&str, &str)> = probe
        .headers
        .iter()
        .map(|(k, v)| (*k, v.as_str()))
        .collect();
    headers.extend_from_slice(extra);
    app.request(probe.method, &probe.path, &headers, probe.body.clone())
        .await
}

// ---------------------------------------------------------------------------------------------
// What the grader sees of a response.

#[derive(Clone, Debug)]
struct Response {
    /// Whether the site is served over HTTPS (here: configured for it, behind a proxy).
    https: bool,
    /// Lower-case names, in order, repeated names kept.
    headers: Vec<(String, String)>,
    body: String,
}

impl Response {
    fn new(https: bool, headers: &[(&str, &str)]) -> Response {
        Response {
            https,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_ascii_lowercase(), v.to_string()))
                .collect(),
            body: String::new(),
        }
    }

    fn from_reply(reply: &Reply, https: bool) -> Response {
        Response {
            https,
            headers: reply
                .headers
                .iter()
                .map(|(n, v)| {
                    (
                        n.as_str().to_ascii_lowercase(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body: reply.text(),
        }
    }

    fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn first(&self, name: &str) -> Option<&str> {
        self.all(name).into_iter().next()
    }
}

// ---------------------------------------------------------------------------------------------
// Scoring.

/// One test's result, named as the Observatory names its expectations.
#[derive(Clone, Debug)]
struct Outcome {
    test: &'static str,
    result: &'static str,
    modifier: i32,
}

fn outcome(test: &'static str, result: &'static str, modifier: i32) -> Outcome {
    Outcome {
        test,
        result,
        modifier,
    }
}

struct Grade {
    score: i32,
    letter: &'static str,
    outcomes: Vec<Outcome>,
}

impl Grade {
    /// Two rounds: penalties first; bonuses only if the score is still 90 (A) or more.
    fn of(outcomes: Vec<Outcome>) -> Grade {
        let penalties: i32 = outcomes.iter().map(|o| o.modifier).filter(|m| *m < 0).sum();
        let bonuses: i32 = outcomes.iter().map(|o| o.modifier).filter(|m| *m > 0).sum();
        let mut score = 100 + penalties;
        if score >= 90 {
            score += bonuses;
        }
        let score = score.max(0);
        Grade {
            score,
            letter: letter(score),
            outcomes,
        }
    }

    fn breakdown(&self) -> String {
        let mut out = String::new();
        for o in &self.outcomes {
            out.push_str(&format!(
                "    {:>4}  {:<30} {}\n",
                format!("{:+}", o.modifier),
                o.test,
                o.result
            ));
        }
        out
    }
}

fn letter(score: i32) -> &'static str {
    match score {
        100.. => "A+",
        90..=99 => "A",
        85..=89 => "A-",
        80..=84 => "B+",
        70..=79 => "B",
        65..=69 => "B-",
        60..=64 => "C+",
        50..=59 => "C",
        45..=49 => "C-",
        40..=44 => "D+",
        30..=39 => "D",
        25..=29 => "D-",
        _ => "F",
    }
}

/// Every test of the rubric on one response (`cors` is the same request with a foreign Origin).
fn grade(response: &Response, cors: &Response) -> Grade {
    Grade::of(vec![
        content_security_policy(response),
        cookies(response),
        cross_origin_resource_sharing(cors),
        outcome(
            "redirection",
            "not scored here: the plain port's redirect is tested with the HTTPS server",
            0,
        ),
        referrer_policy(response),
        strict_transport_security(response),
        subresource_integrity(response),
        x_content_type_options(response),
        x_frame_options(response),
        cross_origin_resource_policy(response),
    ])
}

// --- Content Security Policy -----------------------------------------------------------------

const DANGEROUSLY_BROAD: &[&str] = &[
    "ftp:",
    "http:",
    "https:",
    "*",
    "http://*",
    "http://*.*",
    "https://*",
    "https://*.*",
];
const UNSAFE_INLINE: &[&str] = &["'unsafe-inline'", "data:"];
const NONCES_HASHES: &[&str] = &["'sha256-", "'sha384-", "'sha512-", "'nonce-"];

/// A parsed policy: directives in order, with their (lower-case) sources.
struct Policy {
    directives: Vec<(String, Vec<String>)>,
    duplicate_reports: bool,
}

impl Policy {
    fn get(&self, directive: &str) -> Option<&Vec<String>> {
        self.directives
            .iter()
            .find(|(d, _)| d == directive)
            .map(|(_, s)| s)
    }
}

/// The scanner's parser, for one policy: a repeated directive makes the header invalid (but for
/// `report-uri`/`report-to`); a source list left empty means `'none'`.
fn parse_policy(header: &str) -> Result<Policy, String> {
    let header = header.replace(['\r', '\n'], "");
    let header = header.trim();
    if header.len() < "img-src".len() - 1 {
        return Err(format!("policy too short: {header:?}"));
    }
    let mut policy = Policy {
        directives: Vec::new(),
        duplicate_reports: false,
    };
    for entry in header.split(';') {
        let mut words = entry.split_whitespace();
        let Some(name) = words.next() else { continue };
        let name = name.to_ascii_lowercase();
        let mut sources: Vec<String> = words.map(str::to_lowercase).collect();
        if policy.get(&name).is_some() {
            if name == "report-uri" || name == "report-to" {
                policy.duplicate_reports = true;
                continue;
            }
            return Err(format!("directive {name} repeated"));
        }
        if sources.is_empty() {
            // The scanner stores an empty source list as 'none' (for any directive).
            sources.push("'none'".into());
        }
        policy.directives.push((name, sources));
    }
    Ok(policy)
}

/// The policy sent in the response's header, if exactly one parses.
fn header_policy(response: &Response) -> Option<Result<Policy, String>> {
    let headers = response.all("content-security-policy");
    match headers.as_slice() {
        [] => None,
        [one] => Some(parse_policy(one)),
        _ => Some(Err(
            "several Content-Security-Policy headers (not modelled here)".into(),
        )),
    }
}

fn content_security_policy(response: &Response) -> Outcome {
    const TEST: &str = "content-security-policy";
    let policy = match header_policy(response) {
        None if response
            .first("content-security-policy-report-only")
            .is_some() =>
        {
            return outcome(TEST, "csp-not-implemented-but-reporting-enabled", -25);
        }
        None => return outcome(TEST, "csp-not-implemented", -25),
        Some(Err(_)) => return outcome(TEST, "csp-header-invalid", -25),
        Some(Ok(p)) => p,
    };
    let any = || vec!["*".to_string()];
    let fallback = |d: &str| {
        policy
            .get(d)
            .or_else(|| policy.get("default-src"))
            .cloned()
            .unwrap_or_else(any)
    };
    let object_src = fallback("object-src");
    let mut script_src = fallback("script-src");
    let mut style_src = fallback("style-src");
    let has_nonce_or_hash = |s: &[String]| {
        s.iter()
            .any(|x| NONCES_HASHES.iter().any(|n| x.starts_with(n)))
    };
    // A nonce or hash makes browsers ignore 'unsafe-inline' (kept only for old browsers).
    for list in [&mut script_src, &mut style_src] {
        if has_nonce_or_hash(list) {
            list.retain(|s| s != "'unsafe-inline'");
        }
    }
    let mut result: Option<(&'static str, i32)> = None;
    let strict_dynamic = script_src.iter().any(|s| s == "'strict-dynamic'");
    if strict_dynamic && has_nonce_or_hash(&script_src) {
        script_src.retain(|s| {
            !(DANGEROUSLY_BROAD.iter().any(|b| s.starts_with(b))
                || s == "'self'"
                || s == "'unsafe-inline'")
        });
    } else if strict_dynamic {
        result = Some(("csp-header-invalid", -25));
    }
    let is = |set: &[&str], s: &String| set.contains(&s.as_str());
    let insecure = |s: &String| s.starts_with("http:") || s.starts_with("ftp:");
    let active: Vec<&String> = policy
        .directives
        .iter()
        .filter(|(d, _)| !matches!(d.as_str(), "img-src" | "media-src" | "script-src"))
        .flat_map(|(_, s)| s)
        .chain(script_src.iter())
        .collect();
    let passive: Vec<String> = ["img-src", "media-src"]
        .iter()
        .flat_map(|d| {
            policy
                .get(d)
                .or_else(|| policy.get("default-src"))
                .cloned()
                .unwrap_or_default()
        })
        .collect();

    let mut decide = |r: &'static str, m: i32| {
        if result.is_none() {
            result = Some((r, m));
        }
    };
    if script_src
        .iter()
        .any(|s| is(DANGEROUSLY_BROAD, s) || is(UNSAFE_INLINE, s))
        || object_src.iter().any(|s| is(DANGEROUSLY_BROAD, s))
    {
        decide("csp-implemented-with-unsafe-inline", -20);
    }
    if response.https && active.iter().any(|s| insecure(s)) {
        decide("csp-implemented-with-insecure-scheme", -20);
    }
    if script_src
        .iter()
        .chain(style_src.iter())
        .any(|s| s == "'unsafe-eval'")
    {
        decide("csp-implemented-with-unsafe-eval", -10);
    }
    if response.https && passive.iter().any(insecure) {
        decide(
            "csp-implemented-with-insecure-scheme-in-passive-content-only",
            -10,
        );
    }
    if style_src
        .iter()
        .any(|s| is(DANGEROUSLY_BROAD, s) || is(UNSAFE_INLINE, s))
    {
        decide("csp-implemented-with-unsafe-inline-in-style-src-only", 0);
    }
    if policy
        .get("default-src")
        .is_some_and(|d| d.len() == 1 && d[0] == "'none'")
    {
        decide("csp-implemented-with-no-unsafe-default-src-none", 10);
    } else {
        decide("csp-implemented-with-no-unsafe", 5);
    }
    let (result, modifier) = result.expect("decided");
    // A passing policy with repeated report directives is reported, at 0.
    if modifier >= 0 && policy.duplicate_reports {
        return outcome(TEST, "csp-implemented-but-duplicate-directives", 0);
    }
    outcome(TEST, result, modifier)
}

// --- Cookies ---------------------------------------------------------------------------------

/// A Set-Cookie header, as far as the rubric reads it.
struct Cookie {
    name: String,
    secure: bool,
    http_only: bool,
    same_site: Option<String>,
    /// `SameSite` present with no value, or a value other than Strict, Lax or None.
    same_site_malformed: bool,
    path: Option<String>,
    domain: bool,
}

fn parse_cookie(header: &str) -> Cookie {
    let mut parts = header.split(';');
    let name = parts
        .next()
        .and_then(|p| p.split('=').next())
        .unwrap_or("")
        .trim()
        .to_string();
    let mut cookie = Cookie {
        name,
        secure: false,
        http_only: false,
        same_site: None,
        same_site_malformed: false,
        path: None,
        domain: false,
    };
    for attribute in parts {
        let (key, value) = match attribute.split_once('=') {
            Some((k, v)) => (k.trim().to_ascii_lowercase(), Some(v.trim().to_string())),
            None => (attribute.trim().to_ascii_lowercase(), None),
        };
        match key.as_str() {
            "secure" => cookie.secure = true,
            "httponly" => cookie.http_only = true,
            "path" => cookie.path = value,
            "domain" => cookie.domain = true,
            "samesite" => {
                let v = value.unwrap_or_default().to_ascii_lowercase();
                if !matches!(v.as_str(), "strict" | "lax" | "none") {
                    cookie.same_site_malformed = true;
                } else {
                    cookie.same_site = Some(v);
                }
            }
            _ => {}
        }
    }
    cookie
}

fn cookies(response: &Response) -> Outcome {
    const TEST: &str = "cookies";
    // From best to worst: a cookie's problems keep only the worst.
    const WORSE: &[(&str, i32)] = &[
        ("cookies-without-secure-flag-but-protected-by-hsts", -5),
        ("cookies-without-secure-flag", -20),
        (
            "cookies-session-without-secure-flag-but-protected-by-hsts",
            -10,
        ),
        ("cookies-samesite-flag-invalid", -20),
        ("cookies-anticsrf-without-samesite-flag", -20),
        ("cookies-session-without-httponly-flag", -30),
        ("cookies-session-without-secure-flag", -40),
    ];
    let set = response.all("set-cookie");
    if set.is_empty() {
        return outcome(TEST, "cookies-not-found", 0);
    }
    let hsts = strict_transport_security(response).result
        == "hsts-implemented-max-age-at-least-six-months";
    let mut worst: Option<usize> = None;
    let mut missing_same_site = false;
    for raw in set {
        let c = parse_cookie(raw);
        let name = c.name.to_ascii_lowercase();
        // The scanner's heuristics for what a cookie is.
        let session = name.contains("login") || name.contains("sess");
        let anti_csrf = name.contains("csrf");
        if c.same_site_malformed || (!c.secure && c.same_site.as_deref() == Some("none")) {
            keep_worse(&mut worst, WORSE, "cookies-samesite-flag-invalid");
        }
        if !c.secure {
            keep_worse(
                &mut worst,
                WORSE,
                if hsts {
                    "cookies-without-secure-flag-but-protected-by-hsts"
                } else {
                    "cookies-without-secure-flag"
                },
            );
        }
        if anti_csrf && c.same_site.is_none() {
            keep_worse(&mut worst, WORSE, "cookies-anticsrf-without-samesite-flag");
        }
        if session && !c.secure {
            keep_worse(
                &mut worst,
                WORSE,
                if hsts {
                    "cookies-session-without-secure-flag-but-protected-by-hsts"
                } else {
                    "cookies-session-without-secure-flag"
                },
            );
        }
        if session && !c.http_only {
            keep_worse(&mut worst, WORSE, "cookies-session-without-httponly-flag");
        }
        missing_same_site |= c.same_site.is_none();
    }
    match worst {
        Some(at) => outcome(TEST, WORSE[at].0, WORSE[at].1),
        None if missing_same_site => outcome(TEST, "cookies-secure-with-httponly-sessions", 0),
        None => outcome(
            TEST,
            "cookies-secure-with-httponly-sessions-and-samesite",
            5,
        ),
    }
}

/// Keeps the worse of the result so far and `result`, by their order in `table` (best first), as
/// the scanner's `onlyIfWorse` does.
fn keep_worse(worst: &mut Option<usize>, table: &[(&str, i32)], result: &str) {
    let at = table
        .iter()
        .position(|(r, _)| *r == result)
        .expect("a result of this test");
    *worst = Some(worst.map_or(at, |w| w.max(at)));
}

// --- Cross-Origin Resource Sharing -----------------------------------------------------------

/// Graded on the response to the request that carried [`FOREIGN_ORIGIN`].
fn cross_origin_resource_sharing(cors: &Response) -> Outcome {
    const TEST: &str = "cross-origin-resource-sharing";
    let Some(allow) = cors.first("access-control-allow-origin") else {
        return outcome(TEST, "cross-origin-resource-sharing-not-implemented", 0);
    };
    let allow = allow.trim().to_ascii_lowercase();
    let credentials = cors
        .first("access-control-allow-credentials")
        .is_some_and(|c| c.trim().eq_ignore_ascii_case("true"));
    if allow == "*" {
        outcome(
            TEST,
            "cross-origin-resource-sharing-implemented-with-public-access",
            0,
        )
    } else if allow == FOREIGN_ORIGIN && credentials {
        outcome(
            TEST,
            "cross-origin-resource-sharing-implemented-with-universal-access",
            -50,
        )
    } else {
        outcome(
            TEST,
            "cross-origin-resource-sharing-implemented-with-restricted-access",
            0,
        )
    }
}

// --- Referrer-Policy -------------------------------------------------------------------------

fn referrer_policy(response: &Response) -> Outcome {
    const TEST: &str = "referrer-policy";
    const PRIVATE: &[&str] = &[
        "no-referrer",
        "same-origin",
        "strict-origin",
        "strict-origin-when-cross-origin",
    ];
    const UNSAFE: &[&str] = &[
        "origin",
        "origin-when-cross-origin",
        "unsafe-url",
        "no-referrer-when-downgrade",
    ];
    let values = response.all("referrer-policy");
    if values.is_empty() {
        return outcome(TEST, "referrer-policy-not-implemented", 0);
    }
    // The last policy a browser understands is the one it uses.
    let joined = values.join(",").to_ascii_lowercase();
    let last = joined
        .split(',')
        .map(str::trim)
        .rfind(|p| PRIVATE.contains(p) || UNSAFE.contains(p));
    match last {
        Some(p) if PRIVATE.contains(&p) => outcome(TEST, "referrer-policy-private", 5),
        Some(_) => outcome(TEST, "referrer-policy-unsafe", -5),
        None => outcome(TEST, "referrer-policy-header-invalid", -5),
    }
}

// --- Strict-Transport-Security ---------------------------------------------------------------

fn strict_transport_security(response: &Response) -> Outcome {
    const TEST: &str = "strict-transport-security";
    // 15768000 s is six months; the scanner accepts the common 15552000 (180 days).
    const SIX_MONTHS: u64 = 15_552_000;
    if !response.https {
        return outcome(TEST, "hsts-not-implemented-no-https", -20);
    }
    let Some(header) = response.first("strict-transport-security") else {
        return outcome(TEST, "hsts-not-implemented", -20);
    };
    if header.contains(',') {
        return outcome(TEST, "hsts-header-invalid", -20);
    }
    let max_age = header
        .split(';')
        .map(|p| p.trim().to_ascii_lowercase())
        .find_map(|p| p.strip_prefix("max-age=").map(str::to_string))
        .and_then(|v| v.trim_matches('"').parse::<u64>().ok());
    match max_age {
        None => outcome(TEST, "hsts-header-invalid", -20),
        Some(age) if age < SIX_MONTHS => {
            outcome(TEST, "hsts-implemented-max-age-less-than-six-months", -10)
        }
        Some(_) => outcome(TEST, "hsts-implemented-max-age-at-least-six-months", 0),
    }
}

// --- Subresource Integrity -------------------------------------------------------------------

/// Each `<script …>` tag's `src` and `integrity`, from a small tag scanner.
fn scripts(html: &str) -> Vec<(Option<String>, Option<String>)> {
    let lower = html.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = lower[from..].find("<script") {
        let start = from + at + "<script".len();
        let end = lower[start..].find('>').map_or(lower.len(), |e| start + e);
        let tag = &html[start..end];
        out.push((attribute(tag, "src"), attribute(tag, "integrity")));
        from = end;
    }
    out
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    while let Some(at) = lower[from..].find(name) {
        let at = from + at;
        let before = lower[..at].chars().last();
        let rest = lower[at + name.len()..].trim_start();
        if before.is_some_and(char::is_whitespace) && rest.starts_with('=') {
            let value_at = tag.len() - rest.len() + 1;
            let value = tag[value_at..].trim_start();
            let quote = value.chars().next()?;
            let value = if quote == '"' || quote == '\'' {
                let inner = &value[1..];
                &inner[..inner.find(quote).unwrap_or(inner.len())]
            } else {
                value.split_whitespace().next().unwrap_or("")
            };
            return Some(value.to_string());
        }
        from = at + name.len();
    }
    None
}

/// The registrable domain, approximated by the last two labels.
fn second_level(host: &str) -> String {
    let labels: Vec<&str> = host.rsplit('.').take(2).collect();
    labels.into_iter().rev().collect::<Vec<_>>().join(".")
}

fn subresource_integrity(response: &Response) -> Outcome {
    const TEST: &str = "subresource-integrity";
    const WORSE: &[(&str, i32)] = &[
        ("sri-implemented-and-all-scripts-loaded-securely", 5),
        ("sri-implemented-and-external-scripts-loaded-securely", 5),
        (
            "sri-implemented-but-external-scripts-not-loaded-securely",
            -20,
        ),
        (
            "sri-not-implemented-but-external-scripts-loaded-securely",
            -5,
        ),
        (
            "sri-not-implemented-and-external-scripts-not-loaded-securely",
            -50,
        ),
    ];
    let mime = response
        .first("content-type")
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if !mime.is_empty() && mime != "text/html" && mime != "application/xhtml+xml" {
        return outcome(TEST, "sri-not-implemented-response-not-html", 0);
    }
    let found = scripts(&response.body);
    if found.is_empty() {
        return outcome(TEST, "sri-not-implemented-but-no-scripts-loaded", 0);
    }
    let mut worst: Option<usize> = None;
    let mut foreign = false;
    for (src, integrity) in found {
        let Some(src) = src else { continue };
        let protocol_relative = src.starts_with("//") && !src.starts_with("///");
        let full = src.starts_with("http://") || src.starts_with("https://");
        let relative = !protocol_relative && !full;
        let same_domain = if protocol_relative {
            true
        } else if full {
            let host = src
                .split("://")
                .nth(1)
                .and_then(|r| r.split(['/', ':', '?', '#']).next())
                .unwrap_or("");
            second_level(host) == second_level(SITE_HOST)
        } else {
            true
        };
        let secure_origin = relative || (same_domain && !protocol_relative);
        let secure_scheme = src.starts_with("https://") || (relative && response.https);
        if !secure_origin {
            foreign = true;
            match (integrity.is_some(), secure_scheme) {
                (true, false) => keep_worse(
                    &mut worst,
                    WORSE,
                    "sri-implemented-but-external-scripts-not-loaded-securely",
                ),
                (false, true) => keep_worse(
                    &mut worst,
                    WORSE,
                    "sri-not-implemented-but-external-scripts-loaded-securely",
                ),
                (false, false) => keep_worse(
                    &mut worst,
                    WORSE,
                    "sri-not-implemented-and-external-scripts-not-loaded-securely",
                ),
                (true, true) => {}
            }
        } else if integrity.is_some() && secure_scheme && worst.is_none() {
            keep_worse(
                &mut worst,
                WORSE,
                "sri-implemented-and-all-scripts-loaded-securely",
            );
        }
    }
    match worst {
        Some(at) => outcome(TEST, WORSE[at].0, WORSE[at].1),
        None if foreign => outcome(
            TEST,
            "sri-implemented-and-external-scripts-loaded-securely",
            5,
        ),
        None => outcome(
            TEST,
            "sri-not-implemented-but-all-scripts-loaded-from-secure-origin",
            0,
        ),
    }
}

// --- The simple headers ----------------------------------------------------------------------

fn x_content_type_options(response: &Response) -> Outcome {
    const TEST: &str = "x-content-type-options";
    match response.first("x-content-type-options") {
        None => outcome(TEST, "x-content-type-options-not-implemented", -5),
        Some(v) if v.trim().eq_ignore_ascii_case("nosniff") => {
            outcome(TEST, "x-content-type-options-nosniff", 0)
        }
        Some(_) => outcome(TEST, "x-content-type-options-header-invalid", -5),
    }
}

fn x_frame_options(response: &Response) -> Outcome {
    const TEST: &str = "x-frame-options";
    // CSP frame-ancestors supersedes the header (and only counts when sent as a header).
    if let Some(Ok(policy)) = header_policy(response)
        && policy.get("frame-ancestors").is_some()
    {
        return outcome(TEST, "x-frame-options-implemented-via-csp", 5);
    }
    match response
        .first("x-frame-options")
        .map(|v| v.trim().to_ascii_lowercase())
    {
        None => outcome(TEST, "x-frame-options-not-implemented", -20),
        Some(v) if v == "deny" || v == "sameorigin" => {
            outcome(TEST, "x-frame-options-sameorigin-or-deny", 0)
        }
        Some(v) if v.starts_with("allow-from") => {
            outcome(TEST, "x-frame-options-allow-from-origin", 0)
        }
        Some(_) => outcome(TEST, "x-frame-options-header-invalid", -20),
    }
}

fn cross_origin_resource_policy(response: &Response) -> Outcome {
    const TEST: &str = "cross-origin-resource-policy";
    match response
        .first("cross-origin-resource-policy")
        .map(|v| v.trim().to_ascii_lowercase())
        .as_deref()
    {
        None => outcome(TEST, "corp-not-implemented", 0),
        Some("same-origin") => outcome(TEST, "corp-implemented-with-same-origin", 10),
        Some("same-site") => outcome(TEST, "corp-implemented-with-same-site", 10),
        Some("cross-origin") => outcome(TEST, "corp-implemented-with-cross-origin", 0),
        Some(_) => outcome(TEST, "corp-header-invalid", -5),
    }
}

// ---------------------------------------------------------------------------------------------
// The site's own policy, stricter than the rubric.

fn site_policy(response: &Response, cors: &Response) -> Vec<String> {
    let mut problems = Vec::new();
    if cors
        .first("access-control-allow-origin")
        .is_some_and(|v| v.trim() == "*")
    {
        problems.push("Access-Control-Allow-Origin: * (nothing here is public data)".into());
    }
    for raw in response.all("set-cookie") {
        let c = parse_cookie(raw);
        let mut missing = Vec::new();
        if response.https {
            // __Host-: Secure, Path=/, no Domain — the cookie cannot be set or widened by a
            // sibling subdomain.
            if !c.name.starts_with("__Host-") {
                missing.push("the __Host- prefix");
            }
            if c.path.as_deref() != Some("/") {
                missing.push("Path=/");
            }
            if c.domain {
                missing.push("no Domain");
            }
            if !c.secure {
                missing.push("Secure");
            }
        }
        if !c.http_only {
            missing.push("HttpOnly");
        }
        if !matches!(c.same_site.as_deref(), Some("strict" | "lax")) {
            missing.push("SameSite=Strict or Lax");
        }
        if !missing.is_empty() {
            problems.push(format!("cookie {} lacks {}", c.name, missing.join(", ")));
        }
    }
    problems
}
