//! HTTPS served by the binary itself: certificate files (served over HTTP/2 by ALPN, the plain
//! port redirecting, the files replaced on `SIGHUP` mid-traffic). Automatic certificates from
//! Debian's `pebble` ACME test server are in the slow tier (tests/slow/tls.rs).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::common::tls::{
    HttpsProcess, TLS_HANDSHAKE, TestCa, certificate_files, client_config, eventually, https_get,
    plain_request, raw_header, replace_file, serving_files,
};

/// A certificate for localhost from a CA of the test's own, served by the binary from files
/// ([`serving_files`]), and a client that trusts the CA.
struct Served {
    ca: TestCa,
    /// The certificate's PEM.
    cert: String,
    /// The files' folder, to keep while the server runs, and the files in it.
    _files: tempfile::TempDir,
    cert_file: PathBuf,
    key_file: PathBuf,
    p: HttpsProcess,
    client: Arc<rustls::ClientConfig>,
}

impl Served {
    fn start() -> Served {
        let ca = TestCa::new();
        let (cert, key) = ca.issue();
        let (_files, cert_file, key_file, p) = serving_files(&cert, &key);
        let client = client_config(ca.pem.as_bytes());
        Served {
            ca,
            cert,
            _files,
            cert_file,
            key_file,
            p,
            client,
        }
    }
}

/// The answer on the plain port at `plain` to the HTTP-01 challenge for `token`, asked for as
/// `host`.
async fn challenge(plain: std::net::SocketAddr, host: &str, token: &str) -> String {
    let request = format!("GET /.well-known/acme-challenge/{token}");
    plain_request(plain, host, &request, b"").await
}

/// Certificate files: `/` is served over HTTP/2 (chosen by ALPN) to a client trusting the
/// practice's CA, with the security headers and HSTS; plain HTTP is redirected to https with
/// 308, path and query kept.
#[tokio::test]
async fn certificate_files_serve_http2_and_the_plain_port_redirects() {
    let Served {
        p, client, _files, ..
    } = Served::start();

    let home = https_get(&client, p.https, "localhost", "/")
        .await
        .expect("GET / over HTTPS");
    assert_eq!(home.alpn.as_deref(), Some(&b"h2"[..]), "ALPN chose HTTP/2");
    assert_eq!(home.version, hyper::Version::HTTP_2);
    assert_eq!(home.status, 200);
    assert!(
        String::from_utf8_lossy(&home.body).contains("<html"),
        "the home page"
    );
    let header = |name: &str| {
        home.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        header("strict-transport-security").contains("max-age="),
        "HSTS: {:?}",
        home.headers
    );
    assert!(header("content-security-policy").contains("default-src 'self'"));
    assert!(header("content-security-policy").contains("upgrade-insecure-requests"));
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(header("x-frame-options"), "DENY");

    // HTTP/1.1 by ALPN too, for clients without HTTP/2.
    let mut h1 = (*client).clone();
    h1.alpn_protocols = vec![b"http/1.1".to_vec()];
    let old = https_get(&Arc::new(h1), p.https, "localhost", "/healthz")
        .await
        .expect("GET /healthz over HTTP/1.1");
    assert_eq!(old.version, hyper::Version::HTTP_11);
    assert_eq!(old.status, 200);
    let health = String::from_utf8_lossy(&old.body).into_owned();
    assert!(health.contains("certificate"), "{health}");

    // A client that does not trust the CA is refused at the handshake.
    let stranger = client_config(TestCa::new().pem.as_bytes());
    assert!(
        https_get(&stranger, p.https, "localhost", "/")
            .await
            .is_err()
    );

    let reply = plain_request(p.process.addr, "localhost", "GET /contact?from=home", b"").await;
    assert!(reply.starts_with("HTTP/1.1 308"), "{reply}");
    let location = format!(
        "location: https://localhost:{}/contact?from=home",
        p.https.port()
    );
    assert!(reply.to_ascii_lowercase().contains(&location), "{reply}");
}

/// New certificate files and `SIGHUP` while requests keep coming: none fails, and the next
/// connections get the new certificate.
#[tokio::test]
async fn replaced_files_are_served_after_sighup_without_a_failed_request() {
    let Served {
        p,
        client,
        cert,
        ca,
        cert_file,
        key_file,
        _files,
    } = Served::start();
    let first_der = CertificateDer::from_pem_slice(cert.as_bytes())
        .expect("PEM")
        .to_vec();
    let first = https_get(&client, p.https, "localhost", "/")
        .await
        .expect("first");
    assert_eq!(first.certificate, first_der);

    // Traffic: four clients, each a new connection per request (so each handshake picks the
    // certificate in use at that moment), plus one HTTP/2 connection kept open throughout.
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..4 {
        let (client, stop, done, addr) = (client.clone(), stop.clone(), done.clone(), p.https);
        workers.push(tokio::spawn(async move {
            let mut failures = Vec::new();
            let mut certificates = std::collections::HashSet::new();
            while !stop.load(Ordering::Relaxed) {
                match https_get(&client, addr, "localhost", "/").await {
                    Ok(a) if a.status == 200 => {
                        certificates.insert(a.certificate);
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(a) => failures.push(format!("status {}", a.status)),
                    Err(e) => failures.push(e),
                }
            }
            (failures, certificates)
        }));
    }
    let kept = {
        let tcp = tokio::net::TcpStream::connect(p.https)
            .await
            .expect("connect");
        let tls = tokio_rustls::TlsConnector::from(client.clone())
            .connect(
                rustls_pki_types::ServerName::try_from("localhost").expect("name"),
                tcp,
            )
            .await
            .expect("handshake");
        let (sender, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
                .await
                .expect("h2");
        tokio::spawn(connection);
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut sender = sender;
            let mut failures = Vec::new();
            let mut answered = 0;
            while !stop.load(Ordering::Relaxed) {
                let request = hyper::Request::get("https://localhost/")
                    .body(Empty::<Bytes>::new())
                    .expect("request");
                match sender.send_request(request).await {
                    Ok(r) if r.status() == 200 => {
                        let _ = r.into_body().collect().await;
                        answered += 1;
                    }
                    Ok(r) => failures.push(format!("kept connection: status {}", r.status())),
                    Err(e) => failures.push(format!("kept connection: {e}")),
                }
            }
            (failures, answered)
        })
    };
    eventually(Duration::from_secs(10), "traffic", || {
        let n = done.load(Ordering::Relaxed);
        async move { n >= 20 }
    })
    .await;

    let (new_cert, new_key) = ca.issue();
    let new_der = CertificateDer::from_pem_slice(new_cert.as_bytes())
        .expect("PEM")
        .to_vec();
    replace_file(&key_file, &new_key);
    replace_file(&cert_file, &new_cert);
    let before = done.load(Ordering::Relaxed);
    p.process.signal("HUP");
    eventually(Duration::from_secs(10), "the new certificate", || {
        let client = client.clone();
        let new_der = new_der.clone();
        async move {
            https_get(&client, p.https, "localhost", "/")
                .await
                .is_ok_and(|a| a.certificate == new_der)
        }
    })
    .await;
    // Some more traffic on the new certificate.
    eventually(Duration::from_secs(10), "traffic after the reload", || {
        let n = done.load(Ordering::Relaxed);
        async move { n >= before + 20 }
    })
    .await;
    stop.store(true, Ordering::Relaxed);

    let mut seen = std::collections::HashSet::new();
    for worker in workers {
        let (failures, certificates) = worker.await.expect("worker");
        assert!(failures.is_empty(), "failed requests: {failures:?}");
        seen.extend(certificates);
    }
    let (failures, answered) = kept.await.expect("kept connection");
    assert!(failures.is_empty(), "failed requests: {failures:?}");
    assert!(answered > 0, "the kept connection was used");
    assert!(seen.contains(&first_der) && seen.contains(&new_der));
    assert_eq!(
        p.process.stderr().matches("certificate in use").count(),
        2,
        "the start and the reload: {}",
        p.process.stderr()
    );
}

/// A renewal that failed with the certificate expiring within 14 days is shown in the inbox,
/// with the reason and what to check; `/healthz` says renewal is failing. Before the failure,
/// neither says anything.
#[tokio::test]
async fn the_inbox_warns_when_renewal_fails_close_to_expiry() {
    let ca = TestCa::new();
    let (cert, key) = ca.issue_expiring_in(5);
    let (files, cert_file, key_file) = certificate_files(&cert, &key);
    let tls = crate::common::tls::from_files(cert_file, key_file, files.path());
    let app = crate::common::tls::app_holding(tls.clone()).await;
    let mut clinician = crate::common::clinician::Clinician::signed_in(&app).await;

    let inbox = clinician.get("/admin").await;
    assert_eq!(inbox.status, 200);
    assert!(!inbox.text().contains("HTTPS certificate not renewed"));
    let health = app.get("/healthz").await.text();
    assert!(
        health.contains("\"certificate_renewal\":\"ok\""),
        "{health}"
    );
    assert!(health.contains("\"certificate_expires\":\""), "{health}");

    tls.record_failure("the certificate authority cannot be reached".to_string());
    let inbox = clinician.get("/admin").await.text();
    assert!(inbox.contains("HTTPS certificate not renewed"), "{inbox}");
    assert!(
        inbox.contains("the certificate authority cannot be reached"),
        "{inbox}"
    );
    assert!(inbox.contains("port 80 is open"), "{inbox}");
    let health = app.get("/healthz").await.text();
    assert!(
        health.contains("\"certificate_renewal\":\"failing\""),
        "{health}"
    );
}

/// A client that connects to the HTTPS port and never starts the handshake is closed after the
/// handshake timeout (10 s); `SIGTERM` then stops both listeners and the process exits cleanly.
#[tokio::test]
async fn a_silent_client_is_dropped_and_sigterm_stops_both_listeners() {
    use tokio::io::AsyncReadExt;
    let ca = TestCa::new();
    let (cert, key) = ca.issue();
    let (_files, _, _, mut p) = serving_files(&cert, &key);
    let started = std::time::Instant::now();
    let mut silent = tokio::net::TcpStream::connect(p.https)
        .await
        .expect("connect");
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(20), silent.read(&mut buf))
        .await
        .expect("closed by the server within 20 s");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    let waited = started.elapsed();
    assert!(
        waited >= TLS_HANDSHAKE - Duration::from_millis(250),
        "closed only after the handshake time: {waited:?}"
    );

    // Still serving others meanwhile.
    let client = client_config(ca.pem.as_bytes());
    assert_eq!(
        https_get(&client, p.https, "localhost", "/")
            .await
            .expect("served")
            .status,
        200
    );

    p.process.signal("TERM");
    let status = tokio::task::spawn_blocking(move || {
        let status = p.process.wait_exit(Duration::from_secs(15));
        (status, p)
    })
    .await
    .expect("join");
    let (status, p) = status;
    assert!(
        status.is_some_and(|s| s.success()),
        "{status:?}: {}",
        p.process.stderr()
    );
    assert!(std::net::TcpStream::connect(p.https).is_err());
    assert!(std::net::TcpStream::connect(p.process.addr).is_err());
}

/// The security headers every plain-HTTP response carries, and its request id, in a raw
/// response.
fn assert_security_headers(response: &str, what: &str) {
    for (name, want) in [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        ("cross-origin-resource-policy", "same-origin"),
    ] {
        assert_eq!(
            raw_header(response, name),
            Some(want),
            "{what}: {name}\n{response}"
        );
    }
    assert!(
        raw_header(response, "content-security-policy")
            .is_some_and(|v| v.contains("default-src 'self'") && v.contains("frame-ancestors")),
        "{what}: CSP\n{response}"
    );
    assert!(
        raw_header(response, "x-request-id").is_some_and(|v| v.parse::<u64>().is_ok()),
        "{what}: request id\n{response}"
    );
    // HSTS must not be sent over plain HTTP (RFC 6797 §7.2).
    assert_eq!(
        raw_header(response, "strict-transport-security"),
        None,
        "{what}: no HSTS over plain HTTP\n{response}"
    );
}

/// Every answer of the plain port passes the same middleware as the site's: security headers,
/// request id, the access log line (path without the query) and the body limit. The redirect
/// keeps path and query and always goes to the configured public address; a host that is not
/// the site's is refused with 421 and a plain message, not redirected; `/healthz` is answered
/// in place for a load balancer's plain check, whatever host it names.
#[tokio::test]
async fn every_answer_of_the_plain_port_passes_the_middleware() {
    let ca = TestCa::new();
    let (cert, key) = ca.issue_for(&["localhost", "www.localhost"]);
    let (_files, _, _, p) = serving_files(&cert, &key);
    let plain = p.process.addr;
    let site = format!("https://localhost:{}", p.https.port());

    // The site's host, in any case and with a port; the redirect keeps path and query.
    let redirect =
        plain_request(plain, "LocalHost:80", "GET /privacy?topic=fees&page=2", b"").await;
    assert!(redirect.starts_with("HTTP/1.1 308"), "{redirect}");
    let privacy = format!("{site}/privacy?topic=fees&page=2");
    assert_eq!(raw_header(&redirect, "location"), Some(privacy.as_str()));
    assert_security_headers(&redirect, "the redirect");
    // Another of the certificate's names goes to the one public address too, a form's POST
    // with it (308 keeps the method).
    let post = plain_request(plain, "www.localhost", "POST /contact", b"name=x").await;
    assert!(post.starts_with("HTTP/1.1 308"), "{post}");
    let contact = format!("{site}/contact");
    assert_eq!(raw_header(&post, "location"), Some(contact.as_str()));

    // A host that is not the site's: refused, never redirected.
    for host in [
        "attacker.example",
        "127.0.0.1",
        "localhost.attacker.example",
    ] {
        let foreign = plain_request(plain, host, "GET /contact", b"").await;
        assert!(foreign.starts_with("HTTP/1.1 421"), "{host}: {foreign}");
        assert_eq!(raw_header(&foreign, "location"), None, "{foreign}");
        assert_eq!(
            raw_header(&foreign, "content-type"),
            Some("text/plain; charset=utf-8")
        );
        assert!(
            foreign.contains("This server does not serve the address you asked for")
                && foreign.contains(&format!("The site is at {site}/")),
            "{foreign}"
        );
        assert!(!foreign.contains(host), "the host is not echoed: {foreign}");
        assert_security_headers(&foreign, "the refusal");
    }

    // /healthz in place, for a check by address.
    let health = plain_request(plain, "10.0.0.7", "GET /healthz", b"").await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(
        health.contains("\"status\":\"ok\"") && health.contains("\"certificate_expires\":"),
        "{health}"
    );
    assert_security_headers(&health, "/healthz");

    // A method the plain port does not answer: the prepared page, without its HSTS.
    let refused = plain_request(plain, "localhost", "DELETE /healthz", b"").await;
    assert!(refused.starts_with("HTTP/1.1 405"), "{refused}");
    assert!(refused.contains("<html"), "the prepared page: {refused}");
    assert_security_headers(&refused, "the 405 page");

    // The body limit of the stack: 413 before anything reads the body.
    let large = plain_request(plain, "localhost", "POST /contact", &vec![b'a'; 70 * 1024]).await;
    assert!(large.starts_with("HTTP/1.1 413"), "{large}");
    assert_security_headers(&large, "the refused body");

    // One access log line for each, with the path and never the query string.
    let logged = |path: &str, status: u16| {
        let stderr = p.process.stderr();
        stderr.lines().any(|line| {
            line.contains(&format!("path={path} "))
                && line.contains(&format!("status={status} "))
                && line.contains("request_id=")
        })
    };
    eventually(Duration::from_secs(5), "the access log lines", || {
        let all = logged("/privacy", 308)
            && logged("/contact", 308)
            && logged("/contact", 421)
            && logged("/healthz", 200)
            && logged("/contact", 413);
        async move { all }
    })
    .await;
    assert!(
        !p.process.stderr().contains("topic=fees"),
        "no query string in the log"
    );
}

/// The certificate authority's HTTP-01 challenge is answered on the plain port (whatever name
/// it asks with), through the same middleware; an unknown token gets a 404 with a message,
/// and the rest of the port redirects to the https site, which serves the pages.
#[tokio::test]
async fn the_http_01_challenge_is_answered_on_the_plain_port() {
    let app = crate::common::TestApp::builder()
        .config(crate::common::OWN_PRACTICE)
        .https("localhost")
        .build()
        .await;
    let plain = app.https.as_ref().expect("served over https").plain;
    let tls = app.state.tls.clone().expect("the certificate state");
    tls.set_challenges(std::collections::HashMap::from([(
        "tok-3xY_9".to_string(),
        "tok-3xY_9.thumbprint-of-the-account-key".to_string(),
    )]));

    for host in ["localhost", "practice.example"] {
        let answer = challenge(plain, host, "tok-3xY_9").await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(
            answer.ends_with("\r\n\r\ntok-3xY_9.thumbprint-of-the-account-key"),
            "the key authorization, exactly: {answer}"
        );
        assert_security_headers(&answer, "the challenge's answer");
    }
    let unknown = challenge(plain, "localhost", "other").await;
    assert!(unknown.starts_with("HTTP/1.1 404"), "{unknown}");
    assert!(unknown.contains("No such challenge"), "{unknown}");
    assert_security_headers(&unknown, "an unknown challenge");

    // Once the order is done, the token is no longer answered.
    tls.set_challenges(std::collections::HashMap::new());
    let done = challenge(plain, "localhost", "tok-3xY_9").await;
    assert!(done.starts_with("HTTP/1.1 404"), "{done}");

    let redirect = plain_request(plain, "localhost", "GET /?a=1", b"").await;
    assert!(redirect.starts_with("HTTP/1.1 308"), "{redirect}");
    let location = format!("https://localhost:{}/?a=1", app.addr.port());
    assert_eq!(raw_header(&redirect, "location"), Some(location.as_str()));
    let home = app.get("/").await;
    assert_eq!(home.status, 200);
    assert!(home.text().contains("<html"));
}

/// Certificate files replaced by ones that cannot be used (a key of another certificate) and
/// `SIGHUP`: the reload is refused with the reason in the log, and the previous certificate
/// keeps serving.
#[tokio::test]
async fn a_reload_with_unusable_files_keeps_the_previous_certificate() {
    let Served {
        ca,
        _files,
        cert_file,
        key_file,
        p,
        client,
        ..
    } = Served::start();
    let served = https_get(&client, p.https, "localhost", "/")
        .await
        .expect("served")
        .certificate;

    let (new_cert, _) = ca.issue();
    let (_, other_key) = ca.issue();
    replace_file(&cert_file, &new_cert);
    replace_file(&key_file, &other_key);
    p.process.signal("HUP");
    eventually(Duration::from_secs(10), "the refused reload", || {
        let refused = p.process.stderr().contains("certificate reload refused");
        async move { refused }
    })
    .await;
    let stderr = p.process.stderr();
    assert!(
        stderr.contains("does not belong to the certificate"),
        "{stderr}"
    );
    let after = https_get(&client, p.https, "localhost", "/")
        .await
        .expect("still served");
    assert_eq!(after.status, 200);
    assert_eq!(after.certificate, served, "the previous certificate");
}
