//! HTTPS for the tests: a private certificate authority (rcgen), clients that trust only it, and
//! one request over a new TLS connection, HTTP/2 or HTTP/1.1 as ALPN chooses.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use web::tls::Tls;

use super::TestApp;

/// A private certificate authority for the test, and certificates it issues.
pub struct TestCa {
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    pub pem: String,
}

impl TestCa {
    pub fn new() -> TestCa {
        let key = rcgen::KeyPair::generate().expect("CA key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "kap-practice test CA");
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        let cert = params.self_signed(&key).expect("CA certificate");
        TestCa {
            pem: cert.pem(),
            issuer: rcgen::Issuer::new(params, key),
        }
    }

    /// A certificate for `localhost`, valid until the day `days` from now, and its key, as PEM.
    pub fn issue_expiring_in(&self, days: i64) -> (String, String) {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params =
            rcgen::CertificateParams::new(vec!["localhost".to_string()]).expect("params");
        let day = jiff::Timestamp::now()
            .checked_add(jiff::SignedDuration::from_hours(24 * days))
            .expect("date")
            .to_zoned_datetime(jiff::tz::TimeZone::UTC)
            .date();
        params.not_after = rcgen::date_time_ymd(
            i32::from(day.year()),
            u8::try_from(day.month()).expect("month"),
            u8::try_from(day.day()).expect("day"),
        );
        let cert = params.signed_by(&key, &self.issuer).expect("certificate");
        (cert.pem(), key.serialize_pem())
    }

    /// A certificate for `localhost` and its key, as PEM.
    pub fn issue(&self) -> (String, String) {
        self.issue_for(&["localhost"])
    }

    /// A certificate for `names` (DNS names or IP addresses) and its key, as PEM.
    pub fn issue_for(&self, names: &[&str]) -> (String, String) {
        let key = rcgen::KeyPair::generate().expect("key");
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let params = rcgen::CertificateParams::new(names).expect("params");
        let cert = params.signed_by(&key, &self.issuer).expect("certificate");
        (cert.pem(), key.serialize_pem())
    }

    /// A client that trusts only this authority and offers HTTP/2 and HTTP/1.1.
    pub fn client(&self) -> Arc<rustls::ClientConfig> {
        client_config(self.pem.as_bytes())
    }
}

/// A client that trusts only `roots_pem` and offers HTTP/2 and HTTP/1.1.
pub fn client_config(roots_pem: &[u8]) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(roots_pem) {
        roots.add(cert.expect("PEM certificate")).expect("root");
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocol versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    // A full handshake every time, so each connection shows the certificate served now (a
    // resumed session keeps the one it began with).
    config.resumption = rustls::client::Resumption::disabled();
    Arc::new(config)
}

/// What one request over a new TLS connection brought back.
pub struct Answer {
    pub alpn: Option<Vec<u8>>,
    pub version: hyper::Version,
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
    /// The serving certificate (DER).
    pub certificate: Vec<u8>,
}

/// Sends `method path` with `headers` and `body` to `addr` over a new TLS connection for `host`,
/// with HTTP/2 when negotiated.
pub async fn https_request(
    config: &Arc<rustls::ClientConfig>,
    addr: SocketAddr,
    host: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Result<Answer, String> {
    let exchange = async {
        let tcp = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let name =
            rustls_pki_types::ServerName::try_from(host.to_string()).map_err(|e| e.to_string())?;
        let tls = tokio_rustls::TlsConnector::from(config.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        let (_, session) = tls.get_ref();
        let alpn = session.alpn_protocol().map(<[u8]>::to_vec);
        let certificate = session
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| c.to_vec())
            .unwrap_or_default();
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(format!("https://{host}{path}"));
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let request = request.body(Full::new(body)).map_err(|e| e.to_string())?;
        let response = if alpn.as_deref() == Some(b"h2") {
            let (mut sender, connection) =
                hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
                    .await
                    .map_err(|e| format!("h2 handshake: {e}"))?;
            tokio::spawn(connection);
            sender.send_request(request).await
        } else {
            let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
                .await
                .map_err(|e| format!("http1 handshake: {e}"))?;
            tokio::spawn(connection);
            sender.send_request(request).await
        }
        .map_err(|e| format!("request: {e}"))?;
        let version = response.version();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("body: {e}"))?
            .to_bytes();
        Ok::<Answer, String>(Answer {
            alpn,
            version,
            status,
            headers,
            body,
            certificate,
        })
    };
    // A server that never answers fails the test instead of holding the whole run.
    tokio::time::timeout(super::PATIENCE, exchange)
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "no answer to {method} {path} within {:?}",
                super::PATIENCE
            ))
        })
}

/// GET `path` from `addr` over a new TLS connection for `host`, with HTTP/2 when negotiated.
pub async fn https_get(
    config: &Arc<rustls::ClientConfig>,
    addr: SocketAddr,
    host: &str,
    path: &str,
) -> Result<Answer, String> {
    https_request(config, addr, host, "GET", path, &[], Bytes::new()).await
}

// The binary serving HTTPS itself, and waiting on it.

use super::{Process, Ready, blocking_get, database_env, free_port};

/// Writes `bytes` to `path` in one step (a reader never sees half a file).
pub fn replace_file(path: &Path, bytes: &str) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, bytes).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

/// The server's certificate state, started from the PEM files `cert_file` and `key_file` with
/// `data_dir` as its folder.
pub fn from_files(cert_file: PathBuf, key_file: PathBuf, data_dir: &Path) -> Arc<Tls> {
    Tls::start(
        &settings::config::TlsConfig {
            bind: "127.0.0.1:0".parse().expect("addr"),
            certificate: settings::config::CertificateSource::Files {
                cert_file,
                key_file,
            },
        },
        data_dir,
    )
    .expect("certificate files")
}

/// A server over plain HTTP on loopback (so the test client can sign in) whose state holds
/// `tls` as the HTTPS server's does, with the clinician's account added.
pub async fn app_holding(tls: Arc<Tls>) -> TestApp {
    let app = TestApp::builder().tls_state(tls).build().await;
    app.add_clinician().await;
    app
}

/// Writes a certificate and its key as PEM files in a folder of their own, removed with the
/// returned folder.
pub fn certificate_files(cert: &str, key: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let files = tempfile::tempdir().expect("tempdir");
    let (cert_file, key_file) = (files.path().join("cert.pem"), files.path().join("key.pem"));
    replace_file(&cert_file, cert);
    replace_file(&key_file, key);
    (files, cert_file, key_file)
}

/// `cert` and `key` in files of their own (see [`certificate_files`]), and the binary serving
/// them.
pub fn serving_files(cert: &str, key: &str) -> (tempfile::TempDir, PathBuf, PathBuf, HttpsProcess) {
    let (files, cert_file, key_file) = certificate_files(cert, key);
    let process = HttpsProcess::start(&files_section(&cert_file, &key_file), &[]);
    (files, cert_file, key_file, process)
}

/// The `[tls]` lines that serve these certificate files.
pub fn files_section(cert_file: &Path, key_file: &Path) -> String {
    format!(
        "cert_file = \"{}\"\nkey_file = \"{}\"\n",
        cert_file.display(),
        key_file.display()
    )
}

/// The TLS handshake time of [`HttpsProcess`] (`server.tls_handshake_timeout_seconds`; 10 s in
/// production): a test waits it out.
pub const TLS_HANDSHAKE: Duration = Duration::from_secs(3);

/// The binary serving HTTPS on `https` and redirecting on `plain`, with `tls_section` as its
/// `[tls]` (without `bind`, which is added).
pub struct HttpsProcess {
    pub process: Process,
    pub https: SocketAddr,
}

impl HttpsProcess {
    pub fn start(tls_section: &str, env: &[(&str, &str)]) -> HttpsProcess {
        Self::start_for("localhost", tls_section, env)
    }

    /// The same, for the site `https://{host}:{port}`.
    pub fn start_for(host: &str, tls_section: &str, env: &[(&str, &str)]) -> HttpsProcess {
        let mut dir = tempfile::tempdir().expect("tempdir");
        // Free ports may be taken by another process before the server binds them: it then
        // stops at once, saying so, and starts again on others (see `Process::serve_on`).
        for _ in 0..super::PORT_TRIES {
            let plain: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
            let https: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
            let config = dir.path().join("kap-practice.toml");
            std::fs::write(
                &config,
                format!(
                    "[server]\nbind = \"{plain}\"\nbase_url = \"https://{host}:{}\"\ntls_handshake_timeout_seconds = {}\n\n{}\n[tls]\nbind = \"{https}\"\n{tls_section}",
                    https.port(),
                    TLS_HANDSHAKE.as_secs(),
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
            // `/healthz` is answered on the plain port too (everything else is redirected).
            match process.wait_ready(|p| {
                blocking_get(p.addr, "/healthz").is_some_and(|r| r.starts_with("HTTP/1.1 200"))
            }) {
                Ready::Up => return HttpsProcess { process, https },
                Ready::PortTaken => {
                    let _ = std::fs::remove_dir_all(&data_dir);
                    dir =
                        std::mem::replace(&mut process.dir, tempfile::tempdir().expect("tempdir"));
                }
            }
        }
        panic!(
            "kap-practice found its ports taken {} times",
            super::PORT_TRIES
        );
    }

    pub fn data_dir(&self) -> std::path::PathBuf {
        self.process.dir.path().join("data")
    }
}

/// Sends `request_line` (method and target) with `Host: {host}` and `body` to the plain listener
/// at `addr` over a new connection, and returns the whole response as text.
pub async fn plain_request(
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
pub fn raw_header<'a>(response: &'a str, name: &str) -> Option<&'a str> {
    let head = response.split("\r\n\r\n").next().unwrap_or_default();
    head.lines().skip(1).find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Waits up to `within` for `f` to hold.
pub async fn eventually<F, Fut>(within: Duration, what: &str, mut f: F)
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
pub async fn until_some<T, F, Fut>(within: Duration, what: &str, mut f: F) -> T
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
