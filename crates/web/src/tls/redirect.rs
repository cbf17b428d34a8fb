//! The plain-HTTP listener when the program serves HTTPS itself: every request for one of the
//! site's names is sent to the same path on the https site (308, so a form's method survives),
//! except the certificate authority's HTTP-01 challenges, which must be answered over plain
//! HTTP, and `/healthz`, answered in place (see [`crate::plain_router`]).
//!
//! The redirect always goes to the configured public address (`server.base_url`), never to the
//! host the client named, so it cannot be used to send a visitor elsewhere. A request for a
//! host that is not the site's (not the public address's host, not a name of the certificate or
//! of `tls.acme_domains`) is refused with 421 and a plain message, rather than redirected.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::uri::Authority;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::Tls;
use settings::config::{CertificateSource, Config};

#[derive(Clone)]
struct Redirect {
    tls: Arc<Tls>,
    /// The public https address, without a trailing slash.
    base_url: Arc<str>,
    /// The names the site answers to besides those of the serving certificate: the public
    /// address's host and the ACME domains, lowercased.
    names: Arc<[String]>,
}

/// The redirecting routes of the plain listener (without the middleware, which
/// [`crate::plain_router`] adds).
pub fn router(tls: Arc<Tls>, config: &Config) -> Router {
    let base_url = config.server.base_url.trim_end_matches('/');
    let mut names: Vec<String> = base_url
        .parse::<Uri>()
        .ok()
        .and_then(|u| u.host().map(normal_host))
        .into_iter()
        .collect();
    if let CertificateSource::Acme(acme) = &tls.config().certificate {
        names.extend(acme.domains.iter().map(|d| normal_host(d)));
    }
    Router::new()
        .route("/.well-known/acme-challenge/{token}", get(challenge))
        .fallback(to_https)
        .with_state(Redirect {
            tls,
            base_url: Arc::from(base_url),
            names: names.into(),
        })
}

async fn challenge(State(r): State<Redirect>, Path(token): Path<String>) -> Response {
    match r.tls.challenge(&token) {
        Some(answer) => (
            [
                (header::CONTENT_TYPE, "application/octet-stream"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            answer,
        )
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            "No such challenge: the certificate authority asked for a token this server is not answering now.\n",
        )
            .into_response(),
    }
}

async fn to_https(State(r): State<Redirect>, headers: HeaderMap, uri: Uri) -> Response {
    let host = requested_host(&headers, &uri);
    let ours = host.as_deref().is_some_and(|host| {
        r.names.iter().any(|n| n == host) || r.tls.info().is_some_and(|c| c.covers(host))
    });
    if !ours {
        return (
            StatusCode::MISDIRECTED_REQUEST,
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            format!(
                "This server does not serve the address you asked for. The site is at {}/\n",
                r.base_url
            ),
        )
            .into_response();
    }
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let location = format!("{}{path}", r.base_url);
    (
        StatusCode::PERMANENT_REDIRECT,
        [
            (header::LOCATION, location),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
    )
        .into_response()
}

/// The host a request names (`Host`, or the authority of an absolute URI), lowercased, without
/// its port or a trailing dot; `None` if it names none or an unreadable one.
fn requested_host(headers: &HeaderMap, uri: &Uri) -> Option<String> {
    let authority = match headers.get(header::HOST) {
        Some(value) => value.to_str().ok()?.parse::<Authority>().ok()?,
        None => uri.authority()?.clone(),
    };
    Some(normal_host(authority.host()))
}

fn normal_host(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_is_read_without_port_case_or_trailing_dot() {
        let uri: Uri = "/x".parse().expect("uri");
        let with = |host: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::HOST, host.parse().expect("header"));
            requested_host(&headers, &uri)
        };
        assert_eq!(with("Example.ORG:80").as_deref(), Some("example.org"));
        assert_eq!(with("example.org.").as_deref(), Some("example.org"));
        assert_eq!(with("[::1]:8080").as_deref(), Some("[::1]"));
        assert_eq!(with("bad host").as_deref(), None);
        let absolute: Uri = "http://www.example.org/x".parse().expect("uri");
        assert_eq!(
            requested_host(&HeaderMap::new(), &absolute).as_deref(),
            Some("www.example.org")
        );
        assert_eq!(requested_host(&HeaderMap::new(), &uri), None);
    }
}
