//! What `kap-practice check` says about HTTPS: problems a person can fix before the server
//! starts (a certificate that cannot be used, a name that does not match the site's address, a
//! port that needs privileges) and choices worth a second look.

use std::net::SocketAddr;

use jiff::Timestamp;

use super::{WARN_BEFORE_EXPIRY, load_files};
use crate::config::{CertificateSource, Config};

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
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Some(format!(
            "{setting} {addr}: port {} is below 1024 and this user may not open it. Give the program that one privilege rather than running it as root: in the systemd unit, under [Service], add AmbientCapabilities=CAP_NET_BIND_SERVICE and CapabilityBoundingSet=CAP_NET_BIND_SERVICE (see docs/deployment.md); or for a one-off, sudo setcap cap_net_bind_service=+ep $(command -v kap-practice)",
            addr.port()
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Overrides;

    fn config(text: &str, overrides: &Overrides) -> Config {
        Config::from_toml(text, "kap.toml", None, overrides).expect("valid config")
    }

    #[test]
    fn acme_domains_must_include_the_public_host() {
        let c = config(
            "[server]\nbase_url = \"https://www.practice.example\"\n[tls]\nacme_domains = [\"practice.example\"]\nacme_email = \"me@practice.example\"\nbind = \"127.0.0.1:0\"\n",
            &Overrides::default(),
        );
        let found = diagnose(&c, Timestamp::now());
        assert!(
            found.iter().any(|f| matches!(f, Finding::Error(m) if m.contains("add www.practice.example to tls.acme_domains"))),
            "{found:?}"
        );
    }

    #[test]
    fn acme_with_postgres_is_warned_about() {
        let c = config(
            "[server]\nbase_url = \"https://practice.example\"\n[database]\nurl = \"postgres://kap@localhost/kap\"\n[tls]\nacme_domains = [\"practice.example\"]\nacme_email = \"me@practice.example\"\nbind = \"127.0.0.1:0\"\n",
            &Overrides::default(),
        );
        let found = diagnose(&c, Timestamp::now());
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(matches!(&found[0], Finding::Warning(m) if m.contains("load balancer")));
    }

    #[test]
    fn missing_certificate_files_are_named() {
        let c = config(
            "[server]\nbase_url = \"https://practice.example\"\n[tls]\ncert_file = \"/nonexistent/fullchain.pem\"\nkey_file = \"/nonexistent/key.pem\"\nbind = \"127.0.0.1:0\"\n",
            &Overrides::default(),
        );
        let found = diagnose(&c, Timestamp::now());
        assert!(
            matches!(&found[..], [Finding::Error(m)] if m.contains("cannot read /nonexistent/fullchain.pem")),
            "{found:?}"
        );
    }
}
