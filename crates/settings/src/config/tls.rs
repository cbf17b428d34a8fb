//! `[tls]`: HTTPS served by the program itself, from certificate files or ACME.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use super::Overrides;
use super::read::{Reader, looks_like_email};

/// HTTPS served by the program itself: where its certificate comes from and where it listens.
#[derive(Clone, Debug)]
pub struct TlsConfig {
    /// The HTTPS listener (HTTP/2 and HTTP/1.1, chosen by ALPN). `server.bind` then only
    /// redirects to it.
    pub bind: SocketAddr,
    pub certificate: CertificateSource,
}

/// Where the HTTPS certificate comes from.
#[derive(Clone, Debug)]
pub enum CertificateSource {
    /// PEM files, read at start and again on `SIGHUP`.
    Files {
        cert_file: PathBuf,
        key_file: PathBuf,
    },
    /// Obtained and renewed automatically from an ACME certificate authority.
    Acme(AcmeConfig),
}

/// Automatic certificates (ACME, RFC 8555) with the HTTP-01 challenge on the plain listener.
#[derive(Clone, Debug)]
pub struct AcmeConfig {
    /// The names the certificate covers; the first is the site's host.
    pub domains: Vec<String>,
    /// The contact address given to the certificate authority, if any. Optional: Let's Encrypt
    /// no longer writes about expiring certificates (renewal here is automatic and shown in the
    /// inbox and `/healthz`), and an account without a contact is allowed (RFC 8555, 7.3).
    pub email: Option<String>,
    /// The certificate authority's directory URL.
    pub directory: String,
    /// A root certificate (PEM) to trust for the directory instead of the public roots.
    pub ca_file: Option<PathBuf>,
    /// Renew when this many days remain, or at two thirds of the lifetime if that is sooner.
    pub renew_days_before: u64,
    /// How often the certificate's age is looked at (and the first retry after a failure).
    pub check_seconds: u64,
}

/// Let's Encrypt's production directory, the default certificate authority.
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";

/// `[tls]` as the file writes it.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct FileTls {
    cert_file: Option<Spanned<String>>,
    key_file: Option<Spanned<String>>,
    /// `true`: automatic certificates for the host of `server.base_url`, so that the domain is
    /// written once (the Debian package's config uses this).
    automatic: Option<Spanned<bool>>,
    acme_domains: Option<Spanned<Vec<String>>>,
    acme_email: Option<Spanned<String>>,
    acme_directory: Option<Spanned<String>>,
    acme_ca_file: Option<Spanned<String>>,
    acme_renew_days_before: Option<Spanned<u64>>,
    acme_check_seconds: Option<Spanned<u64>>,
    bind: Option<Spanned<String>>,
}

/// A setting as read: `(value, file, line)`.
type Given<T> = (T, String, usize);

impl Reader<'_> {
    /// Reads `[tls]`: certificate files or ACME, never both; the public address must be https
    /// on one of the certificate's names. The environment wins.
    pub(super) fn tls(
        &mut self,
        t: FileTls,
        overrides: &Overrides,
        base_url: &str,
    ) -> Option<TlsConfig> {
        let o = overrides;
        let cert_file = self.setting(&o.tls_cert_file, "KAP_TLS_CERT_FILE", t.cert_file);
        let key_file = self.setting(&o.tls_key_file, "KAP_TLS_KEY_FILE", t.key_file);
        let domains = self
            .acme_domains(&o.tls_acme_domains, t.acme_domains)
            .or_else(|| self.automatic_domain(t.automatic, base_url));
        let email = self.setting(&o.tls_acme_email, "KAP_TLS_ACME_EMAIL", t.acme_email);
        let directory = self.setting(
            &o.tls_acme_directory,
            "KAP_TLS_ACME_DIRECTORY",
            t.acme_directory,
        );
        let ca_file = self.setting(&o.tls_acme_ca_file, "KAP_TLS_ACME_CA_FILE", t.acme_ca_file);
        let bind = self.setting(&o.tls_bind, "KAP_TLS_BIND", t.bind);

        let certificate = match (cert_file, key_file, domains) {
            (None, None, None) => {
                if let Some((_, file, line)) =
                    email.as_ref().or(directory.as_ref()).or(bind.as_ref())
                {
                    self.error_in(file.clone(), *line, "[tls] is set without a certificate: give tls.cert_file and tls.key_file, or tls.acme_domains for automatic certificates");
                }
                return None;
            }
            (Some(_), _, Some((_, file, line))) | (_, Some(_), Some((_, file, line))) => {
                self.error_in(file, line, "tls.acme_domains and tls.cert_file/tls.key_file are both set: choose certificate files or automatic certificates, not both");
                return None;
            }
            (Some((cert, ..)), Some((key, ..)), None) => CertificateSource::Files {
                cert_file: PathBuf::from(cert),
                key_file: PathBuf::from(key),
            },
            (Some((_, file, line)), None, None) => {
                self.error_in(
                    file,
                    line,
                    "tls.cert_file is set without tls.key_file: give both files (PEM)",
                );
                return None;
            }
            (None, Some((_, file, line)), None) => {
                self.error_in(
                    file,
                    line,
                    "tls.key_file is set without tls.cert_file: give both files (PEM)",
                );
                return None;
            }
            (None, None, Some(domains)) => CertificateSource::Acme(self.acme(
                domains,
                email,
                directory,
                ca_file,
                t.acme_renew_days_before,
                t.acme_check_seconds,
            )),
        };
        let bind = match bind {
            None => SocketAddr::from(([0, 0, 0, 0], 443)),
            Some((v, file, line)) => v.parse().unwrap_or_else(|_| {
                self.error_in(
                    file,
                    line,
                    format!("tls.bind {v:?} is not an address: write it as \"0.0.0.0:443\""),
                );
                SocketAddr::from(([0, 0, 0, 0], 443))
            }),
        };
        if !base_url.starts_with("https://") {
            self.error(0, format!("server.base_url {base_url:?} must start with https:// when [tls] is set: the site is served over HTTPS (e.g. \"https://www.yourpractice.com\")"));
        }
        Some(TlsConfig { bind, certificate })
    }

    /// `tls.acme_domains` (comma-separated in the environment), trimmed, empty names dropped;
    /// `None` when no name is left.
    fn acme_domains(
        &self,
        env: &Option<String>,
        file: Option<Spanned<Vec<String>>>,
    ) -> Option<Given<Vec<String>>> {
        let (domains, file, line): Given<Vec<String>> = match (env, file) {
            (Some(v), _) => (
                v.split(',').map(str::to_string).collect(),
                "KAP_TLS_ACME_DOMAINS".to_string(),
                0,
            ),
            (None, Some(v)) => (v.get_ref().clone(), self.name.to_string(), self.line(&v)),
            (None, None) => return None,
        };
        let domains: Vec<String> = domains
            .iter()
            .map(|d| d.trim().to_string())
            .filter(|d| !d.is_empty())
            .collect();
        (!domains.is_empty()).then_some((domains, file, line))
    }

    /// `tls.automatic = true` without `tls.acme_domains`: the host of the site's address.
    fn automatic_domain(
        &mut self,
        automatic: Option<Spanned<bool>>,
        base_url: &str,
    ) -> Option<Given<Vec<String>>> {
        let automatic = automatic?;
        if !*automatic.get_ref() {
            return None;
        }
        let line = self.line(&automatic);
        let host = url::Url::parse(base_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string));
        match host {
            Some(host) => Some((vec![host], self.name.to_string(), line)),
            None => {
                self.error(line, format!("tls.automatic needs the site's domain in server.base_url (now {base_url:?}): write it like \"https://www.yourpractice.com\""));
                None
            }
        }
    }

    /// The ACME settings that go with `tls.acme_domains`.
    fn acme(
        &mut self,
        (domains, file, line): Given<Vec<String>>,
        email: Option<Given<String>>,
        directory: Option<Given<String>>,
        ca_file: Option<Given<String>>,
        renew_days_before: Option<Spanned<u64>>,
        check_seconds: Option<Spanned<u64>>,
    ) -> AcmeConfig {
        for d in &domains {
            if !valid_dns_name(d) {
                self.error_in(file.clone(), line, format!("tls.acme_domains: {d:?} is not a domain name: write names like \"www.yourpractice.com\" (no scheme, no port)"));
            }
        }
        let email = email.map(|(e, file, line)| {
            if !looks_like_email(&e) {
                self.error_in(file, line, format!("tls.acme_email {e:?} is not an email address: write it like \"you@yourpractice.com\""));
            }
            e
        });
        let directory = match directory {
            Some((d, file, line)) => {
                if !d.starts_with("https://") {
                    self.error_in(file, line, format!("tls.acme_directory {d:?} is not an https URL: leave it out for Let's Encrypt ({LETS_ENCRYPT})"));
                }
                d
            }
            None => LETS_ENCRYPT.to_string(),
        };
        AcmeConfig {
            domains,
            email,
            directory,
            ca_file: ca_file.map(|(f, _, _)| PathBuf::from(f)),
            renew_days_before: self.at_least_one(
                renew_days_before,
                30,
                "tls.acme_renew_days_before must be at least 1",
            ),
            check_seconds: self.at_least_one(
                check_seconds,
                3600,
                "tls.acme_check_seconds must be at least 1",
            ),
        }
    }
}

/// A DNS name a certificate can be issued for: a host with a domain (a leading `*.` allowed).
fn valid_dns_name(name: &str) -> bool {
    let name = name.strip_prefix("*.").unwrap_or(name);
    name.contains('.') && practice::host::is_host(name)
}
