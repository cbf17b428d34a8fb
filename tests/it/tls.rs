//! HTTPS served by the binary itself: certificate files (served over HTTP/2 by ALPN, the plain
//! port redirecting, the files replaced on `SIGHUP` mid-traffic), and automatic certificates
//! from Debian's `pebble` ACME test server on loopback.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::common::tls::{TestCa, client_config, https_get};
use crate::common::{Process, blocking_get, database_env, free_port};

/// Writes `bytes` to `path` in one step (a reader never sees half a file).
fn replace_file(path: &Path, bytes: &str) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, bytes).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

/// Writes a certificate and its key as PEM files in a folder of their own, removed with the
/// returned folder.
fn certificate_files(cert: &str, key: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let files = tempfile::tempdir().expect("tempdir");
    let (cert_file, key_file) = (files.path().join("cert.pem"), files.path().join("key.pem"));
    replace_file(&cert_file, cert);
    replace_file(&key_file, key);
    (files, cert_file, key_file)
}

/// The `[tls]` lines that serve these certificate files.
fn files_section(cert_file: &Path, key_file: &Path) -> String {
    format!(
        "cert_file = \"{}\"\nkey_file = \"{}\"\n",
        cert_file.display(),
        key_file.display()
    )
}

/// The binary serving HTTPS on `https` and redirecting on `plain`, with `tls_section` as its
/// `[tls]` (without `bind`, which is added).
struct HttpsProcess {
    process: Process,
    https: SocketAddr,
}

impl HttpsProcess {
    fn start(tls_section: &str, env: &[(&str, &str)]) -> HttpsProcess {
        Self::start_for("localhost", tls_section, env)
    }

    /// The same, for the site `https://{host}:{port}`.
    fn start_for(host: &str, tls_section: &str, env: &[(&str, &str)]) -> HttpsProcess {
        let dir = tempfile::tempdir().expect("tempdir");
        let plain: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        let https: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        let config = dir.path().join("kap-practice.toml");
        std::fs::write(
            &config,
            format!(
                "[server]\nbind = \"{plain}\"\nbase_url = \"https://{host}:{}\"\n\n{}\n[tls]\nbind = \"{https}\"\n{tls_section}",
                https.port(),
                crate::common::OWN_PRACTICE
            ),
        )
        .expect("config");
        let data_dir = dir.path().join("data");
        let stderr_path = dir.path().join("stderr.log");
        let stderr = std::fs::File::create(&stderr_path).expect("log file");
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_kap-practice"))
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .arg("--data-dir")
            .arg(&data_dir)
            .envs(database_env(&data_dir, false))
            .env_remove("RUST_LOG")
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("spawn kap-practice");
        let mut process = Process {
            child,
            addr: plain,
            stderr_path,
            dir,
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = process.child.try_wait() {
                panic!("kap-practice exited early ({status}): {}", process.stderr());
            }
            // `/healthz` is answered on the plain port too (everything else is redirected).
            if blocking_get(plain, "/healthz").is_some_and(|r| r.starts_with("HTTP/1.1 200")) {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "kap-practice did not answer within 20 s: {}",
                process.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        HttpsProcess { process, https }
    }

    #[cfg(feature = "slow-tests")]
    fn data_dir(&self) -> std::path::PathBuf {
        self.process.dir.path().join("data")
    }
}

/// Sends `request_line` (method and target) with `Host: {host}` and `body` to the plain listener
/// at `addr` over a new connection, and returns the whole response as text.
pub(crate) async fn plain_request(
    addr: SocketAddr,
    host: &str,
    request_line: &str,
    body: &[u8],
) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect to the plain port");
    let head = format!(
        "{request_line} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    stream.write_all(body).await.expect("write");
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out))
        .await
        .expect("answered within 10 s")
        .expect("read");
    String::from_utf8_lossy(&out).into_owned()
}

/// The value of header `name` in a raw HTTP/1.1 response, if present.
fn raw_header<'a>(response: &'a str, name: &str) -> Option<&'a str> {
    let head = response.split("\r\n\r\n").next().unwrap_or_default();
    head.lines().skip(1).find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Waits up to `within` for `f` to hold.
async fn eventually<F, Fut>(within: Duration, what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Waits up to `within` for `f` to give a value.
#[cfg(feature = "slow-tests")]
async fn until_some<T, F, Fut>(within: Duration, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        if let Some(value) = f().await {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Certificate files: `/` is served over HTTP/2 (chosen by ALPN) to a client trusting the
/// practice's CA, with the security headers and HSTS; plain HTTP is redirected to https with
/// 308, path and query kept.
#[tokio::test]
async fn certificate_files_serve_http2_and_the_plain_port_redirects() {
    let ca = TestCa::new();
    let (cert, key) = ca.issue();
    let (_files, cert_file, key_file) = certificate_files(&cert, &key);
    let p = HttpsProcess::start(&files_section(&cert_file, &key_file), &[]);
    let client = client_config(ca.pem.as_bytes());

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
    let ca = TestCa::new();
    let (cert, key) = ca.issue();
    let (_files, cert_file, key_file) = certificate_files(&cert, &key);
    let p = HttpsProcess::start(&files_section(&cert_file, &key_file), &[]);
    let client = client_config(ca.pem.as_bytes());
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

/// Debian's `pebble` ACME test server on loopback ports of its own, its HTTPS certificate from
/// `ca`, issuing certificates valid for `validity_seconds` and accepting every challenge.
#[cfg(feature = "slow-tests")]
struct Pebble {
    child: std::process::Child,
    directory: String,
    management: SocketAddr,
    _dir: tempfile::TempDir,
}

#[cfg(feature = "slow-tests")]
impl Pebble {
    fn start(ca: &TestCa, validity_seconds: u64) -> Pebble {
        let dir = tempfile::tempdir().expect("tempdir");
        let (cert, key) = ca.issue_for(&["localhost", "127.0.0.1"]);
        replace_file(&dir.path().join("cert.pem"), &cert);
        replace_file(&dir.path().join("key.pem"), &key);
        let listen: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        let management: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        let config = serde_json::json!({
            "pebble": {
                "listenAddress": listen.to_string(),
                "managementListenAddress": management.to_string(),
                "certificate": dir.path().join("cert.pem"),
                "privateKey": dir.path().join("key.pem"),
                "httpPort": free_port(),
                "tlsPort": free_port(),
                "ocspResponderURL": "",
                "externalAccountBindingRequired": false,
                "certificateValidityPeriod": validity_seconds,
            }
        });
        let config_path = dir.path().join("pebble.json");
        std::fs::write(&config_path, config.to_string()).expect("pebble config");
        let log = std::fs::File::create(dir.path().join("pebble.log")).expect("log");
        let child = std::process::Command::new("/usr/bin/pebble")
            .arg("-config")
            .arg(&config_path)
            .env("PEBBLE_VA_ALWAYS_VALID", "1")
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start /usr/bin/pebble (apt-get install pebble)");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(listen).is_err()
            || std::net::TcpStream::connect(management).is_err()
        {
            assert!(std::time::Instant::now() < deadline, "pebble did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Pebble {
            child,
            directory: format!("https://127.0.0.1:{}/dir", listen.port()),
            management,
            _dir: dir,
        }
    }

    /// The root that signs pebble's certificates (its management API), as PEM.
    async fn root(&self, ca: &TestCa) -> Vec<u8> {
        let client = client_config(ca.pem.as_bytes());
        let answer = https_get(&client, self.management, "127.0.0.1", "/roots/0")
            .await
            .expect("pebble's root");
        assert_eq!(answer.status, 200);
        answer.body.to_vec()
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(feature = "slow-tests")]
impl Drop for Pebble {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Automatic certificates from an ACME authority (pebble): obtained at first start and served
/// over HTTP/2, renewed when due without a restart, and, with the authority gone, the last
/// certificate keeps serving while `/healthz` and the log say renewal is failing.
#[cfg(feature = "slow-tests")]
#[tokio::test]
async fn acme_certificates_are_obtained_renewed_and_kept_when_the_authority_fails() {
    const SITE: &str = "practice.test";
    let ca = TestCa::new();
    // A day and 15 s: with renewal a day before expiry, each certificate is due 15 s after issue.
    let mut pebble = Pebble::start(&ca, 86_400 + 15);
    let ca_file = tempfile::NamedTempFile::new().expect("ca file");
    std::fs::write(ca_file.path(), &ca.pem).expect("ca file");
    let p = HttpsProcess::start_for(
        SITE,
        &format!(
            "acme_domains = [\"{SITE}\"]\nacme_email = \"clinician@{SITE}\"\nacme_directory = \"{}\"\nacme_ca_file = \"{}\"\nacme_renew_days_before = 1\nacme_check_seconds = 1\n",
            pebble.directory,
            ca_file.path().display()
        ),
        &[],
    );
    let client = client_config(&pebble.root(&ca).await);

    let first = until_some(Duration::from_secs(30), "the first certificate", || {
        let client = client.clone();
        async move { https_get(&client, p.https, SITE, "/").await.ok() }
    })
    .await;
    assert_eq!(first.version, hyper::Version::HTTP_2);
    assert_eq!(first.status, 200);
    let info = kap_practice::tls::CertificateInfo::from_der(&first.certificate).expect("x509");
    assert_eq!(info.names, vec![SITE.to_string()]);
    let kept = p.data_dir().join("tls").join("certificate.pem");
    assert!(
        kept.is_file(),
        "the certificate is kept in the data directory"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for file in ["certificate.pem", "key.pem", "account.json"] {
            let mode = std::fs::metadata(p.data_dir().join("tls").join(file))
                .expect(file)
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{file}");
        }
    }

    // Renewed when due, by the same process.
    let renewed = until_some(Duration::from_secs(60), "a renewed certificate", || {
        let client = client.clone();
        let old = first.certificate.clone();
        async move {
            https_get(&client, p.https, SITE, "/")
                .await
                .ok()
                .map(|a| a.certificate)
                .filter(|c| *c != old)
        }
    })
    .await;
    let renewed_info = kap_practice::tls::CertificateInfo::from_der(&renewed).expect("x509");
    assert_ne!(renewed_info.serial, info.serial);

    // The authority goes away: renewal fails, the last certificate keeps serving.
    pebble.kill();
    until_some(Duration::from_secs(60), "renewal reported failing", || {
        let client = client.clone();
        async move {
            https_get(&client, p.https, SITE, "/healthz")
                .await
                .ok()
                .filter(|a| {
                    String::from_utf8_lossy(&a.body).contains("\"certificate_renewal\":\"failing\"")
                })
        }
    })
    .await;
    let last = https_get(&client, p.https, SITE, "/")
        .await
        .expect("still served after the authority failed");
    assert_eq!(last.status, 200);
    let last_info = kap_practice::tls::CertificateInfo::from_der(&last.certificate).expect("x509");
    assert!(last_info.not_after > jiff::Timestamp::now());
    assert!(
        p.process.stderr().contains("cannot obtain a certificate"),
        "{}",
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
    let tls = kap_practice::tls::Tls::start(
        &kap_practice::config::TlsConfig {
            bind: "127.0.0.1:0".parse().expect("addr"),
            certificate: kap_practice::config::CertificateSource::Files {
                cert_file,
                key_file,
            },
        },
        files.path(),
    )
    .expect("certificate files");
    // Served over plain HTTP on loopback, so the test client can sign in; the state holds the
    // certificate as the HTTPS server's does.
    let app = crate::common::TestApp::start_with_tls("", tls.clone()).await;
    app.add_clinician().await;
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
    let (_files, cert_file, key_file) = certificate_files(&cert, &key);
    let mut p = HttpsProcess::start(&files_section(&cert_file, &key_file), &[]);
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
        waited >= Duration::from_secs(9),
        "closed only after the timeout: {waited:?}"
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
        ("cross-origin-opener-policy", "same-origin"),
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
    let (_files, cert_file, key_file) = certificate_files(&cert, &key);
    let p = HttpsProcess::start(&files_section(&cert_file, &key_file), &[]);
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
    let app = crate::common::TestApp::start_https(crate::common::OWN_PRACTICE, "localhost").await;
    let plain = app.https.as_ref().expect("served over https").plain;
    let tls = app.state.tls.clone().expect("the certificate state");
    tls.set_challenges(std::collections::HashMap::from([(
        "tok-3xY_9".to_string(),
        "tok-3xY_9.thumbprint-of-the-account-key".to_string(),
    )]));

    for host in ["localhost", "practice.example"] {
        let answer = plain_request(
            plain,
            host,
            "GET /.well-known/acme-challenge/tok-3xY_9",
            b"",
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(
            answer.ends_with("\r\n\r\ntok-3xY_9.thumbprint-of-the-account-key"),
            "the key authorization, exactly: {answer}"
        );
        assert_security_headers(&answer, "the challenge's answer");
    }
    let unknown = plain_request(
        plain,
        "localhost",
        "GET /.well-known/acme-challenge/other",
        b"",
    )
    .await;
    assert!(unknown.starts_with("HTTP/1.1 404"), "{unknown}");
    assert!(unknown.contains("No such challenge"), "{unknown}");
    assert_security_headers(&unknown, "an unknown challenge");

    // Once the order is done, the token is no longer answered.
    tls.set_challenges(std::collections::HashMap::new());
    let done = plain_request(
        plain,
        "localhost",
        "GET /.well-known/acme-challenge/tok-3xY_9",
        b"",
    )
    .await;
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
    let ca = TestCa::new();
    let (cert, key) = ca.issue();
    let (_files, cert_file, key_file) = certificate_files(&cert, &key);
    let p = HttpsProcess::start(&files_section(&cert_file, &key_file), &[]);
    let client = client_config(ca.pem.as_bytes());
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

/// With the certificate authority gone and the certificate it issued expiring within 14 days
/// (pebble's live a day), the inbox shows the warning with what to check; before, it shows
/// none.
#[cfg(feature = "slow-tests")]
#[tokio::test]
async fn the_inbox_warns_when_the_authority_fails() {
    const SITE: &str = "practice.test";
    let ca = TestCa::new();
    // Due for renewal 15 s after issue, as in the test above.
    let mut pebble = Pebble::start(&ca, 86_400 + 15);
    let dir = tempfile::tempdir().expect("tempdir");
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &ca.pem).expect("ca file");
    let acme = kap_practice::config::AcmeConfig {
        domains: vec![SITE.to_string()],
        email: format!("clinician@{SITE}"),
        directory: pebble.directory.clone(),
        ca_file: Some(ca_file),
        renew_days_before: 1,
        check_seconds: 1,
    };
    let data = dir.path().join("data");
    let tls = kap_practice::tls::Tls::start(
        &kap_practice::config::TlsConfig {
            bind: "127.0.0.1:0".parse().expect("addr"),
            certificate: kap_practice::config::CertificateSource::Acme(acme.clone()),
        },
        &data,
    )
    .expect("tls");
    let renewal = tokio::spawn(kap_practice::tls::acme::run(tls.clone(), acme, data));
    until_some(Duration::from_secs(30), "the first certificate", || {
        let info = tls.info();
        async move { info }
    })
    .await;

    let app = crate::common::TestApp::start_with_tls("", tls.clone()).await;
    app.add_clinician().await;
    let mut clinician = crate::common::clinician::Clinician::signed_in(&app).await;
    let inbox = clinician.get("/admin").await.text();
    assert!(!inbox.contains("HTTPS certificate not renewed"), "{inbox}");

    pebble.kill();
    until_some(Duration::from_secs(60), "renewal reported failing", || {
        let failure = tls.failure();
        async move { failure }
    })
    .await;
    let inbox = clinician.get("/admin").await.text();
    assert!(inbox.contains("HTTPS certificate not renewed"), "{inbox}");
    assert!(inbox.contains("port 80 is open"), "{inbox}");
    renewal.abort();
}
