//! `[server]`: how the server listens and where it keeps its files.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::Overrides;
use super::read::Reader;

/// How the server listens and where it keeps its files.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub bind: SocketAddr,
    pub data_dir: PathBuf,
    /// The public address of the site, without a trailing slash, e.g. `https://example.org`.
    /// Canonical links, the sitemap and emails are built from it.
    pub base_url: String,
    /// Reverse proxies whose `X-Forwarded-For` is believed, for the client's address.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Connections one client address may have open at once; past it a new one is closed at
    /// once. Trusted proxies are not limited.
    pub max_connections_per_address: usize,
    /// How long a request to a route that does real work may take before it is answered 503.
    pub request_timeout: Duration,
    /// How long a client has to send a request's head, from the connection's start or the
    /// previous answer; past it the connection is closed.
    pub header_timeout: Duration,
    /// How long a client has to finish the TLS handshake; past it the connection is closed.
    pub tls_handshake_timeout: Duration,
    /// The brotli quality the prepared pages are compressed with once, after a start or a
    /// content change: 11, the smallest. Only tests set another ([`Overrides::brotli_quality`]),
    /// to start servers without waiting for the best compression.
    pub brotli_quality: u32,
}

impl ServerConfig {
    /// True when the public address is https: enables HSTS and secure-only cookies.
    pub fn https(&self) -> bool {
        self.base_url.starts_with("https://")
    }

    /// The host of the public address, without port, lowercased (`www.example.org`).
    pub fn host(&self) -> String {
        let rest = self
            .base_url
            .split_once("://")
            .map_or(self.base_url.as_str(), |(_, r)| r);
        let host = if let Some(v6) = rest.strip_prefix('[') {
            v6.split(']').next().unwrap_or(v6)
        } else {
            rest.rsplit_once(':').map_or(rest, |(h, _)| h)
        };
        host.to_ascii_lowercase()
    }
}

/// `[server]` as the file writes it.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct FileServer {
    bind: Option<Spanned<String>>,
    data_dir: Option<String>,
    base_url: Option<Spanned<String>>,
    trusted_proxies: Option<Spanned<Vec<String>>>,
    max_connections_per_address: Option<Spanned<u64>>,
    request_timeout_seconds: Option<Spanned<u64>>,
    header_timeout_seconds: Option<Spanned<u64>>,
    tls_handshake_timeout_seconds: Option<Spanned<u64>>,
}

impl Reader<'_> {
    /// Reads `[server]`; the command line and the environment win.
    pub(super) fn server(&mut self, s: FileServer, overrides: &Overrides) -> ServerConfig {
        let bind = match (overrides.bind, s.bind) {
            (Some(b), _) => b,
            (None, None) => SocketAddr::from(([127, 0, 0, 1], 8080)),
            (None, Some(v)) => {
                match v.get_ref().trim().parse() {
                    Ok(b) => b,
                    Err(_) => {
                        let line = self.line(&v);
                        self.error(line, format!("server.bind {:?} is not an address: write it as \"127.0.0.1:8080\"", v.get_ref()));
                        SocketAddr::from(([127, 0, 0, 1], 8080))
                    }
                }
            }
        };
        let data_dir = overrides
            .data_dir
            .clone()
            .or(s.data_dir.map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("./data"));
        let (base_url, base_line, base_name) = match (&overrides.base_url, s.base_url) {
            (Some(v), _) => (v.clone(), 0, "KAP_BASE_URL".to_string()),
            (None, Some(v)) => (v.get_ref().clone(), self.line(&v), self.name.to_string()),
            (None, None) => (format!("http://{bind}"), 0, self.name.to_string()),
        };
        let base_url = base_url.trim().trim_end_matches('/').to_string();
        if !valid_base_url(&base_url) {
            self.error_in(base_name, base_line, format!("server.base_url {base_url:?} is not a site address: write it as \"https://www.yourpractice.com\" (scheme and host, no path)"));
        }
        let mut trusted_proxies = Vec::new();
        if let Some(list) = s.trusted_proxies {
            let line = self.line(&list);
            for p in list.into_inner() {
                match p.trim().parse() {
                    Ok(ip) => trusted_proxies.push(ip),
                    Err(_) => self.error(line, format!("server.trusted_proxies: {p:?} is not an IP address: write addresses like \"127.0.0.1\"")),
                }
            }
        }
        let max_connections_per_address = self.at_least_one(
            s.max_connections_per_address,
            64,
            "server.max_connections_per_address must be at least 1: a browser opens a few connections at once (64 is the default)",
        );
        ServerConfig {
            bind,
            data_dir,
            base_url,
            trusted_proxies,
            max_connections_per_address: usize::try_from(max_connections_per_address)
                .unwrap_or(usize::MAX),
            request_timeout: self.seconds(s.request_timeout_seconds, "request_timeout_seconds", 30),
            header_timeout: self.seconds(s.header_timeout_seconds, "header_timeout_seconds", 10),
            tls_handshake_timeout: self.seconds(
                s.tls_handshake_timeout_seconds,
                "tls_handshake_timeout_seconds",
                10,
            ),
            brotli_quality: overrides.brotli_quality.unwrap_or(11).clamp(1, 11),
        }
    }

    /// A time limit in whole seconds, at least 1 and at most an hour.
    fn seconds(&mut self, value: Option<Spanned<u64>>, key: &str, default: u64) -> Duration {
        match value {
            Some(v) if !(1..=3600).contains(v.get_ref()) => {
                let line = self.line(&v);
                self.error(
                    line,
                    format!(
                        "server.{key} must be between 1 and 3600 seconds ({default} is the default)"
                    ),
                );
                Duration::from_secs(default)
            }
            Some(v) => Duration::from_secs(v.into_inner()),
            None => Duration::from_secs(default),
        }
    }
}

/// A site's address: `http://` or `https://` and a host (and port), no path.
fn valid_base_url(v: &str) -> bool {
    let rest = v
        .strip_prefix("https://")
        .or_else(|| v.strip_prefix("http://"));
    match rest {
        Some(host) => {
            !host.is_empty()
                && !host.contains('/')
                && !host.contains('?')
                && !host.contains('#')
                && !host.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    }
}
