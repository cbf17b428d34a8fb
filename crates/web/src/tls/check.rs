//! What `kap-practice check` says about HTTPS: problems a person can fix before the server
//! starts (a certificate that cannot be used, a name that does not match the site's address, a
//! port that needs privileges) and choices worth a second look.

use std::net::SocketAddr;

use jiff::Timestamp;

use super::{WARN_BEFORE_EXPIRY, load_files};
use settings::config::{CertificateSource, Config};

/// One finding: an error stops the server from working as configured; a warning does not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    Error(String),
    Warning(String),
}

/// Everything worth saying about the config's HTTPS at `now`.
pub fn diagnose(config: &Config, now: Timestamp) -> Vec<Finding> {
    let Some(tls) = &config.tls else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let host = config.server.host();
    match &tls.certificate {
        CertificateSource::Files {
            cert_file,
            key_file,
        } => match load_files(cert_file, key_file) {
            Err(e) => out.push(Finding::Error(format!("tls: {e}"))),
            Ok(loaded) => {
                let info = loaded.info;
                let file = cert_file.display();
                if info.not_after <= now {
                    out.push(Finding::Error(format!(
                        "tls: the certificate in {file} expired on {}: put a renewed certificate in place, then send the server SIGHUP (systemctl reload kap-practice)",
                        info.not_after
                    )));
                } else if info.not_after.duration_since(now) < WARN_BEFORE_EXPIRY {
                    out.push(Finding::Warning(format!(
                        "tls: the certificate in {file} expires on {}: renew it soon",
                        info.not_after
                    )));
                }
                if info.not_before > now {
                    out.push(Finding::Error(format!(
                        "tls: the certificate in {file} is not valid before {}: check the machine's clock",
                        info.not_before
                    )));
                }
                if !info.covers(&host) {
                    out.push(Finding::Error(format!(
                        "tls: the certificate in {file} is for {} but the site's address (server.base_url) is {}: use a certificate for {host}, or correct server.base_url",
                        if info.names.is_empty() { "no DNS name".to_string() } else { info.names.join(", ") },
                        config.server.base_url
                    )));
                }
            }
        },
        CertificateSource::Acme(acme) => {
            if !acme.domains.iter().any(|d| d.eq_ignore_ascii_case(&host)) {
                out.push(Finding::Error(format!(
                    "tls.acme_domains ({}) does not include the host of the site's address (server.base_url {}): add {host} to tls.acme_domains, or correct server.base_url",
                    acme.domains.join(", "),
                    config.server.base_url
                )));
            }
            if config.database.url.is_some() {
                out.push(Finding::Warning(
                    "tls.acme_domains is set with PostgreSQL (database.url): several servers behind a load balancer should keep HTTPS at the load balancer, since each server here would order its own certificate and answer challenges only for itself (see docs/deployment.md)".to_string(),
                ));
            }
            if let Some(ca) = &acme.ca_file
                && let Err(e) = std::fs::read(ca)
            {
                out.push(Finding::Error(format!(
                    "tls.acme_ca_file {}: {e}",
                    ca.display()
                )));
            }
        }
    }
    for (setting, addr) in [("tls.bind", tls.bind), ("server.bind", config.server.bind)] {
        if let Some(problem) = privileged_port(setting, addr) {
            out.push(Finding::Error(problem));
        }
    }
    out
}

/// A port below 1024 that this user may not open, explained.
fn privileged_port(setting: &str, addr: SocketAddr) -> Option<String> {
    if addr.port() == 0 || addr.port() >= 1024 {
        return None;
    }
    match std::net::TcpListener::bind(addr) {
        Err(e) => refused_port(setting, addr, &e),
        Ok(_) => None,
    }
}

/// What to do when opening `addr` failed with `error`: something to say only when the port
/// needs a privilege this user lacks.
fn refused_port(setting: &str, addr: SocketAddr, error: &std::io::Error) -> Option<String> {
    (error.kind() == std::io::ErrorKind::PermissionDenied && addr.port() < 1024).then(|| format!(
        "{setting} {addr}: port {} is below 1024 and this user may not open it. Give the program that one privilege rather than running it as root: in the systemd unit, under [Service], add AmbientCapabilities=CAP_NET_BIND_SERVICE and CapabilityBoundingSet=CAP_NET_BIND_SERVICE (see docs/deployment.md); or for a one-off, sudo setcap cap_net_bind_service=+ep $(command -v kap-practice)",
        addr.port()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use settings::config::Overrides;
    use settings::config::{AcmeConfig, CertificateSource, TlsConfig};

    fn config(text: &str) -> Config {
        Config::from_toml(text, "kap.toml", None, &Overrides::default()).expect("valid config")
    }

    /// The automatic certificates' settings of `c`.
    fn acme(c: &Config) -> &AcmeConfig {
        let Some(TlsConfig {
            certificate: CertificateSource::Acme(acme),
            ..
        }) = &c.tls
        else {
            panic!("automatic certificates: {:?}", c.tls);
        };
        acme
    }

    /// What `check` finds in the config `text`.
    fn findings(text: &str) -> Vec<Finding> {
        diagnose(&config(text), Timestamp::now())
    }

    #[test]
    fn acme_domains_must_include_the_public_host() {
        let found = findings(
            "[server]\nbase_url = \"https://www.practice.example\"\n[tls]\nacme_domains = [\"practice.example\"]\nacme_email = \"me@practice.example\"\nbind = \"127.0.0.1:0\"\n",
        );
        assert!(
            found.iter().any(|f| matches!(f, Finding::Error(m) if m.contains("add www.practice.example to tls.acme_domains"))),
            "{found:?}"
        );
    }

    #[test]
    fn automatic_certificates_are_for_the_public_host_with_the_domain_written_once() {
        let c = config(
            "[server]\nbase_url = \"https://www.practice.example\"\n[tls]\nautomatic = true\nbind = \"127.0.0.1:0\"\n",
        );
        let acme = acme(&c);
        assert_eq!(acme.domains, ["www.practice.example"]);
        assert_eq!(acme.email, None, "no contact address is needed");
        assert!(diagnose(&c, Timestamp::now()).is_empty());
    }

    #[test]
    fn the_debian_packages_config_names_the_domain_once() {
        let text = include_str!("../../../../packaging/debian/kap-practice.toml");
        assert_eq!(
            text.matches("yourpractice.example").count()
                - text
                    .lines()
                    .filter(|l| l.trim_start().starts_with('#'))
                    .map(|l| l.matches("yourpractice.example").count())
                    .sum::<usize>(),
            1,
            "the domain is written on one line that is not a comment"
        );
        let c = config(text);
        let acme = acme(&c);
        assert_eq!(acme.domains, ["www.yourpractice.example"]);
    }

    #[test]
    fn acme_with_postgres_is_warned_about() {
        let found = findings(
            "[server]\nbase_url = \"https://practice.example\"\n[database]\nurl = \"postgres://kap@localhost/kap\"\n[tls]\nacme_domains = [\"practice.example\"]\nacme_email = \"me@practice.example\"\nbind = \"127.0.0.1:0\"\n",
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(matches!(&found[0], Finding::Warning(m) if m.contains("load balancer")));
    }

    #[test]
    fn missing_certificate_files_are_named() {
        let found = findings(
            "[server]\nbase_url = \"https://practice.example\"\n[tls]\ncert_file = \"/nonexistent/fullchain.pem\"\nkey_file = \"/nonexistent/key.pem\"\nbind = \"127.0.0.1:0\"\n",
        );
        assert!(
            matches!(&found[..], [Finding::Error(m)] if m.contains("cannot read /nonexistent/fullchain.pem")),
            "{found:?}"
        );
    }

    /// A self-signed certificate for `names` and its key, as PEM, valid from `from` to `until`
    /// (years).
    fn certificate(names: &[&str], from: i32, until: i32) -> (String, String) {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params =
            rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .expect("params");
        params.not_before = rcgen::date_time_ymd(from, 1, 1);
        params.not_after = rcgen::date_time_ymd(until, 1, 1);
        let cert = params.self_signed(&key).expect("certificate");
        (cert.pem(), key.serialize_pem())
    }

    /// What `check` finds with these certificate and key files for `https://practice.example`.
    fn diagnose_files(cert: &str, key: &str) -> Vec<Finding> {
        let dir = tempfile::tempdir().expect("tempdir");
        let (cert_file, key_file) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        std::fs::write(&cert_file, cert).expect("cert");
        std::fs::write(&key_file, key).expect("key");
        findings(&format!(
            "[server]\nbase_url = \"https://practice.example\"\n[tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\nbind = \"127.0.0.1:0\"\n",
            cert_file.display(),
            key_file.display()
        ))
    }

    #[test]
    fn a_good_certificate_for_the_site_gives_nothing_to_say() {
        let (cert, key) = certificate(&["practice.example"], 2020, 2090);
        assert_eq!(diagnose_files(&cert, &key), Vec::new());
    }

    /// Asserts that `check`, with these certificate and key files, finds one error that says
    /// every one of `says`.
    fn one_error_saying(cert: &str, key: &str, says: &[&str]) {
        let found = &diagnose_files(cert, key)[..];
        assert!(
            matches!(found, [Finding::Error(m)] if says.iter().all(|s| m.contains(s))),
            "{found:?}"
        );
    }

    #[test]
    fn a_key_of_another_certificate_is_explained() {
        let (cert, _) = certificate(&["practice.example"], 2020, 2090);
        let (_, other_key) = certificate(&["practice.example"], 2020, 2090);
        one_error_saying(
            &cert,
            &other_key,
            &[
                "does not belong to the certificate",
                "give the key the certificate was issued for",
            ],
        );
    }

    #[test]
    fn a_certificate_for_another_name_is_explained() {
        let (cert, key) = certificate(&["other.example"], 2020, 2090);
        one_error_saying(
            &cert,
            &key,
            &[
                "is for other.example but the site's address (server.base_url) is https://practice.example",
                "use a certificate for practice.example",
            ],
        );
    }

    #[test]
    fn an_expired_certificate_is_explained() {
        let (cert, key) = certificate(&["practice.example"], 2019, 2020);
        one_error_saying(&cert, &key, &["expired on 2020-01-01", "SIGHUP"]);
    }

    #[test]
    fn a_refused_privileged_port_names_the_capability() {
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let port_80: SocketAddr = "0.0.0.0:80".parse().expect("addr");
        let message = refused_port("server.bind", port_80, &denied).expect("explained");
        assert!(
            message.contains("server.bind 0.0.0.0:80: port 80 is below 1024")
                && message.contains("AmbientCapabilities=CAP_NET_BIND_SERVICE"),
            "{message}"
        );
        let in_use = std::io::Error::from(std::io::ErrorKind::AddrInUse);
        assert_eq!(refused_port("server.bind", port_80, &in_use), None);
        let high: SocketAddr = "0.0.0.0:8443".parse().expect("addr");
        assert_eq!(refused_port("tls.bind", high, &denied), None);
    }
}
