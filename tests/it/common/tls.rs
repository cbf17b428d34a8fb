//! HTTPS for the tests: a private certificate authority (rcgen), clients that trust only it, and
//! one request over a new TLS connection, HTTP/2 or HTTP/1.1 as ALPN chooses.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

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
        sender
            .send_request(request)
            .await
            .map_err(|e| format!("request: {e}"))?
    } else {
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| format!("http1 handshake: {e}"))?;
        tokio::spawn(connection);
        sender
            .send_request(request)
            .await
            .map_err(|e| format!("request: {e}"))?
    };
    let version = response.version();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("body: {e}"))?
        .to_bytes();
    Ok(Answer {
        alpn,
        version,
        status,
        headers,
        body,
        certificate,
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
