//! HTTPS served by the program itself, so one binary on one small machine is a whole site.
//!
//! The certificate comes either from PEM files (read at start and again on `SIGHUP`) or from an
//! ACME certificate authority ([`acme`]). Either way it sits behind an [`ArcSwapOption`] that
//! rustls asks on every handshake ([`ResolvesServerCert`]): a new certificate is used by the next
//! handshake, and connections already open keep theirs, so nothing is dropped. The plain listener
//! only redirects to https and answers the authority's HTTP-01 challenges ([`redirect`]).
//! [`diagnose`] explains certificate problems for `kap-practice check`.

pub mod acme;
pub mod check;
pub mod redirect;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwapOption;
use jiff::Timestamp;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

pub use check::diagnose;

use settings::config::{CertificateSource, TlsConfig};

/// Within this time of expiry, a failed renewal is shown in the inbox.
pub const WARN_BEFORE_EXPIRY: jiff::SignedDuration = jiff::SignedDuration::from_hours(14 * 24);

/// Why a certificate cannot be used; each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} holds no certificate: it should be PEM text starting with \"-----BEGIN CERTIFICATE-----\" (the full chain, your certificate first)"
    )]
    NoCertificate { path: PathBuf },
    #[error(
        "{path} holds no private key: it should be PEM text starting with \"-----BEGIN PRIVATE KEY-----\" (or EC/RSA PRIVATE KEY)"
    )]
    NoKey { path: PathBuf },
    #[error("the certificate in {path} cannot be read: {reason}")]
    Certificate { path: PathBuf, reason: String },
    #[error(
        "the private key in {key} does not belong to the certificate in {cert}: give the key the certificate was issued for"
    )]
    Mismatch { cert: PathBuf, key: PathBuf },
    #[error("the private key in {path} cannot be used: {reason}")]
    Key { path: PathBuf, reason: String },
}

/// What a certificate says about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateInfo {
    pub not_before: Timestamp,
    pub not_after: Timestamp,
    /// The DNS names it covers (subject alternative names), lowercased.
    pub names: Vec<String>,
    /// Hexadecimal serial number: tells one issue from the next.
    pub serial: String,
}

impl CertificateInfo {
    /// Reads validity, names and serial from a DER certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, String> {
        use x509_cert::der::Decode;
        use x509_cert::ext::pkix::SubjectAltName;
        use x509_cert::ext::pkix::name::GeneralName;
        let cert = x509_cert::Certificate::from_der(der).map_err(|e| e.to_string())?;
        let tbs = &cert.tbs_certificate;
        let time = |t: x509_cert::time::Time| {
            let secs = i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX);
            Timestamp::from_second(secs).unwrap_or(Timestamp::MAX)
        };
        let names = match tbs.get::<SubjectAltName>() {
            Ok(Some((_, san))) => san
                .0
                .iter()
                .filter_map(|n| match n {
                    GeneralName::DnsName(d) => Some(d.as_str().to_ascii_lowercase()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        let serial = crypto::hex::hex(tbs.serial_number.as_bytes());
        Ok(CertificateInfo {
            not_before: time(tbs.validity.not_before),
            not_after: time(tbs.validity.not_after),
            names,
            serial,
        })
    }

    /// Whether the certificate is valid for `host` (exact name, or a `*.` wildcard one label deep).
    pub fn covers(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        self.names.iter().any(|name| match name.strip_prefix("*.") {
            Some(parent) => host
                .split_once('.')
                .is_some_and(|(label, rest)| !label.is_empty() && rest == parent),
            None => *name == host,
        })
    }

    /// The whole validity period.
    pub fn lifetime(&self) -> jiff::SignedDuration {
        self.not_after.duration_since(self.not_before)
    }
}

/// A certificate ready to serve, with what it says about itself.
pub struct Loaded {
    pub key: Arc<CertifiedKey>,
    pub info: CertificateInfo,
}

/// Parses a PEM chain and key and checks that they belong together. `cert_path` and `key_path`
/// name them in messages.
pub fn load_pem(
    cert_pem: &[u8],
    key_pem: &[u8],
    cert_path: &Path,
    key_path: &Path,
) -> Result<Loaded, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Certificate {
            path: cert_path.to_path_buf(),
            reason: e.to_string(),
        })?;
    let Some(first) = chain.first() else {
        return Err(TlsError::NoCertificate {
            path: cert_path.to_path_buf(),
        });
    };
    let info = CertificateInfo::from_der(first).map_err(|reason| TlsError::Certificate {
        path: cert_path.to_path_buf(),
        reason,
    })?;
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => TlsError::NoKey {
            path: key_path.to_path_buf(),
        },
        e => TlsError::Key {
            path: key_path.to_path_buf(),
            reason: e.to_string(),
        },
    })?;
    let provider = rustls::crypto::ring::default_provider();
    let certified = CertifiedKey::from_der(chain, key, &provider).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => TlsError::Mismatch {
            cert: cert_path.to_path_buf(),
            key: key_path.to_path_buf(),
        },
        e => TlsError::Key {
            path: key_path.to_path_buf(),
            reason: e.to_string(),
        },
    })?;
    Ok(Loaded {
        key: Arc::new(certified),
        info,
    })
}

/// Reads a certificate chain and key from PEM files.
pub fn load_files(cert_file: &Path, key_file: &Path) -> Result<Loaded, TlsError> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|source| TlsError::Read {
            path: path.to_path_buf(),
            source,
        })
    };
    load_pem(&read(cert_file)?, &read(key_file)?, cert_file, key_file)
}

/// The last renewal that failed, until one succeeds.
#[derive(Clone, Debug)]
pub struct RenewalFailure {
    pub at: Timestamp,
    pub reason: String,
}

/// The serving certificate and the state around it; shared by the listeners, the renewal task,
/// `/healthz` and the inbox.
pub struct Tls {
    current: ArcSwapOption<Loaded>,
    failure: Mutex<Option<RenewalFailure>>,
    /// HTTP-01 answers being asked for: token ▶ key authorization.
    challenges: Mutex<HashMap<String, String>>,
    config: TlsConfig,
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls")
            .field("certificate", &self.info())
            .finish_non_exhaustive()
    }
}

impl ResolvesServerCert for Tls {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.load().as_ref().map(|l| l.key.clone())
    }
}

impl Tls {
    /// Sets up TLS as configured: certificate files are read now (an error stops the start);
    /// with ACME, a certificate kept in the data directory from an earlier run is served at once.
    pub fn start(config: &TlsConfig, data_dir: &Path) -> Result<Arc<Tls>, TlsError> {
        let tls = Arc::new(Tls {
            current: ArcSwapOption::empty(),
            failure: Mutex::new(None),
            challenges: Mutex::new(HashMap::new()),
            config: config.clone(),
        });
        match &config.certificate {
            CertificateSource::Files {
                cert_file,
                key_file,
            } => tls.install(load_files(cert_file, key_file)?),
            CertificateSource::Acme(_) => {
                match acme::CertificateFiles::new(data_dir).load_certificate() {
                    Ok(Some(loaded)) => tls.install(loaded),
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "the stored certificate cannot be used; a new one will be requested")
                    }
                }
            }
        }
        Ok(tls)
    }

    /// The settings it was started with.
    pub fn config(&self) -> &TlsConfig {
        &self.config
    }

    /// The rustls configuration for the HTTPS listener: this certificate, HTTP/2 and HTTP/1.1.
    pub fn server_config(self: &Arc<Self>) -> Arc<rustls::ServerConfig> {
        let resolver: Arc<dyn ResolvesServerCert> = self.clone();
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map(|b| b.with_no_client_auth().with_cert_resolver(resolver.clone()))
        .unwrap_or_else(|_| {
            rustls::ServerConfig::builder()
                .with_no_client_auth()
                .with_cert_resolver(resolver)
        });
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Arc::new(config)
    }

    /// Serves `loaded` from the next handshake on.
    pub fn install(&self, loaded: Loaded) {
        tracing::info!(
            expires = %loaded.info.not_after,
            names = %loaded.info.names.join(","),
            "certificate in use"
        );
        self.current.store(Some(Arc::new(loaded)));
    }

    /// What the serving certificate says about itself, once there is one.
    pub fn info(&self) -> Option<CertificateInfo> {
        self.current.load().as_ref().map(|l| l.info.clone())
    }

    /// When the serving certificate expires.
    pub fn expires(&self) -> Option<Timestamp> {
        self.current.load().as_ref().map(|l| l.info.not_after)
    }

    /// Re-reads the certificate files (`SIGHUP`); on a problem the old certificate stays.
    pub fn reload(&self) {
        if let CertificateSource::Files {
            cert_file,
            key_file,
        } = &self.config.certificate
        {
            match load_files(cert_file, key_file) {
                Ok(loaded) => self.install(loaded),
                Err(e) => {
                    tracing::error!(problem = %e, "certificate reload refused; still serving the previous certificate")
                }
            }
        }
    }

    pub fn record_failure(&self, reason: String) {
        if let Ok(mut f) = self.failure.lock() {
            *f = Some(RenewalFailure {
                at: Timestamp::now(),
                reason,
            });
        }
    }

    pub fn clear_failure(&self) {
        if let Ok(mut f) = self.failure.lock() {
            *f = None;
        }
    }

    /// The last failed renewal, until one succeeds.
    pub fn failure(&self) -> Option<RenewalFailure> {
        self.failure.lock().ok().and_then(|f| f.clone())
    }

    /// A warning for the clinician when renewal has failed and the certificate expires within
    /// [`WARN_BEFORE_EXPIRY`] (or there is none at all yet).
    pub fn warning(&self, now: Timestamp) -> Option<String> {
        let failure = self.failure()?;
        match self.expires() {
            Some(expires) if expires.duration_since(now) > WARN_BEFORE_EXPIRY => None,
            Some(expires) => {
                let date = expires.strftime("%Y-%m-%d %H:%M UTC");
                Some(format!(
                    "The site's HTTPS certificate could not be renewed (last try {}: {}). It expires on {date}; after that visitors' browsers will refuse the site. The server keeps trying; check that the domain still points at this server and that port 80 is open.",
                    failure.at.strftime("%Y-%m-%d %H:%M UTC"),
                    failure.reason
                ))
            }
            None => Some(format!(
                "The site has no HTTPS certificate yet: the certificate authority refused or could not be reached ({}). The server keeps trying; check that the domain points at this server and that port 80 is open.",
                failure.reason
            )),
        }
    }

    /// The key authorization for an HTTP-01 challenge token, while it is being asked for.
    pub fn challenge(&self, token: &str) -> Option<String> {
        self.challenges
            .lock()
            .ok()
            .and_then(|c| c.get(token).cloned())
    }

    /// Answers these HTTP-01 challenges (token ▶ key authorization) from now on, instead of
    /// those before; set by the ACME client while an order is open.
    pub fn set_challenges(&self, answers: HashMap<String, String>) {
        if let Ok(mut c) = self.challenges.lock() {
            *c = answers;
        }
    }
}
